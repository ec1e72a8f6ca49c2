#!/bin/sh
# lifecycle.sh TIERGATE: stopping, crashing and slow clients (issue 5,
# "Tests"), against real daemons on 127.0.0.1 with ephemeral ports:
#
#   - SIGTERM with requests in flight: clients whose bodies are still
#     arriving when SIGTERM comes, and quick ones sent just before it, are
#     all answered 201; the daemon exits 0 and every answered decision is
#     in the log.
#   - kill -9 under load: three clients post binding decisions back to
#     back; the daemon is killed with SIGKILL; `tiergate audit verify`
#     passes; a restarted daemon on the same data dir finds every decision
#     that was answered 201 (GET /v1/decisions/{id}, same seq and
#     entry_hash) and its receipt verifies offline.
#   - A slow client (connection_timeout 2 in the config) that sends its
#     request head one byte a second and then stops: others are served
#     meanwhile without delay, and once it stops sending the daemon closes
#     its connection after connection_timeout.
#   - Clients that shut down their sending side after a whole request
#     (one decision, or two pipelined) get every answer.
#
# Linux: the slow-client test reads /proc/net/tcp.  Ends with "N passed, N
# failed"; exits 1 if any test failed.
# checkx takes its expressions in single quotes, to be eval'd.
# shellcheck disable=SC2016
set -u

# It takes TIERGATE, changes to the top of the tree, and sets up $T.
# shellcheck source=tests/api/lib.sh
. "$(dirname "$0")/../api/lib.sh"

JSON="Content-Type: application/json"
sed 's/"dry_run": true/"dry_run": false/' etc/examples/lpp-h100-in.json \
    >"$T/binding.json"

# ids FILES...: the decision_id of each 201 answer among FILES (bodies
# whose .st file says 201).
ids() {
	for f in "$@"; do
		[ "$(cat "${f%.body}.st" 2>/dev/null)" = 201 ] || continue
		json_str "$f" decision_id
	done
}

# ---- SIGTERM with requests in flight ---------------------------------------
if start term; then
	S=$(tok screen)
	pids=""
	# Slow bodies: the request head now, the body a second later.
	for i in 1 2 3 4; do
		(sleep 1; cat etc/examples/aia-h100-de.json) |
		    req "s$i" POST /v1/decisions -H "Authorization: Bearer $S" \
		    -H "$JSON" -H "Expect:" -T - >"$T/s$i.st" &
		pids="$pids $!"
	done
	sleep 0.5
	for i in 1 2 3 4; do
		req "f$i" POST /v1/decisions -H "Authorization: Bearer $S" \
		    -H "$JSON" --data-binary @"$T/binding.json" >"$T/f$i.st" &
		pids="$pids $!"
	done
	sleep 0.3
	kill -TERM "$DPID"
	for p in $pids; do
		wait "$p"
	done
	stop_daemon "$DPID"
	check "SIGTERM with 8 requests in flight: exit status 0 (got $RC)" \
	    [ "$RC" -eq 0 ]
	n=0
	bad=""
	for i in 1 2 3 4; do
		for k in s f; do
			st=$(cat "$T/$k$i.st")
			if [ "$st" = 201 ]; then
				n=$((n + 1))
			else
				bad="$bad $k$i:$st"
			fi
		done
	done
	checkx "SIGTERM: all 8 in flight answered 201 ($n${bad:+; not:$bad})" \
	    '[ $n -eq 8 ]'
	"$TG" --data-dir "$DATA" audit export >"$T/term.export" 2>&1 </dev/null
	missing=0
	for id in $(ids "$T"/s?.body "$T"/f?.body); do
		grep -q "$id" "$T/term.export" || missing=$((missing + 1))
	done
	checkx "SIGTERM: every answered decision is in the log ($missing \
missing)" '[ $missing -eq 0 ]'
else
	not_ok "the daemon starts"
fi

