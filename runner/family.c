/* family.c: loads the OS-family catalogue and expands its command templates (family.h). */
#define _GNU_SOURCE
#include "family.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

#include "report.h"
#include "xmlutil.h"

struct catalogue {
    char *source;
    struct mr_family *families;
    size_t n;
};

static struct catalogue *current;

static void catalogue_free(struct catalogue *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct mr_family *f = &c->families[i];
        free(f->name);
        free(f->format);
        free(f->default_user);
        free(f->tmpdir);
        for (size_t j = 0; j < f->n_installs; j++)
            free(f->installs[j].command);
        free(f->installs);
        free(f->ssh);
        free(f->seeds);
        free(f->version_cmd);
        for (size_t j = 0; j < f->n_logs; j++) {
            free(f->logs[j].name);
            free(f->logs[j].command);
        }
        free(f->logs);
    }
    free(c->families);
    free(c->source);
    free(c);
}

static unsigned uint_or_zero(xmlNodePtr n, const char *name)
{
    _cleanup_free_ char *v = mr_xml_attr(n, name);
    return v ? (unsigned)strtoul(v, NULL, 10) : 0;
}

/* min-version and max-version of a catalogue entry: a range that holds no version is a
 * typo, not a way to switch the entry off. */
static int load_range(const char *file, xmlNodePtr c, unsigned *min, unsigned *max,
                      struct mr_err *err)
{
    *min = uint_or_zero(c, "min-version");
    *max = uint_or_zero(c, "max-version");
    if (*max && *min > *max) {
        mr_err_set(err, "%s:%d: <%s> min-version %u is above max-version %u", file,
                   mr_xml_line(c), (const char *)c->name, *min, *max);
        return -EINVAL;
    }
    return 0;
}

static int load_install(const char *file, xmlNodePtr c, const struct mr_family *f,
                        struct mr_family_install *in, struct mr_err *err)
{
    in->command = mr_xml_text(c);
    if (!in->command[0]) {
        mr_err_set(err, "%s:%d: <install> of family '%s' is empty", file, mr_xml_line(c),
                   f->name);
        return -EINVAL;
    }
    return load_range(file, c, &in->min_version, &in->max_version, err);
}

static int load_ssh(const char *file, xmlNodePtr c, struct mr_family_ssh *sh,
                    struct mr_err *err)
{
    _cleanup_free_ char *kt = mr_xml_attr(c, "keytype");
    sh->keytype = strcmp(kt, "rsa") == 0 ? MR_KEYTYPE_RSA : MR_KEYTYPE_ED25519;
    _cleanup_free_ char *tty = mr_xml_attr(c, "tty");
    sh->tty = tty && strcmp(tty, "yes") == 0;
    return load_range(file, c, &sh->min_version, &sh->max_version, err);
}

static int load_seed(const char *file, xmlNodePtr c, const struct mr_family *f,
                     struct mr_family_seed *sd, struct mr_err *err)
{
    _cleanup_free_ char *sshd = mr_xml_attr(c, "sshd");
    sd->powershell = uint_or_zero(c, "powershell");
    sd->sshd = strcmp(sshd, "package") == 0 ? MR_SSHD_PACKAGE : MR_SSHD_CAPABILITY;
    int r = load_range(file, c, &sd->min_version, &sd->max_version, err);
    if (r < 0)
        return r;
    /* The script exists for these two PowerShells only (seed.c). */
    if (sd->powershell != 2 && sd->powershell != 5) {
        mr_err_set(err, "%s:%d: <seed> powershell='%u': the seed script is written "
                        "for PowerShell 2 or 5", file, mr_xml_line(c), sd->powershell);
        return -EINVAL;
    }
    if (sd->powershell == 2 && sd->sshd == MR_SSHD_CAPABILITY) {
        mr_err_set(err, "%s:%d: <seed> powershell='2' with sshd='capability': "
                        "Add-WindowsCapability needs PowerShell 5 (Windows Server "
                        "2019 has the OpenSSH capability)", file, mr_xml_line(c));
        return -EINVAL;
    }
    if (f->seed != MR_SEED_CLOUDBASE_INIT) {
        mr_err_set(err, "%s:%d: <seed> is for cloudbase-init families; family '%s' "
                        "is seeded for cloud-init", file, mr_xml_line(c), f->name);
        return -EINVAL;
    }
    return 0;
}

