/* ssh.c: libssh2 sessions to guests, all non-blocking under poll() so that every step
 * has a deadline and an interrupt ends it within a second. */
#define _GNU_SOURCE
#include "ssh.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libssh2.h>
#include <libssh2_sftp.h>

#include "ssh2lib.h"
#include "sshoffer.h"

struct mr_ssh {
    int fd;
    LIBSSH2_SESSION *session;
    int tty; /* the target's: each exec asks for a pseudo-terminal first */
};

/* ---- keys ---------------------------------------------------------------------- */

static int parse_pub_line(struct mr_sshkey *k, const char *line, struct mr_err *err,
                          const char *what)
{
    char type[64], blob[8192];
    if (sscanf(line, "%63s %8191s", type, blob) != 2) {
        mr_err_set(err, "%s: not an OpenSSH public key line", what);
        return -EINVAL;
    }
    unsigned char *raw;
    size_t rawlen;
    if (mr_base64_decode(blob, &raw, &rawlen) < 0) {
        mr_err_set(err, "%s: the key blob is not valid base64", what);
        return -EINVAL;
    }
    free(raw);
    k->type = mr_xstrdup(type);
    k->blob_b64 = mr_xstrdup(blob);
    size_t n = strcspn(line, "\r\n");
    k->pub_line = mr_xstrndup(line, n);
    return 0;
}

int mr_sshkey_generate(struct mr_sshkey *k, const char *dir, enum mr_keytype type,
                       const char *comment, struct mr_err *err)
{
    memset(k, 0, sizeof(*k));
    int r = mr_mkdir_p(dir, 0700);
    if (r < 0 || chmod(dir, 0700) < 0) {
        mr_err_set(err, "cannot create key folder '%s': %s", dir, strerror(r < 0 ? -r : errno));
        return r < 0 ? r : -errno;
    }
    int rsa = type == MR_KEYTYPE_RSA;
    _cleanup_free_ char *priv = mr_xasprintf("%s/id_%s", dir, rsa ? "rsa" : "ed25519");
    _cleanup_free_ char *pub = mr_xasprintf("%s.pub", priv);
    (void)unlink(priv);
    (void)unlink(pub);
    /* RSA is for guests whose OpenSSH predates 6.5: 3072 bits (ssh-keygen's default since
     * 8.0, stated so an older ssh-keygen makes the same), and the PEM private key format,
     * the only one such an OpenSSH (and cloud-init's ssh_keys there) reads. */
    char *argv_rsa[] = { "ssh-keygen", "-q", "-t", "rsa", "-b", "3072", "-m", "PEM", "-N", "",
                         "-C", (char *)comment, "-f", priv, NULL };
    char *argv_ed[] = { "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", (char *)comment,
                        "-f", priv, NULL };
    char **argv = rsa ? argv_rsa : argv_ed;
    struct mr_buf out;
    mr_buf_init(&out);
    r = mr_spawn(argv, &out);
    if (r != 0) {
        mr_err_set(err, "cannot generate the run's SSH key: %s",
                   r == -ENOENT ? "ssh-keygen not found (install openssh-client)"
                                : (out.len ? out.data : "ssh-keygen failed"));
        mr_buf_release(&out);
        return r < 0 ? r : -EIO;
    }
    mr_buf_release(&out);
    if (chmod(priv, 0600) < 0) {
        mr_err_set(err, "cannot protect '%s': %s", priv, strerror(errno));
        return -errno;
    }
    _cleanup_free_ char *line = NULL;
    size_t len;
    if ((r = mr_file_read(pub, &line, &len)) < 0) {
        mr_err_set(err, "cannot read '%s': %s", pub, strerror(-r));
        return r;
    }
    if ((r = parse_pub_line(k, line, err, pub)) < 0)
        return r;
    if (strcmp(k->type, mr_keytype_name(type)) != 0) {
        mr_err_set(err, "ssh-keygen made a '%s' key, not '%s'", k->type, mr_keytype_name(type));
        mr_sshkey_release(k);
        return -EIO;
    }
    k->priv_path = MR_TAKE_PTR(priv);
    return 0;
}

int mr_sshkey_load_public(struct mr_sshkey *k, const char *path, struct mr_err *err)
{
    memset(k, 0, sizeof(*k));
    _cleanup_free_ char *data = NULL;
    size_t len;
    int r = mr_file_read(path, &data, &len);
    if (r < 0) {
        mr_err_set(err, "cannot read host key '%s': %s", path, strerror(-r));
        return r;
    }
    return parse_pub_line(k, data, err, path);
}

void mr_sshkey_release(struct mr_sshkey *k)
{
    free(k->priv_path);
    free(k->pub_line);
    free(k->type);
    free(k->blob_b64);
    memset(k, 0, sizeof(*k));
}

