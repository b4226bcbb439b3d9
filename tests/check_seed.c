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

#include "ps2lint.h"
#include "seed.h"

#define PRIV "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\nAAAAC3NzaC1lZDI1NTE5AAAAIA==\n-----END OPENSSH PRIVATE KEY-----\n"
#define HOSTPUB "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeyHostKeyHostKeyHostKeyHostKey matrixrun-host-c"
#define USERPUB "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserKeyUserKeyUserKeyUserKeyUserKey matrixrun-run"

/* An RSA host key, PEM as ssh-keygen -m PEM writes it, for guests whose cloud-init
 * predates 0.7.7 (CentOS 6's 0.7.5 takes rsa_private and ignores ed25519_private). */
#define RSAPRIV "-----BEGIN RSA PRIVATE KEY-----\nMIIG5AIBAAKCAYEAnotarealkey\n-----END RSA PRIVATE KEY-----\n"
#define RSAPUB "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABgQCnotarealkey matrixrun-host-c"

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
    ck_assert_int_eq(yaml_check(f.user_data, "'ssh_genkeytypes' not in d and d['ssh_deletekeys'] is True"), 0);
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

START_TEST(test_seed_rsa_host_key_goes_to_rsa_private)
{
    struct mr_seed_spec spec = linux_spec();
    spec.host_privkey = RSAPRIV;
    spec.host_pubkey = RSAPUB;
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_int_eq(yaml_check(f.user_data, "d['ssh_keys'] == {'rsa_private': '''" RSAPRIV
                                             "''', 'rsa_public': '" RSAPUB "'}"),
                     0);
    ck_assert_int_eq(yaml_check(f.user_data, "'ssh_genkeytypes' not in d and d['ssh_deletekeys'] is True"), 0);
    mr_seed_files_release(&f);
    /* Windows: sshd reads the RSA key from its own file name. */
    spec.kind = MR_SEED_CLOUDBASE_INIT;
    spec.user = "Administrator";
    spec.mac = NULL;
    spec.windows_password = "pw";
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_ptr_nonnull(strstr(f.user_data, "$f = Join-Path $sshdir 'ssh_host_rsa_key'\n"
                                              "[IO.File]::WriteAllText($f, ((@'\n" RSAPRIV "'@"));
    ck_assert_ptr_nonnull(strstr(f.user_data, "$f = Join-Path $sshdir 'ssh_host_rsa_key.pub'\n"));
    ck_assert_ptr_null(strstr(f.user_data, "ssh_host_ed25519"));
    mr_seed_files_release(&f);
    /* A type the seed cannot place is refused, not written under a wrong name. */
    spec.kind = MR_SEED_CLOUD_INIT;
    spec.host_pubkey = "ecdsa-sha2-nistp256 AAAAE2VjZHNh matrixrun-host-c";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    ck_assert_msg(strstr(mr_err_msg(&e), "must be ssh-ed25519 or ssh-rsa"), "%s", mr_err_msg(&e));
    mr_err_release(&e);
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

/* Extra cloud-config that would set what the seed sets, each spelling the YAML parser of
 * cloud-init reads as the same top-level key, or that the check cannot read: refused by
 * mr_seed_render() with the line. */
static const struct {
    const char *text;
    int line;
    const char *needle;
} hostile[] = {
    { "#cloud-config\nusers:\n  - name: x\n", 2, "sets 'users'" },
    { "#cloud-config\npackages: [a]\nusers : []\n", 3, "sets 'users'" },
    { "users\t\t:\n  - name: x\n", 1, "sets 'users'" },
    { "\"ssh_keys\":\n  rsa_private: x\n", 1, "sets 'ssh_keys'" },
    { "'ssh_keys' : {}\n", 1, "sets 'ssh_keys'" },
    { "\"us\\x65rs\": []\n", 1, "sets 'users'" },
    { "\"\\u0075sers\": []\n", 1, "sets 'users'" },
    { "&anchor users: []\n", 1, "sets 'users'" },
    { "a: 1\rusers: []\n", 2, "sets 'users'" },
    { "a: 1\r\nb: 2\r\nhostname: evil\r\n", 3, "sets 'hostname'" },
    { "a: 1\xc2\x85users: []\n", 2, "sets 'users'" },
    { "a: 1\xe2\x80\xa8" "chpasswd: {}\n", 2, "sets 'chpasswd'" },
    { "{users: []}\n", 1, "not a plain 'key: value' line" },
    { "? users\n: []\n", 1, "not a plain 'key: value' line" },
    { "!!str users: []\n", 1, "not a plain 'key: value' line" },
    { "!!merge \"x\": {chpasswd: {}}\n", 1, "not a plain 'key: value' line" },
    { "x: &k\n  password: p\n<<: *k\n", 3, "merges a mapping into the top level" },
    { "*alias : x\n", 1, "not a plain 'key: value' line" },
    { "#cloud-config\n  rsa_private: x\n", 2, "is indented: it would add to matrixrun's own last key" },
    { "---\npackages: [a]\n", 1, "YAML document marker" },
    { "- users\n", 1, "not a 'key: value' line" },
    { "echo hello\n", 1, "not a 'key: value' line" },
};

START_TEST(test_seed_refuses_extra_that_sets_seed_keys)
{
    struct mr_seed_spec spec = linux_spec();
    spec.extra_cloud_config = hostile[_i].text;
    struct mr_seed_files f = { 0 };
    struct mr_err e = { 0 };
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == -EINVAL, "case %d rendered: %s", _i,
                  f.user_data ? f.user_data : "");
    char want[64];
    snprintf(want, sizeof(want), "seed: extra cloud-config line %d: ", hostile[_i].line);
    ck_assert_msg(strncmp(mr_err_msg(&e), want, strlen(want)) == 0 &&
                      strstr(mr_err_msg(&e), hostile[_i].needle),
                  "case %d: got '%s', want '%s...%s'", _i, mr_err_msg(&e), want,
                  hostile[_i].needle);
    int line = 0;
    struct mr_err e2 = { 0 };
    ck_assert_int_eq(mr_seed_check_extra(hostile[_i].text, &line, &e2), -EINVAL);
    ck_assert_int_eq(line, hostile[_i].line);
    mr_err_release(&e2);
    mr_err_release(&e);
}
END_TEST

