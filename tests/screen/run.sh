#!/bin/sh
# run.sh TIERGATE: black-box tests of `tiergate screen` (contract.md
# sections 4 and 5, issue 6).
#
# Golden files: each cases/NAME.csv or cases/NAME.jsonl is screened and its
# output compared with cases/NAME.out, after decision ids are replaced by
# "ID" (and, for JSON Lines, each decision is cut down to its reference,
# outcome, dry_run and receipt seq, since the full decision repeats rule
# texts that change with the rules).  The other tests check what a golden
# file cannot: exit statuses, --strict, stdin, -o, the ledger after binding
# and dry runs, the batch entry in the audit log, the limits, and the run
# going on after a reader goes away.  Every test uses a data dir of its
# own.
#
#	sh tests/screen/run.sh build/tiergate
#	SCREEN_UPDATE=1 sh tests/screen/run.sh build/tiergate   # rewrite
#
# SCREEN_UPDATE=1 rewrites the golden files from the current output
# (review the diff before committing it).  Ends with "N passed, N failed";
# exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/screen/run.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "screen: no binary '$TG'" >&2; exit 2; }

C=tests/screen/cases
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
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
	if [ -s "$T/err" ]; then
		sed 's/^/#   stderr: /' "$T/err" | head -n 10
	fi
}

# newdata: a fresh data dir in $D.
newdata() {
	D=$(mktemp -d "$T/data.XXXXXX") || exit 2
}

