/* report_read.c: parses a JUnit report back into a struct mr_report as it streams past
 * (libxml2's SAX2 interface: no document tree, no network, no DTD) and reads a cell's CPU
 * benchmark figures out of its properties. */
#define _GNU_SOURCE
#include "report_read.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/SAX2.h>

#include "strmap.h"
#include "xmlutil.h"

static void fd_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
}

int mr_parse_double(const char *s, double *ret)
{
    if (!s || !*s || strchr(" \t\r\n", *s))
        return -EINVAL;
    /* Only what printf("%f"/"%e") writes in the C locale: no hex, no inf, no nan. */
    if (s[strspn(s, "0123456789+-.eE")] != '\0')
        return -EINVAL;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return -EINVAL;
    *ret = v;
    return 0;
}

/* The end of one output stream as it streams past: the last bytes (at most twice
 * MR_TAIL_MAX_BYTES, cut back to MR_TAIL_MAX_BYTES when they grow past it, so each byte
 * is moved at most once or twice) and counts over the whole stream. */
struct tail {
    struct mr_buf keep;
    uint64_t bytes, newlines;
    char last;
    int seen; /* the testcase had this element */
};

static void tail_add(struct tail *t, const char *p, size_t n)
{
    if (!n)
        return;
    t->bytes += n;
    for (const char *q = p, *end = p + n; (q = memchr(q, '\n', (size_t)(end - q))); q++)
        t->newlines++;
    t->last = p[n - 1];
    if (n >= MR_TAIL_MAX_BYTES) {
        t->keep.len = 0;
        mr_buf_add(&t->keep, p + n - MR_TAIL_MAX_BYTES, MR_TAIL_MAX_BYTES);
        return;
    }
    if (t->keep.len + n > 2 * MR_TAIL_MAX_BYTES) {
        size_t drop = t->keep.len + n - MR_TAIL_MAX_BYTES; /* <= keep.len since n < max */
        memmove(t->keep.data, t->keep.data + drop, t->keep.len - drop);
        t->keep.len -= drop;
    }
    mr_buf_add(&t->keep, p, n);
}

static void tail_reset(struct tail *t)
{
    t->keep.len = 0;
    t->bytes = t->newlines = 0;
    t->last = 0;
    t->seen = 0;
}

/* Lines in n bytes: its newlines, and a last line that has none. */
static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    for (const char *q = p, *end = p + n; (q = memchr(q, '\n', (size_t)(end - q))); q++)
        lines++;
    return lines + (n && p[n - 1] != '\n');
}

/* The stream's last MR_TAIL_MAX_LINES lines within what was kept, as a new mr_tail
 * (text NULL when *room, the report's budget, cannot take it); t is emptied. */
static struct mr_tail *tail_take(struct tail *t, size_t *room)
{
    const char *s = t->keep.data ? t->keep.data : "";
    size_t len = t->keep.len;
    if (len > MR_TAIL_MAX_BYTES) {
        s += len - MR_TAIL_MAX_BYTES;
        len = MR_TAIL_MAX_BYTES;
    }
    size_t i = len;
    if (i && s[i - 1] == '\n')
        i--; /* the last line's own newline */
    for (size_t seen = 0; i > 0; i--)
        if (s[i - 1] == '\n' && ++seen == MR_TAIL_MAX_LINES)
            break;
    /* Cut by bytes, the first line starts mid-line: at least not mid-character. */
    if (i == 0 && t->bytes > len)
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
    struct mr_tail *ret = mr_xcalloc(1, sizeof(*ret));
    ret->total_bytes = t->bytes;
    ret->total_lines = t->newlines + (t->bytes && t->last != '\n');
    ret->lines = (size_t)count_lines(s + i, len - i);
    ret->cut = t->bytes > len - i;
    if (len - i <= *room) {
        ret->text = mr_xstrndup(s + i, len - i);
        *room -= len - i;
    }
    tail_reset(t);
    return ret;
}

