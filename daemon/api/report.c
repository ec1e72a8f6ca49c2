/*
 * report.c: the compliance summary of a period (see api.h).
 *
 * One pass builds one JSON document from the signed entries and the
 * ledger tables; the CSV and the HTML are renderings of that document and
 * nothing else, so their figures cannot disagree with it or each other.
 *
 * What is read, and why so:
 *  - The snapshot is the latest signed checkpoint, of size N.  Every query
 *    is bounded by seq <= N (reservations and licenses by the entries that
 *    made, released or revoked them), so a decision logged while the report
 *    runs is in none of its sections rather than in some.
 *  - The period is by the decision's "date" member: the transaction date
 *    the rules were applied to.  The entry time is when the decision was
 *    written, which says nothing about the transaction; for a log filled
 *    by a back-office batch the two can be months apart.
 *  - Voids, hold resolutions and rule loads are read first (they are few
 *    and always come after what they name); then the decisions of the
 *    period once, in log order.  A voided decision is counted under
 *    "voided" and nowhere else: it was withdrawn, and what it reserved was
 *    released.  Dry runs are decisions that were answered and logged, so
 *    they count, and every row says how many of its decisions were dry.
 *  - Quota use comes from the reservations (the ledger), limits from the
 *    latest decision that reported the quota, and "reserved_in_period"
 *    from the period's binding decisions; when the period covers a quota
 *    period, reserved_in_period equals used.
 *  - Integrity is audit_verify over the whole log (anchored at the data
 *    dir's signing.pub) and the ledger recomputed from the entries.
 *
 * Memory is bounded by the aggregates (one row per distinct outcome, tier,
 * country, authorization, ECCN, date, pack, quota) plus REPORT_LIST_MAX
 * rows per decision list; the rendered report is capped by its buffer.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csv_row.h"
#include "tiergate/api.h"
#include "tiergate/engine.h"
#include "tiergate/util.h"

#define EXACT_INT_MAX 9007199254740992.0
#define TOP_DESTINATIONS 10
#define GAUGES_MAX 24
#define NOUTCOMES 4

static const char *const outcome_names[NOUTCOMES] = {
	"no_license_required", "authorized", "license_required", "hold",
};

static const char *const outcome_labels[NOUTCOMES] = {
	"No license required", "Authorized", "License required", "Held",
};

static const char *const outcome_colors[NOUTCOMES] = {
	"#8fb9d8", "#2f9e55", "#e4572e", "#7b61c4",
};

struct rctx {
	struct tg_audit *a;
	const struct tg_pack *pack;
	char from[11], to[11];
	char snap[24];			/* N as text, for binding */
	uint64_t nsnap;
	int64_t now;			/* seconds since the epoch */
	char generated[24];

	json_t *voids;			/* decision_id -> void entry */
	json_t *resol;			/* decision_id -> resolution */
	json_t *loads;			/* rules_loaded entries */

	json_t *totals;
	json_t *by_outcome, *by_tier, *by_dest, *by_auth, *by_eccn;
	json_t *days;			/* date -> outcome counts */
	json_t *packs;			/* sha256 -> pack row */
	json_t *quotas;			/* name, key, period -> row */
	json_t *names;			/* consignee id -> name */
	json_t *lr, *held, *voided;	/* lists, capped */
	json_t *officers;		/* officer -> row */
	json_t *licenses;
	json_t *integrity;
	int64_t oldest_open;		/* age in days, -1 when none open */
	int64_t open_all;		/* open holds of any date */
};

/* ---- small helpers ------------------------------------------------------- */

/* A count or an amount: an integer when it is one (exactly), else a
 * real; null for NAN. */
static json_t *
num(double v)
{
	if (!isfinite(v))
		return json_null();
	if (v == floor(v) && fabs(v) <= EXACT_INT_MAX)
		return json_integer((json_int_t)v);
	return json_real(v);
}

static int
set(json_t *o, const char *k, json_t *v)
{
	return v != NULL && json_object_set_new(o, k, v) == 0 ? 0 : -ENOMEM;
}

static int
append(json_t *a, json_t *v)
{
	return v != NULL && json_array_append_new(a, v) == 0 ? 0 : -ENOMEM;
}

static const char *
str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Adds by to the integer member k of o (made when absent). */
static int
inc(json_t *o, const char *k, json_int_t by)
{
	json_t *v = json_object_get(o, k);

	if (json_is_integer(v))
		return json_integer_set(v, json_integer_value(v) + by) == 0 ?
		    0 : -ENOMEM;
	return set(o, k, json_integer(by));
}

/* Adds by to the member k of o, kept as a real while summing. */
static int
addf(json_t *o, const char *k, double by)
{
	json_t *v = json_object_get(o, k);

	if (json_is_real(v))
		return json_real_set(v, json_real_value(v) + by) == 0 ? 0 :
		    -ENOMEM;
	return set(o, k, json_real(json_number_value(v) + by));
}

/* Replaces every real member of o that holds an integer by the integer,
 * so the report writes 15832000, not 15832000.0. */
