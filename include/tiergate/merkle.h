/*
 * merkle.h: RFC 6962 / RFC 9162 Merkle tree hashing and proofs.
 *
 * Leaf hash = SHA-256(0x00 || data); node hash = SHA-256(0x01 || l || r).
 * Proof generation reads subtree hashes through a callback, so the tree
 * can live anywhere (the audit log keeps every complete subtree in SQLite
 * and so answers any proof in O(log n) lookups).  Verification is pure and
 * is what an auditor runs offline.  No allocation; thread-safe.
 */
#ifndef TIERGATE_MERKLE_H
#define TIERGATE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH 32
#define MERKLE_PROOF_MAX 64	/* any inclusion proof; consistency up to 2^63 */

typedef uint8_t merkle_hash[MERKLE_HASH];

/* Plain SHA-256 (the fast path shared by the store).  0 or TG_ECRYPTO. */
int merkle_sha256(const void *data, size_t len, uint8_t out[MERKLE_HASH]);
/* SHA-256(0x00 || data).  Returns 0 or TG_ECRYPTO. */
int merkle_leaf_hash(const void *data, size_t len, merkle_hash out);
/* SHA-256(0x01 || l || r). */
int merkle_node_hash(const merkle_hash l, const merkle_hash r,
    merkle_hash out);
/* SHA-256 of the empty string: the root of an empty tree. */
void merkle_empty_root(merkle_hash out);

/*
 * Hash of the complete subtree of 2^level leaves starting at leaf
 * index * 2^level.  Returns 0, or a negative code that aborts the caller.
 */
typedef int (*merkle_subtree_fn)(void *ctx, unsigned level, uint64_t index,
    merkle_hash out);

/* Root of the first n leaves (n >= 1). */
int merkle_root(merkle_subtree_fn get, void *ctx, uint64_t n,
    merkle_hash out);

/* Inclusion proof of leaf m in the tree of n leaves (m < n): *len hashes
 * into proof (at most MERKLE_PROOF_MAX). */
int merkle_inclusion_proof(merkle_subtree_fn get, void *ctx, uint64_t m,
    uint64_t n, merkle_hash *proof, size_t *len);

/* Consistency proof from size m to size n (0 < m <= n). */
int merkle_consistency_proof(merkle_subtree_fn get, void *ctx, uint64_t m,
    uint64_t n, merkle_hash *proof, size_t *len);

/* Verifies an inclusion proof (RFC 9162 2.1.3.2).  Returns 0 when leaf
 * m of a tree of size n with root `root` is `leaf`, else TG_EINVAL. */
int merkle_verify_inclusion(uint64_t m, uint64_t n, const merkle_hash leaf,
    const merkle_hash *proof, size_t len, const merkle_hash root);

/* Verifies a consistency proof (RFC 9162 2.1.4.2) between root1 of size1
 * and root2 of size2.  Returns 0 or TG_EINVAL. */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
    const merkle_hash root1, const merkle_hash root2,
    const merkle_hash *proof, size_t len);

#endif
