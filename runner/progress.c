/* progress.c: shows a run's progress on stderr: a live block of one line per running cell
 * on a terminal, one timestamped line per event elsewhere. */
#define _GNU_SOURCE
#include "progress.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "text.h"
#include "util.h"

/* Progress.
 *
 * The pipeline calls mr_progress_event() from several cell threads at once; one mutex
 * guards the state and the terminal. On a terminal the bottom of the screen holds a live
 * block, one line per running cell, redrawn on every event and once a second by a ticker
 * thread; lines that stay (run-wide news, warnings, errors, retries, ended cells) are
 * printed where the block was and the block is drawn again below them. Elsewhere (CI
 * logs, files) every event is one timestamped line. */

enum progress_mode {
    PROGRESS_QUIET,
    PROGRESS_LINES, /* one timestamped line per event */
    PROGRESS_LIVE,  /* a live block at the bottom of a terminal */
};

struct live_cell {
    char *id;
    char *step;
    int64_t t0_ms; /* when the cell started (a retry starts again) */
};

struct mr_progress {
    enum progress_mode mode;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the ticker sleeps on it; signalled to stop it */
    pthread_t ticker;
    int ticking;  /* the ticker thread runs */
    int stopping; /* asks the ticker to end */
    struct live_cell *cells; /* running cells, in the order they started */
    size_t n_cells;
    size_t cap;
    size_t drawn; /* lines of the block on the screen, the cursor just below them */
};

static void timestamp(char ts[16])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ts, 16, "%H:%M:%S", &tm);
}

/* One event as a line: "[HH:MM:SS] cell: msg" (run-wide news has no cell). */
static void add_event_line(struct mr_buf *b, const char *cell, const char *msg)
{
    char ts[16];
    timestamp(ts);
    if (cell)
        mr_buf_addf(b, "[%s] %s: %s", ts, cell, msg);
    else
        mr_buf_addf(b, "[%s] %s", ts, msg);
}

/* write(2) until done: a signal (SIGINT has no SA_RESTART) must not cut a redraw short. */
static void write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

/* Length of the well-formed UTF-8 sequence at s (2 to 4 bytes), 0 if there is none:
 * overlong forms, surrogates and code points past U+10FFFF are not well-formed. */
static size_t utf8_len(const unsigned char *s)
{
    /* The second byte's range is narrower after E0, ED, F0 and F4. */
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        lo = s[0] == 0xe0 ? 0xa0 : 0x80;
        hi = s[0] == 0xed ? 0x9f : 0xbf;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        lo = s[0] == 0xf0 ? 0x90 : 0x80;
        hi = s[0] == 0xf4 ? 0x8f : 0xbf;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

char *mr_progress_sanitize(const char *s)
{
    struct mr_buf b;
    mr_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = *p < 0x80 ? 1 : utf8_len(p);
        /* U+0080 to U+009F, encoded: C2 80 to C2 9F. */
        int c1 = n == 2 && p[0] == 0xc2 && p[1] <= 0x9f;
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == '\v' || *p == '\f') {
            mr_buf_adds(&b, " ");
            n = 1;
        } else if (n == 0 || c1 || *p < 0x20 || *p == 0x7f) {
            n = n ? n : 1;
            for (size_t i = 0; i < n; i++)
                mr_buf_addf(&b, "\\x%02x", p[i]);
        } else {
            mr_buf_add(&b, (const char *)p, n);
        }
        p += n;
    }
    return mr_buf_detach(&b, NULL);
}

/* The terminal's size, 80x24 when it says nothing. */
static void term_size(unsigned *cols, unsigned *rows)
{
    struct winsize ws;
    *cols = 80;
    *rows = 24;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0) {
        if (ws.ws_col)
            *cols = ws.ws_col;
        if (ws.ws_row)
            *rows = ws.ws_row;
    }
}

