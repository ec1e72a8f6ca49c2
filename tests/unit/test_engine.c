/*
 * test_engine.c: unit tests for daemon/engine (engine.h): the rule pack
 * loader, the expression language and the evaluator, through small packs
 * loaded from memory, then the bundled pack in rules/.
 *
 * Loader errors are checked by position (file:line:col) and message, and
 * one load must report every mistake planted in it.  Evaluation is
 * checked with hand-built queries in which every field is set: NAN for
 * absent numbers, -1 for absent tri-state booleans, TG_CC_NONE for absent
 * countries.  Run from the repository root (tests/run_all.sh does).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tiergate/decision.h"
#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/query.h"
#include "tiergate/util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static tg_cc
ccode(const char *s)
{
	tg_cc c;

	if (s == NULL)
		return TG_CC_NONE;
	if (cc_parse(s, strlen(s), &c) != 0)
		fail_msg("bad country code '%s' in the test", s);
	return c;
}

static tg_date
day(const char *s)
{
	tg_date d;

	if (date_parse(s, strlen(s), &d) != 0)
		fail_msg("bad date '%s' in the test", s);
	return d;
}

/* Loads n in-memory YAML files. */
static int
load_texts(const char *const *names, const char *const *texts, size_t n,
    struct tg_pack **out, struct tg_errlist *errs)
{
	size_t lens[8];

	assert_true(n <= NELEM(lens));
	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(texts[i]);
	return pack_load_mem(names, texts, lens, n, out, errs);
}

static void
dump_errs(const struct tg_errlist *l)
{
	char buf[TG_ERR_FILE_MAX + TG_ERR_MSG_MAX + 64];

	for (size_t i = 0; i < l->n; i++) {
		tg_error_format(&l->v[i], buf, sizeof(buf));
		print_message("  loader said: %s\n", buf);
	}
}

struct want {
	const char *file;
	int line, col;
	const char *msg;	/* a substring of the message */
};

/* Asserts that errs holds exactly the errors in w, in any order. */
static void
expect_errs(const struct tg_errlist *errs, const struct want *w, size_t nw)
{
	bool *used;
	size_t missing = 0;

	used = calloc(errs->n + 1, sizeof(*used));
	assert_non_null(used);
	for (size_t i = 0; i < nw; i++) {
		bool found = false;

		for (size_t k = 0; k < errs->n && !found; k++) {
			const struct tg_error *e = &errs->v[k];

			if (used[k] || e->line != w[i].line ||
			    e->col != w[i].col ||
			    strcmp(e->file, w[i].file) != 0 ||
			    strstr(e->msg, w[i].msg) == NULL)
				continue;
			assert_int_equal(e->code, TG_ERULES);
			used[k] = true;
			found = true;
		}
		if (!found) {
			print_message("missing error %s:%d:%d: ...%s...\n",
			    w[i].file, w[i].line, w[i].col, w[i].msg);
			missing++;
		}
	}
	free(used);
	if (missing > 0 || errs->n != nw) {
		dump_errs(errs);
		fail_msg("%zu expected errors missing; %zu reported, %zu "
		    "expected", missing, errs->n, nw);
	}
	assert_int_equal(errs->dropped, 0);
}

/* ---- queries ------------------------------------------------------------ */

static void
party_init(struct tg_party *p, const char *id, const char *country)
{
	memset(p, 0, sizeof(*p));
	p->id = id;
	p->name = NULL;
	p->country = ccode(country);
	p->headquarters = p->country;
	p->ultimate_parent = p->country;
	p->veu.type = TG_VEU_NONE;
	p->veu.tier1_share = NAN;
	p->veu.us_share = NAN;
	p->veu.destination_share = NAN;
	p->veu.country = TG_CC_NONE;
	p->veu.installed_tpp = NAN;
}

static void
item_init(struct tg_item *it, enum tg_item_kind kind, double tpp,
    long long quantity)
{
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->quantity = quantity;
	it->description = NULL;
	it->license = NULL;
	it->product = NULL;
	it->tpp = tpp;
	it->die_area_mm2 = NAN;
	it->performance_density = NAN;
	it->datacenter = -1;
	it->chips_per_unit = kind == TG_ITEM_SYSTEM ? 1 : 0;
	it->memory_bandwidth_gbs = NAN;
	it->training_operations = NAN;
	it->published = -1;
	it->has_base_model = false;
	it->base_published = -1;
	it->base_training_operations = NAN;
	it->additional_operations = NAN;
	it->synth = NULL;
	it->nsynth = 0;
	it->purpose = TG_PURPOSE_NONE;
	it->location = TG_CC_NONE;
}

static void
query_init(struct tg_query *q, const char *date, const char *dest,
    const struct tg_item *items, size_t nitems)
{
	memset(q, 0, sizeof(*q));
	q->reference = "test";
	q->date = day(date);
	q->date_given = true;
	q->destination = ccode(dest);
	party_init(&q->consignee, "acme", dest);
	q->end_user = q->consignee;
	q->end_user_given = false;
	q->items = items;
	q->nitems = nitems;
	q->dry_run = false;
	q->export_from = ccode("US");
	q->certifications = false;
}

static struct tg_decision *
decide(struct tg_pack *p, const struct tg_query *q,
    const struct tg_quota_ops *ops)
{
	struct tg_decision *d = NULL;
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = eval_decide(p, q, ops, &d, &err);
	if (rc != 0)
		fail_msg("eval_decide: %d (%s) at '%s': %s", rc,
		    tg_strerror(rc), err.pointer, err.msg);
	assert_non_null(d);
	return d;
}

static bool
has_warning(const struct tg_decision *d, const char *sub)
{
	for (size_t i = 0; i < d->nwarnings; i++)
		if (strstr(d->warnings[i], sub) != NULL)
			return true;
	return false;
}

static bool
has_reason(const struct tg_item_decision *id, const char *rule)
{
	for (size_t i = 0; i < id->nreasons; i++)
		if (strcmp(id->reasons[i].rule, rule) == 0)
			return true;
	return false;
}

