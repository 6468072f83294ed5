/* state/devices.c — devices of an account: identity, settings overrides,
 * login record, enrolment mark, revoke/reset/remove. */
#include <string.h>

#include "state/db_int.h"

static const char SQL_INSERT[] =
	"INSERT INTO devices(account_id, name, created, folder, offer, win, seen_on,"
	" dele, password_hash, login_delay) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
static const char SQL_ACCOUNT_EXISTS[] =
	"SELECT 1 FROM accounts WHERE id = ?1";
static const char SQL_COUNT[] =
	"SELECT COUNT(*) FROM devices WHERE account_id = ?1";
static const char SQL_NAME_TAKEN[] =
	"SELECT name FROM devices WHERE account_id = ?1 AND name = ?2 COLLATE NOCASE LIMIT 1";
static const char SQL_BY_NAME[] =
	"SELECT " DB_DEVICE_COLS " FROM devices d JOIN accounts a ON a.id = d.account_id"
	" WHERE d.account_id = ?1 AND d.name = ?2 COLLATE NOCASE ORDER BY d.id LIMIT 1";
static const char SQL_BY_ID[] =
	"SELECT " DB_DEVICE_COLS " FROM devices d JOIN accounts a ON a.id = d.account_id"
	" WHERE d.id = ?1";
static const char SQL_LIST[] =
	"SELECT " DB_DEVICE_COMMIT_COLS " FROM devices d JOIN accounts a ON a.id = d.account_id"
	" WHERE ?1 = 0 OR d.account_id = ?1 ORDER BY a.name, d.name";
static const char SQL_SET[] =
	"UPDATE devices SET"
	" folder = CASE WHEN ?2 THEN ?3 ELSE folder END,"
	" offer = CASE WHEN ?4 THEN ?5 ELSE offer END,"
	" win = CASE WHEN ?6 THEN ?7 ELSE win END,"
	" seen_on = CASE WHEN ?8 THEN ?9 ELSE seen_on END,"
	" dele = CASE WHEN ?10 THEN ?11 ELSE dele END,"
	" login_delay = CASE WHEN ?12 THEN ?13 ELSE login_delay END"
	" WHERE id = ?1";
static const char SQL_SET_PASSWORD[] =
	"UPDATE devices SET password_hash = ?2 WHERE id = ?1";
static const char SQL_REVOKE[] =
	"UPDATE devices SET revoked = ?2 WHERE id = ?1";
static const char SQL_RESET_STATE[] =
	"DELETE FROM devmsg WHERE device_id = ?1";
static const char SQL_RESET_COUNTERS[] =
	"UPDATE devices SET n_retrieved = 0, n_deleted = 0, n_waiting = 0 WHERE id = ?1";
static const char SQL_REMOVE[] =
	"DELETE FROM devices WHERE id = ?1";
static const char SQL_LOGIN[] =
	"UPDATE devices SET last_login = ?2, last_address = ?3, protocol = ?4, tls = ?5,"
	" pop3_login = CASE WHEN ?4 = 'pop3' THEN ?2 ELSE pop3_login END"
	" WHERE id = ?1";
static const char SQL_MAILBOX[] =
	"SELECT account_id, uidvalidity, uidnext, seq_base FROM mailboxes WHERE id = ?1";
static const char SQL_MAILBOX_BY_FOLDER[] =
	"SELECT id FROM mailboxes WHERE account_id = ?1 AND folder = ?2 AND uidvalidity <> 0";
static const char SQL_ENROL[] =
	"UPDATE devices SET enrol_mailbox_id = ?2, enrol_seq = ?3, enrol_time = ?4"
	" WHERE id = ?1 AND (enrol_mailbox_id IS NULL OR enrol_mailbox_id <> ?2)";

static const char *const OFFERS[] = { "all", "since-enrolment", "unseen" };
static const char *const SEEN_ONS[] = { "retr", "quit", "never" };
static const char *const DELES[] = {
	"hide", "trash", "archive", "flag", "expunge", "last-device"
};

static int word_index(const char *w, const char *const *words, size_t n)
{
	size_t i;

	for (i = 0; w != NULL && i < n; i++)
		if (strcmp(w, words[i]) == 0)
			return (int)i;
	return -1;
}

bool state_db_offer_word(const char *w, int *code)
{
	int i = word_index(w, OFFERS, sizeof OFFERS / sizeof OFFERS[0]);

	if (i < 0)
		return false;
	if (code != NULL)
		*code = i;
	return true;
}

