#!/bin/sh
# Install the Debian packages popbridge needs to build and test, only those
# missing; run apt-get update only when something is missing.
# Usage: contrib/deps.sh            (called by `make deps`)
set -eu

# build: compiler, pkg-config and the libraries named in README.md
# test:  Dovecot as the real IMAP (and old POP3) server, real POP3 clients,
#        openssl for test certificates, clang for fuzzing and sanitizer runs;
#        the shared libraries of Cyrus IMAP and Courier IMAP, which
#        contrib/test-servers.sh unpacks privately (they conflict with Dovecot)
PKGS="gcc make pkg-config libssl-dev libxml2-dev libsqlite3-dev check libsubunit-dev
      openssl ca-certificates dovecot-imapd dovecot-pop3d
      fetchmail mpop curl python3 clang libclang-rt-14-dev libxml2-utils procps
      util-linux mount libsasl2-2 libsasl2-modules-db libdb5.3 libgdbm6 libglib2.0-0
      libgnutls30 libicu72 libidn12 libjansson4 libkrb5-3 libldap-2.5-0 libpcre3
      libpq5 libwrap0 libsqlite3-0 libssl3 libxml2 libuuid1 zlib1g libstdc++6"
# OAuth2 accounts (SPEC §10): HTTPS to the token endpoints (libcurl) and their
# JSON answers (jansson)
PKGS="$PKGS libcurl4-openssl-dev libjansson-dev"

# route and the metrics endpoints (SPEC §14): HTTP through libmicrohttpd, never by hand
PKGS="$PKGS libmicrohttpd-dev"
# the fleet test (tests/interop/test_fleet.py) runs a private nginx mail proxy; the
# package starts a system nginx on port 80, which is stopped and disabled below
NGINX_PKGS="nginx-light libnginx-mod-mail"
PKGS="$PKGS $NGINX_PKGS"
# the IMAP front's interop test (issue 15): mbsync as a real IMAP client
PKGS="$PKGS isync"
# SMTP submission (SPEC §11): a private Postfix as the upstream submission
# server (tests/lib/pbpostfix.py; installed with "No configuration", so no
# system instance runs), aiosmtpd for scripted refusals and drops, and the
# real clients swaks (STARTTLS needs libnet-ssleay-perl), msmtp (and curl, Python smtplib)
PKGS="$PKGS postfix python3-aiosmtpd swaks libnet-ssleay-perl msmtp"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
here=$(dirname "$0")
if [ -z "$missing" ]; then
	exec sh "$here/test-servers.sh"
fi

echo "deps: installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: not root; install these packages first:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
case " $missing " in *" postfix "*)
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections;;
esac
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# nginx was installed here for the tests only: no system nginx stays running or
# starts at boot (tests run their own, `nginx -p PREFIX -c CONF`)
case " $missing " in
*" nginx-light "*)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now nginx.service >/dev/null 2>&1 || true
	else
		invoke-rc.d nginx stop >/dev/null 2>&1 || true
		update-rc.d nginx disable >/dev/null 2>&1 || true
	fi
	echo "deps: nginx installed for the tests; the system nginx service is stopped and disabled"
	;;
esac
exec sh "$here/test-servers.sh"
