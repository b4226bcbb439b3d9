/* compare.c: lines up the CPU overhead of each cell over several runs' reports and
 * renders the table `matrixrun compare` prints. */
#define _GNU_SOURCE
#include "compare.h"

#include <stdio.h>
#include <string.h>

#include "strmap.h"
#include "text.h"

/* Cell, image and kernel columns are cut here: past it a hostile name only hurts. */
#define MAX_NAME_COLS 60

/* The distinct values of a property over a report's suites, "," joined, or "-". */
static char *distinct_prop(const struct mr_report *r, const char *name)
{
    _cleanup_free_ const char **v = NULL;
    size_t n = mr_report_distinct_prop(r, name, &v);
    if (!n)
        return mr_xstrdup("-");
    struct mr_buf b;
    mr_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (i)
            mr_buf_adds(&b, ",");
        /* A comma inside a value would split it in the list: it is shown as ';'. */
        size_t at = b.len;
        mr_buf_adds(&b, v[i]);
        for (size_t k = at; k < b.len; k++)
            if (b.data[k] == ',')
                b.data[k] = ';';
    }
    return mr_buf_detach(&b, NULL);
}

/* Finds rows by cell name: the names (borrowed from the reports) map to row indexes, and
 * the rows' room doubles when full, so a run of many cells stays linear. */
struct row_index {
    struct mr_strmap *names;
    size_t room;
};

/* The row of a cell, added at the end when the cell is new. */
static struct mr_compare_row *find_row(struct mr_compare *c, struct row_index *ix,
                                       const char *cell)
{
    size_t at;
    if (!mr_strmap_add(ix->names, cell, c->n_rows, &at))
        return &c->rows[at];
    if (c->n_rows == ix->room) {
        ix->room = ix->room ? 2 * ix->room : 16;
        c->rows = mr_xrealloc(c->rows, ix->room * sizeof(*c->rows));
    }
    struct mr_compare_row *row = &c->rows[c->n_rows++];
    row->cell = mr_xstrdup(cell);
    row->image = NULL;
    row->kernel = NULL;
    row->runs = mr_xcalloc(c->n_runs, sizeof(*row->runs));
    return row;
}

static void warn_if_differ(struct mr_compare *c, size_t field, const char *what)
{
    const char *first = NULL;
    int differ = 0;
    for (size_t i = 0; i < c->n_runs; i++) {
        const struct mr_compare_run *r = &c->runs[i];
        const char *v = field == 0 ? r->accel : field == 1 ? r->hosts : r->host_kernels;
        if (strcmp(v, "-") == 0)
            continue; /* unknown is not different */
        if (!first)
            first = v;
        else if (strcmp(first, v) != 0)
            differ = 1;
    }
    if (!differ)
        return;
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_addf(&b, "warning: the runs compared used different %s:", what);
    for (size_t i = 0; i < c->n_runs; i++) {
        const struct mr_compare_run *r = &c->runs[i];
        const char *v = field == 0 ? r->accel : field == 1 ? r->hosts : r->host_kernels;
        mr_buf_addf(&b, "%s run %zu ", i ? "," : "", i + 1);
        mr_buf_add_cols(&b, v, MAX_NAME_COLS);
    }
    mr_buf_adds(&b, field == 0 ? " (their overheads are not comparable)"
                               : " (differences may come from there)");
    c->warnings = mr_xrealloc(c->warnings, (c->n_warnings + 1) * sizeof(*c->warnings));
    c->warnings[c->n_warnings++] = mr_buf_detach(&b, NULL);
}

