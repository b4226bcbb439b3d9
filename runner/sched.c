/* sched.c: the run's scheduler: each host's budget, the placement of cells within the
 * budgets and the jobs limit, their threads, the ports their guests forward, and the
 * boot slots that space guest starts apart. The cells themselves run in cell.c. */
#define _GNU_SOURCE
#include "pipelinepriv.h"

#include <errno.h>
#include <time.h>

#include "host.h"

void mr_sched_budget(struct mr_run *run, struct mr_run_host *h)
{
    const struct mr_run_opts *o = run->o;
    double oc_cpu = o->overcommit_cpu > 0 ? o->overcommit_cpu : MR_DEFAULT_OVERCOMMIT_CPU;
    double oc_mem = o->overcommit_mem > 0 ? o->overcommit_mem : MR_DEFAULT_OVERCOMMIT_MEM;
    struct mr_host_size size;
    mr_host_measure(h->conn, &size);
    h->cpus = size.cpus;
    h->cpu_budget = (long)((double)h->cpus * oc_cpu) - size.other_vcpus;
    h->mem_budget_mib = (long)((double)size.avail_mib * oc_mem);
    mr_pipeline_progress(
        run, MR_PROGRESS_RUN, NULL,
        "host %s (%s): %u CPUs x %.2f - %ld vCPU(s) of other guests = %ld vCPUs; "
        "%ld MiB available x %.2f = %ld MiB for guests (each counted with %d MiB for QEMU)",
        h->hostname, h->uri, h->cpus, oc_cpu, size.other_vcpus, h->cpu_budget, size.avail_mib,
        oc_mem, h->mem_budget_mib, MR_RUN_GUEST_OVERHEAD_MIB);
}

