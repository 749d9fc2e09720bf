#!/usr/bin/python3
"""A private, throw-away Postfix smarthost for relaymail's tests and bench.

Everything lives in one temporary directory (config, queue, data, sasldb,
certificates, mailboxes, log); nothing of the system's Postfix is used but
its programs. It listens on 127.0.0.1 only, on two ports:

  starttls   submission style: STARTTLS required (smtpd_tls_security_level
             = encrypt), then AUTH
  tls        implicit TLS (smtpd_tls_wrappermode = yes), then AUTH

AUTH is Cyrus SASL with a private sasldb (PLAIN, LOGIN, CRAM-MD5); the
recipient restrictions accept only authenticated clients. Mail for
@interop.test goes through Postfix's virtual(8) agent to a Maildir per
user under DIR/mail; any other local part is refused with 550 at RCPT.

As a module: PostfixInstance(...).start(), .messages(user), .stop().
As a program (the bench uses it):

  postfix_instance.py start [--dir D] [--starttls-port N] [--tls-port N]
                            [--user U] [--password P] [--mailbox NAME]...
                            [--size-limit BYTES]
        sets up and starts; prints KEY=VALUE lines (shell-sourcable) with
        the ports and paths, then returns with Postfix running
  postfix_instance.py stop --dir D [--keep]
        stops it and removes D (unless --keep)
  postfix_instance.py run [same options as start]
        start, print, stay until stdin closes or SIGTERM/SIGINT, then stop

Ports 0 (the default) mean: pick free ones. Needs root (Postfix's master
runs as root and its daemons as the postfix user).
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEPS_LIST = HERE.parent / "deps" / "interop.list"

DOMAIN = "interop.test"
HOSTNAME = "mx.interop.test"
DEFAULT_USER = "myaccount"
DEFAULT_PASSWORD = "interop-Pass-7351"
DEFAULT_MAILBOXES = ("alice", "bob", "carol", "dave")
MECHANISMS = "PLAIN LOGIN CRAM-MD5"
MAILBOX_OWNER = "nobody"        # virtual(8) delivers as this user
SIZE_LIMIT = 100 * 1024 * 1024  # room for the bench's 25 MB message
START_TIMEOUT = 30
STOP_TIMEOUT = 20


class SetupError(Exception):
    """The instance could not be set up or started (message says why)."""


class _PortBusy(SetupError):
    """master(8) could not bind a listening port."""


def _run(cmd, timeout=60, input=None, env=None, check=True):
    """Run cmd, return CompletedProcess (text); SetupError on failure."""
    try:
        p = subprocess.run(cmd, input=input, env=env, timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError("%s: %s" % (" ".join(cmd), e)) from e
    if check and p.returncode != 0:
        raise SetupError("%s exited %d:\n%s%s" % (
            " ".join(cmd), p.returncode, p.stdout, p.stderr))
    return p


# --- packages ---------------------------------------------------------------

def required_packages():
    """Debian packages named in tests/deps/interop.list."""
    names = []
    for line in DEPS_LIST.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def missing_packages():
    missing = []
    for name in required_packages():
        p = _run(["dpkg-query", "-W", "-f=${Status}", name], check=False)
        if not p.stdout.endswith(" installed"):
            missing.append(name)
    return missing


def ensure_packages():
    """Install what interop.list names and is missing (root, apt-get).

    Postfix's package would configure and start a system-wide mail server:
    debconf is told "No configuration" first, and a policy-rc.d that
    refuses every service start is put in place for the install (and
    removed afterwards, unless one was already there).
    """
    missing = missing_packages()
    if not missing:
        return
    if os.geteuid() != 0:
        raise SetupError("missing packages: %s (install them as root)"
                         % " ".join(missing))
    _run(["debconf-set-selections"], input="postfix postfix/main_mailer_type"
         " select No configuration\n")
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:
        policy.write_text("#!/bin/sh\n# relaymail interop install\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        _run(["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=300"],
             timeout=600, env=env)
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
              "-o", "DPkg::Lock::Timeout=300"] + missing, timeout=900,
             env=env)
    finally:
        if ours:
            policy.unlink()


# --- helpers ----------------------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openssl(d, *args):
    try:
        subprocess.run(["openssl"] + list(args), cwd=str(d), check=True,
                       timeout=60, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    except subprocess.CalledProcessError as e:
        raise SetupError("openssl %s: %s" % (args[0], e.stderr)) from e


def mint_certs(d):
    """A test CA and a server certificate for localhost / 127.0.0.1."""
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes"]
    _openssl(d, "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "30", "-subj", "/CN=relaymail interop CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl(d, "req", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=localhost")
    (d / "server.ext").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl(d, "x509", "-req", "-in", "server.csr", "-CA", "ca.pem",
             "-CAkey", "ca.key", "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
             "-extfile", "server.ext", "-out", "server.pem")
    (d / "server.key").chmod(0o600)


def _smtp_greeting(port, implicit_tls, timeout):
    """True when a 220 greeting can be read on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout) as s:
            if implicit_tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(s)
            data = b""
            while b"\n" not in data:
                chunk = s.recv(512)
                if not chunk:
                    return False
                data += chunk
            ok = data.startswith(b"220")
            try:
                s.sendall(b"QUIT\r\n")
            except OSError:
                pass
            return ok
    except (OSError, ssl.SSLError):
        return False


