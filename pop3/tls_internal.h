/* pop3/tls_internal.h — what the socket transport needs from a pop3_tls
 * context (pop3/tls.c). Not for use outside pop3/. */
#ifndef POP3_TLS_INTERNAL_H
#define POP3_TLS_INTERNAL_H

#include <openssl/ssl.h>

#include "pop3/server.h"

/* The OpenSSL context, valid while the caller holds a reference. */
SSL_CTX *pop3_tls_ssl_ctx(const struct pop3_tls *t);

#endif
