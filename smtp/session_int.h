/* smtp/session_int.h — the session object shared by the engine's files
 * (session.c: the loop, the command table, replies, EHLO, STARTTLS and the
 * small commands; cmd_auth.c: AUTH; cmd_mail.c: MAIL, RCPT, DATA). Not for
 * use outside smtp/.
 */
#ifndef SMTP_SESSION_INT_H
#define SMTP_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/linereader.h"
#include "pop3/loop.h"
#include "pop3/output.h"
#include "pop3/transport.h"
#include "smtp/limits.h"
#include "smtp/relay.h"
#include "smtp/server.h"

/* What a command handler did; it has written its reply. */
enum smtp_cmd_rc {    /* pop3/loop.h's enum pop3_loop_rc, value for value */
	SMTP_CMD_OK = POP3_LOOP_OK,       /* success: the bad-command count restarts (after login) */
	SMTP_CMD_ERR = POP3_LOOP_ERR,     /* the client's mistake: counts as bad */
	SMTP_CMD_FAIL = POP3_LOOP_FAIL,   /* refused for a reason not the client's: not counted */
	SMTP_CMD_CLOSE = POP3_LOOP_CLOSE, /* the session ends now (s->result says why) */
};

struct smtp_session {
	const struct smtp_session_config *cfg;
	const struct smtp_relay_ops *ops;
	void *backend;
	struct smtp_session_stats *stats;
	struct pop3_transport *t;
	const char *host;          /* our name in replies */
	bool tls_active;
	struct pop3_loop loop;     /* reading, deadlines, bad commands */
	enum smtp_result result;

	bool greeted;              /* EHLO or HELO done (since TLS) */
	bool esmtp;                /* by EHLO */
	struct smtp_extensions ext;/* as announced at the last EHLO */
	uint64_t size_max;         /* the SIZE announced and enforced */

	void *relay;               /* after AUTH */
	/* the transaction */
	bool in_mail;              /* MAIL accepted */
	bool smtputf8;             /* MAIL had SMTPUTF8 */
	unsigned rcpts;            /* RCPTs accepted */

	struct pop3_linereader lr;
	char lr_buf[SMTP_AUTH_LINE_MAX];
	struct pop3_out out;
};

void smtp_trace(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One reply: "code text" (text may hold LF-separated lines: all but the
 * last go out as "code-line"). Lines are cut to fit 512 octets. */
void smtp_reply(struct smtp_session *s, unsigned code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A relay's reply, sanitised (a code outside 200..599 becomes 451). */
void smtp_reply_relay(struct smtp_session *s, const struct smtp_reply *r);
/* The next input line: 1 with it, 0 when the session ends (s->result set),
 * -1 when the line was unusable (too long, NUL): answered already. */
int smtp_read_line(struct smtp_session *s, char **line, size_t *len);
/* Fill the reader from the transport (flushing replies first). 1 read
 * something, 0 the session ends (s->result set). */
int smtp_fill(struct smtp_session *s);
void smtp_set_reason(struct smtp_session *s, const char *text);
/* Forget the transaction (after DATA's end, RSET, a refused DATA). */
void smtp_transaction_reset(struct smtp_session *s);
/* May AUTH be used now (TLS, or the caller allows plaintext)? */
bool smtp_plaintext_ok(const struct smtp_session *s);
/* The relay said CLOSE: end the session. */
enum smtp_cmd_rc smtp_upstream_gone(struct smtp_session *s);

typedef enum smtp_cmd_rc smtp_cmd_fn(struct smtp_session *s, char *args);
smtp_cmd_fn smtp_cmd_auth, smtp_cmd_mail, smtp_cmd_rcpt, smtp_cmd_data;

/* Parse "FROM:<path> params" (keyword "FROM") or "TO:<path> params": the
 * path between the brackets into path (NUL-terminated; "" for <>), a
 * pointer to the parameters (after spaces; "" when none) in *params. 0, or
 * -1 with the reply already chosen in *code and *text (501 syntax, 553 path). */
int smtp_parse_path(char *args, const char *keyword, char path[SMTP_PATH_MAX + 1],
    char **params, unsigned *code, const char **text);

#endif
