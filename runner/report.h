/* report.h: the results of a run: suites (one per cell), their properties and testcases,
 * and the names of the properties and testcases matrixrun writes.
 *
 * A struct mr_report owns its suites, a suite owns its properties and cases, a case owns
 * its strings; mr_report_free() frees everything. Text given to these functions may be
 * any bytes: the writers clean it when they render it (mr_xml_clean in junit.h). Pointers
 * the lookups return are borrowed from the report. */
#ifndef MR_REPORT_H
#define MR_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* The properties of a cell's suite, written by the pipeline and read by html, compare
 * and the tests. */
#define MR_PROP_IMAGE "image"                 /* the matrix's name of the image */
#define MR_PROP_FAMILY "family"               /* the image's OS family (debian, windows...) */
#define MR_PROP_OS_VERSION "os.version"       /* the image's OS version, when it names one */
#define MR_PROP_ACCEL "accel"                 /* the accelerator the guest ran on (kvm, tcg) */
#define MR_PROP_LIBVIRT_URI "libvirt.uri"     /* the libvirt URI of the cell's host */
#define MR_PROP_HOST "host"                   /* the host's name (also the suite's hostname) */
#define MR_PROP_RUN_ID "run.id"               /* the run's id: marks a report matrixrun wrote */
#define MR_PROP_VCPUS "vcpus"                 /* the guest's vCPUs */
#define MR_PROP_MEMORY_MIB "memory.mib"       /* the guest's memory, MiB */
#define MR_PROP_ENV_PREFIX "env."             /* "env.NAME": the cell's axis variable NAME */
#define MR_PROP_GUEST_KERNEL "guest.kernel"   /* uname -r in the guest, "unknown" unless asked */
#define MR_PROP_HOST_KERNEL "host.kernel"     /* a local host's kernel release */
#define MR_PROP_HOST_CPU_MODEL "host.cpu.model" /* a local host's CPU model name */
#define MR_PROP_HOST_NESTED "host.nested"     /* a local host's nested virtualization: yes,
                                                 no, unknown */
#define MR_PROP_NETWORK "network"             /* isolated or outbound (image/@network) */
#define MR_PROP_PROVISIONING "provisioning"   /* how the guest got its key: kernel command
                                                 line, cloud-init or cloudbase-init seed */
#define MR_PROP_CLOUD_INIT_STATUS "cloud-init.status" /* `cloud-init status` in the guest */
#define MR_PROP_GUEST_CPU_SECONDS "guest.cpu.seconds" /* CPU time the guest's QEMU used */
#define MR_PROP_SSH_RECONNECTS "ssh.reconnects" /* times the SSH connection was made again */
/* What the guest's SSH connection negotiated (libssh2_session_methods); cipher and MAC
 * of the client to server direction. */
#define MR_PROP_SSH_HOSTKEY "ssh.hostkey"     /* host key algorithm: ssh-ed25519, ssh-rsa */
#define MR_PROP_SSH_KEX "ssh.kex"             /* key exchange: curve25519-sha256, ... */
#define MR_PROP_SSH_CIPHER "ssh.cipher"       /* aes128-ctr, ... */
#define MR_PROP_SSH_MAC "ssh.mac"             /* hmac-sha2-256, ... */
#define MR_PROP_RETRIES "retries"             /* times the cell was run again after a boot
                                                 failure */
#define MR_PROP_TIME_PREPARE "time.prepare"   /* seconds before the boot: keys, seed, overlay */
#define MR_PROP_TIME_BOOT_SLOT_WAIT "time.boot-slot-wait" /* of time.prepare, seconds spent
                                                             waiting for a boot slot */
#define MR_PROP_TIME_COLLECT "time.collect"   /* seconds collecting the guest's logs */
#define MR_PROP_TIME_TEARDOWN "time.teardown" /* seconds destroying the guest, archiving */
#define MR_PROP_BOOT_MODE "boot.mode"       /* cold, warm (restored from a template guest's
                                                 saved state) or cold-after-failed-restore */
#define MR_PROP_TIME_RESTORE "time.restore"   /* warm: seconds from the guest's start to SSH
                                                 ready with its clock set (the boot case's) */
#define MR_PROP_TIME_TEMPLATE "time.template" /* warm: seconds the template guest took from
                                                 its start to its saved state, once per run */
#define MR_PROP_KEPT_UNTIL "kept.until"       /* a kept cell's guest runs until then (UTC,
                                                 ISO 8601): run --keep-failed, --keep */
/* The value of a property matrixrun could not find out (guest.kernel, host.cpu.model,
 * host.nested). */
#define MR_PROP_UNKNOWN "unknown"

/* The paired CPU benchmark's figures (README, "The CPU benchmark"), all starting with
 * MR_PROP_BENCH_PREFIX. An overhead is (guest/host time ratio - 1) x 100. */
