/* pop3/deadline.h — the wait rule of a protocol session before login, shared
 * by the POP3 and SMTP engines (smtp/ builds on pop3/'s transport).
 *
 * Contract:
 *  - pop3_clock_ms(clock): clock() when given (tests), else CLOCK_MONOTONIC
 *    in milliseconds.
 *  - pop3_wait_ms(idle_ms, before_login, now, deadline): how long the next
 *    wait on the client may take: idle_ms, and before login no later than
 *    the login deadline; 0 once it has passed.
 *  - pop3_sleep_ms(ms): sleeps ms milliseconds, whatever signals interrupt
 *    it (the failed-login delay a backend asks for).
 */
#ifndef POP3_DEADLINE_H
#define POP3_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

uint64_t pop3_clock_ms(uint64_t (*clock)(void));
int pop3_wait_ms(int idle_ms, bool before_login, uint64_t now, uint64_t deadline);
void pop3_sleep_ms(unsigned ms);

#endif
