/*
 * audit.h: the signed, append-only audit log.
 *
 * Every decision tiergate makes, and every act that changes what later
 * decisions mean (voids, hold resolutions, rule loads, key rotations,
 * batches), is an entry of a log kept in SQLite (tiergate.db in the data
 * dir).  Entries form a hash chain and the leaves of an RFC 6962 Merkle
 * tree; each commit group ends with a checkpoint in the C2SP
 * tlog-checkpoint format, signed with Ed25519.  A decision is answered only
 * after its group is committed (synchronous=FULL) and signed, and its
 * receipt proves its inclusion with nothing but the public key.
 *
 * The canonical entry hashed into the tree is
 *   {"kind":K,"pack_sha256":P,"payload_sha256":D,"prev":H,
 *    "request_sha256":R,"seq":N,"time":T}
 * (RFC 8785: keys sorted, no spaces), where D and R are SHA-256 of the
 * canonical payload (the decision without its receipt) and request, and H
 * is the previous entry's hash.  Entry hash = SHA-256(entry); leaf hash =
 * SHA-256(0x00 || entry).
 *
 * A struct tg_audit is one open log; its functions are serialized by an
 * internal mutex and may be called from any thread.
 */
#ifndef TIERGATE_AUDIT_H
#define TIERGATE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tiergate/error.h"
#include "tiergate/merkle.h"

struct tg_audit;
struct audit_entry;

#define AUDIT_CREATE 0x1	/* create the data dir, db and key if absent */
#define AUDIT_READONLY 0x2	/* open for verification and reports */
/* A thread of the log's own copies the WAL into the database, so that
 * commits never stop to do it (screen: large groups back to back);
 * audit_close() stops it. */
#define AUDIT_BG_CHECKPOINT 0x4

#define AUDIT_KIND_MAX 24
#define AUDIT_TIME_LEN 27	/* 2026-11-28T12:00:00.123456Z */

/*
 * Opens the log in data_dir.  With AUDIT_CREATE, creates the directory
 * (mode 0700), tiergate.db and a signing key pair (signing.key, mode 0600,
 * and signing.pub) when missing.  A private key readable by group or others
 * is refused.  Errors: TG_EIO, TG_ECRYPTO, TG_EINVAL (bad key file mode or
 * content), -ENOMEM; detail in err.
 */
int audit_open(const char *data_dir, unsigned flags, struct tg_audit **out,
    struct tg_error *err);
void audit_close(struct tg_audit *a);	/* NULL is a no-op */

/*
 * Whether the log still takes writes.  After an I/O error in a write (not
 * a full disk, not a busy database) it takes none through this open log:
 * audit_tx_begin and everything that writes fail with TG_EIO, saying why,
 * until the log is closed and opened again (tiergate restarted), when
 * SQLite's recovery reads back what the file really holds.  why (may be
 * NULL) gets the reason, "" when writable.  Thread-safe.
 */
bool audit_writable(struct tg_audit *a, char *why, size_t size);

/* The current key id: SHA-256 of the raw Ed25519 public key, hex. */
const char *audit_key_id(const struct tg_audit *a);
/* The log's origin line, e.g. "tiergate/5f1c3a9e0b7d4c21". */
const char *audit_origin(const struct tg_audit *a);

/* One entry to append.  Strings are borrowed for the call. */
struct audit_in {
	const char *kind;		/* decision, void, hold_resolution,
					   rules_loaded, key_rotation, batch */
	const char *decision_id;	/* NULL unless it names a decision */
	const char *request;		/* canonical JSON, "null" if none */
	size_t request_len;
	const char *payload;		/* canonical JSON of the record */
	size_t payload_len;
	const char *pack_sha256;	/* NULL -> "" */
};

