/* bridge/serve/serve.c — `popbridge serve`: serve_run() and its start-up
 * steps (TLS and managed key, listeners, metrics endpoint, privilege drop,
 * state check, descriptor limit), the Sent copies' retry thread, draining at
 * stop and freeing (bridge/serve/serve.h). The other pieces are listed in
 * bridge/serve/internal.h. */
#include "bridge/serve/serve.h"
#include "bridge/serve/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/log.h"
#include "bridge/base/version.h"
#include "bridge/guard/gate.h"
#include "bridge/guard/throttle.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/managed/secret.h"
#include "bridge/pool/pool.h"
#include "bridge/serve/signals.h"
#include "bridge/submit/retry.h"
#include "state/state.h"

/* Descriptors one session may hold: the client socket and its duplicate
 * (serve_registry.h), the upstream socket, the SQLite file with its -wal
 * and -shm, and a spare. */
#define FDS_PER_SESSION 8
/* A start-up message names at most two paths plus a reason. */
#define SERVE_ERR_MAX (2 * PB_PATH_MAX + PB_ERR_MAX)

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
		    !srv->ctx_gen->tls ? "none" :
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
		struct serve_gen *g = serve_gen_current(srv);
		submit_retry_round(&srv->submit, &g->opt, &srv->stopping);
		serve_gen_unref(g);
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
	serve_gen_unref(srv->ctx_gen);
	serve_gen_unref(srv->cur);
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
	srv.cur = serve_gen_new(&opt, err, sizeof(err));
	if (!srv.cur)
		goto fail_opt;
	const struct config_options *o = &srv.cur->opt;
	srv.ctx_gen = serve_gen_ref(srv.cur);
	srv.ctx.opt = o;

	if (load_managed_key(&srv, o, err, sizeof(err)) != 0 ||
	    serve_listeners_open(&srv.ls, o, err, sizeof(err)) != 0 ||
	    serve_gauges_start(&srv, o, err, sizeof(err)) != 0)
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

	struct serve_signal_handlers h = { serve_on_stop, serve_on_reload, &srv };
	if (serve_signals_start(&h) != 0) {
		snprintf(err, sizeof(err), "cannot start the signal thread");
		goto fail;
	}
	raise_fd_limit(o->max_sessions);
	atomic_store_explicit(&srv.metrics_ready, true, memory_order_release);
	log_ready(&srv, o);
	if (serve_accept_loop(&srv) != 0)
		status = PB_EXIT_FAIL;
	else
		status = PB_EXIT_OK;
	atomic_store(&srv.stopping, true);   /* also when the loop failed */
	/* The listeners close first: the retry thread may be in an upstream
	 * step (bounded by the upstream timeout); it ends with the sessions. */
	drain(&srv, o->upstream_timeout);
	retry_stop(&srv);
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
