/* fuzz_report.c: libFuzzer harness for mr_report_read() and what renders a report read
 * back: the HTML page (mr_html_render) and the comparison table (mr_compare_new and
 * mr_compare_render over the report against itself, and against an empty report).
 *
 * The input is a JUnit file; it is written to r.xml in the scratch folder and read by
 * path, as matrixrun reads one. A page must be well-formed UTF-8 of the length it
 * reports, and since every text from the report is escaped, must hold no element that
 * runs code or fetches. */
#define _GNU_SOURCE
#include <string.h>
#include <strings.h>

#include "compare.h"
#include "fuzz_util.h"
#include "html.h"
#include "report_read.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_scratch_init("report");
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
    for (const char *p = strchr(html, '<'); p; p = strchr(p + 1, '<')) {
        size_t l = strspn(p + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            if (strlen(names[i]) == l && strncasecmp(p + 1, names[i], l) == 0 &&
                strncmp(p, self_link, sizeof(self_link) - 1) != 0)
                return p;
    }
    return NULL;
}

static void check_html(const struct mr_report *r)
{
    size_t len = 0;
    char *html = mr_html_render(r, "fuzz/r.xml", &len);
    FZ_CHECK(html && strlen(html) == len, "page of %zu bytes says %zu", html ? strlen(html) : 0,
             len);
    FZ_CHECK(fz_utf8_valid(html, len), "page is not UTF-8");
    const char *bad = active_element(html);
    FZ_CHECK(!bad, "page holds an element that runs or fetches: %.40s", bad);
    free(html);
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
    check_html(r);
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
