/*
 * audit.c: writing and reading the signed audit log (see audit.h).
 *
 * Schema (user_version 3; v2 added reservations and licenses, v3 tokens):
 *   meta(k, v)                 origin and log id
 *   keys(key_id, public_key, first_seq, created)
 *                              the key chain: a key signs the checkpoints
 *                              from first_seq on; the checkpoint that covers
 *                              a rotation is signed by both keys
 *   entries(seq, time, kind, decision_id, request, payload, pack_sha256,
 *           body, entry_hash)  body is the canonical entry (audit.h)
 *   tree(level, idx, hash)     every complete subtree: 2^level leaves from
 *                              idx * 2^level; proofs need O(log n) reads
 *   checkpoints(size, root, note, time)
 *   reservations(seq, decision_id, quota, key, period, amount, void_seq)
 *                              quota use made by binding decisions, and
 *                              license depletion; released by voids
 *   licenses(number, country, tpp, quantity, valid_until, consignee, eccn,
 *            seq, revoked_seq) registered export licenses
 *   tokens(id, name, role, hash, created, revoked)
 *                              HTTP bearer tokens (SHA-256 of the secret)
 *
 * Invariants: entries are 1..n without gaps; tree holds exactly the complete
 * subtrees of n leaves; the checkpoint of size n is written in the same
 * transaction as the entries it covers, so the log is never ahead of its
 * signature.  Writers take BEGIN IMMEDIATE (another process may share the
 * database) and the commit syncs (synchronous=FULL) before anyone is told.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "tiergate/util.h"

#define BUSY_TIMEOUT_MS 5000
#define SCHEMA_VERSION 3

static const char schema_v1[] =
    "CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE keys (key_id TEXT PRIMARY KEY, public_key BLOB NOT NULL,"
    " first_seq INTEGER NOT NULL, created TEXT NOT NULL);"
    "CREATE TABLE entries (seq INTEGER PRIMARY KEY, time TEXT NOT NULL,"
    " kind TEXT NOT NULL, decision_id TEXT, request TEXT NOT NULL,"
    " payload TEXT NOT NULL, pack_sha256 TEXT NOT NULL, body TEXT NOT NULL,"
    " entry_hash BLOB NOT NULL);"
    "CREATE UNIQUE INDEX entries_decision ON entries(decision_id)"
    " WHERE kind = 'decision';"
    "CREATE TABLE tree (level INTEGER NOT NULL, idx INTEGER NOT NULL,"
    " hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;"
    "CREATE TABLE checkpoints (size INTEGER PRIMARY KEY, root BLOB NOT NULL,"
    " note TEXT NOT NULL, time TEXT NOT NULL);";

/* v3: bearer tokens for the HTTP API, stored as SHA-256 only. */
static const char schema_v3[] =
    "CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL,"
    " role TEXT NOT NULL, hash BLOB NOT NULL UNIQUE, created TEXT NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);";

/* v2: the quota and license ledger.  A reservation belongs to the entry
 * that made it; a void marks it released (void_seq: the void entry). */
static const char schema_v2[] =
    "CREATE TABLE reservations (seq INTEGER NOT NULL REFERENCES entries(seq),"
    " decision_id TEXT, quota TEXT NOT NULL, key TEXT NOT NULL,"
    " period TEXT NOT NULL, amount REAL NOT NULL, void_seq INTEGER"
    " REFERENCES entries(seq));"
    "CREATE INDEX reservations_quota ON reservations(quota, key, period);"
    "CREATE INDEX reservations_decision ON reservations(decision_id);"
    "CREATE TABLE licenses (number TEXT PRIMARY KEY, country TEXT NOT NULL,"
    " tpp REAL, quantity INTEGER, valid_until TEXT NOT NULL,"
    " consignee TEXT, eccn TEXT, seq INTEGER NOT NULL REFERENCES"
    " entries(seq), revoked_seq INTEGER REFERENCES entries(seq));";

int
store_sqlite_error(struct tg_error *err, sqlite3 *db, int rc,
    const char *what)
{
	int base = rc & 0xff;

	/* A file SQLite cannot read as a database is damage, which `audit
	 * verify` reports as such rather than as a failure to look. */
	return tg_error_set(err, base == SQLITE_CORRUPT ||
	    base == SQLITE_NOTADB ? TG_ECORRUPT : TG_EIO, "%s: %s%s", what,
	    db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc),
	    base == SQLITE_FULL ? " (disk full)" :
	    base == SQLITE_BUSY ? " (database busy past the timeout)" : "");
}

void
time_now(char out[AUDIT_TIME_LEN + 1])
{
	struct timespec ts;
	struct tm tm;

	char buf[96];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000);
	memcpy(out, buf, AUDIT_TIME_LEN);
	out[AUDIT_TIME_LEN] = '\0';
}

/*
 * After an I/O error (SQLITE_IOERR but for want of memory, SQLITE_CORRUPT,
 * SQLITE_NOTADB) this connection writes no more.  A failed fsync leaves
 * the file in a state nobody knows: the kernel may have dropped the pages
 * it could not write, and a later fsync succeed without them
 * (PostgreSQL's "fsyncgate"), while SQLite's page cache and WAL index
 * describe what it believes it wrote.  Only reopening the database lets
 * SQLite's recovery read back what the file really holds, so the writers
 * fail at once until tiergate is restarted.  A full disk (SQLITE_FULL)
 * or a busy database is no such doubt: the write was refused whole, and
 * the next one may succeed.  Called with a->mu held, right after the
 * failed call.
 */
static void
io_failed(struct tg_audit *a)
{
	int ext = sqlite3_extended_errcode(a->db), base = ext & 0xff;

	if (a->broken[0] != '\0')
		return;
	if ((base == SQLITE_IOERR && ext != SQLITE_IOERR_NOMEM) ||
	    base == SQLITE_CORRUPT || base == SQLITE_NOTADB)
		(void)snprintf(a->broken, sizeof(a->broken), "%s (SQLite "
		    "extended code %d)", sqlite3_errmsg(a->db), ext);
}

bool
audit_writable(struct tg_audit *a, char *why, size_t size)
{
	bool ok;

	pthread_mutex_lock(&a->mu);
	ok = !a->readonly && a->broken[0] == '\0';
	if (why != NULL && size > 0)
		(void)snprintf(why, size, "%s", a->readonly ? "open read-only" :
		    a->broken);
	pthread_mutex_unlock(&a->mu);
	return ok;
}

/* store_sqlite_error for a failed write statement of the log. */
static int
write_error(struct tg_audit *a, struct tg_error *err, int rc,
    const char *what)
{
	io_failed(a);
	return store_sqlite_error(err, a->db, rc, what);
}

static int
exec(struct tg_audit *a, const char *sql, struct tg_error *err)
{
	int rc = sqlite3_exec(a->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK)
		return write_error(a, err, rc, "database");
	return 0;
}

/* The transaction-control statements of the write path, compiled on
 * first use (audit.c's st_ctl): sqlite3_exec() would parse them again
 * for every commit group and every entry. */
enum ctl { CTL_BEGIN, CTL_COMMIT, CTL_SAVEPOINT, CTL_RELEASE };

struct tree_cache;
static void tcache_free(struct tree_cache *);

static int
run_ctl(struct tg_audit *a, enum ctl which, struct tg_error *err)
{
	static const char *const sql[] = { "BEGIN IMMEDIATE", "COMMIT",
	    "SAVEPOINT entry", "RELEASE entry" };
	sqlite3_stmt **st = &a->st_ctl[which];
	int rc;

	if (*st == NULL) {
		rc = sqlite3_prepare_v2(a->db, sql[which], -1, st, NULL);
		if (rc != SQLITE_OK)
			return write_error(a, err, rc, "database");
	}
	rc = sqlite3_step(*st);
	/* The error is read before the reset; and the reset comes at once:
	 * a stepped statement left pending would keep COMMIT from
	 * checkpointing the WAL. */
	if (rc != SQLITE_DONE) {
		rc = write_error(a, err, rc, "database");
		sqlite3_reset(*st);
		return rc;
	}
	sqlite3_reset(*st);
	return 0;
}

/* Runs a statement with up to two bound int64 / text parameters that
 * returns at most one row; the caller reads columns and finalizes. */
static int
prepare(struct tg_audit *a, const char *sql, sqlite3_stmt **st,
    struct tg_error *err)
{
	int rc = sqlite3_prepare_v2(a->db, sql, -1, st, NULL);

