#!/usr/bin/env python3
"""curl's POP3 support against `popbridge serve`.

  curl pop3://127.0.0.1:PORT/   -u 'alice#curl:PW'            LIST
  curl pop3://127.0.0.1:PORT/N  -u ...                        RETR N
  curl pop3://127.0.0.1:PORT/   -u ... -X UIDL                UIDL
  curl --ssl-reqd --cacert CRT pop3://127.0.0.1:PORT/ ...     STLS
  curl --cacert CRT pop3s://127.0.0.1:TLSPORT/ ...            implicit TLS

popbridge reaches Dovecot over STARTTLS, verified with --upstream-ca.
A 20 MB message goes through with popbridge's memory bounded.
Each run twice: the second run sees the same listing and UIDLs (curl keeps
no state, and reading commits nothing that would change them).
"""
import hashlib
import os
import subprocess

from pbinterop import (PW, Dovecot, Popbridge, TempDir, check, free_port, make_cert,
                       normalise, peak_rss_kib, report, upstream_messages)


LARGE = 20 * 1000 * 1000


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "60"] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=90)
    check(r.returncode == 0, "curl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                      r.stderr.decode(errors="replace")))
    return r.stdout


def parse_pairs(out):
    pairs = {}
    for line in out.decode().split("\r\n"):
        if line:
            n, v = line.split()
            pairs[int(n)] = v
    return pairs


def main():
    fill = ["alice:INBOX:awkward:10", "alice:INBOX:plain:3"]
    with TempDir() as tmp, Dovecot(users={"alice": PW}, fill=fill) as dc:
        cert, key = make_cert(tmp)
        tls_port = free_port()
        with Popbridge(dc, args=["--cert", cert, "--key", key], tls_port=tls_port,
                       upstream_tls="starttls") as pb:
            up = upstream_messages(dc, "alice", PW)
            url = "pop3://127.0.0.1:%d/" % pb.port
            user = ["-u", "alice#curl:" + PW]
            runs = []
            for _ in range(2):
                sizes = parse_pairs(curl(url, *user))
                uidls = parse_pairs(curl(url, *user, "-X", "UIDL"))
                check(len(sizes) == len(up), "LIST shows %d of %d" % (len(sizes), len(up)))
                for n in sizes:
                    data = curl(url + str(n), *user)
                    want = normalise(up[n - 1][1])
                    check(data == want, "RETR %d: bytes differ (%d vs %d)"
                          % (n, len(data), len(want)))
                    # SPEC §4: an inexact RFC822.SIZE (no final line end) is
                    # corrected by the first download; the second run is exact.
                    check(len(data) == int(sizes[n]) or
                          (not runs and int(sizes[n]) == len(up[n - 1][1])),
                          "RETR %d: LIST size %s, got %d" % (n, sizes[n], len(data)))
                runs.append((sizes, uidls))
            check(runs[0][1] == runs[1][1], "the second run saw other UIDLs")
            check(runs[1][0] == {n: str(len(normalise(m))) for n, (_, m) in
                                 enumerate(up, 1)}, "second run: LIST sizes not exact")
            report("curl: LIST, RETR of %d messages, UIDL; run twice, same result" % len(up))

            stls = curl("--ssl-reqd", "--cacert", cert, url, *user, "-X", "UIDL")
            check(parse_pairs(stls) == runs[0][1], "UIDL over STLS differs")
            tls = curl("--cacert", cert, "pop3s://127.0.0.1:%d/" % tls_port, *user,
                       "-X", "UIDL")
            check(parse_pairs(tls) == runs[0][1], "UIDL over implicit TLS differs")
            report("curl: STLS (--ssl-reqd) and pop3s:// implicit TLS")

            # A 20 MB message, streamed: popbridge's peak memory does not grow
            # by anything like the message size (checked without sanitizers,
            # whose allocator quarantine would blur it).
            dc.add("alice", "INBOX", "large", 77, size=LARGE)
            big = upstream_messages(dc, "alice", PW)[-1][1]
            hwm0 = peak_rss_kib(pb.proc.pid)
            data = curl(url + str(len(up) + 1), *user)
            check(hashlib.sha256(data).digest() == hashlib.sha256(normalise(big)).digest(),
                  "the 20 MB message arrived changed (%d octets)" % len(data))
            grew = peak_rss_kib(pb.proc.pid) - hwm0
            if not os.environ.get("POPBRIDGE_SANITIZE"):
                check(grew < 8 * 1024, "popbridge's peak memory grew by %d KiB for a "
                      "%d-octet message" % (grew, len(data)))
            report("curl: a %d-octet message streamed intact; popbridge's peak RSS grew by "
                   "%d KiB" % (len(data), grew))

            lines = pb.session_lines()
            check(any("tls=TLSv1.3" in l or "tls=TLSv1.2" in l for l in lines),
                  "no session line names the TLS version")
            check(not any(PW in l for l in pb.log_lines()), "the password is in the log")
            check(pb.stop() == 0, "popbridge did not exit 0 on SIGTERM")


if __name__ == "__main__":
    main()
