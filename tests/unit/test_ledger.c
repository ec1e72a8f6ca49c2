/*
 * test_ledger.c: the quota and license ledger (issue 4, "Concurrency and
 * failure" and "Acceptance") through the library, on a fresh data dir per
 * test, with the bundled pack (rules/ai-diffusion-2025.yaml and
 * rules/products.yaml) and queries parsed from JSON by api_query_parse.
 * Every decision goes audit_tx_begin -> api_decide_in_tx ->
 * audit_tx_commit, as `tiergate check` does.
 *
 *  - 48 threads, released together by a barrier, each decide one binding
 *    query of 100 H100 SXM (1,583,200 TPP) to IN for the same consignee on
 *    2025-07-01: on one shared struct tg_audit, and with one struct
 *    tg_audit (one SQLite connection) per thread.  Exactly 16 are
 *    authorized under LPP (the first 16 entries of the log, each seeing
 *    the balance the ones before it left) and 32 are license_required
 *    ("would exceed"); lpp/<id>/2025 is 16 x 1,583,200 = 25,331,200; the
 *    ledger and the audit log verify;
 *  - the calendar-year reset: a consignee at the cap on 2025-12-31 (1,699
 *    H100) gets LPP again on 2026-01-02;
 *  - voids release exactly what their decision reserved, are audit
 *    entries, and cannot be repeated (TG_EINVAL) or name an unknown
 *    decision (TG_ENOTFOUND); dry runs reserve nothing but report the
 *    balance they would leave;
 *  - licenses: a line beyond LPP citing a registered license is authorized
 *    under LICENSE (with its number) until the license is depleted, then
 *    license_required with a reason naming the license; lines of one query
 *    deplete it in turn; revoked, expired, other-country, other-consignee
 *    and unregistered licenses are refused with the reason; a quantity
 *    license depletes by units; licensed lines draw on the IN allocation;
 *    a void gives the license and the allocation back;
 *  - a failed group reserves nothing: an aborted group, a commit refused
 *    by audit_tx_commit, and a group that cannot begin because another
 *    connection holds the write lock past the 5 s busy timeout (TG_EIO,
 *    "busy"); the retry sees the balance as before;
 *  - api_ledger_verify notices a ledger altered behind the log's back
 *    (an amount, a deleted or un-voided reservation, any term of a
 *    license: TPP, units, date, country, consignee, ECCN, revocation).
 *
 * The concurrency test prints its figures ("[ INFO ]": wall time, how
 * long each decision held the write lock, the longest wait for it).  The
 * refused commit runs last: it is where ASan found a use-after-free.
 * Run from the repository root (the pack is read from rules/).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "tiergate/api.h"
#include "tiergate/jcs.h"
#include "tiergate/audit.h"
#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/util.h"
#include "tiergate/uuid.h"

#include "testdir.h"

#define H100_TPP 15832.0		/* TPP of one H100 SXM */
#define LPP_LIMIT 26900000.0		/* a consignee, a calendar year */
#define NTHREADS 48

/* The bundled pack, loaded once for every test (it is immutable). */
static struct tg_pack *pack;

struct fixture {
	char base[1024];	/* mkdtemp */
	char dir[1100];		/* base/data: the data dir */
	char path[PATH_MAX];	/* scratch */
};

/* ---- fixture --------------------------------------------------------- */

static int
group_setup(void **state)
{
	static const char *const paths[] = { "rules/ai-diffusion-2025.yaml",
	    "rules/products.yaml" };
	struct tg_errlist errs;
	int rc;

	(void)state;
	errlist_init(&errs);
	rc = pack_load(paths, 2, &pack, &errs);
	if (rc != 0)
		fprintf(stderr, "test_ledger: cannot load the bundled pack "
		    "(run from the repository root): %s\n",
		    errs.n > 0 ? errs.v[0].msg : tg_strerror(rc));
	errlist_release(&errs);
	return rc == 0 ? 0 : -1;
}