static int
exact(json_t *o)
{
	const char *k;
	json_t *v;

	json_object_foreach(o, k, v) {
		if (json_is_real(v) && set(o, k, num(json_real_value(v))) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* "2025-06-30T12:00:00.123456Z" -> seconds since the epoch; -1 if not. */
static int64_t
time_secs(const char *t)
{
	tg_date d;
	int v[3];

	if (t == NULL || strlen(t) < 19 || date_parse(t, 10, &d) != 0 ||
	    t[10] != 'T')
		return -1;
	for (int i = 0; i < 3; i++) {
		const char *p = t + 11 + 3 * i;

		if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
			return -1;
		v[i] = (p[0] - '0') * 10 + (p[1] - '0');
	}
	return (int64_t)d * 86400 + v[0] * 3600 + v[1] * 60 + v[2];
}

/* The years a quota period covers: "2025", "2025-2027"; false for the
 * others ("all"), which are in every report. */
static bool
period_years(const char *p, long long *a, long long *b)
{
	char y1[5], y2[5];

	if (p == NULL || (strlen(p) != 4 && strlen(p) != 9))
		return false;
	memcpy(y1, p, 4);
	y1[4] = '\0';
	if (parse_llong(y1, a) != 0)
		return false;
	*b = *a;
	if (strlen(p) == 9) {
		if (p[4] != '-')
			return false;
		memcpy(y2, p + 5, 4);
		y2[4] = '\0';
		if (parse_llong(y2, b) != 0)
			return false;
	}
	return true;
}

static bool
period_overlaps(const struct rctx *r, const char *period)
{
	long long a, b, f, t;
	char y[5];

	if (!period_years(period, &a, &b))
		return true;
	memcpy(y, r->from, 4);
	y[4] = '\0';
	if (parse_llong(y, &f) != 0)
		return true;
	memcpy(y, r->to, 4);
	if (parse_llong(y, &t) != 0)
		return true;
	return a <= t && b >= f;
}

/* ---- aggregate rows ------------------------------------------------------ */

enum row_kind { ROW_DECISIONS, ROW_ITEMS };

/*
 * The row of map under key; a new one starts with keyname: keyval (a new
 * reference, or NULL for the key as a string), then extra: extraval when
 * extra is not NULL, then zero counts.  Rows keep this member order.
 */
static json_t *
row(json_t *map, enum row_kind kind, const char *keyname, const char *key,
    json_t *keyval, const char *extra, json_t *extraval)
{
	json_t *o = json_object_get(map, key);

	if (o != NULL) {
		json_decref(keyval);
		json_decref(extraval);
		return o;
	}
	o = json_object();
	if (o == NULL || set(o, keyname, keyval ? keyval :
	    json_string(key)) != 0)
		goto fail;
	keyval = NULL;
	if (extra != NULL && set(o, extra, extraval ? extraval :
	    json_null()) != 0)
		goto fail;
	extraval = NULL;
	if (set(o, kind == ROW_DECISIONS ? "decisions" : "items",
	    json_integer(0)) != 0)
		goto fail;
	for (int i = 0; i < NOUTCOMES; i++)
		if (set(o, outcome_names[i], json_integer(0)) != 0)
			goto fail;
	if (kind == ROW_DECISIONS) {
		if (set(o, "binding", json_integer(0)) != 0 ||
		    set(o, "dry_run", json_integer(0)) != 0)
			goto fail;
	} else if (set(o, "tpp", json_real(0)) != 0)
		goto fail;
	if (json_object_set_new(map, key, o) != 0)
		return NULL;
	return o;
fail:
	json_decref(keyval);
	json_decref(extraval);
	json_decref(o);
	return NULL;
}

static int
count_decision(json_t *o, const char *outcome, bool dry)
{
	if (o == NULL)
		return -ENOMEM;
	if (inc(o, "decisions", 1) != 0 || inc(o, outcome, 1) != 0 ||
	    inc(o, dry ? "dry_run" : "binding", 1) != 0)
		return -ENOMEM;
	return 0;
}

static int
count_item(json_t *o, const char *outcome, const json_t *tpp)
{
	if (o == NULL)
		return -ENOMEM;
	if (inc(o, "items", 1) != 0 || inc(o, outcome, 1) != 0)
		return -ENOMEM;
	if (json_is_number(tpp) && addf(o, "tpp", json_number_value(tpp)) != 0)
		return -ENOMEM;
	return 0;
}

/* The first member's value of a row, as sort key. */
static const json_t *
first(const json_t *o)
{
	void *it = json_object_iter((json_t *)(uintptr_t)o);

	return it != NULL ? json_object_iter_value(it) : NULL;
}

static int
cmp_first(const json_t *a, const json_t *b)
{
	const json_t *x = first(a), *y = first(b);

	if (json_is_number(x) && json_is_number(y)) {
		double u = json_number_value(x), v = json_number_value(y);

		return u < v ? -1 : u > v;
	}
	if (json_is_string(x) && json_is_string(y))
		return strcmp(json_string_value(x), json_string_value(y));
	/* Numbers before strings before anything else. */
	return (json_is_number(y) - json_is_number(x)) * 2 +
	    (json_is_string(y) - json_is_string(x));
}

/* Most decisions (or items) first, then by key. */
static int
cmp_count(const void *pa, const void *pb)
{
	const json_t *a = *(const json_t *const *)pa;
	const json_t *b = *(const json_t *const *)pb;
	json_int_t x, y;

	x = json_integer_value(json_object_get(a, "decisions")) +
	    json_integer_value(json_object_get(a, "items"));
	y = json_integer_value(json_object_get(b, "decisions")) +
	    json_integer_value(json_object_get(b, "items"));
	if (x != y)
		return x > y ? -1 : 1;
	return cmp_first(a, b);
}

static int
cmp_key(const void *pa, const void *pb)
{
	return cmp_first(*(const json_t *const *)pa,
	    *(const json_t *const *)pb);
}

/* The rows of map as an array, sorted by cmp (NULL: insertion order),
 * integral reals made integers.  New reference or NULL. */
static json_t *
rows(json_t *map, int (*cmp)(const void *, const void *))
{
	size_t n = json_object_size(map), i = 0;
	json_t **v, *out, *o;
	const char *k;

	v = calloc(n + 1, sizeof(*v));
	out = json_array();
	if (v == NULL || out == NULL)
		goto fail;
	json_object_foreach(map, k, o) {
		if (exact(o) != 0)
			goto fail;
		v[i++] = o;
	}
	if (cmp != NULL && n > 1)
		qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++)
		if (json_array_append(out, v[i]) != 0)
			goto fail;
	free(v);
	return out;
fail:
	free(v);
	json_decref(out);
	return NULL;
}

/* ---- reading the log ----------------------------------------------------- */

/* Voids, hold resolutions and rule loads up to the snapshot. */
static const char side_sql[] =
    "SELECT seq, time, kind, decision_id, payload FROM entries "
    "WHERE seq <= CAST(?1 AS INTEGER) AND kind IN ('void', "
    "'hold_resolution', 'rules_loaded') ORDER BY seq";

static int
side_row(void *ctx, int n, const char *const *c)
{
	struct rctx *r = ctx;
	json_t *p, *o = NULL;
	bool nomem;
	int rc = 0;

	if (n < 5 || c[0] == NULL || c[2] == NULL || c[4] == NULL)
		return 0;
	p = api_json_loadb(c[4], strlen(c[4]), 0, NULL, &nomem);
	if (p == NULL)
		return nomem ? -ENOMEM : 0;	/* audit verify reports a
						   damaged payload */
	if (strcmp(c[2], "void") == 0 && c[3] != NULL) {
		if (json_object_get(r->voids, c[3]) == NULL) {
			o = json_pack("{s:I, s:s, s:O?, s:O?}", "seq",
			    (json_int_t)strtoll(c[0], NULL, 10), "time",
			    c[1] ? c[1] : "", "reason",
			    json_object_get(p, "reason"), "officer",
			    json_object_get(p, "officer"));
			rc = set(r->voids, c[3], o);
		}
	} else if (strcmp(c[2], "hold_resolution") == 0 && c[3] != NULL) {
		if (json_object_get(r->resol, c[3]) == NULL) {
			o = json_pack("{s:O?, s:O?, s:O?, s:s, s:I}",
			    "resolution", json_object_get(p, "resolution"),
			    "officer", json_object_get(p, "officer"),
			    "reason", json_object_get(p, "reason"),
			    "time", c[1] ? c[1] : "", "seq",
			    (json_int_t)strtoll(c[0], NULL, 10));
			rc = set(r->resol, c[3], o);
		}
	} else if (strcmp(c[2], "rules_loaded") == 0) {
		o = json_pack("{s:I, s:s, s:O?, s:O?, s:O?, s:O?}", "seq",
		    (json_int_t)strtoll(c[0], NULL, 10), "time",
		    c[1] ? c[1] : "", "pack", json_object_get(p, "pack"),
		    "version", json_object_get(p, "version"), "sha256",
		    json_object_get(p, "sha256"), "reason",
		    json_object_get(p, "reason"));
		rc = append(r->loads, o);
	}
	json_decref(p);
	return rc;
}

/* The decisions of the period.  CASE keeps a damaged payload from
 * failing the whole query (audit verify names it). */
static const char decisions_sql[] =
    "SELECT seq, time, decision_id, payload, pack_sha256, "
    "CASE WHEN json_valid(request) THEN json_extract(request, "
    "'$.consignee.id') END, CASE WHEN json_valid(request) THEN "
    "json_extract(request, '$.consignee.name') END FROM entries "
    "WHERE kind = 'decision' AND seq <= CAST(?3 AS INTEGER) AND "
    "CASE WHEN json_valid(payload) THEN json_extract(payload, '$.date') END "
    "BETWEEN ?1 AND ?2 ORDER BY seq";

/* The reasons (rule, citation, text) of a list, copied. */
static json_t *
reasons_of(const json_t *list, bool with_item)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (out == NULL)
		return NULL;
	json_array_foreach(list, i, v) {
		json_t *o = json_pack("{s:O?, s:O?, s:O?}", "rule",
		    json_object_get(v, "rule"), "citation",
		    json_object_get(v, "citation"), "text",
		    json_object_get(v, "text"));

		if (o != NULL && with_item && json_object_get(v, "item"))
			json_object_set(o, "item", json_object_get(v, "item"));
		if (append(out, o) != 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* The member of a decision every list row starts with. */
static json_t *
list_row(const char *id, const json_t *d, const char *time)
{
	const json_t *dest = json_object_get(d, "destination");

	return json_pack("{s:s, s:O?, s:s, s:O?, s:O?, s:O?, s:O?, s:b}",
	    "decision_id", id, "date", json_object_get(d, "date"), "logged",
	    time ? time : "", "reference", json_object_get(d, "reference"),
	    "destination", json_object_get(dest, "country"), "tier",
	    json_object_get(dest, "tier"), "outcome",
	    json_object_get(d, "outcome"), "dry_run",
	    json_is_true(json_object_get(d, "dry_run")));
}

static int
add_license_required(struct rctx *r, const char *id, const json_t *d,
    const char *time)
{
	json_t *o, *items, *it;
	size_t i;

	if (json_array_size(r->lr) >= REPORT_LIST_MAX)
		return 0;
	o = list_row(id, d, time);
	items = json_array();
	if (o == NULL || items == NULL || set(o, "items", items) != 0) {
		json_decref(o);
		return -ENOMEM;
	}
	json_array_foreach(json_object_get(d, "items"), i, it) {
		const char *oc = str(it, "outcome");

		if (oc == NULL || strcmp(oc, "license_required") != 0)
			continue;
		if (append(items, json_pack("{s:O?, s:O?, s:O?, s:o?}",
		    "index", json_object_get(it, "index"), "eccn",
		    json_object_get(it, "eccn"), "tpp",
		    json_object_get(it, "tpp"), "reasons",
		    reasons_of(json_object_get(it, "reasons"), false))) != 0) {
			json_decref(o);
			return -ENOMEM;
		}
	}
	return append(r->lr, o);
}

static int
add_held(struct rctx *r, const char *id, const json_t *d, const char *time)
{
	const json_t *res = json_object_get(r->resol, id);
	const char *how = str(res, "resolution");
	const char *status = "open";
	json_t *o, *orow;
	int64_t age = -1, t;

	t = time_secs(time);
	if (res != NULL)
		status = how != NULL && strcmp(how, "release") == 0 ?
		    "released" : "rejected";
	else if (t >= 0) {
		/* Whole days since the hold was logged. */
		age = (r->now - t) / 86400;
		if (age < 0)
			age = 0;
	}
	if (inc(r->totals, res == NULL ? "held_open" : strcmp(status,
	    "released") == 0 ? "held_released" : "held_rejected", 1) != 0)
		return -ENOMEM;
	if (res == NULL && age > r->oldest_open)
		r->oldest_open = age;
	if (res != NULL) {
		const char *who = str(res, "officer");

		if (who == NULL)
			who = "";
		orow = json_object_get(r->officers, who);
		if (orow == NULL) {
			orow = json_pack("{s:s, s:I, s:I, s:I}", "officer", who,
			    "released", (json_int_t)0, "rejected",
			    (json_int_t)0, "resolutions", (json_int_t)0);
			if (orow == NULL || json_object_set_new(r->officers,
			    who, orow) != 0)
				return -ENOMEM;
		}
		if (inc(orow, strcmp(status, "released") == 0 ? "released" :
		    "rejected", 1) != 0 || inc(orow, "resolutions", 1) != 0 ||
		    inc(r->totals, "resolutions", 1) != 0)
			return -ENOMEM;
	}
	if (json_array_size(r->held) >= REPORT_LIST_MAX)
		return 0;
	o = list_row(id, d, time);
	if (o == NULL || set(o, "status", json_string(status)) != 0 ||
	    set(o, "age_days", age >= 0 ? json_integer(age) :
	    json_null()) != 0 || set(o, "resolution", res ?
	    json_deep_copy(res) : json_null()) != 0 || set(o, "red_flags",
	    reasons_of(json_object_get(d, "red_flags"), true)) != 0) {
		json_decref(o);
		return -ENOMEM;
	}
	return append(r->held, o);
}

static int
add_voided(struct rctx *r, const char *id, const json_t *d, const char *time)
{
	const json_t *v = json_object_get(r->voids, id);
	json_t *o;

	if (inc(r->totals, "voided", 1) != 0)
		return -ENOMEM;
	if (json_array_size(r->voided) >= REPORT_LIST_MAX)
		return 0;
	o = list_row(id, d, time);
	if (o == NULL || set(o, "voided", json_pack("{s:O?, s:O?, s:O?}",
	    "time", json_object_get(v, "time"), "officer",
	    json_object_get(v, "officer"), "reason",
	    json_object_get(v, "reason"))) != 0) {
		json_decref(o);
		return -ENOMEM;
	}
	return append(r->voided, o);
}

/* "a" sep "b" sep "c", malloc'd (keys are up to API_STRING_MAX long). */
static char *
join3(const char *a, const char *b, const char *c, char sep)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 3);

	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	s[la] = sep;
	memcpy(s + la + 1, b, lb);
	s[la + 1 + lb] = sep;
	memcpy(s + la + lb + 2, c, lc + 1);
	return s;
}

/* The quota row of name/key/period, made with zero use when new. */
static json_t *
quota_row(struct rctx *r, const char *name, const char *key,
    const char *period)
{
	char *id = join3(name, key, period, '\037');
	json_t *o;

	if (id == NULL)
		return NULL;
	o = json_object_get(r->quotas, id);
	if (o == NULL) {
		o = json_pack("{s:s, s:s, s:s, s:f, s:n, s:f}", "name", name,
		    "key", key, "period", period, "used", 0.0, "limit",
		    "reserved_in_period", 0.0);
		if (o != NULL && json_object_set_new(r->quotas, id, o) != 0)
			o = NULL;
	}
	free(id);
	return o;
}

static int
count_pack(struct rctx *r, const json_t *d, const char *sha_col)
{
	const json_t *rules = json_object_get(d, "rules");
	const char *sha = str(rules, "sha256");
	const char *date = str(d, "date");
	json_t *p, *w, *warns;
	size_t i;

	if (sha == NULL)
		sha = sha_col ? sha_col : "";
	p = json_object_get(r->packs, sha);
	if (p == NULL) {
		p = json_pack("{s:s, s:O?, s:O?, s:I, s:s?, s:s?, s:{}}",
		    "sha256", sha, "pack", json_object_get(rules, "pack"),
		    "version", json_object_get(rules, "version"), "decisions",
		    (json_int_t)0, "first_date", date, "last_date", date,
		    "warnings");
		if (p == NULL || json_object_set_new(r->packs, sha, p) != 0)
			return -ENOMEM;
	}
	if (inc(p, "decisions", 1) != 0)
		return -ENOMEM;
	if (date != NULL) {
		const char *f = str(p, "first_date"), *l = str(p, "last_date");

		if ((f == NULL || strcmp(date, f) < 0) &&
		    set(p, "first_date", json_string(date)) != 0)
			return -ENOMEM;
		if ((l == NULL || strcmp(date, l) > 0) &&
		    set(p, "last_date", json_string(date)) != 0)
			return -ENOMEM;
	}
	warns = json_object_get(p, "warnings");
	json_array_foreach(json_object_get(d, "warnings"), i, w) {
		if (json_is_string(w) && inc(warns, json_string_value(w), 1))
			return -ENOMEM;
	}
	return 0;
}

static int
decision_row(void *ctx, int n, const char *const *c)
{
	struct rctx *r = ctx;
	json_t *d, *dest, *it, *q, *tier, *o;
	const char *id, *outcome, *country, *date;
	char tkey[24];
	bool dry, nomem;
	size_t i;
	int rc = -ENOMEM;

	if (n < 7 || c[2] == NULL || c[3] == NULL)
		return 0;
	d = api_json_loadb(c[3], strlen(c[3]), 0, NULL, &nomem);
	if (d == NULL)
		return nomem ? -ENOMEM : 0;
	id = c[2];
	if (json_object_get(r->voids, id) != NULL) {
		rc = add_voided(r, id, d, c[1]);
		json_decref(d);
		return rc;
	}
	outcome = str(d, "outcome");
	if (outcome == NULL)
		outcome = "unknown";
	dry = json_is_true(json_object_get(d, "dry_run"));
	date = str(d, "date");
	dest = json_object_get(d, "destination");
	country = str(dest, "country");
	if (country == NULL)
		country = "??";
	tier = json_object_get(dest, "tier");
	if (json_is_integer(tier))
		snprintf(tkey, sizeof(tkey), "%lld",
		    (long long)json_integer_value(tier));
	else
		snprintf(tkey, sizeof(tkey), "unknown");

	if (count_decision(r->totals, outcome, dry) != 0 ||
	    count_decision(row(r->by_outcome, ROW_DECISIONS, "outcome",
	    outcome, NULL, NULL, NULL), outcome, dry) != 0 ||
	    count_decision(row(r->by_tier, ROW_DECISIONS, "tier", tkey,
	    json_is_integer(tier) ? json_copy(tier) : NULL, NULL, NULL),
	    outcome, dry) != 0 ||
	    count_decision(row(r->by_dest, ROW_DECISIONS, "country", country,
	    NULL, "tier", json_copy(tier)), outcome, dry) != 0)
		goto out;
	if (date != NULL && count_decision(row(r->days, ROW_DECISIONS, "date",
	    date, NULL, NULL, NULL), outcome, dry) != 0)
		goto out;

	json_array_foreach(json_object_get(d, "items"), i, it) {
		const char *io = str(it, "outcome");
		const char *auth = str(it, "authorization");
		const char *eccn = str(it, "eccn");

		if (io == NULL)
			io = "unknown";
		/* NLR is how export documents write "no license required". */
		if (auth == NULL)
			auth = strcmp(io, "no_license_required") == 0 ? "NLR" :
			    "none";
		if (eccn == NULL)
			eccn = "none";
		if (inc(r->totals, "items", 1) != 0 ||
		    count_item(row(r->by_auth, ROW_ITEMS, "authorization", auth,
		    NULL, NULL, NULL), io, json_object_get(it, "tpp")) != 0 ||
		    count_item(row(r->by_eccn, ROW_ITEMS, "eccn", eccn, NULL,
		    NULL, NULL), io, json_object_get(it, "tpp")) != 0)
			goto out;
	}
	if (!dry) {
		json_array_foreach(json_object_get(d, "quotas"), i, q) {
			double amt = json_number_value(json_object_get(q,
			    "reserved"));
			const char *qn = str(q, "name"), *qk = str(q, "key");
			const char *qp = str(q, "period");

			if (!(amt > 0) || qn == NULL || qk == NULL ||
			    qp == NULL)
				continue;
			o = quota_row(r, qn, qk, qp);
			if (o == NULL || addf(o, "reserved_in_period",
			    amt) != 0)
				goto out;
		}
	}
	if (c[5] != NULL && c[6] != NULL &&
	    set(r->names, c[5], json_string(c[6])) != 0)
		goto out;
	if (count_pack(r, d, c[4]) != 0)
		goto out;
	if (strcmp(outcome, "license_required") == 0 &&
	    add_license_required(r, id, d, c[1]) != 0)
		goto out;
	if (strcmp(outcome, "hold") == 0 && add_held(r, id, d, c[1]) != 0)
		goto out;
	rc = 0;
out:
	json_decref(d);
	return rc;
}

/* Open holds of any date: what waits on an officer now. */
static const char open_all_sql[] =
    "SELECT count(*) FROM entries WHERE kind = 'decision' AND "
    "seq <= CAST(?1 AS INTEGER) AND CASE WHEN json_valid(payload) THEN "
    "json_extract(payload, '$.outcome') END = 'hold' AND decision_id NOT IN "
    "(SELECT decision_id FROM entries WHERE kind IN ('void', "
    "'hold_resolution') AND decision_id IS NOT NULL AND "
    "seq <= CAST(?1 AS INTEGER))";

static int
count_row(void *ctx, int n, const char *const *c)
{
	int64_t *v = ctx;
	long long x;

	if (n >= 1 && c[0] != NULL && parse_llong(c[0], &x) == 0)
		*v = x;
	return 0;
}

/* The latest limit each quota reported, up to the snapshot. */
static const char limits_sql[] =
    "SELECT json_extract(q.value, '$.name'), json_extract(q.value, '$.key'),"
    " json_extract(q.value, '$.period'), json_extract(q.value, '$.limit'),"
    " max(e.seq) FROM entries e, json_each(CASE WHEN json_valid(e.payload) "
    "THEN e.payload ELSE '{}' END, '$.quotas') q WHERE e.kind = 'decision' "
    "AND e.seq <= CAST(?1 AS INTEGER) AND json_extract(q.value, '$.name') "
    "IN ('lpp', 'allocation') GROUP BY 1, 2, 3";

static int
limit_row(void *ctx, int n, const char *const *c)
{
	struct rctx *r = ctx;
	json_t *o;
	double v;

	if (n < 4 || c[0] == NULL || c[1] == NULL || c[2] == NULL)
		return 0;
	o = quota_row(r, c[0], c[1], c[2]);
	if (o == NULL)
		return -ENOMEM;
	if (c[3] != NULL && parse_double(c[3], &v) == 0)
		return set(o, "limit", json_real(v));
	return 0;
}

/* Ledger balances as they stood at the snapshot. */
static const char balances_sql[] =
    "SELECT quota, key, period, sum(amount) FROM reservations "
    "WHERE seq <= CAST(?1 AS INTEGER) AND (void_seq IS NULL OR "
    "void_seq > CAST(?1 AS INTEGER)) GROUP BY quota, key, period";

static int
balance_row(void *ctx, int n, const char *const *c)
{
	struct rctx *r = ctx;
	json_t *o;
	double v;

	if (n < 4 || c[0] == NULL || c[1] == NULL || c[2] == NULL ||
	    c[3] == NULL || parse_double(c[3], &v) != 0)
		return 0;
	o = quota_row(r, c[0], c[1], c[2]);
	if (o == NULL)
		return -ENOMEM;
	return set(o, "used", json_real(v));
}

static const char licenses_sql[] =
    "SELECT number, country, tpp, quantity, valid_until, consignee, eccn, "
    "seq, CASE WHEN revoked_seq <= CAST(?1 AS INTEGER) THEN revoked_seq END "
    "FROM licenses WHERE seq <= CAST(?1 AS INTEGER) ORDER BY number";

static json_t *
text_num(const char *s)
{
	double v;

	if (s == NULL || parse_double(s, &v) != 0)
		return json_null();
	return num(v);
}

static json_t *
used_of(struct rctx *r, const char *quota, const char *number)
{
	char *id = join3(quota, number, "all", '\037');
	const json_t *o;

	if (id == NULL)
		return NULL;
	o = json_object_get(r->quotas, id);
	free(id);
	return num(o ? json_number_value(json_object_get(o, "used")) : 0);
}

static int
license_row(void *ctx, int n, const char *const *c)
{
	struct rctx *r = ctx;
	const char *status = "active";
	char today[11];
	json_t *o;

	if (n < 9 || c[0] == NULL)
		return 0;
	date_format((tg_date)(r->now / 86400), today);
	if (c[8] != NULL)
		status = "revoked";
	else if (c[4] != NULL && strcmp(c[4], today) < 0)
		status = "expired";
	o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:s, s:o, s:o, s:o, s:o}",
	    "number", c[0], "country", c[1], "consignee",
	    c[5] && c[5][0] ? c[5] : NULL, "eccn", c[6] && c[6][0] ? c[6] :
	    NULL, "valid_until", c[4], "status", status,
	    "tpp_limit", text_num(c[2]), "tpp_used", used_of(r,
	    TG_QUOTA_LICENSE_TPP, c[0]), "quantity_limit", text_num(c[3]),
	    "quantity_used", used_of(r, TG_QUOTA_LICENSE_QTY, c[0]));
	return append(r->licenses, o);
}

