/* fuzz_matrix.c: libFuzzer harness for mr_matrix_load(): the input is a matrix file.
 *
 * The input is written to m.xml in the scratch folder, beside a link "files" to the unit
 * tests' tests/data/matrix/files, so the seeds' relative paths (files/base.qcow2...)
 * resolve and the loader gets past its file checks to the cell expansion. A loaded
 * matrix is checked against the limits matrix.h promises and selected in two shards. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "matrix.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_scratch_init("matrix");
    fz_scratch_link("files", MR_TEST_DATA "/matrix/files");
    return 0;
}

static void check_matrix(const struct mr_matrix *m)
{
    FZ_CHECK(m->n_hosts >= 1 && m->n_hosts <= MR_MAX_HOSTS, "%zu hosts", m->n_hosts);
    FZ_CHECK(m->uri && strcmp(m->uri, m->hosts[0].uri) == 0, "uri is not the first host's");
    FZ_CHECK(m->n_cells <= MR_MAX_CELLS, "%zu cells", m->n_cells);
    for (size_t i = 0; i < m->n_cells; i++) {
        const struct mr_cell *c = &m->cells[i];
        FZ_CHECK(strlen(c->id) <= MR_MAX_CELL_ID, "cell id of %zu bytes", strlen(c->id));
        FZ_CHECK(c->img >= m->images && c->img < m->images + m->n_images,
                 "cell '%s' has an image outside the matrix", c->id);
        FZ_CHECK(c->vcpus > 0 && c->memory_mib > 0, "cell '%s' has no size", c->id);
        /* Quadratic: only small matrices, or an input of 10000 cells would take seconds. */
        for (size_t j = 0; m->n_cells <= 256 && j < i; j++)
            FZ_CHECK(strcmp(m->cells[j].id, c->id) != 0, "two cells named '%s'", c->id);
    }
    /* Two shards: disjoint, and together every cell. */
    const struct mr_cell **s1 = NULL, **s2 = NULL;
    size_t n1 = 0, n2 = 0;
    struct mr_err err = { 0 };
    FZ_CHECK(mr_matrix_select(m, NULL, 0, 1, 2, &s1, &n1, &err) == 0, "select 1/2");
    FZ_CHECK(mr_matrix_select(m, NULL, 0, 2, 2, &s2, &n2, &err) == 0, "select 2/2");
    FZ_CHECK(n1 + n2 == m->n_cells, "shards hold %zu + %zu of %zu cells", n1, n2, m->n_cells);
    free(s1);
    free(s2);
    mr_err_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("m.xml", data, size);
    struct mr_matrix *m = NULL;
    struct mr_err err = { 0 };
    int r = mr_matrix_load(path, &m, &err);
    if (r < 0) {
        /* matrix.h: one line "FILE:LINE: message". */
        FZ_CHECK(err.msg && err.msg[0], "load failed (%d) without a message", r);
        FZ_CHECK(!strchr(err.msg, '\n'), "message of more than one line: %s", err.msg);
        FZ_CHECK(m == NULL, "load failed but handed a matrix over");
    } else {
        FZ_CHECK(m != NULL, "load succeeded without a matrix");
        check_matrix(m);
        mr_matrix_free(m);
    }
    mr_err_release(&err);
    return 0;
}
