/*
 * names.c: the contract's names for the engine's enums (contract.md
 * sections 1 and 2).  These strings are API: scripts match on them, so
 * they never change.
 *
 * The only util file that knows the query and decision types; it holds
 * names and no logic, so util still depends on nothing that can fail.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tiergate/decision.h"
#include "tiergate/query.h"
#include "tiergate/util.h"

const char *
item_kind_name(enum tg_item_kind k)
{
	switch (k) {
	case TG_ITEM_CHIP:
		return "chip";
	case TG_ITEM_SYSTEM:
		return "system";
	case TG_ITEM_MODEL_WEIGHTS:
		return "model_weights";
	case TG_ITEM_COMPUTE_SERVICE:
		return "compute_service";
	}
	return "unknown";
}

const char *
outcome_name(enum tg_outcome o)
{
	switch (o) {
	case TG_NO_LICENSE_REQUIRED:
		return "no_license_required";
	case TG_AUTHORIZED:
		return "authorized";
	case TG_HOLD:
		return "hold";
	case TG_LICENSE_REQUIRED:
		return "license_required";
	}
	return "unknown";
}

const char *
review_name(enum tg_review r)
{
	switch (r) {
	case TG_REVIEW_NONE:
		return NULL;
	case TG_REVIEW_APPROVAL:
		return "presumption_of_approval";
	case TG_REVIEW_CASE_BY_CASE:
		return "case_by_case";
	case TG_REVIEW_DENIAL:
		return "presumption_of_denial";
	}
	return NULL;
}

/* The rule text without its final full stop, for appending. */
static int
text_len(const char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '.')
		n--;
	return (int)n;
}

char *
reason_text(const struct tg_reason *r, char *buf, size_t size)
{
	char used[FMT_WHOLE_LEN], amount[FMT_WHOLE_LEN], limit[FMT_WHOLE_LEN];

	switch (r->qnote) {
	case TG_QNOTE_WITHIN:
	case TG_QNOTE_OVER:
		snprintf(buf, size, "%.*s; %s the %s quota: %s used + %s %s %s",
		    text_len(r->text), r->text,
		    r->qnote == TG_QNOTE_OVER ? "over" : "within", r->quota,
		    fmt_whole(r->used, used), fmt_whole(r->amount, amount),
		    r->qnote == TG_QNOTE_OVER ? ">" : "<=",
		    fmt_whole(r->limit, limit));
		break;
	case TG_QNOTE_EXCEEDS:
		snprintf(buf, size, "%s does not cover the line: %s used + %s "
		    "would exceed the %s limit of %s", r->text,
		    fmt_whole(r->used, used), fmt_whole(r->amount, amount),
		    r->quota, fmt_whole(r->limit, limit));
		break;
	default:
		snprintf(buf, size, "%s", r->text != NULL ? r->text : "");
		break;
	}
	return buf;
}
