#!/bin/sh
# routes.sh TIERGATE: every route of `tiergate serve` (daemon/http/server.c)
# and method, against a real daemon on 127.0.0.1 with an ephemeral port and
# a temporary data dir, driven with curl (issue 5, "Tests"):
#
#   - the open routes (/healthz, /readyz, /v1/openapi.yaml, served byte for
#     byte from docs/openapi.yaml as application/yaml);
#   - 401 (no token, unknown token, revoked token, not Bearer), 403 (each
#     role on a route it may not use), 404, 405;
#   - POST /v1/decisions: 201, the same bytes `tiergate check` prints for
#     the same queries in the same order (decision_id and receipt apart),
#     the receipt verifies offline, GET /v1/decisions/{id} answers the same
#     decision (receipt apart; same seq and entry_hash);
#   - batch: two transactions answered in order; an invalid one is named by
#     its pointer (/transactions/1/...);
#   - void: 200, then 409, 404 for an unknown id, 422 without a reason;
#   - /v1/rules, /v1/audit/checkpoint, /metrics (admin, and the config's
#     metrics_token), /v1/admin/reload;
#   - every answer's required members are those of docs/openapi.yaml, every
#     error is application/problem+json, and every status seen on a
#     documented operation is documented there.
#
# Ends with "N passed, N failed"; exits 1 if any test failed.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

METRICS_TOKEN=scrape-0123456789abcdef
cat >"$T/routes.yaml" <<EOF
rules:
  - rules
metrics_token: $METRICS_TOKEN
EOF
if ! start routes "$T/routes.yaml"; then
	not_ok "the daemon starts"
	finish
fi
S=$(tok screen)
A=$(tok audit)
M=$(tok admin)
REVOKED=$(tok screen revoked)
"$TG" --data-dir "$DATA" token revoke "$(cat "$T/tokid")" >/dev/null 2>&1
JSON="Content-Type: application/json"

# Every request of this script is recorded with its status, for the check
# against docs/openapi.yaml at the end.
r() {
	st=$(req "$@")
	echo "$2 $3 $st" >>"$T/seen"
	echo "$st"
}

# ---- open routes -----------------------------------------------------------
s=$(r health GET /healthz)
expect health 200 "$s" "GET /healthz without a token"
check "/healthz says ok" grep -qx ok "$T/health.body"
s=$(r ready GET /readyz)
expect ready 200 "$s" "GET /readyz without a token"
check "/readyz says ready" grep -qx ready "$T/ready.body"
s=$(r openapi GET /v1/openapi.yaml)
expect openapi 200 "$s" "GET /v1/openapi.yaml without a token"
check "openapi.yaml is application/yaml" \
    [ "$(hdr openapi Content-Type)" = application/yaml ]
check "openapi.yaml is docs/openapi.yaml byte for byte" \
    cmp -s "$T/openapi.body" docs/openapi.yaml

# ---- 404 and 405 -----------------------------------------------------------
for p in / /v1 /v1/nope /v1/decisions/a/b /v1/decisions/x/void/y /metricsx \
    /v1/rules/; do
	s=$(r nf GET "$p" -H "Authorization: Bearer $M")
	expect nf 404 "$s" "GET $p: no such route"
done
noallow=""
while read -r m p; do
	s=$(r na "$m" "$p" -H "Authorization: Bearer $M")
	expect na 405 "$s" "$m $p: method not allowed"
	[ -n "$(hdr na Allow)" ] || noallow="$noallow $m:$p"
done <<EOF
DELETE /v1/decisions
PUT /v1/decisions/batch
DELETE /v1/decisions/0000
GET /v1/decisions/0000/void
POST /v1/rules
POST /v1/audit/checkpoint
GET /v1/admin/reload
POST /healthz
POST /readyz
POST /metrics
PUT /v1/openapi.yaml
POST /v1/holds
GET /v1/decisions/0000/resolve
EOF
check "every 405 says which methods are allowed (RFC 9110 15.5.6: Allow)\
${noallow:+; no Allow header:$noallow}" [ -z "$noallow" ]
s=$(r head HEAD /healthz)
check "HEAD /healthz is answered like GET (RFC 9110 9.3.2), got $s" \
    [ "$s" = 200 ]

