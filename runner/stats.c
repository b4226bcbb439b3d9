/* stats.c: medians, spreads, a seeded percentile bootstrap of the median and the paired
 * host/guest ratio statistics of the CPU benchmark. */
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Midpoint that neither overflows for huge values nor moves off a when a == b. */
static double midpoint(double a, double b)
{
    double m = (a + b) / 2;
    return isfinite(m) ? m : a / 2 + b / 2;
}

static double *sorted_copy(const double *v, size_t n)
{
    double *s = mr_xmalloc(n * sizeof(*s));
    memcpy(s, v, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    return s;
}

double mr_median(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    _cleanup_free_ double *s = sorted_copy(v, n);
    return n % 2 ? s[n / 2] : midpoint(s[n / 2 - 1], s[n / 2]);
}

double mr_mean(const double *v, size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    return sum / (double)n;
}

double mr_stddev(const double *v, size_t n)
{
    if (n < 2)
        return 0;
    /* Two passes: summing squares of deviations from the mean keeps the precision that
     * sum(x^2) - n mean^2 loses when the spread is small against the mean, which is the
     * normal case for repeated timings. */
    double mean = mr_mean(v, n), ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (v[i] - mean) * (v[i] - mean);
    return sqrt(ss / (double)(n - 1));
}

double mr_cv(const double *v, size_t n)
{
    double mean = mr_mean(v, n);
    return mean == 0 ? 0 : mr_stddev(v, n) / mean;
}

double mr_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    if (!(p > 0))
        return sorted[0];
    if (p >= 1)
        return sorted[n - 1];
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)h;
    if (lo >= n - 1)
        return sorted[n - 1];
    double a = sorted[lo], b = sorted[lo + 1];
    double q = a + (h - (double)lo) * (b - a);
    /* Rounding must not carry the result outside its two neighbours. */
    return q < a ? a : q > b ? b : q;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void mr_stats_rng_seed(struct mr_stats_rng *rng, uint64_t seed)
{
    /* splitmix64 never yields four zero words in a row, the one state xoshiro must avoid. */
    for (size_t i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&seed);
}

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t mr_stats_rng_next(struct mr_stats_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t mr_stats_rng_below(struct mr_stats_rng *rng, uint64_t bound)
{
    /* Lemire, "Fast random integer generation in an interval" (2019): the high word of
     * x * bound is uniform once the low words below 2^64 mod bound are thrown away. */
    unsigned __int128 m = (unsigned __int128)mr_stats_rng_next(rng) * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            m = (unsigned __int128)mr_stats_rng_next(rng) * bound;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* The median of each resample without sorting it: resampling v is resampling indices
 * into v sorted, so counting how often each sorted index was drawn and walking the
 * counts finds the middle element(s) in O(n) per resample. */
static void bootstrap_medians(const double *sorted, size_t n, unsigned resamples,
                              uint64_t seed, double *out)
{
    _cleanup_free_ size_t *count = mr_xmalloc(n * sizeof(*count));
    struct mr_stats_rng rng;
    mr_stats_rng_seed(&rng, seed);
    size_t rank_lo = (n - 1) / 2, rank_hi = n / 2;
    for (unsigned r = 0; r < resamples; r++) {
        memset(count, 0, n * sizeof(*count));
        for (size_t j = 0; j < n; j++)
            count[mr_stats_rng_below(&rng, n)]++;
        size_t seen = 0;
        double lo = 0, hi = 0;
        int have_lo = 0;
        for (size_t i = 0; i < n; i++) {
            seen += count[i];
            if (!have_lo && seen > rank_lo) {
                lo = sorted[i];
                have_lo = 1;
            }
            if (seen > rank_hi) {
                hi = sorted[i];
                break;
            }
        }
        out[r] = rank_lo == rank_hi ? lo : midpoint(lo, hi);
    }
}

int mr_bootstrap_medians(const double *v, size_t n, unsigned resamples, uint64_t seed,
                         double *out)
{
    if (!v || !out || n < 1 || resamples < 1 || !all_finite(v, n))
        return -EINVAL;
    _cleanup_free_ double *sorted = sorted_copy(v, n);
    bootstrap_medians(sorted, n, resamples, seed, out);
    return 0;
}

int mr_bootstrap_median_ci(const double *v, size_t n, unsigned resamples, double level,
                           uint64_t seed, double *ret_lo, double *ret_hi)
{
    if (!v || !ret_lo || !ret_hi || n < 1 || resamples < 100 || !(level > 0 && level < 1) ||
        !all_finite(v, n))
        return -EINVAL;
    _cleanup_free_ double *medians = mr_xmalloc((size_t)resamples * sizeof(*medians));
    int r = mr_bootstrap_medians(v, n, resamples, seed, medians);
    if (r < 0)
        return r;
    qsort(medians, resamples, sizeof(*medians), cmp_double);
    *ret_lo = mr_percentile_sorted(medians, resamples, (1 - level) / 2);
    *ret_hi = mr_percentile_sorted(medians, resamples, (1 + level) / 2);
    return 0;
}

int mr_paired_stats(const double *host_s, const double *guest_s, size_t n, uint64_t seed,
                    struct mr_paired_stats *ret)
{
    if (!host_s || !guest_s || !ret || n < 2)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(host_s[i]) || !isfinite(guest_s[i]) || host_s[i] <= 0 || guest_s[i] <= 0)
            return -EINVAL;

    /* The ratio of each pair, not the ratio of the medians: a pair ran close together in
     * time, so a slow phase of the machine shows in both of its halves and cancels. */
    _cleanup_free_ double *ratio = mr_xmalloc(n * sizeof(*ratio));
    for (size_t i = 0; i < n; i++)
        ratio[i] = guest_s[i] / host_s[i];

    struct mr_paired_stats s = { .n = n };
    s.ratio_median = mr_median(ratio, n);
    int r = mr_bootstrap_median_ci(ratio, n, MR_PAIRED_RESAMPLES, MR_PAIRED_LEVEL, seed,
                                   &s.ratio_lo, &s.ratio_hi);
    if (r < 0)
        return r; /* a ratio of two huge or tiny values can still overflow to inf */
    s.overhead_pct = (s.ratio_median - 1) * 100;
    s.overhead_lo_pct = (s.ratio_lo - 1) * 100;
    s.overhead_hi_pct = (s.ratio_hi - 1) * 100;
    s.host_median = mr_median(host_s, n);
    s.guest_median = mr_median(guest_s, n);
    s.host_cv = mr_cv(host_s, n);
    s.guest_cv = mr_cv(guest_s, n);
    *ret = s;
    return 0;
}
