/*
 * test_api.c: the JSON decoder (query_json.c) and encoder
 * (decision_json.c) against contract.md sections 1 and 2.
 *
 * Every error class is checked with the exact JSON pointer it must name,
 * because clients (and problem+json) rely on the pointer to show which
 * field to fix.  Queries are written with single quotes for legibility;
 * dq() turns them into JSON.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tiergate/api.h"
#include "tiergate/jcs.h"

static struct tg_arena *arena;
static tg_date today;

static int
setup(void **state)
{
	(void)state;
	arena = arena_new(0);
	if (arena == NULL)
		return -1;
	if (date_parse("2025-06-02", 10, &today) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	arena_free(arena);
	arena = NULL;
	return 0;
}

/* A malloc'd copy of s with every ' turned into ". */
static char *
dq(const char *s)
{
	char *p;
	size_t i, n;

	n = strlen(s);
	p = malloc(n + 1);
	assert_non_null(p);
	for (i = 0; i < n; i++)
		p[i] = s[i] == '\'' ? '"' : s[i];
	p[n] = '\0';
	return p;
}

static int
parse(const char *sq, const struct tg_query **q, struct tg_error *err)
{
	char *s;
	int rc;

	s = dq(sq);
	rc = api_query_parse(s, strlen(s), arena, today, q, err);
	free(s);
	return rc;
}

static const struct tg_query *
ok_(const char *sq, int line)
{
	const struct tg_query *q = NULL;
	struct tg_error err;
	int rc;

	rc = parse(sq, &q, &err);
	if (rc != 0)
		print_error("line %d: unexpected error %d at '%s': %s\n",
		    line, rc, err.pointer, err.msg);
	assert_int_equal(rc, 0);
	assert_non_null(q);
	return q;
}
#define OK(s) ok_((s), __LINE__)

/* Messages follow house style: lower case, no full stop. */
static void
check_msg(const struct tg_error *err)
{
	size_t n;

	n = strlen(err->msg);
	assert_true(n > 0);
	assert_false(isupper((unsigned char)err->msg[0]));
	assert_true(err->msg[n - 1] != '.');
}

static void
err_(const char *sq, int code, const char *pointer, const char *part,
    int line)
{
	const struct tg_query *q = NULL;
	struct tg_error err;
	int rc;

	rc = parse(sq, &q, &err);
	if (rc != code || strcmp(err.pointer, pointer) != 0 ||
	    (part != NULL && strstr(err.msg, part) == NULL))
		print_error("line %d: got %d at '%s': %s\n", line, rc,
		    err.pointer, err.msg);
	assert_int_equal(rc, code);
	assert_int_equal(err.code, code);
	assert_string_equal(err.pointer, pointer);
	if (part != NULL)
		assert_non_null(strstr(err.msg, part));
	check_msg(&err);
	assert_null(q);
}
#define EINV(s, ptr, part) err_((s), TG_EINVAL, (ptr), (part), __LINE__)
#define ESYN(s, ptr, part) err_((s), TG_ESYNTAX, (ptr), (part), __LINE__)

#define PARTY "'consignee':{'name':'Acme'}"
#define CHIP "{'kind':'chip','product':'nvidia-h100-sxm'}"
/* A query with the given items. */
#define QI(items) "{'destination':'IN'," PARTY ",'items':[" items "]}"
/* A valid query with more root members (extra starts with a comma). */
#define QR(extra) "{'destination':'IN'," PARTY ",'items':[" CHIP "]" extra "}"
/* A query with the given consignee. */
#define QC(c) "{'destination':'IN','consignee':" c ",'items':[" CHIP "]}"

static tg_cc
cc(const char *s)
{
	tg_cc c = TG_CC_NONE;

	assert_int_equal(cc_parse(s, strlen(s), &c), 0);
	return c;
}

/* ---- syntax ------------------------------------------------------------- */

static void
test_syntax(void **state)
{
	const struct tg_query *q = NULL;
	struct tg_error err;
	static const char *const bad[] = {
		"",
		"{",
		"{\"destination\":\"IN\",}",
		"{\"a\":1,\"a\":2}",			/* duplicate key */
		"{\"a\":\"\xff\"}",			/* invalid UTF-8 */
		"{\"a\":\"\xc3\"}",			/* cut sequence */
		"{\"a\":1} x",				/* trailing garbage */
		"{\"a\":1e400}",			/* overflows a double */
		"{\"a\":NaN}",
		"{\"a\":Infinity}",
		"{\"a\":\"\\u0000\"}",			/* NUL in a string */
		"{\"a\":99999999999999999999}",
	};
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		q = NULL;
		rc = api_query_parse(bad[i], strlen(bad[i]), arena, today, &q,
		    &err);
		if (rc != TG_ESYNTAX)
			print_error("case %zu: rc %d %s\n", i, rc, err.msg);
		assert_int_equal(rc, TG_ESYNTAX);
		assert_int_equal(err.code, TG_ESYNTAX);
		assert_string_equal(err.pointer, "");
		assert_int_equal(err.line, 1);
		check_msg(&err);
		assert_null(q);
	}

	/* Line and column come from jansson. */
	rc = api_query_parse("{\n\"a\": 1,\n  \"b\": tru }",
	    strlen("{\n\"a\": 1,\n  \"b\": tru }"), arena, today, &q, &err);
	assert_int_equal(rc, TG_ESYNTAX);
	assert_int_equal(err.line, 3);
	assert_true(err.col > 0);

	/* The message quotes input near the error: it must stay valid
	 * UTF-8 (it goes into problem+json) even when the input is not. */
	rc = api_query_parse("{\"a\": tru\xe2\x82}", 12, arena, today, &q,
	    &err);
	assert_int_equal(rc, TG_ESYNTAX);
	{
		json_t *s = json_string(err.msg);

		assert_non_null(s);
		json_decref(s);
	}

	/* An empty buffer may come as NULL (an empty tg_buf). */
	rc = api_query_parse(NULL, 0, arena, today, &q, &err);
	assert_int_equal(rc, TG_ESYNTAX);
	assert_non_null(strstr(err.msg, "end of file"));

	/* err may be NULL. */
	assert_int_equal(api_query_parse("{", 1, arena, today, &q, NULL),
	    TG_ESYNTAX);
}

/* ---- root --------------------------------------------------------------- */

static void
test_root(void **state)
{
	(void)state;
	EINV("[]", "", "must be a JSON object");
	EINV("42", "", "must be a JSON object");
	EINV("'IN'", "", "must be a JSON object");
	EINV("null", "", "must be a JSON object");
	EINV(QR(",'destinaton':'IN'"), "/destinaton",
	    "unknown field 'destinaton'");
	/* RFC 6901 escapes in the pointer. */
	EINV(QR(",'a~b/c':1"), "/a~0b~1c", "unknown field 'a~b/c'");
	EINV(QR(",'receipt':{}"), "/receipt", "unknown field 'receipt'");
	/* Unknown keys come before missing ones: a misspelling explains
	 * the missing field. */
	EINV("{'destination':'IN','consignee':{'name':'a'},'itmes':[]}",
	    "/itmes", "unknown field 'itmes'");
	EINV("{}", "/destination", "missing required field 'destination'");
	EINV("{'destination':'IN','items':[" CHIP "]}", "/consignee",
	    "missing required field 'consignee'");
	EINV("{'destination':'IN'," PARTY "}", "/items",
	    "missing required field 'items'");
	/* null is not "absent". */
	EINV(QR(",'reference':null"), "/reference", "must be a string");
	EINV(QR(",'dry_run':'false'"), "/dry_run", "true or false");
	EINV(QR(",'dry_run':0"), "/dry_run", "true or false");
	EINV(QR(",'certifications':1"), "/certifications", "true or false");
	EINV(QR(",'export_from':'us'"), "/export_from", "upper case");
	EINV(QR(",'export_from':'XX'"), "/export_from", "not an ISO");
}

