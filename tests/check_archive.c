/* check_archive.c: the per-cell .tar.gz writer (read back by libarchive and GNU tar,
 * atomic, strict names) and secure extraction (hostile entries never leave dest). */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "archive_io.h"

/* ---- helpers ---- */

static char *make_tmpdir(const char *tag)
{
    char *d = mr_xasprintf("/tmp/mr-archive-%s-XXXXXX", tag);
    ck_assert_ptr_nonnull(mkdtemp(d));
    return d;
}

static void put_file(const char *path, const void *data, size_t len)
{
    struct mr_err e = { 0 };
    ck_assert_msg(mr_file_write_atomic(path, data, len, &e) == 0, "%s", mr_err_msg(&e));
    mr_err_release(&e);
}

static char *slurp(const char *path, size_t *len)
{
    char *d = NULL;
    int r = mr_file_read(path, &d, len);
    ck_assert_msg(r == 0, "cannot read '%s': %s", path, strerror(-r));
    return d;
}

static void assert_file_is(const char *path, const void *want, size_t want_len)
{
    size_t len;
    char *got = slurp(path, &len);
    ck_assert_msg(len == want_len, "'%s': %zu bytes, want %zu", path, len, want_len);
    ck_assert_msg(memcmp(got, want, len) == 0, "'%s': content differs", path);
    free(got);
}

/* Names in dir other than "." and "..". */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

/* Appends every path under dir (not following symlinks), one per line. */
static void walk(const char *dir, struct mr_buf *out)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "opendir '%s': %s", dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = mr_xasprintf("%s/%s", dir, e->d_name);
        mr_buf_addf(out, "%s\n", p);
        struct stat st;
        ck_assert_int_eq(lstat(p, &st), 0);
        if (S_ISDIR(st.st_mode))
            walk(p, out);
        free(p);
    }
    closedir(d);
}

/* Deterministic bytes that are neither text nor compressible to nothing. */
static unsigned char *pattern(size_t n, unsigned seed)
{
    unsigned char *p = mr_xmalloc(n);
    unsigned x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (unsigned char)(x >> 16);
    }
    return p;
}

/* An entry of a hand-built archive. */
struct raw_entry {
    const char *name;
    unsigned type;        /* AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO, AE_IFCHR */
    const char *symlink;  /* for AE_IFLNK */
    const char *hardlink; /* makes a hardlink entry */
    const char *data;     /* content, or NULL */
    time_t mtime;
};

/* Writes exactly the given entries with libarchive's writer (which, unlike bsdtar,
 * keeps absolute and ".." names as they are). Its pax writer stores no data for
 * hardlinks, so a hardlink attack is judged by the victim's link count. */
