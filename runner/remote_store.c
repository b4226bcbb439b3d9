/* remote_store.c: keeps a remote cell's overlay, seed ISO and serial log as volumes of
 * matrixrun's directory pool on that host, through libvirt's storage API and streams. */
#define _GNU_SOURCE
#include "remote_store.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>

/* Stream chunks: libvirt's RPC messages carry at most 256 KiB of stream data. */
#define CHUNK (256 * 1024)

static const char *virt_msg(void)
{
    const char *m = virGetLastErrorMessage();
    return m ? m : "unknown libvirt error";
}

static void stream_freep(virStreamPtr *s)
{
    if (*s)
        virStreamFree(*s);
}
#define _cleanup_stream_ __attribute__((cleanup(stream_freep)))

/* Pool and volume XML from names matrixrun chose or the user's paths: escaped. */
static char *xml_escape(const char *s)
{
    struct mr_buf b;
    mr_buf_init(&b);
    for (; *s; s++) {
        switch (*s) {
        case '&': mr_buf_adds(&b, "&amp;"); break;
        case '<': mr_buf_adds(&b, "&lt;"); break;
        case '>': mr_buf_adds(&b, "&gt;"); break;
        case '\'': mr_buf_adds(&b, "&apos;"); break;
        case '"': mr_buf_adds(&b, "&quot;"); break;
        default: mr_buf_add(&b, s, 1);
        }
    }
    if (!b.data)
        mr_buf_adds(&b, "");
    return mr_buf_detach(&b, NULL);
}

static pthread_once_t loop_once = PTHREAD_ONCE_INIT;
static int loop_result = -EAGAIN;
static pthread_mutex_t loop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loop_ready = PTHREAD_COND_INITIALIZER;
static int loop_registered;
static pthread_t loop_thread;
static atomic_int loop_stop;

static void *event_loop(void *arg)
{
    (void)arg;
    /* Registration and running happen in this thread's order, so no iteration runs
     * before the implementation exists. */
    pthread_mutex_lock(&loop_lock);
    loop_registered = virEventRegisterDefaultImpl() == 0 ? 1 : -1;
    pthread_cond_broadcast(&loop_ready);
    pthread_mutex_unlock(&loop_lock);
    if (loop_registered < 0)
        return NULL;
    while (!atomic_load(&loop_stop))
        if (virEventRunDefaultImpl() < 0)
            mr_sleep_ms(100);
    return NULL;
}

static void event_loop_once(void)
{
    int r = pthread_create(&loop_thread, NULL, event_loop, NULL);
    if (r != 0) {
        loop_result = -r;
        return;
    }
    pthread_mutex_lock(&loop_lock);
    while (!loop_registered)
        pthread_cond_wait(&loop_ready, &loop_lock);
    loop_result = loop_registered > 0 ? 0 : -EIO;
    pthread_mutex_unlock(&loop_lock);
    if (loop_result < 0)
        pthread_join(loop_thread, NULL);
}

int mr_remote_store_event_loop_start(void)
{
    (void)pthread_once(&loop_once, event_loop_once);
    return loop_result;
}

static void wake_loop(int timer, void *opaque)
{
    (void)opaque;
    virEventRemoveTimeout(timer);
}

void mr_remote_store_event_loop_stop(void)
{
    if (loop_result != 0 || atomic_exchange(&loop_stop, 1))
        return;
    /* A timer due now makes the loop's current iteration return, and it sees the flag. */
    if (virEventAddTimeout(0, wake_loop, NULL, NULL) >= 0)
        pthread_join(loop_thread, NULL);
}

static int pool_start(virStoragePoolPtr p, const char *name, struct mr_err *err)
{
    if (virStoragePoolIsActive(p) == 1)
        return 0;
    /* Build makes the target folder; it fails harmlessly when the folder is there. */
    (void)virStoragePoolBuild(p, VIR_STORAGE_POOL_BUILD_NO_OVERWRITE);
    if (virStoragePoolCreate(p, 0) < 0 && virStoragePoolIsActive(p) != 1) {
        mr_err_set(err, "cannot start storage pool '%s': %s", name, virt_msg());
        return -EIO;
    }
    return 0;
}

