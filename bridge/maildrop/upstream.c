/* bridge/maildrop/upstream.c — the session's upstream IMAP connection
 * (bridge/maildrop/upstream.h). */
#include "bridge/maildrop/upstream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/base/stats.h"
#include "bridge/base/version.h"

/* ---- the sequence-number map ----------------------------------------------
 *
 * Slots 1..len_msn hold the UIDs of the first messages in server order, as
 * far as a listing or map_set() told them (0: not known); a slot whose
 * message was expunged is dead. msn_fw is a Fenwick tree over the live
 * slots: the slot of sequence number k is found in O(log n), so an EXPUNGE
 * costs O(log n) whatever its number (shifting the array cost O(n) each:
 * "* 1 EXPUNGE" for every message of a big folder was quadratic). Dead slots
 * are compacted away once they outnumber the live ones.
 *
 * Messages the server announced (EXISTS) but never listed take no memory:
 * sequence numbers above the live slots are unknown UIDs, n_msn counts
 * them. Slots are added only for entries actually listed, at most twice as
 * many as were listed (issue 12: "* 4294967295 EXISTS" or a FETCH of that
 * sequence number asked for 16 GiB). */

/* Slots beyond the listed entries a listing may open (a server's FETCH
 * responses out of order within a window). */
#define MAP_SLACK 1024

static size_t fw_low(size_t i)
{
	return i & (~i + 1);
}

static void fw_add(struct maildrop_upstream *up, size_t slot, uint32_t delta)
{
	for (size_t i = slot; i <= up->len_msn; i += fw_low(i))
		up->msn_fw[i] += delta;   /* unsigned wrap-around subtracts */
}

/* The slot (1-based) of the k-th live slot; 1 <= k <= alive_msn. */
static size_t fw_find(const struct maildrop_upstream *up, size_t k)
{
	size_t pos = 0, step = 1;

	while (step * 2 <= up->len_msn)
		step *= 2;
	for (; step > 0; step /= 2)
		if (pos + step <= up->len_msn && up->msn_fw[pos + step] < k) {
			pos += step;
			k -= up->msn_fw[pos];
		}
	return pos + 1;
}

/* Every slot live: the tree in O(n). */
static void fw_build(struct maildrop_upstream *up)
{
	for (size_t i = 1; i <= up->len_msn; i++)
		up->msn_fw[i] = 1;
	for (size_t i = 1; i <= up->len_msn; i++)
		if (i + fw_low(i) <= up->len_msn)
			up->msn_fw[i + fw_low(i)] += up->msn_fw[i];
	up->alive_msn = up->len_msn;
}

static bool map_reserve(struct maildrop_upstream *up, size_t n)
{
	if (n <= up->cap_msn)
		return true;
	size_t cap = up->cap_msn ? up->cap_msn : 64;
	while (cap < n)
		cap *= 2;
	uint32_t *u = realloc(up->msn_uid, cap * sizeof(*u));
	if (u != NULL)
		up->msn_uid = u;
	uint32_t *f = u != NULL ? realloc(up->msn_fw, (cap + 1) * sizeof(*f)) : NULL;
	if (f == NULL) {
		up->map_valid = false;
		return false;
	}
	up->msn_fw = f;
	up->cap_msn = cap;
	return true;
}

/* Keep the live slots (and of them only those whose UID is not in drop),
 * in order; returns how many live slots were dropped. O(n). */
static size_t map_compact(struct maildrop_upstream *up, const struct imap_uidset *drop)
{
	size_t w = 0, dropped = 0;

	/* the tree back into its point values (1 live, 0 dead) */
	for (size_t i = up->len_msn; i >= 1; i--)
		if (i + fw_low(i) <= up->len_msn)
			up->msn_fw[i + fw_low(i)] -= up->msn_fw[i];
	for (size_t i = 0; i < up->len_msn; i++) {
		if (up->msn_fw[i + 1] == 0)
			continue;
		uint32_t uid = up->msn_uid[i];
		if (drop != NULL && uid != 0 && imap_uidset_contains(drop, uid)) {
			dropped++;
			continue;
		}
		if (w != i)
			up->map_moved++;
		up->msn_uid[w++] = uid;
	}
	up->len_msn = w;
	fw_build(up);
	return dropped;
}

