"""-v: the SMTP conversation on stderr, every secret as <redacted>."""

import base64

import pytest

from harness import PASSWORD, USER, message


def b64(b):
    return base64.b64encode(b).decode()


def secret_forms(host):
    u, p = USER.encode(), PASSWORD.encode()
    forms = [PASSWORD, b64(p), b64(b"\0" + u + b"\0" + p),
             b64(u + b"\0" + u + b"\0" + p), b64(p)[:-2]]
    for challenge, answer in host.cram_exchanges:
        forms.append(b64(answer))
        forms.append(answer.decode().split()[-1])     # the HMAC digest
    return forms


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_verbose_transcript_redacts_secrets(smarthost, relay, mech):
    h = smarthost(tls="starttls", mechanisms=[mech])
    relay.configure(h)
    r = relay.run(["-v", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    assert "<redacted>" in r.err, r.err
    assert "EHLO" in r.err.upper() and "MAIL FROM" in r.err.upper(), r.err
    for form in secret_forms(h):
        assert form not in r.err, (form, r.err)
        assert form not in r.out
        assert form not in relay.log_text()
    if mech == "LOGIN":
        assert b64(USER.encode()) not in r.err, r.err


def test_verbose_failed_auth_redacts_secrets(smarthost, relay):
    h = smarthost(tls="starttls", mechanisms=["LOGIN"], auth_fail=True)
    relay.configure(h)
    r = relay.run(["-v", "-i", "bob@example.org"], input=message())
    for form in secret_forms(h):
        assert form not in r.err, (form, r.err)
        assert form not in relay.log_text()


def test_log_file_line_per_attempt_without_secret(smarthost, relay):
    h = smarthost(tls="starttls", mechanisms=["PLAIN"])
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    log = relay.log_text()
    assert "bob@example.org" in log, log
    assert "sent" in log, log
    for form in secret_forms(h):
        assert form not in log
