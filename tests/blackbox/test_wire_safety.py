"""Wire safety, proven (issue 5 point 6; SPEC "Command line", "The message").

Whatever a caller, a message, a configuration, a -bs client or a smarthost
does, nothing it controls becomes an extra SMTP command, an extra message
or an unbounded wait or allocation:

- CR / LF / NUL injection through every option that reaches the wire or a
  header, every header that feeds the envelope with -t, alias values and
  -bs commands: refused with the right exit status or reply, and the
  smarthost's recorded commands hold nothing extra;
- SMTP smuggling in both directions: what we send to a naive server, and
  what -bs accepts;
- STARTTLS response injection: the session is abandoned, nothing sent;
- a hostile smarthost (hostile.py): endless lines, a 10 MB reply, invalid
  multi-line replies, stalls: relaymail gives up within its timeout, the
  message is queued, and its peak RSS stays under 16 MB.
"""

import os
import re
import time

import pytest

from conftest import is_sanitized, sendmail_path
from harness import assert_queued, message
from hostile import HostileServer

RCPT = "bob@example.org"
EVIL = "evil@example.net"
TIMEOUT_S = 2                   # [smarthost] timeout for hostile servers
# the margin over TIMEOUT_S: a step may time out, then QUIT may wait once more
SLOW = bool(os.environ.get("RELAYMAIL_SLOW"))   # valgrind: everything slower
MARGIN_S = 20.0 if SLOW else TIMEOUT_S + 2.0
RSS_MAX_KB = 16 * 1024
RUN_LIMIT = 120 if SLOW else 20  # a hang fails the test instead of blocking


# --- helpers ----------------------------------------------------------------

@pytest.fixture
def host(smarthost, relay):
    """A plain smarthost without TLS or AUTH: only the commands matter here."""
    h = smarthost(tls="none", no_auth=True)
    relay.configure(h)
    return h


VERB = re.compile(r"^(EHLO|HELO|MAIL|RCPT|DATA|QUIT|RSET|NOOP|STARTTLS|AUTH)"
                  r"( |$)", re.I)
PATH = re.compile(r"^(MAIL FROM|RCPT TO):<[^<>\s\x00-\x1f\x7f]*>( [A-Z0-9=.,;+-]+)*$",
                  re.I)


def assert_clean_wire(host, messages):
    """The smarthost saw exactly `messages` MAIL commands, each command line
    is a known verb with nothing smuggled, and the evil address never
    became a recipient."""
    cmds = host.commands()
    for line in cmds:
        assert "\r" not in line and "\n" not in line and "\0" not in line, cmds
        assert VERB.match(line), cmds
        if line[:4].upper() in ("MAIL", "RCPT"):
            assert PATH.match(line), cmds
    mails = [c for c in cmds if c[:4].upper() == "MAIL"]
    assert len(mails) == messages, cmds
    assert len(host.messages) == messages, host.messages
    for m in host.messages:
        assert EVIL not in m.rcpt_tos, m.rcpt_tos


def assert_refused(r, host, codes=(64, 65)):
    """Refused with a usage or data error, an explanation, nothing sent."""
    assert r.rc in codes, r
    assert r.err.strip(), r
    assert not any(c[:4].upper() in ("MAIL", "RCPT", "DATA")
                   for c in host.commands()), host.commands()
    assert host.messages == []


def bs_session(relay, script, timeout=RUN_LIMIT):
    """Run sendmail -bs with the whole script on stdin: (Result, [replies])."""
    r = relay.run(["-bs"], input=script, timeout=timeout)
    replies = [l for l in r.out.split("\r\n") if l]
    return r, replies


def codes(replies):
    """The reply codes of the final lines ("250 ...", not "250-...")."""
    return [l[:3] for l in replies if len(l) >= 4 and l[3] == " "]


# --- 1. injection through command-line options ---------------------------------

INJECT = ["\r\nRCPT TO:<%s>" % EVIL, "\nRCPT TO:<%s>" % EVIL,
          "\rRCPT TO:<%s>" % EVIL]
