/* report_read.h: reads a JUnit report that matrixrun wrote back into a struct mr_report,
 * and the CPU benchmark figures a cell's suite carries.
 *
 * mr_report_read() hands the caller a report to free with mr_report_free(); the lookups
 * by name (mr_suite_prop and the others) are in report.h. */
#ifndef MR_REPORT_READ_H
#define MR_REPORT_READ_H

#include "report.h"
#include "util.h"

/* Files larger than this are refused before parsing (a report of 100 cells with 4 MiB
 * of output per stream stays far below it). */
#define MR_REPORT_MAX_BYTES (512u * 1024 * 1024)

/* Suites, properties and testcases a report may hold in all; a report with more is
 * refused. Each costs the readers memory and time, and a run's report has far fewer (a
 * cell has a few dozen). */
#define MR_REPORT_MAX_ITEMS (4u * 1024 * 1024)

/* Parses path (no network, no DTD: a DOCTYPE is refused, so no entity is ever expanded)
 * into suites with name, hostname, timestamp, time, properties and testcases (name,
 * classname, time, verdict, type, message; of the output only the ends of a failed or
 * errored case's system-out and system-err, struct mr_tail in report.h). The root must be
 * <testsuites> or a lone <testsuite>. The file streams through the parser: no document
 * tree is kept, and time and memory grow with the file's size. On failure returns
 * -errno or -EINVAL with err "FILE[:LINE]: what is wrong". */
int mr_report_read(const char *path, struct mr_report **ret, struct mr_err *err) MR_WUR;
/* mr_report_read() with other limits than MR_REPORT_MAX_ITEMS and MR_REPORT_MAX_BYTES
 * (tests use small ones). A run reads its own junit.xml back with no byte limit: of the
 * output only bounded tails are kept (MR_TAIL_MAX_TOTAL in all), so its size costs time
 * but not memory, and a run may have any number of cells. */
int mr_report_read_max(const char *path, size_t max_items, unsigned long long max_bytes,
                       struct mr_report **ret, struct mr_err *err) MR_WUR;

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
