/* pop3/session.c — the POP3 engine: the session loop, the command table,
 * the state, CAPA, and the helpers every command uses. See session.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/deadline.h"
#include "pop3/session.h"
#include "pop3/session_int.h"

#define GREETING "popbridge ready."

struct pop3_command {
	const char *name;
	unsigned states; /* mask of enum pop3_state */
	pop3_cmd_fn *fn;
};

/* RFC 1939 §4–§7, RFC 2449, RFC 2595, RFC 5034. No APOP. */
static const struct pop3_command commands[] = {
	{ "USER", POP3_AUTHORIZATION, pop3_cmd_user },
	{ "PASS", POP3_AUTHORIZATION, pop3_cmd_pass },
	{ "AUTH", POP3_AUTHORIZATION, pop3_cmd_auth },
	{ "STLS", POP3_AUTHORIZATION, pop3_cmd_stls },
	{ "CAPA", POP3_AUTHORIZATION | POP3_TRANSACTION, pop3_cmd_capa },
	{ "QUIT", POP3_AUTHORIZATION | POP3_TRANSACTION, pop3_cmd_quit },
	{ "STAT", POP3_TRANSACTION, pop3_cmd_stat },
	{ "LIST", POP3_TRANSACTION, pop3_cmd_list },
	{ "UIDL", POP3_TRANSACTION, pop3_cmd_uidl },
	{ "RETR", POP3_TRANSACTION, pop3_cmd_retr },
	{ "TOP", POP3_TRANSACTION, pop3_cmd_top },
	{ "DELE", POP3_TRANSACTION, pop3_cmd_dele },
	{ "NOOP", POP3_TRANSACTION, pop3_cmd_noop },
	{ "RSET", POP3_TRANSACTION, pop3_cmd_rset },
};

static const char *state_name(enum pop3_state st)
{
	switch (st) {
	case POP3_AUTHORIZATION: return "AUTHORIZATION";
	case POP3_TRANSACTION: return "TRANSACTION";
	case POP3_UPDATE: return "UPDATE";
	}
	return "?";
}

const char *pop3_result_name(enum pop3_result r)
{
	switch (r) {
	case POP3_RESULT_QUIT: return "quit";
	case POP3_RESULT_COMMITTED: return "committed";
	case POP3_RESULT_COMMIT_FAILED: return "commit-failed";
	case POP3_RESULT_AUTH_FAILED: return "auth-failed";
	case POP3_RESULT_DROPPED: return "dropped";
	case POP3_RESULT_TIMEOUT: return "timeout";
	case POP3_RESULT_TOO_MANY_ERRORS: return "too-many-errors";
	case POP3_RESULT_LINE_TOO_LONG: return "line-too-long";
	case POP3_RESULT_TLS_FAILED: return "tls-failed";
	case POP3_RESULT_FETCH_FAILED: return "fetch-failed";
	case POP3_RESULT_ERROR: return "error";
	}
	return "error";
}

void pop3_trace(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pop3_vtrace(s->cfg->trace, s->cfg->trace_arg, fmt, ap);
	va_end(ap);
}

void pop3_enter_state(struct pop3_session *s, enum pop3_state st)
{
	pop3_trace(s, "state %s -> %s", state_name(s->state), state_name(st));
	s->state = st;
	s->loop.logged_in = st != POP3_AUTHORIZATION;
}

