/* tests/harness/pbtest.c — the test harness as a command, for shell and
 * Python tests and `make demo`.
 *
 *   pbtest dovecot [--user NAME:PASSWORD]... [--fill USER:FOLDER:KIND:N[:SIZE]]...
 *                  [--process-limit N] [--client-limit N]
 *                  [--oauth2 INTROSPECTION_URL [--oauth2-mechanisms "xoauth2 oauthbearer"]]
 *                  [--config-line LINE]...
 *       Start a private Dovecot, add the users, fill folders with N generated
 *       messages (KIND is a generator kind, or "awkward" for a mix of every
 *       kind but large; seeds count up from 1 per instance). For load tests
 *       (tests/load/), --process-limit N sets Dovecot's default_process_limit
 *       and imap's process_limit (the harness's default is 500, Dovecot's for
 *       imap 1024: at most that many IMAP sessions) and --client-limit N lets
 *       one imap process serve N sessions (service imap service_count 0,
 *       client_limit N, vsz_limit 1G) and runs imap-login in Dovecot's
 *       "high-performance" shape (service_count 0, one process per CPU), so
 *       thousands of sessions need tens of processes, not thousands; neither
 *       changes anything for the tests that do not give them. --oauth2 adds
 *       OAuth2 logins (pbt_dovecot_start_oauth2: Dovecot's oauth2 passdb asks
 *       the introspection URL about every token; --oauth2-mechanisms chooses
 *       the SASL mechanisms, default both). --config-line adds one line to
 *       Dovecot's configuration (e.g. 'imap_capability = +X-GM-EXT-1'; at most
 *       CONFIG_LINES_MAX lines of CONFIG_LINE_MAX octets, printable, no
 *       newline). Print one line of
 *       shell assignments:
 *         DIR=... CA_FILE=... IMAP_PORT=... IMAPS_PORT=... POP3_PORT=... POP3S_PORT=...
 *       then read commands on stdin, one per line, answering "ok [VALUE]" or
 *       "err REASON" (REASON: the harness's first message; all of them also
 *       go to stderr):
 *         add-user U P | set-password U P | remove-user U | create-folder U F
 *         add U F KIND SEED [SIZE] [FLAGS] | add-file U F PATH [FLAGS]
 *         renumber U F | maildir U F | pause | resume | quit
 *       Words are separated by spaces, so names and passwords contain none.
 *       EOF on stdin, "quit", SIGTERM, SIGINT or SIGHUP stop the instance and
 *       remove its directory (the harness's watchdog covers SIGKILL).
 *   pbtest imapd SERVER [--hide "CAPS"] [--user NAME:PASSWORD]...
 *       The same for any server of tests/lib/imapd.h (SERVER: dovecot, cyrus,
 *       courier; --hide: capabilities it must not announce). Prints
 *         KIND=... DIR=... IMAP_PORT=... PREFIX=... SEP=...
 *       (PREFIX: the personal namespace, e.g. INBOX.) and answers
 *         add-user U P | create-folder U F | add U F KIND SEED [SIZE] [FLAGS]
 *         add-file U F PATH [FLAGS] | renumber U F | folder F | quit
 *       with folder names bare ("Trash"); "folder F" answers the IMAP name.
 *       "pbtest imapd SERVER --check" exits 0 when SERVER can run here, else
 *       77 with the reason.
 *   pbtest gen KIND SEED [SIZE]
 *       Write a generated message to stdout.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/dovecot.h"
#include "tests/lib/imapd.h"
#include "tests/lib/testutil.h"
#include "tests/lib/msggen.h"

#define LINE_MAX_LEN 4096
#define MAX_WORDS 8
#define MAX_FILL 1000000
#define CONFIG_LINES_MAX 8      /* pbtest dovecot --config-line */
#define CONFIG_LINE_MAX 200

static volatile sig_atomic_t g_stop;
static char g_reason[256];   /* first line the harness wrote to stderr */
static FILE *g_capture;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static int usage(void)
{
	fprintf(stderr,
	    "usage: pbtest dovecot [--user NAME:PASSWORD]... [--fill USER:FOLDER:KIND:N[:SIZE]]...\n"
	    "                      [--process-limit N] [--client-limit N]\n"
	    "                      [--oauth2 INTROSPECTION_URL [--oauth2-mechanisms MECHS]]\n"
	    "                      [--config-line LINE]...\n"
	    "       pbtest imapd dovecot|cyrus|courier [--hide CAPS] [--user NAME:PASSWORD]...\n"
	    "       pbtest gen KIND SEED [SIZE]\n"
	    "KIND: plain multipart 8bit dots long-lines bare-lf no-final-eol large"
	    " (--fill also: awkward)\n");
	return 2;
}

