/* check_stats.c: the statistics module against hand-computed answers, published PRNG
 * vectors and the exact bootstrap distribution of tiny samples. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define EPS 1e-12

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_stats_median_of_odd_even_and_unsorted_sets)
{
    const double odd[] = { 3, 1, 2 };
    const double even[] = { 4, 1, 3, 2 };
    const double one[] = { 5 };
    const double dup[] = { -1, 10, 3, 3, 7 };
    const double two[] = { 1e308, 1.5e308 }; /* the midpoint must not overflow */
    ck_assert_double_eq(mr_median(odd, 3), 2);
    ck_assert_double_eq(mr_median(even, 4), 2.5);
    ck_assert_double_eq(mr_median(one, 1), 5);
    ck_assert_double_eq(mr_median(dup, 5), 3);
    ck_assert_double_eq(mr_median(two, 2), 1.25e308);
}
END_TEST

START_TEST(test_stats_median_leaves_input_unmodified)
{
    double v[] = { 9, -2, 7, 7, 0.5, 3, 11, -8 };
    double copy[MR_ARRAY_SIZE(v)];
    memcpy(copy, v, sizeof(v));
    ck_assert_double_eq(mr_median(v, MR_ARRAY_SIZE(v)), 5); /* (3 + 7) / 2 */
    ck_assert_mem_eq(v, copy, sizeof(v));
    double lo, hi;
    ck_assert_int_eq(mr_bootstrap_median_ci(v, MR_ARRAY_SIZE(v), 1000, 0.9, 1, &lo, &hi), 0);
    ck_assert_mem_eq(v, copy, sizeof(v));
}
END_TEST

START_TEST(test_stats_stddev_and_cv_of_hand_computed_set)
{
    /* Mean 5, squared deviations 9+1+1+1+0+0+4+16 = 32, sample variance 32/7. */
    const double v[] = { 2, 4, 4, 4, 5, 5, 7, 9 };
    ck_assert_double_eq(mr_mean(v, 8), 5);
    ck_assert_double_eq_tol(mr_stddev(v, 8), 2.1380899352993950, EPS);
    ck_assert_double_eq_tol(mr_cv(v, 8), 2.1380899352993950 / 5, EPS);
    /* Timings: a small spread on a large mean (the two-pass formula keeps it). */
    const double t[] = { 1000000.1, 1000000.2, 1000000.3 };
    ck_assert_double_eq_tol(mr_stddev(t, 3), 0.1, 1e-9);
}
END_TEST

START_TEST(test_stats_stddev_and_cv_edge_cases)
{
    const double one[] = { 42 };
    const double zero_mean[] = { -1, 1 };
    const double constant[] = { 3, 3, 3, 3 };
    ck_assert_double_eq(mr_stddev(one, 1), 0);
    ck_assert_double_eq(mr_cv(one, 1), 0);
    ck_assert_double_eq(mr_cv(zero_mean, 2), 0);
    ck_assert_double_eq(mr_stddev(constant, 4), 0);
    ck_assert_double_eq(mr_cv(constant, 4), 0);
}
END_TEST

START_TEST(test_stats_percentile_interpolates_linearly)
{
    const double s[] = { 10, 20, 30, 40 };
    ck_assert_double_eq(mr_percentile_sorted(s, 4, 0), 10);
    ck_assert_double_eq(mr_percentile_sorted(s, 4, 1), 40);
    ck_assert_double_eq(mr_percentile_sorted(s, 4, 0.5), 25);
    ck_assert_double_eq(mr_percentile_sorted(s, 4, 0.25), 17.5); /* h = 0.75 */
    ck_assert_double_eq(mr_percentile_sorted(s, 1, 0.3), 10);
}
END_TEST

