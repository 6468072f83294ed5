/* state/move.c — one account's rows, read for `account export` and written
 * for `account import` (SPEC §14; the contract is in state.h, "moving an
 * account to another node"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/db_int.h"

enum {
	T_ACCOUNTS, T_MAILBOXES, T_DEVICES, T_MESSAGES, T_DEVMSG, T_JOURNAL, T_JOURNAL_ITEMS,
	T_OAUTH2, T_SENT, T_COUNT
};

#define U32_MAX_ 4294967295LL
#define I64_MAX_ INT64_MAX
#define I64_MIN_ INT64_MIN

#define C_ID { "id", STATE_MT_INT, STATE_MC_ID, -1, 1, I64_MAX_, 0 }
#define C_REF(n, t) { n, STATE_MT_INT, STATE_MC_REF, t, 1, I64_MAX_, 0 }
#define C_REF_N(n, t) { n, STATE_MT_INT, STATE_MC_REF | STATE_MC_NULL, t, 1, I64_MAX_, 0 }
#define C_INT(n, lo, hi) { n, STATE_MT_INT, 0, -1, lo, hi, 0 }
#define C_INT_N(n, lo, hi) { n, STATE_MT_INT, STATE_MC_NULL, -1, lo, hi, 0 }
#define C_TEXT(n, max, form) { n, STATE_MT_TEXT, 0, -1, 0, max, form }
#define C_TEXT_N(n, max, form) { n, STATE_MT_TEXT, STATE_MC_NULL, -1, 0, max, form }
#define C_SEALED(n, max) { n, STATE_MT_BLOB, STATE_MC_SEALED | STATE_MC_NULL, -1, 1, max, 0 }
#define C_TIME(n) C_INT(n, 0, I64_MAX_)
#define C_TIME_N(n) C_INT_N(n, 0, I64_MAX_)
#define C_BOOL(n) C_INT(n, 0, 1)

static const struct state_move_col ACCOUNTS[] = {
	C_TEXT("name", STATE_ACCOUNT_MAX, STATE_FORM_NAME),
	C_INT("auth", 0, 1),
	C_TEXT_N("upstream_user", STATE_USER_MAX, STATE_FORM_NAME),
	C_SEALED("secret", STATE_SECRET_MAX),
	C_TIME("created"),
	C_INT("credential", 0, 1),
	C_INT_N("credential_ok", 0, 1),
};
static const struct state_move_col MAILBOXES[] = {
	C_ID,
	C_TEXT("folder", STATE_FOLDER_MAX, STATE_FORM_NAME),
	C_INT("uidvalidity", 0, U32_MAX_),
	C_INT("uidnext", 0, U32_MAX_),
	C_INT("highestmodseq", I64_MIN_, I64_MAX_),
	C_INT("seq_base", I64_MIN_, I64_MAX_),
	C_INT("list_gen", I64_MIN_, I64_MAX_),
};
static const struct state_move_col DEVICES[] = {
	C_ID,
	C_TEXT("name", STATE_DEVICE_MAX, STATE_FORM_NAME),
	C_TIME("created"),
	C_TIME_N("last_login"),
	C_TEXT_N("last_address", STATE_ADDR_MAX, STATE_FORM_PRINT),
	C_TEXT_N("protocol", STATE_PROTO_MAX, STATE_FORM_PRINT),
	C_TEXT_N("tls", STATE_TLS_MAX, STATE_FORM_PRINT),
	C_BOOL("revoked"),
	C_TEXT_N("folder", STATE_FOLDER_MAX, STATE_FORM_PRINT),
	C_TEXT_N("offer", STATE_WORD_MAX, STATE_FORM_OFFER),
	C_INT_N("win", 0, I64_MAX_),
	C_TEXT_N("seen_on", STATE_WORD_MAX, STATE_FORM_SEEN_ON),
	C_TEXT_N("dele", STATE_WORD_MAX, STATE_FORM_DELE),
	C_TEXT_N("password_hash", STATE_HASH_MAX, STATE_FORM_PRINT),
	C_REF_N("enrol_mailbox_id", T_MAILBOXES),
	C_INT_N("enrol_seq", I64_MIN_, I64_MAX_),
	C_TIME_N("enrol_time"),
	C_INT("n_retrieved", 0, I64_MAX_),
	C_INT("n_deleted", 0, I64_MAX_),
	C_INT("n_waiting", 0, I64_MAX_),
	C_INT_N("login_delay", 0, STATE_LOGIN_DELAY_MAX),
	C_TIME_N("pop3_login"),
	C_INT("n_sent", 0, I64_MAX_),
};
static const struct state_move_col MESSAGES[] = {
	C_ID,
	C_REF("mailbox_id", T_MAILBOXES),
	C_INT("uidvalidity", 0, U32_MAX_),
	C_INT("uid", 0, U32_MAX_),
	C_INT("seq", I64_MIN_, I64_MAX_),
	C_TEXT("uidl", STATE_UIDL_MAX, STATE_FORM_UIDL),
	C_TEXT_N("old_uidl", STATE_UIDL_MAX, STATE_FORM_UIDL),
	C_INT("rfc822_size", 0, I64_MAX_),
	C_INT_N("exact_size", 0, I64_MAX_),
	C_INT("flags", 0, 0xffff),
	C_TEXT_N("message_id", STATE_MSGID_MAX, STATE_FORM_ANY),
	C_TEXT_N("hdr_hash", STATE_HHASH_MAX, STATE_FORM_ANY),
	C_TEXT_N("emailid", STATE_EMAILID_MAX, STATE_FORM_ANY),
	C_INT_N("gm_msgid", I64_MIN_, I64_MAX_),
	C_TIME("first_seen"),
	C_TIME_N("gone"),
	C_INT("list_gen", I64_MIN_, I64_MAX_),
};
static const struct state_move_col DEVMSG[] = {
	C_REF("device_id", T_DEVICES),
	C_REF("message_id", T_MESSAGES),
	C_TIME_N("offered"),
	C_TIME_N("retrieved"),
	C_TIME_N("deleted"),
};
static const struct state_move_col JOURNAL[] = {
	C_ID,
	C_REF("device_id", T_DEVICES),
	C_REF("mailbox_id", T_MAILBOXES),
	C_TEXT("folder", STATE_FOLDER_MAX, STATE_FORM_NAME),
	C_TEXT("policy", STATE_WORD_MAX, STATE_FORM_DELE),
	C_INT("state", 0, 2),
	C_TIME("created"),
	C_TIME_N("finished"),
	C_INT("failures", 0, I64_MAX_),
	C_TEXT_N("last_error", STATE_ERROR_TEXT_MAX, STATE_FORM_ANY),
};
static const struct state_move_col JOURNAL_ITEMS[] = {
	C_REF("journal_id", T_JOURNAL),
	C_REF("message_id", T_MESSAGES),
	C_INT("uidvalidity", 0, U32_MAX_),
	C_INT("uid", 0, U32_MAX_),
	C_INT("actions", 0, 0xffff),
	C_BOOL("done"),
};
static const struct state_move_col OAUTH2[] = {
	C_TEXT("provider", STATE_PROVIDER_MAX, STATE_FORM_NAME),
	C_TEXT("grant_type", STATE_GRANT_MAX, STATE_FORM_NAME),
	C_TEXT("token_url", STATE_URL_MAX, STATE_FORM_NAME),
	C_TEXT_N("device_url", STATE_URL_MAX, STATE_FORM_PRINT),
	C_TEXT_N("scope", STATE_SCOPE_MAX, STATE_FORM_PRINT),
	C_TEXT("client_id", STATE_CLIENT_ID_MAX, STATE_FORM_NAME),
	C_TEXT_N("tenant", STATE_TENANT_MAX, STATE_FORM_PRINT),
	C_SEALED("client_secret", STATE_TOKEN_BLOB_MAX),
	C_SEALED("refresh_token", STATE_TOKEN_BLOB_MAX),
	C_SEALED("access_token", STATE_TOKEN_BLOB_MAX),
	C_INT("access_expires", I64_MIN_, I64_MAX_),
	C_INT("generation", I64_MIN_, I64_MAX_),
	C_TIME_N("refreshed"),
	C_TEXT_N("last_error", STATE_OAUTH2_ERROR_MAX, STATE_FORM_PRINT),
};

/* Sent copies (SPEC §11): only appended ones move (DONE: their spool file
 * is gone; they keep a copy from being appended twice). An account with a
 * copy still owed is not exported (state_account_set_moved). */
