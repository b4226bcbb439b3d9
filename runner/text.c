/* text.c: the width of UTF-8 text in terminal columns, and text cut to a width, for the
 * progress lines, the run summary, compare's table and the chart's labels. */
#include "text.h"

/* Screen columns of UTF-8 text, one per character (cell ids and steps are ASCII in
 * practice; wide characters would only make a line end early). */
size_t mr_text_cols(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Appends at most max columns of s, ending in "..." when cut, with control characters as
 * spaces: a live line must stay one screen line. */
void mr_buf_add_cols(struct mr_buf *b, const char *s, size_t max)
{
    size_t total = mr_text_cols(s);
    size_t keep = total <= max ? total : max >= 3 ? max - 3 : max;
    size_t n = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch & 0xc0) != 0x80 && n++ == keep)
            break;
        char out = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
        mr_buf_add(b, &out, 1);
    }
    if (keep < total && max >= 3)
        mr_buf_adds(b, "...");
}