# ---- 401 and 403 -----------------------------------------------------------
while read -r m p; do
	s=$(r un "$m" "$p" -H "$JSON" --data '{}')
	expect un 401 "$s" "$m $p without a token"
	check "$m $p: 401 has WWW-Authenticate: Bearer" \
	    grep -qi '^WWW-Authenticate: Bearer' "$T/un.hdr"
	s=$(r un "$m" "$p" -H "Authorization: Bearer tg_0000" -H "$JSON" \
	    --data '{}')
	expect un 401 "$s" "$m $p with an unknown token"
done <<EOF
POST /v1/decisions
POST /v1/decisions/batch
GET /v1/decisions/0000
POST /v1/decisions/0000/void
GET /v1/rules
GET /v1/audit/checkpoint
GET /metrics
POST /v1/admin/reload
GET /v1/holds
POST /v1/decisions/0000/resolve
EOF
s=$(r un GET /v1/rules -H "Authorization: Bearer $REVOKED")
expect un 401 "$s" "a revoked token"
s=$(r un GET /v1/rules -H "Authorization: Basic $S")
expect un 401 "$s" "a token not sent as Bearer"
s=$(r un GET /v1/rules -H "Authorization: Bearer")
expect un 401 "$s" "an empty Bearer"
s=$(r un GET /v1/rules -H "Authorization: Bearer $METRICS_TOKEN")
expect un 401 "$s" "the metrics_token outside /metrics"
# RFC 9110 11.1: the scheme is case-insensitive; RFC 6750 2.1: one or
# more spaces before the token.
s=$(r au GET /v1/rules -H "Authorization: bearer $S")
expect au 200 "$s" "the scheme written 'bearer'"
s=$(r au GET /v1/rules -H "Authorization: BEARER  $S")
expect au 200 "$s" "the scheme written 'BEARER', two spaces before the token"
while read -r role m p; do
	case $role in
	screen) t=$S ;;
	audit) t=$A ;;
	*) t=$M ;;
	esac
	s=$(r fb "$m" "$p" -H "Authorization: Bearer $t" -H "$JSON" \
	    --data-binary @etc/examples/lpp-h100-in.json)
	expect fb 403 "$s" "$m $p with a $role token"
done <<EOF
audit POST /v1/decisions
audit POST /v1/decisions/batch
audit POST /v1/decisions/0000/void
screen GET /v1/audit/checkpoint
screen GET /metrics
audit GET /metrics
screen POST /v1/admin/reload
audit POST /v1/admin/reload
screen GET /v1/holds
screen POST /v1/decisions/0000/resolve
EOF

# ---- decisions: the same bytes as `tiergate check` -------------------------
# The daemon's ledger and a fresh one for check see the same queries in the
# same order, so quotas agree too.
sed 's/"dry_run": true/"dry_run": false/' etc/examples/lpp-h100-in.json \
    >"$T/binding.json"
