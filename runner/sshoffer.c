/* sshoffer.c: reads the algorithms an SSH server offers from its KEXINIT (RFC 4253, 7.1)
 * on a connection of our own (sshoffer.h). */
#define _GNU_SOURCE
#include "sshoffer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SSH_MSG_KEXINIT 20
/* RFC 4253 6.1: an implementation must take packets of 35000 bytes. */
#define MAX_PACKET 35000u
/* RFC 4253 4.2: lines before the banner are allowed; bound what we read of them. */
#define MAX_PREAMBLE 8192u

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The next name-list of a payload at *pos, copied; NULL when it runs past the end. */
static char *name_list(const unsigned char *p, size_t len, size_t *pos)
{
    if (len - *pos < 4)
        return NULL;
    uint32_t n = be32(p + *pos);
    if (len - *pos - 4 < n)
        return NULL;
    char *s = mr_xstrndup((const char *)p + *pos + 4, n);
    *pos += 4 + n;
    return s;
}

int mr_ssh_offer_parse(const char *data, size_t len, struct mr_ssh_offer *ret)
{
    size_t pos = 0;
    for (;;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        if (!nl)
            return len - pos > MAX_PREAMBLE ? -EPROTO : -EAGAIN;
        int banner = len - pos >= 4 && memcmp(data + pos, "SSH-", 4) == 0;
        pos = (size_t)(nl - data) + 1;
        if (banner)
            break;
        if (pos > MAX_PREAMBLE)
            return -EPROTO;
    }
    const unsigned char *p = (const unsigned char *)data + pos;
    size_t left = len - pos;
    if (left < 5)
        return -EAGAIN;
    uint32_t plen = be32(p);
    if (plen < 1 + 1 + 16 || plen > MAX_PACKET || p[4] >= plen)
        return -EPROTO;
    if (left - 4 < plen)
        return -EAGAIN;
    const unsigned char *payload = p + 5;
    size_t paylen = plen - 1 - p[4];
    if (paylen < 17 || payload[0] != SSH_MSG_KEXINIT)
        return -EPROTO;
    size_t at = 17; /* the message number and the 16-byte cookie */
    char *lists[6] = { 0 }; /* kex, host key, cipher c2s and s2c, mac c2s and s2c */
    for (size_t i = 0; i < MR_ARRAY_SIZE(lists); i++) {
        if (!(lists[i] = name_list(payload, paylen, &at))) {
            for (size_t j = 0; j < i; j++)
                free(lists[j]);
            return -EPROTO;
        }
    }
    free(lists[3]);
    free(lists[5]);
    *ret = (struct mr_ssh_offer){ lists[0], lists[1], lists[2], lists[4] };
    return 0;
}

int mr_ssh_offer_read(int fd, int64_t deadline_ms, struct mr_ssh_offer *ret, struct mr_err *err)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    static const char banner[] = "SSH-2.0-matrixrun\r\n";
    if (send(fd, banner, sizeof(banner) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(banner) - 1) {
        mr_err_set(err, "cannot send an SSH banner: %s", strerror(errno));
        return -EIO;
    }
    struct mr_buf b;
    mr_buf_init(&b);
    int r = -EAGAIN;
    while (r == -EAGAIN) {
        int64_t left = deadline_ms - mr_now_ms();
        if (left <= 0 || mr_interrupted) {
            mr_err_set(err, "the server sent no key exchange offer in time");
            r = mr_interrupted ? -EINTR : -ETIMEDOUT;
            break;
        }
        struct pollfd pf = { .fd = fd, .events = POLLIN };
        if (poll(&pf, 1, (int)(left < 1000 ? left : 1000)) <= 0)
            continue;
        char chunk[4096];
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0) {
            mr_err_set(err, "the server closed the connection before its key exchange offer");
            r = -EIO;
            break;
        }
        mr_buf_add(&b, chunk, (size_t)n);
        r = mr_ssh_offer_parse(b.data, b.len, ret);
        if (r == -EPROTO)
            mr_err_set(err, "the server's first packet is not a key exchange offer");
    }
    mr_buf_release(&b);
    return r;
}

void mr_ssh_offer_release(struct mr_ssh_offer *o)
{
    free(o->kex);
    free(o->hostkey);
    free(o->cipher);
    free(o->mac);
    memset(o, 0, sizeof(*o));
}

int mr_ssh_names_meet(const char *a, const char *b)
{
    for (const char *p = a; *p;) {
        size_t n = strcspn(p, ",");
        for (const char *q = b; *q;) {
            size_t m = strcspn(q, ",");
            if (n && n == m && memcmp(p, q, n) == 0)
                return 1;
            q += m + (q[m] == ',');
        }
        p += n + (p[n] == ',');
    }
    return 0;
}
