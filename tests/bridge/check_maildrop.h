/* tests/bridge/check_maildrop.h — helpers shared by the check_maildrop*.c
 * programs (header-only: the Makefile builds only check_*.c).
 *
 * They drive maildrop_ops directly, as the POP3 engine does, against
 * the real Dovecot of tests/lib/dovecot.h, and check what happened upstream
 * through an independent IMAP session (the imap/ library, logged in as the
 * same user). Each test uses its own Dovecot user and its own state file,
 * so tests in one Dovecot instance never see each other's mail.
 *
 * The sink runs the engine's own conversion (pop3/dotstuff.h) over what
 * fetch() delivers, so the octet count handed to retrieved() is exactly what
 * the engine would pass, and keeps a SHA-256 of the raw bytes to compare
 * with the upstream BODY[].
 */
#ifndef CHECK_MAILDROP_H
#define CHECK_MAILDROP_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/config/options.h"
#include "bridge/guard/throttle.h"
#include "imap/imap.h"
#include "pop3/dotstuff.h"
#include "state/state.h"
#include "tests/lib/dovecot.h"
#include "tests/lib/msggen.h"
#include "tests/lib/testutil.h"

#define MDT_PASS "pw-Secret1"

static struct pbt_dovecot *dc;

static __attribute__((unused)) void mdt_dc_setup(void)
{
	dc = pbt_dovecot_start();
	ck_assert_ptr_nonnull(dc);
}

/* Dovecot 2.3's own list, less MOVE; less MOVE and UIDPLUS. */
#define CAPS_BASE "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT LITERAL+" \
	" NAMESPACE UNSELECT CHILDREN LIST-EXTENDED LIST-STATUS I18NLEVEL=1 CONDSTORE" \
	" QRESYNC ESEARCH SEARCHRES WITHIN SPECIAL-USE BINARY"
#define CAPS_NO_MOVE CAPS_BASE " UIDPLUS"
#define CAPS_BARE    CAPS_BASE

/* The harness Dovecot announcing caps (imap_capability) instead of its own
 * list: the bridge goes by what is announced. */
static __attribute__((unused)) void mdt_dc_setup_caps(const char *caps)
{
	char conf[1024];

	snprintf(conf, sizeof(conf), "imap_capability = %s\n", caps);
	dc = pbt_dovecot_start_with(conf);
	ck_assert_ptr_nonnull(dc);
}

static __attribute__((unused)) void mdt_dc_teardown(void)
{
	pbt_dovecot_stop(dc);
	dc = NULL;
}

/* ---- the process context, as serve builds it ------------------------------ */

struct mdt_env {
	struct config_options opt;
	struct maildrop_ctx ctx;
	char user[64];
	char db[512];
	uint64_t fake_ms;        /* the failed-login delay's clock */
};

static __attribute__((unused)) uint64_t mdt_clock(void *arg)
{
	return *(uint64_t *)arg;
}

static __attribute__((unused)) void mdt_sleep(void *arg, unsigned ms)
{
	*(uint64_t *)arg += ms;
}

/* The process context for user against the IMAP server on 127.0.0.1:port
 * in plaintext: a state file of its own in dir, upstream timeout 5 s, then
 * the "key", "value" pairs of ap (NULL ends), e.g. "dele", "trash". */
static __attribute__((unused)) void mdt_env_setv(struct mdt_env *e, const char *user,
    const char *dir, int port, va_list ap)
{
	char err[PB_ERR_MAX], url[64];

	memset(e, 0, sizeof(*e));
	e->fake_ms = 1000000;
	snprintf(e->user, sizeof(e->user), "%s", user);
	snprintf(e->db, sizeof(e->db), "%s/state-%s.db", dir, user);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", port);
	config_options_init(&e->opt);
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_UPSTREAM_TLS, "none", err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_UPSTREAM_TIMEOUT, "5", err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&e->opt, PB_K_STATE, e->db, err, sizeof(err)), 0);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (k == NULL)
			break;
		const char *v = va_arg(ap, const char *);
		int key = config_key_lookup(k);
		ck_assert_int_ge(key, 0);
		ck_assert_msg(config_options_set(&e->opt, (enum config_key)key, v, err, sizeof(err)) == 0,
		    "%s", err);
	}
	ck_assert_msg(config_options_finish(&e->opt, true, NULL, err, sizeof(err)) == 0, "%s", err);
	maildrop_ctx_init(&e->ctx);
	e->ctx.opt = &e->opt;
	e->ctx.devlocks = maildrop_devlocks_new();
	/* The failed-login delay runs on a clock of its own that its sleeps
	 * advance: tests see every delay and never wait for one. */
	e->ctx.throttle = guard_throttle_new(64, mdt_clock, mdt_sleep, &e->fake_ms);
	ck_assert_ptr_nonnull(e->ctx.devlocks);
	ck_assert_ptr_nonnull(e->ctx.throttle);
}

