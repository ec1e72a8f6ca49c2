/*
 * query_json.c: JSON -> struct tg_query (contract.md section 1).
 *
 * The decoder is strict on purpose.  A query decides whether goods may be
 * exported, so a misspelt key ("ultimate_parnet") or a value of the wrong
 * type must be refused with the JSON pointer of the bad field rather than
 * silently dropped or defaulted.  The work happens in three passes over
 * the jansson tree: jansson's parser (syntax, UTF-8, duplicate keys), a
 * generic walk that enforces our own limits (nesting depth, string
 * sizes), then the schema walk, which fills the query.
 *
 * The schema is data: one table per JSON object type says which members
 * exist, what type and range each has, whether it is required, to which
 * item kinds (or VEU types) it applies, and where it goes in the C
 * struct.  Rules that tie fields together (product or tpp, base_model
 * and additional_operations, ...) are code, after the table pass.
 *
 * Invariants on success: every string and array of the query lives in the
 * caller's arena; absent numbers are NAN, absent tri-state booleans -1,
 * absent countries TG_CC_NONE, except where contract.md gives a default
 * (party countries, compute_service location, export_from, quantity).
 * Every number stored is finite.
 *
 * Error order is deterministic: within an object, unknown keys are
 * reported first (in document order, since a misspelling usually explains
 * the "missing field" error that would follow), then members in table
 * order, then the rules that tie them together, then nested objects.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"

/* Largest accepted quantity or chips_per_unit.  Far above any real order,
 * and low enough that products with TPP figures stay well inside the
 * range where doubles count exactly. */
#define COUNT_MAX 1000000000000LL
#define LICENSE_MAX 64

/* How much of a user-supplied name is quoted back in a message. */
#define SHOW_MAX 64

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

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

enum ftype {
	F_NESTED,		/* object or array: decoded by code */
	F_STR,			/* string, may be empty */
	F_STR1,			/* string, not empty */
	F_NUM,			/* double within range */
	F_COUNT,		/* long long, 1..COUNT_MAX */
	F_BOOL,			/* bool */
	F_TRI,			/* int: 0 or 1, untouched (-1) when absent */
	F_COUNTRY,		/* tg_cc */
	F_DATE,			/* tg_date */
};

enum range {
	R_NONNEG,		/* x >= 0 */
	R_POS,			/* x > 0 */
	R_SHARE,		/* 0 <= x <= 1 */
};

/* One member of a JSON object. */
struct field {
	const char *name;
	unsigned mask;		/* item kinds / VEU types it applies to */
	enum ftype type;
	bool required;		/* when it applies */
	enum range range;	/* F_NUM */
	size_t max;		/* F_STR, F_STR1: bytes */
	size_t off;		/* offset in the target struct */
};

#define ANY 1u			/* mask of objects without variants */
#define FIELD(n, m, t, req, st, mem) \
	{ n, m, t, req, R_NONNEG, 0, offsetof(st, mem) }
#define NUM(n, m, r, req, st, mem) \
	{ n, m, F_NUM, req, r, 0, offsetof(st, mem) }
#define STR(n, m, t, max, st, mem) \
	{ n, m, t, false, R_NONNEG, max, offsetof(st, mem) }
#define NESTED(n, m, req) \
	{ n, m, F_NESTED, req, R_NONNEG, 0, 0 }

static const struct field root_fields[] = {
	STR("reference", ANY, F_STR, TG_REFERENCE_MAX, struct tg_query,
	    reference),
	FIELD("date", ANY, F_DATE, false, struct tg_query, date),
	FIELD("destination", ANY, F_COUNTRY, true, struct tg_query,
	    destination),
	NESTED("consignee", ANY, true),
	NESTED("end_user", ANY, false),
	NESTED("items", ANY, true),
	FIELD("dry_run", ANY, F_BOOL, false, struct tg_query, dry_run),
	FIELD("export_from", ANY, F_COUNTRY, false, struct tg_query,
	    export_from),
	FIELD("certifications", ANY, F_BOOL, false, struct tg_query,
	    certifications),
};

static const struct field party_fields[] = {
	STR("name", ANY, F_STR1, API_STRING_MAX, struct tg_party, name),
	STR("id", ANY, F_STR1, API_STRING_MAX, struct tg_party, id),
	FIELD("country", ANY, F_COUNTRY, false, struct tg_party, country),
	FIELD("headquarters", ANY, F_COUNTRY, false, struct tg_party,
	    headquarters),
	FIELD("ultimate_parent", ANY, F_COUNTRY, false, struct tg_party,
	    ultimate_parent),
	NESTED("veu", ANY, false),
};

