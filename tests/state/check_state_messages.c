/* tests/state/check_state_messages.c — message sync, look-ups, gone marks,
 * exact sizes (one and in bulk), the UIDVALIDITY re-match, UIDL import, purge, and the
 * 50,000-message timings (printed, never asserted). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/state/st_util.h"

static int64_t acc, mb;

static void msg_setup(void)
{
	st_setup();
	acc = st_account("alice");
	mb = st_mailbox(acc, "INBOX");
}

struct uid_list {
	uint32_t v[64];
	char uidl[64][STATE_UIDL_MAX + 1];
	size_t n;
};

static int collect_uids(void *arg, const struct state_message *m)
{
	struct uid_list *l = arg;

	if (l->n < 64) {
		memcpy(l->uidl[l->n], m->uidl, sizeof l->uidl[0]);
		l->v[l->n++] = m->uid;
	}
	return 0;
}

START_TEST(sync_and_lookup)
{
	struct state_listing it[4];
	struct st_keys k[4];
	struct state_mailbox_status s = { 1000, 10, 77 };
	struct state_sync_result r;
	struct state_message m;
	struct state_mailbox box;
	struct uid_list l = { .n = 0 };

	/* unsorted input */
	it[0] = st_item(5, 5, STATE_MF_SEEN, &k[0]);
	it[1] = st_item(1, 1, 0, &k[1]);
	it[2] = st_item(3, 3, STATE_MF_DELETED, &k[2]);
	OK(state_messages_sync(db, mb, &s, it, 3, true, 100, &r));
	ck_assert_uint_eq(r.added, 3);
	ck_assert_uint_eq(r.updated, 0);
	ck_assert_uint_eq(r.gone, 0);
	OK(state_mailbox_get(db, acc, "INBOX", &box));
	ck_assert_uint_eq(box.uidvalidity, 1000);
	ck_assert_uint_eq(box.uidnext, 10);
	ck_assert_uint_eq(box.highestmodseq, 77);

	OK(state_message_by_uid(db, mb, 1, &m));
	ck_assert_str_eq(m.uidl, "00000001000003E8");
	ck_assert_str_eq(m.old_uidl, "");
	ck_assert_uint_eq(m.rfc822_size, 1001);
	ck_assert(!m.size_exact);
	ck_assert_str_eq(m.message_id, "<1@test.example>");
	ck_assert_str_eq(m.hdr_hash, k[1].hash);
	ck_assert_int_eq(m.first_seen, 100);
	ck_assert_int_eq(m.gone, 0);
	ck_assert_int_eq(m.seq, 1);
	OK(state_message_get(db, m.id, &m));
	ck_assert_uint_eq(m.uid, 1);
	RC(state_message_by_uid(db, mb, 2, &m), STATE_NOTFOUND);
	RC(state_message_get(db, 424242, &m), STATE_NOTFOUND);

	OK(state_messages_list(db, mb, collect_uids, &l));
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.v[0], 1);
	ck_assert_uint_eq(l.v[1], 3);
	ck_assert_uint_eq(l.v[2], 5);

	/* re-listing: flags refreshed, keys kept when unknown, UIDL unchanged */
	it[0].flags = 0;
	it[0].message_id = NULL;
	it[0].hdr_hash = NULL;
	it[3] = st_item(7, 7, 0, &k[3]);
	s.uidnext = 12;
	OK(state_messages_sync(db, mb, &s, it, 4, false, 200, &r));
	ck_assert_uint_eq(r.added, 1);
	ck_assert_uint_eq(r.updated, 3);
	OK(state_message_by_uid(db, mb, 5, &m));
	ck_assert_uint_eq(m.flags, 0);
	ck_assert_str_eq(m.message_id, "<5@test.example>");
	ck_assert_str_eq(m.uidl, "00000005000003E8");
	ck_assert_int_eq(m.first_seen, 100);

	/* a complete listing without UID 3: gone */
	it[2] = it[3];
	OK(state_messages_sync(db, mb, &s, it, 3, true, 300, &r));
	ck_assert_uint_eq(r.gone, 1);
	RC(state_message_by_uid(db, mb, 3, &m), STATE_NOTFOUND);
	l.n = 0;
	OK(state_messages_list(db, mb, collect_uids, &l));
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.v[1], 5);

	/* exact size */
	OK(state_message_by_uid(db, mb, 7, &m));
	OK(state_message_set_exact_size(db, m.id, 1234));
	OK(state_message_get(db, m.id, &m));
	ck_assert(m.size_exact);
	ck_assert_uint_eq(m.exact_size, 1234);
	ck_assert_uint_eq(m.rfc822_size, 1007);
	RC(state_message_set_exact_size(db, 999999, 1), STATE_NOTFOUND);
}
END_TEST

