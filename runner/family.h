/* family.h: the OS-family catalogue (images/families.xml): how each family is seeded,
 * installs a local package artifact, reports the installed version and gives up its logs;
 * and the expansion of its command templates for one guest.
 *
 * The catalogue is process-wide: the built-in one (compiled from images/families.xml)
 * unless mr_family_catalogue_load() read another. Families are borrowed from it and live
 * until mr_family_catalogue_reset(). Strings returned as char * belong to the caller. */
#ifndef MR_FAMILY_H
#define MR_FAMILY_H

#include <stddef.h>

#include "keytype.h"
#include "util.h"

enum mr_shell {
    MR_SHELL_SH,
    MR_SHELL_POWERSHELL,
};

enum mr_seed_kind {
    MR_SEED_CLOUD_INIT,
    MR_SEED_CLOUDBASE_INIT,
};

struct mr_family_install {
    char *command;
    unsigned min_version; /* 0: no lower bound */
    unsigned max_version; /* 0: no upper bound */
};

/* An <ssh> entry: the key type for the OS versions it covers. */
struct mr_family_ssh {
    enum mr_keytype keytype;
    int tty;              /* tty="yes": each command on a pseudo-terminal (requiretty) */
    unsigned min_version; /* 0: no lower bound */
    unsigned max_version; /* 0: no upper bound */
};

/* Where a cloudbase-init guest's sshd comes from when the image has none. */
enum mr_sshd_source {
    MR_SSHD_CAPABILITY, /* Windows' OpenSSH.Server capability (Windows Server 2019 on) */
    MR_SSHD_PACKAGE,    /* only the Win32-OpenSSH archive the matrix names (<sshd>) */
};

/* A <seed> entry (cloudbase-init families): what the seed script may use on the OS
 * versions it covers. */
struct mr_family_seed {
    unsigned powershell;       /* the PowerShell major version the script is written for */
    enum mr_sshd_source sshd;
    unsigned min_version;      /* 0: no lower bound */
    unsigned max_version;      /* 0: no upper bound */
};

struct mr_family_log {
    char *name;
    char *command;
    unsigned min_version; /* the OS versions that have it (0: no bound); others do not */
    unsigned max_version;
};

/* Whether a log exists on an OS version ("9", "15-SP5": its leading number counts). An
 * image with no version takes every log. */
int mr_family_log_applies(const struct mr_family_log *l, const char *os_version);
/* What a log command's exit status 127 means: the shell found no such command, so the
 * log cannot exist on that guest (absent, not a failure). */
#define MR_FAMILY_LOG_ABSENT_STATUS 127

struct mr_family {
    char *name;
    char *format;       /* "deb", "rpm", "msi" */
    char *default_user;
    char *tmpdir;
    enum mr_shell shell;
    enum mr_seed_kind seed;
    unsigned boot_timeout_hint_s;
    struct mr_family_ssh *ssh;
    size_t n_ssh;
    struct mr_family_seed *seeds;
    size_t n_seeds;
    struct mr_family_install *installs;
    size_t n_installs;
    char *version_cmd;
    struct mr_family_log *logs;
    size_t n_logs;
    int line;
};

/* Reads a catalogue file (NULL: the built-in one) and makes it the process's catalogue.
 * On failure the previous catalogue stays and err says "FILE:LINE: ...". */
int mr_family_catalogue_load(const char *path, struct mr_err *err) MR_WUR;
/* Frees the loaded catalogue (the next lookup loads the built-in one again). */
void mr_family_catalogue_reset(void);
/* Where the current catalogue came from ("built-in" or a path). Borrowed. */
const char *mr_family_catalogue_source(void);

/* The family called name, or NULL. Borrowed. */
const struct mr_family *mr_family_find(const char *name);
/* "debian, ubuntu, ..." for messages; caller frees. */
char *mr_family_names(void);

