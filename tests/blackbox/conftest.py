"""Fixtures for relaymail's black-box tests.

  certs       session: test CA and certificates minted with openssl
  smarthost   factory: smarthost(tls='starttls', user=..., ...) -> SmartHost
              (see smarthost.SmartHost for every option); stopped at teardown
  rawserver   factory: rawserver('naive'|'inject'|'malformed') -> RawServer
  relay       a Relay in a fresh tmp dir: relay.configure(host, **sections)
              writes relaymail.conf; relay.run(args, input) runs ./sendmail
              with -C and returns Result(rc, out, err)

The binary is $RELAYMAIL_SENDMAIL or <repo>/sendmail. A missing binary
fails the tests that need it (never a skip).
"""

import atexit
import base64
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from smarthost import RawServer, SmartHost  # noqa: E402
from harness import PASSWORD, USER  # noqa: E402
TIMEOUT = 60


def sendmail_path():
    return os.environ.get("RELAYMAIL_SENDMAIL") or str(REPO / "sendmail")


def is_sanitized(path):
    """True when the binary is built with ASan (RSS limits do not apply)."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def pytest_configure(config):
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS")


# --- certificates -------------------------------------------------------

def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Certs:
    """Paths of the test PKI (all PEM)."""

    def __init__(self, d):
        self.dir = d
        self.ca = str(d / "ca.pem")                 # the trusted test CA
        self.cert, self.key = str(d / "srv.pem"), str(d / "srv.key")
        self.wrong_cert = str(d / "wrong.pem")      # CN/SAN wrong.example.net
        self.wrong_key = str(d / "wrong.key")
        self.untrusted_cert = str(d / "rogue-srv.pem")  # from another CA
        self.untrusted_key = str(d / "rogue-srv.key")
        self.client_cert = str(d / "client.pem")    # clientAuth, test CA
        self.client_key = str(d / "client.key")
        self.expired_cert = str(d / "expired.pem")  # None if not made
        self.expired_key = str(d / "expired.key")


def _mk_ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             name + ".key", "-out", name + ".pem", "-days", "30", "-subj",
             "/CN=" + cn, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _mk_leaf(d, name, ca, cn, san, eku="serverAuth"):
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
             cwd=d)
    (d / (name + ".ext")).write_text(
        "subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=%s\n" % (san, eku))
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem",
             "-CAkey", ca + ".key", "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "30",
             "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def _mk_expired(d):
    """A localhost cert from the test CA that expired in 2020 (openssl ca)."""
    (d / "ca-db").mkdir()
    (d / "ca-db" / "index.txt").write_text("")
    (d / "ca.cnf").write_text(
        "[ca]\ndefault_ca=tca\n[tca]\ndir=%s\ndatabase=$dir/ca-db/index.txt\n"
        "new_certs_dir=$dir/ca-db\nserial=$dir/ca-db/serial\n"
        "default_md=sha256\npolicy=pol\nunique_subject=no\n"
        "copy_extensions=none\nx509_extensions=ext\n"
        "[pol]\ncommonName=supplied\n"
        "[ext]\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n" % d)
    (d / "ca-db" / "serial").write_text("1000\n")
    _openssl("req", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
             "expired.key", "-out", "expired.csr", "-subj", "/CN=localhost",
             cwd=d)
    _openssl("ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem",
             "-keyfile", "ca.key", "-in", "expired.csr", "-out",
             "expired.pem", "-startdate", "20200101000000Z", "-enddate",
             "20200102000000Z", "-notext", cwd=d)


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    _mk_ca(d, "ca", "relaymail test CA")
    _mk_leaf(d, "srv", "ca", "localhost", "DNS:localhost,IP:127.0.0.1")
    _mk_leaf(d, "wrong", "ca", "wrong.example.net", "DNS:wrong.example.net")
    _mk_ca(d, "rogue", "rogue CA")
    _mk_leaf(d, "rogue-srv", "rogue", "localhost",
             "DNS:localhost,IP:127.0.0.1")
    _mk_leaf(d, "client", "ca", "client.example.com",
             "DNS:client.example.com", eku="clientAuth")
    c = Certs(d)
    try:
        _mk_expired(d)
    except subprocess.CalledProcessError:
        c.expired_cert = c.expired_key = None
    return c


# --- servers --------------------------------------------------------------

@pytest.fixture
def smarthost(certs):
    """Factory: smarthost(**opts) -> running SmartHost (stopped after)."""
    started = []

    def start(tls="starttls", cert=None, key=None, **opts):
        if tls != "none" and cert is None:
            cert, key = certs.cert, certs.key
        if "user" not in opts and not opts.get("no_auth"):
            opts["user"], opts["password"] = USER, PASSWORD
        opts.pop("no_auth", None)
        h = SmartHost(tls=tls, cert=cert, key=key, **opts)
        started.append(h)
        return h
    yield start
    for h in started:
        h.stop()


@pytest.fixture
def rawserver(certs):
    started = []

    def start(mode, **kw):
        if mode == "inject":
            kw.setdefault("cert", certs.cert)
            kw.setdefault("key", certs.key)
        s = RawServer(mode, **kw)
        started.append(s)
        return s
    yield start
    for s in started:
        s.stop()


# --- running relaymail ----------------------------------------------------

class Result:
    def __init__(self, rc, out, err, rss_kb=None):
        self.rc, self.out, self.err, self.rss_kb = rc, out, err, rss_kb

    def __repr__(self):
        return "Result(rc=%r, out=%r, err=%r)" % (
            self.rc, self.out[-2000:], self.err[-2000:])

    def __iter__(self):
        return iter((self.rc, self.out, self.err))


_RSS_WRAPPER_C = r"""
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
/* rsswrap OUT PROG ARGS...: run PROG, write its peak RSS (KiB) to OUT */
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    pid_t pid = fork();
    if (pid < 0) return 2;
    if (pid == 0) { execv(argv[2], argv + 2); _exit(127); }
    int st; struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0) return 2;
    FILE *f = fopen(argv[1], "w");
    if (f) { fprintf(f, "%ld\n", ru.ru_maxrss); fclose(f); }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}