static const char checkpoint_time_sql[] =
    "SELECT time FROM checkpoints WHERE size = CAST(?1 AS INTEGER)";

static int
text_row(void *ctx, int n, const char *const *c)
{
	char *out = ctx;

	if (n >= 1 && c[0] != NULL)
		snprintf(out, 40, "%s", c[0]);
	return 0;
}

static int
integrity(struct rctx *r, const char *note, struct tg_error *err)
{
	struct audit_report rep;
	struct tg_error ev, el;
	char detail[512], root[2 * sizeof(merkle_hash) + 1] = "";
	char cptime[40] = "";
	const char *params[1] = { r->snap };
	uint64_t nbal = 0;
	bool lok = false;
	int vrc, lrc;

	/* Failing to check is reported as such, not as a failed report. */
	tg_error_clear(&ev);
	tg_error_clear(&el);
	vrc = audit_verify(r->a, NULL, NULL, &rep, &ev);
	detail[0] = '\0';
	lrc = api_ledger_verify(r->a, &lok, detail, sizeof(detail), &nbal,
	    &el);
	if (lrc != 0)
		snprintf(detail, sizeof(detail), "%s", el.msg);
	if (note != NULL) {
		/* The root as the note signs it, in hex like the recomputed
		 * one, once the note's signature checks against the chain. */
		merkle_hash h;
		uint64_t sz;
		struct tg_error en;

		tg_error_clear(&en);
		if (audit_note_check(r->a, note, &sz, h, &en) == 0 &&
		    sz == r->nsnap)
			hex_encode(h, sizeof(merkle_hash), root);
		if (audit_query(r->a, checkpoint_time_sql, params, 1, text_row,
		    cptime, err) != 0)
			return err->code ? err->code : TG_EIO;
	}
	r->integrity = json_pack("{s:b, s:s, s:s, s:I, s:I, s:I, s:s, s:s, "
	    "s:s, s:s, s:I, s:I, s:s?, s:s?, s:s?, s:s, s:s}",
	    "ok", vrc == 0 && rep.damage == AUDIT_OK && lrc == 0 && lok,
	    "log", vrc != 0 ? "unchecked" : rep.damage == AUDIT_OK ? "ok" :
	    audit_damage_name(rep.damage),
	    "log_detail", vrc != 0 ? ev.msg : rep.detail,
	    "entries", (json_int_t)rep.entries,
	    "checkpoints", (json_int_t)rep.checkpoints,
	    "keys", (json_int_t)rep.keys,
	    "anchor", rep.anchor == AUDIT_ANCHOR_FILE ? "signing.pub" :
	    rep.anchor == AUDIT_ANCHOR_GIVEN ? "given key" : "self",
	    "root", rep.root,
	    "ledger", lrc != 0 ? "unchecked" : lok ? "ok" : "damaged",
	    "ledger_detail", detail,
	    "balances", (json_int_t)nbal,
	    "checkpoint_size", (json_int_t)r->nsnap,
	    "checkpoint_root", root[0] ? root : NULL,
	    "checkpoint_time", cptime[0] ? cptime : NULL,
	    "checkpoint", note,
	    "key_id", audit_key_id(r->a),
	    "origin", audit_origin(r->a));
	return r->integrity != NULL ? 0 : -ENOMEM;
}

/* ---- assembling the report ----------------------------------------------- */

/* The timeline's bucket: a week (from Monday) over up to two years of
 * decisions, else a month over up to ten, else a year. */
enum unit { UNIT_WEEK, UNIT_MONTH, UNIT_YEAR };

static const char *const unit_names[] = { "week", "month", "year" };

static int
bucket_of(const char *date, enum unit u, char out[11])
{
	tg_date d;

	if (date == NULL || date_parse(date, strlen(date), &d) != 0)
		return TG_EINVAL;
	if (u == UNIT_WEEK) {
		/* 1970-01-01 was a Thursday: Monday is 0 at d + 3. */
		d -= (tg_date)((((int64_t)d + 3) % 7 + 7) % 7);
		date_format(d, out);
		return 0;
	}
	memcpy(out, date, 10);
	out[10] = '\0';
	if (u == UNIT_YEAR)
		memcpy(out + 5, "01", 2);
	memcpy(out + 8, "01", 2);
	return 0;
}

static int
bucket_next(char b[11], enum unit u)
{
	tg_date d;
	int y, m;

	if (date_parse(b, 10, &d) != 0)
		return TG_EINVAL;
	if (u == UNIT_WEEK) {
		date_format(d + 7, b);
		return 0;
	}
	y = (b[0] - '0') * 1000 + (b[1] - '0') * 100 + (b[2] - '0') * 10 +
	    (b[3] - '0');
	m = (b[5] - '0') * 10 + (b[6] - '0');
	if (u == UNIT_YEAR || ++m > 12) {
		y++;
		m = 1;
	}
	if (y > 9999)
		return TG_EINVAL;
	{
		char tmp[32];

		snprintf(tmp, sizeof(tmp), "%04d-%02d-01", y, m);
		memcpy(b, tmp, 10);
		b[10] = '\0';
	}
	return 0;
}

static json_t *
timeline(struct rctx *r, enum unit *unit)
{
	const char *k, *lo = NULL, *hi = NULL;
	json_t *map = json_object(), *o, *b, *out = NULL;
	char cur[11], last[11];
	tg_date dlo, dhi;
	enum unit u = UNIT_WEEK;

	if (map == NULL)
		return NULL;
	json_object_foreach(r->days, k, o) {
		if (lo == NULL || strcmp(k, lo) < 0)
			lo = k;
		if (hi == NULL || strcmp(k, hi) > 0)
			hi = k;
	}
	if (lo != NULL && date_parse(lo, strlen(lo), &dlo) == 0 &&
	    date_parse(hi, strlen(hi), &dhi) == 0) {
		if (dhi - dlo > 2 * 366)
			u = dhi - dlo > 10 * 366 ? UNIT_YEAR : UNIT_MONTH;
		if (bucket_of(lo, u, cur) != 0 || bucket_of(hi, u, last) != 0)
			goto out;
		/* Every bucket, empty ones too: the axis is time. */
		for (;;) {
			o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "start",
			    cur, "decisions", (json_int_t)0, outcome_names[0],
			    (json_int_t)0, outcome_names[1], (json_int_t)0,
			    outcome_names[2], (json_int_t)0, outcome_names[3],
			    (json_int_t)0);
			if (set(map, cur, o) != 0)
				goto out;
			if (strcmp(cur, last) >= 0 || bucket_next(cur, u) != 0)
				break;
		}
		json_object_foreach(r->days, k, o) {
			if (bucket_of(k, u, cur) != 0 ||
			    (b = json_object_get(map, cur)) == NULL)
				continue;
			if (inc(b, "decisions", json_integer_value(
			    json_object_get(o, "decisions"))) != 0)
				goto out;
			for (int i = 0; i < NOUTCOMES; i++)
				if (inc(b, outcome_names[i], json_integer_value(
				    json_object_get(o, outcome_names[i]))) != 0)
					goto out;
		}
	}
	*unit = u;
	out = rows(map, NULL);
out:
	json_decref(map);
	return out;
}

/* Most used first (as a share of the limit), then by name. */
static int
cmp_use(const void *pa, const void *pb)
{
	const json_t *a = *(const json_t *const *)pa;
	const json_t *b = *(const json_t *const *)pb;
	double la = json_number_value(json_object_get(a, "limit"));
	double lb = json_number_value(json_object_get(b, "limit"));
	double x = json_number_value(json_object_get(a, "used"));
	double y = json_number_value(json_object_get(b, "used"));

	x = la > 0 ? x / la : x > 0 ? INFINITY : 0;
	y = lb > 0 ? y / lb : y > 0 ? INFINITY : 0;
	if (x != y)
		return x > y ? -1 : 1;
	return cmp_first(a, b);
}

/* The lpp or allocation rows of the quotas the period touches. */
static json_t *
quota_section(struct rctx *r, const char *name, const char *keyname)
{
	json_t *map = json_object(), *o, *q, *out = NULL;
	const char *k;

	if (map == NULL)
		return NULL;
	json_object_foreach(r->quotas, k, q) {
		const char *key = str(q, "key"), *period = str(q, "period");
		const json_t *lim = json_object_get(q, "limit");
		json_t *nm = json_object_get(r->names, key);
		double used = json_number_value(json_object_get(q, "used"));
		double limit = json_number_value(lim);
		char *id;
		int rc;

		if (strcmp(str(q, "name"), name) != 0 ||
		    !period_overlaps(r, period))
			continue;
		/* The ledger's own name for it, as `quota show` lists it. */
		id = join3(name, key, period, '/');
		if (id == NULL)
			goto out;
		o = json_pack("{s:s, s:s}", "quota", id, keyname, key);
		rc = o == NULL ? -ENOMEM : 0;
		if (rc == 0 && strcmp(name, "lpp") == 0)
			rc = set(o, "name", nm ? json_copy(nm) : json_null());
		if (rc == 0)
			rc = set(o, "period", json_string(period));
		if (rc == 0)
			rc = set(o, "used", num(used));
		if (rc == 0)
			rc = set(o, "limit", json_is_number(lim) ? num(limit) :
			    json_null());
		if (rc == 0)
			rc = set(o, "remaining", json_is_number(lim) ?
			    num(limit - used) : json_null());
		if (rc == 0)
			rc = set(o, "reserved_in_period", num(json_number_value(
			    json_object_get(q, "reserved_in_period"))));
		if (rc != 0)
			json_decref(o);
		else if (json_object_set_new(map, id, o) != 0)
			rc = -ENOMEM;
		free(id);
		if (rc != 0)
			goto out;
	}
	out = rows(map, cmp_use);
out:
	json_decref(map);
	return out;
}

static int
cmp_warning(const void *pa, const void *pb)
{
	const json_t *a = *(const json_t *const *)pa;
	const json_t *b = *(const json_t *const *)pb;
	const char *ka = str(a, "kind"), *kb = str(b, "kind");
	json_int_t x = json_integer_value(json_object_get(a, "decisions"));
	json_int_t y = json_integer_value(json_object_get(b, "decisions"));
	int c = strcmp(ka, kb);

	/* Legal status first, then the most frequent. */
	if (c != 0)
		return c;
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(str(a, "text"), str(b, "text"));
}

/*
 * The loader words the warnings of a decision that rests on an unchecked
 * source "<rule|quota|fact> NAME rests on unverified facts: ..." and
 * "catalog figures for 'ID' are unverified: ..."; every other warning is
 * the pack's own (its legal status on the transaction date) or a rule's
 * caution, and is listed as "legal".
 */
