/* bridge/serve/accept.c — the listener thread of `popbridge serve`: polls
 * every listening socket, admits each connection (--max-sessions,
 * --max-sessions-per-ip, the pre-login share; bridge/serve/sessions.h) and
 * starts its session thread, or refuses it ("too many sessions", one
 * event=refused line per 10 s); pauses while out of descriptors
 * (bridge/serve/internal.h). */
#include "bridge/serve/internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/base/cidr.h"
#include "bridge/base/clock.h"
#include "bridge/base/log.h"

#define ACCEPT_BURST 64              /* accepts per listener per poll round */
#define ACCEPT_ERROR_PAUSE_MS 100    /* out of descriptors: let sessions end */
#define TOO_MANY "-ERR [SYS/TEMP] too many sessions\r\n"
#define TOO_MANY_IMAP "* BYE [UNAVAILABLE] Too many sessions, try again later.\r\n"
#define TOO_MANY_SMTP "421 4.3.2 too many sessions, try again later\r\n"

/* Refusals are logged at most once per REFUSED_LOG_MS: a flood of
 * connections must not become a flood of log lines. The lines left out
 * are counted, and the next line says how many (suppressed=N). */
#define REFUSED_LOG_MS 10000u
static pthread_mutex_t refused_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t refused_last_ms;
static unsigned long refused_suppressed;

/* limited: a refusal by the limits, counted into the one line per
 * REFUSED_LOG_MS; otherwise always logged (a trusted proxy that sends no
 * valid header is misconfigured: its administrator must see each). */
void serve_log_refused(const char *remote, const char *why, bool limited)
{
	uint64_t now = base_clock_ms(NULL);
	unsigned long suppressed = 0;
	pthread_mutex_lock(&refused_lock);
	bool quiet = limited && refused_last_ms != 0 && now - refused_last_ms < REFUSED_LOG_MS;
	if (quiet) {
		refused_suppressed++;
	} else if (limited) {
		refused_last_ms = now;
		suppressed = refused_suppressed;
		refused_suppressed = 0;
	}
	pthread_mutex_unlock(&refused_lock);
	if (quiet)
		return;
	struct base_logline l;
	base_logline_start(&l, PB_LOG_WARN, "refused");
	base_logline_str(&l, "remote", remote);
	base_logline_str(&l, "reason", why);
	if (suppressed > 0)
		base_logline_u64(&l, "suppressed", suppressed);
	base_logline_emit(&l);
}

/* Answer "too many sessions" (a plaintext -ERR, BYE or 421 means nothing to
 * a client expecting a TLS handshake: an implicit-TLS connection is just
 * closed). */
void serve_too_many(int fd, const struct serve_listener *l)
{
	if (!l->implicit_tls) {
		const char *m = l->imap ? TOO_MANY_IMAP : l->smtp ? TOO_MANY_SMTP : TOO_MANY;
		ssize_t w = send(fd, m, strlen(m), MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)w;
	}
}

static void refuse(int fd, const struct serve_listener *l, const char *remote, const char *why)
{
	base_stats_connection_end(BASE_CONN_REFUSED);
	serve_too_many(fd, l);
	close(fd);
	serve_log_refused(remote, why, true);
}

/* Whether remote is a --trusted-proxy address (with --proxy-protocol). */
static bool proxy_trusted(const struct config_options *o, const char *remote)
{
	if (!o->proxy_protocol)
		return false;
	for (size_t i = 0; i < o->n_trusted_proxy; i++)
		if (base_cidr_match(&o->trusted_proxy[i], remote))
			return true;
	return false;
}

static void start_session(struct serve *srv, int fd, const struct sockaddr_storage *ss,
    const struct serve_listener *l)
{
	struct serve_job *job = calloc(1, sizeof(*job));
	char remote[PB_ADDR_TEXT_MAX];
	pthread_attr_t attr;
	pthread_t t;

	serve_addr_text(ss, remote, sizeof(remote));
	if (!job) {
		refuse(fd, l, remote, "out of memory");
		return;
	}
	/* A trusted proxy's connection counts under its client's address, read
	 * from its PROXY header in the session thread (SPEC §13). */
	struct serve_gen *g = serve_gen_current(srv);
	job->proxied = proxy_trusted(&g->opt, remote);
	serve_gen_unref(g);
	enum serve_admit a = job->proxied ? serve_sessions_enter_proxied(srv->limits, &job->slot)
	                                  : serve_sessions_enter(srv->limits, remote, &job->slot);
	if (a != PB_ADMIT_OK) {
		free(job);
		refuse(fd, l, remote, a == PB_ADMIT_FULL ? "max-sessions" :
		    a == PB_ADMIT_IP_FULL ? "max-sessions-per-ip" :
		    a == PB_ADMIT_PRELOGIN_FULL ? "pre-login-share" : "out of memory");
		return;
	}
	job->reg = serve_registry_add(srv->reg, fd);
	if (!job->reg) {
		serve_sessions_leave(&job->slot);
		free(job);
		refuse(fd, l, remote, "out of resources");
		return;
	}
	job->srv = srv;
	job->fd = fd;
	job->implicit_tls = l->implicit_tls;
	job->imap = l->imap;
	job->smtp = l->smtp;
	job->proto = l->smtp ? BASE_PROTO_SMTP : l->imap ? BASE_PROTO_IMAP : BASE_PROTO_POP3;
	memcpy(job->remote, remote, sizeof(remote));
	job->remote_port = serve_addr_port(ss);
	clock_gettime(CLOCK_MONOTONIC, &job->start);
	job->gen = serve_gen_current(srv);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, serve_session_main, job);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		serve_gen_unref(job->gen);
		serve_sessions_leave(&job->slot);
		serve_registry_leave(srv->reg, job->reg);
		free(job);
		refuse(fd, l, remote, "cannot start a thread");
	}
}

static void accept_some(struct serve *srv, const struct serve_listener *l)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors (or memory): the connections wait in the
			 * backlog while sessions end; one line per episode, not one
			 * per pause. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				if (srv->accept_pauses++ == 0)
					base_log(PB_LOG_ERROR, "accept", "%s: %s: accepting paused until "
					    "sessions end (said once until accepting again)", l->name,
					    strerror(errno));
				poll(NULL, 0, ACCEPT_ERROR_PAUSE_MS);
			}
			return;  /* EAGAIN, or a connection that went away */
		}
		if (srv->accept_pauses > 0) {
			base_log(PB_LOG_WARN, "accept", "%s: accepting again after %lu pause(s) of "
			    "%d ms", l->name, srv->accept_pauses, ACCEPT_ERROR_PAUSE_MS);
			srv->accept_pauses = 0;
		}
		start_session(srv, fd, &ss, l);
	}
}

/* Accept until stopping; -1 when poll() itself fails. */
int serve_accept_loop(struct serve *srv)
{
	struct pollfd pfd[PB_LISTENERS_MAX + 1];
	size_t n = srv->ls.n;

	pfd[0].fd = srv->wake[0];
	pfd[0].events = POLLIN;
	for (size_t i = 0; i < n; i++) {
		pfd[i + 1].fd = srv->ls.l[i].fd;
		pfd[i + 1].events = POLLIN;
	}
	while (!atomic_load(&srv->stopping)) {
		if (poll(pfd, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			base_log(PB_LOG_ERROR, "accept", "poll: %s", strerror(errno));
			return -1;
		}
		if (pfd[0].revents)
			continue;    /* only stopping writes to the pipe */
		for (size_t i = 0; i < n; i++)
			if (pfd[i + 1].revents & POLLIN)
				accept_some(srv, &srv->ls.l[i]);
	}
	return 0;
}
