/* tests/harness/check_harness.c — proves the test harness: the private
 * Dovecot (greeting, LOGIN, STARTTLS/IMAPS with the generated CA, delivery,
 * renumbering, pause/resume, clean stop even after SIGKILL) and the message
 * generator (determinism and the property of every kind). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tests/lib/dovecot.h"
#include "tests/lib/msggen.h"
#include "tests/lib/net.h"

#define T_MS 10000
#define RESP_MAX (1u << 20)

static struct pbt_dovecot *dc;

static void dc_setup(void)
{
	dc = pbt_dovecot_start();
	ck_assert_ptr_nonnull(dc);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "alice", "secret"), 0);
}

static void dc_teardown(void)
{
	pbt_dovecot_stop(dc);
	dc = NULL;
}

/* ---- a tiny IMAP client over a socket ------------------------------------ */

static int imap_open(int port)
{
	char line[512];
	int fd = pbt_connect(NULL, port);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_gt(pbt_readline(fd, line, sizeof(line), T_MS), 0);
	ck_assert_msg(strncmp(line, "* OK", 4) == 0, "greeting: %s", line);
	return fd;
}

/* Send "TAG CMD" and collect the response through the tagged line; returns a
 * malloc'd copy; *status points at the tagged status ("OK", "NO", "BAD"). */
static char *imap_cmd(int fd, const char *cmd, const char **status)
{
	static unsigned tagno;
	char tag[16], line[8192];
	snprintf(tag, sizeof(tag), "T%u ", ++tagno);
	ck_assert_int_eq(pbt_sendstr(fd, tag), 0);
	ck_assert_int_eq(pbt_sendstr(fd, cmd), 0);
	ck_assert_int_eq(pbt_sendstr(fd, "\r\n"), 0);
	size_t cap = RESP_MAX, len = 0;
	char *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	out[0] = '\0';
	for (;;) {
		ssize_t n = pbt_readline(fd, line, sizeof(line), T_MS);
		ck_assert_int_gt(n, 0);
		ck_assert_uint_lt(len + (size_t)n, cap);
		memcpy(out + len, line, (size_t)n + 1);
		if (strncmp(line, tag, strlen(tag)) == 0) {
			*status = out + len + strlen(tag);
			return out;
		}
		len += (size_t)n;
	}
}

static void imap_expect(int fd, const char *cmd, const char *want)
{
	const char *st;
	char *r = imap_cmd(fd, cmd, &st);
	ck_assert_msg(strncmp(st, want, strlen(want)) == 0, "%s -> %s", cmd, st);
	free(r);
}

/* The number of messages a SELECT reported ("* N EXISTS"), or -1. */
static long long resp_exists(const char *resp)
{
	const char *p = strstr(resp, " EXISTS\r\n");
	if (p == NULL)
		return -1;
	while (p > resp && p[-1] != ' ')
		p--;
	return strtoll(p, NULL, 10);
}

/* The number after "key " in a response, or -1. */
static long long resp_num(const char *resp, const char *key)
{
	const char *p = strstr(resp, key);
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

static void imap_login(int fd, const char *user, const char *pw, const char *want)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "LOGIN %s %s", user, pw);
	imap_expect(fd, cmd, want);
}

/* ---- Dovecot: connect and log in ------------------------------------------ */

START_TEST(test_greetings)
{
	int fd = imap_open(dc->imap_port);
	close(fd);
	char line[512];
	fd = pbt_connect(NULL, dc->pop3_port);
	ck_assert_int_gt(pbt_readline(fd, line, sizeof(line), T_MS), 0);
	ck_assert_str_eq(strncmp(line, "+OK", 3) == 0 ? "+OK" : line, "+OK");
	close(fd);
	ck_assert_int_ne(dc->imap_port, 143);
	ck_assert_int_ne(dc->pop3_port, 110);
}
END_TEST

START_TEST(test_login)
{
	int fd = imap_open(dc->imap_port);
	imap_login(fd, "alice", "wrong", "NO");
	/* No auth penalty: the right password works at once on the same address. */
	imap_login(fd, "alice", "secret", "OK");
	imap_expect(fd, "LOGOUT", "OK");
	close(fd);
	fd = imap_open(dc->imap_port);
	imap_login(fd, "nobody-here", "secret", "NO");
	close(fd);
}
END_TEST

