/* imap/session.c — session life cycle and the command engine
 * (see imap.h and session_int.h).
 */
#include "imap/session_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The capability string kept for imap_has_name and logs. */
#define CAPSTR_MAX 2048

/* ---- outcomes ---------------------------------------------------------- */

enum imap_result imap_set_last(struct imap_session *s, enum imap_result r,
    enum imap_cause cause, const char *fmt, ...)
{
	char text[IMAP_TEXT_MAX + 1];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->last.result = r;
	s->last.cause = cause;
	s->last.code = IMAP_CODE_NONE;
	imap_sanitize(s->last.text, sizeof(s->last.text), text, strlen(text));
	return r;
}

void imap_drop_connection(struct imap_session *s)
{
	imap_ahead_lost(s);
	imap_conn_close(&s->conn);
	imap_parser_reset(s->parser);
	s->roff = s->rlen = 0;
	s->state = IMAP_STATE_DISCONNECTED;
	s->pipelined = false;
}

/* The transport failed: close and describe. */
static enum imap_result conn_failed(struct imap_session *s)
{
	enum imap_cause cause = s->conn.cause;
	enum imap_result r = (cause == IMAP_CAUSE_TLS || cause == IMAP_CAUSE_TLS_VERIFY) ?
	    IMAP_ETLS : IMAP_ECONN;
	imap_drop_connection(s);
	if (s->bye && cause == IMAP_CAUSE_CLOSED)
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_BYE,
		    "server said BYE: %s", s->bye_text);
	return imap_set_last(s, r, cause, "%s", s->conn.err);
}

enum imap_result imap_proto_failed(struct imap_session *s, const char *why)
{
	char text[IMAP_TEXT_MAX + 1];
	snprintf(text, sizeof(text), "%s", why);
	imap_drop_connection(s);
	return imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "protocol error: %s", text);
}

enum imap_result imap_cmd_refused(struct imap_session *s)
{
	return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "argument refused: %s",
	    s->cmd->error ? s->cmd->error : "invalid");
}