static void
assert_eccn(const struct tg_item_decision *id, const char *eccn)
{
	if (eccn == NULL) {
		if (id->eccn != NULL)
			fail_msg("item %zu: eccn %s, expected none", id->index,
			    id->eccn);
		return;
	}
	if (id->eccn == NULL || strcmp(id->eccn, eccn) != 0)
		fail_msg("item %zu: eccn %s, expected %s", id->index,
		    id->eccn ? id->eccn : "(none)", eccn);
}

/* ---- a minimal catalog ----------------------------------------------- */

static const char CATALOG[] =
    "catalog:\n"
    "  name: test\n"
    "  version: \"1\"\n"
    "products:\n"
    "  - id: chip-a\n"
    "    vendor: V\n"
    "    name: Chip A\n"
    "    tpp: 2000\n"
    "    tpp_source: test\n"
    "    die_area_mm2: 800\n"
    "    die_area_source: test\n"
    "    datacenter: true\n"
    "    datacenter_source: test\n";

/* ---- loader: every mistake in one load ---------------------------------- */

/* Line numbers are in the comments; the tests below rely on them. */
static const char BAD_PACK[] =
    "pack:\n"						/* 1 */
    "  name: bad\n"					/* 2 */
    "  title: Bad\n"					/* 3 */
    "  source: test\n"					/* 4 */
    "  version: \"1\"\n"				/* 5 */
    "  status: test\n"					/* 6 */
    "bogus: 1\n"					/* 7 */
    "groups:\n"						/* 8 */
    "  - name: G\n"					/* 9 */
    "    citation: c\n"					/* 10 */
    "    members: [DE, {country: KH, from: 2025-02-01, until: 2025-01-01}]\n"
    "tiers:\n"						/* 12 */
    "  - tier: 1\n"					/* 13 */
    "    when: in_group(country, \"G\")\n"		/* 14 */
    "    citation: c\n"					/* 15 */
    "  - tier: 2\n"					/* 16 */
    "    when: country == \"FR\"\n"			/* 17 */
    "    citation: c\n"					/* 18 */
    "parameters:\n"					/* 19 */
    "  - {name: p_quoted, unit: tpp, value: \"4800\", citation: c}\n"
    "  - {name: ops, unit: operations, value: 1e26, citation: c}\n"
    "  - name: p_dated\n"				/* 22 */
    "    unit: tpp\n"					/* 23 */
    "    citation: c\n"					/* 24 */
    "    values:\n"					/* 25 */
    "      - {from: 2026-01-01, until: 2025-12-31, value: 1}\n"
    "quotas:\n"						/* 27 */
    "  - name: q\n"					/* 28 */
    "    unit: tpp\n"					/* 29 */
    "    key: consignee.key\n"				/* 30 */
    "    period: none\n"				/* 31 */
    "    limit: 100\n"					/* 32 */
    "    citation: c\n"					/* 33 */
    "classification:\n"					/* 34 */
    "  - id: c.ok\n"					/* 35 */
    "    kinds: [chip]\n"				/* 36 */
    "    when: item.tpp >= 1\n"				/* 37 */
    "    eccn: X.1\n"					/* 38 */
    "    citation: c\n"					/* 39 */
    "    text: t\n"					/* 40 */
    "  - id: c.ok\n"					/* 41 */
    "    kinds: [chip]\n"				/* 42 */
    "    eccn: null\n"					/* 43 */
    "    citation: c\n"					/* 44 */
    "    text: t\n"					/* 45 */
    "  - id: c.colour\n"				/* 46 */
    "    kinds: [chip]\n"				/* 47 */
    "    colour: red\n"					/* 48 */
    "    eccn: null\n"					/* 49 */
    "    citation: c\n"					/* 50 */
    "    text: t\n"					/* 51 */
    "    text: again\n"					/* 52 */
    "  - id: c.list\n"					/* 53 */
    "    kinds: [chip]\n"				/* 54 */
    "    eccn: null\n"					/* 55 */
    "    citation: [a, b]\n"				/* 56 */
    "    text: t\n"					/* 57 */
    "  - id: c.group\n"					/* 58 */
    "    kinds: [chip]\n"				/* 59 */
    "    when: in_group(dest.country, \"D:9\")\n"	/* 60 */
    "    eccn: null\n"					/* 61 */
    "    citation: c\n"					/* 62 */
    "    text: t\n"					/* 63 */
    "  - id: c.fact\n"					/* 64 */
    "    kinds: [chip]\n"				/* 65 */
    "    when: item.bogus > 1\n"			/* 66 */
    "    eccn: null\n"					/* 67 */
    "    citation: c\n"					/* 68 */
    "    text: t\n"					/* 69 */
    "  - id: c.param\n"					/* 70 */
    "    kinds: [chip]\n"				/* 71 */
    "    when: item.tpp > param.nope\n"			/* 72 */
    "    eccn: null\n"					/* 73 */
    "    citation: c\n"					/* 74 */
    "    text: t\n"					/* 75 */
    "  - id: c.dates\n"					/* 76 */
    "    kinds: [chip]\n"				/* 77 */
    "    effective: 2025-02-01\n"			/* 78 */
    "    until: 2025-01-31\n"				/* 79 */
    "    eccn: null\n"					/* 80 */
    "    citation: c\n"					/* 81 */
    "    text: t\n"					/* 82 */
    "  - id: c.unit\n"					/* 83 */
    "    kinds: [chip]\n"				/* 84 */
    "    when: item.tpp >= param.ops\n"			/* 85 */
    "    eccn: null\n"					/* 86 */
    "    citation: c\n"					/* 87 */
    "    text: t\n"					/* 88 */
    "  - id: c.nocite\n"				/* 89 */
    "    kinds: [chip]\n"				/* 90 */
    "    eccn: null\n"					/* 91 */
    "    text: t\n"					/* 92 */
    "authorizations:\n"					/* 93 */
    "  - id: a.q\n"					/* 94 */
    "    authorization: Q\n"				/* 95 */
    "    eccns: [X.1]\n"				/* 96 */
    "    quota: q\n"					/* 97 */
    "    amount: item.training_operations\n"		/* 98 */
    "    citation: c\n"					/* 99 */
    "    text: t\n"					/* 100 */
    "requirements:\n"					/* 101 */
    "  - id: r.eccn\n"					/* 102 */
    "    eccns: [9Z999]\n"				/* 103 */
    "    review_policy: case_by_case\n"			/* 104 */
    "    allows: [Q, LICENSE]\n"			/* 105 */
    "    citation: c\n"					/* 106 */
    "    text: t\n"					/* 107 */
    "  - id: r.auth\n"					/* 108 */
    "    eccns: [X.1]\n"				/* 109 */
    "    review_policy: case_by_case\n"			/* 110 */
    "    allows: [Q, FOO]\n"				/* 111 */
    "    citation: c\n"					/* 112 */
    "    text: t\n";					/* 113 */

