/* tunnel.c: an SSH connection to a remote libvirt host whose direct-tcpip channels carry
 * TCP connections to that host's loopback, all served by one pump thread per tunnel.
 *
 * libssh2 sessions are not thread-safe, and a non-blocking session that got EAGAIN while
 * sending one packet must be called again with that same packet before any other (or it
 * fails with LIBSSH2_ERROR_BAD_USE), which rules out juggling many channels the plain
 * way. So the session's send callback never blocks: it appends to a queue that the pump
 * flushes when the socket takes it, and the pump stops handing channel data to libssh2
 * while that queue is long. Every libssh2 call then either completes its sends or waits
 * for the server, and any call may follow any other. */
#define _GNU_SOURCE
#include "tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh2.h>
#include <libxml/uri.h>

#include "ssh2lib.h"

/* Each direction of each channel buffers this much between its descriptor and libssh2. */
#define CHAN_BUF (64 * 1024)
/* Channel data is not handed to libssh2 while this much waits for the socket, so a slow
 * link holds the writers back instead of growing the queue. */
#define OUTQ_HIGH (512 * 1024)

enum verify {
    VERIFY_NORMAL,     /* the host must be listed with this key */
    VERIFY_ACCEPT_NEW, /* an unlisted host is accepted; a listed one must match */
    VERIFY_IGNORE,     /* nothing is checked */
};

struct params {
    char *host;
    int port;
    char *user;
    char *keyfile;
    char *known_hosts;
    enum verify verify;
};

/* A caller of mr_tunnel_dial() waiting for the pump. Lives on the caller's stack. */
struct dial {
    struct dial *next;
    const char *host; /* the caller's; the pump copies it before the caller may leave */
    int port;
    int64_t deadline;
    int done; /* under the tunnel's lock; once set, the pump forgets the dial */
    int rc;   /* the descriptor, or -errno */
    char *msg; /* on failure; the caller frees it */
};

/* One forwarded connection: a channel and the pump's end of the caller's socket pair. */
struct chan {
    struct chan *next;
    LIBSSH2_CHANNEL *ch; /* NULL once freed: the pump drops the chan */
    int fd;              /* -1 once closed */
    size_t up_len;       /* bytes in up: read from fd, not yet written to the channel */
    size_t down_off, down_len; /* down[off, len): read from the channel, not yet sent */
    unsigned fd_eof : 1;     /* fd read end-of-file: the caller shut down or closed */
    unsigned hup : 1;        /* poll saw the caller's end close */
    unsigned fd_gone : 1;    /* the caller closed its end: nothing more to deliver */
    unsigned eof_sent : 1;   /* EOF sent on the channel */
    unsigned remote_eof : 1; /* the far side sent EOF */
    unsigned shut_wr : 1;    /* fd shut for writing after the far side's EOF */
    unsigned closing : 1;    /* the channel is being freed */
    char up[CHAN_BUF];
    char down[CHAN_BUF];
};

enum open_kind { OPEN_NONE, OPEN_KEEPER, OPEN_DIAL };

struct mr_tunnel {
    char *name; /* user@host:port */
    struct params params; /* to open the connection again */
    pthread_mutex_t reopen_lock; /* one mr_tunnel_dial() at a time opens it again */
    int pump_running;   /* a pump thread to join (reopen and close only) */
    int64_t reopen_failed_ms; /* when opening it again last failed; 0: never */
    unsigned reopens;   /* under lock */
    int sock;
    LIBSSH2_SESSION *session;
    struct mr_buf outq; /* bytes libssh2 sent that the socket has not taken yet */
    size_t outq_head;
    int sock_errno;    /* a send failed with this (EPIPE once the session ends) */
    uint64_t rx_bytes; /* bytes received so far: a pass that received none saw all state */
    int wait_err;      /* set by NB(): why waiting gave up, 0 if it did not */

    pthread_t pump;
    int wake[2]; /* a byte here wakes the pump: a dial queued, or close asked */
    pthread_mutex_t lock;
    pthread_cond_t dial_done;
    struct dial *queue; /* under lock */
    int closing;        /* under lock */
    char *lost;         /* under lock: why the connection ended, NULL while it is up */

    /* Pump thread only. */
    struct dial *waiting; /* taken from the queue, not started yet */
    struct chan *chans;
    LIBSSH2_CHANNEL *keeper; /* an idle session channel: see drain_session() */
    int keeper_tried;
    enum open_kind open_kind; /* the channel open libssh2 is in the middle of */
    struct dial *open_dial;   /* whom it is for; NULL once the caller gave up */
    char *open_host;
    int open_port;
    int reading;  /* something will read the socket in the next pass */
    char *fatal;  /* the session failed: the pump stops */
};

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* ---- the URI ------------------------------------------------------------------- */

static void params_release(struct params *p)
{
    free(p->host);
    free(p->user);
    free(p->keyfile);
    free(p->known_hosts);
    memset(p, 0, sizeof(*p));
}

static char *uri_unescape(const char *s)
{
    char *x = xmlURIUnescapeString(s, 0, NULL);
    char *r = mr_xstrdup(x ? x : s);
    xmlFree(x);
    return r;
}

static char *current_user(void)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
        return mr_xstrdup(res->pw_name);
    const char *u = getenv("USER");
    return u && *u ? mr_xstrdup(u) : NULL;
}

static char *home_dir(void)
{
    const char *h = getenv("HOME");
    if (h && *h)
        return mr_xstrdup(h);
    struct passwd pw, *res = NULL;
    char buf[4096];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
        return mr_xstrdup(res->pw_dir);
    return mr_xstrdup("/");
}

/* The query string, split on & and ; and unescaped the way libvirt's virURIParseParams
 * does; a parameter given twice keeps its last value, as there. */
static int parse_query(const char *uri, const char *raw, struct params *p, struct mr_err *err)
{
    _cleanup_free_ char *q = mr_xstrdup(raw);
    int no_verify = 0;
    enum verify khv = VERIFY_NORMAL;
    char *save = NULL;
    for (char *tok = strtok_r(q, "&;", &save); tok; tok = strtok_r(NULL, "&;", &save)) {
        char *eq = strchr(tok, '=');
        if (eq)
            *eq = '\0';
        _cleanup_free_ char *name = uri_unescape(tok);
        _cleanup_free_ char *value = uri_unescape(eq ? eq + 1 : "");
        if (!strcmp(name, "keyfile") || !strcmp(name, "known_hosts")) {
            if (!value[0]) {
                mr_err_set(err, "'%s': %s= names no file", uri, name);
                return -EINVAL;
            }
            char **slot = name[0] == 'k' && name[1] == 'e' ? &p->keyfile : &p->known_hosts;
            free(*slot);
            *slot = MR_TAKE_PTR(value);
        } else if (!strcmp(name, "no_verify")) {
            if (strcmp(value, "0") && strcmp(value, "1")) {
                mr_err_set(err, "'%s': no_verify must be 0 or 1, not '%s'", uri, value);
                return -EINVAL;
            }
            no_verify = value[0] == '1';
        } else if (!strcmp(name, "known_hosts_verify")) {
            if (!strcasecmp(value, "normal"))
                khv = VERIFY_NORMAL;
            else if (!strcasecmp(value, "auto"))
                khv = VERIFY_ACCEPT_NEW;
            else if (!strcasecmp(value, "ignore"))
                khv = VERIFY_IGNORE;
            else {
                mr_err_set(err, "'%s': known_hosts_verify must be normal, auto or ignore, not '%s'",
                           uri, value);
                return -EINVAL;
            }
        }
    }
    p->verify = khv != VERIFY_NORMAL ? khv : no_verify ? VERIFY_ACCEPT_NEW : VERIFY_NORMAL;
    return 0;
}

