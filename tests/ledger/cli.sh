#!/bin/sh
# cli.sh TIERGATE: black-box tests of the ledger commands (issue 4):
# `license add|list|show|revoke`, `decisions void`, `quota show`, and
# `check` deciding against the ledger.
#
#  - exit statuses: 0 done, 1 refused (a duplicate, unknown, already
#    voided or revoked), 2 usage; diagnostics on stderr, nothing on stdout
#    for a refusal;
#  - a binding check of 1,000 H100 is authorized under LPP; a second one
#    for the same consignee is license_required, the LPP reason saying
#    "would exceed"; voiding the first gives LPP back;
#  - a line beyond LPP citing a registered license is authorized under
#    LICENSE until the license is used up, then refused with the license
#    named; a revoked license authorizes nothing; `license show` and
#    `license list` report what is used;
#  - `quota show` (table and --json, --consignee, --country, --year: a
#    period is in every year it covers) shows what is reserved; a dry run
#    reserves nothing;
#  - `audit verify` says "ledger OK", and "audit log DAMAGED: ledger: "
#    (exit 1) once a reservation is altered behind the log's back.
# JSON is read with the sqlite3 shell's json_extract.  Ends with
# "N passed, N failed"; exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/ledger/cli.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "ledger cli: no binary '$TG'" >&2; exit 2; }
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "ledger cli: the sqlite3 command is missing" \
	    "(packaging/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

T=$(mktemp -d) || exit 2
D=$T/data
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
		sed 's/^/#   stderr: /' "$T/err" | head -n 5
	fi
}

