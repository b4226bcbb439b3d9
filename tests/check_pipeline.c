/* Unit tests of the pipeline's decisions (pipelinepriv.h): a test's verdict from how its
 * command ended, skip propagation, retries, the reconnect deadline, boot slots, placement
 * on libvirt's test driver, the run's exit code and the shards of a matrix. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "family.h"
#include "host.h"
#include "pipelinepriv.h"

#define DATA MR_TEST_DATA "/matrix/"

/* ---- a test's verdict ---- */

static struct mr_suite *new_suite(struct mr_report **rep)
{
    *rep = mr_report_new("m");
    return mr_report_add_suite(*rep, "cell");
}

/* ---- what the SSH connection negotiated ---- */

START_TEST(test_pipeline_suite_says_what_ssh_negotiated)
{
    struct mr_report *rep;
    struct mr_suite *s = new_suite(&rep);
    struct mr_transport_methods m = { "ssh-rsa", "diffie-hellman-group14-sha1", "aes128-cbc",
                                      "hmac-sha1" };
    mr_cell_set_methods(s, &m);
    ck_assert_str_eq(mr_suite_prop(s, "ssh.hostkey"), "ssh-rsa");
    ck_assert_str_eq(mr_suite_prop(s, "ssh.kex"), "diffie-hellman-group14-sha1");
    ck_assert_str_eq(mr_suite_prop(s, "ssh.cipher"), "aes128-cbc");
    ck_assert_str_eq(mr_suite_prop(s, "ssh.mac"), "hmac-sha1");
    /* A reconnect's values replace the first connection's. */
    m.cipher = "aes256-ctr";
    mr_cell_set_methods(s, &m);
    ck_assert_str_eq(mr_suite_prop(s, "ssh.cipher"), "aes256-ctr");
    ck_assert_uint_eq(s->n_props, 4);
    mr_report_free(rep);
}
END_TEST

/* How a test's exec ended, and the verdict, type, message and go-on decision it gives. */
static const struct verdict_case {
    const char *what;
    int r, status;
    const char *signal;
    int deadline_hit, reconnect;
    enum mr_verdict verdict;
    const char *type, *message; /* message: a part of it */
    int ret;
} verdict_cases[] = {
    { "exit 0 passes", 0, 0, NULL, 0, 0, MR_VERDICT_PASS, NULL, NULL, 0 },
    { "exit status is a failure", 0, 3, NULL, 0, 0, MR_VERDICT_FAIL, "exit-status",
      "'run-it' exited with status 3", 0 },
    { "signal is a failure", 0, 0, "SEGV", 0, 0, MR_VERDICT_FAIL, "signal",
      "'run-it' was killed by signal SEGV", 0 },
    /* A test that outlives its own timeout is an error, never a failure; the cell goes
     * on. One cut by the cell's time limit stops the cell. */
    { "own timeout is an error", -ETIMEDOUT, 0, NULL, 0, 0, MR_VERDICT_ERROR, "timeout",
      "test 't' exceeded its timeout of 7 s", 0 },
    { "cell's time limit stops the cell", -ETIMEDOUT, 0, NULL, 1, 0, MR_VERDICT_ERROR,
      "timeout", "test 't': the exec's reason", -1 },
    /* A dropped connection is an error; the cell goes on if a new one was made. */
    { "dropped connection, reconnected", -EIO, 0, NULL, 0, 0, MR_VERDICT_ERROR, "connection",
      "dropped after 1.5 s (the exec's reason); its outcome is unknown and it was not run "
      "again; a new connection was made in 0.5 s", 0 },
    { "dropped connection, gone", -EIO, 0, NULL, 0, -ETIMEDOUT, MR_VERDICT_ERROR, "connection",
      "no new one could be made within 0.5 s: the reconnect's reason", -1 },
    /* Any other end of the exec is the machinery's, and stops the cell. */
    { "interrupted", -EINTR, 0, NULL, 0, 0, MR_VERDICT_ERROR, "interrupted",
      "test: the exec's reason", -1 },
    /* No exit status: the outcome is unknown, an error, never a pass; the connection is
     * still good, so the cell goes on. */
    { "no exit status", -EPROTO, 0, NULL, 0, 0, MR_VERDICT_ERROR, "no-exit-status",
      "test 't': the exec's reason; its outcome is unknown", 0 },
    { "other exec error", -ENOMEM, 0, NULL, 0, 0, MR_VERDICT_ERROR, "infrastructure",
      "test: the exec's reason", -1 },
};