START_TEST(test_stats_rng_matches_reference_vectors)
{
    /* xoshiro256** from state {1, 2, 3, 4}: the outputs of Vigna's reference C code. */
    static const uint64_t want[] = { 11520ULL, 0ULL, 1509978240ULL, 1215971899390074240ULL,
                                     1216172134540287360ULL, 607988272756665600ULL,
                                     16172922978634559625ULL, 8476171486693032832ULL,
                                     10595114339597558777ULL, 2904607092377533576ULL };
    struct mr_stats_rng rng = { { 1, 2, 3, 4 } };
    for (size_t i = 0; i < MR_ARRAY_SIZE(want); i++)
        ck_assert_uint_eq(mr_stats_rng_next(&rng), want[i]);
    /* Seeding is splitmix64 from the seed: its first outputs for seed 0. */
    mr_stats_rng_seed(&rng, 0);
    ck_assert_uint_eq(rng.s[0], 0xe220a8397b1dcdafULL);
    ck_assert_uint_eq(rng.s[1], 0x6e789e6aa1b965f4ULL);
    ck_assert_uint_eq(rng.s[2], 0x06c45d188009454fULL);
}
END_TEST

START_TEST(test_stats_rng_below_is_in_range_and_unbiased)
{
    struct mr_stats_rng rng;
    mr_stats_rng_seed(&rng, 7);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(mr_stats_rng_below(&rng, 1), 0);
    /* 60000 draws of 0..5: each count is Binomial(60000, 1/6), sd 91; allow 5 sd. */
    unsigned count[6] = { 0 };
    for (int i = 0; i < 60000; i++) {
        uint64_t x = mr_stats_rng_below(&rng, 6);
        ck_assert_uint_lt(x, 6);
        count[x]++;
    }
    for (int i = 0; i < 6; i++)
        ck_assert_msg(abs((int)count[i] - 10000) <= 457, "value %d drawn %u times", i, count[i]);
    /* bound = 3/4 of 2^64, where both usual shortcuts are badly biased: plain x % bound
     * folds the top quarter of the 64-bit values onto the lowest third of the results,
     * which then come half of the time; the multiply-shift without its rejection step
     * maps two 64-bit values onto every result divisible by 3 and one onto the others,
     * so those too come half of the time. Unbiased, both are 1/3 (sd 0.0047 over 10000
     * draws; 5 sd allowed). */
    const uint64_t bound = 0xc000000000000000ULL;
    unsigned low = 0, third = 0;
    for (int i = 0; i < 10000; i++) {
        uint64_t x = mr_stats_rng_below(&rng, bound);
        ck_assert_uint_lt(x, bound);
        low += x < bound / 3;
        third += x % 3 == 0;
    }
    ck_assert_msg(low >= 3097 && low <= 3570, "%u of 10000 draws in the lowest third", low);
    ck_assert_msg(third >= 3097 && third <= 3570, "%u of 10000 draws divisible by 3", third);
}
END_TEST

START_TEST(test_stats_bootstrap_of_constant_data_is_exactly_the_constant)
{
    const double c[] = { 1.2345, 1.2345, 1.2345, 1.2345, 1.2345, 1.2345, 1.2345 };
    double lo = 0, hi = 0;
    ck_assert_int_eq(mr_bootstrap_median_ci(c, 7, 10000, 0.95, 99, &lo, &hi), 0);
    ck_assert_double_eq(lo, 1.2345);
    ck_assert_double_eq(hi, 1.2345);
    ck_assert_int_eq(mr_bootstrap_median_ci(c, 6, 100, 0.5, 1, &lo, &hi), 0);
    ck_assert_double_eq(lo, 1.2345);
    ck_assert_double_eq(hi, 1.2345);
    ck_assert_int_eq(mr_bootstrap_median_ci(c, 1, 100, 0.99, 1, &lo, &hi), 0);
    ck_assert_double_eq(lo, 1.2345);
    ck_assert_double_eq(hi, 1.2345);
}
END_TEST

static void random_sample(uint64_t seed, double *v, size_t n)
{
    struct mr_stats_rng rng;
    mr_stats_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        v[i] = 1.0 + (double)(mr_stats_rng_next(&rng) >> 11) / 9007199254740992.0;
}

