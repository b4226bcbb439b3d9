/* pipeline.c: a run around the cells: its id, work folder and lock, key pair, the hosts
 * it opens (connection, tunnel, storage) and closes, and the report it writes. The
 * scheduler (sched.c) places the cells; each cell runs its phases in cell.c. */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "family.h"
#include "host.h"
#include "leftover.h"
#include "report_write.h"
#include "tunnel.h"

void mr_pipeline_progress(struct mr_run *run, enum mr_progress_kind kind, const char *cell,
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

void mr_pipeline_set_uint(struct mr_suite *s, const char *name, unsigned long v)
{
    _cleanup_free_ char *num = mr_xasprintf("%lu", v);
    mr_suite_set_prop(s, name, num);
}

void mr_pipeline_set_double(struct mr_suite *s, const char *name, const char *fmt, double v)
{
    char num[64];
    snprintf(num, sizeof(num), fmt, v);
    mr_suite_set_prop(s, name, num);
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

/* What killed runs left behind is only reported here; `clean` removes it. i: the host's
 * index (the work folders are this machine's: the first host's scan counts them). */
static void report_leftovers(struct mr_run *run, const struct mr_run_host *h, size_t i,
                             const char *base)
{
    struct mr_leftovers lo = { 0 };
    struct mr_err le = { 0 };
    if (mr_leftover_scan(h->conn, base, 0, &lo, &le) == 0) {
        size_t dirs = i == 0 ? lo.n_dirs : 0;
        if (dirs || lo.n_domains || lo.n_volumes)
            mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL,
                                 "WARNING earlier runs left %zu work folder(s) in %s, %zu "
                                 "guest(s) and %zu volume(s) of pool %s on %s behind; %s "
                                 "removes them",
                                 dirs, base, lo.n_domains, lo.n_volumes, MR_REMOTE_STORE_POOL,
                                 h->uri,
                                 strcmp(h->uri, MR_DEFAULT_URI) == 0 && run->n_hosts == 1
                                     ? "'matrixrun clean'"
                                     : "'matrixrun clean MATRIX.xml' (or 'clean --connect URI')");
    }
    mr_leftovers_release(&lo);
    mr_err_release(&le);
}

static void host_close(struct mr_run_host *h)
{
    mr_tunnel_close(h->tunnel);
    h->tunnel = NULL;
    mr_host_close(h->conn, h->pool);
    h->conn = NULL;
    h->pool = NULL;
}

/* Opens the run's i-th host: its connection and, for a remote host, the tunnel to its
 * guests and its storage pool; then measures it. Returns 0, or -1 with the host closed,
 * the failure told and kept in setup (the first one only). */
static int host_open(struct mr_run *run, struct mr_run_host *h, size_t i, const char *base,
                     struct mr_err *setup)
{
    struct mr_err he = { 0 };
    int remote = mr_tunnel_uri_is_remote(h->uri) == 1;
    const char *what = NULL; /* the failed step, for the message */
    /* Remote hosts' storage streams need libvirt's event loop (remote_store.h). */
    if (remote && mr_remote_store_event_loop_start() < 0)
        mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL,
                             "WARNING no libvirt event loop: downloads from %s may hang", h->uri);
    h->conn = mr_guest_connect(h->uri, &he);
    report_leftovers(run, h, i, base);
    /* Guests on a remote host listen on its 127.0.0.1: matrixrun reaches them through an
     * SSH connection to the host (direct-tcpip), never through exposed ports. */
    if (!h->conn)
        what = "";
    else if (remote && mr_tunnel_open(h->uri, mr_now_ms() + 60000, &h->tunnel, &he) < 0)
        what = "no SSH tunnel to the guests of";
    else if (h->tunnel && mr_remote_store_open_pool(h->conn, MR_REMOTE_STORE_POOL,
                                                    MR_REMOTE_STORE_TARGET, &h->pool, &he) < 0)
        what = "no storage for the cells of";
    if (what) {
        _cleanup_free_ char *why = what[0] ? mr_xasprintf("%s %s: %s", what, h->uri,
                                                          mr_err_msg(&he))
                                           : mr_xstrdup(mr_err_msg(&he));
        mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL, "ERROR %s%s", why,
                             run->n_hosts > 1 ? "; no cell runs there" : "");
        if (!setup->msg)
            mr_err_set(setup, "%s", why);
        mr_err_release(&he);
        host_close(h);
        return -1;
    }
    mr_err_release(&he);
    h->hostname = mr_host_name(h->conn);
    h->accel = mr_guest_resolve_accel(h->conn, h->accel);
    mr_sched_budget(run, h);
    return 0;
}