START_TEST(test_password_change_and_removal)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "carol", "one"), 0);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "carol", "again"), -1);
	int fd = imap_open(dc->imap_port);
	imap_login(fd, "carol", "one", "OK");
	close(fd);
	ck_assert_int_eq(pbt_dovecot_set_password(dc, "carol", "two"), 0);
	fd = imap_open(dc->imap_port);
	imap_login(fd, "carol", "one", "NO");
	imap_login(fd, "carol", "two", "OK");
	close(fd);
	ck_assert_int_eq(pbt_dovecot_remove_user(dc, "carol"), 0);
	ck_assert_int_eq(pbt_dovecot_set_password(dc, "carol", "x"), -1);
	fd = imap_open(dc->imap_port);
	imap_login(fd, "carol", "two", "NO");
	close(fd);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "bad:name", "x"), -1);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "dave", "a:b"), -1);
}
END_TEST

/* ---- TLS with the generated certificate ---------------------------------- */

static SSL_CTX *tls_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, dc->ca_file, NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

static SSL *tls_connect(SSL_CTX *ctx, int fd, const char *host)
{
	SSL *ssl = SSL_new(ctx);
	ck_assert_ptr_nonnull(ssl);
	ck_assert_int_eq(SSL_set1_host(ssl, host), 1);
	SSL_set_fd(ssl, fd);
	int r = SSL_connect(ssl);
	ck_assert_msg(r == 1, "TLS handshake failed: %s",
	    X509_verify_cert_error_string(SSL_get_verify_result(ssl)));
	ck_assert_int_eq(SSL_get_verify_result(ssl), X509_V_OK);
	return ssl;
}

static void tls_readline(SSL *ssl, char *buf, size_t len)
{
	size_t n = 0;
	while (n + 1 < len) {
		int r = SSL_read(ssl, buf + n, 1);
		ck_assert_int_eq(r, 1);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
}

static void tls_login(SSL *ssl)
{
	char line[1024];
	const char *cmd = "L1 LOGIN alice secret\r\n";
	ck_assert_int_eq(SSL_write(ssl, cmd, (int)strlen(cmd)), (int)strlen(cmd));
	do
		tls_readline(ssl, line, sizeof(line));
	while (strncmp(line, "L1 ", 3) != 0);
	ck_assert_msg(strncmp(line, "L1 OK", 5) == 0, "%s", line);
}

START_TEST(test_starttls)
{
	int fd = imap_open(dc->imap_port);
	const char *st;
	char *caps = imap_cmd(fd, "CAPABILITY", &st);
	ck_assert_ptr_nonnull(strstr(caps, "STARTTLS"));
	free(caps);
	imap_expect(fd, "STARTTLS", "OK");
	SSL_CTX *ctx = tls_ctx();
	SSL *ssl = tls_connect(ctx, fd, "localhost");
	tls_login(ssl);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
}
END_TEST

START_TEST(test_imaps_pop3s)
{
	char line[1024];
	SSL_CTX *ctx = tls_ctx();
	int fd = pbt_connect(NULL, dc->imaps_port);
	ck_assert_int_ge(fd, 0);
	SSL *ssl = tls_connect(ctx, fd, "127.0.0.1");
	tls_readline(ssl, line, sizeof(line));
	ck_assert_msg(strncmp(line, "* OK", 4) == 0, "%s", line);
	tls_login(ssl);
	SSL_free(ssl);
	close(fd);
	fd = pbt_connect(NULL, dc->pop3s_port);
	ck_assert_int_ge(fd, 0);
	ssl = tls_connect(ctx, fd, "localhost");
	tls_readline(ssl, line, sizeof(line));
	ck_assert_msg(strncmp(line, "+OK", 3) == 0, "%s", line);
	SSL_free(ssl);
	close(fd);
	SSL_CTX_free(ctx);
}
END_TEST

/* ---- delivery ------------------------------------------------------------- */

/* A message's size as IMAP reports it: bare LFs count as CRLF. */
struct crlf_size {
	uint64_t size;
	char last;
};

static int crlf_sink(void *arg, const char *buf, size_t len)
{
	struct crlf_size *c = arg;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n' && c->last != '\r')
			c->size++;
		c->size++;
		c->last = buf[i];
	}
	return 0;
}

