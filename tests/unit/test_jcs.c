/*
 * test_jcs.c: RFC 8785 canonicalization (jcs.c).
 *
 * Expected outputs come from RFC 8785 itself (section 3.2.2 example,
 * section 3.2.3 sorting example, Appendix B number table) and, where the
 * RFC has no example, from V8's JSON.stringify(), which RFC 8785 names as
 * the reference.  Non-ASCII text is written as UTF-8 byte escapes so the
 * exact bytes are visible.
 */
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

#include "tiergate/error.h"
#include "tiergate/jcs.h"

/* Parses text (any JSON value) with flags; fails the test on error. */
static json_t *
parse(const char *text, size_t flags)
{
	json_error_t jerr;
	json_t *v;

	v = json_loads(text, flags | JSON_DECODE_ANY, &jerr);
	if (v == NULL)
		fail_msg("cannot parse '%s': %s", text, jerr.text);
	return v;
}

/* Checks that v (a new reference, consumed) canonicalizes to want. */
static void
check_value(json_t *v, const char *want)
{
	char *got;

	assert_non_null(v);
	got = jcs_dumps(v);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	json_decref(v);
}

static void
check_text(const char *text, const char *want)
{
	check_value(parse(text, 0), want);
}

static void
check_double(double x, const char *want)
{
	check_value(json_real(x), want);
}

/* Checks that jcs_write() fails on v (a new reference, consumed) with
 * code and leaves the buffer as it was. */
static void
check_fails(json_t *v, int code)
{
	struct tg_buf b;

	assert_non_null(v);
	buf_init(&b, 1024);
	assert_int_equal(buf_adds(&b, "x"), 0);
	assert_int_equal(jcs_write(&b, v), code);
	assert_int_equal(b.len, 1);
	assert_string_equal(b.p, "x");
	assert_null(jcs_dumps(v));
	buf_release(&b);
	json_decref(v);
}

/* ---- numbers ------------------------------------------------------- */

/* RFC 8785 section 3.2.2: the "numbers" member of the example. */
static void
test_rfc_numbers(void **state)
{
	(void)state;
	check_text("[333333333.33333329, 1E30, 4.50, 2e-3, "
	    "0.000000000000000000000000001]",
	    "[333333333.3333333,1e+30,4.5,0.002,1e-27]");
}

/* RFC 8785 Appendix B, all finite rows: IEEE 754 bits -> JSON text. */
static void
test_rfc_appendix_b(void **state)
{
	static const struct {
		uint64_t bits;
		const char *want;
	} t[] = {
		{ 0x0000000000000000ULL, "0" },
		{ 0x8000000000000000ULL, "0" },
		{ 0x0000000000000001ULL, "5e-324" },
		{ 0x8000000000000001ULL, "-5e-324" },
		{ 0x7fefffffffffffffULL, "1.7976931348623157e+308" },
		{ 0xffefffffffffffffULL, "-1.7976931348623157e+308" },
		{ 0x4340000000000000ULL, "9007199254740992" },
		{ 0xc340000000000000ULL, "-9007199254740992" },
		{ 0x4430000000000000ULL, "295147905179352830000" },
		{ 0x44b52d02c7e14af5ULL, "9.999999999999997e+22" },
		{ 0x44b52d02c7e14af6ULL, "1e+23" },
		{ 0x44b52d02c7e14af7ULL, "1.0000000000000001e+23" },
		{ 0x444b1ae4d6e2ef4eULL, "999999999999999700000" },
		{ 0x444b1ae4d6e2ef4fULL, "999999999999999900000" },
		{ 0x444b1ae4d6e2ef50ULL, "1e+21" },
		{ 0x3eb0c6f7a0b5ed8cULL, "9.999999999999997e-7" },
		{ 0x3eb0c6f7a0b5ed8dULL, "0.000001" },
		{ 0x41b3de4355555553ULL, "333333333.3333332" },
		{ 0x41b3de4355555554ULL, "333333333.33333325" },
		{ 0x41b3de4355555555ULL, "333333333.3333333" },
		{ 0x41b3de4355555556ULL, "333333333.3333334" },
		{ 0x41b3de4355555557ULL, "333333333.33333343" },
		{ 0xbecbf647612f3696ULL, "-0.0000033333333333333333" },
		{ 0x43143ff3c1cb0959ULL, "1424953923781206.2" },
	};
	size_t i;
	double x;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memcpy(&x, &t[i].bits, sizeof(x));
		check_double(x, t[i].want);
	}
}