/* The server has announced n messages (new ones unknown). */
static void map_grow(struct maildrop_upstream *up, size_t n)
{
	if (up->map_valid && n > up->n_msn)
		up->n_msn = n;
}

/* A listing says sequence number msn is uid. */
static void map_listed(struct maildrop_upstream *up, size_t msn, uint32_t uid)
{
	if (!up->map_valid || msn == 0)
		return;
	map_grow(up, msn);
	up->listed_msn++;
	if (msn <= up->alive_msn) {
		up->msn_uid[fw_find(up, msn) - 1] = uid;
		return;
	}
	/* new slots up to msn: only as many as the listing has earned */
	size_t add = msn - up->alive_msn;
	if (msn > 2 * up->listed_msn + MAP_SLACK || !map_reserve(up, up->len_msn + add))
		return;  /* stays unknown */
	for (size_t k = 0; k < add; k++) {
		size_t i = ++up->len_msn;
		up->msn_uid[i - 1] = 0;
		up->msn_fw[i] = 1;
		for (size_t j = 1; j < fw_low(i); j *= 2)
			up->msn_fw[i] += up->msn_fw[i - j];
	}
	up->alive_msn = msn;
	up->msn_uid[up->len_msn - 1] = uid;
}

static void note_gone(struct maildrop_upstream *up, uint32_t uid)
{
	if (uid != 0)
		(void)imap_uidset_add(&up->gone, uid);
}

static void on_expunge(struct maildrop_upstream *up, uint32_t msn)
{
	if (!up->map_valid || msn == 0 || msn > up->n_msn) {
		up->map_valid = false;
		return;
	}
	up->n_msn--;
	if (msn > up->alive_msn)
		return;  /* an unknown UID */
	size_t slot = fw_find(up, msn);
	note_gone(up, up->msn_uid[slot - 1]);
	fw_add(up, slot, (uint32_t)-1);
	up->alive_msn--;
	if (up->len_msn - up->alive_msn > up->alive_msn + 64)
		(void)map_compact(up, NULL);
}

static void on_vanished(struct maildrop_upstream *up, const struct imap_uidset *uids)
{
	(void)imap_uidset_merge(&up->gone, uids);
	if (!up->map_valid)
		return;
	up->n_msn -= map_compact(up, uids);
}

static void on_event(void *arg, const struct imap_event *ev)
{
	struct maildrop_upstream *up = arg;

	switch (ev->type) {
	case IMAP_EVENT_EXISTS:
		if (up->selected[0])
			map_grow(up, ev->number);
		break;
	case IMAP_EVENT_EXPUNGE:
		if (up->selected[0])
			on_expunge(up, ev->number);
		break;
	case IMAP_EVENT_VANISHED:
		if (up->selected[0] && ev->uids != NULL)
			on_vanished(up, ev->uids);
		break;
	case IMAP_EVENT_ALERT:
		base_log(PB_LOG_WARN, "upstream-alert", "%s", ev->text ? ev->text : "");
		break;
	default:
		break;
	}
}

void maildrop_upstream_config(const struct config_options *opt, struct maildrop_upstream *up,
    struct imap_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = opt->upstream.host;
	cfg->port = opt->upstream.port;
	switch (opt->upstream_tls) {
	case PB_UTLS_IMPLICIT:
		cfg->tls = IMAP_TLS_IMPLICIT;
		break;
	case PB_UTLS_STARTTLS:
		cfg->tls = IMAP_TLS_STARTTLS;
		break;
	default:
		cfg->tls = IMAP_TLS_NONE;
		break;
	}
	cfg->ca_file = opt->upstream_ca[0] ? opt->upstream_ca : NULL;
	cfg->tls_min = IMAP_TLS_DEFAULT;
	cfg->timeout_s = opt->upstream_timeout;
	cfg->on_event = on_event;
	cfg->event_arg = up;
}

