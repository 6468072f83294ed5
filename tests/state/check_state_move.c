/* tests/state/check_state_move.c — moving an account between state files
 * (SPEC §14): the move mark, every row dumped and loaded into another file
 * equal to the original (ids renumbered), the schema placed column by
 * column, and every refusal of the loader. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state_test.h"
#include "tests/state/st_util.h"

/* ---- a rich account ----------------------------------------------------------- */

/* In db: "ann" with two mailboxes, messages (one re-matched after a
 * UIDVALIDITY change, one gone, one with an imported UIDL, an 8-bit
 * Message-ID), three devices (settings overrides, a login delay, revoked,
 * login records), per-device state, a pending and a finished journal
 * entry; plus "bob", who must not move with her. Returns ann's id. */
static int64_t make_ann(void)
{
	struct st_keys k[8];
	struct state_listing items[6];
	struct state_mailbox_status status = { 7, 20, 55 };
	struct state_device d;
	struct state_view_msg *v = NULL;
	size_t n = 0;
	static const unsigned char secret[] = { 1, 0, 2, 0xff, 9 };

	st_account("bob");
	int64_t bob_dev = st_device(st_account("bob2"), "x");
	(void)bob_dev;
	int64_t ann = 0;
	OK(state_account_add(db, "ann", STATE_AUTH_MANAGED, "ann.upstream", secret,
	    sizeof secret, 500, &ann));
	OK(state_account_credential_result(db, ann, true));
	int64_t mb = st_mailbox(ann, "INBOX");
	int64_t mb2 = st_mailbox(ann, "Archive");
	(void)mb2;
	for (unsigned i = 0; i < 6; i++)
		items[i] = st_item(i + 1, i + 1, i == 2 ? STATE_MF_SEEN : 0, &k[i]);
	static const char eight_bit[] = "<caf\xe9@example.org>";
	items[3].message_id = eight_bit;
	items[4].emailid = "M4";
	items[4].gm_msgid = 1278455344230334865ULL;
	OK(state_messages_sync(db, mb, &status, items, 6, true, 600, NULL));

	struct state_device_settings s;
	memset(&s, 0, sizeof s);
	s.window = -1;
	snprintf(s.offer, sizeof s.offer, "unseen");
	snprintf(s.dele, sizeof s.dele, "last-device");
	snprintf(s.login_delay, sizeof s.login_delay, "900");
	OK(state_device_add(db, ann, "phone", &s, "$scrypt$fakehash", "INBOX", 610, &d));
	int64_t phone = d.id;
	OK(state_device_add(db, ann, "pc", NULL, "$scrypt$otherhash", "INBOX", 611, &d));
	int64_t pc = d.id;
	memset(&s, 0, sizeof s);
	s.window = 3;
	snprintf(s.folder, sizeof s.folder, "Archive");
	snprintf(s.seen_on, sizeof s.seen_on, "quit");
	OK(state_device_add(db, ann, "old", &s, NULL, "INBOX", 612, &d));
	OK(state_device_revoke(db, d.id, true));
	OK(state_device_login(db, phone, 700, "192.0.2.7", "pop3", "TLSv1.3"));
	OK(state_device_login(db, pc, 701, "2001:db8::1", "pop3", ""));
	OK(state_device_login(db, pc, 702, "2001:db8::1", "imap", "TLSv1.3"));
	/* a message the phone sent, its Sent copy appended (only these move) */
	int64_t sent;
	OK(state_sent_add(db, ann, phone, "s-0001.eml", 1234,
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 703, &sent));
	OK(state_sent_accepted(db, sent));
	OK(state_sent_done(db, sent, "Sent", 77, 5, 704));

	OK(state_view_build(db, phone, &st_defaults, 710, &v, &n));
	ck_assert_uint_eq(n, 5); /* unseen: the \Seen one is not offered */
	int64_t ids[2] = { v[0].id, v[1].id };
	state_view_free(v);
	OK(state_devmsg_retrieved(db, phone, ids, 2, 720));
	OK(state_view_build(db, pc, &st_defaults, 711, &v, &n));
	state_view_free(v);
	OK(state_device_update_counters(db, phone, &st_defaults, NULL));
	OK(state_message_set_exact_size(db, ids[0], 1234));
	struct state_uidl_import imp = { ids[1], "OLD-UIDL-2" };
	OK(state_import_uidls(db, &imp, 1, NULL));

	/* a finished commit and a pending one with a done item and a copied one */
	int64_t j1, j2;
	OK(state_journal_begin(db, pc, mb, "hide", &ids[0], 1, NULL, 0, 730, &j1));
	OK(state_journal_finish(db, j1, false, 731));
	OK(state_journal_begin(db, phone, mb, "trash", ids, 2, &ids[1], 1, 740, &j2));
	OK(state_journal_item_done(db, j2, ids[0]));
	OK(state_journal_item_copied(db, j2, ids[1]));
	OK(state_journal_failed(db, j2, "UID MOVE: NO [TRYCREATE] no Trash", NULL));

	/* UIDVALIDITY changes: messages re-matched keep UIDL and per-device state */
	struct state_mailbox_status st2 = { 8, 30, 0 };
	struct state_listing again[5];
	for (unsigned i = 0; i < 5; i++)
		again[i] = st_item(i + 10, i + 1, 0, &k[i]);
	again[3].message_id = eight_bit;
	OK(state_messages_rematch(db, mb, &st2, again, 5, 800, NULL));
	return ann;
}

