#!/bin/sh
# secrecy.sh TIERGATE: no request bodies, tokens or keys in the logs (issue
# 8, "Security"), and the key and tokens at rest as the docs promise.
#
# A daemon at log_level debug, with a metrics_token, is driven through
# every path that could log: decisions whose consignee names and
# references carry a marker (valid, malformed JSON, wrong types, an
# unknown field, a batch with a bad transaction), a void and a hold
# resolution whose reason and officer carry it, the bearer tokens (right,
# wrong role, revoked, unknown, a made-up one with the marker, the
# metrics token off /metrics), admin reload and SIGHUP with a broken pack,
# a report, SIGTERM.  The CLI too: `check` (good and bad queries),
# `screen` (CSV with the marker in names and references, a bad row),
# `token create`, `token revoke` given a secret instead of an id, and
# configurations whose metrics_token is wrong in every way config.c
# reports.  Then neither the daemon's log nor any command's stderr holds:
# a token secret, a token's SHA-256 (hex), the metrics token, the markers,
# or the signing key (the PEM body, the raw seed in hex and base64).
#
# At rest: signing.key is mode 0600 and the data dir 0700; a key readable
# by group or others is refused by `serve` and `check`; the database (and
# its WAL) holds each token's SHA-256 but never the secret.
#
# One check per line; the last is "N passed, N failed".  Needs curl,
# sqlite3, openssl, od, base64.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u
# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

for c in sqlite3 openssl od base64; do
	command -v "$c" >/dev/null 2>&1 || {
		echo "secrecy: the $c command is missing" >&2
		echo "0 passed, 1 failed"
		exit 1
	}
done

# The markers: nothing else in a log could contain them by chance.
MARK=Qx7secrecyMarker
NAME_M="Consignee $MARK GmbH"
REF_M="REF-${MARK}-001"
REASON_M="reason $MARK"
OFFICER_M="Officer $MARK"
METRICS=metrics-$MARK-0123456789
# A well-formed secret (tg_ and 64 hex digits) that was never issued.
FAKE=tg_$(printf '%s%s' "$MARK" "$MARK" | od -An -tx1 | tr -d ' \n' |
    cut -c1-64)
CLI=$T/cli.err		# every CLI command's stderr
: >"$CLI"
JSON="Content-Type: application/json"

# tg ARGS...: the CLI on the test's data dir, stderr appended to $CLI.
tg() {
	"$TG" --data-dir "$DATA" "$@" 2>>"$CLI" </dev/null
}

# marked FILE: etc/examples/aia-h100-de.json with the marker in the
# consignee's name and the reference, as a binding decision.
marked() {
	sed -e "s/\"Rechenzentrum Frankfurt GmbH\"/\"$NAME_M\"/" \
	    -e "s/\"EX-2025-0001\"/\"$REF_M\"/" \
	    -e 's/"dry_run": true/"dry_run": false/' \
	    etc/examples/aia-h100-de.json >"$1"
}

# ---- the daemon ----------------------------------------------------------------
cp -R rules "$T/rules"
cat >"$T/debug.yaml" <<EOF
rules:
  - $T/rules
log_level: debug
metrics_token: $METRICS
EOF
if ! start sec "$T/debug.yaml"; then
	not_ok "the daemon starts at log_level debug"
	finish
fi
ok "the daemon starts at log_level debug"
S=$(tok screen); cat "$T/tok.err" >>"$CLI"
AU=$(tok audit); cat "$T/tok.err" >>"$CLI"
AD=$(tok admin); cat "$T/tok.err" >>"$CLI"
RV=$(tok screen revoked); cat "$T/tok.err" >>"$CLI"
"$TG" --data-dir "$DATA" token revoke "$(cat "$T/tokid")" 2>>"$CLI" \
    >/dev/null </dev/null
