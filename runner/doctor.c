/* doctor.c: finds out whether this host can run guests and how (KVM or TCG): CPU flags,
 * /dev/kvm and a tiny KVM guest, the nested parameter, permissions, QEMU and libvirt. */
#define _GNU_SOURCE
#include "doctor.h"
#include "doctorpriv.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>

#include "guest.h"
#include "hostprobe.h"
#include "xmlutil.h"

#define KVM_DEV MR_HOSTPROBE_KVM_DEV
#define SYS_MODULE "/sys/module"

/* ---- pure parsers ---- */

static xmlDocPtr read_xml(const char *xml)
{
    /* No network, no entities: the XML comes from a daemon, but it is still input. */
    return xmlReadMemory(xml, (int)strlen(xml), "capabilities.xml", NULL,
                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static void add_type(struct mr_doctor_caps *c, const char *type)
{
    if (mr_doctor_caps_has(c, type))
        return;
    c->types = mr_xrealloc(c->types, (c->n_types + 1) * sizeof(*c->types));
    c->types[c->n_types++] = mr_xstrdup(type);
}

int mr_doctor_caps_parse(const char *xml, const char *arch, struct mr_doctor_caps *ret,
                         struct mr_err *err)
{
    _cleanup_xmldoc_ xmlDocPtr doc = read_xml(xml);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !mr_xml_is_elem(root, "capabilities")) {
        mr_err_set(err, "libvirt's capabilities are not <capabilities> XML");
        return -EINVAL;
    }
    struct mr_doctor_caps c = { 0 };
    struct mr_buf all;
    mr_buf_init(&all);
    /* Arches repeat, one <guest> per os_type (hvm, xen): "all" lists each arch once with
     * its types merged. */
    struct mr_doctor_caps *arches = NULL;
    char **arch_names = NULL;
    size_t n_arches = 0;
    for (xmlNodePtr g = root->children; g; g = g->next) {
        if (!mr_xml_is_elem(g, "guest"))
            continue;
        for (xmlNodePtr a = g->children; a; a = a->next) {
            if (!mr_xml_is_elem(a, "arch"))
                continue;
            _cleanup_free_ char *name = mr_xml_attr(a, "name");
            if (!name)
                continue;
            size_t k;
            for (k = 0; k < n_arches && strcmp(arch_names[k], name) != 0; k++)
                ;
            if (k == n_arches) {
                arches = mr_xrealloc(arches, (n_arches + 1) * sizeof(*arches));
                arch_names = mr_xrealloc(arch_names, (n_arches + 1) * sizeof(*arch_names));
                arches[k] = (struct mr_doctor_caps){ 0 };
                arch_names[k] = mr_xstrdup(name);
                n_arches++;
            }
            int ours = strcmp(name, arch) == 0;
            for (xmlNodePtr d = a->children; d; d = d->next) {
                if (mr_xml_is_elem(d, "emulator") && ours && !c.emulator)
                    c.emulator = mr_xml_text(d);
                if (!mr_xml_is_elem(d, "domain"))
                    continue;
                _cleanup_free_ char *type = mr_xml_attr(d, "type");
                if (!type)
                    continue;
                add_type(&arches[k], type);
                if (ours)
                    add_type(&c, type);
            }
        }
    }
    for (size_t k = 0; k < n_arches; k++) {
        mr_buf_addf(&all, "%s%s:", k ? "; " : "", arch_names[k]);
        for (size_t t = 0; t < arches[k].n_types; t++)
            mr_buf_addf(&all, "%s %s", t ? "," : "", arches[k].types[t]);
        if (!arches[k].n_types)
            mr_buf_adds(&all, " none");
        mr_doctor_caps_release(&arches[k]);
        free(arch_names[k]);
    }
    free(arches);
    free(arch_names);
    c.all = mr_buf_detach(&all, NULL);
    *ret = c;
    return 0;
}

void mr_doctor_caps_release(struct mr_doctor_caps *c)
{
    for (size_t i = 0; i < c->n_types; i++)
        free(c->types[i]);
    free(c->types);
    free(c->emulator);
    free(c->all);
    *c = (struct mr_doctor_caps){ 0 };
}

int mr_doctor_caps_has(const struct mr_doctor_caps *c, const char *type)
{
    for (size_t i = 0; i < c->n_types; i++)
        if (strcmp(c->types[i], type) == 0)
            return 1;
    return 0;
}

char *mr_doctor_domcaps_domain(const char *xml)
{
    _cleanup_xmldoc_ xmlDocPtr doc = read_xml(xml);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root || !mr_xml_is_elem(root, "domainCapabilities"))
        return NULL;
    for (xmlNodePtr n = root->children; n; n = n->next)
        if (mr_xml_is_elem(n, "domain"))
            return mr_xml_text(n);
    return NULL;
}

