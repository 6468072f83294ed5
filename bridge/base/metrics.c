/* bridge/base/metrics.c — Prometheus text lines (see metrics.h). */
#include "bridge/base/metrics.h"

#include <inttypes.h>
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

void base_metrics_u64(struct base_http_text *t, const char *name, const char *const *labels,
    unsigned n_labels, uint64_t value)
{
	base_http_text_add(t, "%s", name);
	for (unsigned i = 0; i < n_labels; i++) {
		base_http_text_add(t, "%s%s=\"", i == 0 ? "{" : ",", labels[2 * i]);
		label_value(t, labels[2 * i + 1]);
		base_http_text_add(t, "\"");
	}
	base_http_text_add(t, "%s %" PRIu64 "\n", n_labels ? "}" : "", value);
}
