/*
 * decision_json.c: struct tg_decision -> JSON (contract.md section 2).
 *
 * The same decision must always serialize to the same bytes: decisions are
 * hashed into the audit log and compared by callers.  So every object is
 * built member by member in one fixed order (jansson keeps insertion
 * order), optional members are either always present (as null) or present
 * only under a stated condition, and numbers have one spelling each:
 * integral values as JSON integers, everything else as reals printed with
 * 17 significant digits, which round-trips a double exactly.
 *
 * Ownership: api_decision_to_json() borrows the decision and returns a new
 * reference; api_dumps() returns a malloc'd string the caller free()s.
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tiergate/api.h"

/* Integers up to 2^53 are exact in a double and in every JSON reader
 * that parses numbers as doubles (JavaScript); beyond that a real says
 * honestly that the value is approximate. */
#define EXACT_INT_MAX 9007199254740992.0
/* Far above anything serialized (a report is at most REPORT_OUT_MAX). */
#define API_DUMPS_MAX ((size_t)1 << 30)

/* A number, or null when it is NAN (or infinite, which jansson cannot
 * represent). */
static json_t *
num(double x)
{
	if (!isfinite(x))
		return json_null();
	if (x == floor(x) && fabs(x) < EXACT_INT_MAX)
		return json_integer((json_int_t)x);
	return json_real(x);
}

/* A string, or null for NULL.  json_string() refuses ill-formed UTF-8,
 * which then surfaces as an encoding failure rather than bad output. */
static json_t *
str(const char *s)
{
	return s == NULL ? json_null() : json_string(s);
}

/* json_object_set_new() and json_array_append_new() consume the value
 * even when they fail, and fail on a NULL value: so a failed constructor
 * needs no cleanup of its own, only the -1 to stop. */
static int
set(json_t *o, const char *k, json_t *v)
{
	return json_object_set_new(o, k, v);
}

