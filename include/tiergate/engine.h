/*
 * engine.h: rule packs and the evaluator.
 *
 * A pack set is compiled from YAML files (one rule pack plus the product
 * catalog; see docs/rules.md).  Once loaded it is immutable and reference
 * counted, so a daemon can swap packs under load: each request takes a
 * reference, the old pack is freed when its last user lets go.
 *
 * The engine is pure: no I/O but reading the YAML files, no sockets, no
 * database.  Quantity authorizations ask a caller-supplied quota provider
 * for what is already used; the engine adds what the transaction itself
 * uses, line by line.
 */
#ifndef TIERGATE_ENGINE_H
#define TIERGATE_ENGINE_H

#include <stdbool.h>
#include <stdio.h>

#include "tiergate/decision.h"
#include "tiergate/error.h"
#include "tiergate/query.h"

struct tg_pack;

/*
 * Loads and compiles the YAML files in paths (a rule pack and a product
 * catalog, in any order; a directory stands for its *.yaml files in name
 * order).  On failure returns TG_ERULES (or -ENOMEM) with every mistake in
 * errs (file:line:col), and *out is NULL.  On success *out holds one
 * reference.  errs is owned by the caller (errlist_init/release).
 */
int pack_load(const char *const *paths, size_t npaths, struct tg_pack **out,
    struct tg_errlist *errs);

/* Take / drop a reference.  Thread-safe (atomic counter). */
struct tg_pack *pack_ref(struct tg_pack *p);
void pack_unref(struct tg_pack *p);	/* NULL is a no-op */

/* Borrowed strings, valid while the pack is referenced. */
const char *pack_name(const struct tg_pack *p);
const char *pack_version(const struct tg_pack *p);
const char *pack_sha256(const struct tg_pack *p);	/* over all files */
const char *pack_title(const struct tg_pack *p);
const char *pack_status(const struct tg_pack *p);

/*
 * Same as pack_load, from memory: bufs[i] holds lens[i] bytes of a YAML file
 * called names[i] (used in error positions and hashed in that order).  For
 * fuzzing and tests.
 */
int pack_load_mem(const char *const *names, const char *const *bufs,
    const size_t *lens, size_t n, struct tg_pack **out,
    struct tg_errlist *errs);

/* Introspection, for tests and `rules show`: whether country cc is in the
 * named group on date d (-1: no such group), the tier of cc on d (after
 * aliases; -1 for TG_CC_NONE), and a parameter's value on d (TG_ENOTFOUND
 * for an unknown name, TG_EINVAL when it has no value on d). */
int pack_in_group(const struct tg_pack *p, const char *group, tg_cc cc,
    tg_date d);
int pack_tier(const struct tg_pack *p, tg_cc cc, tg_date d);
int pack_param(const struct tg_pack *p, const char *name, tg_date d,
    double *out);
/* Citation of a parameter, or NULL when unknown. */
const char *pack_param_citation(const struct tg_pack *p, const char *name);

/* Writes a human-readable listing of the compiled pack. */
void pack_show(const struct tg_pack *p, FILE *fp);

/*
 * Quota provider.  used() returns in *out what is already used of quota
 * `name` for `key` in `period` before this transaction (0 when nothing).
 * NULL ops (or NULL used) means "nothing used": the transaction alone.
 * Returns 0 or a negative code, which aborts the decision.
 */
/* An export license registered with tiergate (the ledger). */
struct tg_license {
	bool found;
	bool revoked;
	tg_cc country;			/* destination it is issued for */
	const char *eccn;		/* NULL: any the pack derives */
	const char *consignee;		/* party key, NULL: any */
	tg_date valid_until;		/* inclusive */
	double tpp;			/* TPP it authorizes, NAN: no limit */
	double quantity;		/* units, NAN: no limit */
	double tpp_used;		/* already depleted */
	double quantity_used;
};

struct tg_quota_ops {
	int (*used)(void *ctx, const char *name, const char *key,
	    const char *period, double *out);
	/* Looks up a license number; NULL means no registry (a cited
	 * license is then not applied, and the decision says so). */
	int (*license)(void *ctx, const char *number, struct tg_license *out);
	void *ctx;
};

/* Quota names under which license depletion is reserved (key: the
 * license number, period "all"). */
#define TG_QUOTA_LICENSE_TPP "license_tpp"
#define TG_QUOTA_LICENSE_QTY "license_quantity"

/*
 * Decides q under pack p.  On success *out is a new decision that the
 * caller frees.  Errors: TG_EINVAL (a fact the pack cannot use, such as an
 * unknown product id; err->pointer names it), -ENOMEM, or the quota
 * provider's code.  Thread-safe: p is only read.
 */
int eval_decide(struct tg_pack *p, const struct tg_query *q,
    const struct tg_quota_ops *quota, struct tg_decision **out,
    struct tg_error *err);

#endif
