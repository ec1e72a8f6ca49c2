/*
 * test_merkle.c: daemon/store/merkle.c (merkle.h) against the
 * transparency-dev/merkle test vectors and against itself.
 *
 * The vectors live outside the repository, in
 * $TIERGATE_SHARED/testdata/merkle/testdata (TIERGATE_SHARED defaults to
 * "../shared", relative to the repository root where the tests run).
 * They are read in place, every file of inclusion/ and consistency/, and
 * a missing directory fails the test: a verifier that is never fed the
 * vectors must not look tested.  The file count is asserted too, so an
 * emptied directory cannot pass vacuously.
 *
 * The vectors exercise verification; generation is checked by building
 * trees of 1..70 leaves and verifying every proof the generator makes,
 * corrupted and not, and by comparing the generated proofs with the
 * vectors' happy paths, which use RFC 6962's reference tree of 8 leaves.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "tiergate/error.h"
#include "tiergate/merkle.h"

/*
 * merkle.h takes proofs as const merkle_hash *.  Before C2X, ISO C does
 * not convert merkle_hash * to it implicitly (-Wpedantic: "pointers to
 * arrays with different qualifiers"), so every caller must cast.
 */
#define CPROOF(p) ((const merkle_hash *)(p))

/* ---- an in-memory tree for the generator --------------------------- */

#define GEN_LEAVES 70

struct memtree {
	merkle_hash leaf[GEN_LEAVES];
	uint64_t n;		/* leaves the callback may see */
	unsigned calls;
	unsigned fail_at;	/* the call that fails (1-based); 0: none */
};

/* Straightforward recursion over the leaves. */
static int
mem_hash(const struct memtree *t, unsigned level, uint64_t index,
    merkle_hash out)
{
	merkle_hash l, r;
	int rc;

	if (level == 0) {
		memcpy(out, t->leaf[index], MERKLE_HASH);
		return 0;
	}
	rc = mem_hash(t, level - 1, 2 * index, l);
	if (rc != 0)
		return rc;
	rc = mem_hash(t, level - 1, 2 * index + 1, r);
	if (rc != 0)
		return rc;
	return merkle_node_hash(l, r, out);
}

static int
mem_subtree(void *ctx, unsigned level, uint64_t index, merkle_hash out)
{
	struct memtree *t = ctx;

	t->calls++;
	if (t->fail_at != 0 && t->calls == t->fail_at)
		return TG_EIO;
	/*
	 * The generator must ask only for complete subtrees of the current
	 * tree; anything else is its bug, so it is reported, not answered.
	 */
	if (level >= 64 || index >= (t->n >> level))
		return TG_ENOTFOUND;
	return mem_hash(t, level, index, out);
}

static void
memtree_fill(struct memtree *t, unsigned nleaves)
{
	char data[32];
	unsigned i;
	int len;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < nleaves; i++) {
		len = snprintf(data, sizeof(data), "leaf-%u", i);
		assert_true(len > 0 && (size_t)len < sizeof(data));
		assert_int_equal(merkle_leaf_hash(data, (size_t)len,
		    t->leaf[i]), 0);
	}
}

/* ---- RFC 6962's reference tree (8 leaves) --------------------------- */

static const struct {
	const char *hex;
} ct_leaves[8] = {
	{ "" }, { "00" }, { "10" }, { "2021" }, { "3031" }, { "40414243" },
	{ "5051525354555657" }, { "606162636465666768696a6b6c6d6e6f" },
};

