"""The test smarthost itself, driven by Python's smtplib (no relaymail)."""

import base64
import socket
import smtplib
import ssl
import time

import pytest

from harness import PASSWORD, USER


def client_ctx(certs):
    return ssl.create_default_context(cafile=certs.ca)


def test_selftest_starttls_plain(smarthost, certs):
    h = smarthost(tls="starttls", mechanisms=["PLAIN"])
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        s.starttls(context=client_ctx(certs))
        s.ehlo("client.test")
        assert s.esmtp_features["auth"].split() == ["PLAIN"]
        s.login(USER, PASSWORD)
        s.sendmail("a@example.com", ["b@example.org"], b"Subject: x\r\n\r\nhi\r\n")
    assert len(h.messages) == 1
    m = h.messages[0]
    assert m.mail_from == "a@example.com"
    assert m.rcpt_tos == ["b@example.org"]
    assert m.data == b"Subject: x\r\n\r\nhi\r\n"
    assert m.conn.tls and m.conn.authenticated == USER
    want = base64.b64encode(b"\0" + USER.encode() + b"\0" +
                            PASSWORD.encode()).decode()
    assert h.auth_lines == ["AUTH PLAIN " + want]


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5"])
def test_selftest_each_mechanism(smarthost, certs, mech):
    h = smarthost(tls="starttls")
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        s.ehlo("client.test")
        s.user, s.password = USER, PASSWORD
        method = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login,
                  "CRAM-MD5": s.auth_cram_md5}[mech]
        code, _ = s.auth(mech, method, initial_response_ok=False)
        assert code == 235
        s.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
    assert h.messages[0].conn.authenticated == USER
    assert h.auth_lines[0] == "AUTH " + mech


def test_selftest_wrong_password_535(smarthost, certs):
    h = smarthost(tls="starttls")
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            s.login(USER, "nope")
        assert e.value.smtp_code == 535


def test_selftest_auth_fail_option(smarthost, certs):
    h = smarthost(tls="starttls", auth_fail=True)
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login(USER, PASSWORD)


def test_selftest_auth_required_before_mail(smarthost, certs):
    h = smarthost(tls="starttls")
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        s.ehlo("c")
        code, _ = s.mail("a@example.com")
        assert code == 530


def test_selftest_starttls_required(smarthost):
    h = smarthost(tls="starttls")
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.ehlo("c")
        code, _ = s.docmd("AUTH PLAIN AGZvbwBiYXI=")
        assert code == 530
    assert h.auth_lines == ["AUTH PLAIN AGZvbwBiYXI="]


def test_selftest_implicit_tls(smarthost, certs):
    h = smarthost(tls="tls")
    with smtplib.SMTP_SSL("127.0.0.1", h.port, timeout=10,
                          context=client_ctx(certs)) as s:
        s.login(USER, PASSWORD)
        s.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
    assert h.messages[0].conn.tls


def test_selftest_seed_session(smarthost, certs):
    g = "Welcome to coremail System(With Anti-Spam) 2.1"
    h = smarthost(tls="starttls", greeting=g, mechanisms=["LOGIN"],
                  extensions=["PIPELINING", "SIZE 10240000", "ETRN",
                              "8BITMIME"])
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        s.ehlo("263.NET")
        assert s.esmtp_features["auth"].strip() == "LOGIN"
        assert s.esmtp_features["size"] == "10240000"
        s.user, s.password = USER, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        assert code == 235
    assert h.auth_lines == ["AUTH LOGIN", "bXlhY2NvdW50", "bXlwYXNzd29yZA=="]
    raw = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    assert raw.recv(200) == b"220 " + g.encode() + b"\r\n"
    raw.close()


def test_selftest_auth_eq_login_line(smarthost, certs):
    h = smarthost(tls="starttls", mechanisms=["LOGIN"], auth_eq_login=True)
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        code, text = s.ehlo("c")
        assert b"AUTH=LOGIN" in text


def test_selftest_rcpt_reject_and_data_bytes(smarthost, certs):
    h = smarthost(tls="starttls",
                  reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    body = b"Subject: dots\r\n\r\n.leading dot\r\n8bit \xe9\xff\r\n\r\n"
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.starttls(context=client_ctx(certs))
        s.login(USER, PASSWORD)
        refused = s.sendmail("a@example.com",
                             ["good@example.org", "bad@example.org"], body)
        assert refused == {"bad@example.org": (550, b"5.1.1 no such user")}
    m = h.messages[0]
    assert m.rcpt_tos == ["good@example.org"]
    assert len(m.rcpt_lines) == 2
    assert m.data == body


def test_selftest_mail_451_and_close_after(smarthost, certs):
    h = smarthost(tls="none", no_auth=True, mail_reply="451 4.3.0 later")
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.ehlo("c")
        code, _ = s.mail("a@example.com")
        assert code == 451
    h2 = smarthost(tls="none", no_auth=True, close_after=1)
    with smtplib.SMTP("127.0.0.1", h2.port, timeout=10) as s:
        s.ehlo("c")
        code, _ = s.docmd("NOOP")
        assert code == 421


def test_selftest_close_after_data(smarthost):
    h = smarthost(tls="none", no_auth=True, close_after_data=True)
    with pytest.raises(smtplib.SMTPServerDisconnected):
        with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
            s.sendmail("a@example.com", ["b@example.org"], b"x\r\n")
    assert len(h.messages) == 1


def test_selftest_stall_greeting(smarthost):
    h = smarthost(tls="none", no_auth=True, stall={"greeting": 1.0})
    t = time.monotonic()
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.noop()
    assert time.monotonic() - t >= 0.9


def test_selftest_size_dsn_params(smarthost):
    h = smarthost(tls="none", no_auth=True,
                  extensions=["SIZE 100", "DSN", "8BITMIME"])
    with smtplib.SMTP("127.0.0.1", h.port, timeout=10) as s:
        s.ehlo("c")
        assert s.esmtp_features["size"] == "100"
        code, _ = s.mail("a@example.com", ["SIZE=1000"])
        assert code == 552
        code, _ = s.mail("a@example.com", ["RET=HDRS", "ENVID=x1",
                                           "BODY=8BITMIME"])
        assert code == 250
        code, _ = s.rcpt("b@example.org", ["NOTIFY=NEVER"])
        assert code == 250
    assert "RET=HDRS" in h.commands()[-2] or \
        any("RET=HDRS" in c for c in h.commands())


def test_selftest_naive_server_is_smugglable(rawserver):
    """The naive server really ends data at <LF>.<CR><LF> (the probe works)."""
    r = rawserver("naive")
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO c\r\n")
    while f.readline()[3:4] == b"-":
        pass
    s.sendall(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
    for _ in range(3):
        f.readline()
    s.sendall(b"hi\n.\r\nMAIL FROM:<evil@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n"
              b"smuggled\r\n.\r\nQUIT\r\n")
    while f.readline():
        pass
    s.close()
    assert r.transactions == 2
    assert r.datas == [b"hi", b"smuggled"]


def test_selftest_inject_server(rawserver, certs):
    r = rawserver("inject")
    s = socket.create_connection(("127.0.0.1", r.port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"EHLO c\r\n")
    while f.readline()[3:4] == b"-":
        pass
    s.sendall(b"STARTTLS\r\n")
    assert f.readline() == b"220 go ahead\r\n"
    assert f.readline() == b"250 injected\r\n"
    s.close()
