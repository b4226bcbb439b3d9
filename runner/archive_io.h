/* archive_io.h: one .tar.gz of artefacts per test cell, and the only way matrixrun extracts
 * an archive (refusing anything that would land outside the destination).
 *
 * Ownership: members and their strings are borrowed for the duration of the call; the
 * caller owns err's message (mr_err_release). */

#ifndef MR_ARCHIVE_IO_H
#define MR_ARCHIVE_IO_H

#include <stddef.h>

#include "util.h"

struct mr_archive_member {
    const char *name;     /* path inside the archive, relative, e.g. "logs/cloud-init.log" */
    const char *src_path; /* regular file on disk to copy in, or NULL */
    const void *data;     /* or bytes in memory (when src_path is NULL); NULL if len is 0 */
    size_t len;
};

/* Writes the n members to path as a gzip-compressed pax (restricted) tar, atomically:
 * the archive is built in "<path>.tmp.XXXXXX" in the same folder, fsync'ed and renamed
 * over path, so path holds either its previous content or the whole new archive. On any
 * error the temp file is removed.
 *
 * Each member becomes a regular file, mode 0644, uid/gid 0 (root/root), mtime now.
 * Names must be canonical relative paths: not empty, not absolute, no empty, "." or ".."
 * components (so no "a//b" or trailing '/'); otherwise -EINVAL before anything is
 * written. Names are in the locale's charset: in the C locale (matrixrun never calls
 * setlocale) a non-ASCII name fails with -EILSEQ. (Setting names as UTF-8 instead
 * crashes libarchive 3.6/3.7 in the C locale, libarchive issue #2233.)
 *
 * A src_path is streamed in 64 KiB chunks; it must be a regular file, and a file still
 * growing (a serial log) is archived up to its size when opened.
 *
 * Returns 0 or -errno; err then names path and, where one is at fault, the member. */
int mr_archive_write_targz(const char *path, const struct mr_archive_member *m, size_t n,
                           struct mr_err *err) MR_WUR;

/* Extracts every entry of archive_path (any format and compression libarchive reads)
 * under dest_dir, created 0755 if missing; dest_dir should be new or empty. Never calls
 * chdir(): dest_dir is resolved with realpath() and prefixed to each entry's path and
 * hardlink target.
 *
 * Refused, per entry: absolute paths, ".." components or empty names (in the path or in
 * a hardlink target), anything whose location would pass through a symlink on disk
 * (ARCHIVE_EXTRACT_SECURE_SYMLINKS), and device nodes, FIFOs and sockets. Symlinks
 * themselves are created as stored, whatever they point to, but nothing is ever written
 * through one. Ownership, ACLs, xattrs and file flags are not restored; setuid/setgid/
 * sticky bits are dropped and the umask applies; mtimes are restored.
 *
 * The first refused entry stops the extraction: returns -EPERM with err naming the
 * archive and the entry. Entries extracted before it stay in dest_dir (and nowhere
 * else); callers should treat dest_dir as untrusted and incomplete (e.g. mr_rm_rf it).
 * Other failures return -errno: -ENOENT for a missing archive, -EILSEQ for a file that
 * is no archive libarchive knows, -EIO for a truncated or corrupt one. An empty file is
 * an archive with no entries. Returns 0 when every entry was extracted. */
int mr_archive_extract_secure(const char *archive_path, const char *dest_dir,
                              struct mr_err *err) MR_WUR;

#endif
