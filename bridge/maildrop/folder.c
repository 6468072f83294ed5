/* bridge/maildrop/folder.c — see folder.h (moved from commit.c). */
#include "bridge/maildrop/folder.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* An optional command's outcome: the server answered or lacks it. */
static bool answered(enum imap_result ir)
{
	return ir == IMAP_OK || ir == IMAP_ENOTFOUND || ir == IMAP_EARG || ir == IMAP_NO ||
	    ir == IMAP_BAD || ir == IMAP_EUNSUPPORTED;
}

static int up_fail(struct maildrop_upstream *up, const char *what, char *detail,
    size_t detail_len)
{
	maildrop_upstream_describe(up, what, detail, detail_len);
	return -1;
}

struct exists_ctx {
	const char *name;
	bool found;
};

static void exists_cb(void *arg, const struct imap_list_entry *e)
{
	struct exists_ctx *c = arg;

	if (strcmp(e->name, c->name) == 0 &&
	    !(e->attrs & (IMAP_LIST_NONEXISTENT | IMAP_LIST_NOSELECT)))
		c->found = true;
}

static int namespaced(struct maildrop_upstream *up, const char *configured, char *out,
    size_t len, char *detail, size_t detail_len)
{
	struct imap_session *imap = up->imap;
	char prefix[PB_FOLDER_MAX], delim = 0;
	size_t pl;
	enum imap_result ir;

	snprintf(out, len, "%s", configured);
	ir = imap_namespace(imap, prefix, sizeof(prefix), &delim);
	if (!answered(ir))
		return up_fail(up, "asking for the personal namespace", detail, detail_len);
	if (ir != IMAP_OK || prefix[0] == '\0' || strcasecmp(configured, "INBOX") == 0)
		return 0;
	pl = strlen(prefix);
	if (strncmp(configured, prefix, pl) == 0 ||
	    (strncasecmp(prefix, "INBOX", 5) == 0 && strncasecmp(configured, prefix, pl) == 0))
		return 0;
	struct exists_ctx ex = { configured, false };
	ir = imap_list(imap, "", configured, exists_cb, &ex);
	if (!answered(ir))
		return up_fail(up, "looking for the configured folder", detail, detail_len);
	if (ex.found)
		return 0;
	bool join = delim != 0 && prefix[pl - 1] != delim;
	if (pl + (join ? 1 : 0) + strlen(configured) >= len) {
		snprintf(detail, detail_len, "folder name %s%s%s too long", prefix,
		    join ? (char[2]){ delim, 0 } : "", configured);
		return -1;
	}
	snprintf(out, len, "%s%s%s", prefix, join ? (char[2]){ delim, 0 } : "", configured);
	return 0;
}

int maildrop_folder_target(struct maildrop_upstream *up, unsigned use, const char *configured,
    char *out, size_t len, char *detail, size_t detail_len)
{
	enum imap_result ir = imap_find_special(up->imap, use, out, len);

	if (ir == IMAP_OK)
		return 0;
	if (!answered(ir))
		return up_fail(up, "looking for the special-use folder", detail, detail_len);
	return namespaced(up, configured, out, len, detail, detail_len);
}

int maildrop_folder_create(struct maildrop_upstream *up, const char *folder, char *detail,
    size_t detail_len)
{
	enum imap_result ir = imap_create(up->imap, folder);

	if (ir == IMAP_OK || (ir == IMAP_NO && imap_last(up->imap)->code == IMAP_CODE_ALREADYEXISTS))
		return 0;
	return up_fail(up, "creating the target folder", detail, detail_len);
}
