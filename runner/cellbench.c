/* cellbench.c: a cell's benchmark phase: the paired CPU benchmark (cpubench.h) in the
 * guest and on this machine, its figures into the suite's properties. */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cpubench.h"
#include "family.h"
#include "host.h"
#include "tunnel.h"

/* One cell benchmarks at a time: its host runs must not compete with another cell's. */
static pthread_mutex_t bench_lock = PTHREAD_MUTEX_INITIALIZER;

struct guest_bench {
    struct mr_cell_run *cl;
    const char *remote;   /* mrbench's path in the guest */
    int64_t timeout_ms;   /* per run */
};

/* The guest side of the paired benchmark: mrbench through the cell's connection. */
static int guest_bench_run(void *ctx, const char *args, struct mr_buf *out, struct mr_err *e)
{
    struct guest_bench *gb = ctx;
    struct mr_cell_run *cl = gb->cl;
    _cleanup_free_ char *cmd = mr_family_run_program(cl->fam, gb->remote, args);
    struct mr_exec x;
    mr_exec_init(&x);
    int r = mr_cell_exec(cl, cmd, gb->timeout_ms, &x, e);
    if (r == 0 && (x.exit_signal || x.exit_status != 0)) {
        if (x.exit_signal)
            mr_err_set(e, "'%s' was killed by signal %s", cmd, x.exit_signal);
        else
            mr_err_set(e, "'%s' exited with status %d: %.300s", cmd, x.exit_status,
                       x.err.data ? x.err.data : "");
        r = -EIO;
    }
    if (r == 0)
        mr_buf_add(out, x.out.data ? x.out.data : "", x.out.len);
    mr_exec_release(&x);
    return r;
}

static void bench_note(void *ctx, const char *what)
{
    struct mr_cell_run *cl = ctx;
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "benchmark: %s", what);
}

/* A stable seed per cell, so the same figures give the same interval. */
static uint64_t bench_seed(const char *cell)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = cell; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return h;
}

static void set_list_prop(struct mr_suite *s, const char *name, const double *v, size_t n)
{
    struct mr_buf b;
    mr_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        mr_buf_addf(&b, "%s%.6f", i ? "," : "", v[i]);
    mr_suite_set_prop(s, name, b.data ? b.data : "");
    mr_buf_release(&b);
}

/* Pins the guest's first vCPU to this machine's last CPU, where the host runs go too.
 * Returns that CPU, or -1 with why saying what stopped it. */
static int bench_pin(virDomainPtr dom, char *why, size_t len)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1 || ncpu > 4096) {
        snprintf(why, len, "no: the host's CPU count is unknown");
        return -1;
    }
    int cpu = (int)ncpu - 1;
    struct mr_err e = { 0 };
    if (mr_host_pin_vcpu(dom, 0, cpu, &e) < 0) {
        snprintf(why, len, "no: libvirt could not pin vCPU 0 (%s)", mr_err_msg(&e));
        mr_err_release(&e);
        return -1;
    }
    snprintf(why, len, "guest vCPU 0 and the host runs on host CPU %d; guest run on its CPU 0",
             cpu);
    return cpu;
}

/* Takes the benchmark lock, waiting for another cell's benchmark; gives up when the run
 * is interrupted or the cell's time runs out. */
static int bench_lock_take(struct mr_cell_run *cl)
{
    int said = 0;
    for (;;) {
        if (pthread_mutex_trylock(&bench_lock) == 0)
            return 0;
        if (!said++)
            mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name,
                                 "benchmark: waiting for another cell's benchmark to end");
        if (mr_interrupted || mr_now_ms() >= cl->deadline_ms)
            return -1;
        usleep(100 * 1000);
    }
}

/* The benchmark's figures as the suite's properties (the JUnit schema has none on
 * testcases). */
