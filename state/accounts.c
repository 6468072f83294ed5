/* state/accounts.c — accounts: name, auth mode, managed credentials. */
#include <string.h>

#include "state/db_int.h"

static const char SQL_INSERT[] =
	"INSERT INTO accounts(name, auth, upstream_user, secret, created)"
	" VALUES (?1, ?2, ?3, ?4, ?5)";
/* (apart, so that files of older versions, which tests create, still take
 * new password accounts) */
static const char SQL_SET_KIND[] =
	"UPDATE accounts SET credential = ?2 WHERE id = ?1";
static const char SQL_BY_NAME[] =
	"SELECT " DB_ACCOUNT_COLS " FROM accounts a WHERE a.name = ?1 COLLATE NOCASE"
	" ORDER BY a.id LIMIT 1";
static const char SQL_BY_ID[] =
	"SELECT " DB_ACCOUNT_COLS " FROM accounts a WHERE a.id = ?1";
static const char SQL_LIST[] =
	"SELECT " DB_ACCOUNT_COLS " FROM accounts a ORDER BY a.name";
static const char SQL_SET_CRED[] =
	"UPDATE accounts SET auth = ?2, upstream_user = ?3, secret = ?4, credential = 0,"
	" credential_ok = NULL WHERE id = ?1";
static const char SQL_DROP_GRANT[] =
	"DELETE FROM oauth2 WHERE account_id = ?1";
static const char SQL_CRED_OK[] =
	"SELECT credential_ok FROM accounts WHERE id = ?1";
static const char SQL_SET_CRED_OK[] =
	"UPDATE accounts SET credential_ok = ?2 WHERE id = ?1";
static const char SQL_REMOVE[] =
	"DELETE FROM accounts WHERE id = (SELECT id FROM accounts"
	" WHERE name = ?1 COLLATE NOCASE ORDER BY id LIMIT 1)";
static const char SQL_SET_MOVED[] =
	"UPDATE accounts SET moved = COALESCE(moved, ?2) WHERE id = ?1";
static const char SQL_SENT_OWED[] =
	"SELECT count(*) FROM sent_copies WHERE account_id = ?1 AND state <> 3";
static const char SQL_MOVED[] =
	"SELECT moved FROM accounts WHERE id = ?1";
static const char SQL_CLEAR_MOVED[] =
	"UPDATE accounts SET moved = NULL WHERE id = ?1 AND moved = ?2";
static const char SQL_NAME_TAKEN[] =
	"SELECT name FROM accounts WHERE name = ?1 COLLATE NOCASE LIMIT 1";

void state_db_row_to_account(sqlite3_stmt *st, int c, struct state_account *a)
{
	const void *blob;
	int n;

	memset(a, 0, sizeof *a);
	a->id = sqlite3_column_int64(st, c);
	state_db_col_text(st, c + 1, a->name, sizeof a->name);
	a->auth = sqlite3_column_int(st, c + 2) == 1 ? STATE_AUTH_MANAGED :
	    STATE_AUTH_PASSTHROUGH;
	state_db_col_text(st, c + 3, a->upstream_user, sizeof a->upstream_user);
	blob = sqlite3_column_blob(st, c + 4);
	n = sqlite3_column_bytes(st, c + 4);
	if (blob != NULL && n > 0 && (size_t)n <= sizeof a->secret) {
		memcpy(a->secret, blob, (size_t)n);
		a->secret_len = (size_t)n;
	}
	a->created = sqlite3_column_int64(st, c + 5);
	a->credential = sqlite3_column_int(st, c + 6) == 1 ? STATE_CRED_OAUTH2 :
	    STATE_CRED_PASSWORD;
	a->credential_ok = sqlite3_column_type(st, c + 7) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(st, c + 7) != 0;
	a->moved = sqlite3_column_int64(st, c + 8);
}

/* Run a one-row account query; *out filled. */
static int get_one(struct state_db *db, sqlite3_stmt *st, struct state_account *out)
{
	int rc = state_db_step_row(db, st, "reading an account", "account");

	if (rc == STATE_OK && out != NULL)
		state_db_row_to_account(st, 0, out);
	state_db_done(st);
	return rc;
}

