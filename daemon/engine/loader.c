/*
 * loader.c: YAML rule packs and product catalogs -> struct tg_pack.
 *
 * libyaml's document API gives a node tree with positions; this file walks
 * it against the schema of docs/rules.md and compiles every expression.
 * Loading is strict and keeps going after a mistake, so one run reports
 * every unknown key, wrong type, duplicate id, unknown reference, inverted
 * date range and unit mismatch, each as file:line:col.  libyaml types never
 * leave this file.
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <yaml.h>

#include "engine_int.h"

#define PACK_FILE_MAX (16u << 20)
#define PACK_FILES_MAX 64
#define LIST_MAX 4096

struct ld {
	yaml_document_t doc;
	const char *file;	/* in the pack arena */
	struct tg_pack *p;
	struct tg_arena *a;
	struct tg_errlist *errs;
	bool nomem;
	int nerr;
	const char **ids;	/* every rule id, for duplicates */
	size_t nids, capids;
	bool have_pack;
};

static void
lerr_at(struct ld *ld, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
lerr_at(struct ld *ld, int line, int col, const char *fmt, ...)
{
	struct tg_error e;
	va_list ap;

	tg_error_clear(&e);
	e.code = TG_ERULES;
	snprintf(e.file, sizeof(e.file), "%s", ld->file);
	e.line = line;
	e.col = col;
	va_start(ap, fmt);
	vsnprintf(e.msg, sizeof(e.msg), fmt, ap);
	va_end(ap);
	if (errlist_add(ld->errs, &e) != 0)
		ld->nomem = true;
	ld->nerr++;
}

static void
lerr(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
lerr(struct ld *ld, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[TG_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lerr_at(ld, n ? (int)n->start_mark.line + 1 : 0,
	    n ? (int)n->start_mark.column + 1 : 0, "%s", msg);
}

static void
add_compile_error(struct ld *ld, const struct tg_error *e)
{
	if (errlist_add(ld->errs, e) != 0)
		ld->nomem = true;
	ld->nerr++;
}

static yaml_node_t *
node(struct ld *ld, int id)
{
	return yaml_document_get_node(&ld->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool
is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool
is_null_node(const yaml_node_t *n)
{
	return is_plain(n) && (strcmp(scalar(n), "null") == 0 ||
	    strcmp(scalar(n), "~") == 0 || scalar(n)[0] == '\0');
}

/*
 * Checks a mapping's keys against allowed (NULL-terminated): unknown keys
 * and duplicates are errors.  Returns false when n is not a mapping.
 */
static bool
check_map(struct ld *ld, const yaml_node_t *n, const char *what,
    const char *const *allowed)
{
	yaml_node_pair_t *pr, *q;

	if (n == NULL || n->type != YAML_MAPPING_NODE) {
		lerr(ld, n, "%s must be a mapping", what);
		return false;
	}
	for (pr = n->data.mapping.pairs.start;
	    pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(ld, pr->key);
		bool ok = false;

		if (k == NULL || k->type != YAML_SCALAR_NODE) {
			lerr(ld, k, "keys of %s must be plain names", what);
			continue;
		}
		for (size_t i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], scalar(k)) == 0)
				ok = true;
		if (!ok)
			lerr(ld, k, "unknown key '%s' in %s", scalar(k), what);
		for (q = n->data.mapping.pairs.start; q < pr; q++) {
			yaml_node_t *k2 = node(ld, q->key);

			if (k2 != NULL && k2->type == YAML_SCALAR_NODE &&
			    strcmp(scalar(k2), scalar(k)) == 0) {
				lerr(ld, k, "duplicate key '%s' in %s",
				    scalar(k), what);
				break;
			}
		}
	}
	return true;
}

static yaml_node_t *
get(struct ld *ld, const yaml_node_t *map, const char *key)
{
	yaml_node_pair_t *pr;

	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (pr = map->data.mapping.pairs.start;
	    pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(ld, pr->key);

		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strcmp(scalar(k), key) == 0)
			return node(ld, pr->value);
	}
	return NULL;
}

/* Reports a missing required key at the mapping. */
static yaml_node_t *
need(struct ld *ld, const yaml_node_t *map, const char *key, const char *what)
{
	yaml_node_t *v = get(ld, map, key);

	if (v == NULL)
		lerr(ld, map, "%s needs '%s'", what, key);
	return v;
}

static const char *
get_str(struct ld *ld, const yaml_node_t *map, const char *key, bool required,
    const char *what)
{
	yaml_node_t *v = required ? need(ld, map, key, what) :
	    get(ld, map, key);
	const char *s;

	if (v == NULL)
		return NULL;
	if (v->type != YAML_SCALAR_NODE || is_null_node(v)) {
		lerr(ld, v, "'%s' of %s must be a string", key, what);
		return NULL;
	}
	s = arena_strdup(ld->a, scalar(v));
	if (s == NULL)
		ld->nomem = true;
	return s;
}

static bool
node_num(struct ld *ld, const yaml_node_t *v, const char *key, double *out)
{
	if (!is_plain(v) || parse_double(scalar(v), out) != 0) {
		lerr(ld, v, "'%s' must be a number", key);
		return false;
	}
	return true;
}

static bool
get_num(struct ld *ld, const yaml_node_t *map, const char *key, bool required,
    const char *what, double *out)
{
	yaml_node_t *v = required ? need(ld, map, key, what) :
	    get(ld, map, key);

	if (v == NULL)
		return false;
	return node_num(ld, v, key, out);
}

static bool
get_bool(struct ld *ld, const yaml_node_t *map, const char *key, bool dflt)
{
	yaml_node_t *v = get(ld, map, key);

	if (v == NULL)
		return dflt;
	if (is_plain(v) && strcmp(scalar(v), "true") == 0)
		return true;
	if (is_plain(v) && strcmp(scalar(v), "false") == 0)
		return false;
	lerr(ld, v, "'%s' must be true or false", key);
	return dflt;
}

static tg_date
node_date(struct ld *ld, const yaml_node_t *v, const char *key)
{
	tg_date d;

	if (v->type != YAML_SCALAR_NODE ||
	    date_parse(scalar(v), strlen(scalar(v)), &d) != 0) {
		lerr(ld, v, "'%s' must be a date YYYY-MM-DD", key);
		return TG_DATE_NONE;
	}
	return d;
}

static tg_date
get_date(struct ld *ld, const yaml_node_t *map, const char *key, tg_date dflt)
{
	yaml_node_t *v = get(ld, map, key);

	if (v == NULL)
		return dflt;
	return node_date(ld, v, key);
}

static bool
node_cc(struct ld *ld, const yaml_node_t *v, tg_cc *out)
{
	if (v == NULL || v->type != YAML_SCALAR_NODE ||
	    cc_parse(scalar(v), strlen(scalar(v)), out) != 0) {
		lerr(ld, v, "'%s' is not an ISO 3166-1 alpha-2 country code",
		    v && v->type == YAML_SCALAR_NODE ? scalar(v) : "?");
		return false;
	}
	return true;
}

/* Iterates a sequence; returns NULL (after an error) when it is not one. */
static yaml_node_item_t *
seq_begin(struct ld *ld, const yaml_node_t *n, const char *what,
    yaml_node_item_t **end)
{
	if (n == NULL || n->type != YAML_SEQUENCE_NODE) {
		lerr(ld, n, "%s must be a list", what);
		*end = NULL;
		return NULL;
	}
	*end = n->data.sequence.items.top;
	if (*end - n->data.sequence.items.start > LIST_MAX) {
		lerr(ld, n, "%s is too long (at most %d entries)", what,
		    LIST_MAX);
		*end = n->data.sequence.items.start;
	}
	return n->data.sequence.items.start;
}

static size_t
seq_len(const yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
}

static void *
alloc_array(struct ld *ld, size_t n, size_t size)
{
	void *p;

	if (n == 0)
		return NULL;
	p = arena_zalloc(ld->a, n * size);
	if (p == NULL)
		ld->nomem = true;
	return p;
}

/* Compiles the expression held by scalar v. */
static bool
compile(struct ld *ld, const yaml_node_t *v, const char *key, unsigned scope,
    int want, struct expr *e)
{
	struct cenv env = { .pack = ld->p, .scope = scope, .arena = ld->a };
	struct tg_error err;
	const char *src;
	int col, rc;

	memset(e, 0, sizeof(*e));
	if (v == NULL)
		return false;
	if (v->type != YAML_SCALAR_NODE) {
		lerr(ld, v, "'%s' must be an expression in a string", key);
		return false;
	}
	src = arena_strdup(ld->a, scalar(v));
	if (src == NULL) {
		ld->nomem = true;
		return false;
	}
	col = (int)v->start_mark.column + 1;
	if (v->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
	    v->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
		col++;
	tg_error_clear(&err);
	rc = expr_compile(&env, src, ld->file, (int)v->start_mark.line + 1,
	    col, want, e, &err);
	if (rc == -ENOMEM) {
		/* Not a mistake in the file: the load fails as a whole. */
		ld->nomem = true;
		return false;
	}
	if (rc != 0) {
		/* Offsets into a scalar folded from several lines do not map
		 * back to columns; point at the expression's start instead
		 * (the message quotes the offending token). */
		if (v->end_mark.line != v->start_mark.line)
			err.col = (int)v->start_mark.column + 1;
		add_compile_error(ld, &err);
		return false;
	}
	return true;
}

static bool
check_ident(struct ld *ld, const yaml_node_t *at, const char *s,
    const char *what)
{
	if (s == NULL)
		return false;
	for (const char *c = s; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '_' || *c == '-' || *c == '.' ||
		    (*c >= 'A' && *c <= 'Z') || *c == ':')) {
			lerr(ld, at, "%s '%s' may only hold letters, digits "
			    "and _ - . :", what, s);
			return false;
		}
	}
	if (*s == '\0') {
		lerr(ld, at, "%s is empty", what);
		return false;
	}
	return true;
}

/* Names used in expressions: letters, digits, '_' (and '.' to separate
 * parts), so every name a pack defines can be written in a rule. */
static bool
expr_name(struct ld *ld, const yaml_node_t *at, const char *s,
    const char *what)
{
	for (const char *c = s; *c; c++) {
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '_' || *c == '.')) {
			lerr(ld, at, "%s '%s' cannot be used in expressions: "
			    "use letters, digits and _", what, s);
			return false;
		}
	}
	return true;
}

