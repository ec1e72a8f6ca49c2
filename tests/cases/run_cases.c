/*
 * run_cases.c: runs the rule cases (tests/cases/NNN-name.json) through the
 * JSON decoder and the engine, without a daemon (house-style.md, "Tests").
 *
 * usage: run_cases [-v] PACKFILE... CASEDIR
 *
 * The packs are loaded once.  Every *.json file in CASEDIR, in name order,
 * is one case: a query and the part of the decision it expects, or the
 * JSON pointer of the error it expects (tests/cases/README.md).  A fake
 * quota provider answers with the case's "quota_used" entries and 0 for
 * anything else.  Only the fields a case lists are compared.
 *
 * Output: "ok NAME" or "FAIL NAME: what differed" per case, then exactly
 * one line "N passed, N failed".  Exit status 1 when a case failed, 2 on a
 * usage error.  With -v a failing case also prints the decision it got.
 *
 * Everything allocated is released: the runner runs under ASan/LSan.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tiergate/api.h"
#include "tiergate/decision.h"
#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/jcs.h"
#include "tiergate/query.h"
#include "tiergate/util.h"

#define CASES_MAX	10000
#define MSG_MAX		4096
#define PATH_MAX_LEN	1024
#define SHOW_MAX	160		/* characters of a value in a message */
#define REL_TOL		1e-9
#define WARN_SHOW	60		/* characters of a warning shown */
#define WARNS_MAX	1024

/* A failure message: differences appended with "; " between them. */
struct msg {
	char	s[MSG_MAX];
	size_t	len;
	int	n;
};

/* The fake quota provider's state: the case's entries, and a record of
 * what the engine asked for, which makes key mismatches easy to see. */
struct fake_quota {
	const json_t	*used;		/* borrowed: array or NULL */
	struct msg	 asked;
};

static bool verbose;

static void msg_add(struct msg *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Appends a difference.  A message that no longer fits ends in "..."
 * instead of being cut silently.
 */
static void
msg_add(struct msg *m, const char *fmt, ...)
{
	va_list ap;
	size_t room;
	int r;

	if (m->len + 4 >= sizeof(m->s))
		return;
	if (m->n > 0) {
		room = sizeof(m->s) - m->len;
		r = snprintf(m->s + m->len, room, "; ");
		if (r < 0 || (size_t)r >= room)
			goto full;
		m->len += (size_t)r;
	}
	room = sizeof(m->s) - m->len;
	va_start(ap, fmt);
	r = vsnprintf(m->s + m->len, room, fmt, ap);
	va_end(ap);
	if (r < 0 || (size_t)r >= room)
		goto full;
	m->len += (size_t)r;
	m->n++;
	return;
full:
	m->len = sizeof(m->s) - 4;
	memcpy(m->s + m->len, "...", 4);
	m->len = sizeof(m->s) - 1;
	m->n++;
}

/*
 * Writes a short rendering of v (or "absent") into buf.  Long values are
 * shortened with "...".
 */
static void
show(const json_t *v, char *buf, size_t size)
{
	char *s;
	int r;

	if (v == NULL) {
		(void)snprintf(buf, size, "absent");
		return;
	}
	s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(17));
	if (s == NULL) {
		(void)snprintf(buf, size, "(unprintable)");
		return;
	}
	if (strlen(s) > SHOW_MAX)
		r = snprintf(buf, size, "%.*s...", SHOW_MAX, s);
	else
		r = snprintf(buf, size, "%s", s);
	if (r < 0)
		buf[0] = '\0';
	free(s);
}

static bool
num_equal(double a, double b)
{
	double scale;

	if (a == b)
		return true;
	if (isnan(a) || isnan(b))
		return false;
	scale = fmax(fabs(a), fabs(b));
	return fabs(a - b) <= REL_TOL * scale;
}

/* Case-insensitive substring test (ASCII). */
static bool
contains_ci(const char *hay, const char *needle)
{
	size_t i, j, hn, nn;

	hn = strlen(hay);
	nn = strlen(needle);
	if (nn == 0)
		return true;
	for (i = 0; i + nn <= hn; i++) {
		for (j = 0; j < nn; j++) {
			if (tolower((unsigned char)hay[i + j]) !=
			    tolower((unsigned char)needle[j]))
				break;
		}
		if (j == nn)
			return true;
	}
	return false;
}

