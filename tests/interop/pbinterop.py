"""tests/interop/pbinterop.py — shared helpers for the interoperability tests.

Starts `popbridge serve` ($POPBRIDGE_BIN) in front of a private Dovecot
(tests/lib/pbtest.py), on free loopback ports, with a temporary state file:

    with Dovecot(users={"alice": "pw"}, fill=["alice:INBOX:awkward:8"]) as dc, \
         Popbridge(dc) as pb:
        pop = poplib.POP3("127.0.0.1", pb.port)

Popbridge collects popbridge's stderr (its log) in pb.log_lines() and
waits for the `event=ready` line before returning. Every process and
temporary directory is removed on exit, also when a test fails.
"""

import atexit
import imaplib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ.get("POPBRIDGE_SRC", "."), "tests", "lib"))
from pbtest import Dovecot  # noqa: E402,F401  (re-exported for the tests)

READY_TIMEOUT = 30
PW = "Pw-4fG7.zq"   # distinctive, so a test can look for it in logs
STOP_TIMEOUT = 90

_live = []   # popbridge processes still running, killed at exit


def _kill_leftovers():
    for p in list(_live):
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_leftovers)
for _sig in (signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda s, f: sys.exit(128 + s))


def fail(msg):
    raise AssertionError(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def free_port():
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def popbridge_bin():
    b = os.environ.get("POPBRIDGE_BIN")
    if not b:
        fail("set POPBRIDGE_BIN (make check-interop does)")
    return b


def make_cert(directory, name="pop"):
    """A self-signed certificate for 127.0.0.1/localhost: (cert, key)."""
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return cert, key


class TempDir:
    def __init__(self, prefix="pbinterop."):
        self.path = tempfile.mkdtemp(prefix=prefix)
        atexit.register(self.remove)

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        self.remove()
        return False


class Popbridge:
    """`popbridge serve` in front of Dovecot dc: plaintext IMAP on loopback, or
    upstream_tls "starttls" / "implicit" verified with Dovecot's certificate
    (or with the PEM bundle upstream_ca)."""

    def __init__(self, dc, args=(), tmp=None, env=None, port=None, tls_port=None,
                 state=None, wait_ready=True, extra_listen=(), upstream_tls="none",
                 upstream_ca=None):
        self.dc = dc
        self._own_tmp = None
        if tmp is None:
            self._own_tmp = TempDir("pbserve.")
            tmp = self._own_tmp.path
        self.tmp = tmp
        self.port = port or free_port()
        self.tls_port = tls_port
        self.state = state or os.path.join(tmp, "state.db")
        if upstream_tls == "implicit":
            up = ["--upstream", "imaps://127.0.0.1:%d" % dc.imaps_port]
        else:
            up = ["--upstream", "imap://127.0.0.1:%d" % dc.imap_port,
                  "--upstream-tls", upstream_tls]
        if upstream_tls != "none":
            up += ["--upstream-ca", upstream_ca or dc.ca_file]
        self.argv = [popbridge_bin(), "serve"] + up + [
                     "--listen", "127.0.0.1:%d" % self.port,
                     "--state", self.state]
        if "--log-level" not in args:
            self.argv += ["--log-level", "info"]
        for a in extra_listen:
            self.argv += ["--listen", a]
        if tls_port:
            self.argv += ["--listen-tls", "127.0.0.1:%d" % tls_port]
        self.argv += list(args)
        self._start(env, wait_ready)

    def _start(self, env, wait_ready):
        """Run self.argv, collecting its stderr; wait for event=ready."""
        e = dict(os.environ)
        e.update(env or {})
        self._lines = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     env=e)
        _live.append(self.proc)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait_ready:
            self.wait_log("event=ready", READY_TIMEOUT)

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if os.environ.get("PBINTEROP_VERBOSE"):
                sys.stderr.write("popbridge: %s\n" % line)
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._lines.append(None)   # EOF marker
            self._cond.notify_all()

    def log_lines(self):
        with self._cond:
            return [l for l in self._lines if l is not None]

    def wait_log(self, needle, timeout=READY_TIMEOUT, count=1):
        """Wait until `count` log lines contain needle; return the last one."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                hits = [l for l in self._lines if l is not None and needle in l]
                if len(hits) >= count:
                    return hits[count - 1]
                if None in self._lines:
                    fail("popbridge exited (rc %s) before logging %r; log:\n%s" %
                         (self.proc.poll(), needle, "\n".join(self.log_lines())))
                left = end - time.monotonic()
                if left <= 0:
                    fail("no log line with %r within %ss; log:\n%s" %
                         (needle, timeout, "\n".join(self.log_lines())))
                self._cond.wait(left)

    def session_lines(self):
        return [l for l in self.log_lines() if " event=session " in l]

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("popbridge did not exit within %ss of SIGTERM" % timeout)
        self._reader.join(10)
        if self.proc in _live:
            _live.remove(self.proc)
        self.check_sanitizers()
        return rc

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for popbridge to exit by itself; its exit status."""
        rc = self.proc.wait(timeout)
        self._reader.join(10)
        if self.proc in _live:
            _live.remove(self.proc)
        self.check_sanitizers()
        return rc

    def check_sanitizers(self):
        """Under `make sanitize` the binary reports to stderr (our log)."""
        bad = [l for l in self.log_lines()
               if "Sanitizer" in l or "runtime error:" in l]
        check(not bad, "popbridge: sanitizer report:\n%s" % "\n".join(self.log_lines()))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self._reader.join(10)
        if self.proc in _live:
            _live.remove(self.proc)

    def close(self):
        if self.proc.poll() is None:
            self.stop()
        if self._own_tmp:
            self._own_tmp.remove()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc in _live:
            _live.remove(self.proc)
        if self._own_tmp:
            self._own_tmp.remove()
        return False