static const char BAD_CATALOG[] =
    "catalog:\n"					/* 1 */
    "  name: c\n"					/* 2 */
    "  version: \"1\"\n"				/* 3 */
    "products:\n"					/* 4 */
    "  - id: both\n"					/* 5 */
    "    vendor: V\n"					/* 6 */
    "    name: Both\n"					/* 7 */
    "    tpp: 100\n"					/* 8 */
    "    tpp_source: s\n"				/* 9 */
    "    die_area_mm2: 10\n"				/* 10 */
    "    die_area_source: s\n"				/* 11 */
    "    performance_density: 10\n"			/* 12 */
    "    performance_density_source: s\n"		/* 13 */
    "    datacenter: true\n"				/* 14 */
    "    datacenter_source: s\n"			/* 15 */
    "  - id: nosrc\n"					/* 16 */
    "    vendor: V\n"					/* 17 */
    "    name: NoSrc\n"					/* 18 */
    "    tpp: 100\n"					/* 19 */
    "    datacenter: true\n"				/* 20 */
    "    datacenter_source: s\n"			/* 21 */
    "  - id: nonote\n"					/* 22 */
    "    vendor: V\n"					/* 23 */
    "    name: NoNote\n"				/* 24 */
    "    tpp: 100\n"					/* 25 */
    "    tpp_source: s\n"				/* 26 */
    "    datacenter: false\n"				/* 27 */
    "    datacenter_source: s\n"			/* 28 */
    "    verified: false\n";				/* 29 */

/* "mapping values are not allowed" at the second ': '. */
static const char SYNTAX_YAML[] =
    "catalog:\n"					/* 1 */
    "  name: a: b\n";					/* 2 */

static const char ANCHOR_YAML[] =
    "catalog:\n"					/* 1 */
    "  name: &n shared\n"				/* 2 */
    "  title: *n\n";					/* 3 */

static void
test_load_all_errors(void **state)
{
	static const char *const names[] = { "bad.yaml", "cat.yaml",
	    "syntax.yaml", "anchor.yaml" };
	static const char *const texts[] = { BAD_PACK, BAD_CATALOG,
	    SYNTAX_YAML, ANCHOR_YAML };
	static const struct want w[] = {
		/* rule pack */
		{ "bad.yaml", 7, 1, "unknown key 'bogus' in rule pack" },
		{ "bad.yaml", 11, 19, "inverted date range" },
		{ "bad.yaml", 13, 3, "the last tier must have no 'when'" },
		{ "bad.yaml", 20, 40, "'value' must be a number" },
		{ "bad.yaml", 26, 9, "inverted date range" },
		{ "bad.yaml", 41, 9, "duplicate rule id 'c.ok'" },
		{ "bad.yaml", 48, 5,
		    "unknown key 'colour' in classification rule" },
		{ "bad.yaml", 52, 5,
		    "duplicate key 'text' in classification rule" },
		{ "bad.yaml", 56, 15, "'citation' of classification rule "
		    "must be a string" },
		{ "bad.yaml", 60, 34, "unknown country group 'D:9'" },
		{ "bad.yaml", 66, 11, "unknown fact 'item.bogus'" },
		{ "bad.yaml", 72, 22, "unknown parameter 'nope'" },
		{ "bad.yaml", 79, 12, "inverted date range" },
		{ "bad.yaml", 85, 20, "cannot compare tpp with operations" },
		{ "bad.yaml", 89, 5, "classification rule needs 'citation'" },
		{ "bad.yaml", 98, 13,
		    "amount is in operations but quota 'q' counts tpp" },
		{ "bad.yaml", 103, 13, "unknown ECCN '9Z999'" },
		{ "bad.yaml", 111, 17, "unknown authorization 'FOO'" },
		/* catalog */
		{ "cat.yaml", 5, 5, "gives both die area and performance "
		    "density" },
		{ "cat.yaml", 19, 10,
		    "figure 'tpp' of product 'nosrc' needs 'tpp_source'" },
		{ "cat.yaml", 22, 5, "product needs 'note'" },
		/* YAML itself */
		{ "syntax.yaml", 2, 10, "YAML syntax: mapping values are not "
		    "allowed" },
		{ "anchor.yaml", 2, 9, "anchors and aliases are not "
		    "supported" },
	};
	struct tg_errlist errs;
	struct tg_pack *p = (struct tg_pack *)&errs;	/* must be reset */

	(void)state;
	errlist_init(&errs);
	assert_int_equal(load_texts(names, texts, NELEM(names), &p, &errs),
	    TG_ERULES);
	assert_null(p);
	expect_errs(&errs, w, NELEM(w));
	errlist_release(&errs);
}

/* Without a rule pack there is nothing to decide with. */
static void
test_load_no_pack(void **state)
{
	static const char *const names[] = { "cat.yaml" };
	static const char *const texts[] = { CATALOG };
	static const struct want w[] = {
		{ "", 0, 0, "no rule pack among the rule files" },
	};
	struct tg_errlist errs;
	struct tg_pack *p = NULL;

	(void)state;
	errlist_init(&errs);
	assert_int_equal(load_texts(names, texts, 1, &p, &errs), TG_ERULES);
	assert_null(p);
	expect_errs(&errs, w, NELEM(w));
	errlist_release(&errs);
}

/* A rule pack that does not parse is one error, not also "no pack". */
static void
test_load_syntax_only(void **state)
{
	static const char *const names[] = { "r.yaml", "cat.yaml" };
	static const char *const texts[] = {
	    "pack:\n"
	    "  name: [x\n"
	    "  title: y\n",
	    CATALOG };
	struct tg_errlist errs;
	struct tg_pack *p = NULL;

	(void)state;
	errlist_init(&errs);
	assert_int_equal(load_texts(names, texts, 2, &p, &errs), TG_ERULES);
	assert_null(p);
	if (errs.n != 1) {
		dump_errs(&errs);
		fail_msg("%zu errors, expected 1", errs.n);
	}
	assert_string_equal(errs.v[0].file, "r.yaml");
	assert_non_null(strstr(errs.v[0].msg, "YAML syntax"));
	assert_true(errs.v[0].line >= 2);
	errlist_release(&errs);
}

