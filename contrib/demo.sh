#!/bin/sh
# make demo: start a throw-away Dovecot with sample mail (via the test
# harness's pbtest command), start `popbridge serve` in front of it (IMAP
# with STARTTLS upstream, POP3 on a free loopback port), show commands to
# paste, wait for Ctrl-C, clean up.
# Usage: sh contrib/demo.sh PBTEST_PATH POPBRIDGE_PATH
set -eu

PBTEST=${1:?usage: demo.sh PBTEST_PATH POPBRIDGE_PATH}
POPBRIDGE=${2:?usage: demo.sh PBTEST_PATH POPBRIDGE_PATH}
DEMO_USER=demo
DEMO_PASS=demo-password

work=$(mktemp -d "${TMPDIR:-/tmp}/popbridge-demo.XXXXXX")
pid=""
pb_pid=""
cleanup() {
	trap - INT TERM HUP EXIT
	# SIGTERM: popbridge stops accepting, lets sessions end, exits.
	if [ -n "$pb_pid" ]; then
		kill -TERM "$pb_pid" 2>/dev/null || true
		wait "$pb_pid" 2>/dev/null || true
	fi
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

if [ ! -x "$POPBRIDGE" ]; then
	echo "demo: $POPBRIDGE is not built (run 'make demo', which builds it)" >&2
	exit 1
fi

# popbridge in front of the sandbox: STARTTLS upstream, verified with the
# sandbox's certificate; POP3 on a free loopback port; a fresh state file.
PB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$POPBRIDGE" serve --upstream "imap://127.0.0.1:$IMAP_PORT" --upstream-tls starttls \
	--upstream-ca "$CA_FILE" --listen "127.0.0.1:$PB_PORT" \
	--state "$work/popbridge.db" </dev/null >/dev/null 2>"$work/popbridge.log" &
pb_pid=$!
i=0
until grep -q 'event=ready' "$work/popbridge.log" 2>/dev/null; do
	if ! kill -0 "$pb_pid" 2>/dev/null || [ $i -ge 300 ]; then
		echo "demo: popbridge did not start:" >&2
		cat "$work/popbridge.log" >&2
		pb_pid=""
		exit 1
	fi
	sleep 0.1
	i=$((i + 1))
done

# Prove it answers before telling anybody to try.
if ! python3 - "$PB_PORT" "$DEMO_USER#demo-check" "$DEMO_PASS" <<'EOPY'
import poplib, sys
p = poplib.POP3("127.0.0.1", int(sys.argv[1]), timeout=30)
p.user(sys.argv[2])
p.pass_(sys.argv[3])
n, size = p.stat()
p.quit()
print("  popbridge answers: %d messages, %d octets in INBOX." % (n, size))
EOPY
then
	echo "demo: popbridge does not answer as expected; its log:" >&2
	cat "$work/popbridge.log" >&2
	exit 1
fi

cat <<EOT

  popbridge demo — POP3 in front of a sandbox IMAP server
  --------------------------------------------------------
  A private Dovecot runs on 127.0.0.1 (its files: $DIR), with
  user "$DEMO_USER", password "$DEMO_PASS": INBOX holds 14 awkward test
  messages, Archive 3 plain ones.

  popbridge serves POP3 on 127.0.0.1:$PB_PORT and keeps every message on
  the IMAP server (reached over STARTTLS on 127.0.0.1:$IMAP_PORT).
  A POP3 user name is ACCOUNT#DEVICE: each device has its own view.

  Paste, in another terminal:

    curl -u '$DEMO_USER#laptop:$DEMO_PASS' pop3://127.0.0.1:$PB_PORT/           # LIST
    curl -u '$DEMO_USER#laptop:$DEMO_PASS' pop3://127.0.0.1:$PB_PORT/1          # RETR 1
    curl -u '$DEMO_USER#laptop:$DEMO_PASS' pop3://127.0.0.1:$PB_PORT/ -X UIDL   # UIDL

    python3 -c 'import poplib; p = poplib.POP3("127.0.0.1", $PB_PORT); p.user("$DEMO_USER#phone"); p.pass_("$DEMO_PASS"); print(p.stat()); print(b"\\n".join(p.top(1, 0)[1]).decode()); p.quit()'

  Delete on one device, and the others (and IMAP) still have the message:

    python3 -c 'import poplib; p = poplib.POP3("127.0.0.1", $PB_PORT); p.user("$DEMO_USER#phone"); p.pass_("$DEMO_PASS"); p.dele(1); p.quit()'
    curl -u '$DEMO_USER#laptop:$DEMO_PASS' pop3://127.0.0.1:$PB_PORT/           # still 14

  popbridge's log (one line per session):  tail -f $work/popbridge.log

  The sandbox server directly:
    IMAP  (STARTTLS)  127.0.0.1:$IMAP_PORT     IMAPS 127.0.0.1:$IMAPS_PORT
    POP3  (STLS)      127.0.0.1:$POP3_PORT     POP3S 127.0.0.1:$POP3S_PORT  (Dovecot's own POP3)
    Certificate (self-signed, for localhost): $CA_FILE

  Press Ctrl-C to stop and remove everything.
EOT

wait "$pid" || true
pid=""
echo "demo: the sandbox server exited." >&2