static int dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *mr_doctor_kvm_module(const char *sys_module)
{
    /* The hardware modules first: a host that has kvm_intel loaded runs stock guests
     * even if a PVM module sits beside it. */
    static const char *const mods[] = { "kvm_intel", "kvm_amd", "kvm_pvm" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(mods); i++) {
        _cleanup_free_ char *p = mr_xasprintf("%s/%s", sys_module, mods[i]);
        if (dir_exists(p))
            return mods[i];
    }
    return NULL;
}

/* ---- the report ---- */

static void add_check(struct mr_doctor *d, enum mr_doctor_level level, const char *name,
                      char *finding, char *fix)
{
    d->checks = mr_xrealloc(d->checks, (d->n_checks + 1) * sizeof(*d->checks));
    d->checks[d->n_checks++] = (struct mr_doctor_check){
        .level = level, .name = mr_xstrdup(name), .finding = finding,
        .fix = level == MR_DOCTOR_LEVEL_OK ? (free(fix), NULL) : fix,
    };
}

#define CHECK(d, level, name, fix, ...) \
    add_check((d), (level), (name), mr_xasprintf(__VA_ARGS__), (fix) ? mr_xstrdup(fix) : NULL)

const char *mr_doctor_level_name(enum mr_doctor_level l)
{
    switch (l) {
    case MR_DOCTOR_LEVEL_OK:
        return "ok";
    case MR_DOCTOR_LEVEL_WARN:
        return "warn";
    case MR_DOCTOR_LEVEL_FAIL:
        break;
    }
    return "FAIL";
}

char *mr_doctor_verdict_text(const struct mr_doctor *d)
{
    switch (d->verdict) {
    case MR_DOCTOR_VERDICT_KVM:
        return mr_xasprintf("kvm (nested guests: %s)", d->nested);
    case MR_DOCTOR_VERDICT_TCG:
        return mr_xstrdup("tcg only (software emulation, about 10x slower)");
    case MR_DOCTOR_VERDICT_NONE:
        break;
    }
    return mr_xstrdup("guests cannot run");
}

void mr_doctor_free(struct mr_doctor *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_checks; i++) {
        free(d->checks[i].name);
        free(d->checks[i].finding);
        free(d->checks[i].fix);
    }
    free(d->checks);
    free(d);
}

static const char fix_tcg[] =
    "run guests under TCG here (--accel tcg, or <host accel='tcg'>)";

/* Returns whether the CPU exposes hardware virtualization. */
static int check_cpu(struct mr_doctor *d)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    int r = mr_file_read("/proc/cpuinfo", &text, &len);
    if (r < 0) {
        CHECK(d, MR_DOCTOR_LEVEL_WARN, "cpu", "mount /proc (procfs) and run doctor again",
              "cannot read /proc/cpuinfo: %s", strerror(-r));
        return 0;
    }
    struct mr_hostprobe_cpuinfo c;
    mr_hostprobe_cpuinfo_parse(text, &c);
    const char *vendor = c.vendor ? c.vendor : "unknown vendor";
    const char *model = c.model ? c.model : "unknown model";
    const char *want = c.vendor && strcmp(c.vendor, "AuthenticAMD") == 0 ? "svm" : "vmx";
    unsigned have = c.vmx > c.svm ? c.vmx : c.svm;
    int ok = have > 0;
    if (have == 0)
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "cpu",
              "on bare metal, turn on VT-x/AMD-V in the firmware; on a cloud VM, use an "
              "instance that exposes nested virtualization (GCE: --enable-nested-"
              "virtualization; Azure: a size with nested virtualization such as Dv3/Ev3; "
              "AWS: a .metal instance); until then guests run under TCG only",
              "%s, %s: no vmx or svm flag on any of %u CPU(s) (vmx %u, svm %u): no hardware "
              "virtualization exposed to this host", vendor, model, c.cpus, c.vmx, c.svm);
    else if (have < c.cpus)
        CHECK(d, MR_DOCTOR_LEVEL_WARN, "cpu",
              "turn on VT-x/AMD-V for every CPU (firmware) or ask the provider why some "
              "vCPUs lack it",
              "%s, %s: %s on only %u of %u CPU(s) (vmx %u, svm %u)", vendor, model, want,
              have, c.cpus, c.vmx, c.svm);
    else
        CHECK(d, MR_DOCTOR_LEVEL_OK, "cpu", NULL, "%s, %s: %s on %u of %u CPU(s)", vendor,
              model, c.vmx ? "vmx" : "svm", have, c.cpus);
    mr_hostprobe_cpuinfo_release(&c);
    return ok;
}

