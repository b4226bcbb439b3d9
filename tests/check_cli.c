/* Unit tests of the command line's option parser (clipriv.h): what each option's value
 * becomes, where the positional words end up, and the exit codes of bad values. The
 * messages and the verbs themselves are tested through the binary in cli_usage.sh. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clipriv.h"
#include "matrix.h"
#include "pipeline.h"

/* Parses a NULL-terminated list of words after "matrixrun"; argv must outlive *ret. */
static int parse(char **argv, struct mr_cli_opts *ret, int *ret_words)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    return mr_cli_parse(argc, argv, ret, ret_words);
}

START_TEST(test_cli_defaults)
{
    char *argv[] = { "matrixrun", "m.xml", NULL };
    struct mr_cli_opts o;
    int w;
    ck_assert_int_eq(parse(argv, &o, &w), MR_CLI_CONTINUE);
    ck_assert_int_eq(w, 1);
    ck_assert_ptr_null(o.outdir);
    ck_assert_int_eq(o.accel, -1);
    ck_assert_ptr_null(o.uri);
    ck_assert_ptr_null(o.catalogue);
    ck_assert_int_eq(o.quiet, 0);
    ck_assert_uint_eq(o.n_only, 0);
    ck_assert_uint_eq(o.shard_i, 0);
    ck_assert_uint_eq(o.shard_n, 0);
    ck_assert_uint_eq(o.jobs, 0);
    ck_assert(o.overcommit_cpu == 0 && o.overcommit_mem == 0);
    ck_assert_int_lt(o.stagger_ms, 0);
    mr_cli_opts_release(&o);
}
END_TEST

/* --stagger is in seconds, decimals allowed; the pipeline takes milliseconds. */
static const struct {
    const char *arg;
    int ms;
} staggers[] = {
    { "0", 0 }, { "0.5", 500 }, { "1", 1000 }, { "2.25", 2250 }, { "60", 60000 },
    { ".1", 100 }, { "0.0004", 0 }, { "2.0006", 2001 },
};

START_TEST(test_cli_stagger_is_seconds)
{
    char *argv[] = { "matrixrun", "run", "--stagger", (char *)staggers[_i].arg, "m.xml", NULL };
    struct mr_cli_opts o;
    int w;
    ck_assert_int_eq(parse(argv, &o, &w), MR_CLI_CONTINUE);
    ck_assert_int_eq(o.stagger_ms, staggers[_i].ms);
    mr_cli_opts_release(&o);
}
END_TEST

START_TEST(test_cli_every_option_lands_in_its_field)
{
    char *argv[] = { "matrixrun", "-o", "out", "run", "--accel", "kvm", "--connect",
                     "test:///default", "-C", "fam.xml", "--only", "deb-*", "m.xml",
                     "--only", "rhel-9", "--shard", "2/3", "-j", "4", "--overcommit",
                     "2:0.5", "-q", NULL };
    struct mr_cli_opts o;
    int w;
    ck_assert_int_eq(parse(argv, &o, &w), MR_CLI_CONTINUE);
    ck_assert_str_eq(o.outdir, "out");
    ck_assert_int_eq(o.accel, MR_ACCEL_KVM);
    ck_assert_str_eq(o.uri, "test:///default");
    ck_assert_str_eq(o.catalogue, "fam.xml");
    ck_assert_uint_eq(o.n_only, 2);
    ck_assert_str_eq(o.only[0], "deb-*");
    ck_assert_str_eq(o.only[1], "rhel-9");
    ck_assert_uint_eq(o.shard_i, 2);
    ck_assert_uint_eq(o.shard_n, 3);
    ck_assert_uint_eq(o.jobs, 4);
    ck_assert(o.overcommit_cpu == 2.0);
    ck_assert(o.overcommit_mem == 0.5);
    ck_assert_int_eq(o.quiet, 1);
    /* getopt_long moved the positional words to the end, in their order. */
    ck_assert_int_eq(w, 20);
    ck_assert_str_eq(argv[w], "run");
    ck_assert_str_eq(argv[w + 1], "m.xml");
    mr_cli_opts_release(&o);

    char *argv2[] = { "matrixrun", "doctor", "-c", "qemu:///session", "--accel=tcg", NULL };
    ck_assert_int_eq(parse(argv2, &o, &w), MR_CLI_CONTINUE);
    ck_assert_str_eq(o.uri, "qemu:///session");
    ck_assert_int_eq(o.accel, MR_ACCEL_TCG);
    ck_assert_str_eq(argv2[w], "doctor");
    mr_cli_opts_release(&o);
}
END_TEST

