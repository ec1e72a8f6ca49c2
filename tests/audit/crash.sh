#!/bin/sh
# crash.sh TIERGATE: kill -9 during a stream of writes (issue 3, "Tests and
# figures"): the audit log verifies afterwards and every answered decision
# is in it.
#
# WORKERS loops run `tiergate check` back to back on one data dir, each
# decision into its own file, while this script sends SIGKILL to whichever
# of those processes is running at random moments, until at least MINKILLS
# of them have died of it.  Processes are killed by pid, and only after
# `ps` shows the pid is one of ours (its command line names this test's
# data dir).  Then:
#
#   - `tiergate audit verify` exits 0;
#   - every process that exited by itself (0 or 1) printed a complete
#     decision with a receipt, and none failed (2);
#   - every answered decision (a complete decision with a receipt, whether
#     or not its process was killed after printing it) has its decision_id
#     in entries.decision_id and its receipt verifies with signing.pub.
#
# Decisions committed by a process killed before it printed them are in the
# log without being answered; that is allowed and counted.  Prints the
# figures as "# answered N, killed K, ...".  Ends with "N passed, N failed";
# exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/audit/crash.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "crash: no binary '$TG'" >&2; exit 2; }
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "crash: the sqlite3 command is missing (packaging/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

WORKERS=3
MINKILLS=20	# SIGKILLs that must land on a running tiergate
MINTRIES=40	# kill moments at least (about 2 s of writes)
MAXTRIES=600	# give up after this many

T=$(mktemp -d) || exit 2
D=$T/data
workers=""
cleanup() {
	: >"$T/stop"
	for p in $workers; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT
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

mkdir "$T/out" "$T/err" "$T/rc" || exit 2
set -- etc/examples/aia-h100-de.json etc/examples/lpp-h100-in.json \
    etc/examples/license-h100-my-cn-parent.json \
    etc/examples/hold-training-service-br.json

# The log and its key exist before the stream starts.
"$TG" --data-dir "$D" check "$1" >"$T/out/0.0" 2>"$T/err/0.0" </dev/null
echo $? >"$T/rc/0.0"

# worker W: checks until $T/stop exists; the running check's pid is in
# $T/pid.W, each one's output in $T/out/W.I and exit status in $T/rc/W.I.
worker() {
	w=$1
	shift
	i=0
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		case $(((w + i) % 4)) in
		0) q=$1 ;;
		1) q=$2 ;;
		2) q=$3 ;;
		*) q=$4 ;;
		esac
		"$TG" --data-dir "$D" check "$q" >"$T/out/$w.$i" \
		    2>"$T/err/$w.$i" </dev/null &
		echo $! >"$T/pid.$w"
		wait $!
		echo $? >"$T/rc/$w.$i"
	done
}

w=1
while [ $w -le $WORKERS ]; do
	# The worker's shell says "Killed" on stderr for each SIGKILL.
	worker $w "$@" 2>/dev/null &
	workers="$workers $!"
	w=$((w + 1))
done

