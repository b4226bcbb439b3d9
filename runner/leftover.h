/* leftover.h: the work folders of runs, what earlier runs left behind, and removing it.
 * A run holds an exclusive lock on its folder (runs that called mr_leftover_lock_run():
 * on <workdir>/.lock) while it lasts; a run folder whose lock nobody holds, and a
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
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "util.h"

/* The base folder of run folders: base if given, else $MATRIXRUN_WORKDIR, else
 * /var/tmp/matrixrun. Borrowed or static. */
const char *mr_leftover_workbase(const char *base);

/* Takes the run's lock in workdir (creating <workdir>/.lock). Returns the descriptor to
 * keep open for the run's life (close-on-exec), or -errno. Superseded by
 * mr_leftover_workdir_create(), which makes the folder and locks it at once. */
int mr_leftover_lock_run(const char *workdir) MR_WUR;

/* Makes the run folder base/run_id (run_id of the form pipeline.c makes) and locks it.
 * The base is created if missing (0711: QEMU, under its own user, must reach the
 * overlays) and must be a real folder, not a symbolic link, owned by the effective user
 * and writable by no one else; every folder above it must be root's or ours and, if
 * others may write to it, sticky (as /var/tmp). The run folder is new (an existing one is
 * an error), 0711, and holds the lock from before it carries its name, so `clean` never
 * sees it unlocked. On success *ret_path is "base/run_id" (caller frees) and
 * *ret_lock_fd an O_DIRECTORY descriptor of it (close-on-exec) that holds the lock:
 * keep it open for the run's life. Returns 0 or -errno with err naming the folder. */
int mr_leftover_workdir_create(const char *base, const char *run_id, char **ret_path,
                               int *ret_lock_fd, struct mr_err *err) MR_WUR;

/* Checks an existing folder as mr_leftover_workdir_create() checks the base: a real
 * folder (not a symbolic link), the effective user's, writable by no one else. Returns 0
 * or -errno with err saying what is wrong. */
int mr_leftover_check_dir(const char *path, struct mr_err *err) MR_WUR;

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

/* Kept cells (run --keep-failed, --keep): their run folder stays with a file "kept" that
 * names them and their expiry; until it, the folder and the guests count as alive, so
 * neither a later run nor `clean` takes them, unless the scan asks for them
 * (MR_LEFTOVER_KEPT). */
#define MR_LEFTOVER_KEPT 1
struct mr_kept {
    char *run_id, *cell, *user, *domain;
    char *key;         /* the private key file to log in with */
    char *known_hosts; /* a known_hosts file holding the guest's pinned host key */
    int port;          /* the guest's SSH port on 127.0.0.1 */
    int64_t until;     /* expiry, seconds since the epoch */
    int locked;        /* its run is still going on */
};
/* Notes a kept cell in workdir's "kept" file (made with until on the first call). The
 * key's path is relative to workdir. Thread-safe. Returns 0 or -errno with err set. */
int mr_leftover_keep_cell(const char *workdir, int64_t until, const char *cell, int port,
                          const char *user, const char *domain, const char *key_rel,
                          struct mr_err *err) MR_WUR;
/* The kept cells of every run folder under workbase. Returns 0 or -errno. */
int mr_leftover_kept_list(const char *workbase, struct mr_kept **ret, size_t *ret_n) MR_WUR;
/* The ssh command line that logs into a kept cell (caller frees). */
char *mr_kept_ssh_command(const struct mr_kept *k);
void mr_kept_free(struct mr_kept *k, size_t n);

/* Finds leftovers: run folders under workbase (names of the run-id form only; a
 * workbase that mr_leftover_check_dir() refuses is an error: `clean` removes nothing from
 * a folder others could fill) and, if
 * conn is not NULL, domains carrying matrixrun's metadata and volumes of conn's
 * matrixrun pool (if it has one). Returns 0 or -errno. */
int mr_leftover_scan(virConnectPtr conn, const char *workbase, int flags,
                     struct mr_leftovers *ret, struct mr_err *err) MR_WUR;
/* Destroys the domains, deletes the volumes (from conn's pool) and removes the folders;
 * keeps going past failures and returns the first one (err names it). */
int mr_leftover_remove(virConnectPtr conn, const struct mr_leftovers *l, struct mr_err *err) MR_WUR;
void mr_leftovers_release(struct mr_leftovers *l);

#endif
