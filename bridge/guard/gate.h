/* bridge/guard/gate.h — at most N expensive checks at once (SPEC §13: the
 * scrypt verifications of managed-mode logins run at most as many at once
 * as the process has CPUs, so a flood of failing logins cannot raise memory
 * beyond N times one check's 32 MiB).
 *
 * Contract:
 *  - guard_gate_new(0) sizes the gate to the CPUs in the process's affinity
 *    mask (sched_getaffinity; 1 when that fails); guard_gate_new(n) to n.
 *  - guard_gate_enter() takes a slot, waiting while all are taken (no
 *    order among waiters) until deadline_ms (CLOCK_MONOTONIC milliseconds,
 *    as base_clock_ms() reads it; 0: no deadline). 0 when it holds a slot,
 *    -1 when the deadline passed first (it then holds nothing). Every 0 is
 *    matched by one guard_gate_leave().
 *  - Thread-safe; guard_gate_free() only once nobody is inside or waiting.
 */
#ifndef BRIDGE_GUARD_GATE_H
#define BRIDGE_GUARD_GATE_H

#include <stdint.h>

struct guard_gate;

struct guard_gate *guard_gate_new(unsigned slots);
void guard_gate_free(struct guard_gate *g);
int guard_gate_enter(struct guard_gate *g, uint64_t deadline_ms);
void guard_gate_leave(struct guard_gate *g);
/* Slots in all, and taken now (for tests and metrics). */
unsigned guard_gate_slots(struct guard_gate *g);
unsigned guard_gate_busy(struct guard_gate *g);

#endif
