/* bridge/oauth2/token.h — requests to an OAuth2 token endpoint (RFC 6749)
 * and a device authorization endpoint (RFC 8628), and what their answers
 * mean. HTTPS through oauth2/http.h, JSON through jansson.
 *
 * Contract:
 *  - Every request authenticates the client with client_id, and
 *    client_secret when one is given (in the form body, RFC 6749 §2.3.1);
 *    scope goes along when given.
 *  - Outcome of an answer (oauth2_token_parse, used by every request):
 *      OAUTH2_OK          2xx with a Bearer access token (an RFC 6750
 *                         b64token of at most OAUTH2_TOKEN_MAX octets);
 *                         t->refresh holds a new refresh token when the
 *                         answer had one (rotation), t->expires_in its
 *                         lifetime (at most OAUTH2_SECONDS_MAX) or -1;
 *      OAUTH2_TEMP        no answer (unreachable, timed out, TLS), HTTP 5xx
 *                         or 429, error temporarily_unavailable or
 *                         server_error, or an answer that is not what RFC
 *                         6749 §5.1 describes (try later);
 *      OAUTH2_PENDING / OAUTH2_SLOW_DOWN   the device flow's "not yet";
 *      OAUTH2_PERM        an administrator must act: invalid_grant (the
 *                         refresh token or device code is revoked, expired
 *                         or unknown: t->invalid_grant, `popbridge account
 *                         oauth2-login` mends it), access_denied and
 *                         expired_token (device flow), invalid_client,
 *                         unauthorized_client, invalid_scope, any other
 *                         4xx, a redirect, a token type other than Bearer.
 *    t->detail says what happened in one line for logs and the
 *    administrator (status, error code, the provider's description), never
 *    a token or secret.
 *  - Nothing secret survives in memory this module freed: the answer and
 *    jansson's copies are cleansed (jansson allocates through cleansing
 *    functions); *t is the caller's to cleanse (oauth2_tokens_clear).
 */
#ifndef BRIDGE_OAUTH2_TOKEN_H
#define BRIDGE_OAUTH2_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/managed/secret.h"
#include "state/state.h"

#define OAUTH2_TOKEN_MAX SECRET_TOKEN_MAX   /* an access or refresh token */
#define OAUTH2_CODE_MAX  1024               /* a device code */
#define OAUTH2_USER_CODE_MAX 64
#define OAUTH2_DETAIL_MAX 300
/* expires_in and interval are cut to this (31 years; a quoted number has at
 * most 9 digits anyway). */
#define OAUTH2_SECONDS_MAX 999999999

enum oauth2_outcome {
	OAUTH2_OK,
	OAUTH2_TEMP,
	OAUTH2_PERM,
	OAUTH2_PENDING,
	OAUTH2_SLOW_DOWN,
};

/* What a request needs of the grant. Strings may be "" (none) but
 * token_url and client_id. */
struct oauth2_client {
	const char *token_url;
	const char *device_url;
	const char *scope;
	const char *client_id;
	const char *client_secret;
	const char *ca_file;     /* NULL: the system store */
	unsigned timeout_s;
};

struct oauth2_tokens {
	char access[OAUTH2_TOKEN_MAX + 1];
	char refresh[OAUTH2_TOKEN_MAX + 1];   /* "": the answer had none */
	int64_t expires_in;                   /* -1: not given */
	char error[64];                       /* the provider's error code, or "" */
	bool invalid_grant;
	char detail[OAUTH2_DETAIL_MAX];
};

struct oauth2_device_auth {
	char device_code[OAUTH2_CODE_MAX + 1];
	char user_code[OAUTH2_USER_CODE_MAX + 1];
	char verification_uri[STATE_URL_MAX + 1];
	char verification_uri_complete[STATE_URL_MAX + 1];  /* "": none */
	int64_t expires_in;
	int64_t interval;                     /* seconds; 5 when not given */
	char detail[OAUTH2_DETAIL_MAX];
};

/* grant_type=refresh_token. */
enum oauth2_outcome oauth2_token_refresh(const struct oauth2_client *c, const char *refresh,
    struct oauth2_tokens *t);
/* grant_type=client_credentials. */
enum oauth2_outcome oauth2_token_client_credentials(const struct oauth2_client *c,
    struct oauth2_tokens *t);
/* The device flow's poll: grant_type=urn:ietf:params:oauth:grant-type:device_code. */
enum oauth2_outcome oauth2_token_device_poll(const struct oauth2_client *c,
    const char *device_code, struct oauth2_tokens *t);
/* The device authorization request (RFC 8628 §3.1-3.2). OAUTH2_OK with *d
 * filled, else TEMP or PERM with d->detail. */
enum oauth2_outcome oauth2_device_start(const struct oauth2_client *c,
    struct oauth2_device_auth *d);

/* The meaning of a token endpoint's answer (contract above); for tests. */
enum oauth2_outcome oauth2_token_parse(long status, const char *body, size_t len,
    struct oauth2_tokens *t);
/* An RFC 6750 b64token: what may follow "Bearer ". */
bool oauth2_is_b64token(const char *s);
void oauth2_tokens_clear(struct oauth2_tokens *t);
/* Set jansson up, once per process, to cleanse what it frees (the token
 * answers above hold secrets; so may other JSON popbridge reads or writes:
 * call it before the first jansson call). */
void oauth2_json_init(void);

#endif
