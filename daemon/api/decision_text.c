/*
 * decision_text.c: a decision straight to bytes, without a JSON tree.
 *
 * The daemon writes two texts per decision: the RFC 8785 canonical form
 * the audit log hashes (in the writer thread, one decision after another)
 * and the answer (in the HTTP threads).  Building a jansson tree, sorting
 * it and walking it again cost more than deciding, so both are written
 * here directly from struct tg_decision:
 *
 *   api_decision_jcs()   == jcs_dumps(api_decision_to_json(d, id))
 *   api_decision_text()  == api_dumps(api_decision_to_json(d, id) plus
 *                           api_receipt_to_json(r) as "receipt", true)
 *
 * byte for byte.  decision_json.c stays the definition (GET
 * /v1/decisions/{id} rebuilds the answer from the log through it), and
 * tests/cases/run_cases.c and test_api.c compare the two on every rule
 * case and on hostile strings.  So the pretty style below copies jansson's
 * dump format (JSON_INDENT(2), JSON_REAL_PRECISION(17), no
 * JSON_ENSURE_ASCII): ": " after keys, upper-case \u00XX escapes, reals
 * as %.17g with ".0" added and the exponent's '+' and leading zeros
 * dropped.
 *
 * Ownership: both functions append to the caller's buffer; on error the
 * buffer is put back as it was.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "tiergate/api.h"
#include "tiergate/jcs.h"

#define DEPTH_MAX 8		/* a decision nests 5 deep */

/* Integers up to 2^53 are written as JSON integers, as decision_json.c's
 * num() does. */
#define EXACT_INT_MAX 9007199254740992.0

/* The emitter: separators, indentation and value spelling for one of the
 * two styles; the member tables below only say what an object holds. */
struct emit {
	struct tg_buf *b;
	int rc;
	bool pretty;
	int depth;
	bool nonempty[DEPTH_MAX + 1];	/* per open container */
	bool after_key;
};

static void
raw(struct emit *e, const char *s, size_t n)
{
	if (e->rc == 0)
		e->rc = buf_add(e->b, s, n);
}

static void
raws(struct emit *e, const char *s)
{
	raw(e, s, strlen(s));
}

static void
newline(struct emit *e, int depth)
{
	static const char nl[] = "\n                ";	/* DEPTH_MAX * 2 */

	raw(e, nl, 1 + 2 * (size_t)depth);
}

/* Whatever precedes a new member or element. */
static void
sep(struct emit *e)
{
	if (e->after_key) {
		e->after_key = false;
		return;
	}
	if (e->depth == 0)
		return;
	if (e->nonempty[e->depth])
		raw(e, ",", 1);
	e->nonempty[e->depth] = true;
	if (e->pretty)
		newline(e, e->depth);
}

static void
open_(struct emit *e, char c)
{
	sep(e);
	raw(e, &c, 1);
	if (e->depth >= DEPTH_MAX) {
		if (e->rc == 0)
			e->rc = TG_EINTERNAL;
		return;
	}
	e->nonempty[++e->depth] = false;
}

static void
close_(struct emit *e, char c)
{
	if (e->pretty && e->nonempty[e->depth])
		newline(e, e->depth - 1);
	e->depth--;
	raw(e, &c, 1);
}

/* jansson's dump_string: '"', '\\' and the C0 controls escaped, named
 * where JSON has a name, else as \u00XX in upper case. */
static int
pretty_string(struct tg_buf *b, const char *s, size_t n)
{
	char u[8];
	size_t i, run = 0;
	const char *esc;
	int rc;

	if (!utf8_valid(s, n))
		return TG_EINVAL;
	if ((rc = buf_add(b, "\"", 1)) != 0)
		return rc;
	for (i = 0; i < n; i++) {
		unsigned char c;

		i += json_plain_len(s + i, n - i);
		if (i == n)
			break;
		c = (unsigned char)s[i];
		if ((rc = buf_add(b, s + run, i - run)) != 0)
			return rc;
		run = i + 1;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default:
			snprintf(u, sizeof(u), "\\u%04X", (unsigned)c);
			esc = u;
			break;
		}
		if ((rc = buf_adds(b, esc)) != 0)
			return rc;
	}
	if ((rc = buf_add(b, s + run, n - run)) != 0)
		return rc;
	return buf_add(b, "\"", 1);
}

