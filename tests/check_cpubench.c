/* Unit tests of the paired benchmark's driver (runner/cpubench.c): parsing mrbench's lines,
 * pairing and checksum checks with the real mrbench on both sides (the guest side here is
 * a local process too; e2e_bench.sh runs it in a real guest), and finding the program. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpubench.h"

START_TEST(parse_run_line)
{
    struct mr_err e = { 0 };
    struct mr_cpubench_line l;
    ck_assert_int_eq(mr_cpubench_parse("noise\nmrbench version=1 rep=3 iterations=1234 "
                                       "seconds=0.250000 checksum=0123456789abcdef cpu=1\n",
                                       &l, &e),
                     0);
    ck_assert_int_eq(l.calibrate, 0);
    ck_assert_uint_eq(l.rep, 3);
    ck_assert_uint_eq(l.iterations, 1234);
    ck_assert_double_eq_tol(l.seconds, 0.25, 1e-9);
    ck_assert_str_eq(l.checksum, "0123456789abcdef");
    ck_assert_int_eq(l.cpu, 1);
    ck_assert_int_eq(mr_cpubench_parse("mrbench version=1 calibrate iterations=99 seconds=2.01",
                                       &l, &e),
                     0);
    ck_assert_int_eq(l.calibrate, 1);
    ck_assert_uint_eq(l.iterations, 99);
    mr_err_release(&e);
}
END_TEST

START_TEST(parse_bad_lines)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        { "", "no result line" },
        { "Segmentation fault\n", "no result line" },
        { "mrbench version=2 rep=1 iterations=5 seconds=1 checksum=0123456789abcdef", "version=1" },
        { "mrbench version=1 rep=1 iterations=0 seconds=1 checksum=0123456789abcdef", "iterations" },
        { "mrbench version=1 rep=1 iterations=5 seconds=x checksum=0123456789abcdef", "not a number" },
        { "mrbench version=1 rep=1 iterations=5 seconds=1 checksum=0123", "checksum" },
        { "mrbench version=1 rep=1 iterations=5 seconds=1 checksum=0123456789ABCDEF", "checksum" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mr_err e = { 0 };
        struct mr_cpubench_line l;
        ck_assert_int_eq(mr_cpubench_parse(bad[i].text, &l, &e), -EPROTO);
        ck_assert_msg(strstr(mr_err_msg(&e), bad[i].msg), "'%s': %s", bad[i].text,
                      mr_err_msg(&e));
        mr_err_release(&e);
    }
}
END_TEST

/* A guest side that runs the real mrbench and then changes one hex digit of the
 * checksum: the wrong result a broken guest would compute. */
static int corrupting_run(void *ctx, const char *args, struct mr_buf *out, struct mr_err *err)
{
    struct mr_buf o;
    mr_buf_init(&o);
    int r = mr_cpubench_host_run(ctx, args, &o, err);
    char *sum = o.data ? strstr(o.data, "checksum=") : NULL;
    if (r == 0 && sum)
        sum[9] = sum[9] == '0' ? '1' : '0';
    if (r == 0)
        mr_buf_add(out, o.data, o.len);
    mr_buf_release(&o);
    return r;
}

static const struct mr_bench_spec quick = { .enabled = 1, .seconds = 0.02, .repetitions = 3,
                                            .warmup = 1, .max_overhead_pct = -1,
                                            .max_interval_pct = 10 };

START_TEST(paired_real_program)
{
    struct mr_cpubench_side host = { "host", mr_cpubench_host_run, (void *)MR_MRBENCH, 0 };
    struct mr_cpubench_side guest = { "guest", mr_cpubench_host_run, (void *)MR_MRBENCH, -1 };
    struct mr_cpubench_result res;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_cpubench_paired(&quick, &host, &guest, 42, NULL, NULL, &res, &e) == 0, "%s",
                  mr_err_msg(&e));
    ck_assert_uint_eq(res.n, 3);
    ck_assert_uint_gt(res.iterations, 0);
    for (size_t i = 0; i < res.n; i++) {
        ck_assert(res.host_s[i] > 0);
        ck_assert(res.guest_s[i] > 0);
    }
    ck_assert(res.st.ratio_lo <= res.st.ratio_median && res.st.ratio_median <= res.st.ratio_hi);
    ck_assert_double_eq_tol(res.st.overhead_pct, (res.st.ratio_median - 1) * 100, 1e-9);
    /* The checksum is the program's for that many iterations. */
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "%s --iterations %llu", MR_MRBENCH, res.iterations);
    FILE *p = popen(cmd, "r");
    char line[512] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
    pclose(p);
    char want[40];
    snprintf(want, sizeof(want), "checksum=%s ", res.checksum);
    ck_assert_msg(strstr(line, want), "'%s' lacks '%s'", line, want);
    mr_cpubench_result_release(&res);
    mr_err_release(&e);
}
END_TEST

