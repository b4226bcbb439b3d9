/* check_ssh.c: SSH sessions (exec, exit status, timeouts, output caps) and the SSH
 * backend of transport.h, against the real OpenSSH server of sshd_fixture.c on
 * 127.0.0.1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssh.h"
#include "sshd_fixture.h"
#include "sshoffer.h"
#include "transport.h"

static struct mr_ssh *connect_ok(int port)
{
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = port, .user = g_user, .key = &g_client,
        .pinned_host = &g_hostkey,
    };
    struct mr_err e = { 0 };
    struct mr_ssh *s = NULL;
    int r = mr_ssh_connect(&target, mr_now_ms() + 20000, &s, &e);
    ck_assert_msg(r == 0, "connect to port %d = %d: %s", port, r, mr_err_msg(&e));
    mr_err_release(&e);
    return s;
}

/* Each test's command: what it gave, its error message and how long it took. */
static struct mr_exec x;
static char *msg;
static int64_t took;

static void exec_setup(void)
{
    mr_exec_init(&x);
    msg = NULL;
}

static void exec_teardown(void)
{
    mr_exec_release(&x);
    free(msg);
}

/* Runs cmd on port in a new connection; returns mr_ssh_exec()'s result. */
static int exec_on(int port, const char *cmd, int64_t timeout_ms)
{
    struct mr_ssh *s = connect_ok(port);
    struct mr_err e = { 0 };
    int64_t t0 = mr_now_ms();
    int r = mr_ssh_exec(s, cmd, timeout_ms, &x, &e);
    took = mr_now_ms() - t0;
    free(msg);
    msg = mr_xstrdup(mr_err_msg(&e));
    mr_err_release(&e);
    mr_ssh_free(s);
    return r;
}

/* Runs "sleep secs" with its output closed on port, and kills the sleep afterwards so
 * that none outlives its test. */
static int exec_quiet_sleep(int port, int secs, int64_t timeout_ms)
{
    _cleanup_free_ char *pidf = path_in("sleep.pid");
    _cleanup_free_ char *cmd =
        mr_xasprintf("exec >/dev/null 2>&1; echo $$ > %s; exec sleep %d", pidf, secs);
    int r = exec_on(port, cmd, timeout_ms);
    _cleanup_free_ char *data = NULL;
    size_t len;
    if (mr_file_read(pidf, &data, &len) == 0 && atoi(data) > 1)
        (void)kill(atoi(data), SIGKILL);
    (void)unlink(pidf);
    return r;
}

/* ---- exit status ------------------------------------------------------------------ */

START_TEST(test_ssh_exec_reports_status_and_output)
{
    int r = exec_on(g_sshd_port, "echo out; echo err >&2; exit 7", 10000);
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    ck_assert_int_eq(x.exit_status, 7);
    ck_assert_ptr_null(x.exit_signal);
    ck_assert_str_eq(x.out.data, "out\n");
    ck_assert_str_eq(x.err.data, "err\n");
}
END_TEST

START_TEST(test_ssh_exec_reports_a_signal)
{
    int r = exec_on(g_sshd_port, "kill -9 $$", 10000);
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    ck_assert_ptr_nonnull(x.exit_signal);
    ck_assert_str_eq(x.exit_signal, "KILL");
}
END_TEST

/* A command that closes its output and goes on: end-of-file comes long before the exit
 * status, which is waited for up to the command's own timeout (an earlier version gave
 * up 5 s after the end-of-file and read status 0). */
START_TEST(test_ssh_exec_waits_past_end_of_file_for_the_status)
{
    int r = exec_on(g_sshd_port, "exec >/dev/null 2>&1; sleep 6; exit 3", 60000);
    ck_assert_msg(r == 0, "%d: %s (took %lld ms)", r, msg, (long long)took);
    ck_assert_int_eq(x.exit_status, 3);
    ck_assert_int_ge(took, 5900);
}
END_TEST

/* The timeout leaves room for the end-of-file to come first even on a busy machine,
 * where the shell may be slow to start: it is the wait after it that must time out. */
START_TEST(test_ssh_exec_times_out_after_end_of_file)
{
    int r = exec_quiet_sleep(g_sshd_port, 30, 8000);
    ck_assert_msg(r == -ETIMEDOUT, "%d: %s (status %d)", r, msg, x.exit_status);
    ck_assert_msg(strstr(msg, "outlived its timeout of 8.0 s"), "%s", msg);
    ck_assert_int_ge(took, 7900);
    ck_assert_int_lt(took, 12000);
}
END_TEST

