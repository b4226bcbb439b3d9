/* sshd_fixture.c: starts and stops the OpenSSH server the SSH-speaking suites test against. */
#define _GNU_SOURCE
#include "sshd_fixture.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest.h"

#define SSHD "/usr/sbin/sshd"

char g_dir[64];
char g_user[256];
int g_sshd_port;
int g_sshd_port_idle_close;
pid_t g_sshd_pid;
pid_t g_sshd_idle_close_pid;
struct mr_sshkey g_client;
struct mr_sshkey g_hostkey;
char g_fp[128];
char g_known[128];

void run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = mr_xvasprintf(fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st != 0) {
        fprintf(stderr, "sshd fixture: '%s' failed (%d)\n", cmd, st);
        abort();
    }
    free(cmd);
}

char *path_in(const char *name)
{
    return mr_xasprintf("%s/%s", g_dir, name);
}

void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void make_keys(void)
{
    run("ssh-keygen -q -t ed25519 -N '' -C mr-host -f %s/host_ed25519", g_dir);
    run("ssh-keygen -q -t ecdsa -N '' -C mr-host -f %s/host_ecdsa", g_dir);
    run("ssh-keygen -q -t ed25519 -N '' -C stranger -f %s/stranger", g_dir);
    char kd[128];
    snprintf(kd, sizeof(kd), "%s/client", g_dir);
    struct mr_err e = { 0 };
    _cleanup_free_ char *hostpub = path_in("host_ed25519.pub");
    if (mr_sshkey_generate(&g_client, kd, MR_KEYTYPE_ED25519, "mr-tunnel-test", &e) < 0 ||
        mr_sshkey_load_public(&g_hostkey, hostpub, &e) < 0) {
        fprintf(stderr, "sshd fixture: %s\n", mr_err_msg(&e));
        abort();
    }
    run("cp %s.pub %s/authorized_keys", g_client.priv_path, g_dir);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "ssh-keygen -l -E sha256 -f %s/host_ed25519.pub", g_dir);
    FILE *f = popen(cmd, "r");
    if (!f || fscanf(f, "%*d %127s", g_fp) != 1)
        abort();
    pclose(f);
}

/* hostkeys: the HostKey lines, NULL for the fixture's ed25519 and ECDSA keys. */
static void write_config(const char *conf, int port, const char *hostkeys, const char *extra)
{
    _cleanup_free_ char *dflt = mr_xasprintf("HostKey %s/host_ed25519\nHostKey %s/host_ecdsa\n",
                                             g_dir, g_dir);
    _cleanup_free_ char *text = mr_xasprintf(
        "ListenAddress 127.0.0.1:%d\n"
        "%s"
        "AuthorizedKeysFile %s/authorized_keys\n"
        "PidFile none\n"
        "StrictModes no\n"
        "UsePAM no\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\n"
        "AllowTcpForwarding yes\n"
        "MaxStartups 100\n"
        "Subsystem sftp internal-sftp\n"
        "LogLevel VERBOSE\n"
        "%s",
        port, hostkeys ? hostkeys : dflt, g_dir, extra);
    write_file(conf, text);
}

/* Starts an sshd on port with the fixture's keys; returns once it answers with its
 * banner. */
static pid_t start_one(int port, const char *name, const char *hostkeys, const char *extra)
{
    _cleanup_free_ char *cf = mr_xasprintf("%s.conf", name);
    _cleanup_free_ char *lf = mr_xasprintf("%s.log", name);
    _cleanup_free_ char *conf = path_in(cf);
    _cleanup_free_ char *log = path_in(lf);
    write_config(conf, port, hostkeys, extra);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        dup2(fd, 1);
        execl(SSHD, SSHD, "-D", "-e", "-f", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        char b[8];
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && recv(fd, b, 4, 0) == 4;
        close(fd);
        if (ok)
            break;
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            run("cat %s >&2", log);
            fprintf(stderr, "sshd fixture: sshd exited\n");
            abort();
        }
        usleep(50000);
    }
    return pid;
}

void sshd_start(void)
{
    strcpy(g_dir, "/tmp/mr-sshd-XXXXXX");
    if (!mkdtemp(g_dir))
        abort();
    struct passwd *pw = getpwuid(geteuid());
    snprintf(g_user, sizeof(g_user), "%s", pw ? pw->pw_name : "root");
    if (access(SSHD, X_OK) != 0) {
        fprintf(stderr, "sshd fixture: %s is missing: install openssh-server (setup.sh does)\n",
                SSHD);
        abort();
    }
    /* Started as root, sshd refuses to run without its privilege separation folder. */
    if (geteuid() == 0 && mkdir("/run/sshd", 0755) < 0 && errno != EEXIST) {
        fprintf(stderr, "sshd fixture: cannot create /run/sshd: %s\n", strerror(errno));
        abort();
    }
    make_keys();
    g_sshd_port = mr_guest_free_port();
    g_sshd_pid = start_one(g_sshd_port, "sshd", NULL, "");
    /* A server of its own: OpenSSH 9.2 does not apply ChannelTimeout from a Match block. */
    g_sshd_port_idle_close = mr_guest_free_port();
    g_sshd_idle_close_pid = start_one(g_sshd_port_idle_close, "sshd-idle-close", NULL,
                                      "ChannelTimeout session:command=2s\n");
    snprintf(g_known, sizeof(g_known), "%s/known_hosts", g_dir);
    _cleanup_free_ char *line =
        mr_xasprintf("[127.0.0.1]:%d %s\n", g_sshd_port, g_hostkey.pub_line);
    write_file(g_known, line);
}

void sshd_stop(void)
{
    pid_t *pids[] = { &g_sshd_pid, &g_sshd_idle_close_pid };
    for (size_t i = 0; i < MR_ARRAY_SIZE(pids); i++) {
        if (*pids[i] > 0) {
            kill(*pids[i], SIGTERM);
            waitpid(*pids[i], NULL, 0);
            *pids[i] = 0;
        }
    }
    mr_sshkey_release(&g_client);
    mr_sshkey_release(&g_hostkey);
    (void)mr_rm_rf(g_dir);
}

pid_t sshd_start_other(const char *name, const char *hostkeys, const char *extra, int *ret_port)
{
    *ret_port = mr_guest_free_port();
    return start_one(*ret_port, name, hostkeys, extra);
}

void sshd_stop_other(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

TCase *sshd_tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_unchecked_fixture(tc, sshd_start, sshd_stop);
    tcase_set_timeout(tc, 120);
    return tc;
}

int sshd_kill_sessions(void)
{
    char path[64], buf[4096] = "";
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)g_sshd_pid, (int)g_sshd_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    int killed = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        if (kill((pid_t)atoi(tok), SIGKILL) == 0)
            killed++;
    }
    return killed;
}