static int
group_teardown(void **state)
{
	(void)state;
	pack_unref(pack);
	pack = NULL;
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	if (test_tmpdir(f->base, sizeof(f->base), "test_ledger") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/data", f->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	test_rm_tree(f->base, 1);
	free(f);
	return 0;
}

static struct tg_audit *
open_log(struct fixture *f)
{
	struct tg_audit *a = NULL;
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = audit_open(f->dir, AUDIT_CREATE, &a, &err);
	if (rc != 0)
		print_error("audit_open: %s\n", err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(a);
	return a;
}

/* ---- queries and decisions ------------------------------------------- */

/*
 * One line of qty H100 SXM to IN for consignee id on date, citing license
 * (NULL: none); binding unless dry.
 */
static const char *
h100_query(char *buf, size_t size, const char *date, const char *id,
    int qty, const char *license, bool dry)
{
	char lic[96] = "";
	int n;

	if (license != NULL)
		snprintf(lic, sizeof(lic), ",\"license\":\"%s\"", license);
	n = snprintf(buf, size, "{\"date\":\"%s\",\"destination\":\"IN\","
	    "\"dry_run\":%s,\"consignee\":{\"id\":\"%s\",\"name\":\"Consignee "
	    "%s\",\"country\":\"IN\",\"headquarters\":\"IN\"},\"items\":[{"
	    "\"kind\":\"chip\",\"product\":\"nvidia-h100-sxm\",\"quantity\":"
	    "%d%s}]}", date, dry ? "true" : "false", id, id, qty, lic);
	return n > 0 && (size_t)n < size ? buf : NULL;
}

/* How long a decision waited for the write lock and then held it. */
struct timing {
	double wait, hold;
};

/*
 * Decides the query text in a commit group of its own and returns the
 * decision JSON with its receipt, or NULL with *rcp and err set.  Fills
 * tm when not NULL.  No cmocka calls: the threads use it.
 */
static json_t *
decide_timed(struct tg_audit *a, const char *text, int *rcp,
    struct tg_error *err, struct timing *tm)
{
	const struct tg_query *q = NULL;
	struct tg_decision *d = NULL;
	struct tg_arena *arena;
	struct audit_tx *tx = NULL;
	struct audit_receipt r;
	json_t *j = NULL, *req = NULL;
	char id[UUID_STR_LEN + 1];
	double t0 = 0, t1 = 0;
	int rc;

	tg_error_clear(err);
	if (text == NULL) {
		*rcp = tg_error_set(err, TG_EINVAL, "no query");
		return NULL;
	}
	arena = arena_new(0);
	if (arena == NULL) {
		*rcp = -ENOMEM;
		return NULL;
	}
	rc = api_query_parse(text, strlen(text), arena, date_today(), &q,
	    err);
	if (rc == 0)
		rc = uuid_v7(id);
	if (rc == 0) {
		req = json_loads(text, 0, NULL);
		t0 = (double)mono_ns() / 1e9;
		rc = audit_tx_begin(a, &tx, err);
		t1 = (double)mono_ns() / 1e9;
	}
	if (rc == 0) {
		char *reqc = req != NULL ? jcs_dumps(req) : NULL;

		rc = api_decide_in_tx(tx, pack, q, reqc,
		    reqc != NULL ? strlen(reqc) : 0, id, &d, err);
		free(reqc);
		if (rc == 0 && (j = api_decision_to_json(d, id)) == NULL)
			rc = -ENOMEM;
		if (rc != 0)
			audit_tx_abort(tx);
		else
			rc = audit_tx_commit(tx, &r, 1, err);
		tx = NULL;
		if (tm != NULL) {
			tm->wait = t1 - t0;
			tm->hold = (double)mono_ns() / 1e9 - t1;
		}
	}
	if (rc == 0) {
		rc = api_attach_receipt(j, &r);
		audit_receipt_release(&r);
	}
	if (rc != 0) {
		json_decref(j);
		j = NULL;
	}
	decision_free(d);
	json_decref(req);
	arena_free(arena);
	*rcp = rc;
	return j;
}

static json_t *
decide(struct tg_audit *a, const char *text, int *rcp, struct tg_error *err)
{
	return decide_timed(a, text, rcp, err, NULL);
}

/* Decides text, which must succeed. */
static json_t *
decide_ok(struct tg_audit *a, const char *text)
{
	struct tg_error err;
	json_t *j;
	int rc;

	j = decide(a, text, &rc, &err);
	if (rc != 0)
		print_error("decide: %d: %s (%s)\n", rc, err.msg, err.pointer);
	assert_int_equal(rc, 0);
	assert_non_null(j);
	return j;
}

static json_t *
item(const json_t *j, size_t i)
{
	json_t *it = json_array_get(json_object_get(j, "items"), i);

	assert_non_null(it);
	return it;
}

/* Item i's string member key, "" when null or absent. */
static const char *
item_str(const json_t *j, size_t i, const char *key)
{
	const char *s = json_string_value(json_object_get(item(j, i), key));

	return s != NULL ? s : "";
}

/* The text of item i's reason by rule, "" when it has none. */
static const char *
reason(const json_t *j, size_t i, const char *rule)
{
	json_t *r;
	size_t k;

	json_array_foreach(json_object_get(item(j, i), "reasons"), k, r) {
		const char *s = json_string_value(json_object_get(r, "rule"));

		if (s != NULL && strcmp(s, rule) == 0) {
			s = json_string_value(json_object_get(r, "text"));
			return s != NULL ? s : "";
		}
	}
	return "";
}

/* quotas[] member field of the quota name/key; NAN when absent. */
static double
quota_field(const json_t *j, const char *name, const char *key,
    const char *field)
{
	json_t *q;
	size_t k;

	json_array_foreach(json_object_get(j, "quotas"), k, q) {
		const char *n = json_string_value(json_object_get(q, "name"));
		const char *y = json_string_value(json_object_get(q, "key"));

		if (n != NULL && y != NULL && strcmp(n, name) == 0 &&
		    strcmp(y, key) == 0)
			return json_number_value(json_object_get(q, field));
	}
	return NAN;
}

static uint64_t
receipt_seq(const json_t *j)
{
	json_t *s = json_object_get(json_object_get(j, "receipt"), "seq");

	assert_true(json_is_integer(s));
	return (uint64_t)json_integer_value(s);
}

static const char *
decision_id(const json_t *j)
{
	const char *s = json_string_value(json_object_get(j, "decision_id"));

	assert_non_null(s);
	return s;
}

#define assert_contains(hay, needle) do {				\
	const char *h_ = (hay);						\
	if (h_ == NULL || strstr(h_, (needle)) == NULL)			\
		print_error("'%s' does not contain '%s'\n",		\
		    h_ ? h_ : "(null)", (needle));			\
	assert_true(h_ != NULL && strstr(h_, (needle)) != NULL);	\
} while (0)

#define assert_amount(got, want) do {					\
	double g_ = (got), w_ = (want);					\
	if (!(fabs(g_ - w_) < 0.5))					\
		print_error("amount %.3f, want %.3f\n", g_, w_);	\
	assert_true(fabs(g_ - w_) < 0.5);				\
} while (0)

