/* hostprobe.c: reads this machine's CPU, kernel and nested-virtualization facts and runs
 * a tiny KVM test guest to learn whether KVM runs stock guest kernels here. */
#define _GNU_SOURCE
#include "hostprobe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define SYS_MODULE "/sys/module"

/* ---- /proc/cpuinfo ---- */

/* The value of a "key\t: value" line of /proc/cpuinfo, if line is that key's. */
static const char *cpuinfo_value(const char *line, size_t len, const char *key, size_t *vlen)
{
    size_t kl = strlen(key);
    if (len < kl || strncmp(line, key, kl) != 0)
        return NULL;
    size_t i = kl;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] != ':')
        return NULL;
    i++;
    while (i < len && line[i] == ' ')
        i++;
    *vlen = len - i;
    return line + i;
}

static int word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_';
}

/* Whether word stands in s[0..len) as a whole word (grep -w's sense). */
static int has_word(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++)
        if (memcmp(s + i, word, wl) == 0 && (i == 0 || !word_char(s[i - 1])) &&
            (i + wl == len || !word_char(s[i + wl])))
            return 1;
    return 0;
}

void mr_hostprobe_cpuinfo_parse(const char *text, struct mr_hostprobe_cpuinfo *ret)
{
    struct mr_hostprobe_cpuinfo c = { 0 };
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        size_t vl;
        const char *v;
        if (cpuinfo_value(p, len, "processor", &vl))
            c.cpus++;
        else if (!c.vendor && (v = cpuinfo_value(p, len, "vendor_id", &vl)))
            c.vendor = mr_xstrndup(v, vl);
        else if (!c.model && (v = cpuinfo_value(p, len, "model name", &vl)))
            c.model = mr_xstrndup(v, vl);
        else if ((v = cpuinfo_value(p, len, "flags", &vl))) {
            c.vmx += has_word(v, vl, "vmx");
            c.svm += has_word(v, vl, "svm");
        }
        p += len;
        if (*p)
            p++;
    }
    *ret = c;
}

void mr_hostprobe_cpuinfo_release(struct mr_hostprobe_cpuinfo *c)
{
    free(c->vendor);
    free(c->model);
    *c = (struct mr_hostprobe_cpuinfo){ 0 };
}

char *mr_hostprobe_cpu_model(void)
{
    _cleanup_free_ char *text = NULL;
    size_t len;
    if (mr_file_read("/proc/cpuinfo", &text, &len) < 0)
        return NULL;
    struct mr_hostprobe_cpuinfo c;
    mr_hostprobe_cpuinfo_parse(text, &c);
    char *model = MR_TAKE_PTR(c.model);
    mr_hostprobe_cpuinfo_release(&c);
    return model;
}

/* ---- the kernel ---- */

void mr_hostprobe_kernel(char *buf, size_t len)
{
    struct utsname u;
    if (len == 0)
        return;
    if (uname(&u) < 0)
        buf[0] = '\0';
    else
        snprintf(buf, len, "%s", u.release);
}

/* ---- nested virtualization ---- */

const char *mr_hostprobe_nested_parse(const char *value)
{
    if (!value)
        return "unknown";
    if ((value[0] == 'Y' || value[0] == 'y' || value[0] == '1') &&
        (value[1] == '\0' || value[1] == '\n'))
        return "yes";
    if ((value[0] == 'N' || value[0] == 'n' || value[0] == '0') &&
        (value[1] == '\0' || value[1] == '\n'))
        return "no";
    return "unknown";
}

char *mr_hostprobe_nested_param(const char **ret_module)
{
    static const char *const mods[] = { "kvm_intel", "kvm_amd" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(mods); i++) {
        _cleanup_free_ char *p = mr_xasprintf(SYS_MODULE "/%s/parameters/nested", mods[i]);
        char *data;
        size_t len;
        if (mr_file_read(p, &data, &len) == 0) {
            data[strcspn(data, "\n")] = '\0';
            *ret_module = mods[i];
            return data;
        }
    }
    *ret_module = NULL;
    return NULL;
}

