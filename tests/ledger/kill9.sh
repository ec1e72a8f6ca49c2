#!/bin/sh
# kill9.sh TIERGATE: the ledger after kill -9 in the middle of a write
# stream (issue 4, "Acceptance": ledger totals recomputed from the log
# match after a kill -9).
#
# A license L-K9 (IN, 40,000,000 TPP) is registered, then WORKERS loops
# run binding `tiergate check` back to back on one data dir, over three
# consignees, some lines citing L-K9 (so LPP fills up, the license and
# the IN allocation are drawn on, and later lines are refused), and one
# more loop voids the decisions the first loop answered.  The script
# sends SIGKILL to whichever of those processes is running at random
# moments until at least MINKILLS have died of it (checked by pid, and
# only after `ps` shows the pid is one of ours).  Then:
#
#   - `tiergate audit verify` exits 0 and says "ledger OK";
#   - no process failed (exit 2), and every check that exited by itself
#     printed a complete decision with a receipt;
#   - every answered decision (complete JSON with a receipt, whether or
#     not its process was killed afterwards) is in the log, with the
#     same reservations;
#   - per quota/key/period, what the answered decisions not voided in
#     the log reserve is at most the balance of `quota show --json`, and
#     that balance equals the sum over every binding decision entry of
#     the log (quotas[].reserved) not named by a void entry: the totals
#     are recomputed from the log with the sqlite3 shell (json_each);
#   - no balance is over its limit (LPP 26,900,000 per consignee, the
#     license's 40,000,000 TPP);
#   - every void that printed "voided" has its void entry in the log.
#
# Prints the figures as "# ..." lines.  Ends with "N passed, N failed";
# exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/ledger/kill9.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "kill9: no binary '$TG'" >&2; exit 2; }
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "kill9: the sqlite3 command is missing (packaging/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

WORKERS=3	# check loops; one more loop voids
MINKILLS=20	# SIGKILLs that must land on a running tiergate
MINTRIES=40	# kill moments at least
MAXTRIES=600	# give up after this many
LICENSE_TPP=40000000

