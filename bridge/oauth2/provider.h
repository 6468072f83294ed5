/* bridge/oauth2/provider.h — OAuth2 providers and grants (SPEC §10): the
 * published endpoints and scopes of Google and Microsoft, the words of
 * --oauth2 and --oauth2-grant, and the rule every endpoint must follow.
 *
 * Contract:
 *  - oauth2_preset() fills what `google` and `microsoft` publish for a grant
 *    (token and device endpoints, scope); for Microsoft the tenant (default
 *    OAUTH2_MS_TENANT_DEFAULT) goes into the endpoints' path, and the
 *    client-credentials grant needs a tenant of its own (an organisation's
 *    domain or id: "common" names no tenant an app could be granted in).
 *    Google offers no client-credentials grant for mail (service accounts
 *    sign JWTs instead): refused with that reason. `custom` has no preset.
 *  - oauth2_url_check(): an endpoint is an https:// URL (TLS verified like
 *    the upstream IMAP server's), or an http:// URL whose host is a numeric
 *    loopback address (tests; nothing leaves the machine). Parsed by
 *    libcurl's URL parser; credentials in the URL are refused.
 *  - 0, or -1 with one line in err (no secret in it).
 */
#ifndef BRIDGE_OAUTH2_PROVIDER_H
#define BRIDGE_OAUTH2_PROVIDER_H

#include <stddef.h>

#include "bridge/config/options.h"
#include "state/state.h"

enum oauth2_provider { OAUTH2_GOOGLE, OAUTH2_MICROSOFT, OAUTH2_CUSTOM };
enum oauth2_grant_type {
	OAUTH2_GRANT_DEVICE_CODE,        /* RFC 8628 */
	OAUTH2_GRANT_REFRESH_TOKEN,      /* an existing refresh token (RFC 6749 §6) */
	OAUTH2_GRANT_CLIENT_CREDENTIALS, /* RFC 6749 §4.4: app-only access */
};

extern const struct config_words oauth2_providers;  /* google microsoft custom */
extern const struct config_words oauth2_grants;     /* device-code refresh-token
                                                       client-credentials */

#define OAUTH2_MS_TENANT_DEFAULT "common"

struct oauth2_endpoints {
	char token_url[STATE_URL_MAX + 1];
	char device_url[STATE_URL_MAX + 1];   /* "" = none */
	char scope[STATE_SCOPE_MAX + 1];
};

/* The preset of provider p (not CUSTOM) for grant g; tenant NULL or "":
 * the default. */
int oauth2_preset(enum oauth2_provider p, enum oauth2_grant_type g, const char *tenant,
    struct oauth2_endpoints *out, char *err, size_t errlen);

/* The endpoint rule (contract). what names the URL in err ("--oauth2-token-url"). */
int oauth2_url_check(const char *url, const char *what, char *err, size_t errlen);

#endif
