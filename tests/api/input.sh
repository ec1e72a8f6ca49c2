#!/bin/sh
# input.sh TIERGATE: what `tiergate serve` does with bad requests (issue 5,
# "Tests"), against real daemons on 127.0.0.1 with ephemeral ports and
# temporary data dirs, driven with curl:
#
#   - 415 for bodies that are not application/json (or not UTF-8); the
#     media type is matched without regard to case;
#   - 400, connection closed, for two Content-Length headers or one with
#     Transfer-Encoding;
#   - 400 for malformed JSON, duplicate keys, NaN/Infinity, numbers beyond
#     a double or an integer, ill-formed UTF-8, escaped surrogates and NUL,
#     nesting deeper than the limit, strings longer than the limit (the
#     last two with the JSON pointer of the offending value);
#   - 422 for wrong types, values out of range, unknown and missing
#     members, each with its JSON pointer in errors[0].pointer;
#   - nothing of it is logged: the audit log does not grow;
#   - with a small-limit config: 413 for a body over body_max, answered
#     from Content-Length before the body is read; 413 for a chunked body
#     over it, for more than items_max items and more than batch_max
#     transactions; json_depth_max and string_max are those of the config;
#     with queue_max 1, a burst is answered 201 or 503 with Retry-After;
#   - with rate_limit 1/s: 429 with Retry-After once the burst is spent,
#     per token, and 200 again after Retry-After seconds.
#
# Every error must be application/problem+json with type, title, status,
# detail and errors.  Ends with "N passed, N failed"; exits 1 if any test
# failed.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

JSON="Content-Type: application/json"
P='"destination": "IN", "consignee": {"name": "Acme"}'
ITEM='{"kind": "chip", "product": "nvidia-h100-sxm"}'

# post NAME BODY-FILE [CURL-ARGS...]: POST /v1/decisions as screen.
post() {
	n=$1
	f=$2
	shift 2
	req "$n" POST /v1/decisions -H "Authorization: Bearer $S" "$@" \
	    --data-binary @"$f"
}

# body FILE TEXT: TEXT (printf format, no arguments) into FILE.
body() {
	# shellcheck disable=SC2059
	printf "$2" >"$1"
}

# nest N OPEN: OPEN repeated N times.
nest() {
	awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++)
	    printf "%s", s }'
}

if ! start input; then
	not_ok "the daemon starts"
	finish
fi
S=$(tok screen)
A=$(tok audit)
s=$(req cp0 GET /v1/audit/checkpoint -H "Authorization: Bearer $A")
size0=$(sed -n 2p "$T/cp0.body")

# ---- 415 -------------------------------------------------------------------
body "$T/ok.json" "{$P, \"items\": [$ITEM], \"dry_run\": true}"
s=$(post e "$T/ok.json" -H "Content-Type: text/plain")
expect e 415 "$s" "a text/plain body"
s=$(post e "$T/ok.json" -H "Content-Type:")
expect e 415 "$s" "a body without Content-Type"
s=$(post e "$T/ok.json" -H "Content-Type: application/jsonx")
expect e 415 "$s" "Content-Type application/jsonx"
s=$(post e "$T/ok.json" -H "Content-Type: application/x-www-form-urlencoded")
expect e 415 "$s" "a form body"
s=$(post e "$T/ok.json" -H "Content-Type: application/json; charset=utf-16")
expect e 415 "$s" "application/json in UTF-16"
s=$(post e "$T/ok.json" -H "Content-Type: application/json;charset=latin1")
expect e 415 "$s" "application/json in Latin-1"

# ---- 400: framing ----------------------------------------------------------
# Two lengths, or a length and chunked: where the body ends is ambiguous
# (RFC 9112 6.3), so the answer is 400 and the connection is closed rather
# than the rest read as another request.
s=$(post e "$T/ok.json" -H "$JSON" -H "Content-Length: 5" \
    -H "Content-Length: $(wc -c <"$T/ok.json")")
expect e 400 "$s" "two Content-Length headers"
check "... and the connection is closed" [ "$(hdr e Connection)" = close ]
s=$(post e "$T/ok.json" -H "$JSON" -H "Content-Length: 5" \
    -H "Transfer-Encoding: chunked")
expect e 400 "$s" "Content-Length and Transfer-Encoding: chunked"
check "... and the connection is closed" [ "$(hdr e Connection)" = close ]

