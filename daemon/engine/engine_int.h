/*
 * engine_int.h: the engine's private structures, shared by the loader
 * (loader.c, YAML -> pack), the expression compiler (expr.c) and the
 * evaluator (eval.c).  Nothing outside daemon/engine includes this.
 *
 * Invariants: a pack is immutable once pack_load() returns it; every
 * expression in it has been type- and unit-checked, every group, parameter,
 * ECCN and authorization name it mentions exists, and every string it holds
 * lives in the pack's arena.
 */
#ifndef TIERGATE_ENGINE_INT_H
#define TIERGATE_ENGINE_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/query.h"
#include "tiergate/util.h"

/* ---- values ---------------------------------------------------------- */

enum vtype {
	T_NULL,
	T_BOOL,
	T_NUM,
	T_STR,
	T_CC,
	T_PARTIES,	/* list: the receiving parties */
	T_SYNTHS,	/* list: an item's synthetic-data generators */
};

/* Units of measure, checked when a pack is compiled so that a threshold in
 * the wrong unit is a load error, not a wrong decision. */
enum unit {
	U_NONE,		/* plain number or literal: fits any unit */
	U_TPP,
	U_MM2,
	U_PD,		/* TPP per mm² */
	U_OPS,		/* training operations */
	U_SHARE,	/* fraction 0..1 */
	U_COUNT,
	U_GBS,		/* memory bandwidth, GB/s */
	U_DAYS,		/* dates */
	U_MIXED,	/* product of two units: not checked further */
};

struct val {
	uint8_t t;		/* enum vtype */
	union {
		bool b;
		double n;
		const char *s;
		tg_cc cc;
	} u;
};

/* ---- facts ------------------------------------------------------------ */

/* Where an expression may be used, and so which facts it may read. */
enum scope {
	SC_COUNTRY = 1 << 0,	/* tier definitions: `country` */
	SC_TXN = 1 << 1,	/* transaction facts and parties */
	SC_ITEM = 1 << 2,	/* item facts */
	SC_ECCN = 1 << 3,	/* item.eccn (after classification) */
};

/* Built-in fact slots (the fact model, contract.md section 1). */
enum fact {
	F_NONE,
	/* transaction */
	F_DATE, F_DEST, F_DEST_TIER, F_EXPORT_FROM, F_CERTIFICATIONS,
	F_DRY_RUN, F_PARTIES, F_COUNTRY,
	/* party (consignee., end_user., each.) */
	F_P_COUNTRY, F_P_HQ, F_P_PARENT, F_P_COUNTRY_TIER, F_P_HQ_TIER,
	F_P_PARENT_TIER, F_P_KEY, F_P_NAMED, F_P_VEU_TYPE, F_P_VEU_TIER1,
	F_P_VEU_US, F_P_VEU_DEST, F_P_VEU_COUNTRY, F_P_VEU_INSTALLED,
	/* item */
	F_I_KIND, F_I_PRODUCT, F_I_QUANTITY, F_I_TPP, F_I_DIE, F_I_PD_GIVEN,
	F_I_DATACENTER, F_I_CHIPS, F_I_BANDWIDTH, F_I_TRAIN_OPS,
	F_I_PUBLISHED, F_I_HAS_BASE, F_I_BASE_PUBLISHED, F_I_BASE_OPS,
	F_I_ADDITIONAL_OPS, F_I_SYNTH, F_I_PURPOSE, F_I_LOCATION,
	F_I_LICENSE, F_I_ECCN, F_I_PRODUCT_VERIFIED,
	/* synthetic-data generator (each.) */
	F_S_SHARE, F_S_GEN_TRAIN_OPS, F_S_GEN_OPS, F_S_GEN_PUBLISHED,
	F_BUILTIN_COUNT
};
#define F_DERIVED_BASE 1000	/* slot of derived fact k: base + k */

enum party_sel { PS_NONE, PS_CONSIGNEE, PS_END_USER, PS_EACH };

/* ---- expressions ------------------------------------------------------ */

enum op {
	OP_LIT, OP_FACT, OP_PARAM, OP_NOT, OP_AND, OP_OR,
	OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
	OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_NEG, OP_IN,
	OP_IF, OP_COALESCE, OP_MAX, OP_MIN, OP_IN_GROUP, OP_TIER, OP_IS_NULL,
	OP_SUM_EACH, OP_MAX_EACH, OP_ANY_EACH, OP_ALL_EACH,
};