static void
test_root_values(void **state)
{
	const struct tg_query *q;
	tg_date d;

	(void)state;
	q = OK(QR(""));
	assert_null(q->reference);
	assert_int_equal(q->date, today);
	assert_false(q->date_given);
	assert_int_equal(q->destination, cc("IN"));
	assert_false(q->dry_run);
	assert_int_equal(q->export_from, cc("US"));
	assert_false(q->certifications);
	assert_int_equal(q->nitems, 1);

	q = OK(QR(",'reference':'PO-2025-0042','date':'2024-02-29',"
	    "'dry_run':true,'export_from':'AE','certifications':true"));
	assert_string_equal(q->reference, "PO-2025-0042");
	assert_int_equal(date_parse("2024-02-29", 10, &d), 0);
	assert_int_equal(q->date, d);
	assert_true(q->date_given);
	assert_true(q->dry_run);
	assert_int_equal(q->export_from, cc("AE"));
	assert_true(q->certifications);

	/* HK stays HK in the query; the engine aliases it. */
	q = OK("{'destination':'HK'," PARTY ",'items':[" CHIP "]}");
	assert_int_equal(q->destination, cc("HK"));
	assert_int_equal(q->consignee.country, cc("HK"));
}

/* malloc'd a + n copies of ch + b. */
static char *
padded(const char *a, char ch, size_t n, const char *b)
{
	size_t la, lb;
	char *s;

	la = strlen(a);
	lb = strlen(b);
	s = malloc(la + n + lb + 1);
	assert_non_null(s);
	memcpy(s, a, la);
	memset(s + la, ch, n);
	memcpy(s + la + n, b, lb + 1);
	return s;
}

#define QHEAD "{'destination':'IN'," PARTY ",'items':[" CHIP "]"

static void
test_reference_date(void **state)
{
	char *s;

	(void)state;
	/* 128 bytes is the limit. */
	s = padded(QHEAD ",'reference':'", 'r', 128, "'}");
	OK(s);
	free(s);
	s = padded(QHEAD ",'reference':'", 'r', 129, "'}");
	EINV(s, "/reference", "'reference' must be at most 128 bytes long");
	free(s);
	EINV(QR(",'reference':7"), "/reference", "must be a string");
	EINV(QR(",'date':'2025-02-30'"), "/date", "YYYY-MM-DD");
	EINV(QR(",'date':'2025-6-2'"), "/date", "YYYY-MM-DD");
	EINV(QR(",'date':'2025-06-02T00:00:00Z'"), "/date", "YYYY-MM-DD");
	EINV(QR(",'date':20250602"), "/date", "YYYY-MM-DD");
}

static void
test_destination(void **state)
{
	(void)state;
	EINV("{'destination':'hk'," PARTY ",'items':[" CHIP "]}",
	    "/destination", "upper case ('HK', not 'hk')");
	EINV("{'destination':'Hk'," PARTY ",'items':[" CHIP "]}",
	    "/destination", "upper case");
	EINV("{'destination':'ZZ'," PARTY ",'items':[" CHIP "]}",
	    "/destination", "'ZZ'");
	EINV("{'destination':'IND'," PARTY ",'items':[" CHIP "]}",
	    "/destination", "not an ISO 3166-1 alpha-2");
	EINV("{'destination':''," PARTY ",'items':[" CHIP "]}",
	    "/destination", "not an ISO 3166-1 alpha-2");
	EINV("{'destination':356," PARTY ",'items':[" CHIP "]}",
	    "/destination", "must be an ISO 3166-1 alpha-2 code");
}

/* ---- limits ------------------------------------------------------------- */

static char *
nested(size_t k)
{
	char *s, *p;
	const char *head = QHEAD ",'x':";
	size_t i, n;

	n = strlen(head);
	s = malloc(n + 2 * k + 2);
	assert_non_null(s);
	memcpy(s, head, n);
	p = s + n;
	for (i = 0; i < k; i++)
		*p++ = '[';
	for (i = 0; i < k; i++)
		*p++ = ']';
	*p++ = '}';
	*p = '\0';
	return s;
}

static void
test_limits(void **state)
{
	char ptr[TG_ERR_POINTER_MAX], *s, *big;
	size_t i, n;

	(void)state;
	/* The root is level 1, so 31 arrays under it stay within 32
	 * levels and reach the schema check; 32 do not. */
	s = nested(31);
	EINV(s, "/x", "unknown field 'x'");
	free(s);
	s = nested(32);
	n = strlen("/x");
	memcpy(ptr, "/x", n);
	for (i = 0; i < 31; i++) {
		memcpy(ptr + n, "/0", 2);
		n += 2;
	}
	ptr[n] = '\0';
	ESYN(s, ptr, "nested deeper than 32 levels");
	free(s);

	/* Strings: API_STRING_MAX bytes anywhere, checked before the
	 * schema. */
	big = padded("{'destination':'IN'," PARTY ",'items':[{'kind':'chip',"
	    "'product':'p','description':'", 'd', API_STRING_MAX + 1, "'}]}");
	ESYN(big, "/items/0/description", "string longer than 4096 bytes");
	free(big);
	big = padded("{'destination':'IN'," PARTY ",'items':[{'kind':'chip',"
	    "'product':'p','description':'", 'd', API_STRING_MAX, "'}]}");
	OK(big);
	free(big);
	/* Even where the field itself is unknown: limits come first. */
	big = padded(QHEAD ",'notes':'", 'n', API_STRING_MAX + 1, "'}");
	ESYN(big, "/notes", "string longer than");
	free(big);
}

static void
test_long_key(void **state)
{
	const struct tg_query *q = NULL;
	struct tg_error err;
	char *s, *p;
	size_t n;
	json_t *j;

	(void)state;
	/* An unknown 300-byte key of 3-byte characters: the pointer is cut
	 * to fit, between characters, and the message quotes a prefix. */
	s = malloc(1200);
	assert_non_null(s);
	p = s;
	memcpy(p, "{\"", 2);
	p += 2;
	for (n = 0; n < 100; n++) {
		memcpy(p, "\xe2\x82\xac", 3);	/* euro sign */
		p += 3;
	}
	memcpy(p, "\":1}", 5);
	assert_int_equal(api_query_parse(s, strlen(s), arena, today, &q,
	    &err), TG_EINVAL);
	assert_true(strlen(err.pointer) < TG_ERR_POINTER_MAX);
	assert_true(strlen(err.pointer) > 200);
	assert_int_equal(strncmp(err.pointer, "/\xe2\x82\xac", 4), 0);
	assert_int_equal((strlen(err.pointer) - 1) % 3, 0);
	assert_non_null(strstr(err.msg, "unknown field '\xe2\x82\xac"));
	assert_non_null(strstr(err.msg, "...'"));
	j = json_string(err.pointer);
	assert_non_null(j);
	json_decref(j);
	j = json_string(err.msg);
	assert_non_null(j);
	json_decref(j);
	free(s);

	/* Control characters in a key are not echoed raw. */
	s = dq(QR(",'a\\u0001b':1"));
	assert_int_equal(api_query_parse(s, strlen(s), arena, today, &q,
	    &err), TG_EINVAL);
	assert_string_equal(err.msg, "unknown field 'a?b'");
	free(s);
}

