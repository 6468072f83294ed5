/* bridge/cmd/report.c — `popbridge report` (SPEC §7, §8): accounts and
 * devices, as a table or as JSON (fields documented in docs/MIGRATION.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "bridge/base/text.h"
#include "bridge/cmd/admin.h"

#define NAME "report"
#define STALE_DAYS 30
#define DAY 86400

struct rep {
	struct cmd_table t;       /* table format */
	struct cmd_table stale;   /* the stale devices */
	FILE *out;                  /* json format: where it goes */
	bool json;
	int64_t now;
	int64_t account_open;       /* json: id of the account being written */
	int64_t moved;              /* the account's move mark (SPEC §14); 0: here */
	bool first_account, first_device;
};

/* ---- JSON ---------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
	if (n == 0 || s[0] > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0)))
		return 0; /* overlong, surrogate */
	if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return n;
}

/* A JSON string: quotes, backslashes and control characters escaped,
 * invalid UTF-8 replaced by U+FFFD. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
			continue;
		}
		size_t n = utf8_len(p);
		if (n == 0) {
			fputs("\\ufffd", f);
			p++;
			continue;
		}
		fwrite(p, 1, n, f);
		p += n;
	}
	fputc('"', f);
}

static void json_str_or_null(FILE *f, const char *s, bool known)
{
	if (known)
		json_str(f, s);
	else
		fputs("null", f);
}

static void json_time(FILE *f, int64_t t)
{
	char buf[32];
	if (t == 0)
		fputs("null", f);
	else
		fprintf(f, "\"%s\"", cmd_admin_time(t, "", buf, sizeof(buf)));
}

/* (A device of an account moved to another node is that node's business.) */
static bool is_stale(const struct rep *r, const struct state_device *d)
{
	return !d->revoked && r->moved == 0 &&
	    (d->last_login == 0 || r->now - d->last_login > STALE_DAYS * DAY);
}

static void json_device(struct rep *r, const struct state_device *d)
{
	FILE *f = r->out;
	bool seen = d->last_login != 0;

	fprintf(f, "%s\n      {\"device\": ", r->first_device ? "" : ",");
	r->first_device = false;
	json_str(f, d->name);
	fputs(", \"created\": ", f);
	json_time(f, d->created);
	fputs(", \"last_login\": ", f);
	json_time(f, d->last_login);
	fputs(", \"last_address\": ", f);
	json_str_or_null(f, d->last_address, seen && d->last_address[0]);
	fputs(", \"protocol\": ", f);
	json_str_or_null(f, d->protocol, seen && d->protocol[0]);
	fputs(", \"tls\": ", f);
	json_str_or_null(f, d->tls[0] ? d->tls : "none", seen);
	/* protocol is the last login's; a device that fetches over POP3 and
	 * sends over SMTP (or moved to IMAP) keeps its POP3 side here */
	fputs(", \"last_pop3_login\": ", f);
	json_time(f, d->pop3_login);
	if (d->pop3_login != 0)   /* an IMAP front login builds no POP3 view */
		fprintf(f, ", \"retrieved\": %lld, \"deleted\": %lld, \"waiting\": %lld",
		    (long long)d->retrieved, (long long)d->deleted, (long long)d->waiting);
	else
		fputs(", \"retrieved\": null, \"deleted\": null, \"waiting\": null", f);
	fprintf(f, ", \"pending_commits\": %lld, \"stuck_commits\": %lld",
	    (long long)d->commits_pending, (long long)d->commits_stuck);
	fprintf(f, ", \"sent\": %lld, \"sent_copies_pending\": %lld",
	    (long long)d->sent, (long long)d->sent_pending);
	fprintf(f, ", \"revoked\": %s, \"stale\": %s, \"days_since_login\": ",
	    d->revoked ? "true" : "false", is_stale(r, d) ? "true" : "false");
	if (seen)
		fprintf(f, "%lld", (long long)((r->now - d->last_login) / DAY));
	else
		fputs("null", f);
	fputc('}', f);
}

static void json_close_account(struct rep *r)
{
	if (r->account_open != 0)
		fputs(r->first_device ? "]}" : "\n    ]}", r->out);
}

