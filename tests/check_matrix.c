/* check_matrix.c: the matrix loader on valid and invalid fixtures (tests/data/matrix). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "family.h"
#include "matrix.h"

#define DATA MR_TEST_DATA "/matrix/"

START_TEST(test_matrix_loads_valid_fixture)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "good.xml", &m, &e), 0);
    ck_assert_str_eq(m->name, "good");
    ck_assert_str_eq(m->uri, "test:///default");
    ck_assert_int_eq(m->accel, MR_ACCEL_TCG);
    ck_assert_uint_eq(m->n_images, 3);
    const struct mr_image *a = &m->images[0];
    ck_assert_str_eq(a->name, "deb-a");
    ck_assert_str_eq(a->family, "debian");
    ck_assert_str_eq(a->user, "tester");
    ck_assert_uint_eq(a->memory_mib, 300);
    ck_assert_uint_eq(a->vcpus, 2);
    ck_assert_uint_eq(a->boot_timeout_s, 42);
    ck_assert_str_eq(a->disk, DATA "files/base.qcow2");
    ck_assert_str_eq(a->kernel, DATA "files/vmlinuz");
    ck_assert_str_eq(a->initrd, DATA "files/initrd");
    ck_assert_str_eq(a->cmdline, "console=ttyS0 root=/dev/vda");
    ck_assert_str_eq(a->hostkey, DATA "files/host.pub");
    ck_assert_int_eq(a->line, 4);
    ck_assert_str_eq(m->pkg_name, "pkg");
    ck_assert_str_eq(m->pkg_version, "1.2-3");
    ck_assert_uint_eq(m->install_timeout_s, 77);
    ck_assert_uint_eq(m->retries, MR_DEFAULT_RETRIES);
    ck_assert_ptr_nonnull(mr_matrix_artifact(m, "debian"));
    ck_assert_ptr_null(mr_matrix_artifact(m, "ubuntu"));
    ck_assert_str_eq(mr_matrix_expected_version(m, mr_matrix_artifact(m, "debian")), "1.2-3");
    ck_assert_str_eq(mr_matrix_expected_version(m, mr_matrix_artifact(m, "rhel")), "1.2-3.el9");
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_loads_seeded_image)
{
    /* An image without <hostkey> is a cloud image: seeded, booted from its disk. */
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "good.xml", &m, &e), 0);
    const struct mr_image *c = &m->images[2];
    ck_assert_str_eq(c->name, "rhel-9");
    ck_assert_str_eq(c->family, "rhel");
    ck_assert_ptr_nonnull(c->fam);
    ck_assert_str_eq(c->fam->format, "rpm");
    ck_assert_str_eq(c->os_version, "9.4");
    ck_assert_str_eq(c->user, "cloud-user");
    ck_assert_ptr_null(c->hostkey);
    ck_assert_ptr_null(c->kernel);
    ck_assert_str_eq(c->cloud_config, DATA "files/extra.yaml");
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(c->fam, c->os_version), "dnf"));
    ck_assert_uint_eq(m->n_tests, 2);
    ck_assert_str_eq(m->tests[0].command, "echo one");
    ck_assert_uint_eq(m->tests[0].timeout_s, 5);
    ck_assert_str_eq(m->tests[1].command, "echo two && true");
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_applies_defaults)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "good.xml", &m, &e), 0);
    const struct mr_image *b = &m->images[1];
    ck_assert_str_eq(b->user, "debian"); /* the catalogue's default for the family */
    ck_assert_uint_eq(b->memory_mib, MR_DEFAULT_MEMORY_MIB);
    ck_assert_uint_eq(b->vcpus, MR_DEFAULT_VCPUS);
    ck_assert_uint_eq(b->boot_timeout_s, 300); /* the family's hint */
    ck_assert_ptr_null(b->disk);
    ck_assert_uint_eq(m->tests[1].timeout_s, MR_DEFAULT_TEST_TIMEOUT_S);
    mr_matrix_free(m);
}
END_TEST

/* Each invalid fixture must fail with one message naming the file, the line and the
 * offending value. */
