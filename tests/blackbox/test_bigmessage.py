"""A 50 MB message arrives byte-exact; sendmail's memory stays bounded."""

import hashlib

from conftest import is_sanitized, sendmail_path

RCPT = "bob@example.org"
SIZE = 50 * 1024 * 1024


def make_message(path):
    """Write an LF message of ~50 MB; return sha256 and size of CRLF form."""
    h = hashlib.sha256()
    n = 0
    with open(path, "wb") as f:
        head = (b"From: alice@example.com\nTo: bob@example.org\n"
                b"Subject: big\nDate: Fri, 27 Nov 2026 03:00:00 +0000\n"
                b"Message-ID: <big@example.com>\n\n")
        f.write(head)
        h.update(head.replace(b"\n", b"\r\n"))
        n += len(head) + head.count(b"\n")
        i = 0
        while n < SIZE:
            lead = b"." if i % 997 == 0 else b""
            line = lead + b"%09d " % i + b"abcdefghij" * 7 + b"\n"
            f.write(line)
            wire = line[:-1] + b"\r\n"
            h.update(wire)
            n += len(wire)
            i += 1
    return h.hexdigest(), n


def test_50mb_byte_exact_and_rss_under_16mb(smarthost, relay):
    src = relay.dir / "big.eml"
    want_sha, want_len = make_message(src)
    host = smarthost(tls="starttls")
    # just over 50 MiB: past the default [queue] max_message_size
    relay.configure(host, queue={"max_message_size": "0"})
    try:
        r = relay.run(["-i", RCPT], input_file=str(src), timeout=600,
                      rss=True)
    finally:
        src.unlink()
    assert r.rc == 0, r
    assert len(host.messages) == 1
    got = host.messages[0].data
    print("\n50 MB message: peak RSS of sendmail = %d KiB (%.1f MB)"
          % (r.rss_kb, r.rss_kb / 1024))
    assert len(got) == want_len
    assert hashlib.sha256(got).hexdigest() == want_sha
    if is_sanitized(sendmail_path()):
        print("sanitizer build: RSS bound not applied")
    else:
        assert r.rss_kb < 16 * 1024, "peak RSS %d KiB" % r.rss_kb