void pop3_copy_printable(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	if (cap == 0)
		return;
	for (; src != NULL && src[i] != '\0' && i + 1 < cap; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	dst[i] = '\0';
}

void pop3_set_reason(struct pop3_session *s, const char *text)
{
	pop3_copy_printable(s->stats->reason, sizeof(s->stats->reason), text);
}

void pop3_md_delay(const struct pop3_md_reply *reply)
{
	pop3_sleep_ms(reply->delay_ms);
}

int pop3_md_error(struct pop3_session *s, enum pop3_md_status st,
    const struct pop3_md_reply *reply)
{
	const char *code = "SYS/TEMP";
	const char *text = "Temporary failure, try again later.";
	char clean[sizeof(reply->text)];

	switch (st) {
	case POP3_MD_AUTH:
		code = "AUTH";
		text = "Authentication failed.";
		break;
	case POP3_MD_IN_USE:
		code = "IN-USE";
		text = "Mailbox is in use by another session.";
		break;
	case POP3_MD_LOGIN_DELAY:
		code = "LOGIN-DELAY";
		text = "Logged in too recently, try again later.";
		break;
	case POP3_MD_PERM:
		code = "SYS/PERM";
		text = "Mailbox unavailable, contact the administrator.";
		break;
	case POP3_MD_GONE:
		code = NULL;
		text = "Message no longer exists.";
		break;
	case POP3_MD_OK:
	case POP3_MD_TEMP:
	case POP3_MD_CLIENT:
		break;
	}
	pop3_copy_printable(clean, sizeof(clean), reply->text);
	if (clean[0] != '\0')
		text = clean;
	char *reason = s->stats->reason;
	size_t n = 0;
	if (code != NULL) {
		int k = snprintf(reason, sizeof(s->stats->reason), "[%s] ", code);
		n = k > 0 ? (size_t)k : 0;
	}
	pop3_copy_printable(reason + n, sizeof(s->stats->reason) - n, text);
	return pop3_out_err(&s->out, code, "%s", text);
}

/* How each event of the loop (pop3/loop.h) reads in POP3, and how the
 * session ends by it. */
static const struct {
	const char *text;
	bool ends;
	enum pop3_result result;
} loop_words[] = {
	[POP3_LOOP_LOGIN_TIMEOUT] = { "Login timeout, closing.", true, POP3_RESULT_TIMEOUT },
	[POP3_LOOP_IDLE_TIMEOUT] = { "Disconnected for inactivity.", true, POP3_RESULT_TIMEOUT },
	[POP3_LOOP_WRITE_TIMEOUT] = { NULL, true, POP3_RESULT_TIMEOUT },
	[POP3_LOOP_DROPPED] = { NULL, true, POP3_RESULT_DROPPED },
	[POP3_LOOP_LINE_TOO_LONG] = { "Line too long.", false, 0 },
	[POP3_LOOP_LINE_NUL] = { "NUL octet in line.", false, 0 },
	[POP3_LOOP_LINE_OVERFLOW] = { "Line too long, closing.", true, POP3_RESULT_LINE_TOO_LONG },
	[POP3_LOOP_TOO_MANY_BAD] = { "Too many bad commands, closing.", true,
	    POP3_RESULT_TOO_MANY_ERRORS },
	[POP3_LOOP_AUTH_FAILED] = { NULL, true, POP3_RESULT_AUTH_FAILED },
};

static void loop_event(void *arg, enum pop3_loop_event ev)
{
	struct pop3_session *s = arg;

	if (loop_words[ev].text != NULL)
		pop3_out_err(&s->out, NULL, "%s", loop_words[ev].text);
	if (ev == POP3_LOOP_LOGIN_TIMEOUT)
		pop3_set_reason(s, "login timeout");
	if (loop_words[ev].ends)
		s->result = loop_words[ev].result;
}

/* TLS on the client's connection (STLS, or implicit TLS before the
 * greeting): false, the reason and result set, when it failed. */
static bool start_tls(struct pop3_session *s)
{
	if (pop3_loop_start_tls(&s->loop, s->cfg->tls != NULL, POP3_TLS_HANDSHAKE_TIMEOUT_S,
	    s->stats->reason, sizeof(s->stats->reason), s->stats->tls_version,
	    sizeof(s->stats->tls_version)) != 0) {
		s->result = POP3_RESULT_TLS_FAILED;
		return false;
	}
	s->tls_active = true;
	return true;
}

bool pop3_plaintext_ok(const struct pop3_session *s)
{
	return s->tls_active || s->cfg->plaintext_auth_allowed;
}

static bool stls_possible(const struct pop3_session *s)
{
	return s->cfg->tls != NULL && s->cfg->offer_stls && !s->cfg->implicit_tls &&
	    !s->tls_active;
}

enum pop3_cmd_rc pop3_cmd_capa(struct pop3_session *s, char *args)
{
	if (args[0] != '\0') {
		pop3_out_err(&s->out, NULL, "CAPA takes no arguments.");
		return POP3_CMD_ERR;
	}
	pop3_out_ok(&s->out, "Capability list follows");
	pop3_out_line(&s->out, "TOP");
	pop3_out_line(&s->out, "UIDL");
	pop3_out_line(&s->out, "RESP-CODES");
	pop3_out_line(&s->out, "AUTH-RESP-CODE");
	pop3_out_line(&s->out, "PIPELINING");
	if (s->cfg->expire != NULL)
		pop3_out_line(&s->out, "EXPIRE %s", s->cfg->expire);
	unsigned delay = s->cfg->login_delay_s;
	if (s->state == POP3_TRANSACTION && s->ops->login_delay != NULL)
		delay = s->ops->login_delay(s->md);
	if (delay > 0)
		pop3_out_line(&s->out, "LOGIN-DELAY %u%s", delay, s->state == POP3_AUTHORIZATION &&
		    s->cfg->login_delay_per_user ? " USER" : "");
	if (s->state == POP3_AUTHORIZATION) {
		if (pop3_plaintext_ok(s)) {
			pop3_out_line(&s->out, "USER");
			pop3_out_line(&s->out, "SASL PLAIN LOGIN");
		}
		if (stls_possible(s))
			pop3_out_line(&s->out, "STLS");
	}
	if (s->cfg->implementation != NULL) {
		char impl[128];
		pop3_copy_printable(impl, sizeof(impl), s->cfg->implementation);
		pop3_out_line(&s->out, "IMPLEMENTATION %s", impl);
	}
	pop3_out_end(&s->out);
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_stls(struct pop3_session *s, char *args)
{
	if (!stls_possible(s)) {
		if (s->tls_active)
			pop3_out_err(&s->out, NULL, "TLS is already active.");
		else
			pop3_out_err(&s->out, NULL, "STLS is not available.");
		return POP3_CMD_ERR;
	}
	if (args[0] != '\0') {
		pop3_out_err(&s->out, NULL, "STLS takes no arguments.");
		return POP3_CMD_ERR;
	}
	pop3_out_ok(&s->out, "Begin TLS negotiation.");
	if (pop3_out_flush(&s->out) != 0)
		return POP3_CMD_CLOSE;
	/* RFC 2595 §4: whatever the client sent after STLS was sent in the
	 * clear and must never be executed. */
	if (pop3_lr_buffered(&s->lr) > 0)
		pop3_trace(s, "discarding %zu octets pipelined after STLS",
		    pop3_lr_buffered(&s->lr));
	pop3_lr_discard(&s->lr);
	s->have_user = false;
	if (!start_tls(s))
		return POP3_CMD_CLOSE;
	pop3_trace(s, "TLS started: %s", s->stats->tls_version);
	return POP3_CMD_OK;
}

static enum pop3_cmd_rc dispatch(struct pop3_session *s, char *line, size_t len)
{
	char *args;
	const struct pop3_command *c = pop3_loop_lookup(line, commands,
	    sizeof(commands) / sizeof(commands[0]), sizeof(commands[0]), &args);

	if (c == NULL) {
		pop3_trace(s, "unknown command");
		pop3_out_err(&s->out, NULL, "Unknown command.");
		return POP3_CMD_ERR;
	}
	pop3_trace(s, "command %s", c->name);
	/* RFC 2449 §4: 255 octets, CRLF included; AUTH may be longer
	 * (RFC 5034 §4). */
	if (len + 2 > POP3_CMD_LINE_MAX && c->fn != pop3_cmd_auth) {
		pop3_out_err(&s->out, NULL, "Line too long.");
		return POP3_CMD_ERR;
	}
	if ((c->states & s->state) == 0) {
		pop3_out_err(&s->out, NULL, "Command not valid in this state.");
		return POP3_CMD_ERR;
	}
	return c->fn(s, args);
}

int pop3_read_line(struct pop3_session *s, char **line, size_t *len)
{
	return pop3_loop_read_line(&s->loop, line, len);
}

/* The loop's command(): dispatch(), in its return type. */
static enum pop3_loop_rc command(void *arg, char *line, size_t len)
{
	return (enum pop3_loop_rc)dispatch(arg, line, len);
}

enum pop3_result pop3_session_run_transport(struct pop3_transport *t,
    const struct pop3_session_config *cfg, const struct pop3_maildrop_ops *ops,
    void *backend, struct pop3_session_stats *stats)
{
	struct pop3_session *s = calloc(1, sizeof(*s));

	memset(stats, 0, sizeof(*stats));
	pop3_copy_printable(stats->remote_addr, sizeof(stats->remote_addr),
	    cfg->remote_addr);
	if (s == NULL) {
		pop3_copy_printable(stats->reason, sizeof(stats->reason), "out of memory");
		stats->result = POP3_RESULT_ERROR;
		t->ops->close(t);
		return stats->result;
	}
	s->cfg = cfg;
	s->ops = ops;
	s->backend = backend;
	s->stats = stats;
	s->t = t;
	s->state = POP3_AUTHORIZATION;
	s->result = POP3_RESULT_DROPPED;
	pop3_lr_init(&s->lr, s->lr_buf, sizeof(s->lr_buf));
	s->loop = (struct pop3_loop){
		.t = t, .lr = &s->lr, .out = &s->out, .clock_ms = cfg->clock_ms,
		.bad_max = POP3_MAX_BAD_COMMANDS,
		.auth_failures_max = cfg->max_auth_failures > 0 ? cfg->max_auth_failures
		    : POP3_MAX_AUTH_FAILURES_DEFAULT,
		.auth_failures = &stats->auth_failures, .bytes_in = &stats->bytes_in,
		.event = loop_event, .command = command, .arg = s,
	};
	pop3_loop_start(&s->loop, cfg->idle_timeout_s > 0 ? cfg->idle_timeout_s
	    : POP3_IDLE_TIMEOUT_DEFAULT_S, cfg->login_timeout_s > 0 ? cfg->login_timeout_s
	    : POP3_LOGIN_TIMEOUT_DEFAULT_S);
	pop3_out_init(&s->out, t, s->loop.idle_ms);

	bool go = !cfg->implicit_tls || start_tls(s);
	if (go)
		pop3_out_ok(&s->out, GREETING);
	while (go && pop3_loop_step(&s->loop))
		;
	pop3_out_flush(&s->out);
	if (s->md != NULL) {
		ops->close(s->md); /* no QUIT: nothing is committed */
		s->closed_md = s->md;
	}
	if (s->closed_md != NULL && ops->release != NULL)
		ops->release(s->closed_md);  /* the client has its answers */
	free(s->deleted);
	stats->bytes_out = s->out.bytes;
	stats->result = s->result;
	if (!stats->logged_in && stats->auth_failures > 0 &&
	    (s->result == POP3_RESULT_QUIT || s->result == POP3_RESULT_DROPPED ||
	     s->result == POP3_RESULT_TIMEOUT))
		stats->result = POP3_RESULT_AUTH_FAILED;
	pop3_trace(s, "session ends: %s", pop3_result_name(stats->result));
	explicit_bzero(s->lr_buf, sizeof(s->lr_buf));
	free(s);
	t->ops->close(t);
	return stats->result;
}
