/* Unit tests of the OS-family catalogue: loading, template choice and expansion, quoting
 * (run through the real /bin/sh), and PowerShell's encoded commands. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "family.h"
#include "ps2lint.h"

static const char *const families[] = { "debian", "ubuntu", "rhel", "centos", "sles", "windows" };

START_TEST(test_family_builtin_catalogue_is_the_shipped_file)
{
    char *file = NULL;
    size_t len = 0;
    ck_assert_int_eq(mr_file_read(MR_TEST_DATA "/../../images/families.xml", &file, &len), 0);
    ck_assert_uint_eq(mr_family_catalogue_len, len);
    ck_assert_int_eq(memcmp(mr_family_catalogue, file, len), 0);
    free(file);
    ck_assert_int_eq(mr_file_read(MR_TEST_DATA "/../../images/families.rng", &file, &len), 0);
    ck_assert_uint_eq(mr_family_schema_len, len);
    ck_assert_int_eq(memcmp(mr_family_schema, file, len), 0);
    free(file);
}
END_TEST

START_TEST(test_family_builtin_catalogue_covers_the_seed_list)
{
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_family_catalogue_load(NULL, &e), 0);
    ck_assert_str_eq(mr_family_catalogue_source(), "built-in");
    const struct mr_family *f = mr_family_find(families[_i]);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_ge(f->n_installs, 1);
    ck_assert_ptr_nonnull(f->version_cmd);
    ck_assert_ptr_nonnull(f->default_user);
    ck_assert_uint_gt(f->boot_timeout_hint_s, 0);
    ck_assert_uint_ge(f->n_logs, 3);
    for (size_t i = 0; i < f->n_installs; i++)
        ck_assert_ptr_nonnull(strstr(f->installs[i].command, "{artifact"));
    ck_assert_ptr_nonnull(strstr(f->version_cmd, "{package}"));
}
END_TEST

START_TEST(test_family_unknown_is_null)
{
    ck_assert_ptr_null(mr_family_find("plan9"));
    char *names = mr_family_names();
    ck_assert_str_eq(names, "debian, ubuntu, rhel, centos, sles, windows");
    free(names);
}
END_TEST

START_TEST(test_family_picks_install_by_os_version)
{
    const struct mr_family *rhel = mr_family_find("rhel");
    /* yum up to 3.2.28 checks signatures on localinstall too: test packages seldom have
     * them. */
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(rhel, "5"), "yum -y --nogpgcheck localinstall"));
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(rhel, "7.9"), "yum -y --nogpgcheck localinstall"));
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(rhel, "8"), "dnf -y install"));
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(rhel, "9.4"), "dnf -y install"));
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(rhel, NULL), "dnf -y install"));
    const struct mr_family *centos = mr_family_find("centos");
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(centos, "7"), "yum"));
    const struct mr_family *sles = mr_family_find("sles");
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(sles, "15-SP5"), "--allow-unsigned-rpm"));
    /* zypper before 1.14.4 (SLES 12) calls --allow-unsigned-rpm an unknown option. */
    const char *sles12 = mr_family_install_template(sles, "12-SP3");
    ck_assert_ptr_nonnull(strstr(sles12, "zypper --non-interactive --no-gpg-checks"));
    ck_assert_ptr_null(strstr(sles12, "allow-unsigned-rpm"));
    const struct mr_family *deb = mr_family_find("debian");
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(deb, "12"), "apt-get install"));
}
END_TEST

/* Logs by version: a guest is asked only for the logs its release has (no journalctl
 * before systemd, no `cloud-init status` before cloud-init 17.2). */
START_TEST(test_family_picks_logs_by_os_version)
{
    static const struct {
        const char *family, *version, *log;
        int applies;
    } cases[] = {
        { "rhel", "5", "journal.txt", 0 },       { "rhel", "5", "messages", 1 },
        { "centos", "6", "journal.txt", 0 },     { "centos", "7", "journal.txt", 1 },
        { "centos", "7", "messages", 0 },        { "centos", "7", "yum.log", 1 },
        { "centos", "7", "dnf.log", 0 },         { "rhel", "9.4", "dnf.log", 1 },
        { "centos", "6", "cloud-init-status.txt", 0 },
        { "debian", "9", "cloud-init-status.txt", 0 },
        { "debian", "10", "cloud-init-status.txt", 1 },
        { "debian", "12", "syslog", 0 },         { "sles", "12-SP3", "journal.txt", 1 },
        { "sles", "12-SP3", "cloud-init-status.txt", 0 },
        { "ubuntu", "16.04", "cloud-init-status.txt", 1 },
        { "debian", NULL, "cloud-init-status.txt", 1 }, /* no version: every log */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct mr_family *f = mr_family_find(cases[i].family);
        const struct mr_family_log *l = NULL;
        for (size_t j = 0; j < f->n_logs; j++)
            if (strcmp(f->logs[j].name, cases[i].log) == 0)
                l = &f->logs[j];
        ck_assert_msg(l, "%s has no log %s", cases[i].family, cases[i].log);
        ck_assert_msg(mr_family_log_applies(l, cases[i].version) == cases[i].applies,
                      "%s %s: %s", cases[i].family, cases[i].version, cases[i].log);
    }
}
END_TEST

