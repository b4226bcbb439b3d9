/* leftover.c: finds and removes what earlier runs left behind (run folders whose lock is
 * free, domains tagged with matrixrun's metadata whose run is over). */
#define _GNU_SOURCE
#include "leftover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
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

/* 1 if a live run holds dir's lock, 0 if not (or the folder has no lock file). */
static int run_is_live(const char *dir)
{
    _cleanup_free_ char *path = mr_xasprintf("%s/.lock", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int live = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
    close(fd);
    return live;
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

int mr_leftover_scan(virConnectPtr conn, const char *workbase, struct mr_leftovers *ret,
                     struct mr_err *err)
{
    struct mr_leftovers l = { 0 };
    DIR *d = opendir(workbase);
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
    } else if (errno != ENOENT) {
        mr_err_set(err, "cannot read '%s': %s", workbase, strerror(errno));
        return -errno;
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
