#!/bin/sh
# faults.sh TIERGATE: the audit writer under I/O and OpenSSL faults (issue 8,
# "Fault injection"): a full disk (SQLITE_FULL), write and fsync errors
# (SQLITE_IOERR), a busy database (SQLITE_BUSY) and OpenSSL failures, each
# against `tiergate check`, `tiergate screen` and `tiergate serve`.
#
# The faults come from BUILDDIR/tests/faultshim.so (tests/faults/faultshim.c,
# built by `make test-one`), preloaded into the tiergate under test only:
# it makes pwrite/write (ENOSPC or EIO) or fdatasync (EIO) fail on the
# database files, or EVP_DigestSign, EVP_DigestSignInit or EVP_Digest
# fail, after a given number of calls.  Each fault is first counted in a
# clean run (how many such calls the command makes, M), then injected at a
# spread of points (call 1, M/4, M/2, 3M/4, M), so it lands in opening the
# log, in the commit, and in the checkpoint after it.  SQLITE_BUSY is
# another process holding the write lock (the sqlite3 shell in BEGIN
# IMMEDIATE) longer than tiergate's 5 s busy timeout.
#
# The rule checked everywhere: nothing is answered as decided that is not
# in the log.
#   - check: exit 2 with no decision on stdout and the reason on stderr;
#     or, when the fault came after the commit (closing the log), exit 0/1
#     with a decision that is in the log.  Then `audit verify` passes
#     (ledger OK, audit log OK) and a check without the fault succeeds.
#   - screen (300 transactions, two commit groups and the batch entry):
#     exit 2; every row printed with a decision id is in the log; `audit
#     verify` passes.
#   - serve: the fault is armed in a running daemon (the shim's trigger
#     file) and lifted again.  POST /v1/decisions answers 503
#     (problem+json, Retry-After) while it lasts, never 201.  After a full
#     disk or an OpenSSL failure the daemon answers 201 again by itself;
#     after an I/O error it stops writing (503, /readyz 503: a failed fsync
#     leaves the file's state unknown) until it is restarted.  After the
#     restart every decision answered 201 is found (GET
#     /v1/decisions/{id}) and `audit verify` passes.
#   - every test also checks that its fault really fired (the shim's log).
#
# Needs curl, sqlite3 and awk.  Ends with "N passed, N failed"; exits 1 if
# any test failed.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

START=$(date +%s)
SHIM=$(dirname "$TG")/tests/faultshim.so
if [ ! -f "$SHIM" ]; then
	echo "faults: no $SHIM (make $(dirname "$TG")/tests/faultshim.so)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
for c in sqlite3 awk; do
	command -v $c >/dev/null 2>&1 || {
		echo "faults: the $c command is missing (packaging/deps.sh)" >&2
		echo "0 passed, 1 failed"
		exit 1
	}
done
# An ASan build wants its runtime first among the preloaded libraries.
PRELOAD=$SHIM
ASAN=$(ldd "$TG" 2>/dev/null | awk '/libasan/ { print $3; exit }')
[ -n "$ASAN" ] && PRELOAD="$ASAN $SHIM"
REAL_TG=$TG

JSON="Content-Type: application/json"
sed 's/"dry_run": true/"dry_run": false/' etc/examples/lpp-h100-in.json \
    >"$T/binding.json"
Q=$T/binding.json

# The batch: 300 one-row transactions, more than one commit group (256).
{
	echo "reference,date,destination,consignee_id,consignee_name,kind,product,quantity"
	i=1
	while [ $i -le 300 ]; do
		echo "F-$i,2025-07-01,IN,in-$((i % 7)),Acme $((i % 7)),chip,nvidia-h100-sxm,$((i % 50 + 1))"
		i=$((i + 1))
	done
} >"$T/batch.csv"
head -n 4 "$T/batch.csv" >"$T/small.csv"

# ---- helpers -----------------------------------------------------------------

