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
