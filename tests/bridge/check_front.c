/* tests/bridge/check_front.c — the IMAP front (bridge/front/) without a
 * server: the pre-login command parser table-driven and split at every byte
 * offset; the relay over socketpairs (both directions at once, a stalled
 * direction does not hold up the other, first octets, close from either
 * side, the idle limit, the periodic check); the pre-login engine's wire
 * transcripts (greeting, CAPABILITY with and without LOGINDISABLED, NOOP,
 * ID, LOGOUT, literals and their "+", bad commands and their cap, a login
 * without TLS refused, a login whose upstream is unreachable, the login
 * deadline, an overlong command). Real clients and a real server are
 * tests/interop/test_imap_front.py. */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/config/options.h"
#include "bridge/front/front.h"
#include "bridge/front/parse.h"
#include "bridge/front/relay.h"
#include "bridge/guard/throttle.h"
#include "bridge/maildrop/backend.h"
#include "tests/bridge/bt.h"

/* ---- the parser ------------------------------------------------------------- */

struct pcase {
	const char *in;
	size_t len;              /* 0: strlen(in) */
	enum front_parse_result res;
	const char *tag, *name;
	size_t ntop;
	const char *args[4];     /* top-level strings, "(n)" for a list of n */
	size_t n_sync;
	size_t consumed;         /* 0: the whole input */
};

