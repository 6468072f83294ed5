/* pop3/tls.c — the reference-counted TLS server context (pop3/server.h). */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pop3/tls_internal.h"

struct pop3_tls {
	atomic_uint refs;
	SSL_CTX *ctx;
};

int pop3_tls_version_parse(const char *s, enum pop3_tls_version *out)
{
	static const struct { const char *name; enum pop3_tls_version v; } names[] = {
		{ "1.0", POP3_TLS_1_0 }, { "1.1", POP3_TLS_1_1 },
		{ "1.2", POP3_TLS_1_2 }, { "1.3", POP3_TLS_1_3 },
	};

	if (s == NULL)
		return -1;
	if (strncasecmp(s, "TLSv", 4) == 0)
		s += 4;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].v;
			return 0;
		}
	}
	return -1;
}

static int ssl_version(enum pop3_tls_version v)
{
	switch (v) {
	case POP3_TLS_1_0: return TLS1_VERSION;
	case POP3_TLS_1_1: return TLS1_1_VERSION;
	case POP3_TLS_1_2: return TLS1_2_VERSION;
	case POP3_TLS_1_3: return TLS1_3_VERSION;
	}
	return 0;
}

/* "what: file: the OpenSSL reason" into err. */
static void tls_error(char *err, size_t errlen, const char *what, const char *file)
{
	char ossl[160] = "";
	unsigned long e = ERR_peek_last_error();

	if (e != 0)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s%s%s%s%s", what, file ? ": " : "",
		    file ? file : "", ossl[0] ? ": " : "", ossl);
}

struct pop3_tls *pop3_tls_new(const char *cert_file, const char *key_file,
    enum pop3_tls_version min_version, char *err, size_t errlen)
{
	int minv = ssl_version(min_version);

	ERR_clear_error();
	if (minv == 0) {
		tls_error(err, errlen, "unknown minimum TLS version", NULL);
		return NULL;
	}
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		tls_error(err, errlen, "cannot create TLS context", NULL);
		return NULL;
	}
	if (min_version < POP3_TLS_1_2) {
		/* Old devices: SHA-1 signatures and legacy ciphers need
		 * security level 0 in OpenSSL 3. The administrator asked. */
		SSL_CTX_set_security_level(ctx, 0);
		SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0");
	}
	const char *fail = NULL, *file = NULL;
	if (SSL_CTX_set_min_proto_version(ctx, minv) != 1)
		fail = "cannot set minimum TLS version";
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		fail = "cannot load certificate chain", file = cert_file;
	else if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		fail = "cannot load private key", file = key_file;
	else if (SSL_CTX_check_private_key(ctx) != 1)
		fail = "private key does not match certificate", file = key_file;
	if (fail != NULL) {
		tls_error(err, errlen, fail, file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);

	struct pop3_tls *t = malloc(sizeof(*t));
	if (t == NULL) {
		tls_error(err, errlen, "out of memory", NULL);
		SSL_CTX_free(ctx);
		return NULL;
	}
	atomic_init(&t->refs, 1);
	t->ctx = ctx;
	return t;
}

struct pop3_tls *pop3_tls_ref(struct pop3_tls *t)
{
	if (t != NULL)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void pop3_tls_unref(struct pop3_tls *t)
{
	if (t == NULL)
		return;
	if (atomic_fetch_sub(&t->refs, 1) == 1) {
		SSL_CTX_free(t->ctx);
		free(t);
	}
}

SSL_CTX *pop3_tls_ssl_ctx(const struct pop3_tls *t)
{
	return t->ctx;
}
