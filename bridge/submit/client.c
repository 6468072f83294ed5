/* bridge/submit/client.c — see client.h. */
#include "bridge/submit/client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "imap/imap.h"
#include "pop3/base64.h"
#include "smtp/limits.h"

void submit_client_init(struct submit_client *c)
{
	memset(c, 0, sizeof(*c));
	imap_conn_init(&c->conn, PB_DEFAULT_UPSTREAM_TIMEOUT);
}

static int fail(struct submit_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct submit_client *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	imap_conn_close(&c->conn);
	c->open = false;
	return -1;
}

/* One line of the server (without its line end). 0, or -1 (connection
 * trouble, or a line longer than the buffer: no server sends one). */
static int read_line(struct submit_client *c, const char **line, size_t *len)
{
	for (;;) {
		char *p = c->rbuf + c->rstart;
		char *lf = memchr(p, '\n', c->rlen);
		if (lf != NULL) {
			size_t n = (size_t)(lf - p);
			c->rstart += n + 1;
			c->rlen -= n + 1;
			*line = p;
			*len = n > 0 && p[n - 1] == '\r' ? n - 1 : n;
			return 0;
		}
		if (c->rlen == sizeof(c->rbuf))
			return fail(c, "submission server: a reply line over %zu octets", sizeof(c->rbuf));
		if (c->rstart > 0) {
			memmove(c->rbuf, c->rbuf + c->rstart, c->rlen);
			c->rstart = 0;
		}
		ssize_t r = imap_conn_read(&c->conn, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (r < 0)
			return fail(c, "submission server: %s", c->conn.err);
		c->rlen += (size_t)r;
	}
}

/* One whole reply; ehlo: its lines go to caps too. */
static int read_reply(struct submit_client *c, struct smtp_reply *reply, bool ehlo)
{
	struct smtp_reply_acc a;
	const char *line = NULL;
	size_t len = 0;

	smtp_reply_acc_init(&a);
	for (bool first = true;; first = false) {
		if (read_line(c, &line, &len) != 0)
			return -1;
		int k = smtp_reply_line(&a, line, len);
		if (k < 0)
			return fail(c, "submission server: not an SMTP reply");
		if (ehlo && !first && len > 4)
			smtp_caps_line(&c->caps, line + 4, len - 4);
		if (k == 1)
			break;
	}
	*reply = a.r;
	return 0;
}

static int send_raw(struct submit_client *c, const char *buf, size_t len)
{
	if (imap_conn_write(&c->conn, buf, len) != 0)
		return fail(c, "submission server: %s", c->conn.err);
	return 0;
}

/* What the server sent since its last reply, without waiting: 0 nothing,
 * 1 something (read and dropped), -1 it closed the connection (or trouble:
 * c->conn.err). */
static int unasked(struct submit_client *c)
{
	char junk[256];
	short want;

	if (c->rlen > 0)
		return 1;
	ssize_t k = imap_conn_read_some(&c->conn, junk, sizeof(junk), &want);
	return k > 0 ? 1 : k < 0 ? -1 : 0;
}

bool submit_client_idle(struct submit_client *c)
{
	return c->open && unasked(c) == 0;
}

int submit_client_cmd(struct submit_client *c, const char *line, struct smtp_reply *reply)
{
	char buf[SMTP_PATH_MAX + SMTP_PARAMS_MAX + 64];
	size_t n = strlen(line);

	if (!c->open)
		return fail(c, "submission server: not connected");
	if (n + 2 > sizeof(buf) || strpbrk(line, "\r\n") != NULL)
		return fail(c, "internal: command too long or with a line end");
	/* Never pipelined: anything already there is a reply nobody asked for,
	 * and taking it for this command's would put every later one off. */
	int u = unasked(c);
	if (u > 0)
		return fail(c, "submission server: a reply nobody asked for");
	if (u < 0)
		return fail(c, "submission server: %s", c->conn.err);
	memcpy(buf, line, n);
	memcpy(buf + n, "\r\n", 2);
	if (send_raw(c, buf, n + 2) != 0)
		return -1;
	return read_reply(c, reply, false);
}

static int ehlo(struct submit_client *c, const char *helo, struct smtp_reply *reply)
{
	char line[300];

	memset(&c->caps, 0, sizeof(c->caps));
	snprintf(line, sizeof(line), "EHLO %s", helo);
	if (send_raw(c, line, strlen(line)) != 0 || send_raw(c, "\r\n", 2) != 0 ||
	    read_reply(c, reply, true) != 0)
		return -1;
	if (reply->code / 100 == 2)
		return 0;
	/* RFC 5321 §3.2: a server without ESMTP; no extensions. */
	snprintf(line, sizeof(line), "HELO %s", helo);
	return submit_client_cmd(c, line, reply);
}

int submit_client_open(struct submit_client *c, const struct submit_endpoint *ep,
    struct smtp_reply *reply)
{
	struct imap_tls_opts tls = { .ca_file = ep->ca && ep->ca[0] ? ep->ca : NULL,
		.verify_name = ep->host, .min = IMAP_TLS_DEFAULT };

	submit_client_close(c, false);
	imap_conn_init(&c->conn, ep->timeout_s);
	c->rstart = c->rlen = 0;
	snprintf(c->host, sizeof(c->host), "%s", ep->host);
	c->port = ep->port;
	if (imap_conn_open(&c->conn, ep->host, ep->port) != 0)
		return fail(c, "submission server %s:%u: %s", ep->host, ep->port, c->conn.err);
	c->open = true;
	if (ep->tls == PB_UTLS_IMPLICIT && imap_conn_start_tls(&c->conn, &tls) != 0)
		return fail(c, "submission server: TLS: %s", c->conn.err);
	if (read_reply(c, reply, false) != 0)
		return -1;
	if (reply->code != 220)
		return 1;
	if (ehlo(c, ep->helo, reply) != 0)
		return -1;
	if (reply->code / 100 != 2)
		return 1;
	if (ep->tls == PB_UTLS_STARTTLS) {
		if (!c->caps.starttls)
			return fail(c, "submission server: STARTTLS required but not offered");
		if (submit_client_cmd(c, "STARTTLS", reply) != 0)
			return -1;
		if (reply->code != 220)
			return fail(c, "submission server refused STARTTLS: %u %s", reply->code,
			    reply->text);
		/* RFC 3207 §5: nothing received before the handshake counts. */
		c->rstart = c->rlen = 0;
		if (imap_conn_start_tls(&c->conn, &tls) != 0)
			return fail(c, "submission server: TLS: %s", c->conn.err);
		if (ehlo(c, ep->helo, reply) != 0)
			return -1;
		if (reply->code / 100 != 2)
			return 1;
	}
	return 0;
}

/* One line of a SASL exchange (no CR, LF or NUL in it), then the reply. */
static int sasl_line(struct submit_client *c, const char *line, size_t len,
    struct smtp_reply *reply)
{
	if (send_raw(c, line, len) != 0 || send_raw(c, "\r\n", 2) != 0)
		return -1;
	return read_reply(c, reply, false);
}

/* base64 of s[0..n) into out (NUL-terminated); its length; out has room. */
static size_t b64(const unsigned char *s, size_t n, char *out)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, s, (int)n);
}

