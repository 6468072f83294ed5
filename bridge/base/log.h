/* bridge/base/log.h — key=value log lines, to stderr or syslog.
 *
 * Every line is `level=L event=E key=value ...`: on stderr (or the fd set by
 * base_log_set_fd) prefixed by a UTC timestamp `2026-01-31T12:00:00.123Z`, on
 * syslog with the matching priority. A value is written bare when it is
 * made of [A-Za-z0-9] and -._:/@+,#$%[] only; otherwise it is quoted, with
 * \" \\ \n \r \t and \xHH for every other byte below 0x20 or above 0x7e —
 * so a hostile user name can neither start a new line nor fake a key. A
 * value longer than PB_LOG_VALUE_MAX bytes is cut (and ends in "...");
 * fields that do not fit the line are dropped and `truncated=1` ends it.
 * Keys are fixed by the code; a key named like a secret (password, pass,
 * secret) never has its value written.
 *
 * Thread-safe: a line is built on the caller's stack and written with one
 * write(2) under a mutex. Nothing is allocated.
 */
#ifndef BRIDGE_BASE_LOG_H
#define BRIDGE_BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


enum base_log_level { PB_LOG_ERROR, PB_LOG_WARN, PB_LOG_INFO, PB_LOG_DEBUG };

#define PB_LOG_LINE_MAX  1024  /* bytes per line, newline included */
#define PB_LOG_VALUE_MAX 200   /* raw bytes of one value before escaping */

/* Level and destination; the default is info on stderr. */
void base_log_setup(enum base_log_level level, bool use_syslog);
/* Where stderr-style lines go (tests use a pipe); -1 restores stderr. */
void base_log_set_fd(int fd);
bool base_log_enabled(enum base_log_level level);

/* A line under construction. */
struct base_logline {
	char buf[PB_LOG_LINE_MAX];
	size_t len;
	bool truncated;
	enum base_log_level level;
};

void base_logline_start(struct base_logline *l, enum base_log_level level, const char *event);
/* value NULL is written as '-' (unknown); the string "-" itself is quoted. */
void base_logline_str(struct base_logline *l, const char *key, const char *value);
void base_logline_u64(struct base_logline *l, const char *key, uint64_t value);
/* Write the line if its level is enabled. */
void base_logline_emit(const struct base_logline *l);

/* level=L event=E msg="printf-formatted text". */
void base_log(enum base_log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The one line per POP3 session end (SPEC §8, event=session). Keys, in order:
 *   user account device remote tls mech [upstream_tls] messages
 *   retr retr_bytes top top_bytes dele dele_bytes auth_failures
 *   bytes_in bytes_out duration_ms result [pending=1] [reason]
 * A NULL or empty string is written '-' (unknown, e.g. account before a
 * login); tls and upstream_tls say "none" instead. upstream_tls is written
 * only when upstream_opened; pending only when set; reason only when known.
 * Never a password: the struct has no field that could hold one. */
struct base_session_log {
	const char *user;          /* the login name as sent */
	const char *account;
	const char *device;
	const char *remote;        /* numeric client address */
	const char *tls;           /* e.g. "TLSv1.3" */
	const char *mech;          /* "USER", "PLAIN", "LOGIN" */
	bool upstream_opened;      /* the maildrop reached the upstream */
	const char *upstream_tls;
	uint64_t messages;
	uint64_t retr, retr_bytes, top, top_bytes, dele, dele_bytes;
	uint64_t auth_failures, bytes_in, bytes_out, duration_ms;
	const char *result;        /* e.g. "committed", "dropped", "auth-failed" */
	bool pending;              /* a commit was left for the next session */
	const char *reason;        /* the last failure, if any */
	bool health_check;         /* a balancer's health check (SPEC §14: a trusted
	                              proxy's LOCAL header, QUIT before any login): the
	                              line is written at debug, not info */
};
void base_log_session(const struct base_session_log *s);

/* Append `value` escaped as above to dst (NUL-terminated); returns the
 * length written, or 0 when it does not fit in dstlen. */
size_t base_log_escape(char *dst, size_t dstlen, const char *value);

#endif