/* The test guests on kvm (an open /dev/kvm, its module mod or NULL). Returns whether
 * KVM runs a stock guest. */
static int check_kvm_guest(struct mr_doctor *d, int kvm, const char *mod)
{
    char msg[256];
    enum mr_hostprobe_kvm_probe r = mr_hostprobe_kvm_probe(kvm, msg, sizeof(msg));
    int is_pvm = mod && strcmp(mod, "kvm_pvm") == 0;
    const char *pvm = is_pvm ? ": the module is kvm_pvm, which runs PVM-aware guest kernels only"
                             : "";
    const char *fix = is_pvm ? "run guests under TCG here (--accel tcg, or <host accel='tcg'>); "
                               "for KVM use a host with kvm_intel or kvm_amd (bare metal, or "
                               "a cloud VM with nested virtualization)"
                             : fix_tcg;
    switch (r) {
    case MR_HOSTPROBE_KVM_PROBE_OK:
        CHECK(d, MR_DOCTOR_LEVEL_OK, "kvm guest", NULL,
              "a real-mode and a 64-bit test guest ran (the 64-bit one took an exception "
              "through its IDT, as every stock kernel does)");
        return 1;
    case MR_HOSTPROBE_KVM_PROBE_LONG_FAILED:
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm guest", fix,
              "a real-mode test guest runs, but a 64-bit one stops at its first exception "
              "through its IDT with %s: KVM here cannot run a stock kernel%s", msg, pvm);
        return 0;
    case MR_HOSTPROBE_KVM_PROBE_REAL_FAILED:
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm guest", fix,
              "a real-mode test guest (out, hlt) did not run: %s%s", msg, pvm);
        return 0;
    case MR_HOSTPROBE_KVM_PROBE_TIMEOUT:
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm guest", fix, "a test guest hung: %s%s", msg, pvm);
        return 0;
    case MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED:
        break;
    }
    CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm guest", fix, "cannot set up a test guest: %s%s",
          msg, pvm);
    return 0;
}

/* /dev/kvm, its module and the test guests. Returns whether KVM runs a stock guest. */
static int check_kvm(struct mr_doctor *d, int cpu_virt)
{
    const char *mod = mr_doctor_kvm_module(SYS_MODULE);
    struct stat st;
    if (stat(KVM_DEV, &st) < 0) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm",
              cpu_virt ? "load the module: modprobe kvm_intel (Intel) or modprobe kvm_amd (AMD)"
                       : "KVM needs the CPU's vmx or svm (see cpu); until then guests run "
                         "under TCG (--accel tcg)",
              KVM_DEV " is absent%s%s", mod ? ", yet module " : "", mod ? mod : "");
        return 0;
    }
    int fd = open(KVM_DEV, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm",
              e == EACCES ? "add yourself to /dev/kvm's group (sudo usermod -aG kvm $USER, "
                            "then log in again), or run doctor as root"
                          : "check dmesg for the kvm module's errors",
              "cannot open " KVM_DEV ": %s", strerror(e));
        return 0;
    }
    int api = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (api != 12) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm", "use a kernel with a current KVM (API 12)",
              KVM_DEV " opens but KVM_GET_API_VERSION says %d, not 12", api);
        close(fd);
        return 0;
    }
    int vm = ioctl(fd, KVM_CREATE_VM, 0);
    if (vm < 0) {
        int e = errno;
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "kvm", "check dmesg for the kvm module's errors",
              KVM_DEV " opens (API 12) but KVM_CREATE_VM fails: %s", strerror(e));
        close(fd);
        return 0;
    }
    close(vm);
    CHECK(d, MR_DOCTOR_LEVEL_OK, "kvm", NULL,
          KVM_DEV " opens read-write, API version 12, KVM_CREATE_VM works; module %s",
          mod ? mod : "unknown (no kvm_intel, kvm_amd or kvm_pvm in " SYS_MODULE ")");

    int runs = check_kvm_guest(d, fd, mod);
    close(fd);
    return runs;
}

