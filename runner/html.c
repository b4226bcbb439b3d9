/* html.c: renders a run's report as one self-contained HTML page with matrixrun's own
 * SVG chart of the cells' CPU overhead, and writes it next to the JUnit file. */
#define _GNU_SOURCE
#include "html.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "junit.h"
#include "report_read.h"
#include "text.h"

/* A message longer than this is cut in the page (the JUnit file keeps all of it). */
#define MAX_MESSAGE_BYTES 4000
/* Cell names longer than this are cut in the chart's labels (the tooltip has them all). */
#define MAX_LABEL_COLS 40

void mr_html_escape(struct mr_buf *b, const char *s)
{
    _cleanup_free_ char *clean = mr_xml_clean(s, strlen(s));
    for (const char *p = clean; *p; p++) {
        switch (*p) {
        case '&':
            mr_buf_adds(b, "&amp;");
            break;
        case '<':
            mr_buf_adds(b, "&lt;");
            break;
        case '>':
            mr_buf_adds(b, "&gt;");
            break;
        case '"':
            mr_buf_adds(b, "&quot;");
            break;
        case '\'':
            mr_buf_adds(b, "&#39;");
            break;
        default:
            mr_buf_add(b, p, 1);
        }
    }
}

static void esc_cut(struct mr_buf *b, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len <= max) {
        mr_html_escape(b, s);
        return;
    }
    /* Back off to a UTF-8 character boundary. */
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    _cleanup_free_ char *cut = mr_xstrndup(s, max);
    mr_html_escape(b, cut);
    mr_buf_addf(b, "\xE2\x80\xA6 (cut: %zu bytes in all)", len);
}

static const char *verdict_name(enum mr_verdict v)
{
    switch (v) {
    case MR_VERDICT_PASS:
        return "pass";
    case MR_VERDICT_FAIL:
        return "failure";
    case MR_VERDICT_ERROR:
        return "error";
    case MR_VERDICT_SKIP:
        return "skipped";
    }
    return "?";
}

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fff}"
    "h1{font-size:1.5em}h2{font-size:1.25em;margin-top:1.6em}h3{font-size:1.05em;margin:1.2em 0 .3em}"
    "table{border-collapse:collapse;margin:.4em 0}"
    "th,td{border:1px solid #ccc;padding:.2em .6em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}td.num{text-align:right}"
    "dl.run{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}dl.run dt{font-weight:600}"
    "dl.run dd{margin:0}"
    "tr.v-pass td.verdict{background:#d7f0dc;color:#11501f}"
    "tr.v-failure td.verdict{background:#fbd3cf;color:#8a1c10}"
    "tr.v-error td.verdict{background:#ffb3a7;color:#6b0000;font-weight:600}"
    "tr.v-skipped td.verdict{background:#e6e6e6;color:#555}"
    "table.overview tr.v-pass td:first-child{border-left:4px solid #3a9b50}"
    "table.overview tr.v-failure td:first-child{border-left:4px solid #d0442f}"
    "table.overview tr.v-error td:first-child{border-left:4px solid #6b0000}"
    "pre{margin:0;white-space:pre-wrap;word-break:break-word;font:12px/1.3 monospace}"
    "p.meta{color:#555;margin:.1em 0}p.note{color:#8a4b00}"
    "svg text{font:12px sans-serif;fill:#222}svg .tick text{fill:#555}"
    "svg .grid{stroke:#ddd}svg .zero{stroke:#555}svg .axis{stroke:#555}"
    "svg .bar{fill:#9cc3e6}svg .ci{stroke:#1f4e79;stroke-width:1.5}svg .dot{fill:#1f4e79}"
    "svg .failure .bar{fill:#f0a39a}svg .failure .dot{fill:#8a1c10}"
    "svg .noisy .dot{fill:#d67f00}svg text.noisy-mark{fill:#d67f00;font-weight:600}"
    "div.tail{margin-top:.4em}p.tail-note{margin:.1em 0;color:#555;font-style:italic}"
    "pre.tail{background:#f7f7f7;border-left:3px solid #ccc;padding:.2em .4em}"
    "p.files a{margin-right:1em}"
    "div.time{display:flex;align-items:center;gap:.6em;margin:.2em 0}"
    "span.swatch{display:inline-block;width:.9em;height:.9em;vertical-align:middle;"
    "margin:0 .25em 0 .8em}"
    ".t-prepare{fill:#b39ddb;background:#b39ddb}.t-boot{fill:#f2c14e;background:#f2c14e}"
    ".t-install{fill:#6aaa64;background:#6aaa64}.t-tests{fill:#3f7fd9;background:#3f7fd9}"
    ".t-benchmark{fill:#e07a5f;background:#e07a5f}.t-collect{fill:#5c6b80;background:#5c6b80}"
    ".t-teardown{fill:#a8a29e;background:#a8a29e}";

