/* check_matrix.c: the matrix loader on valid and invalid fixtures (tests/data/matrix). */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "family.h"
#include "matrix.h"

#define DATA MR_TEST_DATA "/matrix/"

/* Loads a fixture that must load. */
static struct mr_matrix *load_ok(const char *file)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    char path[4096];
    snprintf(path, sizeof(path), DATA "%s", file);
    ck_assert_msg(mr_matrix_load(path, &m, &e) == 0, "%s", mr_err_msg(&e));
    mr_err_release(&e);
    return m;
}

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

START_TEST(test_matrix_loads_hosts_and_cell_timeout)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "hosts.xml", &m, &e), 0);
    ck_assert_uint_eq(m->n_hosts, 2);
    ck_assert_str_eq(m->hosts[0].uri, "test:///default");
    ck_assert_int_eq(m->hosts[0].accel, MR_ACCEL_TCG);
    ck_assert_str_eq(m->hosts[1].uri, "qemu+ssh://root@127.0.0.1:2222/system?keyfile=/k&no_verify=1");
    ck_assert_int_eq(m->hosts[1].accel, MR_ACCEL_KVM);
    ck_assert_str_eq(m->uri, "test:///default");
    ck_assert_uint_eq(m->cell_timeout_s, 900);
    mr_matrix_free(m);
    /* Without <host>: one, the default. */
    ck_assert_int_eq(mr_matrix_load(DATA "include-only.xml", &m, &e), 0);
    ck_assert_uint_eq(m->n_hosts, 1);
    ck_assert_str_eq(m->hosts[0].uri, m->uri);
    ck_assert_uint_eq(m->cell_timeout_s, 0);
    mr_matrix_free(m);
    mr_err_release(&e);
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
    /* libxml2's message has two lines ("...encoding !\nBytes: 0xFF ..."): one here. */
    { "bad-not-utf8.xml", 1, "Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF" },
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
    { "bad-cloud-config-quoted.xml", 4, "files/sets-keys-quoted.yaml' line 3 sets 'ssh_keys'" },
    { "bad-retries.xml", 1, "<matrix> retries='many' is not a whole number from 0 to 10" },
    { "bad-cell-timeout.xml", 2, "<matrix> cell-timeout='0' is not a whole number from 1" },
    { "bad-host-twice.xml", 4, "<host> uri 'test:///default' is listed twice (first at line 3)" },
    { "bad-os-version.xml", 2, "version='el9' does not start with" },
    { "bad-reserved-test.xml", 7, "name 'boot' is reserved" },
    { "bad-artifact-format.xml", 6, "does not end in '.rpm', the package format of family 'sles'" },
    { "bad-missing-artifact-file.xml", 6, "path='files/gone.deb': no such file (looked for '" DATA "files/gone.deb'); needed by image(s) 'a'" },
    { "bad-zero-vcpus.xml", 2, "vcpus='0' is not a whole number from 1" },
    { "bad-no-package.xml", 1, "needs at least 1 <package>" },
    { "bad-axis-name.xml", 8, "<axis> name '2FAST' is neither vcpus, memory-mib nor an environment variable name" },
    { "bad-axis-reserved.xml", 8, "<axis> name 'MATRIXRUN_CELL' is reserved" },
    { "bad-axis-image.xml", 8, "<axis> name 'image' is reserved" },
    { "bad-axis-value.xml", 10, "<axis> 'PROFILE' value 'fast/slow' may hold only letters, digits" },
    { "bad-axis-empty-value.xml", 10, "<axis> 'PROFILE' value '' is empty" },
    { "bad-axis-duplicate-value.xml", 11, "<axis> 'vcpus' value '02' is given twice (first at line 9)" },
    { "bad-axis-duplicate.xml", 10, "<axis> name 'PROFILE' is used twice (first at line 8)" },
    { "bad-axis-no-value.xml", 8, "<axis> 'PROFILE' needs at least 1 <value>" },
    { "bad-axis-size.xml", 8, "<axis> 'memory-mib' value '32' is not a whole number from 64 to 1048576" },
    { "bad-exclude-nothing.xml", 9, "<exclude PROFILE='slo'> matches no cell" },
    { "bad-exclude-unknown-axis.xml", 9, "<exclude> attribute 'PROFIL' names no axis (axes: PROFILE)" },
    { "bad-exclude-no-attribute.xml", 9, "<exclude> has no attribute" },
    { "bad-all-excluded.xml", 10, "every cell of the matrix is excluded" },
    { "bad-include-missing-axis.xml", 10, "<include> gives no value for axis 'CC'" },
    { "bad-include-duplicate.xml", 10, "<include> adds cell 'a.PROFILE=slow', which the matrix already has (from the <include> at line 9)" },
    { "bad-include-existing.xml", 9, "<include> adds cell 'a.vcpus=2', which the matrix already has (from its images and axes)" },
    { "bad-include-unknown-image.xml", 9, "<include> image='b' is not an <image> of the matrix" },
    { "bad-include-unknown-axis.xml", 9, "<include> attribute 'CC' names no axis (axes: PROFILE)" },
    { "bad-include-size.xml", 9, "<include> vcpus='999' is not a whole number from 1 to 512" },
    { "bad-include-value.xml", 9, "<include> PROFILE='a;b' may hold only letters" },
    { "bad-too-many-cells.xml", 111, "<axis> 'B' brings the matrix to 10100 cells" },
    { "bad-long-cell-id.xml", 9, "has an id of 210 characters; at most 200" },
    { "bad-benchmark-seconds.xml", 23, "<benchmark> seconds='0' is not a number from 0.01 to 600" },
    { "bad-benchmark-repetitions.xml", 23, "<benchmark> repetitions='1' is not a whole number from 2 to 1000" },
    { "bad-benchmark-twice.xml", 24, "<benchmark> may appear only 1 time(s) inside <matrix>" },
    { "bad-benchmark-limit.xml", 23, "<benchmark> max-overhead-pct='-5' is not a number from 0 to" },
    /* A DOCTYPE stops the parser before its declarations are read: nested entities
     * (which would expand to gigabytes), an internal entity, a default attribute the
     * schema check would not see, external entities. */
    { "bad-doctype-bomb.xml", 2, "a DOCTYPE is not allowed in a matrix" },
    { "bad-doctype-entity.xml", 2, "a DOCTYPE is not allowed in a matrix" },
    { "bad-doctype-default-attr.xml", 3, "a DOCTYPE is not allowed in a matrix" },
    { "bad-doctype-external.xml", 2, "a DOCTYPE is not allowed in a matrix" },
    /* A cell's folder would take the place of the report's own files. */
    { "bad-cell-junit.xml", 2, "cell 'junit.xml' would have its folder where the run writes its 'junit.xml'" },
    { "bad-cell-summary.xml", 2, "cell 'Summary.HTML' would have its folder where the run writes its 'summary.html'" },
    /* The Win32-OpenSSH package is for Windows seeds; it must be a zip archive. */
    { "bad-sshd-linux.xml", 4, "<sshd> path='files/OpenSSH-Win64.zip': a Win32-OpenSSH package is for Windows images (a cloudbase-init seed); family 'debian' is seeded for cloud-init" },
    { "bad-sshd-not-zip.xml", 4, "<sshd> path='files/not-a.zip' is not a zip archive" },
    { "bad-cell-tmp.xml", 2, "cell 'junit.xml.tmp.AbC123' would have its folder where the run writes its 'junit.xml'" },
};

