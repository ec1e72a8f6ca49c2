#!/bin/sh
# tamper.sh TIERGATE: black-box tamper tests of the signed audit log
# (issue 3, "Tests and figures" and "Acceptance").
#
# A real log of 12 decisions is written with `tiergate check` on the four
# example queries, with checkpoints saved after entry 6 and entry 12.  Each
# tamper class is then applied with sqlite3 to a fresh copy of the data dir,
# the way an administrator with write access to the database could, and
# `tiergate audit verify` (which did not see the tamper happen) must exit 1
# and name both the entry and the kind of damage:
#
#   (a) request byte          modified        (g) two rows swapped  reordered
#   (b) decision byte         modified        (h) a row inserted    inserted
#   (c) stored entry hash     modified        (i) tail cut          truncated
#   (d) hex digit in the body modified        (j) tree node         modified
#   (e) checkpoint signature  bad signature   (k) key replaced, or  unknown key
#   (f) entry deleted         missing             log extended under  / bad
#   (l) decision_id column    modified            a forger's key      signature
#   (m) checkpoint deleted, stray tree node         missing / inserted
#   (n) key table emptied     unknown key     (o) signing.pub not a key
#   (p) database file cut or overwritten      modified (exit 1, not 2)
#
# Then: a clean log verifies (with and without --key, with the saved
# checkpoints), a foreign key does not; every decision's receipt verifies
# offline with signing.pub, a decision with one field changed does not, a
# reformatted but equal one does; a key rotation in the middle of a log
# keeps old receipts verifiable with the retired public key only; and
# `audit consistency` proves the later checkpoint extends the earlier one,
# not the reverse.  See tests/audit/README.md.
#
# Ends with "N passed, N failed"; exits 1 if any test failed.
set -u

[ $# -eq 1 ] || { echo "usage: sh tests/audit/tamper.sh TIERGATE" >&2; exit 2; }
TG=$1
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || { echo "tamper: no binary '$TG'" >&2; exit 2; }
if ! command -v sqlite3 >/dev/null 2>&1; then
	echo "tamper: the sqlite3 command is missing (packaging/deps.sh)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

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
	for f in "$T/out" "$T/err"; do
		[ -s "$f" ] && sed 's/^/#   /' "$f" | head -n 5
	done
	return 0
}

# want_rc STATUS OK_TEXT NOT_OK_TEXT: $rc is STATUS, or not.
want_rc() {
	if [ "$rc" -eq "$1" ]; then
		ok "$2"
	else
		not_ok "$3"
	fi
}

# tg DATADIR ARGS...: runs the binary on a data dir; leaves $rc, $T/out
# and $T/err.
tg() {
	d=$1
	shift
	"$TG" --data-dir "$d" "$@" >"$T/out" 2>"$T/err" </dev/null
	rc=$?
}

# ---- the log ------------------------------------------------------------
CLEAN=$T/clean
n=0
for order in "aia lpp lic hold" "lic hold aia lpp" "hold aia lpp lic"; do
	for q in $order; do
		case $q in
		aia) f=etc/examples/aia-h100-de.json ;;
		lpp) f=etc/examples/lpp-h100-in.json ;;
		lic) f=etc/examples/license-h100-my-cn-parent.json ;;
		hold) f=etc/examples/hold-training-service-br.json ;;
		esac
		n=$((n + 1))
		tg "$CLEAN" check "$f"
		cp "$T/out" "$T/dec.$n.json"
		if [ $rc -gt 1 ] || ! grep -q '"receipt": {' "$T/out"; then
			not_ok "check $f: exit $rc, no decision with a receipt"
			echo "$pass passed, $fail failed"
			exit 1
		fi
		if [ $n -eq 6 ]; then
			tg "$CLEAN" audit checkpoint
			cp "$T/out" "$T/cp-mid"
		fi
	done
done
N=$n
tg "$CLEAN" audit checkpoint
cp "$T/out" "$T/cp-end"
if [ $rc -eq 0 ] && [ "$(sed -n 2p "$T/cp-end")" = "$N" ] &&
    [ "$(sed -n 2p "$T/cp-mid")" = 6 ]; then
	ok "a log of $N decisions, checkpoints saved at 6 and $N"
