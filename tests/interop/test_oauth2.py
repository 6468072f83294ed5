#!/usr/bin/env python3
"""OAuth2 upstream accounts end to end (SPEC §10), on loopback: tokend.py (the
test tree's own authorization server: TLS from a private CA, refresh-token,
device-code and client-credentials grants, rotation, revocation, an outage
switch, introspection), a private Dovecot whose oauth2 passdb checks every
token at tokend's introspection endpoint, `popbridge account add --oauth2`,
`account oauth2-login`, and `popbridge serve --auth managed` (STARTTLS
upstream; --upstream-ca is a bundle of Dovecot's certificate and the test CA:
the token endpoint is verified like the upstream) driven by Python's poplib.

- a device of an OAuth2 account logs in and retrieves its mail byte for byte
  (AUTHENTICATE OAUTHBEARER, seen in Dovecot's log);
- an access token about to expire is refreshed once at the next login, and with
  rotation each new refresh token is the one used at the next refresh;
- a token the upstream refuses is refreshed once and the login goes through;
- six devices logging in together after expiry cause one refresh;
- a revoked grant: -ERR [SYS/PERM], an error log line naming `popbridge account
  oauth2-login ACCOUNT`, account list / report show it failing; oauth2-login
  with a new refresh token mends it;
- the token endpoint in an outage: -ERR [SYS/TEMP], then recovery;
- the device-code flow of `account add` and of `oauth2-login` end to end (URL
  and code printed, the code approved or denied at the server);
- the client-credentials grant; set-password turns the account back to a
  password;
- a server offering only XOAUTH2 gets AUTHENTICATE XOAUTH2;
- import-uidls logs in with an OAuth2 account's token;
- no token or client secret in plaintext in the state file (and its WAL), the
  key file or popbridge's log.
"""
import json
import os
import poplib
import subprocess
import sys
import threading
import time

from pbinterop import (Dovecot, Popbridge, TempDir, check, normalise, popbridge_bin, report,
                       upstream_messages)

sys.path.insert(0, os.path.join(os.environ.get("POPBRIDGE_SRC", "."), "tests", "lib"))
from tokend import TokenService  # noqa: E402

CAROL = "carol@example.org"
SECRET = "client-secret-Zq81xP"   # distinctive: looked for in the files
TTL_SOON = 63                       # seconds: due for refresh 3 s after issue
poplib._MAXLINE = 1 << 20


