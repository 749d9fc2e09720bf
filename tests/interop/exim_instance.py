"""A private, throw-away Exim smarthost for relaymail's interop tests.

Debian's exim4-daemon-light cannot be installed beside Postfix (both are
the mail-transport-agent), so its package and exim4-base's are fetched with
`apt-get download` into build/exim/ (once) and unpacked there with
`dpkg -x`; the libraries the binary needs are in tests/deps/interop.list.
The binary resolves its compiled-in user Debian-exim at start: that system
user is created when missing, as exim4-base's postinst would.

Everything else lives in one temporary directory: the configuration this
module writes (exim.conf, owned by root as Exim requires), spool, logs,
test certificates and one Maildir per mailbox. Exim listens on 127.0.0.1
only, on a STARTTLS port and an implicit-TLS port; AUTH (PLAIN and LOGIN,
plaintext authenticators checking one fixed user and password) is offered
only after TLS, and recipients are accepted only from authenticated
clients, only for alice, bob, carol and dave @interop.test (550 otherwise).
Nothing is relayed anywhere.
"""

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from postfix_instance import (DEFAULT_MAILBOXES, DEFAULT_PASSWORD,
                              DEFAULT_USER, DOMAIN, HOSTNAME, PostfixInstance,
                              SetupError, _run, _smtp_greeting, free_port,
                              mint_certs)

HERE = Path(__file__).resolve().parent
PKG_DIR = HERE.parent.parent / "build" / "exim"
PACKAGES = ("exim4-daemon-light", "exim4-base")
EXIM_USER = "Debian-exim"
START_TIMEOUT = 30

CONFIG = """\
# private Exim for relaymail's interoperability tests
primary_hostname = @HOST@
exim_path = @EXE@
exim_user = @USER@
exim_group = @USER@
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
pid_file_path = @DIR@/exim.pid
local_interfaces = 127.0.0.1
daemon_smtp_ports = @STARTTLS@ : @TLS@
tls_on_connect_ports = @TLS@
tls_advertise_hosts = *
tls_certificate = @DIR@/pki/server.pem
tls_privatekey = @DIR@/pki/server.key
auth_advertise_hosts = ${if eq{$tls_in_cipher}{}{}{*}}
domainlist local_domains = @DOMAIN@
acl_smtp_rcpt = check_rcpt
message_size_limit = 100M
host_lookup =
rfc1413_hosts =
keep_environment =

begin acl
check_rcpt:
  deny    !authenticated = *
          message = 5.7.1 authentication required
  deny    !domains = +local_domains
          message = 5.7.1 relay not permitted
  deny    !local_parts = @BOXES@
          message = 5.1.1 User unknown
  accept

begin routers
local:
  driver = accept
  domains = +local_domains
  local_parts = @BOXES@
  transport = maildir

begin transports
maildir:
  driver = appendfile
  directory = @DIR@/mail/${local_part_data}/Maildir
  maildir_format
  create_directory
  user = @USER@
  group = @USER@
  mode = 0640

begin authenticators
plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if and{{eq{$auth2}{@LOGIN@}}{eq{$auth3}{@PASSWORD@}}}}
  server_set_id = $auth2
login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${if and{{eq{$auth1}{@LOGIN@}}{eq{$auth2}{@PASSWORD@}}}}
  server_set_id = $auth1
"""


def _download(cmd):
    """apt-get download into PKG_DIR; its exit status."""
    try:
        return subprocess.run(cmd, cwd=str(PKG_DIR), timeout=600,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL).returncode
    except (OSError, subprocess.TimeoutExpired):
        return 1


def exim_binary():
    """build/exim/root/usr/sbin/exim4, downloaded and unpacked once."""
    exe = PKG_DIR / "root" / "usr" / "sbin" / "exim4"
    if exe.exists():
        return exe
    PKG_DIR.mkdir(parents=True, exist_ok=True)
    cmd = ["apt-get", "download", "-o", "DPkg::Lock::Timeout=300"] + \
        list(PACKAGES)
    if _download(cmd) != 0:
        _run(["apt-get", "update", "-qq"], timeout=600)
        if _download(cmd) != 0:
            raise SetupError("apt-get download %s failed" % " ".join(PACKAGES))
    for deb in sorted(PKG_DIR.glob("exim4-*.deb")):
        _run(["dpkg", "-x", str(deb), str(PKG_DIR / "root")])
    if not exe.exists():
        raise SetupError("no exim4 in %s after dpkg -x" % PKG_DIR)
    return exe