/* ---- the evaluation pack ------------------------------------------------ */

static const char EVAL_PACK[] =
    "pack:\n"
    "  name: evalpack\n"
    "  title: Evaluation test pack\n"
    "  source: test\n"
    "  version: \"0.1\"\n"
    "  status: test\n"
    "aliases:\n"
    "  - {country: HK, as: CN, citation: c}\n"
    "groups:\n"
    "  - name: T1\n"
    "    citation: c\n"
    "    members: [US, DE, FR]\n"
    "  - name: BAD\n"
    "    citation: c\n"
    "    members: [CN, {country: KH, until: 2025-11-06},\n"
    "              {country: MM, from: 2025-11-07}]\n"
    "tiers:\n"
    "  - {tier: 3, when: 'in_group(country, \"BAD\")', citation: c}\n"
    "  - {tier: 1, when: 'in_group(country, \"T1\")', citation: c}\n"
    "  - {tier: 2, citation: c}\n"
    "parameters:\n"
    "  - {name: big, unit: tpp, value: 4800, citation: c}\n"
    "  - {name: mid, unit: tpp, value: 1000, citation: c}\n"
    "  - {name: lim, unit: tpp, value: 10000, citation: c}\n"
    "derived:\n"
    "  - name: item.line_tpp\n"
    "    value: item.tpp * item.quantity\n"
    "    unit: tpp\n"
    "    report: tpp\n"
    "    citation: c\n"
    "quotas:\n"
    "  - name: q\n"
    "    unit: tpp\n"
    "    key: consignee.key\n"
    "    period: calendar_year\n"
    "    limit: param.lim\n"
    "    citation: c\n"
    "classification:\n"
    "  - id: c.window\n"
    "    kinds: [compute_service]\n"
    "    effective: 2025-01-10\n"
    "    until: 2025-01-20\n"
    "    eccn: W.1\n"
    "    citation: c\n"
    "    text: in the window\n"
    "  - id: c.svc\n"
    "    kinds: [compute_service]\n"
    "    eccn: null\n"
    "    citation: c\n"
    "    text: outside the window\n"
    "  - id: k.or\n"
    "    kinds: [system]\n"
    "    when: item.tpp > 1 or true\n"
    "    eccn: K.OR\n"
    "    citation: c\n"
    "    text: unknown or true\n"
    "  - id: k.and\n"
    "    kinds: [model_weights]\n"
    "    when: not (item.tpp > 1 and false)\n"
    "    eccn: K.AND\n"
    "    citation: c\n"
    "    text: not (unknown and false)\n"
    "  - id: c.big\n"
    "    kinds: [chip]\n"
    "    when: item.tpp >= param.big\n"
    "    eccn: X.big\n"
    "    citation: c big\n"
    "    text: big\n"
    "  - id: c.mid\n"
    "    kinds: [chip]\n"
    "    when: item.tpp >= param.mid\n"
    "    eccn: X.mid\n"
    "    citation: c mid\n"
    "    text: mid\n"
    "    verified: false\n"
    "    note: the mid line is a guess\n"
    "  - id: c.none\n"
    "    kinds: [chip]\n"
    "    eccn: null\n"
    "    citation: c\n"
    "    text: small\n"
    "authorizations:\n"
    "  - id: a.b\n"
    "    authorization: B\n"
    "    eccns: [X.big, X.mid]\n"
    "    when: dest.tier == 3\n"
    "    citation: c\n"
    "    text: B\n"
    "  - id: a.a\n"
    "    authorization: A\n"
    "    eccns: [X.big, X.mid]\n"
    "    when: dest.tier == 3 or dest.country == \"IN\"\n"
    "    citation: c\n"
    "    text: A\n"
    "  - id: a.q\n"
    "    authorization: Q\n"
    "    eccns: [X.big, X.mid]\n"
    "    when: dest.tier == 2\n"
    "    quota: q\n"
    "    amount: item.line_tpp\n"
    "    citation: c\n"
    "    text: Q\n"
    "requirements:\n"
    "  - id: r.all\n"
    "    eccns: [X.big, X.mid]\n"
    "    when: dest.tier != 1\n"
    "    review_policy: case_by_case\n"
    "    allows: [A, Q, LICENSE]\n"
    "    citation: c\n"
    "    text: outside tier 1\n"
    "  - id: r.bad\n"
    "    eccns: [X.big]\n"
    "    when: dest.tier == 3\n"
    "    review_policy: presumption_of_denial\n"
    "    allows: [B, LICENSE]\n"
    "    citation: c\n"
    "    text: tier 3\n"
    "red_flags:\n"
    "  - id: f.item\n"
    "    scope: item\n"
    "    kinds: [chip]\n"
    "    when: item.quantity >= 999\n"
    "    citation: c\n"
    "    text: a very large order\n"
    "  - id: f.txn\n"
    "    scope: transaction\n"
    "    when: end_user.country == \"IR\"\n"
    "    citation: c\n"
    "    text: the end user is in Iran\n";

static int
setup_eval(void **state)
{
	static const char *const names[] = { "eval.yaml", "cat.yaml" };
	static const char *const texts[] = { EVAL_PACK, CATALOG };
	struct tg_errlist errs;
	struct tg_pack *p = NULL;
	int rc;

	errlist_init(&errs);
	rc = load_texts(names, texts, 2, &p, &errs);
	if (rc != 0) {
		dump_errs(&errs);
		print_error("the evaluation pack failed to load: %d\n", rc);
		errlist_release(&errs);
		return -1;
	}
	assert_int_equal(errs.n, 0);
	errlist_release(&errs);
	*state = p;
	return 0;
}

static int
teardown_eval(void **state)
{
	pack_unref(*state);
	*state = NULL;
	return 0;
}