/* A terminal for each command where the release's sudo has requiretty (RHEL/CentOS 5, 6). */
START_TEST(test_family_tty_by_os_version)
{
    ck_assert(mr_family_tty(mr_family_find("centos"), "6.5"));
    ck_assert(mr_family_tty(mr_family_find("rhel"), "5.11"));
    ck_assert(!mr_family_tty(mr_family_find("centos"), "7"));
    ck_assert(!mr_family_tty(mr_family_find("rhel"), "9.4"));
    ck_assert(!mr_family_tty(mr_family_find("rhel"), NULL));
    ck_assert(!mr_family_tty(mr_family_find("debian"), "12"));
    ck_assert(!mr_family_tty(mr_family_find("sles"), "12-SP3"));
}
END_TEST

/* ed25519 where the guest's OpenSSH (>= 6.5) and cloud-init (>= 0.7.7) take it, RSA
 * below: CentOS 6 has OpenSSH 5.3 and cloud-init 0.7.5, RHEL 5 OpenSSH 4.3. */
START_TEST(test_family_picks_keytype_by_os_version)
{
    static const struct {
        const char *family, *version;
        enum mr_keytype want;
    } cases[] = {
        { "rhel", "5", MR_KEYTYPE_RSA },          { "rhel", "5.11", MR_KEYTYPE_RSA },
        { "centos", "6", MR_KEYTYPE_RSA },        { "centos", "7", MR_KEYTYPE_RSA },
        { "centos", "8", MR_KEYTYPE_ED25519 },    { "rhel", "9.4", MR_KEYTYPE_ED25519 },
        { "rhel", NULL, MR_KEYTYPE_ED25519 },     { "debian", "8", MR_KEYTYPE_RSA },
        { "debian", "9", MR_KEYTYPE_ED25519 },    { "debian", "12", MR_KEYTYPE_ED25519 },
        { "debian", NULL, MR_KEYTYPE_ED25519 },   { "ubuntu", "14.04", MR_KEYTYPE_RSA },
        { "ubuntu", "16.04", MR_KEYTYPE_ED25519 }, { "sles", "11-SP4", MR_KEYTYPE_RSA },
        { "sles", "12-SP3", MR_KEYTYPE_ED25519 }, { "windows", "2008", MR_KEYTYPE_ED25519 },
        { "windows", NULL, MR_KEYTYPE_ED25519 },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
        const struct mr_family *f = mr_family_find(cases[i].family);
        ck_assert_ptr_nonnull(f);
        enum mr_keytype got = mr_family_keytype(f, cases[i].version);
        ck_assert_msg(got == cases[i].want, "%s %s: %s, want %s", cases[i].family,
                      cases[i].version ? cases[i].version : "(no version)",
                      mr_keytype_name(got), mr_keytype_name(cases[i].want));
    }
}
END_TEST

/* A catalogue without <ssh> entries means ed25519; a range upside down is refused. */
START_TEST(test_family_keytype_defaults_and_bad_range)
{
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_family_catalogue_load(MR_TEST_DATA "/catalogue/only-plan9.xml", &e), 0);
    const struct mr_family *f = mr_family_find("plan9");
    ck_assert_int_eq(mr_family_keytype(f, "1"), MR_KEYTYPE_ED25519);
    ck_assert_int_eq(mr_family_keytype(f, NULL), MR_KEYTYPE_ED25519);
    ck_assert_int_lt(mr_family_catalogue_load(MR_TEST_DATA "/catalogue/bad-ssh-range.xml", &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), "bad-ssh-range.xml:3: <ssh> min-version 7 is above "
                                         "max-version 6"),
                  "%s", mr_err_msg(&e));
    mr_err_release(&e);
    mr_family_catalogue_reset();
}
END_TEST

START_TEST(test_family_expands_sudo_only_for_non_root)
{
    const struct mr_family *f = mr_family_find("sles");
    struct mr_family_vars v = { .artifact = "/tmp/p.rpm", .package = "p", .user = "sles" };
    char *cmd = mr_family_expand(f, mr_family_install_template(f, NULL), &v);
    ck_assert_str_eq(cmd, "sudo -n zypper --non-interactive --no-refresh install "
                          "--allow-unsigned-rpm '/tmp/p.rpm'");
    free(cmd);
    v.user = "root";
    cmd = mr_family_expand(f, mr_family_install_template(f, NULL), &v);
    ck_assert_str_eq(cmd, "zypper --non-interactive --no-refresh install --allow-unsigned-rpm "
                          "'/tmp/p.rpm'");
    free(cmd);
}
END_TEST

/* A {sudo} log command whose program the guest lacks must end with 127 (absent), not
 * sudo's 1: the program is looked up under sudo first. Checked by the real shell, with
 * the sudo in front taken off (the looking-up and the quoting are the shell's part). */
