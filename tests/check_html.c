/* check_html.c: the HTML summary: escaping of hostile report text, the chart's numbers
 * and its edge cases (none, one cell, negative, huge, garbage), no fetches, atomic write,
 * a page of 100000 cells. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/HTMLparser.h>
#include <libxml/xpath.h>

#include "html.h"
#include "junit.h"
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
    ck_assert_ptr_null(strstr(html, "overhead-chart"));
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
    ck_assert_ptr_null(strstr(html, "overhead-chart"));
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

/* A failed or errored testcase shows the end of its output under its message, escaped,
 * with a note saying how much was cut; a passing one shows none of its output. */
START_TEST(test_failure_shows_the_end_of_its_output)
{
    struct mr_report *r = read_ok(DATA "failures.xml");
    char *html = render(r);
    const char *row = "//section[@id='cell-0']//tr[td[@class='name']='long-output']";
    char *e = NULL;
    /* system-out: 100 lines, the last 40 shown. */
    ck_assert_int_ne(asprintf(&e, "string(%s//div[@data-stream='system-out']/pre)", row), -1);
    char *out = xpath(html, e);
    free(e);
    ck_assert(strncmp(out, "out 60: step <60> done\n", 23) == 0);
    ck_assert_ptr_nonnull(strstr(out, "\nout 99: step <99> done"));
    ck_assert_ptr_null(strstr(out, "out 59:"));
    ck_assert_uint_eq(count(out, "\n"), 39);
    free(out);
    ck_assert_int_ne(asprintf(&e, "string(%s//div[@data-stream='system-out']/p)", row), -1);
    expect_xpath(html, e, "system-out, cut: the last 40 of 100 lines (920 of 2280 bytes)");
    free(e);
    /* system-err: markup that stays text, whole. */
    ck_assert_int_ne(asprintf(&e, "string(%s//div[@data-stream='system-err']/pre)", row), -1);
    expect_xpath(html, e, "</pre><script>alert(3)</script> & <b>\"bold\"</b>\n"
                          "second line of stderr");
    free(e);
    ck_assert_int_ne(asprintf(&e, "string(%s//div[@data-stream='system-err']/p)", row), -1);
    expect_xpath(html, e, "system-err (2 line(s))");
    free(e);
    expect_xpath(html, "count(//script|//b)", "0");
    /* The message stays the row's first <pre>. */
    ck_assert_int_ne(asprintf(&e, "string(%s//pre)", row), -1);
    expect_xpath(html, e, "'long-output' exited with status 3");
    free(e);
    /* An error's output too; a passing case's and a quiet failure's: none. */
    expect_xpath(html, "string(//tr[td[@class='name']='broken']//div[@data-stream='system-out']/pre)",
                 "first\nlast");
    expect_xpath(html, "count(//tr[td[@class='name']='passes']//div[@class='tail'])", "0");
    expect_xpath(html, "count(//tr[td[@class='name']='fails-quietly']//div[@class='tail'])", "0");
    ck_assert_ptr_null(strstr(html, "PASSING-OUTPUT"));
    expect_xpath(html, "count(//div[@class='tail'])", "3");
    free(html);
    mr_report_free(r);
}
END_TEST

/* A tail the report's budget could not take says so instead of showing nothing. */
START_TEST(test_failure_output_not_kept_says_so)
{
    struct mr_report *r = mr_report_new("r");
    struct mr_suite *s = mr_report_add_suite(r, "c");
    struct mr_case *c = mr_suite_add_case(s, "c", "t");
    mr_case_set(c, MR_VERDICT_FAIL, NULL, "failed");
    c->out_tail = mr_xcalloc(1, sizeof(*c->out_tail));
    c->out_tail->total_lines = 7;
    c->out_tail->total_bytes = 70;
    c->out_tail->cut = 1;
    char *html = render(r);
    expect_xpath(html, "string(//div[@data-stream='system-out']/p)",
                 "system-out: 7 line(s), not shown: the page shows at most 32 MiB of output in all");
    expect_xpath(html, "count(//div[@data-stream='system-out']/pre)", "0");
    free(html);
    mr_report_free(r);
}
END_TEST

