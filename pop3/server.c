/* pop3/server.c — pop3_session_run(): the engine over a socket. */
#include <string.h>

#include "pop3/session.h"

enum pop3_result pop3_session_run(int fd, const struct pop3_session_config *cfg,
    const struct pop3_maildrop_ops *ops, void *backend,
    struct pop3_session_stats *stats)
{
	struct pop3_transport *t = pop3_transport_sock_new(fd, cfg->tls);

	if (t == NULL) {
		memset(stats, 0, sizeof(*stats));
		strcpy(stats->reason, "out of memory");
		stats->result = POP3_RESULT_ERROR;
		return stats->result;
	}
	return pop3_session_run_transport(t, cfg, ops, backend, stats);
}
