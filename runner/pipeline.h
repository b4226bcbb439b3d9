/* pipeline.h: runs every cell of a matrix through prepare, boot, install, test and
 * teardown, and collects the verdicts into a report. Library code: it prints nothing and
 * tells progress through a callback. */
#ifndef MR_PIPELINE_H
#define MR_PIPELINE_H

#include "junit.h"
#include "matrix.h"

/* Which cells' guests outlive the run (run --keep-failed, --keep). */
enum mr_keep {
    MR_KEEP_NONE,
    MR_KEEP_FAILED, /* cells with a failure or an error */
    MR_KEEP_ALL,
};
#define MR_DEFAULT_KEEP_FOR_S (4 * 3600)

/* What a progress call reports. */
enum mr_progress_kind {
    MR_PROGRESS_RUN,   /* run-wide news; cell is NULL */
    MR_PROGRESS_START, /* a cell was admitted and begins */
    MR_PROGRESS_STEP,  /* a cell entered a new step (msg names it) */
    MR_PROGRESS_NOTE,  /* a cell's news that is not a new step (a verdict, a warning) */
    MR_PROGRESS_END,   /* a cell ended (msg: its outcome and time) */
};

/* How cells' guests start (run --warm, --cold). */
enum mr_boot {
    MR_BOOT_IMAGE, /* as each image says (warm="yes"), cold by default */
    MR_BOOT_WARM,  /* every cell restored from its image's saved guest, where possible */
    MR_BOOT_COLD,  /* every cell booted from its disk */
};

struct mr_run_opts {
    const char *outdir;       /* report folder; created if missing */
    int accel;                /* enum mr_accel, or -1 for the matrix's */
    const char *uri;          /* libvirt URI, or NULL for the matrix's */
    const char *workdir_base; /* overlays and the run's key; NULL: $MATRIXRUN_WORKDIR or /var/tmp/matrixrun */
    /* The cells to run (borrowed), or NULL for all of the matrix's. */
    const struct mr_cell *const *cells;
    size_t n_cells;
    unsigned jobs;          /* most cells at once; 0: as many as the host's capacity holds */
    double overcommit_cpu;  /* vCPUs per host CPU the run may use; 0: MR_DEFAULT_OVERCOMMIT_CPU */
    double overcommit_mem;  /* share of the host's free memory; 0: MR_DEFAULT_OVERCOMMIT_MEM */
    int stagger_ms;         /* least time between two guest starts; <0: MR_DEFAULT_STAGGER_MS */
    enum mr_keep keep;      /* guests left running after the run (local hosts only) */
    int network;            /* 0: each image's network; else 1 + the enum mr_network
                               every cell gets (--network) */
    long keep_for_s;        /* how long kept guests stay before clean takes them */
    enum mr_boot boot;      /* --warm / --cold */
    /* Called on every state change of a cell, from the cell's own thread: it must be
     * thread-safe. cell is the cell's id, NULL for run-wide news. */
    void (*progress)(void *ud, enum mr_progress_kind kind, const char *cell, const char *msg);
    void *progress_ud;
};

#define MR_DEFAULT_OVERCOMMIT_CPU 1.0
#define MR_DEFAULT_OVERCOMMIT_MEM 1.0
#define MR_DEFAULT_STAGGER_MS 1000

struct mr_run_result {
    char *run_id;
    char *junit_path;
    struct mr_report *report;
    int interrupted; /* a signal ended the run early */
    /* Set when junit.xml was written but summary.html was not (a warning: the page is a
     * convenience and the run loses nothing without it). */
    struct mr_err html_warning;
};

void mr_run_result_release(struct mr_run_result *r);

/* Runs the matrix and writes <outdir>/junit.xml and summary.html (a page that cannot be
 * written leaves res->html_warning set). Returns 0 when the report was written (look at
 * its counts for the verdict), -EINVAL when the options are unusable before anything
 * booted, or another negative value when the report could not be written. */
int mr_pipeline_run(const struct mr_matrix *m, const struct mr_run_opts *o,
                    struct mr_run_result *res, struct mr_err *err) MR_WUR;

/* The test commands' exit code contract: 0 all passed, 1 a test failed, 3 a cell had an
 * infrastructure error. */
int mr_pipeline_exit_code(const struct mr_report *r);

#endif
