/* bridge/oauth2/provider.c — provider presets and the endpoint rule (see
 * provider.h). */
#include "bridge/oauth2/provider.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "bridge/base/addrkey.h"
#include "bridge/base/errbuf.h"

static const struct config_word provider_words[] = {
	{ "google", OAUTH2_GOOGLE }, { "microsoft", OAUTH2_MICROSOFT }, { "custom", OAUTH2_CUSTOM },
};
const struct config_words oauth2_providers = CONFIG_WORDS(provider_words);

static const struct config_word grant_words[] = {
	{ "device-code", OAUTH2_GRANT_DEVICE_CODE },
	{ "refresh-token", OAUTH2_GRANT_REFRESH_TOKEN },
	{ "client-credentials", OAUTH2_GRANT_CLIENT_CREDENTIALS },
};
const struct config_words oauth2_grants = CONFIG_WORDS(grant_words);

/* Google: "OAuth 2.0 for TV and Limited-Input Device Applications" and the
 * Gmail IMAP/SMTP scope (developers.google.com). */
#define GOOGLE_TOKEN  "https://oauth2.googleapis.com/token"
#define GOOGLE_DEVICE "https://oauth2.googleapis.com/device/code"
#define GOOGLE_SCOPE  "https://mail.google.com/"
/* Microsoft identity platform v2.0 endpoints and the Exchange Online scopes
 * for IMAP and SMTP (learn.microsoft.com, "Authenticate an IMAP, POP or SMTP
 * connection using OAuth"); offline_access asks for a refresh token. */
#define MS_BASE       "https://login.microsoftonline.com/"
#define MS_SCOPE      "offline_access https://outlook.office.com/IMAP.AccessAsUser.All " \
	"https://outlook.office.com/SMTP.Send"
#define MS_APP_SCOPE  "https://outlook.office365.com/.default"

/* A tenant is a GUID, a domain name or one of Microsoft's words: letters,
 * digits, '.', '-'. */
static int tenant_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 253)
		return 0;
	return strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == n &&
	    t[0] != '.' && t[0] != '-';
}

int oauth2_preset(enum oauth2_provider p, enum oauth2_grant_type g, const char *tenant,
    struct oauth2_endpoints *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (p == OAUTH2_GOOGLE) {
		if (tenant != NULL && tenant[0])
			return base_errf(err, errlen, "--oauth2-tenant is for microsoft only");
		if (g == OAUTH2_GRANT_CLIENT_CREDENTIALS)
			return base_errf(err, errlen, "google has no client-credentials grant for "
			    "mail (service accounts sign JWTs); use device-code or refresh-token");
		snprintf(out->token_url, sizeof(out->token_url), "%s", GOOGLE_TOKEN);
		snprintf(out->device_url, sizeof(out->device_url), "%s", GOOGLE_DEVICE);
		snprintf(out->scope, sizeof(out->scope), "%s", GOOGLE_SCOPE);
		return 0;
	}
	if (p != OAUTH2_MICROSOFT)
		return base_errf(err, errlen, "custom has no preset: give --oauth2-token-url");
	const char *t = tenant != NULL && tenant[0] ? tenant : OAUTH2_MS_TENANT_DEFAULT;
	if (!tenant_ok(t))
		return base_errf(err, errlen, "--oauth2-tenant: a tenant is a domain name, a "
		    "directory id or common, organizations, consumers");
	if (g == OAUTH2_GRANT_CLIENT_CREDENTIALS &&
	    (strcmp(t, "common") == 0 || strcmp(t, "organizations") == 0 ||
	    strcmp(t, "consumers") == 0))
		return base_errf(err, errlen, "client-credentials needs the organisation's own "
		    "--oauth2-tenant (its domain or directory id), not %s", t);
	snprintf(out->token_url, sizeof(out->token_url), MS_BASE "%s/oauth2/v2.0/token", t);
	snprintf(out->device_url, sizeof(out->device_url), MS_BASE "%s/oauth2/v2.0/devicecode",
	    t);
	snprintf(out->scope, sizeof(out->scope), "%s",
	    g == OAUTH2_GRANT_CLIENT_CREDENTIALS ? MS_APP_SCOPE : MS_SCOPE);
	return 0;
}

int oauth2_url_check(const char *url, const char *what, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL;
	int rc = -1;

	if (u == NULL)
		return base_errf(err, errlen, "%s: out of memory", what);
	if (url == NULL || url[0] == '\0' || strlen(url) > STATE_URL_MAX) {
		base_errf(err, errlen, "%s: a URL of 1 to %d octets", what, STATE_URL_MAX);
		goto out;
	}
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
			base_errf(err, errlen, "%s: a URL without spaces or control characters", what);
			goto out;
		}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		base_errf(err, errlen, "%s: not a URL (https://HOST/PATH)", what);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		base_errf(err, errlen, "%s: no credentials in the URL", what);
		goto out;
	}
	/* an IPv6 host comes in brackets */
	char bare[64] = "";
	size_t hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']' && hl - 2 < sizeof(bare))
		snprintf(bare, sizeof(bare), "%.*s", (int)(hl - 2), host + 1);
	else
		snprintf(bare, sizeof(bare), "%s", hl < sizeof(bare) ? host : "");
	if (strcmp(scheme, "https") == 0)
		rc = 0;
	else if (strcmp(scheme, "http") == 0 && base_addr_is_loopback(bare))
		rc = 0;
	else
		base_errf(err, errlen, "%s: must be an https:// URL (http:// only to a numeric "
		    "loopback address)", what);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}
