/* check_guest.c: guest lifecycle on libvirt's test driver, overlays with real qemu-img. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "guest.h"

static const char test_xml[] = "<domain type='test'><name>mr-check-guest</name>"
                               "<memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>";

START_TEST(test_guest_start_and_release_on_test_driver)
{
    struct mr_err e = { 0 };
    virConnectPtr c = mr_guest_connect("test:///default", &e);
    ck_assert_ptr_nonnull(c);
    struct mr_guest g;
    mr_guest_init(&g);
    ck_assert_int_eq(g.autodestroy, 1);
    g.autodestroy = 0; /* the test driver refuses VIR_DOMAIN_START_AUTODESTROY */
    char ov[] = "/tmp/mr-ov-XXXXXX";
    int fd = mkstemp(ov);
    ck_assert_int_ge(fd, 0);
    close(fd);
    g.overlay = strdup(ov);
    ck_assert_int_eq(mr_guest_start(&g, c, test_xml, &e), 0);
    ck_assert_int_eq(mr_guest_is_running(&g), 1);
    virDomainPtr d = virDomainLookupByName(c, "mr-check-guest");
    ck_assert_ptr_nonnull(d);
    virDomainFree(d);
    mr_guest_release(&g);
    ck_assert_ptr_null(g.dom);
    ck_assert_ptr_null(virDomainLookupByName(c, "mr-check-guest"));
    ck_assert_int_ne(access(ov, F_OK), 0); /* the overlay is gone */
    mr_guest_release(&g);                  /* releasing twice is harmless */
    virConnectClose(c);
}
END_TEST

/* The path teardown takes when the guest's connection died with libvirtd: a fresh
 * connection to the same URI destroys the domain by its UUID. (test:///default shares
 * one state between the process's connections; that the path is taken when a real
 * libvirtd restarts is tests/e2e_chaos.sh's.) */
START_TEST(test_guest_destroy_by_uuid_on_a_fresh_connection)
{
    struct mr_err e = { 0 };
    virConnectPtr c = mr_guest_connect("test:///default", &e);
    ck_assert_ptr_nonnull(c);
    struct mr_guest g;
    mr_guest_init(&g);
    g.autodestroy = 0;
    ck_assert_int_eq(mr_guest_start(&g, c, test_xml, &e), 0);
    unsigned char uuid[VIR_UUID_BUFLEN];
    ck_assert_int_eq(virDomainGetUUID(g.dom, uuid), 0);
    ck_assert_int_eq(mr_guest_destroy_by_uuid("test:///default", uuid, 1, &e), 0);
    ck_assert_ptr_null(virDomainLookupByName(c, "mr-check-guest")); /* transient: gone */
    /* Gone already: nothing to do, not an error. */
    ck_assert_int_eq(mr_guest_destroy_by_uuid("test:///default", uuid, 1, &e), 0);
    mr_guest_release(&g); /* its destroy fails on a live connection: nothing more */
    /* A host that does not answer is named, after the tries asked for. */
    ck_assert_int_eq(mr_guest_destroy_by_uuid("nosuchdriver:///x", uuid, 2, &e), -EIO);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "'nosuchdriver:///x' to destroy the guest"));
    mr_err_release(&e);
    virConnectClose(c);
}
END_TEST

START_TEST(test_guest_start_reports_libvirt_error)
{
    struct mr_err e = { 0 };
    virConnectPtr c = mr_guest_connect("test:///default", &e);
    struct mr_guest g;
    mr_guest_init(&g);
    ck_assert_int_lt(mr_guest_start(&g, c, "<domain type='test'><name>x</name></domain>", &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "cannot start guest"));
    mr_guest_release(&g);
    mr_err_release(&e);
    virConnectClose(c);
}
END_TEST

START_TEST(test_guest_connect_names_bad_uri)
{
    struct mr_err e = { 0 };
    ck_assert_ptr_null(mr_guest_connect("nosuchdriver:///x", &e));
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "'nosuchdriver:///x'"));
    mr_err_release(&e);
}
END_TEST

START_TEST(test_guest_resolves_auto_accel)
{
    struct mr_err e = { 0 };
    virConnectPtr c = mr_guest_connect("test:///default", &e);
    ck_assert_int_eq(mr_guest_resolve_accel(c, MR_ACCEL_TCG), MR_ACCEL_TCG);
    ck_assert_int_eq(mr_guest_resolve_accel(c, MR_ACCEL_KVM), MR_ACCEL_KVM);
    /* The test driver offers no kvm domains, so auto falls back to tcg. */
    ck_assert_int_eq(mr_guest_resolve_accel(c, MR_ACCEL_AUTO), MR_ACCEL_TCG);
    virConnectClose(c);
}
END_TEST

START_TEST(test_guest_free_port_is_bindable)
{
    int p = mr_guest_free_port();
    ck_assert_int_gt(p, 1024);
    ck_assert_int_lt(p, 65536);
}
END_TEST

static char *sha256(const char *path)
{
    char *argv[] = { "sha256sum", (char *)path, NULL };
    struct mr_buf out;
    mr_buf_init(&out);
    ck_assert_int_eq(mr_spawn(argv, &out), 0);
    out.data[64] = '\0';
    return mr_buf_detach(&out, NULL);
}

START_TEST(test_overlay_leaves_base_untouched)
{
    char dir[] = "/tmp/mr-overlay-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char base[128], ov[128];
    snprintf(base, sizeof(base), "%s/base.qcow2", dir);
    snprintf(ov, sizeof(ov), "%s/cell.qcow2", dir);
    char *mk[] = { "qemu-img", "create", "-q", "-f", "qcow2", base, "4M", NULL };
    ck_assert_int_eq(mr_spawn(mk, NULL), 0);
    char *before = sha256(base);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_guest_overlay_create(base, ov, &e), 0);
    /* Write through the overlay the way a guest would. */
    char *io[] = { "qemu-io", "-f", "qcow2", "-c", "write -P 0xab 0 1M", ov, NULL };
    ck_assert_int_eq(mr_spawn(io, NULL), 0);
    struct mr_buf info;
    mr_buf_init(&info);
    char *qi[] = { "qemu-img", "info", ov, NULL };
    ck_assert_int_eq(mr_spawn(qi, &info), 0);
    ck_assert_ptr_nonnull(strstr(info.data, "backing file: "));
    ck_assert_ptr_nonnull(strstr(info.data, base));
    mr_buf_release(&info);
    char *after = sha256(base);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);
    /* A missing base is an error naming it, and leaves no overlay behind. */
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing.qcow2", dir);
    unlink(ov);
    ck_assert_int_lt(mr_guest_overlay_create(missing, ov, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "missing.qcow2"));
    ck_assert_int_ne(access(ov, F_OK), 0);
    mr_err_release(&e);
    ck_assert_int_eq(mr_rm_rf(dir), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("guest");
    TCase *tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_guest_start_and_release_on_test_driver);
    tcase_add_test(tc, test_guest_start_reports_libvirt_error);
    tcase_add_test(tc, test_guest_destroy_by_uuid_on_a_fresh_connection);
    tcase_add_test(tc, test_guest_connect_names_bad_uri);
    tcase_add_test(tc, test_guest_resolves_auto_accel);
    tcase_add_test(tc, test_guest_free_port_is_bindable);
    tcase_add_test(tc, test_overlay_leaves_base_untouched);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
