/* check_progress.c: the progress display keeps guest text from driving the terminal:
 * mr_progress_sanitize() alone, then the lines written to stderr (a file here) and the
 * live block drawn on a terminal (a pseudo-terminal here). */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"

/* ESC [2J clears the screen, ESC ]0;...BEL retitles the window, 0x9b is CSI as one byte,
 * C2 9B the same as UTF-8 (U+009B), DEL, and a line break inside the message. */
#define HOSTILE "1.2\x1b[2J\x07\x9b\xc2\x9b\x7f\nend \x1b]0;owned\x07"

static const struct {
    const char *in;
    const char *out;
} cases[] = {
    { "plain text", "plain text" },
    { "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80" },
    { "a\nb\r\nc\td", "a b  c d" },
    { "\x1b[2J", "\\x1b[2J" },
    { "bell\x07", "bell\\x07" },
    { "del\x7f", "del\\x7f" },
    { "raw \x9b csi", "raw \\x9b csi" },
    { "utf-8 \xc2\x9b csi", "utf-8 \\xc2\\x9b csi" },
    { "\xc2\x80\xc2\x9f\xc2\xa0", "\\xc2\\x80\\xc2\\x9f\xc2\xa0" },
    /* Overlong ESC, a lone continuation byte, a truncated sequence, a surrogate. */
    { "\xc0\x9b", "\\xc0\\x9b" },
    { "\x80", "\\x80" },
    { "\xe2\x9c", "\\xe2\\x9c" },
    { "\xed\xa0\x80", "\\xed\\xa0\\x80" },
    { "", "" },
};

START_TEST(test_progress_sanitize_escapes_controls)
{
    char *got = mr_progress_sanitize(cases[_i].in);
    ck_assert_msg(strcmp(got, cases[_i].out) == 0, "case %d: got '%s', want '%s'", _i, got,
                  cases[_i].out);
    free(got);
}
END_TEST

/* No byte of the hostile text that a terminal would act on. */
static void assert_inert(const char *out, size_t len)
{
    static const char *const bad[] = { "\x1b[2J", "\x1b]", "\x07", "\x9b", "\x7f" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(memmem(out, len, bad[i], strlen(bad[i])) == NULL,
                      "output holds byte(s) %02x: '%.*s'", (unsigned char)bad[i][0], (int)len,
                      out);
}

/* Reads what fd holds now (a file from its start, or a terminal's waiting output). */
static char *slurp(int fd, int is_file, size_t *ret_len)
{
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    if (is_file)
        ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (!is_file && poll(&pfd, 1, 200) <= 0)
            break;
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        ck_assert_uint_lt(len, cap - 1);
    }
    buf[len] = '\0';
    *ret_len = len;
    return buf;
}

START_TEST(test_progress_lines_carry_no_controls)
{
    /* Not a terminal: one timestamped line per event, written to stderr. */
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
    struct mr_progress *p = mr_progress_new(0);
    mr_progress_event(p, MR_PROGRESS_NOTE, "cell-\x1b[1m", "version check said " HOSTILE);
    mr_progress_event(p, MR_PROGRESS_RUN, NULL, "benchmark stderr: " HOSTILE);
    mr_progress_free(p);
    size_t len;
    char *out = slurp(fileno(f), 1, &len);
    assert_inert(out, len);
    ck_assert_ptr_null(memchr(out, '\x1b', len));
    /* Two events, two lines: the message's own line break did not make a third. */
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += out[i] == '\n';
    ck_assert_uint_eq(lines, 2);
    ck_assert_ptr_nonnull(strstr(out, "] cell-\\x1b[1m: version check said 1.2\\x1b[2J\\x07"
                                      "\\x9b\\xc2\\x9b\\x7f end \\x1b]0;owned\\x07\n"));
    free(out);
    fclose(f);
}
END_TEST

START_TEST(test_progress_live_block_carries_no_controls)
{
    /* A terminal: the live block and the lines that stay above it. */
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    ck_assert_int_ge(slave, 0);
    ck_assert_int_ge(dup2(slave, STDERR_FILENO), 0);
    setenv("TERM", "xterm", 1);
    struct mr_progress *p = mr_progress_new(0);
    mr_progress_event(p, MR_PROGRESS_START, "c1", "booting");
    mr_progress_event(p, MR_PROGRESS_STEP, "c1", "installed " HOSTILE);
    mr_progress_event(p, MR_PROGRESS_NOTE, "c1", "WARNING guest says " HOSTILE);
    mr_progress_event(p, MR_PROGRESS_END, "c1", "failed: " HOSTILE);
    mr_progress_free(p);
    size_t len;
    char *out = slurp(master, 0, &len);
    ck_assert_ptr_nonnull(strstr(out, "installed 1.2\\x1b[2J"));
    ck_assert_ptr_nonnull(strstr(out, "WARNING guest says 1.2\\x1b[2J"));
    ck_assert_ptr_nonnull(strstr(out, "failed: 1.2\\x1b[2J\\x07\\x9b\\xc2\\x9b\\x7f end"));
    assert_inert(out, len);
    free(out);
    close(slave);
    close(master);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("progress");
    TCase *tc = tcase_create("sanitize");
    tcase_add_loop_test(tc, test_progress_sanitize_escapes_controls, 0,
                        (int)(sizeof(cases) / sizeof(cases[0])));
    suite_add_tcase(s, tc);
    TCase *to = tcase_create("output");
    tcase_add_test(to, test_progress_lines_carry_no_controls);
    tcase_add_test(to, test_progress_live_block_carries_no_controls);
    suite_add_tcase(s, to);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