/* mdt_env_setv against the test Dovecot; adds the Dovecot user. */
static __attribute__((unused)) void mdt_env_init(struct mdt_env *e, const char *user, ...)
{
	va_list ap;

	va_start(ap, user);
	mdt_env_setv(e, user, dc->dir, dc->imap_port, ap);
	va_end(ap);
	ck_assert_int_eq(pbt_dovecot_add_user(dc, user, MDT_PASS), 0);
}

static __attribute__((unused)) void mdt_env_free(struct mdt_env *e)
{
	ck_assert_uint_eq(maildrop_devlocks_count(e->ctx.devlocks), 0);
	maildrop_devlocks_free(e->ctx.devlocks);
	guard_throttle_free(e->ctx.throttle);
	maildrop_ctx_free(&e->ctx);
	config_options_free(&e->opt);
}

/* ---- sessions ---------------------------------------------------------------- */

struct mdt_sess {
	struct maildrop_conn conn;
	void *md;
	struct pop3_md_reply reply;
};

/* open() as the engine calls it; login is "USER" or "USER#DEVICE". */
static __attribute__((unused)) enum pop3_md_status mdt_open_as(struct mdt_env *e,
    struct mdt_sess *s, const char *login, const char *password)
{
	struct pop3_credentials cred = {
		.user = login, .password = password, .mechanism = "USER",
		.remote_addr = "127.0.0.1", .tls_version = NULL,
	};

	memset(s, 0, sizeof(*s));
	maildrop_conn_init(&s->conn, &e->ctx, "127.0.0.1", NULL);
	return maildrop_ops.open(&s->conn, &cred, &s->md, &s->reply);
}

/* Open device `device` (NULL: the default device) of e's user; must work. */
static __attribute__((unused)) void mdt_open(struct mdt_env *e, struct mdt_sess *s,
    const char *device)
{
	char login[160];

	if (device)
		snprintf(login, sizeof(login), "%s#%s", e->user, device);
	else
		snprintf(login, sizeof(login), "%s", e->user);
	enum pop3_md_status st = mdt_open_as(e, s, login, MDT_PASS);
	ck_assert_msg(st == POP3_MD_OK, "open %s: status %d (%s; %s)", login, (int)st,
	    s->reply.text, s->conn.detail);
	ck_assert_ptr_nonnull(s->md);
}

static __attribute__((unused)) size_t mdt_count(struct mdt_sess *s)
{
	return maildrop_ops.count(s->md);
}

static __attribute__((unused)) struct pop3_msg_info mdt_info(struct mdt_sess *s, size_t i)
{
	struct pop3_msg_info m;
	maildrop_ops.info(s->md, i, &m);
	return m;
}

static __attribute__((unused)) void mdt_commit(struct mdt_sess *s, const size_t *del, size_t n)
{
	struct pop3_md_reply r = { .text = "" };
	enum pop3_md_status st = maildrop_ops.commit(s->md, del, n, &r);
	ck_assert_msg(st == POP3_MD_OK, "commit: %d (%s; %s)", (int)st, r.text, s->conn.detail);
}

static __attribute__((unused)) void mdt_close(struct mdt_sess *s)
{
	maildrop_ops.close(s->md);
	maildrop_ops.release(s->md);
	s->md = NULL;
}

/* A whole session of device that sees n messages and ends at once. */
static __attribute__((unused)) void mdt_expect_count(struct mdt_env *e, const char *device,
    size_t n)
{
	struct mdt_sess s;
	mdt_open(e, &s, device);
	ck_assert_msg(mdt_count(&s) == n, "device %s sees %zu messages, not %zu",
	    device ? device : "default", mdt_count(&s), n);
	mdt_close(&s);
}

