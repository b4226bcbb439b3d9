/* check_html.c: the HTML summary: escaping of hostile report text, the chart's numbers
 * and its edge cases (none, one cell, negative, huge, garbage), no fetches, atomic write,
 * a page of 100000 cells. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>

#include "html.h"
#include "report_read.h"

#define DATA MR_TEST_DATA "/report/"

static struct mr_report *read_ok(const char *path)
{
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_report_read(path, &r, &e) == 0, "%s", mr_err_msg(&e));
    return r;
}

static char *render(const struct mr_report *r)
{
    size_t len;
    char *html = mr_html_render(r, "x/junit.xml", &len);
    ck_assert_ptr_nonnull(html);
    ck_assert_uint_eq(strlen(html), len);
    return html;
}

/* XPath over the page as an HTML parser (libxml2's, as browsers do) sees it. */
static char *xpath(const char *html, const char *expr)
{
    htmlDocPtr doc = htmlReadMemory(html, (int)strlen(html), "page.html", "UTF-8",
                                    HTML_PARSE_NONET | HTML_PARSE_NOERROR |
                                        HTML_PARSE_NOWARNING);
    ck_assert_ptr_nonnull(doc);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    ck_assert_msg(o != NULL, "bad xpath %s", expr);
    xmlChar *s = xmlXPathCastToString(o);
    char *ret = strdup((const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return ret;
}

static void expect_xpath(const char *html, const char *expr, const char *want)
{
    char *got = xpath(html, expr);
    ck_assert_msg(strcmp(got, want) == 0, "%s: got '%s', want '%s'", expr, got, want);
    free(got);
}

START_TEST(test_escape_hostile_text)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_html_escape(&b, "<script>alert('x')</script> & \"q\" \x1b[31m \xff");
    ck_assert_str_eq(b.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot; "
                             "\\x1b[31m \xef\xbf\xbd");
    mr_buf_release(&b);
}
END_TEST

/* Names, test names and messages full of markup stay text: no element is injected, and
 * the text reads as it was. */
START_TEST(test_page_escapes_hostile_names_and_messages)
{
    struct mr_report *r = read_ok(DATA "chart-edge.xml");
    char *html = render(r);
    expect_xpath(html, "count(//script)", "0");
    expect_xpath(html, "count(//img)", "0");
    expect_xpath(html, "count(//b)", "0");
    const char *name = "<script>alert('x')</script>&amp;\"cell\"";
    char *expr = NULL;
    ck_assert_int_ne(asprintf(&expr, "string(//section[@id='cell-4']/h3)"), -1);
    expect_xpath(html, expr, name);
    free(expr);
    expect_xpath(html, "string(//section[@id='cell-4']/@data-cell)", name);
    expect_xpath(html, "string(//section[@id='cell-4']//tr[@class='v-failure']/td[@class='name'])",
                 "</td><img src=x onerror=alert(1)>");
    expect_xpath(html, "string(//section[@id='cell-4']//tr[@class='v-failure']//pre)",
                 "<b>bold</b> & \"quoted\" </pre><script>alert(2)</script>");
    /* The chart's group and label for that cell carry the same name as text. */
    expect_xpath(html, "string(//*[local-name()='g'][@data-overhead='10.00']/@data-cell)", name);
    free(html);
    mr_report_free(r);
}
END_TEST

START_TEST(test_chart_carries_each_cells_numbers)
{
    struct mr_report *r = read_ok(DATA "run1.xml");
    char *html = render(r);
    /* win-stub has no figures: three cells in the chart. */
    expect_xpath(html, "count(//*[local-name()='g'][contains(@class,'cell')])", "3");
    static const struct {
        const char *cell, *v, *lo, *hi, *noisy;
    } want[] = {
        { "deb12-1cpu", "912.34", "880.10", "950.22", "no" },
        { "deb12-2cpu", "1043.50", "1001.20", "1090.80", "yes" },
        { "alma9-2cpu", "1387.65", "1320.00", "1455.40", "no" },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(want); i++) {
        char *g = NULL, *e = NULL;
        ck_assert_int_ne(asprintf(&g, "//*[local-name()='g'][@data-cell='%s']", want[i].cell), -1);
        struct {
            const char *sub, *val;
        } q[] = {
            { "/@data-overhead", want[i].v },
            { "/@data-low", want[i].lo },
            { "/@data-high", want[i].hi },
            { "/@data-noisy", want[i].noisy },
            { "//*[@class='overhead']", want[i].v },
            { "//*[@class='low']", want[i].lo },
            { "//*[@class='high']", want[i].hi },
            { "/*[@class='name']", want[i].cell },
        };
        for (size_t j = 0; j < MR_ARRAY_SIZE(q); j++) {
            ck_assert_int_ne(asprintf(&e, "string(%s%s)", g, q[j].sub), -1);
            expect_xpath(html, e, q[j].val);
            free(e);
        }
        free(g);
    }
    expect_xpath(html, "string(//*[local-name()='g'][@data-cell='alma9-2cpu']/@data-verdict)",
                 "failure");
    expect_xpath(html, "count(//*[local-name()='text'][@class='noisy-mark'])", "1");
    /* Ticks: 0 and at most a dozen more, labelled with their value. */
    expect_xpath(html, "string(//*[local-name()='g'][@class='tick'][1]/@data-value)", "0");
    char *n = xpath(html, "count(//*[local-name()='g'][@class='tick'])");
    ck_assert_int_ge(atoi(n), 3);
    ck_assert_int_le(atoi(n), 13);
    free(n);
    char *tick = xpath(html, "string(//*[local-name()='g'][@class='tick'][2]/@data-value)");
    expect_xpath(html, "string(//*[local-name()='g'][@class='tick'][2])", tick);
    free(tick);
    /* The skipped benchmark is said in a note; the verdicts are coloured by class. */
    expect_xpath(html, "count(//p[contains(@class,'nodata')])", "1");
    expect_xpath(html, "string(//section[@id='cell-3']//tr[1]/@class)", "v-error");
    expect_xpath(html, "string(//section[@id='cell-3']//tr[1]/td[@class='verdict'])", "error");
    expect_xpath(html, "string(//dd[@class='accel'])", "tcg");
    expect_xpath(html, "string(//dd[@class='date'])", "2026-11-20 09:15:02 UTC");
    free(html);
    mr_report_free(r);
}
END_TEST

START_TEST(test_no_benchmark_says_so)
{
    struct mr_report *r = read_ok(DATA "no-benchmark.xml");
    char *html = render(r);
    ck_assert_ptr_null(strstr(html, "<svg"));
    expect_xpath(html, "count(//p[@class='no-benchmark'])", "1");
    expect_xpath(html, "count(//section[@class='cell'])", "1");
    free(html);
    mr_report_free(r);
}
END_TEST

static struct mr_report *one_cell(const char *v, const char *lo, const char *hi)
{
    struct mr_report *r = mr_report_new("r");
    struct mr_suite *s = mr_report_add_suite(r, "only");
    mr_suite_set_prop(s, "run.id", "r");
    mr_suite_set_prop(s, "benchmark.cpu.overhead.pct", v);
    mr_suite_set_prop(s, "benchmark.cpu.overhead.ci95.low.pct", lo);
    mr_suite_set_prop(s, "benchmark.cpu.overhead.ci95.high.pct", hi);
    return r;
}

static double num(const char *html, const char *expr)
{
    char *s = xpath(html, expr);
    double v = strtod(s, NULL);
    free(s);
    return v;
}

/* One cell, negative, huge, zero-width: the axis holds 0 and the whole interval, the dot
 * lies between the error bar's ends, and every coordinate is a number. */
START_TEST(test_axis_holds_zero_and_the_interval)
{
    static const struct {
        const char *v, *lo, *hi;
    } t[] = {
        { "-3.25", "-5.10", "-1.40" },
        { "1499.99", "1410.00", "1580.00" },
        { "0.00", "0.00", "0.00" },
        { "0.42", "0.11", "0.73" },
        { "-99.00", "-99.50", "-98.00" },
        { "999999.00", "999998.00", "999999.50" },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(t); i++) {
        struct mr_report *r = one_cell(t[i].v, t[i].lo, t[i].hi);
        char *html = render(r);
        ck_assert_ptr_null(strstr(html, "nan"));
        ck_assert_ptr_null(strstr(html, "inf"));
        double amin = num(html, "string(//*[local-name()='svg']/@data-axis-min)");
        double amax = num(html, "string(//*[local-name()='svg']/@data-axis-max)");
        double lo = strtod(t[i].lo, NULL), hi = strtod(t[i].hi, NULL);
        ck_assert_msg(amin <= 0 && amin <= lo && amax >= 0 && amax >= hi && amax > amin,
                      "%s: axis [%g, %g]", t[i].v, amin, amax);
        expect_xpath(html, "string(//*[local-name()='g'][@data-cell='only']/@data-overhead)",
                     t[i].v);
        double cx = num(html, "string(//*[local-name()='circle']/@cx)");
        double x1 = num(html, "string(//*[local-name()='line'][@class='ci'][1]/@x1)");
        double x2 = num(html, "string(//*[local-name()='line'][@class='ci'][1]/@x2)");
        ck_assert_msg(x1 <= cx && cx <= x2, "%s: dot %g outside [%g, %g]", t[i].v, cx, x1, x2);
        char *ticks = xpath(html, "count(//*[local-name()='g'][@class='tick'])");
        ck_assert_msg(atoi(ticks) >= 2 && atoi(ticks) <= 13, "%s: %s ticks", t[i].v, ticks);
        free(ticks);
        free(html);
        mr_report_free(r);
    }
}
END_TEST

START_TEST(test_garbage_figures_leave_the_chart_with_a_note)
{
    struct mr_report *r = read_ok(DATA "chart-edge.xml");
    char *html = render(r);
    expect_xpath(html, "count(//*[local-name()='g'][@data-cell='garbage'])", "0");
    expect_xpath(html, "count(//*[local-name()='g'][contains(@class,'cell')])", "4");
    char *note = xpath(html, "string(//p[contains(@class,'invalid')])");
    ck_assert_ptr_nonnull(strstr(note, "garbage: left out of the chart"));
    free(note);
    free(html);
    mr_report_free(r);
    /* Every figure unusable: a note per cell and no chart. */
    r = one_cell("nan", "1", "2");
    html = render(r);
    ck_assert_ptr_null(strstr(html, "<svg"));
    expect_xpath(html, "count(//p[@class='no-benchmark'])", "1");
    expect_xpath(html, "count(//p[contains(@class,'invalid')])", "1");
    free(html);
    mr_report_free(r);
}
END_TEST

/* Nothing on the page could fetch: the only URL is the SVG namespace, there is no
 * script, and the policy forbids every source but inline style. */
START_TEST(test_page_fetches_nothing)
{
    const char *files[] = { "run1.xml", "run2.xml", "chart-edge.xml", "no-benchmark.xml" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(files); i++) {
        char *path = NULL;
        ck_assert_int_ne(asprintf(&path, "%s%s", DATA, files[i]), -1);
        struct mr_report *r = read_ok(path);
        char *html = render(r);
        for (const char *p = html; (p = strstr(p, "://")); p++) {
            ck_assert_msg(p - html >= 4 && strncmp(p - 4, "http://www.w3.org/2000/svg", 26) == 0,
                          "%s: a URL: %.40s", files[i], p - 5);
        }
        ck_assert_ptr_nonnull(strstr(html, "content=\"default-src 'none'; style-src 'unsafe-inline'\""));
        expect_xpath(html, "count(//script|//link|//img|//iframe|//object)", "0");
        free(html);
        mr_report_free(r);
        free(path);
    }
}
END_TEST

START_TEST(test_write_is_atomic_and_errors_name_the_file)
{
    char dir[] = "/tmp/mr-html-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char out[300];
    snprintf(out, sizeof(out), "%s/summary.html", dir);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_html_write(DATA "run2.xml", out, &e), 0);
    char *page;
    size_t len;
    ck_assert_int_eq(mr_file_read(out, &page, &len), 0);
    ck_assert_ptr_nonnull(strstr(page, "sles15-1cpu"));
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    ck_assert_int_eq(n, 1); /* no temp file left */
    /* A bad report: the error names it and the old page stays. */
    ck_assert_int_lt(mr_html_write(DATA "bad-root.xml", out, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "bad-root.xml:2: root element <matrix>"));
    char *again;
    ck_assert_int_eq(mr_file_read(out, &again, &len), 0);
    ck_assert_str_eq(page, again);
    /* An unwritable target names the target. */
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/summary.html/inner.html", dir);
    ck_assert_int_lt(mr_html_write(DATA "run2.xml", bad, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "inner.html"));
    mr_err_release(&e);
    free(page);
    free(again);
    unlink(out);
    rmdir(dir);
}
END_TEST

