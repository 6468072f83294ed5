/* smtp/session.c — the SMTP engine: the session loop, the command table,
 * replies, EHLO/HELO, STARTTLS and the small commands. See server.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/session.h"
#include "smtp/session_int.h"

struct smtp_command {
	const char *name;
	smtp_cmd_fn *fn;
};

static smtp_cmd_fn cmd_ehlo, cmd_helo, cmd_starttls, cmd_rset, cmd_noop, cmd_quit,
    cmd_help, cmd_vrfy, cmd_expn;

/* RFC 5321 §4.1, RFC 3207, RFC 4954. No TURN, ETRN, BDAT, DSN. */
static const struct smtp_command commands[] = {
	{ "EHLO", cmd_ehlo }, { "HELO", cmd_helo }, { "STARTTLS", cmd_starttls },
	{ "AUTH", smtp_cmd_auth }, { "MAIL", smtp_cmd_mail }, { "RCPT", smtp_cmd_rcpt },
	{ "DATA", smtp_cmd_data }, { "RSET", cmd_rset }, { "NOOP", cmd_noop },
	{ "QUIT", cmd_quit }, { "HELP", cmd_help }, { "VRFY", cmd_vrfy },
	{ "EXPN", cmd_expn },
};

const char *smtp_result_name(enum smtp_result r)
{
	switch (r) {
	case SMTP_RESULT_QUIT: return "quit";
	case SMTP_RESULT_AUTH_FAILED: return "auth-failed";
	case SMTP_RESULT_DROPPED: return "dropped";
	case SMTP_RESULT_TIMEOUT: return "timeout";
	case SMTP_RESULT_TOO_MANY_ERRORS: return "too-many-errors";
	case SMTP_RESULT_LINE_TOO_LONG: return "line-too-long";
	case SMTP_RESULT_TLS_FAILED: return "tls-failed";
	case SMTP_RESULT_UPSTREAM: return "upstream";
	case SMTP_RESULT_ERROR: return "error";
	}
	return "error";
}

void smtp_trace(struct smtp_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vtrace(s->cfg->trace, s->cfg->trace_arg, fmt, ap);
	va_end(ap);
}

void smtp_set_reason(struct smtp_session *s, const char *text)
{
	pop3_copy_printable(s->stats->reason, sizeof(s->stats->reason), text);
}

/* ---- replies ---------------------------------------------------------------- */

/* text: lines separated by LF, printable already. */
static void reply_lines(struct smtp_session *s, unsigned code, const char *text)
{
	unsigned lines = 0;

	for (const char *p = text;; lines++) {
		const char *nl = strchr(p, '\n');
		bool last = nl == NULL || nl[1] == '\0' || lines + 1 >= SMTP_REPLY_LINES_MAX;
		int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
		if (n > SMTP_REPLY_LINE_MAX)
			n = SMTP_REPLY_LINE_MAX;
		pop3_out_line(&s->out, "%03u%c%.*s", code, last ? ' ' : '-', n, p);
		if (last)
			return;
		p = nl + 1;
	}
}

