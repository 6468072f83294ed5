#!/usr/bin/env python3
"""fetchmail and mpop in keep mode through `popbridge serve` in front of each
real IMAP server of the harness: Dovecot 2.3, Cyrus IMAP 3.6, Courier IMAP 5
(tests/lib/imapd.h, started through `pbtest imapd KIND`).

For each server: a mix of awkward messages (no bare-LF one on Cyrus, which
refuses to store it), then
- fetchmail keep+uidl: the first run delivers every message intact, the
  second none;
- mpop keep+uidls_file (deep pipelining): the same;
- after the server renumbers INBOX (new UIDVALIDITY), both run again and
  download nothing: the bridge re-matches the messages and keeps the UIDLs.
A server that cannot run here fails the test with the reason, unless
PBT_SERVERS_SKIP=1.
"""
import os
import stat

from pbinterop import PW, Popbridge, TempDir, check, report, upstream_messages
from pbtest import Imapd
import test_fetchmail as fm
import test_mpop as mp

KINDS = ("dovecot", "cyrus", "courier")
MSG_KINDS = ("plain", "multipart", "8bit", "dots", "long-lines", "bare-lf", "no-final-eol")


def one_server(kind, tmp):
    why = Imapd.available(kind)
    if why:
        check(os.environ.get("PBT_SERVERS_SKIP") == "1", "%s: %s" % (kind, why))
        report("%s: skipped (%s)" % (kind, why))
        return
    with Imapd(kind, users={"alice": PW}) as srv:
        seed = 1
        for k in MSG_KINDS:
            if k == "bare-lf" and kind == "cyrus":
                continue
            srv.add("alice", "INBOX", k, seed)
            seed += 1
        srv.add("alice", "INBOX", "plain", seed, flags="S")
        with Popbridge(srv) as pb:
            up = upstream_messages(srv, "alice", PW)
            base = os.path.join(tmp, kind)
            os.mkdir(base)
            deliver = os.path.join(base, "deliver.sh")
            with open(deliver, "w") as f:
                f.write(fm.DELIVER)
            os.chmod(deliver, stat.S_IRWXU)
            n = fm.mode(base, pb, "fetchmail", "alice#fm", True, up)

            md = os.path.join(base, "maildir")
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(md, sub))
            cfg = os.path.join(base, "mpoprc")
            mp.write_config(cfg, pb.port, [
                {"name": "keep", "user": "alice#mpop", "opts": [
                    ("tls", "off"), ("keep", "on"),
                    ("uidls_file", os.path.join(base, "uidls")),
                    ("delivery", "maildir " + md)]}])
            mp.mpop(cfg, "keep")
            mp.ends_with_each(mp.maildir_messages(md), up, "%s: mpop keep, first run" % kind)
            mp.mpop(cfg, "keep")
            check(len(mp.maildir_messages(md)) == len(up), "%s: mpop's second run fetched more"
                  % kind)

            srv.renumber("alice", "INBOX")
            rc, ids = os.path.join(base, "fetchmail.rc"), os.path.join(base, "fetchmail.ids")
            r = fm.fetch(base, rc, ids)
            check(r.returncode == 1, "%s: fetchmail after the renumbering: exit %d:\n%s%s"
                  % (kind, r.returncode, r.stdout, r.stderr))
            mp.mpop(cfg, "keep")
            check(len(mp.maildir_messages(md)) == len(up),
                  "%s: mpop downloaded again after the renumbering" % kind)
            report("%s: fetchmail and mpop keep mode: %d messages, then none, also after a "
                   "UIDVALIDITY change" % (kind, n))


def main():
    with TempDir() as tmp:
        for kind in KINDS:
            one_server(kind, tmp)


if __name__ == "__main__":
    main()