/* Item 0 must be authorized under auth (and license, when not NULL). */
static void
assert_authorized(const json_t *j, size_t i, const char *auth,
    const char *license)
{
	if (strcmp(item_str(j, i, "outcome"), "authorized") != 0) {
		char *s = api_dumps(json_object_get(j, "items"), true);

		print_error("item %zu is not authorized:\n%s\n", i, s);
		free(s);
	}
	assert_string_equal(item_str(j, i, "outcome"), "authorized");
	assert_string_equal(item_str(j, i, "authorization"), auth);
	if (license != NULL)
		assert_string_equal(item_str(j, i, "license"), license);
}

static void
assert_license_required(const json_t *j, size_t i)
{
	if (strcmp(item_str(j, i, "outcome"), "license_required") != 0) {
		char *s = api_dumps(json_object_get(j, "items"), true);

		print_error("item %zu is not license_required:\n%s\n", i, s);
		free(s);
	}
	assert_string_equal(item_str(j, i, "outcome"), "license_required");
	assert_string_equal(item_str(j, i, "authorization"), "");
}

/* ---- the ledger ------------------------------------------------------ */

static int
sum_balance(void *ctx, const struct audit_balance *b)
{
	*(double *)ctx += b->amount;
	return 0;
}

/* What the ledger holds of quota/key/period (0 when nothing). */
static double
balance(struct tg_audit *a, const char *quota, const char *key,
    const char *period)
{
	struct tg_error err;
	double v = 0;

	tg_error_clear(&err);
	assert_int_equal(audit_balances(a, quota, key, period, sum_balance,
	    &v, &err), 0);
	return v;
}

static uint64_t
log_size(struct tg_audit *a)
{
	struct tg_error err;
	uint64_t n = UINT64_MAX;

	assert_int_equal(audit_size(a, &n, &err), 0);
	return n;
}

/* The ledger recomputed from the log must match it (ok), or not. */
static void
ledger_verify_is(struct tg_audit *a, bool want, const char *detail_has)
{
	struct tg_error err;
	char detail[512];
	bool ok = !want;
	int rc;

	tg_error_clear(&err);
	rc = api_ledger_verify(a, &ok, detail, sizeof(detail), NULL, &err);
	if (rc != 0)
		print_error("api_ledger_verify: %d: %s\n", rc, err.msg);
	assert_int_equal(rc, 0);
	if (ok != want)
		print_error("ledger verify: %s, want %s: '%s'\n",
		    ok ? "ok" : "not ok", want ? "ok" : "not ok", detail);
	assert_true(ok == want);
	if (detail_has != NULL)
		assert_contains(detail, detail_has);
}

static void
audit_verify_ok(struct tg_audit *a, uint64_t entries)
{
	struct audit_report rep;
	struct tg_error err;

	tg_error_clear(&err);
	assert_int_equal(audit_verify(a, NULL, NULL, &rep, &err), 0);
	if (rep.damage != AUDIT_OK)
		print_error("audit_verify: entry %" PRIu64 ": %s: %s\n",
		    rep.seq, audit_damage_name(rep.damage), rep.detail);
	assert_int_equal(rep.damage, AUDIT_OK);
	assert_int_equal(rep.entries, entries);
}

static void
license_add(struct tg_audit *a, const char *number, const char *country,
    double tpp, double quantity, const char *valid_until,
    const char *consignee)
{
	struct api_license_in in = { .number = number, .country = country,
	    .valid_until = valid_until, .consignee = consignee, .tpp = tpp,
	    .quantity = quantity };
	struct audit_receipt r;
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = api_license_add(a, &in, &r, &err);
	if (rc != 0)
		print_error("api_license_add %s: %s\n", number, err.msg);
	assert_int_equal(rc, 0);
	assert_string_equal(r.kind, "license");
	audit_receipt_release(&r);
}

/* Runs one statement with a connection of our own (a tamperer's). */
static void
raw_exec(struct fixture *f, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;

	snprintf(f->path, sizeof(f->path), "%s/tiergate.db", f->dir);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		print_error("%s: %s\n", sql, msg ? msg : "?");
	assert_null(msg);
	assert_true(sqlite3_changes(db) > 0);
	sqlite3_close(db);
}

/* ---- (a) concurrency ------------------------------------------------- */

struct worker {
	pthread_t t;
	pthread_barrier_t *bar;
	struct tg_audit *shared;	/* NULL: open one of its own */
	const char *dir;
	const char *query;
	json_t *j;
	struct tg_error err;
	struct timing tm;
	int rc;
};

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct tg_audit *a = w->shared;

	w->rc = 0;
	if (a == NULL)
		w->rc = audit_open(w->dir, 0, &a, &w->err);
	/* Every thread waits, even one whose open failed. */
	pthread_barrier_wait(w->bar);
	if (w->rc == 0)
		w->j = decide_timed(a, w->query, &w->rc, &w->err, &w->tm);
	if (w->shared == NULL)
		audit_close(a);
	return NULL;
}

