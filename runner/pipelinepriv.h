/* pipelinepriv.h: what the pipeline's files share, and nothing else sees (libvirt's
 * *priv.h habit): the run (pipeline.c), the scheduler that places and starts its cells
 * (sched.c), and one cell's phases (cell.c; its guest I/O in cellio.c, its log
 * collection in collect.c, its benchmark in cellbench.c). The pure functions declared
 * here are reached by tests/check_pipeline.c.
 *
 * Ownership: a struct mr_run owns its hosts, ports and report; a struct mr_run_slot owns
 * its report (rep); a struct mr_cell_run owns everything it points to except run, host,
 * cell, img, fam and name, which it borrows, and s and its cases, which belong to the
 * slot's report. */
#ifndef MR_PIPELINEPRIV_H
#define MR_PIPELINEPRIV_H

#include <pthread.h>
#include <stdint.h>

#include "archive_io.h"
#include "guest.h"
#include "junit.h"
#include "pipeline.h"
#include "remote_store.h"
#include "ssh.h"

/* What QEMU itself needs beside the guest's memory, counted against the host's. */
#define MR_RUN_GUEST_OVERHEAD_MIB 128
/* How long a dropped SSH connection may take to come back. */
#define MR_CELL_RECONNECT_TIMEOUT_S 60
/* How long each log command of a cell may take, and the time collecting gets at least,
 * even when the cell's own time ran out (logs matter most then). */
#define MR_CELL_LOG_TIMEOUT_MS 60000

