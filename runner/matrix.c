/* matrix.c: parses a matrix file with libxml2, validates it against the embedded RELAX NG
 * schema, then checks every value and referenced file with messages naming file and line. */
#define _GNU_SOURCE
#include "matrix.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/tree.h>

#include "family.h"
#include "seed.h"
#include "xmlutil.h"

const char *mr_accel_name(enum mr_accel a)
{
    switch (a) {
    case MR_ACCEL_KVM:
        return "kvm";
    case MR_ACCEL_TCG:
        return "tcg";
    case MR_ACCEL_AUTO:
        return "auto";
    }
    return "?";
}

int mr_accel_parse(const char *s, enum mr_accel *ret)
{
    if (strcmp(s, "kvm") == 0)
        *ret = MR_ACCEL_KVM;
    else if (strcmp(s, "tcg") == 0)
        *ret = MR_ACCEL_TCG;
    else if (strcmp(s, "auto") == 0)
        *ret = MR_ACCEL_AUTO;
    else
        return -EINVAL;
    return 0;
}

/* The loader's state: the file name for messages and the first error. */
struct loader {
    const char *file;
    const char *dir;
    struct mr_err *err;
    const char *needed_by; /* appended to a missing-file message, or NULL */
    struct mr_matrix *m;   /* for warnings */
};

static int fail(struct loader *ld, int line, const char *fmt, ...) MR_PRINTF(3, 4);
static int fail(struct loader *ld, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = mr_xvasprintf(fmt, ap);
    va_end(ap);
    if (line > 0)
        mr_err_set(ld->err, "%s:%d: %s", ld->file, line, msg);
    else
        mr_err_set(ld->err, "%s: %s", ld->file, msg);
    return -EINVAL;
}

static void warn(struct loader *ld, int line, const char *fmt, ...) MR_PRINTF(3, 4);
static void warn(struct loader *ld, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *msg = mr_xvasprintf(fmt, ap);
    va_end(ap);
    struct mr_matrix *m = ld->m;
    m->warnings = mr_xrealloc(m->warnings, (m->n_warnings + 1) * sizeof(*m->warnings));
    m->warnings[m->n_warnings++] = mr_xasprintf("%s:%d: %s", ld->file, line, msg);
}

/* Names become parts of domain names and folder names: keep them tame. */
static int check_name(struct loader *ld, xmlNodePtr n, const char *what, const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len > 48)
        return fail(ld, mr_xml_line(n), "<%s> name '%s' must be 1 to 48 characters", what, v);
    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return fail(ld, mr_xml_line(n),
                        "<%s> name '%s' may hold only letters, digits, '-', '_' and '.'",
                        what, v);
    }
    if (v[0] == '.' || v[0] == '-')
        return fail(ld, mr_xml_line(n), "<%s> name '%s' must not start with '%c'", what, v, v[0]);
    return 0;
}

/* Reads a whole number in [min, max]. The message names the value as SUBJECT'VALUE', so
 * SUBJECT is "<image> vcpus=" for an attribute, "<axis> 'vcpus' value " for an element. */
static int check_uint(struct loader *ld, int line, const char *subject, const char *v,
                      unsigned min, unsigned max, unsigned *ret)
{
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        return fail(ld, line, "%s'%s' is not a whole number from %u to %u", subject, v, min,
                    max);
    *ret = (unsigned)x;
    return 0;
}

/* Reads an optional unsigned attribute in [min, max]; keeps *ret when absent. */
static int uint_attr(struct loader *ld, xmlNodePtr n, const char *name, unsigned min,
                     unsigned max, unsigned *ret)
{
    _cleanup_free_ char *v = mr_xml_attr(n, name);
    if (!v)
        return 0;
    _cleanup_free_ char *subject = mr_xasprintf("<%s> %s=", (const char *)n->name, name);
    return check_uint(ld, mr_xml_line(n), subject, v, min, max, ret);
}

/* Reads an optional decimal attribute ("2", "0.5") in [min, max]; keeps *ret when absent. */
static int decimal_attr(struct loader *ld, xmlNodePtr n, const char *name, double min,
                        double max, double *ret)
{
    _cleanup_free_ char *v = mr_xml_attr(n, name);
    if (!v)
        return 0;
    size_t end = strspn(v, "0123456789");
    if (v[end] == '.')
        end += 1 + strspn(v + end + 1, "0123456789");
    /* No setlocale() anywhere: strtod reads '.' as the decimal point. */
    double x = strtod(v, NULL);
    if (v[end] || strcspn(v, "0123456789") == strlen(v) || end > 20 || x < min || x > max)
        return fail(ld, mr_xml_line(n), "<%s> %s='%s' is not a number from %g to %g",
                    (const char *)n->name, name, v, min, max);
    *ret = x;
    return 0;
}

static int load_benchmark(struct loader *ld, xmlNodePtr n, struct mr_bench_spec *b)
{
    int r;
    b->enabled = 1;
    b->line = mr_xml_line(n);
    if ((r = decimal_attr(ld, n, "seconds", 0.01, 600, &b->seconds)) < 0 ||
        (r = uint_attr(ld, n, "repetitions", 2, 1000, &b->repetitions)) < 0 ||
        (r = uint_attr(ld, n, "warmup", 0, 100, &b->warmup)) < 0 ||
        (r = decimal_attr(ld, n, "max-overhead-pct", 0, 1e6, &b->max_overhead_pct)) < 0 ||
        (r = decimal_attr(ld, n, "max-interval-pct", 0, 1e6, &b->max_interval_pct)) < 0)
        return r;
    return 0;
}

/* The sizes an image sets and an axis of the same name overrides: one range for both. */
static const struct size_rule {
    const char *name;
    enum mr_axis_kind kind;
    unsigned min, max;
} size_rules[] = {
    { "memory-mib", MR_AXIS_MEMORY_MIB, 64, 1024 * 1024 },
    { "vcpus", MR_AXIS_VCPUS, 1, 512 },
};

static const struct size_rule *size_rule(enum mr_axis_kind kind)
{
    for (size_t i = 0; i < MR_ARRAY_SIZE(size_rules); i++)
        if (size_rules[i].kind == kind)
            return &size_rules[i];
    return NULL;
}

static int size_attr(struct loader *ld, xmlNodePtr n, enum mr_axis_kind kind, unsigned *ret)
{
    const struct size_rule *sr = size_rule(kind);
    return uint_attr(ld, n, sr->name, sr->min, sr->max, ret);
}

/* Resolves a path attribute against the matrix folder and checks the file exists. */
static int file_attr(struct loader *ld, xmlNodePtr n, const char *name, char **ret)
{
    _cleanup_free_ char *v = mr_xml_attr(n, name);
    if (!v)
        return 0;
    if (!v[0])
        return fail(ld, mr_xml_line(n), "<%s> %s is empty", (const char *)n->name, name);
    _cleanup_free_ char *p = mr_path_join(ld->dir, v);
    if (!mr_file_exists(p))
        return fail(ld, mr_xml_line(n), "<%s> %s='%s': no such file (looked for '%s')%s",
                    (const char *)n->name, name, v, p, ld->needed_by ? ld->needed_by : "");
    if (access(p, R_OK) < 0)
        return fail(ld, mr_xml_line(n), "<%s> %s='%s': cannot read '%s': %s",
                    (const char *)n->name, name, v, p, strerror(errno));
    *ret = MR_TAKE_PTR(p);
    return 0;
}

static int check_family(struct loader *ld, xmlNodePtr n, const char *fam)
{
    if (!mr_family_find(fam)) {
        _cleanup_free_ char *names = mr_family_names();
        return fail(ld, mr_xml_line(n), "<%s> family '%s' is unknown (known: %s; catalogue: %s)",
                    (const char *)n->name, fam, names, mr_family_catalogue_source());
    }
    return 0;
}

