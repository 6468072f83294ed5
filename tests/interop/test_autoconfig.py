#!/usr/bin/env python3
"""`popbridge autoconfig`: each format parses (XML; plistlib for the Apple
profile) and carries the right IMAP host, port, socket type and user name,
from --upstream or from the configuration file; hostile names stay text;
bad input is refused with nothing on stdout."""
import os
import plistlib
import xml.etree.ElementTree as ET

from pbinterop import TempDir, check, popbridge_bin, report, run

AD = "{http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006}"
OL = "{http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a}"


def autoconfig(*args):
    r = run([popbridge_bin(), "autoconfig"] + list(args))
    return r


def ok(*args):
    r = autoconfig(*args)
    check(r.returncode == 0, "autoconfig %s: rc %d %s" % (args, r.returncode, r.stderr))
    return r.stdout.encode()


def thunderbird(doc):
    root = ET.fromstring(doc)
    check(root.tag == "clientConfig" and root.get("version") == "1.1", "root %s" % root.tag)
    inc = root.find("emailProvider/incomingServer")
    check(inc.get("type") == "imap", "incoming type %s" % inc.get("type"))
    return (inc.findtext("hostname"), int(inc.findtext("port")), inc.findtext("socketType"),
            inc.findtext("username"))


def autodiscover(doc):
    root = ET.fromstring(doc)
    check(root.tag == AD + "Autodiscover", "root %s" % root.tag)
    acc = root.find(OL + "Response/" + OL + "Account")
    check(acc.findtext(OL + "AccountType") == "email", "AccountType")
    check(acc.findtext(OL + "Action") == "settings", "Action")
    for p in acc.findall(OL + "Protocol"):
        if p.findtext(OL + "Type") == "IMAP":
            return (p.findtext(OL + "Server"), int(p.findtext(OL + "Port")),
                    p.findtext(OL + "SSL"), p.findtext(OL + "Encryption"),
                    p.findtext(OL + "LoginName"))
    check(False, "no IMAP protocol entry")


def mobileconfig(doc):
    pl = plistlib.loads(doc)
    check(pl["PayloadType"] == "Configuration" and pl["PayloadVersion"] == 1,
          "profile type/version")
    check(pl["PayloadIdentifier"] and pl["PayloadUUID"], "profile identifiers")
    mail = pl["PayloadContent"][0]
    check(mail["PayloadType"] == "com.apple.mail.managed", "payload type")
    check(mail["EmailAccountType"] == "EmailTypeIMAP", "account type")
    return (mail["IncomingMailServerHostName"], mail["IncomingMailServerPortNumber"],
            mail["IncomingMailServerUseSSL"], mail["IncomingMailServerUsername"])


