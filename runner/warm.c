/* warm.c: warm start. The first cell of an image (per host, vCPUs, memory and network)
 * boots a template guest exactly as a cold cell boots, waits for SSH and the seed's
 * reader, and saves the guest's memory and device state into the run's work folder;
 * then every cell of it, that one included, starts a guest of its own that loads that
 * state, on its own overlay over the template's disk, with its own SSH port and serial
 * log. After the restore the cell sets the guest's clock, host name and entropy, and
 * goes on as a cold cell does. A restore that fails falls back to a cold boot of that
 * cell; a template that cannot boot is the boot error of every cell of it. */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "family.h"

/* Loading a saved state reads a file of about the guest's memory: seconds at most. */
#define WARM_RESTORE_TIMEOUT_MS 60000
/* A restored guest answers SSH at once (its sshd was running when it was saved); a
 * minute means something is wrong, and the cell boots cold instead. */
#define WARM_SSH_TIMEOUT_MS 60000
/* Writing the template's state: about its memory, to the local disk. */
#define WARM_SAVE_TIMEOUT_MS 120000
/* The clock, host name and entropy command. */
#define WARM_SETUP_TIMEOUT_MS 30000

int mr_warm_wanted(struct mr_cell_run *cl)
{
    enum mr_boot b = cl->run->o->boot;
    if (b == MR_BOOT_COLD || (b == MR_BOOT_IMAGE && !cl->img->warm))
        return 0;
    const char *why =
        cl->host->pool
            ? "warm start needs a local libvirt host (the saved state goes to QEMU as a "
              "file descriptor, which a remote connection cannot carry)"
        : mr_family_is_windows(cl->fam)
            ? "warm start sets the restored guest's clock and host name with sh, which "
              "Windows guests do not have"
            : NULL;
    if (why) {
        mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name, "booting cold: %s", why);
        return 0;
    }
    return 1;
}

/* ---- the run's templates ---- */

static int template_fits(const struct mr_template *t, const struct mr_cell_run *cl)
{
    return t->host == cl->host && t->img == cl->img && t->vcpus == cl->cell->vcpus &&
           t->memory_mib == cl->cell->memory_mib && t->network == mr_cell_network(cl);
}

/* The cell's template; *build says the caller is the first to ask and builds it. Call
 * with run->lock held. */
static struct mr_template *template_find(struct mr_run *run, const struct mr_cell_run *cl,
                                         int *build)
{
    size_t same_image = 0;
    for (size_t i = 0; i < run->n_templates; i++) {
        if (template_fits(run->templates[i], cl)) {
            *build = 0;
            return run->templates[i];
        }
        same_image += run->templates[i]->img == cl->img;
    }
    struct mr_template *t = mr_xcalloc(1, sizeof(*t));
    t->host = cl->host;
    t->img = cl->img;
    t->vcpus = cl->cell->vcpus;
    t->memory_mib = cl->cell->memory_mib;
    t->network = mr_cell_network(cl);
    /* '@' is in no cell id (matrix.c), so the name is no cell's. */
    t->name = same_image ? mr_xasprintf("%s@template-%zu", cl->img->name, same_image + 1)
                         : mr_xasprintf("%s@template", cl->img->name);
    t->state = MR_TEMPLATE_BUILDING;
    run->templates = mr_xrealloc(run->templates, (run->n_templates + 1) * sizeof(*run->templates));
    run->templates[run->n_templates++] = t;
    *build = 1;
    return t;
}

void mr_warm_release(struct mr_run *run)
{
    for (size_t i = 0; i < run->n_templates; i++) {
        struct mr_template *t = run->templates[i];
        /* The overlay and the seed stay in the work folder: a kept cell's guest still
         * reads them, and the folder goes with the run otherwise. No guest needs the
         * state any more. */
        if (t->state_path)
            (void)unlink(t->state_path);
        free(t->state_path);
        free(t->name);
        free(t->overlay);
        free(t->seed_iso);
        free(t->mac);
        mr_sshkey_release(&t->hostkey);
        free(t->cloud_init);
        free(t->error);
        free(t->error_type);
        free(t->error_out);
        free(t);
    }
    free(run->templates);
    run->templates = NULL;
    run->n_templates = 0;
}

/* ---- the template's boot ---- */

/* A cell run for the template guest, reported into trep (which the run never writes):
 * its progress, domain and report folder carry the template's name. */
