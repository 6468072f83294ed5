/* bridge/devlock.c — the one-session-per-device lock table. */
#include "bridge/devlock.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/keycount.h"

struct pb_devlocks {
	pthread_mutex_t lock;
	struct pb_keycount *held;
};

struct pb_devlocks *pb_devlocks_new(void)
{
	struct pb_devlocks *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->held = pb_keycount_new();
	if (!t->held) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void pb_devlocks_free(struct pb_devlocks *t)
{
	if (!t)
		return;
	pb_keycount_free(t->held);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* "account\0device" in lower case; its length, or 0 for an invalid name. */
static size_t make_key(char *key, const char *account, const char *device)
{
	size_t al = strlen(account), dl = strlen(device);
	if (al == 0 || dl == 0 || al > PB_DEVLOCK_NAME_MAX || dl > PB_DEVLOCK_NAME_MAX)
		return 0;
	for (size_t i = 0; i < al; i++)
		key[i] = (account[i] >= 'A' && account[i] <= 'Z') ? account[i] + 32 : account[i];
	key[al] = 0;
	for (size_t i = 0; i < dl; i++)
		key[al + 1 + i] = (device[i] >= 'A' && device[i] <= 'Z') ? device[i] + 32 : device[i];
	return al + 1 + dl;
}

enum pb_devlock_result pb_devlock_acquire(struct pb_devlocks *t, const char *account,
    const char *device, struct pb_devlock *hold)
{
	char key[2 * PB_DEVLOCK_NAME_MAX + 1];
	bool at_limit;
	hold->table = t;
	hold->node = NULL;
	size_t len = make_key(key, account, device);
	if (len == 0)
		return PB_DEVLOCK_INVALID;
	pthread_mutex_lock(&t->lock);
	hold->node = pb_keycount_take(t->held, key, len, 1, &at_limit);
	pthread_mutex_unlock(&t->lock);
	if (hold->node)
		return PB_DEVLOCK_OK;
	return at_limit ? PB_DEVLOCK_IN_USE : PB_DEVLOCK_NOMEM;
}

void pb_devlock_release(struct pb_devlock *hold)
{
	if (!hold->node)
		return;
	pthread_mutex_lock(&hold->table->lock);
	pb_keycount_give(hold->table->held, hold->node);
	pthread_mutex_unlock(&hold->table->lock);
	hold->node = NULL;
}

bool pb_devlock_held(const struct pb_devlock *hold)
{
	return hold->node != NULL;
}

size_t pb_devlocks_count(struct pb_devlocks *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = pb_keycount_size(t->held);
	pthread_mutex_unlock(&t->lock);
	return n;
}
