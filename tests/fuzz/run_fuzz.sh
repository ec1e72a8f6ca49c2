#!/bin/sh
# run_fuzz.sh [NAME...]: build and run the libFuzzer targets (`make fuzz`).
#
# Every tests/fuzz/fuzz_NAME.c (or only the NAMEs given) is linked with
# clang -fsanitize=fuzzer,address,undefined against the util, engine,
# store, api and http sources (and libmicrohttpd: fuzz_http runs the
# daemon's request path in-process), compiled here with clang and the
# same sanitizers (the
# Makefile's library is built with cc and without the fuzzer's coverage
# instrumentation, so it cannot be reused).  Everything is built in
# build/fuzz/.
#
# Each target then runs for FUZZ_SECONDS (default 60) on a copy of its seed
# corpus, build/fuzz/corpus-NAME, so new inputs never land in the
# repository; with tests/fuzz/NAME.dict as its dictionary when there is
# one, and the libFuzzer flags in tests/fuzz/NAME.flags (words, and
# comments from #) when there are.  Seeds called crash-* are known reproducers: they are run
# once on their own first (one that still crashes fails the target) and
# are left out of the fuzzing corpus, so a known bug does not stop the
# search for new ones.  A crash, a sanitizer report, a timeout (10 s) or a
# leak leaves its input in build/fuzz/artifacts-NAME/; its path is printed.
#
# Exit status: 0 when every target ran clean, 1 otherwise, 2 on a setup
# error.  Variables: FUZZ_SECONDS, FUZZ_CC (clang), FUZZ_FLAGS (extra
# libFuzzer flags, e.g. "-jobs=2 -workers=2").
set -u
cd "$(dirname "$0")/../.." || exit 2

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_CC=${FUZZ_CC:-clang}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
B=build/fuzz

case $FUZZ_SECONDS in
''|*[!0-9]*)
	echo "run_fuzz: FUZZ_SECONDS must be a whole number of seconds" >&2
	exit 2
	;;
esac
command -v "$FUZZ_CC" >/dev/null 2>&1 || {
	echo "run_fuzz: '$FUZZ_CC' not found (install clang and" \
	    "libclang-rt-14-dev: sh packaging/deps.sh)" >&2
	exit 2
}
PKGS="yaml-0.1 libcrypto jansson sqlite3 libmicrohttpd"
# shellcheck disable=SC2086
if ! pkg_cflags=$($PKG_CONFIG --cflags $PKGS) ||
    ! pkg_libs=$($PKG_CONFIG --libs $PKGS); then
	echo "run_fuzz: pkg-config cannot find $PKGS" >&2
	exit 2
fi

SAN="-fsanitize=address,undefined -fno-sanitize-recover=all \
-fno-omit-frame-pointer"
CFLAGS_FUZZ="-std=c11 -O1 -g -Wall -Wextra -Iinclude \
-D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $pkg_cflags $SAN"

ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export ASAN_OPTIONS
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export UBSAN_OPTIONS

mkdir -p "$B/obj" || exit 2