/* The properties a run shares, as "a, b" of the distinct values over its suites. */
static void add_distinct(struct mr_buf *b, const struct mr_report *r, const char *name)
{
    _cleanup_free_ const char **v = NULL;
    size_t n = mr_report_distinct_prop(r, name, &v);
    for (size_t i = 0; i < n; i++) {
        if (i)
            mr_buf_adds(b, ", ");
        mr_html_escape(b, v[i]);
    }
    if (!n)
        mr_buf_adds(b, "-");
}

static void header(struct mr_buf *b, const struct mr_report *r, const char *source)
{
    static const struct {
        const char *label, *prop;
    } rows[] = {
        { "run id", MR_PROP_RUN_ID },
        { "hosts", MR_PROP_HOST },
        { "host kernel", MR_PROP_HOST_KERNEL },
        { "host CPU", MR_PROP_HOST_CPU_MODEL },
        { "nested virtualization", MR_PROP_HOST_NESTED },
        { "accelerator", MR_PROP_ACCEL },
    };
    mr_buf_adds(b, "<dl class=\"run\">\n");
    for (size_t i = 0; i < MR_ARRAY_SIZE(rows); i++) {
        mr_buf_addf(b, "<dt>%s</dt><dd class=\"%s\">", rows[i].label, rows[i].prop);
        add_distinct(b, r, rows[i].prop);
        mr_buf_adds(b, "</dd>\n");
    }
    int64_t first = 0;
    for (size_t i = 0; i < r->n_suites; i++)
        if (r->suites[i]->timestamp_ms && (!first || r->suites[i]->timestamp_ms < first))
            first = r->suites[i]->timestamp_ms;
    if (first) {
        time_t t = (time_t)(first / 1000);
        struct tm tm;
        char ts[40];
        gmtime_r(&t, &tm);
        strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm);
        mr_buf_addf(b, "<dt>date</dt><dd class=\"date\">%s</dd>\n", ts);
    }
    if (source) {
        mr_buf_adds(b, "<dt>report</dt><dd class=\"source\">");
        mr_html_escape(b, source);
        mr_buf_adds(b, "</dd>\n");
    }
    struct mr_counts n = mr_report_counts(r);
    mr_buf_addf(b, "<dt>totals</dt><dd class=\"totals\">%zu cell(s), %zu testcase(s): %zu passed, "
                "%zu failed, %zu error(s), %zu skipped</dd>\n</dl>\n",
                r->n_suites, n.tests, n.tests - n.failures - n.errors - n.skipped, n.failures,
                n.errors, n.skipped);
}

/* A tick step of 1, 2 or 5 times a power of ten giving four to eight ticks over span. */
static double nice_step(double span)
{
    double raw = span / 8;
    double mag = pow(10, floor(log10(raw)));
    static const double m[] = { 1, 2, 5, 10 };
    for (size_t i = 0; i < MR_ARRAY_SIZE(m); i++)
        if (m[i] * mag >= raw)
            return m[i] * mag;
    return 10 * mag;
}

/* Chart geometry, in SVG user units. */
enum {
    ROW_H = 30,
    TOP = 16,
    PLOT_W = 520,
    VALUE_W = 300,
    AXIS_H = 48,
};

struct chart_cell {
    const struct mr_suite *s;
    struct mr_bench b;
};

/* The chart's cells (those with figures) and where everything goes. */
struct chart {
    struct chart_cell *cells;
    size_t n;
    double lo, hi;           /* the axis' ends, percent */
    double step, first_tick; /* ticks at first_tick + k * step, k = 0..nticks */
    long nticks;
    int decimals;            /* of the tick labels */
    int label_w;             /* width of the cell names' column */
    int width, height, plot_bottom;
};

