/*
 * eval.c: deciding one transaction under a compiled pack.
 *
 * Order (docs/rules.md, "Evaluation"): for each item, apply the catalog and
 * compute the derived facts; classify (first matching classification rule
 * wins); collect every requirement rule that applies (the most restrictive
 * review policy wins, and only authorizations that every one of them allows
 * may cover the item); try authorizations in pack order, the first that
 * applies and fits its quota wins; then red flags turn the item into a
 * hold.  An item's outcome is the most restrictive of these, and the
 * transaction's is its most restrictive item's.  Quotas accumulate line by
 * line in item order, on top of what the quota provider reports as used.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "engine_int.h"

#define LICENSE_BIT (1u << (PACK_AUTH_MAX - 1))

struct qtrack {
	int quota;
	const char *key;
	const char *period;
	double before;		/* what the provider reported */
	double base;		/* what the query reported (quota base) */
	double added;		/* authorized by this transaction */
	double pending;		/* earlier lines that need a license */
	double limit;
	bool listed;
};

struct run {
	struct tg_pack *p;
	struct tg_decision *d;
	struct tg_arena *a;
	struct ectx cx;
	const struct tg_quota_ops *qops;
	struct qtrack *qt;
	size_t nqt, capqt;
	const char **warn;
	size_t nwarn, capwarn;
	int8_t *memo;			/* per rule: 2 unknown yet, else truth */
	struct ltrack {
		const char *number;
		double tpp_before, tpp_added, tpp_limit;
		double qty_before, qty_added, qty_limit;
	} *lt;
	size_t nlt;
	struct qtrack *pending_quota;	/* requirement quota of this line */
	double pending_amount;
	struct tg_error *err;
};

int
tier_of(struct ectx *cx, tg_cc cc)
{
	tg_cc saved;
	int t = 2;

	if (cc == TG_CC_NONE)
		return -1;
	cc = pack_alias(cx->pack, cc);
	for (size_t i = 0; i < cx->ntier; i++)
		if (cx->tier_cc[i] == cc)
			return cx->tier_v[i];
	saved = cx->country;
	cx->country = cc;
	for (size_t i = 0; i < cx->pack->ntiers; i++) {
		if (expr_truth(cx, &cx->pack->tiers[i].when) == 1) {
			t = cx->pack->tiers[i].tier;
			break;
		}
	}
	cx->country = saved;
	if (cx->ntier < 8) {
		cx->tier_cc[cx->ntier] = cc;
		cx->tier_v[cx->ntier++] = (int8_t)t;
	}
	return t;
}

/* A rule's truth, from the per-decision memo when it cannot depend on
 * the item. */
static int
rule_truth(struct run *r, const struct rule_common *c)
{
	int t;

	if (c->memo < 0 || r->memo == NULL)
		return expr_truth(&r->cx, &c->when);
	if (r->memo[c->memo] != 2)
		return r->memo[c->memo];
	t = expr_truth(&r->cx, &c->when);
	r->memo[c->memo] = (int8_t)t;
	return t;
}

static bool
active(const struct rule_common *c, tg_date d)
{
	return (c->effective == TG_DATE_NONE || c->effective <= d) &&
	    d <= c->until;
}

static bool
kind_ok(const struct rule_common *c, const struct tg_item *it)
{
	return c->kinds == 0 || (c->kinds & (1u << it->kind)) != 0;
}

static bool
eccn_in(const struct eccn_set *s, int eccn)
{
	if (eccn < 0)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i] == eccn)
			return true;
	return false;
}

