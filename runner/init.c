/* init.c: `matrixrun init`: a starter matrix from image and package files.
 *
 * The OS of an image is guessed from its file name (cloud images are named for their
 * distribution, release and architecture: debian-12-genericcloud-amd64.qcow2,
 * jammy-server-cloudimg-amd64.img, CentOS-7-x86_64-GenericCloud.qcow2,
 * SLES15-SP5-Minimal-VM.x86_64-Cloud.qcow2), and every guess is marked in the file with a
 * CHECK comment. The package's name and version come from its file name's convention
 * (Debian's name_version_arch.deb, rpm's name-version-release.arch.rpm). The result
 * passes `matrixrun validate` as written; its test command is a placeholder to replace. */
#define _GNU_SOURCE
#include "init.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "family.h"
#include "html.h"

/* ---- guessing from file names ---- */

static const struct {
    const char *word, *family, *version;
} codenames[] = {
    { "stretch", "debian", "9" },   { "buster", "debian", "10" }, { "bullseye", "debian", "11" },
    { "bookworm", "debian", "12" }, { "trixie", "debian", "13" }, { "xenial", "ubuntu", "16.04" },
    { "bionic", "ubuntu", "18.04" }, { "focal", "ubuntu", "20.04" },
    { "jammy", "ubuntu", "22.04" },  { "noble", "ubuntu", "24.04" },
};

/* Words that name a family, in the order they are looked for ("centos" before "rhel"
 * would not matter; "sles" and "suse" both say sles). */
static const struct {
    const char *word, *family;
} family_words[] = {
    { "ubuntu", "ubuntu" }, { "debian", "debian" }, { "centos", "centos" },
    { "rhel", "rhel" },     { "redhat", "rhel" },   { "red-hat", "rhel" },
    { "sles", "sles" },     { "suse", "sles" },     { "windows", "windows" },
    { "win", "windows" },
};

/* Architecture names carry digits that are no release number (x86_64, amd64). */
static const char *const arch_words[] = {
    "x86_64", "amd64", "aarch64", "arm64", "i386", "i686", "ppc64le", "s390x",
};

static char *lower_name(const char *file_name)
{
    const char *base = strrchr(file_name, '/');
    char *s = mr_xstrdup(base ? base + 1 : file_name);
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < MR_ARRAY_SIZE(arch_words); i++) {
        size_t n = strlen(arch_words[i]);
        for (char *p = strstr(s, arch_words[i]); p; p = strstr(p + n, arch_words[i]))
            memset(p, '-', n);
    }
    return s;
}

/* The first release number at or after from that starts a word (not the 64 of a name
 * like "generic64"), at most 4 digits (a build date is no release): "12", "9.4",
 * "22.04", "15-SP5", "2019". NULL if none. */
static char *release_after(const char *s, const char *from, const char *family)
{
    for (const char *p = from; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > from && isalpha((unsigned char)p[-1])))
            continue;
        size_t n = strspn(p, "0123456789");
        if (n > 4 || (p > s && isdigit((unsigned char)p[-1]))) {
            p += n - 1;
            continue;
        }
        const char *end = p + n;
        if (*end == '.' && isdigit((unsigned char)end[1]) && strcmp(family, "windows") != 0)
            end += 1 + strspn(end + 1, "0123456789");
        if (strcmp(family, "sles") == 0) {
            const char *q = end + strspn(end, "-_.");
            if (strncmp(q, "sp", 2) == 0 && isdigit((unsigned char)q[2])) {
                size_t k = strspn(q + 2, "0123456789");
                return mr_xasprintf("%.*s-SP%.*s", (int)(end - p), p, (int)k, q + 2);
            }
        }
        if (strcmp(family, "windows") == 0 && strncmp(end, "r2", 2) == 0)
            return mr_xasprintf("%.*s-R2", (int)(end - p), p);
        return mr_xstrndup(p, (size_t)(end - p));
    }
    return NULL;
}

