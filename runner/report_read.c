/* report_read.c: parses a JUnit report back into a struct mr_report (libxml2, no network,
 * no DTD) and reads a cell's CPU benchmark figures out of its properties. */
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

/* A DOCTYPE is where entities are declared; matrixrun never writes one, so the parser
 * stops at the first, before any declaration inside it is read. */
struct read_state {
    int doctype_line;
};

static void refuse_doctype(void *ud, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    xmlParserCtxtPtr ctxt = ud;
    struct read_state *st = ctxt->_private;
    st->doctype_line = xmlSAX2GetLineNumber(ctxt);
    if (st->doctype_line <= 0)
        st->doctype_line = 1;
    xmlStopParser(ctxt);
}

static xmlDocPtr parse(const char *path, struct mr_err *err, int *ret_errno)
{
    *ret_errno = -EINVAL;
    __attribute__((cleanup(fd_closep))) int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *ret_errno = -errno;
        mr_err_set(err, "%s: cannot read the report: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        mr_err_set(err, "%s: cannot read the report: not a regular file", path);
        return NULL;
    }
    if ((unsigned long long)sb.st_size > MR_REPORT_MAX_BYTES) {
        mr_err_set(err, "%s: %lld bytes, more than a report may hold (%u MiB)", path,
                   (long long)sb.st_size, MR_REPORT_MAX_BYTES / (1024 * 1024));
        return NULL;
    }
    if (sb.st_size == 0) {
        mr_err_set(err, "%s: empty file, not a JUnit report", path);
        return NULL;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        mr_err_set(err, "%s: cannot create an XML parser", path);
        return NULL;
    }
    struct read_state st = { 0 };
    ctxt->_private = &st;
    ctxt->sax->internalSubset = refuse_doctype;
    /* XML_PARSE_HUGE: the writer keeps 4 MiB of output per stream, which its escapes of
     * control characters may grow past libxml2's 10 MB text limit. Entities, the reason
     * for that limit, cannot occur: there is no DOCTYPE to declare them. */
    xmlDocPtr doc = xmlCtxtReadFd(ctxt, fd, path, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
                                      XML_PARSE_HUGE | XML_PARSE_NOCDATA);
    if (st.doctype_line) {
        mr_err_set(err, "%s:%d: has a DOCTYPE: not a JUnit report matrixrun wrote (refused, "
                   "so no entity is expanded)", path, st.doctype_line);
        if (doc)
            xmlFreeDoc(doc);
        doc = NULL;
    } else if (!doc || !ctxt->wellFormed) {
        mr_xml_parse_error(ctxt, path, err);
        if (doc)
            xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(ctxt);
    return doc;
}

static int read_time(xmlNodePtr n, const char *path, const char *what, const char *name,
                     double *ret, struct mr_err *err)
{
    _cleanup_free_ char *t = mr_xml_attr(n, "time");
    *ret = 0;
    if (!t)
        return 0;
    if (mr_parse_double(t, ret) < 0 || *ret < 0) {
        mr_err_set(err, "%s:%d: <%s> '%s': time '%s' is not a number of seconds", path,
                   mr_xml_line(n), what, name, t);
        return -EINVAL;
    }
    return 0;
}

static int read_case(xmlNodePtr n, struct mr_suite *s, const char *path, struct mr_err *err)
{
    _cleanup_free_ char *name = mr_xml_attr(n, "name");
    _cleanup_free_ char *cls = mr_xml_attr(n, "classname");
    if (!name) {
        mr_err_set(err, "%s:%d: <testcase> without a name in suite '%s'", path, mr_xml_line(n),
                   s->name);
        return -EINVAL;
    }
    struct mr_case *c = mr_suite_add_case(s, cls ? cls : "", name);
    if (read_time(n, path, "testcase", name, &c->time_s, err) < 0)
        return -EINVAL;
    for (xmlNodePtr k = n->children; k; k = k->next) {
        enum mr_verdict v;
        if (mr_xml_is_elem(k, "failure"))
            v = MR_VERDICT_FAIL;
        else if (mr_xml_is_elem(k, "error"))
            v = MR_VERDICT_ERROR;
        else if (mr_xml_is_elem(k, "skipped"))
            v = MR_VERDICT_SKIP;
        else
            continue;
        _cleanup_free_ char *type = mr_xml_attr(k, "type");
        _cleanup_free_ char *msg = mr_xml_attr(k, "message");
        if (!msg)
            msg = mr_xml_text(k);
        mr_case_set(c, v, type, "%s", msg);
        /* The first verdict element counts; the schema allows only one. */
        break;
    }
    return 0;
}

/* "2026-09-21T14:13:20" (UTC) in ms, or 0 when absent or unreadable. */
static int64_t read_timestamp(xmlNodePtr n)
{
    _cleanup_free_ char *ts = mr_xml_attr(n, "timestamp");
    struct tm tm = { 0 };
    if (!ts)
        return 0;
    const char *end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end || (*end && *end != 'Z' && *end != '.' && *end != '+' && *end != '-'))
        return 0;
    return (int64_t)timegm(&tm) * 1000;
}

