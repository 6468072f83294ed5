#!/usr/bin/env python3
"""`popbridge route` at the wire (SPEC §14), without nginx: requests exactly
as nginx 1.22 sends them (HTTP/1.0 over a raw socket, its header names,
percent-encoding), Python's http.client for /metrics, and small scripted
nodes (a thread each) that record what the health checks send.

- the answer for each account is the node the rendezvous hash names,
  computed independently here (pbinterop.route_owner), header by header;
- a health check starts with the PROXY v2 LOCAL header, reads the greeting
  and says QUIT; a node that stops answering is down within an interval and
  its accounts get the temporary failure (and nothing else changes); back
  up, they are routed again; an -ERR greeting is a node down;
- metrics count what was answered;
- HTTP bounds: POST 405, an unknown path 404, headers over 16 KiB refused;
- route --plan against real state files (accounts made by `popbridge
  account add`), compared with the independent hash;
- command-line mistakes, SIGHUP (nothing to reload), SIGTERM (exit 0).

The same with nginx and real nodes: tests/interop/test_fleet.py.
"""
import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time

from pbinterop import (Route, TempDir, check, free_port, popbridge_bin, report, route_owner)

LOCAL = b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"


class FakeNode:
    """A scripted node: greets with `greeting` after reading the 16-octet
    header, answers QUIT; records each connection's first 16 octets and what
    followed. stop()/start() close and reopen its listener on the same port."""

    def __init__(self, greeting=b"+OK fake POP3\r\n"):
        self.port = free_port()
        self.greeting = greeting
        self.headers = []
        self.after = []
        self.sock = None
        self.start()

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        threading.Thread(target=self._accept, args=(self.sock,), daemon=True).start()

    def stop(self):
        self.sock.close()

    def _accept(self, sock):
        while True:
            try:
                c, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with c:
            c.settimeout(10)
            try:
                hdr = b""
                while len(hdr) < 16:
                    chunk = c.recv(16 - len(hdr))
                    if not chunk:
                        break
                    hdr += chunk
                self.headers.append(hdr)
                c.sendall(self.greeting)
                line = c.recv(100)
                self.after.append(line)
                if line.startswith(b"QUIT"):
                    c.sendall(b"+OK bye\r\n")
            except OSError:
                pass


def ok(node_port):
    return {"Auth-Status": "OK", "Auth-Server": "127.0.0.1", "Auth-Port": str(node_port)}


def auth_headers(h):
    return {k: v for k, v in h.items() if k.startswith("Auth-")}


TEMP_POP3 = {"Auth-Status": "[SYS/TEMP] Mailbox temporarily unavailable, try again later",
             "Auth-Wait": "1"}