/* A whole session of device: DELE of message index idx, QUIT. */
static __attribute__((unused)) void mdt_dele_one(struct mdt_env *e, const char *device,
    size_t idx)
{
	struct mdt_sess s;
	mdt_open(e, &s, device);
	mdt_commit(&s, &idx, 1);
	mdt_close(&s);
}

/* ---- the sink: the engine's conversion, a digest, optionally the wire ------ */

struct mdt_sink {
	struct pop3_dotstuff ds;
	EVP_MD_CTX *sha;
	uint64_t raw;          /* octets fetch() delivered */
	struct pbt_buf wire;   /* what the engine would send (keep = true) */
	bool keep;
	int fail_after;        /* >0: return -1 once this many calls passed */
	int calls;
};

static __attribute__((unused)) int mdt_wire_out(void *arg, const char *buf, size_t len)
{
	struct mdt_sink *k = arg;
	if (k->keep)
		pbt_buf_add(&k->wire, buf, len);
	return 0;
}

static __attribute__((unused)) int mdt_sink_fn(void *arg, const char *buf, size_t len)
{
	struct mdt_sink *k = arg;
	if (k->fail_after > 0 && ++k->calls > k->fail_after)
		return -1;
	EVP_DigestUpdate(k->sha, buf, len);
	k->raw += len;
	return pop3_ds_feed(&k->ds, buf, len);
}

static __attribute__((unused)) void mdt_sink_init(struct mdt_sink *k, bool top, uint64_t lines,
    bool keep)
{
	memset(k, 0, sizeof(*k));
	k->keep = keep;
	k->sha = EVP_MD_CTX_new();
	ck_assert_ptr_nonnull(k->sha);
	ck_assert_int_eq(EVP_DigestInit_ex(k->sha, EVP_sha256(), NULL), 1);
	pop3_ds_init(&k->ds, top, lines, mdt_wire_out, k);
}

