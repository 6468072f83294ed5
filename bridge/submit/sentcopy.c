/* bridge/submit/sentcopy.c — see sentcopy.h. */
#include "bridge/submit/sentcopy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bridge/base/hex.h"
#include "bridge/base/log.h"
#include "bridge/maildrop/backend.h"
#include "bridge/maildrop/commit.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/maildrop/folder.h"
#include "bridge/submit/spool.h"

static int fail(char *detail, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *detail, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, len, fmt, ap);
	va_end(ap);
	return -1;
}

static int up_fail(const struct submit_copy_env *env, const char *what, char *detail, size_t len)
{
	maildrop_upstream_describe(env->up, what, detail, len);
	return -1;
}

/* ---- finding a copy an earlier APPEND may have left ----------------------- */

static int hash_sink(void *arg, const char *buf, size_t len)
{
	return EVP_DigestUpdate(arg, buf, len) == 1 ? 0 : -1;
}

/* 1 found (*uid set), 0 not there, -1 trouble (detail). */
static int look_for_copy(const struct submit_copy_env *env, const struct state_sent *row,
    const char *folder, uint32_t *uidvalidity, uint32_t *uid, char *detail, size_t len)
{
	struct imap_session *imap = env->up->imap;
	struct imap_uidset found;
	uint32_t claimed[SUBMIT_LOOKUP_MAX];
	size_t n_claimed = 0;
	int rc = 0;

	if (maildrop_upstream_select(env->up, folder, detail, len) != POP3_MD_OK)
		return -1;
	*uidvalidity = env->up->info.uidvalidity;
	struct imap_search q = { .size = row->size, .since = row->created - 86400 };
	imap_uidset_init(&found);
	enum imap_result ir = imap_uid_search(imap, &q, &found);
	if (ir != IMAP_OK) {
		imap_uidset_free(&found);
		return up_fail(env, "looking for an earlier copy", detail, len);
	}
	if (state_sent_claimed(env->db, row->account_id, row->sha256, folder, *uidvalidity,
	    claimed, SUBMIT_LOOKUP_MAX, &n_claimed) != STATE_OK) {
		imap_uidset_free(&found);
		return fail(detail, len, "state database: %s", state_errmsg(env->db));
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned tried = 0;
	/* newest first: the copy is the latest of its size */
	for (size_t r = found.n; r-- > 0 && rc == 0 && tried < SUBMIT_LOOKUP_MAX;) {
		for (uint32_t u = found.r[r].hi; u >= found.r[r].lo && rc == 0 &&
		    tried < SUBMIT_LOOKUP_MAX; u--) {
			bool taken = false;
			for (size_t i = 0; i < n_claimed && i < SUBMIT_LOOKUP_MAX; i++)
				taken = taken || claimed[i] == u;
			if (taken)
				continue;
			tried++;
			unsigned char h[32];
			char hex[STATE_SHA256_HEX + 1];
			if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
				rc = fail(detail, len, "out of memory");
				break;
			}
			ir = imap_fetch_body(imap, u, IMAP_SECTION_ALL, 0, 0, hash_sink, md, NULL);
			if (ir == IMAP_ENOTFOUND)
				continue;
			if (ir != IMAP_OK) {
				rc = up_fail(env, "reading an earlier copy", detail, len);
				break;
			}
			EVP_DigestFinal_ex(md, h, NULL);
			base_hex_encode(hex, sizeof(hex), h, sizeof(h));
			if (strcmp(hex, row->sha256) == 0) {
				*uid = u;
				rc = 1;
			}
			if (u == 1)
				break;
		}
	}
	EVP_MD_CTX_free(md);
	imap_uidset_free(&found);
	return rc;
}

/* ---- APPEND ------------------------------------------------------------------ */

struct file_src {
	int fd;
};