/* ---- pack metadata ------------------------------------------------------ */

static void
load_meta(struct ld *ld, yaml_node_t *m)
{
	static const char *const keys[] = { "name", "title", "source",
	    "version", "effective", "compliance", "status", "citation",
	    "warnings", NULL };
	static const char *const wkeys[] = { "id", "text", "citation", "from",
	    "until", NULL };
	struct tg_pack *p = ld->p;
	yaml_node_item_t *it, *end;
	yaml_node_t *w;
	size_t i = 0;

	if (!check_map(ld, m, "pack", keys))
		return;
	p->name = get_str(ld, m, "name", true, "pack");
	check_ident(ld, m, p->name, "pack name");
	p->title = get_str(ld, m, "title", true, "pack");
	p->source = get_str(ld, m, "source", true, "pack");
	p->version = get_str(ld, m, "version", true, "pack");
	p->status = get_str(ld, m, "status", true, "pack");
	p->citation = get_str(ld, m, "citation", false, "pack");
	p->effective = get_date(ld, m, "effective", TG_DATE_NONE);
	p->compliance = get_date(ld, m, "compliance", TG_DATE_NONE);
	w = get(ld, m, "warnings");
	if (w == NULL)
		return;
	it = seq_begin(ld, w, "pack warnings", &end);
	p->warnings = alloc_array(ld, seq_len(w), sizeof(*p->warnings));
	for (; it != NULL && it < end && p->warnings != NULL &&
	    !ld->nomem; it++) {
		yaml_node_t *e = node(ld, *it);

		if (!check_map(ld, e, "pack warning", wkeys))
			continue;
		p->warnings[i].id = get_str(ld, e, "id", true, "warning");
		p->warnings[i].text = get_str(ld, e, "text", true, "warning");
		p->warnings[i].citation = get_str(ld, e, "citation", true,
		    "warning");
		p->warnings[i].from = get_date(ld, e, "from", TG_DATE_NONE);
		p->warnings[i].to = get_date(ld, e, "until", TG_DATE_MAX);
		if (p->warnings[i].from != TG_DATE_NONE &&
		    p->warnings[i].to != TG_DATE_NONE &&
		    p->warnings[i].to < p->warnings[i].from)
			lerr(ld, e, "inverted date range: 'until' is before "
			    "'from'");
		i++;
	}
	p->nwarnings = i;
}

/* ---- aliases, groups, tiers ------------------------------------------- */

static void
load_aliases(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "country", "as", "citation",
	    NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "aliases", &end);
	p->aliases = alloc_array(ld, seq_len(n), sizeof(*p->aliases));
	for (; it != NULL && it < end && p->aliases != NULL && !ld->nomem;
	    it++) {
		yaml_node_t *e = node(ld, *it);
		struct alias *al = &p->aliases[p->naliases];

		if (!check_map(ld, e, "alias", keys))
			continue;
		if (!node_cc(ld, need(ld, e, "country", "alias"), &al->from) ||
		    !node_cc(ld, need(ld, e, "as", "alias"), &al->to))
			continue;
		al->citation = get_str(ld, e, "citation", true, "alias");
		p->naliases++;
	}
}

static int
span_cmp(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->cc != y->cc)
		return x->cc < y->cc ? -1 : 1;
	return x->from < y->from ? -1 : x->from > y->from;
}

static void
load_groups(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "name", "citation", "members",
	    "verified", "note", NULL };
	static const char *const mkeys[] = { "country", "from", "until",
	    "note", "citation", NULL };
	yaml_node_item_t *it, *end, *mi, *mend;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "groups", &end);
	p->groups = alloc_array(ld, seq_len(n), sizeof(*p->groups));
	for (; it != NULL && it < end && p->groups != NULL && !ld->nomem;
	    it++) {
		yaml_node_t *e = node(ld, *it), *mem;
		struct group *g = &p->groups[p->ngroups];

		if (!check_map(ld, e, "group", keys))
			continue;
		g->name = get_str(ld, e, "name", true, "group");
		if (g->name == NULL)
			continue;
		if (pack_group_index(p, g->name) >= 0) {
			lerr(ld, e, "duplicate group '%s'", g->name);
			continue;
		}
		g->citation = get_str(ld, e, "citation", true, "group");
		if (!get_bool(ld, e, "verified", true) &&
		    get(ld, e, "note") == NULL)
			lerr(ld, e, "group '%s' is marked unverified but has "
			    "no note", g->name);
		mem = need(ld, e, "members", "group");
		if (mem == NULL)
			continue;
		mi = seq_begin(ld, mem, "members", &mend);
		g->spans = alloc_array(ld, seq_len(mem), sizeof(*g->spans));
		for (; mi != NULL && mi < mend && g->spans != NULL; mi++) {
			yaml_node_t *m = node(ld, *mi);
			struct span *s = &g->spans[g->nspans];

			s->from = TG_DATE_NONE;
			s->to = TG_DATE_MAX;
			if (m->type == YAML_MAPPING_NODE) {
				if (!check_map(ld, m, "group member", mkeys))
					continue;
				if (!node_cc(ld, need(ld, m, "country",
				    "group member"), &s->cc))
					continue;
				s->from = get_date(ld, m, "from",
				    TG_DATE_NONE);
				s->to = get_date(ld, m, "until", TG_DATE_MAX);
				if (s->from != TG_DATE_NONE &&
				    s->to != TG_DATE_NONE && s->to < s->from) {
					lerr(ld, m, "inverted date range: "
					    "'until' is before 'from'");
					continue;
				}
			} else if (!node_cc(ld, m, &s->cc))
				continue;
			for (size_t k = 0; k < g->nspans; k++) {
				if (g->spans[k].cc == s->cc &&
				    g->spans[k].from <= s->to &&
				    s->from <= g->spans[k].to) {
					lerr(ld, m, "%s is listed twice in "
					    "group '%s' for overlapping dates",
					    cc_str(s->cc), g->name);
					break;
				}
			}
			g->ever[s->cc / 8] |= (uint8_t)(1u << (s->cc % 8));
			g->nspans++;
		}
		if (g->nspans > 1)
			qsort(g->spans, g->nspans, sizeof(*g->spans),
			    span_cmp);
		p->ngroups++;
	}
}