const char *mr_hostprobe_nested(void)
{
    const char *mod;
    _cleanup_free_ char *v = mr_hostprobe_nested_param(&mod);
    return mr_hostprobe_nested_parse(v);
}

/* ---- the KVM test guests ----
 *
 * Why a guest at all: on this project's machines /dev/kvm opens, KVM_GET_API_VERSION is
 * 12 and KVM_CREATE_VM works, yet the module behind it is kvm_pvm, which runs PVM-aware
 * guest kernels only; a stock kernel hangs after SeaBIOS. On such a machine a real-mode
 * guest (out, hlt) runs fine under kvm_pvm (its instruction emulator handles real mode),
 * and so does a 64-bit long-mode guest doing out and hlt, at low and at kernel-half
 * addresses. What fails is the first exception delivered through the guest's IDT: an
 * int3 in a 64-bit guest ends KVM_RUN with KVM_EXIT_INTERNAL_ERROR (suberror 1,
 * emulation) and the kernel logs "kvm-pvm: INTERNAL_ERROR in batch emul". PVM delivers
 * events through its own entry point, not the IDT, and every stock kernel takes
 * exceptions and interrupts through its IDT. On VMX and SVM hardware the CPU delivers
 * the int3 itself, and the handler's out and hlt come back as KVM_EXIT_IO and
 * KVM_EXIT_HLT. So the probe runs both guests: the real-mode one shows KVM_RUN works at
 * all, the 64-bit one whether a stock kernel could. Callers may report the kvm module's
 * name beside it, but the verdict rests on what the guest did.
 *
 * The guests run in a child process with alarm(): should KVM_RUN never return (the way
 * a stock kernel hangs under kvm_pvm), the child dies of SIGALRM and the caller goes on;
 * the parent also kills it after PROBE_WAIT_MS. */

#define PROBE_ALARM_S 2
#define PROBE_WAIT_MS 5000
#define GUEST_MEM (2u << 20)

/* The guests' layout in their memory: code, the 64-bit guest's int3 handler, its page
 * tables (PML4, PDPT, PD), IDT and GDT. */
#define GUEST_CODE 0x1000
#define GUEST_HANDLER 0x1100
#define GUEST_PML4 0x2000
#define GUEST_PDPT 0x3000
#define GUEST_PD 0x4000
#define GUEST_IDT 0x5000
#define GUEST_GDT 0x6000

/* One VM with one vCPU and its memory. */
struct probe_vm {
    uint8_t *mem;
    int vm;
    int vcpu;
    struct kvm_run *run;
    long run_size;
};

static const char *exit_reason_name(uint32_t r)
{
    switch (r) {
    case KVM_EXIT_UNKNOWN: return "KVM_EXIT_UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "KVM_EXIT_EXCEPTION";
    case KVM_EXIT_IO: return "KVM_EXIT_IO";
    case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
    case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
    case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN (triple fault)";
    case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
    case KVM_EXIT_INTR: return "KVM_EXIT_INTR";
    case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
    }
    return "another exit";
}

