/* bridge/base/errbuf.h — an error message into a caller's buffer.
 *
 * Contract: base_errf() formats the message into err (cut to errlen octets,
 * always terminated) and returns -1, so a failing function can end with
 * `return base_errf(err, errlen, ...)`. err may be NULL or errlen 0: nothing
 * is written then.
 */
#ifndef BRIDGE_BASE_ERRBUF_H
#define BRIDGE_BASE_ERRBUF_H

#include <stddef.h>

int base_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
