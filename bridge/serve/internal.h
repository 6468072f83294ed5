/* bridge/serve/internal.h — what the pieces of `popbridge serve` share; not
 * for use outside bridge/serve/ (serve.h is the service's interface).
 *
 * The pieces, one job each:
 *   serve.c          serve_run(): start-up steps, the Sent copies' retry
 *                    thread, draining at stop, freeing;
 *   generation.c     the settings generations (struct serve_gen): what a
 *                    session started with, reference counted;
 *   accept.c         the listener thread: accepting, admission, refusing
 *                    ("too many sessions", the rate-limited event=refused);
 *   session_thread.c one connection's thread: the PROXY header, the POP3,
 *                    IMAP front or SMTP session, its counts for the metrics
 *                    and its one log line;
 *   reload.c         what the signals do (bridge/serve/signals.h runs them):
 *                    stop, and reload with the start-only settings kept;
 *   gauges.c         the metrics endpoint's glue: the service's live gauges
 *                    and the state file's.
 *
 * Contract:
 *  - struct serve lives in serve_run()'s frame from start to exit; every
 *    other thread (sessions, signals, retry, metrics) gets a pointer to it
 *    and must be done with it before serve_run() frees it (the registry
 *    says when the sessions are; serve_signals_stop(), the retry's join and
 *    serve_metrics_stop() for the others).
 *  - srv->cur changes only under srv->lock (serve_on_reload()); a reader
 *    takes its own reference with serve_gen_current() and drops it with
 *    serve_gen_unref().
 *  - A struct serve_job is owned by its session thread once
 *    serve_session_main() runs: the thread frees it, drops its generation,
 *    gives its slot back and leaves the registry last.
 */
#ifndef BRIDGE_SERVE_INTERNAL_H
#define BRIDGE_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "bridge/base/addrkey.h"
#include "bridge/base/stats.h"
#include "bridge/config/cmdline.h"
#include "bridge/maildrop/backend.h"
#include "bridge/serve/listen.h"
#include "bridge/serve/metrics.h"
#include "bridge/serve/registry.h"
#include "bridge/serve/sessions.h"
#include "bridge/submit/relay.h"
#include "pop3/server.h"

/* One generation of settings: what a session started with. */
struct serve_gen {
	atomic_uint refs;
	struct config_options opt;
	struct pop3_tls *tls;        /* one reference; NULL without a certificate */
};

/* The running service: serve_run()'s, shared by every thread it starts. */
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

/* One accepted connection, handed by the listener (accept.c) to its
 * session thread (session_thread.c). */
struct serve_job {
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

/* generation.c */
/* Settings and their TLS context (loaded here) as a new generation with one
 * reference; takes over what *opt owns (it is left empty). NULL: err says. */
struct serve_gen *serve_gen_new(struct config_options *opt, char *err, size_t errlen);
struct serve_gen *serve_gen_ref(struct serve_gen *g);
void serve_gen_unref(struct serve_gen *g);           /* NULL: nothing */
/* The generation new sessions get, with a reference of the caller's. */
struct serve_gen *serve_gen_current(struct serve *srv);

/* accept.c */
/* Accept until srv->stopping; -1 when poll() itself fails. */
int serve_accept_loop(struct serve *srv);
/* An event=refused line: limited (a refusal by the limits) at most once per
 * 10 s with the count of those left out, otherwise always. */
void serve_log_refused(const char *remote, const char *why, bool limited);
/* "Too many sessions" in l's protocol (nothing on implicit TLS). */
void serve_too_many(int fd, const struct serve_listener *l);

/* session_thread.c */
/* The session thread's body; arg is a struct serve_job. */
void *serve_session_main(void *arg);

/* reload.c: the handlers of bridge/serve/signals.h; arg is the struct serve */
void serve_on_stop(void *arg, int sig);
void serve_on_reload(void *arg);

/* gauges.c */
/* --metrics-listen: the endpoint, bound before the privilege drop as the
 * listeners are; its service gauges count once srv->metrics_ready is set.
 * 0 without the option. */
int serve_gauges_start(struct serve *srv, const struct config_options *o, char *err,
    size_t errlen);

#endif
