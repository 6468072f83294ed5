#!/usr/bin/env python3
"""fetchmail against `popbridge serve`, each mode run twice.

  fetchmail -f RC --idfile IDS -N -d0 --nosyslog      (RC as written below)

- `keep` with `uidl`: the first run delivers every message to the MDA, the
  second run delivers none (fetchmail's own UIDL tracking);
- the default mode (delete after download): the first run delivers every
  message and deletes it, the second finds the maildrop empty; with the
  default `--dele hide` the upstream mailbox and another device still hold
  every message.

fetchmail 6.4 tries STLS whatever CAPA says unless told `sslproto ''`
(shared/DOVECOT-IN-TESTS.md); the plaintext tests say so. A third run goes
over STLS with certificate checking, against popbridge's certificate (SAN
DNS:localhost, IP:127.0.0.1; fetchmail checks DNS names only: sslcommonname).
fetchmail writes each message through the MDA `deliver.sh DIR` (one file per
message); fetchmail adds its own Received: header on top, so a delivered
file must *end* with the upstream message (LF line ends, as an MDA gets it).
"""
import glob
import os
import stat

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, make_cert, report, run,
                       upstream_messages)

DELIVER = """#!/bin/sh
# one file per message, as fetchmail hands it to an MDA on stdin
n=$(date +%s%N)
exec cat > "$1/msg.$n.$$"
"""


def write_rc(path, port, user, mda, keep, tls=None):
    if tls:   # without 'ssl' (implicit TLS), sslproto TLS1.2+ means STLS
        tlsopts = "sslproto TLS1.2+ sslcertck sslcommonname localhost sslcertfile " + tls
    else:
        tlsopts = "sslproto ''"
    with open(path, "w") as f:
        f.write("set no bouncemail\n"
                "poll 127.0.0.1 with proto POP3 service %d timeout 60 %s\n"
                "  user \"%s\" there with password \"%s\" is root here\n"
                "  %s %s no rewrite mda \"%s\"\n"
                % (port, "uidl" if keep else "", user, PW, "keep" if keep else "nokeep",
                   tlsopts, mda))
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def fetch(tmp, rc, ids):
    r = run(["fetchmail", "-f", rc, "--idfile", ids, "--pidfile", os.path.join(tmp, "fm.pid"),
             "-N", "-d0", "--nosyslog"], env=dict(os.environ, HOME=tmp))
    # fetchmail: 0 = mail delivered, 1 = no mail; anything else is a failure
    check(r.returncode in (0, 1), "fetchmail exit %d:\n%s%s" % (r.returncode, r.stdout,
                                                               r.stderr))
    return r


def delivered(box):
    out = []
    for p in sorted(glob.glob(os.path.join(box, "msg.*"))):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def check_contents(box, up, what):
    got = delivered(box)
    check(len(got) == len(up), "%s: %d messages delivered, upstream has %d"
          % (what, len(got), len(up)))
    unmatched = [uid for uid, m in up
                 if not any(g.endswith(m.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n")
                            for g in got)]
    check(not unmatched, "%s: no delivered copy ends with upstream uid(s) %s"
          % (what, unmatched))


def mode(tmp, pb, name, user, keep, up, tls=None):
    box = os.path.join(tmp, name)
    os.mkdir(box)
    deliver = os.path.join(tmp, "deliver.sh")
    rc = os.path.join(tmp, name + ".rc")
    ids = os.path.join(tmp, name + ".ids")
    write_rc(rc, pb.port, user, "%s %s" % (deliver, box), keep, tls)
    r1 = fetch(tmp, rc, ids)
    check(r1.returncode == 0, "%s: first run delivered nothing:\n%s%s"
          % (name, r1.stdout, r1.stderr))
    check_contents(box, up, name)
    r2 = fetch(tmp, rc, ids)
    check(r2.returncode == 1, "%s: second run exit %d (want 1, no mail):\n%s%s"
          % (name, r2.returncode, r2.stdout, r2.stderr))
    check(len(delivered(box)) == len(up), "%s: the second run delivered more" % name)
    return len(up)


def main():
    fill = ["alice:INBOX:awkward:10", "alice:INBOX:plain:4"]
    with TempDir() as tmp, Dovecot(users={"alice": PW}, fill=fill) as dc:
        deliver = os.path.join(tmp, "deliver.sh")
        with open(deliver, "w") as f:
            f.write(DELIVER)
        os.chmod(deliver, 0o755)
        cert, key = make_cert(tmp)
        with Popbridge(dc, args=["--cert", cert, "--key", key]) as pb:
            up = upstream_messages(dc, "alice", PW)
            n = mode(tmp, pb, "keep", "alice#fmkeep", True, up)
            report("fetchmail keep+uidl: %d messages, then none" % n)
            n = mode(tmp, pb, "delete", "alice#fmdel", False, up)
            check(len(upstream_messages(dc, "alice", PW)) == len(up),
                  "fetchmail's deletes removed mail upstream (dele hide)")
            report("fetchmail delete mode: %d messages, then none; upstream keeps all" % n)
            n = mode(tmp, pb, "stls", "alice#fmtls", True, up, tls=cert)
            check(any("device=fmtls" in l and "tls=TLSv1." in l for l in pb.session_lines()),
                  "the STLS sessions are not logged with their TLS version")
            report("fetchmail over STLS with certificate check: %d messages, then none" % n)
            check(not any(PW in l for l in pb.log_lines()), "the password is in the log")
            check(pb.stop() == 0, "popbridge did not exit 0 on SIGTERM")


if __name__ == "__main__":
    main()
