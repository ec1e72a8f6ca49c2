/*
 * test_ecfr.c: cross-checks the bundled rule pack against the eCFR
 * snapshot of 2026-07-23 (15 CFR 740 Supp. 1 country groups and the
 * 774 Supp. 1 Commerce Control List), read at run time from
 * $TIERGATE_SHARED/reference/ecfr-2026-07/ (default ../shared, relative to
 * the repository root, where tests run).  The snapshot is not copied into
 * the repository; when it is missing every test fails and says where it
 * looked.
 *
 * Country groups: for D:1, D:4, D:5, A:5 and A:6, every assigned ISO code
 * must be in the pack's group on 2026-07-23 exactly when the snapshot
 * lists its name.  Tiers: tier 3 exactly for D:5 and Macau (and Hong
 * Kong, which the snapshot, like the pack, treats as China).  CCL: the
 * pack's thresholds must appear in the paragraphs they come from.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <jansson.h>

#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/util.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define SNAPSHOT_DATE "2026-07-23"
#define SNAPSHOT_SUBDIR "reference/ecfr-2026-07"

/* ---- names of the snapshot's countries ----------------------------------- */

/*
 * Every name that appears in D:1, D:4, D:5, A:5 or A:6 of
 * country-groups.json, spelled as there.  A name missing here fails the
 * test, so a new member cannot be silently ignored.
 */
static const struct {
	const char *name;
	const char *cc;
} names[] = {
	{ "Afghanistan", "AF" },
	{ "Albania", "AL" },
	{ "Argentina", "AR" },
	{ "Armenia", "AM" },
	{ "Australia", "AU" },
	{ "Austria", "AT" },
	{ "Azerbaijan", "AZ" },
	{ "Bahrain", "BH" },
	{ "Belarus", "BY" },
	{ "Belgium", "BE" },
	{ "Bulgaria", "BG" },
	{ "Burma", "MM" },
	{ "Cambodia", "KH" },
	{ "Canada", "CA" },
	{ "Central African Republic", "CF" },
	{ "China (PRC)", "CN" },
	{ "Congo (Democratic Republic of)", "CD" },
	{ "Croatia", "HR" },
	{ "Cuba", "CU" },
	{ "Cyprus", "CY" },
	{ "Czech Republic", "CZ" },
	{ "Denmark", "DK" },
	{ "Egypt", "EG" },
	{ "Eritrea", "ER" },
	{ "Estonia", "EE" },
	{ "Finland", "FI" },
	{ "France", "FR" },
	{ "Georgia", "GE" },
	{ "Germany", "DE" },
	{ "Greece", "GR" },
	{ "Haiti", "HT" },
	{ "Hungary", "HU" },
	{ "Iceland", "IS" },
	{ "India", "IN" },
	{ "Iran", "IR" },
	{ "Iraq", "IQ" },
	{ "Ireland", "IE" },
	{ "Israel", "IL" },
	{ "Italy", "IT" },
	{ "Japan", "JP" },
	{ "Jordan", "JO" },
	{ "Kazakhstan", "KZ" },
	{ "Korea, North", "KP" },
	{ "Korea, South", "KR" },
	{ "Kuwait", "KW" },
	{ "Kyrgyzstan", "KG" },
	{ "Laos", "LA" },
	{ "Latvia", "LV" },
	{ "Lebanon", "LB" },
	{ "Libya", "LY" },
	{ "Lithuania", "LT" },
	{ "Luxembourg", "LU" },
	{ "Macau", "MO" },
	{ "Malta", "MT" },
	{ "Mexico", "MX" },
	{ "Moldova", "MD" },
	{ "Mongolia", "MN" },
	{ "Netherlands", "NL" },
	{ "New Zealand", "NZ" },
	{ "Nicaragua", "NI" },
	{ "Norway", "NO" },
	{ "Oman", "OM" },
	{ "Pakistan", "PK" },
	{ "Poland", "PL" },
	{ "Portugal", "PT" },
	{ "Qatar", "QA" },
	{ "Romania", "RO" },
	{ "Russia", "RU" },
	{ "Saudi Arabia", "SA" },
	{ "Singapore", "SG" },
	{ "Slovakia", "SK" },
	{ "Slovenia", "SI" },
	{ "Somalia", "SO" },
	{ "South Africa", "ZA" },
	{ "South Sudan, Republic of", "SS" },
	{ "Spain", "ES" },
	{ "Sudan", "SD" },
	{ "Sweden", "SE" },
	{ "Switzerland", "CH" },
	{ "Syria", "SY" },
	{ "Taiwan", "TW" },
	{ "Tajikistan", "TJ" },
	{ "Turkmenistan", "TM" },
	{ "T\xc3\xbcrkiye", "TR" },		/* Türkiye, UTF-8 */
	{ "United Arab Emirates", "AE" },
	{ "United Kingdom", "GB" },
	{ "Uzbekistan", "UZ" },
	{ "Venezuela", "VE" },
	{ "Vietnam", "VN" },
	{ "Yemen", "YE" },
	{ "Zimbabwe", "ZW" },
};

