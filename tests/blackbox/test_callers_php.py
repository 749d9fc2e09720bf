"""Real PHP callers against relaymail (issue 4, point 4).

Debian's php-cli (mail()), php-symfony-mailer (SendmailTransport in -bs
and -t mode) and libphp-phpmailer (isSendmail()) run the scripts in php/,
pointed at ./sendmail -C <the test's relaymail.conf>; each test checks what
reached the test smarthost: envelope, recipients, header and body.

Each caller reaches relaymail through a two-line sh wrapper that records
its argv and then execs the real binary (the same process, so exit status
and pipes are untouched), so a test can also say what the caller ran.
"""

import json
import os
import shlex
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import Result, sendmail_path
from harness import assert_queued, envelope_sender, header, split_message

HERE = Path(__file__).resolve().parent
PHP_DIR = HERE / "php"
PHP = "/usr/bin/php"
TIMEOUT = 60

SENDER = "alice@example.com"
TO = "bob@example.org"
CC = "carol@example.net"
BCC = "dave@example.net"
REFUSED = "nobody@example.org"
REFUSAL = "550 5.1.1 <nobody@example.org>: no such user"


# --- helpers --------------------------------------------------------------

def sendmail_cmd(relay):
    """A shell command line that runs relaymail with this test's config,
    through a wrapper recording argv in relay.dir/argv.* (one per run)."""
    prog = sendmail_path()
    if not os.path.exists(prog):
        pytest.fail("relaymail binary %s does not exist (make first)" % prog)
    wrapper = relay.dir / "sendmail-wrapper"
    if not wrapper.exists():
        wrapper.write_text(
            "#!/bin/sh\n"
            "printf '%%s\\0' \"$0\" \"$@\" > \"$(mktemp %s/argv.XXXXXX)\"\n"
            "exec %s \"$@\"\n" % (shlex.quote(str(relay.dir)),
                                  shlex.quote(prog)))
        wrapper.chmod(0o755)
    return "%s -C %s" % (shlex.quote(str(wrapper)), shlex.quote(relay.conf))


def argvs(relay):
    """The argv (without argv[0] and without -C conf) of every run."""
    runs = []
    for f in sorted(relay.dir.glob("argv.*"), key=lambda p: p.stat().st_mtime):
        args = f.read_bytes().split(b"\0")[1:-1]
        args = [a.decode() for a in args]
        assert args[:2] == ["-C", relay.conf], args
        runs.append(args[2:])
    return runs


def run_php(relay, script, job, ini=()):
    """php [-d ini]... php/script JOB-as-JSON -> (parsed output, Result)."""
    if not os.path.exists(PHP):
        pytest.fail("%s is missing: apt-get install php-cli" % PHP)
    cmd = [PHP, "-d", "display_errors=stderr", "-d", "error_reporting=-1"]
    for setting in ini:
        cmd += ["-d", setting]
    cmd += [str(PHP_DIR / script), json.dumps(job)]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(relay.dir),
           "LANG": "C", "USER": "root", "LOGNAME": "root"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=TIMEOUT,
                       cwd=str(relay.dir))
    res = Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                 p.stderr.decode("utf-8", "replace"))
    relay._check_invariants(res)   # no password in anything printed
    assert res.rc == 0, "php itself failed: %r" % (res,)
    lines = res.out.strip().splitlines()
    assert lines, "no output from %s: %r" % (script, res)
    return json.loads(lines[-1]), res


def php_mail(relay, job, path_args="-t -i"):
    """mail() with sendmail_path = "<relaymail> -C conf <path_args>"."""
    ini = ["sendmail_path=%s %s" % (sendmail_cmd(relay), path_args)]
    return run_php(relay, "mail.php", job, ini)


def only_message(host):
    host.wait_messages(1, timeout=5)
    assert len(host.messages) == 1, host.messages
    return host.messages[0]


def assert_crlf_only(data):
    """Every line ending is CRLF: no bare LF or CR on the wire."""
    assert b"\n" not in data.replace(b"\r\n", b""), data
    assert b"\r" not in data.replace(b"\r\n", b""), data


