/* ssh2lib.c: libssh2's process-wide initialisation and its last error as text. */
#include "ssh2lib.h"

#include <errno.h>
#include <pthread.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_libssh2(void)
{
    init_rc = libssh2_init(0);
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