static void format_elapsed(char out[24], int64_t ms)
{
    long long s = ms > 0 ? ms / 1000 : 0;
    if (s < 3600)
        snprintf(out, 24, "%02lld:%02lld", s / 60, s % 60);
    else
        snprintf(out, 24, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
}

/* "  ID   STEP   MM:SS" in width columns: the step is cut before the time is. */
static void add_live_line(struct mr_buf *b, const struct live_cell *c, size_t id_cols,
                          int64_t now, size_t width)
{
    char t[24];
    format_elapsed(t, now - c->t0_ms);
    size_t fixed = 2 + id_cols + 3 + 3 + strlen(t);
    if (fixed + 8 <= width) {
        mr_buf_adds(b, "  ");
        mr_buf_add_cols(b, c->id, id_cols);
        for (size_t n = mr_text_cols(c->id); n < id_cols; n++)
            mr_buf_adds(b, " ");
        mr_buf_adds(b, "   ");
        mr_buf_add_cols(b, c->step, width - fixed);
        mr_buf_addf(b, "   %s", t);
    } else {
        _cleanup_free_ char *line = mr_xasprintf("  %s   %s   %s", c->id, c->step, t);
        mr_buf_add_cols(b, line, width);
    }
}

/* Moves to the top of the block, prints the permanent text (NULL: none), then the block
 * again. Each line is cleared past its end (\033[K) and whatever the old block had below
 * the new one goes too (\033[J). Called with p->lock held. */
static void live_draw(struct mr_progress *p, const char *permanent)
{
    if (!permanent && !p->drawn && !p->n_cells)
        return;
    unsigned cols, rows;
    term_size(&cols, &rows);
    /* One column short of the width: some terminals wrap a line that fills the width,
     * and the block would then take more lines than the cursor moves back up. */
    size_t width = cols > 1 ? cols - 1 : 1;
    /* The block must fit the screen: the cursor cannot move up past its top. */
    size_t max_lines = rows > 1 ? rows - 1 : 1;
    size_t shown = p->n_cells <= max_lines ? p->n_cells : max_lines - 1;
    struct mr_buf b;
    mr_buf_init(&b);
    if (p->drawn)
        mr_buf_addf(&b, "\033[%zuA", p->drawn);
    mr_buf_adds(&b, "\r");
    for (const char *s = permanent; s && *s;) {
        size_t n = strcspn(s, "\n");
        mr_buf_add(&b, s, n);
        mr_buf_adds(&b, "\033[K\n");
        s += n + (s[n] == '\n');
    }
    size_t id_cols = 0;
    for (size_t i = 0; i < shown; i++) {
        size_t n = mr_text_cols(p->cells[i].id);
        id_cols = n > id_cols ? n : id_cols;
    }
    /* Ids longer than half the line get cut so the step keeps some room. */
    id_cols = id_cols < width / 2 ? id_cols : width / 2;
    int64_t now = mr_now_ms();
    for (size_t i = 0; i < shown; i++) {
        add_live_line(&b, &p->cells[i], id_cols, now, width);
        mr_buf_adds(&b, "\033[K\n");
    }
    p->drawn = shown;
    if (shown < p->n_cells) {
        _cleanup_free_ char *more = mr_xasprintf("  ... and %zu more cell(s) running",
                                                 p->n_cells - shown);
        mr_buf_add_cols(&b, more, width);
        mr_buf_adds(&b, "\033[K\n");
        p->drawn++;
    }
    mr_buf_adds(&b, "\033[J");
    write_all(STDERR_FILENO, b.data, b.len);
    mr_buf_release(&b);
}

static struct live_cell *live_find(struct mr_progress *p, const char *id)
{
    for (size_t i = 0; i < p->n_cells; i++)
        if (strcmp(p->cells[i].id, id) == 0)
            return &p->cells[i];
    return NULL;
}

static struct live_cell *live_add(struct mr_progress *p, const char *id)
{
    if (p->n_cells == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 8;
        p->cells = mr_xrealloc(p->cells, p->cap * sizeof(*p->cells));
    }
    struct live_cell *c = &p->cells[p->n_cells++];
    c->id = mr_xstrdup(id);
    c->step = mr_xstrdup("");
    c->t0_ms = mr_now_ms();
    return c;
}

static void live_remove(struct mr_progress *p, const char *id)
{
    struct live_cell *c = live_find(p, id);
    if (!c)
        return;
    free(c->id);
    free(c->step);
    size_t i = (size_t)(c - p->cells);
    memmove(c, c + 1, (p->n_cells - i - 1) * sizeof(*c));
    p->n_cells--;
}

/* News that must stay on screen rather than flash by in a live line. */
static int note_stays(const char *msg)
{
    return strncmp(msg, "WARNING", 7) == 0 || strncmp(msg, "ERROR", 5) == 0 ||
           strncmp(msg, "retrying", 8) == 0;
}

static void live_event(struct mr_progress *p, enum mr_progress_kind kind, const char *cell,
                       const char *msg)
{
    if (!cell)
        kind = MR_PROGRESS_RUN;
    struct live_cell *c = cell ? live_find(p, cell) : NULL;
    struct mr_buf line;
    mr_buf_init(&line);
    switch (kind) {
    case MR_PROGRESS_START:
    case MR_PROGRESS_STEP:
        if (!c)
            c = live_add(p, cell);
        else if (kind == MR_PROGRESS_START)
            c->t0_ms = mr_now_ms();
        free(c->step);
        c->step = mr_xstrdup(msg);
        break;
    case MR_PROGRESS_NOTE:
        if (note_stays(msg))
            add_event_line(&line, cell, msg);
        break;
    case MR_PROGRESS_END:
        live_remove(p, cell);
        add_event_line(&line, cell, msg);
        break;
    case MR_PROGRESS_RUN:
    default:
        add_event_line(&line, cell, msg);
        break;
    }
    live_draw(p, line.len ? line.data : NULL);
    mr_buf_release(&line);
}

void mr_progress_event(void *ud, enum mr_progress_kind kind, const char *raw_cell,
                       const char *raw_msg)
{
    struct mr_progress *p = ud;
    if (p->mode == PROGRESS_QUIET)
        return;
    /* Messages carry text from guests (a version check's output, a benchmark's stderr):
     * what could move the cursor, clear the screen or retitle the terminal is shown as
     * text here, before anything below stores or prints it. */
    _cleanup_free_ char *cell = raw_cell ? mr_progress_sanitize(raw_cell) : NULL;
    _cleanup_free_ char *msg = mr_progress_sanitize(raw_msg ? raw_msg : "");
    pthread_mutex_lock(&p->lock);
    if (p->mode == PROGRESS_LIVE) {
        live_event(p, kind, cell, msg);
    } else {
        struct mr_buf line;
        mr_buf_init(&line);
        add_event_line(&line, cell, msg);
        mr_buf_adds(&line, "\n");
        write_all(STDERR_FILENO, line.data, line.len);
        mr_buf_release(&line);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Redraws once a second so the elapsed times move while a step takes long. */
static void *ticker_main(void *arg)
{
    struct mr_progress *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += 1;
        /* 0 is a wakeup that may be spurious; ETIMEDOUT (or any error) ends the wait. */
        while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->lock, &until) == 0)
            ;
        if (!p->stopping && p->n_cells)
            live_draw(p, NULL);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

struct mr_progress *mr_progress_new(int quiet)
{
    struct mr_progress *p = mr_xcalloc(1, sizeof(*p));
    const char *term = getenv("TERM");
    /* No TERM says as little about escapes as TERM=dumb does. */
    if (quiet)
        p->mode = PROGRESS_QUIET;
    else if (isatty(STDERR_FILENO) && term && term[0] && strcmp(term, "dumb") != 0)
        p->mode = PROGRESS_LIVE;
    else
        p->mode = PROGRESS_LINES;
    pthread_mutex_init(&p->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->wake, &ca);
    pthread_condattr_destroy(&ca);
    if (p->mode != PROGRESS_LIVE)
        return p;
    /* The ticker takes no signals: SIGINT and SIGTERM must reach a thread of the run. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* Without a ticker the block still moves on every event. */
    p->ticking = pthread_create(&p->ticker, NULL, ticker_main, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p;
}

/* Stops the ticker and clears the block, so the summary starts on a clean line. */
void mr_progress_free(struct mr_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->ticking)
        pthread_join(p->ticker, NULL);
    /* The run is over: no thread calls mr_progress_event() any more. */
    for (size_t i = 0; i < p->n_cells; i++) {
        free(p->cells[i].id);
        free(p->cells[i].step);
    }
    p->n_cells = 0;
    if (p->mode == PROGRESS_LIVE)
        live_draw(p, NULL);
    free(p->cells);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

