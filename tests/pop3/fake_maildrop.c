/* tests/pop3/fake_maildrop.c — see fake_maildrop.h. */
#include <stdio.h>
#include <string.h>

#include "tests/pop3/fake_maildrop.h"

void fake_init(struct fake_maildrop *f, const char *user, const char *pass)
{
	memset(f, 0, sizeof(*f));
	f->user = user;
	f->pass = pass;
}

size_t fake_add(struct fake_maildrop *f, const char *data, size_t len)
{
	size_t i = f->nmsgs++;
	struct fake_msg *m = &f->msgs[i];
	m->data = data;
	m->len = len;
	snprintf(m->uidl, sizeof(m->uidl), "uid-%zu", i + 1);
	return i;
}

size_t fake_adds(struct fake_maildrop *f, const char *data)
{
	return fake_add(f, data, strlen(data));
}

uint64_t fake_wire_size(const char *data, size_t len)
{
	uint64_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			n++;
		n++;
	}
	if (len > 0 && data[len - 1] != '\n')
		n += data[len - 1] == '\r' ? 1 : 2;
	return n;
}

static enum pop3_md_status fake_open(void *backend, const struct pop3_credentials *c,
    void **md, struct pop3_md_reply *reply)
{
	struct fake_maildrop *f = backend;

	f->opens++;
	snprintf(f->last_user, sizeof(f->last_user), "%s", c->user);
	snprintf(f->last_mech, sizeof(f->last_mech), "%s", c->mechanism);
	snprintf(f->last_tls, sizeof(f->last_tls), "%s", c->tls_version ? c->tls_version : "");
	snprintf(f->last_addr, sizeof(f->last_addr), "%s", c->remote_addr);
	f->last_pass_len = strlen(c->password);
	if (f->open_status != POP3_MD_OK) {
		*reply = f->open_reply;
		return f->open_status;
	}
	if (f->user == NULL || strcmp(c->user, f->user) != 0 ||
	    strcmp(c->password, f->pass) != 0) {
		*reply = f->open_reply;
		return POP3_MD_AUTH;
	}
	if (f->is_open)
		return POP3_MD_IN_USE;
	f->is_open = true;
	f->open_ok++;
	*md = f;
	return POP3_MD_OK;
}

static size_t fake_count(void *md)
{
	return ((struct fake_maildrop *)md)->nmsgs;
}

static void fake_info(void *md, size_t idx, struct pop3_msg_info *out)
{
	struct fake_maildrop *f = md;
	out->size = fake_wire_size(f->msgs[idx].data, f->msgs[idx].len);
	memcpy(out->uidl, f->msgs[idx].uidl, sizeof(out->uidl));
}

static enum pop3_md_status fake_fetch(void *md, size_t idx, enum pop3_fetch_what what,
    uint64_t top_lines, pop3_sink_fn *sink, void *arg, struct pop3_md_reply *reply)
{
	struct fake_maildrop *f = md;
	const struct fake_msg *m = &f->msgs[idx];
	size_t chunk = f->chunk ? f->chunk : 5;

	f->fetches++;
	f->last_top_lines = what == POP3_FETCH_TOP ? top_lines : 0;
	for (size_t off = 0; off < m->len; off += chunk) {
		size_t n = m->len - off < chunk ? m->len - off : chunk;
		if (m->fetch_status != POP3_MD_OK && off + n > m->fail_after) {
			if (m->fail_after > off && sink(arg, m->data + off, m->fail_after - off) < 0)
				return POP3_MD_CLIENT;
			snprintf(reply->text, sizeof(reply->text), "fake failure");
			return m->fetch_status;
		}
		int r = sink(arg, m->data + off, n);
		if (r < 0)
			return POP3_MD_CLIENT;
		if (r > 0) {
			f->sink_stops++;
			return POP3_MD_OK;
		}
	}
	if (m->fetch_status != POP3_MD_OK) {
		snprintf(reply->text, sizeof(reply->text), "fake failure");
		return m->fetch_status;
	}
	return POP3_MD_OK;
}

static void fake_retrieved(void *md, size_t idx, uint64_t octets)
{
	struct fake_maildrop *f = md;
	if (f->nretrieved < sizeof(f->retrieved_idx) / sizeof(f->retrieved_idx[0])) {
		f->retrieved_idx[f->nretrieved] = idx;
		f->retrieved_octets[f->nretrieved] = octets;
		f->nretrieved++;
	}
}

static enum pop3_md_status fake_commit(void *md, const size_t *del, size_t n,
    struct pop3_md_reply *reply)
{
	struct fake_maildrop *f = md;
	f->commits++;
	if (f->commit_status != POP3_MD_OK) {
		if (f->commit_text != NULL)
			snprintf(reply->text, sizeof(reply->text), "%s", f->commit_text);
		return f->commit_status;
	}
	memcpy(f->committed, del, n * sizeof(*del));
	f->ncommitted = n;
	if (f->commit_text != NULL)
		snprintf(reply->text, sizeof(reply->text), "%s", f->commit_text);
	return POP3_MD_OK;
}

static void fake_close(void *md)
{
	struct fake_maildrop *f = md;
	f->closes++;
	f->is_open = false;
}

static void fake_hint(void *md, const struct pop3_md_next *next, size_t n)
{
	struct fake_maildrop *f = md;
	if (f->nhints >= sizeof(f->hints) / sizeof(f->hints[0]))
		return;
	char *h = f->hints[f->nhints++];
	size_t len = 0;
	h[0] = '\0';
	for (size_t i = 0; i < n && len < sizeof(f->hints[0]); i++)
		len += (size_t)snprintf(h + len, sizeof(f->hints[0]) - len, "%s%zu:%c%s", i ? " " : "",
		    next[i].idx, next[i].what == POP3_FETCH_TOP ? 'T' : 'W',
		    next[i].what == POP3_FETCH_TOP ? (next[i].top_lines ? "n" : "0") : "");
}

unsigned fake_login_delay(void *md)
{
	const struct fake_maildrop *f = md;
	return f->login_delay;
}

const struct pop3_maildrop_ops fake_ops = {
	.hint = fake_hint,
	.open = fake_open,
	.count = fake_count,
	.info = fake_info,
	.fetch = fake_fetch,
	.retrieved = fake_retrieved,
	.commit = fake_commit,
	.close = fake_close,
};
