/* cell.c: one cell of the run as named phases (prepare, boot, install, tests, benchmark,
 * collect, teardown), each a function with one job and a struct mr_cell_run carrying the
 * state between them; a phase that stops the cell skips the testcases after its own; and
 * the retries of a cell whose boot failed. */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "family.h"
#include "host.h"
#include "hostprobe.h"
#include "leftover.h"
#include "seed.h"
#include "tunnel.h"

/* Output of a failed boot carries this much of the end of the serial console. */
#define SERIAL_TAIL_BYTES 8192

void mr_cell_stop_after(struct mr_suite *s, const struct mr_case *c, int interrupted)
{
    _cleanup_free_ char *why = interrupted || c->verdict == MR_VERDICT_SKIP
                                   ? mr_xstrdup("the run was interrupted")
                                   : mr_xasprintf("%s failed", c->name);
    size_t i = 0;
    while (i < s->n_cases && s->cases[i] != c)
        i++;
    for (i++; i < s->n_cases; i++)
        if (s->cases[i]->verdict == MR_VERDICT_PASS)
            mr_case_set(s->cases[i], MR_VERDICT_SKIP, NULL, "not run: %s", why);
}

/* Ends the cell's phases at case c (mr_cell_stop_after). Returns -1, for the phase to
 * return. */
static int cell_stop(struct mr_cell_run *cl, const struct mr_case *c, int interrupted)
{
    mr_cell_stop_after(cl->s, c, interrupted);
    return -1;
}

/* A step before the tests failed at case c: tells its error and stops the cell. */
static int cell_fail(struct mr_cell_run *cl, const struct mr_case *c)
{
    if (c->verdict == MR_VERDICT_ERROR)
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "ERROR %s", c->message);
    return cell_stop(cl, c, 0);
}

int mr_cell_fail(struct mr_cell_run *cl, const struct mr_case *c)
{
    return cell_fail(cl, c);
}

void mr_cell_step_error(struct mr_case *c, int r, const char *step, const char *why)
{
    const char *type = r == -ETIMEDOUT ? "timeout" : r == -EINTR ? "interrupted" : "infrastructure";
    mr_case_set(c, MR_VERDICT_ERROR, type, "%s: %s", step, why);
}

void mr_cell_exec_output(struct mr_case *c, const struct mr_exec *x)
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

enum mr_network mr_cell_network(const struct mr_cell_run *cl)
{
    int o = cl->run->o->network;
    return o > 0 ? (enum mr_network)(o - 1) : cl->img->network;
}

char *mr_cell_expand(const struct mr_cell_run *cl, const char *tmpl, const char *artifact)
{
    struct mr_family_vars v = { .artifact = artifact, .package = cl->run->m->pkg_name,
                                .user = cl->img->user };
    return mr_family_expand(cl->fam, tmpl, &v);
}

char *mr_cell_expand_log(const struct mr_cell_run *cl, const char *tmpl)
{
    struct mr_family_vars v = { .package = cl->run->m->pkg_name, .user = cl->img->user };
    return mr_family_expand_log(cl->fam, tmpl, &v);
}

/* ---- the attempt's suite ---- */

/* The suite of the attempt and its testcases, in the order they run. */
static void cell_open(struct mr_cell_run *cl, struct mr_run_slot *sl)
{
    const struct mr_matrix *m = sl->run->m;
    const struct mr_cell *mc = sl->cell;
    *cl = (struct mr_cell_run){ .run = sl->run, .host = sl->host, .cell = mc, .img = mc->img,
                                .fam = mc->img->fam, .name = mc->id, .deadline_ms = INT64_MAX,
                                .t_prepare = -1, .t_slot = -1, .port = -1 };
    mr_buf_init(&cl->manifest);
    mr_guest_init(&cl->g);
    /* A guest that may be kept must not go with matrixrun's connection. Kept guests are
     * local only: a remote host's cell has no port on this machine to log in through. */
    if (cl->run->o->keep != MR_KEEP_NONE && !cl->host->pool)
        cl->g.autodestroy = 0;
    cl->s = mr_report_add_suite(sl->rep, cl->name);
    cl->t0_ms = mr_now_ms();
    if (m->cell_timeout_s)
        cl->deadline_ms = cl->t0_ms + (int64_t)m->cell_timeout_s * 1000;
    _cleanup_free_ char *cls = mr_xasprintf("%s.%s", m->name, cl->name);
    cl->boot = mr_suite_add_case(cl->s, cls, MR_CASE_BOOT);
    cl->install = mr_suite_add_case(cl->s, cls, MR_CASE_INSTALL);
    cl->tests = mr_xcalloc(m->n_tests ? m->n_tests : 1, sizeof(*cl->tests));
    for (size_t i = 0; i < m->n_tests; i++)
        cl->tests[i] = mr_suite_add_case(cl->s, cls, m->tests[i].name);
    cl->bench = m->bench.enabled ? mr_suite_add_case(cl->s, cls, MR_CASE_BENCHMARK_CPU) : NULL;
    cl->domname = mr_xasprintf("mr-%s-%s", cl->run->run_id, cl->name);
    cl->celldir = mr_xasprintf("%s/%s", cl->run->outdir_abs, cl->name);
    cl->serial = mr_xasprintf("%s/serial.log", cl->celldir);
    /* A remote host shares no folder with matrixrun: the cell's files go to its pool. */
    mr_remote_store_init(&cl->rs, cl->host->pool, cl->domname);
}

