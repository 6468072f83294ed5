/* imap/imap.h — a blocking IMAP4rev1/IMAP4rev2 client session: the one
 * interface bridge/ uses to reach the upstream mail server.
 *
 * Contract:
 *  - One session is one connection, used by one thread at a time. Every call
 *    blocks; none blocks forever. With T = cfg.timeout_s (0: 30 s), a call
 *    ends with IMAP_ECONN, cause IMAP_CAUSE_TIMEOUT, when:
 *     - resolving the host name and connecting (all addresses together)
 *       take over T. IP literals never go to the resolver; a name is
 *       looked up in a thread of its own, abandoned (it finishes and frees
 *       alone) when it hangs past T;
 *     - the TLS handshake takes over T, or a single read or write waits T;
 *     - a command falls below the minimum progress: it starts with T of
 *       reserve, every IMAP_PROGRESS_OCTETS octets received earn another T
 *       (at most IMAP_PROGRESS_RESERVE × T held), and its time drains the
 *       reserve. A server trickling bytes is cut off after about T, while
 *       a genuine large listing on a slow link goes on as long as data
 *       flows;
 *     - a command that is not streaming a message body has taken
 *       IMAP_COMMAND_TIMEOUTS × T in all, whatever the rate.
 *    "A command" is each command sent (a set split over several commands
 *    gets this per command), the greeting, and the whole pipelined exchange
 *    of imap_fetch_tails. Time spent in the caller's callbacks (on_event,
 *    per-message callbacks, the body sink) is not counted: the clock runs
 *    only for the server. imap_fetch_body's body section is driven by its
 *    sink, the POP3 client's pace: while it streams, only the per-read wait
 *    and the minimum progress apply. imap/limits.h gives the reasons.
 *  - Every call returns an enum imap_result; imap_last() then describes the
 *    outcome: response code and sanitised text of the tagged reply, or a
 *    local description of the failure. Text never contains a password or
 *    message content, only server text and our own words.
 *  - IMAP_OK / IMAP_NO / IMAP_BAD: the server answered; the session is
 *    usable. IMAP_ENOTFOUND: the server answered, and what was asked for is
 *    not there (see the function). IMAP_EARG / IMAP_EUNSUPPORTED: refused
 *    before anything was sent; the session is usable.
 *    IMAP_ECONN, IMAP_ETLS, IMAP_EPROTO, IMAP_ESINK: the connection is closed
 *    and every later call returns IMAP_ECONN; only imap_session_free remains.
 *  - Telling "wrong credentials" from "server trouble" after imap_login:
 *    IMAP_NO means the server refused the credentials, unless the code is
 *    UNAVAILABLE, SERVERBUG, LIMIT, THROTTLED, INUSE, CONTACTADMIN or
 *    OVERQUOTA (imap_last_is_trouble() says so); IMAP_BAD and
 *    IMAP_ECONN/ETLS/EPROTO are always trouble. AUTHENTICATIONFAILED is
 *    always wrong credentials.
 *  - Untagged data that the running command does not consume — EXISTS,
 *    EXPUNGE, VANISHED, FETCH flag changes, BYE, [ALERT] and any other
 *    untagged response — is handed to cfg.on_event while the command runs,
 *    in the order received; nothing is dropped. The event and everything it
 *    points to is valid only during the callback, which must not call back
 *    into the session.
 *  - Sets of UIDs longer than one command line are split over several
 *    commands transparently; a failure stops at the first failing command.
 *  - Strings the caller passes (user, password, mailbox names, keywords,
 *    search values) must not contain CR, LF or NUL: IMAP_EARG.
 *    Mailbox names are sent as given (modified UTF-7 is the caller's).
 *  - The process must ignore SIGPIPE (as pop3/ requires): OpenSSL writes to
 *    the socket with write(2).
 */
#ifndef IMAP_IMAP_H
#define IMAP_IMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "imap/limits.h"
#include "imap/parser.h"
#include "imap/uidset.h"

enum imap_result {
	IMAP_OK = 0,
	IMAP_NO,           /* tagged NO: see imap_last()->code */
	IMAP_BAD,          /* tagged BAD */
	IMAP_ENOTFOUND,    /* answered, but the message / mailbox is not there */
	IMAP_EARG,         /* argument refused locally (CR/LF/NUL, bad value,
	                      wrong state); nothing sent */
	IMAP_EUNSUPPORTED, /* the server lacks what this needs; nothing sent */
	IMAP_ECONN,        /* connect failed, connection lost, timeout, BYE */
	IMAP_ETLS,         /* TLS failed: handshake, certificate, host name,
	                      STARTTLS not offered, PREAUTH before STARTTLS */
	IMAP_EPROTO,       /* the server broke the protocol or a limit */
	IMAP_ESINK,        /* the caller's sink returned -1 */
};

