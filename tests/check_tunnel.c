/* check_tunnel.c: the SSH tunnel against a real OpenSSH server the suite starts on
 * 127.0.0.1 (sshd_fixture.c: own host keys, own authorized_keys), with TCP servers of its
 * own behind it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"
#include "ssh.h"
#include "sshd_fixture.h"
#include "tunnel.h"

#define MIB (1024u * 1024u)

/* ---- helpers ------------------------------------------------------------------- */

static char *uri(const char *params)
{
    return mr_xasprintf("qemu+ssh://%s@127.0.0.1:%d/system%s%s", g_user, g_sshd_port,
                        params[0] ? "?" : "", params);
}

/* The usual URI: the client key, the suite's known_hosts. */
static char *good_uri(void)
{
    char *p = mr_xasprintf("keyfile=%s&known_hosts=%s", g_client.priv_path, g_known);
    char *u = uri(p);
    free(p);
    return u;
}

static struct mr_tunnel *open_ok(const char *u)
{
    struct mr_err e = { 0 };
    struct mr_tunnel *t = NULL;
    int r = mr_tunnel_open(u, mr_now_ms() + 20000, &t, &e);
    if (r != 0)
        ck_abort_msg("mr_tunnel_open('%s') = %d: %s", u, r, mr_err_msg(&e));
    mr_err_release(&e);
    return t;
}

/* Opens a tunnel that must fail; returns its error code, message in msg. */
static int open_fails(const char *u, char **msg)
{
    struct mr_err e = { 0 };
    struct mr_tunnel *t = NULL;
    int r = mr_tunnel_open(u, mr_now_ms() + 20000, &t, &e);
    ck_assert_msg(r < 0, "mr_tunnel_open('%s') succeeded", u);
    ck_assert_ptr_null(t);
    *msg = mr_xstrdup(mr_err_msg(&e));
    mr_err_release(&e);
    return r;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *de; (de = readdir(d));)
        n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A reproducible byte stream: stream_fill() goes on where the state left off. */
struct stream {
    uint64_t x;
};

static void stream_fill(struct stream *st, unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        st->x ^= st->x << 13;
        st->x ^= st->x >> 7;
        st->x ^= st->x << 17;
        b[i] = (unsigned char)st->x;
    }
}

static void fill(unsigned char *b, size_t n, uint64_t seed)
{
    struct stream st = { seed | 1 };
    stream_fill(&st, b, n);
}

