"""OpenSSL lives in relaymail-tls.so, opened only when a session needs TLS
(or a digest for AUTH): a submission that only queues never maps libssl or
libcrypto, and a library that cannot be opened is a temporary failure."""

import os
import re

import pytest

from conftest import REPO, is_sanitized, sendmail_path
from harness import assert_queued, message

RCPT = "bob@example.org"


def library_path():
    """The path the binary opens (fixed at build time); valgrind.sh's
    wrapper does not hold it, the ./sendmail it runs does."""
    for prog in (sendmail_path(), str(REPO / "sendmail")):
        with open(prog, "rb") as f:
            m = re.search(rb"(/[^\0]*/relaymail-tls\.so)\0", f.read())
        if m:
            return m.group(1).decode()
    pytest.fail("no relaymail-tls.so path in %s" % sendmail_path())


def loaded_objects(r):
    """The shared objects the dynamic linker reported opening (LD_DEBUG)."""
    return re.findall(r"file=(\S+)", r.err)


@pytest.mark.skipif(is_sanitized(sendmail_path()),
                    reason="LD_DEBUG would trace the sanitizer or valgrind")
def test_queue_only_submission_loads_no_openssl(smarthost, relay):
    h = smarthost(tls="starttls")
    relay.configure(h)
    r = relay.run(["-odq", "-i", RCPT], input=message(),
                  env={"LD_DEBUG": "files"})
    assert r.rc == 0, r
    files = loaded_objects(r)
    assert files, r.err                     # the trace is there ...
    assert not [f for f in files if "ssl" in f or "crypto" in f
                or "relaymail-tls" in f], files     # ... without OpenSSL
    s = relay.run(["-i", RCPT], input=message(), env={"LD_DEBUG": "files"})
    assert s.rc == 0, s
    files = loaded_objects(s)
    assert any(f.endswith("relaymail-tls.so") for f in files), files
    assert any("libcrypto.so" in f for f in files), files
    assert len(h.messages) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a mount namespace")
def test_missing_tls_library_is_named_and_queued(smarthost, relay):
    """With the library unreadable (a mount namespace puts /dev/null over
    it), the error names it and the message waits in the queue."""
    lib = library_path()
    h = smarthost(tls="starttls")
    relay.configure(h)
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind /dev/null "$0" && exec "$@"', lib]
    r = relay.run(["-i", RCPT], input=message(), wrap=hide)
    q = assert_queued(relay, r, RCPT)
    assert "TLS: cannot load %s" % lib in r.err + q.out, (r.err, q.out)
    assert h.messages == []
    f = relay.flush()                   # the library is back: delivered
    assert f.rc == 0, f
    assert len(h.messages) == 1