START_TEST(test_seed_accepts_extra_with_other_keys)
{
    /* Other top-level keys, and the seed's keys below the top level, are the user's. */
    struct mr_seed_spec spec = linux_spec();
    spec.extra_cloud_config = "#cloud-config\r\n"
                              "# users: set by matrixrun, not here\r\n"
                              "\r\n"
                              "packages: [users, hello]\r\n"
                              "'it''s': \"quoted: keys\"\r\n"
                              "user_groups : {}\r\n"
                              "write_files:\r\n"
                              "  - path: /etc/x\r\n"
                              "    content: |\r\n"
                              "      users: not a key of the document\r\n"
                              "      ssh_keys: {}\r\n"
                              "  # hostname: a comment\r\n"
                              "bootcmd:\r\n"
                              "  - {users: 1}\r\n";
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
    ck_assert_int_eq(yaml_check(f.user_data,
                                "d['users'][0]['name'] == 'debian' and "
                                "d['packages'] == ['users', 'hello'] and "
                                "d[\"it's\"] == 'quoted: keys' and d['user_groups'] == {} and "
                                "d['write_files'][0]['content'].startswith('users: not') and "
                                "d['bootcmd'] == [{'users': 1}] and "
                                "sorted(d['ssh_keys']) == ['ed25519_private', 'ed25519_public']"),
                     0);
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
    spec.host_pubkey = "ssh-rsa AAAA x"; /* with an OpenSSH-format private key */
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "not in PEM format"));
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