static void
test_eval_pack_meta(void **state)
{
	struct tg_pack *p = *state;
	double v;

	assert_string_equal(pack_name(p), "evalpack");
	assert_string_equal(pack_version(p), "0.1");
	assert_string_equal(pack_title(p), "Evaluation test pack");
	assert_string_equal(pack_status(p), "test");
	assert_int_equal(strlen(pack_sha256(p)), 64);
	assert_int_equal(pack_param(p, "big", day("2026-01-01"), &v), 0);
	assert_true(v == 4800);
	assert_int_equal(pack_param(p, "nope", day("2026-01-01"), &v),
	    TG_ENOTFOUND);
	assert_int_equal(pack_in_group(p, "NOPE", ccode("DE"),
	    day("2026-01-01")), -1);
	assert_int_equal(pack_tier(p, TG_CC_NONE, day("2026-01-01")), -1);
}

/* ---- expressions: Kleene logic ------------------------------------------ */

static void
test_eval_kleene(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[3];
	struct tg_query q;
	struct tg_decision *d;
	struct tg_error err;
	int rc;

	/* unknown or true = true; not (unknown and false) = true */
	item_init(&it[0], TG_ITEM_SYSTEM, NAN, 1);
	item_init(&it[1], TG_ITEM_MODEL_WEIGHTS, NAN, 1);
	query_init(&q, "2026-07-23", "DE", it, 2);
	d = decide(p, &q, NULL);
	assert_eccn(&d->items[0], "K.OR");
	assert_eccn(&d->items[1], "K.AND");
	assert_true(has_reason(&d->items[0], "k.or"));
	decision_free(d);

	/* A classification whose condition is unknown (no TPP) must fail,
	 * not fall through to "not controlled"; the pointer names it. */
	item_init(&it[0], TG_ITEM_CHIP, 10, 1);
	item_init(&it[1], TG_ITEM_CHIP, NAN, 1);
	item_init(&it[2], TG_ITEM_CHIP, 10, 1);
	query_init(&q, "2026-07-23", "DE", it, 3);
	d = (struct tg_decision *)&err;	/* must be reset to NULL */
	tg_error_clear(&err);
	rc = eval_decide(p, &q, NULL, &d, &err);
	assert_int_equal(rc, TG_EINVAL);
	assert_null(d);
	assert_int_equal(err.code, TG_EINVAL);
	assert_string_equal(err.pointer, "/items/1");
	assert_non_null(strstr(err.msg, "c.big"));
}

/* The first matching classification rule wins. */
static void
test_eval_first_match(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[4];
	struct tg_query q;
	struct tg_decision *d;

	item_init(&it[0], TG_ITEM_CHIP, 5000, 1);	/* big and mid */
	item_init(&it[1], TG_ITEM_CHIP, 4800, 1);	/* boundary: big */
	item_init(&it[2], TG_ITEM_CHIP, 4799, 1);	/* mid */
	item_init(&it[3], TG_ITEM_CHIP, 999, 1);	/* none */
	query_init(&q, "2026-07-23", "US", it, 4);
	d = decide(p, &q, NULL);
	assert_int_equal(d->nitems, 4);
	assert_eccn(&d->items[0], "X.big");
	assert_int_equal(d->items[0].nreasons, 1);
	assert_string_equal(d->items[0].reasons[0].rule, "c.big");
	assert_string_equal(d->items[0].reasons[0].citation, "c big");
	assert_eccn(&d->items[1], "X.big");
	assert_eccn(&d->items[2], "X.mid");
	assert_string_equal(d->items[2].reasons[0].rule, "c.mid");
	assert_eccn(&d->items[3], NULL);
	assert_string_equal(d->items[3].reasons[0].rule, "c.none");
	/* Tier 1: no requirement applies. */
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(d->items[i].outcome, TG_NO_LICENSE_REQUIRED);
		assert_int_equal(d->items[i].review, TG_REVIEW_NONE);
	}
	assert_int_equal(d->outcome, TG_NO_LICENSE_REQUIRED);
	assert_int_equal(d->tier, 1);
	/* The derived fact reported as tpp. */
	assert_true(d->items[0].tpp == 5000);
	decision_free(d);
}

/*
 * Two requirements: the review is the most restrictive, and only an
 * authorization that both allow may cover the item.  For X.big in tier 3,
 * r.all allows A and Q, r.bad allows B: a.b and a.a both apply but
 * neither is allowed by both, so a license is required.  For X.mid only
 * r.all applies, so a.a (allowed) covers it and a.b (not allowed) is
 * skipped although it comes first.
 */
static void
test_eval_requirements(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[2];
	struct tg_query q;
	struct tg_decision *d;

	item_init(&it[0], TG_ITEM_CHIP, 5000, 1);
	item_init(&it[1], TG_ITEM_CHIP, 2000, 1);
	query_init(&q, "2026-07-23", "CN", it, 2);
	d = decide(p, &q, NULL);
	assert_int_equal(d->tier, 3);
	assert_int_equal(d->items[0].outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->items[0].review, TG_REVIEW_DENIAL);
	assert_null(d->items[0].authorization);
	assert_true(has_reason(&d->items[0], "r.all"));
	assert_true(has_reason(&d->items[0], "r.bad"));
	assert_false(has_reason(&d->items[0], "a.a"));
	assert_false(has_reason(&d->items[0], "a.b"));
	assert_int_equal(d->items[1].outcome, TG_AUTHORIZED);
	assert_string_equal(d->items[1].authorization, "A");
	assert_true(has_reason(&d->items[1], "a.a"));
	assert_false(has_reason(&d->items[1], "a.b"));
	assert_int_equal(d->outcome, TG_LICENSE_REQUIRED);
	decision_free(d);

	/* Tier 2 without an applicable authorization but Q: the review of
	 * r.all alone when Q does not fit is case by case. */
	item_init(&it[0], TG_ITEM_CHIP, 5000, 3);	/* 15000 > 10000 */
	query_init(&q, "2026-07-23", "BR", it, 1);
	d = decide(p, &q, NULL);
	assert_int_equal(d->tier, 2);
	assert_int_equal(d->items[0].outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->items[0].review, TG_REVIEW_CASE_BY_CASE);
	decision_free(d);
}

/* ---- quotas ------------------------------------------------------------- */

struct fake_quota {
	double used;
	int rc;
	int calls;
	char name[32], key[64], period[32];
};