START_TEST(test_stats_bootstrap_is_deterministic_per_seed)
{
    double v[40];
    random_sample(3, v, 40);
    double lo1, hi1, lo2, hi2;
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 40, 2000, 0.95, 1, &lo1, &hi1), 0);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 40, 2000, 0.95, 1, &lo2, &hi2), 0);
    ck_assert_double_eq(lo1, lo2);
    ck_assert_double_eq(hi1, hi2);

    /* Another seed draws other resamples. The interval's ends are order statistics of a
     * distribution with few distinct values, so two seeds may share one; over eight seeds
     * they cannot all agree unless the seed is ignored. */
    static double a[2000], b[2000];
    ck_assert_int_eq(mr_bootstrap_medians(v, 40, 2000, 1, a), 0);
    ck_assert_int_eq(mr_bootstrap_medians(v, 40, 2000, 2, b), 0);
    ck_assert_int_ne(memcmp(a, b, sizeof(a)), 0);
    int differ = 0;
    for (uint64_t seed = 2; seed <= 8; seed++) {
        ck_assert_int_eq(mr_bootstrap_median_ci(v, 40, 2000, 0.95, seed, &lo2, &hi2), 0);
        differ |= lo2 != lo1 || hi2 != hi1;
    }
    ck_assert(differ);
}
END_TEST

START_TEST(test_stats_bootstrap_interval_holds_median_within_range)
{
    for (size_t n = 1; n <= 41; n++) {
        double v[41];
        random_sample(100 + n, v, n);
        double min = v[0], max = v[0];
        for (size_t i = 1; i < n; i++) {
            min = fmin(min, v[i]);
            max = fmax(max, v[i]);
        }
        double med = mr_median(v, n), lo, hi;
        ck_assert_int_eq(mr_bootstrap_median_ci(v, n, 2000, 0.95, n, &lo, &hi), 0);
        ck_assert_msg(min <= lo && lo <= med && med <= hi && hi <= max,
                      "n=%zu: [%g, %g] median %g range [%g, %g]", n, lo, hi, med, min, max);
        if (n >= 3)
            ck_assert_msg(lo < hi, "n=%zu: empty interval on distinct values", n);
    }
}
END_TEST

/* The exact bootstrap distribution of the median of v (n <= 4): all n^n resamples, each
 * of probability n^-n, their medians computed by sorting (not by the module's counting).
 * Returns the number of distinct medians, sorted ascending, with their probabilities. */
static size_t exact_distribution(const double *v, size_t n, double *value, double *prob)
{
    size_t total = 1, distinct = 0;
    for (size_t i = 0; i < n; i++)
        total *= n;
    for (size_t k = 0; k < total; k++) {
        double r[4];
        size_t code = k;
        for (size_t j = 0; j < n; j++, code /= n)
            r[j] = v[code % n];
        qsort(r, n, sizeof(*r), cmp_double);
        double med = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
        size_t d = 0;
        while (d < distinct && value[d] != med)
            d++;
        if (d == distinct) {
            value[distinct] = med;
            prob[distinct++] = 0;
        }
        prob[d] += 1.0 / (double)total;
    }
    /* Sort the (value, prob) pairs by value. */
    for (size_t i = 1; i < distinct; i++)
        for (size_t j = i; j > 0 && value[j - 1] > value[j]; j--) {
            double t = value[j];
            value[j] = value[j - 1];
            value[j - 1] = t;
            t = prob[j];
            prob[j] = prob[j - 1];
            prob[j - 1] = t;
        }
    return distinct;
}

#define EXACT_RESAMPLES 20000u

/* Each resample's median is an independent draw from the exact distribution, so the
 * count of medians equal to a value of probability p is Binomial(R, p): its frequency has
 * sd sqrt(p (1 - p) / R), at most 0.0035 for R = 20000. Five sd is the tolerance; the
 * seed is fixed, so the outcome is too, and a correct implementation passes it with
 * probability above 1 - 1e-5 for any seed. An interval end is compared exactly when its
 * percentile lies more than ten sd from every step of the exact CDF: then the sorted
 * medians around that rank are all the same value, the exact distribution's quantile. */
