/* host.h: what a run asks of a libvirt host beside starting its guests (guest.h): its
 * name, its size and what other guests use of it; a guest's vCPU pinning and CPU time;
 * and closing the host's handles. Library code: it returns errors and prints nothing.
 *
 * Strings returned as char * belong to the caller. */
#ifndef MR_HOST_H
#define MR_HOST_H

#include <libvirt/libvirt.h>

#include "util.h"

/* A host's size as libvirt reports it when the run begins. */
struct mr_host_size {
    unsigned cpus;     /* the host's CPUs; 1 when libvirt does not say */
    long avail_mib;    /* memory guests can have without swapping: free plus buffers and
                        * page cache, or the host's total when libvirt has no such stats */
    long other_vcpus;  /* vCPUs of the guests already running there */
};

/* Reads conn's host size into *ret; what libvirt cannot tell gets the fallbacks above. */
void mr_host_measure(virConnectPtr conn, struct mr_host_size *ret);

/* The host's name as libvirt gives it, else this machine's node name. */
char *mr_host_name(virConnectPtr conn);

/* Pins vCPU vcpu of dom to host CPU cpu (0..4095). Returns 0, or -EINVAL (no domain,
 * CPU out of range) or -EIO with err set to libvirt's reason. */
int mr_host_pin_vcpu(virDomainPtr dom, unsigned vcpu, int cpu, struct mr_err *err) MR_WUR;

/* The CPU time dom's QEMU has used, in seconds, or a negative value when unknown. */
double mr_host_guest_cpu_seconds(virDomainPtr dom);

/* Frees a host's storage pool handle and closes its connection; NULLs are skipped. */
void mr_host_close(virConnectPtr conn, virStoragePoolPtr pool);

#endif