def test_routing_and_checks():
    a, b, c = FakeNode(), FakeNode(), FakeNode(greeting=b"-ERR [SYS/TEMP] too many sessions\r\n")
    imap_port, smtp_port = free_port(), free_port()
    names = ["alpha", "beta", "gamma"]
    ports = {"alpha": a.port, "beta": b.port, "gamma": c.port}
    specs = ["alpha=127.0.0.1:%d,imap=%d,smtp=%d" % (a.port, imap_port, smtp_port),
             "beta=127.0.0.1:%d" % b.port, "gamma=127.0.0.1:%d" % c.port]
    with Route(specs, args=["--check-interval", "1", "--log-level", "debug"]) as r:
        r.wait_log("event=node node=gamma")
        check("state=down" in r.wait_log("event=node node=gamma"), "an -ERR greeting is a node down")
        check("state=up" in r.wait_log("event=node node=alpha"), "alpha up")
        # the health check: LOCAL header first, then QUIT after the greeting
        check(a.headers and all(h == LOCAL for h in a.headers),
              "health check header: %r" % a.headers[:2])
        check(a.after and a.after[0] == b"QUIT\r\n", "after the greeting: %r" % a.after[:1])

        users = ["user%d@example.org" % i for i in range(40)] + ["Ann#Phone", "ann",
                                                                 "o'brien", "a b", "x%y"]
        counts = {n: 0 for n in names}
        for u in users:
            owner = route_owner(names, u)
            status, h = r.auth(u)
            check(status == 200, "%s: status %d" % (u, status))
            want = ok(ports[owner]) if owner != "gamma" else TEMP_POP3
            check(auth_headers(h) == want, "%s -> %s: %r" % (u, owner, h))
            counts[owner] += 1
        check(all(counts.values()), "every node holds some of 45 accounts: %r" % counts)
        # case and device do not matter; the protocol picks the port
        alpha_user = next(u for u in users if route_owner(names, u) == "alpha")
        check(r.auth(alpha_user.upper())[1] == r.auth(alpha_user + "#tablet")[1],
              "case and device")
        check(auth_headers(r.auth(alpha_user, "imap")[1]) == ok(imap_port), "imap port")
        check(auth_headers(r.auth(alpha_user, "smtp")[1]) == ok(smtp_port), "smtp port")
        beta_user = next(u for u in users if route_owner(names, u) == "beta")
        status, h = r.auth(beta_user, "imap")
        check(auth_headers(h) == {"Auth-Status": "[UNAVAILABLE] Mailbox not available over "
                                  "this protocol, contact the administrator",
                                  "Auth-Wait": "1"}, "beta has no IMAP: %r" % h)
        report("route answers each account with its rendezvous node (IMAP/SMTP ports, case "
               "and device folded); checks send PROXY v2 LOCAL, then QUIT; -ERR greeting = down")

        # alpha stops: its accounts get the temporary failure, beta's are unchanged
        a.stop()
        check("state=down" in r.wait_log("event=node node=alpha", count=2, timeout=10), "alpha down")
        before = r.metrics()
        for u in users:
            owner = route_owner(names, u)
            h = auth_headers(r.auth(u)[1])
            if owner == "alpha":
                check(h == TEMP_POP3, "%s while alpha is down: %r" % (u, h))
            elif owner == "beta":
                check(h == ok(b.port), "%s (beta) while alpha is down: %r" % (u, h))
        h = auth_headers(r.auth(alpha_user, "imap")[1])
        check(h == {"Auth-Status": "[UNAVAILABLE] Mailbox temporarily unavailable, try again "
                    "later", "Auth-Wait": "1"}, "imap while down: %r" % h)
        h = auth_headers(r.auth(alpha_user, "smtp")[1])
        check(h == {"Auth-Status": "Mailbox temporarily unavailable, try again later",
                    "Auth-Error-Code": "451 4.3.0", "Auth-Wait": "1"}, "smtp while down: %r" % h)
        after = r.metrics()
        check(after['popbridge_node_up{node="alpha"}'] == 0, "metrics: alpha up")
        check(after['popbridge_node_up{node="beta"}'] == 1, "metrics: beta up")
        n_alpha = sum(1 for u in users if route_owner(names, u) == "alpha")
        key = 'popbridge_route_requests_total{node="alpha",result="down"}'
        check(after[key] - before[key] == n_alpha + 2, "down counted: %d" %
              (after[key] - before[key]))
        check(after['popbridge_route_checks_failed_total{node="alpha"}'] >= 1, "check failures")
        a.start()
        check("state=up" in r.wait_log("event=node node=alpha", count=3, timeout=10), "alpha back")
        check(auth_headers(r.auth(alpha_user)[1]) == ok(a.port), "routed again")
        report("a node down: its accounts get [SYS/TEMP] / [UNAVAILABLE] / 451 4.3.0 with "
               "Auth-Wait, never another node; the others are unchanged; up again, routed again")

        # what nginx never sends, and HTTP's own bounds
        status, h = r.raw(b"GET /auth HTTP/1.0\r\nAuth-Protocol: pop3\r\n\r\n")
        check(status == 400 and h.get("Auth-Status") == "Invalid request", "no user: %r" % h)
        status, h = r.raw(b"GET /auth HTTP/1.0\r\nAuth-User: a%zz\r\nAuth-Protocol: pop3\r\n\r\n")
        check(status == 400, "bad %%-encoding: %d" % status)
        status, h = r.raw(b"POST /auth HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc")
        check(status == 405 and h.get("Allow") == "GET, HEAD", "POST: %d %r" % (status, h))
        status, _ = r.get("/")
        check(status == 404, "/: %d" % status)
        big = b"GET /auth HTTP/1.0\r\nAuth-User: a\r\nAuth-Pass: " + b"x" * 20000 + b"\r\n\r\n"
        try:
            status, _ = r.raw(big)
            check(status in (413, 431), "20 KB of headers: %d" % status)
        except (ConnectionResetError, BrokenPipeError, IndexError):
            pass   # refused by closing: also bounded
        status, h = r.auth(alpha_user, password="p" * 1024)   # the longest POP3 password
        check(status == 200 and h.get("Auth-Status") == "OK", "a long password: %r" % h)
        m = r.metrics()
        check(m['popbridge_route_unrouted_total{reason="bad_request"}'] == 2,
              "bad requests counted: %r" % m)
        check(not any("secret" in l or "example.org" in l for l in r.log_lines()),
              "a password or user name in the log")
        check(any("event=auth protocol=pop3 client=192.0.2.10 node=alpha result=ok" in l
                  for l in r.log_lines()), "the debug line per request")

        r.signal(signal.SIGHUP)
        r.wait_log("nothing to reload")
        check(r.stop() == 0, "SIGTERM: exit 0")
    for n in (a, b, c):
        n.stop()
    report("requests nginx never sends: 400; POST 405; unknown path 404; 20 KB of headers "
           "refused; metrics count; no user name or password logged; SIGHUP, SIGTERM")


