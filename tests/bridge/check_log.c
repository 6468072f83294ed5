/* tests/bridge/check_log.c — key=value log lines: escaping (a hostile user
 * name forges neither a line nor a key), secrets never written, bounded
 * lines, levels, the session line, whole lines from many threads. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bridge/base/log.h"
#include "tests/bridge/bt.h"

static int log_fd = -1;

/* Route log lines to a fresh file. */
static void capture_start(void)
{
	const char *path = bt_write_file("log.txt", "");
	log_fd = open(path, O_RDWR | O_APPEND);
	ck_assert_int_ge(log_fd, 0);
	base_log_set_fd(log_fd);
	base_log_setup(PB_LOG_DEBUG, false);
}

/* Everything logged since capture_start(); malloc'd. */
static char *capture_end(void)
{
	off_t len = lseek(log_fd, 0, SEEK_END);
	char *buf = calloc(1, (size_t)len + 1);
	ck_assert_int_eq(pread(log_fd, buf, (size_t)len, 0), len);
	base_log_set_fd(-1);
	close(log_fd);
	return buf;
}

/* The line without its timestamp, checking the timestamp's form:
 * YYYY-MM-DDTHH:MM:SS.mmmZ and one space. */
static const char *strip_time(const char *line)
{
	ck_assert_msg(strlen(line) > 25, "short line: %s", line);
	for (int i = 0; i < 24; i++) {
		char c = line[i];
		switch (i) {
		case 4: case 7: ck_assert_int_eq(c, '-'); break;
		case 10: ck_assert_int_eq(c, 'T'); break;
		case 13: case 16: ck_assert_int_eq(c, ':'); break;
		case 19: ck_assert_int_eq(c, '.'); break;
		case 23: ck_assert_int_eq(c, 'Z'); break;
		default: ck_assert_msg(c >= '0' && c <= '9', "bad timestamp: %.30s", line);
		}
	}
	ck_assert_int_eq(line[24], ' ');
	return line + 25;
}

static void escaped_is(const char *value, const char *want)
{
	char buf[1024];
	ck_assert_uint_gt(base_log_escape(buf, sizeof(buf), value), 0);
	ck_assert_str_eq(buf, want);
}

START_TEST(test_escape)
{
	escaped_is("alice", "alice");
	escaped_is("alice@example.org", "alice@example.org");
	escaped_is("127.0.0.1", "127.0.0.1");
	escaped_is("::1", "::1");
	escaped_is("[2001:db8::1]:1995", "[2001:db8::1]:1995");
	escaped_is("scanner#2", "scanner#2");
	escaped_is("TLSv1.3", "TLSv1.3");
	escaped_is("", "\"\"");
	escaped_is("-", "\"-\"");
	escaped_is("two words", "\"two words\"");
	escaped_is("a=b", "\"a=b\"");
	escaped_is("say \"hi\"", "\"say \\\"hi\\\"\"");
	escaped_is("back\\slash", "\"back\\\\slash\"");
	escaped_is("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
	escaped_is("\x01\x1b[31m\x7f", "\"\\x01\\x1b[31m\\x7f\"");
	escaped_is("J\xc3\xa9r\xc3\xb4me", "\"J\\xc3\\xa9r\\xc3\\xb4me\"");
	/* too small a buffer */
	char small[4];
	ck_assert_uint_eq(base_log_escape(small, sizeof(small), "abcdef"), 0);
	ck_assert_uint_eq(base_log_escape(small, sizeof(small), "a b c"), 0);
}
END_TEST

START_TEST(test_long_value_cut)
{
	char value[PB_LOG_VALUE_MAX + 50];
	char buf[2048];
	memset(value, 'x', sizeof(value) - 1);
	value[sizeof(value) - 1] = 0;
	size_t n = base_log_escape(buf, sizeof(buf), value);
	ck_assert_uint_eq(n, PB_LOG_VALUE_MAX + 5);   /* quotes and "..." */
	ck_assert_int_eq(buf[0], '"');
	ck_assert_str_eq(buf + n - 4, "...\"");
	/* a value of exactly the maximum is kept whole and bare */
	value[PB_LOG_VALUE_MAX] = 0;
	ck_assert_uint_eq(base_log_escape(buf, sizeof(buf), value), PB_LOG_VALUE_MAX);
}
END_TEST

/* The keys of a log line (timestamp stripped), in order, space-separated:
 * values are skipped bare or quoted (with \-escapes), as a reader would. */
static void line_keys(const char *line, char *keys, size_t keyslen)
{
	size_t n = 0;
	const char *p = line;
	keys[0] = 0;
	while (*p && *p != '\n') {
		const char *eq = strchr(p, '=');
		ck_assert_ptr_nonnull(eq);
		ck_assert_uint_lt(n + (size_t)(eq - p) + 2, keyslen);
		if (n)
			keys[n++] = ' ';
		memcpy(keys + n, p, (size_t)(eq - p));
		n += (size_t)(eq - p);
		keys[n] = 0;
		p = eq + 1;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\')
					p++;
			ck_assert_int_eq(*p, '"');
			p++;
		} else {
			while (*p && *p != ' ' && *p != '\n')
				p++;
		}
		if (*p == ' ')
			p++;
	}
}

