/*
 * verify.c: `tiergate audit verify` and the offline receipt check.
 *
 * Verification trusts nothing the database says about itself: every
 * request and payload is hashed again, every canonical entry rebuilt from
 * its fields, the chain followed, the whole tree recomputed from the leaves
 * and compared with every stored subtree and every signed checkpoint, and
 * the key chain checked from a trusted key.  The first damage is named by
 * entry and kind: modified, missing, reordered, inserted, bad signature,
 * truncated.  A signature is the only thing an administrator with write
 * access cannot forge, so every other check is localised against it.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "tiergate/util.h"

const char *
audit_damage_name(enum audit_damage d)
{
	switch (d) {
	case AUDIT_OK: return "ok";
	case AUDIT_MODIFIED: return "modified";
	case AUDIT_MISSING: return "missing";
	case AUDIT_REORDERED: return "reordered";
	case AUDIT_INSERTED: return "inserted";
	case AUDIT_BAD_SIGNATURE: return "bad signature";
	case AUDIT_TRUNCATED: return "truncated";
	case AUDIT_UNKNOWN_KEY: return "unknown key";
	default: return "?";
	}
}

struct vkey {
	char id[65];
	uint8_t pub[32];
	uint64_t first_seq;
	bool announced;		/* a rotation entry at first_seq names it */
	bool cosigned;		/* the checkpoint of size first_seq has both */
};

struct fields {
	char kind[AUDIT_KIND_MAX], pack[65], payload[65], prev[65];
	char request[65], time[AUDIT_TIME_LEN + 1];
	uint64_t seq;
};

/* Copies the string value after `"key":"` into out (at most max chars). */
static bool
body_str(const char *body, const char *key, char *out, size_t max)
{
	char pat[40];
	const char *p, *q;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(body, pat);
	if (p == NULL)
		return false;
	p += strlen(pat);
	q = strchr(p, '"');
	if (q == NULL || (size_t)(q - p) > max)
		return false;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return true;
}

static bool
parse_body(const char *body, struct fields *f)
{
	const char *p;
	long long v;
	char num[24];
	size_t n;

	memset(f, 0, sizeof(*f));
	if (!body_str(body, "kind", f->kind, sizeof(f->kind) - 1) ||
	    !body_str(body, "pack_sha256", f->pack, 64) ||
	    !body_str(body, "payload_sha256", f->payload, 64) ||
	    !body_str(body, "prev", f->prev, 64) ||
	    !body_str(body, "request_sha256", f->request, 64) ||
	    !body_str(body, "time", f->time, AUDIT_TIME_LEN))
		return false;
	p = strstr(body, "\"seq\":");
	if (p == NULL)
		return false;
	p += 6;
	for (n = 0; n + 1 < sizeof(num) && p[n] >= '0' && p[n] <= '9'; n++)
		num[n] = p[n];
	num[n] = '\0';
	if (n == 0 || parse_llong(num, &v) != 0 || v < 1)
		return false;
	f->seq = (uint64_t)v;
	return true;
}

static int
sha_hex(const void *p, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned int dl = 0;

	(void)dl;
	if (merkle_sha256(p, n, d) != 0)
		return TG_ECRYPTO;
	hex_encode(d, 32, out);
	return 0;
}

/* An incrementally built tree: the compact range of the leaves so far. */
struct crange {
	merkle_hash h[MERKLE_PROOF_MAX];
	unsigned level[MERKLE_PROOF_MAX];
	size_t n;
	uint64_t leaves;
};

struct vstate {
	struct tg_audit *a;
	struct audit_report *rep;
	sqlite3_stmt *node;	/* stored subtree lookup */
	struct crange cr;
	struct vkey *keys;
	size_t nkeys;
	bool damaged;
};

