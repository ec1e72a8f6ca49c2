/*
 * names.c: the contract's names for the engine's enums (contract.md
 * sections 1 and 2).  These strings are API: scripts match on them, so
 * they never change.
 *
 * The only util file that knows the query and decision types; it holds
 * names and no logic, so util still depends on nothing that can fail.
 */
#include <stddef.h>

#include "tiergate/decision.h"
#include "tiergate/query.h"

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
