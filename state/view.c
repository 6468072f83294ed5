/* state/view.c — a device's view (SPEC §3), the last-device holder count
 * and the per-device counters. One predicate (VIEW_FROM) defines the view
 * for all three, so the maildrop a device gets and the count that decides
 * a last-device expunge can never disagree. */
#include <stdlib.h>
#include <string.h>

#include "state/db_int.h"

_Static_assert(STATE_MF_SEEN == 1 && STATE_MF_KEYWORD == 2,
    "VIEW_FROM hard-codes the flag bits");

/* ?1 device, ?2 mailbox, ?3 UIDVALIDITY, ?4 offer code, ?5 enrolment seq. */
#define VIEW_FROM \
	" FROM messages m LEFT JOIN devmsg x ON x.device_id = ?1 AND x.message_id = m.id" \
	" WHERE m.mailbox_id = ?2 AND m.uidvalidity = ?3 AND m.gone IS NULL" \
	" AND (m.flags & 2) = 0 AND x.deleted IS NULL" \
	" AND (?4 = 0 OR (?4 = 1 AND m.seq >= ?5)" \
	" OR (?4 = 2 AND ((m.flags & 1) = 0 OR x.offered IS NOT NULL)))"

static const char SQL_VIEW[] =
	"SELECT m.id, m.uid, COALESCE(m.exact_size, m.rfc822_size),"
	" m.exact_size IS NOT NULL, m.flags, x.retrieved IS NOT NULL, x.offered IS NULL,"
	" COALESCE(m.old_uidl, m.uidl)" VIEW_FROM " ORDER BY m.uid DESC LIMIT ?6";
static const char SQL_IN_VIEW[] =
	"SELECT m.uid" VIEW_FROM " AND m.id = ?6";
static const char SQL_ABOVE[] =
	"SELECT count(*) FROM (SELECT 1" VIEW_FROM " AND m.uid > ?6 LIMIT ?7)";
static const char SQL_WAITING[] =
	"SELECT count(*) FROM (SELECT x.retrieved AS r" VIEW_FROM
	" ORDER BY m.uid DESC LIMIT ?6) WHERE r IS NULL";
static const char SQL_DEVICE[] =
	"SELECT account_id, folder, offer, win, enrol_mailbox_id, enrol_seq"
	" FROM devices WHERE id = ?1";
static const char SQL_MAILBOX[] =
	"SELECT id, uidvalidity FROM mailboxes WHERE account_id = ?1 AND folder = ?2";
static const char SQL_MESSAGE_ACCOUNT[] =
	"SELECT b.account_id, m.mailbox_id, a.name FROM messages m"
	" JOIN mailboxes b ON b.id = m.mailbox_id JOIN accounts a ON a.id = b.account_id"
	" WHERE m.id = ?1";
static const char SQL_HOLDER_DEVICES[] =
	"SELECT id, name FROM devices WHERE account_id = ?1 AND revoked = 0 ORDER BY id";
static const char SQL_TALLY[] =
	"SELECT count(retrieved), count(deleted) FROM devmsg WHERE device_id = ?1";
static const char SQL_SET_COUNTERS[] =
	"UPDATE devices SET n_retrieved = ?2, n_deleted = ?3, n_waiting = ?4 WHERE id = ?1";

static int check_defaults(struct state_db *db, const struct state_view_defaults *def)
{
	if (def == NULL || !state_db_text_ok(def->folder, STATE_FOLDER_MAX, false) ||
	    !state_db_offer_word(def->offer, NULL) || def->window < 0)
		return state_db_fail(db, STATE_INVALID,
		    "view defaults: folder, offer (all|since-enrolment|unseen), window >= 0");
	return STATE_OK;
}

/* Effective view parameters of one device. */
struct view_params {
	int64_t device_id;
	int64_t mailbox_id;   /* 0: the folder was never synced: empty view */
	uint32_t uidvalidity;
	int offer;            /* 0 all, 1 since-enrolment, 2 unseen */
	int64_t enrol_seq;    /* INT64_MAX when the mark is unset */
	int64_t window;       /* 0 = unlimited */
};

