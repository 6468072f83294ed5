/* bridge/base/http.c — popbridge's HTTP endpoints on libmicrohttpd (see
 * http.h). */
#include "bridge/base/http.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/log.h"

#define DEFAULT_CONNECTIONS 256
#define DEFAULT_TIMEOUT_S   10
#define DEFAULT_MEMORY      (16 * 1024)
#define TEXT_MIN_CAP        1024

struct base_http_server {
	struct MHD_Daemon *d;
	base_http_handler *handler;
	void *arg;
	uint16_t port;
};

struct base_http_req {
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	char peer[INET6_ADDRSTRLEN];
};

const char *base_http_req_method(const struct base_http_req *r) { return r->method; }
const char *base_http_req_path(const struct base_http_req *r) { return r->path; }
const char *base_http_req_peer(const struct base_http_req *r) { return r->peer; }

const char *base_http_req_header(const struct base_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- bounded text -------------------------------------------------------------- */

static void text_vadd(struct base_http_text *t, const char *fmt, va_list ap)
{
	size_t max = t->max ? t->max : BASE_HTTP_BODY_MAX;
	va_list ap2;

	if (t->over)
		return;
	va_copy(ap2, ap);
	int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		t->over = true;
		return;
	}
	if (t->p && (size_t)n < t->cap - t->len) {
		t->len += (size_t)n;
		return;
	}
	if (t->len + (size_t)n + 1 > max) {
		t->over = true;
		return;
	}
	size_t cap = t->cap ? t->cap : TEXT_MIN_CAP;
	while (cap < t->len + (size_t)n + 1)
		cap *= 2;
	if (cap > max)
		cap = max;
	char *p = realloc(t->p, cap);
	if (!p) {
		t->over = true;
		return;
	}
	t->p = p;
	t->cap = cap;
	vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	t->len += (size_t)n;
}

void base_http_text_add(struct base_http_text *t, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	text_vadd(t, fmt, ap);
	va_end(ap);
}

void base_http_text_free(struct base_http_text *t)
{
	free(t->p);
	t->p = NULL;
	t->len = t->cap = 0;
	t->over = false;
}

void base_http_reply_header(struct base_http_reply *r, const char *name, const char *fmt, ...)
{
	if (r->n_headers >= BASE_HTTP_HEADERS_MAX) {
		r->bad = true;
		return;
	}
	char *v = r->headers[r->n_headers].value;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(v, BASE_HTTP_VALUE_MAX + 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n > BASE_HTTP_VALUE_MAX || strpbrk(v, "\r\n") != NULL) {
		r->bad = true;
		return;
	}
	r->headers[r->n_headers++].name = name;
}

/* ---- the library's side ---------------------------------------------------------- */

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[300];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	base_log(PB_LOG_DEBUG, "http", "%s", msg);
}

static enum MHD_Result send_text(struct MHD_Connection *conn, unsigned status,
    const char *text, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static void peer_text(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	buf[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	socklen_t sl = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, sl, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
		buf[0] = '\0';
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct base_http_server *s = cls;
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;

	/* Answered at the first call: nothing of a body is ever read. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
		    "GET, HEAD");

	struct base_http_req req = { .conn = conn, .method = method, .path = url };
	peer_text(conn, req.peer, sizeof(req.peer));
	struct base_http_reply rep;
	memset(&rep, 0, sizeof(rep));
	rep.status = MHD_HTTP_OK;
	s->handler(s->arg, &req, &rep);
	if (rep.bad || rep.body.over || rep.status < 100 || rep.status > 599) {
		base_http_text_free(&rep.body);
		base_log(PB_LOG_ERROR, "http", "%s: the answer did not fit its bounds", url);
		return send_text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error\n", NULL);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(rep.body.len,
	    rep.body.p ? rep.body.p : (void *)"", MHD_RESPMEM_MUST_COPY);
	base_http_text_free(&rep.body);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rep.content_type ? rep.content_type : "text/plain; charset=utf-8");
	for (size_t i = 0; i < rep.n_headers; i++)
		MHD_add_response_header(r, rep.headers[i].name, rep.headers[i].value);
	enum MHD_Result rc = MHD_queue_response(conn, rep.status, r);
	MHD_destroy_response(r);
	return rc;
}

struct base_http_server *base_http_start(const char *addr, uint16_t port,
    const struct base_http_limits *lim, base_http_handler *handler, void *arg,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;

	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		flags |= MHD_USE_IPv6;
	} else {
		base_errf(err, errlen, "%s is not a numeric IPv4 or IPv6 address", addr);
		return NULL;
	}
	struct base_http_server *s = calloc(1, sizeof(*s));
	if (!s) {
		base_errf(err, errlen, "out of memory");
		return NULL;
	}
	s->handler = handler;
	s->arg = arg;
	unsigned conns = lim && lim->connections ? lim->connections : DEFAULT_CONNECTIONS;
	unsigned per_ip = lim ? lim->per_ip : 0;
	unsigned timeout = lim && lim->timeout_s ? lim->timeout_s : DEFAULT_TIMEOUT_S;
	size_t memory = lim && lim->memory ? lim->memory : DEFAULT_MEMORY;
	s->d = MHD_start_daemon(flags, port, NULL, NULL, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,   /* first, as the library wants */
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, conns,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, timeout,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, memory,
	    MHD_OPTION_END);
	if (!s->d) {
		free(s);
		base_errf(err, errlen, "cannot listen on %s%s%s:%u (address in use, or not "
		    "this machine's)", flags & MHD_USE_IPv6 ? "[" : "", addr,
		    flags & MHD_USE_IPv6 ? "]" : "", (unsigned)port);
		return NULL;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : port;
	return s;
}

uint16_t base_http_port(const struct base_http_server *s)
{
	return s->port;
}

void base_http_stop(struct base_http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