static void write_raw(const char *path, const struct raw_entry *ents, size_t n, int gzip)
{
    struct archive *a = archive_write_new();
    if (gzip)
        ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        const struct raw_entry *r = &ents[i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, r->name);
        archive_entry_set_filetype(e, r->type);
        archive_entry_set_perm(e, r->type == AE_IFDIR ? 0755 : 0644);
        archive_entry_set_mtime(e, r->mtime ? r->mtime : 1700000000, 0);
        if (r->symlink)
            archive_entry_set_symlink(e, r->symlink);
        if (r->hardlink)
            archive_entry_set_hardlink(e, r->hardlink);
        if (r->type == AE_IFCHR)
            archive_entry_set_rdev(e, makedev(1, 3));
        size_t len = r->data ? strlen(r->data) : 0;
        archive_entry_set_size(e, (la_int64_t)len);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        if (len)
            ck_assert_int_eq(archive_write_data(a, r->data, len), (la_ssize_t)len);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* ---- writer ---- */

START_TEST(test_write_round_trips_through_libarchive_and_tar)
{
    _cleanup_free_ char *dir = make_tmpdir("w");
    _cleanup_free_ char *src = mr_xasprintf("%s/serial.log", dir);
    _cleanup_free_ char *outdir = mr_xasprintf("%s/out", dir);
    _cleanup_free_ char *xdir = mr_xasprintf("%s/x", dir);
    _cleanup_free_ char *path = mr_xasprintf("%s/out/cell.tar.gz", dir);
    ck_assert_int_eq(mr_mkdir_p(outdir, 0755), 0);
    ck_assert_int_eq(mr_mkdir_p(xdir, 0755), 0);

    /* Several copy chunks and not a multiple of the 512-byte tar block. */
    const size_t big_len = 3 * 64 * 1024 + 1234;
    unsigned char *big = pattern(big_len, 7);
    put_file(src, big, big_len);
    static const char text[] = "cloud-init: done\nline two \xc3\xa9\n";
    static const char bin[] = "\x00\x01\x02\xff\x00";
    const struct mr_archive_member m[] = {
        { .name = "logs/serial.log", .src_path = src },
        { .name = "logs/cloud-init.log", .data = text, .len = sizeof(text) - 1 },
        { .name = "result.bin", .data = bin, .len = sizeof(bin) - 1 },
        { .name = "empty.txt", .data = NULL, .len = 0 },
    };
    struct { const void *data; size_t len; } want[] = {
        { big, big_len }, { text, sizeof(text) - 1 }, { bin, sizeof(bin) - 1 }, { "", 0 },
    };

    time_t t0 = time(NULL);
    struct mr_err e = { 0 };
    ck_assert_msg(mr_archive_write_targz(path, m, MR_ARRAY_SIZE(m), &e) == 0, "%s",
                  mr_err_msg(&e));
    time_t t1 = time(NULL);
    ck_assert_int_eq(count_entries(outdir), 1); /* no temp file left */
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 07777, 0644);

    /* libarchive: order, names, metadata and bytes. */
    struct archive *a = archive_read_new();
    archive_read_support_format_all(a);
    archive_read_support_filter_all(a);
    ck_assert_int_eq(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
    struct archive_entry *ent;
    size_t i = 0;
    while (archive_read_next_header(a, &ent) == ARCHIVE_OK) {
        ck_assert_uint_lt(i, MR_ARRAY_SIZE(m));
        ck_assert_str_eq(archive_entry_pathname(ent), m[i].name);
        ck_assert_uint_eq(archive_entry_filetype(ent), AE_IFREG);
        ck_assert_uint_eq(archive_entry_perm(ent), 0644);
        ck_assert_int_eq(archive_entry_uid(ent), 0);
        ck_assert_int_eq(archive_entry_gid(ent), 0);
        ck_assert_int_ge(archive_entry_mtime(ent), t0);
        ck_assert_int_le(archive_entry_mtime(ent), t1);
        ck_assert_int_eq(archive_entry_size(ent), (la_int64_t)want[i].len);
        char *buf = mr_xmalloc(want[i].len + 1);
        ck_assert_int_eq(archive_read_data(a, buf, want[i].len + 1), (la_ssize_t)want[i].len);
        ck_assert_msg(memcmp(buf, want[i].data, want[i].len) == 0, "%s differs", m[i].name);
        free(buf);
        i++;
    }
    ck_assert_uint_eq(i, MR_ARRAY_SIZE(m));
    ck_assert_str_eq(archive_filter_name(a, 0), "gzip");
    ck_assert_int_eq(archive_read_free(a), ARCHIVE_OK);

    /* GNU tar: lists what we wrote as root-owned 0644 files... */
    struct mr_buf out;
    mr_buf_init(&out);
    char *list[] = { "tar", "-tzvf", path, NULL };
    ck_assert_int_eq(mr_spawn(list, &out), 0);
    ck_assert_ptr_nonnull(out.data);
    char *line = out.data;
    for (i = 0; i < MR_ARRAY_SIZE(m); i++) {
        char *nl = strchr(line, '\n');
        ck_assert_msg(nl != NULL, "tar -t listed too little:\n%s", out.data);
        *nl = '\0';
        char mode[16], owner[64], day[16], hour[16], name[256];
        size_t size;
        ck_assert_int_eq(sscanf(line, "%15s %63s %zu %15s %15s %255s", mode, owner, &size, day,
                                hour, name), 6);
        ck_assert_str_eq(mode, "-rw-r--r--");
        ck_assert_str_eq(owner, "root/root");
        ck_assert_uint_eq(size, want[i].len);
        ck_assert_str_eq(name, m[i].name);
        line = nl + 1;
    }
    ck_assert_str_eq(line, "");
    /* ...and extracts it silently with the same bytes. */
    mr_buf_release(&out);
    char *extract[] = { "tar", "-xzf", path, "-C", xdir, NULL };
    ck_assert_int_eq(mr_spawn(extract, &out), 0);
    ck_assert_msg(out.len == 0, "tar -x said: %s", out.data);
    for (i = 0; i < MR_ARRAY_SIZE(m); i++) {
        char *p = mr_xasprintf("%s/%s", xdir, m[i].name);
        assert_file_is(p, want[i].data, want[i].len);
        free(p);
    }

    /* Our own extractor agrees too. */
    char *ydir = mr_xasprintf("%s/y", dir);
    ck_assert_msg(mr_archive_extract_secure(path, ydir, &e) == 0, "%s", mr_err_msg(&e));
    for (i = 0; i < MR_ARRAY_SIZE(m); i++) {
        char *p = mr_xasprintf("%s/%s", ydir, m[i].name);
        assert_file_is(p, want[i].data, want[i].len);
        free(p);
    }
    free(ydir);
    mr_buf_release(&out);
    mr_err_release(&e);
    free(big);
    ck_assert_int_eq(mr_rm_rf(dir), 0);
}
END_TEST

START_TEST(test_write_rejects_bad_member_names)
{
    static const char *const bad[] = {
        "", "/etc/passwd", "../x", "a/../b", "a/..", "..", "a//b", "./a", "a/./b", "a/", ".",
    };
    _cleanup_free_ char *dir = make_tmpdir("names");
    _cleanup_free_ char *path = mr_xasprintf("%s/cell.tar.gz", dir);
    for (size_t i = 0; i < MR_ARRAY_SIZE(bad); i++) {
        const struct mr_archive_member m[] = {
            { .name = "fine.txt", .data = "x", .len = 1 },
            { .name = bad[i], .data = "y", .len = 1 },
        };
        struct mr_err e = { 0 };
        ck_assert_int_eq(mr_archive_write_targz(path, m, 2, &e), -EINVAL);
        _cleanup_free_ char *quoted = mr_xasprintf("member '%s'", bad[i]);
        ck_assert_msg(strstr(mr_err_msg(&e), quoted) && strstr(mr_err_msg(&e), path),
                      "'%s': %s", bad[i], mr_err_msg(&e));
        ck_assert_int_eq(count_entries(dir), 0);
        mr_err_release(&e);
    }
    /* Tests run in the C locale, where the pax writer cannot make a non-ASCII name
     * UTF-8: a clean failure, not a crash or a half-written file. */
    const struct mr_archive_member utf = { .name = "caf\xc3\xa9.log", .data = "y", .len = 1 };
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_archive_write_targz(path, &utf, 1, &e), -EILSEQ);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "caf\xc3\xa9.log"));
    ck_assert_int_eq(count_entries(dir), 0);
    mr_err_release(&e);
    const struct mr_archive_member nul = { .name = NULL, .data = "y", .len = 1 };
    ck_assert_int_eq(mr_archive_write_targz(path, &nul, 1, NULL), -EINVAL);
    ck_assert_int_eq(count_entries(dir), 0);
    ck_assert_int_eq(mr_rm_rf(dir), 0);
}
END_TEST