/* The seed checks the extra cloud-config it will add to its own (seed.h). */
static int check_cloud_config(struct loader *ld, xmlNodePtr n, const char *path)
{
    _cleanup_free_ char *data = NULL;
    size_t len;
    int r = mr_file_read(path, &data, &len);
    if (r < 0)
        return fail(ld, mr_xml_line(n), "<cloud-config> cannot read '%s': %s", path,
                    strerror(-r));
    if (strlen(data) != len)
        return fail(ld, mr_xml_line(n), "<cloud-config> '%s' holds a NUL byte", path);
    struct mr_err e = { 0 };
    int line;
    if (mr_seed_check_extra(data, &line, &e) < 0) {
        r = fail(ld, mr_xml_line(n), "<cloud-config> '%s' line %d %s", path, line,
                 mr_err_msg(&e));
        mr_err_release(&e);
    }
    return r;
}

/* The matrix grammar in the form the structure check below walks. The RELAX NG schema is
 * the formal definition; this table exists because libxml2's schema messages for
 * interleaved content ("Expecting an element image, got nothing") do not name the
 * offending element, and users deserve a message that does. */
#define RULE_ATTRS 9 /* the most attributes an element has, and room for the end */
struct elem_rule {
    const char *name;
    const char *parent;
    const char *attrs[RULE_ATTRS]; /* allowed; a leading '!' marks a required one, "*" any */
    int min, max;                  /* occurrences under one parent */
};

static const struct elem_rule rules[] = {
    { "host", "matrix", { "uri", "accel" }, 0, MR_MAX_HOSTS },
    { "image", "matrix",
      { "!name", "!family", "version", "user", "memory-mib", "vcpus", "boot-timeout",
        "network", "warm" }, 1,
      100000 },
    { "package", "matrix", { "!name", "!version", "install-timeout" }, 1, 1 },
    { "test", "matrix", { "!name", "timeout" }, 1, 100000 },
    { "benchmark", "matrix",
      { "seconds", "repetitions", "warmup", "max-overhead-pct", "max-interval-pct" }, 0, 1 },
    { "disk", "image", { "!path" }, 0, 1 },
    { "kernel", "image", { "!path", "!initrd", "cmdline" }, 0, 1 },
    { "hostkey", "image", { "!path" }, 0, 1 },
    { "cloud-config", "image", { "!path" }, 0, 1 },
    { "login", "image", { "user", "!key", "!hostkey" }, 0, 1 },
    { "sshd", "image", { "!path" }, 0, 1 },
    { "artifact", "package", { "!family", "!path", "version" }, 1, 100 },
    { "depends", "artifact", { "!path" }, 0, 1000 },
    { "axis", "matrix", { "!name" }, 0, MR_MAX_CELLS },
    { "value", "axis", { NULL }, 1, MR_MAX_CELLS },
    /* Their other attributes are named after the axes: read_rule() checks them. */
    { "exclude", "matrix", { "*" }, 0, MR_MAX_CELLS },
    { "include", "matrix", { "!image", "*" }, 0, MR_MAX_CELLS },
};

/* The elements whose content is text rather than elements. */
static int holds_text(xmlNodePtr n)
{
    return mr_xml_is_elem(n, "test") || mr_xml_is_elem(n, "value");
}

static int check_attrs(struct loader *ld, xmlNodePtr n, const char *const *allowed)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        int ok = 0;
        for (size_t i = 0; i < RULE_ATTRS && allowed[i]; i++) {
            const char *name = allowed[i][0] == '!' ? allowed[i] + 1 : allowed[i];
            if (strcmp(name, "*") == 0 || strcmp(name, (const char *)a->name) == 0)
                ok = 1;
        }
        if (!ok)
            return fail(ld, mr_xml_line(n), "<%s> has an unknown attribute '%s'",
                        (const char *)n->name, (const char *)a->name);
    }
    for (size_t i = 0; i < RULE_ATTRS && allowed[i]; i++) {
        if (allowed[i][0] == '!' && !xmlHasProp(n, (const xmlChar *)allowed[i] + 1))
            return fail(ld, mr_xml_line(n), "<%s> lacks the required attribute '%s'",
                        (const char *)n->name, allowed[i] + 1);
    }
    return 0;
}

static int check_structure(struct loader *ld, xmlNodePtr parent)
{
    int r;
    size_t counts[MR_ARRAY_SIZE(rules)] = { 0 };
    for (xmlNodePtr c = parent->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE && !holds_text(parent)) {
            for (const xmlChar *t = c->content; t && *t; t++)
                if (!strchr(" \t\r\n", *t))
                    return fail(ld, mr_xml_line(c), "<%s> holds text where only elements belong",
                                (const char *)parent->name);
            continue;
        }
        if (c->type != XML_ELEMENT_NODE)
            continue;
        size_t k;
        for (k = 0; k < MR_ARRAY_SIZE(rules); k++)
            if (strcmp(rules[k].name, (const char *)c->name) == 0 &&
                strcmp(rules[k].parent, (const char *)parent->name) == 0)
                break;
        if (k == MR_ARRAY_SIZE(rules))
            return fail(ld, mr_xml_line(c), "unknown element <%s> inside <%s>",
                        (const char *)c->name, (const char *)parent->name);
        if (++counts[k] > (size_t)rules[k].max)
            return fail(ld, mr_xml_line(c), "<%s> may appear only %d time(s) inside <%s>",
                        rules[k].name, rules[k].max, rules[k].parent);
        if ((r = check_attrs(ld, c, rules[k].attrs)) < 0)
            return r;
        if ((r = check_structure(ld, c)) < 0)
            return r;
    }
    for (size_t k = 0; k < MR_ARRAY_SIZE(rules); k++) {
        if (strcmp(rules[k].parent, (const char *)parent->name) == 0 &&
            counts[k] < (size_t)rules[k].min) {
            /* Name the parent when it has a name: "<axis> 'PROFILE' needs at least...". */
            _cleanup_free_ char *name = mr_xml_attr(parent, "name");
            _cleanup_free_ char *label = name ? mr_xasprintf(" '%s'", name) : mr_xstrdup("");
            return fail(ld, mr_xml_line(parent), "<%s>%s needs at least %d <%s>",
                        (const char *)parent->name, label, rules[k].min, rules[k].name);
        }
    }
    return 0;
}

static int check_root(struct loader *ld, xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "matrix") != 0)
        return fail(ld, root ? mr_xml_line(root) : 0, "the root element is <%s>, not <matrix>",
                    root ? (const char *)root->name : "");
    if (root->ns)
        return fail(ld, mr_xml_line(root), "<matrix> must not be in a namespace (found '%s')",
                    (const char *)root->ns->href);
    _cleanup_free_ char *v = mr_xml_attr(root, "version");
    if (!v)
        return fail(ld, mr_xml_line(root), "<matrix> lacks the required attribute 'version' "
                                        "(this matrixrun reads version '1')");
    if (strcmp(v, "1") != 0)
        return fail(ld, mr_xml_line(root), "<matrix> version='%s' is not supported "
                                        "(this matrixrun reads version '1')", v);
    int r = check_attrs(ld, root, (const char *const[]){ "!version", "name", "retries", "cell-timeout",
                                                       NULL });
    return r < 0 ? r : check_structure(ld, root);
}

static int validate_schema(struct loader *ld, xmlDocPtr doc)
{
    return mr_xml_validate_rng(doc, mr_matrix_schema, mr_matrix_schema_len, ld->file, "matrix",
                               ld->err);
}

