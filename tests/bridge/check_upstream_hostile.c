/* tests/bridge/check_upstream_hostile.c — an upstream that announces more
 * than it sends, or expunges a big folder one message at a time (a
 * scripted IMAP server on loopback; issue 12). Nothing is allocated on the
 * strength of an announced count: "* 100000000 EXISTS" and a FETCH of
 * sequence number 4294967295 leave the heap as it was; 300,000 EXPUNGEs in
 * every pattern (first, middle, last) cost linear work and leave `gone`
 * exact. Memory is measured (mallinfo2), work is counted, nothing is timed.
 */
#include <check.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bridge/config/options.h"
#include "bridge/maildrop/upstream.h"
#include "imap/uidset.h"
#include "tests/lib/net.h"

#define CAPS "IMAP4rev1 UIDPLUS"
#define EXPUNGED 300000

struct fake {
	int lfd;
	const char *exists;    /* SELECT's EXISTS count */
	const char *listing;   /* untagged answer to UID FETCH */
	char *noop;            /* untagged answer to NOOP (owned) */
	pthread_t th;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char line[2048], out[512], tag[32], cmd[32];
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	pbt_sendstr(fd, "* OK [CAPABILITY " CAPS "] fake ready\r\n");
	while (pbt_readline(fd, line, sizeof(line), 20000) > 0) {
		int off = 0;
		if (sscanf(line, "%31s %31s %n", tag, cmd, &off) < 2)
			break;
		if (strcmp(cmd, "SELECT") == 0) {
			snprintf(out, sizeof(out), "* %s EXISTS\r\n* OK [UIDVALIDITY 7] v\r\n"
			    "* OK [UIDNEXT 9] n\r\n%s OK [READ-WRITE] selected\r\n", f->exists, tag);
		} else if (strcmp(cmd, "UID") == 0) {
			pbt_sendstr(fd, f->listing);
			snprintf(out, sizeof(out), "%s OK fetched\r\n", tag);
		} else if (strcmp(cmd, "NOOP") == 0) {
			pbt_sendstr(fd, f->noop);
			snprintf(out, sizeof(out), "%s OK noop\r\n", tag);
		} else if (strcmp(cmd, "LOGOUT") == 0) {
			snprintf(out, sizeof(out), "* BYE bye\r\n%s OK done\r\n", tag);
			pbt_sendstr(fd, out);
			break;
		} else {
			snprintf(out, sizeof(out), "%s OK fine\r\n", tag);
		}
		pbt_sendstr(fd, out);
	}
	close(fd);
	return NULL;
}

struct conn {
	struct fake f;
	struct config_options o;
	struct maildrop_upstream up;
};

/* A fake on loopback, logged in to and INBOX selected. */
static void open_conn(struct conn *c)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	char url[64], err[PB_ERR_MAX], detail[300];

	signal(SIGPIPE, SIG_IGN);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->f.lfd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(c->f.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(c->f.lfd, 1), 0);
	ck_assert_int_eq(getsockname(c->f.lfd, (struct sockaddr *)&a, &al), 0);
	ck_assert_int_eq(pthread_create(&c->f.th, NULL, fake_main, &c->f), 0);

	config_options_init(&c->o);
	snprintf(url, sizeof(url), "imap://127.0.0.1:%d", ntohs(a.sin_port));
	ck_assert_int_eq(config_options_set(&c->o, PB_K_UPSTREAM, url, err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&c->o, PB_K_UPSTREAM_TLS, "none", err, sizeof(err)), 0);
	ck_assert_int_eq(config_options_set(&c->o, PB_K_UPSTREAM_TIMEOUT, "20", err, sizeof(err)), 0);
	ck_assert_msg(config_options_finish(&c->o, true, NULL, err, sizeof(err)) == 0, "%s", err);
	memset(&c->up, 0, sizeof(c->up));
	ck_assert_msg(maildrop_upstream_login(&c->up, &c->o, "u", "pw", detail, sizeof(detail)) ==
	    POP3_MD_OK, "login: %s", detail);
}

static void select_inbox(struct conn *c)
{
	char detail[300];
	ck_assert_msg(maildrop_upstream_select(&c->up, "INBOX", detail, sizeof(detail)) ==
	    POP3_MD_OK, "select: %s", detail);
}