/* What the report says about the cell besides its verdicts. */
static void cell_properties(struct mr_cell_run *cl)
{
    struct mr_suite *s = cl->s;
    const struct mr_run_host *host = cl->host;
    const struct mr_image *img = cl->img;
    s->hostname = mr_xstrdup(host->hostname);
    mr_suite_set_prop(s, MR_PROP_IMAGE, img->name);
    mr_suite_set_prop(s, MR_PROP_FAMILY, img->family);
    if (img->os_version)
        mr_suite_set_prop(s, MR_PROP_OS_VERSION, img->os_version);
    mr_suite_set_prop(s, MR_PROP_ACCEL, mr_accel_name(host->accel));
    mr_suite_set_prop(s, MR_PROP_LIBVIRT_URI, host->uri);
    mr_suite_set_prop(s, MR_PROP_HOST, host->hostname);
    mr_suite_set_prop(s, MR_PROP_RUN_ID, cl->run->run_id);
    mr_pipeline_set_uint(s, MR_PROP_VCPUS, cl->cell->vcpus);
    mr_pipeline_set_uint(s, MR_PROP_MEMORY_MIB, cl->cell->memory_mib);
    for (size_t i = 0; i < cl->cell->n_env; i++) {
        _cleanup_free_ char *pn = mr_xasprintf("%s%s", MR_PROP_ENV_PREFIX, cl->cell->env[i].name);
        mr_suite_set_prop(s, pn, cl->cell->env[i].value);
    }
    mr_suite_set_prop(s, MR_PROP_GUEST_KERNEL, MR_PROP_UNKNOWN);
    /* The host's side, for comparing overheads across hosts (this machine's only: a
     * remote host's kernel and CPU are not visible through libvirt alone). */
    if (!host->tunnel && mr_tunnel_uri_is_remote(host->uri) != 1) {
        char hk[256];
        mr_hostprobe_kernel(hk, sizeof(hk));
        mr_suite_set_prop(s, MR_PROP_HOST_KERNEL, hk);
        _cleanup_free_ char *model = mr_hostprobe_cpu_model();
        mr_suite_set_prop(s, MR_PROP_HOST_CPU_MODEL, model ? model : MR_PROP_UNKNOWN);
        mr_suite_set_prop(s, MR_PROP_HOST_NESTED, mr_hostprobe_nested());
    }
    mr_suite_set_prop(s, MR_PROP_NETWORK, mr_network_name(mr_cell_network(cl)));
    mr_suite_set_prop(s, MR_PROP_PROVISIONING, img->login_key ? "pre-provisioned login"
                                               : img->hostkey ? "kernel command line"
                                                              : mr_family_provisioning(cl->fam));
}

/* ---- prepare ---- */