struct node {
	uint8_t op;		/* enum op */
	uint8_t type;		/* enum vtype of the result */
	uint8_t unit;		/* enum unit of the result */
	uint8_t party;		/* enum party_sel, for party facts */
	int fact;		/* OP_FACT slot; OP_PARAM / OP_IN_GROUP index */
	struct val lit;		/* OP_LIT */
	struct node **kids;
	size_t nkids;
};

struct expr {
	const char *src;	/* the text as written */
	struct node *root;
	const char *file;
	int line, col;
};

/* ---- pack contents ------------------------------------------------------ */

struct span {
	tg_cc cc;
	tg_date from, to;	/* inclusive */
};

struct group {
	const char *name;
	const char *citation;
	struct span *spans;	/* sorted by cc, then from */
	size_t nspans;
	uint8_t ever[TG_CC_COUNT / 8 + 1];	/* bitmap: member at any date */
};

struct alias {
	tg_cc from, to;
	const char *citation;
};

struct tier_def {
	int tier;
	const char *citation;
	struct expr when;
};

struct pvalue {
	tg_date from, to;
	struct val v;
};

struct param {
	const char *name;
	uint8_t unit;
	const char *citation;
	bool verified;
	const char *note;
	struct pvalue *values;
	size_t nvalues;
};

struct derived {
	const char *name;	/* the part after "item." */
	const char *citation;
	uint8_t type, unit;
	const char *report;	/* "tpp" or "operations" or NULL */
	bool verified;
	bool txn_only;		/* reads no item fact: one value per
				   decision, shared by its items */
	const char *warning;	/* when unverified and not null */
	struct expr value;
};

enum period_kind { PER_CALENDAR_YEAR, PER_FIXED, PER_NONE };

struct quota_def {
	const char *name;
	const char *citation;
	uint8_t unit;
	struct expr key;		/* string-valued */
	enum period_kind period;
	tg_date pfrom, pto;		/* PER_FIXED */
	const char *plabel;
	struct expr limit;		/* numeric */
	struct expr base;		/* optional: usage given by the query */
	bool has_base;
	bool verified;
	const char *note;
	const char *unverified_warning;
};

/* Fields every rule has. */
struct rule_common {
	const char *id;
	const char *citation;
	const char *text;
	tg_date effective, until;	/* inclusive; NONE/MAX when open */
	bool verified;
	const char *note;		/* why unverified */
	const char *warning;		/* carried when the rule decides */
	const char *unverified_warning;	/* "rule X rests on ...", or NULL */
	const char *unknown_warning;	/* when 'when' cannot be decided */
	struct expr when;
	int memo;			/* when reads no item fact: its slot
					   in the per-decision memo, else -1 */
	uint32_t kinds;			/* bit per tg_item_kind; 0 = all */
	const char *file;
	int line;
};

struct class_rule {
	struct rule_common c;
	const char *eccn;		/* NULL: not controlled */
	int eccn_idx;			/* into pack->eccns, -1 for NULL */
};

/* ECCNs named by a rule: indexes into pack->eccns. */
struct eccn_set {
	int *v;
	size_t n;
	bool null_ok;			/* also matches unclassified items */
};

struct req_rule {
	struct rule_common c;
	struct eccn_set eccns;
	enum tg_review review;
	uint32_t allows;		/* bit per authorization */
	int quota;			/* -1, or index: review depends on it */
	struct expr amount;
	enum tg_review over_review;
};

struct auth_rule {
	struct rule_common c;
	int auth;			/* index into pack->auths */
	struct eccn_set eccns;
	int quota;			/* -1 or index */
	struct expr amount;
};

enum flag_scope { FS_ITEM, FS_TXN };

struct flag_rule {
	struct rule_common c;
	enum flag_scope scope;
};

struct product {
	const char *id;
	const char *vendor, *name;
	double tpp, die, pd, bandwidth;
	bool datacenter;
	bool verified;
	const char *note;
	const char *unverified_warning;
};

#define PACK_AUTH_MAX 32

struct tg_pack {
	atomic_int refs;
	struct tg_arena *arena;

	const char *name, *title, *source, *version, *status;
	const char *citation;
	tg_date effective, compliance;
	char sha256[65];
	const char *catalog_version;

	struct {
		const char *id, *text, *citation;
		tg_date from, to;
	} *warnings;
	size_t nwarnings;

	struct alias *aliases;
	size_t naliases;
	struct group *groups;
	size_t ngroups;
	struct tier_def *tiers;
	size_t ntiers;
	struct param *params;
	size_t nparams;
	struct derived *derived;
	size_t nderived;
	struct quota_def *quotas;
	size_t nquotas;
	const char **eccns;		/* every ECCN the pack names */
	size_t neccns;
	const char *auths[PACK_AUTH_MAX];	/* authorization names */
	size_t nauths;

