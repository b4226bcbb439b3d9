/* doctorpriv.h: doctor's pure parsers, exported for tests/check_doctor.c only (as
 * libvirt's *priv.h files are). Code outside doctor.c and its tests includes doctor.h.
 *
 * Ownership: mr_doctor_caps_parse() fills a struct the caller releases with
 * mr_doctor_caps_release(); mr_doctor_domcaps_domain()'s string belongs to the caller;
 * mr_doctor_kvm_module()'s is static. */
#ifndef MR_DOCTORPRIV_H
#define MR_DOCTORPRIV_H

#include <stddef.h>

#include "doctor.h"
#include "util.h"

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

/* Which kvm vendor module is loaded, looking in sys_module (normally /sys/module):
 * "kvm_intel", "kvm_amd", "kvm_pvm" or NULL. */
const char *mr_doctor_kvm_module(const char *sys_module);

#endif