START_TEST(test_pipeline_test_verdict_from_its_end)
{
    static const struct mr_test t = { .name = "t", .command = "run-it", .timeout_s = 7 };
    const struct verdict_case *vc = &verdict_cases[_i];
    struct mr_report *rep;
    struct mr_case *c = mr_suite_add_case(new_suite(&rep), "m.cell", "t");
    struct mr_exec x;
    mr_exec_init(&x);
    x.exit_status = vc->status;
    x.exit_signal = vc->signal ? strdup(vc->signal) : NULL;
    struct mr_cell_test_end end = { .r = vc->r, .x = &x, .deadline_hit = vc->deadline_hit,
                                    .why = "the exec's reason", .time_s = 1.5,
                                    .reconnect = vc->reconnect, .reconnect_s = 0.5,
                                    .reconnect_why = "the reconnect's reason" };
    ck_assert_msg(mr_cell_test_verdict(c, &t, &end) == vc->ret, "%s: go-on decision", vc->what);
    ck_assert_msg(c->verdict == vc->verdict, "%s: verdict %d", vc->what, c->verdict);
    if (vc->type)
        ck_assert_msg(c->type && strcmp(c->type, vc->type) == 0, "%s: type '%s'", vc->what,
                      c->type);
    if (vc->message)
        ck_assert_msg(c->message && strstr(c->message, vc->message), "%s: message '%s'",
                      vc->what, c->message);
    mr_exec_release(&x);
    mr_report_free(rep);
}
END_TEST

/* ---- skip propagation ---- */

static struct mr_suite *cell_suite(struct mr_report **rep, struct mr_case **cases)
{
    static const char *const names[] = { "boot", "install", "a", "b", "benchmark.cpu" };
    struct mr_suite *s = new_suite(rep);
    for (size_t i = 0; i < 5; i++)
        cases[i] = mr_suite_add_case(s, "m.cell", names[i]);
    return s;
}

START_TEST(test_pipeline_error_skips_every_later_case)
{
    struct mr_report *rep;
    struct mr_case *c[5];
    struct mr_suite *s = cell_suite(&rep, c);
    mr_case_set(c[1], MR_VERDICT_ERROR, "install", "install: broken");
    mr_cell_stop_after(s, c[1], 0);
    ck_assert_int_eq(c[0]->verdict, MR_VERDICT_PASS);
    ck_assert_int_eq(c[1]->verdict, MR_VERDICT_ERROR);
    for (size_t i = 2; i < 5; i++) {
        ck_assert_int_eq(c[i]->verdict, MR_VERDICT_SKIP);
        ck_assert_str_eq(c[i]->message, "not run: install failed");
    }
    mr_report_free(rep);
}
END_TEST

/* A test that failed before the one that stopped the cell keeps its verdict, and so
 * does a later case that has one already. */
START_TEST(test_pipeline_stop_keeps_earlier_verdicts)
{
    struct mr_report *rep;
    struct mr_case *c[5];
    struct mr_suite *s = cell_suite(&rep, c);
    mr_case_set(c[2], MR_VERDICT_ERROR, "timeout", "test 'a' exceeded its timeout of 1 s");
    mr_case_set(c[1], MR_VERDICT_ERROR, "install", "install: broken");
    mr_cell_stop_after(s, c[0], 0);
    ck_assert_int_eq(c[1]->verdict, MR_VERDICT_ERROR);
    ck_assert_int_eq(c[2]->verdict, MR_VERDICT_ERROR);
    ck_assert_str_eq(c[3]->message, "not run: boot failed");
    mr_report_free(rep);
    s = cell_suite(&rep, c);
    mr_case_set(c[2], MR_VERDICT_ERROR, "timeout", "test 'a' exceeded its timeout of 1 s");
    mr_case_set(c[3], MR_VERDICT_ERROR, "connection", "gone");
    mr_cell_stop_after(s, c[3], 0);
    ck_assert_int_eq(c[0]->verdict, MR_VERDICT_PASS);
    ck_assert_int_eq(c[1]->verdict, MR_VERDICT_PASS);
    ck_assert_int_eq(c[2]->verdict, MR_VERDICT_ERROR);
    ck_assert_str_eq(c[2]->type, "timeout");
    ck_assert_int_eq(c[4]->verdict, MR_VERDICT_SKIP);
    ck_assert_str_eq(c[4]->message, "not run: b failed");
    mr_report_free(rep);
}
END_TEST

