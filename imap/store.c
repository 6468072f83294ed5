/* imap/store.c — UID STORE, UID EXPUNGE, UID COPY and UID MOVE (see imap.h). */
#include "imap/session_int.h"

#include <stdio.h>
#include <string.h>

struct store_args {
	bool add;
	unsigned sysflags;
	const char *const *keywords;
	size_t nkeywords;
};

static void store_suffix(struct imap_session *s, const void *varg)
{
	static const struct {
		unsigned flag;
		const char *name;
	} sys[] = {
		{ IMAP_FLAG_SEEN, "\\Seen" }, { IMAP_FLAG_ANSWERED, "\\Answered" },
		{ IMAP_FLAG_FLAGGED, "\\Flagged" }, { IMAP_FLAG_DELETED, "\\Deleted" },
		{ IMAP_FLAG_DRAFT, "\\Draft" },
	};
	const struct store_args *a = varg;
	imap_cmd_raw(s->cmd, a->add ? "+FLAGS.SILENT" : "-FLAGS.SILENT");
	imap_cmd_list_open(s->cmd);
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		if (a->sysflags & sys[i].flag)
			imap_cmd_flag(s->cmd, sys[i].name);
	for (size_t i = 0; i < a->nkeywords; i++)
		imap_cmd_atom(s->cmd, a->keywords[i]);
	imap_cmd_list_close(s->cmd);
}

enum imap_result imap_store_flags(struct imap_session *s, const struct imap_uidset *uids,
    bool add, unsigned sysflags, const char *const *keywords, size_t nkeywords)
{
	const unsigned settable = IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED | IMAP_FLAG_FLAGGED |
	    IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT;
	struct store_args a = { add, sysflags, keywords, nkeywords };
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if ((sysflags & ~settable) || (sysflags == 0 && nkeywords == 0))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "no valid flags to store");
	for (size_t i = 0; i < nkeywords; i++)
		if (!imap_is_atom(keywords[i], strlen(keywords[i])))
			return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE,
			    "keyword is not an atom");
	return imap_cmd_uid_chunks(s, "UID STORE", uids, store_suffix, &a, NULL);
}

enum imap_result imap_store_cmd(struct imap_session *s, uint32_t uid, uint32_t uid_last,
    bool add, unsigned sysflags)
{
	const unsigned settable = IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED | IMAP_FLAG_FLAGGED |
	    IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT;
	struct store_args a = { add, sysflags, NULL, 0 };
	char n[24];
	if (uid == 0 || uid_last < uid || sysflags == 0 || (sysflags & ~settable))
		return imap_set_last(s, IMAP_EARG, IMAP_CAUSE_NONE, "no valid flags to store");
	if (uid_last == uid)
		snprintf(n, sizeof(n), "%u", uid);
	else
		snprintf(n, sizeof(n), "%u:%u", uid, uid_last);
	imap_cmd_begin(s, "UID STORE");
	imap_cmd_raw(s->cmd, n);
	store_suffix(s, &a);
	return IMAP_OK;
}

enum imap_result imap_uid_expunge(struct imap_session *s, const struct imap_uidset *uids)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if (!imap_has(s, IMAP_CAP_UIDPLUS))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE,
		    "server lacks UIDPLUS: UID EXPUNGE unavailable");
	return imap_cmd_uid_chunks(s, "UID EXPUNGE", uids, NULL, NULL, NULL);
}

static void mailbox_suffix(struct imap_session *s, const void *arg)
{
	const char *mailbox = arg;
	imap_cmd_astring(s->cmd, mailbox, strlen(mailbox));
}

enum imap_result imap_uid_copy(struct imap_session *s, const struct imap_uidset *uids,
    const char *mailbox)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	return imap_cmd_uid_chunks(s, "UID COPY", uids, mailbox_suffix, mailbox, NULL);
}

enum imap_result imap_uid_move(struct imap_session *s, const struct imap_uidset *uids,
    const char *mailbox)
{
	enum imap_result r = imap_cmd_check(s, IMAP_STATE_SELECTED);
	if (r != IMAP_OK)
		return r;
	if (imap_has(s, IMAP_CAP_MOVE))
		return imap_cmd_uid_chunks(s, "UID MOVE", uids, mailbox_suffix, mailbox, NULL);
	if (!imap_has(s, IMAP_CAP_UIDPLUS))
		return imap_set_last(s, IMAP_EUNSUPPORTED, IMAP_CAUSE_NONE,
		    "server lacks MOVE and UIDPLUS: cannot move only these messages");
	r = imap_uid_copy(s, uids, mailbox);
	if (r == IMAP_OK)
		r = imap_store_flags(s, uids, true, IMAP_FLAG_DELETED, NULL, 0);
	if (r == IMAP_OK)
		r = imap_uid_expunge(s, uids);
	return r;
}
