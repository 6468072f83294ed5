/* bridge/maildrop/matchkey.c — Message-ID and header hash of a header block
 * (bridge/maildrop/matchkey.h). */
#include "bridge/maildrop/matchkey.h"
#include "bridge/base/hex.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

const char *const maildrop_matchkey_fields[MATCHKEY_NFIELDS] = {
	"Message-ID", "Date", "From", "To", "Subject",
};

struct span {
	bool present;
	size_t start, end; /* raw value: after ':' up to the field's last LF */
};

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Find the first occurrence of each selected field. */
static void locate(const char *h, size_t len, struct span spans[MATCHKEY_NFIELDS])
{
	size_t pos = 0;
	int cur = -1; /* field whose continuation lines extend spans[cur] */

	memset(spans, 0, sizeof(struct span) * MATCHKEY_NFIELDS);
	while (pos < len) {
		const char *nl = memchr(h + pos, '\n', len - pos);
		size_t eol = nl != NULL ? (size_t)(nl - h) : len;
		size_t next = nl != NULL ? eol + 1 : len;
		size_t content = eol;

		if (content > pos && h[content - 1] == '\r')
			content--;
		if (content == pos)
			break; /* the empty line ending the header */
		if (h[pos] == ' ' || h[pos] == '\t') {
			if (cur >= 0)
				spans[cur].end = eol;
			pos = next;
			continue;
		}
		cur = -1;
		const char *colon = memchr(h + pos, ':', content - pos);
		if (colon != NULL) {
			size_t nend = (size_t)(colon - h);
			while (nend > pos && (h[nend - 1] == ' ' || h[nend - 1] == '\t'))
				nend--;
			for (int i = 0; i < MATCHKEY_NFIELDS; i++) {
				size_t fl = strlen(maildrop_matchkey_fields[i]);
				if (spans[i].present || nend - pos != fl ||
				    strncasecmp(h + pos, maildrop_matchkey_fields[i], fl) != 0)
					continue;
				spans[i].present = true;
				spans[i].start = (size_t)(colon - h) + 1;
				spans[i].end = eol;
				cur = i;
				break;
			}
		}
		pos = next;
	}
}

/* Feed the normalised value of span s to the digest and, when out is not
 * NULL, copy it there (up to cap - 1 octets; *fits false beyond). */
static int normalise(EVP_MD_CTX *md, const char *h, const struct span *s,
    char *out, size_t cap, bool *fits)
{
	size_t o = 0;
	bool space = false, any = false;

	for (size_t i = s->start; i < s->end; i++) {
		char c = h[i];
		if (is_wsp(c)) {
			space = any;
			continue;
		}
		char buf[2];
		size_t n = 0;
		if (space)
			buf[n++] = ' ';
		buf[n++] = c;
		space = false;
		any = true;
		if (EVP_DigestUpdate(md, buf, n) != 1)
			return -1;
		if (out != NULL) {
			if (o + n < cap) {
				memcpy(out + o, buf, n);
				o += n;
			} else {
				*fits = false;
			}
		}
	}
	if (out != NULL)
		out[o] = '\0';
	return 0;
}

int maildrop_matchkey_compute(const char *hdr, size_t len, struct maildrop_matchkey *out)
{
	struct span spans[MATCHKEY_NFIELDS];
	unsigned char dig[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	locate(hdr, len, spans);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto done;
	for (int i = 0; i < MATCHKEY_NFIELDS; i++) {
		char name[16];
		size_t nl = strlen(maildrop_matchkey_fields[i]);
		for (size_t k = 0; k < nl; k++) {
			char c = maildrop_matchkey_fields[i][k];
			name[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		name[nl] = spans[i].present ? ':' : '!';
		if (EVP_DigestUpdate(md, name, nl + 1) != 1)
			goto done;
		if (spans[i].present) {
			bool fits = true;
			bool is_msgid = i == 0;
			if (normalise(md, hdr, &spans[i], is_msgid ? out->msgid : NULL,
			    sizeof(out->msgid), &fits) != 0)
				goto done;
			if (is_msgid && !fits)
				out->msgid[0] = '\0';
		}
		if (EVP_DigestUpdate(md, "\n", 1) != 1)
			goto done;
	}
	if (EVP_DigestFinal_ex(md, dig, &dlen) != 1 || dlen != 32)
		goto done;
	memcpy(out->hash, "s1-", 3);
	if (base_hex_encode(out->hash + 3, sizeof(out->hash) - 3, dig, dlen) != 0)
		goto done;
	rc = 0;
done:
	EVP_MD_CTX_free(md);
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
