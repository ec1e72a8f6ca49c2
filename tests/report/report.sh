#!/bin/sh
# report.sh TIERGATE: black-box tests of the compliance report (issue 7):
# `tiergate audit report` and GET /v1/reports/summary.
#
# Builds a log of about 330 decisions with `tiergate check` on generated
# queries: chips (H100, H20, L4, RTX 4090, MI300X, A100) to IN, DE, CN,
# MY, BR and VN, model weights, and training services that raise red flags
# (holds); binding and dry runs; dates through 2025 and a few in 2026
# (outside the period); a registered license cited by some lines; a few
# voids; holds released and rejected with `tiergate holds resolve`; a
# consignee name and a resolution reason full of HTML, and a reason that a
# spreadsheet would run as a formula.  Then:
#
#  - the JSON figures (totals, by outcome, destination, tier,
#    authorization, ECCN, holds by status, resolutions by officer, LPP use
#    per consignee, license use) equal the same figures computed here from
#    the entries and reservations tables with the sqlite3 shell, for the
#    whole of 2025 and for one quarter;
#  - the CSV has the same figures, and every number cell of the HTML
#    (data-f="section,key,field" data-v) is a line of the CSV, its visible
#    text the same number;
#  - a released hold appears with its officer and reason in all three; the
#    HTML escapes what the queries and officers wrote; the CSV defuses a
#    formula; voided decisions are counted apart;
#  - the daemon's GET /v1/reports/summary gives the same JSON (but for the
#    time it was generated), CSV and HTML with their content types; 401
#    without a token, 403 for a screen token, 400 for bad arguments;
#  - usage errors exit 2; a report of a tampered log exits 1 and says so.
#
# `sh report.sh TIERGATE --log-only DIR` only builds the log in DIR (for
# browser.sh).  Ends with "N passed, N failed"; exits 1 if any failed.
set -u

[ $# -eq 1 ] || [ $# -eq 3 ] ||
    { echo "usage: sh tests/report/report.sh TIERGATE [--log-only DIR]" >&2;
    exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "report: no binary '$TG'" >&2; exit 2; }
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "report: the sqlite3 command is missing (packaging/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

T=$(mktemp -d) || exit 2
D=$T/data
SERVE_PID=
cleanup() {
	[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
}
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1: '$2', want '$3'"
	fi
}

# ---- the log ---------------------------------------------------------------

HOSTILE='Acme <script>alert(1)</script> & "Sons" Pvt Ltd'
OFFICER='Dana Officer'
REASON='end use verified: <b>inference only</b> & "no weights" leave'
FORMULA="=HYPERLINK(\"http://x.invalid\",\"click\")"

# One line per decision: n date dest kind product qty consignee dry license
gen() {
	awk 'BEGIN {
		split("31 28 31 30 31 30 31 31 30 31 30 31", ml, " ")
		nd = split("IN IN DE CN MY BR VN IN DE CN MY BR", dests, " ")
		np = split("nvidia-h100-sxm nvidia-h100-sxm nvidia-h20 " \
		    "nvidia-l4 nvidia-rtx-4090 amd-mi300x nvidia-a100", prods, " ")
		seed = 12345
		n = 330
		for (i = 1; i <= n; i++) {
			seed = (seed * 1103515245 + 12345) % 2147483648
			r = int(seed / 65536)
			if (i <= 318) {
				# 2025-02-03 onwards, about one a day.
				doy = 34 + int((i - 1) * 325 / 318)
				y = 2025
			} else {
				doy = 5 + (i - 319) * 2
				y = 2026
			}
			m = 1
			while (doy > ml[m]) { doy -= ml[m]; m++ }
			date = sprintf("%04d-%02d-%02d", y, m, doy)
			dest = dests[1 + r % nd]
			k = int(r / 7) % 100
			kind = "chip"
			if (k < 9 && dest != "DE" && dest != "CN")
				kind = "compute_service"
			else if (k < 14)
				kind = "model_weights"
			prod = prods[1 + int(r / 11) % np]
			qty = 5 + int(r / 13) % 380
			# Indian consignees use up LPP: the license, then
			# "would exceed".
			if (dest == "IN")
				qty = qty * 3
			cons = tolower(dest) "-" (1 + int(r / 17) % 3)
			dry = (int(r / 19) % 5 == 0) ? "true" : "false"
			lic = (dest == "IN" && int(r / 23) % 3 == 0) ? "L-IN-1" : "-"
			printf "%d %s %s %s %s %d %s %s %s\n", i, date, dest, kind,
			    prod, qty, cons, dry, lic
		}
	}'
}

