/* bridge/cmd/admin.h — what the commands that read the settings and the
 * state file share: `popbridge account` and `popbridge device` (SPEC §8),
 * import-uidls, report, autoconfig.
 *
 * Contract:
 *  - the commands' run functions (cmd.h) return the exit status: 0 done,
 *    1 the command failed (message on stderr), 2 the command line cannot
 *    be understood.
 *  - Settings: --config FILE, then --state / --key-file on the command line
 *    (defaults: popbridge.db, and the state file's name + ".key").
 *  - Secrets: the upstream password is read from standard input (first
 *    line; echo is turned off on a terminal) and never taken from argv; a
 *    device password is printed once, on the last line of `device add`, and
 *    stored only as its scrypt hash. Nothing secret is written to stderr.
 *  - The key file is created (mode 0600) only by `account add` or
 *    `account set-password`, and only while no managed account exists in
 *    the state file: a missing key file for existing sealed passwords is an
 *    error, never a silent new key.
 */
#ifndef BRIDGE_CMD_ADMIN_H
#define BRIDGE_CMD_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bridge/cmd/cmd.h"
#include "bridge/managed/secret.h"
#include "state/state.h"

/* One run of an admin subcommand. */
struct cmd_admin {
	const char *name;       /* "account add", for messages */
	const struct config_cmdline *c; /* parsed arguments (c->args: positionals) */
	struct config_options o;    /* effective settings (config + flags) */
	struct state_db *db;    /* after cmd_admin_open_state() */
};

/* Start a run of c's command: build the settings (--config, then the
 * flags). 0 to go on; -1 after printing the problem (exit PB_EXIT_FAIL).
 * cmd_admin_end() is needed in both cases. */
int cmd_admin_begin(struct cmd_admin *ad, const struct config_cmdline *c);
/* Open (create/migrate) the state file; -1 after printing the problem. */
int cmd_admin_open_state(struct cmd_admin *ad);
/* The same for a command that acts only on what the state file holds (its
 * accounts and devices): a state file that is not there is refused ("no
 * state file", never created: a mistyped --state is not an empty node). */
int cmd_admin_open_existing_state(struct cmd_admin *ad);
/* What a new managed account's name needs beyond STATE_ACCOUNT_RULE: its
 * devices log in with it as their user name (bridge/base/username.h: split
 * at the first device separator; no space). 0, or -1 after printing. */
int cmd_admin_new_account_name(const struct cmd_admin *ad, const char *account);
/* Look the account up in the open state file: 0, or non-zero after
 * printing "no account '...'" (or the state error). */
int cmd_admin_find_account(struct cmd_admin *ad, const char *account, struct state_account *a);
/* An account moved to another node (SPEC §14: exported, its rows frozen
 * here) is changed there, not here: 0 when a is served here, else non-zero
 * after printing so. */
int cmd_admin_refuse_moved(const struct cmd_admin *ad, const struct state_account *a);
/* How many devices account_id has, into *n: a state result code. */
int cmd_admin_count_devices(struct cmd_admin *ad, int64_t account_id, size_t *n);
/* Load the key file; with may_create, create it when it does not exist and
 * the state file holds no managed account (but `except`, may be NULL: the
 * account whose password is being replaced). When such accounts exist, the
 * key must open one of their sealed passwords (a wrong key file is refused).
 * -1 after printing the problem. *created (may be NULL) is set when this
 * call created the file. */
int cmd_admin_load_key(struct cmd_admin *ad, bool may_create, const char *except,
    struct managed_key *key, bool *created);
void cmd_admin_end(struct cmd_admin *ad);

/* Print "popbridge NAME: message" on stderr; returns PB_EXIT_FAIL. */
int cmd_admin_fail(const struct cmd_admin *ad, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same for state errors: "popbridge NAME: what: state's message". */
int cmd_admin_state_fail(const struct cmd_admin *ad, int rc, const char *what);
/* Flush standard output: 0, or -1 after printing "popbridge NAME: writing
 * WHAT failed: reason" when any of it could not be written (a full disk, a
 * closed pipe), so a command never exits 0 with its output lost. */
int cmd_admin_stdout_flush(const struct cmd_admin *ad, const char *what);

/* Read the first line of standard input into buf (at most max octets, no
 * CR/LF/NUL, not empty). prompt is shown on stderr when stdin is a
 * terminal. -1 after printing the problem; buf then holds nothing. */
int cmd_admin_read_secret(const struct cmd_admin *ad, const char *prompt, char *buf,
    size_t size, size_t max);

/* Read the first line of the file at path (at most max octets, no NUL, not
 * empty; a CR before the LF dropped) into buf of size octets; what names it
 * in the message ("the password"). -1 after printing the problem; buf then
 * holds nothing. */
int cmd_admin_read_secret_file(const struct cmd_admin *ad, const char *path, char *buf,
    size_t size, size_t max, const char *what);

/* "2026-11-25T20:30:00Z", or `none` when t is 0. */
const char *cmd_admin_time(int64_t t, const char *none, char *buf, size_t len);

/* A table printed with aligned columns (two spaces apart, the last column
 * unpadded). Cells are copied. */
struct cmd_table {
	size_t ncol, nrow, cap;
	char **cells;           /* nrow * ncol */
	bool failed;            /* an allocation failed */
};
void cmd_table_init(struct cmd_table *t, size_t ncol);
void cmd_table_row(struct cmd_table *t, const char *const *cells);
/* 0, or -1 when a row could not be stored (nothing printed). */
int cmd_table_print(struct cmd_table *t, FILE *f);
void cmd_table_free(struct cmd_table *t);

#endif
