/* check_compare.c: the comparison of runs: interval overlap, rows for cells that come and
 * go, changes and their marks, warnings, the rendered table's columns, and two runs of
 * 100000 cells each. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "junit.h"

#define DATA MR_TEST_DATA "/report/"

START_TEST(test_overlap_of_hand_made_intervals)
{
    static const struct {
        double l1, h1, l2, h2;
        int want;
    } t[] = {
        { 1, 2, 3, 4, 0 },       /* apart */
        { 3, 4, 1, 2, 0 },       /* apart, other order */
        { 1, 2, 2, 3, 1 },       /* touching ends count as overlap */
        { 1, 2, 2.001, 3, 0 },
        { 1, 5, 2, 3, 1 },       /* nested */
        { 2, 3, 1, 5, 1 },
        { 1, 3, 2, 4, 1 },       /* partial */
        { -5.1, -1.4, 1.1, 4.0, 0 },
        { 880.10, 950.22, 610.00, 671.55, 0 },
        { 1001.20, 1090.80, 970.00, 1052.30, 1 },
        { 7, 7, 7, 7, 1 },       /* points */
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(t); i++)
        ck_assert_msg(mr_interval_overlap(t[i].l1, t[i].h1, t[i].l2, t[i].h2) == t[i].want,
                      "[%g, %g] vs [%g, %g]: want %d", t[i].l1, t[i].h1, t[i].l2, t[i].h2,
                      t[i].want);
}
END_TEST

static struct mr_report *read_ok(const char *path)
{
    struct mr_report *r = NULL;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_report_read(path, &r, &e) == 0, "%s", mr_err_msg(&e));
    return r;
}

static const struct mr_compare_row *row(const struct mr_compare *c, const char *cell)
{
    for (size_t i = 0; i < c->n_rows; i++)
        if (strcmp(c->rows[i].cell, cell) == 0)
            return &c->rows[i];
    ck_abort_msg("no row '%s'", cell);
    return NULL;
}

START_TEST(test_fixture_runs_rows_changes_and_marks)
{
    const char *paths[] = { DATA "run1.xml", DATA "run2.xml" };
    struct mr_report *reps[2] = { read_ok(paths[0]), read_ok(paths[1]) };
    struct mr_compare *c = mr_compare_new((const struct mr_report *const *)reps, paths, 2);
    /* Cells in the order they first appear: run 1's, then run 2's new one. */
    const char *order[] = { "deb12-1cpu", "deb12-2cpu", "alma9-2cpu", "win-stub", "sles15-1cpu" };
    ck_assert_uint_eq(c->n_rows, MR_ARRAY_SIZE(order));
    for (size_t i = 0; i < MR_ARRAY_SIZE(order); i++)
        ck_assert_str_eq(c->rows[i].cell, order[i]);
    static const struct {
        const char *cell;
        int has;
        double pp;
        int marked;
    } want[] = {
        { "deb12-1cpu", 1, -272.22, 1 },
        { "deb12-2cpu", 1, -32.75, 0 },
        { "alma9-2cpu", 1, 14.45, 0 },
        { "win-stub", 0, 0, 0 },    /* gone in run 2 */
        { "sles15-1cpu", 0, 0, 0 }, /* new in run 2 */
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(want); i++) {
        double pp = 0;
        int marked = -1;
        int has = mr_compare_change(row(c, want[i].cell), 1, &pp, &marked);
        ck_assert_msg(has == want[i].has, "%s: has %d", want[i].cell, has);
        if (has) {
            ck_assert_double_eq_tol(pp, want[i].pp, 1e-9);
            ck_assert_int_eq(marked, want[i].marked);
        }
    }
    ck_assert_int_eq(row(c, "win-stub")->runs[1].present, 0);
    ck_assert_int_eq(row(c, "sles15-1cpu")->runs[0].present, 0);
    ck_assert_str_eq(row(c, "deb12-1cpu")->kernel, "6.1.0-27-amd64 -> 6.1.0-28-amd64");
    ck_assert_str_eq(row(c, "alma9-2cpu")->kernel, "5.14.0-427.13.1.el9_4.x86_64");
    ck_assert_str_eq(row(c, "win-stub")->kernel, "-"); /* "unknown": the guest never answered */
    ck_assert_str_eq(row(c, "win-stub")->image, "win2022");
    ck_assert_str_eq(c->runs[0].accel, "tcg");
    ck_assert_str_eq(c->runs[1].run_id, "20261126-143011-9b07");
    /* Same accelerator and host, another host kernel: one warning. */
    ck_assert_uint_eq(c->n_warnings, 1);
    ck_assert_ptr_nonnull(strstr(c->warnings[0], "different host kernels: run 1 6.1.0-27-amd64, "
                                                 "run 2 6.1.0-28-amd64"));
    mr_compare_free(c);
    mr_report_free(reps[0]);
    mr_report_free(reps[1]);
}
END_TEST