static void *interrupt_soon(void *arg)
{
    (void)arg;
    mr_sleep_ms(1500);
    mr_interrupted = 1;
    return NULL;
}

/* The wait after end-of-file runs up to the command's timeout: an interrupt (the CLI's
 * SIGINT) ends it within a second or so, as it ends every other wait. */
START_TEST(test_ssh_exec_interrupt_ends_the_wait_after_end_of_file)
{
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, interrupt_soon, NULL), 0);
    int r = exec_quiet_sleep(g_sshd_port, 30, 60000);
    pthread_join(th, NULL);
    mr_interrupted = 0;
    ck_assert_msg(r == -EINTR, "%d: %s (status %d)", r, msg, x.exit_status);
    ck_assert_int_lt(took, 5000);
}
END_TEST

/* The fixture's second server closes a quiet command session (sshd's ChannelTimeout)
 * and sends no exit status: that is no verdict, and above all not status 0. */
START_TEST(test_ssh_exec_channel_closed_without_status_is_an_error)
{
    int r = exec_quiet_sleep(g_sshd_port_idle_close, 20, 60000);
    ck_assert_msg(r == -EPROTO, "%d: %s (status %d, took %lld ms)", r, msg, x.exit_status,
                  (long long)took);
    ck_assert_msg(strstr(msg, "the guest closed the channel without an exit status"), "%s", msg);
    ck_assert_int_lt(took, 15000);
}
END_TEST

/* The connection drops after the command closed its output: an error, not status 0.
 * The command kills the sshd process serving its own session. */
START_TEST(test_ssh_exec_connection_lost_after_end_of_file_is_an_error)
{
    int r = exec_on(g_sshd_port, "exec >/dev/null 2>&1; sleep 1; kill -9 $PPID; exit 0", 60000);
    ck_assert_msg(r == -EIO, "%d: %s (status %d)", r, msg, x.exit_status);
    ck_assert_msg(strstr(msg, "connection lost"), "%s", msg);
    ck_assert_int_lt(took, 15000);
}
END_TEST

/* ---- output ----------------------------------------------------------------------- */

START_TEST(test_ssh_exec_keeps_output_up_to_the_cap)
{
    ck_assert_uint_eq(x.out_cap, MR_EXEC_OUTPUT_CAP);
    _cleanup_free_ char *cmd =
        mr_xasprintf("head -c %u /dev/zero | tr '\\0' o; head -c %u /dev/zero | tr '\\0' e >&2",
                     MR_EXEC_OUTPUT_CAP + 1000, MR_EXEC_OUTPUT_CAP + 5);
    int r = exec_on(g_sshd_port, cmd, 60000);
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    ck_assert_int_eq(x.exit_status, 0);
    ck_assert_uint_eq(x.out.len, MR_EXEC_OUTPUT_CAP);
    ck_assert_uint_eq(x.out_dropped, 1000);
    ck_assert_uint_eq(x.err.len, MR_EXEC_OUTPUT_CAP);
    ck_assert_uint_eq(x.err_dropped, 5);
    ck_assert_int_eq(x.out.data[0], 'o');
    ck_assert_int_eq(x.out.data[MR_EXEC_OUTPUT_CAP - 1], 'o');
    ck_assert_int_eq(x.err.data[MR_EXEC_OUTPUT_CAP - 1], 'e');
}
END_TEST

START_TEST(test_ssh_exec_keeps_stdout_up_to_the_callers_cap)
{
    x.out_cap = 10;
    int r = exec_on(g_sshd_port, "printf 0123456789abc; printf 0123456789abcdef >&2", 10000);
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    ck_assert_str_eq(x.out.data, "0123456789");
    ck_assert_uint_eq(x.out_dropped, 3);
    /* out_cap is stdout's: stderr keeps MR_EXEC_OUTPUT_CAP. */
    ck_assert_str_eq(x.err.data, "0123456789abcdef");
    ck_assert_uint_eq(x.err_dropped, 0);
}
END_TEST

/* ---- the dial callback and the transport table ------------------------------------ */

/* A dial callback: reaches the fixture's sshd whatever host it is asked for, or fails
 * with the code it is given. */