/* ES6 7.1.12.1: plain notation for 1e-7 <= |x| < 1e21, else exponent. */
static void
test_number_layout(void **state)
{
	(void)state;
	check_double(1e21, "1e+21");
	check_double(1e20, "100000000000000000000");
	check_double(123e18, "123000000000000000000");
	check_double(1.5e21, "1.5e+21");
	check_double(1e26, "1e+26");
	check_double(1e-6, "0.000001");
	check_double(1e-7, "1e-7");
	check_double(1.5e-7, "1.5e-7");
	check_double(1.25e-6, "0.00000125");
	check_double(123e-20, "1.23e-18");
	check_double(1.5, "1.5");
	check_double(-1.5, "-1.5");
	check_double(0.1, "0.1");
	check_double(100, "100");
	check_double(12.5, "12.5");
	check_double(-0.0, "0");
	check_double(0.0, "0");
	check_double(5e-324, "5e-324");
	check_double(1.7976931348623157e308, "1.7976931348623157e+308");
	check_double(0.1 + 0.2, "0.30000000000000004");
	/* Powers of two, whose rounding intervals are lopsided (V8). */
	check_double(ldexp(1, -1074), "5e-324");
	check_double(ldexp(1, -1022), "2.2250738585072014e-308");
	check_double(ldexp(1, -44), "5.684341886080802e-14");
	check_double(ldexp(1, 1023), "8.98846567431158e+307");
	check_double(ldexp(1, 60), "1152921504606847000");
	check_double(ldexp(1, 70), "1.1805916207174113e+21");
	check_text("[-0.0, 4.50, 1E+2, 1e-0]", "[0,4.5,100,1]");
}

/* JCS numbers are doubles: integers beyond 2^53 come out as the double
 * they round to (ties to even), in ES6 form. */
static void
test_integers(void **state)
{
	(void)state;
	check_value(json_integer(0), "0");
	check_value(json_integer(-1), "-1");
	check_value(json_integer(1234567890), "1234567890");
	check_value(json_integer(9007199254740992LL), "9007199254740992");
	check_value(json_integer(-9007199254740992LL), "-9007199254740992");
	check_value(json_integer(9007199254740993LL), "9007199254740992");
	check_value(json_integer(-9007199254740993LL), "-9007199254740992");
	check_value(json_integer(9007199254740995LL), "9007199254740996");
	check_value(json_integer(INT64_MAX), "9223372036854776000");
	check_value(json_integer(INT64_MIN), "-9223372036854776000");
	check_text("9007199254740993", "9007199254740992");
	check_text("[1, -0, 10000000000]", "[1,0,10000000000]");
}

/* jansson refuses NaN and infinities at every door, so jcs_write()'s own
 * check cannot be reached through the API; show that the doors hold. */
static void
test_nonfinite(void **state)
{
	json_error_t jerr;
	json_t *v;

	(void)state;
	assert_null(json_real(NAN));
	assert_null(json_real(INFINITY));
	assert_null(json_real(-INFINITY));
	v = json_real(1.0);
	assert_non_null(v);
	assert_int_equal(json_real_set(v, NAN), -1);
	assert_int_equal(json_real_set(v, INFINITY), -1);
	check_value(v, "1");
	assert_null(json_loads("1e400", JSON_DECODE_ANY, &jerr));
	assert_null(json_loads("NaN", JSON_DECODE_ANY, &jerr));
}

/* ---- strings ------------------------------------------------------- */