#define SESSION_KEYS "level event user account device remote tls mech messages retr " \
	"retr_bytes top top_bytes dele dele_bytes auth_failures bytes_in bytes_out " \
	"duration_ms result"

START_TEST(test_hostile_user)
{
	capture_start();
	/* a user name that tries to end the line, fake a second session line,
	 * add keys (a result, a password), and a device that tries the same */
	struct base_session_log s = {
		.user = "bob\n2026-01-01T00:00:00.000Z level=info event=session user=admin "
		    "result=committed password=hunter2",
		.account = "bob", .device = "x result=ok", .remote = "192.0.2.7",
		.mech = "USER", .auth_failures = 1, .result = "auth-failed",
		.reason = "[AUTH] authentication failed\r\nlevel=info",
	};
	base_log_session(&s);
	char *out = capture_end();
	/* exactly one line */
	ck_assert_ptr_nonnull(strchr(out, '\n'));
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
	const char *line = strip_time(out);
	ck_assert_str_eq(line,
	    "level=info event=session "
	    "user=\"bob\\n2026-01-01T00:00:00.000Z level=info event=session user=admin "
	    "result=committed password=hunter2\" "
	    "account=bob device=\"x result=ok\" remote=192.0.2.7 tls=none mech=USER "
	    "messages=0 retr=0 retr_bytes=0 top=0 top_bytes=0 dele=0 dele_bytes=0 "
	    "auth_failures=1 bytes_in=0 bytes_out=0 duration_ms=0 result=auth-failed "
	    "reason=\"[AUTH] authentication failed\\r\\nlevel=info\"\n");
	/* a reader finds the real keys only: nothing injected, no password key */
	char keys[512];
	line_keys(line, keys, sizeof(keys));
	ck_assert_str_eq(keys, SESSION_KEYS " reason");
	free(out);
}
END_TEST

