/* hostprobe.h: facts about the machine this process runs on, read from /proc, /sys,
 * uname(2) and /dev/kvm: whether KVM runs stock guests (a tiny test guest), the kernel
 * release, the CPU model and the nested-virtualization parameter. It sits below guest
 * (which resolves --accel auto with it) and doctor (which explains what it finds), so
 * that neither of those needs the other.
 *
 * Ownership: returned char * belong to the caller; returned const char * are static.
 * mr_hostprobe_cpuinfo_parse() fills a struct the caller releases with
 * mr_hostprobe_cpuinfo_release(). */
#ifndef MR_HOSTPROBE_H
#define MR_HOSTPROBE_H

#include <stddef.h>

#include "util.h"

#define MR_HOSTPROBE_KVM_DEV "/dev/kvm"

/* ---- /proc/cpuinfo ---- */

/* What /proc/cpuinfo says: counts are of CPUs (processor blocks) whose flags line holds
 * the whole word vmx or svm, so the "vmx flags" line of newer kernels is not counted. */
struct mr_hostprobe_cpuinfo {
    char *vendor; /* vendor_id of the first CPU, or NULL */
    char *model;  /* model name of the first CPU, or NULL */
    unsigned cpus;
    unsigned vmx;
    unsigned svm;
};
/* Parses the text of /proc/cpuinfo; pure. */
void mr_hostprobe_cpuinfo_parse(const char *text, struct mr_hostprobe_cpuinfo *ret);
void mr_hostprobe_cpuinfo_release(struct mr_hostprobe_cpuinfo *c);

/* The host CPU's model name from /proc/cpuinfo (caller frees), or NULL. */
char *mr_hostprobe_cpu_model(void);

/* ---- the kernel ---- */

/* uname -r of the host, into buf ("" when uname fails). */
void mr_hostprobe_kernel(char *buf, size_t len);

/* ---- nested virtualization ---- */

/* A kvm module's nested parameter ("Y\n", "1", "N", "0"; NULL when absent): "yes", "no"
 * or "unknown". Pure. */
const char *mr_hostprobe_nested_parse(const char *value);
/* The text of kvm_intel's or kvm_amd's nested parameter without its newline (caller
 * frees) and, in *ret_module, the module it belongs to; NULL and NULL when neither
 * module is loaded. */
char *mr_hostprobe_nested_param(const char **ret_module);
/* "yes", "no" or "unknown": whether the host's kvm_intel/kvm_amd module allows nested
 * guests (its nested parameter; unknown when neither module is loaded). */
const char *mr_hostprobe_nested(void);

/* ---- the KVM test guests ---- */

/* What the test guests did: a real-mode one (out, hlt) shows KVM_RUN works at all; a
 * 64-bit one taking an exception through its IDT shows whether a stock kernel could. */
enum mr_hostprobe_kvm_probe {
    MR_HOSTPROBE_KVM_PROBE_OK = 0,        /* both guests ran */
    MR_HOSTPROBE_KVM_PROBE_REAL_FAILED,   /* the real-mode guest did not run */
    MR_HOSTPROBE_KVM_PROBE_LONG_FAILED,   /* real mode ran, the 64-bit guest's exception did not */
    MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED,  /* an ioctl before KVM_RUN failed */
    MR_HOSTPROBE_KVM_PROBE_TIMEOUT,       /* KVM_RUN did not return in time */
};

/* Runs both test guests on kvm (an open /dev/kvm) in a child process under a time
 * limit of a few seconds, so a KVM_RUN that never returns cannot hang the caller.
 * Forks: call it before starting threads. Returns what happened, with detail in msg
 * ("" when both ran). */
enum mr_hostprobe_kvm_probe mr_hostprobe_kvm_probe(int kvm, char *msg, size_t msglen);

/* Whether KVM on this machine runs the test guests: opens /dev/kvm and runs
 * mr_hostprobe_kvm_probe(). 1 or 0, why says what happened. */
int mr_hostprobe_kvm_runs_guests(char *why, size_t len);

#endif