# faulty OP ERRNO TIMES AFTER CMD...: CMD with the shim failing OP from its
# (AFTER+1)-th call on (TIMES calls, or all when empty); what it failed
# goes to $T/shim.log.
faulty() {
	f_op=$1
	f_en=$2
	f_times=$3
	f_after=$4
	shift 4
	: >"$T/shim.log"
	env LD_PRELOAD="$PRELOAD" FAULTSHIM_OP="$f_op" \
	    FAULTSHIM_ERRNO="$f_en" FAULTSHIM_AFTER="$f_after" \
	    FAULTSHIM_TIMES="$f_times" FAULTSHIM_LOG="$T/shim.log" "$@"
}

# calls OP CMD...: prints how many OP calls CMD makes (nothing fails).
calls() {
	c_op=$1
	shift
	rm -f "$T/count"
	env LD_PRELOAD="$PRELOAD" FAULTSHIM_OP="$c_op" \
	    FAULTSHIM_AFTER=1000000000 FAULTSHIM_COUNT="$T/count" "$@" \
	    >/dev/null 2>&1 </dev/null
	awk '{ n = $1 } END { print n + 0 }' "$T/count" 2>/dev/null || echo 0
}

# spread M [PARTS]: fault points 0 .. M-1, PARTS+1 of them spread evenly
# (default 4 parts), without repeats.
spread() {
	awk -v m="$1" -v p="${2:-4}" 'BEGIN {
		for (i = 0; i <= p; i++) {
			v = int((m - 1) * i / p)
			if (v < 0 || (v in seen)) continue
			seen[v] = 1; printf "%d ", v
		} }'
}

# fired: the shim's log says the fault fired (called through check).
# shellcheck disable=SC2317
fired() {
	[ -s "$T/shim.log" ]
}

# in_log DATA ID: the decision is an entry of the log.
in_log() {
	n=$(sqlite3 "$1/tiergate.db" "SELECT count(*) FROM entries WHERE \
kind = 'decision' AND decision_id = '$2'" 2>/dev/null)
	[ "${n:-0}" -eq 1 ]
}

# san_clean FILE DESC: no sanitizer report in FILE (a program's stderr;
# the daemons' logs are checked by finish).
san_clean() {
	if grep -qE "$SAN_RE" "$1" 2>/dev/null; then
		not_ok "$2: sanitizer report: $(grep -m 1 -E "$SAN_RE" "$1")"
	fi
}

# entries DATA: the number of entries in the log.
entries() {
	sqlite3 "$1/tiergate.db" "SELECT count(*) FROM entries" 2>/dev/null ||
	    echo 0
}

# verify_ok DATA DESC: `audit verify` passes with ledger and log OK.
verify_ok() {
	"$REAL_TG" --data-dir "$1" audit verify >"$T/verify" 2>&1 </dev/null
	v_rc=$?
	if [ $v_rc -eq 0 ] && grep -q '^ledger OK' "$T/verify" &&
	    grep -q '^audit log OK' "$T/verify"; then
		ok "$2: audit verify: $(verify_line "$T/verify")"
	else
		not_ok "$2: audit verify exits $v_rc: $(head -c 300 \
		    "$T/verify" | tr '\n' ' ')"
	fi
}

# clean_check DATA DESC: a check without any fault succeeds and is logged.
clean_check() {
	"$REAL_TG" --data-dir "$1" check "$Q" >"$T/fresh.out" \
	    2>"$T/fresh.err" </dev/null
	f_rc=$?
	san_clean "$T/fresh.err" "$2: the check without the fault"
	f_id=$(json_str "$T/fresh.out" decision_id)
	if [ $f_rc -le 1 ] && [ -n "$f_id" ] && in_log "$1" "$f_id"; then
		ok "$2: then a check without the fault decides (exit $f_rc)"
	else
		not_ok "$2: then a check without the fault: exit $f_rc: \
$(head -c 200 "$T/fresh.err")"
	fi
}

# The faults: OP:ERRNO:TIMES (ERRNO only for I/O; TIMES empty: the fault
# lasts, 1: one call fails and the next ones succeed, as a passing hiccup
# that the program must neither survive with a wrong answer nor hide).
KINDS="write:ENOSPC: write:EIO: sync:EIO: sign:: signinit:: digest:: digest::1"

