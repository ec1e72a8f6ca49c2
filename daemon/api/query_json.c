/*
 * query_json.c: JSON -> struct tg_query (contract.md section 1).
 *
 * The decoder is strict on purpose.  A query decides whether goods may be
 * exported, so a misspelt key ("ultimate_parnet") or a value of the wrong
 * type must be refused with the JSON pointer of the bad field rather than
 * silently dropped or defaulted.  The work happens in three passes over
 * the jansson tree: jansson's parser (syntax, UTF-8, duplicate keys), a
 * generic walk that enforces our own limits (nesting depth, string
 * sizes), then the schema walk below, which fills the query.
 *
 * Invariants on success: every string and array of the query lives in the
 * caller's arena; absent numbers are NAN, absent tri-state booleans -1,
 * absent countries TG_CC_NONE, except where contract.md gives a default
 * (party countries, compute_service location, export_from, quantity).
 * Every number stored is finite.
 *
 * Error order is deterministic: within an object, unknown keys are
 * reported first (in document order, since a misspelling usually explains
 * the "missing field" error that would follow), then fields in the order
 * contract.md lists them.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tiergate/api.h"

/* Largest accepted quantity or chips_per_unit.  Far above any real order,
 * and low enough that products with TPP figures stay well inside the
 * range where doubles count exactly. */
#define COUNT_MAX 1000000000000LL
#define LICENSE_MAX 64

/* How much of a user-supplied name is quoted back in a message. */
#define SHOW_MAX 64

/* Where we are in the document: a chain of members and indexes, on the
 * stack, rendered as an RFC 6901 pointer only when an error needs it. */
struct path {
	const struct path *up;
	const char *key;		/* member name; NULL for an index */
	size_t index;
};

struct dec {
	struct tg_arena *arena;
	struct tg_error *err;
	tg_cc destination;		/* default for party countries */
};

enum range {
	R_NONNEG,			/* x >= 0 */
	R_POS,				/* x > 0 */
	R_SHARE,			/* 0 <= x <= 1 */
};

#define K_CHIP (1u << TG_ITEM_CHIP)
#define K_SYSTEM (1u << TG_ITEM_SYSTEM)
#define K_MODEL (1u << TG_ITEM_MODEL_WEIGHTS)
#define K_SERVICE (1u << TG_ITEM_COMPUTE_SERVICE)
#define K_HW (K_CHIP | K_SYSTEM)
#define K_ALL (K_HW | K_MODEL | K_SERVICE)

static const struct {
	const char *name;
	enum tg_item_kind kind;
} kinds[] = {
	{ "chip", TG_ITEM_CHIP },
	{ "system", TG_ITEM_SYSTEM },
	{ "model_weights", TG_ITEM_MODEL_WEIGHTS },
	{ "compute_service", TG_ITEM_COMPUTE_SERVICE },
};

/* Every item field and the kinds it applies to.  A field outside this
 * table is unknown; a field in it but not for the item's kind gets its
 * own message, since that is a different mistake. */
static const struct {
	const char *name;
	unsigned kinds;
} item_fields[] = {
	{ "kind", K_ALL },
	{ "quantity", K_ALL },
	{ "description", K_ALL },
	{ "license", K_ALL },
	{ "product", K_HW },
	{ "tpp", K_HW },
	{ "die_area_mm2", K_HW },
	{ "performance_density", K_HW },
	{ "datacenter", K_HW },
	{ "memory_bandwidth_gbs", K_HW },
	{ "chips_per_unit", K_SYSTEM },
	{ "training_operations", K_MODEL | K_SERVICE },
	{ "published", K_MODEL },
	{ "base_model", K_MODEL },
	{ "additional_operations", K_MODEL },
	{ "synthetic_data", K_MODEL },
	{ "purpose", K_SERVICE },
	{ "location", K_SERVICE },
};

static const char *const root_fields[] = {
	"reference", "date", "destination", "consignee", "end_user", "items",
	"dry_run", "export_from", "certifications",
};
static const char *const party_fields[] = {
	"name", "id", "country", "headquarters", "ultimate_parent", "veu",
};
static const char *const base_fields[] = {
	"published", "training_operations",
};
static const char *const synth_fields[] = {
	"share", "generator_training_operations", "generation_operations",
	"generator_published",
};