static void
load_tiers(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "tier", "when", "citation", NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "tiers", &end);
	p->tiers = alloc_array(ld, seq_len(n), sizeof(*p->tiers));
	for (; it != NULL && it < end && p->tiers != NULL && !ld->nomem; it++) {
		yaml_node_t *e = node(ld, *it), *w;
		struct tier_def *t = &p->tiers[p->ntiers];
		double v;

		if (!check_map(ld, e, "tier", keys))
			continue;
		if (!get_num(ld, e, "tier", true, "tier", &v))
			continue;
		if (v != 1 && v != 2 && v != 3) {
			lerr(ld, get(ld, e, "tier"), "tier must be 1, 2 or 3");
			continue;
		}
		t->tier = (int)v;
		t->citation = get_str(ld, e, "citation", true, "tier");
		w = get(ld, e, "when");
		if (w != NULL && !compile(ld, w, "when", SC_COUNTRY, T_BOOL,
		    &t->when))
			continue;
		p->ntiers++;
	}
	if (p->ntiers == 0 || p->tiers[p->ntiers - 1].when.root != NULL)
		lerr(ld, n, "the last tier must have no 'when' (it catches "
		    "every other country)");
}

/* ---- parameters, derived facts, quotas ---------------------------------- */

static bool
load_pvalue(struct ld *ld, yaml_node_t *v, struct val *out)
{
	double d;

	if (v == NULL)
		return false;	/* need() reported it */
	if (is_null_node(v)) {
		out->t = T_NULL;
		return true;
	}
	if (!node_num(ld, v, "value", &d))
		return false;
	out->t = T_NUM;
	out->u.n = d;
	return true;
}

static void
load_params(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "name", "unit", "citation",
	    "value", "values", "verified", "note", NULL };
	static const char *const vkeys[] = { "from", "until", "value", NULL };
	yaml_node_item_t *it, *end, *vi, *vend;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "parameters", &end);
	p->params = alloc_array(ld, seq_len(n), sizeof(*p->params));
	for (; it != NULL && it < end && p->params != NULL && !ld->nomem;
	    it++) {
		yaml_node_t *e = node(ld, *it), *u, *v, *vs;
		struct param *pm = &p->params[p->nparams];
		int unit;

		if (!check_map(ld, e, "parameter", keys))
			continue;
		pm->name = get_str(ld, e, "name", true, "parameter");
		if (!check_ident(ld, e, pm->name, "parameter name") ||
		    !expr_name(ld, e, pm->name, "parameter name"))
			continue;
		if (pack_param_index(p, pm->name) >= 0) {
			lerr(ld, e, "duplicate parameter '%s'", pm->name);
			continue;
		}
		pm->citation = get_str(ld, e, "citation", true, "parameter");
		pm->verified = get_bool(ld, e, "verified", true);
		pm->note = get_str(ld, e, "note", !pm->verified, "parameter");
		u = need(ld, e, "unit", "parameter");
		if (u == NULL)
			continue;
		unit = u->type == YAML_SCALAR_NODE ? unit_parse(scalar(u)) :
		    -1;
		if (unit < 0) {
			lerr(ld, u, "unknown unit '%s' (tpp, mm2, "
			    "tpp_per_mm2, operations, share, count, gb_per_s, "
			    "days, none)", u->type == YAML_SCALAR_NODE ?
			    scalar(u) : "?");
			continue;
		}
		pm->unit = (uint8_t)unit;
		v = get(ld, e, "value");
		vs = get(ld, e, "values");
		if ((v == NULL) == (vs == NULL)) {
			lerr(ld, e, "parameter '%s' needs exactly one of "
			    "'value' and 'values'", pm->name);
			continue;
		}
		if (v != NULL) {
			pm->values = alloc_array(ld, 1, sizeof(*pm->values));
			if (pm->values == NULL ||
			    !load_pvalue(ld, v, &pm->values[0].v))
				continue;
			pm->values[0].from = TG_DATE_NONE;
			pm->values[0].to = TG_DATE_MAX;
			pm->nvalues = 1;
		} else {
			vi = seq_begin(ld, vs, "values", &vend);
			pm->values = alloc_array(ld, seq_len(vs),
			    sizeof(*pm->values));
			for (; vi != NULL && vi < vend && pm->values; vi++) {
				yaml_node_t *x = node(ld, *vi);
				struct pvalue *pv = &pm->values[pm->nvalues];

				if (!check_map(ld, x, "parameter value",
				    vkeys))
					continue;
				pv->from = get_date(ld, x, "from",
				    TG_DATE_NONE);
				pv->to = get_date(ld, x, "until", TG_DATE_MAX);
				if (pv->from != TG_DATE_NONE &&
				    pv->to != TG_DATE_NONE && pv->to < pv->from) {
					lerr(ld, x, "inverted date range: "
					    "'until' is before 'from'");
					continue;
				}
				for (size_t k = 0; k < pm->nvalues; k++)
					if (pm->values[k].from <= pv->to &&
					    pv->from <= pm->values[k].to)
						lerr(ld, x, "date ranges of "
						    "parameter '%s' overlap",
						    pm->name);
				if (!load_pvalue(ld, need(ld, x, "value",
				    "parameter value"), &pv->v))
					continue;
				pm->nvalues++;
			}
		}
		p->nparams++;
	}
}

static void
load_derived(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "name", "citation", "value",
	    "unit", "report", "verified", "note", NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;
	int slot, party, type, unit;
	unsigned scope;

	it = seq_begin(ld, n, "derived", &end);
	p->derived = alloc_array(ld, seq_len(n), sizeof(*p->derived));
	for (; it != NULL && it < end && p->derived != NULL && !ld->nomem;
	    it++) {
		yaml_node_t *e = node(ld, *it), *u;
		struct derived *d = &p->derived[p->nderived];
		const char *name;
		char path[160];

		if (!check_map(ld, e, "derived fact", keys))
			continue;
		if (p->nderived == PACK_DERIVED_MAX) {
			lerr(ld, e, "too many derived facts (at most %d)",
			    PACK_DERIVED_MAX);
			break;
		}
		name = get_str(ld, e, "name", true, "derived fact");
		if (!check_ident(ld, e, name, "derived fact name") ||
		    !expr_name(ld, e, name, "derived fact name"))
			continue;
		if (strncmp(name, "item.", 5) != 0) {
			lerr(ld, get(ld, e, "name"), "derived facts are item "
			    "facts: write 'item.%s'", name);
			continue;
		}
		snprintf(path, sizeof(path), "%s", name);
		if (fact_lookup(p, path, &slot, &party, &type, &unit,
		    &scope) == 0) {
			lerr(ld, get(ld, e, "name"), "fact '%s' already "
			    "exists", name);
			continue;
		}
		d->name = name + 5;
		d->citation = get_str(ld, e, "citation", true,
		    "derived fact");
		d->report = get_str(ld, e, "report", false, "derived fact");
		d->verified = get_bool(ld, e, "verified", true);
		if (!d->verified) {
			const char *note = get_str(ld, e, "note", true,
			    "derived fact");

			d->warning = arena_printf(ld->a, "fact %s rests on "
			    "unverified facts: %s", name,
			    note != NULL ? note : "");
			if (d->warning == NULL)
				ld->nomem = true;
		}
		if (d->report != NULL && strcmp(d->report, "tpp") != 0 &&
		    strcmp(d->report, "operations") != 0)
			lerr(ld, get(ld, e, "report"), "'report' must be "
			    "tpp or operations");
		if (!compile(ld, need(ld, e, "value", "derived fact"),
		    "value", SC_TXN | SC_ITEM, T_NULL, &d->value))
			continue;
		d->type = d->value.root->type;
		d->unit = d->value.root->unit;
		d->txn_only = !expr_reads_item(p, d->value.root);
		if (d->type == T_PARTIES || d->type == T_SYNTHS ||
		    d->type == T_NULL) {
			lerr(ld, e, "derived fact '%s' must be a number, "
			    "boolean, string or country", name);
			continue;
		}
		u = get(ld, e, "unit");
		if (u != NULL) {
			int du = u->type == YAML_SCALAR_NODE ?
			    unit_parse(scalar(u)) : -1;

			if (du < 0)
				lerr(ld, u, "unknown unit");
			else if (d->unit != U_MIXED && d->unit != U_NONE &&
			    du != d->unit)
				lerr(ld, u, "derived fact '%s' is declared in "
				    "%s but computes %s", name, unit_name(du),
				    unit_name(d->unit));
			else if (du >= 0)
				d->unit = (uint8_t)du;
		}
		if (d->report != NULL && strcmp(d->report, "tpp") == 0 &&
		    d->unit != U_TPP)
			lerr(ld, e, "a fact reported as tpp must be in tpp");
		if (d->report != NULL &&
		    strcmp(d->report, "operations") == 0 && d->unit != U_OPS)
			lerr(ld, e, "a fact reported as operations must be in "
			    "operations");
		p->nderived++;
	}
}

