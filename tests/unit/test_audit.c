/*
 * test_audit.c: the audit log store (daemon/store, audit.h) through its
 * API, on a fresh data dir per test.
 *
 *  - audit_open creates the data dir 0700, signing.key 0600 and
 *    signing.pub, and refuses a signing key group or others may read,
 *    saying so with the mode;
 *  - a first use or a key rotation killed between writing the key files
 *    is finished at the next open: signing.pub is the key that signs;
 *  - audit_append of a group gives consecutive seqs under one signed
 *    checkpoint, and receipts that audit_receipt_verify accepts for the
 *    SHA-256 of the very payload bytes appended (and no other);
 *  - a duplicate decision id fails the whole group with TG_EINVAL and
 *    appends nothing;
 *  - consistency proofs between every pair of checkpoint sizes verify with
 *    merkle_verify_consistency against the roots of the signed checkpoints;
 *  - audit_verify passes a clean log (with the key, a saved checkpoint, or
 *    read-only);
 *  - an append that cannot take the write lock (another connection holds
 *    BEGIN IMMEDIATE past the 5 s busy timeout) fails with TG_EIO saying
 *    "busy" and reserves no seq.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "tiergate/audit.h"
#include "tiergate/error.h"
#include "tiergate/merkle.h"
#include "tiergate/util.h"

#include "testdir.h"

#define CPROOF(p) ((const merkle_hash *)(p))

#define PACK_SHA \
	"46dfa1b1a852fd3e45da009a7e051f30c898811ded0fe9e666a02e8322beb703"

struct fixture {
	char base[1024];	/* mkdtemp */
	char dir[1100];		/* base/data: the data dir, not yet there */
	char path[PATH_MAX];	/* scratch */
};