struct mr_compare *mr_compare_new(const struct mr_report *const *reps, const char *const *labels,
                                  size_t n)
{
    struct mr_compare *c = mr_xcalloc(1, sizeof(*c));
    c->n_runs = n;
    c->runs = mr_xcalloc(n ? n : 1, sizeof(*c->runs));
    struct row_index ix = { .names = mr_strmap_new() };
    for (size_t i = 0; i < n; i++) {
        struct mr_compare_run *run = &c->runs[i];
        run->label = labels[i];
        run->run_id = distinct_prop(reps[i], MR_PROP_RUN_ID);
        run->accel = distinct_prop(reps[i], MR_PROP_ACCEL);
        run->hosts = distinct_prop(reps[i], MR_PROP_HOST);
        run->host_kernels = distinct_prop(reps[i], MR_PROP_HOST_KERNEL);
        for (size_t j = 0; j < reps[i]->n_suites; j++) {
            const struct mr_suite *s = reps[i]->suites[j];
            struct mr_compare_row *row = find_row(c, &ix, s->name);
            if (row->runs[i].present)
                continue; /* a name twice in one report: its first suite counts */
            row->runs[i].present = 1;
            mr_bench_from_suite(s, &row->runs[i].bench);
            const char *img = mr_suite_prop(s, MR_PROP_IMAGE);
            if (img) {
                free(row->image);
                row->image = mr_xstrdup(img);
            }
            const char *k = mr_suite_prop(s, MR_PROP_GUEST_KERNEL);
            if (k && strcmp(k, MR_PROP_UNKNOWN) != 0) {
                /* Kernels in run order, each change shown: "6.1.0-27 -> 6.1.0-28". */
                const char *last = row->kernel ? strrchr(row->kernel, ' ') : NULL;
                last = last ? last + 1 : row->kernel;
                if (!row->kernel) {
                    row->kernel = mr_xstrdup(k);
                } else if (strcmp(last, k) != 0) {
                    char *joined = mr_xasprintf("%s -> %s", row->kernel, k);
                    free(row->kernel);
                    row->kernel = joined;
                }
            }
        }
    }
    mr_strmap_free(ix.names);
    for (size_t i = 0; i < c->n_rows; i++) {
        if (!c->rows[i].image)
            c->rows[i].image = mr_xstrdup("-");
        if (!c->rows[i].kernel)
            c->rows[i].kernel = mr_xstrdup("-");
    }
    warn_if_differ(c, 0, "accelerators");
    warn_if_differ(c, 1, "hosts");
    warn_if_differ(c, 2, "host kernels");
    return c;
}

void mr_compare_free(struct mr_compare *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_runs; i++) {
        free(c->runs[i].run_id);
        free(c->runs[i].accel);
        free(c->runs[i].hosts);
        free(c->runs[i].host_kernels);
    }
    free(c->runs);
    for (size_t i = 0; i < c->n_rows; i++) {
        free(c->rows[i].cell);
        free(c->rows[i].image);
        free(c->rows[i].kernel);
        free(c->rows[i].runs);
    }
    free(c->rows);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c);
}

int mr_interval_overlap(double l1, double h1, double l2, double h2)
{
    return l1 <= h2 && l2 <= h1;
}

int mr_compare_change(const struct mr_compare_row *row, size_t i, double *ret_pp,
                      int *ret_marked)
{
    const struct mr_compare_entry *a = &row->runs[i - 1], *b = &row->runs[i];
    if (!a->present || !b->present || a->bench.state != MR_BENCH_OK ||
        b->bench.state != MR_BENCH_OK)
        return 0;
    *ret_pp = b->bench.overhead - a->bench.overhead;
    *ret_marked = !mr_interval_overlap(a->bench.low, a->bench.high, b->bench.low, b->bench.high);
    return 1;
}

static char *entry_text(const struct mr_compare_entry *e)
{
    if (!e->present)
        return mr_xstrdup("-");
    switch (e->bench.state) {
    case MR_BENCH_NONE:
        return mr_xstrdup("-");
    case MR_BENCH_NODATA:
        return mr_xstrdup(e->bench.verdict == MR_VERDICT_SKIP ? "skipped" : "error");
    case MR_BENCH_INVALID:
        return mr_xstrdup("invalid");
    case MR_BENCH_OK:
        break;
    }
    return mr_xasprintf("%.2f [%.2f, %.2f]%s", e->bench.overhead, e->bench.low, e->bench.high,
                        e->bench.noisy ? " ~" : "");
}

static char *change_text(const struct mr_compare_row *row, size_t i)
{
    double pp;
    int marked;
    if (!mr_compare_change(row, i, &pp, &marked))
        return mr_xstrdup("-");
    return mr_xasprintf("%+.2f%s", pp, marked ? " *" : "");
}

/* Column text: control characters as spaces, cut at MAX_NAME_COLS. */
static char *cell_text(const char *s)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_add(&b, "", 0);
    mr_buf_add_cols(&b, s, MAX_NAME_COLS);
    return mr_buf_detach(&b, NULL);
}

static void pad(struct mr_buf *b, const char *s, size_t width, int right)
{
    size_t cols = mr_text_cols(s);
    size_t fill = width > cols ? width - cols : 0;
    if (right)
        mr_buf_addf(b, "%*s", (int)fill, "");
    mr_buf_adds(b, s);
    if (!right)
        mr_buf_addf(b, "%*s", (int)fill, "");
}