static const struct state_move_col SENT[] = {
	C_ID,
	C_REF_N("device_id", T_DEVICES),
	C_TEXT("file", STATE_SENT_FILE_MAX, STATE_FORM_NAME),
	C_INT("size", 0, I64_MAX_),
	C_TEXT("sha256", 64, STATE_FORM_NAME),
	C_INT("state", 3, 3),
	C_TIME("created"),
	C_INT("attempts", 0, I64_MAX_),
	C_TEXT_N("last_error", STATE_ERROR_TEXT_MAX, STATE_FORM_ANY),
	C_TEXT_N("folder", STATE_FOLDER_MAX, STATE_FORM_ANY),
	C_INT_N("uidvalidity", 0, U32_MAX_),
	C_INT_N("uid", 0, U32_MAX_),
	C_TIME_N("finished"),
};

#define TABLE(n, cols, one) { n, cols, sizeof cols / sizeof cols[0], one }
static const struct state_move_table TABLES[T_COUNT] = {
	[T_ACCOUNTS] = TABLE("accounts", ACCOUNTS, true),
	[T_MAILBOXES] = TABLE("mailboxes", MAILBOXES, false),
	[T_DEVICES] = TABLE("devices", DEVICES, false),
	[T_MESSAGES] = TABLE("messages", MESSAGES, false),
	[T_DEVMSG] = TABLE("devmsg", DEVMSG, false),
	[T_JOURNAL] = TABLE("journal", JOURNAL, false),
	[T_JOURNAL_ITEMS] = TABLE("journal_items", JOURNAL_ITEMS, false),
	[T_OAUTH2] = TABLE("oauth2", OAUTH2, true),
	[T_SENT] = TABLE("sent_copies", SENT, false),
};

