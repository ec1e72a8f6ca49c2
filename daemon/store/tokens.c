/*
 * tokens.c: bearer tokens for the HTTP API (tokens.h), in the tokens
 * table of the audit database (schema v3, audit.c).
 *
 * A secret is "tg_" and 64 lower-case hex digits of 32 bytes from
 * RAND_bytes.  Only SHA-256(secret) is stored; the public id is the first
 * 16 hex digits of that hash, so it can be shown and logged without
 * weakening the secret (64 bits of a hash of 256 random bits).
 *
 * Invariants: the secret never reaches the database, the audit log or
 * an error message, and is wiped from our memory once copied out.  Every
 * statement runs under the log's mutex (the connection is shared with
 * the audit writer).  Creating and revoking a token each commit in the
 * same transaction as their audit entry (kind "token"), through the
 * audit log's commit groups, so the log can never miss a token that
 * exists nor name one that does not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store_int.h"
#include "tiergate/tokens.h"
#include "tiergate/util.h"

#define SECRET_PREFIX "tg_"
#define SECRET_BYTES 32
#define NAME_MAX_LEN 100
#define PAYLOAD_MAX 512
/* token_list collects rows before calling back (see there); a cap keeps
 * a damaged or hostile database from exhausting memory. */
#define LIST_MAX 100000

static const char *const role_names[] = {
	[TG_ROLE_NONE] = "none",
	[TG_ROLE_SCREEN] = "screen",
	[TG_ROLE_AUDIT] = "audit",
	[TG_ROLE_ADMIN] = "admin",
};

const char *
role_name(enum tg_role r)
{
	if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0]))
		return "none";
	return role_names[r];
}

int
role_parse(const char *s, enum tg_role *out)
{
	/* "none" is not a role one can give a token. */
	for (unsigned r = TG_ROLE_SCREEN; r <= TG_ROLE_ADMIN; r++) {
		if (s != NULL && strcmp(s, role_names[r]) == 0) {
			*out = (enum tg_role)r;
			return 0;
		}
	}
	*out = TG_ROLE_NONE;
	return TG_EINVAL;
}

/*
 * Names go into the audit payload as JSON strings built by hand; keeping
 * them to characters that need no escaping makes the canonical form
 * (RFC 8785) trivially right.  NULL and "" mean no name.
 */
