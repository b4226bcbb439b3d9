/* transport.h: how matrixrun reaches into a guest to run commands and copy files in, as a
 * table of operations that each way of reaching it fills in (curl's struct Curl_ssl,
 * libvirt's virCgroupBackend). SSH is the one backend today (ssh.h: mr_ssh_transport);
 * WinRM or a virtio-serial agent would be another table, with no change to the callers.
 *
 * Ownership: a struct mr_transport is heap-allocated by mr_transport_connect() and freed
 * by mr_transport_close(). The target and what it points to are borrowed for the length
 * of the call; the caller keeps them to connect again. struct mr_exec is embedded:
 * mr_exec_init() before use, mr_exec_release() frees its contents.
 *
 * Return codes, the same for every backend:
 *   connect  0; -ETIMEDOUT (nothing answered before the deadline; err names the last
 *            failure), -EPERM (the guest's identity or the login was refused, or the
 *            dial callback refused), -EINVAL (a target the backend cannot use), -EINTR
 *            (mr_interrupted), -ENOTCONN (the dial callback's carrier is gone), -EIO
 *            (the backend's library could not start).
 *   exec     0 when the command ended: exit_status or exit_signal says how; -ETIMEDOUT
 *            when it outlived timeout_ms (its end-of-file does not count: the command
 *            must have ended); -EINTR; -EIO when the connection failed; -EPROTO when the
 *            guest ended the command's channel without saying how the command ended (no
 *            exit status, no signal): "the guest closed the channel without an exit
 *            status". No verdict may be read into -EPROTO; above all it is not status 0.
 *   upload   0; -errno of the local file; -ETIMEDOUT; -EINTR; -EIO (the guest refused
 *            or the connection failed).
 * err carries the message of every failure. After -EIO, -ETIMEDOUT or -EPROTO the
 * connection may be unusable: the caller closes it and connects again. */
#ifndef MR_TRANSPORT_H
#define MR_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/* Each of stdout and stderr keeps at most this much of a command's output. */
#define MR_EXEC_OUTPUT_CAP (4u * 1024 * 1024)

struct mr_exec {
    int exit_status;   /* valid when exit_signal is NULL */
    char *exit_signal; /* "SEGV", ... or NULL */
    struct mr_buf out;
    struct mr_buf err;
    size_t out_cap;     /* stdout kept at most; mr_exec_init sets MR_EXEC_OUTPUT_CAP */
    size_t out_dropped; /* bytes past out_cap (stderr: past MR_EXEC_OUTPUT_CAP), not kept */
    size_t err_dropped;
};
void mr_exec_init(struct mr_exec *x);
void mr_exec_release(struct mr_exec *x);
/* For backends: add a command's output, keeping what fits under the cap and counting
 * the rest as dropped. */
void mr_exec_add_out(struct mr_exec *x, const void *data, size_t n);
void mr_exec_add_err(struct mr_exec *x, const void *data, size_t n);

struct mr_sshkey; /* ssh.h: a key pair, or a public key alone */

/* The algorithms a connection negotiated, by their protocol names ("ssh-ed25519",
 * "curve25519-sha256", "aes128-ctr", "hmac-sha2-256"); cipher and mac are the client to
 * server direction. Borrowed from the connection, valid until it is closed. */
struct mr_transport_methods {
    const char *hostkey;
    const char *kex;
    const char *cipher;
    const char *mac;
};

/* Where a guest is and who it should be. */
struct mr_transport_target {
    const char *host; /* an IPv4 address, as the dial callback (or this host) sees it */
    int port;
    const char *user;
    const struct mr_sshkey *key;          /* the client's key pair */
    const struct mr_sshkey *pinned_host;  /* the guest's expected key; NULL trusts any */
    /* A guest seeded at boot may show an image's old identity until cloud-init has put
     * the pinned one in place: keep trying (never logging in) instead of giving up. */
    int retry_host_mismatch;
    /* The guest had the user's key before it booted (a pre-provisioned <login>): a
     * refused public key is final, not retried until the deadline (a seeded guest may
     * not have installed the key yet when its sshd first answers). */
    int auth_refusal_final;
    /* Each command runs on a pseudo-terminal: for guests whose sudo has `Defaults
     * requiretty` (CentOS 6, RHEL 5), where every `sudo -n` over a plain exec fails. A
     * terminal merges the command's stderr into its stdout. */
    int tty;
    /* Opens a byte stream to host:port and returns its descriptor (blocking or not; the
     * backend owns it from then on), or -errno with err set. -EPERM, -EINVAL and
     * -ENOTCONN end the connect at once; any other failure is retried until the
     * deadline. NULL: a direct TCP connection from this host. A guest on a remote
     * libvirt host is reached through tunnel.h's mr_tunnel_dial_cb with its tunnel as
     * dial_ctx. */
    int (*dial)(void *ctx, const char *host, int port, int64_t deadline_ms,
                struct mr_err *err);
    void *dial_ctx;
    /* Asked after each failed attempt: a negative return (-ECANCELED) ends the connect at
     * once with that value and err as the callback set it, for a guest that has said it
     * will never answer (its seed script stopped). NULL: wait until the deadline. */
    int (*give_up)(void *ctx, struct mr_err *err);
    void *give_up_ctx;
};

/* A backend. conn is the backend's own connection object. */
struct mr_transport_ops {
    const char *name; /* "ssh" */
    int (*connect)(const struct mr_transport_target *t, int64_t deadline_ms, void **ret_conn,
                   struct mr_err *err);
    int (*exec)(void *conn, const char *cmd, int64_t timeout_ms, struct mr_exec *x,
                struct mr_err *err);
    int (*upload)(void *conn, const char *local, const char *remote_path, long mode,
                  int64_t timeout_ms, struct mr_err *err);
    void (*close)(void *conn);
    /* What the connection negotiated; NULL for a backend with no such thing. 0, or
     * -ENODATA. */
    int (*methods)(void *conn, struct mr_transport_methods *ret);
};

struct mr_transport;

/* Connects to t with ops, retrying until deadline_ms (mr_now_ms() clock) as the backend
 * sees fit. */
int mr_transport_connect(const struct mr_transport_ops *ops, const struct mr_transport_target *t,
                         int64_t deadline_ms, struct mr_transport **ret,
                         struct mr_err *err) MR_WUR;
/* Runs cmd in the guest (through the user's shell on SSH) within timeout_ms; x gets the
 * output and how the command ended. */
int mr_transport_exec(struct mr_transport *tr, const char *cmd, int64_t timeout_ms,
                      struct mr_exec *x, struct mr_err *err) MR_WUR;
/* Copies the local file to remote_path in the guest with the given mode. */
int mr_transport_upload(struct mr_transport *tr, const char *local, const char *remote_path,
                        long mode, int64_t timeout_ms, struct mr_err *err) MR_WUR;
/* What the connection negotiated (see struct mr_transport_methods). 0, or -ENOTSUP for
 * a backend that negotiates nothing, or -ENODATA. */
int mr_transport_methods(struct mr_transport *tr, struct mr_transport_methods *ret) MR_WUR;
/* The backend's name, for messages; borrowed. */
const char *mr_transport_name(const struct mr_transport *tr);
/* Ends the connection and frees tr. NULL does nothing. */
void mr_transport_close(struct mr_transport *tr);

#endif
