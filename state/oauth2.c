/* state/oauth2.c — OAuth2 grants of managed accounts and their refresh lease
 * (see state.h, "OAuth2 grants"). */
#include <string.h>

#include "state/db_int.h"

#define GRANT_COLS \
	"account_id, provider, grant_type, token_url, device_url, scope, client_id, tenant," \
	" client_secret, refresh_token, access_token, access_expires, generation, refreshed," \
	" last_error"

static const char SQL_INSERT[] =
	"INSERT INTO oauth2(account_id, provider, grant_type, token_url, device_url, scope,"
	" client_id, tenant, client_secret, refresh_token, access_token, access_expires,"
	" refreshed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
static const char SQL_GET[] =
	"SELECT " GRANT_COLS " FROM oauth2 WHERE account_id = ?1";
static const char SQL_REPLACE[] =
	"UPDATE oauth2 SET provider = ?2, grant_type = ?3, token_url = ?4, device_url = ?5,"
	" scope = ?6, client_id = ?7, tenant = ?8, client_secret = ?9, refresh_token = ?10,"
	" access_token = ?11, access_expires = ?12, refreshed = ?13,"
	" generation = generation + 1, lease_owner = 0, lease_until = 0, last_error = NULL"
	" WHERE account_id = ?1";
static const char SQL_UNKNOWN_OK[] =
	"UPDATE accounts SET credential_ok = NULL WHERE id = ?1 AND credential = 1";
static const char SQL_LEASE[] =
	"UPDATE oauth2 SET lease_owner = ?3, lease_until = ?5"
	" WHERE account_id = ?1 AND generation = ?2"
	" AND (lease_owner = 0 OR lease_owner = ?3 OR lease_until <= ?4)";
static const char SQL_STORE[] =
	"UPDATE oauth2 SET access_token = ?3, access_expires = ?4,"
	" refresh_token = CASE WHEN ?5 IS NULL THEN refresh_token ELSE ?5 END,"
	" refreshed = ?6, generation = generation + 1, last_error = NULL,"
	" lease_until = CASE WHEN lease_owner = ?2 THEN 0 ELSE lease_until END,"
	" lease_owner = CASE WHEN lease_owner = ?2 THEN 0 ELSE lease_owner END"
	" WHERE account_id = ?1";
static const char SQL_RELEASE[] =
	"UPDATE oauth2 SET last_error = ?3,"
	" lease_until = CASE WHEN lease_owner = ?2 THEN 0 ELSE lease_until END,"
	" lease_owner = CASE WHEN lease_owner = ?2 THEN 0 ELSE lease_owner END"
	" WHERE account_id = ?1";

static bool blob_ok(size_t len)
{
	return len <= STATE_TOKEN_BLOB_MAX;
}

static int check_grant(struct state_db *db, const struct state_oauth2 *g)
{
	if (!state_db_text_ok(g->provider, STATE_PROVIDER_MAX, false) ||
	    !state_db_text_ok(g->grant, STATE_GRANT_MAX, false))
		return state_db_fail(db, STATE_INVALID, "OAuth2 provider or grant missing");
	if (!state_db_text_ok(g->token_url, STATE_URL_MAX, false) ||
	    !state_db_text_ok(g->device_url, STATE_URL_MAX, true))
		return state_db_fail(db, STATE_INVALID,
		    "an OAuth2 endpoint is 1..%d printable octets", STATE_URL_MAX);
	if (!state_db_text_ok(g->scope, STATE_SCOPE_MAX, true))
		return state_db_fail(db, STATE_INVALID,
		    "an OAuth2 scope is at most %d printable octets", STATE_SCOPE_MAX);
	if (!state_db_text_ok(g->client_id, STATE_CLIENT_ID_MAX, false) ||
	    !state_db_text_ok(g->tenant, STATE_TENANT_MAX, true))
		return state_db_fail(db, STATE_INVALID,
		    "an OAuth2 client id is 1..%d printable octets, a tenant at most %d",
		    STATE_CLIENT_ID_MAX, STATE_TENANT_MAX);
	if (!blob_ok(g->client_secret_len) || !blob_ok(g->refresh_len) ||
	    !blob_ok(g->access_len))
		return state_db_fail(db, STATE_INVALID,
		    "a sealed OAuth2 secret is at most %d octets", STATE_TOKEN_BLOB_MAX);
	return STATE_OK;
}

