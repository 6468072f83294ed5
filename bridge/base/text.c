/* bridge/base/text.c — see text.h. */
#include "bridge/base/text.h"

#include <string.h>

size_t base_text_printable(char *dst, size_t cap, const char *src, size_t len)
{
	size_t o = 0;

	if (cap == 0)
		return 0;
	for (; o < len && o + 1 < cap; o++)
		dst[o] = base_text_printable_byte((unsigned char)src[o]);
	dst[o] = '\0';
	return o;
}

const char *base_text_shown(const char *s, char *buf, size_t len)
{
	size_t max = len - 4 < BASE_TEXT_SHOWN_MAX ? len - 4 : BASE_TEXT_SHOWN_MAX;
	size_t i = base_text_printable(buf, max + 1, s, strnlen(s, max));

	if (s[i])
		memcpy(buf + i, "...", 4);
	return buf;
}

size_t base_text_printable_str(char *dst, size_t cap, const char *src)
{
	if (src == NULL)
		src = "";
	return base_text_printable(dst, cap, src, cap > 0 ? strnlen(src, cap - 1) : 0);
}