START_TEST(test_session_line)
{
	capture_start();
	/* what serve writes for a session that committed with a pending step */
	struct base_session_log s = {
		.user = "office@example.org#scanner", .account = "office@example.org",
		.device = "scanner", .remote = "2001:db8::5", .tls = "TLSv1.3",
		.mech = "PLAIN", .upstream_opened = true, .upstream_tls = "TLSv1.2",
		.messages = 7, .retr = 3, .retr_bytes = 123456, .top = 1, .top_bytes = 800,
		.dele = 2, .dele_bytes = 4000, .bytes_in = 90, .bytes_out = 125000,
		.duration_ms = 1520, .result = "committed", .pending = true,
	};
	base_log_session(&s);
	/* before any login: unknowns are '-', empty strings too */
	struct base_session_log none = { .user = "", .account = "", .device = "",
		.remote = "127.0.0.1", .tls = "", .mech = "", .upstream_tls = "x",
		.result = "dropped", .reason = "" };
	base_log_session(&none);
	/* an upstream reached in plaintext */
	struct base_session_log plain = { .user = "a", .account = "a", .device = "default",
		.remote = "::1", .mech = "USER", .upstream_opened = true, .upstream_tls = "",
		.result = "committed" };
	base_log_session(&plain);
	char *out = capture_end();
	char *second = strchr(out, '\n') + 1;
	second[-1] = 0;
	char *third = strchr(second, '\n') + 1;
	third[-1] = 0;
	ck_assert_str_eq(strip_time(out),
	    "level=info event=session user=office@example.org#scanner account=office@example.org "
	    "device=scanner remote=2001:db8::5 tls=TLSv1.3 mech=PLAIN upstream_tls=TLSv1.2 "
	    "messages=7 retr=3 retr_bytes=123456 top=1 top_bytes=800 dele=2 dele_bytes=4000 "
	    "auth_failures=0 bytes_in=90 bytes_out=125000 duration_ms=1520 result=committed "
	    "pending=1");
	ck_assert_str_eq(strip_time(second),
	    "level=info event=session user=- account=- device=- remote=127.0.0.1 tls=none "
	    "mech=- messages=0 retr=0 retr_bytes=0 top=0 top_bytes=0 dele=0 dele_bytes=0 "
	    "auth_failures=0 bytes_in=0 bytes_out=0 duration_ms=0 result=dropped");
	ck_assert_str_eq(strip_time(third),
	    "level=info event=session user=a account=a device=default remote=::1 tls=none "
	    "mech=USER upstream_tls=none messages=0 retr=0 retr_bytes=0 top=0 top_bytes=0 "
	    "dele=0 dele_bytes=0 auth_failures=0 bytes_in=0 bytes_out=0 duration_ms=0 "
	    "result=committed\n");
	char keys[512];
	line_keys(strip_time(out), keys, sizeof(keys));
	ck_assert_str_eq(keys, "level event user account device remote tls mech upstream_tls "
	    "messages retr retr_bytes top top_bytes dele dele_bytes auth_failures bytes_in "
	    "bytes_out duration_ms result pending");
	free(out);
}
END_TEST

START_TEST(test_no_secrets)
{
	capture_start();
	struct base_logline l;
	base_logline_start(&l, PB_LOG_WARN, "login");
	base_logline_str(&l, "user", "alice");
	base_logline_str(&l, "password", "hunter2");
	base_logline_str(&l, "pass", "hunter2");
	base_logline_str(&l, "secret", "hunter2");
	base_logline_str(&l, "Bad Key=", "v");
	base_logline_emit(&l);
	char *out = capture_end();
	ck_assert_ptr_null(strstr(out, "hunter2"));
	ck_assert_str_eq(strip_time(out),
	    "level=warn event=login user=alice password=\"[not logged]\" pass=\"[not logged]\" "
	    "secret=\"[not logged]\" bad_key_=v\n");
	free(out);
}
END_TEST

START_TEST(test_levels)
{
	capture_start();
	base_log_setup(PB_LOG_WARN, false);
	ck_assert(base_log_enabled(PB_LOG_ERROR));
	ck_assert(base_log_enabled(PB_LOG_WARN));
	ck_assert(!base_log_enabled(PB_LOG_INFO));
	base_log(PB_LOG_INFO, "start", "not shown");
	base_log(PB_LOG_DEBUG, "start", "not shown");
	base_log(PB_LOG_ERROR, "upstream", "cannot connect to %s: %s", "imap.example.org:10993",
	    "Connection refused");
	base_log(PB_LOG_WARN, "config", "reloaded");
	char *out = capture_end();
	char *second = strchr(out, '\n') + 1;
	second[-1] = 0;
	ck_assert_str_eq(strip_time(out), "level=error event=upstream "
	    "msg=\"cannot connect to imap.example.org:10993: Connection refused\"");
	ck_assert_str_eq(strip_time(second), "level=warn event=config msg=reloaded\n");
	free(out);
	base_log_setup(PB_LOG_INFO, false);
}
END_TEST

