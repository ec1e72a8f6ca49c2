#!/bin/sh
# bench_screen.sh [TIERGATE [ROWS]]: how fast `tiergate screen` goes
# through a large shipment file, next to a raw batched SQLite insert of
# the same rows measured in the same run (issue 6: target >= 0.5x), and
# how much memory it takes (target: RSS < 64 MB for 1,000,000 rows).
#
#	sh tests/bench/bench_screen.sh                     # build/tiergate
#	sh tests/bench/bench_screen.sh build/tiergate 200000
#
# ROWS (default 1000000, else $BENCH_ROWS) rows are generated into a new
# directory under $TMPDIR (default /tmp), removed at the end: transactions
# of 1 to 3 rows (two rows a transaction on average) to 15 destinations
# across the three tiers, 1000 consignees, catalog products, systems and
# chips given by their figures, and a quoted free-text column.  A million
# rows take about 100 MB of CSV and, once screened, about 2 GB of audit
# log (every decision is an entry, dry runs included).
#
# Figures:
#  - raw SQLite: `sqlite3` .import of the file into a table of the same
#    columns, in a database in the same directory (WAL, synchronous=FULL,
#    as the audit log), one transaction.  Run before and after the screen;
#    the faster of the two counts.
#  - screen: `tiergate screen --dry-run -o OUT FILE` end to end (rules
#    loaded, every transaction decided and logged with its signed
#    checkpoints, the output written), on a fresh data dir in the same
#    directory.  rows/s and decisions (transactions)/s.
#  - raw SQLite of the log: as many rows as the log got entries, each
#    of the entries' mean size, inserted the same way: the ceiling that
#    the log itself sets, whatever the rest costs.
#  - max RSS: from /usr/bin/time -v, else the kernel's high-water mark
#    (VmHWM in /proc/PID/status) read while it runs.
# The figures are to read, not a test: the exit status is non-zero only
# when something fails to run.  Not part of `make test`.
set -u

