/* check_domxml.c: the domain XML builder against a golden file and libvirt's own schema. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "domxml.h"

static struct mr_domain_spec sample(void)
{
    struct mr_domain_spec s = {
        .name = "mr-20261127-101010-abcd-cell1", .run_id = "20261127-101010-abcd",
        .cell = "cell1", .run_dir = "/var/tmp/matrixrun/20261127-101010-abcd",
        .accel = MR_ACCEL_TCG, .memory_mib = 384, .vcpus = 2,
        .disk = "/var/tmp/matrixrun/20261127-101010-abcd/cell1.qcow2",
        .kernel = "/images/vmlinuz", .initrd = "/images/initrd",
        .cmdline = "console=ttyS0 root=/dev/vda rw matrixrun.authorized_key=ssh-ed25519:AAAA",
        .serial_log = "/reports/cell1/serial.log", .ssh_port = 40022,
    };
    return s;
}

/* Validates against libvirt's domain.rng (shipped by libvirt0). */
static void assert_libvirt_valid(const char *xml)
{
    xmlRelaxNGParserCtxtPtr pc = xmlRelaxNGNewParserCtxt(MR_LIBVIRT_DOMAIN_RNG);
    xmlRelaxNGPtr rng = xmlRelaxNGParse(pc);
    ck_assert_ptr_nonnull(rng);
    xmlRelaxNGValidCtxtPtr vc = xmlRelaxNGNewValidCtxt(rng);
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(xmlRelaxNGValidateDoc(vc, doc), 0);
    xmlFreeDoc(doc);
    xmlRelaxNGFreeValidCtxt(vc);
    xmlRelaxNGFree(rng);
    xmlRelaxNGFreeParserCtxt(pc);
}