# screen ARGS...: `tiergate screen ARGS` with the data dir $D; leaves $rc,
# $T/out and $T/err.
screen() {
	TIERGATE_DATA_DIR=$D "$TG" screen "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# tg ARGS...: any other command on the data dir $D.
tg() {
	TIERGATE_DATA_DIR=$D "$TG" "$@"
}

IDRE='[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'

# normalize FILE: decision ids become ID; JSON Lines decisions shrink.
normalize() {
	sed -E -e "s/$IDRE/ID/g" \
	    -e 's/^\{"decision_id":"ID","reference":("[^"]*"|null),"date":"[^"]*","outcome":"([a-z_]*)".*"dry_run":(true|false),"receipt":\{"seq":([0-9]+).*/decision reference=\1 outcome=\2 dry_run=\3 seq=\4/' \
	    "$1"
}

# golden NAME WANT_RC ARGS...: screens cases/NAME.* with ARGS; compares
# the output with cases/NAME.out and the exit status with WANT_RC.
golden() {
	name=$1
	want=$2
	shift 2
	in=$C/$name.csv
	[ -f "$in" ] || in=$C/$name.jsonl
	newdata
	screen "$@" "$in"
	normalize "$T/out" >"$T/got"
	if [ "${SCREEN_UPDATE:-}" = 1 ]; then
		cp "$T/got" "$C/$name.out"
	fi
	if [ $rc -ne "$want" ]; then
		not_ok "$name: exit $rc, want $want"
	elif ! cmp -s "$T/got" "$C/$name.out"; then
		not_ok "$name: output differs from $C/$name.out"
		diff -u "$C/$name.out" "$T/got" | sed 's/^/#   /' | head -n 30
	else
		ok "$name: output and exit $want"
	fi
}

# has FILE TEXT: whether FILE holds the fixed string TEXT.
has() {
	grep -qF -- "$2" "$1"
}

# check NAME CONDITION...: ok when the command succeeds.
check() {
	name=$1
	shift
	if "$@"; then
		ok "$name"
	else
		not_ok "$name"
	fi
}

# rows FILE: the number of CSV records in FILE (quoted line breaks
# included), header included.
rows() {
	awk 'BEGIN { n = 0; q = 0 }
	{ q += gsub(/"/, "\""); if (q % 2 == 0) n++ }
	END { print n }' "$1"
}

# ---- golden files: every CSV edge case, JSON Lines ----------------------
golden quoting 0 --dry-run
golden crlf_bom 0 --dry-run
golden missing_column 2 --dry-run
golden mixed 2 --dry-run
golden shared_refs 2 --dry-run
golden lpp_accumulation 1 --dry-run
golden all_clear 0
golden flagged 1
golden queries 2

# ---- output rows = input rows ------------------------------------------
for name in quoting crlf_bom missing_column mixed shared_refs; do
	newdata
	screen --dry-run "$C/$name.csv"
	# Blank lines are not rows; the mixed file has none.
	check "$name: one output row per input row" \
	    test "$(rows "$T/out")" -eq "$(rows "$C/$name.csv")"
done

# ---- the byte order mark and CRLF come back as they came ------------------
newdata
screen --dry-run "$C/crlf_bom.csv"
check "crlf_bom: output starts with the byte order mark" \
    test "$(head -c 3 "$T/out" | od -An -tx1 | tr -d ' ')" = efbbbf
check "crlf_bom: every output line ends in CRLF" \
    test "$(grep -c "$(printf '\r')\$" "$T/out")" -eq "$(wc -l <"$T/out")"

# ---- shared references: one decision per transaction ---------------------
newdata
screen --dry-run "$C/shared_refs.csv"
ids=$(grep -E '^S-1,' "$T/out" | grep -oE "$IDRE" | sort -u | wc -l)
check "shared_refs: the rows of S-1 share one decision id" test "$ids" -eq 1
ids=$(grep -E '^,2025' "$T/out" | grep -oE "$IDRE" | sort -u | wc -l)
check "shared_refs: rows without a reference are decided apart" \
    test "$ids" -eq 2

# ---- a malformed row inside a transaction fails all of it -----------------
newdata
printf '%s\n' 'reference,date,destination,consignee_id,consignee_name,kind,product,quantity,note' \
    'T-1,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1,ok' \
    'T-1,,,,,chip,nvidia-h100-sxm,2,bad"quote' \
    'T-1,,,,,chip,nvidia-h100-sxm,3,ok' \
    'T-2,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1,ok' \
    >"$T/broken_txn.csv"
screen --dry-run "$T/broken_txn.csv"
check "malformed row in a transaction: none of its rows decided" \
    test "$(grep -cE '^T-1,.*,"?row [0-9]+' "$T/out")" -eq 3
check "malformed row in a transaction: the next one decided" \
    grep -qE '^T-2,.*,authorized,' "$T/out"
check "malformed row in a transaction: one decision in the log" \
    has "$T/err" "decisions: 1 (transactions)"

# ---- LPP accumulates inside the batch, dry and binding --------------------
newdata
screen --dry-run "$C/lpp_accumulation.csv"
tg quota show >"$T/quota" 2>&1
check "dry run: the fourth row exceeds LPP (1700 H100 to one consignee)" \
    has "$T/out" "L-4,2025-07-01,IN,acme-in-001,Acme Cloud Pvt Ltd,IN,chip,nvidia-h100-sxm,1,license_required,"
check "dry run: nothing reserved in the ledger" \
    sh -c "! grep -q acme-in-001 '$T/quota'"
screen "$C/lpp_accumulation.csv"
normalize "$T/out" >"$T/got"
check "binding run: same decisions as the dry run" \
    cmp -s "$T/got" "$C/lpp_accumulation.out"
tg quota show >"$T/quota" 2>&1
check "binding run: 1699 H100 reserved for acme-in-001" \
    grep -qE '^lpp +acme-in-001 +2025 +26898568$' "$T/quota"
check "binding run: 1000 H100 reserved for beta-in-002" \
    grep -qE '^lpp +beta-in-002 +2025 +15832000$' "$T/quota"
screen --dry-run "$C/lpp_accumulation.csv"
check "a later run sees what the binding run reserved" \
    has "$T/out" "L-1,2025-07-01,IN,acme-in-001,Acme Cloud Pvt Ltd,IN,chip,nvidia-h100-sxm,1000,license_required,"
tg audit verify >"$T/verify" 2>&1
check "the log and the ledger verify after three runs" \
    has "$T/verify" "audit log OK"

# ---- the batch entry -------------------------------------------------------
newdata
screen --dry-run "$C/mixed.csv"
seq=$(sed -nE 's/^  batch entry: ([0-9]+)$/\1/p' "$T/err")
if [ -n "$seq" ]; then
	tg audit show "$seq" >"$T/entry" 2>&1
	sum=$(sha256sum "$C/mixed.csv" | cut -d ' ' -f 1)
	check "batch entry: kind batch" has "$T/entry" '"kind": "batch"'
	check "batch entry: SHA-256 of the input" has "$T/entry" "$sum"
	check "batch entry: rows, bad rows and options" \
	    sh -c "grep -qF '\"rows\": 12,' '$T/entry' &&
	    grep -qF '\"bad_rows\": 8,' '$T/entry' &&
	    grep -qF '\"dry_run\": true,' '$T/entry' &&
	    grep -qF '\"format\": \"csv\"' '$T/entry' &&
	    grep -qF '\"complete\": true' '$T/entry'"
	# Entry 1 is batch_started, 2-4 the three decisions, 5 the batch.
	check "batch entry: one decision entry per decided transaction" \
	    test "$seq" -eq 5
	tg audit show 1 >"$T/started" 2>&1
	check "batch entry: the run's batch_started entry is first" \
	    sh -c "grep -qF '\"kind\": \"batch_started\"' '$T/started' &&
	    grep -qF 'mixed.csv' '$T/started' &&
	    grep -qF '\"started_seq\": 1' '$T/entry'"
else
	not_ok "batch entry: no 'batch entry: N' on stderr"
fi

# ---- the summary -------------------------------------------------------------
check "summary: rows and time" \
    grep -qE '^screen: .*mixed.csv: 12 rows in [0-9.]+ s \([0-9]+ rows/s\)' \
    "$T/err"
check "summary: outcomes" has "$T/err" \
    "outcomes: no_license_required 0, authorized 2, hold 0, license_required 1"
check "summary: tiers" has "$T/err" "destination tiers: 1: 1, 2: 1, 3: 1"
check "summary: bad rows" has "$T/err" "bad rows: 8 (the first: row 3)"
check "summary: no progress bar when stderr is not a terminal" \
    sh -c "! grep -q \"$(printf '\r')\" '$T/err'"

# ---- --strict --------------------------------------------------------------
newdata
screen --dry-run --strict "$C/mixed.csv"
check "--strict: exit 2" test $rc -eq 2
check "--strict: rows up to the first bad one, then stop" \
    test "$(rows "$T/out")" -eq 3
check "--strict: the bad row says why" has "$T/out" \
    "row 3, column destination: 'destination' is not an ISO 3166-1"
check "--strict: says it stopped" has "$T/err" "stopped at the first bad row"
check "--strict: only the good row before it was decided" \
    has "$T/err" "decisions: 1 (transactions)"

# ---- stdin, --format, -o ----------------------------------------------------
newdata
TIERGATE_DATA_DIR=$D "$TG" screen --format csv - <"$C/all_clear.csv" \
    >"$T/out" 2>"$T/err"
rc=$?
normalize "$T/out" >"$T/got"
check "stdin with --format csv: exit 0, same output" \
    sh -c "test $rc -eq 0 && cmp -s '$T/got' '$C/all_clear.out'"
TIERGATE_DATA_DIR=$D "$TG" screen - <"$C/all_clear.csv" >"$T/out" \
    2>"$T/err"
rc=$?
check "stdin without --format: exit 2, says to use --format" \
    sh -c "test $rc -eq 2 && grep -qF -- '--format' '$T/err'"
cp "$C/all_clear.csv" "$T/orders.txt"
screen "$T/orders.txt"
check "unknown extension: exit 2" test $rc -eq 2
screen --format csv "$T/orders.txt"
check "unknown extension with --format csv: exit 0" test $rc -eq 0
screen --format xml "$C/all_clear.csv"
check "--format xml: exit 2" test $rc -eq 2

newdata
screen --dry-run -o "$T/result.csv" "$C/flagged.csv"
normalize "$T/result.csv" >"$T/got"
check "-o: exit 1, nothing on stdout, the output in the file" \
    sh -c "test $rc -eq 1 && ! test -s '$T/out' &&
    cmp -s '$T/got' '$C/flagged.out'"
cp "$C/flagged.csv" "$T/same.csv"
screen -o "$T/same.csv" "$T/same.csv"
check "-o naming the input: refused, input intact" \
    sh -c "test $rc -eq 2 && cmp -s '$T/same.csv' '$C/flagged.csv'"

# ---- files that are not CSV at all -----------------------------------------
newdata
: >"$T/empty.csv"
screen "$T/empty.csv"
check "empty file: exit 2, no header row" \
    sh -c "test $rc -eq 2 && grep -qF 'no header row' '$T/err'"
printf 'reference,destination,consignee_name,kind,product\n' \
    >"$T/header.csv"
screen "$T/header.csv"
check "header only: exit 0, the header and the result columns" \
    sh -c "test $rc -eq 0 && test \"\$(cat '$T/out')\" = 'reference,destination,consignee_name,kind,product,outcome,eccn,authorization,review_policy,reasons,decision_id,error'"
printf '\377\376r\000e\000f\000\n\000' >"$T/utf16.csv"
screen "$T/utf16.csv"
check "UTF-16: exit 2, says to save as UTF-8" \
    sh -c "test $rc -eq 2 && grep -qF 'UTF-16' '$T/err'"
screen "$T"
check "a directory: exit 2" test $rc -eq 2
screen "$T/no-such-file.csv"
check "a missing file: exit 2" test $rc -eq 2

# ---- limits: a transaction of 1001 rows, a field over 64 KiB -----------------
newdata
awk 'BEGIN {
	print "reference,date,destination,consignee_id,consignee_name,kind,product,quantity"
	for (i = 0; i < 1001; i++)
		print "BIG,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1"
	print "AFTER,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1"
}' >"$T/big_txn.csv"
screen --dry-run "$T/big_txn.csv"
check "1001 rows in one transaction: the first row says why" \
    grep -qF "row 2, column reference: transaction 'BIG' has more than 1000 rows" \
    "$T/out"