# ---- 400: syntax -----------------------------------------------------------
while read -r name text; do
	body "$T/bad.json" "$text"
	s=$(post e "$T/bad.json" -H "$JSON")
	expect_ptr e 400 "$s" "" "$name"
done <<EOF
unclosed-object {
empty-body 
not-an-object "x"
trailing-garbage {"reference": "x"} x
single-quotes {'reference': 'x'}
trailing-comma {"reference": "x",}
duplicate-key {"destination": "IN", "destination": "DE"}
nested-duplicate-key {"destination": "IN", "consignee": {"name": "a", "name": "b"}}
NaN {"destination": "IN", "items": [{"kind": "chip", "tpp": NaN}]}
Infinity {"destination": "IN", "items": [{"kind": "chip", "tpp": Infinity}]}
1e400 {"destination": "IN", "items": [{"kind": "chip", "tpp": 1e400}]}
-1e400 {"destination": "IN", "items": [{"kind": "chip", "tpp": -1e400}]}
huge-integer {"destination": "IN", "items": [{"kind": "chip", "quantity": 99999999999999999999999}]}
invalid-UTF-8 {"reference": "\377\376"}
overlong-UTF-8 {"reference": "\300\257"}
UTF-16-surrogate {"reference": "\\\\ud800"}
escaped-NUL {"reference": "a\\\\u0000b"}
raw-control-char {"reference": "a\001b"}
EOF

# Nesting: 40 levels inside "reference" (the limit is 32, the root being
# level 1), and 3000 (jansson's own parser limit).
o=$(nest 40 '[')
c=$(nest 40 ']')
body "$T/deep.json" "{\"reference\": $o$c, $P, \"items\": [$ITEM]}"
s=$(post e "$T/deep.json" -H "$JSON")
expect_ptr e 400 "$s" "/reference$(nest 31 /0)" "nesting 41 levels deep"
o=$(nest 3000 '[')
c=$(nest 3000 ']')
body "$T/deep.json" "{\"reference\": $o$c}"
s=$(post e "$T/deep.json" -H "$JSON")
expect_ptr e 400 "$s" "" "nesting 3001 levels deep"
o=$(nest 31 '[')
c=$(nest 31 ']')
body "$T/deep.json" "{\"reference\": $o$c, $P, \"items\": [$ITEM]}"
s=$(post e "$T/deep.json" -H "$JSON")
expect_ptr e 422 "$s" /reference \
    "32 levels: within the limit, then a type error"

# Strings: beyond 4096 bytes is syntax (400); a reference beyond 128 bytes
# is a field error (422).
long=$(nest 5000 a)
body "$T/long.json" "{\"reference\": \"$long\", $P, \"items\": [$ITEM]}"
s=$(post e "$T/long.json" -H "$JSON")
expect_ptr e 400 "$s" /reference "a 5000-byte reference"
body "$T/long.json" \
    "{\"destination\": \"IN\", \"consignee\": {\"name\": \"$long\"},
    \"items\": [$ITEM]}"
s=$(post e "$T/long.json" -H "$JSON")
expect_ptr e 400 "$s" /consignee/name "a 5000-byte consignee name"
body "$T/long.json" "{\"$long\": 1}"
s=$(post e "$T/long.json" -H "$JSON")
checkx "a 5000-byte member name is refused (got $s)" \
    '[ "$s" = 400 ] || [ "$s" = 422 ]'
long=$(nest 129 a)
body "$T/long.json" "{\"reference\": \"$long\", $P, \"items\": [$ITEM]}"
s=$(post e "$T/long.json" -H "$JSON")
expect_ptr e 422 "$s" /reference "a 129-byte reference"

# ---- 422: fields -----------------------------------------------------------
while read -r ptr text; do
	body "$T/bad.json" "$text"
	s=$(post e "$T/bad.json" -H "$JSON")
	expect_ptr e 422 "$s" "$ptr" "$text"
done <<EOF
/items/0/tpp {$P, "items": [{"kind": "chip", "tpp": "big", "die_area_mm2": 300}]}
/items/0/tpp {$P, "items": [{"kind": "chip", "tpp": -5, "die_area_mm2": 300}]}
/items/0/tpp {$P, "items": [{"kind": "chip", "tpp": 1e-400, "die_area_mm2": 300}]}
/items/0/quantity {$P, "items": [{"kind": "chip", "product": "nvidia-h100-sxm", "quantity": "1"}]}
/items/0/quantity {$P, "items": [{"kind": "chip", "product": "nvidia-h100-sxm", "quantity": 1.5}]}
/items/0/quantity {$P, "items": [{"kind": "chip", "product": "nvidia-h100-sxm", "quantity": 0}]}
/items/0/quantity {$P, "items": [{"kind": "chip", "product": "nvidia-h100-sxm", "quantity": 1e20}]}
/items/0/kind {$P, "items": [{"kind": "gpu"}]}
/items/0/kind {$P, "items": [{"product": "nvidia-h100-sxm"}]}
/items/0/chips_per_unit {$P, "items": [{"kind": "system", "product": "nvidia-h100-sxm"}]}
/items/1/datacenter {$P, "items": [$ITEM, {"kind": "chip", "product": "nvidia-h100-sxm", "datacenter": "yes"}]}
/items {$P, "items": {}}
/items {$P, "items": []}
/items {$P}
/dry_run {$P, "items": [$ITEM], "dry_run": "yes"}
/consignee {"destination": "IN", "items": [$ITEM]}
/consignee {"destination": "IN", "consignee": "Acme", "items": [$ITEM]}
/consignee/ultimate_parnet {"destination": "IN", "consignee": {"name": "a", "ultimate_parnet": "US"}, "items": [$ITEM]}
/consignee/country {"destination": "IN", "consignee": {"name": "a", "country": "ZZZ"}, "items": [$ITEM]}
/destination {"destination": 7, "consignee": {"name": "a"}, "items": [$ITEM]}
/destination {"destination": "XX", "consignee": {"name": "a"}, "items": [$ITEM]}
/date {"date": "2025-13-01", $P, "items": [$ITEM]}
/reference {"reference": null, $P, "items": [$ITEM]}
/colour {"colour": "red", $P, "items": [$ITEM]}
EOF
body "$T/bad.json" "[]"
s=$(post e "$T/bad.json" -H "$JSON")
expect_ptr e 422 "$s" "" "a query that is an array: pointer '' (the document)"

s=$(req cp1 GET /v1/audit/checkpoint -H "Authorization: Bearer $A")
size1=$(sed -n 2p "$T/cp1.body")
checkx "no rejected request was logged (tree size $size0, then $size1)" \
    '[ -n "$size0" ] && [ "$size0" = "$size1" ]'
s=$(post okd "$T/ok.json" -H "$JSON")
expect okd 201 "$s" "a good query after all that"
# RFC 9110 8.3.1: type, subtype and parameter names are case-insensitive,
# and whitespace may surround the ';'.
s=$(post okct "$T/ok.json" -H "Content-Type: Application/JSON")
expect okct 201 "$s" "Content-Type Application/JSON"
s=$(post okct "$T/ok.json" \
    -H 'Content-Type: application/json ; Charset="UTF-8"')
expect okct 201 "$s" "Content-Type application/json ; Charset=\"UTF-8\""
stop_daemon "$DPID"
check "the daemon exits 0 (got $RC)" [ "$RC" -eq 0 ]

# ---- small limits ----------------------------------------------------------
cat >"$T/small.yaml" <<EOF
rules:
  - rules
limits:
  body_max: 1 KiB
  items_max: 2
  batch_max: 2
  json_depth_max: 8
  string_max: 64
  queue_max: 1
EOF
if ! start small "$T/small.yaml"; then
	not_ok "the daemon starts with $T/small.yaml"
	finish
fi
S=$(tok screen)
pad=$(nest 2000 ' ')
body "$T/big.json" "{$P, \"items\": [$ITEM], \"dry_run\": true$pad}"
s=$(post e "$T/big.json" -H "$JSON")
expect e 413 "$s" "a 2 KB body over body_max 1 KiB"
# Content-Length says 10 MB, one byte follows: only an answer made from the
# header can come before curl's time limit.
s=$(req e POST /v1/decisions -H "Authorization: Bearer $S" -H "$JSON" \
    -H "Content-Length: 10000000" --data x --max-time $((5 * SLOW)))
expect e 413 "$s" "Content-Length 10 MB: 413 before the body is read"
s=$( (printf '{"reference": "x"'; echo "$pad"; printf '}') |
    req e POST /v1/decisions -H "Authorization: Bearer $S" -H "$JSON" \
    -H "Expect:" -T -)
expect e 413 "$s" "a chunked 2 KB body over body_max"
body "$T/items.json" "{$P, \"items\": [$ITEM, $ITEM, $ITEM], \"dry_run\": true}"
s=$(post e "$T/items.json" -H "$JSON")
expect_ptr e 413 "$s" /items "3 items over items_max 2"
body "$T/items.json" "{$P, \"items\": [$ITEM, $ITEM], \"dry_run\": true}"
s=$(post okd "$T/items.json" -H "$JSON")
expect okd 201 "$s" "2 items, items_max 2"
q="{$P, \"items\": [$ITEM], \"dry_run\": true}"
body "$T/batch.json" "{\"transactions\": [$q, $q, $q]}"
s=$(req e POST /v1/decisions/batch -H "Authorization: Bearer $S" -H "$JSON" \
    --data-binary @"$T/batch.json")
expect_ptr e 413 "$s" /transactions "3 transactions over batch_max 2"
o=$(nest 10 '[')
c=$(nest 10 ']')
body "$T/deep.json" "{\"reference\": $o$c, $P, \"items\": [$ITEM]}"
s=$(post e "$T/deep.json" -H "$JSON")
expect_ptr e 400 "$s" "/reference$(nest 7 /0)" \
    "nesting 11 levels deep, json_depth_max 8"
long=$(nest 100 a)
body "$T/long.json" \
    "{\"destination\": \"IN\", \"consignee\": {\"name\": \"$long\"},
    \"items\": [$ITEM], \"dry_run\": true}"
s=$(post e "$T/long.json" -H "$JSON")
expect_ptr e 400 "$s" /consignee/name "a 100-byte name, string_max 64"

# A burst with queue_max 1: each answer is a decision, or 503 with
# Retry-After (never a hang, never another error).
i=0
pids=""
while [ $i -lt 16 ]; do
	i=$((i + 1))
	post "q$i" "$T/ok.json" -H "$JSON" >"$T/q$i.st" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
n201=0
n503=0
bad=""
i=0
while [ $i -lt 16 ]; do
	i=$((i + 1))
	case $(cat "$T/q$i.st") in
	201) n201=$((n201 + 1)) ;;
	503)
		if is_problem "q$i" 503 && [ -n "$(hdr "q$i" Retry-After)" ]
		then
			n503=$((n503 + 1))
		else
			bad="$bad q$i:503-without-Retry-After"
		fi
		;;
	*) bad="$bad q$i:$(cat "$T/q$i.st")" ;;
	esac
