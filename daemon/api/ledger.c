/*
 * ledger.c: the decision pipeline that binds the engine, the quota and
 * license ledger and the audit log, and the ledger's own records (voids,
 * licenses) and their verification from the log.
 *
 * A binding decision's reservations are appended in the same entry
 * transaction as the decision itself; the decision JSON names what it
 * reserved (quotas[].reserved), so every balance can be recomputed from
 * signed entries alone.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"
#include "tiergate/jcs.h"
#include "tiergate/util.h"

static int
tx_used(void *ctx, const char *name, const char *key, const char *period,
    double *out)
{
	return audit_tx_used(ctx, name, key, period, out) == 0 ? 0 : TG_EIO;
}

struct lic_ctx {
	struct audit_tx *tx;
	struct audit_license l;
};

int
api_tx_license(struct audit_tx *tx, const char *number,
    struct audit_license *l, struct tg_license *out)
{
	bool found;
	tg_date d;

	memset(out, 0, sizeof(*out));
	if (audit_tx_license(tx, number, l, &found) != 0)
		return TG_EIO;
	if (!found)
		return 0;
	out->found = true;
	out->revoked = l->revoked_seq != 0;
	if (cc_parse(l->country, strlen(l->country), &out->country) != 0)
		out->country = TG_CC_NONE;
	out->eccn = l->eccn[0] ? l->eccn : NULL;
	out->consignee = l->consignee[0] ? l->consignee : NULL;
	out->valid_until = date_parse(l->valid_until, strlen(l->valid_until),
	    &d) == 0 ? d : TG_DATE_NONE;
	out->tpp = l->tpp;
	out->quantity = l->quantity;
	out->tpp_used = l->tpp_used;
	out->quantity_used = l->quantity_used;
	return 0;
}

static int
tx_license(void *ctx, const char *number, struct tg_license *out)
{
	struct lic_ctx *c = ctx;

	return api_tx_license(c->tx, number, &c->l, out);
}

/* The quota provider asks by name only; license lookups need their own
 * context, so the two share one through this dispatcher. */
struct both_ctx {
	struct audit_tx *tx;
	struct lic_ctx lc;
};

static int
both_used(void *ctx, const char *name, const char *key, const char *period,
    double *out)
{
	return tx_used(((struct both_ctx *)ctx)->tx, name, key, period, out);
}

static int
both_license(void *ctx, const char *number, struct tg_license *out)
{
	return tx_license(&((struct both_ctx *)ctx)->lc, number, out);
}

int
api_log_decision(struct audit_tx *tx, struct tg_pack *pack,
    const struct tg_decision *d, const char *request, size_t request_len,
    const char *decision_id, bool reserve, struct tg_error *err)
{
	struct audit_reserve *res = NULL;
	struct audit_in in;
	struct tg_buf pay;
	size_t nres = 0;
	int rc;

	buf_init(&pay, 16u << 20);	/* far beyond any decision */
	rc = api_decision_jcs(d, decision_id, &pay);
	if (rc != 0) {
		rc = tg_error_set(err, rc == TG_EINVAL ? TG_EINVAL : -ENOMEM,
		    "cannot encode the decision");
		goto out;
	}
	if (reserve && d->nquotas > 0) {
		res = calloc(d->nquotas, sizeof(*res));
		if (res == NULL) {
			rc = tg_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < d->nquotas; i++) {
			if (!(d->quotas[i].reserved > 0))
				continue;
			res[nres].quota = d->quotas[i].name;
			res[nres].key = d->quotas[i].key;
			res[nres].period = d->quotas[i].period;
			res[nres++].amount = d->quotas[i].reserved;
		}
	}
	memset(&in, 0, sizeof(in));
	in.kind = "decision";
	in.decision_id = decision_id;
	in.request = request != NULL ? request : "null";
	in.request_len = request != NULL ? request_len : 4;
	in.payload = pay.p;
	in.payload_len = pay.len;
	in.pack_sha256 = pack_sha256(pack);
	rc = audit_tx_append(tx, &in, res, nres, NULL, err);
out:
	free(res);
	buf_release(&pay);
	return rc;
}

