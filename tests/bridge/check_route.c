/* tests/bridge/check_route.c — `popbridge route`'s parts without a network:
 * the --node list, the rendezvous choice (fixed weights, stability when
 * nodes come and go), percent-decoding, the auth_http answer header by
 * header, the Prometheus lines, and the command line's repeatable options.
 * (The same at the wire, against the real binary: tests/interop/test_route.py;
 * with nginx: tests/interop/test_fleet.py.) */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/metrics.h"
#include "bridge/cmd/cmd.h"
#include "bridge/route/auth.h"
#include "bridge/route/check.h"
#include "bridge/route/node.h"
#include "bridge/route/pick.h"
#include "tests/bridge/bt.h"

static char err[PB_ERR_MAX];

/* ---- the node list --------------------------------------------------------------------- */

START_TEST(node_parse_good)
{
	struct route_node n;
	ck_assert_int_eq(route_node_parse("node-1=10.0.0.1:1110", &n, err, sizeof(err)), 0);
	ck_assert_str_eq(n.name, "node-1");
	ck_assert_str_eq(n.addr, "10.0.0.1");
	ck_assert(!n.ipv6);
	ck_assert_uint_eq(n.port[ROUTE_POP3], 1110);
	ck_assert_uint_eq(n.port[ROUTE_IMAP], 0);
	ck_assert_uint_eq(n.port[ROUTE_SMTP], 0);
	ck_assert_int_eq(route_node_parse("b.2=[2001:db8::7]:110,smtp=587,imap=143", &n, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(n.name, "b.2");
	ck_assert_str_eq(n.addr, "2001:db8::7");
	ck_assert(n.ipv6);
	ck_assert_uint_eq(n.port[ROUTE_POP3], 110);
	ck_assert_uint_eq(n.port[ROUTE_IMAP], 143);
	ck_assert_uint_eq(n.port[ROUTE_SMTP], 587);
}
END_TEST

START_TEST(node_parse_bad)
{
	static const struct { const char *spec, *msg; } bad[] = {
		{ "10.0.0.1:110", "--node '10.0.0.1:110': expected NAME=IP:PORT[,imap=PORT][,smtp=PORT]" },
		{ "=10.0.0.1:110", "--node '=10.0.0.1:110': a node name is 1 to 64 of A-Z a-z 0-9 . _ -" },
		{ "a b=10.0.0.1:110", "--node 'a b=10.0.0.1:110': a node name is 1 to 64 of A-Z a-z 0-9 . _ -" },
		{ "a=mail.example.com:110",
		  "--node a: 'mail.example.com' is not a numeric IPv4 address or a bracketed IPv6 address" },
		{ "a=10.0.0.1", "--node a: '10.0.0.1': expected ADDRESS:PORT" },
		{ "a=10.0.0.1:0", "--node a: port '0' is not a number from 1 to 65535" },
		{ "a=10.0.0.1:110,imap=0", "--node a: '0' is not a port from 1 to 65535" },
		{ "a=10.0.0.1:110,pop3=1", "--node a: 'pop3=1': expected imap=PORT or smtp=PORT" },
		{ "a=10.0.0.1:110,imap=1,imap=2", "--node a: imap= is given twice" },
		{ "a=10.0.0.1:110,", "--node a: '': expected imap=PORT or smtp=PORT" },
	};
	struct route_node n;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(route_node_parse(bad[i].spec, &n, err, sizeof(err)) == -1, "%s",
		    bad[i].spec);
		ck_assert_msg(strcmp(err, bad[i].msg) == 0, "%s: %s", bad[i].spec, err);
	}
	char name[80];
	memset(name, 'x', 65);
	strcpy(name + 65, "=10.0.0.1:1");
	ck_assert_int_eq(route_node_parse(name, &n, err, sizeof(err)), -1);
	memset(name, 'x', 64);   /* 64 characters: fine */
	strcpy(name + 64, "=10.0.0.1:1");
	ck_assert_int_eq(route_node_parse(name, &n, err, sizeof(err)), 0);

	struct route_node v[2];
	ck_assert_int_eq(route_nodes_check(v, 0, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "no --node given");
	route_node_parse("Node=10.0.0.1:1", &v[0], err, sizeof(err));
	route_node_parse("node=10.0.0.2:1", &v[1], err, sizeof(err));
	ck_assert_int_eq(route_nodes_check(v, 2, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "two nodes are named 'node'");
}
END_TEST

/* ---- rendezvous -------------------------------------------------------------------------- */

static uint64_t weight(const char *name, const char *key)
{
	uint64_t w;
	ck_assert_int_eq(route_weight(name, key, strlen(key), &w), 0);
	return w;
}

/* The function is part of the contract (docs/FLEET.md): these values are
 * SHA-256(NAME || 0x00 || KEY)'s first 8 octets, computed independently
 * (Python's hashlib). */
START_TEST(weight_known_values)
{
	ck_assert_uint_eq(weight("node-a", "alice"), 0xa807b93dd06a3dd5ULL);
	ck_assert_uint_eq(weight("node-b", "alice"), 0x21777b4e9c18a2f9ULL);
	ck_assert_uint_eq(weight("a", ""), 0xffe9aaeaa2a2d504ULL);
	ck_assert_uint_eq(weight("node-a", "bob@example.com"), 0x512ac9565eb14fb4ULL);
}
END_TEST

START_TEST(account_key)
{
	char k[16];
	size_t n = route_account_key("Alice#Phone", 11, '#', k, sizeof(k));
	ck_assert_uint_eq(n, 5);
	ck_assert(memcmp(k, "alice", 5) == 0);
	n = route_account_key("BOB@EXAMPLE.COM", 15, '#', k, sizeof(k));
	ck_assert(n == 15 && memcmp(k, "bob@example.com", 15) == 0);
	n = route_account_key("ann+x#pc", 8, '+', k, sizeof(k));   /* another separator */
	ck_assert(n == 3 && memcmp(k, "ann", 3) == 0);
	n = route_account_key("#pc", 3, '#', k, sizeof(k));
	ck_assert_uint_eq(n, 0);
	n = route_account_key("\xc3\x89t\xc3\xa9", 6, '#', k, sizeof(k));  /* UTF-8 kept */
	ck_assert(n == 6 && memcmp(k, "\xc3\x89t\xc3\xa9", 6) == 0);
}
END_TEST

static struct route_node *nodes(const char *const *names, size_t n)
{
	struct route_node *v = calloc(n, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		char spec[100];
		snprintf(spec, sizeof(spec), "%s=10.0.0.%zu:110", names[i], i + 1);
		ck_assert_int_eq(route_node_parse(spec, &v[i], err, sizeof(err)), 0);
	}
	return v;
}

static const char *owner(const struct route_node *v, size_t n, const char *account)
{
	size_t i;
	ck_assert_int_eq(route_pick(v, n, account, strlen(account), &i), 0);
	return v[i].name;
}

/* Adding a node moves only the accounts it wins (to itself), removing one
 * moves only its own, and the order of the list and the addresses do not
 * matter; the accounts spread over the nodes. */
START_TEST(pick_stable)
{
	static const char *const three[] = { "n1", "n2", "n3" };
	static const char *const four[] = { "n1", "n2", "n3", "n4" };
	static const char *const shuffled[] = { "n3", "n1", "n4", "n2" };
	struct route_node *a = nodes(three, 3), *b = nodes(four, 4), *c = nodes(shuffled, 4);
	size_t per_node[4] = { 0 }, moved = 0;
	enum { N = 4000 };

	for (int i = 0; i < N; i++) {
		char acc[32];
		snprintf(acc, sizeof(acc), "user%d@example.org", i);
		const char *before = owner(a, 3, acc), *after = owner(b, 4, acc);
		ck_assert_str_eq(after, owner(c, 4, acc));
		if (strcmp(before, after) != 0) {
			ck_assert_str_eq(after, "n4");
			moved++;
		}
		per_node[after[1] - '1']++;
	}
	/* about a quarter moves; each node holds about a quarter */
	ck_assert_msg(moved > N / 4 - N / 20 && moved < N / 4 + N / 20, "moved %zu", moved);
	for (int i = 0; i < 4; i++)
		ck_assert_msg(per_node[i] > N / 4 - N / 20 && per_node[i] < N / 4 + N / 20,
		    "node %d holds %zu", i + 1, per_node[i]);
	/* removing n4 again: exactly its accounts go back where they were */
	for (int i = 0; i < N; i++) {
		char acc[32];
		snprintf(acc, sizeof(acc), "user%d@example.org", i);
		const char *with = owner(b, 4, acc), *without = owner(a, 3, acc);
		if (strcmp(with, "n4") != 0)
			ck_assert_str_eq(with, without);
	}
	/* another address for a node moves nothing */
	ck_assert_int_eq(route_node_parse("n2=192.0.2.99:9999", &b[1], err, sizeof(err)), 0);
	for (int i = 0; i < 200; i++) {
		char acc[32];
		snprintf(acc, sizeof(acc), "user%d@example.org", i);
		ck_assert_str_eq(owner(b, 4, acc), owner(c, 4, acc));
	}
	free(a);
	free(b);
	free(c);
}
END_TEST

/* ---- percent-decoding --------------------------------------------------------------------- */

START_TEST(percent_decode)
{
	char out[16];
	size_t n;
	ck_assert_int_eq(route_percent_decode("ann%23pc", out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "ann#pc");
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(route_percent_decode("a%20b%2fc%2F", out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "a b/c/");
	ck_assert_int_eq(route_percent_decode("plain#kept", out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "plain#kept");
	ck_assert_int_eq(route_percent_decode("%c3%a9", out, sizeof(out), &n), 0);
	ck_assert_str_eq(out, "\xc3\xa9");
	ck_assert_int_eq(route_percent_decode("", out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(route_percent_decode("a%2", out, sizeof(out), &n), -1);
	ck_assert_int_eq(route_percent_decode("a%", out, sizeof(out), &n), -1);
	ck_assert_int_eq(route_percent_decode("a%g0", out, sizeof(out), &n), -1);
	ck_assert_int_eq(route_percent_decode("a%00b", out, sizeof(out), &n), -1);
	ck_assert_int_eq(route_percent_decode("0123456789abcdef", out, sizeof(out), &n), -1);
	ck_assert_int_eq(route_percent_decode("0123456789abcde", out, sizeof(out), &n), 0);
	ck_assert_int_eq(route_percent_decode("%41%41%41%41%41%41%41%41%41%41%41%41%41%41%41",
	    out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 15);
}
END_TEST

/* ---- the auth_http answer ---------------------------------------------------------------- */

static struct base_http_reply rep;
static struct route_auth_out out;

/* All headers of the answer, "Name: value\n" each. */
static const char *answer(const char *user, const char *proto, const bool *up)
{
	static const char *const names[] = { "west", "east" };
	static struct route_node *v;
	static char text[1024];
	if (!v) {
		v = nodes(names, 2);
		v[0].port[ROUTE_IMAP] = 143;   /* west has IMAP, east has not */
		v[0].port[ROUTE_SMTP] = 587;
	}
	struct route_auth_in in = { .user = user, .protocol = proto, .nodes = v, .n_nodes = 2,
		.up = up, .sep = '#' };
	memset(&rep, 0, sizeof(rep));
	rep.status = 200;
	route_auth_answer(&in, &rep, &out);
	ck_assert(!rep.bad);
	size_t o = 0;
	text[0] = '\0';
	for (size_t i = 0; i < rep.n_headers; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "%s: %s\n", rep.headers[i].name,
		    rep.headers[i].value);
	return text;
}

START_TEST(auth_answers)
{
	const bool both[] = { true, true }, west_down[] = { false, true };
	/* which node: bob is west's, alice east's (fixed by the hash) */
	ck_assert_str_eq(answer("bob", "pop3", both),
	    "Auth-Status: OK\nAuth-Server: 10.0.0.1\nAuth-Port: 110\n");
	ck_assert_int_eq(out.result, ROUTE_R_OK);
	ck_assert_uint_eq(out.node, 0);
	ck_assert_str_eq(answer("Bob%23Phone", "POP3", both),
	    "Auth-Status: OK\nAuth-Server: 10.0.0.1\nAuth-Port: 110\n");
	ck_assert_str_eq(answer("bob", "imap", both),
	    "Auth-Status: OK\nAuth-Server: 10.0.0.1\nAuth-Port: 143\n");
	ck_assert_str_eq(answer("bob#pc", "smtp", both),
	    "Auth-Status: OK\nAuth-Server: 10.0.0.1\nAuth-Port: 587\n");
	ck_assert_str_eq(answer("alice", "pop3", both),
	    "Auth-Status: OK\nAuth-Server: 10.0.0.2\nAuth-Port: 110\n");
	ck_assert_uint_eq(rep.status, 200);

	/* west down: its accounts get a temporary failure, never east */
	ck_assert_str_eq(answer("bob", "pop3", west_down),
	    "Auth-Status: [SYS/TEMP] Mailbox temporarily unavailable, try again later\n"
	    "Auth-Wait: 1\n");
	ck_assert_int_eq(out.result, ROUTE_R_DOWN);
	ck_assert_uint_eq(out.node, 0);
	ck_assert_str_eq(answer("bob", "imap", west_down),
	    "Auth-Status: [UNAVAILABLE] Mailbox temporarily unavailable, try again later\n"
	    "Auth-Wait: 1\n");
	ck_assert_str_eq(answer("bob", "smtp", west_down),
	    "Auth-Status: Mailbox temporarily unavailable, try again later\n"
	    "Auth-Error-Code: 451 4.3.0\nAuth-Wait: 1\n");
	ck_assert_str_eq(answer("alice", "pop3", west_down),
	    "Auth-Status: OK\nAuth-Server: 10.0.0.2\nAuth-Port: 110\n");

	/* east has no IMAP listener */
	ck_assert_str_eq(answer("alice", "imap", both),
	    "Auth-Status: [UNAVAILABLE] Mailbox not available over this protocol, contact the "
	    "administrator\nAuth-Wait: 1\n");
	ck_assert_int_eq(out.result, ROUTE_R_NO_PORT);
	ck_assert_str_eq(answer("alice", "smtp", both),
	    "Auth-Status: Mailbox not available over this protocol, contact the administrator\n"
	    "Auth-Error-Code: 554 5.3.5\nAuth-Wait: 1\n");

	/* what nginx never sends */
	static const char *const bad[][2] = {
		{ NULL, "pop3" }, { "bob", NULL }, { "bob", "nntp" }, { "", "pop3" },
		{ "al%zzice", "pop3" }, { "al%00ice", "pop3" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_str_eq(answer(bad[i][0], bad[i][1], both),
		    "Auth-Status: Invalid request\nAuth-Wait: 1\n");
		ck_assert_int_eq(out.result, ROUTE_R_BAD);
		ck_assert_uint_eq(rep.status, 400);
	}
	char longname[ROUTE_USER_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	answer(longname, "pop3", both);
	ck_assert_int_eq(out.result, ROUTE_R_BAD);
	longname[ROUTE_USER_MAX] = '\0';
	answer(longname, "pop3", both);
	ck_assert_int_eq(out.result, ROUTE_R_OK);
}
END_TEST

/* ---- Prometheus text ------------------------------------------------------------------------ */

START_TEST(metrics_lines)
{
	struct base_http_text t = { 0 };
	base_metrics_family(&t, "x_total", "counter", "what it counts");
	const char *lab[] = { "node", "a\"b\\c\nd", "result", "ok" };
	base_metrics_u64(&t, "x_total", lab, 2, 18446744073709551615ULL);
	base_metrics_u64(&t, "y", NULL, 0, 0);
	ck_assert_str_eq(t.p, "# HELP x_total what it counts\n# TYPE x_total counter\n"
	    "x_total{node=\"a\\\"b\\\\c\\nd\",result=\"ok\"} 18446744073709551615\ny 0\n");
	ck_assert(!t.over);
	base_http_text_free(&t);

	/* the bound */
	struct base_http_text s = { .max = 32 };
	base_http_text_add(&s, "%s", "0123456789012345678901234567890");   /* 31 + NUL */
	ck_assert(!s.over);
	base_http_text_add(&s, "x");
	ck_assert(s.over);
	ck_assert_uint_eq(s.len, 31);
	base_http_text_free(&s);
}
END_TEST

START_TEST(proxy_local_header)
{
	/* the PROXY v2 LOCAL header of a health check, as the spec writes it */
	static const unsigned char want[16] = "\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
	ck_assert(memcmp(route_proxy_v2_local, want, 16) == 0);
}
END_TEST

/* ---- the command line: repeatable options -------------------------------------------------- */

START_TEST(repeatable_options)
{
	struct config_cmdline c;
	char *argv[] = { "--node", "a=10.0.0.1:1", "--plan", "--node=b=10.0.0.2:1",
		"--state", "a=/x/a.db", "--node", "c=10.0.0.3:1", NULL };
	ck_assert_int_eq(config_cmdline_parse(&c, &cmd_route, 8, argv, err, sizeof(err)), 0);
	const char *v[4];
	ck_assert_uint_eq(config_cmdline_values(&c, CMD_O_NODE, v, 4), 3);
	ck_assert_str_eq(v[0], "a=10.0.0.1:1");
	ck_assert_str_eq(v[1], "b=10.0.0.2:1");
	ck_assert_str_eq(v[2], "c=10.0.0.3:1");
	ck_assert_uint_eq(config_cmdline_values(&c, CMD_O_NODE, v, 2), 3);  /* count, 2 given */
	ck_assert_uint_eq(config_cmdline_values(&c, CMD_O_ROUTE_STATE, v, 4), 1);
	ck_assert_str_eq(v[0], "a=/x/a.db");
	ck_assert_str_eq(c.arg[CMD_O_NODE].text, "a=10.0.0.1:1");
	config_cmdline_free(&c);

	/* the others are still refused twice */
	char *twice[] = { "--node", "a=10.0.0.1:1", "--check-interval", "2",
		"--check-interval", "3", NULL };
	ck_assert_int_eq(config_cmdline_parse(&c, &cmd_route, 6, twice, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "--check-interval is given twice");
	config_cmdline_free(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *t = tcase_create("route");
	tcase_add_test(t, node_parse_good);
	tcase_add_test(t, node_parse_bad);
	tcase_add_test(t, weight_known_values);
	tcase_add_test(t, account_key);
	tcase_add_test(t, pick_stable);
	tcase_add_test(t, percent_decode);
	tcase_add_test(t, auth_answers);
	tcase_add_test(t, metrics_lines);
	tcase_add_test(t, proxy_local_header);
	tcase_add_test(t, repeatable_options);
	suite_add_tcase(s, t);
	return bt_run_suite(s);
}
