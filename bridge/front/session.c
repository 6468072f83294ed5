/* bridge/front/session.c — one IMAP front session (bridge/front/front.h):
 * the pre-login IMAP server, the device login, then the relay. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/base/text.h"
#include "bridge/base/version.h"
#include "bridge/front/front.h"
#include "bridge/front/parse.h"
#include "bridge/front/relay.h"
#include "bridge/maildrop/login.h"
#include "imap/conn.h"
#include "pop3/sasl.h"

/* A reply line: a tag, a capability list (imap/ keeps at most 2 KiB) and
 * a short text fit. */
#define REPLY_MAX 4096
/* The final BYE may take this long even when the login deadline passed. */
#define LAST_WRITE_MS 2000

struct fs {
	const struct front_config *cfg;
	const struct config_options *opt;
	struct front_stats *st;
	struct imap_conn c;
	bool tls;
	bool end;
	unsigned bad;
	size_t cont_sent;          /* "+" sent for this command's literals */
	size_t inlen;
	char in[FRONT_CMD_MAX];
	struct front_cmd cmd;
};

static uint64_t left_ms(const struct fs *s)
{
	uint64_t now = base_clock_ms(NULL);
	return now < s->cfg->login_deadline_ms ? s->cfg->login_deadline_ms - now : 0;
}

static void set_reason(struct fs *s, const char *a, const char *b)
{
	size_t o = base_text_printable_str(s->st->reason, sizeof(s->st->reason), a);
	base_text_printable_str(s->st->reason + o, sizeof(s->st->reason) - o, b);
}

static void finish(struct fs *s, const char *result, const char *why)
{
	s->end = true;
	s->st->result = result;
	if (why)
		set_reason(s, why, NULL);
}

/* Write one formatted reply line (CRLF added). */
static void say(struct fs *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct fs *s, const char *fmt, ...)
{
	char line[REPLY_MAX];
	va_list ap;
	if (s->c.fd < 0)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	line[n++] = '\r';
	line[n++] = '\n';
	uint64_t left = left_ms(s);
	s->c.timeout_ms = left > LAST_WRITE_MS ? (int)(left > 60000 ? 60000 : left) : LAST_WRITE_MS;
	if (imap_conn_write(&s->c, line, (size_t)n) != 0) {
		if (!s->end)
			finish(s, "dropped", s->c.err);
		imap_conn_close(&s->c);
		return;
	}
	s->st->bytes_out += (uint64_t)n;
}

static bool plaintext_ok(const struct fs *s)
{
	return s->tls || s->cfg->plaintext_auth_allowed;
}

static bool starttls_possible(const struct fs *s)
{
	return s->cfg->tls_ctx != NULL && !s->tls;
}

static void capabilities(const struct fs *s, char *buf, size_t len)
{
	snprintf(buf, len, "IMAP4rev1 SASL-IR ID%s%s", starttls_possible(s) ? " STARTTLS" : "",
	    plaintext_ok(s) ? " AUTH=PLAIN" : " LOGINDISABLED");
}

/* A bad command: counted; too many end the session. */
static void bad(struct fs *s, const char *tag, const char *text)
{
	say(s, "%s BAD %s", tag[0] ? tag : "*", text);
	if (++s->bad >= FRONT_BAD_MAX && !s->end) {
		say(s, "* BYE Too many bad commands.");
		finish(s, "too-many-errors", "too many bad commands");
	}
}

static void login_timeout(struct fs *s)
{
	say(s, "* BYE Login timeout.");
	finish(s, "timeout", "login timeout");
}

/* Read more client input into s->in: 0, or -1 with the session ended. */
static int fill(struct fs *s)
{
	uint64_t left = left_ms(s);
	if (left == 0) {
		login_timeout(s);
		return -1;
	}
	if (s->inlen >= sizeof(s->in)) {
		say(s, "* BYE Command line too long.");
		finish(s, "line-too-long", "command too long");
		return -1;
	}
	s->c.timeout_ms = left > 3600000 ? 3600000 : (int)left;
	ssize_t n = imap_conn_read(&s->c, s->in + s->inlen, sizeof(s->in) - s->inlen);
	if (n < 0) {
		if (s->c.cause == IMAP_CAUSE_TIMEOUT)
			login_timeout(s);
		else
			finish(s, "dropped", s->c.cause == IMAP_CAUSE_CLOSED ? NULL : s->c.err);
		return -1;
	}
	s->inlen += (size_t)n;
	s->st->bytes_in += (uint64_t)n;
	return 0;
}