static bool
units_compatible(int a, int b)
{
	return a == b || a == U_NONE || b == U_NONE || a == U_MIXED ||
	    b == U_MIXED;
}

static int
quota_index(const struct tg_pack *p, const char *name)
{
	for (size_t i = 0; i < p->nquotas; i++)
		if (strcmp(p->quotas[i].name, name) == 0)
			return (int)i;
	return -1;
}

static void
load_quotas(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "name", "citation", "unit", "key",
	    "period", "from", "until", "label", "limit", "base", "verified",
	    "note", NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "quotas", &end);
	p->quotas = alloc_array(ld, seq_len(n), sizeof(*p->quotas));
	for (; it != NULL && it < end && p->quotas != NULL && !ld->nomem;
	    it++) {
		yaml_node_t *e = node(ld, *it), *u, *b;
		struct quota_def *qd = &p->quotas[p->nquotas];
		const char *per;
		int unit;

		if (!check_map(ld, e, "quota", keys))
			continue;
		qd->name = get_str(ld, e, "name", true, "quota");
		if (!check_ident(ld, e, qd->name, "quota name"))
			continue;
		if (quota_index(p, qd->name) >= 0) {
			lerr(ld, e, "duplicate quota '%s'", qd->name);
			continue;
		}
		qd->citation = get_str(ld, e, "citation", true, "quota");
		qd->verified = get_bool(ld, e, "verified", true);
		qd->note = get_str(ld, e, "note", !qd->verified, "quota");
		if (!qd->verified) {
			qd->unverified_warning = arena_printf(ld->a, "quota %s "
			    "rests on unverified facts: %s", qd->name,
			    qd->note ? qd->note : "");
			if (qd->unverified_warning == NULL)
				ld->nomem = true;
		}
		u = need(ld, e, "unit", "quota");
		unit = u && u->type == YAML_SCALAR_NODE ?
		    unit_parse(scalar(u)) : -1;
		if (u != NULL && unit < 0)
			lerr(ld, u, "unknown unit");
		qd->unit = (uint8_t)(unit < 0 ? U_NONE : unit);
		per = get_str(ld, e, "period", true, "quota");
		if (per == NULL)
			continue;
		if (strcmp(per, "calendar_year") == 0)
			qd->period = PER_CALENDAR_YEAR;
		else if (strcmp(per, "fixed") == 0) {
			qd->period = PER_FIXED;
			qd->pfrom = get_date(ld, e, "from", TG_DATE_NONE);
			qd->pto = get_date(ld, e, "until", TG_DATE_MAX);
			qd->plabel = get_str(ld, e, "label", true, "quota");
			if (qd->pfrom == TG_DATE_NONE ||
			    qd->pto == TG_DATE_MAX)
				lerr(ld, e, "a fixed period needs 'from' and "
				    "'until'");
			else if (qd->pto < qd->pfrom)
				lerr(ld, e, "inverted date range: 'until' is "
				    "before 'from'");
		} else if (strcmp(per, "none") == 0)
			qd->period = PER_NONE;
		else {
			lerr(ld, get(ld, e, "period"), "period must be "
			    "calendar_year, fixed or none");
			continue;
		}
		if (!compile(ld, need(ld, e, "key", "quota"), "key",
		    SC_TXN | SC_ITEM, T_NULL, &qd->key))
			continue;
		if (qd->key.root->type != T_STR &&
		    qd->key.root->type != T_CC) {
			lerr(ld, get(ld, e, "key"), "the key of quota '%s' "
			    "must be a string or a country", qd->name);
			continue;
		}
		if (!compile(ld, need(ld, e, "limit", "quota"), "limit",
		    SC_TXN | SC_ITEM, T_NUM, &qd->limit))
			continue;
		if (!units_compatible(qd->limit.root->unit, qd->unit))
			lerr(ld, get(ld, e, "limit"), "limit of quota '%s' is "
			    "in %s, the quota in %s", qd->name,
			    unit_name(qd->limit.root->unit),
			    unit_name(qd->unit));
		b = get(ld, e, "base");
		if (b != NULL) {
			if (!compile(ld, b, "base", SC_TXN | SC_ITEM, T_NUM,
			    &qd->base))
				continue;
			qd->has_base = true;
			if (!units_compatible(qd->base.root->unit, qd->unit))
				lerr(ld, b, "base of quota '%s' is in %s, the "
				    "quota in %s", qd->name,
				    unit_name(qd->base.root->unit),
				    unit_name(qd->unit));
		}
		p->nquotas++;
	}
}

/* ---- rules ---------------------------------------------------------------- */

static const char *const kind_names[] = { "chip", "system", "model_weights",
    "compute_service" };

static bool
note_id(struct ld *ld, const yaml_node_t *at, const char *id)
{
	for (size_t i = 0; i < ld->nids; i++) {
		if (strcmp(ld->ids[i], id) == 0) {
			lerr(ld, at, "duplicate rule id '%s'", id);
			return false;
		}
	}
	if (ld->nids == ld->capids) {
		size_t cap = ld->capids ? ld->capids * 2 : 64;
		const char **v = realloc(ld->ids, cap * sizeof(*v));

		if (v == NULL) {
			ld->nomem = true;
			return false;
		}
		ld->ids = v;
		ld->capids = cap;
	}
	ld->ids[ld->nids++] = id;
	return true;
}

static int
intern(struct ld *ld, const char ***arr, size_t *n, const char *s)
{
	const char **v;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*arr)[i], s) == 0)
			return (int)i;
	v = arena_alloc(ld->a, (*n + 1) * sizeof(*v));
	if (v == NULL) {
		ld->nomem = true;
		return -1;
	}
	if (*n > 0)
		memcpy(v, *arr, *n * sizeof(*v));
	v[*n] = s;
	*arr = v;
	return (int)(*n)++;
}

static int
auth_index(const struct tg_pack *p, const char *name)
{
	for (size_t i = 0; i < p->nauths; i++)
		if (strcmp(p->auths[i], name) == 0)
			return (int)i;
	return -1;
}

