/* bridge/serve/serve.c — `popbridge serve`: listeners, session threads, signals,
 * reload, privilege drop and the per-session log line (bridge/serve/serve.h). */
#include "bridge/serve/serve.h"
#include "bridge/base/errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/cidr.h"
#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/base/stats.h"
#include "bridge/base/version.h"
#include "bridge/config/cmdline.h"
#include "bridge/front/front.h"
#include "bridge/guard/gate.h"
#include "bridge/guard/throttle.h"
#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/managed/secret.h"
#include "bridge/pool/pool.h"
#include "bridge/serve/listen.h"
#include "bridge/serve/metrics.h"
#include "bridge/serve/proxied.h"
#include "bridge/serve/registry.h"
#include "bridge/serve/sessions.h"
#include "bridge/serve/signals.h"
#include "bridge/submit/relay.h"
#include "bridge/submit/retry.h"
#include "pop3/server.h"
#include "smtp/server.h"
#include "state/state.h"

#define ACCEPT_BURST 64              /* accepts per listener per poll round */
#define ACCEPT_ERROR_PAUSE_MS 100    /* out of descriptors: let sessions end */
#define TOO_MANY "-ERR [SYS/TEMP] too many sessions\r\n"
#define TOO_MANY_IMAP "* BYE [UNAVAILABLE] Too many sessions, try again later.\r\n"
#define TOO_MANY_SMTP "421 4.3.2 too many sessions, try again later\r\n"
/* Descriptors one session may hold: the client socket and its duplicate
 * (serve_registry.h), the upstream socket, the SQLite file with its -wal
 * and -shm, and a spare. */
#define FDS_PER_SESSION 8
/* A start-up message names at most two paths plus a reason. */
#define SERVE_ERR_MAX (2 * PB_PATH_MAX + PB_ERR_MAX)

/* One generation of settings: what a session started with. */
struct serve_gen {
	atomic_uint refs;
	struct config_options opt;
	struct pop3_tls *tls;        /* one reference; NULL without a certificate */
};

struct serve {
	const struct config_cmdline *cmdline;  /* re-read at SIGHUP: the same flags */

	pthread_mutex_t lock;        /* guards cur */
	struct serve_gen *cur;

	struct serve_listeners ls;
	int wake[2];                 /* signal thread -> listener */
	unsigned long accept_pauses; /* the accept thread's: pauses since accept last
	                                failed for want of descriptors (0: none) */
	atomic_bool stopping;

	struct serve_registry *reg;
	struct serve_sessions *limits;
	struct maildrop_devlocks *devlocks;
	struct guard_throttle *throttle;
	struct guard_gate *hash_gate;
	struct pool *pool;
	struct maildrop_ctx ctx;
	struct serve_gen *ctx_gen;   /* the generation ctx.opt points into */

	struct serve_metrics *metrics;   /* --metrics-listen; NULL: none */
	atomic_bool metrics_ready;   /* limits and pool are set (release/acquire) */
	/* SMTP submission (SPEC §11), when smtp listeners are configured */
	bool submit_on;
	struct submit_ctx submit;
	bool retry_started;          /* the Sent copies' retry thread */
	pthread_t retry_thread;
	pthread_mutex_t retry_lock;
	pthread_cond_t retry_cond;   /* signalled when stopping */
};

struct session_job {
	struct serve *srv;
	struct serve_gen *gen;
	int fd;
	bool implicit_tls;
	bool imap;                   /* the IMAP front (bridge/front/) */
	bool smtp;                   /* an SMTP submission connection */
	bool proxied;                /* from a trusted proxy: a PROXY header first */
	bool proxy_local;            /* its header was LOCAL (a health check) */
	enum base_proto proto;       /* for the metrics */
	bool logged_in;              /* counted among the open sessions */
	char remote[PB_ADDR_TEXT_MAX];
	unsigned remote_port;
	struct serve_session_slot slot;
	struct serve_reg_entry *reg;
	struct timespec start;
};

/* ---- generations -------------------------------------------------------- */

static struct serve_gen *gen_ref(struct serve_gen *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

static void gen_unref(struct serve_gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	pop3_tls_unref(g->tls);
	config_options_free(&g->opt);
	free(g);
}

static struct serve_gen *current_gen(struct serve *srv)
{
	pthread_mutex_lock(&srv->lock);
	struct serve_gen *g = gen_ref(srv->cur);
	pthread_mutex_unlock(&srv->lock);
	return g;
}

/* The TLS context of the settings (NULL and 0 without a certificate). */
static int load_tls(const struct config_options *o, struct pop3_tls **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!o->cert[0])
		return 0;
	*out = pop3_tls_new(o->cert, o->key, (enum pop3_tls_version)(POP3_TLS_1_0 + o->tls_min),
	    err, errlen);
	return *out ? 0 : -1;
}