/* Parse an unsigned decimal number; 0 or -1. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	if (s == NULL || *s == '\0')
		return -1;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || s[0] == '-' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* A spec from KIND SEED [SIZE]; 0 or -1 with a reason. */
static int make_spec(const char *kind, const char *seed, const char *size,
    struct pbt_msgspec *spec, const char **why)
{
	uint64_t v;
	int k = pbt_msg_kind_parse(kind);
	if (k < 0) {
		*why = "unknown kind";
		return -1;
	}
	spec->kind = (enum pbt_msg_kind)k;
	if (parse_u64(seed, UINT32_MAX, &v) < 0) {
		*why = "bad seed";
		return -1;
	}
	spec->seed = (uint32_t)v;
	spec->size = 0;
	if (k == PBT_MSG_LARGE) {
		if (parse_u64(size, UINT64_C(1) << 40, &spec->size) < 0) {
			*why = "large needs a SIZE";
			return -1;
		}
	}
	return 0;
}

static int cmd_gen(int argc, char **argv)
{
	struct pbt_msgspec spec;
	const char *why;
	if (argc < 4 || argc > 5)
		return usage();
	if (make_spec(argv[2], argv[3], argc > 4 ? argv[4] : NULL, &spec, &why) < 0) {
		fprintf(stderr, "pbtest gen: %s\n", why);
		return 2;
	}
	if (pbt_msg_write_file(&spec, stdout) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "pbtest gen: writing failed\n");
		return 1;
	}
	return 0;
}

/* Split USER:FOLDER:KIND:N[:SIZE] and deliver. */
static int do_fill(struct pbt_dovecot *d, const char *fill, uint32_t *next_seed)
{
	char arg[512];
	if (snprintf(arg, sizeof(arg), "%s", fill) >= (int)sizeof(arg)) {
		fprintf(stderr, "pbtest: --fill argument too long\n");
		return -1;
	}
	char *parts[5] = { 0 };
	int n = 0;
	for (char *p = strtok(arg, ":"); p && n < 5; p = strtok(NULL, ":"))
		parts[n++] = p;
	uint64_t count;
	if (n < 4 || parse_u64(parts[3], MAX_FILL, &count) < 0) {
		fprintf(stderr, "pbtest: --fill wants USER:FOLDER:KIND:N[:SIZE]\n");
		return -1;
	}
	const char *user = parts[0], *folder = parts[1];
	if (pbt_dovecot_create_folder(d, user, folder) < 0)
		return -1;
	for (uint64_t i = 0; i < count; i++) {
		struct pbt_msgspec spec;
		const char *why;
		char seed[16];
		snprintf(seed, sizeof(seed), "%u", (unsigned)(*next_seed)++);
		if (strcmp(parts[2], "awkward") == 0) {
			/* every kind but large in turn, as pbt_msg_awkward_set() does */
			spec.kind = (enum pbt_msg_kind)(i % PBT_MSG_LARGE);
			spec.seed = (uint32_t)strtoul(seed, NULL, 10);
			spec.size = 0;
		} else if (make_spec(parts[2], seed, parts[4], &spec, &why) < 0) {
			fprintf(stderr, "pbtest: --fill: %s\n", why);
			return -1;
		}
		if (pbt_dovecot_add_generated(d, user, folder, &spec, "") < 0)
			return -1;
	}
	return 0;
}

/* Print a shell assignment, single-quoting a value that needs it. */
static void assign(const char *name, const char *value, int last)
{
	int plain = value[0] != '\0' && strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789/._-+:") == strlen(value);
	if (plain) {
		printf("%s=%s", name, value);
	} else {
		printf("%s='", name);
		for (const char *p = value; *p; p++) {
			if (*p == '\'')
				fputs("'\\''", stdout);
			else
				putchar(*p);
		}
		putchar('\'');
	}
	putchar(last ? '\n' : ' ');
}