static const char *cause_text(enum imap_cause c)
{
	switch (c) {
	case IMAP_CAUSE_RESOLVE: return "host name does not resolve";
	case IMAP_CAUSE_CONNECT: return "connection refused";
	case IMAP_CAUSE_TIMEOUT: return "timed out";
	case IMAP_CAUSE_CLOSED: return "connection closed";
	case IMAP_CAUSE_IO: return "connection error";
	case IMAP_CAUSE_BYE: return "server said BYE";
	case IMAP_CAUSE_TLS_VERIFY: return "certificate not trusted";
	case IMAP_CAUSE_TLS: return "TLS failed";
	case IMAP_CAUSE_NO_STARTTLS: return "STARTTLS not available";
	case IMAP_CAUSE_PREAUTH: return "PREAUTH instead of STARTTLS";
	default: return NULL;
	}
}

void maildrop_upstream_describe(const struct maildrop_upstream *up, const char *what,
    char *out, size_t len)
{
	if (len == 0)
		return;
	if (up->imap == NULL) {
		snprintf(out, len, "%s: out of memory", what);
		return;
	}
	const struct imap_status *st = imap_last(up->imap);
	const char *cause = cause_text(st->cause);
	if (cause != NULL && st->text[0] && st->cause == IMAP_CAUSE_BYE)
		snprintf(out, len, "%s: %s", what, st->text);
	else if (cause != NULL && st->text[0])
		snprintf(out, len, "%s: %s (%s)", what, cause, st->text);
	else if (cause != NULL)
		snprintf(out, len, "%s: %s", what, cause);
	else if (st->text[0])
		snprintf(out, len, "%s: %s (%s)", what, imap_result_name(st->result), st->text);
	else
		snprintf(out, len, "%s: %s", what, imap_result_name(st->result));
}

/* After a throttling NO, wait as suggested and say "ask again" — when the
 * wait fits in what is left of the session's back-off budget. */
static bool backoff(struct maildrop_upstream *up, enum imap_result r)
{
	unsigned ms = 0;

	if (r != IMAP_NO || !imap_last_throttled(up->imap, &ms))
		return false;
	if (ms == 0)
		ms = 1000;
	if (ms > up->backoff_left_ms) {
		base_log(PB_LOG_INFO, "upstream", "throttled: a back-off of %u ms does not fit"
		    " in the %u ms left", ms, up->backoff_left_ms);
		return false;
	}
	up->backoff_left_ms -= ms;
	base_log(PB_LOG_INFO, "upstream", "throttled: waiting %u ms as the server suggests", ms);
	base_sleep_ms(ms);
	return true;
}

bool maildrop_upstream_usable(const struct maildrop_upstream *up)
{
	return up->imap != NULL && imap_state(up->imap) != IMAP_STATE_DISCONNECTED;
}

/* Trouble that closed the connection ends the login; a refusal of an
 * optional command (NO, BAD, not offered) does not. */
static bool optional_failed(enum imap_result r)
{
	return r != IMAP_OK && r != IMAP_NO && r != IMAP_BAD && r != IMAP_EUNSUPPORTED;
}

/* RFC 2971 ID: tell the server's operators who is connecting. Only when
 * offered, at most once per connection. */
static enum imap_result send_id(struct maildrop_upstream *up)
{
	char port[8];
	const char *kv[8] = { "name", "popbridge", "version", POPBRIDGE_VERSION };
	size_t n = 4;

	if (up->id_sent || !imap_has(up->imap, IMAP_CAP_ID))
		return IMAP_OK;
	up->id_sent = true;
	if (up->forward_addr != NULL && up->forward_addr[0]) {
		kv[n++] = "x-originating-ip";
		kv[n++] = up->forward_addr;
		if (up->forward_port > 0 && up->forward_port <= 65535) {
			snprintf(port, sizeof(port), "%u", up->forward_port);
			kv[n++] = "x-originating-port";
			kv[n++] = port;
		}
	}
	return imap_id(up->imap, kv, n);
}

