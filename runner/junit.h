/* junit.h: a run's results (report.h) as JUnit XML that the Jenkins schema accepts.
 *
 * The report's text may be any bytes: it is cleaned when rendered (mr_xml_clean). The
 * returned strings belong to the caller. Includes report.h, so users of the model may
 * include either. */
#ifndef MR_JUNIT_H
#define MR_JUNIT_H

#include <stddef.h>

#include "report.h"
#include "util.h"

/* Returns text that XML 1.0 accepts: valid UTF-8 is kept, each invalid byte becomes
 * U+FFFD, and each character XML forbids (C0 controls but tab, LF, CR; U+FFFE, U+FFFF)
 * becomes a visible escape such as "\x1b". Caller frees. */
char *mr_xml_clean(const char *data, size_t len);

/* The most bytes of one system-out or system-err junit.xml holds, as cleaned text: past
 * it, a note says how much was left out. */
#define MR_JUNIT_TEXT_MAX (8u * 1000 * 1000)

/* Renders the report (caller frees). */
char *mr_junit_render(const struct mr_report *r, size_t *ret_len);
/* Renders and writes atomically (temp file + rename): readers see the old file or the
 * new one, never half of one. */
int mr_junit_write(const struct mr_report *r, const char *path, struct mr_err *err) MR_WUR;

#endif