static int view_params_get(struct state_db *db, int64_t device_id,
    const struct state_view_defaults *def, struct view_params *vp)
{
	char folder[STATE_FOLDER_MAX + 1], offer[STATE_WORD_MAX + 1];
	sqlite3_stmt *st;
	int64_t account_id, enrol_mb, enrol_seq;
	int rc;

	memset(vp, 0, sizeof *vp);
	vp->device_id = device_id;
	st = state_db_stmt(db, SQL_DEVICE);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, device_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		state_db_done(st);
		return rc == SQLITE_DONE ? state_db_fail(db, STATE_NOTFOUND, "no such device") :
		    state_db_sqlerr(db, "reading a device");
	}
	account_id = sqlite3_column_int64(st, 0);
	state_db_col_text(st, 1, folder, sizeof folder);
	state_db_col_text(st, 2, offer, sizeof offer);
	vp->window = sqlite3_column_type(st, 3) == SQLITE_NULL ? def->window :
	    sqlite3_column_int64(st, 3);
	enrol_mb = sqlite3_column_int64(st, 4);
	enrol_seq = sqlite3_column_int64(st, 5);
	state_db_done(st);
	if (!state_db_offer_word(offer[0] != '\0' ? offer : def->offer, &vp->offer))
		return state_db_fail(db, STATE_ERROR, "device %lld: bad offer '%s'",
		    (long long)device_id, offer);
	st = state_db_stmt(db, SQL_MAILBOX);
	if (st == NULL)
		return STATE_ERROR;
	sqlite3_bind_int64(st, 1, account_id);
	sqlite3_bind_text(st, 2, folder[0] != '\0' ? folder : def->folder, -1,
	    SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		vp->uidvalidity = (uint32_t)sqlite3_column_int64(st, 1);
		if (vp->uidvalidity != 0)
			vp->mailbox_id = sqlite3_column_int64(st, 0);
	}
	state_db_done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return state_db_sqlerr(db, "finding the device's folder");
	vp->enrol_seq = enrol_mb != 0 && enrol_mb == vp->mailbox_id ? enrol_seq : INT64_MAX;
	return STATE_OK;
}

/* Check def, begin a transaction and read the device's view parameters:
 * STATE_OK with the transaction open, else none open. */
static int view_begin(struct state_db *db, int64_t device_id,
    const struct state_view_defaults *def, struct db_tx *tx, struct view_params *vp)
{
	int rc = check_defaults(db, def);

	if (rc != STATE_OK)
		return rc;
	if (state_db_tx_begin(db, tx) != STATE_OK)
		return STATE_ERROR;
	rc = view_params_get(db, device_id, def, vp);
	if (rc != STATE_OK)
		state_db_tx_rollback(db, tx);
	return rc;
}

static void bind_view(sqlite3_stmt *st, const struct view_params *vp)
{
	sqlite3_bind_int64(st, 1, vp->device_id);
	sqlite3_bind_int64(st, 2, vp->mailbox_id);
	sqlite3_bind_int64(st, 3, vp->uidvalidity);
	sqlite3_bind_int(st, 4, vp->offer);
	sqlite3_bind_int64(st, 5, vp->enrol_seq);
}

/* Collect the view (descending UID) into *out; first_offer[i] set for those
 * never offered before. */
static int collect(struct state_db *db, const struct view_params *vp,
    struct state_view_msg **out, bool **first_offer, size_t *n)
{
	struct state_view_msg *v = NULL;
	bool *fo = NULL;
	size_t cap = 0, k = 0;
	sqlite3_stmt *st;
	int rc;

	*out = NULL;
	*first_offer = NULL;
	*n = 0;
	if (vp->mailbox_id == 0)
		return STATE_OK;
	st = state_db_stmt(db, SQL_VIEW);
	if (st == NULL)
		return STATE_ERROR;
	bind_view(st, vp);
	sqlite3_bind_int64(st, 6, vp->window > 0 ? vp->window : -1);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct state_view_msg *m;

