/* archive_io.c: writes a cell's artefacts as one .tar.gz, atomically, and extracts archives
 * without letting any entry land outside the destination folder. */
#define _GNU_SOURCE
#include "archive_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#define COPY_CHUNK (64u * 1024)

static void archive_read_freep(struct archive **p)
{
    if (*p)
        archive_read_free(*p);
}
#define _cleanup_archive_read_ __attribute__((cleanup(archive_read_freep)))

static void archive_write_freep(struct archive **p)
{
    if (*p)
        archive_write_free(*p);
}
#define _cleanup_archive_write_ __attribute__((cleanup(archive_write_freep)))

static void archive_entry_freep(struct archive_entry **p)
{
    if (*p)
        archive_entry_free(*p);
}
#define _cleanup_archive_entry_ __attribute__((cleanup(archive_entry_freep)))

/* libarchive reports its own refusals and format errors with errno <= 0. */
static int archive_neg_errno(struct archive *a)
{
    int e = archive_errno(a);
    return e > 0 ? -e : -EIO;
}

static const char *archive_msg(struct archive *a)
{
    const char *s = archive_error_string(a);
    return s ? s : "unknown libarchive error";
}

/* Why a relative name is not acceptable, or NULL. strict also refuses empty and "."
 * components, which the writer never needs and which make two spellings of one path. */
static const char *bad_name(const char *name, bool strict)
{
    if (!name || !name[0])
        return "empty name";
    if (name[0] == '/')
        return "absolute path";
    for (const char *p = name;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return "'..' component";
        if (strict && (n == 0 || (n == 1 && p[0] == '.')))
            return "empty or '.' component";
        if (!slash)
            return NULL;
        p = slash + 1;
    }
}

/* Writes len bytes of one entry's data; 0 or -errno. */
static int write_all(struct archive *a, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        la_ssize_t n = archive_write_data(a, p, len);
        if (n < 0)
            return archive_neg_errno(a);
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Writes one member's header and data, from fd (size bytes) or from memory. */
static int write_member(struct archive *a, const struct mr_archive_member *m, int fd,
                        int64_t size, time_t now, struct mr_err *err)
{
    _cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, m->name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, now, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        mr_err_set(err, "%s", archive_msg(a));
        return archive_neg_errno(a);
    }

    if (fd < 0) {
        int r = write_all(a, m->data, m->len);
        if (r < 0)
            mr_err_set(err, "%s", archive_msg(a));
        return r;
    }

    _cleanup_free_ char *chunk = mr_xmalloc(COPY_CHUNK);
    for (int64_t left = size; left > 0;) {
        size_t want = left < (int64_t)COPY_CHUNK ? (size_t)left : COPY_CHUNK;
        ssize_t got = read(fd, chunk, want);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int r = -errno;
            mr_err_set(err, "cannot read '%s': %s", m->src_path, strerror(errno));
            return r;
        }
        if (got == 0) {
            /* The header already promised size bytes; zero padding would be a lie. */
            mr_err_set(err, "'%s' shrank while being archived", m->src_path);
            return -EIO;
        }
        int r = write_all(a, chunk, (size_t)got);
        if (r < 0) {
            mr_err_set(err, "%s", archive_msg(a));
            return r;
        }
        left -= got;
    }
    return 0;
}

/* Adds one member; on failure sets err (without the archive path) and returns -errno. */
static int add_member(struct archive *a, const struct mr_archive_member *m, time_t now,
                      struct mr_err *err)
{
    if (!m->src_path) {
        if (!m->data && m->len > 0) {
            mr_err_set(err, "no data and no source file");
            return -EINVAL;
        }
        return write_member(a, m, -1, (int64_t)m->len, now, err);
    }

