/* smtp/limits.h — every limit the SMTP submission engine enforces, with its
 * reason. This is their only definition; nothing else in smtp/ hard-codes a
 * bound.
 */
#ifndef SMTP_LIMITS_H
#define SMTP_LIMITS_H

/* RFC 5321 §4.5.3.1.4: a command line is at most 512 octets, CRLF
 * included. Longer ones are answered 500 (the session goes on). */
#define SMTP_CMD_LINE_MAX 512

/* Input goes through pop3/'s line reader (pop3/linereader.h) with a
 * buffer of SMTP_AUTH_LINE_MAX octets. RFC 4954 §4: an AUTH command and the
 * client's SASL responses may be up to 12288 octets (CRLF included), so
 * until the client has logged in lines up to that are read (any other
 * command longer than SMTP_CMD_LINE_MAX is still answered 500); once it has
 * (AUTH is over for the session) the reader's limit falls to
 * SMTP_CMD_LINE_MAX. Longer lines are discarded as they arrive and answered
 * 500; a line past POP3_LINE_HARD_MAX (64 KiB) without a line end ends the
 * session (421). */
#define SMTP_AUTH_LINE_MAX 12288

/* RFC 5321 §4.5.3.2.7: a server should wait at least 5 minutes for the
 * next command; also the bound on each wait during DATA and on a client
 * that does not read. */
#define SMTP_IDLE_TIMEOUT_DEFAULT_S 300

/* SPEC §13 --login-timeout: the connection must have authenticated by then
 * (SMTP 421). */
#define SMTP_LOGIN_TIMEOUT_DEFAULT_S 60

/* SPEC §13 --max-auth-failures. */
#define SMTP_MAX_AUTH_FAILURES_DEFAULT 3

/* Time for a TLS handshake (STARTTLS or implicit). */
#define SMTP_TLS_HANDSHAKE_TIMEOUT_S 60

/* Bad commands in a row (before login: in all) before the connection is
 * closed with 421: enough for a confused client, too few for a scan. */
#define SMTP_MAX_BAD_COMMANDS 20

/* RFC 5321 §4.5.3.1.8: a server must accept at least 100 recipients per
 * transaction; more get 452 4.5.3 (the client sends them in another
 * transaction). */
#define SMTP_RCPT_MAX 100

/* RFC 5321 §4.5.3.1.3: a path is at most 256 octets including the angle
 * brackets. */
#define SMTP_PATH_MAX 256

/* MAIL parameters kept and passed upstream (SIZE=, BODY=, SMTPUTF8), as
 * re-written by the engine. */
#define SMTP_PARAMS_MAX 128

/* The message size announced (SIZE) and enforced when the upstream
 * announces no limit (or SIZE 0): 100 MiB. Data past the limit is read and
 * dropped, and the message refused with 552 (RFC 1870 §6.3). */
#define SMTP_SIZE_DEFAULT (100ull * 1024 * 1024)

/* Longest user name and password passed to the relay (after SASL
 * decoding), as for POP3. */
#define SMTP_USER_MAX 255
#define SMTP_PASS_MAX 1024

/* The EHLO/HELO argument kept (a domain or address literal: 255 octets). */
#define SMTP_HELO_MAX 255

/* A reply relayed from the upstream: at most this many octets of text
 * (lines joined by LF, each line cut to SMTP_REPLY_LINE_MAX) and
 * SMTP_REPLY_LINES_MAX lines; the rest is dropped. RFC 5321 §4.5.3.1.5: a
 * reply line is at most 512 octets with its code and CRLF. */
#define SMTP_REPLY_TEXT_MAX 2048
#define SMTP_REPLY_LINES_MAX 16
#define SMTP_REPLY_LINE_MAX 506

/* An upstream reply (smtp/client.h) of more lines than this is a protocol
 * error: no server needs them, and it bounds the work of one reply. */
#define SMTP_REPLY_LINES_HARD_MAX 1000

/* The unstuffer hands message data to the relay in chunks of at most this
 * many octets. */
#define SMTP_DATA_CHUNK 16384

#endif