static const struct pcase pcases[] = {
	{ "a1 CAPABILITY\r\n", 0, FRONT_PARSE_OK, "a1", "CAPABILITY", 0, { 0 }, 0, 0 },
	{ "a1 login alice secret\r\n", 0, FRONT_PARSE_OK, "a1", "LOGIN", 2,
	  { "alice", "secret" }, 0, 0 },
	{ "x.2 LOGIN \"al\\\"i\\\\ce\" {6}\r\nse\r\nt!\r\n", 0, FRONT_PARSE_OK, "x.2", "LOGIN",
	  2, { "al\"i\\ce", "se\r\nt!" }, 1, 0 },
	{ "a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n", 0, FRONT_PARSE_OK, "a", "LOGIN", 2,
	  { "alice", "secret" }, 0, 0 },
	{ "a ID (\"name\" \"mutt\" \"version\" NIL)\r\n", 0, FRONT_PARSE_OK, "a", "ID", 1,
	  { "(4)" }, 0, 0 },
	{ "a ID ()\r\n", 0, FRONT_PARSE_OK, "a", "ID", 1, { "(0)" }, 0, 0 },
	{ "a ID NIL\n", 0, FRONT_PARSE_OK, "a", "ID", 1, { "NIL" }, 0, 0 },
	{ "a AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n", 0, FRONT_PARSE_OK, "a",
	  "AUTHENTICATE", 2, { "PLAIN", "AGFsaWNlAHNlY3JldA==" }, 0, 0 },
	{ "a LOGIN \"\" \"\xc3\xa9t\xc3\xa9\"\r\n", 0, FRONT_PARSE_OK, "a", "LOGIN", 2,
	  { "", "\xc3\xa9t\xc3\xa9" }, 0, 0 },
	{ "a LOGIN u] p\r\n", 0, FRONT_PARSE_OK, "a", "LOGIN", 2, { "u]", "p" }, 0, 0 },
	{ "a NOOP\r\nb NOOP\r\n", 0, FRONT_PARSE_OK, "a", "NOOP", 0, { 0 }, 0, 8 },
	{ "\r\n", 0, FRONT_PARSE_BAD, "", "", 0, { 0 }, 0, 0 },
	{ "a1\r\n", 0, FRONT_PARSE_BAD, "a1", "", 0, { 0 }, 0, 0 },
	{ "a1  NOOP\r\n", 0, FRONT_PARSE_BAD, "a1", "", 0, { 0 }, 0, 0 },
	{ "+ LOGIN a b\r\n", 0, FRONT_PARSE_BAD, "", "", 0, { 0 }, 0, 0 },
	{ "a LOGIN (a (b))\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 0 },
	{ "a LOGIN \"abc\r\nb NOOP\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 14 },
	{ "a LOGIN \"a\\x\" b\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 0 },
	{ "a LOGIN a\0b c\r\n", 15, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 0 },
	{ "a LOGIN {3}\r\na\0b c\r\n", 20, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 1, 0 },
	{ "a LOGIN {3} x\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 0 },
	{ "a LOGIN a b \r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 0 },
	{ "a LOGIN a\rb\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0, { 0 }, 0, 0 },
	{ "a LOGIN {99999}\r\n", 0, FRONT_PARSE_TOO_LONG, "a", "LOGIN", 0, { 0 }, 0, 0 },
	/* A bad command's literals are its own octets, never commands: a line
	 * end inside a literal with a NUL, a non-synchronizing literal after
	 * the error (the client sends it without waiting). A synchronizing one
	 * ends the command: no "+" goes, the client does not send it. */
	{ "a LOGIN {13}\r\nx\0\nb LOGOUT\r\n c\r\n", 31, FRONT_PARSE_BAD, "a", "LOGIN", 0,
	  { 0 }, 0, 0 },
	{ "a LOGIN x\"y {10+}\r\nb LOGOUT\r\n\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0,
	  { 0 }, 0, 0 },
	{ "a LOGIN x\"y {2+}\r\n\r\n {10+}\r\nb LOGOUT\r\n\r\nc NOOP\r\n", 0, FRONT_PARSE_BAD,
	  "a", "LOGIN", 0, { 0 }, 0, 40 },
	{ "a LOGIN x\"y {10}\r\nb LOGOUT\r\n\r\n", 0, FRONT_PARSE_BAD, "a", "LOGIN", 0,
	  { 0 }, 0, 18 },
	{ "a LOGIN {12345678901+}\r\nb LOGOUT\r\n", 0, FRONT_PARSE_TOO_LONG, "a", "LOGIN", 0,
	  { 0 }, 0, 0 },
	{ "a LOGIN x\"y {99999+}\r\nb LOGOUT\r\n", 0, FRONT_PARSE_TOO_LONG, "a", "LOGIN", 0,
	  { 0 }, 0, 0 },
};

static void check_case(const struct pcase *c, const struct front_cmd *cmd,
    enum front_parse_result r, size_t consumed, size_t len)
{
	ck_assert_msg(r == c->res, "%s: result %d, wanted %d (%s)", c->in, r, c->res, cmd->error);
	if (r == FRONT_PARSE_OK || r == FRONT_PARSE_BAD)
		ck_assert_uint_eq(consumed, c->consumed ? c->consumed : len);
	if (r == FRONT_PARSE_TOO_LONG)
		return;
	ck_assert_str_eq(cmd->tag, c->tag);
	if (r != FRONT_PARSE_OK)
		return;
	ck_assert_str_eq(cmd->name, c->name);
	ck_assert_uint_eq(cmd->ntop, c->ntop);
	ck_assert_uint_eq(cmd->n_sync, c->n_sync);
	for (size_t i = 0; i < c->ntop; i++) {
		const struct front_arg *a = front_cmd_arg(cmd, i);
		ck_assert_ptr_nonnull(a);
		if (a->type == FRONT_ARG_LIST) {
			char n[16];
			snprintf(n, sizeof(n), "(%zu)", a->n);
			ck_assert_str_eq(n, c->args[i]);
		} else {
			ck_assert_str_eq(a->s, c->args[i]);
			ck_assert_uint_eq(a->len, strlen(c->args[i]));
		}
	}
}

START_TEST(parse_table)
{
	static struct front_cmd cmd;
	const struct pcase *c = &pcases[_i];
	size_t len = c->len ? c->len : strlen(c->in), consumed = 99;
	enum front_parse_result r = front_parse(c->in, len, &cmd, &consumed);
	check_case(c, &cmd, r, consumed, len);
}
END_TEST

/* Every prefix of an input gives MORE (never a different verdict), with as
 * many "+" as the literals announced so far; the whole gives the verdict. */
START_TEST(parse_split_everywhere)
{
	static struct front_cmd cmd;
	const struct pcase *c = &pcases[_i];
	size_t len = c->len ? c->len : strlen(c->in), consumed;
	enum front_parse_result whole = front_parse(c->in, len, &cmd, &consumed);
	size_t end = whole == FRONT_PARSE_OK || whole == FRONT_PARSE_BAD ? consumed : len;
	size_t sync = 0;
	for (size_t k = 0; k < end; k++) {
		size_t used = 99;
		enum front_parse_result r = front_parse(c->in, k, &cmd, &used);
		if (whole == FRONT_PARSE_TOO_LONG && r == FRONT_PARSE_TOO_LONG)
			break;
		ck_assert_msg(r == FRONT_PARSE_MORE, "%s: prefix %zu: %d", c->in, k, r);
		ck_assert_uint_eq(used, 0);
		ck_assert_uint_ge(cmd.n_sync, sync);
		ck_assert_uint_gt(cmd.need, k);
		sync = cmd.n_sync;
	}
	enum front_parse_result r = front_parse(c->in, len, &cmd, &consumed);
	check_case(c, &cmd, r, consumed, len);
}
END_TEST

START_TEST(parse_bounds)
{
	static struct front_cmd cmd;
	static char big[FRONT_CMD_MAX + 64];
	size_t used;
	/* A line without an end: MORE until the bound, then TOO_LONG. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "a LOGIN ", 8);
	ck_assert_int_eq(front_parse(big, FRONT_CMD_MAX - 1, &cmd, &used), FRONT_PARSE_MORE);
	ck_assert_int_eq(front_parse(big, FRONT_CMD_MAX, &cmd, &used), FRONT_PARSE_TOO_LONG);
	ck_assert_int_eq(front_parse(big, sizeof(big), &cmd, &used), FRONT_PARSE_TOO_LONG);
	/* A literal that would end past the bound. */
	int n = snprintf(big, sizeof(big), "a LOGIN {%d}\r\n", FRONT_LITERAL_MAX);
	ck_assert_int_eq(front_parse(big, (size_t)n, &cmd, &used), FRONT_PARSE_MORE);
	ck_assert_uint_eq(cmd.n_sync, 1);
	ck_assert_uint_eq(cmd.need, (size_t)n + FRONT_LITERAL_MAX);
	n = snprintf(big, sizeof(big), "a LOGIN {%d}\r\n", FRONT_LITERAL_MAX + 1);
	ck_assert_int_eq(front_parse(big, (size_t)n, &cmd, &used), FRONT_PARSE_TOO_LONG);
	/* Too many arguments. */
	size_t o = (size_t)snprintf(big, sizeof(big), "a ID (");
	for (int i = 0; i < FRONT_ARGS_MAX; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "%sx", i ? " " : "");
	o += (size_t)snprintf(big + o, sizeof(big) - o, ")\r\n");
	ck_assert_int_eq(front_parse(big, o, &cmd, &used), FRONT_PARSE_TOO_LONG);
	/* A bad line longer than the bound: TOO_LONG, not a wait for ever. */
	memset(big, 'b', sizeof(big));
	memcpy(big, "a LOGIN \"x\\y", 12);
	ck_assert_int_eq(front_parse(big, sizeof(big), &cmd, &used), FRONT_PARSE_TOO_LONG);
	front_cmd_wipe(&cmd);
}
END_TEST

/* ---- the relay --------------------------------------------------------------- */

struct relay_run {
	struct imap_conn client, upstream;
	struct front_relay r;
	enum front_relay_end end;
	pthread_t t;
	int app_client, app_upstream;  /* the test's ends */
	int checks;
	int stop_after;
};

static void *relay_main(void *arg)
{
	struct relay_run *rr = arg;
	rr->end = front_relay_run(&rr->r);
	return NULL;
}

static int check_cb(void *arg)
{
	struct relay_run *rr = arg;
	return ++rr->checks >= rr->stop_after;
}

static void relay_start(struct relay_run *rr, unsigned idle_ms, const char *cfirst,
    const char *ufirst)
{
	int a[2], b[2];
	memset(rr, 0, sizeof(*rr));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	rr->app_client = a[0];
	rr->app_upstream = b[0];
	imap_conn_adopt(&rr->client, a[1], 5);
	imap_conn_adopt(&rr->upstream, b[1], 5);
	rr->r.client = &rr->client;
	rr->r.upstream = &rr->upstream;
	rr->r.idle_ms = idle_ms;
	rr->r.client_first = cfirst;
	rr->r.client_first_len = cfirst ? strlen(cfirst) : 0;
	rr->r.upstream_first = ufirst;
	rr->r.upstream_first_len = ufirst ? strlen(ufirst) : 0;
	rr->stop_after = 1 << 30;
}

static void relay_go(struct relay_run *rr)
{
	ck_assert_int_eq(pthread_create(&rr->t, NULL, relay_main, rr), 0);
}

static enum front_relay_end relay_join(struct relay_run *rr)
{
	pthread_join(rr->t, NULL);
	imap_conn_close(&rr->client);
	imap_conn_close(&rr->upstream);
	return rr->end;
}

/* Read exactly n octets from fd within 20 s. */
static void read_exact(int fd, char *buf, size_t n)
{
	size_t got = 0;
	while (got < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		ck_assert_msg(poll(&p, 1, 20000) == 1, "read timed out at %zu of %zu", got, n);
		ssize_t r = read(fd, buf + got, n - got);
		ck_assert_msg(r > 0, "read: %zd at %zu of %zu", r, got, n);
		got += (size_t)r;
	}
}

static void write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		ck_assert_msg(w > 0, "write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

struct writer {
	int fd;
	size_t n;
	unsigned seed;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char buf[8192];
	size_t sent = 0;
	while (sent < w->n) {
		size_t k = w->n - sent < sizeof(buf) ? w->n - sent : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = (char)((sent + i) * 31 + w->seed);
		write_all(w->fd, buf, k);
		sent += k;
	}
	return NULL;
}

static void read_pattern(int fd, size_t n, unsigned seed)
{
	char buf[8192];
	size_t got = 0;
	while (got < n) {
		size_t k = n - got < sizeof(buf) ? n - got : sizeof(buf);
		read_exact(fd, buf, k);
		for (size_t i = 0; i < k; i++)
			ck_assert_msg(buf[i] == (char)((got + i) * 31 + seed), "octet %zu differs",
			    got + i);
		got += k;
	}
}

START_TEST(relay_both_ways)
{
	struct relay_run rr;
	char buf[64];
	relay_start(&rr, 20000, "b SELECT INBOX\r\n", "* 3 EXISTS\r\n");
	relay_go(&rr);
	read_exact(rr.app_upstream, buf, 16);
	ck_assert(memcmp(buf, "b SELECT INBOX\r\n", 16) == 0);
	read_exact(rr.app_client, buf, 12);
	ck_assert(memcmp(buf, "* 3 EXISTS\r\n", 12) == 0);
	/* 6 MB each way at once. */
	struct writer wc = { rr.app_client, 6u << 20, 7 }, wu = { rr.app_upstream, 6u << 20, 11 };
	pthread_t tc, tu;
	pthread_create(&tc, NULL, writer_main, &wc);
	pthread_create(&tu, NULL, writer_main, &wu);
	read_pattern(rr.app_upstream, wc.n, wc.seed);
	read_pattern(rr.app_client, wu.n, wu.seed);
	pthread_join(tc, NULL);
	pthread_join(tu, NULL);
	/* The client closes after LOGOUT: the server gets the LOGOUT first. */
	write_all(rr.app_client, "c LOGOUT\r\n", 10);
	shutdown(rr.app_client, SHUT_WR);
	read_exact(rr.app_upstream, buf, 10);
	ck_assert(memcmp(buf, "c LOGOUT\r\n", 10) == 0);
	ck_assert_int_eq(relay_join(&rr), FRONT_RELAY_CLIENT_CLOSED);
	ck_assert_uint_eq(rr.r.bytes_in, 16 + (6u << 20) + 10);
	ck_assert_uint_eq(rr.r.bytes_out, 12 + (6u << 20));
	close(rr.app_client);
	close(rr.app_upstream);
}
END_TEST

/* The client reads nothing for a while (a large FETCH waits in the relay's
 * and the sockets' buffers): its commands still reach the server. */
START_TEST(relay_stalled_direction)
{
	struct relay_run rr;
	char buf[32];
	relay_start(&rr, 20000, NULL, NULL);
	relay_go(&rr);
	struct writer wu = { rr.app_upstream, 8u << 20, 3 };
	pthread_t tu;
	pthread_create(&tu, NULL, writer_main, &wu);
	struct timespec ts = { 0, 300 * 1000000L };
	nanosleep(&ts, NULL);
	for (int i = 0; i < 50; i++) {
		write_all(rr.app_client, "d NOOP\r\n", 8);
		read_exact(rr.app_upstream, buf, 8);
		ck_assert(memcmp(buf, "d NOOP\r\n", 8) == 0);
	}
	read_pattern(rr.app_client, wu.n, wu.seed);
	pthread_join(tu, NULL);
	/* The server closes after its last octets: the client gets them all. */
	write_all(rr.app_upstream, "* BYE\r\n", 7);
	close(rr.app_upstream);
	read_exact(rr.app_client, buf, 7);
	ck_assert(memcmp(buf, "* BYE\r\n", 7) == 0);
	ck_assert_int_eq(relay_join(&rr), FRONT_RELAY_SERVER_CLOSED);
	close(rr.app_client);
}
END_TEST

/* CPU time of thread t so far, in ms. */
static uint64_t thread_cpu_ms(pthread_t t)
{
	clockid_t cid;
	struct timespec ts;
	ck_assert_int_eq(pthread_getcpuclockid(t, &cid), 0);
	ck_assert_int_eq(clock_gettime(cid, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Fill fd's way until it would block: the octets written. */
static size_t fill_until_blocked(int fd, char c)
{
	char buf[8192];
	size_t n = 0;
	memset(buf, c, sizeof(buf));
	for (;;) {
		ssize_t w = send(fd, buf, sizeof(buf), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			ck_assert_msg(errno == EAGAIN || errno == EWOULDBLOCK, "send: %s",
			    strerror(errno));
			return n;
		}
		n += (size_t)w;
	}
}

/* One side has closed (its descriptor reports POLLHUP, which poll() reports
 * whatever was asked) while the relay holds octets for the other, which
 * reads nothing for a while: the relay waits for that reader without
 * spinning, then delivers everything and ends. Both directions. */
START_TEST(relay_closed_side_no_spin)
{
	for (int dir = 0; dir < 2; dir++) {
		struct relay_run rr;
		relay_start(&rr, 20000, NULL, NULL);
		relay_go(&rr);
		int src = dir == 0 ? rr.app_upstream : rr.app_client;
		int dst = dir == 0 ? rr.app_client : rr.app_upstream;
		/* Fill the relay's buffer and the sockets behind it, then close. */
		size_t n = 0;
		for (int i = 0; i < 5; i++) {
			n += fill_until_blocked(src, 'x');
			struct timespec ts = { 0, 100 * 1000000L };
			nanosleep(&ts, NULL);
		}
		ck_assert_uint_gt(n, FRONT_RELAY_BUF);
		close(src);
		uint64_t c0 = thread_cpu_ms(rr.t);
		struct timespec ts = { 1, 0 };
		nanosleep(&ts, NULL);
		uint64_t used = thread_cpu_ms(rr.t) - c0;
		ck_assert_msg(used < 200, "direction %d: the relay used %llu ms of CPU in 1 s while "
		    "waiting", dir, (unsigned long long)used);
		char *buf = malloc(n);
		ck_assert_ptr_nonnull(buf);
		read_exact(dst, buf, n);
		free(buf);
		ck_assert_int_eq(relay_join(&rr), dir == 0 ? FRONT_RELAY_SERVER_CLOSED :
		    FRONT_RELAY_CLIENT_CLOSED);
		close(dst);
	}
}
END_TEST

START_TEST(relay_idle_and_check)
{
	struct relay_run rr;
	relay_start(&rr, 400, NULL, NULL);
	uint64_t t0 = base_clock_ms(NULL);
	relay_go(&rr);
	ck_assert_int_eq(relay_join(&rr), FRONT_RELAY_IDLE);
	uint64_t dt = base_clock_ms(NULL) - t0;
	ck_assert_msg(dt >= 400 && dt < 3000, "idle after %llu ms", (unsigned long long)dt);
	close(rr.app_client);
	close(rr.app_upstream);

	/* Traffic keeps it alive; the check ends it at its third call. */
	relay_start(&rr, 400, NULL, NULL);
	rr.r.check = check_cb;
	rr.r.check_arg = &rr;
	rr.r.check_ms = 250;
	rr.stop_after = 3;
	relay_go(&rr);
	for (int i = 0; i < 3; i++) {
		char buf[8];
		struct timespec ts = { 0, 200 * 1000000L };
		nanosleep(&ts, NULL);
		write_all(rr.app_client, "e NOOP\r\n", 8);
		read_exact(rr.app_upstream, buf, 8);
	}
	ck_assert_int_eq(relay_join(&rr), FRONT_RELAY_CHECK);
	ck_assert_int_eq(rr.checks, 3);
	close(rr.app_client);
	close(rr.app_upstream);
}
END_TEST

/* ---- the pre-login engine ------------------------------------------------------ */

struct eng {
	struct config_options opt;
	struct maildrop_ctx ctx;
	struct front_config cfg;
	struct front_stats st;
	pthread_t t;
	int fd;                        /* the test's end */
	int srv_fd;                    /* the engine's */
	char in[16384];
	size_t inlen;
};

static void *eng_main(void *arg)
{
	struct eng *e = arg;
	front_session_run(e->srv_fd, &e->cfg, &e->st);
	return NULL;
}

static void eng_start(struct eng *e, bool plaintext_ok, unsigned login_s)
{
	int sv[2];
	char err[PB_ERR_MAX];
	memset(e, 0, sizeof(*e));
	config_options_init(&e->opt);
	/* An upstream nobody listens on: port 1 on loopback refuses at once. */
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_UPSTREAM, "imap://127.0.0.1:1", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_UPSTREAM_TLS, "none", err,
	    sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_STATE, bt_write_file("s.db", ""),
	    err, sizeof(err)), 0);
	unlink(e->opt.state);
	maildrop_ctx_init(&e->ctx);
	e->ctx.opt = &e->opt;
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	e->fd = sv[0];
	e->cfg.ctx = &e->ctx;
	e->cfg.opt = &e->opt;
	e->cfg.plaintext_auth_allowed = plaintext_ok;
	e->cfg.remote_addr = "192.0.2.7";
	e->srv_fd = sv[1];
	e->cfg.login_deadline_ms = base_clock_ms(NULL) + login_s * 1000u;
	ck_assert_int_eq(pthread_create(&e->t, NULL, eng_main, e), 0);
}

static void eng_end(struct eng *e)
{
	pthread_join(e->t, NULL);
	close(e->fd);
	maildrop_ctx_free(&e->ctx);
	config_options_free(&e->opt);
}

static void say(struct eng *e, const char *s)
{
	write_all(e->fd, s, strlen(s));
}

/* The next line from the engine, without CRLF (static buffer), or NULL at
 * the end of the stream. */
static const char *line(struct eng *e)
{
	static char out[16384];
	for (;;) {
		char *lf = memchr(e->in, '\n', e->inlen);
		if (lf) {
			size_t n = (size_t)(lf - e->in);
			ck_assert_msg(n > 0 && e->in[n - 1] == '\r', "a line without CRLF");
			memcpy(out, e->in, n - 1);
			out[n - 1] = '\0';
			memmove(e->in, lf + 1, e->inlen - n - 1);
			e->inlen -= n + 1;
			return out;
		}
		struct pollfd p = { e->fd, POLLIN, 0 };
		ck_assert_msg(poll(&p, 1, 20000) == 1, "no line within 20 s");
		ssize_t r = read(e->fd, e->in + e->inlen, sizeof(e->in) - e->inlen);
		if (r <= 0) {
			ck_assert_uint_eq(e->inlen, 0);
			return NULL;
		}
		e->inlen += (size_t)r;
	}
}

static void expect(struct eng *e, const char *want)
{
	const char *l = line(e);
	ck_assert_msg(l != NULL, "end of stream; wanted %s", want);
	ck_assert_str_eq(l, want);
}

static void expect_prefix(struct eng *e, const char *want)
{
	const char *l = line(e);
	ck_assert_msg(l != NULL, "end of stream; wanted %s...", want);
	ck_assert_msg(strncmp(l, want, strlen(want)) == 0, "got %s, wanted %s...", l, want);
}

START_TEST(engine_transcript)
{
	struct eng e;
	eng_start(&e, false, 30);
	expect(&e, "* OK [CAPABILITY IMAP4rev1 SASL-IR ID LOGINDISABLED] popbridge ready.");
	say(&e, "a1 CAPABILITY\r\n");
	expect(&e, "* CAPABILITY IMAP4rev1 SASL-IR ID LOGINDISABLED");
	expect(&e, "a1 OK CAPABILITY completed.");
	say(&e, "a2 noop\r\na3 ID (\"name\" \"test\")\r\n");
	expect(&e, "a2 OK NOOP completed.");
	expect_prefix(&e, "* ID (\"name\" \"popbridge\" \"version\" ");
	expect(&e, "a3 OK ID completed.");
	say(&e, "a4 LOGIN alice secret\r\n");
	expect(&e, "a4 NO [PRIVACYREQUIRED] Plaintext login is not allowed without TLS.");
	say(&e, "a5 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");
	expect(&e, "a5 NO [PRIVACYREQUIRED] Plaintext authentication is not allowed without TLS.");
	say(&e, "a6 STARTTLS\r\n");
	expect(&e, "a6 BAD STARTTLS is not available.");
	say(&e, "a7 SELECT INBOX\r\n");
	expect(&e, "a7 BAD Unknown command, or not before login.");
	say(&e, "a8 NOOP extra\r\n");
	expect(&e, "a8 BAD This command takes no arguments.");
	say(&e, "\r\n");
	expect(&e, "* BAD Bad tag.");
	say(&e, "a9 LOGOUT\r\n");
	expect(&e, "* BYE Logging out.");
	expect(&e, "a9 OK LOGOUT completed.");
	ck_assert_ptr_null(line(&e));
	eng_end(&e);
	ck_assert_str_eq(e.st.result, "logout");
	ck_assert_uint_eq(e.st.auth_failures, 0);
	ck_assert(!e.st.identified);
}
END_TEST

/* A literal gets its "+", and the login goes to the (unreachable) upstream:
 * NO [UNAVAILABLE], not a failed login. */
START_TEST(engine_literal_and_unavailable)
{
	struct eng e;
	eng_start(&e, true, 30);
	expect(&e, "* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN] popbridge ready.");
	say(&e, "b1 LOGIN {5}\r\n");
	expect(&e, "+ Ready for literal data.");
	say(&e, "alice {6}\r\n");
	expect(&e, "+ Ready for literal data.");
	say(&e, "secret\r\n");
	expect_prefix(&e, "b1 NO [UNAVAILABLE] Mail server unavailable, try again later");
	say(&e, "b2 AUTHENTICATE PLAIN\r\n");
	expect(&e, "+ ");
	say(&e, "*\r\n");
	expect(&e, "b2 BAD Authentication cancelled.");
	say(&e, "b3 AUTHENTICATE PLAIN\r\n");
	expect(&e, "+ ");
	say(&e, "not base64!\r\n");
	expect(&e, "b3 BAD Malformed PLAIN response.");
	say(&e, "b4 AUTHENTICATE PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n");  /* bob\0alice\0secret */
	expect(&e, "b4 NO [AUTHORIZATIONFAILED] Logging in as another user is not supported.");
	/* pop3/sasl.h's PLAIN: no second NUL, an empty authcid, a third NUL,
	 * and base64 that is not the one encoding of its octets (RFC 4648
	 * §3.5: the unused bits of "B==" are not zero) */
	static const char *malformed[] = { "YWxpY2U=", "AABzZWNyZXQ=", "AGFsaWNlAHNlAGNyZXQ=",
		"AGFsaWNlAHNlY3JldB==" };
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "m%zu AUTHENTICATE PLAIN %s\r\n", i, malformed[i]);
		say(&e, cmd);
		snprintf(cmd, sizeof(cmd), "m%zu BAD Malformed PLAIN response.", i);
		expect(&e, cmd);
	}
	say(&e, "b5 AUTHENTICATE CRAM-MD5\r\n");
	expect(&e, "b5 NO Unsupported authentication mechanism.");
	say(&e, "b6 LOGIN bad\001name x\r\n");
	expect(&e, "b6 BAD Bad argument.");
	shutdown(e.fd, SHUT_WR);
	ck_assert_ptr_null(line(&e));
	eng_end(&e);
	ck_assert_str_eq(e.st.result, "dropped");
	ck_assert_uint_eq(e.st.auth_failures, 0);
	ck_assert_str_eq(e.st.mech, "LOGIN");
}
END_TEST

/* The user name rule of SPEC §2 (bridge/base/username.h) is the shared
 * device login's, as for POP3: a device name outside A-Z a-z 0-9 . _ - + @
 * is a failed login before any upstream contact (the upstream here refuses
 * every connection: a name that passed would get UNAVAILABLE), the name's
 * bytes are not echoed, and a valid device name is folded to lower case. */
START_TEST(engine_user_names)
{
	struct eng e;
	eng_start(&e, true, 30);
	line(&e);
	say(&e, "u1 LOGIN office#bad/dev secret\r\n");
	expect(&e, "u1 NO [AUTHENTICATIONFAILED] Invalid user name: device name must be 1 to 64 "
	    "of A-Z a-z 0-9 . _ - + @");
	say(&e, "u2 AUTHENTICATE PLAIN AG9mZmljZSNkZXYgaWNlAHNlY3JldA==\r\n");  /* office#dev ice */
	expect(&e, "u2 NO [AUTHENTICATIONFAILED] Invalid user name: device name must be 1 to 64 "
	    "of A-Z a-z 0-9 . _ - + @");
	say(&e, "u3 LOGIN office#PC.1 secret\r\n");
	expect_prefix(&e, "u3 NO [UNAVAILABLE] ");
	say(&e, "u4 LOGOUT\r\n");
	expect(&e, "* BYE Logging out.");
	expect(&e, "u4 OK LOGOUT completed.");
	ck_assert_ptr_null(line(&e));
	eng_end(&e);
	ck_assert_uint_eq(e.st.auth_failures, 2);
	ck_assert_str_eq(e.st.account, "office");
	ck_assert_str_eq(e.st.device, "pc.1");
}
END_TEST

START_TEST(engine_limits)
{
	struct eng e;
	/* FRONT_BAD_MAX bad commands end the session. */
	eng_start(&e, true, 30);
	line(&e);
	for (int i = 1; i <= FRONT_BAD_MAX; i++) {
		char c[32];
		snprintf(c, sizeof(c), "c%d FROB\r\n", i);
		say(&e, c);
		expect_prefix(&e, "c");
	}
	expect(&e, "* BYE Too many bad commands.");
	ck_assert_ptr_null(line(&e));
	eng_end(&e);
	ck_assert_str_eq(e.st.result, "too-many-errors");

	/* An overlong command. */
	eng_start(&e, true, 30);
	line(&e);
	static char big[FRONT_CMD_MAX + 16];
	memset(big, 'x', sizeof(big));
	memcpy(big, "d1 LOGIN ", 9);
	write_all(e.fd, big, sizeof(big));
	expect(&e, "* BYE Command too long.");
	ck_assert_ptr_null(line(&e));
	eng_end(&e);
	ck_assert_str_eq(e.st.result, "line-too-long");

	/* The login deadline, whatever the client does meanwhile. */
	eng_start(&e, true, 1);
	line(&e);
	say(&e, "e1 NOOP\r\n");
	expect(&e, "e1 OK NOOP completed.");
	say(&e, "e2 LOGIN {5}\r\n");
	expect(&e, "+ Ready for literal data.");
	expect(&e, "* BYE Login timeout.");
	ck_assert_ptr_null(line(&e));
	eng_end(&e);
	ck_assert_str_eq(e.st.result, "timeout");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("front");
	TCase *tc = tcase_create("parse");
	tcase_add_loop_test(tc, parse_table, 0, (int)(sizeof(pcases) / sizeof(pcases[0])));
	tcase_add_loop_test(tc, parse_split_everywhere, 0,
	    (int)(sizeof(pcases) / sizeof(pcases[0])));
	tcase_add_test(tc, parse_bounds);
	suite_add_tcase(s, tc);
	tc = tcase_create("relay");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, relay_both_ways);
	tcase_add_test(tc, relay_stalled_direction);
	tcase_add_test(tc, relay_idle_and_check);
	tcase_add_test(tc, relay_closed_side_no_spin);
	suite_add_tcase(s, tc);
	tc = tcase_create("engine");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, engine_transcript);
	tcase_add_test(tc, engine_literal_and_unavailable);
	tcase_add_test(tc, engine_user_names);
	tcase_add_test(tc, engine_limits);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return bt_run_suite(suite());
}