/* Why an IMAP_ECONN / IMAP_ETLS happened. */
enum imap_cause {
	IMAP_CAUSE_NONE,
	IMAP_CAUSE_RESOLVE,      /* the host name did not resolve */
	IMAP_CAUSE_CONNECT,      /* no address accepted the connection */
	IMAP_CAUSE_TIMEOUT,      /* resolving, connecting, a read or write, or a
	                            whole command took too long (see above) */
	IMAP_CAUSE_CLOSED,       /* the server closed the connection */
	IMAP_CAUSE_IO,           /* a socket error */
	IMAP_CAUSE_BYE,          /* the server said BYE (text in imap_last) */
	IMAP_CAUSE_TLS_VERIFY,   /* the certificate or its name did not verify */
	IMAP_CAUSE_TLS,          /* any other TLS failure */
	IMAP_CAUSE_NO_STARTTLS,  /* STARTTLS required but not offered/refused */
	IMAP_CAUSE_PREAUTH,      /* PREAUTH greeting where STARTTLS was required */
};

struct imap_status {
	enum imap_result result;
	enum imap_cause cause;
	enum imap_code code;             /* of the tagged reply, or NONE */
	char text[IMAP_TEXT_MAX + 1];    /* sanitised; may be empty */
};

enum imap_tls_mode {
	IMAP_TLS_IMPLICIT,  /* TLS from the first byte (imaps, port 993) */
	IMAP_TLS_STARTTLS,  /* plaintext greeting, then STARTTLS, required */
	IMAP_TLS_NONE,      /* plaintext throughout (loopback, tests) */
};

enum imap_tls_version {
	IMAP_TLS_DEFAULT = 0,  /* TLS 1.2 */
	IMAP_TLS_1_0,
	IMAP_TLS_1_1,
	IMAP_TLS_1_2,
	IMAP_TLS_1_3,
};

/* Capabilities the library knows (bit flags). */
enum imap_cap {
	IMAP_CAP_IMAP4REV1     = 1u << 0,
	IMAP_CAP_IMAP4REV2     = 1u << 1,
	IMAP_CAP_STARTTLS      = 1u << 2,
	IMAP_CAP_LOGINDISABLED = 1u << 3,
	IMAP_CAP_AUTH_PLAIN    = 1u << 4,
	IMAP_CAP_SASL_IR       = 1u << 5,
	IMAP_CAP_UIDPLUS       = 1u << 6,
	IMAP_CAP_MOVE          = 1u << 7,
	IMAP_CAP_CONDSTORE     = 1u << 8,
	IMAP_CAP_QRESYNC       = 1u << 9,
	IMAP_CAP_ENABLE        = 1u << 10,
	IMAP_CAP_SPECIAL_USE   = 1u << 11,
	IMAP_CAP_LIST_EXTENDED = 1u << 12,
	IMAP_CAP_LITERAL_PLUS  = 1u << 13,
	IMAP_CAP_LITERAL_MINUS = 1u << 14,
	IMAP_CAP_ID            = 1u << 15,
	IMAP_CAP_IDLE          = 1u << 16,
	IMAP_CAP_ESEARCH       = 1u << 17,
	IMAP_CAP_OBJECTID      = 1u << 18,
	IMAP_CAP_X_GM_EXT_1    = 1u << 19,
	IMAP_CAP_NAMESPACE     = 1u << 20,
	IMAP_CAP_UTF8_ACCEPT   = 1u << 21,
};

/* System flags (bit flags); anything else is a keyword. */
enum imap_flag {
	IMAP_FLAG_SEEN     = 1u << 0,
	IMAP_FLAG_ANSWERED = 1u << 1,
	IMAP_FLAG_FLAGGED  = 1u << 2,
	IMAP_FLAG_DELETED  = 1u << 3,
	IMAP_FLAG_DRAFT    = 1u << 4,
	IMAP_FLAG_RECENT   = 1u << 5,  /* only ever received */
	IMAP_FLAG_ANY_KEYWORD = 1u << 6,  /* PERMANENTFLAGS "\*" */
};

/* What one FETCH response said about one message. Strings point into
 * parser memory and are valid during the callback only. */
struct imap_msg {
	uint32_t msn;            /* message sequence number */
	uint32_t uid;            /* 0 if the response had none */
	bool has_size;
	uint64_t size;           /* RFC822.SIZE */
	bool has_flags;
	unsigned flags;          /* IMAP_FLAG_* */
	size_t nkeywords;
	const char *const *keywords;  /* flags that are not system flags */
	uint64_t modseq;         /* MODSEQ, 0 if absent */
	const char *emailid;     /* OBJECTID EMAILID, or NULL */
	const char *gm_msgid;    /* X-GM-MSGID (decimal), or NULL */
	const char *header;      /* imap_fetch_headers: the header fields, up to
	                            IMAP_HEADER_FIELDS_MAX octets; else NULL */
	size_t header_len;
	bool header_truncated;   /* the server sent more than was kept */
};

