/*
 * merkle.c: RFC 6962 Merkle tree hashes, proof generation and proof
 * verification (merkle.h).
 *
 * Generation follows RFC 6962 2.1 literally: a recursion on leaf ranges
 * [start, start + size) that splits at k, the largest power of two below
 * size.  A range that is a complete, aligned subtree is not descended
 * into; its hash comes from the caller's callback, which is how the audit
 * log answers any proof with O(log n) lookups.  The recursion depth is at
 * most 64 (one level per bit of a uint64_t size).
 *
 * Verification follows RFC 9162 2.1.3.2 and 2.1.4.2 step by step, so that
 * an auditor can read the two side by side.  It needs no storage: the
 * consistency proof's implicit leading root1 is handled by index, not by
 * copying the proof.
 *
 * Nothing here allocates, except OpenSSL's own digest context for leaf
 * hashes of arbitrary length.  Everything is thread-safe.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <pthread.h>
#include <stdbool.h>

#include <openssl/evp.h>

#include "tiergate/error.h"
#include "tiergate/merkle.h"

#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

/*
 * SHA-256 is fetched once and each thread keeps one digest context: with
 * OpenSSL 3 an EVP_sha256() digest is looked up again on every call, which
 * costs more than hashing a short entry (the audit benchmark measured it).
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t sha256_key;

static void
ctx_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void
sha256_init(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (pthread_key_create(&sha256_key, ctx_free) != 0)
		sha256_md = NULL;	/* fall back to EVP_sha256() */
}

/* Hashes the concatenation of two pieces. */
static int
sha256_2(const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[MERKLE_HASH])
{
	EVP_MD_CTX *c;
	unsigned int outlen = 0;
	bool owned = false;
	int rc = TG_ECRYPTO;

	pthread_once(&sha256_once, sha256_init);
	c = sha256_md != NULL ? pthread_getspecific(sha256_key) : NULL;
	if (c == NULL) {
		c = EVP_MD_CTX_new();
		if (c == NULL)
			return TG_ECRYPTO;
		if (sha256_md == NULL ||
		    pthread_setspecific(sha256_key, c) != 0)
			owned = true;
	}
	if (EVP_DigestInit_ex(c, sha256_md != NULL ? sha256_md :
	    EVP_sha256(), NULL) == 1 &&
	    (alen == 0 || EVP_DigestUpdate(c, a, alen) == 1) &&
	    (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1) &&
	    EVP_DigestFinal_ex(c, out, &outlen) == 1 && outlen == MERKLE_HASH)
		rc = 0;
	if (owned)
		EVP_MD_CTX_free(c);
	return rc;
}

int
merkle_sha256(const void *data, size_t len, uint8_t out[MERKLE_HASH])
{
	if (data == NULL && len != 0)
		return TG_EINVAL;
	return sha256_2(data, len, NULL, 0, out);
}

int
merkle_leaf_hash(const void *data, size_t len, merkle_hash out)
{
	uint8_t prefix = LEAF_PREFIX;

	if (data == NULL && len != 0)
		return TG_EINVAL;
	return sha256_2(&prefix, 1, data, len, out);
}

int
merkle_node_hash(const merkle_hash l, const merkle_hash r, merkle_hash out)
{
	uint8_t buf[1 + 2 * MERKLE_HASH];

	/* Copied first, so out may alias l or r. */
	buf[0] = NODE_PREFIX;
	memcpy(buf + 1, l, MERKLE_HASH);
	memcpy(buf + 1 + MERKLE_HASH, r, MERKLE_HASH);
	return sha256_2(buf, sizeof(buf), NULL, 0, out);
}

void
merkle_empty_root(merkle_hash out)
{
	/*
	 * SHA-256 of the empty string (FIPS 180-4 test value), as a constant:
	 * the function cannot report an error, so it must not call OpenSSL.
	 */
	static const merkle_hash empty = {
		0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
		0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
		0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
		0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
	};

	memcpy(out, empty, MERKLE_HASH);
}

/* ---- generation (RFC 6962 2.1) -------------------------------------- */

static bool
is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* The largest power of two strictly below size (size >= 2). */
static uint64_t
split_point(uint64_t size)
{
	uint64_t k = 1;

	while (k < size - k)
		k <<= 1;
	return k;
}

