/* bridge/signals.h — signal handling for `popbridge serve`: one dedicated
 * thread waits with sigwait(); no code runs in signal-handler context.
 *
 * Contract:
 *  - pb_signals_block() must be called in the main thread before any other
 *    thread exists: it blocks SIGTERM, SIGINT and SIGHUP in the calling
 *    thread (every thread created later inherits the mask) and sets SIGPIPE
 *    to SIG_IGN (pop3/server.h requires it).
 *  - pb_signals_start() starts the waiting thread. It calls on_reload for
 *    each SIGHUP, and on_stop once for the first SIGTERM or SIGINT (or for
 *    pb_signals_stop()) and then ends. The callbacks run in that thread, one
 *    at a time.
 *  - pb_signals_stop() makes the thread end (calling on_stop if it has not
 *    yet) and joins it. Call it once, after pb_signals_start() succeeded.
 */
#ifndef BRIDGE_SIGNALS_H
#define BRIDGE_SIGNALS_H

#include <pthread.h>

struct pb_signal_handlers {
	void (*on_stop)(void *arg, int sig);   /* sig 0: pb_signals_stop() */
	void (*on_reload)(void *arg);
	void *arg;
};

int pb_signals_block(void);
int pb_signals_start(const struct pb_signal_handlers *h);
void pb_signals_stop(void);

#endif