static void check_nested(struct mr_doctor *d)
{
    const char *mod;
    _cleanup_free_ char *v = mr_hostprobe_nested_param(&mod);
    d->nested = mr_hostprobe_nested_parse(v);
    if (!v) {
        const char *loaded = mr_doctor_kvm_module(SYS_MODULE);
        CHECK(d, MR_DOCTOR_LEVEL_WARN, "nested",
              "nested guests need kvm_intel or kvm_amd with nested=1 (modprobe kvm_intel "
              "nested=1, kept in /etc/modprobe.d/kvm.conf as 'options kvm_intel nested=1')",
              "no nested parameter: neither kvm_intel nor kvm_amd is loaded%s%s%s",
              loaded ? " (" : "", loaded ? loaded : "", loaded ? " is)" : "");
    } else if (strcmp(d->nested, "yes") == 0) {
        CHECK(d, MR_DOCTOR_LEVEL_OK, "nested", NULL,
              "%s nested=%s: guests may run KVM guests of their own", mod, v);
    } else {
        _cleanup_free_ char *fix = mr_xasprintf(
            "with no guest running: modprobe -r %s && modprobe %s nested=1; to keep it, "
            "write 'options %s nested=1' to /etc/modprobe.d/kvm.conf", mod, mod, mod);
        CHECK(d, MR_DOCTOR_LEVEL_WARN, "nested", fix,
              "%s nested=%s: guests cannot run KVM guests of their own", mod, v);
    }
}

static void check_permissions(struct mr_doctor *d)
{
    struct stat st;
    if (stat(KVM_DEV, &st) < 0)
        return;
    struct group *g = getgrgid(st.st_gid);
    _cleanup_free_ char *group = g ? mr_xstrdup(g->gr_name) : mr_xasprintf("%u", st.st_gid);
    unsigned mode = st.st_mode & 07777;
    if (geteuid() != 0 && access(KVM_DEV, R_OK | W_OK) < 0) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "permissions",
              "add yourself to the group: sudo usermod -aG kvm $USER, then log in again",
              KVM_DEV " is %04o, group %s, and you may not open it", mode, group);
        return;
    }
    /* Without udev, /dev/kvm stays root-only 0600: libvirt's QEMU (another user) cannot
     * open it, so libvirt finds its cached capabilities stale on every domain start and
     * probes QEMU again before each guest starts, a slow step (see setup.sh). */
    if ((mode & 0060) != 0060) {
        _cleanup_free_ char *fix = mr_xasprintf(
            "give it what Debian's udev rule gives it: chgrp kvm " KVM_DEV " && chmod 0660 "
            KVM_DEV " (setup.sh does this); without it libvirt re-probes QEMU on every "
            "guest start");
        CHECK(d, MR_DOCTOR_LEVEL_WARN, "permissions", fix,
              KVM_DEV " is %04o, group %s: libvirt's QEMU user cannot open it", mode, group);
        return;
    }
    CHECK(d, MR_DOCTOR_LEVEL_OK, "permissions", NULL,
          KVM_DEV " is %04o, group %s: group members (libvirt's QEMU among them) can open it",
          mode, group);
}

