/* check_init.c: `matrixrun init`: what file names say about images and packages, and a
 * starter matrix that the matrix loader accepts as written. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "init.h"
#include "matrix.h"

START_TEST(test_init_guesses_family_and_version)
{
    static const struct {
        const char *file, *family, *version;
    } cases[] = {
        { "debian-12-genericcloud-amd64.qcow2", "debian", "12" },
        { "/srv/img/debian-11-generic-amd64-20240201-1643.qcow2", "debian", "11" },
        { "bookworm.qcow2", "debian", "12" },
        { "jammy-server-cloudimg-amd64.img", "ubuntu", "22.04" },
        { "ubuntu-16.04-server-cloudimg-amd64-disk1.img", "ubuntu", "16.04" },
        { "CentOS-7-x86_64-GenericCloud-2211.qcow2", "centos", "7" },
        { "CentOS-6.5-x86_64.qcow2", "centos", "6.5" },
        { "rhel-9.4-x86_64-kvm.qcow2", "rhel", "9.4" },
        { "rhel-server-5.11-x86_64.qcow2", "rhel", "5.11" },
        { "SLES15-SP5-Minimal-VM.x86_64-Cloud-GM.qcow2", "sles", "15-SP5" },
        { "sles-12-sp3.qcow2", "sles", "12-SP3" },
        { "Windows-Server-2019-Datacenter.qcow2", "windows", "2019" },
        { "win2008r2.qcow2", "windows", "2008-R2" },
        { "debian-genericcloud-amd64.qcow2", "debian", NULL }, /* no release: not amd64's 64 */
        { "debian-genericcloud-20240201.qcow2", "debian", NULL }, /* a date is no release */
        { "minimal.qcow2", NULL, NULL },
        { "darwin-13.qcow2", NULL, NULL }, /* "win" inside a word is not windows */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *family, *version;
        mr_init_guess(cases[i].file, &family, &version);
        ck_assert_msg((family == NULL) == (cases[i].family == NULL) &&
                          (!family || strcmp(family, cases[i].family) == 0),
                      "%s: family %s, want %s", cases[i].file, family, cases[i].family);
        ck_assert_msg((version == NULL) == (cases[i].version == NULL) &&
                          (!version || strcmp(version, cases[i].version) == 0),
                      "%s: version %s, want %s", cases[i].file, version, cases[i].version);
        free(family);
        free(version);
    }
}
END_TEST