"""


_rsswrap_path = []


def rsswrap():
    """A tiny C wrapper that reports its child's peak RSS (built once).

    A C wrapper rather than Python: Linux carries the RSS of the process
    that forked into ru_maxrss across exec, so a Python parent would add its
    own ~10 MB to the figure.
    """
    if not _rsswrap_path:
        d = Path(tempfile.mkdtemp(prefix="rsswrap."))
        atexit.register(shutil.rmtree, str(d), True)
        (d / "rsswrap.c").write_text(_RSS_WRAPPER_C)
        subprocess.run(["cc", "-O2", "-o", str(d / "rsswrap"),
                        str(d / "rsswrap.c")], check=True, timeout=60)
        _rsswrap_path.append(str(d / "rsswrap"))
    return _rsswrap_path[0]


def write_ini(path, sections):
    lines = []
    for sec, kv in sections.items():
        if kv is None:
            continue
        lines.append("[%s]" % sec)
        for k, v in kv.items():
            if v is not None:
                lines.append("%s = %s" % (k, v))
        lines.append("")
    Path(path).write_text("\n".join(lines))
    return str(path)


class Relay:
    """A throw-away relaymail set-up: config, spool and log in one dir."""

    def __init__(self, tmp, certs):
        self.dir = tmp
        self.certs = certs
        self.spool = tmp / "spool"
        self.log = tmp / "relaymail.log"
        self.conf = None
        self.password = None   # checked against every output (SPEC)

    def sections(self, host=None, port=None, tls=None, user=USER,
                 password=PASSWORD, mechanism="auto"):
        """Default sections for a smarthost (SmartHost/RawServer or port)."""
        if host is not None:
            port = host.port
            tls = tls or getattr(host, "tls", "none")
            if getattr(host, "opts", None) is not None:
                user = host.opts.get("user")
                password = host.opts.get("password")
        auth = {"mechanism": mechanism, "user": user, "password": password}
        if not user:
            auth = {"mechanism": "none"}
        self.password = password if user else None
        tls = tls or "starttls"
        smarthost = {"host": "127.0.0.1", "port": port, "tls": tls,
                     "timeout": "10s"}
        if tls != "none":
            smarthost["tls_ca_file"] = self.certs.ca
        return {
            "smarthost": smarthost,
            "auth": auth,
            "sender": {"domain": "example.com"},
            "queue": {"dir": str(self.spool), "mode": "sync"},
            "log": {"syslog": "no", "file": str(self.log)},
        }

    def configure(self, host=None, path=None, **overrides):
        """Write relaymail.conf for host; overrides: section={key: value}.

        A value of None removes the key; a section of None removes it.
        Returns the path; later runs use it.
        """
        kw = {}
        for k in ("port", "tls", "user", "password", "mechanism"):
            if k in overrides:
                kw[k] = overrides.pop(k)
        secs = self.sections(host, **kw)
        for sec, kv in overrides.items():
            if kv is None:
                secs.pop(sec, None)
                continue
            secs.setdefault(sec, {}).update(kv)
        self.spool.mkdir(mode=0o700, exist_ok=True)
        self.conf = write_ini(path or self.dir / "relaymail.conf", secs)
        return self.conf

    def run(self, args, input=b"", config=True, env=None, timeout=TIMEOUT,
            rss=False, argv0=None, input_file=None, wrap=()):
        """Run sendmail [-C conf] args; stdin from input or input_file.

        config: True (this relay's config), False (no -C) or a path.
        env: extra environment. rss: measure peak RSS (Result.rss_kb).
        argv0: run under another name (e.g. 'mailq', 'newaliases').
        wrap: a command that runs sendmail as its arguments (e.g. unshare).
        """
        prog = sendmail_path()
        if not os.path.exists(prog):
            pytest.fail("relaymail binary %s does not exist (make first)"
                        % prog)
        cmd = [prog]
        if config:
            cmd += ["-C", config if isinstance(config, str) else self.conf]
        cmd += list(args)
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": str(self.dir),
             "LANG": "C", "USER": "root", "LOGNAME": "root"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        if env:
            e.update(env)
        rss_file = None
        if rss:
            rss_file = self.dir / "rss.txt"
            cmd = [rsswrap(), str(rss_file)] + cmd
        cmd = list(wrap) + cmd
        if argv0:
            exe, cmd = cmd[0], [argv0] + cmd[1:]
        else:
            exe = None
        if input_file is not None:
            stdin, data = open(input_file, "rb"), None
        else:
            stdin = subprocess.PIPE
            data = input.encode() if isinstance(input, str) else input
        try:
            p = subprocess.run(cmd, executable=exe, input=data, stdin=None
                               if data is not None else stdin,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=e, timeout=timeout, cwd=str(self.dir))
        finally:
            if stdin is not subprocess.PIPE:
                stdin.close()
        rss_kb = None
        if rss_file is not None and rss_file.exists():
            rss_kb = int(rss_file.read_text().strip())
        res = Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                     p.stderr.decode("utf-8", "replace"), rss_kb)
        self._check_invariants(res)
        return res

    def _check_invariants(self, res):
        """SPEC rules that hold for every run, whatever the test."""
        if res.rc == 75:
            pytest.fail("exit status 75 is never used (SPEC): %r" % (res,))
        if self.password:
            forms = [self.password,
                     base64.b64encode(self.password.encode()).decode()]
            for f in forms:
                if f in res.out or f in res.err:
                    pytest.fail("the password (%s) appears in the output"
                                % ("base64" if f != self.password else
                                   "plain"))

    def mailq(self, **kw):
        """sendmail -bp with this config (what mailq prints)."""
        return self.run(["-bp"], **kw)

    def flush(self, **kw):
        """sendmail -q: deliver the queue now."""
        return self.run(["-q"], **kw)

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() \
            else ""


@pytest.fixture
def relay(tmp_path, certs):
    return Relay(tmp_path, certs)


