#!/usr/bin/env python3
"""mpop against `popbridge serve`, each mode run twice.

  mpop -C CONFIG -q ACCOUNT        (CONFIG as written below: tls off,
                                    auth user, delivery maildir / mbox)

mpop pipelines deeply (it sends every RETR before reading a reply), so this
is also the real-client test of POP3 PIPELINING through the bridge.
- keep on + uidls_file, maildir delivery: every message, then none;
- keep off (delete after download), mbox delivery: every message, then none,
  and with `--dele hide` the upstream mailbox still holds every message;
- a third account over STLS (tls on, tls_trust_file = popbridge's cert).
popbridge reaches Dovecot over implicit TLS (imaps://, --upstream-ca).
mpop adds a Received: header; a delivered message must end with the
upstream message (LF line ends).
"""
import glob
import os

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, make_cert, report, run,
                       upstream_messages)


def write_config(path, port, accounts):
    with open(path, "w") as f:
        f.write("defaults\nauth user\ntimeout 60\nreceived_header on\n")
        for a in accounts:
            f.write("\naccount %s\nhost 127.0.0.1\nport %d\nuser %s\npassword %s\n"
                    % (a["name"], port, a["user"], PW))
            for k, v in a["opts"]:
                f.write("%s %s\n" % (k, v))
    os.chmod(path, 0o600)


def mpop(cfg, account):
    r = run(["mpop", "-C", cfg, account])
    check(r.returncode == 0, "mpop %s: exit %d:\n%s%s" % (account, r.returncode, r.stdout,
                                                         r.stderr))
    return r


def maildir_messages(d):
    out = []
    for p in sorted(glob.glob(os.path.join(d, "new", "*")) + glob.glob(os.path.join(d, "cur", "*"))):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def mbox_messages(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return [b"From " + m for m in data.split(b"\nFrom ")] if data else []


def ends_with_each(got, up, what):
    check(len(got) == len(up), "%s: %d delivered, upstream has %d" % (what, len(got), len(up)))
    for uid, m in up:
        lf = m.replace(b"\r\n", b"\n").rstrip(b"\n")
        # mbox delivery quotes "From " lines as ">From "; compare unquoted bodies
        ok = any(g.rstrip(b"\n").endswith(lf) or
                 g.rstrip(b"\n").replace(b"\n>From ", b"\nFrom ").endswith(lf)
                 for g in got)
        check(ok, "%s: upstream uid %d not delivered intact" % (what, uid))


def main():
    fill = ["alice:INBOX:awkward:12", "alice:INBOX:plain:8"]
    with TempDir() as tmp, Dovecot(users={"alice": PW}, fill=fill) as dc:
        cert, key = make_cert(tmp)
        md = os.path.join(tmp, "maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md, sub))
        mbox = os.path.join(tmp, "mbox")
        md_tls = os.path.join(tmp, "maildir-tls")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(md_tls, sub))
        with Popbridge(dc, args=["--cert", cert, "--key", key], upstream_tls="implicit") as pb:
            up = upstream_messages(dc, "alice", PW)
            cfg = os.path.join(tmp, "mpoprc")
            write_config(cfg, pb.port, [
                {"name": "keep", "user": "alice#mpopkeep", "opts": [
                    ("tls", "off"), ("keep", "on"),
                    ("uidls_file", os.path.join(tmp, "uidls-keep")),
                    ("delivery", "maildir " + md)]},
                {"name": "del", "user": "alice#mpopdel", "opts": [
                    ("tls", "off"), ("keep", "off"),
                    ("uidls_file", os.path.join(tmp, "uidls-del")),
                    ("delivery", "mbox " + mbox)]},
                {"name": "tls", "user": "alice#mpoptls", "opts": [
                    ("tls", "on"), ("tls_starttls", "on"), ("tls_trust_file", cert),
                    ("keep", "on"), ("uidls_file", os.path.join(tmp, "uidls-tls")),
                    ("delivery", "maildir " + md_tls)]},
            ])

            mpop(cfg, "keep")
            ends_with_each(maildir_messages(md), up, "keep, first run")
            mpop(cfg, "keep")
            check(len(maildir_messages(md)) == len(up), "keep: the second run fetched more")
            report("mpop keep+uidls, maildir: %d messages, then none" % len(up))

            mpop(cfg, "del")
            ends_with_each(mbox_messages(mbox), up, "delete, first run")
            mpop(cfg, "del")
            check(len(mbox_messages(mbox)) == len(up), "delete: the second run fetched more")
            check(len(upstream_messages(dc, "alice", PW)) == len(up),
                  "mpop's deletes removed mail upstream (dele hide)")
            dl = [l for l in pb.session_lines() if "device=mpopdel" in l]
            check(any("dele=%d" % len(up) in l and "result=committed" in l for l in dl),
                  "no committed session with dele=%d for mpopdel:\n%s" % (len(up), "\n".join(dl)))
            report("mpop delete mode, mbox: %d messages, then none; upstream keeps all" % len(up))

            mpop(cfg, "tls")
            ends_with_each(maildir_messages(md_tls), up, "STLS, first run")
            mpop(cfg, "tls")
            check(len(maildir_messages(md_tls)) == len(up), "STLS: the second run fetched more")
            report("mpop over STLS with certificate check: %d messages, then none" % len(up))

            check(not any(PW in l for l in pb.log_lines()), "the password is in the log")
            check(pb.stop() == 0, "popbridge did not exit 0 on SIGTERM")


if __name__ == "__main__":
    main()
