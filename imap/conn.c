/* imap/conn.c — TCP and TLS client transport with deadlines (see conn.h). */
#include "imap/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static int set_err(struct imap_conn *c, enum imap_cause cause, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int set_err(struct imap_conn *c, enum imap_cause cause, const char *fmt, ...)
{
	va_list ap;
	c->cause = cause;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

long long imap_conn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define now_ms imap_conn_now_ms

/* ---- the progress budget (limits.h) ------------------------------------ */

/* Which limit sets the deadline of a read or write. */
enum limit { LIMIT_IDLE, LIMIT_RATE, LIMIT_CAP };

static long long cap_ms(const struct imap_conn *c)
{
	return (long long)c->timeout_ms * IMAP_COMMAND_TIMEOUTS;
}

/* Count the time since the budget was last brought up to date. */
static void budget_settle(struct imap_budget *b, long long now)
{
	long long dt = now - b->at_ms;
	if (dt <= 0)
		return;
	b->reserve_ms -= dt;
	if (!b->uncapped)
		b->used_ms += dt;
	b->at_ms = now;
}

void imap_conn_budget_begin(struct imap_conn *c)
{
	c->budget = (struct imap_budget){
		.on = true, .at_ms = now_ms(), .reserve_ms = c->timeout_ms,
	};
}

void imap_conn_budget_end(struct imap_conn *c)
{
	c->budget.on = false;
}

void imap_conn_budget_skip(struct imap_conn *c, long long ms)
{
	if (c->budget.on && ms > 0)
		c->budget.at_ms += ms;
}

void imap_conn_budget_uncap(struct imap_conn *c, bool on)
{
	if (!c->budget.on)
		return;
	budget_settle(&c->budget, now_ms());
	c->budget.uncapped = on;
}

/* n octets arrived: they earn time, up to the most reserve. */
static void budget_credit(struct imap_conn *c, size_t n)
{
	struct imap_budget *b = &c->budget;
	if (!b->on)
		return;
	budget_settle(b, now_ms());
	long long most = (long long)c->timeout_ms * IMAP_PROGRESS_RESERVE;
	long long earned = n >= IMAP_PROGRESS_OCTETS * (size_t)IMAP_PROGRESS_RESERVE ? most :
	    (long long)n * c->timeout_ms / IMAP_PROGRESS_OCTETS;
	b->reserve_ms = b->reserve_ms + earned > most ? most : b->reserve_ms + earned;
}

/* The deadline of a read or write starting now, and the limit that sets
 * it. A deadline not after now means the budget is spent already. */
static long long op_deadline(struct imap_conn *c, enum limit *which)
{
	long long now = now_ms(), d = now + c->timeout_ms;
	struct imap_budget *b = &c->budget;
	*which = LIMIT_IDLE;
	if (!b->on)
		return d;
	budget_settle(b, now);
	if (now + b->reserve_ms < d) {
		d = now + b->reserve_ms;
		*which = LIMIT_RATE;
	}
	if (!b->uncapped && now + cap_ms(c) - b->used_ms < d) {
		d = now + cap_ms(c) - b->used_ms;
		*which = LIMIT_CAP;
	}
	return d;
}

static int timed_out(struct imap_conn *c, enum limit which, const char *what)
{
	int t = c->timeout_ms / 1000;
	if (which == LIMIT_RATE)
		return set_err(c, IMAP_CAUSE_TIMEOUT,
		    "%s timed out: the server sent under %d octets per %d s", what,
		    IMAP_PROGRESS_OCTETS, t);
	if (which == LIMIT_CAP)
		return set_err(c, IMAP_CAUSE_TIMEOUT,
		    "%s timed out: the command took over %lld s", what, cap_ms(c) / 1000);
	return set_err(c, IMAP_CAUSE_TIMEOUT, "%s timed out", what);
}

/* Wait for events on fd until deadline: 1 ready, 0 timeout, -1 error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd pfd = { .fd = fd, .events = events };
		int r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

void imap_conn_init(struct imap_conn *c, unsigned timeout_s)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->timeout_ms = (int)(timeout_s ? timeout_s : IMAP_DEFAULT_TIMEOUT_S) * 1000;
}

static int connect_one(struct imap_conn *c, const struct addrinfo *ai, long long deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    ai->ai_protocol);
	if (fd < 0)
		return set_err(c, IMAP_CAUSE_CONNECT, "socket: %s", strerror(errno));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			set_err(c, IMAP_CAUSE_CONNECT, "connect: %s", strerror(errno));
			close(fd);
			return -1;
		}
		int w = wait_fd(fd, POLLOUT, deadline);
		if (w <= 0) {
			if (w == 0)
				set_err(c, IMAP_CAUSE_TIMEOUT, "connect: timed out");
			else
				set_err(c, IMAP_CAUSE_CONNECT, "connect: %s", strerror(errno));
			close(fd);
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			set_err(c, IMAP_CAUSE_CONNECT, "connect: %s", strerror(soerr ? soerr : errno));
			close(fd);
			return -1;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	return 0;
}

/* ---- name resolution --------------------------------------------------- */

static imap_resolve_fn *resolver;     /* NULL: getaddrinfo */
static atomic_uint resolves_stuck;

void imap_conn_set_resolver(imap_resolve_fn *fn)
{
	resolver = fn;
}

unsigned imap_conn_resolves_stuck(void)
{
	return atomic_load(&resolves_stuck);
}

/* One lookup, shared by the waiting caller and the resolver thread; the
 * last of the two to let go frees it (and any result nobody took). */
struct lookup {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	imap_resolve_fn *fn;
	int refs;
	bool done, abandoned;
	int rc;
	struct addrinfo *res;
	char port[16];
	char host[];
};

static void lookup_release(struct lookup *l)
{
	pthread_mutex_lock(&l->mu);
	bool last = --l->refs == 0;
	pthread_mutex_unlock(&l->mu);
	if (!last)
		return;
	if (l->res)
		freeaddrinfo(l->res);
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void *lookup_main(void *arg)
{
	struct lookup *l = arg;
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV,
	};
	struct addrinfo *res = NULL;
	int rc = l->fn(l->host, l->port, &hints, &res);
	pthread_mutex_lock(&l->mu);
	l->rc = rc;
	l->res = rc == 0 ? res : NULL;
	l->done = true;
	if (l->abandoned)
		atomic_fetch_sub(&resolves_stuck, 1);
	pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
	lookup_release(l);
	return NULL;
}

static struct lookup *lookup_new(const char *host, const char *port)
{
	size_t hl = strlen(host);
	struct lookup *l = calloc(1, sizeof(*l) + hl + 1);
	pthread_condattr_t ca;
	if (!l)
		return NULL;
	if (pthread_condattr_init(&ca) != 0) {
		free(l);
		return NULL;
	}
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	int e = pthread_cond_init(&l->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (e != 0 || pthread_mutex_init(&l->mu, NULL) != 0) {
		if (e == 0)
			pthread_cond_destroy(&l->cv);
		free(l);
		return NULL;
	}
	l->fn = resolver ? resolver : getaddrinfo;
	l->refs = 2;
	snprintf(l->port, sizeof(l->port), "%s", port);
	memcpy(l->host, host, hl + 1);
	return l;
}

/* Resolve a host name by the deadline; the lookup runs in a detached
 * thread that owns copies of its arguments, so one that hangs past the
 * deadline is left to finish (and clean up) on its own. */
static int resolve_name(struct imap_conn *c, const char *host, const char *port,
    long long deadline, struct addrinfo **res)
{
	if (atomic_load(&resolves_stuck) >= IMAP_RESOLVE_STUCK_MAX)
		return set_err(c, IMAP_CAUSE_TIMEOUT,
		    "cannot resolve host: %d earlier lookups are still hanging", IMAP_RESOLVE_STUCK_MAX);
	struct lookup *l = lookup_new(host, port);
	if (!l)
		return set_err(c, IMAP_CAUSE_RESOLVE, "cannot resolve host: out of memory");
	pthread_attr_t attr;
	pthread_t th;
	int e = pthread_attr_init(&attr);
	if (e == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		e = pthread_create(&th, &attr, lookup_main, l);
		pthread_attr_destroy(&attr);
	}
	if (e != 0) {
		l->refs = 1;
		lookup_release(l);
		return set_err(c, IMAP_CAUSE_RESOLVE, "cannot start a host lookup: %s", strerror(e));
	}
	struct timespec until = { .tv_sec = deadline / 1000,
	    .tv_nsec = (long)(deadline % 1000) * 1000000 };
	pthread_mutex_lock(&l->mu);
	while (!l->done) {
		e = pthread_cond_timedwait(&l->cv, &l->mu, &until);
		if (e != 0 && !l->done) {
			l->abandoned = true;
			atomic_fetch_add(&resolves_stuck, 1);
			break;
		}
	}
	int rc = l->rc;
	bool done = l->done;
	*res = l->res;
	l->res = NULL;
	pthread_mutex_unlock(&l->mu);
	lookup_release(l);
	if (!done)
		return set_err(c, IMAP_CAUSE_TIMEOUT, "cannot resolve host: no answer within %d s",
		    c->timeout_ms / 1000);
	if (rc != 0)
		return set_err(c, IMAP_CAUSE_RESOLVE, "cannot resolve host: %s", gai_strerror(rc));
	return 0;
}

int imap_conn_open(struct imap_conn *c, const char *host, unsigned port)
{
	struct addrinfo hints, *res = NULL;
	char portstr[16];
	long long deadline = now_ms() + c->timeout_ms;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	c->budget.on = false;
	snprintf(portstr, sizeof(portstr), "%u", port);
	/* An IP literal needs no resolver, and never waits for one. */
	int r = getaddrinfo(host, portstr, &hints, &res);
	if (r == EAI_NONAME) {
		if (resolve_name(c, host, portstr, deadline, &res) < 0)
			return -1;
	} else if (r != 0) {
		return set_err(c, IMAP_CAUSE_RESOLVE, "cannot resolve host: %s", gai_strerror(r));
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (connect_one(c, ai, deadline) == 0)
			break;
		if (c->cause == IMAP_CAUSE_TIMEOUT)
			break;
	}
	freeaddrinfo(res);
	return c->fd >= 0 ? 0 : -1;
}

static int tls_min_version(enum imap_tls_version v)
{
	switch (v) {
	case IMAP_TLS_1_0:
		return TLS1_VERSION;
	case IMAP_TLS_1_1:
		return TLS1_1_VERSION;
	case IMAP_TLS_1_3:
		return TLS1_3_VERSION;
	case IMAP_TLS_1_2:
	case IMAP_TLS_DEFAULT:
		break;
	}
	return TLS1_2_VERSION;
}

/* The OpenSSL error queue's first entry, then cleared. */
static const char *ssl_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", "unexpected end of stream");
	ERR_clear_error();
	return buf;
}

/* Drive a handshake step (SSL_connect, SSL_accept) on c->ssl until it is
 * done (0) or fails (-1): *e is then its SSL error, or 0 when the wait
 * failed (timeout, socket error; c's cause and err are set). */
static int handshake(struct imap_conn *c, int (*step)(SSL *), long long deadline, int *e)
{
	for (;;) {
		ERR_clear_error();
		int r = step(c->ssl);
		if (r == 1)
			return 0;
		*e = SSL_get_error(c->ssl, r);
		if (*e != SSL_ERROR_WANT_READ && *e != SSL_ERROR_WANT_WRITE)
			return -1;
		int w = wait_fd(c->fd, *e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
		if (w <= 0) {
			*e = 0;
			return w == 0 ? set_err(c, IMAP_CAUSE_TIMEOUT, "TLS handshake timed out") :
			    set_err(c, IMAP_CAUSE_IO, "TLS handshake: %s", strerror(errno));
		}
	}
}

int imap_conn_start_tls(struct imap_conn *c, const struct imap_tls_opts *o)
{
	char ebuf[120];
	long long deadline = now_ms() + c->timeout_ms;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return set_err(c, IMAP_CAUSE_TLS, "TLS context: %s", ssl_errstr(ebuf, sizeof(ebuf)));
	c->ctx = ctx;
	int minv = tls_min_version(o->min);
	SSL_CTX_set_min_proto_version(ctx, minv);
	if (minv < TLS1_2_VERSION)
		SSL_CTX_set_security_level(ctx, 0);  /* old servers, by explicit choice */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (o->ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) != 1)
			return set_err(c, IMAP_CAUSE_TLS, "cannot load CA file: %s",
			    ssl_errstr(ebuf, sizeof(ebuf)));
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return set_err(c, IMAP_CAUSE_TLS, "cannot load the system trust store: %s",
		    ssl_errstr(ebuf, sizeof(ebuf)));
	}
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return set_err(c, IMAP_CAUSE_TLS, "TLS: %s", ssl_errstr(ebuf, sizeof(ebuf)));
	c->ssl = ssl;
	SSL_set_fd(ssl, c->fd);
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	unsigned char ipbuf[16];
	if (inet_pton(AF_INET, o->verify_name, ipbuf) == 1 ||
	    inet_pton(AF_INET6, o->verify_name, ipbuf) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, o->verify_name) != 1)
			return set_err(c, IMAP_CAUSE_TLS, "bad address to verify");
	} else {
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (X509_VERIFY_PARAM_set1_host(vp, o->verify_name, 0) != 1 ||
		    SSL_set_tlsext_host_name(ssl, o->verify_name) != 1)
			return set_err(c, IMAP_CAUSE_TLS, "bad host name to verify");
	}
	int e;
	if (handshake(c, SSL_connect, deadline, &e) == 0)
		return 0;
	if (e == 0)
		return -1;
	long vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK)
		return set_err(c, IMAP_CAUSE_TLS_VERIFY, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
	return set_err(c, IMAP_CAUSE_TLS, "TLS handshake failed: %s",
	    ssl_errstr(ebuf, sizeof(ebuf)));
}

