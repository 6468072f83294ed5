/* bridge/pool/pool.c — kept upstream connections and the per-account cap
 * (bridge/pool/pool.h).
 *
 * Slots are counted per account in a base_keycount table keyed by the
 * account's HMAC (limit: max_per_account at the time of asking, so a
 * reload that changes it takes effect at the next acquire). Kept
 * connections sit in one list, newest first, each holding its slot; the
 * expiry thread sleeps until the oldest deadline and logs out what is due.
 * Anything that may wait on the network (NOOP, LOGOUT) runs outside the
 * mutex, on a connection that has been taken out of the list first, so no
 * two threads ever touch one imap session.
 */
#include "bridge/pool/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "bridge/base/clock.h"
#include "bridge/base/keycount.h"
#include "bridge/base/log.h"

#define MAC_KEY_LEN 32

struct pool_entry {
	struct pool_entry *prev, *next;
	struct imap_session *imap;
	struct base_keycount_node *slot;
	unsigned char id[POOL_ID_LEN];
	unsigned char acct[POOL_ID_LEN];
	unsigned bits;
	char *hint;                   /* pool_keep's, or NULL */
	uint64_t expires_ms;
};

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t changed;       /* a slot given back, a connection kept,
	                                 stopping */
	struct base_keycount *slots;  /* per account: connections in use or kept */
	size_t busy;                  /* slots held by leases */
	struct pool_entry *head;      /* kept, newest first */
	struct pool_entry *tail;
	size_t kept;
	bool stopping;
	pthread_t reaper;
	EVP_MAC *mac;
	unsigned char key[MAC_KEY_LEN];
};

/* ---- identities ---------------------------------------------------------- */

static int mac_len(EVP_MAC_CTX *c, size_t len)
{
	unsigned char n[8];
	uint64_t v = len;

	for (int i = 7; i >= 0; i--, v >>= 8)
		n[i] = (unsigned char)v;
	return EVP_MAC_update(c, n, sizeof(n)) == 1 ? 0 : -1;
}

/* One field: its length, then its octets (so no two different lists of
 * fields feed the same octets). */
static int mac_field(EVP_MAC_CTX *c, const void *data, size_t len)
{
	if (mac_len(c, len) != 0)
		return -1;
	return len == 0 || EVP_MAC_update(c, data, len) == 1 ? 0 : -1;
}

static int mac_str(EVP_MAC_CTX *c, const char *s)
{
	return mac_field(c, s ? s : "", s ? strlen(s) : 0);
}

/* s in ASCII lower case, as one field. */
static int mac_folded(EVP_MAC_CTX *c, const char *s)
{
	unsigned char piece[128];
	size_t len = strlen(s), k = 0;

	if (mac_len(c, len) != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		piece[k++] = ch >= 'A' && ch <= 'Z' ? (unsigned char)(ch - 'A' + 'a') : ch;
		if (k == sizeof(piece) || i + 1 == len) {
			if (EVP_MAC_update(c, piece, k) != 1)
				return -1;
			k = 0;
		}
	}
	return 0;
}

/* The identity (with the secret) and the account (folded, without) of
 * key, as HMACs under the pool's key. */
static int identify(struct pool *p, const struct pool_key *key, unsigned char *id,
    unsigned char *acct)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC_CTX *c = EVP_MAC_CTX_new(p->mac);
	size_t out = 0;
	int rc = -1;

	if (c == NULL)
		return -1;
	if (EVP_MAC_init(c, p->key, sizeof(p->key), params) == 1 &&
	    mac_str(c, "identity") == 0 && mac_str(c, key->server) == 0 &&
	    mac_str(c, key->user) == 0 && mac_field(c, key->secret, key->secret_len) == 0 &&
	    mac_str(c, key->client) == 0 && EVP_MAC_final(c, id, &out, POOL_ID_LEN) == 1 &&
	    out == POOL_ID_LEN &&
	    EVP_MAC_init(c, p->key, sizeof(p->key), params) == 1 &&
	    mac_str(c, "account") == 0 && mac_str(c, key->server) == 0 &&
	    mac_folded(c, key->user ? key->user : "") == 0 &&
	    EVP_MAC_final(c, acct, &out, POOL_ID_LEN) == 1 && out == POOL_ID_LEN)
		rc = 0;
	EVP_MAC_CTX_free(c);
	return rc;
}

/* ---- the kept list (under the lock) ------------------------------------ */

