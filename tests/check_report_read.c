/* check_report_read.c: reading JUnit reports back: the fixtures in tests/data/report,
 * the writer's own output, refused files, and the benchmark figures of a cell. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "junit.h"
#include "report_read.h"

#define DATA MR_TEST_DATA "/report/"

static struct mr_report *read_ok(const char *path)
{
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    int ret = mr_report_read(path, &r, &e);
    ck_assert_msg(ret == 0, "%s: %s", path, mr_err_msg(&e));
    mr_err_release(&e);
    return r;
}

static const struct mr_suite *suite(const struct mr_report *r, const char *name)
{
    for (size_t i = 0; i < r->n_suites; i++)
        if (strcmp(r->suites[i]->name, name) == 0)
            return r->suites[i];
    ck_abort_msg("no suite '%s'", name);
    return NULL;
}

START_TEST(test_read_realistic_report)
{
    struct mr_report *r = read_ok(DATA "run1.xml");
    ck_assert_str_eq(r->name, "demo");
    ck_assert_uint_eq(r->n_suites, 4);
    ck_assert_str_eq(r->suites[0]->name, "deb12-1cpu");
    ck_assert_str_eq(r->suites[3]->name, "win-stub");
    const struct mr_suite *s = r->suites[0];
    ck_assert_str_eq(s->hostname, "buildbox");
    ck_assert_int_eq(s->timestamp_ms, 1795166102000LL); /* 2026-11-20T09:15:02Z */
    ck_assert_str_eq(mr_suite_prop(s, "run.id"), "20261120-091502-3f2a");
    ck_assert_str_eq(mr_suite_prop(s, "guest.kernel"), "6.1.0-27-amd64");
    ck_assert_str_eq(mr_suite_prop(s, "benchmark.cpu.ratio"), "10.1234");
    ck_assert_str_eq(mr_suite_prop(s, "benchmark.cpu.pinned"), "no (TCG: vCPU threads float)");
    ck_assert_ptr_null(mr_suite_prop(s, "no.such"));
    ck_assert_uint_eq(s->n_cases, 5);
    const struct mr_case *c = mr_suite_case(s, "known-bug");
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(c->verdict, MR_VERDICT_FAIL);
    ck_assert_str_eq(c->type, "exit-status");
    ck_assert_str_eq(c->message, "'mr-demo known-bug' exited with status 1");
    ck_assert_str_eq(c->classname, "demo.deb12-1cpu");
    ck_assert_double_eq_tol(c->time_s, 0.388, 1e-9);
    c = mr_suite_case(s, "boot");
    ck_assert_int_eq(c->verdict, MR_VERDICT_PASS);
    ck_assert_ptr_null(c->message);
    const struct mr_suite *w = suite(r, "win-stub");
    ck_assert_int_eq(mr_suite_case(w, "boot")->verdict, MR_VERDICT_ERROR);
    ck_assert_str_eq(mr_suite_case(w, "boot")->type, "timeout");
    ck_assert_int_eq(mr_suite_case(w, "install")->verdict, MR_VERDICT_SKIP);
    ck_assert_str_eq(mr_suite_case(w, "install")->message, "not run: boot failed");
    struct mr_counts n = mr_report_counts(r);
    ck_assert_uint_eq(n.tests, 18);
    ck_assert_uint_eq(n.failures, 4);
    ck_assert_uint_eq(n.errors, 1);
    ck_assert_uint_eq(n.skipped, 2);
    ck_assert(mr_report_is_matrixrun(r));
    mr_report_free(r);
}
END_TEST

/* What the writer writes, the reader reads: names, properties, verdicts, messages, even
 * with output whose escapes pass libxml2's 10 MB text limit. */