/* VEU variants.  15 CFR 748.15: the shares (UVEU) and the installed base
 * (NVEU) are what the allocation limits are checked against, so every
 * figure of the variant is required. */
#define V_UNI 1u
#define V_NAT 2u
static const struct field veu_fields[] = {
	NESTED("type", V_UNI | V_NAT, true),
	NUM("tier1_share", V_UNI, R_SHARE, true, struct tg_veu, tier1_share),
	NUM("us_share", V_UNI, R_SHARE, true, struct tg_veu, us_share),
	NUM("destination_share", V_UNI, R_SHARE, true, struct tg_veu,
	    destination_share),
	FIELD("country", V_NAT, F_COUNTRY, true, struct tg_veu, country),
	NUM("installed_tpp", V_NAT, R_NONNEG, true, struct tg_veu,
	    installed_tpp),
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

/* A field in this table but not for the item's kind gets its own
 * message, since that is a different mistake from a misspelling. */
static const struct field item_fields[] = {
	NESTED("kind", K_ALL, true),
	FIELD("quantity", K_ALL, F_COUNT, false, struct tg_item, quantity),
	STR("description", K_ALL, F_STR, API_STRING_MAX, struct tg_item,
	    description),
	STR("license", K_ALL, F_STR1, LICENSE_MAX, struct tg_item, license),
	STR("product", K_HW, F_STR1, API_STRING_MAX, struct tg_item,
	    product),
	NUM("tpp", K_HW, R_POS, false, struct tg_item, tpp),
	NUM("die_area_mm2", K_HW, R_POS, false, struct tg_item, die_area_mm2),
	NUM("performance_density", K_HW, R_POS, false, struct tg_item,
	    performance_density),
	FIELD("datacenter", K_HW, F_TRI, false, struct tg_item, datacenter),
	NUM("memory_bandwidth_gbs", K_HW, R_POS, false, struct tg_item,
	    memory_bandwidth_gbs),
	FIELD("chips_per_unit", K_SYSTEM, F_COUNT, true, struct tg_item,
	    chips_per_unit),
	NUM("training_operations", K_MODEL | K_SERVICE, R_NONNEG, false,
	    struct tg_item, training_operations),
	FIELD("published", K_MODEL, F_TRI, true, struct tg_item, published),
	NESTED("base_model", K_MODEL, false),
	NUM("additional_operations", K_MODEL, R_NONNEG, false, struct tg_item,
	    additional_operations),
	NESTED("synthetic_data", K_MODEL, false),
	NESTED("purpose", K_SERVICE, true),
	FIELD("location", K_SERVICE, F_COUNTRY, false, struct tg_item,
	    location),
};

/* base_model fills the base_ members of the item. */
static const struct field base_fields[] = {
	FIELD("published", ANY, F_TRI, true, struct tg_item, base_published),
	NUM("training_operations", ANY, R_NONNEG, true, struct tg_item,
	    base_training_operations),
};

static const struct field synth_fields[] = {
	NUM("share", ANY, R_SHARE, true, struct tg_synth, share),
	NUM("generator_training_operations", ANY, R_NONNEG, false,
	    struct tg_synth, generator_training_operations),
	NUM("generation_operations", ANY, R_NONNEG, false, struct tg_synth,
	    generation_operations),
	FIELD("generator_published", ANY, F_TRI, false, struct tg_synth,
	    generator_published),
};

static int fail(struct dec *, const struct path *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- text helpers ----------------------------------------------------- */

/*
 * Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0.
 * Messages and pointers end up in JSON (problem+json), where jansson
 * refuses ill-formed UTF-8, so whatever we copy into them must be valid.
 */
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
		l = utf8_seq_len(u + i, n - i);
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
		l = utf8_seq_len(u + i, n - i);
		if (p->key[i] == '~')
			ptr_unit(b, "~0", 2);
		else if (p->key[i] == '/')
			ptr_unit(b, "~1", 2);
		else if (l != 0)
			ptr_unit(b, p->key + i, l);
		else
			ptr_unit(b, "?", 1);
		if (l == 0)
			l = 1;
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

/* The daemon's configured limits: set once at startup, before any thread
 * decodes; they can only tighten the built-in maxima. */
static unsigned api_depth_max = API_JSON_DEPTH_MAX;
static size_t api_string_max = API_STRING_MAX;

/*
 * jansson 2.14 (Debian 12) cannot survive a failed allocation while it
 * parses: its lexer ignores a failed strbuffer_append_byte, so a parse can
 * succeed with a character missing ("quantity": 50 read as 5) or, when the
 * closing quote was the one lost, copy a string past the end of its buffer
 * (a heap overflow); and when the json_t of a string cannot be allocated,
 * the lexer's buffer is freed twice.  It also reports some failures as
 * syntax errors and others with no error code, so json_error_t cannot say
 * whether the input or the memory is to blame.
 *
 * So jansson's allocator is ours (json_set_alloc_funcs; underneath it is
 * malloc and free, so memory taken before the switch is freed alike), and
 * api_json_loadb parses with a reserve: once malloc fails during the
 * parse, jansson is served from the reserve instead of seeing NULL, the
 * input ends at the next read (so it stops within the 1 KiB chunk it
 * holds), and the parse is thrown away as -ENOMEM.  The reserve covers
 * what it can still ask for: the failed request and one more doubling of
 * its token buffer (each at most twice the input), the string copied out
 * of it, and the values of one chunk (at most 76 bytes of allocations per
 * byte of input, for "[{},{},...]").  Freeing reserve memory is a no-op;
 * the reserve goes when the parse ends.
 */
#define JSON_RESERVE_BASE ((size_t)96 << 10)
#define JSON_RESERVE_PER_BYTE 6
/* Each thread keeps the reserve of inputs up to 16 KiB (every query the
 * daemon sees, nearly) from one parse to the next: allocating and freeing
 * ~200 KB per request made glibc consolidate its heap each time.  Pages
 * the reserve never touches are never resident. */
#define JSON_RESERVE_KEEP (JSON_RESERVE_BASE + JSON_RESERVE_PER_BYTE * \
	((size_t)16 << 10))

static _Thread_local struct {
	unsigned long nomem;	/* malloc failures of jansson's, ever */
	char *res;		/* the reserve of the parse under way */
	size_t res_size, res_used;
	char *kept;		/* JSON_RESERVE_KEEP bytes, or NULL */
} jg;
static pthread_once_t json_alloc_once = PTHREAD_ONCE_INIT;
static pthread_key_t json_kept_key;	/* frees a thread's kept reserve */
static bool json_kept_ok;		/* whether the key exists */

static void *
json_malloc_guarded(size_t size)
{
	void *p = malloc(size);
	size_t need;

	if (p != NULL)
		return p;
	jg.nomem++;
	need = (size + 15) & ~(size_t)15;
	if (jg.res == NULL || need < size ||
	    need > jg.res_size - jg.res_used)
		return NULL;
	p = jg.res + jg.res_used;
	jg.res_used += need;
	return p;
}

static void
json_free_guarded(void *p)
{
	if (jg.res != NULL && (char *)p >= jg.res &&
	    (char *)p < jg.res + jg.res_size)
		return;		/* in the reserve: released with it */
	free(p);
}

static void
json_alloc_init(void)
{
	json_set_alloc_funcs(json_malloc_guarded, json_free_guarded);
	/* Without the key the reserve is simply not kept. */
	json_kept_ok = pthread_key_create(&json_kept_key, free) == 0;
}

/* The reserve for an input of len bytes: the thread's kept one when it is
 * big enough, else a new one (*temp set: free it after the parse). */
static char *
reserve_for(size_t size, bool *temp)
{
	*temp = size > JSON_RESERVE_KEEP || !json_kept_ok;
	if (*temp)
		return malloc(size);
	if (jg.kept == NULL) {
		jg.kept = malloc(JSON_RESERVE_KEEP);
		if (jg.kept != NULL &&
		    pthread_setspecific(json_kept_key, jg.kept) != 0) {
			free(jg.kept);
			jg.kept = NULL;
		}
	}
	return jg.kept;
}

struct json_src {
	const char *p;
	size_t len, off;
	unsigned long nomem;	/* jg.nomem when the parse began */
};

static size_t
json_read(void *buf, size_t size, void *data)
{
	struct json_src *s = data;
	size_t n;

	/* After a failed allocation the parse is lost: end the input. */
	if (jg.nomem != s->nomem)
		return 0;
	n = s->len - s->off < size ? s->len - s->off : size;
	memcpy(buf, s->p + s->off, n);
	s->off += n;
	return n;
}

json_t *
api_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *jerr, bool *nomem)
{
	struct json_src src;
	json_error_t local;
	json_t *j;
	bool temp;

	if (jerr == NULL)
		jerr = &local;
	(void)pthread_once(&json_alloc_once, json_alloc_init);
	*nomem = true;
	memset(jerr, 0, sizeof(*jerr));
	(void)snprintf(jerr->text, sizeof(jerr->text), "out of memory");
	if (len > (SIZE_MAX - JSON_RESERVE_BASE) / JSON_RESERVE_PER_BYTE)
		return NULL;
	jg.res_size = JSON_RESERVE_BASE + JSON_RESERVE_PER_BYTE * len;
	jg.res_used = 0;
	jg.res = reserve_for(jg.res_size, &temp);
	if (jg.res == NULL)
		return NULL;
	src.p = buf != NULL ? buf : "";
	src.len = buf != NULL ? len : 0;
	src.off = 0;
	src.nomem = jg.nomem;
	j = json_load_callback(json_read, &src, flags, jerr);
	*nomem = jg.nomem != src.nomem;
	if (*nomem) {
		json_decref(j);
		j = NULL;
	}
	if (temp)
		free(jg.res);
	jg.res = NULL;
	jg.res_size = jg.res_used = 0;
	return j;
}