/* The emulator: libvirt's for x86_64 when it names an executable, else PATH's. */
static int check_qemu(struct mr_doctor *d, const char *emulator)
{
    char *argv[] = { NULL, "--version", NULL };
    _cleanup_free_ char *found = NULL;
    const char *where = "on PATH";
    if (emulator && access(emulator, X_OK) == 0) {
        found = mr_xstrdup(emulator);
        where = "libvirt's emulator";
    } else {
        const char *path = getenv("PATH");
        _cleanup_free_ char *copy = mr_xstrdup(path ? path : "/usr/bin:/bin");
        char *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir && !found;
             dir = strtok_r(NULL, ":", &save)) {
            _cleanup_free_ char *p = mr_xasprintf("%s/qemu-system-x86_64", *dir ? dir : ".");
            if (access(p, X_OK) == 0)
                found = MR_TAKE_PTR(p);
        }
    }
    if (!found) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "qemu",
              "install QEMU: apt-get install qemu-system-x86 (Debian, Ubuntu) or "
              "dnf install qemu-kvm (Fedora, RHEL)",
              "no qemu-system-x86_64 on PATH%s%s", emulator ? " nor at libvirt's " : "",
              emulator ? emulator : "");
        return 0;
    }
    argv[0] = found;
    struct mr_buf out;
    mr_buf_init(&out);
    int r = mr_spawn(argv, &out);
    if (r != 0) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "qemu", "reinstall QEMU (apt-get install --reinstall "
              "qemu-system-x86) and run the command by hand to see why",
              "%s (%s) --version fails: %s", found, where,
              r < 0 ? strerror(-r) : out.len ? out.data : "no output");
        mr_buf_release(&out);
        return 0;
    }
    out.data[strcspn(out.data, "\n")] = '\0';
    CHECK(d, MR_DOCTOR_LEVEL_OK, "qemu", NULL, "%s (%s): %s", found, where, out.data);
    mr_buf_release(&out);
    return 1;
}

static char *version_text(unsigned long v)
{
    return mr_xasprintf("%lu.%lu.%lu", v / 1000000, v / 1000 % 1000, v % 1000);
}

/* What libvirt offers at uri. Returns 1 when it answers; fills caps for x86_64. */
static void quiet_xml(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static int check_libvirt(struct mr_doctor *d, const char *uri, int kvm_runs,
                         struct mr_doctor_caps *caps, int *ret_kvm_usable)
{
    struct mr_err e = { 0 };
    *ret_kvm_usable = 0;
    /* libvirt's test driver parses its file with libxml2, whose default handler would
     * print "I/O warning" lines of its own; the connection error says it all. */
    xmlSetGenericErrorFunc(NULL, quiet_xml);
    virConnectPtr conn = mr_guest_connect(uri, &e);
    xmlSetGenericErrorFunc(NULL, NULL);
    if (!conn) {
        int denied = strstr(mr_err_msg(&e), "ermission denied") != NULL;
        const char *fix = denied
            ? "join the libvirt group (sudo usermod -aG libvirt $USER, then log in again) "
              "or run as root"
            : "check the URI (as in qemu:///system) and that libvirtd runs (systemctl "
              "start libvirtd, or without systemd: virtlogd -d; libvirtd -d)";
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "libvirt", fix, "%s", mr_err_msg(&e));
        mr_err_release(&e);
        return 0;
    }
    unsigned long lib = 0, hv = 0;
    const char *type = virConnectGetType(conn);
    _cleanup_free_ char *libv = virConnectGetLibVersion(conn, &lib) == 0
                                    ? version_text(lib) : mr_xstrdup("unknown");
    _cleanup_free_ char *hvv = virConnectGetVersion(conn, &hv) == 0 && hv
                                   ? version_text(hv) : mr_xstrdup("unknown");
    _cleanup_free_ char *xml = virConnectGetCapabilities(conn);
    if (!xml || mr_doctor_caps_parse(xml, "x86_64", caps, &e) < 0) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "libvirt", "check libvirtd's log",
              "%s answers (libvirt %s, %s %s) but its capabilities cannot be read: %s", uri,
              libv, type ? type : "hypervisor", hvv,
              xml ? mr_err_msg(&e) : virGetLastErrorMessage());
        mr_err_release(&e);
        virConnectClose(conn);
        return 0;
    }
    CHECK(d, MR_DOCTOR_LEVEL_OK, "libvirt", NULL, "%s answers: libvirt %s, %s %s; offers %s",
          uri, libv, type ? type : "hypervisor", hvv, caps->all[0] ? caps->all : "no guests");

    int qemu = mr_doctor_caps_has(caps, "qemu"), kvm = mr_doctor_caps_has(caps, "kvm");
    if (!qemu && !kvm) {
        CHECK(d, MR_DOCTOR_LEVEL_FAIL, "domain types",
              "connect to a QEMU libvirt (-c qemu:///system), and install qemu-system-x86 "
              "beside libvirt-daemon-system so libvirt finds the emulator",
              "%s offers no qemu or kvm domains for x86_64 guests, which matrixrun needs", uri);
    } else if (!kvm) {
        CHECK(d, MR_DOCTOR_LEVEL_WARN, "domain types",
              "libvirt offers kvm once QEMU can use /dev/kvm (see kvm and permissions); "
              "restart libvirtd after fixing it so it probes QEMU again",
              "x86_64: qemu (TCG) only, no kvm");
    } else {
        /* The capabilities list kvm when QEMU has a KVM accelerator; the domain
         * capabilities are the one libvirt call that fails when kvm cannot be used. */
        _cleanup_free_ char *dc = virConnectGetDomainCapabilities(conn, NULL, "x86_64", NULL,
                                                                  "kvm", 0);
        _cleanup_free_ char *dom = dc ? mr_doctor_domcaps_domain(dc) : NULL;
        if (dom && strcmp(dom, "kvm") == 0 && !kvm_runs) {
            /* libvirt only asks QEMU whether it has KVM; it cannot know what kvm_pvm
             * does to a stock kernel. Its kvm domains would hang at boot here. */
            *ret_kvm_usable = 1;
            CHECK(d, MR_DOCTOR_LEVEL_WARN, "domain types",
                  "use domain type qemu (--accel tcg): a kvm guest would hang at boot here",
                  "x86_64: %s; libvirt calls kvm usable, but the kvm guest check failed",
                  qemu ? "qemu (TCG) and kvm" : "kvm");
        } else if (dom && strcmp(dom, "kvm") == 0) {
            *ret_kvm_usable = 1;
            CHECK(d, MR_DOCTOR_LEVEL_OK, "domain types", NULL,
                  "x86_64: %s; libvirt's domain capabilities for kvm are usable",
                  qemu ? "qemu (TCG) and kvm" : "kvm");
        } else {
            const char *m = virGetLastErrorMessage();
            CHECK(d, MR_DOCTOR_LEVEL_WARN, "domain types",
                  "see libvirtd's log; restart libvirtd after fixing KVM so it probes QEMU again",
                  "x86_64 lists kvm, but libvirt's domain capabilities for kvm are not "
                  "usable: %s", dc ? "no <domain>kvm</domain>" : m ? m : "unknown error");
        }
    }
    virConnectClose(conn);
    return qemu || kvm;
}

