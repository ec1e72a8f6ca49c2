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
 * two styles; the traversals below only say what comes in which order. */
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
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
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
	char t[24];

	if (!isfinite(x)) {
		lit(e, "null");
		return;
	}
	sep(e);
	if (e->rc != 0)
		return;
	if (!e->pretty)
		e->rc = jcs_put_number(e->b, x);
	else if (x == floor(x) && fabs(x) < EXACT_INT_MAX) {
		snprintf(t, sizeof(t), "%lld", (long long)x);
		e->rc = buf_adds(e->b, t);
	} else
		e->rc = pretty_real(e->b, x);
}

/* A counter (receipt sequence numbers, tree sizes): json_integer in
 * the tree, so every digit, even past 2^53. */
static void
kuint(struct emit *e, const char *k, uint64_t v)
{
	char t[24];

	key(e, k);
	sep(e);
	snprintf(t, sizeof(t), "%" PRIu64, v);
	raws(e, t);
}

static void
kstr(struct emit *e, const char *k, const char *s)
{
	key(e, k);
	str(e, s);
}

static void
knum(struct emit *e, const char *k, double x)
{
	key(e, k);
	num(e, x);
}

static int
finish(struct emit *e, size_t len0)
{
	if (e->rc != 0 && e->b->p != NULL) {
		e->b->len = len0;
		e->b->p[len0] = '\0';
	}
	return e->rc;
}

static const char *
reason_str(const struct tg_reason *r, char *buf, size_t size)
{
	return r->qnote == TG_QNOTE_NONE ? r->text :
	    reason_text(r, buf, size);
}

/* ---- the canonical form: members in RFC 8785 (sorted) order ------------- */

static void
jcs_item(struct emit *e, const struct tg_item_decision *it)
{
	char text[1024];

	open_(e, '{');
	kstr(e, "authorization", it->authorization);
	kstr(e, "eccn", it->eccn);
	knum(e, "index", (double)it->index);
	if (it->license != NULL)
		kstr(e, "license", it->license);
	if (!isnan(it->operations))
		knum(e, "operations", it->operations);
	kstr(e, "outcome", outcome_name(it->outcome));
	key(e, "reasons");
	open_(e, '[');
	for (size_t i = 0; i < it->nreasons; i++) {
		const struct tg_reason *r = &it->reasons[i];

		open_(e, '{');
		kstr(e, "citation", r->citation);
		kstr(e, "rule", r->rule);
		kstr(e, "text", reason_str(r, text, sizeof(text)));
		close_(e, '}');
	}
	close_(e, ']');
	kstr(e, "review_policy", review_name(it->review));
	knum(e, "tpp", it->tpp);
	close_(e, '}');
}

int
api_decision_jcs(const struct tg_decision *d, const char *decision_id,
    struct tg_buf *b)
{
	struct emit e = { .b = b, .pretty = false };
	size_t len0 = b->len, i;
	char date[16];

	open_(&e, '{');
	key(&e, "date");
	if (d->date == TG_DATE_NONE)
		lit(&e, "null");
	else {
		date_format(d->date, date);
		str(&e, date);
	}
	kstr(&e, "decision_id", decision_id);
	key(&e, "destination");
	open_(&e, '{');
	kstr(&e, "country", d->destination == TG_CC_NONE ? NULL :
	    cc_str(d->destination));
	if (d->destination_given != TG_CC_NONE &&
	    d->destination_given != d->destination)
		kstr(&e, "country_given", cc_str(d->destination_given));
	key(&e, "tier");
	if (d->tier >= 1 && d->tier <= 3)
		num(&e, d->tier);
	else
		lit(&e, "null");
	close_(&e, '}');
	key(&e, "dry_run");
	lit(&e, d->dry_run ? "true" : "false");
	key(&e, "items");
	open_(&e, '[');
	for (i = 0; i < d->nitems; i++)
		jcs_item(&e, &d->items[i]);
	close_(&e, ']');
	kstr(&e, "outcome", outcome_name(d->outcome));
	key(&e, "quotas");
	open_(&e, '[');
	for (i = 0; i < d->nquotas; i++) {
		const struct tg_quota_use *q = &d->quotas[i];

		open_(&e, '{');
		kstr(&e, "key", q->key);
		knum(&e, "limit", q->limit);
		kstr(&e, "name", q->name);
		kstr(&e, "period", q->period);
		knum(&e, "reserved", q->reserved);
		knum(&e, "used", q->used);
		close_(&e, '}');
	}
	close_(&e, ']');
	key(&e, "red_flags");
	open_(&e, '[');
	for (i = 0; i < d->nred_flags; i++) {
		const struct tg_red_flag *f = &d->red_flags[i];

		open_(&e, '{');
		kstr(&e, "citation", f->citation);
		key(&e, "item");
		if (f->item < 0)
			lit(&e, "null");
		else
			num(&e, (double)f->item);
		kstr(&e, "rule", f->rule);
		kstr(&e, "text", f->text);
		close_(&e, '}');
	}
	close_(&e, ']');
	kstr(&e, "reference", d->reference);
	key(&e, "rules");
	open_(&e, '{');
	kstr(&e, "pack", d->pack_name);
	kstr(&e, "sha256", d->pack_sha256);
	kstr(&e, "version", d->pack_version);
	close_(&e, '}');
	key(&e, "warnings");
	open_(&e, '[');
	for (i = 0; i < d->nwarnings; i++)
		str(&e, d->warnings[i]);
	close_(&e, ']');
	close_(&e, '}');
	return finish(&e, len0);
}