/* MTH of its first n leaves, n = 1..8 (also what the vectors use). */
static const char *ct_roots[9] = {
	NULL,
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static size_t
hex_decode(const char *hex, uint8_t *out, size_t cap)
{
	size_t i, n = strlen(hex) / 2;
	int hi, lo;

	assert_true(strlen(hex) % 2 == 0 && n <= cap);
	for (i = 0; i < n; i++) {
		hi = nibble(hex[2 * i]);
		lo = nibble(hex[2 * i + 1]);
		assert_true(hi >= 0 && lo >= 0);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return n;
}

static struct memtree ct_tree;
static merkle_hash ct_root[9];

static int
setup_ct(void **state)
{
	uint8_t data[16];
	size_t len, i;

	(void)state;
	memset(&ct_tree, 0, sizeof(ct_tree));
	for (i = 0; i < 8; i++) {
		len = hex_decode(ct_leaves[i].hex, data, sizeof(data));
		if (merkle_leaf_hash(data, len, ct_tree.leaf[i]) != 0)
			return -1;
	}
	for (i = 1; i <= 8; i++) {
		if (hex_decode(ct_roots[i], ct_root[i], MERKLE_HASH) !=
		    MERKLE_HASH)
			return -1;
	}
	return 0;
}

/* ---- a naive reference MTH, independent of merkle.c ----------------- */

static void
ref_sha256(uint8_t prefix, const void *a, size_t alen, const void *b,
    size_t blen, merkle_hash out)
{
	uint8_t buf[1 + 2 * MERKLE_HASH];
	unsigned int outlen = 0;

	assert_true(alen + blen <= 2 * MERKLE_HASH);
	buf[0] = prefix;
	if (alen != 0)
		memcpy(buf + 1, a, alen);
	if (blen != 0)
		memcpy(buf + 1 + alen, b, blen);
	assert_int_equal(EVP_Digest(buf, 1 + alen + blen, out, &outlen,
	    EVP_sha256(), NULL), 1);
	assert_int_equal(outlen, MERKLE_HASH);
}

/* MTH(D[start : start + n]) over the "leaf-%u" data, by RFC 6962 2.1. */
static void
ref_mth(unsigned start, unsigned n, merkle_hash out)
{
	merkle_hash l, r;
	char data[32];
	unsigned k;
	int len;

	if (n == 1) {
		len = snprintf(data, sizeof(data), "leaf-%u", start);
		assert_true(len > 0 && (size_t)len < sizeof(data));
		ref_sha256(0x00, data, (size_t)len, NULL, 0, out);
		return;
	}
	for (k = 1; 2 * k < n; k *= 2)
		;
	ref_mth(start, k, l);
	ref_mth(start + k, n - k, r);
	ref_sha256(0x01, l, MERKLE_HASH, r, MERKLE_HASH, out);
}

/* ---- the vectors ---------------------------------------------------- */

/* Generous: a longer proof fails verification anyway (sn reaches 0). */
#define VEC_PROOF_MAX (2 * MERKLE_PROOF_MAX + 2)
#define VEC_DEPTH_MAX 8
/* The longest base64 text worth decoding: 32 bytes need 44. */
#define B64_MAX 88

enum vec_kind { VEC_INCLUSION, VEC_CONSISTENCY, VEC_SUBTREE };

/* The four fields besides proof and wantErr, in API order. */
static const struct {
	const char *a, *b, *h1, *h2;
} vec_fields[2] = {
	{ "leafIdx", "treeSize", "leafHash", "root" },
	{ "size1", "size2", "root1", "root2" },
};

/*
 * Vectors whose wantErr cannot hold for merkle.h, each with the reason.
 * A listed file must still be seen and must still be rejected for the
 * stated reason, so the list cannot go stale silently.
 */
static const struct {
	const char *rel;
	const char *reject;	/* decode_case()'s reason, exactly */
	const char *why;
} deviations[] = {
	{ "consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
	  "hash does not decode to 32 bytes",
	  "wantErr is false but root1 and root2 are 12 bytes "
	  "(\"don't care 2\"); the Go verifier compares roots with "
	  "bytes.Equal and accepts any length when size1 == size2, "
	  "merkle.h takes 32-byte hashes only, so the case is rejected" },
};
#define NDEVIATIONS (sizeof(deviations) / sizeof(deviations[0]))

struct vec_stats {
	unsigned checked[2];	/* inclusion, consistency files */
	unsigned failed;
	unsigned rejected;	/* cases refused while reading them */
	unsigned generated;	/* happy paths matched by the generator */
	unsigned subtree;	/* subtree proof files skipped */
	bool deviation_seen[NDEVIATIONS];
};

struct vec_case {
	uint64_t a, b;
	merkle_hash h1, h2;
	merkle_hash proof[VEC_PROOF_MAX];
	size_t len;
	bool want_err;
};

static bool
b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Standard base64 to exactly 32 bytes, or a reason why not.
 * EVP_DecodeBlock() trims white space, counts padding as zero bytes in
 * its result and does not insist on '=' only at the end, so the text is
 * checked here first and the '=' count subtracted from the length.
 */
static const char *
decode_hash(const json_t *v, merkle_hash out)
{
	unsigned char buf[B64_MAX / 4 * 3];
	const char *s;
	size_t len, pad, i;
	int n;

	if (!json_is_string(v))
		return "hash is not a string";
	s = json_string_value(v);
	len = json_string_length(v);
	if (len == 0)
		return "hash is empty";
	if (len > B64_MAX || len % 4 != 0)
		return "hash is not 32 bytes of base64";
	pad = 0;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	for (i = 0; i < len - pad; i++) {
		if (!b64_char(s[i]))
			return "hash is not base64";
	}
	n = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n < pad)
		return "hash is not base64";
	if ((size_t)n - pad != MERKLE_HASH)
		return "hash does not decode to 32 bytes";
	memcpy(out, buf, MERKLE_HASH);
	return NULL;
}

static const char *
decode_u64(const json_t *v, uint64_t *out)
{
	json_int_t i;

	/* Reals include integers beyond json_int_t: see check_file(). */
	if (!json_is_integer(v))
		return "size or index is not an integer within json_int_t";
	i = json_integer_value(v);
	if (i < 0)
		return "size or index is negative";
	*out = (uint64_t)i;
	return NULL;
}

/* Reads the case; NULL, or why it must be rejected. */
static const char *
decode_case(const json_t *root, enum vec_kind kind, struct vec_case *vc)
{
	const json_t *proof;
	const char *why;
	size_t i, n;

	why = decode_u64(json_object_get(root, vec_fields[kind].a), &vc->a);
	if (why == NULL)
		why = decode_u64(json_object_get(root, vec_fields[kind].b),
		    &vc->b);
	if (why == NULL)
		why = decode_hash(json_object_get(root, vec_fields[kind].h1),
		    vc->h1);
	if (why == NULL)
		why = decode_hash(json_object_get(root, vec_fields[kind].h2),
		    vc->h2);
	if (why != NULL)
		return why;
	proof = json_object_get(root, "proof");
	vc->len = 0;
	/* Go encodes an empty (nil) proof as null. */
	if (json_is_null(proof))
		return NULL;
	if (!json_is_array(proof))
		return "proof is not an array";
	n = json_array_size(proof);
	if (n > VEC_PROOF_MAX)
		return "proof is longer than any tree can need";
	for (i = 0; i < n; i++) {
		why = decode_hash(json_array_get(proof, i), vc->proof[i]);
		if (why != NULL)
			return why;
	}
	vc->len = n;
	return NULL;
}

static int
find_deviation(const char *rel)
{
	size_t i;

	for (i = 0; i < NDEVIATIONS; i++) {
		if (strcmp(deviations[i].rel, rel) == 0)
			return (int)i;
	}
	return -1;
}

static bool
hash_eq(const merkle_hash a, const merkle_hash b)
{
	return memcmp(a, b, MERKLE_HASH) == 0;
}

/*
 * A happy path on RFC 6962's reference tree: the generator must produce
 * exactly the vector's proof.  Returns false on a mismatch.
 */
static bool
cross_check(enum vec_kind kind, const struct vec_case *vc,
    struct vec_stats *st)
{
	merkle_hash proof[MERKLE_PROOF_MAX];
	size_t len = 0;
	int rc;

	if (vc->b > 8)
		return true;
	ct_tree.n = vc->b;
	if (kind == VEC_INCLUSION) {
		if (!hash_eq(vc->h1, ct_tree.leaf[vc->a]) ||
		    !hash_eq(vc->h2, ct_root[vc->b]))
			return true;
		rc = merkle_inclusion_proof(mem_subtree, &ct_tree, vc->a,
		    vc->b, proof, &len);
	} else {
		if (!hash_eq(vc->h1, ct_root[vc->a]) ||
		    !hash_eq(vc->h2, ct_root[vc->b]))
			return true;
		rc = merkle_consistency_proof(mem_subtree, &ct_tree, vc->a,
		    vc->b, proof, &len);
	}
	if (rc != 0 || len != vc->len ||
	    (len != 0 && memcmp(proof, vc->proof, len * MERKLE_HASH) != 0))
		return false;
	st->generated++;
	return true;
}

static void
check_file(const char *path, const char *rel, enum vec_kind kind,
    struct vec_stats *st)
{
	struct vec_case vc;
	json_error_t jerr;
	json_t *root, *want;
	const char *why = NULL;
	bool got_err;
	int rc = 0, dev;

	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL &&
	    json_error_code(&jerr) == json_error_numeric_overflow) {
		/*
		 * An integer beyond json_int_t (leafIdx 2^64 - 1 in the
		 * "leafIdx-sub-@1" files): jansson cannot give its exact
		 * value, so the file is read again with integers as reals
		 * only to learn wantErr, and the case is rejected.
		 */
		if (kind != VEC_SUBTREE)
			print_message("note: %s: %s; case rejected\n", rel,
			    jerr.text);
		root = json_load_file(path,
		    JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
	}
	if (root == NULL) {
		print_error("FAIL %s: %d:%d: %s\n", path, jerr.line,
		    jerr.column, jerr.text);
		st->failed++;
		return;
	}
	if (kind == VEC_SUBTREE) {
		/* Skipped only when it really is the other format. */
		if (json_object_get(root, "start") == NULL ||
		    json_object_get(root, "end") == NULL) {
			print_error("FAIL %s: no start/end: not a subtree "
			    "proof vector, so it should be tested\n", path);
			st->failed++;
		} else
			st->subtree++;
		json_decref(root);
		return;
	}
	want = json_object_get(root, "wantErr");
	if (!json_is_object(root) || !json_is_boolean(want)) {
		print_error("FAIL %s: not an object with a boolean "
		    "wantErr\n", path);
		st->failed++;
		json_decref(root);
		return;
	}
	memset(&vc, 0, sizeof(vc));
	vc.want_err = json_is_true(want);
	why = decode_case(root, kind, &vc);
	json_decref(root);
	st->checked[kind]++;

	if (why != NULL)
		st->rejected++;
	else if (kind == VEC_INCLUSION)
		rc = merkle_verify_inclusion(vc.a, vc.b, vc.h1,
		    CPROOF(vc.proof), vc.len, vc.h2);
	else
		rc = merkle_verify_consistency(vc.a, vc.b, vc.h1, vc.h2,
		    CPROOF(vc.proof), vc.len);
	if (rc != 0 && rc != TG_EINVAL) {
		print_error("FAIL %s: verifier returned %d, not 0 or "
		    "TG_EINVAL\n", path, rc);
		st->failed++;
		return;
	}
	got_err = why != NULL || rc != 0;

	dev = find_deviation(rel);
	if (dev >= 0) {
		st->deviation_seen[dev] = true;
		if (why != NULL && strcmp(why, deviations[dev].reject) == 0 &&
		    !vc.want_err) {
			print_message("note: %s: known deviation: %s\n", rel,
			    deviations[dev].why);
			return;
		}
		print_error("FAIL %s: listed as a deviation but no longer "
		    "deviates (wantErr %s, %s)\n", path,
		    vc.want_err ? "true" : "false",
		    why != NULL ? why : "read fine");
		st->failed++;
		return;
	}
	if (got_err != vc.want_err) {
		print_error("FAIL %s: wantErr %s but %s\n", path,
		    vc.want_err ? "true" : "false",
		    why != NULL ? why : got_err ? "verification failed" :
		    "verification succeeded");
		st->failed++;
		return;
	}
	if (!vc.want_err && !cross_check(kind, &vc, st)) {
		print_error("FAIL %s: generated proof differs from the "
		    "vector's\n", path);
		st->failed++;
	}
}

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Every JSON file under dir (rel: the same, relative to testdata/). */
static void
walk(const char *dir, const char *rel, int depth, enum vec_kind kind,
    struct vec_stats *st)
{
	struct dirent **names = NULL;
	struct stat sb;
	char path[4096], sub[4096];
	const char *name;
	int i, n, len1, len2;

	if (depth > VEC_DEPTH_MAX) {
		print_error("FAIL %s: directories nested too deep\n", dir);
		st->failed++;
		return;
	}
	n = scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		print_error("FAIL %s: %s\n", dir, strerror(errno));
		st->failed++;
		return;
	}
	for (i = 0; i < n; i++) {
		name = names[i]->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		len1 = snprintf(path, sizeof(path), "%s/%s", dir, name);
		len2 = snprintf(sub, sizeof(sub), "%s/%s", rel, name);
		if (len1 < 0 || (size_t)len1 >= sizeof(path) || len2 < 0 ||
		    (size_t)len2 >= sizeof(sub)) {
			print_error("FAIL %s/%s: path too long\n", dir, name);
			st->failed++;
			continue;
		}
		if (stat(path, &sb) != 0) {
			print_error("FAIL %s: %s\n", path, strerror(errno));
			st->failed++;
		} else if (S_ISDIR(sb.st_mode))
			walk(path, sub, depth + 1, kind, st);
		else if (S_ISREG(sb.st_mode) && has_suffix(name, ".json"))
			check_file(path, sub, kind, st);
		else
			print_message("note: %s: not a JSON file, ignored\n",
			    sub);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void
test_vectors(void **state)
{
	static const struct {
		const char *dir;
		enum vec_kind kind;
		bool required;
	} dirs[] = {
		{ "inclusion", VEC_INCLUSION, true },
		{ "consistency", VEC_CONSISTENCY, true },
		{ "subtreeinclusion", VEC_SUBTREE, false },
		{ "subtreeconsistency", VEC_SUBTREE, false },
	};
	struct vec_stats st;
	struct stat sb;
	const char *shared;
	char base[4096], dir[4096];
	size_t i;
	int len;

	(void)state;
	memset(&st, 0, sizeof(st));
	shared = getenv("TIERGATE_SHARED");
	if (shared == NULL || *shared == '\0')
		shared = "../shared";
	len = snprintf(base, sizeof(base), "%s/testdata/merkle/testdata",
	    shared);
	assert_true(len > 0 && (size_t)len < sizeof(base));
	if (stat(base, &sb) != 0)
		fail_msg("merkle test vectors missing: '%s': %s (set "
		    "TIERGATE_SHARED, or run from the repository root)",
		    base, strerror(errno));
	if (!S_ISDIR(sb.st_mode))
		fail_msg("merkle test vectors missing: '%s' is not a "
		    "directory", base);

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		len = snprintf(dir, sizeof(dir), "%s/%s", base, dirs[i].dir);
		assert_true(len > 0 && (size_t)len < sizeof(dir));
		if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			if (dirs[i].required)
				fail_msg("merkle test vectors missing: "
				    "'%s'", dir);
			continue;
		}
		walk(dir, dirs[i].dir, 0, dirs[i].kind, &st);
	}

	if (st.subtree != 0)
		print_message("note: skipped %u files under subtreeinclusion/ "
		    "and subtreeconsistency/: they prove inclusion in and "
		    "consistency of an arbitrary subtree [start, end) "
		    "(Merkle Tree Certificates), an API merkle.h does not "
		    "have\n", st.subtree);
	print_message("merkle vectors: %u inclusion + %u consistency files "
	    "checked, %u failed, %u rejected while reading, %u happy paths "
	    "matched by the generator\n", st.checked[VEC_INCLUSION],
	    st.checked[VEC_CONSISTENCY], st.failed, st.rejected,
	    st.generated);

	for (i = 0; i < NDEVIATIONS; i++) {
		if (!st.deviation_seen[i])
			fail_msg("listed deviation not found: %s",
			    deviations[i].rel);
	}
	assert_true(st.checked[VEC_INCLUSION] > 0);
	assert_true(st.checked[VEC_CONSISTENCY] > 0);
	assert_true(st.checked[VEC_INCLUSION] +
	    st.checked[VEC_CONSISTENCY] > 100);
	assert_true(st.generated > 0);
	assert_int_equal(st.failed, 0);
}