static json_t *
reason_json(const struct tg_reason *r)
{
	json_t *o;

	o = json_object();
	if (o == NULL)
		return NULL;
	char text[1024];

	if (set(o, "rule", str(r->rule)) == -1 ||
	    set(o, "citation", str(r->citation)) == -1 ||
	    set(o, "text", str(r->qnote == TG_QNOTE_NONE ? r->text :
	    reason_text(r, text, sizeof(text)))) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
reasons_json(const struct tg_item_decision *it)
{
	json_t *a;
	size_t i;

	a = json_array();
	if (a == NULL)
		return NULL;
	for (i = 0; i < it->nreasons; i++) {
		if (json_array_append_new(a,
		    reason_json(&it->reasons[i])) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
item_json(const struct tg_item_decision *it)
{
	json_t *o, *ret = NULL;

	o = json_object();
	if (o == NULL)
		return NULL;
	if (set(o, "index", json_integer((json_int_t)it->index)) == -1 ||
	    set(o, "eccn", str(it->eccn)) == -1 ||
	    set(o, "outcome", str(outcome_name(it->outcome))) == -1 ||
	    set(o, "authorization", str(it->authorization)) == -1)
		goto out;
	if (it->license != NULL &&
	    set(o, "license", str(it->license)) == -1)
		goto out;
	if (set(o, "review_policy", str(review_name(it->review))) == -1 ||
	    set(o, "tpp", num(it->tpp)) == -1)
		goto out;
	/* Only models have effective operations (4E091); the engine leaves
	 * NAN for everything else, and the field is then left out. */
	if (!isnan(it->operations) &&
	    set(o, "operations", num(it->operations)) == -1)
		goto out;
	if (set(o, "reasons", reasons_json(it)) == -1)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(o);
	return ret;
}

static json_t *
quota_json(const struct tg_quota_use *q)
{
	json_t *o;

	o = json_object();
	if (o == NULL)
		return NULL;
	if (set(o, "name", str(q->name)) == -1 ||
	    set(o, "key", str(q->key)) == -1 ||
	    set(o, "period", str(q->period)) == -1 ||
	    set(o, "used", num(q->used)) == -1 ||
	    set(o, "limit", num(q->limit)) == -1 ||
	    set(o, "reserved", num(q->reserved)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
red_flag_json(const struct tg_red_flag *f)
{
	json_t *o;

	o = json_object();
	if (o == NULL)
		return NULL;
	if (set(o, "rule", str(f->rule)) == -1 ||
	    set(o, "citation", str(f->citation)) == -1 ||
	    set(o, "text", str(f->text)) == -1 ||
	    set(o, "item", f->item < 0 ? json_null() :
	    json_integer((json_int_t)f->item)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *
destination_json(const struct tg_decision *d)
{
	json_t *o, *ret = NULL;

	o = json_object();
	if (o == NULL)
		return NULL;
	/* The tier is 1, 2 or 3; anything else means the pack did not
	 * classify the country, which null says without inventing a tier. */
	if (set(o, "country", d->destination == TG_CC_NONE ? json_null() :
	    json_string(cc_str(d->destination))) == -1 ||
	    set(o, "tier", d->tier >= 1 && d->tier <= 3 ?
	    json_integer(d->tier) : json_null()) == -1)
		goto out;
	/* HK is decided as CN: show what was asked only when it differs. */
	if (d->destination_given != TG_CC_NONE &&
	    d->destination_given != d->destination &&
	    set(o, "country_given",
	    json_string(cc_str(d->destination_given))) == -1)
		goto out;
	ret = o;
	o = NULL;
out:
	json_decref(o);
	return ret;
}

static json_t *
rules_json(const struct tg_decision *d)
{
	json_t *o;

	o = json_object();
	if (o == NULL)
		return NULL;
	if (set(o, "pack", str(d->pack_name)) == -1 ||
	    set(o, "version", str(d->pack_version)) == -1 ||
	    set(o, "sha256", str(d->pack_sha256)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

enum list { L_ITEMS, L_QUOTAS, L_RED_FLAGS, L_WARNINGS };

/* The four top-level lists, built alike: each returns a new array or
 * NULL (having released what it built). */
static json_t *
list_json(const struct tg_decision *d, enum list which)
{
	json_t *a, *v;
	size_t i, n;

	switch (which) {
	case L_ITEMS:
		n = d->nitems;
		break;
	case L_QUOTAS:
		n = d->nquotas;
		break;
	case L_RED_FLAGS:
		n = d->nred_flags;
		break;
	default:
		n = d->nwarnings;
		break;
	}
	a = json_array();
	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (which == L_ITEMS)
			v = item_json(&d->items[i]);
		else if (which == L_QUOTAS)
			v = quota_json(&d->quotas[i]);
		else if (which == L_RED_FLAGS)
			v = red_flag_json(&d->red_flags[i]);
		else
			v = str(d->warnings[i]);
		if (json_array_append_new(a, v) == -1) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
date_json(tg_date date)
{
	char buf[16];

	if (date == TG_DATE_NONE)
		return json_null();
	date_format(date, buf);
	return json_string(buf);
}

json_t *
api_decision_to_json(const struct tg_decision *d, const char *decision_id)
{
	json_t *o;

	o = json_object();
	if (o == NULL)
		return NULL;
	/* contract.md section 2, in its order. */
	if (set(o, "decision_id", str(decision_id)) == -1 ||
	    set(o, "reference", str(d->reference)) == -1 ||
	    set(o, "date", date_json(d->date)) == -1 ||
	    set(o, "outcome", str(outcome_name(d->outcome))) == -1 ||
	    set(o, "destination", destination_json(d)) == -1 ||
	    set(o, "items", list_json(d, L_ITEMS)) == -1 ||
	    set(o, "quotas", list_json(d, L_QUOTAS)) == -1 ||
	    set(o, "red_flags", list_json(d, L_RED_FLAGS)) == -1 ||
	    set(o, "warnings", list_json(d, L_WARNINGS)) == -1 ||
	    set(o, "rules", rules_json(d)) == -1 ||
	    set(o, "dry_run", json_boolean(d->dry_run)) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* json_dumps' output, gathered by api_dumps. */
struct dumps {
	struct tg_buf b;
	bool failed;
};

/*
 * jansson 2.14 ignores the result of writing an object key (dump.c calls
 * dump_string() for keys unchecked), so json_dumps can come back with a
 * key left out when its buffer failed to grow once: invalid JSON, handed
 * out as a success.  Once a write fails, every later one fails here, so
 * the dump as a whole does.
 */
static int
dumps_write(const char *p, size_t n, void *data)
{
	struct dumps *d = data;

	if (d->failed || buf_add(&d->b, p, n) != 0) {
		d->failed = true;
		return -1;
	}
	return 0;
}

char *
api_dumps(const json_t *j, bool indent)
{
	struct dumps d;
	size_t flags;

	/* JSON_PRESERVE_ORDER keeps our insertion order (the default since
	 * jansson 2.8, stated anyway); no JSON_ENSURE_ASCII, the output is
	 * UTF-8 like the input; 17 digits make every double round-trip. */
	flags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17);
	flags |= indent ? JSON_INDENT(2) : JSON_COMPACT;
	buf_init(&d.b, API_DUMPS_MAX);
	d.failed = false;
	if (json_dump_callback(j, dumps_write, &d, flags) != 0 || d.failed ||
	    buf_add(&d.b, "", 0) != 0) {
		buf_release(&d.b);
		return NULL;
	}
	return d.b.p;	/* NUL-terminated; the caller frees it */
}

/*
 * The key order of each object in a decision (api_decision_to_json writes
 * them in this order); members not listed keep their sorted order after the
 * listed ones.
 */
static const char *const top_order[] = { "decision_id", "reference", "date",
    "outcome", "destination", "items", "quotas", "red_flags", "warnings",
    "rules", "dry_run", "receipt", NULL };
static const char *const dest_order[] = { "country", "tier", "country_given",
    NULL };
static const char *const item_order[] = { "index", "eccn", "outcome",
    "authorization", "license", "review_policy", "tpp", "operations",
    "reasons", NULL };
static const char *const reason_order[] = { "rule", "citation", "text",
    NULL };
static const char *const quota_order[] = { "name", "key", "period", "used",
    "limit", "reserved", NULL };
static const char *const flag_order[] = { "rule", "citation", "text", "item",
    NULL };
static const char *const rules_order[] = { "pack", "version", "sha256",
    NULL };

static json_t *
ordered(const json_t *o, const char *const *order)
{
	json_t *n = json_object();
	const char *k;
	json_t *v;

	if (n == NULL || !json_is_object(o))
		return n;
	for (size_t i = 0; order[i] != NULL; i++)
		if ((v = json_object_get(o, order[i])) != NULL)
			json_object_set(n, order[i], v);
	json_object_foreach((json_t *)(uintptr_t)o, k, v)
		if (json_object_get(n, k) == NULL)
			json_object_set(n, k, v);
	return n;
}

static json_t *
ordered_list(const json_t *a, const char *const *order)
{
	json_t *n = json_array(), *v;
	size_t i;

	json_array_foreach(a, i, v)
		json_array_append_new(n, ordered(v, order));
	return n;
}

json_t *
api_decision_ordered(const json_t *c)
{
	json_t *d = ordered(c, top_order), *items, *it;
	size_t i;

	if (d == NULL)
		return NULL;
	json_object_set_new(d, "destination",
	    ordered(json_object_get(c, "destination"), dest_order));
	items = ordered_list(json_object_get(c, "items"), item_order);
	json_array_foreach(items, i, it)
		json_object_set_new(it, "reasons",
		    ordered_list(json_object_get(it, "reasons"), reason_order));
	json_object_set_new(d, "items", items);
	json_object_set_new(d, "quotas",
	    ordered_list(json_object_get(c, "quotas"), quota_order));
	json_object_set_new(d, "red_flags",
	    ordered_list(json_object_get(c, "red_flags"), flag_order));
	json_object_set_new(d, "rules",
	    ordered(json_object_get(c, "rules"), rules_order));
	return d;
}
