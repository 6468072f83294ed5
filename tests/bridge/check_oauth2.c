/* tests/bridge/check_oauth2.c — bridge/oauth2/ (SPEC §10): provider presets
 * and the endpoint rule, what token endpoint answers mean, labelled secrets,
 * and against tests/lib/tokend.py (a real HTTPS server with a private test
 * CA, started once for the suite): TLS verification, an unreachable
 * endpoint, an outage, invalid_grant, and the access token of a login —
 * expiry, rotation stored before use, a refused token, one refresh for many
 * threads at once, a lease whose holder died. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>

#include "bridge/base/log.h"
#include "bridge/base/stats.h"
#include "bridge/oauth2/access.h"
#include "bridge/oauth2/grant.h"
#include "bridge/oauth2/http.h"
#include "bridge/oauth2/provider.h"
#include "bridge/oauth2/token.h"
#include "tests/bridge/bt.h"
#include "tests/lib/fakeserver.h"

/* ---- tokend, for the whole suite -------------------------------------------------- */

static pid_t g_tokend;
static int g_tokend_in = -1;
static int g_https, g_http;
static char g_ca[512];

static void tokend_start(void)
{
	int in[2], out[2];
	char path[1024];
	snprintf(path, sizeof(path), "%s/tests/lib/tokend.py", bt_env("POPBRIDGE_SRC"));
	if (pipe(in) != 0 || pipe(out) != 0)
		abort();
	g_tokend = fork();
	if (g_tokend == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execlp("python3", "python3", path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	g_tokend_in = in[1];
	FILE *f = fdopen(out[0], "r");
	char line[1024];
	if (f == NULL || fgets(line, sizeof(line), f) == NULL ||
	    sscanf(line, "HTTPS_PORT=%d HTTP_PORT=%d CA_FILE=%511s", &g_https, &g_http, g_ca) != 3) {
		fprintf(stderr, "tokend did not start\n");
		abort();
	}
	fclose(f);
}

static void tokend_stop(void)
{
	if (g_tokend_in >= 0)
		close(g_tokend_in);
	if (g_tokend > 0)
		waitpid(g_tokend, NULL, 0);
}

struct sink {
	char buf[65536];
	size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t k = size * n;
	if (s->len + k >= sizeof(s->buf))
		return 0;
	memcpy(s->buf + s->len, p, k);
	s->len += k;
	s->buf[s->len] = '\0';
	return k;
}

/* POST json to tokend's /control; its answer (static). */
static const char *ctl(const char *json)
{
	static struct sink s;
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/control", g_http);
	s.len = 0;
	s.buf[0] = '\0';
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
	curl_easy_cleanup(c);
	return s.buf;
}

/* A JSON string member of tokend's answer, into buf. */
static const char *member(const char *json, const char *name, char *buf, size_t len)
{
	char key[64];
	snprintf(key, sizeof(key), "\"%s\": \"", name);
	const char *p = strstr(json, key);
	ck_assert_msg(p != NULL, "%s in %s", name, json);
	p += strlen(key);
	size_t n = strcspn(p, "\"");
	ck_assert_uint_lt(n, len);
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* How many token requests of grant type `grant` tokend has seen. */
static int grants(const char *grant)
{
	const char *st = ctl("{\"op\": \"stats\"}");
	char key[64];
	snprintf(key, sizeof(key), "\"%s\": ", grant);
	const char *p = strstr(st, key);
	return p ? atoi(p + strlen(key)) : 0;
}

static void reset_tokend(void)
{
	ctl("{\"op\": \"set\", \"access_ttl\": 3600, \"rotate\": false, \"delay\": 0, "
	    "\"outage\": false}");
	ctl("{\"op\": \"client\", \"client_id\": \"cid\", \"secret\": \"sec\"}");
}

static const char *issue(const char *user, char *rt, size_t len)
{
	char req[200];
	snprintf(req, sizeof(req), "{\"op\": \"issue\", \"user\": \"%s\", \"client_id\": \"cid\"}",
	    user);
	return member(ctl(req), "refresh_token", rt, len);
}

static void client(struct oauth2_client *c, char *url, size_t len, const char *ca)
{
	snprintf(url, len, "https://127.0.0.1:%d/token", g_https);
	memset(c, 0, sizeof(*c));
	c->token_url = url;
	c->client_id = "cid";
	c->client_secret = "sec";
	c->ca_file = ca;
	c->timeout_s = 10;
}

/* ---- presets and the endpoint rule ----------------------------------------------- */

START_TEST(presets)
{
	struct oauth2_endpoints ep;
	char err[300];

	ck_assert_int_eq(oauth2_preset(OAUTH2_GOOGLE, OAUTH2_GRANT_DEVICE_CODE, NULL, &ep, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ep.token_url, "https://oauth2.googleapis.com/token");
	ck_assert_str_eq(ep.device_url, "https://oauth2.googleapis.com/device/code");
	ck_assert_str_eq(ep.scope, "https://mail.google.com/");
	ck_assert_int_eq(oauth2_preset(OAUTH2_GOOGLE, OAUTH2_GRANT_CLIENT_CREDENTIALS, NULL, &ep,
	    err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "service accounts"));
	ck_assert_int_eq(oauth2_preset(OAUTH2_GOOGLE, OAUTH2_GRANT_DEVICE_CODE, "x", &ep, err,
	    sizeof(err)), -1);

	ck_assert_int_eq(oauth2_preset(OAUTH2_MICROSOFT, OAUTH2_GRANT_DEVICE_CODE, NULL, &ep, err,
	    sizeof(err)), 0);
	ck_assert_str_eq(ep.token_url,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/token");
	ck_assert_str_eq(ep.device_url,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode");
	ck_assert_ptr_nonnull(strstr(ep.scope, "offline_access"));
	ck_assert_ptr_nonnull(strstr(ep.scope, "https://outlook.office.com/IMAP.AccessAsUser.All"));
	ck_assert_int_eq(oauth2_preset(OAUTH2_MICROSOFT, OAUTH2_GRANT_REFRESH_TOKEN,
	    "contoso.onmicrosoft.com", &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(ep.token_url,
	    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
	/* app-only access needs the organisation's own tenant, and its scope */
	ck_assert_int_eq(oauth2_preset(OAUTH2_MICROSOFT, OAUTH2_GRANT_CLIENT_CREDENTIALS, NULL,
	    &ep, err, sizeof(err)), -1);
	ck_assert_int_eq(oauth2_preset(OAUTH2_MICROSOFT, OAUTH2_GRANT_CLIENT_CREDENTIALS,
	    "9188040d-6c67-4c5b-b112-36a304b66dad", &ep, err, sizeof(err)), 0);
	ck_assert_str_eq(ep.scope, "https://outlook.office365.com/.default");
	ck_assert_int_eq(oauth2_preset(OAUTH2_MICROSOFT, OAUTH2_GRANT_DEVICE_CODE, "a/b", &ep,
	    err, sizeof(err)), -1);
	ck_assert_int_eq(oauth2_preset(OAUTH2_CUSTOM, OAUTH2_GRANT_DEVICE_CODE, NULL, &ep, err,
	    sizeof(err)), -1);
}
END_TEST

START_TEST(endpoint_rule)
{
	static const struct {
		const char *url;
		int ok;
	} t[] = {
		{ "https://login.example.org/token", 0 },
		{ "https://[2001:db8::1]:8443/oauth2/token?x=1", 0 },
		{ "http://127.0.0.1:8080/token", 0 },
		{ "http://127.9.9.9/token", 0 },
		{ "http://[::1]:8080/token", 0 },
		{ "http://localhost/token", -1 },        /* a name: not a numeric loopback */
		{ "http://192.0.2.1/token", -1 },
		{ "ftp://127.0.0.1/token", -1 },
		{ "https://user:pw@login.example.org/token", -1 },
		{ "https://login.example.org/a b", -1 },
		{ "login.example.org/token", -1 },
		{ "", -1 },
	};
	char err[300];
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(oauth2_url_check(t[i].url, "--x", err, sizeof(err)) == t[i].ok,
		    "%s: %s", t[i].url, err);
	ck_assert_int_eq(oauth2_url_check("http://10.0.0.1/t", "--oauth2-token-url", err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "--oauth2-token-url: must be an https:// URL"));
}
END_TEST

/* ---- answers ----------------------------------------------------------------------- */

START_TEST(answers)
{
	static const struct {
		long status;
		const char *body;
		enum oauth2_outcome want;
		const char *access, *refresh, *error;
		int64_t expires_in;
	} t[] = {
		{ 200, "{\"access_token\":\"ya29.a-b_c~d+e/f==\",\"token_type\":\"Bearer\","
		    "\"expires_in\":3599,\"refresh_token\":\"1//0g\"}", OAUTH2_OK,
		    "ya29.a-b_c~d+e/f==", "1//0g", "", 3599 },
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"bearer\",\"expires_in\":\"60\"}",
		    OAUTH2_OK, "t", "", "", 60 },
		{ 200, "{\"access_token\":\"t\"}", OAUTH2_OK, "t", "", "", -1 },
		/* a lifetime past any clock: cut, so that now + expires_in cannot
		 * overflow; a negative one counts as absent */
		{ 200, "{\"access_token\":\"t\",\"expires_in\":9223372036854775807}", OAUTH2_OK,
		    "t", "", "", OAUTH2_SECONDS_MAX },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":1000000000}", OAUTH2_OK,
		    "t", "", "", OAUTH2_SECONDS_MAX },
		{ 200, "{\"access_token\":\"t\",\"expires_in\":-5}", OAUTH2_OK, "t", "", "", -1 },
		{ 200, "{\"access_token\":\"t\",\"token_type\":\"mac\"}", OAUTH2_PERM, "", "", "", -1 },
		{ 200, "{\"access_token\":\"t t\",\"token_type\":\"Bearer\"}", OAUTH2_TEMP, "", "",
		    "", -1 },
		{ 200, "{\"token_type\":\"Bearer\"}", OAUTH2_TEMP, "", "", "", -1 },
		{ 200, "{\"access_token\":\"t\",\"refresh_token\":\"\"}", OAUTH2_TEMP, "", "", "", -1 },
		{ 200, "<html>", OAUTH2_TEMP, "", "", "", -1 },
		{ 200, "[1]", OAUTH2_TEMP, "", "", "", -1 },
		{ 200, "{\"access_token\":\"a\",\"access_token\":\"b\"}", OAUTH2_TEMP, "", "", "", -1 },
		{ 400, "{\"error\":\"invalid_grant\",\"error_description\":\"Token has been expired "
		    "or revoked.\"}", OAUTH2_PERM, "", "", "invalid_grant", -1 },
		{ 400, "{\"error\":\"authorization_pending\"}", OAUTH2_PENDING, "", "",
		    "authorization_pending", -1 },
		{ 400, "{\"error\":\"slow_down\"}", OAUTH2_SLOW_DOWN, "", "", "slow_down", -1 },
		{ 400, "{\"error\":\"access_denied\"}", OAUTH2_PERM, "", "", "access_denied", -1 },
		{ 400, "{\"error\":\"expired_token\"}", OAUTH2_PERM, "", "", "expired_token", -1 },
		{ 401, "{\"error\":\"invalid_client\"}", OAUTH2_PERM, "", "", "invalid_client", -1 },
		{ 400, "{\"error\":\"invalid_scope\"}", OAUTH2_PERM, "", "", "invalid_scope", -1 },
		{ 503, "{\"error\":\"temporarily_unavailable\"}", OAUTH2_TEMP, "", "",
		    "", -1 },
		{ 400, "{\"error\":\"temporarily_unavailable\"}", OAUTH2_TEMP, "", "",
		    "temporarily_unavailable", -1 },
		{ 500, "", OAUTH2_TEMP, "", "", "", -1 },
		{ 429, "slow", OAUTH2_TEMP, "", "", "", -1 },
		{ 404, "not found", OAUTH2_PERM, "", "", "", -1 },
		{ 302, "", OAUTH2_PERM, "", "", "", -1 },
		{ 200, "{\"error\":\"invalid_grant\"}", OAUTH2_PERM, "", "", "invalid_grant", -1 },
	};
	struct oauth2_tokens *tk = malloc(sizeof(*tk));
	ck_assert_ptr_nonnull(tk);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum oauth2_outcome r = oauth2_token_parse(t[i].status, t[i].body, strlen(t[i].body),
		    tk);
		ck_assert_msg(r == t[i].want, "%ld %s: %d (%s)", t[i].status, t[i].body, r,
		    tk->detail);
		ck_assert_str_eq(tk->access, t[i].access);
		ck_assert_str_eq(tk->refresh, t[i].refresh);
		ck_assert_str_eq(tk->error, t[i].error);
		ck_assert_int_eq(tk->expires_in, t[i].expires_in);
		ck_assert(tk->detail[0]);
		ck_assert_int_eq(tk->invalid_grant, strcmp(t[i].error, "invalid_grant") == 0);
	}
	/* the provider's words reach the detail, printable */
	static const char desc[] = "{\"error\":\"invalid_grant\",\"error_description\":\"bad\\nline\"}";
	oauth2_token_parse(400, desc, strlen(desc), tk);
	ck_assert_str_eq(tk->detail, "token endpoint: HTTP 400: invalid_grant: bad?line");
	oauth2_tokens_clear(tk);
	free(tk);
}
END_TEST

START_TEST(labelled_secrets)
{
	struct managed_key k;
	unsigned char blob[STATE_TOKEN_BLOB_MAX], plain[SECRET_TOKEN_MAX + 1];
	static char big[SECRET_TOKEN_MAX + 1];
	size_t bl, pl;
	char err[300];

	ck_assert_int_eq(RAND_bytes(k.bytes, sizeof(k.bytes)), 1);
	memset(big, 'x', SECRET_TOKEN_MAX);
	ck_assert_int_eq(managed_seal_labelled(&k, "acc", "oauth2-refresh-token",
	    (const unsigned char *)big, SECRET_TOKEN_MAX, blob, sizeof(blob), &bl, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(managed_unseal_labelled(&k, "acc", "oauth2-refresh-token", blob, bl,
	    plain, sizeof(plain), &pl, err, sizeof(err)), 0);
	ck_assert_uint_eq(pl, SECRET_TOKEN_MAX);
	/* another label, another account, or a plain secret: nothing opens */
	ck_assert_int_eq(managed_unseal_labelled(&k, "acc", "oauth2-access-token", blob, bl,
	    plain, sizeof(plain), &pl, err, sizeof(err)), -1);
	ck_assert_int_eq(managed_unseal_labelled(&k, "acc2", "oauth2-refresh-token", blob, bl,
	    plain, sizeof(plain), &pl, err, sizeof(err)), -1);
	ck_assert_int_eq(managed_seal(&k, "acc", (const unsigned char *)"pw", 2, blob,
	    sizeof(blob), &bl, err, sizeof(err)), 0);
	ck_assert_int_eq(managed_unseal_labelled(&k, "acc", "oauth2-access-token", blob, bl,
	    plain, sizeof(plain), &pl, err, sizeof(err)), -1);
	ck_assert_int_eq(managed_seal_labelled(&k, "acc", "l", (const unsigned char *)big,
	    SECRET_TOKEN_MAX + 1, blob, sizeof(blob), &bl, err, sizeof(err)), -1);
}
END_TEST

/* ---- against tokend: HTTPS, TLS, failures --------------------------------------------- */

START_TEST(requests)
{
	struct oauth2_client c;
	struct oauth2_tokens *t = malloc(sizeof(*t));
	char url[128], rt[128], rt2[128];

	ck_assert_ptr_nonnull(t);
	reset_tokend();
	issue("alice", rt, sizeof(rt));
	client(&c, url, sizeof(url), g_ca);
	ck_assert_int_eq(oauth2_token_refresh(&c, rt, t), OAUTH2_OK);
	ck_assert_int_eq(strncmp(t->access, "at-", 3), 0);
	ck_assert_int_eq(t->expires_in, 3600);
	ck_assert_str_eq(t->refresh, "");
	/* rotation: a new refresh token in the answer, the old one dead */
	ctl("{\"op\": \"set\", \"rotate\": true}");
	ck_assert_int_eq(oauth2_token_refresh(&c, rt, t), OAUTH2_OK);
	ck_assert_uint_lt(strlen(t->refresh), sizeof(rt2));
	memcpy(rt2, t->refresh, strlen(t->refresh) + 1);
	ck_assert_int_eq(strncmp(rt2, "rt-", 3), 0);
	ck_assert_int_eq(oauth2_token_refresh(&c, rt, t), OAUTH2_PERM);
	ck_assert(t->invalid_grant);
	ck_assert_int_eq(oauth2_token_refresh(&c, rt2, t), OAUTH2_OK);
	/* a scheme in capitals: the endpoint rule takes it (RFC 3986 §3.1: the
	 * scheme is case-insensitive), so requests go there too, over TLS */
	char upper[128], err[PB_ERR_MAX];
	snprintf(upper, sizeof(upper), "HTTPS://127.0.0.1:%d/token", g_https);
	ck_assert_int_eq(oauth2_url_check(upper, "--oauth2-token-url", err, sizeof(err)), 0);
	c.token_url = upper;
	ck_assert_uint_lt(strlen(t->refresh), sizeof(rt2));   /* rotation: the live one */
	memcpy(rt2, t->refresh, strlen(t->refresh) + 1);
	ck_assert_msg(oauth2_token_refresh(&c, rt2, t) == OAUTH2_OK, "%s", t->detail);
	ck_assert_uint_lt(strlen(t->refresh), sizeof(rt2));
	memcpy(rt2, t->refresh, strlen(t->refresh) + 1);
	c.token_url = url;

	/* the system store does not know the test CA */
	c.ca_file = NULL;
	ck_assert_int_eq(oauth2_token_refresh(&c, t->refresh, t), OAUTH2_TEMP);
	ck_assert_msg(strstr(t->detail, "certificate") != NULL, "%s", t->detail);
	c.ca_file = g_ca;
	/* a wrong client secret */
	c.client_secret = "wrong";
	ck_assert_int_eq(oauth2_token_client_credentials(&c, t), OAUTH2_PERM);
	ck_assert_str_eq(t->error, "invalid_client");
	c.client_secret = "sec";
	/* the outage switch */
	ctl("{\"op\": \"set\", \"outage\": true}");
	ck_assert_int_eq(oauth2_token_refresh(&c, rt2, t), OAUTH2_TEMP);
	ck_assert_ptr_nonnull(strstr(t->detail, "HTTP 503"));
	ctl("{\"op\": \"set\", \"outage\": false}");
	/* nobody listening */
	int port = 0;
	int fd = pbt_listen(false, &port);
	close(fd);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/token", port);
	ck_assert_int_eq(oauth2_token_refresh(&c, rt2, t), OAUTH2_TEMP);
	ck_assert_ptr_nonnull(strstr(t->detail, "unreachable"));
	/* http to a loopback address is allowed; this one has no token endpoint */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/token", g_http);
	ck_assert_int_eq(oauth2_token_refresh(&c, rt2, t), OAUTH2_PERM);
	ck_assert_ptr_nonnull(strstr(t->detail, "HTTP 404"));
	oauth2_tokens_clear(t);
	free(t);
}
END_TEST

/* ---- the access token of a login ------------------------------------------------------ */

struct env {
	char dir[256], state[300];
	struct managed_key key;
	int64_t id;
	char url[128];
};

/* An account "acc" with a grant for user alice: refresh token rt, access
 * token "at-stale" expiring at `expires` (0: not known). */
static void make_account(struct env *e, const char *rt, int64_t expires)
{
	char err[300];
	ck_assert_int_eq(pbt_mkdtemp("oauth2", e->dir, sizeof(e->dir)), 0);
	snprintf(e->state, sizeof(e->state), "%s/state.db", e->dir);
	ck_assert_int_eq(RAND_bytes(e->key.bytes, sizeof(e->key.bytes)), 1);
	snprintf(e->url, sizeof(e->url), "https://127.0.0.1:%d/token", g_https);
	struct oauth2_grant *g = calloc(1, sizeof(*g));
	struct state_oauth2 *row = malloc(sizeof(*row));
	ck_assert_ptr_nonnull(g);
	ck_assert_ptr_nonnull(row);
	snprintf(g->account, sizeof(g->account), "acc");
	g->provider = OAUTH2_CUSTOM;
	g->grant = OAUTH2_GRANT_REFRESH_TOKEN;
	snprintf(g->token_url, sizeof(g->token_url), "%s", e->url);
	snprintf(g->client_id, sizeof(g->client_id), "cid");
	snprintf(g->client_secret, sizeof(g->client_secret), "sec");
	snprintf(g->refresh, sizeof(g->refresh), "%s", rt);
	snprintf(g->access, sizeof(g->access), "at-stale");
	g->access_expires = expires;
	ck_assert_int_eq(oauth2_grant_seal(&e->key, g, row, err, sizeof(err)), 0);
	struct state_db *db = state_open(e->state, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	ck_assert_int_eq(state_oauth2_account_add(db, "acc", "alice", row, 1, &e->id), STATE_OK);
	state_close(db);
	free(g);
	free(row);
}

static enum oauth2_outcome token(struct env *e, const char *refused, char *tok, size_t len,
    char *detail, size_t dlen)
{
	char err[300];
	struct state_db *db = state_open(e->state, err, sizeof(err));
	ck_assert_ptr_nonnull(db);
	enum oauth2_outcome r = oauth2_access_token(db, &e->key, e->id, "acc", g_ca, 5, refused,
	    tok, len, detail, dlen);
	state_close(db);
	return r;
}

/* The stored refresh token and credential_ok. */
static void stored(struct env *e, char *rt, size_t len, int *ok)
{
	char err[300];
	struct state_db *db = state_open(e->state, err, sizeof(err));
	struct oauth2_grant *g = malloc(sizeof(*g));
	struct state_account a;
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(oauth2_grant_open(db, &e->key, e->id, "acc", g, err, sizeof(err)), 0);
	ck_assert_uint_lt(strlen(g->refresh), len);
	memcpy(rt, g->refresh, strlen(g->refresh) + 1);
	ck_assert_int_eq(state_account_get_by_id(db, e->id, &a), STATE_OK);
	*ok = a.credential_ok;
	state_close(db);
	oauth2_grant_clear(g);
	free(g);
}

START_TEST(expiry_rotation_refused)
{
	struct env e;
	char rt[128], tok[OAUTH2_TOKEN_MAX + 1], tok2[OAUTH2_TOKEN_MAX + 1], d[300], s[128];
	int ok;

	reset_tokend();
	ctl("{\"op\": \"set\", \"rotate\": true}");
	issue("alice", rt, sizeof(rt));
	int64_t now = (int64_t)time(NULL);
	make_account(&e, rt, now + 3600);
	int before = grants("refresh_token");
	struct base_stats s0, s1;
	base_stats_read(&s0);
	/* a token with an hour left is used as it is */
	ck_assert_int_eq(token(&e, NULL, tok, sizeof(tok), d, sizeof(d)), OAUTH2_OK);
	ck_assert_str_eq(tok, "at-stale");
	ck_assert_int_eq(grants("refresh_token"), before);
	/* refused upstream: a new one, with the rotated refresh token stored */
	ck_assert_int_eq(token(&e, "at-stale", tok, sizeof(tok), d, sizeof(d)), OAUTH2_OK);
	ck_assert_str_ne(tok, "at-stale");
	ck_assert_int_eq(grants("refresh_token"), before + 1);
	stored(&e, s, sizeof(s), &ok);
	const char *st = ctl("{\"op\": \"stats\"}");
	ck_assert_ptr_nonnull(strstr(st, s));            /* the one tokend issued last */
	ck_assert_str_ne(s, rt);
	/* a refusal of a token somebody has replaced meanwhile costs nothing */
	ck_assert_int_eq(token(&e, "at-stale", tok2, sizeof(tok2), d, sizeof(d)), OAUTH2_OK);
	ck_assert_str_eq(tok2, tok);
	ck_assert_int_eq(grants("refresh_token"), before + 1);
	/* due within 60 s: refreshed, with the rotated token */
	ctl("{\"op\": \"set\", \"access_ttl\": 30}");
	ck_assert_int_eq(token(&e, tok, tok2, sizeof(tok2), d, sizeof(d)), OAUTH2_OK);
	ck_assert_int_eq(grants("refresh_token"), before + 2);
	ck_assert_int_eq(token(&e, NULL, tok, sizeof(tok), d, sizeof(d)), OAUTH2_OK);
	ck_assert_str_ne(tok, tok2);
	ck_assert_int_eq(grants("refresh_token"), before + 3);
	st = ctl("{\"op\": \"stats\"}");
	ck_assert_ptr_nonnull(strstr(st, s));            /* used, as the next refresh's */

	/* revoked: PERM, invalid_grant, credential_ok 0; the outage: TEMP */
	ctl("{\"op\": \"set\", \"outage\": true}");
	ck_assert_int_eq(token(&e, NULL, tok, sizeof(tok), d, sizeof(d)), OAUTH2_TEMP);
	ck_assert_ptr_nonnull(strstr(d, "HTTP 503"));
	ctl("{\"op\": \"set\", \"outage\": false}");
	ctl("{\"op\": \"revoke\", \"user\": \"alice\"}");
	char logpath[400];
	snprintf(logpath, sizeof(logpath), "%s/log", e.dir);
	int lfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(lfd, 0);
	base_log_set_fd(lfd);
	ck_assert_int_eq(token(&e, NULL, tok, sizeof(tok), d, sizeof(d)), OAUTH2_PERM);
	base_log_set_fd(-1);
	close(lfd);
	ck_assert_ptr_nonnull(strstr(d, "invalid_grant"));
	size_t loglen;
	char *log = pbt_read_file(logpath, 1 << 20, &loglen);
	ck_assert_ptr_nonnull(log);
	ck_assert_msg(strstr(log, "level=error event=oauth2-grant-refused account=acc "
	    "run=\"popbridge account oauth2-login acc\"") != NULL, "%s", log);
	free(log);
	stored(&e, s, sizeof(s), &ok);
	ck_assert_int_eq(ok, 0);
	/* the metrics (SPEC §14): one count per request to the endpoint */
	base_stats_read(&s1);
	ck_assert_uint_eq(s1.oauth2_refresh[BASE_OAUTH2_OK] - s0.oauth2_refresh[BASE_OAUTH2_OK], 3);
	ck_assert_uint_eq(s1.oauth2_refresh[BASE_OAUTH2_TEMPORARY] -
	    s0.oauth2_refresh[BASE_OAUTH2_TEMPORARY], 1);
	ck_assert_uint_eq(s1.oauth2_refresh[BASE_OAUTH2_REFUSED] -
	    s0.oauth2_refresh[BASE_OAUTH2_REFUSED], 1);
	pbt_rmtree(e.dir);
}
END_TEST

struct racer {
	struct env *e;
	char tok[OAUTH2_TOKEN_MAX + 1];
	enum oauth2_outcome r;
	pthread_barrier_t *bar;
};

static void *race(void *arg)
{
	struct racer *x = arg;
	char d[300];
	pthread_barrier_wait(x->bar);
	x->r = token(x->e, NULL, x->tok, sizeof(x->tok), d, sizeof(d));
	return NULL;
}

/* Sixteen threads find the token expired at once: one refresh. */
START_TEST(single_flight)
{
	enum { N = 16 };
	static struct racer x[N];
	pthread_t th[N];
	pthread_barrier_t bar;
	struct env e;
	char rt[128];

	reset_tokend();
	ctl("{\"op\": \"set\", \"rotate\": true, \"delay\": 0.5}");
	issue("alice", rt, sizeof(rt));
	make_account(&e, rt, (int64_t)time(NULL) + 10);
	int before = grants("refresh_token");
	struct base_stats s0, s1;
	base_stats_read(&s0);
	pthread_barrier_init(&bar, NULL, N);
	for (int i = 0; i < N; i++) {
		x[i].e = &e;
		x[i].bar = &bar;
		ck_assert_int_eq(pthread_create(&th[i], NULL, race, &x[i]), 0);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	ctl("{\"op\": \"set\", \"delay\": 0}");
	ck_assert_int_eq(grants("refresh_token"), before + 1);
	base_stats_read(&s1);   /* one request, one count */
	ck_assert_uint_eq(s1.oauth2_refresh[BASE_OAUTH2_OK] - s0.oauth2_refresh[BASE_OAUTH2_OK], 1);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(x[i].r, OAUTH2_OK);
		ck_assert_str_eq(x[i].tok, x[0].tok);
	}
	ck_assert_str_ne(x[0].tok, "at-stale");
	pbt_rmtree(e.dir);
}
END_TEST

/* A lease whose holder died: taken over once it has run out. */
START_TEST(dead_lease)
{
	struct env e;
	char rt[128], tok[OAUTH2_TOKEN_MAX + 1], d[300], err[300];

	reset_tokend();
	issue("alice", rt, sizeof(rt));
	make_account(&e, rt, 1);
	struct state_db *db = state_open(e.state, err, sizeof(err));
	struct state_oauth2 *row = malloc(sizeof(*row));
	ck_assert_ptr_nonnull(row);
	ck_assert_int_eq(state_oauth2_get(db, e.id, row), STATE_OK);
	int64_t now = (int64_t)time(NULL);
	ck_assert_int_eq(state_oauth2_lease(db, e.id, row->generation, 99, now, now + 2),
	    STATE_OK);
	state_close(db);
	free(row);
	int before = grants("refresh_token");
	time_t t0 = time(NULL);
	ck_assert_int_eq(token(&e, NULL, tok, sizeof(tok), d, sizeof(d)), OAUTH2_OK);
	ck_assert_int_ge(time(NULL) - t0, 1);
	ck_assert_int_le(time(NULL) - t0, 5);
	ck_assert_int_eq(grants("refresh_token"), before + 1);
	pbt_rmtree(e.dir);
}
END_TEST

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	/* everything is on loopback: no proxy of the environment in between */
	static const char *const proxies[] = { "http_proxy", "https_proxy", "all_proxy",
	    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY" };
	for (size_t i = 0; i < sizeof(proxies) / sizeof(proxies[0]); i++)
		unsetenv(proxies[i]);
	base_log_setup(PB_LOG_ERROR, false);
	tokend_start();
	Suite *s = suite_create("oauth2");
	TCase *tc = tcase_create("oauth2");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, presets);
	tcase_add_test(tc, endpoint_rule);
	tcase_add_test(tc, answers);
	tcase_add_test(tc, labelled_secrets);
	tcase_add_test(tc, requests);
	tcase_add_test(tc, expiry_rotation_refused);
	tcase_add_test(tc, single_flight);
	tcase_add_test(tc, dead_lease);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	tokend_stop();
	return failed ? 1 : 0;
}