static char *random_mac(void)
{
    unsigned char b[3];
    mr_random(b, sizeof(b));
    return mr_xasprintf("52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
}

char *mr_cell_host_name(const char *cell)
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

/* Renders the guest's seed for its new host key and writes the seed image. */
static int cell_write_seed(struct mr_cell_run *cl, const char *priv, const char *extra,
                           const char *password, struct mr_err *e)
{
    _cleanup_free_ char *instance = mr_xasprintf("mr-%s-%s", cl->run->run_id, cl->name);
    _cleanup_free_ char *hostname = mr_cell_host_name(cl->name);
    struct mr_seed_files f = { 0 };
    const struct mr_family_seed *sd = mr_family_seed_entry(cl->fam, cl->img->os_version);
    struct mr_seed_spec spec = {
        .kind = cl->fam->seed, .instance_id = instance, .hostname = hostname,
        .user = cl->img->user, .user_pubkey = mr_cell_user_key(cl)->pub_line, .host_privkey = priv,
        .host_pubkey = cl->hostkey.pub_line, .mac = cl->mac, .extra_cloud_config = extra,
        .windows_password = password, .powershell = sd->powershell, .sshd_source = sd->sshd,
        .sshd_package = cl->img->sshd_package,
    };
    int r = mr_seed_render(&spec, &f, e);
    if (r == 0) {
        cl->seed_iso = mr_xasprintf("%s/%s-seed.iso", cl->run->workdir, cl->name);
        r = mr_seed_write_iso(cl->seed_iso, &f, e);
    }
    mr_seed_files_release(&f);
    return r;
}

/* Makes the guest's host key and its NoCloud seed. The private key exists on disk only
 * inside the seed image, which goes with the cell. */
static int cell_make_seed(struct mr_cell_run *cl, struct mr_err *e)
{
    _cleanup_free_ char *keydir = mr_xasprintf("%s/%s.hostkey", cl->run->workdir, cl->name);
    _cleanup_free_ char *comment = mr_xasprintf("matrixrun-host-%s", cl->name);
    _cleanup_free_ char *priv = NULL, *extra = NULL, *password = NULL;
    size_t len;
    int r = mr_sshkey_generate(&cl->hostkey, keydir, mr_cell_keytype(cl), comment, e);
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
    password = mr_family_seed_password(cl->fam);
    r = cell_write_seed(cl, priv, extra, password, e);
out:
    if (priv)
        explicit_bzero(priv, strlen(priv));
    if (password)
        explicit_bzero(password, strlen(password));
    (void)mr_rm_rf(keydir);
    free(cl->hostkey.priv_path);
    cl->hostkey.priv_path = NULL;
    return r;
}

/* The guest's disk and files: a remote host's in its pool, a local one's in the run's
 * work folder. */
static int cell_make_files(struct mr_cell_run *cl, struct mr_err *e)
{
    const struct mr_image *img = cl->img;
    int r = 0;
    if (img->disk && cl->host->pool) {
        r = mr_remote_store_overlay(&cl->rs, img->disk, e);
    } else if (img->disk) {
        cl->g.overlay = mr_xasprintf("%s/%s.qcow2", cl->run->workdir, cl->name);
        r = mr_guest_overlay_create(img->disk, cl->g.overlay, e);
    }
    if (r >= 0 && cl->seed_iso && cl->host->pool)
        r = mr_remote_store_seed(&cl->rs, cl->seed_iso, e);
    if (r >= 0 && cl->host->pool)
        r = mr_remote_store_serial(&cl->rs, e);
    return r;
}

char *mr_cell_domain_xml(struct mr_cell_run *cl, struct mr_err *e)
{
    const struct mr_image *img = cl->img;
    const struct mr_run *run = cl->run;
    const struct mr_run_host *host = cl->host;
    _cleanup_free_ char *cmdline = NULL;
    /* Images with a baked host key read the run's key from the kernel command line. */
    if (img->kernel && img->hostkey && !img->login_key)
        cmdline = mr_xasprintf("%s matrixrun.authorized_key=%s:%s",
                               img->cmdline ? img->cmdline : "console=ttyS0",
                               mr_cell_user_key(cl)->type, mr_cell_user_key(cl)->blob_b64);
    else if (img->kernel)
        cmdline = mr_xstrdup(img->cmdline ? img->cmdline : "console=ttyS0");
    struct mr_domain_spec spec = {
        .name = cl->domname, .run_id = run->run_id, .cell = cl->name, .run_dir = run->workdir,
        .controller = mr_controller_id(),
        .accel = host->accel, .memory_mib = cl->cell->memory_mib, .vcpus = cl->cell->vcpus,
        .disk = host->pool ? cl->rs.overlay_path : cl->g.overlay, .kernel = img->kernel,
        .initrd = img->initrd, .cmdline = cmdline,
        .serial_log = host->pool ? cl->rs.serial_path : cl->serial, .ssh_port = cl->port,
        .seed_iso = host->pool ? cl->rs.seed_path : cl->tpl ? cl->tpl->seed_iso : cl->seed_iso,
        .mac = cl->mac, .outbound = mr_cell_network(cl) == MR_NETWORK_OUTBOUND,
        .incoming = cl->tpl != NULL,
    };
    return mr_domxml_build(&spec, e);
}

int mr_cell_load_login(struct mr_cell_run *cl, struct mr_err *e)
{
    if (!cl->img->login_key)
        return 0;
    /* The image's own key: its public half names the type, the private stays where it
     * is (never copied into the work folder, a report or an archive). */
    _cleanup_free_ char *pub = mr_xasprintf("%s.pub", cl->img->login_key);
    int r = mr_sshkey_load_public(&cl->login, pub, e);
    if (r >= 0)
        cl->login.priv_path = mr_xstrdup(cl->img->login_key);
    return r;
}

void mr_cell_drop_guest(struct mr_cell_run *cl)
{
    mr_cell_disconnect(cl);
    mr_guest_release(&cl->g);
    mr_sshkey_release(&cl->hostkey);
    mr_sshkey_release(&cl->login);
    free(cl->domxml);
    free(cl->mac);
    cl->domxml = cl->mac = NULL;
    cl->tpl = NULL;
}

int mr_cell_prepare_guest(struct mr_cell_run *cl, struct mr_err *e)
{
    int r;
    cl->mac = random_mac();
    if (cl->img->hostkey)
        r = mr_sshkey_load_public(&cl->hostkey, cl->img->hostkey, e);
    else
        r = cell_make_seed(cl, e);
    if (r >= 0)
        r = mr_cell_load_login(cl, e);
    if (r >= 0)
        r = cell_make_files(cl, e);
    if (r >= 0 && !(cl->domxml = mr_cell_domain_xml(cl, e)))
        r = -EINVAL;
    return r;
}

/* Prepare: the cell's folder and port, then its guest, cold or warm. */
static int cell_prepare(struct mr_cell_run *cl)
{
    struct mr_err e = { 0 };
    int r;
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "preparing");
    if ((r = mr_mkdir_p(cl->celldir, 0755)) < 0) {
        mr_case_set(cl->boot, MR_VERDICT_ERROR, "infrastructure", "boot: cannot create '%s': %s",
                    cl->celldir, strerror(-r));
        return cell_fail(cl, cl->boot);
    }
    (void)unlink(cl->serial);
    if ((cl->port = mr_sched_take_port(cl->run, cl->host)) < 0) {
        mr_case_set(cl->boot, MR_VERDICT_ERROR, "infrastructure",
                    "boot: no free port on 127.0.0.1: %s", strerror(-cl->port));
        return cell_fail(cl, cl->boot);
    }
    if (mr_warm_wanted(cl)) {
        r = mr_warm_prepare(cl);
        if (r <= 0)
            return r;
        /* The template is there but this cell could not be set up on it: cold then. */
    }
    if ((r = mr_cell_prepare_guest(cl, &e)) < 0) {
        mr_cell_step_error(cl->boot, r, "boot", mr_err_msg(&e));
        mr_err_release(&e);
        return cell_fail(cl, cl->boot);
    }
    return 0;
}

/* ---- boot ---- */

/* The log's last SERIAL_TAIL_BYTES, read from there: a guest may have written any amount
 * to its console. */
static char *serial_tail(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        return mr_xasprintf("(no serial console log at '%s')", path);
    }
    off_t from = st.st_size > SERIAL_TAIL_BYTES ? st.st_size - SERIAL_TAIL_BYTES : 0;
    char buf[SERIAL_TAIL_BYTES];
    ssize_t n;
    do
        n = pread(fd, buf, sizeof(buf), from);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0)
        return mr_xasprintf("(cannot read the serial console log '%s': %s)", path, strerror(e));
    return mr_xasprintf("last %zd bytes of the serial console (%s):\n%.*s", n, path, (int)n,
                        buf);
}

