/* doctor.h: `matrixrun doctor`, a check of whether this host can run guests and with
 * which accelerator (kvm, or tcg: software emulation), plus small host facts for reports.
 *
 * Ownership: mr_doctor_new() returns a report the caller frees with mr_doctor_free();
 * every string in it belongs to the report. Returned char * elsewhere belong to the
 * caller; returned const char * are static. */
#ifndef MR_DOCTOR_H
#define MR_DOCTOR_H

#include <stddef.h>

#include "util.h"

enum mr_doctor_level {
    MR_DOCTOR_LEVEL_OK,
    MR_DOCTOR_LEVEL_WARN,
    MR_DOCTOR_LEVEL_FAIL,
};

enum mr_doctor_verdict {
    MR_DOCTOR_VERDICT_KVM,  /* KVM runs stock guest kernels and libvirt offers kvm */
    MR_DOCTOR_VERDICT_TCG,  /* guests run, under software emulation only */
    MR_DOCTOR_VERDICT_NONE, /* no QEMU, no libvirt, or libvirt offers no x86_64 qemu/kvm */
};

/* One checked thing: "ok|warn|FAIL  name: finding", and for warn and FAIL what to do. */
struct mr_doctor_check {
    enum mr_doctor_level level;
    char *name;
    char *finding;
    char *fix; /* NULL when level is OK */
};

struct mr_doctor {
    struct mr_doctor_check *checks;
    size_t n_checks;
    enum mr_doctor_verdict verdict;
    const char *nested; /* mr_doctor_host_nested() at the time of the check */
};

/* Checks this host (CPU flags, /dev/kvm, a tiny KVM guest, the nested parameter,
 * permissions, QEMU) and the libvirt daemon at uri (versions, domain types for x86_64,
 * kvm domain capabilities). Never fails: what it cannot find out is a finding. Takes up
 * to about 5 s when KVM hangs (the test guest runs in a child with a time limit). */
struct mr_doctor *mr_doctor_new(const char *uri);
void mr_doctor_free(struct mr_doctor *d);

/* "ok", "warn" or "FAIL". */
const char *mr_doctor_level_name(enum mr_doctor_level l);
/* The verdict line's text after "verdict: ", as in "kvm (nested guests: yes)" or
 * "tcg only (software emulation, about 10x slower)" (caller frees). */
char *mr_doctor_verdict_text(const struct mr_doctor *d);

/* Host facts for the report context. */
/* "yes", "no" or "unknown": whether the host's kvm_intel/kvm_amd module allows nested
 * guests (its nested parameter; unknown when neither module is loaded). */
const char *mr_doctor_host_nested(void);
/* The host CPU's model name from /proc/cpuinfo (caller frees), or NULL. */
char *mr_doctor_host_cpu_model(void);
/* uname -r of the host, into buf ("" when uname fails). */
void mr_doctor_host_kernel(char *buf, size_t len);

/* Whether KVM on this machine runs the test guests (the "kvm guest" check: a real-mode
 * one, and a 64-bit one taking an exception through its IDT, as stock kernels do), in a
 * child process under a time limit of a few seconds. 1 or 0, why says what happened. */
int mr_doctor_kvm_runs_guests(char *why, size_t len);

/* Pure parts, exported for the unit tests. */

/* What /proc/cpuinfo says: counts are of CPUs (processor blocks) whose flags line holds
 * the whole word vmx or svm, so the "vmx flags" line of newer kernels is not counted. */
struct mr_doctor_cpuinfo {
    char *vendor; /* vendor_id of the first CPU, or NULL */
    char *model;  /* model name of the first CPU, or NULL */
    unsigned cpus;
    unsigned vmx;
    unsigned svm;
};
void mr_doctor_cpuinfo_parse(const char *text, struct mr_doctor_cpuinfo *ret);
void mr_doctor_cpuinfo_release(struct mr_doctor_cpuinfo *c);

/* What virConnectGetCapabilities' XML offers for one guest architecture. */
struct mr_doctor_caps {
    char **types;    /* domain types for the arch, each once, in document order */
    size_t n_types;
    char *emulator;  /* the arch's first <emulator>, or NULL */
    char *all;       /* every arch with its types: "i686: test; x86_64: qemu, kvm" */
};
/* Returns 0, or -EINVAL with err set when xml is not capabilities XML. */
int mr_doctor_caps_parse(const char *xml, const char *arch, struct mr_doctor_caps *ret,
                         struct mr_err *err) MR_WUR;
void mr_doctor_caps_release(struct mr_doctor_caps *c);
int mr_doctor_caps_has(const struct mr_doctor_caps *c, const char *type);

/* The <domain> of virConnectGetDomainCapabilities' XML ("kvm"), caller frees; NULL when
 * the XML is not domain capabilities. */
char *mr_doctor_domcaps_domain(const char *xml);

/* A kvm module's nested parameter ("Y\n", "1", "N", "0"; NULL when absent): "yes", "no"
 * or "unknown". */
const char *mr_doctor_nested_parse(const char *value);

/* Which kvm vendor module is loaded, looking in sys_module (normally /sys/module):
 * "kvm_intel", "kvm_amd", "kvm_pvm" or NULL. */
const char *mr_doctor_kvm_module(const char *sys_module);

#endif