def main():
    email = "ann@example.org"
    up = "imaps://imap.example.org"
    check(thunderbird(ok("--format", "thunderbird", "--email", email, "--upstream", up)) ==
          ("imap.example.org", 993, "SSL", email), "thunderbird imaps")
    check(thunderbird(ok("--format", "thunderbird", "--email", email, "--upstream",
                         "imap://mail.example.org:1143", "--login", "ann")) ==
          ("mail.example.org", 1143, "STARTTLS", "ann"), "thunderbird starttls + login")
    check(thunderbird(ok("--format", "thunderbird", "--email", email, "--upstream",
                         "imap://127.0.0.1:1143", "--upstream-tls", "none"))[2] == "plain",
          "thunderbird plain")
    report("thunderbird: host, port, SSL/STARTTLS/plain, user name")

    check(autodiscover(ok("--format", "autodiscover", "--email", email, "--upstream", up)) ==
          ("imap.example.org", 993, "on", "SSL", email), "autodiscover imaps")
    check(autodiscover(ok("--format", "autodiscover", "--email", email, "--upstream",
                          "imap://mail.example.org", "--login", "x&<y>")) ==
          ("mail.example.org", 143, "on", "TLS", "x&<y>"), "autodiscover starttls")
    report("autodiscover: host, port, SSL/Encryption, login name (escaped)")

    check(mobileconfig(ok("--format", "mobileconfig", "--email", email, "--upstream", up)) ==
          ("imap.example.org", 993, True, email), "mobileconfig imaps")
    check(mobileconfig(ok("--format", "mobileconfig", "--email", email, "--upstream",
                          "imap://127.0.0.1:1143", "--upstream-tls", "none",
                          "--display-name", "Ann \"A\" <x>")) ==
          ("127.0.0.1", 1143, False, email), "mobileconfig plain")
    report("mobileconfig: plist with host, port, UseSSL, user name")

    with TempDir() as tmp:
        cfg = os.path.join(tmp, "pb.xml")
        with open(cfg, "w") as f:
            f.write('<?xml version="1.0"?>\n<popbridge version="1">\n'
                    '  <upstream url="imaps://imap.example.net:10993"/>\n</popbridge>\n')
        check(thunderbird(ok("--format", "thunderbird", "--email", email, "--config", cfg)) ==
              ("imap.example.net", 10993, "SSL", email), "upstream from --config")
        check(thunderbird(ok("--format", "thunderbird", "--email", email, "--config", cfg,
                             "--upstream", up))[0] == "imap.example.org",
              "--upstream overrides the file")
    report("upstream from --config, overridden by --upstream")

    with TempDir() as tmp:
        cfg = os.path.join(tmp, "front.xml")
        with open(cfg, "w") as f:
            f.write('<?xml version="1.0"?>\n<popbridge version="1">\n'
                    '  <upstream url="imaps://imap.provider.example"/>\n'
                    '  <tls cert="/etc/pb.crt" key="/etc/pb.key"/>\n'
                    '  <listen address="0.0.0.0:1143" protocol="imap"/>\n'
                    '  <listen address="0.0.0.0:10993" protocol="imap" tls="yes"/>\n'
                    '</popbridge>\n')
        check(thunderbird(ok("--format", "thunderbird", "--email", email, "--config", cfg,
                             "--front", "mail.example.org")) ==
              ("mail.example.org", 10993, "SSL", email), "--front: the implicit-TLS front")
        doc = ok("--format", "thunderbird", "--email", email, "--config", cfg,
                 "--front", "mail.example.org")
        check(ET.fromstring(doc).findtext("emailProvider/outgoingServer/hostname") ==
              "imap.provider.example", "--front: the outgoing server is the upstream's host")
        check(autodiscover(ok("--format", "autodiscover", "--email", email, "--front",
                              "mail.example.org", "--imap-listen", "127.0.0.1:1143",
                              "--login", "ann#phone")) ==
              ("mail.example.org", 1143, "off", "None", "ann#phone"),
              "--front: a plaintext front from the command line")
        check(mobileconfig(ok("--format", "mobileconfig", "--email", email, "--front",
                              "mail.example.org", "--imap-listen", "127.0.0.1:1143",
                              "--cert", "/etc/pb.crt", "--key", "/etc/pb.key")) ==
              ("mail.example.org", 1143, True, email), "--front: STARTTLS with a certificate")
        r = autoconfig("--format", "thunderbird", "--email", email, "--front", "mail.example.org",
                       "--upstream", up)
        check(r.returncode == 1 and r.stdout == "" and "--imap-listen" in r.stderr,
              "--front without a front listener: rc %d %r" % (r.returncode, r.stderr))
    report("--front: the IMAP front's host, port and TLS instead of the upstream's")

    bad = [
        (["--format", "pdf", "--email", email, "--upstream", up], 2),
        (["--email", email, "--upstream", up], 2),
        (["--format", "thunderbird", "--upstream", up], 2),
        (["--format", "thunderbird", "--email", "no-at-sign", "--upstream", up], 1),
        (["--format", "thunderbird", "--email", email], 1),
        (["--format", "thunderbird", "--email", email, "--upstream", up,
          "--smtp-port", "70000"], 2),
        (["--format", "thunderbird", "--email", email, "--upstream", up,
          "--smtp-tls", "maybe"], 2),
        (["--format", "thunderbird", "--email", email, "--upstream", up,
          "--login", "a\x01b"], 1),
    ]
    for args, want in bad:
        r = autoconfig(*args)
        check(r.returncode == want and r.stdout == "" and r.stderr,
              "%s: rc %d (want %d), stdout %r" % (args, r.returncode, want, r.stdout[:80]))
    r = autoconfig("--help")
    check(r.returncode == 0 and "usage: popbridge autoconfig" in r.stdout, "--help")
    report("bad input: refused with a message, nothing on stdout")


if __name__ == "__main__":
    main()