static uint64_t fnv(uint64_t h, const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* ---- TCP servers behind the tunnel ------------------------------------------------ */

enum srv_mode {
    SRV_ECHO,   /* sends back what it reads, until end-of-file */
    SRV_COUNT,  /* reads to end-of-file, then answers "<bytes> <fnv-1a hex>\n" */
    SRV_SOURCE, /* sends srv_source_len pattern bytes (seed 7), then closes */
};
static size_t srv_source_len;

struct conn {
    int fd;
    enum srv_mode mode;
};

static void *srv_conn(void *arg)
{
    struct conn *c = arg;
    unsigned char *b = mr_xmalloc(65536);
    if (c->mode == SRV_SOURCE) {
        /* Made as it is sent, so a reader that never reads costs no CPU here. */
        struct stream st = { 7 };
        for (size_t off = 0; off < srv_source_len;) {
            size_t n = srv_source_len - off < 65536 ? srv_source_len - off : 65536;
            stream_fill(&st, b, n);
            size_t sent = 0;
            while (sent < n) {
                ssize_t w = send(c->fd, b + sent, n - sent, MSG_NOSIGNAL);
                if (w <= 0)
                    goto out;
                sent += (size_t)w;
            }
            off += n;
        }
    } else {
        size_t total = 0;
        uint64_t h = 1469598103934665603ull;
        for (;;) {
            ssize_t n = recv(c->fd, b, 65536, 0);
            if (n <= 0)
                break;
            total += (size_t)n;
            h = fnv(h, b, (size_t)n);
            for (ssize_t off = 0; c->mode == SRV_ECHO && off < n;) {
                ssize_t w = send(c->fd, b + off, (size_t)(n - off), MSG_NOSIGNAL);
                if (w <= 0)
                    goto out;
                off += w;
            }
        }
        if (c->mode == SRV_COUNT)
            dprintf(c->fd, "%zu %016llx\n", total, (unsigned long long)h);
    }
out:
    close(c->fd);
    free(b);
    free(c);
    return NULL;
}

struct srv {
    int lfd;
    int port;
    enum srv_mode mode;
};

static void *srv_accept(void *arg)
{
    struct srv *s = arg;
    for (;;) {
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            return NULL;
        struct conn *c = mr_xmalloc(sizeof(*c));
        c->fd = fd;
        c->mode = s->mode;
        pthread_t th;
        pthread_create(&th, NULL, srv_conn, c);
        pthread_detach(th);
    }
}

static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int port_of(int fd)
{
    struct sockaddr_in a;
    socklen_t l = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}

/* A server on a free port of 127.0.0.1; it lives until the test's process ends. */
static int srv_start(enum srv_mode mode)
{
    struct srv *s = mr_xcalloc(1, sizeof(*s));
    s->mode = mode;
    s->lfd = listen_on(0);
    ck_assert_int_eq(listen(s->lfd, 64), 0);
    s->port = port_of(s->lfd);
    pthread_t th;
    pthread_create(&th, NULL, srv_accept, s);
    pthread_detach(th);
    return s->port;
}

/* A TCP relay from a port of its own to target_port that starts listening after
 * delay_ms and can be cut: every connection it carries then ends at once. */
struct relay {
    int lfd, port, target_port, delay_ms;
    int stop[2];
    pthread_t th;
};

static void *relay_main(void *arg)
{
    struct relay *r = arg;
    if (r->delay_ms) {
        usleep((useconds_t)r->delay_ms * 1000);
        listen(r->lfd, 16);
    }
    int pairs[32][2];
    int np = 0;
    char buf[65536];
    for (;;) {
        struct pollfd p[2 + 64];
        int n = 0;
        p[n++] = (struct pollfd){ .fd = r->stop[0], .events = POLLIN };
        p[n++] = (struct pollfd){ .fd = r->lfd, .events = POLLIN };
        for (int i = 0; i < np; i++) {
            p[n++] = (struct pollfd){ .fd = pairs[i][0], .events = POLLIN };
            p[n++] = (struct pollfd){ .fd = pairs[i][1], .events = POLLIN };
        }
        if (poll(p, (nfds_t)n, -1) < 0)
            continue;
        if (p[0].revents)
            break;
        if ((p[1].revents & POLLIN) && np < 32) {
            int a = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
            int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in to = { .sin_family = AF_INET,
                                      .sin_port = htons((uint16_t)r->target_port),
                                      .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
            if (a >= 0 && connect(b, (struct sockaddr *)&to, sizeof(to)) == 0) {
                pairs[np][0] = a;
                pairs[np][1] = b;
                np++;
            } else {
                close(a);
                close(b);
            }
            continue;
        }
        for (int i = 0; i < np; i++) {
            for (int side = 0; side < 2; side++) {
                if (!(p[2 + 2 * i + side].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t got = recv(pairs[i][side], buf, sizeof(buf), 0);
                if (got <= 0) {
                    shutdown(pairs[i][!side], SHUT_WR);
                    continue;
                }
                for (ssize_t off = 0; off < got;) {
                    ssize_t w = send(pairs[i][!side], buf + off, (size_t)(got - off),
                                     MSG_NOSIGNAL);
                    if (w <= 0)
                        break;
                    off += w;
                }
            }
        }
    }
    for (int i = 0; i < np; i++) {
        close(pairs[i][0]);
        close(pairs[i][1]);
    }
    close(r->lfd);
    return NULL;
}

static struct relay *relay_start(int target_port, int delay_ms)
{
    struct relay *r = mr_xcalloc(1, sizeof(*r));
    r->lfd = listen_on(0);
    r->port = port_of(r->lfd);
    r->target_port = target_port;
    r->delay_ms = delay_ms;
    if (!delay_ms)
        ck_assert_int_eq(listen(r->lfd, 16), 0);
    ck_assert_int_eq(pipe2(r->stop, O_CLOEXEC), 0);
    pthread_create(&r->th, NULL, relay_main, r);
    return r;
}

static void relay_cut(struct relay *r)
{
    ck_assert_int_eq(write(r->stop[1], "x", 1), 1);
    pthread_join(r->th, NULL);
    close(r->stop[0]);
    close(r->stop[1]);
    free(r);
}

/* Sends data through fd while reading the echo back; 0 when it came back byte-exact. */
static int echo_roundtrip(int fd, const unsigned char *data, size_t n)
{
    unsigned char *back = mr_xmalloc(n);
    size_t sent = 0, got = 0;
    int r = -1;
    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN | (sent < n ? POLLOUT : 0) };
        if (poll(&p, 1, 30000) <= 0) {
            fprintf(stderr, "echo: stalled at %zu sent, %zu back\n", sent, got);
            goto out;
        }
        if (p.revents & POLLOUT) {
            size_t chunk = n - sent < 65536 ? n - sent : 65536;
            ssize_t w = send(fd, data + sent, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                sent += (size_t)w;
        }
        if (p.revents & (POLLIN | POLLHUP)) {
            ssize_t k = recv(fd, back + got, n - got, MSG_DONTWAIT);
            if (k == 0) {
                fprintf(stderr, "echo: end-of-file after %zu of %zu\n", got, n);
                goto out;
            }
            if (k > 0)
                got += (size_t)k;
        }
    }
    r = memcmp(back, data, n) == 0 ? 0 : -1;
out:
    free(back);
    return r;
}

/* Reads to end-of-file (30 s at most); returns the byte count, data in *ret. */
static size_t read_all(int fd, unsigned char **ret)
{
    struct mr_buf b;
    mr_buf_init(&b);
    char chunk[65536];
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        ck_assert_msg(poll(&p, 1, 30000) == 1, "no end-of-file within 30 s");
        ssize_t k = recv(fd, chunk, sizeof(chunk), 0);
        ck_assert_int_ge(k, 0);
        if (k == 0)
            break;
        mr_buf_add(&b, chunk, (size_t)k);
    }
    size_t n;
    *ret = (unsigned char *)mr_buf_detach(&b, &n);
    return n;
}

static int dial_ok(struct mr_tunnel *t, int port)
{
    struct mr_err e = { 0 };
    int fd = mr_tunnel_dial(t, "127.0.0.1", port, mr_now_ms() + 20000, &e);
    if (fd < 0)
        ck_abort_msg("dial 127.0.0.1:%d = %d: %s", port, fd, mr_err_msg(&e));
    mr_err_release(&e);
    return fd;
}

/* ---- URIs ---------------------------------------------------------------------- */

START_TEST(test_tunnel_uri_is_remote_by_syntax)
{
    ck_assert_int_eq(mr_tunnel_uri_is_remote("qemu+ssh://root@host/system"), 1);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("qemu+ssh:///system"), 1);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("qemu://host/system"), 1);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("qemu+tcp:///system"), 1);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("qemu:///system"), 0);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("test:///default"), 0);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("qemu+unix:///system"), 0);
    ck_assert_int_eq(mr_tunnel_uri_is_remote("no scheme"), -EINVAL);
    ck_assert_int_eq(mr_tunnel_uri_is_remote(":::"), -EINVAL);
}
END_TEST

