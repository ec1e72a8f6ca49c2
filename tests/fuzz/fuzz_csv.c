/*
 * fuzz_csv.c: libFuzzer target for the batch CSV reader (daemon/api/
 * csv_row.c): bytes of a shipment file in, transactions and their queries
 * out, without deciding and without the audit log.
 *
 * Besides crashes and sanitizer reports, it abort()s when the reader
 * breaks a promise, so the fuzzer finds logic errors too:
 *  - every data row is delivered once, in order (rows 2, 3, ...), as wide
 *    as the header, inside one transaction;
 *  - a bad transaction has an error on every row, and every error begins
 *    "row N" with the row's own number and is valid UTF-8 on one line;
 *  - a good transaction becomes a query with one item per row, or is
 *    refused with TG_EINVAL and an error on every row;
 *  - the result does not depend on how the input is cut into chunks: the
 *    input is read whole and then in pieces of a size taken from its
 *    length, and both runs must deliver the same rows, fields and errors;
 *  - the fields written back out with csv_field_write() read back the
 *    same.
 * `make test` replays tests/fuzz/corpus/csv/ without libFuzzer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"

#include "../../daemon/api/csv_row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one run saw, to compare runs and to write back out. */
struct run {
	struct csv_reader *r;
	struct tg_buf trace;		/* rows, fields and errors */
	struct tg_buf out;		/* the rows, written back */
	struct tg_buf fields;		/* the fields written back */
	struct tg_arena *arena;
	tg_date today;
	uint64_t next;			/* the row number expected next */
	bool query;			/* build queries (first run only) */
	bool reread;			/* reading out back: drop x */
	bool header_out;
};

static void
check_text(const char *s)
{
	json_t *j;

	if (strchr(s, '\n') != NULL || strchr(s, '\r') != NULL)
		abort();
	j = json_string(s);
	if (j == NULL)
		abort();
	json_decref(j);
}

static void
check_error(const struct csv_row *row)
{
	char want[40];
	int n;

	n = snprintf(want, sizeof(want), "row %llu",
	    (unsigned long long)row->row);
	if (n < 0 || strncmp(row->error, want, (size_t)n) != 0 ||
	    (row->error[n] != ':' && row->error[n] != ','))
		abort();
	check_text(row->error);
}

static void
trace_fields(struct tg_buf *b, const struct csv_row *row, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf_add(b, row->field[i], row->len[i]) != 0 ||
		    buf_add(b, "\x1f", 1) != 0)
			abort();
	if (buf_add(b, "\n", 1) != 0)
		abort();
}

static void
trace_row(struct run *u, const struct csv_row *row)
{
	if (buf_printf(&u->trace, "%llu|", (unsigned long long)row->row) != 0)
		abort();
	trace_fields(&u->trace, row, row->nfields);
	if (buf_printf(&u->trace, "|%s\n", row->error != NULL ? row->error :
	    "") != 0)
		abort();
}

/* Writes the header (once, plus a last column, so that no output line is
 * blank) and row to u->out. */
static void
write_row(struct run *u, const struct csv_row *row)
{
	size_t i, n, len;
	const char *s;

	if (!u->header_out) {
		/* A blank first line: the reader looks for a byte order
		 * mark in the first bytes only, and a header field may
		 * begin with bytes that look like one. */
		if (buf_add(&u->out, "\n", 1) != 0)
			abort();
		n = csv_reader_ncolumns(u->r);
		for (i = 0; i < n; i++) {
			s = csv_reader_column(u->r, i, &len);
			if (csv_field_write(&u->out, s, len) != 0 ||
			    buf_add(&u->out, ",", 1) != 0)
				abort();
		}
		if (buf_add(&u->out, "x\n", 2) != 0)
			abort();
		u->header_out = true;
	}
	for (i = 0; i < row->nfields; i++)
		if (csv_field_write(&u->out, row->field[i], row->len[i]) != 0 ||
		    buf_add(&u->out, ",", 1) != 0)
			abort();
	if (buf_add(&u->out, "x\n", 2) != 0)
		abort();
}