struct dialer {
    int calls;
    int fail; /* -errno to return, 0 to connect */
    char host[64];
    /* The first `silent` dials get a connection whose other end never speaks, as slirp
     * gives for a guest whose network is not up yet (the other ends kept in mute[]). */
    int silent;
    int mute[4];
};

static int test_dial(void *ctx, const char *host, int port, int64_t deadline_ms,
                     struct mr_err *err)
{
    (void)port;
    (void)deadline_ms;
    struct dialer *d = ctx;
    d->calls++;
    snprintf(d->host, sizeof(d->host), "%s", host);
    if (d->fail) {
        mr_err_set(err, "test dial failed with %d", d->fail);
        return d->fail;
    }
    if (d->calls <= d->silent && d->calls <= 4) {
        int sv[2];
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        d->mute[d->calls - 1] = sv[1];
        return sv[0];
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g_sshd_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* Not an address this host could reach: only the dial callback gets there. */
#define DIALED_GUEST "guest.invalid"

static int connect_dialing(struct dialer *d, int64_t budget_ms, struct mr_transport **tr)
{
    struct mr_transport_target target = {
        .host = DIALED_GUEST, .port = 22, .user = g_user, .key = &g_client,
        .pinned_host = &g_hostkey, .dial = test_dial, .dial_ctx = d,
    };
    struct mr_err e = { 0 };
    int r = mr_transport_connect(&mr_ssh_transport, &target, mr_now_ms() + budget_ms, tr, &e);
    free(msg);
    msg = mr_xstrdup(mr_err_msg(&e));
    mr_err_release(&e);
    return r;
}

START_TEST(test_transport_ssh_dials_runs_and_uploads)
{
    struct dialer d = { 0 };
    struct mr_transport *tr = NULL;
    int r = connect_dialing(&d, 20000, &tr);
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_str_eq(d.host, DIALED_GUEST);
    ck_assert_str_eq(mr_transport_name(tr), "ssh");
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_transport_exec(tr, "echo ok; exit 4", 10000, &x, &e), 0);
    ck_assert_int_eq(x.exit_status, 4);
    ck_assert_str_eq(x.out.data, "ok\n");
    _cleanup_free_ char *src = path_in("transport-src");
    _cleanup_free_ char *dst = path_in("transport-dst");
    write_file(src, "uploaded\n");
    ck_assert_int_eq(mr_transport_upload(tr, src, dst, 0640, 10000, &e), 0);
    _cleanup_free_ char *back = NULL;
    size_t n;
    ck_assert_int_eq(mr_file_read(dst, &back, &n), 0);
    ck_assert_str_eq(back, "uploaded\n");
    mr_err_release(&e);
    mr_transport_close(tr);
    mr_transport_close(NULL);
}
END_TEST

/* transport.h: -EPERM, -EINVAL and -ENOTCONN from the dial end the connect at once, with
 * the dial's message; anything else is retried until the deadline. */
START_TEST(test_transport_ssh_gives_up_or_retries_as_the_dial_says)
{
    struct dialer d = { .fail = -ENOTCONN };
    struct mr_transport *tr = NULL;
    ck_assert_int_eq(connect_dialing(&d, 20000, &tr), -ENOTCONN);
    ck_assert_int_eq(d.calls, 1);
    ck_assert_msg(strstr(msg, "test dial failed"), "%s", msg);
    d = (struct dialer){ .fail = -ECONNREFUSED };
    ck_assert_int_eq(connect_dialing(&d, 1500, &tr), -ETIMEDOUT);
    ck_assert_int_ge(d.calls, 2);
    ck_assert_msg(strstr(msg, "test dial failed"), "%s", msg);
    ck_assert_ptr_null(tr);
}
END_TEST

/* ---- negotiated algorithms and host key types ------------------------------------ */

/* A server limited to one cipher, MAC and kex, none of them libssh2's first choice: the
 * connection must say it negotiated exactly those (the names come from the server's
 * configuration, not from matrixrun). */
#define FORCED_CIPHER "aes192-ctr"
#define FORCED_MAC "hmac-sha1"
#define FORCED_KEX "diffie-hellman-group14-sha256"

START_TEST(test_ssh_reports_what_the_server_negotiated)
{
    int port;
    pid_t pid = sshd_start_other("sshd-forced", NULL,
                                 "Ciphers " FORCED_CIPHER "\nMACs " FORCED_MAC
                                 "\nKexAlgorithms " FORCED_KEX "\n",
                                 &port);
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = port, .user = g_user, .key = &g_client,
        .pinned_host = &g_hostkey,
    };
    struct mr_err e = { 0 };
    struct mr_transport *tr = NULL;
    int r = mr_transport_connect(&mr_ssh_transport, &target, mr_now_ms() + 20000, &tr, &e);
    ck_assert_msg(r == 0, "%d: %s", r, mr_err_msg(&e));
    struct mr_transport_methods m = { 0 };
    ck_assert_int_eq(mr_transport_methods(tr, &m), 0);
    ck_assert_str_eq(m.hostkey, "ssh-ed25519");
    ck_assert_str_eq(m.kex, FORCED_KEX);
    ck_assert_str_eq(m.cipher, FORCED_CIPHER);
    ck_assert_str_eq(m.mac, FORCED_MAC);
    mr_transport_close(tr);
    sshd_stop_other(pid);
    /* The fixture's own server, unrestricted: libssh2's first choices differ. */
    struct mr_ssh *s = connect_ok(g_sshd_port);
    ck_assert_int_eq(mr_ssh_methods(s, &m), 0);
    ck_assert_str_eq(m.hostkey, "ssh-ed25519");
    ck_assert_str_ne(m.cipher, FORCED_CIPHER);
    ck_assert_str_ne(m.kex, FORCED_KEX);
    mr_ssh_free(s);
    mr_err_release(&e);
}
END_TEST

