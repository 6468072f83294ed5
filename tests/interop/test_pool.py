#!/usr/bin/env python3
"""Upstream connection reuse and the per-account cap (SPEC §9) through
`popbridge serve` in front of Dovecot. Upstream logins are counted in
Dovecot's own log ("imap-login: Info: Login: user=<U>").

- A repeat poll within --upstream-reuse logs in upstream once in all; with
  --upstream-reuse 0 once per poll.
- A wrong passthrough password never gets the kept connection: -ERR [AUTH],
  the server saw the attempt ("auth failed"), and the next good login still
  reuses.
- `doveadm kick` (the imap process says BYE and closes) on a kept
  connection: the next poll logs in afresh, and the client sees +OK.
- A client that disconnects while read-ahead is in flight (through the
  delay relay, so the fetches really are on the wire): the next session of
  the account, on the kept connection, gets intact mail; a pipelined mixed
  script on a reused connection gives byte for byte the replies of the same
  script sent one command at a time on a fresh connection.
- The cap: 20 devices of one account polling at once through a relay that
  counts connections never have more than --upstream-max-per-account (4)
  upstream connections, and all succeed; with 4 sessions held open a fifth
  login gets -ERR [SYS/TEMP] after --upstream-timeout.
"""
import os
import poplib
import socket
import subprocess
import sys
import threading
import time

SRC = os.environ.get("POPBRIDGE_SRC", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))
sys.path.insert(0, os.path.join(SRC, "tests", "interop"))

from pbinterop import PW, Dovecot, Popbridge, check, normalise, report  # noqa: E402
from pbinterop import upstream_messages  # noqa: E402
from delayrelay import Relay  # noqa: E402
import test_pipeline as tp  # noqa: E402


class _Upstream:
    def __init__(self, port):
        self.imap_port = port


def logins(dc, user):
    """Successful upstream logins of user so far, from Dovecot's log."""
    with open(os.path.join(dc.dir, "log", "dovecot.log"), errors="replace") as f:
        return sum(1 for ln in f if "imap-login: Info: Login: user=<%s>" % user in ln)


def dlog_count(dc, *needles):
    with open(os.path.join(dc.dir, "log", "dovecot.log"), errors="replace") as f:
        return sum(1 for ln in f if all(n in ln for n in needles))


def wait_for(fn, want, what, timeout=5):
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got == want or time.monotonic() > end:
            break
        time.sleep(0.05)
    time.sleep(0.1)                 # Dovecot's log process may still write
    got = fn()
    check(got == want, "%s: %r, want %r" % (what, got, want))


class _POP3From(poplib.POP3):
    """poplib from a given loopback source address (each its own entry in
    popbridge's failed-login delay)."""

    def __init__(self, port, src):
        self.src = src
        super().__init__("127.0.0.1", port, timeout=60)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))


def poll(port, user, password=PW, src="127.0.0.1"):
    p = _POP3From(port, src)
    p.user(user)
    p.pass_(password)
    n, _ = p.stat()
    p.uidl()
    p.quit()
    return n


def err_of(fn):
    try:
        fn()
    except poplib.error_proto as e:
        return e.args[0].decode(errors="replace")
    return None


def test_repeat_poll(dc):
    with Popbridge(dc, args=["--log-level", "debug"]) as pb:
        for dev in ("a", "b", "a", "c"):
            check(poll(pb.port, "u1#" + dev) == 6, "STAT")
        wait_for(lambda: logins(dc, "u1"), 1, "upstream logins for 4 polls with reuse")
        check(len([ln for ln in pb.log_lines() if "a kept connection reused" in ln]) == 3,
              "want 3 reuses logged")
        check(pb.stop() == 0, "popbridge did not exit 0 (kept connections at shutdown)")
    with Popbridge(dc, args=["--upstream-reuse", "0"]) as pb:
        poll(pb.port, "u1#a")
        poll(pb.port, "u1#b")
        wait_for(lambda: logins(dc, "u1"), 3, "upstream logins with --upstream-reuse 0")
    report("a repeat poll within --upstream-reuse logs in upstream once in all; "
           "with --upstream-reuse 0 once per poll")