static void
concurrent_lpp(struct fixture *f, bool own_connections)
{
	static struct worker w[NTHREADS];
	pthread_barrier_t bar;
	struct tg_audit *a;
	double t0, dt, want, maxwait = 0, hold = 0, maxhold = 0;
	char q[1024];
	int authorized = 0, required = 0;
	bool seen[NTHREADS + 1];

	a = open_log(f);
	assert_non_null(h100_query(q, sizeof(q), "2025-07-01", "race-in-1",
	    100, NULL, false));
	assert_int_equal(pthread_barrier_init(&bar, NULL, NTHREADS + 1), 0);
	memset(w, 0, sizeof(w));
	for (size_t i = 0; i < NTHREADS; i++) {
		w[i].bar = &bar;
		w[i].shared = own_connections ? NULL : a;
		w[i].dir = f->dir;
		w[i].query = q;
		assert_int_equal(pthread_create(&w[i].t, NULL, worker_main,
		    &w[i]), 0);
	}
	pthread_barrier_wait(&bar);
	t0 = (double)mono_ns() / 1e9;
	for (size_t i = 0; i < NTHREADS; i++)
		pthread_join(w[i].t, NULL);
	dt = (double)mono_ns() / 1e9 - t0;
	pthread_barrier_destroy(&bar);
	for (size_t i = 0; i < NTHREADS; i++) {
		maxwait = fmax(maxwait, w[i].tm.wait);
		maxhold = fmax(maxhold, w[i].tm.hold);
		hold += w[i].tm.hold;
	}
	print_message("[ INFO     ] %d threads, %s: %.3f s; lock held "
	    "%.1f ms per decision (max %.1f ms), longest wait for it %.3f "
	    "s\n", NTHREADS, own_connections ? "a connection each" :
	    "one shared struct tg_audit", dt, hold * 1000 / NTHREADS,
	    maxhold * 1000, maxwait);

	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < NTHREADS; i++) {
		uint64_t seq;
		double used;

		if (w[i].rc != 0)
			print_error("thread %zu: %d: %s\n", i, w[i].rc,
			    w[i].err.msg);
		assert_int_equal(w[i].rc, 0);
		seq = receipt_seq(w[i].j);
		assert_true(seq >= 1 && seq <= NTHREADS);
		assert_false(seen[seq]);
		seen[seq] = true;
		used = quota_field(w[i].j, "lpp", "race-in-1", "used");
		/*
		 * Serialized: entry seq was decided on the balance the
		 * seq - 1 before it left, so the first 16 fit.
		 */
		if (seq <= 16) {
			assert_authorized(w[i].j, 0, "LPP", NULL);
			assert_string_equal(json_string_value(json_object_get(
			    w[i].j, "outcome")), "authorized");
			assert_amount(used, (double)seq * 100 * H100_TPP);
			assert_amount(quota_field(w[i].j, "lpp", "race-in-1",
			    "reserved"), 100 * H100_TPP);
			authorized++;
		} else {
			assert_license_required(w[i].j, 0);
			assert_contains(reason(w[i].j, 0, "auth.lpp"),
			    "would exceed");
			assert_amount(used, 16 * 100 * H100_TPP);
			assert_amount(quota_field(w[i].j, "lpp", "race-in-1",
			    "reserved"), 0);
			required++;
		}
	}
	assert_int_equal(authorized, 16);
	assert_int_equal(required, 32);
	want = 16 * 1583200.0;
	assert_amount(want, 25331200);
	assert_true(want <= LPP_LIMIT && want + 1583200 > LPP_LIMIT);
	assert_amount(balance(a, "lpp", "race-in-1", "2025"), want);
	/* Authorized under LPP, so nothing drew on the allocation. */
	assert_amount(balance(a, "allocation", "IN", NULL), 0);
	ledger_verify_is(a, true, NULL);
	audit_verify_ok(a, NTHREADS);
	for (size_t i = 0; i < NTHREADS; i++)
		json_decref(w[i].j);
	audit_close(a);
}

static void
test_concurrent_shared(void **state)
{
	concurrent_lpp(*state, false);
}

static void
test_concurrent_connections(void **state)
{
	concurrent_lpp(*state, true);
}

/* ---- (b) calendar year ----------------------------------------------- */

