/* bridge/serve/metrics.h — `serve --metrics-listen ADDR:PORT` (SPEC §14):
 * the Prometheus text format (0.0.4) at GET /metrics, and nothing else on
 * that address (every other path is a 404).
 *
 * Contract:
 *  - serve_metrics_start() binds ADDR:PORT through bridge/base/http.h (one
 *    thread of libmicrohttpd; at most SERVE_METRICS_CONNECTIONS connections
 *    at once, 10 s of silence, 16 KiB of request per connection, GET and
 *    HEAD only) and serves until serve_metrics_stop(). There is no
 *    authentication: the address is for a private network.
 *  - A scrape reads the process's counters (bridge/base/stats.h: atomics,
 *    nothing a session waits for), then asks `now` for what the service
 *    knows at this instant (connections before login, the session limit,
 *    the upstream pool's counts). Until `now` says ready (the service is
 *    still starting: privileges not yet dropped, the state file not yet
 *    checked) those families are left out, and so are the state gauges.
 *  - State gauges (struct serve_metrics_gauge) are values read from the
 *    state file with a short query: the endpoint's thread opens the file,
 *    reads every gauge, closes it, and answers from that reading for
 *    SERVE_METRICS_CACHE_S seconds (on cfg.clock: the monotonic clock, or
 *    a test's), so scrapes cost the state file at most one open every
 *    SERVE_METRICS_CACHE_S seconds however often they come.
 *    A gauge whose read fails is left out of the answer (logged at warn,
 *    once until it reads again): absent, never a made-up value.
 *  - Only the endpoint's one thread touches the cache and the state file's
 *    connection; the counters are read atomically.
 *  - serve_metrics_render() is the text of one scrape from given values,
 *    without I/O: what the unit test checks line by line. Label values are
 *    fixed words (protocols, results, states): never an account, a device
 *    or an address.
 */
#ifndef BRIDGE_SERVE_METRICS_H
#define BRIDGE_SERVE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/base/clock.h"
#include "bridge/base/http.h"
#include "bridge/base/stats.h"
#include "state/state.h"

#define SERVE_METRICS_CONNECTIONS 32   /* scrapers at once */
#define SERVE_METRICS_CACHE_S 5        /* state gauges are read this often at most */
#define SERVE_METRICS_GAUGES_MAX 8

/* A gauge read from the state file at scrape time: 0 with *value, or -1
 * (the reason is state_errmsg(db)). */
typedef int serve_metrics_state_fn(struct state_db *db, uint64_t *value);
struct serve_metrics_gauge {
	const char *name;                 /* popbridge_..., a literal */
	const char *help;
	serve_metrics_state_fn *read;
};

/* What the service knows at the instant of a scrape. */
struct serve_metrics_now {
	bool ready;                       /* set up: the fields below hold */
	uint64_t prelogin;                /* admitted connections not logged in */
	uint64_t sessions_max;            /* --max-sessions in force */
	uint64_t pool_busy;               /* the pool's slots in use (POP3
	                                     sessions' upstream connections;
	                                     the others are base_stats'
	                                     upstream_unpooled) */
	uint64_t pool_kept;               /* kept in the pool for reuse */
};
typedef void serve_metrics_now_fn(void *arg, struct serve_metrics_now *now);

/* One scrape's values. */
struct serve_metrics_values {
	const char *version;
	int64_t start_time;               /* unix seconds */
	unsigned protocols;               /* 1 << BASE_PROTO_*: the protocols
	                                     this service speaks, each with its
	                                     series */
	struct base_stats s;
	struct serve_metrics_now now;
	size_t n_gauges;                  /* state gauges read (a failed one is
	                                     not among them) */
	struct {
		const char *name, *help;
		uint64_t value;
	} gauges[SERVE_METRICS_GAUGES_MAX];
};

void serve_metrics_render(const struct serve_metrics_values *v, struct base_http_text *t);

struct serve_metrics_config {
	const char *addr;                 /* numeric IPv4 or IPv6, no brackets */
	uint16_t port;
	const char *state;                /* the state file */
	unsigned protocols;               /* as in serve_metrics_values */
	const struct serve_metrics_gauge *gauges;   /* copied */
	size_t n_gauges;                  /* at most SERVE_METRICS_GAUGES_MAX */
	serve_metrics_now_fn *now;
	void *now_arg;
	base_clock_fn *clock;             /* the gauges' cache clock; NULL:
	                                     base_clock_ms (tests drive it) */
	void *clock_arg;
};

struct serve_metrics;
/* NULL with the reason in err (address in use, not this machine's, ...). */
struct serve_metrics *serve_metrics_start(const struct serve_metrics_config *cfg, char *err,
    size_t errlen);
/* The port it listens on (the one bound when port 0 was asked). */
uint16_t serve_metrics_port(const struct serve_metrics *m);
/* Stops the thread, closes every connection, frees. NULL is a no-op. */
void serve_metrics_stop(struct serve_metrics *m);

#endif
