/* tests/smtp/fake_relay.c — an in-memory smtp/relay.h for the engine's
 * transcripts and the fuzzer: one user, scripted upstream replies, and a
 * record of every call (the data as the relay received it). Included as a
 * .c file, like tests/pop3/fake_maildrop.c.
 *
 * Scripted behaviour: a sender containing "refuse" gets 553; a recipient
 * containing "bad" gets 550, one containing "later" 450; a recipient
 * containing "gone" makes the upstream vanish (421, CLOSE). data_begin
 * answers begin_code (354 when 0), data_end end_code (250 when 0).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/relay.h"

#define FAKE_DATA_MAX (64u << 20)

struct fake_relay {
	const char *user, *pass;
	enum smtp_auth_status force;  /* open(): this status when not OK */
	const char *auth_text;        /* open(): reply text */
	struct smtp_extensions ext;
	unsigned begin_code, end_code;
	size_t write_fail_at;         /* data_write fails once this many octets
	                                 arrived (0: never) */
	/* record */
	int extensions, opens, open_ok, closes, mails, rcpts, rsets, begins, ends, dones;
	bool is_open;
	char last_user[300], last_mech[8];
	char from[SMTP_PATH_MAX + 1], params[SMTP_PARAMS_MAX];
	char rcpt[SMTP_PATH_MAX + 1];
	enum smtp_data_end last_end;
	char *data;
	size_t data_len, writes;
};

static void fake_relay_init(struct fake_relay *f, const char *user, const char *pass)
{
	memset(f, 0, sizeof(*f));
	f->user = user;
	f->pass = pass;
	f->ext.size = 10000000;
	f->ext.eightbitmime = true;
}

static void fake_relay_free(struct fake_relay *f)
{
	free(f->data);
	f->data = NULL;
}

static void reply(struct smtp_reply *r, unsigned code, const char *text)
{
	r->code = code;
	snprintf(r->text, sizeof(r->text), "%s", text);
}

static void fr_extensions(void *backend, struct smtp_extensions *out)
{
	struct fake_relay *f = backend;
	f->extensions++;
	*out = f->ext;
}

static enum smtp_auth_status fr_open(void *backend, const struct smtp_credentials *cred,
    void **relay, struct smtp_auth_reply *r)
{
	struct fake_relay *f = backend;

	f->opens++;
	snprintf(f->last_user, sizeof(f->last_user), "%s", cred->user);
	snprintf(f->last_mech, sizeof(f->last_mech), "%s", cred->mechanism);
	if (f->auth_text != NULL)
		snprintf(r->text, sizeof(r->text), "%s", f->auth_text);
	if (f->force != SMTP_AUTH_OK)
		return f->force;
	if (strcmp(cred->user, f->user) != 0 || strcmp(cred->password, f->pass) != 0)
		return SMTP_AUTH_BAD;
	f->open_ok++;
	f->is_open = true;
	*relay = f;
	return SMTP_AUTH_OK;
}

static enum smtp_relay_rc fr_mail(void *relay, const char *path, const char *params,
    struct smtp_reply *r)
{
	struct fake_relay *f = relay;

	f->mails++;
	snprintf(f->from, sizeof(f->from), "%s", path);
	snprintf(f->params, sizeof(f->params), "%s", params);
	if (strstr(path, "refuse") != NULL)
		reply(r, 553, "5.7.1 <refuse>: Sender address rejected: not owned by user");
	else
		reply(r, 250, "2.1.0 Ok");
	return SMTP_RELAY_REPLY;
}

static enum smtp_relay_rc fr_rcpt(void *relay, const char *path, struct smtp_reply *r)
{
	struct fake_relay *f = relay;

	f->rcpts++;
	snprintf(f->rcpt, sizeof(f->rcpt), "%s", path);
	if (strstr(path, "gone") != NULL) {
		reply(r, 421, "4.4.2 Upstream connection lost");
		return SMTP_RELAY_CLOSE;
	}
	if (strstr(path, "bad") != NULL)
		reply(r, 550, "5.1.1 <bad>: Recipient address rejected: User unknown");
	else if (strstr(path, "later") != NULL)
		reply(r, 450, "4.2.0 <later>: Recipient address rejected: try again");
	else
		reply(r, 250, "2.1.5 Ok");
	return SMTP_RELAY_REPLY;
}

static enum smtp_relay_rc fr_data_begin(void *relay, struct smtp_reply *r)
{
	struct fake_relay *f = relay;

	f->begins++;
	f->data_len = 0;
	if (f->begin_code != 0 && f->begin_code != 354)
		reply(r, f->begin_code, "5.5.1 Data refused");
	else
		reply(r, 354, "End data with <CR><LF>.<CR><LF>");
	return SMTP_RELAY_REPLY;
}

static int fr_data_write(void *relay, const char *buf, size_t len)
{
	struct fake_relay *f = relay;

	f->writes++;
	if (f->write_fail_at > 0 && f->data_len + len >= f->write_fail_at)
		return -1;
	if (f->data_len + len > FAKE_DATA_MAX)
		return -1;
	char *p = realloc(f->data, f->data_len + len + 1);
	if (p == NULL)
		return -1;
	memcpy(p + f->data_len, buf, len);
	f->data = p;
	f->data_len += len;
	f->data[f->data_len] = '\0';
	return 0;
}

static enum smtp_relay_rc fr_data_end(void *relay, enum smtp_data_end end,
    struct smtp_reply *r)
{
	struct fake_relay *f = relay;

	f->ends++;
	f->last_end = end;
	if (end == SMTP_DATA_FAILED)
		reply(r, 451, "4.3.0 Could not store the message");
	else if (f->end_code != 0 && f->end_code != 250)
		reply(r, f->end_code, "5.7.1 Message content rejected");
	else
		reply(r, 250, "2.0.0 Ok: queued as 4XyZ");
	return SMTP_RELAY_REPLY;
}

static void fr_data_done(void *relay)
{
	((struct fake_relay *)relay)->dones++;
}

static enum smtp_relay_rc fr_rset(void *relay, struct smtp_reply *r)
{
	((struct fake_relay *)relay)->rsets++;
	reply(r, 250, "2.0.0 Ok");
	return SMTP_RELAY_REPLY;
}

static void fr_close(void *relay)
{
	struct fake_relay *f = relay;
	f->closes++;
	f->is_open = false;
}

static const struct smtp_relay_ops fake_relay_ops = {
	.extensions = fr_extensions,
	.open = fr_open,
	.mail = fr_mail,
	.rcpt = fr_rcpt,
	.data_begin = fr_data_begin,
	.data_write = fr_data_write,
	.data_end = fr_data_end,
	.data_done = fr_data_done,
	.rset = fr_rset,
	.close = fr_close,
};