static struct serve_gen *gen_new(struct config_options *opt, char *err, size_t errlen)
{
	struct serve_gen *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (load_tls(opt, &g->tls, err, errlen) != 0) {
		free(g);
		return NULL;
	}
	g->opt = *opt;               /* takes over what opt owns */
	config_options_init(opt);
	atomic_store(&g->refs, 1);
	return g;
}

/* ---- the session thread ---------------------------------------------------- */

static void session_trace(void *arg, const char *msg)
{
	const struct session_job *job = arg;
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
static bool health_check(const struct session_job *job, const struct pop3_session_stats *st)
{
	return job->proxy_local && st->result == POP3_RESULT_QUIT && st->auth_failures == 0;
}

/* The one line per session (SPEC §8), written by base_log_session. */
static void session_log(const struct pop3_session_stats *st, const struct maildrop_conn *conn,
    const struct session_job *job)
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
	struct session_job *job = arg;
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
static void count_end(const struct session_job *job, enum base_session_end se,
    enum base_conn_end ce, unsigned auth_failures, uint64_t bytes_out)
{
	if (job->logged_in)
		base_stats_session_end(job->proto, se);
	else
		base_stats_connection_end(ce);
	base_stats_logins_failed(job->proto, auth_failures);
	base_stats_bytes_sent(job->proto, bytes_out);
}

static void count_pop3(const struct session_job *job, const struct pop3_session_stats *st)
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
static void count_imap(const struct session_job *job, const struct front_stats *st)
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
static void count_smtp(const struct session_job *job, const struct smtp_session_stats *st)
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

/* Refusals are logged at most once per REFUSED_LOG_MS: a flood of
 * connections must not become a flood of log lines. The lines left out
 * are counted, and the next line says how many (suppressed=N). */
#define REFUSED_LOG_MS 10000u
static pthread_mutex_t refused_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t refused_last_ms;
static unsigned long refused_suppressed;

/* limited: a refusal by the limits, counted into the one line per
 * REFUSED_LOG_MS; otherwise always logged (a trusted proxy that sends no
 * valid header is misconfigured: its administrator must see each). */
static void log_refused(const char *remote, const char *why, bool limited)
{
	uint64_t now = base_clock_ms(NULL);
	unsigned long suppressed = 0;
	pthread_mutex_lock(&refused_lock);
	bool quiet = limited && refused_last_ms != 0 && now - refused_last_ms < REFUSED_LOG_MS;
	if (quiet) {
		refused_suppressed++;
	} else if (limited) {
		refused_last_ms = now;
		suppressed = refused_suppressed;
		refused_suppressed = 0;
	}
	pthread_mutex_unlock(&refused_lock);
	if (quiet)
		return;
	struct base_logline l;
	base_logline_start(&l, PB_LOG_WARN, "refused");
	base_logline_str(&l, "remote", remote);
	base_logline_str(&l, "reason", why);
	if (suppressed > 0)
		base_logline_u64(&l, "suppressed", suppressed);
	base_logline_emit(&l);
}

/* Answer "too many sessions" (a plaintext -ERR, BYE or 421 means nothing to
 * a client expecting a TLS handshake: an implicit-TLS connection is just
 * closed). */
static void too_many(int fd, const struct serve_listener *l)
{
	if (!l->implicit_tls) {
		const char *m = l->imap ? TOO_MANY_IMAP : l->smtp ? TOO_MANY_SMTP : TOO_MANY;
		ssize_t w = send(fd, m, strlen(m), MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)w;
	}
}

static void refuse(int fd, const struct serve_listener *l, const char *remote, const char *why)
{
	base_stats_connection_end(BASE_CONN_REFUSED);
	too_many(fd, l);
	close(fd);
	log_refused(remote, why, true);
}

/* Whether remote is a --trusted-proxy address (with --proxy-protocol). */
static bool proxy_trusted(const struct config_options *o, const char *remote)
{
	if (!o->proxy_protocol)
		return false;
	for (size_t i = 0; i < o->n_trusted_proxy; i++)
		if (base_cidr_match(&o->trusted_proxy[i], remote))
			return true;
	return false;
}

/* A trusted proxy's connection: read its PROXY header, and count the session
 * under the client's address from then on. -1: the connection is to be
 * closed without a greeting (logged). */
static int proxy_header(struct session_job *job, uint64_t deadline_ms)
{
	struct guard_proxy_hdr h;
	char err[PB_ERR_MAX];

	if (serve_proxied_read(job->fd, deadline_ms, &h, err, sizeof(err)) != 0) {
		base_stats_connection_end(BASE_CONN_PROXY_ERROR);
		log_refused(job->remote, err, false);
		return -1;
	}
	if (!h.local) {
		snprintf(job->remote, sizeof(job->remote), "%s", h.addr);
		job->remote_port = h.port;
	}
	job->proxy_local = h.local;
	if (serve_sessions_set_addr(&job->slot, job->remote) != PB_ADMIT_OK) {
		base_stats_connection_end(BASE_CONN_REFUSED);
		too_many(job->fd, &(struct serve_listener){ .implicit_tls = job->implicit_tls,
		    .imap = job->imap, .smtp = job->smtp });
		log_refused(job->remote, "max-sessions-per-ip", true);
		return -1;
	}
	return 0;
}

/* The plaintext-login rule, one for every front end (SPEC §6, §14): a
 * login without TLS is allowed from loopback, in managed mode, with
 * --allow-plaintext-auth, and from a trusted proxy (nginx ends TLS and
 * always speaks plaintext to the node; the TLS policy towards devices is
 * the proxy's). */
static bool plaintext_allowed(const struct session_job *job, const struct config_options *o)
{
	return base_addr_is_loopback(job->remote) || o->auth == PB_AUTH_MANAGED ||
	    o->allow_plaintext_auth || job->proxied;
}

/* The IMAP front's session (bridge/front/front.h). */
static void imap_session(struct session_job *job, uint64_t deadline_ms)
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

static void smtp_session(struct session_job *job, uint64_t deadline_ms)
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

static void *session_main(void *arg)
{
	struct session_job *job = arg;
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
	gen_unref(job->gen);
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

/* ---- accepting ----------------------------------------------------------- */

static void start_session(struct serve *srv, int fd, const struct sockaddr_storage *ss,
    const struct serve_listener *l)
{
	struct session_job *job = calloc(1, sizeof(*job));
	char remote[PB_ADDR_TEXT_MAX];
	pthread_attr_t attr;
	pthread_t t;

	serve_addr_text(ss, remote, sizeof(remote));
	if (!job) {
		refuse(fd, l, remote, "out of memory");
		return;
	}
	/* A trusted proxy's connection counts under its client's address, read
	 * from its PROXY header in the session thread (SPEC §13). */
	struct serve_gen *g = current_gen(srv);
	job->proxied = proxy_trusted(&g->opt, remote);
	gen_unref(g);
	enum serve_admit a = job->proxied ? serve_sessions_enter_proxied(srv->limits, &job->slot)
	                                  : serve_sessions_enter(srv->limits, remote, &job->slot);
	if (a != PB_ADMIT_OK) {
		free(job);
		refuse(fd, l, remote, a == PB_ADMIT_FULL ? "max-sessions" :
		    a == PB_ADMIT_IP_FULL ? "max-sessions-per-ip" :
		    a == PB_ADMIT_PRELOGIN_FULL ? "pre-login-share" : "out of memory");
		return;
	}
	job->reg = serve_registry_add(srv->reg, fd);
	if (!job->reg) {
		serve_sessions_leave(&job->slot);
		free(job);
		refuse(fd, l, remote, "out of resources");
		return;
	}
	job->srv = srv;
	job->fd = fd;
	job->implicit_tls = l->implicit_tls;
	job->imap = l->imap;
	job->smtp = l->smtp;
	job->proto = l->smtp ? BASE_PROTO_SMTP : l->imap ? BASE_PROTO_IMAP : BASE_PROTO_POP3;
	memcpy(job->remote, remote, sizeof(remote));
	job->remote_port = serve_addr_port(ss);
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	job->gen = current_gen(srv);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, session_main, job);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		gen_unref(job->gen);
		serve_sessions_leave(&job->slot);
		serve_registry_leave(srv->reg, job->reg);
		free(job);
		refuse(fd, l, remote, "cannot start a thread");
	}
}

