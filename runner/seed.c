/* seed.c: renders a guest's NoCloud seed (cloud-init or cloudbase-init) and writes it as
 * an ISO9660 "cidata" image with libarchive. */
#define _GNU_SOURCE
#include "seed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

/* Values are spelled into YAML and PowerShell: no line breaks or other controls. */
static int tame(const char *what, const char *v, struct mr_err *err)
{
    if (!v || !v[0]) {
        mr_err_set(err, "seed: %s is empty", what);
        return -EINVAL;
    }
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f) {
            mr_err_set(err, "seed: %s '%s' holds a control character", what, v);
            return -EINVAL;
        }
    return 0;
}

/* A YAML double-quoted scalar. */
static void yaml_str(struct mr_buf *b, const char *v)
{
    mr_buf_adds(b, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            mr_buf_adds(b, "\\");
        mr_buf_add(b, p, 1);
    }
    mr_buf_adds(b, "\"");
}

/* A YAML literal block, each line indented by ind spaces. */
static void yaml_block(struct mr_buf *b, const char *text, int ind)
{
    for (const char *p = text; *p;) {
        size_t l = strcspn(p, "\n");
        if (l)
            mr_buf_addf(b, "%*s%.*s\n", ind, "", (int)l, p);
        p += l;
        if (*p)
            p++;
    }
}

/* Keys the seed sets itself (or that would take the guest away from matrixrun: other
 * users, passwords, other host keys, another default user). */
static const char *const seed_keys[] = {
    "users", "user", "ssh_keys", "ssh_authorized_keys", "ssh_deletekeys", "ssh_genkeytypes",
    "disable_root", "hostname", "fqdn", "manage_etc_hosts", "ssh_pwauth", "chpasswd",
    "password", "system_info",
};

/* Length of the YAML line break at p, 0 if none: LF, CR LF, a CR alone, and NEL, LS and
 * PS in UTF-8, all of which cloud-init's YAML 1.1 parser ends a line at. */
static size_t yaml_break(const unsigned char *p)
{
    if (p[0] == '\r')
        return p[1] == '\n' ? 2 : 1;
    if (p[0] == '\n')
        return 1;
    if (p[0] == 0xc2 && p[1] == 0x85)
        return 2;
    if (p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9))
        return 3;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The escape at *p (past the backslash) of a double-quoted key, as one byte to compare
 * keys with: a code point past ASCII, or an escape YAML does not have, becomes 0x01,
 * which no key of the seed holds. Advances *p past it. */
static char yaml_unescape(const char **p, const char *end)
{
    static const char simple[] = "0\0a\ab\bt\tn\nv\vf\fr\re\x1b \x20\"\"//\\\\";
    char c = *(*p)++;
    size_t digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
    if (!digits) {
        for (size_t i = 0; i + 1 < sizeof(simple); i += 2)
            if (simple[i] == c)
                return simple[i + 1];
        return '\x01';
    }
    unsigned long v = 0;
    for (size_t i = 0; i < digits; i++, (*p)++) {
        int d = *p < end ? hex_digit(**p) : -1;
        if (d < 0)
            return '\x01';
        v = v * 16 + (unsigned long)d;
    }
    return v > 0 && v < 0x80 ? (char)v : '\x01';
}

/* The key a quoted scalar at line[0] spells, its quotes and escapes undone; *ret_end is
 * set past the closing quote. NULL when the quote does not close on the line. */
static char *quoted_key(const char *line, const char *end, const char **ret_end)
{
    struct mr_buf b;
    mr_buf_init(&b);
    char q = line[0];
    for (const char *p = line + 1; p < end;) {
        char c = *p++;
        if (c == q && !(q == '\'' && p < end && *p == '\'')) {
            *ret_end = p;
            return mr_buf_detach(&b, NULL);
        }
        if (c == q) /* '' in single quotes */
            p++;
        else if (q == '"' && c == '\\' && p < end)
            c = yaml_unescape(&p, end);
        mr_buf_add(&b, &c, 1);
    }
    mr_buf_release(&b);
    return NULL;
}

static int blank_at(const char *p, const char *end)
{
    return p >= end || *p == ' ' || *p == '\t';
}

