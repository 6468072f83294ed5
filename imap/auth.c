/* imap/auth.c — LOGIN / AUTHENTICATE PLAIN, AUTHENTICATE OAUTHBEARER /
 * XOAUTH2, ID and ENABLE (see imap.h). */
#include "imap/session_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* The longest user name or password accepted: far beyond any real one,
 * and small enough that PLAIN's base64 fits one command. */
#define CRED_MAX 1024

static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static enum imap_result auth_plain(struct imap_session *s, const char *user,
    const char *password)
{
	unsigned char raw[2 * CRED_MAX + 2];
	char b64[((sizeof(raw) + 2) / 3) * 4 + 1];
	size_t ul = strlen(user), pl = strlen(password);
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, password, pl);
	int n = EVP_EncodeBlock((unsigned char *)b64, raw, (int)(ul + pl + 2));
	explicit_bzero(raw, sizeof(raw));
	b64[n] = '\0';
	if (imap_has(s, IMAP_CAP_SASL_IR)) {
		imap_cmd_begin(s, "AUTHENTICATE PLAIN");
		imap_cmd_raw(s->cmd, b64);
	} else {
		imap_cmd_begin(s, "AUTHENTICATE PLAIN");
		imap_cmd_continuation(s->cmd, b64);
	}
	explicit_bzero(b64, sizeof(b64));
	return imap_cmd_run(s, NULL);
}

/* After a good login: the state, and the capabilities again. */
static enum imap_result logged_in(struct imap_session *s, const char *mech);

enum imap_result imap_login(struct imap_session *s, const char *user, const char *password)
{
	const char *mech;
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_NOT_AUTH);
	if (r != IMAP_OK)
		return r;
	if (s->state != IMAP_STATE_NOT_AUTH)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "already authenticated");
	if (!user || !password || !*user || strlen(user) > CRED_MAX ||
	    strlen(password) > CRED_MAX || has_crlf(user) || has_crlf(password))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
		    "user name or password empty, too long, or with CR/LF");
	if (imap_has(s, IMAP_CAP_AUTH_PLAIN)) {
		mech = "PLAIN";
		r = auth_plain(s, user, password);
	} else if (!imap_has(s, IMAP_CAP_LOGINDISABLED)) {
		mech = "LOGIN";
		imap_cmd_begin(s, "LOGIN");
		imap_cmd_astring(s->cmd, user, strlen(user));
		imap_cmd_astring(s->cmd, password, strlen(password));
		r = imap_cmd_run(s, NULL);
	} else {
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE,
		    "server offers neither AUTH=PLAIN nor LOGIN");
	}
	if (r != IMAP_OK)
		return r;
	return logged_in(s, mech);
}

/* ---- OAuth2: OAUTHBEARER (RFC 7628) and XOAUTH2 ------------------------- */

/* RFC 6750 §2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
 * "/" ) *"=" — what may follow "Bearer " without quoting. */
static bool is_b64token(const char *t, size_t n)
{
	size_t i = 0;
	while (i < n && (isalnum((unsigned char)t[i]) || strchr("-._~+/", t[i]) != NULL))
		i++;
	if (i == 0)
		return false;
	while (i < n && t[i] == '=')
		i++;
	return i == n;
}

/* A user name in the GS2 header (RFC 5801 saslname): "," as "=2C", "=" as
 * "=3D". 0, or -1 when out has no room. */
static int gs2_user(const char *user, char *out, size_t size)
{
	size_t o = 0;
	for (const char *p = user; *p; p++) {
		const char *rep = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
		size_t n = rep ? 3 : 1;
		if (o + n >= size)
			return -1;
		if (rep)
			memcpy(out + o, rep, 3);
		else
			out[o] = *p;
		o += n;
	}
	out[o] = '\0';
	return 0;
}

struct oauth_ctx {
	bool xoauth2;
	unsigned challenges;
};

/* The server refused the token with a challenge (base64 JSON status,
 * RFC 7628 §3.2.2; Google's XOAUTH2 the same): keep its text for the
 * caller, answer once as the mechanism requires, and read the tagged NO. */