/* What proves one entry.  Owns checkpoint (malloc'd). */
struct audit_receipt {
	uint64_t seq;			/* 1-based */
	uint64_t leaf_index;		/* seq - 1 */
	uint64_t tree_size;		/* of the checkpoint */
	char kind[AUDIT_KIND_MAX];
	char time[AUDIT_TIME_LEN + 1];
	char entry_hash[65];
	char prev[65];
	char request_sha256[65];
	char payload_sha256[65];
	char pack_sha256[65];
	char key_id[65];
	char signature[128];		/* base64, from the checkpoint */
	char *checkpoint;		/* the signed note */
	merkle_hash proof[MERKLE_PROOF_MAX];
	size_t nproof;
};

void audit_receipt_release(struct audit_receipt *r);

/*
 * Appends n entries as one group: one transaction, one fsync, one signed
 * checkpoint.  On success fills out[0..n) (the caller releases each).  On
 * failure nothing is appended and no receipt is filled.  Errors: TG_EIO
 * (SQLite, including SQLITE_FULL and SQLITE_BUSY past the timeout; the
 * message says which), TG_ECRYPTO, TG_EINVAL (a duplicate decision id),
 * -ENOMEM.
 */
int audit_append(struct tg_audit *a, const struct audit_in *in, size_t n,
    struct audit_receipt *out, struct tg_error *err);

/* ---- write transactions (commit groups) --------------------------------- */

/* A quota reservation made by an entry: amount of quota/key/period. */
struct audit_reserve {
	const char *quota;
	const char *key;
	const char *period;
	double amount;
};

struct audit_tx;

/*
 * Starts a commit group: takes the log's lock and BEGIN IMMEDIATE (so
 * other processes wait too).  Everything read through the transaction sees
 * its own writes, which is what keeps concurrent binding decisions from
 * over-allocating a quota: each is decided, in turn, on the balance left by
 * the ones before it.  End it with audit_tx_commit or audit_tx_abort.
 */
int audit_tx_begin(struct tg_audit *a, struct audit_tx **out,
    struct tg_error *err);
/* Reserved (not voided) amount of quota/key/period, this group included. */
int audit_tx_used(struct audit_tx *tx, const char *quota, const char *key,
    const char *period, double *out);
/* Appends one entry and its reservations (all or nothing).  *seq gets
 * its sequence number.  On failure the group is as before the call. */
int audit_tx_append(struct audit_tx *tx, const struct audit_in *in,
    const struct audit_reserve *res, size_t nres, uint64_t *seq,
    struct tg_error *err);
/* Runs one statement of the ledger inside the group (bound text then
 * integer parameters); *changes gets the rows changed.  TG_EINVAL for a
 * constraint violation. */
int audit_tx_exec(struct audit_tx *tx, const char *sql,
    const char *const *text, size_t ntext, const int64_t *ints, size_t nints,
    int *changes, struct tg_error *err);
/* Signs the checkpoint, commits (one fsync) and fills one receipt per
 * appended entry (n must be their number).  Frees tx either way; on
 * failure nothing of the group exists. */
int audit_tx_commit(struct audit_tx *tx, struct audit_receipt *out,
    size_t n, struct tg_error *err);
void audit_tx_abort(struct audit_tx *tx);	/* NULL is a no-op */
struct tg_audit *audit_tx_log(struct audit_tx *tx);

/* ---- the ledger (daemon/store/ledger.c) ---------------------------------- */

/* A registered export license and what is used of it. */
struct audit_license {
	char number[65];
	char country[3];
	char valid_until[11];		/* YYYY-MM-DD */
	char consignee[256];		/* "" when any */
	char eccn[32];			/* "" when any */
	double tpp;			/* NAN: no TPP limit */
	double quantity;		/* NAN: no quantity limit */
	double tpp_used;
	double quantity_used;
	uint64_t seq;			/* entry that registered it */
	uint64_t revoked_seq;		/* 0 unless revoked */
};

/* Looks a license up inside a group (its own writes included).
 * Returns 0 with found false when unknown. */