static int
fake_used(void *ctx, const char *name, const char *key, const char *period,
    double *out)
{
	struct fake_quota *f = ctx;

	f->calls++;
	snprintf(f->name, sizeof(f->name), "%s", name);
	snprintf(f->key, sizeof(f->key), "%s", key);
	snprintf(f->period, sizeof(f->period), "%s", period);
	if (f->rc != 0)
		return f->rc;
	*out = f->used;
	return 0;
}

/* Lines draw on the quota in order, within one transaction. */
static void
test_eval_quota_txn(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[3];
	struct tg_query q;
	struct tg_decision *d;

	/* 4000 + 4000 fit in 10000; the third 4000 does not. */
	for (size_t i = 0; i < 3; i++)
		item_init(&it[i], TG_ITEM_CHIP, 2000, 2);
	query_init(&q, "2026-07-23", "BR", it, 3);
	d = decide(p, &q, NULL);
	assert_int_equal(d->items[0].outcome, TG_AUTHORIZED);
	assert_string_equal(d->items[0].authorization, "Q");
	assert_int_equal(d->items[1].outcome, TG_AUTHORIZED);
	assert_int_equal(d->items[2].outcome, TG_LICENSE_REQUIRED);
	assert_true(has_reason(&d->items[2], "a.q"));
	assert_int_equal(d->nquotas, 1);
	assert_string_equal(d->quotas[0].name, "q");
	assert_string_equal(d->quotas[0].key, "acme");
	assert_string_equal(d->quotas[0].period, "2026");
	assert_true(d->quotas[0].used == 8000);
	assert_true(d->quotas[0].limit == 10000);
	assert_int_equal(d->outcome, TG_LICENSE_REQUIRED);
	decision_free(d);

	/* Exactly at the limit still fits. */
	item_init(&it[2], TG_ITEM_CHIP, 2000, 1);
	d = decide(p, &q, NULL);
	assert_int_equal(d->items[2].outcome, TG_AUTHORIZED);
	assert_true(d->quotas[0].used == 10000);
	assert_int_equal(d->outcome, TG_AUTHORIZED);
	decision_free(d);
}

/* What the provider reports as used counts before the first line. */
static void
test_eval_quota_provider(void **state)
{
	struct tg_pack *p = *state;
	struct fake_quota f = { .used = 7000 };
	struct tg_quota_ops ops = { .used = fake_used, .ctx = &f };
	struct tg_item it[2];
	struct tg_query q;
	struct tg_decision *d;

	item_init(&it[0], TG_ITEM_CHIP, 3000, 1);	/* 7000 + 3000 */
	item_init(&it[1], TG_ITEM_CHIP, 2000, 1);	/* 10000 + 2000 */
	query_init(&q, "2025-03-01", "BR", it, 2);
	d = decide(p, &q, &ops);
	assert_int_equal(f.calls, 1);	/* asked once per quota and key */
	assert_string_equal(f.name, "q");
	assert_string_equal(f.key, "acme");
	assert_string_equal(f.period, "2025");
	assert_int_equal(d->items[0].outcome, TG_AUTHORIZED);
	assert_int_equal(d->items[1].outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->nquotas, 1);
	assert_true(d->quotas[0].used == 10000);
	decision_free(d);

	/* Already over: nothing fits. */
	f.used = 9999;
	f.calls = 0;
	item_init(&it[0], TG_ITEM_CHIP, 2000, 1);
	d = decide(p, &q, &ops);
	assert_int_equal(d->items[0].outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->items[1].outcome, TG_LICENSE_REQUIRED);
	assert_true(d->quotas[0].used == 9999);
	decision_free(d);
}

/* A provider failure aborts the decision with the provider's code. */
static void
test_eval_quota_provider_error(void **state)
{
	struct tg_pack *p = *state;
	struct fake_quota f = { .rc = TG_EIO };
	struct tg_quota_ops ops = { .used = fake_used, .ctx = &f };
	struct tg_item it[1];
	struct tg_query q;
	struct tg_decision *d = NULL;
	struct tg_error err;

	item_init(&it[0], TG_ITEM_CHIP, 2000, 1);
	query_init(&q, "2026-07-23", "BR", it, 1);
	tg_error_clear(&err);
	assert_int_equal(eval_decide(p, &q, &ops, &d, &err), TG_EIO);
	assert_null(d);
	assert_int_equal(err.code, TG_EIO);
	assert_non_null(strstr(err.msg, "quota provider"));
	assert_int_equal(f.calls, 1);

	f.rc = -EBUSY;
	tg_error_clear(&err);
	assert_int_equal(eval_decide(p, &q, &ops, &d, &err), -EBUSY);
	assert_null(d);
}

/* ---- dates, aliases ------------------------------------------------------ */

static int
dest_tier(struct tg_pack *p, const char *dest, const char *date)
{
	struct tg_item it[1];
	struct tg_query q;
	struct tg_decision *d;
	int t;

	item_init(&it[0], TG_ITEM_CHIP, 10, 1);
	query_init(&q, date, dest, it, 1);
	d = decide(p, &q, NULL);
	t = d->tier;
	decision_free(d);
	return t;
}

/* Membership with an 'until' holds on that day, with a 'from' from
 * that day. */
static void
test_eval_group_dates(void **state)
{
	struct tg_pack *p = *state;

	assert_int_equal(dest_tier(p, "KH", "2025-11-06"), 3);
	assert_int_equal(dest_tier(p, "KH", "2025-11-07"), 2);
	assert_int_equal(dest_tier(p, "MM", "2025-11-06"), 2);
	assert_int_equal(dest_tier(p, "MM", "2025-11-07"), 3);
	assert_int_equal(pack_tier(p, ccode("KH"), day("2025-11-06")), 3);
	assert_int_equal(pack_tier(p, ccode("KH"), day("2025-11-07")), 2);
	assert_int_equal(pack_tier(p, ccode("MM"), day("2025-11-06")), 2);
	assert_int_equal(pack_tier(p, ccode("MM"), day("2025-11-07")), 3);
	assert_int_equal(pack_in_group(p, "BAD", ccode("KH"),
	    day("2025-11-06")), 1);
	assert_int_equal(pack_in_group(p, "BAD", ccode("KH"),
	    day("2025-11-07")), 0);
	assert_int_equal(pack_in_group(p, "BAD", ccode("CN"),
	    day("1990-01-01")), 1);
}

