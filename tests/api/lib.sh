#!/bin/sh
# lib.sh: what the tests that drive daemons share (tests/api/*.sh,
# tests/faults/faults.sh, tests/crash/kill_loop.sh).  Every such test
# takes one argument, the tiergate binary, and starts with
#
#	set -u
#	. "$(dirname "$0")/../api/lib.sh"
#
# which checks the argument, sets TG to the binary's absolute path and
# changes to the top of the source tree (the test sits two levels down).
# It makes the test's temporary directory $T (removed on exit, with every
# daemon the test started stopped by its pid), counts results (ok, not_ok;
# finish prints "N passed, N failed") and drives daemons:
#
#	start NAME [CONFIG]	tiergate serve on 127.0.0.1:0 with data dir
#				$T/NAME; sets DPID, PORT, U, DATA, LOG
#	tok ROLE		a new token of that role (on $DATA)
#	req NAME METHOD PATH [CURL-ARGS...]
#				one request; the body goes to $T/NAME.body,
#				the headers to $T/NAME.hdr, the status is
#				printed (000: no answer)
#
# Run by itself (`sh tests/api/lib.sh TIERGATE`, as tests/run_all.sh does
# with every tests/api/*.sh) it checks these helpers: a daemon starts on an
# ephemeral port, answers /healthz and exits 0 on SIGTERM.
#
# Two variables run the daemons under a tool (tests/valgrind.sh):
# TG_WRAP is a command line put before every `tiergate serve` (split at
# spaces, e.g. "valgrind --leak-check=full --log-file=F"), and TG_SLOW a
# whole number the waits for a daemon (start, answers, stop) are
# multiplied by (default 1).  `tiergate` commands other than serve run
# as they are.
#
# POSIX sh; needs curl and awk.  Linux only where /proc is read (lib's
# conns, for the slow-client test).

set -u
# Sourced, $0 and "$@" are the test's.
if [ $# -ne 1 ]; then
	echo "usage: sh $0 TIERGATE" >&2
	exit 2
fi
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2

[ -x "$TG" ] || { echo "api: no binary '$TG'" >&2; exit 2; }
if ! command -v curl >/dev/null 2>&1; then
	echo "api: the curl command is missing (apt-get install curl)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

T=$(mktemp -d) || exit 2
DAEMONS=""
WRAP=${TG_WRAP:-}
SLOW=${TG_SLOW:-1}
case $SLOW in
'' | *[!0-9]* | 0) echo "api: TG_SLOW must be a whole number" >&2; exit 2 ;;
esac
pass=0
fail=0

api_cleanup() {
	for p in $DAEMONS; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $DAEMONS; do
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt $((50 * SLOW)) ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	DAEMONS=""
	rm -rf "$T"
}
trap api_cleanup EXIT
trap 'exit 130' INT TERM

ok() {
	pass=$((pass + 1))
	echo "ok - $1"
}

not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
}

# check DESC CMD...: ok when CMD succeeds.
check() {
	d=$1
	shift
	if "$@"; then
		ok "$d"
	else
		not_ok "$d"
	fi
}

# checkx DESC EXPR: ok when the shell expression EXPR (eval'd) is true.
checkx() {
	if eval "$2"; then
		ok "$1"
	else
		not_ok "$1"
	fi
}

SAN_RE='ERROR: (Address|Leak)Sanitizer|runtime error:'
finish() {
	# A sanitizer build reports into the daemon's stderr; a daemon
	# killed with -9 or by the trap never gets its exit status checked.
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		if grep -qE "$SAN_RE" "$f"; then
			not_ok "sanitizer report in ${f##*/}:"
			grep -m 3 -E "$SAN_RE" "$f" | sed 's/^/#   /'
		fi
	done
	echo "$pass passed, $fail failed"
	[ $fail -eq 0 ]
	exit $?
}

