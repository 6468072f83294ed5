/* bridge/managed/login.c — managed-mode login (see managed.h for the contract and
 * the cost argument). */
#include "bridge/managed/login.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bridge/managed/password.h"

/* What one login needs of a device, copied out of the listing callback
 * (which may not call back into state). */
struct cand {
	int64_t id;
	bool revoked;
	char name[STATE_DEVICE_MAX + 1];
	char hash[STATE_HASH_MAX + 1];
};

struct cand_list {
	struct cand c[MANAGED_DEVICES_MAX];
	size_t n;
	bool too_many;
};

static int collect(void *arg, const struct state_device *d)
{
	struct cand_list *l = arg;

	if (l->n >= MANAGED_DEVICES_MAX) {
		l->too_many = true;
		return 1;
	}
	struct cand *c = &l->c[l->n++];
	c->id = d->id;
	c->revoked = d->revoked;
	snprintf(c->name, sizeof(c->name), "%s", d->name);
	snprintf(c->hash, sizeof(c->hash), "%s", d->password_hash);
	return 0;
}

static int fail(struct managed_login *out, int temporary, char *err, size_t errlen,
    const char *what, const char *detail)
{
	managed_login_clear(out);
	out->error_temporary = temporary;
	snprintf(err, errlen, "%s%s%s", what, detail && *detail ? ": " : "",
	    detail ? detail : "");
	return MANAGED_ERROR;
}

void managed_login_clear(struct managed_login *l)
{
	OPENSSL_cleanse(l, sizeof(*l));
}

int managed_upstream_unseal(const struct managed_key *key, const struct state_account *a,
    char user[STATE_USER_MAX + 1], char password[SECRET_PLAINTEXT_MAX + 1],
    char *err, size_t errlen)
{
	size_t n = 0;

	user[0] = password[0] = '\0';
	if (a->auth == STATE_AUTH_MANAGED && a->credential == STATE_CRED_OAUTH2) {
		snprintf(err, errlen, "the upstream credential is an OAuth2 grant, not a password");
		return -1;
	}
	if (a->auth != STATE_AUTH_MANAGED || a->secret_len == 0) {
		snprintf(err, errlen, "no upstream password is stored");
		return -1;
	}
	if (managed_unseal(key, a->name, a->secret, a->secret_len, (unsigned char *)password,
	    SECRET_PLAINTEXT_MAX + 1, &n, err, errlen) != 0)
		return -1;
	if (n > SECRET_PLAINTEXT_MAX || memchr(password, '\0', n) != NULL) {
		OPENSSL_cleanse(password, SECRET_PLAINTEXT_MAX + 1);
		snprintf(err, errlen, "not a text password");
		return -1;
	}
	password[n] = '\0';
	snprintf(user, STATE_USER_MAX + 1, "%s", a->upstream_user[0] ? a->upstream_user : a->name);
	return 0;
}

int managed_authenticate(struct state_db *db, const unsigned char key[32],
    const char *account, const char *password, struct managed_login *out,
    char *err, size_t errlen)
{
	struct state_account a;
	struct cand_list list_buf;
	struct cand_list *list = &list_buf;
	bool known = false;
	int rc;

	managed_login_clear(out);
	if (!account || !password) {
		snprintf(err, errlen, "%s", MANAGED_AUTH_TEXT);
		return MANAGED_AUTH;
	}

	rc = state_account_get(db, account, &a);
	if (rc == STATE_ERROR)
		return fail(out, 1, err, errlen, "state database", state_errmsg(db));
	/* STATE_NOTFOUND and STATE_INVALID (a name no account can have) are an
	 * unknown account; so is an account in passthrough mode. */
	known = rc == STATE_OK && a.auth == STATE_AUTH_MANAGED;

	list->n = 0;
	list->too_many = false;
	if (known) {
		rc = state_device_list(db, a.id, collect, list);
		if (rc != STATE_OK) {
			OPENSSL_cleanse(&a, sizeof(a));
			return fail(out, 1, err, errlen, "state database", state_errmsg(db));
		}
		if (list->too_many) {
			OPENSSL_cleanse(&a, sizeof(a));
			return fail(out, 0, err, errlen, "account has more devices than a login "
			    "may check", NULL);
		}
	}

	/* Every hash is verified, even after a match, and dummies make up the
	 * floor: the work does not depend on the account existing (up to the
	 * floor) nor on which device matched. */
	int match = -1;
	size_t runs = 0;
	for (size_t i = 0; i < list->n; i++, runs++) {
		bool ok = list->c[i].hash[0] ? managed_password_verify(password, list->c[i].hash)
		                             : managed_password_verify_dummy(password);
		if (ok && match < 0)
			match = (int)i;
	}
	for (; runs < MANAGED_VERIFY_FLOOR; runs++)
		(void)managed_password_verify_dummy(password);

	if (match < 0 || list->c[match].revoked) {
		OPENSSL_cleanse(&a, sizeof(a));
		snprintf(err, errlen, "%s", MANAGED_AUTH_TEXT);
		return MANAGED_AUTH;
	}

	struct managed_key k;
	char serr[200];
	if (a.credential == STATE_CRED_OAUTH2) {
		/* the token is bridge/oauth2/'s to get */
		out->oauth2 = 1;
		snprintf(out->upstream_user, sizeof(out->upstream_user), "%s",
		    a.upstream_user[0] ? a.upstream_user : a.name);
		rc = 0;
	} else {
		memcpy(k.bytes, key, SECRET_KEY_LEN);
		rc = managed_upstream_unseal(&k, &a, out->upstream_user, out->upstream_password,
		    serr, sizeof(serr));
		managed_key_clear(&k);
	}
	if (rc != 0) {
		OPENSSL_cleanse(&a, sizeof(a));
		return fail(out, 0, err, errlen, "upstream password", serr);
	}
	out->account_id = a.id;
	snprintf(out->account, sizeof(out->account), "%s", a.name);
	out->device_id = list->c[match].id;
	snprintf(out->device, sizeof(out->device), "%s", list->c[match].name);
	OPENSSL_cleanse(&a, sizeof(a));
	if (errlen)
		err[0] = '\0';
	return MANAGED_OK;
}