static int load_log(const char *file, xmlNodePtr c, struct mr_family_log *l,
                    struct mr_err *err)
{
    l->name = mr_xml_attr(c, "name");
    l->command = mr_xml_text(c);
    int r = load_range(file, c, &l->min_version, &l->max_version, err);
    if (r < 0)
        return r;
    /* The name becomes a member of the artifacts archive: keep it a plain name. */
    if (!l->name[0] || strchr(l->name, '/') || l->name[0] == '.') {
        mr_err_set(err, "%s:%d: <log> name '%s' must be a plain file name", file,
                   mr_xml_line(c), l->name);
        return -EINVAL;
    }
    return 0;
}

/* After the schema check: values the schema cannot express. */
static int load_family(const char *file, xmlNodePtr n, struct mr_family *f, struct mr_err *err)
{
    f->line = mr_xml_line(n);
    f->name = mr_xml_attr(n, "name");
    f->format = mr_xml_attr(n, "format");
    f->default_user = mr_xml_attr(n, "user");
    f->tmpdir = mr_xml_attr(n, "tmpdir");
    f->boot_timeout_hint_s = uint_or_zero(n, "boot-timeout");
    _cleanup_free_ char *shell = mr_xml_attr(n, "shell");
    _cleanup_free_ char *seed = mr_xml_attr(n, "seed");
    f->shell = strcmp(shell, "powershell") == 0 ? MR_SHELL_POWERSHELL : MR_SHELL_SH;
    f->seed = strcmp(seed, "cloudbase-init") == 0 ? MR_SEED_CLOUDBASE_INIT : MR_SEED_CLOUD_INIT;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        if (mr_xml_is_elem(c, "install"))
            f->n_installs++;
        else if (mr_xml_is_elem(c, "ssh"))
            f->n_ssh++;
        else if (mr_xml_is_elem(c, "log"))
            f->n_logs++;
        else if (mr_xml_is_elem(c, "seed"))
            f->n_seeds++;
    }
    f->installs = mr_xcalloc(f->n_installs, sizeof(*f->installs));
    f->logs = mr_xcalloc(f->n_logs, sizeof(*f->logs));
    f->ssh = mr_xcalloc(f->n_ssh, sizeof(*f->ssh));
    f->seeds = mr_xcalloc(f->n_seeds, sizeof(*f->seeds));
    size_t ni = 0, nl = 0, ns = 0, nd = 0;
    for (xmlNodePtr c = n->children; c; c = c->next) {
        int r = 0;
        if (mr_xml_is_elem(c, "install"))
            r = load_install(file, c, f, &f->installs[ni++], err);
        else if (mr_xml_is_elem(c, "ssh"))
            r = load_ssh(file, c, &f->ssh[ns++], err);
        else if (mr_xml_is_elem(c, "seed"))
            r = load_seed(file, c, f, &f->seeds[nd++], err);
        else if (mr_xml_is_elem(c, "version"))
            f->version_cmd = mr_xml_text(c);
        else if (mr_xml_is_elem(c, "log"))
            r = load_log(file, c, &f->logs[nl++], err);
        if (r < 0)
            return r;
    }
    if (!f->version_cmd || !f->version_cmd[0]) {
        mr_err_set(err, "%s:%d: family '%s' has an empty <version> command", file, f->line,
                   f->name);
        return -EINVAL;
    }
    return 0;
}