/* ---- waiting ------------------------------------------------------------------- */

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Waits until the socket is ready in the direction libssh2 is blocked on. */
static int wait_socket(struct mr_ssh *s, int64_t deadline)
{
    if (mr_interrupted)
        return -EINTR;
    int64_t left = deadline - mr_now_ms();
    if (left <= 0)
        return -ETIMEDOUT;
    int dir = libssh2_session_block_directions(s->session);
    struct pollfd p = { .fd = s->fd };
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
        p.events |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
        p.events |= POLLOUT;
    if (!p.events)
        p.events = POLLIN;
    /* Wake at least once a second to notice an interrupt. */
    if (poll(&p, 1, (int)min64(left, 1000)) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

/* Repeats a libssh2 call returning int while it would block. */
#define NB(s, deadline, call)                                                             \
    ({                                                                                    \
        int _rc;                                                                          \
        while ((_rc = (call)) == LIBSSH2_ERROR_EAGAIN) {                                  \
            int _w = wait_socket((s), (deadline));                                        \
            if (_w < 0) {                                                                 \
                _rc = _w == -EINTR ? -EINTR : LIBSSH2_ERROR_TIMEOUT;                      \
                break;                                                                    \
            }                                                                             \
        }                                                                                 \
        _rc;                                                                              \
    })

/* Repeats a libssh2 call returning a pointer while it would block. */
#define NB_PTR(s, deadline, call)                                                         \
    ({                                                                                    \
        __typeof__(call) _p;                                                              \
        while (!(_p = (call)) &&                                                          \
               libssh2_session_last_errno((s)->session) == LIBSSH2_ERROR_EAGAIN) {        \
            if (wait_socket((s), (deadline)) < 0)                                         \
                break;                                                                    \
        }                                                                                 \
        _p;                                                                               \
    })

static const char *ssh_msg(struct mr_ssh *s)
{
    return mr_ssh2_last_error(s->session);
}

/* ---- connecting ---------------------------------------------------------------- */

static int tcp_connect(const char *host, int port, int64_t deadline, struct mr_err *err)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        mr_err_set(err, "'%s' is not an IPv4 address", host);
        return -EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        mr_err_set(err, "socket: %s", strerror(errno));
        return -errno;
    }
    /* libssh2 writes a request as several small packets (a channel's close, then the next
     * channel's open). With Nagle's algorithm the second waits for the ACK of the first,
     * which QEMU's port forward on the other end of this loopback socket delays (a
     * delayed ACK): every exec would take that much longer (seen in an strace of the
     * sends and receives). */
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        mr_err_set(err, "connect to %s:%d: %s", host, port, strerror(errno));
        int r = -errno;
        close(fd);
        return r;
    }
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    for (;;) {
        int64_t left = deadline - mr_now_ms();
        if (mr_interrupted || left <= 0) {
            close(fd);
            mr_err_set(err, "connect to %s:%d: %s", host, port,
                       mr_interrupted ? "interrupted" : "timed out");
            return mr_interrupted ? -EINTR : -ETIMEDOUT;
        }
        int n = poll(&p, 1, (int)min64(left, 1000));
        if (n > 0)
            break;
    }
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (soerr) {
        mr_err_set(err, "connect to %s:%d: %s", host, port, strerror(soerr));
        close(fd);
        return -soerr;
    }
    return fd;
}

static char *fingerprint(const unsigned char *sha256)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char out[64] = "SHA256:";
    size_t o = strlen(out);
    for (int i = 0; i < 32; i += 3) {
        unsigned v = (unsigned)sha256[i] << 16;
        if (i + 1 < 32)
            v |= (unsigned)sha256[i + 1] << 8;
        if (i + 2 < 32)
            v |= sha256[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < 32)
            out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < 32)
            out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
    return mr_xstrdup(out);
}

static int check_host_key(struct mr_ssh *s, const struct mr_sshkey *pinned, struct mr_err *err)
{
    size_t len = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(s->session, &len, &type);
    if (!key) {
        mr_err_set(err, "the guest presented no host key");
        return -EPERM;
    }
    unsigned char *want;
    size_t want_len;
    if (mr_base64_decode(pinned->blob_b64, &want, &want_len) < 0) {
        mr_err_set(err, "the pinned host key is not valid base64");
        return -EINVAL;
    }
    int same = want_len == len && memcmp(want, key, len) == 0;
    free(want);
    if (same)
        return 0;
    const char *hash = libssh2_hostkey_hash(s->session, LIBSSH2_HOSTKEY_HASH_SHA256);
    _cleanup_free_ char *fp = hash ? fingerprint((const unsigned char *)hash) : mr_xstrdup("?");
    mr_err_set(err, "host key mismatch: the guest presented %s, which is not the pinned %s key; "
                    "refusing to connect",
               fp, pinned->type);
    return -EKEYREJECTED;
}