START_TEST(test_pipeline_interruption_skips_with_its_reason)
{
    struct mr_report *rep;
    struct mr_case *c[5];
    struct mr_suite *s = cell_suite(&rep, c);
    /* A test that passed when the run was interrupted. */
    mr_cell_stop_after(s, c[2], 1);
    ck_assert_int_eq(c[2]->verdict, MR_VERDICT_PASS);
    ck_assert_str_eq(c[3]->message, "not run: the run was interrupted");
    ck_assert_str_eq(c[4]->message, "not run: the run was interrupted");
    mr_report_free(rep);
    /* A boot skipped because the run was interrupted before it. */
    s = cell_suite(&rep, c);
    mr_case_set(c[0], MR_VERDICT_SKIP, NULL, "not run: the run was interrupted");
    mr_cell_stop_after(s, c[0], 0);
    for (size_t i = 1; i < 5; i++) {
        ck_assert_int_eq(c[i]->verdict, MR_VERDICT_SKIP);
        ck_assert_str_eq(c[i]->message, "not run: the run was interrupted");
    }
    mr_report_free(rep);
}
END_TEST

/* ---- retries ---- */

static int retry(enum mr_verdict v, const char *type, unsigned attempt, unsigned retries,
                 int out_of_time, int interrupted)
{
    struct mr_report *rep;
    struct mr_case *boot = mr_suite_add_case(new_suite(&rep), "m.cell", "boot");
    if (v != MR_VERDICT_PASS)
        mr_case_set(boot, v, type, "boot: why");
    int r = mr_cell_retry_wanted(boot, attempt, retries, out_of_time, interrupted);
    mr_report_free(rep);
    return r;
}

START_TEST(test_pipeline_retries_boot_timeouts_and_infrastructure)
{
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "timeout", 1, 1, 0, 0), 1);
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "infrastructure", 1, 1, 0, 0), 1);
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "timeout", 2, 3, 0, 0), 1);
}
END_TEST

START_TEST(test_pipeline_does_not_retry_what_would_fail_again)
{
    /* A refused host key, a boot that passed (the install or a test failed after it). */
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "refused", 1, 1, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "interrupted", 1, 1, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_PASS, NULL, 1, 1, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_SKIP, NULL, 1, 1, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_SKIP, "timeout", 1, 1, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_FAIL, "infrastructure", 1, 1, 0, 0), 0);
    /* Out of retries, out of the cell's own time, or interrupted. */
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "timeout", 2, 1, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "timeout", 1, 0, 0, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "timeout", 1, 1, 1, 0), 0);
    ck_assert_int_eq(retry(MR_VERDICT_ERROR, "timeout", 1, 1, 0, 1), 0);
}
END_TEST

/* ---- the reconnect deadline ---- */

START_TEST(test_pipeline_reconnect_gets_a_minute_within_the_cell)
{
    ck_assert_int_eq(mr_cell_reconnect_deadline(1000, INT64_MAX), 61000);
    ck_assert_int_eq(mr_cell_reconnect_deadline(1000, 90000), 61000);
    ck_assert_int_eq(mr_cell_reconnect_deadline(1000, 61000), 61000);
    ck_assert_int_eq(mr_cell_reconnect_deadline(1000, 20000), 20000);
}
END_TEST

/* ---- boot slots ---- */

START_TEST(test_pipeline_boot_slots_are_stagger_apart)
{
    int64_t next = 0, prev = -1;
    /* Many cells asking at nearly the same time. */
    for (int i = 0; i < 20; i++) {
        int64_t now = 1000 + i * 7;
        int64_t at = mr_sched_next_boot(&next, now, 500);
        ck_assert_int_ge(at, now);
        if (prev >= 0)
            ck_assert_int_eq(at - prev, 500);
        prev = at;
    }
    /* A cell asking long after the last start starts at once. */
    int64_t later = prev + 10000;
    ck_assert_int_eq(mr_sched_next_boot(&next, later, 500), later);
    ck_assert_int_eq(mr_sched_next_boot(&next, later, 500), later + 500);
    /* No stagger: no wait. */
    next = 0;
    ck_assert_int_eq(mr_sched_next_boot(&next, 3000, 0), 3000);
    ck_assert_int_eq(mr_sched_next_boot(&next, 3000, 0), 3000);
}
END_TEST

struct slot_waiter {
    struct mr_run *run;
    int64_t returned_ms;
};

