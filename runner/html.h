/* html.h: a run's report as one self-contained HTML page: the run's header, each cell's
 * verdicts with the end of a failure's output, links to its serial log and archive and
 * a bar of where its time went, and an SVG chart of the cells' CPU overhead with its 95%
 * intervals.
 *
 * The page has inline CSS only, no script, and a Content-Security-Policy that forbids
 * every fetch; all text from the report is escaped. mr_html_render() returns text the
 * caller frees. */
#ifndef MR_HTML_H
#define MR_HTML_H

#include <stddef.h>

#include "report.h"
#include "util.h"

/* Renders the page; source names the report in the page (its path, or NULL). It links
 * no file. */
char *mr_html_render(const struct mr_report *r, const char *source, size_t *ret_len);

/* Where a page finds the cells' files (serial.log, artifacts.tar.gz) and how it links
 * them: each file that exists as dir/SUITE/FILE is linked as href_base + SUITE
 * (percent-encoded) + "/FILE"; a suite name that is not one path component is never
 * looked for. Both borrowed. */
struct mr_html_files {
    const char *dir;       /* the report's folder */
    const char *href_base; /* that folder seen from the page's: "", "../reports/" */
};
/* mr_html_render() with links to the files of the cells (files may be NULL: none). */
char *mr_html_render_files(const struct mr_report *r, const char *source,
                           const struct mr_html_files *files, size_t *ret_len);

/* Reads junit_path back (mr_report_read) and writes its page to html_path atomically
 * (temp file + rename), linking the cells' files in junit_path's folder that exist now
 * by paths relative to html_path's folder. 0, or negative with err naming the file at
 * fault. */
int mr_html_write(const char *junit_path, const char *html_path, struct mr_err *err) MR_WUR;
/* The same for the report a run has just written, read with no size limit (see
 * mr_report_read_max). */
int mr_html_write_run(const char *junit_path, const char *html_path, struct mr_err *err) MR_WUR;

/* Appends s as HTML text or attribute value: cleaned like the JUnit writer cleans text
 * (mr_xml_clean), then & < > " ' as character references. */
void mr_html_escape(struct mr_buf *b, const char *s);

#endif
