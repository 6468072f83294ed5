/* bridge/maildrop/devlock.c — the one-session-per-device lock table. */
#include "bridge/maildrop/devlock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/base/keycount.h"
#include "state/state.h"

struct maildrop_devlocks {
	pthread_mutex_t lock;
	struct base_keycount *held;
};

struct maildrop_devlocks *maildrop_devlocks_new(void)
{
	struct maildrop_devlocks *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->held = base_keycount_new();
	if (!t->held) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void maildrop_devlocks_free(struct maildrop_devlocks *t)
{
	if (!t)
		return;
	base_keycount_free(t->held);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* "account\0device" in lower case; its length, or 0 for an invalid name. */
static size_t make_key(char *key, const char *account, const char *device)
{
	size_t al = strlen(account), dl = strlen(device);
	if (al == 0 || dl == 0 || al > STATE_ACCOUNT_MAX || dl > STATE_DEVICE_MAX)
		return 0;
	for (size_t i = 0; i < al; i++)
		key[i] = (account[i] >= 'A' && account[i] <= 'Z') ? account[i] + 32 : account[i];
	key[al] = 0;
	for (size_t i = 0; i < dl; i++)
		key[al + 1 + i] = (device[i] >= 'A' && device[i] <= 'Z') ? device[i] + 32 : device[i];
	return al + 1 + dl;
}

enum maildrop_devlock_result maildrop_devlock_acquire(struct maildrop_devlocks *t, const char *account,
    const char *device, struct maildrop_devlock *hold)
{
	char key[STATE_ACCOUNT_MAX + 1 + STATE_DEVICE_MAX + 1];
	bool at_limit;
	hold->table = t;
	hold->node = NULL;
	size_t len = make_key(key, account, device);
	if (len == 0)
		return PB_DEVLOCK_INVALID;
	pthread_mutex_lock(&t->lock);
	hold->node = base_keycount_take(t->held, key, len, 1, &at_limit);
	pthread_mutex_unlock(&t->lock);
	if (hold->node)
		return PB_DEVLOCK_OK;
	return at_limit ? PB_DEVLOCK_IN_USE : PB_DEVLOCK_NOMEM;
}

void maildrop_devlock_release(struct maildrop_devlock *hold)
{
	if (!hold->node)
		return;
	pthread_mutex_lock(&hold->table->lock);
	base_keycount_give(hold->table->held, hold->node);
	pthread_mutex_unlock(&hold->table->lock);
	hold->node = NULL;
}

bool maildrop_devlock_held(const struct maildrop_devlock *hold)
{
	return hold->node != NULL;
}

size_t maildrop_devlocks_count(struct maildrop_devlocks *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = base_keycount_size(t->held);
	pthread_mutex_unlock(&t->lock);
	return n;
}
