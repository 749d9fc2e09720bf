"""TLS and authentication towards the smarthost (issue 2, point 5)."""

import base64

import pytest

from harness import (PASSWORD, USER, assert_not_delivered_but_kept,
                     message, privileged_port, split_message)

RCPT = "bob@example.org"


def send(relay, host, **conf):
    relay.configure(host, **conf)
    return relay.run(["-i", RCPT], input=message())


def assert_delivered(host, r, mech=None):
    assert r.rc == 0, r
    assert len(host.messages) == 1, host.commands()
    m = host.messages[0]
    assert m.rcpt_tos == [RCPT]
    assert m.conn.tls
    assert m.conn.authenticated == USER
    if mech:
        assert host.auth_lines[0].upper().startswith("AUTH " + mech)
    _, body = split_message(m.data)
    assert body == b"Hello.\r\n"


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_starttls_auth_offered_only_mechanism(smarthost, relay, mech):
    h = smarthost(tls="starttls", mechanisms=[mech])
    assert_delivered(h, send(relay, h), mech)


@pytest.mark.parametrize("mech", ["plain", "login", "cram-md5"])
def test_starttls_auth_configured_mechanism(smarthost, relay, mech):
    h = smarthost(tls="starttls", mechanisms=["PLAIN", "LOGIN", "CRAM-MD5"])
    assert_delivered(h, send(relay, h, mechanism=mech), mech.upper())


def test_auth_auto_takes_plain_over_cram_md5_under_tls(smarthost, relay):
    # one round trip (initial response) and no MD5: PLAIN wins under TLS
    h = smarthost(tls="starttls", mechanisms=["PLAIN", "LOGIN", "CRAM-MD5"])
    assert_delivered(h, send(relay, h), "PLAIN")


def test_auth_auto_takes_cram_md5_over_login_under_tls(smarthost, relay):
    h = smarthost(tls="starttls", mechanisms=["LOGIN", "CRAM-MD5"])
    assert_delivered(h, send(relay, h), "CRAM-MD5")


def test_auth_login_old_style_advertisement(smarthost, relay):
    h = smarthost(tls="starttls", mechanisms=["LOGIN"], auth_eq_login=True)
    assert_delivered(h, send(relay, h), "LOGIN")


def test_implicit_tls(smarthost, relay):
    h = smarthost(tls="tls")
    assert_delivered(h, send(relay, h, tls="tls"))


def test_ehlo_sent_again_after_starttls(smarthost, relay):
    h = smarthost(tls="starttls")
    assert_delivered(h, send(relay, h))
    cmds = [c.split()[0].upper() for c in h.connections[0].lines]
    i = cmds.index("STARTTLS")
    assert "EHLO" in cmds[:i] and cmds[i + 1] == "EHLO", cmds


def test_seed_session_coremail(smarthost, relay):
    """The seed's session: coremail greeting, only AUTH LOGIN, base64 lines."""
    h = smarthost(tls="starttls",
                  greeting="Welcome to coremail System(With Anti-Spam) 2.1",
                  mechanisms=["LOGIN"],
                  extensions=["PIPELINING", "SIZE 10240000", "ETRN",
                              "8BITMIME"],
                  user="myaccount", password="mypassword")
    relay.configure(h, user="myaccount", password="mypassword")
    r = relay.run(["-i", "myaccount@263.net"],
                  input="Subject: test\n\nThis is a testing email.\nhaha.\n")
    assert r.rc == 0, r
    login = [x for x in h.auth_lines]
    # AUTH LOGIN with or without the initial response, then the lines
    assert login[0].upper().startswith("AUTH LOGIN"), login
    sent = login[0].split()[2:] + login[1:]
    assert sent == ["bXlhY2NvdW50", "bXlwYXNzd29yZA=="], login
    m = h.messages[0]
    _, body = split_message(m.data)
    assert body == b"This is a testing email.\r\nhaha.\r\n"


def assert_refused_before_auth(host, relay, r):
    assert host.messages == []
    assert host.auth_lines == [], host.auth_lines
    for c in host.connections:
        for line in c.lines:
            assert not line.upper().startswith(("MAIL", "RCPT", "DATA")), \
                c.lines
    assert_not_delivered_but_kept(relay, r, RCPT)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_cert_wrong_name_refused(smarthost, relay, certs, tls):
    h = smarthost(tls=tls, cert=certs.wrong_cert, key=certs.wrong_key)
    r = send(relay, h, tls=tls)
    assert_refused_before_auth(h, relay, r)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_cert_untrusted_ca_refused(smarthost, relay, certs, tls):
    h = smarthost(tls=tls, cert=certs.untrusted_cert,
                  key=certs.untrusted_key)
    r = send(relay, h, tls=tls)
    assert_refused_before_auth(h, relay, r)