static ssize_t file_src(void *arg, char *buf, size_t cap)
{
	struct file_src *f = arg;
	for (;;) {
		ssize_t n = read(f->fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

static enum imap_result append_file(const struct submit_copy_env *env,
    const struct state_sent *row, const char *folder, uint32_t *uidvalidity, uint32_t *uid,
    char *detail, size_t len)
{
	int fd = submit_spool_open(env->spool_dir, row->file, row->size, detail, len);
	if (fd < 0)
		return IMAP_EARG;
	struct file_src src = { fd };
	enum imap_result ir = imap_append(env->up->imap, folder, IMAP_FLAG_SEEN, row->created,
	    row->size, file_src, &src, uidvalidity, uid);
	close(fd);
	if (ir != IMAP_OK)
		maildrop_upstream_describe(env->up, "APPEND to the Sent folder", detail, len);
	return ir;
}

static bool missing_folder(const struct submit_copy_env *env, enum imap_result ir)
{
	const struct imap_status *st = imap_last(env->up->imap);
	return ir == IMAP_NO && (st->code == IMAP_CODE_TRYCREATE || st->code == IMAP_CODE_NONEXISTENT);
}

static int done(const struct submit_copy_env *env, const struct state_sent *row,
    const char *folder, uint32_t uidvalidity, uint32_t uid, char *detail, size_t len)
{
	if (state_sent_done(env->db, row->id, folder, uidvalidity, uid, env->now) != STATE_OK)
		return fail(detail, len, "state database: %s", state_errmsg(env->db));
	submit_spool_remove(env->spool_dir, row->file);
	return 0;
}

int submit_copy_one(const struct submit_copy_env *env, const struct state_sent *row,
    char *detail, size_t detail_len)
{
	char folder[PB_FOLDER_MAX];
	uint32_t uidvalidity = 0, uid = 0;

	if (!maildrop_upstream_usable(env->up))
		return fail(detail, detail_len, "no connection to the IMAP server");
	if (maildrop_folder_target(env->up, IMAP_LIST_SENT, env->opt->sent_folder, folder,
	    sizeof(folder), detail, detail_len) != 0)
		return -1;
	if (row->state == STATE_SENT_APPENDING) {
		int k = look_for_copy(env, row, folder, &uidvalidity, &uid, detail, detail_len);
		if (k < 0 && missing_folder(env, IMAP_NO))
			k = 0;   /* no folder: no earlier copy */
		if (k < 0)
			return -1;
		if (k == 1)
			return done(env, row, folder, uidvalidity, uid, detail, detail_len);
	} else if (state_sent_set_state(env->db, row->id, STATE_SENT_APPENDING) != STATE_OK) {
		return fail(detail, detail_len, "state database: %s", state_errmsg(env->db));
	}
	enum imap_result ir = append_file(env, row, folder, &uidvalidity, &uid, detail, detail_len);
	if (missing_folder(env, ir)) {
		if (maildrop_folder_create(env->up, folder, detail, detail_len) != 0)
			return -1;
		ir = append_file(env, row, folder, &uidvalidity, &uid, detail, detail_len);
	}
	if (ir == IMAP_OK) {
		maildrop_crash_point(env->crash_at, BRIDGE_CRASH_AFTER_APPEND);
		return done(env, row, folder, uidvalidity, uid, detail, detail_len);
	}
	if (ir == IMAP_NO || ir == IMAP_BAD || ir == IMAP_EARG)
		/* refused, nothing stored: the next run appends without looking */
		state_sent_set_state(env->db, row->id, STATE_SENT_PENDING);
	return -1;
}

/* ---- all of an account's ------------------------------------------------------ */

struct rows {
	struct state_sent *v;
	size_t n;
};

static int keep_row(void *arg, const struct state_sent *s)
{
	struct rows *r = arg;
	r->v[r->n++] = *s;
	return r->n >= SUBMIT_RETRY_BATCH;
}

int submit_copy_account(const struct submit_copy_env *env, int64_t account_id)
{
	struct maildrop_devlock hold = { 0 };
	char detail[BRIDGE_DETAIL_MAX];
	int left = 0;

	if (env->locks != NULL &&
	    maildrop_devlock_acquire(env->locks, env->account, SUBMIT_LOCK_DEVICE, &hold) !=
	    PB_DEVLOCK_OK)
		return 0;
	struct rows rows = { calloc(SUBMIT_RETRY_BATCH, sizeof(struct state_sent)), 0 };
	if (rows.v == NULL) {
		maildrop_devlock_release(&hold);
		return -1;
	}
	if (state_sent_pending(env->db, account_id, SUBMIT_RETRY_BATCH, keep_row, &rows) !=
	    STATE_OK) {
		base_log(PB_LOG_WARN, "sent-copy", "account %s: state database: %s", env->account,
		    state_errmsg(env->db));
		free(rows.v);
		maildrop_devlock_release(&hold);
		return -1;
	}
	for (size_t i = 0; i < rows.n; i++) {
		const struct state_sent *row = &rows.v[i];
		if (env->stop != NULL && atomic_load(env->stop)) {
			left += (int)(rows.n - i);
			break;
		}
		if (submit_copy_one(env, row, detail, sizeof(detail)) == 0) {
			struct base_logline l;
			base_logline_start(&l, PB_LOG_INFO, "sent-copy");
			base_logline_str(&l, "account", env->account);
			base_logline_u64(&l, "id", (uint64_t)row->id);
			base_logline_str(&l, "result", "appended");
			base_logline_u64(&l, "size", row->size);
			base_logline_emit(&l);
			continue;
		}
		int64_t attempts = 0;
		state_sent_failed(env->db, row->id, detail, &attempts);
		left++;
		struct base_logline l;
		base_logline_start(&l, attempts >= SUBMIT_STUCK_ATTEMPTS ? PB_LOG_ERROR : PB_LOG_WARN,
		    "sent-copy");
		base_logline_str(&l, "account", env->account);
		base_logline_u64(&l, "id", (uint64_t)row->id);
		base_logline_str(&l, "result", "pending");
		base_logline_u64(&l, "attempts", (uint64_t)attempts);
		base_logline_str(&l, "reason", detail);
		base_logline_emit(&l);
		if (!maildrop_upstream_usable(env->up)) {
			/* the connection is gone: the rest wait for the next run */
			left += (int)(rows.n - i - 1);
			break;
		}
	}
	free(rows.v);
	maildrop_devlock_release(&hold);
	return left;
}
