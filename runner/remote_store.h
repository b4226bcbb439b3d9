/* remote_store.h: a cell's files on a remote libvirt host that shares no storage with
 * matrixrun: the qcow2 overlay, the seed ISO and the serial console log live as volumes
 * of a directory storage pool on that host, made, filled, read back and deleted through
 * libvirt's storage API over the host's own connection. Base images, kernels and initrds
 * are not copied: they must exist at the same path on every host.
 *
 * Ownership: mr_remote_store_open_pool() hands the pool to the caller
 * (virStoragePoolFree). A struct mr_remote_store is embedded (_init/_release); it borrows
 * the pool, owns its volumes and path strings, and _release deletes the volumes on the
 * host whatever state they are in. Its *_path members are paths on the host. */
#ifndef MR_REMOTE_STORE_H
#define MR_REMOTE_STORE_H

#include <libvirt/libvirt.h>

#include "util.h"

/* The pool matrixrun owns on each remote host. */
#define MR_REMOTE_STORE_POOL "matrixrun"
#define MR_REMOTE_STORE_TARGET "/var/lib/libvirt/matrixrun"

/* Registers libvirt's default event loop and runs it in a thread of its own, once per
 * process; call it before opening a remote host's connection. Streams over a remote
 * connection need it: without one, a download over qemu+libssh hung about one time in
 * two (in virStorageVolDownload or the first virStreamRecv, libvirt 9.0; 3 of 6 tries),
 * with it none did (6 of 6); virsh runs this loop too. A run with local hosts only never
 * starts it; connections opened after it, local ones too, use it. Returns 0, or
 * -errno if the thread could not start (the loop is then not registered either). */
int mr_remote_store_event_loop_start(void) MR_WUR;
/* Stops that loop's thread and waits for it, once every connection is closed: a process
 * that exits while the thread still runs libvirt's deferred work may crash (seen: a
 * segfault in that thread after the run's report was written). Does nothing if the loop
 * never started; the loop cannot start again after. */
void mr_remote_store_event_loop_stop(void);

/* Finds the directory pool `name` on conn; when missing, defines it (persistent, target
 * folder target, autostart), builds and starts it; when inactive, starts it. A pool that
 * another run defines at the same moment is taken as found. Returns 0 and *ret, or
 * negative with err set. */
int mr_remote_store_open_pool(virConnectPtr conn, const char *name, const char *target,
                              virStoragePoolPtr *ret, struct mr_err *err) MR_WUR;

struct mr_remote_store {
    virStoragePoolPtr pool; /* borrowed */
    char *prefix;           /* volume names start with it: "mr-<run id>-<cell>" */
    virStorageVolPtr overlay, seed, serial;
    char *overlay_path, *seed_path, *serial_path;
};

void mr_remote_store_init(struct mr_remote_store *st, virStoragePoolPtr pool, const char *prefix);

/* Creates "<prefix>.qcow2", a qcow2 volume backed by base (qcow2, a path on the host),
 * sized like base. Sets overlay_path. */
int mr_remote_store_overlay(struct mr_remote_store *st, const char *base,
                            struct mr_err *err) MR_WUR;

/* Creates the raw volume "<prefix>-seed.iso" the size of the local file local_iso and
 * uploads the file into it. Sets seed_path. On failure no volume is left. */
int mr_remote_store_seed(struct mr_remote_store *st, const char *local_iso,
                         struct mr_err *err) MR_WUR;

/* Creates the empty volume "<prefix>-serial.log" for the domain's serial console.
 * Sets serial_path. */
int mr_remote_store_serial(struct mr_remote_store *st, struct mr_err *err) MR_WUR;

/* Refreshes the pool and downloads the serial log volume into local_path (replaced
 * atomically, mode 0644). Works while the domain runs, too: it copies what is there. */
int mr_remote_store_fetch_serial(struct mr_remote_store *st, const char *local_path,
                                 struct mr_err *err) MR_WUR;

/* Deletes every volume made through st; _release(NULL-initialised) does nothing. */
void mr_remote_store_release(struct mr_remote_store *st);

#endif