/* A read or a write on the connection, and its deadline (op_deadline). */
struct op {
	const char *what;   /* "read", "write" */
	enum limit which;   /* what sets the deadline */
	long long deadline;
};

/* Begin op: 0, or -1 with the error set when not connected or the
 * deadline has passed already. */
static int op_begin(struct imap_conn *c, struct op *op, const char *what)
{
	op->what = what;
	op->deadline = op_deadline(c, &op->which);
	if (c->fd < 0)
		return set_err(c, IMAP_CAUSE_CLOSED, "not connected");
	if (op->deadline <= now_ms())
		return timed_out(c, op->which, what);
	return 0;
}

/* Wait for events on the socket within op's deadline: 0 ready, or -1 with
 * the error set. */
static int op_wait(struct imap_conn *c, const struct op *op, short events)
{
	int w = wait_fd(c->fd, events, op->deadline);

	if (w == 0)
		return timed_out(c, op->which, op->what);
	if (w < 0)
		return set_err(c, IMAP_CAUSE_IO, "%s: %s", op->what, strerror(errno));
	return 0;
}

/* One read with the deadline of op_deadline (see imap_conn_read). */
static ssize_t conn_read(struct imap_conn *c, void *buf, size_t cap)
{
	struct op op;
	char ebuf[120];
	if (op_begin(c, &op, "read") != 0)
		return -1;
	for (;;) {
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
			if (r > 0) {
				/* Take whatever else is already there (TLS records
				 * arrive a few KB at a time), without waiting. */
				size_t got = (size_t)r;
				while (got < cap) {
					ERR_clear_error();
					size_t room = cap - got;
					r = SSL_read(c->ssl, (char *)buf + got,
					    room > INT32_MAX ? INT32_MAX : (int)room);
					if (r <= 0)
						break;  /* a failure shows again on the next call */
					got += (size_t)r;
				}
				ERR_clear_error();
				return (ssize_t)got;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN)
				return set_err(c, IMAP_CAUSE_CLOSED, "connection closed by the server");
			if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
				return set_err(c, IMAP_CAUSE_CLOSED,
				    "connection closed by the server%s%s", errno ? ": " : "",
				    errno ? strerror(errno) : "");
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
				return set_err(c, IMAP_CAUSE_TLS, "TLS read: %s",
				    ssl_errstr(ebuf, sizeof(ebuf)));
			if (op_wait(c, &op, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT) != 0)
				return -1;
		} else {
			ssize_t r = recv(c->fd, buf, cap, 0);
			if (r > 0)
				return r;
			if (r == 0)
				return set_err(c, IMAP_CAUSE_CLOSED, "connection closed by the server");
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return set_err(c, IMAP_CAUSE_IO, "read: %s", strerror(errno));
			if (op_wait(c, &op, POLLIN) != 0)
				return -1;
		}
	}
}