static void
test_year_reset(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a = open_log(f);
	const double cap = 1699 * H100_TPP;	/* 26,898,568 */
	char q[1024];
	json_t *j;

	j = decide_ok(a, h100_query(q, sizeof(q), "2025-12-31", "year-1",
	    1699, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	assert_amount(quota_field(j, "lpp", "year-1", "used"), cap);
	json_decref(j);

	/* At the cap: not one more H100 in 2025. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-12-31", "year-1", 1,
	    NULL, false));
	assert_license_required(j, 0);
	assert_contains(reason(j, 0, "auth.lpp"), "would exceed");
	json_decref(j);

	/* A new calendar year, a new LPP allowance. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2026-01-02", "year-1",
	    1699, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	assert_amount(quota_field(j, "lpp", "year-1", "used"), cap);
	assert_amount(quota_field(j, "lpp", "year-1", "reserved"), cap);
	json_decref(j);

	j = decide_ok(a, h100_query(q, sizeof(q), "2026-01-02", "year-1", 1,
	    NULL, false));
	assert_license_required(j, 0);
	json_decref(j);

	assert_amount(balance(a, "lpp", "year-1", "2025"), cap);
	assert_amount(balance(a, "lpp", "year-1", "2026"), cap);
	ledger_verify_is(a, true, NULL);
	audit_verify_ok(a, 4);
	audit_close(a);
}

/* ---- (c) voids and dry runs ------------------------------------------ */

static void
void_ok(struct tg_audit *a, const char *id, int want_released)
{
	struct audit_receipt r;
	struct tg_error err;
	int rc, released = -1;

	tg_error_clear(&err);
	rc = api_void_decision(a, id, "entered twice", "J. Officer", &r,
	    &released, &err);
	if (rc != 0)
		print_error("void %s: %s\n", id, err.msg);
	assert_int_equal(rc, 0);
	assert_int_equal(released, want_released);
	assert_string_equal(r.kind, "void");
	audit_receipt_release(&r);
}

static void
test_void(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a = open_log(f);
	struct audit_receipt r;
	struct tg_error err;
	char q[1024], ida[UUID_STR_LEN + 1], idb[UUID_STR_LEN + 1];
	json_t *j;
	uint64_t n;
	int released;

	/* 1,000 H100 then its void: back to nothing. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    1000, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	snprintf(ida, sizeof(ida), "%s", decision_id(j));
	json_decref(j);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 15832000);
	void_ok(a, ida, 1);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 0);
	assert_int_equal(log_size(a), 2);

	/* Twice: refused, and nothing is appended or released. */
	n = log_size(a);
	tg_error_clear(&err);
	memset(&r, 0, sizeof(r));
	released = -1;
	assert_int_equal(api_void_decision(a, ida, "again", NULL, &r,
	    &released, &err), TG_EINVAL);
	assert_contains(err.msg, "voided already");
	assert_int_equal(released, 0);
	assert_int_equal(log_size(a), n);

	/* Unknown. */
	tg_error_clear(&err);
	assert_int_equal(api_void_decision(a,
	    "01890000-0000-7000-8000-000000000000", "typo", NULL, &r,
	    &released, &err), TG_ENOTFOUND);
	assert_int_equal(log_size(a), n);

	/* Exactly its amount: B and C reserved, void B leaves C. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    500, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	snprintf(idb, sizeof(idb), "%s", decision_id(j));
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    1000, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	json_decref(j);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 23748000);
	/* 300 more would cross the cap... */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    300, NULL, false));
	assert_license_required(j, 0);
	json_decref(j);
	/* ...until B is voided. */
	void_ok(a, idb, 1);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 15832000);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    300, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	assert_amount(quota_field(j, "lpp", "void-1", "used"), 20581600);
	json_decref(j);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 20581600);

	/* A dry run reserves nothing but reports the balance it would
	 * leave. */
	n = log_size(a);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    300, NULL, true));
	assert_authorized(j, 0, "LPP", NULL);
	assert_true(json_is_true(json_object_get(j, "dry_run")));
	assert_amount(quota_field(j, "lpp", "void-1", "used"), 25331200);
	json_decref(j);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 20581600);
	assert_int_equal(log_size(a), n + 1);	/* logged, marked */
	/* The same, binding, still fits: the dry run took nothing. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    300, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	json_decref(j);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 25331200);
	/* And a dry run over the cap says so without reserving. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "void-1",
	    100, NULL, true));
	assert_license_required(j, 0);
	json_decref(j);
	assert_amount(balance(a, "lpp", "void-1", "2025"), 25331200);

	ledger_verify_is(a, true, NULL);
	audit_verify_ok(a, log_size(a));
	audit_close(a);
}

/* ---- (d) licenses ---------------------------------------------------- */

/* A license line must be refused with a reason naming the license. */
static void
assert_license_refused(const json_t *j, size_t i, const char *number,
    const char *why)
{
	char want[128];

	assert_license_required(j, i);
	snprintf(want, sizeof(want), "license %s does not cover the line: ",
	    number);
	assert_contains(reason(j, i, "license"), want);
	assert_contains(reason(j, i, "license"), why);
}