START_TEST(test_write_missing_source_leaves_no_file)
{
    _cleanup_free_ char *dir = make_tmpdir("missing");
    _cleanup_free_ char *path = mr_xasprintf("%s/cell.tar.gz", dir);
    _cleanup_free_ char *gone = mr_xasprintf("%s/no-such-serial.log", dir);
    /* The bad member comes after a good one, so the temp archive already has data. */
    const struct mr_archive_member m[] = {
        { .name = "ok.txt", .data = "fine\n", .len = 5 },
        { .name = "logs/serial.log", .src_path = gone },
    };
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_archive_write_targz(path, m, 2, &e), -ENOENT);
    ck_assert_msg(strstr(mr_err_msg(&e), gone) && strstr(mr_err_msg(&e), path) &&
                      strstr(mr_err_msg(&e), "'logs/serial.log'"),
                  "%s", mr_err_msg(&e));
    ck_assert_int_eq(count_entries(dir), 0);

    /* A previous archive at path survives a failed rewrite untouched. */
    static const char prev[] = "previous archive bytes";
    put_file(path, prev, sizeof(prev) - 1);
    ck_assert_int_eq(mr_archive_write_targz(path, m, 2, &e), -ENOENT);
    assert_file_is(path, prev, sizeof(prev) - 1);
    ck_assert_int_eq(count_entries(dir), 1);

    /* A folder is not a file to archive. */
    const struct mr_archive_member d = { .name = "d", .src_path = dir };
    ck_assert_int_eq(mr_archive_write_targz(path, &d, 1, &e), -EINVAL);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), "not a regular file"));
    assert_file_is(path, prev, sizeof(prev) - 1);
    ck_assert_int_eq(count_entries(dir), 1);

    /* Nor can an archive go where there is no folder. */
    _cleanup_free_ char *nodir = mr_xasprintf("%s/nope/cell.tar.gz", dir);
    ck_assert_int_eq(mr_archive_write_targz(nodir, m, 1, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), nodir));
    mr_err_release(&e);
    ck_assert_int_eq(mr_rm_rf(dir), 0);
}
END_TEST

