/* bridge/base/http.h — popbridge's own small HTTP endpoints, served by
 * libmicrohttpd: `popbridge route` (nginx's auth_http at /auth, and
 * /metrics) and the metrics endpoint of `serve` (SPEC §14). No HTTP is
 * parsed or written by hand anywhere in popbridge: the request line, the
 * headers, their limits and the answer's framing are the library's.
 *
 * Contract:
 *  - base_http_start() binds ADDR:PORT (numeric IPv4 or IPv6 without
 *    brackets) and serves it from one internal thread of libmicrohttpd
 *    until base_http_stop(). Requests are answered one after another in
 *    that thread: the handler must be quick and must not block on the
 *    network (route's answers are a hash and a table look-up; metrics are a
 *    few counters).
 *  - Only GET and HEAD reach the handler, and only requests without a body;
 *    anything else is answered 405 (Allow: GET, HEAD) without calling it.
 *  - Bounds (struct base_http_limits, each with a default when 0): at most
 *    `connections` connections at once (more are refused at accept), at
 *    most `per_ip` of them from one address, `memory` octets per connection
 *    for the request line, the headers and the answer's headers (a request
 *    that does not fit is answered 431 by the library), `timeout_s` seconds
 *    of silence before a connection is closed. Answer bodies are built in
 *    memory up to BASE_HTTP_BODY_MAX octets (the handler's text beyond that
 *    makes the answer a 500).
 *  - The handler fills a struct base_http_reply: status (default 200), up to
 *    BASE_HTTP_HEADERS_MAX headers (names are literals; values are copied,
 *    at most BASE_HTTP_VALUE_MAX octets, CR/LF/NUL refused) and the body.
 *  - Library diagnostics go to the log (event=http, level debug): a client's
 *    malformed request is no operator's problem.
 */
#ifndef BRIDGE_BASE_HTTP_H
#define BRIDGE_BASE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BASE_HTTP_HEADERS_MAX 8
#define BASE_HTTP_VALUE_MAX   200
#define BASE_HTTP_BODY_MAX    (1024 * 1024)

struct base_http_limits {
	unsigned connections;   /* at once; 0: 256 */
	unsigned per_ip;        /* at once from one address; 0: no limit of its own */
	unsigned timeout_s;     /* silence before a connection is closed; 0: 10 */
	size_t memory;          /* per connection; 0: 16 KiB */
};

/* A request, valid during the handler's call. */
struct base_http_req;
const char *base_http_req_method(const struct base_http_req *r);  /* "GET", "HEAD" */
const char *base_http_req_path(const struct base_http_req *r);    /* "/auth" */
/* The value of header `name` (case-insensitive), NULL when absent. */
const char *base_http_req_header(const struct base_http_req *r, const char *name);
/* The peer's numeric address ("127.0.0.1"), "" when unknown. */
const char *base_http_req_peer(const struct base_http_req *r);

/* A text that grows up to a bound: the answer's body, and the Prometheus
 * text of base/metrics.h. */
struct base_http_text {
	char *p;                /* NUL-terminated; NULL while empty */
	size_t len, cap;
	size_t max;             /* 0: BASE_HTTP_BODY_MAX */
	bool over;              /* something did not fit, or memory ran out */
};
void base_http_text_add(struct base_http_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void base_http_text_free(struct base_http_text *t);

struct base_http_reply {
	unsigned status;        /* 200 unless the handler says otherwise */
	const char *content_type; /* NULL: text/plain; charset=utf-8 */
	size_t n_headers;
	struct {
		const char *name;
		char value[BASE_HTTP_VALUE_MAX + 1];
	} headers[BASE_HTTP_HEADERS_MAX];
	struct base_http_text body;
	bool bad;               /* a header did not fit or was refused: a 500 goes */
};
/* Add header name (a literal) with a printf value. */
void base_http_reply_header(struct base_http_reply *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void base_http_handler(void *arg, const struct base_http_req *req,
    struct base_http_reply *rep);

struct base_http_server;
/* NULL with the reason in err (address in use, a bad address, ...). */
struct base_http_server *base_http_start(const char *addr, uint16_t port,
    const struct base_http_limits *lim, base_http_handler *handler, void *arg,
    char *err, size_t errlen);
/* Stops accepting, closes every connection, joins the thread, frees. NULL
 * is a no-op. */
void base_http_stop(struct base_http_server *s);
/* The port it listens on (the one bound when port 0 was asked). */
uint16_t base_http_port(const struct base_http_server *s);

#endif
