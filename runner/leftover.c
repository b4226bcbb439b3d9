/* leftover.c: makes and locks a run's work folder in a base only we control; finds and
 * removes what earlier runs left behind (run folders whose lock is free, domains tagged
 * with matrixrun's metadata whose run is over). */
#define _GNU_SOURCE
#include "leftover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "domxml.h"
#include "remote_store.h"
#include "xmlutil.h"

static char controller_id[33];

static void controller_id_init(void)
{
    char buf[64] = "";
    FILE *f = fopen("/etc/machine-id", "re");
    if (f) {
        if (!fgets(buf, sizeof(buf), f))
            buf[0] = '\0';
        fclose(f);
    }
    buf[strspn(buf, "0123456789abcdef")] = '\0';
    if (strlen(buf) >= 12) {
        snprintf(controller_id, sizeof(controller_id), "%.12s", buf);
        return;
    }
    /* No machine id (some containers): the host name, cut to fit. */
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
        strcpy(host, "unknown");
    for (char *p = host; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            *p = '_';
    snprintf(controller_id, sizeof(controller_id), "host-%.27s", host);
}

const char *mr_controller_id(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, controller_id_init);
    return controller_id;
}

const char *mr_leftover_workbase(const char *base)
{
    if (base && base[0])
        return base;
    const char *env = getenv("MATRIXRUN_WORKDIR");
    return env && env[0] ? env : "/var/tmp/matrixrun";
}

int mr_leftover_lock_run(const char *workdir)
{
    _cleanup_free_ char *path = mr_xasprintf("%s/.lock", workdir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}

/* 1 if someone holds a lock on fd's file. */
static int is_locked(int fd)
{
    return flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

static int is_run_id(const char *s);

/* ---- kept cells ---- */

/* When a cell's guest is kept (--keep-failed), its run folder stays after the run with
 * the overlay, the run's key and a known_hosts file, and this file in it: "until EPOCH"
 * (seconds), then a line per kept cell, "CELL PORT USER DOMAIN KEY" separated by tabs,
 * KEY relative to the folder. Until then the folder and the guest count as alive. */
#define KEPT_FILE "kept"

/* The expiry of a run folder's kept cells (seconds since the epoch), or 0 if none. */
static int64_t kept_until(const char *dir)
{
    _cleanup_free_ char *path = mr_xasprintf("%s/" KEPT_FILE, dir);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    long long until = 0;
    if (fscanf(f, "until %lld", &until) != 1)
        until = 0;
    fclose(f);
    return until;
}

int mr_leftover_keep_cell(const char *workdir, int64_t until, const char *cell, int port,
                          const char *user, const char *domain, const char *key_rel,
                          struct mr_err *err)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    _cleanup_free_ char *path = mr_xasprintf("%s/" KEPT_FILE, workdir);
    _cleanup_free_ char *line = mr_xasprintf("%s\t%d\t%s\t%s\t%s\n", cell, port, user,
                                             domain, key_rel);
    pthread_mutex_lock(&lock);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int r = fd < 0 ? -errno : 0;
    struct stat st;
    if (!r && fstat(fd, &st) == 0 && st.st_size == 0) {
        _cleanup_free_ char *head = mr_xasprintf("until %lld\n", (long long)until);
        if (write(fd, head, strlen(head)) != (ssize_t)strlen(head))
            r = -EIO;
    }
    if (!r && write(fd, line, strlen(line)) != (ssize_t)strlen(line))
        r = errno ? -errno : -EIO;
    if (fd >= 0 && close(fd) < 0 && !r)
        r = -errno;
    pthread_mutex_unlock(&lock);
    if (r < 0)
        mr_err_set(err, "cannot write '%s': %s", path, strerror(-r));
    return r;
}

/* 1 if a live run holds dir's lock, or (unless with_kept) its cells are kept and their
 * time has not run out; 0 if not. A run holds the lock on its folder itself
 * (mr_leftover_workdir_create()) or, as runs made with mr_leftover_lock_run() do, on
 * the folder's .lock file. */
static int run_is_live_kept(const char *dir, int with_kept)
{
    int live = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        live = is_locked(fd);
        close(fd);
    }
    _cleanup_free_ char *path = mr_xasprintf("%s/.lock", dir);
    if (!live && (fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
        live = is_locked(fd);
        close(fd);
    }
    if (!live && !with_kept && kept_until(dir) > mr_wall_ms() / 1000)
        live = 1;
    return live;
}

static __thread int scan_with_kept; /* set for one mr_leftover_scan() call */

static int run_is_live(const char *dir)
{
    return run_is_live_kept(dir, scan_with_kept);
}

int mr_leftover_kept_list(const char *workbase, struct mr_kept **ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    DIR *d = opendir(workbase);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_run_id(de->d_name))
            continue;
        _cleanup_free_ char *dir = mr_xasprintf("%s/%s", workbase, de->d_name);
        _cleanup_free_ char *path = mr_xasprintf("%s/" KEPT_FILE, dir);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        long long until = 0;
        char line[1024];
        if (fscanf(f, "until %lld\n", &until) == 1) {
            while (fgets(line, sizeof(line), f)) {
                char cell[256], user[256], dom[256], key[256];
                int port;
                if (sscanf(line, "%255[^\t]\t%d\t%255[^\t]\t%255[^\t]\t%255[^\t\n]", cell,
                           &port, user, dom, key) != 5)
                    continue;
                *ret = mr_xrealloc(*ret, (*ret_n + 1) * sizeof(**ret));
                struct mr_kept *k = &(*ret)[(*ret_n)++];
                k->run_id = mr_xstrdup(de->d_name);
                k->cell = mr_xstrdup(cell);
                k->user = mr_xstrdup(user);
                k->domain = mr_xstrdup(dom);
                k->key = mr_xasprintf("%s/%s", dir, key);
                k->known_hosts = mr_xasprintf("%s/%s.known_hosts", dir, cell);
                k->port = port;
                k->until = until;
                k->locked = run_is_live_kept(dir, 1);
            }
        }
        fclose(f);
    }
    closedir(d);
    return 0;
}