/* Windows images: the package for versions without the OpenSSH capability, and a
 * warning (not an error: a golden image may have sshd) for such an image without one. */
START_TEST(test_matrix_windows_sshd_package_and_warning)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_matrix_load(DATA "windows.xml", &m, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_str_eq(m->images[0].sshd_package, DATA "files/OpenSSH-Win64.zip");
    ck_assert_ptr_null(m->images[1].sshd_package);
    ck_assert_uint_eq(m->n_warnings, 1);
    ck_assert_msg(strstr(m->warnings[0], DATA "windows.xml:6: <image> 'w2016' version='2016' has "
                                          "no <sshd>: family 'windows' has no OpenSSH capability"),
                  "%s", m->warnings[0]);
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_benchmark)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "good.xml", &m, &e), 0);
    ck_assert_int_eq(m->bench.enabled, 0);
    ck_assert_double_eq(m->bench.seconds, MR_DEFAULT_BENCH_SECONDS);
    ck_assert_uint_eq(m->bench.repetitions, MR_DEFAULT_BENCH_REPETITIONS);
    ck_assert(m->bench.max_overhead_pct < 0);
    mr_matrix_free(m);
    ck_assert_int_eq(mr_matrix_load(DATA "benchmark.xml", &m, &e), 0);
    ck_assert_int_eq(m->bench.enabled, 1);
    ck_assert_int_eq(m->bench.line, 23);
    ck_assert_double_eq(m->bench.seconds, 0.25);
    ck_assert_uint_eq(m->bench.repetitions, 7);
    ck_assert_uint_eq(m->bench.warmup, 2);
    ck_assert_double_eq(m->bench.max_overhead_pct, 12.5);
    ck_assert_double_eq(m->bench.max_interval_pct, 4);
    mr_matrix_free(m);
    mr_err_release(&e);
}
END_TEST

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