# ---- the library, instrumented for coverage --------------------------
objs=""
# The api layer reaches the store (the ledger pipeline), so both go in;
# http for fuzz_http.
for src in daemon/util/*.c daemon/engine/*.c daemon/store/*.c daemon/api/*.c \
    daemon/http/*.c; do
	[ -f "$src" ] || continue
	obj=$B/obj/$(echo "${src%.c}" | tr / _).o
	# shellcheck disable=SC2086
	$FUZZ_CC $CFLAGS_FUZZ -fsanitize=fuzzer-no-link -c -o "$obj" \
	    "$src" || {
		echo "run_fuzz: cannot compile '$src'" >&2
		exit 2
	}
	objs="$objs $obj"
done

# ---- the targets -----------------------------------------------------
if [ $# -gt 0 ]; then
	names=$*
else
	names=""
	for f in tests/fuzz/fuzz_*.c; do
		[ -f "$f" ] || continue
		n=${f#tests/fuzz/fuzz_}
		names="$names ${n%.c}"
	done
fi
[ -n "$names" ] || { echo "run_fuzz: no targets" >&2; exit 2; }

status=0
summary=""

# note NAME TEXT: one line of the final summary.
note() {
	n=$1
	shift
	summary="$summary
fuzz_$n: $*"
}

for name in $names; do
	src=tests/fuzz/fuzz_$name.c
	bin=$B/fuzz_$name
	seeds=tests/fuzz/corpus/$name
	corpus=$B/corpus-$name
	art=$B/artifacts-$name
	log=$B/fuzz-$name.log

	echo "=== fuzz_$name"
	if [ ! -f "$src" ]; then
		echo "run_fuzz: no target '$src'" >&2
		note "$name" "FAILED (no such target)"
		status=1
		continue
	fi
	# shellcheck disable=SC2086
	if ! $FUZZ_CC $CFLAGS_FUZZ -fsanitize=fuzzer -o "$bin" "$src" \
	    $objs $pkg_libs -lcsv -lm -lpthread; then
		note "$name" "FAILED (does not build)"
		status=1
		continue
	fi

	rm -rf "$corpus" "$art"
	mkdir -p "$corpus" "$art" || exit 2

	# Known reproducers, one at a time; the rest seed the corpus.
	known_bad=""
	if [ -d "$seeds" ]; then
		for f in "$seeds"/*; do
			[ -f "$f" ] || continue
			case ${f##*/} in
			crash-*)
				if ! "$bin" -timeout=10 -max_len=65536 \
				    -artifact_prefix="$art/known-" "$f" \
				    >"$log.known" 2>&1; then
					echo "run_fuzz: known reproducer still" \
					    "crashes: $f"
					grep -E '^SUMMARY|ERROR:' \
					    "$log.known" | head -n 3
					known_bad="$known_bad $f"
				fi
				;;
			*)
				cp "$f" "$corpus/" || exit 2
				;;
			esac
		done
	else
		echo "run_fuzz: no seed corpus '$seeds'; starting empty"
	fi

	dict=
	[ -f "tests/fuzz/$name.dict" ] && dict=-dict=tests/fuzz/$name.dict
	flags=
	[ -f "tests/fuzz/$name.flags" ] &&
	    flags=$(sed 's/#.*//' "tests/fuzz/$name.flags" | tr '\n' ' ')
	echo "fuzzing for ${FUZZ_SECONDS}s (log: $log)"
	# shellcheck disable=SC2086
	"$bin" -max_len=65536 -timeout=10 -max_total_time="$FUZZ_SECONDS" \
	    -print_final_stats=1 -artifact_prefix="$art/" $dict $flags \
	    $FUZZ_FLAGS \
	    "$corpus" >"$log" 2>&1
	rc=$?
	stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 |
	    sed -E 's/^#([0-9]+)[[:space:]]+DONE[[:space:]]+/\1 runs, /')
	if [ $rc -eq 0 ]; then
		if [ -n "$known_bad" ]; then
			note "$name" "FAILED (known reproducers still crash:" \
			    "$known_bad); no new crash ($stats)"
			status=1
		else
			note "$name" "ok ($stats)"
		fi
		continue
	fi

	# The report: what broke, where, and the input that did it.
	status=1
	grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" |
	    head -n 5
	grep -E '^[[:space:]]+#[0-9]+ ' "$log" | head -n 15
	crash=$(sed -nE 's/.*Test unit written to ([^ ]+).*/\1/p' "$log" |
	    tail -n 1)
	if [ -n "$crash" ]; then
		echo "run_fuzz: reproducer: $crash"
		echo "run_fuzz: replay with: $bin $crash"
		note "$name" "FAILED (exit $rc): reproducer $crash"
	else
		tail -n 20 "$log"
		note "$name" "FAILED (exit $rc, no reproducer written;" \
		    "see $log)"
	fi
done

echo "==="
echo "run_fuzz: results:$summary"
exit $status
