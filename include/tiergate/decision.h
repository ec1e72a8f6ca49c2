/*
 * decision.h: what the engine decided (contract.md section 2).
 *
 * A decision is built by eval_decide() and owned by the caller, who
 * releases it with decision_free().  Strings that come from the rule pack
 * (rule ids, citations, texts) are borrowed from the pack, which the
 * decision keeps referenced until it is freed; everything else lives in
 * the decision's own arena.
 */
#ifndef TIERGATE_DECISION_H
#define TIERGATE_DECISION_H

#include <stdbool.h>
#include <stddef.h>

#include "tiergate/util.h"

/* From least to most restrictive; the order is relied upon. */
enum tg_outcome {
	TG_NO_LICENSE_REQUIRED,
	TG_AUTHORIZED,
	TG_HOLD,
	TG_LICENSE_REQUIRED,
};

/* From least to most restrictive; the order is relied upon. */
enum tg_review {
	TG_REVIEW_NONE,
	TG_REVIEW_APPROVAL,	/* presumption_of_approval */
	TG_REVIEW_CASE_BY_CASE,
	TG_REVIEW_DENIAL,	/* presumption_of_denial */
};

/* How a quota figures in a reason; the sentence is written when the
 * decision is encoded, not on the hot path. */
enum tg_quota_note {
	TG_QNOTE_NONE,
	TG_QNOTE_WITHIN,	/* "...; within the Q quota: U used + A <= L" */
	TG_QNOTE_OVER,		/* "...; over the Q quota: U used + A > L" */
	TG_QNOTE_EXCEEDS,	/* "AUTH does not cover the line: ..." */
};

struct tg_reason {
	const char *rule;
	const char *citation;
	const char *text;		/* the rule's text (TG_QNOTE_EXCEEDS:
					 * the authorization's name) */
	enum tg_quota_note qnote;
	const char *quota;		/* quota name when qnote is set */
	double used, amount, limit;
};

/* Writes a reason's full sentence into buf; returns buf. */
char *reason_text(const struct tg_reason *r, char *buf, size_t size);

struct tg_item_decision {
	size_t index;
	const char *eccn;		/* NULL: not controlled by these rules */
	enum tg_outcome outcome;
	const char *authorization;	/* NULL unless authorized */
	const char *license;		/* license number when LICENSE */
	enum tg_review review;
	double tpp;			/* total TPP of the line; NAN if none */
	double operations;		/* models: effective operations; NAN */
	struct tg_reason *reasons;
	size_t nreasons;
};

struct tg_quota_use {
	const char *name;
	const char *key;
	const char *period;
	double used;			/* after this transaction */
	double limit;
	double reserved;		/* what this transaction adds */
};

struct tg_red_flag {
	const char *rule;
	const char *citation;
	const char *text;
	long item;			/* item index, or -1 for the transaction */
};

struct tg_decision {
	const char *reference;
	tg_date date;
	enum tg_outcome outcome;
	tg_cc destination;		/* after aliasing (HK -> CN) */
	tg_cc destination_given;	/* as in the query */
	int tier;
	struct tg_item_decision *items;
	size_t nitems;
	struct tg_quota_use *quotas;
	size_t nquotas;
	struct tg_red_flag *red_flags;
	size_t nred_flags;
	const char **warnings;
	size_t nwarnings;
	const char *pack_name;
	const char *pack_version;
	const char *pack_sha256;	/* hex */
	bool dry_run;

	/* private */
	struct tg_arena *arena;
	struct tg_pack *pack;
};

void decision_free(struct tg_decision *d);	/* NULL is a no-op */

const char *outcome_name(enum tg_outcome o);
/* NULL for TG_REVIEW_NONE. */
const char *review_name(enum tg_review r);

#endif
