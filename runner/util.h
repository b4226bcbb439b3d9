/* util.h: memory, string buffer, error object and clock helpers shared by every module.
 *
 * Ownership: mr_x*() results belong to the caller (free()); a struct mr_buf owns its
 * data until mr_buf_detach() hands it over; struct mr_err owns its message. */
#ifndef MR_UTIL_H
#define MR_UTIL_H

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define MR_WUR __attribute__((warn_unused_result))
#define MR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MR_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Hand a pointer over: returns it and leaves NULL behind (systemd's TAKE_PTR). */
#define MR_TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })

static inline void mr_freep(void *p) { free(*(void **)p); }
#define _cleanup_free_ __attribute__((cleanup(mr_freep)))

/* Out of memory aborts here, so callers carry no OOM branches (git's xmalloc). */
void *mr_xmalloc(size_t n);
void *mr_xcalloc(size_t nmemb, size_t n);
void *mr_xrealloc(void *p, size_t n);
char *mr_xstrdup(const char *s);
/* Copies exactly n bytes of s (NULs included: output buffers) and a terminator; s must
 * hold n bytes. */
char *mr_xstrndup(const char *s, size_t n);
char *mr_xasprintf(const char *fmt, ...) MR_PRINTF(1, 2);
char *mr_xvasprintf(const char *fmt, va_list ap) MR_PRINTF(1, 0);

/* A growable byte buffer, always NUL-terminated. */
struct mr_buf {
    char *data;
    size_t len;
    size_t cap;
};
void mr_buf_init(struct mr_buf *b);
void mr_buf_release(struct mr_buf *b);
void mr_buf_add(struct mr_buf *b, const void *data, size_t n);
void mr_buf_adds(struct mr_buf *b, const char *s);
void mr_buf_addf(struct mr_buf *b, const char *fmt, ...) MR_PRINTF(2, 3);
/* Returns the data (caller frees) and resets the buffer. */
char *mr_buf_detach(struct mr_buf *b, size_t *ret_len);

/* An error message, set once where a library call failed; the CLI prints it. */
struct mr_err {
    char *msg;
};
void mr_err_set(struct mr_err *e, const char *fmt, ...) MR_PRINTF(2, 3);
/* Prefix an existing message: "context: old message". */
void mr_err_prefix(struct mr_err *e, const char *fmt, ...) MR_PRINTF(2, 3);
void mr_err_release(struct mr_err *e);
const char *mr_err_msg(const struct mr_err *e);

/* Set by the CLI's SIGINT/SIGTERM handler to the signal's number; every wait in the
 * library (SSH, tunnel, boot slots) gives up when it becomes non-zero. */
extern volatile sig_atomic_t mr_interrupted;

/* Monotonic and wall clocks in milliseconds. */
int64_t mr_now_ms(void);
int64_t mr_wall_ms(void);
void mr_sleep_ms(int64_t ms);

/* Files. */
int mr_file_exists(const char *path);
/* Reads a whole file; returns 0 or -errno. */
int mr_file_read(const char *path, char **ret_data, size_t *ret_len) MR_WUR;
/* Writes data to path atomically: temp file in the same folder, fsync, rename. */
int mr_file_write_atomic(const char *path, const void *data, size_t len, struct mr_err *err) MR_WUR;
/* The same in two steps, for writers that stream: mr_atomic_create opens a temp file
 * beside path (its name in *ret_tmp) and returns its descriptor or -errno; then
 * mr_atomic_commit makes it path's content (mode 0644, fsync, rename) or, when failed is
 * a -errno, removes it and reports that error. Commit closes fd and frees tmp. */
int mr_atomic_create(const char *path, char **ret_tmp, struct mr_err *err) MR_WUR;
int mr_atomic_commit(int fd, char *tmp, const char *path, int failed, struct mr_err *err) MR_WUR;
/* mkdir -p with the given mode for created folders; 0 or -errno. */
int mr_mkdir_p(const char *path, unsigned mode) MR_WUR;
/* rm -rf; 0 or -errno of the first failure. */
int mr_rm_rf(const char *path);
/* Absolute form of path, resolved against base_dir when relative (no symlink resolution). */
char *mr_path_join(const char *base_dir, const char *path);
char *mr_path_dirname(const char *path);

/* Runs argv (no shell) with stdout+stderr captured into out (may be NULL). Returns the
 * exit status (0..255), or -errno if it could not be started, or -EINTR if killed. */
int mr_spawn(char *const argv[], struct mr_buf *out) MR_WUR;

/* Base64 (RFC 4648) decode; returns 0 or -EINVAL. */
int mr_base64_decode(const char *in, unsigned char **ret, size_t *ret_len) MR_WUR;
/* Fills buf with n random bytes from the kernel (aborts if it has none to give). */
void mr_random(void *buf, size_t n);

/* Base64 (RFC 4648, padded) encode; caller frees. */
char *mr_base64_encode(const void *data, size_t len);

#endif
