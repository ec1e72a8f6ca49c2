/*
 * csv_row.c: the batch CSV reader (contract.md section 5): bytes in,
 * transactions out, and a transaction's rows into a query.
 *
 * Parsing is libcsv's, in strict mode (a quote inside an unquoted field,
 * or text after a closing quote, is an error rather than a guess), with no
 * trimming of spaces, so that a field reaches the output exactly as it
 * came.  libcsv is fed one line at a time, which costs little and tells us
 * the line and column of a malformed row; such a row is reported bad, the
 * rest of its line is skipped, and reading resumes on the next line.
 *
 * Invariants:
 *  - every data row is handed to the caller exactly once, in file order,
 *    inside exactly one transaction (a malformed row too, as an empty row
 *    with its error);
 *  - a transaction is never handed over while a later row could still
 *    belong to it, and a row with an error makes its whole transaction
 *    bad: the lines of one shipment are decided together or not at all;
 *  - memory is bounded by the caps in csv_row.h (one row, one transaction
 *    of at most TG_ITEMS_MAX rows) plus the table of references seen.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "tiergate/api.h"

#include "csv_row.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
/* How much of a value is quoted back in a message. */
#define SHOW_MAX 64
/* libcsv grows its field buffer by this much at a time. */
#define CSVR_BLOCK 4096
#define MSG_MAX 768

/* ---- the columns of contract.md section 5 ----------------------------- */

enum scope {
	S_TXN,			/* a member of the query */
	S_CONSIGNEE,		/* a member of "consignee" */
	S_END_USER,		/* a member of "end_user" */
	S_ITEM,			/* a member of the row's item */
};

enum vtype {
	V_STR,
	V_COUNT,		/* an integer (quantity, chips_per_unit) */
	V_NUM,
	V_BOOL,
};

struct column {
	const char *name;	/* in the CSV header */
	enum scope scope;
	const char *json;	/* member name in the query */
	enum vtype type;
};

/*
 * The contract's columns, then the extensions that carry item and party
 * fields the JSON query already has (license, description,
 * performance_density, end_user_id).  Every column that is not the
 * reference, a party's or the date and destination is a line item's.
 */
static const struct column columns[] = {
	{ "reference", S_TXN, "reference", V_STR },
	{ "date", S_TXN, "date", V_STR },
	{ "destination", S_TXN, "destination", V_STR },
	{ "consignee_id", S_CONSIGNEE, "id", V_STR },
	{ "consignee_name", S_CONSIGNEE, "name", V_STR },
	{ "consignee_country", S_CONSIGNEE, "country", V_STR },
	{ "consignee_headquarters", S_CONSIGNEE, "headquarters", V_STR },
	{ "consignee_ultimate_parent", S_CONSIGNEE, "ultimate_parent", V_STR },
	{ "end_user_id", S_END_USER, "id", V_STR },
	{ "end_user_name", S_END_USER, "name", V_STR },
	{ "end_user_country", S_END_USER, "country", V_STR },
	{ "end_user_headquarters", S_END_USER, "headquarters", V_STR },
	{ "end_user_ultimate_parent", S_END_USER, "ultimate_parent", V_STR },
	{ "kind", S_ITEM, "kind", V_STR },
	{ "product", S_ITEM, "product", V_STR },
	{ "quantity", S_ITEM, "quantity", V_COUNT },
	{ "tpp", S_ITEM, "tpp", V_NUM },
	{ "die_area_mm2", S_ITEM, "die_area_mm2", V_NUM },
	{ "performance_density", S_ITEM, "performance_density", V_NUM },
	{ "datacenter", S_ITEM, "datacenter", V_BOOL },
	{ "chips_per_unit", S_ITEM, "chips_per_unit", V_COUNT },
	{ "training_operations", S_ITEM, "training_operations", V_NUM },
	{ "published", S_ITEM, "published", V_BOOL },
	{ "purpose", S_ITEM, "purpose", V_STR },
	{ "location", S_ITEM, "location", V_STR },
	{ "license", S_ITEM, "license", V_STR },
	{ "description", S_ITEM, "description", V_STR },
};

#define NCOLS NELEM(columns)
#define COL_REFERENCE 0

/* Index of a column known to exist in the table. */
static size_t
col_find(const char *name)
{
	size_t c;

	for (c = 0; c < NCOLS; c++)
		if (strcmp(columns[c].name, name) == 0)
			break;
	return c;
}

/* ---- the reader ------------------------------------------------------- */

struct csv_reader {
	struct csv_parser p;
	csv_txn_fn txn_fn;
	void *ctx;

	/* The first bytes, held until the byte order mark is settled. */
	unsigned char pre[3];
	size_t npre;
	bool pre_done;
	bool bom;
	bool crlf;

	uint64_t line;			/* being parsed, 1-based */
	size_t col;			/* bytes of it already parsed */
	uint64_t row_line;		/* where the row being read began */
	bool skipping;			/* to the next LF, after a bad row */
	int stop;			/* non-zero: the reader is done */

	/* The row being read: its fields, back to back, NUL-terminated. */
	struct tg_buf rowbuf;
	size_t *off, *flen;
	size_t nf, falloc;
	bool row_too_big;
	bool too_many_fields;
	bool header_too_big;

	struct csv_row *header;		/* NULL until read */
	int colidx[NCOLS];		/* header column, or -1 */
	const char *herr_col;		/* a header problem makes every */
	char *herr;			/* row bad: "column C: herr" */
	uint64_t rows;			/* data rows delivered */

	struct csv_txn *open;		/* the transaction being read */
	char *overflow_ref;		/* one past TG_ITEMS_MAX rows */

	/* References seen: 64-bit fingerprints and their first rows. */
	uint64_t *fp;
	uint32_t *fprow;
	size_t fpcap, fpn;
};

