/* bridge/serve/session_thread.c — one accepted connection's thread in
 * `popbridge serve`: a trusted proxy's PROXY header first, then the POP3
 * session (pop3_session_run() with maildrop_ops), the IMAP front's
 * (bridge/front/) or SMTP submission's (smtp/, bridge/submit/); the one
 * plaintext-login rule for all three; the session's counts for the metrics
 * (bridge/base/stats.h) and its one key=value log line (SPEC §8). Not to be
 * confused with sessions.c, which counts the sessions for admission
 * (bridge/serve/internal.h). */
#include "bridge/serve/internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/base/version.h"
#include "bridge/front/front.h"
#include "bridge/serve/proxied.h"
#include "smtp/server.h"

static void session_trace(void *arg, const char *msg)
{
	const struct serve_job *job = arg;
	struct base_logline l;
	base_logline_start(&l, PB_LOG_DEBUG, job->smtp ? "smtp" : "pop3");
	base_logline_str(&l, "remote", job->remote);
	base_logline_str(&l, "msg", msg);
	base_logline_emit(&l);
}

static uint64_t elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

/* A trusted proxy's PROXY LOCAL connection that only quit: route's check. */
static bool health_check(const struct serve_job *job, const struct pop3_session_stats *st)
{
	return job->proxy_local && st->result == POP3_RESULT_QUIT && st->auth_failures == 0;
}

/* The one line per session (SPEC §8), written by base_log_session. */
static void session_log(const struct pop3_session_stats *st, const struct maildrop_conn *conn,
    const struct serve_job *job)
{
	struct base_session_log s = {
		/* Names only from a good login: a failed one's "user" may be a
		 * password typed into the wrong field (they log as "-"). */
		.user = conn->identified ? st->user : "",
		.account = conn->identified ? conn->account : "",
		.device = conn->identified ? conn->device : "",
		.remote = st->remote_addr, .tls = st->tls_version, .mech = st->mechanism,
		.upstream_opened = conn->opened, .upstream_tls = conn->upstream_tls,
		.messages = st->messages,
		.retr = st->retr_count, .retr_bytes = st->retr_octets,
		.top = st->top_count, .top_bytes = st->top_octets,
		.dele = st->dele_count, .dele_bytes = conn->dele_octets,
		.auth_failures = st->auth_failures,
		.bytes_in = st->bytes_in, .bytes_out = st->bytes_out,
		.duration_ms = elapsed_ms(&job->start),
		.result = pop3_result_name(st->result),
		.pending = conn->commit_pending,
		.reason = st->reason[0] ? st->reason : conn->detail,
		.health_check = health_check(job, st),
	};
	base_log_session(&s);
}

/* The session logged in: its slot leaves the pre-login share, and it is
 * an open session of its protocol for the metrics until count_end(). */
static void session_logged_in(void *arg)
{
	struct serve_job *job = arg;
	serve_sessions_logged_in(&job->slot);
	if (!job->logged_in) {
		job->logged_in = true;
		base_stats_session_open(job->proto);
	}
}

/* The metrics' share of a connection's end (bridge/base/stats.h), counted
 * before its log line: a session that logged in by how it ended (se), a
 * connection that never did by its own result (ce); both their failed
 * logins and the octets they sent. */
static void count_end(const struct serve_job *job, enum base_session_end se,
    enum base_conn_end ce, unsigned auth_failures, uint64_t bytes_out)
{
	if (job->logged_in)
		base_stats_session_end(job->proto, se);
	else
		base_stats_connection_end(ce);
	base_stats_logins_failed(job->proto, auth_failures);
	base_stats_bytes_sent(job->proto, bytes_out);
}

static void count_pop3(const struct serve_job *job, const struct pop3_session_stats *st)
{
	enum base_session_end se = BASE_END_FAILED;
	enum base_conn_end ce = BASE_CONN_FAILED;

	switch (st->result) {
	case POP3_RESULT_QUIT:
	case POP3_RESULT_COMMITTED:
		se = BASE_END_OK;
		ce = health_check(job, st) ? BASE_CONN_HEALTH_CHECK : BASE_CONN_QUIT;
		break;
	case POP3_RESULT_AUTH_FAILED:
		ce = BASE_CONN_AUTH_FAILED;
		break;
	case POP3_RESULT_DROPPED:
		se = BASE_END_DROPPED;
		ce = BASE_CONN_DROPPED;
		break;
	case POP3_RESULT_TIMEOUT:
		se = BASE_END_TIMEOUT;
		ce = BASE_CONN_TIMEOUT;
		break;
	case POP3_RESULT_TOO_MANY_ERRORS:
	case POP3_RESULT_LINE_TOO_LONG:
	case POP3_RESULT_TLS_FAILED:
		se = BASE_END_CLIENT_ERROR;
		ce = BASE_CONN_CLIENT_ERROR;
		break;
	case POP3_RESULT_COMMIT_FAILED:
	case POP3_RESULT_FETCH_FAILED:
	case POP3_RESULT_ERROR:
		break;
	}
	count_end(job, se, ce, st->auth_failures, st->bytes_out);
	base_stats_messages(st->retr_count,
	    st->result == POP3_RESULT_COMMITTED ? st->dele_count : 0);
}

