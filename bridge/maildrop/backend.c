/* bridge/maildrop/backend.c — the process context and connection record serve hands
 * the maildrop (bridge/maildrop/backend.h). */
#include "bridge/maildrop/backend.h"

#include "bridge/base/addrkey.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define CRASH_ENV "POPBRIDGE_TEST_CRASH_AT"

static void copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strlen(src) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

enum maildrop_crash_point maildrop_crash_point_parse(const char *s)
{
	if (s == NULL)
		return BRIDGE_CRASH_NONE;
	if (strcmp(s, "after-journal") == 0)
		return BRIDGE_CRASH_AFTER_JOURNAL;
	if (strcmp(s, "after-upstream-step") == 0)
		return BRIDGE_CRASH_AFTER_UPSTREAM_STEP;
	if (strcmp(s, "before-finish") == 0)
		return BRIDGE_CRASH_BEFORE_FINISH;
	if (strcmp(s, "after-append") == 0)
		return BRIDGE_CRASH_AFTER_APPEND;
	return BRIDGE_CRASH_NONE;
}

void maildrop_ctx_init(struct maildrop_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->crash_at = maildrop_crash_point_parse(getenv(CRASH_ENV));
}

void maildrop_ctx_free(struct maildrop_ctx *ctx)
{
	OPENSSL_cleanse(ctx->managed_key, sizeof(ctx->managed_key));
	ctx->has_managed_key = false;
}

void maildrop_conn_init(struct maildrop_conn *conn, struct maildrop_ctx *ctx,
    const char *remote_addr, const char *tls_version)
{
	memset(conn, 0, sizeof(*conn));
	conn->ctx = ctx;
	copy_cut(conn->remote_addr, sizeof(conn->remote_addr), remote_addr);
	copy_cut(conn->tls_version, sizeof(conn->tls_version), tls_version);
	conn->loopback = base_addr_is_loopback(remote_addr);
}
