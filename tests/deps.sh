#!/bin/sh
# deps.sh - install, with apt-get and only when missing, every package
# relaymail needs to build and to run its tests (Debian 12). Idempotent:
# when everything is present it changes nothing and needs no root.
set -eu

PKGS="build-essential clang libssl-dev libiniparser-dev libcmocka-dev
python3-pytest python3-aiosmtpd openssl ca-certificates valgrind"
# each test area lists what it needs in tests/deps/NAME.list, one per line
here=$(dirname "$0")
for list in "$here"/deps/*.list; do
	[ -e "$list" ] || continue
	PKGS="$PKGS $(grep -v '^[[:space:]]*#' "$list" | tr '\n' ' ')"
done

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	echo "deps: all build and test dependencies are installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install$missing)" >&2
	exit 1
fi

echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure itself system-wide, and no service may start
# while the packages install (nothing of the tests' servers may listen
# beyond loopback): a no-op policy-rc.d for the duration
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
policy=/usr/sbin/policy-rc.d
made_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' > "$policy"
	chmod 755 "$policy"
	made_policy=yes
fi
trap 'if [ "$made_policy" = yes ]; then rm -f "$policy"; fi' EXIT
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
