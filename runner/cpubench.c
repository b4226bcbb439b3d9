/* cpubench.c: the paired CPU benchmark's driver (see cpubench.h). */
#define _GNU_SOURCE
#include "cpubench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int mr_cpubench_parse(const char *text, struct mr_cpubench_line *ret, struct mr_err *err)
{
    const char *line = text;
    while (line && strncmp(line, "mrbench ", 8) != 0) {
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    if (!line) {
        mr_err_set(err, "mrbench printed no result line");
        return -EPROTO;
    }
    struct mr_cpubench_line l = { .cpu = -1 };
    int have_it = 0, have_s = 0, have_sum = 0, version = 0;
    _cleanup_free_ char *copy = mr_xstrndup(line, strcspn(line, "\r\n"));
    char *save = NULL;
    for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            if (strcmp(tok, "calibrate") == 0)
                l.calibrate = 1;
            continue;
        }
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        char *end = NULL;
        errno = 0;
        if (strcmp(k, "version") == 0) {
            version = (int)strtol(v, &end, 10);
        } else if (strcmp(k, "rep") == 0) {
            l.rep = (unsigned)strtoul(v, &end, 10);
        } else if (strcmp(k, "iterations") == 0) {
            l.iterations = strtoull(v, &end, 10);
            have_it = l.iterations > 0;
        } else if (strcmp(k, "seconds") == 0) {
            l.seconds = strtod(v, &end);
            have_s = l.seconds > 0;
        } else if (strcmp(k, "checksum") == 0) {
            have_sum = strlen(v) == 16 && strspn(v, "0123456789abcdef") == 16;
            if (have_sum)
                memcpy(l.checksum, v, 17);
            end = (char *)v + strlen(v);
        } else if (strcmp(k, "cpu") == 0) {
            l.cpu = (int)strtol(v, &end, 10);
        } else {
            continue; /* fields a later mrbench may add */
        }
        if (errno || !end || *end) {
            mr_err_set(err, "mrbench printed %s='%s', not a number", k, v);
            return -EPROTO;
        }
    }
    if (version != 1 || !have_it || !have_s || (!l.calibrate && !have_sum)) {
        _cleanup_free_ char *first = mr_xstrndup(line, strcspn(line, "\r\n"));
        mr_err_set(err, "mrbench's line '%.200s' lacks %s", first,
                   version != 1 ? "version=1"
                   : !have_it   ? "a positive iterations="
                   : !have_s    ? "a positive seconds="
                                : "a 16-digit checksum=");
        return -EPROTO;
    }
    *ret = l;
    return 0;
}

/* One run of iterations on a side; checks its checksum against want (set from the
 * first run when want is empty). */
static int run_once(const struct mr_cpubench_side *side, unsigned long long iterations,
                    char want[17], double *ret_s, struct mr_err *err)
{
    struct mr_buf out;
    mr_buf_init(&out);
    _cleanup_free_ char *args =
        side->cpu >= 0 ? mr_xasprintf("--iterations %llu --cpu %d", iterations, side->cpu)
                       : mr_xasprintf("--iterations %llu", iterations);
    int r = side->run(side->ctx, args, &out, err);
    struct mr_cpubench_line l;
    if (r == 0)
        r = mr_cpubench_parse(out.data ? out.data : "", &l, err);
    mr_buf_release(&out);
    if (r < 0) {
        mr_err_prefix(err, "%s run", side->name);
        return r;
    }
    if (l.calibrate || l.iterations != iterations) {
        mr_err_set(err, "%s run: mrbench ran %llu iterations, not %llu", side->name,
                   l.iterations, iterations);
        return -EPROTO;
    }
    if (!want[0]) {
        memcpy(want, l.checksum, 17);
    } else if (strcmp(want, l.checksum) != 0) {
        mr_err_set(err, "%s run: checksum %s, the host's run of the same %llu iterations gave "
                        "%s: the %s computed a wrong result",
                   side->name, l.checksum, iterations, want, side->name);
        return -EPROTO;
    }
    *ret_s = l.seconds;
    return 0;
}