done
checkx "queue_max 1, 16 at once: $n201 decided, $n503 told to retry\
${bad:+;$bad}" '[ -z "$bad" ] && [ $n201 -ge 1 ]'
stop_daemon "$DPID"
check "the daemon exits 0 (got $RC)" [ "$RC" -eq 0 ]

# ---- rate limit ------------------------------------------------------------
cat >"$T/rate.yaml" <<EOF
rules:
  - rules
limits:
  rate_limit: 1
  rate_burst: 2
EOF
if ! start rate "$T/rate.yaml"; then
	not_ok "the daemon starts with $T/rate.yaml"
	finish
fi
S=$(tok screen)
S2=$(tok screen other)
s1=$(req r1 GET /v1/rules -H "Authorization: Bearer $S")
s2=$(req r2 GET /v1/rules -H "Authorization: Bearer $S")
s3=$(req r3 GET /v1/rules -H "Authorization: Bearer $S")
checkx "rate_limit 1/s, burst 2: the burst is served ($s1 $s2)" \
    '[ "$s1" = 200 ] && [ "$s2" = 200 ]'
expect r3 429 "$s3" "the third request at once"
ra=$(hdr r3 Retry-After)
case $ra in
[1-9] | [1-9][0-9]) ok "429 has Retry-After: $ra" ;;
*) not_ok "429 has no usable Retry-After ('$ra')"; ra=1 ;;
esac
s=$(req r4 GET /v1/rules -H "Authorization: Bearer $S2")
expect r4 200 "$s" "another token is not limited by the first one's use"
s=$(req r5 POST /v1/decisions -H "Authorization: Bearer $S" -H "$JSON" \
    --data-binary @"$T/ok.json")
expect r5 429 "$s" "decisions count against the same token's rate"
sleep "$ra"
s=$(req r6 GET /v1/rules -H "Authorization: Bearer $S")
expect r6 200 "$s" "served again after Retry-After ($ra s)"
stop_daemon "$DPID"
check "the daemon exits 0 (got $RC)" [ "$RC" -eq 0 ]
finish
