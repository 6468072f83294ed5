/* bridge/route/route.c — `popbridge route` at run time: the checks, the
 * HTTP endpoints, the counters (see route.h). */
#include "bridge/route/route.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/http.h"
#include "bridge/base/log.h"
#include "bridge/base/metrics.h"
#include "bridge/base/version.h"
#include "bridge/route/auth.h"
#include "bridge/route/check.h"

/* A check's reason for a node down: one line of the log. */
#define WHY_MAX 200

struct route_rt;

struct checker {
	struct route_rt *rt;
	size_t i;
	pthread_t t;
	bool started;
};

struct route_rt {
	const struct route_config *cfg;
	unsigned check_timeout_ms;
	atomic_bool up[ROUTE_NODES_MAX];
	atomic_uint_fast64_t requests[ROUTE_NODES_MAX][ROUTE_R_COUNT];
	atomic_uint_fast64_t unrouted[ROUTE_R_COUNT];
	atomic_uint_fast64_t checks_failed[ROUTE_NODES_MAX];

	pthread_mutex_t lock;
	pthread_cond_t cond;         /* CLOCK_MONOTONIC */
	bool stopping;
	size_t first_done;           /* nodes that had their first check */
	struct checker ck[ROUTE_NODES_MAX];
};

/* ---- health checks -------------------------------------------------------------- */

static void log_node(const struct route_rt *rt, size_t i, bool up, const char *why,
    bool first)
{
	const struct route_node *nd = &rt->cfg->nodes[i];
	char addr[INET6_ADDRSTRLEN + 10];
	struct base_logline l;

	snprintf(addr, sizeof(addr), "%s%s%s:%u", nd->ipv6 ? "[" : "", nd->addr,
	    nd->ipv6 ? "]" : "", (unsigned)nd->port[ROUTE_POP3]);
	base_logline_start(&l, up || first ? PB_LOG_INFO : PB_LOG_WARN, "node");
	base_logline_str(&l, "node", nd->name);
	base_logline_str(&l, "addr", addr);
	base_logline_str(&l, "state", up ? "up" : "down");
	if (!up)
		base_logline_str(&l, "reason", why);
	base_logline_emit(&l);
}

static void *checker_main(void *arg)
{
	struct checker *ck = arg;
	struct route_rt *rt = ck->rt;
	size_t i = ck->i;
	bool first = true;

	for (;;) {
		char why[WHY_MAX] = "";
		bool up = route_check_node(&rt->cfg->nodes[i], rt->check_timeout_ms, why,
		    sizeof(why)) == 0;
		bool was = atomic_exchange(&rt->up[i], up);
		if (!up)
			atomic_fetch_add(&rt->checks_failed[i], 1);
		if (first || was != up)
			log_node(rt, i, up, why, first);

		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += rt->cfg->check_interval_s;
		pthread_mutex_lock(&rt->lock);
		if (first) {
			rt->first_done++;
			pthread_cond_broadcast(&rt->cond);
			first = false;
		}
		while (!rt->stopping &&
		    pthread_cond_timedwait(&rt->cond, &rt->lock, &until) != ETIMEDOUT)
			;
		bool stop = rt->stopping;
		pthread_mutex_unlock(&rt->lock);
		if (stop)
			break;
	}
	OPENSSL_thread_stop();
	return NULL;
}

static void stop_checkers(struct route_rt *rt)
{
	pthread_mutex_lock(&rt->lock);
	rt->stopping = true;
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
	for (size_t i = 0; i < rt->cfg->n_nodes; i++)
		if (rt->ck[i].started)
			pthread_join(rt->ck[i].t, NULL);
}

/* ---- HTTP ------------------------------------------------------------------------ */

static void answer_auth(struct route_rt *rt, const struct base_http_req *req,
    struct base_http_reply *rep)
{
	const struct route_config *cfg = rt->cfg;
	bool up[ROUTE_NODES_MAX];
	struct route_auth_out out;