/* The x coordinate of an overhead of v percent. */
static double chart_x(const struct chart *ch, double v)
{
    return ch->label_w + (v - ch->lo) / (ch->hi - ch->lo) * PLOT_W;
}

/* Why a cell without usable figures is not in the chart, as a note under it. */
static void chart_note(struct mr_buf *notes, const struct mr_suite *s, const struct mr_bench *b)
{
    if (b->state == MR_BENCH_INVALID) {
        mr_buf_adds(notes, "<p class=\"note invalid\">");
        mr_html_escape(notes, s->name);
        mr_buf_adds(notes, ": left out of the chart: ");
        mr_html_escape(notes, b->why);
        mr_buf_adds(notes, " is missing or not a number in range</p>\n");
    } else if (b->state == MR_BENCH_NODATA) {
        mr_buf_adds(notes, "<p class=\"note nodata\">");
        mr_html_escape(notes, s->name);
        mr_buf_addf(notes, ": benchmark %s, no figures", verdict_name(b->verdict));
        if (b->message && *b->message) {
            mr_buf_adds(notes, ": ");
            esc_cut(notes, b->message, 300);
        }
        mr_buf_adds(notes, "</p>\n");
    }
}

/* Takes the cells with figures into ch, and appends a note for each that has some but
 * not usable ones. */
static void chart_cells(struct chart *ch, const struct mr_report *r, struct mr_buf *notes)
{
    ch->cells = mr_xcalloc(r->n_suites ? r->n_suites : 1, sizeof(*ch->cells));
    ch->n = 0;
    for (size_t i = 0; i < r->n_suites; i++) {
        struct mr_bench bench;
        mr_bench_from_suite(r->suites[i], &bench);
        if (bench.state == MR_BENCH_OK) {
            ch->cells[ch->n].s = r->suites[i];
            ch->cells[ch->n++].b = bench;
        } else {
            chart_note(notes, r->suites[i], &bench);
        }
    }
}

/* The axis' range (zero and every interval, a little room past the ends), its ticks, and
 * the picture's size. */
static void chart_scale(struct chart *ch)
{
    double lo = 0, hi = 0;
    size_t label_cols = 4;
    for (size_t i = 0; i < ch->n; i++) {
        lo = ch->cells[i].b.low < lo ? ch->cells[i].b.low : lo;
        hi = ch->cells[i].b.high > hi ? ch->cells[i].b.high : hi;
        size_t c = mr_text_cols(ch->cells[i].s->name);
        label_cols = c > label_cols ? c : label_cols;
    }
    if (hi - lo < 1e-9)
        hi = lo + 1;
    ch->step = nice_step(hi - lo);
    double padding = (hi - lo) * 0.03;
    ch->lo = lo - padding;
    ch->hi = hi + padding;
    ch->first_tick = ceil(ch->lo / ch->step) * ch->step;
    ch->nticks = lround(floor((ch->hi - ch->first_tick) / ch->step));
    ch->decimals = ch->step >= 1 ? 0 : (int)ceil(-log10(ch->step) - 1e-9);
    label_cols = label_cols > MAX_LABEL_COLS ? MAX_LABEL_COLS : label_cols;
    ch->label_w = 16 + 7 * (int)label_cols;
    ch->width = ch->label_w + PLOT_W + VALUE_W;
    ch->plot_bottom = TOP + (int)ch->n * ROW_H;
    ch->height = ch->plot_bottom + AXIS_H;
}

/* The paragraph that reads the chart, and the picture's frame. */
static void chart_open(struct mr_buf *b, const struct chart *ch)
{
    mr_buf_addf(b, "<p>Each cell's median overhead, (guest time / host time &#8722; 1) &#215; "
                   "100, as a dot on its bar, with its 95%% bootstrap interval as an error bar. "
                   "Cells marked <span class=\"noisy-mark\">noisy</span> had times that "
                   "varied more than the benchmark accepts; red bars are cells whose overhead "
                   "is above the matrix's limit.</p>\n");
    mr_buf_addf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"overhead-chart\" "
                   "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                   "aria-label=\"CPU overhead per cell\" data-axis-min=\"%.2f\" "
                   "data-axis-max=\"%.2f\">\n",
                ch->width, ch->height, ch->width, ch->height, ch->lo, ch->hi);
    mr_buf_addf(b, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
                ch->width, ch->height);
}