static int load_doc(const char *file, xmlDocPtr doc, struct catalogue **ret, struct mr_err *err)
{
    int r = mr_xml_validate_rng(doc, mr_family_schema, mr_family_schema_len, file,
                                "family catalogue", err);
    if (r < 0)
        return r;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    struct catalogue *c = mr_xcalloc(1, sizeof(*c));
    c->source = mr_xstrdup(file);
    for (xmlNodePtr n = root->children; n; n = n->next)
        if (mr_xml_is_elem(n, "family"))
            c->n++;
    c->families = mr_xcalloc(c->n, sizeof(*c->families));
    size_t i = 0;
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (!mr_xml_is_elem(n, "family"))
            continue;
        struct mr_family *f = &c->families[i++];
        if ((r = load_family(file, n, f, err)) < 0)
            goto fail;
        for (size_t j = 0; j + 1 < i; j++)
            if (strcmp(c->families[j].name, f->name) == 0) {
                mr_err_set(err, "%s:%d: family '%s' is defined twice (first at line %d)", file,
                           f->line, f->name, c->families[j].line);
                r = -EINVAL;
                goto fail;
            }
    }
    *ret = c;
    return 0;
fail:
    catalogue_free(c);
    return r;
}

int mr_family_catalogue_load(const char *path, struct mr_err *err)
{
    struct catalogue *c = NULL;
    _cleanup_xmldoc_ xmlDocPtr doc = NULL;
    int r;
    if (path) {
        if (!(doc = mr_xml_read_file(path, err)))
            return -EINVAL;
        r = load_doc(path, doc, &c, err);
    } else {
        doc = xmlReadMemory(mr_family_catalogue, (int)mr_family_catalogue_len,
                            "images/families.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
            mr_err_set(err, "internal error: the built-in family catalogue is not XML");
            return -EINVAL;
        }
        r = load_doc("built-in images/families.xml", doc, &c, err);
        if (r == 0) {
            free(c->source);
            c->source = mr_xstrdup("built-in");
        }
    }
    if (r < 0)
        return r;
    catalogue_free(current);
    current = c;
    return 0;
}

void mr_family_catalogue_reset(void)
{
    catalogue_free(current);
    current = NULL;
}

static const struct catalogue *cat(void)
{
    if (!current) {
        /* The built-in catalogue is checked by the unit tests; failing here is a build bug. */
        struct mr_err e = { 0 };
        if (mr_family_catalogue_load(NULL, &e) < 0) {
            fprintf(stderr, "matrixrun: %s\n", mr_err_msg(&e));
            abort();
        }
    }
    return current;
}

const char *mr_family_catalogue_source(void)
{
    return cat()->source;
}

const struct mr_family *mr_family_find(const char *name)
{
    const struct catalogue *c = cat();
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->families[i].name, name) == 0)
            return &c->families[i];
    return NULL;
}

char *mr_family_names(void)
{
    const struct catalogue *c = cat();
    struct mr_buf b;
    mr_buf_init(&b);
    for (size_t i = 0; i < c->n; i++)
        mr_buf_addf(&b, "%s%s", i ? ", " : "", c->families[i].name);
    return mr_buf_detach(&b, NULL);
}

/* Whether an OS major version is within an entry's bounds (0: none). */
static int in_range(unsigned major, unsigned min_version, unsigned max_version)
{
    return (!min_version || major >= min_version) && (!max_version || major <= max_version);
}

char *mr_family_entry_name(const struct mr_family *f, const char *os_version)
{
    const struct mr_family_install *in = NULL;
    if (f->n_installs && !os_version) {
        in = &f->installs[f->n_installs - 1];
    } else if (os_version) {
        unsigned major = (unsigned)strtoul(os_version, NULL, 10);
        for (size_t i = 0; i < f->n_installs && !in; i++)
            if (in_range(major, f->installs[i].min_version, f->installs[i].max_version))
                in = &f->installs[i];
    }
    if (!in || (!in->min_version && !in->max_version))
        return mr_xstrdup(f->name);
    if (!in->min_version)
        return mr_xasprintf("%s<=%u", f->name, in->max_version);
    if (!in->max_version)
        return mr_xasprintf("%s>=%u", f->name, in->min_version);
    return mr_xasprintf("%s%u-%u", f->name, in->min_version, in->max_version);
}