i=0
for q in etc/examples/aia-h100-de.json etc/examples/lpp-h100-in.json \
    etc/examples/license-h100-my-cn-parent.json \
    etc/examples/hold-training-service-br.json "$T/binding.json" \
    "$T/binding.json"; do
	i=$((i + 1))
	s=$(r "d$i" POST /v1/decisions -H "Authorization: Bearer $S" \
	    -H "$JSON" --data-binary @"$q")
	expect "d$i" 201 "$s" "POST /v1/decisions ${q##*/} (#$i)"
	"$TG" --data-dir "$T/check" check "$q" >"$T/c$i.json" 2>"$T/c$i.err" \
	    </dev/null
	decision_core "$T/d$i.body" noid >"$T/d$i.core"
	decision_core "$T/c$i.json" noid >"$T/c$i.core"
	if [ -s "$T/c$i.core" ] && cmp -s "$T/d$i.core" "$T/c$i.core"; then
		ok "decision #$i is what tiergate check prints ($(json_str \
		    "$T/d$i.body" outcome))"
	else
		not_ok "decision #$i differs from tiergate check's:"
		diff "$T/c$i.core" "$T/d$i.core" | head -n 10 | sed 's/^/#   /'
	fi
	check "decision #$i is application/json" \
	    [ "$(hdr "d$i" Content-Type)" = application/json ]
	if has_required "d$i" Decision; then
		ok "decision #$i has every required member of Decision"
	else
		not_ok "decision #$i lacks$missing"
	fi
	if has_required "d$i" Receipt; then
		ok "decision #$i has a receipt with every required member"
	else
		not_ok "decision #$i: receipt lacks$missing"
	fi
	if "$TG" audit verify-receipt --key "$DATA/signing.pub" \
	    "$T/d$i.body" >"$T/vr" 2>&1 </dev/null; then
		ok "decision #$i: the receipt verifies offline"
	else
		not_ok "decision #$i: receipt: $(cat "$T/vr")"
	fi
done
s=$(r adm POST /v1/decisions -H "Authorization: Bearer $M" -H "$JSON" \
    --data-binary @etc/examples/aia-h100-de.json)
expect adm 201 "$s" "an admin token may decide"
s=$(r cs POST /v1/decisions -H "Authorization: Bearer $S" \
    -H "Content-Type: application/json; charset=utf-8" \
    --data-binary @etc/examples/aia-h100-de.json)
expect cs 201 "$s" "application/json; charset=utf-8 is JSON"

# ---- GET /v1/decisions/{id} ------------------------------------------------
for i in 1 5; do
	id=$(json_str "$T/d$i.body" decision_id)
	s=$(r "g$i" GET "/v1/decisions/$id" -H "Authorization: Bearer $S")
	expect "g$i" 200 "$s" "GET /v1/decisions/{id} of decision #$i"
	decision_core "$T/g$i.body" >"$T/g$i.core"
	decision_core "$T/d$i.body" >"$T/d$i.full"
	if cmp -s "$T/g$i.core" "$T/d$i.full"; then
		ok "GET answers decision #$i in POST's bytes (receipt apart)"
	else
		not_ok "GET answers decision #$i in other bytes than POST:"
		diff "$T/d$i.full" "$T/g$i.core" | head -n 6 | sed 's/^/#   /'
	fi
	for k in seq entry_hash key_id; do
		a=$(receipt_key "$T/d$i.body" "$k")
		b=$(receipt_key "$T/g$i.body" "$k")
		c=0
		[ -n "$a" ] && [ "$a" = "$b" ] && c=1
		check "GET decision #$i: receipt $k is POST's ($a)" [ $c -eq 1 ]
	done
	if "$TG" audit verify-receipt --key "$DATA/signing.pub" \
	    "$T/g$i.body" >"$T/vr" 2>&1 </dev/null; then
		ok "GET decision #$i: the receipt verifies offline"
	else
		not_ok "GET decision #$i: receipt: $(cat "$T/vr")"
	fi
done
s=$(r g0 GET /v1/decisions/01a00000-0000-7000-8000-000000000000 \
    -H "Authorization: Bearer $S")
expect g0 404 "$s" "GET /v1/decisions/{id} of an unknown id"
s=$(r g0 GET /v1/decisions/batch -H "Authorization: Bearer $S")
expect g0 404 "$s" "GET /v1/decisions/batch is no decision"

# ---- batch -----------------------------------------------------------------
{
	printf '{"transactions": ['
	cat etc/examples/lpp-h100-in.json
	printf ','
	cat etc/examples/license-h100-my-cn-parent.json
	printf ']}'
} >"$T/batch.json"
s=$(r b POST /v1/decisions/batch -H "Authorization: Bearer $S" -H "$JSON" \
    --data-binary @"$T/batch.json")
