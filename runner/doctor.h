/* doctor.h: `matrixrun doctor`, a check of whether this host can run guests and with
 * which accelerator (kvm, or tcg: software emulation). The host facts it rests on (CPU,
 * nested parameter, the KVM test guest) come from hostprobe.h; its parsers, exported
 * for the unit tests only, are in doctorpriv.h.
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
    const char *nested; /* mr_hostprobe_nested_parse() of the parameter at check time */
};

/* Checks this host (CPU flags, /dev/kvm, a tiny KVM guest, the nested parameter,
 * permissions, QEMU) and the libvirt daemon at uri (versions, domain types for x86_64,
 * kvm domain capabilities). Never fails: what it cannot find out is a finding. When KVM
 * hangs it waits out the test guest's time limit (see mr_hostprobe_kvm_probe()). */
struct mr_doctor *mr_doctor_new(const char *uri);
void mr_doctor_free(struct mr_doctor *d);

/* "ok", "warn" or "FAIL". */
const char *mr_doctor_level_name(enum mr_doctor_level l);
/* The verdict line's text after "verdict: ", as in "kvm (nested guests: yes)" or
 * "tcg only (software emulation, about 10x slower)" (caller frees). */
char *mr_doctor_verdict_text(const struct mr_doctor *d);

#endif