# receipt_ok DATA FILE: the decision's receipt verifies offline with the
# log's public key (it names the right key, its proof and signature hold).
receipt_ok() {
	"$REAL_TG" audit verify-receipt --key "$1/signing.pub" "$2" \
	    >/dev/null 2>&1 </dev/null
}

# fresh DIR: DIR becomes a copy of the log $T/pristine (one decision), so
# that every run starts from the same state and makes the same calls.
fresh() {
	rm -rf "$1"
	cp -a "$T/pristine" "$1"
}
"$TG" --data-dir "$T/pristine" check "$Q" >/dev/null 2>&1 </dev/null

# ---- check -------------------------------------------------------------------
C=$T/check
n_check=0
n_failed=0
n_silent=0
n0=$(entries "$T/pristine")
for k in $KINDS; do
	op=${k%%:*}
	en=${k#*:}
	times=${en#*:}
	en=${en%%:*}
	fresh "$C"
	m=$(calls "$op" "$TG" --data-dir "$C" check "$Q")
	if [ "$m" -eq 0 ]; then
		not_ok "check: $op: no such call is made (the shim is not in use?)"
		continue
	fi
	for after in $(spread "$m"); do
		w="check, $op${en:+ $en}${times:+ once} at call $((after + 1)) of $m"
		fresh "$C"
		faulty "$op" "$en" "$times" "$after" "$TG" --data-dir "$C" \
		    check "$Q" >"$T/out" 2>"$T/err" </dev/null
		rc=$?
		n_check=$((n_check + 1))
		san_clean "$T/err" "$w"
		check "$w: the fault fired" fired
		id=$(json_str "$T/out" decision_id)
		if [ $rc -eq 2 ] && [ ! -s "$T/out" ] && [ -s "$T/err" ]; then
			ok "$w: exit 2, nothing printed as decided: \
$(head -n 1 "$T/err" | cut -c1-110)"
			# Committed all the same (the fault hit after the
			# commit, or a failed fsync's pages reached the disk
			# and recovery found them): in the log, never
			# answered, as after kill -9.  Allowed; counted.
			n_failed=$((n_failed + 1))
			[ "$(entries "$C")" -gt "$n0" ] &&
			    n_silent=$((n_silent + 1))
		elif [ $rc -le 1 ] && [ -n "$id" ] && in_log "$C" "$id" &&
		    receipt_ok "$C" "$T/out"; then
			ok "$w: exit $rc, decided anyway; decision $id is in the log and its receipt verifies"
		else
			not_ok "$w: exit $rc, stdout $(wc -c <"$T/out") bytes \
(id '$id'), stderr: $(head -c 200 "$T/err" | tr '\n' ' ')"
		fi
		verify_ok "$C" "$w"
		clean_check "$C" "$w"
	done
done

# ---- screen ------------------------------------------------------------------
# screened DATA OUT: every row of OUT with a decision id is in the log;
# prints "printed decided" counts into $S_ROWS $S_DECIDED.
S_BAD=""
screened() {
	S_ROWS=$(($(wc -l <"$2") - 1))
	[ $S_ROWS -lt 0 ] && S_ROWS=0
	awk -F, 'NR > 1 && $14 != "" { print $14 }' "$2" >"$T/ids"
	S_DECIDED=$(wc -l <"$T/ids")
	S_BAD=""
	while read -r sid; do
		in_log "$1" "$sid" || S_BAD="$S_BAD $sid"
	done <"$T/ids"
	[ -z "$S_BAD" ]
}

S=$T/screen
# Which faults at which points: the screen makes many calls, so fewer
# points than check, chosen to land in the first group, the second one,
# the batch entry and after.
for k in write:ENOSPC write:EIO sync:EIO sign: digest:; do
	op=${k%%:*}
	en=${k#*:}
	fresh "$S"
	m=$(calls "$op" "$TG" --data-dir "$S" screen "$T/batch.csv")
	case $k in
	write:ENOSPC) parts=3 ;;
	*) parts=2 ;;
	esac
	for after in $(spread "$m" $parts); do
		w="screen, $op${en:+ $en} at call $((after + 1)) of $m"
		fresh "$S"
		faulty "$op" "$en" "" "$after" "$TG" --data-dir "$S" screen \
		    "$T/batch.csv" >"$T/sout" 2>"$T/serr" </dev/null
		rc=$?
		san_clean "$T/serr" "$w"
		check "$w: the fault fired" fired
		if screened "$S" "$T/sout"; then
			ok "$w: exit $rc; $S_DECIDED of $S_ROWS rows printed as decided, all in the log"
		else
			not_ok "$w: rows printed as decided but not in the log:$S_BAD"
		fi
		if [ $rc -eq 2 ] || { [ $rc -le 1 ] && [ "$S_DECIDED" -eq 300 ]; }; then
			ok "$w: exit $rc"
		else
			not_ok "$w: exit $rc with $S_DECIDED of 300 rows decided: \
$(grep -m 1 tiergate: "$T/serr" | cut -c1-150)"
		fi
		verify_ok "$S" "$w"
	done
done

# ---- serve -------------------------------------------------------------------
# A wrapper that starts the daemon under the shim, armed by $T/arm.
make_wrapper() {
	cat >"$T/tg-faulty" <<EOF
#!/bin/sh
exec env LD_PRELOAD="$PRELOAD" FAULTSHIM_OP="$1" FAULTSHIM_ERRNO="$2" \\
    FAULTSHIM_TRIGGER="$T/arm" FAULTSHIM_LOG="$T/shim.log" "$REAL_TG" "\$@"
EOF
	chmod +x "$T/tg-faulty"
}

# post NAME: POST the binding query; prints the status.
post() {
	req "$1" POST /v1/decisions -H "Authorization: Bearer $TOKEN" \
	    -H "$JSON" --data @"$Q"
}

for k in write:ENOSPC write:EIO sync:EIO sign:; do
	op=${k%%:*}
	en=${k#*:}
	name=serve-$op${en:+-$en}
	w="serve, $op${en:+ $en}"
	rm -f "$T/arm"
	: >"$T/shim.log"
	make_wrapper "$op" "$en"
	TG=$T/tg-faulty
	start "$name"
	started=$?
	TG=$REAL_TG
	if [ $started -ne 0 ]; then
		not_ok "$w: the daemon starts"
		continue
	fi
	TOKEN=$(tok screen)
	: >"$T/$name.ids"
	st=$(post p0)
	expect p0 201 "$st" "$w: before the fault" &&
	    json_str "$T/p0.body" decision_id >>"$T/$name.ids"
	: >"$T/arm"
	st=$(post p1)
	expect p1 503 "$st" "$w: while it lasts"
	checkx "$w: 503 has Retry-After" '[ -n "$(hdr p1 Retry-After)" ]'
	st=$(post p2)
	expect p2 503 "$st" "$w: still, on the next request"
	st=$(req pb POST /v1/decisions/batch \
	    -H "Authorization: Bearer $TOKEN" -H "$JSON" \
	    --data "{\"transactions\": [$(cat "$Q"), $(cat "$Q")]}")
	expect pb 503 "$st" "$w: a batch too"
	check "$w: the fault fired" fired
	rm -f "$T/arm"
	st=$(post p3)
	case $k in
	write:EIO | sync:EIO)
		# An I/O error: the log takes no more writes until restarted.
		expect p3 503 "$st" "$w: lifted, it still takes no more writes"
		checkx "$w: its 503 says why" \
		    'grep -q "restart tiergate" "$T/p3.body"'
		st=$(req ready GET /readyz)
		checkx "$w: /readyz answers 503 (got $st)" '[ "$st" = 503 ]'
		# It still reads: what is logged can be fetched.
		st=$(req g0 GET "/v1/decisions/$(head -n 1 "$T/$name.ids")" \
		    -H "Authorization: Bearer $TOKEN")
		expect g0 200 "$st" "$w: it still answers reads"
		;;
	*)
		expect p3 201 "$st" "$w: lifted, the daemon decides again" &&
		    json_str "$T/p3.body" decision_id >>"$T/$name.ids"
		;;
	esac
	stop_daemon "$DPID"
	check "$w: the daemon exits 0 on SIGTERM (got $RC)" [ "$RC" -eq 0 ]
	# A restart on the same log, without the fault.
	if start "$name"; then
		TOKEN=$(tok screen)
		st=$(post p4)
		expect p4 201 "$st" "$w: restarted, it decides" &&
		    json_str "$T/p4.body" decision_id >>"$T/$name.ids"
		missing=""
		while read -r id; do
			st=$(req g GET "/v1/decisions/$id" \
			    -H "Authorization: Bearer $TOKEN")
			[ "$st" = 200 ] || missing="$missing $id"
		done <"$T/$name.ids"
		checkx "$w: every decision answered 201 ($(wc -l \
<"$T/$name.ids")) is found after the restart${missing:+; missing:$missing}" \
		    '[ -z "$missing" ]'
		stop_daemon "$DPID"
	else
		not_ok "$w: the daemon restarts"
	fi
	verify_ok "$DATA" "$w"
