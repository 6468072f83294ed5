/* bridge/errbuf.h — an error message into a caller's buffer.
 *
 * Contract: pb_errf() formats the message into err (cut to errlen octets,
 * always terminated) and returns -1, so a failing function can end with
 * `return pb_errf(err, errlen, ...)`. err may be NULL or errlen 0: nothing
 * is written then.
 */
#ifndef BRIDGE_ERRBUF_H
#define BRIDGE_ERRBUF_H

#include <stddef.h>

int pb_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
