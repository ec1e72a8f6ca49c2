#!/bin/sh
# deps.sh: install the Debian packages tiergate needs to build and test.
# Called by make only when pkg-config cannot find a library (or a tool is
# missing), so a fresh Debian 12 machine needs nothing but `make run` or
# `make test`. As root it runs apt-get; otherwise it prints the command.
set -eu

# chromium is for the tests only: tests/report/browser.sh renders the HTML
# report headless; wrk only drives the daemon in `make bench`.  tiergate
# itself never runs either.
PKGS="build-essential pkg-config libyaml-dev libssl-dev libmicrohttpd-dev
libsqlite3-dev libjansson-dev libcsv-dev libcmocka-dev clang
libclang-rt-14-dev curl sqlite3 openssl procps chromium wrk"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "tiergate: missing packages:$missing" >&2
	echo "run: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "deps.sh: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
