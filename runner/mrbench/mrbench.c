/* mrbench.c: a deterministic single-threaded CPU benchmark (integer and floating-point
 * work) that times repetitions of a fixed iteration count and prints one line each.
 *
 * It is copied into guests and run there and on the host, so it is standalone: libc
 * only, linked statically, one source file for Linux and (with mingw-w64) Windows.
 *
 * The checksum of the work depends only on the iteration count: the integer part is
 * exact by nature, and the floating-point part uses only + - * / and sqrt on double,
 * which IEEE 754 rounds exactly the same on every x86_64 (SSE2, no x87, no FMA
 * contraction: the build passes -ffp-contract=off, and -fno-math-errno keeps sqrt the
 * sqrtsd instruction instead of a libm call). A guest, an emulator or a miscompiled
 * build that computes anything else prints a different checksum. */
#if defined(_WIN32)
#define __USE_MINGW_ANSI_STDIO 1 /* C99 printf (%llu, %.6f) instead of msvcrt's */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#define _GNU_SOURCE /* sched_setaffinity, sched_getcpu */
#include <sched.h>
#include <time.h>
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MRBENCH_VERSION 1

/* 16384 x 8 bytes = 128 KiB: inside the L2 cache of any x86_64 of the last 15 years, so
 * the integer part measures the core and its L1/L2, not DRAM (which a guest shares with
 * its neighbours far more than the core). */
#define TABLE_BITS 14
#define TABLE_SIZE ((size_t)1 << TABLE_BITS)

#define SECONDS_MIN 0.01
#define SECONDS_MAX 600.0
#define SECONDS_DEFAULT 2.0
/* About 7 ns per iteration on this project's host: 2^50 would take three months. */
#define ITERATIONS_MAX ((unsigned long long)1 << 50)
#define REPETITIONS_MAX 100000UL

struct options {
    double seconds;
    unsigned long long iterations; /* 0: calibrate */
    unsigned long repetitions;
    long cpu; /* -1: not pinned */
    int calibrate;
};

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64: fills the table from a fixed seed, so every run starts from the same state. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Writes every element, which also faults in every page before anything is timed. */
static void table_fill(uint64_t *table)
{
    uint64_t s = 0x6d7262656e636831ULL; /* "mrbench1" */
    for (size_t i = 0; i < TABLE_SIZE; i++)
        table[i] = splitmix64(&s);
}

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

/* The timed work: n iterations of two independent dependency chains, so an out-of-order
 * core runs both at once, like real code does.
 * - integer: an LCG picks a table slot; the slot is mixed (xor, multiply, shift) with the
 *   running hash and written back, so every iteration reads what earlier ones wrote;
 * - floating point: a harmonic oscillator integrated with symplectic Euler steps (stays
 *   bounded for any n), with a sqrt and a division per step feeding an
 *   accumulator.
 * Every 1024 iterations the oscillator's state is folded into the hash by its bit pattern,
 * and at the end all of it is, so a single different rounding anywhere changes the
 * checksum. noinline keeps the work a single call between the two clock reads. */
__attribute__((noinline)) static uint64_t work(uint64_t *table, unsigned long long n)
{
    uint64_t lcg = 0x853c49e6748fea9bULL;
    uint64_t h = 0xcbf29ce484222325ULL;
    double x = 1.0, v = 0.0, acc = 0.0;
    const double dt = 0.001, k_dt = 0.25 * 0.001; /* k = 0.25: |k| dt^2 << 4, stable */

    for (unsigned long long i = 0; i < n; i++) {
        lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t slot = (size_t)(lcg >> (64 - TABLE_BITS));
        uint64_t t = table[slot] ^ h;
        t *= 0xff51afd7ed558ccdULL;
        t ^= t >> 33;
        table[slot] = t;
        h = rotl64(h ^ t, 27) * 0x9e3779b97f4a7c15ULL + i;

        v -= x * k_dt;
        x += v * dt;
        double r = sqrt(x * x + v * v + 1.0);
        acc += r / (acc + 1.0);
        if ((i & 1023) == 1023)
            h ^= double_bits(acc) ^ rotl64(double_bits(x), 13) ^ rotl64(double_bits(v), 41);
    }
    /* Fold the whole table in too: a wrong store that no later load read still counts. */
    uint64_t sum = 0;
    for (size_t i = 0; i < TABLE_SIZE; i++)
        sum = rotl64(sum, 7) ^ table[i];
    h ^= rotl64(sum, 32);
    h ^= double_bits(acc) ^ rotl64(double_bits(x), 13) ^ rotl64(double_bits(v), 41);
    return splitmix64(&h); /* final avalanche */
}

#if defined(_WIN32)
static double clock_now(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart / (double)freq.QuadPart;
}

static long current_cpu(void)
{
    return (long)GetCurrentProcessorNumber();
}

