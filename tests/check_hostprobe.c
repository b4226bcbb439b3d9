/* Unit tests of hostprobe: the /proc/cpuinfo and nested-parameter parsers on fixtures
 * (tests/data/hostprobe/), the host facts against what this host says itself, and the
 * KVM test guests' failure paths on descriptors that are no /dev/kvm. */
#define _GNU_SOURCE
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "hostprobe.h"

#define DATA MR_TEST_DATA "/hostprobe/"

static const struct {
    const char *file, *vendor, *model;
    unsigned cpus, vmx, svm;
} cpuinfos[] = {
    /* This project's machine: Intel, but no vmx under kvm_pvm. */
    { "cpuinfo-pvm.txt", "GenuineIntel", "Intel(R) Xeon(R) Processor", 2, 0, 0 },
    /* A "vmx flags" line per CPU: grep -cw vmx says 4, the CPUs with vmx are 2. */
    { "cpuinfo-vmx.txt", "GenuineIntel", "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz", 2, 2, 0 },
    /* svm_lock is no svm; one CPU of two has svm. */
    { "cpuinfo-amd-half.txt", "AuthenticAMD", "AMD EPYC 7B13", 2, 0, 1 },
};

START_TEST(test_hostprobe_cpuinfo_counts_cpus_with_the_flag)
{
    char *path = mr_xasprintf(DATA "%s", cpuinfos[_i].file), *text = NULL;
    size_t len;
    ck_assert_msg(mr_file_read(path, &text, &len) == 0, "cannot read %s", path);
    free(path);
    struct mr_hostprobe_cpuinfo c;
    mr_hostprobe_cpuinfo_parse(text, &c);
    ck_assert_str_eq(c.vendor, cpuinfos[_i].vendor);
    ck_assert_str_eq(c.model, cpuinfos[_i].model);
    ck_assert_uint_eq(c.cpus, cpuinfos[_i].cpus);
    ck_assert_uint_eq(c.vmx, cpuinfos[_i].vmx);
    ck_assert_uint_eq(c.svm, cpuinfos[_i].svm);
    mr_hostprobe_cpuinfo_release(&c);
    free(text);
}
END_TEST

START_TEST(test_hostprobe_cpuinfo_empty_and_odd_lines)
{
    struct mr_hostprobe_cpuinfo c;
    mr_hostprobe_cpuinfo_parse("", &c);
    ck_assert_ptr_null(c.vendor);
    ck_assert_ptr_null(c.model);
    ck_assert_uint_eq(c.cpus, 0);
    /* A key must be followed by its colon; "flagsx" is another key; vmx must stand
     * alone as a word, as grep -w takes it. */
    mr_hostprobe_cpuinfo_parse("processor: 0\nflagsx : vmx\nflags :xvmx vmx_y svm\nmodel name\n",
                            &c);
    ck_assert_uint_eq(c.cpus, 1);
    ck_assert_uint_eq(c.vmx, 0);
    ck_assert_uint_eq(c.svm, 1);
    ck_assert_ptr_null(c.model);
    mr_hostprobe_cpuinfo_release(&c);
}
END_TEST

START_TEST(test_hostprobe_nested_values)
{
    ck_assert_str_eq(mr_hostprobe_nested_parse("Y\n"), "yes");
    ck_assert_str_eq(mr_hostprobe_nested_parse("1"), "yes");
    ck_assert_str_eq(mr_hostprobe_nested_parse("N\n"), "no");
    ck_assert_str_eq(mr_hostprobe_nested_parse("0\n"), "no");
    ck_assert_str_eq(mr_hostprobe_nested_parse(NULL), "unknown");
    ck_assert_str_eq(mr_hostprobe_nested_parse(""), "unknown");
    ck_assert_str_eq(mr_hostprobe_nested_parse("Yes"), "unknown");
}
END_TEST

START_TEST(test_hostprobe_host_facts_match_the_host)
{
    struct utsname u;
    ck_assert_int_eq(uname(&u), 0);
    char buf[256];
    mr_hostprobe_kernel(buf, sizeof(buf));
    ck_assert_str_eq(buf, u.release);
    char small[3];
    mr_hostprobe_kernel(small, sizeof(small));
    ck_assert_uint_eq(strlen(small), 2);
    mr_hostprobe_kernel(small, 0);

    char *model = mr_hostprobe_cpu_model(), *text = NULL;
    size_t len;
    ck_assert_int_eq(mr_file_read("/proc/cpuinfo", &text, &len), 0);
    char *line = strstr(text, "\nmodel name");
    if (line) {
        ck_assert_ptr_nonnull(model);
        ck_assert_ptr_nonnull(strstr(line, model));
    }
    free(model);
    free(text);

    /* The nested answer follows the parameter file, whichever module has it. */
    const char *want = "unknown";
    if (mr_file_read("/sys/module/kvm_intel/parameters/nested", &text, &len) == 0 ||
        mr_file_read("/sys/module/kvm_amd/parameters/nested", &text, &len) == 0) {
        want = mr_hostprobe_nested_parse(text);
        free(text);
    }
    ck_assert_str_eq(mr_hostprobe_nested(), want);
}
END_TEST

/* A descriptor that is no /dev/kvm: the child's first ioctl fails, and the parent
 * reports a setup failure with the child's reason, read through the pipe. */
START_TEST(test_hostprobe_kvm_probe_reports_setup_failure)
{
    char msg[256];
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(mr_hostprobe_kvm_probe(fd, msg, sizeof(msg)),
                     MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED);
    ck_assert_str_eq(msg, "KVM_CREATE_VM failed: Inappropriate ioctl for device");
    close(fd);
    ck_assert_int_eq(mr_hostprobe_kvm_probe(-1, msg, sizeof(msg)),
                     MR_HOSTPROBE_KVM_PROBE_SETUP_FAILED);
    ck_assert_str_eq(msg, "KVM_CREATE_VM failed: Bad file descriptor");
}
END_TEST

/* Whatever this host's KVM does, the answer and its reason agree. */
START_TEST(test_hostprobe_kvm_runs_guests_says_why)
{
    char why[256] = "";
    int r = mr_hostprobe_kvm_runs_guests(why, sizeof(why));
    ck_assert(r == 0 || r == 1);
    ck_assert_int_eq(r, strcmp(why, "KVM ran the test guests") == 0);
    ck_assert_uint_gt(strlen(why), 0);
    if (access(MR_HOSTPROBE_KVM_DEV, R_OK | W_OK) != 0)
        ck_assert_ptr_nonnull(strstr(why, MR_HOSTPROBE_KVM_DEV ": "));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hostprobe");
    TCase *tp = tcase_create("parsers");
    tcase_add_loop_test(tp, test_hostprobe_cpuinfo_counts_cpus_with_the_flag, 0,
                        (int)(sizeof(cpuinfos) / sizeof(cpuinfos[0])));
    tcase_add_test(tp, test_hostprobe_cpuinfo_empty_and_odd_lines);
    tcase_add_test(tp, test_hostprobe_nested_values);
    suite_add_tcase(s, tp);
    TCase *th = tcase_create("host");
    tcase_add_test(th, test_hostprobe_host_facts_match_the_host);
    tcase_add_test(th, test_hostprobe_kvm_probe_reports_setup_failure);
    tcase_add_test(th, test_hostprobe_kvm_runs_guests_says_why);
    tcase_set_timeout(th, 30);
    suite_add_tcase(s, th);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