static void bind_blob_or_null(sqlite3_stmt *st, int idx, const void *p, size_t len)
{
	if (len == 0)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_blob(st, idx, p, (int)len, SQLITE_TRANSIENT);
}

/* ?2..?13 of SQL_INSERT and SQL_REPLACE. */
static void bind_grant(sqlite3_stmt *st, const struct state_oauth2 *g, int64_t now)
{
	sqlite3_bind_text(st, 2, g->provider, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, g->grant, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, g->token_url, -1, SQLITE_TRANSIENT);
	state_db_bind_text_or_null(st, 5, g->device_url);
	state_db_bind_text_or_null(st, 6, g->scope);
	sqlite3_bind_text(st, 7, g->client_id, -1, SQLITE_TRANSIENT);
	state_db_bind_text_or_null(st, 8, g->tenant);
	bind_blob_or_null(st, 9, g->client_secret, g->client_secret_len);
	bind_blob_or_null(st, 10, g->refresh, g->refresh_len);
	bind_blob_or_null(st, 11, g->access, g->access_len);
	sqlite3_bind_int64(st, 12, g->access_expires);
	sqlite3_bind_int64(st, 13, now);
}

int state_oauth2_account_add(struct state_db *db, const char *name, const char *upstream_user,
    const struct state_oauth2 *g, int64_t now, int64_t *id)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int64_t aid = 0;
	int rc;

	DB_ENTER(db);
	if (!state_account_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_ACCOUNT_RULE);
	if (!state_db_text_ok(upstream_user, STATE_USER_MAX, false))
		return state_db_fail(db, STATE_INVALID,
		    "upstream user name must be 1..%d printable octets", STATE_USER_MAX);
	rc = check_grant(db, g);
	if (rc != STATE_OK)
		return rc;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_db_account_insert(db, name, STATE_AUTH_MANAGED, upstream_user, NULL, 0,
	    STATE_CRED_OAUTH2, now, &aid);
	if (rc == STATE_OK && (st = state_db_stmt(db, SQL_INSERT)) == NULL)
		rc = STATE_ERROR;
	if (rc == STATE_OK) {
		sqlite3_bind_int64(st, 1, aid);
		bind_grant(st, g, now);
		rc = state_db_exec_stmt(db, st, "adding an OAuth2 grant");
	}
	rc = state_db_tx_end(db, &tx, rc);
	if (rc == STATE_OK && id != NULL)
		*id = aid;
	return rc;
}

static void col_blob(sqlite3_stmt *st, int col, unsigned char *buf, size_t *len)
{
	const void *p = sqlite3_column_blob(st, col);
	int n = sqlite3_column_bytes(st, col);
	*len = 0;
	if (p != NULL && n > 0 && (size_t)n <= STATE_TOKEN_BLOB_MAX) {
		memcpy(buf, p, (size_t)n);
		*len = (size_t)n;
	}
}

