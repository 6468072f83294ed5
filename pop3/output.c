/* pop3/output.c — see output.h. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pop3/output.h"

/* RFC 2449 §4: responses up to 512 octets including CRLF. */
#define LINE_MAX_OCTETS 512

void pop3_out_init(struct pop3_out *o, struct pop3_transport *t, int timeout_ms)
{
	o->t = t;
	o->timeout_ms = timeout_ms;
	o->failed = false;
	o->error = 0;
	o->bytes = 0;
	o->len = 0;
}

static int send_now(struct pop3_out *o, const char *buf, size_t len)
{
	if (o->failed)
		return -1;
	if (len == 0)
		return 0;
	int rc = o->t->ops->write(o->t, buf, len, o->timeout_ms);
	if (rc != 0) {
		o->failed = true;
		o->error = rc == POP3_IO_TIMEOUT ? POP3_IO_TIMEOUT : POP3_IO_ERROR;
		return -1;
	}
	o->bytes += len;
	return 0;
}

int pop3_out_flush(struct pop3_out *o)
{
	int rc = send_now(o, o->buf, o->len);
	o->len = 0;
	return rc;
}

int pop3_out_write(void *arg, const char *buf, size_t len)
{
	struct pop3_out *o = arg;

	if (o->failed)
		return -1;
	if (o->len + len <= sizeof(o->buf)) {
		memcpy(o->buf + o->len, buf, len);
		o->len += len;
		return 0;
	}
	if (o->len > 0) {
		/* Top the buffer up first, so that a reply line and the start of
		 * a message go out in one write, not the line alone. */
		size_t part = sizeof(o->buf) - o->len;
		memcpy(o->buf + o->len, buf, part);
		o->len += part;
		buf += part;
		len -= part;
		if (pop3_out_flush(o) != 0)
			return -1;
	}
	if (len >= sizeof(o->buf))
		return send_now(o, buf, len);
	memcpy(o->buf, buf, len);
	o->len = len;
	return 0;
}

/* prefix + formatted text + CRLF, the text cut to fit one response line. */
static int vline(struct pop3_out *o, const char *prefix, const char *fmt, va_list ap)
{
	char line[LINE_MAX_OCTETS];
	size_t plen = strlen(prefix);
	size_t room = sizeof(line) - 2;

	if (plen > room)
		plen = room;
	memcpy(line, prefix, plen);
	int n = vsnprintf(line + plen, room - plen + 1, fmt, ap);
	size_t len = plen;
	if (n > 0)
		len += (size_t)n > room - plen ? room - plen : (size_t)n;
	line[len++] = '\r';
	line[len++] = '\n';
	return pop3_out_write(o, line, len);
}

int pop3_out_ok(struct pop3_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vline(o, "+OK ", fmt, ap);
	va_end(ap);
	return rc;
}

int pop3_out_err(struct pop3_out *o, const char *code, const char *fmt, ...)
{
	char prefix[32];
	va_list ap;

	if (code != NULL)
		snprintf(prefix, sizeof(prefix), "-ERR [%s] ", code);
	else
		snprintf(prefix, sizeof(prefix), "-ERR ");
	va_start(ap, fmt);
	int rc = vline(o, prefix, fmt, ap);
	va_end(ap);
	return rc;
}

int pop3_out_line(struct pop3_out *o, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = vline(o, "", fmt, ap);
	va_end(ap);
	return rc;
}

int pop3_out_end(struct pop3_out *o)
{
	return pop3_out_write(o, ".\r\n", 3);
}
