/* pop3/base64.c — see base64.h. */
#include <stdbool.h>
#include <string.h>

#include "pop3/base64.h"

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

long pop3_base64_decode(const char *in, size_t inlen, char *out, size_t outcap)
{
	size_t o = 0;

	if (inlen % 4 != 0)
		return -1;
	for (size_t i = 0; i < inlen; i += 4) {
		const unsigned char *q = (const unsigned char *)in + i;
		bool last = i + 4 == inlen;
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			if (q[k] == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1; /* data after padding */
			v[k] = b64val(q[k]);
			if (v[k] < 0)
				return -1;
		}
		unsigned bits = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 |
		    (unsigned)v[2] << 6 | (unsigned)v[3];
		if ((pad == 2 && (bits & 0xffff) != 0) || (pad == 1 && (bits & 0xff) != 0))
			return -1; /* non-zero unused bits */
		size_t n = 3 - (size_t)pad;
		if (o + n > outcap)
			return -1;
		out[o++] = (char)(bits >> 16);
		if (n > 1)
			out[o++] = (char)(bits >> 8 & 0xff);
		if (n > 2)
			out[o++] = (char)(bits & 0xff);
	}
	if (o < outcap)
		out[o] = '\0';
	return (long)o;
}
