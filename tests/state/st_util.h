/* tests/state/st_util.h — shared fixture for the state/ suites: a fresh
 * directory and database file per test (Check runs each test in its own
 * process, so the fixture is "checked": set up in the child). */
#ifndef TESTS_STATE_ST_UTIL_H
#define TESTS_STATE_ST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state/state.h"
#include "tests/lib/cert.h"

static char st_dir[256];
static char st_path[320];
static struct state_db *db;

#define OK(expr) \
	ck_assert_msg((expr) == STATE_OK, "%s failed: %s", #expr, state_errmsg(db))
#define RC(expr, want) \
	do { \
		int rc_ = (expr); \
		ck_assert_msg(rc_ == (want), "%s = %d, want %d (%s)", #expr, rc_, (int)(want), \
		    state_errmsg(db)); \
	} while (0)

static struct state_db *st_open(void)
{
	char err[512];
	struct state_db *h = state_open(st_path, err, sizeof err);

	ck_assert_msg(h != NULL, "state_open: %s", err);
	return h;
}

static inline void st_setup(void)
{
	ck_assert_int_eq(pbt_mkdtemp("state", st_dir, sizeof st_dir), 0);
	snprintf(st_path, sizeof st_path, "%s/state.db", st_dir);
	db = st_open();
}

static inline void st_teardown(void)
{
	state_close(db);
	db = NULL;
	pbt_rmtree(st_dir);
}

static inline int64_t st_account(const char *name)
{
	int64_t id = 0;

	OK(state_account_add(db, name, STATE_AUTH_PASSTHROUGH, NULL, NULL, 0, 1000, &id));
	return id;
}

static inline int64_t st_device(int64_t account_id, const char *name)
{
	struct state_device d;

	OK(state_device_add(db, account_id, name, NULL, NULL, "INBOX", 1000, &d));
	return d.id;
}

static inline int64_t st_mailbox(int64_t account_id, const char *folder)
{
	struct state_mailbox m;

	OK(state_mailbox_ensure(db, account_id, folder, &m));
	return m.id;
}

/* A listing item with deterministic match keys derived from `key`. */
struct st_keys {
	char msgid[64];
	char hash[32];
};

static inline struct state_listing st_item(uint32_t uid, unsigned key, unsigned flags,
    struct st_keys *k)
{
	struct state_listing it;

	memset(&it, 0, sizeof it);
	snprintf(k->msgid, sizeof k->msgid, "<%u@test.example>", key);
	snprintf(k->hash, sizeof k->hash, "h%08x", key * 2654435761u);
	it.uid = uid;
	it.size = 1000 + key;
	it.flags = flags;
	it.message_id = k->msgid;
	it.hdr_hash = k->hash;
	return it;
}

static inline int64_t st_msg_id(int64_t mailbox_id, uint32_t uid)
{
	struct state_message m;

	OK(state_message_by_uid(db, mailbox_id, uid, &m));
	return m.id;
}

/* Run a suite; the exit status of a test program. */
static inline int st_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static const struct state_view_defaults st_defaults = { "INBOX", "all", 0 };

#endif