/* The grid lines with their values, the axis and its label. */
static void chart_axis(struct mr_buf *b, const struct chart *ch)
{
    for (long k = 0; k <= ch->nticks; k++) {
        double v = ch->first_tick + (double)k * ch->step;
        if (fabs(v) < ch->step * 1e-9)
            v = 0; /* no "-0" */
        double x = chart_x(ch, v);
        mr_buf_addf(b, "<g class=\"tick\" data-value=\"%.*f\"><line class=\"%s\" x1=\"%.1f\" "
                       "y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/><text x=\"%.1f\" y=\"%d\" "
                       "text-anchor=\"middle\">%.*f</text></g>\n",
                    ch->decimals, v, v == 0 ? "zero" : "grid", x, TOP - 6, x,
                    ch->plot_bottom + 4, x, ch->plot_bottom + 18, ch->decimals, v);
    }
    mr_buf_addf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
                ch->label_w, ch->plot_bottom + 4, ch->label_w + PLOT_W, ch->plot_bottom + 4);
    mr_buf_addf(b, "<text class=\"axis-label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">CPU "
                   "overhead, %% (0 = as fast as the host)</text>\n",
                ch->label_w + PLOT_W / 2, ch->plot_bottom + 38);
}

/* One cell's row: its name, bar, interval, dot and figures, with the figures also as
 * data attributes and a tooltip. */
static void chart_bar(struct mr_buf *b, const struct chart *ch, size_t i)
{
    const struct chart_cell *c = &ch->cells[i];
    int y = TOP + (int)i * ROW_H + ROW_H / 2;
    double x0 = chart_x(ch, 0.0), xv = chart_x(ch, c->b.overhead);
    double xl = chart_x(ch, c->b.low), xh = chart_x(ch, c->b.high);
    int failed = c->b.verdict == MR_VERDICT_FAIL;
    mr_buf_addf(b, "<g class=\"cell%s%s\" data-cell=\"", failed ? " failure" : "",
                c->b.noisy ? " noisy" : "");
    mr_html_escape(b, c->s->name);
    mr_buf_addf(b, "\" data-overhead=\"%.2f\" data-low=\"%.2f\" data-high=\"%.2f\" "
                   "data-noisy=\"%s\" data-verdict=\"%s\">\n<title>",
                c->b.overhead, c->b.low, c->b.high, c->b.noisy ? "yes" : "no",
                verdict_name(c->b.verdict));
    mr_html_escape(b, c->s->name);
    mr_buf_addf(b, ": %.2f %% [%.2f, %.2f]%s</title>\n", c->b.overhead, c->b.low, c->b.high,
                c->b.noisy ? " (noisy)" : "");
    struct mr_buf label;
    mr_buf_init(&label);
    mr_buf_add(&label, "", 0);
    mr_buf_add_cols(&label, c->s->name, MAX_LABEL_COLS);
    mr_buf_addf(b, "<text class=\"name\" x=\"%d\" y=\"%d\" text-anchor=\"end\">",
                ch->label_w - 8, y + 4);
    mr_html_escape(b, label.data);
    mr_buf_adds(b, "</text>\n");
    mr_buf_release(&label);
    mr_buf_addf(b, "<rect class=\"bar\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"12\"/>\n",
                xv < x0 ? xv : x0, y - 6, fabs(xv - x0));
    mr_buf_addf(b, "<line class=\"ci\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                   "<line class=\"ci\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                   "<line class=\"ci\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>\n",
                xl, y, xh, y, xl, y - 6, xl, y + 6, xh, y - 6, xh, y + 6);
    mr_buf_addf(b, "<circle class=\"dot\" cx=\"%.1f\" cy=\"%d\" r=\"4\"/>\n", xv, y);
    mr_buf_addf(b, "<text class=\"value\" x=\"%d\" y=\"%d\"><tspan class=\"overhead\">%.2f"
                   "</tspan> %% [<tspan class=\"low\">%.2f</tspan>, <tspan class=\"high\">"
                   "%.2f</tspan>]</text>\n",
                ch->label_w + PLOT_W + 12, y + 4, c->b.overhead, c->b.low, c->b.high);
    if (c->b.noisy)
        mr_buf_addf(b, "<text class=\"noisy-mark\" x=\"%d\" y=\"%d\">noisy</text>\n",
                    ch->label_w + PLOT_W + VALUE_W - 46, y + 4);
    mr_buf_adds(b, "</g>\n");
}

