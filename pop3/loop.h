/* pop3/loop.h — the command loop of a line protocol server, shared by the
 * POP3 and SMTP engines (smtp/ builds on pop3/'s transport, line reader and
 * output): reading lines within the idle timeout and, before login, the
 * login deadline (pop3/deadline.h); the line limits; counting bad commands
 * and failed logins.
 *
 * Contract:
 * - The engine owns the session: it fills in struct pop3_loop once (its
 *   transport, line reader, output, limits, counters and the event
 *   callback) and sets logged_in when a login succeeds.
 * - The loop never writes protocol text: each event (enum
 *   pop3_loop_event) goes to event(), which answers in the protocol's words
 *   and, for the events that end the session, records why. The loop
 *   flushes the output where the session ends at once (a login or idle
 *   timeout, an overflowing line).
 * - Before login the deadline bounds every wait and commands pipelined past
 *   it are not run; before login bad commands are counted in all (nothing a
 *   client does undoes its mistakes), after it in a row.
 */
#ifndef POP3_LOOP_H
#define POP3_LOOP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/linereader.h"
#include "pop3/output.h"
#include "pop3/transport.h"

enum pop3_loop_event {
	POP3_LOOP_LOGIN_TIMEOUT,   /* answer; the session ends (timeout) */
	POP3_LOOP_IDLE_TIMEOUT,    /* answer; the session ends (timeout) */
	POP3_LOOP_WRITE_TIMEOUT,   /* the session ends (timeout) */
	POP3_LOOP_DROPPED,         /* the session ends (the client went) */
	POP3_LOOP_LINE_TOO_LONG,   /* answer; the line was skipped */
	POP3_LOOP_LINE_NUL,        /* answer; the line was skipped */
	POP3_LOOP_LINE_OVERFLOW,   /* answer; the session ends (line too long) */
	POP3_LOOP_TOO_MANY_BAD,    /* answer; the session ends (too many errors) */
	POP3_LOOP_AUTH_FAILED,     /* the session ends (the last failure is answered) */
};

/* What a command handler did (the engines' own enums, value for value). */
enum pop3_loop_rc {
	POP3_LOOP_OK,     /* success: the bad-command count restarts (after login) */
	POP3_LOOP_ERR,    /* the client's mistake: counts as bad */
	POP3_LOOP_FAIL,   /* refused for a reason not the client's: not counted */
	POP3_LOOP_CLOSE,  /* the session ends now (the handler said why) */
};

struct pop3_loop {
	struct pop3_transport *t;
	struct pop3_linereader *lr;
	struct pop3_out *out;
	uint64_t (*clock_ms)(void);    /* NULL: CLOCK_MONOTONIC */
	int idle_ms;
	uint64_t login_deadline_ms;
	unsigned bad_max;
	unsigned auth_failures_max;
	const unsigned *auth_failures; /* the engine's count */
	uint64_t *bytes_in;            /* the engine's count */
	void (*event)(void *arg, enum pop3_loop_event ev);
	/* Run one command line (its answer written). */
	enum pop3_loop_rc (*command)(void *arg, char *line, size_t len);
	void *arg;
	bool logged_in;                /* set by the engine */
	unsigned bad;                  /* bad commands */
};

/* Set the idle timeout, and start the clock: the login deadline is login_s
 * from now. */
void pop3_loop_start(struct pop3_loop *l, unsigned idle_s, unsigned login_s);
/* How long the next wait on the client may take (0 once the login
 * deadline has passed); the output's write timeout follows. */
int pop3_loop_wait_ms(struct pop3_loop *l);
/* Read more input (flushing the output first: a client that pipelines gets
 * every answer before the engine waits). 1, or 0 when the session ends. */
int pop3_loop_fill(struct pop3_loop *l);
/* The next input line: 1 with it, 0 when the session ends, -1 when it was
 * unusable (too long, a NUL) and answered. */
int pop3_loop_read_line(struct pop3_loop *l, char **line, size_t *len);
/* The next command line: pop3_loop_read_line(), and before login not once
 * the deadline has passed (0). */
int pop3_loop_next(struct pop3_loop *l, char **line, size_t *len);
/* One command line in (pop3_loop_next), run (command(), or an unusable line
 * as POP3_LOOP_ERR), counted: false when the session ends. */
bool pop3_loop_step(struct pop3_loop *l);

/* Start TLS on the client's connection, within cap_s seconds and the login
 * deadline; not at all when !available. 0 with the TLS version in version,
 * or -1 with why (the transport's words, or "TLS handshake failed") in
 * reason; both printable. */
int pop3_loop_start_tls(struct pop3_loop *l, bool available, unsigned cap_s,
    char *reason, size_t reason_cap, char *version, size_t version_cap);

/* The engines' debug trace: fmt formatted (at most 255 octets) and handed
 * to trace(arg, ...); nothing when trace is NULL. */
void pop3_vtrace(void (*trace)(void *arg, const char *msg), void *arg, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

/* The entry of table (n entries of `size` octets, each beginning with its
 * command word as a const char *) whose word is line's first word, matched
 * without regard to case; NULL when none is. *args: what follows the word
 * and one space. */
const void *pop3_loop_lookup(char *line, const void *table, size_t n, size_t size,
    char **args);

#endif