/* Drop the first n octets of the input (wiped: they may hold a password). */
static void consume(struct fs *s, size_t n)
{
	memmove(s->in, s->in + n, s->inlen - n);
	OPENSSL_cleanse(s->in + s->inlen - n, n);
	s->inlen -= n;
}

static bool handshake(struct fs *s)
{
	uint64_t left = left_ms(s);
	if (left == 0) {
		login_timeout(s);
		return false;
	}
	s->c.timeout_ms = left < FRONT_TLS_HANDSHAKE_S * 1000u ? (int)left :
	    FRONT_TLS_HANDSHAKE_S * 1000;
	if (imap_conn_accept_tls(&s->c, s->cfg->tls_ctx) != 0) {
		finish(s, "tls-failed", s->c.err);
		return false;
	}
	s->tls = true;
	const char *v = imap_conn_tls_version(&s->c);
	snprintf(s->st->tls_version, sizeof(s->st->tls_version), "%s", v ? v : "");
	return true;
}

static void cmd_starttls(struct fs *s, const char *tag)
{
	if (!starttls_possible(s)) {
		bad(s, tag, s->tls ? "TLS is active already." : "STARTTLS is not available.");
		return;
	}
	say(s, "%s OK Begin TLS negotiation now.", tag);
	if (s->end)
		return;
	/* RFC 2595 / 9051 §6.2.1: nothing the client sent before the handshake
	 * is executed (the CVE-2011-0411 family). */
	if (s->inlen > 0) {
		char n[32];
		snprintf(n, sizeof(n), "%zu", s->inlen);
		set_reason(s, n, " octets pipelined behind STARTTLS discarded");
		consume(s, s->inlen);
	}
	handshake(s);
}

/* The upstream's capabilities for the client: less STARTTLS,
 * LOGINDISABLED and AUTH=. */
static void upstream_caps(const char *up, char *out, size_t len)
{
	size_t o = 0;
	out[0] = '\0';
	while (*up) {
		const char *e = strchr(up, ' ');
		size_t n = e ? (size_t)(e - up) : strlen(up);
		bool drop = (n == 8 && strncasecmp(up, "STARTTLS", 8) == 0) ||
		    (n == 13 && strncasecmp(up, "LOGINDISABLED", 13) == 0) ||
		    (n >= 5 && strncasecmp(up, "AUTH=", 5) == 0);
		if (!drop && n > 0 && o + n + 2 < len) {
			if (o)
				out[o++] = ' ';
			memcpy(out + o, up, n);
			o += n;
			out[o] = '\0';
		}
		up = e ? e + 1 : up + n;
	}
}

struct revoke_check {
	struct state_db *db;
	int64_t device_id;
	struct fs *s;
};

/* SPEC §12: a revoked (or removed) device's sessions end. */
static int revoked(void *arg)
{
	struct revoke_check *rc = arg;
	struct state_device d;
	int r = state_device_get_by_id(rc->db, rc->device_id, &d);
	if (r == STATE_NOTFOUND || (r == STATE_OK && d.revoked))
		return 1;
	if (r != STATE_OK)
		base_log(PB_LOG_WARN, "imap", "revocation check: %s", state_errmsg(rc->db));
	return 0;
}

static void relay(struct fs *s, struct maildrop_login *l, struct maildrop_upstream *up,
    const char *tag, size_t pipelined)
{
	char caps[REPLY_MAX - 200];
	struct imap_conn uc;
	const char *rest;
	size_t rest_len;

	upstream_caps(imap_capability_string(up->imap), caps, sizeof(caps));
	const char *ut = imap_tls_version(up->imap);
	snprintf(s->st->upstream_tls, sizeof(s->st->upstream_tls), "%s", ut ? ut : "");
	if (imap_session_detach(up->imap, &uc, &rest, &rest_len) != 0) {
		say(s, "%s NO [UNAVAILABLE] Mail server unavailable, try again later.", tag);
		finish(s, "error", "upstream connection busy after login");
		return;
	}
	say(s, "%s OK [CAPABILITY %s] Logged in.", tag, caps);
	if (s->end) {
		imap_conn_close(&uc);
		return;
	}
	s->st->relayed = true;
	if (s->cfg->logged_in)
		s->cfg->logged_in(s->cfg->logged_in_arg);
	uc.timeout_ms = (int)(s->opt->upstream_timeout ? s->opt->upstream_timeout :
	    IMAP_DEFAULT_TIMEOUT_S) * 1000;
	s->c.timeout_ms = uc.timeout_ms;
	struct revoke_check rc = { .db = l->db, .device_id = l->device_id, .s = s };
	struct front_relay r = {
		.client = &s->c, .upstream = &uc,
		.client_first = s->in, .client_first_len = pipelined,
		.upstream_first = rest, .upstream_first_len = rest_len,
		.idle_ms = FRONT_IDLE_S * 1000u,
		.check_ms = FRONT_REVOKE_CHECK_S * 1000u, .check = revoked, .check_arg = &rc,
	};
	enum front_relay_end e = front_relay_run(&r);
	s->st->bytes_in += r.bytes_in - pipelined;   /* those were counted as read */
	s->st->bytes_out += r.bytes_out;
	imap_conn_close(&uc);
	switch (e) {
	case FRONT_RELAY_CLIENT_CLOSED: finish(s, "client-closed", NULL); break;
	case FRONT_RELAY_SERVER_CLOSED: finish(s, "server-closed", NULL); break;
	case FRONT_RELAY_IDLE:          finish(s, "idle", r.reason); break;
	case FRONT_RELAY_CHECK:         finish(s, "revoked", "device revoked"); break;
	case FRONT_RELAY_ERROR:         finish(s, "error", r.reason); break;
	}
}

