/* junit.h: the results of a run and their JUnit XML rendering.
 *
 * A struct mr_report owns its suites, a suite owns its properties and cases, a case owns
 * its strings; mr_report_free() frees everything. Text given to these functions may be
 * any bytes: it is cleaned when rendered (mr_xml_clean). */
#ifndef MR_JUNIT_H
#define MR_JUNIT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum mr_verdict {
    MR_VERDICT_PASS,
    MR_VERDICT_FAIL,  /* a test ran and failed */
    MR_VERDICT_ERROR, /* the machinery failed */
    MR_VERDICT_SKIP,  /* could not run after an earlier error */
};

struct mr_case {
    char *name;
    char *classname;
    enum mr_verdict verdict;
    char *type;    /* failure/error type, or NULL */
    char *message; /* failure/error/skip message, or NULL */
    double time_s;
    char *out;     /* system-out, or NULL */
    size_t out_len;
    char *err;     /* system-err, or NULL */
    size_t err_len;
};

struct mr_prop {
    char *name;
    char *value;
};

struct mr_suite {
    char *name;
    char *hostname;
    int64_t timestamp_ms; /* wall clock at start */
    double time_s;
    struct mr_prop *props;
    size_t n_props;
    struct mr_case **cases;
    size_t n_cases;
    char *out; /* the suite's system-out (attachment lines), or NULL */
};

struct mr_report {
    char *name;
    struct mr_suite **suites;
    size_t n_suites;
};

struct mr_report *mr_report_new(const char *name);
void mr_report_free(struct mr_report *r);
struct mr_suite *mr_report_add_suite(struct mr_report *r, const char *name);
/* Removes and frees the last suite added (a cell attempt that will be run again). */
void mr_report_drop_last_suite(struct mr_report *r);
/* Appends src's suites to dst in their order; src is left empty. */
void mr_report_move_suites(struct mr_report *dst, struct mr_report *src);
void mr_suite_set_prop(struct mr_suite *s, const char *name, const char *value);
/* Adds a passing case; the caller fills in verdict and texts. Borrowed pointer. */
struct mr_case *mr_suite_add_case(struct mr_suite *s, const char *classname, const char *name);
void mr_case_set(struct mr_case *c, enum mr_verdict v, const char *type, const char *fmt, ...)
    MR_PRINTF(4, 5);
/* Appends text to the suite's system-out, where attachment lines such as
 * "[[ATTACHMENT|/abs/path]]" go (Jenkins' attachments plugin reads them there). */
void mr_suite_add_out(struct mr_suite *s, const char *text);
/* Copies len bytes of output (any bytes) into system-out or system-err. */
void mr_case_set_out(struct mr_case *c, const char *data, size_t len);
void mr_case_set_err(struct mr_case *c, const char *data, size_t len);

/* Counts over a suite or a whole report. */
struct mr_counts {
    size_t tests, failures, errors, skipped;
};
struct mr_counts mr_suite_counts(const struct mr_suite *s);
struct mr_counts mr_report_counts(const struct mr_report *r);

/* Returns text that XML 1.0 accepts: valid UTF-8 is kept, each invalid byte becomes
 * U+FFFD, and each character XML forbids (C0 controls but tab, LF, CR; U+FFFE, U+FFFF)
 * becomes a visible escape such as "\x1b". Caller frees. */
char *mr_xml_clean(const char *data, size_t len);

/* Renders the report (caller frees). */
char *mr_junit_render(const struct mr_report *r, size_t *ret_len);
/* Renders and writes atomically (temp file + rename): readers see the old file or the
 * new one, never half of one. */
int mr_junit_write(const struct mr_report *r, const char *path, struct mr_err *err) MR_WUR;

#endif
