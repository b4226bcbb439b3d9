/* cpubench.h: the paired CPU benchmark. The same mrbench binary (runner/mrbench/) runs on
 * the host and in the guest, interleaved: calibrate on the host, `warmup` pairs that do
 * not count, then `repetitions` pairs (host, guest, host, guest...). Each run is one
 * repetition of the same iteration count, so each pair gives one ratio guest/host; the
 * median ratio, its bootstrap interval and each side's spread come from stats.h. Every
 * run's checksum must equal the first host run's: a wrong result is an error, not a
 * figure.
 *
 * How a side runs mrbench is the caller's: a function that runs it with the given
 * arguments and returns its standard output (the host side: mr_cpubench_host_run, a
 * local process; the guest side: a command over SSH).
 *
 * Ownership: struct mr_cpubench_result owns its arrays; _release frees them. */
#ifndef MR_CPUBENCH_H
#define MR_CPUBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "matrix.h"
#include "stats.h"
#include "util.h"

/* One line of mrbench's output. */
struct mr_cpubench_line {
    int calibrate;                /* a --calibrate line (no rep, checksum, cpu) */
    unsigned rep;
    unsigned long long iterations;
    double seconds;
    char checksum[17];            /* 16 hex digits */
    int cpu;                      /* -1: unknown */
};

/* Parses the first line of text that starts with "mrbench ". -EPROTO with err set when
 * there is none or it lacks a field. */
int mr_cpubench_parse(const char *text, struct mr_cpubench_line *ret, struct mr_err *err) MR_WUR;

/* Runs mrbench once with args (one string of options, split at spaces) and appends its
 * standard output to out. Returns 0, or negative with err set (a run that failed or
 * timed out). */
typedef int (*mr_cpubench_run_fn)(void *ctx, const char *args, struct mr_buf *out,
                                  struct mr_err *err);

struct mr_cpubench_side {
    const char *name;       /* "host", "guest": for messages */
    mr_cpubench_run_fn run;
    void *ctx;
    int cpu;                /* passed as --cpu; -1: not pinned */
};

struct mr_cpubench_result {
    unsigned long long iterations;
    char checksum[17];
    double calibrated_s;    /* the host's calibration run */
    size_t n;               /* pairs measured */
    double *host_s, *guest_s;
    struct mr_paired_stats st;
};

/* Progress: called before each pair with its number (0 for warm-up pairs). */
typedef void (*mr_cpubench_note_fn)(void *ctx, const char *what);

int mr_cpubench_paired(const struct mr_bench_spec *spec, const struct mr_cpubench_side *host,
                       const struct mr_cpubench_side *guest, uint64_t seed,
                       mr_cpubench_note_fn note, void *note_ctx,
                       struct mr_cpubench_result *ret, struct mr_err *err) MR_WUR;
void mr_cpubench_result_release(struct mr_cpubench_result *r);

/* The host side: ctx is the path of mrbench; runs it as a child process. */
int mr_cpubench_host_run(void *ctx, const char *args, struct mr_buf *out, struct mr_err *err);

/* Where mrbench (windows: mrbench.exe, also looked for in windows/) is: in the folder of
 * $MATRIXRUN_MRBENCH (a path to mrbench), else next to the running matrixrun or, for an
 * installed one, in ../libexec/matrixrun from there. Returns a malloc'd path, or NULL
 * with err set when it is not there. */
char *mr_cpubench_program(int windows, struct mr_err *err);
/* The same lookup from a given folder: matrixrun's own (installed: also
 * ../libexec/matrixrun), or with from_env the folder $MATRIXRUN_MRBENCH names (only). */
char *mr_cpubench_program_in(const char *dir, int from_env, int windows, struct mr_err *err);

/* Whether the measurement is noisy: the interval's width above max_interval_pct of the
 * median ratio. */
int mr_cpubench_noisy(const struct mr_paired_stats *st, double max_interval_pct);

#endif
