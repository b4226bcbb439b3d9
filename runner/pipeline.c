/* pipeline.c: the per-cell pipeline (overlay, guest, SSH, install, tests, teardown) and
 * the run around it (run id, work folder, key pair, report). */
#define _GNU_SOURCE
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "archive_io.h"
#include "cpubench.h"
#include "family.h"
#include "guest.h"
#include "hostprobe.h"
#include "leftover.h"
#include "remote_store.h"
#include "seed.h"
#include "ssh.h"
#include "tunnel.h"

/* Output of a failed boot carries this much of the end of the serial console. */
#define SERIAL_TAIL_BYTES 8192

/* What QEMU itself needs beside the guest's memory, counted against the host's. */
#define GUEST_OVERHEAD_MIB 128
/* How long a dropped SSH connection may take to come back. */
#define RECONNECT_TIMEOUT_S 60

/* A libvirt host and what the run has placed on it. */
struct host {
    const char *uri;
    virConnectPtr conn;
    struct mr_tunnel *tunnel; /* remote hosts: guests are reached through it */
    virStoragePoolPtr pool;   /* remote hosts: cells' overlays, seeds, serial logs */
    char *hostname;
    enum mr_accel accel;
    unsigned cpus;        /* the host's CPUs */
    long cpu_budget;      /* vCPUs the run may use there */
    long mem_budget_mib;  /* memory the run may use there */
    long cpu_used, mem_used_mib;
    unsigned running;
};