/* Says in msg why the vCPU stopped somewhere other than the expected halt. */
static void explain_exit(const struct kvm_run *run, int wrote, char *msg, size_t msglen)
{
    if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
        snprintf(msg, msglen, "KVM_EXIT_INTERNAL_ERROR, suberror %u%s",
                 run->internal.suberror,
                 run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation)" : "");
    else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
        snprintf(msg, msglen, "KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx",
                 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
    else
        snprintf(msg, msglen, "%s (%u)%s", exit_reason_name(run->exit_reason),
                 run->exit_reason, wrote ? " after its port write" : "");
}

/* Runs one vCPU until it halts; it must first write the byte want to port 0x3f8. */
static int run_vcpu(int vcpu, struct kvm_run *run, char want, char *msg, size_t msglen)
{
    int wrote = 0;
    for (int i = 0; i < 8; i++) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            snprintf(msg, msglen, "KVM_RUN failed: %s", strerror(errno));
            return -1;
        }
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
            run->io.port == 0x3f8 && run->io.size == 1 &&
            *((char *)run + run->io.data_offset) == want) {
            wrote = 1;
            continue;
        }
        if (run->exit_reason == KVM_EXIT_HLT && wrote)
            return 0;
        explain_exit(run, wrote, msg, msglen);
        return -1;
    }
    snprintf(msg, msglen, "no halt after 8 exits");
    return -1;
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static void vm_close(struct probe_vm *p)
{
    if (p->run != MAP_FAILED)
        munmap(p->run, (size_t)p->run_size);
    if (p->vcpu >= 0)
        close(p->vcpu);
    if (p->vm >= 0)
        close(p->vm);
    munmap(p->mem, GUEST_MEM);
}

/* Creates the VM over mem (GUEST_MEM bytes) and its vCPU. Returns 0, or -1 with *step
 * naming the call that failed (errno says why); vm_close() releases what was made,
 * mem included, either way. */
static int vm_open(int kvm, uint8_t *mem, struct probe_vm *p, const char **step)
{
    *p = (struct probe_vm){ .mem = mem, .vm = -1, .vcpu = -1, .run = MAP_FAILED };
    *step = "KVM_CREATE_VM";
    if ((p->vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0)
        return -1;
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_MEM,
        .userspace_addr = (uintptr_t)mem,
    };
    *step = "KVM_SET_USER_MEMORY_REGION";
    if (ioctl(p->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return -1;
    /* Intel without unrestricted guest runs real mode through vm86 and needs this TSS;
     * elsewhere it is harmless. Just below 4 GiB, clear of the guest's memory. */
    (void)ioctl(p->vm, KVM_SET_TSS_ADDR, 0xfffbd000UL);
    *step = "KVM_CREATE_VCPU";
    if ((p->vcpu = ioctl(p->vm, KVM_CREATE_VCPU, 0)) < 0)
        return -1;
    *step = "KVM_GET_VCPU_MMAP_SIZE";
    if ((p->run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) <= 0)
        return -1;
    *step = "mmap of the vCPU";
    p->run = mmap(NULL, (size_t)p->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->vcpu, 0);
    return p->run == MAP_FAILED ? -1 : 0;
}

/* The real-mode guest: mov dx, 0x3f8; mov al, 'R'; out dx, al; hlt. */
static void load_real_mode(uint8_t *mem, struct kvm_sregs *s)
{
    static const uint8_t code[] = { 0xba, 0xf8, 0x03, 0xb0, 'R', 0xee, 0xf4 };
    memcpy(mem + GUEST_CODE, code, sizeof(code));
    s->cs.base = 0;
    s->cs.selector = 0;
}

/* The 64-bit guest's memory: int3 then hlt at GUEST_CODE; the int3 handler (mov edx,
 * 0x3f8; mov al, 'I'; out dx, al; hlt); page tables identity-mapping the first 2 MiB
 * (one large page); an IDT whose vector 3 is that handler; a GDT. */
static void write_long_mode_memory(uint8_t *mem)
{
    static const uint8_t handler[] = { 0xba, 0xf8, 0x03, 0, 0, 0xb0, 'I', 0xee, 0xf4 };
    mem[GUEST_CODE] = 0xcc;
    mem[GUEST_CODE + 1] = 0xf4;
    memcpy(mem + GUEST_HANDLER, handler, sizeof(handler));
    put64(mem + GUEST_PML4, GUEST_PDPT | 3); /* PML4[0] -> PDPT, present, writable */
    put64(mem + GUEST_PDPT, GUEST_PD | 3);   /* PDPT[0] -> PD */
    put64(mem + GUEST_PD, 0x83);             /* PD[0]: 2 MiB page at 0 */
    /* IDT vector 3: 64-bit interrupt gate to GUEST_HANDLER, selector 8, present, DPL 0. */
    uint8_t *gate = mem + GUEST_IDT + 16 * 3;
    gate[0] = GUEST_HANDLER & 0xff;
    gate[1] = GUEST_HANDLER >> 8;
    gate[2] = 8;
    gate[5] = 0x8e;
    /* GDT: null, 64-bit code (selector 8), data (0x10): the CPU reads CS's descriptor
     * when it delivers the exception. */
    put64(mem + GUEST_GDT + 8, 0x00af9a000000ffffULL);
    put64(mem + GUEST_GDT + 0x10, 0x00cf92000000ffffULL);
}

/* The 64-bit guest's special registers: flat segments, paging and long mode on. */
static void long_mode_sregs(struct kvm_sregs *s)
{
    struct kvm_segment cs = {
        .base = 0, .limit = 0xffffffff, .selector = 8, .type = 11, .present = 1,
        .s = 1, .l = 1, .g = 1,
    };
    struct kvm_segment ds = {
        .base = 0, .limit = 0xffffffff, .selector = 0x10, .type = 3, .present = 1,
        .s = 1, .db = 1, .g = 1,
    };
    s->cs = cs;
    s->ds = s->es = s->fs = s->gs = s->ss = ds;
    s->gdt.base = GUEST_GDT;
    s->gdt.limit = 0x17;
    s->idt.base = GUEST_IDT;
    s->idt.limit = 0xfff;
    s->cr3 = GUEST_PML4;
    s->cr4 = 0x20;       /* PAE */
    s->cr0 = 0x80050033; /* PE MP ET NE WP AM PG */
    s->efer = 0x500;     /* LME LMA */
}

/* KVM refuses EFER.LME unless the guest's CPUID says long mode: gives the vCPU what KVM
 * supports. Returns 0, or -1 with *step set (errno says why). */
static int set_supported_cpuid(int kvm, int vcpu, const char **step)
{
    _cleanup_free_ struct kvm_cpuid2 *cpuid = NULL;
    for (unsigned n = 64;; n *= 2) {
        free(cpuid);
        cpuid = mr_xcalloc(1, sizeof(*cpuid) + n * sizeof(cpuid->entries[0]));
        cpuid->nent = n;
        if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) == 0)
            break;
        *step = "KVM_GET_SUPPORTED_CPUID";
        if (errno != E2BIG || n >= 4096)
            return -1;
    }
    *step = "KVM_SET_CPUID2";
    return ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0 ? -1 : 0;
}

