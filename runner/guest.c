/* guest.c: creates overlays with qemu-img, picks loopback ports and drives the libvirt
 * lifecycle of one transient guest. */
#define _GNU_SOURCE
#include "guest.h"
#include "hostprobe.h"
#include "tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcntl.h>

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>

static void silent_error(void *data, virErrorPtr e)
{
    (void)data;
    (void)e;
}

static const char *virt_msg(void)
{
    const char *m = virGetLastErrorMessage();
    return m ? m : "unknown libvirt error";
}

virConnectPtr mr_guest_connect(const char *uri, struct mr_err *err)
{
    /* libvirt prints every error to stderr by default; matrixrun reports them itself. */
    virSetErrorFunc(NULL, silent_error);
    virConnectPtr c = virConnectOpen(uri);
    if (!c)
        mr_err_set(err, "cannot connect to libvirt at '%s': %s", uri, virt_msg());
    return c;
}

enum mr_accel mr_guest_resolve_accel(virConnectPtr conn, enum mr_accel a)
{
    if (a != MR_ACCEL_AUTO)
        return a;
    char *caps = virConnectGetCapabilities(conn);
    int kvm = caps && strstr(caps, "<domain type='kvm'") != NULL;
    free(caps);
    /* The host's own view: libvirt refuses domain capabilities for kvm where it cannot
     * use KVM. It is the only view of a remote host's /dev/kvm. */
    if (kvm) {
        char *dc = virConnectGetDomainCapabilities(conn, NULL, "x86_64", NULL, "kvm", 0);
        kvm = dc != NULL;
        free(dc);
    }
    /* On this machine, also whether KVM really runs a guest: a kvm_pvm host offers kvm
     * and opens /dev/kvm, and then hangs every stock kernel (see hostprobe.c). */
    const char *uri = virConnectGetURI(conn);
    if (kvm && !(uri && mr_tunnel_uri_is_remote(uri) == 1)) {
        char why[256];
        kvm = mr_hostprobe_kvm_runs_guests(why, sizeof(why));
    }
    free((char *)uri);
    return kvm ? MR_ACCEL_KVM : MR_ACCEL_TCG;
}

int mr_guest_free_port(void)
{
    /* Bind to port 0 and let the kernel choose; QEMU binds it moments later. The window
     * is tiny, and a lost race shows as a start failure the caller reports. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    close(fd);
    return ntohs(a.sin_port);
}

int mr_guest_overlay_create(const char *base, const char *overlay, struct mr_err *err)
{
    char *argv[] = { "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                     (char *)base, (char *)overlay, NULL };
    struct mr_buf out;
    mr_buf_init(&out);
    int r = mr_spawn(argv, &out);
    if (r != 0) {
        if (r == -ENOENT)
            mr_err_set(err, "cannot create overlay: qemu-img not found (install qemu-utils)");
        else
            mr_err_set(err, "cannot create overlay '%s' over '%s': %s", overlay, base,
                       out.len ? out.data : "qemu-img failed");
        mr_buf_release(&out);
        unlink(overlay);
        return r < 0 ? r : -EIO;
    }
    mr_buf_release(&out);
    /* qemu-img creates under the umask; the guest's disk is nobody else's to read (libvirt
     * hands the file to QEMU's user while the guest runs). */
    if (chmod(overlay, 0600) < 0) {
        int e = errno;
        /* The "?" is never printed (chmod had a path); it keeps gcc's format check, which
         * under the sanitizers' instrumentation cannot see that, from failing the build. */
        mr_err_set(err, "cannot make overlay '%s' private: %s", overlay ? overlay : "?",
                   strerror(e));
        unlink(overlay);
        return -e;
    }
    return 0;
}

void mr_guest_init(struct mr_guest *g)
{
    g->dom = NULL;
    g->overlay = NULL;
    g->autodestroy = 1;
}

int mr_guest_start(struct mr_guest *g, virConnectPtr conn, const char *xml, struct mr_err *err)
{
    g->dom = virDomainCreateXML(conn, xml, g->autodestroy ? VIR_DOMAIN_START_AUTODESTROY : 0);
    if (!g->dom) {
        mr_err_set(err, "cannot start guest: %s", virt_msg());
        return -EIO;
    }
    return 0;
}

int mr_guest_is_running(struct mr_guest *g)
{
    if (!g->dom)
        return 0;
    int r = virDomainIsActive(g->dom);
    return r;
}

int mr_guest_destroy_by_uuid(const char *uri, const unsigned char *uuid, unsigned tries,
                             struct mr_err *err)
{
    virSetErrorFunc(NULL, silent_error);
    virConnectPtr c = NULL;
    for (unsigned i = 0; !(c = virConnectOpen(uri)) && i + 1 < tries; i++)
        usleep(200 * 1000);
    if (!c) {
        mr_err_set(err, "cannot connect to libvirt at '%s' to destroy the guest: %s", uri,
                   virt_msg());
        return -EIO;
    }
    int r = 0;
    virDomainPtr d = virDomainLookupByUUID(c, uuid);
    if (d) {
        if (virDomainIsActive(d) == 1 && virDomainDestroy(d) < 0) {
            mr_err_set(err, "cannot destroy the guest: %s", virt_msg());
            r = -EIO;
        }
        virDomainFree(d);
    }
    virConnectClose(c);
    return r;
}

/* The domain's connection died under it (libvirtd restarted or crashed): the new daemon
 * knows nothing of the autodestroy, so the guest would run on. Destroy it through a
 * fresh connection, giving a restarting daemon a few seconds to answer. */
