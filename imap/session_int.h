/* imap/session_int.h — the session object and the command engine shared by
 * the files that implement imap.h. Internal to imap/: its functions are
 * external only so that those files can share them, and carry the imap_
 * prefix because they are linked into libimap.a; they are not the API.
 *
 * The engine works on the session (format.h's imap_cmd_* build the
 * struct imap_cmd it sends): imap_cmd_check() says whether a command may be
 * sent now; imap_cmd_begin() starts one with a fresh tag; the caller appends
 * arguments to s->cmd; imap_cmd_run() sends it (waiting for "+" at each
 * sync point), reads responses until the tagged one, and hands each
 * untagged response first to the session (capabilities, BYE), then to the
 * command's handler, then — when neither consumed it — to cfg.on_event.
 * Body-section streams go to the handler's stream function, or are dropped.
 * imap_cmd_run() sets s->last and returns the result; on a connection or
 * protocol failure it closes the connection.
 *
 * Deadlines (imap.h, limits.h): each imap_cmd_run is one progress budget;
 * a pipelined exchange is one budget from its first imap_cmd_send_raw to
 * the next imap_cmd_check (the start of the next call). Time in the
 * handler's callbacks does not count. A command that asks for a message
 * body section (BODY.PEEK[], [HEADER] or [TEXT]: imap_fetch_body) has no
 * hard cap while such a section streams.
 */
#ifndef IMAP_SESSION_INT_H
#define IMAP_SESSION_INT_H

#include "imap/conn.h"
#include "imap/format.h"
#include "imap/imap.h"
#include "imap/parser.h"

struct imap_session {
	struct imap_config cfg;    /* strings point to the copies below */
	char *host, *ca_file, *verify_name;
	struct imap_conn conn;
	enum imap_state state;
	struct imap_parser *parser;
	char *rbuf;                /* IMAP_READ_BUF octets */
	size_t roff, rlen;         /* unconsumed: rbuf[roff, rlen) */
	unsigned tagn;
	char tag[IMAP_TAG_MAX + 1];
	unsigned caps;
	char *capstr;              /* upper-cased, space-separated, bounded */
	struct imap_status last;
	uint32_t exists;
	uint32_t uidvalidity;      /* of the selected mailbox, as its SELECT
	                              said (0: none given) */
	bool bye;                  /* an untagged BYE was received */
	char bye_text[IMAP_TEXT_MAX + 1];
	size_t starttls_discarded;
	struct imap_cmd *cmd;
	bool pipelined;            /* a pipelined exchange's budget is running */
	const char **kw;           /* keyword scratch for struct imap_msg */
	size_t kwcap;
	struct imap_ahead *ahead;  /* commands sent ahead, answers unread
	                              (ahead.c); NULL until the first */
	const char *mech;          /* how the session logged in: "PLAIN",
	                              "LOGIN", "OAUTHBEARER", "XOAUTH2"; NULL */
	char challenge[IMAP_TEXT_MAX + 1]; /* the last SASL challenge of a
	                              refused AUTHENTICATE, decoded, sanitised */
};

/* One command sent ahead of its answer (imap_fetch_ahead, imap_store_ahead). */
struct imap_ahead_entry {
	char tag[IMAP_TAG_MAX + 1];
	struct imap_ahead_info info;
	bool body_seen;            /* a body was routed to it (to a caller's
	                              sink, or dropped) */
	bool abandoned;            /* nobody waits for it any more: its body
	                              is dropped, it goes once answered */
	bool answered;             /* its tagged reply came: status holds it */
	struct imap_status status;
	imap_done_fn *done;        /* a store's outcome, when not OK */
	void *done_arg;
};

/* A ring of at most IMAP_AHEAD_MAX entries, oldest first. */
struct imap_ahead {
	struct imap_ahead_entry e[IMAP_AHEAD_MAX];
	size_t head, n;
	uint64_t octets;           /* sum of info.expect of the fetches */
};

struct cmd_handler {
	/* An untagged response: 1 consumed, 0 not this command's, -1 malformed
	 * (a protocol error; set s->last.text first). */
	int (*untagged)(struct imap_session *s, void *ctx, const struct imap_response *r);
	/* A body-section event (STREAM_BEGIN, _DATA, _END): 0 go on, -1 abort
	 * with IMAP_ESINK (connection closed), -2 protocol error. */
	int (*stream)(struct imap_session *s, void *ctx, enum imap_parse_status st,
	    const struct imap_parse_event *ev);
	/* The tagged reply, before the result is set. */
	void (*tagged)(struct imap_session *s, void *ctx, const struct imap_response *r);
	void *ctx;
	/* imap_cmd_read_tagged only: when *stop is true after an untagged
	 * response, it returns IMAP_OK with *out NULL (may be NULL). */
	const bool *stop;
	/* imap_cmd_run only: a continuation request after the command's last
	 * sync point — a SASL mechanism's challenge, e.g. an OAuth2 error
	 * (RFC 7628 §3.2.2). Returns the line to answer with (printable ASCII,
	 * without CRLF, at most IMAP_CHALLENGE_REPLY_MAX octets), or NULL: a
	 * protocol error. NULL handler: every such request is one. */
	const char *(*challenge)(struct imap_session *s, void *ctx, const struct imap_response *r);
};