# query N DATE DEST KIND PRODUCT QTY CONSIGNEE DRY LICENSE > FILE
query() {
	name="Consignee $7"
	[ "$7" = in-1 ] && name=$HOSTILE
	case $4 in
	chip)
		lic=
		[ "$9" != - ] && lic=", \"license\": \"$9\""
		item="{\"kind\": \"chip\", \"product\": \"$5\", \"quantity\": $6$lic}"
		;;
	compute_service)
		item='{"kind": "compute_service", "purpose": "training",'
		item="$item \"training_operations\": 2e26, \"location\": \"US\"}"
		;;
	*)
		item='{"kind": "model_weights", "training_operations": 3e26,'
		item="$item \"published\": false}"
		;;
	esac
	# The JSON encoder of a shell: escape the hostile name's quotes.
	name=$(printf '%s' "$name" | sed 's/"/\\"/g')
	cat <<EOF
{"reference": "R-$1", "date": "$2", "destination": "$3", "dry_run": $8,
 "consignee": {"id": "$7", "name": "$name", "country": "$3",
  "headquarters": "$3"}, "items": [$item]}
EOF
}

build_log() {
	"$TG" --data-dir "$1" license add --number L-IN-1 --country IN \
	    --tpp 60000000 --valid-until 2026-06-30 >/dev/null 2>&1 || return 1
	gen >"$T/plan"
	while read -r n date dest kind prod qty cons dry lic; do
		query "$n" "$date" "$dest" "$kind" "$prod" "$qty" "$cons" \
		    "$dry" "$lic" >"$T/q.json"
		"$TG" --data-dir "$1" check "$T/q.json" >/dev/null 2>"$T/err"
		[ $? -le 1 ] || { cat "$T/err" >&2; return 1; }
	done <"$T/plan"
	db=$1/tiergate.db
	# Voids: a few binding decisions of 2025, one of them refused.
	sqlite3 "$db" "SELECT decision_id FROM entries WHERE kind = 'decision'
	    AND json_extract(payload, '\$.dry_run') = 0 AND
	    json_extract(payload, '\$.date') < '2026' AND
	    json_extract(payload, '\$.outcome') IN ('authorized',
	    'license_required') AND seq % 29 = 0" >"$T/voids"
	while read -r id; do
		"$TG" --data-dir "$1" decisions void "$id" --reason \
		    "entered twice" --officer "Lee Clerk" >/dev/null || return 1
	done <"$T/voids"
	sqlite3 "$db" "SELECT decision_id FROM entries WHERE kind = 'decision'
	    AND json_extract(payload, '\$.outcome') = 'hold' AND
	    json_extract(payload, '\$.date') < '2026' ORDER BY seq" >"$T/holds"
	i=0
	while read -r id; do
		i=$((i + 1))
		case $i in
		1 | 2 | 3) set -- "$1" --release "$REASON" "$OFFICER" ;;
		4) set -- "$1" --reject "no end-use statement" "Ray Officer" ;;
		5) set -- "$1" --reject "$FORMULA" "Ray Officer" ;;
		*) continue ;;
		esac
		"$TG" --data-dir "$1" holds resolve "$id" "$2" --reason "$3" \
		    --officer "$4" >/dev/null || return 1
		set -- "$1"
	done <"$T/holds"
	return 0
}

if [ $# -eq 3 ]; then
	[ "$2" = --log-only ] || exit 2
	build_log "$3" || exit 1
	exit 0
fi

start=$(date +%s)
if build_log "$D"; then
	ok "built a log of $(sqlite3 "$D/tiergate.db" "SELECT count(*) FROM
	    entries WHERE kind = 'decision'") decisions in $(($(date +%s) -
	    start)) s"
