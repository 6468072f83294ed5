/* bridge/maildrop/settings.h — one device's effective settings (SPEC §3):
 * folder, offer, window, seen-on, dele; and its login delay (SPEC §14).
 *
 * The one place the layers meet, each more specific than the one before:
 *
 *   built-in defaults < configuration file < command-line flags
 *     (config_options_init + config_options_merge: the effective options)
 *   < the device's <device> section of the configuration file
 *     (config_options_device)
 *   < the overrides stored for the device (popbridge device add / set)
 *
 * A session (maildrop open), `popbridge device add` and `device list`, and
 * last-device counting (maildrop commit) all ask maildrop_settings_get().
 * state/ applies the stored folder, offer and window itself when it builds a
 * view or counts holders (state_view_build, state_message_holders_by): it
 * gets `cfg` as its defaults (maildrop_settings_view_defaults), and its rule
 * ("" or NULL keeps the default) is the one below.
 */
#ifndef BRIDGE_MAILDROP_SETTINGS_H
#define BRIDGE_MAILDROP_SETTINGS_H

#include "bridge/config/options.h"
#include "state/state.h"

struct maildrop_settings {
	struct config_device_settings cfg; /* every layer but the stored overrides */
	struct config_device_settings eff; /* cfg with the stored overrides on top */
	unsigned stored;                   /* STATE_SET_*: the fields a stored override set */
};

/* The settings of device `device` of `account`; stored: the device's stored
 * overrides (struct state_device's settings), NULL for none. A stored field
 * counts when it is set ("" / -1 is unset) and valid (a word of its table,
 * a window up to UINT32_MAX); o is the finished effective options. */
void maildrop_settings_get(const struct config_options *o, const char *account,
    const char *device, const struct state_device_settings *stored,
    struct maildrop_settings *out);

/* cfg as the defaults state/ falls back to; def's strings point into cfg. */
void maildrop_settings_view_defaults(const struct config_device_settings *cfg,
    struct state_view_defaults *def);

#endif