const char *imap_result_name(enum imap_result r)
{
	static const char *const names[] = {
		[IMAP_OK] = "OK", [IMAP_NO] = "NO", [IMAP_BAD] = "BAD",
		[IMAP_ENOTFOUND] = "not found", [IMAP_EARG] = "bad argument",
		[IMAP_EUNSUPPORTED] = "unsupported by the server",
		[IMAP_ECONN] = "connection error", [IMAP_ETLS] = "TLS error",
		[IMAP_EPROTO] = "protocol error", [IMAP_ESINK] = "sink aborted",
	};
	if ((unsigned)r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "unknown";
}

const struct imap_status *imap_last(const struct imap_session *s)
{
	return &s->last;
}

/* Microsoft 365 throttles with a NO and no response code: "Request is
 * throttled. Suggested Backoff Time: 190 milliseconds" (as Exchange Online
 * answers IMAP clients over its limits; the text is what its users report).
 * The tagged text is sanitised, so the comparison is on printable ASCII. */
static const char THROTTLE_TEXT[] = "Request is throttled";
static const char BACKOFF_TEXT[] = "Suggested Backoff Time:";

bool imap_last_throttled(const struct imap_session *s, unsigned *backoff_ms)
{
	if (backoff_ms)
		*backoff_ms = 0;
	if (s->last.result != IMAP_NO)
		return false;
	bool coded = s->last.code == IMAP_CODE_THROTTLED;
	if (!coded && strncasecmp(s->last.text, THROTTLE_TEXT, sizeof(THROTTLE_TEXT) - 1) != 0)
		return false;
	const char *p = strcasestr(s->last.text, BACKOFF_TEXT);
	if (p != NULL && backoff_ms) {
		p += sizeof(BACKOFF_TEXT) - 1;
		while (*p == ' ')
			p++;
		unsigned long ms = 0;
		for (; *p >= '0' && *p <= '9' && ms <= 3600000ul; p++)
			ms = ms * 10 + (unsigned long)(*p - '0');
		*backoff_ms = ms > 3600000ul ? 3600000u : (unsigned)ms;
	}
	return true;
}

bool imap_last_is_trouble(const struct imap_session *s)
{
	if (imap_last_throttled(s, NULL))
		return true;
	switch (s->last.result) {
	case IMAP_ECONN:
	case IMAP_ETLS:
	case IMAP_EPROTO:
	case IMAP_BAD:
		return true;
	case IMAP_NO:
		switch (s->last.code) {
		case IMAP_CODE_UNAVAILABLE:
		case IMAP_CODE_SERVERBUG:
		case IMAP_CODE_LIMIT:
		case IMAP_CODE_THROTTLED:
		case IMAP_CODE_INUSE:
		case IMAP_CODE_CONTACTADMIN:
		case IMAP_CODE_OVERQUOTA:
			return true;
		default:
			return false;
		}
	default:
		return false;
	}
}

enum imap_state imap_state(const struct imap_session *s)
{
	return s->state;
}

const char *imap_tls_version(const struct imap_session *s)
{
	return s->state == IMAP_STATE_DISCONNECTED ? NULL : imap_conn_tls_version(&s->conn);
}

size_t imap_starttls_discarded(const struct imap_session *s)
{
	return s->starttls_discarded;
}

void imap_set_events(struct imap_session *s, imap_event_fn *fn, void *arg)
{
	s->cfg.on_event = fn;
	s->cfg.event_arg = arg;
}

bool imap_reusable(const struct imap_session *s)
{
	return (s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED) && !s->bye &&
	    imap_ahead_count(s) == 0 && imap_parser_between(s->parser);
}

uint32_t imap_exists(const struct imap_session *s)
{
	return s->exists;
}

unsigned imap_commands(const struct imap_session *s)
{
	return s->tagn;
}

/* ---- life cycle -------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *fail)
{
	char *r;
	if (!s)
		return NULL;
	r = strdup(s);
	if (!r)
		*fail = true;
	return r;
}

struct imap_session *imap_session_new(const struct imap_config *cfg)
{
	bool fail = false;
	if (!cfg || !cfg->host)
		return NULL;
	struct imap_session *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = *cfg;
	s->host = dup_or_null(cfg->host, &fail);
	s->ca_file = dup_or_null(cfg->ca_file, &fail);
	s->verify_name = dup_or_null(cfg->verify_name ? cfg->verify_name : cfg->host, &fail);
	s->cfg.host = s->host;
	s->cfg.ca_file = s->ca_file;
	s->cfg.verify_name = s->verify_name;
	if (s->cfg.port == 0)
		s->cfg.port = cfg->tls == IMAP_TLS_IMPLICIT ? 993 : 143;
	s->parser = imap_parser_new(NULL);
	s->rbuf = malloc(IMAP_READ_BUF);
	s->cmd = malloc(sizeof(*s->cmd));
	s->capstr = calloc(1, CAPSTR_MAX);
	imap_conn_init(&s->conn, cfg->timeout_s);
	if (fail || !s->parser || !s->rbuf || !s->cmd || !s->capstr) {
		imap_session_free(s);
		return NULL;
	}
	s->state = IMAP_STATE_DISCONNECTED;
	return s;
}

void imap_session_free(struct imap_session *s)
{
	if (!s)
		return;
	imap_ahead_lost(s);
	free(s->ahead);
	imap_conn_close(&s->conn);
	imap_parser_free(s->parser);
	if (s->cmd)
		explicit_bzero(s->cmd, sizeof(*s->cmd));
	free(s->cmd);
	free(s->rbuf);
	free(s->capstr);
	free(s->kw);
	free(s->host);
	free(s->ca_file);
	free(s->verify_name);
	free(s);
}

int imap_session_detach(struct imap_session *s, struct imap_conn *out, const char **rest,
    size_t *rest_len)
{
	if (s->conn.fd < 0 || s->pipelined || (s->ahead && s->ahead->n > 0))
		return -1;
	*out = s->conn;
	out->budget.on = false;
	*rest = s->rbuf + s->roff;
	*rest_len = s->rlen - s->roff;
	/* The session forgets the connection without closing it. */
	imap_conn_init(&s->conn, (unsigned)(s->conn.timeout_ms / 1000));
	imap_parser_reset(s->parser);
	s->state = IMAP_STATE_DISCONNECTED;
	return 0;
}

/* ---- capabilities ------------------------------------------------------ */