static int is_ssh_transport(const char *transport)
{
    return !strcmp(transport, "ssh") || !strcmp(transport, "libssh2") ||
           !strcmp(transport, "libssh");
}

/* libxml2 parses URIs for libvirt too (virURIParse), so both read a URI the same way. */
static int parse_uri(const char *uri, struct params *p, struct mr_err *err)
{
    memset(p, 0, sizeof(*p));
    xmlURIPtr u = xmlParseURI(uri);
    int r = -EINVAL;
    if (!u || !u->scheme) {
        mr_err_set(err, "'%s' is not a libvirt URI (as in qemu+ssh://user@host/system)", uri);
        goto out;
    }
    const char *plus = strchr(u->scheme, '+');
    const char *transport = plus ? plus + 1 : NULL;
    int has_host = u->server && u->server[0];
    if (!has_host && (!transport || !strcmp(transport, "unix"))) {
        mr_err_set(err, "'%s' is a local libvirt URI; a tunnel needs a remote host, as in "
                        "qemu+ssh://user@host/system", uri);
        goto out;
    }
    if (!transport || !is_ssh_transport(transport)) {
        mr_err_set(err, "'%s' reaches libvirt over %s, not SSH; a tunnel needs the ssh "
                        "transport, as in qemu+ssh://user@host/system",
                   uri, transport ? transport : "TLS");
        goto out;
    }
    if (u->port > 65535) {
        mr_err_set(err, "'%s': port %d is out of range", uri, u->port);
        goto out;
    }
    if (has_host) {
        size_t n = strlen(u->server);
        /* An IPv6 address comes as [::1]; libvirt strips the brackets too. */
        if (n > 2 && u->server[0] == '[' && u->server[n - 1] == ']')
            p->host = mr_xstrndup(u->server + 1, n - 2);
        else
            p->host = mr_xstrdup(u->server);
    } else {
        p->host = mr_xstrdup("localhost");
    }
    p->port = u->port > 0 ? u->port : 22;
    p->user = u->user && u->user[0] ? mr_xstrdup(u->user) : current_user();
    if (!p->user) {
        mr_err_set(err, "'%s' names no user and the current user has no name", uri);
        goto out;
    }
    r = u->query_raw ? parse_query(uri, u->query_raw, p, err) : 0;
out:
    xmlFreeURI(u);
    if (r < 0)
        params_release(p);
    return r;
}

int mr_tunnel_uri_is_remote(const char *uri)
{
    xmlURIPtr u = xmlParseURI(uri);
    if (!u || !u->scheme) {
        xmlFreeURI(u);
        return -EINVAL;
    }
    const char *plus = strchr(u->scheme, '+');
    int remote = (u->server && u->server[0]) || (plus && strcmp(plus + 1, "unix") != 0);
    xmlFreeURI(u);
    return remote;
}

/* ---- the session's socket ------------------------------------------------------ */

static size_t outq_pending(const struct mr_tunnel *t)
{
    return t->outq.len - t->outq_head;
}

/* Sends what it can of the queue; returns the bytes sent or -errno. */
static ssize_t outq_flush(struct mr_tunnel *t)
{
    if (t->sock_errno)
        return -t->sock_errno;
    size_t sent = 0;
    while (t->outq_head < t->outq.len) {
        ssize_t n = send(t->sock, t->outq.data + t->outq_head, t->outq.len - t->outq_head,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0) {
            t->sock_errno = errno;
            return -errno;
        }
        t->outq_head += (size_t)n;
        sent += (size_t)n;
    }
    if (t->outq_head == t->outq.len) {
        t->outq.len = t->outq_head = 0;
    } else if (t->outq_head >= 65536 && t->outq_head * 2 >= t->outq.len) {
        memmove(t->outq.data, t->outq.data + t->outq_head, outq_pending(t));
        t->outq.len -= t->outq_head;
        t->outq_head = 0;
    }
    return (ssize_t)sent;
}

/* libssh2's send: takes every byte, so libssh2 never holds a half-sent packet. libssh2
 * talks to the ssh-agent through these callbacks too, on the agent's socket. */
static LIBSSH2_SEND_FUNC(tunnel_send)
{
    struct mr_tunnel *t = *abstract;
    if (socket != t->sock) {
        ssize_t n = send(socket, buffer, length, flags | MSG_NOSIGNAL);
        return n < 0 ? -errno : n;
    }
    if (t->sock_errno)
        return -t->sock_errno;
    mr_buf_add(&t->outq, buffer, length);
    (void)outq_flush(t); /* a failure shows in sock_errno; this packet is queued anyway */
    return (ssize_t)length;
}

static LIBSSH2_RECV_FUNC(tunnel_recv)
{
    struct mr_tunnel *t = *abstract;
    if (socket != t->sock) {
        ssize_t n = recv(socket, buffer, length, flags);
        return n < 0 ? -errno : n;
    }
    ssize_t n = recv(t->sock, buffer, length, MSG_DONTWAIT);
    if (n < 0)
        return errno == EINTR ? -EAGAIN : -errno;
    t->rx_bytes += (uint64_t)n;
    return n;
}

/* While the tunnel opens (before the pump runs): flushes the queue and waits for the
 * socket, at most a second so that an interrupt is seen. */