START_TEST(test_family_sudo_log_of_a_missing_program_exits_127)
{
    const struct mr_family *f = mr_family_find("debian");
    struct mr_family_vars v = { .package = "p", .user = "debian" };
    char *cmd = mr_family_expand_log(f, "{sudo}journalctl -b --no-pager -n 5000", &v);
    ck_assert_str_eq(cmd, "sudo -n sh -c 'command -v journalctl >/dev/null 2>&1 || exit 127; "
                          "journalctl -b --no-pager -n 5000'");
    free(cmd);
    const struct { const char *tmpl; int status; } runs[] = {
        { "{sudo}mr-no-such-program-xyz -b", 127 },
        { "{sudo}printf '%s' \"it's\" >/dev/null", 0 },
        { "{sudo}sh -c 'exit 3'", 3 },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(runs); i++) {
        cmd = mr_family_expand_log(f, runs[i].tmpl, &v);
        ck_assert_msg(strncmp(cmd, "sudo -n sh -c ", 14) == 0, "%s", cmd);
        int st = system(cmd + 8);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == runs[i].status,
                      "%s: status %d, want %d", cmd, WEXITSTATUS(st), runs[i].status);
        free(cmd);
    }
    /* As root, PowerShell, a command not starting with {sudo}, or a first word that is not
     * a plain program name: the ordinary expansion. */
    const char *plain[] = { "cat /var/log/x", "{sudo}$(echo cat) /x", "{sudo}\"cat\" /x" };
    for (size_t i = 0; i < MR_ARRAY_SIZE(plain); i++) {
        char *a = mr_family_expand_log(f, plain[i], &v), *b = mr_family_expand(f, plain[i], &v);
        ck_assert_str_eq(a, b);
        free(a);
        free(b);
    }
    v.user = "root";
    cmd = mr_family_expand_log(f, "{sudo}journalctl -b", &v);
    ck_assert_str_eq(cmd, "journalctl -b");
    free(cmd);
    v.user = "Administrator";
    cmd = mr_family_expand_log(mr_family_find("windows"), "{sudo}Get-Content x", &v);
    ck_assert_str_eq(cmd, "Get-Content x");
    free(cmd);
}
END_TEST

/* What the real /bin/sh prints for script (caller frees). */
static char *sh_output(const char *script)
{
    char *argv[] = { "sh", "-c", (char *)script, NULL };
    struct mr_buf out;
    mr_buf_init(&out);
    ck_assert_int_eq(mr_spawn(argv, &out), 0);
    return out.data ? mr_buf_detach(&out, NULL) : mr_xstrdup("");
}

/* The quoting is checked by the real shell: what sh prints is exactly the value. */
START_TEST(test_family_sh_quoting_survives_sh)
{
    static const char *const hostile[] = { "it's", "a b", "$(touch /tmp/mr-pwned)", "`id`",
                                           "\"q\"", "x;y&z|w", "'", "" };
    const struct mr_family *f = mr_family_find("debian");
    for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        struct mr_family_vars v = { .artifact = hostile[i], .package = "p", .user = "root" };
        char *cmd = mr_family_expand(f, "printf '%s' {artifact}", &v);
        char *out = sh_output(cmd);
        ck_assert_str_eq(out, hostile[i]);
        free(out);
        free(cmd);
    }
    ck_assert(!mr_file_exists("/tmp/mr-pwned"));
}
END_TEST

START_TEST(test_family_powershell_quoting)
{
    char *q = mr_shell_quote(MR_SHELL_POWERSHELL, "it's $x");
    ck_assert_str_eq(q, "'it''s $x'");
    free(q);
    q = mr_shell_quote(MR_SHELL_SH, "it's");
    ck_assert_str_eq(q, "'it'\\''s'");
    free(q);
    /* U+2018..U+201B end a PowerShell '...' string too: each is doubled; U+201C (a
     * double quotation mark) and U+2017 are not quotes there and stay single. */
    q = mr_shell_quote(MR_SHELL_POWERSHELL, "a\u2018b\u2019c\u201Ad\u201Be\u201Cf\u2017g");
    ck_assert_str_eq(q, "'a\u2018\u2018b\u2019\u2019c\u201A\u201Ad\u201B\u201Be\u201Cf\u2017g'");
    free(q);
    /* sh ends '...' only at ' itself. */
    q = mr_shell_quote(MR_SHELL_SH, "a\u2019b");
    ck_assert_str_eq(q, "'a\u2019b'");
    free(q);
}
END_TEST

/* Windows Server 2008 R2 (version="2008r2", read as 2008) has PowerShell 2.0 only: every
 * command the catalogue sends it, expanded as it is sent, uses nothing newer. */