def test_cert_expired_refused(smarthost, relay, certs):
    if certs.expired_cert is None:
        pytest.fail("could not mint an expired certificate")
    h = smarthost(tls="starttls", cert=certs.expired_cert,
                  key=certs.expired_key)
    r = send(relay, h)
    assert_refused_before_auth(h, relay, r)


def test_cert_name_localhost_verified(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h, smarthost={"host": "localhost"})
    r = relay.run(["-i", RCPT], input=message())
    assert_delivered(h, r)


def test_starttls_not_offered_refused(smarthost, relay):
    """Server offers AUTH in plaintext but no STARTTLS: no AUTH, no mail."""
    h = smarthost(tls="none")          # AUTH PLAIN LOGIN CRAM-MD5, no TLS
    r = send(relay, h, tls="starttls")
    assert_refused_before_auth(h, relay, r)


def test_starttls_injected_data_not_used(rawserver, relay, certs):
    """'220 go ahead' + '250 injected' in one write, before the handshake.

    Issue 2: what the server sent ahead of the handshake is discarded or
    the session abandoned. Abandoned: nothing sent after the handshake but
    (at most) EHLO/QUIT, message kept. Discarded: a clean session, EHLO
    again then AUTH, and the message delivered intact. A client that took
    '250 injected' as its EHLO reply would see no AUTH and go neither way.
    """
    s = rawserver("inject")
    relay.configure(port=s.port, tls="starttls")
    r = relay.run(["-i", RCPT], input=message())
    verbs = [l.split(" ")[0].upper() for l in s.tls_lines]
    if s.datas:
        assert r.rc == 0, r
        assert verbs[:2] == ["EHLO", "AUTH"], s.tls_lines
        assert len(s.datas) == 1
        assert s.datas[0].endswith(b"\r\n\r\nHello.")
    else:
        assert set(verbs) <= {"EHLO", "QUIT"}, s.tls_lines
        assert s.auth_lines == [], s.lines
        assert_not_delivered_but_kept(relay, r, RCPT)


def test_starttls_injected_ehlo_reply_not_believed(rawserver, relay):
    """A fake EHLO reply (AUTH PLAIN) injected ahead of the handshake; the
    real one after it offers only LOGIN. PLAIN would prove it was read."""
    s = rawserver("inject", mechanisms=["LOGIN"],
                  injected=b"250-injected\r\n250 AUTH PLAIN\r\n")
    relay.configure(port=s.port, tls="starttls")
    r = relay.run(["-i", RCPT], input=message())
    assert not any(l.upper().startswith("AUTH PLAIN") for l in s.lines), \
        s.lines
    if s.datas:
        assert r.rc == 0, r
        assert s.auth_lines[0].upper().startswith("AUTH LOGIN"), s.auth_lines
    else:
        assert_not_delivered_but_kept(relay, r, RCPT)


def test_tls_fingerprint_pin_match(smarthost, relay, certs):
    import hashlib
    import ssl
    der = ssl.PEM_cert_to_DER_cert(open(certs.cert).read())
    fp = hashlib.sha256(der).hexdigest()
    h = smarthost(tls="starttls")
    assert_delivered(h, send(relay, h, smarthost={"tls_fingerprint": fp}))


def test_tls_fingerprint_pin_mismatch(smarthost, relay):
    h = smarthost(tls="starttls")
    r = send(relay, h, smarthost={"tls_fingerprint": "00" * 32})
    assert_refused_before_auth(h, relay, r)


def clear_host(smarthost, mechanisms):
    """A smarthost without TLS on 127.0.0.1, on a port below 1024."""
    return smarthost(tls="none", mechanisms=mechanisms,
                     port=privileged_port())


def test_auth_in_plaintext_to_loopback_allowed(smarthost, relay):
    # an explicit clear-text mechanism is honoured, to root's loopback port
    h = clear_host(smarthost, ["PLAIN"])
    r = send(relay, h, tls="none", mechanism="plain")
    assert r.rc == 0, r
    assert len(h.messages) == 1, r
    assert h.messages[0].conn.authenticated == USER


def test_auth_auto_without_tls_uses_what_is_offered(smarthost, relay):
    # issue 11: a refused clear-text mechanism can never work, so auto no
    # longer refuses one; it goes only where root listens (conf checks that)
    h = clear_host(smarthost, ["PLAIN", "LOGIN"])
    r = send(relay, h, tls="none")
    assert r.rc == 0, r
    assert h.messages[0].conn.authenticated == USER
    assert h.auth_lines[0].upper().startswith("AUTH PLAIN")