/* The catalogue entry an OS version uses, as `list` names it: the family, and the
 * version range of its install command ("rhel<=7", "rhel>=8", "sles", "debian"). Caller
 * frees. */
char *mr_family_entry_name(const struct mr_family *f, const char *os_version);

/* The install template for an OS version such as "8", "8.9" or "15-SP5" (its leading
 * number counts); version NULL takes the family's last template. NULL if none matches. */
const char *mr_family_install_template(const struct mr_family *f, const char *os_version);

/* The SSH key type (host key and user key) for an OS version, chosen among the family's
 * <ssh> entries as mr_family_install_template() chooses; MR_KEYTYPE_ED25519 when none
 * matches. */
enum mr_keytype mr_family_keytype(const struct mr_family *f, const char *os_version);
/* Whether commands run on a pseudo-terminal for that OS version (the <ssh> entry's
 * tty="yes": the release's sudo has `Defaults requiretty`). */
int mr_family_tty(const struct mr_family *f, const char *os_version);

/* The <seed> entry for an OS version, chosen as mr_family_install_template() chooses;
 * when none matches, a PowerShell 5 script with sshd from the capability. Borrowed. */
const struct mr_family_seed *mr_family_seed_entry(const struct mr_family *f,
                                                  const char *os_version);

/* Values for the placeholders of a template (see images/families.xml). */
struct mr_family_vars {
    const char *artifact;  /* remote path of the uploaded artifact */
    /* {artifacts}: the artifact, then these (remote paths of its dependencies), each
     * quoted, separated by spaces: for install commands that take several files. */
    const char *const *deps;
    size_t n_deps;
    const char *package;
    const char *user;      /* {sudo} is empty for root (and for PowerShell) */
};

/* The remote path the artifact is uploaded to (tmpdir + a tame form of its base name),
 * as the guest's shell spells it, and the SFTP path for the same file. */
char *mr_family_remote_path(const struct mr_family *f, const char *local_path);
char *mr_family_sftp_path(const struct mr_family *f, const char *remote_path);

/* Expands a template: each placeholder becomes its value quoted for the family's shell.
 * Unknown placeholders are left as they are. */
char *mr_family_expand(const struct mr_family *f, const char *tmpl,
                       const struct mr_family_vars *v);
/* A <log> command, expanded as mr_family_expand does, except one that starts with
 * {sudo}PROGRAM under sudo (sh families, a user other than root): sudo answers a
 * program it cannot find with its own status 1, so the command becomes
 * sudo -n sh -c 'command -v PROGRAM >/dev/null 2>&1 || exit 127; REST', which exits with
 * MR_FAMILY_LOG_ABSENT_STATUS as a shell does, looking the program up on root's PATH. */
char *mr_family_expand_log(const struct mr_family *f, const char *tmpl,
                           const struct mr_family_vars *v);
/* The command line to send over SSH: cmd itself for sh; for PowerShell,
 * "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand B64" with
 * cmd as UTF-16LE base64, so no quoting survives two shells. */
char *mr_family_wrap(const struct mr_family *f, const char *cmd);
/* s quoted for the shell: 'it'\''s' for sh, 'it''s' for PowerShell (which also ends such
 * a string at U+2018-U+201B, so those are doubled too). */
char *mr_shell_quote(enum mr_shell shell, const char *s);

/* What a family's guests do differently beyond the catalogue's commands: the pipeline
 * asks these instead of looking at the shell or the seed itself. */

/* The command that prints the guest's kernel release (Windows: its version) on a line. */
const char *mr_family_kernel_query(const struct mr_family *f);
/* Whether the family's log commands are collected as one script (mr_family_logs_script,
 * POSIX shells only). Such a script asks for the kernel too, with
 * MR_FAMILY_LOGS_KERNEL_QUERY; the other families ask mr_family_kernel_query() alone. */