START_TEST(paired_wrong_checksum)
{
    struct mr_cpubench_side host = { "host", mr_cpubench_host_run, (void *)MR_MRBENCH, -1 };
    struct mr_cpubench_side guest = { "guest", corrupting_run, (void *)MR_MRBENCH, -1 };
    struct mr_cpubench_result res;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_cpubench_paired(&quick, &host, &guest, 42, NULL, NULL, &res, &e), -EPROTO);
    ck_assert_msg(strstr(mr_err_msg(&e), "guest run: checksum") &&
                      strstr(mr_err_msg(&e), "the guest computed a wrong result"),
                  "%s", mr_err_msg(&e));
    mr_err_release(&e);
}
END_TEST

START_TEST(paired_side_fails)
{
    struct mr_cpubench_side host = { "host", mr_cpubench_host_run, (void *)MR_MRBENCH, -1 };
    struct mr_cpubench_side guest = { "guest", mr_cpubench_host_run, (void *)"/nonexistent/mrbench", -1 };
    struct mr_cpubench_result res;
    struct mr_err e = { 0 };
    ck_assert_int_lt(mr_cpubench_paired(&quick, &host, &guest, 42, NULL, NULL, &res, &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), "guest run") && strstr(mr_err_msg(&e), "/nonexistent/mrbench"),
                  "%s", mr_err_msg(&e));
    mr_err_release(&e);
    /* A bad option reaches mrbench, which refuses it: the calibration names it. */
    struct mr_bench_spec odd = quick;
    odd.seconds = 1e6;
    ck_assert_int_lt(mr_cpubench_paired(&odd, &host, &host, 42, NULL, NULL, &res, &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), "calibration"), "%s", mr_err_msg(&e));
    mr_err_release(&e);
}
END_TEST

START_TEST(noisy)
{
    struct mr_paired_stats st = { .ratio_median = 10, .ratio_lo = 9.6, .ratio_hi = 10.5 };
    ck_assert_int_eq(mr_cpubench_noisy(&st, 10), 0); /* 9% wide */
    ck_assert_int_eq(mr_cpubench_noisy(&st, 8), 1);
    st.ratio_median = 0;
    ck_assert_int_eq(mr_cpubench_noisy(&st, 10), 1);
}
END_TEST

START_TEST(program_lookup)
{
    struct mr_err e = { 0 };
    setenv("MATRIXRUN_MRBENCH", MR_MRBENCH, 1);
    char *p = mr_cpubench_program(0, &e);
    ck_assert_ptr_nonnull(p);
    ck_assert_str_eq(p, MR_MRBENCH);
    free(p);
    setenv("MATRIXRUN_MRBENCH", "/nonexistent/dir/mrbench", 1);
    ck_assert_ptr_null(mr_cpubench_program(1, &e));
    ck_assert_msg(strstr(mr_err_msg(&e), "/nonexistent/dir/mrbench.exe") &&
                      strstr(mr_err_msg(&e), "mingw"),
                  "%s", mr_err_msg(&e));
    unsetenv("MATRIXRUN_MRBENCH");
    mr_err_release(&e);
}
END_TEST

/* An installed matrixrun (bin/matrixrun) finds mrbench in libexec/matrixrun, where the
 * install rules put it; $MATRIXRUN_MRBENCH's folder is the only place looked in. */
START_TEST(program_lookup_installed)
{
    char root[] = "/tmp/mr-install-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(root));
    char bin[128], libexec[128], prog[160];
    snprintf(bin, sizeof(bin), "%s/bin", root);
    snprintf(libexec, sizeof(libexec), "%s/libexec", root);
    ck_assert_int_eq(mkdir(bin, 0755), 0);
    ck_assert_int_eq(mkdir(libexec, 0755), 0);
    snprintf(libexec, sizeof(libexec), "%s/libexec/matrixrun", root);
    ck_assert_int_eq(mkdir(libexec, 0755), 0);
    snprintf(prog, sizeof(prog), "%s/mrbench", libexec);
    FILE *f = fopen(prog, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    struct mr_err e = { 0 };
    char *p = mr_cpubench_program_in(bin, 0, 0, &e);
    ck_assert_msg(p != NULL, "%s", mr_err_msg(&e));
    char *want = mr_xasprintf("%s/../libexec/matrixrun/mrbench", bin);
    ck_assert_str_eq(p, want);
    free(want);
    free(p);
    ck_assert_ptr_null(mr_cpubench_program_in(bin, 1, 0, &e)); /* $MATRIXRUN_MRBENCH's: no */
    ck_assert_ptr_null(mr_cpubench_program_in(bin, 0, 1, &e)); /* no mrbench.exe there */
    mr_err_release(&e);
    unlink(prog);
    rmdir(libexec);
    snprintf(libexec, sizeof(libexec), "%s/libexec", root);
    rmdir(libexec);
    rmdir(bin);
    rmdir(root);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpubench");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, parse_run_line);
    tcase_add_test(tc, parse_bad_lines);
    tcase_add_test(tc, paired_real_program);
    tcase_add_test(tc, paired_wrong_checksum);
    tcase_add_test(tc, paired_side_fails);
    tcase_add_test(tc, noisy);
    tcase_add_test(tc, program_lookup);
    tcase_add_test(tc, program_lookup_installed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
