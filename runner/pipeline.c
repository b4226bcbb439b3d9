/* pipeline.c: the per-cell pipeline (overlay, guest, SSH, install, tests, teardown) and
 * the run around it (run id, work folder, key pair, report). */
#define _GNU_SOURCE
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "guest.h"
#include "ssh.h"

/* Output of a failed boot carries this much of the end of the serial console. */
#define SERIAL_TAIL_BYTES 8192

struct run {
    const struct mr_matrix *m;
    const struct mr_run_opts *o;
    virConnectPtr conn;
    enum mr_accel accel;
    const char *uri;
    char *run_id;
    char *workdir;
    char *outdir_abs;
    struct mr_sshkey key;
    struct mr_report *report;
};

static void progress(struct run *run, const char *cell, const char *fmt, ...) MR_PRINTF(3, 4);
static void progress(struct run *run, const char *cell, const char *fmt, ...)
{
    if (!run->o->progress)
        return;
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = mr_xvasprintf(fmt, ap);
    va_end(ap);
    run->o->progress(run->o->progress_ud, cell, msg);
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

static int do_install(struct run *run, const struct mr_image *img, struct mr_ssh *ssh,
                      struct mr_case *c)
{
    const struct mr_family *fam = mr_family_find(img->family);
    const struct mr_artifact *a = mr_matrix_artifact(run->m, img->family);
    const char *base = strrchr(a->path, '/') ? strrchr(a->path, '/') + 1 : a->path;
    _cleanup_free_ char *remote = mr_xasprintf("/tmp/%s", base);
    _cleanup_free_ char *cmd = NULL;
    _cleanup_free_ char *vcmd = NULL;
    _cleanup_free_ char *got = NULL;
    int64_t t0 = mr_now_ms();
    int64_t budget = (int64_t)run->m->install_timeout_s * 1000;
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int r = mr_ssh_upload(ssh, a->path, remote, 0644, budget, &e);
    if (r < 0) {
        step_error(c, r, "upload", &e);
        goto out;
    }
    cmd = mr_xasprintf(fam->install_cmd, remote);
    int64_t left = budget - (mr_now_ms() - t0);
    r = mr_ssh_exec(ssh, cmd, left > 0 ? left : 1, &x, &e);
    exec_output(c, &x);
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
    vcmd = mr_xasprintf(fam->version_cmd, run->m->pkg_name);
    mr_exec_release(&x);
    mr_exec_init(&x);
    left = budget - (mr_now_ms() - t0);
    r = mr_ssh_exec(ssh, vcmd, left > 0 ? left : 1, &x, &e);
    if (r < 0) {
        step_error(c, r, "version check", &e);
        goto out;
    }
    got = mr_xstrndup(x.out.data ? x.out.data : "", x.out.len);
    got[strcspn(got, "\r\n")] = '\0';
    if (x.exit_status != 0 || strcmp(got, run->m->pkg_version) != 0) {
        r = -EIO;
        mr_case_set(c, MR_VERDICT_ERROR, "version",
                    "install: package '%s' reports version '%s' after install, the matrix "
                    "expects '%s'",
                    run->m->pkg_name, got, run->m->pkg_version);
        goto out;
    }
    r = 0;
out:
    c->time_s = secs_since(t0);
    mr_exec_release(&x);
    mr_err_release(&e);
    return r;
}

static void run_test(struct run *run, const struct mr_test *t, struct mr_ssh *ssh,
                     struct mr_case *c, const char *cell)
{
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int64_t t0 = mr_now_ms();
    progress(run, cell, "test %s", t->name);
    int r = mr_ssh_exec(ssh, t->command, (int64_t)t->timeout_s * 1000, &x, &e);
    c->time_s = secs_since(t0);
    exec_output(c, &x);
    if (r == -ETIMEDOUT)
        mr_case_set(c, MR_VERDICT_ERROR, "timeout",
                    "test '%s' exceeded its timeout of %u s", t->name, t->timeout_s);
    else if (r < 0)
        step_error(c, r, "test", &e);
    else if (x.exit_signal)
        mr_case_set(c, MR_VERDICT_FAIL, "signal", "'%s' was killed by signal %s", t->command,
                    x.exit_signal);
    else if (x.exit_status != 0)
        mr_case_set(c, MR_VERDICT_FAIL, "exit-status", "'%s' exited with status %d",
                    t->command, x.exit_status);
    static const char *names[] = { "passed", "FAILED", "ERROR", "skipped" };
    progress(run, cell, "test %s: %s (%.1f s)", t->name, names[c->verdict], c->time_s);
    mr_exec_release(&x);
    mr_err_release(&e);
}

static void run_cell(struct run *run, const struct mr_image *img)
{
    const struct mr_matrix *m = run->m;
    const char *cell = img->name;
    struct mr_suite *s = mr_report_add_suite(run->report, cell);
    int64_t cell_t0 = mr_now_ms();
    _cleanup_free_ char *cls = mr_xasprintf("%s.%s", m->name, cell);
    struct mr_case *boot = mr_suite_add_case(s, cls, "boot");
    struct mr_case *install = mr_suite_add_case(s, cls, "install");
    for (size_t i = 0; i < m->n_tests; i++)
        (void)mr_suite_add_case(s, cls, m->tests[i].name);
    struct utsname un;
    if (uname(&un) == 0)
        s->hostname = mr_xstrdup(un.nodename);
    mr_suite_set_prop(s, "image", img->name);
    mr_suite_set_prop(s, "family", img->family);
    mr_suite_set_prop(s, "accel", mr_accel_name(run->accel));
    mr_suite_set_prop(s, "libvirt.uri", run->uri);
    mr_suite_set_prop(s, "run.id", run->run_id);
    _cleanup_free_ char *num = mr_xasprintf("%u", img->vcpus);
    mr_suite_set_prop(s, "vcpus", num);
    free(num);
    num = mr_xasprintf("%u", img->memory_mib);
    mr_suite_set_prop(s, "memory.mib", num);
    mr_suite_set_prop(s, "guest.kernel", "unknown");

    struct mr_err e = { 0 };
    struct mr_guest g;
    mr_guest_init(&g);
    struct mr_ssh *ssh = NULL;
    struct mr_sshkey hostkey = { 0 };
    _cleanup_free_ char *celldir = mr_xasprintf("%s/%s", run->outdir_abs, cell);
    _cleanup_free_ char *serial = mr_xasprintf("%s/serial.log", celldir);
    _cleanup_free_ char *xml = NULL;
    _cleanup_free_ char *cmdline = NULL;
    _cleanup_free_ char *domname = mr_xasprintf("mr-%s-%s", run->run_id, cell);
    int64_t t0 = mr_now_ms();
    int r;

    progress(run, cell, "preparing");
    if (!run->conn) {
        mr_case_set(boot, MR_VERDICT_ERROR, "infrastructure", "boot: no libvirt connection");
        goto fail;
    }
    if ((r = mr_mkdir_p(celldir, 0755)) < 0) {
        mr_case_set(boot, MR_VERDICT_ERROR, "infrastructure", "boot: cannot create '%s': %s",
                    celldir, strerror(-r));
        goto fail;
    }
    (void)unlink(serial);
    if (img->hostkey && (r = mr_sshkey_load_public(&hostkey, img->hostkey, &e)) < 0) {
        step_error(boot, r, "boot", &e);
        goto fail;
    }
    if (img->disk) {
        g.overlay = mr_xasprintf("%s/%s.qcow2", run->workdir, cell);
        if ((r = mr_guest_overlay_create(img->disk, g.overlay, &e)) < 0) {
            step_error(boot, r, "boot", &e);
            goto fail;
        }
    }
    int port = mr_guest_free_port();
    if (port < 0) {
        mr_case_set(boot, MR_VERDICT_ERROR, "infrastructure",
                    "boot: no free port on 127.0.0.1: %s", strerror(-port));
        goto fail;
    }
    cmdline = mr_xasprintf("%s matrixrun.authorized_key=%s:%s",
                           img->cmdline ? img->cmdline : "console=ttyS0", run->key.type,
                           run->key.blob_b64);
    struct mr_domain_spec spec = {
        .name = domname, .run_id = run->run_id, .cell = cell, .run_dir = run->workdir,
        .accel = run->accel, .memory_mib = img->memory_mib, .vcpus = img->vcpus,
        .disk = g.overlay, .kernel = img->kernel, .initrd = img->initrd, .cmdline = cmdline,
        .serial_log = serial, .ssh_port = port,
    };
    if (!(xml = mr_domxml_build(&spec, &e))) {
        step_error(boot, -EINVAL, "boot", &e);
        goto fail;
    }
    progress(run, cell, "booting (%s, %u vCPU, %u MiB, ssh on 127.0.0.1:%d)",
             mr_accel_name(run->accel), img->vcpus, img->memory_mib, port);
    t0 = mr_now_ms();
    if ((r = mr_guest_start(&g, run->conn, xml, &e)) < 0) {
        step_error(boot, r, "boot", &e);
        goto fail;
    }
    struct mr_ssh_target target = {
        .host = "127.0.0.1", .port = port, .user = img->user, .key = &run->key,
        .pinned_host = img->hostkey ? &hostkey : NULL,
    };
    r = mr_ssh_connect(&target, t0 + (int64_t)img->boot_timeout_s * 1000, &ssh, &e);
    boot->time_s = secs_since(t0);
    if (r < 0) {
        if (r == -ETIMEDOUT)
            mr_case_set(boot, MR_VERDICT_ERROR, "timeout",
                        "boot: the guest did not answer SSH within its boot timeout of %u s: %s",
                        img->boot_timeout_s, mr_err_msg(&e));
        else
            step_error(boot, r, "boot", &e);
        _cleanup_free_ char *tail = serial_tail(serial);
        mr_case_set_out(boot, tail, strlen(tail));
        goto fail;
    }
    progress(run, cell, "ssh ready after %.1f s", boot->time_s);
    struct mr_exec x;
    mr_exec_init(&x);
    if (mr_ssh_exec(ssh, "uname -r", 30000, &x, &e) == 0 && x.exit_status == 0 && x.out.len) {
        x.out.data[strcspn(x.out.data, "\r\n")] = '\0';
        mr_suite_set_prop(s, "guest.kernel", x.out.data);
    }
    mr_exec_release(&x);
    {
        _cleanup_free_ char *msg = mr_xasprintf(
            "SSH ready %.1f s after the guest started; serial console log: %s\n", boot->time_s,
            serial);
        mr_case_set_out(boot, msg, strlen(msg));
    }

    progress(run, cell, "installing %s %s", m->pkg_name, m->pkg_version);
    if (do_install(run, img, ssh, install) < 0)
        goto fail;
    progress(run, cell, "installed (%.1f s)", install->time_s);

    for (size_t i = 0; i < m->n_tests; i++) {
        struct mr_case *c = s->cases[2 + i];
        run_test(run, &m->tests[i], ssh, c, cell);
        if (mr_interrupted) {
            skip_rest(s, 3 + i, "the run was interrupted");
            break;
        }
        if (c->verdict == MR_VERDICT_ERROR && (c->type && strcmp(c->type, "timeout") != 0)) {
            /* The connection is gone: the other tests cannot run. */
            skip_rest(s, 3 + i, "the SSH connection failed");
            break;
        }
    }
    goto done;
fail:
    for (size_t i = 0; i < s->n_cases; i++) {
        if (s->cases[i]->verdict == MR_VERDICT_ERROR) {
            _cleanup_free_ char *why = mr_xasprintf("%s failed", s->cases[i]->name);
            skip_rest(s, i + 1, why);
            progress(run, cell, "ERROR %s", s->cases[i]->message);
            break;
        }
    }
done:
    mr_ssh_free(ssh);
    mr_guest_release(&g);
    mr_sshkey_release(&hostkey);
    mr_err_release(&e);
    s->time_s = secs_since(cell_t0);
    progress(run, cell, "done in %.1f s", s->time_s);
}

/* A cell that never started: one boot testcase saying why. */
static void add_unrun_cell(struct run *run, const struct mr_image *img, enum mr_verdict v,
                           const char *type, const char *why)
{
    struct mr_suite *s = mr_report_add_suite(run->report, img->name);
    _cleanup_free_ char *cls = mr_xasprintf("%s.%s", run->m->name, img->name);
    struct mr_case *c = mr_suite_add_case(s, cls, "boot");
    mr_case_set(c, v, type, "%s%s", v == MR_VERDICT_ERROR ? "boot: " : "", why);
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
    _cleanup_free_ char *keydir = NULL;
    _cleanup_free_ char *comment = NULL;
    int r;
    memset(res, 0, sizeof(*res));
    run.uri = o->uri ? o->uri : m->uri;
    run.accel = o->accel >= 0 ? (enum mr_accel)o->accel : m->accel;
    const char *outdir = o->outdir ? o->outdir : "reports";
    if ((r = mr_mkdir_p(outdir, 0755)) < 0 || access(outdir, W_OK) < 0) {
        mr_err_set(err, "cannot write reports to '%s': %s", outdir,
                   strerror(r < 0 ? -r : errno));
        return -EINVAL;
    }
    run.outdir_abs = abs_path(outdir);
    run.run_id = make_run_id();
    const char *base = o->workdir_base ? o->workdir_base : getenv("MATRIXRUN_WORKDIR");
    run.workdir = mr_xasprintf("%s/%s", base && base[0] ? base : "/var/tmp/matrixrun",
                               run.run_id);
    /* QEMU runs as its own user and must reach the overlays: the work folder is
     * searchable by all, the key folder inside it is private. */
    if ((r = mr_mkdir_p(run.workdir, 0755)) < 0) {
        mr_err_set(err, "cannot create work folder '%s': %s", run.workdir, strerror(-r));
        r = -EINVAL;
        goto out;
    }
    run.report = mr_report_new(m->name);
    progress(&run, NULL, "run %s: %zu cell(s), reports in %s", run.run_id, m->n_images,
             run.outdir_abs);

    keydir = mr_xasprintf("%s/ssh", run.workdir);
    comment = mr_xasprintf("matrixrun-%s", run.run_id);
    run.conn = mr_guest_connect(run.uri, &setup);
    if (run.conn) {
        run.accel = mr_guest_resolve_accel(run.conn, run.accel);
        if (mr_sshkey_generate(&run.key, keydir, comment, &setup) < 0) {
            virConnectClose(run.conn);
            run.conn = NULL;
        }
    }
    if (!run.conn)
        progress(&run, NULL, "ERROR %s", mr_err_msg(&setup));
    for (size_t i = 0; i < m->n_images; i++) {
        /* Every cell appears in the report, even those never started. */
        if (mr_interrupted)
            add_unrun_cell(&run, &m->images[i], MR_VERDICT_SKIP, NULL,
                           "not run: the run was interrupted");
        else if (!run.conn)
            add_unrun_cell(&run, &m->images[i], MR_VERDICT_ERROR, "infrastructure",
                           mr_err_msg(&setup));
        else
            run_cell(&run, &m->images[i]);
    }
    mr_err_release(&setup);
    if (run.conn)
        virConnectClose(run.conn);

    res->junit_path = mr_xasprintf("%s/junit.xml", run.outdir_abs);
    r = mr_junit_write(run.report, res->junit_path, err);
    res->report = MR_TAKE_PTR(run.report);
    res->run_id = MR_TAKE_PTR(run.run_id);
    res->interrupted = mr_interrupted != 0;
out:
    /* The private key lives only in the work folder and goes with it. */
    mr_sshkey_release(&run.key);
    if (run.workdir)
        (void)mr_rm_rf(run.workdir);
    free(run.workdir);
    free(run.outdir_abs);
    free(run.run_id);
    mr_report_free(run.report);
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
