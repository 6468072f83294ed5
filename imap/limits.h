/* imap/limits.h — every limit the IMAP client enforces, with the reason for
 * its value. A response that exceeds a parser limit is a protocol error (the
 * connection is then unusable, because framing is lost); nothing is ever
 * allocated on the strength of a size the server announced before the limit
 * is checked.
 */
#ifndef IMAP_LIMITS_H
#define IMAP_LIMITS_H

#include <stdint.h>

/* One line of a response: the text between two literals, or up to CRLF.
 * The longest legitimate lines are an untagged SEARCH without ESEARCH (every
 * matching UID on one line: 300,000 UIDs of 7 digits plus a space is 2.4 MB)
 * and FETCH responses carrying many keywords. 4 MiB covers a 300,000-message
 * mailbox searched without ESEARCH; past that, ESEARCH or a narrower search
 * is needed. Memory for it is allocated only as bytes actually arrive. */
#define IMAP_LINE_MAX ((size_t)4 << 20)

/* A literal the parser keeps in memory (mailbox names, ID values, envelope
 * strings — everything except FETCH body sections, which are streamed).
 * None of these is legitimately more than a few KB; 64 KiB leaves ample
 * room while keeping a hostile {n} harmless. */
#define IMAP_LITERAL_MAX ((size_t)64 << 10)

/* Everything one response holds in memory: its lines, kept literals and the
 * parsed argument tree. Bounds the sum of the two limits above over a
 * response made of many lines and literals. */
#define IMAP_RESPONSE_MAX ((size_t)8 << 20)

/* Parsed arguments (atoms, strings, list nodes) in one response. A SEARCH of
 * 300,000 UIDs (see IMAP_LINE_MAX) is 300,000 arguments. Each costs 24
 * octets on the parse stack and 24 in the finished tree, plus its text, so
 * 400,000 bounds a hostile response's tree at about 25 MB. */
#define IMAP_ARGS_MAX 400000

/* Parenthesised-list nesting. The responses popbridge asks for nest at most
 * 3 deep (FETCH (FLAGS (...)), LIST attributes, ID); BODYSTRUCTURE of a
 * deeply nested MIME message can reach a few dozen. 64 is generous and keeps
 * a hostile "((((((" cheap to reject. */
#define IMAP_DEPTH_MAX 64

/* A FETCH body section (BODY[], BODY[HEADER], BODY[TEXT], BODY[...]<o.n>)
 * is streamed to the caller, never kept, so its size only has to be
 * plausible: RFC822.SIZE is a 32-bit number in IMAP4rev1, and no server
 * stores a message of 4 GiB or more. A literal announcing more is bogus. */
#define IMAP_STREAM_MAX ((uint64_t)UINT32_MAX)

/* An APPEND literal is at most this long: the same 4 GiB, the largest an
 * IMAP4rev1 literal length may be. */
#define IMAP_APPEND_MAX IMAP_STREAM_MAX

/* Server text kept for logs (the human-readable part of a status response,
 * after sanitising to printable ASCII). Long enough for any real message,
 * short enough for one log line. */
#define IMAP_TEXT_MAX 200

/* A tag we send: "A" and up to 8 digits; a tagged response whose tag is
 * longer than this is not ours and is a protocol error. */
#define IMAP_TAG_MAX 16

/* A command we send, including any literals in it (LOGIN with a literal
 * password, LIST, CREATE). RFC 7162 §4 asks clients to keep command lines
 * under 8192 octets; sets of UIDs longer than IMAP_CMD_SET_MAX are split
 * over several commands, so nothing legitimate comes near 16 KiB. */
#define IMAP_CMD_MAX 16384
#define IMAP_CMD_SET_MAX 7000
/* Synchronising literals (or SASL continuations) in one command. LOGIN has
 * two; nothing popbridge sends has more. */
#define IMAP_CMD_SYNC_MAX 4
/* An OAuth2 access token (AUTHENTICATE OAUTHBEARER / XOAUTH2): Google's are
 * a few hundred octets, Microsoft's JWTs a few KiB; with the user name and
 * the framing its base64 form stays inside IMAP_CMD_MAX. */
#define IMAP_BEARER_MAX 8192
/* Our answer to a SASL challenge after the initial response: OAUTHBEARER's
 * "AQ==" (a ^A) or XOAUTH2's empty line (RFC 7628 §3.2.3). */
#define IMAP_CHALLENGE_REPLY_MAX 16
/* A string argument longer than this, or with 8-bit octets, is sent as a
 * literal rather than a quoted string. */
#define IMAP_QUOTED_MAX 1024
/* LITERAL- (RFC 7888) allows non-synchronising literals up to 4096 octets. */
#define IMAP_LITERAL_MINUS_MAX 4096

/* The read buffer of a connection, and so the largest chunk handed to a
 * body sink. Memory for a streamed message is this buffer, not the message. */
#define IMAP_READ_BUF ((size_t)64 << 10)