static char *xpath(const char *xml, const char *expr)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL, XML_PARSE_NONET);
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, (const xmlChar *)"mr", (const xmlChar *)MR_METADATA_NS);
    xmlXPathRegisterNs(ctx, (const xmlChar *)"q",
                       (const xmlChar *)"http://libvirt.org/schemas/domain/qemu/1.0");
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    xmlChar *s = xmlXPathCastToString(o);
    char *ret = strdup((const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return ret;
}

#define ASSERT_XPATH(xml, expr, want)                                                     \
    do {                                                                                  \
        char *_g = xpath((xml), (expr));                                                  \
        ck_assert_msg(strcmp(_g, (want)) == 0, "%s: got '%s', want '%s'", (expr), _g,      \
                      (want));                                                            \
        free(_g);                                                                         \
    } while (0)

/* Every optional part the sample leaves out: KVM, boot from the disk, the seed CD-ROM,
 * a fixed MAC, the controller, no run folder. */
static struct mr_domain_spec full(void)
{
    struct mr_domain_spec s = sample();
    s.accel = MR_ACCEL_KVM;
    s.kernel = s.initrd = s.cmdline = NULL;
    s.run_dir = NULL;
    s.controller = "build-host-7";
    s.seed_iso = "/var/tmp/matrixrun/20261127-101010-abcd/cell1-seed.iso";
    s.mac = "52:54:00:12:34:5a";
    s.memory_mib = 2048;
    s.vcpus = 4;
    s.ssh_port = 2222;
    return s;
}

/* A warm cell's guest: QEMU waits for the template's saved state (-incoming defer). */
static struct mr_domain_spec incoming(void)
{
    struct mr_domain_spec s = full();
    s.incoming = 1;
    return s;
}

static const struct {
    const char *golden;
    struct mr_domain_spec (*spec)(void);
} goldens[] = {
    { "tcg.xml", sample },
    { "kvm-disk-seed-mac.xml", full },
    { "kvm-incoming.xml", incoming },
};

START_TEST(test_domxml_matches_golden_file)
{
    struct mr_domain_spec s = goldens[_i].spec();
    struct mr_err e = { 0 };
    char *xml = mr_domxml_build(&s, &e);
    ck_assert_ptr_nonnull(xml);
    char *golden = mr_xasprintf(MR_TEST_DATA "/domxml/%s", goldens[_i].golden);
    if (getenv("MR_TEST_REGENERATE_OUTPUT")) {
        FILE *f = fopen(golden, "w");
        fputs(xml, f);
        fclose(f);
    }
    char *want;
    size_t len;
    ck_assert_int_eq(mr_file_read(golden, &want, &len), 0);
    ck_assert_str_eq(xml, want);
    free(want);
    free(golden);
    free(xml);
}
END_TEST

/* Warm start: only a guest that waits for a saved state gets -incoming, and every guest
 * has the virtio RNG fed from the host (a restored guest reseeds from it). */
START_TEST(test_domxml_incoming_and_rng)
{
    struct mr_domain_spec s = full();
    char *xml = mr_domxml_build(&s, NULL);
    ASSERT_XPATH(xml, "count(//*[local-name()='arg'][@value='-incoming'])", "0");
    ASSERT_XPATH(xml, "string(/domain/devices/rng/@model)", "virtio");
    ASSERT_XPATH(xml, "string(/domain/devices/rng/backend[@model='random'])", "/dev/urandom");
    free(xml);
    s = incoming();
    xml = mr_domxml_build(&s, NULL);
    ASSERT_XPATH(xml, "count(//*[local-name()='arg'][@value='-incoming'])", "1");
    ASSERT_XPATH(xml,
                 "string(//*[local-name()='arg'][@value='-incoming']/following-sibling::*[1]/@value)",
                 "defer");
    free(xml);
}
END_TEST

START_TEST(test_domxml_is_valid_libvirt_xml)
{
    struct mr_domain_spec s = sample();
    char *xml = mr_domxml_build(&s, NULL);
    assert_libvirt_valid(xml);
    free(xml);
    s.accel = MR_ACCEL_KVM;
    s.disk = NULL;
    xml = mr_domxml_build(&s, NULL);
    assert_libvirt_valid(xml);
    free(xml);
    s = full();
    xml = mr_domxml_build(&s, NULL);
    assert_libvirt_valid(xml);
    free(xml);
    s = incoming();
    xml = mr_domxml_build(&s, NULL);
    assert_libvirt_valid(xml);
    free(xml);
}
END_TEST

START_TEST(test_domxml_carries_run_facts)
{
    struct mr_domain_spec s = sample();
    char *xml = mr_domxml_build(&s, NULL);
    ASSERT_XPATH(xml, "string(/domain/@type)", "qemu");
    ASSERT_XPATH(xml, "string(/domain/name)", "mr-20261127-101010-abcd-cell1");
    ASSERT_XPATH(xml, "string(/domain/metadata/mr:run/@id)", "20261127-101010-abcd");
    ASSERT_XPATH(xml, "string(/domain/metadata/mr:run/@cell)", "cell1");
    ASSERT_XPATH(xml, "string(/domain/memory)", "384");
    ASSERT_XPATH(xml, "string(/domain/memory/@unit)", "MiB");
    ASSERT_XPATH(xml, "string(/domain/vcpu)", "2");
    ASSERT_XPATH(xml, "string(/domain/devices/disk/source/@file)", s.disk);
    ASSERT_XPATH(xml, "string(/domain/devices/disk/driver/@type)", "qcow2");
    ASSERT_XPATH(xml, "string(/domain/devices/serial/source/@path)", s.serial_log);
    ASSERT_XPATH(xml, "string(/domain/devices/memballoon/@model)", "none");
    ASSERT_XPATH(xml, "string(/domain/q:commandline/q:arg[2]/@value)",
                 "user,id=mrnet0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22");
    ASSERT_XPATH(xml, "count(/domain/cpu)", "0");
    free(xml);
    s.accel = MR_ACCEL_KVM;
    xml = mr_domxml_build(&s, NULL);
    ASSERT_XPATH(xml, "string(/domain/@type)", "kvm");
    ASSERT_XPATH(xml, "string(/domain/cpu/@mode)", "host-passthrough");
    free(xml);
    /* Outbound: no restrict=on (slirp NATs the guest's own connections), the same single
     * forward on 127.0.0.1. */
    s.outbound = 1;
    xml = mr_domxml_build(&s, NULL);
    ASSERT_XPATH(xml, "string(/domain/q:commandline/q:arg[2]/@value)",
                 "user,id=mrnet0,hostfwd=tcp:127.0.0.1:40022-:22");
    free(xml);
}
END_TEST

START_TEST(test_domxml_escapes_values)
{
    struct mr_domain_spec s = sample();
    s.disk = "/odd path/a&b'<c>.qcow2";
    s.cmdline = "quote=\"x\" amp=&";
    char *xml = mr_domxml_build(&s, NULL);
    ASSERT_XPATH(xml, "string(/domain/devices/disk/source/@file)", s.disk);
    ASSERT_XPATH(xml, "string(/domain/os/cmdline)", s.cmdline);
    free(xml);
}
END_TEST

START_TEST(test_domxml_rejects_incomplete_spec)
{
    struct mr_err e = { 0 };
    struct mr_domain_spec s = sample();
    s.ssh_port = 0;
    ck_assert_ptr_null(mr_domxml_build(&s, &e));
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), s.name));
    s = sample();
    s.accel = MR_ACCEL_AUTO; /* must be resolved before building */
    ck_assert_ptr_null(mr_domxml_build(&s, &e));
    s = sample();
    s.disk = NULL;
    s.kernel = NULL;
    ck_assert_ptr_null(mr_domxml_build(&s, &e));
    mr_err_release(&e);
    /* The MAC goes into a QEMU option string: only the plain form passes. */
    static const char *const bad_macs[] = { "52:54:00:12:34", "52:54:00:12:34:5g",
                                            "52-54-00-12-34-56", "52:54:00:12:34:56,x=y" };
    for (size_t i = 0; i < sizeof(bad_macs) / sizeof(bad_macs[0]); i++) {
        s = full();
        s.mac = bad_macs[i];
        ck_assert_ptr_null(mr_domxml_build(&s, &e));
        char *want = mr_xasprintf("MAC address '%s' of '%s' is not of the form "
                                  "52:54:00:12:34:56", s.mac, s.name);
        ck_assert_str_eq(mr_err_msg(&e), want);
        free(want);
        mr_err_release(&e);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("domxml");
    TCase *tc = tcase_create("build");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_domxml_matches_golden_file, 0,
                        (int)(sizeof(goldens) / sizeof(goldens[0])));
    tcase_add_test(tc, test_domxml_is_valid_libvirt_xml);
    tcase_add_test(tc, test_domxml_incoming_and_rng);
    tcase_add_test(tc, test_domxml_carries_run_facts);
    tcase_add_test(tc, test_domxml_escapes_values);
    tcase_add_test(tc, test_domxml_rejects_incomplete_spec);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
