/* domxml.c: renders a struct mr_domain_spec as libvirt domain XML with libxml2's writer,
 * so every path and name is escaped. */
#include "domxml.h"

#include <ctype.h>

#include <libxml/xmlwriter.h>
#include <string.h>

/* Every writer call below returns negative on failure; TRY passes that up. */
#define TRY(call)                                                                         \
    do {                                                                                  \
        if ((call) < 0)                                                                   \
            return -1;                                                                    \
    } while (0)

static int elem_text(xmlTextWriterPtr w, const char *name, const char *text)
{
    return xmlTextWriterWriteElement(w, (const xmlChar *)name, (const xmlChar *)text);
}

static int attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    return xmlTextWriterWriteAttribute(w, (const xmlChar *)name, (const xmlChar *)value);
}

static int start(xmlTextWriterPtr w, const char *name)
{
    return xmlTextWriterStartElement(w, (const xmlChar *)name);
}

static int end(xmlTextWriterPtr w)
{
    return xmlTextWriterEndElement(w);
}

/* <name attr="value"/>: an empty element with one attribute. */
static int empty_elem(xmlTextWriterPtr w, const char *name, const char *a, const char *value)
{
    TRY(start(w, name));
    TRY(attr(w, a, value));
    return end(w);
}

static int qemu_arg(xmlTextWriterPtr w, const char *value)
{
    return empty_elem(w, "qemu:arg", "value", value);
}

/* Whether mac has the plain form 52:54:00:12:34:56 (hex digit pairs and colons only). */
static int mac_is_plain(const char *mac)
{
    int ok = strlen(mac) == 17;
    for (int i = 0; ok && i < 17; i++)
        ok = i % 3 == 2 ? mac[i] == ':' : isxdigit((unsigned char)mac[i]) != 0;
    return ok;
}

/* Returns 0 when s describes a guest that can be built, else -1 with err set. */
static int spec_check(const struct mr_domain_spec *s, struct mr_err *err)
{
    if (!s->name || !s->run_id || !s->cell || !s->serial_log || s->ssh_port <= 0 ||
        s->ssh_port > 65535 || (!s->disk && !s->kernel) || (s->kernel && !s->initrd) ||
        s->vcpus == 0 || s->memory_mib == 0 ||
        (s->accel != MR_ACCEL_KVM && s->accel != MR_ACCEL_TCG)) {
        mr_err_set(err, "incomplete guest description for '%s'", s->name ? s->name : "?");
        return -1;
    }
    /* The MAC goes into a QEMU option string: nothing but the plain form may pass. */
    if (s->mac && !mac_is_plain(s->mac)) {
        mr_err_set(err, "MAC address '%s' of '%s' is not of the form 52:54:00:12:34:56",
                   s->mac, s->name);
        return -1;
    }
    return 0;
}

/* <metadata>: the run and cell that own the guest, found again by `clean`. */
static int write_metadata(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    TRY(start(w, "metadata"));
    TRY(start(w, "mr:run"));
    TRY(attr(w, "xmlns:mr", MR_METADATA_NS));
    TRY(attr(w, "id", s->run_id));
    TRY(attr(w, "cell", s->cell));
    if (s->run_dir)
        TRY(attr(w, "dir", s->run_dir));
    if (s->controller)
        TRY(attr(w, "controller", s->controller));
    TRY(end(w));
    return end(w);
}

/* <memory> and <vcpu>. */
static int write_resources(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    char num[32];
    snprintf(num, sizeof(num), "%u", s->memory_mib);
    TRY(start(w, "memory"));
    TRY(attr(w, "unit", "MiB"));
    TRY(xmlTextWriterWriteString(w, (const xmlChar *)num));
    TRY(end(w));
    snprintf(num, sizeof(num), "%u", s->vcpus);
    return elem_text(w, "vcpu", num);
}

/* <os>: a direct kernel boot when the spec has a kernel, else a boot from the disk. */
static int write_os(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    TRY(start(w, "os"));
    TRY(start(w, "type"));
    TRY(attr(w, "arch", "x86_64"));
    TRY(attr(w, "machine", "pc"));
    TRY(xmlTextWriterWriteString(w, (const xmlChar *)"hvm"));
    TRY(end(w));
    if (s->kernel) {
        TRY(elem_text(w, "kernel", s->kernel));
        TRY(elem_text(w, "initrd", s->initrd));
        if (s->cmdline)
            TRY(elem_text(w, "cmdline", s->cmdline));
    } else {
        TRY(empty_elem(w, "boot", "dev", "hd"));
    }
    return end(w);
}

/* <features>, <cpu> and what libvirt does when the guest stops: it is destroyed, since
 * a transient guest lives for one cell. */
static int write_platform(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    TRY(start(w, "features"));
    TRY(start(w, "acpi"));
    TRY(end(w));
    TRY(end(w));
    /* Under KVM the guest sees the host's CPU so benchmarks compare like with like;
     * under TCG QEMU's default model is the only portable choice. */
    if (s->accel == MR_ACCEL_KVM)
        TRY(empty_elem(w, "cpu", "mode", "host-passthrough"));
    TRY(elem_text(w, "on_poweroff", "destroy"));
    TRY(elem_text(w, "on_reboot", "destroy"));
    return elem_text(w, "on_crash", "destroy");
}

/* One file-backed <disk>. */
struct disk {
    const char *device; /* "disk" or "cdrom" */
    const char *format; /* the driver's type: "qcow2", "raw" */
    const char *file;
    const char *dev;    /* target device name */
    const char *bus;
    int readonly;
};