def test_wrong_password(dc):
    with Popbridge(dc) as pb:
        before = logins(dc, "u2")
        poll(pb.port, "u2#a")
        wait_for(lambda: logins(dc, "u2"), before + 1, "first login")
        failed = dlog_count(dc, "auth failed", "user=<u2>")
        # from three addresses: no failed-login delay to wait out
        for i, bad in enumerate(("wrong-" + PW, PW[:-1], PW + "x")):
            e = err_of(lambda: poll(pb.port, "u2#a", bad, "127.0.0.%d" % (i + 2)))
            check(e and e.startswith("-ERR [AUTH]"), "wrong password: %r" % e)
        wait_for(lambda: dlog_count(dc, "auth failed", "user=<u2>"), failed + 3,
                 "the server must see each wrong password")
        poll(pb.port, "u2#a")
        wait_for(lambda: logins(dc, "u2"), before + 1, "the good password after them")
        check(not any(bad in ln for ln in pb.log_lines() for bad in ("wrong-", PW)),
              "a password in the log")
        check(pb.stop() == 0, "popbridge did not exit 0")
    report("a wrong passthrough password never reuses a kept connection: -ERR [AUTH], "
           "checked by the server; the kept one serves the right password")


def test_kick(dc):
    with Popbridge(dc) as pb:
        before = logins(dc, "u3")
        poll(pb.port, "u3#a")
        wait_for(lambda: logins(dc, "u3"), before + 1, "first login")
        r = subprocess.run(["doveadm", "-c", os.path.join(dc.dir, "dovecot.conf"), "kick",
                            "u3"], stdin=subprocess.DEVNULL, capture_output=True, text=True)
        check(r.returncode == 0, "doveadm kick: %s" % r.stderr)
        wait_for(lambda: dlog_count(dc, "imap(u3)", "Server shutting down"), 1,
                 "the kept connection said BYE")
        check(poll(pb.port, "u3#b") == 6, "poll after the kick")
        wait_for(lambda: logins(dc, "u3"), before + 2, "a fresh login after the kick")
        check(any("failed its check" in ln and "BYE" in ln for ln in pb.log_lines()),
              "the BYE is logged")
        check(pb.stop() == 0, "popbridge did not exit 0")
    report("an upstream BYE on a kept connection (doveadm kick): a fresh login, +OK "
           "for the client")


def test_readahead_and_pipeline(dc):
    with Relay(dc.imap_port, 10) as relay, \
            Popbridge(_Upstream(relay.port), args=["--log-level", "debug"]) as pb:
        up = upstream_messages(dc, "u4", PW)
        # a sequential client: RETR 1, RETR 2 start the read-ahead; it goes
        c = tp.Client(pb.port, "u4#seq")
        for n in (1, 2):
            c.send("RETR %d" % n)
            check(tp.unstuff(c.reply("RETR %d" % n)) == normalise(up[n - 1][1]), "RETR %d" % n)
        c.close()
        pb.wait_log("event=session", 30)
        # the next session of the account (another device) on the kept connection
        c = tp.Client(pb.port, "u4#next")
        c.send("\r\n".join("RETR %d" % n for n in range(len(up), 0, -1)))
        for n in range(len(up), 0, -1):
            got = tp.unstuff(c.reply("RETR %d" % n))
            check(got == normalise(up[n - 1][1]), "after the disconnect: RETR %d not intact" % n)
        c.send("QUIT")
        c.line()
        c.close()
        check(len([ln for ln in pb.log_lines() if "a kept connection reused" in ln]) == 1,
              "the second session did not reuse")
        # the mixed pipeline of test_pipeline on a reused connection (u6#w
        # kept it), against the same script one command at a time on a
        # fresh one (u5, identical mail)
        m = tp.imap(dc, "u6")
        for _, body in upstream_messages(dc, "u5", PW):
            typ, _ = m.append("INBOX", None, None, body)
            check(typ == "OK", "APPEND: %s" % typ)
        m.logout()
        poll(pb.port, "u6#w")
        reused = len([ln for ln in pb.log_lines() if "a kept connection reused" in ln])
        piped = tp.transcript(dc, pb, "u6", True)
        check(len([ln for ln in pb.log_lines() if "a kept connection reused" in ln]) ==
              reused + 1, "the pipelined session did not reuse")
        check(pb.stop() == 0, "popbridge did not exit 0")
    with Relay(dc.imap_port, 10) as relay, \
            Popbridge(_Upstream(relay.port), args=["--upstream-reuse", "0"]) as pb:
        plain = tp.transcript(dc, pb, "u5", False)
    check(plain.count(b"-ERR") == 3, "unpipelined: want 3 -ERR, got:\n%s"
          % plain.decode("latin-1")[:3000])
    check(plain == piped, "pipelined on a reused connection differs from unpipelined on a "
          "fresh one:\n%r\n%r" % (plain[:300], piped[:300]))
    report("a client gone during read-ahead leaves a clean kept connection (the next "
           "session's mail intact); a mixed pipeline on a reused connection gives the "
           "unpipelined transcript (%d octets)" % len(plain))


