/* bridge/serve/metrics.c — serve's metrics endpoint (see metrics.h). */
#include "bridge/serve/metrics.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bridge/base/clock.h"
#include "bridge/base/errbuf.h"
#include "bridge/base/log.h"
#include "bridge/base/metrics.h"
#include "bridge/base/version.h"
#include "bridge/config/options.h"

struct serve_metrics {
	struct base_http_server *http;
	struct serve_metrics_config cfg;
	struct serve_metrics_gauge gauges[SERVE_METRICS_GAUGES_MAX];
	char state[PB_PATH_MAX];
	int64_t start_time;
	/* the endpoint thread's own */
	uint64_t read_ms;                 /* when the gauges were last read; 0: never */
	bool ok[SERVE_METRICS_GAUGES_MAX];
	uint64_t value[SERVE_METRICS_GAUGES_MAX];
	bool warned[SERVE_METRICS_GAUGES_MAX];
};

/* ---- the text ---------------------------------------------------------------------- */

static void per_proto(struct base_http_text *t, const struct serve_metrics_values *v,
    const char *name, const uint64_t *by_proto)
{
	for (int p = 0; p < BASE_PROTO_N; p++) {
		if (!(v->protocols & (1u << p)))
			continue;
		const char *lab[] = { "protocol", base_proto_name((enum base_proto)p) };
		base_metrics_u64(t, name, lab, 1, by_proto[p]);
	}
}

static void one(struct base_http_text *t, const char *name, const char *type,
    const char *help, uint64_t value)
{
	base_metrics_family(t, name, type, help);
	base_metrics_u64(t, name, NULL, 0, value);
}

static void login_histogram(struct base_http_text *t, const struct base_stats *s)
{
	static const char name[] = "popbridge_upstream_login_seconds";
	char le[BASE_METRICS_NUM_MAX], sum[BASE_METRICS_NUM_MAX];
	uint64_t n = 0;

	base_metrics_family(t, name, "histogram", "time a new upstream IMAP connection took "
	    "from connecting to logged in (TLS, greeting, ID, LOGIN)");
	for (int i = 0; i <= BASE_STATS_LOGIN_BUCKETS; i++) {
		n += s->login_buckets[i];
		const char *lab[] = { "le", i < BASE_STATS_LOGIN_BUCKETS ?
		    base_metrics_ms_as_s(base_stats_login_bucket_ms[i], le) : "+Inf" };
		base_metrics_u64(t, "popbridge_upstream_login_seconds_bucket", lab, 1, n);
	}
	base_metrics_text(t, "popbridge_upstream_login_seconds_sum", NULL, 0,
	    base_metrics_ms_as_s(s->login_ms_sum, sum));
	base_metrics_u64(t, "popbridge_upstream_login_seconds_count", NULL, 0, n);
}

void serve_metrics_render(const struct serve_metrics_values *v, struct base_http_text *t)
{
	const struct base_stats *s = &v->s;

	base_metrics_family(t, "popbridge_build_info", "gauge",
	    "the running popbridge's version; the value is always 1");
	const char *ver[] = { "version", v->version };
	base_metrics_u64(t, "popbridge_build_info", ver, 1, 1);
	one(t, "popbridge_start_time_seconds", "gauge",
	    "when this popbridge serve started, in seconds since 1970", (uint64_t)v->start_time);

	base_metrics_family(t, "popbridge_sessions_total", "counter",
	    "sessions that logged in, by protocol and by how they ended");
	for (int p = 0; p < BASE_PROTO_N; p++) {
		if (!(v->protocols & (1u << p)))
			continue;
		for (int e = 0; e < BASE_END_N; e++) {
			const char *lab[] = { "protocol", base_proto_name((enum base_proto)p),
			    "result", base_session_end_name((enum base_session_end)e) };
			base_metrics_u64(t, "popbridge_sessions_total", lab, 2, s->sessions[p][e]);
		}
	}
	base_metrics_family(t, "popbridge_connections_total", "counter",
	    "connections that never logged in, by how they ended (every protocol)");
	for (int e = 0; e < BASE_CONN_N; e++) {
		const char *lab[] = { "result", base_conn_end_name((enum base_conn_end)e) };
		base_metrics_u64(t, "popbridge_connections_total", lab, 1, s->connections[e]);
	}
	base_metrics_family(t, "popbridge_logins_failed_total", "counter",
	    "logins refused for their credentials, by protocol");
	per_proto(t, v, "popbridge_logins_failed_total", s->logins_failed);
	one(t, "popbridge_login_delay_refusals_total", "counter",
	    "POP3 logins refused with [LOGIN-DELAY]: a device polling sooner than its "
	    "login delay", s->login_delay_refusals);
	one(t, "popbridge_messages_retrieved_total", "counter",
	    "messages sent to POP3 devices by RETR", s->retrieved);
	one(t, "popbridge_messages_deleted_total", "counter",
	    "messages POP3 devices deleted, in sessions whose QUIT committed", s->deleted);
	base_metrics_family(t, "popbridge_bytes_sent_total", "counter",
	    "octets written to clients (before TLS), by protocol");
	per_proto(t, v, "popbridge_bytes_sent_total", s->bytes_sent);

	base_metrics_family(t, "popbridge_sessions_open", "gauge",
	    "sessions logged in now, by protocol");
	per_proto(t, v, "popbridge_sessions_open", s->open);
	if (v->now.ready) {
		one(t, "popbridge_connections_prelogin", "gauge",
		    "connections open now that have not logged in (at most half of "
		    "popbridge_sessions_max)", v->now.prelogin);
		one(t, "popbridge_sessions_max", "gauge",
		    "--max-sessions in force: sessions and connections before login together",
		    v->now.sessions_max);
		base_metrics_family(t, "popbridge_upstream_connections", "gauge",
		    "upstream IMAP connections: busy (a session's), kept (idle, for reuse)");
		const char *busy[] = { "state", "busy" }, *kept[] = { "state", "kept" };
		base_metrics_u64(t, "popbridge_upstream_connections", busy, 1,
		    v->now.pool_busy + s->upstream_unpooled);
		base_metrics_u64(t, "popbridge_upstream_connections", kept, 1, v->now.pool_kept);
	}
	base_metrics_family(t, "popbridge_upstream_logins_total", "counter",
	    "upstream IMAP logins: new, reused (a kept connection), refused (the credentials), "
	    "failed (anything else)");
	for (int r = 0; r < BASE_UP_N; r++) {
		const char *lab[] = { "result", base_upstream_login_name((enum base_upstream_login)r) };
		base_metrics_u64(t, "popbridge_upstream_logins_total", lab, 1, s->upstream_logins[r]);
	}
	login_histogram(t, s);
	base_metrics_family(t, "popbridge_oauth2_refreshes_total", "counter",
	    "requests to OAuth2 token endpoints for a new access token, by outcome");
	for (int r = 0; r < BASE_OAUTH2_N; r++) {
		const char *lab[] = { "result", base_oauth2_refresh_name((enum base_oauth2_refresh)r) };
		base_metrics_u64(t, "popbridge_oauth2_refreshes_total", lab, 1, s->oauth2_refresh[r]);
	}
	for (size_t i = 0; i < v->n_gauges; i++)
		one(t, v->gauges[i].name, "gauge", v->gauges[i].help, v->gauges[i].value);
}