/* The columns of each table that are not moved (besides the implicit
 * account_id, which every table but accounts has or reaches through a
 * reference): an account's own id and move mark, and an OAuth2 refresh
 * lease (a process's, on the node it runs on). */
static const char *const NOT_MOVED[T_COUNT][4] = {
	[T_ACCOUNTS] = { "id", "moved" },
	[T_MAILBOXES] = { "account_id" },
	[T_DEVICES] = { "account_id" },
	[T_JOURNAL] = { "account_id" },
	[T_OAUTH2] = { "account_id", "lease_owner", "lease_until" },
	[T_SENT] = { "account_id" },
};

/* Per table: the dump's query (?1 = the account id; the columns in the
 * order above) and the load's insert (?1 = the new account id, column c of
 * the table at ?(c + 2); the id column is not inserted). */
static const char SEL_ACCOUNTS[] =
	"SELECT name, auth, upstream_user, secret, created, credential, credential_ok"
	" FROM accounts WHERE id = ?1";
static const char INS_ACCOUNTS[] =
	"INSERT INTO accounts(name, auth, upstream_user, secret, created, credential,"
	" credential_ok) VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SEL_MAILBOXES[] =
	"SELECT id, folder, uidvalidity, uidnext, highestmodseq, seq_base, list_gen"
	" FROM mailboxes WHERE account_id = ?1 ORDER BY id";
static const char INS_MAILBOXES[] =
	"INSERT INTO mailboxes(account_id, folder, uidvalidity, uidnext, highestmodseq,"
	" seq_base, list_gen) VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SEL_DEVICES[] =
	"SELECT id, name, created, last_login, last_address, protocol, tls, revoked, folder,"
	" offer, win, seen_on, dele, password_hash, enrol_mailbox_id, enrol_seq, enrol_time,"
	" n_retrieved, n_deleted, n_waiting, login_delay, pop3_login, n_sent"
	" FROM devices WHERE account_id = ?1 ORDER BY id";
static const char INS_DEVICES[] =
	"INSERT INTO devices(account_id, name, created, last_login, last_address, protocol,"
	" tls, revoked, folder, offer, win, seen_on, dele, password_hash, enrol_mailbox_id,"
	" enrol_seq, enrol_time, n_retrieved, n_deleted, n_waiting, login_delay, pop3_login,"
	" n_sent)"
	" VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,"
	" ?18, ?19, ?20, ?21, ?22, ?23, ?24)";
static const char SEL_MESSAGES[] =
	"SELECT id, mailbox_id, uidvalidity, uid, seq, uidl, old_uidl, rfc822_size,"
	" exact_size, flags, message_id, hdr_hash, emailid, gm_msgid, first_seen, gone,"
	" list_gen FROM messages"
	" WHERE mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1) ORDER BY id";
static const char INS_MESSAGES[] =
	"INSERT INTO messages(mailbox_id, uidvalidity, uid, seq, uidl, old_uidl,"
	" rfc822_size, exact_size, flags, message_id, hdr_hash, emailid, gm_msgid,"
	" first_seen, gone, list_gen)"
	" VALUES (?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";
static const char SEL_DEVMSG[] =
	"SELECT device_id, message_id, offered, retrieved, deleted FROM devmsg"
	" WHERE device_id IN (SELECT id FROM devices WHERE account_id = ?1)"
	" ORDER BY device_id, message_id";
static const char INS_DEVMSG[] =
	"INSERT INTO devmsg(device_id, message_id, offered, retrieved, deleted)"
	" VALUES (?2, ?3, ?4, ?5, ?6)";