static void
test_string_controls(void **state)
{
	char in[32];
	int i;

	(void)state;
	for (i = 0; i < 32; i++)
		in[i] = (char)i;
	check_value(json_stringn(in, sizeof(in)),
	    "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
	    "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
	    "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
	    "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
}

static void
test_string_plain(void **state)
{
	(void)state;
	/* Only " and \ are escaped; / and DEL are not. */
	check_value(json_string("a\"b\\c/d\x7f"), "\"a\\\"b\\\\c/d\x7f\"");
	check_value(json_string(""), "\"\"");
	/* Non-ASCII stays UTF-8, including the supplementary planes. */
	check_value(json_string("\xe2\x82\xac"), "\"\xe2\x82\xac\"");
	check_value(json_string("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
	check_value(json_string("\xc2\x80\xef\xbf\xbf"),
	    "\"\xc2\x80\xef\xbf\xbf\"");
	/* Escaped input comes out unescaped, and the reverse. */
	check_text("\"\\u20ac\\ud83d\\ude00\\u0041\\/\\u000A\"",
	    "\"\xe2\x82\xac\xf0\x9f\x98\x80" "A/\\n\"");
	/* An embedded NUL. */
	check_value(json_stringn("a\0b", 3), "\"a\\u0000b\"");
	check_value(parse("\"\\u0000\"", JSON_ALLOW_NUL), "\"\\u0000\"");
}

/* Strings built with jansson's *_nocheck constructors can hold anything;
 * ill-formed UTF-8 (and encoded surrogates, RFC 8785 section 3.2.2.2)
 * must be refused, in values and in keys. */
static void
test_string_bad_utf8(void **state)
{
	static const char *bad[] = {
		"\xff", "\xc0\x80", "\xc3", "\xe2\x82", "\xed\xa0\x80",
		"\xed\xbf\xbf", "\xf4\x90\x80\x80", "\x80", "a\xf0\x9f\x98",
	};
	json_t *o;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_fails(json_stringn_nocheck(bad[i], strlen(bad[i])),
		    TG_EINVAL);
		o = json_object();
		assert_non_null(o);
		assert_int_equal(json_object_setn_new_nocheck(o, bad[i],
		    strlen(bad[i]), json_true()), 0);
		check_fails(o, TG_EINVAL);
	}
	/* The largest code point is fine. */
	check_value(json_stringn_nocheck("\xf4\x8f\xbf\xbf", 4),
	    "\"\xf4\x8f\xbf\xbf\"");
}

/* ---- objects ------------------------------------------------------- */

/* RFC 8785 section 3.2.3: the sorting example. */
static void
test_rfc_sorting(void **state)
{
	(void)state;
	check_text("{\n"
	    "  \"\\u20ac\": \"Euro Sign\",\n"
	    "  \"\\r\": \"Carriage Return\",\n"
	    "  \"\\ufb33\": \"Hebrew Letter Dalet With Dagesh\",\n"
	    "  \"1\": \"One\",\n"
	    "  \"\\ud83d\\ude00\": \"Emoji: Grinning Face\",\n"
	    "  \"\\u0080\": \"Control\",\n"
	    "  \"\\u00f6\": \"Latin Small Letter O With Diaeresis\"\n"
	    "}",
	    "{\"\\r\":\"Carriage Return\","
	    "\"1\":\"One\","
	    "\"\xc2\x80\":\"Control\","
	    "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\","
	    "\"\xe2\x82\xac\":\"Euro Sign\","
	    "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
	    "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

/* UTF-16 order differs from UTF-8 byte order (and code point order) for
 * U+E000..U+FFFF against the supplementary planes. */
static void
test_key_order_utf16(void **state)
{
	(void)state;
	check_text("{\"\\uffff\":1,\"\\ufffd\":2,\"\\ue000\":3,"
	    "\"\\ud800\\udc00\":4,\"\\udbff\\udfff\":5,\"\\ud7ff\":6}",
	    "{\"\xed\x9f\xbf\":6,"
	    "\"\xf0\x90\x80\x80\":4,"
	    "\"\xf4\x8f\xbf\xbf\":5,"
	    "\"\xee\x80\x80\":3,"
	    "\"\xef\xbf\xbd\":2,"
	    "\"\xef\xbf\xbf\":1}");
	/* A proper prefix sorts first; case matters (A < Z < a). */
	check_text("{\"ab\":1,\"a\":2,\"\":3,\"b\":4,\"Z\":5,\"A\":6}",
	    "{\"\":3,\"A\":6,\"Z\":5,\"a\":2,\"ab\":1,\"b\":4}");
}

/* Keys may hold NUL; they are compared and written by length. */
static void
test_key_nul(void **state)
{
	json_t *o;

	(void)state;
	o = json_object();
	assert_non_null(o);
	assert_int_equal(json_object_setn_new(o, "a\0b", 3,
	    json_integer(3)), 0);
	assert_int_equal(json_object_setn_new(o, "a", 1, json_integer(1)), 0);
	assert_int_equal(json_object_setn_new(o, "a\0", 2,
	    json_integer(2)), 0);
	assert_int_equal(json_object_setn_new(o, "\0", 1, json_integer(0)), 0);
	check_value(o, "{\"\\u0000\":0,\"a\":1,\"a\\u0000\":2,"
	    "\"a\\u0000b\":3}");
	/* jansson's parser refuses NUL in keys even with JSON_ALLOW_NUL, so
	 * such keys only come from json_object_setn(). */
}

/* RFC 8785 section 3.2.2: the whole example. */
static void
test_rfc_example(void **state)
{
	(void)state;
	check_text("{\n"
	    "  \"numbers\": [333333333.33333329, 1E30, 4.50, 2e-3, "
	    "0.000000000000000000000000001],\n"
	    "  \"string\": \"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c"
	    "\\\\\\\"\\/\",\n"
	    "  \"literals\": [null, true, false]\n"
	    "}",
	    "{\"literals\":[null,true,false],"
	    "\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],"
	    "\"string\":\"\xe2\x82\xac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}");
}

static void
test_nested(void **state)
{
	(void)state;
	check_text(" { \"b\" : [ { \"z\" : 1 , \"a\" : { \"y\" : null ,"
	    " \"x\" : true } } , [ ] , { } ] , \"a\" : { } , \"c\" : [ [ [ "
	    "\"deep\" , false ] ] ] } ",
	    "{\"a\":{},\"b\":[{\"a\":{\"x\":true,\"y\":null},\"z\":1},[],{}],"
	    "\"c\":[[[\"deep\",false]]]}");
	check_text("[]", "[]");
	check_text("{}", "{}");
	check_text("null", "null");
	check_text("[true,false,null]", "[true,false,null]");
}

/* ---- properties ---------------------------------------------------- */

static const char *const docs[] = {
	"{\"z\":[1,2.5,-0.0,1e21,1e-7,\"\\u001f\"],\"a\":{\"\\ufb33\":1,"
	    "\"\\ud83d\\ude00\":2},\"m\":null}",
	"[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]",
	"{\"numbers\":[1e-6,1.2345678901234568e20,5e-324],"
	    "\"s\":\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u007f\\u0080\"}",
	"[9007199254740993, 1e300, -1.7976931348623157e308]",
	"\"\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\\"\\/\"",
};

/* parse(jcs(x)) canonicalizes to the same bytes.  Integers are read as
 * reals here: canonical output may hold integers above INT64_MAX (such as
 * 1e20 written out), which jansson's default parser refuses. */
static void
test_idempotent(void **state)
{
	json_t *v, *w;
	char *s1, *s2;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		v = parse(docs[i], JSON_ALLOW_NUL);
		s1 = jcs_dumps(v);
		assert_non_null(s1);
		w = parse(s1, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL);
		s2 = jcs_dumps(w);
		assert_non_null(s2);
		assert_string_equal(s1, s2);
		free(s1);
		free(s2);
		json_decref(v);
		json_decref(w);
	}
}

/* The same value, differently ordered, spaced, escaped and spelled. */
static void
test_same_value(void **state)
{
	static const char *a = "{\"id\":\"d-1\",\"items\":[{\"eccn\":\"5A002\","
	    "\"qty\":2,\"price\":1.5}],\"\\u00e9t\\u00e9\":true,\"n\":1e2}";
	static const char *b = "{\n\t\"n\" : 100.0 ,\n\t\"\xc3\xa9t\xc3\xa9\""
	    " : true,\n\t\"items\" : [ { \"price\" : 15E-1, \"eccn\" : "
	    "\"5A\\u0030\\u00302\", \"qty\" : 2 } ],\n\t\"id\" : \"d-1\"\n}\n";
	char ha[65], hb[65];
	json_t *va, *vb;
	char *sa, *sb;

	(void)state;
	va = parse(a, 0);
	vb = parse(b, 0);
	sa = jcs_dumps(va);
	sb = jcs_dumps(vb);
	assert_non_null(sa);
	assert_non_null(sb);
	assert_string_equal(sa, sb);
	assert_string_equal(sa, "{\"id\":\"d-1\",\"items\":[{\"eccn\":"
	    "\"5A002\",\"price\":1.5,\"qty\":2}],\"n\":100,"
	    "\"\xc3\xa9t\xc3\xa9\":true}");
	assert_int_equal(jcs_sha256(va, ha), 0);
	assert_int_equal(jcs_sha256(vb, hb), 0);
	assert_string_equal(ha, hb);
	free(sa);
	free(sb);
	json_decref(va);
	json_decref(vb);
}

static void
test_sha256(void **state)
{
	char h[65];
	json_t *v;

	(void)state;
	/* sha256("{}") */
	v = parse(" { } ", 0);
	assert_int_equal(jcs_sha256(v, h), 0);
	assert_string_equal(h, "44136fa355b3678a1146ad16f7e8649e"
	    "94fb4fc21fe77e8310c060f61caaff8a");
	json_decref(v);
	/* sha256("[1,\"a\"]") */
	v = parse("[ 1.0, \"\\u0061\" ]", 0);
	assert_int_equal(jcs_sha256(v, h), 0);
	assert_string_equal(h, "2010945388e2de98f5651051478912aa"
	    "4ff38bb13a2cdb1a2c257bb97fbf98ff");
	json_decref(v);
	v = json_stringn_nocheck("\xff", 1);
	assert_non_null(v);
	assert_int_equal(jcs_sha256(v, h), TG_EINVAL);
	assert_string_equal(h, "");
	json_decref(v);
}

/* ---- limits -------------------------------------------------------- */

static void
test_null_value(void **state)
{
	struct tg_buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(jcs_write(&b, NULL), TG_EINVAL);
	assert_null(jcs_dumps(NULL));
	buf_release(&b);
}

/* A full buffer is TG_ETOOBIG, and the buffer is left as it was. */
static void
test_toobig(void **state)
{
	struct tg_buf b;
	json_t *v;

	(void)state;
	v = parse("{\"key\":[1,2,3,\"a long enough string\"]}", 0);
	buf_init(&b, 16);
	assert_int_equal(buf_adds(&b, "ab"), 0);
	assert_int_equal(jcs_write(&b, v), TG_ETOOBIG);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.p, "ab");
	buf_release(&b);
	buf_init(&b, 40);
	assert_int_equal(jcs_write(&b, v), 0);
	assert_string_equal(b.p, "{\"key\":[1,2,3,\"a long enough string\"]}");
	buf_release(&b);
	json_decref(v);
}

/* Wraps v in n arrays. */
static json_t *
nest(json_t *v, int n)
{
	json_t *a;

	while (n-- > 0) {
		a = json_array();
		assert_non_null(a);
		assert_int_equal(json_array_append_new(a, v), 0);
		v = a;
	}
	return v;
}

/* Nesting is capped at jansson's own parser depth; a reference cycle,
 * which jansson lets one build, hits the same cap. */
static void
test_depth(void **state)
{
	json_t *v, *a, *b;
	char *s;

	(void)state;
	v = nest(json_integer(7), JSON_PARSER_MAX_DEPTH);
	s = jcs_dumps(v);
	assert_non_null(s);
	assert_int_equal(strlen(s), 2 * JSON_PARSER_MAX_DEPTH + 1);
	free(s);
	json_decref(v);
	check_fails(nest(json_integer(7), JSON_PARSER_MAX_DEPTH + 1),
	    TG_ETOOBIG);

	a = json_array();
	b = json_object();
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(json_array_append(a, b), 0);
	assert_int_equal(json_object_set(b, "loop", a), 0);
	check_fails(json_incref(a), TG_ETOOBIG);
	json_object_clear(b);	/* break the cycle so both are freed */
	json_decref(b);
	json_decref(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_numbers),
		cmocka_unit_test(test_rfc_appendix_b),
		cmocka_unit_test(test_number_layout),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_nonfinite),
		cmocka_unit_test(test_string_controls),
		cmocka_unit_test(test_string_plain),
		cmocka_unit_test(test_string_bad_utf8),
		cmocka_unit_test(test_rfc_sorting),
		cmocka_unit_test(test_key_order_utf16),
		cmocka_unit_test(test_key_nul),
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_same_value),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_null_value),
		cmocka_unit_test(test_toobig),
		cmocka_unit_test(test_depth),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