/* ---- rows as text, ids as their rank in the dump ------------------------------- */

struct rows {
	char **line;
	size_t n, cap;
	/* the ids of each table in dump order, to print ids by rank */
	int64_t ids[16][256];
	size_t nids[16];
	const struct state_move_table *tables;
};

static size_t rank(const struct rows *r, int t, int64_t id)
{
	for (size_t i = 0; i < r->nids[t]; i++)
		if (r->ids[t][i] == id)
			return i + 1;
	ck_abort_msg("id %lld of table %d not dumped before", (long long)id, t);
	return 0;
}

static int collect(void *arg, const struct state_move_table *t, const struct state_move_value *v)
{
	struct rows *r = arg;
	int ti = (int)(t - r->tables);
	char buf[4096];
	size_t o = (size_t)snprintf(buf, sizeof buf, "%s", t->name);
	char err[200];

	ck_assert_msg(state_move_row_check(t, v, err, sizeof err) == 0, "%s: %s", t->name, err);
	for (size_t c = 0; c < t->ncol; c++) {
		const struct state_move_col *col = &t->cols[c];
		o += (size_t)snprintf(buf + o, sizeof buf - o, " %s=", col->name);
		if (v[c].null)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "NULL");
		else if (col->flags & STATE_MC_ID) {
			ck_assert_uint_lt(r->nids[ti], 256);
			r->ids[ti][r->nids[ti]++] = v[c].i;
			o += (size_t)snprintf(buf + o, sizeof buf - o, "#%zu", r->nids[ti]);
		} else if (col->flags & STATE_MC_REF)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "#%zu",
			    rank(r, col->ref, v[c].i));
		else if (col->type == STATE_MT_INT)
			o += (size_t)snprintf(buf + o, sizeof buf - o, "%lld", (long long)v[c].i);
		else
			for (size_t i = 0; i < v[c].len && o + 3 < sizeof buf; i++)
				o += (size_t)snprintf(buf + o, sizeof buf - o, "%02x", v[c].p[i]);
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 64;
		r->line = realloc(r->line, r->cap * sizeof *r->line);
		ck_assert_ptr_nonnull(r->line);
	}
	r->line[r->n++] = strdup(buf);
	return 0;
}

static struct rows *dump(struct state_db *h, int64_t account_id)
{
	struct rows *r = calloc(1, sizeof *r);
	size_t n;