/* ---- parties ------------------------------------------------------------ */

static void
test_party_errors(void **state)
{
	(void)state;
	EINV(QC("[]"), "/consignee", "'consignee' must be an object");
	EINV(QC("'Acme'"), "/consignee", "must be an object");
	EINV(QC("{}"), "/consignee", "needs a 'name' or an 'id'");
	EINV(QC("{'country':'IN'}"), "/consignee", "'name' or an 'id'");
	EINV(QC("{'name':'Acme','ultimate_parnet':'US'}"),
	    "/consignee/ultimate_parnet", "unknown field 'ultimate_parnet'");
	EINV(QC("{'name':''}"), "/consignee/name", "must not be empty");
	EINV(QC("{'id':''}"), "/consignee/id", "must not be empty");
	EINV(QC("{'name':7}"), "/consignee/name", "must be a string");
	EINV(QC("{'name':'a','country':'in'}"), "/consignee/country",
	    "upper case");
	EINV(QC("{'name':'a','headquarters':'QQ'}"),
	    "/consignee/headquarters", "not an ISO");
	EINV(QC("{'name':'a','ultimate_parent':['US']}"),
	    "/consignee/ultimate_parent", "must be an ISO");
	EINV(QR(",'end_user':{}"), "/end_user", "'end_user' needs a 'name'");
	EINV(QR(",'end_user':null"), "/end_user", "must be an object");
	EINV(QR(",'end_user':{'name':'b','hq':'CN'}"), "/end_user/hq",
	    "unknown field 'hq'");
}

static void
test_party_defaults(void **state)
{
	const struct tg_query *q;

	(void)state;
	/* destination -> country -> headquarters -> ultimate_parent */
	q = OK(QC("{'name':'Acme'}"));
	assert_string_equal(q->consignee.name, "Acme");
	assert_null(q->consignee.id);
	assert_int_equal(q->consignee.country, cc("IN"));
	assert_int_equal(q->consignee.headquarters, cc("IN"));
	assert_int_equal(q->consignee.ultimate_parent, cc("IN"));
	assert_int_equal(q->consignee.veu.type, TG_VEU_NONE);
	assert_true(isnan(q->consignee.veu.tier1_share));
	assert_true(isnan(q->consignee.veu.installed_tpp));
	assert_int_equal(q->consignee.veu.country, TG_CC_NONE);

	q = OK(QC("{'id':'acme-1','country':'AE'}"));
	assert_null(q->consignee.name);
	assert_string_equal(q->consignee.id, "acme-1");
	assert_int_equal(q->consignee.country, cc("AE"));
	assert_int_equal(q->consignee.headquarters, cc("AE"));
	assert_int_equal(q->consignee.ultimate_parent, cc("AE"));

	q = OK(QC("{'name':'a','country':'AE','headquarters':'CN'}"));
	assert_int_equal(q->consignee.country, cc("AE"));
	assert_int_equal(q->consignee.headquarters, cc("CN"));
	assert_int_equal(q->consignee.ultimate_parent, cc("CN"));

	q = OK(QC("{'name':'a','ultimate_parent':'US'}"));
	assert_int_equal(q->consignee.headquarters, cc("IN"));
	assert_int_equal(q->consignee.ultimate_parent, cc("US"));

	/* end_user absent: a copy of the consignee. */
	q = OK(QC("{'id':'x','name':'Acme','country':'SG','headquarters':"
	    "'US'}"));
	assert_false(q->end_user_given);
	assert_string_equal(q->end_user.id, "x");
	assert_string_equal(q->end_user.name, "Acme");
	assert_int_equal(q->end_user.country, cc("SG"));
	assert_int_equal(q->end_user.headquarters, cc("US"));
	assert_int_equal(q->end_user.ultimate_parent, cc("US"));

	/* end_user given: its own defaults, from the destination. */
	q = OK(QR(",'end_user':{'name':'Lab','headquarters':'GB'}"));
	assert_true(q->end_user_given);
	assert_string_equal(q->end_user.name, "Lab");
	assert_int_equal(q->end_user.country, cc("IN"));
	assert_int_equal(q->end_user.headquarters, cc("GB"));
	assert_int_equal(q->end_user.ultimate_parent, cc("GB"));
	assert_string_equal(q->consignee.name, "Acme");
}

static void
test_veu(void **state)
{
	const struct tg_query *q;

	(void)state;
	q = OK(QC("{'name':'a','veu':{'type':'universal','tier1_share':0.8,"
	    "'us_share':0.6,'destination_share':0}}"));
	assert_int_equal(q->consignee.veu.type, TG_VEU_UNIVERSAL);
	assert_true(q->consignee.veu.tier1_share == 0.8);
	assert_true(q->consignee.veu.us_share == 0.6);
	assert_true(q->consignee.veu.destination_share == 0);
	assert_true(isnan(q->consignee.veu.installed_tpp));

	q = OK(QR(",'end_user':{'name':'b','veu':{'type':'national',"
	    "'country':'AE','installed_tpp':1200000000}}"));
	assert_int_equal(q->end_user.veu.type, TG_VEU_NATIONAL);
	assert_int_equal(q->end_user.veu.country, cc("AE"));
	assert_true(q->end_user.veu.installed_tpp == 1200000000.0);
	assert_true(isnan(q->end_user.veu.us_share));

	EINV(QC("{'name':'a','veu':'universal'}"), "/consignee/veu",
	    "'veu' must be an object");
	EINV(QC("{'name':'a','veu':{}}"), "/consignee/veu/type",
	    "missing required field 'type'");
	EINV(QC("{'name':'a','veu':{'type':'regional'}}"),
	    "/consignee/veu/type", "'universal' or 'national'");
	EINV(QC("{'name':'a','veu':{'type':'universal','tier1_share':0.8,"
	    "'us_share':0.6}}"), "/consignee/veu/destination_share",
	    "missing required field 'destination_share'");
	EINV(QC("{'name':'a','veu':{'type':'universal','tier1_share':1.5,"
	    "'us_share':0.6,'destination_share':0}}"),
	    "/consignee/veu/tier1_share", "between 0 and 1");
	EINV(QC("{'name':'a','veu':{'type':'universal','tier1_share':0.5,"
	    "'us_share':-0.1,'destination_share':0}}"),
	    "/consignee/veu/us_share", "between 0 and 1");
	EINV(QC("{'name':'a','veu':{'type':'national','country':'AE',"
	    "'installed_tpp':1,'tier1_share':0.5}}"),
	    "/consignee/veu/tier1_share",
	    "field 'tier1_share' does not apply to veu type 'national'");
	EINV(QC("{'name':'a','veu':{'type':'universal','country':'AE'}}"),
	    "/consignee/veu/country", "does not apply to veu type");
	EINV(QC("{'name':'a','veu':{'type':'national','installed_tpp':1}}"),
	    "/consignee/veu/country", "missing required field 'country'");
	EINV(QC("{'name':'a','veu':{'type':'national','country':'AE',"
	    "'installed_tpp':-1}}"), "/consignee/veu/installed_tpp",
	    "must not be negative");
	EINV(QC("{'name':'a','veu':{'type':'national','country':'AE',"
	    "'installed_tpp':1,'share':1}}"), "/consignee/veu/share",
	    "unknown field 'share'");
}

/* ---- items -------------------------------------------------------------- */