# --- the instance -----------------------------------------------------------

class PostfixInstance:
    """One private Postfix. Attributes after setup():

    dir, config_dir, queue_dir, data_dir, mail_dir, maillog (paths);
    starttls_port, tls_port; ca (PEM of the CA that signed the server
    certificate); user, password (SASL); domain; mailboxes (local parts
    that exist).
    """

    def __init__(self, base=None, starttls_port=0, tls_port=0,
                 user=DEFAULT_USER, password=DEFAULT_PASSWORD,
                 mailboxes=DEFAULT_MAILBOXES, size_limit=SIZE_LIMIT):
        self.auto_ports = not starttls_port and not tls_port
        self.size_limit = size_limit
        self.dir = Path(base) if base else None
        self.starttls_port = starttls_port
        self.tls_port = tls_port
        self.user, self.password = user, password
        self.domain = DOMAIN
        self.mailboxes = list(mailboxes)
        self.started = False

    # layout -------------------------------------------------------------
    def _paths(self):
        d = self.dir
        self.config_dir = d / "etc"
        self.queue_dir = d / "spool"
        self.data_dir = d / "data"
        self.mail_dir = d / "mail"
        self.cert_dir = d / "pki"
        self.sasl_dir = self.config_dir / "sasl"
        self.sasldb = self.config_dir / "sasldb2"
        self.maillog = d / "maillog"
        self.ca = str(self.cert_dir / "ca.pem")

    def setup(self):
        """Create directories, certificates, sasldb and configuration."""
        ensure_packages()
        if self.dir is None:
            # short and outside pytest's 0700 tree: Postfix's unix sockets
            # (108-byte limit) and virtual(8) (runs as nobody) need that
            self.dir = Path(tempfile.mkdtemp(prefix="rm-pf."))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        self._paths()
        if not self.starttls_port:
            self.starttls_port = free_port()
        if not self.tls_port:
            self.tls_port = free_port()
            while self.tls_port == self.starttls_port:
                self.tls_port = free_port()
        pf = pwd.getpwnam("postfix")
        owner = pwd.getpwnam(MAILBOX_OWNER)
        for p in (self.config_dir, self.sasl_dir, self.queue_dir):
            p.mkdir(mode=0o755, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.data_dir, pf.pw_uid, pf.pw_gid)
        self.mail_dir.mkdir(mode=0o755, exist_ok=True)
        os.chown(self.mail_dir, owner.pw_uid, owner.pw_gid)
        mint_certs(self.cert_dir)
        self._write_sasl(pf)
        self._write_maps()
        self._write_main_cf(owner)
        self._write_master_cf()
        self._save_state()
        return self

    def _write_sasl(self, pf):
        (self.sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\n"
            "auxprop_plugin: sasldb\n"
            "mech_list: %s\n"
            "sasldb_path: %s\n" % (MECHANISMS, self.sasldb))
        if self.sasldb.exists():
            self.sasldb.unlink()
        _run(["saslpasswd2", "-c", "-p", "-f", str(self.sasldb), "-u",
              self.domain, self.user], input=self.password + "\n")
        os.chown(self.sasldb, 0, pf.pw_gid)
        self.sasldb.chmod(0o640)

    def _write_maps(self):
        lines = ["%s@%s %s/%s/" % (m, self.domain, self.domain, m)
                 for m in self.mailboxes]
        (self.config_dir / "vmailbox").write_text("\n".join(lines) + "\n")

    def _write_main_cf(self, owner):
        d = self
        (d.config_dir / "main.cf").write_text("""\
# private Postfix for relaymail's interoperability tests
compatibility_level = 3.6
queue_directory = {q}
data_directory = {data}
meta_directory = /etc/postfix
maillog_file = {log}
maillog_file_prefixes = {base}
myhostname = {host}
mydomain = {dom}
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery here
default_transport = error:5.7.1 this test instance relays nowhere
relay_transport = error:5.7.1 this test instance relays nowhere
virtual_mailbox_domains = {dom}
virtual_mailbox_base = {mail}
virtual_mailbox_maps = texthash:{cfg}/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
biff = no
in_flow_delay = 0
smtpd_error_sleep_time = 0
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP relaymail-interop
smtpd_tls_cert_file = {pki}/server.pem
smtpd_tls_key_file = {pki}/server.key
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database = btree:$data_directory/smtpd_scache
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = {sasl}
smtpd_sasl_local_domain = {dom}
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = permit_sasl_authenticated, reject
smtpd_reject_unlisted_recipient = yes
message_size_limit = {size}
virtual_mailbox_limit = 0
""".format(q=d.queue_dir, data=d.data_dir, log=d.maillog, base=d.dir,
           host=HOSTNAME, dom=d.domain, mail=d.mail_dir, cfg=d.config_dir,
           uid=owner.pw_uid, gid=owner.pw_gid, pki=d.cert_dir,
           sasl=d.sasl_dir, size=d.size_limit))

    def _write_master_cf(self):
        # no chroot anywhere: smtpd must read the private sasldb and certs
        services = [
            ("127.0.0.1:%d" % self.starttls_port, "inet", "n", "-", "n",
             "-", "-", "smtpd -o syslog_name=postfix/starttls"),
            ("127.0.0.1:%d" % self.tls_port, "inet", "n", "-", "n", "-",
             "-", "smtpd -o syslog_name=postfix/smtps"
             " -o smtpd_tls_wrappermode=yes"),
            ("cleanup", "unix", "n", "-", "n", "-", "0", "cleanup"),
            ("qmgr", "unix", "n", "-", "n", "300", "1", "qmgr"),
            ("tlsmgr", "unix", "-", "-", "n", "1000?", "1", "tlsmgr"),
            ("rewrite", "unix", "-", "-", "n", "-", "-", "trivial-rewrite"),
            ("bounce", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("defer", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("trace", "unix", "-", "-", "n", "-", "0", "bounce"),
            ("verify", "unix", "-", "-", "n", "-", "1", "verify"),
            ("flush", "unix", "n", "-", "n", "1000?", "0", "flush"),
            ("proxymap", "unix", "-", "-", "n", "-", "-", "proxymap"),
            ("proxywrite", "unix", "-", "-", "n", "-", "1", "proxymap"),
            ("showq", "unix", "n", "-", "n", "-", "-", "showq"),
            ("error", "unix", "-", "-", "n", "-", "-", "error"),
            ("retry", "unix", "-", "-", "n", "-", "-", "error"),
            ("discard", "unix", "-", "-", "n", "-", "-", "discard"),
            ("virtual", "unix", "-", "n", "n", "-", "-", "virtual"),
            ("anvil", "unix", "-", "-", "n", "-", "1", "anvil"),
            ("scache", "unix", "-", "-", "n", "-", "1", "scache"),
            ("postlog", "unix-dgram", "n", "-", "n", "-", "1", "postlogd"),
        ]
        text = "# private Postfix for relaymail's interoperability tests\n"
        for s in services:
            text += "%-22s %-10s %-2s %-2s %-2s %-6s %-2s %s\n" % s
        (self.config_dir / "master.cf").write_text(text)

    def _save_state(self):
        (self.dir / "instance.json").write_text(json.dumps(self.info()))

    @classmethod
    def load(cls, base):
        """The instance described by DIR/instance.json (for `stop`)."""
        info = json.loads((Path(base) / "instance.json").read_text())
        inst = cls(base, info["starttls_port"], info["tls_port"],
                   info["user"], info["password"], info["mailboxes"])
        inst._paths()
        inst.started = True
        return inst

    def info(self):
        return {"dir": str(self.dir), "starttls_port": self.starttls_port,
                "tls_port": self.tls_port, "host": "127.0.0.1",
                "ca": self.ca, "user": self.user, "password": self.password,
                "domain": self.domain, "mailboxes": self.mailboxes,
                "mail_dir": str(self.mail_dir), "maillog": str(self.maillog),
                "config_dir": str(self.config_dir)}

    # control ------------------------------------------------------------
    def postfix(self, *args, timeout=60, check=True):
        return _run(["/usr/sbin/postfix", "-c", str(self.config_dir)]
                    + list(args), timeout=timeout, check=check)

    def maillog_text(self):
        try:
            return self.maillog.read_text(errors="replace")
        except OSError:
            return ""

    def master_pid(self):
        """PID of our master(8), or None when it is not running."""
        try:
            pid = int((self.queue_dir / "pid" / "master.pid").read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self):
        """postfix check, postfix start, then wait for both greetings.

        Ports that were picked here and turn out to be taken by the time
        master(8) binds them are picked again (up to three tries).
        """
        if self.dir is None:
            self.setup()
        for attempt in range(3):
            try:
                self._start_once()
                return self
            except _PortBusy as e:
                self.stop(remove=False)
                if not self.auto_ports or attempt == 2:
                    raise SetupError("%s\n--- maillog %s ---\n%s" % (
                        e, self.maillog, self.maillog_text())) from None
                self.starttls_port, self.tls_port = free_port(), free_port()
                self._write_master_cf()
                self._save_state()
            except SetupError as e:
                raise SetupError("%s\n--- maillog %s ---\n%s" % (
                    e, self.maillog, self.maillog_text())) from None
        return self

    def _start_once(self):
        p = self.postfix("check", check=False)
        if p.returncode != 0 or "fatal" in p.stderr:
            raise SetupError("postfix check failed:\n" + p.stderr)
        log_start = len(self.maillog_text())
        p = self.postfix("start", check=False)
        self.started = True
        if p.returncode != 0:
            if "Address already in use" in self.maillog_text()[log_start:]:
                raise _PortBusy("port %d or %d is taken" % (
                    self.starttls_port, self.tls_port))
            raise SetupError("postfix start exited %d:\n%s%s" % (
                p.returncode, p.stdout, p.stderr))
        started = time.monotonic()
        deadline = started + START_TIMEOUT
        for port, implicit in ((self.starttls_port, False),
                               (self.tls_port, True)):
            while not _smtp_greeting(port, implicit, 5):
                log = self.maillog_text()[log_start:]
                if "Address already in use" in log:
                    raise _PortBusy("port %d or %d is taken" % (
                        self.starttls_port, self.tls_port))
                # master.pid may lag a moment behind "postfix start"
                if time.monotonic() > started + 2 and not self.master_pid():
                    raise SetupError("master(8) is not running")
                if time.monotonic() > deadline:
                    raise SetupError("no SMTP greeting on 127.0.0.1:%d"
                                     " after %d s" % (port, START_TIMEOUT))
                time.sleep(0.1)

    def stop(self, remove=True):
        """Stop master(8) and wait for it; remove the directory."""
        if self.started:
            pid = self.master_pid()
            self.postfix("stop", check=False, timeout=STOP_TIMEOUT)
            deadline = time.monotonic() + STOP_TIMEOUT
            while pid and self.master_pid() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.master_pid():
                self.postfix("abort", check=False, timeout=STOP_TIMEOUT)
                time.sleep(1)
            if pid and self.master_pid() == pid:
                os.kill(pid, signal.SIGKILL)
            self.started = False
        if remove and self.dir is not None and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    # reading mail back --------------------------------------------------
    def messages(self, mailbox):
        """[(path, bytes)] of the mails delivered to mailbox (oldest first)."""
        new = self.mail_dir / self.domain / mailbox / "new"
        try:
            files = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime)
        except FileNotFoundError:
            return []
        return [(p, p.read_bytes()) for p in files]

    def wait_for(self, mailbox, token, timeout=30):
        """The mail in mailbox whose bytes contain token, or None."""
        tok = token.encode() if isinstance(token, str) else token
        deadline = time.monotonic() + timeout
        while True:
            for _, data in self.messages(mailbox):
                if tok in data:
                    return data
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)