static void
test_license(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a = open_log(f);
	struct api_license_in in;
	struct audit_license l;
	struct audit_receipt r;
	struct tg_error err;
	char q[1024], id89[UUID_STR_LEN + 1];
	double alloc = 0;		/* TPP shipped under licenses */
	bool found;
	json_t *j;

	license_add(a, "D-100", "IN", 3000000, NAN, "2026-06-30", NULL);
	memset(&in, 0, sizeof(in));
	in.number = "D-100";
	in.country = "IN";
	in.valid_until = "2026-06-30";
	in.tpp = 1;
	in.quantity = NAN;
	tg_error_clear(&err);
	assert_int_equal(api_license_add(a, &in, &r, &err), TG_EINVAL);

	/* The consignee uses up LPP; a line citing a license that LPP
	 * would cover uses LPP, not the license. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1",
	    1000, "D-100", false));
	assert_authorized(j, 0, "LPP", NULL);
	assert_string_equal(item_str(j, 0, "license"), "");
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1",
	    699, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	json_decref(j);
	assert_amount(balance(a, "license_tpp", "D-100", NULL), 0);

	/* Beyond LPP: the license, until it is used up. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1",
	    100, "D-100", false));
	assert_authorized(j, 0, "LICENSE", "D-100");
	assert_contains(reason(j, 0, "license"), "export license D-100 "
	    "covers the line");
	assert_amount(quota_field(j, "license_tpp", "D-100", "used"),
	    1583200);
	assert_amount(quota_field(j, "license_tpp", "D-100", "limit"),
	    3000000);
	assert_amount(quota_field(j, "license_tpp", "D-100", "reserved"),
	    1583200);
	alloc += 1583200;
	assert_amount(quota_field(j, "allocation", "IN", "reserved"),
	    1583200);
	json_decref(j);

	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1",
	    100, "D-100", false));
	assert_license_refused(j, 0, "D-100", "1583200 TPP used + 1583200 "
	    "exceeds its 3000000 TPP");
	assert_amount(quota_field(j, "license_tpp", "D-100", "reserved"), 0);
	json_decref(j);

	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1",
	    89, "D-100", false));
	assert_authorized(j, 0, "LICENSE", "D-100");
	snprintf(id89, sizeof(id89), "%s", decision_id(j));
	alloc += 89 * H100_TPP;
	json_decref(j);
	assert_amount(balance(a, "license_tpp", "D-100", "all"), 2992248);

	/* 7,752 TPP left: not one H100. */
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 1,
	    "D-100", false));
	assert_license_refused(j, 0, "D-100", "exceeds its 3000000 TPP");
	json_decref(j);
	tg_error_clear(&err);
	assert_int_equal(audit_license_get(a, "D-100", &l, &found, &err), 0);
	assert_true(found);
	assert_amount(l.tpp_used, 2992248);
	assert_amount(l.tpp, 3000000);

	/* A void gives the license (and the allocation) back. */
	void_ok(a, id89, 2);
	alloc -= 89 * H100_TPP;
	assert_amount(balance(a, "license_tpp", "D-100", "all"), 1583200);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1",
	    89, "D-100", false));
	assert_authorized(j, 0, "LICENSE", "D-100");
	alloc += 89 * H100_TPP;
	json_decref(j);

	/* Lines of one query deplete it in turn. */
	license_add(a, "D-200", "IN", 3000000, NAN, "2026-06-30", NULL);
	j = decide_ok(a, "{\"date\":\"2025-07-01\",\"destination\":\"IN\","
	    "\"dry_run\":false,\"consignee\":{\"id\":\"lic-1\",\"name\":"
	    "\"Consignee lic-1\",\"country\":\"IN\",\"headquarters\":\"IN\"},"
	    "\"items\":[{\"kind\":\"chip\",\"product\":\"nvidia-h100-sxm\","
	    "\"quantity\":100,\"license\":\"D-200\"},{\"kind\":\"chip\","
	    "\"product\":\"nvidia-h100-sxm\",\"quantity\":100,\"license\":"
	    "\"D-200\"}]}");
	assert_authorized(j, 0, "LICENSE", "D-200");
	assert_license_refused(j, 1, "D-200", "1583200 TPP used + 1583200 "
	    "exceeds its 3000000 TPP");
	alloc += 1583200;
	json_decref(j);
	assert_amount(balance(a, "license_tpp", "D-200", "all"), 1583200);

	/* Revoked. */
	license_add(a, "D-300", "IN", 100000000, NAN, "2026-06-30", NULL);
	tg_error_clear(&err);
	assert_int_equal(api_license_revoke(a, "D-300", "superseded", &r,
	    &err), 0);
	assert_string_equal(r.kind, "license_revoked");
	audit_receipt_release(&r);
	tg_error_clear(&err);
	assert_int_equal(api_license_revoke(a, "D-300", "again", &r, &err),
	    TG_EINVAL);
	tg_error_clear(&err);
	assert_int_equal(api_license_revoke(a, "D-nope", "?", &r, &err),
	    TG_ENOTFOUND);
	tg_error_clear(&err);
	assert_int_equal(audit_license_get(a, "D-300", &l, &found, &err), 0);
	assert_true(found);
	assert_true(l.revoked_seq != 0);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-300", false));
	assert_license_refused(j, 0, "D-300", "it was revoked");
	json_decref(j);

	/* Expired; valid on its last day. */
	license_add(a, "D-400", "IN", 100000000, NAN, "2025-06-30", NULL);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-400", false));
	assert_license_refused(j, 0, "D-400", "it expired");
	json_decref(j);
	license_add(a, "D-401", "IN", 100000000, NAN, "2025-07-01", NULL);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-401", false));
	assert_authorized(j, 0, "LICENSE", "D-401");
	alloc += 10 * H100_TPP;
	json_decref(j);

	/* Another country, another consignee, not registered. */
	license_add(a, "D-500", "AE", 100000000, NAN, "2026-06-30", NULL);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-500", false));
	assert_license_refused(j, 0, "D-500", "issued for AE, not IN");
	json_decref(j);
	license_add(a, "D-501", "IN", 100000000, NAN, "2026-06-30",
	    "someone-else");
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-501", false));
	assert_license_refused(j, 0, "D-501", "another consignee");
	json_decref(j);
	license_add(a, "D-502", "IN", 100000000, NAN, "2026-06-30", "lic-1");
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-502", false));
	assert_authorized(j, 0, "LICENSE", "D-502");
	alloc += 10 * H100_TPP;
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 10,
	    "D-999", false));
	assert_license_refused(j, 0, "D-999", "not registered");
	json_decref(j);

	/* A quantity license depletes by units. */
	license_add(a, "D-600", "IN", NAN, 150, "2026-06-30", NULL);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 100,
	    "D-600", false));
	assert_authorized(j, 0, "LICENSE", "D-600");
	assert_amount(quota_field(j, "license_quantity", "D-600", "reserved"),
	    100);
	assert_true(isnan(quota_field(j, "license_tpp", "D-600", "used")));
	alloc += 100 * H100_TPP;
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 60,
	    "D-600", false));
	assert_license_refused(j, 0, "D-600", "100 units used + 60 exceeds "
	    "its 150 units");
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 50,
	    "D-600", false));
	assert_authorized(j, 0, "LICENSE", "D-600");
	alloc += 50 * H100_TPP;
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "lic-1", 1,
	    "D-600", false));
	assert_license_refused(j, 0, "D-600", "150 units used + 1 exceeds");
	json_decref(j);
	assert_amount(balance(a, "license_quantity", "D-600", "all"), 150);
	tg_error_clear(&err);
	assert_int_equal(audit_license_get(a, "D-600", &l, &found, &err), 0);
	assert_amount(l.quantity_used, 150);

	/* Licensed shipments to Tier 2 draw on the country allocation;
	 * LPP shipments and refused lines do not. */
	assert_amount(balance(a, "allocation", "IN", "2025-2027"), alloc);
	assert_amount(balance(a, "lpp", "lic-1", "2025"), 1699 * H100_TPP);

	ledger_verify_is(a, true, NULL);
	audit_verify_ok(a, log_size(a));
	audit_close(a);
}

