/* tests/bridge/check_metrics.c — `serve --metrics-listen` (SPEC §14) without
 * a mail server: the process's counters (bridge/base/stats.h), the exact
 * Prometheus text of given values (bridge/serve/metrics.h), that every label
 * value is a fixed word needing no escaping, and the endpoint itself on a
 * loopback port: /metrics, 404 elsewhere, 405 for other methods, the service
 * gauges left out until it is ready, the state gauges read once per
 * SERVE_METRICS_CACHE_S and a failing one left out. */
#include <check.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/base/metrics.h"
#include "bridge/base/stats.h"
#include "bridge/config/options.h"
#include "bridge/serve/metrics.h"
#include "tests/bridge/bt.h"
#include "tests/lib/net.h"
#include "tests/lib/testutil.h"

/* ---- the counters ----------------------------------------------------------------------- */

START_TEST(stats_count)
{
	struct base_stats a, b;

	base_stats_read(&a);
	base_stats_session_open(BASE_PROTO_POP3);
	base_stats_session_open(BASE_PROTO_POP3);
	base_stats_session_open(BASE_PROTO_IMAP);
	base_stats_session_end(BASE_PROTO_POP3, BASE_END_DROPPED);
	base_stats_connection_end(BASE_CONN_HEALTH_CHECK);
	base_stats_logins_failed(BASE_PROTO_SMTP, 3);
	base_stats_bytes_sent(BASE_PROTO_IMAP, 1000);
	base_stats_messages(4, 2);
	base_stats_login_delay_refused();
	base_stats_upstream_unpooled(1);
	base_stats_upstream_unpooled(1);
	base_stats_upstream_unpooled(-1);
	base_stats_oauth2_refresh(BASE_OAUTH2_REFUSED);
	/* out of range: ignored */
	base_stats_session_open(BASE_PROTO_N);
	base_stats_session_end(BASE_PROTO_POP3, BASE_END_N);
	base_stats_connection_end(BASE_CONN_N);
	base_stats_upstream_login(BASE_UP_N, 1);
	base_stats_oauth2_refresh(BASE_OAUTH2_N);
	base_stats_read(&b);
	ck_assert_uint_eq(b.open[BASE_PROTO_POP3] - a.open[BASE_PROTO_POP3], 1);
	ck_assert_uint_eq(b.open[BASE_PROTO_IMAP] - a.open[BASE_PROTO_IMAP], 1);
	ck_assert_uint_eq(b.sessions[BASE_PROTO_POP3][BASE_END_DROPPED] -
	    a.sessions[BASE_PROTO_POP3][BASE_END_DROPPED], 1);
	ck_assert_uint_eq(b.sessions[BASE_PROTO_POP3][BASE_END_OK],
	    a.sessions[BASE_PROTO_POP3][BASE_END_OK]);
	ck_assert_uint_eq(b.connections[BASE_CONN_HEALTH_CHECK] -
	    a.connections[BASE_CONN_HEALTH_CHECK], 1);
	ck_assert_uint_eq(b.logins_failed[BASE_PROTO_SMTP] - a.logins_failed[BASE_PROTO_SMTP], 3);
	ck_assert_uint_eq(b.bytes_sent[BASE_PROTO_IMAP] - a.bytes_sent[BASE_PROTO_IMAP], 1000);
	ck_assert_uint_eq(b.retrieved - a.retrieved, 4);
	ck_assert_uint_eq(b.deleted - a.deleted, 2);
	ck_assert_uint_eq(b.login_delay_refusals - a.login_delay_refusals, 1);
	ck_assert_uint_eq(b.upstream_unpooled - a.upstream_unpooled, 1);
	ck_assert_uint_eq(b.oauth2_refresh[BASE_OAUTH2_REFUSED] -
	    a.oauth2_refresh[BASE_OAUTH2_REFUSED], 1);
	ck_assert_uint_eq(b.oauth2_refresh[BASE_OAUTH2_OK], a.oauth2_refresh[BASE_OAUTH2_OK]);
}
END_TEST

