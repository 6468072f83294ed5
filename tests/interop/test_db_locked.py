#!/usr/bin/env python3
"""The state database locked by another process (issue 12, SPEC §5, §13).

Another process (python's sqlite3, `BEGIN EXCLUSIVE`: in WAL mode the write
lock; readers go on) holds the state file while devices log in and QUIT with
DELEs (`--dele trash`, so a committed DELE is visible upstream):

  longer than the busy timeout (state/state.h STATE_BUSY_TIMEOUT_MS, 10 s; the
  lock is held 10 s + 3 s, once for the QUIT and once for the login: the
  writers of one popbridge take turns (state/db.c), so side by side the second
  would wait for the first's turn and then its own): a QUIT with two DELEs and
  the first login of a new device each wait the busy timeout and are answered
  `-ERR [SYS/TEMP]`;
  nothing is committed (the device is offered the same messages with the same
  UIDLs afterwards, INBOX upstream untouched), `PRAGMA integrity_check` is ok,
  popbridge keeps serving, and once the lock is gone the same QUIT commits and
  the new device logs in;
  shorter than the busy timeout (3 s): the same QUIT and a new device's login
  wait for the lock and complete: +OK, the DELEs committed (in Trash upstream).

Expected behaviour: a lock held up to the busy timeout costs the client that
wait, never an error; beyond it the client gets [SYS/TEMP] (try again later)
and nothing changes.
"""
import os
import poplib
import subprocess
import sys
import threading
import time

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, pop3_login, pop3_uidls,
                       report, state_integrity_check, upstream_messages)

BUSY_S = 10          # state/state.h STATE_BUSY_TIMEOUT_MS / 1000
LONG_S = BUSY_S + 3  # held past the busy timeout
SHORT_S = 3          # released well within it
N = 6

LOCKER = r"""
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
c.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
c.close()
"""


class Lock:
    """Another process holding the state file's write lock for `seconds`."""

    def __init__(self, path, seconds):
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, path, str(seconds)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        check(line.strip() == "locked", "the locker did not take the lock: %r" % line)
        self.t0 = time.monotonic()

    def wait(self):
        check(self.proc.wait(60) == 0, "the locker failed")


def timed(fn):
    """Run fn in a thread; .result is (seconds, answer text or exception text)."""
    class T(threading.Thread):
        def run(self):
            t0 = time.monotonic()
            try:
                ans = fn()
                ans = ans.decode(errors="replace") if isinstance(ans, bytes) else str(ans)
            except (poplib.error_proto, OSError, EOFError) as e:
                a = e.args[0] if e.args else e
                ans = "error: %s" % (a.decode(errors="replace") if isinstance(a, bytes) else a)
            self.result = (time.monotonic() - t0, ans)
    t = T()
    t.start()
    return t


def new_device_login(pb, user):
    def go():
        p = poplib.POP3("127.0.0.1", pb.port, timeout=90)
        p.user(user)
        try:
            return p.pass_(PW)
        finally:
            try:
                p.quit()
            except (poplib.error_proto, OSError, EOFError):
                pass
    return go


def under_lock(pb, state, seconds, device, new_device, apart=False):
    """device DELEs messages 1 and 2; the state file is locked for `seconds`;
    meanwhile device QUITs and new_device logs in for the first time (side
    by side, or with apart each under a lock of its own). The two timed
    threads, finished."""
    p = pop3_login(pb, device)
    p.dele(1)
    p.dele(2)
    lock = Lock(state, seconds)
    q = timed(p.quit)
    if apart:
        q.join(120)
        lock.wait()
        lock = Lock(state, seconds)
    b = timed(new_device_login(pb, new_device))
    q.join(120)
    b.join(120)
    lock.wait()
    return q, b


def main():
    user = "locked"
    with TempDir() as tmp, Dovecot(users={user: PW}) as dc:
        for i in range(N):
            dc.add(user, "INBOX", "plain", 300 + i)
        dc.create_folder(user, "Trash")
        state = os.path.join(tmp, "state.db")
        with Popbridge(dc, tmp=tmp, state=state, args=["--dele", "trash"]) as pb:
            p = pop3_login(pb, user + "#a")
            first = pop3_uidls(p)
            p.quit()
            check(len(first) == N, "%d messages offered" % len(first))

            # 1. locked longer than the busy timeout
            q, b = under_lock(pb, state, LONG_S, user + "#a", user + "#b", apart=True)
            for what, t in (("QUIT with 2 DELEs", q), ("first login of a new device", b)):
                secs, ans = t.result
                check("[SYS/TEMP]" in ans and ans.startswith("error: -ERR"),
                      "%s under a %d s lock: %r after %.1f s, want -ERR [SYS/TEMP]"
                      % (what, LONG_S, ans, secs))
                check(secs >= BUSY_S - 1,
                      "%s: answered after %.1f s, before the busy timeout" % (what, secs))
            state_integrity_check(state)
            check(pb.proc.poll() is None, "popbridge exited")
            p = pop3_login(pb, user + "#a")
            check(pop3_uidls(p) == first, "after the failed QUIT the device sees %r, want %r"
                  % (pop3_uidls(p), first))
            check(len(upstream_messages(dc, user, PW)) == N, "INBOX changed upstream")
            check(not upstream_messages(dc, user, PW, "Trash"), "Trash is not empty")
            p.quit()
            report("state locked %d s (> busy timeout): QUIT and a new device's login "
                   "answered -ERR [SYS/TEMP] after %.1f/%.1f s, nothing committed, "
                   "integrity ok" % (LONG_S, q.result[0], b.result[0]))

            # 2. locked for less than the busy timeout
            q, b = under_lock(pb, state, SHORT_S, user + "#a", user + "#c")
            for what, t in (("QUIT with 2 DELEs", q), ("first login of a new device", b)):
                secs, ans = t.result
                check(ans.startswith("+OK"), "%s under a %d s lock: %r after %.1f s"
                      % (what, SHORT_S, ans, secs))
            check(q.result[0] >= SHORT_S - 1.5,
                  "QUIT answered after %.1f s: the lock did not hold it" % q.result[0])
            state_integrity_check(state)
            p = pop3_login(pb, user + "#a")
            check(pop3_uidls(p) == first[2:], "after the QUIT the device sees %r, want %r"
                  % (pop3_uidls(p), first[2:]))
            p.quit()
            check(len(upstream_messages(dc, user, PW, "Trash")) == 2,
                  "the 2 DELEs are not in Trash")
            check(len(upstream_messages(dc, user, PW)) == N - 2, "INBOX upstream")
            p = pop3_login(pb, user + "#b")
            check(len(pop3_uidls(p)) == N - 2, "device b after the commit")
            p.quit()
            check(pb.stop() == 0, "popbridge exit status")
            report("state locked %d s (< busy timeout): QUIT and a new device's login "
                   "waited %.1f/%.1f s and completed, DELEs committed" %
                   (SHORT_S, q.result[0], b.result[0]))
        state_integrity_check(state)


if __name__ == "__main__":
    main()