/* Loads the fields every rule has; false when the rule must be skipped. */
static bool
load_common(struct ld *ld, yaml_node_t *e, const char *what, unsigned scope,
    bool need_kinds, struct rule_common *c)
{
	yaml_node_t *w, *k;
	yaml_node_item_t *it, *end;

	c->id = get_str(ld, e, "id", true, what);
	if (!check_ident(ld, e, c->id, "rule id") ||
	    !note_id(ld, get(ld, e, "id"), c->id))
		return false;
	c->file = ld->file;
	c->line = (int)e->start_mark.line + 1;
	c->citation = get_str(ld, e, "citation", true, what);
	c->text = get_str(ld, e, "text", true, what);
	c->warning = get_str(ld, e, "warning", false, what);
	c->verified = get_bool(ld, e, "verified", true);
	c->note = get_str(ld, e, "note", !c->verified, what);
	c->effective = get_date(ld, e, "effective", TG_DATE_NONE);
	c->until = get_date(ld, e, "until", TG_DATE_MAX);
	/* TG_DATE_NONE from a bad 'until' was reported already. */
	if (c->effective != TG_DATE_NONE && c->until != TG_DATE_NONE &&
	    c->until < c->effective)
		lerr(ld, get(ld, e, "until"), "inverted date range: 'until' "
		    "is before 'effective'");
	k = get(ld, e, "kinds");
	if (k == NULL && need_kinds)
		lerr(ld, e, "%s '%s' needs 'kinds'", what, c->id);
	if (k != NULL) {
		it = seq_begin(ld, k, "kinds", &end);
		for (; it != NULL && it < end && !ld->nomem; it++) {
			yaml_node_t *x = node(ld, *it);
			bool ok = false;

			for (size_t i = 0; i < 4; i++) {
				if (x->type == YAML_SCALAR_NODE &&
				    strcmp(scalar(x), kind_names[i]) == 0) {
					c->kinds |= 1u << i;
					ok = true;
				}
			}
			if (!ok)
				lerr(ld, x, "unknown item kind '%s' (chip, "
				    "system, model_weights, compute_service)",
				    x->type == YAML_SCALAR_NODE ? scalar(x) :
				    "?");
		}
	}
	w = get(ld, e, "when");
	if (w != NULL && !compile(ld, w, "when", scope, T_BOOL, &c->when))
		return false;
	/* A condition that reads only transaction facts has one truth per
	 * decision, however many items it is asked about. */
	c->memo = -1;
	if (c->when.root == NULL || !expr_reads_item(ld->p, c->when.root))
		c->memo = (int)ld->p->nmemo++;
	/* Decision warnings are made once, here, not per decision. */
	if (!c->verified) {
		c->unverified_warning = arena_printf(ld->a, "rule %s rests on "
		    "unverified facts: %s", c->id, c->note ? c->note : "");
		if (c->unverified_warning == NULL)
			ld->nomem = true;
	}
	c->unknown_warning = arena_printf(ld->a, "rule %s could not be "
	    "decided from the facts given (a fact is missing); it was "
	    "applied as if it held", c->id);
	if (c->unknown_warning == NULL)
		ld->nomem = true;
	return true;
}

static bool
load_eccns(struct ld *ld, yaml_node_t *e, struct eccn_set *s)
{
	yaml_node_t *n = need(ld, e, "eccns", "rule");
	yaml_node_item_t *it, *end;

	if (n == NULL)
		return false;
	it = seq_begin(ld, n, "eccns", &end);
	s->v = alloc_array(ld, seq_len(n), sizeof(*s->v));
	for (; it != NULL && it < end && s->v != NULL && !ld->nomem; it++) {
		yaml_node_t *x = node(ld, *it);
		int k = -1;

		if (x->type == YAML_SCALAR_NODE)
			for (size_t i = 0; i < ld->p->neccns; i++)
				if (strcmp(ld->p->eccns[i], scalar(x)) == 0)
					k = (int)i;
		if (k < 0) {
			lerr(ld, x, "unknown ECCN '%s': no classification "
			    "rule yields it", x->type == YAML_SCALAR_NODE ?
			    scalar(x) : "?");
			continue;
		}
		s->v[s->n++] = k;
	}
	return s->n > 0 || seq_len(n) == 0;
}

static enum tg_review
parse_review(struct ld *ld, const yaml_node_t *v)
{
	static const char *const names[] = { "presumption_of_approval",
	    "case_by_case", "presumption_of_denial" };

	if (v == NULL)
		return TG_REVIEW_NONE;
	if (v->type == YAML_SCALAR_NODE)
		for (int i = 0; i < 3; i++)
			if (strcmp(scalar(v), names[i]) == 0)
				return (enum tg_review)(i + 1);
	lerr(ld, v, "review policy must be presumption_of_approval, "
	    "case_by_case or presumption_of_denial");
	return TG_REVIEW_NONE;
}

static void
load_classes(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "id", "citation", "text",
	    "effective", "until", "verified", "note", "warning", "when",
	    "kinds", "eccn", NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "classification", &end);
	p->classes = alloc_array(ld, seq_len(n), sizeof(*p->classes));
	for (; it != NULL && it < end && p->classes != NULL && !ld->nomem;
	    it++) {
		yaml_node_t *e = node(ld, *it), *ev;
		struct class_rule *r = &p->classes[p->nclasses];

		if (!check_map(ld, e, "classification rule", keys))
			continue;
		if (!load_common(ld, e, "classification rule",
		    SC_TXN | SC_ITEM, true, &r->c))
			continue;
		ev = need(ld, e, "eccn", "classification rule");
		if (ev == NULL)
			continue;
		if (!is_null_node(ev)) {
			if (ev->type != YAML_SCALAR_NODE ||
			    !check_ident(ld, ev, scalar(ev), "eccn"))
				continue;
			r->eccn = arena_strdup(ld->a, scalar(ev));
			if (r->eccn == NULL) {
				ld->nomem = true;
				continue;
			}
			r->eccn_idx = intern(ld, &p->eccns, &p->neccns,
			    r->eccn);
			if (r->eccn_idx < 0)
				continue;
		} else
			r->eccn_idx = -1;
		p->nclasses++;
	}
}

static void
load_auths(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "id", "citation", "text",
	    "effective", "until", "verified", "note", "warning", "when",
	    "kinds", "authorization", "eccns", "quota", "amount", NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "authorizations", &end);
	p->authz = alloc_array(ld, seq_len(n), sizeof(*p->authz));
	for (; it != NULL && it < end && p->authz != NULL && !ld->nomem; it++) {
		yaml_node_t *e = node(ld, *it), *qn;
		struct auth_rule *r = &p->authz[p->nauthz];
		const char *name;

		if (!check_map(ld, e, "authorization rule", keys))
			continue;
		if (!load_common(ld, e, "authorization rule",
		    SC_TXN | SC_ITEM | SC_ECCN, false, &r->c))
			continue;
		name = get_str(ld, e, "authorization", true,
		    "authorization rule");
		if (!check_ident(ld, e, name, "authorization"))
			continue;
		if (strcmp(name, "LICENSE") == 0) {
			lerr(ld, get(ld, e, "authorization"), "LICENSE is "
			    "granted by registered licenses, not by a rule");
			continue;
		}
		r->auth = auth_index(p, name);
		if (r->auth < 0) {
			if (p->nauths == PACK_AUTH_MAX - 1) {
				lerr(ld, e, "too many authorization names");
				continue;
			}
			p->auths[p->nauths] = name;
			r->auth = (int)p->nauths++;
		}
		if (!load_eccns(ld, e, &r->eccns))
			continue;
		r->quota = -1;
		qn = get(ld, e, "quota");
		if (qn != NULL) {
			r->quota = qn->type == YAML_SCALAR_NODE ?
			    quota_index(p, scalar(qn)) : -1;
			if (r->quota < 0) {
				lerr(ld, qn, "unknown quota '%s'",
				    qn->type == YAML_SCALAR_NODE ?
				    scalar(qn) : "?");
				continue;
			}
			if (!compile(ld, need(ld, e, "amount",
			    "authorization rule"), "amount",
			    SC_TXN | SC_ITEM | SC_ECCN, T_NUM, &r->amount))
				continue;
			if (!units_compatible(r->amount.root->unit,
			    p->quotas[r->quota].unit)) {
				lerr(ld, get(ld, e, "amount"), "amount is in "
				    "%s but quota '%s' counts %s",
				    unit_name(r->amount.root->unit),
				    p->quotas[r->quota].name,
				    unit_name(p->quotas[r->quota].unit));
				continue;
			}
		} else if (get(ld, e, "amount") != NULL) {
			lerr(ld, get(ld, e, "amount"), "'amount' needs a "
			    "'quota'");
		}
		p->nauthz++;
	}
}

