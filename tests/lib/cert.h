/* tests/lib/cert.h — test certificates, generated at test time with the
 * openssl command: a self-signed server certificate and key for
 * CN=localhost with subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1.
 */
#ifndef PBT_CERT_H
#define PBT_CERT_H

#include <stddef.h>

/* Write DIR/NAME.crt and DIR/NAME.key; their paths into cert/key. 0 or -1. */
int pbt_make_cert(const char *dir, const char *name, char *cert, size_t certlen,
    char *key, size_t keylen);
/* Make a fresh temporary directory (mode 0700) under $TMPDIR or /tmp; path
 * into buf. pbt_rmtree removes a tree. 0 or -1. */
int pbt_mkdtemp(const char *prefix, char *buf, size_t len);
int pbt_rmtree(const char *path);

#endif
