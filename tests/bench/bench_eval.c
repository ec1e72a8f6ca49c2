/*
 * bench_eval.c: how fast the engine decides (`make bench`).
 *
 *	bench_eval RULES_DIR_OR_FILE...
 *
 * Loads the pack, parses each query once, then calls eval_decide() and
 * decision_free() in a loop on one core for about two seconds
 * (BENCH_SECONDS overrides) and prints decisions per second.  The
 * queries: a 3-item transaction to India (H100 x 1000 under LPP, a 4A090
 * server, closed model weights) and its first line alone.  The quota
 * provider is NULL (nothing used before), so the figures are the engine's
 * own, without a ledger.  Then, separately, what a request also pays per
 * decision: encoding it (api_decision_to_json + api_dumps) and parsing the
 * query (api_query_parse, in a fresh arena as a request would).
 *
 * The figures are for reading, not a pass/fail test; the target from the
 * issue (>= 1,000,000 decisions/s for the 3-item query) is printed beside
 * them.  The exit status is non-zero only when something fails to run.
 * BENCH_ONLY=eval3|eval1|json|parse|text runs one figure alone, for a profiler:
 *
 *	BENCH_ONLY=eval3 perf record -g build/tests/bench_eval rules
 */
#define _GNU_SOURCE		/* sched_setaffinity, sched_getcpu */

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tiergate/api.h"
#include "tiergate/engine.h"

#define BENCH_SECONDS_DEFAULT 2.0
#define TARGET_PER_SEC 1000000.0
/* Iterations between clock reads: keeps clock_gettime out of the figure. */
#define BATCH 256
#define NFIG 5

static const char query3[] =
    "{\"reference\": \"bench-3\", \"date\": \"2025-06-02\","
    " \"destination\": \"IN\","
    " \"consignee\": {\"id\": \"acme-in-001\", \"name\": \"Acme Cloud\","
    "  \"country\": \"IN\", \"headquarters\": \"IN\","
    "  \"ultimate_parent\": \"IN\"},"
    " \"items\": ["
    "  {\"kind\": \"chip\", \"product\": \"nvidia-h100-sxm\","
    "   \"quantity\": 1000},"
    "  {\"kind\": \"system\", \"product\": \"nvidia-h100-sxm\","
    "   \"chips_per_unit\": 8, \"quantity\": 10},"
    "  {\"kind\": \"model_weights\", \"training_operations\": 3e26,"
    "   \"published\": false}],"
    " \"dry_run\": true}";

static const char query1[] =
    "{\"reference\": \"bench-1\", \"date\": \"2025-06-02\","
    " \"destination\": \"IN\","
    " \"consignee\": {\"id\": \"acme-in-001\", \"name\": \"Acme Cloud\","
    "  \"country\": \"IN\", \"headquarters\": \"IN\","
    "  \"ultimate_parent\": \"IN\"},"
    " \"items\": ["
    "  {\"kind\": \"chip\", \"product\": \"nvidia-h100-sxm\","
    "   \"quantity\": 1000}],"
    " \"dry_run\": true}";

struct bench {
	struct tg_pack *pack;
	const struct tg_query *q;
	const char *text;		/* the query's JSON */
	size_t textlen;
	struct tg_decision *d;		/* a decision for the encoder */
	tg_date today;
};

static double seconds = BENCH_SECONDS_DEFAULT;

static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		perror("bench_eval: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One measured step; returns 0 or a code. */
typedef int (*step_fn)(struct bench *);

/* One figure printed; name is what BENCH_ONLY selects. */
struct figure {
	const char *name;
	step_fn fn;
	struct bench *b;
	const char *what, *unit, *per, *tail;
	double rate;
};

static int
step_eval(struct bench *b)
{
	struct tg_decision *d;
	struct tg_error err;
	int rc;

	rc = eval_decide(b->pack, b->q, NULL, &d, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_eval: eval_decide: %s: %s\n",
		    err.pointer, err.msg);
		return rc;
	}
	decision_free(d);
	return 0;
}