/* A server with an RSA host key only, as OpenSSH 5.3 is: it offers ssh-rsa (which a
 * modern sshd offers only when told to, and which is all libssh2 1.10 verifies). */
static pid_t start_rsa_only_with(const char *name, const char *extra, int *port)
{
    run("test -f %s/host_rsa || ssh-keygen -q -t rsa -b 3072 -m PEM -N '' -C mr-host-rsa "
        "-f %s/host_rsa",
        g_dir, g_dir);
    _cleanup_free_ char *hostkeys = mr_xasprintf("HostKey %s/host_rsa\n", g_dir);
    _cleanup_free_ char *conf = mr_xasprintf("HostKeyAlgorithms +ssh-rsa\n%s", extra);
    return sshd_start_other(name, hostkeys, conf, port);
}

static pid_t start_rsa_only(int *port)
{
    return start_rsa_only_with("sshd-rsa", "", port);
}

static int connect_pinned(int port, const struct mr_sshkey *pinned, int retry,
                          int64_t budget_ms, struct mr_ssh **s)
{
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = port, .user = g_user, .key = &g_client,
        .pinned_host = pinned, .retry_host_mismatch = retry,
    };
    struct mr_err e = { 0 };
    int r = mr_ssh_connect(&target, mr_now_ms() + budget_ms, s, &e);
    free(msg);
    msg = mr_xstrdup(mr_err_msg(&e));
    mr_err_release(&e);
    return r;
}

START_TEST(test_ssh_pinned_rsa_key_logs_in_to_an_rsa_only_server)
{
    int port;
    pid_t pid = start_rsa_only(&port);
    struct mr_sshkey rsa = { 0 };
    struct mr_err e = { 0 };
    _cleanup_free_ char *pub = path_in("host_rsa.pub");
    ck_assert_int_eq(mr_sshkey_load_public(&rsa, pub, &e), 0);
    ck_assert_str_eq(rsa.type, "ssh-rsa");
    struct mr_ssh *s = NULL;
    int r = connect_pinned(port, &rsa, 0, 20000, &s);
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    struct mr_transport_methods m;
    ck_assert_int_eq(mr_ssh_methods(s, &m), 0);
    ck_assert_msg(strstr(m.hostkey, "rsa"), "%s", m.hostkey);
    mr_ssh_free(s);
    mr_sshkey_release(&rsa);
    sshd_stop_other(pid);
}
END_TEST

/* libssh2 asks for the pinned key's type only; a server without one fails the key
 * exchange, and the message says which host key types each side had. That is refused
 * at once like a wrong key, and retried like one for a seeded guest. */