static const struct {
	const char *name;
	unsigned cap;
} cap_names[] = {
	{ "IMAP4REV1", IMAP_CAP_IMAP4REV1 }, { "IMAP4REV2", IMAP_CAP_IMAP4REV2 },
	{ "STARTTLS", IMAP_CAP_STARTTLS }, { "LOGINDISABLED", IMAP_CAP_LOGINDISABLED },
	{ "AUTH=PLAIN", IMAP_CAP_AUTH_PLAIN }, { "SASL-IR", IMAP_CAP_SASL_IR },
	{ "UIDPLUS", IMAP_CAP_UIDPLUS }, { "MOVE", IMAP_CAP_MOVE },
	{ "CONDSTORE", IMAP_CAP_CONDSTORE }, { "QRESYNC", IMAP_CAP_QRESYNC | IMAP_CAP_CONDSTORE },
	{ "ENABLE", IMAP_CAP_ENABLE }, { "SPECIAL-USE", IMAP_CAP_SPECIAL_USE },
	{ "LIST-EXTENDED", IMAP_CAP_LIST_EXTENDED }, { "LITERAL+", IMAP_CAP_LITERAL_PLUS },
	{ "LITERAL-", IMAP_CAP_LITERAL_MINUS }, { "ID", IMAP_CAP_ID }, { "IDLE", IMAP_CAP_IDLE },
	{ "ESEARCH", IMAP_CAP_ESEARCH }, { "OBJECTID", IMAP_CAP_OBJECTID },
	{ "X-GM-EXT-1", IMAP_CAP_X_GM_EXT_1 }, { "NAMESPACE", IMAP_CAP_NAMESPACE },
	{ "UTF8=ACCEPT", IMAP_CAP_UTF8_ACCEPT },
};

/* RFC 9051: an IMAP4rev2-only server has these as part of the base
 * protocol, whether it lists them or not. */
#define REV2_BASE (IMAP_CAP_UIDPLUS | IMAP_CAP_MOVE | IMAP_CAP_ESEARCH | IMAP_CAP_ENABLE | \
	IMAP_CAP_IDLE | IMAP_CAP_SASL_IR | IMAP_CAP_LITERAL_MINUS | IMAP_CAP_NAMESPACE | \
	IMAP_CAP_SPECIAL_USE | IMAP_CAP_LIST_EXTENDED)

static void caps_set(struct imap_session *s, const struct imap_arg *a, size_t n)
{
	size_t len = 0;
	s->caps = 0;
	s->capstr[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (a[i].type != IMAP_ARG_ATOM)
			continue;
		for (size_t k = 0; k < sizeof(cap_names) / sizeof(cap_names[0]); k++)
			if (strcasecmp(a[i].u.str, cap_names[k].name) == 0)
				s->caps |= cap_names[k].cap;
		if (len + a[i].len + 2 < CAPSTR_MAX) {
			if (len)
				s->capstr[len++] = ' ';
			for (size_t k = 0; k < a[i].len; k++) {
				char c = a[i].u.str[k];
				s->capstr[len++] = (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') :
				    (c >= 0x21 && c <= 0x7e) ? c : '?';
			}
			s->capstr[len] = '\0';
		}
	}
	if ((s->caps & IMAP_CAP_IMAP4REV2) && !(s->caps & IMAP_CAP_IMAP4REV1))
		s->caps |= REV2_BASE;
}

bool imap_has(const struct imap_session *s, unsigned caps)
{
	return (s->caps & caps) == caps;
}

bool imap_has_name(const struct imap_session *s, const char *name)
{
	size_t n = strlen(name);
	const char *p = s->capstr;
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && strncasecmp(p, name, n) == 0)
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

const char *imap_capability_string(const struct imap_session *s)
{
	return s->capstr;
}

/* ---- events ------------------------------------------------------------ */

static void emit(struct imap_session *s, struct imap_event *ev)
{
	if (s->cfg.on_event)
		s->cfg.on_event(s->cfg.event_arg, ev);
}

/* A tagged reply or greeting with [ALERT]. */
static void emit_alert(struct imap_session *s, const struct imap_response *r)
{
	struct imap_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.type = IMAP_EVENT_ALERT;
	ev.text = r->text;
	ev.resp = r;
	emit(s, &ev);
}

static int handle_vanished(struct imap_session *s, const struct imap_response *r,
    struct imap_event *ev)
{
	struct imap_uidset set;
	size_t i = 0;
	imap_uidset_init(&set);
	if (r->nargs >= 1 && r->args[0].type == IMAP_ARG_LIST) {
		if (r->args[0].len == 1 && imap_arg_is_atom(&r->args[0].u.list[0], "EARLIER"))
			ev->earlier = true;
		i = 1;
	}
	if (i + 1 != r->nargs || r->args[i].type != IMAP_ARG_ATOM ||
	    imap_uidset_parse(&set, r->args[i].u.str, r->args[i].len) < 0) {
		imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "malformed VANISHED");
		return -1;
	}
	if (!ev->earlier) {
		uint64_t gone = imap_uidset_count(&set);
		s->exists = gone >= s->exists ? 0 : s->exists - (uint32_t)gone;
	}
	ev->type = IMAP_EVENT_VANISHED;
	ev->uids = &set;
	emit(s, ev);
	imap_uidset_free(&set);
	return 0;
}