static void accept_some(struct serve *srv, const struct serve_listener *l)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors (or memory): the connections wait in the
			 * backlog while sessions end; one line per episode, not one
			 * per pause. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				if (srv->accept_pauses++ == 0)
					base_log(PB_LOG_ERROR, "accept", "%s: %s: accepting paused until "
					    "sessions end (said once until accepting again)", l->name,
					    strerror(errno));
				poll(NULL, 0, ACCEPT_ERROR_PAUSE_MS);
			}
			return;  /* EAGAIN, or a connection that went away */
		}
		if (srv->accept_pauses > 0) {
			base_log(PB_LOG_WARN, "accept", "%s: accepting again after %lu pause(s) of "
			    "%d ms", l->name, srv->accept_pauses, ACCEPT_ERROR_PAUSE_MS);
			srv->accept_pauses = 0;
		}
		start_session(srv, fd, &ss, l);
	}
}

/* Accept until stopping; -1 when poll() itself fails. */
static int accept_loop(struct serve *srv)
{
	struct pollfd pfd[PB_LISTENERS_MAX + 1];
	size_t n = srv->ls.n;

	pfd[0].fd = srv->wake[0];
	pfd[0].events = POLLIN;
	for (size_t i = 0; i < n; i++) {
		pfd[i + 1].fd = srv->ls.l[i].fd;
		pfd[i + 1].events = POLLIN;
	}
	while (!atomic_load(&srv->stopping)) {
		if (poll(pfd, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			base_log(PB_LOG_ERROR, "accept", "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents)
			continue;    /* only stopping writes to the pipe */
		for (size_t i = 0; i < n; i++)
			if (pfd[i + 1].revents & POLLIN)
				accept_some(srv, &srv->ls.l[i]);
	}
	return 0;
}

/* ---- signals: stop and reload ---------------------------------------------- */

/* The first SIGTERM/SIGINT stops accepting (drain() then waits for the
 * sessions); a second one ends the wait at once: every session's socket is
 * shut, so the sessions end without committing. */
static void on_stop(void *arg, int sig)
{
	struct serve *srv = arg;
	const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
	if (atomic_exchange(&srv->stopping, true)) {
		size_t n = serve_registry_shutdown_all(srv->reg);
		base_log(PB_LOG_WARN, "signal", "%s again: closed %zu session(s) now; they "
		    "commit nothing", name, n);
		return;
	}
	base_log(PB_LOG_INFO, "signal", "%s: stopping", name);
	ssize_t w = write(srv->wake[1], "x", 1);
	(void)w;
}

/* A file's problem (the reload fails) or warning (it goes on: a deprecated
 * element; bridge/config/file.h). */
static void reload_report(void *arg, const char *file, unsigned line, const char *problem)
{
	(void)arg;
	bool warning = config_report_is_warning(problem);
	struct base_logline l;
	base_logline_start(&l, warning ? PB_LOG_WARN : PB_LOG_ERROR, "reload");
	base_logline_str(&l, "file", file);
	base_logline_u64(&l, "line", line);
	base_logline_str(&l, warning ? "warning" : "problem",
	    warning ? problem + strlen(PB_CONFIG_WARNING) : problem);
	base_logline_emit(&l);
}

static bool same_endpoints(const struct config_endpoint *a, size_t na,
    const struct config_endpoint *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].port != b[i].port || strcmp(a[i].host, b[i].host) != 0)
			return false;
	return true;
}

/* Settings that only a restart changes: keep the running values, and say
 * which ones the new configuration wanted changed. */
static void keep_start_values(struct config_options *n, const struct config_options *old)
{
	char changed[200] = "";
	size_t len = 0;
#define KEEP(cond, name, stmt) do { if (cond) { \
		len += (size_t)snprintf(changed + len, len < sizeof(changed) ? \
		    sizeof(changed) - len : 0, "%s%s", len ? " " : "", name); \
		stmt; } } while (0)
	KEEP(!same_endpoints(n->listen, n->n_listen, old->listen, old->n_listen), "listen",
	    (memcpy(n->listen, old->listen, sizeof(n->listen)), n->n_listen = old->n_listen));
	KEEP(!same_endpoints(n->listen_tls, n->n_listen_tls, old->listen_tls, old->n_listen_tls),
	    "listen-tls", (memcpy(n->listen_tls, old->listen_tls, sizeof(n->listen_tls)),
	    n->n_listen_tls = old->n_listen_tls));
	KEEP(!same_endpoints(n->smtp_listen, n->n_smtp_listen, old->smtp_listen,
	    old->n_smtp_listen), "smtp-listen", (memcpy(n->smtp_listen, old->smtp_listen,
	    sizeof(n->smtp_listen)), n->n_smtp_listen = old->n_smtp_listen));
	KEEP(!same_endpoints(n->smtp_listen_tls, n->n_smtp_listen_tls, old->smtp_listen_tls,
	    old->n_smtp_listen_tls), "smtp-listen-tls", (memcpy(n->smtp_listen_tls,
	    old->smtp_listen_tls, sizeof(n->smtp_listen_tls)),
	    n->n_smtp_listen_tls = old->n_smtp_listen_tls));
	KEEP(!same_endpoints(n->imap_listen, n->n_imap_listen, old->imap_listen,
	    old->n_imap_listen), "imap-listen", (memcpy(n->imap_listen, old->imap_listen,
	    sizeof(n->imap_listen)), n->n_imap_listen = old->n_imap_listen));
	KEEP(!same_endpoints(n->imap_listen_tls, n->n_imap_listen_tls, old->imap_listen_tls,
	    old->n_imap_listen_tls), "imap-listen-tls", (memcpy(n->imap_listen_tls,
	    old->imap_listen_tls, sizeof(n->imap_listen_tls)),
	    n->n_imap_listen_tls = old->n_imap_listen_tls));
	KEEP(strcmp(n->user, old->user) != 0, "user", memcpy(n->user, old->user, sizeof(n->user)));
	KEEP(strcmp(n->state, old->state) != 0, "state",
	    memcpy(n->state, old->state, sizeof(n->state)));
	KEEP(strcmp(n->key_file, old->key_file) != 0, "key-file",
	    memcpy(n->key_file, old->key_file, sizeof(n->key_file)));
	KEEP(n->auth != old->auth, "auth", n->auth = old->auth);
	KEEP(n->syslog != old->syslog, "syslog", n->syslog = old->syslog);
	KEEP(!same_endpoints(&n->metrics_listen, 1, &old->metrics_listen, 1), "metrics-listen",
	    n->metrics_listen = old->metrics_listen);
