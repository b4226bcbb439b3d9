/* junit.c: writes a run's results as JUnit XML that the Jenkins schema accepts, whatever
 * bytes the guests printed. */
#define _GNU_SOURCE
#include "junit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/xmlwriter.h>

/* Length of the valid UTF-8 sequence at p (1..4) and its code point, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *p, size_t left, unsigned *cp)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        n = 2;
        min = 0x80;
        c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3;
        min = 0x800;
        c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4;
        min = 0x10000;
        c &= 0x07;
    } else {
        return 0;
    }
    if (left < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms, surrogates and values past Unicode are invalid UTF-8. */
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return n;
}

static int xml_char_ok(unsigned c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

char *mr_xml_clean(const char *data, size_t len)
{
    struct mr_buf b;
    mr_buf_init(&b);
    mr_buf_add(&b, "", 0);
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0;
    while (i < len) {
        unsigned cp;
        size_t n = utf8_decode(p + i, len - i, &cp);
        if (n == 0) {
            mr_buf_adds(&b, "\xEF\xBF\xBD"); /* U+FFFD */
            i++;
        } else if (!xml_char_ok(cp)) {
            if (cp < 0x100)
                mr_buf_addf(&b, "\\x%02x", cp);
            else
                mr_buf_addf(&b, "\\u%04x", cp);
            i += n;
        } else {
            mr_buf_add(&b, p + i, n);
            i += n;
        }
    }
    return mr_buf_detach(&b, NULL);
}

#define W(call)                                                                           \
    do {                                                                                  \
        if ((call) < 0)                                                                   \
            goto fail;                                                                    \
    } while (0)

static int w_start(xmlTextWriterPtr w, const char *name)
{
    return xmlTextWriterStartElement(w, (const xmlChar *)name);
}

static int w_attr(xmlTextWriterPtr w, const char *name, const char *value)
{
    _cleanup_free_ char *v = mr_xml_clean(value, strlen(value));
    return xmlTextWriterWriteAttribute(w, (const xmlChar *)name, (const xmlChar *)v);
}

static int w_attrf(xmlTextWriterPtr w, const char *name, const char *fmt, ...) MR_PRINTF(3, 4);
static int w_attrf(xmlTextWriterPtr w, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    _cleanup_free_ char *v = mr_xvasprintf(fmt, ap);
    va_end(ap);
    return w_attr(w, name, v);
}

static int w_text(xmlTextWriterPtr w, const char *data, size_t len)
{
    _cleanup_free_ char *v = mr_xml_clean(data, len);
    return xmlTextWriterWriteString(w, (const xmlChar *)v);
}

/* How many bytes at the end of p[0..len) begin a UTF-8 sequence that continues past it:
 * text read in chunks is cleaned up to there and the rest carried to the next chunk, so
 * that a character cut by the chunk's end is not taken for invalid bytes. */
static size_t utf8_cut_tail(const unsigned char *p, size_t len)
{
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned c = p[len - back];
        if ((c & 0xC0) == 0x80)
            continue; /* a continuation byte: look further back for the lead */
        size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

/* A case's system-out or system-err, read a chunk at a time from wherever it is (memory
 * or the spill file), so that writing it needs no more than a chunk's worth of memory.
 * The text written stops at MR_JUNIT_TEXT_MAX bytes (as cleaned: a control byte becomes
 * four characters, "\x00"), with a note: common XML readers (libxml2 without its HUGE
 * option, as xmllint and lxml use it) refuse a text node past 10 MB, and 4 MiB of NUL
 * bytes would make 16. */
#define TEXT_CHUNK (64 * 1024)
static int w_case_text(xmlTextWriterPtr w, const struct mr_case *c, int err)
{
    size_t len = err ? c->err_len : c->out_len;
    _cleanup_free_ char *buf = mr_xmalloc(TEXT_CHUNK);
    size_t carried = 0, written = 0;
    for (size_t off = 0; off < len;) {
        ssize_t n = mr_case_read_text(c, err, off, buf + carried, TEXT_CHUNK - carried);
        if (n <= 0)
            return -1;
        off += (size_t)n;
        size_t have = carried + (size_t)n;
        size_t keep = off < len ? utf8_cut_tail((unsigned char *)buf, have) : 0;
        _cleanup_free_ char *v = mr_xml_clean(buf, have - keep);
        size_t vl = strlen(v);
        if (written + vl > MR_JUNIT_TEXT_MAX) {
            vl = MR_JUNIT_TEXT_MAX - written;
            while (vl && ((unsigned char)v[vl] & 0xC0) == 0x80)
                vl--; /* not inside a character */
            v[vl] = '\0';
            _cleanup_free_ char *note = mr_xasprintf(
                "\n[matrixrun: %s cut here: written as XML text its %zu bytes would pass %u, "
                "more than XML readers take in one text]\n",
                err ? "stderr" : "stdout", len, (unsigned)MR_JUNIT_TEXT_MAX);
            if (xmlTextWriterWriteString(w, (const xmlChar *)v) < 0 ||
                xmlTextWriterWriteString(w, (const xmlChar *)note) < 0)
                return -1;
            return 0;
        }
        if (xmlTextWriterWriteString(w, (const xmlChar *)v) < 0)
            return -1;
        written += vl;
        memmove(buf, buf + have - keep, keep);
        carried = keep;
    }
    return 0;
}

static int w_counts(xmlTextWriterPtr w, struct mr_counts n, int with_skipped)
{
    if (w_attrf(w, "tests", "%zu", n.tests) < 0 || w_attrf(w, "failures", "%zu", n.failures) < 0 ||
        w_attrf(w, "errors", "%zu", n.errors) < 0)
        return -1;
    if (with_skipped)
        return w_attrf(w, "skipped", "%zu", n.skipped);
    return 0;
}

static int write_case(xmlTextWriterPtr w, const struct mr_case *c)
{
    W(w_start(w, "testcase"));
    W(w_attr(w, "name", c->name));
    W(w_attr(w, "classname", c->classname));
    W(w_attrf(w, "time", "%.3f", c->time_s));
    /* The schema's order inside a testcase: skipped, error, failure, system-out, -err. */
    const char *tag = NULL;
    switch (c->verdict) {
    case MR_VERDICT_SKIP:
        tag = "skipped";
        break;
    case MR_VERDICT_ERROR:
        tag = "error";
        break;
    case MR_VERDICT_FAIL:
        tag = "failure";
        break;
    case MR_VERDICT_PASS:
        break;
    }
    if (tag) {
        W(w_start(w, tag));
        if (c->verdict == MR_VERDICT_SKIP) {
            /* <skipped> is a simple string type in the Jenkins schema: no attributes. */
            if (c->message)
                W(w_text(w, c->message, strlen(c->message)));
        } else {
            if (c->type)
                W(w_attr(w, "type", c->type));
            if (c->message) {
                W(w_attr(w, "message", c->message));
                W(w_text(w, c->message, strlen(c->message)));
            }
        }
        W(xmlTextWriterEndElement(w));
    }
    if (c->out || mr_case_text_spilled(c, 0)) {
        W(w_start(w, "system-out"));
        W(w_case_text(w, c, 0));
        W(xmlTextWriterEndElement(w));
    }
    if (c->err || mr_case_text_spilled(c, 1)) {
        W(w_start(w, "system-err"));
        W(w_case_text(w, c, 1));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

static int write_suite(xmlTextWriterPtr w, const struct mr_suite *s, size_t id)
{
    W(w_start(w, "testsuite"));
    W(w_attr(w, "name", s->name));
    W(w_counts(w, mr_suite_counts(s), 1));
    W(w_attrf(w, "time", "%.3f", s->time_s));
    time_t t = (time_t)(s->timestamp_ms / 1000);
    struct tm tm;
    char ts[32];
    gmtime_r(&t, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    W(w_attr(w, "timestamp", ts));
    if (s->hostname)
        W(w_attr(w, "hostname", s->hostname));
    W(w_attrf(w, "id", "%zu", id));
    if (s->n_props) {
        W(w_start(w, "properties"));
        for (size_t i = 0; i < s->n_props; i++) {
            W(w_start(w, "property"));
            W(w_attr(w, "name", s->props[i].name));
            W(w_attr(w, "value", s->props[i].value));
            W(xmlTextWriterEndElement(w));
        }
        W(xmlTextWriterEndElement(w));
    }
    for (size_t i = 0; i < s->n_cases; i++)
        W(write_case(w, s->cases[i]));
    if (s->out) {
        W(w_start(w, "system-out"));
        W(w_text(w, s->out, strlen(s->out)));
        W(xmlTextWriterEndElement(w));
    }
    W(xmlTextWriterEndElement(w));
    return 0;
fail:
    return -1;
}

/* The whole document, through w. */
static int write_report(xmlTextWriterPtr w, const struct mr_report *r)
{
    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, (const xmlChar *)"  ");
    W(xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL));
    W(w_start(w, "testsuites"));
    W(w_attr(w, "name", r->name));
    W(w_counts(w, mr_report_counts(r), 0));
    double total = 0;
    for (size_t i = 0; i < r->n_suites; i++)
        total += r->suites[i]->time_s;
    W(w_attrf(w, "time", "%.3f", total));
    for (size_t i = 0; i < r->n_suites; i++)
        W(write_suite(w, r->suites[i], i));
    W(xmlTextWriterEndDocument(w));
    W(xmlTextWriterFlush(w));
    return 0;
fail:
    return -1;
}

char *mr_junit_render(const struct mr_report *r, size_t *ret_len)
{
    xmlBufferPtr buf = xmlBufferCreate();
    /* The writer hands its output over a few KiB at a time; libxml2's default scheme
     * (exact) would reallocate the whole buffer for each, quadratic in a big report. */
    xmlBufferSetAllocationScheme(buf, XML_BUFFER_ALLOC_DOUBLEIT);
    xmlTextWriterPtr w = xmlNewTextWriterMemory(buf, 0);
    char *ret = NULL;
    if (w && write_report(w, r) == 0) {
        xmlFreeTextWriter(w);
        w = NULL;
        ret = mr_xstrndup((const char *)xmlBufferContent(buf), (size_t)xmlBufferLength(buf));
        if (ret_len)
            *ret_len = (size_t)xmlBufferLength(buf);
    }
    if (w)
        xmlFreeTextWriter(w);
    xmlBufferFree(buf);
    return ret;
}

/* libxml2's output goes straight to the file through this; the first failed write's
 * errno is kept for the message (libxml2's own says only that writing failed). */
struct fd_sink {
    int fd;
    int error;
};

static int sink_write(void *ctx, const char *data, int len)
{
    struct fd_sink *k = ctx;
    for (int done = 0; done < len;) {
        ssize_t n = write(k->fd, data + done, (size_t)(len - done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!k->error)
                k->error = n < 0 ? errno : EIO;
            return -1;
        }
        done += (int)n;
    }
    return len;
}

static void quiet(void *ctx, xmlErrorPtr e)
{
    (void)ctx;
    (void)e;
}

int mr_junit_write(const struct mr_report *r, const char *path, struct mr_err *err)
{
    char *tmp;
    int fd = mr_atomic_create(path, &tmp, err);
    if (fd < 0)
        return fd;
    /* Streamed to the file as it is made: the report's size is not bounded by memory
     * (nor by libxml2's buffers, whose lengths are ints). */
    struct fd_sink sink = { .fd = fd };
    /* A failed write is reported below with its cause; libxml2 would also print its own
     * "I/O error" line on stderr. Its handlers are per thread. */
    xmlStructuredErrorFunc saved = xmlStructuredError;
    void *saved_ctx = xmlStructuredErrorContext;
    xmlSetStructuredErrorFunc(NULL, quiet);
    xmlOutputBufferPtr ob = xmlOutputBufferCreateIO(sink_write, NULL, &sink, NULL);
    xmlTextWriterPtr w = ob ? xmlNewTextWriter(ob) : NULL;
    int failed = 0;
    if (!w) {
        if (ob)
            xmlOutputBufferClose(ob);
        failed = -ENOMEM;
    } else {
        if (write_report(w, r) < 0)
            failed = sink.error ? -sink.error : -EIO;
        xmlFreeTextWriter(w); /* closes ob */
        if (!failed && sink.error)
            failed = -sink.error;
    }
    xmlSetStructuredErrorFunc(saved_ctx, saved);
    return mr_atomic_commit(fd, tmp, path, failed, err);
}