void
api_set_limits(unsigned depth_max, size_t string_max)
{
	/* Before any thread decodes: jansson's allocator is switched here,
	 * not under a request. */
	(void)pthread_once(&json_alloc_once, json_alloc_init);
	if (depth_max > 0 && depth_max < API_JSON_DEPTH_MAX)
		api_depth_max = depth_max;
	if (string_max > 0 && string_max < API_STRING_MAX)
		api_string_max = string_max;
}

static int
syntax(int rc, struct dec *d)
{
	if (rc == TG_EINVAL && d->err != NULL)
		d->err->code = TG_ESYNTAX;
	return rc == TG_EINVAL ? TG_ESYNTAX : rc;
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
 * the root being 1; recursion stops at API_JSON_DEPTH_MAX + 1.
 */
static int
check_limits(struct dec *d, const json_t *j, const struct path *p, int depth)
{
	struct path c = { p, NULL, 0 };
	json_t *obj, *v;
	const char *k;
	size_t i;
	int rc = 0;

	switch (json_typeof(j)) {
	case JSON_OBJECT:
	case JSON_ARRAY:
		if (depth > (int)api_depth_max) {
			/* Limits on the shape of the JSON are syntax (400),
			 * not field values (422). */
			rc = syntax(fail(d, p, "nested deeper than %u levels",
			    api_depth_max), d);
			goto out;
		}
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
		if (json_string_length(j) > api_string_max)
			rc = syntax(fail(d, p, "string longer than %zu bytes",
			    api_string_max), d);
		break;
	default:
		break;
	}
out:
	return rc;
}

static const struct field *
find_field(const struct field *fields, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(name, fields[i].name) == 0)
			return &fields[i];
	return NULL;
}

