/* pop3/cmd_auth.c — AUTHORIZATION state: USER, PASS, AUTH (RFC 1939 §7,
 * RFC 5034 with PLAIN (RFC 4616) and LOGIN), and the login itself.
 * Passwords are wiped from every buffer once used and never traced.
 */
#include <stdlib.h>
#include <string.h>

#include "pop3/sasl.h"
#include "pop3/session_int.h"

/* Decoded SASL responses fit here: a line of POP3_SASL_LINE_MAX octets
 * decodes to at most 3/4 of it. */
#define SASL_DECODED_MAX (POP3_SASL_LINE_MAX / 4 * 3)

static enum pop3_cmd_rc refuse_plaintext(struct pop3_session *s)
{
	pop3_out_err(&s->out, "AUTH",
	    "Plaintext authentication disallowed on non-secure connection.");
	return POP3_CMD_ERR;
}

static bool valid_user(const char *user, size_t len)
{
	return len > 0 && len <= POP3_USER_MAX && memchr(user, '\0', len) == NULL;
}

/* Ask the maildrop; on success enter TRANSACTION. */
static enum pop3_cmd_rc login(struct pop3_session *s, const char *user,
    const char *pass, const char *mech)
{
	struct pop3_md_reply reply = { .text = "", .delay_ms = 0 };
	const struct pop3_credentials cred = {
		.user = user,
		.password = pass,
		.mechanism = mech,
		.remote_addr = s->cfg->remote_addr != NULL ? s->cfg->remote_addr : "",
		.tls_version = s->tls_active ? s->t->ops->tls_version(s->t) : NULL,
	};
	void *md = NULL;

	pop3_copy_printable(s->stats->user, sizeof(s->stats->user), user);
	pop3_copy_printable(s->stats->mechanism, sizeof(s->stats->mechanism), mech);
	s->have_user = false;
	enum pop3_md_status st = s->ops->open(s->backend, &cred, &md, &reply);
	pop3_md_delay(&reply);
	if (st != POP3_MD_OK) {
		if (st == POP3_MD_AUTH)
			s->stats->auth_failures++;
		pop3_trace(s, "login failed (%s)", mech);
		if (st == POP3_MD_GONE || st == POP3_MD_CLIENT)
			st = POP3_MD_TEMP;
		pop3_md_error(s, st, &reply);
		return st == POP3_MD_AUTH ? POP3_CMD_ERR : POP3_CMD_FAIL;
	}
	size_t n = s->ops->count(md);
	s->deleted = calloc(n > 0 ? n : 1, sizeof(bool));
	if (s->deleted == NULL) {
		s->ops->close(md);
		if (s->ops->release != NULL)
			s->ops->release(md);
		pop3_out_err(&s->out, "SYS/TEMP", "Out of memory, try again later.");
		pop3_set_reason(s, "out of memory");
		s->result = POP3_RESULT_ERROR;
		return POP3_CMD_CLOSE;
	}
	s->md = md;
	s->count = n;
	s->stats->logged_in = true;
	s->stats->messages = n;
	pop3_enter_state(s, POP3_TRANSACTION);
	pop3_out_ok(&s->out, "Logged in.");
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_user(struct pop3_session *s, char *args)
{
	size_t len = strlen(args);

	if (!pop3_plaintext_ok(s))
		return refuse_plaintext(s);
	if (!valid_user(args, len)) {
		pop3_out_err(&s->out, NULL, "USER needs a user name.");
		return POP3_CMD_ERR;
	}
	memcpy(s->user, args, len + 1);
	s->have_user = true;
	pop3_out_ok(&s->out, "Send the password.");
	return POP3_CMD_OK;
}

enum pop3_cmd_rc pop3_cmd_pass(struct pop3_session *s, char *args)
{
	size_t len = strlen(args);
	enum pop3_cmd_rc rc;

	/* The line limit (POP3_CMD_LINE_MAX) keeps the password below
	 * POP3_PASS_MAX. */
	if (!pop3_plaintext_ok(s))
		rc = refuse_plaintext(s);
	else if (!s->have_user) {
		pop3_out_err(&s->out, NULL, "Send USER first.");
		rc = POP3_CMD_ERR;
	} else {
		rc = login(s, s->user, args, "USER");
	}
	explicit_bzero(args, len);
	return rc;
}

/* pop3/sasl.h's challenge: "+ challenge", then the client's line. */
static int challenge(void *arg, const char *text, char **line, size_t *len)
{
	struct pop3_session *s = arg;

	pop3_out_line(&s->out, "+ %s", text);
	return pop3_read_line(s, line, len);
}

/* How each refusal of pop3/sasl.h reads in POP3. */
static const char *const refusals[] = {
	[POP3_SASL_CANCELLED] = "Authentication cancelled.",
	[POP3_SASL_BAD_BASE64] = "Invalid base64 data.",
	[POP3_SASL_BAD_PLAIN] = "Malformed PLAIN response.",
	[POP3_SASL_BAD_USER] = "Malformed LOGIN user name.",
	[POP3_SASL_BAD_PASS] = "Malformed LOGIN password.",
};

/* AUTH PLAIN (RFC 4616) or LOGIN ("Username:" then "Password:"; an initial
 * response is the user name). */
static enum pop3_cmd_rc authenticate(struct pop3_session *s, enum pop3_sasl_mech mech,
    char *initial)
{
	char buf[2 * (SASL_DECODED_MAX + 1)];
	const struct pop3_sasl_io io = { challenge, s, POP3_USER_MAX, POP3_PASS_MAX };
	struct pop3_sasl_creds c;
	enum pop3_cmd_rc rc = POP3_CMD_ERR;

	enum pop3_sasl_rc r = pop3_sasl_run(&io, mech, initial, buf, sizeof(buf), &c);
	if (r == POP3_SASL_OK) {
		rc = login(s, c.user, c.pass, c.mech);
	} else if (r == POP3_SASL_END) {
		rc = POP3_CMD_CLOSE;
	} else if (r == POP3_SASL_AUTHZID) {
		s->stats->auth_failures++;
		pop3_out_err(&s->out, "AUTH", "Authorization identity not allowed.");
	} else if (r != POP3_SASL_ANSWERED) {
		pop3_out_err(&s->out, NULL, "%s", refusals[r]);
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

enum pop3_cmd_rc pop3_cmd_auth(struct pop3_session *s, char *args)
{
	char *initial = NULL;
	char *sp = strchr(args, ' ');
	enum pop3_sasl_mech mech;
	enum pop3_cmd_rc rc;

	if (args[0] == '\0') {
		/* Old clients (RFC 1734 style) list mechanisms with bare AUTH. */
		pop3_out_ok(&s->out, "Supported mechanisms follow");
		if (pop3_plaintext_ok(s)) {
			pop3_out_line(&s->out, "PLAIN");
			pop3_out_line(&s->out, "LOGIN");
		}
		pop3_out_end(&s->out);
		return POP3_CMD_OK;
	}
	if (sp != NULL) {
		*sp = '\0';
		initial = sp + 1;
	}
	/* The mechanisms wipe the initial response before they read on (the
	 * line buffer is then reused); the refusals read nothing. */
	if (pop3_sasl_mech_find(args, &mech) != 0) {
		pop3_out_err(&s->out, NULL, "Unsupported authentication mechanism.");
		rc = POP3_CMD_ERR;
	} else if (!pop3_plaintext_ok(s)) {
		rc = refuse_plaintext(s);
	} else {
		return authenticate(s, mech, initial);
	}
	if (initial != NULL)
		explicit_bzero(initial, strlen(initial));
	return rc;
}
