/* seed.h: the NoCloud seed of one guest: its files (meta-data, user-data, network-config)
 * rendered for cloud-init or cloudbase-init, and the ISO9660 image labelled "cidata" that
 * carries them, written with libarchive.
 *
 * mr_seed_render() is pure; struct mr_seed_files owns its strings (_release frees them).
 * The files hold the guest's private host key: the ISO is written 0600 and the caller
 * deletes it with the cell. */
#ifndef MR_SEED_H
#define MR_SEED_H

#include "family.h"
#include "util.h"

struct mr_seed_spec {
    enum mr_seed_kind kind;
    const char *instance_id;   /* new for every cell, so cloud-init runs again */
    const char *hostname;
    const char *user;          /* created with passwordless sudo / in Administrators */
    const char *user_pubkey;   /* OpenSSH line of the run's client key */
    const char *host_privkey;  /* OpenSSH private key text of the guest's host key */
    const char *host_pubkey;   /* its OpenSSH public line */
    const char *mac;           /* the NIC's MAC for network-config, or NULL for none */
    const char *extra_cloud_config; /* user's cloud-config appended (cloud-init), or NULL */
    const char *windows_password;   /* cloudbase-init: password for a user it must create */
    /* cloudbase-init: the PowerShell major version the script may use (the catalogue's
     * <seed powershell>): below 5 the script uses only what PowerShell 2.0 has; 0 is 5. */
    unsigned powershell;
    enum mr_sshd_source sshd_source; /* cloudbase-init: sshd when the image has none */
    /* cloudbase-init: local path of the Win32-OpenSSH release archive (OpenSSH-Win64.zip)
     * to put on the seed CD as MR_SEED_SSHD_MEMBER and install from, or NULL. */
    const char *sshd_package;
};

/* The seed CD's name for the Win32-OpenSSH package. */
#define MR_SEED_SSHD_MEMBER "win32-openssh.zip"
/* What starts the line a Windows seed script writes to the serial console (COM1) when it
 * stops: the guest will never answer SSH, and the line says why. */
#define MR_SEED_ERROR_MARKER "matrixrun seed error:"

struct mr_seed_files {
    char *meta_data;
    char *user_data;
    char *network_config; /* NULL: not written */
    char *sshd_package;   /* local file copied to the ISO as MR_SEED_SSHD_MEMBER, or NULL */
};

/* Renders the files; returns 0, or -EINVAL (err says why) for a spec that would break
 * the YAML or script it goes into (line breaks in names, a key without its type, extra
 * cloud-config that mr_seed_check_extra() refuses). */
int mr_seed_render(const struct mr_seed_spec *s, struct mr_seed_files *ret,
                   struct mr_err *err) MR_WUR;
void mr_seed_files_release(struct mr_seed_files *f);

/* Checks a user's extra cloud-config, which mr_seed_render() adds to the seed's own
 * document as more top-level keys: none may be a key the seed sets (users, ssh_keys,
 * hostname, ...) whatever its spelling ("users :", "'users':", "\"us\\x65rs\":", an
 * anchor before it, any YAML line break before it), and every top-level line must be
 * one the check can read (no tags, aliases, flow or explicit keys, merges, document
 * markers; no indented first line, which would extend the seed's last key). Keys below
 * the top level are the user's. Returns 0, or -EINVAL with *ret_line (from 1) and err
 * saying what the line does ("sets 'users', which matrixrun's seed sets itself ..."). */
int mr_seed_check_extra(const char *text, int *ret_line, struct mr_err *err) MR_WUR;

/* The line of a serial console log that says a Windows seed script stopped (it starts
 * with MR_SEED_ERROR_MARKER), without its line break, or NULL. Caller frees. */
char *mr_seed_serial_error(const char *log, size_t len);

/* Writes the files (sshd_package read from its file) as an ISO9660 image with Rock Ridge and Joliet, volume id "cidata",
 * mode 0600, atomically (no half image at path on failure). */
int mr_seed_write_iso(const char *path, const struct mr_seed_files *f, struct mr_err *err) MR_WUR;

#endif
