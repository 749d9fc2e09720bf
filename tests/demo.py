#!/usr/bin/python3
"""make demo: watch one message travel through STARTTLS and AUTH.

Starts the test smarthost (tests/blackbox/smarthost.py) on 127.0.0.1 with a
throw-away test CA, writes a throw-away relaymail.conf, sends a message with
./sendmail -v -t, shows what the smarthost received and what mailq says,
then stops everything and removes the temporary directory.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
SENDMAIL = os.environ.get("RELAYMAIL_SENDMAIL") or os.path.join(REPO,
                                                                 "sendmail")
USER, PASSWORD = "demo", "demo-secret"


def say(text):
    print("\n=== %s" % text, flush=True)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_pki(d):
    """Test CA plus a server certificate for localhost / 127.0.0.1."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=relaymail demo CA", "-addext",
            "basicConstraints=critical,CA:TRUE", cwd=d)
    openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj",
            "/CN=localhost", cwd=d)
    with open(os.path.join(d, "srv.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
            "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "srv.ext",
            "-out", "srv.pem", cwd=d)


def main():
    if not os.path.exists(SENDMAIL):
        sys.exit("demo: %s not found; run make first" % SENDMAIL)
    d = tempfile.mkdtemp(prefix="relaymail-demo.")
    host = None
    try:
        say("minting a test CA and a certificate for localhost in " + d)
        make_pki(d)
        maildir = os.path.join(d, "received")
        say("starting the smarthost: STARTTLS, AUTH PLAIN LOGIN CRAM-MD5")
        host = subprocess.Popen(
            [PY, os.path.join(REPO, "tests", "blackbox", "smarthost.py"),
             "--port", "0", "--tls", "starttls",
             "--cert", os.path.join(d, "srv.pem"),
             "--key", os.path.join(d, "srv.key"),
             "--user", USER, "--password", PASSWORD,
             "--mechanisms", "PLAIN,LOGIN,CRAM-MD5", "--maildir", maildir],
            stdout=subprocess.PIPE, text=True)
        ready = host.stdout.readline().split()
        if len(ready) != 2 or ready[0] != "READY":
            sys.exit("demo: smarthost did not start")
        port = ready[1]
        print("smarthost listening on 127.0.0.1:%s" % port)
        conf = os.path.join(d, "relaymail.conf")
        with open(conf, "w") as f:
            f.write("""[smarthost]
host = 127.0.0.1
port = %s
tls = starttls
tls_ca_file = %s

[auth]
mechanism = auto
user = %s
password = %s

[sender]
domain = example.com

[queue]
dir = %s
mode = sync

[log]
syslog = no
file = %s
""" % (port, os.path.join(d, "ca.pem"), USER, PASSWORD,
                os.path.join(d, "spool"), os.path.join(d, "relaymail.log")))
        os.makedirs(os.path.join(d, "spool"), mode=0o700)
        say("the configuration (" + conf + ")")
        print(open(conf).read().replace(PASSWORD, "<redacted>"))
        msg = ("From: Demo <demo@example.com>\n"
               "To: Alice <alice@example.org>\n"
               "Cc: bob@example.org\n"
               "Bcc: carol@example.org\n"
               "Subject: relaymail demo\n"
               "\n"
               "Hello from relaymail.\n"
               ".\n"
               "(the line above is a lone dot, kept by -i)\n")
        say("the message (LF line endings, as PHP hands it over)")
        print(msg)
        say("./sendmail -C %s -v -t -i   (transcript on stderr)" % conf)
        r = subprocess.run([SENDMAIL, "-C", conf, "-v", "-t", "-i"],
                           input=msg.encode(), timeout=60)
        print("exit status: %d" % r.returncode)
        time.sleep(0.5)
        say("what arrived at the smarthost")
        for name in sorted(os.listdir(maildir)) if os.path.isdir(maildir) \
                else []:
            with open(os.path.join(maildir, name), "rb") as f:
                print("--- %s" % name)
                print(f.read().decode("utf-8", "replace")
                      .replace("\r\n", "\n"))
        say("./sendmail -bp (mailq)")
        subprocess.run([SENDMAIL, "-C", conf, "-bp"], timeout=60)
        say("log file")
        log = os.path.join(d, "relaymail.log")
        if os.path.exists(log):
            print(open(log).read())
        return 0 if r.returncode == 0 else 1
    finally:
        if host is not None:
            host.terminate()
            try:
                out, _ = host.communicate(timeout=10)
                say("smarthost summary")
                print(out, end="")
            except subprocess.TimeoutExpired:
                host.kill()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