else
	not_ok "audit checkpoint: exit $rc, or wrong sizes"
fi
cp "$CLEAN/signing.pub" "$T/signing.pub"
tg "$T/other" keygen
cp "$T/other/signing.pub" "$T/other.pub"

# ---- the clean log --------------------------------------------------------
tg "$CLEAN" audit verify
if [ $rc -eq 0 ] && grep -q "^audit log OK: $N entries, $N checkpoints" \
    "$T/out"; then
	ok "clean log verifies"
else
	not_ok "clean log: exit $rc"
fi
tg "$CLEAN" audit verify --key "$T/signing.pub"
want_rc 0 "clean log verifies with --key signing.pub" \
    "clean log with --key signing.pub: exit $rc"
tg "$CLEAN" audit verify --checkpoint "$T/cp-mid"
want_rc 0 "clean log extends the checkpoint of size 6" \
    "clean log with --checkpoint cp-mid: exit $rc"
tg "$CLEAN" audit verify --checkpoint "$T/cp-end" --key "$T/signing.pub"
want_rc 0 "clean log extends the checkpoint of size $N" \
    "clean log with --checkpoint cp-end: exit $rc"
tg "$CLEAN" audit verify --key "$T/other.pub"
if [ $rc -eq 1 ] && grep -q '^audit log DAMAGED: .*unknown key' "$T/out"
then
	ok "clean log with another log's --key: unknown key, exit 1"
else
	not_ok "clean log with another log's --key: exit $rc, want 1"
fi

# ---- tampering ------------------------------------------------------------
# fresh: a copy of the clean data dir in $W, its database in $DB.
fresh() {
	W=$T/w
	rm -rf "$W"
	cp -a "$CLEAN" "$W"
	DB=$W/tiergate.db
}

# sql STATEMENTS: runs on $DB; a tamper that cannot be applied fails.
sql() {
	if ! sqlite3 -bail "$DB" "$1" >"$T/sql" 2>&1; then
		echo "# sqlite3 failed: $1"
		sed 's/^/#   /' "$T/sql"
		return 1
	fi
}

# flip COLUMN POS: SQL for COLUMN with its character at POS (an SQL
# expression, 1-based) changed: A becomes B, anything else A.
flip() {
	echo "$1 = substr($1, 1, $2 - 1) || CASE substr($1, $2, 1)" \
	    "WHEN '$3' THEN '$4' ELSE '$3' END || substr($1, $2 + 1)"
}

