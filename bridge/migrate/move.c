/* bridge/migrate/move.c — the account file: write, read, check, import (see
 * move.h for the format and the contract). */
#include "bridge/migrate/move.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bridge/base/errbuf.h"
#include "bridge/base/hex.h"
#include "bridge/base/text.h"
#include "bridge/base/version.h"
#include "bridge/config/options.h"
#include "bridge/oauth2/grant.h"
#include "bridge/oauth2/token.h"
#include "pop3/base64.h"

#define LABEL_PREFIX "popbridge-account/1 "
#define CHECK_TEXT   "popbridge-account/1 passphrase check"
#define SALT_LEN     16
#define KDF_N        (1u << 15)
#define KDF_R        8
#define KDF_P        1
#define KDF_MEM_MAX  (256u << 20)
#define DIGEST_LEN   32

/* ---- how each sealed column is sealed with a node's key ------------------------ */

struct seal_rule {
	const char *table, *column;
	const char *label;          /* NULL: the upstream password (managed_seal) */
	size_t plain_max;
};

static const struct seal_rule RULES[] = {
	{ "accounts", "secret", NULL, SECRET_PLAINTEXT_MAX },
	{ "oauth2", "client_secret", OAUTH2_LABEL_CLIENT_SECRET, SECRET_TOKEN_MAX },
	{ "oauth2", "refresh_token", OAUTH2_LABEL_REFRESH, SECRET_TOKEN_MAX },
	{ "oauth2", "access_token", OAUTH2_LABEL_ACCESS, SECRET_TOKEN_MAX },
};

static const struct seal_rule *rule_for(const struct state_move_table *t,
    const struct state_move_col *c)
{
	for (size_t i = 0; i < sizeof(RULES) / sizeof(RULES[0]); i++)
		if (strcmp(RULES[i].table, t->name) == 0 && strcmp(RULES[i].column, c->name) == 0)
			return &RULES[i];
	return NULL;
}

/* The longest plaintext the node's seal of this column stores. */
static size_t plain_max(const struct seal_rule *r, const struct state_move_col *c)
{
	size_t fits = (size_t)c->max > SECRET_BLOB_OVERHEAD ?
	    (size_t)c->max - SECRET_BLOB_OVERHEAD : 0;
	return r->plain_max < fits ? r->plain_max : fits;
}

static int node_unseal(const struct managed_key *key, const char *account,
    const struct seal_rule *r, const unsigned char *blob, size_t len, unsigned char *plain,
    size_t cap, size_t *plen, char *err, size_t errlen)
{
	return r->label == NULL
	    ? managed_unseal(key, account, blob, len, plain, cap, plen, err, errlen)
	    : managed_unseal_labelled(key, account, r->label, blob, len, plain, cap, plen, err,
	        errlen);
}

static int node_seal(const struct managed_key *key, const char *account,
    const struct seal_rule *r, const unsigned char *plain, size_t plen, unsigned char *blob,
    size_t cap, size_t *blen, char *err, size_t errlen)
{
	return r->label == NULL
	    ? managed_seal(key, account, plain, plen, blob, cap, blen, err, errlen)
	    : managed_seal_labelled(key, account, r->label, plain, plen, blob, cap, blen, err,
	        errlen);
}

/* The label a secret is sealed under in the file ("popbridge-account/1
 * TABLE.COLUMN"), with the account name (managed_seal_labelled's AAD). */
static void file_label(char *buf, size_t cap, const struct state_move_table *t,
    const struct state_move_col *c)
{
	snprintf(buf, cap, LABEL_PREFIX "%s.%s", t->name, c->name);
}

#define SECRET_BUF (SECRET_TOKEN_MAX + SECRET_BLOB_OVERHEAD + 1)

/* ---- base64 (strict: padded, the standard alphabet, nothing else) --------------- */