def ensure_user():
    """The system user the Debian binary was built to run as."""
    try:
        return pwd.getpwnam(EXIM_USER)
    except KeyError:
        _run(["useradd", "--system", "--user-group", "--no-create-home",
              "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
              EXIM_USER])
        return pwd.getpwnam(EXIM_USER)


class EximInstance:
    """One private Exim. After setup(): dir, starttls_port, tls_port, ca,
    user, password, domain, mailboxes, like PostfixInstance."""

    def __init__(self, user=DEFAULT_USER, password=DEFAULT_PASSWORD,
                 mailboxes=DEFAULT_MAILBOXES):
        self.user, self.password = user, password
        self.domain = DOMAIN
        self.mailboxes = list(mailboxes)
        self.dir = None
        self.starttls_port = self.tls_port = 0
        self.exe = None

    def setup(self):
        if os.geteuid() != 0:
            raise SetupError("the Exim instance needs root")
        self.exe = exim_binary()
        owner = ensure_user()
        self.dir = Path(tempfile.mkdtemp(prefix="rm-ex."))
        self.dir.chmod(0o755)
        for sub in ("spool", "log", "mail"):
            (self.dir / sub).mkdir()
            os.chown(self.dir / sub, owner.pw_uid, owner.pw_gid)
        mint_certs(self.dir / "pki")
        key = self.dir / "pki" / "server.key"
        os.chown(key, owner.pw_uid, owner.pw_gid)
        self.ca = str(self.dir / "pki" / "ca.pem")
        self.starttls_port = free_port()
        self.tls_port = free_port()
        while self.tls_port == self.starttls_port:
            self.tls_port = free_port()
        self.conf = self.dir / "exim.conf"
        text = CONFIG
        for name, value in (("HOST", HOSTNAME), ("EXE", str(self.exe)),
                            ("USER", EXIM_USER),
                            ("DIR", str(self.dir)), ("DOMAIN", self.domain),
                            ("STARTTLS", str(self.starttls_port)),
                            ("TLS", str(self.tls_port)),
                            ("BOXES", " : ".join(self.mailboxes)),
                            ("LOGIN", self.user), ("PASSWORD", self.password)):
            text = text.replace("@%s@" % name, value)
        self.conf.write_text(text)
        self.conf.chmod(0o644)
        return self

    def log_text(self):
        try:
            return (self.dir / "log" / "mainlog").read_text(errors="replace")
        except OSError:
            return ""

    def pid(self):
        try:
            pid = int((self.dir / "exim.pid").read_text())
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError):
            return None

    def start(self):
        """exim -bd (its own queue runner every minute), then both greetings."""
        _run([str(self.exe), "-C", str(self.conf), "-bd", "-q1m"])
        deadline = time.monotonic() + START_TIMEOUT
        for port, implicit in ((self.starttls_port, False),
                               (self.tls_port, True)):
            while not _smtp_greeting(port, implicit, 5):
                if time.monotonic() > deadline:
                    raise SetupError("no SMTP greeting on 127.0.0.1:%d:\n%s"
                                     % (port, self.log_text()))
                time.sleep(0.1)
        return self

    def stop(self, remove=True):
        pid = self.dir is not None and self.pid()
        if pid:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while self.pid() and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.pid():
                os.kill(pid, signal.SIGKILL)
        if remove and self.dir is not None and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    def messages(self, mailbox):
        """[(path, bytes)] delivered to mailbox, oldest first."""
        new = self.dir / "mail" / mailbox / "Maildir" / "new"
        try:
            files = sorted(new.iterdir(), key=lambda p: p.stat().st_mtime)
        except FileNotFoundError:
            return []
        return [(p, p.read_bytes()) for p in files]

    wait_for = PostfixInstance.wait_for