/* ---- a scrape -------------------------------------------------------------------- */

/* Read every state gauge, at most once every SERVE_METRICS_CACHE_S seconds. */
static void read_gauges(struct serve_metrics *m)
{
	uint64_t now = m->cfg.clock(m->cfg.clock_arg);
	char err[PB_ERR_MAX];

	if (m->read_ms != 0 && now - m->read_ms < SERVE_METRICS_CACHE_S * 1000u)
		return;
	m->read_ms = now;
	struct state_db *db = state_open(m->state, err, sizeof(err));
	for (size_t i = 0; i < m->cfg.n_gauges; i++) {
		const char *why = err;
		m->ok[i] = db != NULL && m->gauges[i].read(db, &m->value[i]) == 0;
		if (db != NULL)
			why = state_errmsg(db);
		if (m->ok[i])
			m->warned[i] = false;
		else if (!m->warned[i]) {
			m->warned[i] = true;
			base_log(PB_LOG_WARN, "metrics", "%s left out until it can be read: %s",
			    m->gauges[i].name, why);
		}
	}
	state_close(db);
}

static void scrape(struct serve_metrics *m, struct base_http_reply *rep)
{
	struct serve_metrics_values v;

	memset(&v, 0, sizeof(v));
	v.version = POPBRIDGE_VERSION;
	v.start_time = m->start_time;
	v.protocols = m->cfg.protocols;
	base_stats_read(&v.s);
	m->cfg.now(m->cfg.now_arg, &v.now);
	if (v.now.ready) {
		read_gauges(m);
		for (size_t i = 0; i < m->cfg.n_gauges; i++)
			if (m->ok[i]) {
				v.gauges[v.n_gauges].name = m->gauges[i].name;
				v.gauges[v.n_gauges].help = m->gauges[i].help;
				v.gauges[v.n_gauges++].value = m->value[i];
			}
	}
	rep->content_type = BASE_METRICS_CONTENT_TYPE;
	serve_metrics_render(&v, &rep->body);
}

static void on_http(void *arg, const struct base_http_req *req, struct base_http_reply *rep)
{
	if (strcmp(base_http_req_path(req), "/metrics") == 0) {
		scrape(arg, rep);
		return;
	}
	rep->status = 404;
	base_http_text_add(&rep->body, "not found: this address serves /metrics only\n");
}

struct serve_metrics *serve_metrics_start(const struct serve_metrics_config *cfg, char *err,
    size_t errlen)
{
	if (cfg->n_gauges > SERVE_METRICS_GAUGES_MAX || strlen(cfg->state) >= PB_PATH_MAX) {
		base_errf(err, errlen, "metrics: too many gauges or too long a state file name");
		return NULL;
	}
	struct serve_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL) {
		base_errf(err, errlen, "out of memory");
		return NULL;
	}
	m->cfg = *cfg;
	if (m->cfg.clock == NULL)
		m->cfg.clock = base_clock_ms;
	memcpy(m->gauges, cfg->gauges, cfg->n_gauges * sizeof(m->gauges[0]));
	m->cfg.gauges = m->gauges;
	memcpy(m->state, cfg->state, strlen(cfg->state) + 1);
	m->cfg.state = m->state;
	m->start_time = (int64_t)time(NULL);
	struct base_http_limits lim = { .connections = SERVE_METRICS_CONNECTIONS };
	m->http = base_http_start(cfg->addr, cfg->port, &lim, on_http, m, err, errlen);
	if (m->http == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

uint16_t serve_metrics_port(const struct serve_metrics *m)
{
	return base_http_port(m->http);
}

void serve_metrics_stop(struct serve_metrics *m)
{
	if (m == NULL)
		return;
	base_http_stop(m->http);
	free(m);
}