INJECT_IDS = ["crlf", "lf", "cr"]


@pytest.mark.parametrize("inj", INJECT, ids=INJECT_IDS)
@pytest.mark.parametrize("opt", ["-f", "-r"])
def test_sender_option_injection_refused(host, relay, opt, inj):
    r = relay.run([opt, "alice@example.com" + inj, "-i", RCPT],
                  input=message())
    assert_refused(r, host)


@pytest.mark.parametrize("inj", INJECT, ids=INJECT_IDS)
def test_sender_option_glued_injection_refused(host, relay, inj):
    r = relay.run(["-falice@example.com" + inj, "-i", RCPT], input=message())
    assert_refused(r, host)


@pytest.mark.parametrize("inj", ["\r\nBcc: %s" % EVIL, "\nBcc: %s" % EVIL,
                                 "\rBcc: %s" % EVIL],
                         ids=INJECT_IDS)
def test_F_injection_refused(host, relay, inj):
    """-F reaches the added From: header; SPEC: refused, never sent."""
    r = relay.run(["-F", "Evil" + inj, "-f", "alice@example.com", "-i",
                   RCPT], input=message(sender=None))
    assert_refused(r, host)


@pytest.mark.parametrize("inj", INJECT, ids=INJECT_IDS)
@pytest.mark.parametrize("opt,good", [("-V", "envid1"), ("-N", "never"),
                                      ("-N", "success,failure"),
                                      ("-R", "hdrs"), ("-B", "8BITMIME")])
def test_dsn_and_body_option_injection_refused(host, relay, opt, good, inj):
    """-V/-N/-R/-B become MAIL/RCPT parameters: CR/LF there is refused
    (usage error) whether or not the smarthost offers DSN."""
    r = relay.run([opt, good + inj, "-i", RCPT], input=message())
    assert_refused(r, host, codes=(64,))


@pytest.mark.parametrize("opt,good", [("-V", "envid1"), ("-N", "never"),
                                      ("-R", "hdrs"), ("-B", "8BITMIME")])
def test_dsn_option_injection_refused_with_dsn_offered(smarthost, relay,
                                                       opt, good):
    h = smarthost(tls="none", no_auth=True,
                  extensions=["PIPELINING", "8BITMIME", "DSN"])
    relay.configure(h)
    r = relay.run([opt, good + "\r\nRCPT TO:<%s>" % EVIL, "-i", RCPT],
                  input=message())
    assert_refused(r, h, codes=(64,))


@pytest.mark.parametrize("inj", INJECT, ids=INJECT_IDS)
def test_recipient_argument_injection_refused(host, relay, inj):
    r = relay.run(["-i", RCPT + inj], input=message())
    assert_refused(r, host)


@pytest.mark.parametrize("inj", INJECT, ids=INJECT_IDS)
def test_comma_list_recipient_injection_refused(host, relay, inj):
    """cron's MAILTO-style list: one poisoned element refuses the lot."""
    r = relay.run(["-i", "carol@example.org," + RCPT + inj], input=message())
    assert_refused(r, host)


def test_recipient_starting_with_dash_after_comma_refused(host, relay):
    r = relay.run(["-i", "--", RCPT + ",-oQ/tmp/x"], input=message())
    assert_refused(r, host)


def test_clean_options_still_work(host, relay):
    """The control case: the same options without injection deliver."""
    r = relay.run(["-f", "alice@example.com", "-F", "Alice", "-V", "envid1",
                   "-N", "never", "-R", "hdrs", "-B", "8BITMIME", "-i",
                   "carol@example.org," + RCPT], input=message(sender=None))
    assert r.rc == 0, r
    assert_clean_wire(host, 1)
    assert sorted(host.messages[0].rcpt_tos) == sorted(["carol@example.org",
                                                        RCPT])


# --- 2. headers that feed the envelope with -t ----------------------------------

def t_message(fields):
    return ("From: alice@example.com\n" + "".join(f + "\n" for f in fields) +
            "Subject: t\nDate: Fri, 27 Nov 2026 03:00:00 +0000\n"
            "Message-ID: <ws@example.com>\n\nbody\n")