TG=${1:-build/tiergate}
ROWS=${2:-${BENCH_ROWS:-1000000}}
case $TG in
/*) ;;
*) TG=$(pwd)/$TG ;;
esac
cd "$(dirname "$0")/../.." || exit 2
[ -x "$TG" ] || {
	echo "bench_screen: no binary '$TG' (make first)" >&2
	exit 2
}
command -v sqlite3 >/dev/null 2>&1 || {
	echo "bench_screen: sqlite3 not found (sh packaging/deps.sh)" >&2
	exit 2
}
case $ROWS in
''|*[!0-9]*)
	echo "bench_screen: ROWS must be a whole number" >&2
	exit 2
	;;
esac

T=$(mktemp -d "${TMPDIR:-/tmp}/tiergate-bench-screen.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

if [ "$(stat -f -c %T "$T" 2>/dev/null)" = tmpfs ]; then
	echo "bench_screen: warning: $T is on tmpfs, where fsync costs" \
	    "nothing; set TMPDIR to a directory on a disk"
fi

now() {
	date +%s.%N
}

# rate N SECONDS: N / SECONDS, whole.
rate() {
	awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }'
}

# ---- the file ----------------------------------------------------------
awk -v n="$ROWS" 'BEGIN {
	split("DE FR JP GB IN BR AE SG MY IL CN RU US NL KR", dest, " ")
	split("nvidia-h100-sxm nvidia-h100-pcie nvidia-h20 nvidia-a100 " \
	    "nvidia-l40s nvidia-rtx-4090 amd-mi300x intel-gaudi3 " \
	    "nvidia-b200 huawei-ascend-910b", prod, " ")
	print "reference,date,destination,consignee_id,consignee_name," \
	    "consignee_country,kind,product,quantity,tpp,die_area_mm2," \
	    "chips_per_unit,note"
	r = 0
	t = 0
	while (r < n) {
		t++
		k = 1 + t % 3
		d = dest[1 + t % 15]
		for (j = 0; j < k && r < n; j++) {
			r++
			if (r % 10 == 0)
				item = "chip,,2," (1000 + r % 3000) ",600,"
			else if (r % 10 == 1)
				item = "system," prod[1 + r % 10] ",1,,,8"
			else
				item = "chip," prod[1 + r % 10] "," (1 + r % 8) ",,,"
			printf "PO-%07d,2025-07-01,%s,cust-%d,Customer %d Ltd,%s,%s,\"row %d, bench\"\n",
			    t, d, t % 1000, t % 1000, d, item, r
		}
	}
	print t > "/dev/stderr"
}' >"$T/orders.csv" 2>"$T/txns" || exit 1
TXNS=$(cat "$T/txns")
SIZE=$(wc -c <"$T/orders.csv")

# ---- raw SQLite --------------------------------------------------------
raw() {
	rm -f "$T/raw.db" "$T/raw.db-wal" "$T/raw.db-shm"
	t0=$(now)
	sqlite3 "$T/raw.db" <<EOF >/dev/null || return 1
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE rows (reference TEXT, date TEXT, destination TEXT,
    consignee_id TEXT, consignee_name TEXT, consignee_country TEXT,
    kind TEXT, product TEXT, quantity TEXT, tpp TEXT, die_area_mm2 TEXT,
    chips_per_unit TEXT, note TEXT);
.import --csv --skip 1 $T/orders.csv rows
EOF
	t1=$(now)
	n=$(sqlite3 "$T/raw.db" 'SELECT count(*) FROM rows')
	if [ "$n" -ne "$ROWS" ]; then
		echo "bench_screen: sqlite3 imported $n rows" >&2
		return 1
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

raw1=$(raw) || exit 1

# ---- screen ------------------------------------------------------------
rss=""
t0=$(now)
if [ -x /usr/bin/time ]; then
	TIERGATE_DATA_DIR=$T/data /usr/bin/time -v -o "$T/time" "$TG" screen \
	    --dry-run -o "$T/out.csv" "$T/orders.csv" 2>"$T/err"
	rc=$?
	t1=$(now)
	rss=$(sed -nE 's/^[[:space:]]*Maximum resident set size \(kbytes\): ([0-9]+)/\1/p' \
	    "$T/time")
	how="/usr/bin/time -v"
else
	TIERGATE_DATA_DIR=$T/data "$TG" screen --dry-run -o "$T/out.csv" \
	    "$T/orders.csv" 2>"$T/err" &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		v=$(sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' \
		    "/proc/$pid/status" 2>/dev/null)
		[ -n "$v" ] && rss=$v
		sleep 0.2
	done
	wait "$pid"
	rc=$?
	t1=$(now)
	how="VmHWM, sampled every 0.2 s"
fi
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
if [ "$rc" -gt 1 ]; then
	echo "bench_screen: screen exited with status $rc:" >&2
	cat "$T/err" >&2
	exit 1
fi
out_rows=$(($(wc -l <"$T/out.csv") - 1))
if [ "$out_rows" -ne "$ROWS" ]; then
	echo "bench_screen: $out_rows output rows for $ROWS input rows" >&2
	exit 1
fi
db=$(du -sm "$T/data" | cut -f 1)

raw2=$(raw) || exit 1
rawsecs=$(awk -v a="$raw1" -v b="$raw2" 'BEGIN { print (a < b ? a : b) }')

# ---- raw SQLite, the log's bytes ----------------------------------------
# What the screen must write is not the rows but one entry per decision
# (issue 3: the canonical request and decision, and the canonical entry
# hashed).  The same number of rows of the entries' mean size, inserted
# raw into a fresh database the same way (WAL, synchronous=FULL, one
# transaction, then the checkpoint the screen's log gets too), is a rate
# no screen could beat with this log, however fast everything else were.
# shellcheck disable=SC2046
set -- $(sqlite3 -separator ' ' "$T/data/tiergate.db" "SELECT count(*),
    CAST(avg(length(request) + length(payload) + length(body)) AS INTEGER)
    FROM entries")
n_ent=${1:-0}
ent_size=${2:-0}
rm -f "$T/raw.db" "$T/raw.db-wal" "$T/raw.db-shm"
t0=$(now)
sqlite3 "$T/raw.db" <<EOF >/dev/null || exit 1
PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
CREATE TABLE e (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c
    WHERE x < $n_ent)
INSERT INTO e SELECT x, printf('%.${ent_size}c', 'x') FROM c;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
t1=$(now)
entsecs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
rm -f "$T/raw.db" "$T/raw.db-wal" "$T/raw.db-shm"

# ---- figures -----------------------------------------------------------
rraw=$(rate "$ROWS" "$rawsecs")
rscreen=$(rate "$ROWS" "$secs")
rdec=$(rate "$TXNS" "$secs")
ratio=$(awk -v a="$rscreen" -v b="$rraw" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
met=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5 ? "met" : "NOT met") }')
rssmb=$(awk -v k="${rss:-0}" 'BEGIN { printf "%.1f", k / 1024 }')
rssmet=$(awk -v k="${rss:-0}" 'BEGIN { print (k > 0 && k < 65536 ? "met" : "NOT met") }')

echo "screen bench: $ROWS rows, $TXNS transactions, $((SIZE / 1000000)) MB of CSV in $T"
printf '  %-34s %10s rows/s  (%s s; best of %s s and %s s)\n' \
    "raw SQLite .import (one txn)" "$rraw" "$rawsecs" "$raw1" "$raw2"
printf '  %-34s %10s rows/s  (%s s; %s decisions/s)\n' \
    "tiergate screen --dry-run" "$rscreen" "$secs" "$rdec"
printf '  %-34s %10s x\n' "screen / raw" "$ratio"
# The rows/s the raw insert of the log's entries alone would give.
rent=$(rate "$ROWS" "$entsecs")
cap=$(awk -v a="$rent" -v b="$rraw" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
printf '  %-34s %10s rows/s  (%s entries of %s bytes; %s s)\n' \
    "raw SQLite insert of the log" "$rent" "$n_ent" "$ent_size" "$entsecs"
printf '  %-34s %10s x\n' "that / raw: the ceiling" "$cap"
printf '  %-34s %10s x\n' "screen / that" "$(awk -v a="$rscreen" \
    -v b="$rent" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
printf '  %-34s %10s MB   (%s)\n' "screen max RSS" "$rssmb" "$how"
printf '  %-34s %10s MB\n' "audit log after the run" "$db"
echo "summary: screen: $rscreen rows/s = ${ratio}x raw batched SQLite" \
    "inserts of the same rows ($rraw rows/s); target >= 0.5x: $met" \
    "(inserting the log's entries alone, raw, reaches ${cap}x);" \
    "max RSS $rssmb MB (target < 64 MB: $rssmet)"