/* ---- small helpers ---------------------------------------------------- */

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The value of a field without surrounding spaces and tabs. */
static const char *
trim(const char *s, size_t len, size_t *out)
{
	while (len > 0 && is_blank(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_blank(s[len - 1]))
		len--;
	*out = len;
	return s;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
/*
 * A value quoted in a message: at most SHOW_MAX bytes, control characters
 * and ill-formed UTF-8 as '?', "..." for a cut.  Messages end up in JSON
 * Lines and terminals, so they stay valid UTF-8 and on one line.
 */
static void
show(char *dst, size_t size, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, l;

	while (i < n) {
		l = utf8_seq_len(u + i, n - i);
		if (o + (l == 0 ? 1 : l) > SHOW_MAX ||
		    o + (l == 0 ? 1 : l) >= size)
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

/* A formatted message as a new string, or NULL. */
static char *
dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
dup_printf(const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return strdup(msg);
}

static bool
same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* ---- rows ------------------------------------------------------------- */

void
csv_row_free(struct csv_row *row)
{
	if (row == NULL)
		return;
	free(row->error);
	free(row->result);
	free(row);
}

/* Sets row's error to "row N[, column C]: msg" (the first one wins).
 * Returns 0 or -ENOMEM. */
static int
row_error(struct csv_row *row, const char *column, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
row_error(struct csv_row *row, const char *column, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	size_t size;
	int n;

	if (row->error != NULL)
		return 0;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	size = sizeof(msg) + 64 + (column != NULL ? strlen(column) : 0);
	row->error = malloc(size);
	if (row->error == NULL)
		return -ENOMEM;
	if (column != NULL)
		n = snprintf(row->error, size, "row %llu, column %s: %s",
		    (unsigned long long)row->row, column, msg);
	else
		n = snprintf(row->error, size, "row %llu: %s",
		    (unsigned long long)row->row, msg);
	if (n < 0)
		row->error[0] = '\0';
	row->error_column = column;
	row->error_msg = n >= 0 && (size_t)n < size && (size_t)n >= strlen(msg) ?
	    (size_t)n - strlen(msg) : 0;
	row->error_end = strlen(row->error);
	return 0;
}

/*
 * Builds a row of width ncols from the fields read (r->nf of them, in
 * r->rowbuf), padded with empty fields; the whole row is one allocation.
 * With keep false the fields are left out (all empty).
 */
static struct csv_row *
row_make(struct csv_reader *r, uint64_t num, size_t ncols, bool keep)
{
	struct csv_row *row;
	size_t i, n, data, head;
	char *p;

	n = keep ? (r->nf < ncols ? r->nf : ncols) : 0;
	data = 1;			/* the padding fields' NUL */
	for (i = 0; i < n; i++)
		data += r->flen[i] + 1;
	head = sizeof(*row) + ncols * (sizeof(char *) + sizeof(size_t));
	row = malloc(head + data);
	if (row == NULL)
		return NULL;
	memset(row, 0, sizeof(*row));
	row->row = num;
	row->line = r->row_line;
	row->nfields = ncols;
	row->field = (char **)(row + 1);
	row->len = (size_t *)(row->field + ncols);
	p = (char *)(row->len + ncols);
	for (i = 0; i < n; i++) {
		memcpy(p, r->rowbuf.p + r->off[i], r->flen[i]);
		p[r->flen[i]] = '\0';
		row->field[i] = p;
		row->len[i] = r->flen[i];
		p += r->flen[i] + 1;
	}
	*p = '\0';
	for (; i < ncols; i++) {
		row->field[i] = p;
		row->len[i] = 0;
	}
	return row;
}

static size_t
row_bytes(const struct csv_row *row)
{
	size_t i, n = sizeof(*row);

	for (i = 0; i < row->nfields; i++)
		n += row->len[i] + 1 + sizeof(char *) + sizeof(size_t);
	return n;
}

/* Column c's value in row (trimmed), or "" when the header lacks it. */
static const char *
value(const struct csv_reader *r, const struct csv_row *row, size_t c,
    size_t *len)
{
	int i = r->colidx[c];

	if (i < 0 || (size_t)i >= row->nfields) {
		*len = 0;
		return "";
	}
	return trim(row->field[i], row->len[i], len);
}

/* ---- transactions ----------------------------------------------------- */

void
csv_txn_free(struct csv_txn *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows; i++)
		csv_row_free(t->rows[i]);
	free(t->rows);
	free(t);
}

static struct csv_txn *
txn_new(void)
{
	return calloc(1, sizeof(struct csv_txn));
}

/* Appends row to t (t owns it from here, even on failure). */
static int
txn_add(struct csv_txn *t, struct csv_row *row)
{
	struct csv_row **v;
	size_t cap;

	if (t->nrows == t->alloc) {
		cap = t->alloc == 0 ? 4 : t->alloc * 2;
		v = reallocarray(t->rows, cap, sizeof(*v));
		if (v == NULL) {
			csv_row_free(row);
			return -ENOMEM;
		}
		t->rows = v;
		t->alloc = cap;
	}
	t->rows[t->nrows++] = row;
	t->bytes += row_bytes(row);
	if (row->error != NULL)
		t->bad = true;
	return 0;
}

/* The first row with an error. */
static const struct csv_row *
first_bad(const struct csv_txn *t)
{
	size_t i;

	for (i = 0; i < t->nrows; i++)
		if (t->rows[i]->error != NULL)
			return t->rows[i];
	return NULL;
}

/* Every row without an error gets one naming the first bad row. */
static int
fill_others(struct csv_txn *t)
{
	const struct csv_row *bad;
	size_t i;
	int rc;

	bad = first_bad(t);
	if (bad == NULL)
		return 0;
	t->bad = true;
	for (i = 0; i < t->nrows; i++) {
		if (t->rows[i]->error != NULL)
			continue;
		rc = row_error(t->rows[i], NULL, "not decided: row %llu of "
		    "the same transaction is bad",
		    (unsigned long long)bad->row);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
csv_txn_fail_all(struct csv_txn *t, const char *fmt, ...)
{
	char msg[MSG_MAX];
	va_list ap;
	size_t i;
	int rc;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	t->bad = true;
	for (i = 0; i < t->nrows; i++) {
		rc = row_error(t->rows[i], NULL, "%s", msg);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* ---- the references seen ------------------------------------------------ */

/* FNV-1a, then the splitmix64 finalizer to spread the bits. */
static uint64_t
fingerprint(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h == 0 ? 1 : h;		/* 0 marks an empty slot */
}

/*
 * The slot of fingerprint h in a table of cap slots (any cap below 2^32):
 * the high half of h scaled to cap, which needs no power of two, so the
 * table can grow by half rather than double.  Memory is what bounds a
 * file's distinct references.
 */
static size_t
fp_slot(uint64_t h, size_t cap)
{
	return (size_t)(((h >> 32) * (uint64_t)cap) >> 32);
}

static int
fp_grow(struct csv_reader *r)
{
	uint64_t *fp;
	uint32_t *rows;
	size_t cap, i, j;

	cap = r->fpcap == 0 ? 1024 : r->fpcap + r->fpcap / 2;
	if (cap >= UINT32_MAX)
		return -ENOMEM;
	fp = calloc(cap, sizeof(*fp));
	rows = calloc(cap, sizeof(*rows));
	if (fp == NULL || rows == NULL) {
		free(fp);
		free(rows);
		return -ENOMEM;
	}
	for (i = 0; i < r->fpcap; i++) {
		if (r->fp[i] == 0)
			continue;
		for (j = fp_slot(r->fp[i], cap); fp[j] != 0;
		    j = j + 1 == cap ? 0 : j + 1)
			;
		fp[j] = r->fp[i];
		rows[j] = r->fprow[i];
	}
	free(r->fp);
	free(r->fprow);
	r->fp = fp;
	r->fprow = rows;
	r->fpcap = cap;
	return 0;
}

/*
 * Looks reference s up; if absent, remembers it with row num.  *earlier
 * gets the row it was first seen on (0: new).  Two distinct references
 * share a fingerprint with a probability of about n^2 / 2^65 (3e-8 for a
 * million); the worst that does is refuse a row, never decide one twice.
 * Rows past 2^32 are remembered as UINT32_MAX.  Linear probing, at most
 * 80 % full: 15 bytes per reference on average.
 */
static int
fp_check(struct csv_reader *r, const char *s, size_t len, uint64_t num,
    uint64_t *earlier)
{
	uint64_t h;
	size_t j;
	int rc;

	*earlier = 0;
	if (r->fpn + 1 > r->fpcap / 5 * 4) {
		rc = fp_grow(r);
		if (rc != 0)
			return rc;
	}
	h = fingerprint(s, len);
	for (j = fp_slot(h, r->fpcap); r->fp[j] != 0;
	    j = j + 1 == r->fpcap ? 0 : j + 1) {
		if (r->fp[j] == h) {
			*earlier = r->fprow[j];
			return 0;
		}
	}
	r->fp[j] = h;
	r->fprow[j] = num > UINT32_MAX ? UINT32_MAX : (uint32_t)num;
	r->fpn++;
	return 0;
}

/* ---- handing transactions over ---------------------------------------- */

static int
emit(struct csv_reader *r, struct csv_txn *t)
{
	int rc;

	if (t->bad) {
		rc = fill_others(t);
		if (rc != 0) {
			csv_txn_free(t);
			return rc;
		}
	}
	return r->txn_fn(r->ctx, t);
}

static int
close_open(struct csv_reader *r)
{
	struct csv_txn *t = r->open;

	r->open = NULL;
	return t != NULL ? emit(r, t) : 0;
}

/* A transaction of one row. */
static int
emit_row(struct csv_reader *r, struct csv_row *row)
{
	struct csv_txn *t;
	int rc;

	t = txn_new();
	if (t == NULL) {
		csv_row_free(row);
		return -ENOMEM;
	}
	rc = txn_add(t, row);
	if (rc != 0) {
		csv_txn_free(t);
		return rc;
	}
	t->empty = row->empty;
	return emit(r, t);
}

/*
 * A transaction's date, destination and party columns come from its first
 * row; a later row may leave them empty or repeat them, but not say
 * something else.
 */
static int
check_conflicts(struct csv_reader *r, const struct csv_row *first,
    struct csv_row *row)
{
	char v[SHOW_MAX + 4], v0[SHOW_MAX + 4], ref[SHOW_MAX + 4];
	const char *a, *b, *rs;
	size_t c, alen, blen, rlen;

	for (c = 0; c < NCOLS; c++) {
		if (columns[c].scope == S_ITEM || c == COL_REFERENCE)
			continue;
		a = value(r, row, c, &alen);
		b = value(r, first, c, &blen);
		if (alen == 0 || same(a, alen, b, blen))
			continue;
		show(v, sizeof(v), a, alen);
		show(v0, sizeof(v0), b, blen);
		rs = value(r, first, COL_REFERENCE, &rlen);
		show(ref, sizeof(ref), rs, rlen);
		return row_error(row, columns[c].name, "'%s' here, but '%s' "
		    "on row %llu, where transaction '%s' begins (its date, "
		    "destination and parties come from that row)", v, v0,
		    (unsigned long long)first->row, ref);
	}
	return 0;
}

/* One data row, into the transaction it belongs to. */
static int
route_row(struct csv_reader *r, struct csv_row *row)
{
	char shown[SHOW_MAX + 4];
	const char *ref, *oref;
	size_t len, olen;
	uint64_t earlier;
	int rc;

	ref = value(r, row, COL_REFERENCE, &len);
	if (row->empty || len == 0) {
		rc = close_open(r);
		if (rc != 0) {
			csv_row_free(row);
			return rc;
		}
		return emit_row(r, row);
	}
	show(shown, sizeof(shown), ref, len);
	if (r->overflow_ref != NULL && same(ref, len, r->overflow_ref,
	    strlen(r->overflow_ref))) {
		rc = row_error(row, "reference", "transaction '%s' has more "
		    "than %d rows or %zu MiB; a query has at most %d line "
		    "items", shown, TG_ITEMS_MAX, CSVR_TXN_MAX >> 20,
		    TG_ITEMS_MAX);
		if (rc != 0) {
			csv_row_free(row);
			return rc;
		}
		return emit_row(r, row);
	}
	if (r->open != NULL) {
		oref = value(r, r->open->rows[0], COL_REFERENCE, &olen);
		if (same(ref, len, oref, olen)) {
			if (r->open->nrows < TG_ITEMS_MAX &&
			    r->open->bytes + row_bytes(row) <= CSVR_TXN_MAX) {
				rc = check_conflicts(r, r->open->rows[0], row);
				if (rc != 0) {
					csv_row_free(row);
					return rc;
				}
				return txn_add(r->open, row);
			}
			/* Too big to decide: the whole transaction is bad,
			 * and so is every later row of it, each on its own
			 * (gathering them would take unbounded memory). */
			free(r->overflow_ref);
			r->overflow_ref = strndup(ref, len);
			if (r->overflow_ref == NULL) {
				csv_row_free(row);
				return -ENOMEM;
			}
			rc = row_error(r->open->rows[0], "reference",
			    "transaction '%s' has more than %d rows or %zu "
			    "MiB; a query has at most %d line items", shown,
			    TG_ITEMS_MAX, CSVR_TXN_MAX >> 20, TG_ITEMS_MAX);
			if (rc == 0)
				r->open->bad = true;
			if (rc == 0)
				rc = close_open(r);
			if (rc != 0) {
				csv_row_free(row);
				return rc;
			}
			return route_row(r, row);
		}
	}
	rc = close_open(r);
	if (rc == 0) {
		free(r->overflow_ref);
		r->overflow_ref = NULL;
		rc = fp_check(r, ref, len, row->row, &earlier);
	}
	if (rc == 0 && earlier != 0)
		rc = row_error(row, "reference", "reference '%s' was seen "
		    "earlier, at row %llu: the rows of a transaction must be "
		    "consecutive", shown, (unsigned long long)earlier);
	if (rc == 0) {
		r->open = txn_new();
		if (r->open == NULL)
			rc = -ENOMEM;
	}
	if (rc != 0) {
		csv_row_free(row);
		return rc;
	}
	return txn_add(r->open, row);
}

/*
 * A row that was not read whole (malformed, or too long): its error is
 * set and its fields are those read before the trouble.  If its reference
 * was among them, it goes where that reference says; if not, it might
 * belong to the transaction being read, which is then not decided either:
 * a shipment is never decided without one of its lines.
 */
static int
route_broken(struct csv_reader *r, struct csv_row *row)
{
	int i = r->colidx[COL_REFERENCE];
	int rc;

	if (i < 0 || (size_t)i < r->nf)
		return route_row(r, row);
	if (r->open != NULL) {
		rc = row_error(r->open->rows[0], NULL, "not decided: row %llu, "
		    "which may belong to the same transaction, is bad",
		    (unsigned long long)row->row);
		if (rc != 0) {
			csv_row_free(row);
			return rc;
		}
		r->open->bad = true;
	}
	rc = close_open(r);
	if (rc != 0) {
		csv_row_free(row);
		return rc;
	}
	return emit_row(r, row);
}

/* ---- libcsv callbacks ------------------------------------------------- */

static void
row_reset(struct csv_reader *r)
{
	buf_reset(&r->rowbuf);
	r->nf = 0;
	r->row_too_big = false;
	r->too_many_fields = false;
}

static void
on_field(void *s, size_t len, void *data)
{
	struct csv_reader *r = data;
	size_t *off, *flen, cap;

	if (r->stop != 0 || r->row_too_big)
		return;
	if (r->nf == CSVR_COLUMNS_MAX) {
		r->too_many_fields = true;
		return;
	}
	if (r->nf == r->falloc) {
		cap = r->falloc == 0 ? 64 : r->falloc * 2;
		off = reallocarray(r->off, cap, sizeof(*off));
		if (off != NULL)
			r->off = off;
		flen = reallocarray(r->flen, cap, sizeof(*flen));
		if (flen != NULL)
			r->flen = flen;
		if (off == NULL || flen == NULL) {
			r->stop = -ENOMEM;
			return;
		}
		r->falloc = cap;
	}
	/* The row began where its first field did: this line, less the
	 * line feeds the field itself held (a quoted field may span lines;
	 * the reader counts lines by their LF, as this does). */
	if (r->nf == 0) {
		const char *f = s;

		r->row_line = r->line;
		for (size_t i = 0; i < len && r->row_line > 1; i++)
			if (f[i] == '\n')
				r->row_line--;
	}
	r->off[r->nf] = r->rowbuf.len;
	r->flen[r->nf] = len;
	/* CSV_APPEND_NULL: s[len] is a NUL, kept as the separator. */
	if (buf_add(&r->rowbuf, s, len + 1) != 0) {
		r->row_too_big = true;
		return;
	}
	r->nf++;
}

static int
take_header(struct csv_reader *r, int c)
{
	char shown[SHOW_MAX + 4];
	const char *name, *hint;
	size_t i, c2, len;

	/* Reported by feed_body, which knows the line. */
	if (r->row_too_big || r->too_many_fields) {
		r->header_too_big = true;
		return TG_ESYNTAX;
	}
	r->header = row_make(r, 1, r->nf, true);
	if (r->header == NULL)
		return -ENOMEM;
	r->crlf = c == '\r';
	for (i = 0; i < r->nf; i++) {
		name = trim(r->header->field[i], r->header->len[i], &len);
		for (c2 = 0; c2 < NCOLS; c2++)
			if (same(name, len, columns[c2].name,
			    strlen(columns[c2].name)))
				break;
		if (c2 == NCOLS)
			continue;
		if (r->colidx[c2] >= 0) {
			if (r->herr == NULL) {
				r->herr_col = columns[c2].name;
				r->herr = dup_printf("appears twice in the "
				    "header (columns %d and %zu)",
				    r->colidx[c2] + 1, i + 1);
				if (r->herr == NULL)
					return -ENOMEM;
			}
			continue;
		}
		r->colidx[c2] = (int)i;
	}
	if (r->herr != NULL)
		return 0;
	/* What the JSON decoder requires, by column. */
	name = NULL;
	for (c2 = 0; c2 < NCOLS; c2++) {
		if (strcmp(columns[c2].name, "destination") == 0 ||
		    strcmp(columns[c2].name, "kind") == 0) {
			if (r->colidx[c2] < 0) {
				name = columns[c2].name;
				break;
			}
		}
	}
	if (name == NULL && r->colidx[col_find("consignee_id")] < 0 &&
	    r->colidx[col_find("consignee_name")] < 0)
		name = "consignee_name";
	if (name == NULL)
		return 0;
	/* Header names are matched exactly; say so when only the case or
	 * the spelling of spaces differs. */
	hint = NULL;
	for (i = 0; i < r->nf && hint == NULL; i++) {
		const char *h = trim(r->header->field[i], r->header->len[i],
		    &len);

		if (len == strlen(name) && strncasecmp(h, name, len) == 0) {
			show(shown, sizeof(shown), h, len);
			hint = shown;
		}
	}
	r->herr_col = name;
	if (strcmp(name, "consignee_name") == 0)
		r->herr = dup_printf("the header has neither 'consignee_id' "
		    "nor 'consignee_name'");
	else if (hint != NULL)
		r->herr = dup_printf("the header has no column '%s' (names "
		    "are matched exactly: '%s' is not it)", name, hint);
	else
		r->herr = dup_printf("the header has no column '%s'", name);
	return r->herr != NULL ? 0 : -ENOMEM;
}

/* Whether every field read is empty or blank. */
static bool
row_is_empty(const struct csv_reader *r)
{
	size_t i, len;

	for (i = 0; i < r->nf; i++) {
		(void)trim(r->rowbuf.p + r->off[i], r->flen[i], &len);
		if (len > 0)
			return false;
	}
	return true;
}

static int
take_row(struct csv_reader *r)
{
	struct csv_row *row;
	size_t ncols = r->header->nfields;
	uint64_t num;
	int rc = 0;

	r->rows++;
	num = r->rows + 1;
	row = row_make(r, num, ncols, true);
	if (row == NULL)
		return -ENOMEM;
	if (r->row_too_big) {
		rc = row_error(row, NULL, "the row is longer than %zu MiB",
		    CSVR_ROW_MAX >> 20);
		if (rc != 0) {
			csv_row_free(row);
			return rc;
		}
		return route_broken(r, row);
	}
	if (row_is_empty(r))
		row->empty = true;
	else if (r->too_many_fields)
		rc = row_error(row, NULL, "more than %d fields; the header "
		    "has %zu", CSVR_COLUMNS_MAX, ncols);
	else if (r->nf != ncols)
		rc = row_error(row, NULL, "%zu field%s, but the header has "
		    "%zu", r->nf, r->nf == 1 ? "" : "s", ncols);
	if (rc == 0 && !row->empty && r->herr != NULL)
		rc = row_error(row, r->herr_col, "%s", r->herr);
	if (rc != 0) {
		csv_row_free(row);
		return rc;
	}
	return route_row(r, row);
}

static void
on_row(int c, void *data)
{
	struct csv_reader *r = data;
	int rc;

	if (r->stop != 0)
		return;
	if (r->header == NULL)
		rc = take_header(r, c);
	else
		rc = take_row(r);
	row_reset(r);
	if (rc != 0)
		r->stop = rc;
}

/* ---- feeding ------------------------------------------------------------ */

/* libcsv grows a field by CSVR_BLOCK at a time through this; refusing
 * past the cap is what bounds a field (an unclosed quote would otherwise
 * swallow the whole file into one). */
static void *
capped_realloc(void *p, size_t size)
{
	if (size > CSVR_FIELD_MAX + 1)
		return NULL;
	return realloc(p, size);
}

/* Always "no": spaces are data (RFC 4180), not something to trim. */
static int
no_space(unsigned char c)
{
	(void)c;
	return 0;
}

static int
parser_init(struct csv_reader *r)
{
	if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI |
	    CSV_APPEND_NULL) != 0)
		return -ENOMEM;
	csv_set_realloc_func(&r->p, capped_realloc);
	csv_set_space_func(&r->p, no_space);
	csv_set_blk_size(&r->p, CSVR_BLOCK);
	return 0;
}

struct csv_reader *
csv_reader_new(csv_txn_fn txn, void *ctx)
{
	struct csv_reader *r;
	size_t i;

	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	if (parser_init(r) != 0) {
		free(r);
		return NULL;
	}
	r->txn_fn = txn;
	r->ctx = ctx;
	r->line = 1;
	buf_init(&r->rowbuf, CSVR_ROW_MAX);
	for (i = 0; i < NCOLS; i++)
		r->colidx[i] = -1;
	return r;
}

void
csv_reader_free(struct csv_reader *r)
{
	if (r == NULL)
		return;
	csv_free(&r->p);
	buf_release(&r->rowbuf);
	free(r->off);
	free(r->flen);
	csv_row_free(r->header);
	free(r->herr);
	csv_txn_free(r->open);
	free(r->overflow_ref);
	free(r->fp);
	free(r->fprow);
	free(r);
}

/*
 * The row being read cannot be parsed (why).  Before the header that is
 * the end; after it, the row is delivered bad, with the fields read
 * before the mistake.
 */
static int
malformed(struct csv_reader *r, const char *why, bool eof,
    struct tg_error *err)
{
	struct csv_row *row;
	int rc;

	if (r->header == NULL)
		return tg_error_pos(err, TG_ESYNTAX, "", (int)r->line,
		    (int)r->col + 1, "malformed CSV header: %s", why);
	r->rows++;
	row = row_make(r, r->rows + 1, r->header->nfields, true);
	if (row == NULL)
		return -ENOMEM;
	row->line = r->line;	/* where it could not be read */
	if (eof)
		rc = row_error(row, NULL, "malformed CSV: %s", why);
	else
		rc = row_error(row, NULL, "malformed CSV at line %llu, byte "
		    "%zu: %s; the rest of the line was skipped",
		    (unsigned long long)r->line, r->col + 1, why);
	if (rc != 0) {
		csv_row_free(row);
		return rc;
	}
	return route_broken(r, row);
}

/* Why libcsv stopped at byte c. */
static const char *
parse_error(struct csv_reader *r, unsigned char c)
{
	if (csv_error(&r->p) == CSV_EPARSE)
		return c == '"' ? "a quote inside an unquoted field (quote "
		    "the whole field and double the quote)" : "text after a "
		    "closing quote";
	if (csv_get_buffer_size(&r->p) >= CSVR_FIELD_MAX)
		return "a field longer than 64 KiB (is a closing quote "
		    "missing?)";
	return NULL;
}

static int
restart(struct csv_reader *r)
{
	csv_free(&r->p);
	row_reset(r);
	return parser_init(r);
}

/* What the reader returns once a callback stopped it. */
static int
stopped(struct csv_reader *r, struct tg_error *err)
{
	if (r->header_too_big)
		return tg_error_pos(err, TG_ESYNTAX, "", (int)r->line, 1,
		    "the header row has more than %d fields or %zu MiB",
		    CSVR_COLUMNS_MAX, CSVR_ROW_MAX >> 20);
	return r->stop;
}

static int
feed_body(struct csv_reader *r, const unsigned char *p, size_t n,
    struct tg_error *err)
{
	const unsigned char *lf;
	const char *why;
	size_t seg, used;
	int rc;

	while (n > 0) {
		lf = memchr(p, '\n', n);
		if (r->skipping) {
			if (lf == NULL) {
				r->col += n;
				return 0;
			}
			seg = (size_t)(lf - p) + 1;
			p += seg;
			n -= seg;
			r->line++;
			r->col = 0;
			r->skipping = false;
			continue;
		}
		seg = lf != NULL ? (size_t)(lf - p) + 1 : n;
		used = csv_parse(&r->p, p, seg, on_field, on_row, r);
		if (r->stop != 0)
			return stopped(r, err);
		if (used < seg) {
			r->col += used;
			why = parse_error(r, p[used]);
			if (why == NULL)
				return -ENOMEM;
			rc = malformed(r, why, false, err);
			if (rc == 0)
				rc = restart(r);
			if (rc != 0) {
				r->stop = rc;
				return rc;
			}
			r->skipping = true;
			p += used;
			n -= used;
			continue;
		}
		p += seg;
		n -= seg;
		if (lf != NULL) {
			r->line++;
			r->col = 0;
		} else
			r->col += seg;
	}
	return 0;
}

/* The first three bytes: a UTF-8 byte order mark is dropped (Excel
 * writes one), UTF-16 is refused with a message that says what to do. */
static int
pre_flush(struct csv_reader *r, struct tg_error *err)
{
	const unsigned char *p = r->pre;
	size_t n = r->npre;

	r->pre_done = true;
	if (n >= 2 && ((p[0] == 0xff && p[1] == 0xfe) ||
	    (p[0] == 0xfe && p[1] == 0xff))) {
		r->stop = tg_error_pos(err, TG_ESYNTAX, "", 1, 1, "the file "
		    "is UTF-16; save it as CSV UTF-8");
		return r->stop;
	}
	if (n == 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
		r->bom = true;
		return 0;
	}
	return feed_body(r, p, n, err);
}

int
csv_reader_feed(struct csv_reader *r, const void *buf, size_t len,
    struct tg_error *err)
{
	const unsigned char *p = buf;
	int rc;

	if (r->stop != 0)
		return r->stop;
	if (!r->pre_done) {
		while (len > 0 && r->npre < sizeof(r->pre)) {
			r->pre[r->npre++] = *p++;
			len--;
		}
		if (r->npre < sizeof(r->pre))
			return 0;
		rc = pre_flush(r, err);
		if (rc != 0)
			return rc;
	}
	return feed_body(r, p, len, err);
}

int
csv_reader_finish(struct csv_reader *r, struct tg_error *err)
{
	int rc;

	if (r->stop != 0)
		return r->stop;
	if (!r->pre_done) {
		rc = pre_flush(r, err);
		if (rc != 0)
			return rc;
	}
	if (!r->skipping && csv_fini(&r->p, on_field, on_row, r) != 0) {
		rc = malformed(r, "a quoted field is not closed at the end "
		    "of the file", true, err);
		if (rc != 0) {
			r->stop = rc;
			return rc;
		}
	}
	if (r->stop != 0)
		return stopped(r, err);
	if (r->header == NULL)
		return tg_error_pos(err, TG_ESYNTAX, "", (int)r->line, 1,
		    "no header row (the file is empty)");
	rc = close_open(r);
	if (rc != 0)
		r->stop = rc;
	return rc;
}

size_t
csv_reader_ncolumns(const struct csv_reader *r)
{
	return r->header != NULL ? r->header->nfields : 0;
}

size_t
csv_reader_field_of(const struct csv_reader *r, const char *column)
{
	size_t c;

	if (column == NULL || r->header == NULL)
		return 0;
	for (c = 0; c < NCOLS; c++)
		if (strcmp(columns[c].name, column) == 0)
			return r->colidx[c] >= 0 ? (size_t)r->colidx[c] + 1 : 0;
	return 0;
}

const char *
csv_reader_column(const struct csv_reader *r, size_t i, size_t *len)
{
	*len = r->header->len[i];
	return r->header->field[i];
}

bool
csv_reader_crlf(const struct csv_reader *r)
{
	return r->crlf;
}

bool
csv_reader_bom(const struct csv_reader *r)
{
	return r->bom;
}

uint64_t
csv_reader_rows(const struct csv_reader *r)
{
	return r->rows;
}

const char *
csv_reader_header_error(const struct csv_reader *r, const char **column)
{
	*column = r->herr_col;
	return r->herr;
}

/* ---- rows into a query -------------------------------------------------- */

static bool
ieq(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && strncasecmp(s, word, len) == 0;
}

/*
 * The JSON value of a cell.  Numbers and booleans are converted when they
 * look like one; anything else goes to the decoder as a string, which
 * then says what the field must be ("'quantity' must be an integer from
 * 1 to ..."), exactly as for a JSON query.  NULL with *why set when the
 * cell cannot be a JSON value at all.
 */
static json_t *
cell_json(const struct column *col, const char *s, size_t len,
    const char **why)
{
	long long ll;
	double d;
	int rc;

	*why = NULL;
	switch (col->type) {
	case V_STR:
		break;
	case V_COUNT:
		rc = parse_llong(s, &ll);
		if (rc == 0)
			return json_integer((json_int_t)ll);
		/* 1e3 and 1000.0 are integers too; the decoder checks. */
		/* FALLTHROUGH */
	case V_NUM:
		rc = parse_double(s, &d);
		if (rc == 0)
			return json_real(d == 0 ? 0 : d);
		if (rc == -ERANGE) {
			*why = "the number is out of range";
			return NULL;
		}
		break;
	case V_BOOL:
		/* What spreadsheets and ERP exports write. */
		if (ieq(s, len, "true") || ieq(s, len, "yes") ||
		    ieq(s, len, "1"))
			return json_true();
		if (ieq(s, len, "false") || ieq(s, len, "no") ||
		    ieq(s, len, "0"))
			return json_false();
		break;
	}
	if (memchr(s, '\0', len) != NULL) {
		*why = "the value contains a NUL byte";
		return NULL;
	}
	if (!utf8_valid(s, len)) {
		*why = "the value is not valid UTF-8";
		return NULL;
	}
	return json_stringn(s, len);
}

/* The item, consignee or end user object a column's value goes into. */
static json_t *
target(json_t *root, json_t *item, json_t **party, enum scope s)
{
	switch (s) {
	case S_TXN:
		return root;
	case S_CONSIGNEE:
		return party[0];
	case S_END_USER:
		return party[1];
	case S_ITEM:
		return item;
	}
	return NULL;
}

/*
 * Sets the members of row's columns of the given scopes in root / item /
 * party (empty cells are absent members).  A cell that cannot be a JSON
 * value gives the row its error.  Returns 0, or -ENOMEM.
 */
static int
put_cells(const struct csv_reader *r, struct csv_row *row, json_t *root,
    json_t *item, json_t **party, bool txn_scopes)
{
	const char *s, *why;
	json_t *obj, *v;
	size_t c, len;
	bool txn;

	for (c = 0; c < NCOLS; c++) {
		txn = columns[c].scope != S_ITEM;
		if (txn != txn_scopes)
			continue;
		s = value(r, row, c, &len);
		if (len == 0)
			continue;
		v = cell_json(&columns[c], s, len, &why);
		if (v == NULL) {
			if (why == NULL)
				return -ENOMEM;
			if (row_error(row, columns[c].name, "%s", why) != 0)
				return -ENOMEM;
			continue;
		}
		obj = target(root, item, party, columns[c].scope);
		if (json_object_set_new(obj, columns[c].json, v) != 0)
			return -ENOMEM;
	}
	return 0;
}

/* The column of a scope whose JSON member is name, or NCOLS. */
static size_t
column_of(enum scope s, const char *name, size_t len)
{
	size_t c;

	for (c = 0; c < NCOLS; c++)
		if (columns[c].scope == s && same(name, len, columns[c].json,
		    strlen(columns[c].json)))
			break;
	return c;
}

/* The column named by the pointer's member seg (up to '/' or the end). */
static size_t
column_at(enum scope s, const char *seg)
{
	const char *end = strchr(seg, '/');

	return column_of(s, seg, end != NULL ? (size_t)(end - seg) :
	    strlen(seg));
}

/*
 * Gives the row and column that an error's JSON pointer names the message:
 * /items/K/F is row K's column F, /consignee/F the first row's column
 * consignee_F, /F the first row's column F.  A pointer to an object
 * itself (/items/3, /consignee) names the row only.
 */
static int
map_error(const struct csv_reader *r, struct csv_txn *t,
    const struct tg_error *err)
{
	static const struct {
		const char *prefix;
		enum scope scope;
	} parties[] = {
		{ "/consignee", S_CONSIGNEE },
		{ "/end_user", S_END_USER },
	};
	char shown[SHOW_MAX + 4];
	struct csv_row *row = t->rows[0];
	const char *p = err->pointer, *col = NULL, *msg, *v;
	size_t i, k, plen, c = NCOLS, vlen;
	int rc;

	msg = err->msg[0] != '\0' ? err->msg : tg_strerror(err->code);
	if (strncmp(p, "/items/", 7) == 0) {
		k = 0;
		for (p += 7; *p >= '0' && *p <= '9'; p++)
			k = k < SIZE_MAX / 10 ? k * 10 + (size_t)(*p - '0') :
			    SIZE_MAX;
		if (k < t->nrows)
			row = t->rows[k];
		if (*p == '/')
			c = column_at(S_ITEM, p + 1);
	} else {
		for (i = 0; i < NELEM(parties); i++) {
			plen = strlen(parties[i].prefix);
			if (strncmp(p, parties[i].prefix, plen) != 0 ||
			    (p[plen] != '/' && p[plen] != '\0'))
				continue;
			if (p[plen] == '/')
				c = column_at(parties[i].scope, p + plen + 1);
			else
				col = parties[i].scope == S_CONSIGNEE ?
				    "consignee_name" : "end_user_name";
			break;
		}
		if (i == NELEM(parties) && p[0] == '/')
			c = column_at(S_TXN, p + 1);
	}
	if (c < NCOLS)
		col = columns[c].name;
	t->bad = true;
	/* The decoder's "'tpp' must be a number" does not quote the value;
	 * the cell is worth showing when it was not taken as a number. */
	v = NULL;
	vlen = 0;
	if (r != NULL && c < NCOLS && columns[c].type != V_STR)
		v = value(r, row, c, &vlen);
	if (v != NULL && vlen > 0) {
		show(shown, sizeof(shown), v, vlen);
		rc = row_error(row, col, "%s (the cell says '%s')", msg, shown);
		/* The cell is the file's content: the output shows it, the
		 * messages on stderr do not (tests/api/secrecy.sh). */
		if (rc == 0 && row->error != NULL &&
		    row->error_msg + strlen(msg) <= row->error_end)
			row->error_end = row->error_msg + strlen(msg);
	} else
		rc = row_error(row, col, "%s", msg);
	if (rc != 0)
		return -ENOMEM;
	return fill_others(t);
}

int
csv_txn_fail(struct csv_txn *t, const struct tg_error *err)
{
	return map_error(NULL, t, err);
}

int
csv_txn_query(const struct csv_reader *r, struct csv_txn *t, bool dry_run,
    struct tg_arena *arena, tg_date today, json_t **request,
    const struct tg_query **q)
{
	struct tg_error err;
	json_t *root, *items, *item, *party[2];
	size_t i;
	int rc;

	*request = NULL;
	*q = NULL;
	if (t->empty || t->nrows == 0)
		return TG_EINVAL;
	if (t->bad)
		return fill_others(t) != 0 ? -ENOMEM : TG_EINVAL;
	root = json_object();
	items = json_array();
	party[0] = json_object();
	party[1] = json_object();
	rc = -ENOMEM;
	if (root == NULL || items == NULL || party[0] == NULL ||
	    party[1] == NULL)
		goto out;
	if (put_cells(r, t->rows[0], root, NULL, party, true) != 0)
		goto out;
	for (i = 0; i < t->nrows; i++) {
		item = json_object();
		if (item == NULL || json_array_append_new(items, item) != 0)
			goto out;
		if (put_cells(r, t->rows[i], NULL, item, party, false) != 0)
			goto out;
	}
	/* A consignee is always sent (the decoder says what it lacks); an
	 * end user only when some end_user column says something. */
	if (json_object_set(root, "consignee", party[0]) != 0 ||
	    (json_object_size(party[1]) > 0 &&
	    json_object_set(root, "end_user", party[1]) != 0))
		goto out;
	/* _new takes the reference whether or not it succeeds. */
	rc = json_object_set_new(root, "items", items);
	items = NULL;
	if (rc != 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = -ENOMEM;
	if (dry_run && json_object_set_new(root, "dry_run", json_true()) != 0)
		goto out;
	if (first_bad(t) != NULL) {
		rc = fill_others(t) != 0 ? -ENOMEM : TG_EINVAL;
		goto out;
	}
	rc = api_query_from_json(root, arena, today, q, &err);
	if (rc == -ENOMEM)
		goto out;
	if (rc != 0) {
		/* Every other failure is about the rows' values. */
		rc = map_error(r, t, &err) != 0 ? -ENOMEM : TG_EINVAL;
		goto out;
	}
	*request = root;
	root = NULL;
out:
	json_decref(root);
	json_decref(items);
	json_decref(party[0]);
	json_decref(party[1]);
	return rc;
}

/* ---- output ------------------------------------------------------------- */

int
csv_field_write(struct tg_buf *b, const char *s, size_t len)
{
	const char *q;
	bool quote;
	int rc;

	quote = len > 0 && (is_blank(s[0]) || is_blank(s[len - 1]));
	for (q = s; !quote && q < s + len; q++)
		if (*q == ',' || *q == '"' || *q == '\r' || *q == '\n')
			quote = true;
	if (!quote)
		return len > 0 ? buf_add(b, s, len) : 0;
	rc = buf_add(b, "\"", 1);
	while (rc == 0 && len > 0) {
		q = memchr(s, '"', len);
		if (q == NULL) {
			rc = buf_add(b, s, len);
			break;
		}
		/* Up to and including the quote, then the quote again. */
		rc = buf_add(b, s, (size_t)(q - s) + 1);
		if (rc == 0)
			rc = buf_add(b, "\"", 1);
		len -= (size_t)(q - s) + 1;
		s = q + 1;
	}
	if (rc == 0)
		rc = buf_add(b, "\"", 1);
	return rc;
}
