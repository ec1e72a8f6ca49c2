#!/bin/sh
# valgrind.sh [TIERGATE [SCRIPT...]]: the API tests (tests/api/*.sh, or the
# SCRIPTs named) with every `tiergate serve` they start running under
# valgrind's memcheck (`make valgrind`; issue 8: "no leaks, no invalid
# reads").  Not part of `make test`: it takes several minutes.
#
# Each daemon runs as
#   valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect
#       --error-exitcode=99 --log-file=build/valgrind/SCRIPT/vg.PID.log
# through lib.sh's TG_WRAP, with the scripts' waits stretched (TG_SLOW,
# default 10).  Memory still reachable at exit (libraries' caches) is not
# an error; definitely and indirectly lost blocks are, and so is every
# invalid read or write, use of uninitialised memory or bad free.
#
# One check per daemon: "ok" when its log ends with "ERROR SUMMARY: 0
# errors"; a daemon killed with SIGKILL (lifecycle.sh does so on purpose)
# leaves no summary and is listed but not counted.  The scripts' own
# checks are shown apart, not counted: under valgrind a daemon is 20 to 50
# times slower, so the checks that measure time (lifecycle.sh's slow
# client, input.sh's rate limit) may fail there.  The last line is "N
# passed, N failed" over the daemons; the logs stay in build/valgrind/.
#
# Variables: VALGRIND (default valgrind), VALGRIND_FLAGS (added), TG_SLOW.
set -u
cd "$(dirname "$0")/.." || exit 2
TG=${1:-build/tiergate}
[ $# -gt 0 ] && shift
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
[ -x "$TG" ] || { echo "valgrind: no binary '$TG' (make first)" >&2; exit 2; }
VALGRIND=${VALGRIND:-valgrind}
command -v "$VALGRIND" >/dev/null 2>&1 || {
	echo "valgrind: '$VALGRIND' not found (apt-get install valgrind)" >&2
	exit 2
}
TG_SLOW=${TG_SLOW:-10}
export TG_SLOW

if [ $# -gt 0 ]; then
	scripts=$*
else
	scripts=tests/api/lib.sh
	for s in tests/api/*.sh; do
		[ "$s" = tests/api/lib.sh ] || scripts="$scripts $s"
	done
fi

OUT=build/valgrind
rm -rf "$OUT"
mkdir -p "$OUT" || exit 2
pass=0
fail=0
summary=""

for s in $scripts; do
	name=$(basename "$s" .sh)
	dir=$OUT/$name
	mkdir -p "$dir" || exit 2
	echo "=== $s"
	t0=$(date +%s)
	TG_WRAP="$VALGRIND --leak-check=full \
--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
--num-callers=30 --log-file=$(pwd)/$dir/vg.%p.log ${VALGRIND_FLAGS:-}" \
	    sh "$s" "$TG" >"$dir/test.out" 2>&1
	t1=$(date +%s)
	tests=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$dir/test.out" |
	    tail -n 1)
	grep '^not ok' "$dir/test.out" | sed 's/^/#   script: /'
	daemons=0
	bad=0
	killed=0
	lost=0
	for log in "$dir"/vg.*.log; do
		[ -f "$log" ] || continue
		daemons=$((daemons + 1))
		if ! grep -q 'ERROR SUMMARY:' "$log"; then
			killed=$((killed + 1))
			echo "# ${log#"$OUT"/}: no summary (killed)"
			continue
		fi
		if grep -q 'ERROR SUMMARY: 0 errors' "$log"; then
			pass=$((pass + 1))
			echo "ok - $name: ${log##*/}: 0 errors"
			continue
		fi
		fail=$((fail + 1))
		bad=$((bad + 1))
		n=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log")
		def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' \
		    "$log")
		ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' \
		    "$log")
		[ -n "$def$ind" ] && lost=$((lost + 1))
		echo "not ok - $name: ${log##*/}: $n errors (definitely" \
		    "lost ${def:-0} B, indirectly lost ${ind:-0} B)"
		grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Mismatched|Syscall param|Source and destination)' "$log" |
		    sed 's/^==[0-9]*== //' | sort | uniq -c | sed 's/^/#   /'
		grep -E 'are definitely lost|are indirectly lost' "$log" |
		    sed 's/^==[0-9]*== //' | head -n 5 | sed 's/^/#   /'
	done
	line="$name: $daemons daemon(s), $bad with errors${killed:+, $killed killed}; script: ${tests:-no summary}; $((t1 - t0)) s"
	echo "# $line"
	summary="$summary
$line"
done

echo "==="
echo "valgrind: results (logs in $OUT):$summary"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
