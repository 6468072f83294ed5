/* bridge/migrate/pop3client.c — see pop3client.h. */
#include "bridge/migrate/pop3client.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bridge/base/addrkey.h"
#include "bridge/base/errbuf.h"
#include "bridge/config/url.h"
#include "imap/conn.h"

#define POP3C_DEFAULT_TIMEOUT_S 30

struct migrate_pop3c {
	struct imap_conn conn;
	struct migrate_pop3c_parser p;
	bool tls;
	bool cap_pipelining, cap_stls, cap_sasl_plain;
	char err[POP3C_ERR_MAX];
};

struct migrate_pop3c *migrate_pop3c_new(void)
{
	struct migrate_pop3c *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		migrate_pop3c_parser_init(&c->p);
		imap_conn_init(&c->conn, POP3C_DEFAULT_TIMEOUT_S);
	}
	return c;
}

const char *migrate_pop3c_error(const struct migrate_pop3c *c)
{
	return c->err;
}

static int cerr(struct migrate_pop3c *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cerr(struct migrate_pop3c *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static const struct config_url_scheme pop3_schemes[] = {
	{ "pop3", 110, false },    /* STLS as described in pop3client.h */
	{ "pop3s", 995, true },    /* RFC 8314 */
};

int migrate_pop3c_parse_url(const char *s, struct migrate_pop3c_url *u, char *err, size_t errlen)
{
	const struct config_url_scheme *sc;
	struct config_endpoint ep;
	char why[PB_ERR_MAX];

	memset(u, 0, sizeof(*u));
	if (config_url_parse(s, pop3_schemes, sizeof(pop3_schemes) / sizeof(pop3_schemes[0]), &sc,
	    &ep, why, sizeof(why)) != 0)
		return base_errf(err, errlen, "--from: %s", why);
	memcpy(u->host, ep.host, sizeof(u->host));
	u->port = ep.port;
	u->implicit_tls = sc->implicit_tls;
	return 0;
}

/* ---- wire ------------------------------------------------------------------ */

static int send_line(struct migrate_pop3c *c, const char *line, size_t len)
{
	if (imap_conn_write(&c->conn, line, len) != 0)
		return cerr(c, "old server: sending: %s", c->conn.err);
	return 0;
}

/* Send "fmt\r\n" for a command without secrets; multi: its reply is a
 * multi-line one. The parser's expectation is set by the reader (replies
 * are read in the order the commands went out). */
static int send_cmd(struct migrate_pop3c *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int send_cmd(struct migrate_pop3c *c, const char *fmt, ...)
{
	char buf[POP3C_CMD_MAX + 1];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 2)
		return cerr(c, "internal: command too long");
	memcpy(buf + n, "\r\n", 2);
	return send_line(c, buf, (size_t)n + 2);
}

/* The next event, reading as needed. */
static int next_event(struct migrate_pop3c *c, struct migrate_pop3c_event *ev, enum migrate_pop3c_ev *kind)
{
	for (;;) {
		enum migrate_pop3c_ev k = migrate_pop3c_parser_next(&c->p, ev);
		if (k == POP3C_EV_ERROR)
			return cerr(c, "old server: %s", ev->text);
		if (k != POP3C_EV_NEED_MORE) {
			*kind = k;
			return 0;
		}
		size_t avail;
		char *space = migrate_pop3c_parser_space(&c->p, &avail);
		ssize_t r = imap_conn_read(&c->conn, space, avail);
		if (r < 0)
			return cerr(c, "old server: %s", c->conn.err);
		migrate_pop3c_parser_added(&c->p, (size_t)r);
	}
}

/* Read one reply's status line. */
static int read_status(struct migrate_pop3c *c, bool multi, struct migrate_pop3c_event *ev)
{
	enum migrate_pop3c_ev k;

	migrate_pop3c_parser_expect(&c->p, multi);
	if (next_event(c, ev, &k) != 0)
		return -1;
	if (k != POP3C_EV_STATUS)
		return cerr(c, "old server: data where a reply was expected");
	if (ev->cont && multi)
		return cerr(c, "old server: a continuation where +OK or -ERR was expected");
	return 0;
}

/* Read a single-line reply that must be +OK; what names the command. */
static int expect_ok(struct migrate_pop3c *c, const char *what)
{
	struct migrate_pop3c_event ev;

	if (read_status(c, false, &ev) != 0)
		return -1;
	if (ev.cont)
		return cerr(c, "old server: a continuation where +OK or -ERR was expected");
	if (!ev.ok)
		return cerr(c, "old server refused %s: %s", what, ev.text);
	return 0;
}

/* ---- session ----------------------------------------------------------------- */

static int read_capa(struct migrate_pop3c *c)
{
	struct migrate_pop3c_event ev;
	enum migrate_pop3c_ev k;

	c->cap_pipelining = c->cap_stls = c->cap_sasl_plain = false;
	if (send_cmd(c, "CAPA") != 0 || read_status(c, true, &ev) != 0)
		return -1;
	if (!ev.ok)
		return 0; /* no CAPA: an RFC 1939 server; USER/PASS, no pipelining */
	for (;;) {
		if (next_event(c, &ev, &k) != 0)
			return -1;
		if (k == POP3C_EV_END)
			return 0;
		if (k != POP3C_EV_DATA)
			continue;
		char word[64];
		size_t wl = strcspn(ev.line, " ");
		if (wl > ev.len)
			wl = ev.len;
		if (wl >= sizeof(word))
			continue;
		memcpy(word, ev.line, wl);
		word[wl] = '\0';
		if (strcasecmp(word, "PIPELINING") == 0)
			c->cap_pipelining = true;
		else if (strcasecmp(word, "STLS") == 0)
			c->cap_stls = true;
		else if (strcasecmp(word, "SASL") == 0) {
			/* SASL mech...: look for PLAIN as a word */
			const char *s = ev.line + wl;
			size_t left = ev.len - wl;
			while (left > 0) {
				while (left > 0 && *s == ' ') {
					s++;
					left--;
				}
				size_t ml = 0;
				while (ml < left && s[ml] != ' ')
					ml++;
				if (ml == 5 && strncasecmp(s, "PLAIN", 5) == 0)
					c->cap_sasl_plain = true;
				s += ml;
				left -= ml;
			}
		}
	}
}

static int start_tls(struct migrate_pop3c *c, const char *host, const char *ca_file)
{
	struct imap_tls_opts o = { .ca_file = ca_file, .verify_name = host,
	    .min = IMAP_TLS_DEFAULT };

	/* Anything the server sent before the handshake is not trusted. */
	migrate_pop3c_parser_discard(&c->p);
	if (imap_conn_start_tls(&c->conn, &o) != 0)
		return cerr(c, "old server: TLS: %s", c->conn.err);
	c->tls = true;
	return 0;
}

int migrate_pop3c_connect(struct migrate_pop3c *c, const struct migrate_pop3c_url *u, const char *ca_file,
    unsigned timeout_s)
{
	memset(c, 0, sizeof(*c));
	migrate_pop3c_parser_init(&c->p);
	imap_conn_init(&c->conn, timeout_s ? timeout_s : POP3C_DEFAULT_TIMEOUT_S);
	if (imap_conn_open(&c->conn, u->host, u->port) != 0)
		return cerr(c, "old server %s port %u: %s", u->host, u->port, c->conn.err);
	if (u->implicit_tls && start_tls(c, u->host, ca_file) != 0)
		return -1;
	if (expect_ok(c, "the connection (greeting)") != 0)
		return -1;
	if (read_capa(c) != 0)
		return -1;
	if (!u->implicit_tls) {
		if (c->cap_stls) {
			if (send_cmd(c, "STLS") != 0 || expect_ok(c, "STLS") != 0)
				return -1;
			if (start_tls(c, u->host, ca_file) != 0 || read_capa(c) != 0)
				return -1;
		} else if (!base_addr_is_loopback(u->host)) {
			return cerr(c, "old server %s does not offer STLS: refusing to send the "
			    "password in clear (use pop3s:// if it has implicit TLS)", u->host);
		}
	}
	return 0;
}

static int auth_plain(struct migrate_pop3c *c, const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password);
	size_t raw_len = 1 + ul + 1 + pl;
	unsigned char *raw = malloc(raw_len);
	size_t b64_cap = 4 * ((raw_len + 2) / 3) + 1;
	char *line = malloc(b64_cap + 16);
	int rc = -1;

	if (raw == NULL || line == NULL) {
		cerr(c, "out of memory");
		goto out;
	}
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, password, pl);
	memcpy(line, "AUTH PLAIN ", 11);
	int n = EVP_EncodeBlock((unsigned char *)line + 11, raw, (int)raw_len);
	memcpy(line + 11 + n, "\r\n", 2);
	if ((size_t)n + 13 <= POP3C_CMD_MAX) {
		if (send_line(c, line, (size_t)n + 13) == 0)
			rc = expect_ok(c, "the login (AUTH PLAIN)");
	} else {
		/* RFC 5034: an initial response over 255 octets goes after a
		 * continuation instead */
		struct migrate_pop3c_event ev;
		if (send_cmd(c, "AUTH PLAIN") == 0 && read_status(c, false, &ev) == 0) {
			if (!ev.cont)
				cerr(c, "old server refused the login (AUTH PLAIN): %s", ev.text);
			else if (send_line(c, line + 11, (size_t)n + 2) == 0)
				rc = expect_ok(c, "the login (AUTH PLAIN)");
		}
	}
	OPENSSL_cleanse(line, b64_cap + 16);
out:
	if (raw != NULL)
		OPENSSL_cleanse(raw, raw_len);
	free(raw);
	free(line);
	return rc;
}