START_TEST(sync_rejects_bad_input)
{
	struct state_listing it[3];
	struct st_keys k[3];
	struct state_mailbox_status s = { 1000, 10, 0 };
	struct state_mailbox_status other = { 2000, 10, 0 };
	struct state_message m;
	char longid[STATE_MSGID_MAX + 10];

	it[0] = st_item(1, 1, 0, &k[0]);
	it[1] = st_item(2, 2, 0, &k[1]);
	it[2] = st_item(1, 3, 0, &k[2]);
	RC(state_messages_sync(db, mb, &s, it, 3, true, 1, NULL), STATE_INVALID);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "UID 1 listed twice"));
	it[2].uid = 0;
	RC(state_messages_sync(db, mb, &s, it, 3, true, 1, NULL), STATE_INVALID);
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	it[2].uid = 3;
	it[2].message_id = longid;
	RC(state_messages_sync(db, mb, &s, it, 3, true, 1, NULL), STATE_INVALID);
	RC(state_message_by_uid(db, mb, 1, &m), STATE_NOTFOUND);
	RC(state_messages_sync(db, mb, &(struct state_mailbox_status){ 0, 1, 0 }, it, 2,
	    true, 1, NULL), STATE_INVALID);
	RC(state_messages_sync(db, 4242, &s, it, 2, true, 1, NULL), STATE_NOTFOUND);

	OK(state_messages_sync(db, mb, &s, it, 2, true, 1, NULL));
	/* another UIDVALIDITY: nothing written, the caller must re-match */
	RC(state_messages_sync(db, mb, &other, it, 1, true, 2, NULL), STATE_UIDVALIDITY);
	ck_assert_ptr_nonnull(strstr(state_errmsg(db), "UIDVALIDITY"));
	OK(state_message_by_uid(db, mb, 2, &m));
	ck_assert_int_eq(m.gone, 0);
	ck_assert_uint_eq(m.uidvalidity, 1000);
}
END_TEST