static int
setup(void **state)
{
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	if (test_tmpdir(f->base, sizeof(f->base), "test_audit") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/data", f->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_rm_tree(f->base, 1);
	free(f);
	return 0;
}

static const char *
in_dir(struct fixture *f, const char *name)
{
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	return f->path;
}

static struct tg_audit *
open_log(struct fixture *f, unsigned flags)
{
	struct tg_audit *a = NULL;
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = audit_open(f->dir, flags, &a, &err);
	if (rc != 0)
		print_error("audit_open: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(a);
	return a;
}

static void
read_pub(struct fixture *f, uint8_t pub[32])
{
	struct tg_error err;

	tg_error_clear(&err);
	assert_int_equal(audit_read_pubkey(in_dir(f, "signing.pub"), pub,
	    &err), 0);
}

/* Rows of a table, read with a connection of our own. */
static long
count_rows(struct fixture *f, const char *table)
{
	char sql[128];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	long n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	assert_int_equal(sqlite3_open_v2(in_dir(f, "tiergate.db"), &db,
	    SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = (long)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return n;
}

static void
sha256_hex(const char *p, size_t n, char out[65])
{
	unsigned char d[32];
	unsigned int dl = 0;

	assert_int_equal(EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL), 1);
	assert_int_equal(dl, 32);
	hex_encode(d, 32, out);
}

/* A group of decisions: ids "<tag>-<i>", small canonical JSON texts. */
#define GROUP_MAX 8

struct group {
	struct audit_in in[GROUP_MAX];
	struct audit_receipt r[GROUP_MAX];
	char id[GROUP_MAX][32];
	char req[GROUP_MAX][96];
	char pay[GROUP_MAX][160];
	size_t n;
};

static void
group_make(struct group *g, const char *tag, size_t first, size_t n)
{
	memset(g, 0, sizeof(*g));
	assert_true(n <= GROUP_MAX);
	g->n = n;
	for (size_t i = 0; i < n; i++) {
		snprintf(g->id[i], sizeof(g->id[i]), "%s-%zu", tag, first + i);
		snprintf(g->req[i], sizeof(g->req[i]), "{\"destination\":"
		    "\"DE\",\"reference\":\"%s\"}", g->id[i]);
		snprintf(g->pay[i], sizeof(g->pay[i]), "{\"decision_id\":"
		    "\"%s\",\"outcome\":\"%s\"}", g->id[i], i % 2 ?
		    "license_required" : "authorized");
		g->in[i].kind = "decision";
		g->in[i].decision_id = g->id[i];
		g->in[i].request = g->req[i];
		g->in[i].request_len = strlen(g->req[i]);
		g->in[i].payload = g->pay[i];
		g->in[i].payload_len = strlen(g->pay[i]);
		g->in[i].pack_sha256 = PACK_SHA;
	}
}

static void
group_release(struct group *g)
{
	for (size_t i = 0; i < g->n; i++)
		audit_receipt_release(&g->r[i]);
}

/* Appends g, which must succeed. */
static void
append_ok(struct tg_audit *a, struct group *g)
{
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = audit_append(a, g->in, g->n, g->r, &err);
	if (rc != 0)
		print_error("audit_append: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

static uint64_t
log_size(struct tg_audit *a)
{
	struct tg_error err;
	uint64_t n = UINT64_MAX;

	assert_int_equal(audit_size(a, &n, &err), 0);
	return n;
}

static void
verify_ok(struct tg_audit *a, const uint8_t *pub, const char *saved,
    uint64_t entries)
{
	struct audit_report rep;
	struct tg_error err;

	tg_error_clear(&err);
	assert_int_equal(audit_verify(a, pub, saved, &rep, &err), 0);
	if (rep.damage != AUDIT_OK)
		print_error("audit_verify: entry %" PRIu64 ": %s: %s\n",
		    rep.seq, audit_damage_name(rep.damage), rep.detail);
	assert_int_equal(rep.damage, AUDIT_OK);
	assert_int_equal(rep.entries, entries);
}

/* ---- audit_open ------------------------------------------------------ */

static void
test_open_creates(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a;
	struct stat st;
	char want[80];
	const char *id;

	a = open_log(f, AUDIT_CREATE);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(in_dir(f, "signing.key"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(in_dir(f, "signing.pub"), &st), 0);
	assert_int_equal(stat(in_dir(f, "tiergate.db"), &st), 0);
	assert_int_equal(st.st_mode & 077, 0);

	/* Key id: SHA-256 of the public key, hex; origin from it. */
	id = audit_key_id(a);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strspn(id, "0123456789abcdef"), 64);
	snprintf(want, sizeof(want), "tiergate/%.16s", id);
	assert_string_equal(audit_origin(a), want);
	assert_int_equal(log_size(a), 0);
	snprintf(want, sizeof(want), "%s", id);
	audit_close(a);

	/* Reopening keeps the key. */
	a = open_log(f, AUDIT_CREATE);
	assert_string_equal(audit_key_id(a), want);
	audit_close(a);
}

static void
test_open_refuses_readable_key(void **state)
{
	static const mode_t modes[] = { 0644, 0640, 0604 };
	struct fixture *f = *state;
	struct tg_audit *a;
	struct tg_error err;
	char octal[8];

	a = open_log(f, AUDIT_CREATE);
	audit_close(a);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		assert_int_equal(chmod(in_dir(f, "signing.key"), modes[i]), 0);
		a = NULL;
		tg_error_clear(&err);
		assert_int_equal(audit_open(f->dir, AUDIT_CREATE, &a, &err),
		    TG_EINVAL);
		assert_null(a);
		snprintf(octal, sizeof(octal), "%03o", (unsigned)modes[i]);
		if (strstr(err.msg, "mode") == NULL ||
		    strstr(err.msg, octal) == NULL)
			print_error("message: %s\n", err.msg);
		assert_non_null(strstr(err.msg, "mode"));
		assert_non_null(strstr(err.msg, octal));
		assert_non_null(strstr(err.msg, "signing.key"));
	}
	/* Mode 0600 again: accepted. */
	assert_int_equal(chmod(in_dir(f, "signing.key"), 0600), 0);
	a = open_log(f, AUDIT_CREATE);
	audit_close(a);
}

/* SQL on the data dir's database, with a connection of our own. */
static void
db_exec(struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(in_dir(f, "tiergate.db"), &db,
	    SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* The key id of signing.pub. */
static void
pub_id(struct fixture *f, char id[65])
{
	uint8_t pub[32];

	read_pub(f, pub);
	sha256_hex((const char *)pub, sizeof(pub), id);
}

/*
 * A first use killed after it wrote signing.key but before it wrote
 * signing.pub and committed the key (what tests/crash/kill_loop.sh
 * found): the next open keeps that key and writes signing.pub as well.
 */
static void
test_open_after_killed_first_use(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a;
	struct group g;
	uint8_t pub[32];
	char id[65], got[65];
	FILE *fp;

	a = open_log(f, AUDIT_CREATE);
	snprintf(id, sizeof(id), "%s", audit_key_id(a));
	audit_close(a);
	/* What the kill leaves: the schema without a key, signing.key,
	 * and part of signing.pub.tmp. */
	db_exec(f, "DELETE FROM keys; DELETE FROM meta");
	assert_int_equal(unlink(in_dir(f, "signing.pub")), 0);
	fp = fopen(in_dir(f, "signing.pub.tmp"), "w");
	assert_non_null(fp);
	fputs("-----BEGIN PUB", fp);
	fclose(fp);

	a = open_log(f, AUDIT_CREATE);
	assert_string_equal(audit_key_id(a), id);
	pub_id(f, got);
	assert_string_equal(got, id);
	assert_int_equal(access(in_dir(f, "signing.pub.tmp"), F_OK), -1);
	group_make(&g, "k", 1, 2);
	append_ok(a, &g);
	group_release(&g);
	read_pub(f, pub);
	verify_ok(a, pub, NULL, 2);
	audit_close(a);
}

/*
 * A key rotation killed between its two renames (signing.key.new to
 * signing.key, signing.pub.new to signing.pub): the next open installs
 * the public key too, so that signing.pub is the key that signs.
 */
static void
test_open_after_killed_rotation(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a;
	struct tg_error err;
	struct group g;
	uint8_t pub[32];
	char old[65], newid[65], got[65];
	char cur[PATH_MAX], pnew[PATH_MAX], retired[PATH_MAX];

	a = open_log(f, AUDIT_CREATE);
	snprintf(old, sizeof(old), "%s", audit_key_id(a));
	group_make(&g, "r", 1, 2);
	append_ok(a, &g);
	group_release(&g);
	audit_close(a);
	tg_error_clear(&err);
	assert_int_equal(audit_keygen(f->dir, newid, &err), 0);
	assert_string_not_equal(newid, old);

	/* What the kill leaves: signing.key is the new key, signing.pub
	 * still the old one, signing.pub.new the new one. */
	snprintf(cur, sizeof(cur), "%s/signing.pub", f->dir);
	snprintf(pnew, sizeof(pnew), "%s/signing.pub.new", f->dir);
	snprintf(retired, sizeof(retired), "%s/signing-%.16s.pub", f->dir,
	    old);
	assert_int_equal(rename(cur, pnew), 0);
	assert_int_equal(link(retired, cur), 0);
	pub_id(f, got);
	assert_string_equal(got, old);

	a = open_log(f, AUDIT_CREATE);
	assert_string_equal(audit_key_id(a), newid);
	pub_id(f, got);
	assert_string_equal(got, newid);
	assert_int_equal(access(pnew, F_OK), -1);
	group_make(&g, "r", 3, 2);
	append_ok(a, &g);
	group_release(&g);
	read_pub(f, pub);
	verify_ok(a, pub, NULL, 5);
	audit_close(a);
}

/* ---- audit_append ------------------------------------------------------ */

static void
test_append_group(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a;
	struct tg_error err;
	struct audit_entry e;
	struct group g, g2;
	uint8_t pub[32];
	char sha[65], other[65];

	a = open_log(f, AUDIT_CREATE);
	read_pub(f, pub);
	group_make(&g, "d", 1, 5);
	append_ok(a, &g);
	assert_int_equal(log_size(a), 5);
	assert_int_equal(count_rows(f, "entries"), 5);
	assert_int_equal(count_rows(f, "checkpoints"), 1);
	sha256_hex("{}", 2, other);
	for (size_t i = 0; i < 5; i++) {
		struct audit_receipt *r = &g.r[i];

		assert_int_equal(r->seq, i + 1);
		assert_int_equal(r->leaf_index, i);
		assert_int_equal(r->tree_size, 5);
		assert_string_equal(r->kind, "decision");
		assert_string_equal(r->key_id, audit_key_id(a));
		assert_string_equal(r->pack_sha256, PACK_SHA);
		assert_non_null(r->checkpoint);
		/* One checkpoint for the group. */
		assert_string_equal(r->checkpoint, g.r[0].checkpoint);
		assert_string_equal(r->time, g.r[0].time);
		assert_true(r->signature[0] != '\0');
		if (i > 0)
			assert_string_equal(r->prev, g.r[i - 1].entry_hash);
		else
			assert_int_equal(strspn(r->prev, "0"), 64);
		sha256_hex(g.req[i], strlen(g.req[i]), sha);
		assert_string_equal(r->request_sha256, sha);
		sha256_hex(g.pay[i], strlen(g.pay[i]), sha);
		assert_string_equal(r->payload_sha256, sha);

		/* The receipt proves the payload bytes appended... */
		tg_error_clear(&err);
		if (audit_receipt_verify(r, sha, pub, &err) != 0)
			print_error("receipt %zu: %s\n", i, err.msg);
		assert_int_equal(audit_receipt_verify(r, sha, pub, &err), 0);
		/* ...and no others, and not another decision's. */
		assert_int_equal(audit_receipt_verify(r, other, pub, &err),
		    TG_EINVAL);
		assert_int_equal(audit_receipt_verify(&g.r[(i + 1) % 5],
		    sha, pub, &err), TG_EINVAL);

		/* The stored entry is the bytes appended. */
		assert_int_equal(audit_get(a, i + 1, &e, &err), 0);
		assert_string_equal(e.payload, g.pay[i]);
		assert_string_equal(e.request, g.req[i]);
		assert_string_equal(e.decision_id, g.id[i]);
		assert_string_equal(e.entry_hash, r->entry_hash);
		audit_entry_release(&e);
	}
	assert_int_equal(audit_find_decision(a, "d-3", &e, &err), 0);
	assert_int_equal(e.seq, 3);
	audit_entry_release(&e);
	assert_int_equal(audit_find_decision(a, "d-9", &e, &err),
	    TG_ENOTFOUND);

	/* The next group continues the sequence under a second checkpoint;
	 * the first group's receipts still verify (their own checkpoint). */
	group_make(&g2, "d", 6, 3);
	append_ok(a, &g2);
	assert_int_equal(count_rows(f, "checkpoints"), 2);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(g2.r[i].seq, 6 + i);
		assert_int_equal(g2.r[i].tree_size, 8);
		sha256_hex(g2.pay[i], strlen(g2.pay[i]), sha);
		assert_int_equal(audit_receipt_verify(&g2.r[i], sha, pub,
		    &err), 0);
	}
	assert_string_equal(g2.r[0].prev, g.r[4].entry_hash);
	sha256_hex(g.pay[0], strlen(g.pay[0]), sha);
	assert_int_equal(audit_receipt_verify(&g.r[0], sha, pub, &err), 0);
	verify_ok(a, pub, NULL, 8);
	group_release(&g);
	group_release(&g2);
	audit_close(a);
}

static void
test_append_duplicate_id(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a;
	struct tg_error err;
	struct group g, bad;
	int rc;

	a = open_log(f, AUDIT_CREATE);
	group_make(&g, "d", 1, 5);
	append_ok(a, &g);
	group_release(&g);

	/* A new id and one already logged: the whole group fails. */
	group_make(&bad, "d", 6, 2);
	bad.in[1].decision_id = "d-3";
	tg_error_clear(&err);
	rc = audit_append(a, bad.in, bad.n, bad.r, &err);
	assert_int_equal(rc, TG_EINVAL);
	assert_non_null(strstr(err.msg, "d-3"));
	assert_int_equal(log_size(a), 5);
	assert_int_equal(count_rows(f, "entries"), 5);
	assert_int_equal(count_rows(f, "checkpoints"), 1);
	assert_int_equal(count_rows(f, "tree"), 5 + 2 + 1);
	for (size_t i = 0; i < bad.n; i++)
		assert_null(bad.r[i].checkpoint);

	/* The same id twice within one group. */
	group_make(&bad, "x", 1, 3);
	bad.in[2].decision_id = "x-1";
	tg_error_clear(&err);
	assert_int_equal(audit_append(a, bad.in, bad.n, bad.r, &err),
	    TG_EINVAL);
	assert_int_equal(log_size(a), 5);
	assert_int_equal(count_rows(f, "checkpoints"), 1);

	/* Nothing was reserved: the next append is entry 6, and the log
	 * verifies. */
	group_make(&g, "d", 6, 1);
	append_ok(a, &g);
	assert_int_equal(g.r[0].seq, 6);
	group_release(&g);
	verify_ok(a, NULL, NULL, 6);
	audit_close(a);
}

/* ---- proofs and verification --------------------------------------------- */

static void
test_consistency(void **state)
{
	static const size_t groups[] = { 1, 2, 2, 3 };	/* sizes 1 3 5 8 */
	enum { NCP = sizeof(groups) / sizeof(groups[0]) };
	struct fixture *f = *state;
	struct tg_audit *a;
	struct tg_error err;
	struct group g;
	merkle_hash root[NCP], proof[MERKLE_PROOF_MAX];
	uint64_t size[NCP], s;
	uint8_t pub[32];
	char *note[NCP];
	size_t first = 1, len;

	a = open_log(f, AUDIT_CREATE);
	read_pub(f, pub);
	for (size_t k = 0; k < NCP; k++) {
		group_make(&g, "c", first, groups[k]);
		append_ok(a, &g);
		group_release(&g);
		first += groups[k];
		assert_int_equal(audit_checkpoint(a, &note[k], &s, &err), 0);
		assert_non_null(note[k]);
		assert_int_equal(s, first - 1);
		tg_error_clear(&err);
		assert_int_equal(audit_note_verify(note[k], pub, &size[k],
		    root[k], &err), 0);
		assert_int_equal(size[k], first - 1);
	}
	for (size_t i = 0; i < NCP; i++) {
		for (size_t j = i; j < NCP; j++) {
			len = SIZE_MAX;
			tg_error_clear(&err);
			assert_int_equal(audit_consistency_proof(a, size[i],
			    size[j], proof, &len, &err), 0);
			assert_true(len <= MERKLE_PROOF_MAX);
			assert_int_equal(merkle_verify_consistency(size[i],
			    size[j], root[i], root[j], CPROOF(proof), len), 0);
			if (i == j)
				continue;
			/* Not against another root, nor with a bad hash. */
			assert_int_equal(merkle_verify_consistency(size[i],
			    size[j], root[j], root[j], CPROOF(proof), len),
			    TG_EINVAL);
			if (len > 0) {
				proof[len - 1][0] ^= 1;
				assert_int_equal(merkle_verify_consistency(
				    size[i], size[j], root[i], root[j],
				    CPROOF(proof), len), TG_EINVAL);
			}
		}
	}
	/* No proof from 0, backwards, or beyond the log. */
	assert_int_equal(audit_consistency_proof(a, 0, 5, proof, &len, &err),
	    TG_EINVAL);
	assert_int_equal(audit_consistency_proof(a, 5, 3, proof, &len, &err),
	    TG_EINVAL);
	assert_int_equal(audit_consistency_proof(a, 5, 9, proof, &len, &err),
	    TG_EINVAL);

	/* The earlier checkpoints are extended by the log as it is now. */
	verify_ok(a, pub, note[1], 8);
	for (size_t k = 0; k < NCP; k++)
		free(note[k]);
	audit_close(a);
}

static void
test_verify_clean(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a, *ro;
	struct audit_report rep;
	struct tg_error err;
	struct group g;
	merkle_hash root;
	uint8_t pub[32];
	uint64_t size;
	char *note = NULL, hex[65];

	a = open_log(f, AUDIT_CREATE);
	read_pub(f, pub);
	/* An empty log verifies too. */
	verify_ok(a, NULL, NULL, 0);
	group_make(&g, "v", 1, 4);
	append_ok(a, &g);
	group_release(&g);
	group_make(&g, "v", 5, 3);
	append_ok(a, &g);
	group_release(&g);
	assert_int_equal(audit_checkpoint(a, &note, &size, &err), 0);
	assert_int_equal(audit_note_verify(note, pub, &size, root, &err), 0);

	tg_error_clear(&err);
	assert_int_equal(audit_verify(a, NULL, NULL, &rep, &err), 0);
	assert_int_equal(rep.damage, AUDIT_OK);
	assert_int_equal(rep.seq, 0);
	assert_int_equal(rep.entries, 7);
	assert_int_equal(rep.checkpoints, 2);
	assert_int_equal(rep.keys, 1);
	hex_encode(root, MERKLE_HASH, hex);
	assert_string_equal(rep.root, hex);
	verify_ok(a, pub, NULL, 7);
	verify_ok(a, pub, note, 7);

	/* A verifier needs no private key: read-only, alongside. */
	ro = open_log(f, AUDIT_READONLY);
	verify_ok(ro, pub, note, 7);
	audit_close(ro);
	free(note);
	audit_close(a);
}

/* ---- a failed append ----------------------------------------------------- */

static void
test_append_busy(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a;
	struct tg_error err;
	struct group g;
	sqlite3 *db = NULL;
	double t0, dt;
	int rc;

	a = open_log(f, AUDIT_CREATE);
	group_make(&g, "b", 1, 2);
	append_ok(a, &g);
	group_release(&g);

	/* Another writer holds the write lock past the busy timeout. */
	assert_int_equal(sqlite3_open_v2(in_dir(f, "tiergate.db"), &db,
	    SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	group_make(&g, "b", 3, 2);
	tg_error_clear(&err);
	t0 = (double)mono_ns() / 1e9;
	rc = audit_append(a, g.in, g.n, g.r, &err);
	dt = (double)mono_ns() / 1e9 - t0;
	assert_int_equal(rc, TG_EIO);
	if (strstr(err.msg, "busy") == NULL)
		print_error("message: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "busy"));
	assert_true(dt >= 4.0);
	assert_null(g.r[0].checkpoint);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);

	/* Nothing was reserved: the retry is entries 3 and 4. */
	assert_int_equal(log_size(a), 2);
	assert_int_equal(count_rows(f, "checkpoints"), 1);
	append_ok(a, &g);
	assert_int_equal(g.r[0].seq, 3);
	assert_int_equal(g.r[1].seq, 4);
	group_release(&g);
	verify_ok(a, NULL, NULL, 4);
	audit_close(a);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_open_creates),
		T(test_open_refuses_readable_key),
		T(test_open_after_killed_first_use),
		T(test_open_after_killed_rotation),
		T(test_append_group),
		T(test_append_duplicate_id),
		T(test_consistency),
		T(test_verify_clean),
		T(test_append_busy),
	};
#undef T

	log_init("test_audit", LOG_LVL_WARN);
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
