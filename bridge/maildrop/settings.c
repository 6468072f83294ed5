/* bridge/maildrop/settings.c — one device's effective settings
 * (bridge/maildrop/settings.h). */
#include "bridge/maildrop/settings.h"

#include <stdint.h>
#include <string.h>

/* A stored word (or login delay's number), parsed by the configuration's
 * own rule for key k into *v; false when unset or not valid for k. */
static bool stored_word(const char *word, enum config_key k, struct config_device_settings *v)
{
	struct config_device_section scratch;
	char err[PB_ERR_MAX];

	if (!word[0])
		return false;
	memset(&scratch, 0, sizeof(scratch));
	scratch.v = *v;
	if (config_section_set(&scratch, k, word, err, sizeof(err)) != 0)
		return false;
	*v = scratch.v;
	return true;
}

void maildrop_settings_get(const struct config_options *o, const char *account,
    const char *device, const struct state_device_settings *stored,
    struct maildrop_settings *out)
{
	memset(out, 0, sizeof(*out));
	config_options_device(o, account, device, &out->cfg);
	out->eff = out->cfg;
	if (stored == NULL)
		return;
	if (stored->folder[0] && strlen(stored->folder) < sizeof(out->eff.folder)) {
		strcpy(out->eff.folder, stored->folder);
		out->stored |= STATE_SET_FOLDER;
	}
	if (stored_word(stored->offer, PB_K_OFFER, &out->eff))
		out->stored |= STATE_SET_OFFER;
	if (stored->window >= 0 && stored->window <= UINT32_MAX) {
		out->eff.window = (uint32_t)stored->window;
		out->stored |= STATE_SET_WINDOW;
	}
	if (stored_word(stored->seen_on, PB_K_SEEN_ON, &out->eff))
		out->stored |= STATE_SET_SEEN_ON;
	if (stored_word(stored->dele, PB_K_DELE, &out->eff))
		out->stored |= STATE_SET_DELE;
	if (stored_word(stored->login_delay, PB_K_LOGIN_DELAY, &out->eff))
		out->stored |= STATE_SET_LOGIN_DELAY;
}

void maildrop_settings_view_defaults(const struct config_device_settings *cfg,
    struct state_view_defaults *def)
{
	def->folder = cfg->folder;
	def->offer = config_offer_name(cfg->offer);
	def->window = cfg->window;
}