/* The reader's state between SAX callbacks. The report is built while the file streams
 * past, so its memory is the report's, not a document tree's. Only the elements a
 * JUnit report has at their places are read: <testsuite> as the root or a child of
 * <testsuites>; <properties>/<property> and <testcase> in a suite; the first
 * <failure>/<error>/<skipped> in a testcase, and its first <system-out> and
 * <system-err> (only their ends, kept for a failure or an error). Anything else is
 * skipped with what it holds. */
struct reader {
    xmlParserCtxtPtr ctxt;
    const char *path;
    struct mr_err problem;   /* the first problem; after it the file is only parsed */
    int failed;
    int doctype_line;
    int fatal_line;          /* the parser's first error, where it was stopped */
    char *fatal_msg;
    struct mr_report *rep;   /* made at the root element */
    size_t items;            /* suites, properties and testcases so far */
    size_t max_items;
    int depth;               /* of the element being read; the root is 1 */
    struct mr_suite *suite;  /* the open <testsuite>, at suite_depth */
    int suite_depth;
    struct mr_strmap *prop_index; /* the suite's property names -> index in props */
    int props_depth;         /* of the open <properties>, or 0 */
    struct mr_case *kase;    /* the open <testcase>, at case_depth */
    int case_depth;
    int case_has_verdict;
    int text_depth;          /* of the verdict element whose text is the message, or 0 */
    enum mr_verdict text_verdict;
    char *text_type;
    struct mr_buf text;
    struct tail tails[2];    /* the open testcase's system-out and system-err */
    int out_depth;           /* of the open <system-out> or <system-err>, or 0 */
    int out_which;           /* 0 system-out, 1 system-err */
    size_t tail_room;        /* bytes of tails the report may still keep */
};

static int line(const struct reader *rd)
{
    int l = xmlSAX2GetLineNumber(rd->ctxt);
    return l > 0 ? l : 1;
}

/* SAX2 hands each attribute as five pointers: local name, prefix, URI, value, value end.
 * Returns the first of that local name as a new string, or NULL (as xmlGetProp did). */
static char *attr(const xmlChar **attrs, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        const xmlChar **a = attrs + 5 * i;
        if (strcmp((const char *)a[0], name) == 0)
            return mr_xstrndup((const char *)a[3], (size_t)(a[4] - a[3]));
    }
    return NULL;
}

/* Counts one more suite, property or testcase; 0 once the report holds too many. */
static int count_item(struct reader *rd)
{
    if (++rd->items <= rd->max_items)
        return 1;
    mr_err_set(&rd->problem, "%s:%d: more than %zu suites, properties and testcases in all: "
               "too many for a report (refused)", rd->path, line(rd), rd->max_items);
    rd->failed = 1;
    return 0;
}

static int read_time(struct reader *rd, const xmlChar **attrs, int n, const char *what,
                     const char *name, double *ret)
{
    _cleanup_free_ char *t = attr(attrs, n, "time");
    *ret = 0;
    if (!t)
        return 0;
    if (mr_parse_double(t, ret) < 0 || *ret < 0) {
        mr_err_set(&rd->problem, "%s:%d: <%s> '%s': time '%s' is not a number of seconds",
                   rd->path, line(rd), what, name, t);
        rd->failed = 1;
        return -EINVAL;
    }
    return 0;
}

/* "2026-09-21T14:13:20" (UTC) in ms, or 0 when absent or unreadable. */
static int64_t read_timestamp(const char *ts)
{
    struct tm tm = { 0 };
    if (!ts)
        return 0;
    const char *end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && *end != 'Z' && *end != '.' && *end != '+' && *end != '-'))
        return 0;
    return (int64_t)timegm(&tm) * 1000;
}

static void start_suite(struct reader *rd, const xmlChar **attrs, int n)
{
    _cleanup_free_ char *name = attr(attrs, n, "name");
    if (!name) {
        mr_err_set(&rd->problem, "%s:%d: <testsuite> without a name", rd->path, line(rd));
        rd->failed = 1;
        return;
    }
    if (!count_item(rd))
        return;
    struct mr_suite *s = mr_report_add_suite(rd->rep, name);
    s->hostname = attr(attrs, n, "hostname");
    _cleanup_free_ char *ts = attr(attrs, n, "timestamp");
    s->timestamp_ms = read_timestamp(ts);
    if (read_time(rd, attrs, n, "testsuite", name, &s->time_s) < 0)
        return;
    rd->suite = s;
    rd->suite_depth = rd->depth;
    rd->prop_index = mr_strmap_new();
}

