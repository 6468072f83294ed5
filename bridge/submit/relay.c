/* bridge/submit/relay.c — SMTP submission's relay (see relay.h). */
#include "bridge/submit/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "bridge/base/clock.h"
#include "bridge/base/log.h"
#include "bridge/maildrop/login.h"
#include "bridge/managed/secret.h"
#include "bridge/oauth2/access.h"
#include "bridge/submit/client.h"
#include "bridge/submit/sentcopy.h"

#define TEXT_UNAVAILABLE "Submission server unavailable, try again later"

struct submit_relay {
	struct submit_conn *conn;
	struct submit_ctx *ctx;
	const struct config_options *opt;
	struct maildrop_upstream up;         /* IMAP: the Sent copy */
	bool files_sent;                     /* the IMAP server at login: X-GM-EXT-1 */
	struct state_db *db;
	int64_t account_id, device_id;
	char user[SMTP_USER_MAX + 1];        /* the login name as sent */
	struct maildrop_credential cred;     /* the account's, from the device login */
	struct submit_client smtp;
	/* the transaction */
	bool in_tx;
	unsigned rcpts;
	uint64_t t0_ms;
	uint64_t size;
	bool spooling;
	struct submit_spool_file spool;
	int64_t row;                         /* its Sent copy; 0: none */
	bool data_failed;
	bool accepted;
	unsigned code;
	char why[BRIDGE_DETAIL_MAX];
};

/* s into dst, cut to fit. */
static void put(char *dst, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1);
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* s after what dst holds, cut to fit. */
static void append(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(dst);
	put(dst + n, cap - n, s);
}

/* ---- context ------------------------------------------------------------------- */

int submit_ctx_init(struct submit_ctx *ctx, struct maildrop_ctx *md, const char *state_path)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->md = md;
	if (submit_spool_dir(state_path, ctx->spool_dir, sizeof(ctx->spool_dir)) != 0)
		return -1;
	if (gethostname(ctx->helo, sizeof(ctx->helo) - 1) != 0 || ctx->helo[0] == '\0' ||
	    strspn(ctx->helo, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
	    strlen(ctx->helo))
		snprintf(ctx->helo, sizeof(ctx->helo), "localhost");
	pthread_mutex_init(&ctx->lock, NULL);
	return 0;
}

void submit_ctx_free(struct submit_ctx *ctx)
{
	pthread_mutex_destroy(&ctx->lock);
}

void submit_conn_init(struct submit_conn *conn, struct submit_ctx *ctx,
    const struct config_options *opt, const char *remote_addr, unsigned remote_port)
{
	memset(conn, 0, sizeof(*conn));
	conn->ctx = ctx;
	conn->opt = opt;
	snprintf(conn->remote_addr, sizeof(conn->remote_addr), "%s", remote_addr);
	conn->remote_port = remote_port;
}

static int any_row(void *arg, const struct state_sent *s)
{
	(void)s;
	*(bool *)arg = true;
	return 1;
}

void submit_owed_copies(void *arg, struct maildrop_upstream *up, struct state_db *db,
    int64_t account_id, const char *account, const struct config_options *opt)
{
	struct submit_ctx *ctx = arg;
	bool any = false;

	if (state_sent_pending(db, account_id, 1, any_row, &any) != STATE_OK || !any)
		return;
	const struct submit_copy_env env = {
		.up = up, .db = db, .opt = opt, .spool_dir = ctx->spool_dir, .account = account,
		.now = (int64_t)time(NULL), .locks = ctx->md->devlocks, .crash_at = ctx->md->crash_at,
	};
	submit_copy_account(&env, account_id);
}

static void endpoint(const struct submit_ctx *ctx, const struct config_options *opt,
    struct submit_endpoint *ep)
{
	ep->host = opt->smtp_upstream.host;
	ep->port = opt->smtp_upstream.port;
	ep->tls = opt->smtp_upstream_tls;
	ep->ca = opt->upstream_ca;
	ep->timeout_s = opt->upstream_timeout;
	ep->helo = ctx->helo;
}

