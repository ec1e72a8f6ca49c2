#!/bin/sh
# check_exit.sh TIERGATE: black-box tests of the tiergate binary: exit
# statuses and diagnostics of `check` and `rules lint` (contract.md
# section 4).
#
#  - every class of bad query exits 2, prints nothing on stdout, and names
#    the offending field by its JSON pointer (or the file position, for
#    malformed JSON);
#  - `rules lint` on a copy of the bundled pack with three planted
#    mistakes reports each as file:line:col and exits 1;
#  - the example queries in etc/examples/ exit 0 or 1 as their outcome
#    says.
# Ends with "N passed, N failed"; exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/cli/check_exit.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "check_exit: no binary '$TG'" >&2; exit 2; }

T=$(mktemp -d) || exit 2
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
		sed 's/^/#   stderr: /' "$T/err" | head -n 10
	fi
}

# run ARGS...: runs the binary; leaves $rc, $T/out and $T/err.
run() {
	"$TG" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# bad NAME FILE TEXT: `check FILE` must exit 2, print nothing on stdout,
# and say TEXT (a fixed string) on stderr.
bad() {
	name=$1
	run check "$2"
	if [ $rc -ne 2 ]; then
		not_ok "$name: exit $rc, want 2"
	elif [ -s "$T/out" ]; then
		not_ok "$name: output on stdout"
	elif ! grep -qF -- "$3" "$T/err"; then
		not_ok "$name: stderr does not say '$3'"
	else
		ok "$name"
	fi
}

# query FILE BODY: a query that differs from a valid one in one place.
base_party='"consignee": {"id": "c1", "name": "Example GmbH", "country": "DE"}'
base_item='{"kind": "chip", "product": "nvidia-h100-sxm", "quantity": 10}'
query() {
	printf '%s\n' "$2" >"$T/$1"
}

# ---- bad input: exit 2 ------------------------------------------------
printf 'this is not json\n' >"$T/notjson.json"
bad "not JSON" "$T/notjson.json" "$T/notjson.json:1:"

: >"$T/empty.json"
bad "empty file" "$T/empty.json" "$T/empty.json"

bad "missing file" "$T/no-such-file.json" "$T/no-such-file.json"

bad "directory" "$T" "$T"

query wrongtype.json "{\"date\": \"2025-06-02\", \"destination\": 276,
  $base_party, \"items\": [$base_item]}"
bad "wrong type" "$T/wrongtype.json" ": /destination: "

query unknownkey.json "{\"date\": \"2025-06-02\", \"destination\": \"DE\",
  \"consignee\": {\"name\": \"Example GmbH\", \"country\": \"DE\",
  \"ultimate_parnet\": \"US\"}, \"items\": [$base_item]}"
bad "unknown key" "$T/unknownkey.json" ": /consignee/ultimate_parnet: "

query unknowncc.json "{\"date\": \"2025-06-02\", \"destination\": \"ZZ\",
  $base_party, \"items\": [$base_item]}"
bad "unknown country" "$T/unknowncc.json" ": /destination: "

query lowercc.json "{\"date\": \"2025-06-02\", \"destination\": \"de\",
  $base_party, \"items\": [$base_item]}"
bad "lower-case country" "$T/lowercc.json" ": /destination: "

query dupkey.json "{\"date\": \"2025-06-02\", \"destination\": \"DE\",
  \"destination\": \"CN\", $base_party, \"items\": [$base_item]}"
bad "duplicate key" "$T/dupkey.json" "$T/dupkey.json:"
if grep -qi duplicate "$T/err"; then
	ok "duplicate key: says so"
else
	not_ok "duplicate key: message does not say 'duplicate'"
fi

query noitems.json "{\"date\": \"2025-06-02\", \"destination\": \"DE\",
  $base_party, \"items\": []}"
bad "items empty" "$T/noitems.json" ": /items"

items=$(awk -v item="$base_item" 'BEGIN {
	for (i = 0; i < 1001; i++)
		printf "%s%s", (i ? ", " : ""), item
}')
query manyitems.json "{\"date\": \"2025-06-02\", \"destination\": \"DE\",
  $base_party, \"items\": [$items]}"
bad "1001 items" "$T/manyitems.json" ": /items"

query qty0.json "{\"date\": \"2025-06-02\", \"destination\": \"DE\",
  $base_party, \"items\": [$base_item,
  {\"kind\": \"chip\", \"product\": \"nvidia-h100-sxm\", \"quantity\": 0}]}"
bad "quantity 0" "$T/qty0.json" ": /items/1/quantity: "

query baddate.json "{\"date\": \"2025-02-29\", \"destination\": \"DE\",
  $base_party, \"items\": [$base_item]}"
bad "bad date (2025-02-29)" "$T/baddate.json" ": /date: "

query baddate2.json "{\"date\": \"02/06/2025\", \"destination\": \"DE\",
  $base_party, \"items\": [$base_item]}"
bad "bad date (02/06/2025)" "$T/baddate2.json" ": /date: "

query noconsignee.json "{\"date\": \"2025-06-02\", \"destination\": \"DE\",
  \"items\": [$base_item]}"
bad "consignee missing" "$T/noconsignee.json" "consignee"

query scalar.json '42'
bad "not an object" "$T/scalar.json" "$T/scalar.json"

# Over the 1 MiB cap: refused before parsing.
awk 'BEGIN { printf "{\"reference\": \""; for (i = 0; i < 1100000; i++)
	printf "x"; printf "\"}\n" }' >"$T/huge.json"
bad "query over 1 MiB" "$T/huge.json" "$T/huge.json"

# ---- usage ------------------------------------------------------------
run --help
if [ $rc -eq 0 ] && grep -q 'usage: tiergate' "$T/out"; then
	ok "--help"
else
	not_ok "--help: exit $rc"
fi
run --version
if [ $rc -eq 0 ] && grep -q '^tiergate ' "$T/out"; then
	ok "--version"
else
	not_ok "--version: exit $rc"
fi
run no-such-command
[ $rc -eq 2 ] && ok "unknown command: exit 2" ||
    not_ok "unknown command: exit $rc, want 2"
run
[ $rc -eq 2 ] && ok "no command: exit 2" || not_ok "no command: exit $rc"
run check a.json b.json
[ $rc -eq 2 ] && ok "check with two files: exit 2" ||
    not_ok "check with two files: exit $rc, want 2"
run -c "$T/no-such-config.yaml" check "$T/notjson.json"
if [ $rc -eq 2 ] && grep -qF "no-such-config.yaml" "$T/err"; then
	ok "-c with a missing file: exit 2"
else
	not_ok "-c with a missing file: exit $rc"
fi

# ---- rules lint -------------------------------------------------------
pack=rules/ai-diffusion-2025.yaml
catalog=rules/products.yaml
if [ -f "$pack" ] && [ -f "$catalog" ]; then
	run rules lint "$pack" "$catalog"
	if [ $rc -eq 0 ] && grep -qx 'rules OK' "$T/out"; then
		ok "rules lint on the bundled pack"
	else
		not_ok "rules lint on the bundled pack: exit $rc"
	fi

	# Three planted mistakes, one of each kind, on different lines:
	# an unknown top-level key, a wrong type (a list where the pack's
	# version string belongs), a reference to a group that does not
	# exist (the first in_group() call).
	mkdir "$T/rules"
	cp "$catalog" "$T/rules/products.yaml"
	sed -e '$a\
no_such_section: true' \
	    -e '0,/^\([[:space:]]*\)version:.*/s//\1version: [1, 2]/' \
	    -e '0,/in_group(\([^,]*\), *"[^"]*")/s//in_group(\1, "no_such_group")/' \
	    "$pack" >"$T/rules/ai-diffusion-2025.yaml"
	planted=$(diff "$pack" "$T/rules/ai-diffusion-2025.yaml" |
	    grep -c '^>')
	if [ "$planted" -ne 3 ]; then
		not_ok "rules lint: could plant $planted of 3 mistakes"
	fi
	run rules lint "$T/rules/ai-diffusion-2025.yaml" \
	    "$T/rules/products.yaml"
	cat "$T/out" >>"$T/err"
	n=$(grep -cE "^$T/rules/ai-diffusion-2025\.yaml:[0-9]+:[0-9]+: " \
	    "$T/err")
	if [ $rc -ne 1 ]; then
		not_ok "rules lint with 3 mistakes: exit $rc, want 1"
	elif [ "$n" -ne 3 ]; then
		not_ok "rules lint with 3 mistakes: $n file:line:col lines"
	else
		ok "rules lint with 3 mistakes: 3 file:line:col lines, exit 1"
	fi
	for what in no_such_section version no_such_group; do
		if grep -q "$what" "$T/err"; then
			ok "rules lint names '$what'"
		else
			not_ok "rules lint does not name '$what'"
		fi
	done

	run rules lint "$T/rules/no-such-pack.yaml" "$catalog"
	[ $rc -eq 1 ] && ok "rules lint on a missing file: exit 1" ||
	    not_ok "rules lint on a missing file: exit $rc, want 1"
else
	echo "# skip: rules lint ($pack or $catalog not there yet)"
fi

# ---- good queries -----------------------------------------------------
# want FILE STATUS OUTCOME: `check FILE` exits STATUS with OUTCOME.
want() {
	[ -f "$1" ] || { echo "# skip: $1 not there"; return; }
	[ -f "$pack" ] || { echo "# skip: $1 (no rule pack)"; return; }
	run check "$1"
	if [ $rc -ne "$2" ]; then
		not_ok "$1: exit $rc, want $2"
	elif ! grep -qE "^  \"outcome\": \"$3\"" "$T/out"; then
		not_ok "$1: outcome is not $3"
	elif ! grep -qE '"decision_id": "[0-9a-f-]{36}"' "$T/out"; then
		not_ok "$1: no decision_id"
	else
		ok "$1: $3, exit $2"
	fi
}
want etc/examples/aia-h100-de.json 0 authorized
want etc/examples/lpp-h100-in.json 0 authorized
want etc/examples/license-h100-my-cn-parent.json 1 license_required
want etc/examples/hold-training-service-br.json 1 hold

# stdin, and --dry-run forcing dry_run.
if [ -f "$pack" ] && [ -f etc/examples/lpp-h100-in.json ]; then
	sed 's/"dry_run": true/"dry_run": false/' \
	    etc/examples/lpp-h100-in.json >"$T/binding.json"
	"$TG" check --dry-run - <"$T/binding.json" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc -eq 0 ] && grep -qE '^  "dry_run": true' "$T/out"; then
		ok "check --dry-run from stdin"
	else
		not_ok "check --dry-run from stdin: exit $rc"
	fi
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