int state_oauth2_get(struct state_db *db, int64_t account_id, struct state_oauth2 *out)
{
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_GET);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	rc = state_db_step_row(db, st, "reading an OAuth2 grant", "OAuth2 grant");
	if (rc != STATE_OK)
		return rc;
	memset(out, 0, sizeof(*out));
	out->account_id = sqlite3_column_int64(st, 0);
	state_db_col_text(st, 1, out->provider, sizeof(out->provider));
	state_db_col_text(st, 2, out->grant, sizeof(out->grant));
	state_db_col_text(st, 3, out->token_url, sizeof(out->token_url));
	state_db_col_text(st, 4, out->device_url, sizeof(out->device_url));
	state_db_col_text(st, 5, out->scope, sizeof(out->scope));
	state_db_col_text(st, 6, out->client_id, sizeof(out->client_id));
	state_db_col_text(st, 7, out->tenant, sizeof(out->tenant));
	col_blob(st, 8, out->client_secret, &out->client_secret_len);
	col_blob(st, 9, out->refresh, &out->refresh_len);
	col_blob(st, 10, out->access, &out->access_len);
	out->access_expires = sqlite3_column_int64(st, 11);
	out->generation = sqlite3_column_int64(st, 12);
	out->refreshed = sqlite3_column_int64(st, 13);
	state_db_col_text(st, 14, out->last_error, sizeof(out->last_error));
	state_db_done(st);
	return STATE_OK;
}

int state_oauth2_replace(struct state_db *db, int64_t account_id, const struct state_oauth2 *g,
    int64_t now)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	rc = check_grant(db, g);
	if (rc != STATE_OK)
		return rc;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_REPLACE);
	if (st == NULL)
		return state_db_tx_end(db, &tx, STATE_ERROR);
	sqlite3_bind_int64(st, 1, account_id);
	bind_grant(st, g, now);
	rc = state_db_exec_one(db, st, "replacing an OAuth2 grant", "OAuth2 grant");
	if (rc == STATE_OK && (st = state_db_stmt(db, SQL_UNKNOWN_OK)) == NULL)
		rc = STATE_ERROR;
	if (rc == STATE_OK) {
		sqlite3_bind_int64(st, 1, account_id);
		rc = state_db_exec_stmt(db, st, "resetting the credential's outcome");
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_oauth2_lease(struct state_db *db, int64_t account_id, int64_t generation,
    int64_t owner, int64_t now, int64_t until)
{
	sqlite3_stmt *st;
	size_t n = 0;

	DB_ENTER(db);
	if (owner == 0)
		return state_db_fail(db, STATE_INVALID, "a lease owner is not 0");
	st = state_db_stmt(db, SQL_LEASE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, generation);
	sqlite3_bind_int64(st, 3, owner);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, until);
	int rc = state_db_exec_count(db, st, "taking the OAuth2 refresh lease", &n);
	if (rc != STATE_OK)
		return rc;
	return n == 1 ? STATE_OK : STATE_EXISTS;
}

int state_oauth2_store(struct state_db *db, int64_t account_id, int64_t owner,
    const void *access, size_t access_len, int64_t access_expires,
    const void *refresh, size_t refresh_len, int64_t now)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (access == NULL || access_len == 0 || !blob_ok(access_len) || !blob_ok(refresh_len))
		return state_db_fail(db, STATE_INVALID,
		    "a sealed OAuth2 token is 1..%d octets", STATE_TOKEN_BLOB_MAX);
	st = state_db_stmt(db, SQL_STORE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, owner);
	sqlite3_bind_blob(st, 3, access, (int)access_len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, access_expires);
	bind_blob_or_null(st, 5, refresh, refresh_len);
	sqlite3_bind_int64(st, 6, now);
	return state_db_exec_one(db, st, "storing OAuth2 tokens", "OAuth2 grant");
}

int state_oauth2_release(struct state_db *db, int64_t account_id, int64_t owner,
    const char *error)
{
	sqlite3_stmt *st;
	char e[STATE_OAUTH2_ERROR_MAX + 1];

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_RELEASE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_int64(st, 2, owner);
	if (error != NULL && error[0]) {
		/* bounded, printable: whatever the caller's text */
		size_t i = 0;
		for (; error[i] && i < sizeof(e) - 1; i++)
			e[i] = (error[i] >= 0x20 && error[i] < 0x7f) ? error[i] : '?';
		e[i] = '\0';
		sqlite3_bind_text(st, 3, e, -1, SQLITE_TRANSIENT);
	} else {
		sqlite3_bind_null(st, 3);
	}
	return state_db_exec_one(db, st, "releasing the OAuth2 refresh lease", "OAuth2 grant");
}