T=$(mktemp -d) || exit 2
D=$T/data
workers=""
cleanup() {
	: >"$T/stop"
	for p in $workers; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
# ok TEXT...: one passed test; not_ok TEXT...: one failed test.
ok() {
	pass=$((pass + 1))
	echo "ok - $*"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $*"
}

mkdir "$T/out" "$T/err" "$T/rc" "$T/vout" "$T/vrc" "$T/q" || exit 2

# query NAME CONSIGNEE QTY [LICENSE [LINES]]: a binding query of LINES
# (default 1) lines of QTY H100 SXM to IN, citing LICENSE unless "-".
# Long queries keep the write transaction open longer (the engine decides
# inside it), so more SIGKILLs land in the middle of a write.
query() {
	lic=
	[ $# -ge 4 ] && [ "$4" != - ] && lic=", \"license\": \"$4\""
	items=$(awk -v n="${5:-1}" -v item="{\"kind\": \"chip\", \
\"product\": \"nvidia-h100-sxm\", \"quantity\": $3$lic}" \
	    'BEGIN { for (i = 0; i < n; i++) printf "%s%s", (i ? ", " : ""),
	    item }')
	cat >"$T/q/$1" <<EOF
{"date": "2025-07-01", "destination": "IN", "dry_run": false,
 "consignee": {"id": "$2", "name": "Consignee $2", "country": "IN",
  "headquarters": "IN"},
 "items": [$items]}
EOF
}
NQUERIES=8
query 0 k9-1 100 L-K9
query 1 k9-2 250 L-K9
query 2 k9-3 37
query 3 k9-1 13
query 4 k9-2 100 L-K9
query 5 k9-3 500 L-K9
query 6 k9-1 3 L-K9 400
query 7 k9-3 2 - 400

# The log, its key and the license exist before the stream starts.
if "$TG" --data-dir "$D" license add --number L-K9 --country IN \
    --tpp $LICENSE_TPP --valid-until 2026-12-31 >"$T/setup" 2>&1 \
    </dev/null; then
	ok "license L-K9 registered"
else
	not_ok "license add: $(cat "$T/setup")"
fi

# worker W: checks until $T/stop exists; the running check's pid is in
# $T/pid.W, its output in $T/out/W.I and its exit status in $T/rc/W.I.
worker() {
	w=$1
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		"$TG" --data-dir "$D" check "$T/q/$(((w * 5 + i) % NQUERIES))" \
		    >"$T/out/$w.$i" 2>"$T/err/$w.$i" </dev/null &
		echo $! >"$T/pid.$w"
		wait $!
		echo $? >"$T/rc/$w.$i"
	done
}

# voider: voids the decisions worker 1 answered, in order, as they come
# (it waits for each one's exit status); pid in $T/pid.v, output in
# $T/vout/I, exit status in $T/vrc/I.
voider() {
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		while [ ! -e "$T/rc/1.$i" ] && [ ! -e "$T/stop" ]; do
			sleep 0.01
		done
		[ -e "$T/rc/1.$i" ] || break
		[ "$(tail -n 1 "$T/out/1.$i")" = "}" ] || continue
		id=$(sed -n 's/^  "decision_id": "\(.*\)",$/\1/p' \
		    "$T/out/1.$i")
		[ -n "$id" ] || continue
		"$TG" --data-dir "$D" decisions void "$id" --reason kill9 \
		    >"$T/vout/$i" 2>&1 </dev/null &
		echo $! >"$T/pid.v"
		wait $!
		echo $? >"$T/vrc/$i"
	done
}

started_at=$(date +%s)
w=1
while [ $w -le $WORKERS ]; do
	# The worker's shell says "Killed" on stderr for each SIGKILL.
	worker $w 2>/dev/null &
	workers="$workers $!"
	w=$((w + 1))
done
voider 2>/dev/null &
workers="$workers $!"

# The killer: a random pause of 0 to 60 ms, then SIGKILL to the process
# one of the loops is running (the voider every fourth time).
landed=0
kills=0
tries=0
while [ $tries -lt $MAXTRIES ] &&
    { [ "$landed" -lt $MINKILLS ] || [ $tries -lt $MINTRIES ]; }; do
	tries=$((tries + 1))
	sleep "$(awk -v s="$$$tries" \
	    'BEGIN { srand(s); printf "%.3f", rand() * 0.06 }')"
	case $((tries % 4)) in
	0) who=v ;;
	*) who=$((tries % 4)) ;;
	esac
	pid=
	read -r pid 2>/dev/null <"$T/pid.$who"
	[ -n "$pid" ] || continue
	case $(ps -o args= -p "$pid" 2>/dev/null) in
	*"--data-dir $D "*)
		if kill -9 "$pid" 2>/dev/null; then
			kills=$((kills + 1))
			landed=$(cat "$T"/rc/* "$T"/vrc/* 2>/dev/null |
			    grep -c '^137$')
		fi
		;;
	esac
done
: >"$T/stop"
for p in $workers; do
	wait "$p"
done
workers=""
stream_s=$(($(date +%s) - started_at))

# ---- what happened -------------------------------------------------------
"$TG" --data-dir "$D" audit verify >"$T/verify" 2>&1 </dev/null
vrc=$?
"$TG" --data-dir "$D" quota show --json >"$T/quota.json" 2>"$T/quota.err" \
    </dev/null
qrc=$?

started=0
killed=0
failed=0
incomplete=0
for f in "$T"/out/*; do
	name=${f##*/}
	started=$((started + 1))
	src=
	read -r src 2>/dev/null <"$T/rc/$name"
	case $src in
	137) killed=$((killed + 1)) ;;
	0 | 1)
		if [ "$(tail -n 1 "$f")" != "}" ] ||
		    ! grep -q '"inclusion_proof"' "$f"; then
			incomplete=$((incomplete + 1))
			echo "# check $name: exited $src without a complete" \
			    "decision"
		fi
		;;
	*)
		failed=$((failed + 1))
		echo "# check $name: exit status '${src:-?}'"
		sed 's/^/#   stderr: /' "$T/err/$name" | head -n 3
		;;
	esac
done
voids=0
vkilled=0
vfailed=0
for f in "$T"/vrc/*; do
	[ -e "$f" ] || continue
	voids=$((voids + 1))
	src=
	read -r src 2>/dev/null <"$f"
	case $src in
	137) vkilled=$((vkilled + 1)) ;;
	0 | 1) ;;
	*)
		vfailed=$((vfailed + 1))
		echo "# void ${f##*/}: exit status '${src:-?}':" \
		    "$(head -n 1 "$T/vout/${f##*/}")"
		;;
	esac
done

# Everything else is one sqlite3 run over the log (read as it is), the
# outputs and `quota show --json`.  Each line of $T/facts is "NAME|VALUE".
sqlite3 "$D/tiergate.db" >"$T/facts" 2>"$T/facts.err" <<EOF
CREATE TEMP TABLE outs AS
    SELECT name, CAST(data AS TEXT) AS body FROM fsdir('$T/out')
    WHERE name != '$T/out';
CREATE TEMP TABLE answered AS
    SELECT name, json_extract(body, '\$.decision_id') AS id, body
    FROM outs WHERE json_valid(body) AND
    json_extract(body, '\$.receipt.seq') IS NOT NULL;
CREATE TEMP TABLE voided AS
    SELECT DISTINCT decision_id AS id FROM entries WHERE kind = 'void';