/* Behind QEMU's user networking the TCP connect always succeeds at once (slirp accepts for
 * the guest), and a guest whose network is not up yet never answers: waiting for a
 * handshake there would burn a whole attempt. So an attempt first waits for the server's
 * banner, peeking so libssh2 still reads it, BANNER_WAIT_MS per connection at most.
 * A connection made before the guest's network was up stays unanswered even after it
 * comes up (slirp sends its SYN again only seconds later), so while none has shown a
 * banner a new one is made every BANNER_REDIAL_MS beside the waiting ones, up to
 * BANNER_DIALS per attempt, and the first to show a banner is used: a guest is seen
 * within about a second of its sshd answering (with one connection at a time, up to
 * 4 s later: measured, README "Figures"), and a slow sshd still gets BANNER_WAIT_MS. */
#define BANNER_WAIT_MS 3000
#define BANNER_REDIAL_MS 1000
#define BANNER_DIALS 3

static int dial(const struct mr_transport_target *t, int64_t deadline, struct mr_err *err)
{
    return t->dial ? t->dial(t->dial_ctx, t->host, t->port, deadline, err)
                   : tcp_connect(t->host, t->port, deadline, err);
}

/* A connection whose server has sent its first bytes, or negative with err set: -EAGAIN
 * when no banner came (every connection closed or waited out), or the dial's error. */
