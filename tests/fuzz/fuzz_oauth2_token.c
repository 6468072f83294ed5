/* tests/fuzz/fuzz_oauth2_token.c — libFuzzer target for what a token
 * endpoint answers (bridge/oauth2/token.h, oauth2_token_parse): the first
 * octet picks the HTTP status, the rest is the body. The contract is
 * checked on every input: the outcome is one of the five; an access token
 * is handed out only with OAUTH2_OK, and then is a b64token within the
 * bound; a refresh token only with OAUTH2_OK, printable; the detail is one
 * printable line; invalid_grant only with OAUTH2_PERM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/oauth2/token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = { 200, 201, 204, 302, 400, 401, 403, 404, 429, 500, 503 };

static void printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct oauth2_tokens t;
	if (size == 0)
		return 0;
	long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	enum oauth2_outcome r = oauth2_token_parse(status, (const char *)data + 1, size - 1, &t);
	if (r != OAUTH2_OK && r != OAUTH2_TEMP && r != OAUTH2_PERM && r != OAUTH2_PENDING &&
	    r != OAUTH2_SLOW_DOWN)
		abort();
	if (r == OAUTH2_OK) {
		if (strlen(t.access) > OAUTH2_TOKEN_MAX || !oauth2_is_b64token(t.access))
			abort();
		printable(t.refresh);
	} else if (t.access[0] || t.refresh[0]) {
		abort();
	}
	if (t.invalid_grant && r != OAUTH2_PERM)
		abort();
	if (t.detail[0] == '\0')
		abort();
	printable(t.detail);
	printable(t.error);
	return 0;
}
