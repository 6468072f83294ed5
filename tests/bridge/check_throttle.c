/* tests/bridge/check_throttle.c — the failed-login delay (2, 4, 8, 15, 15
 * per address and account, the admission queue, the address grace, a full
 * table, and its resets, on an injected clock: nothing sleeps), the address key,
 * the device locks under contention from threads, and session counting. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/addrkey.h"
#include "bridge/guard/throttle.h"
#include "bridge/maildrop/devlock.h"
#include "bridge/serve/sessions.h"
#include "state/state.h"
#include "tests/bridge/bt.h"

static uint64_t fake_now;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* ---- throttle ---------------------------------------------------------------- */

static void fake_sleep(void *arg, unsigned ms)
{
	(void)arg;
	fake_now += ms;
}

static struct guard_throttle *new_throttle(size_t capacity)
{
	struct guard_throttle *t = guard_throttle_new(capacity, fake_clock, fake_sleep, NULL);
	ck_assert_ptr_nonnull(t);
	return t;
}

START_TEST(test_sequence)
{
	struct guard_throttle *t = new_throttle(16);
	fake_now = 1000000;
	const unsigned want[] = { 2000, 4000, 8000, 15000, 15000, 15000 };
	for (int i = 0; i < 6; i++) {
		/* The check waits for the delay the previous failure earned... */
		ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.1", "alice"), i ? want[i - 1] : 0);
		fake_now += i ? want[i - 1] : 0;
		/* ...and the failure is answered after its own. */
		ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.1", "alice"), want[i]);
	}
	ck_assert_uint_eq(guard_throttle_failures(t, "192.0.2.1", "alice"), 6);
	/* another address, or another account, is not affected */
	ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.2", "alice"), 2000);
	ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.1", "bob"), 0);
	ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.1", "bob"), 2000);
	ck_assert_uint_eq(guard_throttle_failures(t, "192.0.2.3", "alice"), 0);
	/* many more failures: still capped, no overflow */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.1", "alice"), 15000);
	guard_throttle_free(t);
}
END_TEST

START_TEST(test_success_resets_the_pair_only)
{
	struct guard_throttle *t = new_throttle(16);
	fake_now = 5000;
	guard_throttle_failure(t, "192.0.2.1", "victim");
	guard_throttle_failure(t, "192.0.2.1", "victim");
	ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.1", "victim"), 8000);
	/* The attacker logs in to an account of its own from the same address:
	 * the victim's count stays. */
	guard_throttle_success(t, "192.0.2.1", "mine");
	ck_assert_uint_eq(guard_throttle_failures(t, "192.0.2.1", "victim"), 3);
	ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.1", "victim"), 15000);
	/* The victim's own success resets the pair, not the address. */
	guard_throttle_success(t, "192.0.2.1", "victim");
	ck_assert_uint_eq(guard_throttle_failures(t, "192.0.2.1", "victim"), 0);
	ck_assert_uint_eq(guard_throttle_addr_failures(t, "192.0.2.1"), 4);
	ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.1", "victim"), 2000);
	guard_throttle_free(t);
}
END_TEST

START_TEST(test_quiet_period_resets)
{
	struct guard_throttle *t = new_throttle(16);
	fake_now = 10;
	guard_throttle_failure(t, "198.51.100.4", "a");
	guard_throttle_failure(t, "198.51.100.4", "a");
	/* 15 minutes less 1 ms after the last failure: still counted */
	fake_now += GUARD_THROTTLE_RESET_MS - 1;
	ck_assert_uint_eq(guard_throttle_failure(t, "198.51.100.4", "a"), 8000);
	/* failures keep it alive: measured from the last one */
	fake_now += GUARD_THROTTLE_RESET_MS - 1;
	ck_assert_uint_eq(guard_throttle_failures(t, "198.51.100.4", "a"), 3);
	/* exactly 15 minutes without a failure: starts over */
	fake_now += 1;
	ck_assert_uint_eq(guard_throttle_failures(t, "198.51.100.4", "a"), 0);
	ck_assert_uint_eq(guard_throttle_addr_failures(t, "198.51.100.4"), 0);
	ck_assert_uint_eq(guard_throttle_size(t), 0);
	ck_assert_uint_eq(guard_throttle_failure(t, "198.51.100.4", "a"), 2000);
	guard_throttle_free(t);
}
END_TEST