/* Loads one guest into p and sets its vCPU's registers; long_mode selects the 64-bit
 * guest. Returns 0, or -1 with *step set (errno says why). */
static int load_guest(int kvm, struct probe_vm *p, int long_mode, const char **step)
{
    struct kvm_sregs s;
    *step = "KVM_GET_SREGS";
    if (ioctl(p->vcpu, KVM_GET_SREGS, &s) < 0)
        return -1;
    if (!long_mode) {
        load_real_mode(p->mem, &s);
    } else {
        write_long_mode_memory(p->mem);
        long_mode_sregs(&s);
        if (set_supported_cpuid(kvm, p->vcpu, step) < 0)
            return -1;
    }
    *step = "KVM_SET_SREGS";
    if (ioctl(p->vcpu, KVM_SET_SREGS, &s) < 0)
        return -1;
    struct kvm_regs regs = { .rip = GUEST_CODE, .rsp = 0x8000, .rflags = 0x2 };
    *step = "KVM_SET_REGS";
    return ioctl(p->vcpu, KVM_SET_REGS, &regs) < 0 ? -1 : 0;
}

/* One VM with one vCPU; long_mode selects the 64-bit guest. Returns 0, -1 when the
 * guest misbehaved, -2 when setting it up failed. */
static int probe_guest(int kvm, int long_mode, char *msg, size_t msglen)
{
    uint8_t *mem = mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        snprintf(msg, msglen, "mmap: %s", strerror(errno));
        return -2;
    }
    struct probe_vm p;
    const char *step;
    int ret;
    if (vm_open(kvm, mem, &p, &step) < 0 || load_guest(kvm, &p, long_mode, &step) < 0) {
        snprintf(msg, msglen, "%s failed: %s", step, strerror(errno));
        ret = -2;
    } else {
        ret = run_vcpu(p.vcpu, p.run, long_mode ? 'I' : 'R', msg, msglen);
    }
    vm_close(&p);
    return ret;
}

