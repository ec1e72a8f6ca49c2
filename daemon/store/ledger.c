/*
 * ledger.c: quota reservations and export licenses, in the same SQLite
 * database and the same transactions as the audit log, so a reservation
 * exists exactly when the entry that made it does: both or neither.
 *
 * The balances are a cache of the log: every reservation names the entry
 * that made it, every release the void entry that released it, and
 * `audit verify` recomputes them from the signed entries (api/ledger.c).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

static void
copy_text(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", s != NULL ? (const char *)s : "");
}

static double
used_of(sqlite3 *db, const char *quota, const char *key)
{
	sqlite3_stmt *st;
	double v = 0;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(sum(amount), 0) FROM "
	    "reservations WHERE quota = ? AND key = ? AND void_seq IS NULL",
	    -1, &st, NULL) != SQLITE_OK)
		return NAN;
	sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

#define LICENSE_COLS "SELECT number, country, tpp, quantity, valid_until, " \
	"consignee, eccn, seq, revoked_seq FROM licenses "

static void
read_license(sqlite3 *db, sqlite3_stmt *st, struct audit_license *l)
{
	memset(l, 0, sizeof(*l));
	copy_text(l->number, sizeof(l->number), st, 0);
	copy_text(l->country, sizeof(l->country), st, 1);
	l->tpp = sqlite3_column_type(st, 2) == SQLITE_NULL ? NAN :
	    sqlite3_column_double(st, 2);
	l->quantity = sqlite3_column_type(st, 3) == SQLITE_NULL ? NAN :
	    sqlite3_column_double(st, 3);
	copy_text(l->valid_until, sizeof(l->valid_until), st, 4);
	copy_text(l->consignee, sizeof(l->consignee), st, 5);
	copy_text(l->eccn, sizeof(l->eccn), st, 6);
	l->seq = (uint64_t)sqlite3_column_int64(st, 7);
	l->revoked_seq = (uint64_t)sqlite3_column_int64(st, 8);
	/* Names shared with the engine (TG_QUOTA_LICENSE_*). */
	l->tpp_used = used_of(db, "license_tpp", l->number);
	l->quantity_used = used_of(db, "license_quantity", l->number);
}

static int
license_get(sqlite3 *db, const char *number, struct audit_license *out,
    bool *found)
{
	sqlite3_stmt *st;
	int rc;

	*found = false;
	if (sqlite3_prepare_v2(db, LICENSE_COLS "WHERE number = ?", -1, &st,
	    NULL) != SQLITE_OK)
		return TG_EIO;
	sqlite3_bind_text(st, 1, number, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		read_license(db, st, out);
		*found = true;
		rc = 0;
	} else
		rc = rc == SQLITE_DONE ? 0 : TG_EIO;
	sqlite3_finalize(st);
	return rc;
}

int
audit_tx_license(struct audit_tx *tx, const char *number,
    struct audit_license *out, bool *found)
{
	return license_get(audit_tx_log(tx)->db, number, out, found);
}

int
audit_license_get(struct tg_audit *a, const char *number,
    struct audit_license *out, bool *found, struct tg_error *err)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = license_get(a->db, number, out, found);
	pthread_mutex_unlock(&a->mu);
	if (rc != 0)
		return store_sqlite_error(err, a->db, sqlite3_errcode(a->db),
		    "licenses");
	return 0;
}