static const struct {
    const char *uri;
    const char *says;
} bad_uris[] = {
    { "qemu:///system", "is a local libvirt URI" },
    { "test:///default", "is a local libvirt URI" },
    { "qemu+unix:///system", "is a local libvirt URI" },
    { "qemu://host/system", "over TLS, not SSH" },
    { "qemu+tcp://host/system", "over tcp, not SSH" },
    { "qemu+tls://host:16514/system", "over tls, not SSH" },
    { "qemu+ssh://host:99999/system", "port 99999 is out of range" },
    { "qemu+ssh://host/system?no_verify=yes", "no_verify must be 0 or 1, not 'yes'" },
    { "qemu+ssh://host/system?known_hosts_verify=maybe", "must be normal, auto or ignore" },
    { "qemu+ssh://host/system?keyfile=", "keyfile= names no file" },
    { "qemu+ssh://host/system?keyfile=/k&known_hosts=", "known_hosts= names no file" },
    { "not a uri", "is not a libvirt URI" },
    { "qemu+ssh://h:x/system", "is not a libvirt URI" },
};

START_TEST(test_tunnel_rejects_bad_uris_with_a_reason)
{
    char *msg;
    ck_assert_int_eq(open_fails(bad_uris[_i].uri, &msg), -EINVAL);
    ck_assert_msg(strstr(msg, bad_uris[_i].says), "'%s': message '%s' lacks '%s'",
                  bad_uris[_i].uri, msg, bad_uris[_i].says);
    ck_assert_msg(strstr(msg, bad_uris[_i].uri), "message '%s' does not quote the URI", msg);
    free(msg);
}
END_TEST

START_TEST(test_tunnel_open_names_refused_host)
{
    int port = mr_guest_free_port(); /* nothing listens there */
    _cleanup_free_ char *u = mr_xasprintf("qemu+ssh://someone@127.0.0.1:%d/system", port);
    char *msg;
    ck_assert_int_eq(open_fails(u, &msg), -ECONNREFUSED);
    _cleanup_free_ char *name = mr_xasprintf("someone@127.0.0.1:%d", port);
    ck_assert_msg(strstr(msg, name) && strstr(msg, "refused"), "%s", msg);
    free(msg);
}
END_TEST

START_TEST(test_tunnel_open_times_out_on_silent_server)
{
    int lfd = listen_on(0); /* accepts (the kernel does) but never says a word */
    ck_assert_int_eq(listen(lfd, 4), 0);
    _cleanup_free_ char *u = mr_xasprintf("qemu+ssh://x@127.0.0.1:%d/system", port_of(lfd));
    struct mr_err e = { 0 };
    struct mr_tunnel *t = NULL;
    int64_t t0 = mr_now_ms();
    ck_assert_int_eq(mr_tunnel_open(u, t0 + 1500, &t, &e), -ETIMEDOUT);
    ck_assert_int_lt(mr_now_ms() - t0, 3500);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "handshake timed out"));
    mr_err_release(&e);
    /* An interrupt ends the wait within a second, too. */
    mr_interrupted = 1;
    ck_assert_int_eq(mr_tunnel_open(u, mr_now_ms() + 20000, &t, &e), -EINTR);
    mr_interrupted = 0;
    mr_err_release(&e);
    close(lfd);
}
END_TEST

/* ---- host keys ----------------------------------------------------------------- */

START_TEST(test_tunnel_refuses_unknown_host_key)
{
    /* No known_hosts= and an empty home: nothing lists the host. */
    _cleanup_free_ char *home = path_in("home-empty");
    mkdir(home, 0700);
    setenv("HOME", home, 1);
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s", g_client.priv_path);
    _cleanup_free_ char *u = uri(p);
    char *msg;
    ck_assert_int_eq(open_fails(u, &msg), -EPERM);
    _cleanup_free_ char *name = mr_xasprintf("[127.0.0.1]:%d", g_sshd_port);
    _cleanup_free_ char *file = mr_xasprintf("%s/.ssh/known_hosts", home);
    ck_assert_msg(strstr(msg, "is not known") && strstr(msg, name) && strstr(msg, "ssh-ed25519") &&
                      strstr(msg, g_fp) && strstr(msg, file) && strstr(msg, "does not exist"),
                  "%s (want %s, %s)", msg, g_fp, file);
    free(msg);
}
END_TEST