enum imap_event_type {
	IMAP_EVENT_EXISTS,    /* number: messages in the mailbox now */
	IMAP_EVENT_EXPUNGE,   /* number: the sequence number expunged */
	IMAP_EVENT_VANISHED,  /* uids (earlier: VANISHED (EARLIER)) */
	IMAP_EVENT_FETCH,     /* msg: unsolicited FETCH (flag change...) */
	IMAP_EVENT_BYE,       /* text: the server is closing the connection */
	IMAP_EVENT_ALERT,     /* text: [ALERT], meant for a human (log it) */
	IMAP_EVENT_OTHER,     /* resp: any other untagged response */
};

struct imap_event {
	enum imap_event_type type;
	uint32_t number;
	const struct imap_uidset *uids;
	bool earlier;
	const struct imap_msg *msg;
	const char *text;                  /* sanitised */
	const struct imap_response *resp;  /* always set: the raw response */
};

typedef void imap_event_fn(void *arg, const struct imap_event *ev);

struct imap_config {
	const char *host;          /* DNS name, IPv4 or IPv6 literal (no []) */
	unsigned port;             /* 0: 993 for IMPLICIT, else 143 */
	enum imap_tls_mode tls;
	const char *ca_file;       /* PEM file of trusted certificates; NULL:
	                              the system store */
	const char *verify_name;   /* name the certificate must match and the
	                              SNI sent; NULL: host. An IP address is
	                              matched against IP SANs and sends no SNI. */
	enum imap_tls_version tls_min;
	unsigned timeout_s;        /* 0: IMAP_DEFAULT_TIMEOUT_S */
	imap_event_fn *on_event;   /* may be NULL: events are then dropped */
	void *event_arg;
};

enum imap_state {
	IMAP_STATE_DISCONNECTED,   /* before imap_connect, or after a failure or
	                              LOGOUT */
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
};

struct imap_session;

/* ---- session ----------------------------------------------------------- */

/* Copies cfg (strings included). NULL on allocation failure or a NULL host. */
struct imap_session *imap_session_new(const struct imap_config *cfg);
/* Closes the connection (without LOGOUT) and frees; NULL is a no-op. */
void imap_session_free(struct imap_session *s);
/* Connect, TLS as configured, read the greeting and the capabilities.
 * STARTTLS mode: refuses (ETLS) a server that does not offer STARTTLS or
 * greets with PREAUTH; bytes received between the STARTTLS OK and the end of
 * the handshake are discarded; capabilities are read again over TLS.
 * A greeting of BYE gives IMAP_ECONN (cause BYE). A PREAUTH greeting (over
 * TLS or with IMAP_TLS_NONE) leaves the session in IMAP_STATE_AUTH. */
enum imap_result imap_connect(struct imap_session *s);
/* LOGOUT, read the BYE and tagged OK, close. */
enum imap_result imap_logout(struct imap_session *s);

const struct imap_status *imap_last(const struct imap_session *s);
/* The last result was server or network trouble rather than a refusal of
 * the credentials or command (see the contract above). */
bool imap_last_is_trouble(const struct imap_session *s);
/* The last result was a throttling NO: code THROTTLED, or Microsoft 365's
 * text "Request is throttled. Suggested Backoff Time: N milliseconds"
 * (no code). *backoff_ms (may be NULL) gets N (at most 3,600,000), 0 when
 * the server suggested none. Throttling is trouble (imap_last_is_trouble). */
bool imap_last_throttled(const struct imap_session *s, unsigned *backoff_ms);
enum imap_state imap_state(const struct imap_session *s);
/* Negotiated TLS version ("TLSv1.3"), or NULL without TLS. */
const char *imap_tls_version(const struct imap_session *s);
/* Bytes dropped because they arrived between STARTTLS's OK and the end of
 * the TLS handshake (a sign of an injection attempt; worth a log line). */
size_t imap_starttls_discarded(const struct imap_session *s);
/* Where untagged events go from now on (cfg.on_event / event_arg), for a
 * session handed from one owner to another (connection reuse, SPEC §9);
 * fn NULL drops them. */
void imap_set_events(struct imap_session *s, imap_event_fn *fn, void *arg);
/* The session can be handed on as it is: logged in (AUTH or SELECTED), no
 * BYE received, no command in flight (the read-ahead queue empty: see
 * imap_ahead_drain) and the parser between responses (no half-read
 * literal). A session that failed is DISCONNECTED, so never reusable. */
bool imap_reusable(const struct imap_session *s);
const char *imap_result_name(enum imap_result r);

/* ---- capabilities ------------------------------------------------------ */

/* All of caps. A server that offers IMAP4rev2 but not IMAP4rev1 has the
 * extensions RFC 9051 made part of the base protocol (UIDPLUS, MOVE,
 * ESEARCH, ENABLE, IDLE, SASL-IR, LITERAL-, NAMESPACE, SPECIAL-USE,
 * LIST-EXTENDED). */