int
audit_license_list(struct tg_audit *a,
    int (*fn)(void *ctx, const struct audit_license *l), void *ctx,
    struct tg_error *err)
{
	struct audit_license l;
	sqlite3_stmt *st;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (sqlite3_prepare_v2(a->db, LICENSE_COLS "ORDER BY number", -1, &st,
	    NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, a->db, sqlite3_errcode(a->db),
		    "licenses");
		goto out;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		read_license(a->db, st, &l);
		rc = fn(ctx, &l);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_tx_decision_state(struct audit_tx *tx, const char *decision_id,
    bool *logged, bool *voided)
{
	sqlite3 *db = audit_tx_log(tx)->db;
	sqlite3_stmt *st;

	*logged = *voided = false;
	if (sqlite3_prepare_v2(db, "SELECT kind FROM entries WHERE "
	    "decision_id = ?", -1, &st, NULL) != SQLITE_OK)
		return TG_EIO;
	sqlite3_bind_text(st, 1, decision_id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);

		if (k != NULL && strcmp(k, "decision") == 0)
			*logged = true;
		else if (k != NULL && strcmp(k, "void") == 0)
			*voided = true;
	}
	sqlite3_finalize(st);
	return 0;
}

int
audit_tx_release(struct audit_tx *tx, const char *decision_id,
    uint64_t void_seq, int *released, struct tg_error *err)
{
	const char *text[1] = { decision_id };
	int64_t ints[1] = { (int64_t)void_seq };

	/* Integer parameters bind after text ones. */
	return audit_tx_exec(tx, "UPDATE reservations SET void_seq = ?2 "
	    "WHERE decision_id = ?1 AND void_seq IS NULL", text, 1, ints, 1,
	    released, err);
}

int
audit_balances(struct tg_audit *a, const char *quota, const char *key,
    const char *period, int (*fn)(void *ctx, const struct audit_balance *b),
    void *ctx, struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (sqlite3_prepare_v2(a->db, "SELECT quota, key, period, sum(amount) "
	    "FROM reservations WHERE void_seq IS NULL AND (?1 IS NULL OR "
	    "quota = ?1) AND (?2 IS NULL OR key = ?2) AND (?3 IS NULL OR "
	    "period = ?3) GROUP BY quota, key, period ORDER BY quota, key, "
	    "period", -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, a->db, sqlite3_errcode(a->db),
		    "ledger");
		goto out;
	}
	if (quota != NULL)
		sqlite3_bind_text(st, 1, quota, -1, SQLITE_STATIC);
	if (key != NULL)
		sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	if (period != NULL)
		sqlite3_bind_text(st, 3, period, -1, SQLITE_STATIC);
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct audit_balance b;

		b.quota = (const char *)sqlite3_column_text(st, 0);
		b.key = (const char *)sqlite3_column_text(st, 1);
		b.period = (const char *)sqlite3_column_text(st, 2);
		b.amount = sqlite3_column_double(st, 3);
		rc = fn(ctx, &b);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_scan(struct tg_audit *a,
    int (*fn)(void *ctx, const struct audit_entry *e), void *ctx,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	int rc = 0;

	pthread_mutex_lock(&a->mu);
	if (sqlite3_prepare_v2(a->db, "SELECT seq, time, kind, decision_id, "
	    "request, payload, body FROM entries ORDER BY seq", -1, &st,
	    NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, a->db, sqlite3_errcode(a->db),
		    "audit log");
		goto out;
	}
	while (rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
		struct audit_entry e;

		memset(&e, 0, sizeof(e));
		e.seq = (uint64_t)sqlite3_column_int64(st, 0);
		copy_text(e.time, sizeof(e.time), st, 1);
		copy_text(e.kind, sizeof(e.kind), st, 2);
		/* Borrowed for the callback only. */
		e.decision_id = (char *)(uintptr_t)sqlite3_column_text(st, 3);
		e.request = (char *)(uintptr_t)sqlite3_column_text(st, 4);
		e.payload = (char *)(uintptr_t)sqlite3_column_text(st, 5);
		e.body = (char *)(uintptr_t)sqlite3_column_text(st, 6);
		rc = fn(ctx, &e);
	}
	sqlite3_finalize(st);
out:
	pthread_mutex_unlock(&a->mu);
	return rc;
}

static int
query(struct tg_audit *a, bool lock, const char *sql,
    const char *const *params, size_t nparams,
    int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx,
    struct tg_error *err)
{
	sqlite3_stmt *st;
	const char *cols[16];
	int rc = 0, n, step;

	if (lock)
		pthread_mutex_lock(&a->mu);
	if (sqlite3_prepare_v2(a->db, sql, -1, &st, NULL) != SQLITE_OK) {
		rc = store_sqlite_error(err, a->db, sqlite3_errcode(a->db),
		    "query");
		goto out;
	}
	if (!sqlite3_stmt_readonly(st)) {
		sqlite3_finalize(st);
		rc = tg_error_set(err, TG_EINVAL, "not a read-only query");
		goto out;
	}
	for (size_t i = 0; i < nparams; i++)
		sqlite3_bind_text(st, (int)i + 1, params[i], -1,
		    SQLITE_STATIC);
	n = sqlite3_column_count(st);
	if (n > 16)
		n = 16;
	while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < n; i++)
			cols[i] = (const char *)sqlite3_column_text(st, i);
		rc = fn(ctx, n, cols);
	}
	sqlite3_finalize(st);
out:
	if (lock)
		pthread_mutex_unlock(&a->mu);
	return rc;
}

int
audit_query(struct tg_audit *a, const char *sql, const char *const *params,
    size_t nparams, int (*fn)(void *ctx, int ncols, const char *const *cols),
    void *ctx, struct tg_error *err)
{
	return query(a, true, sql, params, nparams, fn, ctx, err);
}

int
audit_tx_query(struct audit_tx *tx, const char *sql,
    const char *const *params, size_t nparams,
    int (*fn)(void *ctx, int ncols, const char *const *cols), void *ctx,
    struct tg_error *err)
{
	/* The transaction holds the lock already. */
	return query(audit_tx_log(tx), false, sql, params, nparams, fn, ctx,
	    err);
}