bool state_db_seen_on_word(const char *w)
{
	return word_index(w, SEEN_ONS, sizeof SEEN_ONS / sizeof SEEN_ONS[0]) >= 0;
}

bool state_db_dele_word(const char *w)
{
	return word_index(w, DELES, sizeof DELES / sizeof DELES[0]) >= 0;
}

void state_db_row_to_device(sqlite3_stmt *st, int c, struct state_device *d)
{
	memset(d, 0, sizeof *d);
	d->id = sqlite3_column_int64(st, c);
	d->account_id = sqlite3_column_int64(st, c + 1);
	state_db_col_text(st, c + 2, d->account, sizeof d->account);
	state_db_col_text(st, c + 3, d->name, sizeof d->name);
	d->created = sqlite3_column_int64(st, c + 4);
	d->last_login = sqlite3_column_int64(st, c + 5);
	state_db_col_text(st, c + 6, d->last_address, sizeof d->last_address);
	state_db_col_text(st, c + 7, d->protocol, sizeof d->protocol);
	state_db_col_text(st, c + 8, d->tls, sizeof d->tls);
	d->revoked = sqlite3_column_int(st, c + 9) != 0;
	state_db_col_text(st, c + 10, d->settings.folder, sizeof d->settings.folder);
	state_db_col_text(st, c + 11, d->settings.offer, sizeof d->settings.offer);
	d->settings.window = sqlite3_column_type(st, c + 12) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, c + 12);
	state_db_col_text(st, c + 13, d->settings.seen_on, sizeof d->settings.seen_on);
	state_db_col_text(st, c + 14, d->settings.dele, sizeof d->settings.dele);
	state_db_col_text(st, c + 15, d->password_hash, sizeof d->password_hash);
	d->enrol_mailbox_id = sqlite3_column_int64(st, c + 16);
	d->enrol_seq = sqlite3_column_int64(st, c + 17);
	d->enrol_time = sqlite3_column_int64(st, c + 18);
	d->retrieved = sqlite3_column_int64(st, c + 19);
	d->deleted = sqlite3_column_int64(st, c + 20);
	d->waiting = sqlite3_column_int64(st, c + 21);
	state_db_col_text(st, c + 22, d->settings.login_delay, sizeof d->settings.login_delay);
	d->pop3_login = sqlite3_column_int64(st, c + 23);
	if (sqlite3_column_count(st) > c + 25) {
		d->commits_pending = sqlite3_column_int64(st, c + 24);
		d->commits_stuck = sqlite3_column_int64(st, c + 25);
	}
	if (sqlite3_column_count(st) > c + 27) {
		d->sent = sqlite3_column_int64(st, c + 26);
		d->sent_pending = sqlite3_column_int64(st, c + 27);
	}
}

/* Decimal seconds, no sign or leading zero, at most STATE_LOGIN_DELAY_MAX. */
static bool login_delay_ok(const char *s)
{
	size_t n = strlen(s);
	long v = 0;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	return v <= STATE_LOGIN_DELAY_MAX;
}

/* Check the fields of s selected by mask. */
static int check_settings(struct state_db *db, const struct state_device_settings *s,
    unsigned mask)
{
	if ((mask & STATE_SET_FOLDER) && !state_db_text_ok(s->folder, STATE_FOLDER_MAX, true))
		return state_db_fail(db, STATE_INVALID,
		    "folder must be at most %d printable octets", STATE_FOLDER_MAX);
	if ((mask & STATE_SET_OFFER) && s->offer[0] != '\0' && !state_db_offer_word(s->offer, NULL))
		return state_db_fail(db, STATE_INVALID,
		    "offer must be all, since-enrolment or unseen");
	if ((mask & STATE_SET_WINDOW) && s->window < -1)
		return state_db_fail(db, STATE_INVALID, "window must be 0 (unlimited) or more");
	if ((mask & STATE_SET_SEEN_ON) && s->seen_on[0] != '\0' &&
	    !state_db_seen_on_word(s->seen_on))
		return state_db_fail(db, STATE_INVALID, "seen_on must be retr, quit or never");
	if ((mask & STATE_SET_DELE) && s->dele[0] != '\0' && !state_db_dele_word(s->dele))
		return state_db_fail(db, STATE_INVALID,
		    "dele must be hide, trash, archive, flag, expunge or last-device");
	if ((mask & STATE_SET_LOGIN_DELAY) && s->login_delay[0] != '\0' &&
	    !login_delay_ok(s->login_delay))
		return state_db_fail(db, STATE_INVALID, "login_delay must be 0 to %d seconds",
		    STATE_LOGIN_DELAY_MAX);
	return STATE_OK;
}

