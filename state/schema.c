/* state/schema.c — the schema as a list of migration steps, applied at open.
 *
 * Step N takes a file at version N-1 to version N. A new file runs every
 * step. Steps are never edited once released: a schema change is a new step.
 * All pending steps and the version update run in ONE transaction, so a file
 * is always at exactly one known version.
 */
#include <stdio.h>

#include "state/db_int.h"
#include "state/state_test.h"

/* Version 1: identity, mailboxes, messages and per-device state. */
static const char STEP1[] =
	"CREATE TABLE schema_version(version INTEGER NOT NULL);"
	"INSERT INTO schema_version(version) VALUES (0);"
	"CREATE TABLE accounts("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" auth INTEGER NOT NULL DEFAULT 0 CHECK (auth IN (0, 1)),"
	" upstream_user TEXT,"
	" secret BLOB,"
	" created INTEGER NOT NULL);"
	"CREATE TABLE mailboxes("
	" id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" folder TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL DEFAULT 0,"
	" uidnext INTEGER NOT NULL DEFAULT 0,"
	" highestmodseq INTEGER NOT NULL DEFAULT 0,"
	" seq_base INTEGER NOT NULL DEFAULT 0,"
	" list_gen INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (account_id, folder));"
	"CREATE TABLE devices("
	" id INTEGER PRIMARY KEY,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" name TEXT NOT NULL,"
	" created INTEGER NOT NULL,"
	" last_login INTEGER,"
	" last_address TEXT,"
	" protocol TEXT,"
	" tls TEXT,"
	" revoked INTEGER NOT NULL DEFAULT 0,"
	" folder TEXT, offer TEXT, win INTEGER, seen_on TEXT, dele TEXT,"
	" password_hash TEXT,"
	" enrol_mailbox_id INTEGER REFERENCES mailboxes(id) ON DELETE SET NULL,"
	" enrol_seq INTEGER,"
	" enrol_time INTEGER,"
	" n_retrieved INTEGER NOT NULL DEFAULT 0,"
	" n_deleted INTEGER NOT NULL DEFAULT 0,"
	" n_waiting INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE (account_id, name));"
	"CREATE TABLE messages("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	" uidvalidity INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" seq INTEGER NOT NULL,"
	" uidl TEXT NOT NULL,"
	" old_uidl TEXT,"
	" rfc822_size INTEGER NOT NULL,"
	" exact_size INTEGER,"
	" flags INTEGER NOT NULL DEFAULT 0,"
	" message_id TEXT,"
	" hdr_hash TEXT,"
	" emailid TEXT,"
	" gm_msgid INTEGER,"
	" first_seen INTEGER NOT NULL,"
	" gone INTEGER,"
	" list_gen INTEGER NOT NULL DEFAULT 0);"
	"CREATE UNIQUE INDEX messages_uid ON messages(mailbox_id, uidvalidity, uid);"
	"CREATE TABLE devmsg("
	" device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	" message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	" offered INTEGER,"
	" retrieved INTEGER,"
	" deleted INTEGER,"
	" PRIMARY KEY (device_id, message_id)) WITHOUT ROWID;"
	"CREATE INDEX devmsg_message ON devmsg(message_id);";

/* Version 2: the commit journal, and indexes for re-matching and import. */
static const char STEP2[] =
	"CREATE TABLE journal("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,"
	" folder TEXT NOT NULL,"
	" policy TEXT NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2)),"
	" created INTEGER NOT NULL,"
	" finished INTEGER);"
	"CREATE INDEX journal_account ON journal(account_id, state);"
	"CREATE TABLE journal_items("
	" journal_id INTEGER NOT NULL REFERENCES journal(id) ON DELETE CASCADE,"
	" message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
	" uidvalidity INTEGER NOT NULL,"
	" uid INTEGER NOT NULL,"
	" actions INTEGER NOT NULL,"
	" done INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (journal_id, message_id)) WITHOUT ROWID;"
	"CREATE INDEX journal_items_message ON journal_items(message_id);"
	"CREATE INDEX messages_msgid ON messages(mailbox_id, message_id);"
	"CREATE INDEX messages_hhash ON messages(mailbox_id, hdr_hash);"
	"CREATE INDEX messages_emailid ON messages(mailbox_id, emailid)"
	" WHERE emailid IS NOT NULL;"
	"CREATE INDEX messages_gmid ON messages(mailbox_id, gm_msgid)"
	" WHERE gm_msgid IS NOT NULL;"
	"CREATE INDEX messages_uidl ON messages(mailbox_id, COALESCE(old_uidl, uidl));";

