/* bridge/guard/proxy.c — see proxy.h. The protocol is HAProxy's
 * "proxy-protocol.txt" (versions 1 and 2). */
#include "bridge/guard/proxy.h"

#include <arpa/inet.h>
#include <string.h>

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char v1_sig[] = "PROXY ";
#define V1_SIG_LEN (sizeof(v1_sig) - 1)

static enum guard_proxy_result more(struct guard_proxy_hdr *h, size_t need)
{
	h->need = need;
	return GUARD_PROXY_MORE;
}

/* The next space-separated token of line[*pos..end): its start and length;
 * false when there is none. Tokens are separated by exactly one space. */
static bool token(const char *line, size_t end, size_t *pos, const char **tok, size_t *len)
{
	size_t p = *pos;
	if (p >= end)
		return false;
	size_t q = p;
	while (q < end && line[q] != ' ')
		q++;
	if (q == p)
		return false;
	*tok = line + p;
	*len = q - p;
	*pos = q < end ? q + 1 : q;
	return q == end || q + 1 < end;   /* a trailing space is not a separator */
}

static bool tok_is(const char *tok, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(tok, word, len) == 0;
}

static bool parse_port(const char *tok, size_t len, uint16_t *port)
{
	unsigned v = 0;
	if (len == 0 || len > 5 || (len > 1 && tok[0] == '0'))
		return false;
	for (size_t i = 0; i < len; i++) {
		if (tok[i] < '0' || tok[i] > '9')
			return false;
		v = v * 10 + (unsigned)(tok[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool parse_addr(const char *tok, size_t len, int family, char *out)
{
	char a[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	if (len == 0 || len >= sizeof(a))
		return false;
	memcpy(a, tok, len);
	a[len] = '\0';
	if (inet_pton(family, a, bin) != 1)
		return false;
	return inet_ntop(family, bin, out, INET6_ADDRSTRLEN) != NULL;
}

static enum guard_proxy_result parse_v1(const unsigned char *buf, size_t n,
    struct guard_proxy_hdr *h)
{
	size_t lim = n < GUARD_PROXY_V1_MAX ? n : GUARD_PROXY_V1_MAX;
	size_t i;

	/* Only printable ASCII before CR LF; a CR must be followed by LF. */
	for (i = 0; i < lim; i++) {
		unsigned char c = buf[i];
		if (c == '\r') {
			if (i + 2 > GUARD_PROXY_V1_MAX)
				return GUARD_PROXY_BAD;   /* its LF would be octet 108 */
			if (i + 1 >= n)
				return more(h, i + 2);
			if (buf[i + 1] != '\n')
				return GUARD_PROXY_BAD;
			break;
		}
		if (c < 0x20 || c > 0x7e)
			return GUARD_PROXY_BAD;
	}
	if (i == lim)
		return n >= GUARD_PROXY_V1_MAX ? GUARD_PROXY_BAD : more(h, n + 1);

	const char *line = (const char *)buf;
	size_t end = i, pos = V1_SIG_LEN;
	const char *tok;
	size_t tl;
	h->version = 1;
	h->len = end + 2;
	if (!token(line, end, &pos, &tok, &tl))
		return GUARD_PROXY_BAD;
	if (tok_is(tok, tl, "UNKNOWN")) {
		h->local = true;   /* the rest of the line is to be ignored */
		return GUARD_PROXY_DONE;
	}
	int family;
	if (tok_is(tok, tl, "TCP4"))
		family = AF_INET;
	else if (tok_is(tok, tl, "TCP6"))
		family = AF_INET6;
	else
		return GUARD_PROXY_BAD;
	char dst[INET6_ADDRSTRLEN];
	uint16_t dport;
	if (!token(line, end, &pos, &tok, &tl) || !parse_addr(tok, tl, family, h->addr))
		return GUARD_PROXY_BAD;
	if (!token(line, end, &pos, &tok, &tl) || !parse_addr(tok, tl, family, dst))
		return GUARD_PROXY_BAD;
	if (!token(line, end, &pos, &tok, &tl) || !parse_port(tok, tl, &h->port))
		return GUARD_PROXY_BAD;
	if (!token(line, end, &pos, &tok, &tl) || !parse_port(tok, tl, &dport) || pos != end)
		return GUARD_PROXY_BAD;
	return GUARD_PROXY_DONE;
}

static enum guard_proxy_result parse_v2(const unsigned char *buf, size_t n,
    struct guard_proxy_hdr *h)
{
	if (n < 16)
		return more(h, 16);
	unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0f;
	unsigned fam = buf[13] >> 4, proto = buf[13] & 0x0f;
	size_t len = (size_t)buf[14] << 8 | buf[15];
	if (ver != 2 || cmd > 1 || 16 + len > GUARD_PROXY_V2_MAX)
		return GUARD_PROXY_BAD;
	if (n < 16 + len)
		return more(h, 16 + len);
	h->version = 2;
	h->len = 16 + len;
	if (proto > 2 || fam > 3)
		return GUARD_PROXY_BAD;
	if (cmd == 0 || fam == 0 || fam == 3 || proto == 0) {
		/* LOCAL, or addresses that say nothing of a TCP client. */
		h->local = true;
		return GUARD_PROXY_DONE;
	}
	if (proto != 1)
		return GUARD_PROXY_BAD;          /* DGRAM on a stream */
	const unsigned char *a = buf + 16;
	if (fam == 1) {
		if (len < 12 || inet_ntop(AF_INET, a, h->addr, sizeof(h->addr)) == NULL)
			return GUARD_PROXY_BAD;
		h->port = (uint16_t)(a[8] << 8 | a[9]);
	} else {
		if (len < 36 || inet_ntop(AF_INET6, a, h->addr, sizeof(h->addr)) == NULL)
			return GUARD_PROXY_BAD;
		h->port = (uint16_t)(a[32] << 8 | a[33]);
	}
	return GUARD_PROXY_DONE;
}

enum guard_proxy_result guard_proxy_parse(const unsigned char *buf, size_t n,
    struct guard_proxy_hdr *hdr)
{
	memset(hdr, 0, sizeof(*hdr));
	if (n == 0)
		return more(hdr, 1);
	if (buf[0] == v1_sig[0]) {
		size_t k = n < V1_SIG_LEN ? n : V1_SIG_LEN;
		if (memcmp(buf, v1_sig, k) != 0)
			return GUARD_PROXY_BAD;
		return n < V1_SIG_LEN ? more(hdr, V1_SIG_LEN) : parse_v1(buf, n, hdr);
	}
	size_t k = n < sizeof(v2_sig) ? n : sizeof(v2_sig);
	if (memcmp(buf, v2_sig, k) != 0)
		return GUARD_PROXY_BAD;
	return parse_v2(buf, n, hdr);
}
