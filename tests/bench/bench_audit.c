/*
 * bench_audit.c: how fast the audit log appends and verifies
 * (`make bench`).
 *
 *	bench_audit [SECONDS]
 *
 * SECONDS (default 2, else BENCH_SECONDS) is the time spent on each
 * figure.  Everything happens in a fresh directory made with mkdtemp(3)
 * under $TMPDIR (default /tmp) and removed at the end, so the figures are
 * for that file system.  The figures:
 *
 * 1. appends: audit_append() of realistic entries (a ~400-byte canonical
 *    request, a ~2.5 KB canonical decision) in groups of 1, 8, 64 and 256;
 *    each group is one transaction, one fsync (WAL, synchronous=FULL) and
 *    one Ed25519-signed checkpoint.  Entries/s and groups/s.
 * 2. in the same run, the two things an append is made of, measured raw:
 *    Ed25519 signatures/s (EVP_DigestSign of a 100-byte message, a fresh
 *    context per signature as the log does), and batched SQLite inserts/s
 *    into a separate database in the same directory (WAL,
 *    synchronous=FULL, the columns of `entries` plus the tree rows an
 *    append writes, ~2 per entry) in groups of the same sizes, one
 *    BEGIN IMMEDIATE/COMMIT each.  The ratios say what bounds appends.
 * 3. verify: audit_verify() over a log of N entries (written in groups of
 *    256; N is sized so one pass takes about SECONDS / 2, at most 65536
 *    entries, and passes repeat for SECONDS) in entries/s and MB/s of
 *    hashed bytes (request + payload + canonical entry), next to raw
 *    SHA-256 of the same messages (EVP_Digest as the daemon calls it, and
 *    with the digest fetched once) and of the same bytes in bulk.
 *
 * The figures are for reading, not a pass/fail test; the targets from the
 * issue (verify >= 0.3x raw SHA-256 of the same bytes; appends bounded by
 * SQLite, not by signing) are printed beside them.  The exit status is
 * non-zero only when something fails to run.  BENCH_ONLY=append|verify
 * runs one part alone, for a profiler:
 *
 *	BENCH_ONLY=verify perf record -g build/tests/bench_audit
 */
#define _GNU_SOURCE		/* sched_setaffinity, sched_getcpu, nftw */

#include <sys/vfs.h>

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "tiergate/audit.h"
#include "tiergate/error.h"
#include "tiergate/util.h"

#define BENCH_SECONDS_DEFAULT 2.0
#define GROUP_MAX 256
#define NGROUPS 4
#define SIGN_MSG 100
#define SIGN_BATCH 64
#define VERIFY_GROUP 256
#define VERIFY_MIN 4096		/* entries of the calibration log */
#define VERIFY_MAX 65536	/* keeps the build of the log bounded */
#define SAMPLE_MAX 1024		/* entries kept for the raw SHA-256 figure */
#define BULK_CHUNK (1024 * 1024)
#define TARGET_VERIFY 0.3
#define MB 1e6
#define TMPFS_MAGIC_NR 0x01021994	/* statfs f_type of tmpfs */

#define REQ_MAX 1024
#define PAY_MAX 4096
#define BODY_MAX 1024

static const size_t group_sizes[NGROUPS] = { 1, 8, 64, 256 };

/* The rule pack hash every entry names (ai-diffusion-2025 2025.1.0). */
static const char pack_sha256[] =
    "46dfa1b1a852fd3e45da009a7e051f30c898811ded0fe9e666a02e8322beb703";

static const struct consignee {
	const char *country, *id, *name;
	unsigned tier;
} consignees[] = {
	{ "IN", "acme-in-001", "Acme Cloud Pvt Ltd", 2 },
	{ "MY", "kl-dc-017", "Kuala Lumpur Data Centre Sdn Bhd", 2 },
	{ "DE", "rhein-ai-204", "Rhein AI Rechenzentrum GmbH", 1 },
	{ "BR", "sp-hpc-009", "Sao Paulo HPC Servicos Ltda", 2 },
};
#define NCONSIGNEES (sizeof(consignees) / sizeof(consignees[0]))

/* One generated entry: canonical (RFC 8785) request and decision. */
struct gen_entry {
	char id[40];
	char req[REQ_MAX];
	char pay[PAY_MAX];
	size_t reqlen, paylen;
};

struct gen {
	uint64_t next;			/* entries made: ids stay unique */
	uint64_t rng;
};

/* A measured rate: counts and the time spent inside the measured calls. */
struct rate {
	uint64_t entries, groups;
	double secs;
};

/* The raw SQLite figure's database. */
struct rawdb {
	sqlite3 *db;
	sqlite3_stmt *ins, *tins;
	uint64_t seq;
	char prev[65];
};