static void
load_reqs(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "id", "citation", "text",
	    "effective", "until", "verified", "note", "warning", "when",
	    "kinds", "eccns", "review_policy", "allows", "quota", "amount",
	    "over_quota_review_policy", NULL };
	yaml_node_item_t *it, *end, *ai, *aend;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "requirements", &end);
	p->reqs = alloc_array(ld, seq_len(n), sizeof(*p->reqs));
	for (; it != NULL && it < end && p->reqs != NULL && !ld->nomem; it++) {
		yaml_node_t *e = node(ld, *it), *al, *qn;
		struct req_rule *r = &p->reqs[p->nreqs];

		if (!check_map(ld, e, "requirement rule", keys))
			continue;
		if (!load_common(ld, e, "requirement rule",
		    SC_TXN | SC_ITEM | SC_ECCN, false, &r->c))
			continue;
		if (!load_eccns(ld, e, &r->eccns))
			continue;
		r->review = parse_review(ld, need(ld, e, "review_policy",
		    "requirement rule"));
		al = need(ld, e, "allows", "requirement rule");
		ai = al ? seq_begin(ld, al, "allows", &aend) : NULL;
		for (; ai != NULL && ai < aend; ai++) {
			yaml_node_t *x = node(ld, *ai);
			int k;

			if (x->type == YAML_SCALAR_NODE &&
			    strcmp(scalar(x), "LICENSE") == 0)
				k = PACK_AUTH_MAX - 1;
			else
				k = x->type == YAML_SCALAR_NODE ?
				    auth_index(p, scalar(x)) : -1;
			if (k < 0) {
				lerr(ld, x, "unknown authorization '%s': no "
				    "authorization rule grants it",
				    x->type == YAML_SCALAR_NODE ? scalar(x) :
				    "?");
				continue;
			}
			r->allows |= 1u << k;
		}
		r->quota = -1;
		qn = get(ld, e, "quota");
		if (qn != NULL) {
			r->quota = qn->type == YAML_SCALAR_NODE ?
			    quota_index(p, scalar(qn)) : -1;
			if (r->quota < 0) {
				lerr(ld, qn, "unknown quota");
				continue;
			}
			r->over_review = parse_review(ld, need(ld, e,
			    "over_quota_review_policy", "requirement rule"));
			if (!compile(ld, need(ld, e, "amount",
			    "requirement rule"), "amount",
			    SC_TXN | SC_ITEM | SC_ECCN, T_NUM, &r->amount))
				continue;
			if (!units_compatible(r->amount.root->unit,
			    p->quotas[r->quota].unit))
				lerr(ld, get(ld, e, "amount"), "amount is in "
				    "%s but quota '%s' counts %s",
				    unit_name(r->amount.root->unit),
				    p->quotas[r->quota].name,
				    unit_name(p->quotas[r->quota].unit));
		} else if (get(ld, e, "over_quota_review_policy") != NULL ||
		    get(ld, e, "amount") != NULL) {
			lerr(ld, e, "'amount' and 'over_quota_review_policy' "
			    "need a 'quota'");
		}
		p->nreqs++;
	}
}

static void
load_flags(struct ld *ld, yaml_node_t *n)
{
	static const char *const keys[] = { "id", "citation", "text",
	    "effective", "until", "verified", "note", "warning", "when",
	    "kinds", "scope", NULL };
	yaml_node_item_t *it, *end;
	struct tg_pack *p = ld->p;

	it = seq_begin(ld, n, "red_flags", &end);
	p->flags = alloc_array(ld, seq_len(n), sizeof(*p->flags));
	for (; it != NULL && it < end && p->flags != NULL && !ld->nomem; it++) {
		yaml_node_t *e = node(ld, *it);
		struct flag_rule *r = &p->flags[p->nflags];
		const char *sc;
		unsigned scope;

		if (!check_map(ld, e, "red flag rule", keys))
			continue;
		sc = get_str(ld, e, "scope", true, "red flag rule");
		if (sc == NULL)
			continue;
		if (strcmp(sc, "item") == 0) {
			r->scope = FS_ITEM;
			scope = SC_TXN | SC_ITEM | SC_ECCN;
		} else if (strcmp(sc, "transaction") == 0) {
			r->scope = FS_TXN;
			scope = SC_TXN;
		} else {
			lerr(ld, get(ld, e, "scope"), "scope must be item or "
			    "transaction");
			continue;
		}
		if (!load_common(ld, e, "red flag rule", scope,
		    false, &r->c))
			continue;
		if (r->scope == FS_TXN && r->c.kinds != 0)
			lerr(ld, get(ld, e, "kinds"), "a transaction red flag "
			    "cannot name item kinds");
		p->nflags++;
	}
}

/* ---- the product catalog ---------------------------------------------------- */

static int
product_cmp(const void *a, const void *b)
{
	return strcmp(((const struct product *)a)->id,
	    ((const struct product *)b)->id);
}

static void
load_catalog(struct ld *ld, yaml_node_t *root)
{
	static const char *const top[] = { "catalog", "products", NULL };
	static const char *const ckeys[] = { "name", "version", "title",
	    NULL };
	static const char *const keys[] = { "id", "vendor", "name", "tpp",
	    "tpp_source", "die_area_mm2", "die_area_source",
	    "performance_density", "performance_density_source", "datacenter",
	    "datacenter_source", "memory_bandwidth_gbs",
	    "memory_bandwidth_source", "verified", "note", NULL };
	static const struct {
		const char *fig, *src;
	} figs[] = {
		{ "tpp", "tpp_source" },
		{ "die_area_mm2", "die_area_source" },
		{ "performance_density", "performance_density_source" },
		{ "datacenter", "datacenter_source" },
		{ "memory_bandwidth_gbs", "memory_bandwidth_source" },
	};
	struct tg_pack *p = ld->p;
	yaml_node_t *c, *prods;
	yaml_node_item_t *it, *end;
	struct product *v;
	size_t base = p->nproducts;

	check_map(ld, root, "catalog file", top);
	c = get(ld, root, "catalog");
	if (check_map(ld, c, "catalog", ckeys)) {
		(void)get_str(ld, c, "name", true, "catalog");
		p->catalog_version = get_str(ld, c, "version", true,
		    "catalog");
		(void)get_str(ld, c, "title", false, "catalog");
	}
	prods = need(ld, root, "products", "catalog file");
	if (prods == NULL)
		return;
	it = seq_begin(ld, prods, "products", &end);
	v = arena_zalloc(ld->a, (base + seq_len(prods) + 1) * sizeof(*v));
	if (v == NULL) {
		ld->nomem = true;
		return;
	}
	if (base > 0)
		memcpy(v, p->products, base * sizeof(*v));
	p->products = v;
	for (; it != NULL && it < end && !ld->nomem; it++) {
		yaml_node_t *e = node(ld, *it);
		struct product *pr = &p->products[p->nproducts];

		if (!check_map(ld, e, "product", keys))
			continue;
		pr->id = get_str(ld, e, "id", true, "product");
		if (!check_ident(ld, e, pr->id, "product id"))
			continue;
		pr->vendor = get_str(ld, e, "vendor", true, "product");
		pr->name = get_str(ld, e, "name", true, "product");
		pr->tpp = pr->die = pr->pd = pr->bandwidth = NAN;
		if (get_num(ld, e, "tpp", true, "product", &pr->tpp) &&
		    !(pr->tpp > 0))
			lerr(ld, get(ld, e, "tpp"), "tpp must be positive");
		if (get_num(ld, e, "die_area_mm2", false, "product",
		    &pr->die) && !(pr->die > 0))
			lerr(ld, get(ld, e, "die_area_mm2"), "die area must "
			    "be positive");
		if (get_num(ld, e, "performance_density", false, "product",
		    &pr->pd) && !(pr->pd > 0))
			lerr(ld, get(ld, e, "performance_density"),
			    "performance density must be positive");
		if (!isnan(pr->die) && !isnan(pr->pd))
			lerr(ld, e, "product '%s' gives both die area and "
			    "performance density; give one", pr->id);
		(void)get_num(ld, e, "memory_bandwidth_gbs", false, "product",
		    &pr->bandwidth);
		if (need(ld, e, "datacenter", "product") != NULL)
			pr->datacenter = get_bool(ld, e, "datacenter", true);
		for (size_t i = 0; i < sizeof(figs) / sizeof(figs[0]); i++)
			if (get(ld, e, figs[i].fig) != NULL &&
			    get(ld, e, figs[i].src) == NULL)
				lerr(ld, get(ld, e, figs[i].fig), "figure '%s' "
				    "of product '%s' needs '%s'", figs[i].fig,
				    pr->id, figs[i].src);
		pr->verified = get_bool(ld, e, "verified", true);
		pr->note = get_str(ld, e, "note", !pr->verified, "product");
		if (!pr->verified && pr->id != NULL) {
			pr->unverified_warning = arena_printf(ld->a, "catalog "
			    "figures for '%s' are unverified: %s", pr->id,
			    pr->note ? pr->note : "");
			if (pr->unverified_warning == NULL)
				ld->nomem = true;
		}
		p->nproducts++;
	}
	if (ld->nomem)
		return;
	qsort(p->products, p->nproducts, sizeof(*p->products), product_cmp);
	for (size_t i = 1; i < p->nproducts; i++)
		if (strcmp(p->products[i - 1].id, p->products[i].id) == 0)
			lerr(ld, prods, "duplicate product id '%s'",
			    p->products[i].id);
}