static bool
name_ok(const char *s)
{
	size_t n;

	if (s == NULL || s[0] == '\0')
		return true;
	n = strlen(s);
	if (n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == ' ' || c == '.' ||
		    c == '_' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

static bool
id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		    (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 16;
}

static int
sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int dl = 0;

	if (EVP_Digest(p, n, out, &dl, EVP_sha256(), NULL) != 1 || dl != 32) {
		ERR_clear_error();
		return TG_ECRYPTO;
	}
	return 0;
}

/* {"action":A,"id":I,"name":N,"role":R}: keys sorted, no spaces, every
 * value from a set of characters that needs no escaping (RFC 8785). */
static int
payload_text(char *buf, size_t size, const char *action, const char *id,
    const char *name, enum tg_role role)
{
	int n;

	n = snprintf(buf, size, "{\"action\":\"%s\",\"id\":\"%s\","
	    "\"name\":\"%s\",\"role\":\"%s\"}", action, id, name,
	    role_name(role));
	if (n < 0 || (size_t)n >= size)
		return TG_EINTERNAL;
	return n;
}

/* Appends the token entry to the open group and commits it. */
static int
commit_entry(struct audit_tx *tx, const char *payload, size_t len,
    struct tg_error *err)
{
	struct audit_in in;
	struct audit_receipt r;
	int rc;

	memset(&in, 0, sizeof(in));
	in.kind = "token";
	in.request = "null";
	in.request_len = 4;
	in.payload = payload;
	in.payload_len = len;
	rc = audit_tx_append(tx, &in, NULL, 0, NULL, err);
	if (rc != 0) {
		audit_tx_abort(tx);
		return rc;
	}
	memset(&r, 0, sizeof(r));
	/* Frees tx whatever happens. */
	rc = audit_tx_commit(tx, &r, 1, err);
	if (rc == 0)
		audit_receipt_release(&r);
	return rc;
}

int
token_create(struct tg_audit *a, enum tg_role role, const char *name,
    char secret[TOKEN_SECRET_LEN + 1], struct tg_token_info *info,
    struct tg_error *err)
{
	uint8_t raw[SECRET_BYTES], hash[32];
	char hex[65], payload[PAYLOAD_MAX];
	struct audit_tx *tx = NULL;
	struct tg_token_info t;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc, plen;

	memset(&t, 0, sizeof(t));
	secret[0] = '\0';
	if (role < TG_ROLE_SCREEN || role > TG_ROLE_ADMIN) {
		rc = tg_error_set(err, TG_EINVAL, "a token's role is screen, "
		    "audit or admin");
		goto out;
	}
	if (!name_ok(name)) {
		rc = tg_error_set(err, TG_EINVAL, "a token name is 1 to %d "
		    "letters, digits, spaces and . _ @ -", NAME_MAX_LEN);
		goto out;
	}
	/* The OS CSPRNG through OpenSSL's DRBG, never rand(). */
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		ERR_clear_error();
		rc = tg_error_set(err, TG_ECRYPTO, "no random bytes for the "
		    "token");
		goto out;
	}
	hex_encode(raw, sizeof(raw), hex);
	memcpy(secret, SECRET_PREFIX, 3);
	memcpy(secret + 3, hex, 64);
	secret[TOKEN_SECRET_LEN] = '\0';
	rc = sha256(secret, TOKEN_SECRET_LEN, hash);
	if (rc != 0) {
		tg_error_set(err, rc, "SHA-256 failed");
		goto out;
	}
	hex_encode(hash, 8, t.id);
	snprintf(t.name, sizeof(t.name), "%s", name != NULL ? name : "");
	t.role = role;
	time_now(t.created);
	plen = payload_text(payload, sizeof(payload), "create", t.id, t.name,
	    role);
	if (plen < 0) {
		rc = tg_error_set(err, plen, "token payload too long");
		goto out;
	}

	/* BEGIN IMMEDIATE under the log's mutex; the statements below run
	 * inside the group, on the log's connection. */
	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0)
		goto out;
	db = audit_db(a);
	if (sqlite3_prepare_v2(db, "INSERT INTO tokens (id, name, role, hash, "
	    "created) VALUES (?, ?, ?, ?, ?)", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, db, sqlite3_errcode(db), "tokens");
		goto out;
	}
	sqlite3_bind_text(st, 1, t.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t.name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role_name(role), -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_text(st, 5, t.created, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		/* 64 bits of id colliding: vanishingly rare, not silent. */
		rc = tg_error_set(err, TG_EINTERNAL, "token id '%s' is already "
		    "taken; try again", t.id);
		goto out;
	}
	if (rc != SQLITE_DONE) {
		rc = store_sqlite_error(err, db, rc, "tokens");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = commit_entry(tx, payload, (size_t)plen, err);
	tx = NULL;		/* commit_entry ended the group */
	if (rc == 0 && info != NULL)
		*info = t;
out:
	sqlite3_finalize(st);
	audit_tx_abort(tx);
	OPENSSL_cleanse(raw, sizeof(raw));
	OPENSSL_cleanse(hex, sizeof(hex));
	if (rc != 0)
		OPENSSL_cleanse(secret, TOKEN_SECRET_LEN + 1);
	return rc;
}

int
token_revoke(struct tg_audit *a, const char *id, struct tg_error *err)
{
	char payload[PAYLOAD_MAX], name[NAME_MAX_LEN + 1];
	struct audit_tx *tx = NULL;
	sqlite3_stmt *st = NULL;
	enum tg_role role;
	const char *s;
	sqlite3 *db;
	int rc, plen;
	bool revoked;

	/* A malformed id is not quoted back: it may be a secret pasted
	 * into the wrong place, and messages end up in logs. */
	if (!id_ok(id))
		return tg_error_set(err, TG_ENOTFOUND, "no token with that id "
		    "(ids are 16 hex digits, as 'token list' shows)");
	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0)
		goto out;
	db = audit_db(a);
	if (sqlite3_prepare_v2(db, "SELECT name, role, revoked FROM tokens "
	    "WHERE id = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, db, sqlite3_errcode(db), "tokens");
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		rc = tg_error_set(err, TG_ENOTFOUND, "no token with id '%s'",
		    id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		rc = store_sqlite_error(err, db, rc, "tokens");
		goto out;
	}
	s = (const char *)sqlite3_column_text(st, 0);
	/* The name goes into JSON unescaped: a row that bypassed
	 * token_create's check is refused rather than trusted. */
	if (s == NULL || !name_ok(s) ||
	    role_parse((const char *)sqlite3_column_text(st, 1), &role) != 0) {
		rc = tg_error_set(err, TG_EINTERNAL, "token '%s' has a bad "
		    "name or role in the database", id);
		goto out;
	}
	snprintf(name, sizeof(name), "%s", s);
	revoked = sqlite3_column_int(st, 2) != 0;
	sqlite3_finalize(st);
	st = NULL;
	if (revoked) {
		rc = tg_error_set(err, TG_EINVAL, "token '%s' is already "
		    "revoked", id);
		goto out;
	}
	plen = payload_text(payload, sizeof(payload), "revoke", id, name,
	    role);
	if (plen < 0) {
		rc = tg_error_set(err, plen, "token payload too long");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "UPDATE tokens SET revoked = 1 WHERE "
	    "id = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, db, sqlite3_errcode(db), "tokens");
		goto out;
	}
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		rc = store_sqlite_error(err, db, rc, "tokens");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	rc = commit_entry(tx, payload, (size_t)plen, err);
	tx = NULL;		/* commit_entry ended the group */
out:
	sqlite3_finalize(st);
	audit_tx_abort(tx);
	return rc;
}

static void
read_row(sqlite3_stmt *st, struct tg_token_info *t)
{
	const char *s;

	memset(t, 0, sizeof(*t));
	s = (const char *)sqlite3_column_text(st, 0);
	snprintf(t->id, sizeof(t->id), "%s", s != NULL ? s : "");
	s = (const char *)sqlite3_column_text(st, 1);
	snprintf(t->name, sizeof(t->name), "%s", s != NULL ? s : "");
	if (role_parse((const char *)sqlite3_column_text(st, 2),
	    &t->role) != 0)
		t->role = TG_ROLE_NONE;
	s = (const char *)sqlite3_column_text(st, 3);
	snprintf(t->created, sizeof(t->created), "%s", s != NULL ? s : "");
	t->revoked = sqlite3_column_int(st, 4) != 0;
}

/*
 * The rows are copied out before fn runs, so fn may call into the log
 * (or be slow, writing to a pipe) without holding the mutex every HTTP
 * request's token check needs.
 */
int
token_list(struct tg_audit *a,
    int (*fn)(void *ctx, const struct tg_token_info *t), void *ctx,
    struct tg_error *err)
{
	struct tg_token_info *v = NULL, *nv;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc = 0, step;

	pthread_mutex_lock(audit_mutex(a));
	db = audit_db(a);
	if (sqlite3_prepare_v2(db, "SELECT id, name, role, created, revoked "
	    "FROM tokens ORDER BY created, id", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, db, sqlite3_errcode(db), "tokens");
		pthread_mutex_unlock(audit_mutex(a));
		return rc;
	}
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == LIST_MAX) {
			rc = tg_error_set(err, TG_ETOOBIG, "more than %d "
			    "tokens", LIST_MAX);
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = tg_error_set(err, -ENOMEM, "out of "
				    "memory");
				break;
			}
			v = nv;
		}
		read_row(st, &v[n++]);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = store_sqlite_error(err, db, step, "tokens");
	sqlite3_finalize(st);
	pthread_mutex_unlock(audit_mutex(a));
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = fn(ctx, &v[i]);
	free(v);
	return rc;
}

