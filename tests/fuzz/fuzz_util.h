/* fuzz_util.h: what the libFuzzer harnesses share: a scratch folder for the inputs that
 * the code under test reads by path, and the checks that turn a wrong result into a
 * crash libFuzzer keeps.
 *
 * fz_write() returns a path inside the scratch folder, valid until the next call with the
 * same name; the folder is removed when the harness exits normally. */
#ifndef MR_FUZZ_UTIL_H
#define MR_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Creates the scratch folder: $MR_FUZZ_SCRATCH when set (tests/fuzz/run.sh puts it under
 * the build folder, so a crashed harness leaves nothing behind elsewhere), else a fresh
 * folder under /dev/shm (or /tmp) named after the harness. Aborts on failure. */
void fz_scratch_init(const char *harness);
const char *fz_scratch_dir(void);
/* Makes <scratch>/<name> a symbolic link to target (replacing one left before). */
void fz_scratch_link(const char *name, const char *target);

/* Writes n bytes to <scratch>/<file> (truncating it) and returns its path. */
const char *fz_write(const char *file, const uint8_t *data, size_t n);

/* A copy of n bytes in a heap block of exactly n bytes (no terminator), so that
 * AddressSanitizer catches a read past the end; caller frees. */
char *fz_memdup(const uint8_t *data, size_t n);

/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or code points past
 * U+10FFFF). */
int fz_utf8_valid(const char *s, size_t n);

/* A broken promise of the code under test: prints what and aborts, so libFuzzer keeps
 * the input as a crash. */
#define FZ_CHECK(cond, ...)                                                                \
    do {                                                                                   \
        if (!(cond))                                                                       \
            fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                               \
    } while (0)
_Noreturn void fz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