check "1001 rows in one transaction: every one of them bad" \
    test "$(grep -cE '^BIG,.*,"?row [0-9]+' "$T/out")" -eq 1001
check "1001 rows in one transaction: the next transaction is decided" \
    grep -qE '^AFTER,.*,authorized,' "$T/out"
awk 'BEGIN {
	print "reference,date,destination,consignee_id,consignee_name,kind,product,quantity,note"
	printf "LONG,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1,\""
	for (i = 0; i < 70000; i++)
		printf "x"
	print ""
	print "NEXT,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1,ok"
}' >"$T/long_field.csv"
screen --dry-run "$T/long_field.csv"
check "a field over 64 KiB: the row is bad, the next one decided" \
    sh -c "grep -qF 'a field longer than 64 KiB' '$T/out' &&
    grep -qE '^NEXT,.*,authorized,' '$T/out' && test $rc -eq 2"

# ---- bad rows on standard error ---------------------------------------------
# Each bad row is also told on stderr as FILE:LINE:COL: message, LINE the
# file's line the row starts on (a quoted field may span lines; blank lines
# count), COL the column's position in the header; the first 20 only.
newdata
printf 'reference,destination,consignee_name,kind,product,quantity,note\r\nA,DE,x,chip,nvidia-h100-sxm,1,"multi\r\nline"\r\n\r\nB,ZZ,x,chip,nvidia-h100-sxm,1,n\r\n"C\nC",DE,x,chip,nvidia-h100-sxm,abc,n\r\nD,DE,x,chip,nvidia-h100-sxm,1,"q"x\r\n' \
    >"$T/lines.csv"
