#!/bin/sh
# browser.sh TIERGATE: the HTML report as a browser shows it (issue 7).
#
# Builds the log of report.sh (report.sh --log-only), writes the HTML
# report of 2025 and renders it in headless Chromium (Debian's chromium,
# which packaging/deps.sh installs for the tests only), with no network,
# no sandbox (tests may run as root) and a throw-away profile:
#
#  - the DOM Chromium built has the title, the key figures of the JSON
#    report (decisions, each outcome, voided, open holds) in their KPI
#    cards, the destinations, the released hold's officer, the pack, the
#    "verified" seal, the SVG charts (timeline bars, destination bars,
#    quota gauges), and no script element;
#  - a 1280x2000 screenshot is written and is not blank: a white page of
#    that size compresses to a few kilobytes, the report's first screen
#    (figures, charts, tables) to well over 100.
#
# The screenshot is kept when KEEP_SCREENSHOT=PATH is set.  Without a
# chromium command the script says so and counts one failure.  Ends with
# "N passed, N failed"; exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/report/browser.sh TIERGATE" >&2;
    exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "browser: no binary '$TG'" >&2; exit 2; }

pass=0
fail=0
ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
}

if ! command -v chromium >/dev/null 2>&1; then
	echo "browser: chromium is not installed; it is a test dependency:" \
	    "run packaging/deps.sh (or apt-get install chromium)" >&2
	not_ok "chromium is missing"
	echo "$pass passed, $fail failed"
	exit 1
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
	not_ok "the sqlite3 command is missing (packaging/deps.sh)"
	echo "$pass passed, $fail failed"
	exit 1
fi

T=$(mktemp -d) || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM
D=$T/data

# chromium ARGS...: headless, offline, a profile of its own.
chromium_run() {
	timeout 60 chromium --headless --no-sandbox --disable-gpu \
	    --no-first-run --disable-background-networking \
	    --disable-component-update --disable-sync --disable-dev-shm-usage \
	    --user-data-dir="$T/profile" "$@"
}

if ! sh tests/report/report.sh "$TG" --log-only "$D" >"$T/log.out" 2>&1
then
	not_ok "building the log: $(tail -n 3 "$T/log.out")"
	echo "$pass passed, $fail failed"
	exit 1
fi
for f in json html; do
	"$TG" --data-dir "$D" audit report --from 2025-01-01 --to 2025-12-31 \
	    --format $f -o "$T/r.$f" 2>"$T/err" ||
	    not_ok "audit report --format $f: $(cat "$T/err")"
done
J=$T/r.json
jq1() {
	sqlite3 :memory: "SELECT $1 FROM (SELECT readfile('$J') AS j)"
}

chromium_run --dump-dom "file://$T/r.html" >"$T/dom.html" 2>"$T/chromium.err"
if [ -s "$T/dom.html" ] && grep -q '</html>' "$T/dom.html"; then
	ok "chromium --dump-dom ($(wc -c <"$T/dom.html") bytes)"
else
	not_ok "chromium --dump-dom: $(tail -n 3 "$T/chromium.err")"
fi

# figure FIELD: the KPI card of totals.FIELD shows the JSON's value.
figure() {
	want=$(jq1 "json_extract(j, '\$.totals.$1')")
	got=$(grep -o "data-f=\"totals,,$1\" data-v=\"[^\"]*\">[^<]*<" \
	    "$T/dom.html" | head -n 1 | sed 's/.*">\([^<]*\)<$/\1/' |
	    tr -d ,)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "the DOM shows $1: $got"
	else
		not_ok "the DOM shows $1 '$got', the JSON $want"
	fi
}
for f in decisions no_license_required authorized license_required hold \
    voided destinations; do
	figure "$f"
done
open=$(jq1 "json_extract(j, '\$.totals.held_open')")
if grep -qF ">$open still open<" "$T/dom.html"; then
	ok "the DOM shows $open open holds"
else
	not_ok "the DOM lacks '$open still open'"
fi

# contains NAME TEXT: the DOM has TEXT (a fixed string).
contains() {
	if grep -qF -- "$2" "$T/dom.html"; then
		ok "the DOM has $1"
	else
		not_ok "the DOM lacks $1 ('$2')"
	fi
}
contains "the title" "<h1>Export-control compliance summary</h1>"
contains "the period" "<b>2025-01-01</b> to <b>2025-12-31</b>"
contains "the verified seal" "Log and ledger verified"
contains "the released hold's officer" ">Dana Officer<"
contains "the rule pack" "ai-diffusion-2025 2025.1.0"
contains "the legal status" "<b>Legal status.</b> Interim final rule"
for c in IN DE CN MY BR VN; do
	contains "destination $c" "data-f=\"by_destination,$c,decisions\""
done

bars=$(grep -o '<rect ' "$T/dom.html" | wc -l)
gauges=$(grep -o '<figure class="gauge">' "$T/dom.html" | wc -l)
svgs=$(grep -o '<svg ' "$T/dom.html" | wc -l)
if [ "$bars" -gt 100 ] && [ "$gauges" -ge 4 ] && [ "$svgs" -ge 6 ]; then
	ok "charts: $svgs SVGs, $bars bars, $gauges gauges"
else
	not_ok "charts: $svgs SVGs, $bars bars, $gauges gauges"
fi
if grep -qi '<script' "$T/dom.html"; then
	not_ok "the DOM has a script element"
else
	ok "the DOM has no script element"
fi

rm -f "$T/shot.png"
chromium_run --screenshot="$T/shot.png" --window-size=1280,2000 \
    "file://$T/r.html" >/dev/null 2>"$T/chromium.err"
size=$( [ -f "$T/shot.png" ] && wc -c <"$T/shot.png" || echo 0)
if [ "$(head -c 8 "$T/shot.png" 2>/dev/null | od -An -c | tr -d ' \n')" = \
    '211PNG\r\n032\n' ] && [ "$size" -gt 100000 ]; then
	ok "screenshot 1280x2000: a PNG of $size bytes, not a blank page"
else
	not_ok "screenshot: $size bytes: $(tail -n 3 "$T/chromium.err")"
fi
if [ -n "${KEEP_SCREENSHOT:-}" ] && [ -f "$T/shot.png" ]; then
	cp "$T/shot.png" "$KEEP_SCREENSHOT"
	cp "$T/r.html" "${KEEP_SCREENSHOT%.png}.html"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
