/* bridge/oauth2/token.c — token and device endpoint requests and their
 * answers (see token.h). */
#include "bridge/oauth2/token.h"

#include <ctype.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "bridge/base/text.h"
#include "bridge/oauth2/http.h"

#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

/* ---- jansson, cleansing what it frees ---------------------------------------- */

static void cleansing_free(void *p)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, malloc_usable_size(p));
		free(p);
	}
}

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void json_init(void)
{
	json_set_alloc_funcs(malloc, cleansing_free);
}

void oauth2_json_init(void)
{
	pthread_once(&g_once, json_init);
}

/* ---- answers -------------------------------------------------------------------- */

bool oauth2_is_b64token(const char *s)
{
	size_t i = 0;
	while (s[i] && (isalnum((unsigned char)s[i]) || strchr("-._~+/", s[i]) != NULL))
		i++;
	if (i == 0)
		return false;
	while (s[i] == '=')
		i++;
	return s[i] == '\0';
}

void oauth2_tokens_clear(struct oauth2_tokens *t)
{
	OPENSSL_cleanse(t, sizeof(*t));
}

/* A string member of o, or NULL. */
static const char *member_str(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A number member given as a JSON integer or a decimal string (some
 * providers quote it); -1 when absent or not a number >= 0; at most
 * OAUTH2_SECONDS_MAX (a later "now + expires_in" or "interval * 1000"
 * cannot overflow). */
static int64_t member_seconds(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		return i < 0 ? -1 : i > OAUTH2_SECONDS_MAX ? OAUTH2_SECONDS_MAX : (int64_t)i;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		if (n == 0 || n > 9 || strspn(s, "0123456789") != n)
			return -1;
		return (int64_t)strtoll(s, NULL, 10);
	}
	return -1;
}

/* detail = "what: the provider's words" (printable, cut). */
static void set_detail(char *detail, size_t cap, const char *what, const char *error,
    const char *desc)
{
	char e[64] = "", d[160] = "";
	if (error != NULL)
		base_text_printable_str(e, sizeof(e), error);
	if (desc != NULL)
		base_text_printable_str(d, sizeof(d), desc);
	snprintf(detail, cap, "%s%s%s%s%s", what, e[0] ? ": " : "", e, d[0] ? ": " : "", d);
}

static enum oauth2_outcome classify_error(const char *e)
{
	static const struct {
		const char *code;
		enum oauth2_outcome outcome;
	} t[] = {
		{ "authorization_pending", OAUTH2_PENDING },
		{ "slow_down", OAUTH2_SLOW_DOWN },
		{ "temporarily_unavailable", OAUTH2_TEMP },
		{ "server_error", OAUTH2_TEMP },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(e, t[i].code) == 0)
			return t[i].outcome;
	return OAUTH2_PERM;
}

enum oauth2_outcome oauth2_token_parse(long status, const char *body, size_t len,
    struct oauth2_tokens *t)
{
	char what[64];
	json_error_t jerr;
	enum oauth2_outcome r;