static void check_against_exact(const double *v, size_t n, const double *levels, size_t n_levels)
{
    double value[64], prob[64];
    size_t distinct = exact_distribution(v, n, value, prob);
    static double med[EXACT_RESAMPLES];
    ck_assert_int_eq(mr_bootstrap_medians(v, n, EXACT_RESAMPLES, 2024, med), 0);
    for (size_t d = 0; d < distinct; d++) {
        size_t hits = 0;
        for (size_t r = 0; r < EXACT_RESAMPLES; r++)
            hits += med[r] == value[d];
        double f = (double)hits / EXACT_RESAMPLES;
        double sd = sqrt(prob[d] * (1 - prob[d]) / EXACT_RESAMPLES);
        ck_assert_msg(fabs(f - prob[d]) <= 5 * sd, "n=%zu median %g: frequency %.4f, exact %.4f",
                      n, value[d], f, prob[d]);
    }
    /* No resample median outside the exact support. */
    for (size_t r = 0; r < EXACT_RESAMPLES; r++) {
        size_t d = 0;
        while (d < distinct && value[d] != med[r])
            d++;
        ck_assert_msg(d < distinct, "median %g is not a possible bootstrap median", med[r]);
    }
    for (size_t l = 0; l < n_levels; l++) {
        double ends[2] = { (1 - levels[l]) / 2, (1 + levels[l]) / 2 };
        double want[2];
        for (int e = 0; e < 2; e++) {
            /* The quantile is the first value whose cumulative probability passes p;
             * only the steps between two values matter (p is inside (0, 1)). */
            const double margin = 10 * sqrt(0.25 / EXACT_RESAMPLES);
            double cdf = 0;
            want[e] = NAN;
            for (size_t d = 0; d < distinct; d++) {
                cdf += prob[d];
                if (d + 1 < distinct)
                    ck_assert_msg(fabs(cdf - ends[e]) > margin,
                                  "level %g: p=%g is on a step of the CDF (%g)", levels[l],
                                  ends[e], cdf);
                if (isnan(want[e]) && cdf > ends[e])
                    want[e] = value[d];
            }
        }
        double lo, hi;
        ck_assert_int_eq(mr_bootstrap_median_ci(v, n, EXACT_RESAMPLES, levels[l], 2024, &lo, &hi), 0);
        ck_assert_msg(lo == want[0] && hi == want[1], "n=%zu level %g: [%g, %g], exact [%g, %g]",
                      n, levels[l], lo, hi, want[0], want[1]);
    }
}

START_TEST(test_stats_bootstrap_matches_exact_distribution_n3)
{
    /* 27 resamples: median = min with probability 7/27, middle 13/27, max 7/27. */
    const double v[] = { 4, 1, 2 };
    double value[64], prob[64];
    ck_assert_uint_eq(exact_distribution(v, 3, value, prob), 3);
    ck_assert_double_eq_tol(prob[0], 7.0 / 27, EPS);
    ck_assert_double_eq_tol(prob[1], 13.0 / 27, EPS);
    ck_assert_double_eq_tol(prob[2], 7.0 / 27, EPS);
    const double levels[] = { 0.95, 0.3, 0.4 };
    check_against_exact(v, 3, levels, MR_ARRAY_SIZE(levels));
    double lo, hi;
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, EXACT_RESAMPLES, 0.95, 2024, &lo, &hi), 0);
    ck_assert_double_eq(lo, 1);
    ck_assert_double_eq(hi, 4);
}
END_TEST

START_TEST(test_stats_bootstrap_matches_exact_distribution_n4)
{
    /* 256 resamples; even n, so medians are midpoints: ten distinct values, with CDF
     * steps at 13, 43, 80, 98, 152, 189, 195, 213 and 243 of 256. The levels put both
     * ends between steps: 0.98 -> [1, 8], 0.8 -> [1.5, 6], 0.1 -> [3, 3]. */
    const double v[] = { 8, 1, 4, 2 };
    const double levels[] = { 0.98, 0.8, 0.1 };
    check_against_exact(v, 4, levels, MR_ARRAY_SIZE(levels));
    double lo, hi;
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 4, EXACT_RESAMPLES, 0.8, 2024, &lo, &hi), 0);
    ck_assert_double_eq(lo, 1.5);
    ck_assert_double_eq(hi, 6);
}
END_TEST