static void *wait_slot(void *arg)
{
    struct slot_waiter *w = arg;
    (void)mr_sched_wait_boot_slot(w->run, "cell");
    w->returned_ms = mr_now_ms();
    return NULL;
}

/* Cells asking for boot slots at once start one stagger after another. */
START_TEST(test_pipeline_boot_slot_waits_are_spaced)
{
    struct mr_run_opts o = { .stagger_ms = 150 };
    struct mr_run run = { .o = &o, .stagger_ms = 150 };
    pthread_mutex_init(&run.lock, NULL);
    struct slot_waiter w[3];
    pthread_t th[3];
    int64_t t0 = mr_now_ms();
    for (int i = 0; i < 3; i++) {
        w[i] = (struct slot_waiter){ .run = &run };
        ck_assert_int_eq(pthread_create(&th[i], NULL, wait_slot, &w[i]), 0);
    }
    int64_t ends[3];
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        ends[i] = w[i].returned_ms - t0;
    }
    /* Sorted, the k-th start comes at least k staggers after the first call. */
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (ends[j] < ends[i]) {
                int64_t t = ends[i];
                ends[i] = ends[j];
                ends[j] = t;
            }
    ck_assert_int_ge(ends[1], 150);
    ck_assert_int_ge(ends[2], 300);
    pthread_mutex_destroy(&run.lock);
}
END_TEST

/* ---- placement on libvirt's test driver ---- */

struct place_fixture {
    struct mr_run_opts o;
    struct mr_run run;
    struct mr_run_host hosts[3];
    struct mr_cell cell;
    struct mr_run_slot slot;
};

static void place_setup(struct place_fixture *f)
{
    memset(f, 0, sizeof(*f));
    struct mr_err e = { 0 };
    for (int i = 0; i < 3; i++) {
        struct mr_run_host *h = &f->hosts[i];
        h->uri = "test:///default";
        h->conn = mr_guest_connect(h->uri, &e);
        ck_assert_ptr_nonnull(h->conn);
        h->hostname = (char *)(i == 0 ? "a" : i == 1 ? "b" : "c");
        h->mem_budget_mib = 4096;
    }
    f->hosts[0].cpu_budget = 4, f->hosts[0].cpu_used = 3;
    f->hosts[1].cpu_budget = 8, f->hosts[1].cpu_used = 2;
    f->hosts[2].cpu_budget = 6, f->hosts[2].cpu_used = 1;
    f->run = (struct mr_run){ .o = &f->o, .hosts = f->hosts, .n_hosts = 3 };
    f->cell.id = "c1";
    f->slot = (struct mr_run_slot){ .run = &f->run, .cell = &f->cell, .cpu = 2, .mem_mib = 1000 };
}

static void place_teardown(struct place_fixture *f)
{
    for (int i = 0; i < 3; i++)
        mr_host_close(f->hosts[i].conn, NULL);
}

START_TEST(test_pipeline_places_on_the_host_with_most_free_vcpus)
{
    struct place_fixture f;
    place_setup(&f);
    /* b has 6 free vCPUs, c 5, a 1 (too few). */
    ck_assert_ptr_eq(mr_sched_place(&f.run, &f.slot), &f.hosts[1]);
    /* Memory counts too: b full, c takes it. */
    f.hosts[1].mem_used_mib = 3500;
    ck_assert_ptr_eq(mr_sched_place(&f.run, &f.slot), &f.hosts[2]);
    /* A host that could not be opened takes nothing. */
    mr_host_close(f.hosts[2].conn, NULL);
    f.hosts[2].conn = NULL;
    f.run.running = 1;
    ck_assert_ptr_null(mr_sched_place(&f.run, &f.slot));
    place_teardown(&f);
}
END_TEST

/* A cell bigger than every budget waits while others run, then runs alone on the host
 * with the biggest budget. */
START_TEST(test_pipeline_places_a_too_big_cell_alone)
{
    struct place_fixture f;
    place_setup(&f);
    f.slot.cpu = 12;
    f.run.running = 2;
    ck_assert_ptr_null(mr_sched_place(&f.run, &f.slot));
    f.run.running = 0;
    ck_assert_ptr_eq(mr_sched_place(&f.run, &f.slot), &f.hosts[1]);
    place_teardown(&f);
}
END_TEST

/* The budget is the host's CPUs times the overcommit, less the vCPUs of the guests
 * already running there; memory is what is available times its overcommit. */