#undef KEEP
	if (len)
		base_log(PB_LOG_WARN, "reload", "these settings need a restart and keep their "
		    "running values: %s", changed);
}

static void on_reload(void *arg)
{
	struct serve *srv = arg;
	struct config_options opt;
	char err[PB_ERR_MAX] = "";
	struct serve_gen *g = NULL;

	if (config_settings_build(srv->cmdline, true, &opt, reload_report, NULL, err,
	    sizeof(err)) != 0) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded, keeping the "
		    "running one: %s", err[0] ? err : "invalid configuration file");
		goto out;
	}
	struct serve_gen *old = current_gen(srv);
	keep_start_values(&opt, &old->opt);
	gen_unref(old);
	if ((opt.n_listen_tls > 0 || opt.n_imap_listen_tls > 0 || opt.n_smtp_listen_tls > 0) &&
	    !opt.cert[0]) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded: the running "
		    "listen-tls addresses need a certificate");
		goto out;
	}
	g = gen_new(&opt, err, sizeof(err));
	if (!g) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded, keeping the "
		    "running one: %s", err);
		goto out;
	}
	base_log_setup(g->opt.log_level, g->opt.syslog);
	serve_sessions_set_limits(srv->limits, g->opt.max_sessions, g->opt.max_sessions_per_ip);
	pthread_mutex_lock(&srv->lock);
	old = srv->cur;
	srv->cur = g;
	pthread_mutex_unlock(&srv->lock);
	gen_unref(old);
	base_log(PB_LOG_INFO, "reload", "configuration and certificates reloaded");
