/* fuzz_report.c: libFuzzer harness for mr_report_read() and what renders a report read
 * back: the HTML page (mr_html_render, and mr_html_render_files with the cells' files of
 * a few cell names in the scratch folder) and the comparison table (mr_compare_new and
 * mr_compare_render over the report against itself, and against an empty report).
 *
 * The input is a JUnit file; it is written to r.xml in the scratch folder and read by
 * path, as matrixrun reads one. A page must be well-formed UTF-8 of the length it
 * reports, and since every text from the report is escaped, must hold no element that
 * runs code or fetches, and no link but to its own anchors and, percent-encoded, to the
 * cells' files. The ends of output kept for the page must be within their bounds
 * (report.h, struct mr_tail). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "compare.h"
#include "fuzz_util.h"
#include "html.h"
#include "report_read.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Cells whose files exist in <scratch>/cells: names of the seed corpus' cells, and one
 * that needs percent-encoding. */
static const char *const file_cells[] = { "deb12-1cpu", "deb12-fail", "a b#?<'\"&%" };
static char cells_dir[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_scratch_init("report");
    snprintf(cells_dir, sizeof(cells_dir), "%s/cells", fz_scratch_dir());
    (void)mkdir(cells_dir, 0700);
    for (size_t i = 0; i < sizeof(file_cells) / sizeof(file_cells[0]); i++) {
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", cells_dir, file_cells[i]);
        (void)mkdir(path, 0700);
        static const char *const files[] = { "serial.log", "artifacts.tar.gz" };
        for (size_t j = 0; j < 2; j++) {
            snprintf(path, sizeof(path), "%s/%s/%s", cells_dir, file_cells[i], files[j]);
            FILE *f = fopen(path, "w");
            if (f)
                fclose(f);
        }
    }
    return 0;
}

/* The first tag in the page that would run code or fetch something, or NULL. The page
 * writes none of them (html.h), and links only to its own anchors (<a href="#cell-N">):
 * another appears only when report text went in unescaped. */
static const char *active_element(const char *html)
{
    static const char *const names[] = { "script", "iframe", "frame", "object", "embed",
                                         "img", "image", "link", "base", "form", "a",
                                         "audio", "video", "source", "use", "input",
                                         "foreignobject", "animate", "set" };
    static const char self_link[] = "<a href=\"#cell-";
    static const char *const file_links[] = { "<a class=\"serial-log\" href=\"",
                                              "<a class=\"artifacts\" href=\"" };
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        size_t l = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        if (strncmp(p, self_link, sizeof(self_link) - 1) == 0)
            continue;
        /* A cell file's link: a relative path of unreserved characters and escapes. */
        int file_link = 0;
        for (size_t i = 0; i < 2; i++) {
            size_t n = strlen(file_links[i]);
            if (strncmp(p, file_links[i], n) == 0) {
                const char *h = p + n;
                size_t hl = strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789-._~%/");
                if (h[hl] != '"' || h[0] == '/')
                    return p;
                file_link = 1;
            }
        }
        if (file_link)
            continue;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i]) == l && strncasecmp(p + 1, names[i], l) == 0)
                return p;
    }
    return NULL;
}

static void check_html(const struct mr_report *r, const struct mr_html_files *files)
{
    size_t len = 0;
    char *html = mr_html_render_files(r, "fuzz/r.xml", files, &len);
    FZ_CHECK(html && strlen(html) == len, "page of %zu bytes says %zu", html ? strlen(html) : 0,
             len);
    FZ_CHECK(fz_utf8_valid(html, len), "page is not UTF-8");
    const char *bad = active_element(html);
    FZ_CHECK(!bad, "page holds an element that runs or fetches: %.40s", bad);
    free(html);
}

/* report.h: only a failed or errored case has tails, within their bounds. */
static void check_tail(const struct mr_case *c, const struct mr_tail *t)
{
    if (!t)
        return;
    FZ_CHECK(c->verdict == MR_VERDICT_FAIL || c->verdict == MR_VERDICT_ERROR,
             "case '%s' of verdict %d has output kept", c->name, (int)c->verdict);
    FZ_CHECK(t->lines <= t->total_lines, "%zu lines of %llu", t->lines,
             (unsigned long long)t->total_lines);
    if (!t->text)
        return;
    size_t n = strlen(t->text);
    FZ_CHECK(n <= MR_TAIL_MAX_BYTES && t->lines <= MR_TAIL_MAX_LINES && n <= t->total_bytes,
             "tail of %zu bytes, %zu lines, of %llu bytes", n, t->lines,
             (unsigned long long)t->total_bytes);
    FZ_CHECK(t->cut == (n < t->total_bytes), "cut %d with %zu of %llu bytes", t->cut, n,
             (unsigned long long)t->total_bytes);
    FZ_CHECK(fz_utf8_valid(t->text, n), "tail is not UTF-8");
}

static void check_compare(const struct mr_report *const *reps, size_t n)
{
    const char *labels[] = { "fuzz/a.xml", "fuzz/b.xml" };
    struct mr_compare *c = mr_compare_new(reps, labels, n);
    FZ_CHECK(c && c->n_runs == n, "compare of %zu runs", n);
    for (size_t i = 0; i < c->n_rows; i++)
        for (size_t j = 1; j < n; j++) {
            double pp = 0;
            int marked = 0;
            (void)mr_compare_change(&c->rows[i], j, &pp, &marked);
        }
    char *text = mr_compare_render(c);
    FZ_CHECK(text != NULL, "no comparison text");
    free(text);
    mr_compare_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("r.xml", data, size);
    struct mr_report *r = NULL;
    struct mr_err err = { 0 };
    if (mr_report_read(path, &r, &err) < 0) {
        FZ_CHECK(err.msg && err.msg[0], "read failed without a message");
        mr_err_release(&err);
        return 0;
    }
    check_html(r, NULL);
    const struct mr_html_files files = { .dir = cells_dir, .href_base = "../x%20y/" };
    check_html(r, &files);
    for (size_t i = 0; i < r->n_suites; i++)
        for (size_t j = 0; j < r->suites[i]->n_cases; j++) {
            check_tail(r->suites[i]->cases[j], r->suites[i]->cases[j]->out_tail);
            check_tail(r->suites[i]->cases[j], r->suites[i]->cases[j]->err_tail);
        }
    struct mr_report *empty = mr_report_new("empty");
    const struct mr_report *same[] = { r, r }, *with_empty[] = { empty, r };
    check_compare(same, 2);
    check_compare(with_empty, 2);
    for (size_t i = 0; i < r->n_suites; i++) {
        struct mr_bench bench;
        mr_bench_from_suite(r->suites[i], &bench);
        /* report_read.h: figures that do not hold together are MR_BENCH_INVALID. */
        if (bench.state == MR_BENCH_OK)
            FZ_CHECK(bench.low <= bench.overhead && bench.overhead <= bench.high &&
                         bench.overhead > -100 && bench.overhead < 1e6,
                     "suite %zu: overhead %g outside its interval [%g, %g] or range", i,
                     bench.overhead, bench.low, bench.high);
    }
    mr_report_free(empty);
    mr_report_free(r);
    return 0;
}