/* VEU fields by type, as for items: bit 0 universal, bit 1 national. */
#define V_UNI 1u
#define V_NAT 2u
static const struct {
	const char *name;
	unsigned types;
} veu_fields[] = {
	{ "type", V_UNI | V_NAT },
	{ "tier1_share", V_UNI },
	{ "us_share", V_UNI },
	{ "destination_share", V_UNI },
	{ "country", V_NAT },
	{ "installed_tpp", V_NAT },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int fail(struct dec *, const struct path *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- text helpers ----------------------------------------------------- */

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0.
 * Messages and pointers end up in JSON (problem+json), where jansson
 * refuses ill-formed UTF-8, so whatever we copy into them must be valid.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/*
 * Copies at most max bytes of s into dst (size > max + 3) for quoting in a
 * message: control characters and ill-formed bytes become '?', sequences
 * are never cut, and "..." marks a cut.
 */
static void
show(char *dst, size_t size, const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, l;

	while (i < n) {
		l = utf8_len(u + i, n - i);
		if (o + (l == 0 ? 1 : l) > max || o + (l == 0 ? 1 : l) >= size)
			break;
		if (l == 0 || (l == 1 && (u[i] < 0x20 || u[i] == 0x7f))) {
			dst[o++] = '?';
			i++;
			continue;
		}
		memcpy(dst + o, s + i, l);
		o += l;
		i += l;
	}
	if (i < n && o + 3 < size) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

struct ptrbuf {
	char s[TG_ERR_POINTER_MAX];
	size_t len;
	bool full;
};

/* Appends one unit (an escape, or one UTF-8 sequence) or, when it does
 * not fit, nothing more from here on: a cut pointer is still a prefix of
 * the right one, which is the most honest thing we can give. */
static void
ptr_unit(struct ptrbuf *b, const char *s, size_t n)
{
	if (b->full || b->len + n >= sizeof(b->s)) {
		b->full = true;
		return;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void
ptr_render(struct ptrbuf *b, const struct path *p)
{
	const unsigned char *u;
	char num[32];
	size_t i, n, l;
	int len;

	if (p == NULL)
		return;
	ptr_render(b, p->up);
	if (p->key == NULL) {
		len = snprintf(num, sizeof(num), "/%zu", p->index);
		if (len > 0 && (size_t)len < sizeof(num))
			ptr_unit(b, num, (size_t)len);
		return;
	}
	ptr_unit(b, "/", 1);
	u = (const unsigned char *)p->key;
	n = strlen(p->key);
	/* RFC 6901 section 3: '~' is written "~0" and '/' is "~1". */
	for (i = 0; i < n; i += l) {
		l = 1;
		if (p->key[i] == '~')
			ptr_unit(b, "~0", 2);
		else if (p->key[i] == '/')
			ptr_unit(b, "~1", 2);
		else if ((l = utf8_len(u + i, n - i)) != 0)
			ptr_unit(b, p->key + i, l);
		else {
			l = 1;
			ptr_unit(b, "?", 1);
		}
	}
}

/* Records a TG_EINVAL at p; returns TG_EINVAL. */
static int
fail(struct dec *d, const struct path *p, const char *fmt, ...)
{
	struct ptrbuf pb;
	char msg[TG_ERR_MSG_MAX];
	va_list ap;

	pb.len = 0;
	pb.full = false;
	pb.s[0] = '\0';
	ptr_render(&pb, p);
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return tg_error_ptr(d->err, TG_EINVAL, pb.s, "%s", msg);
}

static int
nomem(struct dec *d)
{
	return tg_error_set(d->err, -ENOMEM, "out of memory decoding query");
}

/* ---- generic checks ------------------------------------------------- */

/*
 * jansson's iterators take non-const pointers although iterating changes
 * nothing; this is the one place where the const of our borrowed tree is
 * dropped, for reading only.
 */
static json_t *
unconst(const json_t *j)
{
	union {
		const json_t *c;
		json_t *m;
	} u;

	u.c = j;
	return u.m;
}

/*
 * Enforces our own limits on the whole tree before the schema walk: jansson
 * allows 2048 levels and strings of any size.  depth counts containers,
 * the root being 1.  Recursion stops at API_JSON_DEPTH_MAX + 1.
 */
static int
check_limits(struct dec *d, const json_t *j, const struct path *p, int depth)
{
	struct path c;
	json_t *obj, *v;
	const char *k;
	size_t i;
	int rc = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth > API_JSON_DEPTH_MAX) {
			rc = fail(d, p, "nested deeper than %d levels",
			    API_JSON_DEPTH_MAX);
			goto out;
		}
		c.up = p;
		c.key = NULL;
		c.index = 0;
		if (json_is_array(j)) {
			for (i = 0; i < json_array_size(j); i++) {
				c.index = i;
				rc = check_limits(d, json_array_get(j, i), &c,
				    depth + 1);
				if (rc != 0)
					goto out;
			}
			break;
		}
		obj = unconst(j);
		json_object_foreach(obj, k, v) {
			c.key = k;
			rc = check_limits(d, v, &c, depth + 1);
			if (rc != 0)
				goto out;
		}
		break;
	case JSON_STRING:
		if (json_string_length(j) > API_STRING_MAX)
			rc = fail(d, p, "string longer than %d bytes",
			    API_STRING_MAX);
		break;
	default:
		break;
	}
out:
	return rc;
}

static bool
in_list(const char *k, const char *const *names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(k, names[i]) == 0)
			return true;
	return false;
}

static int
fail_unknown(struct dec *d, const struct path *p, const char *k)
{
	struct path c = { p, k, 0 };
	char name[SHOW_MAX + 4];

	show(name, sizeof(name), k, strlen(k), SHOW_MAX);
	return fail(d, &c, "unknown field '%s'", name);
}

/* Refuses any member of obj not in names. */
static int
check_keys(struct dec *d, const json_t *obj, const struct path *p,
    const char *const *names, size_t n)
{
	json_t *o, *v;
	const char *k;
	int rc = 0;

	o = unconst(obj);
	json_object_foreach(o, k, v) {
		if (!in_list(k, names, n)) {
			rc = fail_unknown(d, p, k);
			break;
		}
	}
	return rc;
}

static int
require(struct dec *d, const json_t *obj, const struct path *p,
    const char *name)
{
	if (json_object_get(obj, name) != NULL)
		return 0;
	return fail(d, p, "missing required field '%s'", name);
}

/* ---- typed fields ----------------------------------------------------
 *
 * Each getter looks up name in obj (whose path is p).  When the member is
 * absent it returns 0 and leaves *out alone, so callers set defaults
 * first; when present it checks type and range and stores the value.
 */

/* Copies a string member into the arena.  min is 0 or 1 (may it be
 * empty?); max is in bytes. */
static int
get_string(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, size_t min, size_t max, const char **out)
{
	struct path c = { p, name, 0 };
	const json_t *v;
	const char *s;
	size_t len;
	char *copy;

	if ((v = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(d, &c, "'%s' must be a string", name);
	s = json_string_value(v);
	len = json_string_length(v);
	/* A tree built with json_stringn() may hold NUL bytes, which would
	 * silently cut the C string the engine sees. */
	if (memchr(s, '\0', len) != NULL)
		return fail(d, &c, "'%s' must not contain NUL characters",
		    name);
	if (len == 0 && min > 0)
		return fail(d, &c, "'%s' must not be empty", name);
	if (len > max)
		return fail(d, &c, "'%s' must be at most %zu bytes long", name,
		    max);
	if ((copy = arena_strndup(d->arena, s, len)) == NULL)
		return nomem(d);
	*out = copy;
	return 0;
}

static int
get_number(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, enum range r, double *out)
{
	struct path c = { p, name, 0 };
	const json_t *v;
	double x;

	if ((v = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_number(v))
		return fail(d, &c, "'%s' must be a number", name);
	x = json_number_value(v);
	/* jansson never parses NaN or infinities, but a tree built in code
	 * could still carry one. */
	if (!isfinite(x))
		return fail(d, &c, "'%s' must be a finite number", name);
	switch (r) {
	case R_NONNEG:
		if (!(x >= 0))
			return fail(d, &c, "'%s' must not be negative", name);
		break;
	case R_POS:
		if (!(x > 0))
			return fail(d, &c, "'%s' must be greater than 0",
			    name);
		break;
	case R_SHARE:
		if (!(x >= 0 && x <= 1))
			return fail(d, &c, "'%s' must be between 0 and 1",
			    name);
		break;
	}
	/* -0 would print as "-0" in a decision; it means 0. */
	*out = x == 0 ? 0 : x;
	return 0;
}

/* An integer from 1 to COUNT_MAX: a JSON integer, or a real whose value
 * is integral (1e3 is a common spelling of 1000). */
static int
get_count(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, long long *out)
{
	struct path c = { p, name, 0 };
	const json_t *v;
	json_int_t i;
	double x;

	if ((v = json_object_get(obj, name)) == NULL)
		return 0;
	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i < 1 || i > COUNT_MAX)
			goto range;
		*out = (long long)i;
		return 0;
	}
	if (!json_is_real(v))
		goto range;
	x = json_real_value(v);
	if (!isfinite(x) || x != floor(x) || x < 1 || x > (double)COUNT_MAX)
		goto range;
	*out = (long long)x;
	return 0;
range:
	return fail(d, &c, "'%s' must be an integer from 1 to %lld", name,
	    COUNT_MAX);
}

static int
get_bool(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, bool *out)
{
	struct path c = { p, name, 0 };
	const json_t *v;

	if ((v = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_boolean(v))
		return fail(d, &c, "'%s' must be true or false", name);
	*out = json_is_true(v);
	return 0;
}

/* A boolean into a tri-state int: untouched (-1 by convention) when
 * absent. */
static int
get_tribool(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, int *out)
{
	bool b = false;
	int rc;

	if (json_object_get(obj, name) == NULL)
		return 0;
	if ((rc = get_bool(d, obj, p, name, &b)) != 0)
		return rc;
	*out = b ? 1 : 0;
	return 0;
}

static bool
is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static char
to_upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
}

static int
get_country(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, tg_cc *out)
{
	struct path c = { p, name, 0 };
	const json_t *v;
	const char *s;
	char up[3], shown[16];
	size_t len;
	tg_cc cc;

	if ((v = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(d, &c, "'%s' must be an ISO 3166-1 alpha-2 code "
		    "(a string)", name);
	s = json_string_value(v);
	len = json_string_length(v);
	if (cc_parse(s, len, &cc) == 0) {
		*out = cc;
		return 0;
	}
	/* Codes are upper case by definition; say so rather than "unknown"
	 * when that is the only thing wrong, but do not guess. */
	if (len == 2 && is_alpha(s[0]) && is_alpha(s[1])) {
		up[0] = to_upper(s[0]);
		up[1] = to_upper(s[1]);
		up[2] = '\0';
		if (cc_parse(up, 2, &cc) == 0)
			return fail(d, &c, "'%s' must be upper case ('%s', "
			    "not '%.2s')", name, up, s);
	}
	show(shown, sizeof(shown), s, len, 8);
	return fail(d, &c, "'%s' is not an ISO 3166-1 alpha-2 country code: "
	    "'%s'", name, shown);
}

/* Looks up an object member that must itself be an object; *out is NULL
 * when absent. */
static int
get_object(struct dec *d, const json_t *obj, const struct path *p,
    const char *name, const json_t **out)
{
	struct path c = { p, name, 0 };
	const json_t *v;

	*out = NULL;
	if ((v = json_object_get(obj, name)) == NULL)
		return 0;
	if (!json_is_object(v))
		return fail(d, &c, "'%s' must be an object", name);
	*out = v;
	return 0;
}

/* ---- parties ---------------------------------------------------------- */

static int
parse_veu(struct dec *d, const json_t *v, const struct path *p,
    struct tg_veu *veu)
{
	struct path tp = { p, "type", 0 };
	const json_t *t;
	json_t *o, *m;
	const char *k, *tname;
	unsigned type;
	size_t i;
	int rc;

	o = unconst(v);
	json_object_foreach(o, k, m) {
		for (i = 0; i < NELEM(veu_fields); i++)
			if (strcmp(k, veu_fields[i].name) == 0)
				break;
		if (i == NELEM(veu_fields))
			return fail_unknown(d, p, k);
	}
	if ((rc = require(d, v, p, "type")) != 0)
		return rc;
	t = json_object_get(v, "type");
	tname = json_is_string(t) ? json_string_value(t) : "";
	if (strcmp(tname, "universal") == 0) {
		type = V_UNI;
		veu->type = TG_VEU_UNIVERSAL;
	} else if (strcmp(tname, "national") == 0) {
		type = V_NAT;
		veu->type = TG_VEU_NATIONAL;
	} else
		return fail(d, &tp, "'type' must be 'universal' or "
		    "'national'");
	json_object_foreach(o, k, m) {
		for (i = 0; i < NELEM(veu_fields); i++)
			if (strcmp(k, veu_fields[i].name) == 0)
				break;
		if ((veu_fields[i].types & type) == 0) {
			struct path c = { p, k, 0 };

			return fail(d, &c, "field '%s' does not apply to veu "
			    "type '%s'", k, tname);
		}
	}
	if (type == V_UNI) {
		/* 15 CFR 748.15: UVEU shares are all needed to check the
		 * allocation limits, so none may be left out. */
		if ((rc = require(d, v, p, "tier1_share")) != 0 ||
		    (rc = get_number(d, v, p, "tier1_share", R_SHARE,
		    &veu->tier1_share)) != 0 ||
		    (rc = require(d, v, p, "us_share")) != 0 ||
		    (rc = get_number(d, v, p, "us_share", R_SHARE,
		    &veu->us_share)) != 0 ||
		    (rc = require(d, v, p, "destination_share")) != 0 ||
		    (rc = get_number(d, v, p, "destination_share", R_SHARE,
		    &veu->destination_share)) != 0)
			return rc;
		return 0;
	}
	if ((rc = require(d, v, p, "country")) != 0 ||
	    (rc = get_country(d, v, p, "country", &veu->country)) != 0 ||
	    (rc = require(d, v, p, "installed_tpp")) != 0 ||
	    (rc = get_number(d, v, p, "installed_tpp", R_NONNEG,
	    &veu->installed_tpp)) != 0)
		return rc;
	return 0;
}

/* Parses party `name` of root into *party.  Country defaults chain:
 * destination -> country -> headquarters -> ultimate_parent. */
static int
parse_party(struct dec *d, const json_t *root, const struct path *rp,
    const char *name, struct tg_party *party)
{
	struct path p = { rp, name, 0 }, vp = { &p, "veu", 0 };
	const json_t *v, *veu;
	int rc;

	memset(party, 0, sizeof(*party));
	party->country = TG_CC_NONE;
	party->headquarters = TG_CC_NONE;
	party->ultimate_parent = TG_CC_NONE;
	party->veu.type = TG_VEU_NONE;
	party->veu.tier1_share = NAN;
	party->veu.us_share = NAN;
	party->veu.destination_share = NAN;
	party->veu.country = TG_CC_NONE;
	party->veu.installed_tpp = NAN;

	if ((v = json_object_get(root, name)) == NULL)
		return 0;
	if (!json_is_object(v))
		return fail(d, &p, "'%s' must be an object", name);
	if ((rc = check_keys(d, v, &p, party_fields,
	    NELEM(party_fields))) != 0)
		return rc;
	if ((rc = get_string(d, v, &p, "name", 1, API_STRING_MAX,
	    &party->name)) != 0)
		return rc;
	if ((rc = get_string(d, v, &p, "id", 1, API_STRING_MAX,
	    &party->id)) != 0)
		return rc;
	/* Quotas are keyed by id, else by name: a party with neither could
	 * not be screened or counted. */
	if (party->name == NULL && party->id == NULL)
		return fail(d, &p, "'%s' needs a 'name' or an 'id'", name);

	party->country = d->destination;
	if ((rc = get_country(d, v, &p, "country", &party->country)) != 0)
		return rc;
	party->headquarters = party->country;
	if ((rc = get_country(d, v, &p, "headquarters",
	    &party->headquarters)) != 0)
		return rc;
	party->ultimate_parent = party->headquarters;
	if ((rc = get_country(d, v, &p, "ultimate_parent",
	    &party->ultimate_parent)) != 0)
		return rc;
	if ((rc = get_object(d, v, &p, "veu", &veu)) != 0)
		return rc;
	if (veu != NULL && (rc = parse_veu(d, veu, &vp, &party->veu)) != 0)
		return rc;
	return 0;
}

/* ---- items ------------------------------------------------------------ */

static int
parse_synth_one(struct dec *d, const json_t *v, const struct path *p,
    struct tg_synth *s)
{
	int rc;

	s->share = NAN;
	s->generator_training_operations = NAN;
	s->generation_operations = NAN;
	s->generator_published = -1;
	if (!json_is_object(v))
		return fail(d, p, "synthetic data entry must be an object");
	if ((rc = check_keys(d, v, p, synth_fields,
	    NELEM(synth_fields))) != 0 ||
	    (rc = require(d, v, p, "share")) != 0 ||
	    (rc = get_number(d, v, p, "share", R_SHARE, &s->share)) != 0 ||
	    (rc = get_number(d, v, p, "generator_training_operations",
	    R_NONNEG, &s->generator_training_operations)) != 0 ||
	    (rc = get_number(d, v, p, "generation_operations", R_NONNEG,
	    &s->generation_operations)) != 0 ||
	    (rc = get_tribool(d, v, p, "generator_published",
	    &s->generator_published)) != 0)
		return rc;
	return 0;
}

/* synthetic_data: one object, or an array of 1..TG_SYNTH_MAX of them. */
static int
parse_synth(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path c = { p, NULL, 0 };
	struct tg_synth *s;
	double total = 0;
	size_t i, n;
	int rc;

	if (json_is_object(v))
		n = 1;
	else if (json_is_array(v)) {
		n = json_array_size(v);
		if (n < 1 || n > TG_SYNTH_MAX)
			return fail(d, p, "'synthetic_data' must have 1 to %d "
			    "entries", TG_SYNTH_MAX);
	} else
		return fail(d, p, "'synthetic_data' must be an object or an "
		    "array of objects");
	if ((s = arena_zalloc(d->arena, n * sizeof(*s))) == NULL)
		return nomem(d);
	if (json_is_object(v)) {
		if ((rc = parse_synth_one(d, v, p, &s[0])) != 0)
			return rc;
	} else {
		for (i = 0; i < n; i++) {
			c.index = i;
			rc = parse_synth_one(d, json_array_get(v, i), &c,
			    &s[i]);
			if (rc != 0)
				return rc;
		}
	}
	/* Each share is a part of the same training run, so together they
	 * cannot exceed it; allow for rounding in the caller's arithmetic. */
	for (i = 0; i < n; i++)
		total += s[i].share;
	if (total > 1 + 1e-9)
		return fail(d, p, "'synthetic_data' shares add up to more "
		    "than 1");
	it->synth = s;
	it->nsynth = n;
	return 0;
}

static int
parse_hardware(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	static const char *const figures[] = {
		"die_area_mm2", "performance_density",
	};
	size_t i;
	int rc;

	if ((rc = get_string(d, v, p, "product", 1, API_STRING_MAX,
	    &it->product)) != 0 ||
	    (rc = get_number(d, v, p, "tpp", R_POS, &it->tpp)) != 0 ||
	    (rc = get_number(d, v, p, "die_area_mm2", R_POS,
	    &it->die_area_mm2)) != 0 ||
	    (rc = get_number(d, v, p, "performance_density", R_POS,
	    &it->performance_density)) != 0 ||
	    (rc = get_tribool(d, v, p, "datacenter", &it->datacenter)) != 0 ||
	    (rc = get_number(d, v, p, "memory_bandwidth_gbs", R_POS,
	    &it->memory_bandwidth_gbs)) != 0)
		return rc;
	if (it->product != NULL) {
		/* The catalog supplies the figures of a product; a second,
		 * possibly different, set in the query would make the
		 * decision depend on which one the engine reads. */
		if (json_object_get(v, "tpp") != NULL) {
			struct path c = { p, "tpp", 0 };

			return fail(d, &c, "give either 'product' or 'tpp', "
			    "not both");
		}
		for (i = 0; i < NELEM(figures); i++) {
			struct path c = { p, figures[i], 0 };

			if (json_object_get(v, figures[i]) != NULL)
				return fail(d, &c, "'%s' goes with 'tpp'; a "
				    "product's figures come from the catalog",
				    figures[i]);
		}
	} else if (isnan(it->tpp))
		return fail(d, p, "a %s needs 'product' or 'tpp'",
		    it->kind == TG_ITEM_CHIP ? "chip" : "system");
	else if (isnan(it->die_area_mm2) && isnan(it->performance_density))
		/* 3A090 (Note: performance density is TPP / die area) needs
		 * one of the two to classify a chip given by figures. */
		return fail(d, p, "'tpp' needs 'die_area_mm2' or "
		    "'performance_density'");
	if (it->kind == TG_ITEM_SYSTEM) {
		if ((rc = require(d, v, p, "chips_per_unit")) != 0 ||
		    (rc = get_count(d, v, p, "chips_per_unit",
		    &it->chips_per_unit)) != 0)
			return rc;
	}
	return 0;
}

static int
parse_model(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path bp = { p, "base_model", 0 };
	struct path sp = { p, "synthetic_data", 0 };
	const json_t *base, *synth;
	bool b = false;
	int rc;

	if ((rc = get_object(d, v, p, "base_model", &base)) != 0)
		return rc;
	if (base == NULL && (rc = require(d, v, p,
	    "training_operations")) != 0)
		return rc;
	if ((rc = get_number(d, v, p, "training_operations", R_NONNEG,
	    &it->training_operations)) != 0 ||
	    (rc = require(d, v, p, "published")) != 0 ||
	    (rc = get_tribool(d, v, p, "published", &it->published)) != 0)
		return rc;
	if (base != NULL) {
		if ((rc = check_keys(d, base, &bp, base_fields,
		    NELEM(base_fields))) != 0 ||
		    (rc = require(d, base, &bp, "published")) != 0 ||
		    (rc = get_bool(d, base, &bp, "published", &b)) != 0 ||
		    (rc = require(d, base, &bp, "training_operations")) != 0 ||
		    (rc = get_number(d, base, &bp, "training_operations",
		    R_NONNEG, &it->base_training_operations)) != 0)
			return rc;
		it->has_base_model = true;
		it->base_published = b ? 1 : 0;
		/* 4E091 technical note: a derived model counts the
		 * operations added on top of its base. */
		if ((rc = require(d, v, p, "additional_operations")) != 0)
			return rc;
	} else if (json_object_get(v, "additional_operations") != NULL) {
		struct path c = { p, "additional_operations", 0 };

		return fail(d, &c, "'additional_operations' needs "
		    "'base_model'");
	}
	if ((rc = get_number(d, v, p, "additional_operations", R_NONNEG,
	    &it->additional_operations)) != 0)
		return rc;
	if ((synth = json_object_get(v, "synthetic_data")) != NULL &&
	    (rc = parse_synth(d, synth, &sp, it)) != 0)
		return rc;
	return 0;
}

static int
parse_service(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path pp = { p, "purpose", 0 };
	const json_t *pv;
	const char *s;
	int rc;

	if ((rc = require(d, v, p, "purpose")) != 0)
		return rc;
	pv = json_object_get(v, "purpose");
	s = json_is_string(pv) ? json_string_value(pv) : "";
	if (strcmp(s, "training") == 0)
		it->purpose = TG_PURPOSE_TRAINING;
	else if (strcmp(s, "inference") == 0)
		it->purpose = TG_PURPOSE_INFERENCE;
	else
		return fail(d, &pp, "'purpose' must be 'training' or "
		    "'inference'");
	if (it->purpose == TG_PURPOSE_TRAINING) {
		if ((rc = require(d, v, p, "training_operations")) != 0)
			return rc;
	} else if (json_object_get(v, "training_operations") != NULL) {
		struct path c = { p, "training_operations", 0 };

		/* Only a training service is sized by operations; refuse
		 * rather than let the engine ignore a figure given to it. */
		return fail(d, &c, "'training_operations' applies only to "
		    "purpose 'training'");
	}
	if ((rc = get_number(d, v, p, "training_operations", R_NONNEG,
	    &it->training_operations)) != 0)
		return rc;
	it->location = d->destination;
	return get_country(d, v, p, "location", &it->location);
}

static int
parse_item(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path kp = { p, "kind", 0 };
	const json_t *kv;
	json_t *o, *m;
	const char *k, *kname;
	unsigned kbit;
	size_t i;
	int rc;

	memset(it, 0, sizeof(*it));
	it->quantity = 1;
	it->tpp = NAN;
	it->die_area_mm2 = NAN;
	it->performance_density = NAN;
	it->datacenter = -1;
	it->memory_bandwidth_gbs = NAN;
	it->training_operations = NAN;
	it->published = -1;
	it->base_published = -1;
	it->base_training_operations = NAN;
	it->additional_operations = NAN;
	it->purpose = TG_PURPOSE_NONE;
	it->location = TG_CC_NONE;

	if (!json_is_object(v))
		return fail(d, p, "item must be an object");
	o = unconst(v);
	json_object_foreach(o, k, m) {
		for (i = 0; i < NELEM(item_fields); i++)
			if (strcmp(k, item_fields[i].name) == 0)
				break;
		if (i == NELEM(item_fields))
			return fail_unknown(d, p, k);
	}
	if ((rc = require(d, v, p, "kind")) != 0)
		return rc;
	kv = json_object_get(v, "kind");
	kname = json_is_string(kv) ? json_string_value(kv) : "";
	for (i = 0; i < NELEM(kinds); i++)
		if (strcmp(kname, kinds[i].name) == 0)
			break;
	if (i == NELEM(kinds))
		return fail(d, &kp, "'kind' must be one of 'chip', 'system', "
		    "'model_weights', 'compute_service'");
	it->kind = kinds[i].kind;
	kname = kinds[i].name;
	kbit = 1u << it->kind;
	json_object_foreach(o, k, m) {
		for (i = 0; i < NELEM(item_fields); i++)
			if (strcmp(k, item_fields[i].name) == 0)
				break;
		if ((item_fields[i].kinds & kbit) == 0) {
			struct path c = { p, k, 0 };

			return fail(d, &c, "field '%s' does not apply to kind "
			    "'%s'", k, kname);
		}
	}

	if ((rc = get_count(d, v, p, "quantity", &it->quantity)) != 0 ||
	    (rc = get_string(d, v, p, "description", 0, API_STRING_MAX,
	    &it->description)) != 0 ||
	    (rc = get_string(d, v, p, "license", 1, LICENSE_MAX,
	    &it->license)) != 0)
		return rc;
	switch (it->kind) {
	case TG_ITEM_CHIP:
	case TG_ITEM_SYSTEM:
		return parse_hardware(d, v, p, it);
	case TG_ITEM_MODEL_WEIGHTS:
		return parse_model(d, v, p, it);
	case TG_ITEM_COMPUTE_SERVICE:
		return parse_service(d, v, p, it);
	}
	return 0;
}

static int
parse_items(struct dec *d, const json_t *root, const struct path *rp,
    struct tg_query *q)
{
	struct path p = { rp, "items", 0 }, c = { &p, NULL, 0 };
	struct tg_item *items;
	const json_t *v;
	size_t i, n;
	int rc;

	if ((rc = require(d, root, rp, "items")) != 0)
		return rc;
	v = json_object_get(root, "items");
	if (!json_is_array(v))
		return fail(d, &p, "'items' must be an array");
	n = json_array_size(v);
	if (n < 1 || n > TG_ITEMS_MAX)
		return fail(d, &p, "'items' must have 1 to %d entries",
		    TG_ITEMS_MAX);
	if ((items = arena_zalloc(d->arena, n * sizeof(*items))) == NULL)
		return nomem(d);
	for (i = 0; i < n; i++) {
		c.index = i;
		if ((rc = parse_item(d, json_array_get(v, i), &c,
		    &items[i])) != 0)
			return rc;
	}
	q->items = items;
	q->nitems = n;
	return 0;
}

/* ---- entry points ----------------------------------------------------- */

int
api_query_from_json(const json_t *root, struct tg_arena *arena,
    tg_date today, const struct tg_query **out, struct tg_error *err)
{
	struct dec d = { arena, err, TG_CC_NONE };
	struct path dp = { NULL, "date", 0 };
	struct tg_query *q;
	const json_t *v;
	int rc;

	*out = NULL;
	if (err != NULL)
		tg_error_clear(err);
	if (root == NULL) {
		rc = tg_error_set(err, -EINVAL, "no query");
		goto out;
	}
	if ((rc = check_limits(&d, root, NULL, 1)) != 0)
		goto out;
	if (!json_is_object(root)) {
		rc = fail(&d, NULL, "query must be a JSON object");
		goto out;
	}
	if ((rc = check_keys(&d, root, NULL, root_fields,
	    NELEM(root_fields))) != 0)
		goto out;
	if ((q = arena_zalloc(arena, sizeof(*q))) == NULL) {
		rc = nomem(&d);
		goto out;
	}

	if ((rc = get_string(&d, root, NULL, "reference", 0,
	    TG_REFERENCE_MAX, &q->reference)) != 0)
		goto out;
	q->date = today;
	if ((v = json_object_get(root, "date")) != NULL) {
		if (!json_is_string(v) || date_parse(json_string_value(v),
		    json_string_length(v), &q->date) != 0) {
			rc = fail(&d, &dp, "'date' must be a calendar date "
			    "written YYYY-MM-DD");
			goto out;
		}
		q->date_given = true;
	}
	q->destination = TG_CC_NONE;
	if ((rc = require(&d, root, NULL, "destination")) != 0 ||
	    (rc = get_country(&d, root, NULL, "destination",
	    &q->destination)) != 0)
		goto out;
	d.destination = q->destination;
	if ((rc = require(&d, root, NULL, "consignee")) != 0 ||
	    (rc = parse_party(&d, root, NULL, "consignee",
	    &q->consignee)) != 0)
		goto out;
	q->end_user_given = json_object_get(root, "end_user") != NULL;
	if (!q->end_user_given)
		q->end_user = q->consignee;
	else if ((rc = parse_party(&d, root, NULL, "end_user",
	    &q->end_user)) != 0)
		goto out;
	if ((rc = parse_items(&d, root, NULL, q)) != 0 ||
	    (rc = get_bool(&d, root, NULL, "dry_run", &q->dry_run)) != 0)
		goto out;
	/* The extensions: exports leave from the United States unless
	 * told otherwise (15 CFR 734.3 reaches re-exports too). */
	if ((rc = cc_parse("US", 2, &q->export_from)) != 0) {
		rc = tg_error_set(err, TG_EINTERNAL, "cannot parse 'US'");
		goto out;
	}
	if ((rc = get_country(&d, root, NULL, "export_from",
	    &q->export_from)) != 0 ||
	    (rc = get_bool(&d, root, NULL, "certifications",
	    &q->certifications)) != 0)
		goto out;
	*out = q;
out:
	return rc;
}

/*
 * jansson's messages quote the input near the error ("near 'tru'"), which
 * may be cut inside a UTF-8 sequence or hold control bytes; the message
 * must stay valid UTF-8 to travel in problem+json.
 */
static int
syntax_error(struct tg_error *err, const json_error_t *jerr)
{
	char text[TG_ERR_MSG_MAX];
	int rc;

	if (json_error_code(jerr) == json_error_out_of_memory)
		return tg_error_set(err, -ENOMEM, "out of memory parsing "
		    "query");
	show(text, sizeof(text), jerr->text, strlen(jerr->text),
	    sizeof(text) - 4);
	rc = tg_error_set(err, TG_ESYNTAX, "invalid JSON: %s", text);
	if (err != NULL) {
		err->line = jerr->line > 0 ? jerr->line : 0;
		err->col = jerr->column > 0 ? jerr->column : 0;
	}
	return rc;
}

int
api_query_parse(const char *buf, size_t len, struct tg_arena *arena,
    tg_date today, const struct tg_query **out, struct tg_error *err)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	*out = NULL;
	if (err != NULL)
		tg_error_clear(err);
	/*
	 * JSON_DECODE_ANY: a scalar is valid JSON (RFC 8259), so "42" is a
	 * well-formed document that is not a query (TG_EINVAL), not a
	 * syntax error.  Duplicate keys are refused because jansson would
	 * keep the last one, and a reader that keeps the first would see a
	 * different export.  NUL in strings stays refused (the default).
	 */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (root == NULL) {
		rc = syntax_error(err, &jerr);
		goto out;
	}
	rc = api_query_from_json(root, arena, today, out, err);
out:
	json_decref(root);
	return rc;
}
