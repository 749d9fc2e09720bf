"""relaymail against a real Postfix smarthost (see conftest.py).

Each mail is read back from the Maildir that Postfix's virtual(8) agent
wrote, and Postfix's own log says which port, TLS and SASL mechanism it saw.
"""

import re
import subprocess
import time
import uuid

import pytest

MECHANISMS = ["plain", "login", "cram-md5"]
TLS_MODES = ["starttls", "tls"]
SERVICE = {"starttls": "postfix/starttls", "tls": "postfix/smtps"}


def token():
    return "tok-" + uuid.uuid4().hex


def head_and_body(mail):
    """(header block, body) of a delivered mail (Postfix writes LF)."""
    head, _, body = mail.replace(b"\r\n", b"\n").partition(b"\n\n")
    return head.decode("utf-8", "replace"), body


def header_values(mail, name):
    head, _ = head_and_body(mail)
    unfolded = re.sub(r"\n[ \t]+", " ", head)
    pat = re.compile(r"^%s:[ \t]*(.*)$" % re.escape(name), re.I | re.M)
    return [m.group(1).strip() for m in pat.finditer(unfolded)]


def postfix_queue_id(mail):
    """The id Postfix gave the mail, from its own Received: field."""
    for value in header_values(mail, "Received"):
        m = re.search(r"by mx\.interop\.test \(Postfix\) with (\S+) id "
                      r"([0-9A-Za-z]+)", value)
        if m:
            return m.group(1), m.group(2), value
    return None, None, None


def smtpd_log_line(pf, qid, timeout=10):
    """Postfix's smtpd log line 'QID: client=...' (it may lag a little)."""
    pat = re.compile(r"(postfix/\S+)/smtpd\[\d+\]: %s: client=(.*)$"
                     % re.escape(qid), re.M)
    deadline = time.monotonic() + timeout
    while True:
        m = pat.search(pf.maillog_text())
        if m or time.monotonic() > deadline:
            return m
        time.sleep(0.1)


def simple_mail(tok, to="bob@interop.test", extra=""):
    return ("From: Alice <alice@interop.test>\n"
            "To: %s\n%s"
            "Subject: interop %s\n"
            "\n"
            "Hello through Postfix, %s.\n" % (to, extra, tok, tok))


@pytest.mark.parametrize("tls", TLS_MODES)
@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_delivers_with_each_mechanism_and_tls_mode(postfix, relay, tls,
                                                    mechanism):
    tok = token()
    relay.configure(postfix, tls=tls, mechanism=mechanism)
    msg = simple_mail(tok, extra="Cc: dave@interop.test\n"
                      "Bcc: carol@interop.test\n")
    r = relay.run(["-t", "-i", "-f", "alice@interop.test"], msg)
    assert r.rc == 0, r
    assert "queued" not in r.err, r

    for box in ("bob", "dave", "carol"):
        mail = postfix.wait_for(box, tok)
        assert mail is not None, "no mail with %s in %s's Maildir" % (tok, box)
        assert header_values(mail, "Subject") == ["interop " + tok]
        _, body = head_and_body(mail)
        assert ("Hello through Postfix, %s." % tok).encode() in body
        assert header_values(mail, "Bcc") == [], mail
        if box != "carol":
            assert "carol@interop.test" not in head_and_body(mail)[0], mail
        assert header_values(mail, "Return-Path") == ["<alice@interop.test>"]
        assert header_values(mail, "Delivered-To") == [
            "%s@interop.test" % box]

    # what Postfix saw: TLS, SASL with this mechanism, on this port
    mail = postfix.wait_for("bob", tok)
    proto, qid, received = postfix_queue_id(mail)
    assert qid, mail
    assert proto == "ESMTPSA", received
    assert "using TLS" in received, received
    line = smtpd_log_line(postfix, qid)
    assert line, "no smtpd log line for %s" % qid
    assert line.group(1) == SERVICE[tls], line.group(0)
    assert "sasl_method=%s," % mechanism.upper() in line.group(2), \
        line.group(0)
    assert "sasl_username=%s@interop.test" % postfix.user in line.group(2)

    q = relay.mailq()
    assert q.rc == 0 and "Mail queue is empty" in q.out, q


def queue_with_wrong_password(smarthost, relay):
    """Send with a wrong password: 535, kept in the queue (exit 0); the
    message's token."""
    tok = token()
    relay.configure(smarthost, password="not-the-password")
    r = relay.run(["-t", "-i"], simple_mail(tok))
    assert r.rc == 0 and "535" in r.err, r
    return tok


def test_wrong_password_is_queued_and_listed(postfix, relay):
    tok = queue_with_wrong_password(postfix, relay)
    q = relay.mailq()
    assert q.rc == 0, q
    assert "bob@interop.test" in q.out, q
    assert "535" in q.out, q
    assert "1 Request." in q.out, q
    assert re.search(r"SASL \S+ authentication failed",
                     postfix.maillog_text())
    assert postfix.wait_for("bob", tok, timeout=1) is None


def test_queued_message_goes_out_once_the_password_is_right(postfix, relay):
    tok = token()
    relay.configure(postfix, tls="tls", password="not-the-password")
    r = relay.run(["-t", "-i"], simple_mail(tok))
    assert r.rc == 0 and "1 Request." in relay.mailq().out, r
    relay.configure(postfix, tls="tls")
    f = relay.run(["-q"])
    assert f.rc == 0, f
    mail = postfix.wait_for("bob", tok)
    assert mail is not None
    assert header_values(mail, "Subject") == ["interop " + tok]
    assert "Mail queue is empty" in relay.mailq().out