static int pin_cpu(long cpu, char *why, size_t why_len)
{
    if (cpu >= 64) {
        snprintf(why, why_len, "a thread affinity mask holds CPUs 0 to 63 only");
        return -1;
    }
    if (SetThreadAffinityMask(GetCurrentThread(), (DWORD_PTR)1 << cpu) == 0) {
        snprintf(why, why_len, "SetThreadAffinityMask failed with error %lu",
                 (unsigned long)GetLastError());
        return -1;
    }
    return 0;
}
#else
static double clock_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long current_cpu(void)
{
    int c = sched_getcpu();
    return c < 0 ? -1 : c;
}

static int pin_cpu(long cpu, char *why, size_t why_len)
{
    if (cpu >= CPU_SETSIZE) {
        snprintf(why, why_len, "CPU numbers go up to %d", CPU_SETSIZE - 1);
        return -1;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0) {
        snprintf(why, why_len, "sched_setaffinity: %s", strerror(errno));
        return -1;
    }
    return 0;
}
#endif

struct result {
    double seconds;
    uint64_t checksum;
};

/* One repetition: reset and pre-fault the table, then time only the work. */
static struct result run_once(uint64_t *table, unsigned long long n)
{
    struct result r;
    table_fill(table);
    __asm__ __volatile__("" ::: "memory");
    double t0 = clock_now();
    __asm__ __volatile__("" ::: "memory");
    r.checksum = work(table, n);
    __asm__ __volatile__("" ::: "memory");
    double t1 = clock_now();
    r.seconds = t1 - t0;
    return r;
}

/* Finds n so that one run takes about `seconds`: doubles (or more, when a run was far too
 * short) from a small count until a pilot run lasts long enough to measure well, then
 * scales linearly. The pilot is a quarter of the target, at most 0.25 s: long against the
 * clock's resolution and a scheduler tick, short against the run itself. */
static unsigned long long calibrate(uint64_t *table, double seconds)
{
    double pilot = seconds / 4 < 0.25 ? seconds / 4 : 0.25;
    unsigned long long n = 1024;
    for (;;) {
        double t = run_once(table, n).seconds;
        if (t >= pilot || n >= ITERATIONS_MAX) {
            double scaled = (double)n * (seconds / (t > 0 ? t : 1e-9));
            if (scaled < 1)
                return 1;
            if (scaled > (double)ITERATIONS_MAX)
                return ITERATIONS_MAX;
            return (unsigned long long)(scaled + 0.5);
        }
        double factor = t > 0 ? pilot / t : 16;
        factor = factor < 2 ? 2 : factor > 16 ? 16 : factor;
        double next = (double)n * factor;
        n = next > (double)ITERATIONS_MAX ? ITERATIONS_MAX : (unsigned long long)next;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: mrbench [--seconds S | --iterations N] [--repetitions R] [--cpu K] [--calibrate]\n"
            "\n"
            "Times R repetitions of N iterations of deterministic integer and floating-point\n"
            "work and prints one line per repetition:\n"
            "  mrbench version=%d rep=I iterations=N seconds=T checksum=HHHHHHHHHHHHHHHH cpu=C\n"
            "The checksum depends only on N: a different one means the work computed\n"
            "something else.\n"
            "\n"
            "  --seconds S      calibrate N so one repetition takes about S seconds\n"
            "                   (default %g, from %g to %g, decimals allowed)\n"
            "  --iterations N   run exactly N iterations (1 to %llu), no calibration\n"
            "  --repetitions R  repetitions (default 1, at most %lu)\n"
            "  --cpu K          pin to CPU K first (C is -1 when the CPU is unknown)\n"
            "  --calibrate      only calibrate and print\n"
            "                   mrbench version=%d calibrate iterations=N seconds=T\n"
            "  --help           this text\n"
            "\n"
            "Exit codes: 0 success, 2 bad usage or the CPU could not be pinned.\n",
            MRBENCH_VERSION, SECONDS_DEFAULT, SECONDS_MIN, SECONDS_MAX, ITERATIONS_MAX,
            REPETITIONS_MAX, MRBENCH_VERSION);
}

static int bad_value(const char *opt, const char *value, const char *what)
{
    fprintf(stderr, "mrbench: %s '%s' is not %s\n", opt, value, what);
    return -1;
}

/* Digits only: no sign, no blanks, no hex, no exponent; strtoull alone accepts all of
 * those and wraps "-1" round to a huge number. */
static int parse_count(const char *opt, const char *s, unsigned long long min,
                       unsigned long long max, const char *what, unsigned long long *ret)
{
    if (*s == '\0' || strspn(s, "0123456789") != strlen(s) || strlen(s) > 19)
        return bad_value(opt, s, what);
    unsigned long long n = strtoull(s, NULL, 10);
    if (n < min || n > max)
        return bad_value(opt, s, what);
    *ret = n;
    return 0;
}

/* A plain decimal (digits with at most one point), so "inf", "nan", "0x1p-3" and "1e2"
 * are refused; strtod in the C locale reads what is left. */
