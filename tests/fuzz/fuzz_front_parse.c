/* tests/fuzz/fuzz_front_parse.c — libFuzzer target for the IMAP front's
 * pre-login command parser (bridge/front/parse.h): what anyone who can
 * connect to --imap-listen sends before logging in. The contract is checked
 * on every input: a command (OK) or a skipped line (BAD) lies within the
 * input and the bounds and a BAD ends at a line feed; every argument points
 * into the command's own storage and is NUL-terminated; list counts add up;
 * a MORE asks for more than it had; and every prefix of an input that gave
 * OK or BAD answers MORE (with no fewer "+" continuations than the one
 * before), so splitting the input anywhere gives the same commands. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/front/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct front_cmd cmd, part;

static void check_args(const struct front_cmd *c)
{
	size_t top = 0;
	if (c->nargs > FRONT_ARGS_MAX || c->ntop > c->nargs || c->used > sizeof(c->data))
		abort();
	for (size_t i = 0; i < c->nargs; i++) {
		const struct front_arg *a = &c->args[i];
		if (a->top)
			top++;
		if (a->type == FRONT_ARG_LIST) {
			if (!a->top || (a->n > 0 && i + a->n >= c->nargs))
				abort();
			for (size_t k = 1; k <= a->n; k++)
				if (c->args[i + k].top || c->args[i + k].type == FRONT_ARG_LIST)
					abort();
			continue;
		}
		if (a->s < c->data || a->s + a->len >= c->data + c->used || a->s[a->len] != '\0')
			abort();
		if (memchr(a->s, '\0', a->len))
			abort();
	}
	if (top != c->ntop || c->tag[0] == '\0' || c->name[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t used = 0;
	enum front_parse_result r = front_parse(in, size, &cmd, &used);

	switch (r) {
	case FRONT_PARSE_OK:
		if (used == 0 || used > size || used > FRONT_CMD_MAX || in[used - 1] != '\n')
			abort();
		check_args(&cmd);
		break;
	case FRONT_PARSE_BAD:
		if (used == 0 || used > size || used > FRONT_CMD_MAX || in[used - 1] != '\n')
			abort();
		break;
	case FRONT_PARSE_MORE:
		if (used != 0 || cmd.need <= size || size >= FRONT_CMD_MAX)
			abort();
		break;
	case FRONT_PARSE_TOO_LONG:
		break;
	default:
		abort();
	}
	if (r != FRONT_PARSE_OK && r != FRONT_PARSE_BAD)
		return 0;
	/* Every prefix: MORE, with the "+" count never going down. */
	size_t sync = 0;
	size_t step = used > 2048 ? used / 512 : 1;
	for (size_t k = 0; k < used; k += step) {
		size_t u = 1;
		if (front_parse(in, k, &part, &u) != FRONT_PARSE_MORE || u != 0 ||
		    part.n_sync < sync || part.need <= k)
			abort();
		sync = part.n_sync;
	}
	if (r == FRONT_PARSE_OK && sync > cmd.n_sync)
		abort();
	return 0;
}
