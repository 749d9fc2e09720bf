"""A file the configuration names that cannot be read fails the attempt
before any byte is sent (relaymail.conf(5); issue 11, point 6): no
connection at all, the message kept for a later try, the error naming
the key and the file.
"""

import os

import pytest

from harness import assert_not_delivered_but_kept, message

RCPT = "bob@example.org"


def cases(certs, missing):
    return {
        "tls_ca_file": {"smarthost": {"tls_ca_file": missing}},
        "tls_cert_file": {"smarthost": {"tls_cert_file": missing,
                                        "tls_key_file": certs.client_key}},
        "tls_key_file": {"smarthost": {"tls_cert_file": certs.client_cert,
                                       "tls_key_file": missing}},
        "password_file": {"auth": {"password": None,
                                   "password_file": missing}},
    }


@pytest.mark.parametrize("key", ["tls_ca_file", "tls_cert_file",
                                 "tls_key_file", "password_file"])
def test_unreadable_file_fails_before_any_byte(smarthost, relay, certs,
                                               tmp_path, key):
    h = smarthost(tls="starttls")
    missing = str(tmp_path / ("no-such-" + key))
    relay.configure(h, **cases(certs, missing)[key])
    r = relay.run(["-i", RCPT], input=message())
    assert h.connections == [], h.commands()
    assert key in r.err and missing in r.err and "cannot read" in r.err, r
    assert_not_delivered_but_kept(relay, r, RCPT)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
@pytest.mark.parametrize("key", ["tls_ca_file", "tls_cert_file",
                                 "tls_key_file", "password_file"])
def test_file_that_is_not_regular_fails_before_any_byte(smarthost, relay,
                                                        certs, tmp_path, key,
                                                        kind):
    """A directory or a FIFO where a file should be: refused before the
    connection, never read (a FIFO would block for ever)."""
    h = smarthost(tls="starttls")
    path = tmp_path / ("odd-" + key)
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    relay.configure(h, **cases(certs, str(path))[key])
    r = relay.run(["-i", RCPT], input=message(), timeout=30)
    assert h.connections == [], h.commands()
    assert key in r.err and str(path) in r.err, r
    assert "not a regular file" in r.err, r
    assert_not_delivered_but_kept(relay, r, RCPT)
