#!/bin/sh
# reload.sh TIERGATE: rule pack reloads under load (issue 5, "Tests":
# "reload under load with a broken pack").  The daemon's rules are a copy
# of rules/ in the test's directory, named by the config's `rules:`.
#
#   - While two clients post decisions back to back, the pack is broken
#     and POST /v1/admin/reload answers 422 (problem+json); /v1/rules shows
#     last_reload.ok false with the error and the old pack; every decision
#     of the clients is answered 201 by the old pack.
#   - SIGHUP with the pack still broken: the same.
#   - The pack is mended with a new version; SIGHUP loads it: /v1/rules
#     shows it, new decisions carry it, and each client's decisions change
#     pack once, old to new, never back.
#   - POST /v1/admin/reload of a good pack: 200 {"ok": true}.
#   - Each load is an audit entry (rules_loaded); audit verify passes.
#
# Ends with "N passed, N failed"; exits 1 if any test failed.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

JSON="Content-Type: application/json"
PACK=$T/rules/ai-diffusion-2025.yaml
mkdir "$T/rules" && cp rules/*.yaml "$T/rules/" || exit 2
cat >"$T/reload.yaml" <<EOF
rules:
  - $T/rules
EOF
if ! start reload "$T/reload.yaml"; then
	not_ok "the daemon starts with rules from $T/rules"
	finish
fi
S=$(tok screen)
M=$(tok admin)

# rules_field NAME KEY: KEY of the pack in /v1/rules (compact JSON).
rules_get() {
	req "$1" GET /v1/rules -H "Authorization: Bearer $S" >/dev/null
}
pack_sha() {
	sed -n 's/.*"packs":\[{[^]]*"sha256":"\([0-9a-f]*\)".*/\1/p' \
	    "$T/$1.body"
}
pack_version() {
	sed -n 's/.*"packs":\[{[^]]*"version":"\([^"]*\)".*/\1/p' "$T/$1.body"
}

rules_get r0
OLD_SHA=$(pack_sha r0)
OLD_VERSION=$(pack_version r0)
checkx "the pack in use at start: $OLD_VERSION $OLD_SHA" \
    '[ -n "$OLD_SHA" ] && [ -n "$OLD_VERSION" ]'

# client W: posts decisions until $T/stop exists; one line per answer in
# $T/client.W: "STATUS PACK-SHA256".
client() {
	w=$1
	i=0
	: >"$T/client.$w"
	while [ ! -e "$T/stop" ] && [ $i -lt 2000 ]; do
		i=$((i + 1))
		s=$(req "c$w" POST /v1/decisions -H "Authorization: Bearer $S" \
		    -H "$JSON" --data-binary @etc/examples/aia-h100-de.json)
		sha=$(sed -n '/^  "rules": {/,/^  }/ s/.*"sha256": "\(.*\)".*/\1/p'\
		    "$T/c$w.body")
		echo "$s ${sha:--}" >>"$T/client.$w"
	done
}
client 1 &
C1=$!
client 2 &
C2=$!

