"""The smarthosts the benchmark sends to, and the test PKI they use.

make_pki(dir)      a test CA and a localhost certificate (openssl)
AiosmtpdHost       tests/blackbox/smarthost.py run as a script, one process
                   per TLS mode; counts the messages it receives
PostfixHost        the private Postfix of tests/interop/postfix_instance.py

Every host has: .ports {'starttls': p, 'tls': p}, .user, .password,
.ca_file, .rcpt (an address it accepts), .received() (messages delivered
so far), .arrivals(prefix) (when each message whose Message-ID starts with
prefix arrived, where the host can tell) and .stop().
"""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SMARTHOST_PY = REPO / "tests" / "blackbox" / "smarthost.py"
INTEROP = REPO / "tests" / "interop"
USER, PASSWORD = "benchuser", "benchpass-0123"


def _openssl(args, cwd):
    subprocess.run(["openssl"] + args, cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(d):
    """Mint ca.pem and srv.pem/srv.key (localhost, 127.0.0.1) in d."""
    d = Path(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    _openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem",
              "-days", "7", "-subj", "/CN=relaymail bench CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"], d)
    _openssl(["req"] + ec + ["-keyout", "srv.key", "-out", "srv.csr",
              "-subj", "/CN=localhost"], d)
    (d / "srv.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl(["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
              "ca.key", "-CAcreateserial", "-days", "7", "-extfile",
              "srv.ext", "-out", "srv.pem"], d)
    return {"ca": str(d / "ca.pem"), "cert": str(d / "srv.pem"),
            "key": str(d / "srv.key")}


class _Script:
    """One smarthost.py process; a thread drains and counts its output."""

    def __init__(self, tls, pki, workdir):
        cmd = [sys.executable, str(SMARTHOST_PY), "--port", "0",
               "--tls", tls, "--cert", pki["cert"], "--key", pki["key"],
               "--user", USER, "--password", PASSWORD,
               "--mechanisms", "PLAIN,LOGIN"]
        self.err = open(os.path.join(workdir, "smarthost-%s.err" % tls), "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.err, stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("smarthost.py (%s) did not start: %r"
                               % (tls, line))
        self.port = int(line.split()[1])
        self.count = 0
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()

    def _drain(self):
        # the script prints one line per message: never let the pipe fill
        for line in self.proc.stdout:
            if line.startswith(b"RECEIVED "):
                self.count += 1

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.err.close()


class AiosmtpdHost:
    """The aiosmtpd test smarthost: STARTTLS and implicit TLS, AUTH
    PLAIN/LOGIN (what most providers offer), PIPELINING, 8BITMIME."""

    name = "aiosmtpd"
    rcpt = "alice@interop.test"

    def __init__(self, pki, workdir):
        self.ca_file = pki["ca"]
        self.user, self.password = USER, PASSWORD
        self._hosts = {}
        try:
            for tls in ("starttls", "tls"):
                self._hosts[tls] = _Script(tls, pki, workdir)
        except Exception:
            self.stop()
            raise
        self.ports = {k: h.port for k, h in self._hosts.items()}

    def received(self):
        return sum(h.count for h in self._hosts.values())

    def arrivals(self, prefix):
        """None: the script reports no Message-IDs (count received())."""
        return None

    def stop(self):
        for h in self._hosts.values():
            h.stop()


POSTFIX_SCRIPT = INTEROP / "postfix_instance.py"
MESSAGE_ID = re.compile(rb"^message-id:[ \t]*<([^>]*)>",
                        re.IGNORECASE | re.MULTILINE)
HEAD_BYTES = 8192       # the bench's headers are all in the first few lines


class PostfixHost:
    """The private Postfix of tests/interop/postfix_instance.py (STARTTLS
    port + implicit TLS port, Cyrus SASL PLAIN/LOGIN/CRAM-MD5), run with
    its `run` command: it prints PF_KEY=VALUE lines, then stays up until
    its stdin closes. It mints its own CA; mail goes to Maildirs."""

    name = "postfix"
    rcpt = "alice@interop.test"

    def __init__(self, pki, workdir):
        if not POSTFIX_SCRIPT.exists():
            raise RuntimeError("%s does not exist; use --smarthost aiosmtpd"
                               % POSTFIX_SCRIPT)
        self.user, self.password = USER, PASSWORD
        self.err = open(os.path.join(workdir, "postfix.err"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(POSTFIX_SCRIPT), "run", "--user", USER,
             "--password", PASSWORD, "--mailbox", "alice"],
            stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=self.err)
        info = {}
        timer = threading.Timer(90, self.proc.kill)
        timer.start()
        try:
            for line in self.proc.stdout:
                k, _, v = line.decode(errors="replace").strip().partition("=")
                info[k] = v
                if k == "PF_MAILBOXES":
                    break
        finally:
            timer.cancel()
        if "PF_STARTTLS_PORT" not in info:
            self.stop()
            raise RuntimeError("postfix_instance.py did not start (see %s)"
                               % self.err.name)
        self.ports = {"starttls": int(info["PF_STARTTLS_PORT"]),
                      "tls": int(info["PF_TLS_PORT"])}
        self.ca_file = info["PF_CA"]
        self.maildir = Path(info["PF_MAIL_DIR"]) / info["PF_DOMAIN"] / \
            "alice"
        self._seen = {}     # mailbox file name -> (Message-ID, mtime)
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def received(self):
        n = 0
        for sub in ("new", "cur"):
            try:
                n += len(os.listdir(self.maildir / sub))
            except OSError:
                pass
        return n

    def _read_new_files(self):
        """Note the Message-ID and mtime of each mailbox file not seen yet
        (virtual(8) renames a finished file into new/: each is whole)."""
        for sub in ("new", "cur"):
            try:
                names = os.listdir(self.maildir / sub)
            except OSError:
                continue
            for name in names:
                if name in self._seen:
                    continue
                path = self.maildir / sub / name
                try:
                    with open(path, "rb") as f:
                        head = f.read(HEAD_BYTES).split(b"\n\n", 1)[0]
                        mtime = os.fstat(f.fileno()).st_mtime
                except OSError:
                    continue
                m = MESSAGE_ID.search(head)
                self._seen[name] = (m.group(1).decode(errors="replace")
                                    if m else "", mtime)

    def arrivals(self, prefix):
        """{Message-ID: [mtime of each mailbox file that has it]} for the
        Message-IDs that start with prefix: more than one time is a
        duplicate; the mtime is when Postfix delivered it."""
        self._read_new_files()
        out = {}
        for mid, mtime in self._seen.values():
            if mid.startswith(prefix):
                out.setdefault(mid, []).append(mtime)
        return out

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()     # its signal to stop and clean up
                self.proc.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.terminate()
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(10)
        self.err.close()


def start(kind, pki, workdir):
    if kind == "postfix":
        return PostfixHost(pki, workdir)
    return AiosmtpdHost(pki, workdir)
