#!/usr/bin/env python3
"""Pipelined retrieval and read-ahead (SPEC §9) through `popbridge serve` in
front of Dovecot, behind the delay relay (tests/lib/delayrelay.py, 10 ms each
way), so that upstream answers are really in flight while the client is
served. Correctness only; no timing is judged.

- Transcripts: the same mixed command list (out-of-order RETRs, TOP, DELE,
  RETR of the deleted message, LIST, RETR of a message expunged upstream
  during the session, STAT, QUIT) sent one command at a time to one user
  and all at once to another with identical mail: the replies are byte for
  byte the same; afterwards exactly the retrieved messages are \\Seen
  upstream (TOP and refused RETRs mark nothing).
- A client that pipelines every RETR and disconnects in the middle of the
  second message: the next session of the device works and gets intact
  mail, and no message after the ones popbridge finished writing (into the
  socket buffers) is \\Seen.
- mpop (pipelining) and fetchmail (sequential) get every message intact.
- A server that answers NO to the \\Seen store (a proxy in front of Dovecot
  refuses it): the mail is delivered, each failure is logged with the
  server's text, nothing is lost silently.
"""
import imaplib
import os
import re
import socket
import stat
import sys
import threading
import time

SRC = os.environ.get("POPBRIDGE_SRC", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "lib"))

from pbinterop import PW, Dovecot, Popbridge, TempDir, check, normalise, report  # noqa: E402
from pbinterop import upstream_messages  # noqa: E402
from delayrelay import Relay  # noqa: E402
import test_fetchmail as fm  # noqa: E402
import test_mpop as mp  # noqa: E402

SCRIPT = ["RETR 3", "RETR 1", "TOP 2 0", "DELE 1", "RETR 1", "LIST", "RETR 5", "TOP 4 3",
          "RETR 2", "LIST 1", "RETR 6", "NOOP", "RETR 7", "STAT", "QUIT"]
RETRIEVED = (2, 3, 6, 7)        # message numbers whose RETR succeeds (1 is deleted)
NOT_SEEN = (4, 8)
EXPUNGED = 5


class _Upstream:
    def __init__(self, port):
        self.imap_port = port


class Client:
    def __init__(self, port, user, in_use_retries=0):
        for attempt in range(in_use_retries + 1):
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
            self.buf = b""
            self.line()                                  # greeting
            self.send("USER " + user)
            check(self.line().startswith(b"+OK"), "USER refused")
            self.send("PASS " + PW)
            r = self.line()
            if b"[IN-USE]" in r and attempt < in_use_retries:
                self.close()
                time.sleep(0.1)
                continue
            check(r.startswith(b"+OK"), "PASS: %r" % r)
            return

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def more(self):
        d = self.sock.recv(1 << 16)
        if not d:
            return False
        self.buf += d
        return True

    def line(self):
        while b"\r\n" not in self.buf:
            check(self.more(), "connection closed")
        i = self.buf.index(b"\r\n") + 2
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def reply(self, cmd):
        """One reply, multi-line where the command makes it so."""
        first = self.line()
        words = cmd.split()
        multi = first.startswith(b"+OK") and (words[0] in ("RETR", "TOP") or
                                              (words[0] in ("LIST", "UIDL") and len(words) == 1))
        out = [first]
        while multi:
            ln = self.line()
            out.append(ln)
            if ln == b".\r\n":
                break
        return b"".join(out)

    def rest(self):
        while self.more():
            pass
        return self.buf

    def close(self):
        self.sock.close()


def unstuff(reply):
    """The message of a RETR reply: after the +OK line, before ".CRLF",
    dot-stuffing undone."""
    body = reply[reply.index(b"\r\n") + 2:-3]
    return re.sub(rb"(^|\r\n)\.", rb"\1", body)


def imap(dc, user):
    m = imaplib.IMAP4("127.0.0.1", dc.imap_port)
    m.login(user, PW)
    m.select("INBOX")
    return m


def uids(m):
    return [int(x) for x in m.uid("SEARCH", None, "ALL")[1][0].split()]


def seen_uids(m):
    return set(int(x) for x in m.uid("SEARCH", None, "SEEN")[1][0].split())


def expunge_nth(dc, user, n):
    m = imap(dc, user)
    u = uids(m)[n - 1]
    m.uid("STORE", str(u), "+FLAGS.SILENT", "(\\Deleted)")
    m.expunge()
    m.logout()