/* ---- known answers -------------------------------------------------- */

static void
test_known_hashes(void **state)
{
	merkle_hash h, want;
	unsigned int outlen = 0;
	unsigned n;

	(void)state;
	/* The empty tree's root is SHA-256 of nothing. */
	assert_int_equal(EVP_Digest("", 0, want, &outlen, EVP_sha256(),
	    NULL), 1);
	merkle_empty_root(h);
	assert_memory_equal(h, want, MERKLE_HASH);

	/* The reference tree's first leaf is the empty string. */
	assert_int_equal(merkle_leaf_hash(NULL, 0, h), 0);
	assert_memory_equal(h, ct_root[1], MERKLE_HASH);
	assert_int_equal(merkle_leaf_hash(NULL, 1, h), TG_EINVAL);

	/* node_hash may write over its inputs. */
	memcpy(h, ct_tree.leaf[0], MERKLE_HASH);
	assert_int_equal(merkle_node_hash(h, ct_tree.leaf[1], h), 0);
	assert_memory_equal(h, ct_root[2], MERKLE_HASH);

	for (n = 1; n <= 8; n++) {
		ct_tree.n = n;
		assert_int_equal(merkle_root(mem_subtree, &ct_tree, n, h), 0);
		assert_memory_equal(h, ct_root[n], MERKLE_HASH);
	}
}

