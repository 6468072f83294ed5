#!/usr/bin/env python3
"""tests/lib/tokend.py — an OAuth2 authorization server for tests (standard
library only), on loopback, with TLS from a private test CA.

What popbridge talks to (HTTPS, certificate of a CA made at start):
  POST /token   grant_type refresh_token | urn:ietf:params:oauth:grant-type:device_code
                | client_credentials (RFC 6749, RFC 8628); client_id and
                client_secret in the body or HTTP Basic; errors as RFC 6749 §5.2
                (invalid_grant, invalid_client, authorization_pending, slow_down,
                access_denied, expired_token)
  POST /device  the device authorization endpoint (RFC 8628 §3.1)
What Dovecot talks to (plain HTTP on loopback):
  POST /introspect   RFC 7662: token=... -> {"active": true, "username": ...}
What the test talks to (plain HTTP, POST /control with a JSON object, answer JSON):
  {"op": "client", "client_id", "secret" (null: public), "app_user" (for
      client_credentials: the mailbox its tokens open)}
  {"op": "issue", "user", "client_id"}          -> {"refresh_token"}: an existing grant
  {"op": "approve", "user_code", "user"} | {"op": "deny", "user_code"}
  {"op": "revoke", "user"}        every refresh and access token of user dies
  {"op": "expire_access"}         every access token dies (the upstream rejects it)
  {"op": "refuse_at", "introspection": [n, ...]}   the n-th introspections (counted
      as in stats) answer inactive and kill that token: a token revoked early,
      after one server took it and before the next does
  {"op": "set", "access_ttl", "rotate", "delay", "outage", "device_interval"}
      access_ttl: expires_in of new access tokens; rotate: every refresh issues a
      new refresh token and kills the old one; delay: seconds each /token call
      takes; outage: /token and /device answer 503
  {"op": "stats"}  -> {"grants": {grant_type: count}, "introspections": n,
      "refresh_tokens_used": [...] (in the order used), "refresh_tokens_issued": [...]
      (in the order issued), "access_tokens_issued": [...], "access_tokens": [...] (live),
      "refresh_tokens": [...] (live)}

Run as a program it prints one line
    HTTPS_PORT=N HTTP_PORT=N CA_FILE=PATH
and serves until its standard input closes (so it never outlives its test).
"""