/* After login: ENABLE QRESYNC when offered (RFC 7162 §3.2.3; it enables
 * CONDSTORE too), so expunges arrive as VANISHED with UIDs and an
 * incremental sync learns what went since its mod-sequence. */
static enum imap_result enable_qresync(struct maildrop_upstream *up)
{
	unsigned enabled = 0;

	up->qresync = false;
	if (!imap_has(up->imap, IMAP_CAP_QRESYNC) || !imap_has(up->imap, IMAP_CAP_ENABLE))
		return IMAP_OK;
	enum imap_result r = imap_enable(up->imap, IMAP_CAP_QRESYNC, &enabled);
	if (r == IMAP_OK)
		up->qresync = (enabled & IMAP_CAP_QRESYNC) != 0;
	return r;
}

/* The steps after a good LOGIN. */
static enum pop3_md_status after_login(struct maildrop_upstream *up, char *detail,
    size_t detail_len)
{
	enum imap_result r = send_id(up);

	if (!optional_failed(r) && !up->relay)
		r = enable_qresync(up);
	if (optional_failed(r)) {
		maildrop_upstream_describe(up, "upstream session setup", detail, detail_len);
		return POP3_MD_TEMP;
	}
	return POP3_MD_OK;
}

/* What a kept connection carries over (pool_keep's bits). */
#define KEPT_ID_SENT 1u
#define KEPT_QRESYNC 2u

static void map_reset(struct maildrop_upstream *up)
{
	up->n_msn = 0;
	up->len_msn = up->alive_msn = up->listed_msn = 0;
	up->map_valid = true;
	imap_uidset_clear(&up->gone);
}

/* The check of a kept connection (pool_check_fn): NOOP, and in the same
 * write a SELECT of the folder the connection had selected when it was
 * kept (the hint): the next session of the account almost always wants the
 * same folder, and then maildrop_upstream_select needs no round trip of
 * its own. A SELECT that fails or a folder the session does not want only
 * costs that SELECT; the session selects as before. */
static enum imap_result check_and_select(void *arg, struct imap_session *imap, const char *hint)
{
	struct maildrop_upstream *up = arg;
	struct imap_mailbox_info info;
	enum imap_result sel;

	up->preselected = false;
	if (hint[0] == '\0' || strlen(hint) >= sizeof(up->selected))
		return imap_noop(imap);
	enum imap_result r = imap_noop_select(imap, hint, IMAP_SELECT_CONDSTORE, &info, &sel);
	if (r != IMAP_OK || sel != IMAP_OK || !info.has_uidvalidity || info.uidvalidity == 0)
		return r;
	/* what maildrop_upstream_select records, for the session to take */
	map_reset(up);
	up->info = info;
	snprintf(up->selected, sizeof(up->selected), "%s", hint);
	map_grow(up, info.exists);
	up->preselected = true;
	up->preselected_at = imap_commands(imap);
	return IMAP_OK;
}

/* Connection reuse (SPEC §9): a kept connection of this identity, or a slot
 * for a new one within the account's cap. true when that decided the
 * login (*st), false to connect and log in. */