bool imap_has(const struct imap_session *s, unsigned caps);
/* Any capability by name, e.g. "AUTH=XOAUTH2" (case-insensitive). */
bool imap_has_name(const struct imap_session *s, const char *name);
/* The last CAPABILITY list as sent (sanitised), for logs. */
const char *imap_capability_string(const struct imap_session *s);
/* Ask again (CAPABILITY). */
enum imap_result imap_capability(struct imap_session *s);

/* ---- authentication and session setup ---------------------------------- */

/* AUTHENTICATE PLAIN (with SASL-IR when offered) if AUTH=PLAIN is offered,
 * else LOGIN unless LOGINDISABLED (IMAP_EUNSUPPORTED then). Only in
 * NOT_AUTH state (IMAP_EARG otherwise: after a PREAUTH greeting there are
 * no credentials to check). Capabilities are read again on success. */
enum imap_result imap_login(struct imap_session *s, const char *user,
    const char *password);
/* OAuth2 (SPEC §10): AUTHENTICATE OAUTHBEARER (RFC 7628, with a=USER, which
 * Dovecot requires, and host and port) when the server offers
 * AUTH=OAUTHBEARER, else AUTHENTICATE XOAUTH2 when it offers AUTH=XOAUTH2,
 * else IMAP_EUNSUPPORTED. token is the access token (RFC 6750 b64token, at
 * most IMAP_BEARER_MAX octets; anything else IMAP_EARG). The initial
 * response goes on the command line with SASL-IR, else after the server's
 * "+". A refusal that comes as a challenge (a base64 JSON status) is
 * answered once as the mechanism requires (OAUTHBEARER: ^A; XOAUTH2: an
 * empty line) before the tagged NO, which is the result (IMAP_NO: the token
 * is refused, as for imap_login); imap_last_challenge() then holds the
 * challenge's decoded text. Only in NOT_AUTH state; capabilities are read
 * again on success. */
enum imap_result imap_login_oauth2(struct imap_session *s, const char *user,
    const char *token);
/* The SASL initial response of those two mechanisms, for any protocol's
 * AUTH (SMTP submission's too, bridge/submit/): OAUTHBEARER (xoauth2 false;
 * RFC 7628 §3.1: the GS2 header with a=USER, host, port, auth=Bearer) or
 * XOAUTH2 (user=, auth=Bearer), base64-encoded and NUL-terminated into out
 * (IMAP_SASL_OAUTH2_MAX octets hold any). Its length, or -1: user empty,
 * over 1024 octets or with CR, LF or ^A; host over 1024 octets; token not
 * an RFC 6750 b64token of at most IMAP_BEARER_MAX octets; out too small.
 * The caller wipes out once sent. */
#define IMAP_SASL_OAUTH2_MAX (((4 * 1024 + IMAP_BEARER_MAX + 128) + 2) / 3 * 4 + 1)
long imap_sasl_oauth2(bool xoauth2, const char *user, const char *host, unsigned port,
    const char *token, char *out, size_t size);
/* The mechanism of the last successful login: "PLAIN", "LOGIN",
 * "OAUTHBEARER" or "XOAUTH2"; NULL before one. */
const char *imap_login_mechanism(const struct imap_session *s);
/* The decoded, sanitised text of the challenge with which the server refused
 * the last imap_login_oauth2 (e.g. {"status":"invalid_token"}); "" when
 * none. */
const char *imap_last_challenge(const struct imap_session *s);
/* ID with name/value pairs (kv[2i], kv[2i+1]); IMAP_EUNSUPPORTED without
 * the ID capability. The server's answer goes to on_event (OTHER). */
enum imap_result imap_id(struct imap_session *s, const char *const *kv, size_t n);
/* ENABLE the given IMAP_CAP_CONDSTORE / IMAP_CAP_QRESYNC (only those the
 * server offers are asked for); *enabled (may be NULL) receives what the
 * server confirmed. IMAP_EUNSUPPORTED without ENABLE. */
enum imap_result imap_enable(struct imap_session *s, unsigned caps, unsigned *enabled);
enum imap_result imap_noop(struct imap_session *s);

/* ---- mailboxes --------------------------------------------------------- */

struct imap_mailbox_info {
	uint32_t exists;
	bool has_uidvalidity;
	uint32_t uidvalidity;
	bool has_uidnext;
	uint32_t uidnext;
	bool has_highestmodseq;
	uint64_t highestmodseq;    /* 0 with [NOMODSEQ] */
	bool read_only;            /* EXAMINE, or [READ-ONLY] */
	bool has_permanent_flags;
	unsigned permanent_flags;  /* IMAP_FLAG_*, incl. IMAP_FLAG_ANY_KEYWORD */
};

#define IMAP_SELECT_READONLY  1u  /* EXAMINE instead of SELECT */
#define IMAP_SELECT_CONDSTORE 2u  /* add (CONDSTORE) when offered */