/* 0, or -1 for a malformed response (s->last.text says why). */
static int handle_untagged(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *r)
{
	struct imap_event ev;
	memset(&ev, 0, sizeof(ev));
	ev.resp = r;
	ev.text = r->text;
	if (r->cond != IMAP_COND_NONE) {
		if (r->code == IMAP_CODE_CAPABILITY)
			caps_set(s, r->code_args, r->code_nargs);
		if (r->cond == IMAP_COND_BYE) {
			s->bye = true;
			snprintf(s->bye_text, sizeof(s->bye_text), "%s", r->text);
			ev.type = IMAP_EVENT_BYE;
			emit(s, &ev);
			return 0;
		}
		if (r->code == IMAP_CODE_ALERT) {
			ev.type = IMAP_EVENT_ALERT;
			emit(s, &ev);
			return 0;
		}
	} else {
		if (strcmp(r->name, "CAPABILITY") == 0) {
			caps_set(s, r->args, r->nargs);
			return 0;
		}
		if (strcmp(r->name, "EXISTS") == 0 || strcmp(r->name, "EXPUNGE") == 0 ||
		    strcmp(r->name, "FETCH") == 0 || strcmp(r->name, "RECENT") == 0) {
			if (!r->has_number ||
			    (strcmp(r->name, "EXPUNGE") == 0 && r->number == 0)) {
				imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE,
				    "%s without a valid number", r->name);
				return -1;
			}
			if (strcmp(r->name, "EXISTS") == 0)
				s->exists = r->number;
			else if (strcmp(r->name, "EXPUNGE") == 0 && s->exists > 0)
				s->exists--;
		}
	}
	if (h && h->untagged) {
		int c = h->untagged(s, h->ctx, r);
		if (c < 0)
			return -1;
		if (c > 0)
			return 0;
	}
	uint32_t uidvalidity;
	if (r->cond == IMAP_COND_OK && r->code == IMAP_CODE_UIDVALIDITY &&
	    s->state == IMAP_STATE_SELECTED && s->uidvalidity != 0 && r->code_nargs > 0 &&
	    imap_arg_number32(&r->code_args[0], &uidvalidity) == 0 &&
	    uidvalidity != s->uidvalidity) {
		/* Outside SELECT (whose handler took it above): the mailbox
		 * was renumbered while selected, and every UID the caller
		 * holds names another message now, or none. */
		imap_set_last(s, IMAP_EPROTO, IMAP_CAUSE_NONE, "the selected mailbox's "
		    "UIDVALIDITY changed (%u to %u)", s->uidvalidity, uidvalidity);
		return -1;
	}
	if (r->cond == IMAP_COND_NONE) {
		if (strcmp(r->name, "EXISTS") == 0) {
			ev.type = IMAP_EVENT_EXISTS;
			ev.number = r->number;
			emit(s, &ev);
			return 0;
		}
		if (strcmp(r->name, "EXPUNGE") == 0) {
			ev.type = IMAP_EVENT_EXPUNGE;
			ev.number = r->number;
			emit(s, &ev);
			return 0;
		}
		if (strcmp(r->name, "VANISHED") == 0)
			return handle_vanished(s, r, &ev);
		if (strcmp(r->name, "FETCH") == 0) {
			struct imap_msg m;
			if (imap_fetch_parse_msg(s, r, &m) < 0)
				return -1;
			ev.type = IMAP_EVENT_FETCH;
			ev.number = r->number;
			ev.msg = &m;
			emit(s, &ev);
			return 0;
		}
	}
	ev.type = IMAP_EVENT_OTHER;
	emit(s, &ev);
	return 0;
}

/* ---- the engine -------------------------------------------------------- */

/* The next parser event, reading as needed; IMAP_OK or a failure. */
static enum imap_result next_event(struct imap_session *s, enum imap_parse_status *st,
    struct imap_parse_event *ev)
{
	for (;;) {
		size_t used;
		*st = imap_parser_feed(s->parser, s->rbuf + s->roff, s->rlen - s->roff, &used, ev);
		s->roff += used;
		if (*st == IMAP_PARSE_ERROR)
			return imap_proto_failed(s, ev->error);
		if (*st != IMAP_PARSE_NEED_MORE)
			return IMAP_OK;
		s->roff = s->rlen = 0;
		ssize_t n = imap_conn_read(&s->conn, s->rbuf, IMAP_READ_BUF);
		if (n < 0)
			return conn_failed(s);
		s->rlen = (size_t)n;
	}
}

enum imap_result imap_cmd_check(struct imap_session *s, enum imap_state need)
{
	enum imap_result r = imap_cmd_check_keep(s, need);
	if (r == IMAP_OK && s->ahead && s->ahead->n > 0)
		r = imap_ahead_drain(s);
	return r;
}

