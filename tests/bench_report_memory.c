/* bench_report_memory.c: the memory a run's report costs, by number of cells.
 *
 *   bench_report_memory CELLS MIB-PER-CELL spill|memory DIR
 *
 * Builds a report the way the pipeline does (a report per cell, sharing the run's spill
 * file in "spill" mode, moved into the run's report when the cell ends), each cell with
 * one test whose output is MIB-PER-CELL MiB of printable bytes (a command's output is
 * capped at 4 MiB per stream), writes DIR/junit.xml and the summary page from it, and prints
 * one line: the figures and this process's peak resident memory (getrusage). "memory" is the behaviour without a
 * spill file. tests/bench_report_memory.sh runs both side by side. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "html.h"
#include "junit.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_report_memory CELLS MIB-PER-CELL spill|memory DIR\n");
        return 2;
    }
    size_t cells = strtoul(argv[1], NULL, 10);
    size_t bytes = strtoul(argv[2], NULL, 10) * 1024 * 1024;
    int spill = strcmp(argv[3], "spill") == 0;
    const char *dir = argv[4];
    struct mr_err e = { 0 };
    struct mr_report *run = mr_report_new("bench");
    if (spill && mr_report_spill_to(run, dir, &e) < 0) {
        fprintf(stderr, "bench_report_memory: %s\n", mr_err_msg(&e));
        return 1;
    }
    char *out = mr_xmalloc(bytes ? bytes : 1);
    for (size_t i = 0; i < bytes; i++)
        out[i] = (char)(i % 79 == 78 ? '\n' : 'A' + (int)(i % 26));
    int64_t t0 = mr_now_ms();
    for (size_t i = 0; i < cells; i++) {
        struct mr_report *cell = mr_report_new("bench");
        mr_report_share_spill(cell, run);
        char name[32];
        snprintf(name, sizeof(name), "cell-%zu", i);
        struct mr_suite *s = mr_report_add_suite(cell, name);
        mr_suite_add_case(s, "bench", "boot");
        struct mr_case *c = mr_suite_add_case(s, "bench", "test");
        out[i % (bytes ? bytes : 1)] = '#'; /* each cell's output its own */
        mr_case_set_out(c, out, bytes);
        mr_report_move_suites(run, cell);
        mr_report_free(cell);
    }
    free(out);
    int64_t t1 = mr_now_ms();
    char *path = mr_xasprintf("%s/junit.xml", dir);
    if (mr_junit_write(run, path, &e) < 0) {
        fprintf(stderr, "bench_report_memory: %s\n", mr_err_msg(&e));
        return 1;
    }
    int64_t t2 = mr_now_ms();
    /* The summary page, read back from junit.xml, as a run writes it. */
    char *html = mr_xasprintf("%s/summary.html", dir);
    if (mr_html_write_run(path, html, &e) < 0) {
        fprintf(stderr, "bench_report_memory: %s\n", mr_err_msg(&e));
        return 1;
    }
    int64_t t3 = mr_now_ms();
    unlink(html);
    free(html);
    struct stat st;
    struct rusage ru;
    stat(path, &st);
    getrusage(RUSAGE_SELF, &ru);
    printf("%-6s cells %5zu  output %6.0f MiB  junit.xml %7.1f MiB  peak RSS %7.1f MiB  "
           "build %5.1f s  junit %5.1f s  html %5.1f s\n",
           argv[3], cells, (double)cells * (double)bytes / 1048576.0,
           (double)st.st_size / 1048576.0, (double)ru.ru_maxrss / 1024.0,
           (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0, (double)(t3 - t2) / 1000.0);
    unlink(path);
    free(path);
    mr_report_free(run);
    return 0;
}