START_TEST(test_ssh_pinned_ed25519_on_an_rsa_only_server_names_the_types)
{
    int port;
    pid_t pid = start_rsa_only(&port);
    struct mr_ssh *s = NULL;
    int64_t t0 = mr_now_ms();
    int r = connect_pinned(port, &g_hostkey, 0, 20000, &s);
    ck_assert_msg(r == -EPERM, "%d: %s", r, msg);
    ck_assert_int_lt(mr_now_ms() - t0, 10000);
    ck_assert_msg(strstr(msg, "Unable to exchange encryption keys") &&
                      strstr(msg, "no host key type in common: matrixrun offers ssh-ed25519 "
                                  "(the pinned key's type), the server ") &&
                      strstr(msg, "rsa-sha2-512") && strstr(msg, "ssh-rsa"),
                  "%s", msg);
    /* Nothing but the host key type is named: kex, cipher and MAC did meet. */
    ck_assert_msg(!strstr(msg, "no key exchange") && !strstr(msg, "no cipher") &&
                      !strstr(msg, "no MAC"),
                  "%s", msg);
    r = connect_pinned(port, &g_hostkey, 1, 2500, &s);
    ck_assert_msg(r == -ETIMEDOUT && strstr(msg, "no host key type in common"), "%d: %s", r,
                  msg);
    sshd_stop_other(pid);
}
END_TEST

/* Only the cipher fails to meet: the message names it, and the failure is retried (it is
 * no sign of a wrong guest). */
START_TEST(test_ssh_kex_failure_names_the_cipher)
{
    int port;
    pid_t pid = sshd_start_other("sshd-gcm", NULL, "Ciphers aes256-gcm@openssh.com\n", &port);
    struct mr_ssh *s = NULL;
    int r = connect_pinned(port, &g_hostkey, 0, 2500, &s);
    ck_assert_msg(r == -ETIMEDOUT, "%d: %s", r, msg);
    ck_assert_msg(strstr(msg, "no cipher in common: matrixrun offers ") &&
                      strstr(msg, "aes128-ctr") &&
                      strstr(msg, ", the server aes256-gcm@openssh.com") &&
                      !strstr(msg, "no host key type"),
                  "%s", msg);
    sshd_stop_other(pid);
}
END_TEST

/* The legacy guest whole: an RSA host key and an RSA user key, as OpenSSH 5.3 takes them
 * (libssh2 1.10 signs RSA logins with SHA-1, which a modern sshd takes only when told
 * to). The key is made by mr_sshkey_generate and checked with ssh-keygen's own eyes. */