START_TEST(test_other_accelerator_and_host_are_warned)
{
    const char *paths[] = { DATA "run1.xml", DATA "chart-edge.xml" };
    struct mr_report *reps[2] = { read_ok(paths[0]), read_ok(paths[1]) };
    struct mr_compare *c = mr_compare_new((const struct mr_report *const *)reps, paths, 2);
    ck_assert_uint_eq(c->n_warnings, 3);
    ck_assert_ptr_nonnull(strstr(c->warnings[0], "different accelerators: run 1 tcg, run 2 kvm"));
    ck_assert_ptr_nonnull(strstr(c->warnings[1], "different hosts: run 1 buildbox, run 2 kvmhost"));
    ck_assert_ptr_nonnull(strstr(c->warnings[2], "different host kernels"));
    mr_compare_free(c);
    mr_report_free(reps[0]);
    mr_report_free(reps[1]);
}
END_TEST

static void add_cell(struct mr_report *r, const char *name, const char *v, const char *lo,
                     const char *hi)
{
    struct mr_suite *s = mr_report_add_suite(r, name);
    mr_suite_set_prop(s, "run.id", r->name);
    mr_suite_set_prop(s, "accel", "kvm");
    mr_suite_set_prop(s, "image", "img");
    if (v) {
        mr_suite_set_prop(s, "benchmark.cpu.overhead.pct", v);
        mr_suite_set_prop(s, "benchmark.cpu.overhead.ci95.low.pct", lo);
        mr_suite_set_prop(s, "benchmark.cpu.overhead.ci95.high.pct", hi);
    }
}

/* The line of the rendered text that starts with the cell's name and a space. */
static char *line_of(const char *text, const char *start)
{
    size_t n = strlen(start);
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        if (l > n && strncmp(p, start, n) == 0 && p[n] == ' ')
            return strndup(p, l);
        p += l + (p[l] == '\n');
    }
    ck_abort_msg("no line starting with '%s' in:\n%s", start, text);
    return NULL;
}

/* Three runs of hand-made cells: one in every run, one missing in the middle, one
 * without figures, one with garbage, and a hostile name with an escape sequence. */
START_TEST(test_three_runs_render_dashes_and_aligned_columns)
{
    struct mr_report *r[3] = { mr_report_new("r1"), mr_report_new("r2"), mr_report_new("r3") };
    add_cell(r[0], "steady", "10.00", "8.00", "12.00");
    add_cell(r[1], "steady", "11.00", "9.00", "13.00");
    add_cell(r[2], "steady", "30.00", "25.00", "35.00");
    add_cell(r[0], "gap", "5.00", "4.00", "6.00");
    add_cell(r[2], "gap", "50.00", "40.00", "60.00");
    add_cell(r[0], "nobench", NULL, NULL, NULL);
    add_cell(r[1], "nobench", NULL, NULL, NULL);
    add_cell(r[1], "junk", "NaN", "1", "2");
    add_cell(r[0], "evil\x1b[2Jname", "1.00", "0.50", "1.50");
    const char *labels[] = { "a.xml", "b.xml", "c.xml" };
    struct mr_compare *c = mr_compare_new((const struct mr_report *const *)r, labels, 3);
    ck_assert_uint_eq(c->n_warnings, 0);
    char *text = mr_compare_render(c);
    ck_assert_ptr_null(strchr(text, '\x1b')); /* the escape is a space, not a command */
    char *head = line_of(text, "cell");
    char *steady = line_of(text, "steady");
    char *gap = line_of(text, "gap");
    char *nob = line_of(text, "nobench");
    char *junk = line_of(text, "junk");
    ck_assert_ptr_nonnull(strstr(head, "run 1"));
    ck_assert_ptr_nonnull(strstr(head, "change 1->2"));
    ck_assert_ptr_nonnull(strstr(head, "change 2->3"));
    /* Columns line up: run 2's figure starts under "run 2". */
    size_t col = (size_t)(strstr(head, "run 2") - head);
    ck_assert_msg(strncmp(steady + col, "11.00 [9.00, 13.00]", 19) == 0, "'%s' vs '%s'", head,
                  steady);
    ck_assert_msg(gap[col] == '-' && gap[col - 1] == ' ' && gap[col + 1] == ' ', "%s", gap);
    ck_assert_msg(strncmp(junk + col, "invalid", 7) == 0, "%s", junk);
    /* 1->2 overlaps, 2->3 does not: one mark; the gap and no-figure rows have no change. */
    ck_assert_ptr_nonnull(strstr(steady, "+1.00  "));
    ck_assert_ptr_nonnull(strstr(steady, "+19.00 *"));
    ck_assert_ptr_null(strchr(gap, '*'));
    ck_assert_ptr_null(strchr(nob, '*'));
    ck_assert_ptr_null(strpbrk(nob, "0123456789"));
    /* Every table line is as long as the header or shorter (trailing blanks trimmed). */
    ck_assert_uint_le(strlen(steady), strlen(head) + 2);
    free(head);
    free(steady);
    free(gap);
    free(nob);
    free(junk);
    free(text);
    mr_compare_free(c);
    for (size_t i = 0; i < 3; i++)
        mr_report_free(r[i]);
}
END_TEST

/* One run of n cells named cell-NNNNNN, in the given order (+1 or -1), each with its own
 * host and guest kernel and an overhead of (index % 50) + shift. */
