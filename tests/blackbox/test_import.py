"""sendmail --import=FORMAT [FILE]: another MTA's settings as a relaymail.conf.

Configuration files are written from each program's documentation, and
the default files that Debian's packages ship are read from the packages
themselves: the session fixture downloads msmtp, ssmtp, nullmailer, dma
and postfix with apt-get download into build/import-debs/ (once) and
unpacks them there. Every configuration printed is loaded by relaymail
itself (sendmail -C out.conf -bv root).
"""

import grp
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import REPO, sendmail_path

SECRET = "TOPSECRET-pw-9"
PACKAGES = ["msmtp", "ssmtp", "nullmailer", "dma", "postfix"]


def run(*args, env=None):
    return subprocess.run([sendmail_path(), *args], capture_output=True, text=True, timeout=30,
                          env=env)


def imported(tmp_path, fmt, path, name="out.conf"):
    """--import, expected to succeed; the output checked by relaymail itself."""
    r = run("--import=" + fmt, str(path))
    assert r.returncode == 0, r
    assert SECRET not in r.stdout and SECRET not in r.stderr
    out = tmp_path / name
    out.write_text(r.stdout)
    v = run("-C", str(out), "-bv", "root")
    assert v.returncode == 0, (r.stdout, v)
    return r


def assert_lines(r, lines):
    """Each of lines is a line of the configuration printed."""
    printed = r.stdout.splitlines()
    for line in lines:
        assert line in printed, (line, r.stdout)


def nullmailer_dir(tmp_path, files):
    """A nullmailer configuration directory holding files {name: text}."""
    d = tmp_path / "nullmailer"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text)
    return d