/*
 * Subset match of want against got: objects compare only the keys that
 * want lists, arrays element by element (same length), numbers with a
 * relative tolerance, null only with a present null.  Differences go to m,
 * each prefixed with path.
 */
static void
match(json_t *want, const json_t *got, const char *path, struct msg *m)
{
	char wbuf[SHOW_MAX + 8], gbuf[SHOW_MAX + 8], sub[PATH_MAX_LEN];
	const char *key;
	json_t *wv;
	size_t i;
	int r;

	if (json_is_object(want) && json_is_object(got)) {
		json_object_foreach(want, key, wv) {
			r = snprintf(sub, sizeof(sub), "%s/%s", path, key);
			if (r < 0 || (size_t)r >= sizeof(sub)) {
				msg_add(m, "%s: path too long", path);
				return;
			}
			match(wv, json_object_get(got, key), sub, m);
		}
		return;
	}
	if (json_is_array(want) && json_is_array(got) &&
	    json_array_size(want) == json_array_size(got)) {
		for (i = 0; i < json_array_size(want); i++) {
			r = snprintf(sub, sizeof(sub), "%s/%zu", path, i);
			if (r < 0 || (size_t)r >= sizeof(sub)) {
				msg_add(m, "%s: path too long", path);
				return;
			}
			match(json_array_get(want, i), json_array_get(got, i),
			    sub, m);
		}
		return;
	}
	if (json_is_number(want) && json_is_number(got) &&
	    num_equal(json_number_value(want), json_number_value(got)))
		return;
	if (json_is_string(want) && json_is_string(got) &&
	    strcmp(json_string_value(want), json_string_value(got)) == 0)
		return;
	if (got != NULL && (json_is_null(want) || json_is_boolean(want)) &&
	    json_typeof(want) == json_typeof(got))
		return;
	show(want, wbuf, sizeof(wbuf));
	show(got, gbuf, sizeof(gbuf));
	msg_add(m, "%s: expected %s, got %s", path[0] ? path : "/", wbuf,
	    gbuf);
}

/*
 * Quota provider: the sum of the case's entries with this name, key and
 * period (0 when none).  Also records the question.
 */
static int
fake_used(void *ctx, const char *name, const char *key, const char *period,
    double *out)
{
	struct fake_quota *fq = ctx;
	const json_t *e;
	const char *n, *k, *p;
	double sum = 0;
	size_t i;

	msg_add(&fq->asked, "%s/%s/%s", name ? name : "(null)",
	    key ? key : "(null)", period ? period : "(null)");
	if (fq->used != NULL) {
		json_array_foreach(fq->used, i, e) {
			n = json_string_value(json_object_get(e, "name"));
			k = json_string_value(json_object_get(e, "key"));
			p = json_string_value(json_object_get(e, "period"));
			if (name == NULL || key == NULL || period == NULL ||
			    n == NULL || k == NULL || p == NULL)
				continue;
			if (strcmp(n, name) == 0 && strcmp(k, key) == 0 &&
			    strcmp(p, period) == 0)
				sum += json_number_value(
				    json_object_get(e, "used"));
		}
	}
	*out = sum;
	return 0;
}

/*
 * Checks the case file's own shape.  Returns false with the reason in m.
 */