static void
test_items_array(void **state)
{
	char *s, *p;
	const char *head = "{\"destination\":\"IN\",\"consignee\":"
	    "{\"name\":\"a\"},\"items\":[";
	const char *item = "{\"kind\":\"chip\",\"product\":\"p\"},";
	const struct tg_query *q = NULL;
	struct tg_error err;
	size_t i, hl, il;

	(void)state;
	EINV("{'destination':'IN'," PARTY ",'items':[]}", "/items",
	    "1 to 1000 entries");
	EINV("{'destination':'IN'," PARTY ",'items':{}}", "/items",
	    "must be an array");
	EINV("{'destination':'IN'," PARTY ",'items':" CHIP "}", "/items",
	    "must be an array");
	EINV(QI("'chip'"), "/items/0", "item must be an object");
	EINV(QI(CHIP ",7"), "/items/1", "item must be an object");

	/* 1000 items pass, 1001 do not. */
	hl = strlen(head);
	il = strlen(item);
	s = malloc(hl + 1001 * il + 8);
	assert_non_null(s);
	memcpy(s, head, hl);
	p = s + hl;
	for (i = 0; i < 1000; i++) {
		memcpy(p, item, il);
		p += il;
	}
	memcpy(p - 1, "]}", 3);
	assert_int_equal(api_query_parse(s, strlen(s), arena, today, &q,
	    &err), 0);
	assert_int_equal(q->nitems, 1000);
	memcpy(p - 1, ",", 1);
	memcpy(p, item, il);
	p += il;
	memcpy(p - 1, "]}", 3);
	assert_int_equal(api_query_parse(s, strlen(s), arena, today, &q,
	    &err), TG_EINVAL);
	assert_string_equal(err.pointer, "/items");
	free(s);
}

static void
test_item_common(void **state)
{
	const struct tg_query *q;
	const struct tg_item *it;

	(void)state;
	EINV(QI("{}"), "/items/0/kind", "missing required field 'kind'");
	EINV(QI("{'knd':'chip'}"), "/items/0/knd", "unknown field 'knd'");
	EINV(QI("{'kind':'gpu'}"), "/items/0/kind", "'kind' must be one of");
	EINV(QI("{'kind':1}"), "/items/0/kind", "'kind' must be one of");
	EINV(QI("{'kind':'Chip'}"), "/items/0/kind", "must be one of");
	EINV(QI(CHIP ",{'kind':'chip','product':'p','tppp':1}"),
	    "/items/1/tppp", "unknown field 'tppp'");
	EINV(QI("{'kind':'chip','product':'p','training_operations':1}"),
	    "/items/0/training_operations",
	    "field 'training_operations' does not apply to kind 'chip'");
	EINV(QI("{'kind':'chip','product':'p','chips_per_unit':8}"),
	    "/items/0/chips_per_unit",
	    "field 'chips_per_unit' does not apply to kind 'chip'");
	EINV(QI("{'kind':'model_weights','product':'p'}"),
	    "/items/0/product", "does not apply to kind 'model_weights'");
	EINV(QI("{'kind':'compute_service','purpose':'inference',"
	    "'datacenter':true}"), "/items/0/datacenter",
	    "does not apply to kind 'compute_service'");

	/* quantity */
	EINV(QI("{'kind':'chip','product':'p','quantity':0}"),
	    "/items/0/quantity", "integer from 1 to 1000000000000");
	EINV(QI("{'kind':'chip','product':'p','quantity':-3}"),
	    "/items/0/quantity", "integer from 1");
	EINV(QI("{'kind':'chip','product':'p','quantity':1.5}"),
	    "/items/0/quantity", "integer from 1");
	EINV(QI("{'kind':'chip','product':'p','quantity':1e13}"),
	    "/items/0/quantity", "integer from 1");
	EINV(QI("{'kind':'chip','product':'p','quantity':1000000000001}"),
	    "/items/0/quantity", "integer from 1");
	EINV(QI("{'kind':'chip','product':'p','quantity':'4'}"),
	    "/items/0/quantity", "integer from 1");
	EINV(QI("{'kind':'chip','product':'p','quantity':true}"),
	    "/items/0/quantity", "integer from 1");
	q = OK(QI(CHIP ",{'kind':'chip','product':'p','quantity':2.0},"
	    "{'kind':'chip','product':'p','quantity':1e12},"
	    "{'kind':'chip','product':'p','quantity':16}"));
	assert_int_equal(q->items[0].quantity, 1);
	assert_int_equal(q->items[1].quantity, 2);
	assert_int_equal(q->items[2].quantity, 1000000000000LL);
	assert_int_equal(q->items[3].quantity, 16);

	/* description and license */
	q = OK(QI("{'kind':'chip','product':'p','description':'',"
	    "'license':'D1234567'}"));
	it = &q->items[0];
	assert_string_equal(it->description, "");
	assert_string_equal(it->license, "D1234567");
	EINV(QI("{'kind':'chip','product':'p','license':''}"),
	    "/items/0/license", "must not be empty");
	EINV(QI("{'kind':'chip','product':'p','license':"
	    "'12345678901234567890123456789012345678901234567890123456789"
	    "012345'}"), "/items/0/license", "at most 64 bytes");
	EINV(QI("{'kind':'chip','product':'p','license':42}"),
	    "/items/0/license", "must be a string");
	EINV(QI("{'kind':'chip','product':'p','description':['x']}"),
	    "/items/0/description", "must be a string");
}

static void
test_chip(void **state)
{
	const struct tg_query *q;
	const struct tg_item *it;

	(void)state;
	q = OK(QI(CHIP ",{'kind':'chip','tpp':2000,'die_area_mm2':300,"
	    "'datacenter':true,'quantity':16},"
	    "{'kind':'chip','tpp':4800.5,'performance_density':5.92,"
	    "'datacenter':false,'memory_bandwidth_gbs':4000}"));
	it = &q->items[0];
	assert_int_equal(it->kind, TG_ITEM_CHIP);
	assert_string_equal(it->product, "nvidia-h100-sxm");
	assert_true(isnan(it->tpp));
	assert_true(isnan(it->die_area_mm2));
	assert_true(isnan(it->performance_density));
	assert_true(isnan(it->memory_bandwidth_gbs));
	assert_int_equal(it->datacenter, -1);
	assert_int_equal(it->chips_per_unit, 0);
	assert_true(isnan(it->training_operations));
	assert_int_equal(it->published, -1);
	assert_null(it->synth);
	assert_null(it->description);
	assert_null(it->license);
	assert_int_equal(it->location, TG_CC_NONE);
	it = &q->items[1];
	assert_null(it->product);
	assert_true(it->tpp == 2000);
	assert_true(it->die_area_mm2 == 300);
	assert_int_equal(it->datacenter, 1);
	assert_int_equal(it->quantity, 16);
	it = &q->items[2];
	assert_true(it->tpp == 4800.5);
	assert_true(isnan(it->die_area_mm2));
	assert_true(it->performance_density == 5.92);
	assert_int_equal(it->datacenter, 0);
	assert_true(it->memory_bandwidth_gbs == 4000);

	EINV(QI(CHIP ",{'kind':'chip','product':'p','tpp':2000}"),
	    "/items/1/tpp", "either 'product' or 'tpp'");
	EINV(QI("{'kind':'chip','product':'p','die_area_mm2':300}"),
	    "/items/0/die_area_mm2", "goes with 'tpp'");
	EINV(QI("{'kind':'chip','product':'p','performance_density':3}"),
	    "/items/0/performance_density", "goes with 'tpp'");
	EINV(QI("{'kind':'chip','tpp':2000}"), "/items/0",
	    "'tpp' needs 'die_area_mm2' or 'performance_density'");
	EINV(QI("{'kind':'chip'}"), "/items/0",
	    "a chip needs 'product' or 'tpp'");
	EINV(QI("{'kind':'chip','datacenter':true}"), "/items/0",
	    "needs 'product' or 'tpp'");
	EINV(QI("{'kind':'chip','tpp':0,'die_area_mm2':300}"),
	    "/items/0/tpp", "'tpp' must be greater than 0");
	EINV(QI("{'kind':'chip','tpp':-1,'die_area_mm2':300}"),
	    "/items/0/tpp", "greater than 0");
	EINV(QI("{'kind':'chip','tpp':'2000','die_area_mm2':300}"),
	    "/items/0/tpp", "'tpp' must be a number");
	EINV(QI("{'kind':'chip','tpp':2000,'die_area_mm2':0}"),
	    "/items/0/die_area_mm2", "greater than 0");
	EINV(QI("{'kind':'chip','tpp':2000,'performance_density':-2}"),
	    "/items/0/performance_density", "greater than 0");
	EINV(QI("{'kind':'chip','product':'p','datacenter':'yes'}"),
	    "/items/0/datacenter", "true or false");
	EINV(QI("{'kind':'chip','product':'p','memory_bandwidth_gbs':0}"),
	    "/items/0/memory_bandwidth_gbs", "greater than 0");
	EINV(QI("{'kind':'chip','product':''}"), "/items/0/product",
	    "must not be empty");
	EINV(QI("{'kind':'chip','product':null}"), "/items/0/product",
	    "must be a string");
}