# flip_blob TABLE COLUMN WHERE: changes one hex digit (the ninth) of a BLOB.
flip_blob() {
	h=$(sqlite3 "$DB" "SELECT hex($2) FROM $1 WHERE $3") || return 1
	h=$(printf '%s\n' "$h" | sed 's/^\(.\{8\}\)0/\11/
	    t
	    s/^\(.\{8\}\)./\10/')
	sql "UPDATE $1 SET $2 = X'$h' WHERE $3"
}

# damaged NAME SEQ KIND [VERIFY ARGS]: `audit verify` on $W exits 1 and
# says "entry SEQ: KIND:" (SEQ and KIND are extended regular expressions).
damaged() {
	name=$1
	seq=$2
	kind=$3
	shift 3
	tg "$W" audit verify "$@"
	line=$(grep '^audit log DAMAGED: ' "$T/out")
	if [ $rc -ne 1 ]; then
		not_ok "$name: exit $rc, want 1"
	elif printf '%s\n' "$line" |
	    grep -qE "^audit log DAMAGED: entry ($seq): ($kind): "; then
		ok "$name: ${line#audit log DAMAGED: }"
	else
		not_ok "$name: want entry $seq, $kind; got: $line"
	fi
}

# tamper NAME SEQ KIND SQL: fresh copy, SQL, damaged.
tamper() {
	fresh
	if sql "$4"; then
		damaged "$1" "$2" "$3"
	else
		not_ok "$1: could not tamper"
	fi
}

K=5	# the entry most tampers aim at

# (a) one byte of a request: the quantity's first digit.
tamper "(a) request byte" $K modified "UPDATE entries SET
    $(flip request "instr(request, '\"quantity\":') + 11" 9 8) WHERE seq = $K"

# (b) one byte of a decision: the outcome's first letter.
tamper "(b) decision byte" $K modified "UPDATE entries SET
    $(flip payload "instr(payload, '\"outcome\":\"') + 11" x y) WHERE seq = $K"

# (c) the stored entry hash.
fresh
flip_blob entries entry_hash "seq = $K" &&
    damaged "(c) entry_hash" $K modified

# (d) one hex digit inside the canonical entry: of payload_sha256, of
# request_sha256, of prev; and the seq digit.
for field in payload_sha256 request_sha256 prev; do
	tamper "(d) body $field digit" $K modified "UPDATE entries SET
	    $(flip body "instr(body, '\"$field\":\"') + length('$field') + 13" \
	    0 1) WHERE seq = $K"
done
tamper "(d) body seq digit" $K modified "UPDATE entries SET
    $(flip body "instr(body, '\"seq\":') + 6" $K 4) WHERE seq = $K"

# (e) a byte of a checkpoint's signature line (well inside the base64).
tamper "(e) checkpoint signature" 6 "bad signature" "UPDATE checkpoints SET
    $(flip note "length(note) - 20" A B) WHERE size = 6"

# (f) a middle entry deleted; and deleted with the rest renumbered.
tamper "(f) entry deleted" $K missing "DELETE FROM entries WHERE seq = $K"
tamper "(f) entry deleted, later ones renumbered" $K missing "
    DELETE FROM entries WHERE seq = $K;
    UPDATE entries SET seq = seq - 1 WHERE seq > $K"

# (g) two entries' rows swapped, far apart and adjacent.
swap() {
	echo "UPDATE entries SET seq = -1 WHERE seq = $1;
	    UPDATE entries SET seq = $1 WHERE seq = $2;
	    UPDATE entries SET seq = $2 WHERE seq = -1"
}
tamper "(g) entries 4 and 9 swapped" 4 reordered "$(swap 4 9)"
tamper "(g) entries 5 and 6 swapped" $K reordered "$(swap 5 6)"

# (h) one entry inserted at K: every seq >= K moves up by one (from the
# top down, so the primary key never collides), then a forged row at K.
make_room() {
	s=$N
	stmts=""
	while [ "$s" -ge $K ]; do
		stmts="$stmts UPDATE entries SET seq = $((s + 1)) WHERE seq = $s;"
		s=$((s - 1))
	done
	sql "$stmts"
}
sha256() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum | cut -c1-64
	else
		openssl dgst -sha256 -r | cut -c1-64
	fi
}
# A forger who knows the format: a new decision (entry 6's, with another
# reference), a canonical entry claiming seq K and chained to entry K-1,
# every hash consistent; only the tree and the signatures are out of reach.
q() {
	sqlite3 "$DB" "$1"
}
fresh
make_room && {
	prev=$(q "SELECT lower(hex(entry_hash)) FROM entries WHERE seq = $((K - 1))")
	time=$(q "SELECT time FROM entries WHERE seq = $((K - 1))")
	pack=$(q "SELECT pack_sha256 FROM entries WHERE seq = $((K + 2))")
	q "SELECT writefile('$T/req', request), writefile('$T/pay',
	    replace(payload, '\"reference\":\"EX-', '\"reference\":\"XX-'))
	    FROM entries WHERE seq = $((K + 2))" >/dev/null
	rs=$(sha256 <"$T/req")
	ps=$(sha256 <"$T/pay")
	body="{\"kind\":\"decision\",\"pack_sha256\":\"$pack\",\"payload_sha256\":\"$ps\",\"prev\":\"$prev\",\"request_sha256\":\"$rs\",\"seq\":$K,\"time\":\"$time\"}"
	eh=$(printf '%s' "$body" | sha256)
	sql "INSERT INTO entries VALUES ($K, '$time', 'decision',
	    'forged-decision-id', CAST(readfile('$T/req') AS TEXT),
	    CAST(readfile('$T/pay') AS TEXT), '$pack', '$body', X'$eh')"
} && damaged "(h) forged entry inserted" $K inserted
# A row copied verbatim from another log (its body claims entry 1).
tg "$T/foreign" check etc/examples/lpp-h100-in.json
fresh
make_room && sql "ATTACH '$T/foreign/tiergate.db' AS f;
    INSERT INTO entries SELECT $K, time, kind, decision_id, request,
    payload, pack_sha256, body, entry_hash FROM f.entries WHERE seq = 1" &&
    damaged "(h) another log's entry inserted" $K inserted