enum imap_result imap_cmd_check_keep(struct imap_session *s, enum imap_state need)
{
	if (s->pipelined) {
		imap_conn_budget_end(&s->conn);
		s->pipelined = false;
	}
	if (s->state == IMAP_STATE_DISCONNECTED)
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_CLOSED, "not connected");
	if (s->state < need)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "%s",
		    need == IMAP_STATE_SELECTED ? "no mailbox selected" : "not logged in");
	return IMAP_OK;
}

void imap_cmd_begin(struct imap_session *s, const char *words)
{
	s->tagn = s->tagn >= 99999999 ? 1 : s->tagn + 1;
	snprintf(s->tag, sizeof(s->tag), "A%04u", s->tagn);
	imap_cmd_init(s->cmd, s->tag, imap_has(s, IMAP_CAP_LITERAL_PLUS),
	    imap_has(s, IMAP_CAP_LITERAL_MINUS));
	imap_cmd_raw(s->cmd, words);
}

static enum imap_result finish_tagged(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *r)
{
	if (r->code == IMAP_CODE_CAPABILITY)
		caps_set(s, r->code_args, r->code_nargs);
	if (r->code == IMAP_CODE_ALERT)
		emit_alert(s, r);
	if (h && h->tagged)
		h->tagged(s, h->ctx, r);
	s->last.result = r->cond == IMAP_COND_OK ? IMAP_OK :
	    r->cond == IMAP_COND_NO ? IMAP_NO : IMAP_BAD;
	s->last.cause = IMAP_CAUSE_NONE;
	s->last.code = r->code;
	snprintf(s->last.text, sizeof(s->last.text), "%s", r->text);
	return s->last.result;
}

/* A message body section as imap_fetch_body asks for it, after "BODY[" or
 * "BODY.PEEK[": "]", "HEADER]" or "TEXT]" (not HEADER.FIELDS). */
static bool is_body_section(const char *p, size_t n)
{
	return (n >= 1 && p[0] == ']') || (n >= 7 && strncasecmp(p, "HEADER]", 7) == 0) ||
	    (n >= 5 && strncasecmp(p, "TEXT]", 5) == 0);
}

/* The command in s->cmd asks for a message body section. */
static bool asks_body(const struct imap_cmd *c)
{
	static const char item[] = "BODY.PEEK[";
	const char *p = c->buf, *end = c->buf + c->len;
	while ((p = memmem(p, (size_t)(end - p), item, sizeof(item) - 1)) != NULL) {
		p += sizeof(item) - 1;
		if (is_body_section(p, (size_t)(end - p)))
			return true;
	}
	return false;
}

/* The time a callback took: not the server's. */
static void skip_since(struct imap_session *s, long long t0)
{
	imap_conn_budget_skip(&s->conn, imap_conn_now_ms() - t0);
}

/* A continuation request the command has no more data for: the handler's
 * challenge() answers it (a SASL mechanism's error exchange). */
