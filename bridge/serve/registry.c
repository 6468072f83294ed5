/* bridge/serve/registry.c — running sessions' sockets, for shutdown. */
#include "bridge/serve/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct serve_reg_entry {
	struct serve_reg_entry *prev, *next;
	int fd;                  /* a duplicate of the session's socket */
};

struct serve_registry {
	pthread_mutex_t lock;
	pthread_cond_t left;     /* signalled whenever a session leaves */
	struct serve_reg_entry *head;
	size_t count;
};

struct serve_registry *serve_registry_new(void)
{
	struct serve_registry *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->left, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

void serve_registry_free(struct serve_registry *r)
{
	if (!r)
		return;
	pthread_cond_destroy(&r->left);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

struct serve_reg_entry *serve_registry_add(struct serve_registry *r, int fd)
{
	struct serve_reg_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (e->fd < 0) {
		free(e);
		return NULL;
	}
	pthread_mutex_lock(&r->lock);
	e->next = r->head;
	if (r->head)
		r->head->prev = e;
	r->head = e;
	r->count++;
	pthread_mutex_unlock(&r->lock);
	return e;
}

void serve_registry_leave(struct serve_registry *r, struct serve_reg_entry *e)
{
	pthread_mutex_lock(&r->lock);
	if (e->prev)
		e->prev->next = e->next;
	else
		r->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	r->count--;
	close(e->fd);
	pthread_cond_broadcast(&r->left);
	pthread_mutex_unlock(&r->lock);
	free(e);
}

size_t serve_registry_count(struct serve_registry *r)
{
	pthread_mutex_lock(&r->lock);
	size_t n = r->count;
	pthread_mutex_unlock(&r->lock);
	return n;
}

size_t serve_registry_shutdown_all(struct serve_registry *r)
{
	size_t n = 0;
	pthread_mutex_lock(&r->lock);
	for (struct serve_reg_entry *p = r->head; p; p = p->next, n++)
		shutdown(p->fd, SHUT_RDWR);
	pthread_mutex_unlock(&r->lock);
	return n;
}

bool serve_registry_wait_empty(struct serve_registry *r, unsigned timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->lock);
	while (r->count > 0)
		if (pthread_cond_timedwait(&r->left, &r->lock, &until) == ETIMEDOUT)
			break;
	bool empty = r->count == 0;
	pthread_mutex_unlock(&r->lock);
	return empty;
}