START_TEST(test_family_windows_2008r2_commands_exist_in_powershell_2)
{
    const struct mr_family *w = mr_family_find("windows");
    struct mr_family_vars v = { .artifact = "C:\\Windows\\Temp\\a.msi", .package = "A",
                                .user = "Administrator" };
    const char *versions[] = { "2008r2", "2008", "2012r2" };
    for (size_t k = 0; k < MR_ARRAY_SIZE(versions); k++) {
        const char *ver = versions[k];
        const char *cmds[32];
        size_t n = 0;
        cmds[n++] = mr_family_install_template(w, ver);
        cmds[n++] = w->version_cmd;
        cmds[n++] = mr_family_kernel_query(w);
        for (size_t i = 0; i < w->n_logs && n < MR_ARRAY_SIZE(cmds); i++)
            if (mr_family_log_applies(&w->logs[i], ver))
                cmds[n++] = w->logs[i].command;
        ck_assert_ptr_nonnull(cmds[0]);
        for (size_t i = 0; i < n; i++) {
            char *cmd = mr_family_expand(w, cmds[i], &v);
            const char *bad = ps2_first_forbidden(cmd);
            ck_assert_msg(!bad, "windows %s: '%s' uses '%s'", ver, cmd, bad ? bad : "");
            ck_assert_msg(ps_unbalanced_line(cmd) == 0, "windows %s: '%s' does not pair up",
                          ver, cmd);
            free(cmd);
        }
        const struct mr_family_seed *sd = mr_family_seed_entry(w, ver);
        ck_assert_uint_eq(sd->powershell, 2);
        ck_assert_int_eq(sd->sshd, MR_SSHD_PACKAGE);
        char *entry = mr_family_entry_name(w, ver);
        ck_assert_str_eq(entry, "windows<=2012");
        free(entry);
    }
    /* The switches the commands are sent with exist in powershell.exe 2.0. */
    char *wrapped = mr_family_wrap(w, "Write-Output 1");
    ck_assert_int_eq(strncmp(wrapped, "powershell -NoProfile -NonInteractive -ExecutionPolicy "
                                      "Bypass -EncodedCommand ", 78), 0);
    free(wrapped);
}
END_TEST

/* 2016 takes PowerShell 5.1's commands but has no OpenSSH capability; 2019 on has it; an
 * image with no version takes the last entries. */
START_TEST(test_family_windows_entries_by_version)
{
    const struct mr_family *w = mr_family_find("windows");
    static const struct {
        const char *version;
        unsigned powershell;
        enum mr_sshd_source sshd;
        const char *entry;
    } cases[] = {
        { "2016", 5, MR_SSHD_PACKAGE, "windows>=2016" },
        { "2019", 5, MR_SSHD_CAPABILITY, "windows>=2016" },
        { "2022", 5, MR_SSHD_CAPABILITY, "windows>=2016" },
        { NULL, 5, MR_SSHD_CAPABILITY, "windows>=2016" },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
        const struct mr_family_seed *sd = mr_family_seed_entry(w, cases[i].version);
        ck_assert_uint_eq(sd->powershell, cases[i].powershell);
        ck_assert_int_eq(sd->sshd, cases[i].sshd);
        char *entry = mr_family_entry_name(w, cases[i].version);
        ck_assert_str_eq(entry, cases[i].entry);
        free(entry);
    }
    ck_assert_ptr_nonnull(strstr(mr_family_install_template(w, "2016"), "Get-Content -Tail 200"));
    /* Families without <seed> get the modern script. */
    const struct mr_family_seed *sd = mr_family_seed_entry(mr_family_find("debian"), "12");
    ck_assert_uint_eq(sd->powershell, 5);
    ck_assert_int_eq(sd->sshd, MR_SSHD_CAPABILITY);
}
END_TEST

START_TEST(test_family_refuses_bad_seed_entries)
{
    struct mr_err e = { 0 };
    ck_assert_int_lt(mr_family_catalogue_load(MR_TEST_DATA "/catalogue/bad-seed-ps2-capability.xml", &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), "bad-seed-ps2-capability.xml:3: <seed> powershell='2' "
                                         "with sshd='capability'"),
                  "%s", mr_err_msg(&e));
    mr_err_release(&e);
    ck_assert_int_lt(mr_family_catalogue_load(MR_TEST_DATA "/catalogue/bad-seed-cloud-init.xml", &e), 0);
    ck_assert_msg(strstr(mr_err_msg(&e), "bad-seed-cloud-init.xml:3: <seed> is for "
                                         "cloudbase-init families; family 'plan9'"),
                  "%s", mr_err_msg(&e));
    mr_err_release(&e);
    mr_family_catalogue_reset();
}
END_TEST