START_TEST(test_family_catalogue_refuses_doctype)
{
    /* The catalogue goes through the same reader as matrices. */
    struct mr_err e = { 0 };
    ck_assert_int_lt(mr_family_catalogue_load(DATA "bad-catalogue-doctype.xml", &e), 0);
    ck_assert_str_eq(mr_err_msg(&e), DATA "bad-catalogue-doctype.xml:2: a DOCTYPE is not "
                                          "allowed in a matrixrun XML file (refused before any "
                                          "entity or default attribute in it is read)");
    mr_err_release(&e);
    mr_family_catalogue_reset();
}
END_TEST

START_TEST(test_matrix_accepts_names_near_reserved_ones)
{
    /* Only the report's own names are taken: "junit" or "junit.xml-2" are cells like any. */
    struct mr_matrix *m = load_ok("near-reserved.xml");
    ck_assert_uint_eq(m->n_cells, 3);
    ck_assert_str_eq(m->cells[0].id, "junit");
    ck_assert_str_eq(m->cells[1].id, "junit.xml-2");
    ck_assert_str_eq(m->cells[2].id, "summary.htm");
    mr_matrix_free(m);
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

START_TEST(test_matrix_without_axes_has_one_cell_per_image)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "good.xml", &m, &e), 0);
    ck_assert_uint_eq(m->n_axes, 0);
    ck_assert_uint_eq(m->n_cells, 3);
    for (size_t i = 0; i < 3; i++) {
        const struct mr_cell *c = &m->cells[i];
        ck_assert_ptr_eq(c->img, &m->images[i]);
        ck_assert_str_eq(c->id, m->images[i].name);
        ck_assert_uint_eq(c->vcpus, m->images[i].vcpus);
        ck_assert_uint_eq(c->memory_mib, m->images[i].memory_mib);
        ck_assert_uint_eq(c->n_env, 0);
        ck_assert_int_eq(c->line, 0);
    }
    mr_matrix_free(m);
}
END_TEST

/* axes.xml's cells: images outer, axes in declaration order with the last fastest, the
 * <exclude>d ones gone, the <include>d ones at the end in file order. */
static const char *const axes_ids[] = {
    "deb-a.vcpus=1.PROFILE=fast.memory-mib=512.CC=gcc-12",
    "deb-a.vcpus=1.PROFILE=fast.memory-mib=1024.CC=gcc-12",
    "deb-a.vcpus=1.PROFILE=slow.memory-mib=512.CC=gcc-12",
    "deb-a.vcpus=1.PROFILE=slow.memory-mib=1024.CC=gcc-12",
    "deb-a.vcpus=4.PROFILE=fast.memory-mib=512.CC=gcc-12",
    "deb-a.vcpus=4.PROFILE=slow.memory-mib=512.CC=gcc-12",
    "rhel-9.vcpus=1.PROFILE=fast.memory-mib=512.CC=gcc-12",
    "rhel-9.vcpus=1.PROFILE=fast.memory-mib=1024.CC=gcc-12",
    "rhel-9.vcpus=4.PROFILE=fast.memory-mib=512.CC=gcc-12",
    "rhel-9.vcpus=8.PROFILE=debug.memory-mib=2048.CC=clang+lto",
    "deb-a.vcpus=4.PROFILE=fast.memory-mib=1024.CC=gcc-12",
};

static void assert_env(const struct mr_cell *c, const char *profile, const char *cc)
{
    ck_assert_uint_eq(c->n_env, 2);
    ck_assert_str_eq(c->env[0].name, "PROFILE");
    ck_assert_str_eq(c->env[0].value, profile);
    ck_assert_str_eq(c->env[1].name, "CC");
    ck_assert_str_eq(c->env[1].value, cc);
}

