"""Connecting: every address of the smarthost's name is tried in turn
(getaddrinfo order, IPv6 and IPv4), and the one that answers is used."""

import subprocess

from conftest import sendmail_path
from harness import message


def test_every_address_tried_ipv6_then_ipv4(smarthost, relay, tmp_path):
    # the name resolves to ::1 first, where nothing listens, then 127.0.0.1
    h = smarthost(tls="none", no_auth=True)
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 multi.test\n127.0.0.1 multi.test\n127.0.0.1 localhost\n")
    conf = relay.configure(h, mechanism="none", user=None,
                           smarthost={"host": "multi.test", "port": h.port,
                                      "tls": "none", "tls_ca_file": None})
    script = 'mount --bind "$1" /etc/hosts && shift && exec "$@"'
    order = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(hosts),
                            "getent", "ahostsv6", "multi.test"],
                           capture_output=True, timeout=30).stdout.decode()
    assert order.split()[0] == "::1", order   # the address that fails comes first
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(hosts),
                        sendmail_path(), "-C", conf, "-v", "-i", "bob@example.org"],
                       input=message().encode(), capture_output=True, timeout=60)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert len(h.messages) == 1, err
    assert "[127.0.0.1]" in open(relay.log).read()