/* Parallel attempts on one pair queue behind each other: each admission
 * reserves the next start, and a queue longer than the longest delay is
 * refused instead of joined. */
START_TEST(test_admission_serialises)
{
	struct guard_throttle *t = new_throttle(16);
	fake_now = 1000;
	guard_throttle_failure(t, "192.0.2.8", "alice");
	guard_throttle_failure(t, "192.0.2.8", "alice");   /* next check at +4 s */
	ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.8", "alice"), 4000);
	ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.8", "alice"), 8000);
	ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.8", "alice"), 12000);
	/* 16 s would be past the longest delay: refused, nothing reserved */
	ck_assert_uint_gt(guard_throttle_admit(t, "192.0.2.8", "alice"), GUARD_THROTTLE_MAX_MS);
	ck_assert_uint_gt(guard_throttle_admit(t, "192.0.2.8", "alice"), GUARD_THROTTLE_MAX_MS);
	/* other accounts from the address are not queued (under the grace) */
	ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.8", "bob"), 0);
	/* once the queue has drained, a try is admitted again */
	fake_now += 16000;
	ck_assert_uint_eq(guard_throttle_admit(t, "192.0.2.8", "alice"), 0);
	guard_throttle_free(t);
}
END_TEST

/* An address spraying many accounts earns a delay of its own after
 * GUARD_ADDR_GRACE failures, whatever account it tries next. */
START_TEST(test_address_grace)
{
	struct guard_throttle *t = new_throttle(64);
	char acc[32];
	fake_now = 77;
	for (int i = 0; i < GUARD_ADDR_GRACE; i++) {
		snprintf(acc, sizeof(acc), "user%d", i);
		ck_assert_uint_eq(guard_throttle_admit(t, "203.0.113.5", acc), 0);
		ck_assert_uint_eq(guard_throttle_failure(t, "203.0.113.5", acc), 2000);
	}
	ck_assert_uint_eq(guard_throttle_admit(t, "203.0.113.5", "fresh"), 0);
	guard_throttle_failure(t, "203.0.113.5", "user-last");   /* grace + 1 */
	ck_assert_uint_eq(guard_throttle_admit(t, "203.0.113.5", "fresh2"), 2000);
	/* another address is free */
	ck_assert_uint_eq(guard_throttle_admit(t, "203.0.113.6", "fresh2"), 0);
	guard_throttle_free(t);
}
END_TEST

/* A full table evicts nothing live: a failure it cannot remember is
 * answered after the longest delay, so rotating addresses neither washes
 * out an entry nor escapes the delay. */
START_TEST(test_full_table_evicts_nothing)
{
	struct guard_throttle *t = new_throttle(4);   /* two addresses' pairs */
	fake_now = 100;
	ck_assert_uint_eq(guard_throttle_failure(t, "203.0.113.1", "a"), 2000);
	ck_assert_uint_eq(guard_throttle_failure(t, "203.0.113.2", "a"), 2000);
	ck_assert_uint_eq(guard_throttle_size(t), 4);
	for (int i = 3; i < 50; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "203.0.113.%d", i);
		ck_assert_uint_eq(guard_throttle_failure(t, addr, "a"), GUARD_THROTTLE_MAX_MS);
	}
	ck_assert_uint_eq(guard_throttle_size(t), 4);
	ck_assert_uint_eq(guard_throttle_failures(t, "203.0.113.1", "a"), 1);
	ck_assert_uint_eq(guard_throttle_failure(t, "203.0.113.1", "a"), 4000);
	/* expired entries make room */
	fake_now += GUARD_THROTTLE_RESET_MS;
	ck_assert_uint_eq(guard_throttle_size(t), 0);
	ck_assert_uint_eq(guard_throttle_failure(t, "203.0.113.9", "a"), 2000);
	guard_throttle_free(t);
}
END_TEST