/* The boot case's error when the guest never answered: cut says the cell's time limit,
 * not the image's boot timeout, bounded the wait. */
static void boot_error(struct mr_cell_run *cl, int r, int cut, const char *why)
{
    if (r == -ETIMEDOUT && cut)
        mr_case_set(cl->boot, MR_VERDICT_ERROR, "timeout",
                    "boot: the cell's time limit of %u s (matrix cell-timeout) ran out "
                    "before the guest answered SSH: %s",
                    cl->run->m->cell_timeout_s, why);
    else if (r == -ETIMEDOUT)
        mr_case_set(cl->boot, MR_VERDICT_ERROR, "timeout",
                    "boot: the guest did not answer SSH within its boot timeout of %u s%s: %s",
                    cl->img->boot_timeout_s,
                    cl->seed_iso ? " (if the serial log shows no cloud-init run, or "
                                   "cloud-init rejected the seed, the guest never gets "
                                   "the user, key and host key)"
                                 : "",
                    why);
    else if (r == -EPERM)
        mr_case_set(cl->boot, MR_VERDICT_ERROR, "refused", "boot: %s", why);
    else if (r == -ECANCELED) /* the seed script stopped: another attempt would too */
        mr_case_set(cl->boot, MR_VERDICT_ERROR, "seed", "boot: %s", why);
    else
        mr_cell_step_error(cl->boot, r, "boot", why);
}

/* For guests whose seed is read by a program that goes on after SSH answers: waits for
 * it, so that installs do not race its package runs. */
static void wait_for_seed(struct mr_cell_run *cl)
{
    const struct mr_family_seed_wait *w = mr_family_seed_wait(cl->fam);
    if (!cl->seed_iso || !w)
        return;
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "waiting for %s to finish",
                         w->program);
    int64_t left = cl->boot_deadline_ms - mr_now_ms();
    int r = mr_cell_exec(cl, w->command, left > 30000 ? left : 30000, &x, &e);
    const char *st = r < 0                  ? "unknown"
                     : x.exit_status == 0   ? "done"
                     : x.exit_status == 127 ? "absent"
                                            : "error";
    mr_suite_set_prop(cl->s, w->property, st);
    if (r == 0 && x.exit_status != 0 && x.exit_status != 127)
        mr_buf_addf(&cl->manifest, "%s exited with %d: see %s\n", w->command, x.exit_status,
                    w->log);
    mr_exec_release(&x);
    mr_err_release(&e);
}

int mr_cell_boot_cold(struct mr_cell_run *cl)
{
    struct mr_run_host *host = cl->host;
    struct mr_err e = { 0 };
    cl->t_slot = mr_sched_wait_boot_slot(cl->run, cl->name);
    if (mr_interrupted) {
        mr_case_set(cl->boot, MR_VERDICT_SKIP, NULL, "not run: the run was interrupted");
        return cell_fail(cl, cl->boot);
    }
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name,
                         "booting (%s, %u vCPU, %u MiB, ssh on 127.0.0.1:%d%s%s%s)",
                         mr_accel_name(host->accel), cl->cell->vcpus, cl->cell->memory_mib,
                         cl->port, host->tunnel ? " of " : "",
                         host->tunnel ? mr_tunnel_name(host->tunnel) : "",
                         cl->seed_iso ? ", seeded" : "");
    cl->boot_t0_ms = mr_now_ms();
    cl->t_prepare = cl->boot_t0_ms - cl->t0_ms;
    int r = mr_guest_start(&cl->g, host->conn, cl->domxml, &e);
    if (r < 0) {
        mr_cell_step_error(cl->boot, r, "boot", mr_err_msg(&e));
        mr_err_release(&e);
        return cell_fail(cl, cl->boot);
    }
    cl->boot_deadline_ms = cl->boot_t0_ms + (int64_t)cl->img->boot_timeout_s * 1000;
    int cut = cl->boot_deadline_ms > cl->deadline_ms;
    if (cut)
        cl->boot_deadline_ms = cl->deadline_ms;
    r = mr_cell_connect(cl, cl->boot_deadline_ms, &e);
    cl->boot->time_s = mr_secs_since(cl->boot_t0_ms);
    if (r < 0) {
        cl->out_of_time = r == -ETIMEDOUT && cut;
        boot_error(cl, r, cut, mr_err_msg(&e));
        mr_err_release(&e);
        mr_cell_fetch_serial(cl);
        _cleanup_free_ char *tail = serial_tail(cl->serial);
        mr_case_set_out(cl->boot, tail, strlen(tail));
        return cell_fail(cl, cl->boot);
    }
    mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "ssh ready after %.1f s",
                         cl->boot->time_s);
    /* Families whose logs are not batched ask for the kernel now, the others with them. */
    if (!mr_family_batches_logs(cl->fam))
        mr_cell_query_kernel(cl);
    wait_for_seed(cl);
    _cleanup_free_ char *msg = mr_xasprintf(
        "%s%s%sSSH ready %.1f s after the guest started; serial console log: %s\n",
        cl->restore_failed ? "warm start: the restore failed (" : "",
        cl->restore_failed ? cl->restore_failed : "",
        cl->restore_failed ? "), so the guest was booted cold\n" : "", cl->boot->time_s,
        cl->serial);
    mr_case_set_out(cl->boot, msg, strlen(msg));
    return 0;
}