void smtp_reply(struct smtp_session *s, unsigned code, const char *fmt, ...)
{
	char text[SMTP_REPLY_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	reply_lines(s, code, text);
}

void smtp_reply_relay(struct smtp_session *s, const struct smtp_reply *r)
{
	char text[SMTP_REPLY_TEXT_MAX];
	size_t i = 0;

	for (; r->text[i] != '\0' && i + 1 < sizeof(text); i++) {
		unsigned char c = (unsigned char)r->text[i];
		text[i] = c == '\n' || (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	text[i] = '\0';
	if (r->code < 200 || r->code > 599)
		smtp_reply(s, 451, "4.3.0 Upstream gave no valid reply");
	else
		reply_lines(s, r->code, text[0] != '\0' ? text : "");
}

/* ---- the loop's events (pop3/loop.h) ------------------------------------------ */

/* How each event reads in SMTP (the host after the enhanced code where
 * given), and how the session ends by it. */
static const struct {
	unsigned code;
	const char *enh;
	bool host;
	const char *text;
	bool ends;
	enum smtp_result result;
} loop_words[] = {
	[POP3_LOOP_LOGIN_TIMEOUT] = { 421, "4.4.2", true, "Login timeout, closing connection",
	    true, SMTP_RESULT_TIMEOUT },
	[POP3_LOOP_IDLE_TIMEOUT] = { 421, "4.4.2", true, "Idle timeout, closing connection",
	    true, SMTP_RESULT_TIMEOUT },
	[POP3_LOOP_WRITE_TIMEOUT] = { 0, NULL, false, NULL, true, SMTP_RESULT_TIMEOUT },
	[POP3_LOOP_DROPPED] = { 0, NULL, false, NULL, true, SMTP_RESULT_DROPPED },
	[POP3_LOOP_LINE_TOO_LONG] = { 500, "5.5.2", false, "Line too long", false, 0 },
	[POP3_LOOP_LINE_NUL] = { 500, "5.5.2", false, "NUL octet in line", false, 0 },
	[POP3_LOOP_LINE_OVERFLOW] = { 421, "4.7.0", true, "Line too long, closing connection",
	    true, SMTP_RESULT_LINE_TOO_LONG },
	[POP3_LOOP_TOO_MANY_BAD] = { 421, "4.7.0", true, "Too many errors, closing connection",
	    true, SMTP_RESULT_TOO_MANY_ERRORS },
	[POP3_LOOP_AUTH_FAILED] = { 0, NULL, false, NULL, true, SMTP_RESULT_AUTH_FAILED },
};

static void loop_event(void *arg, enum pop3_loop_event ev)
{
	struct smtp_session *s = arg;
	const char *host = loop_words[ev].host ? s->host : NULL;

	if (loop_words[ev].text != NULL)
		smtp_reply(s, loop_words[ev].code, "%s%s%s %s", loop_words[ev].enh,
		    host ? " " : "", host ? host : "", loop_words[ev].text);
	if (ev == POP3_LOOP_LOGIN_TIMEOUT)
		smtp_set_reason(s, "login timeout");
	if (loop_words[ev].ends)
		s->result = loop_words[ev].result;
}

/* TLS on the client's connection (STARTTLS, or implicit TLS before the
 * greeting): false, the reason and result set, when it failed. */
static bool start_tls(struct smtp_session *s)
{
	if (pop3_loop_start_tls(&s->loop, s->cfg->tls != NULL, SMTP_TLS_HANDSHAKE_TIMEOUT_S,
	    s->stats->reason, sizeof(s->stats->reason), s->stats->tls_version,
	    sizeof(s->stats->tls_version)) != 0) {
		s->result = SMTP_RESULT_TLS_FAILED;
		return false;
	}
	s->tls_active = true;
	return true;
}

int smtp_fill(struct smtp_session *s)
{
	return pop3_loop_fill(&s->loop);
}

int smtp_read_line(struct smtp_session *s, char **line, size_t *len)
{
	return pop3_loop_read_line(&s->loop, line, len);
}

/* ---- the transaction and small commands ------------------------------------- */

bool smtp_plaintext_ok(const struct smtp_session *s)
{
	return s->tls_active || s->cfg->plaintext_auth_allowed;
}

static bool starttls_possible(const struct smtp_session *s)
{
	return s->cfg->tls != NULL && s->cfg->offer_starttls && !s->cfg->implicit_tls &&
	    !s->tls_active;
}

void smtp_transaction_reset(struct smtp_session *s)
{
	s->in_mail = false;
	s->smtputf8 = false;
	s->rcpts = 0;
}

enum smtp_cmd_rc smtp_upstream_gone(struct smtp_session *s)
{
	smtp_set_reason(s, "upstream connection lost");
	s->result = SMTP_RESULT_UPSTREAM;
	return SMTP_CMD_CLOSE;
}

/* Abandon an open transaction upstream (RSET, a new EHLO). */
static enum smtp_cmd_rc abandon(struct smtp_session *s, struct smtp_reply *r)
{
	enum smtp_relay_rc rc = SMTP_RELAY_REPLY;

	r->code = 250;
	snprintf(r->text, sizeof(r->text), "2.0.0 Ok");
	if (s->relay != NULL && s->in_mail)
		rc = s->ops->rset(s->relay, r);
	smtp_transaction_reset(s);
	return rc == SMTP_RELAY_CLOSE ? SMTP_CMD_CLOSE : SMTP_CMD_OK;
}

/* The EHLO/HELO argument: a domain or an address literal, printable. */
static bool helo_ok(const char *args)
{
	size_t n = strlen(args);

	if (n == 0 || n > SMTP_HELO_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)args[i] <= 0x20 || (unsigned char)args[i] >= 0x7f)
			return false;
	return true;
}

static enum smtp_cmd_rc hello(struct smtp_session *s, char *args, bool esmtp)
{
	struct smtp_reply r;

	if (!helo_ok(args)) {
		smtp_reply(s, 501, "5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return SMTP_CMD_ERR;
	}
	if (abandon(s, &r) == SMTP_CMD_CLOSE) {
		smtp_reply_relay(s, &r);
		return smtp_upstream_gone(s);
	}
	memset(&s->ext, 0, sizeof(s->ext));
	s->ops->extensions(s->backend, &s->ext);
	s->size_max = s->ext.size > 0 && s->ext.size < SMTP_SIZE_DEFAULT ? s->ext.size
	    : SMTP_SIZE_DEFAULT;
	s->greeted = true;
	s->esmtp = esmtp;
	if (!esmtp) {
		smtp_reply(s, 250, "%s", s->host);
		return SMTP_CMD_OK;
	}
	char text[SMTP_REPLY_TEXT_MAX];
	int n = snprintf(text, sizeof(text), "%s\nPIPELINING\nSIZE %llu\n", s->host,
	    (unsigned long long)s->size_max);
	if (s->ext.eightbitmime)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "8BITMIME\n");
	n += snprintf(text + n, sizeof(text) - (size_t)n, "ENHANCEDSTATUSCODES\n");
	if (s->ext.smtputf8)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "SMTPUTF8\n");
	if (starttls_possible(s))
		n += snprintf(text + n, sizeof(text) - (size_t)n, "STARTTLS\n");
	if (s->relay == NULL && smtp_plaintext_ok(s))
		n += snprintf(text + n, sizeof(text) - (size_t)n, "AUTH PLAIN LOGIN\n");
	text[n - 1] = '\0';   /* the last LF */
	reply_lines(s, 250, text);
	return SMTP_CMD_OK;
}

static enum smtp_cmd_rc cmd_ehlo(struct smtp_session *s, char *args)
{
	return hello(s, args, true);
}

static enum smtp_cmd_rc cmd_helo(struct smtp_session *s, char *args)
{
	return hello(s, args, false);
}

static enum smtp_cmd_rc cmd_starttls(struct smtp_session *s, char *args)
{
	if (s->tls_active) {
		smtp_reply(s, 503, "5.5.1 TLS already active");
		return SMTP_CMD_ERR;
	}
	if (!starttls_possible(s) || s->relay != NULL) {
		smtp_reply(s, 502, "5.5.1 STARTTLS not available");
		return SMTP_CMD_ERR;
	}
	if (args[0] != '\0') {
		smtp_reply(s, 501, "5.5.4 Syntax: STARTTLS");
		return SMTP_CMD_ERR;
	}
	smtp_reply(s, 220, "2.0.0 Ready to start TLS");
	if (pop3_out_flush(&s->out) != 0)
		return SMTP_CMD_CLOSE;
	/* RFC 3207 §5: nothing the client sent in the clear after STARTTLS
	 * may be executed (CVE-2011-0411). */
	if (pop3_lr_buffered(&s->lr) > 0)
		smtp_trace(s, "discarding %zu octets pipelined after STARTTLS",
		    pop3_lr_buffered(&s->lr));
	pop3_lr_discard(&s->lr);
	if (!start_tls(s))
		return SMTP_CMD_CLOSE;
	smtp_trace(s, "TLS started: %s", s->stats->tls_version);
	/* RFC 3207 §4.2: forget what the client said before (its EHLO). */
	s->greeted = s->esmtp = false;
	smtp_transaction_reset(s);
	return SMTP_CMD_OK;
}

static enum smtp_cmd_rc cmd_rset(struct smtp_session *s, char *args)
{
	struct smtp_reply r;

	if (args[0] != '\0') {
		smtp_reply(s, 501, "5.5.4 Syntax: RSET");
		return SMTP_CMD_ERR;
	}
	enum smtp_cmd_rc rc = abandon(s, &r);
	smtp_reply_relay(s, &r);
	return rc == SMTP_CMD_CLOSE ? smtp_upstream_gone(s) : SMTP_CMD_OK;
}

static enum smtp_cmd_rc cmd_noop(struct smtp_session *s, char *args)
{
	(void)args;  /* RFC 5321 §4.1.1.9: a parameter is ignored */
	smtp_reply(s, 250, "2.0.0 Ok");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_rc cmd_quit(struct smtp_session *s, char *args)
{
	if (args[0] != '\0') {
		smtp_reply(s, 501, "5.5.4 Syntax: QUIT");
		return SMTP_CMD_ERR;
	}
	smtp_reply(s, 221, "2.0.0 %s closing connection", s->host);
	s->result = SMTP_RESULT_QUIT;
	return SMTP_CMD_CLOSE;
}

static enum smtp_cmd_rc cmd_help(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_reply(s, 214, "2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP QUIT");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_rc cmd_vrfy(struct smtp_session *s, char *args)
{
	if (args[0] == '\0') {
		smtp_reply(s, 501, "5.5.4 Syntax: VRFY address");
		return SMTP_CMD_ERR;
	}
	/* RFC 5321 §3.5.3: 252 when the server cannot say. */
	smtp_reply(s, 252, "2.5.2 Cannot VRFY user, but will accept message");
	return SMTP_CMD_OK;
}

static enum smtp_cmd_rc cmd_expn(struct smtp_session *s, char *args)
{
	(void)args;
	smtp_reply(s, 502, "5.5.1 EXPN not available");
	return SMTP_CMD_ERR;
}

/* ---- the loop ------------------------------------------------------------------ */

static enum smtp_cmd_rc dispatch(struct smtp_session *s, char *line, size_t len)
{
	char *args;
	const struct smtp_command *c = pop3_loop_lookup(line, commands,
	    sizeof(commands) / sizeof(commands[0]), sizeof(commands[0]), &args);

	if (c == NULL) {
		smtp_trace(s, "unknown command");
		smtp_reply(s, 500, "5.5.2 Command not recognized");
		return SMTP_CMD_ERR;
	}
	smtp_trace(s, "command %s", c->name);
	/* RFC 5321 §4.5.3.1.4: 512 octets with CRLF; AUTH may be longer
	 * (RFC 4954 §4), up to SMTP_AUTH_LINE_MAX (smtp/limits.h). */
	if (len + 2 > SMTP_CMD_LINE_MAX && c->fn != smtp_cmd_auth) {
		smtp_reply(s, 500, "5.5.2 Line too long");
		return SMTP_CMD_ERR;
	}
	return c->fn(s, args);
}

/* The loop's command(): dispatch(), in its return type. */
static enum pop3_loop_rc command(void *arg, char *line, size_t len)
{
	return (enum pop3_loop_rc)dispatch(arg, line, len);
}

enum smtp_result smtp_session_run_transport(struct pop3_transport *t,
    const struct smtp_session_config *cfg, const struct smtp_relay_ops *ops,
    void *backend, struct smtp_session_stats *stats)
{
	struct smtp_session *s = calloc(1, sizeof(*s));

	memset(stats, 0, sizeof(*stats));
	pop3_copy_printable(stats->remote_addr, sizeof(stats->remote_addr), cfg->remote_addr);
	if (s == NULL) {
		pop3_copy_printable(stats->reason, sizeof(stats->reason), "out of memory");
		stats->result = SMTP_RESULT_ERROR;
		t->ops->close(t);
		return stats->result;
	}
	s->cfg = cfg;
	s->ops = ops;
	s->backend = backend;
	s->stats = stats;
	s->t = t;
	s->host = cfg->hostname != NULL ? cfg->hostname : "popbridge";
	s->size_max = SMTP_SIZE_DEFAULT;
	s->result = SMTP_RESULT_DROPPED;
	pop3_lr_init(&s->lr, s->lr_buf, sizeof(s->lr_buf));
	s->loop = (struct pop3_loop){
		.t = t, .lr = &s->lr, .out = &s->out, .clock_ms = cfg->clock_ms,
		.bad_max = SMTP_MAX_BAD_COMMANDS,
		.auth_failures_max = cfg->max_auth_failures > 0 ? cfg->max_auth_failures
		    : SMTP_MAX_AUTH_FAILURES_DEFAULT,
		.auth_failures = &stats->auth_failures, .bytes_in = &stats->bytes_in,
		.event = loop_event, .command = command, .arg = s,
	};
	pop3_loop_start(&s->loop, cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s
	    : SMTP_IDLE_TIMEOUT_DEFAULT_S, cfg->login_timeout_s > 0 ? cfg->login_timeout_s
	    : SMTP_LOGIN_TIMEOUT_DEFAULT_S);
	pop3_out_init(&s->out, t, s->loop.idle_ms);

	bool go = !cfg->implicit_tls || start_tls(s);
	if (go)
		smtp_reply(s, 220, "%s ESMTP popbridge ready", s->host);
	while (go && pop3_loop_step(&s->loop))
		;
	pop3_out_flush(&s->out);
	if (s->relay != NULL)
		ops->close(s->relay);
	stats->bytes_out = s->out.bytes;
	stats->result = s->result;
	if (!stats->logged_in && stats->auth_failures > 0 &&
	    (s->result == SMTP_RESULT_QUIT || s->result == SMTP_RESULT_DROPPED ||
	     s->result == SMTP_RESULT_TIMEOUT))
		stats->result = SMTP_RESULT_AUTH_FAILED;
	smtp_trace(s, "session ends: %s", smtp_result_name(stats->result));
	explicit_bzero(s->lr_buf, sizeof(s->lr_buf));
	free(s);
	t->ops->close(t);
	return stats->result;
}

enum smtp_result smtp_session_run(int fd, const struct smtp_session_config *cfg,
    const struct smtp_relay_ops *ops, void *backend, struct smtp_session_stats *stats)
{
	struct pop3_transport *t = pop3_transport_sock_new(fd, cfg->tls);

	if (t == NULL) {
		memset(stats, 0, sizeof(*stats));
		pop3_copy_printable(stats->reason, sizeof(stats->reason), "out of memory");
		stats->result = SMTP_RESULT_ERROR;
		return stats->result;
	}
	return smtp_session_run_transport(t, cfg, ops, backend, stats);
}
