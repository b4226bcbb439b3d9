/* fuzz_family_logs.c: libFuzzer harness for mr_family_logs_parse(), the reader of the
 * batched log script's two output streams.
 *
 * Input: a header line "N CAP NONCE\n" (N commands, 0 to 64; CAP the stdout cap; NONCE
 * the rest of the line), then the stdout stream, the line "@@stderr@@\n", and the stderr
 * stream (no such line: stderr is empty). Each stream is copied into a heap block of its
 * exact size, so a read past either end is caught.
 *
 * Two checks on each input:
 * - parse the streams as given: on success every frame lies inside its stream and
 *   within its cap, and every status has at most three digits;
 * - round trip: cut the two streams into N pieces each, frame them as the shell script
 *   does (mr_family_logs_script's printf lines) and parse that: when no piece holds the
 *   marker "MR-<NONCE>" (which a fresh random nonce guarantees in real use), the parser
 *   must give back exactly the pieces, cut to their caps, and the statuses. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "family.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CMDS 64
static const char sep[] = "@@stderr@@\n";

struct input {
    size_t n, cap;
    char *nonce;
    const uint8_t *out, *err;
    size_t out_len, err_len;
};

/* Reads a decimal of at most 7 digits ending at c; 0 or -1. */
static int header_num(const uint8_t **p, const uint8_t *end, char c, size_t *ret)
{
    size_t v = 0, digits = 0;
    for (; *p < end && **p >= '0' && **p <= '9' && digits < 7; (*p)++, digits++)
        v = v * 10 + (size_t)(**p - '0');
    if (!digits || *p >= end || **p != c)
        return -1;
    (*p)++;
    *ret = v;
    return 0;
}

static int split(const uint8_t *data, size_t size, struct input *in)
{
    const uint8_t *p = data, *end = data + size;
    if (header_num(&p, end, ' ', &in->n) < 0 || in->n > MAX_CMDS ||
        header_num(&p, end, ' ', &in->cap) < 0)
        return -1;
    const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl)
        return -1;
    in->nonce = mr_xstrndup((const char *)p, (size_t)(nl - p));
    p = nl + 1;
    const uint8_t *s = memmem(p, (size_t)(end - p), sep, sizeof(sep) - 1);
    in->out = p;
    in->out_len = s ? (size_t)(s - p) : (size_t)(end - p);
    in->err = s ? s + sizeof(sep) - 1 : end;
    in->err_len = (size_t)(end - in->err);
    return 0;
}

static void check_parsed(const char *out, size_t out_len, const char *err, size_t err_len,
                         const struct input *in, const struct mr_family_log_result *res)
{
    for (size_t i = 0; i < in->n; i++) {
        const struct mr_family_log_result *r = &res[i];
        FZ_CHECK(r->out >= out && r->out + r->out_len <= out + out_len,
                 "frame %zu's stdout lies outside the stream", i);
        FZ_CHECK(r->err >= err && r->err + r->err_len <= err + err_len,
                 "frame %zu's stderr lies outside the stream", i);
        FZ_CHECK(r->out_len <= in->cap, "frame %zu: %zu bytes over a cap of %zu", i,
                 r->out_len, in->cap);
        FZ_CHECK(r->err_len <= MR_FAMILY_LOG_ERR_CAP, "frame %zu: %zu bytes of stderr", i,
                 r->err_len);
        FZ_CHECK(r->status >= 0 && r->status <= 999, "frame %zu: status %d", i, r->status);
        FZ_CHECK(r->out_dropped == 0 || r->out_len == in->cap, "frame %zu: dropped %zu", i,
                 r->out_dropped);
    }
}

/* Piece i of n of a stream: the stream cut at n - 1 evenly spaced points. */
static void piece(const uint8_t *s, size_t len, size_t i, size_t n, const uint8_t **ret,
                  size_t *ret_len)
{
    size_t from = len * i / n, to = len * (i + 1) / n;
    *ret = s + from;
    *ret_len = to - from;
}

static void frame(struct mr_buf *b, const char *nonce, size_t i, const uint8_t *c, size_t len,
                  int status)
{
    mr_buf_addf(b, "MR-%s %zu\n", nonce, i);
    mr_buf_add(b, c, len);
    if (status >= 0)
        mr_buf_addf(b, "\nMR-%s %zu end %d\n", nonce, i, status);
    else
        mr_buf_addf(b, "\nMR-%s %zu end\n", nonce, i);
}

static void round_trip(const struct input *in)
{
    /* The real nonce is 32 hex digits; frame lines longer than the parser's buffers are
     * refused on purpose, and a line break would not be one line. */
    size_t nonce_len = strlen(in->nonce);
    if (in->n == 0 || nonce_len == 0 || nonce_len > 40 || strchr(in->nonce, '\n'))
        return;
    _cleanup_free_ char *marker = mr_xasprintf("MR-%s", in->nonce);
    struct mr_buf out, err;
    mr_buf_init(&out);
    mr_buf_init(&err);
    for (size_t i = 0; i < in->n; i++) {
        const uint8_t *o, *e;
        size_t ol, el;
        piece(in->out, in->out_len, i, in->n, &o, &ol);
        piece(in->err, in->err_len, i, in->n, &e, &el);
        if (memmem(o, ol, marker, strlen(marker)) || memmem(e, el, marker, strlen(marker)))
            goto done;
        frame(&out, in->nonce, i, o, ol, (int)((i * 37 + ol) % 256));
        frame(&err, in->nonce, i, e, el, -1);
    }
    struct mr_family_log_result res[MAX_CMDS];
    int r = mr_family_logs_parse(out.data, out.len, err.data, err.len, in->nonce, in->n,
                                 in->cap, res);
    FZ_CHECK(r == 0, "framed output of %zu commands not parsed (%d)", in->n, r);
    for (size_t i = 0; i < in->n; i++) {
        const uint8_t *o, *e;
        size_t ol, el;
        piece(in->out, in->out_len, i, in->n, &o, &ol);
        piece(in->err, in->err_len, i, in->n, &e, &el);
        size_t ocut = ol < in->cap ? ol : in->cap;
        size_t ecut = el < MR_FAMILY_LOG_ERR_CAP ? el : MR_FAMILY_LOG_ERR_CAP;
        FZ_CHECK(res[i].status == (int)((i * 37 + ol) % 256), "frame %zu: status %d", i,
                 res[i].status);
        FZ_CHECK(res[i].out_len == ocut && memcmp(res[i].out, o, ocut) == 0,
                 "frame %zu: stdout of %zu bytes back as %zu", i, ol, res[i].out_len);
        FZ_CHECK(res[i].out_dropped == ol - ocut, "frame %zu: dropped %zu of %zu", i,
                 res[i].out_dropped, ol);
        FZ_CHECK(res[i].err_len == ecut && memcmp(res[i].err, e, ecut) == 0,
                 "frame %zu: stderr of %zu bytes back as %zu", i, el, res[i].err_len);
    }
done:
    mr_buf_release(&out);
    mr_buf_release(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = { 0 };
    if (split(data, size, &in) < 0)
        return 0;
    char *out = fz_memdup(in.out, in.out_len), *err = fz_memdup(in.err, in.err_len);
    struct mr_family_log_result res[MAX_CMDS];
    if (mr_family_logs_parse(out, in.out_len, err, in.err_len, in.nonce, in.n, in.cap, res) == 0)
        check_parsed(out, in.out_len, err, in.err_len, &in, res);
    round_trip(&in);
    free(out);
    free(err);
    free(in.nonce);
    return 0;
}
