/* domxml.c: renders a struct mr_domain_spec as libvirt domain XML with libxml2's writer,
 * so every path and name is escaped. */
#include "domxml.h"

#include <ctype.h>

#include <libxml/xmlwriter.h>
#include <string.h>

#define W(call)                                                                           \
    do {                                                                                  \
        if ((call) < 0)                                                                   \
            goto fail;                                                                    \
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

static int qemu_arg(xmlTextWriterPtr w, const char *value)
{
    if (start(w, "qemu:arg") < 0 || attr(w, "value", value) < 0)
        return -1;
    return end(w);
}

char *mr_domxml_build(const struct mr_domain_spec *s, struct mr_err *err)
{
    if (!s->name || !s->run_id || !s->cell || !s->serial_log || s->ssh_port <= 0 ||
        s->ssh_port > 65535 || (!s->disk && !s->kernel) || (s->kernel && !s->initrd) ||
        s->vcpus == 0 || s->memory_mib == 0 ||
        (s->accel != MR_ACCEL_KVM && s->accel != MR_ACCEL_TCG)) {
        mr_err_set(err, "incomplete guest description for '%s'", s->name ? s->name : "?");
        return NULL;
    }
    /* The MAC goes into a QEMU option string: nothing but the plain form may pass. */
    if (s->mac) {
        int ok = strlen(s->mac) == 17;
        for (int i = 0; ok && i < 17; i++)
            ok = i % 3 == 2 ? s->mac[i] == ':' : isxdigit((unsigned char)s->mac[i]) != 0;
        if (!ok) {
            mr_err_set(err, "MAC address '%s' of '%s' is not of the form 52:54:00:12:34:56",
                       s->mac, s->name);
            return NULL;
        }
    }
    char num[32];
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    char *ret = NULL;
    if (!w)
        goto fail;
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, (const xmlChar *)"  ");

    W(start(w, "domain"));
    W(attr(w, "type", s->accel == MR_ACCEL_KVM ? "kvm" : "qemu"));
    W(attr(w, "xmlns:qemu", "http://libvirt.org/schemas/domain/qemu/1.0"));
    W(elem_text(w, "name", s->name));
    W(elem_text(w, "title", s->cell));
    W(elem_text(w, "description", "matrixrun guest; destroyed when its run ends"));

    W(start(w, "metadata"));
    W(start(w, "mr:run"));
    W(attr(w, "xmlns:mr", MR_METADATA_NS));
    W(attr(w, "id", s->run_id));
    W(attr(w, "cell", s->cell));
    if (s->run_dir)
        W(attr(w, "dir", s->run_dir));
    if (s->controller)
        W(attr(w, "controller", s->controller));
    W(end(w));
    W(end(w));

    snprintf(num, sizeof(num), "%u", s->memory_mib);
    W(start(w, "memory"));
    W(attr(w, "unit", "MiB"));
    W(xmlTextWriterWriteString(w, (const xmlChar *)num));
    W(end(w));
    snprintf(num, sizeof(num), "%u", s->vcpus);
    W(elem_text(w, "vcpu", num));

    W(start(w, "os"));
    W(start(w, "type"));
    W(attr(w, "arch", "x86_64"));
    W(attr(w, "machine", "pc"));
    W(xmlTextWriterWriteString(w, (const xmlChar *)"hvm"));
    W(end(w));
    if (s->kernel) {
        W(elem_text(w, "kernel", s->kernel));
        W(elem_text(w, "initrd", s->initrd));
        if (s->cmdline)
            W(elem_text(w, "cmdline", s->cmdline));
    } else {
        W(start(w, "boot"));
        W(attr(w, "dev", "hd"));
        W(end(w));
    }
    W(end(w)); /* os */

    W(start(w, "features"));
    W(start(w, "acpi"));
    W(end(w));
    W(end(w));
    /* Under KVM the guest sees the host's CPU so benchmarks compare like with like;
     * under TCG QEMU's default model is the only portable choice. */
    if (s->accel == MR_ACCEL_KVM) {
        W(start(w, "cpu"));
        W(attr(w, "mode", "host-passthrough"));
        W(end(w));
    }
    W(elem_text(w, "on_poweroff", "destroy"));
    W(elem_text(w, "on_reboot", "destroy"));
    W(elem_text(w, "on_crash", "destroy"));

    W(start(w, "devices"));
    if (s->disk) {
        W(start(w, "disk"));
        W(attr(w, "type", "file"));
        W(attr(w, "device", "disk"));
        W(start(w, "driver"));
        W(attr(w, "name", "qemu"));
        W(attr(w, "type", "qcow2"));
        W(end(w));
        W(start(w, "source"));
        W(attr(w, "file", s->disk));
        W(end(w));
        W(start(w, "target"));
        W(attr(w, "dev", "vda"));
        W(attr(w, "bus", "virtio"));
        W(end(w));
        W(end(w));
    }
    /* The seed on an IDE CD-ROM: every stock image can read it, no driver needed. */
    if (s->seed_iso) {
        W(start(w, "disk"));
        W(attr(w, "type", "file"));
        W(attr(w, "device", "cdrom"));
        W(start(w, "driver"));
        W(attr(w, "name", "qemu"));
        W(attr(w, "type", "raw"));
        W(end(w));
        W(start(w, "source"));
        W(attr(w, "file", s->seed_iso));
        W(end(w));
        W(start(w, "target"));
        W(attr(w, "dev", "hdc"));
        W(attr(w, "bus", "ide"));
        W(end(w));
        W(start(w, "readonly"));
        W(end(w));
        W(end(w));
    }
    /* The serial console goes straight into a file (the cell's report folder, or on a
     * remote host a volume of matrixrun's pool): libvirt opens it and hands QEMU the
     * descriptor, so the guest never waits on a reader. */
    W(start(w, "serial"));
    W(attr(w, "type", "file"));
    W(start(w, "source"));
    W(attr(w, "path", s->serial_log));
    W(attr(w, "append", "off"));
    W(end(w));
    W(start(w, "target"));
    W(attr(w, "port", "0"));
    W(end(w));
    W(end(w));
    W(start(w, "memballoon"));
    W(attr(w, "model", "none"));
    W(end(w));
    W(end(w)); /* devices */

    /* User-mode networking with one loopback forward to the guest's SSH port;
     * restrict=on keeps the guest off every other network. The NIC gets an explicit
     * PCI slot because libvirt's own devices take the low ones. */
    char netdev[128];
    snprintf(netdev, sizeof(netdev), "user,id=mrnet0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22",
             s->ssh_port);
    W(start(w, "qemu:commandline"));
    W(qemu_arg(w, "-netdev"));
    W(qemu_arg(w, netdev));
    W(qemu_arg(w, "-device"));
    char nic[128];
    if (s->mac)
        snprintf(nic, sizeof(nic), "virtio-net-pci,netdev=mrnet0,addr=0x10,mac=%s", s->mac);
    else
        snprintf(nic, sizeof(nic), "virtio-net-pci,netdev=mrnet0,addr=0x10");
    W(qemu_arg(w, nic));
    W(end(w));

    W(end(w)); /* domain */
    W(xmlTextWriterEndDocument(w));
    xmlFreeTextWriter(w);
    w = NULL;
    ret = mr_xstrndup((const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
    xmlBufferFree(buf);
    return ret;
fail:
    if (w)
        xmlFreeTextWriter(w);
    xmlBufferFree(buf);
    mr_err_set(err, "cannot build the domain XML of '%s'", s->name);
    return NULL;
}