/* Messages kept for the raw SHA-256 figure. */
struct sample {
	char *buf;
	size_t len, cap;
	size_t off[3 * SAMPLE_MAX], mlen[3 * SAMPLE_MAX];
	size_t n;			/* messages */
};

static double seconds = BENCH_SECONDS_DEFAULT;
static char tmpdir[4096];

static void cleanup(void);

static void
die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "bench_audit: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	cleanup();
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		die("clock_gettime: %s", strerror(errno));
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void
path_in(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s/%s", tmpdir, name);

	if (n < 0 || (size_t)n >= size)
		die("path too long: %s/%s", tmpdir, name);
}

static int
rm_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
	(void)sb;
	(void)type;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "bench_audit: cannot remove %s: %s\n", path,
		    strerror(errno));
	return 0;
}

/* Removes a file or a directory tree under tmpdir. */
static void
rm_tree(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
cleanup(void)
{
	if (tmpdir[0] == '\0')
		return;
	rm_tree(tmpdir);
	tmpdir[0] = '\0';
}

static uint64_t
rnd(struct gen *g)
{
	/* xorshift64*: plausible variety, same bytes every run. */
	g->rng ^= g->rng >> 12;
	g->rng ^= g->rng << 25;
	g->rng ^= g->rng >> 27;
	return g->rng * 2685821657736338717ULL;
}

static void
utc_now(char out[AUDIT_TIME_LEN + 1])
{
	struct timespec ts;
	struct tm tm;
	char buf[96];

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		die("clock_gettime: %s", strerror(errno));
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	memcpy(out, buf, AUDIT_TIME_LEN);
	out[AUDIT_TIME_LEN] = '\0';
}

/*
 * Makes the next entry: a two-line transaction (H100 chips under LPP and
 * HGX servers that need a license) and its decision, as tiergate would
 * log them: keys sorted, no spaces.
 */
static void
gen_entry(struct gen *g, struct gen_entry *e)
{
	const struct consignee *c;
	uint64_t n = ++g->next, r = rnd(g);
	unsigned chips, systems;
	unsigned long long tpp1, tpp2, alloc_used, lpp_used, ref;
	int len;

	c = &consignees[r % NCONSIGNEES];
	chips = 50 + (unsigned)((r >> 8) % 3000);
	systems = 1 + (unsigned)((r >> 24) % 40);
	tpp1 = 15832ULL * chips;
	tpp2 = 15832ULL * 8 * systems;
	alloc_used = (r >> 32) % 700000000ULL;
	lpp_used = (r >> 40) % 20000000ULL;
	ref = 100000 + n;
	snprintf(e->id, sizeof(e->id), "0193b1c4-%04x-7%03x-a%03x-%012" PRIx64,
	    (unsigned)(r >> 48), (unsigned)(r >> 12) & 0xfff,
	    (unsigned)(r >> 36) & 0xfff, n);

	len = snprintf(e->req, sizeof(e->req),
	    "{\"consignee\":{\"country\":\"%s\",\"headquarters\":\"%s\","
	    "\"id\":\"%s\",\"name\":\"%s\",\"ultimate_parent\":\"%s\"},"
	    "\"date\":\"2025-07-01\",\"destination\":\"%s\",\"dry_run\":false,"
	    "\"items\":[{\"description\":\"NVIDIA H100 SXM5 80GB\","
	    "\"kind\":\"chip\",\"product\":\"nvidia-h100-sxm\","
	    "\"quantity\":%u},{\"chips_per_unit\":8,\"description\":"
	    "\"HGX H100 8-GPU server\",\"kind\":\"system\",\"product\":"
	    "\"nvidia-h100-sxm\",\"quantity\":%u}],\"reference\":"
	    "\"PO-2025-%06llu\"}",
	    c->country, c->country, c->id, c->name, c->country, c->country,
	    chips, systems, ref);
	if (len < 0 || (size_t)len >= sizeof(e->req))
		die("generated request too long");
	e->reqlen = (size_t)len;

	len = snprintf(e->pay, sizeof(e->pay),
	    "{\"date\":\"2025-07-01\",\"decision_id\":\"%s\",\"destination\":"
	    "{\"country\":\"%s\",\"tier\":%u},\"dry_run\":false,\"items\":["
	    "{\"authorization\":\"LPP\",\"eccn\":\"3A090.a\",\"index\":0,"
	    "\"outcome\":\"authorized\",\"reasons\":["
	    "{\"citation\":\"15 CFR 774 Supp. 1, ECCN 3A090.a\",\"rule\":"
	    "\"chip.3a090a\",\"text\":\"TPP of 4800 or more, or TPP of 1600 "
	    "or more with performance density of 5.92 or more.\"},"
	    "{\"citation\":\"15 CFR 742.6(a)(6)(iii)(A), 742.6(b)(10) (90 FR "
	    "4544)\",\"rule\":\"req.worldwide-tier2\",\"text\":\"A license is "
	    "required for 3A090.a and 4A090.a items to any destination "
	    "worldwide; Tier 2 licenses draw on the country allocation; "
	    "within the allocation quota: %llu used + %llu <= 790000000\"},"
	    "{\"citation\":\"15 CFR 740.29(a); 740.2(a)(9)(ii)\",\"rule\":"
	    "\"auth.lpp\",\"text\":\"License Exception LPP, within 26,900,000 "
	    "TPP per ultimate consignee per calendar year; ship directly to "
	    "the ultimate consignee (no distributors).\"}],"
	    "\"review_policy\":null,\"tpp\":%llu},"
	    "{\"authorization\":null,\"eccn\":\"4A090.a\",\"index\":1,"
	    "\"outcome\":\"license_required\",\"reasons\":["
	    "{\"citation\":\"15 CFR 774 Supp. 1, ECCN 4A090.a\",\"rule\":"
	    "\"system.4a090a\",\"text\":\"Computers and assemblies containing "
	    "integrated circuits that meet the 3A090.a parameters.\"},"
	    "{\"citation\":\"15 CFR 742.6(a)(6)(iii)(A)\",\"rule\":"
	    "\"req.worldwide-tier2\",\"text\":\"A license is required; the "
	    "quantity exceeds what License Exception LPP allows for this "
	    "consignee this year: %llu used + %llu > 26900000\"}],"
	    "\"review_policy\":\"presumption of approval within the "
	    "allocation\",\"tpp\":%llu}],\"outcome\":\"license_required\","
	    "\"quotas\":[{\"key\":\"%s\",\"limit\":790000000,\"name\":"
	    "\"allocation\",\"period\":\"2025-2027\",\"used\":%llu},"
	    "{\"key\":\"%s\",\"limit\":26900000,\"name\":\"lpp\",\"period\":"
	    "\"2025\",\"used\":%llu}],\"red_flags\":[],\"reference\":"
	    "\"PO-2025-%06llu\",\"rules\":{\"pack\":\"ai-diffusion-2025\","
	    "\"sha256\":\"%s\",\"version\":\"2025.1.0\"},\"warnings\":["
	    "\"BIS announced on 2025-05-13 that it will rescind the AI "
	    "Diffusion IFR and not enforce its new destination-based "
	    "requirements; no rescission rule has been published, so this "
	    "decision applies the rule as published. Check the current "
	    "enforcement position before relying on an AI Diffusion "
	    "requirement or exception.\",\"rule req.worldwide-tier2 rests on "
	    "unverified facts: presumption of approval within the allocation "
	    "and denial beyond it are reported by secondary sources only\","
	    "\"quota allocation rests on unverified facts: the allocation "
	    "figure and its doubling come from secondary sources\"]}",
	    e->id, c->country, c->tier, alloc_used, tpp1, tpp1, lpp_used,
	    tpp1 + tpp2, tpp2, c->country, alloc_used, c->id, lpp_used, ref,
	    pack_sha256);
	if (len < 0 || (size_t)len >= sizeof(e->pay))
		die("generated decision too long");
	e->paylen = (size_t)len;
}

static void
gen_group(struct gen *g, struct gen_entry *e, struct audit_in *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		gen_entry(g, &e[i]);
		memset(&in[i], 0, sizeof(in[i]));
		in[i].kind = "decision";
		in[i].decision_id = e[i].id;
		in[i].request = e[i].req;
		in[i].request_len = e[i].reqlen;
		in[i].payload = e[i].pay;
		in[i].payload_len = e[i].paylen;
		in[i].pack_sha256 = pack_sha256;
	}
}

