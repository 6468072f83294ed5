/* tests/fuzz/fuzz_account_file.c — libFuzzer target for the account file of
 * `popbridge account import` (bridge/migrate/move.h, migrate_move_read):
 * the whole input is the file, read without a passphrase (scrypt would make
 * every sealed input cost a tenth of a second; the passphrase's own path is
 * the check value, then the same rows). The contract is checked on every
 * input: each row handed on passes state_move_row_check, and a sealed
 * column's plaintext is 1..SECRET_TOKEN_MAX octets without NUL; the error
 * is one printable line; the counts agree with the rows seen. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/config/options.h"
#include "bridge/migrate/move.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t rows_seen;

static int header(void *arg, const struct migrate_move_header *h, char *err, size_t errlen)
{
	(void)arg;
	(void)err;
	(void)errlen;
	if (!state_account_name_ok(h->account) || h->sealed)
		abort();
	return 0;
}

static int row(void *arg, const struct state_move_table *t, const struct state_move_value *v,
    char *err, size_t errlen)
{
	(void)arg;
	if (state_move_row_check(t, v, err, errlen) != 0)
		abort();
	for (size_t c = 0; c < t->ncol; c++)
		if ((t->cols[c].flags & STATE_MC_SEALED) && !v[c].null &&
		    (v[c].len == 0 || v[c].len > SECRET_TOKEN_MAX ||
		    memchr(v[c].p, '\0', v[c].len) != NULL))
			abort();
	rows_seen++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct migrate_move_sink sink = { header, row, NULL };
	struct migrate_move_header h;
	struct migrate_move_stats st;
	char err[PB_ERR_MAX];

	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "r");
	if (f == NULL)
		return 0;
	rows_seen = 0;
	err[0] = '\0';
	int rc = migrate_move_read(f, NULL, &sink, &h, &st, err, sizeof(err));
	fclose(f);
	if (rc == 0 && (st.rows != rows_seen || st.devices > st.rows || st.messages > st.rows))
		abort();
	if (rc != 0) {
		if (err[0] == '\0')
			abort();
		for (const char *p = err; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				abort();
	}
	return 0;
}
