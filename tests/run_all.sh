#!/bin/sh
# run_all.sh BUILDDIR: run every test program of a build, in order, and
# add up their results.
#
#   1. BUILDDIR/tests/test_*      cmocka unit tests, and test_oom
#                                 (tests/faults/: allocation failures)
#   2. BUILDDIR/tests/run_cases   rule cases (tests/cases/)
#   3. BUILDDIR/tests/replay_*    fuzz corpus replay; replay_fuzz_NAME
#                                 reads tests/fuzz/corpus/NAME/
#   4. tests/cli/*.sh,            black-box tests of BUILDDIR/tiergate
#      tests/audit/*.sh, ...      (the list in the loop below;
#      tests/crash/*.sh           tests/faults/*.sh preloads
#                                 BUILDDIR/tests/faultshim.so; the
#                                 kill -9 loops of tests/crash/ last)
#
# Each program's output is shown, and its counts are read from it: cmocka's
# "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines, or else a
# line "N passed, N failed".  A program that prints neither counts as one
# test, passed when it exits 0.  A program that exits non-zero (or dies
# on a signal) without reporting a failure counts as one failure, so the
# totals never look clean when something crashed.  Programs that were not
# built are skipped.  The last line is "N passed, N failed"; the exit
# status is 1 if anything failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/run_all.sh BUILDDIR" >&2; exit 2; }
B=$1
case $B in
/*) ;;
*) B=$(pwd)/$B ;;
esac
cd "$(dirname "$0")/.." || exit 2

# The shared reference data (test_ecfr, test_merkle) is ../shared beside
# the tree.  A clone made elsewhere for a clean run (git clone -q .
# /tmp/tg-ci) finds it beside the repository it was cloned from, when that
# is a local directory.  TIERGATE_SHARED, when set, wins.
if [ -z "${TIERGATE_SHARED:-}" ] && [ ! -d ../shared ]; then
	origin=$(git config --get remote.origin.url 2>/dev/null || true)
	case $origin in
	/*) [ -d "$origin/../shared" ] &&
	    TIERGATE_SHARED=$(cd "$origin/../shared" && pwd) &&
	    export TIERGATE_SHARED ;;
	esac
fi

out=$(mktemp) || exit 2
# Decisions are logged; tests never write into the source tree's ./var.
data=$(mktemp -d) || exit 2
export TIERGATE_DATA_DIR="$data"
trap 'rm -f "$out"; rm -rf "$data"' EXIT
trap 'exit 130' INT TERM

total_pass=0
total_fail=0
programs=0
bad_programs=""

# run NAME CMD...: run one program and add its counts.
run() {
	name=$1
	shift
	echo "=== $name"
	"$@" >"$out" 2>&1 </dev/null
	rc=$?
	cat "$out"

	if grep -qE '\[  (PASSED|FAILED)  \] [0-9]+ test\(s\)' "$out"; then
		p=$(sed -nE 's/.*\[  PASSED  \] ([0-9]+) test\(s\).*/\1/p' \
		    "$out" | awk '{ s += $1 } END { print s + 0 }')
		f=$(sed -nE 's/.*\[  FAILED  \] ([0-9]+) test\(s\).*/\1/p' \
		    "$out" | awk '{ s += $1 } END { print s + 0 }')
	elif grep -qE '^[0-9]+ passed, [0-9]+ failed$' "$out"; then
		last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" |
		    tail -n 1)
		p=${last%% passed*}
		f=${last#*, }
		f=${f%% failed}
	elif [ $rc -eq 0 ]; then
		p=1
		f=0
	else
		p=0
		f=0
	fi
	if [ $rc -ne 0 ]; then
		if [ $rc -gt 128 ]; then
			echo "run_all: $name died on signal $((rc - 128))"
		else
			echo "run_all: $name exited with status $rc"
		fi
		[ "$f" -eq 0 ] && f=1
		bad_programs="$bad_programs $name"
	fi
	programs=$((programs + 1))
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

for t in "$B"/tests/test_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	run "$(basename "$t")" "$t"
done

if [ -x "$B/tests/run_cases" ]; then
	run run_cases "$B/tests/run_cases" rules/ai-diffusion-2025.yaml \
	    rules/products.yaml tests/cases
fi

for t in "$B"/tests/replay_*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	name=$(basename "$t")
	corpus=tests/fuzz/corpus/${name#replay_fuzz_}
	run "$name" "$t" "$corpus"
done

# tests/install/: only layout.sh; deb.sh needs root and dist.sh compiles
# the program again (run them by hand, see their headers).
for t in tests/cli/*.sh tests/audit/*.sh tests/screen/*.sh tests/ledger/*.sh \
    tests/install/layout.sh tests/api/*.sh tests/report/*.sh \
    tests/faults/*.sh tests/crash/*.sh; do
	[ -f "$t" ] || continue
	run "$t" sh "$t" "$B/tiergate"
done

echo "==="
echo "run_all: $programs programs${bad_programs:+; failing:$bad_programs}"
echo "$total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ] && [ -z "$bad_programs" ]