static int load_host(struct loader *ld, xmlNodePtr n, struct mr_matrix *m)
{
    struct mr_host *h = &m->hosts[m->n_hosts++];
    h->line = mr_xml_line(n);
    h->uri = mr_xml_attr(n, "uri");
    h->accel = MR_ACCEL_KVM;
    if (!h->uri)
        h->uri = mr_xstrdup(MR_DEFAULT_URI);
    if (!h->uri[0])
        return fail(ld, h->line, "<host> uri is empty");
    _cleanup_free_ char *accel = mr_xml_attr(n, "accel");
    if (accel && (mr_accel_parse(accel, &h->accel) < 0 || h->accel == MR_ACCEL_AUTO))
        return fail(ld, h->line, "<host> accel='%s' is not one of: kvm, tcg", accel);
    for (size_t i = 0; i + 1 < m->n_hosts; i++)
        if (strcmp(m->hosts[i].uri, h->uri) == 0)
            return fail(ld, h->line, "<host> uri '%s' is listed twice (first at line %d)",
                        h->uri, m->hosts[i].line);
    if (m->n_hosts == 1) {
        free(m->uri);
        m->uri = mr_xstrdup(h->uri);
        m->accel = h->accel;
    }
    return 0;
}

/* <login user key hostkey>: the image logs in with its own key. The private key must be
 * its owner's alone (as ssh demands) and have its public half beside it (KEY.pub, which
 * libssh2 reads); the host key is pinned as <hostkey>'s is. <hostkey> itself is for the
 * other kind of baked image (the run's key on the kernel command line): not both. */
static int load_login(struct loader *ld, xmlNodePtr n, struct mr_image *img)
{
    int r, line = mr_xml_line(n);
    if (img->hostkey)
        return fail(ld, line, "<login> and <hostkey> in one <image>: <login> names the host "
                              "key itself (hostkey=...)");
    if ((r = file_attr(ld, n, "key", &img->login_key)) < 0 ||
        (r = file_attr(ld, n, "hostkey", &img->hostkey)) < 0)
        return r;
    struct stat st;
    if (stat(img->login_key, &st) < 0)
        return fail(ld, line, "<login> key='%s': %s", img->login_key, strerror(errno));
    if (st.st_mode & 077)
        return fail(ld, line,
                    "<login> key='%s' can be read or written by others (mode %04o): a private "
                    "key must be its owner's alone (chmod 600 '%s')",
                    img->login_key, (unsigned)(st.st_mode & 07777), img->login_key);
    if (st.st_uid != geteuid())
        return fail(ld, line, "<login> key='%s' belongs to uid %u, not to the user running "
                              "matrixrun (%u)",
                    img->login_key, (unsigned)st.st_uid, (unsigned)geteuid());
    _cleanup_free_ char *pub = mr_xasprintf("%s.pub", img->login_key);
    if (!mr_file_exists(pub))
        return fail(ld, line,
                    "<login> key='%s': its public half '%s' is missing (ssh-keygen -y -f '%s' "
                    "> '%s' makes it)",
                    img->login_key, pub, img->login_key, pub);
    _cleanup_free_ char *user = mr_xml_attr(n, "user");
    if (user) {
        free(img->user);
        img->user = MR_TAKE_PTR(user);
    }
    return 0;
}

/* <sshd path>: a Win32-OpenSSH release archive for a Windows guest's seed to install. */
static int load_sshd(struct loader *ld, xmlNodePtr n, struct mr_image *img)
{
    int r, line = mr_xml_line(n);
    _cleanup_free_ char *path = mr_xml_attr(n, "path");
    if (img->fam->seed != MR_SEED_CLOUDBASE_INIT)
        return fail(ld, line,
                    "<sshd> path='%s': a Win32-OpenSSH package is for Windows images (a "
                    "cloudbase-init seed); family '%s' is seeded for cloud-init",
                    path ? path : "", img->family);
    if ((r = file_attr(ld, n, "path", &img->sshd_package)) < 0)
        return r;
    /* The seed unpacks it as a zip archive: say so now rather than on the guest's console. */
    char magic[4] = { 0 };
    FILE *fp = fopen(img->sshd_package, "re");
    size_t got = fp ? fread(magic, 1, sizeof(magic), fp) : 0;
    if (fp)
        fclose(fp);
    if (got != sizeof(magic) || memcmp(magic, "PK\x03\x04", 4) != 0)
        return fail(ld, line,
                    "<sshd> path='%s' is not a zip archive (the Win32-OpenSSH release "
                    "archive, OpenSSH-Win64.zip)",
                    path);
    return 0;
}

/* <image>'s attributes. */
static int load_image_attrs(struct loader *ld, xmlNodePtr n, struct mr_image *img)
{
    int r;
    img->line = mr_xml_line(n);
    img->name = mr_xml_attr(n, "name");
    img->family = mr_xml_attr(n, "family");
    if ((r = check_name(ld, n, "image", img->name)) < 0)
        return r;
    if ((r = check_family(ld, n, img->family)) < 0)
        return r;
    const struct mr_family *fam = img->fam = mr_family_find(img->family);
    img->os_version = mr_xml_attr(n, "version");
    if (img->os_version && !(img->os_version[0] >= '0' && img->os_version[0] <= '9'))
        return fail(ld, img->line,
                    "<image> '%s' version='%s' does not start with the OS's major release "
                    "number (say '9', '8.9' or '15-SP5')",
                    img->name, img->os_version);
    if (img->os_version && !mr_family_install_template(fam, img->os_version))
        return fail(ld, img->line,
                    "<image> '%s' version='%s': family '%s' has no install command for it",
                    img->name, img->os_version, img->family);
    img->user = mr_xml_attr(n, "user");
    if (!img->user)
        img->user = mr_xstrdup(fam->default_user);
    img->memory_mib = MR_DEFAULT_MEMORY_MIB;
    img->vcpus = MR_DEFAULT_VCPUS;
    img->boot_timeout_s = fam->boot_timeout_hint_s;
    if ((r = size_attr(ld, n, MR_AXIS_MEMORY_MIB, &img->memory_mib)) < 0 ||
        (r = size_attr(ld, n, MR_AXIS_VCPUS, &img->vcpus)) < 0 ||
        (r = uint_attr(ld, n, "boot-timeout", 1, 86400, &img->boot_timeout_s)) < 0)
        return r;
    _cleanup_free_ char *net = mr_xml_attr(n, "network");
    if (net && mr_network_parse(net, &img->network) < 0)
        return fail(ld, img->line, "<image> '%s' network='%s' is not isolated or outbound",
                    img->name, net);
    _cleanup_free_ char *warm = mr_xml_attr(n, "warm");
    if (warm && strcmp(warm, "yes") != 0 && strcmp(warm, "no") != 0)
        return fail(ld, img->line, "<image> '%s' warm='%s' is not yes or no", img->name, warm);
    img->warm = warm && strcmp(warm, "yes") == 0;
    return 0;
}

/* <image>'s elements: where the guest comes from and how it is reached. */
static int load_image_children(struct loader *ld, xmlNodePtr n, struct mr_image *img)
{
    int r;
    const struct mr_family *fam = img->fam;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (mr_xml_is_elem(c, "disk")) {
            if ((r = file_attr(ld, c, "path", &img->disk)) < 0)
                return r;
        } else if (mr_xml_is_elem(c, "kernel")) {
            if ((r = file_attr(ld, c, "path", &img->kernel)) < 0 ||
                (r = file_attr(ld, c, "initrd", &img->initrd)) < 0)
                return r;
            img->cmdline = mr_xml_attr(c, "cmdline");
        } else if (mr_xml_is_elem(c, "hostkey")) {
            if (img->login_key)
                return fail(ld, mr_xml_line(c), "<login> and <hostkey> in one <image>: "
                                                "<login> names the host key itself "
                                                "(hostkey=...)");
            if ((r = file_attr(ld, c, "path", &img->hostkey)) < 0)
                return r;
        } else if (mr_xml_is_elem(c, "login")) {
            if ((r = load_login(ld, c, img)) < 0)
                return r;
        } else if (mr_xml_is_elem(c, "sshd")) {
            if ((r = load_sshd(ld, c, img)) < 0)
                return r;
        } else if (mr_xml_is_elem(c, "cloud-config")) {
            if ((r = file_attr(ld, c, "path", &img->cloud_config)) < 0 ||
                (r = check_cloud_config(ld, c, img->cloud_config)) < 0)
                return r;
            if (fam->seed != MR_SEED_CLOUD_INIT)
                return fail(ld, mr_xml_line(c),
                            "<cloud-config> is for cloud-init; family '%s' is seeded for "
                            "cloudbase-init", img->family);
        }
    }
    return 0;
}