static bool
case_valid(json_t *c, struct msg *m)
{
	static const char *const known[] = {
		"description", "provision", "query", "query_raw",
		"quota_used", "expect", "expect_error", NULL
	};
	const char *key;
	json_t *v;
	const json_t *e, *q;
	size_t i;
	int k;

	if (!json_is_object(c)) {
		msg_add(m, "case file is not a JSON object");
		return false;
	}
	json_object_foreach(c, key, v) {
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(known[k], key) == 0)
				break;
		if (known[k] == NULL)
			msg_add(m, "case file: unknown key '%s'", key);
	}
	v = json_object_get(c, "description");
	if (!json_is_string(v) || json_string_length(v) == 0)
		msg_add(m, "case file: missing \"description\"");
	v = json_object_get(c, "provision");
	if (!json_is_string(v) || json_string_length(v) == 0)
		msg_add(m, "case file: missing \"provision\"");
	if ((json_object_get(c, "expect") == NULL) ==
	    (json_object_get(c, "expect_error") == NULL))
		msg_add(m, "case file: needs exactly one of \"expect\" and "
		    "\"expect_error\"");
	if ((json_object_get(c, "query") == NULL) ==
	    (json_object_get(c, "query_raw") == NULL))
		msg_add(m, "case file: needs exactly one of \"query\" and "
		    "\"query_raw\"");
	v = json_object_get(c, "query_raw");
	if (v != NULL && !json_is_string(v))
		msg_add(m, "case file: \"query_raw\" is not a string");
	v = json_object_get(c, "expect");
	if (v != NULL) {
		if (!json_is_object(v))
			msg_add(m, "case file: \"expect\" is not an object");
		q = json_object_get(c, "query");
		if (!json_is_object(q) || !json_is_string(json_object_get(q,
		    "date")))
			msg_add(m, "case file: the query needs an explicit "
			    "\"date\"");
	}
	v = json_object_get(c, "expect_error");
	if (v != NULL && !json_is_string(json_object_get(v, "pointer")))
		msg_add(m, "case file: \"expect_error\" needs a \"pointer\"");
	v = json_object_get(c, "quota_used");
	if (v != NULL) {
		if (!json_is_array(v))
			msg_add(m, "case file: \"quota_used\" is not an array");
		json_array_foreach(v, i, e) {
			if (!json_is_string(json_object_get(e, "name")) ||
			    !json_is_string(json_object_get(e, "key")) ||
			    !json_is_string(json_object_get(e, "period")) ||
			    !json_is_number(json_object_get(e, "used")))
				msg_add(m, "case file: quota_used[%zu] needs "
				    "name, key, period and used", i);
		}
	}
	return m->n == 0;
}

/* The decision item whose "index" is idx, or NULL. */
static const json_t *
find_item(const json_t *items, json_int_t idx)
{
	const json_t *it, *ix;
	size_t i;

	json_array_foreach(items, i, it) {
		ix = json_object_get(it, "index");
		if (json_is_integer(ix) && json_integer_value(ix) == idx)
			return it;
	}
	return NULL;
}

/* Does any item reason or red flag carry rule id? */
static bool
has_rule(const json_t *dj, const char *id)
{
	const json_t *it, *r, *f;
	const char *s;
	size_t i, j;

	json_array_foreach(json_object_get(dj, "items"), i, it) {
		json_array_foreach(json_object_get(it, "reasons"), j, r) {
			s = json_string_value(json_object_get(r, "rule"));
			if (s != NULL && strcmp(s, id) == 0)
				return true;
		}
	}
	json_array_foreach(json_object_get(dj, "red_flags"), i, f) {
		s = json_string_value(json_object_get(f, "rule"));
		if (s != NULL && strcmp(s, id) == 0)
			return true;
	}
	return false;
}

static bool
some_warning_has(const json_t *dj, const char *sub)
{
	const json_t *w;
	const char *s;
	size_t i;

	json_array_foreach(json_object_get(dj, "warnings"), i, w) {
		s = json_string_value(w);
		if (s != NULL && contains_ci(s, sub))
			return true;
	}
	return false;
}

/*
 * Writes the decision's warnings into buf as ["first words...", ...], each
 * cut to WARN_SHOW characters, so a message shows all of them.
 */
static void
show_warnings(const json_t *dj, char *buf, size_t size)
{
	const json_t *w;
	const char *s;
	size_t i, len = 0;
	int r;

	buf[0] = '\0';
	r = snprintf(buf, size, "[");
	if (r < 0 || (size_t)r >= size)
		return;
	len = (size_t)r;
	json_array_foreach(json_object_get(dj, "warnings"), i, w) {
		s = json_string_value(w);
		if (s == NULL)
			s = "(not a string)";
		r = snprintf(buf + len, size - len, "%s\"%.*s%s\"",
		    i > 0 ? ", " : "", WARN_SHOW, s,
		    strlen(s) > WARN_SHOW ? "..." : "");
		if (r < 0 || (size_t)r >= size - len)
			return;
		len += (size_t)r;
	}
	(void)snprintf(buf + len, size - len, "]");
}