int submit_client_auth(struct submit_client *c, const char *user, const char *password,
    struct smtp_reply *reply)
{
	size_t ul = strlen(user), pl = strlen(password);
	/* "AUTH PLAIN " + base64 of NUL user NUL password + CRLF */
	unsigned char raw[2 * (SMTP_USER_MAX + 1) + SMTP_PASS_MAX + 2];
	char line[16 + (sizeof(raw) + 2) / 3 * 4 + 4];
	int rc = -1;

	if (ul > SMTP_USER_MAX * 2 || pl > SMTP_PASS_MAX || !c->open)
		return fail(c, "internal: credentials too long");
	if (c->caps.mechs & SMTP_MECH_PLAIN || !(c->caps.mechs & SMTP_MECH_LOGIN)) {
		raw[0] = '\0';
		memcpy(raw + 1, user, ul);
		raw[1 + ul] = '\0';
		memcpy(raw + 2 + ul, password, pl);
		memcpy(line, "AUTH PLAIN ", 11);
		size_t k = b64(raw, ul + pl + 2, line + 11);
		if (11 + k + 2 <= SMTP_CMD_LINE_MAX) {
			rc = sasl_line(c, line, 11 + k, reply);
		} else {
			/* RFC 4954 §4: no initial response beyond the line limit;
			 * "AUTH PLAIN", the server's 334, then the response alone. */
			if (sasl_line(c, "AUTH PLAIN", 10, reply) != 0)
				goto out;
			rc = reply->code == 334 ? sasl_line(c, line + 11, k, reply) : 0;
		}
	} else {
		/* AUTH LOGIN: 334, the user, 334, the password. */
		if (sasl_line(c, "AUTH LOGIN", 10, reply) != 0)
			goto out;
		rc = 0;
		if (reply->code != 334)
			goto out;
		size_t k = b64((const unsigned char *)user, ul, line);
		if (sasl_line(c, line, k, reply) != 0 || reply->code != 334) {
			rc = c->open ? 0 : -1;
			goto out;
		}
		k = b64((const unsigned char *)password, pl, line);
		rc = sasl_line(c, line, k, reply);
	}
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

/* A 334 challenge's base64 text, decoded and made printable into out
 * (empty when it is not strict base64). */
static void challenge_text(const char *b64, char *out, size_t len)
{
	char raw[SMTP_REPLY_LINE_MAX];
	size_t o = 0;

	out[0] = '\0';
	long k = pop3_base64_decode(b64, strlen(b64), raw, sizeof(raw));
	for (long i = 0; i < k && o + 1 < len; i++) {
		unsigned char c = (unsigned char)raw[i];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
}

int submit_client_auth_oauth2(struct submit_client *c, const char *user, const char *token,
    struct smtp_reply *reply, char *challenge, size_t challenge_len)
{
	bool xoauth2 = !(c->caps.mechs & SMTP_MECH_OAUTHBEARER);
	const char *cmd = xoauth2 ? "AUTH XOAUTH2" : "AUTH OAUTHBEARER";
	size_t cl = strlen(cmd);
	int rc = -1;

	challenge[0] = '\0';
	if (!c->open)
		return fail(c, "submission server: not connected");
	if (xoauth2 && !(c->caps.mechs & SMTP_MECH_XOAUTH2))
		return fail(c, "submission server offers neither AUTH OAUTHBEARER nor XOAUTH2");
	/* "AUTH MECH " + the response, both at once when within 512 octets */
	char *line = malloc(cl + 1 + IMAP_SASL_OAUTH2_MAX);
	if (line == NULL)
		return fail(c, "out of memory");
	memcpy(line, cmd, cl);
	line[cl] = ' ';
	long k = imap_sasl_oauth2(xoauth2, user, c->host, c->port, token, line + cl + 1,
	    IMAP_SASL_OAUTH2_MAX);
	if (k < 0) {
		fail(c, "internal: user name or access token not usable for %s", cmd + 5);
		goto out;
	}
	if (cl + 1 + (size_t)k + 2 <= SMTP_CMD_LINE_MAX) {
		if (sasl_line(c, line, cl + 1 + (size_t)k, reply) != 0)
			goto out;
	} else {
		if (sasl_line(c, cmd, cl, reply) != 0)
			goto out;
		if (reply->code == 334 && sasl_line(c, line + cl + 1, (size_t)k, reply) != 0)
			goto out;
	}
	if (reply->code == 334) {
		/* refused with a status (RFC 7628 §3.2.2): finish the exchange */
		challenge_text(reply->text, challenge, challenge_len);
		if (sasl_line(c, xoauth2 ? "" : "AQ==", xoauth2 ? 0 : 4, reply) != 0)
			goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(line, cl + 1 + IMAP_SASL_OAUTH2_MAX);
	free(line);
	return rc;
}

static int wflush(void *arg)
{
	struct submit_client *c = arg;

	if (c->wlen > 0 && !c->wfailed && send_raw(c, c->wbuf, c->wlen) != 0)
		c->wfailed = true;
	c->wlen = 0;
	return c->wfailed ? -1 : 0;
}

/* The dot-stuffer's output: buffered, sent in SUBMIT_WRITE_BUF pieces. */
static int wout(void *arg, const char *buf, size_t len)
{
	struct submit_client *c = arg;

	while (len > 0) {
		if (c->wfailed)
			return -1;
		size_t k = sizeof(c->wbuf) - c->wlen < len ? sizeof(c->wbuf) - c->wlen : len;
		memcpy(c->wbuf + c->wlen, buf, k);
		c->wlen += k;
		buf += k;
		len -= k;
		if (c->wlen == sizeof(c->wbuf) && wflush(c) != 0)
			return -1;
	}
	return 0;
}

int submit_client_data(struct submit_client *c, const char *buf, size_t len)
{
	if (!c->open)
		return -1;
	if (c->ds.out == NULL) {
		pop3_ds_init(&c->ds, false, 0, wout, c);
		c->wlen = 0;
		c->wfailed = false;
	}
	return pop3_ds_feed(&c->ds, buf, len) < 0 ? -1 : 0;
}

int submit_client_data_end(struct submit_client *c, struct smtp_reply *reply)
{
	if (!c->open)
		return -1;
	if (c->ds.out == NULL)
		pop3_ds_init(&c->ds, false, 0, wout, c);
	int k = pop3_ds_finish(&c->ds);
	c->ds.out = NULL;
	if (k != 0 || wflush(c) != 0)
		return c->open ? fail(c, "submission server: sending the message failed") : -1;
	return read_reply(c, reply, false);
}

void submit_client_close(struct submit_client *c, bool polite)
{
	if (c->open && polite) {
		struct smtp_reply r;
		c->conn.timeout_ms = c->conn.timeout_ms > 5000 ? 5000 : c->conn.timeout_ms;
		if (send_raw(c, "QUIT\r\n", 6) == 0)
			read_reply(c, &r, false);
	}
	imap_conn_close(&c->conn);
	c->open = false;
	c->ds.out = NULL;
}

const char *submit_client_tls(const struct submit_client *c)
{
	return c->open ? imap_conn_tls_version(&c->conn) : NULL;
}