static void
test_system(void **state)
{
	const struct tg_query *q;

	(void)state;
	q = OK(QI("{'kind':'system','product':'nvidia-h100-sxm',"
	    "'chips_per_unit':8,'quantity':4},"
	    "{'kind':'system','tpp':2000,'die_area_mm2':300,"
	    "'chips_per_unit':8.0}"));
	assert_int_equal(q->items[0].kind, TG_ITEM_SYSTEM);
	assert_int_equal(q->items[0].chips_per_unit, 8);
	assert_int_equal(q->items[0].quantity, 4);
	assert_int_equal(q->items[1].chips_per_unit, 8);
	EINV(QI("{'kind':'system','product':'p'}"), "/items/0/chips_per_unit",
	    "missing required field 'chips_per_unit'");
	EINV(QI("{'kind':'system','product':'p','chips_per_unit':0}"),
	    "/items/0/chips_per_unit", "integer from 1");
	EINV(QI("{'kind':'system','product':'p','chips_per_unit':2.5}"),
	    "/items/0/chips_per_unit", "integer from 1");
	EINV(QI("{'kind':'system','chips_per_unit':8}"), "/items/0",
	    "a system needs 'product' or 'tpp'");
	EINV(QI("{'kind':'system','tpp':1,'chips_per_unit':8}"), "/items/0",
	    "'tpp' needs");
}

static void
test_model_weights(void **state)
{
	const struct tg_query *q;
	const struct tg_item *it;

	(void)state;
	q = OK(QI("{'kind':'model_weights','training_operations':3e26,"
	    "'published':false},"
	    "{'kind':'model_weights','published':true,'base_model':"
	    "{'published':true,'training_operations':4e26},"
	    "'additional_operations':1e25}"));
	it = &q->items[0];
	assert_int_equal(it->kind, TG_ITEM_MODEL_WEIGHTS);
	assert_true(it->training_operations == 3e26);
	assert_int_equal(it->published, 0);
	assert_false(it->has_base_model);
	assert_int_equal(it->base_published, -1);
	assert_true(isnan(it->base_training_operations));
	assert_true(isnan(it->additional_operations));
	assert_null(it->synth);
	assert_int_equal(it->nsynth, 0);
	assert_true(isnan(it->tpp));
	assert_int_equal(it->datacenter, -1);
	it = &q->items[1];
	assert_true(isnan(it->training_operations));
	assert_int_equal(it->published, 1);
	assert_true(it->has_base_model);
	assert_int_equal(it->base_published, 1);
	assert_true(it->base_training_operations == 4e26);
	assert_true(it->additional_operations == 1e25);

	EINV(QI("{'kind':'model_weights','training_operations':1}"),
	    "/items/0/published", "missing required field 'published'");
	EINV(QI("{'kind':'model_weights','published':false}"), "/items/0/training_operations",
	    "missing required field 'training_operations'");
	EINV(QI("{'kind':'model_weights','training_operations':-1,"
	    "'published':false}"), "/items/0/training_operations",
	    "must not be negative");
	EINV(QI("{'kind':'model_weights','training_operations':1,"
	    "'published':'no'}"), "/items/0/published", "true or false");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'published':true,'training_operations':4e26}}"), "/items/0/additional_operations",
	    "missing required field 'additional_operations'");
	EINV(QI("{'kind':'model_weights','training_operations':1,"
	    "'published':true,'additional_operations':1}"),
	    "/items/0/additional_operations", "needs 'base_model'");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'training_operations':4e26},'additional_operations':1}"),
	    "/items/0/base_model/published", "missing required field 'published'");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'published':true},'additional_operations':1}"),
	    "/items/0/base_model/training_operations",
	    "missing required field 'training_operations'");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'published':true,'training_operations':4e26,'name':'x'},"
	    "'additional_operations':1}"), "/items/0/base_model/name",
	    "unknown field 'name'");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'published':1,'training_operations':4e26},"
	    "'additional_operations':1}"), "/items/0/base_model/published",
	    "true or false");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'published':true,'training_operations':-4e26},"
	    "'additional_operations':1}"),
	    "/items/0/base_model/training_operations", "negative");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "{'published':true,'training_operations':4e26},"
	    "'additional_operations':-1}"),
	    "/items/0/additional_operations", "negative");
	EINV(QI("{'kind':'model_weights','published':true,'base_model':"
	    "true,'additional_operations':1}"), "/items/0/base_model",
	    "must be an object");
}

static void
test_synthetic_data(void **state)
{
	const struct tg_query *q;
	const struct tg_item *it;

#define MW "{'kind':'model_weights','training_operations':1e26," \
	    "'published':false,'synthetic_data':"
	(void)state;
	/* As one object. */
	q = OK(QI(MW "{'share':0.15,'generator_training_operations':5e25,"
	    "'generation_operations':1e24,'generator_published':false}}"));
	it = &q->items[0];
	assert_int_equal(it->nsynth, 1);
	assert_true(it->synth[0].share == 0.15);
	assert_true(it->synth[0].generator_training_operations == 5e25);
	assert_true(it->synth[0].generation_operations == 1e24);
	assert_int_equal(it->synth[0].generator_published, 0);

	/* As an array; absent fields NAN and -1. */
	q = OK(QI(MW "[{'share':0.5},{'share':0.25,"
	    "'generator_published':true}]}"));
	it = &q->items[0];
	assert_int_equal(it->nsynth, 2);
	assert_true(it->synth[0].share == 0.5);
	assert_true(isnan(it->synth[0].generator_training_operations));
	assert_true(isnan(it->synth[0].generation_operations));
	assert_int_equal(it->synth[0].generator_published, -1);
	assert_true(it->synth[1].share == 0.25);
	assert_int_equal(it->synth[1].generator_published, 1);

	EINV(QI(MW "[]}"), "/items/0/synthetic_data", "1 to 64 entries");
	EINV(QI(MW "'lots'}"), "/items/0/synthetic_data",
	    "an object or an array");
	EINV(QI(MW "{}}"), "/items/0/synthetic_data/share",
	    "missing required field 'share'");
	EINV(QI(MW "{'share':0.1,'model':'x'}}"),
	    "/items/0/synthetic_data/model", "unknown field 'model'");
	EINV(QI(MW "[{'share':0.1},3]}"), "/items/0/synthetic_data/1",
	    "must be an object");
	EINV(QI(MW "[{'share':0.1},{'share':2}]}"),
	    "/items/0/synthetic_data/1/share", "between 0 and 1");
	EINV(QI(MW "[{'share':0.1},{}]}"), "/items/0/synthetic_data/1/share",
	    "missing required field 'share'");
	EINV(QI(MW "[{'share':0.1,'generation_operations':-1}]}"),
	    "/items/0/synthetic_data/0/generation_operations", "negative");
	EINV(QI(MW "[{'share':0.1,'generator_published':'no'}]}"),
	    "/items/0/synthetic_data/0/generator_published",
	    "true or false");
	EINV(QI(MW "[{'share':0.6},{'share':0.5}]}"),
	    "/items/0/synthetic_data", "add up to more than 1");
#undef MW
}

