/* bridge/config/url.c — see url.h. */
#include "bridge/config/url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/text.h"

#define SHOWN(s) BASE_SHOWN(s)

static int parse_port(const char *s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long n;
	if (config_parse_uint(s, 1, 65535, &n) != 0)
		return base_errf(err, errlen, "port '%s' is not a number from 1 to 65535", SHOWN(s));
	*port = (uint16_t)n;
	return 0;
}

static bool is_hostname(const char *h)
{
	size_t len = strlen(h), label = 0;
	bool all_numeric = true;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		char c = h[i];
		if (c == '.' || c == 0) {
			if (label == 0 || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(isalnum((unsigned char)c) || c == '-') || (label == 0 && c == '-'))
			return false;
		if (++label > 63)
			return false;
		if (!isdigit((unsigned char)c))
			all_numeric = false;
	}
	if (all_numeric) {  /* digits and dots: it must be a real IPv4 address */
		struct in_addr a;
		return inet_pton(AF_INET, h, &a) == 1;
	}
	return true;
}

int config_hostport_parse(const char *s, unsigned flags, struct config_endpoint *ep,
    char *err, size_t errlen)
{
	const char *port = NULL;
	size_t hlen;
	memset(ep, 0, sizeof(*ep));
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close)
			return base_errf(err, errlen, "'%s': '[' without ']'", SHOWN(s));
		hlen = (size_t)(close - s - 1);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != 0)
			return base_errf(err, errlen, "'%s': expected ':PORT' after ']'", SHOWN(s));
		if (hlen == 0 || hlen >= sizeof(ep->host))
			return base_errf(err, errlen, "'%s': bad IPv6 address", SHOWN(s));
		memcpy(ep->host, s + 1, hlen);
		ep->host[hlen] = 0;
		struct in6_addr a6;
		if (inet_pton(AF_INET6, ep->host, &a6) != 1)
			return base_errf(err, errlen, "'%s' is not an IPv6 address", SHOWN(ep->host));
		ep->ipv6 = true;
	} else {
		const char *colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			return base_errf(err, errlen,
			    "'%s': write an IPv6 address in brackets, e.g. [::1]:1110", SHOWN(s));
		hlen = colon ? (size_t)(colon - s) : strlen(s);
		if (hlen == 0)
			return base_errf(err, errlen, "'%s': no address before the port", SHOWN(s));
		if (hlen >= sizeof(ep->host))
			return base_errf(err, errlen, "'%s': host name too long", SHOWN(s));
		memcpy(ep->host, s, hlen);
		ep->host[hlen] = 0;
		port = colon ? colon + 1 : NULL;
		struct in_addr a4;
		if (flags & CONFIG_HOSTPORT_NUMERIC) {
			if (inet_pton(AF_INET, ep->host, &a4) != 1)
				return base_errf(err, errlen,
				    "'%s' is not a numeric IPv4 address or a bracketed IPv6 address",
				    SHOWN(ep->host));
		} else if (!is_hostname(ep->host)) {
			return base_errf(err, errlen, "'%s' is not a valid host name or address",
			    SHOWN(ep->host));
		}
	}
	if (!port) {
		if (flags & CONFIG_HOSTPORT_PORT)
			return base_errf(err, errlen, "'%s': expected ADDRESS:PORT", SHOWN(s));
		return 0;
	}
	return parse_port(port, &ep->port, err, errlen);
}

