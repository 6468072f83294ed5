/* bridge/route/node.c — parsing the --node list (see node.h). */
#include "bridge/route/node.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/text.h"
#include "bridge/config/options.h"

static const char *const proto_names[ROUTE_PROTO_COUNT] = { "pop3", "imap", "smtp" };

const char *route_proto_name(enum route_proto p)
{
	return p < ROUTE_PROTO_COUNT ? proto_names[p] : "?";
}

int route_proto_lookup(const char *s)
{
	for (int p = 0; p < ROUTE_PROTO_COUNT; p++)
		if (strcasecmp(s, proto_names[p]) == 0)
			return p;
	return -1;
}

int route_name_check(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > ROUTE_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-'))
			return -1;
	}
	return 0;
}

/* ",imap=PORT" or ",smtp=PORT" at s (without the comma). */
static int extra_port(const char *s, struct route_node *out, char *err, size_t errlen)
{
	const char *eq = strchr(s, '=');
	char word[8];
	size_t wl = eq ? (size_t)(eq - s) : 0;
	unsigned long port;

	if (!eq || wl == 0 || wl >= sizeof(word))
		return base_errf(err, errlen, "'%s': expected imap=PORT or smtp=PORT",
		    BASE_SHOWN(s));
	memcpy(word, s, wl);
	word[wl] = '\0';
	int p = route_proto_lookup(word);
	if (p != ROUTE_IMAP && p != ROUTE_SMTP)
		return base_errf(err, errlen, "'%s': expected imap=PORT or smtp=PORT",
		    BASE_SHOWN(s));
	if (out->port[p] != 0)
		return base_errf(err, errlen, "%s= is given twice", word);
	if (config_parse_uint(eq + 1, 1, 65535, &port) != 0)
		return base_errf(err, errlen, "'%s' is not a port from 1 to 65535",
		    BASE_SHOWN(eq + 1));
	out->port[p] = (uint16_t)port;
	return 0;
}

int route_node_parse(const char *spec, struct route_node *out, char *err, size_t errlen)
{
	char buf[ROUTE_NAME_MAX + INET6_ADDRSTRLEN + 64];
	char e[PB_ERR_MAX];

	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= sizeof(buf))
		return base_errf(err, errlen, "--node '%s' is too long", BASE_SHOWN(spec));
	strcpy(buf, spec);
	char *eq = strchr(buf, '=');
	if (!eq)
		return base_errf(err, errlen, "--node '%s': expected NAME=IP:PORT[,imap=PORT]"
		    "[,smtp=PORT]", BASE_SHOWN(spec));
	*eq = '\0';
	if (route_name_check(buf) != 0)
		return base_errf(err, errlen, "--node '%s': a node name is 1 to %d of A-Z a-z "
		    "0-9 . _ -", BASE_SHOWN(spec), ROUTE_NAME_MAX);
	size_t nl = strlen(buf);   /* at most ROUTE_NAME_MAX: checked above */
	memcpy(out->name, buf, nl < sizeof(out->name) ? nl : sizeof(out->name) - 1);
	char *rest = eq + 1;
	char *comma = strchr(rest, ',');
	if (comma)
		*comma = '\0';
	struct config_endpoint ep;
	if (config_parse_listen(rest, &ep, e, sizeof(e)) != 0)
		return base_errf(err, errlen, "--node %s: %s", out->name, e);
	if (strlen(ep.host) >= sizeof(out->addr))   /* numeric: cannot happen */
		return base_errf(err, errlen, "--node %s: bad address", out->name);
	strcpy(out->addr, ep.host);
	out->ipv6 = ep.ipv6;
	out->port[ROUTE_POP3] = ep.port;
	while (comma) {
		char *s = comma + 1;
		comma = strchr(s, ',');
		if (comma)
			*comma = '\0';
		if (extra_port(s, out, e, sizeof(e)) != 0)
			return base_errf(err, errlen, "--node %s: %s", out->name, e);
	}
	return 0;
}

int route_nodes_check(const struct route_node *nodes, size_t n, char *err, size_t errlen)
{
	if (n == 0)
		return base_errf(err, errlen, "no --node given");
	if (n > ROUTE_NODES_MAX)
		return base_errf(err, errlen, "at most %d --node", ROUTE_NODES_MAX);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(nodes[i].name, nodes[j].name) == 0)
				return base_errf(err, errlen, "two nodes are named '%s'", nodes[i].name);
	return 0;
}