static const struct {
    const char *file;
    int line;
    const char *needle;
} bad[] = {
    { "bad-malformed.xml", 9, "not well-formed XML" },
    { "bad-unknown-element.xml", 6, "unknown element <imagez>" },
    { "bad-version.xml", 1, "version='2' is not supported" },
    { "bad-missing-file.xml", 3, "path='files/nope.qcow2': no such file" },
    { "bad-duplicate-image.xml", 6, "name 'a' is used twice (first at line 2)" },
    { "bad-unknown-family.xml", 2, "family 'plan9' is unknown" },
    { "bad-duplicate-test.xml", 8, "name 't' is used twice" },
    { "bad-memory.xml", 2, "memory-mib='lots' is not a whole number" },
    { "bad-accel.xml", 2, "accel='hyperv' is not one of" },
    { "bad-name.xml", 2, "name 'a b' may hold only" },
    { "bad-no-artifact.xml", 2, "family 'ubuntu' but <package> has no artifact" },
    { "bad-hostkey-without-kernel.xml", 2, "has a <hostkey> but no <kernel>" },
    { "bad-no-boot.xml", 2, "'a' has neither <disk> nor <kernel>" },
    { "bad-cloud-config-key.xml", 4, "line 3 sets 'users'" },
    { "bad-retries.xml", 1, "<matrix> retries='many' is not a whole number from 0 to 10" },
    { "bad-os-version.xml", 2, "version='el9' does not start with" },
    { "bad-reserved-test.xml", 7, "name 'boot' is reserved" },
    { "bad-artifact-format.xml", 6, "does not end in '.rpm', the package format of family 'sles'" },
    { "bad-missing-artifact-file.xml", 6, "path='files/gone.deb': no such file (looked for '" DATA "files/gone.deb'); needed by image(s) 'a'" },
    { "bad-zero-vcpus.xml", 2, "vcpus='0' is not a whole number from 1" },
    { "bad-no-package.xml", 1, "needs at least 1 <package>" },
};

START_TEST(test_matrix_rejects_bad_fixture)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    char path[4096], prefix[4200];
    snprintf(path, sizeof(path), DATA "%s", bad[_i].file);
    ck_assert_int_lt(mr_matrix_load(path, &m, &e), 0);
    ck_assert_ptr_null(m);
    const char *msg = mr_err_msg(&e);
    snprintf(prefix, sizeof(prefix), "%s:%d: ", path, bad[_i].line);
    ck_assert_msg(strncmp(msg, prefix, strlen(prefix)) == 0, "%s: got '%s', want prefix '%s'",
                  bad[_i].file, msg, prefix);
    ck_assert_msg(strstr(msg, bad[_i].needle) != NULL, "%s: '%s' lacks '%s'", bad[_i].file,
                  msg, bad[_i].needle);
    ck_assert_msg(strchr(msg, '\n') == NULL, "message is not one line: '%s'", msg);
    mr_err_release(&e);
}
END_TEST

START_TEST(test_matrix_makes_paths_absolute)
{
    /* A matrix named by a relative path still yields absolute paths: they go into qcow2
     * backing-file fields, which resolve relative to the overlay, not to us. */
    ck_assert_int_eq(chdir(MR_TEST_DATA), 0);
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load("matrix/good.xml", &m, &e), 0);
    ck_assert_str_eq(m->images[0].disk, DATA "files/base.qcow2");
    ck_assert_str_eq(m->images[0].hostkey, DATA "files/host.pub");
    ck_assert_str_eq(m->artifacts[0].path, DATA "files/pkg.deb");
    mr_matrix_free(m);
    ck_assert_int_eq(chdir(MR_TEST_DATA "/matrix"), 0);
    ck_assert_int_eq(mr_matrix_load("good.xml", &m, &e), 0);
    ck_assert_str_eq(m->images[1].kernel, DATA "files/vmlinuz");
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_rejects_missing_file)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_lt(mr_matrix_load(DATA "does-not-exist.xml", &m, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "does-not-exist.xml: cannot read matrix"));
    mr_err_release(&e);
}
END_TEST

START_TEST(test_matrix_schema_is_embedded)
{
    /* The binary validates against exactly the schema that ships in matrices/. */
    char *file = NULL;
    size_t len = 0;
    ck_assert_int_eq(mr_file_read(MR_TEST_DATA "/../../matrices/matrix.rng", &file, &len), 0);
    ck_assert_uint_eq(mr_matrix_schema_len, len);
    ck_assert_int_eq(memcmp(mr_matrix_schema, file, len), 0);
    free(file);
}
END_TEST

START_TEST(test_accel_parse)
{
    enum mr_accel a;
    ck_assert_int_eq(mr_accel_parse("kvm", &a), 0);
    ck_assert_int_eq(a, MR_ACCEL_KVM);
    ck_assert_int_eq(mr_accel_parse("tcg", &a), 0);
    ck_assert_int_eq(a, MR_ACCEL_TCG);
    ck_assert_int_eq(mr_accel_parse("auto", &a), 0);
    ck_assert_int_eq(a, MR_ACCEL_AUTO);
    ck_assert_int_lt(mr_accel_parse("KVM", &a), 0);
    ck_assert_int_lt(mr_accel_parse("", &a), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matrix");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_matrix_loads_valid_fixture);
    tcase_add_test(tc, test_matrix_applies_defaults);
    tcase_add_test(tc, test_matrix_loads_seeded_image);
    tcase_add_test(tc, test_matrix_rejects_missing_file);
    tcase_add_test(tc, test_matrix_makes_paths_absolute);
    tcase_add_test(tc, test_matrix_schema_is_embedded);
    tcase_add_test(tc, test_accel_parse);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("reject");
    tcase_add_loop_test(tb, test_matrix_rejects_bad_fixture, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
