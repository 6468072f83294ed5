#!/usr/bin/env python3
"""import-uidls end to end (SPEC §7): a real Dovecot is both the old POP3
server (user "old": one Maildir) and the upstream (user "new": the same
generated messages delivered in another order, plus new ones).

- `import-uidls --dry-run` against a missing state file creates none;
- `import-uidls` (pop3:// with STLS and --from-ca) matches every old message,
  duplicates included; a second run (pop3s://) changes nothing more; a dry run
  leaves the state file's bytes as they are;
- POP3 through `popbridge serve` then lists the old server's UIDL for every
  old message (by Message-ID) and other UIDLs for the new ones;
- fetchmail (keep + uidl) that downloaded everything from the old server,
  pointed at popbridge with the same id file (its user@host keys adapted),
  downloads only the new messages;
- an old message missing upstream is listed as unmatched with its UIDL;
- wrong passwords and a plaintext pop3:// without STLS to a non-loopback
  address fail cleanly; the password never appears in the output.
"""
import email
import hashlib
import os
import poplib
import re
import subprocess

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, popbridge_bin, report, run)

OLD_ORDER = [("plain", s) for s in range(1, 9)] + [
    ("multipart", 20), ("8bit", 21), ("dots", 22), ("long-lines", 23), ("bare-lf", 24),
    ("plain", 30), ("plain", 30)]          # a true duplicate pair
NEW_ONLY = [("plain", 100), ("multipart", 101), ("8bit", 102)]

DELIVER = """#!/bin/sh
n=$(date +%s%N)
exec cat > "$1/msg.$n.$$"
"""


def import_uidls(tmp, dc, state, url, extra=(), stdin=PW + "\n" + PW + "\n", ca=True):
    argv = [popbridge_bin(), "import-uidls", "--account", "new", "--from", url,
            "--from-user", "old"] + (["--from-ca", dc.ca_file] if ca else []) + [
            "--upstream", "imap://127.0.0.1:%d" % dc.imap_port, "--upstream-tls", "none",
            "--state", state] + list(extra)
    r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=300)
    check(PW not in r.stdout and PW not in r.stderr, "the password is in the output")
    return r


def counts(out):
    got = {}
    for k in ("matched", "unmatched", "ambiguous", "conflicts"):
        m = re.search(r"^%s:\s+(\d+)" % k, out, re.M)
        check(m is not None, "no '%s:' line in:\n%s" % (k, out))
        got[k] = int(m.group(1))
    m = re.search(r"(stored now|would be stored): (\d+), already stored: (\d+)", out)
    check(m is not None, "no stored count in:\n%s" % out)
    got["changed"], got["unchanged"] = int(m.group(2)), int(m.group(3))
    return got


def pop_listing(port, user, tls_ca=None):
    """{Message-ID: [uidl...]} and the plain UIDL list of a POP3 maildrop."""
    p = poplib.POP3("127.0.0.1", port, timeout=60)
    if tls_ca:
        import ssl
        p.stls(ssl.create_default_context(cafile=tls_ca))
    p.user(user)
    p.pass_(PW)
    by_id = {}
    uidls = []
    for line in p.uidl()[1]:
        num, uidl = line.decode().split()
        hdr = b"\r\n".join(p.top(int(num), 0)[1])
        mid = email.message_from_bytes(hdr)["Message-ID"]
        by_id.setdefault(mid, []).append(uidl)
        uidls.append(uidl)
    p.quit()
    return by_id, uidls


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def fetchmail(tmp, port, user, ids, box):
    rc = os.path.join(tmp, "fm-%s.rc" % user)
    with open(rc, "w") as f:
        f.write("set no bouncemail\n"
                "poll 127.0.0.1 with proto POP3 service %d timeout 60 uidl\n"
                "  user \"%s\" there with password \"%s\" is root here\n"
                "  keep sslproto '' no rewrite mda \"%s %s\"\n"
                % (port, user, PW, os.path.join(tmp, "deliver.sh"), box))
    os.chmod(rc, 0o600)
    r = run(["fetchmail", "-f", rc, "--idfile", ids, "--pidfile",
             os.path.join(tmp, "fm.pid"), "-N", "-d0", "--nosyslog"],
            env=dict(os.environ, HOME=tmp))
    check(r.returncode in (0, 1), "fetchmail exit %d:\n%s%s" % (r.returncode, r.stdout,
                                                               r.stderr))
    return sorted(os.listdir(box))