static bool from_pool(struct maildrop_upstream *up, const struct config_options *opt,
    const char *user, const char *password, enum pop3_md_status *st, char *detail,
    size_t detail_len)
{
	char server[PB_HOST_MAX + PB_PATH_MAX + 48];
	struct imap_session *imap;
	unsigned bits, timeout = opt->upstream_timeout ? opt->upstream_timeout :
	    IMAP_DEFAULT_TIMEOUT_S;

	up->keep_s = opt->upstream_reuse;
	if (up->pool == NULL)
		return false;
	/* the upstream as configured: a reload that changes it changes this */
	snprintf(server, sizeof(server), "%s\n%u\n%d\n%s\n%u", opt->upstream.host,
	    (unsigned)opt->upstream.port, (int)opt->upstream_tls, opt->upstream_ca, timeout);
	struct pool_key key = {
		.server = server, .user = user, .secret = password, .secret_len = strlen(password),
		.client = up->forward_addr,
	};
	uint64_t deadline = base_clock_ms(NULL) + (uint64_t)timeout * 1000u;
	if (up->pool_deadline_ms != 0 && up->pool_deadline_ms < deadline)
		deadline = up->pool_deadline_ms;
	*st = POP3_MD_TEMP;
	switch (pool_acquire(up->pool, &key, opt->upstream_max_per_account, deadline, &up->lease,
	    &imap, &bits, check_and_select, up)) {
	case POOL_NEW:
		return false;
	case POOL_KEPT:
		up->imap = imap;
		imap_set_events(imap, on_event, up);
		up->id_sent = (bits & KEPT_ID_SENT) != 0;
		up->qresync = (bits & KEPT_QRESYNC) != 0;
		base_log(PB_LOG_DEBUG, "upstream", "a kept connection reused");
		*st = POP3_MD_OK;
		return true;
	case POOL_FULL:
		snprintf(detail, detail_len, "upstream: %u connections of this account in use"
		    " (upstream-max-per-account)", opt->upstream_max_per_account);
		return true;
	case POOL_DOWN:
		snprintf(detail, detail_len, "upstream: a kept connection did not answer NOOP"
		    " (timed out)");
		return true;
	default:
		snprintf(detail, detail_len, "upstream: out of memory");
		return true;
	}
}

/* A new connection: connect, greeting, ID, LOGIN, ENABLE. */
static enum pop3_md_status connect_login(struct maildrop_upstream *up,
    const struct imap_config *cfg, const char *user, const char *password, char *detail,
    size_t detail_len)
{
	up->imap = imap_session_new(cfg);
	if (up->imap == NULL) {
		snprintf(detail, detail_len, "upstream: out of memory");
		return POP3_MD_TEMP;
	}
	enum imap_result r = imap_connect(up->imap);
	if (r != IMAP_OK) {
		maildrop_upstream_describe(up, "upstream connect", detail, detail_len);
		return POP3_MD_TEMP;
	}
	if (imap_state(up->imap) == IMAP_STATE_AUTH) {
		/* PREAUTH: the server vouches for the connection; there are no
		 * credentials it would check, so nothing proves this user's. */
		snprintf(detail, detail_len, "upstream login: server greeted with PREAUTH");
		return POP3_MD_PERM;
	}
	if (optional_failed(send_id(up))) {
		maildrop_upstream_describe(up, "upstream ID", detail, detail_len);
		return POP3_MD_TEMP;
	}
	do
		r = up->oauth2 ? imap_login_oauth2(up->imap, user, password) :
		    imap_login(up->imap, user, password);
	while (backoff(up, r));
	switch (r) {
	case IMAP_OK:
		return after_login(up, detail, detail_len);
	case IMAP_NO:
		maildrop_upstream_describe(up, "upstream login", detail, detail_len);
		return imap_last_is_trouble(up->imap) ? POP3_MD_TEMP : POP3_MD_AUTH;
	case IMAP_BAD:
	case IMAP_EARG:
		/* The server (or the formatter) could not take these
		 * credentials at all: they cannot be right. */
		maildrop_upstream_describe(up, "upstream login", detail, detail_len);
		return POP3_MD_AUTH;
	case IMAP_EUNSUPPORTED:
		if (up->oauth2)
			maildrop_upstream_describe(up, "upstream login", detail, detail_len);
		else
			snprintf(detail, detail_len, "upstream login: server refuses logins on "
			    "this connection (LOGINDISABLED)");
		return POP3_MD_PERM;
	default:
		maildrop_upstream_describe(up, "upstream login", detail, detail_len);
		return POP3_MD_TEMP;
	}
}