import base64
import json
import os
import secrets
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY_MAX = 64 * 1024
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def make_ca(directory):
    """A private CA and a server certificate for 127.0.0.1 signed by it:
    (ca_cert, server_cert, server_key)."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ca_key = os.path.join(directory, "ca.key")
    ca = os.path.join(directory, "ca.crt")
    key = os.path.join(directory, "tokend.key")
    csr = os.path.join(directory, "tokend.csr")
    crt = os.path.join(directory, "tokend.crt")
    ext = os.path.join(directory, "tokend.ext")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=popbridge test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return ca, crt, key


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.clients = {}        # id -> {"secret": str|None, "app_user": str|None}
        self.refresh = {}        # token -> {"user", "client_id", "scope"}
        self.access = {}         # token -> {"user", "exp", "client_id", "scope"}
        self.devices = {}        # device_code -> {...}
        self.grants = {}         # grant_type -> count
        self.introspections = 0
        self.refuse_at = set()
        self.refresh_used = []
        self.refresh_issued = []
        self.access_issued = []
        self.access_ttl = 3600
        self.rotate = False
        self.delay = 0.0
        self.outage = False
        self.device_interval = 1

    def count(self, grant):
        self.grants[grant] = self.grants.get(grant, 0) + 1

    def new_access(self, user, client_id, scope):
        tok = "at-" + secrets.token_urlsafe(24)
        self.access_issued.append(tok)
        self.access[tok] = {"user": user, "client_id": client_id, "scope": scope,
                            "exp": time.time() + self.access_ttl}
        return tok

    def new_refresh(self, user, client_id, scope):
        tok = "rt-" + secrets.token_urlsafe(24)
        self.refresh[tok] = {"user": user, "client_id": client_id, "scope": scope}
        self.refresh_issued.append(tok)
        return tok

    def token_answer(self, user, client_id, scope, refresh=None):
        out = {"access_token": self.new_access(user, client_id, scope),
               "token_type": "Bearer", "expires_in": self.access_ttl}
        if scope:
            out["scope"] = scope
        if refresh:
            out["refresh_token"] = refresh
        return out


class Handler(BaseHTTPRequestHandler):
    server_version = "tokend/1"

    def log_message(self, fmt, *args):   # quiet
        pass

    def answer(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, code, err, desc=None):
        obj = {"error": err}
        if desc:
            obj["error_description"] = desc
        self.answer(code, obj)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n)

    def form(self):
        raw = self.body().decode()
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            raise ValueError("not a form: %r" % ctype)
        f = {}
        for k, v in urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True):
            if k in f:
                raise ValueError("parameter %s twice" % k)
            f[k] = v
        return f

    def do_GET(self):
        self.error(405, "invalid_request", "POST only")

    def do_POST(self):
        st = self.server.state
        path = urllib.parse.urlsplit(self.path).path
        try:
            if self.server.secure and path == "/token":
                return self.token(st)
            if self.server.secure and path == "/device":
                return self.device(st)
            if not self.server.secure and path == "/introspect":
                return self.introspect(st)
            if not self.server.secure and path == "/control":
                return self.control(st)
        except ValueError as e:
            return self.error(400, "invalid_request", str(e))
        self.error(404, "invalid_request", "no such endpoint")

    # -- the authorization server -------------------------------------------

    def client(self, st, f):
        """The authenticated client id, or None after answering an error."""
        cid, secret = f.get("client_id"), f.get("client_secret")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            cid, secret = urllib.parse.unquote_plus(u), urllib.parse.unquote_plus(p)
        c = st.clients.get(cid)
        if c is None or (c["secret"] is not None and secret != c["secret"]):
            self.error(401, "invalid_client", "unknown client or wrong secret")
            return None
        return cid

    def token(self, st):
        f = self.form()
        if st.delay:
            time.sleep(st.delay)
        with st.lock:
            if st.outage:
                return self.error(503, "temporarily_unavailable", "outage switch")
            grant = f.get("grant_type", "")
            st.count(grant)
            cid = self.client(st, f)
            if cid is None:
                return
            if grant == "refresh_token":
                rt = f.get("refresh_token", "")
                st.refresh_used.append(rt)
                g = st.refresh.get(rt)
                if g is None or g["client_id"] != cid:
                    return self.error(400, "invalid_grant", "refresh token revoked or unknown")
                new_rt = None
                if st.rotate:
                    del st.refresh[rt]
                    new_rt = st.new_refresh(g["user"], cid, g["scope"])
                return self.answer(200, st.token_answer(g["user"], cid, g["scope"], new_rt))
            if grant == DEVICE_GRANT:
                d = st.devices.get(f.get("device_code", ""))
                if d is None or d["client_id"] != cid:
                    return self.error(400, "invalid_grant", "unknown device code")
                now = time.time()
                if now > d["expires"]:
                    return self.error(400, "expired_token")
                if d["denied"]:
                    return self.error(400, "access_denied")
                too_soon = now - d["last_poll"] < d["interval"] - 0.2
                d["last_poll"] = now
                d["polls"] += 1
                if too_soon:
                    d["interval"] += 5
                    return self.error(400, "slow_down")
                if d["user"] is None:
                    return self.error(400, "authorization_pending")
                del st.devices[f["device_code"]]
                rt = st.new_refresh(d["user"], cid, d["scope"])
                return self.answer(200, st.token_answer(d["user"], cid, d["scope"], rt))
            if grant == "client_credentials":
                c = st.clients[cid]
                if c["secret"] is None or not c["app_user"]:
                    return self.error(400, "unauthorized_client", "not a confidential app")
                return self.answer(200, st.token_answer(c["app_user"], cid, f.get("scope")))
            return self.error(400, "unsupported_grant_type")

    def device(self, st):
        f = self.form()
        with st.lock:
            if st.outage:
                return self.error(503, "temporarily_unavailable", "outage switch")
            cid = self.client(st, f)
            if cid is None:
                return
            code = "dc-" + secrets.token_urlsafe(24)
            user_code = "%04d-%04d" % (secrets.randbelow(10000), secrets.randbelow(10000))
            st.devices[code] = {"user_code": user_code, "client_id": cid,
                                "scope": f.get("scope"), "user": None, "denied": False,
                                "expires": time.time() + 600, "interval": st.device_interval,
                                "last_poll": 0.0, "polls": 0}
            uri = "https://127.0.0.1:%d/activate" % self.server.server_address[1]
            self.answer(200, {"device_code": code, "user_code": user_code,
                              "verification_uri": uri,
                              "verification_uri_complete": uri + "?code=" + user_code,
                              "expires_in": 600, "interval": st.device_interval})

    # -- what Dovecot and the test ask ------------------------------------------

    def introspect(self, st):
        f = self.form()
        with st.lock:
            st.introspections += 1
            a = st.access.get(f.get("token", ""))
            if a is not None and st.introspections in st.refuse_at:
                del st.access[f["token"]]
                a = None
            if a is None or time.time() > a["exp"]:
                return self.answer(200, {"active": False})
            self.answer(200, {"active": True, "username": a["user"], "client_id": a["client_id"],
                              "scope": a["scope"] or "", "exp": int(a["exp"]),
                              "token_type": "Bearer"})

    def control(self, st):
        req = json.loads(self.body() or b"{}")
        op = req.get("op")
        with st.lock:
            if op == "client":
                st.clients[req["client_id"]] = {"secret": req.get("secret"),
                                                "app_user": req.get("app_user")}
                return self.answer(200, {})
            if op == "issue":
                return self.answer(200, {"refresh_token": st.new_refresh(
                    req["user"], req["client_id"], req.get("scope"))})
            if op in ("approve", "deny"):
                for d in st.devices.values():
                    if d["user_code"] == req["user_code"]:
                        if op == "approve":
                            d["user"] = req["user"]
                        else:
                            d["denied"] = True
                        return self.answer(200, {"polls": d["polls"]})
                return self.answer(404, {"error": "no such user code"})
            if op == "revoke":
                for table in (st.refresh, st.access):
                    for t in [t for t, g in table.items() if g["user"] == req["user"]]:
                        del table[t]
                return self.answer(200, {})
            if op == "expire_access":
                st.access.clear()
                return self.answer(200, {})
            if op == "refuse_at":
                st.refuse_at = set(int(n) for n in req["introspection"])
                return self.answer(200, {})
            if op == "set":
                for k in ("access_ttl", "rotate", "delay", "outage", "device_interval"):
                    if k in req:
                        setattr(st, k, req[k])
                return self.answer(200, {})
            if op == "stats":
                return self.answer(200, {"grants": dict(st.grants),
                                         "introspections": st.introspections,
                                         "refresh_tokens_used": list(st.refresh_used),
                                         "refresh_tokens_issued": list(st.refresh_issued),
                                         "access_tokens_issued": list(st.access_issued),
                                         "access_tokens": list(st.access),
                                         "refresh_tokens": list(st.refresh)})
        self.answer(400, {"error": "unknown op %r" % op})


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state, secure, context=None):
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state
        self.secure = secure
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request, client_address):   # a client gone mid-request
        pass


class TokenService:
    """Both listeners in threads of this process: https_port, http_port, ca_file;
    control(op=..., ...) sends a control request."""

    def __init__(self, directory=None):
        self._own = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="tokend.")
        self.ca_file, crt, key = make_ca(self.dir)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(crt, key)
        self.state = State()
        self.https = Server(self.state, True, ctx)
        self.http = Server(self.state, False)
        self.https_port = self.https.server_address[1]
        self.http_port = self.http.server_address[1]
        self.base = "https://127.0.0.1:%d" % self.https_port
        self.introspection_url = "http://127.0.0.1:%d/introspect" % self.http_port
        for s in (self.https, self.http):
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def control(self, **req):
        import urllib.request
        r = urllib.request.Request("http://127.0.0.1:%d/control" % self.http_port,
                                   data=json.dumps(req).encode(), method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(r, timeout=30) as resp:
            return json.loads(resp.read())

    def stop(self):
        for s in (self.https, self.http):
            s.shutdown()
            s.server_close()
        if self._own:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def main():
    svc = TokenService()
    print("HTTPS_PORT=%d HTTP_PORT=%d CA_FILE=%s" % (svc.https_port, svc.http_port,
                                                      svc.ca_file), flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        svc.stop()


if __name__ == "__main__":
    main()
