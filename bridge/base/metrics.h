/* bridge/base/metrics.h — the Prometheus text exposition format (version
 * 0.0.4), written into a bounded text: what `/metrics` answers in `popbridge
 * route` and, later, `serve --metrics-listen` (SPEC §14).
 *
 * Contract:
 *  - A metric family is announced once (`# HELP` and `# TYPE` lines), then
 *    its samples follow, one line each: `name{label="value",...} N`.
 *  - Label values are escaped as the format wants (backslash, double quote
 *    and line feed); names are the caller's literals ([a-z_]). Callers keep
 *    label values bounded in number (never an account or device name as a
 *    label: a node's configured name, a protocol, a result word).
 *  - Nothing is allocated beyond the text's own bound (base/http.h).
 */
#ifndef BRIDGE_BASE_METRICS_H
#define BRIDGE_BASE_METRICS_H

#include <stdint.h>

#include "bridge/base/http.h"

#define BASE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* "# HELP name help" and "# TYPE name type" (type: counter, gauge, ...). */
void base_metrics_family(struct base_http_text *t, const char *name, const char *type,
    const char *help);
/* One sample line. labels: n_labels pairs of name and value. */
void base_metrics_u64(struct base_http_text *t, const char *name, const char *const *labels,
    unsigned n_labels, uint64_t value);

#endif