/* HK is decided as CN, and reported as given. */
static void
test_eval_alias(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[1];
	struct tg_query q;
	struct tg_decision *d;

	item_init(&it[0], TG_ITEM_CHIP, 5000, 1);
	query_init(&q, "2026-07-23", "HK", it, 1);
	d = decide(p, &q, NULL);
	assert_int_equal(d->destination, ccode("CN"));
	assert_int_equal(d->destination_given, ccode("HK"));
	assert_int_equal(d->tier, 3);
	assert_int_equal(d->items[0].outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->items[0].review, TG_REVIEW_DENIAL);
	decision_free(d);
	assert_int_equal(pack_tier(p, ccode("HK"), day("2026-07-23")), 3);
	/* Group membership itself is not aliased. */
	assert_int_equal(pack_in_group(p, "BAD", ccode("HK"),
	    day("2026-07-23")), 0);
}

/* ---- red flags, warnings, rule dates ------------------------------------ */

static void
test_eval_red_flags(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[2];
	struct tg_query q;
	struct tg_decision *d;

	/* An item red flag turns an authorized item into a hold. */
	item_init(&it[0], TG_ITEM_CHIP, 2000, 999);
	item_init(&it[1], TG_ITEM_CHIP, 2000, 1);
	query_init(&q, "2026-07-23", "IN", it, 2);
	d = decide(p, &q, NULL);
	assert_int_equal(d->items[0].outcome, TG_HOLD);
	assert_string_equal(d->items[0].authorization, "A");
	assert_true(has_reason(&d->items[0], "f.item"));
	assert_int_equal(d->items[1].outcome, TG_AUTHORIZED);
	assert_int_equal(d->nred_flags, 1);
	assert_string_equal(d->red_flags[0].rule, "f.item");
	assert_int_equal(d->red_flags[0].item, 0);
	assert_int_equal(d->outcome, TG_HOLD);
	decision_free(d);

	/* A transaction red flag holds every item, even one that needs no
	 * license. */
	item_init(&it[0], TG_ITEM_CHIP, 10, 1);
	item_init(&it[1], TG_ITEM_CHIP, 2000, 1);
	query_init(&q, "2026-07-23", "IN", it, 2);
	party_init(&q.end_user, "bad-user", "IR");
	q.end_user_given = true;
	d = decide(p, &q, NULL);
	assert_int_equal(d->items[0].outcome, TG_HOLD);
	assert_int_equal(d->items[1].outcome, TG_HOLD);
	assert_true(has_reason(&d->items[0], "f.txn"));
	assert_true(has_reason(&d->items[1], "f.txn"));
	assert_int_equal(d->nred_flags, 1);
	assert_string_equal(d->red_flags[0].rule, "f.txn");
	assert_int_equal(d->red_flags[0].item, -1);
	assert_int_equal(d->outcome, TG_HOLD);
	decision_free(d);

	/* A hold does not hide a license requirement. */
	item_init(&it[0], TG_ITEM_CHIP, 5000, 1);
	query_init(&q, "2026-07-23", "CN", it, 1);
	party_init(&q.end_user, "bad-user", "IR");
	q.end_user_given = true;
	d = decide(p, &q, NULL);
	assert_int_equal(d->items[0].outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->outcome, TG_LICENSE_REQUIRED);
	assert_int_equal(d->nred_flags, 1);
	decision_free(d);
}

/* A rule marked verified: false says so when it decides. */
static void
test_eval_unverified_warning(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[1];
	struct tg_query q;
	struct tg_decision *d;

	item_init(&it[0], TG_ITEM_CHIP, 5000, 1);
	query_init(&q, "2026-07-23", "US", it, 1);
	d = decide(p, &q, NULL);
	assert_false(has_warning(d, "unverified"));
	decision_free(d);

	item_init(&it[0], TG_ITEM_CHIP, 2000, 1);
	d = decide(p, &q, NULL);
	assert_eccn(&d->items[0], "X.mid");
	assert_true(has_warning(d, "rule c.mid rests on unverified facts: "
	    "the mid line is a guess"));
	decision_free(d);
}

/* effective and until are both in force on their day. */
static void
test_eval_rule_dates(void **state)
{
	static const struct {
		const char *date;
		const char *eccn;
	} cases[] = {
		{ "2025-01-09", NULL },
		{ "2025-01-10", "W.1" },
		{ "2025-01-15", "W.1" },
		{ "2025-01-20", "W.1" },
		{ "2025-01-21", NULL },
	};
	struct tg_pack *p = *state;
	struct tg_item it[1];
	struct tg_query q;
	struct tg_decision *d;
	const char *got, *by;

	for (size_t i = 0; i < NELEM(cases); i++) {
		item_init(&it[0], TG_ITEM_COMPUTE_SERVICE, NAN, 1);
		it[0].purpose = TG_PURPOSE_INFERENCE;
		it[0].location = ccode("US");
		query_init(&q, cases[i].date, "DE", it, 1);
		d = decide(p, &q, NULL);
		got = d->items[0].eccn;
		by = d->items[0].reasons[0].rule;
		if ((got == NULL) != (cases[i].eccn == NULL) ||
		    strcmp(by, cases[i].eccn ? "c.window" : "c.svc") != 0)
			fail_msg("%s: eccn %s by %s, expected %s",
			    cases[i].date, got ? got : "(none)", by,
			    cases[i].eccn ? cases[i].eccn : "(none)");
		assert_eccn(&d->items[0], cases[i].eccn);
		decision_free(d);
	}
}

/* An unknown catalog id is the caller's mistake, with a pointer. */
static void
test_eval_unknown_product(void **state)
{
	struct tg_pack *p = *state;
	struct tg_item it[2];
	struct tg_query q;
	struct tg_decision *d = NULL;
	struct tg_error err;

	item_init(&it[0], TG_ITEM_CHIP, NAN, 1);
	it[0].product = "chip-a";
	item_init(&it[1], TG_ITEM_CHIP, NAN, 1);
	it[1].product = "no-such-chip";
	query_init(&q, "2026-07-23", "US", it, 1);
	d = decide(p, &q, NULL);
	assert_eccn(&d->items[0], "X.mid");	/* catalog tpp 2000 */
	decision_free(d);
	d = NULL;
	query_init(&q, "2026-07-23", "US", it, 2);
	tg_error_clear(&err);
	assert_int_equal(eval_decide(p, &q, NULL, &d, &err), TG_EINVAL);
	assert_null(d);
	assert_string_equal(err.pointer, "/items/1/product");
}