/* ---- EHLO: what the upstream offers ----------------------------------------------- */

static void remember_ext(struct submit_ctx *ctx, const struct smtp_extensions *ext, bool ok)
{
	pthread_mutex_lock(&ctx->lock);
	ctx->probing = false;
	if (ok)
		ctx->ext = *ext;
	else
		memset(&ctx->ext, 0, sizeof(ctx->ext));
	ctx->ext_until_ms = base_clock_ms(NULL) +
	    (uint64_t)(ok ? SUBMIT_EXT_CACHE_S : SUBMIT_EXT_RETRY_S) * 1000;
	pthread_mutex_unlock(&ctx->lock);
}

static void sr_extensions(void *backend, struct smtp_extensions *out)
{
	struct submit_conn *conn = backend;
	struct submit_ctx *ctx = conn->ctx;
	struct submit_endpoint ep;
	struct smtp_reply reply;

	/* Ask the upstream (no login) when the cache is out of date: one
	 * connection per cache period, and one at a time — EHLO comes before
	 * any login, so the other sessions meanwhile answer from what is known
	 * (before the first answer: nothing) rather than open one each and
	 * wait as long. */
	pthread_mutex_lock(&ctx->lock);
	bool ask = ctx->ext_until_ms <= base_clock_ms(NULL) && !ctx->probing;
	ctx->probing = ctx->probing || ask;
	*out = ctx->ext;
	pthread_mutex_unlock(&ctx->lock);
	if (!ask)
		return;
	struct submit_client *c = malloc(sizeof(*c));
	if (c == NULL) {
		pthread_mutex_lock(&ctx->lock);
		ctx->probing = false;
		pthread_mutex_unlock(&ctx->lock);
		return;
	}
	submit_client_init(c);
	endpoint(ctx, conn->opt, &ep);
	bool ok = submit_client_open(c, &ep, &reply) == 0;
	if (ok)
		*out = c->caps.ext;
	else
		base_log(PB_LOG_WARN, "submission", "asking the submission server what it offers: %s",
		    c->err[0] ? c->err : reply.text);
	submit_client_close(c, true);
	remember_ext(ctx, out, ok);
	free(c);
}

/* ---- AUTH ---------------------------------------------------------------------------- */

static void set_detail(struct submit_conn *conn, const char *d)
{
	put(conn->detail, sizeof(conn->detail), d);
}

/* What upstream_login() says. */
enum up_login {
	UP_OK = 0,
	UP_REFUSED,      /* the server's refusal in the reply */
	UP_TROUBLE,      /* connection or server trouble, the token endpoint's
	                    outage (r->why): try later */
	UP_PERM,         /* the OAuth2 grant is refused (r->why): an
	                    administrator must act */
};

/* Connect to the submission server (EHLO, STARTTLS). 0, or what failed. */
static enum up_login upstream_open(struct submit_relay *r, struct smtp_reply *reply)
{
	struct submit_endpoint ep;

	endpoint(r->ctx, r->opt, &ep);
	int k = submit_client_open(&r->smtp, &ep, reply);
	if (k != 0) {
		put(r->why, sizeof(r->why), k < 0 ? r->smtp.err : reply->text);
		submit_client_close(&r->smtp, k > 0);
		return k < 0 ? UP_TROUBLE : UP_REFUSED;
	}
	remember_ext(r->ctx, &r->smtp.caps.ext, true);
	return UP_OK;
}

/* An OAuth2 account's AUTH (SPEC §10): its access token (bridge/oauth2/:
 * the stored one, refreshed when due); when the server refuses it (535, or
 * an error challenge), a new token once and a new connection, as the IMAP
 * login does (bridge/maildrop/credential.c). */
static enum up_login auth_oauth2(struct submit_relay *r, struct smtp_reply *reply)
{
	const struct config_options *opt = r->opt;
	const char *ca = opt->upstream_ca[0] ? opt->upstream_ca : NULL;
	unsigned timeout = opt->upstream_timeout ? opt->upstream_timeout : IMAP_DEFAULT_TIMEOUT_S;
	char *token = oauth2_token_buf_new(), *refused = oauth2_token_buf_new();
	char challenge[SMTP_REPLY_LINE_MAX + 1], detail[BRIDGE_DETAIL_MAX];
	struct managed_key key;
	enum up_login st = UP_TROUBLE;

