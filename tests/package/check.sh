#!/bin/sh
# check.sh DEB - install relaymail's Debian package in a clean Debian 12 root
# and check what an admin relies on (tests/package/inside.sh runs in it).
#
# The root is made once by mmdebstrap (minbase, the host's apt sources, the
# package lists kept and the .debs that relaymail and postfix need already
# downloaded) and cached as build/package/bookworm.tar; every run unpacks a
# fresh copy, so a second run downloads nothing. The chroot shares the
# host's network: a test smarthost (tests/blackbox/smarthost.py) listens on
# 127.0.0.1 outside, its mail directory is bound read-only inside.
set -eu

deb=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=$top/build/package/bookworm.tar
[ "$(id -u)" -eq 0 ] || { echo "package-check: needs root (chroot, mounts)" >&2; exit 1; }
start=$(date +%s)

# sources - the host's apt sources, handed to mmdebstrap as a file
sources() {
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		if [ -s "$f" ]; then echo "$f"; return; fi
	done
	echo "package-check: no apt sources on this host" >&2
	exit 1
}

if [ ! -s "$cache" ]; then
	echo "package-check: making the bookworm root (once; cached in $cache)"
	mkdir -p "$(dirname "$cache")"
	mmdebstrap --quiet --variant=minbase --skip=cleanup/apt \
		--customize-hook="copy-in $deb /tmp" \
		--customize-hook="chroot \"\$1\" apt-get install --download-only -y -q /tmp/$(basename "$deb") >/dev/null" \
		--customize-hook='chroot "$1" apt-get install --download-only -y -q postfix >/dev/null' \
		--customize-hook='rm -f "$1"/tmp/*.deb' \
		bookworm "${cache%.tar}.part.tar" "$(sources)"
	mv "${cache%.tar}.part.tar" "$cache"
fi

work=$(mktemp -d "$top/build/package/run.XXXXXX")
smarthost_pid=""
# cleanup - stop the smarthost, remove the unpacked root
cleanup() {
	if [ -n "$smarthost_pid" ]; then kill "$smarthost_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

root=$work/root
mkdir -p "$root" "$work/mail"
tar -C "$root" --numeric-owner -xpf "$cache"
cp "$deb" "$here/inside.sh" "$root/tmp/"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# an upgrade: the same package with a higher version, repacked (no rebuild)
dpkg-deb -R "$deb" "$work/up"
sed -i 's/^Version: .*/&+upgrade1/' "$work/up/DEBIAN/control"
dpkg-deb --root-owner-group -b "$work/up" "$root/tmp/upgrade.deb" >/dev/null

/usr/bin/python3 "$top/tests/blackbox/smarthost.py" --port 0 --tls none --mechanisms "" \
	--maildir "$work/mail" > "$work/smarthost.log" 2>&1 &
smarthost_pid=$!
port=""
for _ in $(seq 100); do
	port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$work/smarthost.log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { cat "$work/smarthost.log" >&2; echo "package-check: no smarthost" >&2; exit 1; }

# private mounts: /proc, /dev and the smarthost's mail vanish with this namespace
unshare --mount --propagation private sh -eu -c '
	root=$1
	mount -t proc proc "$root/proc"
	mount --rbind /dev "$root/dev"
	mkdir -p "$root/srv/smarthost"
	mount --bind -o ro "$2" "$root/srv/smarthost"
	chroot "$root" /bin/sh -eu /tmp/inside.sh "$3" "$(basename "$4")"
' sh "$root" "$work/mail" "$port" "$deb"

# seen from outside too: alice's message and the queued one, nothing else
n=$(find "$work/mail" -name '*.eml' | wc -l)
[ "$n" -eq 2 ] || { echo "package-check: the smarthost got $n messages, expected 2" >&2; exit 1; }
echo "package-check: passed in $(( $(date +%s) - start )) s"