# run ARGS...: runs the binary on the test's data dir; leaves $rc,
# $T/out and $T/err.
run() {
	"$TG" --data-dir "$D" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# expect NAME STATUS [TEXT]: the last run exited STATUS and, when TEXT is
# given, said it (a fixed string) on stdout or stderr.
expect() {
	if [ "$rc" -ne "$2" ]; then
		not_ok "$1: exit $rc, want $2"
	elif [ $# -ge 3 ] && ! grep -qF -- "$3" "$T/out" "$T/err"; then
		not_ok "$1: does not say '$3'"
	else
		ok "$1"
	fi
}

# refused NAME STATUS: exit STATUS with a diagnostic and no output.
refused() {
	if [ "$rc" -ne "$2" ]; then
		not_ok "$1: exit $rc, want $2"
	elif [ -s "$T/out" ]; then
		not_ok "$1: output on stdout: $(head -n 1 "$T/out")"
	elif ! [ -s "$T/err" ]; then
		not_ok "$1: no diagnostic"
	else
		ok "$1"
	fi
}

# jget FILE PATH: a member of the JSON in FILE ('' when absent).
jget() {
	sqlite3 :memory: "SELECT json_extract(readfile('$1'), '$2')" \
	    2>/dev/null
}

# is NAME GOT WANT
is() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1: '$2', want '$3'"
	fi
}

# h100 FILE CONSIGNEE QTY [LICENSE]: a binding query of QTY H100 SXM to IN
# on 2025-07-01.
h100() {
	lic=
	[ $# -ge 4 ] && lic=", \"license\": \"$4\""
	cat >"$T/$1" <<EOF
{"date": "2025-07-01", "destination": "IN", "dry_run": false,
 "consignee": {"id": "$2", "name": "Consignee $2", "country": "IN",
  "headquarters": "IN"},
 "items": [{"kind": "chip", "product": "nvidia-h100-sxm",
  "quantity": $3$lic}]}
EOF
}

# check NAME QUERY: `check` the query into $T/NAME.json.
check() {
	run check "$T/$2"
	cp "$T/out" "$T/$1.json"
}

# quota KEY: the used amount of quota/key/period in `quota show --json`
# (nothing when absent); $1 is name/key/period.
quota() {
	run quota show --json
	cp "$T/out" "$T/quota.json"
	q=${1%%/*}
	rest=${1#*/}
	k=${rest%%/*}
	p=${rest#*/}
	sqlite3 :memory: "SELECT json_extract(value, '\$.used') FROM
	    json_each(readfile('$T/quota.json')) WHERE
	    json_extract(value, '\$.name') = '$q' AND
	    json_extract(value, '\$.key') = '$k' AND
	    json_extract(value, '\$.period') = '$p'" 2>/dev/null
}

# ---- LPP: one line fits, the second would exceed -------------------------
h100 q1000.json cli-1 1000
check first q1000.json
expect "check 1,000 H100 (binding): authorized" 0
is "first: authorization" "$(jget "$T/first.json" '$.items[0].authorization')" \
    LPP
is "first: lpp reserved" \
    "$(jget "$T/first.json" '$.quotas[1].name')/$(jget "$T/first.json" \
    '$.quotas[1].reserved')" lpp/15832000
first_id=$(jget "$T/first.json" '$.decision_id')

check second q1000.json
expect "second check of 1,000 H100: exit 1" 1
is "second: outcome" "$(jget "$T/second.json" '$.items[0].outcome')" \
    license_required
if jget "$T/second.json" '$.items[0].reasons' | grep -q 'would exceed'; then
	ok "second: the LPP reason says 'would exceed'"
else
	not_ok "second: no 'would exceed' in $(jget "$T/second.json" \
	    '$.items[0].reasons')"
fi
is "second: lpp reserved" "$(jget "$T/second.json" '$.quotas[1].reserved')" \
    0
is "quota show --json after two checks" "$(quota lpp/cli-1/2025)" 15832000.0

run quota show
if [ $rc -eq 0 ] &&
    head -n 1 "$T/out" | grep -q '^quota  *key  *period  *used$' &&
    grep -q '^lpp  *cli-1  *2025  *15832000$' "$T/out"; then
	ok "quota show (table)"
else
	not_ok "quota show (table): exit $rc: $(cat "$T/out")"
fi

# ---- void ----------------------------------------------------------------
run decisions void "$first_id"
refused "void without --reason" 2
run decisions void "$first_id" --reason "entered twice" --officer "J. Officer"
expect "void the first" 0 "1 reservation released"
if grep -q '^void: audit entry [0-9]* ([0-9a-f]\{64\})$' "$T/out"; then
	ok "void: prints its audit entry"
else
	not_ok "void: output $(cat "$T/out")"
fi
run decisions void "$first_id" --reason "again"
refused "void it again" 1
run decisions void 01890000-0000-7000-8000-000000000000 --reason "typo"
refused "void an unknown decision" 1
run decisions frobnicate "$first_id"
refused "decisions with a bad subcommand" 2
is "quota after the void" "$(quota lpp/cli-1/2025)" ""

check third q1000.json
expect "after the void, 1,000 H100 are authorized again" 0
is "third: lpp used" "$(jget "$T/third.json" '$.quotas[1].used')" 15832000

# ---- dry run -------------------------------------------------------------
h100 q100-dry.json cli-2 100
run check --dry-run "$T/q100-dry.json"
cp "$T/out" "$T/dry.json"
expect "check --dry-run" 0
is "dry run: would-be balance" "$(jget "$T/dry.json" '$.quotas[1].used')" \
    1583200
is "dry run: marked" "$(jget "$T/dry.json" '$.dry_run')" 1
is "dry run reserves nothing" "$(quota lpp/cli-2/2025)" ""

# ---- licenses ------------------------------------------------------------
run license add --number D-CLI-1 --country IN --tpp 3000000 \
    --valid-until 2026-06-30
expect "license add" 0 "license registered: audit entry"
run license add --number D-CLI-1 --country IN --tpp 3000000 \
    --valid-until 2026-06-30
refused "license add: a duplicate number" 1
run license add --number D-CLI-2 --country IN --tpp 3000000
refused "license add without --valid-until" 2
run license add --number D-CLI-2 --country India --valid-until 2026-06-30
refused "license add --country India" 2
run license add --number D-CLI-2 --country IN --valid-until 2026-13-01
refused "license add --valid-until 2026-13-01" 2
run license add --number D-CLI-2 --country IN --tpp -5 \
    --valid-until 2026-06-30
refused "license add --tpp -5" 2
run license add --number D-CLI-2 --country IN --quantity 1.5 \
    --valid-until 2026-06-30
refused "license add --quantity 1.5" 2
run license add --number D-CLI-2 --country IN --quantity 0 \
    --valid-until 2026-06-30
refused "license add --quantity 0" 2
run license add --number D-CLI-2 --country IN --valid-until 2026-06-30 extra
refused "license add with an extra argument" 2
run license frobnicate
refused "license with a bad subcommand" 2

# The consignee's LPP is used up: 1,000 + 699 = 1,699 H100.
h100 q699.json cli-1 699
check lpp-full q699.json
expect "699 more H100 under LPP" 0
is "lpp is full" "$(quota lpp/cli-1/2025)" 26898568.0

h100 q100-lic.json cli-1 100 D-CLI-1
check lic1 q100-lic.json
expect "100 H100 citing D-CLI-1: authorized" 0
is "lic1: authorization" \
    "$(jget "$T/lic1.json" '$.items[0].authorization')/$(jget "$T/lic1.json" \
    '$.items[0].license')" LICENSE/D-CLI-1
run license show D-CLI-1
expect "license show" 0
is "license show: tpp used/remaining" \
    "$(jget "$T/out" '$.tpp_used')/$(jget "$T/out" '$.tpp_remaining')" \
    1583200.0/1416800.0
is "quota show: license_tpp" "$(quota license_tpp/D-CLI-1/all)" 1583200.0
is "quota show: the IN allocation" "$(quota allocation/IN/2025-2027)" \
    1583200.0

check lic2 q100-lic.json
expect "100 more citing D-CLI-1: exit 1" 1
want='license D-CLI-1 does not cover the line: 1583200 TPP used + 1583200'
want="$want exceeds its 3000000 TPP"
if jget "$T/lic2.json" '$.items[0].reasons' | grep -qF "$want"; then
	ok "lic2: the reason names the license and its balance"
else
	not_ok "lic2: reasons $(jget "$T/lic2.json" '$.items[0].reasons')"
fi

run license show D-NONE
refused "license show of an unknown number" 1
run license revoke D-CLI-1
refused "license revoke without --reason" 2
run license revoke D-CLI-1 --reason "superseded"
expect "license revoke" 0 "license revoked: audit entry"
run license revoke D-CLI-1 --reason "again"
refused "license revoke again" 1
run license revoke D-NONE --reason "typo"
refused "license revoke of an unknown number" 1

h100 q10-lic.json cli-1 10 D-CLI-1
check lic3 q10-lic.json
expect "10 H100 citing the revoked license: exit 1" 1
if jget "$T/lic3.json" '$.items[0].reasons' | grep -qF 'it was revoked'; then
	ok "lic3: the reason says it was revoked"
else
	not_ok "lic3: reasons $(jget "$T/lic3.json" '$.items[0].reasons')"
fi

run license add --number D-CLI-3 --country IN --quantity 150 \
    --valid-until 2026-06-30 --consignee cli-1 --eccn 3A090.a
expect "license add --quantity --consignee --eccn" 0
run license list
if [ $rc -eq 0 ] && grep -q '^D-CLI-1 .*REVOKED$' "$T/out" &&
    grep -q '^D-CLI-3 ' "$T/out" && ! grep -q '^D-CLI-3 .*REVOKED' "$T/out"
then
	ok "license list (table)"
else
	not_ok "license list: exit $rc: $(cat "$T/out")"
fi
run license list --json
if [ $rc -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 2 ]; then
	ok "license list --json: one line per license"
else
	not_ok "license list --json: exit $rc: $(cat "$T/out")"
fi
head -n 1 "$T/out" >"$T/l1.json"
tail -n 1 "$T/out" >"$T/l3.json"
is "license list --json: D-CLI-1" \
    "$(jget "$T/l1.json" '$.number')/$(jget "$T/l1.json" '$.revoked')" \
    D-CLI-1/1
is "license list --json: D-CLI-3" \
    "$(jget "$T/l3.json" '$.number')/$(jget "$T/l3.json" \
    '$.consignee')/$(jget "$T/l3.json" '$.eccn')/$(jget "$T/l3.json" \
    '$.quantity_remaining')" D-CLI-3/cli-1/3A090.a/150.0

h100 q100-l3.json cli-1 100 D-CLI-3
check lic4 q100-l3.json
expect "100 H100 citing the quantity license: authorized" 0
h100 q60-l3.json cli-1 60 D-CLI-3
check lic5 q60-l3.json
expect "60 more: exit 1 (150 units)" 1
is "quota show: license_quantity" "$(quota license_quantity/D-CLI-3/all)" \
    100.0

# ---- quota show filters --------------------------------------------------
run quota show --consignee cli-1 --json
if [ $rc -eq 0 ] && [ "$(sqlite3 :memory: "SELECT count(*) FROM
    json_each(readfile('$T/out')) WHERE json_extract(value, '\$.key') !=
    'cli-1'")" = 0 ] && grep -q '"lpp"' "$T/out"; then
	ok "quota show --consignee cli-1: its rows only"
else
	not_ok "quota show --consignee cli-1: $(cat "$T/out")"
fi
run quota show --country IN --json
if [ $rc -eq 0 ] && [ "$(sqlite3 :memory: "SELECT group_concat(
    json_extract(value, '\$.name')) FROM json_each(readfile('$T/out'))")" = \
    allocation ]; then
	ok "quota show --country IN: the allocation"
else
	not_ok "quota show --country IN: $(cat "$T/out")"
fi
# A period covers its years: the 2025-2027 allocation is in 2026's.
run quota show --year 2026 --json
is "quota show --year 2026: the 2025-2027 allocation, no 2025 LPP" \
    "$(sqlite3 :memory: "SELECT group_concat(json_extract(value,
    '\$.name') || '/' || json_extract(value, '\$.period')) FROM
    json_each(readfile('$T/out'))")" allocation/2025-2027
run quota show --year 2024 --json
is "quota show --year 2024: nothing" "$(tr -d ' \n' <"$T/out")" "[]"
run quota show --year 2025 --json
if [ $rc -eq 0 ] && grep -q '"cli-1"' "$T/out"; then
	ok "quota show --year 2025"
else
	not_ok "quota show --year 2025: $(cat "$T/out")"
fi
run quota show --frobnicate
refused "quota show --frobnicate" 2
run quota list
refused "quota list" 2

# ---- proof ---------------------------------------------------------------
# Bearer tokens are logged when created and revoked: the tokens table is
# held against those entries too.
run token create --role screen --name t-screen
run token create --role audit --name t-audit
run token revoke "$(sqlite3 "$D/tiergate.db" "SELECT id FROM tokens WHERE
    name = 't-audit'")"
run audit verify
expect "audit verify" 0 "ledger OK: "
# tampered NAME TEXT SQL: `audit verify` of a copy of $D that SQL has
# altered exits 1 and says TEXT.
tampered() {
	rm -rf "$T/tampered"
	cp -a "$D" "$T/tampered"
	if ! sqlite3 "$T/tampered/tiergate.db" "$3" 2>"$T/err"; then
		not_ok "$1: the tamper itself failed: $(cat "$T/err")"
		return
	fi
	"$TG" --data-dir "$T/tampered" audit verify >"$T/out" 2>"$T/err" \
	    </dev/null
	rc=$?
	expect "$1: exit 1" 1 "$2"
}
tampered "audit verify of an altered reservation" \
    "audit log DAMAGED: ledger: ledger balance lpp/cli-1/2025" \
    "UPDATE reservations SET amount = 1 WHERE quota = 'lpp' AND key = 'cli-1'"

# Tampers that leave every balance as it was: each reservation row is held
# against the signed decision it names, not only the sums.
LIVE="(SELECT rowid FROM reservations WHERE void_seq IS NULL ORDER BY rowid
    LIMIT 1)"
OTHER="(SELECT seq FROM entries WHERE kind = 'decision' AND seq NOT IN
    (SELECT seq FROM reservations) ORDER BY seq DESC LIMIT 1)"