	memcpy(key.bytes, r->ctx->md->managed_key, sizeof(key.bytes));
	if (token == NULL || refused == NULL) {
		put(r->why, sizeof(r->why), "out of memory");
		goto out;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt > 0 && (st = upstream_open(r, reply)) != UP_OK)
			goto out;
		enum oauth2_outcome o = oauth2_access_token(r->db, &key, r->cred.account_id,
		    r->cred.account, ca, timeout, attempt > 0 ? refused : NULL, token,
		    OAUTH2_TOKEN_MAX + 1, detail, sizeof(detail));
		if (o != OAUTH2_OK) {
			put(r->why, sizeof(r->why), "OAuth2: ");
			append(r->why, sizeof(r->why), detail);
			st = o == OAUTH2_PERM ? UP_PERM : UP_TROUBLE;
			goto out;
		}
		if (submit_client_auth_oauth2(&r->smtp, r->cred.user, token, reply, challenge,
		    sizeof(challenge)) != 0) {
			put(r->why, sizeof(r->why), r->smtp.err);
			st = UP_TROUBLE;
			goto out;
		}
		if (reply->code != 535 && challenge[0] == '\0') {
			st = reply->code == 235 ? UP_OK : UP_REFUSED;
			goto out;
		}
		snprintf(r->why, sizeof(r->why), "AUTH %s: %u ",
		    r->smtp.caps.mechs & SMTP_MECH_OAUTHBEARER ? "OAUTHBEARER" : "XOAUTH2",
		    reply->code);
		append(r->why, sizeof(r->why), challenge[0] ? challenge : reply->text);
		if (attempt > 0)
			break;
		/* a token revoked or expired early: once more with a new one */
		base_log(PB_LOG_INFO, "oauth2-refused-upstream", "account %s: the submission "
		    "server refused the access token (%s); asking for a new one",
		    r->cred.account, r->why);
		memcpy(refused, token, strlen(token) + 1);
		submit_client_close(&r->smtp, true);
	}
	/* refused again: the grant's scope or the user, not this token */
	maildrop_log_token_refused("submission-refused", r->cred.account, r->cred.user,
	    "the submission server refuses a new OAuth2 access token that the IMAP server "
	    "takes: check that the grant's scope allows sending (Microsoft 365: SMTP.Send) "
	    "and the upstream user, then authorise again", r->why);
	st = UP_REFUSED;
out:
	managed_key_clear(&key);
	oauth2_token_buf_free(token);
	oauth2_token_buf_free(refused);
	return st;
}

/* Connect to the submission server and log in with the account's
 * credential. UP_OK, or what failed (r->why). */
static enum up_login upstream_login(struct submit_relay *r, struct smtp_reply *reply)
{
	enum up_login st = upstream_open(r, reply);

	if (st != UP_OK)
		return st;
	if (r->cred.oauth2) {
		st = auth_oauth2(r, reply);
	} else if (submit_client_auth(&r->smtp, r->cred.user, r->cred.password, reply) != 0) {
		put(r->why, sizeof(r->why), r->smtp.err);
		st = UP_TROUBLE;
	} else if (reply->code != 235) {
		snprintf(r->why, sizeof(r->why), "AUTH: %u %.120s", reply->code, reply->text);
		st = UP_REFUSED;
	}
	if (st != UP_OK)
		submit_client_close(&r->smtp, true);
	return st;
}

