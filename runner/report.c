/* report.c: a run's results as suites, properties and testcases, with the counts and
 * lookups the writers and readers share. */
#define _GNU_SOURCE
#include "report.h"

#include <stdarg.h>
#include <string.h>

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

struct mr_report *mr_report_new(const char *name)
{
    struct mr_report *r = mr_xcalloc(1, sizeof(*r));
    r->name = mr_xstrdup(name);
    return r;
}

static void case_free(struct mr_case *c)
{
    free(c->name);
    free(c->classname);
    free(c->type);
    free(c->message);
    free(c->out);
    free(c->err);
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
    free(r);
}

struct mr_suite *mr_report_add_suite(struct mr_report *r, const char *name)
{
    struct mr_suite *s = mr_xcalloc(1, sizeof(*s));
    s->name = mr_xstrdup(name);
    s->timestamp_ms = mr_wall_ms();
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
    free(c->out);
    c->out = mr_xstrndup(data, len);
    c->out_len = len;
}

void mr_case_set_err(struct mr_case *c, const char *data, size_t len)
{
    free(c->err);
    c->err = mr_xstrndup(data, len);
    c->err_len = len;
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