/* ---- the snapshot and the pack, loaded once ------------------------------ */

static struct {
	char dir[PATH_MAX];
	char why[PATH_MAX + 256];	/* why loading failed, or "" */
	json_t *groups;			/* country-groups.json */
	json_t *ccl;			/* ccl.json */
	struct tg_pack *pack;
	tg_date date;
} ctx;

static json_t *
load_json(const char *file)
{
	char path[PATH_MAX + 64];
	json_error_t jerr;
	json_t *j;

	snprintf(path, sizeof(path), "%s/%s", ctx.dir, file);
	j = json_load_file(path, 0, &jerr);
	if (j == NULL && ctx.why[0] == '\0')
		snprintf(ctx.why, sizeof(ctx.why), "cannot read %s: %s "
		    "(line %d)", path, jerr.text, jerr.line);
	return j;
}

static int
setup(void **state)
{
	static const char *const paths[] = { "rules/ai-diffusion-2025.yaml",
	    "rules/products.yaml" };
	const char *shared = getenv("TIERGATE_SHARED");
	struct tg_errlist errs;
	struct stat st;
	char buf[TG_ERR_FILE_MAX + TG_ERR_MSG_MAX + 64];

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	if (shared == NULL || shared[0] == '\0')
		shared = "../shared";
	snprintf(ctx.dir, sizeof(ctx.dir), "%s/%s", shared, SNAPSHOT_SUBDIR);
	if (date_parse(SNAPSHOT_DATE, strlen(SNAPSHOT_DATE), &ctx.date) != 0)
		return -1;
	if (stat(ctx.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(ctx.why, sizeof(ctx.why), "the eCFR snapshot "
		    "directory %s is missing (%s); set TIERGATE_SHARED to the "
		    "directory that holds reference/ecfr-2026-07 (default "
		    "../shared from the repository root)", ctx.dir,
		    strerror(errno));
		return 0;	/* every test fails with this message */
	}
	ctx.groups = load_json("country-groups.json");
	ctx.ccl = load_json("ccl.json");
	errlist_init(&errs);
	if (pack_load(paths, NELEM(paths), &ctx.pack, &errs) != 0 &&
	    ctx.why[0] == '\0') {
		if (errs.n > 0)
			tg_error_format(&errs.v[0], buf, sizeof(buf));
		else
			snprintf(buf, sizeof(buf), "no detail");
		snprintf(ctx.why, sizeof(ctx.why), "the bundled pack failed "
		    "to load (%zu errors; run from the repository root): %s",
		    errs.n, buf);
	}
	errlist_release(&errs);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	json_decref(ctx.groups);
	json_decref(ctx.ccl);
	pack_unref(ctx.pack);
	memset(&ctx, 0, sizeof(ctx));
	return 0;
}

static void
need_ctx(void)
{
	if (ctx.why[0] != '\0')
		fail_msg("%s", ctx.why);
	assert_non_null(ctx.groups);
	assert_non_null(ctx.ccl);
	assert_non_null(ctx.pack);
}

/* ---- a list of mismatches, reported together ---------------------------- */

struct report {
	char text[8192];
	size_t len;
	int n;
};

static void
report_add(struct report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
report_add(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int k;

	r->n++;
	if (r->len + 2 >= sizeof(r->text))
		return;
	va_start(ap, fmt);
	k = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	r->len += (size_t)k;
	if (r->len >= sizeof(r->text) - 1) {
		r->len = sizeof(r->text) - 1;
		return;
	}
	r->text[r->len++] = '\n';
	r->text[r->len] = '\0';
}

static void
report_check(const struct report *r, const char *what)
{
	if (r->n > 0)
		fail_msg("%s: %d mismatch(es):\n%s", what, r->n, r->text);
}

/* ---- country groups ----------------------------------------------------- */

static const char *
name_cc(const char *name)
{
	for (size_t i = 0; i < NELEM(names); i++)
		if (strcmp(names[i].name, name) == 0)
			return names[i].cc;
	return NULL;
}

/*
 * Reads snapshot group g into member[] (indexed by tg_cc, holding the
 * snapshot's name).  Unmapped names and other surprises go to r.
 */
static void
snapshot_group(const char *g, const char *member[TG_CC_COUNT],
    struct report *r)
{
	json_t *list, *v;
	size_t i;

	memset(member, 0, TG_CC_COUNT * sizeof(*member));
	list = json_object_get(json_object_get(ctx.groups, "groups"), g);
	if (!json_is_array(list) || json_array_size(list) == 0) {
		report_add(r, "%s: no such group (or empty) in "
		    "country-groups.json", g);
		return;
	}
	json_array_foreach(list, i, v) {
		const char *name = json_string_value(v), *code;
		tg_cc cc;

		if (name == NULL) {
			report_add(r, "%s: entry %zu is not a string", g, i);
			continue;
		}
		code = name_cc(name);
		if (code == NULL) {
			report_add(r, "%s: '%s' has no ISO code in the test's "
			    "table; add it", g, name);
			continue;
		}
		if (cc_parse(code, strlen(code), &cc) != 0 ||
		    !cc_assigned(cc)) {
			report_add(r, "%s: '%s' maps to %s, which is not an "
			    "assigned code", g, name, code);
			continue;
		}
		if (member[cc] != NULL)
			report_add(r, "%s: %s listed twice ('%s', '%s')", g,
			    code, member[cc], name);
		member[cc] = name;
	}
}

static void
check_group(const char *g)
{
	const char *member[TG_CC_COUNT];
	struct report r;
	size_t nassigned = 0, nsnap = 0;

	need_ctx();
	memset(&r, 0, sizeof(r));
	snapshot_group(g, member, &r);
	for (tg_cc cc = 0; cc < TG_CC_COUNT; cc++) {
		int in;

		if (!cc_assigned(cc))
			continue;
		nassigned++;
		nsnap += member[cc] != NULL;
		in = pack_in_group(ctx.pack, g, cc, ctx.date);
		if (in < 0) {
			report_add(&r, "%s: the pack has no such group", g);
			break;
		}
		if (in && member[cc] == NULL)
			report_add(&r, "%s: %s is in the pack's group on %s "
			    "but not in the eCFR snapshot", g, cc_str(cc),
			    SNAPSHOT_DATE);
		else if (!in && member[cc] != NULL)
			report_add(&r, "%s: %s (%s) is in the eCFR snapshot "
			    "but not in the pack's group on %s", g,
			    cc_str(cc), member[cc], SNAPSHOT_DATE);
	}
	report_check(&r, g);
	assert_true(nassigned > 240);	/* cc_assigned() works */
	assert_true(nsnap > 0);
}

static void
test_group_d1(void **state)
{
	(void)state;
	check_group("D:1");
}

static void
test_group_d4(void **state)
{
	(void)state;
	check_group("D:4");
}

static void
test_group_d5(void **state)
{
	(void)state;
	check_group("D:5");
}

static void
test_group_a5(void **state)
{
	(void)state;
	check_group("A:5");
}

static void
test_group_a6(void **state)
{
	(void)state;
	check_group("A:6");
}

/*
 * Tier 3 is Macau plus D:5.  The snapshot, like the pack, treats Hong
 * Kong as China (its alias table maps "hong kong" to "China (PRC)"), so
 * HK is tier 3 exactly when China is.
 */
static void
test_tier3(void **state)
{
	const char *d5[TG_CC_COUNT];
	const char *hk_as;
	struct report r;
	tg_cc mo, hk, cn;

	(void)state;
	need_ctx();
	memset(&r, 0, sizeof(r));
	snapshot_group("D:5", d5, &r);
	report_check(&r, "D:5");
	assert_int_equal(cc_parse("MO", 2, &mo), 0);
	assert_int_equal(cc_parse("HK", 2, &hk), 0);
	assert_int_equal(cc_parse("CN", 2, &cn), 0);
	if (d5[mo] != NULL)
		fail_msg("the snapshot lists Macau in D:5; the tier rule "
		    "(Macau named separately) needs a second look");
	hk_as = json_string_value(json_object_get(json_object_get(ctx.groups,
	    "aliases"), "hong kong"));
	if (hk_as == NULL || strcmp(hk_as, "China (PRC)") != 0)
		fail_msg("the snapshot no longer maps Hong Kong to China "
		    "(aliases.\"hong kong\" = %s)", hk_as ? hk_as : "null");
	for (tg_cc cc = 0; cc < TG_CC_COUNT; cc++) {
		bool want3;
		int t;

		if (!cc_assigned(cc))
			continue;
		want3 = d5[cc] != NULL || cc == mo ||
		    (cc == hk && d5[cn] != NULL);
		t = pack_tier(ctx.pack, cc, ctx.date);
		if (t < 1 || t > 3)
			report_add(&r, "%s: tier %d", cc_str(cc), t);
		else if (want3 && t != 3)
			report_add(&r, "%s (%s): tier %d on %s, expected 3 "
			    "(D:5 or Macau)", cc_str(cc), d5[cc] ? d5[cc] :
			    cc == mo ? "Macau" : "Hong Kong", t,
			    SNAPSHOT_DATE);
		else if (!want3 && t == 3)
			report_add(&r, "%s: tier 3 on %s but neither in the "
			    "snapshot's D:5 nor Macau", cc_str(cc),
			    SNAPSHOT_DATE);
	}
	report_check(&r, "tiers");
}

/* ---- the Commerce Control List ------------------------------------------ */

static json_t *
ccl_entry(const char *eccn)
{
	json_t *entries = json_object_get(ctx.ccl, "entries"), *e;
	size_t i;

	json_array_foreach(entries, i, e) {
		const char *s = json_string_value(json_object_get(e, "eccn"));

		if (s != NULL && strcmp(s, eccn) == 0)
			return e;
	}
	fail_msg("ECCN %s: not in ccl.json", eccn);
	return NULL;
}

/* The text of the first item paragraph called para, or NULL. */
static const char *
ccl_para(json_t *entry, const char *para)
{
	json_t *items = json_object_get(entry, "items"), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *p = json_string_value(json_object_get(it,
		    "paragraph"));
		const char *k = json_string_value(json_object_get(it, "kind"));

		if (p != NULL && k != NULL && strcmp(p, para) == 0 &&
		    strcmp(k, "item") == 0)
			return json_string_value(json_object_get(it, "text"));
	}
	return NULL;
}

static bool
is_numch(char c)
{
	return (c >= '0' && c <= '9') || c == '.';
}

/* Whether text holds phrase as a whole number: "4800" is not found in
 * "14800" or "4800.5", but is in "4800." at the end of a sentence. */
static bool
has_number(const char *text, const char *phrase)
{
	size_t n = strlen(phrase);

	for (const char *s = text; (s = strstr(s, phrase)) != NULL; s++) {
		const char *e = s + n;

		if (s > text && is_numch(s[-1]))
			continue;
		if ((*e >= '0' && *e <= '9') ||
		    (*e == '.' && e[1] >= '0' && e[1] <= '9'))
			continue;
		return true;
	}
	return false;
}

static double
param(const char *name)
{
	double v = NAN;
	int rc = pack_param(ctx.pack, name, ctx.date, &v);

	if (rc != 0)
		fail_msg("parameter %s: %s on %s", name, tg_strerror(rc),
		    SNAPSHOT_DATE);
	return v;
}

/* Checks that paragraph para of eccn states parameter pname's value. */
static void
check_para_param(struct report *r, json_t *entry, const char *eccn,
    const char *para, const char *pname)
{
	const char *text = ccl_para(entry, para);
	char num[64];

	snprintf(num, sizeof(num), "%g", param(pname));
	if (text == NULL)
		report_add(r, "%s.%s: no such paragraph in ccl.json", eccn,
		    para);
	else if (!has_number(text, num))
		report_add(r, "%s.%s: the pack's %s = %s is not in the CCL "
		    "text \"%s\"", eccn, para, pname, num, text);
}

static void
test_ccl_3a090a(void **state)
{
	struct report r;
	json_t *e;

	(void)state;
	need_ctx();
	memset(&r, 0, sizeof(r));
	e = ccl_entry("3A090");
	check_para_param(&r, e, "3A090", "a.1", "a_tpp");
	check_para_param(&r, e, "3A090", "a.2", "a_density_tpp");
	check_para_param(&r, e, "3A090", "a.2", "a_pd");
	report_check(&r, "3A090.a");
}

/* All the item text of an entry, for when a paragraph cannot be found. */
static bool
entry_has_number(json_t *entry, const char *num)
{
	json_t *items = json_object_get(entry, "items"), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *t = json_string_value(json_object_get(it, "text"));

		if (t != NULL && has_number(t, num))
			return true;
	}
	return false;
}