static void
sha256_hex(const void *p, size_t n, char out[65], unsigned char raw[32])
{
	unsigned char d[32];
	unsigned int dl = 0;

	if (EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL) != 1 || dl != 32)
		die("EVP_Digest failed");
	hex_encode(d, 32, out);
	if (raw != NULL)
		memcpy(raw, d, 32);
}

static struct tg_audit *
log_open(const char *name, unsigned flags)
{
	struct tg_audit *a;
	struct tg_error err;
	char path[4096];
	int rc;

	path_in(path, sizeof(path), name);
	tg_error_clear(&err);
	rc = audit_open(path, flags, &a, &err);
	if (rc != 0)
		die("audit_open %s: %s", path, err.msg);
	return a;
}

/* One audit_append() of n fresh entries; returns the seconds it took.
 * With s, keeps the first entries' messages for the raw SHA-256 figure
 * and adds every entry's hashed bytes to *bytes. */
static double
append_group(struct tg_audit *a, struct gen *g, struct gen_entry *e,
    size_t n, struct sample *s, uint64_t *bytes)
{
	struct audit_in in[GROUP_MAX];
	struct audit_receipt r[GROUP_MAX];
	struct tg_error err;
	char body[BODY_MAX];
	double t0, t1;
	int rc, blen;

	gen_group(g, e, in, n);
	tg_error_clear(&err);
	t0 = now();
	rc = audit_append(a, in, n, r, &err);
	t1 = now();
	if (rc != 0)
		die("audit_append (group of %zu): %s", n, err.msg);
	for (size_t i = 0; i < n; i++) {
		if (bytes != NULL) {
			blen = audit_entry_text(r[i].kind, r[i].pack_sha256,
			    r[i].payload_sha256, r[i].prev,
			    r[i].request_sha256, r[i].seq, r[i].time, body,
			    sizeof(body));
			if (blen < 0)
				die("audit_entry_text failed");
			*bytes += e[i].reqlen + e[i].paylen + (size_t)blen;
			if (s != NULL && s->n + 3 <= 3 * SAMPLE_MAX) {
				const char *m[3] = { e[i].req, e[i].pay, body };
				size_t ml[3] = { e[i].reqlen, e[i].paylen,
				    (size_t)blen };

				for (size_t k = 0; k < 3; k++) {
					if (s->len + ml[k] > s->cap)
						die("sample buffer full");
					memcpy(s->buf + s->len, m[k], ml[k]);
					s->off[s->n] = s->len;
					s->mlen[s->n++] = ml[k];
					s->len += ml[k];
				}
			}
		}
		audit_receipt_release(&r[i]);
	}
	return t1 - t0;
}