const char *mr_family_install_template(const struct mr_family *f, const char *os_version)
{
    if (!f->n_installs)
        return NULL;
    if (!os_version)
        return f->installs[f->n_installs - 1].command;
    unsigned major = (unsigned)strtoul(os_version, NULL, 10);
    for (size_t i = 0; i < f->n_installs; i++) {
        const struct mr_family_install *in = &f->installs[i];
        if (in_range(major, in->min_version, in->max_version))
            return in->command;
    }
    return NULL;
}

int mr_family_log_applies(const struct mr_family_log *l, const char *os_version)
{
    if (!os_version)
        return 1;
    return in_range((unsigned)strtoul(os_version, NULL, 10), l->min_version, l->max_version);
}

const struct mr_family_seed *mr_family_seed_entry(const struct mr_family *f,
                                                  const char *os_version)
{
    static const struct mr_family_seed modern = { 5, MR_SSHD_CAPABILITY, 0, 0 };
    if (!f->n_seeds)
        return &modern;
    if (!os_version)
        return &f->seeds[f->n_seeds - 1];
    unsigned major = (unsigned)strtoul(os_version, NULL, 10);
    for (size_t i = 0; i < f->n_seeds; i++)
        if (in_range(major, f->seeds[i].min_version, f->seeds[i].max_version))
            return &f->seeds[i];
    return &modern;
}

enum mr_keytype mr_family_keytype(const struct mr_family *f, const char *os_version)
{
    if (!f->n_ssh)
        return MR_KEYTYPE_ED25519;
    if (!os_version)
        return f->ssh[f->n_ssh - 1].keytype;
    unsigned major = (unsigned)strtoul(os_version, NULL, 10);
    for (size_t i = 0; i < f->n_ssh; i++)
        if (in_range(major, f->ssh[i].min_version, f->ssh[i].max_version))
            return f->ssh[i].keytype;
    return MR_KEYTYPE_ED25519;
}

int mr_family_tty(const struct mr_family *f, const char *os_version)
{
    if (!f->n_ssh)
        return 0;
    if (!os_version)
        return f->ssh[f->n_ssh - 1].tty;
    unsigned major = (unsigned)strtoul(os_version, NULL, 10);
    for (size_t i = 0; i < f->n_ssh; i++)
        if (in_range(major, f->ssh[i].min_version, f->ssh[i].max_version))
            return f->ssh[i].tty;
    return 0;
}

char *mr_family_remote_path(const struct mr_family *f, const char *local_path)
{
    const char *base = strrchr(local_path, '/') ? strrchr(local_path, '/') + 1 : local_path;
    /* A tame name: it is spelled into commands of two different shells. */
    _cleanup_free_ char *tame = mr_xstrdup(base);
    for (char *p = tame; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *p))
            *p = '_';
    char sep = f->shell == MR_SHELL_POWERSHELL ? '\\' : '/';
    return mr_xasprintf("%s%c%s", f->tmpdir, sep, tame);
}

char *mr_family_sftp_path(const struct mr_family *f, const char *remote_path)
{
    if (f->shell != MR_SHELL_POWERSHELL)
        return mr_xstrdup(remote_path);
    /* Win32-OpenSSH's SFTP server spells C:\x\y as /C:/x/y. */
    char *p = mr_xasprintf("/%s", remote_path);
    for (char *q = p; *q; q++)
        if (*q == '\\')
            *q = '/';
    return p;
}

/* U+2018 to U+201B (left, right, low-9 and reversed-9 single quotation marks) in UTF-8:
 * PowerShell's tokenizer takes each of them for a single quote. */
static int is_ps_single_quote(const char *p)
{
    return (unsigned char)p[0] == 0xE2 && (unsigned char)p[1] == 0x80 &&
           (unsigned char)p[2] >= 0x98 && (unsigned char)p[2] <= 0x9B;
}