/* ---- the answer: contract.md section 2's order, jansson's layout -------- */

static void
text_item(struct emit *e, const struct tg_item_decision *it)
{
	char text[1024];

	open_(e, '{');
	knum(e, "index", (double)it->index);
	kstr(e, "eccn", it->eccn);
	kstr(e, "outcome", outcome_name(it->outcome));
	kstr(e, "authorization", it->authorization);
	if (it->license != NULL)
		kstr(e, "license", it->license);
	kstr(e, "review_policy", review_name(it->review));
	knum(e, "tpp", it->tpp);
	if (!isnan(it->operations))
		knum(e, "operations", it->operations);
	key(e, "reasons");
	open_(e, '[');
	for (size_t i = 0; i < it->nreasons; i++) {
		const struct tg_reason *r = &it->reasons[i];

		open_(e, '{');
		kstr(e, "rule", r->rule);
		kstr(e, "citation", r->citation);
		kstr(e, "text", reason_str(r, text, sizeof(text)));
		close_(e, '}');
	}
	close_(e, ']');
	close_(e, '}');
}

/* api_receipt_to_json's members, in its order. */
static void
text_receipt(struct emit *e, const struct audit_receipt *r)
{
	char h[2 * MERKLE_HASH + 1];

	open_(e, '{');
	kuint(e, "seq", r->seq);
	kstr(e, "entry_hash", r->entry_hash);
	kstr(e, "signature", r->signature);
	kstr(e, "key_id", r->key_id);
	kuint(e, "leaf_index", r->leaf_index);
	kuint(e, "tree_size", r->tree_size);
	kstr(e, "kind", r->kind);
	kstr(e, "time", r->time);
	kstr(e, "prev", r->prev);
	kstr(e, "request_sha256", r->request_sha256);
	kstr(e, "pack_sha256", r->pack_sha256);
	kstr(e, "checkpoint", r->checkpoint != NULL ? r->checkpoint : "");
	key(e, "inclusion_proof");
	open_(e, '[');
	for (size_t i = 0; i < r->nproof; i++) {
		hex_encode(r->proof[i], MERKLE_HASH, h);
		str(e, h);
	}
	close_(e, ']');
	close_(e, '}');
}

int
api_decision_text(const struct tg_decision *d, const char *decision_id,
    const struct audit_receipt *r, struct tg_buf *b)
{
	struct emit e = { .b = b, .pretty = true };
	size_t len0 = b->len, i;
	char date[16];

	open_(&e, '{');
	kstr(&e, "decision_id", decision_id);
	kstr(&e, "reference", d->reference);
	key(&e, "date");
	if (d->date == TG_DATE_NONE)
		lit(&e, "null");
	else {
		date_format(d->date, date);
		str(&e, date);
	}
	kstr(&e, "outcome", outcome_name(d->outcome));
	key(&e, "destination");
	open_(&e, '{');
	kstr(&e, "country", d->destination == TG_CC_NONE ? NULL :
	    cc_str(d->destination));
	key(&e, "tier");
	if (d->tier >= 1 && d->tier <= 3)
		num(&e, d->tier);
	else
		lit(&e, "null");
	if (d->destination_given != TG_CC_NONE &&
	    d->destination_given != d->destination)
		kstr(&e, "country_given", cc_str(d->destination_given));
	close_(&e, '}');
	key(&e, "items");
	open_(&e, '[');
	for (i = 0; i < d->nitems; i++)
		text_item(&e, &d->items[i]);
	close_(&e, ']');
	key(&e, "quotas");
	open_(&e, '[');
	for (i = 0; i < d->nquotas; i++) {
		const struct tg_quota_use *q = &d->quotas[i];

		open_(&e, '{');
		kstr(&e, "name", q->name);
		kstr(&e, "key", q->key);
		kstr(&e, "period", q->period);
		knum(&e, "used", q->used);
		knum(&e, "limit", q->limit);
		knum(&e, "reserved", q->reserved);
		close_(&e, '}');
	}
	close_(&e, ']');
	key(&e, "red_flags");
	open_(&e, '[');
	for (i = 0; i < d->nred_flags; i++) {
		const struct tg_red_flag *f = &d->red_flags[i];

		open_(&e, '{');
		kstr(&e, "rule", f->rule);
		kstr(&e, "citation", f->citation);
		kstr(&e, "text", f->text);
		key(&e, "item");
		if (f->item < 0)
			lit(&e, "null");
		else
			num(&e, (double)f->item);
		close_(&e, '}');
	}
	close_(&e, ']');
	key(&e, "warnings");
	open_(&e, '[');
	for (i = 0; i < d->nwarnings; i++)
		str(&e, d->warnings[i]);
	close_(&e, ']');
	key(&e, "rules");
	open_(&e, '{');
	kstr(&e, "pack", d->pack_name);
	kstr(&e, "version", d->pack_version);
	kstr(&e, "sha256", d->pack_sha256);
	close_(&e, '}');
	key(&e, "dry_run");
	lit(&e, d->dry_run ? "true" : "false");
	if (r != NULL) {
		key(&e, "receipt");
		text_receipt(&e, r);
	}
	close_(&e, '}');
	return finish(&e, len0);
}