int mr_remote_store_open_pool(virConnectPtr conn, const char *name, const char *target,
                              virStoragePoolPtr *ret, struct mr_err *err)
{
    /* A persistent pool, not a transient one: it is shared by every run on the host, so no
     * run's end may take it from under another's cells, and it survives a restart of
     * libvirtd with the volumes a killed run left, which stay findable by their names. */
    virStoragePoolPtr p = virStoragePoolLookupByName(conn, name);
    if (!p) {
        _cleanup_free_ char *n = xml_escape(name);
        _cleanup_free_ char *t = xml_escape(target);
        _cleanup_free_ char *xml = mr_xasprintf(
            "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>", n, t);
        p = virStoragePoolDefineXML(conn, xml, 0);
        if (p)
            (void)virStoragePoolSetAutostart(p, 1);
        else if (!(p = virStoragePoolLookupByName(conn, name))) {
            mr_err_set(err, "cannot define storage pool '%s' at '%s': %s", name, target,
                       virt_msg());
            return -EIO;
        }
    }
    if (pool_start(p, name, err) < 0) {
        virStoragePoolFree(p);
        return -EIO;
    }
    *ret = p;
    return 0;
}

void mr_remote_store_init(struct mr_remote_store *st, virStoragePoolPtr pool, const char *prefix)
{
    memset(st, 0, sizeof(*st));
    st->pool = pool;
    st->prefix = mr_xstrdup(prefix);
}

/* Creates a volume from xml; on success sets *ret_vol and *ret_path. */
static int vol_create(struct mr_remote_store *st, const char *volname, const char *xml,
                      virStorageVolPtr *ret_vol, char **ret_path, struct mr_err *err)
{
    virStorageVolPtr v = virStorageVolCreateXML(st->pool, xml, 0);
    if (!v) {
        /* The message first: every libvirt call, even a getter, resets the last error. */
        _cleanup_free_ char *why = mr_xstrdup(virt_msg());
        mr_err_set(err, "cannot create volume '%s' in storage pool '%s': %s", volname,
                   virStoragePoolGetName(st->pool), why);
        return -EIO;
    }
    char *path = virStorageVolGetPath(v);
    if (!path) {
        mr_err_set(err, "cannot get the path of volume '%s': %s", volname, virt_msg());
        (void)virStorageVolDelete(v, 0);
        virStorageVolFree(v);
        return -EIO;
    }
    *ret_vol = v;
    *ret_path = path;
    return 0;
}

int mr_remote_store_overlay(struct mr_remote_store *st, const char *base, struct mr_err *err)
{
    _cleanup_free_ char *name = mr_xasprintf("%s.qcow2", st->prefix);
    _cleanup_free_ char *n = xml_escape(name);
    _cleanup_free_ char *b = xml_escape(base);
    /* No <capacity>: libvirt lets qemu-img take the size of the backing image, which only
     * the host can read. */
    _cleanup_free_ char *xml = mr_xasprintf(
        "<volume><name>%s</name><target><format type='qcow2'/></target>"
        "<backingStore><path>%s</path><format type='qcow2'/></backingStore></volume>", n, b);
    int r = vol_create(st, name, xml, &st->overlay, &st->overlay_path, err);
    if (r < 0)
        mr_err_prefix(err, "cannot create the overlay over '%s' on the host", base);
    return r;
}

int mr_remote_store_serial(struct mr_remote_store *st, struct mr_err *err)
{
    _cleanup_free_ char *name = mr_xasprintf("%s-serial.log", st->prefix);
    _cleanup_free_ char *n = xml_escape(name);
    _cleanup_free_ char *xml = mr_xasprintf(
        "<volume><name>%s</name><capacity>0</capacity><target><format type='raw'/></target>"
        "</volume>", n);
    return vol_create(st, name, xml, &st->serial, &st->serial_path, err);
}

/* Sends fd's len bytes into the stream. */
static int stream_send_fd(virStreamPtr s, int fd, unsigned long long len, const char *what,
                          struct mr_err *err)
{
    _cleanup_free_ char *buf = mr_xmalloc(CHUNK);
    while (len > 0) {
        ssize_t n = read(fd, buf, len < CHUNK ? (size_t)len : CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            mr_err_set(err, "cannot read '%s': %s", what, n < 0 ? strerror(errno) : "file shrank");
            return -EIO;
        }
        len -= (unsigned long long)n;
        for (ssize_t off = 0; off < n;) {
            int sent = virStreamSend(s, buf + off, (size_t)(n - off));
            if (sent < 0) {
                mr_err_set(err, "cannot upload '%s': %s", what, virt_msg());
                return -EIO;
            }
            off += sent;
        }
    }
    return 0;
}

