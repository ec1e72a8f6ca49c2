/*
 * expr.c: the rule language's expressions: lexer, parser, type and unit
 * checker, and evaluator.
 *
 * A condition such as
 *     item.tpp >= 4800 or (item.tpp >= 1600 and item.performance_density >= 5.92)
 * is compiled once, when the pack loads, into a tree whose fact references
 * are slot numbers, so evaluation never looks at a name.  Types and units
 * are checked at compile time: comparing TPP with operations, or a country
 * with a number, is a load error that points at the column.
 *
 * Missing facts are null, and logic is three-valued (Kleene): a rule fires
 * only when its condition is true, and the evaluator can tell "false" from
 * "unknown" where a missing fact must not pass silently.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

/* ---- fact table ------------------------------------------------------- */

struct fact_def {
	const char *name;
	int slot;
	uint8_t type, unit;
	unsigned scope;
};

static const struct fact_def txn_facts[] = {
	{ "date", F_DATE, T_NUM, U_DAYS, SC_TXN },
	{ "dest.country", F_DEST, T_CC, U_NONE, SC_TXN },
	{ "dest.tier", F_DEST_TIER, T_NUM, U_NONE, SC_TXN },
	{ "export_from", F_EXPORT_FROM, T_CC, U_NONE, SC_TXN },
	{ "certifications", F_CERTIFICATIONS, T_BOOL, U_NONE, SC_TXN },
	{ "dry_run", F_DRY_RUN, T_BOOL, U_NONE, SC_TXN },
	{ "parties", F_PARTIES, T_PARTIES, U_NONE, SC_TXN },
	{ "country", F_COUNTRY, T_CC, U_NONE, SC_COUNTRY },
	{ "item.kind", F_I_KIND, T_STR, U_NONE, SC_ITEM },
	{ "item.product", F_I_PRODUCT, T_STR, U_NONE, SC_ITEM },
	{ "item.product_verified", F_I_PRODUCT_VERIFIED, T_BOOL, U_NONE,
	    SC_ITEM },
	{ "item.quantity", F_I_QUANTITY, T_NUM, U_COUNT, SC_ITEM },
	{ "item.tpp", F_I_TPP, T_NUM, U_TPP, SC_ITEM },
	{ "item.die_area_mm2", F_I_DIE, T_NUM, U_MM2, SC_ITEM },
	{ "item.performance_density", F_I_PD_GIVEN, T_NUM, U_PD, SC_ITEM },
	{ "item.datacenter", F_I_DATACENTER, T_BOOL, U_NONE, SC_ITEM },
	{ "item.chips_per_unit", F_I_CHIPS, T_NUM, U_COUNT, SC_ITEM },
	{ "item.memory_bandwidth_gbs", F_I_BANDWIDTH, T_NUM, U_GBS, SC_ITEM },
	{ "item.training_operations", F_I_TRAIN_OPS, T_NUM, U_OPS, SC_ITEM },
	{ "item.published", F_I_PUBLISHED, T_BOOL, U_NONE, SC_ITEM },
	{ "item.has_base_model", F_I_HAS_BASE, T_BOOL, U_NONE, SC_ITEM },
	{ "item.base_model.published", F_I_BASE_PUBLISHED, T_BOOL, U_NONE,
	    SC_ITEM },
	{ "item.base_model.training_operations", F_I_BASE_OPS, T_NUM, U_OPS,
	    SC_ITEM },
	{ "item.additional_operations", F_I_ADDITIONAL_OPS, T_NUM, U_OPS,
	    SC_ITEM },
	{ "item.synthetic_data", F_I_SYNTH, T_SYNTHS, U_NONE, SC_ITEM },
	{ "item.purpose", F_I_PURPOSE, T_STR, U_NONE, SC_ITEM },
	{ "item.location", F_I_LOCATION, T_CC, U_NONE, SC_ITEM },
	{ "item.license", F_I_LICENSE, T_STR, U_NONE, SC_ITEM },
	{ "item.eccn", F_I_ECCN, T_STR, U_NONE, SC_ECCN },
};

/* After "consignee.", "end_user." or (in parties each) "each.". */
static const struct fact_def party_facts[] = {
	{ "country", F_P_COUNTRY, T_CC, U_NONE, SC_TXN },
	{ "headquarters", F_P_HQ, T_CC, U_NONE, SC_TXN },
	{ "ultimate_parent", F_P_PARENT, T_CC, U_NONE, SC_TXN },
	{ "country_tier", F_P_COUNTRY_TIER, T_NUM, U_NONE, SC_TXN },
	{ "headquarters_tier", F_P_HQ_TIER, T_NUM, U_NONE, SC_TXN },
	{ "ultimate_parent_tier", F_P_PARENT_TIER, T_NUM, U_NONE, SC_TXN },
	{ "key", F_P_KEY, T_STR, U_NONE, SC_TXN },
	{ "veu.type", F_P_VEU_TYPE, T_STR, U_NONE, SC_TXN },
	{ "veu.tier1_share", F_P_VEU_TIER1, T_NUM, U_SHARE, SC_TXN },
	{ "veu.us_share", F_P_VEU_US, T_NUM, U_SHARE, SC_TXN },
	{ "veu.destination_share", F_P_VEU_DEST, T_NUM, U_SHARE, SC_TXN },
	{ "veu.country", F_P_VEU_COUNTRY, T_CC, U_NONE, SC_TXN },
	{ "veu.installed_tpp", F_P_VEU_INSTALLED, T_NUM, U_TPP, SC_TXN },
};

/* After "each." in a synthetic_data each. */
static const struct fact_def synth_facts[] = {
	{ "share", F_S_SHARE, T_NUM, U_SHARE, SC_ITEM },
	{ "generator_training_operations", F_S_GEN_TRAIN_OPS, T_NUM, U_OPS,
	    SC_ITEM },
	{ "generation_operations", F_S_GEN_OPS, T_NUM, U_OPS, SC_ITEM },
	{ "generator_published", F_S_GEN_PUBLISHED, T_BOOL, U_NONE, SC_ITEM },
};

static const char *const unit_names[] = {
	[U_NONE] = "none", [U_TPP] = "tpp", [U_MM2] = "mm2",
	[U_PD] = "tpp_per_mm2", [U_OPS] = "operations", [U_SHARE] = "share",
	[U_COUNT] = "count", [U_GBS] = "gb_per_s", [U_DAYS] = "days",
	[U_MIXED] = "mixed",
};

const char *
unit_name(int unit)
{
	if (unit < 0 || unit > U_MIXED)
		return "?";
	return unit_names[unit];
}

