/* bridge/config/schema.h — the RELAX NG schema of the configuration file,
 * compiled into the binary. bridge/config/schema.c is generated from
 * contrib/popbridge.rng (contrib/gen-schema.sh); a test compares the two. */
#ifndef BRIDGE_CONFIG_SCHEMA_H
#define BRIDGE_CONFIG_SCHEMA_H

extern const char config_schema[];
extern const unsigned long config_schema_len;

#endif
