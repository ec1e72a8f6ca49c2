#!/bin/sh
# bench_http.sh [TIERGATE]: the daemon's figures (issue 5, "Figures").
#
# wrk, co-located, drives `tiergate serve` with BENCH_THREADS threads and
# BENCH_CONNS connections (2 and 64) for BENCH_SECONDS (10): each request
# POSTs one binding 3-item query (H100 chips, HGX servers, closed model
# weights to India: the query of bench_eval) with a screen token, so each
# answer is a decision that is durable and covered by a signed checkpoint.
# Then, in the same run and the same way, a bare libmicrohttpd + jansson
# echo server (tests/bench/echo_server.c, built here with cc and the
# flags pkg-config gives) that parses the same body and serializes it
# back.  Prints decisions/s, p50 and p99 latency (wrk --latency), the
# ratio of the two request rates, the daemon's peak RSS (VmHWM) and the
# targets: >= 0.6x the echo server, p99 <= 10 ms, RSS <= 32 MB.  Also the
# CPU time (user + system, all threads) each server spent per answer.
#
# Figures, not a test: not part of `make test`.  Needs wrk (Debian:
# `apt-get install wrk`); without it, says so and exits 0.  Everything
# happens in a new directory under TMPDIR (default /tmp), removed at the
# end: set TMPDIR to a directory on the disk the data dir will live on,
# since on tmpfs fsync costs nothing.  Exits 1 when something fails to
# run.
set -u

TG=${1:-build/tiergate}
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 1
SECONDS_=${BENCH_SECONDS:-10}
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNS:-64}
CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

if ! command -v wrk >/dev/null 2>&1; then
	echo "bench_http: wrk is not installed; install it with" \
	    "'apt-get install wrk' (Debian, Ubuntu) and run this again"
	exit 0
fi
for c in curl "$CC" "$PKG_CONFIG"; do
	command -v "$c" >/dev/null 2>&1 ||
	    { echo "bench_http: $c is missing" >&2; exit 1; }
done
[ -x "$TG" ] || { echo "bench_http: no binary '$TG' (make)" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/tiergate-bench-http.XXXXXX") || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "bench_http: $*" >&2
	exit 1
}

# ---- the echo server -------------------------------------------------------
WARN="-Wall -Wextra -Wpedantic -Wshadow -Wpointer-arith -Wcast-qual \
-Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wformat=2 \
-Wwrite-strings -Wvla -Wundef -Wimplicit-fallthrough -fno-common"
# shellcheck disable=SC2046,SC2086
"$CC" -std=c11 -O2 $WARN -Werror -D_POSIX_C_SOURCE=200809L \
    -D_DEFAULT_SOURCE $("$PKG_CONFIG" --cflags libmicrohttpd jansson) \
    -o "$T/echo_server" tests/bench/echo_server.c \
    $("$PKG_CONFIG" --libs libmicrohttpd jansson) -lpthread ||
    fail "cannot build tests/bench/echo_server.c"

# ---- the request -----------------------------------------------------------
cat >"$T/query.json" <<'EOF'
{"reference": "bench-3", "date": "2025-06-02", "destination": "IN",
 "consignee": {"id": "acme-in-001", "name": "Acme Cloud", "country": "IN",
  "headquarters": "IN", "ultimate_parent": "IN"},
 "items": [
  {"kind": "chip", "product": "nvidia-h100-sxm", "quantity": 1000},
  {"kind": "system", "product": "nvidia-h100-sxm", "chips_per_unit": 8,
   "quantity": 10},
  {"kind": "model_weights", "training_operations": 3e26, "published": false}],
 "dry_run": false}
EOF

# wait_ready LOG WORD: the port from "WORD: ready on port N" (10 s).
wait_ready() {
	i=0
	while [ $i -lt 100 ]; do
		p=$(sed -n "s/^$2: ready on port \\([0-9]*\\)\$/\\1/p" "$1")
		[ -n "$p" ] && { echo "$p"; return 0; }
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# run_wrk NAME URL TOKEN: wrk's report in $T/NAME.wrk.
run_wrk() {
	body=$(sed 's/\\/\\\\/g; s/"/\\"/g' "$T/query.json" | tr '\n' ' ')
	cat >"$T/$1.lua" <<EOF
wrk.method = "POST"
wrk.body = "$body"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $3"
EOF
	wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_}s" --latency \
	    -s "$T/$1.lua" "$2" >"$T/$1.wrk" 2>&1 ||
	    fail "wrk failed against $1: $(tail -n 3 "$T/$1.wrk")"
}

# cpu PID: the process's user + system CPU time so far, in clock ticks.
cpu() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# ms TEXT: a wrk latency (812.00us, 1.20ms, 2.01s) in milliseconds.
ms() {
	echo "$1" | awk '{ v = $1 + 0; u = $1; sub(/^[0-9.]+/, "", u)
	    if (u == "us") v /= 1000; else if (u == "s") v *= 1000
	    else if (u == "m") v *= 60000; printf "%.2f", v }'
}

# figures NAME: "RPS P50 P99 NON2XX REQUESTS" from $T/NAME.wrk.
figures() {
	awk '/^Requests\/sec:/ { rps = $2 }
	    /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 }
	    /Non-2xx or 3xx responses:/ { bad = $NF }
	    / requests in / { n = $1 }
	    END { print rps, p50, p99, bad + 0, n + 0 }' "$T/$1.wrk"
}