static struct mr_report *many_cells(size_t n, int order, double shift)
{
    struct mr_report *r = mr_report_new("big");
    for (size_t k = 0; k < n; k++) {
        size_t i = order > 0 ? k : n - 1 - k;
        char name[32], host[32], num[3][32];
        snprintf(name, sizeof(name), "cell-%06zu", i);
        snprintf(host, sizeof(host), "host-%zu", i);
        struct mr_suite *s = mr_report_add_suite(r, name);
        mr_suite_set_prop(s, MR_PROP_RUN_ID, order > 0 ? "run-a" : "run-b");
        mr_suite_set_prop(s, MR_PROP_ACCEL, "kvm");
        mr_suite_set_prop(s, MR_PROP_HOST, host);
        mr_suite_set_prop(s, MR_PROP_GUEST_KERNEL, host + 5);
        double v = (double)(i % 50) + shift;
        snprintf(num[0], sizeof(num[0]), "%.2f", v);
        snprintf(num[1], sizeof(num[1]), "%.2f", v - 0.25);
        snprintf(num[2], sizeof(num[2]), "%.2f", v + 0.25);
        mr_suite_set_prop(s, MR_PROP_BENCH_OVERHEAD_PCT, num[0]);
        mr_suite_set_prop(s, MR_PROP_BENCH_OVERHEAD_LOW_PCT, num[1]);
        mr_suite_set_prop(s, MR_PROP_BENCH_OVERHEAD_HIGH_PCT, num[2]);
        (void)mr_suite_add_case(s, "big", MR_CASE_BENCHMARK_CPU);
    }
    return r;
}

/* "cell-000042" -> "42", the guest kernel many_cells() gives that cell. */
static const char *host_number(const char *cell)
{
    const char *p = cell + 5;
    while (*p == '0' && p[1])
        p++;
    return p;
}

/* Two runs of 100000 cells, the first written and read back, the second in the other
 * order: one row per cell in the first run's order, each run's figure in its column,
 * every host listed once. The results are what is checked; tests/report_scale.py
 * measures the time, which grew with the square of the cells while rows and hosts were
 * found by scanning those seen so far. */
START_TEST(test_compare_of_100000_cells)
{
    enum { N = 100000 };
    char path[] = "/tmp/mr-big-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct mr_report *made = many_cells(N, 1, 0);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_junit_write(made, path, &e), 0);
    mr_report_free(made);
    struct mr_report *r[2];
    ck_assert_int_eq(mr_report_read(path, &r[0], &e), 0);
    unlink(path);
    r[1] = many_cells(N, -1, 1);
    const char *labels[] = { "a.xml", "b.xml" };
    struct mr_compare *c = mr_compare_new((const struct mr_report *const *)r, labels, 2);
    ck_assert_uint_eq(c->n_rows, N);
    for (size_t i = 0; i < N; i++) {
        const struct mr_compare_row *row = &c->rows[i];
        char name[32];
        snprintf(name, sizeof(name), "cell-%06zu", i);
        ck_assert_str_eq(row->cell, name);
        ck_assert_int_eq(row->runs[0].bench.state, MR_BENCH_OK);
        ck_assert_double_eq_tol(row->runs[0].bench.overhead, (double)(i % 50), 1e-9);
        ck_assert_double_eq_tol(row->runs[1].bench.overhead, (double)(i % 50) + 1, 1e-9);
        ck_assert_str_eq(row->kernel, host_number(name)); /* the same in both runs */
        double pp;
        int marked;
        ck_assert_int_eq(mr_compare_change(row, 1, &pp, &marked), 1);
        ck_assert_double_eq_tol(pp, 1, 1e-9);
        ck_assert_int_eq(marked, 1);
    }
    /* Every host once, in the run's order. */
    size_t commas = 0;
    for (const char *p = c->runs[1].hosts; *p; p++)
        commas += *p == ',';
    ck_assert_uint_eq(commas, N - 1);
    ck_assert(strncmp(c->runs[1].hosts, "host-99999,host-99998,", 22) == 0);
    /* The same hosts in another order read as other hosts: one warning. */
    ck_assert_uint_eq(c->n_warnings, 1);
    ck_assert_ptr_nonnull(strstr(c->warnings[0], "different hosts"));
    char *text = mr_compare_render(c);
    ck_assert_ptr_nonnull(strstr(text, "\ncell-099999  "));
    free(text);
    mr_compare_free(c);
    mr_report_free(r[0]);
    mr_report_free(r[1]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("compare");
    TCase *tc = tcase_create("compare");
    tcase_add_test(tc, test_overlap_of_hand_made_intervals);
    tcase_add_test(tc, test_fixture_runs_rows_changes_and_marks);
    tcase_add_test(tc, test_other_accelerator_and_host_are_warned);
    tcase_add_test(tc, test_three_runs_render_dashes_and_aligned_columns);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("many");
    /* Room for a loaded machine or a sanitizer build. */
    tcase_set_timeout(tb, 300);
    tcase_add_test(tb, test_compare_of_100000_cells);
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
