"""Fixtures for relaymail's interoperability tests against a real Postfix.

  postfix   session: a private Postfix (postfix_instance.PostfixInstance)
            on two free 127.0.0.1 ports, STARTTLS and implicit TLS, Cyrus
            SASL with a sasldb; stopped and removed at the end
  exim      session: a private Exim (exim_instance.EximInstance, Debian's
            exim4-daemon-light unpacked under build/exim) on two free
            127.0.0.1 ports, STARTTLS and implicit TLS, AUTH PLAIN/LOGIN
  relay     a throw-away relaymail set-up in the test's tmp dir:
            relay.configure(postfix, tls=, mechanism=, password=, ...)
            writes relaymail.conf; relay.run(args, input) runs ./sendmail
            (or $RELAYMAIL_SENDMAIL) with -C and returns Result

When a test fails, the tail of Postfix's maillog (or Exim's mainlog) is
printed with it.
"""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

from exim_instance import EximInstance  # noqa: E402
from postfix_instance import PostfixInstance, SetupError  # noqa: E402

RUN_TIMEOUT = 60


def sendmail_path():
    return os.environ.get("RELAYMAIL_SENDMAIL") or str(REPO / "sendmail")


def running(inst, name):
    """Set up and start inst, yield it, stop it (a session fixture's body)."""
    try:
        inst.setup().start()
    except SetupError as e:
        inst.stop(remove=False)
        pytest.fail("the %s smarthost did not start (kept in %s):\n%s"
                    % (name, inst.dir, e), pytrace=False)
    yield inst
    inst.stop()


@pytest.fixture(scope="session")
def postfix():
    yield from running(PostfixInstance(), "Postfix")


@pytest.fixture(scope="session")
def exim():
    yield from running(EximInstance(), "Exim")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the end of Postfix's maillog to a failing test's report."""
    outcome = yield
    rep = outcome.get_result()
    args = getattr(item, "funcargs", {})
    pf, ex = args.get("postfix"), args.get("exim")
    if rep.failed and isinstance(pf, PostfixInstance):
        tail = "\n".join(pf.maillog_text().splitlines()[-40:])
        rep.sections.append(("postfix maillog (last 40 lines)", tail))
    if rep.failed and isinstance(ex, EximInstance):
        tail = "\n".join(ex.log_text().splitlines()[-40:])
        rep.sections.append(("exim mainlog (last 40 lines)", tail))


class Result:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def __repr__(self):
        return "Result(rc=%r, out=%r, err=%r)" % (
            self.rc, self.out[-2000:], self.err[-2000:])


class Relay:
    """relaymail's configuration, spool and log in one directory."""

    def __init__(self, tmp):
        self.dir = tmp
        self.spool = tmp / "spool"
        self.log = tmp / "relaymail.log"
        self.conf = tmp / "relaymail.conf"
        self.password = None

    def configure(self, pf, tls="starttls", mechanism="auto", password=None,
                  ca=True, **extra):
        """Write relaymail.conf pointing at Postfix pf.

        tls: starttls (pf.starttls_port) or tls (pf.tls_port).
        password: default pf.password. ca: False = system trust store.
        extra: section={key: value} added or replacing.
        """
        port = pf.starttls_port if tls == "starttls" else pf.tls_port
        smarthost = {"host": "127.0.0.1", "port": port, "tls": tls,
                     "timeout": "15s"}
        if ca:
            smarthost["tls_ca_file"] = pf.ca
        if mechanism == "none":
            auth = {"mechanism": "none"}
            self.password = None
        else:
            self.password = pf.password if password is None else password
            auth = {"mechanism": mechanism, "user": pf.user,
                    "password": self.password}
        secs = {"smarthost": smarthost, "auth": auth,
                "sender": {"domain": pf.domain},
                "queue": {"dir": str(self.spool), "mode": "sync"},
                "log": {"syslog": "no", "file": str(self.log)}}
        for sec, kv in extra.items():
            secs.setdefault(sec, {}).update(kv)
        lines = []
        for sec, kv in secs.items():
            lines.append("[%s]" % sec)
            lines += ["%s = %s" % (k, v) for k, v in kv.items()]
            lines.append("")
        self.spool.mkdir(mode=0o700, exist_ok=True)
        self.conf.write_text("\n".join(lines))
        self.conf.chmod(0o600)
        return self.conf

    def run(self, args, input=b""):
        prog = sendmail_path()
        if not os.path.exists(prog):
            pytest.fail("relaymail binary %s does not exist (make first)"
                        % prog)
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.dir), "LANG": "C",
               "USER": "root", "LOGNAME": "root"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        data = input.encode() if isinstance(input, str) else input
        p = subprocess.run([prog, "-C", str(self.conf)] + list(args),
                           input=data, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env,
                           timeout=RUN_TIMEOUT, cwd=str(self.dir))
        res = Result(p.returncode, p.stdout.decode("utf-8", "replace"),
                     p.stderr.decode("utf-8", "replace"))
        if res.rc == 75:
            pytest.fail("exit status 75 is never used (SPEC): %r" % (res,))
        if self.password:
            for form in (self.password,
                         base64.b64encode(self.password.encode()).decode()):
                if form in res.out or form in res.err:
                    pytest.fail("the password appears in the output")
        return res

    def mailq(self):
        return self.run(["-bp"])

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() \
            else ""


@pytest.fixture
def relay(tmp_path):
    return Relay(tmp_path)