/* ---- extraction ---- */

START_TEST(test_extract_benign_archive_fully)
{
    _cleanup_free_ char *work = make_tmpdir("benign");
    _cleanup_free_ char *tar = mr_xasprintf("%s/good.tar", work);
    const struct raw_entry ents[] = {
        { .name = "./", .type = AE_IFDIR },
        { .name = "d/", .type = AE_IFDIR, .mtime = 1600000000 },
        { .name = "d/a.txt", .type = AE_IFREG, .data = "alpha\n", .mtime = 1650000000 },
        { .name = "d/e/f.bin", .type = AE_IFREG, .data = "\x01\x02\x03 binary-ish" },
        { .name = "d/ln", .type = AE_IFLNK, .symlink = "a.txt" },
        { .name = "d/hl", .type = AE_IFREG, .hardlink = "d/a.txt" },
        { .name = "./top.txt", .type = AE_IFREG, .data = "top\n" },
        { .name = "empty", .type = AE_IFREG },
    };
    write_raw(tar, ents, MR_ARRAY_SIZE(ents), 0);

    /* dest is reached through a symlink and does not exist yet. */
    _cleanup_free_ char *real = mr_xasprintf("%s/real", work);
    _cleanup_free_ char *via = mr_xasprintf("%s/via", work);
    ck_assert_int_eq(mkdir(real, 0755), 0);
    ck_assert_int_eq(symlink(real, via), 0);
    _cleanup_free_ char *dest = mr_xasprintf("%s/dest", via);
    struct mr_err e = { 0 };
    ck_assert_msg(mr_archive_extract_secure(tar, dest, &e) == 0, "%s", mr_err_msg(&e));

    char p[512];
    snprintf(p, sizeof(p), "%s/d/a.txt", dest);
    assert_file_is(p, "alpha\n", 6);
    struct stat a_st, hl_st;
    ck_assert_int_eq(stat(p, &a_st), 0);
    ck_assert_int_eq(a_st.st_mtime, 1650000000);
    ck_assert_uint_eq(a_st.st_mode & 07000, 0);
    snprintf(p, sizeof(p), "%s/d/e/f.bin", dest);
    assert_file_is(p, "\x01\x02\x03 binary-ish", 14);
    snprintf(p, sizeof(p), "%s/top.txt", dest);
    assert_file_is(p, "top\n", 4);
    snprintf(p, sizeof(p), "%s/empty", dest);
    assert_file_is(p, "", 0);
    snprintf(p, sizeof(p), "%s/d/ln", dest);
    char target[64] = { 0 };
    ck_assert_int_eq(readlink(p, target, sizeof(target) - 1), 5);
    ck_assert_str_eq(target, "a.txt");
    snprintf(p, sizeof(p), "%s/d/hl", dest);
    ck_assert_int_eq(stat(p, &hl_st), 0);
    ck_assert_uint_eq(hl_st.st_ino, a_st.st_ino);
    ck_assert_uint_eq(a_st.st_nlink, 2);
    snprintf(p, sizeof(p), "%s/d", dest);
    struct stat d_st;
    ck_assert_int_eq(stat(p, &d_st), 0);
    ck_assert_int_eq(d_st.st_mtime, 1600000000); /* restored after its files were made */

    /* Nothing beyond what the archive names. */
    struct mr_buf all;
    mr_buf_init(&all);
    walk(real, &all);
    ck_assert_int_eq(count_entries(real), 1);
    int lines = 0;
    for (size_t i = 0; i < all.len; i++)
        lines += all.data[i] == '\n';
    /* dest, d, d/a.txt, d/e, d/e/f.bin, d/ln, d/hl, top.txt, empty */
    ck_assert_msg(lines == 9, "%s", all.data);
    mr_buf_release(&all);
    mr_err_release(&e);
    ck_assert_int_eq(mr_rm_rf(work), 0);
}
END_TEST