static void
test_root_reference(void **state)
{
	struct memtree t;
	merkle_hash h, want;
	unsigned n;

	(void)state;
	memtree_fill(&t, GEN_LEAVES);
	for (n = 1; n <= GEN_LEAVES; n++) {
		t.n = n;
		assert_int_equal(merkle_root(mem_subtree, &t, n, h), 0);
		ref_mth(0, n, want);
		assert_memory_equal(h, want, MERKLE_HASH);
	}
	assert_int_equal(merkle_root(mem_subtree, &t, 0, h), TG_EINVAL);
}

/* ---- generation round trip ------------------------------------------ */

static void
flip(merkle_hash h, size_t i)
{
	h[(i * 5) % MERKLE_HASH] ^= (uint8_t)(1u << (i % 8));
}

static void
check_inclusion(struct memtree *t, uint64_t m, uint64_t n,
    const merkle_hash root)
{
	merkle_hash proof[MERKLE_PROOF_MAX + 1], bad[MERKLE_PROOF_MAX + 1];
	const merkle_hash *cp = CPROOF(proof), *cbad = CPROOF(bad);
	merkle_hash leaf, r;
	size_t len = 99, i;

	t->n = n;
	assert_int_equal(merkle_inclusion_proof(mem_subtree, t, m, n, proof,
	    &len), 0);
	assert_true(len <= MERKLE_PROOF_MAX);
	memcpy(leaf, t->leaf[m], MERKLE_HASH);
	assert_int_equal(merkle_verify_inclusion(m, n, leaf, cp, len, root),
	    0);

	for (i = 0; i < len; i++) {
		memcpy(bad, proof, sizeof(bad));
		flip(bad[i], i);
		assert_int_equal(merkle_verify_inclusion(m, n, leaf, cbad,
		    len, root), TG_EINVAL);
	}
	memcpy(r, leaf, MERKLE_HASH);
	flip(r, m);
	assert_int_equal(merkle_verify_inclusion(m, n, r, cp, len, root),
	    TG_EINVAL);
	memcpy(r, root, MERKLE_HASH);
	flip(r, n);
	assert_int_equal(merkle_verify_inclusion(m, n, leaf, cp, len, r),
	    TG_EINVAL);
	/* Too short, too long. */
	if (len > 0)
		assert_int_equal(merkle_verify_inclusion(m, n, leaf, cp,
		    len - 1, root), TG_EINVAL);
	memcpy(proof[len], root, MERKLE_HASH);
	assert_int_equal(merkle_verify_inclusion(m, n, leaf, cp, len + 1,
	    root), TG_EINVAL);
	/*
	 * One hash too many, and a root that hashes it in: only the check
	 * that sn has not reached 0 (RFC 9162 2.1.3.2 step 4a) refuses it.
	 */
	assert_int_equal(merkle_node_hash(proof[len], root, r), 0);
	assert_int_equal(merkle_verify_inclusion(m, n, leaf, cp, len + 1, r),
	    TG_EINVAL);
	/* The sibling's index swaps the first pair. */
	if ((m ^ 1) < n)
		assert_int_equal(merkle_verify_inclusion(m ^ 1, n, leaf, cp,
		    len, root), TG_EINVAL);
}