static void
damage(struct vstate *v, enum audit_damage d, uint64_t seq, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static void
damage(struct vstate *v, enum audit_damage d, uint64_t seq, const char *fmt,
    ...)
{
	va_list ap;

	if (v->damaged)
		return;
	v->damaged = true;
	v->rep->damage = d;
	v->rep->seq = seq;
	va_start(ap, fmt);
	vsnprintf(v->rep->detail, sizeof(v->rep->detail), fmt, ap);
	va_end(ap);
}

/* Looks up a stored subtree; false when absent. */
static bool
stored_node(struct vstate *v, unsigned level, uint64_t idx, merkle_hash out)
{
	bool ok = false;

	sqlite3_reset(v->node);
	sqlite3_bind_int64(v->node, 1, (sqlite3_int64)level);
	sqlite3_bind_int64(v->node, 2, (sqlite3_int64)idx);
	if (sqlite3_step(v->node) == SQLITE_ROW &&
	    sqlite3_column_bytes(v->node, 0) == MERKLE_HASH) {
		memcpy(out, sqlite3_column_blob(v->node, 0), MERKLE_HASH);
		ok = true;
	}
	return ok;
}

/* Adds a leaf; checks every subtree it completes against the stored one. */
static int
cr_push(struct vstate *v, const merkle_hash leaf, uint64_t seq)
{
	struct crange *c = &v->cr;
	merkle_hash st;
	uint64_t idx = c->leaves;
	unsigned level = 0;

	memcpy(c->h[c->n], leaf, MERKLE_HASH);
	c->level[c->n++] = 0;
	for (;;) {
		/* Leaves were compared by check_entry already. */
		if (level > 0 && (!stored_node(v, level, idx, st) ||
		    memcmp(st, c->h[c->n - 1], MERKLE_HASH) != 0)) {
			if (level == 0)
				damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64
				    ": its content no longer matches the leaf "
				    "hash recorded when it was written", seq);
			else
				damage(v, AUDIT_MODIFIED, seq, "the stored "
				    "tree node (level %u, index %" PRIu64 ") "
				    "was altered", level, idx);
		}
		if (c->n < 2 || c->level[c->n - 2] != c->level[c->n - 1])
			break;
		if (merkle_node_hash(c->h[c->n - 2], c->h[c->n - 1],
		    c->h[c->n - 2]) != 0)
			return TG_ECRYPTO;
		c->level[c->n - 2]++;
		c->n--;
		level++;
		idx >>= 1;
	}
	c->leaves++;
	return 0;
}

static int
cr_root(const struct crange *c, merkle_hash out)
{
	merkle_hash h;

	if (c->n == 0) {
		merkle_empty_root(out);
		return 0;
	}
	memcpy(h, c->h[c->n - 1], MERKLE_HASH);
	for (size_t i = c->n - 1; i-- > 0;)
		if (merkle_node_hash(c->h[i], h, h) != 0)
			return TG_ECRYPTO;
	memcpy(out, h, MERKLE_HASH);
	return 0;
}

/* The keys that must have signed the checkpoint of tree size n. */
static void
signers(const struct vstate *v, uint64_t n, const struct vkey **k1,
    const struct vkey **k2)
{
	*k1 = *k2 = NULL;
	for (size_t i = 0; i < v->nkeys; i++) {
		if (v->keys[i].first_seq <= n) {
			*k1 = &v->keys[i];
			*k2 = v->keys[i].first_seq == n && i > 0 ?
			    &v->keys[i - 1] : NULL;
		}
	}
}

static void
check_checkpoint(struct vstate *v, uint64_t size, const uint8_t *root_col,
    int root_len, const char *note)
{
	const struct vkey *k1, *k2;
	char origin[128];
	merkle_hash root, nroot;
	uint64_t nsize;
	bool ok1 = false, ok2 = true;

	v->rep->checkpoints++;
	if (cr_root(&v->cr, root) != 0)
		return;
	signers(v, size, &k1, &k2);
	if (k1 == NULL) {
		damage(v, AUDIT_UNKNOWN_KEY, size, "checkpoint %" PRIu64 ": no "
		    "key of the chain covers it", size);
		return;
	}
	if (note_parse(note, v->a->origin, k1->pub, origin, sizeof(origin),
	    &nsize, nroot, &ok1, NULL, 0) != 0 ||
	    strcmp(origin, v->a->origin) != 0 || nsize != size) {
		damage(v, AUDIT_MODIFIED, size, "checkpoint %" PRIu64 " is "
		    "malformed or names another log or size", size);
		return;
	}
	if (k2 != NULL)
		(void)note_parse(note, v->a->origin, k2->pub, origin,
		    sizeof(origin), &nsize, nroot, &ok2, NULL, 0);
	if (!ok1 || !ok2) {
		damage(v, AUDIT_BAD_SIGNATURE, size, "checkpoint %" PRIu64
		    ": bad or missing signature by key %.16s%s", size,
		    (!ok1 ? k1 : k2)->id, k2 != NULL ? " (key rotation: both "
		    "keys must sign)" : "");
		return;
	}
	if (k2 != NULL)
		((struct vkey *)(uintptr_t)k1)->cosigned = true;
	if (memcmp(nroot, root, MERKLE_HASH) != 0) {
		damage(v, AUDIT_MODIFIED, size, "entries up to %" PRIu64 " do "
		    "not match the signed checkpoint of that size: an entry "
		    "was rewritten together with the chain after it", size);
		return;
	}
	if (root_len != MERKLE_HASH || memcmp(root_col, root,
	    MERKLE_HASH) != 0)
		damage(v, AUDIT_MODIFIED, size, "checkpoint %" PRIu64 ": the "
		    "stored root column was altered", size);
}