static void bind_window(sqlite3_stmt *st, int idx, int64_t window)
{
	if (window < 0)
		sqlite3_bind_null(st, idx);
	else
		sqlite3_bind_int64(st, idx, window);
}

static int get_one(struct state_db *db, sqlite3_stmt *st, struct state_device *out)
{
	int rc = state_db_step_row(db, st, "reading a device", "device");

	if (rc == STATE_OK && out != NULL)
		state_db_row_to_device(st, 0, out);
	state_db_done(st);
	return rc;
}

static int device_by_id(struct state_db *db, int64_t id, struct state_device *out)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_BY_ID);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, id);
	return get_one(db, st, out);
}

/* Set the mark of device_id from the mailbox's seq_base and uidnext, unless
 * the device already has a mark for that mailbox. */
static int enrol(struct state_db *db, int64_t device_id, int64_t mailbox_id,
    int64_t seq_base, uint32_t uidnext, int64_t now)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_ENROL);

	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, mailbox_id);
	sqlite3_bind_int64(st, 3, seq_base + (int64_t)uidnext);
	sqlite3_bind_int64(st, 4, now);
	return state_db_exec_stmt(db, st, "setting the enrolment mark");
}

/* Enrol a new device at the last known status of its folder, if synced. */
static int enrol_at_creation(struct state_db *db, int64_t account_id, int64_t device_id,
    const char *folder, int64_t now)
{
	sqlite3_stmt *st;
	int64_t mb;
	int rc;

	if (folder == NULL || folder[0] == '\0')
		return STATE_OK;
	st = state_db_stmt(db, SQL_MAILBOX_BY_FOLDER);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, folder, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		state_db_done(st);
		return rc == SQLITE_DONE ? STATE_OK : state_db_sqlerr(db, "finding the folder");
	}
	mb = sqlite3_column_int64(st, 0);
	state_db_done(st);
	st = state_db_stmt(db, SQL_MAILBOX);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, mb);
	if (sqlite3_step(st) != SQLITE_ROW) {
		state_db_done(st);
		return state_db_sqlerr(db, "reading the folder");
	}
	{
		uint32_t uidnext = (uint32_t)sqlite3_column_int64(st, 2);
		int64_t base = sqlite3_column_int64(st, 3);

		state_db_done(st);
		return enrol(db, device_id, mb, base, uidnext, now);
	}
}

bool state_device_name_ok(const char *name)
{
	return state_db_text_ok(name, STATE_DEVICE_MAX, false);
}

int state_device_add(struct state_db *db, int64_t account_id, const char *name,
    const struct state_device_settings *settings, const char *password_hash,
    const char *default_folder, int64_t now, struct state_device *out)
{
	static const struct state_device_settings none = { .window = -1 };
	const struct state_device_settings *s = settings != NULL ? settings : &none;
	struct db_tx tx;
	sqlite3_stmt *st;
	int64_t id;
	int rc;

	DB_ENTER(db);
	if (!state_device_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "%s", STATE_DEVICE_RULE);
	rc = check_settings(db, s, STATE_SET_ALL);
	if (rc != STATE_OK)
		return rc;
	if (password_hash != NULL && !state_db_text_ok(password_hash, STATE_HASH_MAX, true))
		return state_db_fail(db, STATE_INVALID, "password hash too long or not printable");
	if (default_folder != NULL && !state_db_text_ok(default_folder, STATE_FOLDER_MAX, true))
		return state_db_fail(db, STATE_INVALID, "bad default folder");
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_ACCOUNT_EXISTS);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, account_id);
	rc = state_db_step_row(db, st, "finding the account", "account");
	state_db_done(st);
	if (rc != STATE_OK)
		return state_db_tx_end(db, &tx, rc);
	/* Names compare ASCII case-insensitively: "PC" is taken by "pc". */
	st = state_db_stmt(db, SQL_NAME_TAKEN);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	rc = state_db_name_free(db, st, "device");
	if (rc != STATE_OK)
		return state_db_tx_end(db, &tx, rc);
	st = state_db_stmt(db, SQL_INSERT);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, now);
	state_db_bind_text_or_null(st, 4, s->folder);
	state_db_bind_text_or_null(st, 5, s->offer);
	bind_window(st, 6, s->window);
	state_db_bind_text_or_null(st, 7, s->seen_on);
	state_db_bind_text_or_null(st, 8, s->dele);
	state_db_bind_text_or_null(st, 9, password_hash);
	state_db_bind_text_or_null(st, 10, s->login_delay);
	rc = state_db_exec_stmt(db, st, "adding a device");
	if (rc == STATE_EXISTS)
		state_db_fail(db, STATE_EXISTS, "device '%s' already exists", name);
	if (rc != STATE_OK)
		return state_db_tx_end(db, &tx, rc);
	id = sqlite3_last_insert_rowid(db->conn);
	if (enrol_at_creation(db, account_id, id,
	    s->folder[0] != '\0' ? s->folder : default_folder, now) != STATE_OK)
		goto fail;
	if (out != NULL && device_by_id(db, id, out) != STATE_OK)
		goto fail;
	return state_db_tx_commit(db, &tx);