# A duplicate of the entry that was moved up (either copy may be named).
fresh
make_room && sql "INSERT INTO entries SELECT $K, time, kind, 'dup', request,
    payload, pack_sha256, body, entry_hash FROM entries
    WHERE seq = $((K + 1))" &&
    damaged "(h) duplicate entry inserted" "$K|$((K + 1))" inserted

# (i) the tail cut: the last 3 entries, their tree nodes and checkpoints.
# Only a saved checkpoint shows it (README); checkpoints left behind do.
cut_tail() {
	sql "DELETE FROM entries WHERE seq > $1;
	    DELETE FROM tree WHERE (idx + 1) << level > $1;
	    ${2:+DELETE FROM checkpoints WHERE size > $1;}"
}
fresh
cut_tail $((N - 3)) all &&
    damaged "(i) tail cut, with the saved checkpoint of size $N" \
    $((N - 2)) truncated --checkpoint "$T/cp-end"
fresh
cut_tail 4 all &&
    damaged "(i) cut to 4, with the saved checkpoint of size 6" 5 \
    truncated --checkpoint "$T/cp-mid"
fresh
cut_tail $((N - 3)) &&
    damaged "(i) tail cut, checkpoints left in place" $((N - 2)) truncated
fresh
if cut_tail $((N - 3)) all; then
	tg "$W" audit verify
	echo "# note: tail cut with its checkpoints, no saved checkpoint:" \
	    "exit $rc (expected to go unnoticed; see README)"
fi

# (j) a stored tree node: a leaf, and inner nodes (leaves 5..8, 5..6).
# The node (1, 2) is also in the consistency proof from 6 to 12.
fresh
flip_blob tree hash "level = 0 AND idx = $((K - 1))" &&
    damaged "(j) tree leaf $((K - 1))" $K modified
fresh
flip_blob tree hash "level = 2 AND idx = 1" &&
    damaged "(j) tree node (2, 1)" "5|6|7|8" modified
fresh
if flip_blob tree hash "level = 1 AND idx = 2"; then
	damaged "(j) tree node (1, 2)" "5|6" modified
	tg "$W" audit consistency "$T/cp-mid" "$T/cp-end"
	want_rc 1 "(j) consistency proof from the altered tree fails" \
	    "(j) consistency with an altered tree: exit $rc, want 1"
fi

# (k) the key: one byte of the stored public key.
fresh
flip_blob keys public_key "first_seq = 1" &&
    damaged "(k) public key byte" "0|1" "unknown key|bad signature"
# The forger's own Ed25519 key, with what a C2SP signed note needs:
# $origin, $pubhex, $keyid and $A/keyhash = SHA-256(name || \n || 0x01 ||
# pub)[:4].
A=$T/forger
forger_key() {
	rm -rf "$A"
	mkdir -p "$A" || return 1
	openssl genpkey -algorithm ed25519 -out "$A/key.pem" 2>/dev/null &&
	    openssl pkey -in "$A/key.pem" -pubout -outform DER \
	    -out "$A/pub.der" || return 1
	tail -c 32 "$A/pub.der" >"$A/pub.raw"
	pubhex=$(od -An -v -tx1 "$A/pub.raw" | tr -d ' \n')
	keyid=$(sha256 <"$A/pub.raw")
	origin=$(sqlite3 "$DB" "SELECT v FROM meta WHERE k = 'origin'")
	{ printf '%s\n\001' "$origin"; cat "$A/pub.raw"; } |
	    openssl dgst -sha256 -binary | dd bs=4 count=1 2>/dev/null \
	    >"$A/keyhash"
}

# forger_sign TEXTFILE: the signed note of a checkpoint text, in $A/note.
forger_sign() {
	openssl pkeyutl -sign -inkey "$A/key.pem" -rawin -in "$1" \
	    -out "$A/sig" || return 1
	b64=$(cat "$A/keyhash" "$A/sig" | openssl base64 -A)
	{
		cat "$1"
		printf '\n\342\200\224 %s %s\n' "$origin" "$b64"
	} >"$A/note"
}

