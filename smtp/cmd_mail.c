/* smtp/cmd_mail.c — the mail transaction: MAIL, RCPT, DATA (RFC 5321 §3.3,
 * RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 2920). Every
 * reply to MAIL, RCPT and DATA that is not a syntax error is the relay's,
 * i.e. the upstream's own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp/session_int.h"
#include "smtp/unstuff.h"

#define SYNTAX_MAIL "5.5.4 Syntax: MAIL FROM:<address> [parameters]"
#define SYNTAX_RCPT "5.5.4 Syntax: RCPT TO:<address>"

int smtp_parse_path(char *args, const char *keyword, char path[SMTP_PATH_MAX + 1],
    char **params, unsigned *code, const char **text)
{
	size_t kl = strlen(keyword);
	const char *syntax = strcasecmp(keyword, "FROM") == 0 ? SYNTAX_MAIL : SYNTAX_RCPT;
	char *p = args, *start, *end;
	bool quoted = false;

	*code = 501;
	*text = syntax;
	if (strncasecmp(p, keyword, kl) != 0 || p[kl] != ':')
		return -1;
	p += kl + 1;
	while (*p == ' ')       /* "FROM: <a@b>": common, and harmless */
		p++;
	if (*p == '<') {
		start = ++p;
		for (; *p != '\0' && (quoted || *p != '>'); p++) {
			if (*p == '"' && (p == start || p[-1] != '\\'))
				quoted = !quoted;
			else if (*p == '<' || (*p == ' ' && !quoted))
				return -1;
		}
		if (*p != '>')
			return -1;
		end = p++;
	} else {
		/* Without brackets (old clients): one word. */
		start = p;
		p += strcspn(p, " ");
		end = p;
		if (end == start)
			return -1;
	}
	if (*p != '\0' && *p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	*params = p;
	/* A source route ("@a,@b:user@c") is accepted and ignored (RFC 5321
	 * §4.1.2, Appendix C). */
	if (*start == '@') {
		char *colon = memchr(start, ':', (size_t)(end - start));
		if (colon == NULL)
			return -1;
		start = colon + 1;
	}
	size_t n = (size_t)(end - start);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)start[i];
		if (c < 0x20 || c == 0x7f)
			return -1;
	}
	if (n + 2 > SMTP_PATH_MAX) {
		*code = 553;
		*text = "5.1.7 Address too long";
		return -1;
	}
	memcpy(path, start, n);
	path[n] = '\0';
	return 0;
}