def cli(state, *args, expect=0, stdin_text=""):
    r = subprocess.run([popbridge_bin()] + list(args) + ["--state", state], input=stdin_text,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    check(r.returncode == expect, "popbridge %s: exit %d (wanted %d)\nstdout:%s\nstderr:%s"
          % (" ".join(args), r.returncode, expect, r.stdout, r.stderr))
    no_sanitizer_report(r.stderr)
    return r


def no_sanitizer_report(stderr):
    check("Sanitizer" not in stderr and "runtime error:" not in stderr,
          "sanitizer report:\n%s" % stderr)


def device_add(state, account, device):
    pw = cli(state, "device", "add", account, device).stdout.rstrip("\n").split("\n")[-1]
    check(len(pw) == 20 and pw.isdigit(), "device add's last line is %r" % pw)
    return pw


def login(pb, user, password):
    p = poplib.POP3("127.0.0.1", pb.port, timeout=90)
    p.user(user)
    p.pass_(password)
    return p


def refusal(pb, user, password):
    """The -ERR text of a login that must fail."""
    try:
        p = login(pb, user, password)
    except poplib.error_proto as e:
        return e.args[0].decode("utf-8", "replace")
    p.quit()
    raise AssertionError("the login of %s went through" % user)


def grants(ts, kind="refresh_token"):
    return ts.control(op="stats")["grants"].get(kind, 0)


def dovecot_logins(dc, user):
    """The SASL mechanisms of user's logins but PLAIN (the test's own), from
    Dovecot's log."""
    with open(os.path.join(dc.dir, "log", "dovecot.log"), errors="replace") as f:
        mechs = [line.split("method=")[1].split(",")[0] for line in f
                 if "Login: user=<%s>," % user in line and "method=" in line]
    return [m for m in mechs if m != "PLAIN"]


def account_row(state, account):
    lines = cli(state, "account", "list").stdout.splitlines()
    head = lines[0].split()
    for line in lines[1:]:
        f = line.split()
        if f and f[0] == account:
            return dict(zip(head, f))
    raise AssertionError("no row for %s in account list" % account)


def report_account(state, account):
    doc = json.loads(cli(state, "report", "--format", "json").stdout)
    for a in doc["accounts"]:
        if a["account"] == account:
            return a
    raise AssertionError("no %s in report" % account)


def add_refresh_account(state, tmp, ts, account, user, extra=()):
    """account add --oauth2 custom with the refresh-token grant of user."""
    rt = ts.control(op="issue", user=user, client_id="cid")["refresh_token"]
    path = os.path.join(tmp, "rt-" + user)
    with open(path, "w") as f:
        f.write(rt + "\n")
    return cli(state, "account", "add", account, "--upstream-user", user, "--oauth2", "custom",
               "--oauth2-token-url", ts.base + "/token", "--oauth2-client-id", "cid",
               "--oauth2-client-secret-file", os.path.join(tmp, "secret"),
               "--refresh-token-file", path, "--upstream-ca", ts.ca_file, *extra)


def device_code_run(state, ts, args, user, approve=True):
    """Run a command that does the device flow; approve (or deny) its code at
    tokend as user once it is printed. The CompletedProcess-like result."""
    p = subprocess.Popen([popbridge_bin()] + list(args) + ["--state", state],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    out = []
    code = None
    uri = None
    for line in p.stdout:
        out.append(line)
        if line.startswith("    ") and "https://" in line:
            uri = line.strip()
        elif line.startswith("    ") and uri and code is None:
            code = line.strip()
        if line.startswith("Waiting for the authorisation"):
            break
    check(code is not None and uri.startswith(ts.base),
          "no verification URI and code printed: %r" % "".join(out))
    if approve:
        ts.control(op="approve", user_code=code, user=user)
    else:
        ts.control(op="deny", user_code=code)
    rest, err = p.communicate(timeout=60)
    no_sanitizer_report(err)
    return p.returncode, "".join(out) + rest, err


def main():
    # everything is on loopback: no proxy of the environment in between
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                "ALL_PROXY"):
        os.environ.pop(var, None)
    with TokenService() as ts, TempDir("pboauth2.") as tmp:
        ts.control(op="client", client_id="cid", secret=SECRET)
        ts.control(op="client", client_id="public", secret=None)
        ts.control(op="client", client_id="app", secret=SECRET, app_user="erin")
        ts.control(op="set", device_interval=1)
        with open(os.path.join(tmp, "secret"), "w") as f:
            f.write(SECRET + "\n")
        state = os.path.join(tmp, "state.db")
        users = {u: "Pw-" + u for u in ("carol", "dave", "erin", "frank", "gina")}
        fill = ["carol:INBOX:awkward:3", "dave:INBOX:plain:2", "erin:INBOX:plain:1",
                "frank:INBOX:plain:1", "gina:INBOX:plain:1"]
        with Dovecot(users=users, fill=fill, oauth2=ts.introspection_url) as dc:
            bundle = os.path.join(tmp, "bundle.pem")
            with open(bundle, "w") as f:
                f.write(open(dc.ca_file).read() + open(ts.ca_file).read())

            # ---- the refresh-token grant, rotation on, tokens due soon -----------------
            ts.control(op="set", rotate=True, access_ttl=TTL_SOON)
            out = add_refresh_account(state, tmp, ts, CAROL, "carol").stdout
            check("OAuth2 custom, grant refresh-token" in out, "account add said %r" % out)
            check(grants(ts) == 1, "account add asks for one token")
            t_added = time.monotonic()
            pc = device_add(state, CAROL, "pc")
            up = upstream_messages(dc, "carol", users["carol"])
            check(len(up) == 3, "upstream has %d messages" % len(up))

            # every login here must reach the upstream with a token (the
            # refresh counts below): no kept connection (SPEC §9) stands in
            with Popbridge(dc, args=["--auth", "managed", "--upstream-reuse", "0"], tmp=tmp,
                           state=state, upstream_tls="starttls", upstream_ca=bundle) as pb:
                p = login(pb, CAROL, pc)
                count, _ = p.stat()
                check(count == 3, "the device sees %d of 3" % count)
                for n, (uid, body) in enumerate(up, 1):
                    _, lines, _ = p.retr(n)
                    check(b"\r\n".join(lines) + b"\r\n" == normalise(body),
                          "message %d differs from upstream" % uid)
                p.quit()
                check(time.monotonic() - t_added < TTL_SOON - 60,
                      "the first login came too late to use the stored token")
                check(grants(ts) == 1, "a fresh token is used as it is (%d refreshes)"
                      % grants(ts))
                check(dovecot_logins(dc, "carol") == ["OAUTHBEARER"],
                      "upstream mechanisms: %r" % dovecot_logins(dc, "carol"))
                row = account_row(state, CAROL)
                check(row["CREDENTIAL"] == "oauth2" and row["WORKS"] == "yes",
                      "account list: %r" % row)
                a = report_account(state, CAROL)
                check(a["credential"] == "oauth2" and a["credential_ok"] is True,
                      "report: %r" % {k: a[k] for k in ("credential", "credential_ok")})
                report("a device of an OAuth2 account logs in (OAUTHBEARER) and gets its mail")

                # expiry: one refresh per due login; the rotated token is used next
                for i in (2, 3):
                    time.sleep(max(0.0, (t_added + TTL_SOON - 60 + 0.5) - time.monotonic()))
                    login(pb, CAROL, pc).quit()
                    t_added = time.monotonic()
                    check(grants(ts) == i, "login %d: %d refreshes" % (i, grants(ts)))
                    login(pb, CAROL, pc).quit()
                    check(grants(ts) == i, "the refreshed token is used as it is")
                st = ts.control(op="stats")
                used, issued = st["refresh_tokens_used"], st["refresh_tokens_issued"]
                # issued: [0] the file's, [1] rotated by account add, [2] [3] by refreshes
                check(used == issued[0:3] and len(issued) == 4,
                      "refresh tokens used %r, issued %r" % (used, issued))
                report("an expiring token is refreshed once; each rotated refresh token is "
                       "the one used next")

                # a token the upstream refuses: one refresh, the login goes through
                ts.control(op="set", access_ttl=3600)
                before = grants(ts)
                ts.control(op="expire_access")
                login(pb, CAROL, pc).quit()
                check(grants(ts) == before + 1, "rejection: %d refreshes" % (grants(ts) - before))
                pb.wait_log("event=oauth2-refused-upstream", 10)
                report("a token the upstream refuses is refreshed once")

                # many devices at once after expiry: one refresh
                gina = "gina@example.org"
                ts.control(op="set", access_ttl=TTL_SOON)
                add_refresh_account(state, tmp, ts, gina, "gina")
                t_gina = time.monotonic()
                pws = [device_add(state, gina, "d%d" % i) for i in range(6)]
                time.sleep(max(0.0, (t_gina + TTL_SOON - 60 + 0.5) - time.monotonic()))
                ts.control(op="set", delay=2.0, access_ttl=3600)
                before = grants(ts)
                errors = []

                def one(pw):
                    try:
                        q = login(pb, gina, pw)
                        q.stat()
                        q.quit()
                    except Exception as e:   # noqa: BLE001 (reported below)
                        errors.append(repr(e))
                threads = [threading.Thread(target=one, args=(pw,)) for pw in pws]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(120)
                ts.control(op="set", delay=0)
                check(not errors, "parallel logins failed: %r" % errors)
                check(grants(ts) == before + 1, "6 devices at once: %d refreshes"
                      % (grants(ts) - before))
                report("six devices logging in together after expiry refresh once")

                # outage: [SYS/TEMP], then recovery
                ts.control(op="set", outage=True)
                ts.control(op="expire_access")
                t = refusal(pb, CAROL, pc)
                check(t.startswith("-ERR [SYS/TEMP]"), "outage: %r" % t)
                ts.control(op="set", outage=False)
                login(pb, CAROL, pc).quit()
                report("the token endpoint's outage answers [SYS/TEMP]; it recovers")

                # revocation: [SYS/PERM] and the log line; oauth2-login mends it
                ts.control(op="revoke", user="carol")
                t = refusal(pb, CAROL, pc)
                check(t.startswith("-ERR [SYS/PERM]"), "revoked: %r" % t)
                line = pb.wait_log("popbridge account oauth2-login " + CAROL, 10)
                check("level=error" in line and "invalid_grant" in line, "log: %r" % line)
                row = account_row(state, CAROL)
                check(row["WORKS"] == "no", "account list after revocation: %r" % row)
                check(report_account(state, CAROL)["credential_ok"] is False,
                      "report after revocation")
                rt = ts.control(op="issue", user="carol", client_id="cid")["refresh_token"]
                with open(os.path.join(tmp, "rt-new"), "w") as f:
                    f.write(rt + "\n")
                cli(state, "account", "oauth2-login", CAROL, "--refresh-token-file",
                    os.path.join(tmp, "rt-new"), "--upstream-ca", ts.ca_file)
                check(account_row(state, CAROL)["WORKS"] == "-", "after oauth2-login")
                login(pb, CAROL, pc).quit()
                check(account_row(state, CAROL)["WORKS"] == "yes", "after a login")
                report("a revoked grant answers [SYS/PERM] and logs the oauth2-login command; "
                       "oauth2-login mends it")

                # the device-code flow of account add, end to end
                dave = "dave@example.org"
                rc, out, err = device_code_run(state, ts, [
                    "account", "add", dave, "--upstream-user", "dave", "--oauth2", "custom",
                    "--oauth2-token-url", ts.base + "/token", "--oauth2-device-url",
                    ts.base + "/device", "--oauth2-client-id", "public", "--oauth2-scope",
                    "mail offline_access", "--upstream-ca", ts.ca_file], "dave")
                check(rc == 0 and "grant device-code" in out, "device flow: %d %s %s"
                      % (rc, out, err))
                dpw = device_add(state, dave, "phone")
                p = login(pb, dave, dpw)
                check(p.stat()[0] == 2, "dave's device sees his 2 messages")
                p.quit()
                rc, out, err = device_code_run(state, ts, [
                    "account", "oauth2-login", dave, "--upstream-ca", ts.ca_file], "dave",
                    approve=False)
                check(rc == 1 and "access_denied" in err, "denied: %d %s" % (rc, err))
                rc, out, err = device_code_run(state, ts, [
                    "account", "oauth2-login", dave, "--upstream-ca", ts.ca_file], "dave")
                check(rc == 0 and "stored the new OAuth2 tokens" in out, "oauth2-login: %s" % err)
                login(pb, dave, dpw).quit()
                report("the device-code flow: account add and oauth2-login print the URL "
                       "and code and wait; a denial fails")

                # client credentials (app-only access to erin's mailbox)
                erin = "erin@example.org"
                cli(state, "account", "add", erin, "--upstream-user", "erin", "--oauth2", "custom",
                    "--oauth2-grant", "client-credentials", "--oauth2-token-url",
                    ts.base + "/token", "--oauth2-client-id", "app",
                    "--oauth2-client-secret-file", os.path.join(tmp, "secret"),
                    "--oauth2-scope", "https://outlook.office365.com/.default",
                    "--upstream-ca", ts.ca_file)
                before = grants(ts, "client_credentials")
                ts.control(op="expire_access")
                epw = device_add(state, erin, "scanner")
                p = login(pb, erin, epw)
                check(p.stat()[0] == 1, "erin's device sees her message")
                p.quit()
                check(grants(ts, "client_credentials") == before + 1, "client credentials")
                report("the client-credentials grant")

                # a password replaces the grant
                cli(state, "account", "set-password", erin, stdin_text="Pw-erin\n")
                row = account_row(state, erin)
                check(row["CREDENTIAL"] == "password" and row["WORKS"] == "-",
                      "after set-password: %r" % row)
                login(pb, erin, epw).quit()
                check(account_row(state, erin)["WORKS"] == "yes", "erin's password works")
                check(dovecot_logins(dc, "erin") == ["OAUTHBEARER"],
                      "erin logs in with her password now: %r" % dovecot_logins(dc, "erin"))
                report("set-password replaces an OAuth2 grant with a password")
                check(pb.stop() == 0, "popbridge serve exit status")
            log = "\n".join(pb.log_lines())

            # import-uidls with the OAuth2 account's token (Dovecot's POP3 as old server)
            n_oauth = len(dovecot_logins(dc, "carol"))
            pwfile = os.path.join(tmp, "old-pw")
            with open(pwfile, "w") as f:
                f.write(users["carol"] + "\n")
            r = cli(state, "import-uidls", "--account", CAROL, "--from",
                    "pop3://127.0.0.1:%d" % dc.pop3_port, "--from-user", "carol",
                    "--from-password-file", pwfile, "--from-ca", dc.ca_file, "--upstream",
                    "imap://127.0.0.1:%d" % dc.imap_port, "--upstream-tls", "starttls",
                    "--upstream-ca", bundle, "--auth", "managed")
            check("matched:   3 " in r.stdout, "import-uidls: %s" % r.stdout)
            check(dovecot_logins(dc, "carol") == ["OAUTHBEARER"] * (n_oauth + 1),
                  "import-uidls' upstream login: %r" % dovecot_logins(dc, "carol"))
            report("import-uidls logs in with the account's OAuth2 token")

        # ---- XOAUTH2 only -------------------------------------------------------------
        with Dovecot(users={"frank": users["frank"]}, fill=["frank:INBOX:plain:1"],
                     oauth2=ts.introspection_url, oauth2_mechanisms="xoauth2") as dc2:
            st2 = os.path.join(tmp, "state2.db")
            bundle2 = os.path.join(tmp, "bundle2.pem")
            with open(bundle2, "w") as f:
                f.write(open(dc2.ca_file).read() + open(ts.ca_file).read())
            add_refresh_account(st2, tmp, ts, "frank@example.org", "frank")
            fpw = device_add(st2, "frank@example.org", "pc")
            with Popbridge(dc2, args=["--auth", "managed"], tmp=tmp, state=st2,
                           upstream_tls="starttls", upstream_ca=bundle2) as pb2:
                p = login(pb2, "frank@example.org", fpw)
                check(p.stat()[0] == 1, "frank's device sees his message")
                p.quit()
                check(pb2.stop() == 0, "popbridge serve exit status")
                log += "\n" + "\n".join(pb2.log_lines())
            check(dovecot_logins(dc2, "frank") == ["XOAUTH2"],
                  "upstream mechanisms: %r" % dovecot_logins(dc2, "frank"))
            report("a server without OAUTHBEARER gets AUTHENTICATE XOAUTH2")

        # ---- no token in plaintext anywhere ---------------------------------------------
        st = ts.control(op="stats")
        secrets = st["access_tokens_issued"] + st["refresh_tokens_issued"] + [SECRET]
        check(len(secrets) > 20, "tokens issued: %d" % len(secrets))
        files = [state, state + "-wal", state + ".key", st2, st2 + "-wal", st2 + ".key"]
        blobs = [(f, open(f, "rb").read()) for f in files if os.path.exists(f)]
        check(len(blobs) >= 4, "state and key files: %r" % [f for f, _ in blobs])
        for s in secrets:
            for f, data in blobs:
                check(s.encode() not in data, "a token in plaintext in %s" % f)
            check(s not in log, "a token in popbridge's log")
        report("no token or client secret in plaintext in the state file, key file or log")


if __name__ == "__main__":
    main()