#define MR_PROP_BENCH_PREFIX "benchmark.cpu."
#define MR_PROP_BENCH_RATIO "benchmark.cpu.ratio"                /* median guest/host ratio */
#define MR_PROP_BENCH_RATIO_LOW "benchmark.cpu.ratio.ci95.low"   /* its 95% interval's ends */
#define MR_PROP_BENCH_RATIO_HIGH "benchmark.cpu.ratio.ci95.high"
#define MR_PROP_BENCH_OVERHEAD_PCT "benchmark.cpu.overhead.pct"  /* the ratio as an overhead */
#define MR_PROP_BENCH_OVERHEAD_LOW_PCT "benchmark.cpu.overhead.ci95.low.pct" /* its interval */
#define MR_PROP_BENCH_OVERHEAD_HIGH_PCT "benchmark.cpu.overhead.ci95.high.pct"
#define MR_PROP_BENCH_HOST_CV_PCT "benchmark.cpu.host.cv.pct"    /* coefficient of variation */
#define MR_PROP_BENCH_GUEST_CV_PCT "benchmark.cpu.guest.cv.pct"
#define MR_PROP_BENCH_HOST_MEDIAN_SECONDS "benchmark.cpu.host.median.seconds" /* medians */
#define MR_PROP_BENCH_GUEST_MEDIAN_SECONDS "benchmark.cpu.guest.median.seconds"
#define MR_PROP_BENCH_HOST_SECONDS "benchmark.cpu.host.seconds"  /* every time, pair order */
#define MR_PROP_BENCH_GUEST_SECONDS "benchmark.cpu.guest.seconds"
#define MR_PROP_BENCH_REPETITIONS "benchmark.cpu.repetitions"    /* pairs measured */
#define MR_PROP_BENCH_WARMUP "benchmark.cpu.warmup"              /* pairs run first, unused */
#define MR_PROP_BENCH_ITERATIONS "benchmark.cpu.iterations"      /* the workload's size */
#define MR_PROP_BENCH_CHECKSUM "benchmark.cpu.checksum"          /* the workload's result */
#define MR_PROP_BENCH_NOISY "benchmark.cpu.noisy"                /* yes: interval too wide */
#define MR_PROP_BENCH_MAX_INTERVAL_PCT "benchmark.cpu.max-interval.pct" /* matrix limits */
#define MR_PROP_BENCH_MAX_OVERHEAD_PCT "benchmark.cpu.max-overhead.pct"
#define MR_PROP_BENCH_PINNED "benchmark.cpu.pinned"              /* where the runs were
                                                                    pinned, or no: and why */

/* The testcases every cell's suite has besides one per test command. */
#define MR_CASE_BOOT "boot"                   /* the guest booted and answered over SSH */
#define MR_CASE_INSTALL "install"             /* the package installed */
#define MR_CASE_BENCHMARK_CPU "benchmark.cpu" /* the paired CPU benchmark, when the matrix
                                                 has one */

/* The end of a failed or errored case's system-out or system-err, as read back from a
 * report (report_read.c) for the HTML summary: at most the last MR_TAIL_MAX_LINES lines
 * within the last MR_TAIL_MAX_BYTES bytes. A report's cases hold at most
 * MR_TAIL_MAX_TOTAL bytes of tails in all; past that a tail has no text. */
#define MR_TAIL_MAX_LINES 40
#define MR_TAIL_MAX_BYTES 4096
#define MR_TAIL_MAX_TOTAL (32u * 1024 * 1024)
struct mr_tail {
    char *text;          /* the last lines (a UTF-8 sequence is never split at the start),
                            or NULL when the report's tails took MR_TAIL_MAX_TOTAL */
    size_t lines;        /* lines in text (a last line without a newline counts) */
    uint64_t total_lines, total_bytes; /* in the whole stream */
    int cut;             /* text is less than the whole stream */
};

enum mr_verdict {
    MR_VERDICT_PASS,
    MR_VERDICT_FAIL,  /* a test ran and failed */
    MR_VERDICT_ERROR, /* the machinery failed */
    MR_VERDICT_SKIP,  /* could not run after an earlier error */
};

struct mr_case {
    char *name;
    char *classname;
    enum mr_verdict verdict;
    char *type;    /* failure/error type, or NULL */
    char *message; /* failure/error/skip message, or NULL */
    double time_s;
    char *out;     /* system-out, or NULL (also when it went to the spill file) */
    size_t out_len;
    char *err;     /* system-err, or NULL (also when it went to the spill file) */
    size_t err_len;
    /* Where out and err are when they went to the spill file: offsets in it, or -1 when
     * they are in memory. Read them with mr_case_read_text, which knows both places. */
    int64_t out_at, err_at;
    struct mr_spill *spill; /* the spill file new output goes to (counted), or NULL */
    /* Only in a report read back, and only for a failed or errored case: the end of its
     * system-out and system-err, or NULL when it has none (owned by the case). */
    struct mr_tail *out_tail, *err_tail;
};