/* The key of a plain scalar: it ends at a colon followed by white space or the line's
 * end, less the white space before the colon; " #" starts a comment first. */
static char *plain_key(const char *p, const char *end)
{
    for (const char *c = p; c < end; c++) {
        if (*c == '#' && c > p && blank_at(c - 1, end))
            return NULL;
        if (*c == ':' && blank_at(c + 1, end)) {
            while (c > p && blank_at(c - 1, end))
                c--;
            return mr_xstrndup(p, (size_t)(c - p));
        }
    }
    return NULL;
}

#define NOT_A_KEY "is not a 'key: value' line: the top level of an extra cloud-config holds keys only"

/* The key of a top-level line (no indentation, not blank, not a comment), or NULL with
 * *why saying what else the line is. Spaces before the colon, quotes, escapes and
 * anchors do not hide a key; what could spell one in a way this does not follow (tags,
 * aliases, explicit and flow keys, new documents) is refused as such. */
static char *top_key(const char *p, const char *end, const char **why)
{
    while (p < end && *p == '&') { /* an anchor names the node; the key is what follows */
        while (!blank_at(p, end))
            p++;
        while (p < end && blank_at(p, end))
            p++;
    }
    *why = NOT_A_KEY;
    if (p >= end || ((*p == '-' || *p == ':') && blank_at(p + 1, end)))
        return NULL;
    if (end - p >= 3 && (!memcmp(p, "---", 3) || !memcmp(p, "...", 3)) && blank_at(p + 3, end)) {
        *why = "is a YAML document marker: the extra cloud-config goes into matrixrun's "
               "document as more keys, not as another document";
        return NULL;
    }
    if (strchr("%!*{[|>@`,]}", *p) || (*p == '?' && blank_at(p + 1, end))) {
        *why = "is not a plain 'key: value' line (a directive, tag, alias, flow collection, "
               "explicit key or block scalar), which the check of the seed's keys cannot "
               "follow: write top-level keys as 'key: value'";
        return NULL;
    }
    const char *after = end;
    char *key = *p == '"' || *p == '\'' ? quoted_key(p, end, &after) : plain_key(p, end);
    if (key && (*p == '"' || *p == '\'')) {
        while (after < end && blank_at(after, end))
            after++;
        if (after >= end || *after != ':') {
            free(key);
            key = NULL;
        }
    }
    *why = key ? NULL : NOT_A_KEY;
    return key;
}

int mr_seed_check_extra(const char *text, int *ret_line, struct mr_err *err)
{
    int line = 1, seen_key = 0;
    const unsigned char *p = (const unsigned char *)text;
    for (const unsigned char *end; *p; p = end + yaml_break(end), line++) {
        end = p;
        while (*end && !yaml_break(end))
            end++;
        const unsigned char *c = p;
        while (c < end && (*c == ' ' || *c == '\t'))
            c++;
        if (c == end || *c == '#')
            continue;
        const char *why = NULL;
        _cleanup_free_ char *key = NULL;
        if (c > p && !seen_key)
            why = "is indented: it would add to matrixrun's own last key (ssh_keys) instead "
                  "of starting a key of its own";
        else if (c == p)
            key = top_key((const char *)p, (const char *)end, &why);
        seen_key = 1;
        if (key && strcmp(key, "<<") == 0)
            why = "merges a mapping into the top level ('<<'), which could set keys "
                  "matrixrun's seed sets itself";
        for (size_t i = 0; key && !why && i < MR_ARRAY_SIZE(seed_keys); i++)
            if (strcmp(key, seed_keys[i]) == 0) {
                *ret_line = line;
                mr_err_set(err, "sets '%s', which matrixrun's seed sets itself (user, keys, "
                           "host name)", seed_keys[i]);
                return -EINVAL;
            }
        if (why) {
            *ret_line = line;
            mr_err_set(err, "%s", why);
            return -EINVAL;
        }
    }
    return 0;
}