struct mr_run_host *mr_sched_place(struct mr_run *run, const struct mr_run_slot *sl)
{
    struct mr_run_host *best = NULL, *biggest = NULL;
    for (size_t i = 0; i < run->n_hosts; i++) {
        struct mr_run_host *h = &run->hosts[i];
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
    mr_pipeline_progress(run, MR_PROGRESS_RUN, NULL,
                         "WARNING cell %s needs %ld vCPU(s) and %ld MiB, more than any host "
                         "offers the run; it runs alone on %s",
                         sl->cell->id, sl->cpu, sl->mem_mib, biggest->hostname);
    return biggest;
}

int64_t mr_sched_next_boot(int64_t *next_boot_ms, int64_t now_ms, int64_t stagger_ms)
{
    int64_t at = *next_boot_ms > now_ms ? *next_boot_ms : now_ms;
    *next_boot_ms = at + stagger_ms;
    return at;
}

/* A port on a remote host: matrixrun cannot ask there which is free; a random one from
 * 20000-60999 (the guest's start fails if it is taken, and the boot is retried). */
static int remote_port(void)
{
    uint16_t rnd;
    mr_random(&rnd, sizeof(rnd));
    return 20000 + rnd % 41000;
}

/* Hands out p unless another cell of the run holds it. Call with run->lock held. */
static int claim_port(struct mr_run *run, int p)
{
    for (size_t i = 0; i < run->n_ports; i++)
        if (run->ports[i] == p)
            return 0;
    run->ports = mr_xrealloc(run->ports, (run->n_ports + 1) * sizeof(*run->ports));
    run->ports[run->n_ports++] = p;
    return 1;
}

int mr_sched_take_port(struct mr_run *run, const struct mr_run_host *h)
{
    pthread_mutex_lock(&run->lock);
    int port = -EADDRINUSE;
    for (int tries = 0; tries < 20; tries++) {
        int p = h->tunnel ? remote_port() : mr_guest_free_port();
        if (p < 0) {
            port = p;
            break;
        }
        if (claim_port(run, p)) {
            port = p;
            break;
        }
    }
    pthread_mutex_unlock(&run->lock);
    return port;
}

/* Starts are at least stagger_ms apart, so that a burst of boots does not starve the
 * first guests' SSH handshakes. */
int64_t mr_sched_wait_boot_slot(struct mr_run *run, const char *cell)
{
    pthread_mutex_lock(&run->lock);
    int64_t now = mr_now_ms();
    int64_t at = mr_sched_next_boot(&run->next_boot_ms, now, run->stagger_ms);
    pthread_mutex_unlock(&run->lock);
    if (at > now)
        mr_pipeline_progress(run, MR_PROGRESS_STEP, cell, "waiting %.1f s for its boot slot",
                             (double)(at - now) / 1000.0);
    while (!mr_interrupted && mr_now_ms() < at)
        mr_sleep_ms(at - mr_now_ms() < 100 ? at - mr_now_ms() : 100);
    return mr_now_ms() - now;
}

/* A cell that never started: one boot testcase saying why. */
static void add_unrun_cell(struct mr_run *run, struct mr_run_slot *sl, enum mr_verdict v,
                           const char *type, const char *why)
{
    struct mr_suite *s = mr_report_add_suite(sl->rep, sl->cell->id);
    _cleanup_free_ char *cls = mr_xasprintf("%s.%s", run->m->name, sl->cell->id);
    struct mr_case *c = mr_suite_add_case(s, cls, MR_CASE_BOOT);
    mr_case_set(c, v, type, "%s%s", v == MR_VERDICT_ERROR ? "boot: " : "", why);
}

/* Books or gives back (sign -1) a slot's share of its host. Call with run->lock held. */
static void reserve(struct mr_run *run, struct mr_run_slot *sl, int sign)
{
    struct mr_run_host *h = sl->host;
    h->cpu_used += sign * sl->cpu;
    h->mem_used_mib += sign * sl->mem_mib;
    h->running += (unsigned)sign;
    run->running += (unsigned)sign;
}

static void *cell_thread(void *arg)
{
    struct mr_run_slot *sl = arg;
    struct mr_run *run = sl->run;
    mr_cell_run(sl);
    pthread_mutex_lock(&run->lock);
    reserve(run, sl, -1);
    pthread_cond_broadcast(&run->changed);
    pthread_mutex_unlock(&run->lock);
    return NULL;
}

/* Starts the slot's cell on host h. Call with run->lock held. */
static void start_cell(struct mr_run *run, struct mr_run_slot *sl, struct mr_run_host *h)
{
    sl->host = h;
    reserve(run, sl, 1);
    mr_pipeline_progress(run, MR_PROGRESS_START, sl->cell->id,
                         "on %s (%ld/%ld vCPUs, %ld/%ld MiB in use)", h->hostname, h->cpu_used,
                         h->cpu_budget, h->mem_used_mib, h->mem_budget_mib);
    if (pthread_create(&sl->thread, NULL, cell_thread, sl) == 0) {
        sl->started = 1;
    } else {
        reserve(run, sl, -1);
        add_unrun_cell(run, sl, MR_VERDICT_ERROR, "infrastructure",
                       "cannot start a thread for the cell");
    }
}

/* Waits for the cells that started; gives the others a suite saying why they did not. */
static void join_cells(struct mr_run *run, struct mr_run_slot *slots, size_t n,
                       const char *setup_error)
{
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

void mr_sched_run(struct mr_run *run, struct mr_run_slot *slots, size_t n,
                  const char *setup_error)
{
    unsigned jobs = run->o->jobs ? run->o->jobs : UINT32_MAX;
    size_t next = 0;
    pthread_mutex_lock(&run->lock);
    while (next < n && !mr_interrupted && !setup_error) {
        struct mr_run_host *h = run->running < jobs ? mr_sched_place(run, &slots[next]) : NULL;
        if (h) {
            start_cell(run, &slots[next++], h);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&run->changed, &run->lock, &ts);
    }
    pthread_mutex_unlock(&run->lock);
    join_cells(run, slots, n, setup_error);
}