/* What <image>'s parts must agree on, once all are read. */
static int check_image(struct loader *ld, struct mr_image *img)
{
    const struct mr_family *fam = img->fam;
    if (!img->disk && !img->kernel)
        return fail(ld, img->line, "<image> '%s' has neither <disk> nor <kernel>", img->name);
    if (img->login_key && img->sshd_package)
        return fail(ld, img->line,
                    "<image> '%s' has both <login> and <sshd>: an image with its own login is "
                    "not seeded, so nothing would install the package",
                    img->name);
    if (img->login_key)
        return img->cloud_config ? fail(ld, img->line,
                                        "<image> '%s' has both <login> and <cloud-config>: an "
                                        "image with its own login is not seeded",
                                        img->name)
                                 : 0;
    /* A golden image may have sshd already: a warning, not an error. */
    if (!img->sshd_package && fam->seed == MR_SEED_CLOUDBASE_INIT &&
        mr_family_seed_entry(fam, img->os_version)->sshd == MR_SSHD_PACKAGE)
        warn(ld, img->line,
             "<image> '%s' version='%s' has no <sshd>: family '%s' has no OpenSSH capability "
             "on that version, so the guest needs sshd installed already; otherwise its seed "
             "stops at boot (name the Win32-OpenSSH archive with <sshd path=\"OpenSSH-Win64.zip\"/>)",
             img->name, img->os_version ? img->os_version : "", img->family);
    /* A baked host key means the image takes the run's key from the kernel command line
     * (no cloud-init): that needs direct kernel boot. */
    if (img->hostkey && !img->kernel)
        return fail(ld, img->line,
                    "<image> '%s' has a <hostkey> but no <kernel>: an image with its own host "
                    "key gets the run's key on the kernel command line; leave <hostkey> out to "
                    "have matrixrun seed it with cloud-init",
                    img->name);
    if (img->hostkey && img->cloud_config)
        return fail(ld, img->line,
                    "<image> '%s' has both <hostkey> and <cloud-config>: only seeded images "
                    "(no <hostkey>) read cloud-config",
                    img->name);
    return 0;
}

static int load_image(struct loader *ld, xmlNodePtr n, struct mr_image *img)
{
    int r;
    if ((r = load_image_attrs(ld, n, img)) < 0 ||
        (r = load_image_children(ld, n, img)) < 0)
        return r;
    return check_image(ld, img);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* An artifact's <depends>: each a file of the family's format, or a folder whose files of
 * that format (in name order) are all taken; a folder with none is a mistake. */
static int load_depends(struct loader *ld, xmlNodePtr art, struct mr_artifact *a,
                        const char *fmt)
{
    for (xmlNodePtr c = art->children; c; c = c->next) {
        if (!mr_xml_is_elem(c, "depends"))
            continue;
        int line = mr_xml_line(c);
        _cleanup_free_ char *v = mr_xml_attr(c, "path");
        if (!v || !v[0])
            return fail(ld, line, "<depends> path is empty");
        _cleanup_free_ char *p = mr_path_join(ld->dir, v);
        struct stat st;
        if (stat(p, &st) < 0)
            return fail(ld, line, "<depends> path='%s': %s (looked for '%s')", v,
                        strerror(errno), p);
        size_t fl = strlen(fmt);
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(p);
            if (!d)
                return fail(ld, line, "<depends> path='%s': cannot read the folder '%s': %s", v,
                            p, strerror(errno));
            size_t before = a->n_deps;
            struct dirent *de;
            while ((de = readdir(d))) {
                size_t nl = strlen(de->d_name);
                if (nl <= fl + 1 || de->d_name[nl - fl - 1] != '.' ||
                    strcmp(de->d_name + nl - fl, fmt) != 0)
                    continue;
                _cleanup_free_ char *f = mr_xasprintf("%s/%s", p, de->d_name);
                if (!mr_file_exists(f))
                    continue;
                a->deps = mr_xrealloc(a->deps, (a->n_deps + 1) * sizeof(*a->deps));
                a->deps[a->n_deps++] = MR_TAKE_PTR(f);
            }
            closedir(d);
            if (a->n_deps == before)
                return fail(ld, line, "<depends> path='%s': the folder '%s' holds no .%s file",
                            v, p, fmt);
            qsort(a->deps + before, a->n_deps - before, sizeof(*a->deps), by_name);
            continue;
        }
        if (!S_ISREG(st.st_mode) || access(p, R_OK) < 0)
            return fail(ld, line, "<depends> path='%s': not a readable file or folder ('%s')", v,
                        p);
        size_t pl = strlen(p);
        if (pl <= fl + 1 || p[pl - fl - 1] != '.' || strcmp(p + pl - fl, fmt) != 0)
            return fail(ld, line,
                        "<depends> path='%s' does not end in '.%s', the package format of "
                        "family '%s'",
                        v, fmt, a->family);
        a->deps = mr_xrealloc(a->deps, (a->n_deps + 1) * sizeof(*a->deps));
        a->deps[a->n_deps++] = MR_TAKE_PTR(p);
    }
    /* The family's install command must take several files at once. */
    const struct mr_family *f = mr_family_find(a->family);
    for (size_t i = 0; a->n_deps && i < f->n_installs; i++)
        if (!strstr(f->installs[i].command, "{artifacts}"))
            return fail(ld, a->line,
                        "<artifact> family '%s' has <depends>, but its install command "
                        "installs one file (no {artifacts} in the catalogue's <install>)",
                        a->family);
    return 0;
}

static int load_package(struct loader *ld, xmlNodePtr n, struct mr_matrix *m)
{
    int r;
    m->pkg_name = mr_xml_attr(n, "name");
    m->pkg_version = mr_xml_attr(n, "version");
    if ((r = uint_attr(ld, n, "install-timeout", 1, 86400, &m->install_timeout_s)) < 0)
        return r;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (mr_xml_is_elem(c, "artifact"))
            m->n_artifacts++;
    m->artifacts = mr_xcalloc(m->n_artifacts, sizeof(*m->artifacts));
    size_t i = 0;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (!mr_xml_is_elem(c, "artifact"))
            continue;
        struct mr_artifact *a = &m->artifacts[i++];
        a->line = mr_xml_line(c);
        a->family = mr_xml_attr(c, "family");
        if ((r = check_family(ld, c, a->family)) < 0)
            return r;
        for (size_t j = 0; j + 1 < i; j++)
            if (strcmp(m->artifacts[j].family, a->family) == 0)
                return fail(ld, a->line,
                            "<artifact> family '%s' is given twice (first at line %d)",
                            a->family, m->artifacts[j].line);
        /* A missing artifact stops the cells of its family: name them. */
        _cleanup_free_ char *cells = NULL;
        for (size_t k = 0; k < m->n_images; k++) {
            const struct mr_image *img = &m->images[k];
            if (img->family && strcmp(img->family, a->family) == 0) {
                char *more = mr_xasprintf("%s%s'%s'", cells ? cells : "", cells ? ", " : "",
                                          img->name);
                free(cells);
                cells = more;
            }
        }
        _cleanup_free_ char *needed =
            cells ? mr_xasprintf("; needed by image(s) %s", cells) : NULL;
        ld->needed_by = needed;
        r = file_attr(ld, c, "path", &a->path);
        ld->needed_by = NULL;
        if (r < 0)
            return r;
        a->version = mr_xml_attr(c, "version");
        /* The package manager decides by content, but a .deb handed to rpm is a matrix
         * mistake better caught before anything boots. */
        const char *fmt = mr_family_find(a->family)->format;
        size_t pl = strlen(a->path), fl = strlen(fmt);
        if (pl <= fl + 1 || a->path[pl - fl - 1] != '.' || strcmp(a->path + pl - fl, fmt) != 0)
            return fail(ld, a->line,
                        "<artifact> path='%s' does not end in '.%s', the package format of "
                        "family '%s'",
                        a->path, fmt, a->family);
        if ((r = load_depends(ld, c, a, fmt)) < 0)
            return r;
    }
    return 0;
}