/* A warm cell whose restore failed: its guest and overlay go, and it boots cold. */
static int boot_after_failed_restore(struct mr_cell_run *cl, const char *why)
{
    struct mr_err e = { 0 };
    mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name,
                         "restore failed (%s); booting cold instead", why);
    cl->restore_failed = mr_xstrdup(why);
    mr_suite_set_prop(cl->s, MR_PROP_BOOT_MODE, "cold-after-failed-restore");
    mr_cell_drop_guest(cl);
    (void)unlink(cl->serial);
    int r = mr_cell_prepare_guest(cl, &e);
    if (r < 0) {
        mr_cell_step_error(cl->boot, r, "boot", mr_err_msg(&e));
        mr_err_release(&e);
        return cell_fail(cl, cl->boot);
    }
    return mr_cell_boot_cold(cl);
}

/* Boot: a warm cell's restore, else (or when that fails) the cold boot. */
static int cell_boot(struct mr_cell_run *cl)
{
    if (!cl->tpl) {
        mr_suite_set_prop(cl->s, MR_PROP_BOOT_MODE,
                          cl->restore_failed ? "cold-after-failed-restore" : "cold");
        return mr_cell_boot_cold(cl);
    }
    struct mr_err e = { 0 };
    int r = mr_warm_restore(cl, &e);
    if (r == 0)
        return 0;
    if (mr_interrupted) {
        mr_case_set(cl->boot, MR_VERDICT_SKIP, NULL, "not run: the run was interrupted");
        mr_err_release(&e);
        return cell_fail(cl, cl->boot);
    }
    _cleanup_free_ char *why = mr_xstrdup(mr_err_msg(&e));
    mr_err_release(&e);
    return boot_after_failed_restore(cl, why);
}

/* ---- install ---- */

/* Keeps the install command's output for the artifacts archive. */
static void keep_install_output(struct mr_cell_run *cl, const char *cmd, const struct mr_exec *x)
{
    cl->install_out = mr_xasprintf("$ %s\n%.*s%s%.*s", cmd, (int)x->out.len,
                                   x->out.data ? x->out.data : "",
                                   x->err.len ? "\n[stderr]\n" : "", (int)x->err.len,
                                   x->err.data ? x->err.data : "");
    cl->install_out_len = strlen(cl->install_out);
}

/* Checks that the package reports the version the matrix expects. */
static int check_version(struct mr_cell_run *cl, const char *vcmd, int64_t timeout_ms,
                         const char *want)
{
    struct mr_case *c = cl->install;
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int r = mr_cell_exec(cl, vcmd, timeout_ms, &x, &e);
    if (r < 0) {
        mr_cell_step_error(c, r, "version check", mr_err_msg(&e));
    } else {
        _cleanup_free_ char *got = mr_xstrndup(x.out.data ? x.out.data : "", x.out.len);
        got[strcspn(got, "\r\n")] = '\0';
        if (x.exit_signal || x.exit_status != 0 || strcmp(got, want) != 0) {
            r = -EIO;
            mr_case_set(c, MR_VERDICT_ERROR, "version",
                        "install: package '%s' reports version '%s' after install, the "
                        "matrix expects '%s' (asked with '%s', exit status %d)",
                        cl->run->m->pkg_name, got, want, vcmd, x.exit_status);
        }
    }
    mr_exec_release(&x);
    mr_err_release(&e);
    return r;
}

/* The install error's message: the command and how it ended, and when its output names
 * a dependency the guest could not find, which one and the two ways to give it one. */
static void install_failed(struct mr_cell_run *cl, const char *cmd, const struct mr_exec *x)
{
    _cleanup_free_ char *how =
        x->exit_signal ? mr_xasprintf("was killed by signal %s", x->exit_signal)
                       : mr_xasprintf("exited with status %d", x->exit_status);
    _cleanup_free_ char *out = mr_xasprintf("%.*s\n%.*s", (int)x->out.len,
                                            x->out.data ? x->out.data : "", (int)x->err.len,
                                            x->err.data ? x->err.data : "");
    _cleanup_free_ char *dep = mr_family_missing_dependency(out);
    if (!dep) {
        mr_case_set(cl->install, MR_VERDICT_ERROR, "install", "install: '%s' %s", cmd, how);
        return;
    }
    if (mr_cell_network(cl) == MR_NETWORK_ISOLATED)
        mr_case_set(cl->install, MR_VERDICT_ERROR, "install",
                    "install: '%s' %s: the package needs '%s', which the guest does not have, "
                    "and the cell is isolated (no network: it cannot fetch it from its "
                    "mirrors); give the packages it needs as <depends path=\"...\"/> of the "
                    "<artifact>, or let the guest reach its mirrors with <image "
                    "network=\"outbound\"> (or --network outbound)",
                    cmd, how, dep);
    else
        mr_case_set(cl->install, MR_VERDICT_ERROR, "install",
                    "install: '%s' %s: the package needs '%s', which the guest's package "
                    "sources do not provide; give it as <depends path=\"...\"/> of the "
                    "<artifact>",
                    cmd, how, dep);
}

/* Uploads the artifact and the packages it needs, and runs the family's install command
 * on all of them at once (one transaction). */