START_TEST(test_matrix_expands_axes)
{
    struct mr_matrix *m = load_ok("axes.xml");
    ck_assert_uint_eq(m->n_images, 2);
    ck_assert_uint_eq(m->n_axes, 4);
    ck_assert_str_eq(m->axes[0].name, "vcpus");
    ck_assert_int_eq(m->axes[0].kind, MR_AXIS_VCPUS);
    ck_assert_uint_eq(m->axes[0].n_values, 2);
    ck_assert_str_eq(m->axes[0].values[1], "4"); /* written "04" */
    ck_assert_int_eq(m->axes[0].line, 13);
    ck_assert_int_eq(m->axes[1].kind, MR_AXIS_ENV);
    ck_assert_str_eq(m->axes[1].values[1], "slow"); /* written " slow " */
    ck_assert_int_eq(m->axes[2].kind, MR_AXIS_MEMORY_MIB);
    ck_assert_uint_eq(m->n_cells, MR_ARRAY_SIZE(axes_ids));
    for (size_t i = 0; i < m->n_cells; i++)
        ck_assert_str_eq(m->cells[i].id, axes_ids[i]);

    const struct mr_cell *c = &m->cells[0];
    ck_assert_ptr_eq(c->img, &m->images[0]);
    ck_assert_uint_eq(c->vcpus, 1);        /* the axis's, not the image's 2 */
    ck_assert_uint_eq(c->memory_mib, 512); /* the axis's, not the image's 300 */
    assert_env(c, "fast", "gcc-12");
    ck_assert_int_eq(c->line, 0);

    c = &m->cells[5];
    ck_assert_uint_eq(c->vcpus, 4);
    ck_assert_uint_eq(c->memory_mib, 512);
    assert_env(c, "slow", "gcc-12");

    c = &m->cells[8];
    ck_assert_ptr_eq(c->img, &m->images[1]);
    ck_assert_uint_eq(c->vcpus, 4);

    c = &m->cells[9]; /* included, with values no axis lists */
    ck_assert_ptr_eq(c->img, &m->images[1]);
    ck_assert_uint_eq(c->vcpus, 8);
    ck_assert_uint_eq(c->memory_mib, 2048);
    assert_env(c, "debug", "clang+lto");
    ck_assert_int_eq(c->line, 21);

    c = &m->cells[10]; /* included again after an <exclude> removed it */
    ck_assert_uint_eq(c->memory_mib, 1024);
    ck_assert_int_eq(c->line, 23);
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_includes_after_excluding_all)
{
    struct mr_matrix *m = load_ok("include-only.xml");
    ck_assert_uint_eq(m->n_cells, 2);
    ck_assert_str_eq(m->cells[0].id, "a.vcpus=2.TZ=Europe-Paris");
    ck_assert_uint_eq(m->cells[0].vcpus, 2);
    ck_assert_str_eq(m->cells[1].id, "a.vcpus=1.TZ=UTC");
    ck_assert_uint_eq(m->cells[1].n_env, 1);
    ck_assert_str_eq(m->cells[1].env[0].value, "UTC");
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_loads_hundred_cells)
{
    struct mr_matrix *m = load_ok("hundred.xml");
    ck_assert_uint_eq(m->n_images, 4);
    ck_assert_uint_eq(m->n_cells, 100);
    ck_assert_str_eq(m->cells[0].id, "deb-1.SEED=01");
    ck_assert_str_eq(m->cells[24].id, "deb-1.SEED=25");
    ck_assert_str_eq(m->cells[25].id, "deb-2.SEED=01");
    ck_assert_str_eq(m->cells[99].id, "deb-4.SEED=25");
    for (size_t i = 0; i < m->n_cells; i++)
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(m->cells[i].id, m->cells[j].id);
    mr_matrix_free(m);
}
END_TEST

START_TEST(test_matrix_select_by_pattern)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "axes.xml", &m, &e), 0);
    const struct mr_cell **sel = NULL;
    size_t n = 0;

    char *deb[] = { "deb-a.*" };
    ck_assert_int_eq(mr_matrix_select(m, deb, 1, 0, 0, &sel, &n, &e), 0);
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < 6; i++)
        ck_assert_ptr_eq(sel[i], &m->cells[i]);
    ck_assert_ptr_eq(sel[6], &m->cells[10]);
    free(sel);

    /* Two patterns: the union, in the matrix's order, a cell matching both only once. */
    char *two[] = { "*.memory-mib=1024.*", "*.vcpus=1.*" };
    ck_assert_int_eq(mr_matrix_select(m, two, 2, 0, 0, &sel, &n, &e), 0);
    static const size_t want[] = { 0, 1, 2, 3, 6, 7, 10 };
    ck_assert_uint_eq(n, MR_ARRAY_SIZE(want));
    for (size_t i = 0; i < n; i++)
        ck_assert_ptr_eq(sel[i], &m->cells[want[i]]);
    free(sel);

    /* A pattern that matches nothing is a typo: an error naming it, and *ret untouched. */
    char *typo[] = { "deb-a.*", "rhel-8*" };
    sel = NULL;
    n = 42;
    ck_assert_int_eq(mr_matrix_select(m, typo, 2, 0, 0, &sel, &n, &e), -EINVAL);
    ck_assert_ptr_null(sel);
    ck_assert_uint_eq(n, 42);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "--only 'rhel-8*' matches no cell"));
    mr_err_release(&e);
    mr_matrix_free(m);
}
END_TEST