/* The chart section: heading, the chart or why there is none, and the notes. */
static void chart(struct mr_buf *b, const struct mr_report *r)
{
    struct chart ch;
    struct mr_buf notes;
    mr_buf_init(&notes);
    mr_buf_add(&notes, "", 0);
    chart_cells(&ch, r, &notes);
    mr_buf_adds(b, "<h2>CPU overhead of the guest over the host</h2>\n");
    if (ch.n == 0) {
        mr_buf_adds(b, "<p class=\"no-benchmark\">No cell of this report has CPU benchmark "
                       "figures, so there is no chart.</p>\n");
    } else {
        chart_scale(&ch);
        chart_open(b, &ch);
        chart_axis(b, &ch);
        for (size_t i = 0; i < ch.n; i++)
            chart_bar(b, &ch, i);
        mr_buf_adds(b, "</svg>\n");
    }
    mr_buf_adds(b, notes.data);
    mr_buf_release(&notes);
    free(ch.cells);
}

/* Appends s as one path segment of a URL: every byte but unreserved ones as %XX, so a
 * name cannot end the attribute, add a query or fragment, or climb a folder. */
static void url_segment(struct mr_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            mr_buf_add(b, p, 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            mr_buf_add(b, e, 3);
        }
    }
}

/* The cell's files the page links when they exist: the run writes them in the report's
 * folder under the suite's name (README, "The report"). */
static const struct {
    const char *file, *cls, *label;
} cell_files[] = {
    { "serial.log", "serial-log", "serial log" },
    { "artifacts.tar.gz", "artifacts", "artifacts archive" },
};

/* Links to the files of the cell that exist, in a paragraph, or nothing. A name that is
 * not one path component is never looked for: a report may be hostile. */
static void cell_links(struct mr_buf *b, const struct mr_suite *s, const struct mr_html_files *f)
{
    if (!f || !*s->name || strchr(s->name, '/') || strcmp(s->name, ".") == 0 ||
        strcmp(s->name, "..") == 0)
        return;
    int any = 0;
    for (size_t i = 0; i < MR_ARRAY_SIZE(cell_files); i++) {
        _cleanup_free_ char *path = mr_xasprintf("%s/%s/%s", f->dir, s->name, cell_files[i].file);
        struct stat st;
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        mr_buf_adds(b, any ? "" : "<p class=\"files\">");
        any = 1;
        struct mr_buf href;
        mr_buf_init(&href);
        mr_buf_adds(&href, f->href_base);
        url_segment(&href, s->name);
        mr_buf_addf(&href, "/%s", cell_files[i].file);
        mr_buf_addf(b, "<a class=\"%s\" href=\"", cell_files[i].cls);
        mr_html_escape(b, href.data);
        mr_buf_addf(b, "\">%s</a>", cell_files[i].label);
        mr_buf_release(&href);
    }
    if (any)
        mr_buf_adds(b, "</p>\n");
}

/* Where a cell's time went, in the order it went there. */
enum phase {
    PHASE_PREPARE,
    PHASE_BOOT,
    PHASE_INSTALL,
    PHASE_TESTS,
    PHASE_BENCHMARK,
    PHASE_COLLECT,
    PHASE_TEARDOWN,
    N_PHASES
};
static const char *const phase_names[N_PHASES] = { "prepare", "boot", "install", "tests",
                                                   "benchmark", "collect", "teardown" };
/* Width of a cell's time bar, in SVG user units. */
#define TIME_BAR_W 600

/* Seconds as a bar may hold them: a missing, unreadable, negative or absurd (past 30
 * years, which would make the sum overflow) figure is 0. */
static double phase_seconds(double v)
{
    return isfinite(v) && v > 0 && v < 1e9 ? v : 0;
}

static double prop_seconds(const struct mr_suite *s, const char *name)
{
    double v = 0;
    const char *t = mr_suite_prop(s, name);
    if (!t || mr_parse_double(t, &v) < 0)
        return 0;
    return phase_seconds(v);
}