/* The meta-data keys both cloud-init and cloudbase-init read. */
static void meta_data_common(struct mr_buf *b, const struct mr_seed_spec *s)
{
    mr_buf_adds(b, "instance-id: ");
    yaml_str(b, s->instance_id);
    mr_buf_adds(b, "\nlocal-hostname: ");
    yaml_str(b, s->hostname);
    mr_buf_adds(b, "\n");
}

/* The host key's kind as cloud-init's ssh_keys and OpenSSH's ssh_host_<kind>_key name it,
 * from its public line; NULL for a type the seed does not write. */
static const char *host_key_kind(const char *pub)
{
    if (strncmp(pub, "ssh-ed25519 ", 12) == 0)
        return "ed25519";
    if (strncmp(pub, "ssh-rsa ", 8) == 0)
        return "rsa";
    return NULL;
}

static void render_cloud_init(const struct mr_seed_spec *s, struct mr_seed_files *f)
{
    struct mr_buf b;
    int root = strcmp(s->user, "root") == 0;

    mr_buf_init(&b);
    meta_data_common(&b, s);
    f->meta_data = mr_buf_detach(&b, NULL);

    mr_buf_adds(&b, "#cloud-config\n"
                    "# Written by matrixrun for one test cell and deleted with it.\n"
                    "hostname: ");
    yaml_str(&b, s->hostname);
    /* manage_etc_hosts: without a hosts entry for its name cloud-init reports an error. */
    mr_buf_adds(&b, "\nmanage_etc_hosts: true\nssh_pwauth: false\n");
    if (root) {
        /* Keys given at the top level reach root when disable_root is false. */
        mr_buf_adds(&b, "disable_root: false\nusers: []\nssh_authorized_keys:\n  - ");
        yaml_str(&b, s->user_pubkey);
        mr_buf_adds(&b, "\n");
    } else {
        mr_buf_adds(&b, "users:\n  - name: ");
        yaml_str(&b, s->user);
        mr_buf_adds(&b, "\n    gecos: matrixrun test user\n"
                        "    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n"
                        "    lock_passwd: true\n"
                        "    ssh_authorized_keys:\n      - ");
        yaml_str(&b, s->user_pubkey);
        mr_buf_adds(&b, "\n");
    }
    /* The guest's host key is the one matrixrun made and pins: cloud-init generates
     * none when ssh_keys names one (from 0.7.5 to 25.1, cc_ssh reads ssh_genkeytypes only
     * without ssh_keys; and cloud-init 25.1's schema refuses an empty ssh_genkeytypes,
     * which made its status "degraded"). cloud-init before 0.7.7 takes rsa_ and dsa_
     * keys only, and ignores the others without a word: the catalogue gives such guests
     * an RSA key. */
    const char *kind = host_key_kind(s->host_pubkey);
    mr_buf_addf(&b, "ssh_deletekeys: true\nssh_keys:\n"
                    "  %s_private: |\n", kind);
    yaml_block(&b, s->host_privkey, 4);
    mr_buf_addf(&b, "  %s_public: ", kind);
    yaml_str(&b, s->host_pubkey);
    mr_buf_adds(&b, "\n");
    if (s->extra_cloud_config) {
        mr_buf_adds(&b, "# From the matrix's <cloud-config>:\n");
        const char *x = s->extra_cloud_config;
        if (strncmp(x, "#cloud-config", 13) == 0)
            x += strcspn(x, "\n");
        while (*x == '\n')
            x++;
        mr_buf_adds(&b, x);
        if (b.len && b.data[b.len - 1] != '\n')
            mr_buf_adds(&b, "\n");
    }
    f->user_data = mr_buf_detach(&b, NULL);

    if (s->mac) {
        /* DHCP on the NIC with our MAC, named eth0 whatever the image calls it. */
        mr_buf_adds(&b, "version: 1\nconfig:\n  - type: physical\n    name: eth0\n"
                        "    mac_address: ");
        yaml_str(&b, s->mac);
        mr_buf_adds(&b, "\n    subnets:\n      - type: dhcp\n");
        f->network_config = mr_buf_detach(&b, NULL);
    }
}

/* A PowerShell single-quoted string. */
static void ps_str(struct mr_buf *b, const char *v)
{
    _cleanup_free_ char *q = mr_shell_quote(MR_SHELL_POWERSHELL, v);
    mr_buf_adds(b, q);
}