/* Shards of 1..7 over the selection: disjoint, together the selection in its order, sizes
 * within one of each other. */
static void check_shards(const struct mr_matrix *m, char **only, size_t n_only)
{
    struct mr_err e = { 0 };
    const struct mr_cell **all = NULL;
    size_t n_all = 0;
    ck_assert_int_eq(mr_matrix_select(m, only, n_only, 0, 0, &all, &n_all, &e), 0);
    ck_assert_uint_gt(n_all, 0);
    for (unsigned shards = 1; shards <= 7; shards++) {
        size_t *owner = calloc(n_all, sizeof(*owner)); /* shard number, 0 for none */
        size_t total = 0, min = SIZE_MAX, max = 0;
        for (unsigned i = 1; i <= shards; i++) {
            const struct mr_cell **sel = NULL;
            size_t n = 0;
            ck_assert_int_eq(mr_matrix_select(m, only, n_only, i, shards, &sel, &n, &e), 0);
            size_t last = 0;
            for (size_t j = 0; j < n; j++) {
                size_t k = 0;
                while (k < n_all && all[k] != sel[j])
                    k++;
                ck_assert_msg(k < n_all, "shard %u/%u holds a cell outside the selection", i,
                              shards);
                ck_assert_msg(owner[k] == 0, "cell '%s' is in shards %zu/%u and %u/%u",
                              all[k]->id, owner[k], shards, i, shards);
                ck_assert_msg(j == 0 || k > last, "shard %u/%u is out of order", i, shards);
                owner[k] = i;
                last = k;
            }
            total += n;
            min = n < min ? n : min;
            max = n > max ? n : max;
            free(sel);
        }
        ck_assert_uint_eq(total, n_all);
        ck_assert_uint_le(max - min, 1);
        free(owner);
    }
    free(all);
}

START_TEST(test_matrix_shards_partition_the_selection)
{
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_matrix_load(DATA "axes.xml", &m, &e), 0);
    check_shards(m, NULL, 0);
    char *deb[] = { "deb-a.*" };
    check_shards(m, deb, 1);
    mr_matrix_free(m);
}
END_TEST

/* ---- limits at their edges (matrices written here; README "The matrix format") ---- */

/* Writes a one-image matrix into a new scratch folder: MATRIX_ATTRS on <matrix>,
 * IMAGE_ATTRS (with the name) on <image>, the test's name, EXTRA elements at the end;
 * returns its path (file name FILE), which drop_matrix removes with its folder. Paths
 * inside are absolute, to the fixtures. */
static char *write_matrix(const char *file, const char *matrix_attrs, const char *image_attrs,
                          const char *test, const char *extra)
{
    char dir[] = "/tmp/mr-check-matrix-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *path = mr_xasprintf("%s/%s", dir, file);
    char *xml = mr_xasprintf(
        "<?xml version=\"1.0\"?>\n<matrix version=\"1\" %s>\n"
        "  <image family=\"debian\" %s>\n"
        "    <kernel path=\"" DATA "files/vmlinuz\" initrd=\"" DATA "files/initrd\"/>\n"
        "    <hostkey path=\"" DATA "files/host.pub\"/>\n  </image>\n"
        "  <package name=\"pkg\" version=\"1\">\n"
        "    <artifact family=\"debian\" path=\"" DATA "files/pkg.deb\"/>\n  </package>\n"
        "  <test name=\"%s\">true</test>\n%s\n</matrix>\n",
        matrix_attrs, image_attrs, test, extra);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_file_write_atomic(path, xml, strlen(xml), &e), 0);
    free(xml);
    return path;
}

static void drop_matrix(char *path)
{
    ck_assert_int_eq(unlink(path), 0);
    *strrchr(path, '/') = '\0';
    ck_assert_int_eq(rmdir(path), 0);
    free(path);
}

static char *hosts(unsigned n)
{
    struct mr_buf b;
    mr_buf_init(&b);
    for (unsigned i = 1; i <= n; i++)
        mr_buf_addf(&b, "  <host uri=\"test:///h%u\"/>\n", i);
    return b.data;
}