static int json_cb(void *arg, const struct state_account *a, const struct state_device *d)
{
	struct rep *r = arg;
	FILE *f = r->out;

	r->moved = a->moved;
	if (a->id != r->account_open) {
		json_close_account(r);
		fprintf(f, "%s\n    {\"account\": ", r->first_account ? "" : ",");
		r->first_account = false;
		json_str(f, a->name);
		fprintf(f, ", \"auth\": \"%s\", \"credential\": \"%s\", \"credential_ok\": %s",
		    a->auth == STATE_AUTH_MANAGED ? "managed" : "passthrough",
		    a->credential == STATE_CRED_OAUTH2 ? "oauth2" : "password",
		    a->auth != STATE_AUTH_MANAGED || a->credential_ok < 0 ? "null" :
		    a->credential_ok ? "true" : "false");
		fputs(", \"moved\": ", f);
		json_time(f, a->moved);
		fputs(", \"devices\": [", f);
		r->account_open = a->id;
		r->first_device = true;
	}
	if (d != NULL)
		json_device(r, d);
	return 0;
}

/* ---- table ----------------------------------------------------------------------- */

/* Printable ASCII only in a table cell (names may hold anything). */
static void cell(char *dst, size_t cap, const char *s)
{
	base_text_printable_str(dst, cap, s);
}

static void status_text(const struct rep *r, const struct state_device *d, char *buf,
    size_t len)
{
	char when[32];

	if (r->moved != 0)
		snprintf(buf, len, "MOVED away %s", cmd_admin_time(r->moved, "?", when,
		    sizeof(when)));
	else if (d->revoked)
		snprintf(buf, len, "revoked");
	else if (d->last_login == 0)
		snprintf(buf, len, "STALE: never seen");
	else if (is_stale(r, d))
		snprintf(buf, len, "STALE: %lld days", (long long)((r->now - d->last_login) / DAY));
	else
		snprintf(buf, len, "active");
	/* a commit not yet applied upstream; stuck: failed STATE_JOURNAL_STUCK
	 * times or more (the log has an error line for it) */
	size_t o = strlen(buf);
	if (d->commits_stuck > 0 && o < len)
		snprintf(buf + o, len - o, "; %lld commit(s) STUCK", (long long)d->commits_stuck);
	else if (d->commits_pending > 0 && o < len)
		snprintf(buf + o, len - o, "; %lld commit(s) pending",
		    (long long)d->commits_pending);
	o = strlen(buf);
	if (d->sent_pending > 0 && o < len)
		snprintf(buf + o, len - o, "; %lld Sent copies pending",
		    (long long)d->sent_pending);
}

static int table_cb(void *arg, const struct state_account *a, const struct state_device *d)
{
	struct rep *r = arg;
	char acc[STATE_ACCOUNT_MAX + 1], dev[STATE_DEVICE_MAX + 1], addr[STATE_ADDR_MAX + 1];
	char moved[48] = "";
	char login[32], rt[24], de[24], wa[24], se[24], st[128], tls[STATE_TLS_MAX + 1];
	const char *auth = a->auth == STATE_AUTH_MANAGED ? "managed" : "passthrough";
	char cred[32];

	/* the upstream credential: its kind, and how its last login went */
	snprintf(cred, sizeof(cred), "%s%s", a->credential == STATE_CRED_OAUTH2 ? "oauth2" :
	    "password", a->auth != STATE_AUTH_MANAGED || a->credential_ok < 0 ? "" :
	    a->credential_ok ? " ok" : " REFUSED");
	cell(acc, sizeof(acc), a->name);
	r->moved = a->moved;
	if (d == NULL) {
		char when[32];
		if (a->moved != 0)
			snprintf(moved, sizeof(moved), "MOVED away %s", cmd_admin_time(a->moved, "?",
			    when, sizeof(when)));
		const char *row[] = { acc, auth, cred, "(no devices)", "", "", "", "", "", "", "",
		    "", moved };
		cmd_table_row(&r->t, row);
		return 0;
	}
	bool seen = d->last_login != 0;
	cell(dev, sizeof(dev), d->name);
	cell(addr, sizeof(addr), seen && d->last_address[0] ? d->last_address : "-");
	cell(tls, sizeof(tls), !seen ? "-" : d->tls[0] ? d->tls : "none");
	cmd_admin_time(d->last_login, "never", login, sizeof(login));
	snprintf(rt, sizeof(rt), "%lld", (long long)d->retrieved);
	snprintf(de, sizeof(de), "%lld", (long long)d->deleted);
	snprintf(wa, sizeof(wa), "%lld", (long long)d->waiting);
	snprintf(se, sizeof(se), "%lld", (long long)d->sent);
	status_text(r, d, st, sizeof(st));
	const char *row[] = { acc, auth, cred, dev, login, addr, seen && d->protocol[0] ?
	    d->protocol : "-", tls, d->pop3_login ? rt : "-", d->pop3_login ? de : "-",
	    d->pop3_login ? wa : "-", se, st };
	cmd_table_row(&r->t, row);
	if (is_stale(r, d)) {
		const char *srow[] = { acc, dev, login, st };
		cmd_table_row(&r->stale, srow);
	}
	return 0;
}

