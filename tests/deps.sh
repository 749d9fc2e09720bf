#!/bin/sh
# deps.sh - install, with apt-get and only when missing, every package
# relaymail needs to build and to run its tests (Debian 12). Idempotent:
# when everything is present it changes nothing and needs no root.
set -eu

PKGS="build-essential clang libssl-dev libiniparser-dev libcmocka-dev
python3-pytest python3-aiosmtpd openssl ca-certificates valgrind"

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
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
