/*
 * store_int.h: private to daemon/store: the open log and the key and note
 * helpers shared by audit.c (writing), verify.c (checking) and keys.c.
 */
#ifndef TIERGATE_STORE_INT_H
#define TIERGATE_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "tiergate/audit.h"
#include "tiergate/error.h"
#include "tiergate/merkle.h"

#define KEY_FILE "signing.key"
#define PUB_FILE "signing.pub"
#define DB_FILE "tiergate.db"
#define NOTE_MAX 4096

struct tg_audit {
	pthread_mutex_t mu;
	sqlite3 *db;
	char *dir;
	EVP_PKEY *key;			/* current signing key (NULL read-only) */
	uint8_t pub[32];
	char key_id[65];
	char origin[64];
	bool readonly;
	/* Why the log takes no more writes ("" while it does): set, under
	 * mu, by the first I/O error of a write (audit.c, io_failed). */
	char broken[TG_ERR_MSG_MAX];
	/* Write statements, prepared on first use and kept: a commit group
	 * of one entry should not pay for compiling SQL. */
	sqlite3_stmt *st_tget, *st_ins, *st_tins, *st_rins, *st_used;
	/* BEGIN IMMEDIATE, COMMIT, SAVEPOINT/RELEASE entry: run for every
	 * group and entry, so compiled once too (audit.c, run_ctl). */
	sqlite3_stmt *st_ctl[4];
	/* Tree nodes recently read or written (audit.c, "the tree"), or
	 * NULL until the first write transaction; under mu. */
	struct tree_cache *tcache;
	/* AUDIT_BG_CHECKPOINT: the checkpointer thread, its connection,
	 * and the WAL size the last commit left (audit.c, "the WAL"). */
	bool ck_running, ck_stop;
	pthread_t ck_thread;
	pthread_mutex_t ck_mu;
	pthread_cond_t ck_cv;
	sqlite3 *ckdb;
	_Atomic size_t wal_pages;
};

/* keys.c */
int key_load_private(const char *path, EVP_PKEY **out, struct tg_error *err);
int key_generate(EVP_PKEY **out, struct tg_error *err);
int key_write_pair(const char *dir, const char *keyname, const char *pubname,
    EVP_PKEY *k, struct tg_error *err);
int key_raw_public(EVP_PKEY *k, uint8_t pub[32], struct tg_error *err);
/* The key id of pub (SHA-256, hex) into id; TG_ECRYPTO (id "") when
 * the digest fails, which must not pass for a key id of zeros. */
int key_id_of(const uint8_t pub[32], char id[65]);
int key_sign(EVP_PKEY *k, const void *msg, size_t len, uint8_t sig[64],
    struct tg_error *err);
int key_verify_raw(const uint8_t pub[32], const void *msg, size_t len,
    const uint8_t sig[64]);

/* note.c: C2SP signed notes carrying tlog checkpoints. */
int note_sign(const char *origin, uint64_t size, const merkle_hash root,
    EVP_PKEY *const *keys, const uint8_t (*pubs)[32], size_t nkeys,
    char *out, size_t outsz, struct tg_error *err);
/* Splits a note: the checkpoint body and, for key pub, whether it carries
 * a valid signature by it.  Returns 0 when the body parses; *signed_ok
 * says whether pub signed it. */
int note_parse(const char *note, const char *name, const uint8_t pub[32],
    char *origin, size_t originsz, uint64_t *size, merkle_hash root,
    bool *signed_ok, char *sig_b64, size_t sigsz);

/* Copies the base64 text of the note's signature line by the key pub named
 * name ("" when there is none).  The signature itself is not checked. */
void note_signature_by(const char *note, const char *name,
    const uint8_t pub[32], char *out, size_t size);

/* Base64 (standard, padded) with OpenSSL. */
int b64_encode(const void *p, size_t n, char *out, size_t outsz);
int b64_decode(const char *s, uint8_t *out, size_t outsz, size_t *n);

/* audit.c: for the other store modules (tokens.c): the log's database,
 * used under the log's mutex. */
sqlite3 *audit_db(struct tg_audit *a);
pthread_mutex_t *audit_mutex(struct tg_audit *a);

/* audit.c */
int store_sqlite_error(struct tg_error *err, sqlite3 *db, int rc,
    const char *what);
void time_now(char out[AUDIT_TIME_LEN + 1]);

#endif