# A forger's own key in the key table, every checkpoint re-signed with it.
# signing.pub in the data dir is untouched: audit.h makes it the trust
# anchor when no --key is given.
resign() {
	forger_key || return 1
	for s in $(sqlite3 "$DB" "SELECT size FROM checkpoints"); do
		sqlite3 "$DB" "SELECT writefile('$A/text', substr(note, 1,
		    instr(note, char(10) || char(10)))) FROM checkpoints
		    WHERE size = $s" >/dev/null || return 1
		forger_sign "$A/text" || return 1
		sql "UPDATE checkpoints SET note =
		    CAST(readfile('$A/note') AS TEXT) WHERE size = $s" ||
		    return 1
	done
	sql "UPDATE keys SET public_key = X'$pubhex' WHERE first_seq = 1"
}
fresh
if resign; then
	damaged "(k) key replaced, checkpoints re-signed, --key" 0 \
	    "unknown key" --key "$T/signing.pub"
	damaged "(k) key replaced, checkpoints re-signed, signing.pub kept" \
	    0 "unknown key"
else
	not_ok "(k) could not re-sign the checkpoints with openssl"
fi

# The log extended under a second key the forger added to the key table
# (first_seq N+1), without the first key ever signing it: two forged
# entries N+1 and N+2 chained to entry N, their tree nodes, and one
# checkpoint of size N+2 signed by the forger's key alone.  Either with no
# announcement at all, or with a forged key_rotation entry at N+1 (whose
# checkpoint the old key never co-signed: there is none of size N+1).
#
# forge_entry SEQ KIND DECISION_ID REQFILE PAYFILE: appends a consistent
# entry at SEQ (chained, hashed, its leaf in the tree) into $A/leaf.SEQ.
forge_entry() {
	prev=$(q "SELECT lower(hex(entry_hash)) FROM entries
	    WHERE seq = $(($1 - 1))")
	time=$(q "SELECT time FROM entries WHERE seq = $(($1 - 1))")
	pack=
	idsql=NULL
	if [ "$2" = decision ]; then
		pack=$(q "SELECT pack_sha256 FROM entries WHERE seq = $N")
		idsql="'$3'"
	fi
	rs=$(sha256 <"$4")
	ps=$(sha256 <"$5")
	body="{\"kind\":\"$2\",\"pack_sha256\":\"$pack\",\"payload_sha256\":\"$ps\",\"prev\":\"$prev\",\"request_sha256\":\"$rs\",\"seq\":$1,\"time\":\"$time\"}"
	eh=$(printf '%s' "$body" | sha256)
	{ printf '\000'; printf '%s' "$body"; } |
	    openssl dgst -sha256 -binary >"$A/leaf.$1"
	sql "INSERT INTO entries VALUES ($1, '$time', '$2', $idsql,
	    CAST(readfile('$4') AS TEXT), CAST(readfile('$5') AS TEXT),
	    '$pack', '$body', X'$eh');
	    INSERT INTO tree VALUES (0, $(($1 - 1)), readfile('$A/leaf.$1'))"
}
# node OUT LEFT RIGHT: RFC 6962 interior node.
node() {
	{ printf '\001'; cat "$2" "$3"; } | openssl dgst -sha256 -binary >"$1"
}
# extend ANNOUNCE: the forgery above, on $DB (a log of N = 12 entries).
extend() {
	[ "$N" -eq 12 ] || return 1	# the tree shape below is for 12
	forger_key || return 1
	a=$((N + 1))
	b=$((N + 2))
	for s in $a $b; do
		q "SELECT writefile('$A/req.$s', request), writefile('$A/pay.$s',
		    replace(payload, decision_id, 'forged-$s'))
		    FROM entries WHERE seq = $((s - 8))" >/dev/null || return 1
	done
	if [ "$1" = announce ]; then
		printf 'null' >"$A/req.$a"
		oldid=$(q "SELECT key_id FROM keys WHERE first_seq = 1")
		printf '{"new_key_id":"%s","new_public_key":"%s","previous_key_id":"%s"}' \
		    "$keyid" "$pubhex" "$oldid" >"$A/pay.$a"
		forge_entry $a key_rotation "" "$A/req.$a" "$A/pay.$a" ||
		    return 1
	else
		forge_entry $a decision forged-$a "$A/req.$a" "$A/pay.$a" ||
		    return 1
	fi
	forge_entry $b decision forged-$b "$A/req.$b" "$A/pay.$b" || return 1
	# 14 leaves: root = node((3,0), node((2,2), (1,6))).
	node "$A/n16" "$A/leaf.$a" "$A/leaf.$b"
	q "SELECT writefile('$A/n30', hash) FROM tree WHERE level = 3
	    AND idx = 0; SELECT writefile('$A/n22', hash) FROM tree
	    WHERE level = 2 AND idx = 2" >/dev/null || return 1
	node "$A/r1" "$A/n22" "$A/n16"
	node "$A/root" "$A/n30" "$A/r1"
	printf '%s\n%s\n%s\n' "$origin" $b "$(openssl base64 -A <"$A/root")" \
	    >"$A/text"
	forger_sign "$A/text" || return 1
	sql "INSERT INTO tree VALUES (1, 6, readfile('$A/n16'));
	    INSERT INTO checkpoints VALUES ($b, readfile('$A/root'),
	    CAST(readfile('$A/note') AS TEXT), '$time');
	    INSERT INTO keys VALUES ('$keyid', readfile('$A/pub.raw'), $a,
	    '$time')"
}
for how in unannounced announce; do
	fresh
	what="an unannounced key"
	[ $how = announce ] && what="a forged rotation, never co-signed"
	if extend $how; then
		damaged "(k) log extended under $what" \
		    "$((N + 1))|$((N + 2))" "unknown key|bad signature" \
		    --key "$T/signing.pub" --checkpoint "$T/cp-end"
	else
		not_ok "(k) could not forge the extension ($how)"
	fi