START_TEST(test_ipv6_by_prefix)
{
	struct guard_throttle *t = new_throttle(16);
	fake_now = 1;
	ck_assert_uint_eq(guard_throttle_failure(t, "2001:db8:1:2::1", "a"), 2000);
	ck_assert_uint_eq(guard_throttle_failure(t, "2001:db8:1:2:ffff::7", "a"), 4000);  /* same /64 */
	ck_assert_uint_eq(guard_throttle_failure(t, "2001:db8:1:3::1", "a"), 2000);       /* another */
	ck_assert_uint_eq(guard_throttle_failure(t, "::ffff:192.0.2.5", "a"), 2000);
	ck_assert_uint_eq(guard_throttle_failure(t, "192.0.2.5", "a"), 4000);             /* mapped */
	guard_throttle_success(t, "2001:db8:1:2::abcd", "a");
	ck_assert_uint_eq(guard_throttle_failures(t, "2001:db8:1:2::1", "a"), 0);
	/* account names count to GUARD_ACCOUNT_MAX octets */
	char longa[GUARD_ACCOUNT_MAX + 10], longb[GUARD_ACCOUNT_MAX + 10];
	memset(longa, 'x', sizeof(longa) - 1);
	longa[sizeof(longa) - 1] = 0;
	memcpy(longb, longa, sizeof(longb));
	longb[GUARD_ACCOUNT_MAX + 5] = 'y';
	guard_throttle_failure(t, "192.0.2.77", longa);
	ck_assert_uint_eq(guard_throttle_failures(t, "192.0.2.77", longb), 1);
	guard_throttle_free(t);
}
END_TEST