/* Version 3: how often a journal entry's upstream steps have failed, and
 * the last failure, so a commit that keeps failing is seen (report,
 * device list, an error log line) instead of retried in silence. */
static const char STEP3[] =
	"ALTER TABLE journal ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE journal ADD COLUMN last_error TEXT;";

/* Version 4: a device's own LOGIN-DELAY (SPEC §14), seconds; NULL = the
 * configuration's. */
static const char STEP4[] =
	"ALTER TABLE devices ADD COLUMN login_delay INTEGER;";

/* Version 5: OAuth2 upstream credentials (SPEC §10). An account's
 * credential kind (0 password, 1 OAuth2: its grant in oauth2, no secret in
 * accounts) and whether its last upstream login worked (NULL: not known);
 * the grant's settings, its sealed secrets (client secret, refresh and
 * access token: opaque blobs, bridge/ seals) and the refresh lease that
 * lets one process refresh at a time. */
static const char STEP5[] =
	"ALTER TABLE accounts ADD COLUMN credential INTEGER NOT NULL DEFAULT 0"
	" CHECK (credential IN (0, 1));"
	"ALTER TABLE accounts ADD COLUMN credential_ok INTEGER;"
	"CREATE TABLE oauth2("
	" account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,"
	" provider TEXT NOT NULL,"
	" grant_type TEXT NOT NULL,"
	" token_url TEXT NOT NULL,"
	" device_url TEXT,"
	" scope TEXT,"
	" client_id TEXT NOT NULL,"
	" tenant TEXT,"
	" client_secret BLOB,"
	" refresh_token BLOB,"
	" access_token BLOB,"
	" access_expires INTEGER NOT NULL DEFAULT 0,"
	" generation INTEGER NOT NULL DEFAULT 0,"
	" lease_owner INTEGER NOT NULL DEFAULT 0,"
	" lease_until INTEGER NOT NULL DEFAULT 0,"
	" refreshed INTEGER,"
	" last_error TEXT);";

/* Version 6: when a device last logged in over POP3 (the IMAP front records
 * logins with protocol imap, SPEC §12): its POP3 counts mean something only
 * once it has. Every login before this version was a POP3 one. */
static const char STEP6[] =
	"ALTER TABLE devices ADD COLUMN pop3_login INTEGER;"
	"UPDATE devices SET pop3_login = last_login WHERE last_login IS NOT NULL;";

/* Version 7: an account moved to another node (SPEC §14, `popbridge account
 * export`): when it was exported; NULL = served here. Its rows stay, frozen,
 * until it is imported back or removed; logins and new commits of it are
 * refused meanwhile. */
static const char STEP7[] =
	"ALTER TABLE accounts ADD COLUMN moved INTEGER;";

/* Version 8: the unfinished journal entries of every account, counted at
 * each metrics scrape (SPEC §14, popbridge_journal_pending): a partial
 * index holds only them, so the count costs what is unfinished, not the
 * 30 days of finished entries the table keeps. */
static const char STEP8[] =
	"CREATE INDEX journal_unfinished ON journal(failures) WHERE state <> 2;";

/* Version 9: SMTP submission (SPEC §11): the Sent copies, each recorded
 * before the device gets its 250 and kept until it is in the Sent folder,
 * and how many messages each device has sent. */
static const char STEP9[] =
	"CREATE TABLE sent_copies("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
	" device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,"
	" file TEXT NOT NULL UNIQUE,"
	" size INTEGER NOT NULL,"
	" sha256 TEXT NOT NULL,"
	" state INTEGER NOT NULL DEFAULT 0 CHECK (state IN (0, 1, 2, 3)),"
	" created INTEGER NOT NULL,"
	" attempts INTEGER NOT NULL DEFAULT 0,"
	" last_error TEXT,"
	" folder TEXT,"
	" uidvalidity INTEGER,"
	" uid INTEGER,"
	" finished INTEGER);"
	"CREATE INDEX sent_copies_account ON sent_copies(account_id, state);"
	"CREATE INDEX sent_copies_owed ON sent_copies(state) WHERE state IN (1, 2);"
	"ALTER TABLE devices ADD COLUMN n_sent INTEGER NOT NULL DEFAULT 0;";