static void end_suite(struct reader *rd)
{
    mr_strmap_free(rd->prop_index);
    rd->prop_index = NULL;
    rd->suite = NULL;
    rd->suite_depth = 0;
}

/* A property: a name seen before in the suite takes the new value, in its first place
 * (the index keeps a suite of many properties linear). */
static void read_prop(struct reader *rd, const xmlChar **attrs, int n)
{
    struct mr_suite *s = rd->suite;
    _cleanup_free_ char *pn = attr(attrs, n, "name");
    _cleanup_free_ char *pv = attr(attrs, n, "value");
    if (!pn || !pv) {
        mr_err_set(&rd->problem, "%s:%d: <property> without a name or a value in suite '%s'",
                   rd->path, line(rd), s->name);
        rd->failed = 1;
        return;
    }
    size_t at;
    if (mr_strmap_get(rd->prop_index, pn, &at)) {
        free(s->props[at].value);
        s->props[at].value = MR_TAKE_PTR(pv);
    } else if (count_item(rd)) {
        mr_suite_add_prop(s, pn, pv);
        /* The key is the suite's copy of the name, which lives as long as the suite. */
        (void)mr_strmap_add(rd->prop_index, s->props[s->n_props - 1].name, s->n_props - 1,
                            NULL);
    }
}

static void start_case(struct reader *rd, const xmlChar **attrs, int n)
{
    _cleanup_free_ char *name = attr(attrs, n, "name");
    _cleanup_free_ char *cls = attr(attrs, n, "classname");
    if (!name) {
        mr_err_set(&rd->problem, "%s:%d: <testcase> without a name in suite '%s'", rd->path,
                   line(rd), rd->suite->name);
        rd->failed = 1;
        return;
    }
    if (!count_item(rd))
        return;
    struct mr_case *c = mr_suite_add_case(rd->suite, cls ? cls : "", name);
    if (read_time(rd, attrs, n, "testcase", name, &c->time_s) < 0)
        return;
    rd->kase = c;
    rd->case_depth = rd->depth;
    rd->case_has_verdict = 0;
}

/* The first <failure>, <error> or <skipped> of a testcase (the schema allows one): its
 * message attribute, else its text once the element ends. */
static void start_verdict(struct reader *rd, const char *elem, const xmlChar **attrs, int n)
{
    enum mr_verdict v;
    if (strcmp(elem, "failure") == 0)
        v = MR_VERDICT_FAIL;
    else if (strcmp(elem, "error") == 0)
        v = MR_VERDICT_ERROR;
    else if (strcmp(elem, "skipped") == 0)
        v = MR_VERDICT_SKIP;
    else
        return;
    rd->case_has_verdict = 1;
    _cleanup_free_ char *type = attr(attrs, n, "type");
    _cleanup_free_ char *msg = attr(attrs, n, "message");
    if (msg) {
        mr_case_set(rd->kase, v, type, "%s", msg);
        return;
    }
    rd->text_depth = rd->depth;
    rd->text_verdict = v;
    rd->text_type = MR_TAKE_PTR(type);
    mr_buf_release(&rd->text);
    mr_buf_add(&rd->text, "", 0);
}

/* The verdict's text, all of it inside the element, without surrounding white space. */
static void end_verdict(struct reader *rd)
{
    const char *s = rd->text.data;
    size_t len = rd->text.len;
    while (len && strchr(" \t\r\n", *s)) {
        s++;
        len--;
    }
    while (len && strchr(" \t\r\n", s[len - 1]))
        len--;
    mr_case_set(rd->kase, rd->text_verdict, rd->text_type, "%.*s", (int)len, s);
    free(rd->text_type);
    rd->text_type = NULL;
    mr_buf_release(&rd->text);
    rd->text_depth = 0;
}

/* The first <system-out> or <system-err> of a testcase: its text goes to a tail. */
static void start_output(struct reader *rd, int which)
{
    if (rd->tails[which].seen)
        return;
    rd->tails[which].seen = 1;
    rd->out_depth = rd->depth;
    rd->out_which = which;
}