char *mr_shell_quote(enum mr_shell shell, const char *s)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_adds(&b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            mr_buf_adds(&b, shell == MR_SHELL_POWERSHELL ? "''" : "'\\''");
        } else if (shell == MR_SHELL_POWERSHELL && is_ps_single_quote(p)) {
            /* A typographic single quote ends a PowerShell '...' string as ' does, and
             * doubled it stands for itself as '' does: written twice. */
            mr_buf_add(&b, p, 3);
            mr_buf_add(&b, p, 3);
            p += 2;
        } else {
            mr_buf_add(&b, p, 1);
        }
    }
    mr_buf_adds(&b, "'");
    return mr_buf_detach(&b, NULL);
}

char *mr_family_expand(const struct mr_family *f, const char *tmpl,
                       const struct mr_family_vars *v)
{
    _cleanup_free_ char *installlog =
        mr_xasprintf("%s%cmatrixrun-install.log", f->tmpdir,
                     f->shell == MR_SHELL_POWERSHELL ? '\\' : '/');
    int root = !v->user || strcmp(v->user, "root") == 0;
    const char *sudo = f->shell == MR_SHELL_POWERSHELL || root ? "" : "sudo -n ";
    struct mr_buf b;
    mr_buf_init(&b);
    for (const char *p = tmpl; *p;) {
        const char *val = NULL;
        size_t skip = 0;
        int quote = 1;
        if (strncmp(p, "{artifacts}", 11) == 0) {
            _cleanup_free_ char *q = mr_shell_quote(f->shell, v->artifact ? v->artifact : "");
            mr_buf_adds(&b, q);
            for (size_t i = 0; i < v->n_deps; i++) {
                _cleanup_free_ char *d = mr_shell_quote(f->shell, v->deps[i]);
                mr_buf_addf(&b, " %s", d);
            }
            p += 11;
            continue;
        }
        if (strncmp(p, "{artifact}", 10) == 0)
            val = v->artifact, skip = 10;
        else if (strncmp(p, "{package}", 9) == 0)
            val = v->package, skip = 9;
        else if (strncmp(p, "{installlog}", 12) == 0)
            val = installlog, skip = 12;
        else if (strncmp(p, "{sudo}", 6) == 0)
            val = sudo, skip = 6, quote = 0;
        if (!skip) {
            mr_buf_add(&b, p++, 1);
            continue;
        }
        if (quote) {
            _cleanup_free_ char *q = mr_shell_quote(f->shell, val ? val : "");
            mr_buf_adds(&b, q);
        } else {
            mr_buf_adds(&b, val);
        }
        p += skip;
    }
    return mr_buf_detach(&b, NULL);
}

char *mr_family_expand_log(const struct mr_family *f, const char *tmpl,
                           const struct mr_family_vars *v)
{
    int root = !v->user || strcmp(v->user, "root") == 0;
    if (f->shell != MR_SHELL_SH || root || strncmp(tmpl, "{sudo}", 6) != 0)
        return mr_family_expand(f, tmpl, v);
    const char *rest = tmpl + 6;
    /* The program is the first word when it is a plain name or path; anything else
     * (a variable, a quote, a subshell) is left to sudo as it is. */
    size_t n = strspn(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                            "0123456789_./+-");
    if (n == 0 || (rest[n] != '\0' && rest[n] != ' ' && rest[n] != '\t'))
        return mr_family_expand(f, tmpl, v);
    _cleanup_free_ char *inner = mr_family_expand(f, rest, v);
    _cleanup_free_ char *script =
        mr_xasprintf("command -v %.*s >/dev/null 2>&1 || exit %d; %s", (int)n, rest,
                     MR_FAMILY_LOG_ABSENT_STATUS, inner);
    _cleanup_free_ char *q = mr_shell_quote(MR_SHELL_SH, script);
    return mr_xasprintf("sudo -n sh -c %s", q);
}