static int write_disk(xmlTextWriterPtr w, const struct disk *d)
{
    TRY(start(w, "disk"));
    TRY(attr(w, "type", "file"));
    TRY(attr(w, "device", d->device));
    TRY(start(w, "driver"));
    TRY(attr(w, "name", "qemu"));
    TRY(attr(w, "type", d->format));
    TRY(end(w));
    TRY(empty_elem(w, "source", "file", d->file));
    TRY(start(w, "target"));
    TRY(attr(w, "dev", d->dev));
    TRY(attr(w, "bus", d->bus));
    TRY(end(w));
    if (d->readonly) {
        TRY(start(w, "readonly"));
        TRY(end(w));
    }
    return end(w);
}

/* The serial console goes straight into a file (the cell's report folder, or on a
 * remote host a volume of matrixrun's pool): libvirt opens it and hands QEMU the
 * descriptor, so the guest never waits on a reader. */
static int write_serial(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    TRY(start(w, "serial"));
    TRY(attr(w, "type", "file"));
    TRY(start(w, "source"));
    TRY(attr(w, "path", s->serial_log));
    TRY(attr(w, "append", "off"));
    TRY(end(w));
    TRY(empty_elem(w, "target", "port", "0"));
    return end(w);
}

/* <devices>: the overlay, the seed, the serial console, a virtio RNG fed from the host's
 * /dev/urandom (a guest restored from a saved state must not go on from the saved
 * entropy pool alone); no balloon. */
static int write_devices(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    TRY(start(w, "devices"));
    if (s->disk) {
        const struct disk d = { "disk", "qcow2", s->disk, "vda", "virtio", 0 };
        TRY(write_disk(w, &d));
    }
    /* The seed on an IDE CD-ROM: every stock image can read it, no driver needed. */
    if (s->seed_iso) {
        const struct disk d = { "cdrom", "raw", s->seed_iso, "hdc", "ide", 1 };
        TRY(write_disk(w, &d));
    }
    TRY(write_serial(w, s));
    TRY(start(w, "rng"));
    TRY(attr(w, "model", "virtio"));
    TRY(start(w, "backend"));
    TRY(attr(w, "model", "random"));
    TRY(xmlTextWriterWriteString(w, (const xmlChar *)"/dev/urandom"));
    TRY(end(w));
    TRY(end(w));
    TRY(empty_elem(w, "memballoon", "model", "none"));
    return end(w);
}

/* <qemu:commandline>: user-mode networking with one loopback forward to the guest's SSH
 * port; restrict=on keeps the guest off every other network, unless the image's network
 * is outbound: then slirp NATs the guest's own connections (to its mirrors), and still
 * nothing but that one forward, bound to 127.0.0.1, reaches the guest from outside. The
 * NIC gets an explicit PCI slot because libvirt's own devices take the low ones. */
static int write_qemu_commandline(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    char netdev[128];
    snprintf(netdev, sizeof(netdev), "user,id=mrnet0,%shostfwd=tcp:127.0.0.1:%d-:22",
             s->outbound ? "" : "restrict=on,", s->ssh_port);
    TRY(start(w, "qemu:commandline"));
    TRY(qemu_arg(w, "-netdev"));
    TRY(qemu_arg(w, netdev));
    TRY(qemu_arg(w, "-device"));
    char nic[128];
    if (s->mac)
        snprintf(nic, sizeof(nic), "virtio-net-pci,netdev=mrnet0,addr=0x10,mac=%s", s->mac);
    else
        snprintf(nic, sizeof(nic), "virtio-net-pci,netdev=mrnet0,addr=0x10");
    TRY(qemu_arg(w, nic));
    if (s->incoming) {
        TRY(qemu_arg(w, "-incoming"));
        TRY(qemu_arg(w, "defer"));
    }
    return end(w);
}

/* The whole document, <domain> and its parts in libvirt's usual order. */
static int write_domain(xmlTextWriterPtr w, const struct mr_domain_spec *s)
{
    TRY(start(w, "domain"));
    TRY(attr(w, "type", s->accel == MR_ACCEL_KVM ? "kvm" : "qemu"));
    TRY(attr(w, "xmlns:qemu", "http://libvirt.org/schemas/domain/qemu/1.0"));
    TRY(elem_text(w, "name", s->name));
    TRY(elem_text(w, "title", s->cell));
    TRY(elem_text(w, "description", "matrixrun guest; destroyed when its run ends"));
    TRY(write_metadata(w, s));
    TRY(write_resources(w, s));
    TRY(write_os(w, s));
    TRY(write_platform(w, s));
    TRY(write_devices(w, s));
    TRY(write_qemu_commandline(w, s));
    TRY(end(w)); /* domain */
    return xmlTextWriterEndDocument(w);
}

char *mr_domxml_build(const struct mr_domain_spec *s, struct mr_err *err)
{
    if (spec_check(s, err) < 0)
        return NULL;
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    int r = -1;
    if (w) {
        xmlTextWriterSetIndent(w, 1);
        xmlTextWriterSetIndentString(w, (const xmlChar *)"  ");
        r = write_domain(w, s);
        xmlFreeTextWriter(w);
    }
    char *ret = NULL;
    if (r >= 0)
        ret = mr_xstrndup((const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
    else
        mr_err_set(err, "cannot build the domain XML of '%s'", s->name);
    xmlBufferFree(buf);
    return ret;
}