static void
check_consistency(struct memtree *t, uint64_t m, uint64_t n,
    merkle_hash *roots)
{
	merkle_hash proof[MERKLE_PROOF_MAX + 1], bad[MERKLE_PROOF_MAX + 1];
	const merkle_hash *cp = CPROOF(proof), *cbad = CPROOF(bad);
	const uint8_t *r1 = roots[m], *r2 = roots[n];
	merkle_hash r, f1, f2;
	size_t len = 99, i;

	t->n = n;
	assert_int_equal(merkle_consistency_proof(mem_subtree, t, m, n,
	    proof, &len), 0);
	assert_true(len <= MERKLE_PROOF_MAX);
	if (m == n)
		assert_int_equal(len, 0);
	assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len), 0);

	for (i = 0; i < len; i++) {
		memcpy(bad, proof, sizeof(bad));
		flip(bad[i], i);
		assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cbad,
		    len), TG_EINVAL);
	}
	memcpy(r, r1, MERKLE_HASH);
	flip(r, m);
	assert_int_equal(merkle_verify_consistency(m, n, r, r2, cp, len),
	    TG_EINVAL);
	memcpy(r, r2, MERKLE_HASH);
	flip(r, n);
	assert_int_equal(merkle_verify_consistency(m, n, r1, r, cp, len),
	    TG_EINVAL);
	/* Too short, too long. */
	if (len > 0)
		assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp,
		    len - 1), TG_EINVAL);
	memcpy(proof[len], r2, MERKLE_HASH);
	assert_int_equal(merkle_verify_consistency(m, n, r1, r2, cp, len + 1),
	    TG_EINVAL);
	/*
	 * One hash too many, and both roots hashing it in: only step 6a
	 * (sn reached 0) refuses it.  When size1 is 2^k the forged root1
	 * also starts the path, so this fails anyway.
	 */
	if (m < n) {
		assert_int_equal(merkle_node_hash(proof[len], r1, f1), 0);
		assert_int_equal(merkle_node_hash(proof[len], r2, f2), 0);
		assert_int_equal(merkle_verify_consistency(m, n, f1, f2, cp,
		    len + 1), TG_EINVAL);
	}
	if (m < n) {
		assert_int_equal(merkle_verify_consistency(n, m, r2, r1, cp,
		    len), TG_EINVAL);
		/* The previous tree's root does not stand in for this one. */
		if (m > 1)
			assert_int_equal(merkle_verify_consistency(m, n,
			    roots[m - 1], r2, cp, len), TG_EINVAL);
	}
}