/* PowerShell writing text to a file with LF line ends and no BOM, the way OpenSSH wants
 * its keys, then limiting the file to SYSTEM and Administrators: sshd ignores a host key
 * or an administrators_authorized_keys file that anyone else may read. */
static void ps_write_private(struct mr_buf *b, const char *file, const char *text)
{
    mr_buf_addf(b, "$f = Join-Path $sshdir '%s'\n", file);
    mr_buf_adds(b, "[IO.File]::WriteAllText($f, ((@'\n");
    mr_buf_adds(b, text);
    if (text[0] && text[strlen(text) - 1] != '\n')
        mr_buf_adds(b, "\n");
    /* A here-string drops the last line break; OpenSSH wants it back. */
    mr_buf_adds(b, "'@ -replace \"`r`n\", \"`n\") + \"`n\"))\n"
                   "icacls.exe $f /inheritance:r /grant '*S-1-5-18:F' /grant '*S-1-5-32-544:F' "
                   "| Out-Null\n");
}

/* The script's way out: a message on the serial console (COM1), whose log the run keeps
 * and quotes in a failed boot, and on stderr for cloudbase-init's log; then it stops, so
 * that a guest that cannot get SSH says why instead of keeping the run waiting. COM1 may
 * be held by cloudbase-init's own serial logging: its log then carries the message.
 * And Invoke-Quiet, which runs a program for its exit status, its output kept in
 * $script:out: with $ErrorActionPreference 'Stop' a line on a native program's stderr
 * would end the script. A simple function: arguments that look like parameters
 * (-NoProfile) go on to the program in $args. */
static void ps_stop_seed_function(struct mr_buf *b)
{
    mr_buf_adds(b, "function Stop-Seed([string]$why) {\n"
                   "    $m = '" MR_SEED_ERROR_MARKER " ' + $why\n"
                   "    try {\n"
                   "        $port = New-Object System.IO.Ports.SerialPort 'COM1', 115200\n"
                   "        $port.Open()\n"
                   "        $port.WriteLine($m)\n"
                   "        $port.Close()\n"
                   "    } catch { }\n"
                   "    [Console]::Error.WriteLine($m)\n"
                   "    exit 1\n"
                   "}\n"
                   "function Invoke-Quiet([string]$exe) {\n"
                   "    $ErrorActionPreference = 'Continue'\n"
                   "    $script:out = @(& $exe @args 2>&1 | ForEach-Object { \"$_\".Trim() })\n"
                   "    $LASTEXITCODE\n"
                   "}\n");
}

/* The SSH user, an administrator that logs in by key only, with PowerShell 5.1's
 * LocalAccounts cmdlets (Windows Server 2016 on). */
static void ps5_user(struct mr_buf *b, const struct mr_seed_spec *s)
{
    mr_buf_adds(b, "# The SSH user: an administrator; it logs in by key only.\n"
                   "if (-not (Get-LocalUser -Name $user -ErrorAction SilentlyContinue)) {\n"
                   "    $pw = ConvertTo-SecureString ");
    ps_str(b, s->windows_password ? s->windows_password : "");
    mr_buf_adds(b, " -AsPlainText -Force\n"
                   "    New-LocalUser -Name $user -Password $pw -PasswordNeverExpires | Out-Null\n"
                   "}\n"
                   "Enable-LocalUser -Name $user\n"
                   "if (-not (Get-LocalGroupMember -SID 'S-1-5-32-544' -Member $user "
                   "-ErrorAction SilentlyContinue)) {\n"
                   "    Add-LocalGroupMember -SID 'S-1-5-32-544' -Member $user\n"
                   "}\n");
}

/* The same with what PowerShell 2.0 (Windows Server 2008 R2) has: net.exe, ADSI, .NET.
 * The user is made through ADSI, not `net user NAME PASSWORD /add`: a password on a
 * command line can be read from the process list by anyone on the guest while it runs. */