done

# (l) the decision_id column: audit_find_decision looks decisions up by it.
tamper "(l) decision_id column" $K modified "UPDATE entries SET
    $(flip decision_id "length(decision_id)" 0 1) WHERE seq = $K"

# (m) checkpoints: every commit ends with one, so one deleted from the
# middle (or the first) is missing, though later ones still cover its
# entries.  A tree node beyond the log is a node no entry makes (and
# would make the next append collide with it).
tamper "(m) a checkpoint deleted from the middle" $K missing \
    "DELETE FROM checkpoints WHERE size = $K"
tamper "(m) the first checkpoint deleted" 1 missing \
    "DELETE FROM checkpoints WHERE size = 1"
tamper "(m) a tree node beyond the log" $((N + 1)) inserted \
    "INSERT INTO tree (level, idx, hash) VALUES (0, $N, zeroblob(32))"

# (n) the key table emptied, or its current key cut short: a log without
# a key is damage, not a data dir without a log.
tamper "(n) the key table emptied" 0 "unknown key" "DELETE FROM keys"
tamper "(n) the key cut short" 0 "unknown key|bad signature" \
    "UPDATE keys SET public_key = substr(public_key, 1, 31)"

# (o) the anchor: signing.pub present but not a key must not turn the
# anchor off (only its absence does, with a warning).  A FIFO would block
# a reader forever: verify must not wait on it.
for what in garbage empty directory fifo; do
	fresh
	rm -f "$W/signing.pub"
	case $what in
	garbage) echo "not a key" >"$W/signing.pub" ;;
	empty) : >"$W/signing.pub" ;;
	directory) mkdir "$W/signing.pub" ;;
	fifo) mkfifo "$W/signing.pub" ;;
	esac
	if command -v timeout >/dev/null 2>&1; then
		TGV="timeout 20 $TG"
	else
		TGV=$TG
	fi
	$TGV --data-dir "$W" audit verify >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ $rc -eq 1 ] && grep -q '^audit log DAMAGED: entry 0: unknown key: .*signing.pub' "$T/out"; then
		ok "(o) signing.pub $what: $(cut -c 20- "$T/out")"
	else
		not_ok "(o) signing.pub $what: exit $rc, want 1 naming signing.pub"
	fi
done

# (p) the database file damaged: cut to half its size, or a page in the
# middle overwritten.  SQLite cannot read it; that is damage (exit 1),
# not a failure to look (exit 2).
fresh
size=$(wc -c <"$DB")
dd if="$DB" of="$W/half" bs=4096 count=$((size / 8192)) 2>/dev/null &&
    mv "$W/half" "$DB"