static uint64_t imap_size(const struct pbt_msgspec *s)
{
	struct crlf_size c = { 0, 0 };
	ck_assert_int_ge(pbt_msg_write(s, crlf_sink, &c), 0);
	return c.size;
}

START_TEST(test_delivery)
{
	enum { N = 14 };
	struct pbt_msgspec specs[N + 1];
	pbt_msg_awkward_set(specs, N, 500);
	specs[N] = (struct pbt_msgspec){ PBT_MSG_LARGE, 999, 20u * 1000 * 1000 };
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "erin", "pw"), 0);
	for (int i = 0; i <= N; i++)
		ck_assert_int_eq(pbt_dovecot_add_generated(dc, "erin", "INBOX", &specs[i],
		    i == 3 ? "S" : ""), 0);
	const char raw[] = "Subject: raw\nMessage-ID: <raw@popbridge.test>\n\nbody\n";
	ck_assert_int_eq(pbt_dovecot_add_message(dc, "erin", "INBOX", raw, sizeof(raw) - 1,
	    "FS"), 0);
	ck_assert_int_eq(pbt_dovecot_add_message(dc, "erin", "NoSuchFolder", raw,
	    sizeof(raw) - 1, ""), -1);
	ck_assert_int_eq(pbt_dovecot_add_message(dc, "erin", "INBOX", raw, sizeof(raw) - 1,
	    "X"), -1);

	int fd = imap_open(dc->imap_port);
	imap_login(fd, "erin", "pw", "OK");
	const char *st;
	char *r = imap_cmd(fd, "SELECT INBOX", &st);
	ck_assert_int_eq(resp_exists(r), N + 2);
	free(r);
	char cmd[128], want[128], id[96];
	for (int i = 0; i <= N + 1; i++) {
		snprintf(cmd, sizeof(cmd), "FETCH %d (UID RFC822.SIZE FLAGS "
		    "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", i + 1);
		r = imap_cmd(fd, cmd, &st);
		ck_assert_msg(strncmp(st, "OK", 2) == 0, "%s", st);
		/* delivery order is UID order */
		ck_assert_int_eq(resp_num(r, "UID "), i + 1);
		if (i <= N) {
			ck_assert_int_eq(resp_num(r, "RFC822.SIZE "), (long long)imap_size(&specs[i]));
			snprintf(want, sizeof(want), "Message-ID: %s",
			    pbt_msg_id(&specs[i], id, sizeof(id)));
		} else {
			ck_assert_int_eq(resp_num(r, "RFC822.SIZE "), (long long)sizeof(raw) - 1 + 4);
			snprintf(want, sizeof(want), "Message-ID: <raw@popbridge.test>");
			ck_assert_ptr_nonnull(strstr(r, "\\Flagged"));
		}
		ck_assert_msg(strstr(r, want) != NULL, "message %d: %s", i + 1, r);
		ck_assert((strstr(r, "\\Seen") != NULL) == (i == 3 || i == N + 1));
		free(r);
	}
	close(fd);
}
END_TEST