/* Finish: the terminator, the digest into hex (65 octets). */
static __attribute__((unused)) void mdt_sink_done(struct mdt_sink *k, char hex[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	pop3_ds_finish(&k->ds);
	EVP_DigestFinal_ex(k->sha, d, &n);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	EVP_MD_CTX_free(k->sha);
	k->sha = NULL;
}

static __attribute__((unused)) void mdt_sink_free(struct mdt_sink *k)
{
	if (k->sha)
		EVP_MD_CTX_free(k->sha);
	free(k->wire.p);
	memset(k, 0, sizeof(*k));
}

/* RETR i completely, as the engine does (fetch, then retrieved() with the
 * engine's octet count); the raw digest into hex when not NULL; returns the
 * octets. */
static __attribute__((unused)) uint64_t mdt_retr(struct mdt_sess *s, size_t i, char *hex)
{
	struct mdt_sink k;
	struct pop3_md_reply r = { .text = "" };
	char h[65];

	mdt_sink_init(&k, false, 0, false);
	enum pop3_md_status st = maildrop_ops.fetch(s->md, i, POP3_FETCH_WHOLE, 0,
	    mdt_sink_fn, &k, &r);
	ck_assert_msg(st == POP3_MD_OK, "RETR %zu: %d (%s)", i + 1, (int)st, r.text);
	mdt_sink_done(&k, h);
	uint64_t octets = k.ds.octets;
	maildrop_ops.retrieved(s->md, i, octets);
	if (hex)
		memcpy(hex, h, 65);
	mdt_sink_free(&k);
	return octets;
}

/* ---- the independent IMAP client ---------------------------------------------- */

static __attribute__((unused)) struct imap_session *adm_open(const char *user)
{
	struct imap_config cfg = {
		.host = "127.0.0.1", .port = (unsigned)dc->imap_port, .tls = IMAP_TLS_NONE,
		.timeout_s = 10,
	};
	struct imap_session *s = imap_session_new(&cfg);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(imap_connect(s), IMAP_OK);
	ck_assert_int_eq(imap_login(s, user, MDT_PASS), IMAP_OK);
	return s;
}

static __attribute__((unused)) void adm_close(struct imap_session *s)
{
	imap_logout(s);
	imap_session_free(s);
}

/* Messages in folder; -1 when it does not exist. */
static __attribute__((unused)) long adm_count(struct imap_session *s, const char *folder)
{
	struct imap_mailbox_info info;
	enum imap_result r = imap_select(s, folder, IMAP_SELECT_READONLY, &info);
	if (r == IMAP_NO)
		return -1;
	ck_assert_int_eq(r, IMAP_OK);
	return (long)info.exists;
}

/* UIDs in folder (selected read-write) whose Message-ID is msgid: how many,
 * and the first into *uid. */
static __attribute__((unused)) uint64_t adm_find(struct imap_session *s, const char *folder,
    const char *msgid, uint32_t *uid)
{
	struct imap_search q = { .header_name = "Message-ID", .header_value = msgid };
	struct imap_uidset set;
	ck_assert_int_eq(imap_select(s, folder, 0, NULL), IMAP_OK);
	imap_uidset_init(&set);
	ck_assert_int_eq(imap_uid_search(s, &q, &set), IMAP_OK);
	uint64_t n = imap_uidset_count(&set);
	if (uid)
		*uid = n ? set.r[0].lo : 0;
	imap_uidset_free(&set);
	return n;
}

struct adm_flags {
	unsigned flags;
	bool has_kw;
	const char *kw;
	bool seen_any;
};

static __attribute__((unused)) int adm_flags_cb(void *arg, const struct imap_msg *m)
{
	struct adm_flags *f = arg;
	f->seen_any = true;
	f->flags = m->flags;
	for (size_t i = 0; i < m->nkeywords; i++)
		if (f->kw && strcasecmp(m->keywords[i], f->kw) == 0)
			f->has_kw = true;
	return 0;
}

/* Flags of the message with msgid in folder (which must hold it once). */
static __attribute__((unused)) unsigned adm_msg_flags(struct imap_session *s,
    const char *folder, const char *msgid, const char *kw, bool *has_kw)
{
	uint32_t uid;
	struct adm_flags f = { .kw = kw };
	struct imap_uidset one;
	ck_assert_uint_eq(adm_find(s, folder, msgid, &uid), 1);
	imap_uidset_init(&one);
	imap_uidset_add(&one, uid);
	ck_assert_int_eq(imap_fetch_info(s, &one, 0, adm_flags_cb, &f), IMAP_OK);
	imap_uidset_free(&one);
	ck_assert(f.seen_any);
	if (has_kw)
		*has_kw = f.has_kw;
	return f.flags;
}

static __attribute__((unused)) int adm_sha_sink(void *arg, const char *buf, size_t len)
{
	EVP_DigestUpdate(arg, buf, len);
	return 0;
}

/* SHA-256 hex of BODY[] of the message with msgid in INBOX. */
static __attribute__((unused)) void adm_body_sha(struct imap_session *s, const char *msgid,
    char hex[65], uint64_t *size)
{
	uint32_t uid;
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	struct imap_body_result res;
	ck_assert_uint_eq(adm_find(s, "INBOX", msgid, &uid), 1);
	EVP_MD_CTX *sha = EVP_MD_CTX_new();
	EVP_DigestInit_ex(sha, EVP_sha256(), NULL);
	ck_assert_int_eq(imap_fetch_body(s, uid, IMAP_SECTION_ALL, 0, 0, adm_sha_sink, sha, &res),
	    IMAP_OK);
	EVP_DigestFinal_ex(sha, d, &n);
	EVP_MD_CTX_free(sha);
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	if (size)
		*size = res.delivered;
}

/* ---- mail ---------------------------------------------------------------------- */

/* Deliver a plain generated message with seed to user's INBOX; its
 * Message-ID into id (room for 128). flags: Maildir letters ("" or "S"). */
static __attribute__((unused)) void mdt_deliver(const char *user, uint32_t seed,
    enum pbt_msg_kind kind, const char *flags, char *id)
{
	struct pbt_msgspec spec = { .kind = kind, .seed = seed, .size = 0 };
	ck_assert_int_eq(pbt_dovecot_add_generated(dc, user, "INBOX", &spec, flags), 0);
	if (id)
		pbt_msg_id(&spec, id, 128);
}

/* Three plain messages; their Message-IDs into ids[3][128]. */
static __attribute__((unused)) void mdt_three(const char *user, char ids[3][128],
    uint32_t seed)
{
	for (int i = 0; i < 3; i++)
		mdt_deliver(user, seed + (uint32_t)i, PBT_MSG_PLAIN, "", ids[i]);
}

#endif