/* The seconds of each phase: prepare, collect and teardown from the suite's properties,
 * the others from its testcases (tests: every testcase but boot, install and
 * benchmark.cpu, the first of each). */
static void cell_phases(const struct mr_suite *s, double sec[N_PHASES])
{
    int have[N_PHASES] = { 0 };
    memset(sec, 0, N_PHASES * sizeof(*sec));
    sec[PHASE_PREPARE] = prop_seconds(s, MR_PROP_TIME_PREPARE);
    sec[PHASE_COLLECT] = prop_seconds(s, MR_PROP_TIME_COLLECT);
    sec[PHASE_TEARDOWN] = prop_seconds(s, MR_PROP_TIME_TEARDOWN);
    for (size_t j = 0; j < s->n_cases; j++) {
        const struct mr_case *c = s->cases[j];
        enum phase p = PHASE_TESTS;
        if (strcmp(c->name, MR_CASE_BOOT) == 0)
            p = PHASE_BOOT;
        else if (strcmp(c->name, MR_CASE_INSTALL) == 0)
            p = PHASE_INSTALL;
        else if (strcmp(c->name, MR_CASE_BENCHMARK_CPU) == 0)
            p = PHASE_BENCHMARK;
        if (p != PHASE_TESTS && have[p])
            p = PHASE_TESTS;
        have[p] = 1;
        sec[p] += phase_seconds(c->time_s);
    }
}

/* The legend of the cells' time bars, once above them. */
static void time_legend(struct mr_buf *b)
{
    mr_buf_adds(b, "<p class=\"time-legend\">Each cell's bar shows where its time went, as "
                   "shares of its total:");
    for (size_t i = 0; i < N_PHASES; i++)
        mr_buf_addf(b, "<span class=\"swatch t-%s\"></span>%s", phase_names[i], phase_names[i]);
    mr_buf_adds(b, ". Tests are every testcase but boot, install and benchmark.cpu; a "
                   "time the report lacks counts as 0.</p>\n");
}

/* A cell's time bar: a segment per phase, as wide as its share of the cell's total. */
static void time_bar(struct mr_buf *b, const struct mr_suite *s)
{
    double sec[N_PHASES], total = 0;
    cell_phases(s, sec);
    for (size_t i = 0; i < N_PHASES; i++)
        total += sec[i];
    if (total <= 0) {
        mr_buf_adds(b, "<p class=\"time-none\">No times in the report for this cell.</p>\n");
        return;
    }
    mr_buf_addf(b, "<div class=\"time\"><svg xmlns=\"http://www.w3.org/2000/svg\" "
                   "class=\"time-bar\" width=\"%d\" height=\"14\" viewBox=\"0 0 %d 14\" "
                   "role=\"img\" aria-label=\"where the cell's time went\" "
                   "data-total=\"%.3f\">\n",
                TIME_BAR_W, TIME_BAR_W, total);
    double x = 0;
    for (size_t i = 0; i < N_PHASES; i++) {
        double w = sec[i] / total * TIME_BAR_W;
        mr_buf_addf(b, "<rect class=\"t-%s\" x=\"%.3f\" y=\"0\" width=\"%.3f\" height=\"14\" "
                       "data-phase=\"%s\" data-seconds=\"%.3f\"><title>%s %.2f s</title>"
                       "</rect>\n",
                    phase_names[i], x, w, phase_names[i], sec[i], phase_names[i], sec[i]);
        x += w;
    }
    mr_buf_addf(b, "</svg><span class=\"time-total\">%.1f s</span></div>\n", total);
}

/* The end of a failed case's output stream under its message, with a note when it was
 * cut. */