static void
test_round_trip(void **state)
{
	struct memtree t;
	merkle_hash roots[GEN_LEAVES + 1];
	uint64_t m, n;

	(void)state;
	memtree_fill(&t, GEN_LEAVES);
	for (n = 1; n <= GEN_LEAVES; n++) {
		t.n = n;
		assert_int_equal(merkle_root(mem_subtree, &t, n, roots[n]), 0);
	}
	for (n = 1; n <= GEN_LEAVES; n++) {
		for (m = 0; m < n; m++)
			check_inclusion(&t, m, n, roots[n]);
		for (m = 1; m <= n; m++)
			check_consistency(&t, m, n, roots);
	}
}

/* ---- argument and callback errors ----------------------------------- */

static void
test_bad_arguments(void **state)
{
	merkle_hash proof[MERKLE_PROOF_MAX], h, e, r2;
	struct memtree t;
	size_t len;

	(void)state;
	memtree_fill(&t, 8);
	t.n = 8;
	memset(h, 0x5a, sizeof(h));
	merkle_empty_root(e);

	len = 99;
	assert_int_equal(merkle_inclusion_proof(mem_subtree, &t, 8, 8, proof,
	    &len), TG_EINVAL);
	assert_int_equal(len, 0);
	assert_int_equal(merkle_inclusion_proof(mem_subtree, &t, 0, 0, proof,
	    &len), TG_EINVAL);
	len = 99;
	assert_int_equal(merkle_consistency_proof(mem_subtree, &t, 0, 8,
	    proof, &len), TG_EINVAL);
	assert_int_equal(len, 0);
	assert_int_equal(merkle_consistency_proof(mem_subtree, &t, 5, 4,
	    proof, &len), TG_EINVAL);
	assert_int_equal(merkle_inclusion_proof(NULL, &t, 0, 8, proof, &len),
	    TG_EINVAL);

	/* RFC 9162 2.1.3.2 step 1: leaf_index >= tree_size. */
	assert_int_equal(merkle_verify_inclusion(0, 0, h, NULL, 0, h),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_inclusion(1, 1, h, NULL, 0, h),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_inclusion(UINT64_MAX, 1, h, NULL, 0, h),
	    TG_EINVAL);
	/* A one-leaf tree's root is its leaf hash. */
	assert_int_equal(merkle_verify_inclusion(0, 1, h, NULL, 0, h), 0);

	/* Consistency: size1 > size2; size1 == 0 is not defined. */
	assert_int_equal(merkle_verify_consistency(2, 1, h, h, NULL, 0),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_consistency(0, 0, e, e, NULL, 0),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_consistency(0, 1, e, h, NULL, 0),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_consistency(0, 1, e, h, CPROOF(&h), 1),
	    TG_EINVAL);
	/* Equal sizes: empty proof and equal roots, nothing else. */
	assert_int_equal(merkle_verify_consistency(3, 3, h, h, NULL, 0), 0);
	assert_int_equal(merkle_verify_consistency(3, 3, h, h, CPROOF(&h), 1),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_consistency(3, 3, h, e, NULL, 0),
	    TG_EINVAL);
	/* Different sizes need a proof, whether size1 is 2^k or not. */
	assert_int_equal(merkle_verify_consistency(4, 8, h, h, NULL, 0),
	    TG_EINVAL);
	assert_int_equal(merkle_verify_consistency(3, 4, h, h, NULL, 0),
	    TG_EINVAL);
	/*
	 * size1 > size2 with a proof the step-by-step algorithm would take:
	 * fn = 2, sn = 1 gives fr = p0 and sr = HASH(p0 || p1) with sn
	 * ending at 0.  Only the size check refuses it.
	 */
	memcpy(proof[0], h, MERKLE_HASH);
	memcpy(proof[1], e, MERKLE_HASH);
	assert_int_equal(merkle_node_hash(h, e, r2), 0);
	assert_int_equal(merkle_verify_consistency(3, 2, h, r2,
	    CPROOF(proof), 2), TG_EINVAL);
}