enum pop3_md_status maildrop_upstream_login(struct maildrop_upstream *up,
    const struct config_options *opt, const char *user, const char *password,
    char *detail, size_t detail_len)
{
	struct imap_config cfg;
	enum pop3_md_status st;

	imap_uidset_init(&up->gone);
	up->id_sent = false;
	up->qresync = false;
	up->preselected = false;
	maildrop_upstream_config(opt, up, &cfg);
	up->backoff_left_ms = (opt->upstream_timeout ? opt->upstream_timeout :
	    IMAP_DEFAULT_TIMEOUT_S) * 1000u;
	if (from_pool(up, opt, user, password, &st, detail, detail_len)) {
		base_stats_upstream_login(st == POP3_MD_OK ? BASE_UP_REUSED : BASE_UP_FAILED, 0);
		return st;
	}
	/* The metrics' busy connections: the pool counts those it leased. */
	if (up->lease.slot == NULL && !up->unpooled) {
		up->unpooled = true;
		base_stats_upstream_unpooled(1);
	}
	uint64_t t0 = base_clock_ms(NULL);
	st = connect_login(up, &cfg, user, password, detail, detail_len);
	base_stats_upstream_login(st == POP3_MD_OK ? BASE_UP_NEW : st == POP3_MD_AUTH ?
	    BASE_UP_REFUSED : BASE_UP_FAILED, base_clock_ms(NULL) - t0);
	return st;
}

enum pop3_md_status maildrop_upstream_select(struct maildrop_upstream *up, const char *folder,
    char *detail, size_t detail_len)
{
	size_t fl = strlen(folder);

	if (fl >= sizeof(up->selected)) {
		snprintf(detail, detail_len, "folder name too long");
		return POP3_MD_PERM;
	}
	if (up->preselected && strcmp(up->selected, folder) == 0 &&
	    imap_commands(up->imap) == up->preselected_at) {
		up->preselected = false;  /* the kept connection's check did it */
		return POP3_MD_OK;
	}
	up->preselected = false;
	up->selected[0] = '\0';
	map_reset(up);
	memset(&up->info, 0, sizeof(up->info));
	enum imap_result r;
	do
		r = imap_select(up->imap, folder, IMAP_SELECT_CONDSTORE, &up->info);
	while (backoff(up, r));
	if (r == IMAP_BAD && imap_has(up->imap, IMAP_CAP_CONDSTORE)) {
		/* A server that announces CONDSTORE but refuses the SELECT
		 * parameter still gets its sessions, without mod-sequences. */
		base_log(PB_LOG_WARN, "upstream", "select %s (CONDSTORE): BAD (%s); selecting"
		    " without", folder, imap_last(up->imap)->text);
		memset(&up->info, 0, sizeof(up->info));
		r = imap_select(up->imap, folder, 0, &up->info);
	}
	if (r != IMAP_OK) {
		char what[PB_FOLDER_MAX + 32];
		snprintf(what, sizeof(what), "select %s", folder);
		maildrop_upstream_describe(up, what, detail, detail_len);
		if ((r == IMAP_NO && !imap_last_is_trouble(up->imap)) || r == IMAP_BAD ||
		    r == IMAP_ENOTFOUND || r == IMAP_EARG)
			return POP3_MD_PERM;
		return POP3_MD_TEMP;
	}
	if (!up->info.has_uidvalidity || up->info.uidvalidity == 0) {
		snprintf(detail, detail_len, "select %s: the server gave no UIDVALIDITY", folder);
		return POP3_MD_PERM;
	}
	memcpy(up->selected, folder, fl + 1);
	map_grow(up, up->info.exists);
	return POP3_MD_OK;
}

struct list_wrap {
	struct maildrop_upstream *up;
	imap_msg_fn *cb;
	void *arg;
	size_t calls;   /* a listing that gave anything is not asked again */
};

static int list_cb(void *arg, const struct imap_msg *m)
{
	struct list_wrap *w = arg;
	struct maildrop_upstream *up = w->up;

	map_listed(up, m->msn, m->uid);
	w->calls++;
	return w->cb(w->arg, m);
}

/* UID FETCH 1:* of the listing items; modseq > 0: only changes since
 * (CHANGEDSINCE, and VANISHED into *vanished with QRESYNC); fields: the
 * header fields too (modseq 0 only). */
