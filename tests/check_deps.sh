#!/bin/sh
# check_deps.sh: keep the module dependencies pointing one way
# (house-style.md: util <- engine, store <- api <- http, cli).
#
#  - daemon/util: depends on nothing of the project but its own headers;
#    it may include tiergate/{util,error,uuid}.h only.
#  - daemon/engine: pure (no sockets, database or JSON): it may include
#    tiergate/{util,error,query,decision,engine}.h and its own private
#    headers, never another module's.
#  - neither may include sqlite3.h, microhttpd.h, jansson.h or csv.h.
set -u
cd "$(dirname "$0")/.." || exit 2

status=0
fail() {
	echo "check-deps: $1" >&2
	status=1
}

# check DIR ALLOWED: every tiergate/ header DIR's files include must be
# in the space-separated list ALLOWED.
check() {
	dir=$1
	allowed=$2
	for f in $(find "$dir" -type f \( -name '*.c' -o -name '*.h' \) |
	    sort); do
		grep -nE '^[[:space:]]*#[[:space:]]*include' "$f" |
		while IFS= read -r line; do
			hdr=$(echo "$line" |
			    sed -E 's/^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*)[>"].*/\1/')
			n=${line%%:*}
			case $hdr in
			sqlite3.h|microhttpd.h|jansson.h|csv.h)
				echo "$f:$n: includes <$hdr>"
				;;
			tiergate/*)
				ok=no
				for a in $allowed; do
					[ "$hdr" = "tiergate/$a.h" ] && ok=yes
				done
				[ $ok = yes ] ||
				    echo "$f:$n: includes \"$hdr\""
				;;
			*/*)
				# A path into another module's sources.
				case $hdr in
				../*|daemon/*|api/*|store/*|http/*|cli/*)
					echo "$f:$n: includes \"$hdr\""
					;;
				esac
				;;
			esac
		done
	done
}

out=$(check daemon/util "util error uuid")
[ -z "$out" ] || fail "daemon/util reaches outside util:
$out"
out=$(check daemon/engine "util error query decision engine")
[ -z "$out" ] || fail "daemon/engine reaches outside the engine:
$out"

[ $status -eq 0 ] && echo "check-deps: OK"
exit $status