/* UTF-8 to UTF-16LE; invalid bytes become U+FFFD. */
static unsigned char *utf16le(const char *s, size_t *ret_len)
{
    size_t n = strlen(s);
    unsigned char *out = mr_xmalloc(n * 4 + 2);
    size_t o = 0;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        uint32_t cp = 0xfffd;
        size_t k = 1;
        if (p[0] < 0x80)
            cp = p[0];
        else if ((p[0] & 0xe0) == 0xc0 && end - p >= 2 && (p[1] & 0xc0) == 0x80)
            cp = ((p[0] & 0x1fu) << 6) | (p[1] & 0x3fu), k = 2;
        else if ((p[0] & 0xf0) == 0xe0 && end - p >= 3 && (p[1] & 0xc0) == 0x80 &&
                 (p[2] & 0xc0) == 0x80)
            cp = ((p[0] & 0x0fu) << 12) | ((p[1] & 0x3fu) << 6) | (p[2] & 0x3fu), k = 3;
        else if ((p[0] & 0xf8) == 0xf0 && end - p >= 4 && (p[1] & 0xc0) == 0x80 &&
                 (p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80)
            cp = ((p[0] & 0x07u) << 18) | ((p[1] & 0x3fu) << 12) | ((p[2] & 0x3fu) << 6) |
                 (p[3] & 0x3fu),
            k = 4;
        p += k;
        if (cp >= 0x10000 && cp <= 0x10ffff) {
            cp -= 0x10000;
            uint32_t hi = 0xd800 + (cp >> 10), lo = 0xdc00 + (cp & 0x3ff);
            out[o++] = hi & 0xff, out[o++] = (unsigned char)(hi >> 8);
            out[o++] = lo & 0xff, out[o++] = (unsigned char)(lo >> 8);
        } else {
            if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                cp = 0xfffd;
            out[o++] = cp & 0xff, out[o++] = (unsigned char)(cp >> 8);
        }
    }
    *ret_len = o;
    return out;
}

char *mr_family_wrap(const struct mr_family *f, const char *cmd)
{
    if (f->shell != MR_SHELL_POWERSHELL)
        return mr_xstrdup(cmd);
    size_t len;
    _cleanup_free_ unsigned char *u = utf16le(cmd, &len);
    _cleanup_free_ char *b64 = mr_base64_encode(u, len);
    return mr_xasprintf("powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass "
                        "-EncodedCommand %s",
                        b64);
}

char *mr_family_logs_script(const char *const *cmds, size_t n, const char *nonce)
{
    struct mr_buf b;
    mr_buf_init(&b);
    /* Only builtins frame the output: under TCG every process a guest starts is costly,
     * and a framing that measured sizes with wc and cut with head took the guest several
     * times as long as the log commands themselves; this one adds next to nothing. */
    for (size_t i = 0; i < n; i++)
        mr_buf_addf(&b,
                    "printf 'MR-%s %zu\\n'; printf 'MR-%s %zu\\n' >&2\n"
                    "(\n%s\n) </dev/null\n"
                    "printf '\\nMR-%s %zu end %%d\\n' $?; printf '\\nMR-%s %zu end\\n' >&2\n",
                    nonce, i, nonce, i, cmds[i], nonce, i, nonce, i);
    return mr_buf_detach(&b, NULL);
}

/* Finds frame i of one stream at data[*pos]: "MR-<nonce> <i>\n", the content, then
 * "\nMR-<nonce> <i> end" with " <status>" when status is wanted, and "\n". The end
 * counts only when the next frame's start (or, for the last frame, the end of the
 * data) follows it, so a log that quotes a marker does not cut its frame short. */
