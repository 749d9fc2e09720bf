"""Built-in OAuth2: refresh-token exchange, the token cache, XOAUTH2/OAUTHBEARER.

The test starts its own HTTPS token endpoint (http.server + ssl, the test
CA's localhost certificate) and a small SMTP server over implicit TLS that
accepts XOAUTH2 and OAUTHBEARER only with a token the endpoint issued and
did not revoke.
"""

import base64
import http.server
import json
import os
import re
import socket
import socketserver
import ssl
import stat
import threading
import urllib.parse

import pytest

from harness import USER, assert_queued, message

RCPT = "bob@example.org"
CLIENT_ID = "relaymail-client-id.apps.example"
CLIENT_SECRET = "cl1ent-s3cret-VALUE"
REFRESH = "1//refresh-T0KEN/with+odd=chars&more"


def b64(b):
    return base64.b64encode(b).decode()


class TokenEndpoint:
    """HTTPS token endpoint: counts POSTs, checks their fields, issues tokens."""

    def __init__(self, certs, cert=None, key=None):
        self.requests = []          # parsed form fields of every POST
        self.bad = []               # what was wrong with a request
        self.valid = set()          # tokens the SMTP server accepts
        self.expires_in = 3600
        self.error = None           # (status, dict) to answer instead
        self._n = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                owner._post(self)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert or certs.cert, key or certs.key)
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://localhost:%d/oauth2/token" % self.httpd.server_port
        self._t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._t.start()

    def _post(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n).decode()
        fields = urllib.parse.parse_qs(body, keep_blank_values=True, strict_parsing=True)
        fields = {k: v[0] for k, v in fields.items()}
        with self._lock:
            self.requests.append(fields)
            if h.path != "/oauth2/token":
                self.bad.append("path " + h.path)
            if h.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                self.bad.append("content-type %s" % h.headers.get("Content-Type"))
            want = {"grant_type": "refresh_token", "refresh_token": REFRESH,
                    "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
            if fields != want:
                self.bad.append("fields %r" % fields)
            if self.error is not None:
                status, reply = self.error
            else:
                self._n += 1
                token = "ya29.token-%d-%s" % (self._n, os.urandom(6).hex())
                self.valid.add(token)
                status, reply = 200, {"access_token": token, "token_type": "Bearer",
                                      "expires_in": self.expires_in, "scope": "mail"}
        data = json.dumps(reply).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class OAuthSmtp:
    """Implicit-TLS SMTP server taking XOAUTH2/OAUTHBEARER with a valid token."""

    def __init__(self, certs, endpoint, mechanisms=("XOAUTH2", "OAUTHBEARER")):
        self.endpoint = endpoint
        self.mechanisms = mechanisms
        self.tokens = []            # every token presented
        self.auth_ok = []           # (mechanism, token) accepted
        self.messages = []
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.cert, certs.key)
        owner = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                try:
                    conn = ctx.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                owner._session(conn)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.tls = "tls"
        self._t = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._t.start()

    def _check(self, mech, blob):
        try:
            text = base64.b64decode(blob, validate=True).decode()
        except Exception:
            return False
        if mech == "XOAUTH2":
            m = re.fullmatch(r"user=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01", text)
            user, token = (m.group(1), m.group(2)) if m else (None, None)
        else:
            m = re.fullmatch(r"n,a=([^,]*),(?:\x01[a-z]+=[^\x01]*)*?\x01auth=Bearer "
                             r"([^\x01]+)\x01\x01", text)
            user, token = (m.group(1), m.group(2)) if m else (None, None)
        if token is not None:
            self.tokens.append(token)
        ok = user == USER and token in self.endpoint.valid
        if ok:
            self.auth_ok.append((mech, token))
        return ok

    def _session(self, conn):
        f = conn.makefile("rwb")

        def say(line):
            f.write(line.encode() + b"\r\n")
            f.flush()
        authed = False
        say("220 oauth.test ESMTP")
        while True:
            raw = f.readline()
            if not raw:
                break
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                say("250-oauth.test")
                say("250-AUTH " + " ".join(self.mechanisms))
                say("250 8BITMIME")
            elif verb == "AUTH":
                parts = line.split()
                mech = parts[1].upper() if len(parts) > 1 else ""
                if mech not in self.mechanisms or len(parts) != 3:
                    say("504 5.5.4 unrecognized authentication type")
                elif self._check(mech, parts[2]):
                    authed = True
                    say("235 2.7.0 accepted")
                else:
                    err = {"status": "401", "schemes": "bearer", "scope": "mail"}
                    say("334 " + b64(json.dumps(err).encode()))
                    f.readline()
                    say("535 5.7.8 Username and Password not accepted")
            elif verb in ("MAIL", "RCPT"):
                say("250 2.1.0 ok" if authed else "530 5.7.0 authentication required")
            elif verb == "DATA":
                say("354 go ahead")
                data = b""
                while True:
                    chunk = f.readline()
                    if not chunk or chunk == b".\r\n":
                        break
                    data += chunk
                self.messages.append(data)
                say("250 2.0.0 queued")
            elif verb == "QUIT":
                say("221 2.0.0 bye")
                break
            else:
                say("250 2.0.0 ok")
        try:
            conn.close()
        except OSError:
            pass

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def oauth(certs, relay):
    ep = TokenEndpoint(certs)
    started = []

    def start(mechanism="xoauth2", **auth):
        srv = OAuthSmtp(certs, ep)
        started.append(srv)
        keys = {"oauth2_token_url": ep.url, "oauth2_client_id": CLIENT_ID,
                "oauth2_client_secret": CLIENT_SECRET, "oauth2_refresh_token": REFRESH}
        keys.update(auth)
        relay.configure(port=srv.port, tls="tls", user=USER, password=None,
                        mechanism=mechanism, auth=keys)
        return ep, srv
    yield start
    for s in started:
        s.stop()
    ep.stop()