static int
add_warning(struct run *r, const char *w)
{
	if (w == NULL)
		return 0;
	/* Warnings are strings the pack made once, so the same warning is
	 * the same pointer; the few made per decision are unique. */
	for (size_t i = 0; i < r->nwarn; i++)
		if (r->warn[i] == w)
			return 0;
	if (r->nwarn == r->capwarn) {
		size_t cap = r->capwarn ? r->capwarn * 2 : 8;
		const char **v = arena_alloc(r->a, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		if (r->nwarn > 0)
			memcpy(v, r->warn, r->nwarn * sizeof(*v));
		r->warn = v;
		r->capwarn = cap;
	}
	r->warn[r->nwarn++] = w;
	return 0;
}

/* Records that rule c decided something: its reason, and the warnings a
 * compliance officer must see with it. */
static int
decided_by(struct run *r, struct tg_item_decision *id,
    const struct rule_common *c, const struct tg_reason *qr)
{
	struct tg_reason *rs;

	if (id != NULL) {
		rs = &id->reasons[id->nreasons++];
		if (qr != NULL)
			*rs = *qr;
		else
			memset(rs, 0, sizeof(*rs));
		rs->rule = c->id;
		rs->citation = c->citation;
		rs->text = c->text;
	}
	if (c->warning != NULL && add_warning(r, c->warning) != 0)
		return -ENOMEM;
	if (c->unverified_warning != NULL &&
	    add_warning(r, c->unverified_warning) != 0)
		return -ENOMEM;
	return 0;
}

static const char *
party_key(struct run *r, const struct tg_party *p)
{
	char norm[TG_REFERENCE_MAX * 4];
	size_t n = 0;
	bool space = false;

	if (p->id != NULL)
		return p->id;
	if (p->name == NULL)
		return NULL;
	/* Normalized name: lower case, runs of anything but letters and
	 * digits folded to one space, so "ACME  Cloud, Ltd." and "acme cloud
	 * ltd" are one consignee. */
	for (const char *s = p->name; *s != '\0' && n + 2 < sizeof(norm);
	    s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c >= 0x80) {
			if (space && n > 0)
				norm[n++] = ' ';
			space = false;
			norm[n++] = (char)(c < 0x80 ? tolower(c) : c);
		} else
			space = true;
	}
	norm[n] = '\0';
	return arena_printf(r->a, "%s/%s", norm, cc_str(p->country));
}

static const char *
period_of(struct run *r, const struct quota_def *qd)
{
	switch (qd->period) {
	case PER_CALENDAR_YEAR: {
		char *y = arena_alloc(r->a, 8);
		int v = date_year(r->cx.date);

		if (y == NULL)
			return NULL;
		y[0] = (char)('0' + v / 1000 % 10);
		y[1] = (char)('0' + v / 100 % 10);
		y[2] = (char)('0' + v / 10 % 10);
		y[3] = (char)('0' + v % 10);
		y[4] = '\0';
		return y;
	}
	case PER_FIXED:
		return qd->plabel;
	default:
		return "all";
	}
}

/*
 * Finds or creates the tracker of quota qi for the current item.  Returns
 * 0 with *out NULL when the quota does not apply (no key, date outside a
 * fixed period, no limit), or a negative code.
 */