START_TEST(test_extract_reports_missing_and_unreadable_archives)
{
    _cleanup_free_ char *work = make_tmpdir("bad");
    _cleanup_free_ char *dest = mr_xasprintf("%s/dest", work);
    _cleanup_free_ char *gone = mr_xasprintf("%s/none.tar.gz", work);
    struct mr_err e = { 0 };
    ck_assert_int_eq(mr_archive_extract_secure(gone, dest, &e), -ENOENT);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), gone));

    _cleanup_free_ char *junk = mr_xasprintf("%s/junk.tar.gz", work);
    unsigned char *bytes = pattern(4096, 3);
    put_file(junk, bytes, 4096);
    free(bytes);
    int r = mr_archive_extract_secure(junk, dest, &e);
    ck_assert_msg(r < 0 && r != -EPERM, "r=%d", r);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), junk));

    /* A truncated archive fails; it does not pass for a shorter one. */
    _cleanup_free_ char *good = mr_xasprintf("%s/good.tar.gz", work);
    unsigned char *big = pattern(200000, 5);
    const struct mr_archive_member m = { .name = "big.bin", .data = big, .len = 200000 };
    ck_assert_int_eq(mr_archive_write_targz(good, &m, 1, &e), 0);
    size_t len;
    char *gz = slurp(good, &len);
    _cleanup_free_ char *cut = mr_xasprintf("%s/cut.tar.gz", work);
    put_file(cut, gz, len / 2);
    r = mr_archive_extract_secure(cut, dest, &e);
    ck_assert_msg(r < 0 && r != -EPERM, "r=%d", r);
    ck_assert_ptr_nonnull(strstr(mr_err_msg(&e), cut));
    free(gz);
    free(big);
    mr_err_release(&e);
    ck_assert_int_eq(mr_rm_rf(work), 0);
}
END_TEST

/* A fresh root holding dest/ and outside/victim.txt; the archive lives elsewhere. */
struct arena {
    char *work;   /* holds the archive */
    char *root;
    char *dest;
    char *outside;
    char *victim;
};

static const char victim_text[] = "original\n";

static void arena_init(struct arena *ar)
{
    ar->work = make_tmpdir("evil-work");
    ar->root = make_tmpdir("evil-root");
    ar->dest = mr_xasprintf("%s/dest", ar->root);
    ar->outside = mr_xasprintf("%s/outside", ar->root);
    ar->victim = mr_xasprintf("%s/victim.txt", ar->outside);
    ck_assert_int_eq(mkdir(ar->dest, 0755), 0);
    ck_assert_int_eq(mkdir(ar->outside, 0755), 0);
    put_file(ar->victim, victim_text, sizeof(victim_text) - 1);
}