/* Refuses any member of obj that is not in fields. */
static int
check_unknown(struct dec *d, const json_t *obj, const struct path *p,
    const struct field *fields, size_t n)
{
	char name[SHOW_MAX + 4];
	struct path c = { p, NULL, 0 };
	const char *k;
	json_t *o, *v;

	o = unconst(obj);
	json_object_foreach(o, k, v) {
		if (find_field(fields, n, k) != NULL)
			continue;
		c.key = k;
		show(name, sizeof(name), k, strlen(k), SHOW_MAX);
		return fail(d, &c, "unknown field '%s'", name);
	}
	return 0;
}

/* Refuses any member of obj that exists but not for this variant (mask);
 * what names the variant, e.g. "kind 'chip'". */
static int
check_applies(struct dec *d, const json_t *obj, const struct path *p,
    const struct field *fields, size_t n, unsigned mask, const char *what)
{
	const struct field *f;
	struct path c = { p, NULL, 0 };
	const char *k;
	json_t *o, *v;

	o = unconst(obj);
	json_object_foreach(o, k, v) {
		f = find_field(fields, n, k);
		if (f == NULL || (f->mask & mask) != 0)
			continue;
		c.key = f->name;
		return fail(d, &c, "field '%s' does not apply to %s", f->name,
		    what);
	}
	return 0;
}

/* ---- typed values ---------------------------------------------------
 *
 * Each takes the member's value v, its path fp and its name (for the
 * message), checks type and range, and stores the value.
 */

static int
dec_string(struct dec *d, const json_t *v, const struct path *fp,
    const char *name, bool nonempty, size_t max, const char **out)
{
	const char *s;
	size_t len;
	char *copy;

	if (!json_is_string(v))
		return fail(d, fp, "'%s' must be a string", name);
	s = json_string_value(v);
	len = json_string_length(v);
	/* A tree built with json_stringn() may hold NUL bytes, which would
	 * silently cut the C string the engine sees. */
	if (memchr(s, '\0', len) != NULL)
		return fail(d, fp, "'%s' must not contain NUL characters",
		    name);
	if (len == 0 && nonempty)
		return fail(d, fp, "'%s' must not be empty", name);
	if (len > max)
		return fail(d, fp, "'%s' must be at most %zu bytes long", name,
		    max);
	copy = arena_strndup(d->arena, s, len);
	if (copy == NULL)
		return nomem(d);
	*out = copy;
	return 0;
}