struct run {
    const struct mr_matrix *m;
    const struct mr_run_opts *o;
    struct host *hosts;
    size_t n_hosts;
    char *run_id;
    char *workdir;
    char *outdir_abs;
    struct mr_sshkey key;
    struct mr_report *report;
    int64_t stagger_ms;
    /* Guarded by lock: placement, ports handed out, the next boot slot. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned running;
    int *ports;
    size_t n_ports;
    int64_t next_boot_ms;
};

/* A cell's place in the run: its thread and the report its attempts go into. */
struct slot {
    struct run *run;
    const struct mr_cell *cell;
    struct host *host;
    struct mr_report *rep;
    pthread_t thread;
    int started;
    long cpu, mem_mib; /* reserved on host */
};

static void progress(struct run *run, enum mr_progress_kind kind, const char *cell,
                     const char *fmt, ...) MR_PRINTF(4, 5);
static void progress(struct run *run, enum mr_progress_kind kind, const char *cell,
                     const char *fmt, ...)
{
    if (!run->o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = mr_xvasprintf(fmt, ap);
    va_end(ap);
    run->o->progress(run->o->progress_ud, kind, cell, msg);
}

static char *make_run_id(void)
{
    time_t t = time(NULL);
    struct tm tm;
    char ts[32];
    localtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
    unsigned rnd = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read(fd, &rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
            rnd = (unsigned)getpid();
        close(fd);
    }
    return mr_xasprintf("%s-%04x", ts, rnd & 0xffff);
}

static char *abs_path(const char *p)
{
    if (p[0] == '/')
        return mr_xstrdup(p);
    char cwd[4096];
    if (!getcwd(cwd, sizeof(cwd)))
        return mr_xstrdup(p);
    return mr_xasprintf("%s/%s", cwd, p);
}

static char *serial_tail(const char *path)
{
    _cleanup_free_ char *data = NULL;
    size_t len;
    if (mr_file_read(path, &data, &len) < 0)
        return mr_xasprintf("(no serial console log at '%s')", path);
    size_t from = len > SERIAL_TAIL_BYTES ? len - SERIAL_TAIL_BYTES : 0;
    return mr_xasprintf("last %zu bytes of the serial console (%s):\n%s", len - from, path,
                        data + from);
}

/* Marks every case from index i on as skipped because of why. */
static void skip_rest(struct mr_suite *s, size_t i, const char *why)
{
    for (; i < s->n_cases; i++)
        if (s->cases[i]->verdict == MR_VERDICT_PASS)
            mr_case_set(s->cases[i], MR_VERDICT_SKIP, NULL, "not run: %s", why);
}

static double secs_since(int64_t t0)
{
    return (double)(mr_now_ms() - t0) / 1000.0;
}

/* Sets an error verdict on c from a step's return code, naming timeouts. */
static void step_error(struct mr_case *c, int r, const char *step, const struct mr_err *e)
{
    const char *type = r == -ETIMEDOUT ? "timeout" : r == -EINTR ? "interrupted" : "infrastructure";
    mr_case_set(c, MR_VERDICT_ERROR, type, "%s: %s", step, mr_err_msg(e));
}

static void exec_output(struct mr_case *c, const struct mr_exec *x)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_add(&b, x->out.data ? x->out.data : "", x->out.len);
    if (x->out_dropped)
        mr_buf_addf(&b, "\n[matrixrun: %zu more bytes of stdout not kept]\n", x->out_dropped);
    mr_case_set_out(c, b.data, b.len);
    mr_buf_release(&b);
    if (x->err.len || x->err_dropped) {
        mr_buf_add(&b, x->err.data ? x->err.data : "", x->err.len);
        if (x->err_dropped)
            mr_buf_addf(&b, "\n[matrixrun: %zu more bytes of stderr not kept]\n", x->err_dropped);
        mr_case_set_err(c, b.data, b.len);
        mr_buf_release(&b);
    }
}

/* One cell's state from preparation to teardown. */
struct cell {
    struct run *run;
    struct host *host;
    const struct mr_cell *cell;
    const struct mr_image *img;
    const struct mr_family *fam;
    const char *name;
    struct mr_suite *s;
    char *celldir;
    char *serial;
    char *seed_iso;        /* NULL for images with a baked host key */
    struct mr_sshkey hostkey;
    struct mr_ssh *ssh;
    struct mr_ssh_target target; /* how to reach the guest again */
    int64_t deadline_ms;   /* the cell's time limit (INT64_MAX: none) */
    int deadline_hit;      /* a step was cut short by it */
    unsigned reconnects;
    char *install_out;     /* the package manager's output, for the archive */
    size_t install_out_len;
    struct mr_archive_member *files; /* collected logs (data owned here) */
    size_t n_files;
    struct mr_buf manifest;
};

/* Runs cmd in the guest through the family's shell, within the cell's time limit. */
static int cell_exec(struct cell *cl, const char *cmd, int64_t timeout_ms, struct mr_exec *x,
                     struct mr_err *e)
{
    if (!cl->ssh) {
        mr_err_set(e, "no SSH connection to the guest");
        return -EIO;
    }
    int64_t left = cl->deadline_ms == INT64_MAX ? INT64_MAX : cl->deadline_ms - mr_now_ms();
    int clamped = left < timeout_ms;
    if (clamped)
        timeout_ms = left;
    _cleanup_free_ char *wrapped = mr_family_wrap(cl->fam, cmd);
    int r = mr_ssh_exec(cl->ssh, wrapped, timeout_ms > 0 ? timeout_ms : 1, x, e);
    if (r == -ETIMEDOUT && clamped) {
        cl->deadline_hit = 1;
        mr_err_set(e, "the cell's time limit of %u s (matrix cell-timeout) ran out",
                   cl->run->m->cell_timeout_s);
    }
    return r;
}

/* Opens a new SSH connection after the old one dropped, within RECONNECT_TIMEOUT_S and
 * the cell's time limit. */
static int cell_reconnect(struct cell *cl, struct mr_err *e)
{
    mr_ssh_free(cl->ssh);
    cl->ssh = NULL;
    int64_t deadline = mr_now_ms() + RECONNECT_TIMEOUT_S * 1000;
    if (deadline > cl->deadline_ms)
        deadline = cl->deadline_ms;
    progress(cl->run, MR_PROGRESS_STEP, cl->name, "reconnecting SSH");
    unsigned reopens = cl->target.via ? mr_tunnel_reopens(cl->target.via) : 0;
    int r = mr_ssh_connect(&cl->target, deadline, &cl->ssh, e);
    if (r == 0)
        cl->reconnects++;
    /* A remote host's tunnel that had died too was opened again by the dial. */
    if (cl->target.via && mr_tunnel_reopens(cl->target.via) != reopens)
        progress(cl->run, MR_PROGRESS_NOTE, cl->name, "the SSH tunnel to %s was lost and opened again",
                 mr_tunnel_name(cl->target.via));
    return r;
}

static char *cell_expand(struct cell *cl, const char *tmpl, const char *artifact)
{
    struct mr_family_vars v = { .artifact = artifact, .package = cl->run->m->pkg_name,
                                .user = cl->img->user };
    return mr_family_expand(cl->fam, tmpl, &v);
}

static char *random_mac(void)
{
    unsigned char b[3];
    mr_random(b, sizeof(b));
    return mr_xasprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
}

/* A password for a Windows account the seed must create; logins use the key only. */
static char *random_password(void)
{
    static const char set[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char b[24];
    mr_random(b, sizeof(b));
    char pw[sizeof(b) + 5];
    for (size_t i = 0; i < sizeof(b); i++)
        pw[i] = set[b[i] % (sizeof(set) - 1)];
    /* Windows' default complexity rule wants three character classes. */
    memcpy(pw + sizeof(b), "#a7Q", 5);
    return mr_xstrdup(pw);
}

/* A host name from the cell name: letters, digits and '-', at most 63 characters. */
static char *host_name(const char *cell)
{
    char *h = mr_xstrndup(cell, strnlen(cell, 63));
    for (char *p = h; *p; p++) {
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
        else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            *p = '-';
    }
    return h;
}

/* Makes the guest's host key and its NoCloud seed. The private key exists on disk only
 * inside the seed image, which goes with the cell. */
static int cell_make_seed(struct cell *cl, const char *mac, struct mr_err *e)
{
    struct run *run = cl->run;
    _cleanup_free_ char *keydir = mr_xasprintf("%s/%s.hostkey", run->workdir, cl->name);
    _cleanup_free_ char *comment = mr_xasprintf("matrixrun-host-%s", cl->name);
    _cleanup_free_ char *priv = NULL;
    _cleanup_free_ char *extra = NULL;
    _cleanup_free_ char *password = NULL;
    _cleanup_free_ char *instance = mr_xasprintf("mr-%s-%s", run->run_id, cl->name);
    _cleanup_free_ char *hostname = host_name(cl->name);
    struct mr_seed_files f = { 0 };
    size_t len;
    int r = mr_sshkey_generate(&cl->hostkey, keydir, comment, e);
    if (r < 0)
        goto out;
    if ((r = mr_file_read(cl->hostkey.priv_path, &priv, &len)) < 0) {
        mr_err_set(e, "cannot read the guest's new host key: %s", strerror(-r));
        goto out;
    }
    if (cl->img->cloud_config && (r = mr_file_read(cl->img->cloud_config, &extra, &len)) < 0) {
        mr_err_set(e, "cannot read '%s': %s", cl->img->cloud_config, strerror(-r));
        goto out;
    }
    if (cl->fam->seed == MR_SEED_CLOUDBASE_INIT)
        password = random_password();
    struct mr_seed_spec spec = {
        .kind = cl->fam->seed, .instance_id = instance, .hostname = hostname,
        .user = cl->img->user, .user_pubkey = run->key.pub_line, .host_privkey = priv,
        .host_pubkey = cl->hostkey.pub_line, .mac = mac, .extra_cloud_config = extra,
        .windows_password = password,
    };
    if ((r = mr_seed_render(&spec, &f, e)) < 0)
        goto out;
    cl->seed_iso = mr_xasprintf("%s/%s-seed.iso", run->workdir, cl->name);
    r = mr_seed_write_iso(cl->seed_iso, &f, e);
out:
    mr_seed_files_release(&f);
    if (priv)
        explicit_bzero(priv, strlen(priv));
    if (password)
        explicit_bzero(password, strlen(password));
    (void)mr_rm_rf(keydir);
    free(cl->hostkey.priv_path);
    cl->hostkey.priv_path = NULL;
    return r;
}

/* Keeps a collected log for the archive, taking over the buffer that holds it. */
static void add_file(struct cell *cl, const char *name, struct mr_buf *data)
{
    cl->files = mr_xrealloc(cl->files, (cl->n_files + 1) * sizeof(*cl->files));
    size_t len;
    char *owned = mr_buf_detach(data, &len);
    cl->files[cl->n_files++] = (struct mr_archive_member){ .name = mr_xstrdup(name),
                                                            .data = owned, .len = len };
}

/* A log's line in the manifest: its size, or how its command ended (signal: the name
 * SSH gave, NULL when it exited) with the first line of its error text. */
static void manifest_line(struct cell *cl, const char *name, const char *signal, int status,
                          size_t out_len, size_t dropped, const char *err, size_t err_len)
{
    if (signal)
        mr_buf_addf(&cl->manifest, "%-28s command killed by signal %s\n", name, signal);
    else if (status != 0)
        mr_buf_addf(&cl->manifest, "%-28s command exited with status %d%s\n", name, status,
                    status > 128 && status < 160 ? " (killed by a signal)" : "");
    else
        mr_buf_addf(&cl->manifest, "%-28s %zu bytes%s\n", name, out_len,
                    dropped ? " (cut at the output cap)" : "");
    const char *nl = err_len ? memchr(err, '\n', err_len) : NULL;
    if ((signal || status != 0) && err_len)
        mr_buf_addf(&cl->manifest, "%-28s   %.*s\n", "", (int)(nl ? (size_t)(nl - err) : err_len),
                    err);
}

/* The family's log commands one SSH exec each: PowerShell families, and the fallback. */
static void collect_logs_each(struct cell *cl)
{
    int reconnected = 0;
    for (size_t i = 0; i < cl->fam->n_logs && !mr_interrupted; i++) {
        const struct mr_family_log *l = &cl->fam->logs[i];
        _cleanup_free_ char *cmd = cell_expand(cl, l->command, NULL);
        _cleanup_free_ char *name = mr_xasprintf("logs/%s", l->name);
        struct mr_err e = { 0 };
        struct mr_exec x;
        mr_exec_init(&x);
        int r = cell_exec(cl, cmd, 60000, &x, &e);
        if (r < 0)
            mr_buf_addf(&cl->manifest, "%-28s not collected: %s\n", name, mr_err_msg(&e));
        else
            manifest_line(cl, name, x.exit_signal, x.exit_status, x.out.len, x.out_dropped,
                          x.err.data, x.err.len);
        if (r == 0 && x.out.len)
            add_file(cl, name, &x.out);
        mr_exec_release(&x);
        mr_err_release(&e);
        /* A dropped connection gets one new one; the log that failed is not asked again. */
        if (r == -EIO && (reconnected++ || cell_reconnect(cl, &e) < 0)) {
            mr_err_release(&e);
            break;
        }
        if (cl->deadline_hit)
            break;
    }
}

/* The guest's kernel release as the report's guest.kernel. */
static void set_guest_kernel(struct cell *cl, const char *s, size_t len)
{
    size_t n = 0;
    while (n < len && n < 200 && s[n] != '\r' && s[n] != '\n' && s[n] != '\0')
        n++;
    if (n == 0)
        return;
    _cleanup_free_ char *k = mr_xstrndup(s, n);
    mr_suite_set_prop(cl->s, "guest.kernel", k);
}

/* Asks the guest for its kernel in an exec of its own (the POSIX families' batched log
 * script asks it along with the logs). */
static void query_guest_kernel(struct cell *cl)
{
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    const char *kq = cl->fam->shell == MR_SHELL_POWERSHELL
                         ? "(Get-CimInstance Win32_OperatingSystem).Version"
                         : "uname -r";
    if (cell_exec(cl, kq, 30000, &x, &e) == 0 && x.exit_status == 0 && x.out.len)
        set_guest_kernel(cl, x.out.data, x.out.len);
    mr_exec_release(&x);
    mr_err_release(&e);
}

/* The family's log commands, and the kernel release for the report, in one SSH exec
 * (mr_family_logs_script): an exec costs a TCG guest about 0.08 s before its command
 * does anything, so seven of them would cost about 0.56 s for a Debian guest. Returns 0,
 * or -1 when the script could not do it (another shell, a dropped connection, a log too
 * large for the exec's cap): the caller then asks each command alone. */
static int collect_logs_batched(struct cell *cl)
{
    size_t nl = cl->fam->n_logs, n = nl + 1;
    char **cmds = mr_xcalloc(n, sizeof(*cmds));
    for (size_t i = 0; i < nl; i++)
        cmds[i] = cell_expand(cl, cl->fam->logs[i].command, NULL);
    /* uname -r without a process: each costs about 10 ms of a TCG guest's time. */
    cmds[nl] = mr_xstrdup("read -r k </proc/sys/kernel/osrelease && printf '%s\\n' \"$k\"");
    unsigned char rnd[16];
    char nonce[2 * sizeof(rnd) + 1];
    mr_random(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    _cleanup_free_ char *script = mr_family_logs_script((const char *const *)cmds, n, nonce);
    for (size_t i = 0; i < n; i++)
        free(cmds[i]);
    free(cmds);
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    x.out_cap = n * (MR_SSH_OUTPUT_CAP + 128);
    int r = cell_exec(cl, script, 60000 * (int64_t)n, &x, &e);
    _cleanup_free_ struct mr_family_log_result *res = mr_xcalloc(n, sizeof(*res));
    if (r == 0 &&
        (x.exit_signal || x.exit_status != 0 || x.out_dropped ||
         mr_family_logs_parse(x.out.data ? x.out.data : "", x.out.len,
                              x.err.data ? x.err.data : "", x.err.len, nonce, n,
                              MR_SSH_OUTPUT_CAP, res) < 0))
        r = -EPROTO;
    if (r == 0) {
        for (size_t i = 0; i < nl; i++) {
            _cleanup_free_ char *name = mr_xasprintf("logs/%s", cl->fam->logs[i].name);
            manifest_line(cl, name, NULL, res[i].status, res[i].out_len, res[i].out_dropped,
                          res[i].err, res[i].err_len);
            if (res[i].out_len) {
                struct mr_buf b;
                mr_buf_init(&b);
                mr_buf_add(&b, res[i].out, res[i].out_len);
                add_file(cl, name, &b);
            }
        }
        if (res[nl].status == 0)
            set_guest_kernel(cl, res[nl].out, res[nl].out_len);
    } else if (r == -ETIMEDOUT) {
        r = 0; /* the time they had is gone: asking again one by one would not help */
        mr_buf_addf(&cl->manifest, "logs not collected: %s\n", mr_err_msg(&e));
    } else if (r == -EIO && cell_reconnect(cl, &e) < 0) {
        r = 0; /* no connection: the one-by-one fallback could not do better */
        mr_buf_addf(&cl->manifest, "logs not collected: the SSH connection dropped: %s\n",
                    mr_err_msg(&e));
    }
    mr_exec_release(&x);
    mr_err_release(&e);
    return r == 0 ? 0 : -1;
}

/* Pulls the family's logs out of the guest. A log that cannot be read is noted in the
 * manifest and does not change any verdict. */
static void collect_logs(struct cell *cl)
{
    if (!cl->ssh)
        return;
    progress(cl->run, MR_PROGRESS_STEP, cl->name, "collecting logs");
    /* Logs matter most when the cell ran out of time: they get a minute of their own. */
    if (cl->deadline_ms - mr_now_ms() < 60000) {
        cl->deadline_ms = mr_now_ms() + 60000;
        cl->deadline_hit = 0;
    }
    if (cl->fam->shell == MR_SHELL_POWERSHELL || collect_logs_batched(cl) < 0) {
        if (cl->deadline_hit || mr_interrupted)
            return;
        collect_logs_each(cl);
        if (cl->fam->shell != MR_SHELL_POWERSHELL && cl->ssh && !cl->deadline_hit)
            query_guest_kernel(cl);
    }
}

/* Writes the cell's artifacts archive (serial log, install output, collected logs, a
 * manifest) and names it in the suite's system-out as an attachment. */
static void write_artifacts(struct cell *cl)
{
    _cleanup_free_ char *path = mr_xasprintf("%s/artifacts.tar.gz", cl->celldir);
    size_t n = 0;
    struct mr_archive_member *m = mr_xcalloc(cl->n_files + 3, sizeof(*m));
    if (mr_file_exists(cl->serial))
        m[n++] = (struct mr_archive_member){ .name = "serial.log", .src_path = cl->serial };
    else
        mr_buf_addf(&cl->manifest, "%-28s not written by the guest\n", "serial.log");
    if (cl->install_out)
        m[n++] = (struct mr_archive_member){ .name = "install.txt", .data = cl->install_out,
                                              .len = cl->install_out_len };
    for (size_t i = 0; i < cl->n_files; i++)
        m[n++] = cl->files[i];
    m[n++] = (struct mr_archive_member){ .name = "MANIFEST.txt", .data = cl->manifest.data,
                                          .len = cl->manifest.len };
    struct mr_err e = { 0 };
    if (mr_archive_write_targz(path, m, n, &e) == 0) {
        _cleanup_free_ char *line = mr_xasprintf("[[ATTACHMENT|%s]]\n", path);
        mr_suite_add_out(cl->s, line);
    } else {
        _cleanup_free_ char *line =
            mr_xasprintf("matrixrun: the cell's artifacts could not be archived: %s\n",
                         mr_err_msg(&e));
        mr_suite_add_out(cl->s, line);
        progress(cl->run, MR_PROGRESS_NOTE, cl->name, "WARNING %s", line);
    }
    mr_err_release(&e);
    free(m);
}

static int do_install(struct cell *cl, struct mr_case *c)
{
    struct run *run = cl->run;
    const struct mr_artifact *a = mr_matrix_artifact(run->m, cl->img->family);
    const char *want = mr_matrix_expected_version(run->m, a);
    const char *tmpl = mr_family_install_template(cl->fam, cl->img->os_version);
    _cleanup_free_ char *remote = mr_family_remote_path(cl->fam, a->path);
    _cleanup_free_ char *sftp = mr_family_sftp_path(cl->fam, remote);
    _cleanup_free_ char *cmd = cell_expand(cl, tmpl, remote);
    _cleanup_free_ char *vcmd = cell_expand(cl, cl->fam->version_cmd, remote);
    _cleanup_free_ char *got = NULL;
    int64_t t0 = mr_now_ms();
    int64_t budget = (int64_t)run->m->install_timeout_s * 1000;
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int r = mr_ssh_upload(cl->ssh, a->path, sftp, 0644, budget, &e);
    if (r < 0) {
        step_error(c, r, "upload", &e);
        goto out;
    }
    r = cell_exec(cl, cmd, budget - (mr_now_ms() - t0), &x, &e);
    exec_output(c, &x);
    cl->install_out = mr_xasprintf("$ %s\n%.*s%s%.*s", cmd, (int)x.out.len,
                                   x.out.data ? x.out.data : "", x.err.len ? "\n[stderr]\n" : "",
                                   (int)x.err.len, x.err.data ? x.err.data : "");
    cl->install_out_len = strlen(cl->install_out);
    if (r < 0) {
        step_error(c, r, "install", &e);
        goto out;
    }
    if (x.exit_signal || x.exit_status != 0) {
        r = -EIO;
        if (x.exit_signal)
            mr_case_set(c, MR_VERDICT_ERROR, "install", "install: '%s' was killed by signal %s",
                        cmd, x.exit_signal);
        else
            mr_case_set(c, MR_VERDICT_ERROR, "install", "install: '%s' exited with status %d",
                        cmd, x.exit_status);
        goto out;
    }
    mr_exec_release(&x);
    mr_exec_init(&x);
    r = cell_exec(cl, vcmd, budget - (mr_now_ms() - t0), &x, &e);
    if (r < 0) {
        step_error(c, r, "version check", &e);
        goto out;
    }
    got = mr_xstrndup(x.out.data ? x.out.data : "", x.out.len);
    got[strcspn(got, "\r\n")] = '\0';
    if (x.exit_signal || x.exit_status != 0 || strcmp(got, want) != 0) {
        r = -EIO;
        mr_case_set(c, MR_VERDICT_ERROR, "version",
                    "install: package '%s' reports version '%s' after install, the matrix "
                    "expects '%s' (asked with '%s', exit status %d)",
                    run->m->pkg_name, got, want, vcmd, x.exit_status);
        goto out;
    }
    r = 0;
out:
    c->time_s = secs_since(t0);
    mr_exec_release(&x);
    mr_err_release(&e);
    return r;
}

/* The environment a test command sees: MATRIXRUN_CELL and the cell's axis variables,
 * set by the family's shell in front of the command. */
static char *cell_env_prefix(const struct cell *cl)
{
    struct mr_buf b;
    mr_buf_init(&b);
    enum mr_shell sh = cl->fam->shell;
    for (size_t i = 0; i <= cl->cell->n_env; i++) {
        const char *name = i ? cl->cell->env[i - 1].name : "MATRIXRUN_CELL";
        const char *value = i ? cl->cell->env[i - 1].value : cl->name;
        _cleanup_free_ char *q = mr_shell_quote(sh, value);
        if (sh == MR_SHELL_POWERSHELL)
            mr_buf_addf(&b, "$env:%s = %s; ", name, q);
        else
            mr_buf_addf(&b, "export %s=%s; ", name, q);
    }
    return mr_buf_detach(&b, NULL);
}

/* Runs one test. Returns 0, or -1 when the cell cannot go on (its time limit ran out, or
 * the SSH connection dropped and did not come back). */
static int run_test(struct cell *cl, const struct mr_test *t, struct mr_case *c)
{
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int64_t t0 = mr_now_ms();
    int ret = 0;
    progress(cl->run, MR_PROGRESS_STEP, cl->name, "test %s", t->name);
    _cleanup_free_ char *env = cell_env_prefix(cl);
    _cleanup_free_ char *cmd = mr_xasprintf("%s%s", env, t->command);
    int r = cell_exec(cl, cmd, (int64_t)t->timeout_s * 1000, &x, &e);
    c->time_s = secs_since(t0);
    exec_output(c, &x);
    if (r == -ETIMEDOUT && cl->deadline_hit) {
        mr_case_set(c, MR_VERDICT_ERROR, "timeout", "test '%s': %s", t->name, mr_err_msg(&e));
        ret = -1;
    } else if (r == -ETIMEDOUT) {
        mr_case_set(c, MR_VERDICT_ERROR, "timeout",
                    "test '%s' exceeded its timeout of %u s", t->name, t->timeout_s);
    } else if (r == -EIO) {
        /* The connection dropped mid-test: the test's outcome is unknown and it is not
         * run again (it may not be idempotent); the cell goes on if SSH comes back. */
        _cleanup_free_ char *why = mr_xstrdup(mr_err_msg(&e));
        int64_t r0 = mr_now_ms();
        mr_err_release(&e);
        if (cell_reconnect(cl, &e) == 0) {
            mr_case_set(c, MR_VERDICT_ERROR, "connection",
                        "test '%s': the SSH connection dropped after %.1f s (%s); its outcome "
                        "is unknown and it was not run again; a new connection was made in "
                        "%.1f s and the cell went on",
                        t->name, c->time_s, why, secs_since(r0));
        } else {
            mr_case_set(c, MR_VERDICT_ERROR, "connection",
                        "test '%s': the SSH connection dropped after %.1f s (%s) and no new "
                        "one could be made within %.1f s: %s",
                        t->name, c->time_s, why, secs_since(r0), mr_err_msg(&e));
            ret = -1;
        }
    } else if (r < 0) {
        step_error(c, r, "test", &e);
        ret = -1;
    } else if (x.exit_signal) {
        mr_case_set(c, MR_VERDICT_FAIL, "signal", "'%s' was killed by signal %s", t->command,
                    x.exit_signal);
    } else if (x.exit_status != 0) {
        mr_case_set(c, MR_VERDICT_FAIL, "exit-status", "'%s' exited with status %d",
                    t->command, x.exit_status);
    }
    static const char *names[] = { "passed", "FAILED", "ERROR", "skipped" };
    if (c->verdict == MR_VERDICT_ERROR)
        progress(cl->run, MR_PROGRESS_NOTE, cl->name, "ERROR %s", c->message);
    else
        progress(cl->run, MR_PROGRESS_NOTE, cl->name, "test %s: %s (%.1f s)", t->name,
                 names[c->verdict], c->time_s);
    mr_exec_release(&x);
    mr_err_release(&e);
    return ret;
}

static void set_uint_prop(struct mr_suite *s, const char *name, unsigned long v)
{
    _cleanup_free_ char *num = mr_xasprintf("%lu", v);
    mr_suite_set_prop(s, name, num);
}

/* One cell benchmarks at a time: its host runs must not compete with another cell's. */
static pthread_mutex_t bench_lock = PTHREAD_MUTEX_INITIALIZER;

struct guest_bench {
    struct cell *cl;
    const char *remote;   /* mrbench's path in the guest */
    int64_t timeout_ms;   /* per run */
};

/* The guest side of the paired benchmark: mrbench over SSH. */
static int guest_bench_run(void *ctx, const char *args, struct mr_buf *out, struct mr_err *e)
{
    struct guest_bench *gb = ctx;
    struct cell *cl = gb->cl;
    _cleanup_free_ char *q = mr_shell_quote(cl->fam->shell, gb->remote);
    _cleanup_free_ char *cmd = cl->fam->shell == MR_SHELL_POWERSHELL
                                   ? mr_xasprintf("& %s %s", q, args)
                                   : mr_xasprintf("%s %s", q, args);
    struct mr_exec x;
    mr_exec_init(&x);
    int r = cell_exec(cl, cmd, gb->timeout_ms, &x, e);
    if (r == 0 && (x.exit_signal || x.exit_status != 0)) {
        if (x.exit_signal)
            mr_err_set(e, "'%s' was killed by signal %s", cmd, x.exit_signal);
        else
            mr_err_set(e, "'%s' exited with status %d: %.300s", cmd, x.exit_status,
                       x.err.data ? x.err.data : "");
        r = -EIO;
    }
    if (r == 0)
        mr_buf_add(out, x.out.data ? x.out.data : "", x.out.len);
    mr_exec_release(&x);
    return r;
}

static void bench_note(void *ctx, const char *what)
{
    struct cell *cl = ctx;
    progress(cl->run, MR_PROGRESS_STEP, cl->name, "benchmark: %s", what);
}

/* A stable seed per cell, so the same figures give the same interval. */
static uint64_t bench_seed(const char *cell)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *p = cell; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    return h;
}

static void set_double_prop(struct mr_suite *s, const char *name, const char *fmt, double v)
{
    char num[64];
    snprintf(num, sizeof(num), fmt, v);
    mr_suite_set_prop(s, name, num);
}

static void set_list_prop(struct mr_suite *s, const char *name, const double *v, size_t n)
{
    struct mr_buf b;
    mr_buf_init(&b);
    for (size_t i = 0; i < n; i++)
        mr_buf_addf(&b, "%s%.6f", i ? "," : "", v[i]);
    mr_suite_set_prop(s, name, b.data ? b.data : "");
    mr_buf_release(&b);
}

/* Pins the guest's first vCPU to the host's last CPU, where the host runs go too.
 * Returns that CPU, or -1 with why saying what stopped it. */
static int bench_pin(virDomainPtr dom, char *why, size_t len)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (ncpu < 1 || ncpu > 4096) {
        snprintf(why, len, "no: the host's CPU count is unknown");
        return -1;
    }
    int cpu = (int)ncpu - 1;
    unsigned char map[512] = { 0 };
    map[cpu / 8] = (unsigned char)(1u << (cpu % 8));
    if (!dom || virDomainPinVcpu(dom, 0, map, (cpu / 8) + 1) < 0) {
        const char *m = virGetLastErrorMessage();
        snprintf(why, len, "no: libvirt could not pin vCPU 0 (%s)", m ? m : "no domain");
        return -1;
    }
    snprintf(why, len, "guest vCPU 0 and the host runs on host CPU %d; guest run on its CPU 0",
             cpu);
    return cpu;
}

/* Takes the benchmark lock, waiting for another cell's benchmark; gives up when the run
 * is interrupted or the cell's time runs out. */
static int bench_lock_take(struct cell *cl)
{
    int said = 0;
    for (;;) {
        if (pthread_mutex_trylock(&bench_lock) == 0)
            return 0;
        if (!said++)
            progress(cl->run, MR_PROGRESS_STEP, cl->name,
                     "benchmark: waiting for another cell's benchmark to end");
        if (mr_interrupted || mr_now_ms() >= cl->deadline_ms)
            return -1;
        usleep(100 * 1000);
    }
}

/* The paired CPU benchmark (cpubench.h) in the guest and on the host; its figures go
 * into the suite's properties (the JUnit schema has none on testcases). */
static int run_benchmark(struct cell *cl, struct mr_case *c, virDomainPtr dom)
{
    const struct mr_bench_spec *spec = &cl->run->m->bench;
    struct mr_suite *s = cl->s;
    struct mr_err e = { 0 };
    int64_t t0 = mr_now_ms();
    int ret = 0, locked = 0;
    struct mr_cpubench_result res = { 0 };
    _cleanup_free_ char *prog = NULL, *host_prog = NULL, *remote = NULL, *sftp = NULL;
    if (cl->host->tunnel || mr_tunnel_uri_is_remote(cl->host->uri) == 1) {
        mr_case_set(c, MR_VERDICT_SKIP, NULL,
                    "not run: the host side of the benchmark runs on this machine, and the "
                    "guest ran on the remote host %s", cl->host->hostname);
        return 0;
    }
    int windows = cl->fam->shell == MR_SHELL_POWERSHELL;
    if (!(host_prog = mr_cpubench_program(0, &e)) ||
        !(prog = windows ? mr_cpubench_program(1, &e) : mr_xstrdup(host_prog))) {
        step_error(c, -ENOENT, "benchmark", &e);
        goto out;
    }
    remote = mr_family_remote_path(cl->fam, prog);
    sftp = mr_family_sftp_path(cl->fam, remote);
    progress(cl->run, MR_PROGRESS_STEP, cl->name, "benchmark: uploading %s", prog);
    int r = mr_ssh_upload(cl->ssh, prog, sftp, 0755, 120000, &e);
    if (r < 0) {
        step_error(c, r, "benchmark upload", &e);
        goto out;
    }
    if (bench_lock_take(cl) < 0) {
        mr_case_set(c, MR_VERDICT_ERROR, mr_interrupted ? "interrupted" : "timeout",
                    "benchmark: %s while waiting for another cell's benchmark",
                    mr_interrupted ? "the run was interrupted" : "the cell's time ran out");
        ret = -1;
        goto out;
    }
    locked = 1;
    char pinned[256];
    int cpu = bench_pin(dom, pinned, sizeof(pinned));
    struct mr_cpubench_side host = { "host", mr_cpubench_host_run, host_prog, cpu };
    struct guest_bench gb = { cl, remote, (int64_t)(spec->seconds * 100 + 60) * 1000 };
    struct mr_cpubench_side guest = { "guest", guest_bench_run, &gb, 0 };
    r = mr_cpubench_paired(spec, &host, &guest, bench_seed(cl->name), bench_note, cl, &res, &e);
    pthread_mutex_unlock(&bench_lock);
    locked = 0;
    if (r < 0) {
        if (r == -EPROTO)
            mr_case_set(c, MR_VERDICT_ERROR, "benchmark", "benchmark: %s", mr_err_msg(&e));
        else
            step_error(c, r, "benchmark", &e);
        ret = r == -ETIMEDOUT && cl->deadline_hit ? -1 : 0;
        goto out;
    }
    const struct mr_paired_stats *st = &res.st;
    int noisy = mr_cpubench_noisy(st, spec->max_interval_pct);
    set_double_prop(s, "benchmark.cpu.ratio", "%.4f", st->ratio_median);
    set_double_prop(s, "benchmark.cpu.ratio.ci95.low", "%.4f", st->ratio_lo);
    set_double_prop(s, "benchmark.cpu.ratio.ci95.high", "%.4f", st->ratio_hi);
    set_double_prop(s, "benchmark.cpu.overhead.pct", "%.2f", st->overhead_pct);
    set_double_prop(s, "benchmark.cpu.overhead.ci95.low.pct", "%.2f", st->overhead_lo_pct);
    set_double_prop(s, "benchmark.cpu.overhead.ci95.high.pct", "%.2f", st->overhead_hi_pct);
    set_double_prop(s, "benchmark.cpu.host.cv.pct", "%.2f", st->host_cv * 100);
    set_double_prop(s, "benchmark.cpu.guest.cv.pct", "%.2f", st->guest_cv * 100);
    set_double_prop(s, "benchmark.cpu.host.median.seconds", "%.6f", st->host_median);
    set_double_prop(s, "benchmark.cpu.guest.median.seconds", "%.6f", st->guest_median);
    set_list_prop(s, "benchmark.cpu.host.seconds", res.host_s, res.n);
    set_list_prop(s, "benchmark.cpu.guest.seconds", res.guest_s, res.n);
    set_uint_prop(s, "benchmark.cpu.repetitions", (unsigned long)res.n);
    set_uint_prop(s, "benchmark.cpu.warmup", spec->warmup);
    {
        char it[32];
        snprintf(it, sizeof(it), "%llu", res.iterations);
        mr_suite_set_prop(s, "benchmark.cpu.iterations", it);
    }
    mr_suite_set_prop(s, "benchmark.cpu.checksum", res.checksum);
    mr_suite_set_prop(s, "benchmark.cpu.noisy", noisy ? "yes" : "no");
    set_double_prop(s, "benchmark.cpu.max-interval.pct", "%g", spec->max_interval_pct);
    if (spec->max_overhead_pct >= 0)
        set_double_prop(s, "benchmark.cpu.max-overhead.pct", "%g", spec->max_overhead_pct);
    mr_suite_set_prop(s, "benchmark.cpu.pinned", pinned);
    {
        struct mr_buf b;
        mr_buf_init(&b);
        mr_buf_addf(&b,
                    "CPU overhead of the guest: %.2f%% (95%% bootstrap interval %.2f%% to "
                    "%.2f%%), median time ratio guest/host %.4f, from %zu pairs of %llu "
                    "iterations (host calibrated to %.3f s)%s\n"
                    "spread: host %.2f%%, guest %.2f%% (coefficient of variation)\n"
                    "pinning: %s\n"
                    "pair  host s      guest s     ratio\n",
                    st->overhead_pct, st->overhead_lo_pct, st->overhead_hi_pct,
                    st->ratio_median, res.n, res.iterations, res.calibrated_s,
                    noisy ? "; NOISY: the interval is wider than the matrix allows" : "",
                    st->host_cv * 100, st->guest_cv * 100, pinned);
        for (size_t i = 0; i < res.n; i++)
            mr_buf_addf(&b, "%4zu  %10.6f  %10.6f  %8.4f\n", i + 1, res.host_s[i],
                        res.guest_s[i], res.guest_s[i] / res.host_s[i]);
        mr_case_set_out(c, b.data, b.len);
        mr_buf_release(&b);
    }
    if (spec->max_overhead_pct >= 0 && st->overhead_pct > spec->max_overhead_pct)
        mr_case_set(c, MR_VERDICT_FAIL, "overhead",
                    "CPU overhead %.2f%% (95%% interval %.2f%% to %.2f%%) exceeds the "
                    "matrix's limit of %g%%",
                    st->overhead_pct, st->overhead_lo_pct, st->overhead_hi_pct,
                    spec->max_overhead_pct);
    progress(cl->run, MR_PROGRESS_NOTE, cl->name,
             "benchmark: overhead %.1f%% [%.1f%%, %.1f%%] over %zu pairs%s", st->overhead_pct,
             st->overhead_lo_pct, st->overhead_hi_pct, res.n, noisy ? " (noisy)" : "");
out:
    if (locked)
        pthread_mutex_unlock(&bench_lock);
    if (c->verdict == MR_VERDICT_ERROR)
        progress(cl->run, MR_PROGRESS_NOTE, cl->name, "ERROR %s", c->message);
    c->time_s = secs_since(t0);
    mr_cpubench_result_release(&res);
    mr_err_release(&e);
    return ret;
}

/* After SSH answers: the guest kernel for the report, and for cloud-init guests the end of
 * cloud-init, so that installs do not race its package runs. */
static void after_boot(struct cell *cl, int64_t deadline)
{
    /* The POSIX families' log script asks for the kernel at the end of the cell. */
    if (cl->fam->shell == MR_SHELL_POWERSHELL)
        query_guest_kernel(cl);
    if (!cl->seed_iso || cl->fam->seed != MR_SEED_CLOUD_INIT)
        return;
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    progress(cl->run, MR_PROGRESS_STEP, cl->name, "waiting for cloud-init to finish");
    int64_t left = deadline - mr_now_ms();
    int r = cell_exec(cl, "cloud-init status --wait", left > 30000 ? left : 30000, &x, &e);
    const char *st = r < 0                  ? "unknown"
                     : x.exit_status == 0   ? "done"
                     : x.exit_status == 127 ? "absent"
                                            : "error";
    mr_suite_set_prop(cl->s, "cloud-init.status", st);
    if (r == 0 && x.exit_status != 0 && x.exit_status != 127)
        mr_buf_addf(&cl->manifest,
                    "cloud-init status --wait exited with %d: see logs/cloud-init.log\n",
                    x.exit_status);
    mr_exec_release(&x);
    mr_err_release(&e);
}

static void cell_release(struct cell *cl)
{
    mr_ssh_free(cl->ssh);
    cl->ssh = NULL;
    mr_sshkey_release(&cl->hostkey);
    for (size_t i = 0; i < cl->n_files; i++) {
        free((char *)cl->files[i].name);
        free((void *)cl->files[i].data);
    }
    free(cl->files);
    free(cl->install_out);
    mr_buf_release(&cl->manifest);
    if (cl->seed_iso)
        (void)unlink(cl->seed_iso);
    free(cl->seed_iso);
    free(cl->celldir);
    free(cl->serial);
}

/* A port for a guest's SSH forward on its host's 127.0.0.1 that no other cell of the run
 * holds: a free one here; on a remote host a random one from 20000-60999 (the guest's
 * start fails if it is taken there, and the boot is retried). */
static int take_port(struct run *run, const struct host *h)
{
    pthread_mutex_lock(&run->lock);
    int port = -EADDRINUSE;
    for (int tries = 0; tries < 20; tries++) {
        int p;
        if (h->tunnel) {
            uint16_t rnd;
            mr_random(&rnd, sizeof(rnd));
            p = 20000 + rnd % 41000;
        } else if ((p = mr_guest_free_port()) < 0) {
            port = p;
            break;
        }
        size_t i;
        for (i = 0; i < run->n_ports && run->ports[i] != p; i++)
            ;
        if (i == run->n_ports) {
            run->ports = mr_xrealloc(run->ports, (run->n_ports + 1) * sizeof(*run->ports));
            run->ports[run->n_ports++] = p;
            port = p;
            break;
        }
    }
    pthread_mutex_unlock(&run->lock);
    return port;
}

/* Waits for the cell's turn to start a guest: starts are at least stagger_ms apart, so a
 * burst of boots does not starve the first guests' SSH handshakes. Returns how long it
 * waited, in ms. */
static int64_t wait_boot_slot(struct cell *cl)
{
    struct run *run = cl->run;
    pthread_mutex_lock(&run->lock);
    int64_t now = mr_now_ms();
    int64_t at = run->next_boot_ms > now ? run->next_boot_ms : now;
    run->next_boot_ms = at + run->stagger_ms;
    pthread_mutex_unlock(&run->lock);
    if (at > now)
        progress(run, MR_PROGRESS_STEP, cl->name, "waiting %.1f s for its boot slot",
                 (double)(at - now) / 1000.0);
    while (!mr_interrupted && mr_now_ms() < at)
        mr_sleep_ms(at - mr_now_ms() < 100 ? at - mr_now_ms() : 100);
    return mr_now_ms() - now;
}


static void set_seconds_prop(struct mr_suite *s, const char *name, int64_t ms)
{
    _cleanup_free_ char *v = mr_xasprintf("%.3f", (double)ms / 1000.0);
    mr_suite_set_prop(s, name, v);
}

/* Copies a remote cell's serial log from its host into the report folder; a failure is
 * noted in the manifest (the archive then says the guest wrote none). */
static void cell_fetch_serial(struct cell *cl, struct mr_remote_store *rs)
{
    if (!rs->serial)
        return;
    struct mr_err e = { 0 };
    if (mr_remote_store_fetch_serial(rs, cl->serial, &e) < 0) {
        mr_buf_addf(&cl->manifest, "%-28s not copied from the host: %s\n", "serial.log",
                    mr_err_msg(&e));
        progress(cl->run, MR_PROGRESS_NOTE, cl->name, "WARNING %s", mr_err_msg(&e));
    }
    mr_err_release(&e);
}

/* One attempt at a cell; its suite is rep's last. Returns 1 when the cell's time limit
 * ran out (another attempt would not have more time), else 0. */
static int run_cell_once(struct slot *sl, struct mr_report *rep)
{
    struct run *run = sl->run;
    struct host *host = sl->host;
    const struct mr_matrix *m = run->m;
    const struct mr_cell *mc = sl->cell;
    const struct mr_image *img = mc->img;
    struct cell cell = { .run = run, .host = host, .cell = mc, .img = img, .fam = img->fam,
                         .name = mc->id, .deadline_ms = INT64_MAX };
    struct cell *cl = &cell;
    const char *name = mc->id;
    mr_buf_init(&cl->manifest);
    struct mr_suite *s = cl->s = mr_report_add_suite(rep, name);
    int64_t cell_t0 = mr_now_ms();
    if (m->cell_timeout_s)
        cl->deadline_ms = cell_t0 + (int64_t)m->cell_timeout_s * 1000;
    _cleanup_free_ char *cls = mr_xasprintf("%s.%s", m->name, name);
    struct mr_case *boot = mr_suite_add_case(s, cls, "boot");
    struct mr_case *install = mr_suite_add_case(s, cls, "install");
    for (size_t i = 0; i < m->n_tests; i++)
        (void)mr_suite_add_case(s, cls, m->tests[i].name);
    struct mr_case *bench = m->bench.enabled ? mr_suite_add_case(s, cls, "benchmark.cpu") : NULL;
    s->hostname = mr_xstrdup(host->hostname);
    mr_suite_set_prop(s, "image", img->name);
    mr_suite_set_prop(s, "family", img->family);
    if (img->os_version)
        mr_suite_set_prop(s, "os.version", img->os_version);
    mr_suite_set_prop(s, "accel", mr_accel_name(host->accel));
    mr_suite_set_prop(s, "libvirt.uri", host->uri);
    mr_suite_set_prop(s, "host", host->hostname);
    mr_suite_set_prop(s, "run.id", run->run_id);
    set_uint_prop(s, "vcpus", mc->vcpus);
    set_uint_prop(s, "memory.mib", mc->memory_mib);
    for (size_t i = 0; i < mc->n_env; i++) {
        _cleanup_free_ char *pn = mr_xasprintf("env.%s", mc->env[i].name);
        mr_suite_set_prop(s, pn, mc->env[i].value);
    }
    mr_suite_set_prop(s, "guest.kernel", "unknown");
    /* The host's side, for comparing overheads across hosts (this machine's only: a
     * remote host's kernel and CPU are not visible through libvirt alone). */
    if (!host->tunnel && mr_tunnel_uri_is_remote(host->uri) != 1) {
        char hk[256];
        mr_hostprobe_kernel(hk, sizeof(hk));
        mr_suite_set_prop(s, "host.kernel", hk);
        _cleanup_free_ char *model = mr_hostprobe_cpu_model();
        mr_suite_set_prop(s, "host.cpu.model", model ? model : "unknown");
        mr_suite_set_prop(s, "host.nested", mr_hostprobe_nested());
    }
    mr_suite_set_prop(s, "provisioning",
                      img->hostkey ? "kernel command line"
                      : img->fam->seed == MR_SEED_CLOUD_INIT ? "cloud-init seed"
                                                             : "cloudbase-init seed");

    struct mr_err e = { 0 };
    struct mr_guest g;
    mr_guest_init(&g);
    _cleanup_free_ char *domname = mr_xasprintf("mr-%s-%s", run->run_id, name);
    /* A remote host shares no folder with matrixrun: the cell's files go to its pool. */
    struct mr_remote_store rs;
    mr_remote_store_init(&rs, host->pool, domname);
    cl->celldir = mr_xasprintf("%s/%s", run->outdir_abs, name);
    cl->serial = mr_xasprintf("%s/serial.log", cl->celldir);
    _cleanup_free_ char *xml = NULL;
    _cleanup_free_ char *cmdline = NULL;
    _cleanup_free_ char *mac = random_mac();
    int64_t t0 = mr_now_ms();
    int64_t t_prepare = -1; /* the phases' times, for the report's time.* properties */
    int64_t t_collect, t_teardown, t_slot = -1;
    int out_of_time = 0;
    int r;

    progress(run, MR_PROGRESS_STEP, name, "preparing");
    if ((r = mr_mkdir_p(cl->celldir, 0755)) < 0) {
        mr_case_set(boot, MR_VERDICT_ERROR, "infrastructure", "boot: cannot create '%s': %s",
                    cl->celldir, strerror(-r));
        goto fail;
    }
    (void)unlink(cl->serial);
    if (img->hostkey)
        r = mr_sshkey_load_public(&cl->hostkey, img->hostkey, &e);
    else
        r = cell_make_seed(cl, mac, &e);
    if (r < 0) {
        step_error(boot, r, "boot", &e);
        goto fail;
    }
    if (img->disk && host->pool) {
        r = mr_remote_store_overlay(&rs, img->disk, &e);
    } else if (img->disk) {
        g.overlay = mr_xasprintf("%s/%s.qcow2", run->workdir, name);
        r = mr_guest_overlay_create(img->disk, g.overlay, &e);
    }
    if (r >= 0 && cl->seed_iso && host->pool)
        r = mr_remote_store_seed(&rs, cl->seed_iso, &e);
    if (r >= 0 && host->pool)
        r = mr_remote_store_serial(&rs, &e);
    if (r < 0) {
        step_error(boot, r, "boot", &e);
        goto fail;
    }
    int port = take_port(run, host);
    if (port < 0) {
        mr_case_set(boot, MR_VERDICT_ERROR, "infrastructure",
                    "boot: no free port on 127.0.0.1: %s", strerror(-port));
        goto fail;
    }
    /* Images with a baked host key read the run's key from the kernel command line. */
    if (img->kernel && img->hostkey)
        cmdline = mr_xasprintf("%s matrixrun.authorized_key=%s:%s",
                               img->cmdline ? img->cmdline : "console=ttyS0", run->key.type,
                               run->key.blob_b64);
    else if (img->kernel)
        cmdline = mr_xstrdup(img->cmdline ? img->cmdline : "console=ttyS0");
    struct mr_domain_spec spec = {
        .name = domname, .run_id = run->run_id, .cell = name, .run_dir = run->workdir,
        .controller = mr_controller_id(),
        .accel = host->accel, .memory_mib = mc->memory_mib, .vcpus = mc->vcpus,
        .disk = host->pool ? rs.overlay_path : g.overlay, .kernel = img->kernel,
        .initrd = img->initrd, .cmdline = cmdline,
        .serial_log = host->pool ? rs.serial_path : cl->serial, .ssh_port = port,
        .seed_iso = host->pool ? rs.seed_path : cl->seed_iso, .mac = mac,
    };
    if (!(xml = mr_domxml_build(&spec, &e))) {
        step_error(boot, -EINVAL, "boot", &e);
        goto fail;
    }
    t_slot = wait_boot_slot(cl);
    if (mr_interrupted) {
        mr_case_set(boot, MR_VERDICT_SKIP, NULL, "not run: the run was interrupted");
        goto fail;
    }
    progress(run, MR_PROGRESS_STEP, name,
             "booting (%s, %u vCPU, %u MiB, ssh on 127.0.0.1:%d%s%s%s)",
             mr_accel_name(host->accel), mc->vcpus, mc->memory_mib, port,
             host->tunnel ? " of " : "", host->tunnel ? mr_tunnel_name(host->tunnel) : "",
             cl->seed_iso ? ", seeded" : "");
    t0 = mr_now_ms();
    t_prepare = t0 - cell_t0;
    if ((r = mr_guest_start(&g, host->conn, xml, &e)) < 0) {
        step_error(boot, r, "boot", &e);
        goto fail;
    }
    cl->target = (struct mr_ssh_target){
        .host = "127.0.0.1", .port = port, .user = img->user, .key = &run->key,
        .pinned_host = &cl->hostkey, .retry_host_mismatch = cl->seed_iso != NULL,
        .via = host->tunnel,
    };
    int64_t deadline = t0 + (int64_t)img->boot_timeout_s * 1000;
    int cut = deadline > cl->deadline_ms;
    if (cut)
        deadline = cl->deadline_ms;
    r = mr_ssh_connect(&cl->target, deadline, &cl->ssh, &e);
    boot->time_s = secs_since(t0);
    if (r < 0) {
        out_of_time = r == -ETIMEDOUT && cut;
        if (out_of_time)
            mr_case_set(boot, MR_VERDICT_ERROR, "timeout",
                        "boot: the cell's time limit of %u s (matrix cell-timeout) ran out "
                        "before the guest answered SSH: %s",
                        m->cell_timeout_s, mr_err_msg(&e));
        else if (r == -ETIMEDOUT)
            mr_case_set(boot, MR_VERDICT_ERROR, "timeout",
                        "boot: the guest did not answer SSH within its boot timeout of %u s%s: %s",
                        img->boot_timeout_s,
                        cl->seed_iso ? " (if the serial log shows no cloud-init run, or "
                                       "cloud-init rejected the seed, the guest never gets "
                                       "the user, key and host key)"
                                     : "",
                        mr_err_msg(&e));
        else if (r == -EPERM)
            mr_case_set(boot, MR_VERDICT_ERROR, "refused", "boot: %s", mr_err_msg(&e));
        else
            step_error(boot, r, "boot", &e);
        cell_fetch_serial(cl, &rs);
        _cleanup_free_ char *tail = serial_tail(cl->serial);
        mr_case_set_out(boot, tail, strlen(tail));
        goto fail;
    }
    progress(run, MR_PROGRESS_NOTE, name, "ssh ready after %.1f s", boot->time_s);
    after_boot(cl, deadline);
    {
        _cleanup_free_ char *msg = mr_xasprintf(
            "SSH ready %.1f s after the guest started; serial console log: %s\n", boot->time_s,
            cl->serial);
        mr_case_set_out(boot, msg, strlen(msg));
    }

    progress(run, MR_PROGRESS_STEP, name, "installing %s %s", m->pkg_name,
             mr_matrix_expected_version(m, mr_matrix_artifact(m, img->family)));
    if (do_install(cl, install) < 0)
        goto fail;
    progress(run, MR_PROGRESS_NOTE, name, "installed (%.1f s)", install->time_s);

    for (size_t i = 0; i < m->n_tests; i++) {
        struct mr_case *c = s->cases[2 + i];
        int stop = run_test(cl, &m->tests[i], c);
        if (mr_interrupted) {
            skip_rest(s, 3 + i, "the run was interrupted");
            break;
        }
        if (stop < 0) {
            _cleanup_free_ char *why = mr_xasprintf("%s failed", c->name);
            skip_rest(s, 3 + i, why);
            break;
        }
    }
    /* A failed test does not stop the benchmark; a cell that cannot go on has skipped it. */
    if (bench && bench->verdict == MR_VERDICT_PASS && !mr_interrupted)
        (void)run_benchmark(cl, bench, g.dom);
    goto done;
fail:
    for (size_t i = 0; i < s->n_cases; i++) {
        if (s->cases[i]->verdict == MR_VERDICT_ERROR) {
            _cleanup_free_ char *why = mr_xasprintf("%s failed", s->cases[i]->name);
            skip_rest(s, i + 1, why);
            progress(run, MR_PROGRESS_NOTE, name, "ERROR %s", s->cases[i]->message);
            break;
        }
        if (s->cases[i]->verdict == MR_VERDICT_SKIP) {
            skip_rest(s, i + 1, "the run was interrupted");
            break;
        }
    }
done:
    t_collect = mr_now_ms();
    if (!mr_interrupted)
        collect_logs(cl);
    t_collect = mr_now_ms() - t_collect;
    t_teardown = mr_now_ms();
    mr_ssh_free(cl->ssh);
    cl->ssh = NULL;
    /* The CPU time the guest's QEMU used, for the capacity benchmark. */
    virDomainInfo di;
    if (g.dom && virDomainGetInfo(g.dom, &di) == 0) {
        _cleanup_free_ char *cpu = mr_xasprintf("%.3f", (double)di.cpuTime / 1e9);
        mr_suite_set_prop(s, "guest.cpu.seconds", cpu);
    }
    /* The domain goes first so the serial log in the archive is complete. */
    mr_guest_release(&g);
    cell_fetch_serial(cl, &rs);
    mr_remote_store_release(&rs);
    if (access(cl->celldir, W_OK) == 0)
        write_artifacts(cl);
    if (cl->reconnects)
        set_uint_prop(s, "ssh.reconnects", cl->reconnects);
    cell_release(cl);
    mr_err_release(&e);
    t_teardown = mr_now_ms() - t_teardown;
    s->time_s = secs_since(cell_t0);
    /* Where the cell's time went besides boot, install and tests (benchmarks read these). */
    if (t_prepare >= 0)
        set_seconds_prop(s, "time.prepare", t_prepare);
    if (t_slot >= 0)
        set_seconds_prop(s, "time.boot-slot-wait", t_slot); /* part of time.prepare */
    set_seconds_prop(s, "time.collect", t_collect);
    set_seconds_prop(s, "time.teardown", t_teardown);
    return out_of_time;
}

/* A boot that timed out or hit the machinery may go better a second time; a refused host
 * key, a failed install or a failed test would not. */
static int boot_failed_retryably(const struct mr_suite *s)
{
    const struct mr_case *boot = s->n_cases ? s->cases[0] : NULL;
    return boot && boot->verdict == MR_VERDICT_ERROR && boot->type &&
           (strcmp(boot->type, "timeout") == 0 || strcmp(boot->type, "infrastructure") == 0);
}

/* One line on how the cell ended, for progress. */
static char *cell_outcome(const struct mr_suite *s)
{
    struct mr_counts n = mr_suite_counts(s);
    return mr_xasprintf("done in %.1f s: %zu passed, %zu failed, %zu error(s), %zu skipped",
                        s->time_s, n.tests - n.failures - n.errors - n.skipped, n.failures,
                        n.errors, n.skipped);
}

/* Runs a cell, again up to the matrix's retries when its boot failed; the cell's report
 * keeps the last attempt and says which attempts failed and why. */
static void run_cell(struct slot *sl)
{
    struct run *run = sl->run;
    const char *id = sl->cell->id;
    struct mr_buf history;
    mr_buf_init(&history);
    unsigned attempt;
    for (attempt = 1;; attempt++) {
        /* A cell whose own time limit ran out is not run again. */
        int out_of_time = run_cell_once(sl, sl->rep);
        struct mr_suite *s = sl->rep->suites[sl->rep->n_suites - 1];
        if (attempt > run->m->retries || mr_interrupted || out_of_time ||
            !boot_failed_retryably(s))
            break;
        _cleanup_free_ char *dir = mr_xasprintf("%s/%s", run->outdir_abs, id);
        _cleanup_free_ char *from = mr_xasprintf("%s/serial.log", dir);
        _cleanup_free_ char *to = mr_xasprintf("%s/serial.attempt-%u.log", dir, attempt);
        _cleanup_free_ char *afrom = mr_xasprintf("%s/artifacts.tar.gz", dir);
        _cleanup_free_ char *ato = mr_xasprintf("%s/artifacts.attempt-%u.tar.gz", dir, attempt);
        (void)rename(from, to);
        (void)rename(afrom, ato);
        mr_buf_addf(&history,
                    "matrixrun: attempt %u of this cell failed at boot and was retried: %s\n"
                    "matrixrun: its serial log and artifacts: %s, %s\n",
                    attempt, s->cases[0]->message, to, ato);
        progress(run, MR_PROGRESS_NOTE, id, "retrying (attempt %u of %u) after: %s",
                 attempt + 1, run->m->retries + 1, s->cases[0]->message);
        mr_report_drop_last_suite(sl->rep);
    }
    struct mr_suite *s = sl->rep->suites[sl->rep->n_suites - 1];
    set_uint_prop(s, "retries", attempt - 1);
    if (history.len) {
        /* Before the attachment line of the last attempt, in the order things happened. */
        if (s->out)
            mr_buf_adds(&history, s->out);
        free(s->out);
        s->out = mr_buf_detach(&history, NULL);
    }
    mr_buf_release(&history);
    _cleanup_free_ char *outcome = cell_outcome(s);
    progress(run, MR_PROGRESS_END, id, "%s", outcome);
}

/* A cell that never started: one boot testcase saying why. */
static void add_unrun_cell(struct run *run, struct slot *sl, enum mr_verdict v,
                           const char *type, const char *why)
{
    struct mr_suite *s = mr_report_add_suite(sl->rep, sl->cell->id);
    _cleanup_free_ char *cls = mr_xasprintf("%s.%s", run->m->name, sl->cell->id);
    struct mr_case *c = mr_suite_add_case(s, cls, "boot");
    mr_case_set(c, v, type, "%s%s", v == MR_VERDICT_ERROR ? "boot: " : "", why);
}

static void *cell_thread(void *arg)
{
    struct slot *sl = arg;
    struct run *run = sl->run;
    run_cell(sl);
    pthread_mutex_lock(&run->lock);
    sl->host->cpu_used -= sl->cpu;
    sl->host->mem_used_mib -= sl->mem_mib;
    sl->host->running--;
    run->running--;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

/* Memory the host can give guests without swapping: free plus buffers and page cache
 * (libvirt's node memory stats, in KiB), or -1 if unknown. */
static long host_available_mib(virConnectPtr conn)
{
    int n = 0;
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &n, 0) < 0 || n <= 0)
        return -1;
    virNodeMemoryStatsPtr st = mr_xcalloc((size_t)n, sizeof(*st));
    long kib = -1;
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, st, &n, 0) == 0) {
        unsigned long long sum = 0;
        int seen = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(st[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0 ||
                strcmp(st[i].field, VIR_NODE_MEMORY_STATS_BUFFERS) == 0 ||
                strcmp(st[i].field, VIR_NODE_MEMORY_STATS_CACHED) == 0) {
                sum += st[i].value;
                seen = 1;
            }
        }
        if (seen)
            kib = (long)sum;
    }
    free(st);
    return kib < 0 ? -1 : kib / 1024;
}