/* The IMAP front's result words (bridge/front/session.c). Before login a
 * connection with a failed login and no good one is auth_failed, as POP3
 * counts it. After login nothing is parsed: either side closing is ok. */
static void count_imap(const struct serve_job *job, const struct front_stats *st)
{
	static const struct {
		const char *word;
		enum base_session_end se;
		enum base_conn_end ce;
	} ends[] = {
		{ "client-closed", BASE_END_OK, BASE_CONN_DROPPED },
		{ "server-closed", BASE_END_OK, BASE_CONN_FAILED },
		{ "logout", BASE_END_OK, BASE_CONN_QUIT },
		{ "idle", BASE_END_TIMEOUT, BASE_CONN_TIMEOUT },
		{ "revoked", BASE_END_REVOKED, BASE_CONN_FAILED },
		{ "auth-failed", BASE_END_FAILED, BASE_CONN_AUTH_FAILED },
		{ "dropped", BASE_END_DROPPED, BASE_CONN_DROPPED },
		{ "timeout", BASE_END_TIMEOUT, BASE_CONN_TIMEOUT },
		{ "too-many-errors", BASE_END_CLIENT_ERROR, BASE_CONN_CLIENT_ERROR },
		{ "line-too-long", BASE_END_CLIENT_ERROR, BASE_CONN_CLIENT_ERROR },
		{ "tls-failed", BASE_END_CLIENT_ERROR, BASE_CONN_CLIENT_ERROR },
	};
	enum base_session_end se = BASE_END_FAILED;
	enum base_conn_end ce = BASE_CONN_FAILED;

	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (st->result != NULL && strcmp(st->result, ends[i].word) == 0) {
			se = ends[i].se;
			ce = ends[i].ce;
		}
	if (st->auth_failures > 0 && (ce == BASE_CONN_QUIT || ce == BASE_CONN_DROPPED ||
	    ce == BASE_CONN_TIMEOUT))
		ce = BASE_CONN_AUTH_FAILED;
	count_end(job, se, ce, st->auth_failures, st->bytes_out);
}

/* SMTP submission's results (smtp/server.h), mapped as POP3's are. */
static void count_smtp(const struct serve_job *job, const struct smtp_session_stats *st)
{
	enum base_session_end se = BASE_END_FAILED;
	enum base_conn_end ce = BASE_CONN_FAILED;

	switch (st->result) {
	case SMTP_RESULT_QUIT:
		se = BASE_END_OK;
		ce = BASE_CONN_QUIT;
		break;
	case SMTP_RESULT_AUTH_FAILED:
		ce = BASE_CONN_AUTH_FAILED;
		break;
	case SMTP_RESULT_DROPPED:
		se = BASE_END_DROPPED;
		ce = BASE_CONN_DROPPED;
		break;
	case SMTP_RESULT_TIMEOUT:
		se = BASE_END_TIMEOUT;
		ce = BASE_CONN_TIMEOUT;
		break;
	case SMTP_RESULT_TOO_MANY_ERRORS:
	case SMTP_RESULT_LINE_TOO_LONG:
	case SMTP_RESULT_TLS_FAILED:
		se = BASE_END_CLIENT_ERROR;
		ce = BASE_CONN_CLIENT_ERROR;
		break;
	case SMTP_RESULT_UPSTREAM:
	case SMTP_RESULT_ERROR:
		break;
	}
	count_end(job, se, ce, st->auth_failures, st->bytes_out);
}

/* A trusted proxy's connection: read its PROXY header, and count the session
 * under the client's address from then on. -1: the connection is to be
 * closed without a greeting (logged). */