checkx "four tokens made" '[ ${#S} -eq 67 ] && [ ${#AU} -eq 67 ] &&
    [ ${#AD} -eq 67 ] && [ ${#RV} -eq 67 ]'

marked "$T/q.json"
sed "s/\"DE\"/\"D$MARK\"/" "$T/q.json" >"$T/bad-country.json"
sed "s/\"reference\"/\"$MARK\"/" "$T/q.json" >"$T/bad-field.json"
printf '{"reference": "%s", "destination": ' "$REF_M" >"$T/bad-json.json"
sed "s/\"quantity\": 1000/\"quantity\": \"$MARK\"/" "$T/q.json" \
    >"$T/bad-type.json"
{ printf '{"transactions": ['; cat "$T/q.json"; printf ','
    cat "$T/bad-type.json"; printf ']}'; } >"$T/batch-bad.json"
{ printf '{"transactions": ['; cat "$T/q.json"; printf ','
    cat "$T/q.json"; printf ']}'; } >"$T/batch.json"
sed -e "s/\"Sao Paulo AI Labs Ltda\"/\"$NAME_M\"/" \
    -e "s/\"EX-2025-0004\"/\"$REF_M-hold\"/" \
    -e 's/"dry_run": true/"dry_run": false/' \
    etc/examples/hold-training-service-br.json >"$T/hold.json"

auth() { printf 'Authorization: Bearer %s' "$1"; }

s=$(req d1 POST /v1/decisions -H "$(auth "$S")" -H "$JSON" \
    --data-binary @"$T/q.json")
expect d1 201 "$s" "a decision with the marker in name and reference"
ID=$(json_str "$T/d1.body" decision_id)
for b in bad-country bad-field bad-json bad-type; do
	s=$(req "$b" POST /v1/decisions -H "$(auth "$S")" -H "$JSON" \
	    --data-binary @"$T/$b.json")
	case $s in 4??) ok "a refused body ($b): $s" ;;
	*) not_ok "a refused body ($b): $s" ;; esac
done
s=$(req b1 POST /v1/decisions/batch -H "$(auth "$S")" -H "$JSON" \
    --data-binary @"$T/batch.json")
expect b1 200 "$s" "a batch of two marked decisions"
s=$(req b2 POST /v1/decisions/batch -H "$(auth "$S")" -H "$JSON" \
    --data-binary @"$T/batch-bad.json")
expect b2 422 "$s" "a batch with a bad marked transaction"
s=$(req v1 POST "/v1/decisions/$ID/void" -H "$(auth "$S")" -H "$JSON" \
    --data "{\"reason\": \"$REASON_M\", \"officer\": \"$OFFICER_M\"}")
expect v1 200 "$s" "a void whose reason and officer carry the marker"
s=$(req v2 POST "/v1/decisions/$ID/void" -H "$(auth "$S")" -H "$JSON" \
    --data "{\"reason\": \"$REASON_M\"}")
expect v2 409 "$s" "the same void again"
s=$(req h1 POST /v1/decisions -H "$(auth "$S")" -H "$JSON" \
    --data-binary @"$T/hold.json")
expect h1 201 "$s" "a held decision with the marker"
HID=$(json_str "$T/h1.body" decision_id)
s=$(req h2 POST "/v1/decisions/$HID/resolve" -H "$(auth "$AU")" -H "$JSON" \
    --data "{\"resolution\": \"release\", \"reason\": \"$REASON_M\", \
\"officer\": \"$OFFICER_M\"}")
expect h2 200 "$s" "a hold resolved with the marker"
s=$(req g1 GET "/v1/decisions/$ID" -H "$(auth "$S")")
expect g1 200 "$s" "GET the marked decision"
s=$(req t1 GET /v1/rules -H "$(auth "$FAKE")")
expect t1 401 "$s" "a made-up token carrying the marker"
s=$(req t2 GET /v1/rules -H "$(auth "$RV")")
expect t2 401 "$s" "a revoked token"
s=$(req t3 GET /v1/rules -H "Authorization: Basic $(printf 'u:%s' "$MARK" |
    base64)")