static int dial_for_banner(const struct mr_transport_target *t, int64_t deadline,
                           struct mr_err *err)
{
    struct pollfd p[BANNER_DIALS];
    int64_t since[BANNER_DIALS];
    size_t n = 0, dials = 0;
    int64_t next = mr_now_ms();
    int r = -EAGAIN, closed = 0;
    for (;;) {
        int64_t now = mr_now_ms();
        if (mr_interrupted) {
            mr_err_set(err, "interrupted");
            r = -EINTR;
            break;
        }
        /* Connections whose wait is over go. */
        for (size_t i = 0; i < n;) {
            if (now - since[i] >= BANNER_WAIT_MS || now >= deadline) {
                close(p[i].fd);
                p[i] = p[--n];
                since[i] = since[n];
            } else {
                i++;
            }
        }
        /* The first dial is made even at the deadline: it then fails as a connect that
         * timed out, so an earlier attempt's cause is what the caller reports. */
        if (dials < BANNER_DIALS && now >= next && (now < deadline || !dials)) {
            struct mr_err de = { 0 };
            int fd = dial(t, deadline, &de);
            dials++;
            next = now + BANNER_REDIAL_MS;
            if (fd < 0 && n == 0) {
                /* Nothing listens (QEMU not started yet), or the dial failed: the
                 * caller backs off and tries again, or gives up. */
                mr_err_set(err, "%s", mr_err_msg(&de));
                mr_err_release(&de);
                return fd;
            }
            if (fd >= 0) {
                p[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
                since[n++] = now;
            }
            mr_err_release(&de);
        }
        if (n == 0 && (dials == BANNER_DIALS || now >= deadline))
            break;
        int64_t wake = dials < BANNER_DIALS ? next : deadline;
        for (size_t i = 0; i < n; i++)
            wake = min64(wake, since[i] + BANNER_WAIT_MS);
        wake = min64(wake, deadline);
        int got = poll(p, n, (int)min64(100, wake > now ? wake - now : 0));
        if (got < 0 && errno != EINTR) {
            mr_err_set(err, "poll: %s", strerror(errno));
            r = -errno;
            break;
        }
        for (size_t i = 0; got > 0 && i < n; i++) {
            if (!p[i].revents)
                continue;
            char buf[4];
            ssize_t rd = recv(p[i].fd, buf, sizeof(buf), MSG_PEEK);
            if (rd > 0) {
                int fd = p[i].fd;
                for (size_t j = 0; j < n; j++)
                    if (j != i)
                        close(p[j].fd);
                return fd;
            }
            /* Closed before its banner: the guest is up, its sshd not yet. */
            closed = 1;
            close(p[i].fd);
            p[i] = p[--n];
            since[i] = since[n];
            i--;
        }
    }
    for (size_t i = 0; i < n; i++)
        close(p[i].fd);
    if (r == -EAGAIN && closed) {
        mr_err_set(err, "%s:%d closed the connection before the SSH banner", t->host, t->port);
    } else if (r == -EAGAIN) {
        mr_err_set(err, "no SSH banner from %s:%d yet", t->host, t->port);
    }
    return r;
}

/* The host key algorithms that verify a key of the pinned type: an RSA key signs with
 * SHA-2 where both sides can (rsa-sha2-*, which OpenSSH 8.8 and later offer alone by
 * default) and with SHA-1 (ssh-rsa, which is all OpenSSH before 7.2 and libssh2 before
 * 1.11 know). */
static const char *hostkey_pref(const char *type)
{
    return strcmp(type, "ssh-rsa") == 0 ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa" : type;
}

/* The names of want (a comma list; NULL: all) that this libssh2 supports for method, as
 * a comma list in want's order, or NULL for none. Caller frees. */
static char *supported_of(LIBSSH2_SESSION *session, int method, const char *want)
{
    const char **algs = NULL;
    int n = libssh2_session_supported_algs(session, method, &algs);
    struct mr_buf b;
    mr_buf_init(&b);
    if (want) {
        for (const char *p = want; *p;) {
            size_t len = strcspn(p, ",");
            for (int i = 0; i < n; i++)
                if (strlen(algs[i]) == len && strncmp(algs[i], p, len) == 0)
                    mr_buf_addf(&b, "%s%s", b.len ? "," : "", algs[i]);
            p += len + (p[len] == ',');
        }
    } else {
        for (int i = 0; i < n; i++)
            mr_buf_addf(&b, "%s%s", b.len ? "," : "", algs[i]);
    }
    if (n > 0)
        libssh2_free(session, algs);
    if (!b.len) {
        mr_buf_release(&b);
        return NULL;
    }
    return mr_buf_detach(&b, NULL);
}

/* "Unable to exchange encryption keys": the two sides have no algorithm of some kind in
 * common. libssh2 does not say which, nor what the server offered, so a connection of
 * our own reads the server's offer (its first packet) and the message names each kind
 * that does not meet. Returns -EKEYREJECTED when the server has no host key of the
 * pinned type (as good as a wrong key: it is never logged in to), else -EAGAIN. */
static int kex_failed(struct mr_ssh *s, const struct mr_transport_target *t, int64_t deadline,
                      struct mr_err *err)
{
    const char *pref = t->pinned_host ? hostkey_pref(t->pinned_host->type) : NULL;
    _cleanup_free_ char *hk = supported_of(s->session, LIBSSH2_METHOD_HOSTKEY, pref);
    const char *ours_hk = hk ? hk : "(none)";
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_addf(&b, "SSH handshake with %s:%d failed: %s", t->host, t->port, ssh_msg(s));
    int64_t probe_deadline = min64(deadline, mr_now_ms() + 5000);
    struct mr_err perr = { 0 };
    struct mr_ssh_offer o = { 0 };
    int fd = t->dial ? t->dial(t->dial_ctx, t->host, t->port, probe_deadline, &perr)
                     : tcp_connect(t->host, t->port, probe_deadline, &perr);
    int r = fd < 0 ? fd : mr_ssh_offer_read(fd, probe_deadline, &o, &perr);
    if (fd >= 0)
        close(fd);
    int hostkey_miss = 0;
    if (r < 0) {
        mr_buf_addf(&b, "; matrixrun offered host key types %s%s; what the server offers "
                        "could not be read: %s",
                    ours_hk, pref ? " (the pinned key's type)" : "", mr_err_msg(&perr));
    } else {
        static const struct {
            const char *what;
            int method;
        } kinds[] = {
            { "host key type", LIBSSH2_METHOD_HOSTKEY }, { "key exchange", LIBSSH2_METHOD_KEX },
            { "cipher", LIBSSH2_METHOD_CRYPT_CS },     { "MAC", LIBSSH2_METHOD_MAC_CS },
        };
        const char *theirs[] = { o.hostkey, o.kex, o.cipher, o.mac };
        size_t missing = 0;
        for (size_t i = 0; i < MR_ARRAY_SIZE(kinds); i++) {
            _cleanup_free_ char *all = i ? supported_of(s->session, kinds[i].method, NULL) : NULL;
            const char *ours = i ? (all ? all : "(none)") : ours_hk;
            if (mr_ssh_names_meet(ours, theirs[i]))
                continue;
            missing++;
            hostkey_miss |= i == 0;
            mr_buf_addf(&b, "; no %s in common: matrixrun offers %s%s, the server %s",
                        kinds[i].what, ours, i == 0 && pref ? " (the pinned key's type)" : "",
                        theirs[i]);
        }
        if (!missing)
            mr_buf_addf(&b, "; matrixrun offers host key types %s, the server %s", ours_hk,
                        o.hostkey);
    }
    mr_err_set(err, "%s", b.data);
    mr_buf_release(&b);
    mr_err_release(&perr);
    mr_ssh_offer_release(&o);
    return hostkey_miss && pref ? -EKEYREJECTED : -EAGAIN;
}

static int connect_once(const struct mr_transport_target *t, int64_t deadline,
                        struct mr_ssh **ret, struct mr_err *err)
{
    int fd = dial_for_banner(t, deadline, err);
    if (fd < 0)
        return fd;
    struct mr_ssh *s = mr_xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->session = libssh2_session_init();
    if (!s->session) {
        close(fd);
        free(s);
        mr_err_set(err, "cannot create an SSH session");
        return -ENOMEM;
    }
    libssh2_session_set_blocking(s->session, 0);
    /* Ask for the pinned key's type only: a guest that also holds keys of other types
     * (Win32-OpenSSH makes them at service start) must still show the pinned one. Names
     * this libssh2 does not know are left out first: libssh2 before 1.11 removes them
     * with an overlapping memcpy (libssh2 issue 611), which AddressSanitizer reports. */
    _cleanup_free_ char *pref =
        t->pinned_host ? supported_of(s->session, LIBSSH2_METHOD_HOSTKEY,
                                      hostkey_pref(t->pinned_host->type))
                       : NULL;
    if (t->pinned_host &&
        (!pref || libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY, pref))) {
        mr_err_set(err, "this libssh2 cannot verify host keys of type '%s'", t->pinned_host->type);
        mr_ssh_free(s);
        return -EPERM;
    }
    int rc = NB(s, deadline, libssh2_session_handshake(s->session, fd));
    if (rc == LIBSSH2_ERROR_KEX_FAILURE) {
        rc = kex_failed(s, t, deadline, err);
        mr_ssh_free(s);
        return rc;
    }
    if (rc) {
        mr_err_set(err, "SSH handshake with %s:%d failed: %s", t->host, t->port,
                   rc == -EINTR ? "interrupted" : ssh_msg(s));
        mr_ssh_free(s);
        return rc == -EINTR ? -EINTR : -EAGAIN;
    }
    if (t->pinned_host && (rc = check_host_key(s, t->pinned_host, err)) < 0) {
        mr_ssh_free(s);
        return rc;
    }
    _cleanup_free_ char *pub = mr_xasprintf("%s.pub", t->key->priv_path);
    rc = NB(s, deadline,
            libssh2_userauth_publickey_fromfile_ex(s->session, t->user,
                                                   (unsigned)strlen(t->user), pub,
                                                   t->key->priv_path, NULL));
    if (rc) {
        mr_err_set(err, "public key authentication as '%s' failed: %s", t->user,
                   rc == -EINTR ? "interrupted" : ssh_msg(s));
        mr_ssh_free(s);
        /* The guest may not have installed the key yet (cloud-init writes it while sshd
         * already listens), so this is retried until the deadline, unless the guest had
         * it from the start. */
        return rc == -EINTR ? -EINTR : t->auth_refusal_final ? -EPERM : -EAGAIN;
    }
    s->tty = t->tty;
    *ret = s;
    return 0;
}