int
unit_parse(const char *s)
{
	for (int u = U_NONE; u < U_MIXED; u++)
		if (strcmp(s, unit_names[u]) == 0)
			return u;
	return -1;
}

static const char *
type_name(int t)
{
	switch (t) {
	case T_NULL: return "null";
	case T_BOOL: return "boolean";
	case T_NUM: return "number";
	case T_STR: return "string";
	case T_CC: return "country";
	case T_PARTIES: return "list of parties";
	case T_SYNTHS: return "list of generators";
	default: return "?";
	}
}

static const struct fact_def *
find_fact(const struct fact_def *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

int
fact_lookup(const struct tg_pack *p, const char *path, int *slot, int *party,
    int *type, int *unit, unsigned *scope)
{
	const struct fact_def *f;
	const char *rest = NULL;

	*party = PS_NONE;
	if (strncmp(path, "consignee.", 10) == 0) {
		*party = PS_CONSIGNEE;
		rest = path + 10;
	} else if (strncmp(path, "end_user.", 9) == 0) {
		*party = PS_END_USER;
		rest = path + 9;
	}
	if (rest != NULL) {
		f = find_fact(party_facts, NELEM(party_facts), rest);
		if (f == NULL)
			return -1;
	} else {
		f = find_fact(txn_facts, NELEM(txn_facts), path);
	}
	if (f != NULL) {
		*slot = f->slot;
		*type = f->type;
		*unit = f->unit;
		*scope = f->scope;
		return 0;
	}
	if (p != NULL && strncmp(path, "item.", 5) == 0) {
		for (size_t i = 0; i < p->nderived; i++) {
			if (strcmp(p->derived[i].name, path + 5) == 0) {
				*slot = F_DERIVED_BASE + (int)i;
				*type = p->derived[i].type;
				*unit = p->derived[i].unit;
				*scope = SC_ITEM;
				return 0;
			}
		}
	}
	return -1;
}

/* ---- lexer ------------------------------------------------------------ */

enum tok {
	K_EOF, K_NUM, K_STR, K_IDENT, K_LP, K_RP, K_LB, K_RB, K_COMMA,
	K_EQ, K_NE, K_LT, K_LE, K_GT, K_GE, K_PLUS, K_MINUS, K_STAR, K_SLASH,
	K_AND, K_OR, K_NOT, K_IN, K_TRUE, K_FALSE, K_NULL, K_ERR,
};

/* Deep enough for any real rule, shallow enough that the recursive
 * parser and evaluator cannot exhaust the stack.  Chains such as
 * "a and b and c" build left-deep trees, so the text length is capped too:
 * a tree can never be deeper than its text is long. */
#define EXPR_DEPTH_MAX 48
#define EXPR_TEXT_MAX 4096

struct parser {
	const struct cenv *env;
	const char *src;
	size_t pos;		/* of the next character */
	enum tok tok;
	size_t tstart, tlen;	/* current token */
	double num;
	bool is_date;
	int each;		/* T_PARTIES / T_SYNTHS inside an each */
	int depth;		/* nesting, bounded so evaluation is too */
	const char *file;
	int line, col;
	struct tg_error *err;
	bool failed;
};

static int
perr(struct parser *ps, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
perr(struct parser *ps, size_t at, const char *fmt, ...)
{
	va_list ap;
	char msg[TG_ERR_MSG_MAX];

	if (ps->failed)
		return TG_ERULES;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tg_error_pos(ps->err, TG_ERULES, ps->file, ps->line,
	    ps->col + (int)at, "%s in '%s'", msg, ps->src);
	return TG_ERULES;
}

static bool
is_ident_char(int c)
{
	return isalnum(c) || c == '_' || c == '.';
}

static void
lex(struct parser *ps)
{
	const char *s = ps->src;
	size_t i = ps->pos;

	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
		i++;
	ps->tstart = i;
	ps->is_date = false;
	if (s[i] == '\0') {
		ps->tok = K_EOF;
		ps->tlen = 0;
		ps->pos = i;
		return;
	}
	if (isdigit((unsigned char)s[i]) ||
	    (s[i] == '.' && isdigit((unsigned char)s[i + 1]))) {
		size_t j = i;
		tg_date d;

		/* A date literal YYYY-MM-DD counts as a number of days. */
		if (strlen(s + i) >= 10 && date_parse(s + i, 10, &d) == 0 &&
		    !is_ident_char((unsigned char)s[i + 10])) {
			ps->tok = K_NUM;
			ps->num = d;
			ps->is_date = true;
			ps->tlen = 10;
			ps->pos = i + 10;
			return;
		}
		while (isalnum((unsigned char)s[j]) || s[j] == '.' ||
		    ((s[j] == '+' || s[j] == '-') &&
		    (s[j - 1] == 'e' || s[j - 1] == 'E')))
			j++;
		ps->tlen = j - i;
		ps->pos = j;
		{
			char buf[64];

			if (ps->tlen >= sizeof(buf)) {
				ps->tok = K_ERR;
				return;
			}
			memcpy(buf, s + i, ps->tlen);
			buf[ps->tlen] = '\0';
			ps->tok = parse_double(buf, &ps->num) == 0 ? K_NUM :
			    K_ERR;
		}
		return;
	}
	if (s[i] == '"' || s[i] == '\'') {
		char q = s[i];
		size_t j = i + 1;

		while (s[j] != '\0' && s[j] != q)
			j++;
		if (s[j] != q) {
			ps->tok = K_ERR;
			ps->tlen = j - i;
			ps->pos = j;
			return;
		}
		ps->tok = K_STR;
		ps->tlen = j + 1 - i;
		ps->pos = j + 1;
		return;
	}
	if (isalpha((unsigned char)s[i]) || s[i] == '_') {
		size_t j = i;
		static const struct {
			const char *w;
			enum tok t;
		} kw[] = {
			{ "and", K_AND }, { "or", K_OR }, { "not", K_NOT },
			{ "in", K_IN }, { "true", K_TRUE }, { "false", K_FALSE },
			{ "null", K_NULL },
		};

		while (is_ident_char((unsigned char)s[j]))
			j++;
		ps->tlen = j - i;
		ps->pos = j;
		ps->tok = K_IDENT;
		for (size_t k = 0; k < NELEM(kw); k++)
			if (strlen(kw[k].w) == ps->tlen &&
			    memcmp(kw[k].w, s + i, ps->tlen) == 0)
				ps->tok = kw[k].t;
		return;
	}
	ps->tlen = 1;
	ps->pos = i + 1;
	switch (s[i]) {
	case '(': ps->tok = K_LP; return;
	case ')': ps->tok = K_RP; return;
	case '[': ps->tok = K_LB; return;
	case ']': ps->tok = K_RB; return;
	case ',': ps->tok = K_COMMA; return;
	case '+': ps->tok = K_PLUS; return;
	case '-': ps->tok = K_MINUS; return;
	case '*': ps->tok = K_STAR; return;
	case '/': ps->tok = K_SLASH; return;
	case '<':
	case '>':
	case '=':
	case '!':
		if (s[i + 1] == '=') {
			ps->tlen = 2;
			ps->pos = i + 2;
			ps->tok = s[i] == '<' ? K_LE : s[i] == '>' ? K_GE :
			    s[i] == '=' ? K_EQ : K_NE;
			return;
		}
		if (s[i] == '<' || s[i] == '>') {
			ps->tok = s[i] == '<' ? K_LT : K_GT;
			return;
		}
		break;
	default:
		break;
	}
	ps->tok = K_ERR;
}

/* ---- parser and checker ------------------------------------------------ */

static struct node *
mknode(struct parser *ps, int op, int type, int unit, size_t nkids)
{
	struct node *n;

	n = arena_zalloc(ps->env->arena, sizeof(*n));
	if (n == NULL)
		return NULL;
	n->op = (uint8_t)op;
	n->type = (uint8_t)type;
	n->unit = (uint8_t)unit;
	n->nkids = nkids;
	if (nkids > 0) {
		n->kids = arena_zalloc(ps->env->arena,
		    nkids * sizeof(*n->kids));
		if (n->kids == NULL)
			return NULL;
	}
	return n;
}

static struct node *parse_or(struct parser *ps);

static bool
units_ok(int a, int b)
{
	return a == b || a == U_NONE || b == U_NONE || a == U_MIXED ||
	    b == U_MIXED;
}

static int
unit_join(int a, int b)
{
	return a == U_NONE ? b : a;
}

/* Compares a string literal with a country: the literal must be a code. */
static int
coerce_cc(struct parser *ps, struct node *n, size_t at)
{
	tg_cc cc;

	if (n->op != OP_LIT || n->type != T_STR)
		return perr(ps, at, "a country can only be compared with a "
		    "country or a two-letter code");
	if (cc_parse(n->lit.u.s, strlen(n->lit.u.s), &cc) != 0)
		return perr(ps, at, "'%s' is not an ISO 3166-1 country code",
		    n->lit.u.s);
	n->type = T_CC;
	n->lit.t = T_CC;
	n->lit.u.cc = cc;
	return 0;
}

static struct node *
parse_path(struct parser *ps, size_t at, const char *name)
{
	int slot, party, type, unit;
	unsigned scope;
	struct node *n;

	if (strncmp(name, "param.", 6) == 0) {
		int k = pack_param_index(ps->env->pack, name + 6);

		if (k < 0) {
			perr(ps, at, "unknown parameter '%s'", name + 6);
			return NULL;
		}
		n = mknode(ps, OP_PARAM, T_NUM,
		    ps->env->pack->params[k].unit, 0);
		if (n != NULL)
			n->fact = k;
		return n;
	}
	if (strncmp(name, "each.", 5) == 0) {
		const struct fact_def *f = NULL;

		if (ps->each == T_PARTIES)
			f = find_fact(party_facts, NELEM(party_facts),
			    name + 5);
		else if (ps->each == T_SYNTHS)
			f = find_fact(synth_facts, NELEM(synth_facts),
			    name + 5);
		else {
			perr(ps, at, "'each' is only defined inside sum_each, "
			    "max_each, any_each or all_each");
			return NULL;
		}
		if (f == NULL) {
			perr(ps, at, "unknown fact '%s'", name);
			return NULL;
		}
		n = mknode(ps, OP_FACT, f->type, f->unit, 0);
		if (n != NULL) {
			n->fact = f->slot;
			n->party = ps->each == T_PARTIES ? PS_EACH : PS_NONE;
		}
		return n;
	}
	if (fact_lookup(ps->env->pack, name, &slot, &party, &type, &unit,
	    &scope) != 0) {
		perr(ps, at, "unknown fact '%s'", name);
		return NULL;
	}
	if ((scope & ps->env->scope) == 0) {
		perr(ps, at, "fact '%s' cannot be used here", name);
		return NULL;
	}
	n = mknode(ps, OP_FACT, type, unit, 0);
	if (n != NULL) {
		n->fact = slot;
		n->party = (uint8_t)party;
	}
	return n;
}

static const struct {
	const char *name;
	int op;
	int minargs, maxargs;
} funcs[] = {
	{ "if", OP_IF, 3, 3 },
	{ "coalesce", OP_COALESCE, 2, 8 },
	{ "max", OP_MAX, 2, 8 },
	{ "min", OP_MIN, 2, 8 },
	{ "in_group", OP_IN_GROUP, 2, 2 },
	{ "tier", OP_TIER, 1, 1 },
	{ "is_null", OP_IS_NULL, 1, 1 },
	{ "sum_each", OP_SUM_EACH, 2, 2 },
	{ "max_each", OP_MAX_EACH, 2, 2 },
	{ "any_each", OP_ANY_EACH, 2, 2 },
	{ "all_each", OP_ALL_EACH, 2, 2 },
};

static struct node *
parse_call(struct parser *ps, size_t at, const char *name)
{
	struct node *args[8], *n;
	size_t nargs = 0, argat[8];
	int fi = -1, saved_each = ps->each;
	bool each_fn;

	for (size_t i = 0; i < NELEM(funcs); i++)
		if (strcmp(funcs[i].name, name) == 0)
			fi = (int)i;
	if (fi < 0) {
		perr(ps, at, "unknown function '%s'", name);
		return NULL;
	}
	each_fn = funcs[fi].op >= OP_SUM_EACH;
	lex(ps);		/* past '(' */
	if (ps->tok != K_RP) {
		for (;;) {
			if (nargs == NELEM(args)) {
				perr(ps, ps->tstart, "too many arguments");
				return NULL;
			}
			argat[nargs] = ps->tstart;
			args[nargs] = parse_or(ps);
			if (args[nargs] == NULL)
				return NULL;
			/* The list of an each binds 'each' in the body. */
			if (each_fn && nargs == 0) {
				if (args[0]->type != T_PARTIES &&
				    args[0]->type != T_SYNTHS) {
					perr(ps, argat[0], "%s needs a list "
					    "(parties or item.synthetic_data)",
					    name);
					return NULL;
				}
				if (ps->each != 0) {
					perr(ps, argat[0], "each functions "
					    "cannot be nested");
					return NULL;
				}
				ps->each = args[0]->type;
			}
			nargs++;
			if (ps->tok != K_COMMA)
				break;
			lex(ps);
		}
	}
	ps->each = saved_each;
	if (ps->tok != K_RP) {
		perr(ps, ps->tstart, "expected ')'");
		return NULL;
	}
	lex(ps);
	if ((int)nargs < funcs[fi].minargs || (int)nargs > funcs[fi].maxargs) {
		perr(ps, at, "%s takes %d to %d arguments, not %zu", name,
		    funcs[fi].minargs, funcs[fi].maxargs, nargs);
		return NULL;
	}
	n = mknode(ps, funcs[fi].op, T_NULL, U_NONE, nargs);
	if (n == NULL)
		return NULL;
	memcpy(n->kids, args, nargs * sizeof(*args));

	switch (n->op) {
	case OP_IF:
		if (args[0]->type != T_BOOL) {
			perr(ps, argat[0], "if needs a condition");
			return NULL;
		}
		if (args[1]->type != args[2]->type &&
		    args[1]->type != T_NULL && args[2]->type != T_NULL) {
			perr(ps, argat[2], "if branches differ in type (%s, "
			    "%s)", type_name(args[1]->type),
			    type_name(args[2]->type));
			return NULL;
		}
		if (!units_ok(args[1]->unit, args[2]->unit)) {
			perr(ps, argat[2], "if branches differ in unit (%s, "
			    "%s)", unit_name(args[1]->unit),
			    unit_name(args[2]->unit));
			return NULL;
		}
		n->type = args[1]->type != T_NULL ? args[1]->type :
		    args[2]->type;
		n->unit = (uint8_t)unit_join(args[1]->unit, args[2]->unit);
		break;
	case OP_COALESCE:
	case OP_MAX:
	case OP_MIN:
		n->type = args[0]->type;
		n->unit = args[0]->unit;
		for (size_t i = 0; i < nargs; i++) {
			if ((n->op != OP_COALESCE || args[i]->type != T_NULL) &&
			    args[i]->type != n->type) {
				perr(ps, argat[i], "%s arguments differ in "
				    "type", name);
				return NULL;
			}
			if (n->op != OP_COALESCE && n->type != T_NUM) {
				perr(ps, argat[i], "%s needs numbers", name);
				return NULL;
			}
			if (!units_ok(n->unit, args[i]->unit)) {
				perr(ps, argat[i], "%s arguments differ in "
				    "unit (%s, %s)", name, unit_name(n->unit),
				    unit_name(args[i]->unit));
				return NULL;
			}
			n->unit = (uint8_t)unit_join(n->unit, args[i]->unit);
		}
		break;
	case OP_IN_GROUP:
		if (args[0]->type == T_STR && coerce_cc(ps, args[0], argat[0]))
			return NULL;
		if (args[0]->type != T_CC) {
			perr(ps, argat[0], "in_group needs a country");
			return NULL;
		}
		if (args[1]->op != OP_LIT || args[1]->type != T_STR) {
			perr(ps, argat[1], "in_group needs a group name in "
			    "quotes");
			return NULL;
		}
		n->fact = pack_group_index(ps->env->pack, args[1]->lit.u.s);
		if (n->fact < 0) {
			perr(ps, argat[1], "unknown country group '%s'",
			    args[1]->lit.u.s);
			return NULL;
		}
		n->type = T_BOOL;
		break;
	case OP_TIER:
		if (args[0]->type == T_STR && coerce_cc(ps, args[0], argat[0]))
			return NULL;
		if (args[0]->type != T_CC) {
			perr(ps, argat[0], "tier needs a country");
			return NULL;
		}
		if (ps->env->scope == SC_COUNTRY) {
			perr(ps, at, "tier() cannot be used in a tier "
			    "definition");
			return NULL;
		}
		n->type = T_NUM;
		break;
	case OP_IS_NULL:
		n->type = T_BOOL;
		break;
	case OP_SUM_EACH:
	case OP_MAX_EACH:
		if (args[1]->type != T_NUM) {
			perr(ps, argat[1], "%s needs a number for each "
			    "element", name);
			return NULL;
		}
		n->type = T_NUM;
		n->unit = args[1]->unit;
		break;
	case OP_ANY_EACH:
	case OP_ALL_EACH:
		if (args[1]->type != T_BOOL) {
			perr(ps, argat[1], "%s needs a condition", name);
			return NULL;
		}
		n->type = T_BOOL;
		break;
	default:
		break;
	}
	return n;
}

static struct node *
parse_primary(struct parser *ps)
{
	size_t at = ps->tstart;
	struct node *n;

	switch (ps->tok) {
	case K_NUM:
		n = mknode(ps, OP_LIT, T_NUM, ps->is_date ? U_DAYS : U_NONE, 0);
		if (n == NULL)
			return NULL;
		n->lit.t = T_NUM;
		n->lit.u.n = ps->num;
		lex(ps);
		return n;
	case K_STR:
		n = mknode(ps, OP_LIT, T_STR, U_NONE, 0);
		if (n == NULL)
			return NULL;
		n->lit.t = T_STR;
		n->lit.u.s = arena_strndup(ps->env->arena,
		    ps->src + ps->tstart + 1, ps->tlen - 2);
		if (n->lit.u.s == NULL)
			return NULL;	/* no memory: ps->failed unset */
		lex(ps);
		return n;
	case K_TRUE:
	case K_FALSE:
		n = mknode(ps, OP_LIT, T_BOOL, U_NONE, 0);
		if (n == NULL)
			return NULL;
		n->lit.t = T_BOOL;
		n->lit.u.b = ps->tok == K_TRUE;
		lex(ps);
		return n;
	case K_NULL:
		n = mknode(ps, OP_LIT, T_NULL, U_NONE, 0);
		if (n == NULL)
			return NULL;
		n->lit.t = T_NULL;
		lex(ps);
		return n;
	case K_LP:
		lex(ps);
		n = parse_or(ps);
		if (n == NULL)
			return NULL;
		if (ps->tok != K_RP) {
			perr(ps, ps->tstart, "expected ')'");
			return NULL;
		}
		lex(ps);
		return n;
	case K_IDENT: {
		char name[128];

		if (ps->tlen >= sizeof(name)) {
			perr(ps, at, "name too long");
			return NULL;
		}
		memcpy(name, ps->src + ps->tstart, ps->tlen);
		name[ps->tlen] = '\0';
		lex(ps);
		if (ps->tok == K_LP)
			return parse_call(ps, at, name);
		return parse_path(ps, at, name);
	}
	case K_EOF:
		perr(ps, at, "unexpected end of expression");
		return NULL;
	default:
		perr(ps, at, "unexpected '%.*s'", (int)ps->tlen,
		    ps->src + ps->tstart);
		return NULL;
	}
}

static struct node *
parse_unary(struct parser *ps)
{
	size_t at = ps->tstart;
	struct node *n, *k;

	if (ps->tok != K_MINUS)
		return parse_primary(ps);
	if (++ps->depth > EXPR_DEPTH_MAX) {
		perr(ps, at, "expression nested too deeply");
		return NULL;
	}
	lex(ps);
	k = parse_unary(ps);
	ps->depth--;
	if (k == NULL)
		return NULL;
	if (k->type != T_NUM) {
		perr(ps, at, "'-' needs a number");
		return NULL;
	}
	n = mknode(ps, OP_NEG, T_NUM, k->unit, 1);
	if (n != NULL)
		n->kids[0] = k;
	return n;
}

static int
arith_unit(int op, int a, int b)
{
	if (op == OP_ADD || op == OP_SUB)
		return unit_join(a, b);
	/* Counts and shares scale a quantity without changing its unit:
	 * TPP x quantity is TPP, 25% of operations is operations. */
	if (op == OP_MUL && (a == U_COUNT || a == U_SHARE))
		a = U_NONE;
	if (b == U_COUNT || b == U_SHARE)
		b = U_NONE;
	if (a == U_NONE)
		return op == OP_MUL ? b : (b == U_NONE ? U_NONE : U_MIXED);
	if (b == U_NONE)
		return a;
	if (op == OP_DIV && a == U_TPP && b == U_MM2)
		return U_PD;
	if (op == OP_DIV && a == b)
		return U_NONE;
	return U_MIXED;
}

static struct node *
parse_binary_arith(struct parser *ps, int level)
{
	struct node *l, *r, *n;

	l = level == 0 ? parse_unary(ps) : parse_binary_arith(ps, level - 1);
	while (l != NULL && ((level == 0 &&
	    (ps->tok == K_STAR || ps->tok == K_SLASH)) ||
	    (level == 1 && (ps->tok == K_PLUS || ps->tok == K_MINUS)))) {
		int op = ps->tok == K_STAR ? OP_MUL : ps->tok == K_SLASH ?
		    OP_DIV : ps->tok == K_PLUS ? OP_ADD : OP_SUB;
		size_t at = ps->tstart;

		lex(ps);
		r = level == 0 ? parse_unary(ps) :
		    parse_binary_arith(ps, level - 1);
		if (r == NULL)
			return NULL;
		if (l->type != T_NUM || r->type != T_NUM) {
			perr(ps, at, "arithmetic needs numbers, not %s and %s",
			    type_name(l->type), type_name(r->type));
			return NULL;
		}
		if ((op == OP_ADD || op == OP_SUB) &&
		    !units_ok(l->unit, r->unit)) {
			perr(ps, at, "cannot add or subtract %s and %s",
			    unit_name(l->unit), unit_name(r->unit));
			return NULL;
		}
		n = mknode(ps, op, T_NUM, arith_unit(op, l->unit, r->unit), 2);
		if (n == NULL)
			return NULL;
		n->kids[0] = l;
		n->kids[1] = r;
		l = n;
	}
	return l;
}

static struct node *
parse_in(struct parser *ps, struct node *l, size_t at)
{
	struct node *items[64], *n;
	size_t nitems = 0;

	if (l->type != T_STR && l->type != T_CC) {
		perr(ps, at, "'in' needs a string or a country on the left");
		return NULL;
	}
	lex(ps);
	if (ps->tok != K_LB) {
		perr(ps, ps->tstart, "expected '[' after 'in'");
		return NULL;
	}
	lex(ps);
	while (ps->tok != K_RB) {
		size_t iat = ps->tstart;

		if (ps->tok != K_STR) {
			perr(ps, iat, "a list after 'in' holds quoted strings");
			return NULL;
		}
		if (nitems == NELEM(items)) {
			perr(ps, iat, "list too long (at most %zu)",
			    NELEM(items));
			return NULL;
		}
		items[nitems] = parse_primary(ps);
		if (items[nitems] == NULL)
			return NULL;
		if (l->type == T_CC && coerce_cc(ps, items[nitems], iat))
			return NULL;
		nitems++;
		if (ps->tok == K_COMMA)
			lex(ps);
		else if (ps->tok != K_RB) {
			perr(ps, ps->tstart, "expected ',' or ']'");
			return NULL;
		}
	}
	lex(ps);
	n = mknode(ps, OP_IN, T_BOOL, U_NONE, nitems + 1);
	if (n == NULL)
		return NULL;
	n->kids[0] = l;
	memcpy(n->kids + 1, items, nitems * sizeof(*items));
	return n;
}

static struct node *
parse_cmp(struct parser *ps)
{
	struct node *l, *r, *n;
	size_t at = ps->tstart;
	int op;

	l = parse_binary_arith(ps, 1);
	if (l == NULL)
		return NULL;
	if (ps->tok == K_IN)
		return parse_in(ps, l, at);
	switch (ps->tok) {
	case K_EQ: op = OP_EQ; break;
	case K_NE: op = OP_NE; break;
	case K_LT: op = OP_LT; break;
	case K_LE: op = OP_LE; break;
	case K_GT: op = OP_GT; break;
	case K_GE: op = OP_GE; break;
	default: return l;
	}
	at = ps->tstart;
	lex(ps);
	r = parse_binary_arith(ps, 1);
	if (r == NULL)
		return NULL;
	if (l->type == T_NULL || r->type == T_NULL) {
		perr(ps, at, "compare with null through is_null()");
		return NULL;
	}
	if (l->type == T_CC && r->type == T_STR && coerce_cc(ps, r, at))
		return NULL;
	if (r->type == T_CC && l->type == T_STR && coerce_cc(ps, l, at))
		return NULL;
	if (l->type != r->type) {
		perr(ps, at, "cannot compare %s with %s", type_name(l->type),
		    type_name(r->type));
		return NULL;
	}
	if (op != OP_EQ && op != OP_NE && l->type != T_NUM) {
		perr(ps, at, "ordering needs numbers, not %s",
		    type_name(l->type));
		return NULL;
	}
	if (l->type == T_PARTIES || l->type == T_SYNTHS) {
		perr(ps, at, "lists cannot be compared");
		return NULL;
	}
	if (!units_ok(l->unit, r->unit)) {
		perr(ps, at, "cannot compare %s with %s", unit_name(l->unit),
		    unit_name(r->unit));
		return NULL;
	}
	n = mknode(ps, op, T_BOOL, U_NONE, 2);
	if (n == NULL)
		return NULL;
	n->kids[0] = l;
	n->kids[1] = r;
	return n;
}

static struct node *
parse_not(struct parser *ps)
{
	size_t at = ps->tstart;
	struct node *k, *n;

	if (ps->tok != K_NOT)
		return parse_cmp(ps);
	if (++ps->depth > EXPR_DEPTH_MAX) {
		perr(ps, at, "expression nested too deeply");
		return NULL;
	}
	lex(ps);
	k = parse_not(ps);
	ps->depth--;
	if (k == NULL)
		return NULL;
	if (k->type != T_BOOL) {
		perr(ps, at, "'not' needs a condition, not a %s",
		    type_name(k->type));
		return NULL;
	}
	n = mknode(ps, OP_NOT, T_BOOL, U_NONE, 1);
	if (n != NULL)
		n->kids[0] = k;
	return n;
}

/* "a and b and c" becomes one node with three kids rather than a chain:
 * evaluation walks the list and stops at the first deciding kid. */
static struct node *
join_logic(struct parser *ps, int op, struct node *l, struct node *r)
{
	struct node *n;
	size_t nl = l->op == op ? l->nkids : 1;
	size_t nr = r->op == op ? r->nkids : 1;

	n = mknode(ps, op, T_BOOL, U_NONE, nl + nr);
	if (n == NULL)
		return NULL;
	if (l->op == op)
		memcpy(n->kids, l->kids, nl * sizeof(*n->kids));
	else
		n->kids[0] = l;
	if (r->op == op)
		memcpy(n->kids + nl, r->kids, nr * sizeof(*n->kids));
	else
		n->kids[nl] = r;
	return n;
}

static struct node *
parse_logic(struct parser *ps, enum tok t)
{
	struct node *l, *r, *n;

	l = t == K_AND ? parse_not(ps) : parse_logic(ps, K_AND);
	while (l != NULL && ps->tok == t) {
		size_t at = ps->tstart;

		lex(ps);
		r = t == K_AND ? parse_not(ps) : parse_logic(ps, K_AND);
		if (r == NULL)
			return NULL;
		if (l->type != T_BOOL || r->type != T_BOOL) {
			perr(ps, at, "'%s' needs conditions on both sides",
			    t == K_AND ? "and" : "or");
			return NULL;
		}
		n = join_logic(ps, t == K_AND ? OP_AND : OP_OR, l, r);
		if (n == NULL)
			return NULL;
		l = n;
	}
	return l;
}

static struct node *
parse_or(struct parser *ps)
{
	struct node *n;

	if (ps->depth >= EXPR_DEPTH_MAX) {
		perr(ps, ps->tstart, "expression nested too deeply (at most "
		    "%d levels)", EXPR_DEPTH_MAX);
		return NULL;
	}
	if (ps->tok == K_ERR) {
		perr(ps, ps->tstart, "bad token '%.*s'", (int)ps->tlen,
		    ps->src + ps->tstart);
		return NULL;
	}
	ps->depth++;
	n = parse_logic(ps, K_OR);
	ps->depth--;
	return n;
}

int
expr_compile(const struct cenv *env, const char *src, const char *file,
    int line, int col, int want, struct expr *e, struct tg_error *err)
{
	struct parser ps = { .env = env, .src = src, .file = file,
	    .line = line, .col = col, .err = err };
	struct node *n;

	memset(e, 0, sizeof(*e));
	e->src = src;
	e->file = file;
	e->line = line;
	e->col = col;
	if (strlen(src) > EXPR_TEXT_MAX)
		return tg_error_pos(err, TG_ERULES, file, line, col,
		    "expression longer than %d characters", EXPR_TEXT_MAX);
	lex(&ps);
	n = parse_or(&ps);
	if (n == NULL) {
		if (!ps.failed)
			return tg_error_pos(err, -ENOMEM, file, line, col,
			    "out of memory");
		return TG_ERULES;
	}
	if (ps.tok != K_EOF)
		return perr(&ps, ps.tstart, "unexpected '%.*s' after the "
		    "expression", (int)ps.tlen, src + ps.tstart);
	if (want != T_NULL && n->type != want &&
	    !(want == T_CC && n->type == T_STR && n->op == OP_LIT))
		return perr(&ps, 0, "expected a %s, not a %s",
		    type_name(want), type_name(n->type));
	if (want == T_CC && n->type == T_STR && coerce_cc(&ps, n, 0))
		return TG_ERULES;
	e->root = n;
	return 0;
}

/* ---- evaluator ---------------------------------------------------------- */

static const struct val VNULL = { .t = T_NULL };

static struct val
vnum(double d)
{
	struct val v;

	if (isnan(d))
		return VNULL;
	v.t = T_NUM;
	v.u.n = d;
	return v;
}

static struct val
vbool(int b)
{
	struct val v;

	if (b < 0)
		return VNULL;
	v.t = T_BOOL;
	v.u.b = b != 0;
	return v;
}

static struct val
vcc(tg_cc cc)
{
	struct val v;

	if (cc == TG_CC_NONE)
		return VNULL;
	v.t = T_CC;
	v.u.cc = cc;
	return v;
}

static struct val
vstr(const char *s)
{
	struct val v;

	if (s == NULL)
		return VNULL;
	v.t = T_STR;
	v.u.s = s;
	return v;
}

static const char *
veu_type_name(enum tg_veu_type t)
{
	switch (t) {
	case TG_VEU_UNIVERSAL: return "universal";
	case TG_VEU_NATIONAL: return "national";
	default: return "none";
	}
}

static const char *
purpose_name(enum tg_purpose p)
{
	switch (p) {
	case TG_PURPOSE_TRAINING: return "training";
	case TG_PURPOSE_INFERENCE: return "inference";
	default: return NULL;
	}
}

static struct val
vtier(struct ectx *cx, tg_cc cc)
{
	int t = tier_of(cx, cc);

	return t < 0 ? VNULL : vnum(t);
}

static struct val
vtier8(int8_t t)
{
	return t < 0 ? VNULL : vnum(t);
}

static struct val
party_fact(struct ectx *cx, int pi, int slot)
{
	const struct tg_party *p = cx->parties[pi];
	bool national = p->veu.type == TG_VEU_NATIONAL;
	bool universal = p->veu.type == TG_VEU_UNIVERSAL;

	switch (slot) {
	case F_P_COUNTRY: return vcc(cx->pcc[pi][0]);
	case F_P_HQ: return vcc(cx->pcc[pi][1]);
	case F_P_PARENT: return vcc(cx->pcc[pi][2]);
	case F_P_COUNTRY_TIER: return vtier8(cx->ptier[pi][0]);
	case F_P_HQ_TIER: return vtier8(cx->ptier[pi][1]);
	case F_P_PARENT_TIER: return vtier8(cx->ptier[pi][2]);
	case F_P_KEY:
		return vstr(pi == 1 && cx->q->end_user_given ? cx->keys[1] :
		    cx->keys[0]);
	case F_P_VEU_TYPE: return vstr(veu_type_name(p->veu.type));
	case F_P_VEU_TIER1:
		return universal ? vnum(p->veu.tier1_share) : VNULL;
	case F_P_VEU_US: return universal ? vnum(p->veu.us_share) : VNULL;
	case F_P_VEU_DEST:
		return universal ? vnum(p->veu.destination_share) : VNULL;
	case F_P_VEU_COUNTRY:
		return national ? vcc(pack_alias(cx->pack, p->veu.country)) :
		    VNULL;
	case F_P_VEU_INSTALLED:
		return national ? vnum(p->veu.installed_tpp) : VNULL;
	default: return VNULL;
	}
}

static struct val __attribute__((noinline))
fact_get(struct ectx *cx, const struct node *n)
{
	const struct tg_item *it = cx->item;
	const struct item_state *is = cx->is;
	const struct tg_synth *s = cx->each_synth;

	if (n->party != PS_NONE) {
		int pi = n->party == PS_CONSIGNEE ? 0 :
		    n->party == PS_END_USER ? 1 : cx->each_idx;

		return pi < 0 ? VNULL : party_fact(cx, pi, n->fact);
	}
	if (n->fact >= F_DERIVED_BASE) {
		int k = n->fact - F_DERIVED_BASE;
		struct item_state *ws = cx->is;

		if (cx->pack->derived[k].txn_only && cx->txn_derived) {
			if (!(cx->txn_computed & ((uint64_t)1 << k))) {
				cx->txn_derived[k] = expr_eval(cx,
				    cx->pack->derived[k].value.root);
				cx->txn_computed |= (uint64_t)1 << k;
			}
			return cx->txn_derived[k];
		}
		if (ws == NULL)
			return VNULL;
		if (!(ws->computed & ((uint64_t)1 << k))) {
			/* Mark first: a derived fact only names earlier
			 * ones, so there is no cycle to guard against. */
			ws->derived[k] = expr_eval(cx,
			    cx->pack->derived[k].value.root);
			ws->computed |= (uint64_t)1 << k;
		}
		return ws->derived[k];
	}
	switch (n->fact) {
	case F_DATE: return vnum(cx->date);
	case F_DEST: return vcc(cx->dest);
	case F_DEST_TIER: return vtier8((int8_t)cx->dest_tier);
	case F_EXPORT_FROM: return vcc(pack_alias(cx->pack,
	    cx->q->export_from));
	case F_CERTIFICATIONS: return vbool(cx->q->certifications);
	case F_DRY_RUN: return vbool(cx->q->dry_run);
	case F_COUNTRY: return vcc(cx->country);
	default: break;
	}
	if (it == NULL && n->fact < F_S_SHARE)
		return VNULL;
	switch (n->fact) {
	case F_I_KIND: return vstr(item_kind_name(it->kind));
	case F_I_PRODUCT: return vstr(it->product);
	case F_I_PRODUCT_VERIFIED:
		return is->prod == NULL ? VNULL : vbool(is->prod->verified);
	case F_I_QUANTITY: return vnum((double)it->quantity);
	case F_I_TPP: return vnum(is->tpp);
	case F_I_DIE: return vnum(is->die);
	case F_I_PD_GIVEN: return vnum(is->pd_given);
	case F_I_DATACENTER: return vbool(is->datacenter);
	case F_I_CHIPS: return vnum((double)is->chips);
	case F_I_BANDWIDTH: return vnum(is->bandwidth);
	case F_I_TRAIN_OPS: return vnum(it->training_operations);
	case F_I_PUBLISHED: return vbool(it->published);
	case F_I_HAS_BASE: return vbool(it->has_base_model);
	case F_I_BASE_PUBLISHED:
		return it->has_base_model ? vbool(it->base_published) : VNULL;
	case F_I_BASE_OPS:
		return it->has_base_model ?
		    vnum(it->base_training_operations) : VNULL;
	case F_I_ADDITIONAL_OPS: return vnum(it->additional_operations);
	case F_I_PURPOSE: return vstr(purpose_name(it->purpose));
	case F_I_LOCATION: return vcc(pack_alias(cx->pack, it->location));
	case F_I_LICENSE: return vstr(it->license);
	case F_I_ECCN: return vstr(is->eccn);
	case F_S_SHARE: return s ? vnum(s->share) : VNULL;
	case F_S_GEN_TRAIN_OPS:
		return s ? vnum(s->generator_training_operations) : VNULL;
	case F_S_GEN_OPS: return s ? vnum(s->generation_operations) : VNULL;
	case F_S_GEN_PUBLISHED:
		return s ? vbool(s->generator_published) : VNULL;
	default: return VNULL;
	}
}

static int
truth(struct val v)
{
	if (v.t == T_BOOL)
		return v.u.b;
	return -1;
}

static bool
val_eq(struct val a, struct val b)
{
	switch (a.t) {
	case T_BOOL: return a.u.b == b.u.b;
	case T_NUM: return a.u.n == b.u.n;
	case T_STR: return strcmp(a.u.s, b.u.s) == 0;
	case T_CC: return a.u.cc == b.u.cc;
	default: return false;
	}
}

/* Evaluates an each-function over the parties or generators.  Kept out
 * of line so the common nodes of expr_eval stay cheap to call. */
static struct val __attribute__((noinline))
eval_each(struct ectx *cx, const struct node *n)
{
	struct val list = expr_eval(cx, n->kids[0]);
	const struct tg_party *sp = cx->each_party;
	int sidx = cx->each_idx;
	const struct tg_synth *ss = cx->each_synth;
	size_t count;
	double acc = n->op == OP_SUM_EACH ? 0.0 : -INFINITY;
	int logic = n->op == OP_ALL_EACH ? 1 : 0;
	bool unknown = false;

	if (list.t == T_NULL)
		count = 0;
	else if (n->kids[0]->type == T_PARTIES)
		count = cx->nparties;
	else
		count = cx->item->nsynth;
	for (size_t i = 0; i < count; i++) {
		struct val v;

		if (n->kids[0]->type == T_PARTIES) {
			cx->each_party = cx->parties[i];
			cx->each_idx = (int)i;
		} else
			cx->each_synth = &cx->item->synth[i];
		v = expr_eval(cx, n->kids[1]);
		switch (n->op) {
		case OP_SUM_EACH:
		case OP_MAX_EACH:
			if (v.t != T_NUM) {
				unknown = true;
				break;
			}
			if (n->op == OP_SUM_EACH)
				acc += v.u.n;
			else if (v.u.n > acc)
				acc = v.u.n;
			break;
		case OP_ANY_EACH:
			if (truth(v) == 1)
				logic = 1;
			else if (truth(v) < 0)
				unknown = true;
			break;
		default:
			if (truth(v) == 0)
				logic = 0;
			else if (truth(v) < 0)
				unknown = true;
			break;
		}
	}
	cx->each_party = sp;
	cx->each_idx = sidx;
	cx->each_synth = ss;
	switch (n->op) {
	case OP_SUM_EACH:
		return unknown ? VNULL : vnum(acc);
	case OP_MAX_EACH:
		if (unknown)
			return VNULL;
		return vnum(count == 0 ? 0.0 : acc);
	case OP_ANY_EACH:
		return logic ? vbool(1) : unknown ? VNULL : vbool(0);
	default:
		return !logic ? vbool(0) : unknown ? VNULL : vbool(1);
	}
}

/* Leaves are evaluated in place, saving a call for the commonest kids. */
#define EVAL(cx, k) ((k)->op == OP_LIT ? (k)->lit : \
	(k)->op == OP_FACT && (k)->fact < F_DERIVED_BASE && \
	(k)->fact != F_PARTIES && (k)->fact != F_I_SYNTH ? \
	fact_get((cx), (k)) : expr_eval((cx), (k)))

struct val
expr_eval(struct ectx *cx, const struct node *n)
{
	struct val a, b;
	int ta;

	switch (n->op) {
	case OP_LIT:
		return n->lit;
	case OP_FACT:
		if (n->fact == F_PARTIES || n->fact == F_I_SYNTH) {
			struct val v = { .t = (uint8_t)n->type };
			return v;
		}
		return fact_get(cx, n);
	case OP_PARAM:
		return param_value(&cx->pack->params[n->fact], cx->date);
	case OP_NOT:
		ta = truth(EVAL(cx, n->kids[0]));
		return vbool(ta < 0 ? -1 : !ta);
	case OP_AND:
	case OP_OR: {
		/* Kleene: the first false (and) / true (or) decides;
		 * otherwise any unknown makes the whole unknown. */
		int stop = n->op == OP_OR, unknown = 0;

		for (size_t i = 0; i < n->nkids; i++) {
			ta = truth(EVAL(cx, n->kids[i]));
			if (ta == stop)
				return vbool(stop);
			unknown |= ta < 0;
		}
		return vbool(unknown ? -1 : !stop);
	}
	case OP_EQ:
	case OP_NE:
		a = EVAL(cx, n->kids[0]);
		b = EVAL(cx, n->kids[1]);
		if (a.t == T_NULL || b.t == T_NULL)
			return VNULL;
		return vbool(val_eq(a, b) == (n->op == OP_EQ));
	case OP_LT:
	case OP_LE:
	case OP_GT:
	case OP_GE:
		a = EVAL(cx, n->kids[0]);
		b = EVAL(cx, n->kids[1]);
		if (a.t != T_NUM || b.t != T_NUM)
			return VNULL;
		switch (n->op) {
		case OP_LT: return vbool(a.u.n < b.u.n);
		case OP_LE: return vbool(a.u.n <= b.u.n);
		case OP_GT: return vbool(a.u.n > b.u.n);
		default: return vbool(a.u.n >= b.u.n);
		}
	case OP_ADD:
	case OP_SUB:
	case OP_MUL:
	case OP_DIV:
		a = expr_eval(cx, n->kids[0]);
		b = expr_eval(cx, n->kids[1]);
		if (a.t != T_NUM || b.t != T_NUM)
			return VNULL;
		switch (n->op) {
		case OP_ADD: return vnum(a.u.n + b.u.n);
		case OP_SUB: return vnum(a.u.n - b.u.n);
		case OP_MUL: return vnum(a.u.n * b.u.n);
		default:
			return b.u.n == 0.0 ? VNULL : vnum(a.u.n / b.u.n);
		}
	case OP_NEG:
		a = expr_eval(cx, n->kids[0]);
		return a.t == T_NUM ? vnum(-a.u.n) : VNULL;
	case OP_IN:
		a = expr_eval(cx, n->kids[0]);
		if (a.t == T_NULL)
			return VNULL;
		for (size_t i = 1; i < n->nkids; i++)
			if (val_eq(a, n->kids[i]->lit))
				return vbool(1);
		return vbool(0);
	case OP_IF:
		ta = truth(expr_eval(cx, n->kids[0]));
		if (ta < 0)
			return VNULL;
		return expr_eval(cx, n->kids[ta ? 1 : 2]);
	case OP_COALESCE:
		for (size_t i = 0; i < n->nkids; i++) {
			a = expr_eval(cx, n->kids[i]);
			if (a.t != T_NULL)
				return a;
		}
		return VNULL;
	case OP_MAX:
	case OP_MIN:
		a = expr_eval(cx, n->kids[0]);
		for (size_t i = 1; i < n->nkids && a.t == T_NUM; i++) {
			b = expr_eval(cx, n->kids[i]);
			if (b.t != T_NUM)
				return VNULL;
			if ((n->op == OP_MAX) == (b.u.n > a.u.n))
				a = b;
		}
		return a.t == T_NUM ? a : VNULL;
	case OP_IN_GROUP:
		a = expr_eval(cx, n->kids[0]);
		if (a.t != T_CC)
			return VNULL;
		return vbool(group_has(&cx->pack->groups[n->fact], a.u.cc,
		    cx->date));
	case OP_TIER:
		a = expr_eval(cx, n->kids[0]);
		if (a.t != T_CC)
			return VNULL;
		return vtier(cx, a.u.cc);
	case OP_IS_NULL:
		return vbool(expr_eval(cx, n->kids[0]).t == T_NULL);
	case OP_SUM_EACH:
	case OP_MAX_EACH:
	case OP_ANY_EACH:
	case OP_ALL_EACH:
		return eval_each(cx, n);
	default:
		return VNULL;
	}
}

bool
expr_reads_item(const struct tg_pack *p, const struct node *n)
{
	if (n->op == OP_FACT) {
		if (n->fact >= F_DERIVED_BASE)
			return !p->derived[n->fact - F_DERIVED_BASE].txn_only;
		if (n->fact >= F_I_KIND && n->fact < F_BUILTIN_COUNT)
			return true;
	}
	for (size_t i = 0; i < n->nkids; i++)
		if (expr_reads_item(p, n->kids[i]))
			return true;
	return false;
}

int
expr_truth(struct ectx *cx, const struct expr *e)
{
	if (e->root == NULL)
		return 1;	/* an absent condition always holds */
	return truth(expr_eval(cx, e->root));
}