static void
test_compute_service(void **state)
{
	const struct tg_query *q;
	const struct tg_item *it;

	(void)state;
	q = OK(QI("{'kind':'compute_service','purpose':'training',"
	    "'training_operations':2e26,'location':'US'},"
	    "{'kind':'compute_service','purpose':'inference'}"));
	it = &q->items[0];
	assert_int_equal(it->kind, TG_ITEM_COMPUTE_SERVICE);
	assert_int_equal(it->purpose, TG_PURPOSE_TRAINING);
	assert_true(it->training_operations == 2e26);
	assert_int_equal(it->location, cc("US"));
	it = &q->items[1];
	assert_int_equal(it->purpose, TG_PURPOSE_INFERENCE);
	assert_true(isnan(it->training_operations));
	/* location defaults to the destination */
	assert_int_equal(it->location, cc("IN"));

	EINV(QI("{'kind':'compute_service'}"), "/items/0/purpose",
	    "missing required field 'purpose'");
	EINV(QI("{'kind':'compute_service','purpose':'mining'}"),
	    "/items/0/purpose", "'training' or 'inference'");
	EINV(QI("{'kind':'compute_service','purpose':'training'}"),
	    "/items/0/training_operations", "missing required field 'training_operations'");
	EINV(QI("{'kind':'compute_service','purpose':'inference',"
	    "'training_operations':1}"), "/items/0/training_operations",
	    "applies only to purpose 'training'");
	EINV(QI("{'kind':'compute_service','purpose':'inference',"
	    "'location':'usa'}"), "/items/0/location", "not an ISO");
	EINV(QI("{'kind':'compute_service','purpose':'training',"
	    "'training_operations':-2}"), "/items/0/training_operations",
	    "negative");
}

/* The whole example of contract.md section 1. */
static void
test_contract_example(void **state)
{
	const struct tg_query *q;

	(void)state;
	q = OK("{'reference':'PO-2025-0042','date':'2025-06-02',"
	    "'destination':'IN','consignee':{'id':'acme-in-001',"
	    "'name':'Acme Cloud Pvt Ltd','country':'IN','headquarters':'IN',"
	    "'ultimate_parent':'US'},'end_user':{'name':'...','country':'IN',"
	    "'headquarters':'IN'},'items':["
	    "{'kind':'chip','product':'nvidia-h100-sxm','quantity':1000},"
	    "{'kind':'chip','tpp':2000,'die_area_mm2':300,'datacenter':true,"
	    "'quantity':16},"
	    "{'kind':'system','product':'nvidia-h100-sxm','chips_per_unit':8,"
	    "'quantity':4},"
	    "{'kind':'model_weights','training_operations':3e26,"
	    "'published':false},"
	    "{'kind':'compute_service','purpose':'training',"
	    "'training_operations':2e26,'location':'US'}],"
	    "'dry_run':false}");
	assert_int_equal(q->nitems, 5);
	assert_int_equal(q->consignee.ultimate_parent, cc("US"));
	assert_true(q->end_user_given);
	assert_int_equal(q->end_user.ultimate_parent, cc("IN"));
	assert_true(q->date_given);
	assert_int_equal(q->date, today);
}

/* api_query_from_json: trees built in code, which jansson's parser would
 * never produce. */
static void
test_from_json(void **state)
{
	const struct tg_query *q = NULL;
	struct tg_error err;
	json_t *root;
	char *s;

	(void)state;
	s = dq(QR(""));
	root = json_loads(s, 0, NULL);
	free(s);
	assert_non_null(root);
	assert_int_equal(api_query_from_json(root, arena, today, &q, &err),
	    0);
	assert_non_null(q);

	/* A NUL inside a string would cut the C string the engine sees. */
	assert_int_equal(json_object_set_new(json_object_get(root,
	    "consignee"), "name", json_stringn("Ac\0me", 5)), 0);
	assert_int_equal(api_query_from_json(root, arena, today, &q, &err),
	    TG_EINVAL);
	assert_string_equal(err.pointer, "/consignee/name");
	assert_null(q);
	json_decref(root);

	root = json_array();
	assert_int_equal(api_query_from_json(root, arena, today, &q, &err),
	    TG_EINVAL);
	assert_string_equal(err.pointer, "");
	json_decref(root);
}

/* A full arena is -ENOMEM, never a crash or a half-filled query. */
static void
test_arena_full(void **state)
{
	struct tg_arena *small;
	const struct tg_query *q = NULL;
	struct tg_error err;
	char *s;
	int rc;

	(void)state;
	small = arena_new(1024);
	assert_non_null(small);
	s = dq(QI(CHIP "," CHIP "," CHIP "," CHIP "," CHIP "," CHIP ","
	    CHIP "," CHIP "," CHIP "," CHIP "," CHIP "," CHIP));
	rc = api_query_parse(s, strlen(s), small, today, &q, &err);
	assert_int_equal(rc, -ENOMEM);
	assert_int_equal(err.code, -ENOMEM);
	assert_null(q);
	free(s);
	arena_free(small);
}

/* ---- encoder ------------------------------------------------------------ */

struct fixture {
	struct tg_decision d;
	struct tg_item_decision items[3];
	struct tg_reason reasons[2];
	struct tg_quota_use quotas[2];
	struct tg_red_flag flags[2];
	const char *warnings[1];
};

/* A decision built by hand: the engine is not needed to test its
 * encoding. */