static int
quota_track(struct run *r, int qi, struct qtrack **out)
{
	const struct quota_def *qd = &r->p->quotas[qi];
	struct val key, lim;
	const char *period;
	struct qtrack *t;
	double used = 0;
	int rc;

	*out = NULL;
	if (qd->period == PER_FIXED &&
	    (r->cx.date < qd->pfrom || r->cx.date > qd->pto))
		return 0;
	key = expr_eval(&r->cx, qd->key.root);
	lim = expr_eval(&r->cx, qd->limit.root);
	if (key.t == T_CC) {
		key.t = T_STR;
		key.u.s = cc_str(key.u.cc);
	}
	if (key.t != T_STR || lim.t != T_NUM)
		return 0;
	period = period_of(r, qd);
	if (period == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < r->nqt; i++) {
		t = &r->qt[i];
		if (t->quota == qi && strcmp(t->key, key.u.s) == 0 &&
		    strcmp(t->period, period) == 0) {
			*out = t;
			return 0;
		}
	}
	/* A quota with a base (NVEU: the installed base before this
	 * shipment, contract.md §1) takes all earlier usage from the query:
	 * the ledger's record of earlier decisions is already part of it, and
	 * adding it again would count those shipments twice. */
	if (!qd->has_base && r->qops != NULL && r->qops->used != NULL) {
		rc = r->qops->used(r->qops->ctx, qd->name, key.u.s, period,
		    &used);
		if (rc != 0)
			return tg_error_set(r->err, rc, "quota provider "
			    "failed for '%s'", qd->name);
		if (!(used >= 0) || isinf(used))
			return tg_error_set(r->err, TG_EINTERNAL, "quota "
			    "provider returned a bad value for '%s'",
			    qd->name);
	}
	if (r->nqt == r->capqt) {
		size_t cap = r->capqt ? r->capqt * 2 : 4;
		struct qtrack *v = arena_alloc(r->a, cap * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		if (r->nqt > 0)
			memcpy(v, r->qt, r->nqt * sizeof(*v));
		r->qt = v;
		r->capqt = cap;
	}
	t = &r->qt[r->nqt++];
	memset(t, 0, sizeof(*t));
	t->quota = qi;
	t->key = arena_strdup(r->a, key.u.s);
	t->period = period;
	t->before = used;
	t->limit = lim.u.n;
	if (t->key == NULL)
		return -ENOMEM;
	*out = t;
	return 0;
}

static double
quota_base(struct run *r, int qi)
{
	const struct quota_def *qd = &r->p->quotas[qi];
	struct val b;

	if (!qd->has_base)
		return 0;
	b = expr_eval(&r->cx, qd->base.root);
	return b.t == T_NUM ? b.u.n : NAN;
}

static int
setup_item(struct run *r, size_t i, struct item_state *is)
{
	const struct tg_item *it = &r->cx.q->items[i];
	char ptr[64];

	memset(is, 0, sizeof(*is));
	is->it = it;
	is->eccn_idx = -1;
	is->tpp = it->tpp;
	is->die = it->die_area_mm2;
	is->pd_given = it->performance_density;
	is->bandwidth = it->memory_bandwidth_gbs;
	is->datacenter = it->datacenter < 0 ? 1 : it->datacenter;
	is->chips = it->kind == TG_ITEM_SYSTEM ? it->chips_per_unit :
	    it->kind == TG_ITEM_CHIP ? 1 : 0;
	if (it->product != NULL) {
		is->prod = pack_product(r->p, it->product);
		if (is->prod == NULL) {
			snprintf(ptr, sizeof(ptr), "/items/%zu/product", i);
			return tg_error_ptr(r->err, TG_EINVAL, ptr, "unknown "
			    "product '%s'", it->product);
		}
		is->tpp = is->prod->tpp;
		is->die = is->prod->die;
		is->pd_given = is->prod->pd;
		if (!isnan(is->prod->bandwidth))
			is->bandwidth = is->prod->bandwidth;
		/* A caller may say a chip is for datacenters, never the
		 * reverse of what the catalog says: the consumer exclusion
		 * must not hang on an unchecked claim. */
		is->datacenter = is->prod->datacenter || it->datacenter == 1;
		if (is->prod->unverified_warning != NULL &&
		    add_warning(r, is->prod->unverified_warning) != 0)
			return -ENOMEM;
	}
	if (r->p->nderived > 0) {
		is->derived = arena_zalloc(r->a,
		    r->p->nderived * sizeof(*is->derived));
		if (is->derived == NULL)
			return -ENOMEM;
	}
	r->cx.item = it;
	r->cx.is = is;
	return 0;
}

static int
classify(struct run *r, size_t i, struct tg_item_decision *id)
{
	const struct tg_pack *p = r->p;
	char ptr[64];

	const struct ruleidx *x = &p->class_by_kind[r->cx.item->kind];

	for (size_t j = 0; j < x->n; j++) {
		const struct class_rule *cr = &p->classes[x->v[j]];
		int t;

		if (!active(&cr->c, r->cx.date))
			continue;
		t = rule_truth(r, &cr->c);
		if (t < 0) {
			/* A classification that cannot be decided must not
			 * fall through to "not controlled". */
			snprintf(ptr, sizeof(ptr), "/items/%zu", i);
			return tg_error_ptr(r->err, TG_EINVAL, ptr, "item "
			    "lacks a fact that classification rule %s needs "
			    "(%s)", cr->c.id, cr->c.when.src);
		}
		if (t == 1) {
			r->cx.is->eccn = cr->eccn;
			r->cx.is->eccn_idx = cr->eccn_idx;
			id->eccn = cr->eccn;
			return decided_by(r, id, &cr->c, NULL);
		}
	}
	id->eccn = NULL;
	return 0;
}

/* Applies the requirement rules; returns the number that matched. */
static int
require(struct run *r, struct tg_item_decision *id, uint32_t *allows)
{
	const struct tg_pack *p = r->p;
	const struct ruleidx *x;
	int matched = 0, rc, t;

	*allows = ~0u;
	id->review = TG_REVIEW_NONE;
	if (r->cx.is->eccn_idx < 0)
		return 0;
	x = &p->req_by_eccn[r->cx.is->eccn_idx];
	for (size_t j = 0; j < x->n; j++) {
		const struct req_rule *rq = &p->reqs[x->v[j]];
		enum tg_review rv = rq->review;
		struct tg_reason qr, *qrp = NULL;

		if (!active(&rq->c, r->cx.date) ||
		    !kind_ok(&rq->c, r->cx.item) ||
		    !eccn_in(&rq->eccns, r->cx.is->eccn_idx))
			continue;
		t = rule_truth(r, &rq->c);
		if (t == 0)
			continue;
		if (t < 0) {
			/* A requirement that cannot be decided is applied:
			 * the conservative reading, and said so. */
			rc = add_warning(r, rq->c.unknown_warning);
			if (rc != 0)
				return rc;
		}
		if (rq->quota >= 0) {
			struct qtrack *tr;
			struct val amt = expr_eval(&r->cx, rq->amount.root);

			rc = quota_track(r, rq->quota, &tr);
			if (rc != 0)
				return rc;
			if (tr != NULL && amt.t == T_NUM) {
				/* Earlier lines of this transaction that need a
				 * license would draw on the same quota. */
				double used = tr->before + tr->added +
				    tr->pending;

				tr->listed = true;
				r->pending_quota = tr;
				r->pending_amount = amt.u.n;
				memset(&qr, 0, sizeof(qr));
				qr.quota = p->quotas[rq->quota].name;
				qr.used = used;
				qr.amount = amt.u.n;
				qr.limit = tr->limit;
				qr.qnote = TG_QNOTE_WITHIN;
				if (used + amt.u.n > tr->limit) {
					rv = rq->over_review;
					qr.qnote = TG_QNOTE_OVER;
				}
				qrp = &qr;
			}
		}
		if (rv > id->review)
			id->review = rv;
		*allows &= rq->allows;
		matched++;
		rc = decided_by(r, id, &rq->c, qrp);
		if (rc != 0)
			return rc;
	}
	return matched;
}

/* Tries the authorizations in pack order; returns 1 when one covers. */
static int
authorize(struct run *r, struct tg_item_decision *id, uint32_t allows)
{
	const struct tg_pack *p = r->p;
	int rc;

	const struct ruleidx *x;

	if (r->cx.is->eccn_idx < 0)
		return 0;
	x = &p->auth_by_eccn[r->cx.is->eccn_idx];
	for (size_t j = 0; j < x->n; j++) {
		const struct auth_rule *ar = &p->authz[x->v[j]];
		struct qtrack *t = NULL;
		double amount = 0, base;

		if (!(allows & (1u << ar->auth)) ||
		    !active(&ar->c, r->cx.date) ||
		    !kind_ok(&ar->c, r->cx.item) ||
		    !eccn_in(&ar->eccns, r->cx.is->eccn_idx) ||
		    rule_truth(r, &ar->c) != 1)
			continue;
		if (ar->quota >= 0) {
			struct val amt = expr_eval(&r->cx, ar->amount.root);

			rc = quota_track(r, ar->quota, &t);
			if (rc != 0)
				return rc;
			base = quota_base(r, ar->quota);
			if (t == NULL || amt.t != T_NUM || isnan(base))
				continue;	/* the quota cannot be kept */
			amount = amt.u.n;
			t->listed = true;
			t->base = base;
			if (base + t->before + t->added + amount > t->limit) {
				struct tg_reason *rs =
				    &id->reasons[id->nreasons++];

				memset(rs, 0, sizeof(*rs));
				rs->rule = ar->c.id;
				rs->citation = ar->c.citation;
				rs->text = p->auths[ar->auth];
				rs->qnote = TG_QNOTE_EXCEEDS;
				rs->quota = p->quotas[ar->quota].name;
				rs->used = base + t->before + t->added;
				rs->amount = amount;
				rs->limit = t->limit;
				continue;
			}
			t->added += amount;
		}
		id->authorization = p->auths[ar->auth];
		return decided_by(r, id, &ar->c, NULL) == 0 ? 1 : -ENOMEM;
	}
	return 0;
}

static int
red_flags_item(struct run *r, size_t i, struct tg_item_decision *id)
{
	const struct tg_pack *p = r->p;

	const struct ruleidx *x = &p->flag_by_kind[r->cx.item->kind];

	for (size_t j = 0; j < x->n; j++) {
		const struct flag_rule *fr = &p->flags[x->v[j]];
		struct tg_red_flag *f;
		int t;

		if (!active(&fr->c, r->cx.date))
			continue;
		/* A red flag is raised only when its condition holds: red
		 * flags test optional facts (a product id, a purpose), and
		 * an absent fact is not a flag. */
		t = rule_truth(r, &fr->c);
		if (t != 1)
			continue;
		f = &r->d->red_flags[r->d->nred_flags++];
		f->rule = fr->c.id;
		f->citation = fr->c.citation;
		f->text = fr->c.text;
		f->item = (long)i;
		if (id->outcome < TG_HOLD)
			id->outcome = TG_HOLD;
		if (decided_by(r, id, &fr->c, NULL) != 0)
			return -ENOMEM;
	}
	return 0;
}

static int
red_flags_txn(struct run *r)
{
	const struct tg_pack *p = r->p;
	struct tg_decision *d = r->d;

	r->cx.item = NULL;
	r->cx.is = NULL;
	for (size_t k = 0; k < p->nflags; k++) {
		const struct flag_rule *fr = &p->flags[k];
		struct tg_red_flag *f;

		int t;

		if (fr->scope != FS_TXN || !active(&fr->c, r->cx.date))
			continue;
		t = rule_truth(r, &fr->c);
		if (t != 1)
			continue;
		f = &d->red_flags[d->nred_flags++];
		f->rule = fr->c.id;
		f->citation = fr->c.citation;
		f->text = fr->c.text;
		f->item = -1;
		for (size_t i = 0; i < d->nitems; i++) {
			struct tg_item_decision *id = &d->items[i];

			if (id->outcome < TG_HOLD)
				id->outcome = TG_HOLD;
			if (decided_by(r, id, &fr->c, NULL) != 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* Fills the reported facts (computing them if no rule did) and warns
 * about every unverified derived fact the decision used. */
static int
report_facts(struct run *r, struct tg_item_decision *id)
{
	struct item_state *is = r->cx.is;

	id->tpp = NAN;
	id->operations = NAN;
	for (size_t k = 0; k < r->p->nderived; k++) {
		const struct derived *dv = &r->p->derived[k];
		struct val v;

		if (dv->txn_only) {
			/* Shared by every item; warn once per decision. */
			if ((r->cx.txn_computed & ((uint64_t)1 << k)) &&
			    dv->warning != NULL &&
			    r->cx.txn_derived[k].t != T_NULL &&
			    add_warning(r, dv->warning) != 0)
				return -ENOMEM;
			continue;
		}
		if (dv->report != NULL &&
		    !(is->computed & ((uint64_t)1 << k))) {
			is->derived[k] = expr_eval(&r->cx, dv->value.root);
			is->computed |= (uint64_t)1 << k;
		}
		if (!(is->computed & ((uint64_t)1 << k)))
			continue;
		v = is->derived[k];
		if (dv->warning != NULL && v.t != T_NULL &&
		    add_warning(r, dv->warning) != 0)
			return -ENOMEM;
		if (dv->report == NULL || v.t != T_NUM)
			continue;
		if (dv->report[0] == 't')
			id->tpp = v.u.n;
		else
			id->operations = v.u.n;
	}
	return 0;
}

/* The line's total TPP (the pack's reported tpp fact), computing it
 * now if no rule has yet. */
static double
line_tpp(struct run *r)
{
	struct item_state *is = r->cx.is;

	for (size_t k = 0; k < r->p->nderived; k++) {
		const struct derived *dv = &r->p->derived[k];

		if (dv->report == NULL || dv->report[0] != 't' || dv->txn_only)
			continue;
		if (!(is->computed & ((uint64_t)1 << k))) {
			is->derived[k] = expr_eval(&r->cx, dv->value.root);
			is->computed |= (uint64_t)1 << k;
		}
		return is->derived[k].t == T_NUM ? is->derived[k].u.n : NAN;
	}
	return NAN;
}

static int
license_reason(struct run *r, struct tg_item_decision *id, const char *num,
    const char *why)
{
	struct tg_reason *rs = &id->reasons[id->nreasons++];

	memset(rs, 0, sizeof(*rs));
	rs->rule = "license";
	rs->citation = "15 CFR 750.7 (export licenses)";
	rs->text = why != NULL ? arena_printf(r->a, "license %s does not "
	    "cover the line: %s", num, why) : arena_printf(r->a, "export "
	    "license %s covers the line", num);
	return rs->text == NULL ? -ENOMEM : 0;
}

/*
 * An export license the line cites (issued by BIS, registered in the
 * ledger) covers it when it exists, is not revoked or expired, names this
 * destination (and ECCN and consignee when it names them) and has enough
 * TPP and quantity left after earlier lines of this transaction.  Returns
 * 1 when it covers, 0 when not (with the reason), or a negative code.
 */
static int
license_covers(struct run *r, size_t i, struct tg_item_decision *id)
{
	const struct tg_item *it = r->cx.item;
	const char *num = it->license;
	struct tg_license lic;
	struct ltrack *t = NULL;
	double tpp = line_tpp(r), qty = (double)it->quantity;
	char why[160];
	int rc;

	(void)i;
	if (r->qops == NULL || r->qops->license == NULL) {
		/* Without the ledger a cited number proves nothing. */
		const char *w = arena_printf(r->a, "item %zu cites license "
		    "'%s', but no license registry is configured, so it was "
		    "not applied", id->index, num);

		return w == NULL || add_warning(r, w) != 0 ? -ENOMEM : 0;
	}
	memset(&lic, 0, sizeof(lic));
	rc = r->qops->license(r->qops->ctx, num, &lic);
	if (rc != 0)
		return tg_error_set(r->err, rc, "license registry failed for "
		    "'%s'", num);
	why[0] = '\0';
	if (!lic.found)
		snprintf(why, sizeof(why), "it is not registered");
	else if (lic.revoked)
		snprintf(why, sizeof(why), "it was revoked");
	else if (r->cx.date > lic.valid_until)
		snprintf(why, sizeof(why), "it expired");
	else if (pack_alias(r->p, lic.country) != r->cx.dest)
		snprintf(why, sizeof(why), "it is issued for %s, not %s",
		    cc_str(lic.country), cc_str(r->cx.dest));
	else if (lic.eccn != NULL && (id->eccn == NULL ||
	    strcmp(lic.eccn, id->eccn) != 0))
		snprintf(why, sizeof(why), "it covers %s, not %s", lic.eccn,
		    id->eccn ? id->eccn : "this item");
	else if (lic.consignee != NULL && (r->cx.keys[0] == NULL ||
	    strcmp(lic.consignee, r->cx.keys[0]) != 0))
		snprintf(why, sizeof(why), "it names another consignee");
	if (why[0] != '\0')
		return license_reason(r, id, num, why) == 0 ? 0 : -ENOMEM;

	for (size_t k = 0; k < r->nlt; k++)
		if (strcmp(r->lt[k].number, num) == 0)
			t = &r->lt[k];
	if (t == NULL) {
		struct ltrack *v = arena_alloc(r->a, (r->nlt + 1) * sizeof(*v));

		if (v == NULL)
			return -ENOMEM;
		if (r->nlt > 0)
			memcpy(v, r->lt, r->nlt * sizeof(*v));
		r->lt = v;
		t = &r->lt[r->nlt++];
		memset(t, 0, sizeof(*t));
		t->number = num;
		t->tpp_before = lic.tpp_used;
		t->tpp_limit = lic.tpp;
		t->qty_before = lic.quantity_used;
		t->qty_limit = lic.quantity;
	}
	if (!isnan(t->tpp_limit) && (isnan(tpp) ||
	    t->tpp_before + t->tpp_added + tpp > t->tpp_limit))
		snprintf(why, sizeof(why), "%.0f TPP used + %.0f exceeds its "
		    "%.0f TPP", t->tpp_before + t->tpp_added,
		    isnan(tpp) ? 0.0 : tpp, t->tpp_limit);
	else if (!isnan(t->qty_limit) &&
	    t->qty_before + t->qty_added + qty > t->qty_limit)
		snprintf(why, sizeof(why), "%.0f units used + %.0f exceeds its "
		    "%.0f units", t->qty_before + t->qty_added, qty,
		    t->qty_limit);
	if (why[0] != '\0')
		return license_reason(r, id, num, why) == 0 ? 0 : -ENOMEM;
	t->tpp_added += isnan(tpp) ? 0 : tpp;
	t->qty_added += qty;
	id->authorization = "LICENSE";
	id->license = arena_strdup(r->a, num);
	if (id->license == NULL)
		return -ENOMEM;
	return license_reason(r, id, num, NULL) == 0 ? 1 : -ENOMEM;
}

static int
decide_item(struct run *r, size_t i, struct item_state *is)
{
	struct tg_item_decision *id = &r->d->items[i];
	size_t maxr = 3 + r->p->nreqs + r->p->nauthz + 2 * r->p->nflags;
	uint32_t allows;
	int rc, nreq;

	id->index = i;
	/* Not zeroed: every reason is written whole before it counts. */
	id->reasons = arena_alloc(r->a, maxr * sizeof(*id->reasons));
	if (id->reasons == NULL)
		return -ENOMEM;
	rc = setup_item(r, i, is);
	if (rc != 0)
		return rc;
	rc = classify(r, i, id);
	if (rc != 0)
		return rc;
	r->pending_quota = NULL;
	nreq = require(r, id, &allows);
	if (nreq < 0)
		return nreq;
	if (nreq == 0) {
		id->outcome = TG_NO_LICENSE_REQUIRED;
		id->review = TG_REVIEW_NONE;
	} else {
		rc = authorize(r, id, allows);
		if (rc == 0 && is->it->license != NULL &&
		    (allows & LICENSE_BIT))
			rc = license_covers(r, i, id);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			id->outcome = TG_AUTHORIZED;
			id->review = TG_REVIEW_NONE;
			/* A shipment under an export license draws on the
			 * quota its requirement names (the Tier 2 country
			 * allocation); exceptions and VEUs do not. */
			if (id->license != NULL && r->pending_quota != NULL)
				r->pending_quota->added += r->pending_amount;
		} else {
			id->outcome = TG_LICENSE_REQUIRED;
			if (r->pending_quota != NULL)
				r->pending_quota->pending += r->pending_amount;
		}
	}
	rc = red_flags_item(r, i, id);
	if (rc == 0)
		rc = report_facts(r, id);
	return rc;
}

static int
finish(struct run *r)
{
	struct tg_decision *d = r->d;
	size_t n = 0;

	d->outcome = TG_NO_LICENSE_REQUIRED;
	for (size_t i = 0; i < d->nitems; i++)
		if (d->items[i].outcome > d->outcome)
			d->outcome = d->items[i].outcome;
	for (size_t i = 0; i < r->nqt; i++)
		n += r->qt[i].listed;
	n += 2 * r->nlt;
	if (n > 0) {
		d->quotas = arena_zalloc(r->a, n * sizeof(*d->quotas));
		if (d->quotas == NULL)
			return -ENOMEM;
	}
	for (size_t i = 0; i < r->nqt; i++) {
		struct tg_quota_use *u;

		if (!r->qt[i].listed)
			continue;
		u = &d->quotas[d->nquotas++];
		u->name = r->p->quotas[r->qt[i].quota].name;
		u->key = r->qt[i].key;
		u->period = r->qt[i].period;
		u->used = r->qt[i].base + r->qt[i].before + r->qt[i].added;
		u->limit = r->qt[i].limit;
		/* A dry run reports the balance it would leave, and reserves
		 * nothing. */
		u->reserved = r->cx.q->dry_run ? 0 : r->qt[i].added;
		if (r->p->quotas[r->qt[i].quota].unverified_warning != NULL &&
		    add_warning(r,
		    r->p->quotas[r->qt[i].quota].unverified_warning) != 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < r->nlt; i++) {
		const struct ltrack *t = &r->lt[i];
		struct tg_quota_use *u;

		if (!isnan(t->tpp_limit)) {
			u = &d->quotas[d->nquotas++];
			u->name = TG_QUOTA_LICENSE_TPP;
			u->key = t->number;
			u->period = "all";
			u->used = t->tpp_before + t->tpp_added;
			u->limit = t->tpp_limit;
			u->reserved = r->cx.q->dry_run ? 0 : t->tpp_added;
		}
		if (!isnan(t->qty_limit)) {
			u = &d->quotas[d->nquotas++];
			u->name = TG_QUOTA_LICENSE_QTY;
			u->key = t->number;
			u->period = "all";
			u->used = t->qty_before + t->qty_added;
			u->limit = t->qty_limit;
			u->reserved = r->cx.q->dry_run ? 0 : t->qty_added;
		}
	}
	d->warnings = r->warn;
	d->nwarnings = r->nwarn;
	return 0;
}

int
eval_decide(struct tg_pack *p, const struct tg_query *q,
    const struct tg_quota_ops *quota, struct tg_decision **out,
    struct tg_error *err)
{
	struct run r;
	struct item_state *is;
	struct tg_decision *d;
	struct tg_arena *a;
	int rc;

	*out = NULL;
	a = arena_new(0);
	if (a == NULL)
		return tg_error_set(err, -ENOMEM, "out of memory");
	d = arena_zalloc(a, sizeof(*d));
	if (d == NULL) {
		arena_free(a);
		return tg_error_set(err, -ENOMEM, "out of memory");
	}
	d->arena = a;
	d->pack = pack_ref(p);
	memset(&r, 0, sizeof(r));
	r.p = p;
	r.d = d;
	r.a = a;
	r.qops = quota;
	r.err = err;
	r.cx.pack = p;
	r.cx.q = q;
	r.cx.date = q->date;
	r.cx.dest = pack_alias(p, q->destination);
	r.cx.country = TG_CC_NONE;
	r.cx.parties[0] = &q->consignee;
	r.cx.parties[1] = &q->end_user;
	r.cx.nparties = q->end_user_given ? 2 : 1;

	/* The decision outlives the query's memory: copy what it keeps. */
	d->reference = q->reference ? arena_strdup(a, q->reference) : NULL;
	d->date = q->date;
	d->destination = r.cx.dest;
	d->destination_given = q->destination;
	d->dry_run = q->dry_run;
	d->pack_name = p->name;
	d->pack_version = p->version;
	d->pack_sha256 = p->sha256;
	d->nitems = q->nitems;
	d->items = arena_zalloc(a, q->nitems * sizeof(*d->items));
	d->red_flags = arena_alloc(a, (q->nitems + 1) * (p->nflags + 1) *
	    sizeof(*d->red_flags));
	is = arena_zalloc(a, q->nitems * sizeof(*is));
	if (p->nderived > 0)
		r.cx.txn_derived = arena_alloc(a, p->nderived *
		    sizeof(*r.cx.txn_derived));
	if (p->nmemo > 0) {
		r.memo = arena_alloc(a, p->nmemo);
		if (r.memo != NULL)
			memset(r.memo, 2, p->nmemo);
	}
	r.cx.keys[0] = party_key(&r, &q->consignee);
	r.cx.keys[1] = party_key(&r, &q->end_user);
	/* A reference or party key that could not be copied must not read
	 * as an absent one: the decision would lose its reference, and a
	 * quota keyed by the party would not apply.  (The memo and the
	 * derived-fact cache are only shortcuts: without them every rule is
	 * evaluated afresh.) */
	if (d->items == NULL || d->red_flags == NULL || is == NULL ||
	    (q->reference != NULL && d->reference == NULL) ||
	    (q->consignee.name != NULL && r.cx.keys[0] == NULL) ||
	    (q->end_user.name != NULL && r.cx.keys[1] == NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	d->tier = tier_of(&r.cx, r.cx.dest);
	r.cx.dest_tier = d->tier;
	r.cx.each_idx = -1;
	for (size_t k = 0; k < 2; k++) {
		const struct tg_party *pp = r.cx.parties[k];
		tg_cc c3[3] = { pp->country, pp->headquarters,
		    pp->ultimate_parent };

		for (size_t j = 0; j < 3; j++) {
			r.cx.pcc[k][j] = pack_alias(p, c3[j]);
			r.cx.ptier[k][j] = (int8_t)tier_of(&r.cx, c3[j]);
		}
	}
	for (size_t i = 0; i < p->nwarnings; i++) {
		if (p->warnings[i].from <= q->date &&
		    q->date <= p->warnings[i].to &&
		    (rc = add_warning(&r, p->warnings[i].text)) != 0)
			goto out;
	}
	for (size_t i = 0; i < q->nitems; i++) {
		rc = decide_item(&r, i, &is[i]);
		if (rc != 0)
			goto out;
	}
	rc = red_flags_txn(&r);
	if (rc == 0)
		rc = finish(&r);
out:
	if (rc != 0) {
		if (rc == -ENOMEM)
			tg_error_set(err, rc, "out of memory");
		decision_free(d);
		return rc;
	}
	*out = d;
	return 0;
}