static int read_suite(xmlNodePtr n, struct mr_report *r, const char *path, struct mr_err *err)
{
    _cleanup_free_ char *name = mr_xml_attr(n, "name");
    if (!name) {
        mr_err_set(err, "%s:%d: <testsuite> without a name", path, mr_xml_line(n));
        return -EINVAL;
    }
    struct mr_suite *s = mr_report_add_suite(r, name);
    s->hostname = mr_xml_attr(n, "hostname");
    s->timestamp_ms = read_timestamp(n);
    if (read_time(n, path, "testsuite", name, &s->time_s, err) < 0)
        return -EINVAL;
    for (xmlNodePtr k = n->children; k; k = k->next) {
        if (mr_xml_is_elem(k, "properties")) {
            for (xmlNodePtr p = k->children; p; p = p->next) {
                if (!mr_xml_is_elem(p, "property"))
                    continue;
                _cleanup_free_ char *pn = mr_xml_attr(p, "name");
                _cleanup_free_ char *pv = mr_xml_attr(p, "value");
                if (!pn || !pv) {
                    mr_err_set(err, "%s:%d: <property> without a name or a value in suite '%s'",
                               path, mr_xml_line(p), name);
                    return -EINVAL;
                }
                mr_suite_set_prop(s, pn, pv);
            }
        } else if (mr_xml_is_elem(k, "testcase")) {
            if (read_case(k, s, path, err) < 0)
                return -EINVAL;
        } else if (mr_xml_is_elem(k, "testsuite")) {
            mr_err_set(err, "%s:%d: nested <testsuite> in suite '%s': not a report matrixrun "
                       "wrote", path, mr_xml_line(k), name);
            return -EINVAL;
        }
    }
    return 0;
}

int mr_report_read(const char *path, struct mr_report **ret, struct mr_err *err)
{
    int r;
    _cleanup_xmldoc_ xmlDocPtr doc = parse(path, err, &r);
    if (!doc)
        return r;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!root || (!mr_xml_is_elem(root, "testsuites") && !mr_xml_is_elem(root, "testsuite"))) {
        mr_err_set(err, "%s:%d: root element <%s>, not <testsuites> or <testsuite>: not a JUnit "
                   "report", path, root ? mr_xml_line(root) : 1,
                   root ? (const char *)root->name : "");
        return -EINVAL;
    }
    _cleanup_free_ char *rname = mr_xml_attr(root, "name");
    struct mr_report *rep = mr_report_new(rname ? rname : "");
    if (mr_xml_is_elem(root, "testsuite")) {
        r = read_suite(root, rep, path, err);
    } else {
        r = 0;
        for (xmlNodePtr k = root->children; k && r == 0; k = k->next)
            if (mr_xml_is_elem(k, "testsuite"))
                r = read_suite(k, rep, path, err);
    }
    if (r < 0) {
        mr_report_free(rep);
        return r;
    }
    *ret = rep;
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
