/* tests/bridge/check_guard.c — the gate that bounds expensive checks
 * (bridge/guard/gate.h): never more than N inside at once under contention
 * from many threads, waiters with a deadline give up and hold nothing, a
 * freed slot admits a waiter, and the default size is the CPU count. */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "bridge/base/clock.h"
#include "bridge/guard/gate.h"

static struct guard_gate *gate;
static atomic_uint inside, most, entered, gave_up;

static void *worker(void *arg)
{
	uint64_t wait_ms = (uint64_t)(uintptr_t)arg;
	uint64_t deadline = wait_ms ? base_clock_ms(NULL) + wait_ms : 0;
	if (guard_gate_enter(gate, deadline) != 0) {
		atomic_fetch_add(&gave_up, 1);
		return NULL;
	}
	unsigned now = atomic_fetch_add(&inside, 1) + 1;
	unsigned m = atomic_load(&most);
	while (now > m && !atomic_compare_exchange_weak(&most, &m, now))
		;
	atomic_fetch_add(&entered, 1);
	usleep(2000);   /* hold the slot a moment so others must wait */
	atomic_fetch_sub(&inside, 1);
	guard_gate_leave(gate);
	return NULL;
}

static void reset(unsigned slots)
{
	gate = guard_gate_new(slots);
	ck_assert_ptr_nonnull(gate);
	atomic_store(&inside, 0);
	atomic_store(&most, 0);
	atomic_store(&entered, 0);
	atomic_store(&gave_up, 0);
}

START_TEST(test_bound)
{
	enum { THREADS = 48 };
	pthread_t th[THREADS];

	reset(3);
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, worker, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	ck_assert_uint_eq(atomic_load(&entered), THREADS);
	ck_assert_uint_le(atomic_load(&most), 3);
	ck_assert_uint_ge(atomic_load(&most), 2);  /* it did run checks side by side */
	ck_assert_uint_eq(guard_gate_busy(gate), 0);
	guard_gate_free(gate);
}
END_TEST

START_TEST(test_deadline)
{
	reset(1);
	/* The only slot is held: a waiter with a deadline gives up, holding nothing. */
	ck_assert_int_eq(guard_gate_enter(gate, 0), 0);
	ck_assert_int_eq(guard_gate_enter(gate, base_clock_ms(NULL) + 30), -1);
	ck_assert_uint_eq(guard_gate_busy(gate), 1);
	/* A deadline already past fails at once when nothing is free... */
	ck_assert_int_eq(guard_gate_enter(gate, 1), -1);
	guard_gate_leave(gate);
	/* ...and enters when a slot is free. */
	ck_assert_int_eq(guard_gate_enter(gate, 1), 0);
	guard_gate_leave(gate);

	/* A freed slot admits one of the waiters in time. */
	pthread_t th;
	ck_assert_int_eq(guard_gate_enter(gate, 0), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, worker, (void *)(uintptr_t)60000), 0);
	usleep(20000);
	ck_assert_uint_eq(atomic_load(&entered), 0);
	guard_gate_leave(gate);
	pthread_join(th, NULL);
	ck_assert_uint_eq(atomic_load(&entered), 1);
	ck_assert_uint_eq(atomic_load(&gave_up), 0);
	ck_assert_uint_eq(guard_gate_busy(gate), 0);
	guard_gate_free(gate);
}
END_TEST

START_TEST(test_default_cpus)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof(set), &set), 0);
	gate = guard_gate_new(0);
	ck_assert_uint_eq(guard_gate_slots(gate), (unsigned)CPU_COUNT(&set));
	guard_gate_free(gate);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("gate");
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_deadline);
	tcase_add_test(tc, test_default_cpus);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