static int
dec_number(struct dec *d, const json_t *v, const struct path *fp,
    const char *name, enum range r, double *out)
{
	double x;

	if (!json_is_number(v))
		return fail(d, fp, "'%s' must be a number", name);
	x = json_number_value(v);
	/* jansson never parses NaN or infinities, but a tree built in code
	 * could still carry one. */
	if (!isfinite(x))
		return fail(d, fp, "'%s' must be a finite number", name);
	switch (r) {
	case R_NONNEG:
		if (!(x >= 0))
			return fail(d, fp, "'%s' must not be negative", name);
		break;
	case R_POS:
		if (!(x > 0))
			return fail(d, fp, "'%s' must be greater than 0", name);
		break;
	case R_SHARE:
		if (!(x >= 0 && x <= 1))
			return fail(d, fp, "'%s' must be between 0 and 1",
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
dec_count(struct dec *d, const json_t *v, const struct path *fp,
    const char *name, long long *out)
{
	json_int_t i;
	double x;

	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i >= 1 && i <= COUNT_MAX) {
			*out = (long long)i;
			return 0;
		}
	} else if (json_is_real(v)) {
		x = json_real_value(v);
		if (isfinite(x) && x == floor(x) && x >= 1 &&
		    x <= (double)COUNT_MAX) {
			*out = (long long)x;
			return 0;
		}
	}
	return fail(d, fp, "'%s' must be an integer from 1 to %lld", name,
	    COUNT_MAX);
}

static int
dec_bool(struct dec *d, const json_t *v, const struct path *fp,
    const char *name, bool *out)
{
	if (!json_is_boolean(v))
		return fail(d, fp, "'%s' must be true or false", name);
	*out = json_is_true(v);
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
dec_country(struct dec *d, const json_t *v, const struct path *fp,
    const char *name, tg_cc *out)
{
	const char *s;
	char up[3], shown[16];
	size_t len;
	tg_cc cc;

	if (!json_is_string(v))
		return fail(d, fp, "'%s' must be an ISO 3166-1 alpha-2 code "
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
			return fail(d, fp, "'%s' must be upper case ('%s', "
			    "not '%.2s')", name, up, s);
	}
	show(shown, sizeof(shown), s, len, 8);
	return fail(d, fp, "'%s' is not an ISO 3166-1 alpha-2 country code: "
	    "'%s'", name, shown);
}

static int
dec_date(struct dec *d, const json_t *v, const struct path *fp,
    const char *name, tg_date *out)
{
	if (!json_is_string(v) || date_parse(json_string_value(v),
	    json_string_length(v), out) != 0)
		return fail(d, fp, "'%s' must be a calendar date written "
		    "YYYY-MM-DD", name);
	return 0;
}

/* Decodes one present member into base + f->off. */
static int
dec_field(struct dec *d, const json_t *v, const struct path *fp,
    const struct field *f, void *base)
{
	void *at = (char *)base + f->off;
	bool b = false;
	int rc = 0;

	switch (f->type) {
	case F_NESTED:
		break;
	case F_STR:
	case F_STR1:
		rc = dec_string(d, v, fp, f->name, f->type == F_STR1, f->max,
		    at);
		break;
	case F_NUM:
		rc = dec_number(d, v, fp, f->name, f->range, at);
		break;
	case F_COUNT:
		rc = dec_count(d, v, fp, f->name, at);
		break;
	case F_BOOL:
		rc = dec_bool(d, v, fp, f->name, at);
		break;
	case F_TRI:
		rc = dec_bool(d, v, fp, f->name, &b);
		if (rc == 0)
			*(int *)at = b ? 1 : 0;
		break;
	case F_COUNTRY:
		rc = dec_country(d, v, fp, f->name, at);
		break;
	case F_DATE:
		rc = dec_date(d, v, fp, f->name, at);
		break;
	}
	return rc;
}

/*
 * The table pass over obj (at p): refuses missing required members and
 * decodes every present scalar member that applies to mask into base, in
 * table order.  Absent members leave base alone, so callers set defaults
 * first.  Nested members are only checked for presence.
 */
static int
dec_fields(struct dec *d, const json_t *obj, const struct path *p,
    const struct field *fields, size_t n, unsigned mask, void *base)
{
	struct path c = { p, NULL, 0 };
	const json_t *v;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if ((fields[i].mask & mask) == 0)
			continue;
		v = json_object_get(obj, fields[i].name);
		c.key = fields[i].name;
		if (v == NULL) {
			/* The pointer names the missing member itself, as
			 * RFC 9457 clients expect (/consignee, not ""). */
			if (fields[i].required)
				return fail(d, &c, "missing required field "
				    "'%s'", fields[i].name);
			continue;
		}
		rc = dec_field(d, v, &c, &fields[i], base);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* The whole table treatment of an object without variants. */
static int
dec_object(struct dec *d, const json_t *obj, const struct path *p,
    const struct field *fields, size_t n, void *base)
{
	int rc;

	rc = check_unknown(d, obj, p, fields, n);
	if (rc != 0)
		return rc;
	return dec_fields(d, obj, p, fields, n, ANY, base);
}

/* ---- parties ---------------------------------------------------------- */

static int
parse_veu(struct dec *d, const json_t *v, const struct path *p,
    struct tg_veu *veu)
{
	struct path tp = { p, "type", 0 };
	const json_t *t;
	const char *tname;
	unsigned mask;
	int rc;

	if (!json_is_object(v))
		return fail(d, p, "'veu' must be an object");
	rc = check_unknown(d, v, p, veu_fields, NELEM(veu_fields));
	if (rc != 0)
		return rc;
	t = json_object_get(v, "type");
	if (t == NULL) {
		struct path typ = { p, "type", 0 };

		return fail(d, &typ, "missing required field 'type'");
	}
	tname = json_is_string(t) ? json_string_value(t) : "";
	if (strcmp(tname, "universal") == 0) {
		mask = V_UNI;
		veu->type = TG_VEU_UNIVERSAL;
		tname = "veu type 'universal'";
	} else if (strcmp(tname, "national") == 0) {
		mask = V_NAT;
		veu->type = TG_VEU_NATIONAL;
		tname = "veu type 'national'";
	} else
		return fail(d, &tp, "'type' must be 'universal' or "
		    "'national'");
	rc = check_applies(d, v, p, veu_fields, NELEM(veu_fields), mask,
	    tname);
	if (rc != 0)
		return rc;
	return dec_fields(d, v, p, veu_fields, NELEM(veu_fields), mask, veu);
}

/* Parses member `name` of root into *party.  Country defaults chain:
 * destination -> country -> headquarters -> ultimate_parent. */
static int
parse_party(struct dec *d, const json_t *root, const char *name,
    struct tg_party *party)
{
	struct path p = { NULL, name, 0 }, vp = { &p, "veu", 0 };
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

	v = json_object_get(root, name);
	if (!json_is_object(v))
		return fail(d, &p, "'%s' must be an object", name);
	rc = dec_object(d, v, &p, party_fields, NELEM(party_fields), party);
	if (rc != 0)
		return rc;
	/* Quotas are keyed by id, else by name: a party with neither could
	 * not be screened or counted. */
	if (party->name == NULL && party->id == NULL)
		return fail(d, &p, "'%s' needs a 'name' or an 'id'", name);
	if (party->country == TG_CC_NONE)
		party->country = d->destination;
	if (party->headquarters == TG_CC_NONE)
		party->headquarters = party->country;
	if (party->ultimate_parent == TG_CC_NONE)
		party->ultimate_parent = party->headquarters;
	veu = json_object_get(v, "veu");
	if (veu != NULL)
		return parse_veu(d, veu, &vp, &party->veu);
	return 0;
}

/* ---- items ------------------------------------------------------------ */

/* synthetic_data: one object, or an array of 1..TG_SYNTH_MAX of them. */
static int
parse_synth(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path c = { p, NULL, 0 };
	const struct path *ep;
	const json_t *e;
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
	s = arena_alloc(d->arena, n * sizeof(*s));
	if (s == NULL)
		return nomem(d);
	for (i = 0; i < n; i++) {
		s[i].share = NAN;
		s[i].generator_training_operations = NAN;
		s[i].generation_operations = NAN;
		s[i].generator_published = -1;
		e = v;
		ep = p;
		if (json_is_array(v)) {
			c.index = i;
			e = json_array_get(v, i);
			ep = &c;
		}
		if (!json_is_object(e))
			return fail(d, ep, "synthetic data entry must be an "
			    "object");
		rc = dec_object(d, e, ep, synth_fields, NELEM(synth_fields),
		    &s[i]);
		if (rc != 0)
			return rc;
		total += s[i].share;
	}
	/* Each share is a part of the same training run, so together they
	 * cannot exceed it; allow for rounding in the caller's arithmetic. */
	if (total > 1 + 1e-9)
		return fail(d, p, "'synthetic_data' shares add up to more "
		    "than 1");
	it->synth = s;
	it->nsynth = n;
	return 0;
}

static int
check_hardware(struct dec *d, const json_t *v, const struct path *p,
    const struct tg_item *it)
{
	static const char *const figures[] = {
		"die_area_mm2", "performance_density",
	};
	struct path c = { p, NULL, 0 };
	size_t i;

	if (it->product != NULL) {
		/* The catalog supplies the figures of a product; a second,
		 * possibly different, set in the query would make the
		 * decision depend on which one the engine reads. */
		if (!isnan(it->tpp)) {
			c.key = "tpp";
			return fail(d, &c, "give either 'product' or 'tpp', "
			    "not both");
		}
		for (i = 0; i < NELEM(figures); i++) {
			if (json_object_get(v, figures[i]) == NULL)
				continue;
			c.key = figures[i];
			return fail(d, &c, "'%s' goes with 'tpp'; a product's "
			    "figures come from the catalog", figures[i]);
		}
		return 0;
	}
	if (isnan(it->tpp))
		return fail(d, p, "a %s needs 'product' or 'tpp'",
		    item_kind_name(it->kind));
	/* 3A090 classifies by TPP and performance density (TPP divided by
	 * die area): a chip given by figures needs one of the two. */
	if (isnan(it->die_area_mm2) && isnan(it->performance_density))
		return fail(d, p, "'tpp' needs 'die_area_mm2' or "
		    "'performance_density'");
	return 0;
}

static int
check_model(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path bp = { p, "base_model", 0 };
	struct path sp = { p, "synthetic_data", 0 };
	const json_t *base, *synth;
	int rc;

	base = json_object_get(v, "base_model");
	if (base == NULL) {
		if (isnan(it->training_operations)) {
			bp.key = "training_operations";
			return fail(d, &bp, "missing required field "
			    "'training_operations'");
		}
		if (!isnan(it->additional_operations)) {
			bp.key = "additional_operations";
			return fail(d, &bp, "'additional_operations' needs "
			    "'base_model'");
		}
	} else {
		if (!json_is_object(base))
			return fail(d, &bp, "'base_model' must be an object");
		rc = dec_object(d, base, &bp, base_fields, NELEM(base_fields),
		    it);
		if (rc != 0)
			return rc;
		it->has_base_model = true;
		/* A model derived from a published one is measured by the
		 * operations added on top of its base (4E091 technical
		 * note), so that figure cannot be left out. */
		if (isnan(it->additional_operations)) {
			struct path ap = { p, "additional_operations", 0 };

			return fail(d, &ap, "missing required field "
			    "'additional_operations'");
		}
	}
	synth = json_object_get(v, "synthetic_data");
	if (synth != NULL)
		return parse_synth(d, synth, &sp, it);
	return 0;
}

static int
check_service(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path c = { p, "purpose", 0 };
	const json_t *pv;
	const char *s;

	pv = json_object_get(v, "purpose");
	s = json_is_string(pv) ? json_string_value(pv) : "";
	if (strcmp(s, "training") == 0)
		it->purpose = TG_PURPOSE_TRAINING;
	else if (strcmp(s, "inference") == 0)
		it->purpose = TG_PURPOSE_INFERENCE;
	else
		return fail(d, &c, "'purpose' must be 'training' or "
		    "'inference'");
	if (it->purpose == TG_PURPOSE_TRAINING &&
	    isnan(it->training_operations)) {
		c.key = "training_operations";
		return fail(d, &c, "missing required field "
		    "'training_operations'");
	}
	/* Only a training service is sized by operations; refuse rather
	 * than let the engine ignore a figure given to it. */
	if (it->purpose == TG_PURPOSE_INFERENCE &&
	    !isnan(it->training_operations)) {
		c.key = "training_operations";
		return fail(d, &c, "'training_operations' applies only to "
		    "purpose 'training'");
	}
	if (it->location == TG_CC_NONE)
		it->location = d->destination;
	return 0;
}

static int
parse_item(struct dec *d, const json_t *v, const struct path *p,
    struct tg_item *it)
{
	struct path kp = { p, "kind", 0 };
	char what[32];
	const json_t *kv;
	const char *kname;
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
	rc = check_unknown(d, v, p, item_fields, NELEM(item_fields));
	if (rc != 0)
		return rc;
	kv = json_object_get(v, "kind");
	if (kv == NULL)
		return fail(d, &kp, "missing required field 'kind'");
	kname = json_is_string(kv) ? json_string_value(kv) : "";
	for (i = 0; i < NELEM(kinds); i++)
		if (strcmp(kname, kinds[i].name) == 0)
			break;
	if (i == NELEM(kinds))
		return fail(d, &kp, "'kind' must be one of 'chip', 'system', "
		    "'model_weights', 'compute_service'");
	it->kind = kinds[i].kind;
	(void)snprintf(what, sizeof(what), "kind '%s'", kinds[i].name);
	rc = check_applies(d, v, p, item_fields, NELEM(item_fields),
	    1u << it->kind, what);
	if (rc != 0)
		return rc;
	rc = dec_fields(d, v, p, item_fields, NELEM(item_fields),
	    1u << it->kind, it);
	if (rc != 0)
		return rc;
	switch (it->kind) {
	case TG_ITEM_CHIP:
	case TG_ITEM_SYSTEM:
		return check_hardware(d, v, p, it);
	case TG_ITEM_MODEL_WEIGHTS:
		return check_model(d, v, p, it);
	case TG_ITEM_COMPUTE_SERVICE:
		return check_service(d, v, p, it);
	}
	return 0;
}

static int
parse_items(struct dec *d, const json_t *root, struct tg_query *q)
{
	struct path p = { NULL, "items", 0 }, c = { &p, NULL, 0 };
	struct tg_item *items;
	const json_t *v;
	size_t i, n;
	int rc;

	v = json_object_get(root, "items");
	if (!json_is_array(v))
		return fail(d, &p, "'items' must be an array");
	n = json_array_size(v);
	if (n < 1 || n > TG_ITEMS_MAX)
		return fail(d, &p, "'items' must have 1 to %d entries",
		    TG_ITEMS_MAX);
	items = arena_alloc(d->arena, n * sizeof(*items));
	if (items == NULL)
		return nomem(d);
	for (i = 0; i < n; i++) {
		c.index = i;
		rc = parse_item(d, json_array_get(v, i), &c, &items[i]);
		if (rc != 0)
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
	struct tg_query *q;
	int rc;

	*out = NULL;
	tg_error_clear(err);
	if (root == NULL) {
		rc = tg_error_set(err, -EINVAL, "no query");
		goto out;
	}
	rc = check_limits(&d, root, NULL, 1);
	if (rc != 0)
		goto out;
	if (!json_is_object(root)) {
		rc = fail(&d, NULL, "query must be a JSON object");
		goto out;
	}
	rc = check_unknown(&d, root, NULL, root_fields, NELEM(root_fields));
	if (rc != 0)
		goto out;
	q = arena_zalloc(arena, sizeof(*q));
	if (q == NULL) {
		rc = nomem(&d);
		goto out;
	}
	q->date = today;
	q->date_given = json_object_get(root, "date") != NULL;
	q->destination = TG_CC_NONE;
	/* Exports leave from the United States unless the query says
	 * otherwise (the EAR also reach re-exports, 15 CFR 734.3). */
	if (cc_parse("US", 2, &q->export_from) != 0) {
		rc = tg_error_set(err, TG_EINTERNAL, "cannot parse 'US'");
		goto out;
	}
	rc = dec_fields(&d, root, NULL, root_fields, NELEM(root_fields), ANY,
	    q);
	if (rc != 0)
		goto out;
	d.destination = q->destination;
	rc = parse_party(&d, root, "consignee", &q->consignee);
	if (rc != 0)
		goto out;
	q->end_user_given = json_object_get(root, "end_user") != NULL;
	if (q->end_user_given)
		rc = parse_party(&d, root, "end_user", &q->end_user);
	else
		q->end_user = q->consignee;
	if (rc != 0)
		goto out;
	rc = parse_items(&d, root, q);
	if (rc != 0)
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
syntax_error(struct tg_error *err, const json_error_t *jerr, bool nomem)
{
	char text[TG_ERR_MSG_MAX];
	int rc;

	if (nomem)
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
	bool nomem;
	int rc;

	*out = NULL;
	tg_error_clear(err);
	/*
	 * JSON_DECODE_ANY: a scalar is valid JSON (RFC 8259), so "42" is a
	 * well-formed document that is not a query (TG_EINVAL), not a
	 * syntax error.  Duplicate keys are refused because jansson would
	 * keep the last one, and a reader that keeps the first would see a
	 * different export.  NUL in strings stays refused (the default).
	 */
	/* An empty tg_buf has p == NULL; jansson would call that "wrong
	 * arguments" rather than an empty document. */
	if (buf == NULL && len == 0)
		buf = "";
	root = api_json_loadb(buf, len, JSON_REJECT_DUPLICATES |
	    JSON_DECODE_ANY, &jerr, &nomem);
	if (root == NULL) {
		rc = syntax_error(err, &jerr, nomem);
		goto out;
	}
	rc = api_query_from_json(root, arena, today, out, err);
out:
	json_decref(root);
	return rc;
}
