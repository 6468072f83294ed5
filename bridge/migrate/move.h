/* bridge/migrate/move.h — the account file of `popbridge account export` and
 * `popbridge account import` (SPEC §14): one account's complete state,
 * moved between the nodes of a fleet. docs/FLEET.md describes it for
 * administrators.
 *
 * The format, version 1:
 *  - JSON Lines: one JSON object per line, UTF-8, each line ending in LF and
 *    at most MIGRATE_MOVE_LINE_MAX octets (LF included).
 *  - Line 1, the header: {"format": "popbridge-account", "version": 1,
 *    "account": NAME, "auth": "managed"|"passthrough", "exported": UNIX-TIME,
 *    "exported_utc": ISO-8601, "host": NAME, "popbridge": VERSION,
 *    "schema": N, "secrets": S}. S is {"mode": "clear"} or {"mode":
 *    "passphrase", "kdf": "scrypt", "n": N, "r": R, "p": P, "salt": B64,
 *    "cipher": "aes-256-gcm", "check": B64}.
 *  - Then one line per row: {"table": NAME, "row": {COLUMN: VALUE, ...}},
 *    the tables and columns of state_move_tables() (state/state.h), tables
 *    in that order, every column present. VALUE: null; an integer; a string
 *    (text that is valid UTF-8); {"base64": B64} (text that is not, or a
 *    blob); a sealed secret (STATE_MC_SEALED) is {"clear": B64} in mode clear
 *    and {"sealed": B64} in mode passphrase: a 12-octet nonce, the
 *    AES-256-GCM ciphertext and its 16-octet tag, with the additional data
 *    "popbridge-account/1", NUL, the account name, NUL, "TABLE.COLUMN" (so no
 *    secret can stand in for another).
 *  - Last line: {"end": {"rows": N, "sha256": HEX}} in mode clear, {"end":
 *    {"rows": N, "hmac-sha256": HEX}} in mode passphrase: over every octet
 *    of the lines before it. Nothing follows it.
 *  - Keys: scrypt(passphrase, salt, N, r, p) gives 64 octets: the first 32
 *    seal the secrets, the last 32 are the HMAC key. "check" is
 *    HMAC-SHA256(that key, "popbridge-account/1 passphrase check"): a wrong
 *    passphrase is told as such before anything else. Export uses N = 2^15,
 *    r = 8, p = 1 and a 16-octet random salt; a reader takes N = 2^14..2^20
 *    (a power of two), r = 1..16, p = 1..4 and at most 256 MiB of scrypt
 *    memory.
 *  - Without a passphrase the SHA-256 finds a damaged or cut file, not a
 *    deliberate change; with one, the HMAC finds any change.
 *  - Versions: "version" grows when the meaning of a record changes; a
 *    reader refuses a newer one. A new table or column is a new name: a
 *    reader that does not know it refuses the file (its data would be
 *    lost); a file without a table imports. A column added to a table later
 *    needs a default for files without it (then version 2 says which).
 *  - Bounds: a line, MIGRATE_MOVE_LINE_MAX; rows, MIGRATE_MOVE_ROWS_MAX;
 *    every value, its column's (state/state.h); JSON objects with a key
 *    twice are refused.
 *
 * Contract:
 *  - migrate_move_read() reads and checks a whole file: the header, every
 *    row (state_move_row_check; sealed secrets opened with the passphrase,
 *    printable-or-not text without NUL, at most what the node's seal takes),
 *    the end record and the digest. The sink (may be NULL: check only) sees
 *    the header, then each row with sealed columns holding the secret's
 *    plaintext (cleansed after the call). 0, or -1 with "line N: ..." in err.
 *  - migrate_move_export() writes the account's file to out: every row of
 *    state_move_dump(), sealed secrets opened with the node's key (NULL for
 *    a passthrough account: it holds none).
 *  - migrate_move_import() loads a file that migrate_move_read() accepted
 *    into db, all or nothing (state_move_load_*), sealing the secrets with
 *    this node's key (NULL: the file must hold none). The digest is checked
 *    again before the commit (the file may have changed since).
 *  - Secrets never reach err, the log or anything but `out`.
 */
#ifndef BRIDGE_MIGRATE_MOVE_H
#define BRIDGE_MIGRATE_MOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bridge/managed/secret.h"
#include "state/state.h"

#define MIGRATE_MOVE_FORMAT      "popbridge-account"
#define MIGRATE_MOVE_VERSION     1
#define MIGRATE_MOVE_LINE_MAX    65536
#define MIGRATE_MOVE_ROWS_MAX    100000000
#define MIGRATE_MOVE_PASSPHRASE_MIN 8
#define MIGRATE_MOVE_PASSPHRASE_MAX 1024

struct migrate_move_header {
	int version;
	char account[STATE_ACCOUNT_MAX + 1];
	bool managed;
	bool sealed;               /* the secrets are sealed with a passphrase */
	int64_t exported;
	int schema;
	char host[256];
	char popbridge[32];
};

struct migrate_move_sink {
	int (*header)(void *arg, const struct migrate_move_header *h, char *err, size_t errlen);
	int (*row)(void *arg, const struct state_move_table *t, const struct state_move_value *v,
	    char *err, size_t errlen);
	void *arg;
};

/* What a file holds (export and import count it). */
struct migrate_move_stats {
	size_t rows;
	size_t devices;
	size_t messages;           /* known messages, gone ones included */
	size_t pending;            /* journal entries not finished */
	size_t secrets;            /* sealed values (upstream password, tokens) */
	size_t table_rows[16];     /* per table of state_move_tables() */
};

int migrate_move_read(FILE *f, const char *passphrase, const struct migrate_move_sink *sink,
    struct migrate_move_header *h, struct migrate_move_stats *st, char *err, size_t errlen);

int migrate_move_export(struct state_db *db, const struct state_account *a,
    const struct managed_key *key, const char *passphrase, FILE *out,
    struct migrate_move_stats *st, char *err, size_t errlen);

/* *replaced: the move mark of the account's frozen rows this import
 * replaced (it came back), or 0. */
int migrate_move_import(struct state_db *db, FILE *in, const char *passphrase,
    const struct managed_key *key, struct migrate_move_stats *st, int64_t *replaced,
    char *err, size_t errlen);

#endif