/* SELECT or EXAMINE; out may be NULL. NO (e.g. [NONEXISTENT]) leaves no
 * mailbox selected. An untagged OK [UIDVALIDITY n] that a later command
 * brings with another value than the SELECT's (the mailbox renumbered
 * while selected) is IMAP_EPROTO with the connection closed: the caller's
 * UIDs name other messages now. */
enum imap_result imap_select(struct imap_session *s, const char *mailbox,
    unsigned flags, struct imap_mailbox_info *out);
/* NOOP and SELECT/EXAMINE mailbox (as imap_select) sent in one write, the
 * answers read in order: a kept connection's check and its SELECT in one
 * round trip. Returns NOOP's result (a connection failure while reading
 * either answer included; imap_last() then tells NOOP's failure), and
 * *selected SELECT's (IMAP_EARG when it was not read). */
enum imap_result imap_noop_select(struct imap_session *s, const char *mailbox,
    unsigned flags, struct imap_mailbox_info *out, enum imap_result *selected);
/* The selected mailbox's message count as EXISTS/EXPUNGE keep it. */
uint32_t imap_exists(const struct imap_session *s);
/* A number that changes with every command sent (tag counter): equal
 * values before and after mean no command was sent in between. */
unsigned imap_commands(const struct imap_session *s);

/* LIST attributes (bit flags). */
enum imap_list_attr {
	IMAP_LIST_NOSELECT    = 1u << 0,
	IMAP_LIST_NOINFERIORS = 1u << 1,
	IMAP_LIST_HASCHILDREN = 1u << 2,
	IMAP_LIST_HASNOCHILDREN = 1u << 3,
	IMAP_LIST_NONEXISTENT = 1u << 4,
	IMAP_LIST_ALL         = 1u << 5,
	IMAP_LIST_ARCHIVE     = 1u << 6,
	IMAP_LIST_DRAFTS      = 1u << 7,
	IMAP_LIST_FLAGGED     = 1u << 8,
	IMAP_LIST_JUNK        = 1u << 9,
	IMAP_LIST_SENT        = 1u << 10,
	IMAP_LIST_TRASH       = 1u << 11,
};

struct imap_list_entry {
	const char *name;   /* as the server sent it */
	char delimiter;     /* 0 for NIL */
	unsigned attrs;     /* IMAP_LIST_* */
};

typedef void imap_list_fn(void *arg, const struct imap_list_entry *e);

/* LIST reference pattern; with SPECIAL-USE and LIST-EXTENDED it adds
 * RETURN (SPECIAL-USE) so the special-use attributes come back. */
enum imap_result imap_list(struct imap_session *s, const char *reference,
    const char *pattern, imap_list_fn *cb, void *arg);
/* The first mailbox carrying special-use attribute `use` (one of
 * IMAP_LIST_ALL..IMAP_LIST_TRASH) into name (NUL-terminated).
 * IMAP_ENOTFOUND when none has it (or the server lacks SPECIAL-USE);
 * IMAP_EARG when a name does not fit in len. */
enum imap_result imap_find_special(struct imap_session *s, unsigned use, char *name,
    size_t len);
/* NAMESPACE (RFC 2342): the first personal namespace's prefix into prefix
 * (NUL-terminated, e.g. "INBOX." on Cyrus and Courier as Debian ships them;
 * "" when the server has none, answers NIL or sends no NAMESPACE data) and
 * its hierarchy delimiter into *delim (0 for NIL). IMAP_EUNSUPPORTED
 * without the NAMESPACE capability (nothing sent); IMAP_EARG when the
 * prefix does not fit in len or holds a NUL. A malformed NAMESPACE
 * response is a protocol error. */
enum imap_result imap_namespace(struct imap_session *s, char *prefix, size_t len, char *delim);
/* CREATE; an existing mailbox gives IMAP_NO with code ALREADYEXISTS. */
enum imap_result imap_create(struct imap_session *s, const char *mailbox);

/* Supplies an APPEND's message: up to cap octets into buf; the count (> 0),
 * or 0 / -1 when it cannot (the command then fails with IMAP_ESINK and the
 * connection is closed: a literal cannot be taken back). */
typedef ssize_t imap_source_fn(void *arg, char *buf, size_t cap);

/* APPEND mailbox (sysflags) "date" {size}: the message streamed from src,
 * exactly size octets (1 .. IMAP_APPEND_MAX; CRLF line ends are the
 * caller's), never held in memory; a non-synchronizing literal with
 * LITERAL+ (or LITERAL- up to 4096 octets). date: the INTERNALDATE as unix
 * time (0: the server's now). sysflags: IMAP_FLAG_SEEN|ANSWERED|FLAGGED|
 * DRAFT. With UIDPLUS the server's [APPENDUID v u] fills *uidvalidity and
 * *uid (both may be NULL; 0 when not given). A NO with [TRYCREATE] means the
 * mailbox does not exist. Requires AUTH state. */
