/* state/report.c — accounts and their devices for `popbridge report`. */
#include <stdlib.h>

#include "state/db_int.h"

static const char SQL_REPORT[] =
	"SELECT " DB_ACCOUNT_COLS ", " DB_DEVICE_COMMIT_COLS
	" FROM accounts a LEFT JOIN devices d ON d.account_id = a.id"
	" ORDER BY a.name, d.name";

int state_report(struct state_db *db, state_report_cb *cb, void *arg)
{
	struct state_account *a;
	struct state_device *d;
	struct db_tx tx;
	sqlite3_stmt *st;
	int rc;

	DB_ENTER(db);
	a = malloc(sizeof *a);
	d = malloc(sizeof *d);
	if (a == NULL || d == NULL) {
		free(a);
		free(d);
		return state_db_fail(db, STATE_ERROR, "report: out of memory");
	}
	if (state_db_tx_begin_read(db, &tx) != STATE_OK) {
		free(a);
		free(d);
		return STATE_ERROR;
	}
	st = state_db_stmt(db, SQL_REPORT);
	rc = st == NULL ? SQLITE_ERROR : SQLITE_DONE;
	while (st != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		bool has_device = sqlite3_column_type(st, DB_ACCOUNT_NCOLS) != SQLITE_NULL;
		int stop;

		state_db_row_to_account(st, 0, a);
		if (has_device)
			state_db_row_to_device(st, DB_ACCOUNT_NCOLS, d);
		db->in_cb++;
		stop = cb(arg, a, has_device ? d : NULL);
		db->in_cb--;
		if (stop != 0) {
			rc = SQLITE_DONE;
			break;
		}
	}
	state_db_done(st);
	state_db_tx_end_read(db, &tx);
	free(a);
	free(d);
	if (rc != SQLITE_DONE)
		return st == NULL ? STATE_ERROR : state_db_sqlerr(db, "report");
	return STATE_OK;
}