static int template_open(struct mr_cell_run *tc, const struct mr_cell_run *cl,
                         const struct mr_template *t, struct mr_report *trep)
{
    struct mr_run *run = cl->run;
    *tc = (struct mr_cell_run){ .run = run, .host = cl->host, .cell = cl->cell, .img = cl->img,
                                .fam = cl->fam, .name = t->name, .deadline_ms = INT64_MAX,
                                .t_prepare = -1, .t_slot = -1, .port = -1 };
    mr_buf_init(&tc->manifest);
    mr_guest_init(&tc->g); /* autodestroy: a template never outlives matrixrun */
    tc->s = mr_report_add_suite(trep, t->name);
    tc->boot = mr_suite_add_case(tc->s, t->name, MR_CASE_BOOT);
    tc->domname = mr_xasprintf("mr-%s-%s", run->run_id, t->name);
    tc->celldir = mr_xasprintf("%s/%s", run->outdir_abs, t->name);
    tc->serial = mr_xasprintf("%s/serial.log", tc->celldir);
    mr_remote_store_init(&tc->rs, NULL, tc->domname);
    tc->t0_ms = mr_now_ms();
    int r = mr_mkdir_p(tc->celldir, 0755);
    if (r < 0) {
        mr_case_set(tc->boot, MR_VERDICT_ERROR, "infrastructure", "boot: cannot create '%s': %s",
                    tc->celldir, strerror(-r));
        return -1;
    }
    (void)unlink(tc->serial);
    if ((tc->port = mr_sched_take_port(run, cl->host)) < 0) {
        mr_case_set(tc->boot, MR_VERDICT_ERROR, "infrastructure",
                    "boot: no free port on 127.0.0.1: %s", strerror(-tc->port));
        return -1;
    }
    return 0;
}

/* Boots the template guest as a cold cell boots and saves its state. */
static int template_boot_once(struct mr_template *t, struct mr_cell_run *tc)
{
    struct mr_err e = { 0 };
    int r = mr_cell_prepare_guest(tc, &e);
    if (r < 0) {
        mr_cell_step_error(tc->boot, r, "boot", mr_err_msg(&e));
        mr_err_release(&e);
        return -1;
    }
    if (mr_cell_boot_cold(tc) < 0)
        return -1;
    /* Nothing of matrixrun's may be open in the guest when it is saved: every cell
     * would find the same half-open connection. */
    mr_cell_disconnect(tc);
    mr_pipeline_progress(tc->run, MR_PROGRESS_STEP, t->name, "saving the guest's state");
    _cleanup_free_ char *path = mr_xasprintf("%s/%s.state", tc->run->workdir, t->name);
    r = mr_guest_save_state(tc->g.dom, path, mr_now_ms() + WARM_SAVE_TIMEOUT_MS, &e);
    if (r < 0) {
        mr_cell_step_error(tc->boot, r, "boot",
                           mr_err_msg(&e)); /* "boot: cannot ..." read with the template */
        mr_err_release(&e);
        return -1;
    }
    t->state_path = MR_TAKE_PTR(path);
    t->time_s = mr_secs_since(tc->boot_t0_ms);
    return 0;
}

/* What every cell takes from the template guest that booted and was saved as tc. */
static void template_take(struct mr_template *t, struct mr_cell_run *tc)
{
    t->overlay = MR_TAKE_PTR(tc->g.overlay);
    /* Cells read it as their backing file, and nothing may write it any more. */
    if (t->overlay)
        (void)chmod(t->overlay, 0400);
    t->seed_iso = MR_TAKE_PTR(tc->seed_iso);
    t->mac = MR_TAKE_PTR(tc->mac);
    t->hostkey = tc->hostkey;
    memset(&tc->hostkey, 0, sizeof(tc->hostkey));
    const char *ci = mr_suite_prop(tc->s, MR_PROP_CLOUD_INIT_STATUS);
    t->cloud_init = ci ? mr_xstrdup(ci) : NULL;
}

static void template_fail(struct mr_template *t, const struct mr_case *boot)
{
    const char *msg = boot->message ? boot->message : "the guest did not boot";
    if (strncmp(msg, "boot: ", 6) == 0)
        msg += 6;
    t->error = mr_xstrdup(msg);
    t->error_type = mr_xstrdup(boot->type ? boot->type : "infrastructure");
    t->error_out = boot->out ? mr_xstrndup(boot->out, boot->out_len) : NULL;
}

/* Boots and saves the template, again up to the matrix's retries as a cell would, and
 * tells the cells waiting for it. */