static struct mr_seed_spec windows_spec(unsigned powershell, enum mr_sshd_source src,
                                        const char *package)
{
    struct mr_seed_spec spec = linux_spec();
    spec.kind = MR_SEED_CLOUDBASE_INIT;
    spec.user = "tester";
    spec.mac = NULL;
    spec.windows_password = "pw'with'quotes";
    spec.powershell = powershell;
    spec.sshd_source = src;
    spec.sshd_package = package;
    return spec;
}

/* Windows Server 2008 R2 has PowerShell 2.0 only: its script (with and without the
 * Win32-OpenSSH package) uses nothing newer, and its brackets and quotes pair up. */
START_TEST(test_seed_windows_2008r2_script_uses_powershell_2_only)
{
    const char *packages[] = { "/tmp/OpenSSH-Win64.zip", NULL };
    for (size_t i = 0; i < 2; i++) {
        struct mr_seed_spec spec = windows_spec(2, MR_SSHD_PACKAGE, packages[i]);
        struct mr_seed_files f;
        struct mr_err e = { 0 };
        ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
        const char *u = f.user_data;
        ck_assert_int_eq(strncmp(u, "#ps1_sysnative\n", 15), 0);
        const char *bad = ps2_first_forbidden(u);
        ck_assert_msg(!bad, "the 2008 R2 script uses '%s':\n%s", bad ? bad : "", u);
        int line = ps_unbalanced_line(u);
        ck_assert_msg(line == 0, "the 2008 R2 script's brackets or quotes break at line %d:\n%s",
                      line, u);
        /* The password goes to ADSI, never onto a command line (the process list). */
        ck_assert_ptr_nonnull(strstr(u, "$u = $computer.Create('User', $user)\n"
                                        "        $u.SetPassword($pw)\n"));
        ck_assert_ptr_null(strstr(u, "$user $pw"));
        ck_assert_ptr_null(strstr(u, "net.exe user $user $"));
        ck_assert_ptr_nonnull(strstr(u, "$pw = 'pw''with''quotes'"));
        ck_assert_ptr_nonnull(strstr(u, "Invoke-Quiet net.exe localgroup $admins $user /add"));
        ck_assert_ptr_nonnull(strstr(u, "SecurityIdentifier('S-1-5-32-544')"));
        ck_assert_ptr_nonnull(strstr(u, "netsh.exe advfirewall firewall add rule "
                                        "name=matrixrun-sshd dir=in action=allow protocol=TCP "
                                        "localport=22"));
        ck_assert_ptr_nonnull(strstr(u, "Set-Service -Name sshd -StartupType Automatic"));
        ck_assert_ptr_nonnull(strstr(u, "System.IO.Ports.SerialPort 'COM1'"));
        if (packages[i]) {
            ck_assert_ptr_nonnull(strstr(u, "Join-Path ($d.DeviceID + '\\') '" MR_SEED_SSHD_MEMBER "'"));
            ck_assert_ptr_nonnull(strstr(u, "Get-WmiObject Win32_LogicalDisk -Filter 'DriveType=5'"));
            ck_assert_ptr_nonnull(strstr(u, "New-Object -ComObject Shell.Application"));
            ck_assert_ptr_nonnull(strstr(u, "-Filter 'install-sshd.ps1'"));
            ck_assert_str_eq(f.sshd_package, packages[i]);
        } else {
            /* No capability to fall back on: the script says so and stops. */
            ck_assert_ptr_nonnull(strstr(u, "Stop-Seed ('the image has no sshd service and this "
                                            "Windows version has no OpenSSH capability"));
            ck_assert_ptr_null(strstr(u, MR_SEED_SSHD_MEMBER));
            ck_assert_ptr_null(f.sshd_package);
        }
        mr_seed_files_release(&f);
    }
}
END_TEST

/* 2016 has PowerShell 5.1 but no OpenSSH capability: the package or a stop, never
 * Add-WindowsCapability; 2019 on takes the capability when no package is named. */