void mr_init_guess(const char *file_name, char **ret_family, char **ret_version)
{
    _cleanup_free_ char *s = lower_name(file_name);
    *ret_family = NULL;
    *ret_version = NULL;
    for (size_t i = 0; i < MR_ARRAY_SIZE(codenames); i++) {
        if (strstr(s, codenames[i].word)) {
            *ret_family = mr_xstrdup(codenames[i].family);
            *ret_version = mr_xstrdup(codenames[i].version);
            return;
        }
    }
    for (size_t i = 0; i < MR_ARRAY_SIZE(family_words); i++) {
        const char *at = strstr(s, family_words[i].word);
        /* "win" only as a word's start ("win2019", "win-2016"), not inside "darwin". */
        if (!at || (at > s && isalpha((unsigned char)at[-1])))
            continue;
        *ret_family = mr_xstrdup(family_words[i].family);
        *ret_version = release_after(s, at + strlen(family_words[i].word), *ret_family);
        return;
    }
}

static const char *const rpm_arches[] = {
    "noarch", "x86_64", "i686", "aarch64", "ppc64le", "s390x",
};

int mr_init_package(const char *file_name, char **ret_name, char **ret_version,
                    const char **ret_format)
{
    const char *slash = strrchr(file_name, '/');
    _cleanup_free_ char *base = mr_xstrdup(slash ? slash + 1 : file_name);
    size_t len = strlen(base);
    *ret_name = *ret_version = NULL;
    if (len > 4 && strcmp(base + len - 4, ".deb") == 0) {
        base[len - 4] = '\0';
        char *u1 = strchr(base, '_');
        char *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
        if (!u1 || u1 == base || !u2 || u2 == u1 + 1)
            return -EINVAL;
        *ret_name = mr_xstrndup(base, (size_t)(u1 - base));
        *ret_version = mr_xstrndup(u1 + 1, (size_t)(u2 - u1 - 1));
        *ret_format = "deb";
        return 0;
    }
    if (len > 4 && strcmp(base + len - 4, ".rpm") == 0) {
        base[len - 4] = '\0';
        char *dot = strrchr(base, '.');
        for (size_t i = 0; dot && i < MR_ARRAY_SIZE(rpm_arches); i++)
            if (strcmp(dot + 1, rpm_arches[i]) == 0)
                *dot = '\0';
        char *rel = strrchr(base, '-');
        if (!rel || rel == base || !rel[1])
            return -EINVAL;
        *rel = '\0';
        char *ver = strrchr(base, '-');
        if (!ver || ver == base || !ver[1])
            return -EINVAL;
        *ver = '\0';
        *ret_name = mr_xstrdup(base);
        *ret_version = mr_xasprintf("%s-%s", ver + 1, rel + 1);
        *ret_format = "rpm";
        return 0;
    }
    if (len > 4 && strcmp(base + len - 4, ".msi") == 0) {
        base[len - 4] = '\0';
        char *dash = strrchr(base, '-');
        if (!dash || dash == base || !isdigit((unsigned char)dash[1]))
            return -EINVAL;
        *dash = '\0';
        *ret_name = mr_xstrdup(base);
        *ret_version = mr_xstrdup(dash + 1);
        *ret_format = "msi";
        return 0;
    }
    return -EINVAL;
}

/* ---- writing ---- */

static int is_image(const char *path)
{
    static const char *const exts[] = { ".qcow2", ".img", ".raw" };
    size_t len = strlen(path);
    for (size_t i = 0; i < MR_ARRAY_SIZE(exts); i++) {
        size_t n = strlen(exts[i]);
        if (len > n && strcasecmp(path + len - n, exts[i]) == 0)
            return 1;
    }
    return 0;
}

/* In a comment, "--" may not appear. */
static void add_comment_text(struct mr_buf *b, const char *s)
{
    for (; *s; s++) {
        mr_buf_add(b, s, 1);
        if (*s == '-' && s[1] == '-')
            mr_buf_adds(b, " ");
    }
}

/* path relative to the folder dir (both absolute and resolved). */
static char *relative_to(const char *dir, const char *path)
{
    /* The longest common folder: where both have a '/' after the same characters, or
     * dir's end when path goes on with a '/' there. */
    size_t common = 0, i = 0;
    while (dir[i] && dir[i] == path[i]) {
        if (dir[i] == '/')
            common = i;
        i++;
    }
    if (!dir[i] && path[i] == '/')
        common = i;
    struct mr_buf b;
    mr_buf_init(&b);
    for (const char *p = dir + common; *p; p++)
        if (*p == '/' && p[1])
            mr_buf_adds(&b, "../");
    mr_buf_adds(&b, path + common + 1);
    return mr_buf_detach(&b, NULL);
}

/* A cell name from the image's file name: its letters, digits and -_. (others become
 * '-'), without the extension, at most 48 characters, unique among names[0..n). */