int
api_decide_in_tx(struct audit_tx *tx, struct tg_pack *pack,
    const struct tg_query *q, const char *request, size_t request_len,
    const char *decision_id, struct tg_decision **dout, struct tg_error *err)
{
	struct both_ctx bc = { .tx = tx, .lc = { .tx = tx } };
	struct tg_quota_ops ops = { .used = both_used,
	    .license = both_license, .ctx = &bc };
	struct tg_decision *d = NULL;
	int rc;

	*dout = NULL;
	rc = eval_decide(pack, q, &ops, &d, err);
	if (rc == 0)
		rc = api_log_decision(tx, pack, d, request, request_len,
		    decision_id, !q->dry_run, err);
	if (rc != 0) {
		decision_free(d);
		return rc;
	}
	*dout = d;
	return 0;
}

int
api_attach_receipt(json_t *decision, const struct audit_receipt *r)
{
	json_t *rj = api_receipt_to_json(r);

	if (rj == NULL || json_object_set_new(decision, "receipt", rj) != 0)
		return -ENOMEM;
	return 0;
}

/* Appends a ledger record (void, license, license_revoked) built as
 * canonical JSON. */
static int
append_record(struct audit_tx *tx, const char *kind, const char *id,
    json_t *payload, uint64_t *seq, struct tg_error *err)
{
	struct audit_in in;
	char *pay;
	int rc;

	pay = payload != NULL ? jcs_dumps(payload) : NULL;
	if (pay == NULL)
		return tg_error_set(err, -ENOMEM, "cannot encode the record");
	memset(&in, 0, sizeof(in));
	in.kind = kind;
	in.decision_id = id;
	in.request = "null";
	in.request_len = 4;
	in.payload = pay;
	in.payload_len = strlen(pay);
	rc = audit_tx_append(tx, &in, NULL, 0, seq, err);
	free(pay);
	return rc;
}

int
api_void_decision(struct tg_audit *a, const char *decision_id,
    const char *reason, const char *officer, struct audit_receipt *receipt,
    int *released, struct tg_error *err)
{
	struct audit_tx *tx = NULL;
	json_t *p = NULL;
	bool logged, voided;
	uint64_t seq;
	int rc;

	*released = 0;
	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0)
		return rc;
	if (audit_tx_decision_state(tx, decision_id, &logged, &voided) != 0) {
		rc = tg_error_set(err, TG_EIO, "cannot read the audit log");
		goto fail;
	}
	if (!logged) {
		rc = tg_error_set(err, TG_ENOTFOUND, "no decision '%s' in the "
		    "audit log", decision_id);
		goto fail;
	}
	if (voided) {
		rc = tg_error_set(err, TG_EINVAL, "decision '%s' was voided "
		    "already", decision_id);
		goto fail;
	}
	p = json_pack("{s:s, s:s, s:s?}", "decision_id", decision_id,
	    "reason", reason, "officer", officer);
	rc = append_record(tx, "void", decision_id, p, &seq, err);
	if (rc == 0)
		rc = audit_tx_release(tx, decision_id, seq, released, err);
	if (rc != 0)
		goto fail;
	json_decref(p);
	return audit_tx_commit(tx, receipt, 1, err);
fail:
	json_decref(p);
	audit_tx_abort(tx);
	return rc;
}

int
api_license_add(struct tg_audit *a, const struct api_license_in *in,
    struct audit_receipt *receipt, struct tg_error *err)
{
	struct audit_tx *tx = NULL;
	json_t *p;
	uint64_t seq;
	char tpp[64], qty[64], seqs[32];
	const char *text[7];
	int rc;