def test_auth_auto_takes_cram_md5_without_tls(smarthost, relay):
    h = clear_host(smarthost, ["LOGIN", "CRAM-MD5"])
    r = send(relay, h, tls="none")
    assert r.rc == 0, r
    assert h.messages[0].conn.authenticated == USER
    assert h.auth_lines[0].upper().startswith("AUTH CRAM-MD5")


@pytest.mark.parametrize("host,mech", [("127.0.0.1", "plain"),
                                       ("localhost", "auto"),
                                       ("::1", "cram-md5")])
def test_auth_without_tls_to_an_unprivileged_port_is_a_config_error(
        smarthost, relay, host, mech):
    """Any local user can listen on 127.0.0.1:2525 while the real relay is
    down: the password would be theirs. Refused before any connection."""
    h = smarthost(tls="none", mechanisms=["PLAIN", "LOGIN", "CRAM-MD5"])
    r = send(relay, h, tls="none", mechanism=mech,
             smarthost={"host": host})
    assert r.rc == 78, r
    assert "[smarthost] port: %d: authentication without TLS is only " \
        "allowed to a port below 1024" % h.port in r.err, r
    assert r.err.count("\n") == 1, r
    assert h.connections == [], "connected despite the configuration error"
    assert not (relay.spool / "q").exists() or \
        list((relay.spool / "q").iterdir()) == []


def test_auth_without_tls_to_a_remote_host_is_a_config_error(relay):
    relay.configure(port=25, tls="none",
                    smarthost={"host": "mail.example.com"})
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 78, r
    assert "authentication without TLS is only allowed to a loopback" \
        in r.err, r


def test_tls_verify_no_alone_is_a_config_error(smarthost, relay):
    """tls_verify = no would trust any certificate: a server with another
    name's certificate would get the password."""
    h = smarthost(tls="starttls")
    r = send(relay, h, smarthost={"tls_verify": "no", "tls_ca_file": None})
    assert r.rc == 78, r
    assert "[smarthost] tls_verify:" in r.err, r
    assert "tls_ca_file" in r.err and "tls_fingerprint" in r.err, r
    assert h.connections == [] and h.auth_lines == []


def test_tls_verify_no_with_a_pin_delivers(smarthost, relay, certs):
    import hashlib
    import ssl
    der = ssl.PEM_cert_to_DER_cert(open(certs.wrong_cert).read())
    h = smarthost(tls="starttls", cert=certs.wrong_cert, key=certs.wrong_key)
    r = send(relay, h, smarthost={"tls_verify": "no", "tls_ca_file": None,
                                  "tls_fingerprint":
                                  hashlib.sha256(der).hexdigest()})
    assert_delivered(h, r)


def test_auth_535_not_delivered(smarthost, relay):
    h = smarthost(tls="starttls", auth_fail=True)
    r = send(relay, h)
    assert h.messages == []
    assert_not_delivered_but_kept(relay, r, RCPT)


def test_auth_plain_exact_argument(smarthost, relay):
    h = smarthost(tls="starttls", mechanisms=["PLAIN"])
    assert_delivered(h, send(relay, h), "PLAIN")
    lines = h.auth_lines
    arg = lines[0].split()[2] if len(lines[0].split()) > 2 else lines[1]
    dec = base64.b64decode(arg)
    assert dec.split(b"\0")[1:] == [USER.encode(), PASSWORD.encode()]


def test_client_certificate_presented(smarthost, relay, certs):
    h = smarthost(tls="starttls", client_ca=certs.ca)
    relay.configure(h, smarthost={"tls_cert_file": certs.client_cert,
                                  "tls_key_file": certs.client_key})
    r = relay.run(["-i", RCPT], input=message())
    assert_delivered(h, r)
    cert = h.messages[0].conn.peercert
    assert cert is not None, "no client certificate reached the server"
    assert ("commonName", "client.example.com") in \
        [x for rdn in cert["subject"] for x in rdn]


def test_helo_fallback_when_ehlo_refused_without_tls(smarthost, relay):
    h = smarthost(tls="none", no_auth=True, refuse_ehlo=True)
    relay.configure(h, tls="none", user=None)
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert len(h.messages) == 1
    verbs = [l.split()[0].upper() for l in h.connections[-1].lines]
    assert "HELO" in verbs, verbs


def test_no_helo_fallback_when_tls_required(smarthost, relay):
    h = smarthost(tls="starttls", refuse_ehlo=True)
    r = send(relay, h)
    assert h.messages == []
    verbs = [l.split()[0].upper() for c in h.connections for l in c.lines]
    assert "MAIL" not in verbs and "AUTH" not in verbs, verbs
    assert_not_delivered_but_kept(relay, r, RCPT)
