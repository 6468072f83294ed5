/* tests/pop3/check_tls.c — the engine on real loopback sockets through
 * pop3_session_run(): STLS and implicit TLS with an OpenSSL client and with
 * Python's poplib, the STLS injection case, the minimum TLS version, the
 * reference-counted context, idle timeout, and a deep pipeline of big
 * responses (no deadlock).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "pop3/server.h"
#include "tests/lib/cert.h"
#include "tests/lib/net.h"
#include "tests/pop3/fake_maildrop.c"

static char tmpdir[256];
static char cert_a[512], key_a[512], cert_b[512], key_b[512];

static void certs_setup(void)
{
	ck_assert_int_eq(pbt_mkdtemp("pop3tls", tmpdir, sizeof(tmpdir)), 0);
	ck_assert_int_eq(pbt_make_cert(tmpdir, "a", cert_a, sizeof(cert_a), key_a, sizeof(key_a)), 0);
	ck_assert_int_eq(pbt_make_cert(tmpdir, "b", cert_b, sizeof(cert_b), key_b, sizeof(key_b)), 0);
}

static void certs_teardown(void)
{
	pbt_rmtree(tmpdir);
}

static struct pop3_tls *make_tls(enum pop3_tls_version v)
{
	char err[256];
	struct pop3_tls *t = pop3_tls_new(cert_a, key_a, v, err, sizeof(err));
	if (t == NULL)
		ck_abort_msg("pop3_tls_new: %s", err);
	return t;
}

/* ---- a one-connection server in a thread ---------------------------------- */

struct server {
	int lfd, port;
	pthread_t th;
	struct pop3_session_config cfg;
	struct fake_maildrop f;
	struct pop3_session_stats st;
	struct pop3_tls *tls; /* the session's reference, dropped after */
};

static void *server_main(void *arg)
{
	struct server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	s->cfg.tls = s->tls;
	pop3_session_run(fd, &s->cfg, &fake_ops, &s->f, &s->st);
	pop3_tls_unref(s->tls);
	return NULL;
}

static void server_start(struct server *s, struct pop3_tls *tls)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s->lfd, 0);
	ck_assert_int_eq(bind(s->lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(s->lfd, 4), 0);
	ck_assert_int_eq(getsockname(s->lfd, (struct sockaddr *)&sin, &len), 0);
	s->port = ntohs(sin.sin_port);
	s->tls = pop3_tls_ref(tls);
	ck_assert_int_eq(pthread_create(&s->th, NULL, server_main, s), 0);
}

static void server_wait(struct server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
}

static void server_init(struct server *s)
{
	memset(s, 0, sizeof(*s));
	fake_init(&s->f, "alice", "secret");
	fake_adds(&s->f, "Subject: one\r\n\r\nHello\r\n");
	fake_adds(&s->f, "Subject: two\n\n.dot\n");
	s->cfg.remote_addr = "127.0.0.1";
	s->cfg.expire = "NEVER";
	s->cfg.implementation = "popbridge-test";
}

/* ---- an OpenSSL client ------------------------------------------------------ */