/* jansson's jsonp_dtostr at precision 17. */
static int
pretty_real(struct tg_buf *b, double x)
{
	char t[40], *e, *from;
	int n;

	n = snprintf(t, sizeof(t), "%.17g", x);
	if (n < 0 || (size_t)n >= sizeof(t) - 3)
		return TG_EINTERNAL;
	if (strchr(t, '.') == NULL && strchr(t, 'e') == NULL) {
		t[n++] = '.';
		t[n++] = '0';
		t[n] = '\0';
	}
	e = strchr(t, 'e');
	if (e != NULL) {
		e++;
		from = e + 1;
		if (*e == '-')
			e++;
		while (*from == '0')
			from++;
		if (from != e)
			memmove(e, from, strlen(from) + 1);
	}
	return buf_adds(b, t);
}

static void
key(struct emit *e, const char *k)
{
	sep(e);
	raw(e, "\"", 1);
	raws(e, k);
	raws(e, e->pretty ? "\": " : "\":");
	e->after_key = true;
}

static void
lit(struct emit *e, const char *s)
{
	sep(e);
	raws(e, s);
}

static void
str(struct emit *e, const char *s)
{
	if (s == NULL) {
		lit(e, "null");
		return;
	}
	sep(e);
	if (e->rc == 0)
		e->rc = e->pretty ? pretty_string(e->b, s, strlen(s)) :
		    jcs_put_string(e->b, s, strlen(s));
}

/* decision_json.c's num(): null for NAN and infinities, an integer when
 * integral and exact, else a real. */
static void
num(struct emit *e, double x)
{
	char t[FMT_WHOLE_LEN];

	if (!isfinite(x)) {
		lit(e, "null");
		return;
	}
	sep(e);
	if (e->rc != 0)
		return;
	if (!e->pretty)
		e->rc = jcs_put_number(e->b, x);
	else if (x == floor(x) && fabs(x) < EXACT_INT_MAX)
		/* jansson writes an integer: no sign on zero */
		e->rc = buf_adds(e->b, fmt_whole(x == 0 ? 0.0 : x, t));
	else
		e->rc = pretty_real(e->b, x);
}

/* ---- the members of each object ------------------------------------------ */

/*
 * Each object of a decision is one table of its members, in contract.md's
 * order (the order decision_json.c builds them in, and the answer's).  The
 * canonical form writes the same members sorted by name, RFC 8785's order
 * (every key is ASCII, so byte order is UTF-16 order): that order is
 * derived from the tables once, not written out a second time.
 */
enum mkind {
	M_STR,		/* a const char * at off; NULL is null */
	M_ARR,		/* a char array at off */
	M_NUM,		/* a double at off, as num() */
	M_FN		/* put() writes the value */
};

struct member {
	const char *name;
	enum mkind kind;
	size_t off;
	void (*put)(struct emit *, const void *obj);
	bool (*has)(const void *obj);	/* NULL: always there */
};

#define MSTR(n, T, f)	{ n, M_STR, offsetof(T, f), NULL, NULL }
#define MARR(n, T, f)	{ n, M_ARR, offsetof(T, f), NULL, NULL }
#define MNUM(n, T, f)	{ n, M_NUM, offsetof(T, f), NULL, NULL }
#define MFN(n, fn)	{ n, M_FN, 0, fn, NULL }
#define MAX_MEMBERS 16
#define NMEMBERS(m)	(sizeof(m) / sizeof((m)[0]))
#define TABLE(m)	{ m, NMEMBERS(m), { 0 } }

/* A table and its canonical order (indexes into it), made once. */
struct table {
	const struct member *m;
	size_t n;
	size_t sorted[MAX_MEMBERS];
};

static void
object(struct emit *e, struct table *t, const void *obj)
{
	const struct member *m;