static int logs_frame(const char *data, size_t len, size_t *pos, const char *nonce, size_t i,
                      size_t n, int *status, const char **content, size_t *content_len)
{
    char head[96], tail[96], next[96];
    int hl = snprintf(head, sizeof(head), "MR-%s %zu\n", nonce, i);
    int tl = snprintf(tail, sizeof(tail), "\nMR-%s %zu end", nonce, i);
    int nl = snprintf(next, sizeof(next), "MR-%s %zu\n", nonce, i + 1);
    if (hl < 0 || (size_t)hl >= sizeof(head) || tl < 0 || (size_t)tl >= sizeof(tail) ||
        nl < 0 || (size_t)nl >= sizeof(next))
        return -EPROTO;
    if (len - *pos < (size_t)hl || memcmp(data + *pos, head, (size_t)hl) != 0)
        return -EPROTO;
    size_t start = *pos + (size_t)hl;
    for (size_t from = start; from <= len;) {
        const char *t = memmem(data + from, len - from, tail, (size_t)tl);
        if (!t)
            return -EPROTO;
        size_t p = (size_t)(t - data) + (size_t)tl;
        int st = 0, ok = 1;
        if (status) {
            ok = p < len && data[p] == ' ';
            size_t digits = 0;
            for (p++; ok && p < len && data[p] >= '0' && data[p] <= '9' && digits < 3; p++)
                st = st * 10 + (data[p] - '0'), digits++;
            ok = ok && digits > 0;
        }
        ok = ok && p < len && data[p] == '\n';
        p++;
        if (ok && (i + 1 == n ? p == len
                              : len - p >= (size_t)nl && memcmp(data + p, next, (size_t)nl) == 0)) {
            if (status)
                *status = st;
            *content = data + start;
            *content_len = (size_t)(t - data) - start;
            *pos = p;
            return 0;
        }
        from = (size_t)(t - data) + 1;
    }
    return -EPROTO;
}

int mr_family_logs_parse(const char *out, size_t out_len, const char *err, size_t err_len,
                         const char *nonce, size_t n, size_t out_cap,
                         struct mr_family_log_result *res)
{
    size_t po = 0, pe = 0;
    for (size_t i = 0; i < n; i++) {
        struct mr_family_log_result r = { 0 };
        if (logs_frame(out, out_len, &po, nonce, i, n, &r.status, &r.out, &r.out_len) < 0 ||
            logs_frame(err, err_len, &pe, nonce, i, n, NULL, &r.err, &r.err_len) < 0)
            return -EPROTO;
        if (r.out_len > out_cap)
            r.out_dropped = r.out_len - out_cap, r.out_len = out_cap;
        if (r.err_len > MR_FAMILY_LOG_ERR_CAP)
            r.err_len = MR_FAMILY_LOG_ERR_CAP;
        res[i] = r;
    }
    return n || (out_len == 0 && err_len == 0) ? 0 : -EPROTO;
}

/* What differs between the shells and between the seeds' readers, as data. */
static const struct shell_traits {
    const char *kernel_query;
    const char *env_before, *env_between; /* "export " NAME "=" VALUE "; " */
    const char *run_before;               /* before a program's quoted path */
    int batches_logs;
    int windows;
} shell_traits[] = {
    [MR_SHELL_SH] = { "uname -r", "export ", "=", "", 1, 0 },
    /* Get-WmiObject: PowerShell 2.0 (Windows Server 2008 R2) has no Get-CimInstance. */
    [MR_SHELL_POWERSHELL] = { "(Get-WmiObject Win32_OperatingSystem).Version", "$env:", " = ",
                              "& ", 0, 1 },
};

static const struct mr_family_seed_wait cloud_init_wait = {
    "cloud-init", "cloud-init status --wait", MR_PROP_CLOUD_INIT_STATUS, "logs/cloud-init.log"
};

static const struct seed_traits {
    const char *provisioning;
    const struct mr_family_seed_wait *wait;
    int password; /* the seed creates an account that must have a password */
} seed_traits[] = {
    [MR_SEED_CLOUD_INIT] = { "cloud-init seed", &cloud_init_wait, 0 },
    [MR_SEED_CLOUDBASE_INIT] = { "cloudbase-init seed", NULL, 1 },
};