START_TEST(test_seed_windows_2016_and_2019_scripts)
{
    struct mr_seed_spec spec = windows_spec(5, MR_SSHD_PACKAGE, NULL);
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
    const char *u = f.user_data;
    ck_assert_ptr_nonnull(strstr(u, "New-LocalUser -Name $user"));
    ck_assert_ptr_nonnull(strstr(u, "New-NetFirewallRule -Name 'matrixrun-sshd'"));
    ck_assert_ptr_null(strstr(u, "Add-WindowsCapability"));
    ck_assert_ptr_nonnull(strstr(u, "    Stop-Seed ('the image has no sshd service"));
    ck_assert_int_eq(ps_unbalanced_line(u), 0);
    mr_seed_files_release(&f);

    spec.sshd_package = "/tmp/OpenSSH-Win64.zip";
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
    u = f.user_data;
    ck_assert_ptr_nonnull(strstr(u, "Expand-Archive -LiteralPath $zip -DestinationPath $dest"));
    ck_assert_ptr_nonnull(strstr(u, "'" MR_SEED_SSHD_MEMBER "'"));
    ck_assert_ptr_null(strstr(u, "Add-WindowsCapability"));
    ck_assert_ptr_null(strstr(u, "Shell.Application"));
    ck_assert_int_eq(ps_unbalanced_line(u), 0);
    mr_seed_files_release(&f);

    spec = windows_spec(5, MR_SSHD_CAPABILITY, NULL);
    ck_assert_msg(mr_seed_render(&spec, &f, &e) == 0, "%s", mr_err_msg(&e));
    u = f.user_data;
    ck_assert_ptr_nonnull(strstr(u, "Add-WindowsCapability -Online -Name 'OpenSSH.Server~~~~0.0.1.0'"));
    ck_assert_ptr_null(strstr(u, "Stop-Seed ('the image has no sshd service"));
    ck_assert_int_eq(ps_unbalanced_line(u), 0);
    mr_seed_files_release(&f);

    /* A package is for Windows seeds only. */
    spec = linux_spec();
    spec.sshd_package = "/tmp/OpenSSH-Win64.zip";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), -EINVAL);
    ck_assert_msg(strstr(mr_err_msg(&e), "Win32-OpenSSH package is for cloudbase-init"), "%s",
                  mr_err_msg(&e));
    mr_err_release(&e);
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

/* The Win32-OpenSSH package goes onto the seed CD under the name the script looks for. */
START_TEST(test_seed_iso_carries_the_sshd_package)
{
    char dir[] = "/tmp/mr-seed-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *iso = mr_xasprintf("%s/seed.iso", dir);
    char *zip = mr_xasprintf("%s/OpenSSH-Win64.zip", dir);
    /* Bigger than one read of the copy, and not a multiple of it. */
    size_t zlen = 200000;
    char *zdata = mr_xmalloc(zlen);
    for (size_t i = 0; i < zlen; i++)
        zdata[i] = (char)(i * 7 + i / 251);
    memcpy(zdata, "PK\x03\x04", 4);
    FILE *fp = fopen(zip, "w");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(zdata, 1, zlen, fp), zlen);
    fclose(fp);
    struct mr_seed_spec spec = windows_spec(2, MR_SSHD_PACKAGE, zip);
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_ptr_nonnull(strstr(f.user_data, "'" MR_SEED_SSHD_MEMBER "'"));
    ck_assert_msg(mr_seed_write_iso(iso, &f, &e) == 0, "%s", mr_err_msg(&e));

    struct archive *a = archive_read_new();
    archive_read_support_format_iso9660(a);
    ck_assert_int_eq(archive_read_open_filename(a, iso, 10240), ARCHIVE_OK);
    struct archive_entry *ent;
    int seen = 0;
    while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(ent);
        if (archive_entry_filetype(ent) == AE_IFDIR)
            continue;
        size_t size = (size_t)archive_entry_size(ent);
        char *data = read_member(a, size);
        if (strcmp(name, MR_SEED_SSHD_MEMBER) == 0) {
            ck_assert_uint_eq(size, zlen);
            ck_assert_int_eq(memcmp(data, zdata, zlen), 0);
            seen |= 1;
        } else if (strcmp(name, "user-data") == 0) {
            ck_assert_str_eq(data, f.user_data);
            seen |= 2;
        } else if (strcmp(name, "meta-data") == 0) {
            seen |= 4;
        } else {
            ck_abort_msg("unexpected member '%s'", name);
        }
        free(data);
    }
    ck_assert_int_eq(seen, 7);
    archive_read_free(a);
    mr_seed_files_release(&f);

    /* A package that is gone by the time the seed is written: an error naming it, no ISO. */
    unlink(iso);
    spec.sshd_package = "/nonexistent/OpenSSH-Win64.zip";
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_int_lt(mr_seed_write_iso(iso, &f, &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), "/nonexistent/OpenSSH-Win64.zip"), "%s", mr_err_msg(&e));
    mr_err_release(&e);
    mr_seed_files_release(&f);
    unlink(zip);
    ck_assert_int_eq(rmdir(dir), 0); /* nothing left behind */
    free(zdata);
    free(zip);
    free(iso);
}
END_TEST