static int run(struct config_cmdline *c)
{
	struct cmd_admin ad;
	struct rep r;
	char gen[32];
	int status = PB_EXIT_FAIL;

	memset(&r, 0, sizeof(r));
	if (cmd_admin_begin(&ad, c) != 0)
		goto out;
	struct stat st;
	if (stat(ad.o.state, &st) != 0) {
		cmd_admin_fail(&ad, "%s: %s (no state file to report on)", ad.o.state,
		    strerror(errno));
		goto out;
	}
	if (cmd_admin_open_state(&ad) != 0)
		goto out;
	r.json = c->arg[CMD_O_REPORT_FORMAT].num == CMD_REPORT_JSON;
	r.now = (int64_t)time(NULL);
	r.out = stdout;
	r.first_account = true;
	int rc;
	if (r.json) {
		printf("{\"generated\": \"%s\", \"stale_days\": %d, \"accounts\": [",
		    cmd_admin_time(r.now, "", gen, sizeof(gen)), STALE_DAYS);
		rc = state_report(ad.db, json_cb, &r);
		json_close_account(&r);
		printf(r.first_account ? "]}\n" : "\n  ]}\n");
	} else {
		cmd_table_init(&r.t, 13);
		cmd_table_init(&r.stale, 4);
		const char *head[] = { "ACCOUNT", "AUTH", "CREDENTIAL", "DEVICE", "LAST LOGIN",
		    "ADDRESS",
		    "PROTO", "TLS", "RETR", "DELE", "WAIT", "SENT", "STATUS" };
		const char *shead[] = { "ACCOUNT", "DEVICE", "LAST LOGIN", "STATUS" };
		cmd_table_row(&r.t, head);
		cmd_table_row(&r.stale, shead);
		rc = state_report(ad.db, table_cb, &r);
		if (rc == STATE_OK) {
			if (cmd_table_print(&r.t, stdout) != 0)
				rc = STATE_ERROR;
			printf("\nDevices not seen for %d days or never (not revoked): %zu\n",
			    STALE_DAYS, r.stale.nrow - 1);
			if (r.stale.nrow > 1 && cmd_table_print(&r.stale, stdout) != 0)
				rc = STATE_ERROR;
		}
		cmd_table_free(&r.t);
		cmd_table_free(&r.stale);
	}
	if (rc != STATE_OK) {
		cmd_admin_state_fail(&ad, rc, "report");
		goto out;
	}
	if (cmd_admin_stdout_flush(&ad, "the report") != 0)
		goto out;
	status = PB_EXIT_OK;
out:
	cmd_admin_end(&ad);
	return status;
}

static const struct config_cmd_opt opts[] = {
	{ CMD_O_REPORT_FORMAT, 0, NULL },
	{ PB_K_STATE, 0, NULL },
	{ CMD_O_CONFIG, 0, "read --state from this configuration" },
};

const struct config_command cmd_report = {
	.name = NAME,
	.summary = "accounts and devices: who still uses POP3 (table, json)",
	.text =
	    "Accounts with their upstream credential (password or oauth2; ok or\n"
	    "REFUSED as its last upstream login went) and their devices: last login,\n"
	    "last address, protocol of that login (pop3, imap, smtp), TLS version,\n"
	    "messages retrieved, deleted and waiting as of the device's last POP3\n"
	    "session ('-' if it never used POP3; a POP3 device that last logged in to\n"
	    "send keeps them), revoked, and commits not yet applied upstream ('N\n"
	    "commit(s) pending'; STUCK once one has failed 3 times: see the error log),\n"
	    "messages sent through SMTP submission and their Sent copies not yet in\n"
	    "the Sent folder ('N Sent copies pending'); 'MOVED away' with the time for\n"
	    "an account exported to another node. Devices not seen for 30 days, or\n"
	    "never, are marked stale and listed again at the end of the table: the\n"
	    "plan for finishing a migration. JSON fields (last_pop3_login among them)\n"
	    "are described in docs/MIGRATION.md.\n",
	.table = cmd_options, .opts = opts, .n_opts = CONFIG_N(opts),
	.run = run,
};