/* Each duration lands in the first bucket whose bound is >= it (le). */
START_TEST(stats_histogram)
{
	static const struct { uint64_t ms; int bucket; } cases[] = {
		{ 0, 0 }, { 5, 0 }, { 6, 1 }, { 10, 1 }, { 11, 2 }, { 999, 7 }, { 1000, 7 },
		{ 1001, 8 }, { 30000, 11 }, { 30001, 12 }, { 86400000, 12 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct base_stats a, b;
		base_stats_read(&a);
		base_stats_upstream_login(BASE_UP_NEW, cases[i].ms);
		base_stats_read(&b);
		for (int k = 0; k <= BASE_STATS_LOGIN_BUCKETS; k++)
			ck_assert_msg(b.login_buckets[k] - a.login_buckets[k] ==
			    (k == cases[i].bucket ? 1u : 0u), "%llu ms: bucket %d",
			    (unsigned long long)cases[i].ms, k);
		ck_assert_uint_eq(b.login_ms_sum - a.login_ms_sum, cases[i].ms);
		ck_assert_uint_eq(b.upstream_logins[BASE_UP_NEW] - a.upstream_logins[BASE_UP_NEW], 1);
	}
	/* only new logins are timed */
	struct base_stats a, b;
	base_stats_read(&a);
	base_stats_upstream_login(BASE_UP_REUSED, 7);
	base_stats_upstream_login(BASE_UP_REFUSED, 7);
	base_stats_upstream_login(BASE_UP_FAILED, 7);
	base_stats_read(&b);
	ck_assert_uint_eq(b.login_ms_sum, a.login_ms_sum);
	ck_assert_uint_eq(b.login_buckets[1], a.login_buckets[1]);
	for (int r = BASE_UP_REUSED; r <= BASE_UP_FAILED; r++)
		ck_assert_uint_eq(b.upstream_logins[r] - a.upstream_logins[r], 1);
}
END_TEST

START_TEST(seconds_text)
{
	static const struct { uint64_t ms; const char *s; } cases[] = {
		{ 0, "0" }, { 5, "0.005" }, { 10, "0.01" }, { 250, "0.25" }, { 1000, "1" },
		{ 2500, "2.5" }, { 30000, "30" }, { 1234567, "1234.567" },
		{ 18446744073709551615ULL, "18446744073709551.615" },
	};
	char buf[BASE_METRICS_NUM_MAX];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_str_eq(base_metrics_ms_as_s(cases[i].ms, buf), cases[i].s);
}
END_TEST

/* Every label value is a word of [a-z0-9_.+] (the le bounds, "+Inf" aside):
 * nothing the text format would have to escape, nothing from a client. */
static void word(const char *w)
{
	ck_assert_ptr_nonnull(w);
	ck_assert_uint_gt(strlen(w), 0);
	ck_assert_msg(strspn(w, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(w),
	    "label value '%s'", w);
}

START_TEST(labels_fixed)
{
	for (int p = 0; p < BASE_PROTO_N; p++) {
		word(base_proto_name((enum base_proto)p));
		ck_assert_int_eq(base_proto_lookup(base_proto_name((enum base_proto)p)), p);
	}
	ck_assert_int_eq(base_proto_lookup("POP3"), BASE_PROTO_N);
	ck_assert_int_eq(base_proto_lookup(NULL), BASE_PROTO_N);
	for (int e = 0; e < BASE_END_N; e++)
		word(base_session_end_name((enum base_session_end)e));
	for (int e = 0; e < BASE_CONN_N; e++)
		word(base_conn_end_name((enum base_conn_end)e));
	for (int r = 0; r < BASE_UP_N; r++)
		word(base_upstream_login_name((enum base_upstream_login)r));
	for (int r = 0; r < BASE_OAUTH2_N; r++)
		word(base_oauth2_refresh_name((enum base_oauth2_refresh)r));
	ck_assert_ptr_null(base_proto_name(BASE_PROTO_N));
	ck_assert_ptr_null(base_session_end_name(BASE_END_N));
	ck_assert_ptr_null(base_conn_end_name(BASE_CONN_N));
	ck_assert_ptr_null(base_upstream_login_name(BASE_UP_N));
	ck_assert_ptr_null(base_oauth2_refresh_name(BASE_OAUTH2_N));
	char buf[BASE_METRICS_NUM_MAX];
	for (int i = 0; i < BASE_STATS_LOGIN_BUCKETS; i++) {
		const char *s = base_metrics_ms_as_s(base_stats_login_bucket_ms[i], buf);
		ck_assert_msg(strspn(s, "0123456789.") == strlen(s), "le '%s'", s);
		if (i > 0)
			ck_assert_uint_gt(base_stats_login_bucket_ms[i], base_stats_login_bucket_ms[i - 1]);
	}
}
END_TEST

/* ---- the text -------------------------------------------------------------------------- */

/* Values with a distinct number in every series. */
static void sample_values(struct serve_metrics_values *v)
{
	memset(v, 0, sizeof(*v));
	v->version = "9.8.7";
	v->start_time = 1796204933;
	v->protocols = 1u << BASE_PROTO_POP3 | 1u << BASE_PROTO_IMAP;
	uint64_t n = 1;
	for (int p = 0; p < BASE_PROTO_N; p++)
		for (int e = 0; e < BASE_END_N; e++)
			v->s.sessions[p][e] = n++;
	for (int e = 0; e < BASE_CONN_N; e++)
		v->s.connections[e] = 100 + (uint64_t)e;
	for (int p = 0; p < BASE_PROTO_N; p++) {
		v->s.open[p] = 200 + (uint64_t)p;
		v->s.logins_failed[p] = 210 + (uint64_t)p;
		v->s.bytes_sent[p] = 18446744073709551615ULL - (uint64_t)p;
	}
	v->s.login_delay_refusals = 220;
	v->s.retrieved = 221;
	v->s.deleted = 222;
	for (int r = 0; r < BASE_UP_N; r++)
		v->s.upstream_logins[r] = 230 + (uint64_t)r;
	for (int i = 0; i <= BASE_STATS_LOGIN_BUCKETS; i++)
		v->s.login_buckets[i] = (uint64_t)i % 3;   /* 0 1 2 0 1 2 ... */
	v->s.login_ms_sum = 12345;
	v->s.upstream_unpooled = 7;
	for (int r = 0; r < BASE_OAUTH2_N; r++)
		v->s.oauth2_refresh[r] = 240 + (uint64_t)r;
	v->now.ready = true;
	v->now.prelogin = 250;
	v->now.sessions_max = 500;
	v->now.pool_busy = 3;
	v->now.pool_kept = 251;
	v->n_gauges = 2;
	v->gauges[0].name = "popbridge_journal_pending";
	v->gauges[0].help = "unfinished";
	v->gauges[0].value = 260;
	v->gauges[1].name = "popbridge_journal_stuck";
	v->gauges[1].help = "stuck";
	v->gauges[1].value = 261;
}

/* What sample_values() renders: every family, in this order. busy is the
 * pool's 3 and the 7 unpooled; the histogram's buckets are cumulative. */
static const char want_text[] =
	"# HELP popbridge_build_info the running popbridge's version; the value is "
	    "always 1\n"
	"# TYPE popbridge_build_info gauge\n"
	"popbridge_build_info{version=\"9.8.7\"} 1\n"
	"# HELP popbridge_start_time_seconds when this popbridge serve started, in "
	    "seconds since 1970\n"
	"# TYPE popbridge_start_time_seconds gauge\n"
	"popbridge_start_time_seconds 1796204933\n"
	"# HELP popbridge_sessions_total sessions that logged in, by protocol and by how "
	    "they ended\n"
	"# TYPE popbridge_sessions_total counter\n"
	"popbridge_sessions_total{protocol=\"pop3\",result=\"ok\"} 1\n"
	"popbridge_sessions_total{protocol=\"pop3\",result=\"dropped\"} 2\n"
	"popbridge_sessions_total{protocol=\"pop3\",result=\"timeout\"} 3\n"
	"popbridge_sessions_total{protocol=\"pop3\",result=\"revoked\"} 4\n"
	"popbridge_sessions_total{protocol=\"pop3\",result=\"client_error\"} 5\n"
	"popbridge_sessions_total{protocol=\"pop3\",result=\"failed\"} 6\n"
	"popbridge_sessions_total{protocol=\"imap\",result=\"ok\"} 7\n"
	"popbridge_sessions_total{protocol=\"imap\",result=\"dropped\"} 8\n"
	"popbridge_sessions_total{protocol=\"imap\",result=\"timeout\"} 9\n"
	"popbridge_sessions_total{protocol=\"imap\",result=\"revoked\"} 10\n"
	"popbridge_sessions_total{protocol=\"imap\",result=\"client_error\"} 11\n"
	"popbridge_sessions_total{protocol=\"imap\",result=\"failed\"} 12\n"
	"# HELP popbridge_connections_total connections that never logged in, by how "
	    "they ended (every protocol)\n"
	"# TYPE popbridge_connections_total counter\n"
	"popbridge_connections_total{result=\"quit\"} 100\n"
	"popbridge_connections_total{result=\"health_check\"} 101\n"
	"popbridge_connections_total{result=\"auth_failed\"} 102\n"
	"popbridge_connections_total{result=\"dropped\"} 103\n"
	"popbridge_connections_total{result=\"timeout\"} 104\n"
	"popbridge_connections_total{result=\"client_error\"} 105\n"
	"popbridge_connections_total{result=\"failed\"} 106\n"
	"popbridge_connections_total{result=\"refused\"} 107\n"
	"popbridge_connections_total{result=\"proxy_error\"} 108\n"
	"# HELP popbridge_logins_failed_total logins refused for their credentials, by "
	    "protocol\n"
	"# TYPE popbridge_logins_failed_total counter\n"
	"popbridge_logins_failed_total{protocol=\"pop3\"} 210\n"
	"popbridge_logins_failed_total{protocol=\"imap\"} 211\n"
	"# HELP popbridge_login_delay_refusals_total POP3 logins refused with "
	    "[LOGIN-DELAY]: a device polling sooner than its login delay\n"
	"# TYPE popbridge_login_delay_refusals_total counter\n"
	"popbridge_login_delay_refusals_total 220\n"
	"# HELP popbridge_messages_retrieved_total messages sent to POP3 devices by "
	    "RETR\n"
	"# TYPE popbridge_messages_retrieved_total counter\n"
	"popbridge_messages_retrieved_total 221\n"
	"# HELP popbridge_messages_deleted_total messages POP3 devices deleted, in "
	    "sessions whose QUIT committed\n"
	"# TYPE popbridge_messages_deleted_total counter\n"
	"popbridge_messages_deleted_total 222\n"
	"# HELP popbridge_bytes_sent_total octets written to clients (before TLS), by "
	    "protocol\n"
	"# TYPE popbridge_bytes_sent_total counter\n"
	"popbridge_bytes_sent_total{protocol=\"pop3\"} 18446744073709551615\n"
	"popbridge_bytes_sent_total{protocol=\"imap\"} 18446744073709551614\n"
	"# HELP popbridge_sessions_open sessions logged in now, by protocol\n"
	"# TYPE popbridge_sessions_open gauge\n"
	"popbridge_sessions_open{protocol=\"pop3\"} 200\n"
	"popbridge_sessions_open{protocol=\"imap\"} 201\n"
	"# HELP popbridge_connections_prelogin connections open now that have not logged "
	    "in (at most half of popbridge_sessions_max)\n"
	"# TYPE popbridge_connections_prelogin gauge\n"
	"popbridge_connections_prelogin 250\n"
	"# HELP popbridge_sessions_max --max-sessions in force: sessions and connections "
	    "before login together\n"
	"# TYPE popbridge_sessions_max gauge\n"
	"popbridge_sessions_max 500\n"
	"# HELP popbridge_upstream_connections upstream IMAP connections: busy (a "
	    "session's), kept (idle, for reuse)\n"
	"# TYPE popbridge_upstream_connections gauge\n"
	"popbridge_upstream_connections{state=\"busy\"} 10\n"
	"popbridge_upstream_connections{state=\"kept\"} 251\n"
	"# HELP popbridge_upstream_logins_total upstream IMAP logins: new, reused (a "
	    "kept connection), refused (the credentials), failed (anything else)\n"
	"# TYPE popbridge_upstream_logins_total counter\n"
	"popbridge_upstream_logins_total{result=\"new\"} 230\n"
	"popbridge_upstream_logins_total{result=\"reused\"} 231\n"
	"popbridge_upstream_logins_total{result=\"refused\"} 232\n"
	"popbridge_upstream_logins_total{result=\"failed\"} 233\n"
	"# HELP popbridge_upstream_login_seconds time a new upstream IMAP connection "
	    "took from connecting to logged in (TLS, greeting, ID, LOGIN)\n"
	"# TYPE popbridge_upstream_login_seconds histogram\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.005\"} 0\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.01\"} 1\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.025\"} 3\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.05\"} 3\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.1\"} 4\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.25\"} 6\n"
	"popbridge_upstream_login_seconds_bucket{le=\"0.5\"} 6\n"
	"popbridge_upstream_login_seconds_bucket{le=\"1\"} 7\n"
	"popbridge_upstream_login_seconds_bucket{le=\"2.5\"} 9\n"
	"popbridge_upstream_login_seconds_bucket{le=\"5\"} 9\n"
	"popbridge_upstream_login_seconds_bucket{le=\"10\"} 10\n"
	"popbridge_upstream_login_seconds_bucket{le=\"30\"} 12\n"
	"popbridge_upstream_login_seconds_bucket{le=\"+Inf\"} 12\n"
	"popbridge_upstream_login_seconds_sum 12.345\n"
	"popbridge_upstream_login_seconds_count 12\n"
	"# HELP popbridge_oauth2_refreshes_total requests to OAuth2 token endpoints for "
	    "a new access token, by outcome\n"
	"# TYPE popbridge_oauth2_refreshes_total counter\n"
	"popbridge_oauth2_refreshes_total{result=\"ok\"} 240\n"
	"popbridge_oauth2_refreshes_total{result=\"temporary\"} 241\n"
	"popbridge_oauth2_refreshes_total{result=\"refused\"} 242\n"
	"# HELP popbridge_journal_pending unfinished\n"
	"# TYPE popbridge_journal_pending gauge\n"
	"popbridge_journal_pending 260\n"
	"# HELP popbridge_journal_stuck stuck\n"
	"# TYPE popbridge_journal_stuck gauge\n"
	"popbridge_journal_stuck 261\n";

START_TEST(render_exact)
{
	struct serve_metrics_values v;
	struct base_http_text t = { 0 };

	sample_values(&v);
	serve_metrics_render(&v, &t);
	ck_assert(!t.over);
	ck_assert_str_eq(t.p, want_text);
	base_http_text_free(&t);
}
END_TEST

/* Not ready yet: the service's gauges are left out, not zero; the protocol
 * series follow the protocols served (SMTP once submission is there). */
START_TEST(render_not_ready)
{
	struct serve_metrics_values v;
	struct base_http_text t = { 0 };

	sample_values(&v);
	v.now.ready = false;
	v.n_gauges = 0;
	v.protocols = 1u << BASE_PROTO_POP3 | 1u << BASE_PROTO_SMTP;
	serve_metrics_render(&v, &t);
	ck_assert(!t.over);
	ck_assert_ptr_null(strstr(t.p, "popbridge_connections_prelogin"));
	ck_assert_ptr_null(strstr(t.p, "popbridge_sessions_max"));
	ck_assert_ptr_null(strstr(t.p, "popbridge_upstream_connections"));
	ck_assert_ptr_null(strstr(t.p, "popbridge_journal"));
	ck_assert_ptr_null(strstr(t.p, "protocol=\"imap\""));
	ck_assert_ptr_nonnull(strstr(t.p, "\npopbridge_sessions_total{protocol=\"smtp\","
	    "result=\"failed\"} 18\n"));
	ck_assert_ptr_nonnull(strstr(t.p, "\npopbridge_logins_failed_total{protocol=\"smtp\"} "
	    "212\n# HELP popbridge_login_delay_refusals_total "));
	ck_assert_ptr_nonnull(strstr(t.p, "\npopbridge_sessions_open{protocol=\"pop3\"} 200\n"
	    "popbridge_sessions_open{protocol=\"smtp\"} 202\n# HELP popbridge_upstream_logins_total "));
	/* the rest as when ready */
	const char *from = strstr(want_text, "# HELP popbridge_upstream_logins_total");
	const char *to = strstr(want_text, "# HELP popbridge_journal_pending");
	ck_assert_ptr_nonnull(strstr(t.p, "# HELP popbridge_upstream_logins_total"));
	ck_assert_int_eq(strncmp(strstr(t.p, "# HELP popbridge_upstream_logins_total"), from,
	    (size_t)(to - from)), 0);
	ck_assert_uint_eq(strlen(strstr(t.p, "# HELP popbridge_upstream_logins_total")),
	    (size_t)(to - from));
	base_http_text_free(&t);
}
END_TEST

/* ---- the endpoint -------------------------------------------------------------------------- */

static atomic_bool g_ready;
static atomic_int g_reads;
static _Atomic uint64_t g_clock_ms = 1000000;   /* the gauges' cache clock */

static uint64_t test_clock(void *arg)
{
	return atomic_load((_Atomic uint64_t *)arg);
}

static void now_fn(void *arg, struct serve_metrics_now *now)
{
	ck_assert_ptr_eq(arg, &g_ready);
	if (!atomic_load(&g_ready))
		return;
	now->ready = true;
	now->prelogin = 4;
	now->sessions_max = 9;
}

static int counted(struct state_db *db, uint64_t *value)
{
	int64_t n = -1;
	if (state_journal_unfinished(db, &n, NULL) != STATE_OK)
		return -1;
	*value = (uint64_t)n + 40 + (uint64_t)atomic_fetch_add(&g_reads, 1);
	return 0;
}

static int failing(struct state_db *db, uint64_t *value)
{
	(void)db;
	(void)value;
	return -1;
}

/* One request; the whole answer (head and body), malloc'd. */
static char *request(int port, const char *req)
{
	int fd = pbt_connect(NULL, port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pbt_sendstr(fd, req), 0);
	size_t len;
	char *got = pbt_read_all(fd, 1 << 20, 10000, &len);
	close(fd);
	ck_assert_ptr_nonnull(got);
	return got;
}

START_TEST(endpoint)
{
	char dir[256], state[300], logpath[300], err[PB_ERR_MAX];
	static const struct serve_metrics_gauge gauges[] = {
		{ "popbridge_test_counted", "a gauge read from the state file", counted },
		{ "popbridge_test_failing", "a gauge whose read fails", failing },
	};

	ck_assert_int_eq(pbt_mkdtemp("metrics", dir, sizeof(dir)), 0);
	snprintf(state, sizeof(state), "%s/state.db", dir);
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	struct state_db *db = state_open(state, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	state_close(db);
	int lfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(lfd, 0);
	base_log_set_fd(lfd);

	struct serve_metrics_config mc = {
		.addr = "127.0.0.1", .port = 0, .state = state,
		.protocols = 1u << BASE_PROTO_POP3, .gauges = gauges, .n_gauges = 2,
		.now = now_fn, .now_arg = &g_ready, .clock = test_clock, .clock_arg = &g_clock_ms,
	};
	struct serve_metrics *m = serve_metrics_start(&mc, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	int port = serve_metrics_port(m);
	ck_assert_int_gt(port, 0);

	/* starting: counters only */
	char *got = request(port, "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strncmp(got, "HTTP/1.0 200", 12) == 0 || strncmp(got, "HTTP/1.1 200", 12) == 0,
	    "%s", got);
	ck_assert_ptr_nonnull(strstr(got, "Content-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(got, "\r\n\r\n# HELP popbridge_build_info "));
	ck_assert_ptr_nonnull(strstr(got, "\npopbridge_sessions_open{protocol=\"pop3\"} "));
	ck_assert_ptr_null(strstr(got, "popbridge_connections_prelogin"));
	ck_assert_ptr_null(strstr(got, "popbridge_test_"));
	ck_assert_int_eq(atomic_load(&g_reads), 0);
	free(got);

	/* ready: the service's gauges, and the state gauges read once per
	 * SERVE_METRICS_CACHE_S however many scrapes come */
	atomic_store(&g_ready, true);
	for (int i = 0; i < 3; i++) {
		got = request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
		ck_assert_ptr_nonnull(strstr(got, "\npopbridge_connections_prelogin 4\n"));
		ck_assert_ptr_nonnull(strstr(got, "\npopbridge_sessions_max 9\n"));
		ck_assert_ptr_nonnull(strstr(got, "\n# HELP popbridge_test_counted a gauge read from "
		    "the state file\n# TYPE popbridge_test_counted gauge\npopbridge_test_counted 40\n"));
		ck_assert_ptr_null(strstr(got, "popbridge_test_failing"));
		free(got);
	}
	ck_assert_int_eq(atomic_load(&g_reads), 1);
	/* the cache holds until SERVE_METRICS_CACHE_S have passed on its clock,
	 * then one scrape reads the state file again */
	atomic_fetch_add(&g_clock_ms, SERVE_METRICS_CACHE_S * 1000u - 1);
	got = request(port, "GET /metrics HTTP/1.0\r\n\r\n");
	ck_assert_ptr_nonnull(strstr(got, "\npopbridge_test_counted 40\n"));
	free(got);
	ck_assert_int_eq(atomic_load(&g_reads), 1);
	atomic_fetch_add(&g_clock_ms, 1);
	for (int i = 0; i < 2; i++) {
		got = request(port, "GET /metrics HTTP/1.0\r\n\r\n");
		ck_assert_ptr_nonnull(strstr(got, "\npopbridge_test_counted 41\n"));
		ck_assert_ptr_null(strstr(got, "popbridge_test_failing"));
		free(got);
	}
	ck_assert_int_eq(atomic_load(&g_reads), 2);

	/* nothing else on this address */
	got = request(port, "GET / HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(got, " 404 ") != NULL, "%s", got);
	ck_assert_ptr_nonnull(strstr(got, "\r\n\r\nnot found: this address serves /metrics only\n"));
	free(got);
	got = request(port, "GET /metrics/x HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(got, " 404 ") != NULL, "%s", got);
	free(got);
	got = request(port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
	ck_assert_msg(strstr(got, " 405 ") != NULL, "%s", got);
	free(got);
	got = request(port, "HEAD /metrics HTTP/1.0\r\n\r\n");
	ck_assert_msg(strstr(got, " 200 ") != NULL && strstr(got, "# HELP") == NULL, "%s", got);
	free(got);

	/* bound: a second start on the same address is refused */
	mc.port = (uint16_t)port;
	ck_assert_ptr_null(serve_metrics_start(&mc, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot listen on 127.0.0.1:"));
	serve_metrics_stop(m);
	serve_metrics_stop(NULL);

	base_log_set_fd(-1);
	close(lfd);
	size_t loglen;
	char *log = pbt_read_file(logpath, 1 << 20, &loglen);
	ck_assert_ptr_nonnull(log);
	/* the failing gauge: said once, however many scrapes left it out */
	const char *w = strstr(log, "event=metrics msg=\"popbridge_test_failing left out until "
	    "it can be read: ");
	ck_assert_msg(w != NULL, "%s", log);
	ck_assert_ptr_null(strstr(strchr(w, '\n'), "popbridge_test_failing left out"));
	ck_assert_ptr_null(strstr(log, "popbridge_test_counted left out"));
	free(log);
	pbt_rmtree(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *t = tcase_create("metrics");
	tcase_set_timeout(t, 60);
	tcase_add_test(t, stats_count);
	tcase_add_test(t, stats_histogram);
	tcase_add_test(t, seconds_text);
	tcase_add_test(t, labels_fixed);
	tcase_add_test(t, render_exact);
	tcase_add_test(t, render_not_ready);
	tcase_add_test(t, endpoint);
	suite_add_tcase(s, t);
	return bt_run_suite(s);
}