static void free_entry(struct pool_entry *e)
{
	free(e->hint);
	free(e);
}

static void unlink_entry(struct pool *p, struct pool_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		p->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		p->tail = e->prev;
	e->prev = e->next = NULL;
	p->kept--;
}

static void push_entry(struct pool *p, struct pool_entry *e)
{
	e->prev = NULL;
	e->next = p->head;
	if (p->head)
		p->head->prev = e;
	else
		p->tail = e;
	p->head = e;
	p->kept++;
}

static struct pool_entry *find(struct pool *p, const unsigned char *what, bool by_id)
{
	for (struct pool_entry *e = p->head; e != NULL; e = e->next)
		if (CRYPTO_memcmp(by_id ? e->id : e->acct, what, POOL_ID_LEN) == 0)
			return e;
	return NULL;
}

/* ---- closing ------------------------------------------------------------- */

/* LOGOUT (bounded by the connection's timeout) and free; outside the lock. */
static void close_imap(struct imap_session *imap, bool logout)
{
	if (imap == NULL)
		return;
	if (logout && imap_state(imap) != IMAP_STATE_DISCONNECTED)
		(void)imap_logout(imap);
	imap_session_free(imap);
}

static void give_slot(struct pool *p, struct base_keycount_node *slot)
{
	pthread_mutex_lock(&p->lock);
	base_keycount_give(p->slots, slot);
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

/* The expiry thread: log out what is due, sleep until the next is. */
static void *reaper(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		uint64_t now = base_clock_ms(NULL), next = UINT64_MAX;
		struct pool_entry *due = NULL;
		for (struct pool_entry *e = p->head; e != NULL && due == NULL; e = e->next) {
			if (e->expires_ms <= now)
				due = e;
			else if (e->expires_ms < next)
				next = e->expires_ms;
		}
		if (due != NULL) {
			unlink_entry(p, due);
			pthread_mutex_unlock(&p->lock);
			close_imap(due->imap, true);
			give_slot(p, due->slot);
			free_entry(due);
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (next == UINT64_MAX) {
			pthread_cond_wait(&p->changed, &p->lock);
			continue;
		}
		struct timespec ts = {
			.tv_sec = (time_t)(next / 1000u),
			.tv_nsec = (long)(next % 1000u) * 1000000L,
		};
		(void)pthread_cond_timedwait(&p->changed, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* ---- life cycle ---------------------------------------------------------- */

struct pool *pool_new(void)
{
	struct pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (p == NULL)
		return NULL;
	p->slots = base_keycount_new();
	p->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (p->slots == NULL || p->mac == NULL || RAND_bytes(p->key, sizeof(p->key)) != 1) {
		base_keycount_free(p->slots);
		EVP_MAC_free(p->mac);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&p->reaper, NULL, reaper, p) != 0) {
		pthread_cond_destroy(&p->changed);
		pthread_mutex_destroy(&p->lock);
		base_keycount_free(p->slots);
		EVP_MAC_free(p->mac);
		OPENSSL_cleanse(p->key, sizeof(p->key));
		free(p);
		return NULL;
	}
	return p;
}

void pool_free(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->reaper, NULL);
	while (p->head != NULL) {
		struct pool_entry *e = p->head;
		unlink_entry(p, e);
		close_imap(e->imap, false);
		base_keycount_give(p->slots, e->slot);
		free_entry(e);
	}
	base_keycount_free(p->slots);
	EVP_MAC_free(p->mac);
	OPENSSL_cleanse(p->key, sizeof(p->key));
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

void pool_counts(struct pool *p, size_t *kept, size_t *busy)
{
	pthread_mutex_lock(&p->lock);
	*kept = p->kept;
	*busy = p->busy;
	pthread_mutex_unlock(&p->lock);
}

/* ---- sessions ------------------------------------------------------------ */

/* A kept connection taken out of the list: does it still work? */
static enum pool_take check_kept(struct pool_entry *e, struct pool_lease *lease,
    struct imap_session **imap, unsigned *bits, pool_check_fn *check, void *check_arg)
{
	enum imap_result r = check ? check(check_arg, e->imap, e->hint ? e->hint : "") :
	    imap_noop(e->imap);

	lease->slot = e->slot;
	if (r == IMAP_OK) {
		*imap = e->imap;
		*bits = e->bits;
		free_entry(e);
		return POOL_KEPT;
	}
	const struct imap_status *st = imap_last(e->imap);
	bool timeout = st->cause == IMAP_CAUSE_TIMEOUT;
	base_log(PB_LOG_INFO, "upstream", "a kept connection failed its check (%s: %s); %s",
	    imap_result_name(r), st->text, timeout ? "the server does not answer" :
	    "logging in afresh");
	close_imap(e->imap, r == IMAP_NO || r == IMAP_BAD);
	free_entry(e);
	if (timeout) {
		pool_release(lease);
		return POOL_DOWN;
	}
	return POOL_NEW;
}

enum pool_take pool_acquire(struct pool *p, const struct pool_key *key,
    unsigned max_per_account, uint64_t deadline_ms, struct pool_lease *lease,
    struct imap_session **imap, unsigned *bits, pool_check_fn *check, void *check_arg)
{
	struct timespec ts = {
		.tv_sec = (time_t)(deadline_ms / 1000u),
		.tv_nsec = (long)(deadline_ms % 1000u) * 1000000L,
	};

	*imap = NULL;
	*bits = 0;
	memset(lease, 0, sizeof(*lease));
	if (identify(p, key, lease->id, lease->acct) != 0)
		return POOL_NOMEM;
	lease->pool = p;
	pthread_mutex_lock(&p->lock);
	for (bool late = false;; ) {
		struct pool_entry *e = find(p, lease->id, true);
		if (e != NULL) {
			unlink_entry(p, e);
			p->busy++;
			pthread_mutex_unlock(&p->lock);
			return check_kept(e, lease, imap, bits, check, check_arg);
		}
		bool at_limit = false;
		lease->slot = base_keycount_take(p->slots, lease->acct, POOL_ID_LEN,
		    max_per_account ? max_per_account : 1, &at_limit);
		if (lease->slot != NULL || !at_limit) {
			p->busy += lease->slot != NULL;
			pthread_mutex_unlock(&p->lock);
			return lease->slot != NULL ? POOL_NEW : POOL_NOMEM;
		}
		/* The account is full. A connection of it kept for another
		 * identity (another password, another client address) is not
		 * in use: it makes room. */
		e = find(p, lease->acct, false);
		if (e != NULL) {
			unlink_entry(p, e);
			lease->slot = e->slot;
			p->busy++;
			pthread_mutex_unlock(&p->lock);
			close_imap(e->imap, true);
			free_entry(e);
			return POOL_NEW;
		}
		if (late) {
			pthread_mutex_unlock(&p->lock);
			return POOL_FULL;
		}
		/* a last look after the deadline: a slot may have come with it */
		int w = deadline_ms ? pthread_cond_timedwait(&p->changed, &p->lock, &ts) : ETIMEDOUT;
		late = w == ETIMEDOUT && base_clock_ms(NULL) >= deadline_ms;
	}
}

bool pool_keep(struct pool_lease *lease, struct imap_session *imap, unsigned bits,
    unsigned keep_s, const char *hint)
{
	struct pool *p = lease->pool;

	if (p == NULL || lease->slot == NULL || imap == NULL || keep_s == 0 ||
	    !imap_reusable(imap))
		return false;
	struct pool_entry *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return false;
	if (hint != NULL && hint[0] && strlen(hint) <= POOL_HINT_MAX &&
	    (e->hint = strdup(hint)) == NULL) {
		free(e);
		return false;
	}
	imap_set_events(imap, NULL, NULL);
	e->imap = imap;
	e->slot = lease->slot;
	memcpy(e->id, lease->id, POOL_ID_LEN);
	memcpy(e->acct, lease->acct, POOL_ID_LEN);
	e->bits = bits;
	e->expires_ms = base_clock_ms(NULL) + (uint64_t)keep_s * 1000u;
	struct pool_entry *old = NULL;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free_entry(e);
		return false;
	}
	if (p->kept >= POOL_KEPT_MAX) {
		old = p->tail;
		unlink_entry(p, old);
	}
	push_entry(p, e);
	p->busy--;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	OPENSSL_cleanse(lease, sizeof(*lease));
	if (old != NULL) {
		close_imap(old->imap, true);
		give_slot(p, old->slot);
		free_entry(old);
	}
	return true;
}

void pool_release(struct pool_lease *lease)
{
	struct pool *p = lease->pool;

	if (p != NULL && lease->slot != NULL) {
		pthread_mutex_lock(&p->lock);
		base_keycount_give(p->slots, lease->slot);
		p->busy--;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	OPENSSL_cleanse(lease, sizeof(*lease));
}