START_TEST(test_folders_special_use)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "frank", "pw"), 0);
	int fd = imap_open(dc->imap_port);
	imap_login(fd, "frank", "pw", "OK");
	const char *st;
	/* auto = no: nothing but INBOX exists until created */
	char *r = imap_cmd(fd, "LIST \"\" \"*\" RETURN (SPECIAL-USE)", &st);
	ck_assert_ptr_null(strstr(r, "Trash"));
	ck_assert_ptr_null(strstr(r, "\\Archive"));
	free(r);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "frank", "Trash"), 0);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "frank", "Archive"), 0);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "frank", "Work/2024"), 0);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "frank", "Bad.Name"), -1);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "nobody-here", "Trash"), -1);
	struct pbt_msgspec s = { PBT_MSG_PLAIN, 7, 0 };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, "frank", "Work/2024", &s, ""), 0);
	/* A session lists what existed when it started: log in again. */
	close(fd);
	fd = imap_open(dc->imap_port);
	imap_login(fd, "frank", "pw", "OK");
	r = imap_cmd(fd, "LIST \"\" \"*\" RETURN (SPECIAL-USE)", &st);
	ck_assert_msg(strstr(r, "(\\Trash) \"/\" Trash") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "(\\Archive) \"/\" Archive") != NULL, "%s", r);
	ck_assert_msg(strstr(r, "\"/\" Work/2024") != NULL, "%s", r);
	free(r);
	/* Tests may also create folders over IMAP; SPECIAL-USE still applies. */
	imap_expect(fd, "CREATE Junk", "OK");
	r = imap_cmd(fd, "STATUS Work/2024 (MESSAGES)", &st);
	ck_assert_int_eq(resp_num(r, "MESSAGES "), 1);
	free(r);
	close(fd);
}
END_TEST

START_TEST(test_renumber)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "gina", "pw"), 0);
	ck_assert_int_eq(pbt_dovecot_create_folder(dc, "gina", "Archive"), 0);
	for (uint32_t i = 0; i < 3; i++) {
		struct pbt_msgspec s = { PBT_MSG_PLAIN, 40 + i, 0 };
		ck_assert_int_eq(pbt_dovecot_add_generated(dc, "gina", "INBOX", &s, ""), 0);
		ck_assert_int_eq(pbt_dovecot_add_generated(dc, "gina", "Archive", &s, ""), 0);
	}
	long long before[2], after[2];
	const char *boxes[2] = { "INBOX", "Archive" };
	const char *st;
	char cmd[64];
	for (int round = 0; round < 2; round++) {
		int fd = imap_open(dc->imap_port);
		imap_login(fd, "gina", "pw", "OK");
		for (int b = 0; b < 2; b++) {
			snprintf(cmd, sizeof(cmd), "SELECT %s", boxes[b]);
			char *r = imap_cmd(fd, cmd, &st);
			ck_assert_int_eq(resp_exists(r), 3);
			(round ? after : before)[b] = resp_num(r, "UIDVALIDITY ");
			free(r);
		}
		imap_expect(fd, "LOGOUT", "OK");
		close(fd);
		if (round == 0)
			ck_assert_int_eq(pbt_dovecot_renumber(dc, "gina", "Archive"), 0);
	}
	ck_assert_int_gt(before[1], 0);
	ck_assert_int_ne(after[1], before[1]);
	ck_assert_int_eq(after[0], before[0]);
	ck_assert_int_eq(pbt_dovecot_renumber(dc, "gina", "NoSuch"), -1);
}
END_TEST

START_TEST(test_pop3_uidl)
{
	ck_assert_int_eq(pbt_dovecot_add_user(dc, "hank", "pw"), 0);
	struct pbt_msgspec s = { PBT_MSG_DOTS, 1, 0 };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, "hank", "INBOX", &s, ""), 0);
	char line[512];
	int fd = pbt_connect(NULL, dc->pop3_port);
	ck_assert_int_gt(pbt_readline(fd, line, sizeof(line), T_MS), 0);
	ck_assert_int_eq(pbt_sendstr(fd, "USER hank\r\nPASS pw\r\nUIDL 1\r\nQUIT\r\n"), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_gt(pbt_readline(fd, line, sizeof(line), T_MS), 0);
	/* Dovecot's default %08Xu%08Xv: UID 1, then the UIDVALIDITY, in hex */
	ck_assert_msg(strncmp(line, "+OK 1 00000001", 14) == 0 && strlen(line) == 24,
	    "%s", line);
	close(fd);
}
END_TEST

START_TEST(test_pause_resume)
{
	int port = dc->imap_port;
	ck_assert_int_eq(pbt_dovecot_pause(dc), 0);
	ck_assert_int_eq(pbt_connect(NULL, port), -1);
	ck_assert_int_eq(pbt_dovecot_resume(dc), 0);
	ck_assert_int_eq(dc->imap_port, port);
	int fd = imap_open(port);
	imap_login(fd, "alice", "secret", "OK");
	close(fd);
}
END_TEST