	ck_assert_ptr_nonnull(r);
	r->tables = state_move_tables(&n);
	ck_assert_int_eq(state_move_dump(h, account_id, collect, r), STATE_OK);
	return r;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->line[i]);
	free(r->line);
	free(r);
}

/* Load rows dumped from src (by a second dump, re-reading each row). */
struct copy {
	struct state_move_load *ld;
	int rc;
	char err[256];
	struct state_db *dst;
};

static int copy_row(void *arg, const struct state_move_table *t, const struct state_move_value *v)
{
	struct copy *c = arg;

	c->rc = state_move_load_row(c->ld, t, v);
	if (c->rc != STATE_OK) {
		snprintf(c->err, sizeof c->err, "%s", state_errmsg(c->dst));
		return 1;
	}
	return 0;
}

static struct state_db *open_other(const char *name)
{
	char path[400], err[512];
	snprintf(path, sizeof path, "%s/%s", st_dir, name);
	struct state_db *h = state_open(path, err, sizeof err);
	ck_assert_msg(h != NULL, "%s", err);
	return h;
}

/* src's account `name` loaded into dst: the load's result code. */
static int move(struct state_db *src, int64_t account_id, struct state_db *dst,
    const char *name, int64_t *replaced)
{
	struct copy c = { .dst = dst };
	int rc = state_move_load_begin(dst, name, replaced, &c.ld);
	if (rc != STATE_OK)
		return rc;
	ck_assert_int_eq(state_move_dump(src, account_id, copy_row, &c), STATE_OK);
	if (c.rc != STATE_OK) {
		state_move_load_abort(c.ld);
		return c.rc;
	}
	return state_move_load_commit(c.ld);
}

/* ---- tests ------------------------------------------------------------------- */

START_TEST(round_trip_every_row)
{
	int64_t ann = make_ann();
	struct state_db *b = open_other("b.db");
	struct state_account a;

	/* b has accounts of its own: the ids must be renumbered */
	OK(state_account_add(b, "zed", STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1, NULL));
	struct state_account z;
	ck_assert_int_eq(state_account_get(b, "zed", &z), STATE_OK);
	struct state_device dz;
	ck_assert_int_eq(state_device_add(b, z.id, "zz", NULL, NULL, "INBOX", 1, &dz), STATE_OK);
	struct state_mailbox mz;
	ck_assert_int_eq(state_mailbox_ensure(b, z.id, "INBOX", &mz), STATE_OK);

	ck_assert_int_eq(move(db, ann, b, "ann", NULL), STATE_OK);
	ck_assert_int_eq(state_account_get(b, "ann", &a), STATE_OK);
	ck_assert_int_ne(a.id, ann);
	ck_assert_int_eq(a.moved, 0);

	struct rows *x = dump(db, ann), *y = dump(b, a.id);
	size_t nt;
	const struct state_move_table *t = state_move_tables(&nt);
	/* every table has rows in this account (the test covers them all) */
	for (size_t i = 0; i < nt; i++) {
		if (strcmp(t[i].name, "oauth2") == 0)
			continue; /* a password account: the OAuth2 test below */
		bool seen = false;
		for (size_t r = 0; r < x->n; r++)
			seen |= strncmp(x->line[r], t[i].name, strlen(t[i].name)) == 0 &&
			    x->line[r][strlen(t[i].name)] == ' ';
		ck_assert_msg(seen, "no %s row in the test account", t[i].name);
	}
	ck_assert_uint_eq(x->n, y->n);
	for (size_t r = 0; r < x->n; r++)
		ck_assert_str_eq(x->line[r], y->line[r]);

	/* what the API shows is the same too: the views, UIDLs and pending commit */
	struct state_device d1, d2;
	OK(state_device_get(db, ann, "phone", &d1));
	ck_assert_int_eq(state_device_get(b, a.id, "phone", &d2), STATE_OK);
	ck_assert_str_eq(d1.settings.login_delay, d2.settings.login_delay);
	ck_assert_str_eq(d1.password_hash, d2.password_hash);
	ck_assert_int_eq(d1.last_login, d2.last_login);
	ck_assert_int_eq(d1.pop3_login, d2.pop3_login);
	struct state_device pc2;
	OK(state_device_get(b, a.id, "pc", &pc2));
	ck_assert_int_eq(pc2.last_login, 702);  /* an IMAP front login */
	ck_assert_int_eq(pc2.pop3_login, 701);  /* the last POP3 one, moved too */
	struct state_view_msg *v1 = NULL, *v2 = NULL;
	size_t n1 = 0, n2 = 0;
	OK(state_view_build(db, d1.id, &st_defaults, 900, &v1, &n1));
	ck_assert_int_eq(state_view_build(b, d2.id, &st_defaults, 900, &v2, &n2), STATE_OK);
	ck_assert_uint_eq(n1, n2);
	ck_assert_uint_gt(n1, 0);
	for (size_t i = 0; i < n1; i++) {
		ck_assert_str_eq(v1[i].uidl, v2[i].uidl);
		ck_assert_uint_eq(v1[i].uid, v2[i].uid);
		ck_assert_uint_eq(v1[i].size, v2[i].size);
		ck_assert_int_eq(v1[i].retrieved, v2[i].retrieved);
	}
	state_view_free(v1);
	state_view_free(v2);
	struct state_journal *j = NULL;
	size_t nj = 0;
	ck_assert_int_eq(state_journal_pending(b, a.id, &j, &nj), STATE_OK);
	ck_assert_uint_eq(nj, 1);
	ck_assert_str_eq(j[0].policy, "trash");
	ck_assert_uint_eq(j[0].n_items, 2);
	state_journal_free(j, nj);
	/* and the account that stayed behind kept its rows */
	ck_assert_int_eq(state_device_get(b, z.id, "zz", &d2), STATE_OK);
	rows_free(x);
	rows_free(y);
	state_close(b);
}
END_TEST