screen --dry-run "$T/lines.csv"
check "bad rows on stderr: FILE:LINE:COL: message, at the lines they start" \
    sh -c "grep -qxF \"$T/lines.csv:5:2: 'destination' is not an ISO 3166-1 alpha-2 country code: 'ZZ'\" '$T/err' &&
    grep -qF \"$T/lines.csv:6:6: 'quantity' must be an integer\" '$T/err' &&
    grep -qF \"$T/lines.csv:8:1: malformed CSV at line 8\" '$T/err' &&
    test \$(grep -c '^$T/lines.csv:' '$T/err') -eq 3 && test $rc -eq 2"
printf '{"destination":"DE","consignee":{"name":"x"},"items":[{"kind":"chip","product":"nvidia-h100-sxm"}]}\n{"destination":"ZZ","consignee":{"name":"x"},"items":[{"kind":"chip"}]}\n{"destination":\n' \
    >"$T/lines.jsonl"
screen --dry-run "$T/lines.jsonl"
check "bad JSON lines on stderr: FILE:LINE:COL: message" \
    sh -c "grep -qxF \"$T/lines.jsonl:2:1: /destination: 'destination' is not an ISO 3166-1 alpha-2 country code: 'ZZ'\" '$T/err' &&
    grep -qE '^$T/lines.jsonl:3:[0-9]+: ' '$T/err' && test $rc -eq 2"
awk 'BEGIN {
	print "reference,destination,consignee_name,kind,product,quantity"
	for (i = 0; i < 30; i++)
		printf "R-%d,ZZ,x,chip,nvidia-h100-sxm,1\n", i
}' >"$T/many.csv"
screen --dry-run "$T/many.csv"
check "bad rows on stderr: the first 20, then the summary says where the rest are" \
    sh -c "test \$(grep -c '^$T/many.csv:' '$T/err') -eq 20 &&
    grep -qF 'bad rows: 30 (the first: row 2; the first 20 are above' '$T/err' &&
    test \$(grep -c ',ZZ,' '$T/out') -eq 30"

# ---- a reader that goes away -------------------------------------------------
newdata
awk 'BEGIN {
	print "reference,date,destination,consignee_id,consignee_name,kind,product,quantity"
	for (i = 0; i < 3000; i++)
		printf "P-%d,2025-07-01,DE,de-1,Example GmbH,chip,nvidia-h100-sxm,1\n", i
}' >"$T/pipe.csv"
(TIERGATE_DATA_DIR=$D "$TG" screen --dry-run "$T/pipe.csv" 2>"$T/err";
    echo $? >"$T/rc") | head -n 1 >/dev/null
rc=$(cat "$T/rc")
check "output closed early: exit 2, and the batch entry is logged" \
    sh -c "test $rc -eq 2 && grep -qF 'batch entry:' '$T/err'"
tg audit verify >"$T/verify" 2>&1
check "output closed early: the log verifies" has "$T/verify" "audit log OK"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