expect b 200 "$s" "POST /v1/decisions/batch with 2 transactions"
check "batch: application/json" [ "$(hdr b Content-Type)" = application/json ]
if has_required b BatchResponse; then
	ok "batch answer has every required member of BatchResponse"
else
	not_ok "batch answer lacks$missing"
fi
n=$(grep -o '"decision_id": *"[^"]*"' "$T/b.body" | wc -l)
check "batch: 2 decisions (got $n)" [ "$n" -eq 2 ]
check "batch: answered in order (EX-2025-0002, then EX-2025-0003)" \
    [ "$(grep -o '"reference": *"[^"]*"' "$T/b.body" | tr -d ' \n')" = \
    '"reference":"EX-2025-0002""reference":"EX-2025-0003"' ]
n=$(grep -o '"entry_hash"' "$T/b.body" | wc -l)
check "batch: each decision has its receipt (got $n)" [ "$n" -eq 2 ]
grep -o '"decision_id": *"[^"]*"' "$T/b.body" |
    sed 's/.*: *"\(.*\)"/\1/' >"$T/b.ids"
while read -r id; do
	s=$(r bg GET "/v1/decisions/$id" -H "Authorization: Bearer $S")
	expect bg 200 "$s" "batch decision $id is logged"
done <"$T/b.ids"
{
	printf '{"transactions": ['
	cat etc/examples/lpp-h100-in.json
	printf ',{"destination": "IN", "consignee": {"name": "x"},'
	printf ' "items": [{"kind": "chip", "tpp": "big",'
	printf ' "die_area_mm2": 1}]}]}'
} >"$T/batch-bad.json"
s=$(r bb POST /v1/decisions/batch -H "Authorization: Bearer $S" -H "$JSON" \
    --data-binary @"$T/batch-bad.json")
expect_ptr bb 422 "$s" /transactions/1/items/0/tpp \
    "a batch with a bad second transaction"
s=$(r bb POST /v1/decisions/batch -H "Authorization: Bearer $S" -H "$JSON" \
    --data '{"transactions": []}')
expect_ptr bb 422 "$s" /transactions "a batch of no transactions"
s=$(r bb POST /v1/decisions/batch -H "Authorization: Bearer $S" -H "$JSON" \
    --data '{"transactions": [], "x": 1}')
check "a batch with an unknown member is 422 (got $s)" [ "$s" = 422 ]
s=$(r bb POST /v1/decisions/batch -H "Authorization: Bearer $S" -H "$JSON" \
    --data '[]')
expect bb 422 "$s" "a batch that is not an object"

# ---- void ------------------------------------------------------------------
id=$(json_str "$T/d5.body" decision_id)
s=$(r v POST "/v1/decisions/$id/void" -H "Authorization: Bearer $S" \
    -H "$JSON" --data '{"reason": "order cancelled", "officer": "api test"}')
expect v 200 "$s" "void a binding decision"
if has_required v VoidResponse; then
	ok "void answer has every required member of VoidResponse"
else
	not_ok "void answer lacks$missing"
fi
check "void answer names the decision" grep -q "\"decision_id\":\"$id\"" \
    "$T/v.body"
check "void released the reservation" grep -q '"released":[1-9]' "$T/v.body"
s=$(r v POST "/v1/decisions/$id/void" -H "Authorization: Bearer $S" \
    -H "$JSON" --data '{"reason": "again"}')
expect v 409 "$s" "void the same decision again"
s=$(r v POST /v1/decisions/01a00000-0000-7000-8000-000000000000/void \
    -H "Authorization: Bearer $S" -H "$JSON" --data '{"reason": "x"}')
expect v 404 "$s" "void an unknown decision"
id=$(json_str "$T/d6.body" decision_id)
s=$(r v POST "/v1/decisions/$id/void" -H "Authorization: Bearer $S" \
    -H "$JSON" --data '{}')
expect_ptr v 422 "$s" /reason "void without a reason"
s=$(r v POST "/v1/decisions/$id/void" -H "Authorization: Bearer $S" \
    -H "Content-Type: text/plain" --data 'cancelled')
expect v 415 "$s" "void with a text/plain body"

# ---- holds -----------------------------------------------------------------
hid=$(json_str "$T/d4.body" decision_id)
check "decision #4 is a hold" grep -q '^  "outcome": "hold",' "$T/d4.body"
s=$(r h GET /v1/holds -H "Authorization: Bearer $A")
expect h 200 "$s" "GET /v1/holds (audit)"
if has_required h Holds; then
	ok "holds answer has every required member of Holds"
else
	not_ok "holds answer lacks$missing"
fi
check "the hold is listed, open" grep -q \
    "\"decision_id\":\"$hid\".*\"status\":\"open\"" "$T/h.body"
rs() {
	r "$1" POST "/v1/decisions/$2/resolve" -H "Authorization: Bearer $A" \
	    -H "$JSON" --data "$3"
}
s=$(rs rs "$hid" '{"resolution": "release", "reason": "checked"}')
expect_ptr rs 422 "$s" /officer "resolve without an officer"
s=$(rs rs "$hid" '{"resolution": "maybe", "reason": "x", "officer": "o"}')
expect_ptr rs 422 "$s" /resolution "resolve with resolution 'maybe'"
s=$(rs rs "$hid" '{"resolution": "reject", "officer": "o"}')
expect_ptr rs 422 "$s" /reason "resolve without a reason"
s=$(rs rs "$(json_str "$T/d1.body" decision_id)" \
    '{"resolution": "release", "reason": "x", "officer": "o"}')
expect rs 404 "$s" "resolve a decision that is no hold"
s=$(r rs POST "/v1/decisions/$hid/resolve" -H "Authorization: Bearer $A" \
    -H "Content-Type: text/plain" --data 'release')
expect rs 415 "$s" "resolve with a text/plain body"
s=$(rs rs "$hid" \
    '{"resolution": "release", "reason": "end use checked", "officer": "api"}')
expect rs 200 "$s" "resolve the hold: release"
if has_required rs ResolveResponse; then
	ok "resolve answer has every required member of ResolveResponse"
else
	not_ok "resolve answer lacks$missing"
fi
s=$(rs rs "$hid" '{"resolution": "reject", "reason": "x", "officer": "o"}')
expect rs 409 "$s" "resolve the same hold again"
s=$(r h GET "/v1/holds?open=true" -H "Authorization: Bearer $A")
expect h 200 "$s" "GET /v1/holds?open=true"
checkx "the released hold is no longer open" '! grep -q "$hid" "$T/h.body"'
# docs/openapi.yaml: anything but "true" lists every hold.
s=$(r h GET "/v1/holds?open=maybe" -H "Authorization: Bearer $A")
expect h 200 "$s" "GET /v1/holds?open=maybe"
check "open=maybe lists every hold, the released one too" grep -q "$hid" \
    "$T/h.body"
s=$(r h GET /v1/holds -H "Authorization: Bearer $M")
expect h 200 "$s" "GET /v1/holds (admin)"
check "the hold is listed, released" grep -q \
    "\"decision_id\":\"$hid\".*\"status\":\"released\"" "$T/h.body"

# ---- rules, checkpoint, metrics, reload ------------------------------------
s=$(r ru GET /v1/rules -H "Authorization: Bearer $S")
expect ru 200 "$s" "GET /v1/rules (screen)"
if has_required ru Rules; then
	ok "rules answer has every required member of Rules"
else
	not_ok "rules answer lacks$missing"
fi
check "rules: the pack in use is ai-diffusion-2025" \
    grep -q '"pack":"ai-diffusion-2025"' "$T/ru.body"
check "rules: last reload ok" grep -q '"last_reload":{"ok":true' \
    "$T/ru.body"
sha=$(sed -n '/"rules": {/,/}/ s/.*"sha256": "\([0-9a-f]*\)".*/\1/p' \
    "$T/d1.body")
check "rules: the pack's sha256 is the decisions' ($sha)" \
    grep -q "\"sha256\":\"$sha\"" "$T/ru.body"

s=$(r cp GET /v1/audit/checkpoint -H "Authorization: Bearer $A")
expect cp 200 "$s" "GET /v1/audit/checkpoint (audit)"
check "checkpoint is text/plain" \
    [ "$(hdr cp Content-Type | cut -d';' -f1)" = text/plain ]
size=$(sed -n 2p "$T/cp.body")
c=0
[ "$(head -c 9 "$T/cp.body")" = tiergate/ ] && [ "${size:-0}" -ge 10 ] &&
    grep -q '^— tiergate/' "$T/cp.body" && c=1
check "checkpoint: a signed note of the log (tree size $size >= 10)" \
    [ $c -eq 1 ]
s=$(r cp GET /v1/audit/checkpoint -H "Authorization: Bearer $M")
expect cp 200 "$s" "GET /v1/audit/checkpoint (admin)"

s=$(r me GET /metrics -H "Authorization: Bearer $M")
expect me 200 "$s" "GET /metrics (admin)"
check "metrics: Prometheus text format" \
    [ "$(hdr me Content-Type)" = "text/plain; version=0.0.4" ]
n=$(awk '/^tiergate_decisions_total\{/ { s += $2 } END { print s + 0 }' \
    "$T/me.body")
check "metrics: tiergate_decisions_total counts the decisions ($n >= 10)" \
    [ "$n" -ge 10 ]
check "metrics: requests by route and status" grep -q \
    '^tiergate_http_requests_total{route="decisions",code="2xx"} [1-9]' \
    "$T/me.body"
check "metrics: the rule pack" \
    grep -q '^tiergate_rule_pack_info{pack="ai-diffusion-2025"' "$T/me.body"
s=$(r me GET /metrics -H "Authorization: Bearer $METRICS_TOKEN")
expect me 200 "$s" "GET /metrics with the config's metrics_token"

s=$(r rl POST /v1/admin/reload -H "Authorization: Bearer $M")
expect rl 200 "$s" "POST /v1/admin/reload (admin)"
if has_required rl ReloadResult; then
	ok "reload answer has every required member of ReloadResult"
else
	not_ok "reload answer lacks$missing"
fi

# ---- every status seen is in docs/openapi.yaml -----------------------------
# Paths become templates; methods the document does not list for a path
# (the 405 probes) and routes it does not have (404 probes) are skipped.
undoc=""
checked=0
while read -r m p st; do
	case $p in
	/v1/decisions/batch) tp=$p ;;
	/v1/decisions/*/void) tp="/v1/decisions/{id}/void" ;;
	/v1/decisions/*/resolve) tp="/v1/decisions/{id}/resolve" ;;
	/v1/decisions/*/*) continue ;;
	/v1/decisions/*) tp="/v1/decisions/{id}" ;;
	*) tp=${p%%\?*} ;;
	esac
	lm=$(echo "$m" | tr '[:upper:]' '[:lower:]')
	grep -qx "  $tp:" docs/openapi.yaml || continue
	awk -v p="  $tp:" -v m="    $lm:" '$0 == p { on = 1; next }
	    on && /^  [^ ]/ { on = 0 } on && $0 == m { f = 1 }
	    END { exit !f }' docs/openapi.yaml || continue
	checked=$((checked + 1))
	documented "$tp" "$lm" "$st" || undoc="$undoc $m:$tp:$st"
done <<EOF
$(sort -u "$T/seen")
EOF
c=0
[ -z "$undoc" ] && [ "$checked" -gt 20 ] && c=1
check "every status seen ($checked kinds) is documented in \
openapi.yaml${undoc:+; not:$undoc}" [ $c -eq 1 ]

stop_daemon "$DPID"
check "the daemon exits 0 on SIGTERM (got $RC)" [ "$RC" -eq 0 ]
"$TG" --data-dir "$DATA" audit verify >"$T/verify" 2>&1 </dev/null
c=$?
check "audit verify after the run: $(verify_line "$T/verify")" [ $c -eq 0 ]
finish