int audit_tx_license(struct audit_tx *tx, const char *number,
    struct audit_license *out, bool *found);
/* Same, outside a transaction. */
int audit_license_get(struct tg_audit *a, const char *number,
    struct audit_license *out, bool *found, struct tg_error *err);
/* Calls fn for every license, in number order. */
int audit_license_list(struct tg_audit *a,
    int (*fn)(void *ctx, const struct audit_license *l), void *ctx,
    struct tg_error *err);

/* Runs a read-only query on the log's database, under its lock: fn gets
 * each row's text columns.  For the api layer's reports and holds. */
int audit_query(struct tg_audit *a, const char *sql,
    const char *const *params, size_t nparams,
    int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx,
    struct tg_error *err);

/* The same inside a write transaction (sees its writes). */
int audit_tx_query(struct audit_tx *tx, const char *sql,
    const char *const *params, size_t nparams,
    int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx,
    struct tg_error *err);

/* Whether decision_id is logged, and whether a void entry names it. */
int audit_tx_decision_state(struct audit_tx *tx, const char *decision_id,
    bool *logged, bool *voided);
/* Marks every reservation of decision_id released by entry void_seq;
 * *released gets how many rows. */
int audit_tx_release(struct audit_tx *tx, const char *decision_id,
    uint64_t void_seq, int *released, struct tg_error *err);

/* One balance of the ledger: reserved and not released. */
struct audit_balance {
	const char *quota, *key, *period;
	double amount;
};

/* Calls fn for every (quota, key, period) with a reservation, filtered
 * by quota/key/period prefixes when not NULL. */
int audit_balances(struct tg_audit *a, const char *quota, const char *key,
    const char *period, int (*fn)(void *ctx, const struct audit_balance *b),
    void *ctx, struct tg_error *err);

/* Calls fn for every entry in order (for recomputing the ledger). */
int audit_scan(struct tg_audit *a,
    int (*fn)(void *ctx, const struct audit_entry *e), void *ctx,
    struct tg_error *err);

/* The latest signed checkpoint (malloc'd note text; caller frees), or
 * NULL with *size 0 when the log is empty. */
int audit_checkpoint(struct tg_audit *a, char **note, uint64_t *size,
    struct tg_error *err);

/* Consistency proof between tree sizes m and n of this log. */
int audit_consistency_proof(struct tg_audit *a, uint64_t m, uint64_t n,
    merkle_hash *proof, size_t *len, struct tg_error *err);

/* One stored entry, for show/export.  Strings are malloc'd; release with
 * audit_entry_release. */
struct audit_entry {
	uint64_t seq;
	char kind[AUDIT_KIND_MAX];
	char time[AUDIT_TIME_LEN + 1];
	char *decision_id;		/* NULL when none */
	char *request;
	char *payload;
	char *body;			/* the canonical entry */
	char entry_hash[65];
};

void audit_entry_release(struct audit_entry *e);

/* Reads entry seq (TG_ENOTFOUND when absent). */
int audit_get(struct tg_audit *a, uint64_t seq, struct audit_entry *out,
    struct tg_error *err);
/* Finds the decision entry of a decision id (TG_ENOTFOUND when absent). */
int audit_find_decision(struct tg_audit *a, const char *decision_id,
    struct audit_entry *out, struct tg_error *err);
/* Number of entries. */
int audit_size(struct tg_audit *a, uint64_t *n, struct tg_error *err);

/*
 * Builds the receipt of entry seq against the latest checkpoint (for
 * export and for answering GET /v1/decisions/{id} later).
 */
int audit_receipt_for(struct tg_audit *a, uint64_t seq,
    struct audit_receipt *out, struct tg_error *err);

/* ---- verification ---------------------------------------------------- */

/* Kinds of damage audit_verify names. */
enum audit_damage {
	AUDIT_OK,
	AUDIT_MODIFIED,
	AUDIT_MISSING,
	AUDIT_REORDERED,
	AUDIT_INSERTED,
	AUDIT_BAD_SIGNATURE,
	AUDIT_TRUNCATED,
	AUDIT_UNKNOWN_KEY,
};

