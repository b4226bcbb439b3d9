/* Unit tests of the NoCloud seed: the rendered files (parsed by a real YAML parser), the
 * ISO9660 image (read back by libarchive and labelled as blkid sees it), and the
 * cloudbase-init script for Windows guests. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "seed.h"

#define PRIV "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAC3NzaC1lZDI1NTE5AAAAIA==\n-----END OPENSSH PRIVATE KEY-----\n"
#define HOSTPUB "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyHostKeyHostKeyHostKeyHostKey matrixrun-host-c"
#define USERPUB "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserKeyUserKeyUserKeyUserKeyUserKey matrixrun-run"

static struct mr_seed_spec linux_spec(void)
{
    return (struct mr_seed_spec){
        .kind = MR_SEED_CLOUD_INIT, .instance_id = "mr-run-c1", .hostname = "c1",
        .user = "debian", .user_pubkey = USERPUB, .host_privkey = PRIV, .host_pubkey = HOSTPUB,
        .mac = "52:54:00:ab:cd:ef",
    };
}

/* Runs python3's YAML parser on text and evaluates expr (a Python expression over d, the
 * parsed document) to True or False. */
static int yaml_check(const char *text, const char *expr)
{
    char path[] = "/tmp/mr-seed-yaml-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *prog = mr_xasprintf("import sys, yaml\nd = yaml.safe_load(open(sys.argv[1]))\n"
                              "sys.exit(0 if (%s) else 1)\n", expr);
    char *argv[] = { "/usr/bin/python3", "-c", prog, path, NULL };
    struct mr_buf out;
    mr_buf_init(&out);
    int r = mr_spawn(argv, &out);
    if (r != 0)
        fprintf(stderr, "yaml check '%s' failed (%d): %s\n", expr, r, out.data ? out.data : "");
    mr_buf_release(&out);
    free(prog);
    unlink(path);
    return r;
}

START_TEST(test_seed_cloud_init_user_data_parses_as_intended)
{
    struct mr_seed_spec spec = linux_spec();
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_eq(strncmp(f.user_data, "#cloud-config\n", 14), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['users'][0]['name'] == 'debian'"), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['users'][0]['ssh_authorized_keys'] == ['" USERPUB "']"), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['users'][0]['sudo'] == 'ALL=(ALL) NOPASSWD:ALL'"), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['ssh_keys']['ed25519_private'] == '''" PRIV "'''"), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['ssh_keys']['ed25519_public'] == '" HOSTPUB "'"), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['ssh_genkeytypes'] == [] and d['ssh_deletekeys'] is True"), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['ssh_pwauth'] is False and d['hostname'] == 'c1'"), 0);
    ck_assert_int_eq(yaml_check(f.meta_data, "d == {'instance-id': 'mr-run-c1', 'local-hostname': 'c1'}"), 0);
    ck_assert_ptr_nonnull(f.network_config);
    ck_assert_int_eq(yaml_check(f.network_config,
                                "d['version'] == 1 and d['config'][0]['mac_address'] == "
                                "'52:54:00:ab:cd:ef' and d['config'][0]['subnets'] == [{'type': 'dhcp'}]"),
                     0);
    mr_seed_files_release(&f);
}
END_TEST

START_TEST(test_seed_root_user_gets_top_level_keys)
{
    struct mr_seed_spec spec = linux_spec();
    spec.user = "root";
    spec.mac = NULL;
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['users'] == [] and d['disable_root'] is False and "
                                             "d['ssh_authorized_keys'] == ['" USERPUB "']"), 0);
    ck_assert_ptr_null(f.network_config);
    mr_seed_files_release(&f);
}
END_TEST

START_TEST(test_seed_appends_extra_cloud_config)
{
    struct mr_seed_spec spec = linux_spec();
    spec.extra_cloud_config = "#cloud-config\nwrite_files:\n  - path: /etc/x\n    content: hi\n";
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['write_files'][0]['path'] == '/etc/x' and "
                                             "d['users'][0]['name'] == 'debian'"), 0);
    /* The header line is not repeated inside the document. */
    ck_assert_ptr_null(strstr(f.user_data + 1, "#cloud-config"));
    mr_seed_files_release(&f);
}
END_TEST

START_TEST(test_seed_rejects_values_that_break_out)
{
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    struct mr_seed_spec spec = linux_spec();
    spec.user = "evil\nusers: []";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "control character"));
    spec = linux_spec();
    spec.host_pubkey = "ssh-rsa AAAA x";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    spec = linux_spec();
    spec.host_privkey = "not a key";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    spec = linux_spec();
    spec.kind = MR_SEED_CLOUDBASE_INIT;
    spec.extra_cloud_config = "a: 1\n";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    mr_err_release(&e);
    /* A quote in a value stays a quote inside the YAML string. */
    spec = linux_spec();
    spec.user = "o\"brien\\x";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_eq(yaml_check(f.user_data, "d['users'][0]['name'] == 'o\"brien\\\\x'"), 0);
    mr_seed_files_release(&f);
}
END_TEST