CREATE TEMP TABLE logged AS
    SELECT decision_id AS id, payload FROM entries
    WHERE kind = 'decision' AND
    json_extract(payload, '\$.dry_run') IS NOT 1;
CREATE TEMP TABLE from_log AS
    SELECT json_extract(q.value, '\$.name') || '/' ||
        json_extract(q.value, '\$.key') || '/' ||
        json_extract(q.value, '\$.period') AS k,
        sum(json_extract(q.value, '\$.reserved')) AS amount
    FROM logged, json_each(logged.payload, '\$.quotas') AS q
    WHERE logged.id NOT IN (SELECT id FROM voided) AND
        json_extract(q.value, '\$.reserved') > 0
    GROUP BY k;
CREATE TEMP TABLE from_answers AS
    SELECT json_extract(q.value, '\$.name') || '/' ||
        json_extract(q.value, '\$.key') || '/' ||
        json_extract(q.value, '\$.period') AS k,
        sum(json_extract(q.value, '\$.reserved')) AS amount
    FROM answered, json_each(answered.body, '\$.quotas') AS q
    WHERE answered.id NOT IN (SELECT id FROM voided) AND
        json_extract(q.value, '\$.reserved') > 0
    GROUP BY k;
CREATE TEMP TABLE shown AS
    SELECT json_extract(value, '\$.name') || '/' ||
        json_extract(value, '\$.key') || '/' ||
        json_extract(value, '\$.period') AS k,
        json_extract(value, '\$.used') AS amount
    FROM json_each(readfile('$T/quota.json'));
CREATE TEMP TABLE keys AS
    SELECT k FROM from_log UNION SELECT k FROM shown;
SELECT 'entries', count(*) FROM entries;
SELECT 'decisions', count(*) FROM logged;
SELECT 'void_entries', count(*) FROM voided;
SELECT 'answered', count(*) FROM answered;
SELECT 'answered_voided', count(*) FROM answered
    WHERE id IN (SELECT id FROM voided);
SELECT 'logged_not_answered', count(*) FROM logged
    WHERE id NOT IN (SELECT id FROM answered);
SELECT 'answered_not_logged', count(*) FROM answered
    WHERE id NOT IN (SELECT id FROM logged);
-- The same reservations in the answer and in its log entry.
SELECT 'answered_differs', count(*) FROM answered JOIN logged USING (id)
    WHERE (SELECT total(json_extract(value, '\$.reserved'))
        FROM json_each(answered.body, '\$.quotas')) !=
        (SELECT total(json_extract(value, '\$.reserved'))
        FROM json_each(logged.payload, '\$.quotas'));
SELECT 'answered_over_balance', count(*) FROM from_answers a
    LEFT JOIN shown s USING (k) WHERE a.amount > coalesce(s.amount, 0) + 0.5;
SELECT 'balance_differs', count(*) FROM keys
    LEFT JOIN from_log l USING (k) LEFT JOIN shown s USING (k)
    WHERE abs(coalesce(l.amount, 0) - coalesce(s.amount, 0)) > 0.5;
SELECT 'keys', count(*) FROM keys;
SELECT 'over_limit', count(*) FROM shown WHERE
    (k LIKE 'lpp/%' AND amount > 26900000) OR
    (k = 'license_tpp/L-K9/all' AND amount > $LICENSE_TPP);
SELECT 'lpp_total', CAST(total(amount) AS INTEGER) FROM shown
    WHERE k LIKE 'lpp/%';
SELECT 'license_used', CAST(total(amount) AS INTEGER) FROM shown
    WHERE k = 'license_tpp/L-K9/all';
SELECT 'allocation_used', CAST(total(amount) AS INTEGER) FROM shown
    WHERE k LIKE 'allocation/%';
SELECT 'answered_license', count(*) FROM answered
    WHERE json_extract(body, '\$.items[0].authorization') = 'LICENSE';
SELECT 'answered_refused', count(*) FROM answered
    WHERE json_extract(body, '\$.outcome') = 'license_required';
EOF
src=$?
# The differing keys, for the report.
sqlite3 "$D/tiergate.db" >"$T/diff" 2>/dev/null <<EOF
CREATE TEMP TABLE logged AS
    SELECT decision_id AS id, payload FROM entries
    WHERE kind = 'decision' AND
    json_extract(payload, '\$.dry_run') IS NOT 1 AND decision_id NOT IN
    (SELECT decision_id FROM entries WHERE kind = 'void');
CREATE TEMP TABLE from_log AS
    SELECT json_extract(q.value, '\$.name') || '/' ||
        json_extract(q.value, '\$.key') || '/' ||
        json_extract(q.value, '\$.period') AS k,
        sum(json_extract(q.value, '\$.reserved')) AS amount
    FROM logged, json_each(logged.payload, '\$.quotas') AS q
    WHERE json_extract(q.value, '\$.reserved') > 0 GROUP BY k;