else
	not_ok "building the log"
	echo "$pass passed, $fail failed"
	exit 1
fi
DB=$D/tiergate.db

# ---- figures computed from the log ------------------------------------------

# expected FROM TO: "name value" lines from the entries and reservations.
expected() {
	sqlite3 -separator ' ' "$DB" "
	WITH v AS (SELECT decision_id FROM entries WHERE kind = 'void'),
	d AS (SELECT decision_id, payload FROM entries WHERE kind = 'decision'
	    AND json_extract(payload, '\$.date') BETWEEN '$1' AND '$2'
	    AND decision_id NOT IN v),
	it AS (SELECT json_extract(i.value, '\$.outcome') AS o,
	    json_extract(i.value, '\$.authorization') AS a,
	    json_extract(i.value, '\$.eccn') AS e FROM d, json_each(d.payload,
	    '\$.items') i),
	h AS (SELECT d.decision_id, r.payload AS rp FROM d LEFT JOIN entries r
	    ON r.kind = 'hold_resolution' AND r.decision_id = d.decision_id
	    WHERE json_extract(d.payload, '\$.outcome') = 'hold')
	SELECT 'total.decisions', count(*) FROM d
	UNION ALL SELECT 'total.dry_run', count(*) FROM d
	    WHERE json_extract(payload, '\$.dry_run')
	UNION ALL SELECT 'total.binding', count(*) FROM d
	    WHERE NOT json_extract(payload, '\$.dry_run')
	UNION ALL SELECT 'total.items', count(*) FROM it
	UNION ALL SELECT 'total.voided', count(*) FROM entries WHERE
	    kind = 'decision' AND json_extract(payload, '\$.date') BETWEEN
	    '$1' AND '$2' AND decision_id IN v
	UNION ALL SELECT * FROM (SELECT 'outcome.' || json_extract(payload,
	    '\$.outcome'), count(*) FROM d GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'dest.' || json_extract(payload,
	    '\$.destination.country'), count(*) FROM d GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'tier.' || json_extract(payload,
	    '\$.destination.tier'), count(*) FROM d GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'auth.' || coalesce(a, CASE WHEN
	    o = 'no_license_required' THEN 'NLR' ELSE 'none' END), count(*)
	    FROM it GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'eccn.' || coalesce(e, 'none'),
	    count(*) FROM it GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'held.' || CASE WHEN rp IS NULL THEN
	    'open' WHEN json_extract(rp, '\$.resolution') = 'release' THEN
	    'released' ELSE 'rejected' END, count(*) FROM h GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'officer.' || json_extract(rp,
	    '\$.officer'), count(*) FROM h WHERE rp IS NOT NULL GROUP BY 1)
	UNION ALL SELECT * FROM (SELECT 'lpp.' || key || '/' || period,
	    printf('%.0f', sum(amount)) FROM reservations WHERE quota = 'lpp'
	    AND void_seq IS NULL AND substr(period, 1, 4) BETWEEN
	    substr('$1', 1, 4) AND substr('$2', 1, 4) GROUP BY key, period)
	UNION ALL SELECT * FROM (SELECT 'license.' || number, printf('%.0f',
	    coalesce((SELECT sum(amount) FROM reservations WHERE
	    quota = 'license_tpp' AND key = number AND void_seq IS NULL), 0))
	    FROM licenses)
	" | awk '$NF != 0' | sort
}