START_TEST(test_read_round_trips_the_writer)
{
    struct mr_report *w = mr_report_new("round");
    struct mr_suite *s = mr_report_add_suite(w, "cell-\xc3\xa9");
    s->hostname = strdup("h1");
    s->time_s = 3.5;
    mr_suite_set_prop(s, "run.id", "r1");
    mr_suite_set_prop(s, "weird", "a<b>&\"c\"");
    struct mr_case *c = mr_suite_add_case(s, "round.cell", "t1");
    mr_case_set(c, MR_VERDICT_ERROR, "timeout", "boot: no SSH within %d s", 5);
    size_t big = 4 * 1024 * 1024;
    char *ctl = malloc(big);
    memset(ctl, 0x01, big); /* 4 MiB of \x01: 16 MiB once escaped */
    mr_case_set_out(c, ctl, big);
    free(ctl);
    c = mr_suite_add_case(s, "round.cell", "t2");
    mr_case_set(c, MR_VERDICT_SKIP, NULL, "not run");
    char path[] = "/tmp/mr-read-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_junit_write(w, path, &e), 0);
    struct mr_report *r = read_ok(path);
    ck_assert_str_eq(r->name, "round");
    ck_assert_uint_eq(r->n_suites, 1);
    ck_assert_str_eq(r->suites[0]->name, "cell-\xc3\xa9");
    ck_assert_str_eq(r->suites[0]->hostname, "h1");
    ck_assert_double_eq_tol(r->suites[0]->time_s, 3.5, 1e-9);
    ck_assert_str_eq(mr_suite_prop(r->suites[0], "weird"), "a<b>&\"c\"");
    ck_assert_int_eq(r->suites[0]->cases[0]->verdict, MR_VERDICT_ERROR);
    ck_assert_str_eq(r->suites[0]->cases[0]->message, "boot: no SSH within 5 s");
    ck_assert_int_eq(r->suites[0]->cases[1]->verdict, MR_VERDICT_SKIP);
    ck_assert_str_eq(r->suites[0]->cases[1]->message, "not run");
    mr_report_free(r);
    mr_report_free(w);
    unlink(path);
}
END_TEST

START_TEST(test_read_lone_testsuite_is_junit_not_matrixrun)
{
    struct mr_report *r = read_ok(DATA "not-matrixrun.xml");
    ck_assert_uint_eq(r->n_suites, 1);
    ck_assert_str_eq(r->suites[0]->name, "pytest");
    ck_assert_int_eq(r->suites[0]->cases[1]->verdict, MR_VERDICT_FAIL);
    ck_assert_str_eq(r->suites[0]->cases[1]->message, "ZeroDivisionError");
    ck_assert(!mr_report_is_matrixrun(r));
    mr_report_free(r);
}
END_TEST

/* Each refused file gives one message naming the file, the line when there is one, and
 * what is wrong. */
static const struct {
    const char *file, *want;
} refused[] = {
    { "bad-truncated.xml", "bad-truncated.xml:5: not well-formed XML: " },
    { "bad-root.xml", "bad-root.xml:2: root element <matrix>, not <testsuites> or <testsuite>" },
    { "bad-doctype.xml", "bad-doctype.xml:2: has a DOCTYPE" },
    /* A broken XML declaration is libxml2's first error: the reader stops there, before
     * the DOCTYPE behind it (which libxml2 would otherwise read and expand unseen). */
    { "bad-doctype-after-declaration.xml", "bad-doctype-after-declaration.xml:1: not "
      "well-formed XML: " },
    { "bad-time.xml", "bad-time.xml:7: <testcase> 'boot': time 'soon' is not a number" },
    { "bad-empty.xml", "bad-empty.xml: empty file, not a JUnit report" },
    { "nope.xml", "nope.xml: cannot read the report: No such file or directory" },
};

START_TEST(test_read_refuses_bad_files)
{
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    char *path = NULL;
    ck_assert_int_ne(asprintf(&path, "%s%s", DATA, refused[_i].file), -1);
    ck_assert_int_lt(mr_report_read(path, &r, &e), 0);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(mr_err_msg(&e), refused[_i].want), "%s: got '%s', want '%s'",
                  refused[_i].file, mr_err_msg(&e), refused[_i].want);
    ck_assert_msg(strncmp(mr_err_msg(&e), path, strlen(path)) == 0, "message does not start "
                  "with the path: %s", mr_err_msg(&e));
    mr_err_release(&e);
    free(path);
}
END_TEST

