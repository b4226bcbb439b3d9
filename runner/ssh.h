/* ssh.h: the run's key pair and SSH sessions to guests through libssh2: readiness wait
 * with backoff, pinned host keys, exec with timeouts, SFTP upload.
 *
 * A struct mr_ssh is heap-allocated by mr_ssh_connect() and freed by mr_ssh_free().
 * struct mr_sshkey is embedded: mr_sshkey_release() frees its contents. */
#ifndef MR_SSH_H
#define MR_SSH_H

#include <stddef.h>

#include "keytype.h"
#include "transport.h"
#include "util.h"

struct mr_sshkey {
    char *priv_path;  /* file 0600 in a folder 0700; never copied into a report */
    char *pub_line;   /* "ssh-ed25519 AAAA... comment" */
    char *type;       /* "ssh-ed25519", "ssh-rsa" */
    char *blob_b64;   /* the base64 key blob */
};

/* Generates a pair of the given type in dir (created 0700) with ssh-keygen: dir/id_ed25519,
 * or dir/id_rsa (3072 bits, private key in PEM format, which OpenSSH before 6.5 reads). */
int mr_sshkey_generate(struct mr_sshkey *k, const char *dir, enum mr_keytype type,
                       const char *comment, struct mr_err *err) MR_WUR;
/* Reads an OpenSSH one-line public key file (type, blob, optional comment). */
int mr_sshkey_load_public(struct mr_sshkey *k, const char *path, struct mr_err *err) MR_WUR;
void mr_sshkey_release(struct mr_sshkey *k);

struct mr_ssh;

/* The SSH backend of transport.h: conn is a struct mr_ssh, and the calls below are its
 * operations. The target's keys are struct mr_sshkey; its dial callback, when set,
 * carries the SSH connection (as tunnel.h's mr_tunnel_dial_cb does). */
extern const struct mr_transport_ops mr_ssh_transport;

/* Connects, checks the host key and authenticates, retrying with backoff (0.25 s doubling
 * to 2 s) until deadline_ms; one attempt takes at most 20 s. A host key
 * mismatch is not retried unless retry_host_mismatch is set. Return codes: transport.h's
 * connect. */
int mr_ssh_connect(const struct mr_transport_target *t, int64_t deadline_ms, struct mr_ssh **ret,
                   struct mr_err *err) MR_WUR;
void mr_ssh_free(struct mr_ssh *s);

/* Runs cmd through the guest user's shell and waits for its exit status or signal (past
 * its end-of-file, until timeout_ms). Return codes: transport.h's exec. */
int mr_ssh_exec(struct mr_ssh *s, const char *cmd, int64_t timeout_ms, struct mr_exec *x,
                struct mr_err *err) MR_WUR;

/* The algorithms the session negotiated (libssh2_session_methods): host key, kex, and
 * the client to server cipher and MAC. Borrowed from s. 0, or -ENODATA. */
int mr_ssh_methods(struct mr_ssh *s, struct mr_transport_methods *ret) MR_WUR;

/* Uploads a local file over SFTP to remote_path with the given mode. Return codes:
 * transport.h's upload. */
int mr_ssh_upload(struct mr_ssh *s, const char *local, const char *remote_path, long mode,
                  int64_t timeout_ms, struct mr_err *err) MR_WUR;

#endif