static int load_test(struct loader *ld, xmlNodePtr n, struct mr_test *t)
{
    int r;
    t->line = mr_xml_line(n);
    t->name = mr_xml_attr(n, "name");
    t->timeout_s = MR_DEFAULT_TEST_TIMEOUT_S;
    if ((r = check_name(ld, n, "test", t->name)) < 0)
        return r;
    if (strcmp(t->name, "boot") == 0 || strcmp(t->name, "install") == 0)
        return fail(ld, t->line, "<test> name '%s' is reserved for matrixrun's own step",
                    t->name);
    if ((r = uint_attr(ld, n, "timeout", 1, 86400, &t->timeout_s)) < 0)
        return r;
    t->command = mr_xml_text(n);
    if (!t->command[0])
        return fail(ld, t->line, "<test> '%s' has no command", t->name);
    return 0;
}

/* Axis names become environment variable names (or pick a size), values become parts of
 * cell ids and so of file names, libvirt domain names and JUnit names. */
#define ENV_NAME_FIRST "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
#define ENV_NAME_CHARS ENV_NAME_FIRST "0123456789"
#define VALUE_CHARS ENV_NAME_CHARS ".+-"
#define RESERVED_PREFIX "MATRIXRUN_"

static int check_axis_name(struct loader *ld, int line, const char *name,
                           enum mr_axis_kind *ret)
{
    for (size_t i = 0; i < MR_ARRAY_SIZE(size_rules); i++)
        if (strcmp(name, size_rules[i].name) == 0) {
            *ret = size_rules[i].kind;
            return 0;
        }
    if (!name[0] || !strchr(ENV_NAME_FIRST, name[0]) || name[strspn(name, ENV_NAME_CHARS)])
        return fail(ld, line,
                    "<axis> name '%s' is neither vcpus, memory-mib nor an environment variable "
                    "name (letters, digits and '_', not starting with a digit)",
                    name);
    if (strncmp(name, RESERVED_PREFIX, strlen(RESERVED_PREFIX)) == 0)
        return fail(ld, line,
                    "<axis> name '%s' is reserved: variables starting with " RESERVED_PREFIX
                    " are matrixrun's own",
                    name);
    if (strcmp(name, "image") == 0)
        return fail(ld, line,
                    "<axis> name 'image' is reserved: <exclude> and <include> name the image "
                    "with it");
    *ret = MR_AXIS_ENV;
    return 0;
}

/* Checks one value of an axis of the given kind and returns it in the form cells use:
 * as written, or for a size its canonical decimal. SUBJECT is as for check_uint(). */
static int check_axis_value(struct loader *ld, int line, const char *subject,
                            enum mr_axis_kind kind, const char *v, char **ret)
{
    if (!v[0])
        return fail(ld, line, "%s'' is empty", subject);
    if (v[strspn(v, VALUE_CHARS)]) {
        /* The value as one line: it may hold line breaks, and the message is one line. */
        _cleanup_free_ char *shown = mr_xml_one_line(v);
        return fail(ld, line, "%s'%s' may hold only letters, digits, '_', '.', '+' and '-'",
                    subject, shown);
    }
    const struct size_rule *sr = size_rule(kind);
    if (!sr) {
        *ret = mr_xstrdup(v);
        return 0;
    }
    unsigned x;
    int r = check_uint(ld, line, subject, v, sr->min, sr->max, &x);
    if (r < 0)
        return r;
    *ret = mr_xasprintf("%u", x);
    return 0;
}

static int load_axis(struct loader *ld, xmlNodePtr n, struct mr_axis *ax)
{
    int r;
    ax->line = mr_xml_line(n);
    ax->name = mr_xml_attr(n, "name");
    if ((r = check_axis_name(ld, ax->line, ax->name, &ax->kind)) < 0)
        return r;
    size_t count = 0;
    for (xmlNodePtr c = n->children; c; c = c->next)
        count += mr_xml_is_elem(c, "value");
    ax->values = mr_xcalloc(count, sizeof(*ax->values));
    _cleanup_free_ int *lines = mr_xcalloc(count, sizeof(*lines));
    _cleanup_free_ char *subject = mr_xasprintf("<axis> '%s' value ", ax->name);
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (!mr_xml_is_elem(c, "value"))
            continue;
        int line = mr_xml_line(c);
        _cleanup_free_ char *raw = mr_xml_text(c);
        _cleanup_free_ char *v = NULL;
        if ((r = check_axis_value(ld, line, subject, ax->kind, raw, &v)) < 0)
            return r;
        for (size_t j = 0; j < ax->n_values; j++)
            if (strcmp(ax->values[j], v) == 0)
                return fail(ld, line, "<axis> '%s' value '%s' is given twice (first at line %d)",
                            ax->name, raw, lines[j]);
        lines[ax->n_values] = line;
        ax->values[ax->n_values++] = MR_TAKE_PTR(v);
    }
    return 0;
}

static size_t axis_index(const struct mr_matrix *m, const char *name)
{
    size_t k;
    for (k = 0; k < m->n_axes; k++)
        if (strcmp(m->axes[k].name, name) == 0)
            break;
    return k;
}

/* A cell while the matrix expands: an image and one value per axis. */
struct proto {
    const struct mr_image *img;
    const char **vals; /* n_axes, borrowed from the axes or from expansion.owned */
    int line;          /* the <include> that made it, 0 for the product */
    bool gone;         /* removed by an <exclude> */
};

/* All arrays are sized up front (product plus one cell per <include>): protos never move. */
struct expansion {
    struct proto *p;
    size_t n;
    size_t present; /* cells not gone */
    const char **vals;
    char **owned; /* the <include> values */
    size_t n_owned;
};

static void expansion_release(struct expansion *ex)
{
    for (size_t i = 0; i < ex->n_owned; i++)
        free(ex->owned[i]);
    free(ex->owned);
    free(ex->vals);
    free(ex->p);
}

static char *cell_id(const struct mr_matrix *m, const struct proto *p)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_adds(&b, p->img->name);
    for (size_t k = 0; k < m->n_axes; k++)
        mr_buf_addf(&b, ".%s=%s", m->axes[k].name, p->vals[k]);
    return mr_buf_detach(&b, NULL);
}

/* Images times axis values, checked against MR_MAX_CELLS at the element that passes it
 * (before anything is allocated, so a typo of 100000 values costs nothing). */
