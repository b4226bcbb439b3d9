/* ssh2lib.h: what the two libssh2 users, ssh.c (sessions to guests) and tunnel.c (the
 * connection to a remote libvirt host), share below them: libssh2's process-wide
 * initialisation and its last error as text.
 *
 * Nothing here allocates; returned strings are borrowed from the session. */
#ifndef MR_SSH2LIB_H
#define MR_SSH2LIB_H

#include <libssh2.h>

#include "util.h"

/* Initialises libssh2 once per process; safe from any thread. 0, or -EIO. */
int mr_ssh2_global_init(void) MR_WUR;

/* The session's last error message, or "unknown SSH error"; borrowed from s. */
const char *mr_ssh2_last_error(LIBSSH2_SESSION *s);

#endif