def account_add(state, name):
    r = subprocess.run([popbridge_bin(), "account", "add", name, "--state", state],
                       input="upstream-pw\n", text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check(r.returncode == 0, "account add %s: %s" % (name, r.stderr))


def route_cmd(*args):
    return subprocess.run([popbridge_bin(), "route"] + list(args), text=True,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=60)


def test_plan(tmp):
    old = ["n1", "n2"]
    new = ["n1", "n2", "n3"]
    states = {}
    accounts = ["acct%02d@example.net" % i for i in range(30)] + ["Mixed.Case"]
    for n in old:
        states[n] = os.path.join(tmp, "%s.db" % n)
    for a in accounts:
        account_add(states[route_owner(old, a)], a)
    nodes = sum((["--node", "%s=127.0.0.%d:1110" % (n, i + 1)] for i, n in enumerate(new)), [])
    r = route_cmd("--plan", *nodes, *sum((["--state", "%s=%s" % (n, states[n])] for n in old),
                                         []))
    check(r.returncode == 0, "plan: %s" % r.stderr)
    want = sorted("%s %s %s" % (a, route_owner(old, a), route_owner(new, a))
                  for a in accounts if route_owner(old, a) != route_owner(new, a))
    got = sorted(r.stdout.splitlines())
    check(got == want, "plan:\n%s\nwanted:\n%s" % ("\n".join(got), "\n".join(want)))
    check(want and all(l.endswith(" n3") for l in want), "only to the new node: %r" % want)
    check("%d of %d account(s) in 2 state file(s) would move" % (len(want), len(accounts))
          in r.stderr, r.stderr)
    # removing n2: exactly its accounts move
    r = route_cmd("--plan", "--node", "n1=127.0.0.1:1", "--state", "n1=" + states["n1"],
                  "--state", "n2=" + states["n2"])
    moved = sorted(l.split()[0] for l in r.stdout.splitlines())
    check(moved == sorted(a for a in accounts if route_owner(old, a) == "n2"),
          "removing n2 moves its accounts: %r" % moved)
    report("route --plan: %d of %d accounts would move, all to the new node, as the "
           "independent hash says; removing a node moves exactly its own" %
           (len(want), len(accounts)))

    # A node's file is never written, not even migrated: n1's made one schema
    # version older (version 9's Sent copies undone), as a node not yet
    # upgraded would have it.
    con = sqlite3.connect(states["n1"])
    latest = con.execute("SELECT version FROM schema_version").fetchone()[0]
    con.execute("DROP TABLE sent_copies")
    con.execute("ALTER TABLE devices DROP COLUMN n_sent")
    con.execute("UPDATE schema_version SET version = 8")
    con.commit()
    con.close()
    before = open(states["n1"], "rb").read()
    r = route_cmd("--plan", *nodes, *sum((["--state", "%s=%s" % (n, states[n])] for n in old),
                                         []))
    check(r.returncode == 0 and sorted(r.stdout.splitlines()) == want,
          "plan of an older file: %s %s" % (r.stdout, r.stderr))
    check(open(states["n1"], "rb").read() == before and latest > 8,
          "--plan wrote the node's state file")
    check(not os.path.exists(states["n1"] + "-wal") and not os.path.exists(states["n1"] + "-shm"),
          "--plan left files beside the node's state file")
    report("route --plan reads an older node's state file without migrating or writing it")

    bad = [
        (["--node", "a=127.0.0.1:1"], "--listen ADDR:PORT is required (or --plan)"),
        (["--plan", "--node", "a=127.0.0.1:1"], "--plan needs at least one --state NAME=FILE"),
        (["--plan", "--listen", "127.0.0.1:1", "--node", "a=127.0.0.1:1", "--state",
          "a=x"], "--listen serves; --plan only prints"),
        (["--listen", "127.0.0.1:1", "--node", "a=127.0.0.1:1", "--state", "a=x"],
         "--state is for --plan"),
        (["--plan", "--node", "a=127.0.0.1:1", "--state", "a=" + os.path.join(tmp, "no.db")],
         "no.db: No such file or directory"),
        (["--plan", "--node", "a=127.0.0.1:1", "--state", "a=x", "--state", "a=y"],
         "--state names node 'a' twice"),
        (["--listen", "localhost:1", "--node", "a=127.0.0.1:1"], "--listen"),
        (["--listen", "127.0.0.1:1"], "--node is required"),
    ]
    for args, msg in bad:
        r = route_cmd(*args)
        check(r.returncode != 0 and msg in r.stderr, "%r: %d %s" % (args, r.returncode, r.stderr))
    # a port in use
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        r = route_cmd("--listen", "127.0.0.1:%d" % s.getsockname()[1], "--node",
                      "a=127.0.0.1:1", "--check-interval", "1")
        check(r.returncode == 1 and "cannot listen" in r.stderr, r.stderr)
    report("route command-line mistakes are refused with a reason")


def main():
    with TempDir() as tmp:
        t0 = time.monotonic()
        test_routing_and_checks()
        test_plan(tmp)
        print("test_route: %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