	pthread_once(&g_once, json_init);
	t->access[0] = t->refresh[0] = t->error[0] = t->detail[0] = '\0';
	t->expires_in = -1;
	t->invalid_grant = false;
	json_t *o = len > 0 ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (o != NULL && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	const char *error = o ? member_str(o, "error") : NULL;
	snprintf(what, sizeof(what), "token endpoint: HTTP %ld", status);
	if (status >= 500 || status == 429) {
		set_detail(t->detail, sizeof(t->detail), what, error,
		    o ? member_str(o, "error_description") : NULL);
		r = OAUTH2_TEMP;
		goto out;
	}
	if (error != NULL || status >= 300 || status < 200) {
		if (error == NULL) {
			set_detail(t->detail, sizeof(t->detail), what, NULL,
			    o ? NULL : "not an OAuth2 answer");
			r = status >= 300 ? OAUTH2_PERM : OAUTH2_TEMP;
			goto out;
		}
		base_text_printable_str(t->error, sizeof(t->error), error);
		t->invalid_grant = strcmp(error, "invalid_grant") == 0;
		set_detail(t->detail, sizeof(t->detail), what, error,
		    member_str(o, "error_description"));
		r = classify_error(error);
		goto out;
	}
	if (o == NULL) {
		set_detail(t->detail, sizeof(t->detail), what, NULL, "the answer is not JSON");
		r = OAUTH2_TEMP;
		goto out;
	}
	const char *access = member_str(o, "access_token");
	const char *type = member_str(o, "token_type");
	const char *refresh = member_str(o, "refresh_token");
	if (type != NULL && strcasecmp(type, "Bearer") != 0) {
		set_detail(t->detail, sizeof(t->detail), what, NULL,
		    "the token type is not Bearer");
		r = OAUTH2_PERM;
		goto out;
	}
	if (access == NULL || strlen(access) > OAUTH2_TOKEN_MAX || !oauth2_is_b64token(access) ||
	    (refresh != NULL && (refresh[0] == '\0' || strlen(refresh) > OAUTH2_TOKEN_MAX))) {
		set_detail(t->detail, sizeof(t->detail), what, NULL,
		    "no usable access token in the answer");
		r = OAUTH2_TEMP;
		goto out;
	}
	if (refresh != NULL)
		for (const char *p = refresh; *p; p++)
			if (*p < 0x21 || *p > 0x7e) {
				set_detail(t->detail, sizeof(t->detail), what, NULL,
				    "a refresh token that is not printable");
				r = OAUTH2_TEMP;
				goto out;
			}
	snprintf(t->access, sizeof(t->access), "%s", access);
	snprintf(t->refresh, sizeof(t->refresh), "%s", refresh ? refresh : "");
	t->expires_in = member_seconds(o, "expires_in");
	snprintf(t->detail, sizeof(t->detail), "token endpoint: HTTP %ld", status);
	r = OAUTH2_OK;
out:
	json_decref(o);
	return r;
}

/* ---- requests -------------------------------------------------------------------- */

/* The form: the given pairs, then client_id, client_secret and scope as
 * the client has them. */
static int post(const struct oauth2_client *c, const char *url, const char *const *pairs,
    size_t npairs, bool with_scope, struct oauth2_http *res)
{
	const char *kv[2 * 2 + 6];   /* at most 2 pairs of the caller's */
	size_t n = 0;
	for (size_t i = 0; i < 2 * npairs && i < 4; i++)
		kv[n++] = pairs[i];
	kv[n++] = "client_id";
	kv[n++] = c->client_id;
	if (c->client_secret != NULL && c->client_secret[0]) {
		kv[n++] = "client_secret";
		kv[n++] = c->client_secret;
	}
	if (with_scope && c->scope != NULL && c->scope[0]) {
		kv[n++] = "scope";
		kv[n++] = c->scope;
	}
	return oauth2_http_post(url, c->ca_file, c->timeout_s, kv, n / 2, res);
}

static enum oauth2_outcome token_request(const struct oauth2_client *c,
    const char *const *pairs, size_t npairs, bool with_scope, struct oauth2_tokens *t)
{
	struct oauth2_http res;
	if (post(c, c->token_url, pairs, npairs, with_scope, &res) != 0) {
		t->access[0] = t->refresh[0] = t->error[0] = '\0';
		t->expires_in = -1;
		t->invalid_grant = false;
		set_detail(t->detail, sizeof(t->detail), "token endpoint unreachable", NULL, res.why);
		return OAUTH2_TEMP;
	}
	enum oauth2_outcome r = oauth2_token_parse(res.status, res.body, res.len, t);
	oauth2_http_free(&res);
	return r;
}

enum oauth2_outcome oauth2_token_refresh(const struct oauth2_client *c, const char *refresh,
    struct oauth2_tokens *t)
{
	const char *pairs[] = { "grant_type", "refresh_token", "refresh_token", refresh };
	return token_request(c, pairs, 2, true, t);
}

enum oauth2_outcome oauth2_token_client_credentials(const struct oauth2_client *c,
    struct oauth2_tokens *t)
{
	const char *pairs[] = { "grant_type", "client_credentials" };
	return token_request(c, pairs, 1, true, t);
}

enum oauth2_outcome oauth2_token_device_poll(const struct oauth2_client *c,
    const char *device_code, struct oauth2_tokens *t)
{
	const char *pairs[] = { "grant_type", DEVICE_GRANT, "device_code", device_code };
	return token_request(c, pairs, 2, false, t);
}

/* A text member into buf: 0, or -1 when absent, empty, too long or not
 * printable. */
static int copy_member(json_t *o, const char *name, char *buf, size_t cap)
{
	const char *v = member_str(o, name);
	if (v == NULL || v[0] == '\0' || strlen(v) >= cap)
		return -1;
	for (const char *p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return -1;
	snprintf(buf, cap, "%s", v);
	return 0;
}

enum oauth2_outcome oauth2_device_start(const struct oauth2_client *c,
    struct oauth2_device_auth *d)
{
	struct oauth2_http res;
	json_error_t jerr;
	enum oauth2_outcome r = OAUTH2_TEMP;

	pthread_once(&g_once, json_init);
	memset(d, 0, sizeof(*d));
	if (c->device_url == NULL || c->device_url[0] == '\0') {
		snprintf(d->detail, sizeof(d->detail), "no device authorization endpoint");
		return OAUTH2_PERM;
	}
	if (post(c, c->device_url, NULL, 0, true, &res) != 0) {
		set_detail(d->detail, sizeof(d->detail), "device endpoint unreachable", NULL,
		    res.why);
		return OAUTH2_TEMP;
	}
	json_t *o = json_loadb(res.body, res.len, JSON_REJECT_DUPLICATES, &jerr);
	char what[64];
	snprintf(what, sizeof(what), "device endpoint: HTTP %ld", res.status);
	const char *error = json_is_object(o) ? member_str(o, "error") : NULL;
	if (res.status >= 500 || res.status == 429 || (res.status >= 200 && res.status < 300 &&
	    !json_is_object(o))) {
		set_detail(d->detail, sizeof(d->detail), what, error, json_is_object(o) ? NULL :
		    "not an OAuth2 answer");
	} else if (res.status < 200 || res.status >= 300 || error != NULL) {
		set_detail(d->detail, sizeof(d->detail), what, error,
		    json_is_object(o) ? member_str(o, "error_description") : NULL);
		r = error != NULL ? classify_error(error) : OAUTH2_PERM;
		if (r != OAUTH2_TEMP)
			r = OAUTH2_PERM;
	} else if (copy_member(o, "device_code", d->device_code, sizeof(d->device_code)) != 0 ||
	    copy_member(o, "user_code", d->user_code, sizeof(d->user_code)) != 0 ||
	    /* RFC 8628 says verification_uri; Google says verification_url */
	    (copy_member(o, "verification_uri", d->verification_uri,
	    sizeof(d->verification_uri)) != 0 && copy_member(o, "verification_url",
	    d->verification_uri, sizeof(d->verification_uri)) != 0)) {
		set_detail(d->detail, sizeof(d->detail), what, NULL,
		    "no device code, user code or verification URI in the answer");
	} else {
		if (copy_member(o, "verification_uri_complete", d->verification_uri_complete,
		    sizeof(d->verification_uri_complete)) != 0)
			d->verification_uri_complete[0] = '\0';
		d->expires_in = member_seconds(o, "expires_in");
		d->interval = member_seconds(o, "interval");
		if (d->interval <= 0)
			d->interval = 5;
		snprintf(d->detail, sizeof(d->detail), "%s", what);
		r = OAUTH2_OK;
	}
	json_decref(o);
	oauth2_http_free(&res);
	return r;
}