/* "'S' is not an imaps://HOST[:PORT] or imap://HOST[:PORT] URL", from the table. */
static int no_scheme(const char *s, const struct config_url_scheme *table, size_t n,
    char *err, size_t errlen)
{
	char list[160] = "";
	size_t o = 0;
	for (size_t i = 0; i < n && o < sizeof(list); i++) {
		int w = snprintf(list + o, sizeof(list) - o, "%s%s://HOST[:PORT]",
		    i == 0 ? "" : i + 1 == n ? " or " : ", ", table[i].name);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	bool vowel = n > 0 && strchr("aeiouAEIOU", table[0].name[0]) != NULL;
	return base_errf(err, errlen, "'%s' is not %s %s URL", SHOWN(s), vowel ? "an" : "a", list);
}

int config_url_parse(const char *s, const struct config_url_scheme *table, size_t n,
    const struct config_url_scheme **scheme, struct config_endpoint *ep,
    char *err, size_t errlen)
{
	char auth[PB_HOST_MAX + 16];
	const char *rest = NULL;
	const struct config_url_scheme *sc = NULL;
	for (size_t i = 0; i < n && !sc; i++) {
		size_t nl = strlen(table[i].name);
		if (strncasecmp(s, table[i].name, nl) == 0 && strncmp(s + nl, "://", 3) == 0) {
			sc = &table[i];
			rest = s + nl + 3;
		}
	}
	if (!sc)
		return no_scheme(s, table, n, err, errlen);
	size_t alen = strcspn(rest, "/");
	if (rest[alen] == '/' && rest[alen + 1] != 0)
		return base_errf(err, errlen, "'%s': a path, query or fragment has no meaning here",
		    SHOWN(s));
	if (memchr(rest, '@', alen))
		return base_errf(err, errlen, "'%s': credentials do not belong in the URL", SHOWN(s));
	if (alen == 0)
		return base_errf(err, errlen, "'%s': no host", SHOWN(s));
	if (alen >= sizeof(auth))
		return base_errf(err, errlen, "'%s': host name too long", SHOWN(s));
	memcpy(auth, rest, alen);
	auth[alen] = 0;
	if (config_hostport_parse(auth, 0, ep, err, errlen) != 0)
		return -1;
	if (ep->port == 0)
		ep->port = sc->port;
	*scheme = sc;
	return 0;
}

/* ---- the configuration's own addresses ---------------------------------------- */

int config_parse_listen(const char *s, struct config_endpoint *ep, char *err, size_t errlen)
{
	return config_hostport_parse(s, CONFIG_HOSTPORT_NUMERIC | CONFIG_HOSTPORT_PORT, ep,
	    err, errlen);
}

static const struct config_url_scheme upstream_schemes[] = {
	{ "imaps", 993, true },    /* RFC 8314 */
	{ "imap", 143, false },    /* STARTTLS, or none when upstream-tls says so */
};

int config_parse_upstream_url(const char *s, struct config_endpoint *ep,
    enum config_upstream_tls *tls, char *err, size_t errlen)
{
	const struct config_url_scheme *sc;
	if (config_url_parse(s, upstream_schemes, sizeof(upstream_schemes) /
	    sizeof(upstream_schemes[0]), &sc, ep, err, errlen) != 0)
		return -1;
	*tls = sc->implicit_tls ? PB_UTLS_IMPLICIT : PB_UTLS_STARTTLS;
	return 0;
}

static const struct config_url_scheme smtp_schemes[] = {
	{ "smtps", 465, true },    /* RFC 8314 */
	{ "smtp", 587, false },    /* submission (RFC 6409): STARTTLS, or none */
};

int config_parse_smtp_url(const char *s, struct config_endpoint *ep,
    enum config_upstream_tls *tls, char *err, size_t errlen)
{
	const struct config_url_scheme *sc;
	if (config_url_parse(s, smtp_schemes, sizeof(smtp_schemes) / sizeof(smtp_schemes[0]),
	    &sc, ep, err, errlen) != 0)
		return -1;
	*tls = sc->implicit_tls ? PB_UTLS_IMPLICIT : PB_UTLS_STARTTLS;
	return 0;
}

const char *config_endpoint_format(const struct config_endpoint *ep, char *buf, size_t len)
{
	snprintf(buf, len, ep->ipv6 ? "[%s]:%u" : "%s:%u", ep->host, (unsigned)ep->port);
	return buf;
}
