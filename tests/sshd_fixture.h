/* sshd_fixture.h: a real OpenSSH server that a Check suite starts on 127.0.0.1 with its
 * own host keys, client key and authorized_keys, for the suites of the modules that speak
 * SSH (check_tunnel, check_ssh).
 *
 * sshd_start() and sshd_stop() are an unchecked fixture: they run in the suite's parent
 * process, before Check forks each test, and abort() when the server cannot start. The
 * globals are set by sshd_start() and valid until sshd_stop(). */
#ifndef MR_SSHD_FIXTURE_H
#define MR_SSHD_FIXTURE_H

#include <check.h>
#include <sys/types.h>

#include "ssh.h"

extern char g_dir[64];              /* the fixture's folder: keys, config, log */
extern char g_user[256];            /* the user the tests log in as: the current one */
extern int g_sshd_port;             /* the server's port on 127.0.0.1 */
extern pid_t g_sshd_pid;
/* A second server, with the same keys, that closes a command session after two seconds
 * without traffic (ChannelTimeout) and sends no exit status for it. */
extern int g_sshd_port_idle_close;
extern pid_t g_sshd_idle_close_pid;
extern struct mr_sshkey g_client;  /* in authorized_keys */
extern struct mr_sshkey g_hostkey; /* the server's ed25519 host key */
extern char g_fp[128];             /* its SHA256 fingerprint, as ssh-keygen -l prints it */
extern char g_known[128];          /* known_hosts listing [127.0.0.1]:port with that key */

void sshd_start(void);
void sshd_stop(void);
/* Starts one more server for a single test, with the fixture's authorized_keys: name
 * names its config and log in g_dir; hostkeys the HostKey lines (NULL: the fixture's
 * ed25519 and ECDSA keys); extra more sshd_config lines, which take precedence over the
 * fixture's defaults only where sshd lets a later line add (HostKey) or where the
 * defaults do not set the option. Returns its pid; *ret_port is its port. Aborts when it
 * cannot start. sshd_stop_other() ends it. */
pid_t sshd_start_other(const char *name, const char *hostkeys, const char *extra, int *ret_port);
void sshd_stop_other(pid_t pid);
/* A TCase with sshd_start()/sshd_stop() as its unchecked fixture and room for slow
 * tests. */
TCase *sshd_tcase(const char *name);

/* Kills the server's children, the processes serving its connections: each such
 * connection drops as when the host restarts sshd; the listener stays. Returns how many
 * were killed, or -1. */
int sshd_kill_sessions(void);

/* Runs a shell command; aborts when it fails. */
void run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* g_dir/name; caller frees. */
char *path_in(const char *name);
void write_file(const char *path, const char *text);

#endif