/* ---- (e) failures reserve nothing ------------------------------------ */

/*
 * Decides 100 H100 for fail-1 inside a group of a (which must reserve
 * them: 1,583,200 are used before), then ends the group with
 * audit_tx_abort, or with an audit_tx_commit that must refuse it (two
 * receipts asked of a group of one entry).
 */
static void
decide_and_fail(struct tg_audit *a, const char *id, bool commit)
{
	const struct tg_query *qq = NULL;
	struct tg_decision *d = NULL;
	struct audit_receipt r[2];
	struct tg_arena *arena;
	struct audit_tx *tx = NULL;
	struct tg_error err;
	char q[1024];
	json_t *j = NULL;

	arena = arena_new(0);
	assert_non_null(arena);
	assert_non_null(h100_query(q, sizeof(q), "2025-07-01", "fail-1", 100,
	    NULL, false));
	tg_error_clear(&err);
	assert_int_equal(api_query_parse(q, strlen(q), arena, date_today(),
	    &qq, &err), 0);
	assert_int_equal(audit_tx_begin(a, &tx, &err), 0);
	assert_int_equal(api_decide_in_tx(tx, pack, qq, NULL, 0, id, &d,
	    &err), 0);
	j = api_decision_to_json(d, id);
	assert_non_null(j);
	assert_authorized(j, 0, "LPP", NULL);
	assert_amount(quota_field(j, "lpp", "fail-1", "used"), 3166400);
	assert_amount(quota_field(j, "lpp", "fail-1", "reserved"), 1583200);
	if (commit) {
		tg_error_clear(&err);
		memset(r, 0, sizeof(r));
		assert_int_equal(audit_tx_commit(tx, r, 2, &err),
		    TG_EINTERNAL);
		assert_null(r[0].checkpoint);
	} else
		audit_tx_abort(tx);
	json_decref(j);
	decision_free(d);
	arena_free(arena);
}

static void
test_failed_commit(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a = open_log(f);
	struct tg_error err;
	sqlite3 *db = NULL;
	char q[1024];
	json_t *j = NULL;
	double t0, dt;
	uint64_t n;
	int rc;

	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "fail-1",
	    100, NULL, false));
	assert_authorized(j, 0, "LPP", NULL);
	json_decref(j);
	n = log_size(a);
	assert_amount(balance(a, "lpp", "fail-1", "2025"), 1583200);

	/* Decided and reserved inside the group, then aborted. */
	decide_and_fail(a, "01890000-0000-7000-8000-0000000000a1", false);
	assert_int_equal(log_size(a), n);
	assert_amount(balance(a, "lpp", "fail-1", "2025"), 1583200);

	/* Another connection holds the write lock past the busy timeout:
	 * the group cannot begin, the decision is not given. */
	snprintf(f->path, sizeof(f->path), "%s/tiergate.db", f->dir);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	t0 = (double)mono_ns() / 1e9;
	j = decide(a, h100_query(q, sizeof(q), "2025-07-01", "fail-1", 100,
	    NULL, false), &rc, &err);
	dt = (double)mono_ns() / 1e9 - t0;
	print_message("[ INFO     ] busy: TG_EIO after %.2f s: %s\n", dt,
	    err.msg);
	assert_int_equal(rc, TG_EIO);
	assert_null(j);
	assert_contains(err.msg, "busy");
	assert_true(dt >= 4.0);
	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(log_size(a), n);
	assert_amount(balance(a, "lpp", "fail-1", "2025"), 1583200);

	/* The retry is decided on the balance as it was. */
	j = decide_ok(a, q);
	assert_authorized(j, 0, "LPP", NULL);
	assert_amount(quota_field(j, "lpp", "fail-1", "used"), 3166400);
	assert_int_equal(receipt_seq(j), n + 1);
	json_decref(j);
	assert_amount(balance(a, "lpp", "fail-1", "2025"), 3166400);
	ledger_verify_is(a, true, NULL);
	audit_verify_ok(a, n + 1);
	audit_close(a);
}

/* ---- the ledger is proven from the log ------------------------------- */

static void
test_verify_tamper(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a = open_log(f);
	char q[1024], id[UUID_STR_LEN + 1];
	json_t *j;

	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "tamper-1",
	    1000, NULL, false));
	snprintf(id, sizeof(id), "%s", decision_id(j));
	json_decref(j);
	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "tamper-2",
	    10, NULL, false));
	json_decref(j);
	void_ok(a, id, 1);
	ledger_verify_is(a, true, NULL);

	/* An amount. */
	raw_exec(f, "UPDATE reservations SET amount = amount + 1 WHERE "
	    "key = 'tamper-2'");
	ledger_verify_is(a, false, "lpp/tamper-2/2025");
	raw_exec(f, "UPDATE reservations SET amount = amount - 1 WHERE "
	    "key = 'tamper-2'");
	ledger_verify_is(a, true, NULL);

	/* A voided reservation brought back. */
	raw_exec(f, "UPDATE reservations SET void_seq = NULL WHERE "
	    "key = 'tamper-1'");
	ledger_verify_is(a, false, "tamper-1");
	raw_exec(f, "UPDATE reservations SET void_seq = (SELECT max(seq) "
	    "FROM entries WHERE kind = 'void') WHERE key = 'tamper-1'");
	ledger_verify_is(a, true, NULL);

	/* A reservation deleted. */
	raw_exec(f, "DELETE FROM reservations WHERE key = 'tamper-2'");
	ledger_verify_is(a, false, "tamper-2");
	audit_close(a);
}

