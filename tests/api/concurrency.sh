#!/bin/sh
# concurrency.sh TIERGATE: the ledger over HTTP (issue 4).  48 binding
# requests of 100 H100 SXM each (1,583,200 TPP) for one consignee arrive at
# once; LPP allows 26,900,000 TPP per consignee and year, so exactly 16 are
# authorized under LPP and 32 need a license, whatever the interleaving.
# TG_WRAP and TG_SLOW as in lib.sh (tests/valgrind.sh).
set -u
TG=${1:?usage: concurrency.sh TIERGATE}
WRAP=${TG_WRAP:-}
SLOW=${TG_SLOW:-1}
case $TG in /*) ;; *) TG=$(pwd)/$TG ;; esac
T=$(mktemp -d)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
no() { fail=$((fail + 1)); echo "not ok - $1"; }

export TIERGATE_DATA_DIR="$T/data"
TOKEN=$("$TG" token create --role screen --name conc 2>/dev/null)
# shellcheck disable=SC2086
$WRAP "$TG" serve --listen 127.0.0.1:0 2>"$T/log" &
PID=$!
port=
for _ in $(seq 1 $((100 * SLOW))); do
	port=$(sed -n 's/.*ready on port \([0-9]*\).*/\1/p' "$T/log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { no "daemon started"; echo "$pass passed, $fail failed"; exit 1; }

cat >"$T/q.json" <<Q
{"date":"2025-07-01","destination":"IN","consignee":{"id":"conc-1","name":"Conc Ltd","country":"IN"},"items":[{"kind":"chip","product":"nvidia-h100-sxm","quantity":100}],"dry_run":false}
Q
i=0
while [ $i -lt 48 ]; do
	curl -s -o "$T/r$i" -w '%{http_code}\n' -H "Authorization: Bearer $TOKEN" \
	    -H 'Content-Type: application/json' --data @"$T/q.json" \
	    "http://127.0.0.1:$port/v1/decisions" >"$T/c$i" &
	i=$((i + 1))
done
wait_curls() {
	for _ in $(seq 1 $((300 * SLOW))); do
		n=$(cat "$T"/c* 2>/dev/null | grep -c .)
		[ "$n" -ge 48 ] && return 0
		sleep 0.1
	done
	return 1
}
wait_curls
created=$(cat "$T"/c* | grep -c '^201$')
[ "$created" -eq 48 ] && ok "48 decisions answered 201" ||
    no "48 decisions answered 201 (got $created)"
lpp=$(grep -l '"authorization": "LPP"' "$T"/r* 2>/dev/null | wc -l)
lic=$(grep -l '"outcome": "license_required"' "$T"/r* 2>/dev/null | wc -l)
[ "$lpp" -eq 16 ] && ok "exactly 16 authorized under LPP" ||
    no "exactly 16 authorized under LPP (got $lpp)"
[ "$lic" -eq 32 ] && ok "32 license_required" ||
    no "32 license_required (got $lic)"
kill "$PID"
wait "$PID" 2>/dev/null
PID=
bal=$("$TG" quota show --consignee conc-1 --json | tr -d ' \n' |
    sed -n 's/.*"name":"lpp","key":"conc-1","period":"2025","used":\([0-9.]*\).*/\1/p')
[ "${bal%.*}" = "25331200" ] && ok "ledger balance 25,331,200" ||
    no "ledger balance 25,331,200 (got $bal)"
"$TG" audit verify >"$T/v" 2>&1 && ok "audit and ledger verify" ||
    { no "audit and ledger verify"; cat "$T/v"; }
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