START_TEST(test_pipeline_budget_on_test_driver)
{
    struct mr_err e = { 0 };
    struct mr_run_opts o = { .overcommit_cpu = 2.0, .overcommit_mem = 0.5 };
    struct mr_run run = { .o = &o };
    struct mr_run_host h = { .uri = "test:///default", .hostname = (char *)"t" };
    h.conn = mr_guest_connect(h.uri, &e);
    ck_assert_ptr_nonnull(h.conn);
    /* The test driver's own figures, read here without host.c. */
    virNodeInfo info;
    ck_assert_int_eq(virNodeGetInfo(h.conn, &info), 0);
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(h.conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    ck_assert_int_gt(n, 0);
    long vcpus = 0;
    for (int i = 0; i < n; i++) {
        virDomainInfo di;
        ck_assert_int_eq(virDomainGetInfo(doms[i], &di), 0);
        vcpus += di.nrVirtCpu;
        virDomainFree(doms[i]);
    }
    free(doms);
    ck_assert_int_gt(vcpus, 0);
    mr_sched_budget(&run, &h);
    ck_assert_uint_eq(h.cpus, info.cpus);
    ck_assert_int_eq(h.cpu_budget, (long)info.cpus * 2 - vcpus);
    struct mr_host_size size;
    mr_host_measure(h.conn, &size);
    ck_assert_int_gt(size.avail_mib, 0);
    ck_assert_int_eq(h.mem_budget_mib, size.avail_mib / 2);
    mr_host_close(h.conn, NULL);
}
END_TEST

/* ---- the run's exit code ---- */

static int exit_code(const enum mr_verdict *v, size_t n)
{
    struct mr_report *rep;
    struct mr_suite *s = new_suite(&rep);
    for (size_t i = 0; i < n; i++) {
        struct mr_case *c = mr_suite_add_case(s, "m.cell", "t");
        if (v[i] != MR_VERDICT_PASS)
            mr_case_set(c, v[i], "x", "why");
    }
    int code = mr_pipeline_exit_code(rep);
    mr_report_free(rep);
    return code;
}

START_TEST(test_pipeline_exit_code_errors_win_over_failures)
{
    const enum mr_verdict pass[] = { MR_VERDICT_PASS, MR_VERDICT_SKIP };
    const enum mr_verdict fail[] = { MR_VERDICT_PASS, MR_VERDICT_FAIL, MR_VERDICT_SKIP };
    const enum mr_verdict error[] = { MR_VERDICT_ERROR, MR_VERDICT_PASS };
    const enum mr_verdict both[] = { MR_VERDICT_FAIL, MR_VERDICT_ERROR, MR_VERDICT_FAIL };
    ck_assert_int_eq(exit_code(pass, 2), 0);
    ck_assert_int_eq(exit_code(fail, 3), 1);
    ck_assert_int_eq(exit_code(error, 2), 3);
    ck_assert_int_eq(exit_code(both, 3), 3);
    ck_assert_int_eq(exit_code(NULL, 0), 0);
}
END_TEST

/* ---- shards ---- */

/* Each selected cell k (counted from 0 in the selection, which keeps the matrix's order)
 * is in shard k % N + 1 and in no other. */
static void check_shard_membership(const struct mr_matrix *m, char **only, size_t n_only)
{
    struct mr_err e = { 0 };
    /* The selection, computed here from the patterns. */
    size_t n_sel = 0;
    const struct mr_cell **sel = calloc(m->n_cells, sizeof(*sel));
    for (size_t i = 0; i < m->n_cells; i++) {
        int want = n_only == 0;
        for (size_t j = 0; j < n_only; j++)
            want |= fnmatch(only[j], m->cells[i].id, 0) == 0;
        if (want)
            sel[n_sel++] = &m->cells[i];
    }
    ck_assert_uint_gt(n_sel, 7);
    for (unsigned shards = 2; shards <= 7; shards++) {
        size_t seen = 0;
        for (unsigned i = 1; i <= shards; i++) {
            const struct mr_cell **got = NULL;
            size_t n = 0;
            ck_assert_int_eq(mr_matrix_select(m, only, n_only, i, shards, &got, &n, &e), 0);
            size_t j = 0;
            for (size_t k = 0; k < n_sel; k++) {
                if (k % shards != i - 1)
                    continue;
                ck_assert_msg(j < n && got[j] == sel[k], "cell %zu ('%s') is not in shard %u/%u",
                              k, sel[k]->id, i, shards);
                j++;
            }
            ck_assert_msg(j == n, "shard %u/%u holds %zu cells, expected %zu", i, shards, n, j);
            seen += n;
            free(got);
        }
        ck_assert_uint_eq(seen, n_sel);
    }
    free(sel);
}

/* The run makes a key pair of each type its cells' guests take, and no other. */
START_TEST(test_pipeline_run_keys_follow_the_cells_guests)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    struct mr_run_opts o = { 0 };
    struct mr_run run = { .o = &o };
    ck_assert_int_eq(mr_matrix_load(DATA "axes.xml", &m, &e), 0);
    run.m = m;
    ck_assert_uint_eq(mr_run_keytypes(&run), 1u << MR_KEYTYPE_ED25519);
    mr_matrix_free(m);
    ck_assert_msg(mr_matrix_load(DATA "keytypes.xml", &m, &e) == 0, "%s", mr_err_msg(&e));
    run.m = m;
    ck_assert_uint_eq(mr_run_keytypes(&run), (1u << MR_KEYTYPE_ED25519) | (1u << MR_KEYTYPE_RSA));
    /* The cells chosen to run count, not the matrix's: the Debian 12 cell alone needs
     * ed25519 only, the CentOS 6 cell alone RSA only. */
    ck_assert_str_eq(m->cells[0].img->name, "centos-6");
    const struct mr_cell *only[] = { &m->cells[1] };
    o.cells = only;
    o.n_cells = 1;
    ck_assert_uint_eq(mr_run_keytypes(&run), 1u << MR_KEYTYPE_ED25519);
    only[0] = &m->cells[0];
    ck_assert_uint_eq(mr_run_keytypes(&run), 1u << MR_KEYTYPE_RSA);
    /* Each cell logs in with the run's key of its guest's type, and its host key is
     * made of that type. */
    for (size_t i = 0; i < m->n_cells; i++) {
        struct mr_cell_run cl = { .run = &run, .img = m->cells[i].img,
                                  .fam = m->cells[i].img->fam };
        enum mr_keytype want = i == 0 ? MR_KEYTYPE_RSA : MR_KEYTYPE_ED25519;
        ck_assert_int_eq(mr_cell_keytype(&cl), want);
        ck_assert_ptr_eq(mr_cell_user_key(&cl), &run.keys[want]);
    }
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_pipeline_shards_hold_every_nth_cell)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "hundred.xml", &m, &e), 0);
    check_shard_membership(m, NULL, 0);
    char *only[] = { "deb-2.*", "deb-4.SEED=1*" };
    check_shard_membership(m, only, 2);
    mr_matrix_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tv = tcase_create("verdicts");
    tcase_add_loop_test(tv, test_pipeline_test_verdict_from_its_end, 0,
                        (int)MR_ARRAY_SIZE(verdict_cases));
    tcase_add_test(tv, test_pipeline_error_skips_every_later_case);
    tcase_add_test(tv, test_pipeline_suite_says_what_ssh_negotiated);
    tcase_add_test(tv, test_pipeline_run_keys_follow_the_cells_guests);
    tcase_add_test(tv, test_pipeline_stop_keeps_earlier_verdicts);
    tcase_add_test(tv, test_pipeline_interruption_skips_with_its_reason);
    tcase_add_test(tv, test_pipeline_exit_code_errors_win_over_failures);
    suite_add_tcase(s, tv);
    TCase *tr = tcase_create("retries");
    tcase_add_test(tr, test_pipeline_retries_boot_timeouts_and_infrastructure);
    tcase_add_test(tr, test_pipeline_does_not_retry_what_would_fail_again);
    tcase_add_test(tr, test_pipeline_reconnect_gets_a_minute_within_the_cell);
    suite_add_tcase(s, tr);
    TCase *ts = tcase_create("scheduler");
    tcase_add_test(ts, test_pipeline_boot_slots_are_stagger_apart);
    tcase_add_test(ts, test_pipeline_boot_slot_waits_are_spaced);
    tcase_add_test(ts, test_pipeline_places_on_the_host_with_most_free_vcpus);
    tcase_add_test(ts, test_pipeline_places_a_too_big_cell_alone);
    tcase_add_test(ts, test_pipeline_budget_on_test_driver);
    tcase_add_test(ts, test_pipeline_shards_hold_every_nth_cell);
    suite_add_tcase(s, ts);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