class Route(Popbridge):
    """`popbridge route --listen 127.0.0.1:PORT --node SPEC ...` (SPEC §14),
    with the same log handling as Popbridge."""

    def __init__(self, nodes, args=(), port=None, wait_ready=True, env=None):
        self.dc = None
        self._own_tmp = None
        self.port = port or free_port()
        self.argv = [popbridge_bin(), "route", "--listen", "127.0.0.1:%d" % self.port]
        for n in nodes:
            self.argv += ["--node", n]
        self.argv += list(args)
        self._start(env, wait_ready)

    def auth(self, user, protocol="pop3", password="secret", client="192.0.2.10"):
        """One auth_http request as nginx 1.22 sends it (HTTP/1.0, its header
        names, Auth-User and Auth-Pass percent-encoded); (status, {header:
        value}) of the answer."""
        import urllib.parse
        req = ("GET /auth HTTP/1.0\r\nHost: 127.0.0.1\r\nAuth-Method: plain\r\n"
               "Auth-User: %s\r\nAuth-Pass: %s\r\nAuth-Protocol: %s\r\n"
               "Auth-Login-Attempt: 1\r\nClient-IP: %s\r\n\r\n" %
               (urllib.parse.quote(user, safe="#@"), urllib.parse.quote(password),
                protocol, client))
        return self.raw(req.encode())

    def raw(self, request):
        """Send request bytes, read the whole answer: (status, {header: value})."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name] = value.strip()
        return status, headers

    def get(self, path):
        """(status, body text) of GET path."""
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("GET", path)
            r = c.getresponse()
            return r.status, r.read().decode()
        finally:
            c.close()

    def metrics(self):
        """{"name{labels}": value} of GET /metrics."""
        status, body = self.get("/metrics")
        check(status == 200, "/metrics: %d" % status)
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = int(v)
        return out


def route_owner(names, user, sep="#"):
    """The node of names that holds user's account, computed independently
    of popbridge: rendezvous hashing as docs/FLEET.md defines it (the first 8
    octets of SHA-256(NAME NUL KEY), big-endian; KEY the user name before
    sep, ASCII lower case; the highest weight wins, ties to the name that
    sorts first)."""
    import hashlib
    raw = user.encode()
    if sep:
        raw = raw.split(sep.encode(), 1)[0]
    key = bytes(c + 32 if 65 <= c <= 90 else c for c in raw)   # ASCII only

    def weight(n):
        return int.from_bytes(hashlib.sha256(n.encode() + b"\0" + key).digest()[:8], "big")
    return sorted(names, key=lambda n: (-weight(n), n))[0]


def upstream_messages(dc, user, password, folder="INBOX"):
    """[(uid, bytes)] of the folder, in UID order, straight from Dovecot."""
    m = imaplib.IMAP4("127.0.0.1", dc.imap_port)
    try:
        m.login(user, password)
        m.select(folder, readonly=True)
        typ, data = m.uid("SEARCH", None, "ALL")
        uids = [int(x) for x in data[0].split()]
        out = []
        for uid in uids:
            typ, d = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
            body = [x for x in d if isinstance(x, tuple)][0][1]
            out.append((uid, body))
        return out
    finally:
        m.logout()


def normalise(msg):
    """What RETR must send (before dot-stuffing): CRLF line ends and a final
    CRLF (SPEC §4, pop3/maildrop.h)."""
    msg = msg.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    return msg


def run(argv, timeout=120, **kw):
    """Run a client; return CompletedProcess (stdout/stderr as text)."""
    return subprocess.run(argv, stdin=kw.pop("stdin", subprocess.DEVNULL),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, text=True, **kw)


def enter_namespace(unshare_flags, mark, script):
    """Re-run script in private namespaces (`unshare` with unshare_flags,
    root only): True when already inside (the environment variable mark is
    set), False when that cannot be done; otherwise exits with the child's
    status. A child exiting 97 was refused inside (skipped there): False."""
    if os.environ.get(mark) == "1":
        return True
    if os.geteuid() != 0:
        return False
    env = dict(os.environ)
    env[mark] = "1"
    unshare = ["unshare"] + list(unshare_flags)
    try:
        if subprocess.run(unshare + ["true"], stderr=subprocess.DEVNULL).returncode != 0:
            return False
        r = subprocess.run(unshare + [sys.executable, os.path.abspath(script)], env=env)
    except OSError:
        return False
    if r.returncode == 97:
        return False
    sys.exit(r.returncode)


def report(name):
    print("ok %s" % name, flush=True)


def pop3_login(pb, user, password=PW, timeout=60):
    """A poplib session of user logged in to popbridge pb."""
    import poplib
    p = poplib.POP3("127.0.0.1", pb.port, timeout=timeout)
    p.user(user)
    p.pass_(password)
    return p


def pop3_uidls(p):
    """The UIDLs a poplib session is offered, in message order."""
    _, lines, _ = p.uidl()
    return [l.split()[1].decode() for l in lines]


def peak_rss_kib(pid):
    """A process's peak resident set (VmHWM), KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def state_integrity_check(path):
    """PRAGMA integrity_check of a state file (read-only); fails unless ok."""
    import sqlite3
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
    try:
        r = c.execute("PRAGMA integrity_check").fetchall()
    finally:
        c.close()
    check(r == [("ok",)], "%s: integrity_check: %r" % (path, r))
