"""TLS sessions are saved in the spool (tls/, mode 0600) and resumed by the
next sendmail to the same smarthost with the same settings."""

import hashlib
import os
import ssl
import stat

import pytest

from harness import message


def send_verbose(relay):
    r = relay.run(["-v", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    return [l for l in r.err.splitlines() if "TLS with" in l]


def test_second_connection_resumes_the_saved_session(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    first = send_verbose(relay)
    second = send_verbose(relay)
    assert len(h.messages) == 2
    assert len(first) == 1 and "resumed" not in first[0], first
    assert len(second) == 1 and "resumed" in second[0], second
    saved = list((relay.spool / "tls").iterdir())
    assert len(saved) == 1
    assert stat.S_IMODE(os.stat(saved[0]).st_mode) == 0o600


def test_session_not_offered_under_other_verification_settings(smarthost, relay, certs):
    h = smarthost(tls="starttls")
    relay.configure(h)
    send_verbose(relay)
    # a pin changes the settings: a full handshake, and a second entry
    relay.configure(h, smarthost={"tls_fingerprint": "00" * 32, "tls_verify": "no"})
    r = relay.run(["-v", "-i", "bob@example.org"], input=message())
    assert len(h.messages) == 1, r      # the wrong pin refuses the server
    assert all("resumed" not in l for l in r.err.splitlines()), r.err


def test_resumed_session_reads_no_ca_file_full_handshake_does(smarthost, relay, tmp_path):
    """The CA certificates are parsed only when a certificate chain arrives:
    a resumed session never needs them. With the CA file's content replaced
    by garbage, a resumed send still goes through; once the saved session is
    gone, the full handshake names the broken file and the message waits."""
    h = smarthost(tls="starttls")
    ca = tmp_path / "ca.pem"
    ca.write_bytes(open(relay.certs.ca, "rb").read())
    relay.configure(h, smarthost={"tls_ca_file": str(ca)})
    send_verbose(relay)
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                   b"-----END CERTIFICATE-----\n")
    second = send_verbose(relay)
    assert len(second) == 1 and "resumed" in second[0], second
    assert len(h.messages) == 2
    for entry in (relay.spool / "tls").iterdir():
        entry.unlink()
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 0, r                 # a temporary failure: queued
    assert len(h.messages) == 2
    lines = [l for l in r.err.splitlines() if "cannot load CA file" in l]
    assert lines and str(ca) in lines[0], r.err
    assert len(os.listdir(relay.spool / "q")) == 1


def test_corrupt_saved_session_falls_back_to_a_full_handshake(smarthost, relay):
    """A damaged tls/ entry costs one full handshake, never the message:
    the entry is dropped and replaced by the new session."""
    h = smarthost(tls="starttls")
    relay.configure(h)
    send_verbose(relay)
    saved = list((relay.spool / "tls").iterdir())
    assert len(saved) == 1
    saved[0].write_bytes(b"\x30\x82\x01\x00 not a session" * 8)
    third = send_verbose(relay)
    assert len(third) == 1 and "resumed" not in third[0], third
    assert len(h.messages) == 2
    fourth = send_verbose(relay)
    assert len(fourth) == 1 and "resumed" in fourth[0], fourth


def cert_der(path):
    return ssl.PEM_cert_to_DER_cert(open(path).read())


def saved_session(relay):
    saved = list((relay.spool / "tls").iterdir())
    assert len(saved) == 1, saved
    return saved[0].read_bytes()


def smarthost_at_most(smarthost, version):
    h = smarthost(tls="starttls")
    if version is not None:             # before any connection: applies to all
        h._ctx.maximum_version = version
    return h


@pytest.mark.parametrize("version", [None, ssl.TLSVersion.TLSv1_2])
def test_session_is_saved_without_the_server_certificate(smarthost, relay, certs,
                                                         version):
    """Resumption never looks at the server's certificate: it is not stored
    (decoding it was most of the cost of reading the session back). TLS 1.3
    tickets and TLS 1.2 sessions alike."""
    h = smarthost_at_most(smarthost, version)
    relay.configure(h)
    send_verbose(relay)
    assert cert_der(certs.cert) not in saved_session(relay)
    second = send_verbose(relay)
    assert len(second) == 1 and "resumed" in second[0], second
    assert version is None or "TLSv1.2" in second[0], second
    assert len(h.messages) == 2


@pytest.mark.parametrize("version", [None, ssl.TLSVersion.TLSv1_2])
def test_pinned_session_keeps_the_certificate_and_checks_it_on_resumption(
        smarthost, relay, certs, version):
    """With tls_fingerprint the certificate stays in the saved session: the
    pin is checked against it on resumption (without it, the resumed send
    would fail with "the server sent no certificate")."""
    fp = hashlib.sha256(cert_der(certs.cert)).hexdigest()
    h = smarthost_at_most(smarthost, version)
    relay.configure(h, smarthost={"tls_fingerprint": fp})
    send_verbose(relay)
    assert cert_der(certs.cert) in saved_session(relay)
    second = send_verbose(relay)
    assert len(second) == 1 and "resumed" in second[0], second
    assert version is None or "TLSv1.2" in second[0], second
    assert len(h.messages) == 2


def test_changed_server_certificate_fails_the_pin(smarthost, relay, certs):
    """Same port and settings, so the saved session is offered; the new
    server cannot resume it, and its certificate fails the pin: queued."""
    fp = hashlib.sha256(cert_der(certs.cert)).hexdigest()
    h = smarthost(tls="starttls")
    relay.configure(h, smarthost={"tls_fingerprint": fp, "tls_verify": "no"})
    send_verbose(relay)
    port = h.port
    h.stop()
    h2 = smarthost(tls="starttls", cert=certs.wrong_cert, key=certs.wrong_key,
                   port=port)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 0, r                 # a temporary failure: queued
    assert "fingerprint mismatch" in r.err, r.err
    assert h2.messages == []
    assert len(os.listdir(relay.spool / "q")) == 1