static const char SEL_JOURNAL[] =
	"SELECT id, device_id, mailbox_id, folder, policy, state, created, finished,"
	" failures, last_error FROM journal WHERE account_id = ?1 ORDER BY id";
static const char INS_JOURNAL[] =
	"INSERT INTO journal(account_id, device_id, mailbox_id, folder, policy, state,"
	" created, finished, failures, last_error)"
	" VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
static const char SEL_JOURNAL_ITEMS[] =
	"SELECT journal_id, message_id, uidvalidity, uid, actions, done FROM journal_items"
	" WHERE journal_id IN (SELECT id FROM journal WHERE account_id = ?1)"
	" ORDER BY journal_id, message_id";
static const char INS_JOURNAL_ITEMS[] =
	"INSERT INTO journal_items(journal_id, message_id, uidvalidity, uid, actions, done)"
	" VALUES (?2, ?3, ?4, ?5, ?6, ?7)";
static const char SEL_OAUTH2[] =
	"SELECT provider, grant_type, token_url, device_url, scope, client_id, tenant,"
	" client_secret, refresh_token, access_token, access_expires, generation, refreshed,"
	" last_error FROM oauth2 WHERE account_id = ?1";
static const char INS_OAUTH2[] =
	"INSERT INTO oauth2(account_id, provider, grant_type, token_url, device_url, scope,"
	" client_id, tenant, client_secret, refresh_token, access_token, access_expires,"
	" generation, refreshed, last_error)"
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";

static const char SEL_SENT[] =
	"SELECT id, device_id, file, size, sha256, state, created, attempts, last_error,"
	" folder, uidvalidity, uid, finished FROM sent_copies WHERE account_id = ?1"
	" AND state = 3 ORDER BY id";
static const char INS_SENT[] =
	"INSERT INTO sent_copies(account_id, device_id, file, size, sha256, state, created,"
	" attempts, last_error, folder, uidvalidity, uid, finished)"
	" VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)";

static const struct {
	const char *sel, *ins;
} SQL[T_COUNT] = {
	[T_ACCOUNTS] = { SEL_ACCOUNTS, INS_ACCOUNTS },
	[T_MAILBOXES] = { SEL_MAILBOXES, INS_MAILBOXES },
	[T_DEVICES] = { SEL_DEVICES, INS_DEVICES },
	[T_MESSAGES] = { SEL_MESSAGES, INS_MESSAGES },
	[T_DEVMSG] = { SEL_DEVMSG, INS_DEVMSG },
	[T_JOURNAL] = { SEL_JOURNAL, INS_JOURNAL },
	[T_JOURNAL_ITEMS] = { SEL_JOURNAL_ITEMS, INS_JOURNAL_ITEMS },
	[T_OAUTH2] = { SEL_OAUTH2, INS_OAUTH2 },
	[T_SENT] = { SEL_SENT, INS_SENT },
};

static const char SQL_COLUMNS[] =
	"SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p"
	" WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
	" AND m.name <> 'schema_version' ORDER BY m.name, p.cid";
static const char SQL_FIND[] =
	"SELECT id, moved FROM accounts WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1";
static const char SQL_DROP[] =
	"DELETE FROM accounts WHERE id = ?1";
static const char SQL_HAS_GRANT[] =
	"SELECT (SELECT credential FROM accounts WHERE id = ?1),"
	" EXISTS (SELECT 1 FROM oauth2 WHERE account_id = ?1)";

const struct state_move_table *state_move_tables(size_t *n)
{
	*n = T_COUNT;
	return TABLES;
}

static int table_index(const struct state_move_table *t)
{
	return t >= TABLES && t < TABLES + T_COUNT ? (int)(t - TABLES) : -1;
}

/* ---- checking one row ------------------------------------------------------- */