# from_json FILE: the same lines from a JSON report.
from_json() {
	sqlite3 -separator ' ' :memory: "
	WITH r AS (SELECT readfile('$1') AS j)
	SELECT 'total.' || key, value FROM r, json_each(j, '\$.totals')
	    WHERE key IN ('decisions', 'dry_run', 'binding', 'items', 'voided')
	UNION ALL SELECT 'outcome.' || json_extract(value, '\$.outcome'),
	    json_extract(value, '\$.decisions') FROM r, json_each(j,
	    '\$.by_outcome')
	UNION ALL SELECT 'dest.' || json_extract(value, '\$.country'),
	    json_extract(value, '\$.decisions') FROM r, json_each(j,
	    '\$.by_destination')
	UNION ALL SELECT 'tier.' || json_extract(value, '\$.tier'),
	    json_extract(value, '\$.decisions') FROM r, json_each(j,
	    '\$.by_tier')
	UNION ALL SELECT 'auth.' || json_extract(value, '\$.authorization'),
	    json_extract(value, '\$.items') FROM r, json_each(j,
	    '\$.by_authorization')
	UNION ALL SELECT 'eccn.' || json_extract(value, '\$.eccn'),
	    json_extract(value, '\$.items') FROM r, json_each(j, '\$.by_eccn')
	UNION ALL SELECT 'held.open', json_extract(j, '\$.totals.held_open')
	    FROM r
	UNION ALL SELECT 'held.released', json_extract(j,
	    '\$.totals.held_released') FROM r
	UNION ALL SELECT 'held.rejected', json_extract(j,
	    '\$.totals.held_rejected') FROM r
	UNION ALL SELECT 'officer.' || json_extract(value, '\$.officer'),
	    json_extract(value, '\$.resolutions') FROM r, json_each(j,
	    '\$.resolutions_by_officer')
	UNION ALL SELECT 'lpp.' || json_extract(value, '\$.consignee') || '/'
	    || json_extract(value, '\$.period'), printf('%.0f',
	    json_extract(value, '\$.used')) FROM r, json_each(j, '\$.lpp')
	UNION ALL SELECT 'license.' || json_extract(value, '\$.number'),
	    printf('%.0f', json_extract(value, '\$.tpp_used')) FROM r,
	    json_each(j, '\$.licenses')
	" | awk '$NF != 0' | sort
}

