/* bridge/maildrop/credential.c — the upstream login with a managed account's
 * stored credential (see credential.h). */
#include "bridge/maildrop/credential.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bridge/base/log.h"
#include "bridge/oauth2/access.h"

static enum pop3_md_status from_outcome(enum oauth2_outcome r)
{
	return r == OAUTH2_PERM ? POP3_MD_PERM : POP3_MD_TEMP;
}

void maildrop_log_token_refused(const char *event, const char *account, const char *user,
    const char *msg, const char *detail)
{
	char cmd[STATE_ACCOUNT_MAX + 40];
	struct base_logline l;

	snprintf(cmd, sizeof(cmd), "popbridge account oauth2-login %s", account);
	base_logline_start(&l, PB_LOG_ERROR, event);
	base_logline_str(&l, "account", account);
	base_logline_str(&l, "run", cmd);
	base_logline_str(&l, "msg", msg);
	base_logline_str(&l, "upstream_user", user);
	base_logline_str(&l, "detail", detail);
	base_logline_emit(&l);
}

/* The OAuth2 path: a token, a login, and after a refusal one more of each. */
static enum pop3_md_status login_oauth2(struct maildrop_upstream *up,
    const struct config_options *opt, struct state_db *db, const struct managed_key *key,
    int64_t account_id, const char *account, const char *user, char *detail,
    size_t detail_len)
{
	char *token = oauth2_token_buf_new(), *refused = oauth2_token_buf_new();
	const char *ca = opt->upstream_ca[0] ? opt->upstream_ca : NULL;
	unsigned timeout = opt->upstream_timeout ? opt->upstream_timeout : IMAP_DEFAULT_TIMEOUT_S;
	enum pop3_md_status st = POP3_MD_TEMP;

	if (token == NULL || refused == NULL) {
		snprintf(detail, detail_len, "out of memory");
		goto out;
	}
	enum oauth2_outcome r = oauth2_access_token(db, key, account_id, account, ca, timeout,
	    NULL, token, OAUTH2_TOKEN_MAX + 1, detail, detail_len);
	if (r != OAUTH2_OK) {
		st = from_outcome(r);
		goto out;
	}
	up->oauth2 = true;
	st = maildrop_upstream_login(up, opt, user, token, detail, detail_len);
	if (st != POP3_MD_AUTH)
		goto out;
	/* refused: a token revoked or expired early; once more with a new one */
	base_log(PB_LOG_INFO, "oauth2-refused-upstream", "account %s: the upstream refused "
	    "the access token (%s%s%s); asking for a new one", account, detail,
	    imap_last_challenge(up->imap)[0] ? " " : "", imap_last_challenge(up->imap));
	memcpy(refused, token, strlen(token) + 1);
	maildrop_upstream_free(up);
	r = oauth2_access_token(db, key, account_id, account, ca, timeout, refused, token,
	    OAUTH2_TOKEN_MAX + 1, detail, detail_len);
	if (r != OAUTH2_OK) {
		st = from_outcome(r);
		goto out;
	}
	st = maildrop_upstream_login(up, opt, user, token, detail, detail_len);
	if (st == POP3_MD_AUTH) {
		maildrop_log_token_refused("managed-upstream-refused", account, user,
		    "the upstream refuses a new OAuth2 access token: check the grant's scope "
		    "and the upstream user, then authorise again", detail);
		st = POP3_MD_PERM;
		(void)state_account_credential_result(db, account_id, false);
	}
out:
	oauth2_token_buf_free(token);
	oauth2_token_buf_free(refused);
	return st;
}

enum pop3_md_status maildrop_upstream_login_stored(struct maildrop_upstream *up,
    const struct config_options *opt, struct state_db *db, const struct managed_key *key,
    int64_t account_id, const char *account, const char *user, const char *password,
    char *detail, size_t detail_len)
{
	enum pop3_md_status st;

	if (password != NULL) {
		st = maildrop_upstream_login(up, opt, user, password, detail, detail_len);
		if (st == POP3_MD_AUTH)
			(void)state_account_credential_result(db, account_id, false);
	} else {
		st = login_oauth2(up, opt, db, key, account_id, account, user, detail, detail_len);
	}
	if (st == POP3_MD_OK)
		(void)state_account_credential_result(db, account_id, true);
	return st;
}

enum pop3_md_status maildrop_credential_login(struct maildrop_upstream *up,
    const struct config_options *opt, struct state_db *db, const struct managed_key *key,
    const struct maildrop_credential *c, char *detail, size_t detail_len)
{
	if (!c->managed)
		return maildrop_upstream_login(up, opt, c->user, c->password, detail, detail_len);
	return maildrop_upstream_login_stored(up, opt, db, key, c->account_id, c->account, c->user,
	    c->oauth2 ? NULL : c->password, detail, detail_len);
}

void maildrop_credential_clear(struct maildrop_credential *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}