static int parse_seconds(const char *opt, const char *s, double *ret)
{
    static const char what[] = "a number of seconds from 0.01 to 600";
    size_t digits = strspn(s, "0123456789.");
    const char *dot = strchr(s, '.');
    if (*s == '\0' || digits != strlen(s) || (dot && strchr(dot + 1, '.')) ||
        strspn(s, ".") == strlen(s) || strlen(s) > 32)
        return bad_value(opt, s, what);
    double d = strtod(s, NULL);
    if (!(d >= SECONDS_MIN && d <= SECONDS_MAX))
        return bad_value(opt, s, what);
    *ret = d;
    return 0;
}

/* Returns 0 to run, 1 after --help, -1 on bad usage (message printed). */
static int parse_args(int argc, char **argv, struct options *o)
{
    int have_seconds = 0, have_iterations = 0, have_repetitions = 0, have_cpu = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *value = NULL;
        char name[32];
        /* --opt=value and --opt value alike. */
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
        if (name_len >= sizeof(name)) {
            fprintf(stderr, "mrbench: unknown option '%s'; try 'mrbench --help'\n", a);
            return -1;
        }
        memcpy(name, a, name_len);
        name[name_len] = '\0';
        if (eq)
            value = eq + 1;
        int takes_value = !strcmp(name, "--seconds") || !strcmp(name, "--iterations") ||
                          !strcmp(name, "--repetitions") || !strcmp(name, "--cpu");
        if (!strcmp(name, "--help") && !value) {
            usage(stdout);
            return 1;
        }
        if (!strcmp(name, "--calibrate") && !value) {
            o->calibrate = 1;
            continue;
        }
        if (!takes_value) {
            fprintf(stderr, "mrbench: unknown option '%s'; try 'mrbench --help'\n", a);
            return -1;
        }
        if (!value) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mrbench: %s needs a value\n", name);
                return -1;
            }
            value = argv[++i];
        }
        int *seen = !strcmp(name, "--seconds")       ? &have_seconds
                    : !strcmp(name, "--iterations")  ? &have_iterations
                    : !strcmp(name, "--repetitions") ? &have_repetitions
                                                     : &have_cpu;
        if (*seen) {
            fprintf(stderr, "mrbench: %s given twice\n", name);
            return -1;
        }
        *seen = 1;
        unsigned long long n;
        if (!strcmp(name, "--seconds")) {
            if (parse_seconds(name, value, &o->seconds) < 0)
                return -1;
        } else if (!strcmp(name, "--iterations")) {
            if (parse_count(name, value, 1, ITERATIONS_MAX,
                            "an iteration count from 1 to 1125899906842624", &n) < 0)
                return -1;
            o->iterations = n;
        } else if (!strcmp(name, "--repetitions")) {
            if (parse_count(name, value, 1, REPETITIONS_MAX,
                            "a repetition count from 1 to 100000", &n) < 0)
                return -1;
            o->repetitions = (unsigned long)n;
        } else {
            if (parse_count(name, value, 0, 1000000, "a CPU number", &n) < 0)
                return -1;
            o->cpu = (long)n;
        }
    }
    if (have_seconds && have_iterations) {
        fprintf(stderr, "mrbench: --seconds and --iterations exclude each other\n");
        return -1;
    }
    if (o->calibrate && (have_iterations || have_repetitions)) {
        fprintf(stderr, "mrbench: --calibrate takes --seconds and --cpu only\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct options o = { .seconds = SECONDS_DEFAULT, .repetitions = 1, .cpu = -1 };
    int r = parse_args(argc, argv, &o);
    if (r != 0)
        return r > 0 ? 0 : 2;
    if (o.cpu >= 0) {
        char why[160];
        if (pin_cpu(o.cpu, why, sizeof(why)) < 0) {
            fprintf(stderr, "mrbench: cannot pin to CPU %ld: %s\n", o.cpu, why);
            return 2;
        }
    }
    /* Windows' C runtime has no line buffering (_IOLBF means full): every line is
     * flushed by hand below as well. */
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);

    uint64_t *table = malloc(TABLE_SIZE * sizeof(*table));
    if (!table) {
        fprintf(stderr, "mrbench: out of memory\n");
        return 1;
    }
    table_fill(table);

    unsigned long long n = o.iterations ? o.iterations : calibrate(table, o.seconds);
    if (o.calibrate) {
        struct result res = run_once(table, n);
        printf("mrbench version=%d calibrate iterations=%llu seconds=%.6f\n", MRBENCH_VERSION, n,
               res.seconds);
        fflush(stdout);
    } else {
        for (unsigned long rep = 1; rep <= o.repetitions; rep++) {
            struct result res = run_once(table, n);
            printf("mrbench version=%d rep=%lu iterations=%llu seconds=%.6f checksum=%016llx cpu=%ld\n",
                   MRBENCH_VERSION, rep, n, res.seconds, (unsigned long long)res.checksum,
                   current_cpu());
            fflush(stdout);
        }
    }
    free(table);
    if (ferror(stdout) || fflush(stdout) != 0) {
        fprintf(stderr, "mrbench: cannot write output: %s\n", strerror(errno));
        return 1;
    }
    return 0;
}
