/* imap/auth.c — LOGIN / AUTHENTICATE PLAIN, ID and ENABLE (see imap.h). */
#include "imap/session_int.h"

#include <stdio.h>
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

enum imap_result imap_login(struct imap_session *s, const char *user, const char *password)
{
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
		r = auth_plain(s, user, password);
	} else if (!imap_has(s, IMAP_CAP_LOGINDISABLED)) {
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