START_TEST(round_trip_oauth2)
{
	struct state_oauth2 *g = calloc(1, sizeof *g), *r1 = calloc(1, sizeof *r1),
	    *r2 = calloc(1, sizeof *r2);
	int64_t id;

	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(r1);
	ck_assert_ptr_nonnull(r2);
	snprintf(g->provider, sizeof g->provider, "custom");
	snprintf(g->grant, sizeof g->grant, "refresh-token");
	snprintf(g->token_url, sizeof g->token_url, "https://127.0.0.1:1/token");
	snprintf(g->scope, sizeof g->scope, "imap smtp");
	snprintf(g->client_id, sizeof g->client_id, "cid");
	memcpy(g->client_secret, "CS", 2);
	g->client_secret_len = 2;
	memcpy(g->refresh, "R1", 2);
	g->refresh_len = 2;
	memcpy(g->access, "A1", 2);
	g->access_len = 2;
	g->access_expires = 5000;
	OK(state_oauth2_account_add(db, "carol", "carol@up", g, 100, &id));
	OK(state_oauth2_lease(db, id, 0, 77, 100, 200));
	OK(state_oauth2_store(db, id, 77, "A2", 2, 6000, "R2", 2, 150));
	OK(state_device_add(db, id, "phone", NULL, "$h", "INBOX", 160, NULL));

	struct state_db *b = open_other("b.db");
	ck_assert_int_eq(move(db, id, b, "carol", NULL), STATE_OK);
	struct state_account a;
	ck_assert_int_eq(state_account_get(b, "carol", &a), STATE_OK);
	ck_assert_int_eq(a.credential, STATE_CRED_OAUTH2);
	OK(state_oauth2_get(db, id, r1));
	ck_assert_int_eq(state_oauth2_get(b, a.id, r2), STATE_OK);
	ck_assert_str_eq(r1->scope, r2->scope);
	ck_assert_int_eq(r1->generation, r2->generation);
	ck_assert_int_eq(r2->access_expires, 6000);
	ck_assert_mem_eq(r2->refresh, "R2", 2);
	ck_assert_mem_eq(r2->client_secret, "CS", 2);
	/* no lease crosses to another node: the new node may refresh at once */
	ck_assert_int_eq(state_oauth2_lease(b, a.id, r2->generation, 5, 101, 300), STATE_OK);
	struct rows *x = dump(db, id), *y = dump(b, a.id);
	ck_assert_uint_eq(x->n, y->n);
	for (size_t r = 0; r < x->n; r++)
		ck_assert_str_eq(x->line[r], y->line[r]);
	rows_free(x);
	rows_free(y);
	state_close(b);
	free(g);
	free(r1);
	free(r2);
}
END_TEST