static void
fixture_init(struct fixture *f)
{
	tg_date date;

	memset(f, 0, sizeof(*f));
	assert_int_equal(date_parse("2025-06-02", 10, &date), 0);
	f->reasons[0].rule = "lpp.within-annual-limit";
	f->reasons[0].citation = "15 CFR 740.29(a)";
	f->reasons[0].text = "within the annual LPP limit";
	f->reasons[1].rule = "tier3.denial";
	f->reasons[1].citation = "15 CFR 742.6(b)(10)";
	f->reasons[1].text = "destination in Tier 3 \xe2\x80\x94 denial";

	f->items[0].index = 0;
	f->items[0].eccn = "3A090.a";
	f->items[0].outcome = TG_AUTHORIZED;
	f->items[0].authorization = "LPP";
	f->items[0].review = TG_REVIEW_NONE;
	f->items[0].tpp = 15832000;
	f->items[0].operations = NAN;
	f->items[0].reasons = &f->reasons[0];
	f->items[0].nreasons = 1;

	f->items[1].index = 1;
	f->items[1].eccn = "4E091";
	f->items[1].outcome = TG_LICENSE_REQUIRED;
	f->items[1].license = "D123";
	f->items[1].review = TG_REVIEW_DENIAL;
	f->items[1].tpp = NAN;
	f->items[1].operations = 3e26;
	f->items[1].reasons = &f->reasons[1];
	f->items[1].nreasons = 1;

	f->items[2].index = 2;
	f->items[2].outcome = TG_NO_LICENSE_REQUIRED;
	f->items[2].review = TG_REVIEW_NONE;
	f->items[2].tpp = 1.5;
	f->items[2].operations = NAN;

	f->quotas[0].name = "lpp";
	f->quotas[0].key = "acme-in-001";
	f->quotas[0].period = "2025";
	f->quotas[0].used = 15832000;
	f->quotas[0].limit = 26900000;
	f->quotas[1].name = "tpp-share";
	f->quotas[1].key = "x";
	f->quotas[1].period = "2025-Q2";
	f->quotas[1].used = 0.25;
	f->quotas[1].limit = 9007199254740992.0;	/* 2^53: a real */

	f->flags[0].rule = "rf.no-end-user";
	f->flags[0].citation = "15 CFR 732 Supp. 3";
	f->flags[0].text = "no end user named";
	f->flags[0].item = -1;
	f->flags[1].rule = "rf.odd-quantity";
	f->flags[1].citation = "15 CFR 732 Supp. 3";
	f->flags[1].text = "quantity out of line";
	f->flags[1].item = 1;
	f->warnings[0] = "rules pack is a draft";

	f->d.reference = NULL;
	f->d.date = date;
	f->d.outcome = TG_LICENSE_REQUIRED;
	f->d.destination = cc("CN");
	f->d.destination_given = cc("HK");
	f->d.tier = 3;
	f->d.items = f->items;
	f->d.nitems = 3;
	f->d.quotas = f->quotas;
	f->d.nquotas = 2;
	f->d.red_flags = f->flags;
	f->d.nred_flags = 2;
	f->d.warnings = f->warnings;
	f->d.nwarnings = 1;
	f->d.pack_name = "ai-diffusion-2025";
	f->d.pack_version = "2025.1";
	f->d.pack_sha256 = "9f86d081";
	f->d.dry_run = true;
	f->d.arena = arena;
	f->d.pack = NULL;
}

static const char golden[] =
    "{\"decision_id\":\"0190b1c2-7d4e-7000-8000-000000000001\","
    "\"reference\":null,\"date\":\"2025-06-02\","
    "\"outcome\":\"license_required\","
    "\"destination\":{\"country\":\"CN\",\"tier\":3,"
    "\"country_given\":\"HK\"},"
    "\"items\":["
    "{\"index\":0,\"eccn\":\"3A090.a\",\"outcome\":\"authorized\","
    "\"authorization\":\"LPP\",\"review_policy\":null,\"tpp\":15832000,"
    "\"reasons\":[{\"rule\":\"lpp.within-annual-limit\","
    "\"citation\":\"15 CFR 740.29(a)\","
    "\"text\":\"within the annual LPP limit\"}]},"
    "{\"index\":1,\"eccn\":\"4E091\",\"outcome\":\"license_required\","
    "\"authorization\":null,\"license\":\"D123\","
    "\"review_policy\":\"presumption_of_denial\",\"tpp\":null,"
    "\"operations\":3e26,"
    "\"reasons\":[{\"rule\":\"tier3.denial\","
    "\"citation\":\"15 CFR 742.6(b)(10)\","
    "\"text\":\"destination in Tier 3 \xe2\x80\x94 denial\"}]},"
    "{\"index\":2,\"eccn\":null,\"outcome\":\"no_license_required\","
    "\"authorization\":null,\"review_policy\":null,\"tpp\":1.5,"
    "\"reasons\":[]}],"
    "\"quotas\":[{\"name\":\"lpp\",\"key\":\"acme-in-001\","
    "\"period\":\"2025\",\"used\":15832000,\"limit\":26900000,\"reserved\":0},"
    "{\"name\":\"tpp-share\",\"key\":\"x\",\"period\":\"2025-Q2\","
    "\"used\":0.25,\"limit\":9007199254740992.0,\"reserved\":0}],"
    "\"red_flags\":[{\"rule\":\"rf.no-end-user\","
    "\"citation\":\"15 CFR 732 Supp. 3\",\"text\":\"no end user named\","
    "\"item\":null},{\"rule\":\"rf.odd-quantity\","
    "\"citation\":\"15 CFR 732 Supp. 3\","
    "\"text\":\"quantity out of line\",\"item\":1}],"
    "\"warnings\":[\"rules pack is a draft\"],"
    "\"rules\":{\"pack\":\"ai-diffusion-2025\",\"version\":\"2025.1\","
    "\"sha256\":\"9f86d081\"},"
    "\"dry_run\":true}";

/* The tree-free writers (decision_text.c) against the tree
 * (decision_json.c + jcs.c + jansson's dump): every control character,
 * quotes, backslashes, DEL, non-ASCII and astral characters, NAN,
 * negative zero, fractions, 2^53 and beyond, a missing date and country,
 * HK asked and CN decided, absent optional members. */
static void
test_decision_text_matches_tree(void **state)
{
	static const char id[] = "0190b1c2-7d4e-7000-8000-000000000001";
	static const double nums[] = { 0.0, -0.0, 1.5, -2.25, 1e21, 1e-7,
	    123456789012345678.0, 9007199254740992.0, 9007199254740993.0,
	    0.1, 1.0 / 3, 5e-324, 1.7976931348623157e308, NAN, INFINITY,
	    26898568, -1 };
	char ref[64 + 32];
	struct fixture f;
	struct audit_receipt r;

	(void)state;
	for (size_t k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
		json_t *j;
		struct tg_buf b;
		char *want;

		fixture_init(&f);
		/* Bytes 0x01..0x20 and the specials, then UTF-8. */
		for (int c = 1; c <= 0x20; c++)
			ref[c - 1] = (char)c;
		snprintf(ref + 0x20, sizeof(ref) - 0x20,
		    "\"\\/\x7f\xc3\xa9\xf0\x9d\x84\x9e\xe2\x80\xa8%zu", k);
		f.d.reference = ref;
		f.items[0].tpp = nums[k];
		f.quotas[1].used = nums[k];
		f.items[1].operations = nums[k];
		if (k % 2 == 1) {
			f.d.date = TG_DATE_NONE;
			f.d.destination = TG_CC_NONE;
			f.d.tier = 0;
		} else {
			assert_int_equal(cc_parse("CN", 2, &f.d.destination), 0);
			assert_int_equal(cc_parse("HK", 2,
			    &f.d.destination_given), 0);
		}
		memset(&r, 0, sizeof(r));
		r.seq = 9007199254740993ull;
		r.tree_size = INT64_MAX;	/* json_int_t holds no more */
		snprintf(r.kind, sizeof(r.kind), "decision");
		r.checkpoint = (char *)(uintptr_t)"o\n1\nx\n\n\xe2\x80\x94 o s\n";
		r.nproof = k % 3;

		j = api_decision_to_json(&f.d, id);
		assert_non_null(j);
		buf_init(&b, 1u << 20);
		want = jcs_dumps(j);
		assert_non_null(want);
		assert_int_equal(api_decision_jcs(&f.d, id, &b), 0);
		assert_string_equal(b.p, want);
		free(want);
		assert_int_equal(api_attach_receipt(j, &r), 0);
		want = api_dumps(j, true);
		assert_non_null(want);
		b.len = 0;
		assert_int_equal(api_decision_text(&f.d, id, &r, &b), 0);
		assert_string_equal(b.p, want);
		free(want);
		buf_release(&b);
		json_decref(j);
	}
	/* Ill-formed UTF-8: both refuse, and the buffer is left as it
	 * was. */
	fixture_init(&f);
	f.d.reference = "bad \xc0\xaf";
	{
		struct tg_buf b;

		buf_init(&b, 1u << 20);
		assert_int_equal(buf_adds(&b, "keep"), 0);
		assert_null(api_decision_to_json(&f.d, id));
		assert_int_equal(api_decision_jcs(&f.d, id, &b), TG_EINVAL);
		assert_int_equal(api_decision_text(&f.d, id, NULL, &b),
		    TG_EINVAL);
		assert_string_equal(b.p, "keep");
		buf_release(&b);
	}
}