int migrate_pop3c_login(struct migrate_pop3c *c, const char *user, const char *password)
{
	size_t ul = strlen(user), pl = strlen(password);
	char line[POP3C_PASS_MAX + 8];

	if (ul == 0 || ul > 255 || strpbrk(user, "\r\n") != NULL)
		return cerr(c, "--from-user: 1..255 octets without line breaks");
	if (pl == 0 || pl > POP3C_PASS_MAX || strpbrk(password, "\r\n") != NULL)
		return cerr(c, "the old server's password: 1..%d octets without line breaks",
		    POP3C_PASS_MAX);
	if (c->cap_sasl_plain)
		return auth_plain(c, user, password);
	if (send_cmd(c, "USER %s", user) != 0 || expect_ok(c, "USER") != 0)
		return -1;
	int n = snprintf(line, sizeof(line), "PASS %s\r\n", password);
	int rc = send_line(c, line, (size_t)n);
	OPENSSL_cleanse(line, sizeof(line));
	if (rc != 0)
		return -1;
	return expect_ok(c, "the login (PASS)");
}

static int cmp_num(const void *a, const void *b)
{
	uint32_t x = ((const struct migrate_pop3c_msg *)a)->num, y = ((const struct migrate_pop3c_msg *)b)->num;
	return x < y ? -1 : x > y;
}