enum imap_result imap_append(struct imap_session *s, const char *mailbox, unsigned sysflags,
    int64_t date, uint64_t size, imap_source_fn *src, void *src_arg, uint32_t *uidvalidity,
    uint32_t *uid);

/* ---- search ------------------------------------------------------------ */

/* Criteria, all of which must hold (an all-zero struct: ALL). */
struct imap_search {
	uint32_t uid_min;        /* UID uid_min:*  (0: no bound) */
	bool unseen;             /* UNSEEN */
	bool seen;               /* SEEN */
	bool undeleted;          /* UNDELETED */
	const char *keyword;     /* KEYWORD k, or NULL */
	const char *unkeyword;   /* UNKEYWORD k, or NULL */
	const char *header_name; /* HEADER name value, or NULL */
	const char *header_value;
	uint64_t size;           /* LARGER size-1 SMALLER size+1: exactly size
	                            octets (RFC822.SIZE); 0: no bound */
	int64_t since;           /* SINCE the day of this unix time (UTC);
	                            0: no bound */
};

/* UID SEARCH (RETURN (ALL) with ESEARCH); matching UIDs are added to out
 * (which the caller initialised). Requires a selected mailbox. UIDs below
 * uid_min are never added, although "UID n:*" makes servers return the
 * highest UID when it is below n. A header name or value with 8-bit octets
 * is sent as a literal with CHARSET UTF-8. */
enum imap_result imap_uid_search(struct imap_session *s, const struct imap_search *q,
    struct imap_uidset *out);

/* ---- fetch ------------------------------------------------------------- */

/* Per-message callback; return 0 to go on, non-zero to hear no more of this
 * command (the rest of its responses are still read and dropped). */
typedef int imap_msg_fn(void *arg, const struct imap_msg *m);

#define IMAP_FETCH_EMAILID 1u   /* EMAILID, when OBJECTID is offered */
#define IMAP_FETCH_GMMSGID 2u   /* X-GM-MSGID, when X-GM-EXT-1 is offered */
#define IMAP_FETCH_MODSEQ  4u   /* MODSEQ, when CONDSTORE is offered */

/* UID FETCH uids (UID RFC822.SIZE FLAGS [EMAILID] [X-GM-MSGID] [MODSEQ]):
 * cb once per message, in the server's order (UIDs no longer there are
 * simply absent). A FETCH response lacking UID or RFC822.SIZE is not a
 * result but an event (IMAP_EVENT_FETCH). */
enum imap_result imap_fetch_info(struct imap_session *s, const struct imap_uidset *uids,
    unsigned opts, imap_msg_fn *cb, void *arg);
/* As imap_fetch_info, with the CHANGEDSINCE modifier (RFC 7162 §3.1.4.1):
 * only the messages of uids whose mod-sequence is above modseq (1 ..
 * INT64_MAX, else IMAP_EARG) — flag changes and new messages since the
 * HIGHESTMODSEQ modseq was read from. IMAP_EUNSUPPORTED without CONDSTORE.
 * Expunges are not reported, unless vanished != NULL: then the VANISHED
 * modifier is added too (RFC 7162 §3.2.6; IMAP_EUNSUPPORTED without
 * QRESYNC, and the caller must have ENABLEd QRESYNC in this session, else
 * the server answers BAD) and the UIDs the server's VANISHED (EARLIER)
 * responses name — messages of uids expunged since modseq; a server may
 * also name UIDs that never existed or went earlier — are added to
 * *vanished (initialised by the caller). Those responses are the command's
 * and do not go to on_event; a VANISHED without (EARLIER) (an expunge
 * happening now) still does. */
enum imap_result imap_fetch_changed(struct imap_session *s, const struct imap_uidset *uids,
    unsigned opts, uint64_t modseq, struct imap_uidset *vanished, imap_msg_fn *cb, void *arg);
/* The same plus BODY.PEEK[HEADER.FIELDS (fields...)]: m->header holds them
 * (at most IMAP_HEADER_FIELDS_MAX octets, m->header_truncated beyond). */
enum imap_result imap_fetch_headers(struct imap_session *s, const struct imap_uidset *uids,
    const char *const *fields, size_t nfields, unsigned opts, imap_msg_fn *cb, void *arg);

enum imap_section {
	IMAP_SECTION_ALL,     /* BODY.PEEK[] */
	IMAP_SECTION_HEADER,  /* BODY.PEEK[HEADER] (with the blank line) */
	IMAP_SECTION_TEXT,    /* BODY.PEEK[TEXT] */
};

/* Receives a body in order in chunks of at most IMAP_READ_BUF octets.
 * Returns 0 to go on, 1 when it has enough (the rest is read and dropped,
 * the session stays usable, the call returns IMAP_OK), -1 to abort (the
 * connection is closed at once, the call returns IMAP_ESINK). */
typedef int imap_sink_fn(void *arg, const char *buf, size_t len);