		if (k == cap) {
			size_t ncap = cap == 0 ? 256 : cap * 2;
			struct state_view_msg *nv = realloc(v, ncap * sizeof *nv);
			bool *nfo = nv != NULL ? realloc(fo, ncap * sizeof *nfo) : NULL;

			if (nv != NULL)
				v = nv;
			if (nfo == NULL) {
				state_db_done(st);
				free(v);
				free(fo);
				return state_db_fail(db, STATE_ERROR, "view: out of memory");
			}
			fo = nfo;
			cap = ncap;
		}
		m = &v[k];
		memset(m, 0, sizeof *m);
		m->id = sqlite3_column_int64(st, 0);
		m->uid = (uint32_t)sqlite3_column_int64(st, 1);
		m->size = (uint64_t)sqlite3_column_int64(st, 2);
		m->size_exact = sqlite3_column_int(st, 3) != 0;
		m->flags = (unsigned)sqlite3_column_int(st, 4);
		m->retrieved = sqlite3_column_int(st, 5) != 0;
		fo[k] = sqlite3_column_int(st, 6) != 0;
		state_db_col_text(st, 7, m->uidl, sizeof m->uidl);
		k++;
	}
	state_db_done(st);
	if (rc != SQLITE_DONE) {
		free(v);
		free(fo);
		return state_db_sqlerr(db, "building the view");
	}
	*out = v;
	*first_offer = fo;
	*n = k;
	return STATE_OK;
}

int state_view_build(struct state_db *db, int64_t device_id,
    const struct state_view_defaults *def, int64_t now, struct state_view_msg **out,
    size_t *n)
{
	struct view_params vp;
	struct state_view_msg *v = NULL;
	bool *fo = NULL;
	struct db_tx tx;
	size_t i, k = 0;
	int rc;

	DB_ENTER(db);
	*out = NULL;
	*n = 0;
	rc = view_begin(db, device_id, def, &tx, &vp);
	if (rc != STATE_OK)
		return rc;
	rc = collect(db, &vp, &v, &fo, &k);
	for (i = 0; rc == STATE_OK && i < k; i++) {
		if (fo[i])
			rc = state_devmsg_mark_offered(db, device_id, v[i].id, now);
	}
	free(fo);
	if (rc == STATE_OK)
		rc = state_db_tx_commit(db, &tx);
	else
		state_db_tx_rollback(db, &tx);
	if (rc != STATE_OK) {
		free(v);
		return rc;
	}
	/* ascending UID */
	for (i = 0; i < k / 2; i++) {
		struct state_view_msg t = v[i];

		v[i] = v[k - 1 - i];
		v[k - 1 - i] = t;
	}
	*out = v;
	*n = k;
	return STATE_OK;
}

void state_view_free(struct state_view_msg *v)
{
	free(v);
}

/* Is message (id, in vp's mailbox) in the view described by vp? */
static int in_view(struct state_db *db, const struct view_params *vp, int64_t message_id,
    bool *yes)
{
	sqlite3_stmt *st = state_db_stmt(db, SQL_IN_VIEW);
	int64_t uid, above;
	int rc;

	*yes = false;
	if (st == NULL)
		return STATE_ERROR;
	bind_view(st, vp);
	sqlite3_bind_int64(st, 6, message_id);
	rc = sqlite3_step(st);
	uid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	state_db_done(st);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? STATE_OK : state_db_sqlerr(db, "testing the view");
	if (vp->window <= 0) {
		*yes = true;
		return STATE_OK;
	}
	st = state_db_stmt(db, SQL_ABOVE);
	if (st == NULL)
		return STATE_ERROR;
	bind_view(st, vp);
	sqlite3_bind_int64(st, 6, uid);
	sqlite3_bind_int64(st, 7, vp->window);
	rc = sqlite3_step(st);
	above = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	state_db_done(st);
	if (rc != SQLITE_ROW)
		return state_db_sqlerr(db, "testing the window");
	*yes = above < vp->window;
	return STATE_OK;
}

/* The defaults of every holder: the same def, or what fn says per device. */
struct holder_defaults {
	const struct state_view_defaults *def;
	state_device_defaults_fn *fn;
	void *arg;
};

static int holder_defaults_get(struct state_db *db, const struct holder_defaults *hd,
    const char *account, const char *device, struct state_view_defaults *out)
{
	if (hd->fn == NULL) {
		*out = *hd->def;
		return STATE_OK;
	}
	if (hd->fn(hd->arg, account, device, out) != 0)
		return state_db_fail(db, STATE_ERROR, "no settings for device %s of %s", device,
		    account);
	return check_defaults(db, out);
}