ssize_t imap_conn_read(struct imap_conn *c, void *buf, size_t cap)
{
	ssize_t n = conn_read(c, buf, cap);
	if (n > 0)
		budget_credit(c, (size_t)n);
	return n;
}

int imap_conn_write(struct imap_conn *c, const void *vbuf, size_t len)
{
	const char *buf = vbuf;
	struct op op;
	char ebuf[120];
	if (op_begin(c, &op, "write") != 0)
		return -1;
	while (len > 0) {
		short want = POLLOUT;
		if (c->ssl) {
			ERR_clear_error();
			int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r > 0) {
				buf += r;
				len -= (size_t)r;
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				want = POLLIN;
			else if (e != SSL_ERROR_WANT_WRITE)
				return set_err(c, e == SSL_ERROR_SYSCALL ? IMAP_CAUSE_CLOSED : IMAP_CAUSE_TLS,
				    "TLS write: %s", e == SSL_ERROR_SYSCALL && errno ? strerror(errno) :
				    ssl_errstr(ebuf, sizeof(ebuf)));
		} else {
			ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
			if (r > 0) {
				buf += r;
				len -= (size_t)r;
				continue;
			}
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				return set_err(c, errno == EPIPE || errno == ECONNRESET ?
				    IMAP_CAUSE_CLOSED : IMAP_CAUSE_IO, "write: %s", strerror(errno));
		}
		if (op_wait(c, &op, want) != 0)
			return -1;
	}
	return 0;
}