def transcript(dc, pb, user, pipelined):
    c = Client(pb.port, user + "#t")
    before = uids(imap(dc, user))
    expunge_nth(dc, user, EXPUNGED)      # after login: the session still lists it
    if pipelined:
        c.send("\r\n".join(SCRIPT))
        out = c.rest()
    else:
        parts = []
        for cmd in SCRIPT:
            c.send(cmd)
            parts.append(c.reply(cmd))
            if os.environ.get("PBT_VERBOSE"):
                sys.stderr.write("%s -> %r\n" % (cmd, parts[-1][:100]))
        out = b"".join(parts) + c.rest()
    c.close()
    m = imap(dc, user)
    seen = seen_uids(m)
    m.logout()
    for n in RETRIEVED:
        check(before[n - 1] in seen, "%s: message %d retrieved but not \\Seen" % (user, n))
    for n in NOT_SEEN:
        check(before[n - 1] not in seen, "%s: message %d \\Seen without a RETR" % (user, n))
    return out


def test_transcripts(dc, pb):
    # identical mail for both: u1's messages appended to u2's INBOX
    m = imap(dc, "u2")
    for _, body in upstream_messages(dc, "u1", PW):
        typ, _ = m.append("INBOX", None, None, body)
        check(typ == "OK", "APPEND to u2: %s" % typ)
    m.logout()
    plain = transcript(dc, pb, "u1", False)
    piped = transcript(dc, pb, "u2", True)
    check(plain.count(b"-ERR") == 3, "unpipelined: want 3 -ERR (RETR and LIST of a deleted, RETR of an "
          "expunged message), got:\n%s" % plain.decode("latin-1")[:3000])
    if plain != piped:
        i = next(k for k in range(min(len(plain), len(piped))) if plain[k] != piped[k])
        check(False, "pipelined transcript differs at octet %d:\nunpipelined: %r\npipelined:  %r"
              % (i, plain[max(0, i - 80):i + 80], piped[max(0, i - 80):i + 80]))
    report("pipelined and unpipelined sessions give the same %d octets of replies; "
           "\\Seen exactly on the retrieved messages" % len(plain))


def test_disconnect(dc, pb):
    user = "u3"
    up = upstream_messages(dc, user, PW)
    all_uids = [u for u, _ in up]
    c = Client(pb.port, user + "#t")
    c.send("\r\n".join("RETR %d" % i for i in range(1, len(up) + 1)))
    first = c.reply("RETR 1")
    check(first.startswith(b"+OK"), "RETR 1: %r" % first[:80])
    while len(c.buf) < 1000:
        check(c.more(), "closed early")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()                                   # RST in the middle of RETR 2
    # The next session of the device: the old one may still be ending.
    c = Client(pb.port, user + "#t", in_use_retries=100)
    c.send("STAT")
    r = c.line()
    check(r.startswith(b"+OK %d " % len(up)), "next session STAT: %r" % r)
    for n in (1, 2, len(up)):
        c.send("RETR %d" % n)
        got = c.reply("RETR %d" % n)
        check(unstuff(got) == normalise(up[n - 1][1]), "next session: RETR %d not intact" % n)
    c.send("QUIT")
    c.line()
    c.close()
    # Nothing \Seen that was not written to the client: the first session
    # wrote what the socket buffers took (a few messages of 3 MB at most),
    # in order; the second retrieved 1, 2 and the last. So the others that
    # are \Seen are messages 3, 4, ... without a gap, and few.
    m = imap(dc, user)
    seen = seen_uids(m)
    m.logout()
    firsts = sorted(all_uids.index(u) for u in seen - {all_uids[0], all_uids[1], all_uids[-1]})
    check(firsts == list(range(2, 2 + len(firsts))) and len(firsts) <= 4,
          "messages \\Seen that the client never got: %s" % [i + 1 for i in firsts])
    report("a client gone during read-ahead: the next session works, mail intact, "
           "nothing \\Seen beyond what was written")