def secrets(ep, srv):
    forms = [CLIENT_SECRET, REFRESH, urllib.parse.quote(REFRESH, safe=""),
             urllib.parse.quote(CLIENT_SECRET, safe="")]
    for t in set(srv.tokens) | ep.valid:
        forms += [t, b64(("user=%s\x01auth=Bearer %s\x01\x01" % (USER, t)).encode())]
    return forms


def assert_no_secret(relay, ep, srv, *results):
    texts = [relay.log_text(), relay.mailq().out]
    for r in results:
        texts += [r.out, r.err]
    for form in secrets(ep, srv):
        for t in texts:
            assert form not in t, (form, t)


def cache_files(relay):
    d = relay.spool / "oauth2"
    return sorted(p for p in d.iterdir() if not p.name.startswith(".")) if d.exists() else []


@pytest.mark.parametrize("mech", ["xoauth2", "oauthbearer"])
def test_first_send_fetches_token_then_cache_hit(oauth, relay, mech):
    ep, srv = oauth(mechanism=mech)
    r = relay.run(["-i", RCPT], input=message(body="first\n"))
    assert r.rc == 0, r
    assert len(ep.requests) == 1 and ep.bad == [], (ep.requests, ep.bad)
    assert len(srv.messages) == 1
    assert srv.auth_ok == [(mech.upper(), srv.tokens[0])]
    files = cache_files(relay)
    assert len(files) == 1
    assert re.fullmatch(r"[0-9a-f]{64}", files[0].name)
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    r2 = relay.run(["-i", RCPT], input=message(body="second\n"))
    assert r2.rc == 0, r2
    assert len(ep.requests) == 1, "the cached token was not reused"
    assert len(srv.messages) == 2
    assert srv.tokens[1] == srv.tokens[0]
    assert_no_secret(relay, ep, srv, r, r2)


def test_short_lived_token_is_refreshed(oauth, relay):
    ep, srv = oauth()
    ep.expires_in = 30      # inside the 60 s margin: never reused
    assert relay.run(["-i", RCPT], input=message()).rc == 0
    assert relay.run(["-i", RCPT], input=message()).rc == 0
    assert len(ep.requests) == 2
    assert len(srv.messages) == 2
    assert srv.tokens[0] != srv.tokens[1]


def test_expired_cache_file_is_refreshed(oauth, relay):
    ep, srv = oauth()
    assert relay.run(["-i", RCPT], input=message()).rc == 0
    (f,) = cache_files(relay)
    lines = f.read_text().split("\n")
    lines[1] = "1000000000"          # long past
    f.write_text("\n".join(lines))
    assert relay.run(["-i", RCPT], input=message()).rc == 0
    assert len(ep.requests) == 2
    assert len(srv.messages) == 2
    (f2,) = cache_files(relay)
    assert int(f2.read_text().split("\n")[1]) > 1000000000


def test_revoked_token_refreshed_once_and_delivered(oauth, relay):
    ep, srv = oauth()
    assert relay.run(["-i", RCPT], input=message()).rc == 0
    ep.valid.clear()                 # the provider revoked the cached token
    r = relay.run(["-i", RCPT], input=message(body="after revoke\n"))
    assert r.rc == 0, r
    assert len(ep.requests) == 2
    assert len(srv.messages) == 2
    assert srv.messages[1].endswith(b"after revoke\r\n")
    assert len(srv.tokens) == 3      # good, revoked, fresh
    assert_no_secret(relay, ep, srv, r)