@pytest.fixture(scope="session")
def debs():
    """The five packages unpacked under build/import-debs/NAME/."""
    top = REPO / "build" / "import-debs"
    top.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        root = top / name
        if (root / "usr").is_dir():
            continue
        for old in top.glob(name + "_*.deb"):
            old.unlink()
        subprocess.run(["apt-get", "download", "-q", name], cwd=top, check=True,
                       capture_output=True)
        deb = next(top.glob(name + "_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return top


def test_bad_format_exit_64():
    r = run("--import=exim")
    assert r.returncode == 64
    assert "unknown import format" in r.stderr


def test_account_on_other_format_exit_64():
    assert run("--import=dma:x").returncode == 64


def test_missing_file_exit_66(tmp_path):
    r = run("--import=ssmtp", str(tmp_path / "nope.conf"))
    assert r.returncode == 66
    assert "nope.conf" in r.stderr


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_file_that_is_not_regular_exit_66(tmp_path, kind):
    """A FIFO is refused without waiting for a writer (run's 30 s timeout
    would fire), as a directory is."""
    f = tmp_path / "odd.conf"
    if kind == "directory":
        f.mkdir()
    else:
        os.mkfifo(f)
    r = run("--import=ssmtp", str(f))
    assert r.returncode == 66, r
    assert str(f) + " is not a regular file" in r.stderr, r


def test_missing_nullmailer_directory_exit_66(tmp_path):
    assert run("--import=nullmailer", str(tmp_path / "nullmailer")).returncode == 66


def test_nonsense_exit_78(tmp_path):
    f = tmp_path / "main.cf"
    f.write_text("this is not postfix\n")
    r = run("--import=postfix", str(f))
    assert r.returncode == 78
    assert "main.cf" in r.stderr


def test_needs_no_relaymail_config(tmp_path):
    f = tmp_path / "msmtprc"
    f.write_text("account default\nhost smtp.example.com\ntls on\n")
    r = run("--import=msmtp", str(f), env={"RELAYMAIL_CONFIG": str(tmp_path / "absent.conf")})
    assert r.returncode == 0, r
    assert "host = smtp.example.com" in r.stdout


def test_msmtp_documented_account_and_inheritance(tmp_path):
    f = tmp_path / "msmtprc"
    f.write_text(f"""# from msmtp's manual: defaults, accounts, inheritance
defaults
tls on
tls_trust_file /etc/ssl/certs/ca-certificates.crt
logfile /var/log/msmtp.log

account freemail
host smtp.freemail.example
from joe_smith@freemail.example
auth on
user joe.smith
passwordeval "gpg2 --no-tty -q -d /etc/msmtp-password.gpg"

account work : freemail
host mail.work.example
user joe
password {SECRET}

account default : freemail
aliases /etc/aliases
""")
    r = imported(tmp_path, "msmtp", f)
    assert "host = smtp.freemail.example" in r.stdout
    assert "tls = starttls" in r.stdout
    assert 'password_command = gpg2 --no-tty -q -d /etc/msmtp-password.gpg' in r.stdout
    assert "aliases_file = /etc/aliases" in r.stdout
    w = imported(tmp_path, "msmtp:work", f, "work.conf")
    assert "host = mail.work.example" in w.stdout
    assert "user = joe" in w.stdout
    assert "password_file = /etc/relaymail.secret" in w.stdout
    assert "password_command =" not in w.stdout
    assert "/etc/relaymail.secret" in w.stderr


@pytest.mark.parametrize("host,port,tls", [
    ("localhost", "", "none"),                  # msmtp's default port 25
    ("127.evil.example", "port 25\n", "starttls"),  # a name, not an address
])
def test_msmtp_password_without_tls_follows_relaymails_rule(tmp_path, host,
                                                            port, tls):
    """A password without TLS stays so only where relaymail allows it (a
    loopback address, its default port 25 for tls = none); a name that
    merely starts like one gets STARTTLS."""
    f = tmp_path / "msmtprc"
    f.write_text(f"account default\nhost {host}\n{port}tls off\n"
                 f"auth on\nuser joe\npassword {SECRET}\n")
    r = imported(tmp_path, "msmtp", f)
    assert_lines(r, ["host = " + host, "tls = " + tls])


def test_msmtp_examples_shipped_by_debian(tmp_path, debs):
    ex = debs / "msmtp" / "usr/share/doc/msmtp/examples"
    system = imported(tmp_path, "msmtp", ex / "msmtprc-system.example", "system.conf")
    assert "host = mail.oursite.example" in system.stdout
    assert "tls = tls" in system.stdout
    assert "domain = oursite.example" in system.stdout
    assert "set_from_header does not carry over" in system.stderr
    user = imported(tmp_path, "msmtp", ex / "msmtprc-user.example", "user.conf")
    assert "password_command = " in user.stdout


def test_ssmtp_as_debian_writes_it(tmp_path, debs):
    d = tmp_path / "ssmtp"
    d.mkdir()
    # what ssmtp's postinst writes with its debconf defaults, plus AUTH
    (d / "ssmtp.conf").write_text(f"""#
# Config file for sSMTP sendmail
#
# The person who gets all mail for userids < 1000
# Make this empty to disable rewriting.
root=postmaster

# The place where the mail goes. The actual machine name is required no
# MX records are consulted. Commonly mailhosts are named mail.domain.com
mailhub=smtp.example.com:587

# Where will the mail seem to come from?
rewriteDomain=example.com

# The full hostname
hostname=box.example.com

# Are users allowed to set their own From: address?
# YES - Allow the user to specify their own From: address
# NO - Use the system generated From: address
FromLineOverride=YES
UseSTARTTLS=YES
AuthUser=box@example.com
AuthPass={SECRET}
""")
    shipped = (debs / "ssmtp" / "etc/ssmtp/revaliases").read_text()
    (d / "revaliases").write_text(shipped + "root:box@example.com:smtp.example.com:587\n")
    r = imported(tmp_path, "ssmtp", d / "ssmtp.conf")
    assert_lines(r, ["host = smtp.example.com", "port = 587", "tls = starttls", "root = postmaster",
                 "domain = example.com", "helo = box.example.com", "allow_from_override = yes",
                 "user = box@example.com", "password_file = /etc/relaymail.secret"])
    assert "revaliases: root's sender" in r.stderr


def test_nullmailer_directory(tmp_path):
    # as nullmailer's README and Debian's postinst write them
    d = nullmailer_dir(tmp_path, {
        "defaultdomain": "example.org\n", "me": "box\n", "adminaddr": "admin@example.org\n",
        "remotes": f"smtp.example.org smtp --port=465 --ssl --user=box --pass={SECRET}\n"
                   "backup.example.org smtp\n"})
    r = imported(tmp_path, "nullmailer", d)
    assert_lines(r, ["host = smtp.example.org", "port = 465", "tls = tls", "user = box",
                 "domain = example.org", "helo = box", "default = admin@example.org"])
    assert "backup.example.org" in r.stderr


def test_nullmailer_empty_files_as_debian_leaves_them(tmp_path):
    d = nullmailer_dir(tmp_path, {"defaultdomain": "", "adminaddr": "", "remotes": "mail.example.org smtp\n"})
    r = imported(tmp_path, "nullmailer", d)
    assert "tls = none" in r.stdout


def test_dma_default_shipped_has_no_smarthost(debs):
    r = run("--import=dma", str(debs / "dma" / "usr/share/dma/dma.conf"))
    assert r.returncode == 78
    assert "SMARTHOST" in r.stderr


def test_dma_configured(tmp_path, debs):
    auth = tmp_path / "auth.conf"
    auth.write_text((debs / "dma" / "etc/dma/auth.conf").read_text() +
                    f"box@example.net|mail.example.net:{SECRET}\n")
    mailname = tmp_path / "mailname"
    mailname.write_text("example.net\n")
    conf = tmp_path / "dma.conf"
    conf.write_text((debs / "dma" / "usr/share/dma/dma.conf").read_text()
                    .replace("MAILNAME /etc/mailname", f"MAILNAME {mailname}") +
                    f"SMARTHOST mail.example.net\nPORT 587\nSECURETRANSFER\nSTARTTLS\nAUTHPATH {auth}\n")
    r = imported(tmp_path, "dma", conf)
    assert_lines(r, ["host = mail.example.net", "port = 587", "tls = starttls", "user = box@example.net",
                 "domain = example.net", "password_file = /etc/relaymail.secret"])


def test_postfix_default_shipped_has_no_relayhost(debs):
    r = run("--import=postfix", str(debs / "postfix" / "usr/share/postfix/main.cf.debian"))
    assert r.returncode == 78
    assert "relayhost is empty" in r.stderr


def test_postfix_relay_with_sasl(tmp_path, debs):
    sasl = tmp_path / "sasl_passwd"
    sasl.write_text(f"[smtp.example.com]:587 relay@example.com:{SECRET}\n")
    main = tmp_path / "main.cf"
    main.write_text((debs / "postfix" / "usr/share/postfix/main.cf.debian").read_text() + f"""
relayhost = [smtp.example.com]:587
smtp_tls_security_level = secure
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = hash:{sasl}
smtp_sasl_security_options = noanonymous
myorigin = example.com
""")
    r = imported(tmp_path, "postfix", main)
    assert_lines(r, ["host = smtp.example.com", "port = 587", "tls = starttls", "user = relay@example.com",
                 "domain = example.com", "password_file = /etc/relaymail.secret"])
    assert "smtpd_banner does not carry over" in r.stderr
    assert "smtp_sasl_security_options does not carry over" in r.stderr


def test_postfix_unreadable_password_map_exit_66(tmp_path):
    main = tmp_path / "main.cf"
    main.write_text("relayhost = [smtp.example.com]:587\nsmtp_sasl_auth_enable = yes\n"
                    f"smtp_sasl_password_maps = hash:{tmp_path}/absent\n")
    r = run("--import=postfix", str(main))
    assert r.returncode == 66
    assert "absent" in r.stderr


def test_drops_the_set_group_id_group():
    """Installed set-group-id, --import reads only what its caller may read."""
    if os.geteuid() != 0:
        pytest.fail("needs root to make a set-group-id copy and run it as nobody")
    d = Path(tempfile.mkdtemp(prefix="relaymail-import-"))
    try:
        os.chmod(d, 0o755)
        prog, rc = d / "sendmail", d / "msmtprc"
        shutil.copy(sendmail_path(), prog)
        rc.write_text("account default\nhost smtp.example.com\n")
        gid = grp.getgrnam("mail").gr_gid
        for path, mode in ((prog, 0o2755), (rc, 0o640)):
            os.chown(path, 0, gid)
            os.chmod(path, mode)
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        r = subprocess.run([*as_nobody, str(prog), "--import=msmtp", str(rc)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 66, r
        assert "Permission denied" in r.stderr
        os.chmod(rc, 0o644)
        r = subprocess.run([*as_nobody, str(prog), "--import=msmtp", str(rc)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r
    finally:
        shutil.rmtree(d)