	p = json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "number", in->number,
	    "country", in->country, "valid_until", in->valid_until,
	    "consignee", in->consignee, "eccn", in->eccn);
	if (p == NULL)
		return tg_error_set(err, -ENOMEM, "out of memory");
	if (!isnan(in->tpp))
		json_object_set_new(p, "tpp", json_real(in->tpp));
	if (!isnan(in->quantity))
		json_object_set_new(p, "quantity", json_real(in->quantity));
	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0) {
		json_decref(p);
		return rc;
	}
	rc = append_record(tx, "license", NULL, p, &seq, err);
	json_decref(p);
	if (rc == 0) {
		snprintf(tpp, sizeof(tpp), "%.17g", in->tpp);
		snprintf(qty, sizeof(qty), "%.17g", in->quantity);
		snprintf(seqs, sizeof(seqs), "%llu", (unsigned long long)seq);
		text[0] = in->number;
		text[1] = in->country;
		text[2] = isnan(in->tpp) ? NULL : tpp;
		text[3] = isnan(in->quantity) ? NULL : qty;
		text[4] = in->valid_until;
		text[5] = in->consignee;
		text[6] = in->eccn;
		rc = audit_tx_exec(tx, "INSERT INTO licenses (number, country, "
		    "tpp, quantity, valid_until, consignee, eccn, seq) VALUES "
		    "(?1, ?2, CAST(?3 AS REAL), CAST(?4 AS INTEGER), ?5, ?6, ?7, "
		    "?8)", text, 7, (const int64_t[]){ (int64_t)seq }, 1, NULL,
		    err);
		if (rc == TG_EINVAL)
			rc = tg_error_set(err, TG_EINVAL, "license '%s' is "
			    "registered already", in->number);
	}
	if (rc != 0) {
		audit_tx_abort(tx);
		return rc;
	}
	return audit_tx_commit(tx, receipt, 1, err);
}

int
api_license_revoke(struct tg_audit *a, const char *number,
    const char *reason, struct audit_receipt *receipt, struct tg_error *err)
{
	struct audit_tx *tx = NULL;
	struct audit_license l;
	bool found;
	json_t *p;
	uint64_t seq;
	int rc, changes = 0;

	rc = audit_tx_begin(a, &tx, err);
	if (rc != 0)
		return rc;
	if (audit_tx_license(tx, number, &l, &found) != 0) {
		rc = tg_error_set(err, TG_EIO, "cannot read licenses");
		goto fail;
	}
	if (!found || l.revoked_seq != 0) {
		rc = tg_error_set(err, found ? TG_EINVAL : TG_ENOTFOUND,
		    "license '%s' %s", number, found ? "was revoked already" :
		    "is not registered");
		goto fail;
	}
	p = json_pack("{s:s, s:s}", "number", number, "reason", reason);
	rc = append_record(tx, "license_revoked", NULL, p, &seq, err);
	json_decref(p);
	if (rc == 0)
		rc = audit_tx_exec(tx, "UPDATE licenses SET revoked_seq = ?2 "
		    "WHERE number = ?1", (const char *const[]){ number }, 1,
		    (const int64_t[]){ (int64_t)seq }, 1, &changes, err);
	if (rc != 0)
		goto fail;
	return audit_tx_commit(tx, receipt, 1, err);
fail:
	audit_tx_abort(tx);
	return rc;
}

/* ---- verification ------------------------------------------------------ */

/*
 * What the signed entries say the ledger holds: for each binding decision
 * its quotas[].reserved, minus what void entries released; for each
 * license its registration and revocation.  Balances are kept in a JSON
 * object used as a hash map, keyed "quota\x1fkey\x1fperiod".
 */
struct vctx {
	json_t *rows;			/* binding decision id -> {"seq",
					 * "void" (its void entry, or 0),
					 * "left": [[map key, amount]]} */
	json_t *expect;			/* map key -> amount */
	json_t *licenses;		/* number -> registration */
	json_t *tokens;			/* id -> {"name", "role", "revoked"} */
	char detail[512];
	bool bad;
	uint64_t balances;
};