static bool printable(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static bool form_ok(enum state_move_form form, const unsigned char *p, size_t len)
{
	const char *w = (const char *)p;

	switch (form) {
	case STATE_FORM_NAME:
		return len > 0 && printable(p, len);
	case STATE_FORM_PRINT:
		return printable(p, len);
	case STATE_FORM_UIDL:
		for (size_t i = 0; i < len; i++)
			if (p[i] < 0x21 || p[i] > 0x7e)
				return false;
		return len > 0;
	case STATE_FORM_OFFER:
		return state_db_offer_word(w, NULL);
	case STATE_FORM_SEEN_ON:
		return state_db_seen_on_word(w);
	case STATE_FORM_DELE:
		return state_db_dele_word(w);
	default:
		return true;
	}
}

static const char *form_text(enum state_move_form form)
{
	switch (form) {
	case STATE_FORM_NAME:    return "printable text, not empty";
	case STATE_FORM_PRINT:   return "printable text";
	case STATE_FORM_UIDL:    return "a UIDL (1 to 70 of the octets 0x21..0x7E)";
	case STATE_FORM_OFFER:   return "all, since-enrolment or unseen";
	case STATE_FORM_SEEN_ON: return "retr, quit or never";
	case STATE_FORM_DELE:    return "hide, trash, archive, flag, expunge or last-device";
	default:                 return "text";
	}
}

static int col_check(const struct state_move_col *c, const struct state_move_value *v,
    char *err, size_t errlen)
{
	if (v->null) {
		if (c->flags & STATE_MC_NULL)
			return 0;
		snprintf(err, errlen, "%s may not be null", c->name);
		return -1;
	}
	if (c->type == STATE_MT_INT) {
		if (v->i < c->min || v->i > c->max) {
			snprintf(err, errlen, "%s is %lld, not in %lld..%lld", c->name,
			    (long long)v->i, (long long)c->min, (long long)c->max);
			return -1;
		}
		return 0;
	}
	if (v->p == NULL || v->len < (size_t)c->min || v->len > (size_t)c->max) {
		snprintf(err, errlen, "%s must be %lld to %lld octets", c->name,
		    (long long)c->min, (long long)c->max);
		return -1;
	}
	if (c->type == STATE_MT_TEXT && (memchr(v->p, '\0', v->len) != NULL ||
	    v->p[v->len] != '\0' || !form_ok(c->form, v->p, v->len))) {
		snprintf(err, errlen, "%s must be %s", c->name, form_text(c->form));
		return -1;
	}
	return 0;
}

int state_move_row_check(const struct state_move_table *t, const struct state_move_value *v,
    char *err, size_t errlen)
{
	int ti = table_index(t);

	if (ti < 0) {
		snprintf(err, errlen, "not a table of an account");
		return -1;
	}
	for (size_t c = 0; c < t->ncol; c++)
		if (col_check(&t->cols[c], &v[c], err, errlen) != 0)
			return -1;
	if (ti == T_ACCOUNTS) {
		/* name, auth, upstream_user, secret, created, credential */
		bool managed = v[1].i == 1, oauth2 = v[5].i == 1;
		if (!managed && (!v[2].null || !v[3].null || oauth2)) {
			snprintf(err, errlen, "a passthrough account stores no upstream user, "
			    "password or OAuth2 grant");
			return -1;
		}
		if (managed && (v[2].null || v[3].null == !oauth2)) {
			snprintf(err, errlen, "a managed account has an upstream user and either "
			    "a password (credential 0) or an OAuth2 grant (credential 1)");
			return -1;
		}
	}
	return 0;
}

/* ---- the schema, all placed ---------------------------------------------------- */

static bool placed(int ti, const char *col)
{
	for (size_t c = 0; c < TABLES[ti].ncol; c++)
		if (strcmp(TABLES[ti].cols[c].name, col) == 0)
			return true;
	for (size_t k = 0; k < 4 && NOT_MOVED[ti][k] != NULL; k++)
		if (strcmp(NOT_MOVED[ti][k], col) == 0)
			return true;
	return false;
}

struct schema_walk {
	char table[64], column[64];
	bool bad;
};

static int schema_row(void *arg, sqlite3_stmt *st)
{
	struct schema_walk *w = arg;
	const char *t = (const char *)sqlite3_column_text(st, 0);
	const char *c = (const char *)sqlite3_column_text(st, 1);
	int ti = -1;

	for (int i = 0; i < T_COUNT && t != NULL; i++)
		if (strcmp(TABLES[i].name, t) == 0)
			ti = i;
	if (t == NULL || c == NULL || ti < 0 || !placed(ti, c)) {
		snprintf(w->table, sizeof w->table, "%s", t ? t : "?");
		snprintf(w->column, sizeof w->column, "%s", ti < 0 ? "" : c ? c : "?");
		w->bad = true;
		return 1;
	}
	return 0;
}

int state_move_schema_check(struct state_db *db)
{
	struct schema_walk w = { .bad = false };
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_COLUMNS);
	if (st == NULL)
		return STATE_ERROR;
	if (state_db_each_row(db, st, schema_row, &w, "reading the schema") != STATE_OK)
		return STATE_ERROR;
	if (w.bad && w.column[0] == '\0')
		return state_db_fail(db, STATE_ERROR, "moving accounts: table %s is not placed "
		    "(state/move.c: a table of an account, or not moved)", w.table);
	if (w.bad)
		return state_db_fail(db, STATE_ERROR, "moving accounts: column %s.%s is not "
		    "placed (state/move.c: moved, or not moved)", w.table, w.column);
	return STATE_OK;
}