/* Everything under root is dest, inside dest, outside/ or the untouched victim. */
static void arena_check(struct arena *ar)
{
    struct mr_buf all;
    mr_buf_init(&all);
    walk(ar->root, &all);
    _cleanup_free_ char *inside = mr_xasprintf("%s/", ar->dest);
    for (char *line = all.data, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        int ok = strcmp(line, ar->dest) == 0 || strncmp(line, inside, strlen(inside)) == 0 ||
                 strcmp(line, ar->outside) == 0 || strcmp(line, ar->victim) == 0;
        ck_assert_msg(ok, "'%s' was created outside dest", line);
    }
    mr_buf_release(&all);
    assert_file_is(ar->victim, victim_text, sizeof(victim_text) - 1);
    struct stat st;
    ck_assert_int_eq(lstat(ar->victim, &st), 0);
    ck_assert_uint_eq(st.st_nlink, 1);
    ck_assert_int_eq(count_entries(ar->outside), 1);
}

static void arena_release(struct arena *ar)
{
    ck_assert_int_eq(mr_rm_rf(ar->root), 0);
    ck_assert_int_eq(mr_rm_rf(ar->work), 0);
    free(ar->work);
    free(ar->root);
    free(ar->dest);
    free(ar->outside);
    free(ar->victim);
}

/* Extracts ents and expects the documented refusal naming bad_entry. */
static void expect_refused(struct arena *ar, const struct raw_entry *ents, size_t n,
                           const char *bad_entry)
{
    _cleanup_free_ char *tar = mr_xasprintf("%s/evil.tar.gz", ar->work);
    write_raw(tar, ents, n, 1);
    struct mr_err e = { 0 };
    int r = mr_archive_extract_secure(tar, ar->dest, &e);
    arena_check(ar); /* first: an escape matters more than the return code */
    ck_assert_msg(r == -EPERM, "'%s': r=%d (%s)", bad_entry, r, mr_err_msg(&e));
    _cleanup_free_ char *quoted = mr_xasprintf("entry '%s' refused", bad_entry);
    ck_assert_msg(strstr(mr_err_msg(&e), quoted) && strstr(mr_err_msg(&e), tar), "%s",
                  mr_err_msg(&e));
    mr_err_release(&e);
}

START_TEST(test_extract_refuses_combined_hostile_archive)
{
    struct arena ar;
    arena_init(&ar);
    _cleanup_free_ char *abs_path = mr_xasprintf("%s/abs.txt", ar.root);
    _cleanup_free_ char *abs_dir = mr_xasprintf("%s/absdir/abs.txt", ar.root);
    const struct raw_entry ents[] = {
        { .name = "ok.txt", .type = AE_IFREG, .data = "fine\n" },
        { .name = "../escape.txt", .type = AE_IFREG, .data = "pwned\n" },
        { .name = abs_path, .type = AE_IFREG, .data = "pwned\n" },
        { .name = abs_dir, .type = AE_IFREG, .data = "pwned\n" },
        { .name = "link", .type = AE_IFLNK, .symlink = ar.outside },
        { .name = "link/through.txt", .type = AE_IFREG, .data = "pwned\n" },
        { .name = "hl", .type = AE_IFREG, .hardlink = ar.victim },
    };
    expect_refused(&ar, ents, MR_ARRAY_SIZE(ents), "../escape.txt");
    struct stat st;
    ck_assert_int_eq(lstat(abs_path, &st), -1);
    _cleanup_free_ char *absd = mr_xasprintf("%s/absdir", ar.root);
    ck_assert_int_eq(lstat(absd, &st), -1);
    /* What came before the refused entry is there, inside dest. */
    _cleanup_free_ char *ok = mr_xasprintf("%s/ok.txt", ar.dest);
    assert_file_is(ok, "fine\n", 5);
    arena_release(&ar);
}
END_TEST