# count_answers: answers so far, all clients.
count_answers() {
	cat "$T/client.1" "$T/client.2" 2>/dev/null | wc -l
}
# wait_answers N: until the clients have N more answers (at most 10 s).
wait_answers() {
	want=$(($(count_answers) + $1))
	i=0
	while [ "$(count_answers)" -lt $want ] && [ $i -lt $((100 * SLOW)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
}
wait_answers 10

# ---- a broken pack ---------------------------------------------------------
cp "$PACK" "$T/pack.orig"
printf '\nrules:\n  - id: [unclosed\n' >>"$PACK"
s=$(req rl POST /v1/admin/reload -H "Authorization: Bearer $M")
expect rl 422 "$s" "POST /v1/admin/reload with a broken pack"
check "the 422 says what is wrong" grep -q 'ai-diffusion-2025.yaml' \
    "$T/rl.body"
rules_get r1
check "/v1/rules: last_reload.ok is false" \
    grep -q '"last_reload":{"ok":false' "$T/r1.body"
check "/v1/rules: last_reload.error names the file" \
    grep -q '"error":"[^"]*ai-diffusion-2025.yaml' "$T/r1.body"
checkx "/v1/rules: the old pack is still in use" \
    '[ "$(pack_sha r1)" = "$OLD_SHA" ]'
wait_answers 10
s=$(req d1 POST /v1/decisions -H "Authorization: Bearer $S" -H "$JSON" \
    --data-binary @etc/examples/lpp-h100-in.json)
expect d1 201 "$s" "a decision after the failed reload"
check "... decided by the old pack" grep -q "\"sha256\": \"$OLD_SHA\"" \
    "$T/d1.body"

kill -HUP "$DPID"
sleep 0.5
rules_get r2
check "SIGHUP with the pack still broken: last_reload.ok false" \
    grep -q '"last_reload":{"ok":false' "$T/r2.body"
checkx "SIGHUP with the pack still broken: the old pack in use" \
    '[ "$(pack_sha r2)" = "$OLD_SHA" ]'
check "the daemon is still running" kill -0 "$DPID"
wait_answers 10

# ---- mended, with a new version --------------------------------------------
sed "s/^  version: \"$OLD_VERSION\"/  version: \"$OLD_VERSION-api\"/" \
    "$T/pack.orig" >"$PACK"
kill -HUP "$DPID"
i=0
while [ $i -lt $((50 * SLOW)) ]; do
	rules_get r3
	[ "$(pack_version r3)" = "$OLD_VERSION-api" ] && break
	sleep 0.1
	i=$((i + 1))
done
NEW_SHA=$(pack_sha r3)
checkx "SIGHUP with a good pack: version $OLD_VERSION-api in use" \
    '[ "$(pack_version r3)" = "$OLD_VERSION-api" ]'
check "SIGHUP with a good pack: last_reload.ok true" \
    grep -q '"last_reload":{"ok":true' "$T/r3.body"
checkx "the new pack has another sha256" \
    '[ -n "$NEW_SHA" ] && [ "$NEW_SHA" != "$OLD_SHA" ]'
wait_answers 10
s=$(req d2 POST /v1/decisions -H "Authorization: Bearer $S" -H "$JSON" \
    --data-binary @etc/examples/lpp-h100-in.json)
expect d2 201 "$s" "a decision after SIGHUP"
check "... decided by the new pack" \
    grep -q "\"version\": \"$OLD_VERSION-api\"" "$T/d2.body"

s=$(req rl POST /v1/admin/reload -H "Authorization: Bearer $M")
expect rl 200 "$s" "POST /v1/admin/reload with a good pack"
check "... says ok" grep -q '"ok":true' "$T/rl.body"
wait_answers 5
: >"$T/stop"
wait "$C1"
wait "$C2"

# ---- what the clients saw --------------------------------------------------
n=$(count_answers)
bad=$(cat "$T/client.1" "$T/client.2" | grep -cv '^201 ')
checkx "every one of the clients' $n decisions during the reloads is 201 \
($bad not)" '[ "$n" -ge 40 ] && [ "$bad" -eq 0 ]'
for w in 1 2; do
	# The pack of each answer, in order: old ones, then new ones.
	seq=$(awk -v o="$OLD_SHA" -v n="$NEW_SHA" '
	    $2 == o { s = s "o" } $2 == n { s = s "n" } $2 != o && $2 != n {
		s = s "?" } END { print s }' "$T/client.$w" | tr -s 'on?')
	checkx "client $w: old pack, then the new one ($seq)" '[ "$seq" = on ]'
done

stop_daemon "$DPID"
check "the daemon exits 0 on SIGTERM (got $RC)" [ "$RC" -eq 0 ]
"$TG" --data-dir "$DATA" audit export >"$T/export" 2>"$T/export.err" \
    </dev/null
n=$(grep -c '"rules_loaded"' "$T/export")
checkx "the loads are audit entries: startup, SIGHUP, admin ($n rules_loaded)" \
    '[ "$n" -eq 3 ]'
"$TG" --data-dir "$DATA" audit verify >"$T/verify" 2>&1 </dev/null
c=$?
check "audit verify: $(verify_line "$T/verify")" [ $c -eq 0 ]
finish
