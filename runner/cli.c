/* cli.c: parses matrixrun's command line, dispatches to one handler per verb, and shows a
 * run's progress and summary. */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "guest.h"
#include "leftover.h"
#include "matrix.h"
#include "pipeline.h"
#include "ssh.h"

struct cli {
    const char *outdir;
    int accel;
    const char *uri;
    const char *catalogue;
    int quiet;
    char **only;     /* --only patterns, borrowed from argv */
    size_t n_only;
    unsigned shard_i; /* --shard I/N; 0/0 when not given */
    unsigned shard_n;
    unsigned jobs;          /* 0: as the host's capacity allows */
    double overcommit_cpu;  /* 0: the pipeline's default */
    double overcommit_mem;
    int stagger_ms;         /* <0: the pipeline's default */
};

static const char usage_text[] =
    "Usage: matrixrun [run] MATRIX.xml [-o DIR] [-j N] [--accel kvm|tcg|auto] [--connect URI]\n"
    "                 [--overcommit CPU[:MEM]] [--stagger SECONDS] [-q]\n"
    "       matrixrun validate MATRIX.xml\n"
    "       matrixrun list MATRIX.xml\n"
    "       (each also takes -C FILE, --only PATTERN and --shard I/N)\n"
    "       matrixrun clean [--connect URI]\n"
    "       matrixrun --help | --version\n"
    "\n"
    "Boots each image of the matrix as a guest, installs the package over SSH, runs the\n"
    "tests and writes JUnit XML.\n"
    "\n"
    "Verbs:\n"
    "  run        run the matrix (the default verb)\n"
    "  validate   check the matrix (schema, values, files); boots nothing\n"
    "  list       print the matrix's cells, one per line: the cell's id, then\n"
    "             image=, family=, version=, vcpus=, memory-mib=, provisioning=\n"
    "             and the cell's variables as NAME=VALUE, separated by tabs\n"
    "  clean      remove what killed runs left behind: their work folders (overlays,\n"
    "             seeds, keys) under $MATRIXRUN_WORKDIR or /var/tmp/matrixrun, and\n"
    "             guests tagged as matrixrun's whose run is over (default URI\n"
    "             qemu:///system); running runs are left alone\n"
    "\n"
    "Options of every verb:\n"
    "  -C, --catalogue FILE  OS-family catalogue to use instead of the built-in one\n"
    "                        (images/families.xml); also MATRIXRUN_CATALOGUE\n"
    "      --only PATTERN    only the cells whose id matches the shell pattern (as in\n"
    "                        'deb-*' or '*.vcpus=2'); repeat it to add cells; a pattern\n"
    "                        that matches no cell is an error\n"
    "      --shard I/N       of the cells (after --only), only the I-th of every N\n"
    "                        (1 <= I <= N <= 1000): the N shards are disjoint and\n"
    "                        together hold every cell, so N CI jobs split a matrix\n"
    "\n"
    "Options of run:\n"
    "  -o, --output DIR      report folder (default: reports); writes DIR/junit.xml\n"
    "                        and DIR/<cell>/{serial.log,artifacts.tar.gz}\n"
    "      --accel ACCEL     kvm, tcg or auto; overrides the matrix's <host accel>\n"
    "      --connect URI     libvirt URI; overrides the matrix's <host uri>\n"
    "  -j, --jobs N          run at most N cells at once (1 to 256; default: as many\n"
    "                        as the host's CPUs and memory hold)\n"
    "      --overcommit CPU[:MEM]\n"
    "                        ratios (above 0, at most 64) of the host the guests may\n"
    "                        use: vCPUs per host CPU, share of the free memory\n"
    "                        (default %g:%g; e.g. 2 or 2:0.8)\n"
    "      --stagger SECONDS least time between two guest starts (0 to 60, decimals\n"
    "                        allowed; default %g)\n"
    "  -q, --quiet           no progress lines and no summary\n"
    "\n"
    "Progress goes to stderr: on a terminal, one live line per running cell under the\n"
    "run's news; elsewhere one timestamped line per event. The summary (a line per cell,\n"
    "the totals, and last 'report: PATH') goes to stdout.\n"
    "\n"
    "Exit codes: 0 every test passed; 1 a test failed; 2 usage or matrix error (nothing\n"
    "booted); 3 infrastructure error (a cell could not be run); 130/143 interrupted.\n";

