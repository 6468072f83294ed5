/* tests/bridge/check_serve_parts.c — the pieces `popbridge serve` is built
 * from: listening sockets (bridge/serve/listen.h), the running-session registry
 * (bridge/serve/registry.h) and the sigwait thread (bridge/serve/signals.h).
 * Real sockets on loopback; real signals sent to the test process (each
 * test runs in its own forked process). The whole daemon is tested from
 * the outside by tests/interop/ (test_serve.py and the others). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridge/serve/listen.h"
#include "bridge/config/options.h"
#include "bridge/serve/registry.h"
#include "bridge/serve/signals.h"
#include "tests/lib/net.h"

static void set(struct config_options *o, enum config_key k, const char *v)
{
	char err[PB_ERR_MAX];
	ck_assert_msg(config_options_set(o, k, v, err, sizeof(err)) == 0, "%s", err);
}

static bool have_ipv6_loopback(void)
{
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* ---- listeners ------------------------------------------------------------ */

START_TEST(listen_v4_v6_and_tls_flag)
{
	struct config_options o;
	struct serve_listeners ls;
	char err[PB_ERR_MAX], spec[64];
	int p1 = pbt_free_port(), p2 = pbt_free_port();
	bool v6 = have_ipv6_loopback();

	config_options_init(&o);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", p1);
	set(&o, PB_K_LISTEN, spec);
	if (v6) {
		snprintf(spec, sizeof(spec), "[::1]:%d", p1);  /* same port: V6ONLY */
		set(&o, PB_K_LISTEN, spec);
	}
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", p2);
	set(&o, PB_K_LISTEN_TLS, spec);
	ck_assert_msg(serve_listeners_open(&ls, &o, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(ls.n, v6 ? 3 : 2);
	ck_assert(!ls.l[0].implicit_tls);
	ck_assert(ls.l[ls.n - 1].implicit_tls);
	if (v6) {
		snprintf(spec, sizeof(spec), "[::1]:%d", p1);
		ck_assert_str_eq(ls.l[1].name, spec);
	}

	int c = pbt_connect(NULL, p1);
	ck_assert_int_ge(c, 0);
	struct pollfd pfd = { .fd = ls.l[0].fd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int a = accept(ls.l[0].fd, (struct sockaddr *)&ss, &len);
	ck_assert_int_ge(a, 0);
	char text[PB_ADDR_TEXT_MAX];
	serve_addr_text(&ss, text, sizeof(text));
	ck_assert_str_eq(text, "127.0.0.1");
	close(a);
	close(c);
	if (v6) {
		c = pbt_connect("::1", p1);
		ck_assert_int_ge(c, 0);
		pfd.fd = ls.l[1].fd;
		ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
		len = sizeof(ss);
		a = accept(ls.l[1].fd, (struct sockaddr *)&ss, &len);
		ck_assert_int_ge(a, 0);
		serve_addr_text(&ss, text, sizeof(text));
		ck_assert_str_eq(text, "::1");
		close(a);
		close(c);
	}
	serve_listeners_close(&ls);
	serve_listeners_close(&ls);  /* twice is harmless */
	ck_assert_uint_eq(ls.n, 0);
	config_options_free(&o);
}
END_TEST

START_TEST(listen_busy_port_fails_and_closes_all)
{
	struct config_options o;
	struct serve_listeners ls;
	char err[PB_ERR_MAX], spec[64];
	int p1 = pbt_free_port(), busy = pbt_free_port();

	/* Hold `busy` with a listening socket of our own. */
	int hold = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)busy) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(hold, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(hold, 1), 0);

	config_options_init(&o);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", p1);
	set(&o, PB_K_LISTEN, spec);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", busy);
	set(&o, PB_K_LISTEN, spec);
	ck_assert_int_eq(serve_listeners_open(&ls, &o, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, spec) && strstr(err, "in use"), "message: %s", err);
	ck_assert_uint_eq(ls.n, 0);
	/* The first socket was closed again: nobody accepts on p1. */
	ck_assert_int_lt(pbt_connect(NULL, p1), 0);
	close(hold);
	config_options_free(&o);
}
END_TEST

START_TEST(addr_text_forms)
{
	struct sockaddr_storage ss;
	char text[PB_ADDR_TEXT_MAX];
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	ck_assert_int_eq(inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6->sin6_addr), 1);
	serve_addr_text(&ss, text, sizeof(text));
	ck_assert_str_eq(text, "192.0.2.7");
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr), 1);
	serve_addr_text(&ss, text, sizeof(text));
	ck_assert_str_eq(text, "2001:db8::1");
	ss.ss_family = AF_UNIX;
	serve_addr_text(&ss, text, sizeof(text));
	ck_assert_str_eq(text, "unknown");
}
END_TEST

/* ---- registry ------------------------------------------------------------- */

struct reader {
	int fd;
	struct serve_registry *reg;
	struct serve_reg_entry *e;
	atomic_int got;   /* recv's result + 100, once done */
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char c;
	ssize_t n = recv(r->fd, &c, 1, 0);   /* blocks until shut down */
	atomic_store(&r->got, (int)n + 100);
	close(r->fd);
	serve_registry_leave(r->reg, r->e);
	return NULL;
}

