#!/bin/sh
# kill_loop.sh TIERGATE: kill -9 at random moments, again and again, under
# HTTP load and during a batch (issue 8, "Crash safety").
#
# Phase 1, `tiergate serve` under load.  One data dir (license L-KL for
# IN registered first) and one daemon; each cycle, CLIENTS curl loops post
# back to back a mix of binding decisions (single-line and multi-line LPP
# queries to six IN consignees over two years, some citing L-KL, so LPP
# and the license fill up; DE and CN queries), batches of two to five
# transactions (some with one transaction the rules refuse), voids of
# decisions answered in earlier cycles, and bad requests (malformed JSON,
# a bad country, an unknown product, no token, a void of an unknown or an
# already voided decision).  After a random pause (0.05 to 0.8 s; one
# cycle in five 0 to 60 ms, so kills also land while the daemon logs its
# rules_loaded entry) the daemon gets SIGKILL and is restarted on the same
# data dir.  After each restart:
#
#   - `tiergate audit verify` exits 0 and says "ledger OK";
#   - every decision answered so far (201 to POST /v1/decisions, or an
#     element of a 200 to POST /v1/decisions/batch, with its whole body
#     received) is the decision entry of the log with its id, at the seq
#     and with the entry_hash of its receipt, and holds in `reservations`
#     exactly what its answer's quotas[].reserved say; the decisions
#     answered in the cycle just ended are also fetched from the restarted
#     daemon (GET /v1/decisions/{id}: 200, same seq and entry_hash), and
#     one receipt per cycle is verified offline (audit verify-receipt);
#   - every void answered 200 is the void entry at its receipt's seq, and
#     every reservation of the voided decision names that entry;
#   - the ledger equals what the log implies, recomputed here with the
#     sqlite3 shell (json_each over entries.payload): per quota, key and
#     period, the sum of quotas[].reserved of the binding decision entries
#     not named by a void entry equals the sum of the unreleased
#     reservations; each binding decision entry has exactly the
#     reservation rows its payload names, released by its void entry if it
#     has one.  `audit verify` recomputes the balances as well
#     (daemon/api/ledger.c, api_ledger_verify: per balance only, not per
#     decision), so both are checked;
#   - no LPP balance is over 26,900,000 and L-KL is not over its TPP;
#   - no bad request is in the log, and every answer has a status its
#     request may get (000 when the daemon died first; 503, "retry", is
#     allowed for any request and shows in the figures).
#
# Phase 2, `tiergate screen` killed.  A CSV file of ROWS rows (LPP lines
# to eight IN consignees over three years, DE and CN lines, transactions
# of two or three rows sharing a reference, 2% bad rows) is screened,
# binding, with -o OUT.  The first run goes to the end; later runs get
# SIGKILL after a random pause of 0 to 1.15 times the quickest run that
# went to the end.  Runs alternate between one data dir that keeps every
# run's reservations (so LPP fills and stays full; it starts again from a
# fresh copy once it holds SHARED_MAX entries, to keep verify quick) and a
# fresh copy of an initialized data dir.  After each run:
#
#   - `tiergate audit verify` exits 0 and says "ledger OK", and the ledger
#     checks of phase 1 pass on that data dir;
#   - every complete row of OUT (a torn last line is not a row) that has
#     a decision_id names a decision entry of this run, whose item for
#     that row has the row's outcome and authorization (screen writes a
#     group's rows only after the group commits, daemon/cli/cli_screen.c);
#     no bad row is in the log;
#   - a run that exited by itself (status 2: the file has bad rows) wrote
#     every row and every decision it committed, and logged its batch
#     entry (rows, bad_rows, decisions, first_seq, last_seq, complete).
#     A killed run has none: the entry is written at the end of a run
#     (docs/audit.md, section 1); such runs are counted, not failed.
#
# Phase 3, first use killed.  FIRSTUSE times, `tiergate check` on a data
# dir that does not exist yet gets SIGKILL after 0 to what one such check
# takes; then the next check on that data dir must answer, `audit verify`
# must pass anchored at the data dir's signing.pub, the new decision's
# receipt must verify with that signing.pub, no *.tmp file may be left,
# and a decision the killed check printed whole must be in the log.
#
# At least MINKILLS (20) SIGKILLs must land in phases 1 and 2 each (on a
# process that was still running; checked by its wait status).  Loop
# sizes are the same for the ASan build (found by "/san/" in TIERGATE's
# path, or KILL_LOOP_SLOW=1), except ROWS: 3000, 2000 under ASan.
# KILL_LOOP_SEED replays a run's random choices (the seed is printed; the
# kill moments still depend on the machine's speed).  Figures are printed
# as "# ..." lines.  Ends with "N passed, N failed"; exits 1 if any test
# failed.  Needs curl, sqlite3 (the shell), awk and a sleep that takes
# fractions of a second.  About 25 to 45 s on the release build and 45 to
# 65 s on the ASan build on a shared 2-core machine.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "kill_loop: the sqlite3 command is missing (packaging/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