START_TEST(test_stats_bootstrap_rejects_bad_arguments)
{
    const double v[] = { 1, 2, 3 };
    const double bad[] = { 1, NAN, 3 };
    double lo = -7, hi = -7;
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 0, 1000, 0.95, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, 99, 0.95, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, 1000, 0, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, 1000, 1, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, 1000, -0.5, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, 1000, NAN, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(bad, 3, 1000, 0.95, 1, &lo, &hi), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_median_ci(NULL, 3, 1000, 0.95, 1, &lo, &hi), -EINVAL);
    ck_assert_double_eq(lo, -7); /* untouched on failure */
    ck_assert_double_eq(hi, -7);
    ck_assert_int_eq(mr_bootstrap_median_ci(v, 3, 100, 0.95, 1, &lo, &hi), 0);
    double out[4];
    ck_assert_int_eq(mr_bootstrap_medians(v, 0, 4, 1, out), -EINVAL);
    ck_assert_int_eq(mr_bootstrap_medians(v, 3, 0, 1, out), -EINVAL);
}
END_TEST

START_TEST(test_stats_paired_guest_ten_times_host)
{
    /* Values with short mantissas, so 10 h and (10 h) / h are exact. */
    const double host[] = { 0.5, 1.5, 2.25, 1.0, 0.75 };
    double guest[5];
    for (size_t i = 0; i < 5; i++)
        guest[i] = 10 * host[i];
    struct mr_paired_stats s;
    ck_assert_int_eq(mr_paired_stats(host, guest, 5, 1, &s), 0);
    ck_assert_uint_eq(s.n, 5);
    ck_assert_double_eq(s.ratio_median, 10);
    ck_assert_double_eq(s.ratio_lo, 10);
    ck_assert_double_eq(s.ratio_hi, 10);
    ck_assert_double_eq(s.overhead_pct, 900);
    ck_assert_double_eq(s.overhead_lo_pct, 900);
    ck_assert_double_eq(s.overhead_hi_pct, 900);
    ck_assert_double_eq(s.host_median, 1.0);
    ck_assert_double_eq(s.guest_median, 10.0);
    ck_assert_double_eq_tol(s.host_cv, mr_cv(host, 5), EPS);
    ck_assert_double_eq_tol(s.guest_cv, s.host_cv, EPS); /* scaling keeps the cv */
    ck_assert(s.host_cv > 0.4 && s.host_cv < 0.6);
}
END_TEST

START_TEST(test_stats_paired_hand_computed_ratios)
{
    /* Ratios 1.1, 1.2, 1.3, 1.4: median 1.25, overhead 25 %; the guest's sd is
     * sqrt(0.05 / 3) = 0.1290994448735806 on a mean of 1.25. */
    const double host[] = { 1, 1, 1, 1 };
    const double guest[] = { 1.3, 1.1, 1.4, 1.2 };
    struct mr_paired_stats s;
    ck_assert_int_eq(mr_paired_stats(host, guest, 4, 42, &s), 0);
    ck_assert_double_eq_tol(s.ratio_median, 1.25, EPS);
    ck_assert_double_eq_tol(s.overhead_pct, 25, 1e-9);
    ck_assert(s.ratio_lo >= 1.1 && s.ratio_lo <= s.ratio_median);
    ck_assert(s.ratio_hi <= 1.4 && s.ratio_hi >= s.ratio_median);
    ck_assert_double_eq_tol(s.overhead_lo_pct, (s.ratio_lo - 1) * 100, EPS);
    ck_assert_double_eq_tol(s.overhead_hi_pct, (s.ratio_hi - 1) * 100, EPS);
    ck_assert_double_eq(s.host_cv, 0);
    ck_assert_double_eq_tol(s.guest_cv, 0.1290994448735806 / 1.25, EPS);
    ck_assert_double_eq_tol(s.guest_median, 1.25, EPS);
    /* Same seed, same figures. */
    struct mr_paired_stats t;
    ck_assert_int_eq(mr_paired_stats(host, guest, 4, 42, &t), 0);
    ck_assert_mem_eq(&s, &t, sizeof(s));
}
END_TEST

