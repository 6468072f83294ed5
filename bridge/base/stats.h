/* bridge/base/stats.h — the process's counters behind `serve
 * --metrics-listen` (SPEC §14): what the front ends (POP3, the IMAP front,
 * SMTP submission), the device login, the upstream login and OAuth2 count
 * as they go. bridge/serve/metrics.h reads them at each scrape and writes
 * them in the Prometheus text format.
 *
 * Contract:
 *  - One set per process, all zero at start. Every counting call is one or
 *    two relaxed atomic additions: no lock, no allocation, no system call,
 *    safe from any thread; counting never slows a session.
 *  - base_stats_read() copies every value, each one atomically; the copy is
 *    not one instant of the whole (a scrape may see a session counted in
 *    `sessions` an instant before its `open` gauge went down), which is
 *    what Prometheus expects of independent series.
 *  - Labels are the fixed words of the small enums below, never an
 *    account, a device, an address or a server's text: the set of series
 *    is fixed at compile time.
 *  - Who counts what:
 *      sessions, open: the session's owner (bridge/serve/session_thread.c): open at
 *        the moment the session logs in (base_stats_session_open), closed
 *        once when it ends (base_stats_session_end, which also counts it by
 *        protocol and result); a connection that never logged in is
 *        base_stats_connection_end instead — each connection is exactly one
 *        of the two;
 *      logins_failed, bytes_sent, retrieved, deleted: the session's owner,
 *        from the session's own figures when it ends;
 *      login_delay_refusals: the device login (bridge/maildrop/login.c);
 *      upstream_logins, the login histogram, upstream_unpooled: the
 *        upstream login (bridge/maildrop/upstream.c);
 *      oauth2_refresh: bridge/oauth2/access.c, once per token request.
 */
#ifndef BRIDGE_BASE_STATS_H
#define BRIDGE_BASE_STATS_H

#include <stdint.h>

/* The protocol label: "pop3", "imap", "smtp". */
enum base_proto { BASE_PROTO_POP3, BASE_PROTO_IMAP, BASE_PROTO_SMTP, BASE_PROTO_N };

/* How a session that logged in ended (result label of sessions_total):
 *  ok            the client ended it (POP3 QUIT with its commit done, SMTP
 *                QUIT; the IMAP front: either side closed the connection —
 *                nothing is parsed after login, so a LOGOUT and a client
 *                that just closes look the same)
 *  dropped       the client went away without QUIT
 *  timeout       idle too long
 *  revoked       the device was revoked meanwhile (the IMAP front)
 *  client_error  the client's mistakes ended it (too many bad commands, a
 *                line too long)
 *  failed        popbridge or the upstream failed it (a commit or a fetch
 *                failed, an internal error) */
enum base_session_end {
	BASE_END_OK, BASE_END_DROPPED, BASE_END_TIMEOUT, BASE_END_REVOKED,
	BASE_END_CLIENT_ERROR, BASE_END_FAILED, BASE_END_N
};

/* How a connection that never logged in ended (result label of
 * connections_total):
 *  quit          QUIT or LOGOUT without a login (a client asking CAPA, a
 *                login refused for another reason than the password)
 *  health_check  a trusted proxy's PROXY LOCAL connection that only quit
 *                (`popbridge route`'s node check)
 *  auth_failed   at least one failed login and none that succeeded
 *  dropped       the client went away
 *  timeout       the login deadline passed
 *  client_error  too many bad commands, a line too long, a failed TLS
 *                handshake
 *  failed        popbridge failed it (out of memory, an internal error)
 *  refused       refused at accept: --max-sessions, --max-sessions-per-ip,
 *                the pre-login share, or out of resources
 *  proxy_error   a trusted proxy's connection without a valid PROXY header */