static char *image_name(const char *path, char **names, size_t n)
{
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *s = mr_xstrdup(slash ? slash + 1 : path);
    char *dot = strrchr(s, '.');
    if (dot && dot != s)
        *dot = '\0';
    for (char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("-_.", *p))
            *p = '-';
    if (strlen(s) > 44)
        s[44] = '\0';
    char *name = mr_xstrdup(s[0] ? s : "image");
    for (unsigned k = 2;; k++) {
        size_t i;
        for (i = 0; i < n && strcmp(names[i], name) != 0; i++)
            ;
        if (i == n)
            return name;
        free(name);
        name = mr_xasprintf("%s-%u", s[0] ? s : "image", k);
    }
}

/* An attribute's value: XML escapes are the HTML page's (& < > " ' as references). */
static void add_attr(struct mr_buf *b, const char *s)
{
    mr_html_escape(b, s);
}

struct init_pkg {
    const char *path; /* resolved */
    char *name, *version;
    const char *format;
};

struct init_image {
    const char *path; /* resolved */
    char *name, *family, *version;
    int guessed_family, guessed_version;
};

/* The files given, sorted into images and packages. */
struct init_set {
    struct init_image *imgs;
    struct init_pkg *pkgs;
    char **resolved; /* every file's real path, owned */
    char **names;    /* the images' names (borrowed from imgs) */
    size_t n_files, n_imgs, n_pkgs;
};

static void set_release(struct init_set *st)
{
    for (size_t i = 0; i < st->n_imgs; i++) {
        free(st->imgs[i].name);
        free(st->imgs[i].family);
        free(st->imgs[i].version);
    }
    for (size_t j = 0; j < st->n_pkgs; j++) {
        free(st->pkgs[j].name);
        free(st->pkgs[j].version);
    }
    for (size_t i = 0; i < st->n_files; i++)
        free(st->resolved[i]);
    free(st->resolved);
    free(st->names);
    free(st->imgs);
    free(st->pkgs);
}

static const char *default_family(const char *format)
{
    return strcmp(format, "rpm") == 0 ? "rhel" : strcmp(format, "msi") == 0 ? "windows"
                                                                            : "debian";
}

/* Reads each file's name: an image (its OS guessed) or a package (one per format).
 * Returns 0 or -errno / -EINVAL with err set. */
static int read_files(struct init_set *st, char *const *files, size_t n, struct mr_err *err)
{
    st->imgs = mr_xcalloc(n ? n : 1, sizeof(*st->imgs));
    st->pkgs = mr_xcalloc(n ? n : 1, sizeof(*st->pkgs));
    st->resolved = mr_xcalloc(n ? n : 1, sizeof(*st->resolved));
    st->names = mr_xcalloc(n ? n : 1, sizeof(*st->names));
    st->n_files = n;
    for (size_t i = 0; i < n; i++) {
        st->resolved[i] = realpath(files[i], NULL);
        if (!st->resolved[i]) {
            int r = -errno;
            mr_err_set(err, "%s: %s", files[i], strerror(errno));
            return r;
        }
        if (is_image(files[i])) {
            struct init_image *im = &st->imgs[st->n_imgs];
            im->path = st->resolved[i];
            im->name = st->names[st->n_imgs] = image_name(files[i], st->names, st->n_imgs);
            mr_init_guess(files[i], &im->family, &im->version);
            im->guessed_version = im->version != NULL;
            im->guessed_family = im->family != NULL;
            st->n_imgs++;
            continue;
        }
        struct init_pkg *p = &st->pkgs[st->n_pkgs];
        if (mr_init_package(files[i], &p->name, &p->version, &p->format) < 0) {
            mr_err_set(err, "%s: neither an image (.qcow2, .img, .raw) nor a package named as "
                       "its format has it (name_version_arch.deb, "
                       "name-version-release.arch.rpm, name-version.msi)", files[i]);
            return -EINVAL;
        }
        p->path = st->resolved[i];
        for (size_t j = 0; j < st->n_pkgs; j++) {
            if (strcmp(st->pkgs[j].format, p->format) == 0) {
                mr_err_set(err, "%s: a second .%s package (the first: %s); a matrix tests one "
                           "package, with one artifact per format", files[i], p->format,
                           st->pkgs[j].path);
                free(p->name);
                free(p->version);
                return -EINVAL;
            }
        }
        st->n_pkgs++;
    }
    if (!st->n_imgs || !st->n_pkgs) {
        mr_err_set(err, "init needs at least one image (.qcow2, .img, .raw) and one package "
                   "(.deb, .rpm, .msi)");
        return -EINVAL;
    }
    return 0;
}

