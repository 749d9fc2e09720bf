"""Helpers shared by relaymail's black-box tests (no fixtures here)."""

USER = "myaccount"
PASSWORD = "mypassword"


def crlf(text):
    """text (str or bytes) with every line ending turned into CRLF."""
    b = text.encode() if isinstance(text, str) else text
    b = b.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return b.replace(b"\n", b"\r\n")


def split_message(data):
    """(header bytes, body bytes) of a CRLF message."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return data, b""
    return head + b"\r\n", body


def header_fields(data):
    """[(name-lower, unfolded value)] of the header block."""
    head, _ = split_message(data)
    fields = []
    for line in head.split(b"\r\n"):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            n, v = fields[-1]
            fields[-1] = (n, v + " " + line.decode("utf-8", "replace")
                          .strip())
            continue
        name, _, value = line.decode("utf-8", "replace").partition(":")
        fields.append((name.strip().lower(), value.strip()))
    return fields


def header(data, name):
    """Values of header name (case-insensitive) in the message."""
    return [v for n, v in header_fields(data) if n == name.lower()]


SIMPLE = (
    "From: Alice <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: hello\n"
    "Date: Fri, 27 Nov 2026 03:00:00 +0000\n"
    "Message-ID: <test.1@example.com>\n"
    "\n"
    "Hello Bob.\n"
)


def envelope_sender(msg):
    """The address in the raw MAIL FROM line of a received Message."""
    import re
    m = re.match(r"(?i)MAIL FROM:\s*<([^>]*)>", msg.mail_line)
    return m.group(1) if m else None


def message(headers=None, body="Hello.\n", date=True, msgid=True,
            sender="alice@example.com", to="bob@example.org"):
    """A small LF-terminated message (str) with the usual fields."""
    lines = []
    if sender:
        lines.append("From: %s" % sender)
    if to:
        lines.append("To: %s" % to)
    lines.append("Subject: test")
    if date:
        lines.append("Date: Fri, 27 Nov 2026 03:00:00 +0000")
    if msgid:
        lines.append("Message-ID: <t.%d@example.com>" % id(lines))
    lines += list(headers or [])
    return "\n".join(lines) + "\n\n" + body


def assert_queued(relay, r, rcpt):
    """Exit 0, a notice on stderr, and mailq lists the message for rcpt."""
    assert r.rc == 0, r
    assert r.err.strip(), "no notice on stderr for a queued message: %r" % r
    q = relay.mailq()
    assert q.rc == 0, q
    assert rcpt in q.out, q
    assert "Mail queue is empty" not in q.out, q
    return q


def assert_not_delivered_but_kept(relay, r, rcpt):
    """TLS/AUTH trouble: a non-zero exit, or (queue issue) queued with 0."""
    if r.rc == 0:
        assert_queued(relay, r, rcpt)
    else:
        assert r.err.strip(), r


def lock_free(path):
    """Could an exclusive flock(2) on path be taken right now (is nobody
    holding it)? False also when path does not exist."""
    import fcntl
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return False
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True