START_TEST(test_family_windows_paths_and_commands)
{
    const struct mr_family *w = mr_family_find("windows");
    ck_assert_int_eq(w->shell, MR_SHELL_POWERSHELL);
    ck_assert_int_eq(w->seed, MR_SEED_CLOUDBASE_INIT);
    char *remote = mr_family_remote_path(w, "/home/u/out/My App 1.0.msi");
    ck_assert_str_eq(remote, "C:\\Windows\\Temp\\My_App_1.0.msi");
    char *sftp = mr_family_sftp_path(w, remote);
    ck_assert_str_eq(sftp, "/C:/Windows/Temp/My_App_1.0.msi");
    struct mr_family_vars v = { .artifact = remote, .package = "My App", .user = "Administrator" };
    char *cmd = mr_family_expand(w, mr_family_install_template(w, "2022"), &v);
    ck_assert_ptr_nonnull(strstr(cmd, "Start-Process -FilePath msiexec.exe -ArgumentList "
                                      "@('/i', 'C:\\Windows\\Temp\\My_App_1.0.msi', '/qn', "
                                      "'/norestart', '/l*v', "
                                      "'C:\\Windows\\Temp\\matrixrun-install.log')"));
    ck_assert_ptr_null(strstr(cmd, "sudo"));
    free(cmd);
    cmd = mr_family_expand(w, w->version_cmd, &v);
    ck_assert_ptr_nonnull(strstr(cmd, "$_.DisplayName -eq 'My App'"));
    free(cmd);
    free(remote);
    free(sftp);
    const struct mr_family *d = mr_family_find("debian");
    remote = mr_family_remote_path(d, "out/mr-demo_1.0_all.deb");
    ck_assert_str_eq(remote, "/tmp/mr-demo_1.0_all.deb");
    sftp = mr_family_sftp_path(d, remote);
    ck_assert_str_eq(sftp, remote);
    free(remote);
    free(sftp);
}
END_TEST

/* -EncodedCommand takes base64 of UTF-16LE: decode what we send and compare. */
START_TEST(test_family_wrap_encodes_utf16le)
{
    const char *cmd = "Write-Output 'caf\xc3\xa9 \xf0\x9f\x98\x80' | Out-Null";
    const struct mr_family *w = mr_family_find("windows");
    char *line = mr_family_wrap(w, cmd);
    const char *prefix =
        "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ";
    ck_assert_int_eq(strncmp(line, prefix, strlen(prefix)), 0);
    unsigned char *raw;
    size_t len;
    ck_assert_int_eq(mr_base64_decode(line + strlen(prefix), &raw, &len), 0);
    /* Expected UTF-16LE built by hand: ASCII as x 00, é as E9 00, U+1F600 as D83D DE00. */
    unsigned char want[128];
    size_t n = 0;
    for (const char *p = "Write-Output 'caf"; *p; p++)
        want[n++] = (unsigned char)*p, want[n++] = 0;
    want[n++] = 0xe9, want[n++] = 0;
    want[n++] = ' ', want[n++] = 0;
    want[n++] = 0x3d, want[n++] = 0xd8, want[n++] = 0x00, want[n++] = 0xde;
    for (const char *p = "' | Out-Null"; *p; p++)
        want[n++] = (unsigned char)*p, want[n++] = 0;
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(raw, want, n), 0);
    free(raw);
    free(line);
    const struct mr_family *d = mr_family_find("debian");
    line = mr_family_wrap(d, "echo hi");
    ck_assert_str_eq(line, "echo hi");
    free(line);
}
END_TEST

START_TEST(test_family_base64_round_trip)
{
    for (size_t n = 0; n < 40; n++) {
        unsigned char in[40];
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n);
        char *b64 = mr_base64_encode(in, n);
        ck_assert_uint_eq(strlen(b64), (n + 2) / 3 * 4);
        unsigned char *out;
        size_t len;
        ck_assert_int_eq(mr_base64_decode(b64, &out, &len), 0);
        ck_assert_uint_eq(len, n);
        ck_assert_int_eq(memcmp(in, out, n), 0);
        free(out);
        free(b64);
    }
    char *b = mr_base64_encode("foobar", 6);
    ck_assert_str_eq(b, "Zm9vYmFy");
    free(b);
    b = mr_base64_encode("fo", 2);
    ck_assert_str_eq(b, "Zm8=");
    free(b);
}
END_TEST

START_TEST(test_family_other_catalogue_replaces_builtin)
{
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_family_catalogue_load(MR_TEST_DATA "/catalogue/only-plan9.xml", &e), 0);
    ck_assert_ptr_null(mr_family_find("debian"));
    ck_assert_ptr_nonnull(mr_family_find("plan9"));
    /* A bad file leaves the loaded catalogue in place. */
    ck_assert_int_lt(mr_family_catalogue_load(MR_TEST_DATA "/catalogue/bad-duplicate.xml", &e), 0);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "bad-duplicate.xml:6: family 'debian' is defined twice"));
    ck_assert_ptr_nonnull(mr_family_find("plan9"));
    mr_err_release(&e);
    mr_family_catalogue_reset();
    ck_assert_ptr_nonnull(mr_family_find("debian"));
}
END_TEST