T_FIELDS = {
    # an address with an embedded bare CR, then a fake command
    "to-cr": ["To: %s\rRCPT TO:<%s>" % (RCPT, EVIL)],
    "cc-cr": ["To: %s" % RCPT, "Cc: carol@example.org\rRCPT TO:<%s>" % EVIL],
    "bcc-cr": ["To: %s" % RCPT, "Bcc: dan@example.org\rRCPT TO:<%s>" % EVIL],
    "resent-to-cr": ["To: %s" % RCPT,
                     "Resent-To: %s\rRCPT TO:<%s>" % (RCPT, EVIL)],
    "resent-cc-cr": ["To: %s" % RCPT, "Resent-To: %s" % RCPT,
                     "Resent-Cc: c@example.org\rRCPT TO:<%s>" % EVIL],
    "resent-bcc-cr": ["To: %s" % RCPT, "Resent-To: %s" % RCPT,
                      "Resent-Bcc: d@example.org\rRCPT TO:<%s>" % EVIL],
    # NUL in an address field
    "to-nul": ["To: %s\0RCPT TO:<%s>" % (RCPT, EVIL)],
    "cc-nul": ["To: %s" % RCPT, "Cc: c@example.org\0\r\nRCPT TO:<%s>" % EVIL],
    # CR inside the angle brackets
    "angle-cr": ["To: <bob@exa\rmple.org>"],
}


@pytest.mark.parametrize("name", sorted(T_FIELDS))
def test_t_header_control_bytes_never_reach_wire(host, relay, name):
    """A CR or NUL inside an envelope header: refused (65) or converted;
    either way nothing smuggled, and the fake recipient never used."""
    r = relay.run(["-t", "-i"], input=t_message(T_FIELDS[name]).encode())
    if r.rc == 0:
        assert_clean_wire(host, 1)
        body = host.messages[0].data
        assert b"\0" not in body
        assert not re.search(rb"[^\r]\n|\r[^\n]", body), body[:400]
    else:
        assert r.rc == 65, r
        assert_refused(r, host, codes=(65,))


@pytest.mark.parametrize("field", ["To", "Cc", "Bcc", "Resent-To",
                                   "Resent-Cc", "Resent-Bcc"])
