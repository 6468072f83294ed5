/* bridge/base/metrics.c — Prometheus text lines (see metrics.h). */
#include "bridge/base/metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void base_metrics_family(struct base_http_text *t, const char *name, const char *type,
    const char *help)
{
	base_http_text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* value as a label value: \ " and LF escaped. */
static void label_value(struct base_http_text *t, const char *value)
{
	for (const char *p = value; *p; ) {
		size_t n = strcspn(p, "\\\"\n");
		if (n > 0)
			base_http_text_add(t, "%.*s", (int)n, p);
		p += n;
		if (*p) {
			base_http_text_add(t, "\\%c", *p == '\n' ? 'n' : *p);
			p++;
		}
	}
}

void base_metrics_text(struct base_http_text *t, const char *name, const char *const *labels,
    unsigned n_labels, const char *value)
{
	base_http_text_add(t, "%s", name);
	for (unsigned i = 0; i < n_labels; i++) {
		base_http_text_add(t, "%s%s=\"", i == 0 ? "{" : ",", labels[2 * i]);
		label_value(t, labels[2 * i + 1]);
		base_http_text_add(t, "\"");
	}
	base_http_text_add(t, "%s %s\n", n_labels ? "}" : "", value);
}

void base_metrics_u64(struct base_http_text *t, const char *name, const char *const *labels,
    unsigned n_labels, uint64_t value)
{
	char v[BASE_METRICS_NUM_MAX];
	snprintf(v, sizeof(v), "%" PRIu64, value);
	base_metrics_text(t, name, labels, n_labels, v);
}

const char *base_metrics_ms_as_s(uint64_t ms, char *buf)
{
	unsigned frac = (unsigned)(ms % 1000);
	int n = snprintf(buf, BASE_METRICS_NUM_MAX, "%" PRIu64, ms / 1000);
	if (frac != 0 && n > 0) {
		char *p = buf + n;
		snprintf(p, (size_t)(BASE_METRICS_NUM_MAX - n), ".%03u", frac);
		size_t len = strlen(p);
		while (len > 1 && p[len - 1] == '0')
			p[--len] = '\0';
	}
	return buf;
}