/* ---- files ------------------------------------------------------------------ */

static void
load_rule_pack(struct ld *ld, yaml_node_t *root)
{
	static const char *const top[] = { "pack", "aliases", "groups",
	    "tiers", "parameters", "derived", "quotas", "classification",
	    "requirements", "authorizations", "red_flags", NULL };
	yaml_node_t *n;

	if (ld->have_pack) {
		lerr(ld, root, "a second rule pack; load exactly one");
		return;
	}
	ld->have_pack = true;
	check_map(ld, root, "rule pack", top);
	/* Sections are compiled in dependency order, whatever their order
	 * in the file: expressions may only name what is already known.
	 * After an allocation failure nothing more is compiled: the pack is
	 * thrown away, and what was half built may hold NULLs. */
	load_meta(ld, need(ld, root, "pack", "rule pack"));
	if (!ld->nomem && (n = get(ld, root, "aliases")) != NULL)
		load_aliases(ld, n);
	if (!ld->nomem && (n = need(ld, root, "groups", "rule pack")) != NULL)
		load_groups(ld, n);
	if (!ld->nomem && (n = need(ld, root, "tiers", "rule pack")) != NULL)
		load_tiers(ld, n);
	if (!ld->nomem && (n = get(ld, root, "parameters")) != NULL)
		load_params(ld, n);
	if (!ld->nomem && (n = get(ld, root, "derived")) != NULL)
		load_derived(ld, n);
	if (!ld->nomem && (n = get(ld, root, "quotas")) != NULL)
		load_quotas(ld, n);
	if (!ld->nomem && (n = need(ld, root, "classification",
	    "rule pack")) != NULL)
		load_classes(ld, n);
	if (!ld->nomem && (n = get(ld, root, "authorizations")) != NULL)
		load_auths(ld, n);
	if (!ld->nomem && (n = need(ld, root, "requirements",
	    "rule pack")) != NULL)
		load_reqs(ld, n);
	if (!ld->nomem && (n = get(ld, root, "red_flags")) != NULL)
		load_flags(ld, n);
}

/*
 * Whether a failed libyaml call failed for want of memory.  libyaml 0.2.5
 * fails some allocations without setting any error (a failed yaml_strdup
 * of the default tag in its loader.c), and every syntax error it reports
 * sets one, so a failure that names no error is counted as memory too.
 */
static bool
yaml_nomem(const yaml_parser_t *ps)
{
	return ps->error == YAML_MEMORY_ERROR || ps->error == YAML_NO_ERROR;
}

/* Anchors and aliases could make a small file expand without bound when
 * walked; rule packs have no use for them, so they are refused. */
static bool
has_aliases(struct ld *ld, const unsigned char *buf, size_t len)
{
	yaml_parser_t ps;
	yaml_event_t ev;
	bool found = false, done = false;

	if (!yaml_parser_initialize(&ps)) {
		ld->nomem = true;
		return true;
	}
	yaml_parser_set_input_string(&ps, buf, len);
	while (!done) {
		if (!yaml_parser_parse(&ps, &ev)) {
			/* A syntax error is the document load's to report;
			 * for want of memory the file was not checked, so
			 * it must not load. */
			if (yaml_nomem(&ps)) {
				ld->nomem = true;
				found = true;
			}
			break;
		}
		if (ev.type == YAML_ALIAS_EVENT ||
		    ((ev.type == YAML_SCALAR_EVENT &&
		    ev.data.scalar.anchor != NULL) ||
		    (ev.type == YAML_MAPPING_START_EVENT &&
		    ev.data.mapping_start.anchor != NULL) ||
		    (ev.type == YAML_SEQUENCE_START_EVENT &&
		    ev.data.sequence_start.anchor != NULL))) {
			lerr_at(ld, (int)ev.start_mark.line + 1,
			    (int)ev.start_mark.column + 1,
			    "YAML anchors and aliases are not supported");
			found = true;
			done = true;
		}
		if (ev.type == YAML_STREAM_END_EVENT)
			done = true;
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps);
	return found;
}

static void
load_buffer(struct ld *ld, const unsigned char *buf, size_t len)
{
	yaml_parser_t ps;
	yaml_node_t *root;

	if (has_aliases(ld, buf, len))
		return;
	if (!yaml_parser_initialize(&ps)) {
		ld->nomem = true;
		return;
	}
	yaml_parser_set_input_string(&ps, buf, len);
	if (!yaml_parser_load(&ps, &ld->doc)) {
		if (yaml_nomem(&ps)) {
			ld->nomem = true;
			yaml_parser_delete(&ps);
			return;
		}
		lerr_at(ld, (int)ps.problem_mark.line + 1,
		    (int)ps.problem_mark.column + 1, "YAML syntax: %s%s%s",
		    ps.problem ? ps.problem : "error",
		    ps.context ? " " : "", ps.context ? ps.context : "");
		yaml_parser_delete(&ps);
		return;
	}
	yaml_parser_delete(&ps);
	root = yaml_document_get_root_node(&ld->doc);
	if (root == NULL)
		lerr_at(ld, 1, 1, "empty file");
	else if (root->type != YAML_MAPPING_NODE)
		lerr(ld, root, "a rule file must be a mapping with 'pack' or "
		    "'catalog'");
	else if (get(ld, root, "pack") != NULL)
		load_rule_pack(ld, root);
	else if (get(ld, root, "catalog") != NULL)
		load_catalog(ld, root);
	else
		lerr(ld, root, "a rule file must have 'pack' (a rule pack) or "
		    "'catalog' (a product catalog)");
	yaml_document_delete(&ld->doc);
}

static int
path_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Expands directories into their *.yaml files; sorted, so the pack hash
 * does not depend on the order paths were given in. */
static int
collect(const char *const *paths, size_t npaths, char ***out, size_t *nout,
    struct tg_errlist *errs)
{
	char **v = NULL;
	size_t n = 0;
	struct tg_error e;
	int rc = 0;

