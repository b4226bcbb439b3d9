/* fuzz_ssh_offer.c: libFuzzer harness for mr_ssh_offer_parse(), the reader of what an SSH
 * server sent first (preamble lines, banner, KEXINIT): bytes from the guest, which a
 * broken or hostile guest controls.
 *
 * Two checks on each input:
 * - parse the input as given, from a heap block of its exact size: 0, -EAGAIN or
 *   -EPROTO, and on 0 four strings;
 * - round trip: cut the input at NUL bytes into (up to) ten name-lists, frame them as a
 *   server does (banner, then a KEXINIT packet with a cookie and 4 bytes of padding) and
 *   parse that: it must give back lists 0, 1, 2 and 4, and every shorter prefix of the
 *   frame must ask for more (-EAGAIN). A packet past 35000 bytes must be refused. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "sshoffer.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(struct mr_buf *b, uint32_t v)
{
    unsigned char be[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                            (unsigned char)(v >> 8), (unsigned char)v };
    mr_buf_add(b, be, 4);
}

static void as_given(const uint8_t *data, size_t size)
{
    char *copy = fz_memdup(data, size);
    struct mr_ssh_offer o = { 0 };
    int r = mr_ssh_offer_parse(copy, size, &o);
    FZ_CHECK(r == 0 || r == -EAGAIN || r == -EPROTO, "result %d", r);
    if (r == 0) {
        FZ_CHECK(o.kex && o.hostkey && o.cipher && o.mac, "a list is missing");
        mr_ssh_offer_release(&o);
    }
    free(copy);
}

static void round_trip(const uint8_t *data, size_t size)
{
    const char *lists[10];
    size_t lens[10];
    size_t n = 0, at = 0;
    while (n < 10) {
        const uint8_t *z = memchr(data + at, 0, size - at);
        size_t len = z ? (size_t)(z - (data + at)) : size - at;
        lists[n] = (const char *)data + at;
        lens[n++] = len;
        if (!z)
            break;
        at += len + 1;
    }
    for (; n < 10; n++)
        lists[n] = "", lens[n] = 0;
    struct mr_buf pay;
    mr_buf_init(&pay);
    mr_buf_add(&pay, "\x14" "cookiecookiecook", 17);
    for (size_t i = 0; i < 10; i++) {
        put32(&pay, (uint32_t)lens[i]);
        mr_buf_add(&pay, lists[i], lens[i]);
    }
    mr_buf_add(&pay, "\0\0\0\0\0", 5);
    static const char banner[] = "SSH-2.0-fuzz\r\n";
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_add(&b, banner, sizeof(banner) - 1);
    size_t plen = 1 + pay.len + 4;
    put32(&b, (uint32_t)plen);
    mr_buf_add(&b, "\x04", 1);
    mr_buf_add(&b, pay.data, pay.len);
    mr_buf_add(&b, "pppp", 4);
    char *frame = fz_memdup((const uint8_t *)b.data, b.len);
    struct mr_ssh_offer o = { 0 };
    int r = mr_ssh_offer_parse(frame, b.len, &o);
    if (plen > 35000) {
        FZ_CHECK(r == -EPROTO, "a packet of %zu bytes gave %d", plen, r);
    } else {
        FZ_CHECK(r == 0, "a well-formed KEXINIT gave %d", r);
        const char *got[] = { o.kex, o.hostkey, o.cipher, o.mac };
        const size_t want[] = { 0, 1, 2, 4 };
        for (size_t i = 0; i < 4; i++) {
            /* A list holding no NUL comes back whole (NULs were the cut points). */
            FZ_CHECK(strlen(got[i]) == lens[want[i]] &&
                         memcmp(got[i], lists[want[i]], lens[want[i]]) == 0,
                     "list %zu differs", want[i]);
        }
        mr_ssh_offer_release(&o);
        /* Cut anywhere before the end, the frame asks for more. Prefixes are checked at a
         * few places only, to keep each input fast. */
        size_t cuts[] = { 0, sizeof(banner) - 2, sizeof(banner) - 1, sizeof(banner) + 3,
                          b.len / 2, b.len - 1 };
        for (size_t i = 0; i < MR_ARRAY_SIZE(cuts); i++) {
            if (cuts[i] >= b.len)
                continue;
            int rc = mr_ssh_offer_parse(frame, cuts[i], &o);
            FZ_CHECK(rc == -EAGAIN, "a cut at %zu of %zu gave %d", cuts[i], b.len, rc);
        }
    }
    free(frame);
    mr_buf_release(&b);
    mr_buf_release(&pay);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_given(data, size);
    round_trip(data, size);
    return 0;
}