static int check_credentials(struct state_db *db, enum state_auth auth,
    const char *upstream_user, const void *secret, size_t secret_len)
{
	if (auth == STATE_AUTH_PASSTHROUGH) {
		if ((upstream_user != NULL && upstream_user[0] != '\0') || secret_len != 0)
			return state_db_fail(db, STATE_INVALID,
			    "a passthrough account stores no upstream credentials");
		return STATE_OK;
	}
	if (auth != STATE_AUTH_MANAGED)
		return state_db_fail(db, STATE_INVALID, "unknown auth mode %d", (int)auth);
	if (!state_db_text_ok(upstream_user, STATE_USER_MAX, false))
		return state_db_fail(db, STATE_INVALID,
		    "upstream user name must be 1..%d printable octets", STATE_USER_MAX);
	if (secret == NULL || secret_len == 0 || secret_len > STATE_SECRET_MAX)
		return state_db_fail(db, STATE_INVALID,
		    "upstream secret must be 1..%d octets", STATE_SECRET_MAX);
	return STATE_OK;
}

static int bind_credentials(sqlite3_stmt *st, enum state_auth auth,
    const char *upstream_user, const void *secret, size_t secret_len)
{
	sqlite3_bind_int(st, 2, (int)auth);
	if (auth == STATE_AUTH_MANAGED) {
		sqlite3_bind_text(st, 3, upstream_user, -1, SQLITE_TRANSIENT);
		return sqlite3_bind_blob(st, 4, secret, (int)secret_len, SQLITE_TRANSIENT);
	}
	sqlite3_bind_null(st, 3);
	return sqlite3_bind_null(st, 4);
}

bool state_account_name_ok(const char *name)
{
	return state_db_text_ok(name, STATE_ACCOUNT_MAX, false);
}

int state_account_add(struct state_db *db, const char *name, enum state_auth auth,
    const char *upstream_user, const void *secret, size_t secret_len, int64_t now,
    int64_t *id)
{
	struct db_tx tx;
	int rc;

	DB_ENTER(db);
	if (!state_account_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_ACCOUNT_RULE);
	rc = check_credentials(db, auth, upstream_user, secret, secret_len);
	if (rc != STATE_OK)
		return rc;
	/* One transaction: the case-insensitive name check and the insert
	 * under the same write lock ("Alice" and "alice" at once: one wins). */
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_db_account_insert(db, name, auth, upstream_user, secret, secret_len,
	    STATE_CRED_PASSWORD, now, id);
	return state_db_tx_end(db, &tx, rc);
}

int state_db_account_insert(struct state_db *db, const char *name, enum state_auth auth,
    const char *upstream_user, const void *secret, size_t secret_len,
    enum state_credential credential, int64_t now, int64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	if (!state_account_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_ACCOUNT_RULE);
	/* Names compare ASCII case-insensitively: "Alice" is taken by "alice". */
	st = state_db_stmt(db, SQL_NAME_TAKEN);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc = state_db_name_free(db, st, "account");
	if (rc != STATE_OK)
		return rc;
	st = state_db_stmt(db, SQL_INSERT);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	bind_credentials(st, auth, upstream_user, secret, secret_len);
	sqlite3_bind_int64(st, 5, now);
	rc = state_db_exec_stmt(db, st, "adding an account");
	if (rc == STATE_EXISTS)
		return state_db_fail(db, STATE_EXISTS, "account '%s' already exists", name);
	if (rc != STATE_OK)
		return rc;
	int64_t aid = sqlite3_last_insert_rowid(db->conn);
	if (credential != STATE_CRED_PASSWORD) {
		st = state_db_stmt(db, SQL_SET_KIND);
		if (st == NULL)
			return STATE_ERROR;
		sqlite3_bind_int64(st, 1, aid);
		sqlite3_bind_int(st, 2, (int)credential);
		rc = state_db_exec_one(db, st, "setting the credential kind", "account");
		if (rc != STATE_OK)
			return rc;
	}
	if (id != NULL)
		*id = aid;
	return STATE_OK;
}

int state_account_get(struct state_db *db, const char *name, struct state_account *out)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (!state_account_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_ACCOUNT_RULE);
	st = state_db_stmt(db, SQL_BY_NAME);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	return get_one(db, st, out);
}

int state_account_get_by_id(struct state_db *db, int64_t id, struct state_account *out)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_BY_ID);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, out);
}

int state_account_ensure(struct state_db *db, const char *name, int64_t now,
    struct state_account *out)
{
	struct db_tx tx;
	int rc;