START_TEST(test_read_refuses_a_folder)
{
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_lt(mr_report_read(DATA, &r, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "not a regular file"));
    mr_err_release(&e);
}
END_TEST

START_TEST(test_bench_figures_of_the_fixture_cells)
{
    struct mr_report *r = read_ok(DATA "run1.xml");
    struct mr_bench b;
    mr_bench_from_suite(suite(r, "deb12-1cpu"), &b);
    ck_assert_int_eq(b.state, MR_BENCH_OK);
    ck_assert_double_eq_tol(b.overhead, 912.34, 1e-9);
    ck_assert_double_eq_tol(b.low, 880.10, 1e-9);
    ck_assert_double_eq_tol(b.high, 950.22, 1e-9);
    ck_assert_int_eq(b.noisy, 0);
    ck_assert_int_eq(b.verdict, MR_VERDICT_PASS);
    mr_bench_from_suite(suite(r, "deb12-2cpu"), &b);
    ck_assert_int_eq(b.noisy, 1);
    mr_bench_from_suite(suite(r, "alma9-2cpu"), &b);
    ck_assert_int_eq(b.state, MR_BENCH_OK);
    ck_assert_int_eq(b.verdict, MR_VERDICT_FAIL);
    ck_assert_ptr_nonnull(strstr(b.message, "above the matrix's limit"));
    mr_bench_from_suite(suite(r, "win-stub"), &b);
    ck_assert_int_eq(b.state, MR_BENCH_NODATA);
    ck_assert_int_eq(b.verdict, MR_VERDICT_SKIP);
    mr_report_free(r);

    r = read_ok(DATA "no-benchmark.xml");
    mr_bench_from_suite(r->suites[0], &b);
    ck_assert_int_eq(b.state, MR_BENCH_NONE);
    mr_report_free(r);

    r = read_ok(DATA "chart-edge.xml");
    mr_bench_from_suite(suite(r, "garbage"), &b);
    ck_assert_int_eq(b.state, MR_BENCH_INVALID);
    ck_assert_str_eq(b.why, "benchmark.cpu.overhead.pct");
    mr_bench_from_suite(suite(r, "kvm-neg"), &b);
    ck_assert_int_eq(b.state, MR_BENCH_OK);
    ck_assert_double_eq_tol(b.overhead, -3.25, 1e-9);
    mr_report_free(r);
}
END_TEST

/* Hand-made suites: every way the three overhead figures can be wrong. */
START_TEST(test_bench_rejects_bad_figures)
{
    static const struct {
        const char *v, *lo, *hi;
        enum mr_bench_state want;
    } t[] = {
        { "10.00", "5.00", "15.00", MR_BENCH_OK },
        { "10.00", "10.00", "10.00", MR_BENCH_OK },
        { "-99.50", "-99.90", "-99.00", MR_BENCH_OK },
        { "10.00", "11.00", "15.00", MR_BENCH_INVALID }, /* interval misses the median */
        { "10.00", "15.00", "5.00", MR_BENCH_INVALID },
        { "nan", "5.00", "15.00", MR_BENCH_INVALID },
        { "10.00", "-inf", "15.00", MR_BENCH_INVALID },
        { "10.00", "5.00", "1e400", MR_BENCH_INVALID },
        { "0x10", "5.00", "20.00", MR_BENCH_INVALID },
        { "10,5", "5.00", "15.00", MR_BENCH_INVALID },
        { " 10", "5.00", "15.00", MR_BENCH_INVALID },
        { "10.00", "", "15.00", MR_BENCH_INVALID },
        { "-100.00", "-100.00", "15.00", MR_BENCH_INVALID }, /* no guest is infinitely fast */
        { "2e6", "1e6", "3e6", MR_BENCH_INVALID },
        { "10.00", NULL, "15.00", MR_BENCH_INVALID },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(t); i++) {
        struct mr_report *r = mr_report_new("x");
        struct mr_suite *s = mr_report_add_suite(r, "c");
        mr_suite_set_prop(s, "benchmark.cpu.overhead.pct", t[i].v);
        if (t[i].lo)
            mr_suite_set_prop(s, "benchmark.cpu.overhead.ci95.low.pct", t[i].lo);
        mr_suite_set_prop(s, "benchmark.cpu.overhead.ci95.high.pct", t[i].hi);
        struct mr_bench b;
        mr_bench_from_suite(s, &b);
        ck_assert_msg(b.state == t[i].want, "'%s' [%s, %s]: state %d, want %d", t[i].v,
                      t[i].lo ? t[i].lo : "(none)", t[i].hi, b.state, t[i].want);
        if (b.state == MR_BENCH_INVALID)
            ck_assert_ptr_nonnull(b.why);
        mr_report_free(r);
    }
}
END_TEST