static void ps2_user(struct mr_buf *b, const struct mr_seed_spec *s)
{
    mr_buf_adds(b, "# The SSH user: an administrator; it logs in by key only.\n"
                   "if ((Invoke-Quiet net.exe user $user) -ne 0) {\n"
                   "    $pw = ");
    ps_str(b, s->windows_password ? s->windows_password : "");
    mr_buf_adds(b, "\n"
                   "    try {\n"
                   "        $computer = [ADSI]('WinNT://' + $env:COMPUTERNAME + ',computer')\n"
                   "        $u = $computer.Create('User', $user)\n"
                   "        $u.SetPassword($pw)\n"
                   "        $u.SetInfo()\n"
                   "        $u.UserFlags.Value = $u.UserFlags.Value -bor 0x10000 # password never expires\n"
                   "        $u.SetInfo()\n"
                   "    } catch {\n"
                   "        Stop-Seed ('could not create the user ' + $user + ': ' + "
                   "$_.Exception.Message)\n"
                   "    }\n"
                   "}\n"
                   "if ((Invoke-Quiet net.exe user $user /active:yes) -ne 0) {\n"
                   "    Stop-Seed ('net user could not enable the user ' + $user)\n"
                   "}\n"
                   "# Administrators by its SID: the group's name depends on the language.\n"
                   "$sid = New-Object System.Security.Principal.SecurityIdentifier('S-1-5-32-544')\n"
                   "$admins = $sid.Translate([System.Security.Principal.NTAccount]).Value.Split('\\')[-1]\n"
                   "if ((Invoke-Quiet net.exe localgroup $admins) -ne 0 -or -not ($script:out "
                   "-contains $user)) {\n"
                   "    if ((Invoke-Quiet net.exe localgroup $admins $user /add) -ne 0) {\n"
                   "        Stop-Seed ('net localgroup could not add ' + $user + ' to ' + $admins)\n"
                   "    }\n"
                   "}\n");
}

/* Win32-OpenSSH when the image has no sshd service: from the package on the seed CD
 * (unpacked with what the PowerShell has, then its install-sshd.ps1), else from
 * Windows' capability where the version has it, else the script stops. */
static void ps_sshd(struct mr_buf *b, const struct mr_seed_spec *s, int ps2)
{
    mr_buf_adds(b, "# Win32-OpenSSH: the server, then its keys.\n"
                   "if (-not (Get-Service sshd -ErrorAction SilentlyContinue)) {\n");
    if (s->sshd_package) {
        mr_buf_adds(b, "    $zip = $null\n"
                       "    foreach ($d in @(Get-WmiObject Win32_LogicalDisk -Filter 'DriveType=5')) {\n"
                       "        $z = Join-Path ($d.DeviceID + '\\') '" MR_SEED_SSHD_MEMBER "'\n"
                       "        if ($d.DeviceID -and (Test-Path -LiteralPath $z)) { $zip = $z }\n"
                       "    }\n"
                       "    if (-not $zip) {\n"
                       "        Stop-Seed 'the Win32-OpenSSH package " MR_SEED_SSHD_MEMBER
                       " is on no CD drive (the seed CD carries it)'\n"
                       "    }\n"
                       "    $dest = Join-Path $env:ProgramFiles 'OpenSSH'\n"
                       "    New-Item -ItemType Directory -Force -Path $dest | Out-Null\n");
        if (ps2) {
            /* No Expand-Archive before PowerShell 5, and no .NET 4.5 ZipFile under 2.0's
             * CLR: the shell's zip folders. CopyHere may return before the copy is done. */
            mr_buf_adds(b, "    $shell = New-Object -ComObject Shell.Application\n"
                           "    $shell.NameSpace($dest).CopyHere($shell.NameSpace($zip).Items(), 0x14)\n");
        } else {
            mr_buf_adds(b, "    Expand-Archive -LiteralPath $zip -DestinationPath $dest -Force\n");
        }
        mr_buf_adds(b, "    $inst = $null\n"
                       "    for ($i = 0; $i -lt 240 -and -not $inst; $i++) {\n"
                       "        $inst = Get-ChildItem -Path $dest -Recurse -Filter 'install-sshd.ps1' "
                       "| Select-Object -First 1\n"
                       "        if (-not $inst) { Start-Sleep -Milliseconds 500 }\n"
                       "    }\n"
                       "    if (-not $inst) {\n"
                       "        Stop-Seed 'the Win32-OpenSSH package " MR_SEED_SSHD_MEMBER
                       " holds no install-sshd.ps1 (use the OpenSSH-Win64.zip release archive)'\n"
                       "    }\n"
                       "    $ps = Join-Path $PSHOME 'powershell.exe'\n"
                       "    if ((Invoke-Quiet $ps -NoProfile -NonInteractive -ExecutionPolicy "
                       "Bypass -File $inst.FullName) -ne 0) {\n"
                       "        Stop-Seed ('install-sshd.ps1 of the Win32-OpenSSH package failed: ' "
                       "+ ($script:out -join ' '))\n"
                       "    }\n");
    } else if (s->sshd_source == MR_SSHD_CAPABILITY && !ps2) {
        mr_buf_adds(b, "    Add-WindowsCapability -Online -Name 'OpenSSH.Server~~~~0.0.1.0' | Out-Null\n");
    } else {
        mr_buf_adds(b, "    Stop-Seed ('the image has no sshd service and this Windows version has no "
                       "OpenSSH capability (it came with Windows Server 2019): name the "
                       "Win32-OpenSSH release archive in the matrix image, <sshd "
                       "path=\"OpenSSH-Win64.zip\"/>, or use an image with sshd installed')\n");
    }
    mr_buf_adds(b, "}\n"
                   "if (-not (Get-Service sshd -ErrorAction SilentlyContinue)) {\n"
                   "    Stop-Seed 'Win32-OpenSSH was installed but there is no sshd service'\n"
                   "}\n");
}