static bool eight_bit(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* Before a transaction: EHLO/HELO, then AUTH (RFC 4954 §6: 530). */
static bool may_transact(struct smtp_session *s)
{
	if (!s->greeted) {
		smtp_reply(s, 503, "5.5.1 Send EHLO or HELO first");
		return false;
	}
	if (s->relay == NULL) {
		smtp_reply(s, 530, "5.7.0 Authentication required");
		return false;
	}
	return true;
}

/* Check MAIL's parameters and write the ones passed upstream into out. 0,
 * or -1 with the reply sent. */
static int mail_params(struct smtp_session *s, char *params, char *out, size_t cap,
    bool *smtputf8)
{
	size_t used = 0;
	char *save = NULL;

	out[0] = '\0';
	*smtputf8 = false;
	for (char *tok = strtok_r(params, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(tok, '=');
		size_t kl = eq != NULL ? (size_t)(eq - tok) : strlen(tok);
		const char *val = eq != NULL ? eq + 1 : NULL;
		char kept[48] = "";
		if (!s->esmtp) {
			smtp_reply(s, 555, "5.5.4 Parameters need EHLO");
			return -1;
		}
		if (kl == 4 && strncasecmp(tok, "SIZE", 4) == 0 && val != NULL) {
			size_t dl = strlen(val);
			if (dl == 0 || dl > 20 || strspn(val, "0123456789") != dl) {
				smtp_reply(s, 501, "5.5.4 Bad SIZE parameter");
				return -1;
			}
			unsigned long long n = strtoull(val, NULL, 10);
			if (dl == 20 || n > s->size_max) {
				smtp_reply(s, 552, "5.3.4 Message size exceeds fixed maximum message size");
				return -1;
			}
			snprintf(kept, sizeof(kept), "SIZE=%llu", n);
		} else if (kl == 4 && strncasecmp(tok, "BODY", 4) == 0 && val != NULL &&
		    (strcasecmp(val, "7BIT") == 0 ||
		     (strcasecmp(val, "8BITMIME") == 0 && s->ext.eightbitmime))) {
			snprintf(kept, sizeof(kept), "BODY=%s",
			    strcasecmp(val, "7BIT") == 0 ? "7BIT" : "8BITMIME");
		} else if (kl == 8 && strncasecmp(tok, "SMTPUTF8", 8) == 0 && val == NULL &&
		    s->ext.smtputf8) {
			snprintf(kept, sizeof(kept), "SMTPUTF8");
			*smtputf8 = true;
		} else if (kl == 4 && strncasecmp(tok, "AUTH", 4) == 0 && val != NULL) {
			continue;  /* RFC 4954 §5: ours to trust or drop; dropped */
		} else {
			smtp_reply(s, 555, "5.5.4 Unsupported parameter");
			return -1;
		}
		size_t kn = strlen(kept);
		if (used + kn + 2 > cap) {
			smtp_reply(s, 555, "5.5.4 Too many parameters");
			return -1;
		}
		if (used > 0)
			out[used++] = ' ';
		memcpy(out + used, kept, kn + 1);
		used += kn;
	}
	return 0;
}

enum smtp_cmd_rc smtp_cmd_mail(struct smtp_session *s, char *args)
{
	char path[SMTP_PATH_MAX + 1], params[SMTP_PARAMS_MAX];
	char *rest;
	unsigned code;
	const char *text;
	bool utf8;
	struct smtp_reply r;

	if (!may_transact(s))
		return SMTP_CMD_ERR;
	if (s->in_mail) {
		smtp_reply(s, 503, "5.5.1 Sender already specified");
		return SMTP_CMD_ERR;
	}
	if (smtp_parse_path(args, "FROM", path, &rest, &code, &text) != 0) {
		smtp_reply(s, code, "%s", text);
		return SMTP_CMD_ERR;
	}
	if (mail_params(s, rest, params, sizeof(params), &utf8) != 0)
		return SMTP_CMD_ERR;
	if (!utf8 && eight_bit(path)) {
		smtp_reply(s, 553, "5.6.7 Address needs SMTPUTF8");
		return SMTP_CMD_ERR;
	}
	memset(&r, 0, sizeof(r));
	enum smtp_relay_rc rc = s->ops->mail(s->relay, path, params, &r);
	smtp_reply_relay(s, &r);
	if (rc == SMTP_RELAY_CLOSE)
		return smtp_upstream_gone(s);
	if (r.code / 100 != 2)
		return SMTP_CMD_FAIL;
	s->in_mail = true;
	s->smtputf8 = utf8;
	s->rcpts = 0;
	return SMTP_CMD_OK;
}

enum smtp_cmd_rc smtp_cmd_rcpt(struct smtp_session *s, char *args)
{
	char path[SMTP_PATH_MAX + 1];
	char *rest;
	unsigned code;
	const char *text;
	struct smtp_reply r;

	if (!may_transact(s))
		return SMTP_CMD_ERR;
	if (!s->in_mail) {
		smtp_reply(s, 503, "5.5.1 Need MAIL command");
		return SMTP_CMD_ERR;
	}
	if (smtp_parse_path(args, "TO", path, &rest, &code, &text) != 0) {
		smtp_reply(s, code, "%s", text);
		return SMTP_CMD_ERR;
	}
	if (path[0] == '\0') {
		smtp_reply(s, 501, "5.1.3 Bad recipient address syntax");
		return SMTP_CMD_ERR;
	}
	if (rest[0] != '\0') {
		smtp_reply(s, 555, "5.5.4 Unsupported parameter");
		return SMTP_CMD_ERR;
	}
	if (!s->smtputf8 && eight_bit(path)) {
		smtp_reply(s, 553, "5.6.7 Address needs SMTPUTF8");
		return SMTP_CMD_ERR;
	}
	if (s->rcpts >= SMTP_RCPT_MAX) {
		smtp_reply(s, 452, "4.5.3 Too many recipients");
		return SMTP_CMD_FAIL;
	}
	memset(&r, 0, sizeof(r));
	enum smtp_relay_rc rc = s->ops->rcpt(s->relay, path, &r);
	smtp_reply_relay(s, &r);
	if (rc == SMTP_RELAY_CLOSE)
		return smtp_upstream_gone(s);
	if (r.code / 100 != 2)
		return SMTP_CMD_FAIL;
	s->rcpts++;
	s->stats->rcpts++;
	return SMTP_CMD_OK;
}

static int data_out(void *arg, const char *buf, size_t len)
{
	struct smtp_session *s = arg;
	return s->ops->data_write(s->relay, buf, len);
}

/* Read the client's data to its end through the unstuffer. 1 at the end,
 * 0 when the session ends (dropped, timeout). */
static int read_data(struct smtp_session *s, struct smtp_unstuff *us)
{
	for (;;) {
		const char *p;
		size_t n = pop3_lr_raw(&s->lr, &p);
		if (n > 0) {
			size_t k = smtp_us_feed(us, p, n);
			pop3_lr_take(&s->lr, k);
			if (us->done)
				return 1;
		}
		if (!smtp_fill(s))
			return 0;
	}
}

enum smtp_cmd_rc smtp_cmd_data(struct smtp_session *s, char *args)
{
	struct smtp_reply r;
	struct smtp_unstuff *us;

	if (!may_transact(s))
		return SMTP_CMD_ERR;
	if (!s->in_mail) {
		smtp_reply(s, 503, "5.5.1 Need MAIL command");
		return SMTP_CMD_ERR;
	}
	if (args[0] != '\0') {
		smtp_reply(s, 501, "5.5.4 Syntax: DATA");
		return SMTP_CMD_ERR;
	}
	if (s->rcpts == 0) {
		/* RFC 2920 §3.1: the RCPTs pipelined before it all failed. */
		smtp_reply(s, 554, "5.5.1 No valid recipients");
		return SMTP_CMD_FAIL;
	}
	memset(&r, 0, sizeof(r));
	enum smtp_relay_rc rc = s->ops->data_begin(s->relay, &r);
	smtp_reply_relay(s, &r);
	if (rc == SMTP_RELAY_CLOSE)
		return smtp_upstream_gone(s);
	if (r.code != 354) {
		smtp_transaction_reset(s);
		s->stats->refused++;
		return SMTP_CMD_FAIL;
	}
	us = malloc(sizeof(*us));
	if (us == NULL) {
		s->ops->data_end(s->relay, SMTP_DATA_ABORTED, &r);
		smtp_set_reason(s, "out of memory");
		s->result = SMTP_RESULT_ERROR;
		return SMTP_CMD_CLOSE;
	}
	smtp_us_init(us, s->size_max, data_out, s);
	smtp_trace(s, "data");
	if (!read_data(s, us)) {
		s->ops->data_end(s->relay, SMTP_DATA_ABORTED, &r);
		free(us);
		smtp_transaction_reset(s);
		return SMTP_CMD_CLOSE;
	}
	smtp_us_flush(us);
	enum smtp_data_end end = us->over ? SMTP_DATA_TOO_BIG : us->failed ? SMTP_DATA_FAILED
	    : SMTP_DATA_COMPLETE;
	uint64_t octets = us->octets;
	free(us);
	memset(&r, 0, sizeof(r));
	rc = s->ops->data_end(s->relay, end, &r);
	if (end == SMTP_DATA_TOO_BIG && rc == SMTP_RELAY_REPLY)
		smtp_reply(s, 552, "5.3.4 Message size exceeds fixed maximum message size");
	else
		smtp_reply_relay(s, &r);
	smtp_transaction_reset(s);
	if (end == SMTP_DATA_COMPLETE && r.code / 100 == 2) {
		s->stats->transactions++;
		s->stats->data_octets += octets;
	} else {
		s->stats->refused++;
	}
	if (rc == SMTP_RELAY_CLOSE)
		return smtp_upstream_gone(s);
	/* The reply goes out before the follow-up work, which runs even when
	 * the client has gone meanwhile (the step then sees the failed
	 * output): an accepted message gets its Sent copy. */
	pop3_out_flush(&s->out);
	if (s->ops->data_done != NULL)
		s->ops->data_done(s->relay);
	return SMTP_CMD_OK;
}