struct imap_body_result {
	uint64_t size;       /* octets the server announced for the section */
	uint64_t delivered;  /* octets handed to the sink */
	bool stopped;        /* the sink returned 1 (or refused) */
	bool refused;        /* imap_fetch_body_checked: the size was refused,
	                        nothing went to the sink */
};

/* UID FETCH uid section, optionally partial: length > 0 fetches
 * <offset.length>; length == 0 with offset > 0 fetches from offset to the
 * end. The body goes to sink, never into memory. IMAP_ENOTFOUND: the
 * server returned no body for that UID (it has been expunged), or answered
 * NO with [EXPUNGEISSUED] / [NONEXISTENT] — the session stays usable.
 * out may be NULL. */
enum imap_result imap_fetch_body(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length,
    imap_sink_fn *sink, void *sink_arg, struct imap_body_result *out);

/* Asked with the octet count the server announces for the body ({n} of
 * its literal) before any octet of it reaches the sink: true to take it. */
typedef bool imap_size_fn(void *arg, uint64_t size);
/* imap_fetch_body, where accept (may be NULL: take any) judges the size
 * first. Refused: the sink is never called, the body is read and dropped,
 * the session stays usable, the call returns IMAP_OK with out->refused and
 * out->size set (e.g. a stand-in text Courier sends for a message another
 * session expunged, whose size disagrees with the listing). */
enum imap_result imap_fetch_body_checked(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length,
    imap_size_fn *accept, void *accept_arg, imap_sink_fn *sink, void *sink_arg,
    struct imap_body_result *out);

/* The last octets of each message, pipelined: for every i with
 * sizes[i] > 0, UID FETCH uids[i] (UID BODY.PEEK[]<sizes[i]-k.k>) where
 * k = min(tail_len, sizes[i]) and sizes[i] is the message's RFC822.SIZE (or
 * any size the caller believes). Up to IMAP_PIPELINE_MAX commands are in
 * flight at once: one round trip per IMAP_PIPELINE_MAX / 2 commands rather
 * than one per message. A partial fetch's origin is the same for every
 * message of a command's set, so messages of equal size share one command
 * (UID FETCH set (UID BODY.PEEK[]<size-k.k>)); commands go out in the order
 * of their first message in uids.
 *  - cb(arg, uid, tail, len) once per message the server returned the
 *    section for, in the server's order, with its last octets: len = k
 *    when the message is as long as its size said; fewer (maybe none)
 *    when it is shorter (its real last octets) or, in a group of
 *    imap_fetch_tails_grouped, longer. A message that is no longer there
 *    (no data, or NO [EXPUNGEISSUED] / [NONEXISTENT]) simply gets no call;
 *    a UID given twice is asked and reported once (with the first size).
 *    Responses are attributed by UID; FETCH data for UIDs not in flight and
 *    all other untagged data go to on_event as usual. cb returning non-zero
 *    means "no more": nothing more is sent or reported, the commands in
 *    flight are answered and read, and the call returns IMAP_OK.
 *  - Another NO or a BAD to one command: nothing more is sent, the commands
 *    in flight are read to their end (their tails are still reported) and
 *    the call returns IMAP_NO / IMAP_BAD with imap_last() describing that
 *    reply; the session stays usable.
 *  - IMAP_EARG (nothing sent): a UID 0, a size over UINT32_MAX, tail_len 0
 *    or over IMAP_TAIL_MAX, NULL arrays with n > 0, no cb. n == 0, or only
 *    sizes of 0: IMAP_OK without a command. Requires a selected mailbox. */
typedef int imap_tail_fn(void *arg, uint32_t uid, const char *tail, size_t len);
enum imap_result imap_fetch_tails(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, imap_tail_fn *cb, void *arg);
/* The same, with messages whose sizes lie within spread octets of the
 * smallest of a group in one command: UID FETCH set (UID
 * BODY.PEEK[]<o.L>), o = smallest - tail_len (or 0), L reaching the largest
 * one's end. The server returns each member from o to its end, so one
 * command serves many messages (for a first listing of 20,000 messages, a
 * few dozen commands instead of 20,000), at the price of up to spread +
 * tail_len octets of transfer each. A set longer than about 1 KB of text
 * is cut into several commands. spread 0 is imap_fetch_tails; over
 * IMAP_TAIL_SPREAD_MAX: IMAP_EARG. */
enum imap_result imap_fetch_tails_grouped(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, uint64_t spread, imap_tail_fn *cb,
    void *arg);
/* The same, calling meanwhile(marg) once, right after the first commands
 * went out and before any answer is read (or, with nothing to send, before
 * returning): the caller's own work overlaps the server's. meanwhile must
 * not use the session; its time does not count against the timeout. Not
 * called when the call fails before sending (IMAP_EARG, no connection):
 * the caller's marg should say whether it ran. */
typedef void imap_meanwhile_fn(void *marg);
enum imap_result imap_fetch_tails_meanwhile(struct imap_session *s, const uint32_t *uids,
    const uint64_t *sizes, size_t n, size_t tail_len, uint64_t spread, imap_tail_fn *cb,
    void *arg, imap_meanwhile_fn *meanwhile, void *marg);

