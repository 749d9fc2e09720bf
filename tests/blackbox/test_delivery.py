"""SMTP-level delivery outcomes: rejections, SIZE, 8BITMIME, DSN."""

import pytest

from harness import message, split_message


def test_one_of_two_recipients_rejected_550(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    relay.configure(h)
    r = relay.run(["-i", "good@example.org", "bad@example.org"],
                  input=message())
    assert r.rc == 67, r
    assert "550" in r.err, r.err
    assert len(h.messages) == 1
    assert h.messages[0].rcpt_tos == ["good@example.org"]


def test_rejected_recipient_named_on_stderr(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    relay.configure(h)
    r = relay.run(["-i", "good@example.org", "bad@example.org"],
                  input=message())
    assert r.rc == 67, r
    assert "bad@example.org" in r.err, r.err


def test_all_recipients_rejected_exit_67(smarthost, relay):
    h = smarthost(tls="starttls",
                  reject_rcpt={"bad@example.org": "550 5.1.1 no such user"})
    relay.configure(h)
    r = relay.run(["-i", "bad@example.org"], input=message())
    assert r.rc == 67, r
    assert h.messages == []


def test_mail_rejected_550_exit_69(smarthost, relay):
    h = smarthost(tls="starttls", mail_reply="550 5.7.1 sender refused")
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 69, r
    assert "550" in r.err
    assert h.messages == []


def test_data_rejected_554_exit_69(smarthost, relay):
    h = smarthost(tls="starttls", data_reply="554 5.6.0 content refused")
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 69, r
    assert "554" in r.err


def test_size_exceeded_refused_before_data(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["PIPELINING", "SIZE 1000"])
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"],
                  input=message(body="x" * 70 + "\n" * 1 + ("y" * 70 + "\n") * 40))
    assert r.rc == 69, r
    assert h.messages == []
    assert not any(c.upper() == "DATA" for c in h.commands()), h.commands()


def test_size_declared_on_mail(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["PIPELINING", "SIZE 100000"])
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    assert "SIZE=" in h.messages[0].mail_line.upper()


def test_8bit_body_declared_8bitmime(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["8BITMIME"])
    relay.configure(h)
    body = "Gr\u00fc\u00dfe aus K\u00f6ln\n"
    r = relay.run(["-i", "bob@example.org"], input=message(body=body))
    assert r.rc == 0, r
    m = h.messages[0]
    assert "BODY=8BITMIME" in m.mail_line.upper(), m.mail_line
    assert split_message(m.data)[1] == body.replace("\n", "\r\n").encode()


def test_b8bitmime_option_sends_body_param(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["8BITMIME"])
    relay.configure(h)
    r = relay.run(["-B8BITMIME", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    assert "BODY=8BITMIME" in h.messages[0].mail_line.upper()


def test_dsn_parameters_when_offered(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["DSN", "8BITMIME"])
    relay.configure(h)
    r = relay.run(["-N", "success,failure", "-R", "hdrs", "-V", "env42",
                   "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    m = h.messages[0]
    assert "RET=HDRS" in m.mail_line.upper(), m.mail_line
    assert "ENVID=ENV42" in m.mail_line.upper(), m.mail_line
    assert "NOTIFY=SUCCESS,FAILURE" in m.rcpt_lines[0].upper()


@pytest.mark.parametrize("envid,wire", [("a=b+c", "a+3Db+2Bc"),
                                         ("<id@host>", "<id@host>"),
                                         ("x+y", "x+2By")])
def test_envid_goes_out_as_xtext(smarthost, relay, envid, wire):
    """RFC 3461: ENVID is xtext; '+' and '=' are written +2B and +3D."""
    h = smarthost(tls="starttls", extensions=["DSN"])
    relay.configure(h)
    r = relay.run(["-V", envid, "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    line = h.messages[0].mail_line
    assert line.endswith(" ENVID=" + wire) or " ENVID=%s " % wire in line, \
        line


def test_dsn_parameters_not_sent_when_not_offered(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["8BITMIME"])
    relay.configure(h)
    r = relay.run(["-N", "never", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    assert "NOTIFY" not in h.messages[0].rcpt_lines[0].upper()


def mail_followed_by_buffered_bytes(h):
    c = h.messages[0].conn
    i = max(i for i, l in enumerate(c.lines) if l.upper().startswith("MAIL"))
    return c.buffered[i]


def test_pipelining_used_when_offered(smarthost, relay):
    """MAIL, RCPTs and DATA in one write: they are there when MAIL is read."""
    h = smarthost(tls="starttls", extensions=["PIPELINING"])
    relay.configure(h)
    r = relay.run(["-i", "a@example.org", "b@example.org"], input=message())
    assert r.rc == 0, r
    assert h.messages[0].rcpt_tos == ["a@example.org", "b@example.org"]
    assert mail_followed_by_buffered_bytes(h) > 0


def test_no_pipelining_when_not_offered(smarthost, relay):
    h = smarthost(tls="starttls", extensions=["8BITMIME"],
                  stall={"mail": 0.2})
    relay.configure(h)
    r = relay.run(["-i", "a@example.org", "b@example.org"], input=message())
    assert r.rc == 0, r
    assert h.messages[0].rcpt_tos == ["a@example.org", "b@example.org"]
    assert mail_followed_by_buffered_bytes(h) == 0


def test_server_text_made_printable(smarthost, relay):
    h = smarthost(tls="starttls", reject_rcpt={
        "bad@example.org": "550 5.1.1 bad\x1b[2J\x07\x1b]0;owned\x07 user"})
    relay.configure(h)
    r = relay.run(["-i", "good@example.org", "bad@example.org"],
                  input=message())
    assert r.rc == 67, r
    assert "\x1b" not in r.err and "\x07" not in r.err, repr(r.err)
    assert "\x1b" not in relay.log_text()
    q = relay.mailq()
    assert "\x1b" not in q.out


def test_malformed_reply_refused(rawserver, relay):
    s = rawserver("malformed")
    relay.configure(port=s.port, tls="none", user=None)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert s.datas == []
    assert r.rc != 0 or "bob@example.org" in relay.mailq().out, r


def test_permanent_failure_kept_in_failed(smarthost, relay):
    h = smarthost(tls="starttls", mail_reply="550 5.7.1 sender refused")
    relay.configure(h)
    r = relay.run(["-i", "bob@example.org"], input=message())
    assert r.rc == 69, r
    failed = relay.spool / "failed"
    assert failed.is_dir() and any(failed.rglob("*")), \
        list(relay.spool.rglob("*"))


def test_quit_sent_with_the_end_of_data_in_sync_mode(smarthost, relay):
    # one write carries ".", then QUIT: the 250 is the last reply waited for
    h = smarthost(tls="starttls")
    relay.configure(h)
    r = relay.run(["-v", "-i", "bob@example.org"], input=message())
    assert r.rc == 0, r
    lines = [l for l in r.err.splitlines() if l[:2] in ("> ", "< ")]
    dot = lines.index("> .")
    assert lines[dot + 1] == "> QUIT", lines[dot:]
    assert lines[dot + 2].startswith("< 250"), lines[dot:]
    assert len(h.messages) == 1
