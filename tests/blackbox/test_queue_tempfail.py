"""Temporary failures are queued (exit 0, notice, mailq), then delivered."""

import os
import socket
import subprocess

import pytest

from harness import assert_queued, message

RCPT = "bob@example.org"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_smarthost_down_queued_then_flushed(smarthost, relay):
    port = free_port()
    relay.configure(port=port, tls="starttls")
    r = relay.run(["-i", RCPT], input=message(body="queued body\n"))
    assert_queued(relay, r, RCPT)
    h = smarthost(tls="starttls", port=port)
    f = relay.flush()
    assert f.rc == 0, f
    assert len(h.messages) == 1
    assert h.messages[0].data.endswith(b"queued body\r\n")
    assert "Mail queue is empty" in relay.mailq().out


def test_mail_451_queued(smarthost, relay):
    h = smarthost(tls="starttls", mail_reply="451 4.3.0 try later")
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=message())
    q = assert_queued(relay, r, RCPT)
    assert "451" in q.out, q.out
    h.opts["mail_reply"] = None
    f = relay.flush()
    assert f.rc == 0, f
    assert len(h.messages) == 1
    assert "Mail queue is empty" in relay.mailq().out


def test_auth_535_queued(smarthost, relay):
    h = smarthost(tls="starttls", auth_fail=True)
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=message())
    assert_queued(relay, r, RCPT)
    h.opts["auth_fail"] = False
    f = relay.flush()
    assert f.rc == 0, f
    assert len(h.messages) == 1


def test_421_mid_session_queued(smarthost, relay):
    h = smarthost(tls="starttls", close_after=4)
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=message())
    assert_queued(relay, r, RCPT)
    h.opts["close_after"] = None
    assert relay.flush().rc == 0
    assert len(h.messages) == 1


def test_rcpt_450_queued(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={RCPT: "450 4.2.0 mailbox busy"})
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=message())
    assert_queued(relay, r, RCPT)


def test_timeout_queued(smarthost, relay):
    h = smarthost(tls="starttls", stall={"greeting": 8})
    relay.configure(h, smarthost={"timeout": "2s"})
    r = relay.run(["-i", RCPT], input=message(), timeout=60)
    assert_queued(relay, r, RCPT)


def test_tls_failure_queued(smarthost, relay, certs):
    h = smarthost(tls="starttls", cert=certs.untrusted_cert,
                  key=certs.untrusted_key)
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=message())
    assert_queued(relay, r, RCPT)
    assert h.auth_lines == []


def test_closed_after_data_not_lost(smarthost, relay):
    h = smarthost(tls="starttls", close_after_data=True)
    relay.configure(h)
    r = relay.run(["-i", RCPT], input=message())
    assert_queued(relay, r, RCPT)   # a duplicate is acceptable, a loss not


def test_mailq_empty(relay):
    relay.configure(port=free_port(), tls="starttls")
    q = relay.mailq()
    assert q.rc == 0, q
    assert "Mail queue is empty" in q.out


def test_mailq_postfix_format(relay):
    relay.configure(port=free_port(), tls="starttls")
    r = relay.run(["-f", "sender@example.com", "-i", RCPT], input=message())
    assert r.rc == 0, r
    out = relay.mailq().out
    lines = out.splitlines()
    assert lines[0].startswith("-Queue ID-"), out
    assert "sender@example.com" in lines[1], out
    assert any(l.strip().startswith("(") for l in lines), out
    assert any(l.strip() == RCPT for l in lines), out
    assert lines[-1].startswith("-- ") and "1 Request." in lines[-1], out


def test_queue_mode_odq_then_q(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    r = relay.run(["-odq", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert h.messages == []
    assert RCPT in relay.mailq().out
    assert relay.flush().rc == 0
    assert len(h.messages) == 1


def test_deferred_but_not_queueable_is_73_not_0(relay):
    """A sync send keeps the message in tmp/ while it tries the smarthost;
    when that attempt fails and the queue then refuses the message (here q/
    is immutable), exit 0 would be a lie: 73, and nothing left behind."""
    relay.configure(port=free_port(), tls="starttls")
    relay.run(["-odq", "-i", RCPT], input=message())   # the spool exists
    ids = os.listdir(relay.spool / "q")
    q = relay.spool / "q"
    if subprocess.run(["chattr", "+i", str(q)], capture_output=True).returncode:
        pytest.skip("chattr +i is not supported here")
    try:
        r = relay.run(["-i", RCPT], input=message())
    finally:
        subprocess.run(["chattr", "-i", str(q)], check=True)
    assert r.rc == 73, r
    assert "could not be queued" in r.err and "Connection refused" in r.err, r.err
    assert os.listdir(q) == ids
    assert os.listdir(relay.spool / "tmp") == []