/* What a family does differently, asked of the family and not of its shell or seed. */
START_TEST(test_family_traits_of_sh_and_powershell)
{
    const struct mr_family *d = mr_family_find("debian");
    const struct mr_family *w = mr_family_find("windows");
    ck_assert_str_eq(mr_family_kernel_query(d), "uname -r");
    ck_assert_str_eq(mr_family_kernel_query(w), "(Get-WmiObject Win32_OperatingSystem).Version");
    ck_assert_int_eq(mr_family_batches_logs(d), 1);
    ck_assert_int_eq(mr_family_batches_logs(w), 0);
    ck_assert_int_eq(mr_family_is_windows(d), 0);
    ck_assert_int_eq(mr_family_is_windows(w), 1);
    char *cmd = mr_family_run_program(d, "/tmp/mr bench", "--calibrate 2");
    ck_assert_str_eq(cmd, "'/tmp/mr bench' --calibrate 2");
    free(cmd);
    cmd = mr_family_run_program(w, "C:\\Windows\\Temp\\it's.exe", "--rep 1");
    ck_assert_str_eq(cmd, "& 'C:\\Windows\\Temp\\it''s.exe' --rep 1");
    free(cmd);
    struct mr_buf b;
    mr_buf_init(&b);
    mr_family_env_assign(w, &b, "MATRIXRUN_CELL", "a'b");
    mr_family_env_assign(w, &b, "X", "");
    ck_assert_str_eq(b.data, "$env:MATRIXRUN_CELL = 'a''b'; $env:X = ''; ");
    mr_buf_release(&b);
}
END_TEST

/* The sh assignments, run by the real shell: the command after them sees each value as
 * it was, and a child process sees it too (exported). */
START_TEST(test_family_env_assign_survives_sh)
{
    const struct mr_family *f = mr_family_find("sles");
    struct mr_buf b;
    mr_buf_init(&b);
    mr_family_env_assign(f, &b, "MR_A", "it's $(id) `x`");
    mr_family_env_assign(f, &b, "MR_B", "two\nlines");
    mr_buf_adds(&b, "sh -c 'printf \"%s|%s\" \"$MR_A\" \"$MR_B\"'");
    char *out = sh_output(b.data);
    ck_assert_str_eq(out, "it's $(id) `x`|two\nlines");
    free(out);
    mr_buf_release(&b);
}
END_TEST