START_TEST(test_tunnel_accepts_unknown_host_with_no_verify)
{
    setenv("HOME", g_dir, 1);
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s&no_verify=1", g_client.priv_path);
    _cleanup_free_ char *u = uri(p);
    struct mr_tunnel *t = open_ok(u);
    _cleanup_free_ char *name = mr_xasprintf("%s@127.0.0.1:%d", g_user, g_sshd_port);
    ck_assert_str_eq(mr_tunnel_name(t), name);
    mr_tunnel_close(t);
    /* known_hosts_verify=auto is the same thing in libvirt's libssh2 transport. */
    _cleanup_free_ char *p2 =
        mr_xasprintf("keyfile=%s&known_hosts_verify=auto", g_client.priv_path);
    _cleanup_free_ char *u2 = uri(p2);
    mr_tunnel_close(open_ok(u2));
}
END_TEST

START_TEST(test_tunnel_accepts_host_listed_in_known_hosts)
{
    _cleanup_free_ char *u = good_uri();
    mr_tunnel_close(open_ok(u));
    /* Hashed host names (HashKnownHosts) match as well. */
    _cleanup_free_ char *hashed = path_in("known_hashed");
    run("cp %s %s && ssh-keygen -q -H -f %s 2>/dev/null && rm -f %s.old", g_known, hashed, hashed,
        hashed);
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s&known_hosts=%s", g_client.priv_path, hashed);
    _cleanup_free_ char *u2 = uri(p);
    mr_tunnel_close(open_ok(u2));
}
END_TEST

START_TEST(test_tunnel_reads_default_known_hosts_from_home)
{
    _cleanup_free_ char *home = path_in("home-known");
    run("mkdir -p %s/.ssh && cp %s %s/.ssh/known_hosts", home, g_known, home);
    setenv("HOME", home, 1);
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s", g_client.priv_path);
    _cleanup_free_ char *u = uri(p);
    mr_tunnel_close(open_ok(u));
}
END_TEST

START_TEST(test_tunnel_refuses_changed_host_key_even_with_no_verify)
{
    _cleanup_free_ char *kh = path_in("known_changed");
    run("printf '[127.0.0.1]:%d ' > %s && cat %s/stranger.pub >> %s", g_sshd_port, kh, g_dir, kh);
    const char *extra[] = { "", "&no_verify=1", "&known_hosts_verify=auto" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(extra); i++) {
        _cleanup_free_ char *p =
            mr_xasprintf("keyfile=%s&known_hosts=%s%s", g_client.priv_path, kh, extra[i]);
        _cleanup_free_ char *u = uri(p);
        char *msg;
        ck_assert_int_eq(open_fails(u, &msg), -EPERM);
        ck_assert_msg(strstr(msg, "has changed") && strstr(msg, g_fp) && strstr(msg, kh), "%s",
                      msg);
        free(msg);
    }
    /* known_hosts_verify=ignore checks nothing, as in libvirt. */
    _cleanup_free_ char *p =
        mr_xasprintf("keyfile=%s&known_hosts=%s&known_hosts_verify=ignore", g_client.priv_path, kh);
    _cleanup_free_ char *u = uri(p);
    mr_tunnel_close(open_ok(u));
}
END_TEST

START_TEST(test_tunnel_port_entries_follow_openssh)
{
    /* Off port 22 OpenSSH writes [host]:port; a bare "127.0.0.1" line is another host. */
    _cleanup_free_ char *kh = path_in("known_bare");
    _cleanup_free_ char *line = mr_xasprintf("127.0.0.1 %s\n", g_hostkey.pub_line);
    write_file(kh, line);
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s&known_hosts=%s", g_client.priv_path, kh);
    _cleanup_free_ char *u = uri(p);
    char *msg;
    ck_assert_int_eq(open_fails(u, &msg), -EPERM);
    ck_assert_ptr_nonnull(strstr(msg, "is not known"));
    free(msg);
}
END_TEST

START_TEST(test_tunnel_skips_known_hosts_lines_libssh2_cannot_read)
{
    /* libssh2_knownhost_readfile() would stop at the first of these lines. */
    _cleanup_free_ char *kh = path_in("known_mixed");
    _cleanup_free_ char *text = mr_xasprintf(
        "# a comment\n"
        "other.example sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAI\n"
        "@cert-authority *.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM4+\n"
        "garbage\n"
        "[127.0.0.1]:%d %s\n",
        g_sshd_port, g_hostkey.pub_line);
    write_file(kh, text);
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s&known_hosts=%s", g_client.priv_path, kh);
    _cleanup_free_ char *u = uri(p);
    mr_tunnel_close(open_ok(u));
}
END_TEST

START_TEST(test_tunnel_asks_for_the_key_type_known_hosts_lists)
{
    /* The server holds ed25519 and ECDSA keys; libssh2 on its own prefers ECDSA. Each
     * file lists one type only, and the host must be recognised by either. */
    const char *files[] = { "host_ed25519.pub", "host_ecdsa.pub" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *kh = mr_xasprintf("%s/known_only_%zu", g_dir, i);
        run("printf '[127.0.0.1]:%d ' > %s && cat %s/%s >> %s", g_sshd_port, kh, g_dir, files[i],
            kh);
        _cleanup_free_ char *p = mr_xasprintf("keyfile=%s&known_hosts=%s", g_client.priv_path, kh);
        _cleanup_free_ char *u = uri(p);
        mr_tunnel_close(open_ok(u));
    }
}
END_TEST