    int fd = open(m->src_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        mr_err_set(err, "cannot open '%s': %s", m->src_path, strerror(errno));
        return r;
    }
    struct stat st;
    int r;
    if (fstat(fd, &st) < 0) {
        r = -errno;
        mr_err_set(err, "cannot stat '%s': %s", m->src_path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        r = -EINVAL;
        mr_err_set(err, "'%s' is not a regular file", m->src_path);
    } else {
        /* A log still being written grows while we copy: archive the size seen now. */
        r = write_member(a, m, fd, (int64_t)st.st_size, now, err);
    }
    close(fd);
    return r;
}

int mr_archive_write_targz(const char *path, const struct mr_archive_member *m, size_t n,
                           struct mr_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *why = bad_name(m[i].name, true);
        if (why) {
            mr_err_set(err, "cannot write archive '%s': member '%s': %s", path,
                       m[i].name ? m[i].name : "", why);
            return -EINVAL;
        }
    }

    _cleanup_free_ char *tmp = mr_xasprintf("%s.tmp.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        mr_err_set(err, "cannot write archive '%s': cannot create '%s': %s", path, tmp,
                   strerror(errno));
        return r;
    }

    int r;
    const char *member = NULL;
    struct archive *a = archive_write_new();
    if (archive_write_add_filter_gzip(a) != ARCHIVE_OK ||
        archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        /* A regular file needs no padding to the 10 KiB tape block after the gzip end. */
        archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        r = archive_neg_errno(a);
        mr_err_set(err, "%s", archive_msg(a));
        goto fail;
    }

    time_t now = time(NULL);
    for (size_t i = 0; i < n; i++) {
        r = add_member(a, &m[i], now, err);
        if (r < 0) {
            member = m[i].name;
            goto fail;
        }
    }
    /* Close flushes the gzip trailer; its failure (ENOSPC) must not be ignored. */
    if (archive_write_close(a) != ARCHIVE_OK) {
        r = archive_neg_errno(a);
        mr_err_set(err, "%s", archive_msg(a));
        goto fail;
    }
    archive_write_free(a);
    a = NULL;

    if (fchmod(fd, 0644) < 0 || fsync(fd) < 0) {
        r = -errno;
        mr_err_set(err, "%s", strerror(errno));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        r = -errno;
        mr_err_set(err, "%s", strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        r = -errno;
        mr_err_set(err, "cannot rename '%s': %s", tmp, strerror(errno));
        goto fail;
    }
    return 0;

fail:
    if (member)
        mr_err_prefix(err, "cannot write archive '%s': member '%s'", path, member);
    else
        mr_err_prefix(err, "cannot write archive '%s'", path);
    if (a)
        archive_write_free(a);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return r;
}

/* Rewrites e's path (and hardlink target) to lie under root, or says why it may not. */
static const char *rebase_entry(struct archive_entry *e, const char *root)
{
    const char *name = archive_entry_pathname(e);
    const char *why = bad_name(name, false);
    if (why)
        return why;
    /* libarchive makes a hardlink with link() whatever the entry's file type says (tar
     * stores none), so only the target matters: it must name something inside root. */
    const char *link = archive_entry_hardlink(e);
    if (link && bad_name(link, false))
        return "hardlink target is empty, absolute or has a '..' component";
    if (!link) {
        switch (archive_entry_filetype(e)) {
        case AE_IFREG:
        case AE_IFDIR:
        case AE_IFLNK:
            break;
        default:
            /* A device node in a guest's log bundle can only be an attack on the host. */
            return "device, FIFO or socket";
        }
    }

    _cleanup_free_ char *full = mr_xasprintf("%s/%s", root, name);
    archive_entry_copy_pathname(e, full);
    if (link) {
        _cleanup_free_ char *full_link = mr_xasprintf("%s/%s", root, link);
        archive_entry_copy_hardlink(e, full_link);
    }
    return NULL;
}