static int client_connect(int port)
{
	int fd = pbt_connect("127.0.0.1", port);
	ck_assert_int_ge(fd, 0);
	struct timeval tv = { .tv_sec = 20 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Handshake as a client, verifying the server against cert_a; max_version 0
 * for the library default. NULL when the handshake fails. */
static SSL *client_tls(int fd, int max_version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(c);
	if (max_version != 0) {
		SSL_CTX_set_security_level(c, 0);
		SSL_CTX_set_cipher_list(c, "DEFAULT:@SECLEVEL=0");
		SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
		SSL_CTX_set_max_proto_version(c, max_version);
	}
	ck_assert_int_eq(SSL_CTX_load_verify_locations(c, cert_a, NULL), 1);
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	SSL *ssl = SSL_new(c);
	SSL_CTX_free(c);
	ck_assert_ptr_nonnull(ssl);
	SSL_set_fd(ssl, fd);
	SSL_set1_host(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		ERR_clear_error();
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

static void ssl_send(SSL *ssl, const char *s)
{
	ck_assert_int_eq(SSL_write(ssl, s, (int)strlen(s)), (int)strlen(s));
}

/* One line (through LF) into buf; its length, or -1 at EOF/error. */
static int ssl_line(SSL *ssl, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		if (SSL_read(ssl, buf + n, 1) != 1) {
			ERR_clear_error();
			return -1;
		}
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

/* Lines of a multi-line reply, concatenated, through ".\r\n". */
static void ssl_multiline(SSL *ssl, char *buf, size_t cap)
{
	size_t n = 0;
	for (;;) {
		int k = ssl_line(ssl, buf + n, cap - n);
		ck_assert_int_gt(k, 0);
		if (strcmp(buf + n, ".\r\n") == 0)
			break;
		n += (size_t)k;
	}
	buf[n] = '\0';
}

static void plain_expect(int fd, const char *want)
{
	char line[512];
	ck_assert_int_gt(pbt_readline(fd, line, sizeof(line), 20000), 0);
	ck_assert_str_eq(line, want);
}

static void ssl_expect(SSL *ssl, const char *want)
{
	char line[512];
	ck_assert_int_gt(ssl_line(ssl, line, sizeof(line)), 0);
	ck_assert_str_eq(line, want);
}

static void ssl_close(SSL *ssl, int fd)
{
	SSL_free(ssl);
	close(fd);
}

/* One session with a fresh context of minimum version v, which the session
 * holds the only reference to; STLS offered unless implicit. Returns the
 * client's connected fd. */
static int serve_tls(struct server *s, enum pop3_tls_version v, bool implicit,
    bool plaintext)
{
	struct pop3_tls *tls = make_tls(v);

	server_init(s);
	s->cfg.implicit_tls = implicit;
	s->cfg.offer_stls = !implicit;
	s->cfg.plaintext_auth_allowed = plaintext;
	server_start(s, tls);
	pop3_tls_unref(tls);
	return client_connect(s->port);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(stls_session)
{
	struct server s;
	char buf[4096];
	int fd = serve_tls(&s, POP3_TLS_1_2, false, false);

	plain_expect(fd, "+OK popbridge ready.\r\n");
	pbt_sendstr(fd, "CAPA\r\n");
	char *capa = pbt_read_until(fd, "\r\n.\r\n", 4096, 20000, NULL);
	ck_assert_ptr_nonnull(capa);
	ck_assert_ptr_nonnull(strstr(capa, "\r\nSTLS\r\n"));
	ck_assert_ptr_null(strstr(capa, "\r\nUSER\r\n"));
	free(capa);
	pbt_sendstr(fd, "USER alice\r\n");
	plain_expect(fd, "-ERR [AUTH] Plaintext authentication disallowed on non-secure connection.\r\n");
	pbt_sendstr(fd, "STLS\r\n");
	plain_expect(fd, "+OK Begin TLS negotiation.\r\n");
	SSL *ssl = client_tls(fd, 0);
	ck_assert_ptr_nonnull(ssl);
	ssl_send(ssl, "CAPA\r\n");
	ssl_expect(ssl, "+OK Capability list follows\r\n");
	ssl_multiline(ssl, buf, sizeof(buf));
	ck_assert_ptr_null(strstr(buf, "STLS"));
	ck_assert_ptr_nonnull(strstr(buf, "USER\r\n"));
	ck_assert_ptr_nonnull(strstr(buf, "SASL PLAIN LOGIN\r\n"));
	ssl_send(ssl, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nRETR 2\r\nDELE 1\r\nQUIT\r\n");
	ssl_expect(ssl, "+OK Logged in.\r\n");
	ssl_expect(ssl, "+OK 22 octets\r\n");
	ssl_multiline(ssl, buf, sizeof(buf));
	ck_assert_str_eq(buf, "Subject: two\r\n\r\n..dot\r\n");
	ssl_expect(ssl, "+OK Marked to be deleted.\r\n");
	ssl_expect(ssl, "+OK Logging out.\r\n");
	ck_assert_int_lt(ssl_line(ssl, buf, sizeof(buf)), 0); /* closed */
	ssl_close(ssl, fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_str_eq(s.st.tls_version, "TLSv1.3");
	ck_assert_str_eq(s.f.last_tls, "TLSv1.3");
	ck_assert_str_eq(s.st.mechanism, "PLAIN");
	ck_assert_uint_eq(s.f.ncommitted, 1);
	ck_assert_int_eq(s.f.closes, 1);
}
END_TEST

/* RFC 2595, CVE-2011-0411: a command sent in the clear in the same packet
 * as STLS is never executed. */
START_TEST(stls_injection)
{
	struct server s;
	int fd = serve_tls(&s, POP3_TLS_1_2, false, true);

	plain_expect(fd, "+OK popbridge ready.\r\n");
	ck_assert_int_eq(pbt_sendstr(fd, "STLS\r\nNOOP\r\nUSER mallory\r\n"), 0);
	plain_expect(fd, "+OK Begin TLS negotiation.\r\n");
	SSL *ssl = client_tls(fd, 0);
	ck_assert_ptr_nonnull(ssl);
	/* the first thing said under TLS answers our CAPA, not the NOOP */
	ssl_send(ssl, "CAPA\r\n");
	ssl_expect(ssl, "+OK Capability list follows\r\n");
	char buf[4096];
	ssl_multiline(ssl, buf, sizeof(buf));
	ssl_send(ssl, "PASS secret\r\nQUIT\r\n");
	ssl_expect(ssl, "-ERR Send USER first.\r\n"); /* USER mallory was dropped */
	ssl_expect(ssl, "+OK Bye.\r\n");
	ssl_close(ssl, fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_QUIT);
	ck_assert_int_eq(s.f.opens, 0);
}
END_TEST

/* A client that sends STLS and then never starts its handshake: the login
 * deadline ends it, and the session's log reason says why, as for implicit
 * TLS (the transport has no error text for a timeout). */
START_TEST(stls_handshake_never_starts)
{
	struct server s;
	struct pop3_tls *tls = make_tls(POP3_TLS_1_2);
	char buf[64];

	server_init(&s);
	s.cfg.offer_stls = true;
	s.cfg.login_timeout_s = 1;
	server_start(&s, tls);
	pop3_tls_unref(tls);
	int fd = client_connect(s.port);
	plain_expect(fd, "+OK popbridge ready.\r\n");
	ck_assert_int_eq(pbt_sendstr(fd, "STLS\r\n"), 0);
	plain_expect(fd, "+OK Begin TLS negotiation.\r\n");
	ck_assert_int_lt(pbt_readline(fd, buf, sizeof(buf), 10000), 0);
	server_wait(&s);
	close(fd);
	ck_assert_int_eq(s.st.result, POP3_RESULT_TLS_FAILED);
	ck_assert_str_eq(s.st.reason, "TLS handshake failed");
}
END_TEST

START_TEST(implicit_tls_session)
{
	struct server s;
	int fd = serve_tls(&s, POP3_TLS_1_2, true, false);

	SSL *ssl = client_tls(fd, TLS1_2_VERSION);
	ck_assert_ptr_nonnull(ssl);
	ssl_expect(ssl, "+OK popbridge ready.\r\n");
	ssl_send(ssl, "USER alice\r\nPASS secret\r\nSTAT\r\nQUIT\r\n");
	ssl_expect(ssl, "+OK Send the password.\r\n");
	ssl_expect(ssl, "+OK Logged in.\r\n");
	ssl_expect(ssl, "+OK 2 45\r\n");
	ssl_expect(ssl, "+OK Logging out.\r\n");
	ssl_close(ssl, fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_str_eq(s.st.tls_version, "TLSv1.2");
}
END_TEST

/* A plaintext client on the implicit-TLS port: the handshake fails, the
 * session ends without a greeting. */
START_TEST(implicit_tls_plain_client)
{
	struct server s;
	int fd = serve_tls(&s, POP3_TLS_1_2, true, false);

	pbt_sendstr(fd, "USER alice\r\n");
	size_t n = 99;
	char *rest = pbt_read_all(fd, 65536, 20000, &n);
	if (rest != NULL)
		ck_assert_ptr_null(strstr(rest, "+OK"));
	free(rest);
	close(fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_TLS_FAILED);
	ck_assert_str_ne(s.st.reason, "");
}
END_TEST

/* The minimum version is honoured: a TLS 1.1 client is refused at the
 * default 1.2 and accepted when the administrator lowers it to 1.0. */
START_TEST(min_version)
{
	struct server s;
	int fd = serve_tls(&s, POP3_TLS_1_2, true, false);
	SSL *ssl = client_tls(fd, TLS1_1_VERSION);
	ck_assert_ptr_null(ssl);
	close(fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_TLS_FAILED);

	fd = serve_tls(&s, POP3_TLS_1_0, true, false);
	ssl = client_tls(fd, TLS1_1_VERSION);
	ck_assert_msg(ssl != NULL, "a TLS 1.1 client cannot connect at minimum 1.0");
	ssl_expect(ssl, "+OK popbridge ready.\r\n");
	ssl_send(ssl, "QUIT\r\n");
	ssl_expect(ssl, "+OK Bye.\r\n");
	ssl_close(ssl, fd);
	server_wait(&s);
	ck_assert_str_eq(s.st.tls_version, "TLSv1.1");

	/* 1.3 only: a 1.2 client is refused */
	fd = serve_tls(&s, POP3_TLS_1_3, true, false);
	ck_assert_ptr_null(client_tls(fd, TLS1_2_VERSION));
	close(fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_TLS_FAILED);
}
END_TEST

START_TEST(tls_context_errors)
{
	char err[256];
	enum pop3_tls_version v;

	ck_assert_ptr_null(pop3_tls_new("/nonexistent/x.crt", key_a, POP3_TLS_1_2, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot load certificate chain: /nonexistent/x.crt"));
	ck_assert_ptr_null(pop3_tls_new(cert_a, "/nonexistent/x.key", POP3_TLS_1_2, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "cannot load private key: /nonexistent/x.key"));
	ck_assert_ptr_null(pop3_tls_new(cert_a, key_b, POP3_TLS_1_2, err, sizeof(err)));
	if (strstr(err, key_b) == NULL || strstr(err, "mismatch") == NULL)
		ck_abort_msg("mismatched key: %s", err);
	ck_assert_ptr_null(pop3_tls_new(cert_a, key_a, (enum pop3_tls_version)9, err, sizeof(err)));
	ck_assert_ptr_null(pop3_tls_new(key_a, cert_a, POP3_TLS_1_2, err, sizeof(err)));

	ck_assert_int_eq(pop3_tls_version_parse("1.0", &v), 0);
	ck_assert_int_eq(v, POP3_TLS_1_0);
	ck_assert_int_eq(pop3_tls_version_parse("TLSv1.3", &v), 0);
	ck_assert_int_eq(v, POP3_TLS_1_3);
	ck_assert_int_eq(pop3_tls_version_parse("1.2", &v), 0);
	ck_assert_int_eq(v, POP3_TLS_1_2);
	ck_assert_int_eq(pop3_tls_version_parse("1.4", &v), -1);
	ck_assert_int_eq(pop3_tls_version_parse("", &v), -1);
	ck_assert_int_eq(pop3_tls_version_parse(NULL, &v), -1);
	ck_assert_int_eq(pop3_tls_version_parse("1.2 ", &v), -1);

	/* references: the last unref frees (checked by LeakSanitizer) */
	struct pop3_tls *t = make_tls(POP3_TLS_1_2);
	ck_assert_ptr_eq(pop3_tls_ref(t), t);
	pop3_tls_unref(t);
	pop3_tls_unref(t);
	ck_assert_ptr_null(pop3_tls_ref(NULL));
	pop3_tls_unref(NULL);
}
END_TEST

/* A reload while a session runs: the old context is released by its
 * owner, the session keeps its reference and goes on; a new session gets
 * the new certificate. */
START_TEST(reload_while_running)
{
	struct server s;
	char err[256];
	struct pop3_tls *old = make_tls(POP3_TLS_1_2);

	server_init(&s);
	s.cfg.offer_stls = true;
	server_start(&s, old);
	int fd = client_connect(s.port);
	plain_expect(fd, "+OK popbridge ready.\r\n");
	/* "SIGHUP": a new context replaces the old one, which is released */
	struct pop3_tls *cur = pop3_tls_new(cert_b, key_b, POP3_TLS_1_2, err, sizeof(err));
	ck_assert_ptr_nonnull(cur);
	pop3_tls_unref(old);
	pbt_sendstr(fd, "STLS\r\n");
	plain_expect(fd, "+OK Begin TLS negotiation.\r\n");
	SSL *ssl = client_tls(fd, 0); /* verifies against cert a */
	ck_assert_ptr_nonnull(ssl);
	ssl_send(ssl, "QUIT\r\n");
	ssl_expect(ssl, "+OK Bye.\r\n");
	ssl_close(ssl, fd);
	server_wait(&s);
	pop3_tls_unref(cur);
}
END_TEST

START_TEST(idle_timeout)
{
	struct server s;
	char buf[256];

	server_init(&s);
	s.cfg.idle_timeout_s = 1;
	s.cfg.plaintext_auth_allowed = true;
	server_start(&s, NULL);
	int fd = client_connect(s.port);
	plain_expect(fd, "+OK popbridge ready.\r\n");
	pbt_sendstr(fd, "USER alice\r\nPASS secret\r\nDELE 1\r\n");
	plain_expect(fd, "+OK Send the password.\r\n");
	plain_expect(fd, "+OK Logged in.\r\n");
	plain_expect(fd, "+OK Marked to be deleted.\r\n");
	ck_assert_int_gt(pbt_readline(fd, buf, sizeof(buf), 10000), 0);
	ck_assert_str_eq(buf, "-ERR Disconnected for inactivity.\r\n");
	ck_assert_int_lt(pbt_readline(fd, buf, sizeof(buf), 10000), 0);
	close(fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_TIMEOUT);
	ck_assert_int_eq(s.f.commits, 0);
	ck_assert_int_eq(s.f.closes, 1);
}
END_TEST

/* A client that stops reading in the middle of a big RETR: the write waits
 * at most the idle timeout, the session ends, nothing is committed and the
 * message does not count as retrieved. */
START_TEST(client_stops_reading)
{
	enum { SIZE = 20 << 20 };
	struct server s;
	char *big = malloc(SIZE);

	ck_assert_ptr_nonnull(big);
	memset(big, 'q', SIZE);
	server_init(&s);
	fake_add(&s.f, big, SIZE);
	s.f.chunk = 65536;
	s.cfg.idle_timeout_s = 1;
	s.cfg.plaintext_auth_allowed = true;
	server_start(&s, NULL);
	int fd = client_connect(s.port);
	plain_expect(fd, "+OK popbridge ready.\r\n");
	pbt_sendstr(fd, "USER alice\r\nPASS secret\r\nDELE 1\r\nRETR 3\r\nQUIT\r\n");
	server_wait(&s); /* returns once the write timed out */
	close(fd);
	ck_assert_int_eq(s.st.result, POP3_RESULT_TIMEOUT);
	ck_assert_int_eq(s.f.commits, 0);
	ck_assert_int_eq(s.f.closes, 1);
	ck_assert_uint_eq(s.f.nretrieved, 0);
	ck_assert_uint_eq(s.st.retr_count, 0);
	free(big);
}
END_TEST

/* A client that resets the connection in the middle of a RETR. */
START_TEST(client_resets)
{
	enum { SIZE = 20 << 20 };
	struct server s;
	char *big = malloc(SIZE);
	char line[256];

	ck_assert_ptr_nonnull(big);
	memset(big, 'r', SIZE);
	server_init(&s);
	fake_add(&s.f, big, SIZE);
	s.f.chunk = 65536;
	s.cfg.plaintext_auth_allowed = true;
	server_start(&s, NULL);
	int fd = client_connect(s.port);
	plain_expect(fd, "+OK popbridge ready.\r\n");
	pbt_sendstr(fd, "USER alice\r\nPASS secret\r\nDELE 1\r\nRETR 3\r\nQUIT\r\n");
	plain_expect(fd, "+OK Send the password.\r\n");
	plain_expect(fd, "+OK Logged in.\r\n");
	plain_expect(fd, "+OK Marked to be deleted.\r\n");
	ck_assert_int_gt(pbt_readline(fd, line, sizeof(line), 20000), 0);
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd); /* RST */
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_DROPPED);
	ck_assert_int_eq(s.f.commits, 0);
	ck_assert_int_eq(s.f.closes, 1);
	ck_assert_uint_eq(s.f.nretrieved, 0);
	free(big);
}
END_TEST

/* mpop-style: every RETR sent before reading anything, each answer big.
 * The engine reads the next command only after the previous answer was
 * written, so nothing deadlocks. */
START_TEST(deep_pipeline)
{
	enum { N = 100, SIZE = 200000 };
	struct server s;
	char *big = malloc(SIZE);
	char cmds[N * 10 + 64];
	size_t cl = 0;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < SIZE; i++)
		big[i] = i % 100 == 99 ? '\n' : 'm';
	server_init(&s);
	s.f.nmsgs = 0;
	fake_add(&s.f, big, SIZE);
	s.f.chunk = 8192;
	s.cfg.plaintext_auth_allowed = true;
	server_start(&s, NULL);
	int fd = client_connect(s.port);
	plain_expect(fd, "+OK popbridge ready.\r\n");
	cl += (size_t)sprintf(cmds, "USER alice\r\nPASS secret\r\n");
	for (int i = 0; i < N; i++)
		cl += (size_t)sprintf(cmds + cl, "RETR 1\r\n");
	cl += (size_t)sprintf(cmds + cl, "QUIT\r\n");
	ck_assert_int_eq(pbt_send(fd, cmds, cl), 0);
	size_t total = 0;
	char *all = pbt_read_all(fd, (size_t)N * (SIZE + 3000) + 4096, 20000, &total);
	ck_assert_ptr_nonnull(all);
	uint64_t wire = fake_wire_size(big, SIZE);
	size_t per = strlen("+OK  octets\r\n") + (size_t)snprintf(NULL, 0, "%llu",
	    (unsigned long long)wire) + wire + 3;
	ck_assert_uint_eq(total, strlen("+OK Send the password.\r\n+OK Logged in.\r\n") +
	    N * per + strlen("+OK Logging out.\r\n"));
	free(all);
	close(fd);
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_uint_eq(s.st.retr_count, N);
	ck_assert_uint_eq(s.f.nretrieved, N);
	free(big);
}
END_TEST

/* Real POP3 clients against the engine: mpop (STLS, USER/PASS, pipelined
 * RETRs and DELEs, QUIT) and curl (implicit TLS, RETR). */
static char *run_cmd(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char *out = calloc(1, 65536);
	ck_assert_ptr_nonnull(out);
	size_t n = fread(out, 1, 65535, p);
	out[n] = '\0';
	int rc = pclose(p);
	if (rc != 0)
		ck_abort_msg("%s: exit %d: %s", cmd, rc, out);
	return out;
}

START_TEST(mpop_client)
{
	enum { N = 30 };
	struct server s;
	struct pop3_tls *tls = make_tls(POP3_TLS_1_2);
	static char bodies[N][128];
	char cfg[600], mbox[600], uidls[600], cmd[2000];

	if (access("/usr/bin/mpop", X_OK) != 0)
		ck_abort_msg("/usr/bin/mpop is needed");
	server_init(&s);
	s.f.nmsgs = 0;
	for (int i = 0; i < N; i++) {
		snprintf(bodies[i], sizeof(bodies[i]),
		    "From: a@example.com\nSubject: m%d\n\n.line %d\nbody\n", i, i);
		fake_adds(&s.f, bodies[i]);
	}
	s.cfg.offer_stls = true;
	server_start(&s, tls);
	pop3_tls_unref(tls);
	snprintf(cfg, sizeof(cfg), "%s/mpoprc", tmpdir);
	snprintf(mbox, sizeof(mbox), "%s/mbox", tmpdir);
	snprintf(uidls, sizeof(uidls), "%s/uidls", tmpdir);
	FILE *f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "account test\nhost 127.0.0.1\nport %d\ntls on\ntls_starttls on\n"
	    "tls_trust_file %s\nauth user\nuser alice\npassword secret\n"
	    "delivery mbox %s\nkeep off\nuidls_file %s\ntimeout 20\n",
	    s.port, cert_a, mbox, uidls);
	fclose(f);
	chmod(cfg, 0600);
	snprintf(cmd, sizeof(cmd), "/usr/bin/mpop -C %s -q test 2>&1", cfg);
	free(run_cmd(cmd));
	server_wait(&s);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_uint_eq(s.st.retr_count, N);
	ck_assert_uint_eq(s.f.ncommitted, N);
	for (size_t i = 0; i < N; i++)
		ck_assert_uint_eq(s.f.committed[i], i);
	ck_assert_str_eq(s.st.tls_version, "TLSv1.3");
	/* the mailbox holds every message, dot-stuffing undone */
	f = fopen(mbox, "r");
	ck_assert_ptr_nonnull(f);
	char *all = calloc(1, 65536);
	ck_assert_ptr_nonnull(all);
	size_t n = fread(all, 1, 65535, f);
	fclose(f);
	all[n] = '\0';
	for (int i = 0; i < N; i++) {
		char want[64];
		snprintf(want, sizeof(want), "Subject: m%d\n\n.line %d\n", i, i);
		ck_assert_ptr_nonnull(strstr(all, want));
	}
	ck_assert_ptr_null(strstr(all, ".."));
	free(all);
}
END_TEST

START_TEST(curl_client)
{
	struct server s;
	struct pop3_tls *tls = make_tls(POP3_TLS_1_2);
	char cmd[1200];

	server_init(&s);
	s.cfg.implicit_tls = true;
	server_start(&s, tls);
	pop3_tls_unref(tls);
	snprintf(cmd, sizeof(cmd), "curl -sS --max-time 20 --cacert %s -u alice:secret "
	    "pop3s://127.0.0.1:%d/2", cert_a, s.port);
	char *out = run_cmd(cmd);
	server_wait(&s);
	ck_assert_str_eq(out, "Subject: two\r\n\r\n.dot\r\n");
	free(out);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_uint_eq(s.st.retr_count, 1);
	ck_assert_uint_eq(s.f.ncommitted, 0);
}
END_TEST

/* A real client library: Python's poplib over STLS and over implicit TLS. */
static const char pyscript[] =
    "import poplib, ssl, sys\n"
    "port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]\n"
    "ctx = ssl.create_default_context(cafile=ca)\n"
    "if mode == 'stls':\n"
    "    p = poplib.POP3('127.0.0.1', port, timeout=20)\n"
    "    print(sorted(p.capa().keys()))\n"
    "    p.stls(ctx)\n"
    "else:\n"
    "    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=20)\n"
    "print(sorted(p.capa().keys()))\n"
    "p.user('alice'); p.pass_('secret')\n"
    "print(p.stat())\n"
    "print(p.uidl()[1])\n"
    "r = p.retr(2); print(r[1], r[2])\n"
    "r = p.top(1, 0); print(r[1])\n"
    "p.dele(1)\n"
    "print(p.quit())\n";

static char *run_python(int port, const char *mode)
{
	char path[600], cmd[1400];
	snprintf(path, sizeof(path), "%s/client.py", tmpdir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(pyscript, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %d %s %s 2>&1", path, port, cert_a, mode);
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char *out = calloc(1, 8192);
	ck_assert_ptr_nonnull(out);
	size_t n = fread(out, 1, 8191, p);
	out[n] = '\0';
	ck_assert_int_eq(pclose(p), 0);
	return out;
}

START_TEST(python_poplib)
{
	struct server s;
	struct pop3_tls *tls = make_tls(POP3_TLS_1_2);

	if (access("/usr/bin/python3", X_OK) != 0)
		ck_abort_msg("/usr/bin/python3 is needed");
	server_init(&s);
	s.cfg.offer_stls = true;
	server_start(&s, tls);
	char *out = run_python(s.port, "stls");
	server_wait(&s);
	ck_assert_str_eq(out,
	    "['AUTH-RESP-CODE', 'EXPIRE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'STLS', 'TOP', 'UIDL']\n"
	    "['AUTH-RESP-CODE', 'EXPIRE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']\n"
	    "(2, 45)\n"
	    "[b'1 uid-1', b'2 uid-2']\n"
	    "[b'Subject: two', b'', b'.dot'] 22\n"
	    "[b'Subject: one', b'']\n"
	    "b'+OK Logging out.'\n");
	free(out);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_uint_eq(s.f.ncommitted, 1);

	server_init(&s);
	s.cfg.implicit_tls = true;
	server_start(&s, tls);
	pop3_tls_unref(tls);
	out = run_python(s.port, "implicit");
	server_wait(&s);
	ck_assert_ptr_nonnull(strstr(out, "(2, 45)\n"));
	ck_assert_ptr_nonnull(strstr(out, "b'+OK Logging out.'\n"));
	free(out);
	ck_assert_int_eq(s.st.result, POP3_RESULT_COMMITTED);
	ck_assert_str_eq(s.st.tls_version, "TLSv1.3");
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	Suite *s = suite_create("pop3-tls");
	TCase *tc = tcase_create("sockets");

	tcase_set_timeout(tc, 120);
	tcase_add_unchecked_fixture(tc, certs_setup, certs_teardown);
	tcase_add_test(tc, stls_session);
	tcase_add_test(tc, stls_injection);
	tcase_add_test(tc, stls_handshake_never_starts);
	tcase_add_test(tc, implicit_tls_session);
	tcase_add_test(tc, implicit_tls_plain_client);
	tcase_add_test(tc, min_version);
	tcase_add_test(tc, tls_context_errors);
	tcase_add_test(tc, reload_while_running);
	tcase_add_test(tc, idle_timeout);
	tcase_add_test(tc, client_stops_reading);
	tcase_add_test(tc, client_resets);
	tcase_add_test(tc, deep_pipeline);
	tcase_add_test(tc, python_poplib);
	tcase_add_test(tc, mpop_client);
	tcase_add_test(tc, curl_client);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