static void touch(const char *dir, const char *cell, const char *file)
{
    char *path = mr_xasprintf("%s/%s", dir, cell);
    (void)mkdir(path, 0755);
    free(path);
    path = mr_xasprintf("%s/%s/%s", dir, cell, file);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x\n", f);
    fclose(f);
    free(path);
}

static char *page_of(const char *junit, const char *page)
{
    struct mr_err e = { 0 };
    ck_assert_msg(mr_html_write(junit, page, &e) == 0, "%s", mr_err_msg(&e));
    char *html;
    size_t len;
    ck_assert_int_eq(mr_file_read(page, &html, &len), 0);
    return html;
}

/* Each cell links its serial log and artifacts archive when they exist as
 * CELL/serial.log and CELL/artifacts.tar.gz next to the report: relative to the page,
 * the name percent-encoded, and never for a name that is not one path component. */
START_TEST(test_cell_links_only_files_that_exist)
{
    char dir[] = "/tmp/mr-html-links-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *rdir = mr_xasprintf("%s/reports", dir), *sub = mr_xasprintf("%s/pages/deep", dir);
    ck_assert_int_eq(mkdir(rdir, 0755), 0);
    ck_assert_int_eq(mr_mkdir_p(sub, 0755), 0);
    struct mr_report *r = mr_report_new("r");
    static const char *const cells[] = { "both", "serial-only", "none", "a b#?&\"<", ".",
                                         "..", "x/y" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(cells); i++)
        mr_suite_set_prop(mr_report_add_suite(r, cells[i]), "run.id", "r");
    char *junit = mr_xasprintf("%s/junit.xml", rdir);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_junit_write(r, junit, &e), 0);
    mr_report_free(r);
    touch(rdir, "both", "serial.log");
    touch(rdir, "both", "artifacts.tar.gz");
    touch(rdir, "serial-only", "serial.log");
    touch(rdir, "a b#?&\"<", "artifacts.tar.gz");
    touch(rdir, ".", "serial.log");   /* reports/serial.log */
    touch(dir, ".", "serial.log");    /* reports/../serial.log */
    touch(rdir, "x", "y");            /* not a file: "x/y/serial.log" is not looked for */
    char *page = mr_xasprintf("%s/summary.html", rdir);
    char *html = page_of(junit, page);
    expect_xpath(html, "string(//section[@data-cell='both']//a[@class='serial-log']/@href)",
                 "both/serial.log");
    expect_xpath(html, "string(//section[@data-cell='both']//a[@class='artifacts']/@href)",
                 "both/artifacts.tar.gz");
    expect_xpath(html, "string(//section[@data-cell='both']//a[@class='serial-log'])",
                 "serial log");
    expect_xpath(html, "string(//section[@data-cell='serial-only']//a[@class='serial-log']/@href)",
                 "serial-only/serial.log");
    expect_xpath(html, "count(//section[@data-cell='serial-only']//a[@class='artifacts'])", "0");
    expect_xpath(html, "count(//section[@data-cell='none']//p[@class='files'])", "0");
    expect_xpath(html, "string(//section[@id='cell-3']//a[@class='artifacts']/@href)",
                 "a%20b%23%3F%26%22%3C/artifacts.tar.gz");
    /* 4 links in all: none for ".", ".." or "x/y". */
    expect_xpath(html, "count(//a[@class='serial-log' or @class='artifacts'])", "4");
    ck_assert_ptr_null(strstr(html, "://localhost"));
    free(html);
    /* A page elsewhere links the same files from where it is. */
    free(page);
    page = mr_xasprintf("%s/page.html", sub);
    html = page_of(junit, page);
    expect_xpath(html, "string(//section[@data-cell='both']//a[@class='serial-log']/@href)",
                 "../../reports/both/serial.log");
    free(html);
    /* The files gone: no links. */
    char *gone = mr_xasprintf("%s/both/serial.log", rdir);
    ck_assert_int_eq(unlink(gone), 0);
    html = page_of(junit, page);
    expect_xpath(html, "count(//section[@data-cell='both']//a[@class='serial-log'])", "0");
    expect_xpath(html, "count(//section[@data-cell='both']//a[@class='artifacts'])", "1");
    free(html);
    free(gone);
    free(page);
    free(junit);
    free(rdir);
    free(sub);
    char *cmd = mr_xasprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}