static const char *
warning_kind(const char *w)
{
	if (strstr(w, " rests on unverified facts: ") != NULL ||
	    (strncmp(w, "catalog figures for '", 21) == 0 &&
	    strstr(w, "' are unverified: ") != NULL))
		return "unverified";
	return "legal";
}

static json_t *
pack_rows(struct rctx *r)
{
	json_t *map = r->packs, *p, *l, *w;
	const char *k;
	size_t i;

	/* Packs loaded in the period decide nothing until used: list them
	 * too, so a reload shows. */
	json_array_foreach(r->loads, i, l) {
		const char *sha = str(l, "sha256"), *t = str(l, "time");

		if (sha == NULL || t == NULL || strlen(t) < 10 ||
		    json_object_get(map, sha) != NULL ||
		    strncmp(t, r->from, 10) < 0 || strncmp(t, r->to, 10) > 0)
			continue;
		p = json_pack("{s:s, s:O?, s:O?, s:I, s:n, s:n, s:{}}",
		    "sha256", sha, "pack", json_object_get(l, "pack"),
		    "version", json_object_get(l, "version"), "decisions",
		    (json_int_t)0, "first_date", "last_date", "warnings");
		if (set(map, sha, p) != 0)
			return NULL;
	}
	json_object_foreach(map, k, p) {
		bool cur = r->pack != NULL && strcmp(k, pack_sha256(r->pack))
		    == 0;
		json_t *loaded = json_array(), *wl = json_array();
		json_int_t nload = 0;
		const char *text;

		if (loaded == NULL || wl == NULL) {
			json_decref(loaded);
			json_decref(wl);
			return NULL;
		}
		json_array_foreach(r->loads, i, l) {
			if (str(l, "sha256") == NULL ||
			    strcmp(str(l, "sha256"), k) != 0)
				continue;
			nload++;
			if (json_array_size(loaded) == 20)
				json_array_remove(loaded, 0);
			json_array_append_new(loaded, json_pack("{s:O?, s:O?, "
			    "s:O?}", "seq", json_object_get(l, "seq"), "time",
			    json_object_get(l, "time"), "reason",
			    json_object_get(l, "reason")));
		}
		json_object_foreach(json_object_get(p, "warnings"), text, w) {
			if (append(wl, json_pack("{s:s, s:s, s:O}", "text",
			    text, "kind", warning_kind(text), "decisions",
			    w)) != 0) {
				json_decref(loaded);
				json_decref(wl);
				return NULL;
			}
		}
		if (json_array_size(wl) > 1) {
			size_t n = json_array_size(wl);
			json_t **v = calloc(n, sizeof(*v)), *sorted;

			sorted = json_array();
			if (v == NULL || sorted == NULL) {
				free(v);
				json_decref(sorted);
				json_decref(loaded);
				json_decref(wl);
				return NULL;
			}
			for (i = 0; i < n; i++)
				v[i] = json_array_get(wl, i);
			qsort(v, n, sizeof(*v), cmp_warning);
			for (i = 0; i < n; i++)
				json_array_append(sorted, v[i]);
			free(v);
			json_decref(wl);
			wl = sorted;
		}
		json_object_del(p, "warnings");
		if (set(p, "current", json_boolean(cur)) != 0 ||
		    set(p, "title", cur ? json_string(pack_title(r->pack)) :
		    json_null()) != 0 ||
		    set(p, "status", cur ? json_string(pack_status(r->pack)) :
		    json_null()) != 0 ||
		    set(p, "loads", json_integer(nload)) != 0 ||
		    set(p, "loaded", loaded) != 0 ||
		    set(p, "warnings", wl) != 0) {
			json_decref(wl);
			return NULL;
		}
	}
	return rows(map, cmp_count);
}

static void
rctx_release(struct rctx *r)
{
	json_t **v[] = { &r->voids, &r->resol, &r->loads, &r->totals,
	    &r->by_outcome, &r->by_tier, &r->by_dest, &r->by_auth,
	    &r->by_eccn, &r->days, &r->packs, &r->quotas, &r->names, &r->lr,
	    &r->held, &r->voided, &r->officers, &r->licenses, &r->integrity };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		json_decref(*v[i]);
		*v[i] = NULL;
	}
}

int
api_report_format_parse(const char *s, enum report_format *out)
{
	if (s != NULL && strcmp(s, "json") == 0)
		*out = REPORT_JSON;
	else if (s != NULL && strcmp(s, "csv") == 0)
		*out = REPORT_CSV;
	else if (s != NULL && strcmp(s, "html") == 0)
		*out = REPORT_HTML;
	else
		return TG_EINVAL;
	return 0;
}

const char *
api_report_content_type(enum report_format f)
{
	switch (f) {
	case REPORT_CSV:
		return "text/csv; charset=utf-8; header=present";
	case REPORT_HTML:
		return "text/html; charset=utf-8";
	case REPORT_JSON:
	default:
		return "application/json";
	}
}

json_t *
api_report_json(struct tg_audit *a, tg_date from, tg_date to,
    const struct tg_pack *pack, struct tg_error *err)
{
	struct rctx r;
	struct tm tm;
	time_t now;
	json_t *root = NULL, *sec[16];
	char *note = NULL;
	uint64_t size = 0;
	enum unit unit = UNIT_WEEK;
	int rc;

	memset(&r, 0, sizeof(r));
	memset(sec, 0, sizeof(sec));
	if (from == TG_DATE_NONE || to == TG_DATE_NONE || from > to) {
		tg_error_set(err, TG_EINVAL, "the period must be two dates, "
		    "the first not after the second");
		return NULL;
	}
	r.a = a;
	r.pack = pack;
	date_format(from, r.from);
	date_format(to, r.to);
	now = time(NULL);
	r.now = (int64_t)now;
	gmtime_r(&now, &tm);
	strftime(r.generated, sizeof(r.generated), "%Y-%m-%dT%H:%M:%SZ", &tm);
	r.oldest_open = -1;
	r.voids = json_object();
	r.resol = json_object();
	r.loads = json_array();
	r.by_outcome = json_object();
	r.by_tier = json_object();
	r.by_dest = json_object();
	r.by_auth = json_object();
	r.by_eccn = json_object();
	r.days = json_object();
	r.packs = json_object();
	r.quotas = json_object();
	r.names = json_object();
	r.lr = json_array();
	r.held = json_array();
	r.voided = json_array();
	r.officers = json_object();
	r.licenses = json_array();
	r.totals = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:n, s:I, s:I, s:I}", "decisions", (json_int_t)0,
	    "binding", (json_int_t)0, "dry_run", (json_int_t)0, "items",
	    (json_int_t)0, outcome_names[0], (json_int_t)0, outcome_names[1],
	    (json_int_t)0, outcome_names[2], (json_int_t)0, outcome_names[3],
	    (json_int_t)0, "held_open", (json_int_t)0, "held_released",
	    (json_int_t)0, "held_rejected", (json_int_t)0, "oldest_open_days",
	    "open_holds_all_dates", (json_int_t)0, "resolutions",
	    (json_int_t)0, "voided", (json_int_t)0);
	if (r.voids == NULL || r.resol == NULL || r.loads == NULL ||
	    r.by_outcome == NULL || r.by_tier == NULL || r.by_dest == NULL ||
	    r.by_auth == NULL || r.by_eccn == NULL || r.days == NULL ||
	    r.packs == NULL || r.quotas == NULL || r.names == NULL ||
	    r.lr == NULL || r.held == NULL || r.voided == NULL ||
	    r.officers == NULL || r.licenses == NULL || r.totals == NULL)
		goto nomem;
	/* The four outcomes are always listed, in this order. */
	for (int i = 0; i < NOUTCOMES; i++)
		if (row(r.by_outcome, ROW_DECISIONS, "outcome",
		    outcome_names[i], NULL, NULL, NULL) == NULL)
			goto nomem;

	/* The snapshot: everything below reads entries 1..size. */
	rc = audit_checkpoint(a, &note, &size, err);
	if (rc != 0)
		goto fail;
	r.nsnap = note != NULL ? size : 0;
	snprintf(r.snap, sizeof(r.snap), "%llu", (unsigned long long)r.nsnap);

	/* In this order: voids and resolutions before the decisions they
	 * name, balances before the licenses that read them. */
	{
		const struct {
			const char *sql;
			int (*fn)(void *, int, const char *const *);
			void *ctx;
			size_t nparams;
		} steps[] = {
			{ side_sql, side_row, &r, 1 },
			{ decisions_sql, decision_row, &r, 3 },
			{ open_all_sql, count_row, &r.open_all, 1 },
			{ limits_sql, limit_row, &r, 1 },
			{ balances_sql, balance_row, &r, 1 },
			{ licenses_sql, license_row, &r, 1 },
		};
		const char *p1[1] = { r.snap };
		const char *p3[3] = { r.from, r.to, r.snap };

		for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
			rc = audit_query(a, steps[i].sql, steps[i].nparams == 3 ?
			    p3 : p1, steps[i].nparams, steps[i].fn,
			    steps[i].ctx, err);
			if (rc != 0)
				goto fail;
		}
	}
	rc = integrity(&r, note, err);
	if (rc != 0)
		goto fail;

	if (r.oldest_open >= 0 && set(r.totals, "oldest_open_days",
	    json_integer(r.oldest_open)) != 0)
		goto nomem;
	if (set(r.totals, "open_holds_all_dates",
	    json_integer(r.open_all)) != 0)
		goto nomem;
	sec[0] = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:b}",
	    "title", "Export-control compliance summary", "generated",
	    r.generated, "from", r.from, "to", r.to, "basis",
	    "decision date", "log_entries", (json_int_t)r.nsnap, "timeline",
	    "week", "list_max", (json_int_t)REPORT_LIST_MAX, "lists_truncated",
	    json_integer_value(json_object_get(r.totals, outcome_names[2])) >
	    REPORT_LIST_MAX || json_integer_value(json_object_get(r.totals,
	    outcome_names[3])) > REPORT_LIST_MAX || json_integer_value(
	    json_object_get(r.totals, "voided")) > REPORT_LIST_MAX);
	sec[1] = rows(r.by_outcome, NULL);
	sec[2] = rows(r.by_tier, cmp_key);
	sec[3] = rows(r.by_dest, cmp_count);
	sec[4] = rows(r.by_auth, cmp_count);
	sec[5] = rows(r.by_eccn, cmp_count);
	sec[6] = timeline(&r, &unit);
	sec[7] = rows(r.officers, cmp_count);
	sec[8] = quota_section(&r, "lpp", "consignee");
	sec[9] = quota_section(&r, "allocation", "country");
	sec[10] = pack_rows(&r);
	for (int i = 0; i <= 10; i++)
		if (sec[i] == NULL)
			goto nomem;
	if (set(sec[0], "timeline", json_string(unit_names[unit])) != 0 ||
	    set(r.totals, "destinations", json_integer((json_int_t)
	    json_object_size(r.by_dest))) != 0)
		goto nomem;
	/* json_pack releases the "o" sections even when it fails. */
	root = json_pack("{s:o, s:O, s:o, s:o, s:o, s:o, s:o, s:o, s:O, s:O, "
	    "s:o, s:O, s:o, s:o, s:O, s:o, s:O}", "report", sec[0], "totals",
	    r.totals, "by_outcome", sec[1], "by_tier", sec[2],
	    "by_destination", sec[3], "by_authorization", sec[4], "by_eccn",
	    sec[5], "timeline", sec[6], "license_required", r.lr, "held",
	    r.held, "resolutions_by_officer", sec[7], "voided", r.voided,
	    "lpp", sec[8], "allocation", sec[9], "licenses", r.licenses,
	    "packs", sec[10], "integrity", r.integrity);
	memset(sec, 0, sizeof(sec));
	if (root == NULL)
		goto nomem;
	free(note);
	rctx_release(&r);
	return root;
nomem:
	rc = tg_error_set(err, -ENOMEM, "out of memory");
fail:
	/* A callback's failure (-ENOMEM) leaves err to us. */
	if (err != NULL && err->code == 0)
		tg_error_set(err, rc, "cannot make the report: %s",
		    tg_strerror(rc));
	for (int i = 0; i < 16; i++)
		json_decref(sec[i]);
	free(note);
	rctx_release(&r);
	return NULL;
}

/* ---- values as text ------------------------------------------------------ */

/* A scalar as CSV and HTML's data-v write it: integers as such, reals
 * with 17 digits (as the JSON has them), true/false, "" for null. */
static const char *
scalar(const json_t *v, char buf[64])
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, 64, "%lld", (long long)json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, 64, "%.17g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "";
	}
}

/* ---- CSV ----------------------------------------------------------------- */

struct csv {
	struct tg_buf *b;
	struct tg_buf path;
	int rc;
};

static void
csv_cell(struct csv *c, const char *s, bool text)
{
	size_t len = strlen(s);

	if (c->rc != 0)
		return;
	/* A spreadsheet runs a cell that starts so as a formula (CSV
	 * injection); names and reasons come from the queries. */
	if (text && len > 0 && strchr("=+-@\t\r", s[0]) != NULL) {
		char *t = malloc(len + 2);

		if (t == NULL) {
			c->rc = -ENOMEM;
			return;
		}
		t[0] = '\'';
		memcpy(t + 1, s, len + 1);
		c->rc = csv_field_write(c->b, t, len + 1);
		free(t);
		return;
	}
	c->rc = csv_field_write(c->b, s, len);
}