START_TEST(unknown_and_gone)
{
	struct state_listing it[3];
	struct st_keys k[3];
	struct state_mailbox_status s = { 9, 20, 0 };
	uint32_t ask[5] = { 4, 1, 10, 2, 11 }, missing[5], gone[3] = { 2, 3, 99 };
	struct state_message m;
	size_t n;

	for (int i = 0; i < 3; i++)
		it[i] = st_item((uint32_t)i + 1, (unsigned)i, 0, &k[i]);
	OK(state_messages_sync(db, mb, &s, it, 3, true, 1, NULL));
	OK(state_messages_unknown(db, mb, ask, 5, missing, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(missing[0], 4);
	ck_assert_uint_eq(missing[1], 10);
	ck_assert_uint_eq(missing[2], 11);
	OK(state_messages_gone(db, mb, gone, 3, 50));
	RC(state_message_by_uid(db, mb, 2, &m), STATE_NOTFOUND);
	RC(state_message_by_uid(db, mb, 3, &m), STATE_NOTFOUND);
	OK(state_message_by_uid(db, mb, 1, &m));
	/* a gone message is still known (by id), with its time */
	OK(state_messages_unknown(db, mb, gone, 2, missing, &n));
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Exact sizes in bulk: the live messages without one (current UIDVALIDITY,
 * ascending UID), storing many at once, a re-listing keeps them, unknown
 * and gone UIDs are ignored, a re-match keeps re-attached ones. */
START_TEST(exact_sizes_in_bulk)
{
	struct state_listing it[4];
	struct st_keys k[4];
	struct state_mailbox_status s = { 9, 20, 0 };
	struct state_uid_size *v;
	struct state_message m;
	size_t n;

	OK(state_messages_inexact(db, mb, &v, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(v);
	for (int i = 0; i < 4; i++)
		it[i] = st_item((uint32_t)(4 - i) * 10, (unsigned)i, 0, &k[i]);
	OK(state_messages_sync(db, mb, &s, it, 4, true, 1, NULL));
	OK(state_message_by_uid(db, mb, 30, &m));
	OK(state_message_set_exact_size(db, m.id, 77));
	OK(state_messages_inexact(db, mb, &v, &n));
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(v[0].uid, 10);
	ck_assert_uint_eq(v[0].size, 1003);
	ck_assert_uint_eq(v[1].uid, 20);
	ck_assert_uint_eq(v[2].uid, 40);
	ck_assert_uint_eq(v[2].size, 1000);
	free(v);

	uint32_t gone = 40;
	OK(state_messages_gone(db, mb, &gone, 1, 5));
	struct state_uid_size set[3] = { { 10, 1005 }, { 40, 1 }, { 99, 2 } };
	OK(state_messages_set_exact_sizes(db, mb, set, 3));
	struct state_uid_size bad = { 20, (uint64_t)INT64_MAX + 1 };
	RC(state_messages_set_exact_sizes(db, mb, &bad, 1), STATE_INVALID);
	RC(state_messages_set_exact_sizes(db, mb, NULL, 1), STATE_INVALID);
	OK(state_messages_set_exact_sizes(db, mb, NULL, 0));
	OK(state_message_by_uid(db, mb, 10, &m));
	ck_assert(m.size_exact);
	ck_assert_uint_eq(m.exact_size, 1005);
	OK(state_message_by_uid(db, mb, 20, &m));
	ck_assert(!m.size_exact);
	OK(state_messages_inexact(db, mb, &v, &n));
	ck_assert_uint_eq(n, 1);  /* 40 is gone, 10 and 30 are exact */
	ck_assert_uint_eq(v[0].uid, 20);
	free(v);

	/* A later listing of the same messages keeps what was stored. */
	OK(state_messages_sync(db, mb, &s, it + 1, 3, true, 2, NULL));
	OK(state_message_by_uid(db, mb, 10, &m));
	ck_assert_uint_eq(m.exact_size, 1005);

	/* Renumbered: the re-attached keep theirs; a new one has none. */
	struct state_mailbox_status s2 = { 10, 200, 0 };
	struct state_listing it2[3];
	struct st_keys k2[3];
	it2[0] = st_item(101, 3, 0, &k2[0]);  /* was UID 10 */
	it2[1] = st_item(102, 1, 0, &k2[1]);  /* was UID 30 */
	it2[2] = st_item(103, 50, 0, &k2[2]); /* new */
	OK(state_messages_rematch(db, mb, &s2, it2, 3, 3, NULL));
	OK(state_messages_inexact(db, mb, &v, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(v[0].uid, 103);
	ck_assert_uint_eq(v[0].size, 1050);
	free(v);
	OK(state_message_by_uid(db, mb, 101, &m));
	ck_assert_uint_eq(m.exact_size, 1005);
}
END_TEST

/* Old numbering: UIDVALIDITY 1000, UIDs 1..5 with keys 1..5. */
static void old_mailbox(struct state_listing *it, struct st_keys *k)
{
	struct state_mailbox_status s = { 1000, 6, 0 };

	for (int i = 0; i < 5; i++)
		it[i] = st_item((uint32_t)i + 1, (unsigned)i + 1, 0, &k[i]);
	OK(state_messages_sync(db, mb, &s, it, 5, true, 100, NULL));
}

START_TEST(rematch_keeps_uidls)
{
	struct state_listing it[5], nw[5];
	struct st_keys k[5], nk[5];
	struct state_mailbox_status s2 = { 2000, 40, 0 };
	struct state_rematch_result r;
	struct state_message before[5], m;
	struct state_devmsg dm;
	struct state_view_msg *v;
	size_t n;
	int64_t dev = st_device(acc, "phone"), ids[2];

	old_mailbox(it, k);
	for (int i = 0; i < 5; i++)
		OK(state_message_by_uid(db, mb, (uint32_t)i + 1, &before[i]));
	OK(state_message_set_exact_size(db, before[1].id, 999));
	ids[0] = before[0].id;
	ids[1] = before[1].id;
	OK(state_devmsg_retrieved(db, dev, ids, 2, 150));
	OK(state_devmsg_deleted(db, dev, &before[2].id, 1, 151));

	/* the server renumbered: keys 1..4 at new UIDs in another order,
	 * key 5 is missing, key 9 is new */
	nw[0] = st_item(30, 4, STATE_MF_SEEN, &nk[0]);
	nw[1] = st_item(10, 2, 0, &nk[1]);
	nw[2] = st_item(20, 1, 0, &nk[2]);
	nw[3] = st_item(35, 9, 0, &nk[3]);
	nw[4] = st_item(25, 3, 0, &nk[4]);
	OK(state_messages_rematch(db, mb, &s2, nw, 5, 200, &r));
	ck_assert_uint_eq(r.matched, 4);
	ck_assert_uint_eq(r.added, 1);
	ck_assert_uint_eq(r.lost, 1);

	OK(state_message_by_uid(db, mb, 20, &m));
	ck_assert_int_eq(m.id, before[0].id);
	ck_assert_str_eq(m.uidl, before[0].uidl);
	ck_assert_str_eq(m.uidl, "00000001000003E8");
	ck_assert_uint_eq(m.uidvalidity, 2000);
	ck_assert_int_eq(m.seq, before[0].seq);
	OK(state_message_by_uid(db, mb, 10, &m));
	ck_assert_int_eq(m.id, before[1].id);
	ck_assert_str_eq(m.uidl, "00000002000003E8");
	ck_assert(m.size_exact);
	ck_assert_uint_eq(m.exact_size, 999);
	OK(state_message_by_uid(db, mb, 30, &m));
	ck_assert_int_eq(m.id, before[3].id);
	ck_assert_uint_eq(m.flags, STATE_MF_SEEN);
	/* the new message: new id, UIDL from the new numbering */
	OK(state_message_by_uid(db, mb, 35, &m));
	ck_assert_int_gt(m.id, before[4].id);
	ck_assert_str_eq(m.uidl, "00000023000007D0");
	ck_assert_int_gt(m.seq, before[4].seq);
	/* the missing one is gone */
	OK(state_message_get(db, before[4].id, &m));
	ck_assert_int_eq(m.gone, 200);

	/* per-device state survived */
	OK(state_devmsg_get(db, dev, before[0].id, &dm));
	ck_assert_int_eq(dm.retrieved, 150);
	/* keys 2, 1, 4, 9 (3 was deleted by it; 5 is gone) */
	OK(state_view_build(db, dev, &st_defaults, 210, &v, &n));
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(v[0].uid, 10);
	ck_assert_str_eq(v[0].uidl, "00000002000003E8");
	ck_assert(v[0].retrieved);
	ck_assert_uint_eq(v[3].uid, 35);
	ck_assert(!v[3].retrieved);
	state_view_free(v);
	/* and the old UIDVALIDITY's listing is now refused by sync */
	RC(state_messages_sync(db, mb, &(struct state_mailbox_status){ 1000, 6, 0 }, it, 1,
	    true, 300, NULL), STATE_UIDVALIDITY);
}
END_TEST

START_TEST(rematch_by_emailid_and_duplicates)
{
	struct state_listing it[4], nw[4];
	struct st_keys k[4], nk[4];
	struct state_mailbox_status s1 = { 5, 10, 0 }, s2 = { 6, 10, 0 }, s3 = { 5, 50, 0 };
	struct state_rematch_result r;
	struct state_message a, b, c, m;

	/* two identical copies (same keys) and one with an EMAILID */
	it[0] = st_item(1, 1, 0, &k[0]);
	it[1] = st_item(2, 1, 0, &k[1]);
	it[2] = st_item(3, 3, 0, &k[2]);
	it[2].emailid = "Mabc123";
	it[3] = st_item(4, 4, 0, &k[3]); /* lost at the first renumbering */
	OK(state_messages_sync(db, mb, &s1, it, 4, true, 1, NULL));
	OK(state_message_by_uid(db, mb, 1, &a));
	OK(state_message_by_uid(db, mb, 2, &b));
	OK(state_message_by_uid(db, mb, 3, &c));

	/* after renumbering the EMAILID message's headers hash differently (a
	 * server that rewrote a header): EMAILID still matches; the copies map
	 * lowest old UID to lowest new UID */
	nw[0] = st_item(8, 1, 0, &nk[0]);
	nw[1] = st_item(4, 1, 0, &nk[1]);
	nw[2] = st_item(6, 77, 0, &nk[2]);
	nw[2].emailid = "Mabc123";
	OK(state_messages_rematch(db, mb, &s2, nw, 3, 2, &r));
	ck_assert_uint_eq(r.matched, 3);
	ck_assert_uint_eq(r.added, 0);
	ck_assert_uint_eq(r.lost, 1);
	OK(state_message_by_uid(db, mb, 4, &m));
	ck_assert_int_eq(m.id, a.id);
	OK(state_message_by_uid(db, mb, 8, &m));
	ck_assert_int_eq(m.id, b.id);
	OK(state_message_by_uid(db, mb, 6, &m));
	ck_assert_int_eq(m.id, c.id);
	ck_assert_str_eq(m.uidl, c.uidl);
	ck_assert_str_eq(m.hdr_hash, nk[2].hash);

	/* back to the first UIDVALIDITY: the gone row (5, UID 4) is moved aside
	 * so a live message can take UID 4 again */
	nw[0].uid = 4;
	nw[1].uid = 2;
	nw[2].uid = 3;
	OK(state_messages_rematch(db, mb, &s3, nw, 3, 3, &r));
	ck_assert_uint_eq(r.matched, 3);
	ck_assert_uint_eq(r.added, 0);
	OK(state_message_by_uid(db, mb, 2, &m));
	ck_assert_int_eq(m.id, a.id);
	OK(state_message_by_uid(db, mb, 4, &m));
	ck_assert_int_eq(m.id, b.id);
	OK(state_message_by_uid(db, mb, 3, &m));
	ck_assert_int_eq(m.id, c.id);
	ck_assert_str_eq(m.uidl, c.uidl);

	/* the same UIDVALIDITY again: a plain complete sync */
	OK(state_messages_rematch(db, mb, &s3, nw, 2, 4, &r));
	ck_assert_uint_eq(r.matched, 2);
	ck_assert_uint_eq(r.lost, 1);
}
END_TEST

/* A batch of two imports. */
static void two(struct state_uidl_import imp[2], int64_t id1, const char *u1, int64_t id2,
    const char *u2)
{
	imp[0] = (struct state_uidl_import){ .message_id = id1, .old_uidl = u1 };
	imp[1] = (struct state_uidl_import){ .message_id = id2, .old_uidl = u2 };
}

/* The effective UIDL of the live message with UID uid. */
static void uidl_is(int64_t mailbox, uint32_t uid, const char *want)
{
	struct state_message m;
	OK(state_message_by_uid(db, mailbox, uid, &m));
	ck_assert_str_eq(m.uidl, want);
}

START_TEST(import_uidls)
{
	struct state_listing it[5];
	struct st_keys k[5];
	struct state_match_query q;
	struct state_uidl_import imp[3];
	struct state_message m;
	struct state_view_msg *v;
	int64_t ids[4], dev;
	size_t n, changed;

	old_mailbox(it, k);
	dev = st_device(acc, "pc");

	/* candidates */
	memset(&q, 0, sizeof q);
	q.message_id = "<2@test.example>";
	OK(state_match_candidates(db, mb, &q, ids, 4, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ids[0], st_msg_id(mb, 2));
	q.size_min = 1003;
	q.size_max = 1010;
	OK(state_match_candidates(db, mb, &q, ids, 4, &n));
	ck_assert_uint_eq(n, 0);
	q.message_id = NULL;
	OK(state_match_candidates(db, mb, &q, ids, 1, &n));
	ck_assert_uint_eq(n, 3); /* sizes 1003, 1004, 1005: ambiguous, cap 1 */
	ck_assert_int_eq(ids[0], st_msg_id(mb, 3));
	q.hdr_hash = k[3].hash;
	OK(state_match_candidates(db, mb, &q, ids, 4, &n));
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ids[0], st_msg_id(mb, 4));
	memset(&q, 0, sizeof q);
	RC(state_match_candidates(db, mb, &q, ids, 4, &n), STATE_INVALID);

	/* import two */
	imp[0].message_id = st_msg_id(mb, 1);
	imp[0].old_uidl = "UID-old-aaa";
	imp[1].message_id = st_msg_id(mb, 2);
	imp[1].old_uidl = "UID-old-bbb";
	OK(state_import_uidls(db, imp, 2, &changed));
	ck_assert_uint_eq(changed, 2);
	OK(state_message_by_uid(db, mb, 1, &m));
	ck_assert_str_eq(m.uidl, "UID-old-aaa");
	ck_assert_str_eq(m.old_uidl, "UID-old-aaa");
	/* twice: nothing more */
	OK(state_import_uidls(db, imp, 2, &changed));
	ck_assert_uint_eq(changed, 0);
	/* the devices see the old UIDLs */
	OK(state_view_build(db, dev, &st_defaults, 5, &v, &n));
	ck_assert_uint_eq(n, 5);
	ck_assert_str_eq(v[0].uidl, "UID-old-aaa");
	ck_assert_str_eq(v[1].uidl, "UID-old-bbb");
	ck_assert_str_eq(v[2].uidl, "00000003000003E8");
	state_view_free(v);

	/* a UIDL that is another message's: refused, nothing written */
	imp[0].message_id = st_msg_id(mb, 4);
	imp[0].old_uidl = "UID-new-ddd";
	imp[1].message_id = st_msg_id(mb, 3);
	imp[1].old_uidl = "UID-old-aaa";
	RC(state_import_uidls(db, imp, 2, &changed), STATE_EXISTS);
	OK(state_message_by_uid(db, mb, 4, &m));
	ck_assert_str_eq(m.old_uidl, "");
	imp[1].old_uidl = "00000005000003E8"; /* the default UIDL of UID 5 */
	RC(state_import_uidls(db, imp, 2, &changed), STATE_EXISTS);
	ck_assert_str_eq(state_errmsg(db), "import: UIDL '00000005000003E8' is already "
	    "another message's");
	OK(state_message_by_uid(db, mb, 4, &m));
	ck_assert_str_eq(m.old_uidl, "");   /* the first item was not kept either */

	/* UIDLs swapped between two messages in one batch: checked at the end */
	two(imp, st_msg_id(mb, 1), "UID-old-bbb", st_msg_id(mb, 2), "UID-old-aaa");
	OK(state_import_uidls(db, imp, 2, &changed));
	ck_assert_uint_eq(changed, 2);
	uidl_is(mb, 1, "UID-old-bbb");
	uidl_is(mb, 2, "UID-old-aaa");
	/* a message takes another's default UIDL while that one gets a new
	 * one: fine at the end of the batch */
	two(imp, st_msg_id(mb, 5), "UID-old-eee", st_msg_id(mb, 4), "00000005000003E8");
	OK(state_import_uidls(db, imp, 2, &changed));
	uidl_is(mb, 4, "00000005000003E8");
	uidl_is(mb, 5, "UID-old-eee");
	/* two items of one batch with one UIDL: a real duplicate, nothing written */
	two(imp, st_msg_id(mb, 1), "UID-dup", st_msg_id(mb, 3), "UID-dup");
	RC(state_import_uidls(db, imp, 2, &changed), STATE_EXISTS);
	ck_assert_uint_eq(changed, 0);
	uidl_is(mb, 1, "UID-old-bbb");
	uidl_is(mb, 3, "00000003000003E8");
	/* a swap that leaves one message on a UIDL a third one keeps */
	two(imp, st_msg_id(mb, 1), "UID-old-aaa", st_msg_id(mb, 2), "UID-old-eee");
	RC(state_import_uidls(db, imp, 2, &changed), STATE_EXISTS);
	uidl_is(mb, 1, "UID-old-bbb");
	uidl_is(mb, 2, "UID-old-aaa");
	/* put 1 and 2 back for what follows */
	two(imp, st_msg_id(mb, 1), "UID-old-aaa", st_msg_id(mb, 2), "UID-old-bbb");
	OK(state_import_uidls(db, imp, 2, &changed));
	imp[0].message_id = st_msg_id(mb, 4);
	imp[0].old_uidl = "UID-new-ddd";
	/* bad UIDLs */
	imp[1].old_uidl = "has space";
	RC(state_import_uidls(db, imp, 2, &changed), STATE_INVALID);
	imp[1].old_uidl = "";
	RC(state_import_uidls(db, imp, 2, &changed), STATE_INVALID);
	imp[1].message_id = 987654;
	imp[1].old_uidl = "x";
	RC(state_import_uidls(db, imp, 2, &changed), STATE_NOTFOUND);

	/* the imported UIDL survives a UIDVALIDITY change */
	{
		struct state_listing nw[5];
		struct st_keys nk[5];
		struct state_rematch_result r;

		for (int i = 0; i < 5; i++)
			nw[i] = st_item((uint32_t)i + 100, (unsigned)i + 1, 0, &nk[i]);
		OK(state_messages_rematch(db, mb, &(struct state_mailbox_status){ 3000, 200, 0 },
		    nw, 5, 9, &r));
		ck_assert_uint_eq(r.matched, 5);
		OK(state_message_by_uid(db, mb, 100, &m));
		ck_assert_str_eq(m.uidl, "UID-old-aaa");
	}
}
END_TEST

START_TEST(purge_gone)
{
	struct state_listing it[5];
	struct st_keys k[5];
	struct state_message m;
	uint32_t gone[2] = { 1, 2 };
	int64_t dev = st_device(acc, "pc"), id1, id2;
	size_t removed;

	old_mailbox(it, k);
	id1 = st_msg_id(mb, 1);
	id2 = st_msg_id(mb, 2);
	OK(state_journal_begin(db, dev, mb, "expunge", &id2, 1, NULL, 0, 10, NULL));
	OK(state_messages_gone(db, mb, gone, 2, 20));
	OK(state_messages_purge(db, mb, 21, &removed));
	/* message 2 is still in an unfinished journal entry */
	ck_assert_uint_eq(removed, 1);
	RC(state_message_get(db, id1, &m), STATE_NOTFOUND);
	OK(state_message_get(db, id2, &m));
	OK(state_messages_purge(db, mb, 20, &removed));
	ck_assert_uint_eq(removed, 0);
}
END_TEST

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

#define BIG 50000

START_TEST(fifty_thousand)
{
	struct state_listing *it = calloc(BIG, sizeof *it);
	struct st_keys *k = calloc(BIG, sizeof *k);
	struct state_mailbox_status s = { 777, BIG + 1, 0 };
	struct state_sync_result r;
	struct state_rematch_result rr;
	struct state_view_msg *v;
	struct timespec t0;
	int64_t dev = st_device(acc, "pc");
	size_t i, n;

	ck_assert_ptr_nonnull(it);
	ck_assert_ptr_nonnull(k);
	for (i = 0; i < BIG; i++)
		it[i] = st_item((uint32_t)i + 1, (unsigned)i + 1, 0, &k[i]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(state_messages_sync(db, mb, &s, it, BIG, true, 1, &r));
	printf("state: first sync of %d messages (with match keys): %.3f s\n", BIG,
	    seconds_since(&t0));
	ck_assert_uint_eq(r.added, BIG);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(state_messages_sync(db, mb, &s, it, BIG, true, 2, &r));
	printf("state: re-sync of %d known messages: %.3f s\n", BIG, seconds_since(&t0));
	ck_assert_uint_eq(r.updated, BIG);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(state_view_build(db, dev, &st_defaults, 3, &v, &n));
	printf("state: first view of %d messages (records offers): %.3f s\n", BIG,
	    seconds_since(&t0));
	ck_assert_uint_eq(n, BIG);
	state_view_free(v);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(state_view_build(db, dev, &st_defaults, 4, &v, &n));
	printf("state: later view of %d messages: %.3f s\n", BIG, seconds_since(&t0));
	state_view_free(v);
	for (i = 0; i < BIG; i++)
		it[i].uid = (uint32_t)(BIG - i);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	OK(state_messages_rematch(db, mb, &(struct state_mailbox_status){ 778, BIG + 1, 0 },
	    it, BIG, 5, &rr));
	printf("state: UIDVALIDITY re-match of %d messages: %.3f s\n", BIG,
	    seconds_since(&t0));
	ck_assert_uint_eq(rr.matched, BIG);
	ck_assert_uint_eq(rr.lost, 0);

	/* the other per-session operations at this size */
	{
		uint32_t *uids = malloc(BIG * sizeof *uids), *missing = malloc(BIG * sizeof *uids);
		struct state_uidl_import *imp = calloc(BIG, sizeof *imp);
		char (*old)[16] = calloc(BIG, sizeof *old);
		int64_t *ids = malloc(BIG * sizeof *ids), count;
		struct state_device d;
		size_t changed;

		ck_assert(uids != NULL && missing != NULL && imp != NULL && old != NULL &&
		    ids != NULL);
		for (i = 0; i < BIG; i++)
			uids[i] = (uint32_t)i + 1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(state_messages_unknown(db, mb, uids, BIG, missing, &n));
		printf("state: %d UID look-ups (state_messages_unknown): %.3f s\n", BIG,
		    seconds_since(&t0));
		ck_assert_uint_eq(n, 0);
		OK(state_view_build(db, dev, &st_defaults, 6, &v, &n));
		for (i = 0; i < n; i++)
			ids[i] = v[i].id;
		state_view_free(v);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < 1000; i++)
			OK(state_message_holders(db, ids[i * 37], &st_defaults, &count));
		printf("state: 1000 last-device holder counts: %.3f s\n", seconds_since(&t0));
		ck_assert_int_eq(count, 1);
		OK(state_device_set(db, dev, &(struct state_device_settings){ .window = 100 },
		    STATE_SET_WINDOW));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (i = 0; i < 1000; i++)
			OK(state_message_holders(db, ids[i * 37], &st_defaults, &count));
		printf("state: 1000 holder counts with window 100: %.3f s\n", seconds_since(&t0));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(state_journal_begin(db, dev, mb, "hide", ids, 10000, ids + 10000, 10000, 7,
		    NULL));
		printf("state: journal intent of 10,000 deletions + 10,000 seen: %.3f s\n",
		    seconds_since(&t0));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(state_device_update_counters(db, dev, &st_defaults, &d));
		printf("state: device counters over %d messages: %.3f s\n", BIG,
		    seconds_since(&t0));
		ck_assert_int_eq(d.deleted, 10000);
		ck_assert_int_eq(d.waiting, 100);
		for (i = 0; i < BIG; i++) {
			snprintf(old[i], sizeof old[0], "old%zu", i);
			imp[i].message_id = ids[i];
			imp[i].old_uidl = old[i];
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		OK(state_import_uidls(db, imp, BIG, &changed));
		printf("state: import of %d old UIDLs: %.3f s\n", BIG, seconds_since(&t0));
		ck_assert_uint_eq(changed, BIG);
		free(uids);
		free(missing);
		free(imp);
		free(old);
		free(ids);
	}
	free(it);
	free(k);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("state-messages");
	TCase *tc = tcase_create("messages");
	TCase *big = tcase_create("50k");

	tcase_add_checked_fixture(tc, msg_setup, st_teardown);
	tcase_add_test(tc, sync_and_lookup);
	tcase_add_test(tc, sync_rejects_bad_input);
	tcase_add_test(tc, unknown_and_gone);
	tcase_add_test(tc, exact_sizes_in_bulk);
	tcase_add_test(tc, rematch_keeps_uidls);
	tcase_add_test(tc, rematch_by_emailid_and_duplicates);
	tcase_add_test(tc, import_uidls);
	tcase_add_test(tc, purge_gone);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(big, msg_setup, st_teardown);
	tcase_set_timeout(big, 300);
	tcase_add_test(big, fifty_thousand);
	suite_add_tcase(s, big);
	return s;
}

int main(void)
{
	return st_run(suite());
}
