#!/bin/sh
# first_use.sh TIERGATE: several `tiergate check` processes started at once
# on a data dir that does not exist yet.
#
# The first use of a data dir creates the database, its schema, the signing
# key pair and the log's origin.  Processes that race to do it must end up
# with one log and one key: each of them answers its decision (or at worst
# waits for the others), and afterwards the log verifies, signing.key is
# the key the log names (another check can append), and signing.pub
# anchors it.  ROUNDS fresh data dirs, PAR processes each.
#
# Ends with "N passed, N failed"; exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/audit/first_use.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "first_use: no binary '$TG'" >&2; exit 2; }

ROUNDS=5
PAR=6
Q=etc/examples/lpp-h100-in.json

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
}

answered=0
unanswered=0
broken=0
unverified=0
round=1
while [ $round -le $ROUNDS ]; do
	D=$T/data.$round
	pids=""
	i=1
	while [ $i -le $PAR ]; do
		"$TG" --data-dir "$D" check "$Q" >"$T/out.$round.$i" \
		    2>"$T/err.$round.$i" </dev/null &
		pids="$pids $!"
		i=$((i + 1))
	done
	i=1
	for p in $pids; do
		wait "$p"
		rc=$?
		if [ $rc -le 1 ] && grep -q '"inclusion_proof"' \
		    "$T/out.$round.$i"; then
			answered=$((answered + 1))
		else
			unanswered=$((unanswered + 1))
			echo "# round $round, check $i: exit $rc:" \
			    "$(head -n 1 "$T/err.$round.$i")"
		fi
		i=$((i + 1))
	done
	# The log takes more decisions afterwards...
	"$TG" --data-dir "$D" check "$Q" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ $rc -gt 1 ]; then
		broken=$((broken + 1))
		echo "# round $round, later check: exit $rc: $(head -n 1 "$T/err")"
	fi
	# ...and verifies, anchored at its signing.pub.
	"$TG" --data-dir "$D" audit verify --key "$D/signing.pub" \
	    >"$T/out" 2>&1 </dev/null
	rc=$?
	if [ $rc -ne 0 ]; then
		unverified=$((unverified + 1))
		echo "# round $round, audit verify: exit $rc: $(head -n 1 "$T/out")"
	fi
	round=$((round + 1))
done

echo "# $ROUNDS fresh data dirs, $PAR concurrent first checks each:" \
    "$answered answered, $unanswered not"
if [ $unanswered -eq 0 ]; then
	ok "all $((ROUNDS * PAR)) concurrent first checks answered"
else
	not_ok "$unanswered of $((ROUNDS * PAR)) concurrent first checks failed"
fi
if [ $broken -eq 0 ]; then
	ok "every log takes a later check (signing.key is the log's key)"
else
	not_ok "$broken of $ROUNDS logs refuse later checks"
fi
if [ $unverified -eq 0 ]; then
	ok "every log verifies with its signing.pub"
else
	not_ok "$unverified of $ROUNDS logs do not verify with signing.pub"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