/* ---- dump ------------------------------------------------------------------------ */

struct dump {
	const struct state_move_table *t;
	state_move_row_cb *cb;
	void *arg;
	struct state_move_value v[STATE_MOVE_COLS_MAX];
};

static int dump_row(void *arg, sqlite3_stmt *st)
{
	struct dump *d = arg;

	for (size_t c = 0; c < d->t->ncol; c++) {
		struct state_move_value *v = &d->v[c];
		int ty = sqlite3_column_type(st, (int)c);

		memset(v, 0, sizeof *v);
		v->null = ty == SQLITE_NULL;
		if (v->null)
			continue;
		switch (d->t->cols[c].type) {
		case STATE_MT_INT:
			v->i = sqlite3_column_int64(st, (int)c);
			break;
		case STATE_MT_TEXT:
			v->p = sqlite3_column_text(st, (int)c);
			v->len = (size_t)sqlite3_column_bytes(st, (int)c);
			break;
		default:
			v->p = sqlite3_column_blob(st, (int)c);
			v->len = (size_t)sqlite3_column_bytes(st, (int)c);
			if (v->p == NULL)
				v->p = (const unsigned char *)"";
			break;
		}
	}
	return d->cb(d->arg, d->t, d->v);
}

int state_move_dump(struct state_db *db, int64_t account_id, state_move_row_cb *cb,
    void *arg)
{
	struct dump d = { .cb = cb, .arg = arg };
	struct db_tx tx;
	int rc = state_move_schema_check(db);

	if (rc != STATE_OK)
		return rc;
	if (state_db_tx_begin_read(db, &tx) != STATE_OK)
		return STATE_ERROR;
	for (int ti = 0; rc == STATE_OK && ti < T_COUNT; ti++) {
		sqlite3_stmt *st = state_db_stmt(db, SQL[ti].sel);
		char what[64];

		if (st == NULL) {
			rc = STATE_ERROR;
			break;
		}
		if ((size_t)sqlite3_column_count(st) != TABLES[ti].ncol) {
			rc = state_db_fail(db, STATE_ERROR, "moving accounts: the query of %s "
			    "does not match its columns", TABLES[ti].name);
			break;
		}
		d.t = &TABLES[ti];
		sqlite3_bind_int64(st, 1, account_id);
		snprintf(what, sizeof what, "reading %s", TABLES[ti].name);
		rc = state_db_each_row(db, st, dump_row, &d, what);
	}
	state_db_tx_end_read(db, &tx);
	return rc;
}

/* ---- load ------------------------------------------------------------------------- */

struct idmap {
	int64_t *old, *new_;
	size_t n, cap;
};

struct state_move_load {
	struct state_db *db;
	struct db_tx tx;
	char account[STATE_ACCOUNT_MAX + 1];
	int64_t account_id;     /* 0 until the accounts row */
	int last;               /* the table of the last row; -1 before any */
	size_t rows[T_COUNT];
	int64_t last_ref[T_COUNT][2]; /* tables without an id: the last (ref, ref) */
	struct idmap map[T_COUNT];
};

static void load_free(struct state_move_load *ld)
{
	for (int i = 0; i < T_COUNT; i++) {
		free(ld->map[i].old);
		free(ld->map[i].new_);
	}
	free(ld);
}

int state_move_load_begin(struct state_db *db, const char *account, int64_t *replaced,
    struct state_move_load **out)
{
	struct state_move_load *ld;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	if (replaced != NULL)
		*replaced = 0;
	DB_ENTER(db);
	if (!state_account_name_ok(account))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_ACCOUNT_RULE);
	rc = state_move_schema_check(db);
	if (rc != STATE_OK)
		return rc;
	ld = calloc(1, sizeof *ld);
	if (ld == NULL)
		return state_db_fail(db, STATE_ERROR, "moving accounts: out of memory");
	ld->db = db;
	ld->last = -1;
	snprintf(ld->account, sizeof ld->account, "%s", account);
	if (state_db_tx_begin(db, &ld->tx) != STATE_OK) {
		load_free(ld);
		return STATE_ERROR;
	}
	st = state_db_stmt(db, SQL_FIND);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto fail;
	}
	sqlite3_bind_text(st, 1, account, -1, SQLITE_TRANSIENT);
	rc = state_db_step_row(db, st, "looking the account up", "account");
	if (rc == STATE_NOTFOUND) {
		*out = ld;
		return STATE_OK;
	}
	if (rc != STATE_OK)
		goto fail;
	int64_t id = sqlite3_column_int64(st, 0);
	int64_t moved = sqlite3_column_int64(st, 1);
	state_db_done(st);
	if (moved == 0) {
		rc = state_db_fail(db, STATE_EXISTS, "account '%s' exists here already (it was "
		    "not moved away from this node)", account);
		goto fail;
	}
	/* an account coming back: its frozen rows give way to the file's */
	st = state_db_stmt(db, SQL_DROP);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto fail;
	}
	sqlite3_bind_int64(st, 1, id);
	rc = state_db_exec_one(db, st, "removing the account's frozen rows", "account");
	if (rc != STATE_OK)
		goto fail;
	if (replaced != NULL)
		*replaced = moved;
	*out = ld;
	return STATE_OK;