# ---- kill -9 under load ----------------------------------------------------
if start crash; then
	S=$(tok screen)
	crash_port=$PORT
	# client W: binding decisions until one is not answered (the
	# daemon is gone); bodies in $T/kW.I.body, statuses in $T/kW.I.st.
	client() {
		w=$1
		i=0
		while [ $i -lt 5000 ]; do
			i=$((i + 1))
			q=$T/binding.json
			[ $((i % 2)) -eq 0 ] &&
			    q=etc/examples/license-h100-my-cn-parent.json
			req "k$w.$i" POST /v1/decisions \
			    -H "Authorization: Bearer $S" -H "$JSON" \
			    --data-binary @"$q" >"$T/k$w.$i.st"
			[ "$(cat "$T/k$w.$i.st")" = 201 ] || break
		done
	}
	cpids=""
	for w in 1 2 3; do
		client $w &
		cpids="$cpids $!"
	done
	# At least 30 answers, then SIGKILL mid-stream.
	i=0
	while [ "$(grep -lx 201 "$T"/k*.st 2>/dev/null | wc -l)" -lt 30 ] &&
	    [ $i -lt $((200 * SLOW)) ]; do
		sleep 0.05
		i=$((i + 1))
	done
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null
	forget "$DPID"
	for p in $cpids; do
		wait "$p"
	done
	sent=$(find "$T" -name 'k*.st' | wc -l)
	ids "$T"/k*.body >"$T/answered"
	n=$(wc -l <"$T/answered")
	echo "# $sent requests sent, $n answered 201 before SIGKILL"
	"$TG" --data-dir "$DATA" audit verify >"$T/verify" 2>&1 </dev/null
	c=$?
	check "kill -9 under load: audit verify: $(verify_line "$T/verify")" \
	    [ $c -eq 0 ]
	if start crash; then
		ok "the daemon restarts on the crashed data dir (port $PORT,\
 was $crash_port)"
		# Every answered decision, looked up in one curl run.
		while read -r id; do
			printf 'url = "%s/v1/decisions/%s"\n' "$U" "$id"
			printf 'output = "%s/g.%s"\n' "$T" "$id"
		done >"$T/get.cfg" <"$T/answered"
		curl -s -K "$T/get.cfg" -H "Authorization: Bearer $S" \
		    -w '%{http_code}\n' >"$T/get.st"
		found=$(grep -c '^200$' "$T/get.st")
		checkx "every decision answered before the crash is found\
 after it ($found of $n)" '[ "$n" -ge 30 ] && [ "$found" -eq "$n" ]'
		same=0
		vr=0
		for f in "$T"/k*.body; do
			[ "$(cat "${f%.body}.st")" = 201 ] || continue
			id=$(json_str "$f" decision_id)
			a="$(receipt_key "$f" seq) $(receipt_key "$f" \
			    entry_hash)"
			b=" "
			[ -f "$T/g.$id" ] && b="$(receipt_key "$T/g.$id" \
			    seq) $(receipt_key "$T/g.$id" entry_hash)"
			[ "$a" != " " ] && [ "$a" = "$b" ] &&
			    same=$((same + 1))
			"$TG" audit verify-receipt --key "$DATA/signing.pub" \
			    "$f" >/dev/null 2>&1 </dev/null && vr=$((vr + 1))
		done
		checkx "... each with the seq and entry_hash it was answered\
 with ($same of $n)" '[ "$same" -eq "$n" ]'
		checkx "... and each answered receipt verifies offline ($vr of \
$n)" '[ "$vr" -eq "$n" ]'
		s=$(req after POST /v1/decisions -H "Authorization: Bearer $S" \
		    -H "$JSON" --data-binary @"$T/binding.json")
		expect after 201 "$s" "decisions go on after the restart"
		stop_daemon "$DPID"
		check "the restarted daemon exits 0 (got $RC)" [ "$RC" -eq 0 ]
		"$TG" --data-dir "$DATA" audit verify >"$T/verify" 2>&1 \
		    </dev/null
		c=$?
		check "audit verify after the restart: $(verify_line \
		    "$T/verify")" [ $c -eq 0 ]
	else
		not_ok "the daemon restarts on the crashed data dir"
	fi
else
	not_ok "the daemon starts"
fi

# ---- a slow client ---------------------------------------------------------
cat >"$T/slow.yaml" <<EOF
rules:
  - rules
limits:
  connection_timeout: 2