START_TEST(moved_mark)
{
	int64_t ann = make_ann();
	struct state_account a;
	struct state_device d;
	int64_t mark = 0, jid;

	OK(state_device_get(db, ann, "pc", &d));
	int64_t mb = st_mailbox(ann, "INBOX");
	OK(state_account_set_moved(db, ann, 1000, &mark));
	ck_assert_int_eq(mark, 1000);
	OK(state_account_get(db, "ann", &a));
	ck_assert_int_eq(a.moved, 1000);
	/* a second export keeps the first mark */
	OK(state_account_set_moved(db, ann, 2000, &mark));
	ck_assert_int_eq(mark, 1000);
	/* a session that was running commits nothing now */
	RC(state_journal_begin(db, d.id, mb, "hide", NULL, 0, NULL, 0, 1001, &jid), STATE_MOVED);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "moved"));
	struct state_journal *j = NULL;
	size_t n = 0;
	OK(state_journal_pending(db, ann, &j, &n));
	ck_assert_uint_eq(n, 1); /* make_ann's own pending entry, no new one */
	state_journal_free(j, n);
	/* the report and the list show it */
	OK(state_account_get_by_id(db, ann, &a));
	ck_assert_int_eq(a.moved, 1000);
	/* clearing someone else's mark changes nothing; ours clears */
	OK(state_account_clear_moved(db, ann, 999));
	OK(state_account_get(db, "ann", &a));
	ck_assert_int_eq(a.moved, 1000);
	OK(state_account_clear_moved(db, ann, 1000));
	OK(state_account_get(db, "ann", &a));
	ck_assert_int_eq(a.moved, 0);
	OK(state_journal_begin(db, d.id, mb, "hide", NULL, 0, NULL, 0, 1001, &jid));
	RC(state_account_set_moved(db, 9999, 5, NULL), STATE_NOTFOUND);
}
END_TEST

START_TEST(exists_and_coming_back)
{
	int64_t ann = make_ann();
	struct state_db *b = open_other("b.db");
	struct state_account a;
	int64_t replaced = -1;

	ck_assert_int_eq(move(db, ann, b, "ann", &replaced), STATE_OK);
	ck_assert_int_eq(replaced, 0);
	/* twice: refused, nothing changes */
	ck_assert_int_eq(move(db, ann, b, "ann", NULL), STATE_EXISTS);
	ck_assert_ptr_nonnull(strstr(state_errmsg(b), "exists here already"));
	/* the same name in another case is the same account */
	struct state_move_load *ld = NULL;
	ck_assert_int_eq(state_move_load_begin(b, "ANN", NULL, &ld), STATE_EXISTS);
	ck_assert_ptr_null(ld);

	/* moved away from db (marked), then moved back from b: the frozen rows
	 * give way to b's */
	OK(state_account_set_moved(db, ann, 1000, NULL));
	OK(state_account_get(db, "ann", &a));
	struct state_account ab;
	ck_assert_int_eq(state_account_get(b, "ann", &ab), STATE_OK);
	struct state_device d;
	ck_assert_int_eq(state_device_get(b, ab.id, "phone", &d), STATE_OK);
	ck_assert_int_eq(state_device_login(b, d.id, 5000, "192.0.2.99", "pop3", ""), STATE_OK);
	ck_assert_int_eq(state_account_set_moved(b, ab.id, 5001, NULL), STATE_OK);
	ck_assert_int_eq(move(b, ab.id, db, "ann", &replaced), STATE_OK);
	ck_assert_int_eq(replaced, 1000);
	OK(state_account_get(db, "ann", &a));
	ck_assert_int_eq(a.moved, 0);
	OK(state_device_get(db, a.id, "phone", &d));
	ck_assert_int_eq(d.last_login, 5000);
	ck_assert_str_eq(d.last_address, "192.0.2.99");
	/* bob's rows were not touched */
	OK(state_account_get(db, "bob", &a));
	state_close(b);
}
END_TEST