/* Occurrences of needle in hay (strncmp at each place, not strstr from each match:
 * AddressSanitizer's strstr reads the rest of hay on every call). */
static size_t count(const char *hay, const char *needle)
{
    size_t n = 0, len = strlen(needle);
    for (const char *p = hay; *p; p++)
        n += *p == *needle && strncmp(p, needle, len) == 0;
    return n;
}

/* A page of 100000 cells, each on its own host: a bar and a section per cell, every host
 * once in the header, the axis over all of them. The results are what is checked;
 * tests/report_scale.py measures the time, which grew with the square of the hosts
 * while each was looked for among those seen so far. */
START_TEST(test_page_of_100000_cells)
{
    enum { N = 100000 };
    static const char *const figures[] = { MR_PROP_BENCH_OVERHEAD_PCT,
                                           MR_PROP_BENCH_OVERHEAD_LOW_PCT,
                                           MR_PROP_BENCH_OVERHEAD_HIGH_PCT };
    static const size_t above[] = { 0, 0, 2 }; /* median and low equal, high 2 above */
    struct mr_report *r = mr_report_new("big");
    for (size_t i = 0; i < N; i++) {
        char text[32];
        snprintf(text, sizeof(text), "c%zu", i);
        struct mr_suite *s = mr_report_add_suite(r, text);
        s->hostname = mr_xasprintf("h%zu", i % (N / 2)); /* each host twice */
        for (size_t k = 0; k < MR_ARRAY_SIZE(figures); k++) {
            snprintf(text, sizeof(text), "%zu", i % 100 + above[k]);
            mr_suite_set_prop(s, figures[k], text);
        }
    }
    char *html = render(r);
    ck_assert_uint_eq(count(html, "<g class=\"cell"), N);
    ck_assert_uint_eq(count(html, "<section class=\"cell\""), N);
    ck_assert_ptr_nonnull(strstr(html, "data-cell=\"c99999\" data-overhead=\"99.00\" "
                                       "data-low=\"99.00\" data-high=\"101.00\""));
    ck_assert_ptr_nonnull(strstr(html, "data-axis-min=\"-3.03\" data-axis-max=\"104.03\""));
    const char *hosts = strstr(html, "<dd class=\"host\">");
    ck_assert_ptr_nonnull(hosts);
    const char *end = strstr(hosts, "</dd>");
    size_t commas = 0;
    for (const char *p = hosts; p < end; p++)
        commas += *p == ',';
    ck_assert_uint_eq(commas, N / 2 - 1);
    ck_assert(strncmp(hosts, "<dd class=\"host\">h0, h1, h2, ", 29) == 0);
    free(html);
    mr_report_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("html");
    TCase *te = tcase_create("escape");
    tcase_add_test(te, test_escape_hostile_text);
    tcase_add_test(te, test_page_escapes_hostile_names_and_messages);
    tcase_add_test(te, test_page_fetches_nothing);
    suite_add_tcase(s, te);
    TCase *tc = tcase_create("chart");
    tcase_add_test(tc, test_chart_carries_each_cells_numbers);
    tcase_add_test(tc, test_no_benchmark_says_so);
    tcase_add_test(tc, test_axis_holds_zero_and_the_interval);
    tcase_add_test(tc, test_garbage_figures_leave_the_chart_with_a_note);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("many");
    /* Room for a loaded machine or a sanitizer build. */
    tcase_set_timeout(tm, 300);
    tcase_add_test(tm, test_page_of_100000_cells);
    suite_add_tcase(s, tm);
    TCase *tw = tcase_create("write");
    tcase_add_test(tw, test_write_is_atomic_and_errors_name_the_file);
    suite_add_tcase(s, tw);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
