#!/bin/sh
# Install the Debian packages popbridge needs to build and test, only those
# missing; run apt-get update only when something is missing.
# Usage: contrib/deps.sh            (called by `make deps`)
set -eu

# build: compiler, pkg-config and the four libraries named in README.md
# test:  Dovecot as the real IMAP (and old POP3) server, real POP3 clients,
#        openssl for test certificates, clang for fuzzing and sanitizer runs
PKGS="gcc make pkg-config libssl-dev libxml2-dev libsqlite3-dev check libsubunit-dev
      openssl ca-certificates dovecot-imapd dovecot-pop3d
      fetchmail mpop curl python3 clang libclang-rt-14-dev libxml2-utils procps"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