static enum imap_result list_run(struct maildrop_upstream *up, uint64_t modseq,
    struct imap_uidset *vanished, const char *const *fields, size_t nfields, imap_msg_fn *cb,
    void *arg)
{
	struct imap_uidset all;
	struct list_wrap w = { up, cb, arg, 0 };
	unsigned opts = IMAP_FETCH_EMAILID | IMAP_FETCH_GMMSGID;
	enum imap_result r;

	imap_uidset_init(&all);
	if (imap_uidset_add_range(&all, 1, UINT32_MAX) != 0)
		return IMAP_EARG;
	do
		if (fields != NULL)
			r = imap_fetch_headers(up->imap, &all, fields, nfields, opts, list_cb, &w);
		else if (modseq == 0)
			r = imap_fetch_info(up->imap, &all, opts, list_cb, &w);
		else
			r = imap_fetch_changed(up->imap, &all, opts, modseq,
			    up->qresync ? vanished : NULL, list_cb, &w);
	while (w.calls == 0 && backoff(up, r));
	imap_uidset_free(&all);
	return r;
}

enum imap_result maildrop_upstream_list(struct maildrop_upstream *up, imap_msg_fn *cb,
    void *arg)
{
	return list_run(up, 0, NULL, NULL, 0, cb, arg);
}

enum imap_result maildrop_upstream_list_fields(struct maildrop_upstream *up,
    const char *const *fields, size_t nfields, imap_msg_fn *cb, void *arg)
{
	if (fields == NULL || nfields == 0)
		return IMAP_EARG;
	return list_run(up, 0, NULL, fields, nfields, cb, arg);
}

enum imap_result maildrop_upstream_list_changed(struct maildrop_upstream *up, uint64_t modseq,
    struct imap_uidset *vanished, imap_msg_fn *cb, void *arg)
{
	if (modseq == 0)
		return IMAP_EARG;
	return list_run(up, modseq, vanished, NULL, 0, cb, arg);
}

void maildrop_upstream_map_set(struct maildrop_upstream *up, const uint32_t *uids, size_t n)
{
	if (!up->map_valid)
		return;
	if (n != up->n_msn) {
		up->map_valid = false;
		return;
	}
	/* n UIDs the caller holds: memory for what it has, not for a count */
	if (!map_reserve(up, n))
		return;
	if (n > 0)
		memcpy(up->msn_uid, uids, n * sizeof(*uids));
	up->len_msn = n;
	up->listed_msn = n;
	fw_build(up);
}

void maildrop_upstream_map_forget(struct maildrop_upstream *up)
{
	up->map_valid = false;
}

/* SPEC §9: a clean connection goes to the pool instead of LOGOUT; what was
 * sent ahead is read (and dropped) first, so it is handed on empty. */
static bool keep(struct maildrop_upstream *up)
{
	if (up->lease.slot == NULL || up->keep_s == 0 ||
	    imap_state(up->imap) == IMAP_STATE_DISCONNECTED)
		return false;
	if (imap_ahead_count(up->imap) > 0 && imap_ahead_drain(up->imap) != IMAP_OK)
		return false;
	return pool_keep(&up->lease, up->imap, (up->id_sent ? KEPT_ID_SENT : 0) |
	    (up->qresync ? KEPT_QRESYNC : 0), up->keep_s, up->selected);
}

void maildrop_upstream_free(struct maildrop_upstream *up)
{
	if (up->imap != NULL) {
		if (!keep(up)) {
			if (imap_state(up->imap) != IMAP_STATE_DISCONNECTED)
				(void)imap_logout(up->imap);
			imap_session_free(up->imap);
		}
		up->imap = NULL;
	}
	pool_release(&up->lease);
	if (up->unpooled) {
		up->unpooled = false;
		base_stats_upstream_unpooled(-1);
	}
	free(up->msn_uid);
	free(up->msn_fw);
	up->msn_uid = NULL;
	up->msn_fw = NULL;
	up->n_msn = up->cap_msn = up->len_msn = up->alive_msn = up->listed_msn = 0;
	imap_uidset_free(&up->gone);
	up->selected[0] = '\0';
}