static void template_build(const struct mr_cell_run *cl, struct mr_template *t)
{
    struct mr_run *run = cl->run;
    struct mr_report *trep = mr_report_new(run->m->name);
    int ok = 0;
    mr_pipeline_progress(run, MR_PROGRESS_NOTE, cl->name,
                         "warm start: booting the template guest %s once for the cells of "
                         "image '%s' (%u vCPU, %u MiB)",
                         t->name, t->img->name, t->vcpus, t->memory_mib);
    for (unsigned attempt = 1;; attempt++) {
        struct mr_cell_run tc;
        ok = template_open(&tc, cl, t, trep) == 0 && template_boot_once(t, &tc) == 0;
        if (ok)
            template_take(t, &tc);
        mr_guest_release(&tc.g); /* the saved template goes; its overlay stays if taken */
        int retry = !ok && mr_cell_retry_wanted(tc.boot, attempt, run->m->retries,
                                                tc.out_of_time, mr_interrupted != 0);
        if (!ok && !retry)
            template_fail(t, tc.boot);
        if (retry) {
            _cleanup_free_ char *to = mr_xasprintf("%s/serial.attempt-%u.log", tc.celldir, attempt);
            (void)rename(tc.serial, to);
            mr_pipeline_progress(run, MR_PROGRESS_NOTE, t->name,
                                 "retrying (attempt %u of %u) after: %s", attempt + 1,
                                 run->m->retries + 1, tc.boot->message);
        }
        mr_remote_store_release(&tc.rs);
        mr_cell_release(&tc);
        if (!retry)
            break;
    }
    mr_report_free(trep);
    if (ok)
        mr_pipeline_progress(run, MR_PROGRESS_NOTE, t->name,
                             "saved %.1f s after its start; cells of image '%s' restore from it",
                             t->time_s, t->img->name);
    pthread_mutex_lock(&run->lock);
    t->state = ok ? MR_TEMPLATE_READY : MR_TEMPLATE_FAILED;
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
}

/* ---- a cell on its template ---- */

/* Waits for a template another cell builds. Returns its state. */
static enum mr_template_state template_wait(struct mr_cell_run *cl, struct mr_template *t)
{
    struct mr_run *run = cl->run;
    pthread_mutex_lock(&run->lock);
    if (t->state == MR_TEMPLATE_BUILDING)
        mr_pipeline_progress(run, MR_PROGRESS_STEP, cl->name, "waiting for the template %s",
                             t->name);
    while (t->state == MR_TEMPLATE_BUILDING && !mr_interrupted) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&run->changed, &run->lock, &ts);
    }
    enum mr_template_state st = t->state;
    pthread_mutex_unlock(&run->lock);
    return st;
}

static void copy_public_key(struct mr_sshkey *to, const struct mr_sshkey *from)
{
    to->pub_line = mr_xstrdup(from->pub_line);
    to->type = mr_xstrdup(from->type);
    to->blob_b64 = mr_xstrdup(from->blob_b64);
}

/* The cell's guest on the template: the template's MAC and host key, the image's login
 * key, a fresh overlay over the template's, and the domain XML. */
static int warm_setup(struct mr_cell_run *cl, struct mr_err *e)
{
    const struct mr_template *t = cl->tpl;
    cl->mac = mr_xstrdup(t->mac);
    copy_public_key(&cl->hostkey, &t->hostkey);
    int r = mr_cell_load_login(cl, e);
    if (r >= 0 && t->overlay) {
        cl->g.overlay = mr_xasprintf("%s/%s.qcow2", cl->run->workdir, cl->name);
        r = mr_guest_overlay_create(t->overlay, cl->g.overlay, e);
        if (r < 0) {
            free(cl->g.overlay); /* mr_guest_overlay_create removed the file */
            cl->g.overlay = NULL;
        }
    }
    if (r >= 0 && !(cl->domxml = mr_cell_domain_xml(cl, e)))
        r = -EINVAL;
    return r;
}

int mr_warm_prepare(struct mr_cell_run *cl)
{
    struct mr_run *run = cl->run;
    int build;
    pthread_mutex_lock(&run->lock);
    struct mr_template *t = template_find(run, cl, &build);
    pthread_mutex_unlock(&run->lock);
    if (build)
        template_build(cl, t);
    enum mr_template_state st = template_wait(cl, t);
    if (mr_interrupted) {
        mr_case_set(cl->boot, MR_VERDICT_SKIP, NULL, "not run: the run was interrupted");
        return mr_cell_fail(cl, cl->boot);
    }
    if (st == MR_TEMPLATE_FAILED) {
        mr_case_set(cl->boot, MR_VERDICT_ERROR, t->error_type,
                    "boot: warm start: the template guest %s, from which the cells of image "
                    "'%s' are restored, did not boot: %s",
                    t->name, t->img->name, t->error);
        if (t->error_out)
            mr_case_set_out(cl->boot, t->error_out, strlen(t->error_out));
        cl->no_retry = 1; /* its template was retried already */
        return mr_cell_fail(cl, cl->boot);
    }
    mr_pipeline_set_double(cl->s, MR_PROP_TIME_TEMPLATE, "%.3f", t->time_s);
    if (t->cloud_init)
        mr_suite_set_prop(cl->s, MR_PROP_CLOUD_INIT_STATUS, t->cloud_init);
    struct mr_err e = { 0 };
    cl->tpl = t;
    if (warm_setup(cl, &e) == 0)
        return 0;
    /* The template is fine, this cell's part of it is not: the cell boots cold. */
    cl->restore_failed = mr_xstrdup(mr_err_msg(&e));
    mr_err_release(&e);
    mr_pipeline_progress(run, MR_PROGRESS_NOTE, cl->name,
                         "cannot set up the restore (%s); booting cold instead",
                         cl->restore_failed);
    mr_cell_drop_guest(cl);
    return 1;
}