/* IMAP_OK when a command may be sent in the current state (need: the
 * minimum state), else IMAP_ECONN / IMAP_EARG with s->last set. Commands
 * sent ahead are read to their end first (imap_ahead_drain): a command
 * that is not itself part of the read-ahead never finds answers of others
 * before its own. imap_cmd_check_keep leaves them in flight. */
enum imap_result imap_cmd_check(struct imap_session *s, enum imap_state need);
enum imap_result imap_cmd_check_keep(struct imap_session *s, enum imap_state need);
/* Send the finished s->cmd (no sync points) without reading anything. */
enum imap_result imap_cmd_send_now(struct imap_session *s);
/* Read and dispatch up to the next tagged response (as imap_cmd_next_tagged;
 * body: a body section may stream, no hard cap while it does). */
enum imap_result imap_cmd_read_tagged(struct imap_session *s, const struct cmd_handler *h,
    bool body, const struct imap_response **out);
/* ahead.c: s->cmd, just sent, joins the queue (the caller checked room). */
void imap_ahead_push(struct imap_session *s, const struct imap_ahead_info *info,
    imap_done_fn *done, void *done_arg);
/* The position of a usable fetch equal to want (uid, section, offset,
 * length), or -1. */
long imap_ahead_find(const struct imap_session *s, const struct imap_ahead_info *want);
/* The commands before pos are abandoned (their bodies dropped); command
 * pos's body goes to h. Reads until that body has come whole (IMAP_OK; its
 * tagged reply is read later) or its tagged reply came (its result). */
enum imap_result imap_ahead_run(struct imap_session *s, size_t pos, const struct cmd_handler *h);
/* Start s->cmd as UID FETCH of a body section (imap_fetch_body's words),
 * or as UID STORE uid[:uid_last] +/-FLAGS.SILENT (sysflags); IMAP_EARG
 * (s->last set) for arguments imap_fetch_body / imap_store_flags would
 * refuse. */
enum imap_result imap_body_cmd(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length);
enum imap_result imap_store_cmd(struct imap_session *s, uint32_t uid, uint32_t uid_last,
    bool add, unsigned sysflags);
/* The connection is gone: every command in flight is lost (a store's done
 * is told); the queue is emptied. */
void imap_ahead_lost(struct imap_session *s);
/* Start s->cmd with a new tag and the given command words (raw). */
void imap_cmd_begin(struct imap_session *s, const char *words);
enum imap_result imap_cmd_run(struct imap_session *s, const struct cmd_handler *h);
/* s->cmd ends with a literal's "{n}" (or "{n+}": sync false, nothing to
 * wait for): send it, wait for the continuation when sync, stream exactly
 * size octets from src, end the command and read its tagged reply. A
 * tagged reply instead of the continuation ends it there (NO [TRYCREATE]).
 * src failing or ending early drops the connection (IMAP_ESINK): a literal
 * cannot be taken back. */
enum imap_result imap_cmd_run_literal(struct imap_session *s, const struct cmd_handler *h,
    bool sync, uint64_t size, imap_source_fn *src, void *src_arg);
/* Pipelining (commands without sync points only): imap_cmd_send_raw
 * writes finished commands as they are; imap_cmd_next_tagged reads and
 * dispatches responses (untagged ones as imap_cmd_run does) until a tagged
 * one, which it hands back in *out (valid until the next read) for the
 * caller to match against the tags it sent; imap_cmd_tagged_result then
 * sets s->last from it as imap_cmd_run would. Failures close the
 * connection as in imap_cmd_run. */
enum imap_result imap_cmd_send_raw(struct imap_session *s, const char *buf, size_t len);
enum imap_result imap_cmd_next_tagged(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response **out);
enum imap_result imap_cmd_tagged_result(struct imap_session *s, const struct cmd_handler *h,
    const struct imap_response *r);
/* Set s->last to a local outcome (no server reply) and return r. */
enum imap_result imap_set_last(struct imap_session *s, enum imap_result r,
    enum imap_cause cause, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Close the connection; the session is DISCONNECTED. */
void imap_drop_connection(struct imap_session *s);
/* Close the connection after a protocol error: IMAP_EPROTO. */
enum imap_result imap_proto_failed(struct imap_session *s, const char *why);
/* The formatter refused an argument: IMAP_EARG with its reason. */
enum imap_result imap_cmd_refused(struct imap_session *s);

/* Fill m from the attribute list of an untagged FETCH. 0 or -1 (malformed;
 * s->last.text says why). */
int imap_fetch_parse_msg(struct imap_session *s, const struct imap_response *r,
    struct imap_msg *m);
/* The value of the first item of an untagged FETCH whose name starts with
 * prefix (ASCII case-insensitive), or NULL. */
const struct imap_arg *imap_fetch_item(const struct imap_response *r, const char *prefix);
/* Parse a flag list into IMAP_FLAG_* bits and keywords (into s->kw). */
int imap_parse_flag_list(struct imap_session *s, const struct imap_arg *list,
    unsigned *flags, const char *const **keywords, size_t *nkeywords);
/* Run a UID command over uids in chunks: prefix words, the set, then a
 * suffix built by add_suffix (may be NULL). */
enum imap_result imap_cmd_uid_chunks(struct imap_session *s, const char *words,
    const struct imap_uidset *uids,
    void (*add_suffix)(struct imap_session *s, const void *arg), const void *arg,
    const struct cmd_handler *h);

#endif