static void relay_free(struct submit_relay *r)
{
	submit_client_close(&r->smtp, true);
	submit_spool_discard(&r->spool);
	maildrop_upstream_free(&r->up);
	state_close(r->db);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

/* Copies the account still owes: appended now, on the session's IMAP
 * connection (logged in again, with the account's credential, when it went
 * away). */
static void copy_owed(struct submit_relay *r)
{
	char detail[BRIDGE_DETAIL_MAX];

	if (!maildrop_upstream_usable(&r->up)) {
		struct managed_key key;
		memcpy(key.bytes, r->ctx->md->managed_key, sizeof(key.bytes));
		maildrop_upstream_free(&r->up);
		enum pop3_md_status st = maildrop_credential_login(&r->up, r->opt, r->db, &key,
		    &r->cred, detail, sizeof(detail));
		managed_key_clear(&key);
		if (st != POP3_MD_OK) {
			base_log(PB_LOG_WARN, "sent-copy", "account %s: IMAP login for the Sent copy: %s",
			    r->conn->account, detail);
			return;
		}
	}
	submit_owed_copies(r->ctx, &r->up, r->db, r->account_id, r->conn->account, r->opt);
}

static enum smtp_auth_status sr_open(void *backend, const struct smtp_credentials *cred,
    void **relayp, struct smtp_auth_reply *reply)
{
	struct submit_conn *conn = backend;
	const struct config_options *opt = conn->opt;
	struct maildrop_login l;
	struct smtp_reply ur;

	*relayp = NULL;
	conn->identified = false;
	conn->account[0] = conn->device[0] = conn->detail[0] = '\0';
	/* SPEC §11: each event=submission line names the session's TLS, which
	 * AUTH settles (no STARTTLS after it). */
	snprintf(conn->tls_version, sizeof(conn->tls_version), "%s",
	    cred->tls_version != NULL ? cred->tls_version : "");
	struct submit_relay *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		set_detail(conn, "out of memory");
		return SMTP_AUTH_TEMP;
	}
	r->conn = conn;
	r->ctx = conn->ctx;
	r->opt = opt;
	r->spool.fd = -1;
	submit_client_init(&r->smtp);
	snprintf(r->user, sizeof(r->user), "%s", cred->user);
	maildrop_login_init(&l, conn->ctx->md, opt, "smtp", conn->remote_addr, conn->remote_port,
	    cred->tls_version, conn->login_deadline_ms, &r->up);
	/* The submission server's credential is the account's, as the device
	 * login used it (passthrough: the device's password; managed: the
	 * stored password or OAuth2 grant). */
	l.cred = &r->cred;
	enum maildrop_login_status ls = maildrop_device_login(&l, cred->user, cred->password);
	r->db = l.db;
	l.db = NULL;
	snprintf(conn->account, sizeof(conn->account), "%s", l.account);
	snprintf(conn->device, sizeof(conn->device), "%s", l.device);
	put(reply->text, sizeof(reply->text), l.text);
	set_detail(conn, l.detail);
	reply->delay_ms = l.delay_ms;
	maildrop_login_end(&l);
	if (ls != MAILDROP_LOGIN_OK) {
		relay_free(r);
		return ls == MAILDROP_LOGIN_AUTH ? SMTP_AUTH_BAD : ls == MAILDROP_LOGIN_PERM ?
		    SMTP_AUTH_PERM : SMTP_AUTH_TEMP;
	}
	conn->identified = true;
	r->account_id = l.account_id;
	r->device_id = l.device_id;
	/* Settled at login: a later re-login for an owed copy may fail and
	 * leave no IMAP connection to ask. */
	r->files_sent = r->up.imap != NULL && imap_has(r->up.imap, IMAP_CAP_X_GM_EXT_1);

	enum up_login k = upstream_login(r, &ur);
	if (k != UP_OK) {
		set_detail(conn, r->why);
		bool refused = (k == UP_REFUSED && ur.code / 100 == 5) || k == UP_PERM;
		if (k == UP_REFUSED && ur.code == 535 && !r->cred.oauth2)
			base_log(PB_LOG_ERROR, "submission", "the submission server refused the "
			    "credentials of account %s that the IMAP server took (%s)", conn->account,
			    r->why);
		/* A managed account's stored credential refused: recorded as an IMAP
		 * refusal is (bridge/maildrop/credential.h), `account list` WORKS no. */
		if (k == UP_REFUSED && ur.code == 535 && r->cred.managed)
			(void)state_account_credential_result(r->db, r->cred.account_id, false);
		put(reply->text, sizeof(reply->text), k == UP_PERM ? "Account unavailable: the "
		    "administrator must renew its credentials" : refused ?
		    "Account unavailable: the submission server refused it" : TEXT_UNAVAILABLE);
		relay_free(r);
		return refused ? SMTP_AUTH_PERM : SMTP_AUTH_TEMP;
	}
	reply->text[0] = '\0';
	conn->detail[0] = '\0';
	if (conn->logged_in != NULL)
		conn->logged_in(conn->logged_in_arg);
	/* SPEC §11: copies owed since an earlier session go in now. */
	copy_owed(r);
	*relayp = r;
	return SMTP_AUTH_OK;
}