static void case_tail(struct mr_buf *b, const char *stream, const struct mr_tail *t)
{
    if (!t)
        return;
    mr_buf_addf(b, "<div class=\"tail\" data-stream=\"%s\"><p class=\"tail-note\">%s", stream,
                stream);
    if (!t->text) {
        mr_buf_addf(b, ": %llu line(s), not shown: the page shows at most %u MiB of output "
                       "in all</p></div>",
                    (unsigned long long)t->total_lines, MR_TAIL_MAX_TOTAL >> 20);
        return;
    }
    if (t->cut)
        mr_buf_addf(b, ", cut: the last %zu of %llu lines (%zu of %llu bytes)", t->lines,
                    (unsigned long long)t->total_lines, strlen(t->text),
                    (unsigned long long)t->total_bytes);
    else
        mr_buf_addf(b, " (%zu line(s))", t->lines);
    mr_buf_adds(b, "</p><pre class=\"tail\">");
    /* A last newline ends the last line; in <pre> it would show as an empty one. */
    size_t len = strlen(t->text);
    if (len && t->text[len - 1] == '\n')
        len--;
    _cleanup_free_ char *text = mr_xstrndup(t->text, len);
    mr_html_escape(b, text);
    mr_buf_adds(b, "</pre></div>");
}

static void cell_meta(struct mr_buf *b, const struct mr_suite *s)
{
    static const struct {
        const char *label, *prop;
    } items[] = {
        { "image", MR_PROP_IMAGE },
        { "family", MR_PROP_FAMILY },
        { "OS version", MR_PROP_OS_VERSION },
        { "guest kernel", MR_PROP_GUEST_KERNEL },
        { "vCPUs", MR_PROP_VCPUS },
        { "memory MiB", MR_PROP_MEMORY_MIB },
        { "host", MR_PROP_HOST },
        { "accel", MR_PROP_ACCEL },
    };
    mr_buf_adds(b, "<p class=\"meta\">");
    int any = 0;
    for (size_t i = 0; i < MR_ARRAY_SIZE(items); i++) {
        const char *v = mr_suite_prop(s, items[i].prop);
        if (!v)
            continue;
        mr_buf_addf(b, "%s%s ", any ? " &#183; " : "", items[i].label);
        mr_html_escape(b, v);
        any = 1;
    }
    mr_buf_addf(b, "%s%.1f s</p>\n", any ? " &#183; " : "", s->time_s);
}

static void verdicts(struct mr_buf *b, const struct mr_report *r, const struct mr_html_files *f)
{
    mr_buf_adds(b, "<h2>Cells</h2>\n<table class=\"overview\"><thead><tr><th>cell</th>"
                   "<th>passed</th><th>failed</th><th>errors</th><th>skipped</th></tr></thead>"
                   "<tbody>\n");
    for (size_t i = 0; i < r->n_suites; i++) {
        struct mr_counts n = mr_suite_counts(r->suites[i]);
        mr_buf_addf(b, "<tr class=\"%s\"><td><a href=\"#cell-%zu\">",
                    n.errors ? "v-error" : n.failures ? "v-failure" : "v-pass", i);
        mr_html_escape(b, r->suites[i]->name);
        mr_buf_addf(b, "</a></td><td class=\"num\">%zu</td><td class=\"num\">%zu</td>"
                       "<td class=\"num\">%zu</td><td class=\"num\">%zu</td></tr>\n",
                    n.tests - n.failures - n.errors - n.skipped, n.failures, n.errors,
                    n.skipped);
    }
    mr_buf_adds(b, "</tbody></table>\n");
    if (r->n_suites)
        time_legend(b);
    for (size_t i = 0; i < r->n_suites; i++) {
        const struct mr_suite *s = r->suites[i];
        /* The anchor is the suite's index: a name can hold anything. */
        mr_buf_addf(b, "<section class=\"cell\" id=\"cell-%zu\" data-cell=\"", i);
        mr_html_escape(b, s->name);
        mr_buf_adds(b, "\">\n<h3>");
        mr_html_escape(b, s->name);
        mr_buf_adds(b, "</h3>\n");
        cell_meta(b, s);
        cell_links(b, s, f);
        time_bar(b, s);
        mr_buf_adds(b, "<table class=\"verdicts\"><thead><tr><th>testcase</th><th>verdict</th>"
                       "<th>time</th><th>message</th></tr></thead><tbody>\n");
        for (size_t j = 0; j < s->n_cases; j++) {
            const struct mr_case *c = s->cases[j];
            mr_buf_addf(b, "<tr class=\"v-%s\"><td class=\"name\">", verdict_name(c->verdict));
            mr_html_escape(b, c->name);
            mr_buf_addf(b, "</td><td class=\"verdict\">%s</td><td class=\"num\">%.2f s</td>"
                           "<td><pre>",
                        verdict_name(c->verdict), c->time_s);
            if (c->message)
                esc_cut(b, c->message, MAX_MESSAGE_BYTES);
            mr_buf_adds(b, "</pre>");
            case_tail(b, "system-out", c->out_tail);
            case_tail(b, "system-err", c->err_tail);
            mr_buf_adds(b, "</td></tr>\n");
        }
        if (!s->n_cases)
            mr_buf_adds(b, "<tr><td colspan=\"4\">no testcases</td></tr>\n");
        mr_buf_adds(b, "</tbody></table>\n</section>\n");
    }
}