def test_refused_even_after_refresh_is_queued(oauth, relay):
    ep, srv = oauth()
    srv.endpoint = type("Nothing", (), {"valid": set()})()   # the server accepts no token
    r = relay.run(["-i", RCPT], input=message())
    assert len(ep.requests) == 2     # one refresh, not a loop
    assert len(srv.messages) == 0
    if r.rc == 0:
        assert_queued(relay, r, RCPT)
    assert_no_secret(relay, ep, srv, r)


def test_token_endpoint_error_is_queued(oauth, relay):
    ep, srv = oauth()
    ep.error = (400, {"error": "invalid_grant",
                      "error_description": "Token has been expired or revoked."})
    r = relay.run(["-i", RCPT], input=message())
    q = assert_queued(relay, r, RCPT)
    assert "Token has been expired or revoked" in q.out, q.out
    assert len(ep.requests) == 1
    assert srv.tokens == []
    assert_no_secret(relay, ep, srv, r)
    ep.error = None
    f = relay.flush()
    assert f.rc == 0, f
    assert len(srv.messages) == 1
    assert "Mail queue is empty" in relay.mailq().out


def test_token_endpoint_untrusted_cert_is_queued(oauth, relay, certs):
    _, srv = oauth()
    rogue = TokenEndpoint(certs, certs.untrusted_cert, certs.untrusted_key)
    try:
        relay.configure(port=srv.port, tls="tls", user=USER, password=None,
                        mechanism="xoauth2",
                        auth={"oauth2_token_url": rogue.url, "oauth2_client_id": CLIENT_ID,
                              "oauth2_client_secret": CLIENT_SECRET,
                              "oauth2_refresh_token": REFRESH})
        r = relay.run(["-i", RCPT], input=message())
        q = assert_queued(relay, r, RCPT)
        assert rogue.requests == []      # TLS verification refused it first
        assert srv.tokens == []
        assert "OAuth2 token endpoint" in q.out, q.out
        assert_no_secret(relay, rogue, srv, r)
    finally:
        rogue.stop()


def test_secrets_from_files(oauth, relay):
    rt = relay.dir / "refresh.txt"
    rt.write_text(REFRESH + "\n")
    cs = relay.dir / "client-secret.txt"
    cs.write_text(CLIENT_SECRET + "\n")
    ep, srv = oauth(oauth2_refresh_token=None, oauth2_client_secret=None,
                    oauth2_refresh_token_file=str(rt), oauth2_client_secret_file=str(cs))
    r = relay.run(["-i", RCPT], input=message())
    assert r.rc == 0, r
    assert len(ep.requests) == 1 and ep.bad == [], (ep.requests, ep.bad)
    assert len(srv.messages) == 1


def test_verbose_redacts_every_secret(oauth, relay):
    ep, srv = oauth()
    r = relay.run(["-v", "-i", RCPT], input=message())
    assert r.rc == 0, r
    assert "AUTH XOAUTH2 <redacted>" in r.err, r.err
    assert len(srv.messages) == 1
    assert_no_secret(relay, ep, srv, r)
    ep.valid.clear()
    r2 = relay.run(["-v", "-i", RCPT], input=message())
    assert r2.rc == 0, r2
    assert len(srv.messages) == 2
    assert_no_secret(relay, ep, srv, r2)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a mount namespace")
def test_missing_oauth2_library_is_named_and_queued(oauth, relay):
    """libcurl is loaded only when a token is fetched: without it (here a
    mount namespace puts /dev/null over it), the error names the library and
    its Debian package, and the message waits in the queue."""
    ep, srv = oauth()
    hide = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
            'mount --bind /dev/null "$(readlink -f "$0")" && exec "$@"',
            "/usr/lib/x86_64-linux-gnu/libcurl.so.4"]
    r = relay.run(["-i", RCPT], input=message(), wrap=hide)
    q = assert_queued(relay, r, RCPT)
    assert "OAuth2 needs libcurl.so.4 and libjson-c.so.5 (Debian: libcurl4, libjson-c5)" \
        in r.err + q.out, (r.err, q.out)
    assert ep.requests == [] and srv.tokens == []
    assert_no_secret(relay, ep, srv, r)
    f = relay.flush()                   # the library is back: delivered
    assert f.rc == 0, f
    assert len(srv.messages) == 1