int mr_ssh_connect(const struct mr_transport_target *t, int64_t deadline_ms, struct mr_ssh **ret,
                   struct mr_err *err)
{
    if (mr_ssh2_global_init() < 0) {
        mr_err_set(err, "cannot initialise libssh2");
        return -EIO;
    }
    int64_t backoff = 250;
    struct mr_err last = { 0 };
    /* The last failure that said why (not a timeout): the attempt the deadline cuts
     * short says only that time ran out, and the user needs the cause. */
    _cleanup_free_ char *cause = NULL;
    for (;;) {
        /* One attempt may not take the whole budget: a guest that accepted the TCP
         * connection but stalls mid-handshake is retried. */
        int64_t attempt_start = mr_now_ms();
        int64_t attempt_deadline = min64(deadline_ms, attempt_start + 20000);
        mr_err_release(&last);
        int r = connect_once(t, attempt_deadline, ret, &last);
        if (r == 0) {
            mr_err_release(&last);
            return 0;
        }
        if (r != -ETIMEDOUT) {
            free(cause);
            cause = mr_xstrdup(mr_err_msg(&last));
        }
        if (r == -EKEYREJECTED && !t->retry_host_mismatch)
            r = -EPERM;
        /* A dial whose carrier is gone (a tunnel's lost connection it could not open
         * again) does not come back: retrying cannot help. */
        if (r == -EPERM || r == -EINTR || r == -EINVAL || r == -ENOTCONN) {
            mr_err_set(err, "%s", mr_err_msg(&last));
            mr_err_release(&last);
            return r;
        }
        if (t->give_up && (r = t->give_up(t->give_up_ctx, err)) < 0) {
            mr_err_release(&last);
            return r;
        }
        int64_t now = mr_now_ms();
        if (now >= deadline_ms) {
            if (cause && r == -ETIMEDOUT)
                mr_err_set(err, "no SSH login on %s:%d before the deadline; last attempt: %s; "
                           "an earlier attempt failed with: %s",
                           t->host, t->port, mr_err_msg(&last), cause);
            else
                mr_err_set(err, "no SSH login on %s:%d before the deadline; last attempt: %s",
                           t->host, t->port, mr_err_msg(&last));
            mr_err_release(&last);
            return -ETIMEDOUT;
        }
        /* Attempts start at least backoff apart: one that waited for a banner already
         * (dial_for_banner) is followed at once. The last wait ends at the deadline, not
         * before it: a guest gets its whole boot timeout (giving up when a backoff would
         * pass the deadline cut up to 2 s off). */
        for (int64_t end = min64(attempt_start + backoff, deadline_ms); mr_now_ms() < end;) {
            if (mr_interrupted) {
                mr_err_set(err, "interrupted while waiting for SSH");
                mr_err_release(&last);
                return -EINTR;
            }
            mr_sleep_ms(min64(100, end - mr_now_ms()));
        }
        backoff = min64(backoff * 2, 2000);
    }
}

