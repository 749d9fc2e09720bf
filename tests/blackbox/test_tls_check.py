"""TLS details (issue 5, point 3): tls_min_version and cipher lists, the
reason of a certificate verification failure in the error, the log and
mailq, and `sendmail --check`."""

import base64
import re
import socket
import ssl
import subprocess
import threading

import pytest

from harness import PASSWORD, USER, assert_queued, message

RCPT = "bob@example.org"


class TlsServer:
    """A small implicit-TLS SMTP server whose TLS versions can be limited.

    aiosmtpd's SmartHost does not let a test choose the TLS versions, so
    this one wraps each accepted socket itself with an ssl.SSLContext.
    sessions: one dict per handshake (version, cipher, lines, datas);
    failures: the ssl errors of refused handshakes.
    """

    def __init__(self, certs, max_version=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs.cert, certs.key)
        if max_version is not None:
            self.ctx.maximum_version = max_version
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.sessions, self.failures = [], []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,),
                             daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(20)
        try:
            s = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.failures.append(str(e))
            conn.close()
            return
        sess = {"version": s.version(), "cipher": s.cipher()[0],
                "lines": [], "datas": []}
        self.sessions.append(sess)
        f = s.makefile("rwb")
        try:
            self._dialogue(f, sess)
        except (OSError, ssl.SSLError):
            pass
        finally:
            f.close()
            s.close()

    @staticmethod
    def _dialogue(f, sess):
        def say(text):
            f.write(text.encode() + b"\r\n")
            f.flush()
        say("220 tlsserver.test ESMTP")
        while True:
            line = f.readline()
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            sess["lines"].append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                say("250-tlsserver.test\r\n250 8BITMIME")
            elif verb == "DATA":
                say("354 go ahead")
                data = b""
                while True:
                    dl = f.readline()
                    if not dl or dl == b".\r\n":
                        break
                    data += dl
                sess["datas"].append(data)
                say("250 2.0.0 ok")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("250 ok")

    def stop(self):
        self.sock.close()