/* Copies the current entry's data from in to disk; 0 or -errno with err set. */
static int copy_data(struct archive *in, struct archive *disk, struct mr_err *err)
{
    for (;;) {
        const void *buf;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(in, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            return 0;
        if (r < ARCHIVE_OK) {
            mr_err_set(err, "%s", archive_msg(in));
            return archive_neg_errno(in);
        }
        /* write_data_block returns ARCHIVE_WARN when write() failed: not a success. */
        if (archive_write_data_block(disk, buf, len, off) < ARCHIVE_OK) {
            mr_err_set(err, "%s", archive_msg(disk));
            return archive_neg_errno(disk);
        }
    }
}

int mr_archive_extract_secure(const char *archive_path, const char *dest_dir,
                              struct mr_err *err)
{
    int r = mr_mkdir_p(dest_dir, 0755);
    if (r < 0) {
        mr_err_set(err, "cannot extract '%s': cannot create '%s': %s", archive_path,
                   dest_dir, strerror(-r));
        return r;
    }
    /* Without symlinks in the prefix, SECURE_SYMLINKS judges only what the archive made. */
    _cleanup_free_ char *root = realpath(dest_dir, NULL);
    if (!root) {
        r = -errno;
        mr_err_set(err, "cannot extract '%s': cannot resolve '%s': %s", archive_path,
                   dest_dir, strerror(errno));
        return r;
    }

    _cleanup_archive_read_ struct archive *in = archive_read_new();
    archive_read_support_format_all(in);
    archive_read_support_filter_all(in);
    if (archive_read_open_filename(in, archive_path, COPY_CHUNK) != ARCHIVE_OK) {
        mr_err_set(err, "cannot extract '%s': %s", archive_path, archive_msg(in));
        return archive_neg_errno(in);
    }

    /* No ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS: every path we hand over is absolute
     * (root prefixed, because we may not chdir), so libarchive would refuse them all.
     * rebase_entry() refuses absolute names in the archive instead. NODOTDOT stays as a
     * second check of the prefixed path. No OWNER, PERM, ACL, XATTR or FFLAGS: a guest's
     * archive decides contents and mtimes, nothing else. */
    _cleanup_archive_write_ struct archive *disk = archive_write_disk_new();
    archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_TIME |
                                             ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                             ARCHIVE_EXTRACT_SECURE_SYMLINKS);

    for (;;) {
        struct archive_entry *e;
        r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            mr_err_set(err, "cannot extract '%s': %s", archive_path, archive_msg(in));
            return archive_neg_errno(in);
        }
        const char *raw = archive_entry_pathname(e);
        _cleanup_free_ char *name = mr_xstrdup(raw ? raw : "");

        const char *why = rebase_entry(e, root);
        if (why) {
            mr_err_set(err, "cannot extract '%s': entry '%s' refused: %s", archive_path,
                       name, why);
            return -EPERM;
        }
        r = archive_write_header(disk, e);
        if (r < ARCHIVE_WARN) {
            /* libarchive's own refusals ("Cannot extract through symlink", "Path contains
             * '..'") carry errno 0 or ARCHIVE_ERRNO_MISC; a real errno is an I/O failure. */
            int e_no = archive_errno(disk);
            mr_err_set(err, "cannot extract '%s': entry '%s' %s: %s", archive_path, name,
                       e_no > 0 ? "failed" : "refused", archive_msg(disk));
            return e_no > 0 ? -e_no : -EPERM;
        }
        /* write_header zeroes the size of entries that take no data (dirs, links). */
        if (!archive_entry_size_is_set(e) || archive_entry_size(e) > 0) {
            r = copy_data(in, disk, err);
            if (r < 0) {
                mr_err_prefix(err, "cannot extract '%s': entry '%s'", archive_path, name);
                return r;
            }
        }
        if (archive_write_finish_entry(disk) < ARCHIVE_WARN) {
            mr_err_set(err, "cannot extract '%s': entry '%s': %s", archive_path, name,
                       archive_msg(disk));
            return archive_neg_errno(disk);
        }
    }
    /* Close applies the deferred directory times. */
    if (archive_write_close(disk) < ARCHIVE_WARN) {
        mr_err_set(err, "cannot extract '%s': %s", archive_path, archive_msg(disk));
        return archive_neg_errno(disk);
    }
    return 0;
}