/* Compares the decision JSON dj with the case's "expect" object. */
static void
check_expect(json_t *expect, const json_t *dj, struct msg *m)
{
	char gbuf[SHOW_MAX + 8], wbuf[WARNS_MAX], path[64];
	json_t *v, *w;
	const json_t *got, *items, *ix;
	const char *key, *s;
	json_int_t idx;
	size_t i, n;

	json_object_foreach(expect, key, v) {
		if (strcmp(key, "tier") == 0) {
			match(v, json_object_get(json_object_get(dj,
			    "destination"), "tier"), "/destination/tier", m);
		} else if (strcmp(key, "items") == 0) {
			items = json_object_get(dj, "items");
			if (!json_is_array(v) || !json_is_array(items)) {
				msg_add(m, "/items: expected an array");
				continue;
			}
			json_array_foreach(v, i, w) {
				ix = json_object_get(w, "index");
				idx = json_is_integer(ix) ?
				    json_integer_value(ix) : (json_int_t)i;
				got = find_item(items, idx);
				(void)snprintf(path, sizeof(path),
				    "/items/%lld", (long long)idx);
				if (got == NULL) {
					msg_add(m, "%s: no such item in the "
					    "decision", path);
					continue;
				}
				match(w, got, path, m);
			}
		} else if (strcmp(key, "red_flags") == 0 &&
		    json_is_integer(v)) {
			got = json_object_get(dj, "red_flags");
			n = json_is_array(got) ? json_array_size(got) : 0;
			if ((json_int_t)n != json_integer_value(v)) {
				show(got, gbuf, sizeof(gbuf));
				msg_add(m, "/red_flags: expected %lld, got %zu "
				    "(%s)", (long long)json_integer_value(v),
				    n, gbuf);
			}
		} else if (strcmp(key, "reasons_include") == 0) {
			json_array_foreach(v, i, w) {
				s = json_string_value(w);
				if (s != NULL && !has_rule(dj, s))
					msg_add(m, "reasons: expected rule "
					    "'%s', not found", s);
			}
		} else if (strcmp(key, "warnings_match") == 0 ||
		    strcmp(key, "warnings_exclude") == 0) {
			json_array_foreach(v, i, w) {
				s = json_string_value(w);
				if (s == NULL)
					continue;
				if (key[9] == 'm' && !some_warning_has(dj, s)) {
					show_warnings(dj, wbuf, sizeof(wbuf));
					msg_add(m, "/warnings: expected one "
					    "matching '%s', got %s", s, wbuf);
				} else if (key[9] == 'e' &&
				    some_warning_has(dj, s)) {
					show_warnings(dj, wbuf, sizeof(wbuf));
					msg_add(m, "/warnings: expected none "
					    "matching '%s', got %s", s, wbuf);
				}
			}
		} else if (strcmp(key, "no_warnings") == 0) {
			got = json_object_get(dj, "warnings");
			if (json_is_true(v) && json_is_array(got) &&
			    json_array_size(got) > 0) {
				show_warnings(dj, wbuf, sizeof(wbuf));
				msg_add(m, "/warnings: expected none, got %s",
				    wbuf);
			}
		} else {
			(void)snprintf(path, sizeof(path), "/%s", key);
			match(v, json_object_get(dj, key), path, m);
		}
	}
}

/*
 * Runs one case file.  Returns true when it passed; otherwise m says why.
 */

/* The audit log hashes api_decision_jcs() and the daemon answers with
 * api_decision_text(), both written without a JSON tree; they must be
 * byte for byte the canonical form of the decision (jcs_dumps of
 * api_decision_to_json) and its answer (api_dumps with the receipt
 * attached), on every case. */