int mr_remote_store_seed(struct mr_remote_store *st, const char *local_iso, struct mr_err *err)
{
    _cleanup_free_ char *name = mr_xasprintf("%s-seed.iso", st->prefix);
    int fd = open(local_iso, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) < 0) {
        mr_err_set(err, "cannot read '%s': %s", local_iso, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    _cleanup_free_ char *n = xml_escape(name);
    _cleanup_free_ char *xml = mr_xasprintf(
        "<volume><name>%s</name><capacity unit='bytes'>%lld</capacity>"
        "<target><format type='raw'/></target></volume>", n, (long long)sb.st_size);
    virStorageVolPtr v = NULL;
    char *path = NULL;
    int r = vol_create(st, name, xml, &v, &path, err);
    if (r < 0) {
        close(fd);
        return r;
    }
    /* A blocking stream needs no event loop: each send waits for its message to go. */
    _cleanup_stream_ virStreamPtr s = virStreamNew(virStoragePoolGetConnect(st->pool), 0);
    if (!s || virStorageVolUpload(v, s, 0, (unsigned long long)sb.st_size, 0) < 0) {
        mr_err_set(err, "cannot upload '%s' into volume '%s': %s", local_iso, name, virt_msg());
        r = -EIO;
    } else if ((r = stream_send_fd(s, fd, (unsigned long long)sb.st_size, local_iso, err)) < 0) {
        (void)virStreamAbort(s);
    } else if (virStreamFinish(s) < 0) {
        mr_err_set(err, "cannot upload '%s' into volume '%s': %s", local_iso, name, virt_msg());
        r = -EIO;
    }
    close(fd);
    if (r < 0) {
        (void)virStorageVolDelete(v, 0);
        virStorageVolFree(v);
        free(path);
        return r;
    }
    st->seed = v;
    st->seed_path = path;
    return 0;
}

int mr_remote_store_fetch_serial(struct mr_remote_store *st, const char *local_path,
                                 struct mr_err *err)
{
    if (!st->serial) {
        mr_err_set(err, "no serial log volume");
        return -ENOENT;
    }
    /* The volume's size as libvirt knows it dates from its creation; a download without
     * a length reads to the file's end anyway, and a refresh that fails because another
     * cell's volume is being built at that moment changes nothing for it. */
    (void)virStoragePoolRefresh(st->pool, 0);
    _cleanup_stream_ virStreamPtr s = virStreamNew(virStoragePoolGetConnect(st->pool), 0);
    if (!s || virStorageVolDownload(st->serial, s, 0, 0, 0) < 0) {
        mr_err_set(err, "cannot download the serial log '%s': %s", st->serial_path, virt_msg());
        return -EIO;
    }
    /* Straight into the file, a chunk at a time: the log may be as long as the guest
     * made it. */
    char *tmp;
    int fd = mr_atomic_create(local_path, &tmp, err);
    if (fd < 0) {
        (void)virStreamAbort(s);
        return fd;
    }
    _cleanup_free_ char *buf = mr_xmalloc(CHUNK);
    int failed = 0, download_failed = 0;
    for (;;) {
        int n = virStreamRecv(s, buf, CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            mr_err_set(err, "cannot download the serial log '%s': %s", st->serial_path,
                       virt_msg());
            (void)virStreamAbort(s);
            failed = -EIO;
            download_failed = 1;
            break;
        }
        for (int done = 0; done < n && !failed;) {
            ssize_t k = write(fd, buf + done, (size_t)(n - done));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                failed = k < 0 ? -errno : -EIO;
            else
                done += (int)k;
        }
        if (failed) {
            (void)virStreamAbort(s);
            break;
        }
    }
    if (!failed && virStreamFinish(s) < 0) {
        mr_err_set(err, "cannot download the serial log '%s': %s", st->serial_path, virt_msg());
        failed = -EIO;
        download_failed = 1;
    }
    /* After a failed download its own message is the one to keep. */
    struct mr_err file_err = { 0 };
    int r = mr_atomic_commit(fd, tmp, local_path, failed, &file_err);
    if (r < 0 && !download_failed)
        mr_err_set(err, "%s", mr_err_msg(&file_err));
    mr_err_release(&file_err);
    return r;
}

static void vol_drop(virStorageVolPtr *v, char **path)
{
    if (*v) {
        (void)virStorageVolDelete(*v, 0);
        virStorageVolFree(*v);
        *v = NULL;
    }
    free(*path);
    *path = NULL;
}

void mr_remote_store_release(struct mr_remote_store *st)
{
    vol_drop(&st->overlay, &st->overlay_path);
    vol_drop(&st->seed, &st->seed_path);
    vol_drop(&st->serial, &st->serial_path);
    free(st->prefix);
    st->prefix = NULL;
}