START_TEST(test_tunnel_refuses_revoked_host_key)
{
    _cleanup_free_ char *kh = path_in("known_revoked");
    _cleanup_free_ char *text = mr_xasprintf("@revoked * %s\n", g_hostkey.pub_line);
    write_file(kh, text);
    _cleanup_free_ char *p =
        mr_xasprintf("keyfile=%s&known_hosts=%s&no_verify=1", g_client.priv_path, kh);
    _cleanup_free_ char *u = uri(p);
    char *msg;
    ck_assert_int_eq(open_fails(u, &msg), -EPERM);
    ck_assert_msg(strstr(msg, "@revoked") && strstr(msg, g_fp), "%s", msg);
    free(msg);
}
END_TEST

/* ---- logging in ---------------------------------------------------------------- */

START_TEST(test_tunnel_refuses_a_key_the_host_does_not_know)
{
    _cleanup_free_ char *k = path_in("stranger");
    _cleanup_free_ char *p = mr_xasprintf("keyfile=%s&known_hosts=%s", k, g_known);
    _cleanup_free_ char *u = uri(p);
    char *msg;
    ck_assert_int_eq(open_fails(u, &msg), -EPERM);
    ck_assert_msg(strstr(msg, "cannot log in") && strstr(msg, k), "%s", msg);
    free(msg);
    /* A keyfile that does not exist is named. */
    _cleanup_free_ char *p2 = mr_xasprintf("keyfile=%s/nope&known_hosts=%s", g_dir, g_known);
    _cleanup_free_ char *u2 = uri(p2);
    ck_assert_int_eq(open_fails(u2, &msg), -ENOENT);
    ck_assert_msg(strstr(msg, "nope"), "%s", msg);
    free(msg);
}
END_TEST

START_TEST(test_tunnel_logs_in_with_the_default_key)
{
    _cleanup_free_ char *home = path_in("home-key");
    run("mkdir -p %s/.ssh && cp %s %s/.ssh/id_ed25519", home, g_client.priv_path, home);
    setenv("HOME", home, 1);
    unsetenv("SSH_AUTH_SOCK");
    _cleanup_free_ char *p = mr_xasprintf("known_hosts=%s", g_known);
    _cleanup_free_ char *u = uri(p);
    mr_tunnel_close(open_ok(u));
    /* With no key at all the message says where it looked. */
    _cleanup_free_ char *empty = path_in("home-nokey");
    mkdir(empty, 0700);
    setenv("HOME", empty, 1);
    char *msg;
    ck_assert_int_eq(open_fails(u, &msg), -EPERM);
    ck_assert_msg(strstr(msg, "no keyfile=") && strstr(msg, empty), "%s", msg);
    free(msg);
}
END_TEST