static void assign_int(const char *name, int v, int last)
{
	char b[16];
	snprintf(b, sizeof(b), "%d", v);
	assign(name, b, last);
}

/* Read one line from fd 0 into buf (without the LF). 1 line, 0 EOF/stop,
 * -1 too long. Stops early when a signal sets g_stop. */
static int read_line(char *buf, size_t len, size_t *have)
{
	for (;;) {
		char *nl = memchr(buf, '\n', *have);
		if (nl != NULL) {
			*nl = '\0';
			return 1;
		}
		if (*have + 1 >= len)
			return -1;
		if (g_stop)
			return 0;
		ssize_t n = read(0, buf + *have, len - 1 - *have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		*have += (size_t)n;
	}
}

static void reply(int ok, const char *what)
{
	if (ok)
		printf("ok%s%s\n", what ? " " : "", what ? what : "");
	else
		printf("err %s\n", what);
	fflush(stdout);
}

/* A command line's words into w (MAX_WORDS at most): how many, or -1 when
 * there are too many (answered). */
static int split_words(char *line, char **w)
{
	int n = 0;
	for (char *p = strtok(line, " \t\r"); p; p = strtok(NULL, " \t\r")) {
		if (n == MAX_WORDS) {
			reply(0, "too many words");
			return -1;
		}
		w[n++] = p;
	}
	return n;
}

/* "add U F KIND SEED [SIZE] [FLAGS]" (n words): the message and its flags,
 * 0; or -1 when they are wrong (answered). */
static int add_args(char **w, int n, struct pbt_msgspec *spec, const char **flags)
{
	const char *why;
	int i = 5;
	const char *size = (n > i && all_digits(w[i])) ? w[i++] : NULL;
	*flags = n > i ? w[i++] : "";
	if (i != n) {
		reply(0, "usage: add U F KIND SEED [SIZE] [FLAGS]");
		return -1;
	}
	if (make_spec(w[3], w[4], size, spec, &why) < 0) {
		reply(0, why);
		return -1;
	}
	return 0;
}

enum cmd_result { CMD_REPLIED, CMD_OK, CMD_FAILED, CMD_QUIT };

/* Run one command line. Syntax errors are answered here (CMD_REPLIED); the
 * caller answers CMD_OK and CMD_FAILED, the latter with the harness's reason. */
static enum cmd_result run_command(struct pbt_dovecot *d, char *line)
{
	char *w[MAX_WORDS + 1] = { 0 };
	int n = split_words(line, w);
	if (n < 0)
		return CMD_REPLIED;
	if (n == 0) {
		reply(0, "empty command");
		return CMD_REPLIED;
	}
	const char *c = w[0];
	int r;
	if (strcmp(c, "quit") == 0 && n == 1) {
		reply(1, NULL);
		return CMD_QUIT;
	} else if (strcmp(c, "add-user") == 0 && n == 3) {
		r = pbt_dovecot_add_user(d, w[1], w[2]);
	} else if (strcmp(c, "set-password") == 0 && n == 3) {
		r = pbt_dovecot_set_password(d, w[1], w[2]);
	} else if (strcmp(c, "remove-user") == 0 && n == 2) {
		r = pbt_dovecot_remove_user(d, w[1]);
	} else if (strcmp(c, "create-folder") == 0 && n == 3) {
		r = pbt_dovecot_create_folder(d, w[1], w[2]);
	} else if (strcmp(c, "add") == 0 && n >= 5 && n <= 7) {
		struct pbt_msgspec spec;
		const char *flags;
		if (add_args(w, n, &spec, &flags) < 0)
			return CMD_REPLIED;
		r = pbt_dovecot_add_generated(d, w[1], w[2], &spec, flags);
	} else if (strcmp(c, "add-file") == 0 && (n == 4 || n == 5)) {
		r = pbt_dovecot_add_file(d, w[1], w[2], w[3], n == 5 ? w[4] : "");
	} else if (strcmp(c, "renumber") == 0 && n == 3) {
		r = pbt_dovecot_renumber(d, w[1], w[2]);
	} else if (strcmp(c, "maildir") == 0 && n == 3) {
		char path[300];
		const char *p = pbt_dovecot_maildir(d, w[1], w[2], path, sizeof(path));
		reply(p != NULL, p ? p : "bad user or folder name");
		return CMD_REPLIED;
	} else if (strcmp(c, "pause") == 0 && n == 1) {
		r = pbt_dovecot_pause(d);
	} else if (strcmp(c, "resume") == 0 && n == 1) {
		r = pbt_dovecot_resume(d);
	} else {
		reply(0, "unknown command or wrong number of words");
		return CMD_REPLIED;
	}
	return r == 0 ? CMD_OK : CMD_FAILED;
}

static enum cmd_result dovecot_command(void *arg, char *line)
{
	return run_command(arg, line);
}

/* While a command runs, stderr goes to a temporary file; afterwards it is
 * copied to the real stderr and its first line becomes the "err" reason. */
static int capture_begin(int *saved)
{
	g_reason[0] = '\0';
	fflush(stderr);
	FILE *tmp = tmpfile();
	*saved = dup(2);
	if (tmp == NULL || *saved < 0) {
		if (tmp)
			fclose(tmp);
		return -1;
	}
	g_capture = tmp;
	dup2(fileno(tmp), 2);
	return 0;
}

static void capture_end(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	if (g_capture == NULL)
		return;
	rewind(g_capture);
	char line[sizeof(g_reason)];
	while (fgets(line, sizeof(line), g_capture) != NULL) {
		fputs(line, stderr);
		if (g_reason[0] == '\0') {
			line[strcspn(line, "\r\n")] = '\0';
			snprintf(g_reason, sizeof(g_reason), "%s", line);
		}
	}
	fclose(g_capture);
	g_capture = NULL;
}

/* The stdin command loop of `pbtest dovecot` and `pbtest imapd`: each line
 * to run(arg, line), answered "ok" or "err REASON", until EOF, "quit" or
 * a stop signal. */
typedef enum cmd_result command_fn(void *arg, char *line);

static void command_loop(command_fn *run, void *arg)
{
	static char buf[LINE_MAX_LEN];
	size_t have = 0;

	fflush(stdout);
	for (;;) {
		int r = read_line(buf, sizeof(buf), &have);
		if (r == 0)
			break;
		if (r < 0) {
			reply(0, "line too long");
			break;
		}
		size_t used = strlen(buf) + 1;
		int saved, captured = capture_begin(&saved) == 0;
		enum cmd_result res = run(arg, buf);
		if (captured)
			capture_end(saved);
		if (res == CMD_OK)
			reply(1, NULL);
		else if (res == CMD_FAILED)
			reply(0, g_reason[0] ? g_reason : "failed");
		memmove(buf, buf + used, have - used);
		have -= used;
		if (res == CMD_QUIT || g_stop)
			break;
	}
}


/* Dovecot settings for --process-limit / --client-limit (0: not given). */
/* SIGTERM, SIGINT and SIGHUP end the command loop (no SA_RESTART: a read
 * returns EINTR); SIGPIPE is ignored. */
static void catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* --user NAME:PASSWORD: the name into user, *password into arg; -1 (said)
 * when it is not of that form. */
static int user_arg(const char *arg, char *user, size_t len, const char **password)
{
	const char *colon = strchr(arg, ':');
	if (colon == NULL || (size_t)(colon - arg) >= len) {
		fprintf(stderr, "pbtest: --user wants NAME:PASSWORD\n");
		return -1;
	}
	snprintf(user, len, "%.*s", (int)(colon - arg), arg);
	*password = colon + 1;
	return 0;
}

static void load_config(char *buf, size_t len, uint64_t process_limit, uint64_t client_limit)
{
	size_t used = 0;
	buf[0] = '\0';
	/* Dovecot's own configuration gives imap process_limit 1024 and
	 * service_count 1 (one process per session, client_limit unused). */
	if (process_limit > 0)
		used += (size_t)snprintf(buf + used, len - used,
		    "default_process_limit = %llu\nservice imap {\n  process_limit = %llu\n}\n",
		    (unsigned long long)process_limit, (unsigned long long)process_limit);
	if (client_limit > 0 && used < len)
		snprintf(buf + used, len - used,
		    "service imap {\n  service_count = 0\n  client_limit = %llu\n"
		    "  vsz_limit = 1G\n}\n"
		    "service imap-login {\n  service_count = 0\n  process_min_avail = 2\n"
		    "  client_limit = 4000\n}\n", (unsigned long long)client_limit);
}

/* Append one --config-line to extra (a line of printable ASCII, bounded). */
static int config_line(char *extra, size_t len, const char *line, unsigned *count)
{
	size_t n = strlen(line), used = strlen(extra);
	for (size_t i = 0; i < n; i++) {
		if (line[i] < 0x20 || line[i] > 0x7e) {
			fprintf(stderr, "pbtest: --config-line: printable ASCII only, one line\n");
			return -1;
		}
	}
	if (n == 0 || n > CONFIG_LINE_MAX || ++*count > CONFIG_LINES_MAX || used + n + 2 > len) {
		fprintf(stderr, "pbtest: --config-line: at most %d lines of 1 to %d octets\n",
		    CONFIG_LINES_MAX, CONFIG_LINE_MAX);
		return -1;
	}
	snprintf(extra + used, len - used, "%s\n", line);
	return 0;
}

static int cmd_dovecot(int argc, char **argv)
{
	uint64_t process_limit = 0, client_limit = 0;
	const char *oauth2_url = NULL, *oauth2_mechs = "xoauth2 oauthbearer";
	char extra[512 + CONFIG_LINES_MAX * (CONFIG_LINE_MAX + 1)];
	unsigned config_lines = 0;
	/* options come in pairs: --user X, --fill X, --process-limit N, --client-limit N,
	 * --oauth2 URL, --oauth2-mechanisms M, --config-line L */
	for (int i = 2; i < argc; i += 2) {
		if (i + 1 == argc)
			return usage();
		if (strcmp(argv[i], "--oauth2") == 0) {
			oauth2_url = argv[i + 1];
		} else if (strcmp(argv[i], "--oauth2-mechanisms") == 0) {
			oauth2_mechs = argv[i + 1];
		} else if (strcmp(argv[i], "--process-limit") == 0) {
			if (parse_u64(argv[i + 1], 100000, &process_limit) < 0 || process_limit == 0)
				return usage();
		} else if (strcmp(argv[i], "--client-limit") == 0) {
			if (parse_u64(argv[i + 1], 10000, &client_limit) < 0 || client_limit == 0)
				return usage();
		} else if (strcmp(argv[i], "--user") != 0 && strcmp(argv[i], "--fill") != 0 &&
		    strcmp(argv[i], "--config-line") != 0) {
			return usage();
		}
	}
	load_config(extra, sizeof(extra), process_limit, client_limit);
	for (int i = 2; i < argc; i += 2)
		if (strcmp(argv[i], "--config-line") == 0 &&
		    config_line(extra, sizeof(extra), argv[i + 1], &config_lines) < 0)
			return 2;
	catch_signals();

	struct pbt_dovecot *d = oauth2_url != NULL
	    ? pbt_dovecot_start_oauth2(oauth2_url, oauth2_mechs, extra[0] ? extra : NULL)
	    : pbt_dovecot_start_with(extra[0] ? extra : NULL);
	if (d == NULL)
		return 1;
	int rc = 0;
	uint32_t seed = 1;
	for (int i = 2; i < argc && rc == 0; i += 2) {
		if (strcmp(argv[i], "--process-limit") == 0 ||
		    strcmp(argv[i], "--client-limit") == 0 || strcmp(argv[i], "--oauth2") == 0 ||
		    strcmp(argv[i], "--oauth2-mechanisms") == 0 ||
		    strcmp(argv[i], "--config-line") == 0) {
			continue;
		} else if (strcmp(argv[i], "--user") == 0) {
			char user[128];
			const char *password;
			if (user_arg(argv[i + 1], user, sizeof(user), &password) < 0) {
				rc = 2;
				break;
			}
			if (pbt_dovecot_add_user(d, user, password) < 0)
				rc = 1;
		} else if (do_fill(d, argv[i + 1], &seed) < 0) {
			rc = 1;
		}
	}
	if (rc == 0) {
		assign("DIR", d->dir, 0);
		assign("CA_FILE", d->ca_file, 0);
		assign_int("IMAP_PORT", d->imap_port, 0);
		assign_int("IMAPS_PORT", d->imaps_port, 0);
		assign_int("POP3_PORT", d->pop3_port, 0);
		assign_int("POP3S_PORT", d->pop3s_port, 1);
		command_loop(dovecot_command, d);
	}
	pbt_dovecot_stop(d);
	return rc;
}

/* One command for `pbtest imapd`; as run_command. */
static enum cmd_result run_imapd_command(struct pbt_imapd *d, char *line)
{
	char *w[MAX_WORDS + 1] = { 0 };
	int n = split_words(line, w);
	if (n < 0)
		return CMD_REPLIED;
	const char *c = n ? w[0] : "";
	int r;
	if (strcmp(c, "quit") == 0 && n == 1) {
		reply(1, NULL);
		return CMD_QUIT;
	} else if (strcmp(c, "add-user") == 0 && n == 3) {
		r = pbt_imapd_add_user(d, w[1], w[2]);
	} else if (strcmp(c, "create-folder") == 0 && n == 3) {
		r = pbt_imapd_create_folder(d, w[1], w[2]);
	} else if (strcmp(c, "add") == 0 && n >= 5 && n <= 7) {
		struct pbt_msgspec spec;
		const char *flags;
		if (add_args(w, n, &spec, &flags) < 0)
			return CMD_REPLIED;
		r = pbt_imapd_add_generated(d, w[1], w[2], &spec, flags);
	} else if (strcmp(c, "add-file") == 0 && (n == 4 || n == 5)) {
		size_t len;
		char *data = pbt_read_file(w[3], (size_t)1 << 30, &len);
		r = data ? pbt_imapd_add_message(d, w[1], w[2], data, len, n == 5 ? w[4] : "")
			 : -1;
		if (data == NULL)
			fprintf(stderr, "pbtest: cannot read %s\n", w[3]);
		free(data);
	} else if (strcmp(c, "renumber") == 0 && n == 3) {
		r = pbt_imapd_renumber(d, w[1], w[2]);
	} else if (strcmp(c, "folder") == 0 && n == 2) {
		char name[300];
		const char *f = pbt_imapd_folder(d, w[1], name, sizeof(name));
		reply(f != NULL, f ? f : "bad folder name");
		return CMD_REPLIED;
	} else {
		reply(0, "unknown command or wrong number of words");
		return CMD_REPLIED;
	}
	return r == 0 ? CMD_OK : CMD_FAILED;
}

static enum cmd_result imapd_command(void *arg, char *line)
{
	return run_imapd_command(arg, line);
}

static int cmd_imapd(int argc, char **argv)
{
	int kind = argc >= 3 ? pbt_imapd_kind_parse(argv[2]) : -1;
	if (kind < 0)
		return usage();
	if (argc == 4 && strcmp(argv[3], "--check") == 0) {
		char why[400];
		if (pbt_imapd_available((enum pbt_imapd_kind)kind, why, sizeof(why)))
			return 0;
		printf("%s\n", why);
		return 77;
	}
	const char *hide = NULL;
	for (int i = 3; i < argc; i += 2) {
		if ((strcmp(argv[i], "--user") != 0 && strcmp(argv[i], "--hide") != 0) ||
		    i + 1 == argc)
			return usage();
		if (strcmp(argv[i], "--hide") == 0)
			hide = argv[i + 1];
	}
	catch_signals();

	struct pbt_imapd *d = pbt_imapd_start((enum pbt_imapd_kind)kind, hide);
	if (d == NULL)
		return 1;
	int rc = 0;
	for (int i = 3; i < argc && rc == 0; i += 2) {
		if (strcmp(argv[i], "--user") != 0)
			continue;
		char user[128];
		const char *password;
		if (user_arg(argv[i + 1], user, sizeof(user), &password) < 0) {
			rc = 2;
			break;
		}
		if (pbt_imapd_add_user(d, user, password) < 0)
			rc = 1;
	}
	if (rc == 0) {
		char sep[2] = { d->sep, 0 };
		assign("KIND", pbt_imapd_kind_name(d->kind), 0);
		assign("DIR", d->dir, 0);
		assign_int("IMAP_PORT", d->imap_port, 0);
		assign("PREFIX", d->prefix, 0);
		assign("SEP", sep, 1);
		command_loop(imapd_command, d);
	}
	pbt_imapd_stop(d);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "imapd") == 0)
		return cmd_imapd(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "gen") == 0)
		return cmd_gen(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "dovecot") == 0)
		return cmd_dovecot(argc, argv);
	return usage();
}