fail:
	state_db_tx_rollback(db, &tx);
	return STATE_ERROR;
}

/* How many devices account_id has. */
static int count_devices(struct state_db *db, int64_t account_id, size_t *n)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_COUNT);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	int rc = state_db_step_row(db, st, "counting devices", "count");
	if (rc == STATE_OK)
		*n = (size_t)sqlite3_column_int64(st, 0);
	state_db_done(st);
	return rc;
}

int state_device_ensure(struct state_db *db, int64_t account_id, const char *name,
    const char *default_folder, int64_t now, size_t max_devices, struct state_device *out,
    bool *created)
{
	struct db_tx tx;
	size_t n = 0;
	int rc;

	DB_ENTER(db);
	if (created != NULL)
		*created = false;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = state_device_get(db, account_id, name, out);
	if (rc == STATE_NOTFOUND && max_devices > 0) {
		rc = count_devices(db, account_id, &n);
		if (rc == STATE_OK && n >= max_devices)
			rc = state_db_fail(db, STATE_LIMIT, "the account has %zu devices, the most "
			    "allowed", n);
		else if (rc == STATE_OK)
			rc = STATE_NOTFOUND;
	}
	if (rc == STATE_NOTFOUND) {
		rc = state_device_add(db, account_id, name, NULL, NULL, default_folder, now, out);
		if (rc == STATE_OK && created != NULL)
			*created = true;
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_device_get(struct state_db *db, int64_t account_id, const char *name,
    struct state_device *out)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (!state_device_name_ok(name))
		return state_db_fail(db, STATE_INVALID, "bad device name");
	st = state_db_stmt(db, SQL_BY_NAME);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
	return get_one(db, st, out);
}

int state_device_get_by_id(struct state_db *db, int64_t device_id, struct state_device *out)
{
	DB_ENTER(db);
	return device_by_id(db, device_id, out);
}

struct device_rows {
	state_device_cb *cb;
	void *arg;
	struct state_device d;
};

static int device_row(void *ctx, sqlite3_stmt *st)
{
	struct device_rows *r = ctx;

	state_db_row_to_device(st, 0, &r->d);
	return r->cb(r->arg, &r->d);
}

int state_device_list(struct state_db *db, int64_t account_id, state_device_cb *cb,
    void *arg)
{
	struct device_rows r = { .cb = cb, .arg = arg };
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_LIST);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	return state_db_each_row(db, st, device_row, &r, "listing devices");
}

/* Run an UPDATE/DELETE on one device row; NOTFOUND when it matched none. */
static int device_write(struct state_db *db, sqlite3_stmt *st, const char *what)
{
	return state_db_exec_one(db, st, what, "device");
}