static const char *oauth_challenge(struct imap_session *s, void *vctx,
    const struct imap_response *r)
{
	struct oauth_ctx *ctx = vctx;
	unsigned char raw[IMAP_TEXT_MAX + 3];
	size_t n = strlen(r->text);

	if (ctx->challenges++ > 0)
		return NULL;
	s->challenge[0] = '\0';
	/* (text cut at IMAP_TEXT_MAX may be cut base64: kept only when whole) */
	if (n > 0 && n < IMAP_TEXT_MAX && n % 4 == 0 && (n / 4) * 3 < sizeof(raw)) {
		int k = EVP_DecodeBlock(raw, (const unsigned char *)r->text, (int)n);
		if (k >= 0) {
			size_t len = (size_t)k;
			/* EVP_DecodeBlock counts the padding as zero octets */
			for (size_t i = n; i > 0 && r->text[i - 1] == '=' && len > 0; i--)
				len--;
			imap_sanitize(s->challenge, sizeof(s->challenge), (const char *)raw, len);
		}
	}
	return ctx->xoauth2 ? "" : "AQ==";
}

/* A user name and token the two mechanisms can carry. */
static bool oauth2_args_ok(const char *user, const char *token)
{
	return user && token && *user && strlen(user) <= CRED_MAX && !has_crlf(user) &&
	    strchr(user, '\x01') == NULL && strlen(token) <= IMAP_BEARER_MAX &&
	    is_b64token(token, strlen(token));
}

long imap_sasl_oauth2(bool xoauth2, const char *user, const char *host, unsigned port,
    const char *token, char *out, size_t size)
{
	if (!oauth2_args_ok(user, token) || !host || strlen(host) > CRED_MAX)
		return -1;
	/* the initial response, then its base64 form */
	static const size_t raw_max = 4 * CRED_MAX + IMAP_BEARER_MAX + 128;
	char *raw = malloc(raw_max);
	char gs2[3 * CRED_MAX + 1];
	int n = -1;
	if (raw == NULL)
		return -1;
	if (xoauth2)
		n = snprintf(raw, raw_max, "user=%s\001auth=Bearer %s\001\001", user, token);
	else if (gs2_user(user, gs2, sizeof(gs2)) == 0)
		n = snprintf(raw, raw_max, "n,a=%s,\001host=%s\001port=%u\001"
		    "auth=Bearer %s\001\001", gs2, host, port, token);
	long k = -1;
	if (n >= 0 && (size_t)n < raw_max && ((size_t)n + 2) / 3 * 4 < size)
		k = EVP_EncodeBlock((unsigned char *)out, (unsigned char *)raw, n);
	explicit_bzero(raw, raw_max);
	free(raw);
	return k;
}

enum imap_result imap_login_oauth2(struct imap_session *s, const char *user, const char *token)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_NOT_AUTH);
	if (r != IMAP_OK)
		return r;
	s->challenge[0] = '\0';
	if (s->state != IMAP_STATE_NOT_AUTH)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "already authenticated");
	if (!oauth2_args_ok(user, token))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
		    "user name empty, too long or with control characters, or not a bearer token");
	struct oauth_ctx ctx = { .xoauth2 = !imap_has_name(s, "AUTH=OAUTHBEARER") };
	if (ctx.xoauth2 && !imap_has_name(s, "AUTH=XOAUTH2"))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE,
		    "server offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2");
	char *b64 = malloc(IMAP_SASL_OAUTH2_MAX);
	if (b64 == NULL)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "out of memory");
	long k = imap_sasl_oauth2(ctx.xoauth2, user, s->cfg.host, s->cfg.port ? s->cfg.port :
	    s->cfg.tls == IMAP_TLS_IMPLICIT ? 993u : 143u, token, b64, IMAP_SASL_OAUTH2_MAX);
	if (k < 0) {
		free(b64);
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
		    "out of memory, or the server's host name too long");
	}
	imap_cmd_begin(s, ctx.xoauth2 ? "AUTHENTICATE XOAUTH2" : "AUTHENTICATE OAUTHBEARER");
	if (imap_has(s, IMAP_CAP_SASL_IR))
		imap_cmd_raw(s->cmd, b64);
	else
		imap_cmd_continuation(s->cmd, b64);
	explicit_bzero(b64, (size_t)k);
	free(b64);
	struct cmd_handler h = { .challenge = oauth_challenge, .ctx = &ctx };
	r = imap_cmd_run(s, &h);
	if (r != IMAP_OK)
		return r;
	return logged_in(s, ctx.xoauth2 ? "XOAUTH2" : "OAUTHBEARER");
}