START_TEST(test_parse_double_takes_c_locale_decimals_only)
{
    double v;
    ck_assert_int_eq(mr_parse_double("912.34", &v), 0);
    ck_assert_double_eq(v, 912.34);
    ck_assert_int_eq(mr_parse_double("-3.5", &v), 0);
    ck_assert_double_eq(v, -3.5);
    ck_assert_int_eq(mr_parse_double("1e3", &v), 0);
    ck_assert_double_eq(v, 1000);
    const char *bad[] = { "", " 1", "1 ", "nan", "inf", "0x1p3", "1,5", "1.2.3", "abc", "1e999" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(bad); i++)
        ck_assert_msg(mr_parse_double(bad[i], &v) < 0, "'%s' accepted", bad[i]);
    ck_assert_int_lt(mr_parse_double(NULL, &v), 0);
}
END_TEST

/* References, CDATA and nested markup read as the text they spell; a property set twice
 * keeps its first place and takes the last value; elements out of place are skipped with
 * all they hold. */
START_TEST(test_read_decodes_markup_and_skips_what_is_out_of_place)
{
    struct mr_report *r = read_ok(DATA "markup.xml");
    ck_assert_str_eq(r->name, "r&d <x>");
    ck_assert_uint_eq(r->n_suites, 2);
    const struct mr_suite *s = r->suites[0];
    ck_assert_str_eq(s->name, "a&b & \"q\" A");
    ck_assert_str_eq(s->hostname, "h&1");
    ck_assert_int_eq(s->timestamp_ms, 1795166102000LL);
    ck_assert_uint_eq(s->n_props, 3);
    ck_assert_str_eq(s->props[0].name, "run.id");
    ck_assert_str_eq(s->props[0].value, "id&&<");
    ck_assert_str_eq(s->props[1].name, "image");
    ck_assert_str_eq(s->props[1].value, "second&");
    ck_assert_str_eq(s->props[2].name, "family");
    ck_assert_ptr_null(mr_suite_prop(s, "hidden"));
    ck_assert_uint_eq(s->n_cases, 3);
    const struct mr_case *c = s->cases[0];
    ck_assert_str_eq(c->name, "t&1");
    ck_assert_str_eq(c->classname, "c<");
    ck_assert_int_eq(c->verdict, MR_VERDICT_FAIL);
    ck_assert_str_eq(c->type, "x&y");
    ck_assert_str_eq(c->message, "text & more bold < cdata & <raw>");
    ck_assert_int_eq(s->cases[1]->verdict, MR_VERDICT_SKIP);
    ck_assert_str_eq(s->cases[1]->message, "");
    ck_assert_int_eq(s->cases[2]->verdict, MR_VERDICT_ERROR);
    ck_assert_str_eq(s->cases[2]->type, "timeout");
    ck_assert_str_eq(s->cases[2]->message, "err msg");
    ck_assert_str_eq(r->suites[1]->name, "second");
    mr_report_free(r);
}
END_TEST