void mr_ssh_free(struct mr_ssh *s)
{
    if (!s)
        return;
    if (s->session) {
        int64_t deadline = mr_now_ms() + 1000;
        (void)NB(s, deadline, libssh2_session_disconnect(s->session, "matrixrun done"));
        /* On a non-blocking session libssh2_session_free() returns EAGAIN while it still
         * closes channels, and frees nothing. Give it a second; then shut the socket so
         * every pending send fails at once and the free completes. */
        deadline = mr_now_ms() + 1000;
        for (int tries = 0; tries < 5000; tries++) {
            if (libssh2_session_free(s->session) != LIBSSH2_ERROR_EAGAIN)
                break;
            if (wait_socket(s, deadline) < 0)
                shutdown(s->fd, SHUT_RDWR); /* past the second: make sends fail */
        }
    }
    if (s->fd >= 0)
        close(s->fd);
    free(s);
}

/* ---- exec ---------------------------------------------------------------------- */

/* Closes and frees a channel without waiting long for the server: it has closed already,
 * or the command failed and the channel is given up. */
static void channel_end(struct mr_ssh *s, LIBSSH2_CHANNEL *ch)
{
    int64_t grace = mr_now_ms() + 2000;
    (void)NB(s, grace, libssh2_channel_close(ch));
    /* If the channel cannot be freed in time, libssh2_session_free() frees it later. */
    (void)NB(s, grace, libssh2_channel_free(ch));
}

/* Why a step of a command's channel failed: rc is what NB() returned. Returns the
 * -errno of transport.h's exec contract, with err set. */
static int exec_failed(struct mr_ssh *s, int rc, int64_t timeout_ms, const char *during,
                       struct mr_err *err)
{
    if (rc == LIBSSH2_ERROR_TIMEOUT) {
        mr_err_set(err, "the command outlived its timeout of %.1f s", (double)timeout_ms / 1000.0);
        return -ETIMEDOUT;
    }
    if (rc == -EINTR && mr_interrupted) {
        mr_err_set(err, "interrupted");
        return -EINTR;
    }
    mr_err_set(err, "connection lost %s: %s", during, ssh_msg(s));
    return -EIO;
}

static LIBSSH2_CHANNEL *channel_open(struct mr_ssh *s, int64_t deadline, int *ret_rc,
                                     struct mr_err *err)
{
    LIBSSH2_CHANNEL *ch = NULL;
    /* libssh2 1.10 sometimes takes a read that brought no whole packet for the reply it
     * waits for, and fails with -1 although the request went out and the connection is
     * fine (libssh2 issue 671; seen with many guests on few cores). A channel open that
     * failed so is asked again; the server's orphan channel is harmless. */
    for (int tries = 0; tries < 3 && !ch; tries++) {
        ch = NB_PTR(s, deadline, libssh2_channel_open_session(s->session));
        if (!ch && libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_SOCKET_NONE)
            break;
    }
    if (ch)
        return ch;
    if (mr_interrupted) {
        mr_err_set(err, "interrupted");
        *ret_rc = -EINTR;
    } else {
        mr_err_set(err, "cannot open an SSH channel: %s", ssh_msg(s));
        *ret_rc = mr_now_ms() >= deadline ? -ETIMEDOUT : -EIO;
    }
    return NULL;
}

/* Reads the command's stdout and stderr into x until its end-of-file. */
static int read_output(struct mr_ssh *s, LIBSSH2_CHANNEL *ch, int64_t deadline, int64_t timeout_ms,
                       struct mr_exec *x, struct mr_err *err)
{
    char chunk[32768];
    for (;;) {
        ssize_t r1 = libssh2_channel_read_ex(ch, 0, chunk, sizeof(chunk));
        if (r1 > 0)
            mr_exec_add_out(x, chunk, (size_t)r1);
        ssize_t r2 = libssh2_channel_read_ex(ch, SSH_EXTENDED_DATA_STDERR, chunk, sizeof(chunk));
        if (r2 > 0)
            mr_exec_add_err(x, chunk, (size_t)r2);
        if ((r1 < 0 && r1 != LIBSSH2_ERROR_EAGAIN) || (r2 < 0 && r2 != LIBSSH2_ERROR_EAGAIN))
            return exec_failed(s, (int)(r1 < 0 && r1 != LIBSSH2_ERROR_EAGAIN ? r1 : r2),
                               timeout_ms, "while the command ran", err);
        if (r1 > 0 || r2 > 0)
            continue;
        if (libssh2_channel_eof(ch))
            return 0;
        int w = wait_socket(s, deadline);
        if (w < 0)
            return exec_failed(s, w == -ETIMEDOUT ? LIBSSH2_ERROR_TIMEOUT : -EINTR, timeout_ms,
                               "while the command ran", err);
    }
}