expect t3 401 "$s" "Basic credentials carrying the marker"
s=$(req t4 GET /v1/audit/checkpoint -H "$(auth "$S")")
expect t4 403 "$s" "a screen token on an audit route"
s=$(req t5 GET /v1/rules -H "$(auth "$METRICS")")
expect t5 401 "$s" "the metrics token off /metrics"
s=$(req t6 GET /metrics -H "$(auth "$METRICS")")
expect t6 200 "$s" "the metrics token on /metrics"
s=$(req t7 GET "/v1/nothing/$MARK" -H "$(auth "$S")")
expect t7 404 "$s" "an unknown route with the marker in its path"
s=$(req r1 GET "/v1/reports/summary?from=2025-01-01&to=2030-12-31" \
    -H "$(auth "$AU")")
expect r1 200 "$s" "a report"
printf '\nrules:\n  - id: [unclosed\n' >>"$T/rules/ai-diffusion-2025.yaml"
s=$(req l1 POST /v1/admin/reload -H "$(auth "$AD")")
expect l1 422 "$s" "an admin reload of a broken pack"
kill -HUP "$DPID"
sleep 1
s=$(req l2 GET /v1/rules -H "$(auth "$S")")
expect l2 200 "$s" "serving after SIGHUP with a broken pack"
cp rules/ai-diffusion-2025.yaml "$T/rules/"
kill -HUP "$DPID"
sleep 1
stop_daemon "$DPID"
check "the daemon exits 0 on SIGTERM (got $RC)" [ "$RC" -eq 0 ]
check "the daemon logged one line per request" grep -q 'decisions 201' \
    "$LOG"

# ---- the CLI ---------------------------------------------------------------------
tg check "$T/q.json" >"$T/c1.out"
checkx "check: a marked query is decided" 'grep -q "$REF_M" "$T/c1.out"'
tg check "$T/bad-type.json" >/dev/null
tg check "$T/bad-json.json" >/dev/null
{
	echo "reference,date,destination,consignee_id,consignee_name,kind,product,quantity"
	echo "$REF_M-1,2025-07-01,DE,de-1,$NAME_M,chip,nvidia-h100-sxm,10"
	echo "$REF_M-2,2025-07-01,DE,de-1,$NAME_M,chip,nvidia-h100-sxm,$MARK"
	echo "$REF_M-3,2025-07-01,CN,cn-1,$NAME_M,chip,nvidia-h100-sxm,1"
} >"$T/rows.csv"
tg screen --dry-run -o "$T/rows.out" "$T/rows.csv"
checkx "screen: the marked rows are decided" \
    '[ -s "$T/rows.out" ] && grep -q "$REF_M-1" "$T/rows.out"'
NEW=$("$TG" --data-dir "$DATA" token create --role audit --name cli \
    2>>"$CLI" </dev/null)
checkx "token create prints a secret on stdout" '[ ${#NEW} -eq 67 ]'
"$TG" --data-dir "$DATA" token revoke "$NEW" >/dev/null 2>>"$CLI" </dev/null
"$TG" --data-dir "$DATA" token list >/dev/null 2>>"$CLI" </dev/null
for how in short space misplaced misspelt twice list; do
	case $how in
	short) printf 'metrics_token: %s\n' "${MARK%?????????}" ;;
	space) printf 'metrics_token: "%s x"\n' "$METRICS" ;;
	misplaced) printf 'limits:\n  metrics_token: %s\n' "$METRICS" ;;
	misspelt) printf 'metrics_tokn: %s\n' "$METRICS" ;;
	twice) printf 'metrics_token: %s\nmetrics_token: %s\n' "$METRICS" \
	    "$METRICS" ;;
	list) printf 'metrics_token: [%s]\n' "$METRICS" ;;
	esac >"$T/bad-$how.yaml"
	"$TG" --data-dir "$DATA" -c "$T/bad-$how.yaml" serve \
	    --listen 127.0.0.1:0 >/dev/null 2>"$T/cfg-$how.err" </dev/null &
	refused $!
	checkx "a config with a $how metrics_token is refused (status $RC)" \
	    '[ "$RC" -ne 0 ] && [ "$RC" -lt 128 ]'
	cat "$T/cfg-$how.err" >>"$CLI"
done