/* Each limit the README gives: the value at the limit loads, one past it is refused with
 * a message naming it. */
static const struct {
    const char *matrix_attrs, *image_attrs, *test, *extra; /* extra: "hosts:N" or XML */
    const char *needle;                                     /* NULL: must load */
} edges[] = {
    { "", "name=\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefgh\"", "t", "", NULL },
    { "", "name=\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghi\"", "t", "",
      "must be 1 to 48 characters" },
    { "", "name=\"a\"", "install", "", "<test> name 'install' is reserved" },
    { "", "name=\"a\"", "boot", "", "<test> name 'boot' is reserved" },
    { "", "name=\"a\"", "t", "hosts:16", NULL },
    { "", "name=\"a\"", "t", "hosts:17", "<host> may appear only 16 time(s)" },
    { "", "name=\"a\" memory-mib=\"64\"", "t", "", NULL },
    { "", "name=\"a\" memory-mib=\"63\"", "t", "", "memory-mib='63' is not a whole number from 64" },
    { "retries=\"10\"", "name=\"a\"", "t", "", NULL },
    { "retries=\"11\"", "name=\"a\"", "t", "", "retries='11' is not a whole number from 0 to 10" },
    { "", "name=\"a\"", "t", "<benchmark seconds=\"0.01\" repetitions=\"1000\" warmup=\"100\"/>",
      NULL },
    { "", "name=\"a\"", "t", "<benchmark seconds=\"600\" repetitions=\"2\" warmup=\"0\"/>", NULL },
    { "", "name=\"a\"", "t", "<benchmark seconds=\"600.5\"/>", "seconds='600.5' is not a number" },
    { "", "name=\"a\"", "t", "<benchmark repetitions=\"1001\"/>",
      "repetitions='1001' is not a whole number from 2 to 1000" },
    { "", "name=\"a\"", "t", "<benchmark warmup=\"101\"/>",
      "warmup='101' is not a whole number from 0 to 100" },
};

START_TEST(test_matrix_limits_at_their_edges)
{
    char *extra = strncmp(edges[_i].extra, "hosts:", 6) == 0
                      ? hosts((unsigned)atoi(edges[_i].extra + 6))
                      : strdup(edges[_i].extra);
    char *path = write_matrix("edge.xml", edges[_i].matrix_attrs, edges[_i].image_attrs,
                              edges[_i].test, extra);
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    int r = mr_matrix_load(path, &m, &e);
    if (!edges[_i].needle) {
        ck_assert_msg(r == 0, "case %d: %s", _i, mr_err_msg(&e));
        mr_matrix_free(m);
    } else {
        ck_assert_msg(r < 0, "case %d loaded; want '%s'", _i, edges[_i].needle);
        ck_assert_msg(strstr(mr_err_msg(&e), edges[_i].needle), "case %d: '%s' lacks '%s'", _i,
                      mr_err_msg(&e), edges[_i].needle);
    }
    mr_err_release(&e);
    drop_matrix(path);
    free(extra);
}
END_TEST