static void
test_callback_error(void **state)
{
	merkle_hash proof[MERKLE_PROOF_MAX], h;
	struct memtree t;
	unsigned calls, k;
	size_t len;
	int rc;

	(void)state;
	memtree_fill(&t, GEN_LEAVES);
	t.n = 67;
	assert_int_equal(merkle_consistency_proof(mem_subtree, &t, 13, 67,
	    proof, &len), 0);
	calls = t.calls;
	assert_true(calls > 1);
	/* Whichever lookup fails, its code comes back and no proof. */
	for (k = 1; k <= calls; k++) {
		t.calls = 0;
		t.fail_at = k;
		len = 99;
		assert_int_equal(merkle_consistency_proof(mem_subtree, &t, 13,
		    67, proof, &len), TG_EIO);
		assert_int_equal(len, 0);
		/* These need fewer lookups: they fail only if they reach k. */
		t.calls = 0;
		rc = merkle_inclusion_proof(mem_subtree, &t, 13, 67, proof,
		    &len);
		assert_int_equal(rc, t.calls < k ? 0 : TG_EIO);
		t.calls = 0;
		rc = merkle_root(mem_subtree, &t, 67, h);
		assert_int_equal(rc, t.calls < k ? 0 : TG_EIO);
	}
}

/*
 * A callback for trees too large to hold: any complete subtree inside
 * the tree gets a made-up hash.  Proofs from it cannot be verified, but
 * the generator's bounds and proof lengths can be checked.
 */