static enum imap_result answer_challenge(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *resp)
{
	const char *line = h && h->challenge ? h->challenge(s, h->ctx, resp) : NULL;
	if (line == NULL)
		return imap_proto_failed(s, "unexpected continuation request");
	size_t n = strlen(line);
	for (size_t i = 0; i < n; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			return imap_proto_failed(s, "challenge answer not printable");
	if (n > IMAP_CHALLENGE_REPLY_MAX)
		return imap_proto_failed(s, "challenge answer too long");
	if ((n > 0 && imap_conn_write(&s->conn, line, n) < 0) ||
	    imap_conn_write(&s->conn, "\r\n", 2) < 0)
		return conn_failed(s);
	return IMAP_OK;
}

/* Read and dispatch until a continuation request (only when waiting for
 * one; else the handler's challenge() answers it) or a tagged response:
 * IMAP_OK with *out set (NULL for a continuation), or a failure with the
 * connection closed. body: the command asked for a body section (no hard
 * cap while one streams). */
static enum imap_result read_until(struct imap_session *s, const struct cmd_handler *h,
    bool waiting, bool body, const struct imap_response **out)
{
	enum imap_parse_status st;
	struct imap_parse_event ev;

	for (;;) {
		enum imap_result r = next_event(s, &st, &ev);
		if (r != IMAP_OK)
			return r;
		if (st != IMAP_PARSE_RESPONSE) {
			if (body && st == IMAP_PARSE_STREAM_BEGIN &&
			    strncasecmp(ev.section, "BODY[", 5) == 0 &&
			    is_body_section(ev.section + 5, strlen(ev.section + 5)))
				imap_conn_budget_uncap(&s->conn, true);
			else if (st == IMAP_PARSE_STREAM_END)
				imap_conn_budget_uncap(&s->conn, false);
			long long t0 = imap_conn_now_ms();
			int k = h && h->stream ? h->stream(s, h->ctx, st, &ev) : 0;
			skip_since(s, t0);
			if (k == -1) {
				imap_drop_connection(s);
				return imap_set_last(s, IMAP_ESINK, IMAP_CAUSE_NONE,
				    "the receiver stopped the transfer");
			}
			if (k < 0)
				return imap_proto_failed(s, s->last.text);
			continue;
		}
		const struct imap_response *resp = ev.resp;
		if (resp->type == IMAP_RESP_CONTINUATION) {
			if (!waiting) {
				r = answer_challenge(s, h, resp);
				if (r != IMAP_OK)
					return r;
				continue;
			}
			*out = NULL;
			return IMAP_OK;
		}
		if (resp->type == IMAP_RESP_UNTAGGED) {
			long long t0 = imap_conn_now_ms();
			int k = handle_untagged(s, h, resp);
			skip_since(s, t0);
			if (k < 0)
				return imap_proto_failed(s, s->last.text);
			if (h && h->stop && *h->stop) {
				*out = NULL;
				return IMAP_OK;
			}
			continue;
		}
		*out = resp;
		return IMAP_OK;
	}
}

/* The tagged reply to the command just sent (s->tag). */
static enum imap_result own_tagged(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *resp)
{
	if (strcmp(resp->tag, s->tag) != 0)
		return imap_proto_failed(s, "tagged response for a command not sent");
	return finish_tagged(s, h, resp);
}

/* Send s->cmd and read to its tagged reply (see imap_cmd_run). */
static enum imap_result exchange(struct imap_session *s, const struct cmd_handler *h)
{
	struct imap_cmd *c = s->cmd;
	size_t sent = 0, next_sync = 0;
	const struct imap_response *resp;
	enum imap_result r;
	bool body = asks_body(c);

	for (;;) {
		bool waiting = next_sync < c->nsync;
		size_t upto = waiting ? c->sync[next_sync] : c->len;
		if (imap_conn_write(&s->conn, c->buf + sent, upto - sent) < 0) {
			explicit_bzero(c->buf, c->len);
			return conn_failed(s);
		}
		sent = upto;
		if (!waiting)
			explicit_bzero(c->buf, c->len);  /* may hold a password */
		r = read_until(s, h, waiting, body, &resp);
		if (r != IMAP_OK) {
			explicit_bzero(c->buf, c->len);
			return r;
		}
		if (resp == NULL) {
			next_sync++;
			continue;
		}
		explicit_bzero(c->buf, c->len);
		return own_tagged(s, h, resp);
	}
}

/* The command built is about to go out: IMAP_OK when it is complete and
 * the session connected, else why not. */
static enum imap_result cmd_ready(struct imap_session *s)
{
	if (imap_cmd_end(s->cmd) < 0)
		return imap_cmd_refused(s);
	if (s->state == IMAP_STATE_DISCONNECTED)
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_CLOSED, "not connected");
	return IMAP_OK;
}

enum imap_result imap_cmd_run(struct imap_session *s, const struct cmd_handler *h)
{
	enum imap_result r = cmd_ready(s);

	if (r != IMAP_OK)
		return r;
	s->pipelined = false;
	imap_conn_budget_begin(&s->conn);
	r = exchange(s, h);
	imap_conn_budget_end(&s->conn);
	return r;
}