static void
test_encode_golden(void **state)
{
	struct fixture f;
	json_t *j;
	char *s, *s2;

	(void)state;
	fixture_init(&f);
	j = api_decision_to_json(&f.d, "0190b1c2-7d4e-7000-8000-000000000001");
	assert_non_null(j);
	s = api_dumps(j, false);
	assert_non_null(s);
	if (strcmp(s, golden) != 0)
		print_error("got:\n%s\n", s);
	assert_string_equal(s, golden);
	/* Same decision, same bytes. */
	json_decref(j);
	j = api_decision_to_json(&f.d, "0190b1c2-7d4e-7000-8000-000000000001");
	s2 = api_dumps(j, false);
	assert_string_equal(s, s2);
	free(s2);
	/* Pretty form: two-space indent, same content. */
	s2 = api_dumps(j, true);
	assert_non_null(s2);
	assert_int_equal(strncmp(s2, "{\n  \"decision_id\": \"0190", 24), 0);
	{
		json_t *a = json_loads(s, 0, NULL), *b = json_loads(s2, 0,
		    NULL);

		assert_non_null(a);
		assert_non_null(b);
		assert_true(json_equal(a, b));
		json_decref(a);
		json_decref(b);
	}
	free(s2);
	free(s);
	json_decref(j);
}

static void
check_keys(const json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v, *m;
	size_t i = 0;

	m = json_deep_copy(o);
	assert_non_null(m);
	json_object_foreach(m, k, v) {
		assert_true(i < n);
		assert_string_equal(k, keys[i]);
		i++;
	}
	assert_int_equal(i, n);
	json_decref(m);
}

/* Parse the bytes back: key order, integer/real types, exact values. */
static void
test_encode_round_trip(void **state)
{
	static const char *const top[] = {
		"decision_id", "reference", "date", "outcome", "destination",
		"items", "quotas", "red_flags", "warnings", "rules", "dry_run",
	};
	static const char *const item0[] = {
		"index", "eccn", "outcome", "authorization", "review_policy",
		"tpp", "reasons",
	};
	static const char *const item1[] = {
		"index", "eccn", "outcome", "authorization", "license",
		"review_policy", "tpp", "operations", "reasons",
	};
	static const char *const dest[] = { "country", "tier" };
	struct fixture f;
	json_t *j, *back, *items, *v;
	char *s;

	(void)state;
	fixture_init(&f);
	f.d.reference = "PO-\xc3\xa9-1";
	f.d.destination_given = f.d.destination;
	f.items[0].tpp = -0.0;
	f.items[2].tpp = 9007199254740991.0;	/* 2^53 - 1: an integer */
	f.quotas[0].used = NAN;
	f.d.dry_run = false;
	j = api_decision_to_json(&f.d, NULL);
	assert_non_null(j);
	s = api_dumps(j, false);
	assert_non_null(s);
	back = json_loads(s, 0, NULL);
	assert_non_null(back);

	check_keys(back, top, sizeof(top) / sizeof(top[0]));
	assert_true(json_is_null(json_object_get(back, "decision_id")));
	assert_string_equal(json_string_value(json_object_get(back,
	    "reference")), "PO-\xc3\xa9-1");
	/* Raw UTF-8, not \u escapes. */
	assert_non_null(strstr(s, "PO-\xc3\xa9-1"));
	check_keys(json_object_get(back, "destination"), dest, 2);
	items = json_object_get(back, "items");
	assert_int_equal(json_array_size(items), 3);
	check_keys(json_array_get(items, 0), item0,
	    sizeof(item0) / sizeof(item0[0]));
	check_keys(json_array_get(items, 1), item1,
	    sizeof(item1) / sizeof(item1[0]));

	v = json_object_get(json_array_get(items, 0), "tpp");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 0);
	v = json_object_get(json_array_get(items, 1), "operations");
	assert_true(json_is_real(v));
	assert_true(json_real_value(v) == 3e26);
	v = json_object_get(json_array_get(items, 2), "tpp");
	assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(v), 9007199254740991LL);
	v = json_object_get(json_array_get(json_object_get(back, "quotas"),
	    0), "used");
	assert_true(json_is_null(v));
	v = json_object_get(json_array_get(json_object_get(back, "quotas"),
	    1), "limit");
	assert_true(json_is_real(v));
	assert_true(json_real_value(v) == 9007199254740992.0);
	assert_true(json_is_false(json_object_get(back, "dry_run")));

	json_decref(back);
	free(s);
	json_decref(j);
}

static void
test_encode_edges(void **state)
{
	struct fixture f;
	json_t *j;
	char *s;

	(void)state;
	/* Nothing in the lists, no pack, no date, no tier. */
	memset(&f, 0, sizeof(f));
	f.d.date = TG_DATE_NONE;
	f.d.destination = cc("IN");
	f.d.destination_given = TG_CC_NONE;
	j = api_decision_to_json(&f.d, "id");
	assert_non_null(j);
	s = api_dumps(j, false);
	assert_string_equal(s, "{\"decision_id\":\"id\",\"reference\":null,"
	    "\"date\":null,\"outcome\":\"no_license_required\","
	    "\"destination\":{\"country\":\"IN\",\"tier\":null},"
	    "\"items\":[],\"quotas\":[],\"red_flags\":[],\"warnings\":[],"
	    "\"rules\":{\"pack\":null,\"version\":null,\"sha256\":null},"
	    "\"dry_run\":false}");
	free(s);
	json_decref(j);

	/* A string jansson refuses (ill-formed UTF-8) fails the whole
	 * encoding instead of dropping a field; nothing leaks (ASan). */
	fixture_init(&f);
	f.reasons[1].text = "bad \xff text";
	assert_null(api_decision_to_json(&f.d, "id"));
	fixture_init(&f);
	f.warnings[0] = "\xc3";
	assert_null(api_decision_to_json(&f.d, "id"));
	fixture_init(&f);
	f.d.pack_sha256 = "\xff";
	assert_null(api_decision_to_json(&f.d, "id"));
	fixture_init(&f);
	assert_null(api_decision_to_json(&f.d, "\xff"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_syntax),
		T(test_root),
		T(test_root_values),
		T(test_reference_date),
		T(test_destination),
		T(test_limits),
		T(test_long_key),
		T(test_party_errors),
		T(test_party_defaults),
		T(test_veu),
		T(test_items_array),
		T(test_item_common),
		T(test_chip),
		T(test_system),
		T(test_model_weights),
		T(test_synthetic_data),
		T(test_compute_service),
		T(test_contract_example),
		T(test_from_json),
		T(test_arena_full),
		T(test_encode_golden),
		T(test_decision_text_matches_tree),
		T(test_encode_round_trip),
		T(test_encode_edges),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