START_TEST(test_family_seed_traits)
{
    const struct mr_family *d = mr_family_find("ubuntu");
    const struct mr_family *w = mr_family_find("windows");
    ck_assert_str_eq(mr_family_provisioning(d), "cloud-init seed");
    ck_assert_str_eq(mr_family_provisioning(w), "cloudbase-init seed");
    const struct mr_family_seed_wait *sw = mr_family_seed_wait(d);
    ck_assert_ptr_nonnull(sw);
    ck_assert_str_eq(sw->program, "cloud-init");
    ck_assert_str_eq(sw->command, "cloud-init status --wait");
    ck_assert_str_eq(sw->property, "cloud-init.status");
    ck_assert_str_eq(sw->log, "logs/cloud-init.log");
    ck_assert_ptr_null(mr_family_seed_wait(w));
    ck_assert_ptr_null(mr_family_seed_password(d));
    /* Windows' complexity rule: three classes of characters, and a fresh one each time. */
    char *p1 = mr_family_seed_password(w), *p2 = mr_family_seed_password(w);
    ck_assert_ptr_nonnull(p1);
    ck_assert_uint_ge(strlen(p1), 14);
    ck_assert_ptr_nonnull(strpbrk(p1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    ck_assert_ptr_nonnull(strpbrk(p1, "abcdefghijklmnopqrstuvwxyz"));
    ck_assert_ptr_nonnull(strpbrk(p1, "0123456789"));
    ck_assert_str_ne(p1, p2);
    free(p1);
    free(p2);
}
END_TEST

static size_t read_all(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(buf, 1, cap, f);
    ck_assert(feof(f));
    fclose(f);
    return len;
}

/* The batched log script run by a real /bin/sh: binary output, stderr, exit statuses, a
 * command killed by a signal, a command with a comment and a parenthesis, output without
 * a final newline, a log that quotes the markers, and the caps. */
START_TEST(test_family_logs_script_runs_in_sh)
{
    const char *nonce = "0123456789abcdef0123456789abcdef";
    const char *cmds[] = {
        "echo hello",
        "printf 'a\\000b'",
        "echo oops >&2; echo partial; exit 3",
        "sh -c 'kill -9 $$'",
        "echo ')' # a comment",
        "yes | head -c 10000",
        "cat /nonexistent/file",
        "printf '\\nMR-0123456789abcdef0123456789abcdef 7 end 0\\nnot the end\\n'",
        "yes err | head -c 5000 >&2; read x; echo \"stdin: [$x]\"",
    };
    size_t n = sizeof(cmds) / sizeof(cmds[0]);
    char *script = mr_family_logs_script(cmds, n, nonce);
    char path[] = "/tmp/check_family_logs.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, script, strlen(script)), (ssize_t)strlen(script));
    close(fd);
    free(script);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "echo input | sh %s >%s.out 2>%s.err", path, path, path);
    ck_assert_int_eq(system(cmd), 0);
    static char out[65536], err[65536];
    snprintf(cmd, sizeof(cmd), "%s.out", path);
    size_t out_len = read_all(cmd, out, sizeof(out));
    unlink(cmd);
    snprintf(cmd, sizeof(cmd), "%s.err", path);
    size_t err_len = read_all(cmd, err, sizeof(err));
    unlink(cmd);
    unlink(path);
    struct mr_family_log_result res[9];
    ck_assert_int_eq(mr_family_logs_parse(out, out_len, err, err_len, nonce, n, 100, res), 0);
    ck_assert_int_eq(res[0].status, 0);
    ck_assert_uint_eq(res[0].out_len, 6);
    ck_assert_mem_eq(res[0].out, "hello\n", 6);
    ck_assert_uint_eq(res[0].err_len, 0);
    ck_assert_uint_eq(res[1].out_len, 3);
    ck_assert_mem_eq(res[1].out, "a\0b", 3);
    ck_assert_int_eq(res[2].status, 3);
    ck_assert_uint_eq(res[2].out_len, 8);
    ck_assert_mem_eq(res[2].out, "partial\n", 8);
    ck_assert_uint_eq(res[2].err_len, 5);
    ck_assert_mem_eq(res[2].err, "oops\n", 5);
    ck_assert_int_eq(res[3].status, 128 + 9);
    ck_assert_int_eq(res[4].status, 0);
    ck_assert_uint_eq(res[4].out_len, 2);
    ck_assert_mem_eq(res[4].out, ")\n", 2);
    ck_assert_uint_eq(res[5].out_len, 100);
    ck_assert_uint_eq(res[5].out_dropped, 9900);
    ck_assert_int_ne(res[6].status, 0);
    ck_assert_uint_gt(res[6].err_len, 0);
    ck_assert_int_eq(res[7].status, 0);
    ck_assert_uint_eq(res[7].out_len, 57);
    ck_assert_mem_eq(res[7].out + 42, " 0\nnot the end\n", 15);
    ck_assert_uint_eq(res[8].err_len, MR_FAMILY_LOG_ERR_CAP);
    ck_assert_uint_eq(res[8].out_len, 10);
    ck_assert_mem_eq(res[8].out, "stdin: []\n", 10);
    /* Cut short, out of order, missing or foreign frames are refused. */
    ck_assert_int_eq(mr_family_logs_parse(out, out_len - 1, err, err_len, nonce, n, 100, res),
                     -EPROTO);
    ck_assert_int_eq(mr_family_logs_parse(out, out_len, err, err_len - 1, nonce, n, 100, res),
                     -EPROTO);
    ck_assert_int_eq(mr_family_logs_parse(out, out_len, err, err_len, nonce, n - 1, 100, res),
                     -EPROTO);
    ck_assert_int_eq(mr_family_logs_parse(out, out_len, err, err_len,
                                          "0123456789abcdef0123456789abcdee", n, 100, res),
                     -EPROTO);
    const char *one = "MR-0123456789abcdef0123456789abcdef 0\nabc\nMR-0123456789abcdef0123456789abcdef 0 end 0\n";
    const char *one_err = "MR-0123456789abcdef0123456789abcdef 0\n\nMR-0123456789abcdef0123456789abcdef 0 end\n";
    ck_assert_int_eq(mr_family_logs_parse(one, strlen(one), one_err, strlen(one_err), nonce, 1,
                                          100, res), 0);
    ck_assert_uint_eq(res[0].out_len, 3);
    ck_assert_uint_eq(res[0].err_len, 0);
    ck_assert_int_eq(mr_family_logs_parse(one, strlen(one), one_err, strlen(one_err), nonce, 2,
                                          100, res), -EPROTO);
    ck_assert_int_eq(mr_family_logs_parse("", 0, "", 0, nonce, 1, 100, res), -EPROTO);
    const char *bad = "MR-0123456789abcdef0123456789abcdef 0\nabc\nMR-0123456789abcdef0123456789abcdef 0 end x\n";
    ck_assert_int_eq(mr_family_logs_parse(bad, strlen(bad), one_err, strlen(one_err), nonce, 1,
                                          100, res), -EPROTO);
}
END_TEST

/* {artifacts}: the artifact, then each dependency, each quoted on its own; the families
 * whose tools take several files in one transaction use it. */
START_TEST(test_family_expands_artifacts_with_dependencies)
{
    const struct mr_family *f = mr_family_find("debian");
    const char *deps[] = { "/tmp/lib it's.deb", "/tmp/b.deb" };
    struct mr_family_vars v = { .artifact = "/tmp/a.deb", .package = "a", .user = "root",
                                .deps = deps, .n_deps = 2 };
    char *got = mr_family_expand(f, "dpkg -i {artifacts} && echo {artifact}", &v);
    ck_assert_str_eq(got, "dpkg -i '/tmp/a.deb' '/tmp/lib it'\\''s.deb' '/tmp/b.deb' && echo '/tmp/a.deb'");
    free(got);
    v.n_deps = 0;
    got = mr_family_expand(f, "x {artifacts}", &v);
    ck_assert_str_eq(got, "x '/tmp/a.deb'");
    free(got);
    static const char *const families[] = { "debian", "ubuntu", "rhel", "centos", "sles" };
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        f = mr_family_find(families[i]);
        for (size_t j = 0; j < f->n_installs; j++)
            ck_assert_msg(strstr(f->installs[j].command, "{artifacts}"), "%s: %s", families[i],
                          f->installs[j].command);
    }
}
END_TEST

