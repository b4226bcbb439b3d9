/* ssh2lib.c: libssh2's process-wide initialisation, its last error as text, and the
 * exit-status question that libssh2 before 1.12 leaves open. */
#include "ssh2lib.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;
static int layout_known; /* see channel_head below */

#if LIBSSH2_VERSION_NUM >= 0x010c00
/* libssh2 1.12 added libssh2_channel_has_exit_status(). */
#define HAVE_HAS_EXIT_STATUS 1
#elif LIBSSH2_VERSION_NUM >= 0x010800 && LIBSSH2_VERSION_NUM <= 0x010b01
/* Older libssh2 keeps the status in the channel's int exit_status, which calloc() zeroes
 * and only an "exit-status" request sets (packet.c), and offers no call that says whether
 * one came. So matrixrun primes that field with a value no server sends, before the
 * command starts, and reads it back at the end: still that value, no status came. This
 * is the head of struct _LIBSSH2_CHANNEL (src/libssh2_priv.h) in every release from
 * 1.8.0 to 1.11.1; the type length became a size_t in 1.11.1. It is used only when the
 * library that runs is the very release these headers are from, and only on a channel
 * whose head reads as this layout says a fresh session channel must (its type
 * "session", no status, no signal). */
#define HAVE_CHANNEL_HEAD 1
struct channel_head {
    void *node[3]; /* struct list_node: next, prev, head */
    unsigned char *channel_type;
#if LIBSSH2_VERSION_NUM >= 0x010b01
    size_t channel_type_len;
#else
    unsigned channel_type_len;
#endif
    int exit_status;
    char *exit_signal;
};
/* POSIX statuses are 0 to 255; ntstatus.h (mingw-w64) lists no 0x80000000 either. */
#define NO_STATUS INT_MIN
#endif

static void init_libssh2(void)
{
    init_rc = libssh2_init(0);
    const char *running = libssh2_version(0);
    layout_known = running && strcmp(running, LIBSSH2_VERSION) == 0;
}

int mr_ssh2_global_init(void)
{
    pthread_once(&init_once, init_libssh2);
    return init_rc == 0 ? 0 : -EIO;
}

const char *mr_ssh2_last_error(LIBSSH2_SESSION *s)
{
    char *msg = NULL;
    libssh2_session_last_error(s, &msg, NULL, 0);
    return msg && msg[0] ? msg : "unknown SSH error";
}

int mr_ssh2_exit_status_arm(LIBSSH2_CHANNEL *ch)
{
#if defined(HAVE_HAS_EXIT_STATUS)
    (void)ch;
    return 1;
#elif defined(HAVE_CHANNEL_HEAD)
    struct channel_head *h = (struct channel_head *)(void *)ch;
    pthread_once(&init_once, init_libssh2);
    if (!layout_known || h->channel_type_len != 7 || !h->channel_type ||
        memcmp(h->channel_type, "session", 7) != 0 || h->exit_status != 0 || h->exit_signal)
        return 0;
    h->exit_status = NO_STATUS;
    return 1;
#else
    (void)ch;
    return 0;
#endif
}

int mr_ssh2_exit_status_received(LIBSSH2_CHANNEL *ch, int armed)
{
    if (!armed)
        return -ENOTSUP;
#if defined(HAVE_HAS_EXIT_STATUS)
    return libssh2_channel_has_exit_status(ch) == 1;
#elif defined(HAVE_CHANNEL_HEAD)
    return libssh2_channel_get_exit_status(ch) != NO_STATUS;
#else
    (void)ch;
    return -ENOTSUP;
#endif
}