START_TEST(test_addrkey)
{
	struct base_addrkey k;
	base_addrkey_make("192.0.2.1", &k);
	ck_assert_str_eq(k.s, "192.0.2.1");
	base_addrkey_make("2001:db8:aa:bb:cc:dd:ee:ff", &k);
	ck_assert_str_eq(k.s, "2001:db8:aa:bb::/64");
	base_addrkey_make("::1", &k);
	ck_assert_str_eq(k.s, "::/64");
	base_addrkey_make("::ffff:10.1.2.3", &k);
	ck_assert_str_eq(k.s, "10.1.2.3");
	base_addrkey_make("unix-socket-peer", &k);
	ck_assert_str_eq(k.s, "unix-socket-peer");
	char longname[200];
	memset(longname, 'z', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	base_addrkey_make(longname, &k);
	ck_assert_uint_eq(strlen(k.s), PB_ADDRKEY_MAX - 1);
}
END_TEST

/* The plaintext-login rule's loopback exemption (SPEC §6): 127.0.0.0/8,
 * ::1 and IPv4-mapped 127/8 only; anything else, or no address, is not. */
START_TEST(test_addr_loopback)
{
	static const char *const yes[] = { "127.0.0.1", "127.255.0.9", "::1",
		"::ffff:127.0.0.1", "0:0:0:0:0:0:0:1" };
	static const char *const no[] = { "10.0.0.1", "128.0.0.1", "126.255.255.255",
		"0.0.0.0", "::", "::2", "::ffff:10.0.0.1", "::127.0.0.1", "fe80::1",
		"2001:db8::1", "localhost", "", "127.0.0.1 ", "unix-socket-peer" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(base_addr_is_loopback(yes[i]), "%s", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(!base_addr_is_loopback(no[i]), "%s", no[i]);
	ck_assert(!base_addr_is_loopback(NULL));
}
END_TEST

#define TTHREADS 8

static struct guard_throttle *shared_t;

static void *fail_many(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		guard_throttle_failure(shared_t, "192.0.2.200", "a");
	return NULL;
}

START_TEST(test_throttle_threads)
{
	pthread_t th[TTHREADS];
	fake_now = 50;
	shared_t = new_throttle(8);
	for (int i = 0; i < TTHREADS; i++)
		pthread_create(&th[i], NULL, fail_many, NULL);
	for (int i = 0; i < TTHREADS; i++)
		pthread_join(th[i], NULL);
	/* the count saturates at 32; none lost below that */
	ck_assert_uint_eq(guard_throttle_failures(shared_t, "192.0.2.200", "a"), 32);
	ck_assert_uint_eq(guard_throttle_size(shared_t), 2);
	guard_throttle_free(shared_t);
}
END_TEST

/* ---- device locks ------------------------------------------------------------ */

START_TEST(test_devlock_basic)
{
	struct maildrop_devlocks *t = maildrop_devlocks_new();
	struct maildrop_devlock a, b, c, d;
	ck_assert_int_eq(maildrop_devlock_acquire(t, "alice", "pc", &a), PB_DEVLOCK_OK);
	ck_assert(maildrop_devlock_held(&a));
	ck_assert_int_eq(maildrop_devlock_acquire(t, "alice", "pc", &b), PB_DEVLOCK_IN_USE);
	ck_assert(!maildrop_devlock_held(&b));
	ck_assert_int_eq(maildrop_devlock_acquire(t, "ALICE", "PC", &b), PB_DEVLOCK_IN_USE);
	/* other devices of the account, and the same device name elsewhere */
	ck_assert_int_eq(maildrop_devlock_acquire(t, "alice", "phone", &c), PB_DEVLOCK_OK);
	ck_assert_int_eq(maildrop_devlock_acquire(t, "bob", "pc", &d), PB_DEVLOCK_OK);
	/* "a" + "b\0c" must not collide with "a\0b" + "c": names hold no NUL,
	 * and the key separates them */
	struct maildrop_devlock e, f;
	ck_assert_int_eq(maildrop_devlock_acquire(t, "ab", "c", &e), PB_DEVLOCK_OK);
	ck_assert_int_eq(maildrop_devlock_acquire(t, "a", "bc", &f), PB_DEVLOCK_OK);
	ck_assert_uint_eq(maildrop_devlocks_count(t), 5);
	maildrop_devlock_release(&a);
	ck_assert(!maildrop_devlock_held(&a));
	maildrop_devlock_release(&a);   /* a second release does nothing */
	maildrop_devlock_release(&b);   /* never held: nothing */
	ck_assert_uint_eq(maildrop_devlocks_count(t), 4);
	ck_assert_int_eq(maildrop_devlock_acquire(t, "alice", "pc", &a), PB_DEVLOCK_OK);
	maildrop_devlock_release(&a);
	maildrop_devlock_release(&c);
	maildrop_devlock_release(&d);
	maildrop_devlock_release(&e);
	maildrop_devlock_release(&f);
	ck_assert_uint_eq(maildrop_devlocks_count(t), 0);
	/* invalid names */
	char big[STATE_ACCOUNT_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	ck_assert_int_eq(maildrop_devlock_acquire(t, "", "pc", &a), PB_DEVLOCK_INVALID);
	ck_assert_int_eq(maildrop_devlock_acquire(t, "a", "", &a), PB_DEVLOCK_INVALID);
	ck_assert_int_eq(maildrop_devlock_acquire(t, big, "pc", &a), PB_DEVLOCK_INVALID);
	ck_assert(!maildrop_devlock_held(&a));
	maildrop_devlocks_free(t);
}
END_TEST

#define DTHREADS 16
#define DROUNDS 2000

static struct maildrop_devlocks *shared_locks;
static atomic_int inside[3];       /* holders of each device right now */
static atomic_int max_inside[3];
static atomic_int acquired[3], refused[3];

static void *contend(void *arg)
{
	long id = (long)arg;
	const char *devices[3] = { "scanner", "pc", "phone" };
	for (int r = 0; r < DROUNDS; r++) {
		int dv = (int)((id + r) % 3);
		struct maildrop_devlock h;
		enum maildrop_devlock_result res = maildrop_devlock_acquire(shared_locks, "office",
		    devices[dv], &h);
		if (res == PB_DEVLOCK_IN_USE) {
			atomic_fetch_add(&refused[dv], 1);
			continue;
		}
		ck_assert_int_eq(res, PB_DEVLOCK_OK);
		atomic_fetch_add(&acquired[dv], 1);
		int now = atomic_fetch_add(&inside[dv], 1) + 1;
		int m = atomic_load(&max_inside[dv]);
		while (now > m && !atomic_compare_exchange_weak(&max_inside[dv], &m, now))
			;
		for (volatile int spin = 0; spin < 200; spin++)
			;
		atomic_fetch_sub(&inside[dv], 1);
		maildrop_devlock_release(&h);
		maildrop_devlock_release(&h);   /* harmless */
	}
	return NULL;
}

START_TEST(test_devlock_contention)
{
	pthread_t th[DTHREADS];
	shared_locks = maildrop_devlocks_new();
	for (long i = 0; i < DTHREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, contend, (void *)i), 0);
	for (int i = 0; i < DTHREADS; i++)
		pthread_join(th[i], NULL);
	int total = 0;
	for (int d = 0; d < 3; d++) {
		ck_assert_int_eq(atomic_load(&max_inside[d]), 1);   /* never two holders */
		ck_assert_int_gt(atomic_load(&acquired[d]), 0);
		total += atomic_load(&acquired[d]) + atomic_load(&refused[d]);
	}
	ck_assert_int_eq(total, DTHREADS * DROUNDS);
	ck_assert_uint_eq(maildrop_devlocks_count(shared_locks), 0);  /* all released */
	maildrop_devlocks_free(shared_locks);
}
END_TEST

/* ---- session counting -------------------------------------------------------- */

START_TEST(test_sessions_limits)
{
	struct serve_sessions *s = serve_sessions_new(4, 2);
	struct serve_session_slot sl[8];
	/* Sessions here log in at once: the pre-login share is test_pre_login's. */
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.1", &sl[0]), PB_ADMIT_OK);
	serve_sessions_logged_in(&sl[0]);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.1", &sl[1]), PB_ADMIT_OK);
	serve_sessions_logged_in(&sl[1]);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.1", &sl[2]), PB_ADMIT_IP_FULL);
	ck_assert_int_eq(serve_sessions_enter(s, "2001:db8::1", &sl[3]), PB_ADMIT_OK);
	serve_sessions_logged_in(&sl[3]);
	ck_assert_int_eq(serve_sessions_enter(s, "2001:db8::2", &sl[4]), PB_ADMIT_OK);
	serve_sessions_logged_in(&sl[4]);
	ck_assert_int_eq(serve_sessions_enter(s, "2001:db8::3", &sl[5]), PB_ADMIT_FULL);
	ck_assert_uint_eq(serve_sessions_total(s), 4);
	ck_assert_uint_eq(serve_sessions_from(s, "192.0.2.1"), 2);
	ck_assert_uint_eq(serve_sessions_from(s, "2001:db8::ffff"), 2);   /* same /64 */
	serve_sessions_leave(&sl[0]);
	serve_sessions_leave(&sl[0]);   /* twice: nothing */
	serve_sessions_leave(&sl[2]);   /* refused slot: nothing */
	ck_assert_uint_eq(serve_sessions_total(s), 3);
	ck_assert_uint_eq(serve_sessions_from(s, "192.0.2.1"), 1);
	ck_assert_int_eq(serve_sessions_enter(s, "198.51.100.1", &sl[6]), PB_ADMIT_OK);
	serve_sessions_logged_in(&sl[6]);
	/* lower limits: nobody is cut, new sessions wait for room */
	serve_sessions_set_limits(s, 2, 1);
	ck_assert_uint_eq(serve_sessions_total(s), 4);
	ck_assert_int_eq(serve_sessions_enter(s, "203.0.113.9", &sl[7]), PB_ADMIT_FULL);
	serve_sessions_leave(&sl[1]);
	serve_sessions_leave(&sl[3]);
	serve_sessions_leave(&sl[4]);
	ck_assert_int_eq(serve_sessions_enter(s, "198.51.100.1", &sl[7]), PB_ADMIT_IP_FULL);
	ck_assert_int_eq(serve_sessions_enter(s, "203.0.113.9", &sl[7]), PB_ADMIT_OK);
	serve_sessions_logged_in(&sl[7]);
	serve_sessions_leave(&sl[6]);
	serve_sessions_leave(&sl[7]);
	ck_assert_uint_eq(serve_sessions_total(s), 0);
	ck_assert_uint_eq(serve_sessions_from(s, "192.0.2.1"), 0);
	serve_sessions_free(s);
}
END_TEST

/* At most half of max-sessions (at least one) before login; logging in
 * moves a slot to the other half, and leaving frees whichever it holds. */
START_TEST(test_pre_login)
{
	struct serve_sessions *s = serve_sessions_new(6, 10);
	struct serve_session_slot sl[8];
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.1", &sl[i]), PB_ADMIT_OK);
	ck_assert_uint_eq(serve_sessions_pre_login(s), 3);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.2", &sl[3]), PB_ADMIT_PRELOGIN_FULL);
	serve_sessions_leave(&sl[3]);                 /* refused: nothing */
	serve_sessions_logged_in(&sl[0]);
	serve_sessions_logged_in(&sl[0]);             /* twice: nothing */
	ck_assert_uint_eq(serve_sessions_pre_login(s), 2);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.2", &sl[3]), PB_ADMIT_OK);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.2", &sl[4]), PB_ADMIT_PRELOGIN_FULL);
	serve_sessions_logged_in(&sl[1]);
	serve_sessions_logged_in(&sl[2]);
	serve_sessions_logged_in(&sl[3]);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.3", &sl[4]), PB_ADMIT_OK);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.3", &sl[5]), PB_ADMIT_OK);
	ck_assert_uint_eq(serve_sessions_total(s), 6);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.3", &sl[6]), PB_ADMIT_FULL);
	serve_sessions_leave(&sl[4]);                 /* a pre-login one */
	serve_sessions_leave(&sl[0]);                 /* a logged-in one */
	ck_assert_uint_eq(serve_sessions_pre_login(s), 1);
	ck_assert_uint_eq(serve_sessions_total(s), 4);
	for (int i = 1; i < 6; i++)
		serve_sessions_leave(&sl[i]);
	ck_assert_uint_eq(serve_sessions_total(s), 0);
	ck_assert_uint_eq(serve_sessions_pre_login(s), 0);
	serve_sessions_free(s);

	/* max-sessions 1: the one slot may be taken before login */
	s = serve_sessions_new(1, 1);
	ck_assert_int_eq(serve_sessions_enter(s, "192.0.2.1", &sl[0]), PB_ADMIT_OK);
	serve_sessions_leave(&sl[0]);
	serve_sessions_free(s);
}
END_TEST

