#!/bin/sh
# make_seeds.sh TIERGATE: (re)makes the generated seeds, gen-*, of
# tests/fuzz/corpus/checkpoint/ and tests/fuzz/corpus/receipt/, signed
# with the fuzz targets' test key (tests/fuzz/testkey/, testkey.h).  Other
# seeds there (hand-written ones, crash-* reproducers) are left alone.
#
# A log is made with TIERGATE on a temporary data dir holding the test
# key: `tiergate check` decides the etc/examples queries eight times, and
# after each decision the checkpoint (`audit checkpoint`) and the decision
# as printed (with its receipt) are kept; `audit export` gives the bare
# receipts (against the last checkpoint, so with longer proofs) and their
# payload hashes.  Then variants: checkpoints co-signed with a second key
# or signed by it alone, bodies the signer never writes but that parse
# (an origin with spaces, the largest size, a 255-byte origin), signed with
# the test key by openssl, and broken ones (bad signature, no final
# newline, CRLF, a leading zero, an extension line, no signature);
# receipts with a changed proof, seq or payload.  And the requests of
# tests/fuzz/corpus/http/ (fuzz_http.c, with its fixed tokens): one per
# route and method, each token, a bad one and none, the etc/examples
# bodies, chunked, Expect: 100-continue, a Content-Length over the limit,
# pipelined requests, broken request lines and versions.
#
# Run from anywhere; needs openssl, od, xxd, base64, sed, awk.  The seeds depend on
# the time of day and the random decision ids, so each run makes new
# bytes: commit them only when they should change.
set -u
[ $# -eq 1 ] || { echo "usage: sh tests/fuzz/make_seeds.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "make_seeds: no binary '$TG'" >&2; exit 2; }

K=tests/fuzz/testkey
CP=tests/fuzz/corpus/checkpoint
RC=tests/fuzz/corpus/receipt
T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

die() {
	echo "make_seeds: $*" >&2
	exit 1
}

# rawpub KEYFILE: the raw 32-byte public key, in hex.
rawpub() {
	openssl pkey -in "$1" -pubout -outform DER | tail -c 32 |
	    od -An -tx1 | tr -d ' \n'
}

# The key of testkey.h is the key of testkey/signing.key.
want=$(sed -n '/testkey_pub\[32\]/,/};/p' tests/fuzz/testkey.h |
    grep -o '0x[0-9a-f][0-9a-f]' | sed 's/^0x//' | tr -d '\n')
[ "$want" = "$(rawpub $K/signing.key)" ] ||
    die "tests/fuzz/testkey.h and $K/signing.key differ"

# sigline FILE KEYFILE NAME: the signature line of the note text in FILE
# (c2sp.org/signed-note: key hash SHA-256(name \n 0x01 pub)[:4], then the
# Ed25519 signature).
sigline() {
	rawpub "$2" | xxd -r -p >"$T/pub.raw"
	{ printf '%s\n\001' "$3"; cat "$T/pub.raw"; } |
	    openssl dgst -sha256 -binary | head -c 4 >"$T/blob"
	openssl pkeyutl -sign -rawin -inkey "$2" -in "$1" >>"$T/blob" ||
	    die "openssl cannot sign"
	printf '\342\200\224 %s %s\n' "$3" "$(base64 -w0 <"$T/blob")"
}

# signed OUT NAME TEXT...: a note of the TEXT lines signed with the test
# key under NAME.
signed() {
	out=$1
	name=$2
	shift 2
	printf '%s\n' "$@" >"$T/text"
	{ cat "$T/text"; echo; sigline "$T/text" $K/signing.key "$name"; } \
	    >"$out"
}

# text NOTE: the signed text of a note (up to the blank line, inclusive
# of its last newline).
text() {
	sed '/^$/q' "$1" | sed '$d'
}

mkdir -p "$CP" "$RC" || exit 2
rm -f "$CP"/gen-* "$RC"/gen-*

D=$T/data
mkdir -m 700 "$D" || exit 2
cp $K/signing.key $K/signing.pub "$D/" || exit 2
chmod 600 "$D/signing.key"

# ---- a real log -------------------------------------------------------------
set -- etc/examples/*.json
[ $# -ge 1 ] || die "no etc/examples/*.json"
i=1
while [ $i -le 8 ]; do
	eval "ex=\${$(( (i - 1) % $# + 1 ))}"
	"$TG" --data-dir "$D" check "$ex" >"$RC/gen-decision-$i.json" \
	    2>"$T/err"
	[ $? -le 1 ] || die "check $ex: $(cat "$T/err")"
	"$TG" --data-dir "$D" audit checkpoint >"$CP/gen-size$i.note" ||
	    die "audit checkpoint failed"
	"$TG" --data-dir "$D" audit verify-receipt --key "$D/signing.pub" \
	    "$RC/gen-decision-$i.json" >/dev/null ||
	    die "decision $i: the receipt does not verify"
	i=$((i + 1))
done
"$TG" --data-dir "$D" audit export >"$T/export" || die "export failed"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	p=$(printf '%s\n' "$line" |
	    sed -n 's/.*\\"payload_sha256\\":\\"\([0-9a-f]*\)\\".*/\1/p')
	r=$(printf '%s\n' "$line" | sed -n 's/.*"receipt":{\([^}]*\)}.*/\1/p')
	if [ -z "$p" ] || [ -z "$r" ]; then
		die "export line $n: no receipt"
	fi
	printf '{"payload_sha256":"%s",%s}\n' "$p" "$r" >"$RC/gen-receipt-$n.json"
done <"$T/export"

# ---- checkpoint variants -----------------------------------------------------
N=$CP/gen-size8.note
text "$N" >"$T/t8"
origin=$(head -n 1 "$N")
{ cat "$T/t8"; echo; sigline "$T/t8" $K/signing.key "$origin"
    sigline "$T/t8" $K/other.key "$origin"; } >"$CP/gen-cosigned.note"
{ cat "$T/t8"; echo; sigline "$T/t8" $K/other.key "$origin"
    sigline "$T/t8" $K/signing.key "$origin"; } \
    >"$CP/gen-cosigned-other-first.note"
{ cat "$T/t8"; echo; sigline "$T/t8" $K/other.key "$origin"; } \
    >"$CP/gen-other-key-only.note"
{ cat "$T/t8"; echo; sigline "$T/t8" $K/signing.key "other/name"; } \
    >"$CP/gen-other-name.note"
zero=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
signed "$CP/gen-origin-spaces.note" "example.com/a log" \
    "example.com/a log" 0 "$zero"
signed "$CP/gen-size-max.note" "$origin" "$origin" 9223372036854775807 \
    "$(sed -n 3p "$N")"
long=$(printf 'o%.0s' $(seq 1 255))
signed "$CP/gen-origin-255.note" "$long" "$long" 1 "$zero"
signed "$CP/gen-leading-zero.note" "$origin" "$origin" 08 \
    "$(sed -n 3p "$N")"
signed "$CP/gen-extension-line.note" "$origin" "$origin" 8 \
    "$(sed -n 3p "$N")" "extension"
sed '$ s/\(.\)\(.\)$/\2\1/' "$N" >"$CP/gen-bad-signature.note"
head -c -1 "$N" >"$CP/gen-no-final-newline.note"
sed 's/$/\r/' "$N" >"$CP/gen-crlf.note"
{ cat "$T/t8"; echo; } >"$CP/gen-no-signature.note"
grep -v '^$' "$N" >"$CP/gen-no-blank-line.note"

# ---- receipt variants -------------------------------------------------------
R=$RC/gen-decision-8.json
# The first proof hash's first digit changed.
awk '/"inclusion_proof": \[/ { p = 1; print; next }
    p == 1 && /^ *"[0-9a-f]/ {
	i = index($0, "\"")
	c = substr($0, i + 1, 1) == "f" ? "0" : "f"
	$0 = substr($0, 1, i) c substr($0, i + 2)
	p = 2 }
    { print }' "$R" >"$RC/gen-bad-proof.json"