static int io_wait(struct mr_tunnel *t, int64_t deadline)
{
    if (mr_interrupted)
        return -EINTR;
    if (outq_flush(t) < 0)
        return -EIO;
    int64_t left = deadline - mr_now_ms();
    if (left <= 0)
        return -ETIMEDOUT;
    struct pollfd p = { .fd = t->sock, .events = POLLIN };
    if (outq_pending(t))
        p.events |= POLLOUT;
    if (poll(&p, 1, (int)min64(left, 1000)) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

/* Repeats a libssh2 call while it would block. It returns LIBSSH2_ERROR_EAGAIN only when
 * waiting gave up, and then t->wait_err says why. */
#define NB(t, deadline, call)                                                             \
    ({                                                                                    \
        int _rc;                                                                          \
        (t)->wait_err = 0;                                                                \
        while ((_rc = (call)) == LIBSSH2_ERROR_EAGAIN)                                    \
            if (((t)->wait_err = io_wait((t), (deadline))) < 0)                           \
                break;                                                                    \
        _rc;                                                                              \
    })

/* The message for a wait that gave up during what; returns its -errno. */
static int wait_failed(struct mr_tunnel *t, const char *what, struct mr_err *err)
{
    int w = t->wait_err;
    if (w == -EINTR)
        mr_err_set(err, "%s: %s interrupted", t->name, what);
    else if (w == -ETIMEDOUT)
        mr_err_set(err, "%s: %s timed out", t->name, what);
    else
        mr_err_set(err, "%s: connection lost during %s: %s", t->name, what,
                   strerror(t->sock_errno ? t->sock_errno : -w));
    return w == -EINTR || w == -ETIMEDOUT ? w : -EIO;
}

static int tcp_connect(const char *host, int port, int64_t deadline, struct mr_err *err)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%d", port);
    int gai = getaddrinfo(host, service, &hints, &res);
    if (gai) {
        mr_err_set(err, "cannot resolve '%s': %s", host, gai_strerror(gai));
        return -EHOSTUNREACH;
    }
    int r = -ECONNREFUSED;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            r = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            r = -errno;
            close(fd);
            continue;
        }
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        for (;;) {
            int64_t left = deadline - mr_now_ms();
            if (mr_interrupted || left <= 0) {
                close(fd);
                freeaddrinfo(res);
                mr_err_set(err, "cannot connect to %s port %d: %s", host, port,
                           mr_interrupted ? "interrupted" : "timed out");
                return mr_interrupted ? -EINTR : -ETIMEDOUT;
            }
            if (poll(&p, 1, (int)min64(left, 1000)) > 0)
                break;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
            soerr = errno;
        if (soerr) {
            r = -soerr;
            close(fd);
            continue;
        }
        /* Window adjustments and small requests must not wait for Nagle; keepalives
         * notice a host that vanished while the tunnel idles. */
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        freeaddrinfo(res);
        return fd;
    }
    freeaddrinfo(res);
    mr_err_set(err, "cannot connect to %s port %d: %s", host, port, strerror(-r));
    return r;
}

/* ---- host key ------------------------------------------------------------------ */