static unsigned
log2_exact(uint64_t pow2)
{
	unsigned level = 0;

	while (pow2 > 1) {
		pow2 >>= 1;
		level++;
	}
	return level;
}

/* MTH(D[start : start + size]), size >= 1. */
static int
range_hash(merkle_subtree_fn get, void *ctx, uint64_t start, uint64_t size,
    merkle_hash out)
{
	merkle_hash l, r;
	uint64_t k;
	unsigned level;
	int rc;

	if (is_pow2(size) && start % size == 0) {
		level = log2_exact(size);
		return get(ctx, level, start >> level, out);
	}
	k = split_point(size);
	rc = range_hash(get, ctx, start, k, l);
	if (rc != 0)
		return rc;
	rc = range_hash(get, ctx, start + k, size - k, r);
	if (rc != 0)
		return rc;
	return merkle_node_hash(l, r, out);
}

/* Appends MTH(D[start : start + size]) to the proof. */
static int
proof_append(merkle_subtree_fn get, void *ctx, uint64_t start, uint64_t size,
    merkle_hash *proof, size_t *len)
{
	int rc;

	/*
	 * Unreachable for inclusion proofs (at most 64 hashes), but a
	 * consistency proof in a tree of more than 2^63 leaves can need 65.
	 */
	if (*len >= MERKLE_PROOF_MAX)
		return TG_ETOOBIG;
	rc = range_hash(get, ctx, start, size, proof[*len]);
	if (rc != 0)
		return rc;
	(*len)++;
	return 0;
}

int
merkle_root(merkle_subtree_fn get, void *ctx, uint64_t n, merkle_hash out)
{
	if (get == NULL || n == 0)
		return TG_EINVAL;
	return range_hash(get, ctx, 0, n, out);
}

/*
 * PATH(m, D[start : start + size]) with m an absolute leaf index inside
 * the range.  The sub-path comes first and the sibling after it, as in
 * RFC 6962: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]).
 */
static int
inclusion_path(merkle_subtree_fn get, void *ctx, uint64_t m, uint64_t start,
    uint64_t size, merkle_hash *proof, size_t *len)
{
	uint64_t k;
	int rc;

	if (size == 1)
		return 0;
	k = split_point(size);
	if (m - start < k) {
		rc = inclusion_path(get, ctx, m, start, k, proof, len);
		if (rc != 0)
			return rc;
		return proof_append(get, ctx, start + k, size - k, proof,
		    len);
	}
	rc = inclusion_path(get, ctx, m, start + k, size - k, proof, len);
	if (rc != 0)
		return rc;
	return proof_append(get, ctx, start, k, proof, len);
}

int
merkle_inclusion_proof(merkle_subtree_fn get, void *ctx, uint64_t m,
    uint64_t n, merkle_hash *proof, size_t *len)
{
	int rc;

	if (get == NULL || proof == NULL || len == NULL)
		return TG_EINVAL;
	*len = 0;
	if (m >= n)
		return TG_EINVAL;
	rc = inclusion_path(get, ctx, m, 0, n, proof, len);
	if (rc != 0)
		*len = 0;
	return rc;
}

/*
 * SUBPROOF(m, D[start : start + size], b) with m counted from start
 * (1 <= m <= size).
 */
static int
subproof(merkle_subtree_fn get, void *ctx, uint64_t m, uint64_t start,
    uint64_t size, bool b, merkle_hash *proof, size_t *len)
{
	uint64_t k;
	int rc;

	if (m == size) {
		/* The old tree's root is known to the verifier only at b. */
		if (b)
			return 0;
		return proof_append(get, ctx, start, size, proof, len);
	}
	k = split_point(size);
	if (m <= k) {
		rc = subproof(get, ctx, m, start, k, b, proof, len);
		if (rc != 0)
			return rc;
		return proof_append(get, ctx, start + k, size - k, proof,
		    len);
	}
	rc = subproof(get, ctx, m - k, start + k, size - k, false, proof,
	    len);
	if (rc != 0)
		return rc;
	return proof_append(get, ctx, start, k, proof, len);
}

int
merkle_consistency_proof(merkle_subtree_fn get, void *ctx, uint64_t m,
    uint64_t n, merkle_hash *proof, size_t *len)
{
	int rc;

	if (get == NULL || proof == NULL || len == NULL)
		return TG_EINVAL;
	*len = 0;
	/* RFC 9162 2.1.4: a proof from the empty tree is not defined. */
	if (m == 0 || m > n)
		return TG_EINVAL;
	rc = subproof(get, ctx, m, 0, n, true, proof, len);
	if (rc != 0)
		*len = 0;
	return rc;
}