static void destroy_on_fresh_connection(virDomainPtr dom)
{
    virConnectPtr old = virDomainGetConnect(dom);
    if (!old || virConnectIsAlive(old) == 1)
        return; /* the connection works: the domain is gone already */
    unsigned char uuid[VIR_UUID_BUFLEN];
    /* Both are kept in the objects themselves: no call to the dead daemon. */
    char *uri = virConnectGetURI(old);
    if (uri && virDomainGetUUID(dom, uuid) == 0) {
        /* Should that fail too, the guest is a leftover the next run warns about and
         * `matrixrun clean` destroys (its metadata names this run). */
        struct mr_err e = { 0 };
        if (mr_guest_destroy_by_uuid(uri, uuid, 25, &e) < 0)
            mr_err_release(&e);
    }
    free(uri);
}

void mr_guest_release(struct mr_guest *g)
{
    if (g->dom) {
        /* A transient domain disappears once destroyed; an error here means it is
         * already gone (it powered off or crashed), which is what we want, or that the
         * connection to libvirtd is lost, and then a fresh one destroys it. */
        if (virDomainDestroy(g->dom) < 0)
            destroy_on_fresh_connection(g->dom);
        virDomainFree(g->dom);
        g->dom = NULL;
    }
    if (g->overlay) {
        (void)unlink(g->overlay);
        free(g->overlay);
        g->overlay = NULL;
    }
}

/* ---- warm start: QEMU's migration stream through a passed descriptor ---- */

/* The name the descriptor gets in QEMU (getfd), used by the next migrate command. */
#define STATE_FD_NAME "mrstate"

/* Sends one QMP command, with fd passed along when fd >= 0; a reply that is an error is
 * one here too. *reply (optional) gets the reply text. */
static int qmp(virDomainPtr dom, const char *cmd, int fd, char **reply, struct mr_err *err)
{
    char *res = NULL;
    int fds[1] = { fd };
    int r = fd >= 0 ? virDomainQemuMonitorCommandWithFiles(dom, cmd, 1, fds, NULL, NULL, &res, 0)
                    : virDomainQemuMonitorCommand(dom, cmd, &res, 0);
    if (r < 0) {
        mr_err_set(err, "QEMU monitor: %s", virt_msg());
        return -EIO;
    }
    if (strstr(res, "\"error\"")) {
        mr_err_set(err, "QEMU monitor refused %s: %s", cmd, res);
        free(res);
        return -EIO;
    }
    if (reply)
        *reply = res;
    else
        free(res);
    return 0;
}

/* Polls query-migrate until the stream (outgoing or incoming) completed or failed. */
static int wait_migration(virDomainPtr dom, int64_t deadline_ms, struct mr_err *err)
{
    for (;;) {
        char *res = NULL;
        int r = qmp(dom, "{\"execute\":\"query-migrate\"}", -1, &res, err);
        if (r < 0)
            return r;
        int done = strstr(res, "\"status\":\"completed\"") != NULL;
        int failed = strstr(res, "\"status\":\"failed\"") != NULL ||
                     strstr(res, "\"status\":\"cancelled\"") != NULL;
        if (failed)
            mr_err_set(err, "QEMU's migration stream failed: %s", res);
        free(res);
        if (done)
            return 0;
        if (failed)
            return -EIO;
        if (mr_now_ms() >= deadline_ms) {
            mr_err_set(err, "QEMU's migration stream did not complete in time");
            return -ETIMEDOUT;
        }
        mr_sleep_ms(20);
    }
}

/* Hands fd to QEMU under STATE_FD_NAME; closes ours either way. */
static int pass_fd(virDomainPtr dom, int fd, struct mr_err *err)
{
    int r = qmp(dom,
                "{\"execute\":\"getfd\",\"arguments\":{\"fdname\":\"" STATE_FD_NAME "\"}}",
                fd, NULL, err);
    close(fd);
    return r;
}

int mr_guest_save_state(virDomainPtr dom, const char *path, int64_t deadline_ms,
                        struct mr_err *err)
{
    if (virDomainSuspend(dom) < 0) {
        mr_err_set(err, "cannot pause the guest to save it: %s", virt_msg());
        return -EIO;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        mr_err_set(err, "cannot create '%s': %s", path, strerror(e));
        return -e;
    }
    int r = pass_fd(dom, fd, err);
    if (r == 0)
        r = qmp(dom,
                "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"fd:" STATE_FD_NAME "\"}}",
                -1, NULL, err);
    if (r == 0)
        r = wait_migration(dom, deadline_ms, err);
    if (r < 0)
        (void)unlink(path);
    return r;
}

int mr_guest_restore_state(struct mr_guest *g, const char *path, int64_t deadline_ms,
                           struct mr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        mr_err_set(err, "cannot open the saved state '%s': %s", path, strerror(e));
        return -e;
    }
    int r = pass_fd(g->dom, fd, err);
    if (r == 0)
        r = qmp(g->dom,
                "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"fd:" STATE_FD_NAME
                "\"}}",
                -1, NULL, err);
    if (r == 0)
        r = wait_migration(g->dom, deadline_ms, err);
    if (r == 0 && virDomainResume(g->dom) < 0) {
        mr_err_set(err, "cannot resume the restored guest: %s", virt_msg());
        r = -EIO;
    }
    return r;
}

void mr_guest_detach(struct mr_guest *g)
{
    if (g->dom)
        virDomainFree(g->dom);
    g->dom = NULL;
    free(g->overlay);
    g->overlay = NULL;
}