	DB_ENTER(db);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_account_get(db, name, out);
	if (rc == STATE_NOTFOUND) {
		rc = state_account_add(db, name, STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, now,
		    NULL);
		if (rc == STATE_OK)
			rc = state_account_get(db, name, out);
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_account_set_credentials(struct state_db *db, int64_t account_id,
    enum state_auth auth, const char *upstream_user, const void *secret,
    size_t secret_len)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	rc = check_credentials(db, auth, upstream_user, secret, secret_len);
	if (rc != STATE_OK)
		return rc;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_SET_CRED);
	if (st == NULL)
		return state_db_tx_end(db, &tx, STATE_ERROR);
	sqlite3_bind_int64(st, 1, account_id);
	bind_credentials(st, auth, upstream_user, secret, secret_len);
	rc = state_db_exec_one(db, st, "setting account credentials", "account");
	/* a password replaces an OAuth2 grant */
	if (rc == STATE_OK && (st = state_db_stmt(db, SQL_DROP_GRANT)) == NULL)
		rc = STATE_ERROR;
	if (rc == STATE_OK) {
		sqlite3_bind_int64(st, 1, account_id);
		rc = state_db_exec_stmt(db, st, "removing the OAuth2 grant");
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_account_credential_result(struct state_db *db, int64_t account_id, bool ok)
{
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	/* Read first: the common case (no change) takes no write lock. */
	st = state_db_stmt(db, SQL_CRED_OK);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	rc = state_db_step_row(db, st, "reading an account", "account");
	if (rc != STATE_OK)
		return rc;
	bool same = sqlite3_column_type(st, 0) != SQLITE_NULL &&
	    (sqlite3_column_int(st, 0) != 0) == ok;
	state_db_done(st);
	if (same)
		return STATE_OK;
	st = state_db_stmt(db, SQL_SET_CRED_OK);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int(st, 2, ok ? 1 : 0);
	return state_db_exec_one(db, st, "recording the credential's outcome", "account");
}

int state_account_remove(struct state_db *db, const char *name)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (!state_account_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_ACCOUNT_RULE);
	st = state_db_stmt(db, SQL_REMOVE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	return state_db_exec_one(db, st, "removing an account", "account");
}

struct account_rows {
	state_account_cb *cb;
	void *arg;
	struct state_account a;
};

static int account_row(void *ctx, sqlite3_stmt *st)
{
	struct account_rows *r = ctx;

	state_db_row_to_account(st, 0, &r->a);
	return r->cb(r->arg, &r->a);
}

int state_account_list(struct state_db *db, state_account_cb *cb, void *arg)
{
	struct account_rows r = { .cb = cb, .arg = arg };
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_LIST);
	if (st == NULL)
		return STATE_ERROR;
	return state_db_each_row(db, st, account_row, &r, "listing accounts");
}


int state_account_set_moved(struct state_db *db, int64_t account_id, int64_t now,
    int64_t *moved)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	if (now <= 0)
		return state_db_fail(db, STATE_INVALID, "a move is marked with a time");
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	/* A Sent copy owed is a spool file on this node: it is appended here
	 * first (the account's next login, or managed mode's retry). */
	st = state_db_stmt(db, SQL_SENT_OWED);
	if (st == NULL)
		return state_db_tx_end(db, &tx, STATE_ERROR);
	sqlite3_bind_int64(st, 1, account_id);
	rc = state_db_step_row(db, st, "counting Sent copies owed", "account");
	if (rc != STATE_OK)
		return state_db_tx_end(db, &tx, rc);
	int64_t owed = sqlite3_column_int64(st, 0);
	state_db_done(st);
	if (owed > 0)
		return state_db_tx_end(db, &tx, state_db_fail(db, STATE_LIMIT, "%lld Sent "
		    "cop%s of the account still owed to its Sent folder (report: Sent copies "
		    "pending): they are appended at its next login or retry; export again once "
		    "none is left", (long long)owed, owed == 1 ? "y" : "ies"));
	st = state_db_stmt(db, SQL_SET_MOVED);
	if (st == NULL)
		return state_db_tx_end(db, &tx, STATE_ERROR);
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, now);
	rc = state_db_exec_one(db, st, "marking an account moved", "account");
	if (rc == STATE_OK && (st = state_db_stmt(db, SQL_MOVED)) == NULL)
		rc = STATE_ERROR;
	if (rc == STATE_OK) {
		sqlite3_bind_int64(st, 1, account_id);
		rc = state_db_step_row(db, st, "reading an account", "account");
		if (rc == STATE_OK) {
			if (moved != NULL)
				*moved = sqlite3_column_int64(st, 0);
			state_db_done(st);
		}
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_account_clear_moved(struct state_db *db, int64_t account_id, int64_t moved)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_CLEAR_MOVED);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, moved);
	return state_db_exec_stmt(db, st, "clearing an account's move");
}