tg "$W" audit verify
if [ $rc -eq 1 ] && grep -q '^audit log DAMAGED: .*database file is damaged' \
    "$T/out"; then
	ok "(p) the database file cut to half: $(cut -c 20- "$T/out")"
else
	not_ok "(p) the database file cut to half: exit $rc, want 1"
fi
fresh
dd if=/dev/zero of="$DB" bs=4096 seek=$((size / 8192)) count=1 \
    conv=notrunc 2>/dev/null
tg "$W" audit verify
want_rc 1 "(p) a page in the middle of the database zeroed: exit 1" \
    "(p) a page in the middle of the database zeroed: exit $rc, want 1"

# ---- receipts ---------------------------------------------------------------
# rcpt NAME FILE WANT [KEY]: verify-receipt exits WANT.
rcpt() {
	"$TG" audit verify-receipt --key "${4:-$T/signing.pub}" "$2" \
	    >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ $rc -eq "$3" ]; then
		ok "$1: exit $3"
	else
		not_ok "$1: exit $rc, want $3"
	fi
}

good=0
i=1
while [ $i -le "$N" ]; do
	"$TG" audit verify-receipt --key "$T/signing.pub" "$T/dec.$i.json" \
	    >"$T/out" 2>"$T/err" </dev/null
	rc=$?
	if [ $rc -eq 0 ] && grep -q "^receipt OK: entry $i " "$T/out"; then
		good=$((good + 1))
	else
		not_ok "receipt of decision $i: exit $rc"
	fi
	i=$((i + 1))
done
[ $good -eq "$N" ] && ok "all $N receipts verify with signing.pub"
rcpt "receipt with another log's key" "$T/dec.1.json" 1 "$T/other.pub"

# altered NAME PROGRAM...: decision 1 (authorized, tpp, reasons) changed by
# PROGRAM; the change must have happened and the receipt must fail.
altered() {
	name=$1
	shift
	"$@" <"$T/dec.1.json" >"$T/alt.json"
	if cmp -s "$T/dec.1.json" "$T/alt.json"; then
		not_ok "$name: the edit changed nothing"
	else
		rcpt "$name" "$T/alt.json" 1
	fi
}
altered "outcome changed" sed \
    's/^  "outcome": "authorized"/  "outcome": "license_required"/'
altered "tpp changed" awk '!d && /"tpp": [0-9]/ { sub(/"tpp": /, "&1"); d = 1 }
    { print }'
