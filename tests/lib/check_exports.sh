#!/bin/sh
# Every external symbol a module library defines carries one of the module's
# prefixes, so that no two modules (or a module and a caller's static
# function) can clash on a name such as cmd_run or db_fail.
#
# Usage: tests/lib/check_exports.sh LIBRARY PREFIX...
#   e.g. tests/lib/check_exports.sh build/libimap.a imap_
# Exit status: 0 all names carry a prefix, 1 some do not (they are listed),
# 2 usage error, or nm failed or found nothing defined.
#
# Names beginning with "__" are left out: C reserves them for the
# implementation, and sanitizer instrumentation adds some (__odr_asan_gen_*).
set -eu

if [ $# -lt 2 ]; then
	echo "usage: $0 LIBRARY PREFIX..." >&2
	exit 2
fi
lib=$1
shift

# -P: one "name type value size" line a symbol, "lib.a[member.o]:" a member.
if ! syms=$(${NM:-nm} -P -g --defined-only "$lib"); then
	echo "check_exports: $lib: nm failed" >&2
	exit 2
fi

echo "$syms" | awk -v lib="$lib" -v prefixes="$*" '
BEGIN { np = split(prefixes, p, " ") }
NF == 1 && /:$/ { member = $1; sub(/^.*\[/, "", member); sub(/\]:$/, "", member); next }
NF >= 2 {
	n++
	if ($1 ~ /^__/)
		next
	for (i = 1; i <= np; i++)
		if (index($1, p[i]) == 1)
			next
	printf "check_exports: %s: %s: %s (%s) lacks a prefix (%s)\n", lib, member, $1, $2, prefixes
	bad++
}
END {
	if (n == 0) {
		printf "check_exports: %s: no defined external symbols\n", lib
		exit 2
	}
	if (bad > 0)
		exit 1
	printf "check_exports: %s: %d external names, each prefixed (%s)\n", lib, n, prefixes
}'
