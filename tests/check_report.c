/* check_report.c: the results model: properties set in place, testcases, counts, the
 * lookups by name, distinct values, and suites added, dropped and moved in any number. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

START_TEST(test_set_prop_replaces_in_place_and_add_prop_appends)
{
    struct mr_report *r = mr_report_new("run");
    struct mr_suite *s = mr_report_add_suite(r, "cell");
    mr_suite_set_prop(s, MR_PROP_IMAGE, "deb12");
    mr_suite_set_prop(s, MR_PROP_GUEST_KERNEL, MR_PROP_UNKNOWN);
    mr_suite_set_prop(s, MR_PROP_IMAGE, "deb13");
    ck_assert_uint_eq(s->n_props, 2);
    ck_assert_str_eq(s->props[0].name, "image");
    ck_assert_str_eq(s->props[0].value, "deb13");
    ck_assert_str_eq(mr_suite_prop(s, MR_PROP_GUEST_KERNEL), "unknown");
    ck_assert_ptr_null(mr_suite_prop(s, "no.such"));
    mr_suite_add_prop(s, "extra", "1");
    ck_assert_uint_eq(s->n_props, 3);
    ck_assert_str_eq(mr_suite_prop(s, "extra"), "1");
    mr_report_free(r);
}
END_TEST

START_TEST(test_counts_and_case_lookup)
{
    struct mr_report *r = mr_report_new("run");
    struct mr_suite *a = mr_report_add_suite(r, "a");
    struct mr_suite *b = mr_report_add_suite(r, "b");
    (void)mr_suite_add_case(a, "m.a", MR_CASE_BOOT);
    mr_case_set(mr_suite_add_case(a, "m.a", "t1"), MR_VERDICT_FAIL, "exit-status", "%s", "1");
    mr_case_set(mr_suite_add_case(a, "m.a", "t1"), MR_VERDICT_ERROR, NULL, NULL);
    mr_case_set(mr_suite_add_case(b, "m.b", MR_CASE_BOOT), MR_VERDICT_SKIP, NULL, "not run");
    struct mr_counts n = mr_suite_counts(a);
    ck_assert_uint_eq(n.tests, 3);
    ck_assert_uint_eq(n.failures, 1);
    ck_assert_uint_eq(n.errors, 1);
    ck_assert_uint_eq(n.skipped, 0);
    n = mr_report_counts(r);
    ck_assert_uint_eq(n.tests, 4);
    ck_assert_uint_eq(n.skipped, 1);
    /* The first of a name. */
    ck_assert_int_eq(mr_suite_case(a, "t1")->verdict, MR_VERDICT_FAIL);
    ck_assert_ptr_null(mr_suite_case(b, "t1"));
    ck_assert_ptr_null(mr_suite_case(a, "t2"));
    mr_report_free(r);
}
END_TEST

/* Values in the order they first appear, each once, empty ones left out; "host" falls
 * back to the suite's hostname. */
START_TEST(test_distinct_values_in_suite_order)
{
    static const char *const hosts[] = { "h2", "h1", "h2", "", NULL, "h3", "h1" };
    struct mr_report *r = mr_report_new("run");
    for (size_t i = 0; i < sizeof(hosts) / sizeof(*hosts); i++) {
        char name[16];
        snprintf(name, sizeof(name), "c%zu", i);
        struct mr_suite *s = mr_report_add_suite(r, name);
        if (hosts[i])
            mr_suite_set_prop(s, MR_PROP_HOST, hosts[i]);
        else
            s->hostname = strdup("from-attr");
        mr_suite_set_prop(s, MR_PROP_ACCEL, i % 2 ? "kvm" : "tcg");
    }
    const char **v;
    size_t n = mr_report_distinct_prop(r, MR_PROP_HOST, &v);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(v[0], "h2");
    ck_assert_str_eq(v[1], "h1");
    ck_assert_str_eq(v[2], "from-attr");
    ck_assert_str_eq(v[3], "h3");
    free(v);
    n = mr_report_distinct_prop(r, MR_PROP_ACCEL, &v);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(v[0], "tcg");
    free(v);
    n = mr_report_distinct_prop(r, MR_PROP_RUN_ID, &v);
    ck_assert_uint_eq(n, 0);
    free(v);
    ck_assert(!mr_report_is_matrixrun(r));
    mr_suite_set_prop(r->suites[3], MR_PROP_RUN_ID, "x");
    ck_assert(mr_report_is_matrixrun(r));
    mr_report_free(r);
}
END_TEST