out:
	config_options_free(&opt);
}

/* ---- the metrics endpoint (--metrics-listen, SPEC §14) ------------------------ */

static void metrics_now(void *arg, struct serve_metrics_now *now)
{
	struct serve *srv = arg;
	unsigned pre, max;
	size_t kept, busy;

	if (!atomic_load_explicit(&srv->metrics_ready, memory_order_acquire))
		return;
	serve_sessions_gauges(srv->limits, &pre, &max);
	pool_counts(srv->pool, &kept, &busy);
	now->ready = true;
	now->prelogin = pre;
	now->sessions_max = max;
	now->pool_busy = busy;
	now->pool_kept = kept;
}

static int journal_pending(struct state_db *db, uint64_t *value)
{
	int64_t n;
	if (state_journal_unfinished(db, &n, NULL) != STATE_OK)
		return -1;
	*value = (uint64_t)n;
	return 0;
}

static int journal_stuck(struct state_db *db, uint64_t *value)
{
	int64_t n;
	if (state_journal_unfinished(db, NULL, &n) != STATE_OK)
		return -1;
	*value = (uint64_t)n;
	return 0;
}

static int sent_copies_pending(struct state_db *db, uint64_t *value)
{
	int64_t n;
	if (state_sent_owed(db, &n) != STATE_OK)
		return -1;
	*value = (uint64_t)n;
	return 0;
}

/* Gauges read from the state file at a scrape (at most every
 * SERVE_METRICS_CACHE_S seconds). */
static const struct serve_metrics_gauge state_gauges[] = {
	{ "popbridge_journal_pending", "commits not finished upstream yet (journal entries, "
	  "every account): each is replayed at its account's next session", journal_pending },
	{ "popbridge_journal_stuck", "of those, the ones whose upstream steps have failed "
	  "3 times or more: see report or device list", journal_stuck },
	{ "popbridge_sent_copies_pending", "copies of submitted messages owed to the Sent "
	  "folder (every account): appended at the account's next login or retry",
	  sent_copies_pending },
};

/* Bound before the privilege drop, as the listeners are; serves the state
 * gauges and the service's gauges once metrics_ready is set. */
