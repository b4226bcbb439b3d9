/* stats.h: descriptive statistics, a percentile bootstrap of the median and the paired
 * host/guest comparison that the CPU benchmark reports.
 *
 * Ownership: nothing here keeps or frees the caller's arrays; inputs are never modified.
 *
 * Percentiles are linear interpolation between closest ranks (Hyndman and Fan's type 7,
 * R's default, numpy's "linear"): for sorted x[0..n-1] and p in [0,1], h = (n-1) p and
 * the percentile is x[floor h] + (h - floor h) (x[floor h + 1] - x[floor h]). Of a
 * constant sample it is exactly that constant, and it always lies within [min, max].
 *
 * Randomness is xoshiro256** seeded through splitmix64 (Vigna's reference algorithms),
 * so a seed gives the same numbers on every machine. */
#ifndef MR_STATS_H
#define MR_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Median of n values (n >= 1); v is not modified. */
double mr_median(const double *v, size_t n);
double mr_mean(const double *v, size_t n);
/* Sample standard deviation (n-1); 0 when n < 2. */
double mr_stddev(const double *v, size_t n);
/* Coefficient of variation = stddev / mean (0 when mean is 0). */
double mr_cv(const double *v, size_t n);

/* The percentile p (0 <= p <= 1) of n >= 1 values already sorted ascending (type 7, see
 * above). */
double mr_percentile_sorted(const double *sorted, size_t n, double p);

/* Percentile bootstrap confidence interval of the median: `resamples` resamples with
 * replacement drawn with a PRNG seeded by `seed` (deterministic), interval at `level`
 * (e.g. 0.95). Returns 0, or -EINVAL for n < 1, resamples < 100, level outside (0,1)
 * (and, beyond the original interface, for a NULL pointer or a value that is not
 * finite). ret_lo and ret_hi are written on success only. */
int mr_bootstrap_median_ci(const double *v, size_t n, unsigned resamples, double level,
                           uint64_t seed, double *ret_lo, double *ret_hi) MR_WUR;

/* The bootstrap distribution itself: fills out[0..resamples-1] with the medians of
 * `resamples` resamples, in the order drawn, exactly the ones mr_bootstrap_median_ci()
 * takes its interval from for the same v, n and seed. Returns 0, or -EINVAL for n < 1,
 * resamples < 1, a NULL pointer or a value that is not finite. */
int mr_bootstrap_medians(const double *v, size_t n, unsigned resamples, uint64_t seed,
                         double *out) MR_WUR;

struct mr_paired_stats {
    size_t n;
    double ratio_median, ratio_lo, ratio_hi;      /* guest time / host time per pair */
    double overhead_pct, overhead_lo_pct, overhead_hi_pct; /* (ratio - 1) * 100 */
    double host_median, guest_median;             /* seconds */
    double host_cv, guest_cv;                     /* fractions, e.g. 0.012 */
};

/* Resamples drawn and level of mr_paired_stats()'s interval. */
#define MR_PAIRED_RESAMPLES 10000u
#define MR_PAIRED_LEVEL 0.95

/* Pairs i = (host_s[i], guest_s[i]); ratio_i = guest_s[i] / host_s[i]; median ratio and
 * its 95% bootstrap interval (10000 resamples, given seed). -EINVAL on n < 2 or any
 * value <= 0 or not finite. *ret is written on success only. */
int mr_paired_stats(const double *host_s, const double *guest_s, size_t n, uint64_t seed,
                    struct mr_paired_stats *ret) MR_WUR;

/* The PRNG, exposed for tests and for anything else that needs reproducible draws. */
struct mr_stats_rng {
    uint64_t s[4];
};
/* Seeds the four state words from splitmix64(seed), as the xoshiro authors advise. */
void mr_stats_rng_seed(struct mr_stats_rng *rng, uint64_t seed);
/* Next 64-bit xoshiro256** output. */
uint64_t mr_stats_rng_next(struct mr_stats_rng *rng);
/* Uniform in [0, bound) for bound >= 1, without modulo bias (Lemire's multiply-shift with
 * rejection). */
uint64_t mr_stats_rng_below(struct mr_stats_rng *rng, uint64_t bound);

#endif