int
token_check(struct tg_audit *a, const char *secret, size_t len,
    enum tg_role *role, char id[17])
{
	uint8_t hash[32], stored[32];
	char sid[17], srole[16];
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	bool found = false, revoked = true;
	const void *blob;
	const char *s;
	int rc = 0, step;

	*role = TG_ROLE_NONE;
	if (id != NULL)
		id[0] = '\0';
	memset(stored, 0, sizeof(stored));
	sid[0] = srole[0] = '\0';
	/* The format is public; only well-formed secrets cost a lookup. */
	if (secret == NULL || len != TOKEN_SECRET_LEN ||
	    memcmp(secret, SECRET_PREFIX, 3) != 0)
		return 0;
	if (sha256(secret, len, hash) != 0)
		return TG_ECRYPTO;

	pthread_mutex_lock(audit_mutex(a));
	db = audit_db(a);
	if (sqlite3_prepare_v2(db, "SELECT id, role, revoked, hash FROM "
	    "tokens WHERE hash = ?", -1, &st, NULL) != SQLITE_OK) {
		rc = TG_EIO;
		goto out;
	}
	sqlite3_bind_blob(st, 1, hash, sizeof(hash), SQLITE_STATIC);
	step = sqlite3_step(st);
	if (step == SQLITE_ROW) {
		blob = sqlite3_column_blob(st, 3);
		if (blob != NULL && sqlite3_column_bytes(st, 3) == 32) {
			memcpy(stored, blob, 32);
			found = true;
		}
		s = (const char *)sqlite3_column_text(st, 0);
		snprintf(sid, sizeof(sid), "%s", s != NULL ? s : "");
		s = (const char *)sqlite3_column_text(st, 1);
		snprintf(srole, sizeof(srole), "%s", s != NULL ? s : "");
		revoked = sqlite3_column_int(st, 2) != 0;
	} else if (step != SQLITE_DONE)
		rc = TG_EIO;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(audit_mutex(a));
	/* The index lookup already matched; comparing again in constant
	 * time is what keeps a timing difference from ever depending on how
	 * much of a hash matched, whatever SQLite does inside. */
	if (rc == 0 && found && CRYPTO_memcmp(stored, hash, 32) == 0 &&
	    !revoked && role_parse(srole, role) == 0 && id != NULL)
		memcpy(id, sid, sizeof(sid));
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(stored, sizeof(stored));
	return rc;
}