@pytest.fixture
def tlsserver(certs):
    started = []

    def start(**kw):
        s = TlsServer(certs, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


def configure_tls(relay, server, **smarthost):
    """Implicit TLS to server, no AUTH, plus the given [smarthost] keys."""
    return relay.configure(port=server.port, tls="tls", user=None,
                           smarthost=smarthost)


# --- tls_min_version, tls_ciphers, tls_ciphersuites --------------------------

def test_min_version_13_refuses_tls12_only_server(tlsserver, relay):
    s = tlsserver(max_version=ssl.TLSVersion.TLSv1_2)
    configure_tls(relay, s, tls_min_version="1.3")
    r = relay.run(["-i", RCPT], input=message())
    q = assert_queued(relay, r, RCPT)
    assert s.sessions == [], s.sessions
    assert "TLS" in q.out and "handshake failed" in q.out, q.out
    assert "TLS" in r.err, r
    assert "handshake failed" in relay.log_text(), relay.log_text()


def test_min_version_13_delivers_to_tls13_server(tlsserver, relay):
    s = tlsserver()
    configure_tls(relay, s, tls_min_version="1.3")
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert [x["version"] for x in s.sessions] == ["TLSv1.3"], s.sessions
    assert len(s.sessions[0]["datas"]) == 1


def test_default_min_version_accepts_tls12_server(tlsserver, relay):
    s = tlsserver(max_version=ssl.TLSVersion.TLSv1_2)
    configure_tls(relay, s)
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert [x["version"] for x in s.sessions] == ["TLSv1.2"], s.sessions
    assert len(s.sessions[0]["datas"]) == 1


def test_tls_ciphers_applied_to_tls12(tlsserver, relay):
    s = tlsserver(max_version=ssl.TLSVersion.TLSv1_2)
    configure_tls(relay, s, tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert s.sessions[0]["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256", \
        s.sessions


def test_tls_ciphersuites_applied_to_tls13(tlsserver, relay):
    s = tlsserver()
    configure_tls(relay, s, tls_ciphersuites="TLS_CHACHA20_POLY1305_SHA256")
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert s.sessions[0]["version"] == "TLSv1.3"
    assert s.sessions[0]["cipher"] == "TLS_CHACHA20_POLY1305_SHA256", \
        s.sessions


@pytest.mark.parametrize("key,value", [
    ("tls_min_version", "1.1"),
    ("tls_ciphers", "NO-SUCH-CIPHER"),
    ("tls_ciphersuites", "TLS_NO_SUCH_SUITE"),
])
def test_bad_tls_setting_is_config_error(smarthost, relay, key, value):
    h = smarthost(tls="starttls")
    relay.configure(h, smarthost={key: value})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert "[smarthost] %s" % key in r.err, r
    assert h.commands() == []


# --- the reason of a verification failure -----------------------------------

def _bad_cert(certs, which):
    if which == "expired":
        if certs.expired_cert is None:
            pytest.fail("could not mint an expired certificate")
        return certs.expired_cert, certs.expired_key, "certificate has expired"
    if which == "wrong name":
        return certs.wrong_cert, certs.wrong_key, "hostname mismatch"
    return (certs.untrusted_cert, certs.untrusted_key,
            "unable to get local issuer certificate")


@pytest.mark.parametrize("which", ["expired", "wrong name", "unknown CA"])
def test_verify_failure_reason_in_error_log_and_mailq(smarthost, relay,
                                                      certs, which):
    cert, key, reason = _bad_cert(certs, which)
    h = smarthost(tls="starttls", cert=cert, key=key)
    # by name: an address literal would fail as "IP address mismatch"
    relay.configure(h, smarthost={"host": "localhost"})
    r = relay.run(["-i", RCPT], input=message())
    q = assert_queued(relay, r, RCPT)
    expected = "certificate verify failed: " + reason
    assert expected in r.err, r
    assert expected in q.out, q.out
    assert expected in relay.log_text(), relay.log_text()
    assert h.messages == [] and h.auth_lines == []


# --- sendmail --check ----------------------------------------------------------

def fingerprint(path):
    out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint",
                          "-sha256", "-in", path], check=True,
                         capture_output=True, text=True).stdout
    return out.strip().split("=", 1)[1]


def assert_nothing_sent(h):
    for line in h.commands():
        assert not line.upper().startswith(("MAIL", "RCPT", "DATA", "AUTH",
                                             "BDAT")), h.commands()
    assert h.messages == [] and h.auth_lines == []


def assert_no_password(r):
    for form in (PASSWORD, base64.b64encode(PASSWORD.encode()).decode(),
                 base64.b64encode(("\0%s\0%s" % (USER, PASSWORD)).encode())
                 .decode()):
        assert form not in r.out and form not in r.err, r


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_check_reports_session(smarthost, relay, certs, tls):
    h = smarthost(tls=tls, mechanisms=["PLAIN", "LOGIN", "CRAM-MD5"])
    relay.configure(h, tls=tls)
    r = relay.run(["--check"])
    assert r.rc == 0, r
    assert "connected to 127.0.0.1[127.0.0.1]:%d" % h.port in r.out, r.out
    assert re.search(r"(?m)^greeting: ", r.out), r.out
    assert re.search(r"(?m)^EHLO: .*AUTH", r.out), r.out
    assert re.search(r"(?m)^TLS: TLSv1\.[23] \S+", r.out), r.out
    assert "TLS session resumed: no" in r.out
    assert "SHA-256 fingerprint: " + fingerprint(certs.cert) in r.out, r.out
    assert "subject: CN=localhost" in r.out
    assert "issuer: CN=relaymail test CA" in r.out
    assert "DNS:localhost" in r.out and "IP Address:127.0.0.1" in r.out
    assert "verification: ok" in r.out
    assert "check ok" in r.out
    assert_nothing_sent(h)
    assert_no_password(r)
    # the mechanism named is the one a delivery then uses
    mech = re.search(r"(?m)^AUTH: would use (\S+) ", r.out)
    assert mech, r.out
    d = relay.run(["-i", RCPT], input=message())
    assert d.rc == 0 and len(h.messages) == 1, d
    assert h.auth_lines[0].upper().startswith("AUTH " + mech.group(1)), \
        (h.auth_lines, r.out)


def test_check_configured_mechanism(smarthost, relay):
    h = smarthost(tls="starttls", mechanisms=["PLAIN", "LOGIN"])
    relay.configure(h, mechanism="login")
    r = relay.run(["--check"])
    assert r.rc == 0, r
    assert "AUTH: would use LOGIN" in r.out, r.out
    assert_nothing_sent(h)
    assert_no_password(r)


def test_check_runs_no_password_command(smarthost, relay, tmp_path):
    marker = tmp_path / "ran"
    h = smarthost(tls="starttls")
    relay.configure(h, auth={"password": None,
                             "password_command": "touch %s; echo %s"
                             % (marker, PASSWORD)})
    r = relay.run(["--check"])
    assert r.rc == 0, r
    assert not marker.exists(), "--check fetched the secret"
    assert_nothing_sent(h)
    assert_no_password(r)


def test_check_verbose_shows_no_secret(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    r = relay.run(["-v", "--check"])
    assert r.rc == 0, r
    assert_nothing_sent(h)
    assert_no_password(r)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_check_wrong_name_fails(smarthost, relay, certs, tls):
    h = smarthost(tls=tls, cert=certs.wrong_cert, key=certs.wrong_key)
    relay.configure(h, tls=tls, smarthost={"host": "localhost"})
    r = relay.run(["--check"])
    assert r.rc == 69, r
    assert "hostname mismatch" in r.out, r.out
    assert "verification: failed: hostname mismatch" in r.out, r.out
    assert "SHA-256 fingerprint: " + fingerprint(certs.wrong_cert) in r.out
    assert "check failed: " in r.out
    assert_nothing_sent(h)
    assert_no_password(r)


def test_check_unknown_ca_fails(smarthost, relay, certs):
    h = smarthost(tls="starttls", cert=certs.untrusted_cert,
                  key=certs.untrusted_key)
    relay.configure(h)
    r = relay.run(["--check"])
    assert r.rc == 69, r
    assert "unable to get local issuer certificate" in r.out, r.out
    assert_nothing_sent(h)


def test_check_connection_refused(relay):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    relay.configure(port=port, tls="starttls")
    r = relay.run(["--check"])
    assert r.rc == 69, r
    assert "check failed: connect to 127.0.0.1" in r.out, r.out


def test_check_sends_no_mail_and_queues_nothing(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    r = relay.run(["--check"], input=message())
    assert r.rc == 0, r
    assert_nothing_sent(h)
    q = relay.mailq()
    assert "Mail queue is empty" in q.out, q


def test_check_in_help(relay):
    r = relay.run(["--help"], config=False)
    assert r.rc == 0 and "--check" in r.out, r
