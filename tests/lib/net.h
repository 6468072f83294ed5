/* tests/lib/net.h — small blocking socket helpers for tests (loopback only).
 *
 * Every read has a timeout; a helper that fails returns -1 (or NULL) and says
 * why on stderr, so a test can assert on it.
 */
#ifndef PBT_NET_H
#define PBT_NET_H

#include <stddef.h>
#include <sys/types.h>

/* Connect to 127.0.0.1:port (or "::1" when host is given); fd or -1. */
int pbt_connect(const char *host, int port);
/* A free TCP port on 127.0.0.1 (bound then released). */
int pbt_free_port(void);
/* Send all bytes / a C string. */
int pbt_send(int fd, const void *buf, size_t len);
int pbt_sendstr(int fd, const char *s);
/* Read one line (through LF, kept) into buf, NUL-terminated; length or -1 on
 * timeout, EOF or overflow. */
ssize_t pbt_readline(int fd, char *buf, size_t len, int timeout_ms);
/* Read until the buffer ends with `end` (e.g. "\r\n.\r\n"); bytes read into a
 * malloc'd buffer the caller frees, NUL-terminated, or NULL. */
char *pbt_read_until(int fd, const char *end, size_t max, int timeout_ms, size_t *outlen);
/* Read everything until EOF (bounded by max); malloc'd, caller frees. */
char *pbt_read_all(int fd, size_t max, int timeout_ms, size_t *outlen);

#endif