char *mr_kept_ssh_command(const struct mr_kept *k)
{
    return mr_xasprintf("ssh -i %s -p %d -o IdentitiesOnly=yes -o UserKnownHostsFile=%s "
                        "-o StrictHostKeyChecking=yes %s@127.0.0.1",
                        k->key, k->port, k->known_hosts, k->user);
}

void mr_kept_free(struct mr_kept *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(k[i].run_id);
        free(k[i].cell);
        free(k[i].user);
        free(k[i].domain);
        free(k[i].key);
        free(k[i].known_hosts);
    }
    free(k);
}

/* The work folders hold the run's private key, the guests' seeds (their private host
 * keys) and overlays whose backing files QEMU trusts: whoever may rename entries in a
 * folder on the way to them could put their own in their place. So each folder matrixrun
 * keeps them in is a real folder (not a symbolic link), is ours, and only we may write
 * to it. */
static int check_dir_fd(int fd, const char *path, const char *what, struct mr_err *err)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int r = -errno;
        mr_err_set(err, "cannot check %s '%s': %s", what, path, strerror(errno));
        return r;
    }
    if (st.st_uid != geteuid()) {
        mr_err_set(err, "%s '%s' belongs to uid %u, not to uid %u that runs matrixrun: its "
                   "owner could swap the run folders in it (remove it, or name another "
                   "folder with MATRIXRUN_WORKDIR)",
                   what, path, (unsigned)st.st_uid, (unsigned)geteuid());
        return -EPERM;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        mr_err_set(err, "%s '%s' may be written by its group or by others (mode %04o): they "
                   "could swap the run folders in it (chmod go-w it)",
                   what, path, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* Opens name under dirfd (path names it in messages) as a folder, not through a symbolic
 * link, and checks it as above. Returns the descriptor or -errno. */
static int open_dir(int dirfd, const char *name, const char *path, const char *what,
                    struct mr_err *err)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        struct stat st;
        /* O_DIRECTORY makes a link to a folder ENOTDIR, not ELOOP: tell them apart. */
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
            mr_err_set(err, "%s '%s' is a symbolic link: matrixrun keeps run folders only in "
                       "a real folder (remove the link, or name another folder with "
                       "MATRIXRUN_WORKDIR)", what, path);
            r = -ELOOP;
        } else if (r == -ENOTDIR)
            mr_err_set(err, "%s '%s' is not a folder", what, path);
        else
            mr_err_set(err, "cannot open %s '%s': %s", what, path, strerror(-r));
        return r;
    }
    int r = check_dir_fd(fd, path, what, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    return fd;
}

int mr_leftover_check_dir(const char *path, struct mr_err *err)
{
    int fd = open_dir(AT_FDCWD, path, path, "folder", err);
    if (fd < 0)
        return fd;
    close(fd);
    return 0;
}

/* A folder above the base: root's or ours, and writable by others only with the sticky
 * bit (as /tmp and /var/tmp are), so that no one else can rename the base away and put a
 * folder of their own in its place. */