static void render_cloudbase_init(const struct mr_seed_spec *s, struct mr_seed_files *f)
{
    /* PowerShell 2.0 for 2008 R2 (and 2012's 3.0 and 4.0, which lack 5.1's cmdlets too). */
    int ps2 = s->powershell && s->powershell < 5;
    struct mr_buf b;
    mr_buf_init(&b);
    meta_data_common(&b, s);
    mr_buf_adds(&b, "admin-username: ");
    yaml_str(&b, s->user);
    mr_buf_adds(&b, "\npublic-keys:\n  - ");
    yaml_str(&b, s->user_pubkey);
    mr_buf_adds(&b, "\n");
    f->meta_data = mr_buf_detach(&b, NULL);

    /* cloudbase-init runs a user-data script that starts with #ps1_sysnative in 64-bit
     * PowerShell as SYSTEM. */
    mr_buf_addf(&b, "#ps1_sysnative\n"
                    "# Written by matrixrun for one test cell and deleted with it.\n"
                    "# For PowerShell %s.\n"
                    "$ErrorActionPreference = 'Stop'\n",
                ps2 ? "2.0 (Windows Server 2008 R2, 2012)" : "5.1 (Windows Server 2016 on)");
    ps_stop_seed_function(&b);
    mr_buf_adds(&b, "$user = ");
    ps_str(&b, s->user);
    mr_buf_adds(&b, "\n");
    if (ps2)
        ps2_user(&b, s);
    else
        ps5_user(&b, s);
    ps_sshd(&b, s, ps2);
    mr_buf_adds(&b, "$sshdir = Join-Path $env:ProgramData 'ssh'\n"
                    "New-Item -ItemType Directory -Force -Path $sshdir | Out-Null\n"
                    "Get-ChildItem -Path (Join-Path $sshdir 'ssh_host_*') -ErrorAction "
                    "SilentlyContinue | Remove-Item -Force\n");
    /* The host key matrixrun made and pins; the runner refuses any other. */
    _cleanup_free_ char *keyfile = mr_xasprintf("ssh_host_%s_key", host_key_kind(s->host_pubkey));
    _cleanup_free_ char *pubfile = mr_xasprintf("%s.pub", keyfile);
    ps_write_private(&b, keyfile, s->host_privkey);
    ps_write_private(&b, pubfile, s->host_pubkey);
    /* Members of Administrators authenticate against this file only, not ~/.ssh. */
    ps_write_private(&b, "administrators_authorized_keys", s->user_pubkey);
    mr_buf_adds(&b, "Set-Service -Name sshd -StartupType Automatic\n"
                    "Restart-Service -Name sshd -Force\n");
    if (ps2)
        mr_buf_adds(&b, "if ((Invoke-Quiet netsh.exe advfirewall firewall show rule "
                        "name=matrixrun-sshd) -ne 0) {\n"
                        "    if ((Invoke-Quiet netsh.exe advfirewall firewall add rule "
                        "name=matrixrun-sshd dir=in action=allow protocol=TCP localport=22) -ne 0) {\n"
                        "        Stop-Seed ('netsh advfirewall could not open port 22: ' + "
                        "($script:out -join ' '))\n"
                        "    }\n"
                        "}\n");
    else
        mr_buf_adds(&b, "if (-not (Get-NetFirewallRule -Name 'matrixrun-sshd' -ErrorAction "
                        "SilentlyContinue)) {\n"
                        "    New-NetFirewallRule -Name 'matrixrun-sshd' -DisplayName 'matrixrun SSH' "
                        "-Direction Inbound -Protocol TCP -LocalPort 22 -Action Allow | Out-Null\n"
                        "}\n");
    f->user_data = mr_buf_detach(&b, NULL);
    f->network_config = NULL; /* Windows takes DHCP by itself */
    f->sshd_package = s->sshd_package ? mr_xstrdup(s->sshd_package) : NULL;
}