START_TEST(test_seed_cloudbase_init_script)
{
    struct mr_seed_spec spec = linux_spec();
    spec.kind = MR_SEED_CLOUDBASE_INIT;
    spec.user = "Administrator";
    spec.windows_password = "pw'with'quotes";
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_eq(strncmp(f.user_data, "#ps1_sysnative\n", 15), 0);
    ck_assert_ptr_null(f.network_config);
    ck_assert_int_eq(yaml_check(f.meta_data, "d['admin-username'] == 'Administrator' and "
                                             "d['public-keys'] == ['" USERPUB "'] and "
                                             "d['instance-id'] == 'mr-run-c1'"), 0);
    const char *u = f.user_data;
    ck_assert_ptr_nonnull(strstr(u, "$user = 'Administrator'"));
    ck_assert_ptr_nonnull(strstr(u, "ConvertTo-SecureString 'pw''with''quotes'"));
    ck_assert_ptr_nonnull(strstr(u, "Add-LocalGroupMember -SID 'S-1-5-32-544'"));
    /* Keys are written verbatim between here-string markers, then locked down. */
    ck_assert_ptr_nonnull(strstr(u, "$f = Join-Path $sshdir 'administrators_authorized_keys'\n"
                                    "[IO.File]::WriteAllText($f, ((@'\n" USERPUB "\n'@"));
    ck_assert_ptr_nonnull(strstr(u, "$f = Join-Path $sshdir 'ssh_host_ed25519_key'\n"
                                    "[IO.File]::WriteAllText($f, ((@'\n" PRIV "'@"));
    ck_assert_ptr_nonnull(strstr(u, "icacls.exe $f /inheritance:r /grant '*S-1-5-18:F' "
                                    "/grant '*S-1-5-32-544:F'"));
    ck_assert_ptr_nonnull(strstr(u, "Restart-Service -Name sshd"));
    ck_assert_ptr_nonnull(strstr(u, "-LocalPort 22"));
    /* Three files are locked down: the host key pair and the administrators' keys. */
    size_t n = 0;
    for (const char *p = u; (p = strstr(p, "icacls.exe")); p++)
        n++;
    ck_assert_uint_eq(n, 3);
    mr_seed_files_release(&f);
}
END_TEST

static char *read_member(struct archive *a, size_t size)
{
    char *buf = mr_xmalloc(size + 1);
    ck_assert_int_eq(archive_read_data(a, buf, size), (la_ssize_t)size);
    buf[size] = '\0';
    return buf;
}

START_TEST(test_seed_iso_reads_back_with_label_and_names)
{
    char dir[] = "/tmp/mr-seed-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *iso = mr_xasprintf("%s/seed.iso", dir);
    struct mr_seed_spec spec = linux_spec();
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_eq(mr_seed_write_iso(iso, &f, &e), 0);
    struct stat st;
    ck_assert_int_eq(stat(iso, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600); /* it holds a private key */

    struct archive *a = archive_read_new();
    archive_read_support_format_iso9660(a);
    ck_assert_int_eq(archive_read_open_filename(a, iso, 10240), ARCHIVE_OK);
    struct archive_entry *ent;
    int seen = 0;
    while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        if (archive_entry_filetype(ent) == AE_IFDIR)
            continue; /* the root folder, as the reader reports it */
        size_t size = (size_t)archive_entry_size(ent);
        char *data = read_member(a, size);
        if (strcmp(name, "user-data") == 0) {
            ck_assert_str_eq(data, f.user_data);
            seen |= 1;
        } else if (strcmp(name, "meta-data") == 0) {
            ck_assert_str_eq(data, f.meta_data);
            seen |= 2;
        } else if (strcmp(name, "network-config") == 0) {
            ck_assert_str_eq(data, f.network_config);
            seen |= 4;
        } else {
            ck_abort_msg("unexpected member '%s'", name);
        }
        free(data);
    }
    ck_assert_int_eq(seen, 7);
    archive_read_free(a);

    /* The label cloud-init looks for, as the kernel's blkid reads it. */
    char *argv[] = { "blkid", "-o", "value", "-s", "LABEL", iso, NULL };
    struct mr_buf out;
    mr_buf_init(&out);
    ck_assert_int_eq(mr_spawn(argv, &out), 0);
    ck_assert_str_eq(out.data, "cidata\n");
    mr_buf_release(&out);
    char *argv2[] = { "blkid", "-o", "value", "-s", "TYPE", iso, NULL };
    ck_assert_int_eq(mr_spawn(argv2, &out), 0);
    ck_assert_str_eq(out.data, "iso9660\n");
    mr_buf_release(&out);
    mr_seed_files_release(&f);
    unlink(iso);
    rmdir(dir);
    free(iso);
}
END_TEST

START_TEST(test_seed_iso_failure_leaves_nothing)
{
    char dir[] = "/tmp/mr-seed-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *iso = mr_xasprintf("%s/missing-folder/seed.iso", dir);
    struct mr_seed_spec spec = linux_spec();
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_lt(mr_seed_write_iso(iso, &f, &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "missing-folder"));
    ck_assert_int_eq(rmdir(dir), 0); /* empty: no temp file left */
    mr_err_release(&e);
    mr_seed_files_release(&f);
    free(iso);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seed");
    TCase *tr = tcase_create("render");
    tcase_add_test(tr, test_seed_cloud_init_user_data_parses_as_intended);
    tcase_add_test(tr, test_seed_root_user_gets_top_level_keys);
    tcase_add_test(tr, test_seed_appends_extra_cloud_config);
    tcase_add_test(tr, test_seed_rejects_values_that_break_out);
    tcase_add_test(tr, test_seed_cloudbase_init_script);
    suite_add_tcase(s, tr);
    TCase *ti = tcase_create("iso");
    tcase_add_test(ti, test_seed_iso_reads_back_with_label_and_names);
    tcase_add_test(ti, test_seed_iso_failure_leaves_nothing);
    suite_add_tcase(s, ti);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