struct mr_doctor *mr_doctor_new(const char *uri)
{
    struct mr_doctor *d = mr_xcalloc(1, sizeof(*d));
    int cpu_virt = check_cpu(d);
    /* The test guests run in a forked child: before libvirt's connection starts threads. */
    int kvm_runs = check_kvm(d, cpu_virt);
    check_nested(d);
    check_permissions(d);
    /* libvirt is asked before QEMU is looked for (its capabilities name the emulator),
     * but its lines come after QEMU's, in the order a reader fixes things. */
    struct mr_doctor *lv = mr_xcalloc(1, sizeof(*lv));
    struct mr_doctor_caps caps = { 0 };
    int kvm_usable;
    int libvirt_runs = check_libvirt(lv, uri, kvm_runs, &caps, &kvm_usable);
    int qemu = check_qemu(d, caps.emulator);
    for (size_t i = 0; i < lv->n_checks; i++) {
        struct mr_doctor_check *c = &lv->checks[i];
        add_check(d, c->level, c->name, MR_TAKE_PTR(c->finding), MR_TAKE_PTR(c->fix));
    }
    mr_doctor_free(lv);
    if (!qemu || !libvirt_runs)
        d->verdict = MR_DOCTOR_VERDICT_NONE;
    else if (kvm_runs && kvm_usable)
        d->verdict = MR_DOCTOR_VERDICT_KVM;
    else if (mr_doctor_caps_has(&caps, "qemu"))
        d->verdict = MR_DOCTOR_VERDICT_TCG;
    else
        d->verdict = MR_DOCTOR_VERDICT_NONE; /* kvm listed, but KVM does not run guests */
    mr_doctor_caps_release(&caps);
    return d;
}