# start NAME [CONFIG]: a daemon on data dir $T/NAME (kept when it exists,
# so a restart finds its log), stderr appended to $T/NAME.log, under
# $TG_WRAP if set.  Waits up to 20 s (times TG_SLOW) for "tiergate: ready
# on port N".  Returns 1 if it did not start.
start() {
	DATA=$T/$1
	LOG=$T/$1.log
	touch "$LOG"
	before=$(wc -l <"$LOG")
	# shellcheck disable=SC2086
	if [ $# -ge 2 ]; then
		$WRAP "$TG" --data-dir "$DATA" -c "$2" serve \
		    --listen 127.0.0.1:0 >>"$LOG" 2>&1 </dev/null &
	else
		$WRAP "$TG" --data-dir "$DATA" serve --listen 127.0.0.1:0 \
		    >>"$LOG" 2>&1 </dev/null &
	fi
	DPID=$!
	DAEMONS="$DAEMONS $DPID"
	PORT=
	i=0
	while [ $i -lt $((200 * SLOW)) ]; do
		# A restart appends to the log: only this run's lines count.
		PORT=$(tail -n +"$((before + 1))" "$LOG" |
		    sed -n 's/^tiergate: ready on port \([0-9]*\)$/\1/p')
		[ -n "$PORT" ] && break
		kill -0 "$DPID" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	U=http://127.0.0.1:$PORT
	if [ -z "$PORT" ]; then
		echo "# daemon $1 did not start:"
		tail -n +"$((before + 1))" "$LOG" | tail -n 5 | sed 's/^/#   /'
		return 1
	fi
	return 0
}

# refused PID: for a daemon expected to refuse to start: waits up to 5 s
# (times TG_SLOW) for it to exit by itself, then stops it as stop_daemon
# does; the exit status is in RC.
refused() {
	DAEMONS="$DAEMONS $1"
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $((50 * SLOW)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	stop_daemon "$1"
}

# stop_daemon PID: SIGTERM, then wait (SIGKILL after 30 s, times TG_SLOW);
# the exit status is in RC.  Not in a command substitution: wait needs the
# parent.
stop_daemon() {
	kill -TERM "$1" 2>/dev/null
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt $((300 * SLOW)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1"
	RC=$?
	forget "$1"
}

# forget PID: a daemon that is gone is not stopped again at exit.
forget() {
	d=""
	for p in $DAEMONS; do
		[ "$p" = "$1" ] || d="$d $p"
	done
	DAEMONS=$d
}

# tok ROLE [NAME]: prints a new token's secret (its id goes to $T/tokid).
tok() {
	"$TG" --data-dir "$DATA" token create --role "$1" \
	    --name "${2:-api-$1}" 2>"$T/tok.err" </dev/null
	sed -n 's/^tiergate: token \([0-9a-f]*\) .*/\1/p' "$T/tok.err" \
	    >"$T/tokid"
}

# req NAME METHOD PATH [CURL-ARGS...]: prints the status code.
req() {
	n=$1
	m=$2
	p=$3
	shift 3
	curl -s -o "$T/$n.body" -D "$T/$n.hdr" -w '%{http_code}' \
	    --max-time $((30 * SLOW)) -X "$m" "$@" "$U$p"
	echo "$m $p" >"$T/$n.req"
}

# hdr NAME HEADER: the header's value in $T/NAME.hdr (last one).
hdr() {
	tr -d '\r' <"$T/$1.hdr" | awk -v h="$2" 'BEGIN { h = tolower(h) ":" }
	    tolower(substr($0, 1, length(h))) == h {
		v = substr($0, length(h) + 1); sub(/^[ \t]*/, "", v) }
	    END { print v }'
}

# pointer NAME: errors[0].pointer of a problem in $T/NAME.body ("-" if
# there is none).
pointer() {
	sed -n 's/.*"errors":\[{"pointer":"\([^"]*\)".*/\1/p' "$T/$1.body" |
	    grep . || {
		if grep -q '"errors":\[{"pointer":""' "$T/$1.body"; then
			echo ""
		else
			echo "-"
		fi
	}
}

# is_problem NAME STATUS: $T/NAME is an RFC 9457 problem with that status,
# served as application/problem+json, with every member the contract and
# docs/openapi.yaml require.
is_problem() {
	case $(hdr "$1" Content-Type) in
	application/problem+json*) ;;
	*) return 1 ;;
	esac
	b=$T/$1.body
	grep -q "\"status\":$2[,}]" "$b" &&
	    grep -q '"type":"' "$b" && grep -q '"title":"' "$b" &&
	    grep -q '"detail":"' "$b" && grep -q '"errors":\[' "$b"
}

# expect NAME STATUS GOT DESC: one test: the status, and for an error
# (>= 400) a well-formed problem.
expect() {
	if [ "$3" != "$2" ]; then
		not_ok "$4: status $3, want $2 ($(head -c 200 "$T/$1.body" \
		    2>/dev/null | tr '\n' ' '))"
		return 1
	fi
	if [ "$2" -ge 400 ] && ! is_problem "$1" "$2"; then
		not_ok "$4: $2 but not a problem+json: type \
'$(hdr "$1" Content-Type)', body $(head -c 200 "$T/$1.body" | tr '\n' ' ')"
		return 1
	fi
	ok "$4 ($2)"
	return 0
}

# expect_ptr NAME STATUS GOT POINTER DESC: expect, and errors[0].pointer.
expect_ptr() {
	expect "$1" "$2" "$3" "$5" || return 1
	got=$(pointer "$1")
	if [ "$got" = "$4" ]; then
		ok "$5: pointer '$4'"
	else
		not_ok "$5: pointer '$got', want '$4'"
	fi
}

# json_str FILE KEY: the first "KEY": "value" (pretty or compact JSON).
json_str() {
	sed -n "s/.*\"$2\": *\"\\([^\"]*\\)\".*/\\1/p" "$1" | head -n 1
}

# receipt_key FILE KEY: KEY of the receipt of a decision as `check` prints
# it (indented).
receipt_key() {
	sed -n "/^  \"receipt\": {/,\$ s/^    \"$2\": \"*\([^\",]*\).*/\1/p" \
	    "$1"
}

# verify_line FILE: the "audit log ..." line of `audit verify`, shortened.
verify_line() {
	grep '^audit log' "$1" | cut -c1-60
}

# json_num FILE KEY: the first "KEY": number.
json_num() {
	sed -n "s/.*\"$2\": *\\([0-9][0-9]*\\).*/\\1/p" "$1" | head -n 1
}

# required SCHEMA: the required members of components/schemas/SCHEMA in
# docs/openapi.yaml, one a line.
required() {
	awk -v s="    $1:" '$0 == s { on = 1; next }
	    on && /^    [^ ]/ { exit }
	    on && /^      required: \[/ {
		sub(/^      required: \[/, ""); sub(/\].*/, "")
		gsub(/ /, ""); n = split($0, a, ",")
		for (i = 1; i <= n; i++) print a[i]
		exit }' docs/openapi.yaml
}

# has_required NAME SCHEMA: every required member of SCHEMA is a member of
# the JSON in $T/NAME.body; the missing ones are in $missing.
has_required() {
	missing=""
	for k in $(required "$2"); do
		grep -q "\"$k\": *" "$T/$1.body" || missing="$missing $k"
	done
	[ -z "$missing" ] && [ -n "$(required "$2")" ]
}

# documented PATH METHOD STATUS: docs/openapi.yaml lists STATUS among the
# responses of METHOD (lower case) on PATH (a template: /v1/decisions/{id}).
documented() {
	awk -v p="  $1:" -v m="    $2:" -v s="        \"$3\":" '
	    $0 == p { inp = 1; next }
	    inp && /^  [^ ]/ { inp = 0 }
	    inp && $0 == m { inm = 1; next }
	    inm && /^    [^ ]/ { inm = 0 }
	    inm && index($0, s) == 1 { found = 1 }
	    END { exit !found }' docs/openapi.yaml
}

# decision_core FILE: a decision without its receipt, as `check` prints
# it: the lines up to "receipt" (or the closing brace), the last comma
# dropped.  With "noid", the decision_id line is left out too.
decision_core() {
	awk -v noid="${2:-}" '
	    noid != "" && /^  "decision_id": / { next }
	    /^  "receipt": / || /^}$/ { exit }
	    { print }' "$1" | sed '$ s/,$//'
}

# conns PORT: server-side TCP connections to PORT that are established.
conns() {
	awk -v p="$(printf ':%04X' "$1")" '
	    NR > 1 && substr($2, length($2) - 4) == p && $4 == "01" { n++ }
	    END { print n + 0 }' /proc/net/tcp
}

# ---- run by itself: the helpers work ---------------------------------------
if [ "${0##*/}" = lib.sh ]; then
	if start self; then
		ok "a daemon starts on an ephemeral port ($PORT)"
		s=$(req health GET /healthz)
		expect health 200 "$s" "GET /healthz answers"
		stop_daemon "$DPID"
		check "SIGTERM: exit status 0 (got $RC)" [ "$RC" -eq 0 ]
	else
		not_ok "a daemon starts on an ephemeral port"
	fi
	finish
fi
