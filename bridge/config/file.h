/* bridge/config/file.h — the XML configuration file (docs/CONFIG.md).
 *
 * config_file_load() reads FILE (a regular file of at most PB_CONFIG_MAX
 * bytes) with libxml2 — no network (XML_PARSE_NONET), no entity
 * substitution, no external DTD, and a document with a DOCTYPE is refused —
 * validates it against the RELAX NG schema compiled into the binary
 * (bridge/config/schema.c, the same text as contrib/popbridge.rng), then
 * checks every value with config_options_set() and the file as a whole with
 * config_options_finish() (upstream not required: flags may supply it).
 *
 * Every problem found is reported through `report` once, sorted by line:
 * parse errors and schema errors with libxml2's line, value errors with the
 * line of the element that holds the value (a schema message on a line that
 * also has a value message is dropped as redundant). line 0 means the
 * problem concerns the whole file (cannot open, too large).
 *
 * A warning — the file is valid but says something in a way that is going
 * away: a deprecated element — comes through `report` as well, among the
 * problems or alone on success; its text starts with PB_CONFIG_WARNING
 * (config_report_is_warning()) and it does not make the load fail.
 *
 * On success *layer holds exactly what the file sets (a layer for
 * config_options_merge()) and 0 is returned; on failure -1, *layer is empty.
 * The caller frees *layer with config_options_free() in both cases.
 * Thread-safe (libxml2's per-thread error state is restored on return).
 */
#ifndef BRIDGE_CONFIG_FILE_H
#define BRIDGE_CONFIG_FILE_H

#include "bridge/config/options.h"

#define PB_CONFIG_MAX (1024 * 1024)  /* a config is a page, never a megabyte */
#define PB_CONFIG_PROBLEMS_MAX 50    /* then one "too many problems" line */

#define PB_CONFIG_WARNING "warning: "

typedef void config_report_fn(void *arg, const char *file, unsigned line,
    const char *problem);

/* Whether a reported text is a warning (above), not a problem. */
bool config_report_is_warning(const char *problem);

int config_file_load(const char *path, struct config_options *layer,
    config_report_fn *report, void *arg);
/* The same for a configuration in memory (buf[0..len), at most
 * PB_CONFIG_MAX octets, no NUL needed); name stands for the file in
 * reports. For tests and the fuzz target. */
int config_buffer_load(const char *name, const char *buf, size_t len,
    struct config_options *layer, config_report_fn *report, void *arg);

/* A report function printing "FILE:LINE: problem" (or "FILE: problem" for
 * line 0) on the FILE * given as arg (stderr when NULL). */
void config_report_print(void *arg, const char *file, unsigned line,
    const char *problem);

#endif