/* The stop message the script writes to COM1, found in a serial log among the boot's
 * other output (and its line break, CR LF on Windows, not taken with it). */
START_TEST(test_seed_finds_the_scripts_stop_message_in_a_serial_log)
{
    const char log[] = "BdsDxe: loading Boot0001\r\n\0binary\xff noise\r\n"
                       MR_SEED_ERROR_MARKER " the image has no sshd service\r\nlater\n";
    char *line = mr_seed_serial_error(log, sizeof(log) - 1);
    ck_assert_ptr_nonnull(line);
    ck_assert_str_eq(line, MR_SEED_ERROR_MARKER " the image has no sshd service");
    free(line);
    ck_assert_ptr_null(mr_seed_serial_error(log, 20));
    ck_assert_ptr_null(mr_seed_serial_error("", 0));
    /* Cut at the end of the log: what is there. */
    const char cut[] = "x\n" MR_SEED_ERROR_MARKER " half";
    line = mr_seed_serial_error(cut, sizeof(cut) - 1);
    ck_assert_str_eq(line, MR_SEED_ERROR_MARKER " half");
    free(line);
    /* The script's own text holds the marker too, as the message it writes. */
    struct mr_seed_spec spec = windows_spec(2, MR_SSHD_PACKAGE, NULL);
    struct mr_seed_files f;
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_seed_render(&spec, &f, &e), 0);
    ck_assert_ptr_nonnull(strstr(f.user_data, "$m = '" MR_SEED_ERROR_MARKER " ' + $why"));
    mr_seed_files_release(&f);
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
    /* Each YAML check starts python3, which takes seconds on a loaded machine: Check's
     * default of 4 s per test is not a limit these tests are about. */
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, test_seed_cloud_init_user_data_parses_as_intended);
    tcase_add_test(tr, test_seed_root_user_gets_top_level_keys);
    tcase_add_test(tr, test_seed_rsa_host_key_goes_to_rsa_private);
    tcase_add_test(tr, test_seed_appends_extra_cloud_config);
    tcase_add_loop_test(tr, test_seed_refuses_extra_that_sets_seed_keys, 0,
                        (int)(sizeof(hostile) / sizeof(hostile[0])));
    tcase_add_test(tr, test_seed_accepts_extra_with_other_keys);
    tcase_add_test(tr, test_seed_rejects_values_that_break_out);
    tcase_add_test(tr, test_seed_cloudbase_init_script);
    tcase_add_test(tr, test_seed_windows_2008r2_script_uses_powershell_2_only);
    tcase_add_test(tr, test_seed_windows_2016_and_2019_scripts);
    tcase_add_test(tr, test_seed_finds_the_scripts_stop_message_in_a_serial_log);
    suite_add_tcase(s, tr);
    TCase *ti = tcase_create("iso");
    tcase_add_test(ti, test_seed_iso_reads_back_with_label_and_names);
    tcase_add_test(ti, test_seed_iso_carries_the_sshd_package);
    tcase_add_test(ti, test_seed_iso_failure_leaves_nothing);
    suite_add_tcase(s, ti);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