static void bench_properties(struct mr_suite *s, const struct mr_bench_spec *spec,
                             const struct mr_cpubench_result *res, const char *pinned)
{
    const struct mr_paired_stats *st = &res->st;
    mr_pipeline_set_double(s, MR_PROP_BENCH_RATIO, "%.4f", st->ratio_median);
    mr_pipeline_set_double(s, MR_PROP_BENCH_RATIO_LOW, "%.4f", st->ratio_lo);
    mr_pipeline_set_double(s, MR_PROP_BENCH_RATIO_HIGH, "%.4f", st->ratio_hi);
    mr_pipeline_set_double(s, MR_PROP_BENCH_OVERHEAD_PCT, "%.2f", st->overhead_pct);
    mr_pipeline_set_double(s, MR_PROP_BENCH_OVERHEAD_LOW_PCT, "%.2f", st->overhead_lo_pct);
    mr_pipeline_set_double(s, MR_PROP_BENCH_OVERHEAD_HIGH_PCT, "%.2f", st->overhead_hi_pct);
    mr_pipeline_set_double(s, MR_PROP_BENCH_HOST_CV_PCT, "%.2f", st->host_cv * 100);
    mr_pipeline_set_double(s, MR_PROP_BENCH_GUEST_CV_PCT, "%.2f", st->guest_cv * 100);
    mr_pipeline_set_double(s, MR_PROP_BENCH_HOST_MEDIAN_SECONDS, "%.6f", st->host_median);
    mr_pipeline_set_double(s, MR_PROP_BENCH_GUEST_MEDIAN_SECONDS, "%.6f", st->guest_median);
    set_list_prop(s, MR_PROP_BENCH_HOST_SECONDS, res->host_s, res->n);
    set_list_prop(s, MR_PROP_BENCH_GUEST_SECONDS, res->guest_s, res->n);
    mr_pipeline_set_uint(s, MR_PROP_BENCH_REPETITIONS, (unsigned long)res->n);
    mr_pipeline_set_uint(s, MR_PROP_BENCH_WARMUP, spec->warmup);
    char it[32];
    snprintf(it, sizeof(it), "%llu", res->iterations);
    mr_suite_set_prop(s, MR_PROP_BENCH_ITERATIONS, it);
    mr_suite_set_prop(s, MR_PROP_BENCH_CHECKSUM, res->checksum);
    mr_suite_set_prop(s, MR_PROP_BENCH_NOISY,
                      mr_cpubench_noisy(st, spec->max_interval_pct) ? "yes" : "no");
    mr_pipeline_set_double(s, MR_PROP_BENCH_MAX_INTERVAL_PCT, "%g", spec->max_interval_pct);
    if (spec->max_overhead_pct >= 0)
        mr_pipeline_set_double(s, MR_PROP_BENCH_MAX_OVERHEAD_PCT, "%g", spec->max_overhead_pct);
    mr_suite_set_prop(s, MR_PROP_BENCH_PINNED, pinned);
}

/* The benchmark's summary and its pairs as the testcase's output, and its verdict. */
static void bench_verdict(struct mr_cell_run *cl, struct mr_case *c,
                          const struct mr_cpubench_result *res, const char *pinned)
{
    const struct mr_bench_spec *spec = &cl->run->m->bench;
    const struct mr_paired_stats *st = &res->st;
    int noisy = mr_cpubench_noisy(st, spec->max_interval_pct);
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_addf(&b,
                "CPU overhead of the guest: %.2f%% (95%% bootstrap interval %.2f%% to "
                "%.2f%%), median time ratio guest/host %.4f, from %zu pairs of %llu "
                "iterations (host calibrated to %.3f s)%s\n"
                "spread: host %.2f%%, guest %.2f%% (coefficient of variation)\n"
                "pinning: %s\n"
                "pair  host s      guest s     ratio\n",
                st->overhead_pct, st->overhead_lo_pct, st->overhead_hi_pct, st->ratio_median,
                res->n, res->iterations, res->calibrated_s,
                noisy ? "; NOISY: the interval is wider than the matrix allows" : "",
                st->host_cv * 100, st->guest_cv * 100, pinned);
    for (size_t i = 0; i < res->n; i++)
        mr_buf_addf(&b, "%4zu  %10.6f  %10.6f  %8.4f\n", i + 1, res->host_s[i],
                    res->guest_s[i], res->guest_s[i] / res->host_s[i]);
    mr_case_set_out(c, b.data, b.len);
    mr_buf_release(&b);
    if (spec->max_overhead_pct >= 0 && st->overhead_pct > spec->max_overhead_pct)
        mr_case_set(c, MR_VERDICT_FAIL, "overhead",
                    "CPU overhead %.2f%% (95%% interval %.2f%% to %.2f%%) exceeds the "
                    "matrix's limit of %g%%",
                    st->overhead_pct, st->overhead_lo_pct, st->overhead_hi_pct,
                    spec->max_overhead_pct);
    mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name,
                         "benchmark: overhead %.1f%% [%.1f%%, %.1f%%] over %zu pairs%s",
                         st->overhead_pct, st->overhead_lo_pct, st->overhead_hi_pct, res->n,
                         noisy ? " (noisy)" : "");
}

