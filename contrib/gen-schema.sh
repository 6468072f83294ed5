#!/bin/sh
# Regenerate bridge/config/schema.c from contrib/popbridge.rng, so the binary
# carries the schema and never reads an installed file. Run from the top of
# the tree after editing the schema; check_config fails while the two differ.
# Usage: sh contrib/gen-schema.sh
set -eu
in=contrib/popbridge.rng
out=bridge/config/schema.c
{
	echo '/* bridge/config/schema.c — GENERATED from contrib/popbridge.rng by'
	echo ' * contrib/gen-schema.sh; edit the .rng and rerun the script. */'
	echo '#include "bridge/config/schema.h"'
	echo
	echo 'const char config_schema[] ='
	sed -e 's/\\/\\\\/g' -e 's/?/\\?/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$/\\n"/' "$in"
	printf '\t;\n'
	echo
	echo 'const unsigned long config_schema_len = sizeof(config_schema) - 1;'
} > "$out.tmp"
mv "$out.tmp" "$out"
