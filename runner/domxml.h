/* domxml.h: builds the libvirt domain XML of one cell's guest. Pure: no libvirt calls. */
#ifndef MR_DOMXML_H
#define MR_DOMXML_H

#include "matrix.h"

/* Namespace of matrixrun's <metadata> element in every domain it starts; `clean` and
 * the leftover check find earlier runs' guests by it. */
#define MR_METADATA_NS "urn:x-matrixrun:run:1"

struct mr_domain_spec {
    const char *name;      /* libvirt domain name */
    const char *run_id;
    const char *cell;
    const char *run_dir;   /* the run's work folder, recorded in the metadata */
    const char *controller; /* the machine running matrixrun (mr_controller_id()), or NULL */
    enum mr_accel accel;   /* MR_ACCEL_KVM or MR_ACCEL_TCG */
    unsigned memory_mib;
    unsigned vcpus;
    const char *disk;      /* overlay path on the libvirt host, or NULL */
    const char *kernel;    /* or NULL to boot from the disk */
    const char *initrd;
    const char *cmdline;   /* complete kernel command line */
    const char *serial_log; /* file on the libvirt host */
    int ssh_port;          /* host port on 127.0.0.1 forwarded to the guest's port 22 */
    const char *seed_iso;  /* NoCloud seed (on the host) attached as a CD-ROM, or NULL */
    const char *mac;       /* the NIC's MAC address ("52:54:00:..."), or NULL for QEMU's */
    int outbound;          /* 1: NAT to the outside (image network="outbound"); 0: none */
    /* 1: QEMU starts waiting for a saved state (-incoming defer) instead of booting; the
     * rest of the spec must then equal the saved guest's but for disk, serial_log, name,
     * cell and ssh_port (guest.h: mr_guest_restore_state). */
    int incoming;
};

/* Returns the domain XML (caller frees), or NULL with err set if the spec is unusable. */
char *mr_domxml_build(const struct mr_domain_spec *s, struct mr_err *err);

#endif