static int install_artifact(struct mr_cell_run *cl, const struct mr_artifact *a,
                            const char *remote, int64_t deadline)
{
    struct mr_case *c = cl->install;
    const char *tmpl = mr_family_install_template(cl->fam, cl->img->os_version);
    char **deps = mr_xcalloc(a->n_deps + 1, sizeof(*deps));
    for (size_t i = 0; i < a->n_deps; i++)
        deps[i] = mr_family_remote_path(cl->fam, a->deps[i]);
    struct mr_family_vars v = { .artifact = remote, .package = cl->run->m->pkg_name,
                                .user = cl->img->user, .deps = (const char *const *)deps,
                                .n_deps = a->n_deps };
    _cleanup_free_ char *cmd = mr_family_expand(cl->fam, tmpl, &v);
    struct mr_err e = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int r = mr_cell_upload(cl, a->path, remote, 0644, deadline - mr_now_ms(), &e);
    for (size_t i = 0; r >= 0 && i < a->n_deps; i++)
        r = mr_cell_upload(cl, a->deps[i], deps[i], 0644, deadline - mr_now_ms(), &e);
    if (r < 0) {
        mr_cell_step_error(c, r, "upload", mr_err_msg(&e));
        goto out;
    }
    r = mr_cell_exec(cl, cmd, deadline - mr_now_ms(), &x, &e);
    mr_cell_exec_output(c, &x);
    keep_install_output(cl, cmd, &x);
    if (r < 0) {
        mr_cell_step_error(c, r, "install", mr_err_msg(&e));
    } else if (x.exit_signal || x.exit_status != 0) {
        r = -EIO;
        install_failed(cl, cmd, &x);
    }
out:
    for (size_t i = 0; i < a->n_deps; i++)
        free(deps[i]);
    free(deps);
    mr_exec_release(&x);
    mr_err_release(&e);
    return r;
}

/* Install: the artifact uploaded, installed and its version checked, within the
 * matrix's install timeout. */
static int cell_install(struct mr_cell_run *cl)
{
    const struct mr_matrix *m = cl->run->m;
    const struct mr_artifact *a = mr_matrix_artifact(m, cl->img->family);
    const char *want = mr_matrix_expected_version(m, a);
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "installing %s %s", m->pkg_name,
                         want);
    _cleanup_free_ char *remote = mr_family_remote_path(cl->fam, a->path);
    _cleanup_free_ char *vcmd = mr_cell_expand(cl, cl->fam->version_cmd, remote);
    int64_t t0 = mr_now_ms();
    int64_t deadline = t0 + (int64_t)m->install_timeout_s * 1000;
    int r = install_artifact(cl, a, remote, deadline);
    if (r == 0)
        r = check_version(cl, vcmd, deadline - mr_now_ms(), want);
    cl->install->time_s = mr_secs_since(t0);
    if (r < 0)
        return cell_fail(cl, cl->install);
    mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "installed (%.1f s)",
                         cl->install->time_s);
    return 0;
}

/* ---- tests ---- */

int mr_cell_test_verdict(struct mr_case *c, const struct mr_test *t,
                         const struct mr_cell_test_end *end)
{
    const struct mr_exec *x = end->x;
    if (end->r == -ETIMEDOUT && end->deadline_hit) {
        mr_case_set(c, MR_VERDICT_ERROR, "timeout", "test '%s': %s", t->name, end->why);
        return -1;
    }
    if (end->r == -ETIMEDOUT) {
        mr_case_set(c, MR_VERDICT_ERROR, "timeout", "test '%s' exceeded its timeout of %u s",
                    t->name, t->timeout_s);
        return 0;
    }
    /* The connection dropped mid-test: the test's outcome is unknown and it is not run
     * again (it may not be idempotent); the cell goes on if a new connection was made. */
    if (end->r == -EIO && end->reconnect == 0) {
        mr_case_set(c, MR_VERDICT_ERROR, "connection",
                    "test '%s': the SSH connection dropped after %.1f s (%s); its outcome is "
                    "unknown and it was not run again; a new connection was made in %.1f s "
                    "and the cell went on",
                    t->name, end->time_s, end->why, end->reconnect_s);
        return 0;
    }
    if (end->r == -EIO) {
        mr_case_set(c, MR_VERDICT_ERROR, "connection",
                    "test '%s': the SSH connection dropped after %.1f s (%s) and no new one "
                    "could be made within %.1f s: %s",
                    t->name, end->time_s, end->why, end->reconnect_s, end->reconnect_why);
        return -1;
    }
    /* The guest closed the channel without saying how the command ended (transport.h):
     * the outcome is unknown, so an error, never a pass; the connection is still good. */
    if (end->r == -EPROTO) {
        mr_case_set(c, MR_VERDICT_ERROR, "no-exit-status", "test '%s': %s; its outcome is unknown",
                    t->name, end->why);
        return 0;
    }
    if (end->r < 0) {
        mr_cell_step_error(c, end->r, "test", end->why);
        return -1;
    }
    if (x->exit_signal)
        mr_case_set(c, MR_VERDICT_FAIL, "signal", "'%s' was killed by signal %s", t->command,
                    x->exit_signal);
    else if (x->exit_status != 0)
        mr_case_set(c, MR_VERDICT_FAIL, "exit-status", "'%s' exited with status %d",
                    t->command, x->exit_status);
    return 0;
}

/* The environment a test command sees: MATRIXRUN_CELL and the cell's axis variables,
 * set by the family's shell in front of the command. */
static char *cell_env_prefix(const struct mr_cell_run *cl)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_family_env_assign(cl->fam, &b, "MATRIXRUN_CELL", cl->name);
    for (size_t i = 0; i < cl->cell->n_env; i++)
        mr_family_env_assign(cl->fam, &b, cl->cell->env[i].name, cl->cell->env[i].value);
    return mr_buf_detach(&b, NULL);
}

