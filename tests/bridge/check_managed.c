/* tests/bridge/check_managed.c — managed_authenticate against a real SQLite
 * state file: the right device among several, every failure the same
 * MANAGED_AUTH, a wrong key or an altered blob MANAGED_ERROR. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "bridge/managed/login.h"
#include "bridge/managed/password.h"
#include "bridge/managed/secret.h"
#include "state/state.h"
#include "tests/lib/cert.h"
#include "tests/lib/testutil.h"

#define UPSTREAM_PW "Upstream-Secret-42!"
#define N_DEV 3

static char dir[256];
static char dbpath[512];
static char keypath[512];
static char err[512];
static struct state_db *db;
static struct managed_key key;
static char pw[N_DEV][PASSGEN_DIGITS + 1];
static int64_t dev_id[N_DEV];
static int64_t acc_id;
static const char *const dev_name[N_DEV] = { "pc", "scanner", "phone" };

static void add_managed(const char *name, const char *user, const char *secret,
    int64_t *id)
{
	unsigned char blob[SECRET_BLOB_MAX];
	size_t blen = 0;
	ck_assert_msg(managed_seal(&key, name, (const unsigned char *)secret, strlen(secret),
	    blob, sizeof(blob), &blen, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(state_account_add(db, name, STATE_AUTH_MANAGED, user, blob, blen,
	    1000, id), STATE_OK);
}

static void add_device(int64_t account, const char *name, char *password, int64_t *id)
{
	char hash[PASSGEN_HASH_STR_MAX];
	struct state_device d;
	ck_assert_int_eq(managed_password_new(password, PASSGEN_DIGITS + 1), 0);
	ck_assert_int_eq(managed_password_hash(password, hash, sizeof(hash)), 0);
	ck_assert_int_eq(state_device_add(db, account, name, NULL, hash, "INBOX", 1000, &d),
	    STATE_OK);
	*id = d.id;
}

static void setup(void)
{
	int created = 0;
	ck_assert_int_eq(pbt_mkdtemp("managed", dir, sizeof(dir)), 0);
	snprintf(dbpath, sizeof(dbpath), "%s/state.db", dir);
	snprintf(keypath, sizeof(keypath), "%s/state.db.key", dir);
	ck_assert_msg(managed_key_load_or_create(keypath, &key, &created, err,
	    sizeof(err)) == 0, "%s", err);
	db = state_open(dbpath, err, sizeof(err));
	ck_assert_msg(db != NULL, "%s", err);
	add_managed("alice@example.org", "alice", UPSTREAM_PW, &acc_id);
	for (int i = 0; i < N_DEV; i++)
		add_device(acc_id, dev_name[i], pw[i], &dev_id[i]);
}

static void teardown(void)
{
	state_close(db);
	managed_key_clear(&key);
	pbt_rmtree(dir);
}

static int auth(const char *account, const char *password, struct managed_login *out)
{
	err[0] = '\0';
	return managed_authenticate(db, key.bytes, account, password, out, err, sizeof(err));
}

static void assert_cleared(const struct managed_login *l)
{
	ck_assert_int_eq(l->device_id, 0);
	ck_assert_int_eq(l->account_id, 0);
	ck_assert_str_eq(l->upstream_password, "");
	ck_assert_str_eq(l->device, "");
}

START_TEST(each_device_found_by_its_password)
{
	for (int i = 0; i < N_DEV; i++) {
		struct managed_login l;
		ck_assert_msg(auth("alice@example.org", pw[i], &l) == MANAGED_OK, "%s", err);
		ck_assert_int_eq(l.account_id, acc_id);
		ck_assert_int_eq(l.device_id, dev_id[i]);
		ck_assert_str_eq(l.device, dev_name[i]);
		ck_assert_str_eq(l.upstream_user, "alice");
		ck_assert_str_eq(l.upstream_password, UPSTREAM_PW);
		managed_login_clear(&l);
		assert_cleared(&l);
	}
}
END_TEST

START_TEST(failures_are_auth_with_one_text)
{
	struct managed_login l;
	char other[PASSGEN_DIGITS + 1];
	ck_assert_int_eq(managed_password_new(other, sizeof(other)), 0);

	ck_assert_int_eq(auth("alice@example.org", other, &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
	assert_cleared(&l);
	/* the upstream password is not a device password */
	ck_assert_int_eq(auth("alice@example.org", UPSTREAM_PW, &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
	ck_assert_int_eq(auth("nobody@example.org", pw[0], &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
	assert_cleared(&l);
	ck_assert_int_eq(auth("alice@example.org", "", &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
	ck_assert_int_eq(auth("bad\001name", pw[0], &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
	ck_assert_int_eq(auth(NULL, pw[0], &l), MANAGED_AUTH);
	char longpw[PASSGEN_PASSWORD_MAX + 50];
	memset(longpw, '7', sizeof(longpw) - 1);
	longpw[sizeof(longpw) - 1] = '\0';
	ck_assert_int_eq(auth("alice@example.org", longpw, &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
}
END_TEST

START_TEST(other_accounts_devices_refused)
{
	int64_t bob, bob_dev;
	char bob_pw[PASSGEN_DIGITS + 1];
	struct managed_login l;
	add_managed("bob@example.org", "bob", "bob-upstream", &bob);
	add_device(bob, "pc", bob_pw, &bob_dev);
	ck_assert_int_eq(auth("alice@example.org", bob_pw, &l), MANAGED_AUTH);
	ck_assert_int_eq(auth("bob@example.org", pw[0], &l), MANAGED_AUTH);
	ck_assert_int_eq(auth("bob@example.org", bob_pw, &l), MANAGED_OK);
	ck_assert_int_eq(l.device_id, bob_dev);
	ck_assert_str_eq(l.upstream_password, "bob-upstream");
	managed_login_clear(&l);
}
END_TEST

START_TEST(revoked_device_refused_others_not)
{
	struct managed_login l;
	ck_assert_int_eq(state_device_revoke(db, dev_id[1], true), STATE_OK);
	ck_assert_int_eq(auth("alice@example.org", pw[1], &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
	assert_cleared(&l);
	ck_assert_int_eq(auth("alice@example.org", pw[2], &l), MANAGED_OK);
	ck_assert_int_eq(l.device_id, dev_id[2]);
	managed_login_clear(&l);
	ck_assert_int_eq(state_device_revoke(db, dev_id[1], false), STATE_OK);
	ck_assert_int_eq(auth("alice@example.org", pw[1], &l), MANAGED_OK);
	ck_assert_int_eq(l.device_id, dev_id[1]);
	managed_login_clear(&l);
}
END_TEST

START_TEST(passthrough_account_refused)
{
	struct managed_login l;
	struct state_account a;
	struct state_device d;
	char hash[PASSGEN_HASH_STR_MAX];
	ck_assert_int_eq(state_account_ensure(db, "carol@example.org", 1000, &a), STATE_OK);
	ck_assert_int_eq(managed_password_hash("12345678901234567890", hash, sizeof(hash)), 0);
	ck_assert_int_eq(state_device_add(db, a.id, "pc", NULL, hash, "INBOX", 1000, &d),
	    STATE_OK);
	ck_assert_int_eq(auth("carol@example.org", "12345678901234567890", &l), MANAGED_AUTH);
	ck_assert_str_eq(err, MANAGED_AUTH_TEXT);
}
END_TEST

START_TEST(wrong_key_is_error)
{
	struct managed_login l;
	struct managed_key good = key;
	key.bytes[5] ^= 0x40;
	ck_assert_int_eq(auth("alice@example.org", pw[0], &l), MANAGED_ERROR);
	ck_assert_int_eq(l.error_temporary, 0);
	ck_assert_ptr_null(strstr(err, UPSTREAM_PW));
	ck_assert_ptr_nonnull(strstr(err, "wrong key"));
	assert_cleared(&l);
	/* a wrong password stays AUTH whatever the key */
	ck_assert_int_eq(auth("alice@example.org", "00000000000000000000", &l), MANAGED_AUTH);
	key = good;
	managed_key_clear(&good);
}
END_TEST

START_TEST(tampered_blob_is_error)
{
	struct state_account a;
	struct managed_login l;
	ck_assert_int_eq(state_account_get(db, "alice@example.org", &a), STATE_OK);
	a.secret[a.secret_len - 3] ^= 0x01;
	ck_assert_int_eq(state_account_set_credentials(db, a.id, STATE_AUTH_MANAGED,
	    a.upstream_user, a.secret, a.secret_len), STATE_OK);
	ck_assert_int_eq(auth("alice@example.org", pw[0], &l), MANAGED_ERROR);
	ck_assert_int_eq(l.error_temporary, 0);
	assert_cleared(&l);

	/* a blob sealed for another account does not open here either */
	unsigned char blob[SECRET_BLOB_MAX];
	size_t blen = 0;
	ck_assert_int_eq(managed_seal(&key, "bob@example.org",
	    (const unsigned char *)UPSTREAM_PW, strlen(UPSTREAM_PW), blob, sizeof(blob),
	    &blen, err, sizeof(err)), 0);
	ck_assert_int_eq(state_account_set_credentials(db, a.id, STATE_AUTH_MANAGED,
	    a.upstream_user, blob, blen), STATE_OK);
	ck_assert_int_eq(auth("alice@example.org", pw[0], &l), MANAGED_ERROR);
}
END_TEST

START_TEST(device_without_hash_never_matches)
{
	struct managed_login l;
	struct state_device d;
	ck_assert_int_eq(state_device_add(db, acc_id, "nohash", NULL, NULL, "INBOX", 1000, &d),
	    STATE_OK);
	ck_assert_int_eq(auth("alice@example.org", "", &l), MANAGED_AUTH);
	ck_assert_int_eq(auth("alice@example.org", pw[0], &l), MANAGED_OK);
	managed_login_clear(&l);
}
END_TEST

/* The unknown account must do the work of the floor: at least
 * MANAGED_VERIFY_FLOOR scrypt runs. One run is timed first on this machine,
 * and only a lower bound is asserted (never a speed). */
START_TEST(unknown_account_costs_the_floor)
{
	struct managed_login l;
	double one = 1e9, t0;
	for (int i = 0; i < 3; i++) {
		t0 = pbt_now();
		(void)managed_password_verify_dummy("x");
		if (pbt_now() - t0 < one)
			one = pbt_now() - t0;
	}
	t0 = pbt_now();
	ck_assert_int_eq(auth("nobody@example.org", "12345", &l), MANAGED_AUTH);
	double unknown = pbt_now() - t0;
	ck_assert_msg(unknown >= 0.5 * MANAGED_VERIFY_FLOOR * one,
	    "unknown account took %.3fs, one scrypt run %.3fs", unknown, one);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("managed");
	TCase *tc = tcase_create("authenticate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, each_device_found_by_its_password);
	tcase_add_test(tc, failures_are_auth_with_one_text);
	tcase_add_test(tc, other_accounts_devices_refused);
	tcase_add_test(tc, revoked_device_refused_others_not);
	tcase_add_test(tc, passthrough_account_refused);
	tcase_add_test(tc, wrong_key_is_error);
	tcase_add_test(tc, tampered_blob_is_error);
	tcase_add_test(tc, device_without_hash_never_matches);
	tcase_add_test(tc, unknown_account_costs_the_floor);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