static int
load_keys(struct vstate *v, const uint8_t *trusted, struct tg_error *err)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	rc = sqlite3_prepare_v2(v->a->db, "SELECT key_id, public_key, "
	    "first_seq FROM keys ORDER BY first_seq", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_sqlite_error(err, v->a->db, rc, "keys");
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct vkey *k;

		if (v->nkeys == cap) {
			cap = cap ? cap * 2 : 4;
			k = realloc(v->keys, cap * sizeof(*k));
			if (k == NULL) {
				sqlite3_finalize(st);
				return tg_error_set(err, -ENOMEM, "out of "
				    "memory");
			}
			v->keys = k;
		}
		k = &v->keys[v->nkeys++];
		memset(k, 0, sizeof(*k));
		if (sqlite3_column_bytes(st, 1) == 32)
			memcpy(k->pub, sqlite3_column_blob(st, 1), 32);
		if (key_id_of(k->pub, k->id) != 0) {
			/* Could not check, which is not damage. */
			sqlite3_finalize(st);
			return tg_error_set(err, TG_ECRYPTO, "cannot hash key "
			    "%zu of the chain", v->nkeys);
		}
		k->first_seq = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	v->rep->keys = v->nkeys;
	if (v->nkeys == 0) {
		damage(v, AUDIT_UNKNOWN_KEY, 0, "the log has no keys");
		return 0;
	}
	if (v->keys[0].first_seq != 1)
		damage(v, AUDIT_UNKNOWN_KEY, 0, "the first key does not start "
		    "at entry 1");
	if (trusted != NULL) {
		bool found = false;

		/* Any key of the chain may be the anchor: the chain itself
		 * is proven by the rotation entries and cosigned
		 * checkpoints. */
		for (size_t i = 0; i < v->nkeys; i++)
			if (memcmp(v->keys[i].pub, trusted, 32) == 0)
				found = true;
		if (!found)
			damage(v, AUDIT_UNKNOWN_KEY, 0, "the trusted key is not "
			    "in this log's key chain");
	}
	return 0;
}

/* A key rotation entry must announce exactly the next key of the chain. */
static void
check_rotation(struct vstate *v, uint64_t seq, const char *payload)
{
	char newid[65], pubhex[65], previd[65];
	uint8_t pub[32];

	for (size_t i = 1; i < v->nkeys; i++) {
		if (v->keys[i].first_seq != seq)
			continue;
		if (!body_str(payload, "new_key_id", newid, 64) ||
		    !body_str(payload, "new_public_key", pubhex, 64) ||
		    !body_str(payload, "previous_key_id", previd, 64) ||
		    hex_decode(pubhex, pub, 32) != 0 ||
		    memcmp(pub, v->keys[i].pub, 32) != 0 ||
		    strcmp(newid, v->keys[i].id) != 0 ||
		    strcmp(previd, v->keys[i - 1].id) != 0)
			damage(v, AUDIT_UNKNOWN_KEY, seq, "entry %" PRIu64
			    ": the key rotation does not match the key chain",
			    seq);
		else
			v->keys[i].announced = true;
		return;
	}
	damage(v, AUDIT_UNKNOWN_KEY, seq, "entry %" PRIu64 ": a key rotation "
	    "the key chain does not know", seq);
}

/* The position the entry after seq claims (0 when none or unreadable):
 * an entry pushed down by an insertion still claims its old place. */