/* Opens the run's hosts (--connect replaces the matrix's with one). Returns how many. */
static size_t open_hosts(struct mr_run *run, const char *base, struct mr_err *setup)
{
    const struct mr_run_opts *o = run->o;
    const struct mr_matrix *m = run->m;
    size_t n_up = 0;
    run->n_hosts = o->uri ? 1 : m->n_hosts;
    run->hosts = mr_xcalloc(run->n_hosts, sizeof(*run->hosts));
    for (size_t i = 0; i < run->n_hosts; i++) {
        struct mr_run_host *h = &run->hosts[i];
        h->uri = o->uri ? o->uri : m->hosts[i].uri;
        h->accel = o->accel >= 0 ? (enum mr_accel)o->accel : m->hosts[i].accel;
        if (host_open(run, h, i, base, setup) == 0)
            n_up++;
    }
    return n_up;
}

unsigned mr_run_keytypes(const struct mr_run *run)
{
    const struct mr_run_opts *o = run->o;
    size_t n = o->cells ? o->n_cells : run->m->n_cells;
    unsigned types = 0;
    for (size_t i = 0; i < n; i++) {
        const struct mr_image *img = o->cells ? o->cells[i]->img : run->m->cells[i].img;
        if (!img->login_key) /* a pre-provisioned login brings its own key */
            types |= 1u << mr_family_keytype(img->fam, img->os_version);
    }
    return types;
}

/* The run's key pairs, and what the run can do: why no cell can start, or how many may
 * run at once. Returns whether any cell can start. */
static int ready_to_start(struct mr_run *run, size_t n_up, struct mr_err *setup)
{
    const struct mr_run_opts *o = run->o;
    _cleanup_free_ char *keydir = mr_xasprintf("%s/ssh", run->workdir);
    _cleanup_free_ char *comment = mr_xasprintf("matrixrun-%s", run->run_id);
    unsigned types = mr_run_keytypes(run);
    for (unsigned t = 0; n_up && t < MR_KEYTYPE_COUNT; t++)
        if ((types & (1u << t)) &&
            mr_sshkey_generate(&run->keys[t], keydir, (enum mr_keytype)t, comment, setup) < 0)
            n_up = 0;
    if (!n_up) {
        if (!setup->msg)
            mr_err_set(setup, "no libvirt host could be reached");
        mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL, "ERROR %s", mr_err_msg(setup));
    } else if (o->jobs) {
        mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL,
                             "at most %u cell(s) at once, as capacity allows; guest starts "
                             "%.1f s apart",
                             o->jobs, (double)run->stagger_ms / 1000.0);
    } else {
        mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL,
                             "as many cells at once as capacity allows; guest starts %.1f s "
                             "apart",
                             (double)run->stagger_ms / 1000.0);
    }
    return n_up != 0;
}

/* The report folder, the run's id and its locked work folder. Returns the lock's
 * descriptor, or -EINVAL with err set. */
static int make_folders(struct mr_run *run, const char *base, struct mr_err *err)
{
    const char *outdir = run->o->outdir ? run->o->outdir : "reports";
    int r;
    if ((r = mr_mkdir_p(outdir, 0755)) < 0 || access(outdir, W_OK) < 0) {
        mr_err_set(err, "cannot write reports to '%s': %s", outdir,
                   strerror(r < 0 ? -r : errno));
        return -EINVAL;
    }
    run->outdir_abs = abs_path(outdir);
    run->run_id = make_run_id();
    /* The run folder is made, checked (ours, no symlink, writable by no one else) and
     * locked at once: the lock says "this run is alive" to `matrixrun clean` and to later
     * runs. QEMU runs as its own user and only passes through it (0711). */
    int lock_fd = -1;
    if ((r = mr_leftover_workdir_create(base, run->run_id, &run->workdir, &lock_fd, err)) < 0)
        return -EINVAL;
    return lock_fd;
}