/* A balancer's health check (SPEC §14) is a session line at debug: off at
 * the default level, there when asked for. */
START_TEST(test_health_check_debug)
{
	struct base_session_log s = { .remote = "10.0.0.5", .result = "quit",
		.health_check = true };
	capture_start();
	base_log_setup(PB_LOG_INFO, false);
	base_log_session(&s);
	base_log_setup(PB_LOG_DEBUG, false);
	base_log_session(&s);
	char *out = capture_end();
	ck_assert_str_eq(strip_time(out),
	    "level=debug event=session user=- account=- device=- remote=10.0.0.5 tls=none "
	    "mech=- messages=0 retr=0 retr_bytes=0 top=0 top_bytes=0 dele=0 dele_bytes=0 "
	    "auth_failures=0 bytes_in=0 bytes_out=0 duration_ms=0 result=quit\n");
	free(out);
	base_log_setup(PB_LOG_INFO, false);
}
END_TEST

START_TEST(test_line_bounded)
{
	capture_start();
	struct base_logline l;
	char value[PB_LOG_VALUE_MAX + 1];
	memset(value, '\x01', PB_LOG_VALUE_MAX);   /* each byte escapes to 4 */
	value[PB_LOG_VALUE_MAX] = 0;
	base_logline_start(&l, PB_LOG_INFO, "big");
	for (int i = 0; i < 10; i++)
		base_logline_str(&l, "v", value);
	base_logline_u64(&l, "n", 1);   /* dropped too: the line is closed */
	base_logline_emit(&l);
	char *out = capture_end();
	ck_assert_uint_le(strlen(out), 25 + PB_LOG_LINE_MAX);
	size_t len = strlen(out);
	ck_assert_str_eq(out + len - strlen(" truncated=1\n"), " truncated=1\n");
	ck_assert_ptr_null(strstr(out, " n=1"));
	ck_assert_ptr_eq(strchr(out, '\n'), out + len - 1);
	free(out);
}
END_TEST

#define THREADS 8
#define LINES 300

static void *writer(void *arg)
{
	long id = (long)arg;
	for (int i = 0; i < LINES; i++) {
		struct base_logline l;
		base_logline_start(&l, PB_LOG_INFO, "t");
		base_logline_u64(&l, "thread", (uint64_t)id);
		base_logline_u64(&l, "i", (uint64_t)i);
		base_logline_str(&l, "pad", "a value with spaces to make the line longer than a few bytes");
		base_logline_emit(&l);
	}
	return NULL;
}

START_TEST(test_threads_whole_lines)
{
	pthread_t th[THREADS];
	capture_start();
	for (long i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, writer, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	char *out = capture_end();
	int seen[THREADS] = { 0 };
	int lines = 0;
	for (char *line = out; *line; lines++) {
		char *end = strchr(line, '\n');
		ck_assert_ptr_nonnull(end);
		*end = 0;
		long t;
		int i;
		ck_assert_int_eq(sscanf(strip_time(line), "level=info event=t thread=%ld i=%d", &t, &i), 2);
		ck_assert(t >= 0 && t < THREADS);
		ck_assert_int_eq(i, seen[t]);   /* each thread's lines in its order */
		seen[t]++;
		ck_assert_ptr_nonnull(strstr(line, " pad=\"a value with spaces to make the line "
		    "longer than a few bytes\""));
		line = end + 1;
	}
	ck_assert_int_eq(lines, THREADS * LINES);
	free(out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");
	tcase_add_test(tc, test_escape);
	tcase_add_test(tc, test_long_value_cut);
	tcase_add_test(tc, test_hostile_user);
	tcase_add_test(tc, test_session_line);
	tcase_add_test(tc, test_no_secrets);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_health_check_debug);
	tcase_add_test(tc, test_line_bounded);
	tcase_add_test(tc, test_threads_whole_lines);
	suite_add_tcase(s, tc);
	return bt_run_suite(s);
}