/* After the command's end-of-file: how it ended. */
static int read_end(struct mr_ssh *s, LIBSSH2_CHANNEL *ch, int armed, int64_t deadline,
                    int64_t timeout_ms, struct mr_exec *x, struct mr_err *err)
{
    /* The server sends the exit status when the command has ended and then closes the
     * channel; a command that closed its output and went on ends any time later. So the
     * server's close is awaited up to the command's own deadline, and our close is not
     * sent first: it could make the server drop the channel before the status. */
    int rc = NB(s, deadline, libssh2_channel_wait_closed(ch));
    if (rc)
        return exec_failed(s, rc, timeout_ms, "while waiting for the command to end", err);
    char *sig = NULL;
    size_t siglen = 0;
    if (libssh2_channel_get_exit_signal(ch, &sig, &siglen, NULL, NULL, NULL, NULL) == 0 && sig) {
        if (siglen)
            x->exit_signal = mr_xstrndup(sig, siglen);
        libssh2_free(s->session, sig);
    }
    if (x->exit_signal)
        return 0;
    /* libssh2 reads "no status" as 0: that must not pass for a command that succeeded.
     * When this libssh2 cannot tell (mr_ssh2_exit_status_arm() knows no way for it), the
     * status is taken as read. */
    if (mr_ssh2_exit_status_received(ch, armed) == 0) {
        mr_err_set(err, "the guest closed the channel without an exit status");
        return -EPROTO;
    }
    x->exit_status = libssh2_channel_get_exit_status(ch);
    return 0;
}

int mr_ssh_exec(struct mr_ssh *s, const char *cmd, int64_t timeout_ms, struct mr_exec *x,
                struct mr_err *err)
{
    int64_t deadline = mr_now_ms() + timeout_ms;
    int r = 0;
    LIBSSH2_CHANNEL *ch = channel_open(s, deadline, &r, err);
    if (!ch)
        return r;
    int armed = mr_ssh2_exit_status_arm(ch);
    /* A terminal for sudo's requiretty: "dumb" (no escapes in the output), and OPOST off
     * (RFC 4254 mode 70 = 0), so the terminal passes output through as the command wrote
     * it: no \n made into \r\n, which the log script's framing and mrbench's lines would
     * not take. */
    if (s->tty) {
        static const char modes[] = { 70, 0, 0, 0, 0, 0 }; /* OPOST 0, TTY_OP_END */
        int prc = NB(s, deadline, libssh2_channel_request_pty_ex(ch, "dumb", 4, modes,
                                                                 sizeof(modes), 200, 50, 0,
                                                                 0));
        if (prc) {
            mr_err_set(err, "cannot get a terminal for the command: %s (libssh2 error %d)",
                       prc == -EINTR ? "interrupted" : ssh_msg(s), prc);
            channel_end(s, ch);
            return prc == -EINTR ? -EINTR : prc == LIBSSH2_ERROR_TIMEOUT ? -ETIMEDOUT : -EIO;
        }
    }
    /* The libssh2 quirk of channel_open() can fail the exec request too. That is not taken
     * as "the command started": nothing says it did, so it is a failed step instead. */
    int rc = NB(s, deadline, libssh2_channel_exec(ch, cmd));
    if (rc) {
        mr_err_set(err, "cannot start the command: %s (libssh2 error %d)",
                   rc == -EINTR ? "interrupted" : ssh_msg(s), rc);
        channel_end(s, ch);
        return rc == -EINTR ? -EINTR : rc == LIBSSH2_ERROR_TIMEOUT ? -ETIMEDOUT : -EIO;
    }
    r = read_output(s, ch, deadline, timeout_ms, x, err);
    if (r == 0)
        r = read_end(s, ch, armed, deadline, timeout_ms, x, err);
    channel_end(s, ch);
    return r;
}

/* ---- upload -------------------------------------------------------------------- */

