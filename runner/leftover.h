/* leftover.h: what earlier runs left behind, and removing it. A run holds an exclusive
 * lock on <workdir>/.lock while it lasts; a run folder whose lock nobody holds, and a
 * libvirt domain tagged with matrixrun's metadata whose run folder is such a folder (or
 * gone), are leftovers. That happens after SIGKILL or a crash: libvirt's autodestroy
 * takes the domains, the work folder (overlays, seeds, the run's key) stays, and so do
 * the volumes a cell on a remote host had in that host's `matrixrun` pool (overlay,
 * seed with the guest's private host key, serial log).
 *
 * Several machines may drive guests on one libvirt host. Each domain's metadata names
 * the machine that started it (mr_controller_id()); domains of other machines are never
 * touched. A pool volume ("mr-<run id>-...") is this machine's leftover only when that
 * run's folder is here and no run holds it; volumes of runs unknown here are counted and
 * left alone.
 *
 * struct mr_leftovers owns its strings; _release frees them. */
#ifndef MR_LEFTOVER_H
#define MR_LEFTOVER_H

#include <stddef.h>

#include <libvirt/libvirt.h>

#include "util.h"

/* The base folder of run folders: base if given, else $MATRIXRUN_WORKDIR, else
 * /var/tmp/matrixrun. Borrowed or static. */
const char *mr_leftover_workbase(const char *base);

/* Takes the run's lock in workdir (creating <workdir>/.lock). Returns the descriptor to
 * keep open for the run's life (close-on-exec), or -errno. */
int mr_leftover_lock_run(const char *workdir) MR_WUR;

struct mr_leftovers {
    char **dirs;    /* stale run folders (absolute) */
    size_t n_dirs;
    char **domains; /* names of domains of runs that are over */
    size_t n_domains;
    char **volumes; /* names of volumes in conn's matrixrun pool of runs that are over */
    size_t n_volumes;
    size_t n_foreign_domains; /* left alone: started by another machine */
    size_t n_unknown_volumes; /* left alone: of runs with no work folder here */
};

/* Who runs matrixrun here: the start of /etc/machine-id, else "host-" and the host name.
 * Static; at most 32 characters. */
const char *mr_controller_id(void);

/* Finds leftovers: run folders under workbase (names of the run-id form only) and, if
 * conn is not NULL, domains carrying matrixrun's metadata and volumes of conn's
 * matrixrun pool (if it has one). Returns 0 or -errno. */
int mr_leftover_scan(virConnectPtr conn, const char *workbase, struct mr_leftovers *ret,
                     struct mr_err *err) MR_WUR;
/* Destroys the domains, deletes the volumes (from conn's pool) and removes the folders;
 * keeps going past failures and returns the first one (err names it). */
int mr_leftover_remove(virConnectPtr conn, const struct mr_leftovers *l, struct mr_err *err) MR_WUR;
void mr_leftovers_release(struct mr_leftovers *l);

#endif