static int
huge_subtree(void *ctx, unsigned level, uint64_t index, merkle_hash out)
{
	const uint64_t *n = ctx;

	if (level >= 64 || index >= (*n >> level))
		return TG_ENOTFOUND;
	memset(out, 0, MERKLE_HASH);
	out[0] = (uint8_t)level;
	memcpy(out + 1, &index, sizeof(index));
	return 0;
}

static void
test_huge_tree(void **state)
{
	merkle_hash proof[MERKLE_PROOF_MAX], h;
	uint64_t n = UINT64_MAX;
	size_t len;

	(void)state;
	assert_int_equal(merkle_root(huge_subtree, &n, n, h), 0);
	assert_int_equal(merkle_inclusion_proof(huge_subtree, &n, 0, n,
	    proof, &len), 0);
	assert_int_equal(len, 64);
	assert_int_equal(merkle_inclusion_proof(huge_subtree, &n, n - 1, n,
	    proof, &len), 0);
	assert_int_equal(merkle_consistency_proof(huge_subtree, &n, 1, n,
	    proof, &len), 0);
	assert_int_equal(len, 64);
	/*
	 * From 2^63 + 1 leaves the proof holds the leaf 2^63, whose depth
	 * is 64, and its 64 siblings: 65 hashes, one more than
	 * MERKLE_PROOF_MAX, so the generator must refuse, not overrun.
	 */
#if MERKLE_PROOF_MAX >= 65
	assert_int_equal(merkle_consistency_proof(huge_subtree, &n,
	    (UINT64_C(1) << 63) + 1, n, proof, &len), 0);
	assert_int_equal(len, 65);
#else
	assert_int_equal(merkle_consistency_proof(huge_subtree, &n,
	    (UINT64_C(1) << 63) + 1, n, proof, &len), TG_ETOOBIG);
	assert_int_equal(len, 0);
#endif
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_hashes),
		cmocka_unit_test(test_root_reference),
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_huge_tree),
	};

	return cmocka_run_group_tests(tests, setup_ct, NULL);
}