int mr_ssh_upload(struct mr_ssh *s, const char *local, const char *remote_path, long mode,
                  int64_t timeout_ms, struct mr_err *err)
{
    int64_t deadline = mr_now_ms() + timeout_ms;
    int r = -EIO;
    int fd = open(local, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mr_err_set(err, "cannot open '%s': %s", local, strerror(errno));
        return -errno;
    }
    LIBSSH2_SFTP *sftp = NB_PTR(s, deadline, libssh2_sftp_init(s->session));
    LIBSSH2_SFTP_HANDLE *fh = NULL;
    if (!sftp) {
        mr_err_set(err, "cannot start SFTP: %s", ssh_msg(s));
        goto out;
    }
    fh = NB_PTR(s, deadline,
                libssh2_sftp_open_ex(sftp, remote_path, (unsigned)strlen(remote_path),
                                     LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC,
                                     mode, LIBSSH2_SFTP_OPENFILE));
    if (!fh) {
        mr_err_set(err, "cannot create '%s' in the guest: %s (SFTP status %lu)", remote_path,
                   ssh_msg(s), libssh2_sftp_last_error(sftp));
        goto out;
    }
    char chunk[32768];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            mr_err_set(err, "cannot read '%s': %s", local, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w;
            while ((w = libssh2_sftp_write(fh, chunk + off, (size_t)(n - off))) ==
                   LIBSSH2_ERROR_EAGAIN) {
                int wr = wait_socket(s, deadline);
                if (wr < 0) {
                    mr_err_set(err, "upload of '%s' %s", local,
                               wr == -EINTR ? "interrupted" : "timed out");
                    r = wr;
                    goto out;
                }
            }
            if (w < 0) {
                mr_err_set(err, "cannot write '%s' in the guest: %s", remote_path, ssh_msg(s));
                goto out;
            }
            off += w;
        }
    }
    r = 0;
out:
    if (fh && NB(s, deadline, libssh2_sftp_close_handle(fh)) != 0 && r == 0) {
        mr_err_set(err, "cannot close '%s' in the guest: %s", remote_path, ssh_msg(s));
        r = -EIO;
    }
    if (sftp) {
        /* Dropbear up to 2024.85 may send CLOSE on a session channel that opens while it
         * still handles the SIGCHLD of the last one's process, then aborts the whole
         * connection ("Failed assertion ... !channel->sent_close") when that channel's
         * command writes (dropbear issues 173 and 321). libssh2 1.10's channel free stops
         * waiting for the server's CLOSE at the first packet it reads, so the next exec
         * could open inside that window. So the SFTP channel gets our EOF, and the
         * server's CLOSE, which it sends once it has reaped sftp-server, is awaited.
         * libssh2_channel_close() is not called here: on an SFTP channel it frees the
         * LIBSSH2_SFTP, which libssh2_sftp_shutdown() then uses. */
        LIBSSH2_CHANNEL *ch = libssh2_sftp_get_channel(sftp);
        int64_t grace = min64(deadline, mr_now_ms() + 5000);
        if (ch && NB(s, grace, libssh2_channel_send_eof(ch)) == 0 &&
            NB(s, grace, libssh2_channel_wait_eof(ch)) == 0)
            (void)NB(s, grace, libssh2_channel_wait_closed(ch));
        (void)NB(s, deadline, libssh2_sftp_shutdown(sftp));
    }
    close(fd);
    return r;
}

int mr_ssh_methods(struct mr_ssh *s, struct mr_transport_methods *ret)
{
    struct mr_transport_methods m = {
        .hostkey = libssh2_session_methods(s->session, LIBSSH2_METHOD_HOSTKEY),
        .kex = libssh2_session_methods(s->session, LIBSSH2_METHOD_KEX),
        .cipher = libssh2_session_methods(s->session, LIBSSH2_METHOD_CRYPT_CS),
        .mac = libssh2_session_methods(s->session, LIBSSH2_METHOD_MAC_CS),
    };
    if (!m.hostkey || !m.kex || !m.cipher || !m.mac)
        return -ENODATA;
    *ret = m;
    return 0;
}

/* ---- the transport backend --------------------------------------------------------- */

static int op_connect(const struct mr_transport_target *t, int64_t deadline_ms, void **ret_conn,
                      struct mr_err *err)
{
    struct mr_ssh *s = NULL;
    int r = mr_ssh_connect(t, deadline_ms, &s, err);
    if (r == 0)
        *ret_conn = s;
    return r;
}

static int op_exec(void *conn, const char *cmd, int64_t timeout_ms, struct mr_exec *x,
                   struct mr_err *err)
{
    return mr_ssh_exec(conn, cmd, timeout_ms, x, err);
}

static int op_upload(void *conn, const char *local, const char *remote_path, long mode,
                     int64_t timeout_ms, struct mr_err *err)
{
    return mr_ssh_upload(conn, local, remote_path, mode, timeout_ms, err);
}

static void op_close(void *conn)
{
    mr_ssh_free(conn);
}

static int op_methods(void *conn, struct mr_transport_methods *ret)
{
    return mr_ssh_methods(conn, ret);
}

const struct mr_transport_ops mr_ssh_transport = {
    .name = "ssh",
    .connect = op_connect,
    .exec = op_exec,
    .upload = op_upload,
    .close = op_close,
    .methods = op_methods,
};