int mr_seed_render(const struct mr_seed_spec *s, struct mr_seed_files *ret, struct mr_err *err)
{
    int r;
    if ((r = tame("instance id", s->instance_id, err)) < 0 ||
        (r = tame("host name", s->hostname, err)) < 0 || (r = tame("user", s->user, err)) < 0 ||
        (r = tame("user key", s->user_pubkey, err)) < 0 ||
        (r = tame("host public key", s->host_pubkey, err)) < 0 ||
        (s->mac && (r = tame("MAC address", s->mac, err)) < 0))
        return r;
    if (!s->host_privkey || !strstr(s->host_privkey, "PRIVATE KEY")) {
        mr_err_set(err, "seed: the host private key is not an OpenSSH private key");
        return -EINVAL;
    }
    if (!host_key_kind(s->host_pubkey)) {
        mr_err_set(err, "seed: the host key must be ssh-ed25519 or ssh-rsa (got '%.20s')",
                   s->host_pubkey);
        return -EINVAL;
    }
    /* OpenSSH before 6.5 reads PEM private keys only; an RSA key is for such guests. */
    if (strcmp(host_key_kind(s->host_pubkey), "rsa") == 0 &&
        !strstr(s->host_privkey, "-----BEGIN RSA PRIVATE KEY-----")) {
        mr_err_set(err, "seed: the RSA host private key is not in PEM format, which OpenSSH "
                        "before 6.5 needs");
        return -EINVAL;
    }
    if (s->kind != MR_SEED_CLOUDBASE_INIT && s->sshd_package) {
        mr_err_set(err, "seed: a Win32-OpenSSH package is for cloudbase-init (Windows) seeds");
        return -EINVAL;
    }
    if (s->kind == MR_SEED_CLOUDBASE_INIT && s->extra_cloud_config) {
        mr_err_set(err, "seed: extra cloud-config is for cloud-init, not cloudbase-init");
        return -EINVAL;
    }
    int line;
    if (s->extra_cloud_config && mr_seed_check_extra(s->extra_cloud_config, &line, err) < 0) {
        mr_err_prefix(err, "seed: extra cloud-config line %d", line);
        return -EINVAL;
    }
    struct mr_seed_files f = { 0 };
    if (s->kind == MR_SEED_CLOUDBASE_INIT)
        render_cloudbase_init(s, &f);
    else
        render_cloud_init(s, &f);
    *ret = f;
    return 0;
}

void mr_seed_files_release(struct mr_seed_files *f)
{
    free(f->meta_data);
    free(f->user_data);
    free(f->network_config);
    free(f->sshd_package);
    memset(f, 0, sizeof(*f));
}