/* The device login; on success the session becomes the relay (what is left
 * in s->in was pipelined behind the login). */
static void login(struct fs *s, const char *tag, const char *user, const char *password,
    const char *mech)
{
	struct maildrop_upstream up;
	struct maildrop_login l;

	memset(&up, 0, sizeof(up));
	up.relay = true;
	base_text_printable_str(s->st->user, sizeof(s->st->user), user);
	snprintf(s->st->mech, sizeof(s->st->mech), "%s", mech);
	maildrop_login_init(&l, s->cfg->ctx, s->opt, "imap", s->cfg->remote_addr,
	    s->cfg->remote_port, s->st->tls_version, s->cfg->login_deadline_ms, &up);
	enum maildrop_login_status ls = maildrop_device_login(&l, user, password);
	snprintf(s->st->account, sizeof(s->st->account), "%s", l.account);
	snprintf(s->st->device, sizeof(s->st->device), "%s", l.device);
	s->st->identified = l.identified;
	front_cmd_wipe(&s->cmd);
	if (ls == MAILDROP_LOGIN_OK) {
		relay(s, &l, &up, tag, s->inlen);
		OPENSSL_cleanse(s->in, sizeof(s->in));
		s->inlen = 0;
	} else {
		set_reason(s, l.detail, NULL);
		if (ls == MAILDROP_LOGIN_AUTH) {
			base_sleep_ms(l.delay_ms);
			s->st->auth_failures++;
			say(s, "%s NO [AUTHENTICATIONFAILED] %s", tag, l.text);
			if (s->st->auth_failures >= s->opt->max_auth_failures && !s->end) {
				say(s, "* BYE Too many failed logins.");
				finish(s, "auth-failed", NULL);
			}
		} else {
			say(s, "%s NO [%s] %s", tag, ls == MAILDROP_LOGIN_PERM ? "CONTACTADMIN" :
			    "UNAVAILABLE", l.text);
		}
	}
	maildrop_upstream_free(&up);
	maildrop_login_end(&l);
}

static bool is_string(const struct front_arg *a)
{
	return a && a->type != FRONT_ARG_LIST;
}

static void cmd_login(struct fs *s, const char *tag)
{
	const struct front_arg *u = front_cmd_arg(&s->cmd, 0), *p = front_cmd_arg(&s->cmd, 1);
	if (s->cmd.ntop != 2 || !is_string(u) || !is_string(p)) {
		bad(s, tag, "LOGIN needs a user name and a password.");
		return;
	}
	if (!plaintext_ok(s)) {
		say(s, "%s NO [PRIVACYREQUIRED] Plaintext login is not allowed without TLS.", tag);
		if (++s->bad >= FRONT_BAD_MAX)
			finish(s, "too-many-errors", "too many bad commands");
		return;
	}
	login(s, tag, u->s, p->s, "LOGIN");
}

/* One SASL response line (after "+ "): its length without the line end in
 * *n; 0, or -1 with the session ended. */
static int sasl_line(struct fs *s, size_t *n, size_t *consumed)
{
	for (;;) {
		char *lf = memchr(s->in, '\n', s->inlen);
		if (lf) {
			*consumed = (size_t)(lf - s->in) + 1;
			*n = *consumed - 1;
			if (*n > 0 && s->in[*n - 1] == '\r')
				(*n)--;
			return 0;
		}
		if (fill(s) != 0)
			return -1;
	}
}