char *mr_html_render(const struct mr_report *r, const char *source, size_t *ret_len)
{
    return mr_html_render_files(r, source, NULL, ret_len);
}

char *mr_html_render_files(const struct mr_report *r, const char *source,
                           const struct mr_html_files *files, size_t *ret_len)
{
    struct mr_buf b;
    mr_buf_init(&b);
    /* No script and no fetch: the policy forbids both even if escaping ever failed. */
    mr_buf_addf(&b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                    "style-src 'unsafe-inline'\">\n<title>matrixrun ");
    const char *id = r->n_suites ? mr_suite_prop(r->suites[0], MR_PROP_RUN_ID) : NULL;
    mr_html_escape(&b, id ? id : r->name);
    mr_buf_addf(&b, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>matrixrun run ", css);
    mr_html_escape(&b, id ? id : r->name);
    mr_buf_adds(&b, "</h1>\n");
    header(&b, r, source);
    chart(&b, r);
    verdicts(&b, r, files);
    mr_buf_adds(&b, "</body>\n</html>\n");
    return mr_buf_detach(&b, ret_len);
}

/* The path from folder from to folder to (both absolute and canonical) as a relative URL
 * ending in "/", or "" when they are the same. */
static char *relative_href(const char *from, const char *to)
{
    size_t common = 0;
    /* The longest common prefix ending at a component's end. */
    for (size_t i = 0;; i++) {
        int from_end = from[i] == '/' || !from[i], to_end = to[i] == '/' || !to[i];
        if (from_end && to_end)
            common = i;
        if (!from[i] || !to[i] || from[i] != to[i])
            break;
    }
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_add(&b, "", 0);
    for (const char *p = from + common; *p; p++)
        if (*p == '/' && p[1])
            mr_buf_adds(&b, "../");
    _cleanup_free_ char *rest = mr_xstrdup(to + common);
    char *save = NULL;
    for (char *c = strtok_r(rest, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        url_segment(&b, c);
        mr_buf_adds(&b, "/");
    }
    return mr_buf_detach(&b, NULL);
}

static int html_write(const char *junit_path, const char *html_path,
                      unsigned long long max_bytes, struct mr_err *err)
{
    struct mr_report *r;
    int ret = mr_report_read_max(junit_path, MR_REPORT_MAX_ITEMS, max_bytes, &r, err);
    if (ret < 0)
        return ret;
    /* The cells' files are linked relative to the page, so the links hold when the
     * folders are copied or served together; without both folders' real paths (the
     * page's folder missing: the write fails below) there are no links. */
    _cleanup_free_ char *jdir = mr_path_dirname(junit_path);
    _cleanup_free_ char *pdir = mr_path_dirname(html_path);
    _cleanup_free_ char *jreal = realpath(jdir, NULL);
    _cleanup_free_ char *preal = realpath(pdir, NULL);
    _cleanup_free_ char *href = jreal && preal ? relative_href(preal, jreal) : NULL;
    struct mr_html_files files = { .dir = jdir, .href_base = href };
    size_t len;
    _cleanup_free_ char *html = mr_html_render_files(r, junit_path, href ? &files : NULL, &len);
    mr_report_free(r);
    return mr_file_write_atomic(html_path, html, len, err);
}

int mr_html_write(const char *junit_path, const char *html_path, struct mr_err *err)
{
    return html_write(junit_path, html_path, MR_REPORT_MAX_BYTES, err);
}

int mr_html_write_run(const char *junit_path, const char *html_path, struct mr_err *err)
{
    return html_write(junit_path, html_path, ULLONG_MAX, err);
}