/* A report with more suites, properties and testcases than allowed is refused where the
 * count runs over; a property set again does not count twice. */
START_TEST(test_read_refuses_too_many_items)
{
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    /* markup.xml: 2 suites, 3 distinct properties (4 set), 3 testcases. */
    ck_assert_int_eq(mr_report_read_max(DATA "markup.xml", 8, MR_REPORT_MAX_BYTES, &r, &e), 0);
    mr_report_free(r);
    r = NULL;
    ck_assert_int_lt(mr_report_read_max(DATA "markup.xml", 7, MR_REPORT_MAX_BYTES, &r, &e), 0);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(mr_err_msg(&e), "markup.xml:25: more than 7 suites, properties and "
                                         "testcases in all"), "got '%s'", mr_err_msg(&e));
    mr_err_release(&e);
}
END_TEST

/* Past line 65535 (where libxml2's tree keeps no line numbers) errors still name the
 * line. */
START_TEST(test_read_names_lines_past_65535)
{
    char path[] = "/tmp/mr-lines-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("<testsuites>", f);
    for (int i = 0; i < 70000; i++)
        fputc('\n', f);
    fputs("<testsuite name=\"s\"><testcase name=\"a\" time=\"soon\"/></testsuite></testsuites>\n",
          f);
    fclose(f);
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_lt(mr_report_read(path, &r, &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), ":70001: <testcase> 'a': time 'soon'"), "got '%s'",
                  mr_err_msg(&e));
    mr_err_release(&e);
    unlink(path);
}
END_TEST

/* Of the output only the end of a failed or errored case's streams is kept: the last
 * 40 lines within the last 4 KiB, with the counts of the whole stream, whatever its size;
 * a passing case keeps nothing. */
START_TEST(test_read_keeps_only_the_tail_of_failed_output)
{
    char path[] = "/tmp/mr-tail-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs("<testsuites><testsuite name=\"s\">\n<testcase name=\"lines\"><failure message=\"m\"/>"
          "<system-out>", f);
    for (int i = 0; i < 200000; i++)
        fprintf(f, "line %d &lt;b&gt;\n", i);
    fputs("</system-out><system-err>a\nb</system-err></testcase>\n"
          "<testcase name=\"one-long-line\"><error message=\"m\"/><system-err>", f);
    for (int i = 0; i < 500000; i++)
        fputs("\xc3\xa9", f); /* a megabyte of 'é' and an 'a', no newline: the last
                                  4096 bytes start mid-character */
    fputs("a</system-err></testcase>\n<testcase name=\"passes\"><system-out>", f);
    for (int i = 0; i < 100000; i++)
        fputs("passing output\n", f);
    fputs("</system-out></testcase>\n<testcase name=\"short\"><failure message=\"m\"/>"
          "<system-out>x\ny\n</system-out><system-out>second is ignored</system-out>"
          "</testcase>\n</testsuite></testsuites>\n", f);
    fclose(f);
    struct mr_report *r = read_ok(path);
    const struct mr_suite *s = r->suites[0];

    const struct mr_case *c = mr_suite_case(s, "lines");
    const struct mr_tail *t = c->out_tail;
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->lines, 40);
    ck_assert_uint_eq(t->total_lines, 200000);
    ck_assert(t->cut);
    ck_assert_uint_le(strlen(t->text), MR_TAIL_MAX_BYTES);
    ck_assert(strncmp(t->text, "line 199960 <b>\n", 16) == 0);
    ck_assert_str_eq(t->text + strlen(t->text) - 16, "line 199999 <b>\n");
    ck_assert_ptr_nonnull(c->err_tail);
    ck_assert_str_eq(c->err_tail->text, "a\nb");
    ck_assert_uint_eq(c->err_tail->lines, 2);
    ck_assert_uint_eq(c->err_tail->total_bytes, 3);
    ck_assert(!c->err_tail->cut);

    c = mr_suite_case(s, "one-long-line");
    ck_assert_ptr_null(c->out_tail);
    t = c->err_tail;
    ck_assert_ptr_nonnull(t);
    ck_assert(t->cut);
    ck_assert_uint_eq(t->total_bytes, 1000001);
    ck_assert_uint_eq(t->total_lines, 1);
    ck_assert_uint_eq(t->lines, 1);
    ck_assert_uint_le(strlen(t->text), MR_TAIL_MAX_BYTES);
    ck_assert_uint_ge(strlen(t->text), MR_TAIL_MAX_BYTES - 1);
    ck_assert_msg(((unsigned char)t->text[0] & 0xC0) != 0x80, "starts mid-character");

    c = mr_suite_case(s, "passes");
    ck_assert_ptr_null(c->out_tail);
    ck_assert_ptr_null(c->err_tail);

    c = mr_suite_case(s, "short");
    ck_assert_str_eq(c->out_tail->text, "x\ny\n");
    ck_assert_uint_eq(c->out_tail->lines, 2);
    ck_assert_uint_eq(c->out_tail->total_lines, 2);
    ck_assert(!c->out_tail->cut);
    mr_report_free(r);
    unlink(path);
}
END_TEST

