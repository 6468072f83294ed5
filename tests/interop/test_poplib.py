#!/usr/bin/env python3
"""Python's poplib against `popbridge serve` in front of the sandbox Dovecot.

- RETR bytes (after poplib's dot-unstuffing) equal the upstream BODY[] with
  line ends normalised, for the generator's awkward messages and plain ones;
- LIST sizes equal the octets RETR sent, from the very first session (the
  messages without a final line end included); TOP n 0 is the header;
- UIDLs are the same in a second session and for a second device;
- a UIDL-tracking client run twice fetches nothing new the second time;
- a deleting client run twice finds its maildrop empty the second time,
  while the upstream mailbox and another device still have every message.
"""
import poplib

from pbinterop import PW, Dovecot, Popbridge, check, normalise, report, upstream_messages

poplib._MAXLINE = 1 << 20   # the awkward messages have lines far over 2048 octets


def login(pb, user, password=PW):
    p = poplib.POP3("127.0.0.1", pb.port, timeout=60)
    p.user(user)
    p.pass_(password)
    return p


def listing(p):
    _, lines, _ = p.list()
    sizes = {}
    for l in lines:
        n, s = l.split()
        sizes[int(n)] = int(s)
    _, lines, _ = p.uidl()
    uidls = {}
    for l in lines:
        n, u = l.split()
        uidls[int(n)] = u.decode()
    return sizes, uidls


def fetch_new(pb, user, seen, delete=False):
    """One run of a UIDL-tracking client; returns how many it fetched."""
    p = login(pb, user)
    sizes, uidls = listing(p)
    got = 0
    for n in sorted(uidls):
        if uidls[n] in seen:
            continue
        _, lines, _ = p.retr(n)
        data = b"\r\n".join(lines) + b"\r\n"
        check(len(data) == sizes[n], "%s: message %d: LIST says %d octets, RETR sent %d"
              % (user, n, sizes[n], len(data)))
        seen[uidls[n]] = data
        got += 1
        if delete:
            p.dele(n)
    p.quit()
    return got


def main():
    fill = ["alice:INBOX:awkward:14", "alice:INBOX:plain:4"]
    with Dovecot(users={"alice": PW}, fill=fill) as dc, Popbridge(dc) as pb:
        up = upstream_messages(dc, "alice", PW)
        check(len(up) == 18, "upstream has %d messages" % len(up))

        # Exact bytes, sizes, TOP.
        p = login(pb, "alice#py")
        count, total = p.stat()
        check(count == len(up), "STAT %d, upstream %d" % (count, len(up)))
        sizes, uidls1 = listing(p)
        check(sum(sizes.values()) == total, "STAT total differs from the LIST sum")
        for n in range(1, count + 1):
            _, lines, _ = p.retr(n)
            data = b"\r\n".join(lines) + b"\r\n"
            want = normalise(up[n - 1][1])
            check(data == want, "message %d (uid %d): RETR bytes differ from upstream "
                  "(%d vs %d octets)" % (n, up[n - 1][0], len(data), len(want)))
            # SPEC §4: exact before the first download, on every device.
            check(len(data) == sizes[n], "first session: message %d: LIST %d, RETR %d octets"
                  % (n, sizes[n], len(data)))
            _, head, _ = p.top(n, 0)
            hdr = b"\r\n".join(head) + b"\r\n"
            check(want.startswith(hdr) and (hdr.endswith(b"\r\n\r\n") or hdr == want),
                  "message %d: TOP n 0 is not the header" % n)
        p.quit()
        report("poplib: RETR bytes, LIST sizes and TOP of %d messages" % count)

        # UIDLs stable across sessions and devices; sizes exact there too.
        p = login(pb, "alice#py")
        sizes2, uidls2 = listing(p)
        p.quit()
        for n in range(1, count + 1):
            check(sizes2[n] == len(normalise(up[n - 1][1])),
                  "second session: message %d: LIST %d, RETR sends %d"
                  % (n, sizes2[n], len(normalise(up[n - 1][1]))))
        check(uidls1 == uidls2, "UIDLs changed between two sessions")
        p = login(pb, "alice#py2")
        sizes3, uidls3 = listing(p)
        p.quit()
        check(sizes3 == sizes2, "another device sees other sizes")
        check(uidls1 == uidls3, "another device sees other UIDLs")
        check(len(set(uidls1.values())) == count, "UIDLs are not unique")
        report("poplib: UIDLs stable across sessions and devices")

        # A UIDL-tracking client, twice.
        seen = {}
        n1 = fetch_new(pb, "alice#keep", seen)
        n2 = fetch_new(pb, "alice#keep", seen)
        check(n1 == count and n2 == 0, "keep client fetched %d then %d" % (n1, n2))
        report("poplib: keep+UIDL run twice: %d then %d" % (n1, n2))

        # A deleting client, twice.
        n1 = fetch_new(pb, "alice#del", {}, delete=True)
        n2 = fetch_new(pb, "alice#del", {}, delete=True)
        check(n1 == count and n2 == 0, "delete client fetched %d then %d" % (n1, n2))
        check(len(upstream_messages(dc, "alice", PW)) == count,
              "dele hide removed mail upstream")
        p = login(pb, "alice#other")
        check(p.stat()[0] == count, "another device lost messages")
        p.quit()
        report("poplib: delete mode run twice: %d then %d; upstream and other devices keep "
               "every message" % (n1, n2))

        sessions = pb.session_lines()
        check(len(sessions) >= 7, "expected a log line per session, got %d" % len(sessions))
        check(not any(PW in l for l in pb.log_lines()), "the password is in the log")
        check(pb.stop() == 0, "popbridge did not exit 0 on SIGTERM")


if __name__ == "__main__":
    main()
