/* bridge/base/stats.c — the process's counters (see stats.h). */
#include "bridge/base/stats.h"

#include <stdatomic.h>
#include <string.h>

const uint32_t base_stats_login_bucket_ms[BASE_STATS_LOGIN_BUCKETS] = {
	5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000,
};

static struct {
	_Atomic uint64_t sessions[BASE_PROTO_N][BASE_END_N];
	_Atomic uint64_t open[BASE_PROTO_N];
	_Atomic uint64_t connections[BASE_CONN_N];
	_Atomic uint64_t logins_failed[BASE_PROTO_N];
	_Atomic uint64_t login_delay_refusals;
	_Atomic uint64_t bytes_sent[BASE_PROTO_N];
	_Atomic uint64_t retrieved, deleted;
	_Atomic uint64_t upstream_logins[BASE_UP_N];
	_Atomic uint64_t login_buckets[BASE_STATS_LOGIN_BUCKETS + 1];
	_Atomic uint64_t login_ms_sum;
	_Atomic uint64_t upstream_unpooled;
	_Atomic uint64_t oauth2_refresh[BASE_OAUTH2_N];
} g;

#define ADD(v, n) atomic_fetch_add_explicit(&(v), (n), memory_order_relaxed)
#define SUB(v, n) atomic_fetch_sub_explicit(&(v), (n), memory_order_relaxed)
#define GET(v) atomic_load_explicit(&(v), memory_order_relaxed)

static const char *const proto_names[BASE_PROTO_N] = { "pop3", "imap", "smtp" };
static const char *const end_names[BASE_END_N] = {
	"ok", "dropped", "timeout", "revoked", "client_error", "failed",
};
static const char *const conn_names[BASE_CONN_N] = {
	"quit", "health_check", "auth_failed", "dropped", "timeout", "client_error", "failed",
	"refused", "proxy_error",
};
static const char *const up_names[BASE_UP_N] = { "new", "reused", "refused", "failed" };
static const char *const oauth2_names[BASE_OAUTH2_N] = { "ok", "temporary", "refused" };

#define NAME(t, i) ((unsigned)(i) < sizeof(t) / sizeof((t)[0]) ? (t)[i] : NULL)

const char *base_proto_name(enum base_proto p) { return NAME(proto_names, p); }
const char *base_session_end_name(enum base_session_end e) { return NAME(end_names, e); }
const char *base_conn_end_name(enum base_conn_end e) { return NAME(conn_names, e); }
const char *base_upstream_login_name(enum base_upstream_login r) { return NAME(up_names, r); }
const char *base_oauth2_refresh_name(enum base_oauth2_refresh r) { return NAME(oauth2_names, r); }

enum base_proto base_proto_lookup(const char *name)
{
	for (int p = 0; p < BASE_PROTO_N; p++)
		if (name != NULL && strcmp(name, proto_names[p]) == 0)
			return (enum base_proto)p;
	return BASE_PROTO_N;
}

#define PROTO_OK(p) ((unsigned)(p) < BASE_PROTO_N)

void base_stats_session_open(enum base_proto p)
{
	if (PROTO_OK(p))
		ADD(g.open[p], 1);
}

void base_stats_session_end(enum base_proto p, enum base_session_end e)
{
	if (!PROTO_OK(p) || (unsigned)e >= BASE_END_N)
		return;
	ADD(g.sessions[p][e], 1);
	SUB(g.open[p], 1);
}

void base_stats_connection_end(enum base_conn_end e)
{
	if ((unsigned)e < BASE_CONN_N)
		ADD(g.connections[e], 1);
}

void base_stats_logins_failed(enum base_proto p, uint64_t n)
{
	if (PROTO_OK(p) && n > 0)
		ADD(g.logins_failed[p], n);
}

void base_stats_bytes_sent(enum base_proto p, uint64_t n)
{
	if (PROTO_OK(p) && n > 0)
		ADD(g.bytes_sent[p], n);
}

void base_stats_messages(uint64_t retrieved, uint64_t deleted)
{
	if (retrieved > 0)
		ADD(g.retrieved, retrieved);
	if (deleted > 0)
		ADD(g.deleted, deleted);
}

void base_stats_login_delay_refused(void)
{
	ADD(g.login_delay_refusals, 1);
}

void base_stats_upstream_login(enum base_upstream_login r, uint64_t ms)
{
	if ((unsigned)r >= BASE_UP_N)
		return;
	ADD(g.upstream_logins[r], 1);
	if (r != BASE_UP_NEW)
		return;
	unsigned i = 0;
	while (i < BASE_STATS_LOGIN_BUCKETS && ms > base_stats_login_bucket_ms[i])
		i++;
	ADD(g.login_buckets[i], 1);
	ADD(g.login_ms_sum, ms);
}

void base_stats_upstream_unpooled(int delta)
{
	if (delta > 0)
		ADD(g.upstream_unpooled, (uint64_t)delta);
	else if (delta < 0)
		SUB(g.upstream_unpooled, (uint64_t)-delta);
}

void base_stats_oauth2_refresh(enum base_oauth2_refresh r)
{
	if ((unsigned)r < BASE_OAUTH2_N)
		ADD(g.oauth2_refresh[r], 1);
}

void base_stats_read(struct base_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (int p = 0; p < BASE_PROTO_N; p++) {
		for (int e = 0; e < BASE_END_N; e++)
			out->sessions[p][e] = GET(g.sessions[p][e]);
		out->open[p] = GET(g.open[p]);
		out->logins_failed[p] = GET(g.logins_failed[p]);
		out->bytes_sent[p] = GET(g.bytes_sent[p]);
	}
	for (int e = 0; e < BASE_CONN_N; e++)
		out->connections[e] = GET(g.connections[e]);
	out->login_delay_refusals = GET(g.login_delay_refusals);
	out->retrieved = GET(g.retrieved);
	out->deleted = GET(g.deleted);
	for (int r = 0; r < BASE_UP_N; r++)
		out->upstream_logins[r] = GET(g.upstream_logins[r]);
	for (int i = 0; i <= BASE_STATS_LOGIN_BUCKETS; i++)
		out->login_buckets[i] = GET(g.login_buckets[i]);
	out->login_ms_sum = GET(g.login_ms_sum);
	out->upstream_unpooled = GET(g.upstream_unpooled);
	for (int r = 0; r < BASE_OAUTH2_N; r++)
		out->oauth2_refresh[r] = GET(g.oauth2_refresh[r]);
}