def assert_body(data, expected):
    """The body is expected, then at most the empty lines the caller adds
    (PHP's mail() writes one more LF after the message, Symfony's -bs one
    more CRLF before the final dot)."""
    body = split_message(data)[1]
    exp = expected.replace("\n", "\r\n").encode()
    assert body.startswith(exp), body
    assert body[len(exp):].replace(b"\r\n", b"") == b"", body


def assert_nothing_sent_or_queued(relay, host):
    assert host.messages == [], host.messages
    q = relay.mailq()
    assert q.rc == 0, q
    assert "Mail queue is empty" in q.out, q


def closed_port():
    """A loopback port nothing listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def host(smarthost):
    return smarthost(tls="starttls",
                     reject_rcpt={REFUSED: REFUSAL})


# --- PHP mail() -----------------------------------------------------------

def test_php_mail_default_sendmail_path_flags_deliver(relay, host):
    relay.configure(host)
    out, res = php_mail(relay, {
        "to": TO, "subject": "plain mail()", "message": "Hello Bob.\n",
        "headers": "From: Alice <%s>" % SENDER})
    assert out["result"] is True, res
    m = only_message(host)
    assert argvs(relay) == [["-t", "-i"]]
    # no -f: relaymail's default sender, login name @ [sender] domain
    assert envelope_sender(m) == "root@example.com", m.mail_line
    assert m.rcpt_tos == [TO]
    assert header(m.data, "To") == [TO]
    assert header(m.data, "Subject") == ["plain mail()"]
    assert header(m.data, "From") == ["Alice <%s>" % SENDER]
    assert_body(m.data, "Hello Bob.\n")


@pytest.mark.parametrize("params", ["-f" + SENDER, "-f " + SENDER],
                         ids=["glued", "separate"])
def test_php_mail_f_in_additional_params_sets_envelope_sender(
        relay, host, params):
    relay.configure(host)
    out, res = php_mail(relay, {
        "to": TO, "subject": "with -f", "message": "Hi.\n",
        "headers": "From: Alice <%s>" % SENDER, "params": params})
    assert out["result"] is True, res
    m = only_message(host)
    assert argvs(relay) == [["-t", "-i"] + params.split(" ")]
    assert envelope_sender(m) == SENDER, m.mail_line
    assert m.rcpt_tos == [TO]


def test_php_mail_lf_line_endings_arrive_as_crlf(relay, host):
    relay.configure(host)
    body = ("line one\n"
            "line two\n"
            "\n"
            ".\n"                       # -i: a lone dot does not end it
            "..two dots\n"
            "last line\n")
    out, res = php_mail(relay, {
        "to": TO, "subject": "line endings", "message": body,
        "headers": "From: %s\nX-Extra: lf-separated" % SENDER})
    assert out["result"] is True, res
    m = only_message(host)
    assert_crlf_only(m.data)
    assert header(m.data, "X-Extra") == ["lf-separated"]
    assert_body(m.data, body)


def test_php_mail_additional_headers_arrive(relay, host):
    relay.configure(host)
    headers = {
        "From": "Alice Example <%s>" % SENDER,
        "Reply-To": "replies@example.com",
        "Cc": CC,
        "X-Mailer": "PHP/8.2",
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
    }
    out, res = php_mail(relay, {
        "to": TO, "subject": "headers", "message": "Body.\n",
        "headers": headers, "params": "-f" + SENDER})
    assert out["result"] is True, res
    m = only_message(host)
    for name, value in headers.items():
        assert header(m.data, name) == [value], (name, m.data)
    # -t reads Cc: too
    assert sorted(m.rcpt_tos) == sorted([TO, CC])


def test_php_mail_bcc_header_is_removed_and_bcc_recipient_gets_it(
        relay, host):
    relay.configure(host)
    out, res = php_mail(relay, {
        "to": TO, "subject": "bcc", "message": "Secret copy.\n",
        "headers": "From: %s\r\nCc: %s\r\nBcc: %s" % (SENDER, CC, BCC),
        "params": "-f" + SENDER})
    assert out["result"] is True, res
    m = only_message(host)
    assert sorted(m.rcpt_tos) == sorted([TO, CC, BCC])
    assert header(m.data, "Bcc") == []
    assert BCC.encode() not in m.data
    assert header(m.data, "Cc") == [CC]


def test_php_mail_refused_recipient_returns_false(relay, host):
    relay.configure(host)
    out, res = php_mail(relay, {
        "to": REFUSED, "subject": "refused", "message": "Nobody.\n",
        "params": "-f" + SENDER})
    assert out["result"] is False, res
    assert argvs(relay) == [["-t", "-i", "-f" + SENDER]]
    assert host.messages == []
    assert any(REFUSED in line for c in host.connections
               for line in c.rcpt_lines), host.commands()
    # relaymail's error (with the smarthost's reply) reaches PHP's stderr
    assert "550" in res.err, res


def test_php_mail_malformed_to_address_returns_false(relay, host):
    relay.configure(host)
    out, res = php_mail(relay, {
        "to": "bob@@example.org", "subject": "malformed",
        "message": "Never sent.\n", "params": "-f" + SENDER})
    assert out["result"] is False, res
    assert argvs(relay) == [["-t", "-i", "-f" + SENDER]]
    assert "sendmail:" in res.err, res    # relaymail said why
    assert "bob@@example.org" not in "\n".join(host.commands())
    assert_nothing_sent_or_queued(relay, host)


def test_php_mail_sender_starting_with_dash_returns_false(relay, host):
    relay.configure(host)
    out, res = php_mail(relay, {
        "to": TO, "subject": "dash sender", "message": "Never sent.\n",
        "params": "-f -oQ/tmp/x@example.com"})
    assert out["result"] is False, res
    assert argvs(relay) == [["-t", "-i", "-f", "-oQ/tmp/x@example.com"]]
    assert not os.path.exists("/tmp/x@example.com")
    assert_nothing_sent_or_queued(relay, host)


def test_php_mail_smarthost_down_returns_true_and_queues(relay):
    relay.configure(port=closed_port(), tls="starttls")
    out, res = php_mail(relay, {
        "to": TO, "subject": "later", "message": "Queued.\n",
        "params": "-f" + SENDER})
    assert out["result"] is True, res
    assert_queued(relay, res, TO)


# --- Symfony Mailer SendmailTransport -------------------------------------

def symfony_job(relay, mode, **kw):
    job = {"command": "%s %s" % (sendmail_cmd(relay), mode),
           "from": "Alice <%s>" % SENDER, "to": [TO], "cc": [CC],
           "bcc": [BCC], "subject": "Symfony " + mode,
           "text": "Hello from Symfony.\n.\nEnd.\n"}
    job.update(kw)
    return job


def assert_symfony_message(m):
    assert envelope_sender(m) == SENDER, m.mail_line
    assert sorted(m.rcpt_tos) == sorted([TO, CC, BCC])
    assert header(m.data, "Bcc") == []
    assert BCC.encode() not in m.data
    assert header(m.data, "To") == [TO]
    assert header(m.data, "Cc") == [CC]
    assert header(m.data, "From") == ["Alice <%s>" % SENDER]
    assert_crlf_only(m.data)
    assert_body(m.data, "Hello from Symfony.\n.\nEnd.\n")


def test_symfony_bs_mode_delivers_to_cc_and_bcc_without_bcc_header(
        relay, host):
    relay.configure(host)
    out, res = run_php(relay, "symfony.php", symfony_job(relay, "-bs"))
    assert out["ok"] is True, (out, res)
    m = only_message(host)
    assert argvs(relay) == [["-bs"]]
    assert_symfony_message(m)
    # the id relaymail gave in "250 Ok: queued as ID" is what Symfony
    # reports as the message id
    assert out["message_id"], out


def test_symfony_t_mode_delivers_to_cc_and_bcc_without_bcc_header(
        relay, host):
    relay.configure(host)
    out, res = run_php(relay, "symfony.php", symfony_job(relay, "-t -i"))
    assert out["ok"] is True, (out, res)
    m = only_message(host)
    # Symfony drops -t when it knows the recipients and passes them after --
    assert argvs(relay) == [["-i", "-f" + SENDER, "--", TO, CC, BCC]]
    assert_symfony_message(m)


def test_symfony_bs_mode_refused_recipient_raises_transport_exception(
        relay, host):
    relay.configure(host)
    out, res = run_php(relay, "symfony.php",
                       symfony_job(relay, "-bs", to=[REFUSED], cc=[],
                                   bcc=[]))
    assert out["ok"] is False, (out, res)
    assert out["exception"] == \
        "Symfony\\Component\\Mailer\\Exception\\TransportException", out
    assert "550" in out["message"], out
    assert host.messages == []


def test_symfony_t_mode_refused_recipient_raises_transport_exception(
        relay, host):
    relay.configure(host)
    out, res = run_php(relay, "symfony.php",
                       symfony_job(relay, "-t -i", to=[REFUSED], cc=[],
                                   bcc=[]))
    assert out["ok"] is False, (out, res)
    assert out["exception"] == \
        "Symfony\\Component\\Mailer\\Exception\\TransportException", out
    assert "exit code 67" in out["message"], out
    assert host.messages == []


def test_symfony_bs_mode_smarthost_down_message_is_queued(relay):
    relay.configure(port=closed_port(), tls="starttls")
    out, res = run_php(relay, "symfony.php",
                       symfony_job(relay, "-bs", cc=[], bcc=[]))
    assert out["ok"] is True, (out, res)
    q = relay.mailq()
    assert q.rc == 0, q
    assert TO in q.out and SENDER in q.out, q


# --- PHPMailer isSendmail() -----------------------------------------------

def phpmailer_job(relay, **kw):
    job = {"sendmail": sendmail_cmd(relay), "from": SENDER,
           "from_name": "Alice Example", "to": [TO], "cc": [CC],
           "bcc": [BCC], "subject": "PHPMailer",
           "body": "Hello from PHPMailer.\n.\nEnd.\n",
           "headers": {"X-Campaign": "relaymail-test"}}
    job.update(kw)
    return job


def test_phpmailer_sendmail_mode_delivers_with_f_sender(relay, host):
    relay.configure(host)
    out, res = run_php(relay, "phpmailer.php", phpmailer_job(relay))
    assert out["ok"] is True, (out, res)
    # what PHPMailer runs: Sendmail + " -oi -f<sender> -t"
    assert argvs(relay) == [["-oi", "-f" + SENDER, "-t"]]
    # PHPMailer hands the Bcc: header to sendmail; relaymail must strip it
    debug = "\n".join(out["debug"])
    assert "Bcc: " + BCC in debug, debug
    m = only_message(host)
    assert envelope_sender(m) == SENDER, m.mail_line
    assert sorted(m.rcpt_tos) == sorted([TO, CC, BCC])
    assert header(m.data, "Bcc") == []
    assert BCC.encode() not in m.data
    assert header(m.data, "From") == ["Alice Example <%s>" % SENDER]
    assert header(m.data, "To") == [TO]
    assert header(m.data, "Cc") == [CC]
    assert header(m.data, "Subject") == ["PHPMailer"]
    assert header(m.data, "X-Campaign") == ["relaymail-test"]
    assert_crlf_only(m.data)
    assert_body(m.data, "Hello from PHPMailer.\n.\nEnd.\n")


def test_phpmailer_sender_property_is_the_envelope_sender(relay, host):
    relay.configure(host)
    out, res = run_php(relay, "phpmailer.php", phpmailer_job(
        relay, sender="bounces@example.com", cc=[], bcc=[]))
    assert out["ok"] is True, (out, res)
    assert argvs(relay) == [["-oi", "-fbounces@example.com", "-t"]]
    m = only_message(host)
    assert envelope_sender(m) == "bounces@example.com", m.mail_line
    assert m.rcpt_tos == [TO]
    assert header(m.data, "From") == ["Alice Example <%s>" % SENDER]


def test_phpmailer_refused_recipient_send_returns_false_with_errorinfo(
        relay, host):
    relay.configure(host)
    out, res = run_php(relay, "phpmailer.php", phpmailer_job(
        relay, to=[REFUSED], cc=[], bcc=[]))
    assert out["ok"] is False, (out, res)
    assert out["error"] == "Could not execute: " + sendmail_cmd(relay), out
    assert host.messages == []
    assert "550" in res.err, res

