/* fuzz_util.c: the harnesses' scratch folder, exact-size copies and output checks. */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static char scratch[PATH_MAX];
static int scratch_is_ours; /* made by us (mkdtemp): removed at exit */

static void scratch_remove(void)
{
    if (scratch_is_ours)
        (void)mr_rm_rf(scratch);
}

void fz_scratch_init(const char *harness)
{
    const char *env = getenv("MR_FUZZ_SCRATCH");
    if (env && env[0]) {
        snprintf(scratch, sizeof(scratch), "%s", env);
        if (mr_mkdir_p(scratch, 0700) < 0)
            fz_fail(__FILE__, __LINE__, "mkdir", "cannot create %s: %m", scratch);
        return;
    }
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof(scratch), "%s/mrfuzz-%s-XXXXXX", base, harness);
    if (!mkdtemp(scratch))
        fz_fail(__FILE__, __LINE__, "mkdtemp", "cannot create %s: %m", scratch);
    scratch_is_ours = 1;
    atexit(scratch_remove);
}

const char *fz_scratch_dir(void)
{
    return scratch;
}

void fz_scratch_link(const char *name, const char *target)
{
    char link[PATH_MAX + 64];
    snprintf(link, sizeof(link), "%s/%s", scratch, name);
    (void)unlink(link);
    if (symlink(target, link) < 0)
        fz_fail(__FILE__, __LINE__, "symlink", "cannot link %s: %m", link);
}

const char *fz_write(const char *file, const uint8_t *data, size_t n)
{
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%s", scratch, file);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        fz_fail(__FILE__, __LINE__, "open", "cannot write %s: %m", path);
    for (size_t done = 0; done < n;) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fz_fail(__FILE__, __LINE__, "write", "cannot write %s: %m", path);
        done += (size_t)w;
    }
    close(fd);
    return path;
}

char *fz_memdup(const uint8_t *data, size_t n)
{
    char *s = malloc(n); /* malloc(0) too: a block that no read may touch */
    if (!s && n)
        abort();
    if (n)
        memcpy(s, data, n);
    return s;
}

int fz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = *p++;
        if (c < 0x80)
            continue;
        size_t more;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0)
            more = 1, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            more = 2, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            more = 3, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if ((size_t)(end - p) < more)
            return 0;
        for (size_t i = 0; i < more; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        p += more;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: check failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