/* A libvirt host and what the run has placed on it. */
struct mr_run_host {
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

/* Warm start: one template guest per host, image, vCPUs, memory and network, booted as
 * a cold cell boots, its state saved (guest.h) and restored into each cell of it, each
 * on its own overlay over the template's. Built by the first cell that needs it, in
 * that cell's thread and within its share of the host; the others wait for it
 * (run->changed). Fields past state are written by the builder before state leaves
 * MR_TEMPLATE_BUILDING, and only read after. */
enum mr_template_state {
    MR_TEMPLATE_BUILDING,
    MR_TEMPLATE_READY,
    MR_TEMPLATE_FAILED,
};

struct mr_template {
    const struct mr_run_host *host;
    const struct mr_image *img;
    unsigned vcpus, memory_mib;
    enum mr_network network;
    char *name;            /* "IMAGE@template[-N]": its progress, domain and report folder */
    enum mr_template_state state; /* guarded by run->lock */
    char *overlay;         /* its disk: every cell's backing file, never written again */
    char *state_path;      /* the saved memory and device state */
    char *seed_iso;        /* stays attached to each cell (the same devices), or NULL */
    char *mac;
    struct mr_sshkey hostkey; /* the public half, which every cell of it pins */
    double time_s;         /* from its start to its saved state (time.template) */
    char *cloud_init;      /* its seed reader's status (cloud-init.status), or NULL */
    /* MR_TEMPLATE_FAILED: the boot error every cell of it gets. */
    char *error, *error_type, *error_out;
};

struct mr_run {
    const struct mr_matrix *m;
    const struct mr_run_opts *o;
    struct mr_run_host *hosts;
    size_t n_hosts;
    char *run_id;
    char *workdir;
    char *outdir_abs;
    /* The run's key pairs by enum mr_keytype, made for the types its cells take
     * (mr_run_keytypes); the others are left empty (type NULL). */
    struct mr_sshkey keys[MR_KEYTYPE_COUNT];
    struct mr_report *report;
    int64_t stagger_ms;
    /* Guarded by lock: placement, ports handed out, the next boot slot. */
    pthread_mutex_t lock;
    pthread_cond_t changed;
    unsigned running;
    int *ports;
    size_t n_ports;
    int64_t next_boot_ms;
    unsigned n_kept; /* cells whose guest outlives the run (their folder stays) */
    struct mr_template **templates; /* guarded by lock (the list; see struct mr_template) */
    size_t n_templates;
};

/* A cell's place in the run: its thread and the report its attempts go into. */
struct mr_run_slot {
    struct mr_run *run;
    const struct mr_cell *cell;
    struct mr_run_host *host;
    struct mr_report *rep;
    pthread_t thread;
    int started;
    long cpu, mem_mib; /* reserved on host */
};

/* One attempt at a cell, carried from phase to phase. Its testcases are reached by
 * handle: boot, install, tests[i] for the matrix's test i, bench (NULL without
 * <benchmark>). */
struct mr_cell_run {
    struct mr_run *run;
    struct mr_run_host *host;
    const struct mr_cell *cell;
    const struct mr_image *img;
    const struct mr_family *fam;
    const char *name;
    struct mr_suite *s;
    struct mr_case *boot, *install, **tests, *bench;
    char *celldir;
    char *serial;
    char *seed_iso;        /* NULL for images with a baked host key */
    char *domname;
    char *mac;
    char *domxml;          /* the domain to start, made by the prepare phase */
    int port;              /* the guest's SSH forward on its host's 127.0.0.1 */
    struct mr_guest g;
    struct mr_remote_store rs; /* remote hosts: the cell's volumes */
    struct mr_sshkey hostkey;
    struct mr_sshkey login;  /* a pre-provisioned login's key (<login key>), else empty */
    struct mr_transport *conn; /* only cellio.c uses it */
    struct mr_transport_target target; /* how to reach the guest again */
    int64_t t0_ms;         /* the attempt's start */
    int64_t boot_t0_ms;    /* the guest's start */
    int64_t boot_deadline_ms;
    int64_t deadline_ms;   /* the cell's time limit (INT64_MAX: none) */
    int deadline_hit;      /* a step was cut short by it */
    int out_of_time;       /* the boot ran into it: another attempt would not help */
    unsigned reconnects;
    char *install_out;     /* the package manager's output, for the archive */
    size_t install_out_len;
    struct mr_archive_member *files; /* collected logs (data owned here) */
    size_t n_files;
    struct mr_buf manifest;
    /* The phases' times in ms, for the report's time.* properties; -1: not reached. */
    int64_t t_prepare, t_slot;
    struct mr_template *tpl; /* a warm cell's template (the run's), else NULL */
    int no_retry;            /* another attempt would fail the same way (a failed template) */
    char *restore_failed;    /* why a warm cell fell back to a cold boot, or NULL */
};

static inline double mr_secs_since(int64_t t0_ms)
{
    return (double)(mr_now_ms() - t0_ms) / 1000.0;
}

/* pipeline.c */

/* Hands a progress event to the run's callback, if any. */
void mr_pipeline_progress(struct mr_run *run, enum mr_progress_kind kind, const char *cell,
                          const char *fmt, ...) MR_PRINTF(4, 5);
/* The key types the run's cells take, as a mask of 1u << enum mr_keytype. */
unsigned mr_run_keytypes(const struct mr_run *run);
/* Suite properties of numbers. */
void mr_pipeline_set_uint(struct mr_suite *s, const char *name, unsigned long v);
void mr_pipeline_set_double(struct mr_suite *s, const char *name, const char *fmt, double v);

/* sched.c */

/* Sets a host's budget from its size (host.h) and the run's overcommit ratios. */
void mr_sched_budget(struct mr_run *run, struct mr_run_host *h);
/* The host with the most free vCPUs that holds the slot's cell, or NULL to wait. A cell
 * too big for any host runs alone on the biggest, once nothing else runs. Call with
 * run->lock held. */
struct mr_run_host *mr_sched_place(struct mr_run *run, const struct mr_run_slot *sl);
/* The start time of the next guest, at least stagger_ms after the one before
 * (*next_boot_ms, updated) and not before now. */
int64_t mr_sched_next_boot(int64_t *next_boot_ms, int64_t now_ms, int64_t stagger_ms);
/* A port for a guest's SSH forward that no other cell of the run holds, or -errno. */
int mr_sched_take_port(struct mr_run *run, const struct mr_run_host *h);
/* Waits for the cell's boot slot (mr_sched_next_boot); returns how long it waited, ms. */
int64_t mr_sched_wait_boot_slot(struct mr_run *run, const char *cell);
/* Starts the cells in order as jobs and capacity allow, and waits for all of them; each
 * slot's report then holds its cell's suite. setup_error: the run could not start any
 * cell, and why. */
void mr_sched_run(struct mr_run *run, struct mr_run_slot *slots, size_t n,
                  const char *setup_error);

/* cell.c */

/* Runs a cell, again up to the matrix's retries when its boot failed retryably; the
 * slot's report gets its last attempt's suite. */
void mr_cell_run(struct mr_run_slot *sl);
/* The cell stops at its case c (whose verdict is set): every later case that has not
 * run (still passing) is skipped, saying that the run was interrupted (interrupted, or c
 * itself skipped) or that c failed. */
void mr_cell_stop_after(struct mr_suite *s, const struct mr_case *c, int interrupted);
/* Whether a cell whose attempt number `attempt` (from 1) ended with this boot case is
 * run again: a boot error of type timeout or infrastructure may go better a second
 * time; a refused host key, a failed install or test would not, nor a cell whose own
 * time limit ran out (out_of_time), nor an interrupted run. */
int mr_cell_retry_wanted(const struct mr_case *boot, unsigned attempt, unsigned retries,
                         int out_of_time, int interrupted);
/* Sets an error verdict on c from a step's return code: type timeout, interrupted or
 * infrastructure. */
void mr_cell_step_error(struct mr_case *c, int r, const char *step, const char *why);
/* A family command template expanded for the cell (artifact: its path in the guest, or
 * NULL). Caller frees. */
char *mr_cell_expand(const struct mr_cell_run *cl, const char *tmpl, const char *artifact);
/* A <log> command of the cell's family (mr_family_expand_log). */
char *mr_cell_expand_log(const struct mr_cell_run *cl, const char *tmpl);
/* The cell's network: the run's --network, else its image's. */
enum mr_network mr_cell_network(const struct mr_cell_run *cl);
/* Copies an exec's stdout and stderr into c, saying what the output cap dropped. */
void mr_cell_exec_output(struct mr_case *c, const struct mr_exec *x);

/* How a test's command ended, for mr_cell_test_verdict. */
struct mr_cell_test_end {
    int r;                    /* mr_cell_exec's return */
    const struct mr_exec *x;  /* valid when r is 0 */
    int deadline_hit;         /* the cell's time limit cut the command short */
    const char *why;          /* the exec's error message when r < 0 */
    double time_s;            /* how long the command ran */
    /* r == -EIO (the connection dropped): 0 when a new one was made, else negative;
     * how long that took, and why it failed. */
    int reconnect;
    double reconnect_s;
    const char *reconnect_why;
};
/* Sets c's verdict from how test t ended: exit status 0 passes; another status or a
 * signal is a failure; the test's own timeout is an error of type timeout (never a
 * failure), and so is the cell's; a dropped connection is an error of type connection.
 * Returns 0 when the cell may go on, -1 when it cannot (its time ran out, or no
 * connection). */
int mr_cell_test_verdict(struct mr_case *c, const struct mr_test *t,
                         const struct mr_cell_test_end *end);

/* The cold boot's preparations, on a cell whose folder and port exist: its MAC, host
 * key and seed (or the image's pinned key), its login key, disk and domain XML. Returns
 * 0, or negative with e set. */
int mr_cell_prepare_guest(struct mr_cell_run *cl, struct mr_err *e) MR_WUR;
/* The image's pre-provisioned login key (<login key>) into cl->login; 0 without one. */
int mr_cell_load_login(struct mr_cell_run *cl, struct mr_err *e) MR_WUR;
/* Lets go of the guest a cell prepared or started (destroyed, its overlay deleted), its
 * keys, MAC, domain XML and template, before it prepares a cold boot instead. */
void mr_cell_drop_guest(struct mr_cell_run *cl);
/* A step before the tests failed at case c: tells its error and stops the cell; -1. */
int mr_cell_fail(struct mr_cell_run *cl, const struct mr_case *c);
/* The cell's domain XML: its SSH forward on cl->port; a warm cell's (cl->tpl) waits for
 * the template's saved state. */
char *mr_cell_domain_xml(struct mr_cell_run *cl, struct mr_err *e);
/* The cold boot: the boot slot, the guest's start, SSH and its seed reader. Returns 0,
 * or -1 with the boot case set and the cell stopped. */
int mr_cell_boot_cold(struct mr_cell_run *cl);
/* Frees what a cell attempt holds (not its guest: release or detach that first). */
void mr_cell_release(struct mr_cell_run *cl);
/* A host name from a cell name: letters, digits and '-', at most 63 characters. */
char *mr_cell_host_name(const char *cell);

/* warm.c: warm start. */

/* Whether the cell starts warm: --warm, or its image's warm="yes" without --cold; and
 * then only on a local host and for a family whose shell is sh (says why not). */
int mr_warm_wanted(struct mr_cell_run *cl);
/* A warm cell's preparations: its template (built now, or waited for), its overlay on
 * the template's, its domain XML waiting for the saved state. Returns 0, or -1 with the
 * boot case set to the template's boot error and the cell stopped; a failure after the
 * template was ready returns 1 with cl->restore_failed set (the cell then boots cold). */
int mr_warm_prepare(struct mr_cell_run *cl);
/* Starts the guest from the template's state, waits for SSH and sets the guest's clock,
 * host name and entropy. Returns 0, or negative with e set (the caller destroys the
 * guest and boots cold). */
int mr_warm_restore(struct mr_cell_run *cl, struct mr_err *e) MR_WUR;
/* Frees the run's templates (their files are in the run's work folder). */
void mr_warm_release(struct mr_run *run);

/* cellio.c: all guest I/O of a cell, whatever carries it. */

/* Connects to the guest (cell's port and keys) by deadline_ms. mr_ssh_connect's codes. */
int mr_cell_connect(struct mr_cell_run *cl, int64_t deadline_ms, struct mr_err *e) MR_WUR;
/* The SSH key type of the cell's guest, host key and user key alike: the catalogue's
 * choice for its image's family and OS version. */
enum mr_keytype mr_cell_keytype(const struct mr_cell_run *cl);
/* The run's key pair the cell logs in with (of mr_cell_keytype). Borrowed from the run. */
const struct mr_sshkey *mr_cell_user_key(const struct mr_cell_run *cl);
/* Sets the suite's ssh.hostkey, ssh.kex, ssh.cipher and ssh.mac properties to what a
 * connection negotiated. */
void mr_cell_set_methods(struct mr_suite *s, const struct mr_transport_methods *m);
/* When a new connection must be made after one dropped: MR_CELL_RECONNECT_TIMEOUT_S
 * from now, or the cell's deadline if that comes first. */
int64_t mr_cell_reconnect_deadline(int64_t now_ms, int64_t cell_deadline_ms);
/* Opens a new connection after the old one dropped, by mr_cell_reconnect_deadline. */
int mr_cell_reconnect(struct mr_cell_run *cl, struct mr_err *e) MR_WUR;
/* Whether the cell holds a connection to its guest. */
int mr_cell_connected(const struct mr_cell_run *cl);
void mr_cell_disconnect(struct mr_cell_run *cl);
/* Runs cmd through the family's shell within timeout_ms and the cell's time limit
 * (cutting it sets deadline_hit). mr_ssh_exec's codes; -EIO without a connection. */
int mr_cell_exec(struct mr_cell_run *cl, const char *cmd, int64_t timeout_ms,
                 struct mr_exec *x, struct mr_err *e) MR_WUR;
/* Uploads local to remote, a path as the guest's shell spells it. */
int mr_cell_upload(struct mr_cell_run *cl, const char *local, const char *remote, long mode,
                   int64_t timeout_ms, struct mr_err *e) MR_WUR;

/* collect.c */

/* Asks the guest for its kernel in an exec of its own, into guest.kernel. */
void mr_cell_query_kernel(struct mr_cell_run *cl);
/* Pulls the family's logs (and, where the family batches them, the kernel) out of the
 * guest. A log that cannot be read is noted in the manifest; no verdict changes. */
void mr_cell_collect_logs(struct mr_cell_run *cl);
/* Writes the cell's artifacts archive and names it in the suite's system-out. */
void mr_cell_write_artifacts(struct mr_cell_run *cl);
/* Copies a remote cell's serial log into the report folder, noting a failure. */
void mr_cell_fetch_serial(struct mr_cell_run *cl);

/* cellbench.c */

/* The paired CPU benchmark into case c and the suite's properties. Returns -1 when the
 * cell's time ran out, else 0. */
int mr_cell_benchmark(struct mr_cell_run *cl, struct mr_case *c);

#endif