static const char *const STEPS[] = {
	STEP1, STEP2, STEP3, STEP4, STEP5, STEP6, STEP7, STEP8, STEP9,
};
#define N_STEPS ((int)(sizeof STEPS / sizeof STEPS[0]))

int state_schema_version(void)
{
	return N_STEPS;
}

/* The file's version: 0 for an empty file; -1 (error set) for a file that
 * has tables but is not a popbridge database, or on error. */
static int file_version(struct state_db *db)
{
	sqlite3_stmt *st = NULL;
	int has_table = 0, n_tables = 0, v = -1;

	if (sqlite3_prepare_v2(db->conn,
	    "SELECT count(*), sum(name = 'schema_version') FROM sqlite_master"
	    " WHERE type = 'table'", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		state_db_sqlerr(db, "reading the schema");
		sqlite3_finalize(st);
		return -1;
	}
	n_tables = sqlite3_column_int(st, 0);
	has_table = sqlite3_column_int(st, 1);
	sqlite3_finalize(st);
	if (n_tables == 0)
		return 0;
	if (!has_table) {
		state_db_fail(db, STATE_ERROR,
		    "not a popbridge state database (no schema_version table)");
		return -1;
	}
	st = NULL;
	if (sqlite3_prepare_v2(db->conn, "SELECT max(version), count(*) FROM schema_version",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		state_db_sqlerr(db, "reading the schema version");
		sqlite3_finalize(st);
		return -1;
	}
	if (sqlite3_column_int(st, 1) != 1)
		state_db_fail(db, STATE_ERROR, "schema_version table is damaged");
	else
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int set_version(struct state_db *db, int version)
{
	char sql[64];

	snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %d", version);
	return state_db_exec(db, sql, "recording the schema version");
}

int state_db_migrate(struct state_db *db, int target)
{
	struct db_tx tx;
	int v, i;

	if (target <= 0 || target > N_STEPS)
		target = N_STEPS;
	/* A file that needs nothing is only read: opening the state file (every
	 * login does) never waits for, or takes, the write lock. Two reads in
	 * separate transactions are consistent enough here: a version only
	 * grows, and a migration re-reads it under the lock. */
	v = file_version(db);
	if (v < 0)
		return STATE_ERROR;
	if (v > N_STEPS)
		return state_db_fail(db, STATE_ERROR,
		    "schema version %d is newer than this popbridge supports (%d);"
		    " use a newer popbridge", v, N_STEPS);
	if (v >= target)
		return STATE_OK;
	if (state_db_tx_begin(db, &tx) != STATE_OK)
		return STATE_ERROR;
	v = file_version(db);
	if (v < 0)
		goto fail;
	if (v > N_STEPS) {
		state_db_fail(db, STATE_ERROR,
		    "schema version %d is newer than this popbridge supports (%d);"
		    " use a newer popbridge", v, N_STEPS);
		goto fail;
	}
	for (i = v; i < target; i++) {
		char what[48];

		snprintf(what, sizeof what, "schema migration to version %d", i + 1);
		if (state_db_exec(db, STEPS[i], what) != STATE_OK ||
		    set_version(db, i + 1) != STATE_OK)
			goto fail;
	}
	return state_db_tx_commit(db, &tx);
fail:
	state_db_tx_rollback(db, &tx);
	return STATE_ERROR;
}

int state_db_version(struct state_db *db)
{
	DB_ENTER(db);
	return file_version(db);
}

int state_test_set_version(struct state_db *db, int version)
{
	DB_ENTER(db);
	return set_version(db, version);
}

int64_t state_test_exec(struct state_db *db, const char *sql)
{
	DB_ENTER(db);
	if (state_db_exec(db, sql, "a test's SQL") != STATE_OK)
		return -1;
	return sqlite3_last_insert_rowid(db->conn);
}