	open_(e, '{');
	for (size_t i = 0; i < t->n; i++) {
		m = &t->m[e->pretty ? i : t->sorted[i]];
		if (m->has != NULL && !m->has(obj))
			continue;
		key(e, m->name);
		switch (m->kind) {
		case M_STR:
			str(e, *(const char *const *)(const void *)
			    ((const char *)obj + m->off));
			break;
		case M_ARR:
			str(e, (const char *)obj + m->off);
			break;
		case M_NUM:
			num(e, *(const double *)(const void *)
			    ((const char *)obj + m->off));
			break;
		case M_FN:
			m->put(e, obj);
			break;
		}
	}
	close_(e, '}');
}

/* The top level: the decision, its id, and the receipt (answers only). */
struct top {
	const struct tg_decision *d;
	const char *id;
	const struct audit_receipt *r;
};

#define TOP(o)	(((const struct top *)(o))->d)

static void
put_reason_text(struct emit *e, const void *o)
{
	const struct tg_reason *r = o;
	char text[1024];

	str(e, r->qnote == TG_QNOTE_NONE ? r->text :
	    reason_text(r, text, sizeof(text)));
}

static const struct member reason_m[] = {
	MSTR("rule", struct tg_reason, rule),
	MSTR("citation", struct tg_reason, citation),
	MFN("text", put_reason_text),
};
static struct table reason_t = TABLE(reason_m);
_Static_assert(NMEMBERS(reason_m) <= MAX_MEMBERS,
    "reason_m: too many members");

static void
put_index(struct emit *e, const void *o)
{
	num(e, (double)((const struct tg_item_decision *)o)->index);
}

static void
put_item_outcome(struct emit *e, const void *o)
{
	str(e, outcome_name(((const struct tg_item_decision *)o)->outcome));
}

static void
put_review(struct emit *e, const void *o)
{
	str(e, review_name(((const struct tg_item_decision *)o)->review));
}

static void
put_reasons(struct emit *e, const void *o)
{
	const struct tg_item_decision *it = o;

	open_(e, '[');
	for (size_t i = 0; i < it->nreasons; i++)
		object(e, &reason_t, &it->reasons[i]);
	close_(e, ']');
}

static bool
has_license(const void *o)
{
	return ((const struct tg_item_decision *)o)->license != NULL;
}

/* Only models have effective operations (4E091); NAN elsewhere. */
static bool
has_operations(const void *o)
{
	return !isnan(((const struct tg_item_decision *)o)->operations);
}

static const struct member item_m[] = {
	MFN("index", put_index),
	MSTR("eccn", struct tg_item_decision, eccn),
	MFN("outcome", put_item_outcome),
	MSTR("authorization", struct tg_item_decision, authorization),
	{ "license", M_STR, offsetof(struct tg_item_decision, license), NULL,
	    has_license },
	MFN("review_policy", put_review),
	MNUM("tpp", struct tg_item_decision, tpp),
	{ "operations", M_NUM, offsetof(struct tg_item_decision, operations),
	    NULL, has_operations },
	MFN("reasons", put_reasons),
};
static struct table item_t = TABLE(item_m);
_Static_assert(NMEMBERS(item_m) <= MAX_MEMBERS,
    "item_m: too many members");

static const struct member quota_m[] = {
	MSTR("name", struct tg_quota_use, name),
	MSTR("key", struct tg_quota_use, key),
	MSTR("period", struct tg_quota_use, period),
	MNUM("used", struct tg_quota_use, used),
	MNUM("limit", struct tg_quota_use, limit),
	MNUM("reserved", struct tg_quota_use, reserved),
};
static struct table quota_t = TABLE(quota_m);
_Static_assert(NMEMBERS(quota_m) <= MAX_MEMBERS,
    "quota_m: too many members");

static void
put_flag_item(struct emit *e, const void *o)
{
	long item = ((const struct tg_red_flag *)o)->item;

	if (item < 0)
		lit(e, "null");
	else
		num(e, (double)item);
}

static const struct member flag_m[] = {
	MSTR("rule", struct tg_red_flag, rule),
	MSTR("citation", struct tg_red_flag, citation),
	MSTR("text", struct tg_red_flag, text),
	MFN("item", put_flag_item),
};
static struct table flag_t = TABLE(flag_m);
_Static_assert(NMEMBERS(flag_m) <= MAX_MEMBERS,
    "flag_m: too many members");