static int add_member(struct archive *a, const char *name, const char *data, time_t now)
{
    struct archive_entry *e = archive_entry_new();
    size_t len = strlen(data);
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, now, 0);
    int r = archive_write_header(a, e);
    if (r == ARCHIVE_OK && archive_write_data(a, data, len) != (la_ssize_t)len)
        r = ARCHIVE_FATAL;
    archive_entry_free(e);
    return r == ARCHIVE_OK ? 0 : -EIO;
}

char *mr_seed_serial_error(const char *log, size_t len)
{
    size_t ml = strlen(MR_SEED_ERROR_MARKER);
    const char *p = memmem(log, len, MR_SEED_ERROR_MARKER, ml);
    if (!p)
        return NULL;
    size_t n = 0, left = len - (size_t)(p - log);
    while (n < left && p[n] != '\n' && p[n] != '\r' && p[n] != '\0')
        n++;
    return mr_xstrndup(p, n);
}

/* A member copied from a local file, read in chunks: a package may be megabytes. */
static int add_file_member(struct archive *a, const char *name, const char *path, time_t now,
                           struct mr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mr_err_set(err, "cannot put '%s' on the seed image: %s", path, strerror(errno));
        return -EIO;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        mr_err_set(err, "cannot put '%s' on the seed image: not a regular file", path);
        close(fd);
        return -EIO;
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0600);
    archive_entry_set_size(e, (la_int64_t)st.st_size);
    archive_entry_set_mtime(e, now, 0);
    int r = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -EIO;
    archive_entry_free(e);
    char buf[65536];
    off_t left = st.st_size;
    while (r == 0 && left > 0) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            mr_err_set(err, "cannot read '%s' for the seed image: %s", path,
                       n < 0 ? strerror(errno) : "the file shrank");
            close(fd);
            return -EIO;
        }
        if (archive_write_data(a, buf, (size_t)n) != n)
            r = -EIO;
        left -= n;
    }
    close(fd);
    if (r < 0)
        mr_err_set(err, "cannot write '%s' into the seed image: %s", path,
                   archive_error_string(a) ? archive_error_string(a) : "write failed");
    return r;
}

int mr_seed_write_iso(const char *path, const struct mr_seed_files *f, struct mr_err *err)
{
    _cleanup_free_ char *tmp = mr_xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* 0600: the seed holds a private host key */
    if (fd < 0) {
        mr_err_set(err, "cannot create seed image '%s': %s", tmp, strerror(errno));
        return -errno;
    }
    struct archive *a = archive_write_new();
    time_t now = time(NULL);
    int r = -EIO;
    /* Rock Ridge keeps the names as cloud-init looks them up; Joliet serves Windows. */
    if (archive_write_set_format_iso9660(a) != ARCHIVE_OK ||
        archive_write_set_options(a, "iso9660:volume-id=cidata,iso9660:rockridge,"
                                     "iso9660:joliet") != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK)
        goto fail;
    if (add_member(a, "meta-data", f->meta_data, now) < 0 ||
        add_member(a, "user-data", f->user_data, now) < 0 ||
        (f->network_config && add_member(a, "network-config", f->network_config, now) < 0))
        goto fail;
    if (f->sshd_package &&
        (r = add_file_member(a, MR_SEED_SSHD_MEMBER, f->sshd_package, now, err)) < 0)
        goto fail_unlink;
    if (archive_write_close(a) != ARCHIVE_OK)
        goto fail;
    archive_write_free(a);
    a = NULL;
    if (fsync(fd) < 0 || close(fd) < 0) {
        fd = -1;
        mr_err_set(err, "cannot write seed image '%s': %s", tmp, strerror(errno));
        r = -errno;
        goto fail_unlink;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        mr_err_set(err, "cannot rename seed image to '%s': %s", path, strerror(errno));
        r = -errno;
        goto fail_unlink;
    }
    return 0;
fail:
    mr_err_set(err, "cannot write seed image '%s': %s", path,
               archive_error_string(a) ? archive_error_string(a) : "write failed");
fail_unlink:
    if (a)
        archive_write_free(a);
    if (fd >= 0)
        close(fd);
    (void)unlink(tmp);
    return r;
}
