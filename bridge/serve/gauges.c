/* bridge/serve/gauges.c — the metrics endpoint's glue in `popbridge serve`
 * (--metrics-listen, SPEC §14): starts bridge/serve/metrics.h's endpoint
 * with the service's live gauges (sessions before login, --max-sessions in
 * force, the upstream pool) and the gauges read from the state file
 * (bridge/serve/internal.h). */
#include "bridge/serve/internal.h"

#include <stdatomic.h>
#include <stdint.h>

#include "bridge/base/errbuf.h"
#include "bridge/pool/pool.h"
#include "state/state.h"

static void metrics_now(void *arg, struct serve_metrics_now *now)
{
	struct serve *srv = arg;
	unsigned pre, max;
	size_t kept, busy;

	if (!atomic_load_explicit(&srv->metrics_ready, memory_order_acquire))
		return;
	serve_sessions_gauges(srv->limits, &pre, &max);
	pool_counts(srv->pool, &kept, &busy);
	now->ready = true;
	now->prelogin = pre;
	now->sessions_max = max;
	now->pool_busy = busy;
	now->pool_kept = kept;
}

static int journal_pending(struct state_db *db, uint64_t *value)
{
	int64_t n;
	if (state_journal_unfinished(db, &n, NULL) != STATE_OK)
		return -1;
	*value = (uint64_t)n;
	return 0;
}

static int journal_stuck(struct state_db *db, uint64_t *value)
{
	int64_t n;
	if (state_journal_unfinished(db, NULL, &n) != STATE_OK)
		return -1;
	*value = (uint64_t)n;
	return 0;
}

static int sent_copies_pending(struct state_db *db, uint64_t *value)
{
	int64_t n;
	if (state_sent_owed(db, &n) != STATE_OK)
		return -1;
	*value = (uint64_t)n;
	return 0;
}

/* Gauges read from the state file at a scrape (at most every
 * SERVE_METRICS_CACHE_S seconds). */
static const struct serve_metrics_gauge state_gauges[] = {
	{ "popbridge_journal_pending", "commits not finished upstream yet (journal entries, "
	  "every account): each is replayed at its account's next session", journal_pending },
	{ "popbridge_journal_stuck", "of those, the ones whose upstream steps have failed "
	  "3 times or more: see report or device list", journal_stuck },
	{ "popbridge_sent_copies_pending", "copies of submitted messages owed to the Sent "
	  "folder (every account): appended at the account's next login or retry",
	  sent_copies_pending },
};

/* Bound before the privilege drop, as the listeners are; serves the state
 * gauges and the service's gauges once metrics_ready is set. */
int serve_gauges_start(struct serve *srv, const struct config_options *o, char *err,
    size_t errlen)
{
	if (!o->metrics_listen.host[0])
		return 0;
	struct serve_metrics_config mc = {
		.addr = o->metrics_listen.host, .port = o->metrics_listen.port,
		.state = o->state,
		/* SMTP submission adds 1u << BASE_PROTO_SMTP */
		.protocols = 1u << BASE_PROTO_POP3 | 1u << BASE_PROTO_IMAP | 1u << BASE_PROTO_SMTP,
		.gauges = state_gauges, .n_gauges = sizeof(state_gauges) / sizeof(state_gauges[0]),
		.now = metrics_now, .now_arg = srv,
	};
	char why[PB_ERR_MAX];
	srv->metrics = serve_metrics_start(&mc, why, sizeof(why));
	if (srv->metrics == NULL)
		return base_errf(err, errlen, "--metrics-listen: %s", why);
	return 0;
}
