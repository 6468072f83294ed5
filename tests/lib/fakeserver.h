/* tests/lib/fakeserver.h — one scripted fake server for IMAP and POP3 tests.
 *
 * For what a real server will not do on purpose: stall, trickle, close in
 * the middle of a literal, answer out of turn, announce what it lacks. A
 * thread accepts a connection on a loopback port (pbt_listen) and runs a
 * script of steps: SEND text, EXPECT a command, TLS, STALL, TRICKLE, CLOSE,
 * or hand the line to the test's own function (CALL, SERVE) where the answer
 * depends on the command. RELAY instead forwards each connection to a real
 * server (the harness Dovecot) and only records.
 *
 * IMAP (the default): EXPECT compares what follows the tag and remembers the
 * tag; in SEND text "$T" stands for the last command's tag and "$1".."$9" for
 * the tags of the commands since the last MARK. POP3 (PBT_FAKE_POP3): lines
 * have no tag, EXPECT compares the whole line, "$" is literal.
 *
 * Every line the client sends is recorded in `log` as "C: line" and every
 * line the fake sends (or relays) as "S: line", CRLF kept, in wire order:
 * tests can compare an exact transcript. Reads time out after 10 s, so a
 * script that waits for a client that never comes ends with a failure.
 *
 * A mismatch, or a SEND step the client is no longer there for, ends the
 * script and is reported by pbt_fake_join(); the first problem wins. TRICKLE,
 * STALL and the test's functions end quietly when the client goes. The fake
 * is a thread of the test process: start it and join it in one test (a
 * forked Check child).
 */
#ifndef PBT_FAKESERVER_H
#define PBT_FAKESERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>

#include "tests/lib/testutil.h"

struct pbt_fake;
/* CALL: fn(f, step arg); SERVE: fn(f, line) for each line read (the tag in
 * f->tag, the rest in f->cmd, split into f->verb and f->args). false ends
 * the step (CALL: and the script). */
typedef bool (*pbt_fake_fn)(struct pbt_fake *f, const char *arg);

enum pbt_fake_op {
	PBT_OP_END,       /* the script ends (also at a zeroed step) */
	PBT_OP_SEND,         /* send arg, with "$T"/"$1".. (IMAP) */
	PBT_OP_EXPECT,       /* read a command: after the tag it starts with arg */
	PBT_OP_EXPECT_RAW,   /* read a line with no tag (literal data, SASL): starts with arg */
	PBT_OP_TLS,          /* the server side of a TLS handshake (PBT_FAKE_TLS) */
	PBT_OP_STALL,        /* say nothing, read and drop until the client goes (or 30 s) */
	PBT_OP_TRICKLE,      /* send arg, then the octet num every trickle_ms until the client goes */
	PBT_OP_CLOSE,        /* close the connection and end the script */
	PBT_OP_ACCEPT,       /* close the connection and accept the next one */
	PBT_OP_MARK,         /* forget earlier tags: "$1" is the next command's */
	PBT_OP_ANSWER_ALL,   /* IMAP: "$T OK" to every command until LOGOUT or EOF */
	PBT_OP_ANSWER_BATCH, /* IMAP: read what arrives within 300 ms, answer it all OK, again */
	PBT_OP_CALL,         /* fn(f, arg) */
	PBT_OP_SERVE,        /* fn(f, line) for every line until it returns false or EOF */
	PBT_OP_RELAY,        /* forward this and every later connection to 127.0.0.1:num,
	                     recording both sides, until pbt_fake_stop() */
};

struct pbt_step {
	enum pbt_fake_op op;
	const char *arg;
	int num;
	pbt_fake_fn fn;
};

/* The steps as a script writes them:
 *   { PBT_SEND("* OK hi\r\n"), PBT_EXPECT("NOOP"), PBT_SEND("$T OK\r\n"), PBT_STALL,
 *     PBT_END } */
#define PBT_SEND(text)        { .op = PBT_OP_SEND, .arg = (text) }
#define PBT_EXPECT(text)      { .op = PBT_OP_EXPECT, .arg = (text) }
#define PBT_EXPECT_RAW(text)  { .op = PBT_OP_EXPECT_RAW, .arg = (text) }
#define PBT_TRICKLE(text, octet) { .op = PBT_OP_TRICKLE, .arg = (text), .num = (octet) }
#define PBT_CALL(fn_, text)   { .op = PBT_OP_CALL, .arg = (text), .fn = (fn_) }
#define PBT_SERVE(fn_)        { .op = PBT_OP_SERVE, .fn = (fn_) }
#define PBT_RELAY(port)       { .op = PBT_OP_RELAY, .num = (port) }
#define PBT_TLS               { .op = PBT_OP_TLS }
#define PBT_STALL             { .op = PBT_OP_STALL }
#define PBT_CLOSE             { .op = PBT_OP_CLOSE }
#define PBT_ACCEPT            { .op = PBT_OP_ACCEPT }
#define PBT_MARK              { .op = PBT_OP_MARK }
#define PBT_ANSWER_ALL        { .op = PBT_OP_ANSWER_ALL }
#define PBT_ANSWER_BATCH      { .op = PBT_OP_ANSWER_BATCH }
#define PBT_END               { .op = PBT_OP_END }