static uint64_t
next_claims(struct vstate *v, uint64_t seq)
{
	sqlite3_stmt *st;
	struct fields f;
	uint64_t claims = 0;

	if (sqlite3_prepare_v2(v->a->db, "SELECT body FROM entries WHERE "
	    "seq = ?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(seq + 1));
	if (sqlite3_step(st) == SQLITE_ROW &&
	    parse_body((const char *)sqlite3_column_text(st, 0), &f))
		claims = f.seq;
	sqlite3_finalize(st);
	return claims;
}

static bool
inserted_here(struct vstate *v, uint64_t seq)
{
	if (next_claims(v, seq) != seq)
		return false;
	damage(v, AUDIT_INSERTED, seq, "entry %" PRIu64 " was inserted: the "
	    "entry after it holds the original entry %" PRIu64, seq, seq);
	return true;
}

/* Classifies an entry whose body claims another position. */
static void
misplaced(struct vstate *v, uint64_t seq, uint64_t claims)
{
	sqlite3_stmt *st;
	struct fields f;
	bool swapped = false;

	if (sqlite3_prepare_v2(v->a->db, "SELECT body FROM entries WHERE "
	    "seq = ?", -1, &st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, (sqlite3_int64)claims);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    parse_body((const char *)sqlite3_column_text(st, 0), &f) &&
		    f.seq == seq)
			swapped = true;
		sqlite3_finalize(st);
	}
	if (swapped)
		damage(v, AUDIT_REORDERED, seq, "entry %" PRIu64 " holds entry "
		    "%" PRIu64 " and entry %" PRIu64 " holds entry %" PRIu64
		    ": reordered", seq, claims, claims, seq);
	else if (claims < seq && inserted_here(v, seq))
		;	/* a copy of an earlier entry was inserted here */
	else if (claims < seq)
		damage(v, AUDIT_INSERTED, seq - 1, "entry %" PRIu64 " holds "
		    "entry %" PRIu64 ": an entry was inserted before it",
		    seq, claims);
	else
		damage(v, AUDIT_MISSING, seq, "entry %" PRIu64 " holds entry "
		    "%" PRIu64 ": entries %" PRIu64 "..%" PRIu64 " were removed",
		    seq, claims, seq, claims - 1);
}

/* A decision entry names its decision id in a column (for lookups) and
 * in the hashed decision; the column must not drift from it. */
static bool
decision_id_ok(const char *kind, const char *id, const char *payload)
{
	char pat[160];

	/* Decisions and the voids that name them carry the id in the
	 * hashed payload; other records have none. */
	if (strcmp(kind, "decision") != 0 && strcmp(kind, "void") != 0 &&
	    strcmp(kind, "hold_resolution") != 0)
		return id == NULL;
	if (id == NULL || strlen(id) > 100)
		return false;
	snprintf(pat, sizeof(pat), "\"decision_id\":\"%s\"", id);
	return strstr(payload, pat) != NULL;
}

static void
check_entry(struct vstate *v, sqlite3_stmt *st, uint64_t expect,
    char prev[65])
{
	uint64_t seq = (uint64_t)sqlite3_column_int64(st, 0);
	const char *time = (const char *)sqlite3_column_text(st, 1);
	const char *kind = (const char *)sqlite3_column_text(st, 2);
	const char *id = (const char *)sqlite3_column_text(st, 3);
	const char *req = (const char *)sqlite3_column_text(st, 4);
	const char *pay = (const char *)sqlite3_column_text(st, 5);
	const char *pack = (const char *)sqlite3_column_text(st, 6);
	const char *body = (const char *)sqlite3_column_text(st, 7);
	int reqlen = sqlite3_column_bytes(st, 4);
	int paylen = sqlite3_column_bytes(st, 5);
	int bodylen = sqlite3_column_bytes(st, 7);
	struct fields f;
	char h[65], stored[65], rebuilt[1024];
	merkle_hash leaf, sleaf;
	bool genuine;
	int blen;

	if (seq != expect) {
		damage(v, AUDIT_MISSING, expect, "entry %" PRIu64 " is missing "
		    "(the next stored entry is %" PRIu64 ")", expect, seq);
		return;
	}
	if (time == NULL || kind == NULL || req == NULL || pay == NULL ||
	    pack == NULL || body == NULL || !parse_body(body, &f)) {
		if (!inserted_here(v, seq))
			damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the "
			    "entry is malformed", seq);
		return;
	}
	/*
	 * Is the body one tiergate wrote?  Its hash must be the stored one
	 * and its leaf the one the tree recorded for the place it claims.
	 * Rows moved whole keep both; a rewritten body keeps neither.
	 */
	if (sha_hex(body, (size_t)bodylen, h) != 0 ||
	    merkle_leaf_hash(body, (size_t)bodylen, leaf) != 0)
		return;
	if (sqlite3_column_bytes(st, 8) == 32)
		hex_encode(sqlite3_column_blob(st, 8), 32, stored);
	else
		stored[0] = '\0';
	genuine = strcmp(stored, h) == 0 &&
	    stored_node(v, 0, f.seq - 1, sleaf) &&
	    memcmp(sleaf, leaf, MERKLE_HASH) == 0;
	if (f.seq != seq) {
		if (genuine)
			misplaced(v, seq, f.seq);
		else if (!inserted_here(v, seq))
			damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the "
			    "entry was rewritten", seq);
		return;
	}
	if (!genuine) {
		if (inserted_here(v, seq))
			return;
		if (strcmp(stored, h) != 0)
			damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the "
			    "entry or its stored hash was altered", seq);
		else
			damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": its "
			    "content no longer matches the leaf recorded when "
			    "it was written", seq);
		return;
	}
	/* A genuine body: now the parts it commits to. */
	if (sha_hex(req, (size_t)reqlen, h) != 0 ||
	    strcmp(h, f.request) != 0) {
		damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the request "
		    "does not match its hash", seq);
		return;
	}
	if (sha_hex(pay, (size_t)paylen, h) != 0 ||
	    strcmp(h, f.payload) != 0) {
		damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the %s "
		    "does not match its hash", seq, strcmp(kind, "decision") ==
		    0 ? "decision" : "record");
		return;
	}
	if (!decision_id_ok(kind, id, pay)) {
		/* A verbatim copy needs a new id to get past the unique
		 * index: the copy of an entry that sits right after it. */
		if (!inserted_here(v, seq))
			damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the "
			    "decision id column does not match the logged "
			    "decision", seq);
		return;
	}
	if (strcmp(kind, f.kind) != 0 || strcmp(time, f.time) != 0 ||
	    strcmp(pack, f.pack) != 0) {
		damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": its kind, "
		    "time or rule pack differ from what was hashed", seq);
		return;
	}
	blen = audit_entry_text(f.kind, f.pack, f.payload, f.prev, f.request,
	    f.seq, f.time, rebuilt, sizeof(rebuilt));
	if (blen < 0 || strcmp(rebuilt, body) != 0) {
		damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": the entry "
		    "is not in canonical form", seq);
		return;
	}
	/* Entry seq - 1 passed every check of its own, so a broken link
	 * is this entry's record of it. */
	if (strcmp(f.prev, prev) != 0) {
		damage(v, AUDIT_MODIFIED, seq, "entry %" PRIu64 ": its record "
		    "of entry %" PRIu64 "'s hash was altered", seq, seq - 1);
		return;
	}
	if (strcmp(f.kind, "key_rotation") == 0)
		check_rotation(v, seq, pay);
	snprintf(prev, 65, "%s", stored);	/* == SHA-256(body), checked */
	(void)cr_push(v, leaf, seq);
}