/* ---- nothing left behind ---------------------------------------------------- */

/* Is pid a live process (not gone, not a zombie waiting for init)? */
static int alive(pid_t pid)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z';
}

static int instance_processes(const char *dir)
{
	const char *inst = strrchr(dir, '/') + 1;
	char want[300];
	snprintf(want, sizeof(want), "%s/", inst);
	DIR *dp = opendir("/proc");
	ck_assert_ptr_nonnull(dp);
	int n = 0;
	struct dirent *de;
	while ((de = readdir(dp)) != NULL) {
		char path[300], cmd[512] = "";
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		FILE *f = fopen(path, "r");
		if (f == NULL)
			continue;
		size_t k = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < k; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		if (strstr(cmd, want) != NULL || strstr(cmd, dir) != NULL)
			n++;
	}
	closedir(dp);
	return n;
}

START_TEST(test_stop_cleans)
{
	struct pbt_dovecot *d = pbt_dovecot_start();
	ck_assert_ptr_nonnull(d);
	char dir[256];
	snprintf(dir, sizeof(dir), "%s", d->dir);
	pid_t master = d->master_pid;
	ck_assert_int_gt(master, 0);
	ck_assert_int_gt(instance_processes(dir), 0);
	pbt_dovecot_stop(d);
	struct stat st;
	ck_assert_int_eq(stat(dir, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert(!alive(master));
	ck_assert_int_eq(instance_processes(dir), 0);
}
END_TEST

START_TEST(test_sigkill_cleans)
{
	int p[2];
	ck_assert_int_eq(pipe(p), 0);
	pid_t child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		close(p[0]);
		struct pbt_dovecot *d = pbt_dovecot_start();
		if (d == NULL)
			_exit(1);
		ssize_t w = write(p[1], d->dir, sizeof(d->dir));
		(void)w;
		for (;;)
			pause();
	}
	close(p[1]);
	char dir[256];
	ck_assert_int_eq(read(p[0], dir, sizeof(dir)), (ssize_t)sizeof(dir));
	close(p[0]);
	ck_assert_int_gt(instance_processes(dir), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	struct stat st;
	int gone = 0;
	for (int t = 0; t < 200 && !gone; t++) {
		gone = stat(dir, &st) < 0 && instance_processes(dir) == 0;
		if (!gone)
			nanosleep(&(struct timespec){ 0, 100000000L }, NULL);
	}
	ck_assert_msg(gone, "%s or its processes survived SIGKILL of the test", dir);
}
END_TEST

/* ---- the message generator --------------------------------------------------- */

struct mem {
	char *buf;
	size_t len, cap, max_chunk;
	uint64_t hash;
};

static int mem_sink(void *arg, const char *buf, size_t len)
{
	struct mem *m = arg;
	if (len > m->max_chunk)
		m->max_chunk = len;
	for (size_t i = 0; i < len; i++)
		m->hash = (m->hash ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
	if (m->cap == 0)
		return 0;  /* hash only */
	if (m->len + len >= m->cap)
		return -1;
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	m->buf[m->len] = '\0';
	return 0;
}

static struct mem gen(enum pbt_msg_kind kind, uint32_t seed)
{
	struct mem m = { malloc(1u << 20), 0, 1u << 20, 0, 0xcbf29ce484222325ULL };
	ck_assert_ptr_nonnull(m.buf);
	struct pbt_msgspec s = { kind, seed, 0 };
	ck_assert_int_eq(pbt_msg_write(&s, mem_sink, &m), (int64_t)m.len);
	return m;
}

START_TEST(test_gen_deterministic)
{
	for (int k = 0; k < PBT_MSG_LARGE; k++) {
		struct mem a = gen(k, 77), b = gen(k, 77), c = gen(k, 78);
		ck_assert_uint_eq(a.len, b.len);
		ck_assert_int_eq(memcmp(a.buf, b.buf, a.len), 0);
		ck_assert_uint_ne(a.hash, c.hash);
		ck_assert_str_eq(pbt_msg_kind_name(k), pbt_msg_kind_name(pbt_msg_kind_parse(
		    pbt_msg_kind_name(k))));
		free(a.buf);
		free(b.buf);
		free(c.buf);
	}
	ck_assert_int_eq(pbt_msg_kind_parse("no-such-kind"), -1);
}
END_TEST

/* Every LF preceded by CR, and the message ends with CRLF. */
static int all_crlf(const struct mem *m)
{
	for (size_t i = 0; i < m->len; i++)
		if (m->buf[i] == '\n' && (i == 0 || m->buf[i - 1] != '\r'))
			return 0;
	return m->len >= 2 && memcmp(m->buf + m->len - 2, "\r\n", 2) == 0;
}

static size_t longest_line(const struct mem *m)
{
	size_t best = 0, cur = 0;
	for (size_t i = 0; i < m->len; i++) {
		if (m->buf[i] == '\n') {
			if (cur > best)
				best = cur;
			cur = 0;
		} else if (m->buf[i] != '\r') {
			cur++;
		}
	}
	return best > cur ? best : cur;
}

START_TEST(test_gen_kinds)
{
	char id[96];
	for (int k = 0; k < PBT_MSG_LARGE; k++) {
		struct mem m = gen(k, 5);
		struct pbt_msgspec s = { k, 5, 0 };
		char want[128];
		snprintf(want, sizeof(want), "Message-ID: %s", pbt_msg_id(&s, id, sizeof(id)));
		ck_assert_msg(strncmp(m.buf, want, strlen(want)) == 0, "%s", pbt_msg_kind_name(k));
		ck_assert_ptr_nonnull(strstr(m.buf, "\nSubject: "));
		ck_assert_ptr_nonnull(strstr(m.buf, "\nDate: "));
		ck_assert_uint_gt(m.len, 300);
		switch (k) {
		case PBT_MSG_DOTS:
			ck_assert(all_crlf(&m));
			ck_assert_ptr_nonnull(strstr(m.buf, "\r\n.\r\n"));
			ck_assert_ptr_nonnull(strstr(m.buf, "\r\n..two"));
			ck_assert_ptr_nonnull(strstr(m.buf, "\r\n.one"));
			break;
		case PBT_MSG_LONG_LINES:
			ck_assert(all_crlf(&m));
			ck_assert_uint_ge(longest_line(&m), 4000);
			break;
		case PBT_MSG_BARE_LF:
			ck_assert_ptr_null(memchr(m.buf, '\r', m.len));
			ck_assert_int_eq(m.buf[m.len - 1], '\n');
			break;
		case PBT_MSG_NO_FINAL_EOL:
			ck_assert_int_ne(m.buf[m.len - 1], '\n');
			m.buf[m.len - 1] = '\n';  /* the rest is CRLF */
			break;
		case PBT_MSG_8BIT: {
			int high = 0;
			for (size_t i = 0; i < m.len; i++)
				high |= (unsigned char)m.buf[i] >= 0x80;
			ck_assert(high);
			ck_assert(all_crlf(&m));
			ck_assert_ptr_nonnull(strstr(m.buf, "Content-Transfer-Encoding: 8bit"));
			break;
		}
		case PBT_MSG_MULTIPART:
			ck_assert(all_crlf(&m));
			ck_assert_ptr_nonnull(strstr(m.buf, "multipart/mixed; boundary=\"=_pbt_5\""));
			ck_assert_ptr_nonnull(strstr(m.buf, "\r\n--=_pbt_5--\r\n"));
			ck_assert_ptr_nonnull(strstr(m.buf, "Content-Transfer-Encoding: base64"));
			break;
		default:
			ck_assert(all_crlf(&m));
			ck_assert_uint_le(longest_line(&m), 998);
		}
		free(m.buf);
	}
}
END_TEST

START_TEST(test_gen_large)
{
	/* tens of MB, hashed as it streams, never held */
	struct mem m = { NULL, 0, 0, 0, 0xcbf29ce484222325ULL };
	struct pbt_msgspec s = { PBT_MSG_LARGE, 3, 30u * 1000 * 1000 };
	ck_assert_int_eq(pbt_msg_write(&s, mem_sink, &m), 30000000);
	ck_assert_uint_le(m.max_chunk, 65536);
	uint64_t h = m.hash;
	m.hash = 0xcbf29ce484222325ULL;
	ck_assert_int_eq(pbt_msg_write(&s, mem_sink, &m), 30000000);
	ck_assert_uint_eq(m.hash, h);
	/* exact at every size near the minimum, CRLF throughout */
	for (uint64_t size = 400; size < 700; size++) {
		struct mem k = { malloc(4096), 0, 4096, 0, 0 };
		struct pbt_msgspec t = { PBT_MSG_LARGE, 3, size };
		ck_assert_int_eq(pbt_msg_write(&t, mem_sink, &k), (int64_t)size);
		ck_assert_uint_eq(k.len, size);
		ck_assert(all_crlf(&k));
		free(k.buf);
	}
	struct pbt_msgspec tiny = { PBT_MSG_LARGE, 3, 10 };
	ck_assert_int_eq(pbt_msg_write(&tiny, mem_sink, &m), -1);
}
END_TEST

START_TEST(test_gen_unique_ids)
{
	enum { N = 200 };
	struct pbt_msgspec specs[N];
	ck_assert_uint_eq(pbt_msg_awkward_set(specs, N, 1000), N);
	static char ids[N][96];
	int seen[PBT_MSG_KIND_COUNT] = { 0 };
	for (int i = 0; i < N; i++) {
		ck_assert_int_ne(specs[i].kind, PBT_MSG_LARGE);
		seen[specs[i].kind]++;
		pbt_msg_id(&specs[i], ids[i], sizeof(ids[i]));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(ids[i], ids[j]);
	}
	for (int k = 0; k < PBT_MSG_LARGE; k++)
		ck_assert_int_gt(seen[k], 0);
}
END_TEST

/* ---- the pbtest command and tests/lib/pbtest.py ------------------------------ */

START_TEST(test_pbtest_python)
{
	/* pbtest is built next to this program ($(B)/tests/harness/). */
	char self[512], pbtest[600], script[600];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ck_assert_int_gt(n, 0);
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(pbtest, sizeof(pbtest), "%s/pbtest", self);
	ck_assert_msg(access(pbtest, X_OK) == 0, "%s is missing: make B=... %s", pbtest,
	    "check-harness builds it");
	const char *src = getenv("POPBRIDGE_SRC");
	snprintf(script, sizeof(script), "%s/tests/harness/test_pbtest.py", src ? src : ".");
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("PBTEST", pbtest, 1);
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "%s failed (status %d)", script, status);
}
END_TEST

static Suite *harness_suite(void)
{
	Suite *s = suite_create("harness");
	TCase *tc = tcase_create("dovecot");
	tcase_add_unchecked_fixture(tc, dc_setup, dc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_greetings);
	tcase_add_test(tc, test_login);
	tcase_add_test(tc, test_password_change_and_removal);
	tcase_add_test(tc, test_starttls);
	tcase_add_test(tc, test_imaps_pop3s);
	tcase_add_test(tc, test_delivery);
	tcase_add_test(tc, test_folders_special_use);
	tcase_add_test(tc, test_renumber);
	tcase_add_test(tc, test_pop3_uidl);
	tcase_add_test(tc, test_pause_resume);
	suite_add_tcase(s, tc);
	TCase *life = tcase_create("lifecycle");
	tcase_set_timeout(life, 180);
	tcase_add_test(life, test_stop_cleans);
	tcase_add_test(life, test_sigkill_cleans);
	tcase_add_test(life, test_pbtest_python);
	suite_add_tcase(s, life);
	TCase *g = tcase_create("msggen");
	tcase_set_timeout(g, 60);
	tcase_add_test(g, test_gen_deterministic);
	tcase_add_test(g, test_gen_kinds);
	tcase_add_test(g, test_gen_large);
	tcase_add_test(g, test_gen_unique_ids);
	suite_add_tcase(s, g);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(harness_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