/* Appends groups of n for about `seconds` after a short warm-up. */
static void
bench_append(struct tg_audit *a, struct gen *g, struct gen_entry *e,
    size_t n, struct rate *out)
{
	double end, t;

	memset(out, 0, sizeof(*out));
	end = now() + seconds / 10;
	while (now() < end)
		(void)append_group(a, g, e, n, NULL, NULL);
	end = now() + seconds;
	do {
		out->secs += append_group(a, g, e, n, NULL, NULL);
		out->entries += n;
		out->groups++;
		t = now();
	} while (t < end);
}

/* ---- raw Ed25519 ------------------------------------------------------- */

static double
bench_sign(void)
{
	EVP_PKEY_CTX *kc;
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *c;
	unsigned char msg[SIGN_MSG], sig[64];
	unsigned long long n = 0;
	double t0, t1, end;
	size_t sl;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)("tiergate/5f1c3a9e0b7d4c21\n"[i % 26]);
	kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (kc == NULL || EVP_PKEY_keygen_init(kc) != 1 ||
	    EVP_PKEY_keygen(kc, &k) != 1)
		die("cannot generate an Ed25519 key");
	EVP_PKEY_CTX_free(kc);
	t0 = now();
	end = t0 + seconds;
	do {
		for (int i = 0; i < SIGN_BATCH; i++) {
			/* As key_sign() does: a fresh context each time. */
			c = EVP_MD_CTX_new();
			sl = sizeof(sig);
			if (c == NULL || EVP_DigestSignInit(c, NULL, NULL, NULL,
			    k) != 1 || EVP_DigestSign(c, sig, &sl, msg,
			    sizeof(msg)) != 1 || sl != 64)
				die("EVP_DigestSign failed");
			EVP_MD_CTX_free(c);
		}
		n += SIGN_BATCH;
		t1 = now();
	} while (t1 < end);
	EVP_PKEY_free(k);
	return (double)n / (t1 - t0);
}

/* ---- raw SQLite ---------------------------------------------------------- */

static void
raw_exec(struct rawdb *r, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(r->db, sql, NULL, NULL, &msg) != SQLITE_OK)
		die("raw sqlite: %s: %s", sql, msg ? msg : "?");
}