START_TEST(test_init_reads_package_file_names)
{
    static const struct {
        const char *file, *name, *version, *format;
    } cases[] = {
        { "mr-demo_1.0_all.deb", "mr-demo", "1.0", "deb" },
        { "dist/libfoo-utils_2.3.1-4_amd64.deb", "libfoo-utils", "2.3.1-4", "deb" },
        { "mr-demo-1.0-1.noarch.rpm", "mr-demo", "1.0-1", "rpm" },
        { "python3-foo-bar-2.0-3.el9.x86_64.rpm", "python3-foo-bar", "2.0-3.el9", "rpm" },
        { "Agent-4.2.1.msi", "Agent", "4.2.1", "msi" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *name, *version;
        const char *format;
        ck_assert_int_eq(mr_init_package(cases[i].file, &name, &version, &format), 0);
        ck_assert_str_eq(name, cases[i].name);
        ck_assert_str_eq(version, cases[i].version);
        ck_assert_str_eq(format, cases[i].format);
        free(name);
        free(version);
    }
    static const char *const bad[] = { "foo.deb", "foo_1.0.deb", "foo.rpm", "foo-1.rpm",
                                       "foo.msi", "foo.tar.gz" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *name, *version;
        const char *format;
        ck_assert_msg(mr_init_package(bad[i], &name, &version, &format) == -EINVAL, "%s", bad[i]);
    }
}
END_TEST

static char dir[64];

static char *touch(const char *rel)
{
    char *p = mr_xasprintf("%s/%s", dir, rel);
    _cleanup_free_ char *d = mr_path_dirname(p);
    ck_assert_int_eq(mr_mkdir_p(d, 0755), 0);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fputs("x", f);
    fclose(f);
    return p;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/mr-init-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    (void)mr_rm_rf(dir);
}

/* The matrix it writes loads as written: images in other folders (paths relative to the
 * matrix's folder), a .deb for the debian and ubuntu images, an .rpm for rhel. */
START_TEST(test_init_writes_a_matrix_that_loads)
{
    char *files[] = {
        touch("images/debian-12-genericcloud-amd64.qcow2"),
        touch("images/jammy-server-cloudimg-amd64.img"),
        touch("images/rhel-9.4-x86_64-kvm.qcow2"),
        touch("images/golden.qcow2"),
        touch("dist/mr-demo_1.0_all.deb"),
        touch("dist/mr-demo-1.0-1.noarch.rpm"),
    };
    char *out = mr_xasprintf("%s/matrices/mine.xml", dir);
    char *outdir = mr_path_dirname(out);
    ck_assert_int_eq(mr_mkdir_p(outdir, 0755), 0);
    free(outdir);
    struct mr_err e = { 0 };
    char *notes = NULL;
    int r = mr_init_write(files, 6, out, &notes, &e);
    ck_assert_msg(r == 0, "%s", mr_err_msg(&e));
    ck_assert_ptr_nonnull(strstr(notes, "image 'golden': family debian (its file name does not say"));
    char *xml;
    size_t len;
    ck_assert_int_eq(mr_file_read(out, &xml, &len), 0);
    ck_assert_ptr_nonnull(strstr(xml, "path=\"../images/debian-12-genericcloud-amd64.qcow2\""));
    ck_assert_ptr_nonnull(strstr(xml, "path=\"../dist/mr-demo-1.0-1.noarch.rpm\" version=\"1.0-1\""));
    ck_assert_ptr_nonnull(strstr(xml, "CHECK: family and version guessed"));
    struct mr_matrix *m;
    r = mr_matrix_load(out, &m, &e);
    ck_assert_msg(r == 0, "%s\n%s", mr_err_msg(&e), xml);
    ck_assert_uint_eq(m->n_cells, 4);
    ck_assert_str_eq(m->pkg_name, "mr-demo");
    ck_assert_str_eq(m->pkg_version, "1.0");
    mr_matrix_free(m);
    /* A second time: the file exists and is left alone. */
    ck_assert_int_eq(mr_init_write(files, 6, out, &notes, &e), -EEXIST);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "exists"));
    char *again;
    ck_assert_int_eq(mr_file_read(out, &again, &len), 0);
    ck_assert_str_eq(xml, again);
    free(again);
    free(xml);
    free(notes);
    free(out);
    mr_err_release(&e);
    for (size_t i = 0; i < 6; i++)
        free(files[i]);
}
END_TEST

START_TEST(test_init_refuses_what_it_cannot_complete)
{
    char *img = touch("rhel-9.qcow2"), *deb = touch("mr-demo_1.0_all.deb");
    char *other = touch("notes.txt"), *deb2 = touch("other_2.0_all.deb");
    struct mr_err e = { 0 };
    char *notes = NULL;
    char *out = mr_xasprintf("%s/m.xml", dir);
    char *no_rpm[] = { img, deb };
    ck_assert_int_eq(mr_init_write(no_rpm, 2, out, &notes, &e), -EINVAL);
    ck_assert_msg(strstr(mr_err_msg(&e), "looks like rhel, whose packages are .rpm"), "%s", mr_err_msg(&e));
    char *unknown[] = { deb, other };
    ck_assert_int_eq(mr_init_write(unknown, 2, out, &notes, &e), -EINVAL);
    ck_assert_msg(strstr(mr_err_msg(&e), "notes.txt: neither an image"), "%s", mr_err_msg(&e));
    char *two[] = { deb, deb2 };
    ck_assert_int_eq(mr_init_write(two, 2, out, &notes, &e), -EINVAL);
    ck_assert_msg(strstr(mr_err_msg(&e), "a second .deb package"), "%s", mr_err_msg(&e));
    char *no_img[] = { deb };
    ck_assert_int_eq(mr_init_write(no_img, 1, out, &notes, &e), -EINVAL);
    ck_assert_int_ne(access(out, F_OK), 0); /* nothing written */
    mr_err_release(&e);
    free(img);
    free(deb);
    free(other);
    free(deb2);
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("init");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_init_guesses_family_and_version);
    tcase_add_test(tc, test_init_reads_package_file_names);
    suite_add_tcase(s, tc);
    TCase *tw = tcase_create("write");
    tcase_add_checked_fixture(tw, setup, teardown);
    tcase_add_test(tw, test_init_writes_a_matrix_that_loads);
    tcase_add_test(tw, test_init_refuses_what_it_cannot_complete);
    suite_add_tcase(s, tw);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
