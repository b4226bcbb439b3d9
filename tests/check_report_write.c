/* check_report_write.c: a run's report folder: junit.xml and the page made from it, a
 * page that cannot be written as a warning, a junit.xml that cannot be written as an
 * error. */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "html.h"
#include "report_read.h"
#include "report_write.h"

static struct mr_report *sample(void)
{
    struct mr_report *r = mr_report_new("demo");
    struct mr_suite *s = mr_report_add_suite(r, "cell-\xc3\xa9");
    mr_suite_set_prop(s, MR_PROP_RUN_ID, "20261120-091502-3f2a");
    mr_suite_set_prop(s, MR_PROP_HOST, "buildbox");
    struct mr_case *c = mr_suite_add_case(s, "demo.cell", MR_CASE_BOOT);
    mr_case_set(c, MR_VERDICT_ERROR, "timeout", "boot: no SSH within %d s", 5);
    mr_case_set_out(c, "console\n", 8);
    return r;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

static char *path_in(const char *dir, const char *name)
{
    char *p = NULL;
    ck_assert_int_ne(asprintf(&p, "%s/%s", dir, name), -1);
    return p;
}

/* Writes the sample report's outputs into dir; returns what mr_report_write_outputs()
 * returned. */
static int write_sample(const char *dir, char **junit, struct mr_err *warn, struct mr_err *err)
{
    struct mr_report *r = sample();
    int ret = mr_report_write_outputs(r, dir, junit, warn, err);
    mr_report_free(r);
    return ret;
}

/* The junit.xml written reads back as the sample's one suite. */
static void expect_sample_back(const char *junit)
{
    struct mr_report *back;
    struct mr_err err = { 0 };
    ck_assert_msg(mr_report_read(junit, &back, &err) == 0, "%s", mr_err_msg(&err));
    ck_assert_uint_eq(back->n_suites, 1);
    ck_assert_str_eq(back->suites[0]->name, "cell-\xc3\xa9");
    ck_assert_str_eq(back->suites[0]->cases[0]->message, "boot: no SSH within 5 s");
    mr_report_free(back);
}

START_TEST(test_outputs_are_the_junit_file_and_its_page)
{
    char dir[] = "/tmp/mr-outputs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    struct mr_err warn = { 0 }, err = { 0 };
    char *junit = NULL;
    ck_assert_int_eq(write_sample(dir, &junit, &warn, &err), 0);
    ck_assert_ptr_null(warn.msg);
    ck_assert_ptr_null(err.msg);
    char *want = path_in(dir, "junit.xml");
    ck_assert_str_eq(junit, want);
    ck_assert_int_eq(count_entries(dir), 2); /* junit.xml, summary.html, no temp file */
    expect_sample_back(junit);
    /* The page is the one `matrixrun html` makes of the file. */
    char *page_path = path_in(dir, "summary.html");
    char *other = path_in(dir, "other.html");
    ck_assert_int_eq(mr_html_write(junit, other, &err), 0);
    char *page, *again;
    size_t len, len2;
    ck_assert_int_eq(mr_file_read(page_path, &page, &len), 0);
    ck_assert_int_eq(mr_file_read(other, &again, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_str_eq(page, again);
    ck_assert_ptr_nonnull(strstr(page, "20261120-091502-3f2a"));
    unlink(other);
    unlink(page_path);
    unlink(junit);
    rmdir(dir);
    free(page);
    free(again);
    free(other);
    free(page_path);
    free(want);
    free(junit);
}
END_TEST

/* A page that cannot be written loses nothing of the run: 1, junit.xml there, and a
 * warning naming the page. */
START_TEST(test_page_that_cannot_be_written_is_a_warning)
{
    char dir[] = "/tmp/mr-outputs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    /* A folder where the page goes: the rename onto it fails, even for root. */
    char *page_path = path_in(dir, "summary.html");
    ck_assert_int_eq(mkdir(page_path, 0700), 0);
    struct mr_err warn = { 0 }, err = { 0 };
    char *junit = NULL;
    ck_assert_int_eq(write_sample(dir, &junit, &warn, &err), 1);
    ck_assert_ptr_null(err.msg);
    ck_assert_ptr_nonnull(warn.msg);
    ck_assert_msg(strstr(warn.msg, "summary.html"), "warning: %s", warn.msg);
    ck_assert_ptr_nonnull(junit);
    expect_sample_back(junit);
    ck_assert_int_eq(count_entries(dir), 2); /* junit.xml and the folder, no temp file */
    unlink(junit);
    rmdir(page_path);
    rmdir(dir);
    free(junit);
    free(page_path);
    mr_err_release(&warn);
}
END_TEST

/* A junit.xml that cannot be written is the run's failure: negative, err naming it, no
 * page and no path handed back. */
START_TEST(test_junit_that_cannot_be_written_is_an_error)
{
    char dir[] = "/tmp/mr-outputs-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *missing = path_in(dir, "missing");
    struct mr_err warn = { 0 }, err = { 0 };
    char *junit = NULL;
    ck_assert_int_lt(write_sample(missing, &junit, &warn, &err), 0);
    ck_assert_ptr_null(junit);
    ck_assert_ptr_null(warn.msg);
    ck_assert_msg(err.msg && strstr(err.msg, "missing/junit.xml"), "error: %s",
                  mr_err_msg(&err));
    ck_assert_int_eq(count_entries(dir), 0);
    rmdir(dir);
    free(missing);
    mr_err_release(&err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("report_write");
    TCase *tc = tcase_create("outputs");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_outputs_are_the_junit_file_and_its_page);
    tcase_add_test(tc, test_page_that_cannot_be_written_is_a_warning);
    tcase_add_test(tc, test_junit_that_cannot_be_written_is_an_error);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
