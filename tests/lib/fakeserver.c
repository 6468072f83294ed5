/* tests/lib/fakeserver.c — the scripted fake server. See fakeserver.h. */
#include "tests/lib/fakeserver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tests/lib/cert.h"
#include "tests/lib/net.h"

#define FK_WAIT_MS 10000    /* for a connection, for a line */
#define FK_STALL_MS 30000   /* STALL gives up after this much silence */
#define FK_TRICKLE_MAX_MS 60000

int pbt_listen(bool v6, int *port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_addr = in6addr_loopback;
		sl = sizeof(*a6);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*a);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		fprintf(stderr, "pbt_listen(%s): %s\n", v6 ? "::1" : "127.0.0.1", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
	    ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

void pbt_msleep(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

bool pbt_fake_fail(struct pbt_fake *f, const char *fmt, ...)
{
	va_list ap;

	if (!f->failed) {
		f->failed = true;
		va_start(ap, fmt);
		vsnprintf(f->err, sizeof(f->err), fmt, ap);
		va_end(ap);
	}
	return false;
}

/* ---- the log ------------------------------------------------------------------ */

/* Add "who: " before each line of buf (who 'S' or 'C'); *open says the last
 * line of this side had no LF yet (then no prefix). */
static void log_add(struct pbt_fake *f, char who, const char *buf, size_t len, bool *open)
{
	pthread_mutex_lock(&f->mu);
	while (len > 0) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) + 1 : len;
		if (!*open) {
			char pre[3] = { who, ':', ' ' };
			pbt_buf_add(&f->log, pre, 3);
		}
		pbt_buf_add(&f->log, buf, n);
		*open = nl == NULL;
		buf += n;
		len -= n;
	}
	pthread_mutex_unlock(&f->mu);
}

size_t pbt_fake_log_len(struct pbt_fake *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->log.len;
	pthread_mutex_unlock(&f->mu);
	return n;
}

char *pbt_fake_commands(struct pbt_fake *f, size_t from)
{
	struct pbt_buf out = { 0 };

	pthread_mutex_lock(&f->mu);
	const char *p = f->log.p ? f->log.p + from : "";
	const char *end = f->log.p ? f->log.p + f->log.len : p;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		if (strncmp(p, "C: ", 3) == 0) {
			const char *t = p + 3, *sp = memchr(t, ' ', (size_t)(next - t));
			bool tag = false;
			for (const char *q = t; sp && q < sp; q++)
				tag |= *q >= '0' && *q <= '9';
			if (tag && !(f->flags & PBT_FAKE_POP3)) {
				pbt_buf_adds(&out, "C: T");
				pbt_buf_add(&out, sp, (size_t)(next - sp));
			} else {
				pbt_buf_add(&out, p, (size_t)(next - p));
			}
		}
		p = next;
	}
	pthread_mutex_unlock(&f->mu);
	if (out.p == NULL)
		pbt_buf_adds(&out, "");
	return out.p;
}

/* ---- the connection --------------------------------------------------------- */

static ssize_t fk_read(struct pbt_fake *f, char *buf, size_t cap)
{
	if (f->ssl) {
		int r = SSL_read(f->ssl, buf, (int)cap);
		return r > 0 ? r : -1;
	}
	ssize_t r = recv(f->fd, buf, cap, 0);
	return r > 0 ? r : -1;
}

