#!/bin/sh
# The source layout of SPEC §1 and docs/DESIGN.md ("Map of the code"), checked:
#  - bridge/ holds main.c alone; everything else lives in a room (a folder);
#  - a room includes only the rooms to its left in ORDER below (and itself):
#    dependencies run one way;
#  - the protocol engines pop3/ and smtp/ never include imap/ or state/;
#  - imap/, pop3/ and state/ never include bridge/;
#  - no SQL text outside state/.
# Usage: tests/lib/check_rooms.sh [TOP]   (default: the current folder)
# Exit status: 0 clean, 1 violations (each listed).
set -eu
cd "${1:-.}"

# Rooms in dependency order: a room may include the rooms before it.
ORDER="base config guard managed oauth2 pool maildrop submit front serve migrate route cmd"
bad=0
fail() { echo "check_rooms: $*" >&2; bad=1; }

for f in bridge/*; do
	[ "$f" = bridge/main.c ] || [ -d "$f" ] || fail "$f: only main.c lives at the bridge/ root"
done
for d in bridge/*/; do
	room=$(basename "$d")
	case " $ORDER " in *" $room "*) ;; *) fail "bridge/$room/: a room not in the dependency order (tests/lib/check_rooms.sh ORDER)";; esac
done

rank() { i=0; for r in $ORDER; do [ "$r" = "$1" ] && { echo $i; return; }; i=$((i + 1)); done; echo 99; }

for f in $(find bridge -mindepth 2 -name '*.[ch]' | sort); do
	room=$(echo "$f" | cut -d/ -f2)
	mine=$(rank "$room")
	for inc in $(sed -n 's|^#include "bridge/\([a-z0-9_]*\)/.*|\1|p' "$f" | sort -u); do
		[ "$(rank "$inc")" -le "$mine" ] || fail "$f includes bridge/$inc/ (room $room may include only: rooms before it in '$ORDER')"
	done
done

for eng in pop3 smtp; do
	[ -d $eng ] || continue
	grep -rlE '#include *"(imap|state)/' $eng && fail "$eng/ includes imap/ or state/ (SPEC §1)"
done
for lib in imap pop3 state; do
	grep -rlE '#include *"bridge/' $lib && fail "$lib/ includes a bridge/ header"
done
sql=$(grep -rlE '"[^"]*\b(SELECT [^"]*\bFROM\b|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE TABLE)\b' \
	--include='*.c' --include='*.h' bridge pop3 imap $( [ -d smtp ] && echo smtp) || true)
[ -z "$sql" ] || fail "SQL text outside state/: $sql"

exit $bad
