/*
 * fuzz_rules.c: libFuzzer target for the rule-pack loader (pack_load_mem):
 * libyaml, our walk over its document, the expression compiler and the
 * checks between sections, then the evaluator on whatever pack survived.
 *
 * The input is one YAML file called "fuzz.yaml", unless it holds a NUL
 * byte or a line "---8<---": then it is cut at the first of them into a
 * rule pack ("fuzz-pack.yaml") and a product catalog ("fuzz-catalog.yaml"),
 * so the fuzzer can reach the catalog and the queries that name products.
 * Whether the first or the second part holds the pack does not matter to
 * the loader.
 *
 * A pack that loads must be safe to use: two fixed queries are decided on
 * it (one with figures only, one naming catalog products), each decision
 * is encoded as JSON and the pack is listed as `rules show` would.  Besides
 * crashes and sanitizer reports, the target abort()s when the loader or
 * the evaluator breaks a promise made in engine.h: a failed load returns
 * TG_ERULES (or -ENOMEM) with at least one error and no pack; a decision
 * either succeeds or fails with TG_EINVAL/-ENOMEM and a message; a
 * decision always encodes.  `make test` replays tests/fuzz/corpus/rules/
 * without libFuzzer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"
#include "tiergate/engine.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CUT_LINE "\n---8<---\n"

/* Every kind of item, by figures only, so that a pack without a catalog
 * can decide it; an end user headquartered elsewhere, and a national VEU,
 * so the party and quota expressions run too. */
static const char query_figures[] =
    "{\"reference\": \"fuzz-1\", \"date\": \"2025-06-02\","
    " \"destination\": \"IN\","
    " \"consignee\": {\"id\": \"c-1\", \"country\": \"IN\","
    "  \"headquarters\": \"IN\", \"ultimate_parent\": \"GB\","
    "  \"veu\": {\"type\": \"national\", \"country\": \"IN\","
    "   \"installed_tpp\": 1000000}},"
    " \"end_user\": {\"name\": \"e-1\", \"country\": \"IN\","
    "  \"headquarters\": \"SG\"},"
    " \"items\": ["
    "  {\"kind\": \"chip\", \"tpp\": 5000, \"die_area_mm2\": 800,"
    "   \"quantity\": 100},"
    "  {\"kind\": \"system\", \"tpp\": 3000, \"performance_density\": 4.0,"
    "   \"chips_per_unit\": 8, \"quantity\": 2, \"datacenter\": false},"
    "  {\"kind\": \"model_weights\", \"published\": false,"
    "   \"base_model\": {\"published\": true,"
    "    \"training_operations\": 1e26},"
    "   \"additional_operations\": 3e25,"
    "   \"synthetic_data\": [{\"share\": 0.2,"
    "    \"generator_training_operations\": 1e25,"
    "    \"generation_operations\": 1e24}]},"
    "  {\"kind\": \"compute_service\", \"purpose\": \"training\","
    "   \"training_operations\": 2e26, \"location\": \"US\"}]}";

/* Catalog products, to China under the 2026 rule with certifications. */
static const char query_products[] =
    "{\"reference\": \"fuzz-2\", \"date\": \"2026-02-01\","
    " \"destination\": \"HK\", \"export_from\": \"US\","
    " \"certifications\": true,"
    " \"consignee\": {\"id\": \"c-2\", \"country\": \"HK\"},"
    " \"items\": ["
    "  {\"kind\": \"chip\", \"product\": \"nvidia-h100-sxm\","
    "   \"quantity\": 10},"
    "  {\"kind\": \"system\", \"product\": \"nvidia-h100-sxm\","
    "   \"chips_per_unit\": 8, \"quantity\": 3}]}";

static struct tg_arena *qarena;
static const struct tg_query *queries[2];
static FILE *devnull;

/* Something is already used of every quota, so the over-quota paths run. */
static int
quota_used(void *ctx, const char *name, const char *key, const char *period,
    double *out)
{
	(void)ctx;
	if (name == NULL || key == NULL || period == NULL)
		abort();
	*out = 20000000;
	return 0;
}