static int start_metrics(struct serve *srv, const struct config_options *o, char *err,
    size_t errlen)
{
	if (!o->metrics_listen.host[0])
		return 0;
	struct serve_metrics_config mc = {
		.addr = o->metrics_listen.host, .port = o->metrics_listen.port,
		.state = o->state,
		/* SMTP submission adds 1u << BASE_PROTO_SMTP */
		.protocols = 1u << BASE_PROTO_POP3 | 1u << BASE_PROTO_IMAP | 1u << BASE_PROTO_SMTP,
		.gauges = state_gauges, .n_gauges = sizeof(state_gauges) / sizeof(state_gauges[0]),
		.now = metrics_now, .now_arg = srv,
	};
	char why[PB_ERR_MAX];
	srv->metrics = serve_metrics_start(&mc, why, sizeof(why));
	if (srv->metrics == NULL)
		return base_errf(err, errlen, "--metrics-listen: %s", why);
	return 0;
}

/* ---- start-up steps -------------------------------------------------------- */

static int drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || !res)
		return base_errf(err, errlen, "--user %s: no such user", user);
	if (pw.pw_uid == 0)
		return base_errf(err, errlen, "--user %s: must name an unprivileged user", user);
	if (geteuid() != 0) {
		if (geteuid() == pw.pw_uid && getuid() == pw.pw_uid)
			return 0;
		return base_errf(err, errlen, "--user %s: only root can change user", user);
	}
	if (setgroups(1, &pw.pw_gid) != 0 || setgid(pw.pw_gid) != 0 || setuid(pw.pw_uid) != 0)
		return base_errf(err, errlen, "--user %s: cannot drop privileges: %s", user,
		    strerror(errno));
	if (setuid(0) == 0 || seteuid(0) == 0 || getuid() != pw.pw_uid ||
	    geteuid() != pw.pw_uid || getgid() != pw.pw_gid || getegid() != pw.pw_gid)
		return base_errf(err, errlen, "--user %s: privileges were not dropped completely",
		    user);
	return 0;
}

static int check_state(const struct config_options *o, char *err, size_t errlen)
{
	char why[PB_ERR_MAX];
	struct state_db *db = state_open(o->state, why, sizeof(why));
	if (!db) {
		if (o->user[0])
			snprintf(err, errlen, "%s (as user %s: the state file, its directory and "
			    "its -wal and -shm files must be writable by that user)", why, o->user);
		else
			snprintf(err, errlen, "%s", why);
		return -1;
	}
	state_close(db);
	return 0;
}

static int load_managed_key(struct serve *srv, const struct config_options *o,
    char *err, size_t errlen)
{
	struct managed_key key;
	if (o->auth != PB_AUTH_MANAGED)
		return 0;
	if (managed_key_load(o->key_file, &key, err, errlen) != 0) {
		if (access(o->key_file, F_OK) != 0 && errno == ENOENT)
			snprintf(err, errlen, "--auth managed: no key file %s; it is created "
			    "by the first 'popbridge account add' with this --state (or give "
			    "--key-file)", o->key_file);
		return -1;
	}
	memcpy(srv->ctx.managed_key, key.bytes, sizeof(srv->ctx.managed_key));
	srv->ctx.has_managed_key = true;
	managed_key_clear(&key);
	return 0;
}

/* Take the whole descriptor allowance (the soft limit is often 1024, the
 * hard one much higher) and say so when it cannot hold --max-sessions. */
static void raise_fd_limit(unsigned max_sessions)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
			return;
	}
	/* + the kept upstream connections (one descriptor each) */
	rlim_t need = (rlim_t)max_sessions * FDS_PER_SESSION + POOL_KEPT_MAX + 64;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		base_log(PB_LOG_WARN, "start", "the descriptor limit (%llu) is below what "
		    "--max-sessions %u may need (%llu); raise it (ulimit -n, LimitNOFILE=) or "
		    "lower --max-sessions", (unsigned long long)rl.rlim_cur, max_sessions,
		    (unsigned long long)need);
}