# from_csv FILE: the same lines from a CSV report (keys without commas).
from_csv() {
	awk -F, '
	$1 == "totals" && ($3 == "decisions" || $3 == "dry_run" ||
	    $3 == "binding" || $3 == "items" || $3 == "voided") {
		print "total." $3, $4 }
	$1 == "totals" && $3 ~ /^held_(open|released|rejected)$/ {
		s = $3; sub(/^held_/, "", s); print "held." s, $4 }
	$1 == "by_outcome" && $3 == "decisions" { print "outcome." $2, $4 }
	$1 == "by_destination" && $3 == "decisions" { print "dest." $2, $4 }
	$1 == "by_tier" && $3 == "decisions" { print "tier." $2, $4 }
	$1 == "by_authorization" && $3 == "items" { print "auth." $2, $4 }
	$1 == "by_eccn" && $3 == "items" { print "eccn." $2, $4 }
	$1 == "resolutions_by_officer" && $3 == "resolutions" {
		print "officer." $2, $4 }
	$1 == "lpp" && $3 == "used" { k = $2; sub(/^lpp\//, "", k)
		printf "lpp.%s %.0f\n", k, $4 }
	$1 == "licenses" && $3 == "tpp_used" {
		printf "license.%s %.0f\n", $2, $4 }
	' "$1" | awk '$NF != 0' | sort
}

# report FILE FROM TO FORMAT: `audit report` into FILE; leaves $rc.
report() {
	"$TG" --data-dir "$D" audit report --from "$2" --to "$3" \
	    --format "$4" -o "$1" 2>"$T/err"
	rc=$?
}

# same NAME A B: two figure lists agree.
same() {
	if diff "$2" "$3" >"$T/diff"; then
		ok "$1 ($(wc -l <"$2") figures)"
	else
		not_ok "$1"
		sed 's/^/#   /' "$T/diff" | head -n 20
	fi
}

for period in 2025-01-01:2025-12-31 2025-07-01:2025-09-30; do
	from=${period%%:*}
	to=${period#*:}
	report "$T/r.json" "$from" "$to" json
	is "audit report --format json $from..$to: exit 0" "$rc" 0
	report "$T/r.csv" "$from" "$to" csv
	is "audit report --format csv $from..$to: exit 0" "$rc" 0
	report "$T/r.html" "$from" "$to" html
	is "audit report --format html $from..$to: exit 0" "$rc" 0
	expected "$from" "$to" >"$T/want"
	cp "$T/want" "$T/want.$from"
	from_json "$T/r.json" >"$T/json.fig"
	from_csv "$T/r.csv" >"$T/csv.fig"
	same "$from..$to: JSON figures = the log's" "$T/want" "$T/json.fig"
	same "$from..$to: CSV figures = the log's" "$T/want" "$T/csv.fig"

	# Every number cell of the HTML is a line of the CSV.
	grep -o 'data-f="[^"]*" data-v="[^"]*"' "$T/r.html" |
	    sed 's/^data-f="\([^"]*\)" data-v="\([^"]*\)"$/\1,\2/' \
	    >"$T/html.cells"
	missing=0
	while read -r line; do
		grep -qxF -- "$line" "$T/r.csv" || missing=$((missing + 1))
	done <"$T/html.cells"
	n=$(wc -l <"$T/html.cells")
	if [ "$n" -gt 50 ] && [ "$missing" -eq 0 ]; then
		ok "$from..$to: all $n HTML number cells are CSV lines"
	else
		not_ok "$from..$to: $missing of $n HTML number cells not in the CSV"
	fi
	# ... and show the number they carry.
	bad=$(grep -o 'data-v="-\{0,1\}[0-9][0-9]*">[^<]*<' "$T/r.html" |
	    sed 's/^data-v="\([^"]*\)">\([^<]*\)<$/\1 \2/' |
	    awk '{ t = $2; gsub(/,/, "", t); if (t != $1) n++ }
	    END { print n + 0 }')
	is "$from..$to: HTML cells show their data-v" "$bad" 0
done

# The whole year again, for the checks below.
report "$T/r.json" 2025-01-01 2025-12-31 json
report "$T/r.csv" 2025-01-01 2025-12-31 csv
report "$T/r.html" 2025-01-01 2025-12-31 html
J=$T/r.json
jq1() {
	sqlite3 :memory: "SELECT $1 FROM (SELECT readfile('$J') AS j)" \
	    2>/dev/null
}

# ---- content ------------------------------------------------------------------

is "every outcome is in the log" "$(jq1 "(SELECT count(*) FROM
    json_each(j, '\$.by_outcome') WHERE json_extract(value,
    '\$.decisions') > 0)")" 4
is "six destinations" "$(jq1 "json_extract(j, '\$.totals.destinations')")" 6
rel=$(jq1 "(SELECT json_extract(value, '\$.decision_id') FROM
    json_each(j, '\$.held') WHERE json_extract(value, '\$.status') =
    'released' LIMIT 1)")
if [ -n "$rel" ]; then
	ok "a released hold is listed ($rel)"
else
	not_ok "no released hold in the report"
fi
is "the released hold names its officer" "$(jq1 "(SELECT json_extract(
    value, '\$.resolution.officer') FROM json_each(j, '\$.held') WHERE
    json_extract(value, '\$.decision_id') = '$rel')")" "$OFFICER"
is "... and its reason" "$(jq1 "(SELECT json_extract(value,
    '\$.resolution.reason') FROM json_each(j, '\$.held') WHERE
    json_extract(value, '\$.decision_id') = '$rel')")" "$REASON"
is "... and its red flag's citation" "$(jq1 "(SELECT json_extract(value,
    '\$.red_flags[0].citation') FROM json_each(j, '\$.held') WHERE
    json_extract(value, '\$.decision_id') = '$rel')")" \
    "15 CFR 732 Supp. No. 3, red flag 28 (90 FR 4544)"
if grep -qxF "held,$rel,resolution.officer,$OFFICER" "$T/r.csv" &&
    grep -qF "held,$rel,resolution.reason,\"end use verified" "$T/r.csv"
then
	ok "the CSV has the released hold's officer and reason"
else
	not_ok "the CSV lacks the released hold's officer or reason"
fi
esc_reason='end use verified: &lt;b&gt;inference only&lt;/b&gt; &amp;'
esc_reason="$esc_reason &quot;no weights&quot; leave"
if grep -qF "$esc_reason" "$T/r.html" && grep -qF "$OFFICER" "$T/r.html"
then
	ok "the HTML has the released hold's officer and reason, escaped"
else
	not_ok "the HTML lacks the released hold's officer or reason"
fi
if grep -q '<script' "$T/r.html"; then
	not_ok "the HTML contains a <script>"
elif grep -qF 'Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp;' "$T/r.html"
then
	ok "the hostile consignee name is escaped, and no <script> anywhere"
else
	not_ok "the hostile consignee name is not in the HTML"
fi
if grep -qiE '(src|href)=|@import|url\(' "$T/r.html"; then
	not_ok "the HTML refers to an external resource"
else
	ok "the HTML is self-contained (no src, href, @import or url())"
fi
if grep -qF "resolution.reason,\"'=HYPERLINK(" "$T/r.csv"; then
	ok "the CSV defuses a formula in a reason"
else
	not_ok "the CSV writes a formula as is"
fi
is "lists are complete" "$(jq1 "json_extract(j,
    '\$.report.lists_truncated')")" 0
is "license-required list = the total" "$(jq1 "json_array_length(j,
    '\$.license_required')")" "$(jq1 "json_extract(j,
    '\$.totals.license_required')")"
is "every listed license-required decision has a cited reason" \
    "$(jq1 "(SELECT count(*) FROM json_each(j, '\$.license_required') d
    WHERE (SELECT count(*) FROM json_each(d.value, '\$.items') i,
    json_each(i.value, '\$.reasons') r WHERE json_extract(r.value,
    '\$.citation') IS NOT NULL) = 0)")" 0
is "voided decisions: listed apart, none counted elsewhere" \
    "$(jq1 "json_array_length(j, '\$.voided')")/$(jq1 "(SELECT count(*)
    FROM json_each(j, '\$.held') h, json_each(j, '\$.voided') v WHERE
    json_extract(h.value, '\$.decision_id') = json_extract(v.value,
    '\$.decision_id'))")" "$(wc -l <"$T/voids" | tr -d ' ')/0"
is "outcomes add up to the decisions" "$(jq1 "(SELECT sum(json_extract(
    value, '\$.decisions')) FROM json_each(j, '\$.by_outcome'))")" \
    "$(jq1 "json_extract(j, '\$.totals.decisions')")"
is "the timeline adds up to the decisions" "$(jq1 "(SELECT sum(
    json_extract(value, '\$.decisions')) FROM json_each(j,
    '\$.timeline'))")" "$(jq1 "json_extract(j, '\$.totals.decisions')")"
is "the timeline is weekly, from a Monday" "$(jq1 "json_extract(j,
    '\$.report.timeline') || '/' || strftime('%w', json_extract(j,
    '\$.timeline[0].start'))")" week/1
is "LPP: what 2025's decisions reserved is the 2025 balance" \
    "$(jq1 "(SELECT count(*) FROM json_each(j, '\$.lpp') WHERE
    json_extract(value, '\$.used') != json_extract(value,
    '\$.reserved_in_period'))")" 0
is "LPP rows carry the limit" "$(jq1 "(SELECT group_concat(DISTINCT
    json_extract(value, '\$.limit')) FROM json_each(j, '\$.lpp'))")" \
    26900000
is "allocation rows are Tier 2 countries" "$(jq1 "(SELECT group_concat(
    json_extract(value, '\$.country'), ' ') FROM (SELECT value FROM
    json_each(j, '\$.allocation') ORDER BY json_extract(value,
    '\$.country')))")" "BR IN MY VN"
is "the pack in force, with its legal status" "$(jq1 "json_extract(j,
    '\$.packs[0].pack') || ' ' || json_extract(j, '\$.packs[0].version') ||
    ' ' || (json_extract(j, '\$.packs[0].status') LIKE
    'Interim final rule%')")" "ai-diffusion-2025 2025.1.0 1"
is "the pack's status warnings are listed" "$(jq1 "(SELECT count(*) FROM
    json_each(j, '\$.packs[0].warnings') WHERE json_extract(value,
    '\$.kind') = 'legal' AND json_extract(value, '\$.text') LIKE
    'BIS announced on 2025-05-13%')")" 1
is "integrity: log and ledger verified" "$(jq1 "json_extract(j,
    '\$.integrity.ok') || json_extract(j, '\$.integrity.log') ||
    json_extract(j, '\$.integrity.ledger')")" 1okok
is "integrity: the checkpoint covers the log" "$(jq1 "json_extract(j,
    '\$.integrity.checkpoint_size') || '/' || json_extract(j,
    '\$.integrity.checkpoint_root')")" \
    "$(sqlite3 "$DB" "SELECT count(*) FROM entries")/$(jq1 "json_extract(j,
    '\$.integrity.root')")"
is "integrity: the key fingerprint" "$(jq1 "json_extract(j,
    '\$.integrity.key_id')")" "$(sqlite3 "$DB" "SELECT key_id FROM keys
    ORDER BY first_seq DESC LIMIT 1")"

# ---- usage ---------------------------------------------------------------------

usage() {
	"$TG" --data-dir "$D" audit report "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 2 ] && ! [ -s "$T/out" ] && [ -s "$T/err" ]; then
		ok "audit report $*: exit 2 with a message"
	else
		not_ok "audit report $*: exit $rc"
	fi
}
usage --from 2025-01-01
usage --from 2025-13-01 --to 2025-12-31
usage --from 2025-12-31 --to 2025-01-01
usage --from 2025-01-01 --to 2025-12-31 --format pdf
usage --from 2025-01-01 --to 2025-12-31 extra
"$TG" --data-dir "$D" audit report --from 2025-01-01 --to 2025-12-31 \
    -o "$T/by-name.csv" 2>"$T/err"
if head -n 1 "$T/by-name.csv" | grep -qx 'section,key,field,value'; then
	ok "-o FILE.csv writes CSV"
else
	not_ok "-o FILE.csv: $(head -n 1 "$T/by-name.csv")"
fi

# ---- the daemon --------------------------------------------------------------

AUDIT=$("$TG" --data-dir "$D" token create --role audit --name rep \
    2>/dev/null)
SCREEN=$("$TG" --data-dir "$D" token create --role screen --name scr \
    2>/dev/null)
"$TG" --data-dir "$D" serve --listen 127.0.0.1:0 2>"$T/serve.err" &
SERVE_PID=$!
PORT=
i=0
while [ $i -lt 100 ] && [ -z "$PORT" ]; do
	PORT=$(sed -n 's/^tiergate: ready on port \([0-9]*\)$/\1/p' \
	    "$T/serve.err")
	[ -z "$PORT" ] && sleep 0.1
	i=$((i + 1))
done
if [ -z "$PORT" ] || ! command -v curl >/dev/null 2>&1; then
	not_ok "the daemon did not start (or curl is missing)"
else
	U="http://127.0.0.1:$PORT/v1/reports/summary"
	# The daemon logged its rules load: make the CLI report now.
	report "$T/cli.json" 2025-01-01 2025-12-31 json
	code=$(curl -s -o "$T/http.json" -w '%{http_code} %{content_type}' \
	    -H "Authorization: Bearer $AUDIT" "$U?from=2025-01-01&to=2025-12-31")
	is "GET /v1/reports/summary: 200, JSON" "$code" "200 application/json"
	is "... the same JSON as audit report (but its time)" \
	    "$(sqlite3 :memory: "SELECT json_remove(readfile('$T/cli.json'),
	    '\$.report.generated') = json_remove(readfile('$T/http.json'),
	    '\$.report.generated')")" 1
	is "... made after the daemon's rules load" "$(sqlite3 :memory: "SELECT
	    json_extract(readfile('$T/http.json'), '\$.packs[0].loads')")" 1
	code=$(curl -s -o "$T/http.csv" -w '%{http_code} %{content_type}' \
	    -H "Authorization: Bearer $AUDIT" \
	    "$U?from=2025-01-01&to=2025-12-31&format=csv")
	is "format=csv: 200, text/csv" "${code%%;*}" "200 text/csv"
	from_csv "$T/http.csv" >"$T/http.fig"
	same "format=csv: the figures of the log" "$T/want.2025-01-01" \
	    "$T/http.fig"
	code=$(curl -s -o "$T/http.html" -w '%{http_code} %{content_type}' \
	    -H "Authorization: Bearer $AUDIT" \
	    "$U?from=2025-01-01&to=2025-12-31&format=html")
	is "format=html: 200, text/html" "${code%%;*}" "200 text/html"
	if grep -qF "$esc_reason" "$T/http.html"; then
		ok "format=html: the released hold's reason"
	else
		not_ok "format=html: no released hold's reason"
	fi
	# Reports run on threads of their own, a few at a time: the rest
	# are told to retry.
	pids=
	for i in 1 2 3 4; do
		curl -s -o /dev/null -w '%{http_code}\n' -H \
		    "Authorization: Bearer $AUDIT" \
		    "$U?from=2025-01-01&to=2025-12-31&format=html" \
		    >"$T/par.$i" &
		pids="$pids $!"
	done
	# Not a bare wait: the daemon is a child too.
	for p in $pids; do
		wait "$p"
	done
	codes=$(cat "$T/par.1" "$T/par.2" "$T/par.3" "$T/par.4" | sort |
	    uniq -c | awk '{ printf "%s%sx%s", s, $1, $2; s = " " }')
	case " $codes " in
	*x200\ *)
		if cat "$T/par.1" "$T/par.2" "$T/par.3" "$T/par.4" |
		    grep -qvE '^(200|503)$'; then
			not_ok "four reports at once: $codes"
		else
			ok "four reports at once: $codes (200 or 503)"
		fi
		;;
	*)
		not_ok "four reports at once: $codes"
		;;
	esac
	is "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' \
	    "$U?from=2025-01-01&to=2025-12-31")" 401
	is "a screen token: 403" "$(curl -s -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $SCREEN" \
	    "$U?from=2025-01-01&to=2025-12-31")" 403
	for q in "from=2025-01-01" "from=2025-02-30&to=2025-12-31" \
	    "from=2025-12-31&to=2025-01-01" \
	    "from=2025-01-01&to=2025-12-31&format=pdf"; do
		is "GET ?$q: 400" "$(curl -s -o /dev/null -w '%{http_code}' \
		    -H "Authorization: Bearer $AUDIT" "$U?$q")" 400
	done