def main():
    with TempDir() as tmp, Dovecot(users={"old": PW, "new": PW}) as dc:
        for kind, seed in OLD_ORDER:
            dc.add("old", "INBOX", kind, seed)
        # upstream: the same messages, reversed and interleaved with new ones
        new_order = list(reversed(OLD_ORDER))
        new_order[3:3] = NEW_ONLY[:1]
        new_order += NEW_ONLY[1:]
        for kind, seed in new_order:
            dc.add("new", "INBOX", kind, seed)
        state = os.path.join(tmp, "state.db")
        pop3 = "pop3://127.0.0.1:%d" % dc.pop3_port
        pop3s = "pop3s://127.0.0.1:%d" % dc.pop3s_port

        old_by_id, old_uidls = pop_listing(dc.pop3_port, "old")
        check(len(old_uidls) == len(OLD_ORDER), "old server lists %d" % len(old_uidls))

        # dry run without a state file: matches, creates nothing
        r = import_uidls(tmp, dc, state, pop3, ["--dry-run"])
        check(r.returncode == 0, "dry run failed:\n%s%s" % (r.stdout, r.stderr))
        c = counts(r.stdout)
        check(c["matched"] == len(OLD_ORDER) and c["changed"] == len(OLD_ORDER),
              "dry run: %s\n%s" % (c, r.stdout))
        check(not os.path.exists(state), "the dry run created the state file")
        report("dry run: %d would be stored, no state file created" % c["matched"])

        # the real run, pop3:// with STLS (Dovecot offers it) and --from-ca
        r = import_uidls(tmp, dc, state, pop3)
        check(r.returncode == 0, "import failed:\n%s%s" % (r.stdout, r.stderr))
        check("TLS: TLSv1." in r.stdout, "pop3:// did not use STLS:\n" + r.stdout)
        c = counts(r.stdout)
        check(c == {"matched": len(OLD_ORDER), "unmatched": 0, "ambiguous": 0,
                    "conflicts": 0, "changed": len(OLD_ORDER), "unchanged": 0},
              "import: %s\n%s" % (c, r.stdout))
        report("import-uidls over STLS: all %d old messages matched (a duplicate pair "
               "included)" % c["matched"])

        # again over pop3s://: nothing more changes
        r = import_uidls(tmp, dc, state, pop3s)
        check(r.returncode == 0, "second import failed:\n%s%s" % (r.stdout, r.stderr))
        c = counts(r.stdout)
        check(c["matched"] == len(OLD_ORDER) and c["changed"] == 0 and
              c["unchanged"] == len(OLD_ORDER), "second run: %s\n%s" % (c, r.stdout))
        report("second run (pop3s://): 0 changed")
        r = import_uidls(tmp, dc, state, pop3s, ["--dry-run"])
        c = counts(r.stdout)
        check(r.returncode == 0 and c["changed"] == 0, "dry run after import: %s" % c)
        after_dry = sha(state)
        r = import_uidls(tmp, dc, state, pop3s, ["--dry-run"])
        check(sha(state) == after_dry, "a dry run changed the state file's bytes")
        report("dry run after the import: 0 to store, state file bytes unchanged")

        # devices see the old UIDLs through popbridge
        with Popbridge(dc, state=state, tmp=tmp) as pb:
            pb_by_id, pb_uidls = pop_listing(pb.port, "new")
            check(len(pb_uidls) == len(OLD_ORDER) + len(NEW_ONLY),
                  "popbridge lists %d" % len(pb_uidls))
            for mid, uidls in old_by_id.items():
                check(sorted(pb_by_id.get(mid, [])) == sorted(uidls),
                      "Message-ID %s: old UIDLs %s, popbridge %s"
                      % (mid, uidls, pb_by_id.get(mid)))
            others = set(pb_uidls) - set(old_uidls)
            check(len(others) == len(NEW_ONLY), "new messages' UIDLs: %s" % others)
            report("POP3 through popbridge: the %d old UIDLs, %d new ones"
                   % (len(old_uidls), len(others)))

            # fetchmail: everything from the old server, then only the new ones
            with open(os.path.join(tmp, "deliver.sh"), "w") as f:
                f.write(DELIVER)
            os.chmod(os.path.join(tmp, "deliver.sh"), 0o755)
            ids = os.path.join(tmp, "fetchids")
            old_box = os.path.join(tmp, "oldbox")
            os.mkdir(old_box)
            got = fetchmail(tmp, dc.pop3_port, "old", ids, old_box)
            check(len(got) == len(OLD_ORDER), "fetchmail got %d from the old server"
                  % len(got))
            with open(ids) as f:
                text = f.read()
            check("old@127.0.0.1" in text, "fetchmail id file: %r" % text[:300])
            with open(ids, "w") as f:   # the same mailbox, now served by popbridge
                f.write(text.replace("old@127.0.0.1", "new@127.0.0.1"))
            new_box = os.path.join(tmp, "newbox")
            os.mkdir(new_box)
            got = fetchmail(tmp, pb.port, "new", ids, new_box)
            check(len(got) == len(NEW_ONLY), "fetchmail through popbridge downloaded %d, "
                  "want only the %d new ones" % (len(got), len(NEW_ONLY)))
            mids = set()
            for name in got:
                with open(os.path.join(new_box, name), "rb") as f:
                    mids.add(email.message_from_bytes(f.read())["Message-ID"])
            check(not (mids & set(old_by_id)), "fetchmail downloaded an old message again")
            report("fetchmail with the old server's id file: only the %d new messages"
                   % len(got))
            check(pb.stop() == 0, "popbridge did not exit 0")

        # an old message that is not upstream: listed as unmatched
        dc.add("old", "INBOX", "plain", 500)
        r = import_uidls(tmp, dc, state, pop3s)
        c = counts(r.stdout)
        check(r.returncode == 0 and c["unmatched"] == 1 and c["changed"] == 0,
              "unmatched: %s\n%s" % (c, r.stdout))
        _, uidls = pop_listing(dc.pop3_port, "old")
        missing = [u for u in uidls if u not in old_uidls]
        check(len(missing) == 1 and re.search(r"^\s+unmatched\s+%s <" % re.escape(missing[0]),
                                               r.stdout, re.M),
              "the unmatched message is not listed with its UIDL:\n" + r.stdout)
        report("an old message missing upstream: listed as unmatched (%s)" % missing[0])

        # managed mode: the account's stored upstream credentials; standard
        # input holds only the old server's password
        mstate = os.path.join(tmp, "managed.db")
        r = subprocess.run([popbridge_bin(), "account", "add", "acct", "--upstream-user",
                            "new", "--state", mstate], input=PW + "\n", text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        check(r.returncode == 0, "account add: %s" % r.stderr)
        argv = [popbridge_bin(), "import-uidls", "--account", "acct", "--from", pop3s,
                "--from-user", "old", "--from-ca", dc.ca_file,
                "--upstream", "imap://127.0.0.1:%d" % dc.imap_port, "--upstream-tls", "none",
                "--state", mstate]
        r = subprocess.run(argv, input=PW + "\n", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=300)
        check(r.returncode == 0, "managed import: %s%s" % (r.stdout, r.stderr))
        c = counts(r.stdout)
        check(c["matched"] == len(OLD_ORDER) and c["changed"] == len(OLD_ORDER),
              "managed import: %s" % c)
        report("managed account: stored upstream credentials, %d matched" % c["matched"])
        nostate = os.path.join(tmp, "none.db")
        r = import_uidls(tmp, dc, nostate, pop3s, ["--auth", "managed"], stdin=PW + "\n")
        check(r.returncode == 1 and "managed mode needs the state file" in r.stderr and
              not os.path.exists(nostate), "managed without a state file: %d %s"
              % (r.returncode, r.stderr))
        r = import_uidls(tmp, dc, state, "pop3://127.0.0.1:1")
        check(r.returncode == 1 and "old server 127.0.0.1 port 1" in r.stderr,
              "unreachable old server: %d %s" % (r.returncode, r.stderr))

        # failures: wrong old password; wrong upstream password; no state change
        before = sha(state)
        r = import_uidls(tmp, dc, state, pop3s, stdin="wrong\n" + PW + "\n")
        check(r.returncode == 1 and "old server refused" in r.stderr,
              "wrong old password: rc %d %s" % (r.returncode, r.stderr))
        r = import_uidls(tmp, dc, state, pop3s, stdin=PW + "\nwrong\n")
        check(r.returncode == 1 and "refused the credentials" in r.stderr,
              "wrong upstream password: rc %d %s" % (r.returncode, r.stderr))
        check(sha(state) == before, "a failed import changed the state file")
        r = import_uidls(tmp, dc, state, pop3s, ca=False)
        check(r.returncode == 1 and "TLS" in r.stderr,
              "an untrusted certificate was accepted: rc %d %s" % (r.returncode, r.stderr))
        r = import_uidls(tmp, dc, state, pop3, ca=False)
        check(r.returncode == 1 and "TLS" in r.stderr,
              "STLS with an untrusted certificate: rc %d %s" % (r.returncode, r.stderr))
        report("an untrusted old server certificate (pop3s and STLS) is refused")
        pwf = os.path.join(tmp, "old.pw")
        upf = os.path.join(tmp, "up.pw")
        for path in (pwf, upf):
            with open(path, "w") as f:
                f.write(PW + "\n")
        r = import_uidls(tmp, dc, state, pop3s, ["--from-password-file", pwf,
                                                 "--upstream-password-file", upf], stdin="")
        check(r.returncode == 0 and counts(r.stdout)["changed"] == 0,
              "password files: rc %d %s" % (r.returncode, r.stderr))
        report("passwords from --from-password-file / --upstream-password-file")
        fresh = os.path.join(tmp, "fresh.db")
        r = import_uidls(tmp, dc, fresh, pop3s, stdin=PW + "\nwrong\n")
        check(r.returncode == 1 and not os.path.exists(fresh),
              "a refused upstream login created a state file")
        report("wrong passwords: exit 1 with a clear message, state unchanged")


if __name__ == "__main__":
    main()