/* Many suites, cases and properties, with drops and moves between the additions: every
 * one where it belongs (the arrays' room grows behind the scenes). */
START_TEST(test_many_suites_cases_and_props)
{
    enum { N = 5000 };
    struct mr_report *r = mr_report_new("run");
    struct mr_report *other = mr_report_new("other");
    for (size_t i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "cell-%zu", i);
        struct mr_suite *s = mr_report_add_suite(i % 3 ? r : other, name);
        for (size_t k = 0; k < i % 40; k++) {
            char pn[32];
            snprintf(pn, sizeof(pn), "p%zu", k);
            mr_suite_set_prop(s, pn, name);
            (void)mr_suite_add_case(s, "m", pn);
        }
        if (i % 7 == 0) {
            (void)mr_report_add_suite(r, "dropped");
            mr_report_drop_last_suite(r);
        }
        if (i % 1000 == 999)
            mr_report_move_suites(r, other);
    }
    mr_report_move_suites(r, other);
    ck_assert_uint_eq(r->n_suites, N);
    ck_assert_uint_eq(other->n_suites, 0);
    size_t seen[N] = { 0 };
    for (size_t j = 0; j < r->n_suites; j++) {
        const struct mr_suite *s = r->suites[j];
        size_t i = strtoul(s->name + 5, NULL, 10);
        ck_assert_uint_lt(i, N);
        seen[i]++;
        ck_assert_uint_eq(s->n_props, i % 40);
        ck_assert_uint_eq(s->n_cases, i % 40);
        for (size_t k = 0; k < s->n_props; k++) {
            char pn[32];
            snprintf(pn, sizeof(pn), "p%zu", k);
            ck_assert_str_eq(s->props[k].name, pn);
            ck_assert_str_eq(s->props[k].value, s->name);
            ck_assert_str_eq(s->cases[k]->name, pn);
        }
    }
    for (size_t i = 0; i < N; i++)
        ck_assert_uint_eq(seen[i], 1);
    mr_report_free(other);
    mr_report_free(r);
}
END_TEST

START_TEST(test_report_move_suites_keeps_order)
{
    struct mr_report *dst = mr_report_new("run");
    struct mr_report *a = mr_report_new("a");
    struct mr_report *b = mr_report_new("b");
    (void)mr_report_add_suite(dst, "first");
    (void)mr_report_add_suite(a, "second");
    (void)mr_report_add_suite(a, "third");
    mr_report_move_suites(dst, a);
    mr_report_move_suites(dst, b); /* empty: nothing changes */
    (void)mr_report_add_suite(dst, "fourth");
    ck_assert_uint_eq(dst->n_suites, 4);
    ck_assert_str_eq(dst->suites[1]->name, "second");
    ck_assert_str_eq(dst->suites[2]->name, "third");
    ck_assert_str_eq(dst->suites[3]->name, "fourth");
    ck_assert_uint_eq(a->n_suites, 0);
    ck_assert_ptr_null(a->suites);
    mr_report_free(a);
    mr_report_free(b);
    mr_report_free(dst);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_set_prop_replaces_in_place_and_add_prop_appends);
    tcase_add_test(tc, test_counts_and_case_lookup);
    tcase_add_test(tc, test_distinct_values_in_suite_order);
    tcase_add_test(tc, test_many_suites_cases_and_props);
    tcase_add_test(tc, test_report_move_suites_keeps_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
