#!/usr/bin/env python3
"""kill -9 of `popbridge serve` inside the commit path, then a restart:
the commit completes exactly once and no message is lost (SPEC §5).

For each crash point of bridge/maildrop/backend.h (POPBRIDGE_TEST_CRASH_AT =
after-journal | after-upstream-step | before-finish), with `--dele trash`
so that "exactly once" is visible upstream (a repeated move would leave
two copies in Trash, a lost one none):

  1. popbridge runs with the hook set; a device DELEs two messages and
     sends QUIT; the process kills itself at that point (no +OK arrives);
  2. popbridge restarts on the same state file without the hook; the next
     session of the account finishes the commit;
  3. upstream, INBOX holds every other message and Trash exactly the two
     deleted ones; the device sees its maildrop without them, every
     remaining UIDL unchanged; another device of the account still sees
     what is left in INBOX.
"""
import os
import poplib

from pbinterop import PW, Dovecot, Popbridge, TempDir, check, report, upstream_messages

POINTS = ["after-journal", "after-upstream-step", "before-finish"]
N = 6


def login(pb, user):
    p = poplib.POP3("127.0.0.1", pb.port, timeout=60)
    p.user(user)
    p.pass_(PW)
    return p


def uidl_map(p):
    _, lines, _ = p.uidl()
    return dict((int(n), u.decode()) for n, u in (l.split() for l in lines))


def message_ids(msgs):
    out = []
    for _, m in msgs:
        for line in m.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                out.append(line.split(b":", 1)[1].strip())
                break
            if not line:
                break
    return sorted(out)


def one_point(dc, tmp, point):
    user = "crash-" + point
    dc.add_user(user, PW)
    for i in range(N):
        dc.add(user, "INBOX", "plain", 100 + i)
    dc.create_folder(user, "Trash")
    before = upstream_messages(dc, user, PW)
    state = os.path.join(tmp, point + ".db")
    args = ["--dele", "trash"]

    with Popbridge(dc, tmp=tmp, state=state, args=args,
                   env={"POPBRIDGE_TEST_CRASH_AT": point}) as pb:
        p = login(pb, user + "#dev")
        uidls = uidl_map(p)
        check(len(uidls) == N, "%s: %d messages offered" % (point, len(uidls)))
        p.retr(2)
        p.dele(2)
        p.dele(4)
        try:
            resp = p.quit()
            got = resp.decode(errors="replace")
        except (poplib.error_proto, EOFError, OSError) as e:
            got = "no +OK (%s)" % type(e).__name__
        check(not got.startswith("+OK"), "%s: QUIT answered %r; the hook did not fire"
              % (point, got))
        rc = pb.proc.wait(60)
        check(rc == -9, "%s: popbridge ended with %s, not SIGKILL" % (point, rc))

    with Popbridge(dc, tmp=tmp, state=state, args=args) as pb:
        p = login(pb, user + "#dev")
        after = uidl_map(p)
        p.quit()
        want = [uidls[n] for n in sorted(uidls) if n not in (2, 4)]
        check([after[n] for n in sorted(after)] == want,
              "%s: the device sees %r, want %r" % (point, after, want))
        q = login(pb, user + "#other")
        check(q.stat()[0] == N - 2, "%s: another device sees %d messages" % (point, q.stat()[0]))
        q.quit()
        pb.stop()

    inbox = upstream_messages(dc, user, PW)
    trash = upstream_messages(dc, user, PW, "Trash")
    check(len(inbox) == N - 2 and len(trash) == 2,
          "%s: upstream INBOX %d, Trash %d (want %d and 2)"
          % (point, len(inbox), len(trash), N - 2))
    check(message_ids(inbox + trash) == message_ids(before),
          "%s: the messages upstream are not the ones we started with" % point)
    check(message_ids(trash) == message_ids([before[1], before[3]]),
          "%s: Trash holds the wrong messages" % point)
    report("kill -9 at %s, restart: the commit completed once, nothing lost" % point)


def main():
    with TempDir() as tmp, Dovecot(users={"alice": PW}) as dc:
        for point in POINTS:
            one_point(dc, tmp, point)


if __name__ == "__main__":
    main()