static int
step_json(struct bench *b)
{
	json_t *j;
	char *s;

	j = api_decision_to_json(b->d, NULL);
	if (j == NULL)
		return -ENOMEM;
	s = api_dumps(j, false);
	json_decref(j);
	if (s == NULL)
		return -ENOMEM;
	free(s);
	return 0;
}

/* What the daemon does instead (decision_text.c): the answer and the
 * canonical form the log hashes, written without a tree. */
static int
step_text(struct bench *b)
{
	static const char id[] = "0190b1c2-7d4e-7000-8000-000000000001";
	struct tg_buf t;
	int rc;

	buf_init(&t, (size_t)16 << 20);
	rc = api_decision_text(b->d, id, NULL, &t);
	if (rc == 0) {
		t.len = 0;
		rc = api_decision_jcs(b->d, id, &t);
	}
	buf_release(&t);
	return rc;
}

static int
step_parse(struct bench *b)
{
	const struct tg_query *q;
	struct tg_arena *a;
	struct tg_error err;
	int rc;

	a = arena_new(0);
	if (a == NULL)
		return -ENOMEM;
	rc = api_query_parse(b->text, b->textlen, a, b->today, &q, &err);
	if (rc != 0)
		fprintf(stderr, "bench_eval: api_query_parse: %s: %s\n",
		    err.pointer, err.msg);
	arena_free(a);
	return rc;
}

/*
 * Runs fn for about `seconds` (after a short warm-up) and returns the
 * calls per second in *rate; 0 or the first failure's code.
 */
static int
measure(step_fn fn, struct bench *b, double *rate)
{
	double t0, t1, end;
	unsigned long long n = 0;
	int rc, i;

	/* Warm caches, the allocator and the branch predictors. */
	end = now() + seconds / 10;
	while (now() < end)
		for (i = 0; i < BATCH; i++) {
			rc = fn(b);
			if (rc != 0)
				return rc;
		}
	t0 = now();
	end = t0 + seconds;
	do {
		for (i = 0; i < BATCH; i++) {
			rc = fn(b);
			if (rc != 0)
				return rc;
		}
		n += BATCH;
		t1 = now();
	} while (t1 < end);
	*rate = (double)n / (t1 - t0);
	return 0;
}

static int
parse_query(struct bench *b, struct tg_arena *a, const char *text)
{
	struct tg_error err;
	int rc;

	b->text = text;
	b->textlen = strlen(text);
	rc = api_query_parse(text, b->textlen, a, b->today, &b->q, &err);
	if (rc != 0)
		fprintf(stderr, "bench_eval: bench query: %s: %s\n",
		    err.pointer, err.msg);
	return rc;
}

/* Prints what the 3-item query decides, so a figure is never for an
 * error path. */
static int
describe(struct bench *b)
{
	struct tg_error err;
	const struct tg_item_decision *it;
	size_t i;
	int rc;

	rc = eval_decide(b->pack, b->q, NULL, &b->d, &err);
	if (rc != 0) {
		fprintf(stderr, "bench_eval: eval_decide: %s: %s\n",
		    err.pointer, err.msg);
		return rc;
	}
	printf("3-item query decides %s:", outcome_name(b->d->outcome));
	for (i = 0; i < b->d->nitems; i++) {
		it = &b->d->items[i];
		printf(" [%s %s%s%s]", it->eccn != NULL ? it->eccn : "-",
		    outcome_name(it->outcome),
		    it->authorization != NULL ? " " : "",
		    it->authorization != NULL ? it->authorization : "");
	}
	printf("\n");
	return 0;
}

static void
pin_to_one_core(void)
{
	cpu_set_t set;
	int cpu;

	cpu = sched_getcpu();
	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		fprintf(stderr, "bench_eval: not pinned to a core: %s\n",
		    strerror(errno));
}