static void
test_ccl_3a090b(void **state)
{
	static const char *const b1[] = { "b_tpp", "a_tpp", "b_pd_low",
	    "a_pd" };
	static const char *const b2[] = { "b_density_tpp", "b_pd_mid",
	    "a_pd" };
	static const char *const any[] = { "b_tpp", "b_pd_low", "b_pd_mid" };
	struct report r;
	json_t *e;

	(void)state;
	need_ctx();
	memset(&r, 0, sizeof(r));
	e = ccl_entry("3A090");
	if (ccl_para(e, "b.1") == NULL || ccl_para(e, "b.2") == NULL) {
		/* The snapshot does not split 3A090.b: the figures must at
		 * least appear somewhere in the entry. */
		for (size_t i = 0; i < NELEM(any); i++) {
			char num[64];

			snprintf(num, sizeof(num), "%g", param(any[i]));
			if (!entry_has_number(e, num))
				report_add(&r, "3A090: the pack's %s = %s is "
				    "not in the entry", any[i], num);
		}
		report_check(&r, "3A090.b");
		return;
	}
	for (size_t i = 0; i < NELEM(b1); i++)
		check_para_param(&r, e, "3A090", "b.1", b1[i]);
	for (size_t i = 0; i < NELEM(b2); i++)
		check_para_param(&r, e, "3A090", "b.2", b2[i]);
	report_check(&r, "3A090.b");
}