/* Progress.
 *
 * The pipeline calls progress_event() from several cell threads at once; one mutex
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

struct progress {
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

/* Screen columns of UTF-8 text, one per character (cell ids and steps are ASCII in
 * practice; wide characters would only make a line end early). */
static size_t text_cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Appends at most max columns of s, ending in "..." when cut, with control characters as
 * spaces: a live line must stay one screen line. */
static void add_cols(struct mr_buf *b, const char *s, size_t max)
{
    size_t total = text_cols(s);
    size_t keep = total <= max ? total : max >= 3 ? max - 3 : max;
    size_t n = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch & 0xc0) != 0x80 && n++ == keep)
            break;
        char out = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
        mr_buf_add(b, &out, 1);
    }
    if (keep < total && max >= 3)
        mr_buf_adds(b, "...");
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
        add_cols(b, c->id, id_cols);
        for (size_t n = text_cols(c->id); n < id_cols; n++)
            mr_buf_adds(b, " ");
        mr_buf_adds(b, "   ");
        add_cols(b, c->step, width - fixed);
        mr_buf_addf(b, "   %s", t);
    } else {
        _cleanup_free_ char *line = mr_xasprintf("  %s   %s   %s", c->id, c->step, t);
        add_cols(b, line, width);
    }
}

/* Moves to the top of the block, prints the permanent text (NULL: none), then the block
 * again. Each line is cleared past its end (\033[K) and whatever the old block had below
 * the new one goes too (\033[J). Called with p->lock held. */
static void live_draw(struct progress *p, const char *permanent)
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
        size_t n = text_cols(p->cells[i].id);
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
        add_cols(&b, more, width);
        mr_buf_adds(&b, "\033[K\n");
        p->drawn++;
    }
    mr_buf_adds(&b, "\033[J");
    write_all(STDERR_FILENO, b.data, b.len);
    mr_buf_release(&b);
}

static struct live_cell *live_find(struct progress *p, const char *id)
{
    for (size_t i = 0; i < p->n_cells; i++)
        if (strcmp(p->cells[i].id, id) == 0)
            return &p->cells[i];
    return NULL;
}

static struct live_cell *live_add(struct progress *p, const char *id)
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

static void live_remove(struct progress *p, const char *id)
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