# ---- nothing secret in the logs -----------------------------------------------
KEY=$DATA/signing.key
PEMBODY=$(grep -v '^-----' "$KEY" | tr -d '\n')
SEEDHEX=$(openssl pkey -in "$KEY" -outform DER | tail -c 32 | od -An -tx1 |
    tr -d ' \n')
SEEDB64=$(openssl pkey -in "$KEY" -outform DER | tail -c 32 | base64 -w0)
SEEDB64=${SEEDB64%%=*}
checkx "the key's forms are known (PEM ${#PEMBODY}, hex ${#SEEDHEX} chars)" \
    '[ ${#PEMBODY} -ge 60 ] && [ ${#SEEDHEX} -eq 64 ]'
sha() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -c1-64; }
LOGS="$LOG $CLI"
# absent DESC STRING: STRING is in no log, in any letter case.
absent() {
	# shellcheck disable=SC2086
	if grep -qiF -e "$2" $LOGS; then
		not_ok "$1 is in a log: $(grep -liF -e "$2" $LOGS |
		    sed "s|$T/||" | tr '\n' ' ')"
	else
		ok "$1 is in no log"
	fi
}
absent "the marker" "$MARK"
t=
for v in S AU AD RV NEW; do
	eval "t=\$$v"
	absent "token $v" "$t"
	absent "the SHA-256 of token $v" "$(sha "$t")"
done
absent "the made-up token" "$FAKE"
absent "the metrics token" "$METRICS"
absent "the signing key (PEM body)" "$PEMBODY"
absent "the signing key (seed, hex)" "$SEEDHEX"
absent "the signing key (seed, base64)" "$SEEDB64"
check "the logs are not empty" [ -s "$LOG" ] && [ -s "$CLI" ]

# ---- at rest ------------------------------------------------------------------
mode() { stat -c %a "$1"; }
checkx "signing.key is mode 0600 ($(mode "$KEY"))" '[ "$(mode "$KEY")" = 600 ]'
checkx "the data dir is mode 0700 ($(mode "$DATA"))" \
    '[ "$(mode "$DATA")" = 700 ]'
checkx "the database is mode 0600 ($(mode "$DATA/tiergate.db"))" \
    '[ "$(mode "$DATA/tiergate.db")" = 600 ]'
for m in 640 604 660; do
	chmod "$m" "$KEY"
	"$TG" --data-dir "$DATA" serve --listen 127.0.0.1:0 >/dev/null \
	    2>"$T/mode.err" </dev/null &
	refused $!
	checkx "serve refuses a key of mode $m (status $RC)" \
	    '[ "$RC" -ne 0 ] && [ "$RC" -lt 128 ] &&
	    grep -q "accessible by group or others" "$T/mode.err"'
	"$TG" --data-dir "$DATA" check "$T/q.json" >/dev/null \
	    2>"$T/mode.err" </dev/null
	checkx "check refuses a key of mode $m" \
	    'grep -q "accessible by group or others" "$T/mode.err"'
	absent "the signing key (refused, mode $m)" "$PEMBODY"
done
chmod 600 "$KEY"
tg check etc/examples/aia-h100-de.json >/dev/null
rc=$?
checkx "mode 0600 again: check works (status $rc)" '[ $rc -le 1 ]'

# The database and its WAL, as bytes (the daemon may have left a WAL).
DB=$T/db.bytes
cat "$DATA"/tiergate.db* >"$DB"
for v in S AU AD RV NEW; do
	eval "t=\$$v"
	if grep -qaF -e "$t" "$DB"; then
		not_ok "token $v is stored as is"
	else
		ok "token $v is not in the database"
	fi
done
hashes=$(sqlite3 "$DATA/tiergate.db" 'SELECT lower(hex(hash)) FROM tokens')
n=0
for v in S AU AD RV NEW; do
	eval "t=\$$v"
	echo "$hashes" | grep -qx "$(sha "$t")" && n=$((n + 1))
done
checkx "the database holds each token's SHA-256 ($n of 5)" '[ $n -eq 5 ]'
finish
