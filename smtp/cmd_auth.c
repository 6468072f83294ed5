/* smtp/cmd_auth.c — AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN, initial
 * responses included, and the login itself. Passwords are wiped from every
 * buffer once used and never traced. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pop3/base64.h"
#include "smtp/session_int.h"

/* A decoded response fits here: a line of the reader's size decodes to at
 * most 3/4 of it. */
#define SASL_DECODED_MAX (SMTP_AUTH_LINE_MAX / 4 * 3)

/* The failed-login delay the relay asked for (SPEC §6). */
static void delay(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool valid_user(const char *user, size_t len)
{
	return len > 0 && len <= SMTP_USER_MAX && memchr(user, '\0', len) == NULL;
}

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
	delay(reply.delay_ms);
	pop3_copy_printable(clean, sizeof(clean), reply.text);
	switch (st) {
	case SMTP_AUTH_OK:
		s->relay = relay;
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

/* The client's SASL response: the initial response, or a line read after
 * "334 challenge". Decoded into out (NUL-terminated); its length, -1 after
 * a reply was sent (cancelled, malformed), -2 when the session ends. */
static long sasl_response(struct smtp_session *s, const char *challenge, char *initial,
    char *out, size_t cap)
{
	char *line;
	size_t len;
	long n;

	if (initial != NULL) {
		/* It lives in the reader's buffer, which the next read reuses:
		 * decode and wipe it before any. */
		size_t ilen = strlen(initial);
		n = strcmp(initial, "=") == 0 ? 0 : pop3_base64_decode(initial, ilen, out, cap);
		if (n == 0)
			out[0] = '\0';
		explicit_bzero(initial, ilen);
	} else {
		smtp_reply(s, 334, "%s", challenge);
		int r = smtp_read_line(s, &line, &len);
		if (r == 0)
			return -2;
		if (r < 0)
			return -1;
		if (len == 1 && line[0] == '*') {
			smtp_reply(s, 501, "5.7.0 Authentication cancelled");
			return -1;
		}
		n = pop3_base64_decode(line, len, out, cap);
		explicit_bzero(line, len);
	}
	if (n < 0 || (size_t)n >= cap) {
		smtp_reply(s, 501, "5.5.2 Cannot decode response");
		return -1;
	}
	return n;
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static enum smtp_cmd_rc auth_plain(struct smtp_session *s, char *initial)
{
	char buf[SASL_DECODED_MAX + 1];
	enum smtp_cmd_rc rc = SMTP_CMD_ERR;

	long n = sasl_response(s, "", initial, buf, sizeof(buf));
	if (n < 0)
		return n == -2 ? SMTP_CMD_CLOSE : SMTP_CMD_ERR;
	char *authzid, *authcid, *pass;
	if (pop3_sasl_plain_split(buf, (size_t)n, &authzid, &authcid, &pass) != 0 ||
	    !valid_user(authcid, strlen(authcid)) || strlen(pass) > SMTP_PASS_MAX) {
		smtp_reply(s, 501, "5.5.2 Malformed PLAIN response");
	} else if (authzid[0] != '\0' && strcmp(authzid, authcid) != 0) {
		s->stats->auth_failures++;
		smtp_reply(s, 535, "5.7.8 Authorization identity not allowed");
	} else {
		rc = login(s, authcid, pass, "PLAIN");
	}
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

/* LOGIN: "Username:" then "Password:", each base64; an initial response is
 * the user name. */
static enum smtp_cmd_rc auth_login(struct smtp_session *s, char *initial)
{
	char user[SASL_DECODED_MAX + 1];
	char pass[SASL_DECODED_MAX + 1];
	enum smtp_cmd_rc rc = SMTP_CMD_ERR;

	long n = sasl_response(s, "VXNlcm5hbWU6", initial, user, sizeof(user));
	if (n < 0)
		return n == -2 ? SMTP_CMD_CLOSE : SMTP_CMD_ERR;
	if (!valid_user(user, (size_t)n)) {
		smtp_reply(s, 501, "5.5.2 Malformed LOGIN user name");
		return SMTP_CMD_ERR;
	}
	long m = sasl_response(s, "UGFzc3dvcmQ6", NULL, pass, sizeof(pass));
	if (m == -2)
		rc = SMTP_CMD_CLOSE;
	else if (m >= 0 && (memchr(pass, '\0', (size_t)m) != NULL || m > SMTP_PASS_MAX))
		smtp_reply(s, 501, "5.5.2 Malformed LOGIN password");
	else if (m >= 0)
		rc = login(s, user, pass, "LOGIN");
	explicit_bzero(pass, sizeof(pass));
	return rc;
}

enum smtp_cmd_rc smtp_cmd_auth(struct smtp_session *s, char *args)
{
	char *initial = NULL;
	char *sp = strchr(args, ' ');
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
	else if (strcasecmp(args, "PLAIN") != 0 && strcasecmp(args, "LOGIN") != 0)
		smtp_reply(s, 504, "5.5.4 Unrecognized authentication type");
	else if (!smtp_plaintext_ok(s))
		smtp_reply(s, 538, "5.7.11 Encryption required for requested authentication "
		    "mechanism");
	else if (strcasecmp(args, "PLAIN") == 0)
		return auth_plain(s, initial);
	else
		return auth_login(s, initial);
	if (initial != NULL)
		explicit_bzero(initial, strlen(initial));
	return rc;
}