# The killer: a random pause of 0 to 60 ms, then SIGKILL to the check one
# of the workers is running.  It goes on until MINKILLS checks have died of
# it (a SIGKILL can land on a process that just exited).
landed=0
kills=0
tries=0
while [ $tries -lt $MAXTRIES ] &&
    { [ "$landed" -lt $MINKILLS ] || [ $tries -lt $MINTRIES ]; }; do
	tries=$((tries + 1))
	sleep "$(awk -v s="$$$tries" 'BEGIN { srand(s); printf "%.3f", rand() * 0.06 }')"
	pid=
	read -r pid 2>/dev/null <"$T/pid.$((tries % WORKERS + 1))"
	[ -n "$pid" ] || continue
	case $(ps -o args= -p "$pid" 2>/dev/null) in
	*"--data-dir $D check"*)
		if kill -9 "$pid" 2>/dev/null; then
			kills=$((kills + 1))
			landed=$(cat "$T"/rc/* | grep -c '^137$')
		fi
		;;
	esac
done
: >"$T/stop"
for p in $workers; do
	wait "$p"
done
workers=""

# ---- what happened ------------------------------------------------------------
started=0
killed=0
exited=0
failed=0
answered=0
in_log=0
receipts=0
"$TG" --data-dir "$D" audit verify >"$T/verify" 2>&1
vrc=$?
sqlite3 "$D/tiergate.db" "SELECT decision_id FROM entries
    WHERE kind = 'decision'" >"$T/ids"
entries=$(sqlite3 "$D/tiergate.db" "SELECT count(*) FROM entries")

# One pass over the outputs: "NAME DECISION_ID" for every complete
# decision with a receipt (its last line closes the top-level object).
awk 'FNR == 1 { if (prev != "") done(); prev = FILENAME; id = ""; proof = 0 }
    /^  "decision_id": "/ { id = $2; gsub(/[",]/, "", id) }
    /"inclusion_proof"/ { proof = 1 }
    { last = $0 }
    function done(n) {
	n = prev; sub(/.*\//, "", n)
	if (last == "}" && proof) print n, (id == "" ? "-" : id)
    }
    END { if (prev != "") done() }' "$T"/out/* >"$T/answered"

for f in "$T"/out/*; do
	name=${f##*/}
	started=$((started + 1))
	src=
	read -r src 2>/dev/null <"$T/rc/$name"
	case $src in
	137) killed=$((killed + 1)) ;;
	0 | 1) exited=$((exited + 1)) ;;
	*)
		failed=$((failed + 1))
		echo "# check $name: exit status '${src:-?}'"
		sed 's/^/#   stderr: /' "$T/err/$name" | head -n 3
		;;
	esac
	case $src in
	0 | 1)
		if ! grep -q "^$name " "$T/answered"; then
			echo "# check $name: exited $src without a complete" \
			    "decision"
			failed=$((failed + 1))
		fi
		;;
	esac
done
while read -r name id; do
	answered=$((answered + 1))
	if grep -qxF "$id" "$T/ids"; then
		in_log=$((in_log + 1))
	else
		echo "# check $name: decision '$id' is not in the log"
	fi
	if "$TG" audit verify-receipt --key "$D/signing.pub" "$T/out/$name" \
	    >"$T/vr" 2>&1 </dev/null; then
		receipts=$((receipts + 1))
	else
		echo "# check $name: receipt: $(cat "$T/vr")"
	fi
done <"$T/answered"

echo "# $tries kill moments, $kills SIGKILLs sent; $started checks:" \
    "$killed killed, $exited exited by themselves, $failed failed"
echo "# answered $answered, in the log $in_log, receipts verified" \
    "$receipts; entries $entries ($((entries - answered)) committed but" \
    "not answered)"

if [ $vrc -eq 0 ]; then
	ok "audit verify after the crashes: $(cut -c1-60 "$T/verify")"
else
	not_ok "audit verify after the crashes: exit $vrc: $(cat "$T/verify")"
fi
if [ $killed -ge $MINKILLS ]; then
	ok "$killed checks died of SIGKILL (at least $MINKILLS)"
else
	not_ok "only $killed checks died of SIGKILL (want $MINKILLS)"
fi
if [ $failed -eq 0 ]; then
	ok "no check failed or exited without its decision"
else
	not_ok "$failed checks failed or exited without their decision"
fi
if [ $answered -gt 0 ] && [ $in_log -eq $answered ]; then
	ok "all $answered answered decisions are in the log"
else
	not_ok "$in_log of $answered answered decisions are in the log"
fi
if [ $answered -gt 0 ] && [ $receipts -eq $answered ]; then
	ok "all $answered receipts verify"
else
	not_ok "$receipts of $answered receipts verify"
fi
if [ "$entries" -ge $answered ] && [ "$entries" -le $started ]; then
	ok "entries ($entries) between answered ($answered) and started \
($started)"
else
	not_ok "entries $entries, answered $answered, started $started"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