/* The README's table gives each option a long form beside its short one: both land in
 * the same field (the short forms are checked above). */
START_TEST(test_cli_long_forms_land_in_their_fields)
{
    char *argv[] = { "matrixrun", "--output", "out", "--catalogue", "fam.xml", "--quiet",
                     "--jobs", "3", "--connect=qemu:///session", "--accel", "auto", "m.xml",
                     NULL };
    struct mr_cli_opts o;
    int w;
    ck_assert_int_eq(parse(argv, &o, &w), MR_CLI_CONTINUE);
    ck_assert_str_eq(o.outdir, "out");
    ck_assert_str_eq(o.catalogue, "fam.xml");
    ck_assert_int_eq(o.quiet, 1);
    ck_assert_uint_eq(o.jobs, 3);
    ck_assert_str_eq(o.uri, "qemu:///session");
    ck_assert_int_eq(o.accel, MR_ACCEL_AUTO);
    ck_assert_str_eq(argv[w], "m.xml");
    mr_cli_opts_release(&o);
}
END_TEST

/* --warm and --cold set the run's boot mode; given together they are a usage error
 * (the same one twice is not). */
START_TEST(test_cli_warm_and_cold)
{
    struct mr_cli_opts o;
    int w;
    char *none[] = { "matrixrun", "m.xml", NULL };
    ck_assert_int_eq(parse(none, &o, &w), MR_CLI_CONTINUE);
    ck_assert_int_eq(o.boot, MR_BOOT_IMAGE);
    mr_cli_opts_release(&o);
    char *warm[] = { "matrixrun", "--warm", "m.xml", "--warm", NULL };
    ck_assert_int_eq(parse(warm, &o, &w), MR_CLI_CONTINUE);
    ck_assert_int_eq(o.boot, MR_BOOT_WARM);
    mr_cli_opts_release(&o);
    char *cold[] = { "matrixrun", "m.xml", "--cold", NULL };
    ck_assert_int_eq(parse(cold, &o, &w), MR_CLI_CONTINUE);
    ck_assert_int_eq(o.boot, MR_BOOT_COLD);
    mr_cli_opts_release(&o);
    char *both[] = { "matrixrun", "--cold", "m.xml", "--warm", NULL };
    ck_assert_int_eq(parse(both, &o, &w), MR_EXIT_USAGE);
    char *both2[] = { "matrixrun", "--warm", "--cold", "m.xml", NULL };
    ck_assert_int_eq(parse(both2, &o, &w), MR_EXIT_USAGE);
}
END_TEST

/* A bad value is a usage error before any verb runs; --help and --version end with 0. */
static const char *const bad_args[][3] = {
    { "--stagger", "61" }, { "--stagger", "1s" }, { "-j", "0" }, { "--jobs", "257" },
    { "--shard", "3/2" }, { "--overcommit", "0" }, { "--accel", "hvf" }, { "--frob", NULL },
};

START_TEST(test_cli_bad_values_are_usage_errors)
{
    char *argv[] = { "matrixrun", (char *)bad_args[_i][0], (char *)bad_args[_i][1], NULL };
    if (!argv[2])
        argv[2] = "m.xml";
    struct mr_cli_opts o;
    int w;
    ck_assert_int_eq(parse(argv, &o, &w), MR_EXIT_USAGE);
}
END_TEST

START_TEST(test_cli_help_and_version_end_with_0)
{
    char *help[] = { "matrixrun", "--help", "run", NULL };
    char *version[] = { "matrixrun", "m.xml", "--version", NULL };
    struct mr_cli_opts o;
    int w;
    /* The usage text is cli_usage.sh's to check; here only the exit codes. */
    ck_assert_ptr_nonnull(freopen("/dev/null", "w", stdout));
    ck_assert_int_eq(parse(help, &o, &w), MR_EXIT_OK);
    ck_assert_int_eq(parse(version, &o, &w), MR_EXIT_OK);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_cli_defaults);
    tcase_add_loop_test(tc, test_cli_stagger_is_seconds, 0,
                        (int)(sizeof(staggers) / sizeof(staggers[0])));
    tcase_add_test(tc, test_cli_every_option_lands_in_its_field);
    tcase_add_test(tc, test_cli_long_forms_land_in_their_fields);
    tcase_add_test(tc, test_cli_warm_and_cold);
    tcase_add_loop_test(tc, test_cli_bad_values_are_usage_errors, 0,
                        (int)(sizeof(bad_args) / sizeof(bad_args[0])));
    tcase_add_test(tc, test_cli_help_and_version_end_with_0);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