/* Keeps the ends of a failed or errored case's output; a passing or skipped case's
 * output is dropped, so the report's memory does not grow with it. */
static void end_case(struct reader *rd)
{
    int keep = rd->kase->verdict == MR_VERDICT_FAIL || rd->kase->verdict == MR_VERDICT_ERROR;
    struct mr_tail **to[2] = { &rd->kase->out_tail, &rd->kase->err_tail };
    for (int w = 0; w < 2; w++) {
        struct tail *t = &rd->tails[w];
        if (t->seen && keep && !rd->failed && !*to[w])
            *to[w] = tail_take(t, &rd->tail_room);
        else
            tail_reset(t);
    }
}

static void start_root(struct reader *rd, const char *elem, const xmlChar **attrs, int n)
{
    int lone = strcmp(elem, "testsuite") == 0;
    if (!lone && strcmp(elem, "testsuites") != 0) {
        mr_err_set(&rd->problem, "%s:%d: root element <%s>, not <testsuites> or <testsuite>: "
                   "not a JUnit report", rd->path, line(rd), elem);
        rd->failed = 1;
        return;
    }
    _cleanup_free_ char *rname = attr(attrs, n, "name");
    rd->rep = mr_report_new(rname ? rname : "");
    if (lone)
        start_suite(rd, attrs, n);
}

static void on_start(void *ud, const xmlChar *localname, const xmlChar *prefix,
                     const xmlChar *uri, int n_ns, const xmlChar **ns, int n_attrs,
                     int n_defaulted, const xmlChar **attrs)
{
    (void)prefix;
    (void)uri;
    (void)n_ns;
    (void)ns;
    (void)n_defaulted; /* counted in n_attrs, and there are none without a DTD */
    struct reader *rd = ((xmlParserCtxtPtr)ud)->_private;
    const char *elem = (const char *)localname;
    int d = ++rd->depth;
    if (rd->failed)
        return;
    if (d == 1) {
        start_root(rd, elem, attrs, n_attrs);
    } else if (!rd->suite) {
        if (d == 2 && strcmp(elem, "testsuite") == 0)
            start_suite(rd, attrs, n_attrs);
    } else if (d == rd->suite_depth + 1) {
        if (strcmp(elem, "properties") == 0) {
            rd->props_depth = d;
        } else if (strcmp(elem, "testcase") == 0) {
            start_case(rd, attrs, n_attrs);
        } else if (strcmp(elem, "testsuite") == 0) {
            mr_err_set(&rd->problem, "%s:%d: nested <testsuite> in suite '%s': not a report "
                       "matrixrun wrote", rd->path, line(rd), rd->suite->name);
            rd->failed = 1;
        }
    } else if (rd->props_depth && d == rd->props_depth + 1) {
        if (strcmp(elem, "property") == 0)
            read_prop(rd, attrs, n_attrs);
    } else if (rd->kase && d == rd->case_depth + 1) {
        if (strcmp(elem, "system-out") == 0)
            start_output(rd, 0);
        else if (strcmp(elem, "system-err") == 0)
            start_output(rd, 1);
        else if (!rd->case_has_verdict)
            start_verdict(rd, elem, attrs, n_attrs);
    }
}

static void on_end(void *ud, const xmlChar *localname, const xmlChar *prefix,
                   const xmlChar *uri)
{
    (void)localname;
    (void)prefix;
    (void)uri;
    struct reader *rd = ((xmlParserCtxtPtr)ud)->_private;
    int d = rd->depth--;
    if (d == rd->text_depth)
        end_verdict(rd);
    if (d == rd->out_depth)
        rd->out_depth = 0;
    if (d == rd->case_depth) {
        end_case(rd);
        rd->kase = NULL;
        rd->case_depth = 0;
    }
    if (d == rd->props_depth)
        rd->props_depth = 0;
    if (d == rd->suite_depth)
        end_suite(rd);
}

