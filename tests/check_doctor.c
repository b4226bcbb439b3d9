/* Unit tests of doctor: the capabilities parsers on fixtures (tests/data/doctor/), the
 * kvm module lookup on fixture /sys/module trees, and a whole check against libvirt's
 * test driver. The host facts it rests on are tested in check_hostprobe.c. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctorpriv.h"

#define DATA MR_TEST_DATA "/doctor/"

static char *fixture(const char *name)
{
    char *path = mr_xasprintf(DATA "%s", name), *text = NULL;
    size_t len;
    ck_assert_msg(mr_file_read(path, &text, &len) == 0, "cannot read %s", path);
    free(path);
    return text;
}

START_TEST(test_doctor_caps_of_qemu_list_qemu_and_kvm)
{
    char *xml = fixture("caps-qemu.xml");
    struct mr_doctor_caps c;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_doctor_caps_parse(xml, "x86_64", &c, &e), 0);
    ck_assert_uint_eq(c.n_types, 2);
    ck_assert_str_eq(c.types[0], "qemu");
    ck_assert_str_eq(c.types[1], "kvm");
    ck_assert(mr_doctor_caps_has(&c, "kvm"));
    ck_assert(!mr_doctor_caps_has(&c, "test"));
    ck_assert_str_eq(c.emulator, "/usr/bin/qemu-system-x86_64");
    ck_assert_str_eq(c.all, "i686: qemu, kvm; x86_64: qemu, kvm");
    mr_doctor_caps_release(&c);
    free(xml);
}
END_TEST

START_TEST(test_doctor_caps_of_test_driver_have_no_x86_64)
{
    char *xml = fixture("caps-test.xml");
    struct mr_doctor_caps c;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_doctor_caps_parse(xml, "x86_64", &c, &e), 0);
    ck_assert_uint_eq(c.n_types, 0);
    ck_assert_ptr_null(c.emulator);
    /* i686 comes twice (hvm and xen guests): listed once, its type once. */
    ck_assert_str_eq(c.all, "i686: test");
    mr_doctor_caps_release(&c);
    ck_assert_int_eq(mr_doctor_caps_parse(xml, "i686", &c, &e), 0);
    ck_assert_uint_eq(c.n_types, 1);
    ck_assert_str_eq(c.emulator, "/usr/bin/test-hv");
    mr_doctor_caps_release(&c);
    free(xml);
}
END_TEST

START_TEST(test_doctor_caps_refuses_other_xml)
{
    char *xml = fixture("not-caps.xml");
    struct mr_doctor_caps c = { 0 };
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_doctor_caps_parse(xml, "x86_64", &c, &e), -EINVAL);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "<capabilities>"));
    mr_err_release(&e);
    ck_assert_int_eq(mr_doctor_caps_parse("<capabilities", "x86_64", &c, &e), -EINVAL);
    mr_err_release(&e);
    free(xml);
}
END_TEST

START_TEST(test_doctor_domcaps_domain)
{
    char *xml = fixture("domcaps-kvm.xml");
    char *dom = mr_doctor_domcaps_domain(xml);
    ck_assert_str_eq(dom, "kvm");
    free(dom);
    free(xml);
    xml = fixture("not-caps.xml");
    ck_assert_ptr_null(mr_doctor_domcaps_domain(xml));
    free(xml);
    ck_assert_ptr_null(mr_doctor_domcaps_domain("not xml"));
}
END_TEST

START_TEST(test_doctor_kvm_module_prefers_hardware_modules)
{
    ck_assert_str_eq(mr_doctor_kvm_module(DATA "sys-intel"), "kvm_intel");
    ck_assert_str_eq(mr_doctor_kvm_module(DATA "sys-amd"), "kvm_amd");
    ck_assert_str_eq(mr_doctor_kvm_module(DATA "sys-pvm"), "kvm_pvm");
    ck_assert_ptr_null(mr_doctor_kvm_module(DATA "nonexistent"));
    ck_assert_ptr_null(mr_doctor_kvm_module(DATA));
}
END_TEST

START_TEST(test_doctor_verdict_texts)
{
    struct mr_doctor d = { .verdict = MR_DOCTOR_VERDICT_KVM, .nested = "no" };
    char *t = mr_doctor_verdict_text(&d);
    ck_assert_str_eq(t, "kvm (nested guests: no)");
    free(t);
    d.verdict = MR_DOCTOR_VERDICT_TCG;
    t = mr_doctor_verdict_text(&d);
    ck_assert_str_eq(t, "tcg only (software emulation, about 10x slower)");
    free(t);
    d.verdict = MR_DOCTOR_VERDICT_NONE;
    t = mr_doctor_verdict_text(&d);
    ck_assert_str_eq(t, "guests cannot run");
    free(t);
    ck_assert_str_eq(mr_doctor_level_name(MR_DOCTOR_LEVEL_OK), "ok");
    ck_assert_str_eq(mr_doctor_level_name(MR_DOCTOR_LEVEL_WARN), "warn");
    ck_assert_str_eq(mr_doctor_level_name(MR_DOCTOR_LEVEL_FAIL), "FAIL");
}
END_TEST

/* The whole check against libvirt's test driver: it answers but offers no x86_64 qemu or
 * kvm domains, so guests cannot run; every warn and FAIL carries a fix. */
START_TEST(test_doctor_against_test_driver)
{
    struct mr_doctor *d = mr_doctor_new("test:///default");
    ck_assert_int_eq(d->verdict, MR_DOCTOR_VERDICT_NONE);
    int libvirt_ok = 0, types_fail = 0;
    for (size_t i = 0; i < d->n_checks; i++) {
        const struct mr_doctor_check *c = &d->checks[i];
        ck_assert_msg((c->level == MR_DOCTOR_LEVEL_OK) == (c->fix == NULL),
                      "%s: fix iff not ok", c->name);
        if (strcmp(c->name, "libvirt") == 0 && c->level == MR_DOCTOR_LEVEL_OK &&
            strstr(c->finding, "offers i686: test"))
            libvirt_ok = 1;
        if (strcmp(c->name, "domain types") == 0 && c->level == MR_DOCTOR_LEVEL_FAIL)
            types_fail = 1;
    }
    ck_assert(libvirt_ok);
    ck_assert(types_fail);
    mr_doctor_free(d);
    mr_doctor_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("doctor");
    TCase *tp = tcase_create("parsers");
    tcase_add_test(tp, test_doctor_caps_of_qemu_list_qemu_and_kvm);
    tcase_add_test(tp, test_doctor_caps_of_test_driver_have_no_x86_64);
    tcase_add_test(tp, test_doctor_caps_refuses_other_xml);
    tcase_add_test(tp, test_doctor_domcaps_domain);
    tcase_add_test(tp, test_doctor_kvm_module_prefers_hardware_modules);
    tcase_add_test(tp, test_doctor_verdict_texts);
    suite_add_tcase(s, tp);
    TCase *th = tcase_create("host");
    tcase_add_test(th, test_doctor_against_test_driver);
    tcase_set_timeout(th, 30);
    suite_add_tcase(s, th);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