static int holders_count(struct state_db *db, int64_t message_id,
    const struct holder_defaults *hd, int64_t *count)
{
	struct db_tx tx;
	sqlite3_stmt *st, *dev;
	int64_t account_id, mailbox_id, holders = 0;
	char account[STATE_ACCOUNT_MAX + 1];
	int rc;

	*count = 0;
	if (state_db_tx_begin_read(db, &tx) != STATE_OK)
		return STATE_ERROR;
	st = state_db_stmt(db, SQL_MESSAGE_ACCOUNT);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(st, 1, message_id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		state_db_done(st);
		rc = rc == SQLITE_DONE ? state_db_fail(db, STATE_NOTFOUND, "no such message") :
		    state_db_sqlerr(db, "reading a message");
		goto out;
	}
	account_id = sqlite3_column_int64(st, 0);
	mailbox_id = sqlite3_column_int64(st, 1);
	state_db_col_text(st, 2, account, sizeof account);
	state_db_done(st);
	dev = state_db_stmt(db, SQL_HOLDER_DEVICES);
	if (dev == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(dev, 1, account_id);
	rc = STATE_OK;
	while (rc == STATE_OK) {
		struct state_view_defaults def;
		struct view_params vp;
		char device[STATE_DEVICE_MAX + 1];
		bool yes;
		int step = sqlite3_step(dev);

		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW) {
			rc = state_db_sqlerr(db, "listing holders");
			break;
		}
		state_db_col_text(dev, 1, device, sizeof device);
		rc = holder_defaults_get(db, hd, account, device, &def);
		if (rc == STATE_OK)
			rc = view_params_get(db, sqlite3_column_int64(dev, 0), &def, &vp);
		if (rc != STATE_OK || vp.mailbox_id != mailbox_id)
			continue;
		rc = in_view(db, &vp, message_id, &yes);
		if (rc == STATE_OK && yes)
			holders++;
	}
	state_db_done(dev);
out:
	state_db_tx_end_read(db, &tx);
	if (rc == STATE_OK)
		*count = holders;
	return rc;
}

int state_message_holders(struct state_db *db, int64_t message_id,
    const struct state_view_defaults *def, int64_t *count)
{
	struct holder_defaults hd = { .def = def };
	int rc;

	DB_ENTER(db);
	*count = 0;
	rc = check_defaults(db, def);
	if (rc != STATE_OK)
		return rc;
	return holders_count(db, message_id, &hd, count);
}

int state_message_holders_by(struct state_db *db, int64_t message_id,
    state_device_defaults_fn *fn, void *arg, int64_t *count)
{
	struct holder_defaults hd = { .fn = fn, .arg = arg };

	DB_ENTER(db);
	*count = 0;
	if (fn == NULL)
		return state_db_fail(db, STATE_INVALID, "holders: no settings function");
	return holders_count(db, message_id, &hd, count);
}

int state_device_update_counters(struct state_db *db, int64_t device_id,
    const struct state_view_defaults *def, struct state_device *out)
{
	struct view_params vp;
	struct db_tx tx;
	sqlite3_stmt *st;
	int64_t retrieved = 0, deleted = 0, waiting = 0;
	int rc;

	DB_ENTER(db);
	rc = view_begin(db, device_id, def, &tx, &vp);
	if (rc != STATE_OK)
		return rc;
	st = state_db_stmt(db, SQL_TALLY);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(st, 1, device_id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		retrieved = sqlite3_column_int64(st, 0);
		deleted = sqlite3_column_int64(st, 1);
	}
	state_db_done(st);
	if (vp.mailbox_id != 0) {
		st = state_db_stmt(db, SQL_WAITING);
		if (st == NULL) {
			rc = STATE_ERROR;
			goto out;
		}
		bind_view(st, &vp);
		sqlite3_bind_int64(st, 6, vp.window > 0 ? vp.window : -1);
		rc = sqlite3_step(st);
		waiting = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		state_db_done(st);
		rc = rc == SQLITE_ROW ? STATE_OK : state_db_sqlerr(db, "counting waiting messages");
		if (rc != STATE_OK)
			goto out;
	}
	st = state_db_stmt(db, SQL_SET_COUNTERS);
	if (st == NULL) {
		rc = STATE_ERROR;
		goto out;
	}
	sqlite3_bind_int64(st, 1, device_id);
	sqlite3_bind_int64(st, 2, retrieved);
	sqlite3_bind_int64(st, 3, deleted);
	sqlite3_bind_int64(st, 4, waiting);
	rc = state_db_exec_stmt(db, st, "storing device counters");
out:
	if (rc != STATE_OK) {
		state_db_tx_rollback(db, &tx);
		return rc;
	}
	rc = state_db_tx_commit(db, &tx);
	if (rc == STATE_OK && out != NULL)
		rc = state_device_get_by_id(db, device_id, out);
	return rc;
}
