/* Unit tests of a run's host queries (host.h) on libvirt's test driver. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest.h"
#include "host.h"

static virConnectPtr test_conn(void)
{
    struct mr_err e = { 0 };
    virConnectPtr c = mr_guest_connect("test:///default", &e);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* The test driver's node: its CPUs, memory, and its one running guest's vCPUs. */
START_TEST(test_host_measures_test_driver)
{
    virConnectPtr c = test_conn();
    virNodeInfo info;
    ck_assert_int_eq(virNodeGetInfo(c, &info), 0);
    virDomainPtr d = virDomainLookupByName(c, "test");
    ck_assert_ptr_nonnull(d);
    virDomainInfo di;
    ck_assert_int_eq(virDomainGetInfo(d, &di), 0);
    struct mr_host_size size;
    mr_host_measure(c, &size);
    ck_assert_uint_eq(size.cpus, info.cpus);
    ck_assert_int_eq(size.other_vcpus, di.nrVirtCpu);
    /* The test driver has no node memory stats: the host's total stands in. */
    ck_assert_int_eq(size.avail_mib, (long)(info.memory >> 10));
    char *name = mr_host_name(c);
    ck_assert_ptr_nonnull(name);
    ck_assert_uint_gt(strlen(name), 0);
    free(name);
    ck_assert(mr_host_guest_cpu_seconds(d) >= 0);
    ck_assert(mr_host_guest_cpu_seconds(NULL) < 0);
    virDomainFree(d);
    mr_host_close(c, NULL);
}
END_TEST

START_TEST(test_host_pins_a_vcpu)
{
    virConnectPtr c = test_conn();
    virDomainPtr d = virDomainLookupByName(c, "test");
    ck_assert_ptr_nonnull(d);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_host_pin_vcpu(d, 0, 1, &e), 0);
    unsigned char map[8] = { 0 };
    ck_assert_int_ge(virDomainGetVcpuPinInfo(d, 1, map, sizeof(map), 0), 1);
    ck_assert_uint_eq(map[0], 0x02);
    ck_assert_int_eq(mr_host_pin_vcpu(d, 0, 5000, &e), -EINVAL);
    mr_err_release(&e);
    ck_assert_int_eq(mr_host_pin_vcpu(NULL, 0, 0, &e), -EINVAL);
    ck_assert_str_eq(mr_err_msg(&e), "no domain");
    mr_err_release(&e);
    /* A vCPU the guest does not have: libvirt's reason. */
    ck_assert_int_eq(mr_host_pin_vcpu(d, 99, 0, &e), -EIO);
    ck_assert_uint_gt(strlen(mr_err_msg(&e)), 0);
    mr_err_release(&e);
    virDomainFree(d);
    mr_host_close(c, NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("host");
    TCase *tc = tcase_create("test driver");
    tcase_add_test(tc, test_host_measures_test_driver);
    tcase_add_test(tc, test_host_pins_a_vcpu);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
