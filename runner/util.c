/* util.c: the allocation, buffer, error, clock, file and process helpers of util.h. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void oom(size_t n)
{
    fprintf(stderr, "matrixrun: out of memory allocating %zu bytes\n", n);
    abort();
}

void *mr_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *mr_xcalloc(size_t nmemb, size_t n)
{
    void *p = calloc(nmemb ? nmemb : 1, n ? n : 1);
    if (!p)
        oom(nmemb * n);
    return p;
}

void *mr_xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

char *mr_xstrdup(const char *s)
{
    return mr_xstrndup(s, strlen(s));
}

char *mr_xstrndup(const char *s, size_t n)
{
    char *p = mr_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mr_xvasprintf(const char *fmt, va_list ap)
{
    char *s;
    if (vasprintf(&s, fmt, ap) < 0)
        oom(strlen(fmt));
    return s;
}

char *mr_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mr_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void mr_buf_init(struct mr_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void mr_buf_release(struct mr_buf *b)
{
    free(b->data);
    mr_buf_init(b);
}

static void buf_grow(struct mr_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = mr_xrealloc(b->data, cap);
    b->cap = cap;
}

void mr_buf_add(struct mr_buf *b, const void *data, size_t n)
{
    buf_grow(b, n);
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void mr_buf_adds(struct mr_buf *b, const char *s)
{
    mr_buf_add(b, s, strlen(s));
}

void mr_buf_addf(struct mr_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mr_xvasprintf(fmt, ap);
    va_end(ap);
    mr_buf_adds(b, s);
    free(s);
}

char *mr_buf_detach(struct mr_buf *b, size_t *ret_len)
{
    if (!b->data)
        mr_buf_add(b, "", 0);
    char *d = b->data;
    if (ret_len)
        *ret_len = b->len;
    mr_buf_init(b);
    return d;
}

void mr_err_set(struct mr_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *s = mr_xvasprintf(fmt, ap);
    va_end(ap);
    free(e->msg);
    e->msg = s;
}

void mr_err_prefix(struct mr_err *e, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *p = mr_xvasprintf(fmt, ap);
    va_end(ap);
    char *s = mr_xasprintf("%s: %s", p, e->msg ? e->msg : "unknown error");
    free(e->msg);
    e->msg = s;
}

void mr_err_release(struct mr_err *e)
{
    free(e->msg);
    e->msg = NULL;
}

const char *mr_err_msg(const struct mr_err *e)
{
    return e && e->msg ? e->msg : "unknown error";
}

volatile sig_atomic_t mr_interrupted;

int64_t mr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mr_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mr_sleep_ms(int64_t ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int mr_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int mr_file_read(const char *path, char **ret_data, size_t *ret_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct mr_buf b;
    mr_buf_init(&b);
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int r = -errno;
            close(fd);
            mr_buf_release(&b);
            return r;
        }
        if (n == 0)
            break;
        mr_buf_add(&b, chunk, (size_t)n);
    }
    close(fd);
    *ret_data = mr_buf_detach(&b, ret_len);
    return 0;
}

int mr_atomic_create(const char *path, char **ret_tmp, struct mr_err *err)
{
    char *tmp = mr_xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        mr_err_set(err, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return r;
    }
    *ret_tmp = tmp;
    return fd;
}

int mr_atomic_commit(int fd, char *tmp, const char *path, int failed, struct mr_err *err)
{
    int r = failed;
    if (!r && (fchmod(fd, 0644) < 0 || fsync(fd) < 0))
        r = -errno;
    if (close(fd) < 0 && !r)
        r = -errno;
    if (!r && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        mr_err_set(err, "cannot write '%s': %s", path, strerror(-r));
        unlink(tmp);
    }
    free(tmp);
    return r;
}

int mr_file_write_atomic(const char *path, const void *data, size_t len, struct mr_err *err)
{
    char *tmp;
    int fd = mr_atomic_create(path, &tmp, err);
    if (fd < 0)
        return fd;
    const char *p = data;
    size_t left = len;
    int failed = 0;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            failed = -errno;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    return mr_atomic_commit(fd, tmp, path, failed, err);
}

int mr_mkdir_p(const char *path, unsigned mode)
{
    _cleanup_free_ char *p = mr_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -errno : 0;
}

int mr_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *mr_path_join(const char *base_dir, const char *path)
{
    if (path[0] == '/' || !base_dir || !base_dir[0])
        return mr_xstrdup(path);
    return mr_xasprintf("%s/%s", base_dir, path);
}

char *mr_path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return mr_xstrdup(".");
    if (slash == path)
        return mr_xstrdup("/");
    return mr_xstrndup(path, (size_t)(slash - path));
}

int mr_spawn(char *const argv[], struct mr_buf *out)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return -errno;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
    pid_t pid;
    int r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    if (r != 0) {
        close(pfd[0]);
        return -r;
    }
    char chunk[4096];
    for (;;) {
        ssize_t n = read(pfd[0], chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (out)
            mr_buf_add(out, chunk, (size_t)n);
    }
    close(pfd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -EINTR;
}

static int b64_val(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int mr_base64_decode(const char *in, unsigned char **ret, size_t *ret_len)
{
    size_t n = strlen(in);
    unsigned char *out = mr_xmalloc(n / 4 * 3 + 3);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    size_t i;
    for (i = 0; i < n && in[i] != '='; i++) {
        int v = b64_val((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return -EINVAL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    for (; i < n; i++)
        if (in[i] != '=') {
            free(out);
            return -EINVAL;
        }
    *ret = out;
    *ret_len = o;
    return 0;
}

char *mr_base64_encode(const void *data, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = mr_xmalloc((len + 2) / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

void mr_random(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* No entropy source means no keys, seeds or ids worth having. */
            fprintf(stderr, "matrixrun: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}
