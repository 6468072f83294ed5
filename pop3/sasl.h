/* pop3/sasl.h — the server side of SASL PLAIN (RFC 4616) and LOGIN, written
 * once for every front end: the POP3 engine (RFC 5034), the SMTP engine
 * (RFC 4954, smtp/) and the IMAP front (bridge/front/, AUTHENTICATE PLAIN).
 *
 * Contract:
 * - This module decodes and checks; the protocol's words stay with the
 *   caller. It writes nothing to the client itself: pop3_sasl_run() asks
 *   io->challenge() to send a challenge in the protocol's form ("+ x",
 *   "334 x") and read the answer, and says in its result which refusal the
 *   caller must answer with.
 * - Responses are strict base64 (pop3/base64.h). "=" stands for an empty
 *   initial response (RFC 4954 §4, RFC 5034 §4); "*" alone on a
 *   continuation line cancels (POP3_SASL_CANCELLED); an initial response is
 *   never a cancellation.
 * - PLAIN is "[authzid] NUL authcid NUL passwd" with exactly two NULs; the
 *   authcid is 1..user_max octets, the password at most pass_max octets.
 *   An authzid other than the authcid is POP3_SASL_AUTHZID. LOGIN's user
 *   name is 1..user_max octets without NUL, its password at most pass_max
 *   octets without NUL (the protocol has no way to carry one).
 * - Secrets: every response is wiped (explicit_bzero) where it lay — the
 *   initial response and each line io->challenge() returned, which live in
 *   the caller's line buffer — before anything else is read. The decoded
 *   credentials are in the caller's buffer buf; the caller wipes all of it
 *   (explicit_bzero(buf, sizeof(buf))) whatever the result.
 * - Bounds: a response decodes into cap octets at most (buf holds two of
 *   them for LOGIN: bufsize = 2 * cap); a response that does not fit with
 *   its NUL is POP3_SASL_BAD_BASE64.
 */
#ifndef POP3_SASL_H
#define POP3_SASL_H

#include <stdbool.h>
#include <stddef.h>

enum pop3_sasl_mech {
	POP3_SASL_PLAIN,
	POP3_SASL_LOGIN,
};

enum pop3_sasl_rc {
	POP3_SASL_OK,          /* creds hold the user name and the password */
	POP3_SASL_END,         /* io->challenge() said the session ends */
	POP3_SASL_ANSWERED,    /* io->challenge() got an unusable line and answered it */
	POP3_SASL_CANCELLED,   /* "*" */
	POP3_SASL_BAD_BASE64,  /* not strict base64, or too long */
	POP3_SASL_BAD_PLAIN,   /* PLAIN: NULs, authcid or password out of bounds */
	POP3_SASL_BAD_USER,    /* LOGIN: the user name empty, too long or with a NUL */
	POP3_SASL_BAD_PASS,    /* LOGIN: the password too long or with a NUL */
	POP3_SASL_AUTHZID,     /* PLAIN: an authzid other than the authcid */
};

struct pop3_sasl_io {
	/* Write the challenge (base64; "" for none) and read the client's
	 * line: 1 with it in *line (NUL-terminated, *len octets), 0 when the
	 * session ends, -1 when the line was unusable (the caller answered). */
	int (*challenge)(void *arg, const char *challenge, char **line, size_t *len);
	void *arg;
	size_t user_max;
	size_t pass_max;
};

/* What pop3_sasl_run() decoded: pointers into the caller's buffer. */
struct pop3_sasl_creds {
	const char *mech;      /* "PLAIN" or "LOGIN" */
	char *user;
	char *pass;
};

/* The mechanism named (case-insensitively): 0, or -1 for one not offered. */
int pop3_sasl_mech_find(const char *name, enum pop3_sasl_mech *mech);

/* One response: "=" (when initial) for empty, else strict base64 of
 * resp[0..len) into out (NUL-terminated). resp is wiped. The decoded length,
 * or -1 when it is not base64 or does not fit in cap - 1 octets. */
long pop3_sasl_decode(char *resp, size_t len, bool initial, char *out, size_t cap);

/* RFC 4616 PLAIN: "[authzid] NUL authcid NUL passwd", decoded into buf[0..n)
 * with buf[n] a NUL. Sets the three pointers into buf: 0, or -1 when a NUL
 * is missing or there is a third one. */
int pop3_sasl_plain_split(char *buf, size_t n, char **authzid, char **authcid, char **pass);

/* Split and check a decoded PLAIN message (buf[n] a NUL): POP3_SASL_OK with
 * creds set, POP3_SASL_BAD_PLAIN or POP3_SASL_AUTHZID. */
enum pop3_sasl_rc pop3_sasl_plain_check(char *buf, size_t n, size_t user_max,
    size_t pass_max, struct pop3_sasl_creds *creds);

/* The whole exchange of one mechanism, from its initial response (NULL when
 * none) to the credentials, in buf (bufsize = 2 * the largest decoded
 * response + 2). */
enum pop3_sasl_rc pop3_sasl_run(const struct pop3_sasl_io *io, enum pop3_sasl_mech mech,
    char *initial, char *buf, size_t bufsize, struct pop3_sasl_creds *creds);

#endif
