/*
 * fuzz_query.c: libFuzzer target for the query decoder (api_query_parse),
 * the first code to touch bytes from the network.
 *
 * Besides crashes and sanitizer reports, it checks the decoder's promises
 * and abort()s when one is broken, so the fuzzer finds logic errors too:
 * an error always has a code, a message, and a pointer and message that
 * are valid UTF-8 (they travel in problem+json); a success always yields
 * a query the engine can trust (counts in range, numbers finite or NAN,
 * countries assigned or TG_CC_NONE, the either/or rules of contract.md).
 * `make test` replays the corpus in tests/fuzz/corpus/query/ without
 * libFuzzer.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Would a problem+json document accept this text?  json_string() checks
 * UTF-8 exactly as the HTTP layer's encoder will. */
static void
check_text(const char *s)
{
	json_t *j;

	j = json_string(s);
	if (j == NULL)
		abort();
	json_decref(j);
}

/* NAN (absent) is allowed, infinities never are. */
static void
check_num(double x)
{
	if (isinf(x))
		abort();
}

static void
check_nonneg(double x)
{
	check_num(x);
	if (!isnan(x) && !(x >= 0))
		abort();
}

static void
check_cc(tg_cc cc, bool may_be_none)
{
	if (cc == TG_CC_NONE) {
		if (!may_be_none)
			abort();
		return;
	}
	if (cc >= TG_CC_COUNT || !cc_assigned(cc))
		abort();
}

static void
check_party(const struct tg_party *p)
{
	if (p->name == NULL && p->id == NULL)
		abort();
	check_cc(p->country, false);
	check_cc(p->headquarters, false);
	check_cc(p->ultimate_parent, false);
	switch (p->veu.type) {
	case TG_VEU_NONE:
		break;
	case TG_VEU_UNIVERSAL:
		if (!(p->veu.tier1_share >= 0 && p->veu.tier1_share <= 1) ||
		    !(p->veu.us_share >= 0 && p->veu.us_share <= 1) ||
		    !(p->veu.destination_share >= 0 &&
		    p->veu.destination_share <= 1))
			abort();
		break;
	case TG_VEU_NATIONAL:
		check_cc(p->veu.country, false);
		if (!(p->veu.installed_tpp >= 0))
			abort();
		break;
	default:
		abort();
	}
}

static void
check_item(const struct tg_item *it)
{
	const struct tg_synth *s;
	size_t i;

	if (it->quantity < 1 || it->quantity > 1000000000000LL)
		abort();
	if (it->datacenter < -1 || it->datacenter > 1 ||
	    it->published < -1 || it->published > 1)
		abort();
	check_num(it->tpp);
	check_num(it->die_area_mm2);
	check_num(it->performance_density);
	check_num(it->memory_bandwidth_gbs);
	check_nonneg(it->training_operations);
	check_nonneg(it->base_training_operations);
	check_nonneg(it->additional_operations);
	switch (it->kind) {
	case TG_ITEM_CHIP:
	case TG_ITEM_SYSTEM:
		/* product, or tpp with an area or a density: never both */
		if ((it->product == NULL) == isnan(it->tpp))
			abort();
		if (!isnan(it->tpp) && !(it->tpp > 0))
			abort();
		if (it->product == NULL && isnan(it->die_area_mm2) &&
		    isnan(it->performance_density))
			abort();
		if ((it->kind == TG_ITEM_SYSTEM) != (it->chips_per_unit >= 1))
			abort();
		break;
	case TG_ITEM_MODEL_WEIGHTS:
		if (it->published == -1)
			abort();
		if (!it->has_base_model && isnan(it->training_operations))
			abort();
		if (it->has_base_model && (it->base_published == -1 ||
		    isnan(it->base_training_operations) ||
		    isnan(it->additional_operations)))
			abort();
		if ((it->synth == NULL) != (it->nsynth == 0) ||
		    it->nsynth > TG_SYNTH_MAX)
			abort();
		for (i = 0; i < it->nsynth; i++) {
			s = &it->synth[i];
			if (!(s->share >= 0 && s->share <= 1))
				abort();
			check_nonneg(s->generator_training_operations);
			check_nonneg(s->generation_operations);
			if (s->generator_published < -1 ||
			    s->generator_published > 1)
				abort();
		}
		break;
	case TG_ITEM_COMPUTE_SERVICE:
		if (it->purpose == TG_PURPOSE_NONE)
			abort();
		if ((it->purpose == TG_PURPOSE_TRAINING) ==
		    isnan(it->training_operations))
			abort();
		check_cc(it->location, false);
		break;
	default:
		abort();
	}
}

static void
check_query(const struct tg_query *q)
{
	size_t i;

	check_cc(q->destination, false);
	check_cc(q->export_from, false);
	check_party(&q->consignee);
	check_party(&q->end_user);
	if (q->reference != NULL) {
		if (strlen(q->reference) > TG_REFERENCE_MAX)
			abort();
		check_text(q->reference);
	}
	if (q->nitems < 1 || q->nitems > TG_ITEMS_MAX || q->items == NULL)
		abort();
	for (i = 0; i < q->nitems; i++)
		check_item(&q->items[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static tg_date today = TG_DATE_NONE;
	const struct tg_query *q = NULL;
	struct tg_arena *arena;
	struct tg_error err;
	int rc;

	/* A fixed day keeps runs reproducible. */
	if (today == TG_DATE_NONE && date_parse("2025-06-02", 10,
	    &today) != 0)
		abort();
	arena = arena_new(0);
	if (arena == NULL)
		return 0;
	rc = api_query_parse((const char *)data, size, arena, today, &q,
	    &err);
	if (rc == 0) {
		if (q == NULL)
			abort();
		check_query(q);
	} else {
		if (q != NULL || err.code != rc || err.msg[0] == '\0')
			abort();
		if (rc != TG_ESYNTAX && rc != TG_EINVAL && rc != -ENOMEM)
			abort();
		if (err.pointer[0] != '\0' && err.pointer[0] != '/')
			abort();
		check_text(err.pointer);
		check_text(err.msg);
	}
	arena_free(arena);
	return 0;
}