static int count_product(struct loader *ld, const struct mr_matrix *m, size_t *ret)
{
    if (m->n_images > MR_MAX_CELLS)
        return fail(ld, m->images[MR_MAX_CELLS].line,
                    "<image> '%s' is image number %d; a matrix has at most %d cells",
                    m->images[MR_MAX_CELLS].name, MR_MAX_CELLS + 1, MR_MAX_CELLS);
    size_t n = m->n_images;
    for (size_t k = 0; k < m->n_axes; k++) {
        /* Both factors are at most MR_MAX_CELLS (the structure check bounds values). */
        n *= m->axes[k].n_values;
        if (n > MR_MAX_CELLS)
            return fail(ld, m->axes[k].line,
                        "<axis> '%s' brings the matrix to %zu cells (images times the values "
                        "of the axes so far); a matrix has at most %d",
                        m->axes[k].name, n, MR_MAX_CELLS);
    }
    *ret = n;
    return 0;
}

static void product(const struct mr_matrix *m, struct expansion *ex)
{
    size_t per_image = 1;
    for (size_t k = 0; k < m->n_axes; k++)
        per_image *= m->axes[k].n_values;
    for (size_t i = 0; i < m->n_images; i++) {
        for (size_t j = 0; j < per_image; j++) {
            struct proto *p = &ex->p[ex->n];
            p->img = &m->images[i];
            p->vals = ex->vals + ex->n * m->n_axes;
            /* j in mixed radix, the last axis the lowest digit: it varies fastest. */
            size_t rest = j;
            for (size_t k = m->n_axes; k-- > 0;) {
                p->vals[k] = m->axes[k].values[rest % m->axes[k].n_values];
                rest /= m->axes[k].n_values;
            }
            ex->n++;
        }
    }
    ex->present = ex->n;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Reads the attributes of an <exclude> or <include>: image into *image and, per axis, its
 * attribute into vals[k] (NULL where absent). The strings are the caller's. */
static int read_rule(struct loader *ld, const struct mr_matrix *m, xmlNodePtr n, char **image,
                     char **vals)
{
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        const char *name = (const char *)a->name;
        if (a->ns)
            return fail(ld, mr_xml_line(n), "<%s> attribute '%s:%s' is in a namespace; "
                                            "axes and image are named without one",
                        (const char *)n->name, (const char *)a->ns->prefix, name);
        xmlChar *x = xmlNodeGetContent((xmlNodePtr)a);
        char *v = mr_xstrdup(x ? (const char *)x : "");
        xmlFree(x);
        size_t k = axis_index(m, name);
        if (strcmp(name, "image") == 0) {
            free(*image);
            *image = v;
        } else if (k < m->n_axes) {
            vals[k] = v;
        } else {
            free(v);
            struct mr_buf names;
            mr_buf_init(&names);
            for (size_t j = 0; j < m->n_axes; j++)
                mr_buf_addf(&names, "%s%s", j ? ", " : "", m->axes[j].name);
            _cleanup_free_ char *list = mr_buf_detach(&names, NULL);
            return fail(ld, mr_xml_line(n), "<%s> attribute '%s' names no axis (axes: %s)",
                        (const char *)n->name, name, m->n_axes ? list : "none");
        }
    }
    return 0;
}

/* The element with its attributes, as the user wrote them, for messages. */
static char *describe(xmlNodePtr n)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_addf(&b, "<%s", (const char *)n->name);
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        xmlChar *x = xmlNodeGetContent((xmlNodePtr)a);
        mr_buf_addf(&b, " %s='%s'", (const char *)a->name, x ? (const char *)x : "");
        xmlFree(x);
    }
    mr_buf_adds(&b, ">");
    return mr_buf_detach(&b, NULL);
}

/* Removes the product's cells that match every pattern of the <exclude>. It must match a
 * cell of the product (whether or not an earlier <exclude> removed it already): one that
 * matches none is a typo, and silently running the cells it meant to drop is worse. */
static int apply_exclude(struct loader *ld, const struct mr_matrix *m, xmlNodePtr n,
                         struct expansion *ex)
{
    int r;
    if (!n->properties)
        return fail(ld, mr_xml_line(n),
                    "<exclude> has no attribute: give the image and/or axis values (shell "
                    "patterns) of the cells to remove");
    _cleanup_free_ char *image = NULL;
    char **pats = mr_xcalloc(m->n_axes, sizeof(*pats));
    if ((r = read_rule(ld, m, n, &image, pats)) < 0)
        goto out;
    size_t hits = 0;
    for (size_t i = 0; i < ex->n; i++) {
        struct proto *p = &ex->p[i];
        int match = !image || fnmatch(image, p->img->name, 0) == 0;
        for (size_t k = 0; k < m->n_axes && match; k++)
            match = !pats[k] || fnmatch(pats[k], p->vals[k], 0) == 0;
        if (!match)
            continue;
        hits++;
        if (!p->gone) {
            p->gone = true;
            ex->present--;
        }
    }
    if (!hits) {
        _cleanup_free_ char *what = describe(n);
        r = fail(ld, mr_xml_line(n), "%s matches no cell", what);
    }
out:
    free_strv(pats, m->n_axes);
    return r;
}

/* Adds the one cell an <include> describes, after the product and earlier includes. */
static int apply_include(struct loader *ld, const struct mr_matrix *m, xmlNodePtr n,
                         struct expansion *ex)
{
    int r;
    int line = mr_xml_line(n);
    _cleanup_free_ char *image = NULL;
    char **vals = mr_xcalloc(m->n_axes, sizeof(*vals));
    if ((r = read_rule(ld, m, n, &image, vals)) < 0)
        goto out;
    const struct mr_image *img = NULL;
    for (size_t i = 0; i < m->n_images && !img; i++)
        if (strcmp(m->images[i].name, image) == 0)
            img = &m->images[i];
    if (!img) {
        r = fail(ld, line, "<include> image='%s' is not an <image> of the matrix", image);
        goto out;
    }
    for (size_t k = 0; k < m->n_axes; k++) {
        const struct mr_axis *ax = &m->axes[k];
        if (!vals[k]) {
            r = fail(ld, line, "<include> gives no value for axis '%s'", ax->name);
            goto out;
        }
        _cleanup_free_ char *subject = mr_xasprintf("<include> %s=", ax->name);
        char *v;
        if ((r = check_axis_value(ld, line, subject, ax->kind, vals[k], &v)) < 0)
            goto out;
        free(vals[k]);
        vals[k] = v;
    }
    struct proto *p = &ex->p[ex->n];
    *p = (struct proto){ .img = img, .vals = ex->vals + ex->n * m->n_axes, .line = line };
    for (size_t k = 0; k < m->n_axes; k++)
        p->vals[k] = vals[k];
    for (size_t i = 0; i < ex->n; i++) {
        const struct proto *q = &ex->p[i];
        int same = !q->gone && q->img == img;
        for (size_t k = 0; k < m->n_axes && same; k++)
            same = strcmp(q->vals[k], p->vals[k]) == 0;
        if (!same)
            continue;
        _cleanup_free_ char *id = cell_id(m, p);
        _cleanup_free_ char *from = q->line ? mr_xasprintf("the <include> at line %d", q->line)
                                            : mr_xstrdup("its images and axes");
        r = fail(ld, line, "<include> adds cell '%s', which the matrix already has (from %s)",
                 id, from);
        goto out;
    }
    if (ex->present + 1 > MR_MAX_CELLS) {
        r = fail(ld, line, "<include> brings the matrix to %zu cells; a matrix has at most %d",
                 ex->present + 1, MR_MAX_CELLS);
        goto out;
    }
    ex->n++;
    ex->present++;
    for (size_t k = 0; k < m->n_axes; k++)
        ex->owned[ex->n_owned++] = MR_TAKE_PTR(vals[k]);
    r = 0;
out:
    free_strv(vals, m->n_axes);
    return r;
}

/* The files a run writes at the top of its report folder, next to the cells' folders;
 * the atomic writes' temporary files are these names and ".tmp.XXXXXX". */
