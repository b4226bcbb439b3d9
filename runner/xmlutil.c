/* xmlutil.c: libxml2 helpers for the loaders (attributes, lines, safe parsing, RELAX NG). */
#include "xmlutil.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

#include <libxml/SAX2.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>

char *mr_xml_attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
    if (!v)
        return NULL;
    char *s = mr_xstrdup((const char *)v);
    xmlFree(v);
    return s;
}

char *mr_xml_text(xmlNodePtr n)
{
    xmlChar *c = xmlNodeGetContent(n);
    const char *s = c ? (const char *)c : "";
    while (*s && strchr(" \t\r\n", *s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && strchr(" \t\r\n", s[len - 1]))
        len--;
    char *t = mr_xstrndup(s, len);
    xmlFree(c);
    return t;
}

int mr_xml_line(xmlNodePtr n)
{
    long l = xmlGetLineNo(n);
    return l > INT_MAX ? INT_MAX : (int)l;
}

int mr_xml_is_elem(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

char *mr_xml_one_line(const char *msg)
{
    /* libxml2 puts details on lines of their own ("...encoding !\nBytes: 0xFF ..."),
     * and a message of matrixrun is one line: every run of line breaks, tabs and spaces
     * becomes one space, and none is left at either end. */
    char *out = mr_xmalloc(strlen(msg) + 1);
    size_t n = 0;
    int space = 0;
    for (const char *p = msg; *p; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || *p == ' ') {
            space = n > 0;
            continue;
        }
        if (space)
            out[n++] = ' ';
        space = 0;
        out[n++] = *p;
    }
    out[n] = '\0';
    return out;
}

/* A DOCTYPE is where entities and default attributes are declared, and where external
 * ones are named; matrixrun's files need none, so the parser stops at the DOCTYPE itself,
 * before it reads any declaration inside it. Internal entities would otherwise stay in
 * the tree as references that every read of a text or attribute expands, without the
 * parser's limits; default attributes would reach the loaders unseen by the schema
 * check; external entities would be dropped without a word (no network, no loading). */
static void stop_at_doctype(void *ud, const xmlChar *name, const xmlChar *ext,
                            const xmlChar *sys)
{
    (void)name;
    (void)ext;
    (void)sys;
    xmlParserCtxtPtr ctxt = ud;
    int *line = ctxt->_private;
    *line = xmlSAX2GetLineNumber(ctxt) > 0 ? xmlSAX2GetLineNumber(ctxt) : 1;
    xmlStopParser(ctxt);
}

void mr_xml_refuse_doctype(xmlParserCtxtPtr ctxt, int *ret_line)
{
    *ret_line = 0;
    ctxt->_private = ret_line;
    ctxt->sax->internalSubset = stop_at_doctype;
}

/* Parses the file at path, or buf when it is not NULL (path then names it). */
static xmlDocPtr read_doc(const char *path, const char *buf, size_t len, const char *what,
                          struct mr_err *err)
{
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        mr_err_set(err, "%s: cannot create an XML parser", path);
        return NULL;
    }
    int doctype_line;
    mr_xml_refuse_doctype(ctxt, &doctype_line);
    const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
    /* libxml2 takes an int length; no file matrixrun reads comes near it. */
    xmlDocPtr doc = !buf ? xmlCtxtReadFile(ctxt, path, NULL, opts)
                         : xmlCtxtReadMemory(ctxt, buf, len > INT_MAX ? INT_MAX : (int)len,
                                             path, NULL, opts);
    if (doctype_line) {
        mr_err_set(err, "%s:%d: a DOCTYPE is not allowed in a %s (refused before any entity "
                   "or default attribute in it is read)", path, doctype_line, what);
    } else if (doc && ctxt->wellFormed) {
        xmlFreeParserCtxt(ctxt);
        return doc;
    } else {
        mr_xml_parse_error(ctxt, path, err);
    }
    if (doc)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return NULL;
}

xmlDocPtr mr_xml_read_doc(const char *path, const char *what, struct mr_err *err)
{
    return read_doc(path, NULL, 0, what, err);
}

xmlDocPtr mr_xml_read_file(const char *path, struct mr_err *err)
{
    return read_doc(path, NULL, 0, "matrixrun XML file", err);
}

xmlDocPtr mr_xml_read_memory(const char *buf, size_t len, const char *name, const char *what,
                             struct mr_err *err)
{
    return read_doc(name, buf, len, what, err);
}

void mr_xml_set_parse_error(struct mr_err *err, const char *path, int line, const char *msg)
{
    _cleanup_free_ char *one = mr_xml_one_line(msg ? msg : "unreadable");
    if (line > 0)
        mr_err_set(err, "%s:%d: not well-formed XML: %s", path, line, one);
    else
        mr_err_set(err, "%s: not well-formed XML: %s", path, one);
}

void mr_xml_parse_error(xmlParserCtxtPtr ctxt, const char *path, struct mr_err *err)
{
    xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
    mr_xml_set_parse_error(err, path, e ? e->line : 0, e ? e->message : NULL);
}

struct schema_state {
    int line;
    char *msg;
    char *node;
};

static void schema_error(void *data, xmlErrorPtr e)
{
    struct schema_state *st = data;
    if (st->msg || !e)
        return;
    st->line = e->line;
    if (e->node && ((xmlNodePtr)e->node)->type == XML_ELEMENT_NODE) {
        st->line = mr_xml_line(e->node);
        st->node = mr_xstrdup((const char *)((xmlNodePtr)e->node)->name);
    }
    st->msg = mr_xml_one_line(e->message ? e->message : "invalid");
}

int mr_xml_validate_rng(xmlDocPtr doc, const char *schema, size_t schema_len,
                        const char *file, const char *what, struct mr_err *err)
{
    int r = -EINVAL;
    struct schema_state st = { 0 };
    xmlRelaxNGParserCtxtPtr pc = xmlRelaxNGNewMemParserCtxt(schema, (int)schema_len);
    xmlRelaxNGPtr rng = pc ? xmlRelaxNGParse(pc) : NULL;
    xmlRelaxNGValidCtxtPtr vc = rng ? xmlRelaxNGNewValidCtxt(rng) : NULL;
    if (!vc) {
        mr_err_set(err, "%s: internal error: the embedded %s schema does not compile", file,
                   what);
        goto out;
    }
    xmlRelaxNGSetValidStructuredErrors(vc, schema_error, &st);
    if (xmlRelaxNGValidateDoc(vc, doc) == 0) {
        r = 0;
        goto out;
    }
    if (st.node)
        mr_err_set(err, "%s:%d: <%s> does not match the %s schema: %s", file, st.line, st.node,
                   what, st.msg ? st.msg : "invalid");
    else
        mr_err_set(err, "%s:%d: does not match the %s schema: %s", file, st.line, what,
                   st.msg ? st.msg : "invalid");
out:
    free(st.msg);
    free(st.node);
    if (vc)
        xmlRelaxNGFreeValidCtxt(vc);
    if (rng)
        xmlRelaxNGFree(rng);
    if (pc)
        xmlRelaxNGFreeParserCtxt(pc);
    return r;
}