/* Finds mrbench for both sides and uploads the guest's. Returns 0, or -1 with c's
 * verdict set. */
static int bench_upload(struct mr_cell_run *cl, struct mr_case *c, char **ret_host_prog,
                        char **ret_remote)
{
    struct mr_err e = { 0 };
    _cleanup_free_ char *host_prog = NULL, *prog = NULL;
    if (!(host_prog = mr_cpubench_program(0, &e)) ||
        !(prog = mr_family_is_windows(cl->fam) ? mr_cpubench_program(1, &e)
                                               : mr_xstrdup(host_prog))) {
        mr_cell_step_error(c, -ENOENT, "benchmark", mr_err_msg(&e));
        mr_err_release(&e);
        return -1;
    }
    _cleanup_free_ char *remote = mr_family_remote_path(cl->fam, prog);
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "benchmark: uploading %s", prog);
    int r = mr_cell_upload(cl, prog, remote, 0755, 120000, &e);
    if (r < 0) {
        mr_cell_step_error(c, r, "benchmark upload", mr_err_msg(&e));
        mr_err_release(&e);
        return -1;
    }
    *ret_host_prog = MR_TAKE_PTR(host_prog);
    *ret_remote = MR_TAKE_PTR(remote);
    return 0;
}

/* Runs the pairs under the benchmark lock. Returns 0, or -1 with c's verdict set and
 * *ret_out_of_time telling whether the cell's time ran out. */
static int bench_measure(struct mr_cell_run *cl, struct mr_case *c, const char *host_prog,
                         const char *remote, struct mr_cpubench_result *res, char *pinned,
                         size_t pinned_len, int *ret_out_of_time)
{
    const struct mr_bench_spec *spec = &cl->run->m->bench;
    if (bench_lock_take(cl) < 0) {
        mr_case_set(c, MR_VERDICT_ERROR, mr_interrupted ? "interrupted" : "timeout",
                    "benchmark: %s while waiting for another cell's benchmark",
                    mr_interrupted ? "the run was interrupted" : "the cell's time ran out");
        *ret_out_of_time = 1;
        return -1;
    }
    int cpu = bench_pin(cl->g.dom, pinned, pinned_len);
    struct mr_cpubench_side host = { "host", mr_cpubench_host_run, (void *)host_prog, cpu };
    struct guest_bench gb = { cl, remote, (int64_t)(spec->seconds * 100 + 60) * 1000 };
    struct mr_cpubench_side guest = { "guest", guest_bench_run, &gb, 0 };
    struct mr_err e = { 0 };
    int r = mr_cpubench_paired(spec, &host, &guest, bench_seed(cl->name), bench_note, cl, res,
                               &e);
    pthread_mutex_unlock(&bench_lock);
    if (r < 0) {
        if (r == -EPROTO)
            mr_case_set(c, MR_VERDICT_ERROR, "benchmark", "benchmark: %s", mr_err_msg(&e));
        else
            mr_cell_step_error(c, r, "benchmark", mr_err_msg(&e));
        *ret_out_of_time = r == -ETIMEDOUT && cl->deadline_hit;
    }
    mr_err_release(&e);
    return r < 0 ? -1 : 0;
}

int mr_cell_benchmark(struct mr_cell_run *cl, struct mr_case *c)
{
    int64_t t0 = mr_now_ms();
    int out_of_time = 0;
    struct mr_cpubench_result res = { 0 };
    _cleanup_free_ char *host_prog = NULL, *remote = NULL;
    char pinned[256];
    if (cl->host->tunnel || mr_tunnel_uri_is_remote(cl->host->uri) == 1) {
        mr_case_set(c, MR_VERDICT_SKIP, NULL,
                    "not run: the host side of the benchmark runs on this machine, and the "
                    "guest ran on the remote host %s", cl->host->hostname);
        return 0;
    }
    if (bench_upload(cl, c, &host_prog, &remote) == 0 &&
        bench_measure(cl, c, host_prog, remote, &res, pinned, sizeof(pinned),
                      &out_of_time) == 0) {
        bench_properties(cl->s, &cl->run->m->bench, &res, pinned);
        bench_verdict(cl, c, &res, pinned);
    }
    if (c->verdict == MR_VERDICT_ERROR)
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "ERROR %s", c->message);
    c->time_s = mr_secs_since(t0);
    mr_cpubench_result_release(&res);
    return out_of_time ? -1 : 0;
}