static void
csv_line(struct csv *c, const char *section, const char *key,
    const json_t *v)
{
	char nb[64];

	csv_cell(c, section, false);
	if (c->rc == 0)
		c->rc = buf_add(c->b, ",", 1);
	csv_cell(c, key, true);
	if (c->rc == 0)
		c->rc = buf_add(c->b, ",", 1);
	csv_cell(c, c->path.p != NULL ? c->path.p : "", false);
	if (c->rc == 0)
		c->rc = buf_add(c->b, ",", 1);
	csv_cell(c, scalar(v, nb), json_is_string(v));
	if (c->rc == 0)
		c->rc = buf_add(c->b, "\n", 1);
}

/* One line per scalar under v, field = the path from the row. */
static void
csv_walk(struct csv *c, const char *section, const char *key,
    const json_t *v, bool skip_first)
{
	size_t mark = c->path.len, i;
	const char *k;
	json_t *m;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)(uintptr_t)v, k, m) {
			if (skip_first) {
				skip_first = false;
				continue;
			}
			if (c->rc == 0)
				c->rc = buf_printf(&c->path, "%s%s",
				    mark > 0 ? "." : "", k);
			csv_walk(c, section, key, m, false);
			c->path.len = mark;
			if (c->path.p != NULL)
				c->path.p[mark] = '\0';
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m) {
			if (c->rc == 0)
				c->rc = buf_printf(&c->path, "[%zu]", i);
			csv_walk(c, section, key, m, false);
			c->path.len = mark;
			if (c->path.p != NULL)
				c->path.p[mark] = '\0';
		}
	} else
		csv_line(c, section, key, v);
}

static int
render_csv(const json_t *rep, struct tg_buf *out)
{
	struct csv c = { .b = out };
	const char *sec;
	json_t *v, *r;
	size_t i;

	buf_init(&c.path, 64 * 1024);
	c.rc = buf_adds(out, "section,key,field,value\n");
	json_object_foreach((json_t *)(uintptr_t)rep, sec, v) {
		if (json_is_object(v)) {
			csv_walk(&c, sec, "", v, false);
			continue;
		}
		json_array_foreach(v, i, r) {
			char nb[64];

			/* A row is named by its first member. */
			if (json_is_object(r))
				csv_walk(&c, sec, scalar(first(r), nb), r,
				    true);
			else {
				buf_reset(&c.path);
				if (c.rc == 0)
					c.rc = buf_printf(&c.path, "[%zu]", i);
				csv_line(&c, sec, "", r);
				buf_reset(&c.path);
			}
		}
	}
	buf_release(&c.path);
	return c.rc;
}

/* ---- HTML ---------------------------------------------------------------- */

struct html {
	struct tg_buf *b;
	const json_t *rep;
	int rc;
};

static void
hraw(struct html *h, const char *s)
{
	if (h->rc == 0)
		h->rc = buf_adds(h->b, s);
}

static void hfmt(struct html *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
hfmt(struct html *h, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (h->rc != 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		h->rc = TG_EINTERNAL;
		return;
	}
	h->rc = buf_add(h->b, line, (size_t)n);
}

/*
 * s escaped for text and attribute values alike, cut after max
 * characters (code points) with an ellipsis.  Control characters other
 * than tab and newline become U+FFFD, so no input can end an element, an
 * attribute or the page early.
 */
static void
hesc_n(struct html *h, const char *s, size_t max)
{
	const char *run = s, *p;
	size_t chars = 0;

	if (s == NULL)
		return;
	for (p = s; *p != '\0' && h->rc == 0; p++) {
		unsigned char ch = (unsigned char)*p;
		const char *rep = NULL;

		if ((ch & 0xc0) != 0x80 && chars++ == max) {
			h->rc = buf_add(h->b, run, (size_t)(p - run));
			hraw(h, "\xe2\x80\xa6");
			return;
		}
		switch (ch) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			if ((ch < 0x20 && ch != '\t' && ch != '\n') ||
			    ch == 0x7f)
				rep = "\xef\xbf\xbd";
			break;
		}
		if (rep == NULL)
			continue;
		h->rc = buf_add(h->b, run, (size_t)(p - run));
		hraw(h, rep);
		run = p + 1;
	}
	if (h->rc == 0)
		h->rc = buf_add(h->b, run, (size_t)(p - run));
}

static void
hesc(struct html *h, const char *s)
{
	hesc_n(h, s, SIZE_MAX);
}