/* Reads a host's size and what else runs there, and sets the run's budget on it. */
static void host_measure(struct run *run, struct host *h)
{
    const struct mr_run_opts *o = run->o;
    double oc_cpu = o->overcommit_cpu > 0 ? o->overcommit_cpu : MR_DEFAULT_OVERCOMMIT_CPU;
    double oc_mem = o->overcommit_mem > 0 ? o->overcommit_mem : MR_DEFAULT_OVERCOMMIT_MEM;
    virNodeInfo info;
    if (virNodeGetInfo(h->conn, &info) < 0) {
        memset(&info, 0, sizeof(info));
        info.cpus = 1;
    }
    h->cpus = info.cpus ? info.cpus : 1;
    long free_mib = host_available_mib(h->conn);
    if (free_mib < 0)
        free_mib = (long)(info.memory >> 10);
    /* vCPUs of guests that are not ours count against the budget; their memory is
     * already missing from the free memory. */
    long others = 0;
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(h->conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    for (int i = 0; i < n; i++) {
        virDomainInfo di;
        if (virDomainGetInfo(doms[i], &di) == 0)
            others += di.nrVirtCpu;
        virDomainFree(doms[i]);
    }
    free(doms);
    h->cpu_budget = (long)((double)h->cpus * oc_cpu) - others;
    h->mem_budget_mib = (long)((double)free_mib * oc_mem);
    progress(run, MR_PROGRESS_RUN, NULL,
             "host %s (%s): %u CPUs x %.2f - %ld vCPU(s) of other guests = %ld vCPUs; "
             "%ld MiB available x %.2f = %ld MiB for guests (each counted with %d MiB for QEMU)",
             h->hostname, h->uri, h->cpus, oc_cpu, others, h->cpu_budget, free_mib, oc_mem,
             h->mem_budget_mib, GUEST_OVERHEAD_MIB);
}

/* The host with the most free vCPUs that holds the cell, or NULL to wait. A cell too big
 * for any host runs alone on the biggest, once nothing else runs. */
static struct host *place(struct run *run, struct slot *sl)
{
    struct host *best = NULL, *biggest = NULL;
    for (size_t i = 0; i < run->n_hosts; i++) {
        struct host *h = &run->hosts[i];
        if (!h->conn)
            continue;
        if (!biggest || h->cpu_budget > biggest->cpu_budget)
            biggest = h;
        if (h->cpu_used + sl->cpu <= h->cpu_budget &&
            h->mem_used_mib + sl->mem_mib <= h->mem_budget_mib &&
            (!best || h->cpu_budget - h->cpu_used > best->cpu_budget - best->cpu_used))
            best = h;
    }
    if (best || run->running || !biggest)
        return best;
    progress(run, MR_PROGRESS_RUN, NULL,
             "WARNING cell %s needs %ld vCPU(s) and %ld MiB, more than any host offers the "
             "run; it runs alone on %s",
             sl->cell->id, sl->cpu, sl->mem_mib, biggest->hostname);
    return biggest;
}

/* Starts the cells in order as jobs and capacity allow, and waits for all of them. */
static void schedule(struct run *run, struct slot *slots, size_t n, const char *setup_error)
{
    unsigned jobs = run->o->jobs ? run->o->jobs : UINT32_MAX;
    size_t next = 0;
    pthread_mutex_lock(&run->lock);
    while (next < n && !mr_interrupted && !setup_error) {
        struct slot *sl = &slots[next];
        struct host *h = run->running < jobs ? place(run, sl) : NULL;
        if (h) {
            sl->host = h;
            h->cpu_used += sl->cpu;
            h->mem_used_mib += sl->mem_mib;
            h->running++;
            run->running++;
            progress(run, MR_PROGRESS_START, sl->cell->id,
                     "on %s (%ld/%ld vCPUs, %ld/%ld MiB in use)", h->hostname, h->cpu_used,
                     h->cpu_budget, h->mem_used_mib, h->mem_budget_mib);
            if (pthread_create(&sl->thread, NULL, cell_thread, sl) == 0) {
                sl->started = 1;
            } else {
                h->cpu_used -= sl->cpu;
                h->mem_used_mib -= sl->mem_mib;
                h->running--;
                run->running--;
                add_unrun_cell(run, sl, MR_VERDICT_ERROR, "infrastructure",
                               "cannot start a thread for the cell");
            }
            next++;
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&run->changed, &run->lock, &ts);
    }
    pthread_mutex_unlock(&run->lock);
    for (size_t i = 0; i < n; i++) {
        if (slots[i].started)
            pthread_join(slots[i].thread, NULL);
        else if (!slots[i].rep->n_suites && setup_error)
            add_unrun_cell(run, &slots[i], MR_VERDICT_ERROR, "infrastructure", setup_error);
        else if (!slots[i].rep->n_suites)
            add_unrun_cell(run, &slots[i], MR_VERDICT_SKIP, NULL,
                           "not run: the run was interrupted");
        mr_report_move_suites(run->report, slots[i].rep);
    }
}

void mr_run_result_release(struct mr_run_result *r)
{
    free(r->run_id);
    free(r->junit_path);
    mr_report_free(r->report);
    memset(r, 0, sizeof(*r));
}

int mr_pipeline_run(const struct mr_matrix *m, const struct mr_run_opts *o,
                    struct mr_run_result *res, struct mr_err *err)
{
    struct run run = { .m = m, .o = o };
    struct mr_err setup = { 0 };
    int lock_fd = -1;
    _cleanup_free_ char *keydir = NULL;
    _cleanup_free_ char *comment = NULL;
    struct slot *slots = NULL;
    size_t n_cells = o->cells ? o->n_cells : m->n_cells;
    int r;
    memset(res, 0, sizeof(*res));
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.changed, NULL);
    run.stagger_ms = o->stagger_ms >= 0 ? o->stagger_ms : MR_DEFAULT_STAGGER_MS;
    const char *outdir = o->outdir ? o->outdir : "reports";
    if ((r = mr_mkdir_p(outdir, 0755)) < 0 || access(outdir, W_OK) < 0) {
        mr_err_set(err, "cannot write reports to '%s': %s", outdir,
                   strerror(r < 0 ? -r : errno));
        r = -EINVAL;
        goto out;
    }
    run.outdir_abs = abs_path(outdir);
    run.run_id = make_run_id();
    const char *base = mr_leftover_workbase(o->workdir_base);
    run.workdir = mr_xasprintf("%s/%s", base, run.run_id);
    /* QEMU runs as its own user and must reach the overlays: the work folder is
     * searchable by all, the key folder inside it is private. */
    if ((r = mr_mkdir_p(run.workdir, 0755)) < 0) {
        mr_err_set(err, "cannot create work folder '%s': %s", run.workdir, strerror(-r));
        r = -EINVAL;
        goto out;
    }
    /* The lock says "this run is alive" to `matrixrun clean` and to later runs. */
    if ((lock_fd = mr_leftover_lock_run(run.workdir)) < 0) {
        mr_err_set(err, "cannot lock work folder '%s': %s", run.workdir, strerror(-lock_fd));
        r = -EINVAL;
        goto out;
    }
    run.report = mr_report_new(m->name);
    progress(&run, MR_PROGRESS_RUN, NULL, "run %s: %zu cell(s), reports in %s", run.run_id,
             n_cells, run.outdir_abs);

    keydir = mr_xasprintf("%s/ssh", run.workdir);
    comment = mr_xasprintf("matrixrun-%s", run.run_id);
    /* --connect replaces the matrix's hosts with one. */
    run.n_hosts = o->uri ? 1 : m->n_hosts;
    run.hosts = mr_xcalloc(run.n_hosts, sizeof(*run.hosts));
    size_t n_up = 0;
    for (size_t i = 0; i < run.n_hosts; i++) {
        struct host *h = &run.hosts[i];
        struct mr_err he = { 0 };
        h->uri = o->uri ? o->uri : m->hosts[i].uri;
        h->accel = o->accel >= 0 ? (enum mr_accel)o->accel : m->hosts[i].accel;
        /* Remote hosts' storage streams need libvirt's event loop (remote_store.h). */
        if (mr_tunnel_uri_is_remote(h->uri) == 1 && mr_remote_store_event_loop_start() < 0)
            progress(&run, MR_PROGRESS_RUN, NULL,
                     "WARNING no libvirt event loop: downloads from %s may hang", h->uri);
        h->conn = mr_guest_connect(h->uri, &he);
        /* What killed runs left behind is only reported here; `clean` removes it. */
        struct mr_leftovers lo = { 0 };
        struct mr_err le = { 0 };
        if (mr_leftover_scan(h->conn, base, &lo, &le) == 0) {
            /* The work folders are this machine's: the first host's scan counts them. */
            size_t dirs = i == 0 ? lo.n_dirs : 0;
            if (dirs || lo.n_domains || lo.n_volumes)
                progress(&run, MR_PROGRESS_RUN, NULL,
                         "WARNING earlier runs left %zu work folder(s) in %s, %zu guest(s) "
                         "and %zu volume(s) of pool %s on %s behind; %s removes them",
                         dirs, base, lo.n_domains, lo.n_volumes, MR_REMOTE_STORE_POOL,
                         h->uri,
                         strcmp(h->uri, MR_DEFAULT_URI) == 0 && run.n_hosts == 1
                             ? "'matrixrun clean'"
                             : "'matrixrun clean MATRIX.xml' (or 'clean --connect URI')");
        }
        mr_leftovers_release(&lo);
        mr_err_release(&le);
        if (!h->conn) {
            progress(&run, MR_PROGRESS_RUN, NULL, "ERROR %s%s", mr_err_msg(&he),
                     run.n_hosts > 1 ? "; no cell runs there" : "");
            if (!setup.msg)
                mr_err_set(&setup, "%s", mr_err_msg(&he));
            mr_err_release(&he);
            continue;
        }
        /* Guests on a remote host listen on its 127.0.0.1: matrixrun reaches them through
         * an SSH connection to the host (direct-tcpip), never through exposed ports. */
        if (mr_tunnel_uri_is_remote(h->uri) == 1 &&
            mr_tunnel_open(h->uri, mr_now_ms() + 60000, &h->tunnel, &he) < 0) {
            progress(&run, MR_PROGRESS_RUN, NULL,
                     "ERROR no SSH tunnel to the guests of %s: %s%s", h->uri, mr_err_msg(&he),
                     run.n_hosts > 1 ? "; no cell runs there" : "");
            if (!setup.msg)
                mr_err_set(&setup, "no SSH tunnel to the guests of %s: %s", h->uri,
                           mr_err_msg(&he));
            mr_err_release(&he);
            virConnectClose(h->conn);
            h->conn = NULL;
            continue;
        }
        if (h->tunnel && mr_remote_store_open_pool(h->conn, MR_REMOTE_STORE_POOL,
                                                   MR_REMOTE_STORE_TARGET, &h->pool, &he) < 0) {
            progress(&run, MR_PROGRESS_RUN, NULL, "ERROR no storage for the cells of %s: %s%s",
                     h->uri, mr_err_msg(&he), run.n_hosts > 1 ? "; no cell runs there" : "");
            if (!setup.msg)
                mr_err_set(&setup, "no storage for the cells of %s: %s", h->uri,
                           mr_err_msg(&he));
            mr_err_release(&he);
            mr_tunnel_close(h->tunnel);
            h->tunnel = NULL;
            virConnectClose(h->conn);
            h->conn = NULL;
            continue;
        }
        mr_err_release(&he);
        char *hn = virConnectGetHostname(h->conn);
        struct utsname un;
        h->hostname = hn ? hn : mr_xstrdup(uname(&un) == 0 ? un.nodename : "localhost");
        h->accel = mr_guest_resolve_accel(h->conn, h->accel);
        host_measure(&run, h);
        n_up++;
    }
    if (n_up && mr_sshkey_generate(&run.key, keydir, comment, &setup) < 0)
        n_up = 0;
    if (!n_up) {
        if (!setup.msg)
            mr_err_set(&setup, "no libvirt host could be reached");
        progress(&run, MR_PROGRESS_RUN, NULL, "ERROR %s", mr_err_msg(&setup));
    } else if (o->jobs) {
        progress(&run, MR_PROGRESS_RUN, NULL,
                 "at most %u cell(s) at once, as capacity allows; guest starts %.1f s apart",
                 o->jobs, (double)run.stagger_ms / 1000.0);
    } else {
        progress(&run, MR_PROGRESS_RUN, NULL,
                 "as many cells at once as capacity allows; guest starts %.1f s apart",
                 (double)run.stagger_ms / 1000.0);
    }

    slots = mr_xcalloc(n_cells ? n_cells : 1, sizeof(*slots));
    for (size_t i = 0; i < n_cells; i++) {
        struct slot *sl = &slots[i];
        sl->run = &run;
        sl->cell = o->cells ? o->cells[i] : &m->cells[i];
        sl->rep = mr_report_new(m->name);
        sl->cpu = sl->cell->vcpus;
        sl->mem_mib = (long)sl->cell->memory_mib + GUEST_OVERHEAD_MIB;
    }
    schedule(&run, slots, n_cells, n_up ? NULL : mr_err_msg(&setup));
    mr_err_release(&setup);

    res->junit_path = mr_xasprintf("%s/junit.xml", run.outdir_abs);
    r = mr_junit_write(run.report, res->junit_path, err);
    res->report = MR_TAKE_PTR(run.report);
    res->run_id = MR_TAKE_PTR(run.run_id);
    res->interrupted = mr_interrupted != 0;
out:
    for (size_t i = 0; slots && i < n_cells; i++)
        mr_report_free(slots[i].rep);
    free(slots);
    for (size_t i = 0; i < run.n_hosts; i++) {
        mr_tunnel_close(run.hosts[i].tunnel);
        if (run.hosts[i].pool)
            virStoragePoolFree(run.hosts[i].pool);
        if (run.hosts[i].conn)
            virConnectClose(run.hosts[i].conn);
        free(run.hosts[i].hostname);
    }
    free(run.hosts);
    mr_remote_store_event_loop_stop();
    free(run.ports);
    /* The private key lives only in the work folder and goes with it. */
    mr_sshkey_release(&run.key);
    if (run.workdir)
        (void)mr_rm_rf(run.workdir);
    if (lock_fd >= 0)
        close(lock_fd);
    free(run.workdir);
    free(run.outdir_abs);
    free(run.run_id);
    mr_report_free(run.report);
    pthread_cond_destroy(&run.changed);
    pthread_mutex_destroy(&run.lock);
    return r;
}

int mr_pipeline_exit_code(const struct mr_report *r)
{
    struct mr_counts n = mr_report_counts(r);
    if (n.errors)
        return 3;
    if (n.failures)
        return 1;
    return 0;
}
