/* bridge/serve/signals.c — a sigwait() thread for SIGTERM, SIGINT and SIGHUP. */
#include "bridge/serve/signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

static struct serve_signal_handlers handlers;
static pthread_t sig_thread;
static atomic_bool quit_requested;

static void fill_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

int serve_signals_block(void)
{
	sigset_t set;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;
	fill_set(&set);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

static void *sig_main(void *arg)
{
	sigset_t set;
	bool stopping = false;
	(void)arg;
	fill_set(&set);
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		/* serve_signals_stop() wakes us with SIGTERM after setting the flag. */
		if (atomic_load(&quit_requested))
			return NULL;
		if (sig == SIGHUP && !stopping) {
			handlers.on_reload(handlers.arg);
		} else if (sig == SIGTERM || sig == SIGINT) {
			stopping = true;
			handlers.on_stop(handlers.arg, sig);
		}
	}
}

int serve_signals_start(const struct serve_signal_handlers *h)
{
	handlers = *h;
	atomic_store(&quit_requested, false);
	return pthread_create(&sig_thread, NULL, sig_main, NULL) == 0 ? 0 : -1;
}

void serve_signals_stop(void)
{
	atomic_store(&quit_requested, true);
	pthread_kill(sig_thread, SIGTERM);
	pthread_join(sig_thread, NULL);
}