static void log_ready(const struct serve *srv, const struct config_options *o)
{
	char up[PB_HOST_MAX + 10];
	for (size_t i = 0; i < srv->ls.n; i++) {
		struct base_logline l;
		base_logline_start(&l, PB_LOG_INFO, "listen");
		base_logline_str(&l, "addr", srv->ls.l[i].name);
		if (srv->ls.l[i].imap || srv->ls.l[i].smtp)
			base_logline_str(&l, "protocol", srv->ls.l[i].imap ? "imap" : "smtp");
		base_logline_str(&l, "tls", srv->ls.l[i].implicit_tls ? "implicit" :
		    !srv->cur->tls ? "none" :
		    srv->ls.l[i].imap || srv->ls.l[i].smtp ? "starttls" : "stls");
		base_logline_emit(&l);
	}
	if (srv->metrics != NULL) {
		struct base_logline l;
		struct config_endpoint ep = o->metrics_listen;
		ep.port = serve_metrics_port(srv->metrics);
		base_logline_start(&l, PB_LOG_INFO, "listen");
		base_logline_str(&l, "addr", config_endpoint_format(&ep, up, sizeof(up)));
		base_logline_str(&l, "protocol", "metrics");
		base_logline_str(&l, "tls", "none");
		base_logline_emit(&l);
	}
	struct base_logline l;
	base_logline_start(&l, PB_LOG_INFO, "ready");
	base_logline_str(&l, "version", POPBRIDGE_VERSION);
	base_logline_str(&l, "upstream", config_endpoint_format(&o->upstream, up, sizeof(up)));
	base_logline_str(&l, "upstream_tls", config_upstream_tls_name(o->upstream_tls));
	base_logline_str(&l, "auth", config_auth_name(o->auth));
	base_logline_str(&l, "state", o->state);
	if (srv->submit_on) {
		char su[PB_HOST_MAX + 10];
		base_logline_str(&l, "smtp_upstream",
		    config_endpoint_format(&o->smtp_upstream, su, sizeof(su)));
		base_logline_str(&l, "smtp_upstream_tls",
		    config_upstream_tls_name(o->smtp_upstream_tls));
		base_logline_str(&l, "sent_copy", config_sent_copy_name(o->sent_copy));
	}
	base_logline_emit(&l);
}

/* ---- the Sent copies' retry (SPEC §11) ---------------------------------------- */

static void *retry_main(void *arg)
{
	struct serve *srv = arg;
	unsigned wait_s = SUBMIT_RETRY_FIRST_S;

	pthread_mutex_lock(&srv->retry_lock);
	while (!atomic_load(&srv->stopping)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait_s;
		while (!atomic_load(&srv->stopping) &&
		    pthread_cond_timedwait(&srv->retry_cond, &srv->retry_lock, &until) == 0)
			;
		if (atomic_load(&srv->stopping))
			break;
		pthread_mutex_unlock(&srv->retry_lock);
		struct serve_gen *g = current_gen(srv);
		submit_retry_round(&srv->submit, &g->opt);
		gen_unref(g);
		OPENSSL_thread_stop();
		pthread_mutex_lock(&srv->retry_lock);
		wait_s = SUBMIT_RETRY_INTERVAL_S;
	}
	pthread_mutex_unlock(&srv->retry_lock);
	return NULL;
}

static void retry_stop(struct serve *srv)
{
	if (!srv->retry_started)
		return;
	pthread_mutex_lock(&srv->retry_lock);
	pthread_cond_broadcast(&srv->retry_cond);
	pthread_mutex_unlock(&srv->retry_lock);
	pthread_join(srv->retry_thread, NULL);
	srv->retry_started = false;
}

/* Stop accepting, let sessions end, then make them end. */
static void drain(struct serve *srv, unsigned upstream_timeout)
{
	serve_listeners_close(&srv->ls);
	size_t n = serve_registry_count(srv->reg);
	if (n > 0) {
		base_log(PB_LOG_INFO, "stop", "listeners closed; waiting up to %d s for %zu "
		    "session(s)", PB_SERVE_DRAIN_S, n);
		if (!serve_registry_wait_empty(srv->reg, PB_SERVE_DRAIN_S * 1000u)) {
			n = serve_registry_shutdown_all(srv->reg);
			base_log(PB_LOG_WARN, "stop", "closed %zu session(s) still running; "
			    "they commit nothing", n);
			if (!serve_registry_wait_empty(srv->reg,
			    (upstream_timeout + PB_SERVE_DRAIN_S) * 1000u))
				base_log(PB_LOG_ERROR, "stop", "%zu session(s) did not end; exiting "
				    "anyway (an interrupted commit completes at the next login)",
				    serve_registry_count(srv->reg));
		}
	}
}

static void serve_free(struct serve *srv)
{
	serve_metrics_stop(srv->metrics);   /* first: it reads what follows */
	retry_stop(srv);
	if (srv->submit_on)
		submit_ctx_free(&srv->submit);
	pthread_mutex_destroy(&srv->retry_lock);
	pthread_cond_destroy(&srv->retry_cond);
	serve_listeners_close(&srv->ls);
	maildrop_ctx_free(&srv->ctx);
	gen_unref(srv->ctx_gen);
	gen_unref(srv->cur);
	maildrop_devlocks_free(srv->devlocks);
	guard_throttle_free(srv->throttle);
	guard_gate_free(srv->hash_gate);
	pool_free(srv->pool);
	serve_sessions_free(srv->limits);
	serve_registry_free(srv->reg);
	if (srv->wake[0] >= 0)
		close(srv->wake[0]);
	if (srv->wake[1] >= 0)
		close(srv->wake[1]);
	pthread_mutex_destroy(&srv->lock);
}