/*
 * ---- verification (RFC 9162 2.1.3.2, 2.1.4.2) -----------------------
 *
 * The numbered comments are the RFC's steps.  merkle.h promises only 0 or
 * TG_EINVAL, so a failing digest also answers TG_EINVAL: a proof that
 * could not be checked is not accepted.
 */

static bool
hash_equal(const merkle_hash a, const merkle_hash b)
{
	/* Roots and proofs are public, so a plain comparison will do. */
	return memcmp(a, b, MERKLE_HASH) == 0;
}

int
merkle_verify_inclusion(uint64_t m, uint64_t n, const merkle_hash leaf,
    const merkle_hash *proof, size_t len, const merkle_hash root)
{
	merkle_hash r;
	uint64_t fn, sn;
	size_t i;

	if (leaf == NULL || root == NULL || (proof == NULL && len != 0))
		return TG_EINVAL;
	/* 1. */
	if (m >= n)
		return TG_EINVAL;
	/* 2., 3. */
	fn = m;
	sn = n - 1;
	memcpy(r, leaf, MERKLE_HASH);
	/* 4. */
	for (i = 0; i < len; i++) {
		/* a. A longer proof than the tree is high. */
		if (sn == 0)
			return TG_EINVAL;
		/* b. */
		if ((fn & 1) != 0 || fn == sn) {
			if (merkle_node_hash(proof[i], r, r) != 0)
				return TG_EINVAL;
			/*
			 * b.2: climb past the levels where the node is a
			 * left child without a right sibling.
			 */
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			if (merkle_node_hash(r, proof[i], r) != 0)
				return TG_EINVAL;
		}
		/* c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. sn != 0 means the proof was too short. */
	if (sn != 0 || !hash_equal(r, root))
		return TG_EINVAL;
	return 0;
}

int
merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const merkle_hash root1, const merkle_hash root2,
    const merkle_hash *proof, size_t len)
{
	const uint8_t *c;
	merkle_hash fr, sr;
	uint64_t fn, sn;
	size_t i, total;
	bool lead_root1;

	if (root1 == NULL || root2 == NULL || (proof == NULL && len != 0))
		return TG_EINVAL;
	if (size1 > size2)
		return TG_EINVAL;
	/* RFC 9162 2.1.4: consistency with the empty tree is not defined. */
	if (size1 == 0)
		return TG_EINVAL;
	/* Equal sizes: the proof is empty and the trees are the same. */
	if (size1 == size2) {
		if (len != 0 || !hash_equal(root1, root2))
			return TG_EINVAL;
		return 0;
	}
	/* 1. */
	if (len == 0)
		return TG_EINVAL;
	/*
	 * 2. When size1 is a power of two, root1 is an implicit first
	 * element of the path; element i of the path is then proof[i - 1].
	 */
	lead_root1 = is_pow2(size1);
	total = lead_root1 ? len + 1 : len;
	/* 3. */
	fn = size1 - 1;
	sn = size2 - 1;
	/* 4. */
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	/* 5. */
	c = lead_root1 ? root1 : proof[0];
	memcpy(fr, c, MERKLE_HASH);
	memcpy(sr, c, MERKLE_HASH);
	/* 6. */
	for (i = 1; i < total; i++) {
		c = lead_root1 ? proof[i - 1] : proof[i];
		/* a. */
		if (sn == 0)
			return TG_EINVAL;
		/* b. */
		if ((fn & 1) != 0 || fn == sn) {
			if (merkle_node_hash(c, fr, fr) != 0 ||
			    merkle_node_hash(c, sr, sr) != 0)
				return TG_EINVAL;
			/*
			 * b.2: climb past the levels where the node is a
			 * left child without a right sibling.
			 */
			while ((fn & 1) == 0 && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			if (merkle_node_hash(sr, c, sr) != 0)
				return TG_EINVAL;
		}
		/* c. */
		fn >>= 1;
		sn >>= 1;
	}
	/* 7. */
	if (!hash_equal(fr, root1) || !hash_equal(sr, root2) || sn != 0)
		return TG_EINVAL;
	return 0;
}