/* What each package manager prints about a missing dependency names it. */
START_TEST(test_family_names_the_missing_dependency)
{
    static const struct {
        const char *output, *want;
    } cases[] = {
        /* dpkg 1.21, as `dpkg -i mr-demo-plus_1.0_all.deb` printed it here */
        { "Selecting previously unselected package mr-demo-plus.\n"
          "dpkg: dependency problems prevent configuration of mr-demo-plus:\n"
          " mr-demo-plus depends on mr-demo-lib (>= 1.0); however:\n"
          "  Package mr-demo-lib is not installed.\n",
          "mr-demo-lib" },
        /* the minimal image's dpkg, as it printed it in e2e_deps.sh */
        { "dpkg: package mr-demo-plus depends on mr-demo-lib, which is not installed or "
          "flagged to be installed\n",
          "mr-demo-lib" },
        /* apt 2.6 */
        { "The following packages have unmet dependencies:\n"
          " mr-demo-plus : Depends: mr-demo-lib but it is not installable\n"
          "E: Unable to correct problems, you have held broken packages.\n",
          "mr-demo-lib" },
        /* dnf 4 */
        { "Error: \n Problem: conflicting requests\n"
          "  - nothing provides mr-demo-lib needed by mr-demo-plus-1.0-1.noarch\n",
          "mr-demo-lib" },
        /* zypper 1.14 */
        { "Problem: nothing provides 'mr-demo-lib' needed by the to be installed "
          "mr-demo-plus-1.0-1.noarch\n",
          "mr-demo-lib" },
        /* yum 3 */
        { "Error: Package: mr-demo-plus-1.0-1.noarch (/mr-demo-plus-1.0-1.noarch)\n"
          "           Requires: mr-demo-lib\n",
          "mr-demo-lib" },
        /* rpm 4.18, as `rpm -i` printed it on this project's machine less a /bin/sh line */
        { "error: Failed dependencies:\n\tmr-demo-lib >= 1.0 is needed by mr-demo-plus-1.0-1.noarch\n",
          "mr-demo-lib" },
        { "E: Sub-process /usr/bin/dpkg returned an error code (1)\n", NULL },
        { "", NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = mr_family_missing_dependency(cases[i].output);
        ck_assert_msg((got == NULL) == (cases[i].want == NULL) &&
                          (!got || strcmp(got, cases[i].want) == 0),
                      "case %zu: got '%s', want '%s'", i, got, cases[i].want);
        free(got);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("family");
    TCase *tc = tcase_create("catalogue");
    tcase_add_test(tc, test_family_builtin_catalogue_is_the_shipped_file);
    tcase_add_loop_test(tc, test_family_builtin_catalogue_covers_the_seed_list, 0,
                        (int)(sizeof(families) / sizeof(families[0])));
    tcase_add_test(tc, test_family_unknown_is_null);
    tcase_add_test(tc, test_family_picks_logs_by_os_version);
    tcase_add_test(tc, test_family_tty_by_os_version);
    tcase_add_test(tc, test_family_sudo_log_of_a_missing_program_exits_127);
    tcase_add_test(tc, test_family_expands_artifacts_with_dependencies);
    tcase_add_test(tc, test_family_names_the_missing_dependency);
    tcase_add_test(tc, test_family_logs_script_runs_in_sh);
    tcase_add_test(tc, test_family_picks_install_by_os_version);
    tcase_add_test(tc, test_family_picks_keytype_by_os_version);
    tcase_add_test(tc, test_family_keytype_defaults_and_bad_range);
    tcase_add_test(tc, test_family_other_catalogue_replaces_builtin);
    tcase_add_test(tc, test_family_windows_entries_by_version);
    tcase_add_test(tc, test_family_refuses_bad_seed_entries);
    suite_add_tcase(s, tc);
    TCase *tx = tcase_create("commands");
    tcase_add_test(tx, test_family_expands_sudo_only_for_non_root);
    tcase_add_test(tx, test_family_sh_quoting_survives_sh);
    tcase_add_test(tx, test_family_powershell_quoting);
    tcase_add_test(tx, test_family_windows_paths_and_commands);
    tcase_add_test(tx, test_family_windows_2008r2_commands_exist_in_powershell_2);
    tcase_add_test(tx, test_family_wrap_encodes_utf16le);
    tcase_add_test(tx, test_family_base64_round_trip);
    tcase_add_test(tx, test_family_traits_of_sh_and_powershell);
    tcase_add_test(tx, test_family_env_assign_survives_sh);
    tcase_add_test(tx, test_family_seed_traits);
    suite_add_tcase(s, tx);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