/* ---- the transaction ----------------------------------------------------------------- */

static void set_reply(struct smtp_reply *reply, unsigned code, const char *text)
{
	reply->code = code;
	put(reply->text, sizeof(reply->text), text);
}

static enum smtp_relay_rc gone(struct submit_relay *r, struct smtp_reply *reply)
{
	set_detail(r->conn, r->smtp.err);
	set_reply(reply, 421, "4.4.2 Connection to the submission server lost");
	return SMTP_RELAY_CLOSE;
}

static void tx_reset(struct submit_relay *r)
{
	submit_spool_discard(&r->spool);
	r->in_tx = r->spooling = r->data_failed = r->accepted = false;
	r->rcpts = 0;
	r->size = 0;
	r->row = 0;
	r->code = 0;
	r->why[0] = '\0';
}

static void log_tx(struct submit_relay *r, unsigned code, const char *copy)
{
	struct base_logline l;
	uint64_t now = base_clock_ms(NULL);

	base_logline_start(&l, PB_LOG_INFO, "submission");
	base_logline_str(&l, "user", r->user);
	base_logline_str(&l, "account", r->conn->account);
	base_logline_str(&l, "device", r->conn->device);
	base_logline_str(&l, "remote", r->conn->remote_addr);
	base_logline_str(&l, "tls", r->conn->tls_version[0] ? r->conn->tls_version : "none");
	base_logline_u64(&l, "rcpts", r->rcpts);
	base_logline_u64(&l, "size", r->size);
	base_logline_u64(&l, "reply", code);
	base_logline_str(&l, "sent_copy", copy);
	base_logline_u64(&l, "duration_ms", now > r->t0_ms ? now - r->t0_ms : 0);
	if (r->why[0])
		base_logline_str(&l, "reason", r->why);
	base_logline_emit(&l);
}

static enum smtp_relay_rc sr_mail(void *relay, const char *path, const char *params,
    struct smtp_reply *reply)
{
	struct submit_relay *r = relay;
	char line[SMTP_PATH_MAX + SMTP_PARAMS_MAX + 16];

	tx_reset(r);
	snprintf(line, sizeof(line), "MAIL FROM:<%s>%s%s", path, params[0] ? " " : "", params);
	for (int attempt = 0;; attempt++) {
		/* A connection kept since the last transaction (or AUTH) may have
		 * been timed out by the server meanwhile (its 421 and a close):
		 * a new one then, as after an abandoned transaction. */
		bool kept = r->smtp.open;
		if (kept && !submit_client_idle(&r->smtp)) {
			submit_client_close(&r->smtp, false);
			kept = false;
		}
		if (!r->smtp.open && upstream_login(r, reply) != UP_OK) {
			set_detail(r->conn, r->why);
			set_reply(reply, 421, "4.4.2 " TEXT_UNAVAILABLE);
			return SMTP_RELAY_CLOSE;
		}
		int k = submit_client_cmd(&r->smtp, line, reply);
		/* the same timeout racing the MAIL: once more, on a new one */
		if (kept && attempt == 0 && (k != 0 || reply->code == 421)) {
			submit_client_close(&r->smtp, false);
			continue;
		}
		if (k != 0)
			return gone(r, reply);
		break;
	}
	if (reply->code / 100 == 2) {
		r->in_tx = true;
		r->t0_ms = base_clock_ms(NULL);
	}
	return SMTP_RELAY_REPLY;
}