static void
check_texts(const struct tg_decision *d, const json_t *dj, struct msg *m)
{
	static const char id[] = "0190b1c2-7d4e-7000-8000-000000000001";
	struct audit_receipt r;
	json_t *withid = json_deep_copy(dj);
	struct tg_buf b;
	char *want = NULL;

	/* A receipt with every member filled, hostile-looking where it is
	 * text: the note has newlines and a non-ASCII dash. */
	memset(&r, 0, sizeof(r));
	r.seq = 42;
	r.leaf_index = 41;
	r.tree_size = 9007199254740993ull;
	snprintf(r.kind, sizeof(r.kind), "decision");
	snprintf(r.time, sizeof(r.time), "2026-11-28T15:00:00.000001Z");
	memset(r.entry_hash, 'a', 64);
	memset(r.prev, '0', 64);
	memset(r.request_sha256, 'b', 64);
	memset(r.pack_sha256, 'c', 64);
	memset(r.key_id, 'd', 64);
	snprintf(r.signature, sizeof(r.signature), "c2ln/+==");
	r.checkpoint = (char *)(uintptr_t)"tiergate/x\n42\nroot=\n\n"
	    "\xe2\x80\x94 tiergate/x sig\t\x01\n";
	r.nproof = 3;
	for (size_t i = 0; i < r.nproof; i++)
		memset(r.proof[i], (int)(0x11 * (i + 1)), MERKLE_HASH);

	buf_init(&b, 16u << 20);
	if (withid == NULL || json_object_set_new(withid, "decision_id",
	    json_string(id)) != 0 || (want = jcs_dumps(withid)) == NULL ||
	    api_decision_jcs(d, id, &b) != 0)
		msg_add(m, "canonical form: cannot encode");
	else if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)
		msg_add(m, "api_decision_jcs differs from jcs_dumps:\n  %s\n"
		    "  %s", b.p, want);
	free(want);
	want = NULL;
	b.len = 0;
	if (withid == NULL || api_attach_receipt(withid, &r) != 0 ||
	    (want = api_dumps(withid, true)) == NULL ||
	    api_decision_text(d, id, &r, &b) != 0)
		msg_add(m, "answer: cannot encode");
	else if (b.len != strlen(want) || memcmp(b.p, want, b.len) != 0)
		msg_add(m, "api_decision_text differs from api_dumps:\n%s\n"
		    "%s", b.p, want);
	free(want);
	json_decref(withid);
	buf_release(&b);
}

