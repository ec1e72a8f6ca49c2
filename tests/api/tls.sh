#!/bin/sh
# tls.sh TIERGATE: the daemon over HTTPS (issue 5, "Optional TLS":
# tls_cert/tls_key in the config, libmicrohttpd's HTTPS).  A self-signed
# certificate for 127.0.0.1 is made with the openssl command, then:
#
#   - the daemon starts with tls_cert and tls_key and answers /healthz
#     over HTTPS, checked against that certificate (no -k);
#   - a decision is posted over HTTPS with a token: 201, a receipt, and the
#     same JSON as over plain HTTP would carry (decision_core);
#   - a 401 and a 422 come back over HTTPS as problem+json;
#   - plain HTTP to the HTTPS port gets no HTTP answer;
#   - a config with tls_cert but no tls_key, or a certificate file that
#     does not exist, and the daemon refuses to start (exit 2, a message
#     naming the problem) rather than fall back to plain HTTP.
#
# With a libmicrohttpd built without HTTPS (Debian's has it) the daemon
# does not start and the tests fail: TLS is part of the contract.  Ends
# with "N passed, N failed"; exits 1 if any test failed.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

JSON="Content-Type: application/json"

# ---- a certificate ---------------------------------------------------------
if ! openssl req -x509 -newkey rsa:2048 -nodes -days 2 \
    -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$T/key.pem" -out "$T/cert.pem" >"$T/openssl.log" 2>&1; then
	not_ok "openssl cannot make a certificate: $(tail -n 2 "$T/openssl.log")"
	finish
fi
chmod 600 "$T/key.pem"

cat >"$T/tls.yaml" <<EOF
rules:
  - $(pwd)/rules
tls_cert: $T/cert.pem
tls_key: $T/key.pem
EOF

# ---- HTTPS -----------------------------------------------------------------
if ! start tls "$T/tls.yaml"; then
	not_ok "the daemon does not start with tls_cert and tls_key"
	finish
fi
S=https://127.0.0.1:$PORT
st=$(curl -s -o "$T/h.body" -w '%{http_code}' --max-time 10 \
    --cacert "$T/cert.pem" "$S/healthz")
check "GET /healthz over HTTPS, verified against the certificate: 200" \
    test "$st" = 200

TOKEN=$(tok screen)
st=$(curl -s -o "$T/d.body" -w '%{http_code}' --max-time 30 \
    --cacert "$T/cert.pem" -H "Authorization: Bearer $TOKEN" -H "$JSON" \
    --data-binary @etc/examples/aia-h100-de.json "$S/v1/decisions")
check "POST /v1/decisions over HTTPS: 201" test "$st" = 201
check "the decision over HTTPS carries a receipt" \
    grep -q '"receipt": {' "$T/d.body"
id=$(json_str "$T/d.body" decision_id)
st=$(curl -s -o "$T/g.body" -w '%{http_code}' --max-time 10 \
    --cacert "$T/cert.pem" -H "Authorization: Bearer $TOKEN" \
    "$S/v1/decisions/$id")
check "GET /v1/decisions/{id} over HTTPS: 200, the bytes first answered" \
    sh -c "[ '$st' = 200 ] && cmp -s '$T/d.body' '$T/g.body'"

st=$(curl -s -o "$T/u.body" -D "$T/u.hdr" -w '%{http_code}' --max-time 10 \
    --cacert "$T/cert.pem" -H "$JSON" \
    --data-binary @etc/examples/aia-h100-de.json "$S/v1/decisions")
check "no token over HTTPS: 401 problem+json" \
    sh -c "[ '$st' = 401 ] && grep -qi '^content-type: application/problem+json' '$T/u.hdr'"
st=$(curl -s -o "$T/b.body" -w '%{http_code}' --max-time 10 \
    --cacert "$T/cert.pem" -H "Authorization: Bearer $TOKEN" -H "$JSON" \
    --data-binary '{"destination": "XX"}' "$S/v1/decisions")
check "a bad query over HTTPS: 422 with a pointer" \
    sh -c "[ '$st' = 422 ] && grep -q '\"pointer\"' '$T/b.body'"

st=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
    "http://127.0.0.1:$PORT/healthz" 2>/dev/null)
check "plain HTTP to the HTTPS port gets no HTTP answer (got '$st')" \
    test "$st" = 000
stop_daemon "$DPID"
check "the HTTPS daemon exits 0 on SIGTERM (got $RC)" test "$RC" -eq 0

# ---- refusals --------------------------------------------------------------
# refuse NAME CONFIG TEXT: the daemon must exit 2 without listening, with
# TEXT in its messages.
refuse() {
	"$TG" --data-dir "$T/$1" -c "$2" serve --listen 127.0.0.1:0 \
	    >"$T/$1.out" 2>&1 </dev/null &
	refused $!
	check "$1: the daemon refuses to start (exit $RC, want 2), saying so" \
	    sh -c "[ $RC -eq 2 ] && grep -q '$3' '$T/$1.out' &&
	    ! grep -q 'ready on port' '$T/$1.out'"
}

cat >"$T/half.yaml" <<EOF
rules:
  - $(pwd)/rules
tls_cert: $T/cert.pem
EOF
refuse cert-without-key "$T/half.yaml" "TLS needs both"

cat >"$T/missing.yaml" <<EOF
rules:
  - $(pwd)/rules
tls_cert: $T/no-such-cert.pem
tls_key: $T/key.pem
EOF
refuse missing-cert "$T/missing.yaml" "certificate"

finish