static int proxy_header(struct serve_job *job, uint64_t deadline_ms)
{
	struct guard_proxy_hdr h;
	char err[PB_ERR_MAX];

	if (serve_proxied_read(job->fd, deadline_ms, &h, err, sizeof(err)) != 0) {
		base_stats_connection_end(BASE_CONN_PROXY_ERROR);
		serve_log_refused(job->remote, err, false);
		return -1;
	}
	if (!h.local) {
		snprintf(job->remote, sizeof(job->remote), "%s", h.addr);
		job->remote_port = h.port;
	}
	job->proxy_local = h.local;
	if (serve_sessions_set_addr(&job->slot, job->remote) != PB_ADMIT_OK) {
		base_stats_connection_end(BASE_CONN_REFUSED);
		serve_too_many(job->fd, &(struct serve_listener){ .implicit_tls = job->implicit_tls,
		    .imap = job->imap, .smtp = job->smtp });
		serve_log_refused(job->remote, "max-sessions-per-ip", true);
		return -1;
	}
	return 0;
}

/* The plaintext-login rule, one for every front end (SPEC §6, §14): a
 * login without TLS is allowed from loopback, in managed mode, with
 * --allow-plaintext-auth, and from a trusted proxy (nginx ends TLS and
 * always speaks plaintext to the node; the TLS policy towards devices is
 * the proxy's). */
static bool plaintext_allowed(const struct serve_job *job, const struct config_options *o)
{
	return base_addr_is_loopback(job->remote) || o->auth == PB_AUTH_MANAGED ||
	    o->allow_plaintext_auth || job->proxied;
}

/* The IMAP front's session (bridge/front/front.h). */
static void imap_session(struct serve_job *job, uint64_t deadline_ms)
{
	const struct config_options *o = &job->gen->opt;
	struct front_stats st;
	struct front_config cfg = {
		.ctx = &job->srv->ctx, .opt = o,
		.tls_ctx = job->gen->tls ? pop3_tls_ssl_ctx(job->gen->tls) : NULL,
		.implicit_tls = job->implicit_tls,
		.plaintext_auth_allowed = plaintext_allowed(job, o),
		.remote_addr = job->remote, .remote_port = job->remote_port,
		.login_deadline_ms = deadline_ms,
		.logged_in = session_logged_in, .logged_in_arg = job,
	};
	front_session_run(job->fd, &cfg, &st);
	serve_sessions_leave(&job->slot);
	count_imap(job, &st);
	front_session_log(&st, job->remote, elapsed_ms(&job->start));
	OPENSSL_cleanse(&st, sizeof(st));
}

/* The one line per SMTP session (event=session protocol=smtp); each
 * transaction has its own event=submission line (bridge/submit/relay.h). */
static void smtp_session_log(const struct smtp_session_stats *st, const struct submit_conn *conn,
    const struct timespec *start)
{
	struct base_logline l;
	base_logline_start(&l, PB_LOG_INFO, "session");
	base_logline_str(&l, "protocol", "smtp");
	base_logline_str(&l, "user", conn->identified ? st->user : NULL);
	base_logline_str(&l, "account", conn->identified ? conn->account : NULL);
	base_logline_str(&l, "device", conn->identified ? conn->device : NULL);
	base_logline_str(&l, "remote", st->remote_addr);
	base_logline_str(&l, "tls", st->tls_version[0] ? st->tls_version : "none");
	base_logline_str(&l, "mech", st->mechanism[0] ? st->mechanism : NULL);
	base_logline_u64(&l, "sent", st->transactions);
	base_logline_u64(&l, "refused", st->refused);
	base_logline_u64(&l, "rcpts", st->rcpts);
	base_logline_u64(&l, "auth_failures", st->auth_failures);
	base_logline_u64(&l, "bytes_in", st->bytes_in);
	base_logline_u64(&l, "bytes_out", st->bytes_out);
	base_logline_u64(&l, "duration_ms", elapsed_ms(start));
	base_logline_str(&l, "result", smtp_result_name(st->result));
	if (conn->copies_pending > 0)
		base_logline_u64(&l, "copies_pending", conn->copies_pending);
	const char *reason = st->reason[0] ? st->reason : conn->detail;
	if (reason[0])
		base_logline_str(&l, "reason", reason);
	base_logline_emit(&l);
}