void imap_conn_close(struct imap_conn *c)
{
	if (c->ssl) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);  /* non-blocking: one attempt */
		SSL_free(c->ssl);
		ERR_clear_error();
		c->ssl = NULL;
	}
	if (c->ctx) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	c->budget.on = false;
}

const char *imap_conn_tls_version(const struct imap_conn *c)
{
	return c->ssl ? SSL_get_version(c->ssl) : NULL;
}

/* ---- the server side, and I/O that never waits ---------------------------- */

void imap_conn_adopt(struct imap_conn *c, int fd, unsigned timeout_s)
{
	imap_conn_init(c, timeout_s);
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
}

int imap_conn_accept_tls(struct imap_conn *c, void *ssl_ctx)
{
	long long deadline = now_ms() + c->timeout_ms;
	char ebuf[120];
	if (c->fd < 0 || c->ssl)
		return set_err(c, IMAP_CAUSE_TLS, "TLS: not possible now");
	ERR_clear_error();
	SSL *ssl = SSL_new(ssl_ctx);
	if (!ssl)
		return set_err(c, IMAP_CAUSE_TLS, "TLS: %s", ssl_errstr(ebuf, sizeof(ebuf)));
	c->ssl = ssl;
	SSL_set_fd(ssl, c->fd);
	int e;
	if (handshake(c, SSL_accept, deadline, &e) == 0)
		return 0;
	if (e == 0)
		return -1;
	if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
		return set_err(c, IMAP_CAUSE_CLOSED, "TLS handshake: connection closed");
	return set_err(c, IMAP_CAUSE_TLS, "TLS handshake failed: %s",
	    ssl_errstr(ebuf, sizeof(ebuf)));
}