static char *b64_encode(const unsigned char *p, size_t n)
{
	if (n > (size_t)INT32_MAX / 2)
		return NULL;
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	if (s != NULL)
		EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

static void free_secret_text(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

/* Decode s (len octets) into a malloc'd buffer with a NUL after the
 * octets. 0, or -1 when s is not strict base64 (pop3/base64.h: exactly one
 * accepted encoding per byte string) or out of memory. */
static int b64_decode(const char *s, size_t len, unsigned char **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (len % 4 != 0 || len > (size_t)INT32_MAX)
		return -1;
	size_t cap = len / 4 * 3 + 1;
	unsigned char *buf = malloc(cap);
	if (buf == NULL)
		return -1;
	long got = pop3_base64_decode(s, len, (char *)buf, cap);
	if (got < 0) {
		OPENSSL_cleanse(buf, cap);
		free(buf);
		return -1;
	}
	*n = (size_t)got;
	*out = buf;
	return 0;
}

static void free_octets(unsigned char *p, size_t n)
{
	if (p != NULL) {
		OPENSSL_cleanse(p, n);
		free(p);
	}
}

/* ---- the digest over the lines: SHA-256, or HMAC-SHA256 with a passphrase ------ */

struct digest {
	EVP_MD_CTX *md;
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx;
};

static int digest_init(struct digest *d, const unsigned char *mac_key)
{
	memset(d, 0, sizeof(*d));
	if (mac_key == NULL) {
		d->md = EVP_MD_CTX_new();
		return d->md != NULL && EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) == 1 ? 0 : -1;
	}
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	d->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	d->mctx = d->mac ? EVP_MAC_CTX_new(d->mac) : NULL;
	return d->mctx != NULL && EVP_MAC_init(d->mctx, mac_key, DIGEST_LEN, params) == 1 ? 0 : -1;
}

static int digest_update(struct digest *d, const void *p, size_t n)
{
	if (d->md != NULL)
		return EVP_DigestUpdate(d->md, p, n) == 1 ? 0 : -1;
	return d->mctx != NULL && EVP_MAC_update(d->mctx, p, n) == 1 ? 0 : -1;
}

static int digest_final(struct digest *d, unsigned char out[DIGEST_LEN])
{
	unsigned int n = 0;
	size_t m = 0;
	if (d->md != NULL)
		return EVP_DigestFinal_ex(d->md, out, &n) == 1 && n == DIGEST_LEN ? 0 : -1;
	return d->mctx != NULL && EVP_MAC_final(d->mctx, out, &m, DIGEST_LEN) == 1 &&
	    m == DIGEST_LEN ? 0 : -1;
}

static void digest_free(struct digest *d)
{
	EVP_MD_CTX_free(d->md);
	EVP_MAC_CTX_free(d->mctx);
	EVP_MAC_free(d->mac);
	memset(d, 0, sizeof(*d));
}

/* ---- the passphrase's keys ---------------------------------------------------- */

struct pass_keys {
	struct managed_key seal;                 /* seals the secrets */
	unsigned char mac[DIGEST_LEN];           /* the HMAC key */
};

static void pass_keys_clear(struct pass_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static bool kdf_params_ok(uint64_t n, uint64_t r, uint64_t p)
{
	return n >= (1u << 14) && n <= (1u << 20) && (n & (n - 1)) == 0 && r >= 1 && r <= 16 &&
	    p >= 1 && p <= 4 && 128 * n * r <= KDF_MEM_MAX;
}

static int derive(const char *passphrase, const unsigned char *salt, size_t salt_len,
    uint64_t n, uint64_t r, uint64_t p, struct pass_keys *k, char *err, size_t errlen)
{
	unsigned char out[SECRET_KEY_LEN + DIGEST_LEN];

	if (EVP_PBE_scrypt(passphrase, strlen(passphrase), salt, salt_len, n, r, p,
	    KDF_MEM_MAX + (16u << 20), out, sizeof(out)) != 1)
		return base_errf(err, errlen, "scrypt failed (OpenSSL)");
	memcpy(k->seal.bytes, out, SECRET_KEY_LEN);
	memcpy(k->mac, out + SECRET_KEY_LEN, DIGEST_LEN);
	OPENSSL_cleanse(out, sizeof(out));
	return 0;
}

static int check_value(const struct pass_keys *k, unsigned char out[DIGEST_LEN])
{
	size_t n = 0;
	return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->mac, DIGEST_LEN,
	    (const unsigned char *)CHECK_TEXT, strlen(CHECK_TEXT), out, DIGEST_LEN, &n) != NULL &&
	    n == DIGEST_LEN ? 0 : -1;
}

/* ---- counting what a file holds --------------------------------------------------- */

static void count_row(struct migrate_move_stats *st, size_t ti, const struct state_move_table *t,
    const struct state_move_value *v)
{
	if (st == NULL)
		return;
	st->rows++;
	if (ti < sizeof(st->table_rows) / sizeof(st->table_rows[0]))
		st->table_rows[ti]++;
	if (strcmp(t->name, "devices") == 0)
		st->devices++;
	else if (strcmp(t->name, "messages") == 0)
		st->messages++;
	for (size_t c = 0; c < t->ncol; c++) {
		if ((t->cols[c].flags & STATE_MC_SEALED) && !v[c].null)
			st->secrets++;
		if (strcmp(t->name, "journal") == 0 && strcmp(t->cols[c].name, "state") == 0 &&
		    !v[c].null && v[c].i != STATE_JOURNAL_DONE)
			st->pending++;
	}
}

static size_t table_index(const struct state_move_table *t)
{
	size_t n;
	const struct state_move_table *all = state_move_tables(&n);
	return (size_t)(t - all);
}

/* ---- writing ------------------------------------------------------------------ */

struct writer {
	FILE *out;
	struct digest dg;
	const struct managed_key *node;
	bool sealed;
	struct pass_keys pk;
	const char *account;
	struct migrate_move_stats st;
	char err[PB_ERR_MAX];
	bool failed;
};

/* Write o as one line (and free it); -1 with w->err. */
static int write_line(struct writer *w, json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return base_errf(w->err, sizeof(w->err), "out of memory (or text JSON cannot "
		    "hold)");
	size_t n = strlen(s);
	int rc = 0;
	if (n + 1 > MIGRATE_MOVE_LINE_MAX)
		rc = base_errf(w->err, sizeof(w->err), "a record is longer than %d octets",
		    MIGRATE_MOVE_LINE_MAX);
	else if (digest_update(&w->dg, s, n) != 0 || digest_update(&w->dg, "\n", 1) != 0)
		rc = base_errf(w->err, sizeof(w->err), "digest failed (OpenSSL)");
	else if (fwrite(s, 1, n, w->out) != n || fputc('\n', w->out) == EOF)
		rc = base_errf(w->err, sizeof(w->err), "writing failed");
	free_secret_text(s);
	return rc;
}

/* o[name] = v (v stolen); -1 when either is NULL or it fails. */
static int set(json_t *o, const char *name, json_t *v)
{
	if (o == NULL || v == NULL) {
		json_decref(v);
		return -1;
	}
	return json_object_set_new(o, name, v);
}

/* {"KIND": base64 of p} */
static json_t *b64_object(const char *kind, const unsigned char *p, size_t n)
{
	char *s = b64_encode(p, n);
	json_t *o = s ? json_pack("{s:s}", kind, s) : NULL;
	free_secret_text(s);
	return o;
}

/* A sealed column: opened with the node's key, written clear or sealed
 * with the passphrase. */
static json_t *secret_value(struct writer *w, const struct state_move_table *t,
    const struct state_move_col *c, const struct state_move_value *v)
{
	const struct seal_rule *r = rule_for(t, c);
	unsigned char *plain = malloc(SECRET_BUF), *blob = malloc(SECRET_BUF);
	size_t plen = 0, blen = 0;
	char err[PB_ERR_MAX];
	json_t *o = NULL;

	if (plain == NULL || blob == NULL) {
		base_errf(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	if (r == NULL) {
		base_errf(w->err, sizeof(w->err), "%s.%s: no rule to open it (a bug)", t->name,
		    c->name);
		goto out;
	}
	if (w->node == NULL) {
		base_errf(w->err, sizeof(w->err), "%s.%s holds a secret, but no key file was "
		    "loaded", t->name, c->name);
		goto out;
	}
	if (node_unseal(w->node, w->account, r, v->p, v->len, plain, SECRET_BUF - 1, &plen, err,
	    sizeof(err)) != 0) {
		base_errf(w->err, sizeof(w->err), "%s.%s: %s", t->name, c->name, err);
		goto out;
	}
	if (!w->sealed) {
		o = b64_object("clear", plain, plen);
	} else {
		char label[96];
		file_label(label, sizeof(label), t, c);
		if (managed_seal_labelled(&w->pk.seal, w->account, label, plain, plen, blob,
		    SECRET_BUF, &blen, err, sizeof(err)) != 0)
			base_errf(w->err, sizeof(w->err), "%s.%s: %s", t->name, c->name, err);
		else
			o = b64_object("sealed", blob, blen);
	}
	if (o == NULL && w->err[0] == '\0')
		base_errf(w->err, sizeof(w->err), "out of memory");
out:
	free_octets(plain, SECRET_BUF);
	free_octets(blob, SECRET_BUF);
	return o;
}

/* Text: a JSON string when it is UTF-8, else {"base64": ...}. */
static json_t *text_json(const unsigned char *p, size_t len)
{
	json_t *s = json_stringn((const char *)p, len);
	return s != NULL ? s : b64_object("base64", p, len);
}

static json_t *plain_value(const struct state_move_col *c, const struct state_move_value *v)
{
	if (v->null)
		return json_null();
	if (c->type == STATE_MT_INT)
		return json_integer((json_int_t)v->i);
	if (c->type == STATE_MT_TEXT)
		return text_json(v->p, v->len);
	return b64_object("base64", v->p, v->len);
}

static int write_row(void *arg, const struct state_move_table *t,
    const struct state_move_value *v)
{
	struct writer *w = arg;
	json_t *row = json_object();

	for (size_t c = 0; row != NULL && c < t->ncol; c++) {
		const struct state_move_col *col = &t->cols[c];
		json_t *val = (col->flags & STATE_MC_SEALED) && !v[c].null
		    ? secret_value(w, t, col, &v[c]) : plain_value(col, &v[c]);
		if (val == NULL || json_object_set_new(row, col->name, val) != 0) {
			if (w->err[0] == '\0')
				base_errf(w->err, sizeof(w->err), "out of memory");
			json_decref(row);
			row = NULL;
		}
	}
	json_t *line = json_object();
	if (set(line, "table", json_string(t->name)) != 0 || set(line, "row", row) != 0) {
		json_decref(line);
		line = NULL;
	}
	if (line == NULL && w->err[0] == '\0')
		base_errf(w->err, sizeof(w->err), "out of memory");
	if (line == NULL || write_line(w, line) != 0) {
		w->failed = true;
		return 1;
	}
	count_row(&w->st, table_index(t), t, v);
	return 0;
}

static json_t *header_json(struct writer *w, const struct state_account *a, int64_t now,
    const unsigned char *salt, const unsigned char *check)
{
	char host[256] = "", utc[32] = "";
	struct tm tm;
	time_t tt = (time_t)now;

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	if (gmtime_r(&tt, &tm) != NULL)
		strftime(utc, sizeof(utc), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *secrets = json_object();
	int bad = set(secrets, "mode", json_string(w->sealed ? "passphrase" : "clear"));
	if (w->sealed) {
		char *s = b64_encode(salt, SALT_LEN), *k = b64_encode(check, DIGEST_LEN);
		bad |= set(secrets, "kdf", json_string("scrypt"));
		bad |= set(secrets, "n", json_integer(KDF_N));
		bad |= set(secrets, "r", json_integer(KDF_R));
		bad |= set(secrets, "p", json_integer(KDF_P));
		bad |= set(secrets, "salt", s ? json_string(s) : NULL);
		bad |= set(secrets, "cipher", json_string("aes-256-gcm"));
		bad |= set(secrets, "check", k ? json_string(k) : NULL);
		free(s);
		free(k);
	}
	json_t *h = json_object();
	bad |= set(h, "format", json_string(MIGRATE_MOVE_FORMAT));
	bad |= set(h, "version", json_integer(MIGRATE_MOVE_VERSION));
	bad |= set(h, "account", text_json((const unsigned char *)a->name, strlen(a->name)));
	bad |= set(h, "auth", json_string(a->auth == STATE_AUTH_MANAGED ? "managed" :
	    "passthrough"));
	bad |= set(h, "exported", json_integer((json_int_t)now));
	bad |= set(h, "exported_utc", json_string(utc));
	/* the host name is for people: text JSON can carry */
	json_t *hs = json_string(host);
	bad |= set(h, "host", hs ? hs : json_string("?"));
	bad |= set(h, "popbridge", json_string(POPBRIDGE_VERSION));
	bad |= set(h, "schema", json_integer(state_schema_version()));
	bad |= set(h, "secrets", secrets);
	if (bad) {
		json_decref(h);
		return NULL;
	}
	return h;
}

int migrate_move_export(struct state_db *db, const struct state_account *a,
    const struct managed_key *key, const char *passphrase, FILE *out,
    struct migrate_move_stats *st, char *err, size_t errlen)
{
	struct writer *w = calloc(1, sizeof(*w));
	unsigned char salt[SALT_LEN], check[DIGEST_LEN], sum[DIGEST_LEN];
	int ret = -1;

	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (w == NULL)
		return base_errf(err, errlen, "out of memory");
	oauth2_json_init();
	w->out = out;
	w->node = key;
	w->account = a->name;
	w->sealed = passphrase != NULL;
	if (w->sealed) {
		if (RAND_bytes(salt, sizeof(salt)) != 1) {
			base_errf(err, errlen, "no random bytes from OpenSSL");
			goto out;
		}
		if (derive(passphrase, salt, sizeof(salt), KDF_N, KDF_R, KDF_P, &w->pk, err,
		    errlen) != 0)
			goto out;
		if (check_value(&w->pk, check) != 0) {
			base_errf(err, errlen, "HMAC failed (OpenSSL)");
			goto out;
		}
	}
	if (digest_init(&w->dg, w->sealed ? w->pk.mac : NULL) != 0) {
		base_errf(err, errlen, "digest failed (OpenSSL)");
		goto out;
	}
	if (write_line(w, header_json(w, a, (int64_t)time(NULL), salt, check)) != 0) {
		base_errf(err, errlen, "%s", w->err);
		goto out;
	}
	int rc = state_move_dump(db, a->id, write_row, w);
	if (w->failed) {
		base_errf(err, errlen, "%s", w->err);
		goto out;
	}
	if (rc != STATE_OK) {
		base_errf(err, errlen, "%s", state_errmsg(db));
		goto out;
	}
	char hex[2 * DIGEST_LEN + 1];
	if (digest_final(&w->dg, sum) != 0 || base_hex_encode(hex, sizeof(hex), sum,
	    DIGEST_LEN) != 0) {
		base_errf(err, errlen, "digest failed (OpenSSL)");
		goto out;
	}
	json_t *end = json_pack("{s:{s:I,s:s}}", "end", "rows", (json_int_t)w->st.rows,
	    w->sealed ? "hmac-sha256" : "sha256", hex);
	if (write_line(w, end) != 0) {
		base_errf(err, errlen, "%s", w->err);
		goto out;
	}
	if (fflush(out) != 0 || ferror(out)) {
		base_errf(err, errlen, "writing failed");
		goto out;
	}
	if (st != NULL)
		*st = w->st;
	ret = 0;
out:
	digest_free(&w->dg);
	pass_keys_clear(&w->pk);
	OPENSSL_cleanse(w, sizeof(*w));
	free(w);
	return ret;
}

/* ---- reading ------------------------------------------------------------------- */

struct reader {
	FILE *f;
	char *line;                 /* MIGRATE_MOVE_LINE_MAX + 1 */
	size_t len;                 /* of the line, LF included */
	size_t lineno;
	struct digest dg;
	struct pass_keys pk;
	const char *passphrase;
	struct migrate_move_header *h;
	struct migrate_move_stats st;
	const struct migrate_move_sink *sink;
	const struct state_move_table *tables;
	size_t ntables;
	size_t last_table;
	char *err;
	size_t errlen;
};

/* "line N: ..." into r->err; -1. */
static int rfail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int rfail(struct reader *r, const char *fmt, ...)
{
	char msg[PB_ERR_MAX], shown[PB_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one printable line, whatever the file held (jansson quotes it) */
	base_text_printable_str(shown, sizeof(shown), msg);
	return base_errf(r->err, r->errlen, "line %zu: %s", r->lineno, shown);
}

/* The next line, LF included: 1; 0 at the end of the file; -1 (err). */
static int read_line(struct reader *r)
{
	int c = 0;

	r->len = 0;
	r->lineno++;
	while (r->len < MIGRATE_MOVE_LINE_MAX && (c = getc_unlocked(r->f)) != EOF) {
		r->line[r->len++] = (char)c;
		if (c == '\n')
			break;
	}
	if (ferror(r->f))
		return rfail(r, "reading failed");
	if (r->len == 0)
		return 0;
	if (r->line[r->len - 1] != '\n')
		return c == EOF ? rfail(r, "the file ends in the middle of a line (cut short?)")
		                : rfail(r, "longer than %d octets", MIGRATE_MOVE_LINE_MAX);
	r->line[r->len] = '\0';
	return 1;
}

static json_t *parse_line(struct reader *r)
{
	json_error_t jerr;
	json_t *o = json_loadb(r->line, r->len - 1, JSON_REJECT_DUPLICATES, &jerr);

	if (o == NULL) {
		rfail(r, "not JSON: %s", jerr.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		rfail(r, "not a JSON object");
		return NULL;
	}
	return o;
}

/* Text from a string or {"base64": ...} into *p (owned by the JSON value
 * or, when *owned, malloc'd): 0 or -1. */
static int json_text(json_t *v, const unsigned char **p, size_t *len, unsigned char **owned)
{
	*owned = NULL;
	if (json_is_string(v)) {
		*p = (const unsigned char *)json_string_value(v);
		*len = json_string_length(v);
		return 0;
	}
	json_t *b = json_is_object(v) && json_object_size(v) == 1 ?
	    json_object_get(v, "base64") : NULL;
	if (!json_is_string(b) || b64_decode(json_string_value(b), json_string_length(b), owned,
	    len) != 0)
		return -1;
	*p = *owned;
	return 0;
}

static const char *member_str(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool member_int(json_t *o, const char *name, int64_t *out)
{
	json_t *v = json_object_get(o, name);
	if (!json_is_integer(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

/* Decode strict base64 member `name` of exactly n octets into out. */
static int member_b64(json_t *o, const char *name, unsigned char *out, size_t min, size_t max,
    size_t *n)
{
	json_t *v = json_object_get(o, name);
	unsigned char *p = NULL;
	size_t len = 0;

	if (!json_is_string(v) || b64_decode(json_string_value(v), json_string_length(v), &p,
	    &len) != 0 || len < min || len > max) {
		free(p);
		return -1;
	}
	memcpy(out, p, len);
	free(p);
	*n = len;
	return 0;
}

static int read_secrets(struct reader *r, json_t *s)
{
	const char *mode = json_is_object(s) ? member_str(s, "mode") : NULL;
	if (mode == NULL)
		return rfail(r, "the header has no secrets mode");
	if (strcmp(mode, "clear") == 0) {
		r->h->sealed = false;
		if (r->passphrase != NULL)
			return rfail(r, "the file's secrets are in the clear (it was exported "
			    "without a passphrase): leave --passphrase-file out");
		return digest_init(&r->dg, NULL) == 0 ? 0 : rfail(r, "digest failed (OpenSSL)");
	}
	if (strcmp(mode, "passphrase") != 0)
		return rfail(r, "unknown secrets mode '%s'", BASE_SHOWN(mode));
	r->h->sealed = true;
	const char *kdf = member_str(s, "kdf"), *cipher = member_str(s, "cipher");
	int64_t n = 0, rr = 0, p = 0;
	unsigned char salt[64], check[DIGEST_LEN], want[DIGEST_LEN];
	size_t salt_len = 0, check_len = 0;
	if (kdf == NULL || strcmp(kdf, "scrypt") != 0 || cipher == NULL ||
	    strcmp(cipher, "aes-256-gcm") != 0)
		return rfail(r, "the secrets are sealed with an unknown method (kdf scrypt and "
		    "cipher aes-256-gcm are known)");
	if (!member_int(s, "n", &n) || !member_int(s, "r", &rr) || !member_int(s, "p", &p) ||
	    n < 0 || rr < 0 || p < 0 || !kdf_params_ok((uint64_t)n, (uint64_t)rr, (uint64_t)p))
		return rfail(r, "scrypt parameters out of range (n a power of two 2^14..2^20, "
		    "r 1..16, p 1..4, at most %u MiB)", KDF_MEM_MAX >> 20);
	if (member_b64(s, "salt", salt, 16, sizeof(salt), &salt_len) != 0 ||
	    member_b64(s, "check", check, DIGEST_LEN, DIGEST_LEN, &check_len) != 0)
		return rfail(r, "the salt (16 to 64 octets) or the check value (32 octets) is not "
		    "base64 of its length");
	if (r->passphrase == NULL)
		return rfail(r, "the file's secrets are sealed with a passphrase: give it "
		    "(--passphrase-file)");
	if (derive(r->passphrase, salt, salt_len, (uint64_t)n, (uint64_t)rr, (uint64_t)p, &r->pk,
	    r->err, r->errlen) != 0)
		return -1;
	if (check_value(&r->pk, want) != 0)
		return rfail(r, "HMAC failed (OpenSSL)");
	if (CRYPTO_memcmp(want, check, DIGEST_LEN) != 0)
		return rfail(r, "wrong passphrase (the file was sealed with another one)");
	return digest_init(&r->dg, r->pk.mac) == 0 ? 0 : rfail(r, "digest failed (OpenSSL)");
}

static int read_header(struct reader *r)
{
	struct migrate_move_header *h = r->h;
	int got = read_line(r);

	if (got <= 0)
		return got < 0 ? -1 : rfail(r, "an empty file, not an account file");
	json_t *o = parse_line(r);
	if (o == NULL)
		return -1;
	int rc = -1;
	const char *format = member_str(o, "format"), *auth = member_str(o, "auth");
	int64_t version = 0, schema = 0;
	if (format == NULL || strcmp(format, MIGRATE_MOVE_FORMAT) != 0) {
		rfail(r, "not a popbridge account file (no \"format\": \"%s\")",
		    MIGRATE_MOVE_FORMAT);
		goto out;
	}
	if (!member_int(o, "version", &version) || version < 1) {
		rfail(r, "the header has no format version");
		goto out;
	}
	if (version > MIGRATE_MOVE_VERSION) {
		rfail(r, "format version %lld, written by a newer popbridge (this one reads "
		    "version %d): import it with that version", (long long)version,
		    MIGRATE_MOVE_VERSION);
		goto out;
	}
	h->version = (int)version;
	const unsigned char *name = NULL;
	unsigned char *owned = NULL;
	size_t nlen = 0;
	json_t *acc = json_object_get(o, "account");
	if (acc == NULL || json_text(acc, &name, &nlen, &owned) != 0 ||
	    nlen >= sizeof(h->account) || memchr(name, '\0', nlen) != NULL) {
		free(owned);
		rfail(r, "the header names no account");
		goto out;
	}
	memcpy(h->account, name, nlen);
	h->account[nlen] = '\0';
	free(owned);
	if (!state_account_name_ok(h->account)) {
		rfail(r, "%s", STATE_ACCOUNT_RULE);
		goto out;
	}
	if (auth == NULL || (strcmp(auth, "managed") != 0 && strcmp(auth, "passthrough") != 0)) {
		rfail(r, "the header's auth is not managed or passthrough");
		goto out;
	}
	h->managed = strcmp(auth, "managed") == 0;
	if (!member_int(o, "exported", &h->exported) || h->exported < 0) {
		rfail(r, "the header has no export time");
		goto out;
	}
	if (member_int(o, "schema", &schema) && schema > 0 && schema < 1000000)
		h->schema = (int)schema;
	const char *host = member_str(o, "host"), *pb = member_str(o, "popbridge");
	base_text_printable_str(h->host, sizeof(h->host), host ? host : "");
	base_text_printable_str(h->popbridge, sizeof(h->popbridge), pb ? pb : "");
	if (read_secrets(r, json_object_get(o, "secrets")) != 0)
		goto out;
	if (digest_update(&r->dg, r->line, r->len) != 0) {
		rfail(r, "digest failed (OpenSSL)");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

/* What a row's values point to beyond the JSON: decoded octets. */
struct row_bufs {
	unsigned char *owned[STATE_MOVE_COLS_MAX];
	size_t len[STATE_MOVE_COLS_MAX];
};

static void row_bufs_free(struct row_bufs *b)
{
	for (size_t i = 0; i < STATE_MOVE_COLS_MAX; i++)
		free_octets(b->owned[i], b->len[i] + 1);
	memset(b, 0, sizeof(*b));
}

/* A sealed column's value: the plaintext, opened with the passphrase. */
static int read_secret(struct reader *r, const struct state_move_table *t, size_t c, json_t *v,
    struct state_move_value *out, struct row_bufs *b)
{
	const struct state_move_col *col = &t->cols[c];
	const struct seal_rule *rule = rule_for(t, col);
	const char *kind = r->h->sealed ? "sealed" : "clear";
	json_t *s = json_is_object(v) && json_object_size(v) == 1 ?
	    json_object_get(v, kind) : NULL;
	unsigned char *raw = NULL;
	size_t rlen = 0;

	if (rule == NULL)
		return rfail(r, "%s.%s: no rule to seal it (a bug)", t->name, col->name);
	if (!json_is_string(s) || b64_decode(json_string_value(s), json_string_length(s), &raw,
	    &rlen) != 0)
		return rfail(r, "%s.%s must be null or {\"%s\": BASE64}", t->name, col->name, kind);
	if (!r->h->sealed) {
		b->owned[c] = raw;
		b->len[c] = rlen;
	} else {
		char label[96], err[PB_ERR_MAX];
		unsigned char *plain = malloc(SECRET_BUF);
		size_t plen = 0;
		file_label(label, sizeof(label), t, col);
		int bad = plain == NULL || managed_unseal_labelled(&r->pk.seal, r->h->account,
		    label, raw, rlen, plain, SECRET_BUF - 1, &plen, err, sizeof(err)) != 0;
		free_octets(raw, rlen + 1);
		if (bad) {
			free_octets(plain, SECRET_BUF);
			return rfail(r, "%s.%s does not open with the passphrase: the file was "
			    "altered", t->name, col->name);
		}
		plain[plen] = '\0';
		b->owned[c] = plain;
		b->len[c] = SECRET_BUF - 1;
		rlen = plen;
	}
	if (rlen == 0 || rlen > plain_max(rule, col) || memchr(b->owned[c], '\0', rlen) != NULL)
		return rfail(r, "%s.%s: a secret is 1 to %zu octets of text", t->name, col->name,
		    plain_max(rule, col));
	out->p = b->owned[c];
	out->len = rlen;
	return 0;
}

static int read_value(struct reader *r, const struct state_move_table *t, size_t c, json_t *v,
    struct state_move_value *out, struct row_bufs *b)
{
	const struct state_move_col *col = &t->cols[c];

	memset(out, 0, sizeof(*out));
	if (json_is_null(v)) {
		out->null = true;
		return 0;
	}
	if (col->flags & STATE_MC_SEALED)
		return read_secret(r, t, c, v, out, b);
	if (col->type == STATE_MT_INT) {
		if (!json_is_integer(v))
			return rfail(r, "%s.%s must be an integer or null", t->name, col->name);
		out->i = (int64_t)json_integer_value(v);
		return 0;
	}
	if (json_text(v, &out->p, &out->len, &b->owned[c]) != 0 ||
	    (col->type == STATE_MT_BLOB && json_is_string(v)))
		return rfail(r, "%s.%s must be %s, {\"base64\": BASE64} or null", t->name,
		    col->name, col->type == STATE_MT_TEXT ? "a string" : "of the form");
	b->len[c] = out->len;
	return 0;
}

static const struct state_move_table *find_table(struct reader *r, const char *name, size_t *ti)
{
	for (size_t i = 0; i < r->ntables; i++)
		if (strcmp(r->tables[i].name, name) == 0) {
			*ti = i;
			return &r->tables[i];
		}
	return NULL;
}

static int read_row(struct reader *r, json_t *o)
{
	const char *name = member_str(o, "table");
	json_t *row = json_object_get(o, "row");
	struct state_move_value v[STATE_MOVE_COLS_MAX];
	struct row_bufs b;
	size_t ti = 0;
	char err[PB_ERR_MAX];
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (name == NULL || !json_is_object(row) || json_object_size(o) != 2)
		return rfail(r, "a record is {\"table\": NAME, \"row\": {...}} or the end record");
	const struct state_move_table *t = find_table(r, name, &ti);
	if (t == NULL)
		return rfail(r, "unknown table '%s' (a file of a newer popbridge? its rows would "
		    "be lost: import it with that version)", BASE_SHOWN(name));
	if (ti < r->last_table)
		return rfail(r, "%s rows after %s rows (the tables come in a fixed order)",
		    t->name, r->tables[r->last_table].name);
	if (r->st.rows >= MIGRATE_MOVE_ROWS_MAX)
		return rfail(r, "more than %d rows", MIGRATE_MOVE_ROWS_MAX);
	r->last_table = ti;
	const char *key;
	json_t *val;
	json_object_foreach(row, key, val) {
		size_t c = 0;
		while (c < t->ncol && strcmp(t->cols[c].name, key) != 0)
			c++;
		if (c == t->ncol)
			return rfail(r, "%s has no column '%s' (a file of a newer popbridge?)",
			    t->name, BASE_SHOWN(key));
	}
	for (size_t c = 0; c < t->ncol; c++) {
		val = json_object_get(row, t->cols[c].name);
		if (val == NULL) {
			rfail(r, "%s row without its column %s", t->name, t->cols[c].name);
			goto out;
		}
		if (read_value(r, t, c, val, &v[c], &b) != 0)
			goto out;
	}
	if (state_move_row_check(t, v, err, sizeof(err)) != 0) {
		rfail(r, "%s: %s", t->name, err);
		goto out;
	}
	if (ti == 0 && (v[0].len != strlen(r->h->account) ||
	    memcmp(v[0].p, r->h->account, v[0].len) != 0)) {
		rfail(r, "the accounts row names another account than the header");
		goto out;
	}
	if (r->sink != NULL && r->sink->row != NULL &&
	    r->sink->row(r->sink->arg, t, v, err, sizeof(err)) != 0) {
		rfail(r, "%s", err);
		goto out;
	}
	count_row(&r->st, ti, t, v);
	rc = 0;
out:
	row_bufs_free(&b);
	return rc;
}

static int read_end(struct reader *r, json_t *o)
{
	json_t *end = json_object_get(o, "end");
	const char *kind = r->h->sealed ? "hmac-sha256" : "sha256";
	const char *hex = json_is_object(end) ? member_str(end, kind) : NULL;
	unsigned char want[DIGEST_LEN], got[DIGEST_LEN];
	int64_t rows = -1;
	size_t n = 0;

	if (json_object_size(o) != 1 || hex == NULL || !member_int(end, "rows", &rows) ||
	    json_object_size(end) != 2 || strlen(hex) != 2 * DIGEST_LEN ||
	    base_hex_decode(want, sizeof(want), &n, hex, strlen(hex)) != 0 || n != DIGEST_LEN)
		return rfail(r, "the end record is {\"end\": {\"rows\": N, \"%s\": HEX}}", kind);
	if (rows < 0 || (uint64_t)rows != r->st.rows)
		return rfail(r, "the end record counts %lld rows, the file has %zu (rows were "
		    "removed or added)", (long long)rows, r->st.rows);
	if (digest_final(&r->dg, got) != 0)
		return rfail(r, "digest failed (OpenSSL)");
	if (CRYPTO_memcmp(want, got, DIGEST_LEN) != 0)
		return rfail(r, "the file does not match its %s: it was altered or damaged",
		    r->h->sealed ? "HMAC (made with the passphrase)" : "SHA-256");
	return 0;
}

int migrate_move_read(FILE *f, const char *passphrase, const struct migrate_move_sink *sink,
    struct migrate_move_header *h, struct migrate_move_stats *st, char *err, size_t errlen)
{
	struct reader *r = calloc(1, sizeof(*r));
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (st != NULL)
		memset(st, 0, sizeof(*st));
	if (r == NULL || (r->line = malloc(MIGRATE_MOVE_LINE_MAX + 1)) == NULL) {
		if (r != NULL)
			free(r);
		return base_errf(err, errlen, "out of memory");
	}
	oauth2_json_init();
	r->f = f;
	r->passphrase = passphrase;
	r->h = h;
	r->sink = sink;
	r->err = err;
	r->errlen = errlen;
	r->tables = state_move_tables(&r->ntables);
	if (read_header(r) != 0)
		goto out;
	char serr[PB_ERR_MAX];
	if (sink != NULL && sink->header != NULL &&
	    sink->header(sink->arg, h, serr, sizeof(serr)) != 0) {
		rfail(r, "%s", serr);
		goto out;
	}
	for (;;) {
		int got = read_line(r);
		if (got < 0)
			goto out;
		if (got == 0) {
			rfail(r, "the file ends before its end record (cut short?)");
			goto out;
		}
		json_t *o = parse_line(r);
		if (o == NULL)
			goto out;
		bool is_end = json_object_get(o, "end") != NULL;
		int bad = is_end ? read_end(r, o) : read_row(r, o);
		json_decref(o);
		if (bad)
			goto out;
		if (is_end)
			break;
		if (digest_update(&r->dg, r->line, r->len) != 0) {
			rfail(r, "digest failed (OpenSSL)");
			goto out;
		}
	}
	int more = read_line(r);
	if (more != 0) {
		if (more > 0)
			rfail(r, "data after the end record");
		goto out;
	}
	if (st != NULL)
		*st = r->st;
	rc = 0;
out:
	digest_free(&r->dg);
	pass_keys_clear(&r->pk);
	OPENSSL_cleanse(r->line, MIGRATE_MOVE_LINE_MAX + 1);
	free(r->line);
	free(r);
	return rc;
}

/* ---- importing ------------------------------------------------------------------ */

struct importer {
	struct state_db *db;
	const struct managed_key *key;
	struct state_move_load *ld;
	int64_t replaced;
	char account[STATE_ACCOUNT_MAX + 1];
};

static int import_header(void *arg, const struct migrate_move_header *h, char *err,
    size_t errlen)
{
	struct importer *im = arg;

	snprintf(im->account, sizeof(im->account), "%s", h->account);
	if (state_move_load_begin(im->db, h->account, &im->replaced, &im->ld) != STATE_OK)
		return base_errf(err, errlen, "%s", state_errmsg(im->db));
	return 0;
}

static int import_row(void *arg, const struct state_move_table *t,
    const struct state_move_value *v, char *err, size_t errlen)
{
	struct importer *im = arg;
	struct state_move_value sealed[STATE_MOVE_COLS_MAX];
	unsigned char *blobs[STATE_MOVE_COLS_MAX] = { 0 };
	int rc = -1;

	memcpy(sealed, v, t->ncol * sizeof(*v));
	for (size_t c = 0; c < t->ncol; c++) {
		const struct state_move_col *col = &t->cols[c];
		if (!(col->flags & STATE_MC_SEALED) || v[c].null)
			continue;
		const struct seal_rule *rule = rule_for(t, col);
		size_t blen = 0;
		if (im->key == NULL) {
			base_errf(err, errlen, "%s.%s holds a secret, but no key file was loaded",
			    t->name, col->name);
			goto out;
		}
		blobs[c] = malloc(SECRET_BUF);
		if (blobs[c] == NULL || rule == NULL || node_seal(im->key, im->account, rule,
		    v[c].p, v[c].len, blobs[c], SECRET_BUF, &blen, err, errlen) != 0) {
			if (blobs[c] == NULL || rule == NULL)
				base_errf(err, errlen, "%s.%s: cannot seal it", t->name, col->name);
			goto out;
		}
		sealed[c].p = blobs[c];
		sealed[c].len = blen;
	}
	if (state_move_load_row(im->ld, t, sealed) != STATE_OK) {
		base_errf(err, errlen, "%s", state_errmsg(im->db));
		goto out;
	}
	rc = 0;
out:
	for (size_t c = 0; c < t->ncol; c++)
		free_octets(blobs[c], SECRET_BUF);
	return rc;
}

int migrate_move_import(struct state_db *db, FILE *in, const char *passphrase,
    const struct managed_key *key, struct migrate_move_stats *st, int64_t *replaced,
    char *err, size_t errlen)
{
	struct importer im = { .db = db, .key = key };
	struct migrate_move_sink sink = { import_header, import_row, &im };
	struct migrate_move_header h;

	if (replaced != NULL)
		*replaced = 0;
	if (migrate_move_read(in, passphrase, &sink, &h, st, err, errlen) != 0) {
		state_move_load_abort(im.ld);
		return -1;
	}
	if (state_move_load_commit(im.ld) != STATE_OK)
		return base_errf(err, errlen, "%s", state_errmsg(db));
	if (replaced != NULL)
		*replaced = im.replaced;
	return 0;
}