struct mr_prop {
    char *name;
    char *value;
};

struct mr_suite {
    char *name;
    char *hostname;
    int64_t timestamp_ms; /* wall clock at start */
    double time_s;
    struct mr_prop *props;
    size_t n_props;
    struct mr_case **cases;
    size_t n_cases;
    char *out; /* the suite's system-out (attachment lines), or NULL */
    size_t props_room, cases_room; /* allocated entries (report.c's own) */
    struct mr_spill *spill; /* its report's spill file when added, for its cases */
};

struct mr_report {
    char *name;
    struct mr_suite **suites;
    size_t n_suites;
    size_t suites_room; /* allocated entries (report.c's own) */
    struct mr_spill *spill; /* where its new suites' output goes, or NULL (memory) */
};

struct mr_report *mr_report_new(const char *name);
void mr_report_free(struct mr_report *r);
struct mr_suite *mr_report_add_suite(struct mr_report *r, const char *name);
/* Removes and frees the last suite added (a cell attempt that will be run again). */
void mr_report_drop_last_suite(struct mr_report *r);
/* Appends src's suites to dst in their order; src is left empty. */
void mr_report_move_suites(struct mr_report *dst, struct mr_report *src);
/* Sets a property: a name set before keeps its place and takes the new value. */
void mr_suite_set_prop(struct mr_suite *s, const char *name, const char *value);
/* Appends a property without looking for one of that name: for a caller that knows
 * there is none (the reader, which keeps its own index). */
void mr_suite_add_prop(struct mr_suite *s, const char *name, const char *value);
/* Adds a passing case; the caller fills in verdict and texts. Borrowed pointer. */
struct mr_case *mr_suite_add_case(struct mr_suite *s, const char *classname, const char *name);
void mr_case_set(struct mr_case *c, enum mr_verdict v, const char *type, const char *fmt, ...)
    MR_PRINTF(4, 5);
/* Appends text to the suite's system-out, where attachment lines such as
 * "[[ATTACHMENT|/abs/path]]" go (Jenkins' attachments plugin reads them there). */
void mr_suite_add_out(struct mr_suite *s, const char *text);
/* Copies len bytes of output (any bytes) into system-out or system-err. */
void mr_case_set_out(struct mr_case *c, const char *data, size_t len);
void mr_case_set_err(struct mr_case *c, const char *data, size_t len);

/* The spill file. A run's output would otherwise stay in memory until the report is
 * written: up to 4 MiB per command and stream, times every test of every cell. Output of
 * MR_SPILL_MIN bytes or more set on a case of a report that has a spill file goes to
 * that file instead (an unlinked file, mode 0600, in the run's private work folder), so
 * a run holds in memory only what its running cells are receiving. The file is shared
 * by the reports given it (the run's and each cell's), appended to under a lock, and
 * closed with the last report or case that uses it. Output the file cannot take (a full
 * disk) stays in memory. */
#define MR_SPILL_MIN 4096
/* Gives r a new spill file in dir. Returns 0 or -errno with err set (r keeps output in
 * memory then). */
int mr_report_spill_to(struct mr_report *r, const char *dir, struct mr_err *err) MR_WUR;
/* Makes r's suites added from now on spill where from's do. */
void mr_report_share_spill(struct mr_report *r, const struct mr_report *from);
/* Whether the case's system-out (err 0) or system-err (err 1) is in the spill file. */
int mr_case_text_spilled(const struct mr_case *c, int err);
/* Copies up to n bytes of the case's system-out (err 0) or system-err (err 1) from
 * offset off into buf, wherever it is. Returns the bytes copied (0 past the end) or
 * -errno. */
ssize_t mr_case_read_text(const struct mr_case *c, int err, size_t off, char *buf, size_t n)
    MR_WUR;

/* Counts over a suite or a whole report. */
struct mr_counts {
    size_t tests, failures, errors, skipped;
};
struct mr_counts mr_suite_counts(const struct mr_suite *s);
struct mr_counts mr_report_counts(const struct mr_report *r);

/* A property's value, or NULL when the suite has none of that name. */
const char *mr_suite_prop(const struct mr_suite *s, const char *name);
/* The suite's first testcase of that name, or NULL. */
const struct mr_case *mr_suite_case(const struct mr_suite *s, const char *name);

/* The distinct non-empty values of a property over the report's suites, in suite order
 * (MR_PROP_HOST falls back to a suite's hostname attribute). Returns their number and a
 * malloc'd array of strings borrowed from the suites (free the array only). */
size_t mr_report_distinct_prop(const struct mr_report *r, const char *name,
                               const char ***ret);

/* Whether a report looks like matrixrun's: at least one suite carries a run.id. */
int mr_report_is_matrixrun(const struct mr_report *r);

#endif