START_TEST(test_tunnel_logs_in_through_the_agent)
{
    _cleanup_free_ char *sock = path_in("agent.sock");
    pid_t agent = fork();
    if (agent == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execlp("ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
        usleep(50000);
    setenv("SSH_AUTH_SOCK", sock, 1);
    run("ssh-add -q %s 2>/dev/null", g_client.priv_path);
    _cleanup_free_ char *empty = path_in("home-agent");
    mkdir(empty, 0700);
    setenv("HOME", empty, 1);
    _cleanup_free_ char *p = mr_xasprintf("known_hosts=%s", g_known);
    _cleanup_free_ char *u = uri(p);
    struct mr_err e = { 0 };
    struct mr_tunnel *t = NULL;
    int r = mr_tunnel_open(u, mr_now_ms() + 20000, &t, &e);
    kill(agent, SIGTERM);
    waitpid(agent, NULL, 0);
    ck_assert_msg(r == 0, "%s", mr_err_msg(&e));
    mr_tunnel_close(t);
}
END_TEST

/* ---- dialling ------------------------------------------------------------------ */

START_TEST(test_tunnel_dial_echoes_mebibytes_both_ways)
{
    int port = srv_start(SRV_ECHO);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    int fd = dial_ok(t, port);
    size_t n = 8 * MIB;
    unsigned char *data = mr_xmalloc(n);
    fill(data, n, 42);
    ck_assert_int_eq(echo_roundtrip(fd, data, n), 0);
    /* A second round on the same connection. */
    fill(data, n, 43);
    ck_assert_int_eq(echo_roundtrip(fd, data, n), 0);
    free(data);
    close(fd);
    mr_tunnel_close(t);
}
END_TEST

START_TEST(test_tunnel_dial_carries_end_of_file_both_ways)
{
    int count_port = srv_start(SRV_COUNT);
    srv_source_len = 5 * MIB + 123;
    int source_port = srv_start(SRV_SOURCE);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    /* Ours: send, shut down writing; the server sees end-of-file and answers. */
    int fd = dial_ok(t, count_port);
    size_t n = 3 * MIB + 7;
    unsigned char *data = mr_xmalloc(n);
    fill(data, n, 9);
    for (size_t off = 0; off < n;) {
        ssize_t w = send(fd, data + off, n - off, MSG_NOSIGNAL);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    unsigned char *reply;
    size_t rn = read_all(fd, &reply);
    char want[64];
    snprintf(want, sizeof(want), "%zu %016llx\n", n,
             (unsigned long long)fnv(1469598103934665603ull, data, n));
    ck_assert_uint_eq(rn, strlen(want));
    ck_assert_str_eq((char *)reply, want);
    free(reply);
    free(data);
    close(fd);
    /* Theirs: the server sends and closes; we read exactly that, then end-of-file. */
    fd = dial_ok(t, source_port);
    unsigned char *got;
    size_t gn = read_all(fd, &got);
    ck_assert_uint_eq(gn, srv_source_len);
    unsigned char *expect = mr_xmalloc(srv_source_len);
    fill(expect, srv_source_len, 7);
    ck_assert_int_eq(memcmp(got, expect, gn), 0);
    free(expect);
    free(got);
    close(fd);
    mr_tunnel_close(t);
}
END_TEST

struct worker {
    struct mr_tunnel *t;
    int port;
    int seed;
    int ok;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct mr_err e = { 0 };
    int fd = mr_tunnel_dial(w->t, "127.0.0.1", w->port, mr_now_ms() + 30000, &e);
    if (fd < 0) {
        fprintf(stderr, "worker %d: %s\n", w->seed, mr_err_msg(&e));
        mr_err_release(&e);
        return NULL;
    }
    size_t n = 1 * MIB + (size_t)w->seed * 1000;
    unsigned char *data = mr_xmalloc(n);
    fill(data, n, (uint64_t)w->seed);
    w->ok = echo_roundtrip(fd, data, n) == 0;
    free(data);
    close(fd);
    return NULL;
}

START_TEST(test_tunnel_serves_concurrent_dials_from_threads)
{
    int port = srv_start(SRV_ECHO);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    enum { N = 8 };
    struct worker w[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        w[i] = (struct worker){ .t = t, .port = port, .seed = i + 1 };
        pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(w[i].ok, "worker %d failed", i);
    }
    mr_tunnel_close(t);
}
END_TEST

START_TEST(test_tunnel_slow_reader_holds_up_no_one_else)
{
    srv_source_len = 16 * MIB;
    int source_port = srv_start(SRV_SOURCE);
    int echo_port = srv_start(SRV_ECHO);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    int slow = dial_ok(t, source_port); /* not read for now: its window fills */
    usleep(300000);
    int fd = dial_ok(t, echo_port);
    size_t n = 2 * MIB;
    unsigned char *data = mr_xmalloc(n);
    fill(data, n, 5);
    int64_t t0 = mr_now_ms();
    ck_assert_int_eq(echo_roundtrip(fd, data, n), 0);
    ck_assert_int_lt(mr_now_ms() - t0, 20000);
    free(data);
    close(fd);
    unsigned char *got;
    ck_assert_uint_eq(read_all(slow, &got), srv_source_len);
    unsigned char *expect = mr_xmalloc(srv_source_len);
    fill(expect, srv_source_len, 7);
    ck_assert_int_eq(memcmp(got, expect, srv_source_len), 0);
    free(expect);
    free(got);
    close(slow);
    mr_tunnel_close(t);
}
END_TEST

static int64_t cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

START_TEST(test_tunnel_waits_without_spinning)
{
    srv_source_len = 64 * MIB;
    int source_port = srv_start(SRV_SOURCE);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    /* Idle, and then with a channel whose reader never reads: both must sleep. */
    for (int round = 0; round < 2; round++) {
        int fd = round ? dial_ok(t, source_port) : -1;
        usleep(500000); /* buffers and windows fill */
        int64_t c0 = cpu_ms(), t0 = mr_now_ms();
        usleep(1000000);
        int64_t used = cpu_ms() - c0;
        ck_assert_msg(used < 100, "round %d: %lld ms of CPU in %lld ms", round, (long long)used,
                      (long long)(mr_now_ms() - t0));
        if (fd >= 0)
            close(fd);
    }
    mr_tunnel_close(t);
}
END_TEST

START_TEST(test_tunnel_dial_to_closed_port_is_refused)
{
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    int port = mr_guest_free_port();
    struct mr_err e = { 0 };
    int64_t t0 = mr_now_ms();
    ck_assert_int_eq(mr_tunnel_dial(t, "127.0.0.1", port, t0 + 20000, &e), -ECONNREFUSED);
    ck_assert_int_lt(mr_now_ms() - t0, 5000);
    _cleanup_free_ char *where = mr_xasprintf("127.0.0.1:%d", port);
    ck_assert_msg(strstr(mr_err_msg(&e), where) && strstr(mr_err_msg(&e), "connect failed"), "%s",
                  mr_err_msg(&e));
    /* The tunnel still works afterwards, and bad arguments are refused up front. */
    int ok = dial_ok(t, g_sshd_port);
    close(ok);
    ck_assert_int_eq(mr_tunnel_dial(t, "", 22, t0 + 20000, &e), -EINVAL);
    ck_assert_int_eq(mr_tunnel_dial(t, "127.0.0.1", 0, t0 + 20000, &e), -EINVAL);
    mr_interrupted = 1;
    ck_assert_int_eq(mr_tunnel_dial(t, "127.0.0.1", port, t0 + 20000, &e), -EINTR);
    mr_interrupted = 0;
    mr_err_release(&e);
    mr_tunnel_close(t);
}
END_TEST

START_TEST(test_tunnel_many_short_dials_leak_nothing)
{
    int port = srv_start(SRV_ECHO);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    int before = count_fds();
    for (int i = 0; i < 150; i++) {
        int fd = dial_ok(t, port);
        unsigned char b[100];
        fill(b, sizeof(b), (uint64_t)i + 1);
        ck_assert_int_eq(echo_roundtrip(fd, b, sizeof(b)), 0);
        close(fd);
    }
    /* The pump closes its ends once the channels are done. */
    for (int i = 0; i < 100 && count_fds() > before; i++)
        usleep(20000);
    ck_assert_int_eq(count_fds(), before);
    mr_tunnel_close(t);
}
END_TEST

START_TEST(test_tunnel_close_ends_open_connections)
{
    int port = srv_start(SRV_ECHO);
    _cleanup_free_ char *u = good_uri();
    int before = count_fds();
    struct mr_tunnel *t = open_ok(u);
    int fd = dial_ok(t, port);
    mr_tunnel_close(t);
    unsigned char *got;
    ck_assert_uint_eq(read_all(fd, &got), 0);
    free(got);
    close(fd);
    /* The echo server's side closes once sshd hangs up on it. */
    for (int i = 0; i < 100 && count_fds() > before; i++)
        usleep(20000);
    ck_assert_int_eq(count_fds(), before);
}
END_TEST

START_TEST(test_tunnel_lost_connection_fails_dials_at_once)
{
    int port = srv_start(SRV_ECHO);
    struct relay *r = relay_start(g_sshd_port, 0);
    _cleanup_free_ char *u =
        mr_xasprintf("qemu+ssh://%s@127.0.0.1:%d/system?keyfile=%s&no_verify=1", g_user, r->port,
                     g_client.priv_path);
    struct mr_tunnel *t = open_ok(u);
    int fd = dial_ok(t, port);
    relay_cut(r);
    /* The open connection ends... */
    unsigned char *got;
    ck_assert_uint_eq(read_all(fd, &got), 0);
    free(got);
    close(fd);
    /* ...and a dial says the tunnel is gone instead of waiting for its deadline. */
    struct mr_err e = { 0 };
    int64_t t0 = mr_now_ms();
    ck_assert_int_eq(mr_tunnel_dial(t, "127.0.0.1", port, t0 + 20000, &e), -ENOTCONN);
    ck_assert_int_lt(mr_now_ms() - t0, 2000);
    ck_assert_msg(strstr(mr_err_msg(&e), "is lost"), "%s", mr_err_msg(&e));
    mr_err_release(&e);
    mr_tunnel_close(t);
}
END_TEST


START_TEST(test_tunnel_reopens_a_lost_connection)
{
    int port = srv_start(SRV_ECHO);
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    int fd = dial_ok(t, port);
    ck_assert_int_ge(sshd_kill_sessions(), 1);
    /* The connection it carried ends... */
    unsigned char *got;
    ck_assert_uint_eq(read_all(fd, &got), 0);
    free(got);
    close(fd);
    /* ...and the next dial opens the SSH connection again and goes through it. */
    for (int i = 0; i < 100 && mr_tunnel_reopens(t) == 0; i++) {
        struct mr_err e = { 0 };
        int fd2 = mr_tunnel_dial(t, "127.0.0.1", port, mr_now_ms() + 10000, &e);
        if (fd2 >= 0) {
            unsigned char data[1000];
            fill(data, sizeof(data), 5);
            ck_assert_int_eq(echo_roundtrip(fd2, data, sizeof(data)), 0);
            close(fd2);
        } else {
            /* Only while the pump has not yet noticed the loss. */
            usleep(20000);
        }
        mr_err_release(&e);
    }
    ck_assert_uint_eq(mr_tunnel_reopens(t), 1);
    int fd3 = dial_ok(t, port);
    close(fd3);
    ck_assert_uint_eq(mr_tunnel_reopens(t), 1);
    mr_tunnel_close(t);
}
END_TEST

/* ---- a guest's SSH session through the tunnel ----------------------------------- */

START_TEST(test_ssh_connect_via_tunnel_runs_commands_and_uploads)
{
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    /* As the pipeline does for a guest: its forwarded port on the remote 127.0.0.1,
     * with the pinned host key; here the guest is the test's sshd. */
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = g_sshd_port, .user = g_user, .key = &g_client,
        .pinned_host = &g_hostkey, .dial = mr_tunnel_dial_cb, .dial_ctx = t,
    };
    struct mr_err e = { 0 };
    struct mr_ssh *s = NULL;
    int r = mr_ssh_connect(&target, mr_now_ms() + 20000, &s, &e);
    ck_assert_msg(r == 0, "%s", mr_err_msg(&e));
    struct mr_exec x;
    mr_exec_init(&x);
    ck_assert_int_eq(mr_ssh_exec(s, "echo ok", 10000, &x, &e), 0);
    ck_assert_int_eq(x.exit_status, 0);
    ck_assert_str_eq(x.out.data, "ok\n");
    mr_exec_release(&x);
    /* SFTP upload of a few MiB, nested in the tunnel's channel. */
    _cleanup_free_ char *src = path_in("upload.bin");
    _cleanup_free_ char *dst = path_in("uploaded.bin");
    size_t n = 4 * MIB + 1;
    unsigned char *data = mr_xmalloc(n);
    fill(data, n, 77);
    FILE *f = fopen(src, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    ck_assert_int_eq(mr_ssh_upload(s, src, dst, 0644, 30000, &e), 0);
    char *back;
    size_t bn;
    ck_assert_int_eq(mr_file_read(dst, &back, &bn), 0);
    ck_assert_uint_eq(bn, n);
    ck_assert_int_eq(memcmp(back, data, n), 0);
    free(back);
    free(data);
    mr_ssh_free(s);
    mr_err_release(&e);
    mr_tunnel_close(t);
}
END_TEST

START_TEST(test_ssh_connect_via_tunnel_retries_until_the_port_opens)
{
    _cleanup_free_ char *u = good_uri();
    struct mr_tunnel *t = open_ok(u);
    /* A "guest" whose SSH port opens 1.5 s from now: refused dials are retried. */
    struct relay *r = relay_start(g_sshd_port, 1500);
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = r->port, .user = g_user, .key = &g_client,
        .pinned_host = &g_hostkey, .dial = mr_tunnel_dial_cb, .dial_ctx = t,
    };
    struct mr_err e = { 0 };
    struct mr_ssh *s = NULL;
    int64_t t0 = mr_now_ms();
    int rc = mr_ssh_connect(&target, t0 + 20000, &s, &e);
    ck_assert_msg(rc == 0, "%s", mr_err_msg(&e));
    ck_assert_int_ge(mr_now_ms() - t0, 1400);
    struct mr_exec x;
    mr_exec_init(&x);
    ck_assert_int_eq(mr_ssh_exec(s, "echo ok", 10000, &x, &e), 0);
    ck_assert_str_eq(x.out.data, "ok\n");
    mr_exec_release(&x);
    mr_ssh_free(s);
    /* A wrong pinned key is refused, not retried. */
    struct mr_sshkey other;
    _cleanup_free_ char *op = path_in("stranger.pub");
    ck_assert_int_eq(mr_sshkey_load_public(&other, op, &e), 0);
    target.pinned_host = &other;
    t0 = mr_now_ms();
    ck_assert_int_eq(mr_ssh_connect(&target, t0 + 20000, &s, &e), -EPERM);
    ck_assert_int_lt(mr_now_ms() - t0, 10000);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "host key mismatch"));
    mr_sshkey_release(&other);
    mr_err_release(&e);
    relay_cut(r);
    mr_tunnel_close(t);
}
END_TEST