static int
on_txn(void *ctx, struct csv_txn *t)
{
	struct run *u = ctx;
	const struct tg_query *q;
	json_t *req;
	size_t i;
	int rc;

	if (t->nrows == 0 || (t->empty && t->nrows != 1))
		abort();
	for (i = 0; i < t->nrows; i++) {
		const struct csv_row *row = t->rows[i];

		if (row->row != u->next++ ||
		    row->nfields != csv_reader_ncolumns(u->r))
			abort();
		if (t->bad && row->error == NULL)
			abort();
		if (row->error != NULL)
			check_error(row);
		trace_row(u, row);
		if (u->reread) {
			if (row->nfields == 0)
				abort();
			trace_fields(&u->fields, row, row->nfields - 1);
			continue;
		}
		/* A malformed row's fields are lost; the others are what
		 * the file said, so they must survive a round trip. */
		if (row->error == NULL || strstr(row->error,
		    "malformed CSV") == NULL) {
			write_row(u, row);
			trace_fields(&u->fields, row, row->nfields);
		}
	}
	if (u->query && !t->empty && !t->bad) {
		rc = csv_txn_query(u->r, t, false, u->arena, u->today, &req,
		    &q);
		if (rc == 0) {
			if (req == NULL || q == NULL || q->nitems != t->nrows)
				abort();
			json_decref(req);
		} else {
			if (rc != TG_EINVAL && rc != -ENOMEM)
				abort();
			if (req != NULL || q != NULL)
				abort();
			for (i = 0; rc == TG_EINVAL && i < t->nrows; i++) {
				if (t->rows[i]->error == NULL)
					abort();
				check_error(t->rows[i]);
			}
		}
		arena_clear(u->arena);
	}
	csv_txn_free(t);
	return 0;
}

/* Reads data in pieces of chunk bytes (0: whole); the result code. */
static int
read_all(struct run *u, const uint8_t *data, size_t size, size_t chunk,
    bool query, bool reread)
{
	struct tg_error err;
	size_t off, n;
	int rc = 0;

	memset(u, 0, sizeof(*u));
	buf_init(&u->trace, (size_t)64 << 20);
	buf_init(&u->out, (size_t)64 << 20);
	buf_init(&u->fields, (size_t)64 << 20);
	u->next = 2;
	u->query = query;
	u->reread = reread;
	if (date_parse("2025-06-02", 10, &u->today) != 0)
		abort();
	u->arena = arena_new(0);
	u->r = csv_reader_new(on_txn, u);
	if (u->arena == NULL || u->r == NULL)
		abort();
	for (off = 0; rc == 0 && off < size; off += n) {
		n = chunk == 0 || size - off < chunk ? size - off : chunk;
		rc = csv_reader_feed(u->r, data + off, n, &err);
	}
	if (rc == 0)
		rc = csv_reader_finish(u->r, &err);
	if (rc != 0 && rc != TG_ESYNTAX && rc != -ENOMEM)
		abort();
	if (rc == TG_ESYNTAX) {
		if (err.line < 1 || err.msg[0] == '\0')
			abort();
		check_text(err.msg);
	}
	if (buf_printf(&u->trace, "rc %d\n", rc) != 0)
		abort();
	return rc;
}

static void
release(struct run *u)
{
	csv_reader_free(u->r);
	arena_free(u->arena);
	buf_release(&u->trace);
	buf_release(&u->out);
	buf_release(&u->fields);
}

static bool
same_buf(const struct tg_buf *a, const struct tg_buf *b)
{
	return a->len == b->len && (a->len == 0 ||
	    memcmp(a->p, b->p, a->len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, cut, again;
	size_t chunk;
	int rc;

	rc = read_all(&whole, data, size, 0, true, false);
	chunk = 1 + size % 13;
	(void)read_all(&cut, data, size, chunk, false, false);
	if (!same_buf(&whole.trace, &cut.trace))
		abort();

	/* What was written reads back as the same fields.  (Row numbers and
	 * errors differ: malformed rows were left out.)  A header already
	 * at the column limit has no room for the extra column. */
	if (rc == 0 && whole.out.len > 0 &&
	    csv_reader_ncolumns(whole.r) < CSVR_COLUMNS_MAX) {
		rc = read_all(&again, (const uint8_t *)whole.out.p,
		    whole.out.len, 0, false, true);
		if (rc != 0 || !same_buf(&whole.fields, &again.fields))
			abort();
		release(&again);
	}
	release(&whole);
	release(&cut);
	return 0;
}