fail:
	state_db_tx_rollback(db, &ld->tx);
	load_free(ld);
	return rc;
}

/* The new id of old in map m, or 0. */
static int64_t map_find(const struct idmap *m, int64_t old)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->old[mid] == old)
			return m->new_[mid];
		if (m->old[mid] < old)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int map_add(struct idmap *m, int64_t old, int64_t new_)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		int64_t *o = realloc(m->old, cap * sizeof *o);
		if (o == NULL)
			return -1;
		m->old = o;
		int64_t *n = realloc(m->new_, cap * sizeof *n);
		if (n == NULL)
			return -1;
		m->new_ = n;
		m->cap = cap;
	}
	m->old[m->n] = old;
	m->new_[m->n] = new_;
	m->n++;
	return 0;
}

/* Row n of t ("devices row 3"), for messages. */
#define ROW_FMT "%s row %zu: "
#define ROW_ARGS(t, ld, ti) (t)->name, (ld)->rows[ti] + 1

static int bind_row(struct state_move_load *ld, int ti, sqlite3_stmt *st,
    const struct state_move_value *v)
{
	const struct state_move_table *t = &TABLES[ti];

	sqlite3_bind_int64(st, 1, ld->account_id);
	for (size_t c = 0; c < t->ncol; c++) {
		const struct state_move_col *col = &t->cols[c];
		int idx = (int)c + 2;

		if (col->flags & STATE_MC_ID)
			continue;
		if (v[c].null) {
			sqlite3_bind_null(st, idx);
		} else if (col->flags & STATE_MC_REF) {
			int64_t id = map_find(&ld->map[col->ref], v[c].i);
			if (id == 0)
				return state_db_fail(ld->db, STATE_INVALID, ROW_FMT "%s %lld is no "
				    "%s row of the file", ROW_ARGS(t, ld, ti), col->name,
				    (long long)v[c].i, TABLES[col->ref].name);
			sqlite3_bind_int64(st, idx, id);
		} else if (col->type == STATE_MT_INT) {
			sqlite3_bind_int64(st, idx, v[c].i);
		} else if (col->type == STATE_MT_TEXT) {
			sqlite3_bind_text(st, idx, (const char *)v[c].p, (int)v[c].len,
			    SQLITE_TRANSIENT);
		} else {
			sqlite3_bind_blob(st, idx, v[c].p, (int)v[c].len, SQLITE_TRANSIENT);
		}
	}
	return STATE_OK;
}

/* Ids ascend in each table (ids, or the pair of references of a table
 * without one): what makes the maps sorted and duplicates visible. */
static int order_check(struct state_move_load *ld, int ti, const struct state_move_value *v)
{
	const struct state_move_table *t = &TABLES[ti];
	bool first = ld->rows[ti] == 0;

	if (t->cols[0].flags & STATE_MC_ID) {
		const struct idmap *m = &ld->map[ti];
		if (m->n > 0 && v[0].i <= m->old[m->n - 1])
			return state_db_fail(ld->db, STATE_INVALID, ROW_FMT "id %lld does not "
			    "follow %lld (ids ascend)", ROW_ARGS(t, ld, ti), (long long)v[0].i,
			    (long long)m->old[m->n - 1]);
		return STATE_OK;
	}
	if (t->ncol < 2 || !(t->cols[0].flags & STATE_MC_REF) ||
	    !(t->cols[1].flags & STATE_MC_REF))
		return STATE_OK;
	int64_t a = v[0].i, b = v[1].i;
	if (!first && (a < ld->last_ref[ti][0] ||
	    (a == ld->last_ref[ti][0] && b <= ld->last_ref[ti][1])))
		return state_db_fail(ld->db, STATE_INVALID, ROW_FMT "(%s, %s) = (%lld, %lld) "
		    "does not follow the row before (they ascend)", ROW_ARGS(t, ld, ti),
		    t->cols[0].name, t->cols[1].name, (long long)a, (long long)b);
	ld->last_ref[ti][0] = a;
	ld->last_ref[ti][1] = b;
	return STATE_OK;
}

