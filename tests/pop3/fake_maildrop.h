/* tests/pop3/fake_maildrop.h — an in-memory maildrop (pop3/maildrop.h) for
 * the POP3 engine's tests and fuzzer, with failures to order and a record
 * of every call. Not compiled on its own: a test program includes
 * fake_maildrop.c (the Makefile links only check_*.c and tests/lib/).
 */
#ifndef TESTS_POP3_FAKE_MAILDROP_H
#define TESTS_POP3_FAKE_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pop3/maildrop.h"

#define FAKE_MAX_MSGS 64

struct fake_msg {
	const char *data;
	size_t len;
	char uidl[71];
	enum pop3_md_status fetch_status; /* != OK: fetch fails with it ... */
	size_t fail_after;                /* ... after this many octets */
};

struct fake_maildrop {
	/* configuration */
	const char *user, *pass;          /* the one valid login */
	enum pop3_md_status open_status;  /* != OK: every open() fails so */
	struct pop3_md_reply open_reply;  /* text/delay on failure */
	enum pop3_md_status commit_status;
	const char *commit_text;
	size_t chunk;                     /* octets per sink call (0: 5) */
	unsigned login_delay;             /* what fake_login_delay() answers */
	struct fake_msg msgs[FAKE_MAX_MSGS];
	size_t nmsgs;

	/* record */
	bool is_open;
	int opens, open_ok, closes, commits, fetches;
	size_t committed[FAKE_MAX_MSGS];
	size_t ncommitted;
	char last_user[300], last_mech[16], last_tls[32], last_addr[64];
	size_t last_pass_len;
	size_t nretrieved;
	size_t retrieved_idx[FAKE_MAX_MSGS * 4];
	uint64_t retrieved_octets[FAKE_MAX_MSGS * 4];
	int sink_stops;                   /* times the sink returned 1 */
	char hints[16][96];               /* each hint() call: "idx:W" / "idx:Tn"
	                                     words, 0-based, space-separated */
	size_t nhints;
	uint64_t last_top_lines;
};

extern const struct pop3_maildrop_ops fake_ops;
/* login_delay() of pop3/maildrop.h: the maildrop's login_delay field. Not
 * in fake_ops (whose sessions show the configuration's value). */
unsigned fake_login_delay(void *md);

void fake_init(struct fake_maildrop *f, const char *user, const char *pass);
/* Add a message (len octets of data, kept by pointer); its index. */
size_t fake_add(struct fake_maildrop *f, const char *data, size_t len);
size_t fake_adds(struct fake_maildrop *f, const char *data);
/* The size RETR sends, computed independently of the engine. */
uint64_t fake_wire_size(const char *data, size_t len);

#endif
