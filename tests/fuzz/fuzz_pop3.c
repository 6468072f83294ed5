/* tests/fuzz/fuzz_pop3.c — libFuzzer target: one input is one whole POP3
 * session. The first two octets choose the configuration and the maildrop's
 * behaviour; the rest is what the client sends, delivered in reads of a
 * size also chosen by the input. The engine runs over the memory transport
 * (tests/pop3/memio.c) against the in-memory maildrop
 * (tests/pop3/fake_maildrop.c), both included here because the fuzz rule
 * links only libpop3.a.
 *
 * Checked besides the sanitizers: close() once per successful open(), the
 * transport closed once, commit only after a login, and every reply line
 * of the transcript starting "+OK", "-ERR", "+ " or being message/list data
 * (no stray bytes before the greeting).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pop3/session.h"
#include "tests/pop3/fake_maildrop.c"
#include "tests/pop3/memio.c"

static const char msg1[] = "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n.\r\n..\r\n";
static const char msg2[] = "Subject: bare\n\n.dot\nlast";
static const char msg3[] = "";
static const char msg4[] = "H: 1\r\n\r\n\r\nline\rcr\r\n\0nul\r\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum pop3_md_status statuses[8] = {
		POP3_MD_OK, POP3_MD_AUTH, POP3_MD_IN_USE, POP3_MD_LOGIN_DELAY,
		POP3_MD_TEMP, POP3_MD_PERM, POP3_MD_GONE, POP3_MD_CLIENT,
	};
	/* The engine over the memory transport only tests this pointer for
	 * NULL (is a certificate configured?); memio does the "handshake". */
	static char tls_token;
	struct fake_maildrop f;
	struct memio m;
	struct pop3_session_config cfg = { 0 };
	struct pop3_session_stats st;

	if (size < 2)
		return 0;
	uint8_t a = data[0], b = data[1];
	data += 2;
	size -= 2;

	fake_init(&f, "alice", "secret");
	fake_adds(&f, msg1);
	fake_adds(&f, msg2);
	fake_add(&f, msg3, 0);
	fake_add(&f, msg4, sizeof(msg4) - 1);
	f.chunk = 1 + (b & 7);
	if (b & 0x08)
		f.msgs[1].fetch_status = POP3_MD_GONE;
	if (b & 0x10) {
		f.msgs[0].fetch_status = POP3_MD_TEMP;
		f.msgs[0].fail_after = 20;
	}
	f.commit_status = statuses[(b >> 5) & 7];
	if (a & 0x80)
		f.open_status = statuses[1 + ((b >> 5) & 3)];

	cfg.plaintext_auth_allowed = a & 0x01;
	cfg.tls = (a & 0x02) ? (struct pop3_tls *)(void *)&tls_token : NULL;
	cfg.offer_stls = a & 0x04;
	cfg.implicit_tls = (a & 0x08) && (a & 0x02);
	cfg.expire = "NEVER";
	cfg.implementation = "popbridge-fuzz";
	cfg.login_delay_s = a & 0x40 ? 900 : 0;
	cfg.remote_addr = "127.0.0.1";

	memio_init(&m, (const char *)data, size);
	m.tls_ok = a & 0x10;
	m.at_end = (a & 0x20) ? POP3_IO_TIMEOUT : 0;
	m.max_read = (size_t)((b & 7) * 37);
	m.out_max = 4 << 20;

	pop3_session_run_transport(&m.base, &cfg, &fake_ops, &f, &st);

	if (m.closes != 1 || f.closes != f.open_ok || f.is_open)
		abort();
	if (f.commits > 0 && f.open_ok == 0)
		abort();
	if (m.out_len > 0 && memcmp(m.out, "+OK ", 4) != 0)
		abort();
	if (st.result == POP3_RESULT_COMMITTED && f.commits != 1)
		abort();
	memio_free(&m);
	return 0;
}