int state_move_load_row(struct state_move_load *ld, const struct state_move_table *t,
    const struct state_move_value *v)
{
	struct state_db *db = ld->db;
	int ti = table_index(t);
	char err[DB_ERR_MAX - 48];
	int rc;

	DB_ENTER(db);
	if (ti < 0)
		return state_db_fail(db, STATE_INVALID, "not a table of an account");
	if (ti < ld->last)
		return state_db_fail(db, STATE_INVALID, "%s rows come after %s rows (the "
		    "tables' order)", TABLES[ld->last].name, t->name);
	if ((ti == T_ACCOUNTS) != (ld->account_id == 0))
		return state_db_fail(db, STATE_INVALID, ti == T_ACCOUNTS ?
		    "a second accounts row" : "%s row before the accounts row", t->name);
	if (t->at_most_one && ld->rows[ti] > 0)
		return state_db_fail(db, STATE_INVALID, "a second %s row", t->name);
	if (state_move_row_check(t, v, err, sizeof err) != 0)
		return state_db_fail(db, STATE_INVALID, ROW_FMT "%s", ROW_ARGS(t, ld, ti), err);
	if (ti == T_ACCOUNTS && strcmp((const char *)v[0].p, ld->account) != 0)
		return state_db_fail(db, STATE_INVALID, "the accounts row names another account");
	rc = order_check(ld, ti, v);
	if (rc != STATE_OK)
		return rc;
	sqlite3_stmt *st = state_db_stmt(db, SQL[ti].ins);
	if (st == NULL)
		return STATE_ERROR;
	if ((size_t)sqlite3_bind_parameter_count(st) != t->ncol + 1)
		return state_db_fail(db, STATE_ERROR, "moving accounts: the insert of %s does "
		    "not match its columns", t->name);
	rc = bind_row(ld, ti, st, v);
	if (rc != STATE_OK) {
		state_db_done(st);
		return rc;
	}
	char what[96];
	snprintf(what, sizeof what, ROW_FMT "writing", ROW_ARGS(t, ld, ti));
	rc = state_db_exec_stmt(db, st, what);
	if (rc == STATE_EXISTS)
		return state_db_fail(db, STATE_INVALID, ROW_FMT "a duplicate (an id, a name, "
		    "a UID or a pair of references taken by an earlier row)",
		    ROW_ARGS(t, ld, ti));
	if (rc != STATE_OK)
		return rc;
	int64_t id = sqlite3_last_insert_rowid(db->conn);
	if (ti == T_ACCOUNTS)
		ld->account_id = id;
	else if ((t->cols[0].flags & STATE_MC_ID) && map_add(&ld->map[ti], v[0].i, id) != 0)
		return state_db_fail(db, STATE_ERROR, "moving accounts: out of memory");
	ld->rows[ti]++;
	ld->last = ti;
	return STATE_OK;
}

size_t state_move_load_count(const struct state_move_load *ld, size_t t)
{
	return t < T_COUNT ? ld->rows[t] : 0;
}

int state_move_load_commit(struct state_move_load *ld)
{
	struct state_db *db = ld->db;
	sqlite3_stmt *st;
	int rc = STATE_OK;

	if (state_db_enter(db) != 0) {
		state_move_load_abort(ld);
		return STATE_ERROR;
	}
	if (ld->account_id == 0)
		rc = state_db_fail(db, STATE_INVALID, "no accounts row");
	if (rc == STATE_OK && (st = state_db_stmt(db, SQL_HAS_GRANT)) == NULL)
		rc = STATE_ERROR;
	if (rc == STATE_OK) {
		sqlite3_bind_int64(st, 1, ld->account_id);
		rc = state_db_step_row(db, st, "checking the account", "account");
		if (rc == STATE_OK) {
			bool oauth2 = sqlite3_column_int(st, 0) == 1;
			bool grant = sqlite3_column_int(st, 1) != 0;
			state_db_done(st);
			if (oauth2 != grant)
				rc = state_db_fail(db, STATE_INVALID, oauth2 ?
				    "an OAuth2 account without its oauth2 row" :
				    "an oauth2 row for an account whose credential is a password");
		}
	}
	rc = state_db_tx_end(db, &ld->tx, rc);
	load_free(ld);
	return rc;
}

void state_move_load_abort(struct state_move_load *ld)
{
	if (ld == NULL)
		return;
	state_db_tx_rollback(ld->db, &ld->tx);
	load_free(ld);
}