START_TEST(test_ssh_rsa_user_key_is_3072_bit_pem_and_logs_in)
{
    _cleanup_free_ char *kd = path_in("client-rsa");
    struct mr_sshkey key = { 0 };
    struct mr_err e = { 0 };
    ck_assert_msg(mr_sshkey_generate(&key, kd, MR_KEYTYPE_RSA, "mr-rsa-test", &e) == 0, "%s",
                  mr_err_msg(&e));
    ck_assert_str_eq(key.type, "ssh-rsa");
    ck_assert_msg(strstr(key.priv_path, "/id_rsa"), "%s", key.priv_path);
    _cleanup_free_ char *priv = NULL;
    size_t len;
    ck_assert_int_eq(mr_file_read(key.priv_path, &priv, &len), 0);
    ck_assert_int_eq(strncmp(priv, "-----BEGIN RSA PRIVATE KEY-----\n", 32), 0);
    explicit_bzero(priv, len);
    struct stat st;
    ck_assert_int_eq(stat(key.priv_path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    _cleanup_free_ char *cmd = mr_xasprintf("ssh-keygen -l -f %s.pub", key.priv_path);
    FILE *f = popen(cmd, "r");
    int bits = 0;
    char kind[32] = "";
    ck_assert_int_eq(fscanf(f, "%d %*s %*s %31s", &bits, kind), 2);
    pclose(f);
    ck_assert_int_eq(bits, 3072);
    ck_assert_str_eq(kind, "(RSA)");
    run("cat %s.pub >> %s/authorized_keys", key.priv_path, g_dir);

    int port;
    pid_t pid = start_rsa_only_with("sshd-legacy", "PubkeyAcceptedAlgorithms +ssh-rsa\n", &port);
    struct mr_sshkey host = { 0 };
    _cleanup_free_ char *hostpub = path_in("host_rsa.pub");
    ck_assert_int_eq(mr_sshkey_load_public(&host, hostpub, &e), 0);
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = port, .user = g_user, .key = &key, .pinned_host = &host,
    };
    struct mr_ssh *s = NULL;
    int r = mr_ssh_connect(&target, mr_now_ms() + 20000, &s, &e);
    ck_assert_msg(r == 0, "%d: %s", r, mr_err_msg(&e));
    struct mr_exec out;
    mr_exec_init(&out);
    ck_assert_int_eq(mr_ssh_exec(s, "echo legacy", 10000, &out, &e), 0);
    ck_assert_str_eq(out.out.data, "legacy\n");
    mr_exec_release(&out);
    mr_ssh_free(s);
    sshd_stop_other(pid);
    mr_sshkey_release(&host);
    mr_sshkey_release(&key);
    mr_err_release(&e);
}
END_TEST

/* A pre-provisioned login (<login>): the guest had the key from the start, so a refused
 * key is final, at once (-EPERM: the boot's "refused" error, not retried until the boot
 * timeout); for a seeded guest it is retried (cloud-init may not have written it yet). */
START_TEST(test_ssh_refused_key_is_final_for_a_pre_provisioned_login)
{
    _cleanup_free_ char *kd = path_in("client-unknown");
    struct mr_sshkey key = { 0 };
    struct mr_err e = { 0 };
    ck_assert_msg(mr_sshkey_generate(&key, kd, MR_KEYTYPE_ED25519, "unknown", &e) == 0, "%s",
                  mr_err_msg(&e));
    struct mr_transport_target target = {
        .host = "127.0.0.1", .port = g_sshd_port, .user = g_user, .key = &key,
        .pinned_host = &g_hostkey, .auth_refusal_final = 1,
    };
    struct mr_ssh *s = NULL;
    int64_t t0 = mr_now_ms();
    int r = mr_ssh_connect(&target, t0 + 20000, &s, &e);
    ck_assert_msg(r == -EPERM, "%d: %s", r, mr_err_msg(&e));
    ck_assert_int_lt(mr_now_ms() - t0, 10000);
    ck_assert_msg(strstr(mr_err_msg(&e), "public key authentication as '"), "%s",
                  mr_err_msg(&e));
    mr_err_release(&e);
    target.auth_refusal_final = 0;
    r = mr_ssh_connect(&target, mr_now_ms() + 1500, &s, &e);
    ck_assert_msg(r == -ETIMEDOUT && strstr(mr_err_msg(&e), "public key authentication as '"),
                  "%d: %s", r, mr_err_msg(&e));
    mr_err_release(&e);
    mr_sshkey_release(&key);
}
END_TEST

START_TEST(test_ssh_offer_parse_reads_a_kexinit)
{
    /* Two preamble lines, the banner, then a KEXINIT with 4 bytes of padding. */
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_adds(&b, "hello\r\nworld\nSSH-2.0-Test\r\n");
    const char *lists[] = { "kexA,kexB", "ssh-rsa", "aes128-ctr", "aes256-ctr", "hmac-sha1",
                            "hmac-md5", "", "", "", "" };
    struct mr_buf pay;
    mr_buf_init(&pay);
    mr_buf_add(&pay, "\x14" "0123456789abcdef", 17);
    for (size_t i = 0; i < MR_ARRAY_SIZE(lists); i++) {
        uint32_t n = (uint32_t)strlen(lists[i]);
        unsigned char be[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                                (unsigned char)(n >> 8), (unsigned char)n };
        mr_buf_add(&pay, be, 4);
        mr_buf_add(&pay, lists[i], n);
    }
    mr_buf_add(&pay, "\0\0\0\0\0", 5); /* first_kex_packet_follows, reserved */
    uint32_t plen = (uint32_t)(1 + pay.len + 4);
    unsigned char head[5] = { (unsigned char)(plen >> 24), (unsigned char)(plen >> 16),
                              (unsigned char)(plen >> 8), (unsigned char)plen, 4 };
    mr_buf_add(&b, head, 5);
    mr_buf_add(&b, pay.data, pay.len);
    mr_buf_add(&b, "pppp", 4);
    struct mr_ssh_offer o = { 0 };
    for (size_t cut = 0; cut < b.len; cut++)
        ck_assert_int_eq(mr_ssh_offer_parse(b.data, cut, &o), -EAGAIN);
    ck_assert_int_eq(mr_ssh_offer_parse(b.data, b.len, &o), 0);
    ck_assert_str_eq(o.kex, "kexA,kexB");
    ck_assert_str_eq(o.hostkey, "ssh-rsa");
    ck_assert_str_eq(o.cipher, "aes128-ctr");
    ck_assert_str_eq(o.mac, "hmac-sha1");
    mr_ssh_offer_release(&o);
    /* Not a KEXINIT. */
    b.data[strlen("hello\r\nworld\nSSH-2.0-Test\r\n") + 5] = 21;
    ck_assert_int_eq(mr_ssh_offer_parse(b.data, b.len, &o), -EPROTO);
    mr_buf_release(&b);
    mr_buf_release(&pay);
    ck_assert(mr_ssh_names_meet("a,bc,d", "x,bc"));
    ck_assert(!mr_ssh_names_meet("a,bc,d", "b,c,abc"));
    ck_assert(!mr_ssh_names_meet("", "a"));
}
END_TEST

/* target.tty: each command on a pseudo-terminal (sudo's requiretty needs one); without it
 * there is none. */
START_TEST(test_ssh_exec_on_a_terminal_when_asked)
{
    for (int tty = 0; tty <= 1; tty++) {
        struct mr_transport_target target = {
            .host = "127.0.0.1", .port = g_sshd_port, .user = g_user, .key = &g_client,
            .pinned_host = &g_hostkey, .tty = tty,
        };
        struct mr_err e = { 0 };
        struct mr_ssh *s = NULL;
        ck_assert_msg(mr_ssh_connect(&target, mr_now_ms() + 20000, &s, &e) == 0, "%s",
                      mr_err_msg(&e));
        struct mr_exec x;
        mr_exec_init(&x);
        ck_assert_int_eq(mr_ssh_exec(s, "tty; r=$?; echo to-stderr >&2; exit $r", 20000, &x, &e), 0);
        char *out = mr_xstrndup(x.out.data ? x.out.data : "", x.out.len);
        if (tty) {
            ck_assert_msg(x.exit_status == 0 && strncmp(out, "/dev/", 5) == 0, "%d: %s",
                          x.exit_status, out);
            ck_assert_ptr_nonnull(strstr(out, "to-stderr")); /* one stream on a terminal */
            ck_assert_msg(!strchr(out, '\r'), "the terminal made \\n into \\r\\n: %s", out);
        } else {
            ck_assert_msg(x.exit_status == 1 && strstr(out, "not a tty"), "%d: %s",
                          x.exit_status, out);
        }
        free(out);
        mr_exec_release(&x);
        mr_ssh_free(s);
        mr_err_release(&e);
    }
}
END_TEST

/* A guest that never answers gets the whole budget: the last wait ends at the deadline
 * and a last attempt is made there (the waits double up to 2 s; stopping when the next
 * wait would pass the deadline gave up to 2 s early: a 25 s boot timeout ended at 23 s). */
/* The give_up callback, asked after each failed attempt, ends the connect at once. */
static int give_up_calls;
static int give_up_second_time(void *ctx, struct mr_err *err)
{
    (void)ctx;
    if (++give_up_calls < 2)
        return 0;
    mr_err_set(err, "the guest said it will never answer");
    return -ECANCELED;
}

START_TEST(test_transport_ssh_gives_up_when_the_callback_says)
{
    struct dialer d = { .fail = -ECONNREFUSED };
    struct mr_transport_target target = {
        .host = DIALED_GUEST, .port = 22, .user = g_user, .key = &g_client,
        .pinned_host = &g_hostkey, .dial = test_dial, .dial_ctx = &d,
        .give_up = give_up_second_time,
    };
    struct mr_transport *tr = NULL;
    struct mr_err e = { 0 };
    give_up_calls = 0;
    int64_t t0 = mr_now_ms();
    ck_assert_int_eq(mr_transport_connect(&mr_ssh_transport, &target, t0 + 60000, &tr, &e),
                     -ECANCELED);
    ck_assert_msg(mr_now_ms() - t0 < 10000, "gave up only after %lld ms",
                  (long long)(mr_now_ms() - t0));
    ck_assert_int_eq(d.calls, 2);
    ck_assert_int_eq(give_up_calls, 2);
    ck_assert_str_eq(mr_err_msg(&e), "the guest said it will never answer");
    ck_assert_ptr_null(tr);
    mr_err_release(&e);
}
END_TEST

/* A connection that shows no banner is not waited out alone: a second is made a second
 * later beside it, and the first to show a banner is used (a guest whose network came up
 * after the first connection was made is then seen at once, not after BANNER_WAIT_MS and
 * a backoff; with one connection at a time this took over 3 s). */
START_TEST(test_transport_ssh_redials_beside_a_silent_connection)
{
    struct dialer d = { .silent = 1 };
    struct mr_transport *tr = NULL;
    int64_t t0 = mr_now_ms();
    int r = connect_dialing(&d, 20000, &tr);
    int64_t took = mr_now_ms() - t0;
    ck_assert_msg(r == 0, "%d: %s", r, msg);
    ck_assert_int_eq(d.calls, 2);
    ck_assert_msg(took < 2500, "logged in after %lld ms", (long long)took);
    mr_transport_close(tr);
    close(d.mute[0]);
}
END_TEST

START_TEST(test_transport_ssh_retries_until_the_deadline_itself)
{
    struct dialer d = { .fail = -ECONNREFUSED };
    struct mr_transport *tr = NULL;
    int64_t t0 = mr_now_ms();
    ck_assert_int_eq(connect_dialing(&d, 3000, &tr), -ETIMEDOUT);
    int64_t took = mr_now_ms() - t0;
    ck_assert_msg(took >= 3000, "gave up after %lld ms of a 3000 ms budget", (long long)took);
    ck_assert_int_ge(d.calls, 5); /* at 0, 0.25, 0.75, 1.75 s, and at the deadline */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ssh");
    TCase *te = sshd_tcase("exec");
    tcase_add_checked_fixture(te, exec_setup, exec_teardown);
    tcase_add_test(te, test_ssh_exec_reports_status_and_output);
    tcase_add_test(te, test_ssh_exec_on_a_terminal_when_asked);
    tcase_add_test(te, test_ssh_exec_reports_a_signal);
    tcase_add_test(te, test_ssh_exec_waits_past_end_of_file_for_the_status);
    tcase_add_test(te, test_ssh_exec_times_out_after_end_of_file);
    tcase_add_test(te, test_ssh_exec_interrupt_ends_the_wait_after_end_of_file);
    tcase_add_test(te, test_ssh_exec_channel_closed_without_status_is_an_error);
    tcase_add_test(te, test_ssh_exec_connection_lost_after_end_of_file_is_an_error);
    suite_add_tcase(s, te);
    TCase *to = sshd_tcase("output");
    tcase_add_checked_fixture(to, exec_setup, exec_teardown);
    tcase_add_test(to, test_ssh_exec_keeps_output_up_to_the_cap);
    tcase_add_test(to, test_ssh_exec_keeps_stdout_up_to_the_callers_cap);
    suite_add_tcase(s, to);
    TCase *tt = sshd_tcase("transport");
    tcase_add_checked_fixture(tt, exec_setup, exec_teardown);
    tcase_add_test(tt, test_transport_ssh_dials_runs_and_uploads);
    tcase_add_test(tt, test_transport_ssh_gives_up_or_retries_as_the_dial_says);
    tcase_add_test(tt, test_transport_ssh_retries_until_the_deadline_itself);
    tcase_add_test(tt, test_transport_ssh_redials_beside_a_silent_connection);
    tcase_add_test(tt, test_transport_ssh_gives_up_when_the_callback_says);
    suite_add_tcase(s, tt);
    TCase *ta = sshd_tcase("algorithms");
    tcase_add_test(ta, test_ssh_reports_what_the_server_negotiated);
    tcase_add_test(ta, test_ssh_pinned_rsa_key_logs_in_to_an_rsa_only_server);
    tcase_add_test(ta, test_ssh_pinned_ed25519_on_an_rsa_only_server_names_the_types);
    tcase_add_test(ta, test_ssh_kex_failure_names_the_cipher);
    tcase_add_test(ta, test_ssh_offer_parse_reads_a_kexinit);
    tcase_add_test(ta, test_ssh_rsa_user_key_is_3072_bit_pem_and_logs_in);
    tcase_add_test(ta, test_ssh_refused_key_is_final_for_a_pre_provisioned_login);
    suite_add_tcase(s, ta);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