class CountingRelay(tp.LoopbackProxy):
    """Forwards each connection to Dovecot and counts connections open at
    once (the most) and in all."""

    def __init__(self, port):
        self.lock = threading.Lock()
        self.now = self.most = self.total = 0
        super().__init__(port)

    def serve(self, c, u):
        with self.lock:
            self.now += 1
            self.total += 1
            self.most = max(self.most, self.now)
        done = [2]
        for a, b in ((c, u), (u, c)):
            threading.Thread(target=self._pipe, args=(a, b, c, u, done), daemon=True).start()

    def _pipe(self, a, b, c, u, done):
        try:
            while True:
                d = a.recv(1 << 16)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            done[0] -= 1
            if done[0] == 0:
                self.now -= 1
                c.close()
                u.close()


def test_cap(dc):
    relay = CountingRelay(dc.imap_port)
    n = 20
    with Popbridge(_Upstream(relay.port), args=["--upstream-max-per-account", "4"]) as pb:
        results = [None] * n

        def one(i):
            try:
                p = poplib.POP3("127.0.0.1", pb.port, timeout=60)
                p.user("u7#dev%d" % i)
                p.pass_(PW)
                count, _ = p.stat()
                time.sleep(0.2)          # hold the upstream connection a moment
                p.quit()
                results[i] = count
            except Exception as e:      # reported below
                results[i] = e

        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        bad = [r for r in results if r != 6]
        check(not bad, "parallel devices failed: %r" % bad[:3])
        check(relay.most <= 4, "%d upstream connections at once, over the cap of 4"
              % relay.most)
        check(relay.total <= 8, "%d upstream connections in all for 20 polls" % relay.total)
        most, total = relay.most, relay.total
        check(pb.stop() == 0, "popbridge did not exit 0")
    with Popbridge(_Upstream(relay.port), args=["--upstream-timeout", "2"]) as pb:
        held = []
        for i in range(4):
            p = poplib.POP3("127.0.0.1", pb.port, timeout=60)
            p.user("u7#held%d" % i)
            p.pass_(PW)
            held.append(p)
        t0 = time.monotonic()
        e = err_of(lambda: poll(pb.port, "u7#fifth"))
        took = time.monotonic() - t0
        check(e and e.startswith("-ERR [SYS/TEMP]"), "over the cap: %r" % e)
        check(1.8 <= took < 10, "over the cap: answered after %.1f s, --upstream-timeout 2"
              % took)
        held.pop().quit()
        check(poll(pb.port, "u7#fifth") == 6, "after a session ended")
        for p in held:
            p.quit()
        check(pb.stop() == 0, "popbridge did not exit 0")
    relay.close()
    report("the per-account cap: 20 devices polling at once used at most %d upstream "
           "connections (%d in all); over the cap -ERR [SYS/TEMP] after the upstream "
           "timeout" % (most, total))


def main():
    users = {"u%d" % i: PW for i in range(1, 8)}
    fill = ["u1:INBOX:awkward:6", "u2:INBOX:awkward:2", "u3:INBOX:awkward:6",
            "u4:INBOX:large:12:300000", "u5:INBOX:awkward:8", "u7:INBOX:awkward:6"]
    with Dovecot(users=users, fill=fill) as dc:
        test_repeat_poll(dc)
        test_wrong_password(dc)
        test_kick(dc)
        test_readahead_and_pipeline(dc)
        test_cap(dc)


if __name__ == "__main__":
    main()
