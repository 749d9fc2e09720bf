#!/bin/sh
# module_graph.sh - the calls between modules, from the objects (make analyze).
#   sh tests/module_graph.sh edges OBJ...        print "from to" for every call
#   sh tests/module_graph.sh check TABLE OBJ...  fail on a call TABLE does not allow
# A module is an object's base name. Each undefined symbol of an object is
# resolved to the object defining it; tlslib.o's forwarders stand for
# tls.o and crypto.o, so a symbol both define resolves to the real module.
# TABLE (src/README) holds lines "module -> callee callee ...", from the
# top layer down; a call allowed there to a module of the same or a higher
# row runs back up, and is refused like a call the table does not list.
set -eu
mode=$1
shift
table=
if [ "$mode" = check ]; then
	table=$1
	shift
fi
edges=$(for o in "$@"; do
	m=$(basename "$o" .o)
	nm --defined-only -g "$o" | awk -v m="$m" 'NF == 3 { print "D", $3, m }'
	nm --undefined-only -g "$o" | awk -v m="$m" '{ print "U", $NF, m }'
done | awk '
	$1 == "D" { if (!($2 in def) || def[$2] == "tlslib") def[$2] = $3; next }
	{ use[NR] = $2 " " $3 }
	END {
		for (i in use) {
			split(use[i], u, " ")
			if ((u[1] in def) && def[u[1]] != u[2])
				print u[2], def[u[1]]
		}
	}' | sort -u)
if [ "$mode" = edges ]; then
	printf '%s\n' "$edges"
	exit 0
fi
printf '%s\n' "$edges" | awk -v table="$table" '
	BEGIN {
		while ((getline line < table) > 0) {
			if (line !~ /^[a-z0-9_]+ +->/)
				continue
			n = split(line, f, /[ \t]+/)
			row[f[1]] = ++rows
			for (i = 3; i <= n; i++)
				allowed[f[1] " " f[i]] = 1
		}
		if (rows == 0) {
			print "module_graph: no \"module -> ...\" rows in " table
			exit 2
		}
	}
	{
		if (!($1 in row) || !($2 in row)) {
			printf "module graph: %s -> %s: module missing from %s\n", $1, $2, table
			bad = 1
		} else if (!(($0) in allowed)) {
			printf "module graph: %s -> %s: call not in %s\n", $1, $2, table
			bad = 1
		} else if (row[$2] <= row[$1]) {
			printf "module graph: %s -> %s: runs back up (%s is not below %s in %s)\n",
				$1, $2, $2, $1, table
			bad = 1
		}
	}
	END { exit bad }'