static int check_ancestor(const char *path, const char *base, struct mr_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        int r = -errno;
        mr_err_set(err, "cannot check '%s': %s", path, strerror(errno));
        return r;
    }
    if (st.st_uid != 0 && st.st_uid != geteuid()) {
        mr_err_set(err, "'%s', above the work folder base '%s', belongs to uid %u: its owner "
                   "could swap the base (name another folder with MATRIXRUN_WORKDIR)",
                   path, base, (unsigned)st.st_uid);
        return -EPERM;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        mr_err_set(err, "'%s', above the work folder base '%s', may be written by others "
                   "without the sticky bit (mode %04o): they could swap the base (name "
                   "another folder with MATRIXRUN_WORKDIR)",
                   path, base, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* Checks dir and every folder above it, symbolic links resolved (base for messages). */
static int check_ancestors(const char *dir, const char *base, struct mr_err *err)
{
    _cleanup_free_ char *real = realpath(dir, NULL);
    if (!real) {
        int r = -errno;
        mr_err_set(err, "cannot resolve '%s': %s", dir, strerror(errno));
        return r;
    }
    int r = check_ancestor("/", base, err);
    for (size_t len = 1; r == 0 && real[len - 1]; len++) {
        if (real[len] != '/' && real[len] != '\0')
            continue;
        char c = real[len];
        real[len] = '\0';
        r = check_ancestor(real, base, err);
        real[len] = c;
    }
    return r;
}

/* Run ids look like 20261127-103815-91ae (see pipeline.c): only such folders are touched. */
static int is_run_id(const char *s)
{
    static const char shape[] = "dddddddd-dddddd-xxxx";
    if (strlen(s) != sizeof(shape) - 1)
        return 0;
    for (size_t i = 0; shape[i]; i++) {
        char c = s[i];
        if (shape[i] == '-' ? c != '-'
            : shape[i] == 'd' ? !(c >= '0' && c <= '9')
                              : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

/* Opens the base (creating it, and the folders above it, if missing) and checks it and
 * the folders above it. Returns the descriptor or -errno. */
static int open_base(const char *base, struct mr_err *err)
{
    _cleanup_free_ char *trimmed = mr_xstrdup(base);
    for (size_t n = strlen(trimmed); n > 1 && trimmed[n - 1] == '/'; n--)
        trimmed[n - 1] = '\0';
    _cleanup_free_ char *parent = mr_path_dirname(trimmed);
    const char *name = strrchr(trimmed, '/') ? strrchr(trimmed, '/') + 1 : trimmed;
    if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..")) {
        mr_err_set(err, "work folder base '%s' names no folder of its own", base);
        return -EINVAL;
    }
    int r = mr_mkdir_p(parent, 0755);
    if (r < 0) {
        mr_err_set(err, "cannot create '%s': %s", parent, strerror(-r));
        return r;
    }
    if ((r = check_ancestors(parent, base, err)) < 0)
        return r;
    int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        r = -errno;
        mr_err_set(err, "cannot open '%s': %s", parent, strerror(errno));
        return r;
    }
    /* QEMU runs as its own user and must reach the overlays: the base and the run folders
     * are searchable by all (0711, whatever the umask), readable and writable by us. */
    int made = mkdirat(pfd, name, 0700) == 0;
    if (!made && errno != EEXIST) {
        r = -errno;
        mr_err_set(err, "cannot create work folder base '%s': %s", base, strerror(errno));
        close(pfd);
        return r;
    }
    int fd = open_dir(pfd, name, base, "work folder base", err);
    close(pfd);
    if (fd >= 0 && made && fchmod(fd, 0711) < 0) {
        r = -errno;
        mr_err_set(err, "cannot set the mode of '%s': %s", base, strerror(errno));
        close(fd);
        return r;
    }
    return fd;
}

/* Gives the folder tmp under basefd the name run_id, failing if that name exists. */
static int rename_noreplace(int basefd, const char *tmp, const char *run_id)
{
    if (renameat2(basefd, tmp, basefd, run_id, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* A file system without RENAME_NOREPLACE: only we may write to the base (checked),
     * and our runs have distinct ids, so nothing comes between the look and the rename. */
    struct stat st;
    if (fstatat(basefd, run_id, &st, AT_SYMLINK_NOFOLLOW) == 0)
        return -EEXIST;
    return renameat(basefd, tmp, basefd, run_id) < 0 ? -errno : 0;
}

int mr_leftover_workdir_create(const char *base, const char *run_id, char **ret_path,
                               int *ret_lock_fd, struct mr_err *err)
{
    if (!is_run_id(run_id)) {
        mr_err_set(err, "'%s' is not a run id", run_id);
        return -EINVAL;
    }
    int basefd = open_base(base, err);
    if (basefd < 0)
        return basefd;
    _cleanup_free_ char *path = mr_xasprintf("%s/%s", base, run_id);
    /* The folder is made and locked under a name `clean` passes over, then renamed: no
     * one ever sees the run's folder unlocked. */
    _cleanup_free_ char *tmp = mr_xasprintf(".new-%s", run_id);
    int fd = -1, r;
    if (mkdirat(basefd, tmp, 0700) < 0) {
        r = -errno;
        mr_err_set(err, "cannot create work folder '%s/%s': %s", base, tmp, strerror(errno));
        goto out;
    }
    if ((fd = r = open_dir(basefd, tmp, path, "work folder", err)) < 0)
        goto out_rmdir;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fchmod(fd, 0711) < 0) {
        r = -errno;
        mr_err_set(err, "cannot lock work folder '%s': %s", path, strerror(errno));
        goto out_rmdir;
    }
    if ((r = rename_noreplace(basefd, tmp, run_id)) < 0) {
        r = r == -ENOTEMPTY ? -EEXIST : r;
        if (r == -EEXIST)
            mr_err_set(err, "work folder '%s' exists already: another run has its id", path);
        else
            mr_err_set(err, "cannot create work folder '%s': %s", path, strerror(-r));
        goto out_rmdir;
    }
    *ret_path = MR_TAKE_PTR(path);
    *ret_lock_fd = fd;
    close(basefd);
    return 0;
out_rmdir:
    (void)unlinkat(basefd, tmp, AT_REMOVEDIR);
out:
    if (fd >= 0)
        close(fd);
    close(basefd);
    return r;
}

static void push(char ***v, size_t *n, const char *s)
{
    *v = mr_xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = mr_xstrdup(s);
}

/* The dir attribute of a domain's matrixrun metadata, or NULL if it has none. *tag is
 * 0 for a domain without matrixrun's metadata, 1 for one this machine started (or that
 * does not say: older runs), -1 for another machine's. */
static char *domain_run_dir(virDomainPtr d, int *tag)
{
    *tag = 0;
    char *xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, MR_METADATA_NS, 0);
    if (!xml)
        return NULL;
    *tag = 1;
    char *dir = NULL;
    /* Metadata that does not parse leaves dir NULL: the domain is still matrixrun's, its
     * run taken as over, as before; the reason is of no use to `clean`. */
    struct mr_err e = { 0 };
    xmlDocPtr doc = mr_xml_read_memory(xml, strlen(xml), "metadata.xml", "domain's metadata", &e);
    mr_err_release(&e);
    if (doc && xmlDocGetRootElement(doc)) {
        dir = mr_xml_attr(xmlDocGetRootElement(doc), "dir");
        _cleanup_free_ char *who = mr_xml_attr(xmlDocGetRootElement(doc), "controller");
        if (who && strcmp(who, mr_controller_id()) != 0)
            *tag = -1;
    }
    if (doc)
        xmlFreeDoc(doc);
    free(xml);
    return dir;
}

/* Volumes of conn's matrixrun pool whose run is over here: "mr-<run id>-..." with
 * <workbase>/<run id> present and unlocked. A host without the pool has none. */
static int scan_volumes(virConnectPtr conn, const char *workbase, struct mr_leftovers *l,
                        struct mr_err *err)
{
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, MR_REMOTE_STORE_POOL);
    if (!pool)
        return 0;
    virStorageVolPtr *vols = NULL;
    int n = -1;
    /* The pool's list is libvirtd's memory of the folder: read the folder again. */
    if (virStoragePoolIsActive(pool) == 1) {
        (void)virStoragePoolRefresh(pool, 0);
        n = virStoragePoolListAllVolumes(pool, &vols, 0);
    } else {
        n = 0;
    }
    if (n < 0) {
        mr_err_set(err, "cannot list the volumes of pool '%s': %s", MR_REMOTE_STORE_POOL,
                   virGetLastErrorMessage() ? virGetLastErrorMessage() : "unknown error");
        virStoragePoolFree(pool);
        return -EIO;
    }
    for (int i = 0; i < n; i++) {
        const char *name = virStorageVolGetName(vols[i]);
        char run[32];
        if (name && strncmp(name, "mr-", 3) == 0 && strlen(name) > 24 && name[23] == '-') {
            snprintf(run, sizeof(run), "%.20s", name + 3);
            if (is_run_id(run)) {
                _cleanup_free_ char *dir = mr_xasprintf("%s/%s", workbase, run);
                if (access(dir, F_OK) < 0)
                    l->n_unknown_volumes++;
                else if (!run_is_live(dir))
                    push(&l->volumes, &l->n_volumes, name);
            }
        }
        virStorageVolFree(vols[i]);
    }
    free(vols);
    virStoragePoolFree(pool);
    return 0;
}

int mr_leftover_scan(virConnectPtr conn, const char *workbase, int flags,
                     struct mr_leftovers *ret, struct mr_err *err)
{
    scan_with_kept = (flags & MR_LEFTOVER_KEPT) != 0;
    struct mr_leftovers l = { 0 };
    int fd = -1;
    struct stat st;
    if (lstat(workbase, &st) == 0 || errno != ENOENT) {
        if ((fd = open_dir(AT_FDCWD, workbase, workbase, "work folder base", err)) < 0)
            return fd;
    }
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (fd >= 0 && !d) {
        int r = -errno;
        mr_err_set(err, "cannot read '%s': %s", workbase, strerror(errno));
        close(fd);
        return r;
    }
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!is_run_id(de->d_name))
                continue;
            _cleanup_free_ char *dir = mr_xasprintf("%s/%s", workbase, de->d_name);
            if (!run_is_live(dir))
                push(&l.dirs, &l.n_dirs, dir);
        }
        closedir(d);
    }
    if (conn) {
        virDomainPtr *doms = NULL;
        int n = virConnectListAllDomains(conn, &doms, 0);
        if (n < 0) {
            mr_err_set(err, "cannot list libvirt domains: %s",
                       virGetLastErrorMessage() ? virGetLastErrorMessage() : "unknown error");
            mr_leftovers_release(&l);
            return -EIO;
        }
        for (int i = 0; i < n; i++) {
            int tag;
            _cleanup_free_ char *dir = domain_run_dir(doms[i], &tag);
            if (tag < 0)
                l.n_foreign_domains++;
            else if (tag > 0 && !(dir && run_is_live(dir)))
                push(&l.domains, &l.n_domains, virDomainGetName(doms[i]));
            virDomainFree(doms[i]);
        }
        free(doms);
        int r = scan_volumes(conn, workbase, &l, err);
        if (r < 0) {
            mr_leftovers_release(&l);
            return r;
        }
    }
    *ret = l;
    return 0;
}