for tamper in \
    "moved|UPDATE reservations SET seq = $OTHER, decision_id = (SELECT
        decision_id FROM entries WHERE seq = $OTHER) WHERE rowid = $LIVE" \
    "split|INSERT INTO reservations SELECT seq, decision_id, quota, key,
        period, amount / 2, void_seq FROM reservations WHERE rowid = $LIVE;
        UPDATE reservations SET amount = amount / 2 WHERE rowid = $LIVE" \
    "zero row|INSERT INTO reservations SELECT seq, decision_id, quota,
        'nobody', period, 0, NULL FROM reservations WHERE rowid = $LIVE" \
    "void moved|UPDATE reservations SET void_seq = void_seq - 1 WHERE
        void_seq IS NOT NULL"; do
	tampered "audit verify of a reservation ${tamper%%|*}, balances \
unchanged" "audit log DAMAGED: ledger: " "${tamper#*|}"
done
for tamper in \
    "raised to admin|UPDATE tokens SET role = 'admin' WHERE name = 't-screen'" \
    "revoked one restored|UPDATE tokens SET revoked = 0 WHERE name = 't-audit'" \
    "given another secret|UPDATE tokens SET hash = randomblob(32) WHERE
        name = 't-screen'" \
    "added|INSERT INTO tokens SELECT lower(hex(h)), 'mine', 'admin', h,
        created, 0 FROM (SELECT randomblob(8) || randomblob(24) AS h,
        created FROM tokens LIMIT 1)" \
    "deleted|DELETE FROM tokens WHERE name = 't-screen'"; do
	tampered "audit verify of a token ${tamper%%|*}" \
	    "audit log DAMAGED: ledger: token " "${tamper#*|}"
done

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