/* ---- read-ahead: commands sent before their answers are read ----------- */

/* The session keeps a queue of up to IMAP_AHEAD_MAX commands sent ahead
 * (SPEC §9: a client's pipelined RETRs, a sequential client's next
 * messages). Their answers stay in the socket buffers until read, never in
 * memory. Contract:
 *  - imap_fetch_body of a fetch equal to one in flight (same uid, section,
 *    offset and length) reads and discards the answers of the commands
 *    before it, then streams that answer to the sink: no round trip.
 *  - Any other command (imap_fetch_body of something not in flight
 *    included) first reads every command in flight to its end, discarding
 *    bodies and reporting stores (imap_ahead_drain): nothing sent ahead is
 *    ever seen by another command, and a session whose queue is empty is in
 *    the same state as one that never read ahead.
 *  - Untagged data other than the bodies goes to on_event as usual.
 *  - A body that arrives while an earlier command is read (a server that
 *    answers out of order) is dropped and its command no longer matches:
 *    its imap_fetch_body then drains and asks again.
 *  - If the connection fails, everything in flight is lost: each store's
 *    done is called (never silently lost).
 * Requires a selected mailbox; IMAP_EARG when the queue is full. */
struct imap_ahead_info {
	bool fetch;                /* a body fetch; else a store */
	uint32_t uid;              /* a store: the first of its UIDs */
	uint32_t uid_last;         /* a store: the last (uid..uid_last) */
	enum imap_section section; /* fetch: as imap_fetch_body */
	uint64_t offset, length;
	uint64_t expect;           /* fetch: octets the caller expects */
};

/* UID FETCH uid (UID BODY.PEEK[section]<partial>) sent now (arguments as
 * imap_fetch_body); expect counts in imap_ahead_octets. */
enum imap_result imap_fetch_ahead(struct imap_session *s, uint32_t uid,
    enum imap_section section, uint64_t offset, uint64_t length, uint64_t expect);
/* A store sent ahead did not answer OK: st says how (a NO or BAD, or
 * IMAP_ECONN when the connection ended before its answer: then it may or
 * may not have been done); what names the store (uid..uid_last). Must not
 * call into the session. */
typedef void imap_done_fn(void *arg, const struct imap_ahead_info *what,
    const struct imap_status *st);
/* UID STORE uid +FLAGS.SILENT / -FLAGS.SILENT (sysflags) sent now; its
 * answer is read with the next command's; done (may be NULL) hears a
 * failure. */
enum imap_result imap_store_ahead(struct imap_session *s, uint32_t uid, bool add,
    unsigned sysflags, imap_done_fn *done, void *done_arg);
/* The same for the UIDs uid..uid_last (UID STORE uid:uid_last ...): one
 * command for a run of messages. */
enum imap_result imap_store_ahead_range(struct imap_session *s, uint32_t uid,
    uint32_t uid_last, bool add, unsigned sysflags, imap_done_fn *done, void *done_arg);
/* Commands in flight; octets of the fetches' expect; the i-th oldest. */
size_t imap_ahead_count(const struct imap_session *s);
uint64_t imap_ahead_octets(const struct imap_session *s);
bool imap_ahead_get(const struct imap_session *s, size_t i, struct imap_ahead_info *out);
/* Read every command in flight to its end (bodies discarded). IMAP_OK, or
 * the connection failure. */
enum imap_result imap_ahead_drain(struct imap_session *s);

/* ---- changes ----------------------------------------------------------- */

/* UID STORE uids +FLAGS.SILENT / -FLAGS.SILENT (flags, keywords...):
 * sysflags is IMAP_FLAG_SEEN|ANSWERED|FLAGGED|DELETED|DRAFT; keywords are
 * atoms without '\'. Flag changes the server reports anyway go to on_event. */
enum imap_result imap_store_flags(struct imap_session *s, const struct imap_uidset *uids,
    bool add, unsigned sysflags, const char *const *keywords, size_t nkeywords);
/* UID EXPUNGE uids: only these messages go, never other \Deleted ones.
 * IMAP_EUNSUPPORTED without UIDPLUS. EXPUNGE/VANISHED go to on_event. */
enum imap_result imap_uid_expunge(struct imap_session *s, const struct imap_uidset *uids);
/* UID COPY uids mailbox ([TRYCREATE] when it does not exist). */
enum imap_result imap_uid_copy(struct imap_session *s, const struct imap_uidset *uids,
    const char *mailbox);
/* UID MOVE; without MOVE but with UIDPLUS: UID COPY, UID STORE +FLAGS.SILENT
 * \Deleted, UID EXPUNGE. Neither: IMAP_EUNSUPPORTED, nothing done. */
enum imap_result imap_uid_move(struct imap_session *s, const struct imap_uidset *uids,
    const char *mailbox);

#endif