/*
 * The data dir's signing.pub, the anchor when no key is given.  Absent,
 * there is none (the caller says so).  Present, it must be a key: a file
 * that is not one (emptied, overwritten, a directory, a dangling link, or
 * a FIFO, where reading would wait forever) must not quietly turn the
 * anchor off, or whoever rewrote the key table and re-signed the log
 * could spoil signing.pub instead of deleting it and still pass.  Returns
 * 1 with pub set, 0 when absent, -1 when unusable (why says why).
 */
static int
dir_pubkey(const char *dir, uint8_t pub[32], char *why, size_t whysz)
{
	char path[4096];
	struct stat st;
	struct tg_error e;

	snprintf(path, sizeof(path), "%s/%s", dir, PUB_FILE);
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, whysz, "%s", strerror(errno));
		return -1;
	}
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whysz, "not a regular file");
		return -1;
	}
	tg_error_clear(&e);
	if (audit_read_pubkey(path, pub, &e) != 0) {
		snprintf(why, whysz, "not a PEM Ed25519 public key");
		return -1;
	}
	return 1;
}

/* SQLite found the file itself damaged (a page that is no b-tree page, a
 * file cut short, a header overwritten). */
static bool
db_corrupt(sqlite3 *db)
{
	int base = sqlite3_errcode(db) & 0xff;

	return base == SQLITE_CORRUPT || base == SQLITE_NOTADB;
}

/*
 * The number of complete subtrees of a tree of n leaves: every row the
 * tree table holds for a log of n entries.  Rows beyond them are no part
 * of any root the log signed, and the next append would collide with
 * them (the writer inserts; a stray node makes every commit fail).
 */
static uint64_t
tree_rows(uint64_t n)
{
	uint64_t rows = 0;

	for (; n > 0; n >>= 1)
		rows += n;
	return rows;
}

