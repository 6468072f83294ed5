/* bridge/route/pick.c — rendezvous hashing (see pick.h). */
#include "bridge/route/pick.h"

#include <string.h>

#include <openssl/evp.h>

size_t route_account_key(const char *user, size_t len, char sep, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n < cap; i++) {
		char c = user[i];
		if (sep && c == sep)
			break;
		out[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	return n;
}

int route_weight(const char *name, const char *key, size_t keylen, uint64_t *w)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int rc = -1;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	*w = 0;
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, name, strlen(name) + 1) == 1 &&   /* the NUL separates */
	    EVP_DigestUpdate(c, key, keylen) == 1 &&
	    EVP_DigestFinal_ex(c, md, &mdlen) == 1 && mdlen >= 8) {
		for (int i = 0; i < 8; i++)
			*w = (*w << 8) | md[i];
		rc = 0;
	}
	EVP_MD_CTX_free(c);
	return rc;
}

int route_pick(const struct route_node *nodes, size_t n, const char *key, size_t keylen,
    size_t *idx)
{
	size_t best = 0;
	uint64_t best_w = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t w;
		if (route_weight(nodes[i].name, key, keylen, &w) != 0)
			return -1;
		if (i == 0 || w > best_w || (w == best_w && strcmp(nodes[i].name,
		    nodes[best].name) < 0)) {
			best = i;
			best_w = w;
		}
	}
	*idx = best;
	return 0;
}
