/* html.h: a run's report as one self-contained HTML page: the run's header, each cell's
 * verdicts, and an SVG chart of the cells' CPU overhead with its 95% intervals.
 *
 * The page has inline CSS only, no script, and a Content-Security-Policy that forbids
 * every fetch; all text from the report is escaped. mr_html_render() returns text the
 * caller frees. */
#ifndef MR_HTML_H
#define MR_HTML_H

#include <stddef.h>

#include "report.h"
#include "util.h"

/* Renders the page; source names the report in the page (its path, or NULL). */
char *mr_html_render(const struct mr_report *r, const char *source, size_t *ret_len);

/* Reads junit_path back (mr_report_read) and writes its page to html_path atomically
 * (temp file + rename). 0, or negative with err naming the file at fault. */
int mr_html_write(const char *junit_path, const char *html_path, struct mr_err *err) MR_WUR;
/* The same for the report a run has just written, read with no size limit (see
 * mr_report_read_max). */
int mr_html_write_run(const char *junit_path, const char *html_path, struct mr_err *err) MR_WUR;

/* Appends s as HTML text or attribute value: cleaned like the JUnit writer cleans text
 * (mr_xml_clean), then & < > " ' as character references. */
void mr_html_escape(struct mr_buf *b, const char *s);

#endif
