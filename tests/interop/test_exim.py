"""relaymail against a real Exim 4 smarthost (see exim_instance.py).

Each mail is read back from the Maildir Exim wrote; Exim's mainlog says
which protocol (esmtpsa: ESMTP, TLS, authenticated), authenticator and
connection it saw. Exim offers PIPELINING and CHUNKING: relaymail sends
BDAT, pipelines a queue run, and QUITs with the last data.
"""

import re

import pytest

from test_postfix import (head_and_body, header_values,
                          queue_with_wrong_password, simple_mail, token)

EXIM_ID = r"[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}"


def received_by_exim(mail):
    """Exim's own Received: field of a delivered mail."""
    for value in header_values(mail, "Received"):
        if "by mx.interop.test with" in value:
            return value
    return None


@pytest.mark.parametrize("tls", ["starttls", "tls"])
@pytest.mark.parametrize("mechanism", ["plain", "login"])
def test_sync_send_with_each_mechanism(exim, relay, tls, mechanism):
    tok = token()
    relay.configure(exim, tls=tls, mechanism=mechanism)
    r = relay.run(["-t", "-i", "-f", "alice@interop.test"],
                  simple_mail(tok, extra="Cc: dave@interop.test\n"))
    assert r.rc == 0, r
    assert "queued" not in r.err, r
    for box in ("bob", "dave"):
        mail = exim.wait_for(box, tok)
        assert mail is not None, "no mail with %s for %s" % (tok, box)
        assert header_values(mail, "Subject") == ["interop " + tok]
        assert ("Hello through Postfix, %s." % tok).encode() in \
            head_and_body(mail)[1]
    received = received_by_exim(exim.wait_for("bob", tok))
    assert received and "with esmtpsa" in received, received
    assert "(TLS1." in received, received
    # Exim's log: authenticated by this authenticator, as our user
    log = "\n".join(l for l in exim.log_text().splitlines()
                    if "A=%s:%s" % (mechanism, exim.user) in l)
    assert "P=esmtpsa" in log, exim.log_text()[-2000:]
    q = relay.mailq()
    assert q.rc == 0 and "Mail queue is empty" in q.out, q


def test_queue_run_sends_several_messages_in_one_session(exim, relay):
    toks = [token() for _ in range(4)]
    relay.configure(exim, queue={"mode": "queue"})
    for tok in toks:
        r = relay.run(["-t", "-i"], simple_mail(tok))
        assert r.rc == 0, r
    assert "4 Requests." in relay.mailq().out
    f = relay.run(["-q"])
    assert f.rc == 0, f
    for tok in toks:
        assert exim.wait_for("bob", tok) is not None, tok
    assert "Mail queue is empty" in relay.mailq().out
    # one connection: Exim's ids carry the pid of the process that took
    # the message (base 62, the middle part), one process per connection
    pids = set()
    for tok in toks:
        received = received_by_exim(exim.wait_for("bob", tok))
        m = re.search(r" id (%s)" % EXIM_ID, received or "")
        assert m, received
        pids.add(m.group(1).split("-")[1])
    assert len(pids) == 1, pids


def test_wrong_password_is_queued_then_sent(exim, relay):
    tok = queue_with_wrong_password(exim, relay)
    assert "1 Request." in relay.mailq().out
    assert exim.wait_for("bob", tok, timeout=1) is None
    relay.configure(exim)
    f = relay.run(["-q"])
    assert f.rc == 0, f
    assert exim.wait_for("bob", tok) is not None
    assert "Mail queue is empty" in relay.mailq().out


def test_unknown_user_is_refused_for_good(exim, relay):
    relay.configure(exim)
    r = relay.run(["-i", "nobody-here@interop.test"],
                  simple_mail(token(), to="nobody-here@interop.test"))
    assert r.rc == 67, r
    assert "550" in r.err and "User unknown" in r.err, r
