#!/usr/bin/env python3
"""`popbridge report` after real POP3 sessions through `popbridge serve`: the
JSON parses and its counts are what the sessions did (retrieved, deleted,
waiting as of each device's last session), with login time, address,
protocol and TLS version; a session over POP3S reports its TLS version; the
table lists the same devices. (Hostile names, which logins cannot create,
are in tests/bridge/check_report.c.)"""
import datetime
import json
import os
import poplib
import ssl

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, free_port, make_cert,
                       popbridge_bin, report, run)


def session(port, user, retr=(), dele=(), tls_ca=None):
    if tls_ca:
        ctx = ssl.create_default_context(cafile=tls_ca)
        p = poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=60)
    else:
        p = poplib.POP3("127.0.0.1", port, timeout=60)
    p.user(user)
    p.pass_(PW)
    if retr == "all":
        retr = range(1, len(p.list()[1]) + 1)
    for n in retr:
        p.retr(n)
    for n in dele:
        p.dele(n)
    p.quit()


def main():
    with TempDir() as tmp, Dovecot(users={"alice": PW},
                                   fill=["alice:INBOX:plain:6"]) as dc:
        cert, key = make_cert(tmp)
        state = os.path.join(tmp, "state.db")
        weird = "dev.x+1@y"   # every kind of character a device name may hold
        with Popbridge(dc, args=["--cert", cert, "--key", key], tmp=tmp, state=state) as pb:
            session(pb.port, "alice#pc", retr=[1, 2], dele=[1])
            session(pb.port, "alice#phone", retr="all")
            session(pb.port, "alice#" + weird, retr=[3])
            session(pb.port, "alice#pc")    # the last session counts
            check(pb.stop() == 0, "popbridge did not exit 0")
        r = run([popbridge_bin(), "report", "--format", "json", "--state", state])
        check(r.returncode == 0, "report: %d %s" % (r.returncode, r.stderr))
        d = json.loads(r.stdout)
        gen = datetime.datetime.strptime(d["generated"], "%Y-%m-%dT%H:%M:%SZ")
        check(abs((datetime.datetime.utcnow() - gen).total_seconds()) < 300, "generated")
        accs = {a["account"]: a for a in d["accounts"]}
        check(set(accs) == {"alice"} and accs["alice"]["auth"] == "passthrough",
              "accounts: %s" % list(accs))
        devs = {v["device"]: v for v in accs["alice"]["devices"]}
        check(set(devs) == {"pc", "phone", weird}, "devices: %s" % list(devs))
        want = {"pc": (2, 1, 4), "phone": (6, 0, 0), weird: (1, 0, 5)}
        for name, (rt, de, wa) in want.items():
            v = devs[name]
            got = (v["retrieved"], v["deleted"], v["waiting"])
            check(got == (rt, de, wa), "%s: retrieved/deleted/waiting %s, want %s"
                  % (name, got, (rt, de, wa)))
            check(v["protocol"] == "pop3" and v["last_address"] == "127.0.0.1" and
                  v["tls"] == "none" and v["revoked"] is False and v["stale"] is False,
                  "%s: %s" % (name, v))
            login = datetime.datetime.strptime(v["last_login"], "%Y-%m-%dT%H:%M:%SZ")
            check(abs((datetime.datetime.utcnow() - login).total_seconds()) < 600,
                  "%s: last_login %s" % (name, v["last_login"]))
        report("report JSON: counts as the sessions left them (pc 2/1/4, phone 6/0/0)")

        # a session over implicit TLS records its version
        port = free_port()
        with Popbridge(dc, args=["--cert", cert, "--key", key], tmp=tmp, state=state,
                       tls_port=port) as pb:
            session(port, "alice#secure", retr=[1], tls_ca=cert)
            check(pb.stop() == 0, "popbridge did not exit 0")
        r = run([popbridge_bin(), "report", "--format", "json", "--state", state])
        devs = {v["device"]: v for v in json.loads(r.stdout)["accounts"][0]["devices"]}
        check(devs["secure"]["tls"].startswith("TLSv1."), "tls: %s" % devs["secure"])
        report("a POP3S session is reported with its TLS version (%s)" % devs["secure"]["tls"])

        r = run([popbridge_bin(), "report", "--state", state])
        check(r.returncode == 0, "table report failed: %s" % r.stderr)
        for name in ("pc", "phone", "secure", weird):
            check(any(name in line and "active" in line for line in r.stdout.splitlines()),
                  "table lacks %s:\n%s" % (name, r.stdout))
        report("report table lists every device as active")


if __name__ == "__main__":
    main()
