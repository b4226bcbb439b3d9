/* guest.h: one cell's guest: its qcow2 overlay, its free SSH port and its transient
 * libvirt domain. A struct mr_guest is embedded (mr_guest_init/_release); release
 * destroys the domain and deletes the overlay, whatever state they are in. */
#ifndef MR_GUEST_H
#define MR_GUEST_H

#include <libvirt/libvirt.h>

#include "domxml.h"
#include "util.h"

/* Opens a libvirt connection with libvirt's default error printing silenced.
 * Returns NULL with err set. Close with virConnectClose(). */
virConnectPtr mr_guest_connect(const char *uri, struct mr_err *err);

/* Resolves MR_ACCEL_AUTO: kvm when the connection offers kvm domains and /dev/kvm opens,
 * else tcg. Other values are returned unchanged. */
enum mr_accel mr_guest_resolve_accel(virConnectPtr conn, enum mr_accel a);

/* A free TCP port on 127.0.0.1, or -errno. */
int mr_guest_free_port(void) MR_WUR;

/* Creates overlay (qcow2) backed read-only by base. Returns 0 or negative with err set. */
int mr_guest_overlay_create(const char *base, const char *overlay, struct mr_err *err) MR_WUR;

struct mr_guest {
    virDomainPtr dom;
    char *overlay;     /* owned; deleted by release */
    int autodestroy;   /* 1 by default; libvirt's test driver cannot do it */
};

void mr_guest_init(struct mr_guest *g);
/* Starts a transient domain with autodestroy, so libvirt destroys it if matrixrun dies. */
int mr_guest_start(struct mr_guest *g, virConnectPtr conn, const char *xml,
                   struct mr_err *err) MR_WUR;
/* 1 while the domain runs, 0 if it stopped, negative if unknown. */
int mr_guest_is_running(struct mr_guest *g);
/* Destroys the guest, also when the connection it was started on is lost (libvirtd
 * restarted): then through a fresh connection to the same URI. Deletes the overlay. */
void mr_guest_release(struct mr_guest *g);
/* Warm start (issue 14): QEMU's migration stream, through a file descriptor passed on
 * the QEMU monitor (virDomainQemuMonitorCommandWithFiles, local connections only).
 * libvirt's own save/restore cannot serve here: its restore refuses a domain XML with
 * another name or UUID than the saved one, so one save file restores one domain at a
 * time; QEMU's stream carries no identity and restores into as many as asked.
 *
 * Pauses the guest and writes its memory and device state to path (created 0600, not
 * there before), by deadline_ms. The guest stays paused; destroy it next. */
int mr_guest_save_state(virDomainPtr dom, const char *path, int64_t deadline_ms,
                        struct mr_err *err) MR_WUR;
/* Loads path's state into a guest started with an incoming migration pending
 * (domxml.h: incoming) and lets it run, by deadline_ms. */
int mr_guest_restore_state(struct mr_guest *g, const char *path, int64_t deadline_ms,
                           struct mr_err *err) MR_WUR;
/* Lets go of the guest without destroying it or deleting its overlay (a kept cell). */
void mr_guest_detach(struct mr_guest *g);
/* Destroys the domain with this UUID, if it runs, through a new connection to uri,
 * trying to connect up to tries times 200 ms apart. Returns 0, or -EIO with err set. */
int mr_guest_destroy_by_uuid(const char *uri, const unsigned char *uuid, unsigned tries,
                             struct mr_err *err) MR_WUR;

#endif