/* Runs one test into case c. Returns 0, or -1 when the cell cannot go on. */
static int run_test(struct mr_cell_run *cl, const struct mr_test *t, struct mr_case *c)
{
    static const char *names[] = { "passed", "FAILED", "ERROR", "skipped" };
    struct mr_err e = { 0 }, re = { 0 };
    struct mr_exec x;
    mr_exec_init(&x);
    int64_t t0 = mr_now_ms();
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name, "test %s", t->name);
    _cleanup_free_ char *env = cell_env_prefix(cl);
    _cleanup_free_ char *cmd = mr_xasprintf("%s%s", env, t->command);
    int r = mr_cell_exec(cl, cmd, (int64_t)t->timeout_s * 1000, &x, &e);
    c->time_s = mr_secs_since(t0);
    mr_cell_exec_output(c, &x);
    struct mr_cell_test_end end = { .r = r, .x = &x, .deadline_hit = cl->deadline_hit,
                                    .why = mr_err_msg(&e), .time_s = c->time_s };
    if (r == -EIO) {
        int64_t r0 = mr_now_ms();
        end.reconnect = mr_cell_reconnect(cl, &re);
        end.reconnect_s = mr_secs_since(r0);
        end.reconnect_why = mr_err_msg(&re);
    }
    int ret = mr_cell_test_verdict(c, t, &end);
    if (c->verdict == MR_VERDICT_ERROR)
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "ERROR %s", c->message);
    else
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "test %s: %s (%.1f s)",
                             t->name, names[c->verdict], c->time_s);
    mr_exec_release(&x);
    mr_err_release(&e);
    mr_err_release(&re);
    return ret;
}

/* Tests: each of the matrix's tests in order, until the cell cannot go on. */
static int cell_tests(struct mr_cell_run *cl)
{
    const struct mr_matrix *m = cl->run->m;
    for (size_t i = 0; i < m->n_tests; i++) {
        int stop = run_test(cl, &m->tests[i], cl->tests[i]);
        if (mr_interrupted || stop < 0)
            return cell_stop(cl, cl->tests[i], mr_interrupted);
    }
    return 0;
}

/* Benchmark: a failed test does not stop it; a cell that cannot go on has skipped it. */
static int cell_benchmark(struct mr_cell_run *cl)
{
    if (cl->bench && cl->bench->verdict == MR_VERDICT_PASS && !mr_interrupted)
        (void)mr_cell_benchmark(cl, cl->bench);
    return 0;
}

/* ---- collect and teardown ---- */

/* Collect: the guest's logs, unless the run was interrupted. */
static int64_t cell_collect(struct mr_cell_run *cl)
{
    int64_t t0 = mr_now_ms();
    if (!mr_interrupted)
        mr_cell_collect_logs(cl);
    return mr_now_ms() - t0;
}

void mr_cell_release(struct mr_cell_run *cl)
{
    mr_cell_disconnect(cl);
    mr_sshkey_release(&cl->hostkey);
    mr_sshkey_release(&cl->login);
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
    free(cl->domname);
    free(cl->mac);
    free(cl->domxml);
    free(cl->tests);
    free(cl->restore_failed);
}

/* Whether the cell's guest outlives the run (--keep-failed, --keep), and if so notes it
 * in the run folder (mr_leftover_keep_cell) with a known_hosts file holding its pinned
 * host key, and in the suite. Only a guest that was logged into, on a local host, in a
 * run that was not interrupted. */
static int keep_guest(struct mr_cell_run *cl)
{
    struct mr_run *run = cl->run;
    enum mr_keep keep = run->o->keep;
    struct mr_counts n = mr_suite_counts(cl->s);
    if (keep == MR_KEEP_NONE || (keep == MR_KEEP_FAILED && !n.failures && !n.errors))
        return 0;
    if (mr_interrupted)
        return 0;
    /* Said, so that a user who asked to keep the cell is not left looking for it. */
    const char *why = cl->host->pool                        ? "it ran on a remote host"
                      : cl->boot->verdict != MR_VERDICT_PASS ? "no login to it ever worked"
                      : mr_guest_is_running(&cl->g) != 1     ? "its guest is no longer running"
                                                              : NULL;
    if (why || cl->g.autodestroy) {
        mr_pipeline_progress(run, MR_PROGRESS_NOTE, cl->name, "guest not kept: %s",
                             why ? why : "it was started to go with the run");
        return 0;
    }
    int64_t until = mr_wall_ms() / 1000 + run->o->keep_for_s;
    _cleanup_free_ char *kh = mr_xasprintf("%s/%s.known_hosts", run->workdir, cl->name);
    _cleanup_free_ char *line = mr_xasprintf("[127.0.0.1]:%d %s %s\n", cl->port,
                                             cl->hostkey.type, cl->hostkey.blob_b64);
    size_t wl = strlen(run->workdir);
    const char *priv = cl->target.key->priv_path; /* the key of the guest's type */
    const char *key_rel = strncmp(priv, run->workdir, wl) == 0 && priv[wl] == '/'
                              ? priv + wl + 1
                              : priv;
    struct mr_err e = { 0 };
    if (mr_file_write_atomic(kh, line, strlen(line), &e) < 0 ||
        mr_leftover_keep_cell(run->workdir, until, cl->name, cl->port, cl->target.user,
                              cl->domname, key_rel, &e) < 0) {
        mr_pipeline_progress(run, MR_PROGRESS_NOTE, cl->name, "not kept: %s", mr_err_msg(&e));
        mr_err_release(&e);
        return 0;
    }
    pthread_mutex_lock(&run->lock);
    run->n_kept++;
    pthread_mutex_unlock(&run->lock);
    time_t t = (time_t)until;
    struct tm tm;
    char iso[32];
    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
    mr_suite_set_prop(cl->s, MR_PROP_KEPT_UNTIL, iso);
    mr_pipeline_progress(run, MR_PROGRESS_NOTE, cl->name, "guest kept until %s (%s)", iso,
                         cl->domname);
    mr_guest_detach(&cl->g);
    return 1;
}

/* Teardown: the connection, the guest (its CPU time noted first), the remote volumes
 * (the serial log fetched first) and the artifacts archive. */
