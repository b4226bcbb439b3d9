/* report.c: a run's results as suites, properties and testcases, with the counts and
 * lookups the writers and readers share. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strmap.h"

/* Makes room for one more entry in an array of n, doubling its room when it is full, so
 * that n additions copy O(n) entries in all (a report read back may hold many). */
static void *grow(void *array, size_t n, size_t *room, size_t size)
{
    if (n < *room)
        return array;
    *room = *room ? 2 * *room : 4;
    return mr_xrealloc(array, *room * size);
}

/* ---- the spill file ---- */

struct mr_spill {
    int fd;
    uint64_t end;          /* bytes handed out so far (under lock) */
    pthread_mutex_t lock;
    unsigned refs;         /* (atomic) reports and cases using it */
};

static struct mr_spill *spill_ref(struct mr_spill *sp)
{
    if (sp)
        __atomic_add_fetch(&sp->refs, 1, __ATOMIC_RELAXED);
    return sp;
}

static void spill_unref(struct mr_spill *sp)
{
    if (!sp || __atomic_sub_fetch(&sp->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    close(sp->fd);
    pthread_mutex_destroy(&sp->lock);
    free(sp);
}

/* An unlinked file: O_TMPFILE where the file system has it, else a named one removed at
 * once. Nobody else can open it either way; it goes when its descriptor closes. */
static int spill_open(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd < 0 ? -errno : fd;
    _cleanup_free_ char *path = mr_xasprintf("%s/spill.XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    (void)unlink(path);
    return fd;
}

int mr_report_spill_to(struct mr_report *r, const char *dir, struct mr_err *err)
{
    int fd = spill_open(dir);
    if (fd < 0) {
        mr_err_set(err, "cannot create a file for test output in '%s': %s", dir,
                   strerror(-fd));
        return fd;
    }
    struct mr_spill *sp = mr_xcalloc(1, sizeof(*sp));
    sp->fd = fd;
    sp->refs = 1;
    pthread_mutex_init(&sp->lock, NULL);
    spill_unref(r->spill);
    r->spill = sp;
    return 0;
}

void mr_report_share_spill(struct mr_report *r, const struct mr_report *from)
{
    struct mr_spill *sp = spill_ref(from->spill);
    spill_unref(r->spill);
    r->spill = sp;
}

/* Appends data to the spill file; returns its offset there, or -1 (it stays in memory). A
 * write that fails leaves a hole nobody points at. */
static int64_t spill_append(struct mr_spill *sp, const char *data, size_t len)
{
    pthread_mutex_lock(&sp->lock);
    uint64_t at = sp->end;
    sp->end += len;
    pthread_mutex_unlock(&sp->lock);
    for (size_t done = 0; done < len;) {
        ssize_t n = pwrite(sp->fd, data + done, len - done, (off_t)(at + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return (int64_t)at;
}

/* Stores a case's text: in the spill file when the case has one and the text is long
 * enough, else in memory. */
static void case_store(struct mr_case *c, const char *data, size_t len, char **mem,
                       size_t *mem_len, int64_t *at)
{
    free(*mem);
    *mem = NULL;
    *at = -1;
    *mem_len = len;
    if (c->spill && len >= MR_SPILL_MIN && (*at = spill_append(c->spill, data, len)) >= 0)
        return;
    *mem = mr_xstrndup(data, len);
}

int mr_case_text_spilled(const struct mr_case *c, int err)
{
    return (err ? c->err_at : c->out_at) >= 0;
}

ssize_t mr_case_read_text(const struct mr_case *c, int err, size_t off, char *buf, size_t n)
{
    size_t len = err ? c->err_len : c->out_len;
    int64_t at = err ? c->err_at : c->out_at;
    const char *mem = err ? c->err : c->out;
    if (off >= len)
        return 0;
    if (n > len - off)
        n = len - off;
    if (at < 0) {
        if (!mem)
            return 0;
        memcpy(buf, mem + off, n);
        return (ssize_t)n;
    }
    for (size_t done = 0; done < n;) {
        ssize_t k = pread(c->spill->fd, buf + done, n - done, (off_t)((uint64_t)at + off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            return -EIO; /* the file is shorter than what was written to it */
        done += (size_t)k;
    }
    return (ssize_t)n;
}

/* ---- the model ---- */

struct mr_report *mr_report_new(const char *name)
{
    struct mr_report *r = mr_xcalloc(1, sizeof(*r));
    r->name = mr_xstrdup(name);
    return r;
}

static void tail_free(struct mr_tail *t)
{
    if (t)
        free(t->text);
    free(t);
}

static void case_free(struct mr_case *c)
{
    tail_free(c->out_tail);
    tail_free(c->err_tail);
    free(c->name);
    free(c->classname);
    free(c->type);
    free(c->message);
    free(c->out);
    free(c->err);
    spill_unref(c->spill);
    free(c);
}

static void suite_free(struct mr_suite *s)
{
    for (size_t j = 0; j < s->n_props; j++) {
        free(s->props[j].name);
        free(s->props[j].value);
    }
    free(s->props);
    for (size_t j = 0; j < s->n_cases; j++)
        case_free(s->cases[j]);
    free(s->cases);
    free(s->out);
    free(s->name);
    free(s->hostname);
    free(s);
}

void mr_report_drop_last_suite(struct mr_report *r)
{
    if (r->n_suites)
        suite_free(r->suites[--r->n_suites]);
}

void mr_report_move_suites(struct mr_report *dst, struct mr_report *src)
{
    if (!src->n_suites)
        return;
    dst->suites_room = dst->n_suites + src->n_suites;
    dst->suites = mr_xrealloc(dst->suites, dst->suites_room * sizeof(*dst->suites));
    memcpy(dst->suites + dst->n_suites, src->suites, src->n_suites * sizeof(*src->suites));
    dst->n_suites += src->n_suites;
    free(src->suites);
    src->suites = NULL;
    src->n_suites = 0;
    src->suites_room = 0;
}

void mr_report_free(struct mr_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_suites; i++)
        suite_free(r->suites[i]);
    free(r->suites);
    free(r->name);
    spill_unref(r->spill);
    free(r);
}

struct mr_suite *mr_report_add_suite(struct mr_report *r, const char *name)
{
    struct mr_suite *s = mr_xcalloc(1, sizeof(*s));
    s->name = mr_xstrdup(name);
    s->timestamp_ms = mr_wall_ms();
    s->spill = r->spill;
    r->suites = grow(r->suites, r->n_suites, &r->suites_room, sizeof(*r->suites));
    r->suites[r->n_suites++] = s;
    return s;
}

void mr_suite_set_prop(struct mr_suite *s, const char *name, const char *value)
{
    for (size_t i = 0; i < s->n_props; i++) {
        if (strcmp(s->props[i].name, name) == 0) {
            free(s->props[i].value);
            s->props[i].value = mr_xstrdup(value);
            return;
        }
    }
    mr_suite_add_prop(s, name, value);
}

void mr_suite_add_prop(struct mr_suite *s, const char *name, const char *value)
{
    s->props = grow(s->props, s->n_props, &s->props_room, sizeof(*s->props));
    s->props[s->n_props].name = mr_xstrdup(name);
    s->props[s->n_props].value = mr_xstrdup(value);
    s->n_props++;
}

struct mr_case *mr_suite_add_case(struct mr_suite *s, const char *classname, const char *name)
{
    struct mr_case *c = mr_xcalloc(1, sizeof(*c));
    c->name = mr_xstrdup(name);
    c->classname = mr_xstrdup(classname);
    c->verdict = MR_VERDICT_PASS;
    c->out_at = c->err_at = -1;
    c->spill = spill_ref(s->spill);
    s->cases = grow(s->cases, s->n_cases, &s->cases_room, sizeof(*s->cases));
    s->cases[s->n_cases++] = c;
    return c;
}

void mr_case_set(struct mr_case *c, enum mr_verdict v, const char *type, const char *fmt, ...)
{
    c->verdict = v;
    free(c->type);
    c->type = type ? mr_xstrdup(type) : NULL;
    free(c->message);
    c->message = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        c->message = mr_xvasprintf(fmt, ap);
        va_end(ap);
    }
}

void mr_suite_add_out(struct mr_suite *s, const char *text)
{
    struct mr_buf b;
    mr_buf_init(&b);
    if (s->out)
        mr_buf_adds(&b, s->out);
    mr_buf_adds(&b, text);
    free(s->out);
    s->out = mr_buf_detach(&b, NULL);
}

void mr_case_set_out(struct mr_case *c, const char *data, size_t len)
{
    case_store(c, data, len, &c->out, &c->out_len, &c->out_at);
}

void mr_case_set_err(struct mr_case *c, const char *data, size_t len)
{
    case_store(c, data, len, &c->err, &c->err_len, &c->err_at);
}

struct mr_counts mr_suite_counts(const struct mr_suite *s)
{
    struct mr_counts n = { 0 };
    for (size_t i = 0; i < s->n_cases; i++) {
        n.tests++;
        switch (s->cases[i]->verdict) {
        case MR_VERDICT_FAIL:
            n.failures++;
            break;
        case MR_VERDICT_ERROR:
            n.errors++;
            break;
        case MR_VERDICT_SKIP:
            n.skipped++;
            break;
        case MR_VERDICT_PASS:
            break;
        }
    }
    return n;
}

struct mr_counts mr_report_counts(const struct mr_report *r)
{
    struct mr_counts n = { 0 };
    for (size_t i = 0; i < r->n_suites; i++) {
        struct mr_counts s = mr_suite_counts(r->suites[i]);
        n.tests += s.tests;
        n.failures += s.failures;
        n.errors += s.errors;
        n.skipped += s.skipped;
    }
    return n;
}

const char *mr_suite_prop(const struct mr_suite *s, const char *name)
{
    for (size_t i = 0; i < s->n_props; i++)
        if (strcmp(s->props[i].name, name) == 0)
            return s->props[i].value;
    return NULL;
}

const struct mr_case *mr_suite_case(const struct mr_suite *s, const char *name)
{
    for (size_t i = 0; i < s->n_cases; i++)
        if (strcmp(s->cases[i]->name, name) == 0)
            return s->cases[i];
    return NULL;
}

size_t mr_report_distinct_prop(const struct mr_report *r, const char *name,
                               const char ***ret)
{
    const char **v = mr_xcalloc(r->n_suites ? r->n_suites : 1, sizeof(*v));
    struct mr_strmap *seen = mr_strmap_new();
    size_t n = 0;
    for (size_t i = 0; i < r->n_suites; i++) {
        const char *x = mr_suite_prop(r->suites[i], name);
        if (!x && strcmp(name, MR_PROP_HOST) == 0)
            x = r->suites[i]->hostname;
        if (!x || !*x)
            continue;
        /* A table, not a scan of the values so far: a report may have as many distinct
         * values as suites. */
        if (mr_strmap_add(seen, x, n, NULL))
            v[n++] = x;
    }
    mr_strmap_free(seen);
    *ret = v;
    return n;
}

int mr_report_is_matrixrun(const struct mr_report *r)
{
    for (size_t i = 0; i < r->n_suites; i++)
        if (mr_suite_prop(r->suites[i], MR_PROP_RUN_ID))
            return 1;
    return 0;
}
