/* pop3/session_int.h — the session object shared by the engine's files
 * (session.c: the loop, the command table and the state; cmd_auth.c: the
 * AUTHORIZATION commands; cmd_mail.c: the TRANSACTION commands). Not for
 * use outside pop3/.
 */
#ifndef POP3_SESSION_INT_H
#define POP3_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/limits.h"
#include "pop3/linereader.h"
#include "pop3/loop.h"
#include "pop3/maildrop.h"
#include "pop3/output.h"
#include "pop3/server.h"
#include "pop3/transport.h"

/* RFC 1939 §3. Changed only by pop3_enter_state(). */
enum pop3_state {
	POP3_AUTHORIZATION = 1,
	POP3_TRANSACTION = 2,
	POP3_UPDATE = 4,
};

/* What a command handler did; the handler has written its reply
 * (pop3/loop.h's enum pop3_loop_rc, value for value). */
enum pop3_cmd_rc {
	POP3_CMD_OK = POP3_LOOP_OK,       /* success: the bad-command count restarts */
	POP3_CMD_ERR = POP3_LOOP_ERR,     /* the client's mistake (-ERR sent): counts as bad */
	POP3_CMD_FAIL = POP3_LOOP_FAIL,   /* -ERR sent for a reason not the client's (the
	                                     maildrop failed, a message is gone): not counted */
	POP3_CMD_CLOSE = POP3_LOOP_CLOSE, /* the session ends now (s->result says why) */
};

struct pop3_session {
	const struct pop3_session_config *cfg;
	const struct pop3_maildrop_ops *ops;
	void *backend;
	struct pop3_session_stats *stats;
	struct pop3_transport *t;
	enum pop3_state state;
	bool tls_active;
	struct pop3_loop loop;      /* reading, deadlines, bad commands */
	enum pop3_result result; /* why the session ends, once it does */

	/* AUTHORIZATION: the name given by USER, waiting for PASS */
	bool have_user;
	char user[POP3_USER_MAX + 1];

	/* TRANSACTION: the open maildrop */
	void *md;
	void *closed_md; /* closed at QUIT, its release() still owed */
	size_t count;
	bool *deleted; /* count entries (at least one allocated) */

	struct pop3_linereader lr;
	char lr_buf[POP3_SASL_LINE_MAX];
	struct pop3_out out;
};

void pop3_enter_state(struct pop3_session *s, enum pop3_state st);
void pop3_trace(struct pop3_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Wait for and return the next input line. 1 with the line, 0 when the
 * session must end (s->result set), or -1 when the line was unusable (too
 * long or holding a NUL octet): -ERR has been written for it. */
int pop3_read_line(struct pop3_session *s, char **line, size_t *len);
/* Honour a maildrop reply's delay_ms. */
void pop3_md_delay(const struct pop3_md_reply *reply);
/* Write "-ERR [code] text" for a maildrop status, with the maildrop's text
 * (sanitised) or a default one. */
int pop3_md_error(struct pop3_session *s, enum pop3_md_status st,
    const struct pop3_md_reply *reply);
/* Copy a maildrop text into the stats reason (sanitised). */
void pop3_set_reason(struct pop3_session *s, const char *text);

/* Command handlers: args is what follows the keyword and one space ("" if
 * nothing followed). */
typedef enum pop3_cmd_rc pop3_cmd_fn(struct pop3_session *s, char *args);

pop3_cmd_fn pop3_cmd_user, pop3_cmd_pass, pop3_cmd_auth, pop3_cmd_stls;
pop3_cmd_fn pop3_cmd_stat, pop3_cmd_list, pop3_cmd_uidl, pop3_cmd_retr,
    pop3_cmd_top, pop3_cmd_dele, pop3_cmd_noop, pop3_cmd_rset, pop3_cmd_quit;
pop3_cmd_fn pop3_cmd_capa;

/* May USER/PASS/AUTH be used on this connection now? */
bool pop3_plaintext_ok(const struct pop3_session *s);

#endif
