#!/bin/sh
# inside.sh PORT DEB - run by check.sh as root inside the clean bookworm root:
# install relaymail with apt, send through the test smarthost on
# 127.0.0.1:PORT (its mail directory is /srv/smarthost), upgrade, remove,
# purge, and switch to postfix and back. Any failed check ends the run.
set -eu
port=$1
deb=/tmp/$2
export DEBIAN_FRONTEND=noninteractive
apt="apt-get -y -q -o Dpkg::Use-Pty=0 -o APT::Install-Recommends=false"

# fail - one line saying which check failed, then stop
fail() {
	echo "package-check: FAILED: $*" >&2
	exit 1
}

# step - announce a step
step() {
	echo "== $*"
}

# expect_eq - $1 is what $2 gave, $3 is what it should be
expect_eq() {
	[ "$1" = "$3" ] || fail "$2: got '$1', expected '$3'"
}

# received - wait until the smarthost has a message for $1
received() {
	for _ in $(seq 100); do
		if grep -qs "$1" /srv/smarthost/*.eml; then return 0; fi
		sleep 0.1
	done
	fail "no message for $1 reached the smarthost"
}

# as_alice - run a command as the unprivileged user alice
as_alice() {
	setpriv --reuid=alice --regid=alice --init-groups --reset-env "$@"
}

# installed_relaymail - sendmail is relaymail, set-group-id relaymail
installed_relaymail() {
	expect_eq "$(dpkg -S /usr/sbin/sendmail | cut -d: -f1)" "owner of /usr/sbin/sendmail" relaymail
	expect_eq "$(stat -c '%U:%G %a' /usr/sbin/sendmail)" "/usr/sbin/sendmail" "root:relaymail 2755"
	expect_eq "$(/usr/sbin/sendmail --version)" "sendmail --version" "relaymail 0.1.0"
	expect_eq "$(readlink -f /usr/bin/mailq)" "mailq" /usr/sbin/sendmail
	expect_eq "$(readlink -f /usr/bin/newaliases)" "newaliases" /usr/sbin/sendmail
	expect_eq "$(readlink -f /usr/lib/sendmail)" "/usr/lib/sendmail" /usr/sbin/sendmail
	[ -e /usr/share/man/man8/sendmail.8.gz ] || fail "no sendmail(8)"
	[ -e /usr/share/man/man5/relaymail.conf.5.gz ] || fail "no relaymail.conf(5)"
	expect_eq "$(stat -c '%U:%G %a' /etc/relaymail.conf)" "/etc/relaymail.conf" "root:relaymail 640"
	for d in "" /tmp /q /s /failed /run; do
		expect_eq "$(stat -c '%U:%G %a' /var/spool/relaymail$d)" "/var/spool/relaymail$d" "root:relaymail 770"
	done
	[ -L /etc/systemd/system/timers.target.wants/relaymail-queue.timer ] || fail "relaymail-queue.timer not enabled"
	for unit in /lib/systemd/system/relaymail-*.timer /lib/systemd/system/relaymail-*.path; do
		[ -e "$unit" ] || continue
		ls /etc/systemd/system/*.wants/"$(basename "$unit")" >/dev/null 2>&1 || fail "$unit not enabled"
	done
	newaliases || fail "newaliases failed"
}

echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
# no service starts in this root (it shares the host's network)
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
cd /tmp

step "apt-get install ./$(basename "$deb") (dependencies from apt)"
$apt install "$deb" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "apt-get install"; }
installed_relaymail
dpkg-query -W -f='${Status}\n' libiniparser1 | grep -q ' installed$' || fail "libiniparser1 not pulled in"
dpkg-query -W -f='${Status}\n' libssl3 | grep -q ' installed$' || fail "libssl3 not pulled in"
# the installed program finds its TLS library: only OpenSSL can refuse a cipher list
[ -e /usr/lib/relaymail/relaymail-tls.so ] || fail "no /usr/lib/relaymail/relaymail-tls.so"
sed 's/^tls_ciphers =.*/tls_ciphers = NOT-A-CIPHER/' /etc/relaymail.conf > /tmp/ciphers.conf
/usr/sbin/sendmail -C /tmp/ciphers.conf -bv root 2>&1 | grep -q "not a cipher list OpenSSL accepts" ||
	fail "the installed sendmail did not load its TLS library"

step "an unprivileged user's message reaches the smarthost on 127.0.0.1:$port"
sed -i -e "s/^host = .*/host = 127.0.0.1/" -e "s/^port =.*/port = $port/" \
	-e "s/^tls = .*/tls = none/" -e "s/^mechanism = .*/mechanism = none/" \
	-e "s/^domain =.*/domain = example.org/" /etc/relaymail.conf
useradd --create-home alice
if as_alice cat /etc/relaymail.conf >/dev/null 2>&1; then fail "alice can read /etc/relaymail.conf"; fi
printf 'To: bob@example.org\nSubject: first\n\nfrom alice\n' | as_alice /usr/sbin/sendmail -i bob@example.org ||
	fail "alice's sendmail exited $?"
received "bob@example.org"
grep -qs "^From: .*alice@example.org" /srv/smarthost/*.eml || fail "no From: alice@example.org"

step "a queued message and the edited conffile survive an upgrade; the admin's override too"
printf 'To: carol@example.org\nSubject: queued\n\nwaits\n' | as_alice /usr/sbin/sendmail -odq -i carol@example.org
mailq | grep -q "carol@example.org" || fail "carol's message is not in mailq"
dpkg-statoverride --remove /usr/sbin/sendmail
dpkg-statoverride --update --add root relaymail 2750 /usr/sbin/sendmail
$apt install /tmp/upgrade.deb >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "upgrade"; }
expect_eq "$(dpkg-query -W -f='${Version}' relaymail)" "version after upgrade" "0.1.0+upgrade1"
expect_eq "$(stat -c '%a' /usr/sbin/sendmail)" "admin's override after upgrade" 2750
grep -q "^host = 127.0.0.1" /etc/relaymail.conf || fail "the edited /etc/relaymail.conf was replaced"
[ ! -e /etc/relaymail.conf.dpkg-dist ] || fail "dpkg asked about an unchanged conffile"
dpkg-statoverride --remove /usr/sbin/sendmail
dpkg-statoverride --update --add root relaymail 2755 /usr/sbin/sendmail
mailq | grep -q "carol@example.org" || fail "the queue lost carol's message in the upgrade"
/usr/sbin/sendmail -q
received "carol@example.org"
expect_eq "$(mailq)" "mailq after the queue run" "Mail queue is empty"

step "remove keeps the configuration"
$apt remove relaymail >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "remove"; }
[ ! -e /usr/sbin/sendmail ] || fail "/usr/sbin/sendmail is still there"
grep -q "^host = 127.0.0.1" /etc/relaymail.conf || fail "remove lost /etc/relaymail.conf"
if dpkg-statoverride --list /usr/sbin/sendmail >/dev/null; then fail "override of /usr/sbin/sendmail kept"; fi

step "purge removes spool, configuration and group"
$apt purge relaymail >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "purge"; }
[ ! -e /etc/relaymail.conf ] || fail "purge left /etc/relaymail.conf"
[ ! -e /var/spool/relaymail ] || fail "purge left /var/spool/relaymail"
if getent group relaymail >/dev/null; then fail "purge left the group relaymail"; fi
if dpkg-statoverride --list | grep -q relaymail; then fail "purge left an override"; fi

step "postfix replaces relaymail, and relaymail replaces postfix"
$apt install "$deb" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "install again"; }
installed_relaymail
$apt install postfix >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "install postfix"; }
expect_eq "$(dpkg-query -W -f='${db:Status-Status}' relaymail)" "relaymail after postfix" config-files
expect_eq "$(dpkg -S /usr/sbin/sendmail | cut -d: -f1)" "owner of /usr/sbin/sendmail" postfix
expect_eq "$(stat -c '%G %a' /usr/sbin/sendmail)" "postfix's sendmail" "root 755"
$apt install "$deb" >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; fail "install over postfix"; }
expect_eq "$(dpkg-query -W -f='${db:Status-Status}' postfix)" "postfix after relaymail" config-files
installed_relaymail
echo "== all package checks passed"
