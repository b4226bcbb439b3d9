/* report_read.h: reads a JUnit report that matrixrun wrote back into a struct mr_report,
 * and the CPU benchmark figures a cell's suite carries.
 *
 * mr_report_read() hands the caller a report to free with mr_report_free(); the strings
 * mr_suite_prop() returns are borrowed from the suite. */
#ifndef MR_REPORT_READ_H
#define MR_REPORT_READ_H

#include "junit.h"
#include "util.h"

/* Files larger than this are refused before parsing (a report of 100 cells with 4 MiB
 * of output per stream stays far below it). */
#define MR_REPORT_MAX_BYTES (512u * 1024 * 1024)

/* Parses path (no network, no DTD: a DOCTYPE is refused, so no entity is ever expanded)
 * into suites with name, hostname, timestamp, time, properties and testcases (name,
 * classname, time, verdict, type, message; output is not kept). The root must be
 * <testsuites> or a lone <testsuite>. On failure returns -errno or -EINVAL with err
 * "FILE[:LINE]: what is wrong". */
int mr_report_read(const char *path, struct mr_report **ret, struct mr_err *err) MR_WUR;

/* A property's value, or NULL when the suite has none of that name. */
const char *mr_suite_prop(const struct mr_suite *s, const char *name);
/* The suite's testcase of that name, or NULL. */
const struct mr_case *mr_suite_case(const struct mr_suite *s, const char *name);

/* The distinct non-empty values of a property over the report's suites, in suite order
 * ("host" falls back to a suite's hostname attribute). Returns their number and a
 * malloc'd array of strings borrowed from the suites (free the array only). */
size_t mr_report_distinct_prop(const struct mr_report *r, const char *name,
                               const char ***ret);

/* Whether a report looks like matrixrun's: at least one suite carries a run.id. */
int mr_report_is_matrixrun(const struct mr_report *r);

enum mr_bench_state {
    MR_BENCH_NONE,    /* no benchmark.cpu testcase and no overhead property */
    MR_BENCH_NODATA,  /* a benchmark.cpu testcase (error, skipped) without figures */
    MR_BENCH_INVALID, /* figures that are not numbers, or an interval that does not hold
                         its median, or an overhead outside (-100, 1e6) % */
    MR_BENCH_OK,
};

/* A cell's CPU overhead: (guest/host time ratio - 1) x 100, its 95% interval, and the
 * benchmark.cpu testcase's verdict (MR_VERDICT_PASS when there is no testcase). */
struct mr_bench {
    enum mr_bench_state state;
    double overhead, low, high; /* percent; valid when state is MR_BENCH_OK */
    int noisy;                  /* benchmark.cpu.noisy is "yes" */
    enum mr_verdict verdict;
    const char *message;        /* the testcase's message or NULL; borrowed */
    const char *why;            /* for MR_BENCH_INVALID: which property is wrong; borrowed
                                   from static text or the suite */
};
void mr_bench_from_suite(const struct mr_suite *s, struct mr_bench *ret);

/* Parses a whole decimal number as the C locale writes it ("912.34", "-3.5", "1e3"):
 * nothing before or after it, finite. 0 or -EINVAL. */
int mr_parse_double(const char *s, double *ret) MR_WUR;

#endif
