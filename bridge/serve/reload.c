/* bridge/serve/reload.c — what the signals do in `popbridge serve`
 * (bridge/serve/signals.h runs these handlers in its thread): SIGTERM or
 * SIGINT stops accepting, a second one shuts every session; SIGHUP rebuilds
 * the settings from the same command line and configuration file and makes
 * them the new generation, keeping the settings only a restart changes
 * (bridge/serve/internal.h). */
#include "bridge/serve/internal.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/log.h"

/* The first SIGTERM/SIGINT stops accepting (drain() then waits for the
 * sessions); a second one ends the wait at once: every session's socket is
 * shut, so the sessions end without committing. */
void serve_on_stop(void *arg, int sig)
{
	struct serve *srv = arg;
	const char *name = sig == SIGINT ? "SIGINT" : "SIGTERM";
	if (atomic_exchange(&srv->stopping, true)) {
		size_t n = serve_registry_shutdown_all(srv->reg);
		base_log(PB_LOG_WARN, "signal", "%s again: closed %zu session(s) now; they "
		    "commit nothing", name, n);
		return;
	}
	base_log(PB_LOG_INFO, "signal", "%s: stopping", name);
	ssize_t w = write(srv->wake[1], "x", 1);
	(void)w;
}

/* A file's problem (the reload fails) or warning (it goes on: a deprecated
 * element; bridge/config/file.h). */
static void reload_report(void *arg, const char *file, unsigned line, const char *problem)
{
	(void)arg;
	bool warning = config_report_is_warning(problem);
	struct base_logline l;
	base_logline_start(&l, warning ? PB_LOG_WARN : PB_LOG_ERROR, "reload");
	base_logline_str(&l, "file", file);
	base_logline_u64(&l, "line", line);
	base_logline_str(&l, warning ? "warning" : "problem",
	    warning ? problem + strlen(PB_CONFIG_WARNING) : problem);
	base_logline_emit(&l);
}

static bool same_endpoints(const struct config_endpoint *a, size_t na,
    const struct config_endpoint *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].port != b[i].port || strcmp(a[i].host, b[i].host) != 0)
			return false;
	return true;
}

/* Settings that only a restart changes: keep the running values, and say
 * which ones the new configuration wanted changed. */
static void keep_start_values(struct config_options *n, const struct config_options *old)
{
	char changed[200] = "";
	size_t len = 0;
#define KEEP(cond, name, stmt) do { if (cond) { \
		len += (size_t)snprintf(changed + len, len < sizeof(changed) ? \
		    sizeof(changed) - len : 0, "%s%s", len ? " " : "", name); \
		stmt; } } while (0)
	KEEP(!same_endpoints(n->listen, n->n_listen, old->listen, old->n_listen), "listen",
	    (memcpy(n->listen, old->listen, sizeof(n->listen)), n->n_listen = old->n_listen));
	KEEP(!same_endpoints(n->listen_tls, n->n_listen_tls, old->listen_tls, old->n_listen_tls),
	    "listen-tls", (memcpy(n->listen_tls, old->listen_tls, sizeof(n->listen_tls)),
	    n->n_listen_tls = old->n_listen_tls));
	KEEP(!same_endpoints(n->smtp_listen, n->n_smtp_listen, old->smtp_listen,
	    old->n_smtp_listen), "smtp-listen", (memcpy(n->smtp_listen, old->smtp_listen,
	    sizeof(n->smtp_listen)), n->n_smtp_listen = old->n_smtp_listen));
	KEEP(!same_endpoints(n->smtp_listen_tls, n->n_smtp_listen_tls, old->smtp_listen_tls,
	    old->n_smtp_listen_tls), "smtp-listen-tls", (memcpy(n->smtp_listen_tls,
	    old->smtp_listen_tls, sizeof(n->smtp_listen_tls)),
	    n->n_smtp_listen_tls = old->n_smtp_listen_tls));
	KEEP(!same_endpoints(n->imap_listen, n->n_imap_listen, old->imap_listen,
	    old->n_imap_listen), "imap-listen", (memcpy(n->imap_listen, old->imap_listen,
	    sizeof(n->imap_listen)), n->n_imap_listen = old->n_imap_listen));
	KEEP(!same_endpoints(n->imap_listen_tls, n->n_imap_listen_tls, old->imap_listen_tls,
	    old->n_imap_listen_tls), "imap-listen-tls", (memcpy(n->imap_listen_tls,
	    old->imap_listen_tls, sizeof(n->imap_listen_tls)),
	    n->n_imap_listen_tls = old->n_imap_listen_tls));
	KEEP(strcmp(n->user, old->user) != 0, "user", memcpy(n->user, old->user, sizeof(n->user)));
	KEEP(strcmp(n->state, old->state) != 0, "state",
	    memcpy(n->state, old->state, sizeof(n->state)));
	KEEP(strcmp(n->key_file, old->key_file) != 0, "key-file",
	    memcpy(n->key_file, old->key_file, sizeof(n->key_file)));
	KEEP(n->auth != old->auth, "auth", n->auth = old->auth);
	KEEP(n->syslog != old->syslog, "syslog", n->syslog = old->syslog);
	KEEP(!same_endpoints(&n->metrics_listen, 1, &old->metrics_listen, 1), "metrics-listen",
	    n->metrics_listen = old->metrics_listen);
#undef KEEP
	if (len)
		base_log(PB_LOG_WARN, "reload", "these settings need a restart and keep their "
		    "running values: %s", changed);
}

void serve_on_reload(void *arg)
{
	struct serve *srv = arg;
	struct config_options opt;
	char err[PB_ERR_MAX] = "";
	struct serve_gen *g = NULL;

	if (config_settings_build(srv->cmdline, true, &opt, reload_report, NULL, err,
	    sizeof(err)) != 0) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded, keeping the "
		    "running one: %s", err[0] ? err : "invalid configuration file");
		goto out;
	}
	struct serve_gen *old = serve_gen_current(srv);
	keep_start_values(&opt, &old->opt);
	serve_gen_unref(old);
	if ((opt.n_listen_tls > 0 || opt.n_imap_listen_tls > 0 || opt.n_smtp_listen_tls > 0) &&
	    !opt.cert[0]) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded: the running "
		    "listen-tls addresses need a certificate");
		goto out;
	}
	if (opt.n_smtp_listen + opt.n_smtp_listen_tls > 0 && !opt.smtp_upstream.host[0]) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded: the running "
		    "smtp-listen addresses need an upstream submission server (smtp-upstream)");
		goto out;
	}
	g = serve_gen_new(&opt, err, sizeof(err));
	if (!g) {
		base_log(PB_LOG_ERROR, "reload", "configuration not reloaded, keeping the "
		    "running one: %s", err);
		goto out;
	}
	base_log_setup(g->opt.log_level, g->opt.syslog);
	serve_sessions_set_limits(srv->limits, g->opt.max_sessions, g->opt.max_sessions_per_ip);
	pthread_mutex_lock(&srv->lock);
	old = srv->cur;
	srv->cur = g;
	pthread_mutex_unlock(&srv->lock);
	serve_gen_unref(old);
	base_log(PB_LOG_INFO, "reload", "configuration and certificates reloaded");
out:
	config_options_free(&opt);
}
