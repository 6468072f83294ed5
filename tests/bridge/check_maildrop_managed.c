/* tests/bridge/check_maildrop_managed.c — open() in managed mode (SPEC §2,
 * §5) against the real Dovecot: the device password names the device, the
 * stored upstream credentials log in, the wrong password or another device's
 * name is AUTH, and an upstream that refuses the stored credentials is PERM
 * with a detail for the administrator. */
#include "tests/bridge/check_maildrop.h"

#include <unistd.h>

#include <openssl/rand.h>

#include "bridge/base/clock.h"
#include "bridge/guard/gate.h"
#include "bridge/managed/password.h"
#include "bridge/managed/secret.h"

struct managed_fx {
	struct mdt_env e;
	struct managed_key key;
	char pw_scanner[PASSGEN_DIGITS + 1];
	char pw_pc[PASSGEN_DIGITS + 1];
	int64_t scanner_id;
};

static void add_device(struct state_db *db, int64_t account, const char *name, char *pw,
    int64_t *id)
{
	char hash[PASSGEN_HASH_STR_MAX];
	struct state_device d;
	ck_assert_int_eq(managed_password_new(pw, PASSGEN_DIGITS + 1), 0);
	ck_assert_int_eq(managed_password_hash(pw, hash, sizeof(hash)), 0);
	ck_assert_int_eq(state_device_add(db, account, name, NULL, hash, "INBOX", 1000, &d),
	    STATE_OK);
	if (id)
		*id = d.id;
}

/* Account "office" (upstream user `user`) with devices scanner and pc. */
static void fx_init(struct managed_fx *f, const char *user)
{
	char err[300];
	unsigned char blob[SECRET_BLOB_MAX];
	size_t blen = 0;
	int64_t acc;

	memset(f, 0, sizeof(*f));
	mdt_env_init(&f->e, user, "auth", "managed", NULL);
	ck_assert_int_eq(RAND_bytes(f->key.bytes, sizeof(f->key.bytes)), 1);
	memcpy(f->e.ctx.managed_key, f->key.bytes, sizeof(f->key.bytes));
	f->e.ctx.has_managed_key = true;
	struct state_db *db = state_open(f->e.db, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	ck_assert_int_eq(managed_seal(&f->key, "office", (const unsigned char *)MDT_PASS,
	    strlen(MDT_PASS), blob, sizeof(blob), &blen, err, sizeof(err)), 0);
	ck_assert_int_eq(state_account_add(db, "office", STATE_AUTH_MANAGED, user, blob, blen,
	    1000, &acc), STATE_OK);
	add_device(db, acc, "scanner", f->pw_scanner, &f->scanner_id);
	add_device(db, acc, "pc", f->pw_pc, NULL);
	state_close(db);
}

START_TEST(t_managed_login)
{
	struct managed_fx f;
	struct mdt_sess s, p;

	fx_init(&f, "mgd1");
	mdt_deliver(f.e.user, 3000, PBT_MSG_PLAIN, "", NULL);
	mdt_deliver(f.e.user, 3001, PBT_MSG_PLAIN, "", NULL);
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office", f.pw_scanner), POP3_MD_OK);
	ck_assert_str_eq(s.conn.account, "office");
	ck_assert_str_eq(s.conn.device, "scanner");
	ck_assert_uint_eq(mdt_count(&s), 2);
	/* The scanner is busy; the pc logs in with its own password. */
	ck_assert_int_eq(mdt_open_as(&f.e, &p, "office", f.pw_scanner), POP3_MD_IN_USE);
	ck_assert_int_eq(mdt_open_as(&f.e, &p, "office", f.pw_pc), POP3_MD_OK);
	ck_assert_str_eq(p.conn.device, "pc");
	size_t del = 0;
	mdt_commit(&s, &del, 1);
	mdt_close(&s);
	mdt_close(&p);
	/* Per-device state as in passthrough. */
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office#scanner", f.pw_scanner), POP3_MD_OK);
	ck_assert_uint_eq(mdt_count(&s), 1);
	mdt_close(&s);
	mdt_env_free(&f.e);
}
END_TEST

START_TEST(t_managed_refusals)
{
	struct managed_fx f;
	struct mdt_sess s;
	char err[300];

	fx_init(&f, "mgd2");
	/* The upstream password is not a device password. */
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office", MDT_PASS), POP3_MD_AUTH);
	ck_assert_uint_eq(s.reply.delay_ms, 2000);
	char text[sizeof(s.reply.text)];
	strcpy(text, s.reply.text);
	/* Another device's name with this password, an unknown account. */
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office#pc", f.pw_scanner), POP3_MD_AUTH);
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "nobody", f.pw_scanner), POP3_MD_AUTH);
	ck_assert_str_eq(s.reply.text, text);
	/* A revoked device. */
	struct state_db *db = state_open(f.e.db, err, sizeof(err));
	ck_assert_int_eq(state_device_revoke(db, f.scanner_id, true), STATE_OK);
	state_close(db);
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office", f.pw_scanner), POP3_MD_AUTH);
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office", f.pw_pc), POP3_MD_OK);
	mdt_close(&s);
	/* Without the key there is no managed login at all. */
	f.e.ctx.has_managed_key = false;
	ck_assert_int_eq(mdt_open_as(&f.e, &s, "office", f.pw_pc), POP3_MD_PERM);
	f.e.ctx.has_managed_key = true;
	mdt_env_free(&f.e);
}
END_TEST

