/* tests/fuzz/fuzz_config.c — libFuzzer target for the configuration loader
 * (bridge/config/file.h): whatever an administrator, or whoever can write
 * the file, puts in it. The contract checked: the loader answers 0 or -1,
 * reports at least one problem exactly when it answers -1 (each with a
 * printable text and a line within the input; warnings, as for a deprecated
 * element, do not count), and a layer it accepts
 * finishes or is refused with a message, never a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/config/file.h"
#include "bridge/config/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	size_t problems;
	unsigned lines;     /* lines in the input, for the bound on reports */
};

static void report(void *arg, const char *file, unsigned line, const char *problem)
{
	struct seen *s = arg;
	if (file == NULL || problem == NULL || problem[0] == '\0')
		abort();
	s->problems += !config_report_is_warning(problem);
	for (const char *c = problem; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			abort();
	if (line > s->lines + 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_options layer;
	struct seen s = { 0, 1 };
	char err[PB_ERR_MAX];

	for (size_t i = 0; i < size; i++)
		s.lines += data[i] == '\n';
	int rc = config_buffer_load("fuzz.xml", (const char *)data, size, &layer, report, &s);
	if ((rc == 0) != (s.problems == 0))
		abort();
	if (rc == 0) {
		err[0] = '\0';
		if (config_options_finish(&layer, false, NULL, err, sizeof(err)) != 0 && !err[0])
			abort();
	}
	config_options_free(&layer);
	return 0;
}
