/* fuzz_matrix_entities.c: libFuzzer harness that wraps its input into a matrix with a
 * DOCTYPE declaring entities, and checks that mr_matrix_load() refuses it.
 *
 * The input is not the file but its recipe: byte 0 picks the kind of DOCTYPE (nested
 * internal entities, an external entity naming a file, or a parameter entity that
 * declares the innermost one), byte 1 the nesting depth (1 to 8), byte 2 the references
 * per level (1 to 16), byte 3 where the outermost entity is used (matrix name, image name,
 * package version, test name, test command: one bit each), and the rest is the innermost
 * entity's text. Depth 8 with 16 references per level would expand to 16^8 copies of the
 * text: the "billion laughs" shape, which matrixrun must never expand. A matrix never
 * needs a DOCTYPE, so every input must be refused.
 *
 * MR_FUZZ_ALLOW_DOCTYPE=1 in the environment skips that check, to see what a loader that
 * accepts DOCTYPEs costs in memory and time (run with -rss_limit_mb and -timeout). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "matrix.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int allow_doctype;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_scratch_init("matrix_entities");
    fz_scratch_link("files", MR_TEST_DATA "/matrix/files");
    const char *env = getenv("MR_FUZZ_ALLOW_DOCTYPE");
    allow_doctype = env && strcmp(env, "1") == 0;
    return 0;
}

enum { USE_MATRIX_NAME = 1, USE_IMAGE_NAME = 2, USE_VERSION = 4, USE_TEST_NAME = 8,
       USE_COMMAND = 16 };

/* The innermost entity's text: printable ASCII without the characters that would end
 * the literal or start markup, so the document stays well-formed. */
static void add_text(struct mr_buf *b, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size && i < 64; i++) {
        char c = (char)data[i];
        if (data[i] < 0x20 || data[i] > 0x7e || strchr("&%<>\"'", c))
            c = 'x';
        mr_buf_add(b, &c, 1);
    }
}

static void add_doctype(struct mr_buf *b, unsigned kind, unsigned depth, unsigned fanout,
                        const uint8_t *text, size_t text_len)
{
    mr_buf_adds(b, "<!DOCTYPE matrix [\n");
    if (kind == 1) {
        mr_buf_adds(b, "<!ENTITY e0 SYSTEM \"files/extra.yaml\">\n");
    } else if (kind == 2) {
        mr_buf_adds(b, "<!ENTITY % p \"<!ENTITY e0 '");
        add_text(b, text, text_len);
        mr_buf_adds(b, "'>\">\n%p;\n");
    } else {
        mr_buf_adds(b, "<!ENTITY e0 \"");
        add_text(b, text, text_len);
        mr_buf_adds(b, "\">\n");
    }
    for (unsigned l = 1; l <= depth; l++) {
        mr_buf_addf(b, "<!ENTITY e%u \"", l);
        for (unsigned f = 0; f < fanout; f++)
            mr_buf_addf(b, "&e%u;", l - 1);
        mr_buf_adds(b, "\">\n");
    }
    mr_buf_adds(b, "]>\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    unsigned kind = data[0] % 3, depth = 1 + data[1] % 8, fanout = 1 + data[2] % 16;
    unsigned use = data[3];
    char top[16];
    snprintf(top, sizeof(top), "&e%u;", depth);
#define AT(bit, plain) ((use & (bit)) ? top : (plain))
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    add_doctype(&b, kind, depth, fanout, data + 4, size - 4);
    mr_buf_addf(&b,
                "<matrix version=\"1\" name=\"%s\">\n"
                "  <host uri=\"test:///default\" accel=\"tcg\"/>\n"
                "  <image name=\"%s\" family=\"debian\">\n"
                "    <kernel path=\"files/vmlinuz\" initrd=\"files/initrd\"/>\n"
                "    <hostkey path=\"files/host.pub\"/>\n"
                "  </image>\n"
                "  <package name=\"pkg\" version=\"%s\">\n"
                "    <artifact family=\"debian\" path=\"files/pkg.deb\"/>\n"
                "  </package>\n"
                "  <test name=\"%s\">%s</test>\n"
                "</matrix>\n",
                AT(USE_MATRIX_NAME, "ent"), AT(USE_IMAGE_NAME, "img"), AT(USE_VERSION, "1.0"),
                AT(USE_TEST_NAME, "t"), AT(USE_COMMAND, "true"));
#undef AT
    const char *path = fz_write("m.xml", (const uint8_t *)b.data, b.len);
    struct mr_matrix *m = NULL;
    struct mr_err err = { 0 };
    int r = mr_matrix_load(path, &m, &err);
    FZ_CHECK(r < 0 || allow_doctype, "a matrix with a DOCTYPE was loaded (kind %u, depth %u, "
             "%u references per level, uses 0x%x)", kind, depth, fanout, use);
    mr_matrix_free(m);
    mr_err_release(&err);
    mr_buf_release(&b);
    return 0;
}