/* Gives each image a family of the catalogue that some package's format serves (images
 * the names say nothing about take the first package's), and notes what was guessed. */
static int check_families(struct init_set *st, struct mr_buf *notes, struct mr_err *err)
{
    for (size_t i = 0; i < st->n_imgs; i++) {
        struct init_image *im = &st->imgs[i];
        if (!im->family)
            im->family = mr_xstrdup(default_family(st->pkgs[0].format));
        const struct mr_family *f = mr_family_find(im->family);
        if (!f) {
            mr_err_set(err, "family '%s' guessed for %s is not in the catalogue", im->family,
                       im->path);
            return -EINVAL;
        }
        size_t j;
        for (j = 0; j < st->n_pkgs && strcmp(st->pkgs[j].format, f->format) != 0; j++)
            ;
        if (j == st->n_pkgs) {
            mr_err_set(err, "%s looks like %s, whose packages are .%s, and no .%s package was "
                       "given", im->path, im->family, f->format, f->format);
            return -EINVAL;
        }
        mr_buf_addf(notes, "image '%s': family %s%s, version %s%s\n", im->name, im->family,
                    im->guessed_family ? " (guessed from its file name: check)"
                                       : " (its file name does not say: check)",
                    im->version ? im->version : "not given",
                    im->guessed_version ? " (guessed: check)" : "");
    }
    return 0;
}

/* The folder the matrix's paths are relative to: out_path's (a new file), else the
 * current one. Returns it (caller frees) or NULL with *ret and err set. */
static char *output_dir(const char *out_path, int *ret, struct mr_err *err)
{
    char *dir = NULL;
    if (out_path) {
        if (access(out_path, F_OK) == 0) {
            mr_err_set(err, "%s exists; init writes a new file only", out_path);
            *ret = -EEXIST;
            return NULL;
        }
        _cleanup_free_ char *parent = mr_path_dirname(out_path);
        dir = realpath(parent, NULL);
    } else {
        dir = getcwd(NULL, 0);
    }
    if (!dir) {
        *ret = -errno;
        mr_err_set(err, "%s: %s", out_path ? out_path : ".", strerror(errno));
    }
    return dir;
}

/* One <image>, with the comment that says what to check. */
static void render_image(struct mr_buf *x, const struct init_image *im, const char *outdir)
{
    _cleanup_free_ char *rel = relative_to(outdir, im->path);
    mr_buf_adds(x, "\n  <!-- ");
    if (im->guessed_family || im->guessed_version) {
        mr_buf_adds(x, "CHECK: family");
        if (im->guessed_version)
            mr_buf_adds(x, " and version");
        mr_buf_adds(x, " guessed from the file name ");
    } else {
        mr_buf_adds(x, "CHECK: the file name says nothing of the OS; family set from the "
                       "package's format, ");
    }
    add_comment_text(x, strrchr(im->path, '/') + 1);
    mr_buf_adds(x, ". A cloud image is seeded with cloud-init (cloudbase-init on "
                   "Windows); memory and vCPUs are a start. -->\n  <image name=\"");
    add_attr(x, im->name);
    mr_buf_adds(x, "\" family=\"");
    add_attr(x, im->family);
    mr_buf_adds(x, "\"");
    if (im->version) {
        mr_buf_adds(x, " version=\"");
        add_attr(x, im->version);
        mr_buf_adds(x, "\"");
    }
    mr_buf_adds(x, " memory-mib=\"2048\" vcpus=\"2\">\n    <disk path=\"");
    add_attr(x, rel);
    mr_buf_adds(x, "\"/>\n  </image>\n");
}

/* The <package>: an <artifact> per family an image uses, from the package of its format
 * (a package naming another package than the first is marked CHECK and noted). */