static void smtp_session(struct serve_job *job, uint64_t deadline_ms)
{
	struct serve *srv = job->srv;
	const struct config_options *o = &job->gen->opt;
	struct smtp_session_stats st;
	struct submit_conn *conn = calloc(1, sizeof(*conn));

	if (!conn) {
		close(job->fd);
		base_log(PB_LOG_ERROR, "session", "out of memory for a session from %s", job->remote);
		return;
	}
	submit_conn_init(conn, &srv->submit, o, job->remote, job->remote_port);
	conn->login_deadline_ms = deadline_ms;
	conn->logged_in = session_logged_in;
	conn->logged_in_arg = job;
	const struct smtp_session_config cfg = {
		.tls = job->gen->tls,
		.implicit_tls = job->implicit_tls,
		.offer_starttls = job->gen->tls != NULL && !job->implicit_tls,
		/* SPEC §11: the plaintext rule of POP3 (SPEC §6, §14) */
		.plaintext_auth_allowed = plaintext_allowed(job, o),
		.idle_timeout_s = o->idle_timeout < SMTP_IDLE_TIMEOUT_DEFAULT_S ? o->idle_timeout
		    : SMTP_IDLE_TIMEOUT_DEFAULT_S,
		.login_timeout_s = o->login_timeout,
		.max_auth_failures = o->max_auth_failures,
		.hostname = srv->submit.helo,
		.remote_addr = job->remote,
		.trace = base_log_enabled(PB_LOG_DEBUG) ? session_trace : NULL,
		.trace_arg = job,
	};
	smtp_session_run(job->fd, &cfg, &submit_ops, conn, &st);
	serve_sessions_leave(&job->slot);
	snprintf(conn->tls_version, sizeof(conn->tls_version), "%s", st.tls_version);
	count_smtp(job, &st);
	smtp_session_log(&st, conn, &job->start);
	OPENSSL_cleanse(conn, sizeof(*conn));
	free(conn);
}

void *serve_session_main(void *arg)
{
	struct serve_job *job = arg;
	struct serve *srv = job->srv;
	const struct config_options *o = &job->gen->opt;
	struct maildrop_conn *conn = NULL;
	struct pop3_session_stats st;
	uint64_t deadline_ms = base_clock_ms(NULL) + (uint64_t)o->login_timeout * 1000u;

	if (job->proxied && proxy_header(job, deadline_ms) != 0) {
		close(job->fd);
		goto out;
	}
	if (job->imap) {
		imap_session(job, deadline_ms);
		goto out;
	}
	if (job->smtp) {
		smtp_session(job, deadline_ms);
		goto out;
	}
	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		base_stats_connection_end(BASE_CONN_FAILED);
		close(job->fd);
		base_log(PB_LOG_ERROR, "session", "out of memory for a session from %s", job->remote);
		goto out;
	}
	maildrop_conn_init(conn, &srv->ctx, job->remote, NULL);
	conn->remote_port = job->remote_port;
	conn->login_deadline_ms = deadline_ms;
	conn->opt = o;
	conn->logged_in = session_logged_in;
	conn->logged_in_arg = job;
	struct pop3_session_config cfg = {
		.tls = job->gen->tls,
		.implicit_tls = job->implicit_tls,
		.offer_stls = job->gen->tls != NULL && !job->implicit_tls,
		.plaintext_auth_allowed = plaintext_allowed(job, o),
		.idle_timeout_s = o->idle_timeout,
		.login_timeout_s = o->login_timeout,
		.max_auth_failures = o->max_auth_failures,
		.login_delay_s = o->dev.login_delay,
		.login_delay_per_user = o->dev.login_delay > 0,
		.implementation = "popbridge " POPBRIDGE_VERSION,
		.expire = "NEVER",
		.remote_addr = job->remote,
		.trace = base_log_enabled(PB_LOG_DEBUG) ? session_trace : NULL,
		.trace_arg = job,
	};
	pop3_session_run(job->fd, &cfg, &maildrop_ops, conn, &st);
	/* The connection is closed: its slot is free, and it is counted,
	 * before the line says so. */
	serve_sessions_leave(&job->slot);
	count_pop3(job, &st);
	session_log(&st, conn, job);
	OPENSSL_cleanse(conn, sizeof(*conn));
	free(conn);
out:
	serve_gen_unref(job->gen);
	serve_sessions_leave(&job->slot);   /* a second leave does nothing */
	struct serve_registry *reg = srv->reg;
	struct serve_reg_entry *e = job->reg;
	free(job);
	/* OpenSSL's per-thread state (error queue) would be freed only when the
	 * thread exits, which may be after main() has returned: free it now. */
	OPENSSL_thread_stop();
	/* Last: once the registry is empty the main thread may free srv. */
	serve_registry_leave(reg, e);
	return NULL;
}