done

# ---- a busy database ---------------------------------------------------------
# Another process holds the write lock longer than the busy timeout (5 s):
# a check, a screen and a POST of a batch, all at once, give up with
# SQLITE_BUSY.
w="busy database"
if start busy; then
	B=$DATA
	TOKEN=$(tok screen)
	st=$(post b0)
	expect b0 201 "$st" "$w: before the lock" &&
	    json_str "$T/b0.body" decision_id >"$T/busy.ids"
	rm -f "$T/lock.out"
	{
		echo "BEGIN IMMEDIATE;"
		echo "SELECT 'locked';"
		sleep 6.5
		echo "ROLLBACK;"
	} | sqlite3 "$B/tiergate.db" >"$T/lock.out" 2>&1 &
	locker=$!
	i=0
	while ! grep -q locked "$T/lock.out" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	"$TG" --data-dir "$B" check "$Q" >"$T/bc.out" 2>"$T/bc.err" \
	    </dev/null &
	pc=$!
	"$TG" --data-dir "$B" screen "$T/small.csv" >"$T/bs.out" \
	    2>"$T/bs.err" </dev/null &
	ps=$!
	# A batch of two (alone, so that its group is the one that waits
	# for the lock): a group that never began has no receipts, and the
	# writer used to free two that did not exist, and crash.
	st=$(req bb POST /v1/decisions/batch \
	    -H "Authorization: Bearer $TOKEN" -H "$JSON" \
	    --data "{\"transactions\": [$(cat "$Q"), $(cat "$Q")]}")
	wait $pc
	rc_c=$?
	wait $ps
	rc_s=$?
	san_clean "$T/bc.err" "$w: check"
	san_clean "$T/bs.err" "$w: screen"
	expect bb 503 "$st" "$w: POST /v1/decisions/batch"
	checkx "$w: check exits 2 and says busy (exit $rc_c)" \
	    '[ $rc_c -eq 2 ] && [ ! -s "$T/bc.out" ] && grep -q busy "$T/bc.err"'
	if screened "$B" "$T/bs.out" && [ $rc_s -eq 2 ]; then
		ok "$w: screen exits 2 with no row in the log unlogged ($S_DECIDED decided)"
	else
		not_ok "$w: screen exits $rc_s; unlogged:$S_BAD"
	fi
	wait $locker
	st=$(post b2)
	expect b2 201 "$st" "$w: once the lock is gone the daemon decides" &&
	    json_str "$T/b2.body" decision_id >>"$T/busy.ids"
	missing=""
	while read -r id; do
		in_log "$B" "$id" || missing="$missing $id"
	done <"$T/busy.ids"
	checkx "$w: the decisions answered 201 are in the log" \
	    '[ -z "$missing" ]'
	stop_daemon "$DPID"
	clean_check "$B" "$w"
	verify_ok "$B" "$w"
else
	not_ok "$w: the daemon starts"
fi

echo "# $n_check faulty checks, $n_failed of them failed (exit 2), and \
$n_silent of those committed their decision all the same (in the log, not \
answered); $(($(date +%s) - START)) s"
finish