static int cmp_uidl(const void *a, const void *b)
{
	const struct migrate_pop3c_msg *const *x = a, *const *y = b;
	return strcmp((*x)->uidl, (*y)->uidl);
}

/* Read LIST's data into msgs (sorted later). */
static int read_list(struct migrate_pop3c *c, struct migrate_pop3c_msg **v, size_t *n, size_t *cap)
{
	struct migrate_pop3c_event ev;
	enum migrate_pop3c_ev k;

	if (read_status(c, true, &ev) != 0)
		return -1;
	if (!ev.ok)
		return cerr(c, "old server refused LIST: %s", ev.text);
	for (;;) {
		if (next_event(c, &ev, &k) != 0)
			return -1;
		if (k == POP3C_EV_END)
			return 0;
		if (k != POP3C_EV_DATA)
			return cerr(c, "old server: a LIST line too long or holding a NUL");
		uint32_t num;
		uint64_t size;
		if (migrate_pop3c_parse_list(ev.line, ev.len, &num, &size) != 0)
			return cerr(c, "old server: bad LIST line %zu", *n + 1);
		if (*n >= POP3C_MSGS_MAX)
			return cerr(c, "old server: more than %d messages", POP3C_MSGS_MAX);
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 1024;
			struct migrate_pop3c_msg *p = realloc(*v, nc * sizeof(*p));
			if (p == NULL)
				return cerr(c, "out of memory");
			*v = p;
			*cap = nc;
		}
		(*v)[*n].num = num;
		(*v)[*n].size = size;
		(*v)[*n].uidl[0] = '\0';
		(*n)++;
	}
}

static int read_uidl(struct migrate_pop3c *c, struct migrate_pop3c_msg *v, size_t n)
{
	struct migrate_pop3c_event ev;
	enum migrate_pop3c_ev k;
	size_t lines = 0;

	if (read_status(c, true, &ev) != 0)
		return -1;
	if (!ev.ok)
		return cerr(c, "old server refused UIDL: %s", ev.text);
	for (;;) {
		if (next_event(c, &ev, &k) != 0)
			return -1;
		if (k == POP3C_EV_END)
			break;
		lines++;
		if (k != POP3C_EV_DATA)
			return cerr(c, "old server: UIDL line %zu too long or holding a NUL", lines);
		struct migrate_pop3c_msg key;
		if (migrate_pop3c_parse_uidl(ev.line, ev.len, &key.num, key.uidl) != 0)
			return cerr(c, "old server: UIDL line %zu is not \"N UIDL\" with a UIDL of "
			    "1..70 printable octets", lines);
		struct migrate_pop3c_msg *m = n ? bsearch(&key, v, n, sizeof(*v), cmp_num) : NULL;
		if (m == NULL)
			return cerr(c, "old server: UIDL names message %u, which LIST did not",
			    key.num);
		if (m->uidl[0])
			return cerr(c, "old server: UIDL names message %u twice", key.num);
		memcpy(m->uidl, key.uidl, sizeof(key.uidl));
	}
	for (size_t i = 0; i < n; i++)
		if (!v[i].uidl[0])
			return cerr(c, "old server: no UIDL for message %u", v[i].num);
	return 0;
}