/* Each attack alone, after a harmless entry, so every check is reached. */
START_TEST(test_extract_refuses_each_hostile_entry)
{
    struct arena ar;
    arena_init(&ar);
    _cleanup_free_ char *abs_path = mr_xasprintf("%s/abs.txt", ar.root);
    _cleanup_free_ char *victim_rel = mr_xstrdup("../outside/victim.txt");
    const struct raw_entry ok = { .name = "ok.txt", .type = AE_IFREG, .data = "fine\n" };
    struct {
        struct raw_entry ents[3];
        size_t n;
        const char *bad;
        int special; /* a device or FIFO: check it was not made */
    } cases[] = {
        { { ok, { .name = "../escape.txt", .type = AE_IFREG, .data = "pwned\n" } }, 2,
          "../escape.txt", 0 },
        { { ok, { .name = "d/../../escape.txt", .type = AE_IFREG, .data = "pwned\n" } }, 2,
          "d/../../escape.txt", 0 },
        { { ok, { .name = abs_path, .type = AE_IFREG, .data = "pwned\n" } }, 2, abs_path, 0 },
        { { ok, { .name = "link", .type = AE_IFLNK, .symlink = ar.outside },
            { .name = "link/through.txt", .type = AE_IFREG, .data = "pwned\n" } },
          3, "link/through.txt", 0 },
        { { ok, { .name = "hl", .type = AE_IFREG, .hardlink = ar.victim } },
          2, "hl", 0 },
        { { ok, { .name = "hl", .type = AE_IFREG, .hardlink = victim_rel } },
          2, "hl", 0 },
        /* A hardlink target inside dest by name that resolves outside through a symlink. */
        { { ok, { .name = "link", .type = AE_IFLNK, .symlink = ar.outside },
            { .name = "hl", .type = AE_IFREG, .hardlink = "link/victim.txt" } },
          3, "hl", 0 },
        { { ok, { .name = "fifo", .type = AE_IFIFO } }, 2, "fifo", 1 },
        { { ok, { .name = "null", .type = AE_IFCHR } }, 2, "null", 1 },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(cases); i++) {
        expect_refused(&ar, cases[i].ents, cases[i].n, cases[i].bad);
        struct stat st;
        ck_assert_int_eq(lstat(abs_path, &st), -1);
        _cleanup_free_ char *ok_path = mr_xasprintf("%s/ok.txt", ar.dest);
        assert_file_is(ok_path, "fine\n", 5);
        _cleanup_free_ char *special = mr_xasprintf("%s/%s", ar.dest, cases[i].bad);
        if (cases[i].special)
            ck_assert_int_eq(lstat(special, &st), -1);
        /* Start each case from an empty dest. */
        ck_assert_int_eq(mr_rm_rf(ar.dest), 0);
        ck_assert_int_eq(mkdir(ar.dest, 0755), 0);
    }
    arena_release(&ar);
}
END_TEST

/* A file entry over an extracted symlink replaces the link; it never writes through. */
START_TEST(test_extract_replaces_symlink_rather_than_following_it)
{
    struct arena ar;
    arena_init(&ar);
    _cleanup_free_ char *tar = mr_xasprintf("%s/swap.tar", ar.work);
    const struct raw_entry ents[] = {
        { .name = "s", .type = AE_IFLNK, .symlink = ar.victim },
        { .name = "s", .type = AE_IFREG, .data = "replaced\n" },
    };
    write_raw(tar, ents, MR_ARRAY_SIZE(ents), 0);
    struct mr_err e = { 0 };
    ck_assert_msg(mr_archive_extract_secure(tar, ar.dest, &e) == 0, "%s", mr_err_msg(&e));
    _cleanup_free_ char *s_path = mr_xasprintf("%s/s", ar.dest);
    struct stat st;
    ck_assert_int_eq(lstat(s_path, &st), 0);
    ck_assert(S_ISREG(st.st_mode));
    assert_file_is(s_path, "replaced\n", 9);
    arena_check(&ar);
    mr_err_release(&e);
    arena_release(&ar);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("archive");
    TCase *tw = tcase_create("write");
    tcase_set_timeout(tw, 60);
    tcase_add_test(tw, test_write_round_trips_through_libarchive_and_tar);
    tcase_add_test(tw, test_write_rejects_bad_member_names);
    tcase_add_test(tw, test_write_missing_source_leaves_no_file);
    suite_add_tcase(s, tw);
    TCase *tx = tcase_create("extract");
    tcase_set_timeout(tx, 60);
    tcase_add_test(tx, test_extract_benign_archive_fully);
    tcase_add_test(tx, test_extract_reports_missing_and_unreadable_archives);
    tcase_add_test(tx, test_extract_refuses_combined_hostile_archive);
    tcase_add_test(tx, test_extract_refuses_each_hostile_entry);
    tcase_add_test(tx, test_extract_replaces_symlink_rather_than_following_it);
    suite_add_tcase(s, tx);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
