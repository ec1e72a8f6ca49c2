#!/bin/sh
# run-dev.sh: what `make run` does: start `tiergate serve` on
# 127.0.0.1:8080 with the embedded defaults of a source checkout (data dir
# ./var, a signing key generated on first use, the bundled rules), make a
# development token on the first run, and show a ready-to-paste curl
# command.  Ctrl-C stops the daemon.
set -eu
BIN=${1:-build/tiergate}
cd "$(dirname "$0")/.."
export TIERGATE_DATA_DIR=${TIERGATE_DATA_DIR:-var}
mkdir -p "$TIERGATE_DATA_DIR"
chmod 700 "$TIERGATE_DATA_DIR"
TOKEN_FILE=$TIERGATE_DATA_DIR/dev-token
if [ ! -s "$TOKEN_FILE" ]; then
	umask 077
	"$BIN" token create --role admin --name dev >"$TOKEN_FILE" 2>/dev/null
fi
TOKEN=$(cat "$TOKEN_FILE")
cat <<MSG
tiergate: starting on http://127.0.0.1:8080 (data dir $TIERGATE_DATA_DIR)
development token (admin) in $TOKEN_FILE; try, from another terminal:

  curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
       --data @etc/examples/lpp-h100-in.json http://127.0.0.1:8080/v1/decisions

MSG
exec "$BIN" serve --listen 127.0.0.1:8080
