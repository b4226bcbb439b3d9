/* compare.h: the CPU overhead of each cell across several runs' reports, as a table.
 *
 * mr_compare_new() borrows the reports (they must outlive the struct mr_compare, which
 * mr_compare_free() frees); mr_compare_render() returns text the caller frees. */
#ifndef MR_COMPARE_H
#define MR_COMPARE_H

#include <stddef.h>

#include "report_read.h"

/* One run's figure for one cell. */
struct mr_compare_entry {
    int present;          /* the run has a suite of that name */
    struct mr_bench bench;
};

/* One cell (suite name) over every run, in the order cells first appear. */
struct mr_compare_row {
    char *cell;
    char *image;  /* from the last run that has the cell; "-" when none says */
    char *kernel; /* guest.kernel, "a -> b" when runs differ */
    struct mr_compare_entry *runs; /* n_runs entries */
};

/* What a run ran on, each the distinct values of its suites joined by ",". */
struct mr_compare_run {
    const char *label;    /* borrowed: the report's path */
    char *run_id;
    char *accel;
    char *hosts;
    char *host_kernels;
};

struct mr_compare {
    size_t n_runs;
    struct mr_compare_run *runs;
    struct mr_compare_row *rows;
    size_t n_rows;
    char **warnings; /* one line each: runs on different accelerators, hosts, kernels */
    size_t n_warnings;
};

/* labels[i] names reps[i] (its path) in the header. */
struct mr_compare *mr_compare_new(const struct mr_report *const *reps, const char *const *labels,
                                  size_t n);
void mr_compare_free(struct mr_compare *c);

/* Whether [l1, h1] and [l2, h2] share a point (touching ends overlap). */
int mr_interval_overlap(double l1, double h1, double l2, double h2);

/* The change from run i-1 to run i of a row (i >= 1): returns 1 and the change in
 * percentage points when both runs have figures, else 0; *ret_marked is 1 when the two
 * 95% intervals do not overlap. */
int mr_compare_change(const struct mr_compare_row *row, size_t i, double *ret_pp,
                      int *ret_marked);

/* The runs' lines, warnings, the table (columns as wide as their content) and its
 * legend. */
char *mr_compare_render(const struct mr_compare *c);

#endif