int main(void)
{
    /* Tests write to connections whose far end may be gone. */
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("tunnel");
    TCase *tu = tcase_create("uri");
    tcase_set_timeout(tu, 30);
    tcase_add_test(tu, test_tunnel_uri_is_remote_by_syntax);
    tcase_add_loop_test(tu, test_tunnel_rejects_bad_uris_with_a_reason, 0,
                        (int)MR_ARRAY_SIZE(bad_uris));
    tcase_add_test(tu, test_tunnel_open_names_refused_host);
    tcase_add_test(tu, test_tunnel_open_times_out_on_silent_server);
    suite_add_tcase(s, tu);

    TCase *th = sshd_tcase("hostkey");
    tcase_add_test(th, test_tunnel_refuses_unknown_host_key);
    tcase_add_test(th, test_tunnel_accepts_unknown_host_with_no_verify);
    tcase_add_test(th, test_tunnel_accepts_host_listed_in_known_hosts);
    tcase_add_test(th, test_tunnel_reads_default_known_hosts_from_home);
    tcase_add_test(th, test_tunnel_refuses_changed_host_key_even_with_no_verify);
    tcase_add_test(th, test_tunnel_port_entries_follow_openssh);
    tcase_add_test(th, test_tunnel_skips_known_hosts_lines_libssh2_cannot_read);
    tcase_add_test(th, test_tunnel_asks_for_the_key_type_known_hosts_lists);
    tcase_add_test(th, test_tunnel_refuses_revoked_host_key);
    suite_add_tcase(s, th);

    TCase *ta = sshd_tcase("login");
    tcase_add_test(ta, test_tunnel_refuses_a_key_the_host_does_not_know);
    tcase_add_test(ta, test_tunnel_logs_in_with_the_default_key);
    tcase_add_test(ta, test_tunnel_logs_in_through_the_agent);
    suite_add_tcase(s, ta);

    TCase *td = sshd_tcase("dial");
    tcase_add_test(td, test_tunnel_dial_echoes_mebibytes_both_ways);
    tcase_add_test(td, test_tunnel_dial_carries_end_of_file_both_ways);
    tcase_add_test(td, test_tunnel_serves_concurrent_dials_from_threads);
    tcase_add_test(td, test_tunnel_slow_reader_holds_up_no_one_else);
    tcase_add_test(td, test_tunnel_waits_without_spinning);
    tcase_add_test(td, test_tunnel_dial_to_closed_port_is_refused);
    tcase_add_test(td, test_tunnel_many_short_dials_leak_nothing);
    tcase_add_test(td, test_tunnel_close_ends_open_connections);
    tcase_add_test(td, test_tunnel_lost_connection_fails_dials_at_once);
    tcase_add_test(td, test_tunnel_reopens_a_lost_connection);
    suite_add_tcase(s, td);

    TCase *tv = sshd_tcase("ssh_via");
    tcase_add_test(tv, test_ssh_connect_via_tunnel_runs_commands_and_uploads);
    tcase_add_test(tv, test_ssh_connect_via_tunnel_retries_until_the_port_opens);
    suite_add_tcase(s, tv);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