static void live_event(struct progress *p, enum mr_progress_kind kind, const char *cell,
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

static void progress_event(void *ud, enum mr_progress_kind kind, const char *cell,
                           const char *msg)
{
    struct progress *p = ud;
    if (p->mode == PROGRESS_QUIET)
        return;
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
    struct progress *p = arg;
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

static void progress_init(struct progress *p, int quiet)
{
    memset(p, 0, sizeof(*p));
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
        return;
    /* The ticker takes no signals: SIGINT and SIGTERM must reach a thread of the run. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    /* Without a ticker the block still moves on every event. */
    p->ticking = pthread_create(&p->ticker, NULL, ticker_main, p) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Stops the ticker and clears the block, so the summary starts on a clean line. */
static void progress_release(struct progress *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->ticking)
        pthread_join(p->ticker, NULL);
    /* The run is over: no thread calls progress_event() any more. */
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
}

static int load(const struct cli *c, const char *path, struct mr_matrix **m)
{
    struct mr_err e = { 0 };
    const char *cat = c->catalogue ? c->catalogue : getenv("MATRIXRUN_CATALOGUE");
    if (cat && cat[0] && mr_family_catalogue_load(cat, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    if (mr_matrix_load(path, m, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    return 0;
}

/* The cells --only and --shard select (all when neither was given). */
static int select_cells(const struct cli *c, const struct mr_matrix *m,
                        const struct mr_cell ***cells, size_t *n)
{
    struct mr_err e = { 0 };
    if (mr_matrix_select(m, c->only, c->n_only, c->shard_i, c->shard_n, cells, n, &e) < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_USAGE;
    }
    return 0;
}

static int selecting(const struct cli *c)
{
    return c->n_only > 0 || c->shard_n > 1;
}

static int cmd_validate(struct cli *c, const char *path)
{
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    _cleanup_free_ const struct mr_cell **cells = NULL;
    size_t n;
    if ((r = select_cells(c, m, &cells, &n))) {
        mr_matrix_free(m);
        return r;
    }
    printf("%s: valid: %zu image(s), %zu cell(s)", path, m->n_images, m->n_cells);
    if (selecting(c))
        printf(" (%zu selected)", n);
    printf(", %zu test(s), package %s %s\n", m->n_tests, m->pkg_name, m->pkg_version);
    mr_matrix_free(m);
    return MR_EXIT_OK;
}

static int cmd_list(struct cli *c, const char *path)
{
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    _cleanup_free_ const struct mr_cell **cells = NULL;
    size_t n;
    if ((r = select_cells(c, m, &cells, &n))) {
        mr_matrix_free(m);
        return r;
    }
    /* The id stays the first field: scripts cut it out with cut -f1. */
    for (size_t i = 0; i < n; i++) {
        const struct mr_cell *cell = cells[i];
        const struct mr_image *img = cell->img;
        printf("%s\timage=%s\tfamily=%s\tversion=%s\tvcpus=%u\tmemory-mib=%u\tprovisioning=%s",
               cell->id, img->name, img->family, img->os_version ? img->os_version : "-",
               cell->vcpus, cell->memory_mib, img->hostkey ? "cmdline" : "seed");
        for (size_t j = 0; j < cell->n_env; j++)
            printf("\t%s=%s", cell->env[j].name, cell->env[j].value);
        putchar('\n');
    }
    mr_matrix_free(m);
    return MR_EXIT_OK;
}

static int cmd_clean(struct cli *c, const char *unused)
{
    (void)unused;
    const char *uri = c->uri ? c->uri : MR_DEFAULT_URI;
    const char *base = mr_leftover_workbase(NULL);
    struct mr_err e = { 0 };
    virConnectPtr conn = mr_guest_connect(uri, &e);
    if (!conn) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        return MR_EXIT_INFRA;
    }
    struct mr_leftovers l = { 0 };
    int r = mr_leftover_scan(conn, base, &l, &e);
    if (r == 0) {
        for (size_t i = 0; i < l.n_domains; i++)
            printf("destroying guest %s\n", l.domains[i]);
        for (size_t i = 0; i < l.n_dirs; i++)
            printf("removing work folder %s\n", l.dirs[i]);
        r = mr_leftover_remove(conn, &l, &e);
        if (!c->quiet)
            printf("clean: %zu guest(s) and %zu work folder(s) of earlier runs removed\n",
                   l.n_domains, l.n_dirs);
    }
    if (r < 0)
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
    mr_leftovers_release(&l);
    mr_err_release(&e);
    virConnectClose(conn);
    return r < 0 ? MR_EXIT_INFRA : MR_EXIT_OK;
}

static void on_signal(int sig)
{
    mr_interrupted = sig;
}

/* The first line of text, at most max columns. */
static void add_first_line(struct mr_buf *b, const char *text, size_t max)
{
    _cleanup_free_ char *first = mr_xstrndup(text, strcspn(text, "\n"));
    add_cols(b, first, max);
}

/* One line per cell (its counts, time and first failure or error), the totals, and
 * last the report's path (scripts read that line). */
static void print_summary(const struct mr_run_result *res)
{
    const struct mr_report *r = res->report;
    int w = 4;
    for (size_t i = 0; i < r->n_suites; i++) {
        int n = (int)text_cols(r->suites[i]->name);
        w = n > w ? n : w;
    }
    if (r->n_suites)
        printf("%-*s  %6s %6s %6s %7s %8s  %s\n", w, "cell", "passed", "failed", "errors",
               "skipped", "time", "first problem");
    for (size_t i = 0; i < r->n_suites; i++) {
        const struct mr_suite *s = r->suites[i];
        struct mr_counts n = mr_suite_counts(s);
        struct mr_buf problem;
        mr_buf_init(&problem);
        for (size_t j = 0; j < s->n_cases; j++) {
            const struct mr_case *c = s->cases[j];
            if (c->verdict != MR_VERDICT_FAIL && c->verdict != MR_VERDICT_ERROR)
                continue;
            const char *msg = c->message ? c->message : "";
            size_t nl = strlen(c->name);
            /* Error messages name their step already ("boot: ..."). */
            if (strncmp(msg, c->name, nl) != 0 || msg[nl] != ':')
                mr_buf_addf(&problem, "%s: ", c->name);
            /* Cut at a fixed length, not to a terminal's width: past the counts an
             * 80-column terminal leaves too little of it to be worth reading, and a
             * line that wraps once at the end of a run does no harm. */
            add_first_line(&problem, msg, 100);
            break;
        }
        printf("%-*s  %6zu %6zu %6zu %7zu %6.1f s  %s\n", w, s->name,
               n.tests - n.failures - n.errors - n.skipped, n.failures, n.errors, n.skipped,
               s->time_s, problem.len ? problem.data : "-");
        mr_buf_release(&problem);
    }
    struct mr_counts n = mr_report_counts(r);
    printf("%zu cell(s), %zu testcase(s): %zu passed, %zu failed, %zu error(s), %zu skipped\n"
           "report: %s\n",
           r->n_suites, n.tests, n.tests - n.failures - n.errors - n.skipped, n.failures,
           n.errors, n.skipped, res->junit_path);
}

static int cmd_run(struct cli *c, const char *path)
{
    struct mr_matrix *m;
    int r = load(c, path, &m);
    if (r)
        return r;
    _cleanup_free_ const struct mr_cell **cells = NULL;
    size_t n_cells;
    if ((r = select_cells(c, m, &cells, &n_cells))) {
        mr_matrix_free(m);
        return r;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* A closed SSH socket must be an error return, not a dead process. */
    signal(SIGPIPE, SIG_IGN);

    struct progress p;
    progress_init(&p, c->quiet);
    struct mr_run_opts o = {
        .outdir = c->outdir, .accel = c->accel, .uri = c->uri,
        .cells = cells, .n_cells = n_cells, .jobs = c->jobs,
        .overcommit_cpu = c->overcommit_cpu, .overcommit_mem = c->overcommit_mem,
        .stagger_ms = c->stagger_ms,
        .progress = progress_event, .progress_ud = &p,
    };
    struct mr_run_result res;
    struct mr_err e = { 0 };
    r = mr_pipeline_run(m, &o, &res, &e);
    progress_release(&p);
    mr_matrix_free(m);
    if (r < 0) {
        fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
        mr_err_release(&e);
        mr_run_result_release(&res);
        return r == -EINVAL ? MR_EXIT_USAGE : MR_EXIT_INFRA;
    }
    if (!c->quiet)
        print_summary(&res);
    int code = mr_pipeline_exit_code(res.report);
    if (res.interrupted)
        code = 128 + (int)mr_interrupted;
    mr_run_result_release(&res);
    return code;
}

struct verb {
    const char *name;
    int (*fn)(struct cli *c, const char *matrix);
    int takes_matrix;
};

static const struct verb verbs[] = {
    { "run", cmd_run, 1 },
    { "validate", cmd_validate, 1 },
    { "list", cmd_list, 1 },
    { "clean", cmd_clean, 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "matrixrun: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'matrixrun --help'.\n");
    return MR_EXIT_USAGE;
}

/* Option values are parsed strictly: strtoul and strtod alone take " -1", "1x", "0x10",
 * "inf" and "nan" as far as they go, and a CI variable gone wrong should stop the run. */

/* A whole number of decimal digits and nothing else, at most max. */
static int parse_uint(const char *s, unsigned max, unsigned *ret)
{
    if (!*s || s[strspn(s, "0123456789")] != '\0')
        return -EINVAL;
    errno = 0;
    unsigned long v = strtoul(s, NULL, 10);
    if (errno || v > max)
        return -ERANGE;
    *ret = (unsigned)v;
    return 0;
}

/* Digits with at most one decimal point ("2", "0.8", ".5"): the first len bytes of s. */
static int parse_decimal(const char *s, size_t len, double *ret)
{
    char buf[32];
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    size_t end = strspn(buf, "0123456789");
    if (buf[end] == '.')
        end += 1 + strspn(buf + end + 1, "0123456789");
    if (end != len || strcspn(buf, "0123456789") == len)
        return -EINVAL;
    /* No setlocale() anywhere: strtod reads '.' as the decimal point. */
    *ret = strtod(buf, NULL);
    return 0;
}

static int parse_shard(const char *s, unsigned *ret_i, unsigned *ret_n)
{
    const char *slash = strchr(s, '/');
    size_t ilen = slash ? (size_t)(slash - s) : 0;
    unsigned i = 0, n = 0;
    int ri = -EINVAL, rn = -EINVAL;
    if (ilen > 0 && strspn(s, "0123456789") == ilen) {
        _cleanup_free_ char *is = mr_xstrndup(s, ilen);
        ri = parse_uint(is, 1000, &i);
        rn = parse_uint(slash + 1, 1000, &n);
    }
    if (ri == -EINVAL || rn == -EINVAL)
        return usage_error("--shard '%s': expected I/N, two whole numbers as in 2/4", s);
    if (rn < 0 || n < 1)
        return usage_error("--shard '%s': N must be between 1 and 1000", s);
    if (ri < 0 || i < 1 || i > n)
        return usage_error("--shard '%s': I must be between 1 and N", s);
    *ret_i = i;
    *ret_n = n;
    return 0;
}

/* A ratio of the host: above 0 (0 would admit nothing), at most 64 (past that a typo). */
static int parse_ratio(const char *s, size_t len, double *ret)
{
    double v;
    if (parse_decimal(s, len, &v) < 0 || v <= 0 || v > 64)
        return -EINVAL;
    *ret = v;
    return 0;
}

static int parse_overcommit(const char *s, double *ret_cpu, double *ret_mem)
{
    const char *colon = strchr(s, ':');
    double cpu, mem = 0;
    if (parse_ratio(s, colon ? (size_t)(colon - s) : strlen(s), &cpu) < 0 ||
        (colon && parse_ratio(colon + 1, strlen(colon + 1), &mem) < 0))
        return usage_error("--overcommit '%s': expected CPU or CPU:MEM, ratios above 0 and "
                           "at most 64 (as in 2 or 2:0.8)", s);
    *ret_cpu = cpu;
    *ret_mem = mem;
    return 0;
}

enum {
    OPT_ACCEL = 256,
    OPT_CONNECT,
    OPT_ONLY,
    OPT_SHARD,
    OPT_OVERCOMMIT,
    OPT_STAGGER,
};

int mr_cli_main(int argc, char **argv)
{
    _cleanup_free_ char **only = mr_xcalloc((size_t)argc + 1, sizeof(*only));
    struct cli c = { .outdir = "reports", .accel = -1, .only = only, .stagger_ms = -1 };
    static const struct option opts[] = {
        { "output", required_argument, NULL, 'o' },
        { "accel", required_argument, NULL, OPT_ACCEL },
        { "connect", required_argument, NULL, OPT_CONNECT },
        { "quiet", no_argument, NULL, 'q' },
        { "catalogue", required_argument, NULL, 'C' },
        { "only", required_argument, NULL, OPT_ONLY },
        { "shard", required_argument, NULL, OPT_SHARD },
        { "jobs", required_argument, NULL, 'j' },
        { "overcommit", required_argument, NULL, OPT_OVERCOMMIT },
        { "stagger", required_argument, NULL, OPT_STAGGER },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    int opt, idx = -1;
    /* GNU getopt permutes: options may stand before or after the verb and the matrix. */
    while ((opt = getopt_long(argc, argv, "o:qhVC:j:", opts, &idx)) != -1) {
        /* getopt_long sets idx for long options only: messages name the option as typed. */
        int typed_long = idx >= 0;
        idx = -1;
        switch (opt) {
        case 'o':
            c.outdir = optarg;
            break;
        case OPT_ACCEL: {
            enum mr_accel a;
            if (mr_accel_parse(optarg, &a) < 0)
                return usage_error("--accel '%s' is not one of: kvm, tcg, auto", optarg);
            c.accel = (int)a;
            break;
        }
        case OPT_CONNECT:
            c.uri = optarg;
            break;
        case 'q':
            c.quiet = 1;
            break;
        case 'C':
            c.catalogue = optarg;
            break;
        case OPT_ONLY:
            c.only[c.n_only++] = optarg;
            break;
        case OPT_SHARD:
            if (parse_shard(optarg, &c.shard_i, &c.shard_n))
                return MR_EXIT_USAGE;
            break;
        case 'j':
            if (parse_uint(optarg, 256, &c.jobs) < 0 || c.jobs < 1)
                return usage_error(typed_long ? "--jobs '%s': expected a whole number from 1 to 256"
                                              : "-j '%s': expected a whole number from 1 to 256",
                                   optarg);
            break;
        case OPT_OVERCOMMIT:
            if (parse_overcommit(optarg, &c.overcommit_cpu, &c.overcommit_mem))
                return MR_EXIT_USAGE;
            break;
        case OPT_STAGGER: {
            double secs;
            if (parse_decimal(optarg, strlen(optarg), &secs) < 0 || secs > 60)
                return usage_error("--stagger '%s': expected seconds from 0 to 60 (decimals "
                                   "allowed, as in 0.5)", optarg);
            c.stagger_ms = (int)(secs * 1000 + 0.5);
            break;
        }
        case 'h':
            printf(usage_text, MR_DEFAULT_OVERCOMMIT_CPU, MR_DEFAULT_OVERCOMMIT_MEM,
                   MR_DEFAULT_STAGGER_MS / 1000.0);
            return MR_EXIT_OK;
        case 'V':
            printf("matrixrun %s\n", MR_VERSION);
            return MR_EXIT_OK;
        default:
            fprintf(stderr, "Try 'matrixrun --help'.\n");
            return MR_EXIT_USAGE;
        }
    }
    const char *words[2] = { NULL, NULL };
    int nwords = 0;
    for (; optind < argc; optind++) {
        if (nwords == 2)
            return usage_error("unexpected argument '%s'", argv[optind]);
        words[nwords++] = argv[optind];
    }
    if (nwords == 0)
        return usage_error("%s", "no matrix given");
    const struct verb *v = NULL;
    const char *matrix = words[0];
    for (size_t i = 0; i < MR_ARRAY_SIZE(verbs); i++)
        if (strcmp(words[0], verbs[i].name) == 0)
            v = &verbs[i];
    if (v && !v->takes_matrix) {
        if (nwords == 2)
            return usage_error("unexpected argument '%s'", words[1]);
        matrix = NULL;
    } else if (v) {
        if (nwords < 2)
            return usage_error("'%s' needs a matrix file", v->name);
        matrix = words[1];
    } else {
        if (nwords == 2)
            return usage_error("unknown verb '%s'", words[0]);
        v = &verbs[0];
    }
    return v->fn(&c, matrix);
}