static void cmd_authenticate(struct fs *s, const char *tag)
{
	const struct front_arg *mech = front_cmd_arg(&s->cmd, 0), *ir = front_cmd_arg(&s->cmd, 1);
	char dec[FRONT_CMD_MAX / 4 * 3 + 1];
	char resp[FRONT_CMD_MAX];
	size_t rlen;

	if (s->cmd.ntop < 1 || s->cmd.ntop > 2 || mech->type != FRONT_ARG_ATOM ||
	    (ir && ir->type != FRONT_ARG_ATOM)) {
		bad(s, tag, "AUTHENTICATE needs a mechanism and at most an initial response.");
		return;
	}
	if (strcasecmp(mech->s, "PLAIN") != 0) {
		say(s, "%s NO Unsupported authentication mechanism.", tag);
		if (++s->bad >= FRONT_BAD_MAX)
			finish(s, "too-many-errors", "too many bad commands");
		return;
	}
	if (!plaintext_ok(s)) {
		say(s, "%s NO [PRIVACYREQUIRED] Plaintext authentication is not allowed without "
		    "TLS.", tag);
		if (++s->bad >= FRONT_BAD_MAX)
			finish(s, "too-many-errors", "too many bad commands");
		return;
	}
	if (ir) {
		rlen = strcmp(ir->s, "=") == 0 ? 0 : ir->len;
		memcpy(resp, ir->s, rlen);
	} else {
		say(s, "+ ");
		size_t n, consumed;
		if (s->end || sasl_line(s, &n, &consumed) != 0)
			return;
		rlen = n;
		memcpy(resp, s->in, n);
		consume(s, consumed);
	}
	front_cmd_wipe(&s->cmd);
	if (rlen == 1 && resp[0] == '*') {
		bad(s, tag, "Authentication cancelled.");
		return;
	}
	/* authzid NUL authcid NUL password (RFC 4616, pop3/sasl.h) */
	struct pop3_sasl_creds c;
	long dn = pop3_sasl_decode(resp, rlen, false, dec, sizeof(dec));
	OPENSSL_cleanse(resp, sizeof(resp));
	enum pop3_sasl_rc rc = dn < 0 ? POP3_SASL_BAD_BASE64 :
	    pop3_sasl_plain_check(dec, (size_t)dn, SIZE_MAX, SIZE_MAX, &c);
	if (rc == POP3_SASL_OK)
		login(s, tag, c.user, c.pass, "PLAIN");
	OPENSSL_cleanse(dec, sizeof(dec));
	if (rc == POP3_SASL_AUTHZID) {
		say(s, "%s NO [AUTHORIZATIONFAILED] Logging in as another user is not supported.",
		    tag);
		if (++s->bad >= FRONT_BAD_MAX)
			finish(s, "too-many-errors", "too many bad commands");
	} else if (rc != POP3_SASL_OK) {
		bad(s, tag, "Malformed PLAIN response.");
	}
}

static void cmd_id(struct fs *s, const char *tag)
{
	const struct front_arg *a = front_cmd_arg(&s->cmd, 0);
	if (s->cmd.ntop != 1 || (a->type != FRONT_ARG_LIST && a->type != FRONT_ARG_NIL)) {
		bad(s, tag, "ID needs a list or NIL.");
		return;
	}
	say(s, "* ID (\"name\" \"popbridge\" \"version\" \"%s\")", POPBRIDGE_VERSION);
	say(s, "%s OK ID completed.", tag);
}

/* One parsed command; consumed: its octets in s->in. */
static void dispatch(struct fs *s, size_t consumed)
{
	char tag[FRONT_TAG_MAX + 1];
	const char *name = s->cmd.name;
	char caps[256];

	memcpy(tag, s->cmd.tag, sizeof(tag));
	/* The command's octets go (wiped: a password); cmd keeps its copy. */
	consume(s, consumed);
	if (strcmp(name, "LOGIN") == 0) {
		cmd_login(s, tag);
	} else if (strcmp(name, "AUTHENTICATE") == 0) {
		cmd_authenticate(s, tag);
	} else if (strcmp(name, "STARTTLS") == 0 && s->cmd.ntop == 0) {
		cmd_starttls(s, tag);
	} else if (strcmp(name, "CAPABILITY") == 0 && s->cmd.ntop == 0) {
		capabilities(s, caps, sizeof(caps));
		say(s, "* CAPABILITY %s", caps);
		say(s, "%s OK CAPABILITY completed.", tag);
	} else if (strcmp(name, "NOOP") == 0 && s->cmd.ntop == 0) {
		say(s, "%s OK NOOP completed.", tag);
	} else if (strcmp(name, "LOGOUT") == 0 && s->cmd.ntop == 0) {
		say(s, "* BYE Logging out.");
		say(s, "%s OK LOGOUT completed.", tag);
		finish(s, "logout", NULL);
	} else if (strcmp(name, "ID") == 0) {
		cmd_id(s, tag);
	} else if (strcmp(name, "STARTTLS") == 0 || strcmp(name, "CAPABILITY") == 0 ||
	    strcmp(name, "NOOP") == 0 || strcmp(name, "LOGOUT") == 0) {
		bad(s, tag, "This command takes no arguments.");
	} else {
		bad(s, tag, "Unknown command, or not before login.");
	}
}