static void close_conn(struct conn *c)
{
	maildrop_upstream_free(&c->up);
	pthread_join(c->f.th, NULL);
	close(c->f.lfd);
	config_options_free(&c->o);
	free(c->f.noop);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static int count_cb(void *arg, const struct imap_msg *m)
{
	(void)m;
	(*(size_t *)arg)++;
	return 0;
}

/* Announced counts allocate nothing; what was listed still maps. */
START_TEST(t_announced_counts)
{
	struct conn c;
	size_t listed = 0;

	memset(&c, 0, sizeof(c));
	c.f.exists = "100000000";
	c.f.listing = "* 1 FETCH (UID 7 RFC822.SIZE 10 FLAGS ())\r\n"
	    "* 2 FETCH (UID 8 RFC822.SIZE 10 FLAGS ())\r\n"
	    "* 4294967295 FETCH (UID 9 RFC822.SIZE 10 FLAGS ())\r\n"
	    "* 50000000 FETCH (UID 10 RFC822.SIZE 10 FLAGS ())\r\n";
	c.f.noop = strdup("* 4294967295 EXISTS\r\n* 1 EXPUNGE\r\n");
	ck_assert_ptr_nonnull(c.f.noop);
	open_conn(&c);
	size_t before = heap_in_use();
	select_inbox(&c);
	ck_assert_int_eq(maildrop_upstream_list(&c.up, count_cb, &listed), IMAP_OK);
	ck_assert_uint_eq(listed, 4);
	ck_assert_int_eq(imap_noop(c.up.imap), IMAP_OK);
	size_t after = heap_in_use();
	/* "* 100000000 EXISTS" took 400 MB, 2^32 asks for 16 GiB */
	ck_assert_msg(after < before + 256 * 1024, "heap grew from %zu to %zu", before, after);
	ck_assert_uint_le(c.up.cap_msn, 4096);
	/* the listed part of the map still works: sequence 1 was UID 7 */
	ck_assert(c.up.map_valid);
	ck_assert(imap_uidset_contains(&c.up.gone, 7));
	ck_assert_uint_eq(imap_uidset_count(&c.up.gone), 1);
	close_conn(&c);
}
END_TEST

/* 300,000 EXPUNGEs: the first 100,000 of the first message, 100,000 in the
 * middle, the rest from the last one down. */
START_TEST(t_expunge_burst)
{
	struct conn c;
	char exists[16];
	size_t cap = (size_t)EXPUNGED * 20, len = 0;
	uint32_t *uids = malloc(EXPUNGED * sizeof(*uids));

	ck_assert_ptr_nonnull(uids);
	memset(&c, 0, sizeof(c));
	snprintf(exists, sizeof(exists), "%d", EXPUNGED);
	c.f.exists = exists;
	c.f.listing = "";
	c.f.noop = malloc(cap);
	ck_assert_ptr_nonnull(c.f.noop);
	for (int k = 0; k < EXPUNGED / 3; k++)
		len += (size_t)snprintf(c.f.noop + len, cap - len, "* 1 EXPUNGE\r\n");
	for (int k = 0; k < EXPUNGED / 3; k++)
		len += (size_t)snprintf(c.f.noop + len, cap - len, "* %d EXPUNGE\r\n",
		    EXPUNGED / 3);
	for (int k = EXPUNGED / 3; k >= 1; k--)
		len += (size_t)snprintf(c.f.noop + len, cap - len, "* %d EXPUNGE\r\n", k);
	open_conn(&c);
	select_inbox(&c);
	for (uint32_t i = 0; i < EXPUNGED; i++)
		uids[i] = i + 1;
	maildrop_upstream_map_set(&c.up, uids, EXPUNGED);
	ck_assert(c.up.map_valid);
	ck_assert_int_eq(imap_noop(c.up.imap), IMAP_OK);
	ck_assert(c.up.map_valid);
	ck_assert_uint_eq(c.up.n_msn, 0);
	ck_assert_uint_eq(imap_uidset_count(&c.up.gone), EXPUNGED);
	ck_assert_uint_eq(c.up.gone.n, 1);
	/* a shift per EXPUNGE moved ~3e10 entries */
	ck_assert_uint_le(c.up.map_moved, 2 * EXPUNGED);
	free(uids);
	close_conn(&c);
}
END_TEST

int main(void)
{
	Suite *su = suite_create("bridge-upstream-hostile");
	TCase *tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, t_announced_counts);
	tcase_add_test(tc, t_expunge_burst);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
