/* tests/fuzz/fuzz_smtp.c — libFuzzer target: one input is one whole SMTP
 * submission session. The first two octets choose the configuration and the
 * relay's behaviour; the rest is what the client sends, in reads of a size
 * also chosen by the input. The engine runs over the memory transport
 * (tests/pop3/memio.c) against the in-memory relay
 * (tests/smtp/fake_relay.c); the same bytes also go through the client-side
 * reply and EHLO parsers (smtp/client.h), line by line.
 *
 * Checked besides the sanitizers: close() once per successful open(), the
 * transport closed once, no transaction call without a login, data_end
 * once per accepted DATA, and every reply line starting with three digits
 * and a space or hyphen.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/client.h"
#include "smtp/session.h"
#include "tests/pop3/memio.c"
#include "tests/smtp/fake_relay.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_replies(const char *out, size_t len)
{
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(out + i, '\n', len - i);
		if (nl == NULL || len - i < 5)
			abort();
		for (int k = 0; k < 3; k++)
			if (out[i + k] < '0' || out[i + k] > '9')
				abort();
		if (out[i + 3] != ' ' && out[i + 3] != '-')
			abort();
		i = (size_t)(nl - out) + 1;
	}
}

static void client_parsers(const uint8_t *data, size_t size)
{
	struct smtp_reply_acc a;
	struct smtp_caps caps;
	size_t i = 0;

	smtp_reply_acc_init(&a);
	memset(&caps, 0, sizeof(caps));
	while (i < size) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t n = nl != NULL ? (size_t)(nl - data) - i : size - i;
		int rc = smtp_reply_line(&a, (const char *)data + i, n);
		if (rc >= 0 && n > 4)
			smtp_caps_line(&caps, (const char *)data + i + 4, n - 4);
		if (rc != 0)
			smtp_reply_acc_init(&a);
		if (strlen(a.r.text) >= sizeof(a.r.text))
			abort();
		i += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum smtp_auth_status statuses[4] = {
		SMTP_AUTH_OK, SMTP_AUTH_BAD, SMTP_AUTH_TEMP, SMTP_AUTH_PERM,
	};
	/* The engine only tests this pointer for NULL; memio "handshakes". */
	static char tls_token;
	struct fake_relay f;
	struct memio m;
	struct smtp_session_config cfg = { 0 };
	struct smtp_session_stats st;

	if (size < 2)
		return 0;
	uint8_t a = data[0], b = data[1];
	data += 2;
	size -= 2;
	client_parsers(data, size);

	fake_relay_init(&f, "alice", "secret");
	f.force = statuses[(b >> 6) & 3];
	f.ext.size = (b & 0x01) ? 200 : 0;
	f.ext.smtputf8 = b & 0x02;
	f.ext.eightbitmime = b & 0x04;
	f.begin_code = (b & 0x08) ? 554 : 0;
	f.end_code = (b & 0x10) ? 554 : 0;
	f.write_fail_at = (b & 0x20) ? 50 : 0;

	cfg.plaintext_auth_allowed = a & 0x01;
	cfg.tls = (a & 0x02) ? (struct pop3_tls *)(void *)&tls_token : NULL;
	cfg.offer_starttls = a & 0x04;
	cfg.implicit_tls = (a & 0x08) && (a & 0x02);
	cfg.hostname = "fuzz.test";
	cfg.remote_addr = "127.0.0.1";

	memio_init(&m, (const char *)data, size);
	m.tls_ok = a & 0x10;
	m.at_end = (a & 0x20) ? POP3_IO_TIMEOUT : 0;
	m.max_read = (size_t)(((a >> 6) & 3) * 53);
	m.out_max = 4 << 20;

	smtp_session_run_transport(&m.base, &cfg, &fake_relay_ops, &f, &st);

	if (m.closes != 1 || f.closes != f.open_ok || f.is_open)
		abort();
	if (f.open_ok == 0 && (f.mails || f.rcpts || f.begins || f.ends || f.rsets))
		abort();
	if (f.ends > f.begins || f.dones > f.ends)
		abort();
	check_replies(m.out, m.out_len);
	memio_free(&m);
	fake_relay_free(&f);
	return 0;
}
