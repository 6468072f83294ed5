#!/bin/sh
# make demo: start a throw-away Dovecot with sample mail (via the test
# harness's pbtest command), show how to connect, wait for Ctrl-C, clean up.
# Usage: sh contrib/demo.sh PBTEST_PATH POPBRIDGE_PATH
set -eu

PBTEST=${1:?usage: demo.sh PBTEST_PATH POPBRIDGE_PATH}
POPBRIDGE=${2:?usage: demo.sh PBTEST_PATH POPBRIDGE_PATH}
DEMO_USER=demo
DEMO_PASS=demo-password

work=$(mktemp -d "${TMPDIR:-/tmp}/popbridge-demo.XXXXXX")
pid=""
cleanup() {
	trap - INT TERM HUP EXIT
	# EOF on pbtest's stdin stops Dovecot and removes its directory.
	exec 3>&- 2>/dev/null || true
	[ -n "$pid" ] && wait "$pid" 2>/dev/null || true
	rm -rf "$work"
	echo
	echo "demo: stopped, everything removed."
}
trap cleanup EXIT
trap 'exit 0' INT TERM HUP

mkfifo "$work/control"
"$PBTEST" dovecot --user "$DEMO_USER:$DEMO_PASS" \
	--fill "$DEMO_USER:INBOX:awkward:14" --fill "$DEMO_USER:Archive:plain:3" \
	<"$work/control" >"$work/out" &
pid=$!
exec 3>"$work/control"

# The first line of pbtest's output: DIR=... CA_FILE=... IMAP_PORT=... ...
i=0
while [ ! -s "$work/out" ]; do
	if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 600 ]; then
		echo "demo: the sandbox Dovecot did not start (see the messages above)" >&2
		exit 1
	fi
	sleep 0.1
	i=$((i + 1))
done
eval "$(head -n 1 "$work/out")"

cat <<EOT

  popbridge demo — a sandbox IMAP server with sample mail
  -------------------------------------------------------
  A private Dovecot runs on 127.0.0.1 (its files: $DIR).
  Mailbox: user "$DEMO_USER", password "$DEMO_PASS";
  INBOX holds 14 awkward test messages, Archive 3 plain ones.

    IMAP  (STARTTLS)  127.0.0.1:$IMAP_PORT
    IMAPS             127.0.0.1:$IMAPS_PORT
    POP3  (STLS)      127.0.0.1:$POP3_PORT     (Dovecot's own POP3, the "old server")
    POP3S             127.0.0.1:$POP3S_PORT
    Certificate (self-signed, for localhost): $CA_FILE

  Try, in another terminal:

    curl --ssl-reqd --cacert $CA_FILE -u $DEMO_USER:$DEMO_PASS \\
        "imap://localhost:$IMAP_PORT/INBOX" -X 'FETCH 1:* (FLAGS RFC822.SIZE)'

    curl --cacert $CA_FILE -u $DEMO_USER:$DEMO_PASS "pop3s://localhost:$POP3S_PORT/"

    openssl s_client -quiet -CAfile $CA_FILE -connect 127.0.0.1:$IMAPS_PORT
        (then type:  a LOGIN $DEMO_USER $DEMO_PASS   and   b LIST "" "*")

EOT
if [ -x "$POPBRIDGE" ]; then
	echo "  popbridge ($POPBRIDGE) is built, but it is not yet in front of"
else
	echo "  popbridge is not built yet, and it is not yet in front of"
fi
echo "  this server: the demo shows only the sandbox IMAP server for now."
echo
echo "  Press Ctrl-C to stop and remove everything."

wait "$pid" || true
pid=""
echo "demo: the sandbox server exited." >&2
