/* bridge/base/text.h — text from elsewhere (a server's reply, a file, a
 * name someone chose) made safe for one line of a reply, a log detail, an
 * error message or a terminal: the one printable-text rule of bridge/.
 *
 * Contract: printable means the octets 0x20..0x7E (printable ASCII, space
 * included); every other octet — NUL, control characters, DEL and every
 * octet of 0x80 and above — becomes '?', one for one, so the result is never
 * longer than its source and never spans two lines. (base/log.c escapes
 * instead, as \xHH, because a log line must stay reversible.)
 */
#ifndef BRIDGE_BASE_TEXT_H
#define BRIDGE_BASE_TEXT_H

#include <stddef.h>

/* c itself when printable, else '?'. */
static inline char base_text_printable_byte(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e ? (char)c : '?';
}

/* The len octets of src (NUL octets included, each shown as '?') into dst
 * as printable text: at most cap - 1 octets and a terminating NUL; nothing
 * at all when cap is 0. Returns the octets written, without the NUL. */
size_t base_text_printable(char *dst, size_t cap, const char *src, size_t len);

/* The same for the string src (NULL: ""), read no further than cap needs. */
size_t base_text_printable_str(char *dst, size_t cap, const char *src);

/* A value quoted in an error message: printable, at most
 * BASE_TEXT_SHOWN_MAX octets, then "..." when there is more; so an error
 * line stays one readable line. Into buf (len >= 4), returned. */
#define BASE_TEXT_SHOWN_MAX 60
const char *base_text_shown(const char *s, char *buf, size_t len);
/* base_text_shown() into a buffer that lives until the end of the block. */
#define BASE_SHOWN(s) base_text_shown((s), (char[BASE_TEXT_SHOWN_MAX + 4]){0}, \
    BASE_TEXT_SHOWN_MAX + 4)

#endif
