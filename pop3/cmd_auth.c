/* pop3/cmd_auth.c — AUTHORIZATION state: USER, PASS, AUTH (RFC 1939 §7,
 * RFC 5034 with PLAIN (RFC 4616) and LOGIN), and the login itself.
 * Passwords are wiped from every buffer once used and never traced.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3/base64.h"
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

/* The client's SASL response: the initial response, or a line read after
 * "+ challenge". Decoded into out (NUL-terminated); its length, or -1 after
 * -ERR was sent (cancelled or malformed), or -2 when the session ends. */
static long sasl_response(struct pop3_session *s, const char *challenge,
    char *initial, char *out, size_t cap)
{
	char *line;
	size_t len;
	long n;

	if (initial != NULL) {
		/* The initial response lives in the line reader's buffer, which
		 * the next read reuses: decode and wipe it now, before any. */
		size_t ilen = strlen(initial);
		if (strcmp(initial, "=") == 0) {
			out[0] = '\0';
			n = 0;
		} else {
			n = pop3_base64_decode(initial, ilen, out, cap);
		}
		explicit_bzero(initial, ilen);
	} else {
		pop3_out_line(&s->out, "+ %s", challenge);
		int r = pop3_read_line(s, &line, &len);
		if (r == 0)
			return -2;
		if (r < 0)
			return -1;
		if (len == 1 && line[0] == '*') {
			pop3_out_err(&s->out, NULL, "Authentication cancelled.");
			return -1;
		}
		n = pop3_base64_decode(line, len, out, cap);
		explicit_bzero(line, len);
	}
	if (n < 0 || (size_t)n >= cap) {
		pop3_out_err(&s->out, NULL, "Invalid base64 data.");
		return -1;
	}
	return n;
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static enum pop3_cmd_rc auth_plain(struct pop3_session *s, char *initial)
{
	char buf[SASL_DECODED_MAX + 1];
	enum pop3_cmd_rc rc = POP3_CMD_ERR;

	long n = sasl_response(s, "", initial, buf, sizeof(buf));
	if (n == -2)
		return POP3_CMD_CLOSE;
	if (n < 0)
		return POP3_CMD_ERR;
	char *authzid, *authcid, *pass;
	if (pop3_sasl_plain_split(buf, (size_t)n, &authzid, &authcid, &pass) != 0 ||
	    !valid_user(authcid, strlen(authcid)) || strlen(pass) > POP3_PASS_MAX) {
		pop3_out_err(&s->out, NULL, "Malformed PLAIN response.");
	} else if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		s->stats->auth_failures++;
		pop3_out_err(&s->out, "AUTH", "Authorization identity not allowed.");
	} else {
		rc = login(s, authcid, pass, "PLAIN");
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* The LOGIN mechanism: "Username:" then "Password:", each base64. An
 * initial response is taken as the user name. */
static enum pop3_cmd_rc auth_login(struct pop3_session *s, char *initial)
{
	char user[SASL_DECODED_MAX + 1];
	char pass[SASL_DECODED_MAX + 1];
	enum pop3_cmd_rc rc = POP3_CMD_ERR;

	long n = sasl_response(s, "VXNlcm5hbWU6", initial, user, sizeof(user));
	if (n == -2)
		return POP3_CMD_CLOSE;
	if (n < 0)
		return POP3_CMD_ERR;
	if (!valid_user(user, (size_t)n)) {
		pop3_out_err(&s->out, NULL, "Malformed LOGIN user name.");
		return POP3_CMD_ERR;
	}
	long m = sasl_response(s, "UGFzc3dvcmQ6", NULL, pass, sizeof(pass));
	if (m == -2)
		rc = POP3_CMD_CLOSE;
	else if (m < 0)
		rc = POP3_CMD_ERR;
	else if (memchr(pass, '\0', (size_t)m) != NULL || m > POP3_PASS_MAX) {
		pop3_out_err(&s->out, NULL, "Malformed LOGIN password.");
	} else {
		rc = login(s, user, pass, "LOGIN");
	}
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

enum pop3_cmd_rc pop3_cmd_auth(struct pop3_session *s, char *args)
{
	char *initial = NULL;
	char *sp = strchr(args, ' ');
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
	if (strcasecmp(args, "PLAIN") != 0 && strcasecmp(args, "LOGIN") != 0) {
		pop3_out_err(&s->out, NULL, "Unsupported authentication mechanism.");
		rc = POP3_CMD_ERR;
	} else if (!pop3_plaintext_ok(s)) {
		rc = refuse_plaintext(s);
	} else if (strcasecmp(args, "PLAIN") == 0) {
		return auth_plain(s, initial);
	} else {
		return auth_login(s, initial);
	}
	if (initial != NULL)
		explicit_bzero(initial, strlen(initial));
	return rc;
}