/* A trusted proxy's connection counts in all at once, and under the client's
 * address once its PROXY header names it. */
START_TEST(test_proxied)
{
	struct serve_sessions *s = serve_sessions_new(10, 1);
	struct serve_session_slot a, b, c;
	ck_assert_int_eq(serve_sessions_enter_proxied(s, &a), PB_ADMIT_OK);
	ck_assert_int_eq(serve_sessions_enter_proxied(s, &b), PB_ADMIT_OK);
	ck_assert_int_eq(serve_sessions_enter_proxied(s, &c), PB_ADMIT_OK);
	ck_assert_uint_eq(serve_sessions_total(s), 3);
	ck_assert_uint_eq(serve_sessions_from(s, "10.0.0.1"), 0);   /* the proxy */
	ck_assert_int_eq(serve_sessions_set_addr(&a, "192.0.2.1"), PB_ADMIT_OK);
	ck_assert_int_eq(serve_sessions_set_addr(&a, "192.0.2.9"), PB_ADMIT_OK); /* once */
	ck_assert_int_eq(serve_sessions_set_addr(&b, "192.0.2.2"), PB_ADMIT_OK);
	ck_assert_int_eq(serve_sessions_set_addr(&c, "192.0.2.1"), PB_ADMIT_IP_FULL);
	ck_assert_uint_eq(serve_sessions_from(s, "192.0.2.1"), 1);
	ck_assert_uint_eq(serve_sessions_from(s, "192.0.2.9"), 0);
	serve_sessions_leave(&c);
	serve_sessions_leave(&a);
	serve_sessions_leave(&b);
	ck_assert_uint_eq(serve_sessions_total(s), 0);
	ck_assert_uint_eq(serve_sessions_pre_login(s), 0);
	ck_assert_uint_eq(serve_sessions_from(s, "192.0.2.1"), 0);
	serve_sessions_free(s);
}
END_TEST