@pytest.mark.parametrize("eol", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_t_folded_continuation_is_no_command(host, relay, field, eol):
    """A folded header whose continuation tries "RCPT TO:" / "DATA": it is
    part of the field, never a command; one transaction at most."""
    fields = ["To: %s" % RCPT] if field.startswith("Resent") else []
    if field.startswith("Resent") and field != "Resent-To":
        fields.append("Resent-To: %s" % RCPT)
    fields.append("%s: carol@example.org,%s RCPT TO:<%s>%s DATA" %
                  (field, eol, EVIL, eol))
    text = t_message(fields).replace("\n", eol)
    r = relay.run(["-t", "-i"], input=text)
    assert r.rc in (0, 65), r
    if r.rc == 0:
        assert_clean_wire_allowing(host, EVIL)
    else:
        assert_refused(r, host, codes=(65,))


def assert_clean_wire_allowing(host, addr):
    """As assert_clean_wire, but addr may be a recipient: a folded field
    may legitimately name it; what matters is that every RCPT is whole."""
    cmds = host.commands()
    for line in cmds:
        assert VERB.match(line), cmds
        if line[:4].upper() in ("MAIL", "RCPT"):
            assert PATH.match(line), cmds
    assert len([c for c in cmds if c[:4].upper() == "MAIL"]) == 1, cmds
    assert len([c for c in cmds if c[:4].upper() == "DATA"]) == 1, cmds
    assert len(host.messages) == 1


# --- 3. alias values ------------------------------------------------------------

def test_config_alias_with_cr_refused(host, relay):
    relay.configure(host, aliases={"root": "admin@example.org\rRCPT TO:<%s>"
                                   % EVIL})
    r = relay.run(["-i", "root"], input=message(to="root"))
    assert r.rc == 78, r
    assert "root" in r.err, r
    assert host.commands() == []


def test_config_alias_default_with_cr_refused(host, relay):
    relay.configure(host, aliases={"default": "x@example.org\rRCPT TO:<%s>"
                                   % EVIL})
    r = relay.run(["-i", "someone"], input=message(to="someone"))
    assert r.rc == 78, r
    assert host.commands() == []


@pytest.mark.parametrize("line", [
    "root: admin@example.org\rRCPT TO:<%s>\n" % EVIL,
    "root: admin@example.org,\r\n\tx@ex\rRCPT TO:<%s>\n" % EVIL,
    "root: \"admin@example.org\rRCPT TO:<%s>\"\n" % EVIL,
    "root: admin@example.org\0RCPT TO:<%s>\n" % EVIL,
], ids=["cr", "continued-cr", "quoted-cr", "nul"])
def test_aliases_file_value_with_control_refused(host, relay, line):
    """An aliases(5) line holding a CR or NUL: the expansion is refused and
    nothing is sent (a local file is not trusted to inject commands)."""
    path = relay.dir / "aliases"
    path.write_bytes(line.encode())
    relay.configure(host, sender={"domain": "example.com",
                                  "aliases_file": str(path)})
    r = relay.run(["-i", "root"], input=message(to="root"))
    if r.rc == 0:
        # only acceptable if the poisoned target was dropped entirely
        assert_clean_wire(host, 1)
        assert host.messages[0].rcpt_tos == ["admin@example.org"]
    else:
        assert_refused(r, host, codes=(64, 65, 67, 78))


def test_aliases_file_clean_control(host, relay):
    path = relay.dir / "aliases"
    path.write_text("root: admin@example.org\n")
    relay.configure(host, sender={"domain": "example.com",
                                  "aliases_file": str(path)})
    r = relay.run(["-i", "root"], input=message(to="root"))
    assert r.rc == 0, r
    assert host.messages[0].rcpt_tos == ["admin@example.org"]


# --- 4. -bs commands --------------------------------------------------------------

BS_HEAD = "EHLO client.example\r\n"
BS_MSG = ("From: alice@example.com\r\nTo: bob@example.org\r\n"
          "Subject: bs\r\nDate: Fri, 27 Nov 2026 03:00:00 +0000\r\n"
          "Message-ID: <bs@example.com>\r\n\r\nbody\r\n")


@pytest.mark.parametrize("cmd,bad", [
    ("MAIL FROM:<a@example.com\rRCPT TO:<%s>>" % EVIL, "MAIL"),
    ("MAIL FROM:<a@example.com>\0RCPT TO:<%s>" % EVIL, "MAIL"),
    ("MAIL FROM:<a@exam\0ple.com>", "MAIL"),
    ("RCPT TO:<%s\rRCPT TO:<%s>>" % (RCPT, EVIL), "RCPT"),
    ("RCPT TO:<%s>\0" % EVIL, "RCPT"),
    ("RCPT TO:<b@ex\rample.org>", "RCPT"),
], ids=["mail-cr", "mail-nul-after", "mail-nul-inside", "rcpt-cr",
        "rcpt-nul-after", "rcpt-cr-inside"])
def test_bs_command_with_cr_or_nul_refused(host, relay, cmd, bad):
    """The poisoned command is answered 5xx; the session goes on, and the
    message sent afterwards has exactly the clean envelope."""
    if bad == "MAIL":
        script = (BS_HEAD + cmd + "\r\nMAIL FROM:<alice@example.com>\r\n"
                  "RCPT TO:<%s>\r\n" % RCPT)
    else:
        script = (BS_HEAD + "MAIL FROM:<alice@example.com>\r\n" + cmd +
                  "\r\nRCPT TO:<%s>\r\n" % RCPT)
    script += "DATA\r\n" + BS_MSG + ".\r\nQUIT\r\n"
    r, replies = bs_session(relay, script.encode())
    assert r.rc == 0, r
    c = codes(replies)
    # 220, EHLO 250, [MAIL 250], the poisoned command 5xx, [MAIL 250],
    # RCPT 250, 354, 250, 221
    at = 2 if bad == "MAIL" else 3
    assert c[:at] == ["220", "250", "250"][:at], replies
    assert c[at][0] == "5", replies
    assert c[at + 1:] == ["250", "250", "354", "250", "221"][at - 2:], replies
    assert_clean_wire(host, 1)
    assert host.messages[0].rcpt_tos == [RCPT]
    assert host.messages[0].mail_from == "alice@example.com"


def test_bs_bare_cr_command_is_not_two_commands(host, relay):
    """"NOOP\\rQUIT" is one (bad) command, not NOOP then QUIT."""
    r, replies = bs_session(relay, (BS_HEAD + "NOOP\rQUIT\r\nQUIT\r\n")
                            .encode())
    assert r.rc == 0, r
    assert codes(replies) == ["220", "250", "500", "221"], replies


# --- 5. SMTP smuggling: what we send -----------------------------------------------

SMUGGLE = ("MAIL FROM:<%s>\r\nRCPT TO:<victim@example.org>\r\n"
           "DATA\r\nFrom: %s\r\n\r\nsmuggled\r\n" % (EVIL, EVIL))
SEQS = {"lf-dot-crlf": "\n.\r\n", "crlf-dot-lf": "\r\n.\n",
        "cr-dot-cr": "\r.\r", "lf-dot-lf": "\n.\n", "cr-dot-crlf": "\r.\r\n",
        "crlf-dot-cr": "\r\n.\r", "bare-cr-lf-mix": "\r\r\n.\n\r"}


@pytest.mark.parametrize("name", sorted(SEQS))
@pytest.mark.parametrize("dot_ends", [False, True], ids=["i", "no-i"])
def test_smuggling_one_transaction_at_naive_server(rawserver, relay, name,
                                                   dot_ends):
    """Any end-of-data look-alike in the body followed by a fake MAIL FROM:
    the naive server (which ends DATA at ANY <EOL>.<EOL>) still sees
    exactly one transaction, or the message is refused (bare CR, 65)."""
    s = rawserver("naive")
    relay.configure(port=s.port, tls="none", user=None)
    body = "start" + SEQS[name] + SMUGGLE + ".\r\nend\n"
    args = [RCPT] if dot_ends else ["-i", RCPT]
    r = relay.run(args, input=message(body=body))
    assert r.rc in (0, 65), r
    assert s.transactions == (1 if r.rc == 0 else 0), s.lines
    assert len(s.datas) == s.transactions
    assert not any(l.upper().startswith("MAIL FROM:<%s" % EVIL.upper())
                   for l in s.lines), s.lines


# --- 6. SMTP smuggling: what -bs accepts ---------------------------------------------

@pytest.mark.parametrize("name", sorted(SEQS))
def test_bs_smuggling_never_a_second_message(host, relay, name):
    """The same sequences inside -bs DATA: only CRLF.CRLF ends the data, so
    the fake MAIL FROM is data of the one message, never a second one."""
    body = "start" + SEQS[name] + SMUGGLE + "end\r\n"
    script = (BS_HEAD + "MAIL FROM:<alice@example.com>\r\n"
              "RCPT TO:<%s>\r\nDATA\r\n" % RCPT + BS_MSG + body +
              ".\r\nQUIT\r\n")
    r, replies = bs_session(relay, script.encode())
    assert r.rc == 0, r
    c = codes(replies)
    assert c[:5] == ["220", "250", "250", "250", "354"], replies
    # the one message: queued/relayed (250) or refused as data (554)
    assert c[5] in ("250", "554"), replies
    assert c[6:] == ["221"], replies
    assert len(host.messages) <= 1
    assert_clean_wire(host, len(host.messages))
    if host.messages:
        assert host.messages[0].rcpt_tos == [RCPT]
        assert b"smuggled" in host.messages[0].data


# --- 7. STARTTLS response injection ---------------------------------------------

@pytest.mark.parametrize("injected", [
    b"250 injected\r\n",
    b"250-injected\r\n250 AUTH PLAIN LOGIN\r\n",
    b"235 2.7.0 ok\r\n250 2.1.0 ok\r\n",
], ids=["one-line", "fake-ehlo", "fake-auth-ok"])
def test_starttls_injection_abandoned(rawserver, relay, injected):
    """Bytes after "220 go ahead" in the same write: relaymail abandons
    the session: no AUTH and no MAIL after the handshake; queued."""
    s = rawserver("inject", injected=injected)
    relay.configure(port=s.port, tls="starttls",
                    smarthost={"timeout": "%ds" % TIMEOUT_S})
    r = relay.run(["-i", RCPT], input=message(), timeout=RUN_LIMIT)
    assert s.auth_lines == [], s.lines
    assert not any(l.upper().startswith(("MAIL", "RCPT", "DATA"))
                   for l in s.lines), s.lines
    assert s.datas == []
    assert_queued(relay, r, RCPT)


# --- 8. hostile smarthost ------------------------------------------------------

HOSTILE = ["endless_line", "huge_reply", "code_change", "dash_eof",
           "stall_greeting", "stall_data", "stall_tls",
           "stall_tls_implicit"]


def hostile_input(mode):
    """The message for a hostile case. stall_data needs one larger than the
    socket buffers (16 MB), so that the stall hits the sending of the data:
    a stall after the end of data is waited out for 10 minutes by design
    (SPEC, RFC 5321 4.5.3.2.6) and cannot be a test of seconds."""
    if mode != "stall_data":
        return message()
    line = "0123456789" * 7 + "abcdef\n"
    return message(body=line * (16 * 1024 * 1024 // len(line)))


def measure_rss():
    """RSS limits hold for the plain binary only (not ASan, not valgrind)."""
    return not SLOW and not is_sanitized(sendmail_path())


@pytest.mark.parametrize("mode", HOSTILE)
def test_hostile_smarthost_bounded(relay, mode):
    with HostileServer(mode) as h:
        relay.configure(port=h.port, tls=h.tls, user=None,
                        smarthost={"timeout": "%ds" % TIMEOUT_S})
        t0 = time.monotonic()
        r = relay.run(["-i", RCPT], input=hostile_input(mode), rss=True,
                      timeout=RUN_LIMIT)
        elapsed = time.monotonic() - t0
        print("hostile %s: %.2f s, peak RSS %s KiB" % (mode, elapsed, r.rss_kb))
        assert elapsed < MARGIN_S, "took %.1f s: %r" % (elapsed, r)
        assert_queued(relay, r, RCPT)
        if measure_rss():
            assert r.rss_kb is not None and r.rss_kb < RSS_MAX_KB, \
                "peak RSS %s KiB" % r.rss_kb
        if mode == "endless_line":
            # it stopped reading long before the 64 MB were offered
            assert h.sent < 64 * 1024 * 1024, h.sent


@pytest.mark.parametrize("mode", ["endless_line", "huge_reply", "stall_data"])
def test_hostile_smarthost_queue_run_bounded(relay, mode):
    """The same from a queue run (-q): bounded, and the message stays."""
    with HostileServer(mode) as h:
        relay.configure(port=h.port, tls=h.tls, user=None,
                        smarthost={"timeout": "%ds" % TIMEOUT_S},
                        queue={"mode": "queue"})
        r = relay.run(["-i", RCPT], input=hostile_input(mode),
                      timeout=RUN_LIMIT)
        assert r.rc == 0, r
        t0 = time.monotonic()
        q = relay.run(["-q"], rss=True, timeout=RUN_LIMIT)
        elapsed = time.monotonic() - t0
        assert elapsed < MARGIN_S, "took %.1f s: %r" % (elapsed, q)
        assert q.rc == 0, q
        if measure_rss():
            assert q.rss_kb is not None and q.rss_kb < RSS_MAX_KB, \
                "peak RSS %s KiB" % q.rss_kb
        m = relay.mailq()
        assert RCPT in m.out and "Mail queue is empty" not in m.out, m
