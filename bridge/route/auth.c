/* bridge/route/auth.c — nginx's auth_http answer (see auth.h). */
#include "bridge/route/auth.h"

#include <string.h>

#include "bridge/route/pick.h"

static const char *const result_names[ROUTE_R_COUNT] = {
	"ok", "down", "no_port", "bad_request", "internal",
};

const char *route_result_name(enum route_result r)
{
	return r < ROUTE_R_COUNT ? result_names[r] : "?";
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int route_percent_decode(const char *src, char *dst, size_t cap, size_t *len)
{
	size_t n = 0;
	*len = 0;
	for (const char *p = src; *p; p++) {
		char c = *p;
		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = (char)(hi * 16 + lo);
			p += 2;
		}
		if (n + 1 >= cap)
			return -1;
		dst[n++] = c;
	}
	if (cap == 0)
		return -1;
	dst[n] = '\0';
	*len = n;
	return 0;
}

/* The failure texts, by protocol: temporary (the node is down) and
 * permanent (route is configured wrong). */
#define TEXT_DOWN "Mailbox temporarily unavailable, try again later"
#define TEXT_NO_PORT "Mailbox not available over this protocol, contact the administrator"

static void fail(struct base_http_reply *rep, int proto, bool temporary)
{
	const char *text = temporary ? TEXT_DOWN : TEXT_NO_PORT;
	switch (proto) {
	case ROUTE_POP3:
		base_http_reply_header(rep, "Auth-Status", "[%s] %s",
		    temporary ? "SYS/TEMP" : "SYS/PERM", text);
		break;
	case ROUTE_IMAP:
		base_http_reply_header(rep, "Auth-Status", "[UNAVAILABLE] %s", text);
		break;
	default:
		base_http_reply_header(rep, "Auth-Status", "%s", text);
		base_http_reply_header(rep, "Auth-Error-Code", "%s",
		    temporary ? "451 4.3.0" : "554 5.3.5");
		break;
	}
	base_http_reply_header(rep, "Auth-Wait", "%d", ROUTE_AUTH_WAIT_S);
}

static void bad(struct base_http_reply *rep, struct route_auth_out *out)
{
	out->result = ROUTE_R_BAD;
	rep->status = 400;
	base_http_reply_header(rep, "Auth-Status", "Invalid request");
	base_http_reply_header(rep, "Auth-Wait", "%d", ROUTE_AUTH_WAIT_S);
}

void route_auth_answer(const struct route_auth_in *in, struct base_http_reply *rep,
    struct route_auth_out *out)
{
	char user[ROUTE_USER_MAX + 1], key[ROUTE_USER_MAX];
	size_t ulen;

	out->node = 0;
	out->proto = in->protocol ? route_proto_lookup(in->protocol) : -1;
	if (out->proto < 0 || in->user == NULL ||
	    route_percent_decode(in->user, user, sizeof(user), &ulen) != 0 || ulen == 0)
		return bad(rep, out);
	size_t klen = route_account_key(user, ulen, in->sep, key, sizeof(key));
	if (route_pick(in->nodes, in->n_nodes, key, klen, &out->node) != 0) {
		out->result = ROUTE_R_INTERNAL;
		fail(rep, out->proto, true);
		return;
	}
	const struct route_node *nd = &in->nodes[out->node];
	if (nd->port[out->proto] == 0) {
		out->result = ROUTE_R_NO_PORT;
		fail(rep, out->proto, false);
		return;
	}
	if (!in->up[out->node]) {
		out->result = ROUTE_R_DOWN;
		fail(rep, out->proto, true);
		return;
	}
	out->result = ROUTE_R_OK;
	base_http_reply_header(rep, "Auth-Status", "OK");
	base_http_reply_header(rep, "Auth-Server", "%s", nd->addr);
	base_http_reply_header(rep, "Auth-Port", "%u", (unsigned)nd->port[out->proto]);
}
