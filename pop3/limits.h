/* pop3/limits.h — every limit the POP3 engine enforces, with its reason.
 * This is their only definition; nothing else in pop3/ hard-codes a bound.
 */
#ifndef POP3_LIMITS_H
#define POP3_LIMITS_H

/* RFC 2449 §4: command lines are at most 255 octets including CRLF. Longer
 * command lines are answered -ERR (and the session goes on). */
#define POP3_CMD_LINE_MAX 255

/* AUTH with an initial response, and SASL continuation lines (RFC 5034),
 * may carry base64 of user + password: RFC 5034 §4 lets a server accept
 * longer lines, and real clients send them. 2048 octets (line end included)
 * hold a 1 KiB identity plus password comfortably. Also the size of the
 * line reader's buffer: a line without LF in its first 2048 octets is too
 * long. */
#define POP3_SASL_LINE_MAX 2048

/* A line longer than this (discarded as it streams past) ends the session:
 * no honest client sends 64 KiB without a line end, and reading forever
 * would let a client pin a thread. */
#define POP3_LINE_HARD_MAX (64 * 1024)

/* RFC 1939 §3 asks for at least 10 minutes of idle time before a server
 * drops a client; also the bound on waiting for a client to read. */
#define POP3_IDLE_TIMEOUT_DEFAULT_S 600

/* SPEC §13 --login-timeout: a connection that has not logged in this many
 * seconds after it was accepted is answered -ERR and closed, whatever it
 * does meanwhile, so pre-login connections cannot hold session slots. Also
 * bounds every wait before login (reads, writes, TLS handshakes). */
#define POP3_LOGIN_TIMEOUT_DEFAULT_S 60

/* SPEC §13 --max-auth-failures: failed logins on one connection before it
 * is closed (the last failure is answered first). */
#define POP3_MAX_AUTH_FAILURES_DEFAULT 3

/* Time for a TLS handshake (STLS or implicit) to complete. Old devices are
 * slow, but a minute is more than any of them needs. */
#define POP3_TLS_HANDSHAKE_TIMEOUT_S 60

/* Bad commands in a row (unknown, wrong state, bad syntax or arguments,
 * failed login, overlong line) before the session is closed: enough for a
 * confused client to recover, too few for a scan to get far. Before login
 * they are counted in all, not in a row: no command resets the count. */
#define POP3_MAX_BAD_COMMANDS 20

/* Longest user name passed to the maildrop (after SASL decoding): mail
 * addresses are at most 254 octets (RFC 5321 path limit). */
#define POP3_USER_MAX 255

/* Longest password passed to the maildrop: tokens and generated device
 * passwords fit easily; bounded so a SASL line cannot carry more. */
#define POP3_PASS_MAX 1024

/* Digits in a message number or TOP line count: 20 digits hold every
 * uint64_t; more are rejected rather than parsed. */
#define POP3_NUMBER_DIGITS_MAX 20

/* Output buffer: replies accumulate here and go out in one write when it is
 * full, before the engine waits for input, and after each RETR. */
#define POP3_OUT_BUF 16384

/* Pipelined RETR/TOP commands the engine reports to the maildrop's hint()
 * before a fetch (SPEC §9 keeps at most 64 upstream commands in flight; one
 * is the fetch itself). Only lines already buffered are looked at. */
#define POP3_HINT_MAX 63

#endif