# --- command line -----------------------------------------------------------

def _print_info(inst):
    i = inst.info()
    for key in ("dir", "host", "starttls_port", "tls_port", "ca", "user",
                "password", "domain", "mail_dir", "maillog", "config_dir"):
        print("PF_%s=%s" % (key.upper(), i[key]))
    print("PF_MAILBOXES=%s" % ",".join(i["mailboxes"]))
    sys.stdout.flush()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("start", "run"):
        s = sub.add_parser(name)
        s.add_argument("--dir")
        s.add_argument("--starttls-port", type=int, default=0)
        s.add_argument("--tls-port", type=int, default=0)
        s.add_argument("--user", default=DEFAULT_USER)
        s.add_argument("--password", default=DEFAULT_PASSWORD)
        s.add_argument("--mailbox", action="append")
        s.add_argument("--size-limit", type=int, default=SIZE_LIMIT)
    s = sub.add_parser("stop")
    s.add_argument("--dir", required=True)
    s.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)

    if a.cmd == "stop":
        PostfixInstance.load(a.dir).stop(remove=not a.keep)
        return 0
    inst = PostfixInstance(a.dir, a.starttls_port, a.tls_port, a.user,
                           a.password, a.mailbox or DEFAULT_MAILBOXES,
                           a.size_limit)
    try:
        inst.setup().start()
    except SetupError as e:
        print("postfix_instance: %s" % e, file=sys.stderr)
        inst.stop(remove=False)
        return 1
    _print_info(inst)
    if a.cmd == "start":
        return 0
    def on_term(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    try:
        while sys.stdin.read(1) != "":
            pass
    except KeyboardInterrupt:
        pass
    finally:
        inst.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
