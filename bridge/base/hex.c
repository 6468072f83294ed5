/* bridge/base/hex.c — see hex.h. */
#include "bridge/base/hex.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

int base_hex_encode(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	size_t len;

	if (cap == 0 || n > (cap - 1) / 2) {
		if (cap > 0)
			dst[0] = '\0';
		return -1;
	}
	if (n == 0) {
		dst[0] = '\0';
		return 0;
	}
	if (OPENSSL_buf2hexstr_ex(dst, cap, &len, src, n, '\0') != 1) {
		ERR_clear_error();
		dst[0] = '\0';
		return -1;
	}
	/* OpenSSL writes upper case; our files and keys have always been lower. */
	for (size_t i = 0; i < 2 * n; i++)
		if (dst[i] >= 'A' && dst[i] <= 'F')
			dst[i] = (char)(dst[i] - 'A' + 'a');
	return 0;
}

int base_hex_decode(unsigned char *dst, size_t cap, size_t *out, const char *src, size_t len)
{
	char text[2 * BASE_HEX_DECODE_MAX + 1];
	int rc = -1;

	*out = 0;
	if (len % 2 != 0 || len / 2 > cap || len / 2 > BASE_HEX_DECODE_MAX)
		return -1;
	for (size_t i = 0; i < len; i++)
		if (!((src[i] >= '0' && src[i] <= '9') || (src[i] >= 'a' && src[i] <= 'f')))
			return -1;
	if (len == 0)
		return 0;
	/* OpenSSL reads a NUL-terminated string. */
	memcpy(text, src, len);
	text[len] = '\0';
	if (OPENSSL_hexstr2buf_ex(dst, cap, out, text, '\0') == 1)
		rc = 0;
	else
		ERR_clear_error();
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}