END_TEST

/* The time bar: a segment per phase as wide as its share of the cell's total, the
 * seconds as data, missing or unreadable parts as 0, and a legend once. */
START_TEST(test_time_bar_widths_are_proportional)
{
    struct mr_report *r = read_ok(DATA "failures.xml");
    char *html = render(r);
    static const struct {
        const char *phase;
        double sec;
    } want[] = {
        { "prepare", 2 }, { "boot", 4 },      { "install", 2 },  { "tests", 6 },
        { "benchmark", 4 }, { "collect", 1 }, { "teardown", 1 },
    };
    const char *bar = "//section[@id='cell-0']//*[local-name()='svg'][@class='time-bar']";
    char *e = NULL;
    ck_assert_int_ne(asprintf(&e, "string(%s/@data-total)", bar), -1);
    ck_assert_double_eq_tol(num(html, e), 20, 1e-9);
    free(e);
    double x = 0;
    for (size_t i = 0; i < MR_ARRAY_SIZE(want); i++) {
        char *rect = NULL;
        ck_assert_int_ne(asprintf(&rect, "%s/*[local-name()='rect'][%zu]", bar, i + 1), -1);
        ck_assert_int_ne(asprintf(&e, "string(%s/@data-phase)", rect), -1);
        expect_xpath(html, e, want[i].phase);
        free(e);
        ck_assert_int_ne(asprintf(&e, "string(%s/@data-seconds)", rect), -1);
        ck_assert_double_eq_tol(num(html, e), want[i].sec, 1e-9);
        free(e);
        ck_assert_int_ne(asprintf(&e, "string(%s/@width)", rect), -1);
        double w = num(html, e);
        free(e);
        ck_assert_msg(fabs(w - want[i].sec / 20 * 600) < 0.01, "%s: width %g", want[i].phase, w);
        ck_assert_int_ne(asprintf(&e, "string(%s/@x)", rect), -1);
        ck_assert_msg(fabs(num(html, e) - x) < 0.01, "%s: x", want[i].phase);
        free(e);
        x += w;
        free(rect);
    }
    ck_assert_msg(fabs(x - 600) < 0.01, "bar of %g", x);
    /* Some times: an unreadable prepare and the missing parts are 0. */
    bar = "//section[@id='cell-1']//*[local-name()='svg'][@class='time-bar']";
    ck_assert_int_ne(asprintf(&e, "string(%s/*[@data-phase='boot']/@width)", bar), -1);
    ck_assert_double_eq_tol(num(html, e), 450, 0.01);
    free(e);
    ck_assert_int_ne(asprintf(&e, "string(%s/*[@data-phase='teardown']/@width)", bar), -1);
    ck_assert_double_eq_tol(num(html, e), 150, 0.01);
    free(e);
    ck_assert_int_ne(asprintf(&e, "string(%s/*[@data-phase='prepare']/@width)", bar), -1);
    ck_assert_double_eq_tol(num(html, e), 0, 1e-9);
    free(e);
    /* None: said instead of a bar. */
    expect_xpath(html, "count(//section[@id='cell-2']//*[local-name()='svg'])", "0");
    expect_xpath(html, "count(//section[@id='cell-2']//p[@class='time-none'])", "1");
    /* The legend, once, names every phase. */
    expect_xpath(html, "count(//p[@class='time-legend'])", "1");
    expect_xpath(html, "count(//p[@class='time-legend']/span[contains(@class,'swatch')])", "7");
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
    TCase *tf = tcase_create("failures");
    tcase_add_test(tf, test_failure_shows_the_end_of_its_output);
    tcase_add_test(tf, test_failure_output_not_kept_says_so);
    tcase_add_test(tf, test_cell_links_only_files_that_exist);
    tcase_add_test(tf, test_time_bar_widths_are_proportional);
    suite_add_tcase(s, tf);
    TCase *tw = tcase_create("write");
    tcase_add_test(tw, test_write_is_atomic_and_errors_name_the_file);
    suite_add_tcase(s, tw);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