enum imap_result imap_cmd_run_literal(struct imap_session *s, const struct cmd_handler *h,
    bool sync, uint64_t size, imap_source_fn *src, void *src_arg)
{
	const struct imap_response *resp;
	enum imap_result r;
	char buf[16384];

	r = cmd_ready(s);
	if (r != IMAP_OK)
		return r;
	s->pipelined = false;
	imap_conn_budget_begin(&s->conn);
	if (imap_conn_write(&s->conn, s->cmd->buf, s->cmd->len) < 0) {
		r = conn_failed(s);
		goto out;
	}
	if (sync) {
		r = read_until(s, h, true, false, &resp);
		if (r != IMAP_OK)
			goto out;
		if (resp != NULL) {   /* refused before the literal: NO [TRYCREATE] */
			r = own_tagged(s, h, resp);
			goto out;
		}
	}
	/* The literal goes out at the pace the server reads it: each write
	 * has the timeout, the progress budget counts only what comes back. */
	imap_conn_budget_end(&s->conn);
	for (uint64_t sent = 0; sent < size;) {
		size_t want = size - sent < sizeof(buf) ? (size_t)(size - sent) : sizeof(buf);
		ssize_t n = src(src_arg, buf, want);
		if (n <= 0 || (size_t)n > want) {
			imap_drop_connection(s);
			return imap_set_last(s, IMAP_ESINK, IMAP_CAUSE_NONE,
			    "the literal's source ended at %llu of %llu octets",
			    (unsigned long long)sent, (unsigned long long)size);
		}
		if (imap_conn_write(&s->conn, buf, (size_t)n) < 0)
			return conn_failed(s);
		sent += (uint64_t)n;
	}
	imap_conn_budget_begin(&s->conn);
	if (imap_conn_write(&s->conn, "\r\n", 2) < 0) {
		r = conn_failed(s);
		goto out;
	}
	r = read_until(s, h, false, false, &resp);
	if (r == IMAP_OK)
		r = own_tagged(s, h, resp);
out:
	imap_conn_budget_end(&s->conn);
	return r;
}

enum imap_result imap_cmd_send_raw(struct imap_session *s, const char *buf, size_t len)
{
	if (s->state == IMAP_STATE_DISCONNECTED)
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_CLOSED, "not connected");
	if (!s->pipelined) {
		imap_conn_budget_begin(&s->conn);
		s->pipelined = true;
	}
	if (len > 0 && imap_conn_write(&s->conn, buf, len) < 0)
		return conn_failed(s);
	return IMAP_OK;
}

enum imap_result imap_cmd_send_now(struct imap_session *s)
{
	enum imap_result r = cmd_ready(s);

	if (r != IMAP_OK)
		return r;
	imap_conn_budget_begin(&s->conn);
	int k = imap_conn_write(&s->conn, s->cmd->buf, s->cmd->len);
	imap_conn_budget_end(&s->conn);
	if (k < 0)
		return conn_failed(s);
	return IMAP_OK;
}

enum imap_result imap_cmd_read_tagged(struct imap_session *s, const struct cmd_handler *h,
    bool body, const struct imap_response **out)
{
	if (s->state == IMAP_STATE_DISCONNECTED)
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_CLOSED, "not connected");
	return read_until(s, h, false, body, out);
}

enum imap_result imap_cmd_next_tagged(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response **out)
{
	if (s->state == IMAP_STATE_DISCONNECTED)
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_CLOSED, "not connected");
	return read_until(s, h, false, false, out);
}

enum imap_result imap_cmd_tagged_result(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *r)
{
	return finish_tagged(s, h, r);
}

enum imap_result imap_cmd_uid_chunks(struct imap_session *s, const char *words,
    const struct imap_uidset *uids,
    void (*add_suffix)(struct imap_session *s, const void *arg), const void *arg,
    const struct cmd_handler *h)
{
	size_t pos = 0;
	if (imap_uidset_empty(uids))
		return imap_set_last(s, IMAP_OK, IMAP_CAUSE_NONE, "no messages given");
	while (pos < uids->n) {
		imap_cmd_begin(s, words);
		imap_cmd_uidset(s->cmd, uids, &pos, IMAP_CMD_SET_MAX);
		if (add_suffix)
			add_suffix(s, arg);
		enum imap_result r = imap_cmd_run(s, h);
		if (r != IMAP_OK)
			return r;
	}
	return IMAP_OK;
}

/* ---- connecting -------------------------------------------------------- */

/* A command without arguments or special responses, in any state. */
static enum imap_result simple_cmd(struct imap_session *s, const char *words)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_NOT_AUTH);
	if (r != IMAP_OK)
		return r;
	imap_cmd_begin(s, words);
	return imap_cmd_run(s, NULL);
}

enum imap_result imap_capability(struct imap_session *s)
{
	return simple_cmd(s, "CAPABILITY");
}

static enum imap_result start_tls(struct imap_session *s)
{
	struct imap_tls_opts o = {
		.ca_file = s->cfg.ca_file,
		.verify_name = s->cfg.verify_name,
		.min = s->cfg.tls_min,
	};
	if (imap_conn_start_tls(&s->conn, &o) < 0)
		return conn_failed(s);
	return IMAP_OK;
}