/* Header fields fetched per message for matching (imap_fetch_headers): the
 * caller receives at most this many octets; the rest of the literal is
 * drained and the message flagged header_truncated. Matching headers
 * (Message-ID, Date, From, Subject) fit in far less; a hostile message with
 * a 10 MB Subject must not cost 10 MB per message. */
#define IMAP_HEADER_FIELDS_MAX ((size_t)16 << 10)

/* UID ranges held by one struct imap_uidset (8 octets each). A mailbox of a
 * million messages with every other one matching needs 500,000 ranges;
 * more than 4,000,000 (32 MB) is treated as hostile. */
#define IMAP_UIDSET_RANGES_MAX 4000000

/* UID FETCH commands imap_fetch_tails keeps in flight at once (and at most
 * 8 KiB of them, fetch_tails.c). Each command is under 80 octets for one
 * message, about 1 KB for a group, so a full window is a few KB: far below
 * any socket buffer, so a write never blocks on a server that is itself
 * blocked writing answers we have not read yet (no deadlock), while one
 * round trip now serves 64 commands instead of one. The window is refilled
 * in one write once half of it has been answered. */
#define IMAP_PIPELINE_MAX 64

/* Commands a session keeps sent ahead of their answers (imap_fetch_ahead,
 * imap_store_ahead; SPEC §9: at most 64 in flight). The same reasoning as
 * IMAP_PIPELINE_MAX: the commands are a few KB, their answers wait in the
 * socket buffers (the caller bounds their octets). */
#define IMAP_AHEAD_MAX 64

/* The most octets imap_fetch_tails fetches from the end of one message. */
#define IMAP_TAIL_MAX 16
/* The widest size spread imap_fetch_tails_grouped puts in one command:
 * each member costs up to spread + tail octets of transfer, so this bounds
 * the extra data at 4 KiB a message. */
#define IMAP_TAIL_SPREAD_MAX 4096

/* Default timeout in seconds (T below) when the caller gives 0 (SPEC §5:
 * --upstream-timeout defaults to 30 s). It bounds name resolution and
 * connecting together, the TLS handshake, and each read or write (no octet
 * for T ends the call). */
#define IMAP_DEFAULT_TIMEOUT_S 30

/* ---- whole-command deadline (SPEC §5: never a hang) ----------------------
 * Per-read inactivity alone lets a server that trickles one octet every
 * T/2 keep a call alive for ever. So each command (and each pipelined
 * exchange of imap_fetch_tails, and the greeting) also runs on a progress
 * budget, a token bucket of time:
 *  - it starts with T of reserve;
 *  - every IMAP_PROGRESS_OCTETS octets received earn another T, but the
 *    reserve never exceeds IMAP_PROGRESS_RESERVE × T;
 *  - the reserve drains with the time the command takes, not counting time
 *    spent in the caller's callbacks and body sink; at zero the call ends
 *    with IMAP_ECONN, cause IMAP_CAUSE_TIMEOUT.
 * So a command must receive at least IMAP_PROGRESS_OCTETS per T on average
 * over any stretch of IMAP_PROGRESS_RESERVE × T. Why a rate and not a fixed
 * multiple of T: the listing of a 50,000-message mailbox is some 4-5 MB and
 * on a slow link legitimately takes many times T, while a trickle of one
 * octet every T/4 delivers 4 octets per T and nothing meaningful. With
 * T = 30 s the floor is 4096 octets per 30 s (about 1 kbit/s): two orders of
 * magnitude below any link IMAP is run over, yet a thousand times any
 * trickle. A trickle ends within about T; a server that sends quickly and
 * then trickles ends within IMAP_PROGRESS_RESERVE × T of slowing down. */
#define IMAP_PROGRESS_OCTETS 4096
#define IMAP_PROGRESS_RESERVE 2

/* Even a server that keeps up the rate above cannot hold a command for
 * ever: a command that is not streaming a message body ends (cause
 * TIMEOUT) once it has taken IMAP_COMMAND_TIMEOUTS × T (10 minutes with
 * the default T; same clock as above). The largest answers popbridge asks
 * for are listings: 50,000 messages are 4-5 MB, which 20 × 30 s carries
 * over any link faster than about 64 kbit/s; a POP3 client waiting at PASS
 * has given up long before. Chunked commands (sets split over several
 * commands) get this per command. The body section of imap_fetch_body is
 * exempt while it streams: its pace is the sink's (the POP3 client's), its
 * size is bounded (IMAP_STREAM_MAX), and the sink sees every octet, so a
 * client that goes away ends it; there only the inactivity and the rate
 * rule apply. */
#define IMAP_COMMAND_TIMEOUTS 20

/* Host-name lookups that timed out but whose resolver thread is still
 * running (getaddrinfo cannot be interrupted; the thread finishes on its
 * own and frees what it holds). Each holds a thread, so past this many new
 * lookups fail at once (cause TIMEOUT) until some finish, rather than
 * piling up threads behind a broken DNS. Lookups that are merely in
 * progress are not counted: they are bounded by the sessions waiting on
 * them. */
#define IMAP_RESOLVE_STUCK_MAX 64

#endif
