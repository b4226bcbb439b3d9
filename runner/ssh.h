/* ssh.h: the run's key pair and SSH sessions to guests through libssh2: readiness wait
 * with backoff, pinned host keys, exec with timeouts, SFTP upload.
 *
 * A struct mr_ssh is heap-allocated by mr_ssh_connect() and freed by mr_ssh_free().
 * struct mr_sshkey and struct mr_exec are embedded: _release frees their contents. */
#ifndef MR_SSH_H
#define MR_SSH_H

#include <stddef.h>

#include "util.h"

/* Each of stdout and stderr keeps at most this much of a command's output. */
#define MR_SSH_OUTPUT_CAP (4u * 1024 * 1024)

struct mr_sshkey {
    char *priv_path;  /* file 0600 in a folder 0700; never copied into a report */
    char *pub_line;   /* "ssh-ed25519 AAAA... comment" */
    char *type;       /* "ssh-ed25519" */
    char *blob_b64;   /* the base64 key blob */
};

/* Generates an ed25519 pair in dir (created 0700) with ssh-keygen. */
int mr_sshkey_generate(struct mr_sshkey *k, const char *dir, const char *comment,
                       struct mr_err *err) MR_WUR;
/* Reads an OpenSSH one-line public key file (type, blob, optional comment). */
int mr_sshkey_load_public(struct mr_sshkey *k, const char *path, struct mr_err *err) MR_WUR;
void mr_sshkey_release(struct mr_sshkey *k);

struct mr_ssh;
struct mr_tunnel;

/* Initialises libssh2 once per process; safe from any thread. 0, or -EIO. */
int mr_ssh_global_init(void) MR_WUR;

struct mr_ssh_target {
    const char *host;
    int port;
    const char *user;
    const struct mr_sshkey *key;          /* client key pair */
    const struct mr_sshkey *pinned_host;  /* expected host key; NULL trusts any (not used by the runner) */
    /* A guest seeded at boot may show an image's old host key until cloud-init has put
     * the pinned one in place: keep trying (never logging in) instead of giving up. */
    int retry_host_mismatch;
    /* A guest on a remote libvirt host: reach host:port as that host sees it, through
     * this tunnel (tunnel.h). NULL connects directly. */
    struct mr_tunnel *via;
};

/* Connects, checks the host key and authenticates, retrying with backoff (0.25 s doubling
 * to 2 s) until deadline_ms (mr_now_ms() clock). A host key mismatch is not retried
 * unless retry_host_mismatch is set.
 * Returns 0, -ETIMEDOUT (err names the last failure), -EPERM (host key or auth refused,
 * or the tunnel's server forbids forwarding), -EINTR (interrupted), -ENOTCONN (the
 * tunnel's connection is gone). */
int mr_ssh_connect(const struct mr_ssh_target *t, int64_t deadline_ms, struct mr_ssh **ret,
                   struct mr_err *err) MR_WUR;
void mr_ssh_free(struct mr_ssh *s);

struct mr_exec {
    int exit_status;   /* valid when exit_signal is NULL */
    char *exit_signal; /* "SEGV", ... or NULL */
    struct mr_buf out;
    struct mr_buf err;
    size_t out_cap;     /* stdout kept at most; mr_exec_init sets MR_SSH_OUTPUT_CAP */
    size_t out_dropped; /* bytes past out_cap (stderr: past MR_SSH_OUTPUT_CAP), not kept */
    size_t err_dropped;
};
void mr_exec_init(struct mr_exec *x);
void mr_exec_release(struct mr_exec *x);

/* Runs cmd through the guest user's shell. Returns 0 when the command ended (look at
 * exit_status/exit_signal), -ETIMEDOUT when it outlived timeout_ms, -EINTR, or -EIO
 * when the connection failed; err says which. */
int mr_ssh_exec(struct mr_ssh *s, const char *cmd, int64_t timeout_ms, struct mr_exec *x,
                struct mr_err *err) MR_WUR;

/* Uploads a local file over SFTP to remote_path with the given mode. */
int mr_ssh_upload(struct mr_ssh *s, const char *local, const char *remote_path, long mode,
                  int64_t timeout_ms, struct mr_err *err) MR_WUR;

#endif