int
audit_verify(struct tg_audit *a, const uint8_t *trusted_pub,
    const char *saved_note, struct audit_report *rep, struct tg_error *err)
{
	struct vstate v;
	sqlite3_stmt *ent = NULL, *cps = NULL;
	uint64_t expect = 1, next_cp = 0, saved_size = 0, nentries = 0;
	uint64_t last_cp = 0;
	merkle_hash saved_root, root;
	const struct vkey *saved_key = NULL;
	uint8_t file_pub[32];
	char prev[65], prev_time[AUDIT_TIME_LEN + 1] = "";
	bool have_cp = false, saved_done = false;
	int rc;

	memset(rep, 0, sizeof(*rep));
	memset(&v, 0, sizeof(v));
	v.a = a;
	v.rep = rep;
	memset(prev, '0', 64);
	prev[64] = '\0';
	pthread_mutex_lock(&a->mu);
	if (trusted_pub == NULL) {
		/* Without an explicit anchor, the data dir's public key file
		 * anchors the chain: a key table rewritten (and the log
		 * re-signed) by whoever can write the database no longer
		 * contains it. */
		char why[128];

		switch (dir_pubkey(a->dir, file_pub, why, sizeof(why))) {
		case 1:
			trusted_pub = file_pub;
			rep->anchor = AUDIT_ANCHOR_FILE;
			break;
		case -1:
			rep->anchor = AUDIT_ANCHOR_FILE;
			damage(&v, AUDIT_UNKNOWN_KEY, 0, "the data dir's "
			    "signing.pub is %s: restore it, or pass --key",
			    why);
			break;
		default:
			break;
		}
	} else
		rep->anchor = AUDIT_ANCHOR_GIVEN;
	rc = load_keys(&v, trusted_pub, err);
	if (rc != 0)
		goto out;
	if (saved_note != NULL) {
		char origin[128];
		bool ok = false;

		for (size_t i = 0; i < v.nkeys && !ok; i++) {
			if (note_parse(saved_note, a->origin, v.keys[i].pub,
			    origin, sizeof(origin), &saved_size, saved_root,
			    &ok, NULL, 0) != 0)
				break;
			if (ok)
				saved_key = &v.keys[i];
		}
		if (saved_key == NULL) {
			/* Evidence against the log (or the wrong file):
			 * damage, not a usage error. */
			damage(&v, AUDIT_UNKNOWN_KEY, 0, "the saved checkpoint "
			    "is malformed, from another log, or not signed by "
			    "a key of this log");
			saved_note = NULL;
		}
	}
	if (sqlite3_prepare_v2(a->db, "SELECT hash FROM tree WHERE level = ? "
	    "AND idx = ?", -1, &v.node, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->db, "SELECT seq, time, kind, decision_id, "
	    "request, payload, pack_sha256, body, entry_hash FROM entries "
	    "ORDER BY seq", -1, &ent, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(a->db, "SELECT size, root, note FROM "
	    "checkpoints ORDER BY size", -1, &cps, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, a->db, sqlite3_errcode(a->db),
		    "audit log");
		goto out;
	}
	have_cp = sqlite3_step(cps) == SQLITE_ROW;
	if (have_cp)
		next_cp = (uint64_t)sqlite3_column_int64(cps, 0);
	while (!v.damaged) {
		rc = sqlite3_step(ent);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW && db_corrupt(a->db)) {
			/* A damaged file is damage to the log, from the
			 * first entry that could not be read on. */
			damage(&v, AUDIT_MODIFIED, expect, "entry %" PRIu64
			    " and after: the database file is damaged (%s)",
			    expect, sqlite3_errmsg(a->db));
			break;
		}
		if (rc != SQLITE_ROW) {
			rc = store_sqlite_error(err, a->db, rc, "audit log");
			goto out;
		}
		check_entry(&v, ent, expect, prev);
		if (v.damaged)
			break;
		/*
		 * Every commit ends with a checkpoint of its size, and the
		 * entries of one commit share its time (audit_tx_begin).  So
		 * an entry whose time differs from the one before it starts
		 * a commit, and the one before it ended one: its checkpoint
		 * must be there.  (The time is the hashed one: check_entry
		 * compared the column with it.)  Two commits in the same
		 * microsecond would only hide a deletion, never invent one.
		 * Entries after the last checkpoint are left to the check
		 * for entries no checkpoint covers, below.
		 */
		if (expect > 1 && have_cp && last_cp != expect - 1 &&
		    strcmp(prev_time, (const char *)sqlite3_column_text(ent,
		    1)) != 0) {
			damage(&v, AUDIT_MISSING, expect - 1, "checkpoint %"
			    PRIu64 " is missing: entry %" PRIu64 " ends a "
			    "commit, and every commit is signed", expect - 1,
			    expect - 1);
			break;
		}
		snprintf(prev_time, sizeof(prev_time), "%s",
		    (const char *)sqlite3_column_text(ent, 1));
		nentries = expect;
		rep->entries = expect;
		/* Checkpoints must name sizes that exist, in order. */
		while (have_cp && next_cp <= expect && !v.damaged) {
			if (next_cp == expect) {
				check_checkpoint(&v, next_cp,
				    sqlite3_column_blob(cps, 1),
				    sqlite3_column_bytes(cps, 1),
				    (const char *)sqlite3_column_text(cps, 2));
				last_cp = next_cp;
			} else
				damage(&v, AUDIT_MODIFIED, next_cp, "checkpoint "
				    "%" PRIu64 " is out of order", next_cp);
			have_cp = sqlite3_step(cps) == SQLITE_ROW;
			if (have_cp)
				next_cp = (uint64_t)sqlite3_column_int64(cps,
				    0);
		}
		if (saved_note != NULL && !saved_done &&
		    saved_size == expect) {
			saved_done = true;
			if (cr_root(&v.cr, root) != 0 ||
			    memcmp(root, saved_root, MERKLE_HASH) != 0)
				damage(&v, AUDIT_MODIFIED, expect, "the log "
				    "does not extend the saved checkpoint of "
				    "size %" PRIu64 ": entries up to it were "
				    "rewritten", saved_size);
		}
		expect++;
	}
	rc = 0;
	if (!v.damaged && have_cp)
		damage(&v, AUDIT_TRUNCATED, nentries + 1, "the log has %" PRIu64
		    " entries but a signed checkpoint covers %" PRIu64
		    ": entries were removed from the end", nentries, next_cp);
	if (!v.damaged && saved_note != NULL && !saved_done &&
	    saved_size > nentries)
		damage(&v, AUDIT_TRUNCATED, nentries + 1, "the log has %" PRIu64
		    " entries but the saved checkpoint covers %" PRIu64
		    ": the log was truncated", nentries, saved_size);
	if (!v.damaged && nentries > 0) {
		/* Every group commit ends with a checkpoint of its size, so
		 * an entry beyond the last one was not written by tiergate. */
		sqlite3_stmt *last;
		uint64_t lastcp = 0;

		if (sqlite3_prepare_v2(a->db, "SELECT max(size) FROM "
		    "checkpoints", -1, &last, NULL) == SQLITE_OK) {
			if (sqlite3_step(last) == SQLITE_ROW)
				lastcp = (uint64_t)sqlite3_column_int64(last,
				    0);
			sqlite3_finalize(last);
		}
		if (lastcp < nentries)
			damage(&v, AUDIT_INSERTED, lastcp + 1, "entries %"
			    PRIu64 "..%" PRIu64 " are not covered by any "
			    "signed checkpoint", lastcp + 1, nentries);
	}
	if (!v.damaged) {
		sqlite3_stmt *cnt;
		uint64_t rows = 0;

		if (sqlite3_prepare_v2(a->db, "SELECT count(*) FROM tree", -1,
		    &cnt, NULL) == SQLITE_OK) {
			if (sqlite3_step(cnt) == SQLITE_ROW)
				rows = (uint64_t)sqlite3_column_int64(cnt, 0);
			sqlite3_finalize(cnt);
			/* Every node inside the log was compared above. */
			if (rows > tree_rows(nentries))
				damage(&v, AUDIT_INSERTED, nentries + 1, "the "
				    "tree table holds %" PRIu64 " nodes that no "
				    "entry of the log makes", rows -
				    tree_rows(nentries));
		}
	}
	/* Every key after the first must have been introduced by a rotation
	 * entry whose own checkpoint both keys signed; a key that merely
	 * appears in the table signs nothing. */
	for (size_t i = 1; !v.damaged && i < v.nkeys; i++) {
		if (v.keys[i].first_seq > nentries)
			damage(&v, AUDIT_UNKNOWN_KEY, v.keys[i].first_seq, "key "
			    "%.16s starts after the end of the log",
			    v.keys[i].id);
		else if (!v.keys[i].announced || !v.keys[i].cosigned)
			damage(&v, AUDIT_UNKNOWN_KEY, v.keys[i].first_seq,
			    "entry %" PRIu64 ": key %.16s signs from here but "
			    "was not introduced by a rotation co-signed by the "
			    "previous key", v.keys[i].first_seq, v.keys[i].id);
	}
	if (cr_root(&v.cr, root) == 0)
		hex_encode(root, MERKLE_HASH, rep->root);
out:
	sqlite3_finalize(ent);
	sqlite3_finalize(cps);
	sqlite3_finalize(v.node);
	pthread_mutex_unlock(&a->mu);
	free(v.keys);
	return rc;
}