	for (size_t i = 0; i < cfg->n_nodes; i++)
		up[i] = atomic_load(&rt->up[i]);
	struct route_auth_in in = {
		.user = base_http_req_header(req, "Auth-User"),
		.protocol = base_http_req_header(req, "Auth-Protocol"),
		.nodes = cfg->nodes, .n_nodes = cfg->n_nodes, .up = up, .sep = cfg->sep,
	};
	route_auth_answer(&in, rep, &out);
	bool routed = out.result == ROUTE_R_OK || out.result == ROUTE_R_DOWN ||
	    out.result == ROUTE_R_NO_PORT;
	if (routed)
		atomic_fetch_add(&rt->requests[out.node][out.result], 1);
	else
		atomic_fetch_add(&rt->unrouted[out.result], 1);
	if (!base_log_enabled(PB_LOG_DEBUG))
		return;
	struct base_logline l;
	const char *client = base_http_req_header(req, "Client-IP");
	base_logline_start(&l, PB_LOG_DEBUG, "auth");
	base_logline_str(&l, "protocol", out.proto >= 0 ? route_proto_name(out.proto) : NULL);
	base_logline_str(&l, "client", client ? client : base_http_req_peer(req));
	base_logline_str(&l, "node", routed ? cfg->nodes[out.node].name : NULL);
	base_logline_str(&l, "result", route_result_name(out.result));
	base_logline_emit(&l);
}

static void answer_metrics(struct route_rt *rt, struct base_http_reply *rep)
{
	const struct route_config *cfg = rt->cfg;
	struct base_http_text *t = &rep->body;

	rep->content_type = BASE_METRICS_CONTENT_TYPE;
	base_metrics_family(t, "popbridge_route_requests_total", "counter",
	    "auth_http requests answered, by the account's node and the answer");
	for (size_t i = 0; i < cfg->n_nodes; i++)
		for (int r = ROUTE_R_OK; r <= ROUTE_R_NO_PORT; r++) {
			const char *lab[] = { "node", cfg->nodes[i].name,
			    "result", route_result_name(r) };
			base_metrics_u64(t, "popbridge_route_requests_total", lab, 2,
			    atomic_load(&rt->requests[i][r]));
		}
	base_metrics_family(t, "popbridge_route_unrouted_total", "counter",
	    "auth_http requests answered without a node");
	for (int r = ROUTE_R_BAD; r < ROUTE_R_COUNT; r++) {
		const char *lab[] = { "reason", route_result_name(r) };
		base_metrics_u64(t, "popbridge_route_unrouted_total", lab, 1,
		    atomic_load(&rt->unrouted[r]));
	}
	base_metrics_family(t, "popbridge_node_up", "gauge",
	    "1 when the node's last health check passed, else 0");
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const char *lab[] = { "node", cfg->nodes[i].name };
		base_metrics_u64(t, "popbridge_node_up", lab, 1, atomic_load(&rt->up[i]) ? 1 : 0);
	}
	base_metrics_family(t, "popbridge_route_checks_failed_total", "counter",
	    "health checks that found the node down");
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		const char *lab[] = { "node", cfg->nodes[i].name };
		base_metrics_u64(t, "popbridge_route_checks_failed_total", lab, 1,
		    atomic_load(&rt->checks_failed[i]));
	}
}

static void on_http(void *arg, const struct base_http_req *req, struct base_http_reply *rep)
{
	struct route_rt *rt = arg;
	const char *path = base_http_req_path(req);

	if (strcmp(path, "/auth") == 0) {
		answer_auth(rt, req, rep);
	} else if (strcmp(path, "/metrics") == 0) {
		answer_metrics(rt, rep);
	} else {
		rep->status = 404;
		base_http_text_add(&rep->body, "not found: popbridge route serves /auth and "
		    "/metrics\n");
	}
}