CREATE TEMP TABLE shown AS
    SELECT json_extract(value, '\$.name') || '/' ||
        json_extract(value, '\$.key') || '/' ||
        json_extract(value, '\$.period') AS k,
        json_extract(value, '\$.used') AS amount
    FROM json_each(readfile('$T/quota.json'));
SELECT '#   ' || k || ': log ' || coalesce(l.amount, 0) || ', ledger ' ||
    coalesce(s.amount, 0) FROM (SELECT k FROM from_log UNION
    SELECT k FROM shown) LEFT JOIN from_log l USING (k)
    LEFT JOIN shown s USING (k)
    WHERE abs(coalesce(l.amount, 0) - coalesce(s.amount, 0)) > 0.5;
EOF

# fact NAME: a value of $T/facts ('?' when missing).
fact() {
	v=$(sed -n "s/^$1|//p" "$T/facts")
	echo "${v:-?}"
}

answered=$(fact answered)
echo "# $tries kill moments, $kills SIGKILLs sent, $landed landed" \
    "in ${stream_s}s; $started checks: $killed killed, $failed failed;" \
    "$voids voids: $vkilled killed, $vfailed failed"
echo "# log: $(fact entries) entries, $(fact decisions) binding decisions," \
    "$(fact void_entries) voids; answered $answered ($(fact \
    answered_voided) since voided, $(fact answered_license) under" \
    "LICENSE, $(fact answered_refused) license_required); committed" \
    "but not answered (killed after the commit) $(fact \
    logged_not_answered)"
echo "# balances: $(fact keys) keys; LPP $(fact lpp_total), license" \
    "L-K9 $(fact license_used) of $LICENSE_TPP, allocation" \
    "$(fact allocation_used)"

if [ $vrc -eq 0 ] && grep -q '^ledger OK: ' "$T/verify"; then
	ok "audit verify after the kills: $(grep '^ledger OK' "$T/verify")"
else
	not_ok "audit verify after the kills: exit $vrc: $(cat "$T/verify")"
fi
if [ "$landed" -ge $MINKILLS ]; then
	ok "$landed tiergate processes died of SIGKILL (at least $MINKILLS)"
else
	not_ok "only $landed processes died of SIGKILL (want $MINKILLS)"
fi
if [ $failed -eq 0 ] && [ $incomplete -eq 0 ] && [ $vfailed -eq 0 ]; then
	ok "no process failed; every check that exited answered"
else
	not_ok "$failed checks and $vfailed voids failed, $incomplete" \
	    "checks exited without their decision"
fi
if [ $src -ne 0 ] || [ $qrc -ne 0 ] || [ -s "$T/facts.err" ]; then
	not_ok "cannot recompute the ledger: quota show exit $qrc;" \
	    "sqlite3 exit $src: $(head -n 3 "$T/facts.err")"
fi
if [ "$answered" != "?" ] && [ "$answered" -gt 0 ] &&
    [ "$(fact answered_not_logged)" = 0 ] &&
    [ "$(fact answered_differs)" = 0 ]; then
	ok "all $answered answered decisions are in the log with their" \
	    "reservations"
else
	not_ok "answered $answered: $(fact answered_not_logged) not in the" \
	    "log, $(fact answered_differs) with other reservations"
fi
if [ "$(fact answered_over_balance)" = 0 ]; then
	ok "what the answered decisions reserve is in the balances"
else
	not_ok "$(fact answered_over_balance) balances hold less than the" \
	    "answered decisions reserve"
fi
if [ "$(fact balance_differs)" = 0 ] && [ "$(fact keys)" != "?" ] &&
    [ "$(fact keys)" -gt 0 ]; then
	ok "quota show equals the log's totals on all $(fact keys) keys"
else
	not_ok "$(fact balance_differs) balances differ from the log:"
	cat "$T/diff"
fi
if [ "$(fact over_limit)" = 0 ]; then
	ok "no balance over its limit"
else
	not_ok "$(fact over_limit) balances over their limit"
fi
# Every void that said so is in the log.
missing=0
said=0
for f in "$T"/vout/*; do
	[ -e "$f" ] || continue
	id=$(sed -n 's/^decision \(.*\) voided, .*/\1/p' "$f")
	[ -n "$id" ] || continue
	said=$((said + 1))
	n=$(sqlite3 "$D/tiergate.db" "SELECT count(*) FROM entries
	    WHERE kind = 'void' AND decision_id = '$id'")
	[ "$n" = 1 ] || missing=$((missing + 1))
done
if [ $missing -eq 0 ]; then
	ok "all $said voids that answered are in the log once"
else
	not_ok "$missing of $said answered voids are not in the log once"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