static const struct keytype {
    int hostkey;   /* LIBSSH2_HOSTKEY_TYPE_* */
    int knownhost; /* LIBSSH2_KNOWNHOST_KEY_* */
    const char *name;
} keytypes[] = {
    /* OpenSSH's order of preference. */
    { LIBSSH2_HOSTKEY_TYPE_ED25519, LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519" },
    { LIBSSH2_HOSTKEY_TYPE_ECDSA_256, LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256" },
    { LIBSSH2_HOSTKEY_TYPE_ECDSA_384, LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384" },
    { LIBSSH2_HOSTKEY_TYPE_ECDSA_521, LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521" },
    { LIBSSH2_HOSTKEY_TYPE_RSA, LIBSSH2_KNOWNHOST_KEY_SSHRSA, "ssh-rsa" },
    { LIBSSH2_HOSTKEY_TYPE_DSS, LIBSSH2_KNOWNHOST_KEY_SSHDSS, "ssh-dss" },
};

static const struct keytype *keytype_of(int hostkey)
{
    for (size_t i = 0; i < MR_ARRAY_SIZE(keytypes); i++)
        if (keytypes[i].hostkey == hostkey)
            return &keytypes[i];
    return NULL;
}

struct known {
    LIBSSH2_KNOWNHOSTS *kh;
    char *file;         /* the user's file, for messages */
    int file_missing;
    struct mr_buf revoked; /* the key blobs of @revoked lines, one per line */
    char *name;         /* host, or [host]:port off port 22: the way OpenSSH writes it */
};

static void known_release(struct known *k)
{
    if (k->kh)
        libssh2_knownhost_free(k->kh);
    free(k->file);
    free(k->name);
    mr_buf_release(&k->revoked);
    memset(k, 0, sizeof(*k));
}

/* Reads an OpenSSH known_hosts file line by line. libssh2_knownhost_readfile() gives up
 * at the first line it cannot parse (a key type it does not know, @cert-authority), so
 * a real user's file would count as empty; such lines are skipped here instead. */
static int read_known_hosts(struct known *k, const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        const char *s = line + strspn(line, " \t");
        if (!strncmp(s, "@revoked", 8) && (s[8] == ' ' || s[8] == '\t')) {
            char hosts[1024], type[64], blob[8192];
            if (sscanf(s + 8, "%1023s %63s %8191s", hosts, type, blob) == 3)
                mr_buf_addf(&k->revoked, "%s\n", blob);
            continue;
        }
        if (s[0] == '@')
            continue;
        (void)libssh2_knownhost_readline(k->kh, s, strlen(s), LIBSSH2_KNOWNHOST_FILE_OPENSSH);
    }
    free(line);
    fclose(f);
    return 0;
}

static int known_load(struct mr_tunnel *t, const struct params *p, struct known *k,
                      struct mr_err *err)
{
    memset(k, 0, sizeof(*k));
    mr_buf_init(&k->revoked);
    k->kh = libssh2_knownhost_init(t->session);
    if (!k->kh) {
        mr_err_set(err, "%s: cannot set up host key checking: %s", t->name,
                   mr_ssh2_last_error(t->session));
        return -ENOMEM;
    }
    if (p->known_hosts) {
        k->file = mr_xstrdup(p->known_hosts);
    } else {
        _cleanup_free_ char *home = home_dir();
        k->file = mr_xasprintf("%s/.ssh/known_hosts", home);
    }
    int r = read_known_hosts(k, k->file);
    if (r == -ENOENT) {
        k->file_missing = 1;
    } else if (r < 0) {
        mr_err_set(err, "%s: cannot read known hosts file '%s': %s", t->name, k->file,
                   strerror(-r));
        return r;
    }
    /* OpenSSH's GlobalKnownHostsFile, read as ssh (and so libvirt's ssh transport) does. */
    (void)read_known_hosts(k, "/etc/ssh/ssh_known_hosts");
    k->name = p->port == 22 ? mr_xstrdup(p->host) : mr_xasprintf("[%s]:%d", p->host, p->port);
    return 0;
}

/* Asks for the key types known_hosts lists for this host first, then the others in
 * OpenSSH's order, as ssh does: a host listed with its ed25519 key only must not be met
 * with its ECDSA key, which libssh2 would otherwise prefer. A probe with a key that
 * cannot match tells whether the host is listed with a type (MISMATCH) or not. */
static void prefer_known_types(struct mr_tunnel *t, const struct known *k)
{
    struct mr_buf known, other;
    mr_buf_init(&known);
    mr_buf_init(&other);
    for (size_t i = 0; i < MR_ARRAY_SIZE(keytypes); i++) {
        int c = libssh2_knownhost_checkp(k->kh, k->name, -1, "x", 1,
                                         LIBSSH2_KNOWNHOST_TYPE_PLAIN |
                                             LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                             keytypes[i].knownhost,
                                         NULL);
        struct mr_buf *b = c == LIBSSH2_KNOWNHOST_CHECK_MISMATCH ? &known : &other;
        mr_buf_addf(b, "%s%s", b->len ? "," : "", keytypes[i].name);
    }
    if (other.len)
        mr_buf_addf(&known, "%s%s", known.len ? "," : "", other.data);
    /* libssh2 drops the names it does not support (ssh-rsa means SHA-1 signatures,
     * which OpenSSH no longer makes); an error only means it keeps its own order. */
    (void)libssh2_session_method_pref(t->session, LIBSSH2_METHOD_HOSTKEY, known.data);
    mr_buf_release(&known);
    mr_buf_release(&other);
}

static char *fingerprint(LIBSSH2_SESSION *s)
{
    const char *hash = libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (!hash)
        return mr_xstrdup("(no SHA256 fingerprint)");
    _cleanup_free_ char *b64 = mr_base64_encode(hash, 32);
    b64[strcspn(b64, "=")] = '\0'; /* OpenSSH shows it unpadded */
    return mr_xasprintf("SHA256:%s", b64);
}

static int check_host_key(struct mr_tunnel *t, const struct params *p, const struct known *k,
                          struct mr_err *err)
{
    size_t len = 0;
    int type = 0;
    const char *key = libssh2_session_hostkey(t->session, &len, &type);
    if (!key) {
        mr_err_set(err, "%s presented no host key", t->name);
        return -EPERM;
    }
    const struct keytype *kt = keytype_of(type);
    const char *tname = kt ? kt->name : "unknown-type";
    _cleanup_free_ char *fp = fingerprint(t->session);
    _cleanup_free_ char *b64 = mr_base64_encode(key, len);
    if (k->revoked.len) {
        for (const char *l = k->revoked.data; *l;) {
            size_t n = strcspn(l, "\n");
            if (n == strlen(b64) && !strncmp(l, b64, n)) {
                mr_err_set(err, "%s presented the %s host key %s, which '%s' marks @revoked; "
                                "refusing to connect",
                           t->name, tname, fp, k->file);
                return -EPERM;
            }
            l += n + (l[n] == '\n');
        }
    }
    struct libssh2_knownhost *found = NULL;
    int c = libssh2_knownhost_checkp(k->kh, k->name, -1, key, len,
                                     LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
                                         (kt ? kt->knownhost : LIBSSH2_KNOWNHOST_KEY_UNKNOWN),
                                     &found);
    switch (c) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
        return 0;
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
        mr_err_set(err, "host key of %s has changed: it presented the %s key %s, but '%s' "
                        "lists another %s key for '%s' (someone may be intercepting the "
                        "connection, or the host was reinstalled); refusing to connect",
                   t->name, tname, fp, k->file, tname, k->name);
        return -EPERM;
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
        if (p->verify == VERIFY_ACCEPT_NEW)
            return 0;
        mr_err_set(err, "host key of %s is not known: it presented the %s key %s, and '%s'%s "
                        "lists no %s key for '%s'; refusing to connect (add the key, for "
                        "instance with ssh-keyscan -p %d -t %s %s >> %s, or accept new hosts "
                        "with no_verify=1)",
                   t->name, tname, fp, k->file, k->file_missing ? " (which does not exist)" : "",
                   tname, k->name, p->port, tname, p->host, k->file);
        return -EPERM;
    default:
        mr_err_set(err, "%s: cannot check the host key against '%s': %s", t->name, k->file,
                   mr_ssh2_last_error(t->session));
        return -EPERM;
    }
}

/* ---- logging in ---------------------------------------------------------------- */

/* 0 when the key logged in; -EPERM (reason appended to why), or a wait's -errno. */
static int auth_key(struct mr_tunnel *t, const char *user, const char *priv, int64_t deadline,
                    struct mr_buf *why, struct mr_err *err)
{
    _cleanup_free_ char *pub = mr_xasprintf("%s.pub", priv);
    /* Without the .pub file libssh2 (built on OpenSSL) derives it from the private key. */
    int rc = NB(t, deadline,
                libssh2_userauth_publickey_fromfile_ex(t->session, user, (unsigned)strlen(user),
                                                       mr_file_exists(pub) ? pub : NULL, priv,
                                                       NULL));
    if (rc == 0)
        return 0;
    if (rc == LIBSSH2_ERROR_EAGAIN)
        return wait_failed(t, "login", err);
    mr_buf_addf(why, "%s'%s' (%s)", why->len ? ", " : "", priv, mr_ssh2_last_error(t->session));
    return -EPERM;
}

static int auth_agent(struct mr_tunnel *t, const char *user, const char *sock, int64_t deadline,
                      struct mr_buf *why, struct mr_err *err)
{
    LIBSSH2_AGENT *a = libssh2_agent_init(t->session);
    if (!a) {
        mr_buf_addf(why, "%sthe ssh-agent (%s)", why->len ? ", " : "",
                    mr_ssh2_last_error(t->session));
        return -EPERM;
    }
    int r = -EPERM, n = 0;
    if (libssh2_agent_connect(a) != 0) {
        mr_buf_addf(why, "%sthe ssh-agent at '%s' (cannot connect: %s)", why->len ? ", " : "",
                    sock, mr_ssh2_last_error(t->session));
        goto out;
    }
    int rc = NB(t, deadline, libssh2_agent_list_identities(a));
    if (rc == LIBSSH2_ERROR_EAGAIN) {
        r = wait_failed(t, "login", err);
        goto out;
    }
    struct libssh2_agent_publickey *id = NULL, *prev = NULL;
    while (rc == 0 && libssh2_agent_get_identity(a, &id, prev) == 0) {
        n++;
        int ur = NB(t, deadline, libssh2_agent_userauth(a, user, id));
        if (ur == 0) {
            r = 0;
            goto out;
        }
        if (ur == LIBSSH2_ERROR_EAGAIN) {
            r = wait_failed(t, "login", err);
            goto out;
        }
        prev = id;
    }
    mr_buf_addf(why, "%sthe ssh-agent at '%s' (%d key%s, none accepted)", why->len ? ", " : "",
                sock, n, n == 1 ? "" : "s");
out:
    (void)libssh2_agent_disconnect(a);
    libssh2_agent_free(a);
    return r;
}

static int authenticate(struct mr_tunnel *t, const struct params *p, int64_t deadline,
                        struct mr_err *err)
{
    struct mr_buf why;
    mr_buf_init(&why);
    int r = -EPERM;
    if (p->keyfile) {
        if (access(p->keyfile, R_OK) < 0) {
            r = -errno;
            mr_err_set(err, "cannot log in to %s: keyfile '%s': %s", t->name, p->keyfile,
                       strerror(errno));
            goto out;
        }
        r = auth_key(t, p->user, p->keyfile, deadline, &why, err);
    } else {
        _cleanup_free_ char *home = home_dir();
        static const char *const defaults[] = { "id_ed25519", "id_rsa" };
        for (size_t i = 0; r == -EPERM && i < MR_ARRAY_SIZE(defaults); i++) {
            _cleanup_free_ char *path = mr_xasprintf("%s/.ssh/%s", home, defaults[i]);
            if (mr_file_exists(path))
                r = auth_key(t, p->user, path, deadline, &why, err);
        }
        const char *agent = getenv("SSH_AUTH_SOCK");
        if (r == -EPERM && agent && agent[0])
            r = auth_agent(t, p->user, agent, deadline, &why, err);
        if (r == -EPERM && !why.len) {
            mr_err_set(err, "cannot log in to %s: no keyfile= in the URI, no key in "
                            "'%s/.ssh' (id_ed25519, id_rsa) and no ssh-agent (SSH_AUTH_SOCK)",
                       t->name, home);
            goto out;
        }
    }
    if (r == -EPERM)
        mr_err_set(err, "cannot log in to %s with public key: tried %s", t->name, why.data);
out:
    mr_buf_release(&why);
    return r;
}

/* ---- the pump ------------------------------------------------------------------ */

static void wake(struct mr_tunnel *t)
{
    char c = 1;
    /* A full pipe already wakes the pump. */
    while (write(t->wake[1], &c, 1) < 0 && errno == EINTR)
        ;
}

/* Hands the result to the waiting caller; the pump must not touch d afterwards. */
static void dial_finish(struct mr_tunnel *t, struct dial *d, int rc, char *msg)
{
    pthread_mutex_lock(&t->lock);
    d->rc = rc;
    d->msg = msg;
    d->done = 1;
    pthread_cond_broadcast(&t->dial_done);
    pthread_mutex_unlock(&t->lock);
}

static void set_fatal(struct mr_tunnel *t, const char *what, int rc)
{
    if (t->fatal)
        return;
    if (t->sock_errno)
        t->fatal = mr_xasprintf("%s: %s", what, strerror(t->sock_errno));
    else if (rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT)
        t->fatal = mr_xasprintf("%s: the host closed the connection", what);
    else
        t->fatal = mr_xasprintf("%s: %s", what, mr_ssh2_last_error(t->session));
}

/* Errors that end one channel; any other libssh2 error means the session is unusable. */
static int channel_level(int rc)
{
    switch (rc) {
    case LIBSSH2_ERROR_CHANNEL_FAILURE:
    case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
    case LIBSSH2_ERROR_CHANNEL_CLOSED:
    case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
    case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
    case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
        return 1;
    }
    return 0;
}

/* Fails dials that waited past their deadline or that an interrupt ends. One whose
 * channel open is under way is answered, and the open goes on without it: libssh2 keeps
 * one open per session in flight and must finish it. */
static int expire_dials(struct mr_tunnel *t)
{
    int64_t now = mr_now_ms();
    int changed = 0;
    for (struct dial **pd = &t->waiting; *pd;) {
        struct dial *d = *pd;
        if (mr_interrupted || now >= d->deadline) {
            *pd = d->next;
            dial_finish(t, d, mr_interrupted ? -EINTR : -ETIMEDOUT,
                        mr_xasprintf("cannot reach %s:%d through %s: %s", d->host, d->port,
                                     t->name, mr_interrupted ? "interrupted" : "timed out"));
            changed = 1;
        } else {
            pd = &d->next;
        }
    }
    struct dial *d = t->open_dial;
    if (d && (mr_interrupted || now >= d->deadline)) {
        t->open_dial = NULL;
        dial_finish(t, d, mr_interrupted ? -EINTR : -ETIMEDOUT,
                    mr_xasprintf("cannot reach %s:%d through %s: %s", t->open_host,
                                 t->open_port, t->name,
                                 mr_interrupted ? "interrupted"
                                                : "timed out waiting for the SSH server"));
        changed = 1;
    }
    return changed;
}

static struct chan *chan_add(struct mr_tunnel *t, LIBSSH2_CHANNEL *ch, int fd)
{
    struct chan *c = mr_xmalloc(sizeof(*c));
    memset(c, 0, offsetof(struct chan, up));
    c->ch = ch;
    c->fd = fd;
    c->next = t->chans;
    t->chans = c;
    return c;
}

/* Drives the channel open in flight, or starts the next: first the keeper, then dials in
 * their order. Returns 1 when something changed. */
static int pump_open(struct mr_tunnel *t)
{
    if (t->open_kind == OPEN_NONE) {
        if (!t->keeper_tried) {
            t->keeper_tried = 1;
            t->open_kind = OPEN_KEEPER;
        } else if (t->waiting) {
            struct dial *d = t->waiting;
            t->waiting = d->next;
            t->open_kind = OPEN_DIAL;
            t->open_dial = d;
            t->open_host = mr_xstrdup(d->host);
            t->open_port = d->port;
        } else {
            return 0;
        }
    }
    LIBSSH2_CHANNEL *ch;
    if (t->open_kind == OPEN_KEEPER)
        ch = libssh2_channel_open_session(t->session);
    else
        ch = libssh2_channel_direct_tcpip_ex(t->session, t->open_host, t->open_port,
                                             "127.0.0.1", 0);
    int e = ch ? 0 : libssh2_session_last_errno(t->session);
    if (e == LIBSSH2_ERROR_EAGAIN)
        return 0;
    enum open_kind kind = t->open_kind;
    struct dial *d = t->open_dial;
    _cleanup_free_ char *host = MR_TAKE_PTR(t->open_host);
    t->open_kind = OPEN_NONE;
    t->open_dial = NULL;
    if (!ch && !channel_level(e)) {
        set_fatal(t, "cannot open a channel", e);
        t->open_dial = d; /* for the teardown to answer */
        return 1;
    }
    if (kind == OPEN_KEEPER) {
        /* A server that allows no session channel still forwards; see drain_session(). */
        t->keeper = ch;
        return 1;
    }
    if (!ch) {
        const char *m = mr_ssh2_last_error(t->session);
        int rc = strstr(m, "administratively prohibited") || strstr(m, "unknown channel type")
                     ? -EPERM
                 : strstr(m, "connect failed") || strstr(m, "resource shortage") ? -ECONNREFUSED
                                                                                 : -EIO;
        if (d)
            dial_finish(t, d, rc,
                        mr_xasprintf("cannot reach %s:%d through %s: %s (%s)", host,
                                     t->open_port, t->name,
                                     rc == -EPERM ? "the SSH server does not allow forwarding"
                                     : rc == -ECONNREFUSED
                                         ? "the host could not connect there"
                                         : "the SSH server refused the channel",
                                     m));
        return 1;
    }
    if (!d) { /* the caller gave up while the open was under way */
        chan_add(t, ch, -1)->closing = 1;
        return 1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        int r = -errno;
        chan_add(t, ch, -1)->closing = 1;
        dial_finish(t, d, r, mr_xasprintf("cannot reach %s:%d through %s: socketpair: %s", host,
                                          t->open_port, t->name, strerror(-r)));
        return 1;
    }
    (void)fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    chan_add(t, ch, sv[0]);
    dial_finish(t, d, sv[1], NULL);
    return 1;
}

/* Reads everything the server sent into libssh2's queues, even for channels whose
 * readers are slow (their SSH windows bound that), and answers the server's requests.
 * libssh2 has no call that only reads, but waiting for EOF on a channel that is not at
 * EOF is one: it reads until the socket is dry. The keeper, a session channel that never
 * runs anything, is always such a channel, so an idle tunnel still hears the server;
 * without it (a server that allows no sessions) a forwarded channel serves, and with
 * none the socket is not watched for reading until there is one. */
static void drain_session(struct mr_tunnel *t)
{
    int drained = 0;
    if (t->keeper) {
        int rc = libssh2_channel_wait_eof(t->keeper);
        if (rc == LIBSSH2_ERROR_EAGAIN) {
            drained = 1;
        } else if (rc == 0 || channel_level(rc)) {
            /* The server ended the keeper; carry on without it. */
            chan_add(t, t->keeper, -1)->closing = 1;
            t->keeper = NULL;
        } else {
            set_fatal(t, "connection lost", rc);
            return;
        }
    }
    int closing = 0;
    for (struct chan *c = t->chans; c; c = c->next) {
        closing |= c->closing;
        if (drained || c->closing)
            continue;
        /* 0: libssh2 already has this channel's EOF and read nothing; try the next. */
        int rc = libssh2_channel_wait_eof(c->ch);
        if (rc == LIBSSH2_ERROR_EAGAIN) {
            drained = 1;
        } else if (rc < 0 && !channel_level(rc)) {
            set_fatal(t, "connection lost", rc);
            return;
        }
    }
    t->reading = drained || closing || t->open_kind != OPEN_NONE;
}

static void chan_fail(struct mr_tunnel *t, struct chan *c, int rc)
{
    if (channel_level(rc))
        c->closing = 1;
    else
        set_fatal(t, "connection lost", rc);
}

/* Moves what it can between a channel and its descriptor; returns 1 when something
 * moved or changed state. */
static int pump_chan(struct mr_tunnel *t, struct chan *c)
{
    int moved = 0;
    if (c->closing) {
        if (c->fd >= 0) {
            close(c->fd);
            c->fd = -1;
        }
        int rc = libssh2_channel_free(c->ch);
        if (rc == LIBSSH2_ERROR_EAGAIN)
            return 0; /* waiting for the server's close */
        c->ch = NULL;
        return 1;
    }
    /* descriptor -> channel */
    if (!c->fd_eof && c->up_len < sizeof(c->up)) {
        ssize_t n = recv(c->fd, c->up + c->up_len, sizeof(c->up) - c->up_len, MSG_DONTWAIT);
        if (n > 0) {
            c->up_len += (size_t)n;
            moved = 1;
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            c->fd_eof = 1;
            if (n < 0)
                c->fd_gone = 1;
            moved = 1;
        }
    }
    while (c->up_len && outq_pending(t) < OUTQ_HIGH &&
           libssh2_channel_window_write(c->ch) > 0) {
        ssize_t w = libssh2_channel_write(c->ch, c->up, c->up_len);
        if (w == LIBSSH2_ERROR_EAGAIN || w == 0)
            break;
        if (w < 0) {
            chan_fail(t, c, (int)w);
            return 1;
        }
        memmove(c->up, c->up + w, c->up_len - (size_t)w);
        c->up_len -= (size_t)w;
        moved = 1;
    }
    if (c->fd_eof && !c->up_len && !c->eof_sent) {
        int rc = libssh2_channel_send_eof(c->ch);
        if (rc == 0) {
            c->eof_sent = 1;
            moved = 1;
        } else if (rc != LIBSSH2_ERROR_EAGAIN) {
            chan_fail(t, c, rc);
            return 1;
        }
    }
    /* channel -> descriptor */
    if (c->down_off == c->down_len)
        c->down_off = c->down_len = 0;
    if (!c->remote_eof && !c->fd_gone && c->down_len < sizeof(c->down)) {
        ssize_t n = libssh2_channel_read(c->ch, c->down + c->down_len,
                                         sizeof(c->down) - c->down_len);
        if (n > 0) {
            c->down_len += (size_t)n;
            moved = 1;
        } else if (n == LIBSSH2_ERROR_CHANNEL_CLOSED || (n == 0 && libssh2_channel_eof(c->ch))) {
            c->remote_eof = 1;
            moved = 1;
        } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
            chan_fail(t, c, (int)n);
            return 1;
        }
    }
    if (c->down_off < c->down_len && !c->fd_gone) {
        ssize_t n = send(c->fd, c->down + c->down_off, c->down_len - c->down_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            c->down_off += (size_t)n;
            moved = 1;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            c->fd_gone = c->fd_eof = 1; /* EPIPE: the caller closed its end */
            moved = 1;
        }
    }
    if (c->hup && c->fd_eof && !c->fd_gone) {
        c->fd_gone = 1;
        moved = 1;
    }
    if (c->remote_eof && c->down_off == c->down_len && !c->shut_wr && !c->fd_gone) {
        (void)shutdown(c->fd, SHUT_WR);
        c->shut_wr = 1;
        moved = 1;
    }
    /* Done when the caller closed its end and its last bytes went out, or when both
     * directions ended. */
    if (c->eof_sent && (c->fd_gone || (c->remote_eof && c->shut_wr))) {
        c->closing = 1;
        moved = 1;
    }
    return moved;
}

static int poll_timeout(const struct mr_tunnel *t)
{
    int64_t soonest = INT64_MAX;
    for (const struct dial *d = t->waiting; d; d = d->next)
        soonest = min64(soonest, d->deadline);
    if (t->open_dial)
        soonest = min64(soonest, t->open_dial->deadline);
    if (soonest == INT64_MAX)
        return t->open_kind != OPEN_NONE ? 1000 : -1;
    /* Callers wait on the pump: wake at least once a second to see an interrupt. */
    int64_t left = soonest - mr_now_ms();
    return left <= 0 ? 0 : (int)min64(left, 1000);
}

/* Ends the session: says goodbye when it is still healthy, then frees it. */
static void session_end(struct mr_tunnel *t, int polite)
{
    if (!t->session)
        return;
    if (polite && !t->sock_errno) {
        (void)libssh2_session_disconnect(t->session, "matrixrun done");
        int64_t end = mr_now_ms() + 1000;
        while (outq_pending(t) && outq_flush(t) >= 0 && mr_now_ms() < end) {
            struct pollfd p = { .fd = t->sock, .events = POLLOUT };
            (void)poll(&p, 1, 100);
        }
    }
    /* With the socket shut, every read ends at once and every send fails, so freeing
     * the channels cannot wait for the server. */
    if (t->sock >= 0)
        (void)shutdown(t->sock, SHUT_RDWR);
    if (!t->sock_errno)
        t->sock_errno = EPIPE;
    for (int tries = 0; tries < 1000; tries++)
        if (libssh2_session_free(t->session) != LIBSSH2_ERROR_EAGAIN)
            break;
    t->session = NULL;
    t->keeper = NULL;
}

static void pump_teardown(struct mr_tunnel *t)
{
    pthread_mutex_lock(&t->lock);
    if (!t->lost)
        t->lost = t->fatal ? mr_xasprintf("the SSH connection to %s is lost: %s", t->name, t->fatal)
                           : mr_xasprintf("the tunnel to %s is closed", t->name);
    struct dial *queued = t->queue;
    t->queue = NULL;
    pthread_mutex_unlock(&t->lock);
    /* Dials may still be queued: answer every one. */
    struct dial *lists[] = { t->open_dial, t->waiting, queued };
    t->open_dial = NULL;
    t->waiting = NULL;
    for (size_t i = 0; i < MR_ARRAY_SIZE(lists); i++) {
        for (struct dial *d = lists[i], *next; d; d = next) {
            next = i == 0 ? NULL : d->next;
            dial_finish(t, d, -ENOTCONN, mr_xstrdup(t->lost));
        }
    }
    free(t->open_host);
    t->open_host = NULL;
    for (struct chan *c = t->chans, *next; c; c = next) {
        next = c->next;
        if (c->fd >= 0)
            close(c->fd);
        free(c); /* libssh2_session_free() frees the channel */
    }
    t->chans = NULL;
    session_end(t, !t->fatal);
}

static void *pump_main(void *arg)
{
    struct mr_tunnel *t = arg;
    struct pollfd *pfd = NULL;
    struct chan **pchan = NULL;
    size_t cap = 0;
    for (;;) {
        uint64_t rx0 = t->rx_bytes;
        pthread_mutex_lock(&t->lock);
        int closing = t->closing;
        struct dial **tail = &t->waiting;
        while (*tail)
            tail = &(*tail)->next;
        *tail = t->queue;
        t->queue = NULL;
        pthread_mutex_unlock(&t->lock);
        if (closing)
            break;

        int moved = expire_dials(t);
        drain_session(t);
        if (!t->fatal)
            moved |= pump_open(t);
        size_t nchans = 0;
        for (struct chan **pc = &t->chans; *pc && !t->fatal;) {
            struct chan *c = *pc;
            moved |= pump_chan(t, c);
            if (!c->ch) {
                *pc = c->next;
                free(c);
            } else {
                pc = &c->next;
                nchans++;
            }
        }
        ssize_t f = outq_flush(t);
        if (f < 0)
            set_fatal(t, "cannot send", 0);
        if (t->fatal)
            break;
        if (f > 0 || t->rx_bytes != rx0)
            moved = 1;

        if (nchans + 2 > cap) {
            cap = (nchans + 2) * 2;
            pfd = mr_xrealloc(pfd, cap * sizeof(*pfd));
            pchan = mr_xrealloc(pchan, cap * sizeof(*pchan));
        }
        size_t n = 0;
        pfd[n++] = (struct pollfd){ .fd = t->wake[0], .events = POLLIN };
        pfd[n++] = (struct pollfd){
            .fd = t->sock,
            .events = (t->reading ? POLLIN : 0) | (outq_pending(t) ? POLLOUT : 0),
        };
        for (struct chan *c = t->chans; c; c = c->next) {
            if (c->fd < 0 || c->hup)
                continue; /* a closed peer would report POLLHUP on every poll */
            short ev = 0;
            if (!c->fd_eof && c->up_len < sizeof(c->up))
                ev |= POLLIN;
            if (c->down_off < c->down_len && !c->fd_gone)
                ev |= POLLOUT;
            pchan[n] = c;
            pfd[n++] = (struct pollfd){ .fd = c->fd, .events = ev };
        }
        if (poll(pfd, n, moved ? 0 : poll_timeout(t)) < 0 && errno != EINTR) {
            t->fatal = mr_xasprintf("poll: %s", strerror(errno));
            break;
        }
        if (pfd[0].revents & POLLIN) {
            char buf[256];
            while (read(t->wake[0], buf, sizeof(buf)) > 0)
                ;
        }
        /* Unread, a hang-up would return from every poll: read it now, or end. */
        if ((pfd[1].revents & (POLLHUP | POLLERR)) && !t->reading) {
            t->fatal = mr_xstrdup("the host closed the connection");
            break;
        }
        for (size_t i = 2; i < n; i++)
            if (pfd[i].revents & (POLLHUP | POLLERR))
                pchan[i]->hup = 1;
    }
    free(pfd);
    free(pchan);
    pump_teardown(t);
    return NULL;
}

/* ---- the API ------------------------------------------------------------------- */

static void tunnel_free(struct mr_tunnel *t)
{
    session_end(t, 0);
    if (t->sock >= 0)
        close(t->sock);
    for (int i = 0; i < 2; i++)
        if (t->wake[i] >= 0)
            close(t->wake[i]);
    mr_buf_release(&t->outq);
    params_release(&t->params);
    pthread_cond_destroy(&t->dial_done);
    pthread_mutex_destroy(&t->reopen_lock);
    pthread_mutex_destroy(&t->lock);
    free(t->name);
    free(t->lost);
    free(t->fatal);
    free(t);
}

/* TCP, SSH handshake, host key and login: the session a pump thread then runs. */
static int tunnel_connect(struct mr_tunnel *t, int64_t deadline_ms, struct mr_err *err)
{
    const struct params *p = &t->params;
    struct known k = { 0 };
    mr_buf_init(&k.revoked);
    int r = tcp_connect(p->host, p->port, deadline_ms, err);
    if (r < 0) {
        mr_err_prefix(err, "%s", t->name);
        goto out;
    }
    t->sock = r;
    t->session = libssh2_session_init_ex(NULL, NULL, NULL, t);
    if (!t->session) {
        mr_err_set(err, "%s: cannot create an SSH session", t->name);
        r = -ENOMEM;
        goto out;
    }
    libssh2_session_callback_set(t->session, LIBSSH2_CALLBACK_SEND, (void *)tunnel_send);
    libssh2_session_callback_set(t->session, LIBSSH2_CALLBACK_RECV, (void *)tunnel_recv);
    libssh2_session_set_blocking(t->session, 0);
    if (p->verify != VERIFY_IGNORE) {
        if ((r = known_load(t, p, &k, err)) < 0)
            goto out;
        prefer_known_types(t, &k);
    }
    int rc = NB(t, deadline_ms, libssh2_session_handshake(t->session, t->sock));
    if (rc == LIBSSH2_ERROR_EAGAIN) {
        r = wait_failed(t, "SSH handshake", err);
        goto out;
    }
    if (rc) {
        mr_err_set(err, "SSH handshake with %s failed: %s", t->name,
                   t->sock_errno ? strerror(t->sock_errno) : mr_ssh2_last_error(t->session));
        r = -EIO;
        goto out;
    }
    if (p->verify != VERIFY_IGNORE && (r = check_host_key(t, p, &k, err)) < 0)
        goto out;
    r = authenticate(t, p, deadline_ms, err);
out:
    known_release(&k);
    return r;
}

static int pump_start(struct mr_tunnel *t, struct mr_err *err)
{
    int r = -pthread_create(&t->pump, NULL, pump_main, t);
    if (r < 0) {
        mr_err_set(err, "%s: cannot start the tunnel's thread: %s", t->name, strerror(-r));
        return r;
    }
    t->pump_running = 1;
    return 0;
}

int mr_tunnel_open(const char *uri, int64_t deadline_ms, struct mr_tunnel **ret,
                   struct mr_err *err)
{
    struct params p;
    int r = parse_uri(uri, &p, err);
    if (r < 0)
        return r;
    if (mr_ssh2_global_init() < 0) {
        params_release(&p);
        mr_err_set(err, "cannot initialise libssh2");
        return -EIO;
    }
    struct mr_tunnel *t = mr_xcalloc(1, sizeof(*t));
    t->sock = -1;
    t->wake[0] = t->wake[1] = -1;
    mr_buf_init(&t->outq);
    t->params = p;
    t->name = mr_xasprintf("%s@%s:%d", p.user, p.host, p.port);
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_init(&t->reopen_lock, NULL);
    pthread_cond_init(&t->dial_done, NULL);
    if ((r = tunnel_connect(t, deadline_ms, err)) < 0)
        goto fail;
    if (pipe2(t->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        r = -errno;
        mr_err_set(err, "%s: pipe: %s", t->name, strerror(errno));
        goto fail;
    }
    if ((r = pump_start(t, err)) < 0)
        goto fail;
    *ret = t;
    return 0;
fail:
    tunnel_free(t);
    return r;
}

/* Opens a lost connection again in place, for the dials to come; the connections it
 * carried are gone with it. Called with reopen_lock held and the pump ended. */
static int tunnel_reopen(struct mr_tunnel *t, int64_t deadline_ms, struct mr_err *err)
{
    if (t->pump_running) {
        pthread_join(t->pump, NULL);
        t->pump_running = 0;
    }
    if (t->sock >= 0)
        close(t->sock);
    t->sock = -1;
    mr_buf_release(&t->outq);
    mr_buf_init(&t->outq);
    t->outq_head = 0;
    t->sock_errno = 0;
    t->rx_bytes = 0;
    t->wait_err = 0;
    t->keeper_tried = 0;
    t->open_kind = OPEN_NONE;
    t->reading = 0;
    free(t->fatal);
    t->fatal = NULL;
    char buf[256];
    while (read(t->wake[0], buf, sizeof(buf)) > 0)
        ;
    int r = tunnel_connect(t, deadline_ms, err);
    if (r == 0)
        r = pump_start(t, err);
    if (r < 0) {
        session_end(t, 0);
        t->reopen_failed_ms = mr_now_ms();
        return r;
    }
    pthread_mutex_lock(&t->lock);
    free(t->lost);
    t->lost = NULL;
    t->reopens++;
    pthread_mutex_unlock(&t->lock);
    t->reopen_failed_ms = 0;
    return 0;
}

int mr_tunnel_dial(struct mr_tunnel *t, const char *host, int port, int64_t deadline_ms,
                   struct mr_err *err)
{
    if (!host || !host[0] || port < 1 || port > 65535) {
        mr_err_set(err, "cannot dial '%s' port %d through %s: no such address",
                   host ? host : "", port, t->name);
        return -EINVAL;
    }
    if (mr_interrupted) {
        mr_err_set(err, "cannot reach %s:%d through %s: interrupted", host, port, t->name);
        return -EINTR;
    }
    struct dial d = { .host = host, .port = port, .deadline = deadline_ms };
    pthread_mutex_lock(&t->lock);
    if (t->lost && !t->closing) {
        /* The connection is gone (the host rebooted sshd, a network cut): open it again,
         * once for all the dials waiting, and not again within 2 s of a failed try. */
        pthread_mutex_unlock(&t->lock);
        pthread_mutex_lock(&t->reopen_lock);
        pthread_mutex_lock(&t->lock);
        int still_lost = t->lost != NULL;
        _cleanup_free_ char *why = t->lost ? mr_xstrdup(t->lost) : NULL;
        pthread_mutex_unlock(&t->lock);
        int rr = 0;
        struct mr_err re = { 0 };
        if (still_lost && t->reopen_failed_ms && mr_now_ms() - t->reopen_failed_ms < 2000)
            rr = -EAGAIN;
        else if (still_lost)
            rr = tunnel_reopen(t, deadline_ms, &re);
        pthread_mutex_unlock(&t->reopen_lock);
        if (rr < 0) {
            mr_err_set(err, "cannot reach %s:%d: %s; opening it again %s%s", host, port, why,
                       rr == -EAGAIN ? "failed moments ago" : "failed: ",
                       rr == -EAGAIN ? "" : mr_err_msg(&re));
            mr_err_release(&re);
            return -ENOTCONN;
        }
        mr_err_release(&re);
        pthread_mutex_lock(&t->lock);
    }
    if (t->lost || t->closing) {
        mr_err_set(err, "cannot reach %s:%d: %s", host, port,
                   t->lost ? t->lost : "the tunnel is closing");
        pthread_mutex_unlock(&t->lock);
        return -ENOTCONN;
    }
    struct dial **tail = &t->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &d;
    pthread_mutex_unlock(&t->lock);
    wake(t);
    /* The pump answers every dial: at its deadline, on an interrupt, or when it ends. */
    pthread_mutex_lock(&t->lock);
    while (!d.done)
        pthread_cond_wait(&t->dial_done, &t->lock);
    pthread_mutex_unlock(&t->lock);
    if (d.rc < 0) {
        mr_err_set(err, "%s", d.msg);
        free(d.msg);
    }
    return d.rc;
}

int mr_tunnel_dial_cb(void *tunnel, const char *host, int port, int64_t deadline_ms,
                      struct mr_err *err)
{
    return mr_tunnel_dial(tunnel, host, port, deadline_ms, err);
}

const char *mr_tunnel_name(const struct mr_tunnel *t)
{
    return t->name;
}

void mr_tunnel_close(struct mr_tunnel *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->closing = 1;
    pthread_mutex_unlock(&t->lock);
    wake(t);
    if (t->pump_running)
        pthread_join(t->pump, NULL);
    tunnel_free(t);
}

unsigned mr_tunnel_reopens(struct mr_tunnel *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned n = t->reopens;
    pthread_mutex_unlock(&t->lock);
    return n;
}