static const char *const report_files[] = { "junit.xml", "summary.html" };

/* A cell's id is the name of its folder in the report folder: one plain path component
 * that is none of the run's own files there (compared without case, for report folders
 * on file systems that ignore it). Image names already keep ids clear of '/' and
 * leading dots; this says so once more where the id is final. */
static int check_cell_dir(struct loader *ld, int line, const char *id)
{
    if (!id[0] || id[0] == '.' || strchr(id, '/'))
        return fail(ld, line, "cell '%s' cannot name a folder (one path component, not "
                    "starting with '.')", id);
    for (size_t i = 0; i < MR_ARRAY_SIZE(report_files); i++) {
        size_t n = strlen(report_files[i]);
        if (strncasecmp(id, report_files[i], n) == 0 &&
            (id[n] == '\0' || strncasecmp(id + n, ".tmp.", 5) == 0))
            return fail(ld, line,
                        "cell '%s' would have its folder where the run writes its '%s' in the "
                        "report folder: rename the <image>",
                        id, report_files[i]);
    }
    return 0;
}

/* Turns the cells left into the matrix's: ids, sizes, variables. */
static int make_cells(struct loader *ld, struct mr_matrix *m, const struct expansion *ex)
{
    size_t n_env = 0;
    for (size_t k = 0; k < m->n_axes; k++)
        n_env += m->axes[k].kind == MR_AXIS_ENV;
    m->cells = mr_xcalloc(ex->present, sizeof(*m->cells));
    for (size_t i = 0; i < ex->n; i++) {
        const struct proto *p = &ex->p[i];
        if (p->gone)
            continue;
        struct mr_cell *c = &m->cells[m->n_cells++];
        c->img = p->img;
        c->line = p->line;
        c->id = cell_id(m, p);
        if (strlen(c->id) > MR_MAX_CELL_ID) {
            /* Point at the <include>, else at the axis whose part passes the limit. */
            int line = p->line;
            size_t len = strlen(p->img->name);
            for (size_t k = 0; k < m->n_axes && !line; k++) {
                len += 2 + strlen(m->axes[k].name) + strlen(p->vals[k]);
                if (len > MR_MAX_CELL_ID)
                    line = m->axes[k].line;
            }
            return fail(ld, line,
                        "cell '%s' has an id of %zu characters; at most %d (it names the cell's "
                        "files and guest)",
                        c->id, strlen(c->id), MR_MAX_CELL_ID);
        }
        int r = check_cell_dir(ld, p->line ? p->line : p->img->line, c->id);
        if (r < 0)
            return r;
        c->vcpus = p->img->vcpus;
        c->memory_mib = p->img->memory_mib;
        c->env = n_env ? mr_xcalloc(n_env, sizeof(*c->env)) : NULL;
        for (size_t k = 0; k < m->n_axes; k++) {
            /* Size values are canonical decimals already checked against their range. */
            switch (m->axes[k].kind) {
            case MR_AXIS_VCPUS:
                c->vcpus = (unsigned)strtoul(p->vals[k], NULL, 10);
                break;
            case MR_AXIS_MEMORY_MIB:
                c->memory_mib = (unsigned)strtoul(p->vals[k], NULL, 10);
                break;
            case MR_AXIS_ENV:
                c->env[c->n_env].name = mr_xstrdup(m->axes[k].name);
                c->env[c->n_env].value = mr_xstrdup(p->vals[k]);
                c->n_env++;
                break;
            }
        }
    }
    return 0;
}

/* Images times axis values in order (images outer, the last axis fastest), less the
 * <exclude>d cells, plus the <include>d ones in file order. */
static int expand_cells(struct loader *ld, struct mr_matrix *m, xmlNodePtr root)
{
    int r;
    size_t n_product = 0, n_include = 0;
    if ((r = count_product(ld, m, &n_product)) < 0)
        return r;
    for (xmlNodePtr c = root->children; c; c = c->next)
        n_include += mr_xml_is_elem(c, "include");
    size_t cap = n_product + n_include;
    struct expansion ex = {
        .p = mr_xcalloc(cap, sizeof(*ex.p)),
        .vals = mr_xcalloc(cap * m->n_axes, sizeof(*ex.vals)),
        .owned = mr_xcalloc(n_include * m->n_axes, sizeof(*ex.owned)),
    };
    product(m, &ex);
    int emptied_at = 0; /* the <exclude> that removed the last cell of the product */
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (!mr_xml_is_elem(c, "exclude"))
            continue;
        if ((r = apply_exclude(ld, m, c, &ex)) < 0)
            goto out;
        if (ex.present == 0 && !emptied_at)
            emptied_at = mr_xml_line(c);
    }
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (mr_xml_is_elem(c, "include") && (r = apply_include(ld, m, c, &ex)) < 0)
            goto out;
    /* Excluding every cell of the product is fine when <include>s then name the cells. */
    if (ex.present == 0) {
        r = fail(ld, emptied_at,
                 "<exclude> removes the last cell: every cell of the matrix is excluded");
        goto out;
    }
    r = make_cells(ld, m, &ex);
out:
    expansion_release(&ex);
    return r;
}

static int load_doc(struct loader *ld, xmlDocPtr doc, struct mr_matrix *m)
{
    int r;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    size_t ni = 0, nt = 0, na = 0;
    xmlNodePtr package = NULL;
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (mr_xml_is_elem(c, "image"))
            m->n_images++;
        else if (mr_xml_is_elem(c, "test"))
            m->n_tests++;
        else if (mr_xml_is_elem(c, "axis"))
            m->n_axes++;
    }
    m->images = mr_xcalloc(m->n_images, sizeof(*m->images));
    m->tests = mr_xcalloc(m->n_tests, sizeof(*m->tests));
    m->axes = mr_xcalloc(m->n_axes, sizeof(*m->axes));
    m->name = mr_xml_attr(root, "name");
    if ((r = uint_attr(ld, root, "retries", 0, 10, &m->retries)) < 0 ||
        (r = uint_attr(ld, root, "cell-timeout", 1, 7 * 86400, &m->cell_timeout_s)) < 0)
        return r;
    size_t nh = 0;
    for (xmlNodePtr c = root->children; c; c = c->next)
        nh += mr_xml_is_elem(c, "host");
    m->hosts = mr_xcalloc(nh ? nh : 1, sizeof(*m->hosts));
    for (xmlNodePtr c = root->children; c; c = c->next) {
        if (mr_xml_is_elem(c, "host")) {
            r = load_host(ld, c, m);
        } else if (mr_xml_is_elem(c, "image")) {
            struct mr_image *img = &m->images[ni++];
            r = load_image(ld, c, img);
            for (size_t j = 0; r == 0 && j + 1 < ni; j++)
                if (strcmp(m->images[j].name, img->name) == 0)
                    r = fail(ld, img->line, "<image> name '%s' is used twice (first at line %d)",
                             img->name, m->images[j].line);
        } else if (mr_xml_is_elem(c, "package")) {
            package = c; /* after the images, so that its messages can name them */
            r = 0;
        } else if (mr_xml_is_elem(c, "test")) {
            struct mr_test *t = &m->tests[nt++];
            r = load_test(ld, c, t);
            for (size_t j = 0; r == 0 && j + 1 < nt; j++)
                if (strcmp(m->tests[j].name, t->name) == 0)
                    r = fail(ld, t->line, "<test> name '%s' is used twice (first at line %d)",
                             t->name, m->tests[j].line);
        } else if (mr_xml_is_elem(c, "benchmark")) {
            r = load_benchmark(ld, c, &m->bench);
        } else if (mr_xml_is_elem(c, "axis")) {
            struct mr_axis *ax = &m->axes[na++];
            r = load_axis(ld, c, ax);
            for (size_t j = 0; r == 0 && j + 1 < na; j++)
                if (strcmp(m->axes[j].name, ax->name) == 0)
                    r = fail(ld, ax->line, "<axis> name '%s' is used twice (first at line %d)",
                             ax->name, m->axes[j].line);
        } else {
            r = 0;
        }
        if (r < 0)
            return r;
    }
    if (package && (r = load_package(ld, package, m)) < 0)
        return r;
    if (!m->name) {
        /* Default the name to the file's base name without extension. */
        const char *b = strrchr(m->path, '/');
        b = b ? b + 1 : m->path;
        const char *dot = strrchr(b, '.');
        m->name = dot && dot != b ? mr_xstrndup(b, (size_t)(dot - b)) : mr_xstrdup(b);
    }
    for (size_t i = 0; i < m->n_images; i++) {
        const struct mr_image *img = &m->images[i];
        if (!mr_matrix_artifact(m, img->family))
            return fail(ld, img->line,
                        "<image> '%s' has family '%s' but <package> has no artifact for it",
                        img->name, img->family);
    }
    if (!m->n_hosts) {
        m->hosts[0] = (struct mr_host){ .uri = mr_xstrdup(m->uri), .accel = m->accel };
        m->n_hosts = 1;
    }
    return expand_cells(ld, m, root);
}