def test_unknown_local_user_is_rejected_with_67(postfix, relay):
    tok = token()
    relay.configure(postfix)
    r = relay.run(["-i", "nosuch@interop.test"], simple_mail(
        tok, to="nosuch@interop.test"))
    assert r.rc == 67, r
    assert "550" in r.err and "nosuch@interop.test" in r.err, r
    assert "User unknown" in r.err, r
    assert "Mail queue is empty" in relay.mailq().out
    failed = relay.spool / "failed"
    assert failed.is_dir() and any(failed.iterdir()), \
        "the refused message is not kept under failed/"


def test_rejected_recipient_does_not_stop_the_others(postfix, relay):
    tok = token()
    relay.configure(postfix, tls="tls", mechanism="login")
    r = relay.run(["-t", "-i"], simple_mail(
        tok, to="nosuch@interop.test, bob@interop.test"))
    assert r.rc == 67, r
    assert "nosuch@interop.test" in r.err, r
    mail = postfix.wait_for("bob", tok)
    assert mail is not None, "the accepted recipient got nothing"


def test_postfix_refuses_a_client_that_does_not_authenticate(postfix, relay):
    # proves the set-up: without AUTH this Postfix relays nothing
    tok = token()
    relay.configure(postfix, mechanism="none")
    r = relay.run(["-i", "bob@interop.test"], simple_mail(tok))
    assert r.rc == 67, r
    assert "554" in r.err and "Access denied" in r.err, r
    assert postfix.wait_for("bob", tok, timeout=1) is None


def test_certificate_is_verified_against_postfix(postfix, relay):
    # the system trust store does not know the test CA: not sent, queued
    tok = token()
    relay.configure(postfix, tls="tls", ca=False)
    r = relay.run(["-t", "-i"], simple_mail(tok))
    assert r.rc == 0, r
    q = relay.mailq()
    assert "bob@interop.test" in q.out and "1 Request." in q.out, q
    assert postfix.wait_for("bob", tok, timeout=1) is None


def test_body_bytes_survive_postfix(postfix, relay):
    tok = token()
    relay.configure(postfix)
    body = (".leading dot %s\n"
            "..two dots\n"
            "caf\u00e9 \u00fcber 8-bit\n"
            ".\n"
            "after a lone dot\n" % tok)
    msg = ("From: alice@interop.test\nTo: bob@interop.test\n"
           "Subject: bytes %s\nContent-Type: text/plain; charset=utf-8\n"
           "Content-Transfer-Encoding: 8bit\n\n" % tok) + body
    r = relay.run(["-t", "-i"], msg.encode("utf-8"))
    assert r.rc == 0, r
    mail = postfix.wait_for("bob", tok)
    assert mail is not None
    assert head_and_body(mail)[1] == body.encode("utf-8")


def test_bs_session_relays_through_postfix(postfix, relay):
    toks = [token(), token()]
    relay.configure(postfix, mechanism="cram-md5")
    dialogue = "EHLO client.example\r\n"
    for i, tok in enumerate(toks):
        dialogue += ("MAIL FROM:<alice@interop.test>\r\n"
                     "RCPT TO:<%s@interop.test>\r\n"
                     "DATA\r\n"
                     "From: alice@interop.test\r\n"
                     "To: bob@interop.test\r\n"
                     "Subject: bs %s\r\n\r\n"
                     "message %d %s\r\n.\r\n"
                     % (("bob", "dave")[i], tok, i, tok))
    dialogue += "QUIT\r\n"
    r = relay.run(["-bs"], dialogue)
    assert r.rc == 0, r
    assert len(re.findall(r"^250 .*queued as", r.out, re.M)) == 2, r
    assert postfix.wait_for("bob", toks[0]) is not None
    assert postfix.wait_for("dave", toks[1]) is not None


def test_postfix_listens_on_loopback_only(postfix):
    pid = postfix.master_pid()
    assert pid
    out = subprocess.run(["ss", "-H", "-l", "-n", "-t", "-u", "-p"],
                         stdout=subprocess.PIPE, text=True, timeout=30,
                         check=True).stdout
    ours = [ln for ln in out.splitlines() if "pid=%d," % pid in ln]
    ports = sorted(int(ln.split()[4].rsplit(":", 1)[1]) for ln in ours)
    assert ports == sorted([postfix.starttls_port, postfix.tls_port]), out
    for ln in ours:
        assert ln.split()[4].startswith("127.0.0.1:"), ln


def test_queued_message_refused_later_bounces_to_sender(postfix, relay):
    # -odq, then -q meets Postfix's 550: an RFC 3464 report goes back to
    # the envelope sender through the same smarthost
    tok = token()
    relay.configure(postfix)
    r = relay.run(["-odq", "-i", "-f", "alice@interop.test",
                   "nosuch@interop.test"],
                  simple_mail(tok, to="nosuch@interop.test"))
    assert r.rc == 0, r
    assert "1 Request." in relay.mailq().out
    relay.run(["-q"])
    assert "Mail queue is empty" in relay.mailq().out
    report = postfix.wait_for("alice", tok)
    assert report is not None, "no bounce in alice's Maildir"
    ctype = " ".join(header_values(report, "Content-Type"))
    assert "multipart/report" in ctype and "delivery-status" in ctype, ctype
    assert header_values(report, "Return-Path") == ["<>"], report
    _, body = head_and_body(report)
    assert b"Final-Recipient: rfc822; nosuch@interop.test" in body or \
        b"Final-Recipient: rfc822;nosuch@interop.test" in body, body
    assert b"Action: failed" in body, body
    assert b"550" in body, body