int pbt_fake_write(struct pbt_fake *f, const void *buf, size_t len)
{
	const char *p = buf;

	if (f->gone || f->fd < 0)
		return -1;
	if (f->ssl) {
		if (SSL_write(f->ssl, p, (int)len) == (int)len)
			return 0;
		f->gone = true;
		return -1;
	}
	while (len > 0) {
		ssize_t r = send(f->fd, p, len, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			f->gone = true;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int fk_put(struct pbt_fake *f, const char *buf, size_t len)
{
	log_add(f, 'S', buf, len, &f->s_open);
	return pbt_fake_write(f, buf, len);
}

int pbt_fake_send(struct pbt_fake *f, const char *text)
{
	struct pbt_buf out = { 0 };
	bool imap = !(f->flags & PBT_FAKE_POP3);

	for (const char *p = text; *p; p++) {
		if (imap && p[0] == '$' && p[1] == 'T') {
			pbt_buf_adds(&out, f->tag);
			p++;
		} else if (imap && p[0] == '$' && p[1] >= '1' && p[1] <= '9') {
			pbt_buf_adds(&out, f->hist[p[1] - '1']);
			p++;
		} else {
			pbt_buf_add(&out, p, 1);
		}
	}
	int r = out.len ? fk_put(f, out.p, out.len) : 0;
	free(out.p);
	return r;
}

int pbt_fake_printf(struct pbt_fake *f, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		pbt_fake_fail(f, "out of memory");
		return -1;
	}
	int r = fk_put(f, s, (size_t)n);
	free(s);
	return r;
}

bool pbt_fake_pending(struct pbt_fake *f, int ms)
{
	struct pollfd q = { .fd = f->fd, .events = POLLIN };

	if (memchr(f->rbuf, '\n', f->rlen) || (f->ssl && SSL_pending(f->ssl) > 0))
		return true;
	return poll(&q, 1, ms) == 1;
}

int pbt_fake_readline(struct pbt_fake *f, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(f->rbuf, '\n', f->rlen);
		if (nl) {
			size_t n = (size_t)(nl - f->rbuf);
			size_t k = n > 0 && f->rbuf[n - 1] == '\r' ? n - 1 : n;
			log_add(f, 'C', f->rbuf, n + 1, &f->c_open);
			if (k >= cap)
				k = cap - 1;
			memcpy(out, f->rbuf, k);
			out[k] = '\0';
			memmove(f->rbuf, nl + 1, f->rlen - n - 1);
			f->rlen -= n + 1;
			if (n + 1 > f->longest)
				f->longest = n + 1;
			return 0;
		}
		if (f->rlen == sizeof(f->rbuf) || f->fd < 0)
			return -1;
		ssize_t r = fk_read(f, f->rbuf + f->rlen, sizeof(f->rbuf) - f->rlen);
		if (r <= 0)
			return -1;
		f->rlen += (size_t)r;
	}
}

/* A command line into f->line: the tag into f->tag (and the $n history),
 * f->cmd past it. -1 at EOF. */
static int fk_command(struct pbt_fake *f)
{
	if (pbt_fake_readline(f, f->line, sizeof(f->line)) < 0)
		return -1;
	f->cmd = f->line;
	if (!(f->flags & PBT_FAKE_POP3)) {
		const char *sp = strchr(f->line, ' ');
		size_t tl = sp ? (size_t)(sp - f->line) : strlen(f->line);
		snprintf(f->tag, sizeof(f->tag), "%.*s", (int)tl, f->line);
		if (f->nhist < 9)
			snprintf(f->hist[f->nhist++], sizeof(f->hist[0]), "%s", f->tag);
		f->cmd = sp ? sp + 1 : "";
	}
	size_t vl = strcspn(f->cmd, " ");
	snprintf(f->verb, sizeof(f->verb), "%.*s", (int)vl, f->cmd);
	f->args = f->cmd[vl] ? f->cmd + vl + 1 : "";
	return 0;
}

static void fk_expect(struct pbt_fake *f, const char *want, bool raw)
{
	const char *rest;

	if (raw) {
		if (pbt_fake_readline(f, f->line, sizeof(f->line)) < 0) {
			pbt_fake_fail(f, "EOF while expecting %s", want);
			return;
		}
		rest = f->line;
	} else {
		if (fk_command(f) < 0) {
			pbt_fake_fail(f, "EOF while expecting %s", want);
			return;
		}
		rest = f->cmd;
	}
	if (strncmp(rest, want, strlen(want)) != 0)
		pbt_fake_fail(f, "expected '%s', got '%.300s'", want, rest);
}

static void fk_hangup(struct pbt_fake *f)
{
	if (f->ssl) {
		SSL_shutdown(f->ssl);
		SSL_free(f->ssl);
		f->ssl = NULL;
	}
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	f->rlen = 0;
	f->gone = false;
}

/* Wait for a connection (ms, -1: until stopped); 0 or -1. */
static int fk_accept(struct pbt_fake *f, int ms)
{
	struct pollfd p[2] = { { .fd = f->lfd, .events = POLLIN },
		{ .fd = f->stop[0], .events = POLLIN } };

	fk_hangup(f);
	if (poll(p, 2, ms) < 1 || !(p[0].revents & POLLIN))
		return -1;
	f->fd = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (f->fd < 0)
		return -1;
	struct timeval tv = { FK_WAIT_MS / 1000, 0 };
	setsockopt(f->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	f->s_open = f->c_open = false;
	return 0;
}

/* Poll the client (and the stop pipe) for ms; true when the client has data
 * or has gone. */
static bool fk_wait_client(struct pbt_fake *f, int ms)
{
	struct pollfd p[2] = { { .fd = f->fd, .events = POLLIN },
		{ .fd = f->stop[0], .events = POLLIN } };
	return poll(p, 2, ms) >= 1 && !(p[1].revents & POLLIN) && p[0].revents;
}

static void fk_stall(struct pbt_fake *f)
{
	char junk[256];
	while (fk_wait_client(f, FK_STALL_MS) && recv(f->fd, junk, sizeof(junk), 0) > 0)
		;
}

static void fk_trickle(struct pbt_fake *f, const char *prefix, char fill)
{
	int ms = f->trickle_ms > 0 ? f->trickle_ms : 250;

	if (fk_put(f, prefix, strlen(prefix)) < 0)
		return;
	for (int i = 0; i < FK_TRICKLE_MAX_MS / ms; i++) {
		struct pollfd p = { .fd = f->stop[0], .events = POLLIN };
		if (poll(&p, 1, ms) != 0 || pbt_fake_write(f, &fill, 1) < 0)
			return;
		f->trickled++;
	}
}

static void fk_answer_all(struct pbt_fake *f)
{
	while (fk_command(f) == 0) {
		f->commands++;
		if (strncmp(f->cmd, "LOGOUT", 6) == 0) {
			pbt_fake_send(f, "* BYE bye\r\n$T OK done\r\n");
			return;
		}
		pbt_fake_send(f, "$T OK done\r\n");
	}
}

static void fk_answer_batch(struct pbt_fake *f)
{
	for (;;) {
		struct pbt_buf answers = { 0 };
		unsigned k = 0;
		bool logout = false;
		do {
			if (fk_command(f) < 0)
				break;
			f->commands++;
			k++;
			if (strncmp(f->cmd, "LOGOUT", 6) == 0) {
				pbt_buf_adds(&answers, "* BYE bye\r\n");
				logout = true;
			}
			pbt_buf_adds(&answers, f->tag);
			pbt_buf_adds(&answers, " OK done\r\n");
		} while (!logout && pbt_fake_pending(f, 300));
		if (k > f->widest)
			f->widest = k;
		if (answers.len && fk_put(f, answers.p, answers.len) < 0)
			k = 0;
		free(answers.p);
		if (k == 0 || logout)
			return;
	}
}

/* Forward one direction's chunk: record it, pass it on; -1 when a side has
 * gone. */
static int relay_chunk(struct pbt_fake *f, int from, int to, char who, bool *open)
{
	char buf[16384];
	ssize_t n = recv(from, buf, sizeof(buf), 0);
	if (n <= 0)
		return -1;
	log_add(f, who, buf, (size_t)n, open);
	return pbt_send(to, buf, (size_t)n);
}

static void fk_relay(struct pbt_fake *f, int port)
{
	do {
		bool up_open = false, down_open = false;
		int up = pbt_connect(NULL, port);
		if (up < 0) {
			pbt_fake_fail(f, "relay: cannot connect to port %d", port);
			return;
		}
		for (;;) {
			struct pollfd p[3] = { { .fd = f->fd, .events = POLLIN },
				{ .fd = up, .events = POLLIN }, { .fd = f->stop[0], .events = POLLIN } };
			if (poll(p, 3, -1) < 0 && errno != EINTR)
				break;
			if (p[2].revents)
				break;
			if (p[0].revents && relay_chunk(f, f->fd, up, 'C', &up_open) < 0)
				break;
			if (p[1].revents && relay_chunk(f, up, f->fd, 'S', &down_open) < 0)
				break;
		}
		close(up);
	} while (fk_accept(f, -1) == 0);
}

static void *fk_main(void *arg)
{
	struct pbt_fake *f = arg;

	if (fk_accept(f, FK_WAIT_MS) < 0) {
		pbt_fake_fail(f, "no client connected");
		return NULL;
	}
	for (const struct pbt_step *s = f->steps; s->op != PBT_OP_END && !f->failed; s++) {
		switch (s->op) {
		case PBT_OP_END:
			break;
		case PBT_OP_SEND:
			if (pbt_fake_send(f, s->arg) < 0)
				pbt_fake_fail(f, "send failed: %.200s", s->arg);
			break;
		case PBT_OP_EXPECT:
		case PBT_OP_EXPECT_RAW:
			fk_expect(f, s->arg, s->op == PBT_OP_EXPECT_RAW);
			break;
		case PBT_OP_TLS:
			f->ssl = SSL_new(f->ssl_ctx);
			SSL_set_fd(f->ssl, f->fd);
			if (SSL_accept(f->ssl) != 1)
				pbt_fake_fail(f, "TLS accept failed");
			break;
		case PBT_OP_STALL:
			fk_stall(f);
			break;
		case PBT_OP_TRICKLE:
			fk_trickle(f, s->arg, (char)s->num);
			break;
		case PBT_OP_CLOSE:
			goto out;
		case PBT_OP_ACCEPT:
			if (fk_accept(f, FK_WAIT_MS) < 0)
				pbt_fake_fail(f, "no second client connected");
			break;
		case PBT_OP_MARK:
			f->nhist = 0;
			break;
		case PBT_OP_ANSWER_ALL:
			fk_answer_all(f);
			break;
		case PBT_OP_ANSWER_BATCH:
			fk_answer_batch(f);
			break;
		case PBT_OP_CALL:
			if (!s->fn(f, s->arg))
				goto out;
			break;
		case PBT_OP_SERVE:
			while (fk_command(f) == 0 && (f->commands++, s->fn(f, f->line)))
				;
			break;
		case PBT_OP_RELAY:
			fk_relay(f, s->num);
			break;
		}
	}
out:
	fk_hangup(f);
	return NULL;
}

struct pbt_fake *pbt_fake_start(const struct pbt_step *steps, unsigned flags)
{
	struct pbt_fake *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->steps = steps;
	f->flags = flags;
	f->fd = f->lfd = -1;
	f->stop[0] = f->stop[1] = -1;
	pthread_mutex_init(&f->mu, NULL);
	if (pipe2(f->stop, O_CLOEXEC) < 0)
		goto fail;
	if (flags & PBT_FAKE_TLS) {
		if (pbt_mkdtemp("pbtfake", f->dir, sizeof(f->dir)) < 0 ||
		    pbt_make_cert(f->dir, "srv", f->cert, sizeof(f->cert), f->key,
		    sizeof(f->key)) < 0)
			goto fail;
		f->ssl_ctx = SSL_CTX_new(TLS_server_method());
		if (f->ssl_ctx == NULL ||
		    SSL_CTX_use_certificate_chain_file(f->ssl_ctx, f->cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(f->ssl_ctx, f->key, SSL_FILETYPE_PEM) != 1) {
			fprintf(stderr, "pbt_fake_start: TLS context\n");
			goto fail;
		}
	}
	f->lfd = pbt_listen(flags & PBT_FAKE_V6, &f->port);
	if (f->lfd < 0) {
		f->port = 0;
		if (flags & PBT_FAKE_V6)
			return f;   /* no IPv6 loopback here: the caller checks port */
		goto fail;
	}
	if (pthread_create(&f->th, NULL, fk_main, f) != 0) {
		fprintf(stderr, "pbt_fake_start: pthread_create failed\n");
		goto fail;
	}
	f->started = true;
	return f;
fail:
	pbt_fake_free(f);
	return NULL;
}

void pbt_fake_stop(struct pbt_fake *f)
{
	if (f->stop[1] >= 0 && write(f->stop[1], "x", 1) < 0)
		perror("pbt_fake_stop");
}

int pbt_fake_join(struct pbt_fake *f)
{
	if (f->started) {
		pthread_join(f->th, NULL);
		f->started = false;
	}
	return f->failed ? -1 : 0;
}

void pbt_fake_free(struct pbt_fake *f)
{
	if (f == NULL)
		return;
	if (f->started)
		pbt_fake_stop(f);   /* not joined yet: end what waits, then join */
	pbt_fake_join(f);
	fk_hangup(f);
	if (f->lfd >= 0)
		close(f->lfd);
	for (int i = 0; i < 2; i++)
		if (f->stop[i] >= 0)
			close(f->stop[i]);
	if (f->ssl_ctx)
		SSL_CTX_free(f->ssl_ctx);
	if (f->dir[0])
		pbt_rmtree(f->dir);
	free(f->log.p);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

int pbt_fake_finish(struct pbt_fake *f, char *err, size_t errlen)
{
	int r = pbt_fake_join(f);
	if (errlen > 0)
		snprintf(err, errlen, "%s", r < 0 ? f->err : "");
	pbt_fake_free(f);
	return r;
}