static enum imap_result read_greeting(struct imap_session *s)
{
	enum imap_parse_status st;
	struct imap_parse_event ev;
	enum imap_result r = next_event(s, &st, &ev);
	if (r != IMAP_OK)
		return r;
	if (st != IMAP_PARSE_RESPONSE || ev.resp->type != IMAP_RESP_UNTAGGED ||
	    (ev.resp->cond != IMAP_COND_OK && ev.resp->cond != IMAP_COND_PREAUTH &&
	    ev.resp->cond != IMAP_COND_BYE))
		return imap_proto_failed(s, "the server's greeting is not OK, PREAUTH or BYE");
	const struct imap_response *g = ev.resp;
	if (g->code == IMAP_CODE_CAPABILITY)
		caps_set(s, g->code_args, g->code_nargs);
	if (g->cond == IMAP_COND_BYE) {
		char text[IMAP_TEXT_MAX + 1];
		snprintf(text, sizeof(text), "%s", g->text);
		imap_drop_connection(s);
		return imap_set_last(s, IMAP_ECONN, IMAP_CAUSE_BYE, "server said BYE: %s", text);
	}
	if (g->code == IMAP_CODE_ALERT)
		emit_alert(s, g);
	s->state = g->cond == IMAP_COND_PREAUTH ? IMAP_STATE_AUTH : IMAP_STATE_NOT_AUTH;
	s->last.result = IMAP_OK;
	s->last.cause = IMAP_CAUSE_NONE;
	s->last.code = g->code;
	snprintf(s->last.text, sizeof(s->last.text), "%s", g->text);
	return IMAP_OK;
}

static enum imap_result do_starttls(struct imap_session *s)
{
	enum imap_result r;
	if (s->state == IMAP_STATE_AUTH) {
		imap_drop_connection(s);
		return imap_set_last(s, IMAP_ETLS, IMAP_CAUSE_PREAUTH,
		    "server greeted PREAUTH before STARTTLS; refusing to go on in plaintext");
	}
	if (!s->caps) {
		r = imap_capability(s);
		if (r != IMAP_OK && r != IMAP_NO && r != IMAP_BAD)
			return r;
	}
	if (!imap_has(s, IMAP_CAP_STARTTLS)) {
		imap_drop_connection(s);
		return imap_set_last(s, IMAP_ETLS, IMAP_CAUSE_NO_STARTTLS,
		    "server does not offer STARTTLS");
	}
	imap_cmd_begin(s, "STARTTLS");
	r = imap_cmd_run(s, NULL);
	if (r != IMAP_OK) {
		if (r == IMAP_NO || r == IMAP_BAD) {
			char text[IMAP_TEXT_MAX + 1];
			snprintf(text, sizeof(text), "%s", s->last.text);
			imap_drop_connection(s);
			return imap_set_last(s, IMAP_ETLS, IMAP_CAUSE_NO_STARTTLS,
			    "server refused STARTTLS: %s", text);
		}
		return r;
	}
	/* Whatever came after the OK was sent before TLS: never trust it. */
	s->starttls_discarded = s->rlen - s->roff;
	s->roff = s->rlen = 0;
	imap_parser_reset(s->parser);
	s->caps = 0;
	s->capstr[0] = '\0';
	r = start_tls(s);
	if (r != IMAP_OK)
		return r;
	return imap_capability(s);
}

enum imap_result imap_connect(struct imap_session *s)
{
	enum imap_result r;
	if (s->state != IMAP_STATE_DISCONNECTED)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "already connected");
	imap_conn_close(&s->conn);
	imap_parser_reset(s->parser);
	s->roff = s->rlen = 0;
	s->caps = 0;
	s->capstr[0] = '\0';
	s->bye = false;
	s->exists = 0;
	s->starttls_discarded = 0;
	if (imap_conn_open(&s->conn, s->cfg.host, s->cfg.port) < 0)
		return conn_failed(s);
	s->state = IMAP_STATE_NOT_AUTH;  /* connected; refined by the greeting */
	if (s->cfg.tls == IMAP_TLS_IMPLICIT && (r = start_tls(s)) != IMAP_OK)
		return r;
	imap_conn_budget_begin(&s->conn);
	r = read_greeting(s);
	imap_conn_budget_end(&s->conn);
	if (r != IMAP_OK)
		return r;
	if (s->cfg.tls == IMAP_TLS_STARTTLS)
		return do_starttls(s);
	if (!s->caps)
		return imap_capability(s);
	return IMAP_OK;
}

enum imap_result imap_logout(struct imap_session *s)
{
	enum imap_result r = simple_cmd(s, "LOGOUT");
	if (r == IMAP_ECONN && s->last.cause == IMAP_CAUSE_BYE)
		r = imap_set_last(s, IMAP_OK, IMAP_CAUSE_NONE, "logged out");
	imap_drop_connection(s);
	return r;
}

enum imap_result imap_noop(struct imap_session *s)
{
	return simple_cmd(s, "NOOP");
}