enum base_conn_end {
	BASE_CONN_QUIT, BASE_CONN_HEALTH_CHECK, BASE_CONN_AUTH_FAILED, BASE_CONN_DROPPED,
	BASE_CONN_TIMEOUT, BASE_CONN_CLIENT_ERROR, BASE_CONN_FAILED, BASE_CONN_REFUSED,
	BASE_CONN_PROXY_ERROR, BASE_CONN_N
};

/* An upstream login (result label of upstream_logins_total):
 *  new      a new connection logged in (timed in the histogram)
 *  reused   a kept connection was taken (SPEC §9)
 *  refused  the server refused the credentials
 *  failed   anything else: unreachable, TLS, timeout, the per-account cap */
enum base_upstream_login { BASE_UP_NEW, BASE_UP_REUSED, BASE_UP_REFUSED, BASE_UP_FAILED,
	BASE_UP_N };

/* A request to an OAuth2 token endpoint (SPEC §10):
 *  ok         a new access token, stored
 *  temporary  unreachable, failing, or the new token could not be stored
 *  refused    invalid_grant or the client refused: an administrator must act */
enum base_oauth2_refresh { BASE_OAUTH2_OK, BASE_OAUTH2_TEMPORARY, BASE_OAUTH2_REFUSED,
	BASE_OAUTH2_N };

/* The upstream login histogram's upper bounds, in milliseconds (its le
 * labels are the same in seconds); a last bucket holds what is above. */
#define BASE_STATS_LOGIN_BUCKETS 12
extern const uint32_t base_stats_login_bucket_ms[BASE_STATS_LOGIN_BUCKETS];

/* A copy of the counters (base_stats_read). */
struct base_stats {
	uint64_t sessions[BASE_PROTO_N][BASE_END_N];
	uint64_t open[BASE_PROTO_N];           /* logged in and not ended */
	uint64_t connections[BASE_CONN_N];
	uint64_t logins_failed[BASE_PROTO_N];
	uint64_t login_delay_refusals;
	uint64_t bytes_sent[BASE_PROTO_N];
	uint64_t retrieved;                    /* POP3 RETRs completed */
	uint64_t deleted;                      /* POP3 DELEs of committed sessions */
	uint64_t upstream_logins[BASE_UP_N];
	/* new logins by duration: [i] for base_stats_login_bucket_ms[i - 1] <
	 * ms <= [i] (not cumulative), [BUCKETS] above the last bound */
	uint64_t login_buckets[BASE_STATS_LOGIN_BUCKETS + 1];
	uint64_t login_ms_sum;
	uint64_t upstream_unpooled;            /* upstream connections in use that
	                                          the pool does not count */
	uint64_t oauth2_refresh[BASE_OAUTH2_N];
};

/* The label words; NULL for a value out of range. */
const char *base_proto_name(enum base_proto p);
const char *base_session_end_name(enum base_session_end e);
const char *base_conn_end_name(enum base_conn_end e);
const char *base_upstream_login_name(enum base_upstream_login r);
const char *base_oauth2_refresh_name(enum base_oauth2_refresh r);
/* "pop3" -> BASE_PROTO_POP3 ...; BASE_PROTO_N for anything else. */
enum base_proto base_proto_lookup(const char *name);

void base_stats_session_open(enum base_proto p);
void base_stats_session_end(enum base_proto p, enum base_session_end e);
void base_stats_connection_end(enum base_conn_end e);
void base_stats_logins_failed(enum base_proto p, uint64_t n);
void base_stats_bytes_sent(enum base_proto p, uint64_t n);
void base_stats_messages(uint64_t retrieved, uint64_t deleted);
void base_stats_login_delay_refused(void);
/* ms: how long a new connection took to log in (BASE_UP_NEW only). */
void base_stats_upstream_login(enum base_upstream_login r, uint64_t ms);
/* A connection outside the pool's count opened (+1) or closed (-1). */
void base_stats_upstream_unpooled(int delta);
void base_stats_oauth2_refresh(enum base_oauth2_refresh r);

void base_stats_read(struct base_stats *out);

#endif