const char *mr_family_kernel_query(const struct mr_family *f)
{
    return shell_traits[f->shell].kernel_query;
}

int mr_family_batches_logs(const struct mr_family *f)
{
    return shell_traits[f->shell].batches_logs;
}

void mr_family_env_assign(const struct mr_family *f, struct mr_buf *b, const char *name,
                          const char *value)
{
    const struct shell_traits *t = &shell_traits[f->shell];
    _cleanup_free_ char *q = mr_shell_quote(f->shell, value);
    mr_buf_addf(b, "%s%s%s%s; ", t->env_before, name, t->env_between, q);
}

char *mr_family_run_program(const struct mr_family *f, const char *remote_path,
                            const char *args)
{
    _cleanup_free_ char *q = mr_shell_quote(f->shell, remote_path);
    return mr_xasprintf("%s%s %s", shell_traits[f->shell].run_before, q, args);
}

int mr_family_is_windows(const struct mr_family *f)
{
    return shell_traits[f->shell].windows;
}

const char *mr_family_provisioning(const struct mr_family *f)
{
    return seed_traits[f->seed].provisioning;
}

const struct mr_family_seed_wait *mr_family_seed_wait(const struct mr_family *f)
{
    return seed_traits[f->seed].wait;
}

char *mr_family_seed_password(const struct mr_family *f)
{
    if (!seed_traits[f->seed].password)
        return NULL;
    static const char set[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    unsigned char b[24];
    mr_random(b, sizeof(b));
    char pw[sizeof(b) + 5];
    for (size_t i = 0; i < sizeof(b); i++)
        pw[i] = set[b[i] % (sizeof(set) - 1)];
    /* Windows' default complexity rule wants three character classes. */
    memcpy(pw + sizeof(b), "#a7Q", 5);
    char *ret = mr_xstrdup(pw);
    explicit_bzero(pw, sizeof(pw));
    return ret;
}

/* The name that follows prefix in text, up to a character that cannot be in a package
 * name (space, quote, comma, semicolon, parenthesis, newline), or NULL. */
static char *name_after(const char *text, const char *prefix, const char *until)
{
    const char *p = strstr(text, prefix);
    if (!p)
        return NULL;
    p += strlen(prefix);
    while (*p == ' ' || *p == '\'')
        p++;
    size_t n = strcspn(p, until);
    return n ? mr_xstrndup(p, n) : NULL;
}

char *mr_family_missing_dependency(const char *output)
{
    /* The forms each tool prints (its own words, as of the releases matrixrun knows):
     *   dpkg:   "pkg depends on dep; however:" / "depends on dep (>= 1.0); however:"
     *   apt:    " pkg : Depends: dep but it is not installable" (or "not going to be")
     *   dnf:    "nothing provides dep needed by pkg-1.0-1.noarch"
     *   zypper: "nothing provides 'dep' needed by the to be installed pkg-1.0-1.noarch"
     *   yum:    "Requires: dep" (after "Error: Package: pkg")
     *   rpm:    "dep is needed by pkg-1.0-1.noarch" (under "Failed dependencies:") */
    static const struct {
        const char *prefix, *until;
    } forms[] = {
        { " depends on ", " ,;(\n" },
        { "Depends: ", " ,(\n" },
        { "nothing provides ", " ,'\n" },
        { "Requires: ", " ,(\n" },
    };
    for (size_t i = 0; i < MR_ARRAY_SIZE(forms); i++) {
        char *dep = name_after(output, forms[i].prefix, forms[i].until);
        if (dep)
            return dep;
    }
    const char *p = strstr(output, " is needed by ");
    if (p) {
        const char *start = p;
        while (start > output && start[-1] != '\n' && start[-1] != '\t')
            start--;
        while (*start == ' ' || *start == '\t')
            start++;
        size_t n = strcspn(start, " ");
        if (n && start + n <= p)
            return mr_xstrndup(start, n);
    }
    return NULL;
}