/* In the child: both guests; the exit code says which failed, the pipe why. */
static void __attribute__((noreturn)) probe_child(int kvm, int out)
{
    char msg[256] = "";
    int code = MR_HOSTPROBE_KVM_PROBE_OK;
    alarm(PROBE_ALARM_S);
    int r = probe_guest(kvm, 0, msg, sizeof(msg));
    if (r == -2)
        code = MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED;
    else if (r < 0)
        code = MR_HOSTPROBE_KVM_PROBE_REAL_FAILED;
    else if ((r = probe_guest(kvm, 1, msg, sizeof(msg))) == -2)
        code = MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED;
    else if (r < 0)
        code = MR_HOSTPROBE_KVM_PROBE_LONG_FAILED;
    ssize_t w = write(out, msg, strlen(msg));
    (void)w;
    _exit(code);
}

/* Waits for the probe's child up to PROBE_WAIT_MS, then kills it; its status. */
static int reap_child(pid_t pid)
{
    int status = 0, done = 0;
    for (int64_t end = mr_now_ms() + PROBE_WAIT_MS; mr_now_ms() < end;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR)) {
            done = w == pid;
            break;
        }
        mr_sleep_ms(20);
    }
    if (!done) {
        /* The alarm should have ended it; a child stuck in the kernel gets SIGKILL. */
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    return status;
}

enum mr_hostprobe_kvm_probe mr_hostprobe_kvm_probe(int kvm, char *msg, size_t msglen)
{
    int pfd[2];
    msg[0] = '\0';
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(msg, msglen, "pipe: %s", strerror(errno));
        return MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, msglen, "fork: %s", strerror(errno));
        close(pfd[0]);
        close(pfd[1]);
        return MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED;
    }
    if (pid == 0) {
        close(pfd[0]);
        signal(SIGALRM, SIG_DFL);
        probe_child(kvm, pfd[1]);
    }
    close(pfd[1]);
    int status = reap_child(pid);
    ssize_t n = read(pfd[0], msg, msglen - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(pfd[0]);
    if (WIFEXITED(status) && WEXITSTATUS(status) <= MR_HOSTPROBE_KVM_PROBE_TIMEOUT)
        return (enum mr_hostprobe_kvm_probe)WEXITSTATUS(status);
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGALRM && WTERMSIG(status) != SIGKILL) {
        snprintf(msg, msglen, "the test process died of signal %d", WTERMSIG(status));
        return MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED;
    }
    snprintf(msg, msglen, "KVM_RUN did not return within %d s", PROBE_ALARM_S);
    return MR_HOSTPROBE_KVM_PROBE_TIMEOUT;
}

int mr_hostprobe_kvm_runs_guests(char *why, size_t len)
{
    int kvm = open(MR_HOSTPROBE_KVM_DEV, O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        snprintf(why, len, "%s: %s", MR_HOSTPROBE_KVM_DEV, strerror(errno));
        return 0;
    }
    enum mr_hostprobe_kvm_probe r = mr_hostprobe_kvm_probe(kvm, why, len);
    close(kvm);
    if (r == MR_HOSTPROBE_KVM_PROBE_OK)
        snprintf(why, len, "KVM ran the test guests");
    return r == MR_HOSTPROBE_KVM_PROBE_OK;
}
