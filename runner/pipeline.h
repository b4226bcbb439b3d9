/* pipeline.h: runs every cell of a matrix through prepare, boot, install, test and
 * teardown, and collects the verdicts into a report. Library code: it prints nothing and
 * tells progress through a callback. */
#ifndef MR_PIPELINE_H
#define MR_PIPELINE_H

#include "junit.h"
#include "matrix.h"

struct mr_run_opts {
    const char *outdir;       /* report folder; created if missing */
    int accel;                /* enum mr_accel, or -1 for the matrix's */
    const char *uri;          /* libvirt URI, or NULL for the matrix's */
    const char *workdir_base; /* overlays and the run's key; NULL: $MATRIXRUN_WORKDIR or /var/tmp/matrixrun */
    /* Called on every state change of a cell (cell NULL for run-wide news). */
    void (*progress)(void *ud, const char *cell, const char *msg);
    void *progress_ud;
};

struct mr_run_result {
    char *run_id;
    char *junit_path;
    struct mr_report *report;
    int interrupted; /* a signal ended the run early */
};

void mr_run_result_release(struct mr_run_result *r);

/* Runs the matrix and writes <outdir>/junit.xml. Returns 0 when the report was written
 * (look at its counts for the verdict), -EINVAL when the options are unusable before
 * anything booted, or another negative value when the report could not be written. */
int mr_pipeline_run(const struct mr_matrix *m, const struct mr_run_opts *o,
                    struct mr_run_result *res, struct mr_err *err) MR_WUR;

/* The test commands' exit code contract: 0 all passed, 1 a test failed, 3 a cell had an
 * infrastructure error. */
int mr_pipeline_exit_code(const struct mr_report *r);

#endif