static void on_text(void *ud, const xmlChar *ch, int len)
{
    struct reader *rd = ((xmlParserCtxtPtr)ud)->_private;
    if (rd->text_depth && !rd->failed)
        mr_buf_add(&rd->text, ch, (size_t)len);
    if (rd->out_depth && rd->depth == rd->out_depth && !rd->failed)
        tail_add(&rd->tails[rd->out_which], (const char *)ch, (size_t)len);
}

/* Comments and processing instructions would otherwise be kept on the (empty) document,
 * costing memory for nothing. */
static void on_comment(void *ud, const xmlChar *text)
{
    (void)ud;
    (void)text;
}

static void on_pi(void *ud, const xmlChar *target, const xmlChar *data)
{
    (void)ud;
    (void)target;
    (void)data;
}

/* A DOCTYPE is where entities are declared; matrixrun never writes one, so the parser
 * stops at the first, before any declaration inside it is read. */
static void refuse_doctype(void *ud, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    xmlParserCtxtPtr ctxt = ud;
    struct reader *rd = ctxt->_private;
    rd->doctype_line = line(rd);
    xmlStopParser(ctxt);
}

/* libxml2 goes on parsing after a well-formedness error, with its SAX callbacks off: a
 * DOCTYPE after a broken XML declaration would then never reach refuse_doctype, and its
 * entities would be declared and expanded unseen (with XML_PARSE_HUGE, without libxml2's
 * amplification limit). So the first error stops the parser; its message is kept here
 * because xmlStopParser records an error of its own. Warnings go on. */
static void stop_at_error(void *ud, xmlErrorPtr e)
{
    xmlParserCtxtPtr ctxt = ud;
    struct reader *rd = ctxt->_private;
    if (!e || e->level < XML_ERR_ERROR || rd->fatal_msg)
        return;
    rd->fatal_line = e->line;
    rd->fatal_msg = mr_xstrdup(e->message ? e->message : "unreadable");
    xmlStopParser(ctxt);
}

/* Opens path as a report: a regular file, not empty, not too big. The descriptor, or
 * -errno / -EINVAL with err set. */
static int open_report(const char *path, unsigned long long max_bytes, struct mr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int r = -errno;
        mr_err_set(err, "%s: cannot read the report: %s", path, strerror(errno));
        return r;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        mr_err_set(err, "%s: cannot read the report: not a regular file", path);
    } else if ((unsigned long long)sb.st_size > max_bytes) {
        mr_err_set(err, "%s: %lld bytes, more than a report may hold (%llu MiB)", path,
                   (long long)sb.st_size, max_bytes / (1024 * 1024));
    } else if (sb.st_size == 0) {
        mr_err_set(err, "%s: empty file, not a JUnit report", path);
    } else {
        return fd;
    }
    close(fd);
    return -EINVAL;
}

/* Streams the file through the callbacks above; rd holds the report or the problem. The
 * return is the parser's verdict: 0 when the file is well-formed XML without DOCTYPE. */
static int parse(int fd, struct reader *rd, struct mr_err *err)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        mr_err_set(err, "%s: cannot create an XML parser", rd->path);
        return -EINVAL;
    }
    rd->ctxt = ctxt;
    ctxt->_private = rd;
    ctxt->sax->internalSubset = refuse_doctype;
    ctxt->sax->serror = stop_at_error;
    ctxt->sax->startElementNs = on_start;
    ctxt->sax->endElementNs = on_end;
    ctxt->sax->characters = on_text;
    ctxt->sax->ignorableWhitespace = on_text;
    ctxt->sax->comment = on_comment;
    ctxt->sax->processingInstruction = on_pi;
    /* XML_PARSE_HUGE: the writer keeps 4 MiB of output per stream, which its escapes of
     * control characters may grow past libxml2's 10 MB text limit. XML_PARSE_NOENT: an
     * attribute's "&amp;" reaches the callbacks as "&", not as a "&#38;" left for a tree
     * builder to decode. Neither lets entities in, the reason for those defaults: there
     * is no DOCTYPE to declare them. */
    xmlDocPtr doc = xmlCtxtReadFd(ctxt, fd, rd->path, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                      XML_PARSE_HUGE | XML_PARSE_NOCDATA | XML_PARSE_NOENT);
    int r = 0;
    if (rd->doctype_line) {
        mr_err_set(err, "%s:%d: has a DOCTYPE: not a JUnit report matrixrun wrote (refused, "
                   "so no entity is expanded)", rd->path, rd->doctype_line);
        r = -EINVAL;
    } else if (rd->fatal_msg) {
        mr_xml_set_parse_error(err, rd->path, rd->fatal_line, rd->fatal_msg);
        r = -EINVAL;
    } else if (!doc || !ctxt->wellFormed) {
        mr_xml_parse_error(ctxt, rd->path, err);
        r = -EINVAL;
    }
    free(rd->fatal_msg);
    rd->fatal_msg = NULL;
    if (doc)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    rd->ctxt = NULL;
    return r;
}