/*
 * Writes v as the eCFR text prints a power of ten once its superscript is
 * flattened: 1e26 is "10 26", 2.5e25 is mantissa "2.5" and "10 25".
 */
static void
sci(double v, char *mant, size_t mlen, char *pow10, size_t plen)
{
	int e = (int)floor(log10(v));
	double m;

	if (pow(10, e + 1) <= v)
		e++;
	m = v / pow(10, e);
	snprintf(mant, mlen, "%.6g", m);
	snprintf(pow10, plen, "10 %d", e);
}

/* "ten percent" or "25 percent", as the CFR writes them. */
static bool
has_percent(const char *text, double share)
{
	static const char *const words[] = { "zero", "one", "two", "three",
	    "four", "five", "six", "seven", "eight", "nine", "ten" };
	long pct = lround(share * 100);
	char buf[64];

	snprintf(buf, sizeof(buf), "%ld percent", pct);
	if (has_number(text, buf))
		return true;
	if (pct >= 0 && pct < (long)NELEM(words)) {
		snprintf(buf, sizeof(buf), "%s percent", words[pct]);
		if (strstr(text, buf) != NULL)
			return true;
	}
	return false;
}

/* The text of the first note of entry that states every figure asked
 * for (must1, must2 as whole numbers; share as a percentage; NULL or NAN
 * for none), or NULL. */
