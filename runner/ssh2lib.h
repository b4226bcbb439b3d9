/* ssh2lib.h: what the two libssh2 users, ssh.c (sessions to guests) and tunnel.c (the
 * connection to a remote libvirt host), share below them: libssh2's process-wide
 * initialisation, its last error as text, and whether a channel's exit status arrived,
 * which libssh2 before 1.12 does not say.
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

/* libssh2_channel_get_exit_status() reads 0 both for "exited 0" and for a channel the
 * server closed without an "exit-status" request. Call mr_ssh2_exit_status_arm() on a
 * channel before the request that starts its command, keep its result, and hand it to
 * mr_ssh2_exit_status_received() once the server closed the channel. That returns 1 when
 * the server sent an exit status, 0 when it did not, and -ENOTSUP when this libssh2
 * cannot tell (arm returned 0). */
int mr_ssh2_exit_status_arm(LIBSSH2_CHANNEL *ch);
int mr_ssh2_exit_status_received(LIBSSH2_CHANNEL *ch, int armed);

#endif