int mr_leftover_remove(virConnectPtr conn, const struct mr_leftovers *l, struct mr_err *err)
{
    int first = 0;
    for (size_t i = 0; conn && i < l->n_domains; i++) {
        virDomainPtr d = virDomainLookupByName(conn, l->domains[i]);
        if (!d)
            continue; /* gone meanwhile */
        if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0 && !first) {
            mr_err_set(err, "cannot destroy guest '%s': %s", l->domains[i],
                       virGetLastErrorMessage() ? virGetLastErrorMessage() : "unknown error");
            first = -EIO;
        }
        /* matrixrun's guests are transient; one made persistent by hand goes too. */
        if (virDomainIsPersistent(d) == 1)
            (void)virDomainUndefine(d);
        virDomainFree(d);
    }
    virStoragePoolPtr pool = conn && l->n_volumes
                                 ? virStoragePoolLookupByName(conn, MR_REMOTE_STORE_POOL)
                                 : NULL;
    for (size_t i = 0; pool && i < l->n_volumes; i++) {
        virStorageVolPtr v = virStorageVolLookupByName(pool, l->volumes[i]);
        if (!v)
            continue; /* gone meanwhile */
        if (virStorageVolDelete(v, 0) < 0 && !first) {
            mr_err_set(err, "cannot delete volume '%s' of pool '%s': %s", l->volumes[i],
                       MR_REMOTE_STORE_POOL,
                       virGetLastErrorMessage() ? virGetLastErrorMessage() : "unknown error");
            first = -EIO;
        }
        virStorageVolFree(v);
    }
    if (pool)
        virStoragePoolFree(pool);
    for (size_t i = 0; i < l->n_dirs; i++) {
        int r = mr_rm_rf(l->dirs[i]);
        if (r < 0 && !first) {
            mr_err_set(err, "cannot remove '%s': %s", l->dirs[i], strerror(-r));
            first = r;
        }
    }
    return first;
}

void mr_leftovers_release(struct mr_leftovers *l)
{
    for (size_t i = 0; i < l->n_dirs; i++)
        free(l->dirs[i]);
    free(l->dirs);
    for (size_t i = 0; i < l->n_domains; i++)
        free(l->domains[i]);
    free(l->domains);
    for (size_t i = 0; i < l->n_volumes; i++)
        free(l->volumes[i]);
    free(l->volumes);
    memset(l, 0, sizeof(*l));
}