	v = calloc(PACK_FILES_MAX, sizeof(*v));
	if (v == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < npaths && rc == 0; i++) {
		struct stat st;
		DIR *d;
		struct dirent *de;

		if (stat(paths[i], &st) != 0) {
			tg_error_pos(&e, TG_EIO, paths[i], 0, 0, "cannot open "
			    "rules file '%s': %s", paths[i], strerror(errno));
			errlist_add(errs, &e);
			rc = TG_ERULES;
			break;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (n == PACK_FILES_MAX) {
				rc = TG_ETOOBIG;
				break;
			}
			v[n] = strdup(paths[i]);
			if (v[n++] == NULL)
				rc = -ENOMEM;
			continue;
		}
		d = opendir(paths[i]);
		if (d == NULL) {
			tg_error_pos(&e, TG_EIO, paths[i], 0, 0, "cannot open "
			    "rules directory '%s': %s", paths[i],
			    strerror(errno));
			errlist_add(errs, &e);
			rc = TG_ERULES;
			break;
		}
		while ((de = readdir(d)) != NULL) {
			size_t l = strlen(de->d_name);
			char buf[4096];

			if (l < 6 || strcmp(de->d_name + l - 5, ".yaml") != 0 ||
			    de->d_name[0] == '.')
				continue;
			if (n == PACK_FILES_MAX) {
				rc = TG_ETOOBIG;
				break;
			}
			snprintf(buf, sizeof(buf), "%s/%s", paths[i],
			    de->d_name);
			v[n] = strdup(buf);
			if (v[n++] == NULL) {
				rc = -ENOMEM;
				break;
			}
		}
		closedir(d);
	}
	if (rc == TG_ETOOBIG) {
		tg_error_set(&e, TG_ETOOBIG, "too many rule files (at most "
		    "%d)", PACK_FILES_MAX);
		errlist_add(errs, &e);
		rc = TG_ERULES;
	}
	if (rc != 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	qsort(v, n, sizeof(*v), path_cmp);
	*out = v;
	*nout = n;
	return 0;
}

static int
idx_add(struct tg_pack *p, struct ruleidx *x, size_t cap, size_t k)
{
	if (x->v == NULL) {
		x->v = arena_alloc(p->arena, (cap + 1) * sizeof(*x->v));
		if (x->v == NULL)
			return -ENOMEM;
	}
	x->v[x->n++] = (uint16_t)k;
	return 0;
}

static bool
set_has(const struct eccn_set *s, size_t e)
{
	for (size_t i = 0; i < s->n; i++)
		if ((size_t)s->v[i] == e)
			return true;
	return false;
}

int
pack_index(struct tg_pack *p)
{
	if (p->nclasses > UINT16_MAX || p->nreqs > UINT16_MAX ||
	    p->nauthz > UINT16_MAX || p->nflags > UINT16_MAX)
		return TG_ETOOBIG;
	for (size_t kind = 0; kind < 4; kind++) {
		for (size_t k = 0; k < p->nclasses; k++) {
			const struct rule_common *c = &p->classes[k].c;

			if ((c->kinds == 0 || (c->kinds & (1u << kind))) &&
			    idx_add(p, &p->class_by_kind[kind], p->nclasses,
			    k) != 0)
				return -ENOMEM;
		}
		for (size_t k = 0; k < p->nflags; k++) {
			const struct rule_common *c = &p->flags[k].c;

			if (p->flags[k].scope == FS_ITEM &&
			    (c->kinds == 0 || (c->kinds & (1u << kind))) &&
			    idx_add(p, &p->flag_by_kind[kind], p->nflags,
			    k) != 0)
				return -ENOMEM;
		}
	}
	p->req_by_eccn = arena_zalloc(p->arena,
	    (p->neccns + 1) * sizeof(*p->req_by_eccn));
	p->auth_by_eccn = arena_zalloc(p->arena,
	    (p->neccns + 1) * sizeof(*p->auth_by_eccn));
	if (p->req_by_eccn == NULL || p->auth_by_eccn == NULL)
		return -ENOMEM;
	for (size_t e = 0; e < p->neccns; e++) {
		for (size_t k = 0; k < p->nreqs; k++)
			if (set_has(&p->reqs[k].eccns, e) &&
			    idx_add(p, &p->req_by_eccn[e], p->nreqs, k) != 0)
				return -ENOMEM;
		for (size_t k = 0; k < p->nauthz; k++)
			if (set_has(&p->authz[k].eccns, e) &&
			    idx_add(p, &p->auth_by_eccn[e], p->nauthz, k) != 0)
				return -ENOMEM;
	}
	return 0;
}

/* Compiles n YAML buffers into a pack (the core of both loaders). */
static int
load_all(const char *const *names, const char *const *bufs,
    const size_t *lens, const int *read_rc, size_t n, struct tg_pack **out,
    struct tg_errlist *errs)
{
	struct ld ld;
	struct tg_pack *p = NULL;
	EVP_MD_CTX *md = NULL;
	unsigned char dig[32];
	int rc;

	*out = NULL;
	memset(&ld, 0, sizeof(ld));
	p = calloc(1, sizeof(*p));
	md = EVP_MD_CTX_new();
	if (p == NULL || md == NULL ||
	    (p->arena = arena_new(0)) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		rc = -ENOMEM;
		goto out;
	}
	atomic_init(&p->refs, 1);
	ld.p = p;
	ld.a = p->arena;
	ld.errs = errs;
	for (size_t i = 0; i < n; i++) {
		struct tg_error e;

		if (read_rc != NULL && read_rc[i] == -ENOMEM) {
			rc = -ENOMEM;
			goto out;
		}
		if (read_rc != NULL && read_rc[i] != 0) {
			tg_error_pos(&e, TG_EIO, names[i], 0, 0, "cannot read "
			    "rules file '%s': %s", names[i],
			    read_rc[i] == TG_ETOOBIG ? "file too large" :
			    strerror(-read_rc[i]));
			errlist_add(errs, &e);
			ld.nerr++;
			continue;
		}
		if (EVP_DigestUpdate(md, bufs[i], lens[i]) != 1) {
			rc = TG_ECRYPTO;
			goto out;
		}
		ld.file = arena_strdup(p->arena, names[i]);
		if (ld.file == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		load_buffer(&ld, (const unsigned char *)bufs[i], lens[i]);
		if (ld.nomem) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (!ld.have_pack && ld.nerr == 0) {
		struct tg_error e;

		tg_error_set(&e, TG_ERULES, "no rule pack among the rule "
		    "files (a file with 'pack:')");
		errlist_add(errs, &e);
		ld.nerr++;
	}
	if (ld.nerr > 0) {
		rc = TG_ERULES;
		goto out;
	}
	rc = pack_index(p);
	if (rc != 0)
		goto out;
	if (EVP_DigestFinal_ex(md, dig, NULL) != 1) {
		rc = TG_ECRYPTO;
		goto out;
	}
	for (size_t i = 0; i < 32; i++)
		snprintf(p->sha256 + 2 * i, 3, "%02x", dig[i]);
	*out = p;
	p = NULL;
	rc = 0;
out:
	if (p != NULL) {
		arena_free(p->arena);
		free(p);
	}
	/* A failed digest call left its reason on this thread's OpenSSL
	 * error queue (with memory attached); the code returned says it
	 * all, and a later caller must not find it there. */
	if (rc != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(md);
	free(ld.ids);
	return rc;
}

int
pack_load_mem(const char *const *names, const char *const *bufs,
    const size_t *lens, size_t n, struct tg_pack **out,
    struct tg_errlist *errs)
{
	return load_all(names, bufs, lens, NULL, n, out, errs);
}

int
pack_load(const char *const *paths, size_t npaths, struct tg_pack **out,
    struct tg_errlist *errs)
{
	char **files = NULL;
	size_t nfiles = 0;
	struct tg_buf *b = NULL;
	const char **bufs = NULL;
	size_t *lens = NULL;
	int *rcs = NULL, rc;

	*out = NULL;
	rc = collect(paths, npaths, &files, &nfiles, errs);
	if (rc != 0)
		return rc;
	b = calloc(nfiles + 1, sizeof(*b));
	bufs = calloc(nfiles + 1, sizeof(*bufs));
	lens = calloc(nfiles + 1, sizeof(*lens));
	rcs = calloc(nfiles + 1, sizeof(*rcs));
	if (b == NULL || bufs == NULL || lens == NULL || rcs == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfiles; i++) {
		buf_init(&b[i], PACK_FILE_MAX);
		rcs[i] = buf_read_file(&b[i], files[i]);
		bufs[i] = b[i].p != NULL ? b[i].p : "";
		lens[i] = b[i].len;
	}
	rc = load_all((const char *const *)files, bufs, lens, rcs, nfiles,
	    out, errs);
out:
	for (size_t i = 0; i < nfiles; i++) {
		if (b != NULL)
			buf_release(&b[i]);
		free(files[i]);
	}
	free(files);
	free(b);
	free(bufs);
	free(lens);
	free(rcs);
	return rc;
}