int serve_run(const struct config_cmdline *c, struct config_options *settings)
{
	struct serve srv;
	struct config_options opt = *settings;   /* taken over */
	char err[SERVE_ERR_MAX];
	int status = PB_EXIT_FAIL;
	bool registry_busy = false;

	memset(&srv, 0, sizeof(srv));
	config_options_init(settings);
	srv.cmdline = c;
	srv.wake[0] = srv.wake[1] = -1;
	pthread_mutex_init(&srv.lock, NULL);
	pthread_mutex_init(&srv.retry_lock, NULL);
	pthread_cond_init(&srv.retry_cond, NULL);
	maildrop_ctx_init(&srv.ctx);
	if (serve_signals_block() != 0) {
		snprintf(err, sizeof(err), "cannot set up signals: %s", strerror(errno));
		goto fail_opt;
	}
	base_log_setup(opt.log_level, opt.syslog);
	srv.cur = gen_new(&opt, err, sizeof(err));
	if (!srv.cur)
		goto fail_opt;
	const struct config_options *o = &srv.cur->opt;
	srv.ctx_gen = gen_ref(srv.cur);
	srv.ctx.opt = o;

	if (load_managed_key(&srv, o, err, sizeof(err)) != 0 ||
	    serve_listeners_open(&srv.ls, o, err, sizeof(err)) != 0 ||
	    start_metrics(&srv, o, err, sizeof(err)) != 0)
		goto fail;
	if (o->user[0] && drop_privileges(o->user, err, sizeof(err)) != 0)
		goto fail;
	if (check_state(o, err, sizeof(err)) != 0)
		goto fail;

	srv.reg = serve_registry_new();
	srv.limits = serve_sessions_new(o->max_sessions, o->max_sessions_per_ip);
	srv.devlocks = maildrop_devlocks_new();
	srv.throttle = guard_throttle_new(0, NULL, NULL, NULL);
	srv.hash_gate = guard_gate_new(0);
	srv.pool = pool_new();
	if (!srv.reg || !srv.limits || !srv.devlocks || !srv.throttle || !srv.hash_gate ||
	    !srv.pool || pipe2(srv.wake, O_CLOEXEC) != 0) {
		snprintf(err, sizeof(err), "out of memory or descriptors");
		goto fail;
	}
	srv.ctx.devlocks = srv.devlocks;
	srv.ctx.throttle = srv.throttle;
	srv.ctx.hash_gate = srv.hash_gate;
	srv.ctx.pool = srv.pool;
	if (o->n_smtp_listen + o->n_smtp_listen_tls > 0) {
		if (submit_ctx_init(&srv.submit, &srv.ctx, o->state) != 0) {
			snprintf(err, sizeof(err), "state file name too long for the Sent copies' folder");
			goto fail;
		}
		srv.submit_on = true;
		srv.ctx.owed_copies = submit_owed_copies;
		srv.ctx.owed_copies_arg = &srv.submit;
		submit_recover(&srv.submit, o);
		if (o->auth == PB_AUTH_MANAGED) {
			if (pthread_create(&srv.retry_thread, NULL, retry_main, &srv) != 0) {
				snprintf(err, sizeof(err), "cannot start the Sent copies' retry thread");
				goto fail;
			}
			srv.retry_started = true;
		}
	}

	struct serve_signal_handlers h = { on_stop, on_reload, &srv };
	if (serve_signals_start(&h) != 0) {
		snprintf(err, sizeof(err), "cannot start the signal thread");
		goto fail;
	}
	raise_fd_limit(o->max_sessions);
	atomic_store_explicit(&srv.metrics_ready, true, memory_order_release);
	log_ready(&srv, o);
	if (accept_loop(&srv) != 0)
		status = PB_EXIT_FAIL;
	else
		status = PB_EXIT_OK;
	atomic_store(&srv.stopping, true);   /* also when the loop failed */
	retry_stop(&srv);
	drain(&srv, o->upstream_timeout);
	serve_signals_stop();
	registry_busy = serve_registry_count(srv.reg) > 0;
	base_log(PB_LOG_INFO, "stop", "popbridge stopped");
	if (registry_busy) {
		/* Sessions still run and hold srv, OpenSSL and SQLite: returning
		 * would run exit()'s clean-up under them. End the process here;
		 * an interrupted commit completes at the account's next session
		 * (SPEC §5), as after a crash. */
		fflush(NULL);
		_exit(status);
	}
	serve_free(&srv);
	return status;

fail_opt:
	config_options_free(&opt);
fail:
	fprintf(stderr, "popbridge serve: %s\n", err);
	if (opt.syslog || (srv.cur && srv.cur->opt.syslog))
		base_log(PB_LOG_ERROR, "start", "%s", err);
	serve_free(&srv);
	return status;
}