static enum smtp_relay_rc sr_rcpt(void *relay, const char *path, struct smtp_reply *reply)
{
	struct submit_relay *r = relay;
	char line[SMTP_PATH_MAX + 16];

	snprintf(line, sizeof(line), "RCPT TO:<%s>", path);
	if (submit_client_cmd(&r->smtp, line, reply) != 0)
		return gone(r, reply);
	if (reply->code / 100 == 2)
		r->rcpts++;
	return SMTP_RELAY_REPLY;
}

/* Whether this message gets a Sent copy (SPEC §11). */
static bool wants_copy(struct submit_relay *r)
{
	if (r->opt->sent_copy == PB_SENT_NEVER)
		return false;
	if (r->opt->sent_copy == PB_SENT_ALWAYS)
		return true;
	/* auto: Gmail files what its SMTP sends in [Gmail]/Sent Mail itself */
	return !r->files_sent;
}

static enum smtp_relay_rc sr_data_begin(void *relay, struct smtp_reply *reply)
{
	struct submit_relay *r = relay;
	char err[PB_ERR_MAX];

	r->spooling = wants_copy(r);
	if (r->spooling && submit_spool_create(r->ctx->spool_dir, &r->spool, err, sizeof(err)) != 0) {
		base_log(PB_LOG_ERROR, "submission", "the Sent copy cannot be stored: %s", err);
		set_detail(r->conn, err);
		put(r->why, sizeof(r->why), err);
		log_tx(r, 451, "none");
		struct smtp_reply ignored;
		if (submit_client_cmd(&r->smtp, "RSET", &ignored) != 0)
			return gone(r, reply);
		tx_reset(r);
		set_reply(reply, 451, "4.3.0 Cannot store the message now, try again later");
		return SMTP_RELAY_REPLY;
	}
	if (submit_client_cmd(&r->smtp, "DATA", reply) != 0) {
		submit_spool_discard(&r->spool);
		return gone(r, reply);
	}
	if (reply->code != 354)
		tx_reset(r);
	return SMTP_RELAY_REPLY;
}

static int sr_data_write(void *relay, const char *buf, size_t len)
{
	struct submit_relay *r = relay;

	r->size += len;
	if (r->spooling && submit_spool_write(&r->spool, buf, len) != 0) {
		snprintf(r->why, sizeof(r->why), "writing the Sent copy failed");
		r->data_failed = true;
		return -1;
	}
	if (submit_client_data(&r->smtp, buf, len) != 0) {
		put(r->why, sizeof(r->why), r->smtp.err);
		r->data_failed = true;
		return -1;
	}
	return 0;
}

/* The data cannot go on: the upstream waits for it, so its connection goes
 * (a new one at the next MAIL). */
static enum smtp_relay_rc abandon(struct submit_relay *r, enum smtp_data_end end,
    struct smtp_reply *reply)
{
	submit_client_close(&r->smtp, false);
	if (end == SMTP_DATA_TOO_BIG)
		set_reply(reply, 552, "5.3.4 Message size exceeds fixed maximum message size");
	else
		set_reply(reply, 451, "4.3.0 The message could not be passed on, try again later");
	if (end == SMTP_DATA_ABORTED)
		snprintf(r->why, sizeof(r->why), "the client went away during the data");
	log_tx(r, end == SMTP_DATA_ABORTED ? 0 : reply->code, "none");
	tx_reset(r);
	return SMTP_RELAY_REPLY;
}

static enum smtp_relay_rc sr_data_end(void *relay, enum smtp_data_end end,
    struct smtp_reply *reply)
{
	struct submit_relay *r = relay;
	char err[PB_ERR_MAX], sha[STATE_SHA256_HEX + 1];