fi
if [ -n "$SERVE_PID" ]; then
	kill "$SERVE_PID" 2>/dev/null
	wait "$SERVE_PID" 2>/dev/null
	SERVE_PID=
	# Under SANITIZE=address,undefined the daemon reports on its stderr.
	if grep -qE 'ERROR: [A-Za-z]+Sanitizer|runtime error:' \
	    "$T/serve.err"; then
		not_ok "the daemon's sanitizer report"
		grep -E -A 12 'ERROR: [A-Za-z]+Sanitizer|runtime error:' \
		    "$T/serve.err" | sed 's/^/#   /' | head -n 30
	else
		ok "the daemon stopped cleanly (no sanitizer report)"
	fi
fi

# ---- a damaged log -------------------------------------------------------------

cp -a "$D" "$T/tampered"
sqlite3 "$T/tampered/tiergate.db" "UPDATE entries SET payload =
    replace(payload, '\"outcome\":\"license_required\"',
    '\"outcome\":\"authorized\"') WHERE seq = (SELECT min(seq) FROM entries
    WHERE kind = 'decision' AND json_extract(payload, '\$.outcome') =
    'license_required')"
"$TG" --data-dir "$T/tampered" audit report --from 2025-01-01 \
    --to 2025-12-31 --format html -o "$T/tampered.html" 2>"$T/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'LOG OR LEDGER DAMAGED' "$T/tampered.html" &&
    grep -q 'verification' "$T/err"; then
	ok "a report of a tampered log: exit 1, and the page says DAMAGED"
else
	not_ok "a report of a tampered log: exit $rc"
fi

echo "# $(($(date +%s) - start)) s"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