int mr_cpubench_paired(const struct mr_bench_spec *spec, const struct mr_cpubench_side *host,
                       const struct mr_cpubench_side *guest, uint64_t seed,
                       mr_cpubench_note_fn note, void *note_ctx,
                       struct mr_cpubench_result *ret, struct mr_err *err)
{
    struct mr_cpubench_result res = { 0 };
    struct mr_buf out;
    mr_buf_init(&out);
    char secs[32];
    snprintf(secs, sizeof(secs), "%g", spec->seconds);
    _cleanup_free_ char *cal =
        host->cpu >= 0 ? mr_xasprintf("--calibrate --seconds %s --cpu %d", secs, host->cpu)
                       : mr_xasprintf("--calibrate --seconds %s", secs);
    if (note)
        note(note_ctx, "calibrating on the host");
    int r = host->run(host->ctx, cal, &out, err);
    struct mr_cpubench_line l;
    if (r == 0)
        r = mr_cpubench_parse(out.data ? out.data : "", &l, err);
    mr_buf_release(&out);
    if (r == 0 && !l.calibrate) {
        mr_err_set(err, "mrbench --calibrate printed no calibrate line");
        r = -EPROTO;
    }
    if (r < 0) {
        mr_err_prefix(err, "calibration");
        return r;
    }
    res.iterations = l.iterations;
    res.calibrated_s = l.seconds;
    res.host_s = mr_xcalloc(spec->repetitions, sizeof(double));
    res.guest_s = mr_xcalloc(spec->repetitions, sizeof(double));
    for (unsigned i = 0; i < spec->warmup + spec->repetitions; i++) {
        int warm = i < spec->warmup;
        unsigned k = warm ? 0 : i - spec->warmup;
        if (note) {
            _cleanup_free_ char *what =
                warm ? mr_xasprintf("warm-up pair %u of %u", i + 1, spec->warmup)
                     : mr_xasprintf("pair %u of %u", k + 1, spec->repetitions);
            note(note_ctx, what);
        }
        double h, g;
        if ((r = run_once(host, res.iterations, res.checksum, &h, err)) < 0 ||
            (r = run_once(guest, res.iterations, res.checksum, &g, err)) < 0)
            goto fail;
        if (!warm) {
            res.host_s[k] = h;
            res.guest_s[k] = g;
            res.n = k + 1;
        }
    }
    if ((r = mr_paired_stats(res.host_s, res.guest_s, res.n, seed, &res.st)) < 0) {
        mr_err_set(err, "the statistics of %zu pairs failed: %s", res.n, strerror(-r));
        goto fail;
    }
    *ret = res;
    return 0;
fail:
    mr_cpubench_result_release(&res);
    return r;
}

void mr_cpubench_result_release(struct mr_cpubench_result *r)
{
    free(r->host_s);
    free(r->guest_s);
    memset(r, 0, sizeof(*r));
}

int mr_cpubench_host_run(void *ctx, const char *args, struct mr_buf *out, struct mr_err *err)
{
    const char *prog = ctx;
    _cleanup_free_ char *copy = mr_xstrdup(args);
    char *argv[16] = { (char *)prog };
    size_t n = 1;
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t && n + 1 < MR_ARRAY_SIZE(argv);
         t = strtok_r(NULL, " ", &save))
        argv[n++] = t;
    struct mr_buf o;
    mr_buf_init(&o);
    int r = mr_spawn(argv, &o);
    if (r != 0) {
        mr_err_set(err, "'%s %s' %s: %.300s", prog, args,
                   r < 0 ? "could not run" : "failed", o.data ? o.data : strerror(-r));
        mr_buf_release(&o);
        return r < 0 ? r : -EIO;
    }
    mr_buf_add(out, o.data ? o.data : "", o.len);
    mr_buf_release(&o);
    return 0;
}

char *mr_cpubench_program_in(const char *dir, int from_env, int windows, struct mr_err *err)
{
    const char *name = windows ? "mrbench.exe" : "mrbench";
    char *p = mr_xasprintf("%s/%s", dir, name);
    /* A build tree keeps the Windows build in a folder of its own (runner/mrbench). */
    if (windows && access(p, R_OK) < 0) {
        char *alt = mr_xasprintf("%s/windows/%s", dir, name);
        if (access(alt, R_OK) == 0) {
            free(p);
            return alt;
        }
        free(alt);
    }
    /* An installed matrixrun keeps it in libexec (CMakeLists.txt's install rules). */
    if (access(p, R_OK) < 0 && !from_env) {
        char *alt = mr_xasprintf("%s/../libexec/matrixrun/%s", dir, name);
        if (access(alt, R_OK) == 0) {
            free(p);
            return alt;
        }
        free(alt);
    }
    if (access(p, R_OK) < 0) {
        mr_err_set(err, "the benchmark program '%s' is missing (%s)%s", p, strerror(errno),
                   windows ? ": it is built when x86_64-w64-mingw32-gcc is installed "
                             "(package gcc-mingw-w64-x86-64)"
                           : "");
        free(p);
        return NULL;
    }
    return p;
}

char *mr_cpubench_program(int windows, struct mr_err *err)
{
    const char *env = getenv("MATRIXRUN_MRBENCH");
    if (env && env[0]) {
        _cleanup_free_ char *dir = mr_path_dirname(env);
        return mr_cpubench_program_in(dir, 1, windows, err);
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n < 0) {
        mr_err_set(err, "cannot find matrixrun's own folder: %s", strerror(errno));
        return NULL;
    }
    self[n] = '\0';
    _cleanup_free_ char *dir = mr_path_dirname(self);
    return mr_cpubench_program_in(dir, 0, windows, err);
}

int mr_cpubench_noisy(const struct mr_paired_stats *st, double max_interval_pct)
{
    if (!(st->ratio_median > 0))
        return 1;
    return (st->ratio_hi - st->ratio_lo) / st->ratio_median * 100.0 > max_interval_pct;
}
