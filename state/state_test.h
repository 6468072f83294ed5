/* state/state_test.h — hooks for the state/ test suite only (not used by
 * bridge/): exercising the migration mechanism needs a file at an older
 * version and a file claiming a newer one.
 */
#ifndef STATE_STATE_TEST_H
#define STATE_STATE_TEST_H

#include <stddef.h>
#include <stdint.h>

#include "state/state.h"

/* state_open, but migrate only up to schema version `target` (0 = latest). */
struct state_db *state_open_at(const char *path, int target, char *err, size_t errlen);
/* Overwrite the recorded schema version (to simulate a file written by a
 * newer popbridge). */
int state_test_set_version(struct state_db *db, int version);
/* Run sql (rows written as an older popbridge wrote them: the functions of
 * state.h speak the current schema only). The last inserted row id, or -1
 * with the error set. */
int64_t state_test_exec(struct state_db *db, const char *sql);
/* How long a writer waits for the other writers of this process from now on
 * (ms, process-wide; 0: STATE_WRITER_WAIT_MS). Past it a writing call fails:
 * STATE_ERROR, "database is locked (waited N ms for the other writers of
 * this process)", nothing written. */
void state_test_writer_wait_ms(unsigned ms);
/* SQLite's busy timeout of the handles opened from now on (ms,
 * process-wide; 0: STATE_BUSY_TIMEOUT_MS). */
void state_test_busy_timeout_ms(unsigned ms);

#endif
