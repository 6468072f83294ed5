/* smtp/client.h — the client side of SMTP, for bridge/'s upstream
 * connection (SPEC §11): replies line by line into a struct smtp_reply, and
 * an EHLO reply's extensions. Pure functions on buffers: no I/O, so they are
 * tested and fuzzed on their own.
 *
 * Contract:
 *  - smtp_reply_line() takes one reply line without its line end (the
 *    caller cuts lines at LF and drops a CR before it; it may cut an
 *    over-long line and pass its start). The first line sets the code
 *    (200..599 only: SMTP has no 1xx and a submission client never needs
 *    one); every later line must carry the same code. The text (after
 *    "NNN-" / "NNN ") is kept sanitised to printable ASCII ('?' otherwise),
 *    each line cut to SMTP_REPLY_LINE_MAX octets, at most
 *    SMTP_REPLY_LINES_MAX lines and SMTP_REPLY_TEXT_MAX octets: the rest is
 *    dropped, never stored. Returns 1 when the line was the last one, 0
 *    when more follow, -1 when the line is not a reply line, its code
 *    differs, or the reply passes SMTP_REPLY_LINES_HARD_MAX lines.
 *  - smtp_caps_line() reads one line of a 250 EHLO reply (the text after
 *    "250-", the first line being the server's name) into caps.
 */
#ifndef SMTP_CLIENT_H
#define SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp/relay.h"

struct smtp_reply_acc {
	struct smtp_reply r;
	unsigned lines;     /* lines taken so far */
	size_t len;         /* octets of r.text */
};

/* Start a new reply (r.code 0, text empty). */
void smtp_reply_acc_init(struct smtp_reply_acc *a);
int smtp_reply_line(struct smtp_reply_acc *a, const char *line, size_t len);

/* SASL mechanisms the upstream offers. */
enum smtp_mech {
	SMTP_MECH_PLAIN       = 1u << 0,
	SMTP_MECH_LOGIN       = 1u << 1,
	SMTP_MECH_XOAUTH2     = 1u << 2,
	SMTP_MECH_OAUTHBEARER = 1u << 3,
};

struct smtp_caps {
	struct smtp_extensions ext;  /* SIZE, 8BITMIME, SMTPUTF8 */
	bool starttls;
	bool pipelining;
	bool enhanced;               /* ENHANCEDSTATUSCODES */
	unsigned mechs;              /* enum smtp_mech */
};

void smtp_caps_line(struct smtp_caps *caps, const char *line, size_t len);

#endif