/* The destination and the rules are objects of the decision's own
 * fields. */
static void
put_country(struct emit *e, const void *o)
{
	const struct tg_decision *d = o;

	str(e, d->destination == TG_CC_NONE ? NULL : cc_str(d->destination));
}

/* The tier is 1, 2 or 3; anything else means the pack did not classify
 * the country, which null says without inventing a tier. */
static void
put_tier(struct emit *e, const void *o)
{
	const struct tg_decision *d = o;

	if (d->tier >= 1 && d->tier <= 3)
		num(e, d->tier);
	else
		lit(e, "null");
}

static void
put_country_given(struct emit *e, const void *o)
{
	str(e, cc_str(((const struct tg_decision *)o)->destination_given));
}

/* HK is decided as CN: what was asked shows only when it differs. */
static bool
has_country_given(const void *o)
{
	const struct tg_decision *d = o;

	return d->destination_given != TG_CC_NONE &&
	    d->destination_given != d->destination;
}

static const struct member dest_m[] = {
	MFN("country", put_country),
	MFN("tier", put_tier),
	{ "country_given", M_FN, 0, put_country_given, has_country_given },
};
static struct table dest_t = TABLE(dest_m);
_Static_assert(NMEMBERS(dest_m) <= MAX_MEMBERS,
    "dest_m: too many members");

static const struct member rules_m[] = {
	MSTR("pack", struct tg_decision, pack_name),
	MSTR("version", struct tg_decision, pack_version),
	MSTR("sha256", struct tg_decision, pack_sha256),
};
static struct table rules_t = TABLE(rules_m);
_Static_assert(NMEMBERS(rules_m) <= MAX_MEMBERS,
    "rules_m: too many members");

/* A counter (receipt sequence numbers, tree sizes): json_integer in the
 * tree, so every digit, even past 2^53. */
static void
uint_(struct emit *e, uint64_t v)
{
	char t[24];

	sep(e);
	snprintf(t, sizeof(t), "%" PRIu64, v);
	raws(e, t);
}

static void
put_seq(struct emit *e, const void *o)
{
	uint_(e, ((const struct audit_receipt *)o)->seq);
}

static void
put_leaf_index(struct emit *e, const void *o)
{
	uint_(e, ((const struct audit_receipt *)o)->leaf_index);
}

static void
put_tree_size(struct emit *e, const void *o)
{
	uint_(e, ((const struct audit_receipt *)o)->tree_size);
}

static void
put_checkpoint(struct emit *e, const void *o)
{
	const char *c = ((const struct audit_receipt *)o)->checkpoint;

	str(e, c != NULL ? c : "");
}

static void
put_proof(struct emit *e, const void *o)
{
	const struct audit_receipt *r = o;
	char h[2 * MERKLE_HASH + 1];

	open_(e, '[');
	for (size_t i = 0; i < r->nproof; i++) {
		hex_encode(r->proof[i], MERKLE_HASH, h);
		str(e, h);
	}
	close_(e, ']');
}

/* api_receipt_to_json's members, in its order. */
static const struct member receipt_m[] = {
	MFN("seq", put_seq),
	MARR("entry_hash", struct audit_receipt, entry_hash),
	MARR("signature", struct audit_receipt, signature),
	MARR("key_id", struct audit_receipt, key_id),
	MFN("leaf_index", put_leaf_index),
	MFN("tree_size", put_tree_size),
	MARR("kind", struct audit_receipt, kind),
	MARR("time", struct audit_receipt, time),
	MARR("prev", struct audit_receipt, prev),
	MARR("request_sha256", struct audit_receipt, request_sha256),
	MARR("pack_sha256", struct audit_receipt, pack_sha256),
	MFN("checkpoint", put_checkpoint),
	MFN("inclusion_proof", put_proof),
};
static struct table receipt_t = TABLE(receipt_m);
_Static_assert(NMEMBERS(receipt_m) <= MAX_MEMBERS,
    "receipt_m: too many members");

static void
put_id(struct emit *e, const void *o)
{
	str(e, ((const struct top *)o)->id);
}

static void
put_reference(struct emit *e, const void *o)
{
	str(e, TOP(o)->reference);
}