MINKILLS=20		# SIGKILLs that must land, per phase
CYCLES=${KILL_LOOP_CYCLES:-22}	# daemon kills (phase 1)
MAXRUNS=60		# screen runs at most (phase 2)
SHARED_MAX=8000		# entries before the shared data dir starts again
CLIENTS=3		# curl loops
FIRSTUSE=30		# first uses killed (phase 3)
LPP_LIMIT=26900000
LIC_TPP=60000000
KL_SLOW=${KILL_LOOP_SLOW:-0}
case $TG in
*/san/*) KL_SLOW=1 ;;
esac
ROWS=3000
[ "$KL_SLOW" = 1 ] && ROWS=2000
[ "$CYCLES" -lt $MINKILLS ] && CYCLES=$MINKILLS
SEED=${KILL_LOOP_SEED:-$$}
echo "# seed $SEED (KILL_LOOP_SEED=$SEED replays the random choices)"

t_start=$(date +%s.%N)
# since T0: seconds since T0 (a date +%s.%N), one decimal.
since() {
	awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# Random numbers in [0, 1), read one at a time from fd 4.
awk -v s="$SEED" 'BEGIN { srand(s); for (i = 0; i < 4000; i++)
    printf "%.6f\n", rand() }' >"$T/rand"
exec 4<"$T/rand"
# rnd LO HI: a random number in [LO, HI), three decimals.
rnd() {
	read -r x <&4 || x=0.5
	awk -v x="$x" -v lo="$1" -v hi="$2" \
	    'BEGIN { printf "%.3f", lo + x * (hi - lo) }'
}

# fact FILE NAME: the value of "NAME|VALUE" in FILE ('?' when missing).
fact() {
	v=$(sed -n "s/^$2|//p" "$1" | head -n 1)
	echo "${v:-?}"
}

# ledger_sql: SQL (for the sqlite3 shell on a tiergate.db) that prints
# "NAME|VALUE" lines: the ledger recomputed from the log and compared with
# the reservations table, and the balances over their limits.
ledger_sql() {
	cat <<EOF
CREATE TEMP TABLE voided AS SELECT decision_id AS id, min(seq) AS seq,
    count(*) AS n FROM entries WHERE kind = 'void' GROUP BY decision_id;
CREATE TEMP TABLE binding AS SELECT seq, decision_id AS id, payload
    FROM entries WHERE kind = 'decision' AND
    json_extract(payload, '\$.dry_run') IS NOT 1;
CREATE TEMP TABLE want AS SELECT b.seq, b.id,
    json_extract(q.value, '\$.name') || '/' || json_extract(q.value,
    '\$.key') || '/' || json_extract(q.value, '\$.period') AS k,
    CAST(round(json_extract(q.value, '\$.reserved')) AS INTEGER) AS amount
    FROM binding b, json_each(b.payload, '\$.quotas') q
    WHERE json_extract(q.value, '\$.reserved') > 0;
CREATE TEMP TABLE held AS SELECT seq, decision_id AS id,
    quota || '/' || key || '/' || period AS k,
    CAST(round(amount) AS INTEGER) AS amount, void_seq FROM reservations;
CREATE TEMP TABLE from_log AS SELECT k, sum(amount) AS amount FROM want
    WHERE id NOT IN (SELECT id FROM voided) GROUP BY k;
CREATE TEMP TABLE balance AS SELECT k, sum(amount) AS amount FROM held
    WHERE void_seq IS NULL GROUP BY k;
CREATE TEMP TABLE keys AS SELECT k FROM from_log UNION SELECT k FROM balance;
SELECT 'entries', count(*) FROM entries;
SELECT 'decisions', count(*) FROM binding;
SELECT 'void_entries', (SELECT count(*) FROM entries WHERE kind = 'void');
SELECT 'double_voids', count(*) FROM voided WHERE n > 1;
SELECT 'keys', count(*) FROM keys;
SELECT 'balance_differs', count(*) FROM keys LEFT JOIN from_log l USING (k)
    LEFT JOIN balance b USING (k)
    WHERE coalesce(l.amount, 0) != coalesce(b.amount, 0);
SELECT 'reservations_differ', (SELECT count(*) FROM (SELECT seq, id, k, amount
    FROM want EXCEPT SELECT seq, id, k, amount FROM held)) +
    (SELECT count(*) FROM (SELECT seq, id, k, amount FROM held
    EXCEPT SELECT seq, id, k, amount FROM want));
SELECT 'release_differs', count(*) FROM held h LEFT JOIN voided v
    USING (id) WHERE h.void_seq IS NOT v.seq;
SELECT 'over_limit', count(*) FROM balance WHERE
    (k LIKE 'lpp/%' AND amount > $LPP_LIMIT) OR
    (k = 'license_tpp/L-KL/all' AND amount > $LIC_TPP);
SELECT 'lpp_total', coalesce(sum(amount), 0) FROM balance WHERE k LIKE 'lpp/%';
SELECT 'lpp_full', count(*) FROM balance
    WHERE k LIKE 'lpp/%' AND amount > $LPP_LIMIT - 2000000;
SELECT 'license_used', coalesce(sum(amount), 0) FROM balance
    WHERE k = 'license_tpp/L-KL/all';
SELECT '-diff', k, coalesce(l.amount, 0), coalesce(b.amount, 0) FROM keys
    LEFT JOIN from_log l USING (k) LEFT JOIN balance b USING (k)
    WHERE coalesce(l.amount, 0) != coalesce(b.amount, 0) LIMIT 3;
EOF
}

# ledger_ok FACTS WHERE: one test for the ledger facts in FACTS.
ledger_ok() {
	if [ "$(fact "$1" balance_differs)" = 0 ] &&
	    [ "$(fact "$1" reservations_differ)" = 0 ] &&
	    [ "$(fact "$1" release_differs)" = 0 ] &&
	    [ "$(fact "$1" double_voids)" = 0 ] &&
	    [ "$(fact "$1" over_limit)" = 0 ]; then
		return 0
	fi
	not_ok "$2: ledger against the log: $(fact "$1" balance_differs)\
 balances differ, $(fact "$1" reservations_differ) reservation rows differ,\
 $(fact "$1" release_differs) releases differ, $(fact "$1" double_voids)\
 decisions voided twice, $(fact "$1" over_limit) balances over their limit"
	sed -n 's/^-diff|/#   log, ledger: /p' "$1"
	return 1
}

# verify_ok DATA WHERE: `audit verify` on DATA exits 0 and says "ledger
# OK"; a failure is one test.
verify_ok() {
	"$TG" --data-dir "$1" audit verify >"$T/verify" 2>&1 </dev/null
	vrc=$?
	if [ $vrc -eq 0 ] && grep -q '^ledger OK: ' "$T/verify"; then
		return 0
	fi
	not_ok "$2: audit verify: exit $vrc: $(head -c 300 "$T/verify" |
	    tr '\n' ' ')"
	return 1
}

# ---- phase 1: the daemon under load ----------------------------------------
p1_start=$(date +%s.%N)
Q=$T/q
mkdir "$Q" "$T/r" "$T/idx" "$T/g" || exit 2

# query FILE REF DEST CONSIGNEE QTY DATE [LICENSE [LINES]]: a binding query
# of LINES (default 1) lines of QTY H100 SXM, citing LICENSE unless "-".
query() {
	lic=
	[ $# -ge 7 ] && [ "$7" != - ] && lic=", \"license\": \"$7\""
	items=$(awk -v n="${8:-1}" -v item="{\"kind\": \"chip\", \
\"product\": \"nvidia-h100-sxm\", \"quantity\": $5$lic}" \
	    'BEGIN { for (i = 0; i < n; i++) printf "%s%s", (i ? ", " : ""),
	    item }')
	cat >"$1" <<EOF
{"reference": "$2", "date": "$6", "destination": "$3", "dry_run": false,
 "consignee": {"id": "$4", "name": "Consignee $4", "country": "$3",
  "headquarters": "$3"},
 "items": [$items]}
EOF
}

# The pool: dec.N.json single decisions, batch.N.json batches.
NDEC=0
add() {
	query "$Q/dec.$NDEC.json" "KL-$NDEC" "$@"
	NDEC=$((NDEC + 1))
}
for cons in 1 2 3 4 5 6; do
	add IN "kl-in-$cons" 60 2025-07-01
	add IN "kl-in-$cons" 150 2025-08-01 L-KL
	add IN "kl-in-$cons" 25 2026-02-01 - 3
	add IN "kl-in-$cons" 200 2026-03-01 L-KL
done
add DE kl-de-1 500 2025-07-01
add CN kl-cn-1 10 2025-07-01
add IN kl-in-7 2 2025-09-01 L-KL 200	# a long transaction
add DE kl-de-2 20 2026-01-15 - 4
query "$Q/bad.product.json" BAD-product IN kl-in-1 1 2025-07-01
sed 's/nvidia-h100-sxm/no-such-chip/' "$Q/bad.product.json" >"$Q/x" &&
    mv "$Q/x" "$Q/bad.product.json"
sed 's/"IN"/"XX"/g; s/KL-0/BAD-country/' "$Q/dec.0.json" >"$Q/bad.country.json"
printf '{"reference": "BAD-json", "destination": ' >"$Q/bad.json.json"
echo '{"reason": "kill loop", "officer": "kill_loop.sh"}' >"$Q/void.json"
NBATCH=8
b=0
while [ $b -lt $NBATCH ]; do
	n=$((2 + b % 4))
	{
		echo '{"transactions": ['
		k=0
		while [ $k -lt $n ]; do
			[ $k -gt 0 ] && echo ,
			if [ $((b % 3)) -eq 1 ] && [ $k -eq 1 ]; then
				sed 's/BAD-product/BAD-batch/' \
				    "$Q/bad.product.json"
			else
				cat "$Q/dec.$(((b * 5 + k * 7) % NDEC)).json"
			fi
			k=$((k + 1))
		done
		echo ']}'
	} >"$Q/batch.$b.json"
	b=$((b + 1))
done

DATA=$T/http
if "$TG" --data-dir "$DATA" license add --number L-KL --country IN \
    --tpp $LIC_TPP --valid-until 2027-12-31 >"$T/setup" 2>&1 </dev/null; then
	:
else
	not_ok "license add: $(cat "$T/setup")"
fi
S=$(tok screen)
AUTH="Authorization: Bearer $S"
JSON="Content-Type: application/json"
# A decision id no decision has.
UNKNOWN=01900000-0000-7000-8000-000000000000

# client W C: requests until $T/stop exists; bodies in $T/r/C/C.W.I, one
# line "C.W.I,STATUS,KIND" each in $T/idx/C.W (STATUS 000: no answer).
client() {
	w=$1
	c=$2
	i=0
	exec 3<"$T/void.$c.$w"
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		n=$c.$w.$i
		h=$AUTH
		path=/v1/decisions
		f=$Q/void.json
		kind=$(((i * 7 + w * 5 + c * 3) % 16))
		case $kind in
		[0-6])
			kind=dec
			f=$Q/dec.$(((i * 5 + w * 11 + c) % NDEC)).json
			;;
		[7-9])
			kind='batch'
			f=$Q/batch.$(((i + w * 3 + c) % NBATCH)).json
			path=/v1/decisions/batch
			;;
		1[01])
			vid=
			read -r vid <&3
			if [ -n "$vid" ]; then
				kind=void
				path=/v1/decisions/$vid/void
			else
				kind=dec
				f=$Q/dec.$(((i + w + c) % NDEC)).json
			fi
			;;
		12)
			kind=badjson
			f=$Q/bad.json.json
			;;
		13)
			kind=badcountry
			f=$Q/bad.country.json
			;;
		14)
			kind=badproduct
			f=$Q/bad.product.json
			;;
		*)
			case $((i % 3)) in
			0)
				kind=noauth
				h="X-No-Token: 1"
				;;
			1)
				kind=voidunknown
				path=/v1/decisions/$UNKNOWN/void
				;;
			*)
				kind=voidagain
				path=/v1/decisions/$(cat "$T/voidagain" \
				    2>/dev/null || echo "$UNKNOWN")/void
				[ -s "$T/voidagain" ] || kind=voidunknown
				;;
			esac
			;;
		esac
		curl -s -o "$T/r/$c/$n" -w "$n,%{http_code},$kind\n" \
		    --max-time 20 -X POST -H "$h" -H "$JSON" \
		    --data-binary @"$f" "$U$path" >>"$T/idx/$c.$w" 2>/dev/null
	done
	exec 3<&-
}

# The answers, kept across cycles: $T/ans.db.
sqlite3 "$T/ans.db" <<EOF || exit 2
CREATE TABLE answered (id TEXT PRIMARY KEY, seq INTEGER, hash TEXT,
    quotas TEXT, cycle INTEGER, name TEXT, kind TEXT);
CREATE TABLE voids (id TEXT, seq INTEGER, hash TEXT, cycle INTEGER);
CREATE TABLE statuses (cycle INTEGER, kind TEXT, status INTEGER, n INTEGER);
CREATE TABLE idx (name TEXT, status INTEGER, kind TEXT);
EOF

# ingest C: the answers of cycle C into $T/ans.db; "NAME|VALUE" facts of
# the cycle in $T/ingest.
ingest() {
	c=$1
	cat "$T"/idx/"$c".* >"$T/idx.csv" 2>/dev/null
	sqlite3 "$T/ans.db" >"$T/ingest" 2>&1 <<EOF
DELETE FROM idx;
.import --csv $T/idx.csv idx
CREATE TEMP TABLE b AS SELECT substr(name, length('$T/r/$c/') + 1) AS name,
    CAST(data AS TEXT) AS body FROM fsdir('$T/r/$c') WHERE name != '$T/r/$c';
CREATE TEMP TABLE x AS SELECT idx.name, CAST(idx.status AS INTEGER) AS status,
    idx.kind, b.body, coalesce(json_valid(b.body), 0) AS whole
    FROM idx LEFT JOIN b USING (name);
INSERT INTO statuses SELECT $c, kind, status, count(*) FROM x
    GROUP BY kind, status;
INSERT INTO answered SELECT json_extract(body, '\$.decision_id'),
    json_extract(body, '\$.receipt.seq'),
    json_extract(body, '\$.receipt.entry_hash'),
    json_extract(body, '\$.quotas'), $c, name, kind
    FROM x WHERE kind = 'dec' AND status = 201 AND whole AND
    json_extract(body, '\$.receipt.seq') IS NOT NULL;
CREATE TEMP TABLE bb AS SELECT name, body FROM x
    WHERE kind = 'batch' AND status = 200 AND whole;
INSERT INTO answered SELECT json_extract(e.value, '\$.decision_id'),
    json_extract(e.value, '\$.receipt.seq'),
    json_extract(e.value, '\$.receipt.entry_hash'),
    json_extract(e.value, '\$.quotas'), $c, bb.name, 'batch'
    FROM bb, json_each(bb.body, '\$.decisions') e
    WHERE json_extract(e.value, '\$.receipt.seq') IS NOT NULL;
INSERT INTO voids SELECT json_extract(body, '\$.decision_id'),
    json_extract(body, '\$.receipt.seq'),
    json_extract(body, '\$.receipt.entry_hash'), $c
    FROM x WHERE kind = 'void' AND status = 200 AND whole AND
    json_extract(body, '\$.voided') = 1;
SELECT 'requests', count(*) FROM x;
SELECT 'answered', (SELECT count(*) FROM answered WHERE cycle = $c);
SELECT 'voided', (SELECT count(*) FROM voids WHERE cycle = $c);
SELECT 'batch_refused', coalesce(sum((SELECT count(*) FROM
    json_each(bb.body, '\$.decisions') e
    WHERE json_extract(e.value, '\$.status') = 422)), 0) FROM bb;
SELECT 'torn', count(*) FROM x WHERE status IN (200, 201) AND NOT whole;
SELECT 'unexpected', count(*) FROM x WHERE status != 0 AND NOT (
    status = 503 OR (kind = 'dec' AND status = 201) OR
    (kind IN ('batch', 'void') AND status = 200) OR
    (kind = 'voidagain' AND status = 409) OR
    (kind = 'voidunknown' AND status = 404) OR
    (kind = 'badjson' AND status = 400) OR
    (kind IN ('badcountry', 'badproduct') AND status = 422) OR
    (kind = 'noauth' AND status = 401));
SELECT '-unexpected', name, kind, status, substr(body, 1, 160) FROM x
    WHERE status != 0 AND NOT (
    status = 503 OR (kind = 'dec' AND status = 201) OR
    (kind IN ('batch', 'void') AND status = 200) OR
    (kind = 'voidagain' AND status = 409) OR
    (kind = 'voidunknown' AND status = 404) OR
    (kind = 'badjson' AND status = 400) OR
    (kind IN ('badcountry', 'badproduct') AND status = 422) OR
    (kind = 'noauth' AND status = 401)) LIMIT 3;
SELECT 'receipt_sample', (SELECT name FROM answered
    WHERE cycle = $c AND kind = 'dec' ORDER BY seq DESC LIMIT 1);
EOF
}

# http_check C: after the restart that followed cycle C's kill.
http_check() {
	c=$1
	if ! verify_ok "$DATA" "cycle $c"; then
		bad_cycles=$((bad_cycles + 1))
		return
	fi
	vok=$((vok + 1))
	# The decisions answered in cycle C, fetched from the new daemon.
	mkdir -p "$T/g/$c"
	sqlite3 "$T/ans.db" "SELECT id FROM answered WHERE cycle = $c" |
	    while read -r id; do
		printf 'url = "%s/v1/decisions/%s"\n' "$U" "$id"
		printf 'output = "%s/g/%s/%s"\n' "$T" "$c" "$id"
	done >"$T/get.cfg"
	: >"$T/get.st"
	if [ -s "$T/get.cfg" ]; then
		curl -s -K "$T/get.cfg" -H "$AUTH" --max-time 60 \
		    -w '%{http_code}\n' >"$T/get.st"
	fi
	gets=$(grep -c . "$T/get.st")
	got=$(grep -c '^200$' "$T/get.st")
	{
		echo "ATTACH '$T/ans.db' AS a;"
		ledger_sql
		cat <<EOF
CREATE TEMP TABLE dec AS SELECT seq, decision_id AS id,
    lower(hex(entry_hash)) AS hash FROM entries WHERE kind = 'decision';
CREATE TEMP TABLE g AS SELECT substr(name, length('$T/g/$c/') + 1) AS id,
    CAST(data AS TEXT) AS body FROM fsdir('$T/g/$c') WHERE name != '$T/g/$c';
SELECT 'answered', count(*) FROM a.answered;
SELECT 'missing', count(*) FROM a.answered
    WHERE id NOT IN (SELECT id FROM dec);
SELECT 'receipt_differs', count(*) FROM a.answered n JOIN dec d USING (id)
    WHERE n.seq != d.seq OR n.hash != d.hash;
SELECT 'reserved_differs', count(*) FROM a.answered n WHERE
    (SELECT coalesce(sum(CAST(round(json_extract(value, '\$.reserved'))
    AS INTEGER)), 0) FROM json_each(n.quotas)) !=
    (SELECT coalesce(sum(CAST(round(amount) AS INTEGER)), 0)
    FROM reservations r WHERE r.decision_id = n.id);
SELECT 'get_same', count(*) FROM a.answered n JOIN g USING (id)
    WHERE n.cycle = $c AND json_valid(g.body) AND
    json_extract(g.body, '\$.receipt.seq') = n.seq AND
    json_extract(g.body, '\$.receipt.entry_hash') = n.hash AND
    json_extract(g.body, '\$.decision_id') = n.id;
SELECT 'cycle_answered', count(*) FROM a.answered WHERE cycle = $c;
SELECT 'voids', count(*) FROM a.voids;
SELECT 'voids_missing', count(*) FROM a.voids v WHERE NOT EXISTS
    (SELECT 1 FROM entries e WHERE e.seq = v.seq AND e.kind = 'void' AND
    e.decision_id = v.id AND lower(hex(e.entry_hash)) = v.hash);
SELECT 'bad_logged', count(*) FROM entries WHERE kind = 'decision' AND
    json_extract(request, '\$.reference') LIKE 'BAD-%';
SELECT 'unanswered', count(*) FROM dec
    WHERE id NOT IN (SELECT id FROM a.answered);
EOF
	} | sqlite3 -readonly "$DATA/tiergate.db" >"$T/facts" 2>"$T/facts.err"
	if [ -s "$T/facts.err" ]; then
		not_ok "cycle $c: sqlite3: $(head -n 3 "$T/facts.err")"
		bad_cycles=$((bad_cycles + 1))
		return
	fi
	ca=$(fact "$T/facts" cycle_answered)
	same=$(fact "$T/facts" get_same)
	checked=$(fact "$T/facts" answered)
	bad=0
	if [ "$(fact "$T/facts" missing)" != 0 ] ||
	    [ "$(fact "$T/facts" receipt_differs)" != 0 ] ||
	    [ "$(fact "$T/facts" reserved_differs)" != 0 ]; then
		not_ok "cycle $c: of $checked answered decisions,\
 $(fact "$T/facts" missing) are not in the log,\
 $(fact "$T/facts" receipt_differs) at another seq or entry hash,\
 $(fact "$T/facts" reserved_differs) with other reservations"
		bad=1
	fi
	if [ "$got" != "$ca" ] || [ "$same" != "$ca" ] || [ "$gets" != "$ca" ]
	then
		not_ok "cycle $c: GET /v1/decisions/{id} after the restart:\
 $got of $ca found, $same with the seq and entry_hash answered"
		bad=1
	fi
	if [ "$(fact "$T/facts" voids_missing)" != 0 ]; then
		not_ok "cycle $c: $(fact "$T/facts" voids_missing) of\
 $(fact "$T/facts" voids) answered voids are not in the log"
		bad=1
	fi
	if [ "$(fact "$T/facts" bad_logged)" != 0 ]; then
		not_ok "cycle $c: $(fact "$T/facts" bad_logged) bad requests\
 are in the log"
		bad=1
	fi
	ledger_ok "$T/facts" "cycle $c" || bad=1
	sample=$(fact "$T/ingest" receipt_sample)
	if [ "$sample" != "?" ]; then
		if "$TG" audit verify-receipt --key "$DATA/signing.pub" \
		    "$T/r/$c/$sample" >"$T/vr" 2>&1 </dev/null; then
			receipts=$((receipts + 1))
		else
			not_ok "cycle $c: the receipt of $sample:\
 $(head -c 200 "$T/vr")"
			bad=1
		fi
	fi
	gets_total=$((gets_total + got))
	[ $bad -eq 0 ] || bad_cycles=$((bad_cycles + 1))
}

kills=0
cycle=0
bad_cycles=0
vok=0
receipts=0
gets_total=0
torn=0
refused=0
unexpected=0
: >"$T/voidagain"
if start http; then
	first_port=$PORT
	while [ $cycle -lt "$CYCLES" ]; do
		cycle=$((cycle + 1))
		mkdir "$T/r/$cycle"
		# Void lists: decisions answered before, not voided in the
		# log, that reserved something; a few per client.
		sqlite3 "$T/ans.db" "ATTACH '$DATA/tiergate.db' AS tg;
		    SELECT id FROM answered WHERE id NOT IN
		    (SELECT decision_id FROM tg.entries WHERE kind = 'void')
		    AND quotas LIKE '%\"reserved\":%' AND EXISTS (SELECT 1
		    FROM json_each(quotas) WHERE
		    json_extract(value, '\$.reserved') > 0)
		    ORDER BY random() LIMIT $((CLIENTS * 6))" \
		    >"$T/voidable" 2>/dev/null
		w=1
		while [ $w -le $CLIENTS ]; do
			awk -v w=$w -v n=$CLIENTS 'NR % n == w % n' \
			    "$T/voidable" >"$T/void.$cycle.$w"
			w=$((w + 1))
		done
		rm -f "$T/stop"
		cpids=""
		w=1
		while [ $w -le $CLIENTS ]; do
			client $w $cycle &
			cpids="$cpids $!"
			w=$((w + 1))
		done
		if [ $((cycle % 5)) -eq 3 ]; then
			pause=$(rnd 0 0.06)
		else
			pause=$(rnd 0.05 0.8)
		fi
		sleep "$pause"
		# The shell says "Killed" when it reaps a job killed by
		# a signal: not for the test's output.
		kill -KILL "$DPID" 2>/dev/null
		{ wait "$DPID"; } 2>/dev/null
		rc=$?
		[ $rc -eq 137 ] && kills=$((kills + 1))
		forget "$DPID"
		[ $rc -eq 137 ] || not_ok "cycle $cycle: the daemon was not\
 killed by SIGKILL (exit status $rc)"
		: >"$T/stop"
		for p in $cpids; do
			wait "$p"
		done
		ingest $cycle
		if grep -qv '|' "$T/ingest"; then
			not_ok "cycle $cycle: sqlite3: $(grep -v '|' \
			    "$T/ingest" | head -n 3)"
		fi
		torn=$((torn + $(fact "$T/ingest" torn)))
		refused=$((refused + $(fact "$T/ingest" batch_refused)))
		u=$(fact "$T/ingest" unexpected)
		if [ "$u" != 0 ]; then
			unexpected=$((unexpected + u))
			not_ok "cycle $cycle: $u answers with a status their\
 request should not get:"
			sed -n 's/^-unexpected|/#   /p' "$T/ingest"
		fi
		echo "# cycle $cycle: killed after ${pause}s:\
 $(fact "$T/ingest" requests) requests, $(fact "$T/ingest" answered)\
 decisions and $(fact "$T/ingest" voided) voids answered"
		# One of this cycle's voids, to void again next time (409).
		sqlite3 "$T/ans.db" "SELECT id FROM voids ORDER BY cycle DESC
		    LIMIT 1" >"$T/voidagain.new" 2>/dev/null &&
		    [ -s "$T/voidagain.new" ] &&
		    mv "$T/voidagain.new" "$T/voidagain"
		if ! start http; then
			not_ok "cycle $cycle: the daemon restarts on the\
 crashed data dir"
			break
		fi
		http_check $cycle
	done
	stop_daemon "$DPID"
	check "the last daemon exits 0 on SIGTERM (got $RC)" [ "$RC" -eq 0 ]
	if verify_ok "$DATA" "after the last stop"; then
		ok "audit verify after the last stop: $(grep '^ledger OK' \
		    "$T/verify")"
	fi
else
	not_ok "the daemon starts"
	first_port=-
fi
answered=$(sqlite3 "$T/ans.db" "SELECT count(*) FROM answered")
voids=$(sqlite3 "$T/ans.db" "SELECT count(*) FROM voids")
requests=$(sqlite3 "$T/ans.db" "SELECT sum(n) FROM statuses")
by_status=$(sqlite3 "$T/ans.db" "SELECT group_concat(s, ', ') FROM
    (SELECT status || ': ' || sum(n) AS s FROM statuses GROUP BY status
    ORDER BY status)")
p1_time=$(since "$p1_start")
echo "# phase 1: $kills daemons killed in $cycle cycles (first port\
 $first_port), ${p1_time}s; $requests requests ($by_status; 0: no answer),\
 $torn 201/200 answers cut short; $refused transactions of answered\
 batches refused (422)"
echo "# phase 1: $answered decisions answered, $voids voids answered;\
 every one checked after each later restart; $gets_total fetched by GET;\
 $receipts receipts verified offline; committed but never answered\
 $(fact "$T/facts" unanswered)"
echo "# phase 1 log: $(fact "$T/facts" entries) entries,\
 $(fact "$T/facts" decisions) binding decisions,\
 $(fact "$T/facts" void_entries) voids; $(fact "$T/facts" keys) balances,\
 LPP $(fact "$T/facts" lpp_total) ($(fact "$T/facts" lpp_full) of them\
 within 2,000,000 of the limit), L-KL $(fact "$T/facts" license_used)\
 of $LIC_TPP"
checkx "phase 1: $kills SIGKILLs landed (at least $MINKILLS)" \
    '[ "$kills" -ge $MINKILLS ]'
checkx "phase 1: after each of $cycle restarts the log and the ledger\
 verify, every decision and void answered is in the log as answered\
 ($bad_cycles cycles failed)" \
    '[ $bad_cycles -eq 0 ] && [ $vok -eq $cycle ] && [ "$answered" -gt 0 ]'
checkx "phase 1: voids and refusals were exercised ($voids voids answered)" \
    '[ "$voids" -gt 0 ]'

# ---- phase 2: the batch killed ---------------------------------------------
p2_start=$(date +%s.%N)
awk -v seed="$SEED" -v rows=$ROWS '
# row KIND DEST PARTY NAME PRODUCT QTY NOTE: one row of transaction t.
function row(kind, dest, party, name, product, q, note) {
	printf "%s-%d,%d-07-01,%s,%s,%s,%s,chip,%s,%s,%s\n", kind, t, y,
	    dest, party, name, dest == "XX" ? "IN" : dest, product, q, note
	r++
}
BEGIN {
	srand(seed)
	print "reference,date,destination,consignee_id,consignee_name," \
	    "consignee_country,kind,product,quantity,note"
	while (r < rows) {
		t++
		x = rand()
		c = int(rand() * 8) + 1
		q = int(rand() * 60) + 5
		y = 2025 + int(rand() * 3)
		b = int(rand() * 3)
		p = "nvidia-h100-sxm"
		if (x < 0.02)		# bad: a country, a number, a product
			row("B", b == 0 ? "XX" : "IN", "bad-" t, "Bad",
			    b == 2 ? "no-such-chip" : p, b == 1 ? "many" : 1,
			    "bad")
		else if (x < 0.15)	# two or three rows, one transaction
			for (i = 0; i < b % 2 + 2; i++)
				row("S", "IN", "kl-in-" c, "Consignee " c, p,
				    q, "shared")
		else if (x < 0.25)
			row("D", "DE", "kl-de-" c, "Werk " c, p, q, "aia")
		else if (x < 0.30)
			row("C", "CN", "kl-cn-" c, "Huabei " c, p, q,
			    "denied")
		else
			row("L", "IN", "kl-in-" c, "Consignee " c, p, q,
			    "lpp")
	}
}' >"$T/in.csv"
rows_in=$(($(wc -l <"$T/in.csv") - 1))
"$TG" --data-dir "$T/tmpl" keygen >"$T/keygen" 2>&1 </dev/null ||
    not_ok "keygen: $(cat "$T/keygen")"
cp -R "$T/tmpl" "$T/shared"

# last_seq DATA: the log's last seq (0 when empty).
last_seq() {
	sqlite3 -readonly "$1/tiergate.db" \
	    "SELECT coalesce(max(seq), 0) FROM entries" 2>/dev/null || echo 0
}

# screen_check DATA RUN RC BEFORE: the checks after screen run RUN on DATA
# (exit status RC; the log had BEFORE entries before it).
screen_check() {
	d=$1
	run=$2
	src=$3
	before=$4
	o=$T/out.$run
	if ! verify_ok "$d" "screen run $run"; then
		bad_runs=$((bad_runs + 1))
		return
	fi
	# Only complete lines are rows: a killed run may leave a torn one
	# (or no file at all).
	[ -e "$o" ] || : >"$o"
	if [ -s "$o" ] && [ "$(tail -c 1 "$o" | wc -l)" -eq 0 ]; then
		sed '$d' "$o" >"$o.rows"
		torn_rows=$((torn_rows + 1))
	else
		cp "$o" "$o.rows"
	fi
	{
		[ -s "$o.rows" ] &&
		    echo ".import --csv --schema temp $o.rows out"
		[ -s "$o.rows" ] || echo "CREATE TEMP TABLE out (reference,
		    decision_id, outcome, authorization, error);"
		ledger_sql
		cat <<EOF
CREATE TEMP TABLE ri AS SELECT rowid AS line, decision_id AS id, outcome,
    authorization, row_number() OVER (PARTITION BY decision_id
    ORDER BY rowid) - 1 AS k FROM temp.out WHERE decision_id != '';
CREATE TEMP TABLE mine AS SELECT seq, decision_id AS id, payload FROM entries
    WHERE kind = 'decision' AND seq > $before;
CREATE TEMP TABLE batch AS SELECT * FROM entries
    WHERE kind = 'batch' AND seq > $before;
SELECT 'rows', (SELECT count(*) FROM temp.out);
SELECT 'rows_decided', count(*) FROM ri;
SELECT 'rows_bad', (SELECT count(*) FROM temp.out WHERE error != '');
SELECT 'txns_written', count(DISTINCT id) FROM ri;
SELECT 'rows_missing', count(*) FROM ri WHERE id NOT IN (SELECT id FROM mine);
SELECT 'rows_other', count(*) FROM ri JOIN mine m USING (id) WHERE
    json_extract(m.payload, '\$.items[' || ri.k || '].outcome')
    IS NOT ri.outcome OR coalesce(json_extract(m.payload,
    '\$.items[' || ri.k || '].authorization'), '') != ri.authorization;
SELECT 'committed', count(*) FROM mine;
CREATE TEMP TABLE started AS SELECT * FROM entries
    WHERE kind = 'batch_started' AND seq > $before;
SELECT 'batch_entries', count(*) FROM batch;
SELECT 'started', count(*) FROM started;
SELECT 'started_first', count(*) FROM started WHERE
    seq < coalesce((SELECT min(seq) FROM mine), seq + 1);
SELECT 'batch_ok', count(*) FROM batch WHERE
    json_extract(payload, '\$.rows') = $rows_in AND
    json_extract(payload, '\$.decisions') = (SELECT count(*) FROM mine) AND
    json_extract(payload, '\$.first_seq') = (SELECT min(seq) FROM mine) AND
    json_extract(payload, '\$.last_seq') = (SELECT max(seq) FROM mine) AND
    json_extract(payload, '\$.bad_rows') =
        (SELECT count(*) FROM temp.out WHERE error != '') AND
    json_extract(payload, '\$.complete') = 1 AND
    json_extract(payload, '\$.options.dry_run') = 0 AND
    json_extract(payload, '\$.started_seq') = (SELECT seq FROM started);
SELECT 'bad_logged', count(*) FROM mine WHERE
    json_extract(payload, '\$.reference') LIKE 'B-%';
EOF
	} | sqlite3 -readonly "$d/tiergate.db" >"$T/sfacts" 2>"$T/sfacts.err"
	if [ -s "$T/sfacts.err" ]; then
		not_ok "screen run $run: sqlite3: $(head -n 3 "$T/sfacts.err")"
		bad_runs=$((bad_runs + 1))
		return
	fi
	bad=0
	rd=$(fact "$T/sfacts" rows_decided)
	committed=$(fact "$T/sfacts" committed)
	written=$(fact "$T/sfacts" txns_written)
	rows_checked=$((rows_checked + rd))
	txns_checked=$((txns_checked + written))
	unwritten=$((unwritten + committed - written))
	if [ "$(fact "$T/sfacts" rows_missing)" != 0 ] ||
	    [ "$(fact "$T/sfacts" rows_other)" != 0 ]; then
		not_ok "screen run $run: of $rd rows written with a decision\
 id, $(fact "$T/sfacts" rows_missing) are not decisions of this run in the\
 log, $(fact "$T/sfacts" rows_other) show another outcome or\
 authorization"
		bad=1
	fi
	if [ "$(fact "$T/sfacts" bad_logged)" != 0 ]; then
		not_ok "screen run $run: $(fact "$T/sfacts" bad_logged) bad\
 rows are in the log"
		bad=1
	fi
	ledger_ok "$T/sfacts" "screen run $run" || bad=1
	# Every run that decided anything said first what it was.
	if [ "$committed" -gt 0 ] &&
	    { [ "$(fact "$T/sfacts" started)" != 1 ] ||
	    [ "$(fact "$T/sfacts" started_first)" != 1 ]; }; then
		not_ok "screen run $run: $committed decisions committed after\
 $(fact "$T/sfacts" started) batch_started entries\
 ($(fact "$T/sfacts" started_first) before the first decision; want 1)"
		bad=1
	fi
	if [ "$src" -eq 137 ]; then
		if [ "$(fact "$T/sfacts" batch_entries)" = 0 ] &&
		    [ "$committed" -gt 0 ]; then
			no_batch=$((no_batch + 1))
		fi
	else
		completed=$((completed + 1))
		if [ "$src" -ne 2 ] ||
		    [ "$(fact "$T/sfacts" rows)" != "$rows_in" ] ||
		    [ "$committed" != "$written" ] ||
		    [ "$(fact "$T/sfacts" batch_entries)" != 1 ] ||
		    [ "$(fact "$T/sfacts" batch_ok)" != 1 ]; then
			not_ok "screen run $run (not killed): exit $src (want\
 2: bad rows), $(fact "$T/sfacts" rows) of $rows_in rows written,\
 $written of $committed decisions written,\
 $(fact "$T/sfacts" batch_entries) batch entries\
 ($(fact "$T/sfacts" batch_ok) as expected)"
			sed 's/^/#   stderr: /' "$T/screen.$run.log" | head -n 3
			bad=1
		fi
	fi
	[ $bad -eq 0 ] || bad_runs=$((bad_runs + 1))
}

runs=0
landed=0
bad_runs=0
rows_checked=0
txns_checked=0
unwritten=0
torn_rows=0
no_batch=0
completed=0
generations=1
est=""
while [ $runs -lt $MAXRUNS ] && [ $landed -lt $MINKILLS ]; do
	runs=$((runs + 1))
	# Odd runs on the shared data dir, even ones on a fresh copy.  The
	# shared one starts again from a fresh copy once it holds SHARED_MAX
	# entries, so that audit verify stays quick.
	if [ $((runs % 2)) -eq 1 ]; then
		d=$T/shared
		if [ "$(last_seq "$d")" -gt $SHARED_MAX ]; then
			rm -rf "$d"
			cp -R "$T/tmpl" "$d"
			generations=$((generations + 1))
		fi
	else
		rm -rf "$T/fresh"
		cp -R "$T/tmpl" "$T/fresh"
		d=$T/fresh
	fi
	before=$(last_seq "$d")
	t0=$(date +%s.%N)
	"$TG" --data-dir "$d" screen -o "$T/out.$runs" "$T/in.csv" \
	    >/dev/null 2>"$T/screen.$runs.log" </dev/null &
	spid=$!
	# The first run is not cut: it says how long a run takes.  Later
	# ones are killed after 0 to 1.15 times the quickest uncut run.
	if [ -n "$est" ]; then
		pause=$(rnd 0 "$est")
		sleep "$pause"
		kill -KILL "$spid" 2>/dev/null
	fi
	{ wait "$spid"; } 2>/dev/null
	src=$?
	if [ $src -ne 137 ]; then
		took=$(since "$t0")
		est=$(awk -v t="$took" -v e="${est:-0}" 'BEGIN { t *= 1.15
		    printf "%.2f", e == 0 || t < e ? t : e }')
		[ $runs -eq 1 ] && echo "# screen run 1: $rows_in rows in\
 ${took}s uncut; later runs are killed after 0 to ${est}s or less"
	fi
	[ $src -eq 137 ] && landed=$((landed + 1))
	screen_check "$d" $runs $src "$before"
	rm -f "$T/out.$runs" "$T/out.$runs.rows"
done
p2_time=$(since "$p2_start")
echo "# phase 2: $runs screen runs of $rows_in rows, $landed killed, $completed\
 ran to the end, ${p2_time}s; $rows_checked rows written with a decision id\
 checked against the log ($txns_checked transactions); $unwritten decisions\
 committed but not written before the kill; $torn_rows outputs ended in a\
 torn line"
echo "# phase 2: $no_batch killed runs committed decisions and have no batch\
 entry (it is written at the end of a run); each has its batch_started\
 entry"
echo "# the shared data dir was started $generations times; it ends with\
 $(last_seq "$T/shared") entries"
checkx "phase 2: $landed SIGKILLs landed on screen (at least $MINKILLS)" \
    '[ $landed -ge $MINKILLS ]'
checkx "phase 2: after each of $runs runs the log and the ledger verify,\
 every row written with a decision id is in the log as written, and every\
 run that ended logged its batch ($bad_runs runs failed)" \
    '[ $bad_runs -eq 0 ] && [ $rows_checked -gt 0 ] && [ $completed -gt 0 ]'

# ---- phase 3: first use killed ---------------------------------------------
# The first use of a data dir writes signing.key, then signing.pub, then
# commits the key to the database: a kill in between must not leave a data
# dir without its public key (it did: daemon/store/audit.c, init_log).
p3_start=$(date +%s.%N)
QF=etc/examples/aia-h100-de.json
fu=0
fu_landed=0
fu_bad=0
fu_logged=0
fest=""
while [ $fu -lt $FIRSTUSE ]; do
	fu=$((fu + 1))
	d=$T/first.$fu
	t0=$(date +%s.%N)
	"$TG" --data-dir "$d" check "$QF" >"$T/first.out" 2>/dev/null \
	    </dev/null &
	fpid=$!
	if [ -n "$fest" ]; then
		sleep "$(rnd 0 "$fest")"
		kill -KILL "$fpid" 2>/dev/null
	fi
	{ wait "$fpid"; } 2>/dev/null
	frc=$?
	if [ -z "$fest" ]; then
		fest=$(awk -v a="$t0" -v b="$(date +%s.%N)" \
		    'BEGIN { printf "%.3f", b - a }')
	fi
	[ $frc -eq 137 ] && fu_landed=$((fu_landed + 1))
	# The next use, to the end.
	"$TG" --data-dir "$d" check "$QF" >"$T/next.out" 2>"$T/next.err" \
	    </dev/null
	nrc=$?
	"$TG" --data-dir "$d" audit verify >"$T/verify" 2>&1 </dev/null
	vrc=$?
	why=""
	[ $nrc -le 1 ] || why="$why; the next check exited $nrc:\
 $(head -c 200 "$T/next.err")"
	[ $vrc -eq 0 ] || why="$why; audit verify exited $vrc"
	grep -q "anchored at the data dir's signing.pub" "$T/verify" ||
	    why="$why; not anchored at signing.pub: $(grep '^audit log' \
	    "$T/verify" | cut -c 1-200)"
	"$TG" audit verify-receipt --key "$d/signing.pub" "$T/next.out" \
	    >/dev/null 2>&1 </dev/null || why="$why; the next decision's\
 receipt does not verify with signing.pub"
	for f in "$d"/*.tmp; do
		[ -e "$f" ] && why="$why; ${f##*/} left behind"
	done
	# A decision the killed check printed whole is in the log.
	id=$(sed -n 's/^  "decision_id": "\(.*\)",$/\1/p' "$T/first.out")
	if [ -n "$id" ] && [ "$(tail -n 1 "$T/first.out")" = "}" ]; then
		fu_logged=$((fu_logged + 1))
		[ "$(sqlite3 -readonly "$d/tiergate.db" "SELECT count(*)
		    FROM entries WHERE decision_id = '$id'")" = 1 ] ||
		    why="$why; its answered decision is not in the log"
	fi
	if [ -n "$why" ]; then
		fu_bad=$((fu_bad + 1))
		not_ok "first use $fu (killed: exit $frc)${why}"
	fi
	rm -rf "$d"
done
echo "# phase 3: $fu first uses of a data dir, $fu_landed killed (after 0 to\
 ${fest}s), $fu_logged answered before; $(since "$p3_start")s"
checkx "phase 3: after each killed first use, the next use works, and the\
 log verifies anchored at a signing.pub that verifies its receipts\
 ($fu_bad failed)" '[ $fu_bad -eq 0 ] && [ $fu_landed -gt 0 ]'

echo "# total: $((kills + landed + fu_landed)) SIGKILLs in\
 $(since "$t_start")s"
finish