static void render_package(struct mr_buf *x, const struct init_set *st, const char *outdir,
                           struct mr_buf *notes)
{
    const struct init_pkg *main_pkg = &st->pkgs[0];
    mr_buf_adds(x, "\n  <package name=\"");
    add_attr(x, main_pkg->name);
    mr_buf_adds(x, "\" version=\"");
    add_attr(x, main_pkg->version);
    mr_buf_adds(x, "\">\n");
    for (size_t j = 0; j < st->n_pkgs; j++) {
        const struct init_pkg *p = &st->pkgs[j];
        _cleanup_free_ char *rel = relative_to(outdir, p->path);
        if (strcmp(p->name, main_pkg->name) != 0) {
            mr_buf_adds(x, "    <!-- CHECK: this file names the package '");
            add_comment_text(x, p->name);
            mr_buf_adds(x, "', not '");
            add_comment_text(x, main_pkg->name);
            mr_buf_adds(x, "' -->\n");
            mr_buf_addf(notes, "package: %s names '%s', the matrix '%s': check\n", p->path,
                        p->name, main_pkg->name);
        }
        /* Every family of the catalogue whose format this is and that an image uses. */
        for (size_t i = 0; i < st->n_imgs; i++) {
            const struct mr_family *f = mr_family_find(st->imgs[i].family);
            size_t k;
            for (k = 0; k < i && strcmp(st->imgs[k].family, st->imgs[i].family) != 0; k++)
                ;
            if (k < i || strcmp(f->format, p->format) != 0)
                continue;
            mr_buf_adds(x, "    <artifact family=\"");
            add_attr(x, f->name);
            mr_buf_adds(x, "\" path=\"");
            add_attr(x, rel);
            mr_buf_adds(x, "\"");
            if (strcmp(p->version, main_pkg->version) != 0) {
                mr_buf_adds(x, " version=\"");
                add_attr(x, p->version);
                mr_buf_adds(x, "\"");
            }
            mr_buf_adds(x, "/>\n");
        }
    }
    mr_buf_adds(x, "  </package>\n");
}

/* The whole matrix, into x. */
static void render_matrix(struct mr_buf *x, const struct init_set *st, const char *outdir,
                          struct mr_buf *notes)
{
    const char *pkg = st->pkgs[0].name;
    mr_buf_adds(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                   "<!-- A starter matrix written by matrixrun init: check the lines marked "
                   "CHECK,\n     replace the example test, then: matrixrun validate FILE; "
                   "matrixrun FILE\n     The format: man 5 matrixrun-matrix. Paths are "
                   "relative to this file. -->\n<matrix version=\"1\" name=\"");
    add_attr(x, pkg);
    mr_buf_adds(x, "\">\n"
                   "  <!-- accel: kvm on a host with KVM; tcg where 'matrixrun doctor' says "
                   "'tcg only' -->\n"
                   "  <host uri=\"qemu:///system\" accel=\"kvm\"/>\n");
    for (size_t i = 0; i < st->n_imgs; i++)
        render_image(x, &st->imgs[i], outdir);
    render_package(x, st, outdir, notes);
    mr_buf_adds(x, "\n"
                   "  <!-- CHECK: an example; each test is a command run by the guest user's "
                   "shell,\n       and its exit status is its verdict. -->\n"
                   "  <test name=\"example\" timeout=\"300\">echo 'replace this with a "
                   "command that tests ");
    add_attr(x, pkg);
    mr_buf_adds(x, "'</test>\n</matrix>\n");
}

int mr_init_write(char *const *files, size_t n_files, const char *out_path, char **ret_notes,
                  struct mr_err *err)
{
    struct init_set st = { 0 };
    struct mr_buf notes, x;
    mr_buf_init(&notes);
    mr_buf_init(&x);
    char *outdir = NULL;
    int r;
    if ((r = read_files(&st, files, n_files, err)) < 0 ||
        (r = check_families(&st, &notes, err)) < 0 || !(outdir = output_dir(out_path, &r, err)))
        goto out;
    render_matrix(&x, &st, outdir, &notes);
    if (out_path) {
        r = mr_file_write_atomic(out_path, x.data, x.len, err);
        if (r < 0)
            goto out;
    } else if (fwrite(x.data, 1, x.len, stdout) != x.len || fflush(stdout) != 0) {
        r = -EIO;
        mr_err_set(err, "cannot write the matrix to stdout: %s", strerror(errno));
        goto out;
    }
    r = 0;
    *ret_notes = mr_buf_detach(&notes, NULL);
out:
    set_release(&st);
    free(outdir);
    mr_buf_release(&notes);
    mr_buf_release(&x);
    return r;
}