/* ---- pack lifetime ------------------------------------------------------ */

/* A decision keeps its pack alive after the caller lets go of it. */
static void
test_pack_refcount(void **state)
{
	static const char *const names[] = { "eval.yaml", "cat.yaml" };
	static const char *const texts[] = { EVAL_PACK, CATALOG };
	struct tg_errlist errs;
	struct tg_pack *p = NULL;
	struct tg_item it[1];
	struct tg_query q;
	struct tg_decision *d;

	(void)state;
	errlist_init(&errs);
	assert_int_equal(load_texts(names, texts, 2, &p, &errs), 0);
	errlist_release(&errs);
	assert_ptr_equal(pack_ref(p), p);
	pack_unref(p);			/* back to one reference */
	pack_unref(NULL);
	assert_null(pack_ref(NULL));

	item_init(&it[0], TG_ITEM_CHIP, 5000, 1);
	query_init(&q, "2026-07-23", "CN", it, 1);
	d = decide(p, &q, NULL);
	pack_unref(p);		/* the decision holds the last one */
	p = NULL;
	/* Strings borrowed from the pack are still there (ASan checks). */
	assert_string_equal(d->pack_name, "evalpack");
	assert_string_equal(d->pack_version, "0.1");
	assert_int_equal(strlen(d->pack_sha256), 64);
	assert_string_equal(d->items[0].reasons[0].rule, "c.big");
	assert_string_equal(d->items[0].reasons[0].text, "big");
	assert_string_equal(d->items[0].eccn, "X.big");
	decision_free(d);		/* frees the pack; LSan checks */
	decision_free(NULL);
}

/* ---- the bundled pack --------------------------------------------------- */

static int
setup_bundled(void **state)
{
	static const char *const paths[] = { "rules/ai-diffusion-2025.yaml",
	    "rules/products.yaml" };
	struct tg_errlist errs;
	struct tg_pack *p = NULL;
	int rc;

	errlist_init(&errs);
	rc = pack_load(paths, NELEM(paths), &p, &errs);
	if (rc != 0) {
		dump_errs(&errs);
		print_error("the bundled pack failed to load: %d (run from "
		    "the repository root)\n", rc);
		errlist_release(&errs);
		return -1;
	}
	errlist_release(&errs);
	*state = p;
	return 0;
}

static void
test_bundled_tiers(void **state)
{
	static const struct {
		const char *cc;
		int tier;
	} cases[] = {
		{ "US", 1 }, { "DE", 1 }, { "TW", 1 },
		{ "IN", 2 }, { "AE", 2 }, { "SG", 2 }, { "IL", 2 },
		{ "CN", 3 }, { "HK", 3 }, { "MO", 3 }, { "RU", 3 },
	};
	struct tg_pack *p = *state;
	tg_date d = day("2026-07-23");

	assert_string_equal(pack_name(p), "ai-diffusion-2025");
	for (size_t i = 0; i < NELEM(cases); i++) {
		int t = pack_tier(p, ccode(cases[i].cc), d);

		if (t != cases[i].tier)
			fail_msg("%s: tier %d, expected %d", cases[i].cc, t,
			    cases[i].tier);
	}
	/* Cambodia left D:5 on 2025-11-07. */
	assert_int_equal(pack_tier(p, ccode("KH"), day("2025-11-06")), 3);
	assert_int_equal(pack_tier(p, ccode("KH"), day("2025-11-07")), 2);
}

static void
test_bundled_params(void **state)
{
	struct tg_pack *p = *state;
	tg_date d = day("2026-07-23");
	double v;

	assert_int_equal(pack_param(p, "a_tpp", d, &v), 0);
	assert_true(v == 4800);
	assert_int_equal(pack_param(p, "lpp_limit", d, &v), 0);
	assert_true(v == 26900000);
	assert_non_null(pack_param_citation(p, "a_tpp"));
	assert_null(pack_param_citation(p, "no_such_param"));
	/* note2_ops has no value (BIS published none). */
	assert_int_equal(pack_param(p, "note2_ops", d, &v), TG_EINVAL);
	/* nveu_cap changes by date. */
	assert_int_equal(pack_param(p, "nveu_cap", day("2025-12-31"), &v), 0);
	assert_true(v == 1.58e9);
	assert_int_equal(pack_param(p, "nveu_cap", day("2026-01-01"), &v), 0);
	assert_true(v == 4.27e9);
}

int
main(void)
{
	const struct CMUnitTest loader[] = {
		cmocka_unit_test(test_load_all_errors),
		cmocka_unit_test(test_load_no_pack),
		cmocka_unit_test(test_load_syntax_only),
		cmocka_unit_test(test_pack_refcount),
	};
	const struct CMUnitTest eval[] = {
		cmocka_unit_test(test_eval_pack_meta),
		cmocka_unit_test(test_eval_kleene),
		cmocka_unit_test(test_eval_first_match),
		cmocka_unit_test(test_eval_requirements),
		cmocka_unit_test(test_eval_quota_txn),
		cmocka_unit_test(test_eval_quota_provider),
		cmocka_unit_test(test_eval_quota_provider_error),
		cmocka_unit_test(test_eval_group_dates),
		cmocka_unit_test(test_eval_alias),
		cmocka_unit_test(test_eval_red_flags),
		cmocka_unit_test(test_eval_unverified_warning),
		cmocka_unit_test(test_eval_rule_dates),
		cmocka_unit_test(test_eval_unknown_product),
	};
	const struct CMUnitTest bundled[] = {
		cmocka_unit_test(test_bundled_tiers),
		cmocka_unit_test(test_bundled_params),
	};
	int fails = 0;

	fails += cmocka_run_group_tests_name("engine loader", loader, NULL,
	    NULL);
	fails += cmocka_run_group_tests_name("engine eval", eval, setup_eval,
	    teardown_eval);
	fails += cmocka_run_group_tests_name("engine bundled pack", bundled,
	    setup_bundled, teardown_eval);
	return fails != 0;
}