	if (rc != SQLITE_OK)
		return store_sqlite_error(err, a->db, rc, "database");
	return 0;
}

static int
migrate(struct tg_audit *a, struct tg_error *err)
{
	sqlite3_stmt *st;
	int v = 0, rc;

	rc = prepare(a, "PRAGMA user_version", &st, err);
	if (rc != 0)
		return rc;
	/* A file that cannot be read (damaged, not a database) is said so,
	 * not taken for one without a log. */
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return store_sqlite_error(err, a->db, rc, "cannot read the "
		    "database");
	if (v == SCHEMA_VERSION)
		return 0;
	if (v > SCHEMA_VERSION)
		return tg_error_set(err, TG_EIO, "database schema %d is newer "
		    "than this tiergate (%d)", v, SCHEMA_VERSION);
	if (a->readonly)
		return tg_error_set(err, TG_EIO, "database has no audit log");
	/* Migrations run in a transaction, so a crash leaves the old
	 * schema, never half of the new one. */
	rc = exec(a, "BEGIN IMMEDIATE", err);
	if (rc != 0)
		return rc;
	/* Another process may have migrated while we waited for the lock. */
	rc = prepare(a, "PRAGMA user_version", &st, err);
	if (rc != 0)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (v >= SCHEMA_VERSION)
		return exec(a, "COMMIT", err);
	if (v < 1)
		rc = exec(a, schema_v1, err);
	if (rc == 0 && v < 2)
		rc = exec(a, schema_v2, err);
	if (rc == 0 && v < 3)
		rc = exec(a, schema_v3, err);
	if (rc == 0)
		rc = exec(a, "PRAGMA user_version = 3", err);
	if (rc == 0)
		return exec(a, "COMMIT", err);
fail:
	sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
meta_get(struct tg_audit *a, const char *k, char *out, size_t size,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc;

	out[0] = '\0';
	rc = prepare(a, "SELECT v FROM meta WHERE k = ?", &st, err);
	if (rc != 0)
		return rc;
	sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(st,
		    0));
	sqlite3_finalize(st);
	return 0;
}

/* The key that signs from now on: the one with the highest first_seq. */
static int
latest_key(struct tg_audit *a, uint8_t pub[32], bool *found,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*found = false;
	rc = prepare(a, "SELECT public_key FROM keys ORDER BY first_seq DESC "
	    "LIMIT 1", &st, err);
	if (rc != 0)
		return rc;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == 32) {
		memcpy(pub, sqlite3_column_blob(st, 0), 32);
		*found = true;
	}
	sqlite3_finalize(st);
	return 0;
}

