/* text.h: UTF-8 text measured and cut in terminal columns.
 *
 * A column is a code point: wide characters count as one, so a line of them ends early
 * rather than wrapping (the names measured are ASCII in practice). */
#ifndef MR_TEXT_H
#define MR_TEXT_H

#include <stddef.h>

#include "util.h"

/* Text columns of UTF-8 text (code points; wide characters count as one). */
size_t mr_text_cols(const char *s);
/* Appends s cut to max columns ("..." marks a cut), control characters as spaces. */
void mr_buf_add_cols(struct mr_buf *b, const char *s, size_t max);

#endif