int mr_matrix_load(const char *path, struct mr_matrix **ret, struct mr_err *err)
{
    struct mr_matrix *m = mr_xcalloc(1, sizeof(*m));
    m->path = mr_xstrdup(path);
    m->uri = mr_xstrdup(MR_DEFAULT_URI);
    m->accel = MR_ACCEL_KVM;
    m->install_timeout_s = MR_DEFAULT_INSTALL_TIMEOUT_S;
    m->retries = MR_DEFAULT_RETRIES;
    m->bench = (struct mr_bench_spec){ .seconds = MR_DEFAULT_BENCH_SECONDS,
                                       .repetitions = MR_DEFAULT_BENCH_REPETITIONS,
                                       .warmup = MR_DEFAULT_BENCH_WARMUP,
                                       .max_overhead_pct = -1,
                                       .max_interval_pct = MR_DEFAULT_BENCH_MAX_INTERVAL_PCT };
    /* Paths in the matrix are relative to its folder, made absolute here: they end up in
     * qcow2 backing-file fields and libvirt XML, which resolve relative paths elsewhere. */
    _cleanup_free_ char *rel_dir = mr_path_dirname(path);
    _cleanup_free_ char *dir = realpath(rel_dir, NULL);
    if (!dir)
        dir = mr_xstrdup(rel_dir);
    struct loader ld = { .file = path, .dir = dir, .err = err, .m = m };
    _cleanup_xmldoc_ xmlDocPtr doc = NULL;
    int r;

    if (access(path, R_OK) < 0) {
        r = -errno;
        mr_err_set(err, "%s: cannot read matrix: %s", path, strerror(errno));
        goto fail;
    }
    if (!(doc = mr_xml_read_doc(path, "matrix", err))) {
        r = -EINVAL;
        goto fail;
    }
    if ((r = check_root(&ld, doc)) < 0 || (r = validate_schema(&ld, doc)) < 0)
        goto fail;
    if ((r = load_doc(&ld, doc, m)) < 0)
        goto fail;
    *ret = m;
    return 0;
fail:
    mr_matrix_free(m);
    return r;
}

const char *mr_network_name(enum mr_network n)
{
    return n == MR_NETWORK_OUTBOUND ? "outbound" : "isolated";
}

int mr_network_parse(const char *s, enum mr_network *ret)
{
    if (strcmp(s, "isolated") == 0)
        *ret = MR_NETWORK_ISOLATED;
    else if (strcmp(s, "outbound") == 0)
        *ret = MR_NETWORK_OUTBOUND;
    else
        return -EINVAL;
    return 0;
}

const char *mr_matrix_expected_version(const struct mr_matrix *m, const struct mr_artifact *a)
{
    return a && a->version ? a->version : m->pkg_version;
}

const struct mr_artifact *mr_matrix_artifact(const struct mr_matrix *m, const char *family)
{
    for (size_t i = 0; i < m->n_artifacts; i++)
        if (m->artifacts[i].family && strcmp(m->artifacts[i].family, family) == 0)
            return &m->artifacts[i];
    return NULL;
}

int mr_matrix_select(const struct mr_matrix *m, char *const *only, size_t n_only,
                     unsigned shard_i, unsigned shard_n, const struct mr_cell ***ret,
                     size_t *n, struct mr_err *err)
{
    const struct mr_cell **sel = mr_xcalloc(m->n_cells ? m->n_cells : 1, sizeof(*sel));
    size_t k = 0;
    for (size_t j = 0; j < n_only; j++) {
        size_t hits = 0;
        for (size_t i = 0; i < m->n_cells; i++)
            hits += fnmatch(only[j], m->cells[i].id, 0) == 0;
        if (!hits) {
            mr_err_set(err, "%s: --only '%s' matches no cell (see 'matrixrun list %s')",
                       m->path, only[j], m->path);
            free(sel);
            return -EINVAL;
        }
    }
    for (size_t i = 0; i < m->n_cells; i++) {
        int want = n_only == 0;
        for (size_t j = 0; j < n_only && !want; j++)
            want = fnmatch(only[j], m->cells[i].id, 0) == 0;
        if (want)
            sel[k++] = &m->cells[i];
    }
    if (shard_n > 1) {
        /* Round robin over the selection: slices differ in size by one cell at most. */
        size_t w = 0;
        for (size_t i = 0; i < k; i++)
            if (i % shard_n == shard_i - 1)
                sel[w++] = sel[i];
        k = w;
    }
    *ret = sel;
    *n = k;
    return 0;
}

void mr_matrix_free(struct mr_matrix *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_cells; i++) {
        struct mr_cell *c = &m->cells[i];
        free(c->id);
        for (size_t j = 0; j < c->n_env; j++) {
            free(c->env[j].name);
            free(c->env[j].value);
        }
        free(c->env);
    }
    free(m->cells);
    for (size_t i = 0; i < m->n_axes; i++) {
        free(m->axes[i].name);
        for (size_t j = 0; j < m->axes[i].n_values; j++)
            free(m->axes[i].values[j]);
        free(m->axes[i].values);
    }
    free(m->axes);
    for (size_t i = 0; i < m->n_images; i++) {
        struct mr_image *img = &m->images[i];
        free(img->name);
        free(img->family);
        free(img->user);
        free(img->disk);
        free(img->kernel);
        free(img->initrd);
        free(img->cmdline);
        free(img->hostkey);
        free(img->login_key);
        free(img->os_version);
        free(img->cloud_config);
        free(img->sshd_package);
    }
    free(m->images);
    for (size_t i = 0; i < m->n_artifacts; i++) {
        free(m->artifacts[i].family);
        free(m->artifacts[i].path);
        free(m->artifacts[i].version);
        for (size_t j = 0; j < m->artifacts[i].n_deps; j++)
            free(m->artifacts[i].deps[j]);
        free(m->artifacts[i].deps);
    }
    free(m->artifacts);
    for (size_t i = 0; i < m->n_tests; i++) {
        free(m->tests[i].name);
        free(m->tests[i].command);
    }
    free(m->tests);
    free(m->path);
    free(m->name);
    free(m->uri);
    for (size_t i = 0; i < m->n_hosts; i++)
        free(m->hosts[i].uri);
    free(m->hosts);
    free(m->pkg_name);
    free(m->pkg_version);
    for (size_t i = 0; i < m->n_warnings; i++)
        free(m->warnings[i]);
    free(m->warnings);
    free(m);
}