/* Build rows by hand for the loader's refusals. */
static const struct state_move_table *table(const char *name)
{
	size_t n;
	const struct state_move_table *t = state_move_tables(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	ck_abort_msg("no table %s", name);
	return NULL;
}

static void set_text(struct state_move_value *v, const char *s)
{
	memset(v, 0, sizeof *v);
	v->p = (const unsigned char *)s;
	v->len = strlen(s);
}

static void set_int(struct state_move_value *v, int64_t i)
{
	memset(v, 0, sizeof *v);
	v->i = i;
}

static void set_null(struct state_move_value *v)
{
	memset(v, 0, sizeof *v);
	v->null = true;
}

static void account_row(struct state_move_value *v, const char *name)
{
	set_text(&v[0], name);
	set_int(&v[1], 0);
	set_null(&v[2]);
	set_null(&v[3]);
	set_int(&v[4], 10);
	set_int(&v[5], 0);
	set_null(&v[6]);
}

static void mailbox_row(struct state_move_value *v, int64_t id)
{
	set_int(&v[0], id);
	set_text(&v[1], "INBOX");
	for (int i = 2; i < 7; i++)
		set_int(&v[i], 0);
}

START_TEST(loader_refusals)
{
	struct state_move_value v[STATE_MOVE_COLS_MAX], m[STATE_MOVE_COLS_MAX];
	struct state_move_load *ld;
	struct state_account a;
	char err[256];

	/* rows before the account, a second account, another name */
	OK(state_move_load_begin(db, "new", NULL, &ld));
	mailbox_row(m, 3);
	RC(state_move_load_row(ld, table("mailboxes"), m), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "before the accounts row"));
	account_row(v, "other");
	RC(state_move_load_row(ld, table("accounts"), v), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "another account"));
	account_row(v, "new");
	OK(state_move_load_row(ld, table("accounts"), v));
	RC(state_move_load_row(ld, table("accounts"), v), STATE_INVALID);
	OK(state_move_load_row(ld, table("mailboxes"), m));
	/* ids ascend; a duplicate folder is refused */
	mailbox_row(m, 2);
	RC(state_move_load_row(ld, table("mailboxes"), m), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "ascend"));
	mailbox_row(m, 4);
	RC(state_move_load_row(ld, table("mailboxes"), m), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "duplicate"));
	/* a reference to no row of the file */
	struct state_move_value msg[STATE_MOVE_COLS_MAX];
	const struct state_move_table *mt = table("messages");
	for (size_t c = 0; c < mt->ncol; c++)
		set_int(&msg[c], 1);
	set_int(&msg[1], 99);                  /* mailbox_id */
	set_text(&msg[5], "UIDL1");
	set_null(&msg[6]);
	set_null(&msg[10]);
	set_null(&msg[11]);
	set_null(&msg[12]);
	RC(state_move_load_row(ld, mt, msg), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "mailbox_id 99 is no mailboxes row"));
	set_int(&msg[1], 3);
	set_text(&msg[5], "bad uidl");
	RC(state_move_load_row(ld, mt, msg), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "uidl must be a UIDL"));
	set_text(&msg[5], "UIDL1");
	OK(state_move_load_row(ld, mt, msg));
	/* tables out of order */
	RC(state_move_load_row(ld, table("mailboxes"), m), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "order"));
	state_move_load_abort(ld);
	RC(state_account_get(db, "new", &a), STATE_NOTFOUND);

	/* an OAuth2 account without its grant is not an account */
	OK(state_move_load_begin(db, "new", NULL, &ld));
	account_row(v, "new");
	set_int(&v[1], 1);
	set_text(&v[2], "up");
	set_int(&v[5], 1);
	OK(state_move_load_row(ld, table("accounts"), v));
	RC(state_move_load_commit(ld), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "without its oauth2 row"));
	RC(state_account_get(db, "new", &a), STATE_NOTFOUND);
	/* nothing at all */
	OK(state_move_load_begin(db, "new", NULL, &ld));
	RC(state_move_load_commit(ld), STATE_INVALID);

	/* row checks without a database: modes, words, ranges, NULLs */
	account_row(v, "x");
	set_text(&v[2], "up");
	ck_assert_int_eq(state_move_row_check(table("accounts"), v, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "passthrough"));
	account_row(v, "x");
	set_int(&v[1], 1);
	set_text(&v[2], "up");
	ck_assert_int_eq(state_move_row_check(table("accounts"), v, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "managed"));
	account_row(v, "x");
	set_int(&v[4], -1);
	ck_assert_int_eq(state_move_row_check(table("accounts"), v, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "created"));
	account_row(v, "a\x01" "b");
	ck_assert_int_eq(state_move_row_check(table("accounts"), v, err, sizeof err), -1);
	account_row(v, "x");
	set_null(&v[0]);
	ck_assert_int_eq(state_move_row_check(table("accounts"), v, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "name may not be null"));
	mailbox_row(m, 1);
	set_int(&m[2], 4294967296LL);
	ck_assert_int_eq(state_move_row_check(table("mailboxes"), m, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "uidvalidity"));
}
END_TEST

