/*
 * csv_row.h: private to daemon/api and its two users (`tiergate screen`
 * and the CSV fuzz target): the batch CSV reader of contract.md section 5.
 *
 * The reader takes the bytes of a CSV file in chunks of any size (RFC 4180
 * through libcsv: quoted fields, embedded commas, quotes and line breaks,
 * CRLF or LF, a UTF-8 byte order mark) and hands its caller one
 * transaction at a time: consecutive rows that share a non-empty
 * `reference`, or a single row.  Its memory does not depend on the file's
 * size, except for 12 bytes per distinct reference, remembered so that a
 * reference which comes back after other rows is refused rather than
 * decided twice.
 *
 * Rows are numbered as a spreadsheet numbers them: the header is row 1,
 * the first data row row 2.  Blank lines are not rows.  Every row, good or
 * bad, reaches the caller exactly once and in file order, so that the
 * output can have one row per input row.
 *
 * A transaction becomes a query (contract.md section 1) through the JSON
 * decoder that `check` and the daemon use (api_query_from_json), so every
 * rule and message is shared; an error's JSON pointer is turned back into
 * the row and the column it came from: "row 7, column quantity: ...".
 *
 * Nothing here is thread-safe; one reader per thread.
 */
#ifndef TIERGATE_CSV_ROW_H
#define TIERGATE_CSV_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tiergate/error.h"
#include "tiergate/query.h"
#include "tiergate/util.h"

#define CSVR_COLUMNS_MAX 1024			/* fields in a row */
#define CSVR_FIELD_MAX ((size_t)64 << 10)	/* bytes in a field */
#define CSVR_ROW_MAX ((size_t)1 << 20)		/* bytes in a row */
#define CSVR_TXN_MAX ((size_t)16 << 20)		/* in a transaction */

/*
 * One data row.  field[i] (len[i] bytes, NUL-terminated, possibly holding
 * NUL bytes of its own) is the value under header column i, exactly as
 * the file has it once unquoted; a short row is padded with empty fields
 * and a long one cut to the header's width (both are errors).  One
 * allocation; csv_row_free() releases it with error and result.
 */
struct csv_row {
	uint64_t row;			/* the header is row 1 */
	uint64_t line;			/* the file's line it starts on */
	size_t nfields;			/* the header's width */
	char **field;
	size_t *len;
	char *error;			/* "row N, column C: msg" or NULL */
	size_t error_msg;		/* where msg starts in error */
	size_t error_end;		/* where it ends but for the cell's
					 * own text, quoted after it (the
					 * part fit for stderr) */
	const char *error_column;	/* C (borrowed, static), or NULL */
	char *result;			/* the caller's; free()d here */
	bool empty;			/* all fields empty: not decided */
};

/*
 * A transaction: rows[0..nrows).  bad is set when some row has an error;
 * the other rows then get one that names it (csv_txn_query), and nothing
 * of the transaction may be decided.  Owned by whoever the reader handed
 * it to; csv_txn_free() releases it and its rows.
 */
struct csv_txn {
	struct csv_row **rows;
	size_t nrows;
	size_t alloc;
	size_t bytes;
	bool bad;
	bool empty;			/* one empty row: passed through */
};

struct csv_reader;

/*
 * The reader calls txn(ctx, t) for every complete transaction, in file
 * order; the callee owns t.  A non-zero return stops the reader, and
 * csv_reader_feed / csv_reader_finish return that value.
 */
typedef int (*csv_txn_fn)(void *ctx, struct csv_txn *t);

/* A new reader, or NULL when out of memory. */
struct csv_reader *csv_reader_new(csv_txn_fn txn, void *ctx);
void csv_reader_free(struct csv_reader *r);	/* NULL is a no-op */

/*
 * Reads len more bytes of the file.  Returns 0, the callback's non-zero
 * value, -ENOMEM, or TG_ESYNTAX when the file cannot be read as CSV at
 * all (a malformed header, UTF-16); err then says where (line, col).  A
 * malformed data row is not an error of the call: the row is reported bad
 * and reading resumes on the next line.
 */
int csv_reader_feed(struct csv_reader *r, const void *buf, size_t len,
    struct tg_error *err);
/* End of file: delivers the last row and transaction.  TG_ESYNTAX for a
 * file without a header row. */
int csv_reader_finish(struct csv_reader *r, struct tg_error *err);

/* The header, once read (ncolumns 0 before): column i's name as in the
 * file (len bytes). */
size_t csv_reader_ncolumns(const struct csv_reader *r);
const char *csv_reader_column(const struct csv_reader *r, size_t i,
    size_t *len);
/* The 1-based position in the header of a column an error names (a
 * row's error_column), or 0 when the header does not have it. */
size_t csv_reader_field_of(const struct csv_reader *r, const char *column);
/* Whether the header line ended in CRLF, and the file began with a BOM
 * (the output follows the input in both). */
bool csv_reader_crlf(const struct csv_reader *r);
bool csv_reader_bom(const struct csv_reader *r);
/* Data rows delivered so far, empty and bad ones included. */
uint64_t csv_reader_rows(const struct csv_reader *r);
/* A problem with the header that makes every row bad ("the header has no
 * column 'destination'"), or NULL; *column gets the column it is about. */
const char *csv_reader_header_error(const struct csv_reader *r,
    const char **column);

/*
 * Builds the query of t, a transaction that r handed over (r must still
 * exist: it knows the columns) and that is not empty.  On success
 * *request is a new JSON object (the query as the audit log records it)
 * and *q the decoded query, living in arena; dry_run sets its "dry_run".
 * Returns TG_EINVAL when some row is bad (t->bad is then set and every
 * row has an error), or -ENOMEM.
 */
int csv_txn_query(const struct csv_reader *r, struct csv_txn *t,
    bool dry_run, struct tg_arena *arena, tg_date today, json_t **request,
    const struct tg_query **q);

/*
 * Marks t bad because of err, an error about its query (its pointer names
 * the field: "/items/2/product"), as the engine reports an unknown product
 * id: the row and column it came from get the message, the other rows one
 * that names that row.  Returns -ENOMEM or 0.
 */
int csv_txn_fail(struct csv_txn *t, const struct tg_error *err);

/* Gives every row of t without an error this one (printf-style, after
 * "row N: "), marking t bad: for rows that could not be decided for a
 * reason of the run's own (an audit log failure).  0 or -ENOMEM. */
int csv_txn_fail_all(struct csv_txn *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void csv_txn_free(struct csv_txn *t);		/* NULL is a no-op */
void csv_row_free(struct csv_row *row);		/* NULL is a no-op */

/*
 * Appends one field to b as RFC 4180 wants it: quoted (quotes doubled)
 * when it holds a comma, a quote, a CR or LF, or begins or ends with a
 * space or tab, else as is.  0 or the buffer's error.
 */
int csv_field_write(struct tg_buf *b, const char *s, size_t len);

#endif