/* matrix/@name is optional: the report is then named after the file, less its extension. */
START_TEST(test_matrix_name_defaults_to_file_name)
{
    char *path = write_matrix("nightly-gate.xml", "", "name=\"a\"", "t", "");
    struct mr_matrix *m = NULL;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_matrix_load(path, &m, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_str_eq(m->name, "nightly-gate");
    /* Without <host>, the one host is qemu:///system with kvm. */
    ck_assert_uint_eq(m->n_hosts, 1);
    ck_assert_str_eq(m->hosts[0].uri, "qemu:///system");
    ck_assert_int_eq(m->hosts[0].accel, MR_ACCEL_KVM);
    mr_matrix_free(m);
    drop_matrix(path);
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

/* <depends>: files and folders of the family's format, installed with the artifact; the
 * image's network. Each mistake is refused with its line and value. */
static char *deps_matrix(const char *dir, const char *image_attrs, const char *artifact_body,
                         const char *extra_artifact)
{
    char *path = mr_xasprintf("%s/m.xml", dir);
    char *xml = mr_xasprintf(
        "<?xml version=\"1.0\"?>\n<matrix version=\"1\">\n"
        "  <image name=\"a\" family=\"debian\" %s>\n"
        "    <kernel path=\"" DATA "files/vmlinuz\" initrd=\"" DATA "files/initrd\"/>\n"
        "    <hostkey path=\"" DATA "files/host.pub\"/>\n  </image>\n"
        "  <package name=\"pkg\" version=\"1\">\n"
        "    <artifact family=\"debian\" path=\"pkg.deb\">%s</artifact>\n%s"
        "  </package>\n  <test name=\"t\">true</test>\n</matrix>\n",
        image_attrs, artifact_body, extra_artifact);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_file_write_atomic(path, xml, strlen(xml), &e), 0);
    free(xml);
    return path;
}

static void touch_in(const char *dir, const char *rel)
{
    char *p = mr_xasprintf("%s/%s", dir, rel);
    char *d = mr_path_dirname(p);
    ck_assert_int_eq(mr_mkdir_p(d, 0755), 0);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    free(d);
    free(p);
}

START_TEST(test_matrix_depends_and_network)
{
    char dir[] = "/tmp/mr-check-deps-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    touch_in(dir, "pkg.deb");
    touch_in(dir, "deps/z-last.deb");
    touch_in(dir, "deps/a-first.deb");
    touch_in(dir, "deps/notes.txt");
    touch_in(dir, "more/one.deb");
    touch_in(dir, "empty/notes.txt");
    touch_in(dir, "tool.msi");
    struct mr_err e = { 0 };
    struct mr_matrix *m;
    char *path = deps_matrix(dir, "network=\"outbound\"",
                             "<depends path=\"deps\"/><depends path=\"more/one.deb\"/>", "");
    ck_assert_msg(mr_matrix_load(path, &m, &e) == 0, "%s", mr_err_msg(&e));
    const struct mr_artifact *a = mr_matrix_artifact(m, "debian");
    ck_assert_uint_eq(a->n_deps, 3);
    char *want = mr_xasprintf("%s/deps/a-first.deb", dir);
    ck_assert_str_eq(a->deps[0], want); /* a folder's files in name order, absolute */
    free(want);
    ck_assert_ptr_nonnull(strstr(a->deps[1], "/deps/z-last.deb"));
    ck_assert_ptr_nonnull(strstr(a->deps[2], "/more/one.deb"));
    ck_assert_int_eq(m->images[0].network, MR_NETWORK_OUTBOUND);
    ck_assert_int_eq(m->images[0].warm, 0); /* cold unless the image says warm */
    mr_matrix_free(m);
    free(path);
    path = deps_matrix(dir, "warm=\"yes\"", "", "");
    ck_assert_msg(mr_matrix_load(path, &m, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_int_eq(m->images[0].warm, 1);
    mr_matrix_free(m);
    free(path);
    static const struct {
        const char *image_attrs, *body, *extra, *needle;
    } bad[] = {
        { "", "<depends path=\"deps/notes.txt\"/>", "",
          ":8: <depends> path='deps/notes.txt' does not end in '.deb'" },
        { "", "<depends path=\"empty\"/>", "", ":8: <depends> path='empty': the folder" },
        { "", "<depends path=\"nowhere.deb\"/>", "", ":8: <depends> path='nowhere.deb': No such file" },
        { "network=\"open\"", "", "", ":3: <image> 'a' network='open' is not isolated or outbound" },
        { "warm=\"true\"", "", "", ":3: <image> 'a' warm='true' is not yes or no" },
        { "", "", "    <artifact family=\"windows\" path=\"tool.msi\"><depends path=\"tool.msi\"/></artifact>\n",
          "family 'windows' has <depends>, but its install command installs one file" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        path = deps_matrix(dir, bad[i].image_attrs, bad[i].body, bad[i].extra);
        ck_assert_int_lt(mr_matrix_load(path, &m, &e), 0);
        ck_assert_msg(strstr(mr_err_msg(&e), bad[i].needle), "case %zu: %s", i, mr_err_msg(&e));
        free(path);
    }
    mr_err_release(&e);
    (void)mr_rm_rf(dir);
}
END_TEST

/* <login>: the key file must be its owner's alone and have its .pub; not with <hostkey>. */
START_TEST(test_matrix_login)
{
    char dir[] = "/tmp/mr-check-login-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    touch_in(dir, "pkg.deb");
    touch_in(dir, "id");
    touch_in(dir, "id.pub");
    touch_in(dir, "nopub");
    char *key = mr_xasprintf("%s/id", dir), *nopub = mr_xasprintf("%s/nopub", dir);
    ck_assert_int_eq(chmod(key, 0600), 0);
    ck_assert_int_eq(chmod(nopub, 0600), 0);
    char *path = mr_xasprintf("%s/m.xml", dir);
    struct mr_err e = { 0 };
    struct mr_matrix *m;
    const char *fmt =
        "<matrix version=\"1\">\n  <image name=\"a\" family=\"debian\" user=\"debian\">\n"
        "    <disk path=\"" DATA "files/base.qcow2\"/>\n"
        "    <login %s key=\"%s\" hostkey=\"" DATA "files/host.pub\"/>%s\n  </image>\n"
        "  <package name=\"pkg\" version=\"1\"><artifact family=\"debian\" path=\"pkg.deb\"/>"
        "</package>\n  <test name=\"t\">true</test>\n</matrix>\n";
    char *xml = mr_xasprintf(fmt, "user=\"root\"", key, "");
    ck_assert_int_eq(mr_file_write_atomic(path, xml, strlen(xml), &e), 0);
    free(xml);
    ck_assert_msg(mr_matrix_load(path, &m, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_str_eq(m->images[0].login_key, key);
    ck_assert_str_eq(m->images[0].user, "root"); /* login's user over the image's */
    ck_assert_ptr_nonnull(strstr(m->images[0].hostkey, "files/host.pub"));
    mr_matrix_free(m);
    static const struct {
        const char *user, *extra;
        int mode, nopub;
        const char *needle;
    } bad[] = {
        { "", "", 0644, 0, "can be read or written by others (mode 0644)" },
        { "", "", 0640, 0, "(mode 0640)" },
        { "", "", 0600, 1, "its public half" },
        { "", "\n    <hostkey path=\"" DATA "files/host.pub\"/>", 0600, 0,
          "<login> and <hostkey> in one <image>" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *k = bad[i].nopub ? nopub : key;
        ck_assert_int_eq(chmod(k, (mode_t)bad[i].mode), 0);
        xml = mr_xasprintf(fmt, bad[i].user, k, bad[i].extra);
        ck_assert_int_eq(mr_file_write_atomic(path, xml, strlen(xml), &e), 0);
        free(xml);
        ck_assert_int_lt(mr_matrix_load(path, &m, &e), 0);
        ck_assert_msg(strstr(mr_err_msg(&e), bad[i].needle), "case %zu: %s", i, mr_err_msg(&e));
        ck_assert_int_eq(chmod(k, 0600), 0);
    }
    mr_err_release(&e);
    free(path);
    free(key);
    free(nopub);
    (void)mr_rm_rf(dir);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("matrix");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_matrix_loads_valid_fixture);
    tcase_add_test(tc, test_matrix_depends_and_network);
    tcase_add_test(tc, test_matrix_login);
    tcase_add_test(tc, test_matrix_applies_defaults);
    tcase_add_test(tc, test_matrix_windows_sshd_package_and_warning);
    tcase_add_test(tc, test_matrix_loads_hosts_and_cell_timeout);
    tcase_add_test(tc, test_matrix_loads_seeded_image);
    tcase_add_test(tc, test_matrix_rejects_missing_file);
    tcase_add_test(tc, test_matrix_makes_paths_absolute);
    tcase_add_test(tc, test_matrix_schema_is_embedded);
    tcase_add_test(tc, test_accel_parse);
    tcase_add_test(tc, test_family_catalogue_refuses_doctype);
    tcase_add_test(tc, test_matrix_accepts_names_near_reserved_ones);
    suite_add_tcase(s, tc);
    TCase *ta = tcase_create("axes");
    tcase_add_test(ta, test_matrix_without_axes_has_one_cell_per_image);
    tcase_add_test(ta, test_matrix_expands_axes);
    tcase_add_test(ta, test_matrix_includes_after_excluding_all);
    tcase_add_test(ta, test_matrix_loads_hundred_cells);
    suite_add_tcase(s, ta);
    TCase *ts = tcase_create("select");
    tcase_add_test(ts, test_matrix_select_by_pattern);
    tcase_add_test(ts, test_matrix_shards_partition_the_selection);
    suite_add_tcase(s, ts);
    TCase *tl = tcase_create("limits");
    tcase_add_loop_test(tl, test_matrix_limits_at_their_edges, 0, (int)MR_ARRAY_SIZE(edges));
    tcase_add_test(tl, test_matrix_name_defaults_to_file_name);
    suite_add_tcase(s, tl);
    TCase *tb = tcase_create("reject");
    tcase_add_test(tc, test_matrix_benchmark);
    tcase_add_loop_test(tb, test_matrix_rejects_bad_fixture, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    suite_add_tcase(s, tb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