int mr_report_read(const char *path, struct mr_report **ret, struct mr_err *err)
{
    return mr_report_read_max(path, MR_REPORT_MAX_ITEMS, MR_REPORT_MAX_BYTES, ret, err);
}

int mr_report_read_max(const char *path, size_t max_items, unsigned long long max_bytes,
                       struct mr_report **ret, struct mr_err *err)
{
    __attribute__((cleanup(fd_closep))) int fd = open_report(path, max_bytes, err);
    if (fd < 0)
        return fd;
    struct reader rd = { .path = path, .max_items = max_items, .tail_room = MR_TAIL_MAX_TOTAL };
    mr_buf_init(&rd.text);
    mr_buf_init(&rd.tails[0].keep);
    mr_buf_init(&rd.tails[1].keep);
    int r = parse(fd, &rd, err);
    if (r == 0 && rd.failed) {
        mr_err_set(err, "%s", mr_err_msg(&rd.problem));
        r = -EINVAL;
    } else if (r == 0 && !rd.rep) {
        mr_err_set(err, "%s: no root element: not a JUnit report", path);
        r = -EINVAL;
    }
    mr_err_release(&rd.problem);
    mr_strmap_free(rd.prop_index);
    free(rd.text_type);
    mr_buf_release(&rd.text);
    mr_buf_release(&rd.tails[0].keep);
    mr_buf_release(&rd.tails[1].keep);
    if (r < 0) {
        mr_report_free(rd.rep);
        return r;
    }
    *ret = rd.rep;
    return 0;
}

void mr_bench_from_suite(const struct mr_suite *s, struct mr_bench *ret)
{
    static const char *const names[] = {
        MR_PROP_BENCH_OVERHEAD_PCT,
        MR_PROP_BENCH_OVERHEAD_LOW_PCT,
        MR_PROP_BENCH_OVERHEAD_HIGH_PCT,
    };
    struct mr_bench b = { .state = MR_BENCH_NONE, .verdict = MR_VERDICT_PASS };
    const struct mr_case *c = mr_suite_case(s, MR_CASE_BENCHMARK_CPU);
    if (c) {
        b.verdict = c->verdict;
        b.message = c->message;
        b.state = MR_BENCH_NODATA;
    }
    const char *noisy = mr_suite_prop(s, MR_PROP_BENCH_NOISY);
    b.noisy = noisy && strcmp(noisy, "yes") == 0;
    const char *v[3];
    int present = 0;
    for (size_t i = 0; i < 3; i++)
        present += (v[i] = mr_suite_prop(s, names[i])) != NULL;
    if (present == 0) {
        *ret = b;
        return;
    }
    double x[3];
    b.state = MR_BENCH_INVALID;
    for (size_t i = 0; i < 3; i++) {
        if (!v[i]) {
            b.why = names[i];
            *ret = b;
            return;
        }
        /* Below -100 % the guest would take negative time; past 1e6 % a figure is
         * garbage, and it would squash every other cell of the chart against zero. */
        if (mr_parse_double(v[i], &x[i]) < 0 || x[i] <= -100 || x[i] >= 1e6) {
            b.why = names[i];
            *ret = b;
            return;
        }
    }
    if (!(x[1] <= x[0] && x[0] <= x[2])) {
        b.why = "benchmark.cpu.overhead.ci95 (the interval does not hold the median)";
        *ret = b;
        return;
    }
    b.state = MR_BENCH_OK;
    b.overhead = x[0];
    b.low = x[1];
    b.high = x[2];
    *ret = b;
}
