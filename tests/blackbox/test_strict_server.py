"""QUIT goes with the end of the data only when PIPELINING was offered
(issue 11, point 1): a server without it may refuse any byte that comes
before its reply, as OpenSMTPD does (`500 5.5.1 Invalid command:
Pipelining not supported`, message dropped). The StrictServer here does
the same; synchronous sends and queue runs go through it with and without
PIPELINING (and CHUNKING) offered.
"""

import socket

import pytest

from harness import message
from strict import StrictServer

RCPT = "bob@example.org"

_servers = []


def teardown_function(_):
    while _servers:
        _servers.pop().stop()


def strict(**kw):
    srv = StrictServer(**kw)
    _servers.append(srv)
    return srv


def files(relay, sub):
    d = relay.spool / sub
    return sorted(p.name for p in d.iterdir() if "." not in p.name) \
        if d.exists() else []


def configure(relay, srv, mode):
    relay.configure(port=srv.port, tls="none", user=None,
                    queue={"mode": mode})


OFFERS = [
    pytest.param(False, False, id="plain"),
    pytest.param(False, True, id="chunking-only"),
    pytest.param(True, False, id="pipelining"),
    pytest.param(True, True, id="pipelining-chunking"),
]


@pytest.mark.parametrize("pipelining,chunking", OFFERS)
def test_sync_send_is_accepted_by_a_strict_server(relay, pipelining,
                                                   chunking):
    srv = strict(pipelining=pipelining, chunking=chunking)
    configure(relay, srv, "sync")
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert srv.wait_connections_done()
    assert srv.refused == 0, srv.commands
    assert len(srv.accepted) == 1
    assert srv.commands[-1] == "QUIT", srv.commands
    assert files(relay, "failed") == [] and files(relay, "q") == []


@pytest.mark.parametrize("pipelining,chunking", OFFERS)
def test_queue_run_is_accepted_by_a_strict_server(relay, pipelining,
                                                  chunking):
    srv = strict(pipelining=pipelining, chunking=chunking)
    configure(relay, srv, "queue")
    for i in range(3):
        r = relay.run(["-i", RCPT], input=message(body="n %d\n" % i))
        assert r.rc == 0, r
    assert len(files(relay, "q")) == 3
    f = relay.flush()
    assert f.rc == 0, f
    assert srv.wait_connections_done()
    assert srv.refused == 0, srv.commands
    assert len(srv.accepted) == 3
    assert srv.connections == 1
    assert srv.commands[-1] == "QUIT", srv.commands
    assert files(relay, "q") == [] and files(relay, "failed") == []


def test_strict_server_refuses_an_early_byte(relay):
    """The server itself: a client that pipelines without PIPELINING."""

    srv = strict(pipelining=False)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"EHLO x\r\nMAIL FROM:<a@b>\r\n")
        assert f.readline().startswith(b"500 5.5.1 Invalid command: "
                                        b"Pipelining not supported")
    assert srv.wait_connections_done()
    assert srv.refused == 1