static struct mr_run_slot *make_slots(struct mr_run *run, size_t n)
{
    const struct mr_run_opts *o = run->o;
    struct mr_run_slot *slots = mr_xcalloc(n ? n : 1, sizeof(*slots));
    for (size_t i = 0; i < n; i++) {
        struct mr_run_slot *sl = &slots[i];
        sl->run = run;
        sl->cell = o->cells ? o->cells[i] : &run->m->cells[i];
        sl->rep = mr_report_new(run->m->name);
        mr_report_share_spill(sl->rep, run->report);
        sl->cpu = sl->cell->vcpus;
        sl->mem_mib = (long)sl->cell->memory_mib + MR_RUN_GUEST_OVERHEAD_MIB;
    }
    return slots;
}

/* Closes the hosts and removes the work folder with the run's private key. */
static void run_release(struct mr_run *run, int lock_fd)
{
    for (size_t i = 0; i < run->n_hosts; i++) {
        host_close(&run->hosts[i]);
        free(run->hosts[i].hostname);
    }
    free(run->hosts);
    mr_remote_store_event_loop_stop();
    free(run->ports);
    /* The private keys live only in the work folder and go with it, unless cells were
     * kept: then the folder stays for them (its "kept" file says until when). */
    for (size_t t = 0; t < MR_KEYTYPE_COUNT; t++)
        mr_sshkey_release(&run->keys[t]);
    mr_warm_release(run);
    if (run->workdir && !run->n_kept)
        (void)mr_rm_rf(run->workdir);
    if (lock_fd >= 0)
        close(lock_fd);
    free(run->workdir);
    free(run->outdir_abs);
    free(run->run_id);
    mr_report_free(run->report);
    pthread_cond_destroy(&run->changed);
    pthread_mutex_destroy(&run->lock);
}

int mr_pipeline_run(const struct mr_matrix *m, const struct mr_run_opts *o,
                    struct mr_run_result *res, struct mr_err *err)
{
    struct mr_run run = { .m = m, .o = o };
    struct mr_err setup = { 0 };
    struct mr_run_slot *slots = NULL;
    size_t n_cells = o->cells ? o->n_cells : m->n_cells;
    const char *base = mr_leftover_workbase(o->workdir_base);
    int r;
    memset(res, 0, sizeof(*res));
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.changed, NULL);
    run.stagger_ms = o->stagger_ms >= 0 ? o->stagger_ms : MR_DEFAULT_STAGGER_MS;
    int lock_fd = make_folders(&run, base, err);
    if (lock_fd < 0) {
        r = lock_fd;
        goto out;
    }
    run.report = mr_report_new(m->name);
    mr_pipeline_progress(&run, MR_PROGRESS_RUN, NULL, "run %s: %zu cell(s), reports in %s",
                         run.run_id, n_cells, run.outdir_abs);
    /* Test output waits for the report in a file, not in memory (report.h). */
    struct mr_err spill_err = { 0 };
    if (mr_report_spill_to(run.report, run.workdir, &spill_err) < 0)
        mr_pipeline_progress(&run, MR_PROGRESS_RUN, NULL, "warning: %s; test output stays in "
                             "memory until the report is written", mr_err_msg(&spill_err));
    mr_err_release(&spill_err);
    int ready = ready_to_start(&run, open_hosts(&run, base, &setup), &setup);
    slots = make_slots(&run, n_cells);
    mr_sched_run(&run, slots, n_cells, ready ? NULL : mr_err_msg(&setup));
    mr_err_release(&setup);

    /* Every report file of the run is written from here (report_write.h). */
    r = mr_report_write_outputs(run.report, run.outdir_abs, &res->junit_path,
                                &res->html_warning, err);
    if (r > 0)
        r = 0;
    res->report = MR_TAKE_PTR(run.report);
    res->run_id = MR_TAKE_PTR(run.run_id);
    res->interrupted = mr_interrupted != 0;
out:
    for (size_t i = 0; slots && i < n_cells; i++)
        mr_report_free(slots[i].rep);
    free(slots);
    run_release(&run, lock_fd);
    return r;
}

void mr_run_result_release(struct mr_run_result *r)
{
    free(r->run_id);
    free(r->junit_path);
    mr_err_release(&r->html_warning);
    mr_report_free(r->report);
    memset(r, 0, sizeof(*r));
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
