/* bridge/oauth2/http.h — one HTTPS POST of a form to a token or device
 * endpoint, through libcurl (no HTTP of our own).
 *
 * Contract:
 *  - oauth2_http_post() sends the name/value pairs kv[0..2n) as
 *    application/x-www-form-urlencoded (each escaped by libcurl) to url,
 *    which oauth2_url_check() accepted, and reads the answer whatever its
 *    status. TLS is verified as for the upstream IMAP server: certificate
 *    chain and host name, against ca_file (PEM) when given, else the system
 *    store; TLS 1.2 at least. No redirect is followed; only the scheme of
 *    the URL is allowed. The whole exchange takes at most timeout_s
 *    seconds; the answer at most OAUTH2_HTTP_BODY_MAX octets.
 *  - Returns 0 with res->status (the HTTP status) and res->body (NUL-
 *    terminated, res->len octets), or -1 when no answer came: res->why then
 *    says why (unreachable, timed out, TLS, too large), never a secret.
 *  - The request and the answer hold secrets (client secret, tokens):
 *    oauth2_http_free() cleanses the answer; the request is cleansed here.
 *  - Thread-safe: libcurl is initialised once (pthread_once); each call
 *    has its own handle.
 */
#ifndef BRIDGE_OAUTH2_HTTP_H
#define BRIDGE_OAUTH2_HTTP_H

#include <stddef.h>

#define OAUTH2_HTTP_BODY_MAX  (64u << 10)  /* a token answer is a few KiB */
#define OAUTH2_HTTP_FORM_MAX  (48u << 10)  /* a request: tokens and a secret */

struct oauth2_http {
	long status;
	char *body;
	size_t len;
	char why[200];
};

int oauth2_http_post(const char *url, const char *ca_file, unsigned timeout_s,
    const char *const *kv, size_t n, struct oauth2_http *res);
void oauth2_http_free(struct oauth2_http *res);

#endif
