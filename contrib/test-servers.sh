#!/bin/sh
# Fetch Cyrus IMAP 3.6 and Courier IMAP 5 for the test suites and unpack them
# privately: both conflict with dovecot-imapd (all provide imap-server), so
# they are never installed. `apt-get download` + `dpkg -x` into
#   $PBT_SERVERS_ROOT   (default /var/cache/popbridge-tests/root as root,
#                        ${XDG_CACHE_HOME:-~/.cache}/popbridge-tests/root otherwise)
# where tests/lib/imapd.c runs them from. Nothing outside that directory is
# touched; a complete unpack is marked by .complete and not redone.
# Usage: contrib/test-servers.sh     (called by contrib/deps.sh)
set -eu

PKGS="cyrus-common cyrus-imapd sasl2-bin libxapian30 libical3
      courier-imap courier-base courier-authlib courier-authdaemon courier-authlib-userdb
      libcourier-unicode4 libltdl7 libgamin0 gamin"

if [ -n "${PBT_SERVERS_ROOT:-}" ]; then
	root=$PBT_SERVERS_ROOT
elif [ "$(id -u)" -eq 0 ]; then
	root=/var/cache/popbridge-tests/root
else
	root=${XDG_CACHE_HOME:-$HOME/.cache}/popbridge-tests/root
fi
want=$(echo $PKGS)
if [ -f "$root/.complete" ] && [ "$(cat "$root/.complete")" = "$want" ]; then
	exit 0
fi

echo "test-servers: fetching $want"
debs=$(dirname "$root")/debs.$$
rm -rf "$debs" "$root.new"
mkdir -p "$debs" "$root.new"
# apt-get download drops privileges to _apt: it must be able to write here.
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
	chown _apt "$debs"
fi
# shellcheck disable=SC2086
if ! (cd "$debs" && apt-get download -q $PKGS >/dev/null); then
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -q >/dev/null
		# shellcheck disable=SC2086
		(cd "$debs" && apt-get download -q $PKGS >/dev/null)
	else
		echo "test-servers: apt-get download failed (run as root for apt-get update)" >&2
		exit 1
	fi
fi
for f in "$debs"/*.deb; do
	dpkg -x "$f" "$root.new"
done
rm -rf "$debs"
# The servers run as the mail user (nobody) as root: everything readable.
chmod -R a+rX "$root.new"
echo "$want" > "$root.new/.complete"
rm -rf "$root"
mv "$root.new" "$root"
echo "test-servers: unpacked into $root"