static bool
run_case(struct tg_pack *pack, const char *file, struct msg *m)
{
	struct fake_quota fq;
	struct tg_quota_ops ops;
	struct tg_error err;
	struct tg_arena *arena = NULL;
	struct tg_decision *d = NULL;
	const struct tg_query *q = NULL;
	json_error_t jerr;
	json_t *c = NULL, *dj = NULL;
	json_t *expect;
	const json_t *experr;
	const char *want_ptr = NULL, *raw;
	char *qbuf = NULL, *dump;
	size_t qlen;
	int rc;
	bool passed = false, errored = false;

	memset(&fq, 0, sizeof(fq));
	c = json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
	if (c == NULL) {
		msg_add(m, "malformed case file: %d:%d: %s", jerr.line,
		    jerr.column, jerr.text);
		goto out;
	}
	if (!case_valid(c, m))
		goto out;
	expect = json_object_get(c, "expect");
	experr = json_object_get(c, "expect_error");
	if (experr != NULL)
		want_ptr = json_string_value(json_object_get(experr,
		    "pointer"));

	raw = json_string_value(json_object_get(c, "query_raw"));
	if (raw != NULL) {
		qlen = json_string_length(json_object_get(c, "query_raw"));
		qbuf = malloc(qlen + 1);
		if (qbuf == NULL) {
			msg_add(m, "out of memory");
			goto out;
		}
		memcpy(qbuf, raw, qlen);
		qbuf[qlen] = '\0';
	} else {
		qbuf = json_dumps(json_object_get(c, "query"), JSON_COMPACT |
		    JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
		if (qbuf == NULL) {
			msg_add(m, "cannot serialize the query");
			goto out;
		}
		qlen = strlen(qbuf);
	}

	arena = arena_new(0);
	if (arena == NULL) {
		msg_add(m, "out of memory");
		goto out;
	}
	tg_error_clear(&err);
	rc = api_query_parse(qbuf, qlen, arena, date_today(), &q, &err);
	if (rc == 0) {
		fq.used = json_object_get(c, "quota_used");
		ops.used = fake_used;
		ops.ctx = &fq;
		tg_error_clear(&err);
		rc = eval_decide(pack, q, &ops, &d, &err);
		if (rc != 0)
			errored = true;
	} else
		errored = true;

	if (experr != NULL) {
		if (!errored) {
			msg_add(m, "expected an error at '%s', got a decision "
			    "with outcome %s", want_ptr,
			    outcome_name(d->outcome));
		} else if (strcmp(err.pointer, want_ptr) != 0) {
			msg_add(m, "expected an error at '%s', got one at "
			    "'%s' (%s: %s)", want_ptr, err.pointer,
			    tg_strerror(rc), err.msg);
		} else
			passed = true;
		goto out;
	}
	if (errored) {
		msg_add(m, "%s: error at '%s': %s (%s)",
		    d == NULL && q == NULL ? "query rejected" :
		    "eval_decide failed", err.pointer, err.msg,
		    tg_strerror(rc));
		goto out;
	}
	dj = api_decision_to_json(d, NULL);
	if (dj == NULL) {
		msg_add(m, "api_decision_to_json failed");
		goto out;
	}
	check_expect(expect, dj, m);
	check_texts(d, dj, m);
	passed = m->n == 0;
	if (!passed && fq.asked.n > 0)
		msg_add(m, "quota lookups: %s", fq.asked.s);
	if (!passed && verbose) {
		dump = json_dumps(dj, JSON_INDENT(2) |
		    JSON_REAL_PRECISION(17));
		if (dump != NULL) {
			fprintf(stderr, "--- %s: decision\n%s\n", file, dump);
			free(dump);
		}
	}
out:
	json_decref(dj);
	decision_free(d);
	arena_free(arena);
	free(qbuf);
	json_decref(c);
	return passed;
}

static int
cmp_names(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;

	return strcmp(*x, *y);
}

/*
 * Lists the *.json files in dir, sorted by name, into *out (count in *n).
 * The caller frees each name and the array.  Returns 0 or -errno.
 */
static int
list_cases(const char *dir, char ***out, size_t *n)
{
	DIR *dp;
	struct dirent *de;
	char **v = NULL, **nv;
	size_t len, cnt = 0, cap = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	dp = opendir(dir);
	if (dp == NULL)
		return -errno;
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		if (cnt == CASES_MAX) {
			rc = -E2BIG;
			goto out;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 128;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		v[cnt] = strdup(de->d_name);
		if (v[cnt] == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		cnt++;
	}
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), cmp_names);
out:
	closedir(dp);
	if (rc != 0) {
		while (cnt > 0)
			free(v[--cnt]);
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: run_cases [-v] PACKFILE... CASEDIR\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct tg_errlist errs;
	struct tg_pack *pack = NULL;
	struct msg m;
	char **names = NULL, path[PATH_MAX_LEN], name[PATH_MAX_LEN];
	const char *dir;
	size_t i, j, nnames, passed = 0, failed = 0;
	int rc, r, first = 1;

	if (argc > 1 && strcmp(argv[1], "-v") == 0) {
		verbose = true;
		first = 2;
	}
	if (argc - first < 2)
		usage();
	dir = argv[argc - 1];

	rc = list_cases(dir, &names, &nnames);
	if (rc != 0) {
		fprintf(stderr, "run_cases: cannot list '%s': %s\n", dir,
		    strerror(-rc));
		return 2;
	}

	errlist_init(&errs);
	rc = pack_load((const char *const *)(argv + first),
	    (size_t)(argc - 1 - first), &pack, &errs);
	if (rc != 0) {
		for (j = 0; j < errs.n; j++)
			fprintf(stderr, "%s:%d:%d: %s\n", errs.v[j].file,
			    errs.v[j].line, errs.v[j].col, errs.v[j].msg);
		fprintf(stderr, "run_cases: cannot load the rule packs: %s\n",
		    tg_strerror(rc));
	}
	errlist_release(&errs);

	for (i = 0; i < nnames; i++) {
		memset(&m, 0, sizeof(m));
		r = snprintf(name, sizeof(name), "%.*s",
		    (int)(strlen(names[i]) - 5), names[i]);
		if (r < 0 || (size_t)r >= sizeof(name))
			name[0] = '\0';
		r = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (r < 0 || (size_t)r >= sizeof(path))
			msg_add(&m, "path too long");
		else if (pack == NULL)
			msg_add(&m, "the rule packs did not load");
		else if (run_case(pack, path, &m)) {
			printf("ok %s\n", name);
			passed++;
			continue;
		}
		printf("FAIL %s: %s\n", name, m.s);
		failed++;
	}

	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	pack_unref(pack);
	printf("%zu passed, %zu failed\n", passed, failed);
	return failed > 0 ? 1 : 0;
}