/* However many failed cases, their tails take at most MR_TAIL_MAX_TOTAL bytes in all;
 * the cases past it say how much there was but keep no text. */
START_TEST(test_read_bounds_the_tails_of_a_report)
{
    enum { N = MR_TAIL_MAX_TOTAL / MR_TAIL_MAX_BYTES + 100 };
    char path[] = "/tmp/mr-tails-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    char chunk[MR_TAIL_MAX_BYTES + 1];
    memset(chunk, 'x', sizeof(chunk) - 1);
    chunk[sizeof(chunk) - 1] = '\0';
    fputs("<testsuites><testsuite name=\"s\">\n", f);
    for (int i = 0; i < N; i++)
        fprintf(f, "<testcase name=\"c%d\"><failure/><system-out>%s</system-out></testcase>\n",
                i, chunk);
    fputs("</testsuite></testsuites>\n", f);
    fclose(f);
    struct mr_report *r = read_ok(path);
    const struct mr_suite *s = r->suites[0];
    ck_assert_uint_eq(s->n_cases, N);
    size_t kept = 0, without = 0;
    for (size_t i = 0; i < s->n_cases; i++) {
        const struct mr_tail *t = s->cases[i]->out_tail;
        ck_assert_ptr_nonnull(t);
        ck_assert_uint_eq(t->total_bytes, MR_TAIL_MAX_BYTES);
        if (t->text)
            kept += strlen(t->text);
        else
            without++;
    }
    ck_assert_uint_le(kept, MR_TAIL_MAX_TOTAL);
    ck_assert_uint_eq(without, 100);
    mr_report_free(r);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_read");
    TCase *tr = tcase_create("read");
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, test_read_realistic_report);
    tcase_add_test(tr, test_read_round_trips_the_writer);
    tcase_add_test(tr, test_read_lone_testsuite_is_junit_not_matrixrun);
    tcase_add_loop_test(tr, test_read_refuses_bad_files, 0, (int)MR_ARRAY_SIZE(refused));
    tcase_add_test(tr, test_read_refuses_a_folder);
    tcase_add_test(tr, test_read_decodes_markup_and_skips_what_is_out_of_place);
    tcase_add_test(tr, test_read_refuses_too_many_items);
    tcase_add_test(tr, test_read_names_lines_past_65535);
    tcase_add_test(tr, test_read_keeps_only_the_tail_of_failed_output);
    tcase_add_test(tr, test_read_bounds_the_tails_of_a_report);
    suite_add_tcase(s, tr);
    TCase *tb = tcase_create("bench");
    tcase_add_test(tb, test_bench_figures_of_the_fixture_cells);
    tcase_add_test(tb, test_bench_rejects_bad_figures);
    tcase_add_test(tb, test_parse_double_takes_c_locale_decimals_only);
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
