/*
 * pack.c: the compiled pack's lifetime (reference counting) and lookups
 * shared by the compiler and the evaluator: groups by date, parameters by
 * date, country aliases and the product catalog.  Also `rules show`.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

struct tg_pack *
pack_ref(struct tg_pack *p)
{
	if (p != NULL)
		atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	return p;
}

void
pack_unref(struct tg_pack *p)
{
	if (p == NULL)
		return;
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
		return;
	arena_free(p->arena);
	free(p);
}

const char *
pack_name(const struct tg_pack *p)
{
	return p->name;
}

const char *
pack_version(const struct tg_pack *p)
{
	return p->version;
}

const char *
pack_sha256(const struct tg_pack *p)
{
	return p->sha256;
}

const char *
pack_title(const struct tg_pack *p)
{
	return p->title;
}

const char *
pack_status(const struct tg_pack *p)
{
	return p->status;
}

int
pack_group_index(const struct tg_pack *p, const char *name)
{
	for (size_t i = 0; i < p->ngroups; i++)
		if (strcmp(p->groups[i].name, name) == 0)
			return (int)i;
	return -1;
}

int
pack_param_index(const struct tg_pack *p, const char *name)
{
	for (size_t i = 0; i < p->nparams; i++)
		if (strcmp(p->params[i].name, name) == 0)
			return (int)i;
	return -1;
}

bool
group_has(const struct group *g, tg_cc cc, tg_date d)
{
	size_t lo = 0, hi = g->nspans;

	if (cc >= TG_CC_COUNT || !(g->ever[cc / 8] & (1u << (cc % 8))))
		return false;
	/* Spans are sorted by country; find the first for cc. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (g->spans[mid].cc < cc)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < g->nspans && g->spans[lo].cc == cc; lo++)
		if (g->spans[lo].from <= d && d <= g->spans[lo].to)
			return true;
	return false;
}

struct val
param_value(const struct param *pm, tg_date d)
{
	struct val none = { .t = T_NULL };

	for (size_t i = 0; i < pm->nvalues; i++)
		if (pm->values[i].from <= d && d <= pm->values[i].to)
			return pm->values[i].v;
	return none;
}

tg_cc
pack_alias(const struct tg_pack *p, tg_cc cc)
{
	for (size_t i = 0; i < p->naliases; i++)
		if (p->aliases[i].from == cc)
			return p->aliases[i].to;
	return cc;
}

const struct product *
pack_product(const struct tg_pack *p, const char *id)
{
	size_t lo = 0, hi = p->nproducts;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->products[mid].id, id);

		if (c == 0)
			return &p->products[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
pack_in_group(const struct tg_pack *p, const char *group, tg_cc cc,
    tg_date d)
{
	int k = pack_group_index(p, group);

	if (k < 0)
		return -1;
	return group_has(&p->groups[k], cc, d);
}

int
pack_tier(const struct tg_pack *p, tg_cc cc, tg_date d)
{
	struct ectx cx;

	memset(&cx, 0, sizeof(cx));
	cx.pack = p;
	cx.date = d;
	cx.country = TG_CC_NONE;
	return tier_of(&cx, cc);
}

int
pack_param(const struct tg_pack *p, const char *name, tg_date d, double *out)
{
	int k = pack_param_index(p, name);
	struct val v;

	if (k < 0)
		return TG_ENOTFOUND;
	v = param_value(&p->params[k], d);
	if (v.t != T_NUM)
		return TG_EINVAL;
	*out = v.u.n;
	return 0;
}

const char *
pack_param_citation(const struct tg_pack *p, const char *name)
{
	int k = pack_param_index(p, name);

	return k < 0 ? NULL : p->params[k].citation;
}

static void
show_date(FILE *fp, const char *label, tg_date d)
{
	char b[16];

	if (d == TG_DATE_NONE || d == TG_DATE_MAX)
		return;
	date_format(d, b);
	fprintf(fp, " %s %s", label, b);
}

static void
show_rule(FILE *fp, const struct tg_pack *p, const struct rule_common *c,
    const char *extra)
{
	fprintf(fp, "  %s  [%s]%s", c->id, c->citation, extra ? extra : "");
	show_date(fp, "from", c->effective);
	show_date(fp, "until", c->until);
	if (!c->verified)
		fprintf(fp, "  UNVERIFIED");
	fprintf(fp, "\n");
	if (c->when.src != NULL)
		fprintf(fp, "      when: %s\n", c->when.src);
	(void)p;
}

static void
show_eccns(FILE *fp, const struct tg_pack *p, const struct eccn_set *s)
{
	fprintf(fp, "      eccns:");
	for (size_t i = 0; i < s->n; i++)
		fprintf(fp, " %s", p->eccns[s->v[i]]);
	fprintf(fp, "\n");
}

void
pack_show(const struct tg_pack *p, FILE *fp)
{
	static const char *const rv[] = { "-", "presumption_of_approval",
	    "case_by_case", "presumption_of_denial" };
	char b[16];

	fprintf(fp, "pack %s %s (sha256 %s)\n  %s\n  source: %s\n  status: "
	    "%s\n", p->name, p->version, p->sha256, p->title, p->source,
	    p->status);
	if (p->catalog_version != NULL)
		fprintf(fp, "  catalog %s, %zu products\n", p->catalog_version,
		    p->nproducts);
	for (size_t i = 0; i < p->nwarnings; i++) {
		fprintf(fp, "  warning %s", p->warnings[i].id);
		show_date(fp, "from", p->warnings[i].from);
		show_date(fp, "until", p->warnings[i].to);
		fprintf(fp, "\n");
	}
	fprintf(fp, "aliases:\n");
	for (size_t i = 0; i < p->naliases; i++)
		fprintf(fp, "  %s -> %s\n", cc_str(p->aliases[i].from),
		    cc_str(p->aliases[i].to));
	fprintf(fp, "groups:\n");
	for (size_t i = 0; i < p->ngroups; i++) {
		const struct group *g = &p->groups[i];

		fprintf(fp, "  %s (%zu):", g->name, g->nspans);
		for (size_t k = 0; k < g->nspans; k++) {
			fprintf(fp, " %s", cc_str(g->spans[k].cc));
			if (g->spans[k].from != TG_DATE_NONE) {
				date_format(g->spans[k].from, b);
				fprintf(fp, "[from %s]", b);
			}
			if (g->spans[k].to != TG_DATE_MAX) {
				date_format(g->spans[k].to, b);
				fprintf(fp, "[until %s]", b);
			}
		}
		fprintf(fp, "\n");
	}
	fprintf(fp, "tiers:\n");
	for (size_t i = 0; i < p->ntiers; i++)
		fprintf(fp, "  tier %d when %s\n", p->tiers[i].tier,
		    p->tiers[i].when.src ? p->tiers[i].when.src : "(otherwise)");
	fprintf(fp, "parameters:\n");
	for (size_t i = 0; i < p->nparams; i++) {
		const struct param *pm = &p->params[i];

		fprintf(fp, "  %s (%s)%s:", pm->name, unit_name(pm->unit),
		    pm->verified ? "" : " UNVERIFIED");
		for (size_t k = 0; k < pm->nvalues; k++) {
			if (pm->values[k].v.t == T_NUM)
				fprintf(fp, " %.17g", pm->values[k].v.u.n);
			else
				fprintf(fp, " null");
			show_date(fp, "from", pm->values[k].from);
			show_date(fp, "until", pm->values[k].to);
			fprintf(fp, ";");
		}
		fprintf(fp, "\n");
	}
	fprintf(fp, "derived:\n");
	for (size_t i = 0; i < p->nderived; i++)
		fprintf(fp, "  item.%s (%s) = %s\n", p->derived[i].name,
		    unit_name(p->derived[i].unit), p->derived[i].value.src);
	fprintf(fp, "quotas:\n");
	for (size_t i = 0; i < p->nquotas; i++)
		fprintf(fp, "  %s (%s) key %s limit %s\n", p->quotas[i].name,
		    unit_name(p->quotas[i].unit), p->quotas[i].key.src,
		    p->quotas[i].limit.src);
	fprintf(fp, "classification:\n");
	for (size_t i = 0; i < p->nclasses; i++) {
		char ex[96];

		snprintf(ex, sizeof(ex), " -> %s",
		    p->classes[i].eccn ? p->classes[i].eccn : "not controlled");
		show_rule(fp, p, &p->classes[i].c, ex);
	}
	fprintf(fp, "requirements:\n");
	for (size_t i = 0; i < p->nreqs; i++) {
		char ex[96];

		snprintf(ex, sizeof(ex), " -> %s", rv[p->reqs[i].review]);
		show_rule(fp, p, &p->reqs[i].c, ex);
		show_eccns(fp, p, &p->reqs[i].eccns);
		fprintf(fp, "      allows:");
		for (size_t k = 0; k < p->nauths; k++)
			if (p->reqs[i].allows & (1u << k))
				fprintf(fp, " %s", p->auths[k]);
		if (p->reqs[i].allows & (1u << (PACK_AUTH_MAX - 1)))
			fprintf(fp, " LICENSE");
		fprintf(fp, "\n");
	}
	fprintf(fp, "authorizations:\n");
	for (size_t i = 0; i < p->nauthz; i++) {
		char ex[96];

		snprintf(ex, sizeof(ex), " -> %s%s%s",
		    p->auths[p->authz[i].auth],
		    p->authz[i].quota >= 0 ? " quota " : "",
		    p->authz[i].quota >= 0 ?
		    p->quotas[p->authz[i].quota].name : "");
		show_rule(fp, p, &p->authz[i].c, ex);
		show_eccns(fp, p, &p->authz[i].eccns);
	}
	fprintf(fp, "red flags:\n");
	for (size_t i = 0; i < p->nflags; i++)
		show_rule(fp, p, &p->flags[i].c,
		    p->flags[i].scope == FS_ITEM ? " (item)" :
		    " (transaction)");
	fprintf(fp, "products:\n");
	for (size_t i = 0; i < p->nproducts; i++) {
		const struct product *pr = &p->products[i];

		fprintf(fp, "  %-22s tpp %-8g", pr->id, pr->tpp);
		if (!isnan(pr->die))
			fprintf(fp, " die %-6g", pr->die);
		if (!isnan(pr->pd))
			fprintf(fp, " pd %-6g", pr->pd);
		fprintf(fp, "%s%s\n", pr->datacenter ? " datacenter" :
		    " consumer", pr->verified ? "" : " UNVERIFIED");
	}
}
