/* pop3/sasl.c — SASL PLAIN and LOGIN for every front end. See sasl.h. */
#include <string.h>
#include <strings.h>

#include "pop3/base64.h"
#include "pop3/sasl.h"

int pop3_sasl_mech_find(const char *name, enum pop3_sasl_mech *mech)
{
	if (strcasecmp(name, "PLAIN") == 0)
		*mech = POP3_SASL_PLAIN;
	else if (strcasecmp(name, "LOGIN") == 0)
		*mech = POP3_SASL_LOGIN;
	else
		return -1;
	return 0;
}

long pop3_sasl_decode(char *resp, size_t len, bool initial, char *out, size_t cap)
{
	long n;

	if (cap == 0)
		return -1;
	if (initial && len == 1 && resp[0] == '=') {
		out[0] = '\0';
		n = 0;
	} else {
		n = pop3_base64_decode(resp, len, out, cap);
	}
	explicit_bzero(resp, len);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int pop3_sasl_plain_split(char *buf, size_t n, char **authzid, char **authcid, char **pass)
{
	char *nul1 = memchr(buf, '\0', n);
	char *nul2 = nul1 != NULL ? memchr(nul1 + 1, '\0', (size_t)(buf + n - nul1 - 1)) : NULL;

	if (nul2 == NULL || memchr(nul2 + 1, '\0', (size_t)(buf + n - nul2 - 1)) != NULL)
		return -1;
	*authzid = buf;
	*authcid = nul1 + 1;
	*pass = nul2 + 1;
	return 0;
}

enum pop3_sasl_rc pop3_sasl_plain_check(char *buf, size_t n, size_t user_max,
    size_t pass_max, struct pop3_sasl_creds *creds)
{
	char *authzid, *authcid, *pass;

	if (pop3_sasl_plain_split(buf, n, &authzid, &authcid, &pass) != 0)
		return POP3_SASL_BAD_PLAIN;
	size_t ulen = strlen(authcid);
	if (ulen == 0 || ulen > user_max || strlen(pass) > pass_max)
		return POP3_SASL_BAD_PLAIN;
	if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0)
		return POP3_SASL_AUTHZID;
	creds->mech = "PLAIN";
	creds->user = authcid;
	creds->pass = pass;
	return POP3_SASL_OK;
}

/* One response into out: the initial one, or a line read after the
 * challenge. The decoded length, or -1 with *rc the refusal. */
static long response(const struct pop3_sasl_io *io, const char *challenge, char *initial,
    char *out, size_t cap, enum pop3_sasl_rc *rc)
{
	char *line;
	size_t len;
	long n;

	if (initial != NULL) {
		/* It lives in the caller's line buffer, which the next read
		 * reuses: decoded and wiped before any. */
		n = pop3_sasl_decode(initial, strlen(initial), true, out, cap);
	} else {
		int r = io->challenge(io->arg, challenge, &line, &len);
		if (r <= 0) {
			*rc = r == 0 ? POP3_SASL_END : POP3_SASL_ANSWERED;
			return -1;
		}
		if (len == 1 && line[0] == '*') {
			*rc = POP3_SASL_CANCELLED;
			return -1;
		}
		n = pop3_sasl_decode(line, len, false, out, cap);
	}
	if (n < 0)
		*rc = POP3_SASL_BAD_BASE64;
	return n;
}

enum pop3_sasl_rc pop3_sasl_run(const struct pop3_sasl_io *io, enum pop3_sasl_mech mech,
    char *initial, char *buf, size_t bufsize, struct pop3_sasl_creds *creds)
{
	size_t cap = bufsize / 2;
	char *user = buf, *pass = buf + cap;
	enum pop3_sasl_rc rc = POP3_SASL_OK;

	if (mech == POP3_SASL_PLAIN) {
		long n = response(io, "", initial, buf, cap, &rc);
		if (n < 0)
			return rc;
		return pop3_sasl_plain_check(buf, (size_t)n, io->user_max, io->pass_max, creds);
	}
	/* LOGIN: "Username:" then "Password:"; an initial response is the
	 * user name. */
	long n = response(io, "VXNlcm5hbWU6", initial, user, cap, &rc);
	if (n < 0)
		return rc;
	if (n == 0 || (size_t)n > io->user_max || memchr(user, '\0', (size_t)n) != NULL)
		return POP3_SASL_BAD_USER;
	long m = response(io, "UGFzc3dvcmQ6", NULL, pass, cap, &rc);
	if (m < 0)
		return rc;
	if ((size_t)m > io->pass_max || memchr(pass, '\0', (size_t)m) != NULL)
		return POP3_SASL_BAD_PASS;
	creds->mech = "LOGIN";
	creds->user = user;
	creds->pass = pass;
	return POP3_SASL_OK;
}