/* After SSL_read/SSL_write returned r <= 0: 0 (would block, *want set) or
 * -1. */
static ssize_t ssl_nb_fail(struct imap_conn *c, int r, short *want, const char *what)
{
	char ebuf[120];
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		*want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		ERR_clear_error();
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
		return set_err(c, IMAP_CAUSE_CLOSED, "connection closed");
	return set_err(c, IMAP_CAUSE_TLS, "TLS %s: %s", what, ssl_errstr(ebuf, sizeof(ebuf)));
}

ssize_t imap_conn_read_some(struct imap_conn *c, void *buf, size_t cap, short *want)
{
	*want = POLLIN;
	if (c->fd < 0)
		return set_err(c, IMAP_CAUSE_CLOSED, "not connected");
	if (c->ssl) {
		ERR_clear_error();
		int r = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
		return r > 0 ? r : ssl_nb_fail(c, r, want, "read");
	}
	for (;;) {
		ssize_t r = recv(c->fd, buf, cap, 0);
		if (r > 0)
			return r;
		if (r == 0)
			return set_err(c, IMAP_CAUSE_CLOSED, "connection closed");
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return set_err(c, errno == ECONNRESET ? IMAP_CAUSE_CLOSED : IMAP_CAUSE_IO,
			    "read: %s", strerror(errno));
	}
}

ssize_t imap_conn_write_some(struct imap_conn *c, const void *buf, size_t len, short *want)
{
	*want = POLLOUT;
	if (c->fd < 0)
		return set_err(c, IMAP_CAUSE_CLOSED, "not connected");
	if (c->ssl) {
		/* A retry after WANT_* sends the same octets, maybe with more
		 * behind them: allowed only with these modes. */
		SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		ERR_clear_error();
		int r = SSL_write(c->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
		return r > 0 ? r : ssl_nb_fail(c, r, want, "write");
	}
	for (;;) {
		ssize_t r = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			return set_err(c, errno == EPIPE || errno == ECONNRESET ?
			    IMAP_CAUSE_CLOSED : IMAP_CAUSE_IO, "write: %s", strerror(errno));
	}
}

size_t imap_conn_pending(const struct imap_conn *c)
{
	if (!c->ssl)
		return 0;
	int n = SSL_pending(c->ssl);
	return n > 0 ? (size_t)n : 0;
}