static struct serve_sessions *shared_s;
static atomic_int admitted_now, admitted_max;

static void *enter_leave(void *arg)
{
	char addr[32];
	snprintf(addr, sizeof(addr), "192.0.2.%ld", (long)arg % 4);
	for (int i = 0; i < 2000; i++) {
		struct serve_session_slot slot;
		if (serve_sessions_enter(shared_s, addr, &slot) != PB_ADMIT_OK)
			continue;
		serve_sessions_logged_in(&slot);
		int now = atomic_fetch_add(&admitted_now, 1) + 1;
		int m = atomic_load(&admitted_max);
		while (now > m && !atomic_compare_exchange_weak(&admitted_max, &m, now))
			;
		atomic_fetch_sub(&admitted_now, 1);
		serve_sessions_leave(&slot);
	}
	return NULL;
}

START_TEST(test_sessions_threads)
{
	pthread_t th[16];
	shared_s = serve_sessions_new(5, 3);
	for (long i = 0; i < 16; i++)
		pthread_create(&th[i], NULL, enter_leave, (void *)i);
	for (int i = 0; i < 16; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_le(atomic_load(&admitted_max), 5);
	ck_assert_uint_eq(serve_sessions_total(shared_s), 0);
	for (int i = 0; i < 4; i++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "192.0.2.%d", i);
		ck_assert_uint_eq(serve_sessions_from(shared_s, addr), 0);
	}
	serve_sessions_free(shared_s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("throttle");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sequence);
	tcase_add_test(tc, test_success_resets_the_pair_only);
	tcase_add_test(tc, test_quiet_period_resets);
	tcase_add_test(tc, test_admission_serialises);
	tcase_add_test(tc, test_address_grace);
	tcase_add_test(tc, test_full_table_evicts_nothing);
	tcase_add_test(tc, test_ipv6_by_prefix);
	tcase_add_test(tc, test_addrkey);
	tcase_add_test(tc, test_addr_loopback);
	tcase_add_test(tc, test_throttle_threads);
	tcase_add_test(tc, test_devlock_basic);
	tcase_add_test(tc, test_devlock_contention);
	tcase_add_test(tc, test_sessions_limits);
	tcase_add_test(tc, test_sessions_threads);
	tcase_add_test(tc, test_pre_login);
	tcase_add_test(tc, test_proxied);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
