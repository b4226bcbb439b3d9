/* xmlutil.h: small libxml2 helpers shared by the loaders of matrices and the family
 * catalogue: parsing that refuses a DOCTYPE (so no entity or default attribute is ever
 * read), attribute access, line numbers, RELAX NG validation from memory.
 *
 * mr_xml_attr() returns a string the caller frees; the others borrow. */
#ifndef MR_XMLUTIL_H
#define MR_XMLUTIL_H

#include <stddef.h>

#include <libxml/tree.h>

#include "util.h"

static inline void mr_xml_doc_freep(xmlDocPtr *p)
{
    if (*p)
        xmlFreeDoc(*p);
}
#define _cleanup_xmldoc_ __attribute__((cleanup(mr_xml_doc_freep)))

/* Attribute value as a new string, or NULL when absent. */
char *mr_xml_attr(xmlNodePtr n, const char *name);
/* The node's text content with leading and trailing white space removed (caller frees). */
char *mr_xml_text(xmlNodePtr n);
int mr_xml_line(xmlNodePtr n);
int mr_xml_is_elem(xmlNodePtr n, const char *name);

/* Parses a file with no network access. A DOCTYPE is refused as soon as the parser meets
 * it, before any entity or default attribute it declares is read: on it, returns NULL
 * with err "FILE:LINE: a DOCTYPE is not allowed in a WHAT (...)"; on any other failure,
 * NULL with err "FILE:LINE: not well-formed XML: ...". */
xmlDocPtr mr_xml_read_doc(const char *path, const char *what, struct mr_err *err);
/* mr_xml_read_doc() for a file of no more precise kind ("matrixrun XML file"). */
xmlDocPtr mr_xml_read_file(const char *path, struct mr_err *err);
/* The same for len bytes at buf (not NUL-terminated); name stands for the file. */
xmlDocPtr mr_xml_read_memory(const char *buf, size_t len, const char *name, const char *what,
                             struct mr_err *err);
/* Makes ctxt stop as soon as it meets a DOCTYPE, before it reads any declaration in it
 * (entities, default attributes), and set *ret_line to its line; *ret_line stays 0 while
 * there is none. Takes ctxt->_private; ret_line must outlive the parse. */
void mr_xml_refuse_doctype(xmlParserCtxtPtr ctxt, int *ret_line);
/* Sets err to "FILE:LINE: not well-formed XML: ..." from ctxt's last error. */
/* A libxml2 message as one line (its line breaks and runs of blanks become one space);
 * caller frees. */
char *mr_xml_one_line(const char *msg);
/* err = "PATH:LINE: not well-formed XML: MSG" (no ":LINE" when line <= 0), MSG as one
 * line; msg NULL reads "unreadable". */
void mr_xml_set_parse_error(struct mr_err *err, const char *path, int line, const char *msg);
void mr_xml_parse_error(xmlParserCtxtPtr ctxt, const char *path, struct mr_err *err);

/* Validates doc against a RELAX NG schema held in memory. On failure returns -EINVAL
 * with err "FILE:LINE: <elem> does not match the WHAT schema: ...". */
int mr_xml_validate_rng(xmlDocPtr doc, const char *schema, size_t schema_len,
                        const char *file, const char *what, struct mr_err *err) MR_WUR;

#endif
