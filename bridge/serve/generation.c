/* bridge/serve/generation.c — the settings generations of `popbridge serve`:
 * the settings and TLS context a session started with, reference counted,
 * so that a reload (SIGHUP) gives new sessions new ones while running
 * sessions keep theirs (bridge/serve/internal.h). */
#include "bridge/serve/internal.h"

#include <stdio.h>
#include <stdlib.h>

struct serve_gen *serve_gen_ref(struct serve_gen *g)
{
	atomic_fetch_add(&g->refs, 1);
	return g;
}

void serve_gen_unref(struct serve_gen *g)
{
	if (!g || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	pop3_tls_unref(g->tls);
	config_options_free(&g->opt);
	free(g);
}

struct serve_gen *serve_gen_current(struct serve *srv)
{
	pthread_mutex_lock(&srv->lock);
	struct serve_gen *g = serve_gen_ref(srv->cur);
	pthread_mutex_unlock(&srv->lock);
	return g;
}

/* The TLS context of the settings (NULL and 0 without a certificate). */
static int load_tls(const struct config_options *o, struct pop3_tls **out, char *err, size_t errlen)
{
	*out = NULL;
	if (!o->cert[0])
		return 0;
	*out = pop3_tls_new(o->cert, o->key, (enum pop3_tls_version)(POP3_TLS_1_0 + o->tls_min),
	    err, errlen);
	return *out ? 0 : -1;
}

struct serve_gen *serve_gen_new(struct config_options *opt, char *err, size_t errlen)
{
	struct serve_gen *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (load_tls(opt, &g->tls, err, errlen) != 0) {
		free(g);
		return NULL;
	}
	g->opt = *opt;               /* takes over what opt owns */
	config_options_init(opt);
	atomic_store(&g->refs, 1);
	return g;
}