/* Parse and run commands until the session ends. */
static void serve_commands(struct fs *s)
{
	while (!s->end) {
		size_t consumed = 0;
		enum front_parse_result r = s->inlen ? front_parse(s->in, s->inlen, &s->cmd,
		    &consumed) : FRONT_PARSE_MORE;
		switch (r) {
		case FRONT_PARSE_OK:
			s->cont_sent = 0;
			dispatch(s, consumed);
			front_cmd_wipe(&s->cmd);
			break;
		case FRONT_PARSE_BAD: {
			char tag[FRONT_TAG_MAX + 1], why[FRONT_ERROR_MAX + 2];
			memcpy(tag, s->cmd.tag, sizeof(tag));
			snprintf(why, sizeof(why), "%s.", s->cmd.error);
			why[0] = (char)(why[0] >= 'a' && why[0] <= 'z' ? why[0] - 32 : why[0]);
			s->cont_sent = 0;
			consume(s, consumed);
			front_cmd_wipe(&s->cmd);
			bad(s, tag, why);
			break;
		}
		case FRONT_PARSE_TOO_LONG:
			say(s, "* BYE Command too long.");
			finish(s, "line-too-long", s->cmd.error);
			break;
		case FRONT_PARSE_MORE:
			if (s->inlen && s->cmd.n_sync > s->cont_sent) {
				s->cont_sent = s->cmd.n_sync;
				say(s, "+ Ready for literal data.");
			}
			if (!s->end)
				fill(s);
			break;
		}
	}
}

void front_session_run(int fd, const struct front_config *cfg, struct front_stats *st)
{
	struct fs *s = calloc(1, sizeof(*s));
	memset(st, 0, sizeof(*st));
	st->result = "error";
	if (!s) {
		snprintf(st->reason, sizeof(st->reason), "out of memory");
		close(fd);
		return;
	}
	s->cfg = cfg;
	s->opt = cfg->opt;
	s->st = st;
	imap_conn_adopt(&s->c, fd, 60);
	if (cfg->implicit_tls && !handshake(s))
		goto out;
	char caps[256];
	capabilities(s, caps, sizeof(caps));
	say(s, "* OK [CAPABILITY %s] popbridge ready.", caps);
	serve_commands(s);
out:
	imap_conn_close(&s->c);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void front_session_log(const struct front_stats *st, const char *remote, uint64_t duration_ms)
{
	struct base_logline l;
	base_logline_start(&l, PB_LOG_INFO, "session");
	base_logline_str(&l, "protocol", "imap");
	base_logline_str(&l, "user", st->identified && st->user[0] ? st->user : "-");
	base_logline_str(&l, "account", st->identified && st->account[0] ? st->account : "-");
	base_logline_str(&l, "device", st->identified && st->device[0] ? st->device : "-");
	base_logline_str(&l, "remote", remote);
	base_logline_str(&l, "tls", st->tls_version[0] ? st->tls_version : "none");
	base_logline_str(&l, "mech", st->mech[0] ? st->mech : "-");
	if (st->relayed)
		base_logline_str(&l, "upstream_tls", st->upstream_tls[0] ? st->upstream_tls : "none");
	base_logline_u64(&l, "auth_failures", st->auth_failures);
	base_logline_u64(&l, "bytes_in", st->bytes_in);
	base_logline_u64(&l, "bytes_out", st->bytes_out);
	base_logline_u64(&l, "duration_ms", duration_ms);
	base_logline_str(&l, "result", st->result);
	if (st->reason[0])
		base_logline_str(&l, "reason", st->reason);
	base_logline_emit(&l);
}
