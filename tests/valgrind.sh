#!/bin/sh
# valgrind.sh - the unit tests and the black-box suite with relaymail under
# valgrind (make valgrind). Fails when any run reports an invalid access, a
# use of uninitialised memory or a definite leak, or when a test fails.
#
#   sh tests/valgrind.sh [pytest args...]    (default: the whole suite)
#
# Unit tests run directly under valgrind. For the black-box suite
# RELAYMAIL_SENDMAIL points to a small C wrapper that execs
#   valgrind --error-exitcode=99 --leak-check=full
#            --errors-for-leak-kinds=definite ... ./sendmail ARGS
# keeping the name it was called by (mailq, newaliases) through symlinks.
# Each process writes its own log (forked background deliverers too); the
# logs are scanned at the end, so an error in a process whose exit status
# no test looks at still fails the run. RSS limits do not apply under
# valgrind: the wrapper carries the marker conftest.is_sanitized() looks
# for, and RELAYMAIL_SLOW=1 widens the time margins of test_wire_safety.
# Leaks inside other libraries (glibc's failed dlopen) are suppressed by
# tests/valgrind.supp, each narrowed to the caller of ours that meets it.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${RELAYMAIL_BINARY:-$here/sendmail}
py=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d /tmp/relaymail-valgrind.XXXXXX)
keep=${KEEP_VALGRIND_LOGS:-}
cleanup() { [ -n "$keep" ] || rm -rf "$work"; }
trap cleanup EXIT INT TERM
VG="valgrind --error-exitcode=99 --suppressions=$here/tests/valgrind.supp --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=yes --trace-children=no --child-silent-after-fork=no --num-callers=30"
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed (make deps)" >&2; exit 1; }
[ -x "$bin" ] || { echo "valgrind.sh: $bin missing (make first)" >&2; exit 1; }

fail=0
mkdir -p "$work/logs" "$work/bin"

# --- unit tests ------------------------------------------------------------
if [ -z "${VALGRIND_SKIP_UNIT:-}" ]; then
	for t in "$here"/build/tests/test_*; do
		[ -x "$t" ] || continue
		n=$(basename "$t")
		if $VG -q --log-file="$work/logs/unit.$n.%p.log" "$t" >"$work/$n.out" 2>&1; then
			echo "valgrind: $n ok"
		else
			echo "valgrind: $n FAILED (exit $?)"; tail -n 20 "$work/$n.out"
			fail=1
		fi
	done
fi

# --- the black-box suite ---------------------------------------------------
# a snapshot of the binary: a rebuild during the run (cp over ./sendmail)
# would change the code under a running valgrind and crash it
cp "$bin" "$work/bin/sendmail.real"
ln -s sendmail.real "$work/bin/mailq"
ln -s sendmail.real "$work/bin/newaliases"
# tests that run it as another user need to reach it and to log
chmod 0755 "$work" "$work/bin"
chmod 1777 "$work/logs"
cat >"$work/wrap.c" <<WRAP
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* the marker conftest.is_sanitized() looks for: RSS limits do not apply */
__attribute__((used)) static const char marker[] = "__asan_init (valgrind wrapper)";
int main(int argc, char **argv)
{
	char *name = strdup(argv[0]), *target;
	const char *base = basename(name);
	if (strcmp(base, "mailq") == 0 || strcmp(base, "newaliases") == 0)
		target = "$work/bin/" ;
	else
		target = NULL;
	char path[4096];
	snprintf(path, sizeof path, "%s%s", target ? target : "$work/bin/sendmail.real",
		 target ? base : "");
	char **av = calloc((size_t)argc + 16, sizeof *av);
	int n = 0;
	av[n++] = "valgrind";
	av[n++] = "-q";
	av[n++] = "--log-file=$work/logs/bb.%p.log";
WRAP
for o in $VG; do [ "$o" = valgrind ] || printf '\tav[n++] = "%s";\n' "$o" >>"$work/wrap.c"; done
cat >>"$work/wrap.c" <<'WRAP'
	av[n++] = path;
	for (int i = 1; i < argc; i++)
		av[n++] = argv[i];
	av[n] = NULL;
	(void)marker;
	execvp("valgrind", av);
	perror("valgrind");
	return 127;
}
WRAP
cc -O1 -o "$work/bin/vgsendmail" "$work/wrap.c" || exit 1

[ $# -gt 0 ] || set -- "$here/tests/blackbox"
RELAYMAIL_SENDMAIL="$work/bin/vgsendmail" RELAYMAIL_SLOW=1 \
	"$py" -m pytest -q -p no:cacheprovider "$@" >"$work/pytest.out" 2>&1
rc=$?
tail -n 40 "$work/pytest.out"
[ $rc -eq 0 ] || { echo "valgrind: black-box suite FAILED (pytest exit $rc)"; fail=1; }

# every process's log (valgrind -q: only errors get there): any error fails
bad=
for f in "$work"/logs/*.log; do
	[ -e "$f" ] || continue
	if grep -v -E '^==[0-9]+== *(Warning: .*)?$' "$f" | grep -q .; then
		bad="$bad $f"
	fi
done
if [ -n "$bad" ]; then
	echo "valgrind: errors reported in $(echo $bad | wc -w) process log(s):"
	for f in $bad; do echo "== $f"; head -n 60 "$f"; done
	fail=1
fi
echo "valgrind: $(ls "$work"/logs | wc -l) process logs checked"
exit $fail
