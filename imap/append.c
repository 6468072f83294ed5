/* imap/append.c — APPEND with a streamed literal and UIDPLUS's APPENDUID
 * (RFC 3501 §6.3.11, RFC 4315 §3; see imap.h). */
#include "imap/session_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

struct append_ctx {
	uint32_t uidvalidity, uid;
};

static void append_tagged(struct imap_session *s, void *vctx, const struct imap_response *r)
{
	struct append_ctx *c = vctx;
	(void)s;
	if (r->cond == IMAP_COND_OK && r->code == IMAP_CODE_APPENDUID && r->code_nargs >= 2 &&
	    (imap_arg_number32(&r->code_args[0], &c->uidvalidity) < 0 ||
	     imap_arg_number32(&r->code_args[1], &c->uid) < 0))
		c->uidvalidity = c->uid = 0;   /* unusable: as if not given */
}

enum imap_result imap_append(struct imap_session *s, const char *mailbox, unsigned sysflags,
    int64_t date, uint64_t size, imap_source_fn *src, void *src_arg, uint32_t *uidvalidity,
    uint32_t *uid)
{
	static const struct { unsigned bit; const char *name; } flags[] = {
		{ IMAP_FLAG_SEEN, "\\Seen" }, { IMAP_FLAG_ANSWERED, "\\Answered" },
		{ IMAP_FLAG_FLAGGED, "\\Flagged" }, { IMAP_FLAG_DRAFT, "\\Draft" },
	};
	struct append_ctx ctx = { 0, 0 };
	char lit[32];

	if (uidvalidity != NULL)
		*uidvalidity = 0;
	if (uid != NULL)
		*uid = 0;
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_AUTH);
	if (r != IMAP_OK)
		return r;
	if (size == 0 || size > IMAP_APPEND_MAX || src == NULL || mailbox == NULL ||
	    (sysflags & ~(unsigned)(IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED | IMAP_FLAG_FLAGGED |
	    IMAP_FLAG_DRAFT)) != 0)
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "APPEND: bad arguments");
	imap_cmd_begin(s, "APPEND");
	imap_cmd_astring(s->cmd, mailbox, strlen(mailbox));
	imap_cmd_list_open(s->cmd);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (sysflags & flags[i].bit)
			imap_cmd_flag(s->cmd, flags[i].name);
	imap_cmd_list_close(s->cmd);
	if (date > 0) {
		/* date-time: "dd-Mon-yyyy hh:mm:ss +0000" (RFC 3501 §9) */
		static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
			"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
		char when[40];
		struct tm tm;
		time_t t = (time_t)date;
		if (gmtime_r(&t, &tm) == NULL)
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "APPEND: bad date");
		snprintf(when, sizeof(when), "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday,
		    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		imap_cmd_string(s->cmd, when, strlen(when));
	}
	bool plus = imap_has(s, IMAP_CAP_LITERAL_PLUS) ||
	    (imap_has(s, IMAP_CAP_LITERAL_MINUS) && size <= IMAP_LITERAL_MINUS_MAX);
	snprintf(lit, sizeof(lit), "{%llu%s}", (unsigned long long)size, plus ? "+" : "");
	imap_cmd_raw(s->cmd, lit);
	const struct cmd_handler h = { .tagged = append_tagged, .ctx = &ctx };
	r = imap_cmd_run_literal(s, &h, !plus, size, src, src_arg);
	if (r == IMAP_OK) {
		if (uidvalidity != NULL)
			*uidvalidity = ctx.uidvalidity;
		if (uid != NULL)
			*uid = ctx.uid;
	}
	return r;
}
