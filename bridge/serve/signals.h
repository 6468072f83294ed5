/* bridge/serve/signals.h — signal handling for `popbridge serve`: one dedicated
 * thread waits with sigwait(); no code runs in signal-handler context.
 *
 * Contract:
 *  - serve_signals_block() must be called in the main thread before any other
 *    thread exists: it blocks SIGTERM, SIGINT and SIGHUP in the calling
 *    thread (every thread created later inherits the mask) and sets SIGPIPE
 *    to SIG_IGN (pop3/server.h requires it).
 *  - serve_signals_start() starts the waiting thread. It calls on_stop for
 *    every SIGTERM or SIGINT (the caller decides what a second one means),
 *    and on_reload for each SIGHUP until the first stop signal (a reload
 *    while stopping is pointless and is ignored). The callbacks run in that
 *    thread, one at a time.
 *  - serve_signals_stop() makes the thread end (without calling on_stop) and
 *    joins it. Call it once, after serve_signals_start() succeeded; signals
 *    arriving afterwards stay blocked and pending, so they do nothing.
 */
#ifndef BRIDGE_SERVE_SIGNALS_H
#define BRIDGE_SERVE_SIGNALS_H

#include <pthread.h>

struct serve_signal_handlers {
	void (*on_stop)(void *arg, int sig);   /* SIGTERM or SIGINT */
	void (*on_reload)(void *arg);
	void *arg;
};

int serve_signals_block(void);
int serve_signals_start(const struct serve_signal_handlers *h);
void serve_signals_stop(void);

#endif