int
main(int argc, char *argv[])
{
	struct bench b3, b1;
	struct tg_errlist errs;
	struct tg_arena *a = NULL;
	struct tg_pack *pack = NULL;
	const char *env;
	char buf[TG_ERR_MSG_MAX + TG_ERR_FILE_MAX + 64], *end;
	struct figure figs[] = {
		{ "eval3", step_eval, &b3, "eval", "decisions", "decision",
		    "3-item query", 0 },
		{ "eval1", step_eval, &b1, "eval", "decisions", "decision",
		    "1-item query", 0 },
		{ "json", step_json, &b3, "json", "encodes", "decision",
		    "3-item decision (api_decision_to_json + api_dumps)", 0 },
		{ "parse", step_parse, &b3, "parse", "queries", "query",
		    "3-item query (api_query_parse, fresh arena)", 0 },
		{ "text", step_text, &b3, "text", "encodes", "decision",
		    "3-item decision, answer and canonical form "
		    "(api_decision_text + api_decision_jcs, as the daemon)", 0 },
	};
	const char *only;
	double v;
	size_t i;
	int rc, status = 1;

	if (argc < 2) {
		fprintf(stderr, "usage: %s RULES_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	env = getenv("BENCH_SECONDS");
	if (env != NULL && *env != '\0') {
		errno = 0;
		v = strtod(env, &end);
		if (errno != 0 || *end != '\0' || !(v > 0 && v <= 3600)) {
			fprintf(stderr, "bench_eval: BENCH_SECONDS must be a "
			    "number of seconds (0 to 3600)\n");
			return 2;
		}
		seconds = v;
	}
	only = getenv("BENCH_ONLY");
	if (only != NULL && *only == '\0')
		only = NULL;
	if (only != NULL && strcmp(only, "eval3") != 0 &&
	    strcmp(only, "eval1") != 0 && strcmp(only, "json") != 0 &&
	    strcmp(only, "parse") != 0 && strcmp(only, "text") != 0) {
		fprintf(stderr, "bench_eval: BENCH_ONLY must be eval3, eval1, "
		    "json, parse or text\n");
		return 2;
	}

	memset(&b3, 0, sizeof(b3));
	memset(&b1, 0, sizeof(b1));
	errlist_init(&errs);
	rc = pack_load((const char *const *)argv + 1, (size_t)argc - 1,
	    &pack, &errs);
	if (rc != 0) {
		for (i = 0; i < errs.n; i++) {
			tg_error_format(&errs.v[i], buf, sizeof(buf));
			fprintf(stderr, "%s\n", buf);
		}
		fprintf(stderr, "bench_eval: cannot load the rules: %s\n",
		    tg_strerror(rc));
		goto out;
	}

	b3.pack = b1.pack = pack;
	b3.today = b1.today = date_today();
	a = arena_new(0);
	if (a == NULL || parse_query(&b3, a, query3) != 0 ||
	    parse_query(&b1, a, query1) != 0)
		goto out;
	if (describe(&b3) != 0)
		goto out;
	pin_to_one_core();
	printf("pack %s %s; %.1f s per figure\n", pack_name(pack),
	    pack_version(pack), seconds);
	fflush(stdout);

	for (i = 0; i < NFIG; i++) {
		if (only != NULL && strcmp(only, figs[i].name) != 0)
			continue;
		if (measure(figs[i].fn, figs[i].b, &figs[i].rate) != 0)
			goto out;
		printf("%s: %.0f %s/s (%.0f ns/%s), %s\n", figs[i].what,
		    figs[i].rate, figs[i].unit, 1e9 / figs[i].rate,
		    figs[i].per, figs[i].tail);
		fflush(stdout);
	}
	if (only == NULL) {
		printf("request total (parse + eval + json), 3-item: %.0f "
		    "ns\n", 1e9 / figs[3].rate + 1e9 / figs[0].rate +
		    1e9 / figs[2].rate);
		printf("target: >= %.0f decisions/s for the 3-item query: "
		    "%s (%.2fx)\n", TARGET_PER_SEC, figs[0].rate >=
		    TARGET_PER_SEC ? "met" : "not met",
		    figs[0].rate / TARGET_PER_SEC);
	}
	status = 0;
out:
	decision_free(b3.d);
	arena_free(a);
	pack_unref(pack);
	errlist_release(&errs);
	return status;
}