static int
path_join(char *out, size_t size, const char *dir, const char *name)
{
	int n = snprintf(out, size, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= size ? TG_ETOOBIG : 0;
}

/* Creates the log's first key and its origin. */
static int
init_log(struct tg_audit *a, struct tg_error *err)
{
	char path[4096], pubpath[4096], now[AUDIT_TIME_LEN + 1], logid[17];
	sqlite3_stmt *st = NULL;
	EVP_PKEY *k = NULL;
	int rc;

	if (path_join(path, sizeof(path), a->dir, KEY_FILE) != 0)
		return tg_error_set(err, TG_ETOOBIG, "data dir path too long");
	/* The database lock serializes first use among processes: whoever
	 * gets it first makes the key; the others find it made. */
	rc = exec(a, "BEGIN IMMEDIATE", err);
	if (rc != 0)
		return rc;
	{
		uint8_t pub[32];
		bool found;

		rc = latest_key(a, pub, &found, err);
		if (rc != 0 || found) {
			sqlite3_exec(a->db, rc ? "ROLLBACK" : "COMMIT", NULL,
			    NULL, NULL);
			return rc != 0 ? rc : 1;	/* 1: load it */
		}
	}
	if (access(path, F_OK) == 0) {
		/* A first use that was killed after writing signing.key but
		 * before this commit: keep that key, and write signing.pub
		 * too when the kill came before it (key_write_pair writes
		 * the key first), or the data dir never gets one. */
		rc = key_load_private(path, &k, err);
		if (rc == 0 && path_join(pubpath, sizeof(pubpath), a->dir,
		    PUB_FILE) != 0)
			rc = tg_error_set(err, TG_ETOOBIG, "data dir path too "
			    "long");
		if (rc == 0 && access(pubpath, F_OK) != 0)
			rc = key_write_pair(a->dir, KEY_FILE, PUB_FILE, k,
			    err);
	} else {
		rc = key_generate(&k, err);
		if (rc == 0)
			rc = key_write_pair(a->dir, KEY_FILE, PUB_FILE, k,
			    err);
	}
	if (rc == 0)
		rc = key_raw_public(k, a->pub, err);
	/* The origin is made from the key id and kept for good: a digest
	 * that failed must not name the log "tiergate/0000...". */
	if (rc == 0 && key_id_of(a->pub, a->key_id) != 0)
		rc = tg_error_set(err, TG_ECRYPTO, "cannot hash the public "
		    "key");
	if (rc != 0) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	memcpy(logid, a->key_id, 16);
	logid[16] = '\0';
	snprintf(a->origin, sizeof(a->origin), "tiergate/%s", logid);
	time_now(now);
	rc = prepare(a, "INSERT INTO meta (k, v) VALUES ('origin', ?)", &st,
	    err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, a->origin, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sqlite_error(err, a->db, 0, "meta");
		sqlite3_finalize(st);
		st = NULL;
	}
	if (rc == 0)
		rc = prepare(a, "INSERT INTO keys (key_id, public_key, "
		    "first_seq, created) VALUES (?, ?, 1, ?)", &st, err);
	if (rc == 0) {
		sqlite3_bind_text(st, 1, a->key_id, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 2, a->pub, 32, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, now, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE)
			rc = store_sqlite_error(err, a->db, 0, "keys");
		sqlite3_finalize(st);
	}
	if (rc == 0)
		rc = exec(a, "COMMIT", err);
	else
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	if (rc == 0) {
		a->key = k;
		k = NULL;
	}
out:
	EVP_PKEY_free(k);
	return rc;
}

/*
 * Puts a rotated key in place: the old pair is kept as
 * signing-<old id>.key.retired and signing-<old id>.pub (receipts signed
 * before the rotation verify with it), then signing.key.new and
 * signing.pub.new replace the current files.  Idempotent, and called only
 * with the database write lock held (BEGIN IMMEDIATE), so keygen and a
 * running daemon that notices the rotation never race.
 */
static int
install_rotated_key(const char *dir, const uint8_t newpub[32],
    struct tg_error *err)
{
	char key[4096], pub[4096], knew[4200], pnew[4200], kold[4300];
	char pold[4300], oldid[65];
	EVP_PKEY *k = NULL;
	uint8_t p[32];
	struct tg_error e;

	if (path_join(key, sizeof(key), dir, KEY_FILE) != 0 ||
	    path_join(pub, sizeof(pub), dir, PUB_FILE) != 0)
		return tg_error_set(err, TG_ETOOBIG, "data dir path too long");
	snprintf(knew, sizeof(knew), "%s.new", key);
	snprintf(pnew, sizeof(pnew), "%s.new", pub);
	if (access(knew, F_OK) != 0) {
		/* Killed between the two renames at the end: the new key is
		 * in place, its public key not yet. */
		if (access(pnew, F_OK) == 0 &&
		    audit_read_pubkey(pnew, p, &e) == 0 &&
		    memcmp(p, newpub, 32) == 0 && rename(pnew, pub) != 0)
			return tg_error_set(err, TG_EIO, "cannot install the "
			    "new public key: %s", strerror(errno));
		return 0;		/* nothing pending */
	}
	if (key_load_private(knew, &k, &e) != 0 ||
	    key_raw_public(k, p, &e) != 0 || memcmp(p, newpub, 32) != 0) {
		EVP_PKEY_free(k);
		return 0;		/* not the key the chain names */
	}
	EVP_PKEY_free(k);
	k = NULL;
	if (key_load_private(key, &k, &e) == 0 &&
	    key_raw_public(k, p, &e) == 0 && memcmp(p, newpub, 32) != 0) {
		if (key_id_of(p, oldid) != 0) {
			EVP_PKEY_free(k);
			return tg_error_set(err, TG_ECRYPTO, "cannot hash the "
			    "retired key");
		}
		snprintf(kold, sizeof(kold), "%s/signing-%.16s.key.retired",
		    dir, oldid);
		snprintf(pold, sizeof(pold), "%s/signing-%.16s.pub", dir,
		    oldid);
		if ((link(key, kold) != 0 && errno != EEXIST) ||
		    (access(pub, F_OK) == 0 && link(pub, pold) != 0 &&
		    errno != EEXIST)) {
			EVP_PKEY_free(k);
			return tg_error_set(err, TG_EIO, "cannot keep the "
			    "retired key: %s", strerror(errno));
		}
	}
	EVP_PKEY_free(k);
	if (rename(knew, key) != 0 || (access(pnew, F_OK) == 0 &&
	    rename(pnew, pub) != 0))
		return tg_error_set(err, TG_EIO, "cannot install the new key: "
		    "%s", strerror(errno));
	return 0;
}

/* Finishes a key rotation that committed but crashed before the new key
 * file replaced the old one. */
static void
finish_rotation(struct tg_audit *a, const uint8_t latest[32])
{
	struct tg_error e;

	(void)install_rotated_key(a->dir, latest, &e);
}

/* Whether the log holds an entry (false when that cannot be read). */
static bool
has_entries(struct tg_audit *a)
{
	sqlite3_stmt *st;
	bool any = false;

	if (sqlite3_prepare_v2(a->db, "SELECT 1 FROM entries LIMIT 1", -1,
	    &st, NULL) != SQLITE_OK)
		return false;
	any = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return any;
}

static int
load_key(struct tg_audit *a, struct tg_error *err)
{
	char path[4096];
	uint8_t latest[32];
	bool found;
	int rc;

	rc = latest_key(a, latest, &found, err);
	if (rc != 0)
		return rc;
	if (!found && a->readonly && has_entries(a)) {
		/* Entries, but no usable key (the key table emptied, or its
		 * last key cut short): damage for `audit verify` to name,
		 * not a data dir without a log.  No key id, then. */
		return meta_get(a, "origin", a->origin, sizeof(a->origin),
		    err);
	}
	if (!found) {
		if (a->readonly)
			return tg_error_set(err, TG_EIO, "the audit log has "
			    "no key (empty data dir?)");
		rc = init_log(a, err);
		if (rc != 1)
			return rc;
		/* Someone else initialized it meanwhile. */
		rc = latest_key(a, latest, &found, err);
		if (rc != 0)
			return rc;
		if (!found)
			return tg_error_set(err, TG_EIO, "the audit log has "
			    "no key");
	}
	rc = meta_get(a, "origin", a->origin, sizeof(a->origin), err);
	if (rc != 0)
		return rc;
	memcpy(a->pub, latest, 32);
	if (key_id_of(a->pub, a->key_id) != 0)
		return tg_error_set(err, TG_ECRYPTO, "cannot hash the public "
		    "key");
	if (a->readonly)
		return 0;
	finish_rotation(a, latest);
	if (path_join(path, sizeof(path), a->dir, KEY_FILE) != 0)
		return tg_error_set(err, TG_ETOOBIG, "data dir path too long");
	rc = key_load_private(path, &a->key, err);
	if (rc == 0) {
		uint8_t pub[32];

		rc = key_raw_public(a->key, pub, err);
		if (rc == 0 && memcmp(pub, latest, 32) != 0)
			rc = tg_error_set(err, TG_EINVAL, "signing key '%s' is "
			    "not this log's current key (%s)", path,
			    a->key_id);
	}
	return rc;
}

/*
 * SQLite's default busy handler sleeps in growing steps up to 100 ms, so
 * writers queued behind a 1 ms transaction wait far longer than needed and
 * wake together.  Short randomized sleeps up to the same total timeout.
 */
static int
busy_wait(void *arg, int count)
{
	static _Thread_local unsigned seed;
	unsigned us;

	(void)arg;
	if (seed == 0)
		seed = (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
	/* About 1.5 ms on average: BUSY_TIMEOUT_MS in ~3300 tries. */
	if (count >= BUSY_TIMEOUT_MS * 2 / 3)
		return 0;
	seed = seed * 1103515245u + 12345u;
	us = 500 + (seed >> 16) % 2000;
	usleep(us);
	return 1;
}

/* WAL mode persists in the file; switching needs a moment alone with the
 * database, so a process racing another's first use retries briefly. */
static int
set_wal(struct tg_audit *a, struct tg_error *err)
{
	int rc = SQLITE_BUSY;

	for (int i = 0; i < 100 && (rc & 0xff) == SQLITE_BUSY; i++) {
		rc = sqlite3_exec(a->db, "PRAGMA journal_mode=WAL", NULL, NULL,
		    NULL);
		if ((rc & 0xff) == SQLITE_BUSY)
			usleep(20000);
	}
	if (rc != SQLITE_OK)
		return store_sqlite_error(err, a->db, rc, "database");
	return 0;
}

/* mkdir -p: parents mode 0755 as usual, the data dir itself 0700. */
static int
mkdir_p(const char *dir)
{
	char tmp[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, dir, n + 1);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
		return -1;
	return 0;
}

/* ---- the WAL ------------------------------------------------------------- */

/*
 * With AUDIT_BG_CHECKPOINT, SQLite's automatic checkpoint (which copies
 * the WAL into the database inside whichever COMMIT crosses 1000 pages,
 * fsync included) is replaced by a thread with a connection of its own:
 * a commit only notes the WAL's size and wakes it.  Its checkpoints are
 * PASSIVE (they never wait for the writer); as those may never catch up
 * under a steady stream of commits, past CK_FORCE_PAGES one RESTART waits
 * for the writer and lets the WAL start over.
 */
#define CK_PAGES 1000		/* SQLite's own threshold */
#define CK_FORCE_PAGES 16384	/* 64 MiB of 4 KiB pages */

static int
wal_noted(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct tg_audit *a = arg;

	(void)db;
	(void)name;
	atomic_store(&a->wal_pages, pages > 0 ? (size_t)pages : 0);
	if (pages >= CK_PAGES) {
		pthread_mutex_lock(&a->ck_mu);
		pthread_cond_signal(&a->ck_cv);
		pthread_mutex_unlock(&a->ck_mu);
	}
	return SQLITE_OK;
}

static int
wal_checkpoint(struct tg_audit *a, bool force, struct tg_error *err)
{
	char path[4096];
	int rc, log = 0, done = 0;

	if (a->ckdb == NULL) {
		if (path_join(path, sizeof(path), a->dir, DB_FILE) != 0)
			return tg_error_set(err, TG_ETOOBIG, "data dir path "
			    "too long");
		rc = sqlite3_open_v2(path, &a->ckdb, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_FULLMUTEX, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_busy_handler(a->ckdb, busy_wait, NULL);
			/* A connection only knows the file is in WAL mode
			 * once it has read it; before, a checkpoint does
			 * nothing. */
			rc = sqlite3_exec(a->ckdb, "SELECT count(*) FROM "
			    "sqlite_master", NULL, NULL, NULL);
		}
		if (rc != SQLITE_OK) {
			rc = tg_error_set(err, TG_EIO, "cannot open '%s' to "
			    "checkpoint it: %s", path, a->ckdb ?
			    sqlite3_errmsg(a->ckdb) : sqlite3_errstr(rc));
			sqlite3_close(a->ckdb);
			a->ckdb = NULL;
			return rc;
		}
	}
	rc = sqlite3_wal_checkpoint_v2(a->ckdb, NULL, force ?
	    SQLITE_CHECKPOINT_RESTART : SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc == SQLITE_BUSY && !force)
		return 0;	/* a passive one may always come back later */
	if (rc != SQLITE_OK) {
		int ext = sqlite3_extended_errcode(a->ckdb);

		rc = store_sqlite_error(err, a->ckdb, rc, "WAL checkpoint");
		/* A failed write or fsync of the database file is the same
		 * doubt as one of the WAL (io_failed): no more writes. */
		if ((ext & 0xff) == SQLITE_IOERR && ext != SQLITE_IOERR_NOMEM) {
			pthread_mutex_lock(&a->mu);
			if (a->broken[0] == '\0')
				(void)snprintf(a->broken, sizeof(a->broken),
				    "WAL checkpoint: %s (SQLite extended code "
				    "%d)", sqlite3_errmsg(a->ckdb), ext);
			pthread_mutex_unlock(&a->mu);
		}
		return rc;
	}
	if (force || done >= log)
		atomic_store(&a->wal_pages, 0);
	return 0;
}

static void *
ck_main(void *arg)
{
	struct tg_audit *a = arg;
	struct tg_error err;
	size_t pages;

	pthread_mutex_lock(&a->ck_mu);
	while (!a->ck_stop) {
		pages = atomic_load(&a->wal_pages);
		if (pages < CK_PAGES) {
			pthread_cond_wait(&a->ck_cv, &a->ck_mu);
			continue;
		}
		pthread_mutex_unlock(&a->ck_mu);
		tg_error_clear(&err);
		if (wal_checkpoint(a, pages >= CK_FORCE_PAGES, &err) != 0) {
			/* The next commit's fsync will meet the same fault;
			 * this thread only keeps the WAL short. */
			log_warnx("WAL checkpoint: %s", err.msg);
			sleep(1);
		}
		pthread_mutex_lock(&a->ck_mu);
	}
	pthread_mutex_unlock(&a->ck_mu);
	return NULL;
}

static int
ck_start(struct tg_audit *a, struct tg_error *err)
{
	pthread_mutex_init(&a->ck_mu, NULL);
	pthread_cond_init(&a->ck_cv, NULL);
	if (pthread_create(&a->ck_thread, NULL, ck_main, a) != 0) {
		pthread_cond_destroy(&a->ck_cv);
		pthread_mutex_destroy(&a->ck_mu);
		return tg_error_set(err, TG_EIO, "cannot start the WAL "
		    "checkpointer: %s", strerror(errno));
	}
	a->ck_running = true;
	sqlite3_wal_hook(a->db, wal_noted, a);
	return 0;
}

static void
ck_stop(struct tg_audit *a)
{
	if (!a->ck_running)
		return;
	sqlite3_wal_autocheckpoint(a->db, 1000);	/* SQLite's own again */
	pthread_mutex_lock(&a->ck_mu);
	a->ck_stop = true;
	pthread_cond_signal(&a->ck_cv);
	pthread_mutex_unlock(&a->ck_mu);
	pthread_join(a->ck_thread, NULL);
	pthread_cond_destroy(&a->ck_cv);
	pthread_mutex_destroy(&a->ck_mu);
	sqlite3_close(a->ckdb);
	a->ckdb = NULL;
	a->ck_running = false;
}

int
audit_open(const char *data_dir, unsigned flags, struct tg_audit **out,
    struct tg_error *err)
{
	struct tg_audit *a;
	char path[4096];
	int rc, oflags;

	*out = NULL;
	if ((flags & AUDIT_CREATE) && mkdir_p(data_dir) != 0)
		return tg_error_set(err, TG_EIO, "cannot create data dir "
		    "'%s': %s", data_dir, strerror(errno));
	if (path_join(path, sizeof(path), data_dir, DB_FILE) != 0)
		return tg_error_set(err, TG_ETOOBIG, "data dir path too long");
	a = calloc(1, sizeof(*a));
	if (a == NULL || (a->dir = strdup(data_dir)) == NULL) {
		free(a);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	pthread_mutex_init(&a->mu, NULL);
	a->readonly = (flags & AUDIT_READONLY) != 0;
	if (a->readonly)
		oflags = SQLITE_OPEN_READONLY;
	else if (flags & AUDIT_CREATE)
		oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	else
		oflags = SQLITE_OPEN_READWRITE;
	rc = sqlite3_open_v2(path, &a->db, oflags | SQLITE_OPEN_FULLMUTEX,
	    NULL);
	if (rc != SQLITE_OK) {
		rc = tg_error_set(err, TG_EIO, "cannot open audit log '%s': "
		    "%s", path, a->db ? sqlite3_errmsg(a->db) :
		    sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_handler(a->db, busy_wait, NULL);
	if (!a->readonly) {
		/* WAL so readers never block the writer; FULL so a commit
		 * is on disk before the decision it holds is answered. */
		rc = set_wal(a, err);
		if (rc == 0)
			rc = exec(a, "PRAGMA synchronous=FULL", err);
		if (rc != 0)
			goto fail;
		chmod(path, 0600);
		if (flags & AUDIT_BG_CHECKPOINT)
			rc = ck_start(a, err);
		if (rc != 0)
			goto fail;
	}
	rc = exec(a, "PRAGMA foreign_keys=ON", err);
	if (rc == 0)
		rc = migrate(a, err);
	if (rc == 0)
		rc = load_key(a, err);
	if (rc != 0)
		goto fail;
	*out = a;
	return 0;
fail:
	audit_close(a);
	return rc;
}

void
audit_close(struct tg_audit *a)
{
	if (a == NULL)
		return;
	ck_stop(a);
	sqlite3_finalize(a->st_tget);
	sqlite3_finalize(a->st_ins);
	sqlite3_finalize(a->st_tins);
	sqlite3_finalize(a->st_rins);
	sqlite3_finalize(a->st_used);
	for (size_t i = 0; i < sizeof(a->st_ctl) / sizeof(a->st_ctl[0]); i++)
		sqlite3_finalize(a->st_ctl[i]);
	tcache_free(a->tcache);
	sqlite3_close(a->db);
	EVP_PKEY_free(a->key);
	pthread_mutex_destroy(&a->mu);
	free(a->dir);
	free(a);
}

sqlite3 *
audit_db(struct tg_audit *a)
{
	return a->db;
}

pthread_mutex_t *
audit_mutex(struct tg_audit *a)
{
	return &a->mu;
}

const char *
audit_key_id(const struct tg_audit *a)
{
	return a->key_id;
}

const char *
audit_origin(const struct tg_audit *a)
{
	return a->origin;
}

void
audit_receipt_release(struct audit_receipt *r)
{
	if (r == NULL)
		return;
	free(r->checkpoint);
	r->checkpoint = NULL;
}

void
audit_entry_release(struct audit_entry *e)
{
	if (e == NULL)
		return;
	free(e->decision_id);
	free(e->request);
	free(e->payload);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

int
audit_entry_text(const char *kind, const char *pack_sha256,
    const char *payload_sha256, const char *prev, const char *request_sha256,
    uint64_t seq, const char *time, char *buf, size_t size)
{
	int n;

	/* RFC 8785 by construction: keys in sorted order, every value a
	 * string of [0-9a-z_:.TZ-] characters or an integer, so no
	 * escaping is ever needed (kind is checked by the caller). */
	n = snprintf(buf, size, "{\"kind\":\"%s\",\"pack_sha256\":\"%s\","
	    "\"payload_sha256\":\"%s\",\"prev\":\"%s\",\"request_sha256\":"
	    "\"%s\",\"seq\":%" PRIu64 ",\"time\":\"%s\"}", kind, pack_sha256,
	    payload_sha256, prev, request_sha256, seq, time);
	if (n < 0 || (size_t)n >= size)
		return TG_ETOOBIG;
	return n;
}

static int
sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[32];

	/* merkle.c's digest is fetched once; EVP_sha256() is looked up on
	 * every call (OpenSSL 3). */
	if (merkle_sha256(p, n, d) != 0)
		return TG_ECRYPTO;
	hex_encode(d, 32, out);
	return 0;
}

static bool
kind_ok(const char *k)
{
	size_t n = strlen(k);

	if (n == 0 || n >= AUDIT_KIND_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_'))
			return false;
	return true;
}

static bool
hex64_ok(const char *s)
{
	uint8_t tmp[32];

	return s[0] == '\0' || hex_decode(s, tmp, 32) == 0;
}

/* ---- the tree in SQLite ------------------------------------------------ */

/*
 * Every commit group reads tree nodes back for its tree_add()s, its
 * checkpoint's root and one inclusion proof per receipt: about twenty
 * index lookups per decision.  A node, once committed, never changes
 * (only new ones are added, by this process or another), so recently
 * used nodes are kept here, direct-mapped by (level, idx).  Nodes read or
 * written inside a transaction are "pending" until it commits; a
 * rollback (of the group, or of one entry's savepoint) forgets them.
 * The cache is only ever a copy: a miss reads SQLite.
 */
#define TREE_CACHE_SLOTS 8192u	/* 48 bytes each */

struct tree_slot {
	uint64_t idx;
	uint8_t level;
	bool valid;
	bool pending;
	merkle_hash hash;
};

struct tree_cache {
	struct tree_slot slot[TREE_CACHE_SLOTS];
	uint32_t *pending;		/* slots marked pending */
	size_t npending, cappending;
};

static struct tree_slot *
tcache_slot(struct tree_cache *c, unsigned level, uint64_t idx)
{
	uint64_t k = (idx << 6 | level) * 0x9e3779b97f4a7c15ull;

	return &c->slot[k >> 51 & (TREE_CACHE_SLOTS - 1)];
}

static bool
tcache_get(struct tree_cache *c, unsigned level, uint64_t idx,
    merkle_hash out)
{
	struct tree_slot *sl;

	if (c == NULL)
		return false;
	sl = tcache_slot(c, level, idx);
	if (!sl->valid || sl->idx != idx || sl->level != level)
		return false;
	memcpy(out, sl->hash, MERKLE_HASH);
	return true;
}

/* Remembers a node; pending inside a write transaction.  Best effort:
 * without room to note it pending, the node is not cached. */
static void
tcache_put(struct tree_cache *c, unsigned level, uint64_t idx,
    const merkle_hash h, bool pending)
{
	struct tree_slot *sl;

	if (c == NULL)
		return;
	sl = tcache_slot(c, level, idx);
	if (pending) {
		if (c->npending == c->cappending) {
			size_t cap = c->cappending ? 2 * c->cappending : 256;
			uint32_t *v = realloc(c->pending, cap * sizeof(*v));

			if (v == NULL) {
				sl->valid = false;
				return;
			}
			c->pending = v;
			c->cappending = cap;
		}
		c->pending[c->npending++] = (uint32_t)(sl - c->slot);
	}
	sl->idx = idx;
	sl->level = (uint8_t)level;
	sl->pending = pending;
	sl->valid = true;
	memcpy(sl->hash, h, MERKLE_HASH);
}

/* The transaction committed (keep = true: its nodes are now permanent)
 * or rolled back (forget them). */
static void
tcache_settle(struct tree_cache *c, bool keep)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->npending; i++) {
		struct tree_slot *sl = &c->slot[c->pending[i]];

		if (!sl->pending)
			continue;
		sl->pending = false;
		if (!keep)
			sl->valid = false;
	}
	c->npending = 0;
}

static void
tcache_free(struct tree_cache *c)
{
	if (c != NULL)
		free(c->pending);
	free(c);
}

struct tree_ctx {
	struct tg_audit *a;
	sqlite3_stmt *get;
	bool in_tx;		/* what it caches is pending */
};

static int
tree_get(void *ctx, unsigned level, uint64_t index, merkle_hash out)
{
	struct tree_ctx *t = ctx;
	int rc;

	if (tcache_get(t->a->tcache, level, index, out))
		return 0;
	sqlite3_reset(t->get);
	sqlite3_bind_int64(t->get, 1, (sqlite3_int64)level);
	sqlite3_bind_int64(t->get, 2, (sqlite3_int64)index);
	rc = sqlite3_step(t->get);
	if (rc != SQLITE_ROW || sqlite3_column_bytes(t->get, 0) != MERKLE_HASH) {
		sqlite3_reset(t->get);
		return TG_EIO;
	}
	memcpy(out, sqlite3_column_blob(t->get, 0), MERKLE_HASH);
	sqlite3_reset(t->get);
	tcache_put(t->a->tcache, level, index, out, t->in_tx);
	return 0;
}

static int
tree_open(struct tg_audit *a, struct tree_ctx *t, struct tg_error *err)
{
	t->a = a;
	return prepare(a, "SELECT hash FROM tree WHERE level = ? AND idx = ?",
	    &t->get, err);
}

/* Adds leaf i and every subtree it completes. */
static int
tree_add(struct tree_ctx *t, sqlite3_stmt *ins, uint64_t i,
    const merkle_hash leaf)
{
	merkle_hash h, left;
	unsigned level = 0;
	uint64_t idx = i;

	memcpy(h, leaf, MERKLE_HASH);
	for (;;) {
		sqlite3_reset(ins);
		sqlite3_bind_int64(ins, 1, (sqlite3_int64)level);
		sqlite3_bind_int64(ins, 2, (sqlite3_int64)idx);
		sqlite3_bind_blob(ins, 3, h, MERKLE_HASH, SQLITE_TRANSIENT);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return TG_EIO;
		tcache_put(t->a->tcache, level, idx, h, true);
		if ((idx & 1) == 0)
			return 0;
		if (tree_get(t, level, idx - 1, left) != 0 ||
		    merkle_node_hash(left, h, h) != 0)
			return TG_EIO;
		level++;
		idx >>= 1;
	}
}

/* ---- append --------------------------------------------------------------- */

static int
last_entry(struct tg_audit *a, uint64_t *seq, char prev[65],
    struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*seq = 0;
	memset(prev, '0', 64);
	prev[64] = '\0';
	rc = prepare(a, "SELECT seq, entry_hash FROM entries ORDER BY seq DESC "
	    "LIMIT 1", &st, err);
	if (rc != 0)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seq = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == 32)
			hex_encode(sqlite3_column_blob(st, 1), 32, prev);
		rc = 0;
	} else if (rc == SQLITE_DONE)
		rc = 0;
	else
		rc = store_sqlite_error(err, a->db, rc, "audit log");
	sqlite3_finalize(st);
	return rc;
}

/* Signs and stores the checkpoint of size n; keys[0..nkeys) sign it. */
static int
checkpoint_write(struct tg_audit *a, struct tree_ctx *t, uint64_t n,
    EVP_PKEY *const *keys, const uint8_t (*pubs)[32], size_t nkeys,
    char *note, size_t notesz, struct tg_error *err)
{
	char now[AUDIT_TIME_LEN + 1];
	sqlite3_stmt *st;
	merkle_hash root;
	int rc;

	rc = merkle_root(tree_get, t, n, root);
	if (rc != 0)
		return tg_error_set(err, TG_EIO, "cannot compute the tree "
		    "root");
	rc = note_sign(a->origin, n, root, keys, pubs, nkeys, note, notesz,
	    err);
	if (rc != 0)
		return rc;
	time_now(now);
	rc = prepare(a, "INSERT INTO checkpoints (size, root, note, time) "
	    "VALUES (?, ?, ?, ?)", &st, err);
	if (rc != 0)
		return rc;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
	sqlite3_bind_blob(st, 2, root, MERKLE_HASH, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, note, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		rc = write_error(a, err, rc, "checkpoint");
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

/*
 * One receipt's proof, checkpoint and signature.  sig (sizeof
 * r->signature) carries the note's signature by this log's key from one
 * receipt of a note to the next: found on the first call (sig empty),
 * copied after, rather than hashing the key's name again per receipt.
 */
static int
fill_proof(struct tg_audit *a, struct tree_ctx *t, struct audit_receipt *r,
    uint64_t size, const char *note, char *sig, struct tg_error *err)
{
	r->tree_size = size;
	r->leaf_index = r->seq - 1;
	snprintf(r->key_id, sizeof(r->key_id), "%s", a->key_id);
	if (merkle_inclusion_proof(tree_get, t, r->leaf_index, size, r->proof,
	    &r->nproof) != 0)
		return tg_error_set(err, TG_EIO, "cannot build the inclusion "
		    "proof of entry %" PRIu64, r->seq);
	r->checkpoint = strdup(note);
	if (r->checkpoint == NULL)
		return tg_error_set(err, -ENOMEM, "out of memory");
	/* The note was signed by this log (a moment ago, for a commit):
	 * copy the signature of the key the receipt names rather than
	 * verifying it again per receipt.  Not merely the first line: after
	 * a rotation the latest checkpoint (audit show, export) is co-signed,
	 * the old key's signature first, and key_id names the new key. */
	if (sig[0] == '\0')
		note_signature_by(note, a->origin, a->pub, sig,
		    sizeof(r->signature));
	/* Not found, or its key hash could not be computed: a receipt with
	 * no signature would be handed out as if it were whole. */
	if (sig[0] == '\0')
		return tg_error_set(err, TG_ECRYPTO, "cannot find the "
		    "signature of key %.16s in checkpoint %" PRIu64, a->key_id,
		    size);
	memcpy(r->signature, sig, sizeof(r->signature));
	return 0;
}

/* ---- transactions ------------------------------------------------------ */

/*
 * One write transaction: BEGIN IMMEDIATE under the log's mutex, any
 * number of entries (each with its reservations), then one checkpoint and
 * one COMMIT.  Reads made through the transaction (quota use, licenses)
 * see its own writes, so a commit group can decide one request after
 * another without ever over-allocating.
 */
struct audit_tx {
	struct tg_audit *a;
	sqlite3_stmt *ins, *tins, *rins, *used;
	struct tree_ctx t;
	uint64_t seq;			/* of the last entry */
	char prev[65];
	char now[AUDIT_TIME_LEN + 1];
	struct audit_receipt *r;	/* one per appended entry */
	size_t nr, capr;
	EVP_PKEY *const *keys;
	const uint8_t (*pubs)[32];
	size_t nkeys;
};

static void
tx_reset_statements(struct audit_tx *tx)
{
	/* The statements belong to the log (prepared once); reset them so
	 * they hold no read transaction open. */
	sqlite3_reset(tx->ins);
	sqlite3_reset(tx->tins);
	sqlite3_reset(tx->rins);
	sqlite3_reset(tx->used);
	sqlite3_reset(tx->t.get);
}

static void
tx_free(struct audit_tx *tx)
{
	tx_reset_statements(tx);
	for (size_t i = 0; i < tx->nr; i++)
		audit_receipt_release(&tx->r[i]);
	free(tx->r);
	pthread_mutex_unlock(&tx->a->mu);
	free(tx);
}

static int
follow_rotation(struct tg_audit *a, struct tg_error *err)
{
	uint8_t latest[32], pub[32];
	char path[4096], id[65];
	EVP_PKEY *k = NULL;
	bool found;
	int rc;

	rc = latest_key(a, latest, &found, err);
	if (rc != 0 || !found || memcmp(latest, a->pub, 32) == 0)
		return rc;
	finish_rotation(a, latest);
	if (path_join(path, sizeof(path), a->dir, KEY_FILE) != 0)
		return tg_error_set(err, TG_ETOOBIG, "data dir path too long");
	rc = key_load_private(path, &k, err);
	if (rc == 0)
		rc = key_raw_public(k, pub, err);
	if (rc == 0 && memcmp(pub, latest, 32) != 0)
		rc = tg_error_set(err, TG_EINVAL, "the signing key was rotated "
		    "but '%s' is not the new key", path);
	if (rc == 0 && key_id_of(pub, id) != 0)
		rc = tg_error_set(err, TG_ECRYPTO, "cannot hash the public "
		    "key");
	if (rc != 0) {
		EVP_PKEY_free(k);
		return rc;
	}
	EVP_PKEY_free(a->key);
	a->key = k;
	memcpy(a->pub, pub, 32);
	memcpy(a->key_id, id, sizeof(a->key_id));
	return 0;
}

static int
tx_begin(struct tg_audit *a, EVP_PKEY *const *keys, const uint8_t (*pubs)[32],
    size_t nkeys, struct audit_tx **out, struct tg_error *err)
{
	struct audit_tx *tx;
	int rc;

	*out = NULL;
	if (a->readonly || a->key == NULL)
		return tg_error_set(err, TG_EIO, "the audit log is open "
		    "read-only");
	tx = calloc(1, sizeof(*tx));
	if (tx == NULL)
		return tg_error_set(err, -ENOMEM, "out of memory");
	pthread_mutex_lock(&a->mu);
	if (a->broken[0] != '\0') {
		rc = tg_error_set(err, TG_EIO, "the audit log takes no more "
		    "writes after an I/O error (%s); restart tiergate to "
		    "recover", a->broken);
		pthread_mutex_unlock(&a->mu);
		free(tx);
		return rc;
	}
	tx->a = a;
	tx->keys = keys;
	tx->pubs = pubs;
	tx->nkeys = nkeys;
	rc = run_ctl(a, CTL_BEGIN, err);
	if (rc != 0) {
		pthread_mutex_unlock(&a->mu);
		free(tx);
		return rc;
	}
	/* `tiergate keygen` in another process may have rotated the key
	 * since this log was opened: sign with the key the chain now names,
	 * never with a retired one. */
	if (keys == &a->key && (rc = follow_rotation(a, err)) != 0) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_unlock(&a->mu);
		free(tx);
		return rc;
	}
	rc = 0;
	if (a->st_tget == NULL)
		rc = prepare(a, "SELECT hash FROM tree WHERE level = ? AND "
		    "idx = ?", &a->st_tget, err);
	if (rc == 0 && a->st_ins == NULL)
		rc = prepare(a, "INSERT INTO entries (seq, time, kind, "
		    "decision_id, request, payload, pack_sha256, body, "
		    "entry_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", &a->st_ins,
		    err);
	if (rc == 0 && a->st_tins == NULL)
		rc = prepare(a, "INSERT INTO tree (level, idx, hash) VALUES "
		    "(?, ?, ?)", &a->st_tins, err);
	if (rc == 0 && a->st_rins == NULL)
		rc = prepare(a, "INSERT INTO reservations (seq, decision_id, "
		    "quota, key, period, amount) VALUES (?, ?, ?, ?, ?, ?)",
		    &a->st_rins, err);
	if (rc == 0 && a->st_used == NULL)
		rc = prepare(a, "SELECT coalesce(sum(amount), 0) FROM "
		    "reservations WHERE quota = ? AND key = ? AND period = ? "
		    "AND void_seq IS NULL", &a->st_used, err);
	tx->t.a = a;
	tx->t.get = a->st_tget;
	tx->t.in_tx = true;
	if (a->tcache == NULL)
		a->tcache = calloc(1, sizeof(*a->tcache));	/* or none */
	tx->ins = a->st_ins;
	tx->tins = a->st_tins;
	tx->rins = a->st_rins;
	tx->used = a->st_used;
	if (rc == 0)
		rc = last_entry(a, &tx->seq, tx->prev, err);
	if (rc != 0) {
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		tx_free(tx);
		return rc;
	}
	time_now(tx->now);
	*out = tx;
	return 0;
}

int
audit_tx_begin(struct tg_audit *a, struct audit_tx **out,
    struct tg_error *err)
{
	return tx_begin(a, &a->key, (const uint8_t (*)[32])a->pub, 1, out,
	    err);
}

void
audit_tx_abort(struct audit_tx *tx)
{
	if (tx == NULL)
		return;
	sqlite3_exec(tx->a->db, "ROLLBACK", NULL, NULL, NULL);
	tcache_settle(tx->a->tcache, false);
	tx_free(tx);
}

struct tg_audit *
audit_tx_log(struct audit_tx *tx)
{
	return tx->a;
}

int
audit_tx_used(struct audit_tx *tx, const char *quota, const char *key,
    const char *period, double *out)
{
	int rc;

	*out = 0;
	sqlite3_reset(tx->used);
	sqlite3_bind_text(tx->used, 1, quota, -1, SQLITE_STATIC);
	sqlite3_bind_text(tx->used, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(tx->used, 3, period, -1, SQLITE_STATIC);
	rc = sqlite3_step(tx->used);
	if (rc != SQLITE_ROW)
		return TG_EIO;
	*out = sqlite3_column_double(tx->used, 0);
	sqlite3_reset(tx->used);
	return 0;
}

int
audit_tx_append(struct audit_tx *tx, const struct audit_in *in,
    const struct audit_reserve *res, size_t nres, uint64_t *seq_out,
    struct tg_error *err)
{
	struct tg_audit *a = tx->a;
	struct audit_receipt *r;
	char body[1024];
	unsigned char eh[32];
	merkle_hash leaf;
	int blen, rc;

	if (!kind_ok(in->kind) || (in->pack_sha256 != NULL &&
	    !hex64_ok(in->pack_sha256)))
		return tg_error_set(err, TG_EINVAL, "bad audit entry kind or "
		    "pack hash");
	if (tx->nr == tx->capr) {
		size_t cap = tx->capr ? tx->capr * 2 : 8;
		struct audit_receipt *v = realloc(tx->r, cap * sizeof(*v));

		if (v == NULL)
			return tg_error_set(err, -ENOMEM, "out of memory");
		tx->r = v;
		tx->capr = cap;
	}
	r = &tx->r[tx->nr];
	memset(r, 0, sizeof(*r));
	r->seq = tx->seq + 1;
	snprintf(r->kind, sizeof(r->kind), "%s", in->kind);
	snprintf(r->time, sizeof(r->time), "%s", tx->now);
	snprintf(r->prev, sizeof(r->prev), "%s", tx->prev);
	snprintf(r->pack_sha256, sizeof(r->pack_sha256), "%s",
	    in->pack_sha256 ? in->pack_sha256 : "");
	if (sha256_hex(in->request, in->request_len, r->request_sha256) != 0 ||
	    sha256_hex(in->payload, in->payload_len, r->payload_sha256) != 0)
		return tg_error_set(err, TG_ECRYPTO, "SHA-256 failed");
	blen = audit_entry_text(r->kind, r->pack_sha256, r->payload_sha256,
	    r->prev, r->request_sha256, r->seq, r->time, body, sizeof(body));
	if (blen < 0 || merkle_sha256(body, (size_t)blen, eh) != 0 ||
	    merkle_leaf_hash(body, (size_t)blen, leaf) != 0)
		return tg_error_set(err, TG_ECRYPTO, "cannot hash the entry");
	hex_encode(eh, 32, r->entry_hash);
	/* Savepoint: a failed entry leaves the group as it was. */
	rc = run_ctl(a, CTL_SAVEPOINT, err);
	if (rc != 0)
		return rc;
	sqlite3_reset(tx->ins);
	sqlite3_bind_int64(tx->ins, 1, (sqlite3_int64)r->seq);
	sqlite3_bind_text(tx->ins, 2, r->time, -1, SQLITE_STATIC);
	sqlite3_bind_text(tx->ins, 3, r->kind, -1, SQLITE_STATIC);
	if (in->decision_id != NULL)
		sqlite3_bind_text(tx->ins, 4, in->decision_id, -1,
		    SQLITE_STATIC);
	else
		sqlite3_bind_null(tx->ins, 4);
	sqlite3_bind_text(tx->ins, 5, in->request, (int)in->request_len,
	    SQLITE_STATIC);
	sqlite3_bind_text(tx->ins, 6, in->payload, (int)in->payload_len,
	    SQLITE_STATIC);
	sqlite3_bind_text(tx->ins, 7, r->pack_sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(tx->ins, 8, body, blen, SQLITE_STATIC);
	sqlite3_bind_blob(tx->ins, 9, eh, 32, SQLITE_STATIC);
	rc = sqlite3_step(tx->ins);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		rc = tg_error_set(err, TG_EINVAL, "decision id '%s' is already "
		    "in the audit log", in->decision_id ? in->decision_id : "");
		goto fail;
	}
	if (rc != SQLITE_DONE) {
		rc = write_error(a, err, rc, "audit log");
		goto fail;
	}
	if (tree_add(&tx->t, tx->tins, r->seq - 1, leaf) != 0) {
		rc = write_error(a, err, sqlite3_errcode(a->db),
		    "audit tree");
		goto fail;
	}
	for (size_t i = 0; i < nres; i++) {
		sqlite3_reset(tx->rins);
		sqlite3_bind_int64(tx->rins, 1, (sqlite3_int64)r->seq);
		if (in->decision_id != NULL)
			sqlite3_bind_text(tx->rins, 2, in->decision_id, -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_null(tx->rins, 2);
		sqlite3_bind_text(tx->rins, 3, res[i].quota, -1,
		    SQLITE_STATIC);
		sqlite3_bind_text(tx->rins, 4, res[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_text(tx->rins, 5, res[i].period, -1,
		    SQLITE_STATIC);
		sqlite3_bind_double(tx->rins, 6, res[i].amount);
		rc = sqlite3_step(tx->rins);
		if (rc != SQLITE_DONE) {
			rc = write_error(a, err, rc, "ledger");
			goto fail;
		}
	}
	rc = run_ctl(a, CTL_RELEASE, err);
	if (rc != 0)
		goto fail;
	tx->seq = r->seq;
	snprintf(tx->prev, sizeof(tx->prev), "%s", r->entry_hash);
	tx->nr++;
	if (seq_out != NULL)
		*seq_out = r->seq;
	return 0;
fail:
	sqlite3_exec(a->db, "ROLLBACK TO entry; RELEASE entry", NULL, NULL,
	    NULL);
	/* The entry's nodes are gone, and the cache cannot tell them from
	 * the group's earlier ones: forget them all (a later miss reads
	 * SQLite, which still has the earlier ones). */
	tcache_settle(a->tcache, false);
	return rc;
}

int
audit_tx_exec(struct audit_tx *tx, const char *sql, const char *const *text,
    size_t ntext, const int64_t *ints, size_t nints, int *changes,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc, k = 1;

	rc = prepare(tx->a, sql, &st, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < ntext; i++, k++) {
		if (text[i] != NULL)
			sqlite3_bind_text(st, k, text[i], -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, k);
	}
	for (size_t i = 0; i < nints; i++, k++)
		sqlite3_bind_int64(st, k, (sqlite3_int64)ints[i]);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return tg_error_set(err, TG_EINVAL, "already exists");
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return write_error(tx->a, err, rc, "ledger");
	if (changes != NULL)
		*changes = sqlite3_changes(tx->a->db);
	return 0;
}

int
audit_tx_commit(struct audit_tx *tx, struct audit_receipt *out, size_t n,
    struct tg_error *err)
{
	struct tg_audit *a = tx->a;
	char note[NOTE_MAX], sig[sizeof(tx->r[0].signature)] = "";
	int rc;

	if (n != tx->nr) {
		size_t have = tx->nr;

		audit_tx_abort(tx);
		return tg_error_set(err, TG_EINTERNAL, "commit expects %zu "
		    "receipts, the group has %zu entries", n, have);
	}
	if (tx->nr == 0) {
		rc = exec(a, "COMMIT", err);
		if (rc != 0)
			sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
		tcache_settle(a->tcache, rc == 0);
		tx_free(tx);
		return rc;
	}
	rc = checkpoint_write(a, &tx->t, tx->seq, tx->keys, tx->pubs,
	    tx->nkeys, note, sizeof(note), err);
	/* The receipts are built inside the transaction, from the tree it
	 * is about to commit: the pages are hot and no second read lock is
	 * taken.  They are handed out only if the commit succeeds. */
	for (size_t i = 0; rc == 0 && i < tx->nr; i++)
		rc = fill_proof(a, &tx->t, &tx->r[i], tx->seq, note, sig, err);
	/* No statement may be active at COMMIT, or SQLite cannot checkpoint
	 * the WAL, which then grows for as long as writes go on. */
	tx_reset_statements(tx);
	if (rc == 0)
		rc = run_ctl(a, CTL_COMMIT, err);
	if (rc != 0) {
		audit_tx_abort(tx);
		return rc;
	}
	tcache_settle(a->tcache, true);
	memcpy(out, tx->r, tx->nr * sizeof(*out));
	tx->nr = 0;	/* ownership of the checkpoints moved */
	tx_free(tx);
	return 0;
}

int
audit_append(struct tg_audit *a, const struct audit_in *in, size_t n,
    struct audit_receipt *out, struct tg_error *err)
{
	struct audit_tx *tx;
	int rc;

	if (n == 0)
		return 0;
	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = audit_tx_append(tx, &in[i], NULL, 0, NULL, err);
		if (rc != 0) {
			audit_tx_abort(tx);
			return rc;
		}
	}
	return audit_tx_commit(tx, out, n, err);
}

/* ---- reading -------------------------------------------------------------- */

int
audit_size(struct tg_audit *a, uint64_t *n, struct tg_error *err)
{
	char prev[65];
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = last_entry(a, n, prev, err);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_checkpoint(struct tg_audit *a, char **note, uint64_t *size,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc;

	*note = NULL;
	*size = 0;
	pthread_mutex_lock(&a->mu);
	rc = prepare(a, "SELECT size, note FROM checkpoints ORDER BY size DESC "
	    "LIMIT 1", &st, err);
	if (rc == 0) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			*size = (uint64_t)sqlite3_column_int64(st, 0);
			*note = strdup((const char *)sqlite3_column_text(st,
			    1));
			if (*note == NULL)
				rc = tg_error_set(err, -ENOMEM, "out of memory");
		}
		sqlite3_finalize(st);
	}
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s == NULL ? NULL : strdup((const char *)s);
}

static int
read_entry(struct tg_audit *a, const char *sql, uint64_t seq,
    const char *id, struct audit_entry *e, struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = prepare(a, sql, &st, err);
	if (rc != 0)
		return rc;
	if (id != NULL)
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 1, (sqlite3_int64)seq);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		e->seq = (uint64_t)sqlite3_column_int64(st, 0);
		snprintf(e->time, sizeof(e->time), "%s",
		    (const char *)sqlite3_column_text(st, 1));
		snprintf(e->kind, sizeof(e->kind), "%s",
		    (const char *)sqlite3_column_text(st, 2));
		e->decision_id = col_dup(st, 3);
		e->request = col_dup(st, 4);
		e->payload = col_dup(st, 5);
		e->body = col_dup(st, 6);
		if (sqlite3_column_bytes(st, 7) == 32)
			hex_encode(sqlite3_column_blob(st, 7), 32,
			    e->entry_hash);
		rc = e->request && e->payload && e->body ? 0 :
		    tg_error_set(err, -ENOMEM, "out of memory");
		if (rc != 0)
			audit_entry_release(e);
	} else if (rc == SQLITE_DONE)
		rc = tg_error_set(err, TG_ENOTFOUND, "no such entry");
	else
		rc = store_sqlite_error(err, a->db, rc, "audit log");
	sqlite3_finalize(st);
	return rc;
}

#define ENTRY_COLS "SELECT seq, time, kind, decision_id, request, payload, " \
	"body, entry_hash FROM entries "

int
audit_get(struct tg_audit *a, uint64_t seq, struct audit_entry *out,
    struct tg_error *err)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = read_entry(a, ENTRY_COLS "WHERE seq = ?", seq, NULL, out, err);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_find_decision(struct tg_audit *a, const char *decision_id,
    struct audit_entry *out, struct tg_error *err)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = read_entry(a, ENTRY_COLS "WHERE decision_id = ? AND kind = "
	    "'decision'", 0, decision_id, out, err);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_receipt_for(struct tg_audit *a, uint64_t seq, struct audit_receipt *r,
    struct tg_error *err)
{
	struct audit_entry e;
	struct tree_ctx t = { 0 };
	sqlite3_stmt *st = NULL;
	uint64_t size = 0;
	char *note = NULL, sig[sizeof(r->signature)] = "";
	int rc;

	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&a->mu);
	rc = read_entry(a, ENTRY_COLS "WHERE seq = ?", seq, NULL, &e, err);
	if (rc != 0)
		goto out;
	rc = prepare(a, "SELECT size, note FROM checkpoints ORDER BY size DESC "
	    "LIMIT 1", &st, err);
	if (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		size = (uint64_t)sqlite3_column_int64(st, 0);
		note = col_dup(st, 1);
	}
	if (rc == 0 && (note == NULL || size < seq))
		rc = tg_error_set(err, TG_EIO, "no checkpoint covers entry %"
		    PRIu64, seq);
	if (rc == 0)
		rc = tree_open(a, &t, err);
	if (rc == 0) {
		/* The other receipt fields are read back from the body the
		 * entry was hashed as. */
		r->seq = seq;
		snprintf(r->kind, sizeof(r->kind), "%s", e.kind);
		snprintf(r->time, sizeof(r->time), "%s", e.time);
		snprintf(r->entry_hash, sizeof(r->entry_hash), "%s",
		    e.entry_hash);
		if (sscanf(e.body, "{\"kind\":\"%*[a-z_]\",\"pack_sha256\":"
		    "\"%64[0-9a-f]\",", r->pack_sha256) != 1)
			r->pack_sha256[0] = '\0';
		{
			const char *p;

			p = strstr(e.body, "\"payload_sha256\":\"");
			if (p != NULL)
				snprintf(r->payload_sha256, 65, "%.64s",
				    p + 18);
			p = strstr(e.body, "\"prev\":\"");
			if (p != NULL)
				snprintf(r->prev, 65, "%.64s", p + 8);
			p = strstr(e.body, "\"request_sha256\":\"");
			if (p != NULL)
				snprintf(r->request_sha256, 65, "%.64s",
				    p + 18);
		}
		rc = fill_proof(a, &t, r, size, note, sig, err);
	}
out:
	sqlite3_finalize(st);
	sqlite3_finalize(t.get);
	pthread_mutex_unlock(&a->mu);
	audit_entry_release(&e);
	free(note);
	return rc;
}

int
audit_consistency_proof(struct tg_audit *a, uint64_t m, uint64_t n,
    merkle_hash *proof, size_t *len, struct tg_error *err)
{
	struct tree_ctx t = { 0 };
	uint64_t size;
	char prev[65];
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = last_entry(a, &size, prev, err);
	if (rc == 0 && (m == 0 || m > n || n > size))
		rc = tg_error_set(err, TG_EINVAL, "no consistency proof from "
		    "%" PRIu64 " to %" PRIu64 " in a log of %" PRIu64, m, n,
		    size);
	if (rc == 0)
		rc = tree_open(a, &t, err);
	if (rc == 0 && merkle_consistency_proof(tree_get, &t, m, n, proof,
	    len) != 0)
		rc = tg_error_set(err, TG_EIO, "cannot build the proof");
	sqlite3_finalize(t.get);
	pthread_mutex_unlock(&a->mu);
	return rc;
}

/* ---- keys ------------------------------------------------------------------- */

int
audit_keygen(const char *data_dir, char key_id[65], struct tg_error *err)
{
	struct tg_audit *a = NULL;
	EVP_PKEY *nk = NULL, *keys[2];
	uint8_t pubs[2][32];
	char newid[65], path[4096];
	char payload[512], pubhex[65];
	struct audit_receipt r;
	struct audit_in in;
	sqlite3_stmt *st = NULL;
	uint64_t size;
	int rc, n;

	rc = audit_open(data_dir, AUDIT_CREATE, &a, err);
	if (rc != 0)
		return rc;
	rc = audit_size(a, &size, err);
	if (rc != 0)
		goto out;
	if (size == 0) {
		/* A fresh log: its first key was just made. */
		snprintf(key_id, 65, "%s", a->key_id);
		goto out;
	}
	rc = key_generate(&nk, err);
	if (rc == 0)
		rc = key_raw_public(nk, pubs[1], err);
	if (rc == 0 && key_id_of(pubs[1], newid) != 0)
		rc = tg_error_set(err, TG_ECRYPTO, "cannot hash the new key");
	if (rc != 0)
		goto out;
	if (path_join(path, sizeof(path), a->dir, KEY_FILE) != 0) {
		rc = tg_error_set(err, TG_ETOOBIG, "data dir path too long");
		goto out;
	}
	/* The new key goes to disk first, so a crash after the commit can
	 * be finished at the next open (finish_rotation). */
	rc = key_write_pair(a->dir, KEY_FILE ".new", PUB_FILE ".new", nk, err);
	if (rc != 0)
		goto out;
	hex_encode(pubs[1], 32, pubhex);
	n = snprintf(payload, sizeof(payload), "{\"new_key_id\":\"%s\","
	    "\"new_public_key\":\"%s\",\"previous_key_id\":\"%s\"}", newid,
	    pubhex, a->key_id);
	if (n < 0 || (size_t)n >= sizeof(payload)) {
		rc = tg_error_set(err, TG_ETOOBIG, "payload too long");
		goto out;
	}
	memset(&in, 0, sizeof(in));
	in.kind = "key_rotation";
	in.request = "null";
	in.request_len = 4;
	in.payload = payload;
	in.payload_len = (size_t)n;
	memcpy(pubs[0], a->pub, 32);
	keys[0] = a->key;
	keys[1] = nk;
	/* The rotation entry's checkpoint is signed by both keys, and the
	 * new key is in the key table from that entry on; both in one
	 * transaction. */
	{
		struct audit_tx *tx;
		uint64_t rseq = 0;

		rc = tx_begin(a, keys, (const uint8_t (*)[32])pubs, 2, &tx,
		    err);
		if (rc == 0)
			rc = audit_tx_append(tx, &in, NULL, 0, &rseq, err);
		if (rc == 0) {
			rc = prepare(a, "INSERT INTO keys (key_id, public_key, "
			    "first_seq, created) VALUES (?, ?, ?, ?)", &st,
			    err);
			if (rc == 0) {
				sqlite3_bind_text(st, 1, newid, -1,
				    SQLITE_STATIC);
				sqlite3_bind_blob(st, 2, pubs[1], 32,
				    SQLITE_STATIC);
				sqlite3_bind_int64(st, 3, (sqlite3_int64)rseq);
				sqlite3_bind_text(st, 4, tx->now, -1,
				    SQLITE_STATIC);
				if (sqlite3_step(st) != SQLITE_DONE)
					rc = store_sqlite_error(err, a->db, 0,
					    "keys");
			}
		}
		if (rc == 0)
			rc = audit_tx_commit(tx, &r, 1, err);
		else if (tx != NULL)
			audit_tx_abort(tx);
		if (rc == 0)
			audit_receipt_release(&r);
	}
	if (rc != 0)
		goto out;
	/* Under the write lock, like a daemon that notices the rotation. */
	pthread_mutex_lock(&a->mu);
	rc = exec(a, "BEGIN IMMEDIATE", err);
	if (rc == 0) {
		rc = install_rotated_key(a->dir, pubs[1], err);
		sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
	}
	pthread_mutex_unlock(&a->mu);
	if (rc != 0)
		goto out;
	snprintf(key_id, 65, "%s", newid);
out:
	sqlite3_finalize(st);
	EVP_PKEY_free(nk);
	audit_close(a);
	return rc;
}