/* 1234567 -> "1,234,567"; reals with two decimals; "–" for null. */
static void
pretty(const json_t *v, char *out, size_t size)
{
	char raw[64];
	size_t o = 0, i = 0, end, digits;

	if (json_is_integer(v))
		snprintf(raw, sizeof(raw), "%lld",
		    (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(raw, sizeof(raw), "%.2f", json_real_value(v));
	else {
		snprintf(out, size, "\xe2\x80\x93");
		return;
	}
	if (raw[0] == '-' && o + 1 < size)
		out[o++] = raw[i++];
	end = strcspn(raw, ".");
	digits = end - i;
	for (; raw[i] != '\0' && o + 2 < size; i++) {
		if (i < end && i > (raw[0] == '-') && (end - i) % 3 == 0 &&
		    digits > 3)
			out[o++] = ',';
		out[o++] = raw[i];
	}
	out[o] = '\0';
}

/* 26900000 -> "26.9M" */
static void
compact(double v, char *out, size_t size)
{
	double a = fabs(v);

	if (a >= 1e9)
		snprintf(out, size, "%.3gB", v / 1e9);
	else if (a >= 1e6)
		snprintf(out, size, "%.3gM", v / 1e6);
	else if (a >= 1e4)
		snprintf(out, size, "%.3gk", v / 1e3);
	else
		snprintf(out, size, "%.4g", v);
}

static const char *
outcome_label(const char *o)
{
	for (int i = 0; o != NULL && i < NOUTCOMES; i++)
		if (strcmp(o, outcome_names[i]) == 0)
			return outcome_labels[i];
	return o;
}

/* A number cell that names its CSV line and value. */
static void
td_num(struct html *h, const char *sec, const char *key, const char *field,
    const json_t *v, const char *cls)
{
	char raw[64], nice[96];

	hraw(h, "<td class=\"n");
	if (cls != NULL) {
		hraw(h, " ");
		hraw(h, cls);
	}
	hraw(h, "\" data-f=\"");
	hesc(h, sec);
	hraw(h, ",");
	hesc(h, key);
	hraw(h, ",");
	hesc(h, field);
	hraw(h, "\" data-v=\"");
	hesc(h, scalar(v, raw));
	hraw(h, "\">");
	pretty(v, nice, sizeof(nice));
	hesc(h, nice);
	hraw(h, "</td>");
}

static void
td_text(struct html *h, const char *s, const char *cls)
{
	if (cls != NULL) {
		hraw(h, "<td class=\"");
		hraw(h, cls);
		hraw(h, "\">");
	} else
		hraw(h, "<td>");
	hesc(h, s != NULL ? s : "\xe2\x80\x93");
	hraw(h, "</td>");
}

/* An entry time, to the minute ("2026-11-28 13:49"); the whole of it
 * in the title. */
static void
td_time(struct html *h, const char *t)
{
	char shortt[17];

	if (t == NULL || strlen(t) < 16) {
		td_text(h, t, "small muted nw");
		return;
	}
	memcpy(shortt, t, 16);
	shortt[10] = ' ';
	shortt[16] = '\0';
	hraw(h, "<td class=\"small muted nw\" title=\"");
	hesc(h, t);
	hraw(h, "\">");
	hesc(h, shortt);
	hraw(h, "</td>");
}

static void
th_row(struct html *h, const char *const *cols, const char *numeric)
{
	hraw(h, "<thead><tr>");
	for (size_t i = 0; cols[i] != NULL; i++) {
		hraw(h, numeric[i] == 'n' ? "<th class=\"n\">" : "<th>");
		hesc(h, cols[i]);
		hraw(h, "</th>");
	}
	hraw(h, "</tr></thead><tbody>\n");
}

static const json_t *
sect(const struct html *h, const char *name)
{
	return json_object_get(h->rep, name);
}

static json_int_t
total(const struct html *h, const char *k)
{
	return json_integer_value(json_object_get(sect(h, "totals"), k));
}

static const char css[] =
    ":root{--ink:#1d2433;--muted:#5f6b7a;--line:#e3e7ee;--bg:#f4f6f9;"
    "--card:#fff;--accent:#1f4e8c}"
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 "
    "system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,"
    "sans-serif}"
    "main{max-width:1120px;margin:0 auto;padding:28px 24px 40px}"
    "header.top{display:flex;justify-content:space-between;gap:24px;"
    "align-items:flex-start;border-bottom:3px solid var(--accent);"
    "padding-bottom:14px;margin-bottom:18px}"
    "h1{font-size:25px;margin:0 0 4px;letter-spacing:-.01em}"
    "h2{font-size:17px;margin:0 0 12px;padding-bottom:6px;"
    "border-bottom:1px solid var(--line)}"
    "h3{font-size:14px;margin:16px 0 8px}"
    ".sub{color:var(--muted);margin:0}"
    ".seal{text-align:right;font-size:12px;color:var(--muted);"
    "min-width:260px}"
    ".seal .badge{font-size:13px;padding:4px 12px;margin-bottom:6px}"
    "section{background:var(--card);border:1px solid var(--line);"
    "border-radius:10px;padding:16px 20px 18px;margin:16px 0}"
    ".kpis{display:grid;grid-template-columns:repeat(auto-fit,"
    "minmax(128px,1fr));gap:10px;margin:0 0 16px}"
    ".kpi{background:var(--card);border:1px solid var(--line);"
    "border-top:4px solid var(--c,#9aa5b4);border-radius:8px;"
    "padding:9px 10px;min-width:0}"
    ".kpi b{display:block;font-size:26px;line-height:1.2;"
    "font-variant-numeric:tabular-nums}"
    ".kpi span{display:block;color:var(--muted);font-size:11px;"
    "font-weight:600;white-space:nowrap;overflow:hidden;"
    "text-overflow:ellipsis}"
    ".kpi small{display:block;color:var(--muted);font-size:11px}"
    ".grid2{display:grid;grid-template-columns:minmax(0,1fr) "
    "minmax(0,1fr);gap:16px}"
    ".grid2>section{margin:0}"
    ".grid2 th,.grid2 td{padding:5px 6px}"
    ;

static const char css2[] =
    "table{border-collapse:collapse;width:100%;font-size:12.5px}"
    "th,td{padding:5px 8px;border-bottom:1px solid var(--line);"
    "text-align:left;vertical-align:top}"
    "th{font-size:10.5px;text-transform:uppercase;letter-spacing:.05em;"
    "color:var(--muted);background:#f8f9fb;font-weight:600}"
    "tbody tr:nth-child(even) td{background:#fafbfc}"
    ".n{text-align:right;font-variant-numeric:tabular-nums;"
    "white-space:nowrap}"
    "code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"
    "monospace;font-size:11.5px;word-break:break-all}"
    ".muted{color:var(--muted)}"
    ".nw{white-space:nowrap}"
    ".id{white-space:nowrap;font-size:10.5px}"
    ".small{font-size:11.5px}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:999px;"
    "font-size:11px;font-weight:600;color:#fff;white-space:nowrap}"
    ".ok{background:#2f7d4f}.bad{background:#b4232a}.warn{background:#c27c0e}"
    ".st-open{background:#7b61c4}.st-released{background:#2f7d4f}"
    ".st-rejected{background:#b4232a}"
    ".old{color:#b4232a;font-weight:700}"
    ".legend{display:flex;flex-wrap:wrap;gap:14px;font-size:12px;"
    "color:var(--muted);margin-top:6px}"
    ".legend i{display:inline-block;width:11px;height:11px;"
    "border-radius:2px;margin-right:5px;vertical-align:-1px}"
    "svg text{font-family:inherit}"
    ;

/* In pieces: C11 promises only 4095 bytes per string literal. */
static const char css3[] =
    ".gauges{display:grid;grid-template-columns:repeat(auto-fill,"
    "minmax(160px,1fr));gap:10px;margin-bottom:12px}"
    "figure.gauge{margin:0;border:1px solid var(--line);border-radius:8px;"
    "padding:8px 8px 6px;text-align:center}"
    "figure.gauge figcaption{font-size:11.5px;color:var(--muted);"
    "line-height:1.3}"
    "figure.gauge figcaption b{color:var(--ink);display:block;"
    "overflow-wrap:anywhere}"
    "ul.reasons{margin:0;padding-left:16px}"
    "ul.reasons li{margin:2px 0}"
    "cite{font-style:normal;color:var(--muted);font-size:11px}"
    ".bar{background:#e8ebf0;border-radius:3px;height:8px;min-width:80px;"
    "overflow:hidden}"
    ".bar>i{display:block;height:8px;background:var(--c,#2f9e55)}"
    ".callout{border-left:4px solid #c27c0e;background:#fdf6e8;"
    "padding:8px 12px;margin:8px 0;font-size:12.5px}"
    ".empty{color:var(--muted);font-style:italic;margin:4px 0}"
    "dl.kv{display:grid;grid-template-columns:220px 1fr;gap:4px 14px;"
    "margin:0;font-size:13px}"
    "dl.kv dt{color:var(--muted)}dl.kv dd{margin:0}"
    "pre{background:#f6f7f9;border:1px solid var(--line);"
    "border-radius:6px;padding:8px 10px;font-size:11px;"
    "white-space:pre-wrap;word-break:break-all}"
    "footer{color:var(--muted);font-size:11.5px;margin-top:20px}"
    "footer li{margin:3px 0}"
    "@media (max-width:820px){.grid2{grid-template-columns:1fr}"
    "header.top{flex-direction:column}.seal{text-align:left}}"
    "@media print{@page{size:A4;margin:14mm 12mm}"
    "body{background:#fff;font-size:10pt}"
    "main{max-width:none;padding:0}"
    "section{border:none;border-radius:0;padding:0;margin:14pt 0}"
    ".grid2{gap:10pt}"
    "h2{break-after:avoid}"
    "tr,figure,.kpi,svg,.callout{break-inside:avoid}"
    "thead{display:table-header-group}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "tbody tr:nth-child(even) td{background:none}}";

static void
legend(struct html *h)
{
	hraw(h, "<div class=\"legend\">");
	for (int i = 0; i < NOUTCOMES; i++)
		hfmt(h, "<span><i style=\"background:%s\"></i>%s</span>",
		    outcome_colors[i], outcome_labels[i]);
	hraw(h, "</div>\n");
}

/* The largest of 1, 2, 5 x 10^k at or above v / ticks: a tick step. */
static double
nice_step(double v, int ticks)
{
	double raw = v / ticks, p;

	if (!(raw > 1))
		return 1;
	p = pow(10, floor(log10(raw)));
	if (raw <= p)
		return p;
	if (raw <= 2 * p)
		return 2 * p;
	if (raw <= 5 * p)
		return 5 * p;
	return 10 * p;
}

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr", "May",
    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

/* Decisions per bucket, stacked by outcome. */
static void
svg_timeline(struct html *h)
{
	const json_t *tl = sect(h, "timeline"), *b;
	const char *unit = json_string_value(json_object_get(sect(h,
	    "report"), "timeline"));
	const double W = 960, H = 270, L = 46, R = 10, T = 12, B = 42;
	double pw = W - L - R, ph = H - T - B, max = 0, step, ymax, bw, bar;
	size_t n = json_array_size(tl), i, every;
	int ticks;
	char prev_year[5] = "";

	if (n == 0) {
		hraw(h, "<p class=\"empty\">No decisions in the period.</p>");
		return;
	}
	json_array_foreach(tl, i, b)
		max = fmax(max, json_number_value(json_object_get(b,
		    "decisions")));
	step = nice_step(max, 5);
	ymax = step * ceil(max / step);
	if (ymax < step)
		ymax = step;
	ticks = (int)lround(ymax / step);
	bw = pw / (double)n;
	bar = fmax(bw * 0.78, 1);
	hfmt(h, "<svg viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" "
	    "aria-label=\"Decisions per %s by outcome\">", W, H,
	    unit ? unit : "week");
	for (int t = 0; t <= ticks; t++) {
		double y = T + ph - ph * t / ticks;

		hfmt(h, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" "
		    "stroke=\"%s\" stroke-width=\"1\"/>", L, W - R, y, y,
		    t == 0 ? "#9aa5b4" : "#e8ebf0");
		hfmt(h, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"11\" "
		    "fill=\"#5f6b7a\" text-anchor=\"end\">%.0f</text>", L - 6,
		    y + 4, step * t);
	}
	every = (size_t)ceil((double)n / 13);
	json_array_foreach(tl, i, b) {
		const char *start = str(b, "start");
		double x = L + (double)i * bw + (bw - bar) / 2, y0 = T + ph;

		hraw(h, "<g><title>");
		hesc(h, unit ? unit : "week");
		hraw(h, " of ");
		hesc(h, start);
		hfmt(h, ": %lld decisions", (long long)json_integer_value(
		    json_object_get(b, "decisions")));
		for (int k = 0; k < NOUTCOMES; k++)
			hfmt(h, ", %lld %s", (long long)json_integer_value(
			    json_object_get(b, outcome_names[k])),
			    outcome_labels[k]);
		hraw(h, "</title>");
		for (int k = 0; k < NOUTCOMES; k++) {
			double v = json_number_value(json_object_get(b,
			    outcome_names[k])), hh = ph * v / ymax;

			if (!(v > 0))
				continue;
			hfmt(h, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" "
			    "height=\"%.2f\" fill=\"%s\"/>", x, y0 - hh, bar,
			    hh, outcome_colors[k]);
			y0 -= hh;
		}
		hraw(h, "</g>");
		if (start != NULL && strlen(start) == 10 && i % every == 0) {
			int m = (start[5] - '0') * 10 + (start[6] - '0');
			double cx = L + (double)i * bw + bw / 2;
			bool newyear = strncmp(prev_year, start, 4) != 0;

			if (m < 1 || m > 12)
				m = 1;
			hfmt(h, "<text x=\"%.1f\" y=\"%.0f\" "
			    "font-size=\"10.5\" fill=\"#5f6b7a\" "
			    "text-anchor=\"middle\">", cx, T + ph + 15);
			if (unit != NULL && strcmp(unit, "year") == 0)
				hfmt(h, "%.4s", start);
			else if (unit != NULL && strcmp(unit, "month") == 0)
				hfmt(h, "%s", months[m - 1]);
			else
				hfmt(h, "%.2s %s", start + 8, months[m - 1]);
			hraw(h, "</text>");
			if (newyear && (unit == NULL || strcmp(unit,
			    "year") != 0))
				hfmt(h, "<text x=\"%.1f\" y=\"%.0f\" "
				    "font-size=\"10.5\" font-weight=\"600\" "
				    "fill=\"#1d2433\" text-anchor=\"middle\">"
				    "%.4s</text>", cx, T + ph + 30, start);
			memcpy(prev_year, start, 4);
			prev_year[4] = '\0';
		}
	}
	hraw(h, "</svg>");
	legend(h);
}

/* The top destinations, one stacked bar each. */
static void
svg_destinations(struct html *h)
{
	const json_t *rows_ = sect(h, "by_destination"), *r;
	size_t n = json_array_size(rows_), i;
	double max = 0, W = 470, L = 74, R = 52, rowh = 26;

	if (n > TOP_DESTINATIONS)
		n = TOP_DESTINATIONS;
	if (n == 0) {
		hraw(h, "<p class=\"empty\">No decisions in the period.</p>");
		return;
	}
	for (i = 0; i < n; i++)
		max = fmax(max, json_number_value(json_object_get(
		    json_array_get(rows_, i), "decisions")));
	hfmt(h, "<svg viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\" "
	    "aria-label=\"Top destinations by decisions\">", W,
	    (double)n * rowh + 6);
	for (i = 0; i < n; i++) {
		const json_t *tier;
		double y = (double)i * rowh + 4, x = L, full = W - L - R;

		r = json_array_get(rows_, i);
		tier = json_object_get(r, "tier");
		hraw(h, "<g><title>");
		hesc(h, str(r, "country"));
		hfmt(h, ": %lld decisions", (long long)json_integer_value(
		    json_object_get(r, "decisions")));
		hraw(h, "</title>");
		hfmt(h, "<text x=\"0\" y=\"%.1f\" font-size=\"13\" "
		    "font-weight=\"600\" fill=\"#1d2433\">", y + 14);
		hesc_n(h, str(r, "country"), 4);
		hraw(h, "</text>");
		if (json_is_integer(tier))
			hfmt(h, "<text x=\"28\" y=\"%.1f\" font-size=\"10.5\" "
			    "fill=\"#5f6b7a\">Tier %lld</text>", y + 14,
			    (long long)json_integer_value(tier));
		for (int k = 0; k < NOUTCOMES; k++) {
			double v = json_number_value(json_object_get(r,
			    outcome_names[k])), w = max > 0 ? full * v / max :
			    0;

			if (!(v > 0))
				continue;
			hfmt(h, "<rect x=\"%.2f\" y=\"%.1f\" width=\"%.2f\" "
			    "height=\"18\" fill=\"%s\"/>", x, y, w,
			    outcome_colors[k]);
			x += w;
		}
		hfmt(h, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
		    "fill=\"#1d2433\">%lld</text></g>", x + 6, y + 14,
		    (long long)json_integer_value(json_object_get(r,
		    "decisions")));
	}
	hraw(h, "</svg>");
}

static const char *
use_color(double f)
{
	return f >= 0.9 ? "#c0392b" : f >= 0.7 ? "#d9901a" : "#2f9e55";
}

static int
cmp_gauge(const void *pa, const void *pb)
{
	return cmp_use(pa, pb);
}

/* Semicircular gauges of the rows' used/limit, most used first. */
static void
gauges(struct html *h, const json_t *list, const char *keyname,
    const char *unit)
{
	size_t n = json_array_size(list), m = 0, i;
	const json_t **v;

	v = calloc(n + 1, sizeof(*v));
	if (v == NULL) {
		h->rc = -ENOMEM;
		return;
	}
	for (i = 0; i < n; i++) {
		const json_t *r = json_array_get(list, i);

		if (json_number_value(json_object_get(r, "limit")) > 0)
			v[m++] = r;
	}
	if (m == 0) {
		free(v);
		return;
	}
	qsort(v, m, sizeof(*v), cmp_gauge);
	hraw(h, "<div class=\"gauges\">");
	for (i = 0; i < m && i < GAUGES_MAX; i++) {
		double used = json_number_value(json_object_get(v[i], "used"));
		double lim = json_number_value(json_object_get(v[i], "limit"));
		double f = used / lim, a = M_PI * fmin(f, 1);
		const char *name = str(v[i], "name");
		char u[32], l[32];

		compact(used, u, sizeof(u));
		compact(lim, l, sizeof(l));
		hraw(h, "<figure class=\"gauge\"><svg viewBox=\"0 0 160 92\" "
		    "width=\"100%\" role=\"img\" aria-label=\"quota use\">");
		hraw(h, "<path d=\"M 18 82 A 62 62 0 0 1 142 82\" "
		    "fill=\"none\" stroke=\"#e8ebf0\" stroke-width=\"15\"/>");
		if (f > 0)
			hfmt(h, "<path d=\"M 18 82 A 62 62 0 0 1 %.2f %.2f\" "
			    "fill=\"none\" stroke=\"%s\" stroke-width=\"15\"/>",
			    80 - 62 * cos(a), 82 - 62 * sin(a), use_color(f));
		hfmt(h, "<text x=\"80\" y=\"76\" text-anchor=\"middle\" "
		    "font-size=\"21\" font-weight=\"700\" fill=\"#1d2433\">"
		    "%.*f%%</text></svg><figcaption><b>", f < 0.1 && f > 0 ?
		    1 : 0, f * 100);
		hesc_n(h, str(v[i], keyname), 28);
		hraw(h, "</b>");
		if (name != NULL) {
			hesc_n(h, name, 30);
			hraw(h, "<br>");
		}
		hesc(h, u);
		hraw(h, " of ");
		hesc(h, l);
		hraw(h, " ");
		hesc(h, unit);
		hraw(h, "<br><span class=\"nw\">");
		hesc(h, str(v[i], "period"));
		hraw(h, "</span></figcaption></figure>");
	}
	hraw(h, "</div>");
	if (m > GAUGES_MAX)
		hfmt(h, "<p class=\"muted small\">The %d most used of %zu are "
		    "shown; the table lists all.</p>", GAUGES_MAX, m);
	free(v);
}

static void
bar_cell(struct html *h, double used, double lim)
{
	double f = lim > 0 ? used / lim : 0;

	hfmt(h, "<td><div class=\"bar\" title=\"%.1f%%\"><i style=\"width:"
	    "%.1f%%;--c:%s\"></i></div></td>", f * 100, fmin(f, 1) * 100,
	    use_color(f));
}

static void
quota_table(struct html *h, const char *sec, const char *keyname,
    const char *keylabel)
{
	static const char *const f[] = { "used", "limit", "remaining",
	    "reserved_in_period" };
	const json_t *list = sect(h, sec), *r;
	const char *cols[10];
	char num[12];
	size_t i, c = 0;
	bool lpp = strcmp(sec, "lpp") == 0;

	if (json_array_size(list) == 0) {
		hraw(h, "<p class=\"empty\">Nothing reserved or reported in "
		    "the period.</p>");
		return;
	}
	cols[c++] = keylabel;
	if (lpp)
		cols[c++] = "Name";
	cols[c++] = "Period";
	cols[c++] = "Used (TPP)";
	cols[c++] = "Limit";
	cols[c++] = "Remaining";
	cols[c++] = "Reserved in period";
	cols[c++] = "Use";
	cols[c] = NULL;
	snprintf(num, sizeof(num), lpp ? "tttnnnnt" : "ttnnnnt");
	hraw(h, "<table>");
	th_row(h, cols, num);
	json_array_foreach(list, i, r) {
		const char *q = str(r, "quota");

		hraw(h, "<tr>");
		td_text(h, str(r, keyname), "mono");
		if (lpp)
			td_text(h, str(r, "name"), NULL);
		td_text(h, str(r, "period"), NULL);
		for (size_t k = 0; k < 4; k++)
			td_num(h, sec, q, f[k], json_object_get(r, f[k]), NULL);
		bar_cell(h, json_number_value(json_object_get(r, "used")),
		    json_number_value(json_object_get(r, "limit")));
		hraw(h, "</tr>\n");
	}
	hraw(h, "</tbody></table>");
}

/* A by_* table: the key column, then the fields' numbers. */
static void
count_table(struct html *h, const char *sec, const char *keylabel,
    const char *const *fields, const char *const *labels, bool outcomes)
{
	const json_t *list = sect(h, sec), *r;
	const char *cols[16];
	char num[16];
	size_t i, n = 0;

	cols[n] = keylabel;
	num[n++] = 't';
	for (size_t k = 0; fields[k] != NULL && n < 15; k++) {
		cols[n] = labels[k];
		num[n++] = 'n';
	}
	cols[n] = NULL;
	num[n] = '\0';
	if (json_array_size(list) == 0) {
		hraw(h, "<p class=\"empty\">None in the period.</p>");
		return;
	}
	hraw(h, "<table>");
	th_row(h, cols, num);
	json_array_foreach(list, i, r) {
		char kb[64];
		const char *key = scalar(first(r), kb);

		hraw(h, "<tr>");
		td_text(h, outcomes ? outcome_label(key) : key, NULL);
		for (size_t k = 0; fields[k] != NULL; k++)
			td_num(h, sec, key, fields[k], json_object_get(r,
			    fields[k]), NULL);
		hraw(h, "</tr>\n");
	}
	hraw(h, "</tbody></table>");
}

static void
kpi(struct html *h, const char *label, const char *field, const char *color,
    const char *note)
{
	const json_t *v = json_object_get(sect(h, "totals"), field);
	char raw[64], nice[96];

	pretty(v, nice, sizeof(nice));
	hfmt(h, "<div class=\"kpi\" style=\"--c:%s\"><span>", color);
	hesc(h, label);
	hraw(h, "</span><b data-f=\"totals,,");
	hesc(h, field);
	hraw(h, "\" data-v=\"");
	hesc(h, scalar(v, raw));
	hraw(h, "\">");
	hesc(h, nice);
	hraw(h, "</b>");
	if (note != NULL) {
		hraw(h, "<small>");
		hesc(h, note);
		hraw(h, "</small>");
	}
	hraw(h, "</div>");
}

/* The decision's reference (or id) and id, for a first cell. */
static void
td_decision(struct html *h, const json_t *r)
{
	const char *ref = str(r, "reference");

	hraw(h, "<td>");
	if (ref != NULL) {
		hesc(h, ref);
		hraw(h, "<br>");
	}
	hraw(h, "<span class=\"mono muted id\">");
	hesc(h, str(r, "decision_id"));
	hraw(h, "</span>");
	if (json_is_true(json_object_get(r, "dry_run")))
		hraw(h, " <span class=\"badge warn\">dry run</span>");
	hraw(h, "</td>");
}

static void
td_dest(struct html *h, const json_t *r)
{
	const json_t *t = json_object_get(r, "tier");

	hraw(h, "<td>");
	hesc(h, str(r, "destination"));
	if (json_is_integer(t))
		hfmt(h, " <span class=\"muted small\">Tier %lld</span>",
		    (long long)json_integer_value(t));
	hraw(h, "</td>");
}

static void
reason_list(struct html *h, const json_t *list)
{
	const json_t *x;
	size_t i;

	hraw(h, "<ul class=\"reasons\">");
	json_array_foreach(list, i, x) {
		hraw(h, "<li><code>");
		hesc(h, str(x, "rule"));
		hraw(h, "</code> ");
		hesc(h, str(x, "text"));
		if (str(x, "citation") != NULL) {
			hraw(h, " <cite>");
			hesc(h, str(x, "citation"));
			hraw(h, "</cite>");
		}
		hraw(h, "</li>");
	}
	hraw(h, "</ul>");
}

static void
truncated_note(struct html *h, const char *what, size_t shown,
    json_int_t all)
{
	if ((json_int_t)shown < all)
		hfmt(h, "<p class=\"muted small\">The first %zu of %lld %s are "
		    "listed.</p>", shown, (long long)all, what);
}

static void
html_holds(struct html *h)
{
	static const char *const ocols[] = { "Decision", "Date", "Logged",
	    "Destination", "Age (days)", "Red flags", NULL };
	static const char *const hcols[] = { "Decision", "Date",
	    "Destination", "Resolution", "Officer", "Reason", "Resolved",
	    NULL };
	static const char *const fcols[] = { "Officer", "Released",
	    "Rejected", "Resolutions", NULL };
	static const char *const ff[] = { "released", "rejected",
	    "resolutions", NULL };
	const json_t *held = sect(h, "held"), *r;
	json_int_t open = total(h, "held_open");
	size_t i;

	hraw(h, "<section id=\"holds\"><h2>Holds</h2>");
	hfmt(h, "<p class=\"sub\">%lld held in the period: %lld open, %lld "
	    "released, %lld rejected.  Open holds of any date: %lld.</p>",
	    (long long)total(h, "hold"), (long long)open,
	    (long long)total(h, "held_released"),
	    (long long)total(h, "held_rejected"),
	    (long long)total(h, "open_holds_all_dates"));
	hraw(h, "<h3>Open holds, waiting on an officer</h3>");
	if (open == 0)
		hraw(h, "<p class=\"empty\">No open holds in the period.</p>");
	else {
		hraw(h, "<table>");
		th_row(h, ocols, "ttttnt");
		json_array_foreach(held, i, r) {
			const char *st = str(r, "status");
			const json_t *f;
			size_t k;

			if (st == NULL || strcmp(st, "open") != 0)
				continue;
			hraw(h, "<tr>");
			td_decision(h, r);
			td_text(h, str(r, "date"), "nw");
			td_time(h, str(r, "logged"));
			td_dest(h, r);
			td_num(h, "held", str(r, "decision_id"), "age_days",
			    json_object_get(r, "age_days"),
			    json_integer_value(json_object_get(r, "age_days"))
			    >= 7 ? "old" : NULL);
			hraw(h, "<td class=\"small\">");
			json_array_foreach(json_object_get(r, "red_flags"), k,
			    f) {
				hraw(h, k > 0 ? "<br><code>" : "<code>");
				hesc(h, str(f, "rule"));
				hraw(h, "</code> <cite>");
				hesc(h, str(f, "citation"));
				hraw(h, "</cite>");
			}
			hraw(h, "</td></tr>\n");
		}
		hraw(h, "</tbody></table>");
	}
	hraw(h, "<h3>Resolved holds</h3>");
	if (total(h, "held_released") + total(h, "held_rejected") == 0)
		hraw(h, "<p class=\"empty\">No held decision of the period "
		    "was resolved.</p>");
	else {
		hraw(h, "<table>");
		th_row(h, hcols, "ttttttt");
		json_array_foreach(held, i, r) {
			const json_t *res = json_object_get(r, "resolution");
			const char *st = str(r, "status");

			if (!json_is_object(res))
				continue;
			hraw(h, "<tr>");
			td_decision(h, r);
			td_text(h, str(r, "date"), "nw");
			td_dest(h, r);
			hraw(h, "<td><span class=\"badge st-");
			hesc(h, st);
			hraw(h, "\">");
			hesc(h, st);
			hraw(h, "</span></td>");
			td_text(h, str(res, "officer"), NULL);
			td_text(h, str(res, "reason"), NULL);
			td_time(h, str(res, "time"));
			hraw(h, "</tr>\n");
		}
		hraw(h, "</tbody></table>");
		truncated_note(h, "held decisions", json_array_size(held),
		    total(h, "hold"));
	}
	hraw(h, "<h3>Resolutions by officer</h3>");
	if (json_array_size(sect(h, "resolutions_by_officer")) == 0)
		hraw(h, "<p class=\"empty\">No resolutions.</p>");
	else
		count_table(h, "resolutions_by_officer", fcols[0], ff,
		    fcols + 1, false);
	hraw(h, "</section>\n");
}

static void
html_license_required(struct html *h)
{
	static const char *const cols[] = { "Decision", "Date",
	    "Destination", "Items, reasons and citations", NULL };
	const json_t *list = sect(h, "license_required"), *r, *it;
	size_t i, k;

	hraw(h, "<section id=\"license-required\"><h2>License-required "
	    "decisions</h2>");
	if (json_array_size(list) == 0) {
		hraw(h, "<p class=\"empty\">None in the period.</p>"
		    "</section>\n");
		return;
	}
	hraw(h, "<table>");
	th_row(h, cols, "tttt");
	json_array_foreach(list, i, r) {
		hraw(h, "<tr>");
		td_decision(h, r);
		td_text(h, str(r, "date"), "nw");
		td_dest(h, r);
		hraw(h, "<td class=\"small\">");
		json_array_foreach(json_object_get(r, "items"), k, it) {
			char tpp[96];

			pretty(json_object_get(it, "tpp"), tpp, sizeof(tpp));
			hfmt(h, "<b>Item %lld</b> ", (long long)
			    json_integer_value(json_object_get(it, "index")));
			hesc(h, str(it, "eccn") ? str(it, "eccn") : "no ECCN");
			if (json_is_number(json_object_get(it, "tpp"))) {
				hraw(h, " \xc2\xb7 TPP ");
				hesc(h, tpp);
			}
			reason_list(h, json_object_get(it, "reasons"));
		}
		hraw(h, "</td></tr>\n");
	}
	hraw(h, "</tbody></table>");
	truncated_note(h, "license-required decisions", json_array_size(list),
	    total(h, "license_required"));
	hraw(h, "</section>\n");
}

static void
html_licenses(struct html *h)
{
	static const char *const cols[] = { "License", "Country", "Consignee",
	    "ECCN", "Valid until", "Status", "TPP used", "TPP limit",
	    "Units used", "Units limit", NULL };
	const json_t *list = sect(h, "licenses"), *r;
	size_t i;

	hraw(h, "<section id=\"licenses\"><h2>License balances</h2>");
	if (json_array_size(list) == 0) {
		hraw(h, "<p class=\"empty\">No licenses registered.</p>"
		    "</section>\n");
		return;
	}
	hraw(h, "<table>");
	th_row(h, cols, "ttttttnnnn");
	json_array_foreach(list, i, r) {
		const char *num = str(r, "number"), *st = str(r, "status");

		hraw(h, "<tr>");
		td_text(h, num, "mono");
		td_text(h, str(r, "country"), NULL);
		td_text(h, str(r, "consignee") ? str(r, "consignee") : "any",
		    NULL);
		td_text(h, str(r, "eccn") ? str(r, "eccn") : "any", NULL);
		td_text(h, str(r, "valid_until"), NULL);
		hfmt(h, "<td><span class=\"badge %s\">", st != NULL &&
		    strcmp(st, "active") == 0 ? "ok" : "bad");
		hesc(h, st);
		hraw(h, "</span></td>");
		td_num(h, "licenses", num, "tpp_used",
		    json_object_get(r, "tpp_used"), NULL);
		td_num(h, "licenses", num, "tpp_limit",
		    json_object_get(r, "tpp_limit"), NULL);
		td_num(h, "licenses", num, "quantity_used",
		    json_object_get(r, "quantity_used"), NULL);
		td_num(h, "licenses", num, "quantity_limit",
		    json_object_get(r, "quantity_limit"), NULL);
		hraw(h, "</tr>\n");
	}
	hraw(h, "</tbody></table></section>\n");
}

static void
html_voided(struct html *h)
{
	static const char *const cols[] = { "Decision", "Date",
	    "Destination", "Outcome", "Voided", "Officer", "Reason", NULL };
	const json_t *list = sect(h, "voided"), *r;
	size_t i;

	hraw(h, "<section id=\"voided\"><h2>Voided decisions</h2>"
	    "<p class=\"sub\">Withdrawn after the fact; their reservations "
	    "were released.  They are counted here only and left out of "
	    "every other figure.</p>");
	if (json_array_size(list) == 0) {
		hraw(h, "<p class=\"empty\">None in the period.</p>"
		    "</section>\n");
		return;
	}
	hraw(h, "<table>");
	th_row(h, cols, "ttttttt");
	json_array_foreach(list, i, r) {
		const json_t *v = json_object_get(r, "voided");

		hraw(h, "<tr>");
		td_decision(h, r);
		td_text(h, str(r, "date"), "nw");
		td_dest(h, r);
		td_text(h, outcome_label(str(r, "outcome")), NULL);
		td_time(h, str(v, "time"));
		td_text(h, str(v, "officer"), NULL);
		td_text(h, str(v, "reason"), NULL);
		hraw(h, "</tr>\n");
	}
	hraw(h, "</tbody></table>");
	truncated_note(h, "voided decisions", json_array_size(list),
	    total(h, "voided"));
	hraw(h, "</section>\n");
}

static void
html_packs(struct html *h)
{
	const json_t *list = sect(h, "packs"), *p, *x;
	size_t i, k;

	hraw(h, "<section id=\"packs\"><h2>Rule packs in force</h2>");
	if (json_array_size(list) == 0)
		hraw(h, "<p class=\"empty\">No decisions or rule loads in the "
		    "period.</p>");
	json_array_foreach(list, i, p) {
		size_t nunv = 0;

		hraw(h, "<h3>");
		hesc(h, str(p, "pack") ? str(p, "pack") : "unknown pack");
		hraw(h, " ");
		hesc(h, str(p, "version"));
		if (json_is_true(json_object_get(p, "current")))
			hraw(h, " <span class=\"badge ok\">in use now</span>");
		hraw(h, "</h3><dl class=\"kv\"><dt>SHA-256</dt><dd><code>");
		hesc(h, str(p, "sha256"));
		hraw(h, "</code></dd><dt>Decisions in the period</dt><dd>");
		{
			char nice[96], raw[64];

			pretty(json_object_get(p, "decisions"), nice,
			    sizeof(nice));
			hraw(h, "<span data-f=\"packs,");
			hesc(h, str(p, "sha256"));
			hraw(h, ",decisions\" data-v=\"");
			hesc(h, scalar(json_object_get(p, "decisions"), raw));
			hraw(h, "\">");
			hesc(h, nice);
			hraw(h, "</span>");
		}
		if (str(p, "first_date") != NULL) {
			hraw(h, " (transaction dates ");
			hesc(h, str(p, "first_date"));
			hraw(h, " to ");
			hesc(h, str(p, "last_date"));
			hraw(h, ")");
		}
		hraw(h, "</dd>");
		if (str(p, "title") != NULL) {
			hraw(h, "<dt>Title</dt><dd>");
			hesc(h, str(p, "title"));
			hraw(h, "</dd>");
		}
		hfmt(h, "<dt>Loaded by the daemon</dt><dd>%lld time%s",
		    (long long)json_integer_value(json_object_get(p, "loads")),
		    json_integer_value(json_object_get(p, "loads")) == 1 ? "" :
		    "s");
		json_array_foreach(json_object_get(p, "loaded"), k, x) {
			hraw(h, k == 0 ? ": " : "; ");
			hesc(h, str(x, "time"));
			hraw(h, " (");
			hesc(h, str(x, "reason"));
			hraw(h, ")");
		}
		hraw(h, "</dd></dl>");
		if (str(p, "status") != NULL) {
			hraw(h, "<div class=\"callout\"><b>Legal status.</b> ");
			hesc(h, str(p, "status"));
			hraw(h, "</div>");
		}
		hraw(h, "<p class=\"small\"><b>Warnings on its decisions</b> "
		    "(legal status and cautions first; decisions in "
		    "brackets):</p><ul class=\"reasons small\">");
		json_array_foreach(json_object_get(p, "warnings"), k, x) {
			const char *kind = str(x, "kind");

			if (kind != NULL && strcmp(kind, "legal") != 0) {
				nunv++;
				continue;
			}
			hraw(h, "<li>");
			hesc(h, str(x, "text"));
			hfmt(h, " <cite>[%lld]</cite></li>", (long long)
			    json_integer_value(json_object_get(x,
			    "decisions")));
		}
		hraw(h, "</ul>");
		if (nunv > 0) {
			hfmt(h, "<p class=\"small\"><b>Resting on unverified "
			    "facts</b> (%zu):</p><ul class=\"reasons small "
			    "muted\">", nunv);
			json_array_foreach(json_object_get(p, "warnings"), k,
			    x) {
				const char *kind = str(x, "kind");

				if (kind == NULL || strcmp(kind, "legal") == 0)
					continue;
				hraw(h, "<li>");
				hesc(h, str(x, "text"));
				hfmt(h, " <cite>[%lld]</cite></li>",
				    (long long)json_integer_value(
				    json_object_get(x, "decisions")));
			}
			hraw(h, "</ul>");
		}
	}
	hraw(h, "</section>\n");
}

static void
html_integrity(struct html *h)
{
	const json_t *g = sect(h, "integrity");
	const char *log = str(g, "log"), *led = str(g, "ledger");
	const char *key = str(g, "key_id");
	bool lok = log != NULL && strcmp(log, "ok") == 0;
	bool gok = led != NULL && strcmp(led, "ok") == 0;

	hraw(h, "<section id=\"integrity\"><h2>Log integrity</h2>"
	    "<dl class=\"kv\"><dt>Audit log</dt><dd>");
	hfmt(h, "<span class=\"badge %s\" data-f=\"integrity,,log\" "
	    "data-v=\"", lok ? "ok" : "bad");
	hesc(h, log);
	hraw(h, "\">");
	hesc(h, lok ? "verified" : log);
	hraw(h, "</span> ");
	hfmt(h, "%lld entries, %lld checkpoints and %lld key%s checked",
	    (long long)json_integer_value(json_object_get(g, "entries")),
	    (long long)json_integer_value(json_object_get(g, "checkpoints")),
	    (long long)json_integer_value(json_object_get(g, "keys")),
	    json_integer_value(json_object_get(g, "keys")) == 1 ? "" : "s");
	if (str(g, "log_detail") != NULL && str(g, "log_detail")[0]) {
		hraw(h, "; ");
		hesc(h, str(g, "log_detail"));
	}
	hraw(h, "</dd><dt>Key chain anchored at</dt><dd>");
	hesc(h, str(g, "anchor"));
	hraw(h, "</dd><dt>Recomputed root</dt><dd><code>");
	hesc(h, str(g, "root"));
	hraw(h, "</code></dd><dt>Quota and license ledger</dt><dd>");
	hfmt(h, "<span class=\"badge %s\" data-f=\"integrity,,ledger\" "
	    "data-v=\"", gok ? "ok" : "bad");
	hesc(h, led);
	hraw(h, "\">");
	hesc(h, gok ? "consistent" : led);
	hfmt(h, "</span> %lld balances recomputed from the entries",
	    (long long)json_integer_value(json_object_get(g, "balances")));
	if (!gok && str(g, "ledger_detail") != NULL) {
		hraw(h, "; ");
		hesc(h, str(g, "ledger_detail"));
	}
	hraw(h, "</dd><dt>Latest checkpoint</dt><dd>size ");
	hfmt(h, "<span data-f=\"integrity,,checkpoint_size\" data-v=\"%lld\">"
	    "%lld", (long long)json_integer_value(json_object_get(g,
	    "checkpoint_size")), (long long)json_integer_value(
	    json_object_get(g, "checkpoint_size")));
	hraw(h, "</span>");
	if (str(g, "checkpoint_time") != NULL) {
		hraw(h, ", signed ");
		hesc(h, str(g, "checkpoint_time"));
	}
	hraw(h, "; root <code>");
	hesc(h, str(g, "checkpoint_root"));
	hraw(h, "</code></dd><dt>Signing key (SHA-256 of the Ed25519 "
	    "public key)</dt><dd><code data-f=\"integrity,,key_id\" "
	    "data-v=\"");
	hesc(h, key);
	hraw(h, "\">");
	/* In groups of four, as fingerprints are read aloud. */
	for (size_t i = 0; key != NULL && key[i] != '\0'; i += 4) {
		char grp[6];

		snprintf(grp, sizeof(grp), "%.4s", key + i);
		if (i > 0)
			hraw(h, " ");
		hesc(h, grp);
		if (strlen(key + i) < 4)
			break;
	}
	hraw(h, "</code></dd><dt>Log origin</dt><dd><code>");
	hesc(h, str(g, "origin"));
	hraw(h, "</code></dd></dl>");
	if (str(g, "checkpoint") != NULL) {
		hraw(h, "<h3>Signed checkpoint note</h3><pre>");
		hesc(h, str(g, "checkpoint"));
		hraw(h, "</pre>");
	}
	hraw(h, "</section>\n");
}

static int
render_html(const json_t *rep, struct tg_buf *out)
{
	static const char *const dec_fields[] = { "decisions",
	    "no_license_required", "authorized", "license_required", "hold",
	    "dry_run", NULL };
	static const char *const dec_labels[] = { "Decisions", "NLR",
	    "Authorized", "License req.", "Held", "Dry runs" };
	static const char *const item_fields[] = { "items",
	    "no_license_required", "authorized", "license_required", "hold",
	    "tpp", NULL };
	static const char *const item_labels[] = { "Items", "NLR",
	    "Authorized", "License req.", "Held", "TPP" };
	static const char *const out_fields[] = { "decisions", "binding",
	    "dry_run", NULL };
	static const char *const out_labels[] = { "Decisions", "Binding",
	    "Dry runs" };
	struct html h = { .b = out, .rep = rep };
	const json_t *meta = json_object_get(rep, "report");
	const json_t *g = json_object_get(rep, "integrity");
	const char *unit = str(meta, "timeline");
	bool ok = json_is_true(json_object_get(g, "ok"));
	char note[160];

	hraw(&h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta "
	    "charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width="
	    "device-width,initial-scale=1\">\n<meta http-equiv=\"Content-"
	    "Security-Policy\" content=\"default-src 'none'; style-src "
	    "'unsafe-inline'\">\n<meta name=\"generator\" content=\"tiergate"
	    "\">\n<title>");
	hesc(&h, str(meta, "title"));
	hraw(&h, " \xc2\xb7 ");
	hesc(&h, str(meta, "from"));
	hraw(&h, " to ");
	hesc(&h, str(meta, "to"));
	hraw(&h, "</title>\n<style>");
	hraw(&h, css);
	hraw(&h, css2);
	hraw(&h, css3);
	hraw(&h, "</style></head>\n<body><main>\n<header class=\"top\"><div>"
	    "<h1>");
	hesc(&h, str(meta, "title"));
	hraw(&h, "</h1><p class=\"sub\">Decisions dated <b>");
	hesc(&h, str(meta, "from"));
	hraw(&h, "</b> to <b>");
	hesc(&h, str(meta, "to"));
	hraw(&h, "</b> (by transaction date, both days included)</p>"
	    "<p class=\"sub small\">Generated ");
	hesc(&h, str(meta, "generated"));
	hfmt(&h, " from audit-log entries 1 to %lld.</p></div>",
	    (long long)json_integer_value(json_object_get(meta,
	    "log_entries")));
	hfmt(&h, "<div class=\"seal\"><span class=\"badge %s\">%s</span><br>"
	    "signing key <code>", ok ? "ok" : "bad", ok ? "Log and ledger "
	    "verified" : "LOG OR LEDGER DAMAGED");
	hesc_n(&h, str(g, "key_id"), 16);
	hraw(&h, "</code><br>checkpoint ");
	hfmt(&h, "%lld", (long long)json_integer_value(json_object_get(g,
	    "checkpoint_size")));
	hraw(&h, "</div></header>\n");

	/* The figures. */
	hraw(&h, "<div class=\"kpis\">");
	snprintf(note, sizeof(note), "%lld binding, %lld dry runs",
	    (long long)total(&h, "binding"), (long long)total(&h, "dry_run"));
	kpi(&h, "Decisions", "decisions", "#1f4e8c", note);
	kpi(&h, "No license required", outcome_names[0], outcome_colors[0],
	    NULL);
	kpi(&h, "Authorized", outcome_names[1], outcome_colors[1], NULL);
	kpi(&h, "License required", outcome_names[2], outcome_colors[2],
	    NULL);
	snprintf(note, sizeof(note), "%lld still open",
	    (long long)total(&h, "held_open"));
	kpi(&h, "Held", outcome_names[3], outcome_colors[3], note);
	kpi(&h, "Voided", "voided", "#9aa5b4", "excluded from the rest");
	snprintf(note, sizeof(note), "%lld items (lines)",
	    (long long)total(&h, "items"));
	kpi(&h, "Destinations", "destinations", "#5f6b7a", note);
	hraw(&h, "</div>\n");

	hfmt(&h, "<section id=\"timeline\"><h2>Decisions per %s, by outcome"
	    "</h2>", unit ? unit : "week");
	svg_timeline(&h);
	hraw(&h, "</section>\n<div class=\"grid2\"><section id=\"top-"
	    "destinations\"><h2>Top destinations</h2>");
	svg_destinations(&h);
	legend(&h);
	hraw(&h, "</section><section id=\"outcomes\"><h2>By outcome</h2>");
	count_table(&h, "by_outcome", "Outcome", out_fields, out_labels,
	    true);
	hraw(&h, "<h3>By destination tier</h3>");
	{
		/* Narrow: the dry runs are in the outcome table. */
		static const char *const f[] = { "decisions",
		    "no_license_required", "authorized", "license_required",
		    "hold", NULL };
		static const char *const l[] = { "Decisions", "NLR", "Auth.",
		    "Lic. req.", "Held" };

		count_table(&h, "by_tier", "Tier", f, l, false);
	}
	hraw(&h, "</section></div>\n");

	html_holds(&h);

	hraw(&h, "<section id=\"quotas\"><h2>Quota use</h2>"
	    "<h3>LPP per consignee, against the limit</h3>");
	gauges(&h, json_object_get(rep, "lpp"), "consignee", "TPP");
	quota_table(&h, "lpp", "consignee", "Consignee");
	hraw(&h, "<h3>Tier 2 country allocations</h3>");
	gauges(&h, json_object_get(rep, "allocation"), "country", "TPP");
	quota_table(&h, "allocation", "country", "Country");
	hraw(&h, "</section>\n");
	html_licenses(&h);
	html_license_required(&h);

	hraw(&h, "<section id=\"destinations\"><h2>By destination</h2>");
	count_table(&h, "by_destination", "Country", dec_fields, dec_labels,
	    false);
	hraw(&h, "</section>\n<section id=\"items\"><h2>Items (lines) by "
	    "authorization</h2>");
	count_table(&h, "by_authorization", "Authorization", item_fields,
	    item_labels, false);
	hraw(&h, "<h3>Items (lines) by ECCN</h3>");
	count_table(&h, "by_eccn", "ECCN", item_fields, item_labels, false);
	hraw(&h, "</section>\n");

	html_voided(&h);
	html_packs(&h);
	html_integrity(&h);

	hraw(&h, "<footer><b>How to read this report.</b><ul>"
	    "<li>The period selects decisions by their transaction date (the "
	    "query's <code>date</code>), not by when they were logged.</li>"
	    "<li>Voided decisions are counted under Voided only; every other "
	    "figure leaves them out.  Dry runs are included and counted as "
	    "such.</li>"
	    "<li>Items are the lines of a decision: authorization and ECCN "
	    "figures count lines.  NLR: no license required; none: no "
	    "authorization applied (license required or held).</li>"
	    "<li>Quota use is the ledger balance at the checkpoint, whatever "
	    "the period; \"reserved in period\" is what this period's binding "
	    "decisions reserved.</li>"
	    "<li>Open-hold ages are whole days since the decision was "
	    "logged.</li>"
	    "<li>The same report is available as JSON and CSV; the figures "
	    "are identical by construction.</li></ul></footer>\n"
	    "</main></body></html>\n");
	return h.rc;
}

int
api_report_render(const json_t *report, enum report_format f,
    struct tg_buf *out, struct tg_error *err)
{
	char *s;
	int rc;

	switch (f) {
	case REPORT_CSV:
		rc = render_csv(report, out);
		break;
	case REPORT_HTML:
		rc = render_html(report, out);
		break;
	case REPORT_JSON:
	default:
		s = api_dumps(report, true);
		if (s == NULL) {
			rc = -ENOMEM;
			break;
		}
		rc = buf_adds(out, s);
		if (rc == 0)
			rc = buf_add(out, "\n", 1);
		free(s);
		break;
	}
	if (rc != 0)
		return tg_error_set(err, rc, "%s", rc == TG_ETOOBIG ? "the "
		    "report is larger than allowed" : "cannot render the "
		    "report");
	return 0;
}

int
api_report(struct tg_audit *a, tg_date from, tg_date to,
    const struct tg_pack *pack, enum report_format f, struct tg_buf *out,
    struct tg_error *err)
{
	json_t *rep = api_report_json(a, from, to, pack, err);
	int rc;

	if (rep == NULL)
		return err != NULL && err->code != 0 ? err->code : -ENOMEM;
	rc = api_report_render(rep, f, out, err);
	json_decref(rep);
	return rc;
}