int state_device_set(struct state_db *db, int64_t device_id,
    const struct state_device_settings *s, unsigned mask)
{
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	if (s == NULL || (mask & ~(unsigned)STATE_SET_ALL) != 0)
		return state_db_fail(db, STATE_INVALID, "bad device settings");
	rc = check_settings(db, s, mask);
	if (rc != STATE_OK)
		return rc;
	st = state_db_stmt(db, SQL_SET);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int(st, 2, (mask & STATE_SET_FOLDER) != 0);
	state_db_bind_text_or_null(st, 3, s->folder);
	sqlite3_bind_int(st, 4, (mask & STATE_SET_OFFER) != 0);
	state_db_bind_text_or_null(st, 5, s->offer);
	sqlite3_bind_int(st, 6, (mask & STATE_SET_WINDOW) != 0);
	bind_window(st, 7, s->window);
	sqlite3_bind_int(st, 8, (mask & STATE_SET_SEEN_ON) != 0);
	state_db_bind_text_or_null(st, 9, s->seen_on);
	sqlite3_bind_int(st, 10, (mask & STATE_SET_DELE) != 0);
	state_db_bind_text_or_null(st, 11, s->dele);
	sqlite3_bind_int(st, 12, (mask & STATE_SET_LOGIN_DELAY) != 0);
	state_db_bind_text_or_null(st, 13, s->login_delay);
	return device_write(db, st, "changing device settings");
}

int state_device_set_password(struct state_db *db, int64_t device_id,
    const char *password_hash)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (password_hash != NULL && !state_db_text_ok(password_hash, STATE_HASH_MAX, true))
		return state_db_fail(db, STATE_INVALID, "password hash too long or not printable");
	st = state_db_stmt(db, SQL_SET_PASSWORD);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	state_db_bind_text_or_null(st, 2, password_hash);
	return device_write(db, st, "setting a device password");
}

int state_device_revoke(struct state_db *db, int64_t device_id, bool revoked)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_REVOKE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int(st, 2, revoked ? 1 : 0);
	return device_write(db, st, "revoking a device");
}

int state_device_reset(struct state_db *db, int64_t device_id)
{
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_RESET_COUNTERS);
	if (st == NULL)
		return state_db_tx_end(db, &tx, STATE_ERROR);
	sqlite3_bind_int64(st, 1, device_id);
	rc = device_write(db, st, "resetting a device");
	if (rc == STATE_OK) {
		st = state_db_stmt(db, SQL_RESET_STATE);
		if (st == NULL)
			rc = STATE_ERROR;
		else {
			sqlite3_bind_int64(st, 1, device_id);
			rc = state_db_exec_stmt(db, st, "forgetting per-message state");
		}
	}
	return state_db_tx_end(db, &tx, rc);
}

int state_device_remove(struct state_db *db, int64_t device_id)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	st = state_db_stmt(db, SQL_REMOVE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	return device_write(db, st, "removing a device");
}

int state_device_login(struct state_db *db, int64_t device_id, int64_t now,
    const char *address, const char *protocol, const char *tls)
{
	sqlite3_stmt *st;

	DB_ENTER(db);
	if (!state_db_text_ok(address, STATE_ADDR_MAX, false) ||
	    !state_db_text_ok(protocol, STATE_PROTO_MAX, false) ||
	    (tls != NULL && !state_db_text_ok(tls, STATE_TLS_MAX, true)))
		return state_db_fail(db, STATE_INVALID, "bad login record (address/protocol/tls)");
	st = state_db_stmt(db, SQL_LOGIN);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, protocol, -1, SQLITE_TRANSIENT);
	state_db_bind_text_or_null(st, 5, tls);
	return device_write(db, st, "recording a login");
}

int state_device_enrol(struct state_db *db, int64_t device_id, int64_t mailbox_id,
    uint32_t uidvalidity, uint32_t uidnext, int64_t now)
{
	struct state_device d;
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	rc = device_by_id(db, device_id, &d);
	if (rc != STATE_OK)
		goto out;
	st = state_db_stmt(db, SQL_MAILBOX);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(st, 1, mailbox_id);
	rc = state_db_step_row(db, st, "reading a mailbox", "mailbox");
	if (rc != STATE_OK)
		goto out;
	if (sqlite3_column_int64(st, 0) != d.account_id ||
	    (uint32_t)sqlite3_column_int64(st, 1) != uidvalidity || uidvalidity == 0) {
		state_db_done(st);
		rc = state_db_fail(db, STATE_INVALID,
		    "enrolment: mailbox of another account, or UIDVALIDITY %u is not the"
		    " synced one (sync first)", (unsigned)uidvalidity);
		goto out;
	}
	{
		int64_t base = sqlite3_column_int64(st, 3);

		state_db_done(st);
		rc = enrol(db, device_id, mailbox_id, base, uidnext, now);
	}
out:
	return state_db_tx_end(db, &tx, rc);
}