const char *audit_damage_name(enum audit_damage d);

enum audit_anchor {
	AUDIT_ANCHOR_NONE,	/* no signing.pub and no --key: self-anchored */
	AUDIT_ANCHOR_FILE,	/* the data dir's signing.pub */
	AUDIT_ANCHOR_GIVEN,	/* a key given by the caller */
};

struct audit_report {
	enum audit_damage damage;
	enum audit_anchor anchor;
	uint64_t seq;			/* the first bad entry (0: none) */
	uint64_t entries;		/* entries checked */
	uint64_t checkpoints;		/* checkpoints checked */
	uint64_t keys;			/* keys in the chain */
	char detail[TG_ERR_MSG_MAX];
	char root[65];			/* recomputed root, hex */
};

/*
 * Recomputes every entry, the hash chain and the whole tree from the
 * stored contents, checks every checkpoint's root and signature, the key
 * chain (the first key must be trusted_pub when given, a raw 32-byte
 * Ed25519 key, else the data dir's signing.pub), and, with saved_note, that
 * the log extends that checkpoint.  Returns 0 with report->damage AUDIT_OK
 * or the first damage found; a negative code only when it could not check
 * (I/O, memory).
 */
int audit_verify(struct tg_audit *a, const uint8_t *trusted_pub,
    const char *saved_note, struct audit_report *report,
    struct tg_error *err);

/*
 * SQLite's own check of the database file (PRAGMA integrity_check): every
 * page, every index against its table.  audit_verify reads the log's
 * tables, not the indexes it does not use, such as the one decisions are
 * looked up by; a damaged page there leaves a log that verifies but whose
 * decisions cannot be found.  Sets *ok, and the first problem SQLite names
 * in detail.  Returns 0, or a negative code when it could not check
 * (TG_ECORRUPT when the file is too damaged to run the check at all).
 */
int audit_check_file(struct tg_audit *a, bool *ok, char *detail, size_t size,
    struct tg_error *err);

/* Verifies a checkpoint note against every key of this log's chain:
 * fills size and root; TG_EINVAL when no key of the log signed it. */
int audit_note_check(struct tg_audit *a, const char *note, uint64_t *size,
    merkle_hash root, struct tg_error *err);

/* ---- offline checks (no database) -------------------------------------- */

/*
 * Verifies a signed checkpoint note with public key pub (32 raw bytes):
 * fills size and root.  Returns 0, or TG_EINVAL (malformed, no signature by
 * that key, bad signature) with err saying which.
 */
int audit_note_verify(const char *note, const uint8_t pub[32],
    uint64_t *size, merkle_hash root, struct tg_error *err);

/*
 * Recomputes the leaf of a receipt whose payload hashes to payload_sha256
 * and checks its inclusion proof against the receipt's checkpoint and the
 * checkpoint's signature by pub.  Returns 0 or TG_EINVAL with err.
 */
int audit_receipt_verify(const struct audit_receipt *r,
    const char *payload_sha256, const uint8_t pub[32], struct tg_error *err);

/* Builds the canonical entry text of a receipt's fields into buf (at
 * least 512 bytes); returns its length or a negative code. */
int audit_entry_text(const char *kind, const char *pack_sha256,
    const char *payload_sha256, const char *prev, const char *request_sha256,
    uint64_t seq, const char *time, char *buf, size_t size);

/* Reads a PEM Ed25519 public key file into 32 raw bytes. */
int audit_read_pubkey(const char *path, uint8_t pub[32],
    struct tg_error *err);

/* Makes a new key pair in data_dir (keygen).  If the log already has a
 * key, the new one is appended as a key rotation, signed by both keys. */
int audit_keygen(const char *data_dir, char key_id[65], struct tg_error *err);

#endif
