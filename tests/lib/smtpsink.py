#!/usr/bin/python3
"""tests/lib/smtpsink.py — a scripted SMTP submission server for what a real
one will not do on demand (SPEC §11 tests): aiosmtpd (Debian's
python3-aiosmtpd, for /usr/bin/python3) with AUTH PLAIN/LOGIN for one user.

    smtpsink.py PORT USER PASSWORD MODE

MODE drop-after-data: read the whole message, then close the connection
without a reply (the submission server's answer is lost: the relay cannot
know whether it was sent). Prints "ready" once it listens on 127.0.0.1:PORT;
ends when stdin closes (it never outlives its test).
"""
import logging
import sys

# aiosmtpd logs a deprecation of its own Session.login_data at every AUTH
logging.getLogger("mail.log").setLevel(logging.ERROR)

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    port, user, password, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and
              auth_data.password.decode() == password)
        return AuthResult(success=ok)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            if mode == "drop-after-data":
                server.transport.close()
            return "250 2.0.0 Ok"

    c = Controller(Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator,
                   auth_require_tls=False, auth_exclude_mechanism=["CRAM-MD5"])
    c.start()
    print("ready", flush=True)
    sys.stdin.read()
    c.stop()


if __name__ == "__main__":
    main()
