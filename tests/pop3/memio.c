/* tests/pop3/memio.c — see memio.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/pop3/memio.h"

static ssize_t memio_read(struct pop3_transport *t, void *buf, size_t len, int timeout_ms)
{
	struct memio *m = (struct memio *)t;
	size_t end = m->in_len;

	if (m->reads++ == 0)
		m->first_timeout_ms = timeout_ms;
	m->last_timeout_ms = timeout_ms;
	if (m->in_pos >= m->in_len) {
		if (m->clock != NULL && m->at_end == POP3_IO_TIMEOUT)
			*m->clock += (uint64_t)timeout_ms;
		return m->at_end;
	}
	if (m->clock != NULL)
		*m->clock += m->clock_step_ms;
	for (size_t i = 0; i < m->npackets; i++) {
		if (m->ends[i] > m->in_pos) {
			end = m->ends[i];
			break;
		}
	}
	size_t n = end - m->in_pos;
	if (n > len)
		n = len;
	if (m->max_read > 0 && n > m->max_read)
		n = m->max_read;
	memcpy(buf, m->in + m->in_pos, n);
	for (size_t i = 0; m->out_at != NULL && i < n; i++)
		m->out_at[m->in_pos + i] = m->out_len;
	m->in_pos += n;
	return (ssize_t)n;
}

static int memio_write(struct pop3_transport *t, const void *buf, size_t len, int timeout_ms)
{
	struct memio *m = (struct memio *)t;
	size_t max = m->out_max ? m->out_max : (size_t)64 << 20;

	(void)timeout_ms;
	if (m->out_len + len > max)
		return POP3_IO_ERROR;
	if (m->out_len + len + 1 > m->out_cap) {
		size_t cap = m->out_cap ? m->out_cap : 4096;
		while (cap < m->out_len + len + 1)
			cap *= 2;
		char *p = realloc(m->out, cap);
		if (p == NULL)
			return POP3_IO_ERROR;
		m->out = p;
		m->out_cap = cap;
	}
	memcpy(m->out + m->out_len, buf, len);
	m->out_len += len;
	m->out[m->out_len] = '\0';
	return 0;
}

static int memio_start_tls(struct pop3_transport *t, int timeout_ms)
{
	struct memio *m = (struct memio *)t;

	(void)timeout_ms;
	if (!m->tls_ok || m->tls)
		return POP3_IO_ERROR;
	m->tls = true;
	m->tls_in_pos = m->in_pos;
	m->tls_out_pos = m->out_len;
	return 0;
}

static const char *memio_tls_version(const struct pop3_transport *t)
{
	return ((const struct memio *)t)->tls ? "memory-TLS" : NULL;
}

static const char *memio_last_error(const struct pop3_transport *t)
{
	(void)t;
	return "memio: no TLS";
}

static void memio_close(struct pop3_transport *t)
{
	((struct memio *)t)->closes++;
}

static const struct pop3_transport_ops memio_ops = {
	.read = memio_read,
	.write = memio_write,
	.start_tls = memio_start_tls,
	.tls_version = memio_tls_version,
	.close = memio_close,
	.last_error = memio_last_error,
};

void memio_init(struct memio *m, const char *in, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->base.ops = &memio_ops;
	m->in = in;
	m->in_len = len;
	m->out = calloc(1, 1);
	m->out_cap = m->out ? 1 : 0;
}

void memio_packet(struct memio *m, size_t end)
{
	if (m->npackets < MEMIO_MAX_PACKETS)
		m->ends[m->npackets++] = end;
}

void memio_free(struct memio *m)
{
	free(m->out);
	m->out = NULL;
}