/* ---- the run ----------------------------------------------------------------------- */

static int wait_first_checks(struct route_rt *rt)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += rt->check_timeout_ms / 1000 + 2;
	pthread_mutex_lock(&rt->lock);
	while (rt->first_done < rt->cfg->n_nodes &&
	    pthread_cond_timedwait(&rt->cond, &rt->lock, &until) != ETIMEDOUT)
		;
	int rc = rt->first_done == rt->cfg->n_nodes ? 0 : -1;
	pthread_mutex_unlock(&rt->lock);
	return rc;
}

static int wait_for_stop(const sigset_t *set)
{
	for (;;) {
		int sig;
		if (sigwait(set, &sig) != 0)
			return -1;
		if (sig == SIGHUP) {
			base_log(PB_LOG_INFO, "signal", "SIGHUP: nothing to reload (the nodes are "
			    "the command line; restart to change them)");
			continue;
		}
		base_log(PB_LOG_INFO, "signal", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
		return 0;
	}
}

int route_run(const struct route_config *cfg, char *err, size_t errlen)
{
	static struct route_rt rt;   /* large (counters); one run per process */
	sigset_t set;
	pthread_condattr_t ca;
	struct base_http_server *http = NULL;
	int status = 1;

	memset(&rt, 0, sizeof(rt));
	rt.cfg = cfg;
	unsigned t = cfg->check_interval_s < ROUTE_CHECK_TIMEOUT_S ? cfg->check_interval_s :
	    ROUTE_CHECK_TIMEOUT_S;
	rt.check_timeout_ms = t * 1000u;
	pthread_mutex_init(&rt.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rt.cond, &ca);
	pthread_condattr_destroy(&ca);

	/* Every thread started from here on inherits the mask: the signals
	 * arrive at sigwait() only. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGPIPE);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		base_errf(err, errlen, "cannot set up signals");
		goto out;
	}
	sigdelset(&set, SIGPIPE);

	for (size_t i = 0; i < cfg->n_nodes; i++) {
		rt.ck[i].rt = &rt;
		rt.ck[i].i = i;
		if (pthread_create(&rt.ck[i].t, NULL, checker_main, &rt.ck[i]) != 0) {
			base_errf(err, errlen, "cannot start a thread");
			goto out;
		}
		rt.ck[i].started = true;
	}
	if (wait_first_checks(&rt) != 0)
		base_log(PB_LOG_WARN, "start", "not every node answered its first check in time; "
		    "serving anyway (those count as down)");
	struct base_http_limits lim = { .connections = ROUTE_HTTP_CONNECTIONS };
	http = base_http_start(cfg->listen_addr, cfg->listen_port, &lim, on_http, &rt, err,
	    errlen);
	if (!http)
		goto out;

	struct base_logline l;
	char listen[INET6_ADDRSTRLEN + 10];
	bool v6 = strchr(cfg->listen_addr, ':') != NULL;
	snprintf(listen, sizeof(listen), "%s%s%s:%u", v6 ? "[" : "", cfg->listen_addr,
	    v6 ? "]" : "", (unsigned)base_http_port(http));
	base_logline_start(&l, PB_LOG_INFO, "ready");
	base_logline_str(&l, "version", POPBRIDGE_VERSION);
	base_logline_str(&l, "listen", listen);
	base_logline_u64(&l, "nodes", cfg->n_nodes);
	base_logline_u64(&l, "check_interval", cfg->check_interval_s);
	base_logline_emit(&l);

	if (wait_for_stop(&set) != 0)
		base_errf(err, errlen, "sigwait failed");
	else
		status = 0;
out:
	base_http_stop(http);
	stop_checkers(&rt);
	pthread_cond_destroy(&rt.cond);
	pthread_mutex_destroy(&rt.lock);
	if (status == 0)
		base_log(PB_LOG_INFO, "stop", "popbridge route stopped");
	return status;
}