def test_clients(dc, pb, tmp):
    up = upstream_messages(dc, "u4", PW)
    deliver = os.path.join(tmp, "deliver.sh")
    with open(deliver, "w") as f:
        f.write(fm.DELIVER)
    os.chmod(deliver, stat.S_IRWXU)
    fm.mode(tmp, pb, "fetchmail", "u4#fm", True, up)
    md = os.path.join(tmp, "maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    cfg = os.path.join(tmp, "mpoprc")
    mp.write_config(cfg, pb.port, [
        {"name": "keep", "user": "u4#mpop", "opts": [
            ("tls", "off"), ("keep", "on"), ("uidls_file", os.path.join(tmp, "uidls")),
            ("delivery", "maildir " + md)]}])
    mp.mpop(cfg, "keep")
    mp.ends_with_each(mp.maildir_messages(md), up, "mpop through the relay")
    report("fetchmail (sequential) and mpop (pipelining) get %d messages intact through "
           "the relay" % len(up))


class LoopbackProxy:
    """Listens on a loopback port and connects each client to 127.0.0.1:port;
    serve(c, u) handles the pair (a thread of its own per connection)."""

    def __init__(self, port):
        self.target = port
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            self.serve(c, socket.create_connection(("127.0.0.1", self.target)))

    def close(self):
        self.lsock.close()


class RefusingProxy(LoopbackProxy):
    """Forwards IMAP to Dovecot, but answers every UID STORE of \\Seen itself
    with a tagged NO (whole responses only, so the NO can come before the
    answers of commands sent earlier, as a real server's may)."""

    STORE = re.compile(rb"^(\S+) UID STORE \d+ \+FLAGS\.SILENT \(\\Seen\)\r\n$")

    def __init__(self, port):
        self.refused = 0
        super().__init__(port)

    def serve(self, c, u):
        lock = threading.Lock()
        threading.Thread(target=self._up, args=(c, u, lock), daemon=True).start()
        threading.Thread(target=self._down, args=(c, u, lock), daemon=True).start()

    def _up(self, c, u, lock):
        f = c.makefile("rb")
        try:
            for line in f:
                m = self.STORE.match(line)
                if m:
                    self.refused += 1
                    with lock:
                        c.sendall(m.group(1) + b" NO [SERVERBUG] refused by the test proxy\r\n")
                else:
                    u.sendall(line)
        except OSError:
            pass
        for sock in (u, c):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _down(self, c, u, lock):
        buf, pos = b"", 0
        lit = re.compile(rb"\{(\d+)\+?\}\r\n$")
        try:
            while True:
                d = u.recv(1 << 16)
                if not d:
                    break
                buf += d
                while True:
                    eol = buf.find(b"\r\n", pos)
                    if eol < 0:
                        break
                    m = lit.search(buf, pos, eol + 2)
                    if m and m.end() == eol + 2:
                        need = eol + 2 + int(m.group(1))
                        if len(buf) < need:
                            break
                        pos = need
                        continue
                    with lock:
                        c.sendall(buf[:eol + 2])
                    buf, pos = buf[eol + 2:], 0
        except OSError:
            pass
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def test_seen_refused(dc):
    user = "u5"
    up = upstream_messages(dc, user, PW)
    proxy = RefusingProxy(dc.imap_port)
    with Popbridge(_Upstream(proxy.port)) as pb:
        c = Client(pb.port, user + "#t")
        c.send("\r\n".join("RETR %d" % i for i in range(1, len(up) + 1)))
        for i in range(1, len(up) + 1):
            got = c.reply("RETR %d" % i)
            check(unstuff(got) == normalise(up[i - 1][1]),
                  "RETR %d not intact behind the refusing server" % i)
        c.send("QUIT")
        check(c.line().startswith(b"+OK"), "QUIT")
        c.close()
        pb.wait_log("event=session", 30)
        warn = [ln for ln in pb.log_lines() if "event=seen" in ln and "level=warn" in ln]
    proxy.close()
    check(proxy.refused == len(up), "the proxy refused %d stores, want %d" % (proxy.refused,
                                                                            len(up)))
    check(len(warn) == len(up) and all("refused by the test proxy" in w for w in warn),
          "want one warning per refused store, got: %s" % warn)
    m = imap(dc, user)
    check(not seen_uids(m), "messages \\Seen although every store was refused")
    m.logout()
    report("a \\Seen store refused by the server: mail delivered, %d failures logged"
           % len(warn))


def main():
    users = {"u1": PW, "u2": PW, "u3": PW, "u4": PW, "u5": PW}
    fill = ["u1:INBOX:awkward:8", "u3:INBOX:large:12:3000000",
            "u4:INBOX:awkward:12", "u4:INBOX:large:30:30000", "u5:INBOX:awkward:5"]
    with TempDir() as tmp, Dovecot(users=users, fill=fill) as dc, \
            Relay(dc.imap_port, 10) as relay, \
            Popbridge(_Upstream(relay.port), args=["--log-level", "debug"]) as pb:
        test_transcripts(dc, pb)
        test_disconnect(dc, pb)
        test_clients(dc, pb, tmp)
        test_seen_refused(dc)
        check(pb.proc.poll() is None, "popbridge exited")
        # only the session cut off by its client may leave a store unconfirmed
        warn = [ln for ln in pb.log_lines() if "level=warn" in ln and "seen" in ln and
                "account u3 " not in ln]
        check(not warn, "\\Seen failures logged: %s" % warn[:3])


if __name__ == "__main__":
    main()