sed 's/^    "seq": 8,/    "seq": 7,/' "$R" >"$RC/gen-bad-seq.json"
sed 's/^  "outcome": "\([a-z_]*\)",/  "outcome": "x\1",/' "$R" \
    >"$RC/gen-bad-payload.json"
for f in "$RC"/gen-bad-*.json; do
	cmp -s "$f" "$R" && die "$f: the variant did not change anything"
done
# ---- HTTP requests (fuzz_http.c; its fixed tokens) ---------------------------
H=tests/fuzz/corpus/http
mkdir -p "$H" || exit 2
rm -f "$H"/gen-*
SCREEN=tg_$(printf '5c%.0s' $(seq 1 32))
AUDIT=tg_$(printf 'a0%.0s' $(seq 1 32))
ADMIN=tg_$(printf 'ad%.0s' $(seq 1 32))
REVOKED=tg_$(printf 'de%.0s' $(seq 1 32))
UNKNOWN=tg_$(printf '00%.0s' $(seq 1 32))
METRICS=fuzz-metrics-token-0123456789abcdef
ID=01900000-0000-7000-8000-000000000000

# http NAME METHOD TARGET AUTH [BODY-FILE [CONTENT-TYPE]]: one HTTP/1.1
# request, CRLF line ends, Content-Length from the body.  AUTH is a whole
# Authorization value ("-" for none).
http() {
	f=$H/gen-$1
	{
		printf '%s %s HTTP/1.1\r\nHost: localhost\r\n' "$2" "$3"
		[ "$4" = - ] || printf 'Authorization: %s\r\n' "$4"
		if [ $# -ge 5 ]; then
			printf 'Content-Type: %s\r\nContent-Length: %s\r\n\r\n' \
			    "${6:-application/json}" "$(wc -c <"$5" | tr -d ' ')"
			cat "$5"
		else
			printf '\r\n'
		fi
	} >"$f"
}

printf '{"reason":"entered twice","officer":"A. Officer"}' >"$T/void"
printf '{"resolution":"release","reason":"checked","officer":"B. Officer"}' \
    >"$T/resolve"
printf '{"resolution":"reject","reason":"checked"}' >"$T/resolve-no-officer"
printf '{"reason":""}' >"$T/void-empty"
printf '{"destination": "DE", ' >"$T/cut"
{ printf '{"transactions": ['; cat etc/examples/aia-h100-de.json; printf ','
    cat etc/examples/lpp-h100-in.json; printf ']}'; } >"$T/batch"
{ printf '{"transactions": ['; cat etc/examples/aia-h100-de.json
    printf ', {"destination": "XX"}]}'; } >"$T/batch-bad"
printf '{"transactions": []}' >"$T/batch-empty"
head -c 20000 /dev/zero | tr '\0' ' ' >"$T/big"

http healthz GET /healthz -
http healthz-head HEAD /healthz -
http readyz GET /readyz -
http openapi GET /v1/openapi.yaml -
http rules GET /v1/rules "Bearer $SCREEN"
http rules-no-token GET /v1/rules -
http rules-unknown-token GET /v1/rules "Bearer $UNKNOWN"
http rules-revoked-token GET /v1/rules "Bearer $REVOKED"
http rules-basic GET /v1/rules "Basic dXNlcjpwYXNz"
http rules-empty-bearer GET /v1/rules "Bearer "
http rules-metrics-token GET /v1/rules "Bearer $METRICS"
http rules-delete DELETE /v1/rules "Bearer $SCREEN"
for ex in etc/examples/*.json; do
	n=$(basename "$ex" .json)
	http "decide-$n" POST /v1/decisions "Bearer $SCREEN" "$ex"
done
http decide-admin POST /v1/decisions "Bearer $ADMIN" \
    etc/examples/aia-h100-de.json
http decide-audit-token POST /v1/decisions "Bearer $AUDIT" \
    etc/examples/aia-h100-de.json
http decide-text-plain POST /v1/decisions "Bearer $SCREEN" \
    etc/examples/aia-h100-de.json text/plain
http decide-charset POST /v1/decisions "Bearer $SCREEN" \
    etc/examples/aia-h100-de.json "application/json; charset=utf-8"
http decide-cut-json POST /v1/decisions "Bearer $SCREEN" "$T/cut"
http decide-too-big POST /v1/decisions "Bearer $SCREEN" "$T/big"
http decide-put PUT /v1/decisions "Bearer $SCREEN" \
    etc/examples/aia-h100-de.json
{
	printf 'POST /v1/decisions HTTP/1.1\r\nHost: localhost\r\n'
	printf 'Authorization: Bearer %s\r\n' "$SCREEN"
	printf 'Content-Type: application/json\r\n'
	printf 'Content-Length: 10000000\r\n\r\n{'
} >"$H/gen-decide-content-length-over"
{
	printf 'POST /v1/decisions HTTP/1.1\r\nHost: localhost\r\n'
	printf 'Authorization: Bearer %s\r\n' "$SCREEN"
	printf 'Content-Type: application/json\r\n'
	printf 'Transfer-Encoding: chunked\r\n\r\n'
	len=$(wc -c <etc/examples/lpp-h100-in.json | tr -d ' ')
	printf '10\r\n'
	head -c 16 etc/examples/lpp-h100-in.json
	printf '\r\n%x\r\n' $((len - 16))
	tail -c +17 etc/examples/lpp-h100-in.json
	printf '\r\n0\r\n\r\n'
} >"$H/gen-decide-chunked"
{
	printf 'POST /v1/decisions HTTP/1.1\r\nHost: localhost\r\n'
	printf 'Authorization: Bearer %s\r\n' "$SCREEN"
	printf 'Content-Type: application/json\r\nExpect: 100-continue\r\n'
	printf 'Content-Length: %s\r\n\r\n' \
	    "$(wc -c <etc/examples/aia-h100-de.json | tr -d ' ')"
	cat etc/examples/aia-h100-de.json
} >"$H/gen-decide-expect-continue"
http batch POST /v1/decisions/batch "Bearer $SCREEN" "$T/batch"
http batch-bad POST /v1/decisions/batch "Bearer $SCREEN" "$T/batch-bad"
http batch-empty POST /v1/decisions/batch "Bearer $SCREEN" "$T/batch-empty"
http decision-get GET "/v1/decisions/$ID" "Bearer $SCREEN"
http decision-get-long GET "/v1/decisions/$ID$ID$ID" "Bearer $SCREEN"
http void POST "/v1/decisions/$ID/void" "Bearer $SCREEN" "$T/void"
http void-no-reason POST "/v1/decisions/$ID/void" "Bearer $SCREEN" \
    "$T/void-empty"
http checkpoint GET /v1/audit/checkpoint "Bearer $AUDIT"
http checkpoint-screen GET /v1/audit/checkpoint "Bearer $SCREEN"
http metrics GET /metrics "Bearer $ADMIN"
http metrics-token GET /metrics "Bearer $METRICS"
http metrics-screen GET /metrics "Bearer $SCREEN"
http reload POST /v1/admin/reload "Bearer $ADMIN"
http reload-audit POST /v1/admin/reload "Bearer $AUDIT"
http holds GET /v1/holds "Bearer $AUDIT"
http holds-open GET "/v1/holds?open=true" "Bearer $AUDIT"
http resolve POST "/v1/decisions/$ID/resolve" "Bearer $AUDIT" "$T/resolve"
http resolve-no-officer POST "/v1/decisions/$ID/resolve" "Bearer $AUDIT" \
    "$T/resolve-no-officer"
http report GET "/v1/reports/summary?from=2025-01-01&to=2030-12-31" \
    "Bearer $AUDIT"
http report-csv GET \
    "/v1/reports/summary?from=2025-01-01&to=2030-12-31&format=csv" \
    "Bearer $AUDIT"
http report-html GET \
    "/v1/reports/summary?from=2025-01-01&to=2030-12-31&format=html" \
    "Bearer $ADMIN"
http report-bad-date GET "/v1/reports/summary?from=2025-13-01&to=x" \
    "Bearer $AUDIT"
http report-screen GET "/v1/reports/summary?from=2025-01-01&to=2030-12-31" \
    "Bearer $SCREEN"
http no-route GET /v1/nothing-here -
http percent-path GET "/v1/decisions/%2e%2e/void" "Bearer $SCREEN"
printf 'GET /v1/rules HTTP/1.0\r\nAuthorization: Bearer %s\r\n\r\n' \
    "$SCREEN" >"$H/gen-http10"
printf 'GET /healthz HTTP/1.1\r\n\r\n' >"$H/gen-no-host"
printf 'GARBAGE\r\n\r\n' >"$H/gen-bad-request-line"
printf 'GET /healthz HTTP/9.9\r\nHost: localhost\r\n\r\n' \
    >"$H/gen-bad-version"
printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n' \
    >"$H/gen-folded-header"
cat "$H/gen-healthz" "$H/gen-rules" "$H/gen-checkpoint" >"$H/gen-pipelined"
cat "$H/gen-decide-aia-h100-de" "$H/gen-decide-lpp-h100-in" \
    >"$H/gen-pipelined-decisions"
head -c 60 "$H/gen-decide-aia-h100-de" >"$H/gen-cut-head"

# count FILES...: how many.
count() {
	echo $#
}
echo "make_seeds: $(count "$CP"/gen-*) checkpoints," \
    "$(count "$RC"/gen-*) receipts, $(count "$H"/gen-*) requests"
