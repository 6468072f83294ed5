#!/usr/bin/python3
"""Moving an account between nodes (SPEC §14): `account export` and `account
import` of an account with a 20,000-message INBOX and DEVICES devices that
have each seen all of it (every device x message row of per-device state).

Measured, each a whole command run (process start to exit):
  export        popbridge account export (no passphrase)
  import        popbridge account import of that file into a new state file
  export+pass   the same with --passphrase-file (scrypt once) ...
  import+pass   ... and its import (scrypt twice: the file is checked, then
                loaded)
(The second export writes the frozen state of the account exported by the
first.) The reference is popbridge's own first session of one device on the same
mailbox (login + STAT: the folder listed over IMAP and 20,000 messages
recorded): what a node without the account's state spends before the device
even starts downloading everything again. Target: export + import <= 2x that
session. Also printed: the file's size, and a check that the new node offers
the same UIDLs.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import subprocess

from benchlib import (PW, REPEATS, Dovecot, Popbridge, TempDir, check, fmt_s, line,  # noqa: E402
                      login, median, note, timed)
import bench_login  # noqa: E402

DEVICES = 4
TARGET = 2.0


def cli(*args):
    r = subprocess.run([os.environ["POPBRIDGE_BIN"]] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=600)
    check(r.returncode == 0, "popbridge %s: %s" % (" ".join(args[:2]), r.stderr))
    return r


def uidls(port, user):
    p = login(port, user)
    _, lines, _ = p.uidl()
    p.quit()
    return [l.split()[1] for l in lines]


def main():
    count = bench_login.COUNT
    with Dovecot() as dc, TempDir("pbbench-move.") as tmp:
        users = ["mv%d" % r for r in range(REPEATS)]
        for user in users:
            dc.add_user(user, PW)
        t0 = time.perf_counter()
        bench_login.fill_maildirs(dc, users)
        note("wrote %d x %d messages in %.1fs (untimed)" %
             (len(users), count, time.perf_counter() - t0))
        with open(os.path.join(tmp, "pass"), "w") as f:
            f.write("a passphrase for the benchmark\n")
        res = {k: [] for k in ("first", "export", "import", "export+pass", "import+pass")}
        size = 0
        a = os.path.join(tmp, "a.db")
        with Popbridge(dc, tmp=tmp, state=a) as pb:
            for user in users:
                first, _ = timed(lambda: login(pb.port, user + "#d0").quit())
                res["first"].append(first)
                for d in range(1, DEVICES):
                    login(pb.port, "%s#d%d" % (user, d)).quit()
                want = uidls(pb.port, user + "#d0")
                check(len(want) == count, "%d UIDLs" % len(want))
                for kind in ("", "+pass"):
                    out = os.path.join(tmp, "%s%s.account" % (user, kind))
                    b = os.path.join(tmp, "b%s-%s.db" % (kind, user))
                    extra = ["--passphrase-file", os.path.join(tmp, "pass")] if kind else []
                    t, _ = timed(lambda: cli("account", "export", user, "--out", out,
                                             "--state", a, *extra))
                    res["export" + kind].append(t)
                    t, _ = timed(lambda: cli("account", "import", out, "--state", b, *extra))
                    res["import" + kind].append(t)
                    size = os.path.getsize(out)
                with Popbridge(dc, tmp=tmp, state=os.path.join(tmp, "b-%s.db" % user)) as pb2:
                    check(uidls(pb2.port, user + "#d0") == want, "other UIDLs after the move")
        m = {k: median(v) for k, v in res.items()}
        for kind in ("", "+pass"):
            total = m["export" + kind] + m["import" + kind]
            line("export+import%s 20k x %d devices" % (kind.replace("+", " with "), DEVICES),
                 fmt_s(total), fmt_s(m["first"]), total / m["first"],
                 "time <= %.1fx" % TARGET, total / m["first"] <= TARGET)
            note("export%s %s, import%s %s" % (kind, fmt_s(m["export" + kind]), kind,
                                              fmt_s(m["import" + kind])))
        note("reference: one device's first session (login+STAT) on the 20k INBOX; "
             "the account file: %.1f MiB (%d messages, %d devices)" %
             (size / 1048576.0, count, DEVICES))


if __name__ == "__main__":
    main()
