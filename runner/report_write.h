/* report_write.h: the files a run leaves in its report folder: junit.xml, and
 * summary.html made from it.
 *
 * The junit.xml path handed back belongs to the caller; warn and err own their
 * messages. */
#ifndef MR_REPORT_WRITE_H
#define MR_REPORT_WRITE_H

#include "report.h"
#include "util.h"

#define MR_REPORT_JUNIT_FILE "junit.xml"   /* the run's results, for CI and compare */
#define MR_REPORT_HTML_FILE "summary.html" /* the page `matrixrun html` makes of them */

/* Writes outdir/junit.xml (mr_junit_write), then outdir/summary.html from that file read
 * back, as `matrixrun html` makes it (mr_html_write). The page is a convenience: without
 * it the run's results are whole all the same. Returns
 *   0 when both were written;
 *   1 when junit.xml was written but summary.html was not: warn says why, for the
 *     caller to show as a warning, not as a failed run;
 *   negative with err when junit.xml could not be written (no page is tried then).
 * When it returns 0 or 1 and ret_junit_path is not NULL, *ret_junit_path is junit.xml's
 * path. */
int mr_report_write_outputs(const struct mr_report *r, const char *outdir,
                            char **ret_junit_path, struct mr_err *warn,
                            struct mr_err *err) MR_WUR;

#endif