int mr_family_batches_logs(const struct mr_family *f);
/* The kernel release without starting a process (shell builtins only), for the script. */
#define MR_FAMILY_LOGS_KERNEL_QUERY "read -r k </proc/sys/kernel/osrelease && printf '%s\\n' \"$k\""
/* Appends to b the family shell's assignment of an environment variable for the command
 * that follows it: "export NAME='value'; " or "$env:NAME = 'value'; ". */
void mr_family_env_assign(const struct mr_family *f, struct mr_buf *b, const char *name,
                          const char *value);
/* The command that runs the program at remote_path (as mr_family_remote_path spells it)
 * with args, already quoted for the shell: "'path' args"; PowerShell's "& 'path' args",
 * since a quoted string alone is a value there, not a command. Caller frees. */
char *mr_family_run_program(const struct mr_family *f, const char *remote_path,
                            const char *args);
/* Whether the family's guests run Windows programs (mrbench.exe, not mrbench). */
int mr_family_is_windows(const struct mr_family *f);

/* The package a failed install's output (any family's package manager: dpkg, apt, yum,
 * dnf, zypper, rpm) says is missing, or NULL. Caller frees. */
char *mr_family_missing_dependency(const char *output);

/* How a seeded guest is provisioned, as the report's "provisioning" property says it. */
const char *mr_family_provisioning(const struct mr_family *f);
/* A fresh random password for the account the family's seed must create (Windows'
 * default complexity rule met), or NULL when its seed creates none with a password:
 * logins use the run's key only. Caller clears and frees. */
char *mr_family_seed_password(const struct mr_family *f);
/* After SSH answers, a seeded guest may still be running the program that read the seed
 * (cloud-init's package runs would race the install): the program's name, the command
 * that waits for it to end (exit 0: done; 127: the program is absent; else it failed),
 * the suite property that gets "done", "absent", "error" or "unknown", and the collected
 * log that says why it failed. */
struct mr_family_seed_wait {
    const char *program;
    const char *command;
    const char *property;
    const char *log;
};
/* The family's seed wait, or NULL when there is nothing to wait for. Borrowed. */
const struct mr_family_seed_wait *mr_family_seed_wait(const struct mr_family *f);

/* A log command's stderr kept at most, in the manifest's notes. */
#define MR_FAMILY_LOG_ERR_CAP 4096u

/* The log commands of a POSIX-shell family as one script, so that collecting them costs
 * one SSH exec instead of one each. cmds[i] runs in a subshell with stdin from /dev/null;
 * its stdout and stderr go to the exec's two streams between the frame lines
 * "MR-<nonce> <i>" and "\nMR-<nonce> <i> end <status>" (stderr: "... end"), written by
 * shell builtins only. nonce: fresh random hex for each script, so that no log can hold
 * the markers beforehand. A command that leaves a process behind holding its output open
 * keeps the exec from ending. Caller frees. */
char *mr_family_logs_script(const char *const *cmds, size_t n, const char *nonce);

struct mr_family_log_result {
    int status;            /* the command's exit status (128 + N: killed by signal N) */
    const char *out, *err; /* into the parsed streams; not NUL-terminated */
    size_t out_len, err_len; /* at most out_cap and MR_FAMILY_LOG_ERR_CAP */
    size_t out_dropped;    /* bytes of stdout past out_cap */
};

/* Reads the frames of mr_family_logs_script's two streams for n commands into res[n],
 * cutting each stdout at out_cap bytes and each stderr at MR_FAMILY_LOG_ERR_CAP. Returns
 * 0, or -EPROTO when a frame is missing, out of order or cut short. */
int mr_family_logs_parse(const char *out, size_t out_len, const char *err, size_t err_len,
                         const char *nonce, size_t n, size_t out_cap,
                         struct mr_family_log_result *res) MR_WUR;

/* The embedded catalogue and its schema (images/families.xml, images/families.rng). */
extern const char mr_family_catalogue[];
extern const size_t mr_family_catalogue_len;
extern const char mr_family_schema[];
extern const size_t mr_family_schema_len;

#endif