START_TEST(registry_shutdown_wakes_sessions)
{
	struct serve_registry *reg = serve_registry_new();
	struct reader rd[3];
	pthread_t t[3];
	int peers[3];

	ck_assert_ptr_nonnull(reg);
	for (int i = 0; i < 3; i++) {
		int sv[2];
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		rd[i].fd = sv[0];
		peers[i] = sv[1];
		rd[i].reg = reg;
		atomic_store(&rd[i].got, 0);
		rd[i].e = serve_registry_add(reg, sv[0]);
		ck_assert_ptr_nonnull(rd[i].e);
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader_main, &rd[i]), 0);
	}
	ck_assert_uint_eq(serve_registry_count(reg), 3);
	/* Nobody ends by itself: the wait times out (and takes its time). */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert(!serve_registry_wait_empty(reg, 300));
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_ge((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000, 290);

	ck_assert_uint_eq(serve_registry_shutdown_all(reg), 3);
	ck_assert(serve_registry_wait_empty(reg, 10000));
	ck_assert_uint_eq(serve_registry_count(reg), 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(atomic_load(&rd[i].got), 100);  /* recv saw EOF */
		close(peers[i]);
	}
	ck_assert(serve_registry_wait_empty(reg, 0));
	serve_registry_free(reg);
}
END_TEST

START_TEST(registry_dup_outlives_session_close)
{
	struct serve_registry *reg = serve_registry_new();
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	struct serve_reg_entry *e = serve_registry_add(reg, sv[0]);
	ck_assert_ptr_nonnull(e);
	close(sv[0]);        /* the session closes its socket ... */
	/* ... and shutting it down through the registry still reaches the peer
	 * without touching whatever now has the old descriptor number. */
	ck_assert_uint_eq(serve_registry_shutdown_all(reg), 1);
	char c;
	ck_assert_int_eq(recv(sv[1], &c, 1, 0), 0);
	serve_registry_leave(reg, e);
	ck_assert_uint_eq(serve_registry_count(reg), 0);
	close(sv[1]);
	serve_registry_free(reg);
}
END_TEST

/* ---- signals -------------------------------------------------------------- */

static atomic_int reloads, stops, stop_sig;

static void t_stop(void *arg, int sig)
{
	(void)arg;
	atomic_store(&stop_sig, sig);
	atomic_fetch_add(&stops, 1);
}

static void t_reload(void *arg)
{
	(void)arg;
	atomic_fetch_add(&reloads, 1);
}

static void wait_for(atomic_int *v, int want)
{
	for (int i = 0; i < 500 && atomic_load(v) < want; i++)
		poll(NULL, 0, 10);
	ck_assert_int_eq(atomic_load(v), want);
}

START_TEST(signals_hup_reloads_term_stops)
{
	struct serve_signal_handlers h = { t_stop, t_reload, NULL };
	ck_assert_int_eq(serve_signals_block(), 0);
	ck_assert_int_eq(serve_signals_start(&h), 0);
	kill(getpid(), SIGHUP);
	wait_for(&reloads, 1);
	kill(getpid(), SIGHUP);
	wait_for(&reloads, 2);
	/* SIGPIPE is ignored: writing to a closed socket gives EPIPE. */
	int sv[2];
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	ck_assert_int_eq(write(sv[0], "x", 1), -1);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
	kill(getpid(), SIGTERM);
	wait_for(&stops, 1);
	ck_assert_int_eq(atomic_load(&stop_sig), SIGTERM);
	/* While stopping a SIGHUP does nothing; a second stop signal is passed
	 * on (serve then cuts the sessions). */
	kill(getpid(), SIGHUP);
	kill(getpid(), SIGINT);
	wait_for(&stops, 2);
	ck_assert_int_eq(atomic_load(&stop_sig), SIGINT);
	serve_signals_stop();   /* joins without calling on_stop */
	ck_assert_int_eq(atomic_load(&stops), 2);
	ck_assert_int_eq(atomic_load(&reloads), 2);
}
END_TEST

START_TEST(signals_stop_without_signal)
{
	struct serve_signal_handlers h = { t_stop, t_reload, NULL };
	ck_assert_int_eq(serve_signals_block(), 0);
	ck_assert_int_eq(serve_signals_start(&h), 0);
	serve_signals_stop();   /* no signal came: the thread ends, no callback */
	ck_assert_int_eq(atomic_load(&stops), 0);
	ck_assert_int_eq(atomic_load(&reloads), 0);
	/* Started again, it works as before. */
	ck_assert_int_eq(serve_signals_start(&h), 0);
	kill(getpid(), SIGINT);
	wait_for(&stops, 1);
	ck_assert_int_eq(atomic_load(&stop_sig), SIGINT);
	serve_signals_stop();
	/* Signals after the stop stay blocked and pending: nothing happens. */
	kill(getpid(), SIGTERM);
	poll(NULL, 0, 100);
	ck_assert_int_eq(atomic_load(&stops), 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("serve_parts");
	TCase *tl = tcase_create("listen");
	tcase_add_test(tl, listen_v4_v6_and_tls_flag);
	tcase_add_test(tl, listen_busy_port_fails_and_closes_all);
	tcase_add_test(tl, addr_text_forms);
	suite_add_tcase(s, tl);

	TCase *tr = tcase_create("registry");
	tcase_add_test(tr, registry_shutdown_wakes_sessions);
	tcase_add_test(tr, registry_dup_outlives_session_close);
	suite_add_tcase(s, tr);

	TCase *ts = tcase_create("signals");
	tcase_add_test(ts, signals_hup_reloads_term_stops);
	tcase_add_test(ts, signals_stop_without_signal);
	suite_add_tcase(s, ts);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