	struct class_rule *classes;
	size_t nclasses;
	struct req_rule *reqs;
	size_t nreqs;
	struct auth_rule *authz;
	size_t nauthz;
	struct flag_rule *flags;
	size_t nflags;

	struct product *products;	/* sorted by id */
	size_t nproducts;

	size_t nmemo;			/* rules whose truth is per decision */

	/* Indexes built after loading, so evaluation visits only the rules
	 * that can apply: classification and item red flags by item kind,
	 * requirements and authorizations by ECCN.  Pack order is kept. */
	struct ruleidx {
		uint16_t *v;
		size_t n;
	} class_by_kind[4], flag_by_kind[4], *req_by_eccn, *auth_by_eccn;
};

int pack_index(struct tg_pack *p);	/* loader.c */

/* ---- compiler (expr.c) -------------------------------------------------- */

/* What an expression is compiled against. */
struct cenv {
	const struct tg_pack *pack;	/* groups, params, derived so far */
	unsigned scope;			/* enum scope bits */
	struct tg_arena *arena;
};

/*
 * Compiles src into e.  file/line/col locate the first character of src
 * in its YAML file, so errors point into the text.  want is the result
 * type (T_BOOL for conditions; T_NULL for "any").  On error returns
 * TG_ERULES and fills err.
 */
int expr_compile(const struct cenv *env, const char *src, const char *file,
    int line, int col, int want, struct expr *e, struct tg_error *err);

/* Looks up a fact path ("item.tpp"); used by the compiler and by tests. */
int fact_lookup(const struct tg_pack *p, const char *path, int *slot,
    int *party, int *type, int *unit, unsigned *scope);

const char *unit_name(int unit);
int unit_parse(const char *s);		/* -1 when unknown */

/* ---- evaluation (eval.c) ------------------------------------------------- */

/* Per-item facts after the catalog is applied and derived facts computed. */
struct item_state {
	const struct tg_item *it;
	const struct product *prod;	/* NULL unless item.product */
	double tpp, die, pd_given, bandwidth;
	int datacenter;			/* 0 or 1 after defaults */
	long long chips;		/* chips per unit (1 for a chip) */
	const char *eccn;		/* after classification */
	int eccn_idx;			/* into pack->eccns, -1: none */
	struct val *derived;		/* pack->nderived values */
	uint64_t computed;		/* bit k: derived[k] is computed */
};

/* Derived facts are computed on first use (most rules never touch most
 * of them), so a pack has at most this many. */
#define PACK_DERIVED_MAX 64

/* The context an expression is evaluated in. */
struct ectx {
	const struct tg_pack *pack;
	const struct tg_query *q;
	tg_date date;
	tg_cc dest;			/* after aliasing */
	const struct tg_item *item;
	struct item_state *is;
	tg_cc country;			/* tier definitions */
	const struct tg_party *each_party;
	const struct tg_synth *each_synth;
	const struct tg_party *parties[2];
	size_t nparties;
	/* Per party (0 consignee, 1 end user): country, headquarters and
	 * ultimate parent after aliases, and their tiers, filled once per
	 * decision; each_idx says which party an each-loop is on. */
	tg_cc pcc[2][3];
	int8_t ptier[2][3];
	int each_idx;
	int dest_tier;
	/* per-decision caches */
	tg_cc tier_cc[8];
	int8_t tier_v[8];
	size_t ntier;
	int depth;			/* tier recursion guard */
	struct val *txn_derived;	/* txn_only derived facts */
	uint64_t txn_computed;
	const char *keys[2];		/* party quota keys */
};

struct val expr_eval(struct ectx *cx, const struct node *n);
/* Whether an expression reads an item fact (directly or through an
 * item-dependent derived fact). */
bool expr_reads_item(const struct tg_pack *p, const struct node *n);
/* Kleene truth: 1 true, 0 false, -1 unknown. */
int expr_truth(struct ectx *cx, const struct expr *e);

int pack_group_index(const struct tg_pack *p, const char *name);
bool group_has(const struct group *g, tg_cc cc, tg_date d);
int pack_param_index(const struct tg_pack *p, const char *name);
struct val param_value(const struct param *pm, tg_date d);
int tier_of(struct ectx *cx, tg_cc cc);
tg_cc pack_alias(const struct tg_pack *p, tg_cc cc);
const struct product *pack_product(const struct tg_pack *p, const char *id);

#endif
