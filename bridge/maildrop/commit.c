/* bridge/maildrop/commit.c — the upstream steps of a journal entry (bridge/maildrop/commit.h). */
#include "bridge/maildrop/commit.h"
#include "bridge/maildrop/folder.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/maildrop/settings.h"
#include "bridge/maildrop/sync.h"

void maildrop_crash_point(enum maildrop_crash_point crash_at, enum maildrop_crash_point point)
{
	if (crash_at == BRIDGE_CRASH_NONE || crash_at != point)
		return;
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* One run of an entry: the items still to do, resolved to current UIDs. */
struct run {
	const struct maildrop_commit_env *env;
	const struct state_journal *e;
	enum config_dele policy;
	int64_t *seen_only;   /* message ids to mark done after the seen step */
	size_t n_seen_only;
	int64_t *del_ids;     /* message ids of the delete step */
	uint32_t *del_uids;
	bool *del_copied;     /* STATE_JA_COPIED: copied by an earlier run */
	size_t n_del;
	int64_t *gone_ids;    /* items already gone upstream: just done */
	size_t n_gone;
	struct imap_uidset seen, del;
	bool stepped;         /* an upstream step has run (crash hook) */
	char *detail;
	size_t detail_len;
};

static int parse_policy(const char *word, enum config_dele *out)
{
	int v = config_word_value(&config_words_dele, word);
	if (v < 0)
		return -1;
	*out = (enum config_dele)v;
	return 0;
}

static int db_fail(struct run *r, const char *what)
{
	snprintf(r->detail, r->detail_len, "state database: %s: %s", what,
	    state_errmsg(r->env->db));
	return -1;
}

static int up_fail(struct run *r, const char *what)
{
	maildrop_upstream_describe(r->env->up, what, r->detail, r->detail_len);
	return -1;
}

static void after_step(struct run *r)
{
	if (!r->stepped) {
		r->stepped = true;
		maildrop_crash_point(r->env->crash_at, BRIDGE_CRASH_AFTER_UPSTREAM_STEP);
	}
}

typedef int item_mark_fn(struct state_db *db, int64_t journal_id, int64_t message_id);

/* Record fn (done, copied) for items ids in one transaction. */
static int mark_items(struct run *r, item_mark_fn *fn, const int64_t *ids, size_t n)
{
	struct state_db *db = r->env->db;

	if (n == 0)
		return 0;
	if (state_tx_begin(db) != STATE_OK)
		return db_fail(r, "marking steps done");
	for (size_t i = 0; i < n; i++)
		if (fn(db, r->e->id, ids[i]) != STATE_OK) {
			db_fail(r, "marking steps done");
			state_tx_rollback(db);
			return -1;
		}
	if (state_tx_commit(db) != STATE_OK)
		return db_fail(r, "marking steps done");
	return 0;
}

static int mark_done(struct run *r, const int64_t *ids, size_t n)
{
	return mark_items(r, state_journal_item_done, ids, n);
}

/* Resolve the entry's undone items to the messages' current UIDs. */
static int resolve(struct run *r)
{
	const struct state_journal *e = r->e;
	struct state_db *db = r->env->db;
	size_t n = e->n_items ? e->n_items : 1;
	uint32_t uidvalidity = r->env->up->info.uidvalidity;

	r->seen_only = malloc(n * sizeof(int64_t));
	r->del_ids = malloc(n * sizeof(int64_t));
	r->del_uids = malloc(n * sizeof(uint32_t));
	r->del_copied = malloc(n * sizeof(bool));
	r->gone_ids = malloc(n * sizeof(int64_t));
	if (!r->seen_only || !r->del_ids || !r->del_uids || !r->del_copied || !r->gone_ids) {
		snprintf(r->detail, r->detail_len, "commit: out of memory");
		return -1;
	}
	for (size_t i = 0; i < e->n_items; i++) {
		const struct state_journal_item *it = &e->items[i];
		struct state_message m;
		if (it->done)
			continue;
		int rc = state_message_get(db, it->message_id, &m);
		if (rc == STATE_NOTFOUND || (rc == STATE_OK && m.gone != 0)) {
			r->gone_ids[r->n_gone++] = it->message_id;
			continue;
		}
		if (rc != STATE_OK)
			return db_fail(r, "reading a journal item");
		if (m.uidvalidity != uidvalidity) {
			snprintf(r->detail, r->detail_len,
			    "commit: folder %s changed UIDVALIDITY; replayed at the next session",
			    e->folder);
			return -1;
		}
		if ((it->actions & STATE_JA_SEEN) && imap_uidset_add(&r->seen, m.uid) != 0)
			goto nomem;
		if (it->actions & STATE_JA_DELETE) {
			r->del_ids[r->n_del] = it->message_id;
			r->del_copied[r->n_del] = (it->actions & STATE_JA_COPIED) != 0;
			r->del_uids[r->n_del++] = m.uid;
		} else {
			r->seen_only[r->n_seen_only++] = it->message_id;
		}
	}
	return 0;
nomem:
	snprintf(r->detail, r->detail_len, "commit: out of memory");
	return -1;
}

/* The folder a trash/archive move goes to (bridge/maildrop/folder.h). */
static int target_folder(struct run *r, unsigned use, const char *configured,
    char *out, size_t len)
{
	return maildrop_folder_target(r->env->up, use, configured, out, len, r->detail,
	    r->detail_len);
}

static bool move_refused_for_missing(struct maildrop_upstream *up, enum imap_result ir)
{
	return ir == IMAP_NO && imap_last(up->imap)->code == IMAP_CODE_TRYCREATE;
}

static int create_folder(struct run *r, const char *folder)
{
	return maildrop_folder_create(r->env->up, folder, r->detail, r->detail_len);
}

/* UID COPY (or MOVE) uids to folder, creating it on [TRYCREATE]. */
static enum imap_result copy_or_move(struct run *r, bool move, const struct imap_uidset *uids,
    const char *folder)
{
	struct maildrop_upstream *up = r->env->up;
	enum imap_result ir = move ? imap_uid_move(up->imap, uids, folder) :
	    imap_uid_copy(up->imap, uids, folder);

	if (move_refused_for_missing(up, ir)) {
		if (create_folder(r, folder) != 0)
			return IMAP_NO;
		ir = move ? imap_uid_move(up->imap, uids, folder) :
		    imap_uid_copy(up->imap, uids, folder);
	}
	return ir;
}

/* A move on a server without MOVE. The copy first, for the items no
 * earlier run copied, then recorded (STATE_JA_COPIED), so a replay after a
 * crash between the copy and the removal does not copy again. Then the
 * originals: with UIDPLUS, \Deleted and UID EXPUNGE of exactly those UIDs;
 * without it, \Deleted and the dele keyword (hidden from every device) and
 * no expunge at all, since a plain EXPUNGE would also remove other clients'
 * \Deleted messages. */
static int step_copy_move(struct run *r, const char *folder, bool *removed)
{
	struct maildrop_upstream *up = r->env->up;
	struct imap_uidset todo;
	int64_t *copied = malloc((r->n_del ? r->n_del : 1) * sizeof(*copied));
	size_t n_copied = 0;
	enum imap_result ir;
	int ret = -1;

	imap_uidset_init(&todo);
	if (copied == NULL) {
		snprintf(r->detail, r->detail_len, "commit: out of memory");
		goto out;
	}
	for (size_t i = 0; i < r->n_del; i++) {
		if (r->del_copied[i] || !imap_uidset_contains(&r->del, r->del_uids[i]))
			continue;
		if (imap_uidset_add(&todo, r->del_uids[i]) != 0) {
			snprintf(r->detail, r->detail_len, "commit: out of memory");
			goto out;
		}
		copied[n_copied++] = r->del_ids[i];
	}
	if (n_copied > 0) {
		ir = copy_or_move(r, false, &todo, folder);
		if (ir != IMAP_OK && ir != IMAP_ENOTFOUND) {
			up_fail(r, "copying deleted messages");
			goto out;
		}
		if (mark_items(r, state_journal_item_copied, copied, n_copied) != 0)
			goto out;
		after_step(r);
	}
	if (imap_has(up->imap, IMAP_CAP_UIDPLUS)) {
		ir = imap_store_flags(up->imap, &r->del, true, IMAP_FLAG_DELETED, NULL, 0);
		if (ir == IMAP_OK || ir == IMAP_ENOTFOUND)
			ir = imap_uid_expunge(up->imap, &r->del);
		if (ir != IMAP_OK && ir != IMAP_ENOTFOUND) {
			up_fail(r, "expunging copied messages");
			goto out;
		}
		*removed = true;
		ret = 0;
		goto out;
	}
	const char *kw[1] = { r->env->opt->dele_keyword };
	ir = imap_store_flags(up->imap, &r->del, true, IMAP_FLAG_DELETED, kw, kw[0][0] ? 1 : 0);
	if (ir != IMAP_OK && ir != IMAP_ENOTFOUND) {
		up_fail(r, "flagging copied messages");
		goto out;
	}
	base_log(PB_LOG_WARN, "commit",
	    "entry %lld: no MOVE, no UIDPLUS: %llu copied %s -> %s, originals flagged"
	    " \\Deleted%s%s, not expunged (a plain EXPUNGE would take other clients'"
	    " \\Deleted mail)", (long long)r->e->id,
	    (unsigned long long)imap_uidset_count(&r->del), r->e->folder, folder,
	    kw[0][0] ? " " : "", kw[0]);
	*removed = false;
	ret = 0;
out:
	imap_uidset_free(&todo);
	free(copied);
	return ret;
}

/* Move the delete set to folder. *removed: the messages left the source. */
static int step_move(struct run *r, const char *folder, bool *removed)
{
	if (!imap_has(r->env->up->imap, IMAP_CAP_MOVE))
		return step_copy_move(r, folder, removed);
	enum imap_result ir = copy_or_move(r, true, &r->del, folder);
	if (ir != IMAP_OK && ir != IMAP_ENOTFOUND)
		return up_fail(r, "moving deleted messages");
	*removed = true;
	return 0;
}

static int step_expunge(struct run *r, bool *removed)
{
	struct maildrop_upstream *up = r->env->up;

	if (!imap_has(up->imap, IMAP_CAP_UIDPLUS)) {
		/* SPEC §3: never risk other clients' \Deleted messages. */
		char trash[PB_FOLDER_MAX];
		if (target_folder(r, IMAP_LIST_TRASH, r->env->opt->trash_folder, trash,
		    sizeof(trash)) != 0)
			return -1;
		if (strcmp(trash, r->e->folder) == 0) {
			*removed = false;
			return 0;
		}
		return step_move(r, trash, removed);
	}
	enum imap_result ir = imap_store_flags(up->imap, &r->del, true, IMAP_FLAG_DELETED,
	    NULL, 0);
	if (ir != IMAP_OK && ir != IMAP_ENOTFOUND)
		return up_fail(r, "flagging deleted messages");
	ir = imap_uid_expunge(up->imap, &r->del);
	if (ir != IMAP_OK && ir != IMAP_ENOTFOUND)
		return up_fail(r, "expunging deleted messages");
	*removed = true;
	return 0;
}

/* A holder's defaults: its settings as the configuration sees them
 * (bridge/maildrop/settings.h); state applies its stored overrides on top. */
struct holder_settings {
	const struct config_options *opt;
	struct maildrop_settings s;
};

static int holder_defaults(void *arg, const char *account, const char *device,
    struct state_view_defaults *out)
{
	struct holder_settings *h = arg;

	maildrop_settings_get(h->opt, account, device, NULL, &h->s);
	maildrop_settings_view_defaults(&h->s.cfg, out);
	return 0;
}

/* last-device: keep in the delete set only messages no device holds, each
 * device counted with its effective settings, as its own maildrop sees it. */
static int holders_filter(struct run *r)
{
	struct holder_settings h = { .opt = r->env->opt };

	imap_uidset_clear(&r->del);
	for (size_t i = 0; i < r->n_del; i++) {
		int64_t count = 0;
		if (state_message_holders_by(r->env->db, r->del_ids[i], holder_defaults, &h,
		    &count) != STATE_OK)
			return db_fail(r, "counting holders");
		if (count == 0 && imap_uidset_add(&r->del, r->del_uids[i]) != 0) {
			snprintf(r->detail, r->detail_len, "commit: out of memory");
			return -1;
		}
	}
	return 0;
}

/* The dele policy's upstream step for r->del. *removed: the policy took the
 * messages out of the folder (they are then marked gone with the entry). */
static int step_delete(struct run *r, bool *removed)
{
	const struct config_options *o = r->env->opt;
	struct maildrop_upstream *up = r->env->up;
	char folder[PB_FOLDER_MAX];
	enum imap_result ir;

	*removed = false;
	switch (r->policy) {
	case PB_DELE_HIDE:
		return 0;
	case PB_DELE_FLAG: {
		const char *kw[1] = { o->dele_keyword };
		if (imap_uidset_empty(&r->del) || !kw[0][0])
			return 0;
		ir = imap_store_flags(up->imap, &r->del, true, 0, kw, 1);
		if (ir != IMAP_OK && ir != IMAP_ENOTFOUND)
			return up_fail(r, "setting the dele keyword");
		after_step(r);
		return 0;
	}
	case PB_DELE_TRASH:
	case PB_DELE_ARCHIVE:
		if (imap_uidset_empty(&r->del))
			return 0;
		if (target_folder(r, r->policy == PB_DELE_TRASH ? IMAP_LIST_TRASH : IMAP_LIST_ARCHIVE,
		    r->policy == PB_DELE_TRASH ? o->trash_folder : o->archive_folder, folder,
		    sizeof(folder)) != 0)
			return -1;
		if (strcmp(folder, r->e->folder) == 0)
			return 0; /* already there: hiding is all there is to do */
		if (step_move(r, folder, removed) != 0)
			return -1;
		after_step(r);
		return 0;
	case PB_DELE_EXPUNGE:
		if (imap_uidset_empty(&r->del))
			return 0;
		if (step_expunge(r, removed) != 0)
			return -1;
		after_step(r);
		return 0;
	case PB_DELE_LAST_DEVICE: {
		if (holders_filter(r) != 0)
			return -1;
		if (imap_uidset_empty(&r->del))
			return 0;
		bool moved = false;
		if (step_expunge(r, &moved) != 0)
			return -1;
		after_step(r);
		/* Without UIDPLUS (and MOVE) the originals stay upstream, flagged:
		 * nothing left the folder, so nothing is gone. */
		if (!moved)
			return 0;
		/* Only some items went: mark exactly those gone. */
		size_t n = 0;
		uint32_t *uids = malloc((size_t)imap_uidset_count(&r->del) * sizeof(*uids));
		if (uids == NULL) {
			snprintf(r->detail, r->detail_len, "commit: out of memory");
			return -1;
		}
		for (size_t i = 0; i < r->n_del; i++)
			if (imap_uidset_contains(&r->del, r->del_uids[i]))
				uids[n++] = r->del_uids[i];
		int rc = state_messages_gone(r->env->db, r->e->mailbox_id, uids, n, r->env->now);
		free(uids);
		if (rc != STATE_OK)
			return db_fail(r, "marking expunged messages gone");
		return 0;
	}
	}
	return 0;
}

static int run_steps(struct run *r, bool *items_gone)
{
	struct maildrop_upstream *up = r->env->up;

	*items_gone = false;
	if (resolve(r) != 0)
		return -1;
	if (mark_done(r, r->gone_ids, r->n_gone) != 0)
		return -1;
	if (!imap_uidset_empty(&r->seen)) {
		enum imap_result ir = imap_store_flags(up->imap, &r->seen, true, IMAP_FLAG_SEEN,
		    NULL, 0);
		if (ir != IMAP_OK && ir != IMAP_ENOTFOUND)
			return up_fail(r, "setting \\Seen");
		after_step(r);
	}
	if (mark_done(r, r->seen_only, r->n_seen_only) != 0)
		return -1;
	for (size_t i = 0; i < r->n_del; i++)
		if (imap_uidset_add(&r->del, r->del_uids[i]) != 0) {
			snprintf(r->detail, r->detail_len, "commit: out of memory");
			return -1;
		}
	bool removed = false;
	if (r->n_del > 0 && step_delete(r, &removed) != 0)
		return -1;
	if (mark_done(r, r->del_ids, r->n_del) != 0)
		return -1;
	/* Every delete item left the folder only when the policy removes them
	 * all (last-device marked its own; an empty run removed nothing). */
	*items_gone = removed && r->policy != PB_DELE_LAST_DEVICE;
	return 0;
}

int maildrop_commit_run(const struct maildrop_commit_env *env, const struct state_journal *e,
    bool sync_first, char *detail, size_t detail_len)
{
	struct run r = {
		.env = env, .e = e, .detail = detail, .detail_len = detail_len,
	};
	bool items_gone = false;
	int ret = -1;

	detail[0] = '\0';
	imap_uidset_init(&r.seen);
	imap_uidset_init(&r.del);
	if (parse_policy(e->policy, &r.policy) != 0) {
		snprintf(detail, detail_len, "journal entry %lld: unknown policy",
		    (long long)e->id);
		goto out;
	}
	if (e->state == STATE_JOURNAL_PENDING) {
		if (sync_first || strcmp(env->up->selected, e->folder) != 0) {
			struct state_mailbox mb;
			enum pop3_md_status st = maildrop_sync_folder(env->up, env->db,
			    e->account_id, e->folder, env->opt->dele_keyword, env->now, &mb,
			    detail, detail_len);
			if (st == POP3_MD_PERM && maildrop_upstream_usable(env->up)) {
				/* The folder no longer exists upstream: nothing of it
				 * is left to act on. */
				base_log(PB_LOG_WARN, "journal",
				    "entry %lld: %s; finished without upstream steps",
				    (long long)e->id, detail);
				goto finish;
			}
			if (st != POP3_MD_OK)
				goto out;
		}
		if (run_steps(&r, &items_gone) != 0)
			goto out;
		if (state_journal_set_state(env->db, e->id, STATE_JOURNAL_UPSTREAM_DONE) != STATE_OK) {
			db_fail(&r, "journal state");
			goto out;
		}
	}
	/* An entry found UPSTREAM_DONE (a crash before C4) only gets finished;
	 * what its steps removed, the next sync of the folder marks gone. */
finish:
	maildrop_crash_point(env->crash_at, BRIDGE_CRASH_BEFORE_FINISH);
	if (state_journal_finish(env->db, e->id, items_gone, env->now) != STATE_OK) {
		db_fail(&r, "finishing the journal entry");
		goto out;
	}
	ret = 0;
out:
	imap_uidset_free(&r.seen);
	imap_uidset_free(&r.del);
	free(r.seen_only);
	free(r.del_ids);
	free(r.del_uids);
	free(r.del_copied);
	free(r.gone_ids);
	return ret;
}

void maildrop_commit_failed(struct state_db *db, int64_t journal_id, const char *account,
    const char *device, const char *detail)
{
	int64_t failures = 0;

	if (state_journal_failed(db, journal_id, detail, &failures) != STATE_OK) {
		base_log(PB_LOG_WARN, "state", "counting a failed commit: %s", state_errmsg(db));
		return;
	}
	if (failures >= STATE_JOURNAL_STUCK)
		base_log(PB_LOG_ERROR, "journal", "account %s device %s: commit %lld has failed"
		    " %lld times, still pending (an administrator should look): %s", account,
		    device, (long long)journal_id, (long long)failures, detail);
}

enum lock_result {
	LOCK_HELD,    /* *hold and *fresh set: run *fresh */
	LOCK_BUSY,    /* the device is in a session: leave the entry to it */
	LOCK_DONE,    /* finished meanwhile: nothing to do */
	LOCK_FAILED,  /* database trouble */
};

/* Take the lock of e's device without waiting; then re-read e (a session
 * that held the lock until now may have finished it). A device no longer
 * in state, or a lock table out of memory, runs the entry as before. */
static enum lock_result lock_device(const struct maildrop_commit_env *env,
    const struct state_journal *e, struct maildrop_devlock *hold,
    struct state_journal **fresh)
{
	struct state_device d;

	if (state_device_get_by_id(env->db, e->device_id, &d) == STATE_OK &&
	    maildrop_devlock_acquire(env->devlocks, d.account, d.name, hold) == PB_DEVLOCK_IN_USE) {
		base_log(PB_LOG_DEBUG, "journal", "entry %lld: device %s is in a session; "
		    "left to it", (long long)e->id, d.name);
		return LOCK_BUSY;
	}
	if (state_journal_get(env->db, e->id, fresh) != STATE_OK) {
		maildrop_devlock_release(hold);
		return LOCK_FAILED;
	}
	if ((*fresh)->state == STATE_JOURNAL_DONE) {
		state_journal_free(*fresh, 1);
		*fresh = NULL;
		maildrop_devlock_release(hold);
		return LOCK_DONE;
	}
	return LOCK_HELD;
}

int maildrop_commit_replay(const struct maildrop_commit_env *env, int64_t account_id,
    char *detail, size_t detail_len)
{
	struct state_journal *v = NULL;
	size_t n = 0;
	int left = 0;
	char why[BRIDGE_DETAIL_MAX];

	detail[0] = '\0';
	if (state_journal_pending(env->db, account_id, &v, &n) != STATE_OK) {
		snprintf(detail, detail_len, "state database: pending journal: %s",
		    state_errmsg(env->db));
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct maildrop_devlock hold = { 0 };
		struct state_journal *fresh = NULL;
		const struct state_journal *e = &v[i];

		if (!maildrop_upstream_usable(env->up)) {
			left++;
			continue;
		}
		if (env->devlocks != NULL && e->device_id != env->device_id) {
			enum lock_result lr = lock_device(env, e, &hold, &fresh);
			if (lr == LOCK_BUSY || lr == LOCK_DONE)
				continue;
			if (lr == LOCK_FAILED) {
				if (left++ == 0)
					snprintf(detail, detail_len, "entry %lld: %s", (long long)e->id,
					    state_errmsg(env->db));
				continue;
			}
			e = fresh;
		}
		if (maildrop_commit_run(env, e, true, why, sizeof(why)) == 0) {
			base_log(PB_LOG_INFO, "journal", "entry %lld of device %lld finished (%s)",
			    (long long)e->id, (long long)e->device_id, e->policy);
		} else {
			struct state_device d;
			bool named = state_device_get_by_id(env->db, e->device_id, &d) == STATE_OK;
			maildrop_commit_failed(env->db, e->id, named ? d.account : "?",
			    named ? d.name : "?", why);
			if (left++ == 0)
				snprintf(detail, detail_len, "%s", why);
		}
		state_journal_free(fresh, 1);
		maildrop_devlock_release(&hold);
	}
	state_journal_free(v, n);
	return left;
}