	if (end != SMTP_DATA_COMPLETE || r->data_failed)
		return abandon(r, r->data_failed ? SMTP_DATA_FAILED : end, reply);
	/* An empty message gets no Sent copy: no IMAP server stores one
	 * (Dovecot: "Can't save a zero byte message"), so it would be owed for
	 * ever. */
	if (r->spooling && r->size == 0) {
		submit_spool_discard(&r->spool);
		r->spooling = false;
	}
	/* SPEC §11: on disk and recorded before the upstream can accept it. */
	if (r->spooling) {
		int64_t now = (int64_t)time(NULL);
		/* err: the spool's failure, else the state database's */
		bool kept = submit_spool_commit(&r->spool, sha, err, sizeof(err)) == 0;
		if (kept && state_sent_add(r->db, r->account_id, r->device_id, r->spool.name,
		    r->size, sha, now, &r->row) != STATE_OK) {
			snprintf(err, sizeof(err), "state database: %s", state_errmsg(r->db));
			kept = false;
		}
		if (!kept) {
			base_log(PB_LOG_ERROR, "submission", "account %s: the Sent copy cannot be "
			    "recorded, the message is not sent: %s", r->conn->account, err);
			put(r->why, sizeof(r->why), err);
			submit_spool_remove(r->ctx->spool_dir, r->spool.name);
			return abandon(r, SMTP_DATA_FAILED, reply);
		}
	}
	if (submit_client_data_end(&r->smtp, reply) != 0) {
		/* Unknown whether the upstream took it: the device sends again. */
		put(r->why, sizeof(r->why), r->smtp.err);
		set_reply(reply, 451, "4.4.2 Connection to the submission server lost; "
		    "the message may not have been sent");
		if (r->row != 0)
			state_sent_remove(r->db, r->row);
		submit_spool_remove(r->ctx->spool_dir, r->spool.name);
		log_tx(r, 0, "none");
		tx_reset(r);
		return SMTP_RELAY_REPLY;
	}
	r->code = reply->code;
	if (reply->code / 100 != 2) {
		if (r->row != 0)
			state_sent_remove(r->db, r->row);
		submit_spool_remove(r->ctx->spool_dir, r->spool.name);
		r->row = 0;
		return SMTP_RELAY_REPLY;
	}
	/* Accepted: the copy is owed before the device hears it. */
	r->accepted = true;
	r->conn->sent++;
	int rc = r->row != 0 ? state_sent_accepted(r->db, r->row)
	    : state_device_sent(r->db, r->device_id);
	if (rc != STATE_OK)
		base_log(PB_LOG_ERROR, "submission", "account %s: recording a message sent: %s%s",
		    r->conn->account, state_errmsg(r->db), r->row != 0 ?
		    " (its Sent copy is dropped at the next start)" : "");
	return SMTP_RELAY_REPLY;
}

static void sr_data_done(void *relay)
{
	struct submit_relay *r = relay;
	const char *copy = "none";

	if (r->accepted && r->row != 0) {
		copy_owed(r);
		struct state_sent s;
		bool done = state_sent_get(r->db, r->row, &s) == STATE_OK &&
		    s.state == STATE_SENT_DONE;
		copy = done ? "appended" : "pending";
		if (!done)
			r->conn->copies_pending++;
	} else if (r->accepted) {
		copy = "skipped";
	}
	if (r->code != 0)
		log_tx(r, r->code, copy);
	r->spool.fd = -1;   /* committed or removed: nothing to discard */
	tx_reset(r);
}

static enum smtp_relay_rc sr_rset(void *relay, struct smtp_reply *reply)
{
	struct submit_relay *r = relay;

	tx_reset(r);
	if (!r->smtp.open) {
		set_reply(reply, 250, "2.0.0 Ok");
		return SMTP_RELAY_REPLY;
	}
	if (submit_client_cmd(&r->smtp, "RSET", reply) != 0)
		return gone(r, reply);
	return SMTP_RELAY_REPLY;
}

static void sr_close(void *relay)
{
	relay_free(relay);
}

const struct smtp_relay_ops submit_ops = {
	.extensions = sr_extensions,
	.open = sr_open,
	.mail = sr_mail,
	.rcpt = sr_rcpt,
	.data_begin = sr_data_begin,
	.data_write = sr_data_write,
	.data_end = sr_data_end,
	.data_done = sr_data_done,
	.rset = sr_rset,
	.close = sr_close,
};