static void
put_date(struct emit *e, const void *o)
{
	char date[16];

	if (TOP(o)->date == TG_DATE_NONE) {
		lit(e, "null");
		return;
	}
	date_format(TOP(o)->date, date);
	str(e, date);
}

static void
put_outcome(struct emit *e, const void *o)
{
	str(e, outcome_name(TOP(o)->outcome));
}

static void
put_destination(struct emit *e, const void *o)
{
	object(e, &dest_t, TOP(o));
}

static void
put_items(struct emit *e, const void *o)
{
	open_(e, '[');
	for (size_t i = 0; i < TOP(o)->nitems; i++)
		object(e, &item_t, &TOP(o)->items[i]);
	close_(e, ']');
}

static void
put_quotas(struct emit *e, const void *o)
{
	open_(e, '[');
	for (size_t i = 0; i < TOP(o)->nquotas; i++)
		object(e, &quota_t, &TOP(o)->quotas[i]);
	close_(e, ']');
}

static void
put_red_flags(struct emit *e, const void *o)
{
	open_(e, '[');
	for (size_t i = 0; i < TOP(o)->nred_flags; i++)
		object(e, &flag_t, &TOP(o)->red_flags[i]);
	close_(e, ']');
}

static void
put_warnings(struct emit *e, const void *o)
{
	open_(e, '[');
	for (size_t i = 0; i < TOP(o)->nwarnings; i++)
		str(e, TOP(o)->warnings[i]);
	close_(e, ']');
}

static void
put_rules(struct emit *e, const void *o)
{
	object(e, &rules_t, TOP(o));
}

static void
put_dry_run(struct emit *e, const void *o)
{
	lit(e, TOP(o)->dry_run ? "true" : "false");
}

static void
put_receipt(struct emit *e, const void *o)
{
	object(e, &receipt_t, ((const struct top *)o)->r);
}

static bool
has_receipt(const void *o)
{
	return ((const struct top *)o)->r != NULL;
}

static const struct member top_m[] = {
	MFN("decision_id", put_id),
	MFN("reference", put_reference),
	MFN("date", put_date),
	MFN("outcome", put_outcome),
	MFN("destination", put_destination),
	MFN("items", put_items),
	MFN("quotas", put_quotas),
	MFN("red_flags", put_red_flags),
	MFN("warnings", put_warnings),
	MFN("rules", put_rules),
	MFN("dry_run", put_dry_run),
	{ "receipt", M_FN, 0, put_receipt, has_receipt },
};
static struct table top_t = TABLE(top_m);
_Static_assert(NMEMBERS(top_m) <= MAX_MEMBERS,
    "top_m: too many members");

static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

/* Every table's canonical order: its members sorted by name. */
static void
sort_tables(void)
{
	static struct table *const all[] = { &top_t, &dest_t, &item_t,
	    &reason_t, &quota_t, &flag_t, &rules_t, &receipt_t };

	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		struct table *t = all[k];

		for (size_t i = 0; i < t->n; i++) {
			size_t j = i;

			while (j > 0 && strcmp(t->m[t->sorted[j - 1]].name,
			    t->m[i].name) > 0) {
				t->sorted[j] = t->sorted[j - 1];
				j--;
			}
			t->sorted[j] = i;
		}
	}
}

static int
write_decision(const struct tg_decision *d, const char *decision_id,
    const struct audit_receipt *r, bool pretty, struct tg_buf *b)
{
	struct emit e = { .b = b, .pretty = pretty };
	struct top top = { d, decision_id, r };
	size_t len0 = b->len;

	(void)pthread_once(&sorted_once, sort_tables);
	object(&e, &top_t, &top);
	if (e.rc != 0 && b->p != NULL) {
		b->len = len0;
		b->p[len0] = '\0';
	}
	return e.rc;
}

int
api_decision_jcs(const struct tg_decision *d, const char *decision_id,
    struct tg_buf *b)
{
	/* The log hashes the decision without its receipt. */
	return write_decision(d, decision_id, NULL, false, b);
}

int
api_decision_text(const struct tg_decision *d, const char *decision_id,
    const struct audit_receipt *r, struct tg_buf *b)
{
	return write_decision(d, decision_id, r, true, b);
}
