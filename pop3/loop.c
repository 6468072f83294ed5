/* pop3/loop.c — the command loop of the POP3 and SMTP engines. See loop.h. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "pop3/deadline.h"
#include "pop3/loop.h"
#include "pop3/output.h"

void pop3_loop_start(struct pop3_loop *l, unsigned idle_s, unsigned login_s)
{
	l->idle_ms = idle_s > INT_MAX / 1000 ? INT_MAX : (int)idle_s * 1000;
	l->login_deadline_ms = pop3_clock_ms(l->clock_ms) + (uint64_t)login_s * 1000;
}

int pop3_loop_wait_ms(struct pop3_loop *l)
{
	int w = pop3_wait_ms(l->idle_ms, !l->logged_in, pop3_clock_ms(l->clock_ms),
	    l->login_deadline_ms);

	l->out->timeout_ms = w;
	return w;
}

/* The login deadline has passed: say so and end the session. */
static void login_timeout(struct pop3_loop *l)
{
	l->event(l->arg, POP3_LOOP_LOGIN_TIMEOUT);
	pop3_out_flush(l->out);
}

int pop3_loop_fill(struct pop3_loop *l)
{
	size_t avail;
	int w = pop3_loop_wait_ms(l);

	if (w == 0 && !l->logged_in) {
		login_timeout(l);
		return 0;
	}
	if (pop3_out_flush(l->out) != 0) {
		l->event(l->arg, l->out->error == POP3_IO_TIMEOUT ? POP3_LOOP_WRITE_TIMEOUT
		    : POP3_LOOP_DROPPED);
		return 0;
	}
	char *space = pop3_lr_space(l->lr, &avail);
	ssize_t n = l->t->ops->read(l->t, space, avail, w);
	if (n > 0) {
		pop3_lr_added(l->lr, (size_t)n);
		*l->bytes_in += (uint64_t)n;
		return 1;
	}
	if (n == POP3_IO_TIMEOUT && !l->logged_in && pop3_loop_wait_ms(l) == 0) {
		login_timeout(l);
	} else if (n == POP3_IO_TIMEOUT) {
		l->event(l->arg, POP3_LOOP_IDLE_TIMEOUT);
		pop3_out_flush(l->out);
	} else {
		l->event(l->arg, POP3_LOOP_DROPPED);
	}
	return 0;
}

int pop3_loop_read_line(struct pop3_loop *l, char **line, size_t *len)
{
	for (;;) {
		switch (pop3_lr_next(l->lr, line, len)) {
		case POP3_LR_LINE:
			return 1;
		case POP3_LR_TOO_LONG:
			l->event(l->arg, POP3_LOOP_LINE_TOO_LONG);
			return -1;
		case POP3_LR_BAD:
			l->event(l->arg, POP3_LOOP_LINE_NUL);
			return -1;
		case POP3_LR_OVERFLOW:
			l->event(l->arg, POP3_LOOP_LINE_OVERFLOW);
			pop3_out_flush(l->out);
			return 0;
		case POP3_LR_NEED_MORE:
			if (!pop3_loop_fill(l))
				return 0;
			break;
		}
	}
}

int pop3_loop_next(struct pop3_loop *l, char **line, size_t *len)
{
	/* Before login, commands pipelined past the deadline are not run. The
	 * wait also sets the output's timeout for this command's answer. */
	if (pop3_loop_wait_ms(l) == 0 && !l->logged_in) {
		login_timeout(l);
		return 0;
	}
	return pop3_loop_read_line(l, line, len);
}

bool pop3_loop_step(struct pop3_loop *l)
{
	char *line;
	size_t len;

	int r = pop3_loop_next(l, &line, &len);
	if (r == 0)
		return false;
	enum pop3_loop_rc rc = r < 0 ? POP3_LOOP_ERR : l->command(l->arg, line, len);
	if (l->out->failed) {
		if (rc != POP3_LOOP_CLOSE) /* else the handler said why */
			l->event(l->arg, l->out->error == POP3_IO_TIMEOUT ? POP3_LOOP_WRITE_TIMEOUT
			    : POP3_LOOP_DROPPED);
		return false;
	}
	if (!l->logged_in && *l->auth_failures >= l->auth_failures_max) {
		l->event(l->arg, POP3_LOOP_AUTH_FAILED);
		return false;
	}
	switch (rc) {
	case POP3_LOOP_OK:
		/* Before login nothing a client does undoes its mistakes. */
		if (l->logged_in)
			l->bad = 0;
		return true;
	case POP3_LOOP_FAIL:
		return true;
	case POP3_LOOP_ERR:
		if (++l->bad >= l->bad_max) {
			l->event(l->arg, POP3_LOOP_TOO_MANY_BAD);
			return false;
		}
		return true;
	case POP3_LOOP_CLOSE:
		return false;
	}
	return false;
}

int pop3_loop_start_tls(struct pop3_loop *l, bool available, unsigned cap_s,
    char *reason, size_t reason_cap, char *version, size_t version_cap)
{
	struct pop3_transport *t = l->t;

	if (available) {
		int w = pop3_loop_wait_ms(l);
		int cap = cap_s > INT_MAX / 1000 ? INT_MAX : (int)cap_s * 1000;
		if (t->ops->start_tls(t, w < cap ? w : cap) == 0) {
			pop3_copy_printable(version, version_cap, t->ops->tls_version(t));
			return 0;
		}
	}
	const char *e = t->ops->last_error ? t->ops->last_error(t) : NULL;
	pop3_copy_printable(reason, reason_cap, e != NULL && *e ? e : "TLS handshake failed");
	return -1;
}

void pop3_vtrace(void (*trace)(void *arg, const char *msg), void *arg, const char *fmt,
    va_list ap)
{
	char msg[256];

	if (trace == NULL)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	trace(arg, msg);
}

const void *pop3_loop_lookup(char *line, const void *table, size_t n, size_t size,
    char **args)
{
	size_t klen = strcspn(line, " ");

	*args = line + klen;
	if (**args == ' ')
		(*args)++;
	for (size_t i = 0; i < n; i++) {
		const void *e = (const char *)table + i * size;
		const char *name = *(const char *const *)e;
		if (strlen(name) == klen && strncasecmp(name, line, klen) == 0)
			return e;
	}
	return NULL;
}