static const char *
find_note(json_t *entry, const char *must1, const char *must2,
    double share)
{
	json_t *items = json_object_get(entry, "items"), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		const char *k = json_string_value(json_object_get(it, "kind"));
		const char *t = json_string_value(json_object_get(it, "text"));

		if (k == NULL || t == NULL || strcmp(k, "note") != 0)
			continue;
		if (must1 != NULL && !has_number(t, must1))
			continue;
		if (must2 != NULL && !has_number(t, must2))
			continue;
		if (!isnan(share) && !has_percent(t, share))
			continue;
		return t;
	}
	return NULL;
}

static void
test_ccl_4e091(void **state)
{
	const char *heading;
	char m[32], p10[32], dm[32], dp10[32];
	double dshare, sshare;
	struct report r;
	json_t *e;

	(void)state;
	need_ctx();
	memset(&r, 0, sizeof(r));
	e = ccl_entry("4E091");

	/* The heading: "trained utilizing 10 26 or more 'operations'". */
	sci(param("model_ops"), m, sizeof(m), p10, sizeof(p10));
	heading = json_string_value(json_object_get(e, "heading"));
	if (heading == NULL)
		report_add(&r, "4E091: no heading");
	else if (!has_number(heading, p10) ||
	    (strcmp(m, "1") != 0 && !has_number(heading, m)))
		report_add(&r, "4E091 heading: the pack's model_ops = %s x %s "
		    "is not in \"%s\"", m, p10, heading);

	/* Note 1: more than 2.5 x 10 25 operations or more than 25 percent,
	 * whichever is higher. */
	sci(param("derivative_ops"), dm, sizeof(dm), dp10, sizeof(dp10));
	dshare = param("derivative_share");
	if (find_note(e, dm, dp10, dshare) == NULL)
		report_add(&r, "4E091 notes: no note states the pack's "
		    "derivative_ops = %s x %s with derivative_share = %g "
		    "(\"%ld percent\")", dm, dp10, dshare,
		    lround(dshare * 100));

	/* Technical note 3: more than ten percent of the operations. */
	sshare = param("synthetic_share");
	if (find_note(e, NULL, NULL, sshare) == NULL)
		report_add(&r, "4E091 notes: no note states the pack's "
		    "synthetic_share = %g (%ld percent)", sshare,
		    lround(sshare * 100));
	report_check(&r, "4E091");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_group_d1),
		cmocka_unit_test(test_group_d4),
		cmocka_unit_test(test_group_d5),
		cmocka_unit_test(test_group_a5),
		cmocka_unit_test(test_group_a6),
		cmocka_unit_test(test_tier3),
		cmocka_unit_test(test_ccl_3a090a),
		cmocka_unit_test(test_ccl_3a090b),
		cmocka_unit_test(test_ccl_4e091),
	};

	return cmocka_run_group_tests_name("ecfr snapshot", tests, setup,
	    teardown);
}