static void
raw_open(struct rawdb *r)
{
	char path[4096];

	memset(r, 0, sizeof(*r));
	memset(r->prev, '0', 64);
	path_in(path, sizeof(path), "raw.db");
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
		die("raw sqlite: cannot open %s: %s", path,
		    r->db ? sqlite3_errmsg(r->db) : "?");
	raw_exec(r, "PRAGMA journal_mode=WAL");
	raw_exec(r, "PRAGMA synchronous=FULL");
	/* The audit log's entries and tree tables (daemon/store/audit.c). */
	raw_exec(r, "CREATE TABLE entries (seq INTEGER PRIMARY KEY, time TEXT "
	    "NOT NULL, kind TEXT NOT NULL, decision_id TEXT, request TEXT NOT "
	    "NULL, payload TEXT NOT NULL, pack_sha256 TEXT NOT NULL, body "
	    "TEXT NOT NULL, entry_hash BLOB NOT NULL);"
	    "CREATE UNIQUE INDEX entries_decision ON entries(decision_id) "
	    "WHERE kind = 'decision';"
	    "CREATE TABLE tree (level INTEGER NOT NULL, idx INTEGER NOT NULL,"
	    " hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;");
	if (sqlite3_prepare_v2(r->db, "INSERT INTO entries (seq, time, kind, "
	    "decision_id, request, payload, pack_sha256, body, entry_hash) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &r->ins, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(r->db, "INSERT INTO tree (level, "
	    "idx, hash) VALUES (?, ?, ?)", -1, &r->tins, NULL) != SQLITE_OK)
		die("raw sqlite: %s", sqlite3_errmsg(r->db));
}

static void
raw_close(struct rawdb *r)
{
	sqlite3_finalize(r->ins);
	sqlite3_finalize(r->tins);
	sqlite3_close(r->db);
}

/* One transaction of n entries and their tree rows; returns seconds. */
static double
raw_group(struct rawdb *r, struct gen *g, struct gen_entry *e, size_t n)
{
	static char body[GROUP_MAX][BODY_MAX];
	static unsigned char eh[GROUP_MAX][32];
	static int blen[GROUP_MAX];
	char now_s[AUDIT_TIME_LEN + 1], rh[65], ph[65];
	double t0, t1;
	uint64_t seq0 = r->seq;

	/* Made outside the clock: only SQLite is measured. */
	utc_now(now_s);
	for (size_t i = 0; i < n; i++) {
		gen_entry(g, &e[i]);
		sha256_hex(e[i].req, e[i].reqlen, rh, NULL);
		sha256_hex(e[i].pay, e[i].paylen, ph, NULL);
		blen[i] = audit_entry_text("decision", pack_sha256, ph,
		    r->prev, rh, seq0 + i + 1, now_s, body[i], BODY_MAX);
		if (blen[i] < 0)
			die("audit_entry_text failed");
		sha256_hex(body[i], (size_t)blen[i], r->prev, eh[i]);
	}
	t0 = now();
	raw_exec(r, "BEGIN IMMEDIATE");
	for (size_t i = 0; i < n; i++) {
		uint64_t idx = seq0 + i;	/* leaf index */
		sqlite3_int64 level = 0;

		sqlite3_reset(r->ins);
		sqlite3_bind_int64(r->ins, 1, (sqlite3_int64)(idx + 1));
		sqlite3_bind_text(r->ins, 2, now_s, -1, SQLITE_STATIC);
		sqlite3_bind_text(r->ins, 3, "decision", -1, SQLITE_STATIC);
		sqlite3_bind_text(r->ins, 4, e[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(r->ins, 5, e[i].req, (int)e[i].reqlen,
		    SQLITE_STATIC);
		sqlite3_bind_text(r->ins, 6, e[i].pay, (int)e[i].paylen,
		    SQLITE_STATIC);
		sqlite3_bind_text(r->ins, 7, pack_sha256, -1, SQLITE_STATIC);
		sqlite3_bind_text(r->ins, 8, body[i], blen[i], SQLITE_STATIC);
		sqlite3_bind_blob(r->ins, 9, eh[i], 32, SQLITE_STATIC);
		if (sqlite3_step(r->ins) != SQLITE_DONE)
			die("raw sqlite: insert: %s", sqlite3_errmsg(r->db));
		/* The leaf and every subtree it completes: 2 rows per entry
		 * on average, as tree_add() writes. */
		for (;;) {
			sqlite3_reset(r->tins);
			sqlite3_bind_int64(r->tins, 1, level);
			sqlite3_bind_int64(r->tins, 2, (sqlite3_int64)idx);
			sqlite3_bind_blob(r->tins, 3, eh[i], 32,
			    SQLITE_STATIC);
			if (sqlite3_step(r->tins) != SQLITE_DONE)
				die("raw sqlite: tree insert: %s",
				    sqlite3_errmsg(r->db));
			if ((idx & 1) == 0)
				break;
			level++;
			idx >>= 1;
		}
	}
	raw_exec(r, "COMMIT");
	t1 = now();
	r->seq += n;
	return t1 - t0;
}

static void
bench_raw(struct rawdb *r, struct gen *g, struct gen_entry *e, size_t n,
    struct rate *out)
{
	double end, t;

	memset(out, 0, sizeof(*out));
	end = now() + seconds / 10;
	while (now() < end)
		(void)raw_group(r, g, e, n);
	end = now() + seconds;
	do {
		out->secs += raw_group(r, g, e, n);
		out->entries += n;
		out->groups++;
		t = now();
	} while (t < end);
}

/* ---- verify -------------------------------------------------------------- */

/* One audit_verify() pass over the log in dir "verify"; returns seconds. */
static double
verify_once(uint64_t want)
{
	struct tg_audit *a;
	struct audit_report rep;
	struct tg_error err;
	double t0, t1;
	int rc;

	a = log_open("verify", AUDIT_READONLY);
	tg_error_clear(&err);
	t0 = now();
	rc = audit_verify(a, NULL, NULL, &rep, &err);
	t1 = now();
	audit_close(a);
	if (rc != 0)
		die("audit_verify: %s", err.msg);
	if (rep.damage != AUDIT_OK)
		die("audit_verify: entry %" PRIu64 ": %s: %s", rep.seq,
		    audit_damage_name(rep.damage), rep.detail);
	if (rep.entries != want)
		die("audit_verify checked %" PRIu64 " entries, not %" PRIu64,
		    rep.entries, want);
	return t1 - t0;
}

/* SHA-256 of the sample's messages, one EVP_Digest() each, as verify
 * hashes them; MB/s. */
static double
sha_messages(const struct sample *s)
{
	unsigned char d[32];
	unsigned int dl;
	unsigned long long bytes = 0;
	double t0, t1, end;

	t0 = now();
	end = t0 + seconds;
	do {
		for (size_t i = 0; i < s->n; i++) {
			if (EVP_Digest(s->buf + s->off[i], s->mlen[i], d, &dl,
			    EVP_sha256(), NULL) != 1)
				die("EVP_Digest failed");
			bytes += s->mlen[i];
		}
		t1 = now();
	} while (t1 < end);
	return (double)bytes / MB / (t1 - t0);
}

/* The same messages with SHA-256 fetched once and one reused context:
 * what per-message hashing costs without OpenSSL 3's implicit fetch in
 * every EVP_Digest(..., EVP_sha256(), ...) call; MB/s. */
static double
sha_messages_ctx(const struct sample *s)
{
	EVP_MD *md;
	EVP_MD_CTX *c;
	unsigned char d[32];
	unsigned int dl;
	unsigned long long bytes = 0;
	double t0, t1, end;

	md = EVP_MD_fetch(NULL, "SHA256", NULL);
	c = EVP_MD_CTX_new();
	if (md == NULL || c == NULL)
		die("EVP_MD_fetch failed");
	t0 = now();
	end = t0 + seconds;
	do {
		for (size_t i = 0; i < s->n; i++) {
			if (EVP_DigestInit_ex(c, md, NULL) != 1 ||
			    EVP_DigestUpdate(c, s->buf + s->off[i],
			    s->mlen[i]) != 1 ||
			    EVP_DigestFinal_ex(c, d, &dl) != 1)
				die("SHA-256 failed");
			bytes += s->mlen[i];
		}
		t1 = now();
	} while (t1 < end);
	EVP_MD_CTX_free(c);
	EVP_MD_free(md);
	return (double)bytes / MB / (t1 - t0);
}

/* SHA-256 of the same bytes in 1 MB calls: the hash's own speed; MB/s. */
static double
sha_bulk(const struct sample *s)
{
	unsigned char d[32];
	unsigned int dl;
	unsigned long long bytes = 0;
	double t0, t1, end;
	size_t off, len;

	t0 = now();
	end = t0 + seconds;
	do {
		for (off = 0; off < s->len; off += len) {
			len = s->len - off < BULK_CHUNK ? s->len - off :
			    BULK_CHUNK;
			if (EVP_Digest(s->buf + off, len, d, &dl, EVP_sha256(),
			    NULL) != 1)
				die("EVP_Digest failed");
			bytes += len;
		}
		t1 = now();
	} while (t1 < end);
	return (double)bytes / MB / (t1 - t0);
}

static void
run_verify(struct gen *g, struct gen_entry *e)
{
	struct tg_audit *a;
	struct sample *s;
	uint64_t n = 0, want, bytes = 0;
	double t, t2, total = 0, rate, mbs, raw_msg, raw_ctx, raw_bulk;
	double build = 0;
	unsigned runs = 0;

	s = xcalloc(1, sizeof(*s));
	s->cap = (size_t)SAMPLE_MAX * (REQ_MAX + PAY_MAX + BODY_MAX);
	s->buf = xcalloc(1, s->cap);

	/* Calibrate on a small log, then grow it so that one pass takes
	 * about seconds / 2. */
	a = log_open("verify", AUDIT_CREATE);
	while (n < VERIFY_MIN) {
		build += append_group(a, g, e, VERIFY_GROUP, s, &bytes);
		n += VERIFY_GROUP;
	}
	audit_close(a);
	/* The best of two passes: the first one also warms the caches. */
	t = verify_once(n);
	t2 = verify_once(n);
	if (t2 < t)
		t = t2;
	want = (uint64_t)((double)n / t * seconds / 2);
	want = (want + VERIFY_GROUP - 1) / VERIFY_GROUP * VERIFY_GROUP;
	if (want < VERIFY_MIN)
		want = VERIFY_MIN;
	if (want > VERIFY_MAX)
		want = VERIFY_MAX;
	a = log_open("verify", 0);
	while (n < want) {
		build += append_group(a, g, e, VERIFY_GROUP, s, &bytes);
		n += VERIFY_GROUP;
	}
	audit_close(a);
	printf("verify (audit_verify of %" PRIu64 " entries written in "
	    "groups of %d at %.0f entries/s; %.1f MB hashed per pass, %.0f "
	    "B/entry)\n", n, VERIFY_GROUP, (double)n / build,
	    (double)bytes / MB, (double)bytes / (double)n);
	fflush(stdout);

	do {
		total += verify_once(n);
		runs++;
	} while (total < seconds);
	rate = (double)n * runs / total;
	mbs = (double)bytes * runs / MB / total;
	raw_msg = sha_messages(s);
	raw_ctx = sha_messages_ctx(s);
	raw_bulk = sha_bulk(s);

	printf("  %-27s %9s %11s\n", "", "MB/s", "verify/raw");
	printf("  %-27s %9.1f %11s  %.0f entries/s, %u pass%s of %.2f s\n",
	    "audit_verify", mbs, "", rate, runs, runs == 1 ? "" : "es",
	    total / runs);
	printf("  %-27s %9.1f %10.2fx  EVP_Digest(EVP_sha256()) per message, "
	    "%zu messages\n", "raw SHA-256 same messages", raw_msg,
	    mbs / raw_msg, s->n);
	printf("  %-27s %9.1f %10.2fx  SHA-256 fetched once, one reused "
	    "context\n", "raw SHA-256 same, fetched", raw_ctx, mbs / raw_ctx);
	printf("  %-27s %9.1f %10.2fx  1 MB per EVP_Digest\n",
	    "raw SHA-256 bulk", raw_bulk, mbs / raw_bulk);
	printf("summary: verify: %.0f entries/s, %.1f MB/s = %.2fx raw "
	    "SHA-256 of the same messages (%.1f MB/s); target >= %.1fx: %s "
	    "(%.2fx with SHA-256 fetched once, %.2fx of bulk)\n", rate, mbs,
	    mbs / raw_msg, raw_msg, TARGET_VERIFY, mbs / raw_msg >=
	    TARGET_VERIFY ? "met" : "NOT met", mbs / raw_ctx,
	    mbs / raw_bulk);
	free(s->buf);
	free(s);
}

/* ---- appends ------------------------------------------------------------- */

static void
run_append(struct gen *g, struct gen_entry *e)
{
	static const char *const rm[] = { "append", "raw.db", "raw.db-wal",
	    "raw.db-shm" };
	struct tg_audit *a;
	struct rawdb raw;
	struct rate ap[NGROUPS], rw[NGROUPS];
	double sign, eps, gps, reps, sql, sig, worst_sig = 0, best = 0;
	size_t b = 0;
	const char *verdict;
	char path[4096];

	a = log_open("append", AUDIT_CREATE);
	raw_open(&raw);
	sign = bench_sign();
	printf("raw Ed25519: %.0f signatures/s (EVP_DigestSign, %d-byte "
	    "message, fresh context each)\n\n", sign, SIGN_MSG);
	printf("appends (audit_append; per group: 1 transaction, 1 fsync, "
	    "1 signed checkpoint)\n");
	printf("%6s %10s %9s %15s %8s %10s %7s\n", "group", "entries/s",
	    "groups/s", "raw sqlite e/s", "app/raw", "grp/sign", "rest");
	fflush(stdout);
	for (size_t i = 0; i < NGROUPS; i++) {
		/* Interleaved, so both see the same disk at the same time. */
		bench_append(a, g, e, group_sizes[i], &ap[i]);
		bench_raw(&raw, g, e, group_sizes[i], &rw[i]);
		eps = (double)ap[i].entries / ap[i].secs;
		gps = (double)ap[i].groups / ap[i].secs;
		reps = (double)rw[i].entries / rw[i].secs;
		/* Shares of an append's time: the raw inserts, the one
		 * signature, and the rest. */
		sql = eps / reps;
		sig = gps / sign;
		if (sig > worst_sig)
			worst_sig = sig;
		if (eps > best) {
			best = eps;
			b = i;
		}
		printf("%6zu %10.0f %9.0f %15.0f %7.2fx %10.4f %6.0f%%\n",
		    group_sizes[i], eps, gps, reps, sql, sig,
		    100 * (1 - sql - sig));
		fflush(stdout);
	}
	audit_close(a);
	raw_close(&raw);
	/* Done with both: their disk space goes back before verify. */
	for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
		path_in(path, sizeof(path), rm[i]);
		rm_tree(path);
	}
	eps = (double)ap[b].entries / ap[b].secs;
	reps = (double)rw[b].entries / rw[b].secs;
	if (worst_sig >= 0.5)
		verdict = "signing IS a bound";
	else if (eps / reps >= 0.5)
		verdict = "bounded by SQLite, not by signing";
	else
		verdict = "not bounded by signing, but NOT by SQLite either "
		    "(see rest)";
	printf("summary: appends: up to %.0f entries/s (groups of %zu) = "
	    "%.2fx raw batched SQLite inserts (%.0f entries/s); signing "
	    "<= %.1f%% of append time (%.0f signatures/s): %s\n", eps,
	    group_sizes[b], eps / reps, reps, 100 * worst_sig, sign,
	    verdict);
}

static void
pin_to_one_core(void)
{
	cpu_set_t set;
	int cpu;

	cpu = sched_getcpu();
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		fprintf(stderr, "bench_audit: not pinned to a core: %s\n",
		    strerror(errno));
}

int
main(int argc, char *argv[])
{
	struct gen g = { 0, 0x9e3779b97f4a7c15ULL };
	struct gen_entry *e;
	struct statfs sfs;
	const char *arg, *only, *base;
	char *end, ts[AUDIT_TIME_LEN + 1], body[BODY_MAX];
	double v;
	int n, blen;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [SECONDS]\n", argv[0]);
		return 2;
	}
	arg = argc == 2 ? argv[1] : getenv("BENCH_SECONDS");
	if (arg != NULL && *arg != '\0') {
		errno = 0;
		v = strtod(arg, &end);
		if (errno != 0 || *end != '\0' || !(v > 0 && v <= 3600)) {
			fprintf(stderr, "bench_audit: SECONDS must be a number "
			    "of seconds (0 to 3600)\n");
			return 2;
		}
		seconds = v;
	}
	only = getenv("BENCH_ONLY");
	if (only != NULL && *only == '\0')
		only = NULL;
	if (only != NULL && strcmp(only, "append") != 0 &&
	    strcmp(only, "verify") != 0) {
		fprintf(stderr, "bench_audit: BENCH_ONLY must be append or "
		    "verify\n");
		return 2;
	}
	base = getenv("TMPDIR");
	if (base == NULL || *base == '\0')
		base = "/tmp";
	n = snprintf(tmpdir, sizeof(tmpdir), "%s/tiergate-bench.XXXXXX",
	    base);
	if (n < 0 || (size_t)n >= sizeof(tmpdir) || mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "bench_audit: cannot make a directory under "
		    "%s: %s\n", base, strerror(errno));
		return 1;
	}
	if (statfs(tmpdir, &sfs) == 0 && sfs.f_type == TMPFS_MAGIC_NR)
		fprintf(stderr, "bench_audit: warning: %s is on tmpfs, where "
		    "fsync costs nothing; set TMPDIR to a directory on disk\n",
		    base);
	e = xcalloc(GROUP_MAX, sizeof(*e));
	gen_entry(&g, &e[0]);
	pin_to_one_core();
	printf("bench_audit: %s; %.1f s per figure; %s, SQLite %s\n", tmpdir,
	    seconds, OpenSSL_version(OPENSSL_VERSION), sqlite3_libversion());
	utc_now(ts);
	blen = audit_entry_text("decision", pack_sha256, pack_sha256,
	    pack_sha256, pack_sha256, 12345, ts, body, sizeof(body));
	if (blen < 0)
		die("audit_entry_text failed");
	printf("entry: request %zu B, decision %zu B (canonical JSON), "
	    "canonical entry %d B\n", e[0].reqlen, e[0].paylen, blen);
	fflush(stdout);
	if (only == NULL || strcmp(only, "append") == 0)
		run_append(&g, e);
	if (only == NULL)
		printf("\n");
	if (only == NULL || strcmp(only, "verify") == 0)
		run_verify(&g, e);
	free(e);
	cleanup();
	return 0;
}