START_TEST(schema_placed)
{
	OK(state_move_schema_check(db));
	/* a column nobody placed (as a new schema step might add) is refused */
	ck_assert_int_ge(state_test_exec(db, "ALTER TABLE devices ADD COLUMN color TEXT"), 0);
	RC(state_move_schema_check(db), STATE_ERROR);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "devices.color"));
	struct state_move_load *ld = NULL;
	RC(state_move_load_begin(db, "x", NULL, &ld), STATE_ERROR);
	ck_assert_int_ge(state_test_exec(db, "CREATE TABLE postcards(id INTEGER)"), 0);
	ck_assert_int_ge(state_test_exec(db, "ALTER TABLE devices DROP COLUMN color"), 0);
	RC(state_move_schema_check(db), STATE_ERROR);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "table postcards"));
}
END_TEST

/* A Sent copy still owed (its spool file is this node's) stops the mark:
 * nothing marked; once it is appended the account can move. */
START_TEST(sent_copy_owed)
{
	int64_t ann = make_ann(), id, mark = 0;
	struct state_account a;

	OK(state_sent_add(db, ann, 0, "s-0002.eml", 10,
	    "1111111111111111111111111111111111111111111111111111111111111111", 800, &id));
	OK(state_sent_accepted(db, id));
	RC(state_account_set_moved(db, ann, 1000, &mark), STATE_LIMIT);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "1 Sent copy"));
	OK(state_account_get(db, "ann", &a));
	ck_assert_int_eq(a.moved, 0);
	OK(state_sent_done(db, id, "Sent", 1, 9, 900));
	OK(state_account_set_moved(db, ann, 1000, &mark));
	ck_assert_int_eq(mark, 1000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("state-move");
	TCase *tc = tcase_create("move");

	tcase_add_checked_fixture(tc, st_setup, st_teardown);
	tcase_add_test(tc, round_trip_every_row);
	tcase_add_test(tc, round_trip_oauth2);
	tcase_add_test(tc, moved_mark);
	tcase_add_test(tc, exists_and_coming_back);
	tcase_add_test(tc, loader_refusals);
	tcase_add_test(tc, schema_placed);
	tcase_add_test(tc, sent_copy_owed);
	suite_add_tcase(s, tc);
	return st_run(s);
}