# ---- the daemon ------------------------------------------------------------
cat >"$T/tiergate.yaml" <<EOF
rules:
  - rules
log_level: warn
EOF
"$TG" --data-dir "$T/data" -c "$T/tiergate.yaml" serve \
    --listen 127.0.0.1:0 2>"$T/daemon.log" </dev/null &
DPID=$!
PIDS="$PIDS $DPID"
PORT=$(wait_ready "$T/daemon.log" tiergate) ||
    fail "the daemon did not start: $(tail -n 3 "$T/daemon.log")"
TOKEN=$("$TG" --data-dir "$T/data" token create --role screen \
    --name bench 2>/dev/null) || fail "cannot make a token"
st=$(curl -s -o "$T/first.json" -w '%{http_code}' \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \
    --data-binary @"$T/query.json" "http://127.0.0.1:$PORT/v1/decisions")
[ "$st" = 201 ] || fail "the query is not decided: $st $(head -c 300 \
    "$T/first.json")"
outcome=$(sed -n 's/^  "outcome": "\(.*\)",$/\1/p' "$T/first.json")
size0=$("$TG" --data-dir "$T/data" audit checkpoint 2>/dev/null | sed -n 2p)

fs=$(stat -f -c %T "$T" 2>/dev/null)
echo "bench_http: wrk -t$THREADS -c$CONNS -d${SECONDS_}s, co-located;" \
    "$(nproc 2>/dev/null || echo '?') CPUs; data dir on ${fs:-?}"
echo "query: 3 items (H100 x1000, HGX x10, closed weights 3e26) to IN," \
    "binding; decided $outcome"
[ "$fs" = tmpfs ] && echo "WARNING: the data dir is on tmpfs: fsync" \
    "costs nothing; set TMPDIR to a disk"

c0=$(cpu "$DPID")
run_wrk daemon "http://127.0.0.1:$PORT/v1/decisions" "$TOKEN"
d_cpu=$(($(cpu "$DPID") - c0))
rss=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$DPID/status" \
    2>/dev/null)
kill -TERM "$DPID"
wait "$DPID"
drc=$?
PIDS=""
[ $drc -eq 0 ] || echo "WARNING: the daemon exited $drc after SIGTERM"
size1=$("$TG" --data-dir "$T/data" audit checkpoint 2>/dev/null | sed -n 2p)

# ---- the echo server -------------------------------------------------------
"$T/echo_server" -t 2 2>"$T/echo.log" </dev/null &
EPID=$!
PIDS="$PIDS $EPID"
EPORT=$(wait_ready "$T/echo.log" echo_server) ||
    fail "the echo server did not start: $(cat "$T/echo.log")"
c0=$(cpu "$EPID")
run_wrk echo "http://127.0.0.1:$EPORT/v1/decisions" "$TOKEN"
e_cpu=$(($(cpu "$EPID") - c0))
kill -TERM "$EPID"
wait "$EPID"
PIDS=""

# ---- figures ---------------------------------------------------------------
# shellcheck disable=SC2046
set -- $(figures daemon)
d_rps=$1 d_p50=$(ms "$2") d_p99=$(ms "$3") d_bad=$4 d_n=$5
# shellcheck disable=SC2046
set -- $(figures echo)
e_rps=$1 e_p50=$(ms "$2") e_p99=$(ms "$3") e_bad=$4 e_n=$5
logged=$((${size1:-0} - ${size0:-0}))
ratio=$(awk -v a="$d_rps" -v b="$e_rps" 'BEGIN { if (b > 0)
    printf "%.2f", a / b; else print "?" }')

printf '%-13s %10s %9s %9s %s\n' "" "requests/s" "p50 ms" "p99 ms" \
    "errors"
printf '%-13s %10.0f %9s %9s %s\n' "tiergate" "$d_rps" "$d_p50" "$d_p99" \
    "$d_bad non-2xx"
printf '%-13s %10.0f %9s %9s %s\n' "echo server" "$e_rps" "$e_p50" \
    "$e_p99" "$e_bad non-2xx"
# CPU time per answer: where the two servers differ, and how much of the
# machine's two cores the target would leave for the rest.
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
per() {
	awk -v t="$1" -v hz="$hz" -v n="$2" 'BEGIN { if (n > 0)
	    printf "%.0f", t / hz / n * 1e6; else print "?" }'
}
echo "CPU per answer: tiergate $(per "$d_cpu" "$d_n") us," \
    "echo server $(per "$e_cpu" "$e_n") us (user + system, all threads)"
echo "decisions logged during the run: $logged; wrk counted $d_n answers," \
    "$d_bad of them not 201 (a decision committed as wrk stops is logged" \
    "but not counted)"
verdict() {
	if awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
	    exit !((op == ">=") ? a >= b : a <= b) }'; then
		echo met
	else
		echo "NOT met"
	fi
}
echo "summary: $(printf '%.0f' "$d_rps") decisions/s = ${ratio}x the echo" \
    "server (target >= 0.6x: $(verdict "$ratio" ">=" 0.6)); p50 $d_p50 ms," \
    "p99 $d_p99 ms (target <= 10 ms: $(verdict "$d_p99" "<=" 10));" \
    "daemon peak RSS ${rss:-?} MB (target <= 32 MB: $(verdict "${rss:-999}" \
    "<=" 32))"
