/* smtp/cmd_auth.c — AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, initial
 * responses included, and the login itself. Passwords are wiped from every
 * buffer once used and never traced. */
#include <stdlib.h>
#include <string.h>

#include "pop3/deadline.h"
#include "pop3/sasl.h"
#include "smtp/session_int.h"

/* A decoded response fits here: a line of the reader's size decodes to at
 * most 3/4 of it. */
#define SASL_DECODED_MAX (SMTP_AUTH_LINE_MAX / 4 * 3)

static enum smtp_cmd_rc login(struct smtp_session *s, const char *user, const char *pass,
    const char *mech)
{
	struct smtp_auth_reply reply = { .text = "", .delay_ms = 0 };
	const struct smtp_credentials cred = {
		.user = user,
		.password = pass,
		.mechanism = mech,
		.remote_addr = s->cfg->remote_addr != NULL ? s->cfg->remote_addr : "",
		.tls_version = s->tls_active ? s->t->ops->tls_version(s->t) : NULL,
	};
	void *relay = NULL;
	char clean[sizeof(reply.text)];

	pop3_copy_printable(s->stats->user, sizeof(s->stats->user), user);
	pop3_copy_printable(s->stats->mechanism, sizeof(s->stats->mechanism), mech);
	enum smtp_auth_status st = s->ops->open(s->backend, &cred, &relay, &reply);
	pop3_sleep_ms(reply.delay_ms); /* the failed-login delay (SPEC §6) */
	pop3_copy_printable(clean, sizeof(clean), reply.text);
	switch (st) {
	case SMTP_AUTH_OK:
		s->relay = relay;
		s->loop.logged_in = true;
		s->stats->logged_in = true;
		/* no AUTH line any more: commands only (smtp/limits.h) */
		pop3_lr_set_limit(&s->lr, SMTP_CMD_LINE_MAX);
		smtp_reply(s, 235, "2.7.0 Authentication successful");
		return SMTP_CMD_OK;
	case SMTP_AUTH_BAD:
		s->stats->auth_failures++;
		smtp_trace(s, "login failed (%s)", mech);
		smtp_set_reason(s, clean[0] ? clean : "authentication failed");
		smtp_reply(s, 535, "5.7.8 %s", clean[0] ? clean
		    : "Authentication credentials invalid");
		return SMTP_CMD_ERR;
	case SMTP_AUTH_PERM:
		smtp_set_reason(s, clean[0] ? clean : "account unavailable");
		smtp_reply(s, 554, "5.7.0 %s", clean[0] ? clean
		    : "Account unavailable, contact the administrator");
		return SMTP_CMD_FAIL;
	case SMTP_AUTH_TEMP:
		break;
	}
	smtp_set_reason(s, clean[0] ? clean : "temporary failure");
	smtp_reply(s, 454, "4.7.0 %s", clean[0] ? clean
	    : "Temporary authentication failure, try again later");
	return SMTP_CMD_FAIL;
}

/* pop3/sasl.h's challenge: "334 challenge", then the client's line. */
static int challenge(void *arg, const char *text, char **line, size_t *len)
{
	struct smtp_session *s = arg;

	smtp_reply(s, 334, "%s", text);
	return smtp_read_line(s, line, len);
}

/* How each refusal of pop3/sasl.h reads in SMTP (RFC 4954 §4, §6). */
static const struct {
	unsigned code;
	const char *text;
} refusals[] = {
	[POP3_SASL_CANCELLED] = { 501, "5.7.0 Authentication cancelled" },
	[POP3_SASL_BAD_BASE64] = { 501, "5.5.2 Cannot decode response" },
	[POP3_SASL_BAD_PLAIN] = { 501, "5.5.2 Malformed PLAIN response" },
	[POP3_SASL_BAD_USER] = { 501, "5.5.2 Malformed LOGIN user name" },
	[POP3_SASL_BAD_PASS] = { 501, "5.5.2 Malformed LOGIN password" },
	[POP3_SASL_AUTHZID] = { 535, "5.7.8 Authorization identity not allowed" },
};

/* AUTH PLAIN (RFC 4616) or LOGIN ("Username:" then "Password:"; an initial
 * response is the user name). */
static enum smtp_cmd_rc authenticate(struct smtp_session *s, enum pop3_sasl_mech mech,
    char *initial)
{
	char buf[2 * (SASL_DECODED_MAX + 1)];
	const struct pop3_sasl_io io = { challenge, s, SMTP_USER_MAX, SMTP_PASS_MAX };
	struct pop3_sasl_creds c;
	enum smtp_cmd_rc rc = SMTP_CMD_ERR;

	enum pop3_sasl_rc r = pop3_sasl_run(&io, mech, initial, buf, sizeof(buf), &c);
	if (r == POP3_SASL_OK)
		rc = login(s, c.user, c.pass, c.mech);
	else if (r == POP3_SASL_END)
		rc = SMTP_CMD_CLOSE;
	else if (r != POP3_SASL_ANSWERED)
		smtp_reply(s, refusals[r].code, "%s", refusals[r].text);
	if (r == POP3_SASL_AUTHZID)
		s->stats->auth_failures++;
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

enum smtp_cmd_rc smtp_cmd_auth(struct smtp_session *s, char *args)
{
	char *initial = NULL;
	char *sp = strchr(args, ' ');
	enum pop3_sasl_mech mech;
	enum smtp_cmd_rc rc = SMTP_CMD_ERR;

	if (sp != NULL) {
		*sp = '\0';
		initial = sp + 1;
	}
	if (!s->esmtp)
		smtp_reply(s, 503, "5.5.1 Send EHLO first");
	else if (s->relay != NULL)
		smtp_reply(s, 503, "5.5.1 Already authenticated");
	else if (args[0] == '\0')
		smtp_reply(s, 501, "5.5.4 Syntax: AUTH mechanism [initial-response]");
	else if (pop3_sasl_mech_find(args, &mech) != 0)
		smtp_reply(s, 504, "5.5.4 Unrecognized authentication type");
	else if (!smtp_plaintext_ok(s))
		smtp_reply(s, 538, "5.7.11 Encryption required for requested authentication "
		    "mechanism");
	else
		return authenticate(s, mech, initial);
	if (initial != NULL)
		explicit_bzero(initial, strlen(initial));
	return rc;
}
