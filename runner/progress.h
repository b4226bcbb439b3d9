/* progress.h: the command line's progress display, a callback for the pipeline.
 *
 * On a terminal (stderr a tty, TERM set and not "dumb") the bottom of the screen holds a
 * live block, one line per running cell (id, step, elapsed time), redrawn on every event
 * and once a second; lines that stay (run-wide news, warnings, errors, retries, ended
 * cells) scroll above it. Elsewhere every event is one "[HH:MM:SS] cell: message" line. */
#ifndef MR_PROGRESS_H
#define MR_PROGRESS_H

#include "pipeline.h"
#include "text.h"

struct mr_progress;

/* quiet: show nothing. Free with mr_progress_free(), which also clears the live block. */
struct mr_progress *mr_progress_new(int quiet);
void mr_progress_free(struct mr_progress *p);

/* The pipeline's progress callback (ud is the struct mr_progress); thread-safe. */
void mr_progress_event(void *ud, enum mr_progress_kind kind, const char *cell,
                       const char *msg);

/* s as text that is safe on a terminal and stays on one line (caller frees): line breaks
 * and tabs become spaces; other C0 controls, DEL, C1 controls (raw or UTF-8 encoded)
 * and bytes that are not well-formed UTF-8 become "\xHH" per byte. mr_progress_event()
 * passes the cell and the message through it before it stores or prints them. */
char *mr_progress_sanitize(const char *s);

#endif