START_TEST(t_managed_upstream_refuses)
{
	struct managed_fx f;
	struct mdt_sess s;

	fx_init(&f, "mgd3");
	ck_assert_int_eq(pbt_dovecot_set_password(dc, f.e.user, "changed-upstream"), 0);
	/* Dovecot re-reads its passwd file at most once a second. */
	enum pop3_md_status st = POP3_MD_OK;
	for (int i = 0; i < 30; i++) {
		st = mdt_open_as(&f.e, &s, "office", f.pw_pc);
		if (st != POP3_MD_OK)
			break;
		mdt_close(&s);
		usleep(200 * 1000);
	}
	ck_assert_int_eq(st, POP3_MD_PERM);
	ck_assert_ptr_null(s.md);
	ck_assert_ptr_nonnull(strstr(s.conn.detail, "stored credentials"));
	/* The device's password was right: no failed-login delay. */
	ck_assert_uint_eq(s.reply.delay_ms, 0);
	ck_assert_uint_eq(maildrop_devlocks_count(f.e.ctx.devlocks), 0);
	ck_assert_int_eq(pbt_dovecot_set_password(dc, f.e.user, MDT_PASS), 0);
	mdt_env_free(&f.e);
}
END_TEST

/* SPEC §13: password checks run at most as many at once as the gate
 * allows; a login still waiting for one at its login deadline is answered
 * [SYS/TEMP] (not a failed login), and holds nothing. */
START_TEST(t_managed_hash_gate_busy)
{
	struct managed_fx f;
	struct mdt_sess s;
	const struct pop3_credentials cred = {
		.user = "office", .password = NULL, .mechanism = "USER",
		.remote_addr = "127.0.0.1", .tls_version = NULL,
	};
	struct pop3_credentials c = cred;

	fx_init(&f, "mgd4");
	c.password = f.pw_pc;
	f.e.ctx.hash_gate = guard_gate_new(1);
	ck_assert_ptr_nonnull(f.e.ctx.hash_gate);
	ck_assert_int_eq(guard_gate_enter(f.e.ctx.hash_gate, 0), 0);   /* every slot busy */
	memset(&s, 0, sizeof(s));
	maildrop_conn_init(&s.conn, &f.e.ctx, "127.0.0.1", NULL);
	uint64_t t0 = base_clock_ms(NULL);
	s.conn.login_deadline_ms = t0 + 300;
	ck_assert_int_eq(maildrop_ops.open(&s.conn, &c, &s.md, &s.reply), POP3_MD_TEMP);
	ck_assert_uint_ge(base_clock_ms(NULL), t0 + 250);
	ck_assert_ptr_null(s.md);
	ck_assert_uint_eq(s.reply.delay_ms, 0);
	ck_assert_ptr_nonnull(strstr(s.conn.detail, "password checks busy"));
	ck_assert_uint_eq(guard_throttle_addr_failures(f.e.ctx.throttle, "127.0.0.1"), 0);
	ck_assert_uint_eq(guard_gate_busy(f.e.ctx.hash_gate), 1);
	ck_assert_uint_eq(maildrop_devlocks_count(f.e.ctx.devlocks), 0);
	/* A free slot lets the same login in. */
	guard_gate_leave(f.e.ctx.hash_gate);
	memset(&s, 0, sizeof(s));
	maildrop_conn_init(&s.conn, &f.e.ctx, "127.0.0.1", NULL);
	s.conn.login_deadline_ms = base_clock_ms(NULL) + 30000;
	ck_assert_int_eq(maildrop_ops.open(&s.conn, &c, &s.md, &s.reply), POP3_MD_OK);
	ck_assert_uint_eq(guard_gate_busy(f.e.ctx.hash_gate), 0);
	mdt_close(&s);
	guard_gate_free(f.e.ctx.hash_gate);
	f.e.ctx.hash_gate = NULL;
	mdt_env_free(&f.e);
}
END_TEST

static Suite *managed_suite(void)
{
	Suite *s = suite_create("maildrop-managed");
	TCase *tc = tcase_create("managed");
	tcase_add_unchecked_fixture(tc, mdt_dc_setup, mdt_dc_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_managed_login);
	tcase_add_test(tc, t_managed_refusals);
	tcase_add_test(tc, t_managed_upstream_refuses);
	tcase_add_test(tc, t_managed_hash_gate_busy);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(managed_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
