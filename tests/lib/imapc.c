/* tests/lib/imapc.c — a tiny blocking IMAP client. See imapc.h. */
#include "tests/lib/imapc.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "tests/lib/net.h"
#include "tests/lib/testutil.h"

#define IMAPC_TIMEOUT_MS 20000
#define IMAPC_MAX_LITERAL (64u << 20)

/* Fill the read-ahead; 0, or -1 on EOF, error or timeout. */
static int fill(struct pbt_imapc *c)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	if (c->have == sizeof(c->buf))
		return 0;
	int r = poll(&p, 1, IMAPC_TIMEOUT_MS);
	if (r <= 0) {
		fprintf(stderr, "pbt_imapc: %s\n", r == 0 ? "timeout" : strerror(errno));
		return -1;
	}
	ssize_t n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
	if (n <= 0) {
		fprintf(stderr, "pbt_imapc: connection closed\n");
		return -1;
	}
	c->have += (size_t)n;
	return 0;
}

/* Take n octets (or one line through LF when line) into b. */
static int take(struct pbt_imapc *c, struct pbt_buf *b, size_t n, int line)
{
	for (;;) {
		if (line) {
			char *nl = memchr(c->buf, '\n', c->have);
			size_t k = nl ? (size_t)(nl - c->buf) + 1 : c->have;
			pbt_buf_add(b, c->buf, k);
			memmove(c->buf, c->buf + k, c->have - k);
			c->have -= k;
			if (nl)
				return 0;
		} else {
			size_t k = n < c->have ? n : c->have;
			pbt_buf_add(b, c->buf, k);
			memmove(c->buf, c->buf + k, c->have - k);
			c->have -= k;
			n -= k;
			if (n == 0)
				return 0;
		}
		if (fill(c) < 0)
			return -1;
	}
}

/* One response with its literals: text into *line (literal octets left
 * out, "{N}" kept), the last literal into *lit. */
static int read_resp(struct pbt_imapc *c, char **line, char **lit, size_t *litlen)
{
	struct pbt_buf text = { 0 };
	*lit = NULL;
	*litlen = 0;
	for (;;) {
		struct pbt_buf l = { 0 };
		if (take(c, &l, 0, 1) < 0) {
			free(l.p);
			free(text.p);
			return -1;
		}
		size_t n = l.len;
		while (n > 0 && (l.p[n - 1] == '\n' || l.p[n - 1] == '\r'))
			n--;
		pbt_buf_add(&text, l.p, n);
		unsigned long want = 0;
		int is_lit = n > 2 && l.p[n - 1] == '}';
		if (is_lit) {
			char *open = memrchr(l.p, '{', n);
			is_lit = open != NULL;
			if (is_lit)
				want = strtoul(open + 1, NULL, 10);
		}
		free(l.p);
		if (!is_lit)
			break;
		if (want > IMAPC_MAX_LITERAL) {
			fprintf(stderr, "pbt_imapc: literal of %lu octets\n", want);
			free(text.p);
			return -1;
		}
		struct pbt_buf lb = { 0 };
		if (want > 0 && take(c, &lb, want, 0) < 0) {
			free(lb.p);
			free(text.p);
			return -1;
		}
		free(*lit);
		*lit = lb.p ? lb.p : calloc(1, 1);
		*litlen = want;
	}
	*line = text.p ? text.p : calloc(1, 1);
	return 0;
}

static void resps_add(struct pbt_imapc_resps *r, char *line, char *lit, size_t litlen)
{
	struct pbt_imapc_resp *v = realloc(r->v, (r->n + 1) * sizeof(*v));
	if (v == NULL)
		abort();
	r->v = v;
	r->v[r->n++] = (struct pbt_imapc_resp){ line, lit, litlen };
}

void pbt_imapc_resps_free(struct pbt_imapc_resps *r)
{
	for (size_t i = 0; r && i < r->n; i++) {
		free(r->v[i].line);
		free(r->v[i].lit);
	}
	if (r) {
		free(r->v);
		r->v = NULL;
		r->n = 0;
	}
}

/* Read responses until the tagged one for tag; continuation requests ("+")
 * end the wait too when plus is set (*got_plus = 1). */
static int wait_tagged(struct pbt_imapc *c, const char *tag, struct pbt_imapc_resps *out,
    int plus, int *got_plus)
{
	size_t tl = strlen(tag);
	for (;;) {
		char *line, *lit;
		size_t litlen;
		if (read_resp(c, &line, &lit, &litlen) < 0)
			return -1;
		if (plus && line[0] == '+') {
			free(line);
			free(lit);
			*got_plus = 1;
			return 0;
		}
		if (strncmp(line, tag, tl) == 0 && line[tl] == ' ') {
			int ok = strncasecmp(line + tl + 1, "OK", 2) == 0;
			if (!ok)
				fprintf(stderr, "pbt_imapc: %s\n", line);
			free(line);
			free(lit);
			return ok ? 0 : -1;
		}
		if (out)
			resps_add(out, line, lit, litlen);
		else {
			free(line);
			free(lit);
		}
	}
}

static int vcmd(struct pbt_imapc *c, struct pbt_imapc_resps *out, const char *fmt, va_list ap)
{
	char tag[16], cmd[2048];
	snprintf(tag, sizeof(tag), "p%u", ++c->tag);
	int n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(cmd) - 2) {
		fprintf(stderr, "pbt_imapc: command too long\n");
		return -1;
	}
	char line[2100];
	snprintf(line, sizeof(line), "%s %s\r\n", tag, cmd);
	if (pbt_sendstr(c->fd, line) < 0)
		return -1;
	return wait_tagged(c, tag, out, 0, NULL);
}

int pbt_imapc_cmd(struct pbt_imapc *c, struct pbt_imapc_resps *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = vcmd(c, out, fmt, ap);
	va_end(ap);
	return r;
}

int pbt_imapc_login(struct pbt_imapc *c, int port, const char *user, const char *password)
{
	memset(c, 0, sizeof(*c));
	c->fd = pbt_connect(NULL, port);
	if (c->fd < 0)
		return -1;
	char *line, *lit;
	size_t litlen;
	if (read_resp(c, &line, &lit, &litlen) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	int ok = strncmp(line, "* OK", 4) == 0;
	if (!ok)
		fprintf(stderr, "pbt_imapc: greeting %s\n", line);
	free(line);
	free(lit);
	if (!ok || pbt_imapc_cmd(c, NULL, "LOGIN \"%s\" \"%s\"", user, password) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

int pbt_imapc_append(struct pbt_imapc *c, const char *mailbox, const char *flags,
    const char *data, size_t len)
{
	char tag[16], line[600];
	snprintf(tag, sizeof(tag), "p%u", ++c->tag);
	snprintf(line, sizeof(line), "%s APPEND \"%s\" (%s) {%zu}\r\n", tag, mailbox, flags, len);
	int plus = 0;
	if (pbt_sendstr(c->fd, line) < 0 || wait_tagged(c, tag, NULL, 1, &plus) < 0)
		return -1;
	if (!plus) {
		fprintf(stderr, "pbt_imapc: APPEND to %s: no continuation\n", mailbox);
		return -1;
	}
	if (pbt_send(c->fd, data, len) < 0 || pbt_sendstr(c->fd, "\r\n") < 0)
		return -1;
	return wait_tagged(c, tag, NULL, 0, NULL);
}

void pbt_imapc_close(struct pbt_imapc *c)
{
	if (c->fd < 0)
		return;
	pbt_imapc_cmd(c, NULL, "LOGOUT");
	close(c->fd);
	c->fd = -1;
}