/* The restored guest is the template's at the moment it was saved: its clock stands
 * where the template's stood, its host name is the template's, and its entropy pool is
 * the same in every cell. One command sets the clock from the host's, the cell's host
 * name, and mixes 32 fresh random bytes from the host into /dev/urandom (the virtio RNG
 * feeds the kernel from the host's too, where the guest has its driver). */
static int warm_guest_setup(struct mr_cell_run *cl, struct mr_err *e)
{
    unsigned char rnd[32];
    char hex[2 * sizeof(rnd) + 1];
    mr_random(rnd, sizeof(rnd));
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    explicit_bzero(rnd, sizeof(rnd));
    _cleanup_free_ char *host = mr_cell_host_name(cl->name);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    long long secs = (long long)now.tv_sec + (now.tv_nsec >= 500000000);
    /* Host name and hex are letters, digits and '-': nothing to quote. */
    _cleanup_free_ char *tmpl = mr_xasprintf(
        "{sudo}sh -c 'date -u -s @%lld >/dev/null && hostname %s && printf %%s %s >/dev/urandom'",
        secs, host, hex);
    _cleanup_free_ char *cmd = mr_cell_expand(cl, tmpl, NULL);
    explicit_bzero(tmpl, strlen(tmpl));
    struct mr_exec x;
    mr_exec_init(&x);
    int r = mr_cell_exec(cl, cmd, WARM_SETUP_TIMEOUT_MS, &x, e);
    explicit_bzero(cmd, strlen(cmd));
    if (r == 0 && (x.exit_signal || x.exit_status != 0)) {
        mr_err_set(e, "setting the restored guest's clock, host name and entropy failed "
                      "(exit status %d): %.*s%.*s",
                   x.exit_status, (int)(x.out.len < 500 ? x.out.len : 500),
                   x.out.data ? x.out.data : "", (int)(x.err.len < 500 ? x.err.len : 500),
                   x.err.data ? x.err.data : "");
        r = -EIO;
    }
    mr_exec_release(&x);
    return r;
}

int mr_warm_restore(struct mr_cell_run *cl, struct mr_err *e)
{
    const struct mr_template *t = cl->tpl;
    mr_pipeline_progress(cl->run, MR_PROGRESS_STEP, cl->name,
                         "restoring from %s (%s, %u vCPU, %u MiB, ssh on 127.0.0.1:%d)", t->name,
                         mr_accel_name(cl->host->accel), cl->cell->vcpus, cl->cell->memory_mib,
                         cl->port);
    cl->boot_t0_ms = mr_now_ms();
    cl->t_prepare = cl->boot_t0_ms - cl->t0_ms;
    int r = mr_guest_start(&cl->g, cl->host->conn, cl->domxml, e);
    if (r == 0)
        r = mr_guest_restore_state(&cl->g, t->state_path, cl->boot_t0_ms + WARM_RESTORE_TIMEOUT_MS,
                                   e);
    double loaded_s = mr_secs_since(cl->boot_t0_ms);
    int64_t deadline = mr_now_ms() + WARM_SSH_TIMEOUT_MS;
    if (r == 0)
        r = mr_cell_connect(cl, deadline < cl->deadline_ms ? deadline : cl->deadline_ms, e);
    if (r == 0)
        r = warm_guest_setup(cl, e);
    if (r < 0)
        return r;
    cl->boot->time_s = mr_secs_since(cl->boot_t0_ms);
    mr_suite_set_prop(cl->s, MR_PROP_BOOT_MODE, "warm");
    mr_pipeline_set_double(cl->s, MR_PROP_TIME_RESTORE, "%.3f", cl->boot->time_s);
    mr_pipeline_progress(cl->run, MR_PROGRESS_NOTE, cl->name,
                         "restored; ssh ready %.1f s after the guest started", cl->boot->time_s);
    if (!mr_family_batches_logs(cl->fam))
        mr_cell_query_kernel(cl);
    _cleanup_free_ char *msg = mr_xasprintf(
        "warm start: restored from the saved state of the template guest %s (booted once "
        "for this run, saved %.1f s after its start; its serial console log: %s/%s/serial.log)\n"
        "state loaded %.1f s and SSH ready with the clock set %.1f s after the guest started; "
        "serial console log: %s\n",
        t->name, t->time_s, cl->run->outdir_abs, t->name, loaded_s, cl->boot->time_s, cl->serial);
    mr_case_set_out(cl->boot, msg, strlen(msg));
    return 0;
}