static int check_unique(struct migrate_pop3c *c, const struct migrate_pop3c_msg *v, size_t n)
{
	const struct migrate_pop3c_msg **p = malloc((n ? n : 1) * sizeof(*p));
	int rc = 0;

	if (p == NULL)
		return cerr(c, "out of memory");
	for (size_t i = 0; i < n; i++)
		p[i] = &v[i];
	qsort(p, n, sizeof(*p), cmp_uidl);
	for (size_t i = 1; i < n && rc == 0; i++)
		if (strcmp(p[i - 1]->uidl, p[i]->uidl) == 0)
			rc = cerr(c, "old server: messages %u and %u have the same UIDL",
			    p[i - 1]->num, p[i]->num);
	free(p);
	return rc;
}

int migrate_pop3c_listing(struct migrate_pop3c *c, struct migrate_pop3c_msg **out, size_t *n)
{
	struct migrate_pop3c_msg *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (send_cmd(c, "LIST") != 0)
		return -1;
	if (c->cap_pipelining && send_cmd(c, "UIDL") != 0)
		return -1;
	if (read_list(c, &v, n, &cap) != 0)
		goto fail;
	if (*n > 1)
		qsort(v, *n, sizeof(*v), cmp_num);
	for (size_t i = 1; i < *n; i++)
		if (v[i - 1].num == v[i].num) {
			cerr(c, "old server: LIST names message %u twice", v[i].num);
			goto fail;
		}
	if (!c->cap_pipelining && send_cmd(c, "UIDL") != 0)
		goto fail;
	if (read_uidl(c, v, *n) != 0 || check_unique(c, v, *n) != 0)
		goto fail;
	*out = v;
	return 0;
fail:
	free(v);
	*n = 0;
	return -1;
}

/* Read one TOP reply into h. */
static int read_top(struct migrate_pop3c *c, struct migrate_pop3c_hdr *h, unsigned *dropped, bool *ok,
    char *why, size_t whylen)
{
	struct migrate_pop3c_event ev;
	enum migrate_pop3c_ev k;

	migrate_pop3c_hdr_init(h);
	*dropped = 0;
	if (read_status(c, true, &ev) != 0)
		return -1;
	*ok = ev.ok;
	if (!ev.ok) {
		snprintf(why, whylen, "TOP refused: %s", ev.text);
		return 0;
	}
	for (;;) {
		if (next_event(c, &ev, &k) != 0)
			return -1;
		if (k == POP3C_EV_END)
			return 0;
		if (k == POP3C_EV_DROPPED) {
			if (!h->done)
				(*dropped)++;
			continue;
		}
		migrate_pop3c_hdr_line(h, ev.line, ev.len);
	}
}

int migrate_pop3c_headers(struct migrate_pop3c *c, const struct migrate_pop3c_msg *msgs, size_t n,
    migrate_pop3c_hdr_fn *cb, void *arg)
{
	struct migrate_pop3c_hdr *h = malloc(sizeof(*h));
	size_t window = c->cap_pipelining ? POP3C_WINDOW : 1;
	size_t sent = 0;
	int rc = 0;

	if (h == NULL)
		return cerr(c, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		while (sent < n && sent < i + window && rc == 0)
			rc = send_cmd(c, "TOP %u 0", msgs[sent++].num);
		if (rc != 0)
			break;
		unsigned dropped;
		bool ok;
		char why[POP3C_TEXT_MAX + 32];
		rc = read_top(c, h, &dropped, &ok, why, sizeof(why));
		if (rc == 0 && cb(arg, i, ok ? h : NULL, dropped, ok ? "" : why) != 0)
			rc = cerr(c, "stopped");
	}
	free(h);
	return rc;
}

int migrate_pop3c_quit(struct migrate_pop3c *c)
{
	if (send_cmd(c, "QUIT") != 0 || expect_ok(c, "QUIT") != 0)
		return -1;
	return 0;
}

void migrate_pop3c_close(struct migrate_pop3c *c)
{
	imap_conn_close(&c->conn);
}

void migrate_pop3c_free(struct migrate_pop3c *c)
{
	if (c == NULL)
		return;
	migrate_pop3c_close(c);
	free(c);
}

const char *migrate_pop3c_tls_version(const struct migrate_pop3c *c)
{
	return c->tls ? imap_conn_tls_version(&c->conn) : NULL;
}