/* pbt_fake_start flags */
#define PBT_FAKE_POP3 0x1   /* POP3 lines: no tags */
#define PBT_FAKE_V6   0x2   /* listen on ::1 (port 0 when there is no IPv6 loopback) */
#define PBT_FAKE_TLS  0x4   /* make a certificate (cert/key) for TLS steps */

struct pbt_fake {
	/* for tests to read */
	int port;            /* where it listens; 0 when it could not (PBT_FAKE_V6) */
	char cert[300];      /* PEM certificate (PBT_FAKE_TLS), a client's CA file */
	char tag[64];        /* the last command's tag (IMAP) */
	const char *cmd;     /* SERVE: the line after the tag (IMAP), the whole line (POP3) */
	char verb[32];       /* cmd's first word ("UID", "LOGIN", "TOP") */
	const char *args;    /* what follows it, past the space ("" for none) */
	void *data;          /* the test's own, for CALL/SERVE functions */
	int trickle_ms;      /* TRICKLE's interval (default 250) */
	unsigned commands;   /* commands ANSWER_ALL, ANSWER_BATCH and SERVE read */
	unsigned widest;     /* ANSWER_BATCH: most commands read at once */
	size_t longest;      /* the longest line read, CRLF included */
	unsigned long trickled; /* octets TRICKLE and pbt_fake_write sent after the script's text */
	struct pbt_buf log;  /* "C: ..."/"S: ..." lines (see above); read it after
	                        pbt_fake_join, or with pbt_fake_commands meanwhile */
	/* internal */
	unsigned flags;
	int lfd, fd, upfd, stop[2];
	pthread_t th;
	pthread_mutex_t mu;  /* guards log */
	bool started, failed, gone;
	bool s_open, c_open;  /* the last logged S:/C: line has no LF yet */
	const struct pbt_step *steps;
	void *ssl_ctx, *ssl;
	char dir[256], key[300];
	char hist[9][64];
	unsigned nhist;
	char line[65536];    /* the last line read */
	char rbuf[65536];
	size_t rlen;
	char err[700];
};

/* A listening TCP socket on 127.0.0.1 (or ::1 when v6) with a free port,
 * close-on-exec; its port into *port. fd, or -1 with a message on stderr. */
int pbt_listen(bool v6, int *port);

/* Start the script in a thread; NULL on failure (reason on stderr). steps
 * must outlive the fake. */
struct pbt_fake *pbt_fake_start(const struct pbt_step *steps, unsigned flags);
/* Make blocked waits (accept, STALL, RELAY) give up; the script then ends. */
void pbt_fake_stop(struct pbt_fake *f);
/* Wait for the script to end: 0, or -1 with the first problem in f->err.
 * The fields stay readable until pbt_fake_free. */
int pbt_fake_join(struct pbt_fake *f);
/* Stop (when not joined yet), join, release everything. */
void pbt_fake_free(struct pbt_fake *f);
/* join + free; 0, or -1 with the problem copied into err. */
int pbt_fake_finish(struct pbt_fake *f, char *err, size_t errlen);
/* In a Check test: finish f; the script must have run without a problem. */
#define PBT_FAKE_FINISH(f) do { \
		char pbt_err_[700]; \
		ck_assert_msg(pbt_fake_finish((f), pbt_err_, sizeof(pbt_err_)) == 0, \
		    "fake server: %s", pbt_err_); \
	} while (0)

/* For CALL and SERVE functions. send: with "$T"/"$n" (IMAP); printf: the
 * formatted text as is; write: raw octets, not recorded in the log (bulk).
 * A send to a client that has gone sets f->gone and returns -1 (not a
 * failure: stopping to read is the client's right). */
int pbt_fake_send(struct pbt_fake *f, const char *text);
int pbt_fake_printf(struct pbt_fake *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int pbt_fake_write(struct pbt_fake *f, const void *buf, size_t len);
/* Read one line (CRLF stripped, recorded); -1 at EOF or timeout. */
int pbt_fake_readline(struct pbt_fake *f, char *buf, size_t cap);
/* Is a line, or data for one, ready within ms? */
bool pbt_fake_pending(struct pbt_fake *f, int ms);
/* Record a problem (the first one is kept) and return false. */
bool pbt_fake_fail(struct pbt_fake *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Sleep ms milliseconds. */
void pbt_msleep(long ms);

/* The log's length now (an offset for pbt_fake_commands). */
size_t pbt_fake_log_len(struct pbt_fake *f);
/* The C: lines of the log from offset `from`; in IMAP the first word of a
 * line, when it holds a digit (a tag), becomes "T": "C: T SELECT INBOX\r\n".
 * malloc'd, the caller frees. Safe while the thread runs. */
char *pbt_fake_commands(struct pbt_fake *f, size_t from);

#endif