char *mr_compare_render(const struct mr_compare *c)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_add(&b, "", 0);
    for (size_t i = 0; i < c->n_runs; i++) {
        const struct mr_compare_run *r = &c->runs[i];
        mr_buf_addf(&b, "run %zu: ", i + 1);
        mr_buf_add_cols(&b, r->label, 200);
        mr_buf_adds(&b, "\n  run.id ");
        mr_buf_add_cols(&b, r->run_id, MAX_NAME_COLS);
        mr_buf_adds(&b, ", accel ");
        mr_buf_add_cols(&b, r->accel, MAX_NAME_COLS);
        mr_buf_adds(&b, ", host ");
        mr_buf_add_cols(&b, r->hosts, MAX_NAME_COLS);
        mr_buf_adds(&b, ", host kernel ");
        mr_buf_add_cols(&b, r->host_kernels, MAX_NAME_COLS);
        mr_buf_adds(&b, "\n");
    }
    for (size_t i = 0; i < c->n_warnings; i++)
        mr_buf_addf(&b, "%s\n", c->warnings[i]);
    mr_buf_adds(&b, "\nCPU overhead of the guest over the host, % (median [95% interval]):\n\n");

    /* Columns: cell, image, guest kernel, run 1, then per later run: run i, change. */
    size_t ncols = 3 + c->n_runs + (c->n_runs ? c->n_runs - 1 : 0);
    char **head = mr_xcalloc(ncols, sizeof(*head));
    int *right = mr_xcalloc(ncols, sizeof(*right));
    head[0] = mr_xstrdup("cell");
    head[1] = mr_xstrdup("image");
    head[2] = mr_xstrdup("guest kernel");
    for (size_t i = 0, col = 3; i < c->n_runs; i++) {
        head[col++] = mr_xasprintf("run %zu", i + 1);
        if (i > 0) {
            right[col] = 1;
            head[col++] = mr_xasprintf("change %zu->%zu", i, i + 1);
        }
    }
    char ***cells = mr_xcalloc(c->n_rows ? c->n_rows : 1, sizeof(*cells));
    for (size_t r = 0; r < c->n_rows; r++) {
        const struct mr_compare_row *row = &c->rows[r];
        cells[r] = mr_xcalloc(ncols, sizeof(**cells));
        cells[r][0] = cell_text(row->cell);
        cells[r][1] = cell_text(row->image);
        cells[r][2] = cell_text(row->kernel);
        size_t col = 3;
        for (size_t i = 0; i < c->n_runs; i++) {
            cells[r][col++] = entry_text(&row->runs[i]);
            if (i > 0)
                cells[r][col++] = change_text(row, i);
        }
    }
    size_t *width = mr_xcalloc(ncols, sizeof(*width));
    for (size_t col = 0; col < ncols; col++) {
        width[col] = mr_text_cols(head[col]);
        for (size_t r = 0; r < c->n_rows; r++) {
            size_t w = mr_text_cols(cells[r][col]);
            width[col] = w > width[col] ? w : width[col];
        }
    }
    for (size_t r = 0; r <= c->n_rows; r++) {
        struct mr_buf line;
        mr_buf_init(&line);
        for (size_t col = 0; col < ncols; col++) {
            if (col)
                mr_buf_adds(&line, "  ");
            pad(&line, r == 0 ? head[col] : cells[r - 1][col], width[col], right[col]);
        }
        while (line.len && line.data[line.len - 1] == ' ')
            line.data[--line.len] = '\0';
        mr_buf_addf(&b, "%s\n", line.data);
        mr_buf_release(&line);
    }
    if (!c->n_rows)
        mr_buf_adds(&b, "(no cells)\n");
    mr_buf_adds(&b, "\n-        the cell is not in that run, or has no benchmark\n"
                    "error    its benchmark.cpu testcase ended in an error, without figures\n"
                    "skipped  its benchmark.cpu testcase did not run\n"
                    "invalid  its figures are not numbers, or not in range\n"
                    "~        noisy: the host's or the guest's times varied more than the "
                    "benchmark accepts\n");
    if (c->n_runs > 1)
        mr_buf_adds(&b, "*        the two 95% intervals do not overlap (change: percentage "
                        "points from the run before)\n");
    for (size_t r = 0; r < c->n_rows; r++) {
        for (size_t col = 0; col < ncols; col++)
            free(cells[r][col]);
        free(cells[r]);
    }
    for (size_t col = 0; col < ncols; col++)
        free(head[col]);
    free(cells);
    free(head);
    free(right);
    free(width);
    return mr_buf_detach(&b, NULL);
}