altered "reason text changed" awk '!d && /"text": "/ {
    sub(/"text": "/, "&Not "); d = 1 } { print }'
altered "decision_id changed" sed \
    's/^\(  "decision_id": "[0-9a-f-]*\)[0-9a-e]"/\1f"/; t
     s/^\(  "decision_id": "[0-9a-f-]*\)f"/\1e"/'
altered "receipt seq changed" sed 's/^    "seq": \([0-9]*\)/    "seq": 1\1/'
# The receipt's signature is a copy of its checkpoint's: a copy that
# differs was altered.  A receipt missing a field, or with a field of
# the wrong type, does not verify either (exit 1, not 2).
altered "receipt signature changed" sed \
    's/^\(    "signature": "\)[A-Za-z0-9+\/]/\1A/; t
     s/^\(    "signature": "\)A/\1B/'
altered "receipt leaf_index removed" sed '/^    "leaf_index": /d'
altered "receipt tree_size a string" sed \
    's/^    "tree_size": \([0-9]*\)/    "tree_size": "\1"/'
# Equal JSON, reformatted: indentation doubled, decision_id and reference
# (lines 2 and 3) swapped, and all on one line.
awk 'NR == 2 { l2 = $0; next } NR == 3 { print; print l2; next } { print }' \
    "$T/dec.1.json" | sed 's/^ */&&/' >"$T/fmt.json"
if sed -n 2p "$T/fmt.json" | grep -q '"reference"'; then
	rcpt "reformatted decision (keys reordered, re-indented)" \
	    "$T/fmt.json" 0
else
	not_ok "reformatted decision: could not reorder the keys"
fi
tr -d '\n' <"$T/dec.2.json" >"$T/flat.json"
rcpt "decision on one line" "$T/flat.json" 0

# ---- key rotation -------------------------------------------------------------
R=$T/rot
for i in 1 2 3; do
	tg "$R" check etc/examples/lpp-h100-in.json
	cp "$T/out" "$T/rot.$i.json"
done
tg "$R" keygen
if [ $rc -eq 0 ]; then
	ok "keygen on a log of 3 entries: rotation"
else
	not_ok "keygen: exit $rc"
fi
# Right after the rotation the latest checkpoint is the co-signed one
# (the old key's signature first): a receipt `audit show` builds against
# it names the new key and must carry that key's signature.
tg "$R" audit show 2
cp "$T/out" "$T/show2.json"
sqlite3 :memory: "SELECT json_set(json_extract(readfile('$T/show2.json'),
    '\$.payload'), '\$.receipt', json_extract(readfile('$T/show2.json'),
    '\$.receipt'))" >"$T/show2.dec.json"
rcpt "audit show receipt against the co-signed checkpoint, new key" \
    "$T/show2.dec.json" 0 "$R/signing.pub"
for i in 5 6 7; do
	tg "$R" check etc/examples/aia-h100-de.json
	cp "$T/out" "$T/rot.$i.json"
done
set -- "$R"/signing-*.pub
OLD=$1
if [ $# -eq 1 ] && [ -f "$OLD" ]; then
	ok "the retired public key is kept as ${OLD##*/}"
else
	not_ok "no single retired public key signing-<id16>.pub"
	OLD=$T/none.pub
fi
tg "$R" audit verify
if [ $rc -eq 0 ] && grep -q '^audit log OK: 7 entries, 7 checkpoints, 2 keys' \
    "$T/out"; then
	ok "rotated log verifies (7 entries, 2 keys)"
else
	not_ok "rotated log: exit $rc"
fi
tg "$R" audit verify --key "$OLD"
want_rc 0 "rotated log verifies anchored at the retired key" \
    "rotated log with --key retired: exit $rc"
tg "$R" audit verify --key "$R/signing.pub"
want_rc 0 "rotated log verifies anchored at the new key" \
    "rotated log with --key new: exit $rc"
for i in 1 3; do
	rcpt "receipt $i (before rotation) with the retired key" \
	    "$T/rot.$i.json" 0 "$OLD"
	rcpt "receipt $i (before rotation) with the new key" \
	    "$T/rot.$i.json" 1 "$R/signing.pub"
done
for i in 5 7; do
	rcpt "receipt $i (after rotation) with the new key" \
	    "$T/rot.$i.json" 0 "$R/signing.pub"
	rcpt "receipt $i (after rotation) with the retired key" \
	    "$T/rot.$i.json" 1 "$OLD"
done
# The rotation's checkpoint (size 4) must carry both signatures.
W=$T/rotw
rm -rf "$W"
cp -a "$R" "$W"
DB=$W/tiergate.db
sqlite3 "$DB" "SELECT writefile('$T/note4', note) FROM checkpoints
    WHERE size = 4" >/dev/null
sed '$d' "$T/note4" >"$T/note4.cut"
sql "UPDATE checkpoints SET note = CAST(readfile('$T/note4.cut') AS TEXT)
    WHERE size = 4" &&
    damaged "rotation checkpoint without the new key's signature" 4 \
    "bad signature"

# ---- consistency ----------------------------------------------------------------
tg "$CLEAN" audit consistency "$T/cp-mid" "$T/cp-end"
want_rc 0 "consistency: size $N extends size 6" \
    "consistency cp-mid cp-end: exit $rc, want 0"
tg "$CLEAN" audit consistency "$T/cp-end" "$T/cp-mid"
want_rc 1 "consistency, swapped: exit 1" \
    "consistency cp-end cp-mid: exit $rc, want 1"
tg "$T/foreign" audit checkpoint
cp "$T/out" "$T/cp-foreign"
tg "$CLEAN" audit consistency "$T/cp-foreign" "$T/cp-end"
want_rc 1 "consistency with another log's checkpoint: exit 1" \
    "consistency cp-foreign cp-end: exit $rc, want 1"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