EOF
if start slow "$T/slow.yaml"; then
	S=$(tok screen)
	base=$(conns "$PORT")
	# The request head one byte a second for 4 s (longer than the
	# timeout), then nothing for 8 s.  curl's telnet:// is a raw TCP
	# client.
	t0=$(date +%s)
	(printf 'GET /v1/rules HTTP/1.1\r\nHost: x\r\nX'; i=0
	while [ $i -lt 4 ]; do sleep 1; printf x; i=$((i + 1)); done
	sleep 8) | curl -s --max-time 14 "telnet://127.0.0.1:$PORT" \
	    >"$T/slow.out" 2>/dev/null &
	spid=$!
	sleep 1
	checkx "the slow client is connected ($(conns "$PORT") connections)" \
	    '[ "$(conns "$PORT")" -gt "$base" ]'
	worst=0
	bad=0
	i=0
	while [ $i -lt 6 ]; do
		i=$((i + 1))
		s=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' \
		    --max-time 10 -H "Authorization: Bearer $S" "$U/v1/rules")
		[ "${s% *}" = 200 ] || bad=$((bad + 1))
		ms=$(echo "${s#* }" | awk '{ printf "%d", $1 * 1000 }')
		[ "$ms" -gt "$worst" ] && worst=$ms
		sleep 0.5
	done
	checkx "others are served while the slow client sends (6 requests, \
slowest $worst ms)" '[ $bad -eq 0 ] && [ "$worst" -lt 1000 ]'
	# It stops sending at about t0 + 4; closed by t0 + 4 + 2 (+ 2 slack).
	closed=""
	while [ "$(($(date +%s) - t0))" -lt 12 ]; do
		if [ "$(conns "$PORT")" -le "$base" ]; then
			closed=$(($(date +%s) - t0))
			break
		fi
		sleep 0.2
	done
	checkx "the stalled client is closed after connection_timeout (at \
${closed:-never} s; stopped sending at 4 s, timeout 2 s)" \
	    '[ -n "$closed" ] && [ "$closed" -le 9 ]'
	check "the stalled client got no answer" [ ! -s "$T/slow.out" ]
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	s=$(req after GET /v1/rules -H "Authorization: Bearer $S")
	expect after 200 "$s" "the daemon serves after the slow client"
	stop_daemon "$DPID"
	check "the daemon exits 0 (got $RC)" [ "$RC" -eq 0 ]
else
	not_ok "the daemon starts with $T/slow.yaml"
fi

# ---- clients that half-close -------------------------------------------------
# A client may shut down its sending side once its request is out
# (`printf ... | nc -N`, a script's shutdown(SHUT_WR)) and wait for the
# answer.  A decision waits for the writer meanwhile; it must still be
# answered (under libmicrohttpd's poll() the connection was dropped).
# perl is the client (perl-base is essential in Debian): curl never
# half-closes.
if ! command -v perl >/dev/null 2>&1; then
	echo "# skipped: clients that half-close (no perl)"
elif start halfclose; then
	S=$(tok screen)
	b=$(cat etc/examples/aia-h100-de.json)
	one=$(printf '%s\r\n' 'POST /v1/decisions HTTP/1.1' 'Host: x' \
	    "Authorization: Bearer $S" 'Content-Type: application/json' \
	    "Content-Length: ${#b}" ''; printf '%s' "$b")
	# hc REQUEST: sends it, shuts down the sending side, prints the
	# status lines of what comes back (within 10 s).
	hc() {
		perl -MIO::Socket::INET -e '
		    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1",
		        PeerPort => $ARGV[1]) or exit 1;
		    print $s $ARGV[0];
		    shutdown($s, 1);
		    local $SIG{ALRM} = sub { exit 0 };
		    alarm 10;
		    while (<$s>) { print if m{^HTTP/1\.1 }; }' "$1" "$PORT"
	}
	got=$(hc "$one" | tr -d '\r' | tr '\n' ' ')
	checkx "a decision, then the sending side shut down: answered \
(got: ${got:-nothing})" '[ "$got" = "HTTP/1.1 201 Created " ]'
	got=$(hc "$one$one" | tr -d '\r' | tr '\n' ' ')
	checkx "two pipelined decisions, then the sending side shut down: \
both answered (got: ${got:-nothing})" \
	    '[ "$got" = "HTTP/1.1 201 Created HTTP/1.1 201 Created " ]'
	stop_daemon "$DPID"
	check "the daemon exits 0 (got $RC)" [ "$RC" -eq 0 ]
else
	not_ok "the daemon starts"
fi
# ---- the open files limit ---------------------------------------------------
# Every connection is a descriptor: a daemon started with a soft limit of
# 512 raises it to what connections_max (1024) needs, and one whose hard
# limit is 256 takes fewer connections and says so.
if (ulimit -Sn 512) 2>/dev/null; then
	ulimit -Sn 512
	if start fdlimit; then
		lim=$(awk '/^Max open files/ { print $4 }' "/proc/$DPID/limits")
		check "a soft limit of 512 files is raised for 1024 connections \
(got ${lim:-?})" [ "${lim:-0}" -ge 1088 ]
		stop_daemon "$DPID"
	else
		not_ok "the daemon starts with a soft limit of 512 files"
	fi
	ulimit -Sn "$(ulimit -Hn)" 2>/dev/null
fi
if (ulimit -n 256) 2>/dev/null; then
	( ulimit -n 256; start fdlow && { stop_daemon "$DPID"; exit 0; }
	    exit 1 )
	check "a hard limit of 256 files: the daemon starts anyway" [ $? -eq 0 ]
	check "... and says it takes 192 connections" grep -qF \
	    "the open files limit is 256: taking 192 connections" \
	    "$T/fdlow.log"
fi
finish