static int
map_key(char *buf, size_t size, const char *q, const char *k, const char *p)
{
	int n = snprintf(buf, size, "%s\x1f%s\x1f%s", q, k, p);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

static void
map_add(json_t *m, const char *key, double v)
{
	json_t *o = json_object_get(m, key);

	json_object_set_new(m, key, json_real((o ? json_real_value(o) : 0) +
	    v));
}

static int
scan_entry(void *ctx, const struct audit_entry *e)
{
	struct vctx *c = ctx;
	json_t *p, *qs, *q, *list;
	char mk[1024];
	bool nomem;
	size_t i;

	p = api_json_loadb(e->payload, strlen(e->payload),
	    JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, NULL, &nomem);
	if (p == NULL && nomem)
		return -ENOMEM;
	if (p == NULL)
		return 0;	/* audit verify reports malformed entries */
	if (strcmp(e->kind, "decision") == 0 && e->decision_id != NULL &&
	    !json_is_true(json_object_get(p, "dry_run"))) {
		list = json_array();
		qs = json_object_get(p, "quotas");
		json_array_foreach(qs, i, q) {
			double r = json_number_value(json_object_get(q,
			    "reserved"));
			const char *n = json_string_value(json_object_get(q,
			    "name"));
			const char *k = json_string_value(json_object_get(q,
			    "key"));
			const char *pe = json_string_value(json_object_get(q,
			    "period"));

			if (!(r > 0) || !n || !k || !pe ||
			    map_key(mk, sizeof(mk), n, k, pe) != 0)
				continue;
			map_add(c->expect, mk, r);
			json_array_append_new(list, json_pack("[s, f]", mk,
			    r));
		}
		json_object_set_new(c->rows, e->decision_id, json_pack("{s:I, "
		    "s:I, s:o}", "seq", (json_int_t)e->seq, "void",
		    (json_int_t)0, "left", list));
	} else if (strcmp(e->kind, "void") == 0) {
		const char *d = json_string_value(json_object_get(p,
		    "decision_id"));
		json_t *rw = d ? json_object_get(c->rows, d) : NULL;

		/* A decision is released once, by its first void. */
		if (rw != NULL && json_integer_value(json_object_get(rw,
		    "void")) == 0) {
			json_array_foreach(json_object_get(rw, "left"), i, q)
				map_add(c->expect, json_string_value(
				    json_array_get(q, 0)),
				    -json_real_value(json_array_get(q, 1)));
			json_object_set_new(rw, "void",
			    json_integer((json_int_t)e->seq));
		}
	} else if (strcmp(e->kind, "license") == 0) {
		const char *num = json_string_value(json_object_get(p,
		    "number"));

		if (num != NULL)
			json_object_set(c->licenses, num, p);
	} else if (strcmp(e->kind, "token") == 0) {
		const char *act = json_string_value(json_object_get(p,
		    "action"));
		const char *id = json_string_value(json_object_get(p, "id"));

		if (act != NULL && id != NULL && strcmp(act, "create") == 0)
			json_object_set_new(c->tokens, id, json_pack("{s:O?, "
			    "s:O?, s:b}", "name", json_object_get(p, "name"),
			    "role", json_object_get(p, "role"), "revoked", 0));
		else if (act != NULL && id != NULL &&
		    strcmp(act, "revoke") == 0 &&
		    json_object_get(c->tokens, id) != NULL)
			json_object_set_new(json_object_get(c->tokens, id),
			    "revoked", json_true());
	} else if (strcmp(e->kind, "license_revoked") == 0) {
		const char *num = json_string_value(json_object_get(p,
		    "number"));
		json_t *l = num ? json_object_get(c->licenses, num) : NULL;

		if (l != NULL)
			json_object_set_new(l, "revoked", json_true());
	}
	json_decref(p);
	return 0;
}

static bool
differs(double a, double b)
{
	return fabs(a - b) > 1e-6 * fmax(1, fabs(a));
}

/*
 * Each bearer token against the signed entries that created and revoked
 * it: the same name and role, revoked exactly when a revoke entry says
 * so, and a stored hash that begins with the id the entry names (the id
 * is the hash's first 8 bytes, so a row cannot be given another secret).
 * Whoever can write the database could otherwise raise a token to admin,
 * bring a revoked one back, or add one of their own.
 */
static int
check_token(void *ctx, int ncols, const char *const *col)
{
	struct vctx *c = ctx;
	json_t *t;
	const char *name, *role;

	if (c->bad || ncols < 5)
		return 0;
	t = col[0] ? json_object_get(c->tokens, col[0]) : NULL;
	name = t ? json_string_value(json_object_get(t, "name")) : NULL;
	role = t ? json_string_value(json_object_get(t, "role")) : NULL;
	if (t == NULL || name == NULL || role == NULL || col[1] == NULL ||
	    col[2] == NULL || col[3] == NULL || strcmp(name, col[1]) != 0 ||
	    strcmp(role, col[2]) != 0 ||
	    strncmp(col[3], col[0], strlen(col[0])) != 0 ||
	    strlen(col[0]) != 16 || json_is_true(json_object_get(t,
	    "revoked")) != (col[4] != NULL && strcmp(col[4], "0") != 0)) {
		c->bad = true;
		snprintf(c->detail, sizeof(c->detail), "token %.16s in the "
		    "tokens table is not what the signed token entries made "
		    "of it", col[0] ? col[0] : "(none)");
		return 0;
	}
	json_object_del(c->tokens, col[0]);
	return 0;
}

/*
 * Each reservation row against the binding decision it names: the same
 * entry, one of the (quota, key, period, amount) its signed quotas[]
 * reserved, not yet matched by another row, and released exactly when a
 * signed void entry released it, by that entry.  Balances alone would
 * pass a reservation moved to another decision, split in two, or marked
 * void by hand, as long as the sums came out the same.
 */
static int
check_row(void *ctx, int ncols, const char *const *col)
{
	struct vctx *c = ctx;
	json_t *rw, *left, *q;
	char mk[1024];
	double amount;
	json_int_t seq, vseq;
	size_t i;

	if (c->bad || ncols < 7)
		return 0;
	seq = col[0] ? strtoll(col[0], NULL, 10) : 0;
	amount = col[5] ? strtod(col[5], NULL) : NAN;
	vseq = col[6] ? strtoll(col[6], NULL, 10) : 0;
	rw = col[1] ? json_object_get(c->rows, col[1]) : NULL;
	left = rw ? json_object_get(rw, "left") : NULL;
	if (rw == NULL || json_integer_value(json_object_get(rw, "seq")) !=
	    seq || map_key(mk, sizeof(mk), col[2] ? col[2] : "",
	    col[3] ? col[3] : "", col[4] ? col[4] : "") != 0)
		goto bad;
	json_array_foreach(left, i, q) {
		if (strcmp(json_string_value(json_array_get(q, 0)), mk) != 0 ||
		    differs(json_real_value(json_array_get(q, 1)), amount))
			continue;
		if (json_integer_value(json_object_get(rw, "void")) != vseq)
			goto bad;
		json_array_remove(left, i);
		return 0;
	}
bad:
	c->bad = true;
	snprintf(c->detail, sizeof(c->detail), "the ledger's reservation of "
	    "%s %.100s/%.100s/%.100s for decision %.64s (entry %lld%s) is not "
	    "what the signed entries reserved and released", col[5] ?
	    col[5] : "?", col[2] ? col[2] : "", col[3] ? col[3] : "",
	    col[4] ? col[4] : "", col[1] ? col[1] : "(none)", (long long)seq,
	    vseq ? ", marked void" : "");
	return 0;
}

static int
check_balance(void *ctx, const struct audit_balance *b)
{
	struct vctx *c = ctx;
	char mk[1024];
	json_t *w;
	double want;

	c->balances++;
	if (c->bad || map_key(mk, sizeof(mk), b->quota, b->key,
	    b->period) != 0)
		return 0;
	w = json_object_get(c->expect, mk);
	want = w ? json_real_value(w) : 0;
	if (differs(want, b->amount)) {
		c->bad = true;
		snprintf(c->detail, sizeof(c->detail), "ledger balance %s/%s/%s "
		    "is %.0f but the signed entries give %.0f", b->quota,
		    b->key, b->period, b->amount, want);
	}
	json_object_del(c->expect, mk);
	return 0;
}

static int
check_license(void *ctx, const struct audit_license *l)
{
	struct vctx *c = ctx;
	json_t *e = json_object_get(c->licenses, l->number);
	const char *country = e ? json_string_value(json_object_get(e,
	    "country")) : NULL;
	const char *until = e ? json_string_value(json_object_get(e,
	    "valid_until")) : NULL;
	json_t *tpp = e ? json_object_get(e, "tpp") : NULL;
	json_t *qty = e ? json_object_get(e, "quantity") : NULL;
	const char *cons = e ? json_string_value(json_object_get(e,
	    "consignee")) : NULL;
	const char *eccn = e ? json_string_value(json_object_get(e,
	    "eccn")) : NULL;
	bool revoked = e && json_is_true(json_object_get(e, "revoked"));

	if (c->bad)
		return 0;
	if (e == NULL || country == NULL || strcmp(country, l->country) != 0 ||
	    until == NULL || strcmp(until, l->valid_until) != 0 ||
	    (tpp == NULL) != isnan(l->tpp) || (tpp != NULL &&
	    differs(json_number_value(tpp), l->tpp)) ||
	    (qty == NULL) != isnan(l->quantity) || (qty != NULL &&
	    differs(json_number_value(qty), l->quantity)) ||
	    strcmp(cons ? cons : "", l->consignee) != 0 ||
	    strcmp(eccn ? eccn : "", l->eccn) != 0 ||
	    revoked != (l->revoked_seq != 0)) {
		c->bad = true;
		snprintf(c->detail, sizeof(c->detail), "license %s in the "
		    "ledger differs from its signed registration", l->number);
	}
	json_object_del(c->licenses, l->number);
	return 0;
}

int
api_ledger_verify(struct tg_audit *a, bool *ok, char *detail, size_t size,
    uint64_t *balances, struct tg_error *err)
{
	struct vctx c;
	const char *k;
	json_t *v;
	int rc;

	memset(&c, 0, sizeof(c));
	*ok = false;
	c.licenses = json_object();
	c.expect = json_object();
	c.rows = json_object();
	c.tokens = json_object();
	if (c.licenses == NULL || c.expect == NULL || c.rows == NULL ||
	    c.tokens == NULL) {
		rc = tg_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	rc = audit_scan(a, scan_entry, &c, err);
	if (rc == 0)
		rc = audit_balances(a, NULL, NULL, NULL, check_balance, &c,
		    err);
	/* What the entries reserve but the ledger lost. */
	json_object_foreach(c.expect, k, v) {
		char shown[256];

		if (c.bad || !differs(json_real_value(v), 0))
			continue;
		/* The map key separates its parts with 0x1f; show '/'. */
		snprintf(shown, sizeof(shown), "%s", k);
		for (char *ch = shown; *ch != '\0'; ch++)
			if (*ch == '\x1f')
				*ch = '/';
		c.bad = true;
		snprintf(c.detail, sizeof(c.detail), "the signed entries "
		    "reserve %.0f of %.200s that the ledger does not hold",
		    json_real_value(v), shown);
	}
	if (rc == 0)
		rc = audit_query(a, "SELECT seq, decision_id, quota, key, "
		    "period, amount, void_seq FROM reservations ORDER BY rowid",
		    NULL, 0, check_row, &c, err);
	/* What a signed decision reserved that no row holds (balances
	 * catch most of it; a row moved to another decision, not). */
	if (rc == 0 && !c.bad) {
		json_object_foreach(c.rows, k, v) {
			if (json_array_size(json_object_get(v, "left")) == 0)
				continue;
			c.bad = true;
			snprintf(c.detail, sizeof(c.detail), "decision %.64s "
			    "(entry %lld) reserved more than the ledger's "
			    "rows hold for it", k, (long long)
			    json_integer_value(json_object_get(v, "seq")));
			break;
		}
	}
	if (rc == 0)
		rc = audit_license_list(a, check_license, &c, err);
	if (rc == 0 && !c.bad && json_object_size(c.licenses) > 0) {
		c.bad = true;
		snprintf(c.detail, sizeof(c.detail), "a signed license "
		    "registration is missing from the ledger");
	}
	if (rc == 0)
		rc = audit_query(a, "SELECT id, name, role, lower(hex(hash)), "
		    "revoked FROM tokens ORDER BY rowid", NULL, 0, check_token,
		    &c, err);
	if (rc == 0 && !c.bad && json_object_size(c.tokens) > 0) {
		c.bad = true;
		snprintf(c.detail, sizeof(c.detail), "token %.16s, created in "
		    "the signed entries, is missing from the tokens table",
		    json_object_iter_key(json_object_iter(c.tokens)));
	}
	if (rc == 0) {
		*ok = !c.bad;
		snprintf(detail, size, "%s", c.detail);
		if (balances != NULL)
			*balances = c.balances;
	}
out:
	json_decref(c.licenses);
	json_decref(c.expect);
	json_decref(c.rows);
	json_decref(c.tokens);
	return rc;
}