const char *imap_login_mechanism(const struct imap_session *s)
{
	return s->mech;
}

const char *imap_last_challenge(const struct imap_session *s)
{
	return s->challenge;
}

static enum imap_result logged_in(struct imap_session *s, const char *mech)
{
	enum imap_result r;

	s->mech = mech;
	s->state = IMAP_STATE_AUTH;
	struct imap_status saved = s->last;
	if (saved.code != IMAP_CODE_CAPABILITY) {
		/* Capabilities may change after login (RFC 9051 §6.2.3). */
		r = imap_capability(s);
		if (r != IMAP_OK && r != IMAP_NO && r != IMAP_BAD)
			return r;
	}
	s->last = saved;
	return IMAP_OK;
}

enum imap_result imap_id(struct imap_session *s, const char *const *kv, size_t n)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_NOT_AUTH);
	if (r != IMAP_OK)
		return r;
	if (!imap_has(s, IMAP_CAP_ID))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE, "server lacks ID");
	if (n % 2 != 0)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "ID needs name/value pairs");
	imap_cmd_begin(s, "ID");
	if (n == 0) {
		imap_cmd_raw(s->cmd, "NIL");
	} else {
		imap_cmd_list_open(s->cmd);
		for (size_t i = 0; i < n; i++)
			imap_cmd_string(s->cmd, kv[i], strlen(kv[i]));
		imap_cmd_list_close(s->cmd);
	}
	return imap_cmd_run(s, NULL);
}

struct enable_ctx {
	unsigned enabled;
};

static int enable_untagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct enable_ctx *ctx = vctx;
	(void)s;
	if (r->cond != IMAP_COND_NONE || strcmp(r->name, "ENABLED") != 0)
		return 0;
	for (size_t i = 0; i < r->nargs; i++) {
		if (imap_arg_is_atom(&r->args[i], "CONDSTORE"))
			ctx->enabled |= IMAP_CAP_CONDSTORE;
		else if (imap_arg_is_atom(&r->args[i], "QRESYNC"))
			ctx->enabled |= IMAP_CAP_QRESYNC | IMAP_CAP_CONDSTORE;
	}
	return 1;
}

enum imap_result imap_enable(struct imap_session *s, unsigned caps, unsigned *enabled)
{
	struct enable_ctx ctx = { 0 };
	struct cmd_handler h = { .untagged = enable_untagged, .ctx = &ctx };
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);
	if (enabled)
		*enabled = 0;
	if (r != IMAP_OK)
		return r;
	if (!imap_has(s, IMAP_CAP_ENABLE))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE, "server lacks ENABLE");
	if ((caps & ~(unsigned)(IMAP_CAP_CONDSTORE | IMAP_CAP_QRESYNC)) != 0)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "only CONDSTORE and QRESYNC");
	caps &= s->caps;
	if (!(caps & (IMAP_CAP_CONDSTORE | IMAP_CAP_QRESYNC)))
		return imap_set_last(s, IMAP_OK, IMAP_CAUSE_NONE, "nothing to enable");
	imap_cmd_begin(s, "ENABLE");
	if (caps & IMAP_CAP_QRESYNC)
		imap_cmd_raw(s->cmd, "QRESYNC");
	if (caps & IMAP_CAP_CONDSTORE)
		imap_cmd_raw(s->cmd, "CONDSTORE");
	r = imap_cmd_run(s, &h);
	if (enabled)
		*enabled = ctx.enabled;
	return r;
}