int
audit_check_file(struct tg_audit *a, bool *ok, char *detail, size_t size,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	const char *msg;
	int rc;

	*ok = false;
	detail[0] = '\0';
	pthread_mutex_lock(&a->mu);
	rc = sqlite3_prepare_v2(a->db, "PRAGMA integrity_check(1)", -1, &st,
	    NULL);
	if (rc != SQLITE_OK) {
		rc = store_sqlite_error(err, a->db, rc, "integrity check");
		goto out;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		static const char prefix[] = "*** in database main ***";

		msg = (const char *)sqlite3_column_text(st, 0);
		*ok = msg != NULL && strcmp(msg, "ok") == 0;
		/* One line: without SQLite's heading, its line breaks as
		 * spaces. */
		if (msg != NULL && strncmp(msg, prefix, sizeof(prefix) - 1) ==
		    0)
			msg += sizeof(prefix) - 1 + strspn(msg +
			    sizeof(prefix) - 1, " \n");
		snprintf(detail, size, "%s", msg != NULL ? msg : "?");
		for (char *p = detail; *p != '\0'; p++)
			if (*p == '\n')
				*p = ' ';
		rc = 0;
	} else
		rc = store_sqlite_error(err, a->db, rc, "integrity check");
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_receipt_verify(const struct audit_receipt *r, const char *payload_sha256,
    const uint8_t pub[32], struct tg_error *err)
{
	char body[1024], origin[128], sig[128];
	merkle_hash leaf, root;
	uint64_t size;
	bool ok = false;
	int blen;

	if (r->checkpoint == NULL)
		return tg_error_set(err, TG_EINVAL, "the receipt has no "
		    "checkpoint");
	/* The key name is the checkpoint's origin line. */
	if (note_parse(r->checkpoint, "", pub, origin, sizeof(origin), &size,
	    root, &ok, NULL, 0) != 0 ||
	    note_parse(r->checkpoint, origin, pub, origin, sizeof(origin),
	    &size, root, &ok, sig, sizeof(sig)) != 0)
		return tg_error_set(err, TG_EINVAL, "the receipt's checkpoint "
		    "is malformed");
	if (!ok)
		return tg_error_set(err, TG_EINVAL, "the receipt's checkpoint "
		    "is not signed by this key");
	if (size != r->tree_size || r->seq == 0 ||
	    r->leaf_index != r->seq - 1)
		return tg_error_set(err, TG_EINVAL, "the receipt's sizes do not "
		    "match its checkpoint");
	{
		char kid[65];

		if (key_id_of(pub, kid) != 0)
			return tg_error_set(err, TG_ECRYPTO, "cannot hash the "
			    "key");
		if (strcmp(kid, r->key_id) != 0)
			return tg_error_set(err, TG_EINVAL, "the receipt names "
			    "key %.16s, not this key (%.16s)", r->key_id, kid);
	}
	/* The signature field is a copy of the checkpoint's signature by
	 * the key: a receipt whose copy differs was altered, even if the
	 * proof rests on the checkpoint alone. */
	if (strcmp(sig, r->signature) != 0)
		return tg_error_set(err, TG_EINVAL, "the receipt's signature "
		    "is not its checkpoint's");
	blen = audit_entry_text(r->kind, r->pack_sha256, payload_sha256,
	    r->prev, r->request_sha256, r->seq, r->time, body, sizeof(body));
	if (blen < 0 || merkle_leaf_hash(body, (size_t)blen, leaf) != 0)
		return tg_error_set(err, TG_EINVAL, "cannot rebuild the entry");
	{
		char eh[65];
		uint8_t d[32];

		if (merkle_sha256(body, (size_t)blen, d) != 0)
			return tg_error_set(err, TG_ECRYPTO, "SHA-256 failed");
		hex_encode(d, 32, eh);
		if (strcmp(eh, r->entry_hash) != 0)
			return tg_error_set(err, TG_EINVAL, "the receipt's "
			    "entry_hash does not match the decision");
	}
	if (merkle_verify_inclusion(r->leaf_index, size, leaf,
	    (const merkle_hash *)r->proof, r->nproof, root) != 0)
		return tg_error_set(err, TG_EINVAL, "the decision is not the "
		    "one the log holds at entry %" PRIu64 " (inclusion proof "
		    "fails)", r->seq);
	return 0;
}

int
audit_note_check(struct tg_audit *a, const char *note, uint64_t *size,
    merkle_hash root, struct tg_error *err)
{
	struct vstate v;
	struct audit_report rep;
	char origin[128];
	bool ok = false;
	int rc;

	memset(&v, 0, sizeof(v));
	memset(&rep, 0, sizeof(rep));
	v.a = a;
	v.rep = &rep;
	pthread_mutex_lock(&a->mu);
	rc = load_keys(&v, NULL, err);
	pthread_mutex_unlock(&a->mu);
	for (size_t i = 0; rc == 0 && i < v.nkeys && !ok; i++) {
		if (note_parse(note, a->origin, v.keys[i].pub, origin,
		    sizeof(origin), size, root, &ok, NULL, 0) != 0) {
			rc = tg_error_set(err, TG_EINVAL, "malformed "
			    "checkpoint");
			break;
		}
	}
	free(v.keys);
	if (rc == 0 && (!ok || strcmp(origin, a->origin) != 0))
		rc = tg_error_set(err, TG_EINVAL, "the checkpoint is not signed "
		    "by a key of this log");
	return rc;
}