static const struct tg_quota_ops quota = { .used = quota_used };

/* The first CUT_LINE in s[0..len), or NULL (memmem is a GNU extension). */
static const char *
find_cut(const char *s, size_t len)
{
	const size_t n = sizeof(CUT_LINE) - 1;
	const char *c;

	for (;;) {
		if (len < n)
			return NULL;
		c = memchr(s, '\n', len - n + 1);
		if (c == NULL)
			return NULL;
		if (memcmp(c, CUT_LINE, n) == 0)
			return c;
		len -= (size_t)(c + 1 - s);
		s = c + 1;
	}
}

/* The queries are constant: parse them once, keep them for the run. */
static void
init_once(void)
{
	static const char *const text[2] = { query_figures, query_products };
	struct tg_error err;
	size_t i;

	if (qarena != NULL)
		return;
	qarena = arena_new(0);
	if (qarena == NULL)
		abort();
	for (i = 0; i < 2; i++)
		if (api_query_parse(text[i], strlen(text[i]), qarena,
		    TG_DATE_NONE, &queries[i], &err) != 0) {
			fprintf(stderr, "fuzz_rules: query %zu: %s: %s\n", i,
			    err.pointer, err.msg);
			abort();
		}
	devnull = fopen("/dev/null", "w");
	if (devnull == NULL)
		abort();
}

static void
check_errors(int rc, const struct tg_pack *p, const struct tg_errlist *errs)
{
	size_t i;

	if (p != NULL)
		abort();
	if (rc == -ENOMEM)
		return;
	if (rc != TG_ERULES || errs->n + errs->dropped == 0)
		abort();
	for (i = 0; i < errs->n; i++)
		if (errs->v[i].msg[0] == '\0')
			abort();
}

static void
decide(struct tg_pack *p, const struct tg_query *q)
{
	struct tg_decision *d = NULL;
	struct tg_error err;
	json_t *j;
	char *s;
	int rc;

	tg_error_clear(&err);
	rc = eval_decide(p, q, &quota, &d, &err);
	if (rc != 0) {
		/* An unknown product (no catalog) is TG_EINVAL. */
		if (d != NULL || (rc != TG_EINVAL && rc != -ENOMEM) ||
		    err.msg[0] == '\0')
			abort();
		return;
	}
	if (d == NULL)
		abort();
	/* Pack strings end up in the answer: they must encode. */
	j = api_decision_to_json(d, NULL);
	if (j == NULL)
		abort();
	s = api_dumps(j, false);
	if (s == NULL)
		abort();
	free(s);
	json_decref(j);
	decision_free(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *names[2], *bufs[2];
	const char *text = (const char *)data, *cut, *line;
	size_t lens[2], n, skip;
	struct tg_pack *p = NULL;
	struct tg_errlist errs;
	int rc;

	init_once();

	/* Cut at the first NUL or cut line, whichever comes first. */
	cut = memchr(text, '\0', size);
	skip = 1;
	line = find_cut(text, cut != NULL ? (size_t)(cut - text) : size);
	if (line != NULL) {
		cut = line;
		skip = sizeof(CUT_LINE) - 1;
	}
	if (cut == NULL) {
		names[0] = "fuzz.yaml";
		bufs[0] = text;
		lens[0] = size;
		n = 1;
	} else {
		names[0] = "fuzz-pack.yaml";
		bufs[0] = text;
		lens[0] = (size_t)(cut - text);
		names[1] = "fuzz-catalog.yaml";
		bufs[1] = cut + skip;
		lens[1] = size - lens[0] - skip;
		n = 2;
	}

	errlist_init(&errs);
	rc = pack_load_mem(names, bufs, lens, n, &p, &errs);
	if (rc != 0) {
		check_errors(rc, p, &errs);
		errlist_release(&errs);
		return 0;
	}
	if (p == NULL || pack_name(p) == NULL || pack_sha256(p) == NULL ||
	    strlen(pack_sha256(p)) != 64)
		abort();
	decide(p, queries[0]);
	decide(p, queries[1]);
	pack_show(p, devnull);
	pack_unref(p);
	errlist_release(&errs);
	return 0;
}