static int64_t cell_teardown(struct mr_cell_run *cl)
{
    int64_t t0 = mr_now_ms();
    mr_cell_disconnect(cl);
    /* The CPU time the guest's QEMU used, for the capacity benchmark. */
    double cpu_s = mr_host_guest_cpu_seconds(cl->g.dom);
    if (cpu_s >= 0)
        mr_pipeline_set_double(cl->s, MR_PROP_GUEST_CPU_SECONDS, "%.3f", cpu_s);
    /* The domain goes first so the serial log in the archive is complete. */
    if (!keep_guest(cl))
        mr_guest_release(&cl->g);
    mr_cell_fetch_serial(cl);
    mr_remote_store_release(&cl->rs);
    if (access(cl->celldir, W_OK) == 0)
        mr_cell_write_artifacts(cl);
    if (cl->reconnects)
        mr_pipeline_set_uint(cl->s, MR_PROP_SSH_RECONNECTS, cl->reconnects);
    mr_cell_release(cl);
    return mr_now_ms() - t0;
}

static void set_seconds_prop(struct mr_suite *s, const char *name, int64_t ms)
{
    mr_pipeline_set_double(s, name, "%.3f", (double)ms / 1000.0);
}

/* One attempt at a cell; its suite is the slot report's last. Returns 1 when the cell's
 * time limit ran out (another attempt would not have more time), else 0; *ret_boot is
 * the attempt's boot case. */
static int run_cell_once(struct mr_run_slot *sl, const struct mr_case **ret_boot)
{
    static int (*const phases[])(struct mr_cell_run *) = {
        cell_prepare, cell_boot, cell_install, cell_tests, cell_benchmark,
    };
    struct mr_cell_run cell, *cl = &cell;
    cell_open(cl, sl);
    cell_properties(cl);
    for (size_t i = 0; i < MR_ARRAY_SIZE(phases); i++)
        if (phases[i](cl) < 0)
            break;
    int64_t t_collect = cell_collect(cl);
    struct mr_suite *s = cl->s;
    int64_t t_prepare = cl->t_prepare, t_slot = cl->t_slot, t0 = cl->t0_ms;
    int out_of_time = cl->out_of_time || cl->no_retry;
    *ret_boot = cl->boot;
    int64_t t_teardown = cell_teardown(cl);
    s->time_s = mr_secs_since(t0);
    /* Where the cell's time went besides boot, install and tests (benchmarks read these). */
    if (t_prepare >= 0)
        set_seconds_prop(s, MR_PROP_TIME_PREPARE, t_prepare);
    if (t_slot >= 0)
        set_seconds_prop(s, MR_PROP_TIME_BOOT_SLOT_WAIT, t_slot); /* part of time.prepare */
    set_seconds_prop(s, MR_PROP_TIME_COLLECT, t_collect);
    set_seconds_prop(s, MR_PROP_TIME_TEARDOWN, t_teardown);
    return out_of_time;
}

/* ---- attempts ---- */

int mr_cell_retry_wanted(const struct mr_case *boot, unsigned attempt, unsigned retries,
                         int out_of_time, int interrupted)
{
    if (attempt > retries || interrupted || out_of_time)
        return 0;
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

/* Keeps a failed attempt's serial log and artifacts aside and says so in history. */
static void keep_attempt(struct mr_run_slot *sl, unsigned attempt, const struct mr_case *boot,
                         struct mr_buf *history)
{
    struct mr_run *run = sl->run;
    const char *id = sl->cell->id;
    _cleanup_free_ char *dir = mr_xasprintf("%s/%s", run->outdir_abs, id);
    _cleanup_free_ char *from = mr_xasprintf("%s/serial.log", dir);
    _cleanup_free_ char *to = mr_xasprintf("%s/serial.attempt-%u.log", dir, attempt);
    _cleanup_free_ char *afrom = mr_xasprintf("%s/artifacts.tar.gz", dir);
    _cleanup_free_ char *ato = mr_xasprintf("%s/artifacts.attempt-%u.tar.gz", dir, attempt);
    (void)rename(from, to);
    (void)rename(afrom, ato);
    mr_buf_addf(history,
                "matrixrun: attempt %u of this cell failed at boot and was retried: %s\n"
                "matrixrun: its serial log and artifacts: %s, %s\n",
                attempt, boot->message, to, ato);
    mr_pipeline_progress(run, MR_PROGRESS_NOTE, id, "retrying (attempt %u of %u) after: %s",
                         attempt + 1, run->m->retries + 1, boot->message);
}

void mr_cell_run(struct mr_run_slot *sl)
{
    struct mr_run *run = sl->run;
    struct mr_buf history;
    mr_buf_init(&history);
    unsigned attempt;
    for (attempt = 1;; attempt++) {
        const struct mr_case *boot;
        int out_of_time = run_cell_once(sl, &boot);
        if (!mr_cell_retry_wanted(boot, attempt, run->m->retries, out_of_time,
                                  mr_interrupted != 0))
            break;
        keep_attempt(sl, attempt, boot, &history);
        mr_report_drop_last_suite(sl->rep);
    }
    struct mr_suite *s = sl->rep->suites[sl->rep->n_suites - 1];
    mr_pipeline_set_uint(s, MR_PROP_RETRIES, attempt - 1);
    if (history.len) {
        /* Before the attachment line of the last attempt, in the order things happened. */
        if (s->out)
            mr_buf_adds(&history, s->out);
        free(s->out);
        s->out = mr_buf_detach(&history, NULL);
    }
    mr_buf_release(&history);
    _cleanup_free_ char *outcome = cell_outcome(s);
    mr_pipeline_progress(run, MR_PROGRESS_END, sl->cell->id, "%s", outcome);
}