/*
 * Every term of a license decides later lines, so each is proven from
 * its signed registration: a ledger whose license was widened (more TPP
 * or units, a later date, any consignee or ECCN, no longer revoked) or
 * moved must not verify.
 */
static void
test_verify_license_terms(void **state)
{
	static const char *const sql[] = {
		"UPDATE licenses SET tpp = 9e9 WHERE number = 'T-1'",
		"UPDATE licenses SET valid_until = '2099-12-31' WHERE "
		    "number = 'T-1'",
		"UPDATE licenses SET country = 'AE' WHERE number = 'T-1'",
		"UPDATE licenses SET revoked_seq = NULL WHERE number = 'T-2'",
		"UPDATE licenses SET quantity = 1000000 WHERE number = 'T-1'",
		"UPDATE licenses SET consignee = NULL WHERE number = 'T-1'",
		"UPDATE licenses SET eccn = NULL WHERE number = 'T-1'",
	};
	struct api_license_in in = { .number = "T-1", .country = "IN",
	    .valid_until = "2026-06-30", .consignee = "tamper-1",
	    .eccn = "3A090.a", .tpp = 3000000, .quantity = 500 };
	struct fixture *f = *state;
	struct audit_receipt r;
	struct tg_error err;
	struct tg_audit *a;
	char save[PATH_MAX], db[PATH_MAX];
	int fails = 0;

	a = open_log(f);
	tg_error_clear(&err);
	assert_int_equal(api_license_add(a, &in, &r, &err), 0);
	audit_receipt_release(&r);
	license_add(a, "T-2", "IN", 3000000, NAN, "2026-06-30", NULL);
	assert_int_equal(api_license_revoke(a, "T-2", "withdrawn", &r, &err),
	    0);
	audit_receipt_release(&r);
	ledger_verify_is(a, true, NULL);
	audit_close(a);
	snprintf(db, sizeof(db), "%s/tiergate.db", f->dir);
	snprintf(save, sizeof(save), "%s/clean.db", f->base);
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
		char detail[512];
		bool ok = true;
		sqlite3 *h = NULL, *b = NULL;
		sqlite3_backup *bk;

		/* Tamper a copy: back the clean db up first. */
		assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE,
		    NULL), SQLITE_OK);
		assert_int_equal(sqlite3_open_v2(save, &b,
		    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
		    SQLITE_OK);
		bk = sqlite3_backup_init(b, "main", h, "main");
		assert_non_null(bk);
		assert_int_equal(sqlite3_backup_step(bk, -1), SQLITE_DONE);
		sqlite3_backup_finish(bk);
		assert_int_equal(sqlite3_exec(h, sql[i], NULL, NULL, NULL),
		    SQLITE_OK);
		assert_int_equal(sqlite3_changes(h), 1);
		sqlite3_close(h);

		a = open_log(f);
		tg_error_clear(&err);
		assert_int_equal(api_ledger_verify(a, &ok, detail,
		    sizeof(detail), NULL, &err), 0);
		audit_close(a);
		if (ok) {
			print_error("not noticed: %s\n", sql[i]);
			fails++;
		}

		/* Restore. */
		assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE,
		    NULL), SQLITE_OK);
		bk = sqlite3_backup_init(h, "main", b, "main");
		assert_non_null(bk);
		assert_int_equal(sqlite3_backup_step(bk, -1), SQLITE_DONE);
		sqlite3_backup_finish(bk);
		sqlite3_close(h);
		sqlite3_close(b);
	}
	assert_int_equal(fails, 0);
}

/* A commit audit_tx_commit refuses reserves nothing either.  (Last: a
 * use-after-free here would end the ASan run.) */
static void
test_commit_refused(void **state)
{
	struct fixture *f = *state;
	struct tg_audit *a = open_log(f);
	char q[1024];
	json_t *j;
	uint64_t n;

	j = decide_ok(a, h100_query(q, sizeof(q), "2025-07-01", "fail-1",
	    100, NULL, false));
	json_decref(j);
	n = log_size(a);
	decide_and_fail(a, "01890000-0000-7000-8000-0000000000a2", true);
	assert_int_equal(log_size(a), n);
	assert_amount(balance(a, "lpp", "fail-1", "2025"), 1583200);
	j = decide_ok(a, q);
	assert_amount(quota_field(j, "lpp", "fail-1", "used"), 3166400);
	json_decref(j);
	ledger_verify_is(a, true, NULL);
	audit_verify_ok(a, n + 1);
	audit_close(a);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_concurrent_shared),
		T(test_concurrent_connections),
		T(test_year_reset),
		T(test_void),
		T(test_license),
		T(test_failed_commit),
		T(test_verify_tamper),
		T(test_verify_license_terms),
		T(test_commit_refused),
	};
#undef T

	log_init("test_ledger", LOG_LVL_WARN);
	return cmocka_run_group_tests_name("ledger", tests, group_setup,
	    group_teardown);
}