START_TEST(test_stats_paired_noise_shared_by_a_pair_cancels)
{
    /* The machine's speed swings tenfold between pairs but each pair's guest run is 1.5x
     * its host run: the per-pair ratio is exactly 1.5 every time, so is its interval,
     * while the host times alone vary widely. */
    const double host[] = { 1, 10, 2, 10, 1, 4 };
    const double guest[] = { 1.5, 15, 3, 15, 1.5, 6 };
    struct mr_paired_stats s;
    ck_assert_int_eq(mr_paired_stats(host, guest, 6, 5, &s), 0);
    ck_assert_double_eq(s.ratio_median, 1.5);
    ck_assert_double_eq(s.ratio_lo, 1.5);
    ck_assert_double_eq(s.ratio_hi, 1.5);
    ck_assert_double_eq(s.overhead_pct, 50);
    ck_assert_double_eq(s.host_median, 3);
    ck_assert(s.host_cv > 0.5);
}
END_TEST

START_TEST(test_stats_paired_rejects_bad_input)
{
    const double ok[] = { 1, 2, 3 };
    const double zero[] = { 1, 0, 3 };
    const double neg[] = { 1, -2, 3 };
    const double inf[] = { 1, INFINITY, 3 };
    const double nan[] = { 1, NAN, 3 };
    struct mr_paired_stats s;
    memset(&s, 0xa5, sizeof(s));
    struct mr_paired_stats before = s;
    ck_assert_int_eq(mr_paired_stats(ok, ok, 1, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(ok, ok, 0, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(zero, ok, 3, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(ok, zero, 3, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(ok, neg, 3, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(inf, ok, 3, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(ok, nan, 3, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(NULL, ok, 3, 1, &s), -EINVAL);
    ck_assert_int_eq(mr_paired_stats(ok, ok, 3, 1, NULL), -EINVAL);
    ck_assert_mem_eq(&s, &before, sizeof(s)); /* untouched on failure */
    ck_assert_int_eq(mr_paired_stats(ok, ok, 2, 1, &s), 0);
    ck_assert_double_eq(s.ratio_median, 1);
    ck_assert_double_eq(s.overhead_pct, 0);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("descriptive");
    tcase_add_test(tc, test_stats_median_of_odd_even_and_unsorted_sets);
    tcase_add_test(tc, test_stats_median_leaves_input_unmodified);
    tcase_add_test(tc, test_stats_stddev_and_cv_of_hand_computed_set);
    tcase_add_test(tc, test_stats_stddev_and_cv_edge_cases);
    tcase_add_test(tc, test_stats_percentile_interpolates_linearly);
    suite_add_tcase(s, tc);

    tc = tcase_create("rng");
    tcase_add_test(tc, test_stats_rng_matches_reference_vectors);
    tcase_add_test(tc, test_stats_rng_below_is_in_range_and_unbiased);
    suite_add_tcase(s, tc);

    tc = tcase_create("bootstrap");
    tcase_set_timeout(tc, 60); /* tens of thousands of resamples, slower under ASan */
    tcase_add_test(tc, test_stats_bootstrap_of_constant_data_is_exactly_the_constant);
    tcase_add_test(tc, test_stats_bootstrap_is_deterministic_per_seed);
    tcase_add_test(tc, test_stats_bootstrap_interval_holds_median_within_range);
    tcase_add_test(tc, test_stats_bootstrap_matches_exact_distribution_n3);
    tcase_add_test(tc, test_stats_bootstrap_matches_exact_distribution_n4);
    tcase_add_test(tc, test_stats_bootstrap_rejects_bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("paired");
    tcase_add_test(tc, test_stats_paired_guest_ten_times_host);
    tcase_add_test(tc, test_stats_paired_hand_computed_ratios);
    tcase_add_test(tc, test_stats_paired_noise_shared_by_a_pair_cancels);
    tcase_add_test(tc, test_stats_paired_rejects_bad_input);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
