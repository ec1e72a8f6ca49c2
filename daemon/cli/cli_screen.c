/*
 * cli_screen.c: `tiergate screen [--dry-run] [--strict] [--format csv|jsonl]
 * [-o OUT] FILE|-`: a batch of shipments in, one decision per row out
 * (contract.md sections 4 and 5).
 *
 * The input is a CSV file with a header row (daemon/api/csv_row.c) or JSON
 * Lines of full queries; the format comes from --format, else from the
 * file name (.csv, .jsonl, .ndjson).  The output has the input's format:
 * for CSV, every input row with its columns unchanged and then outcome,
 * eccn, authorization, review_policy, reasons, decision_id and error; for
 * JSON Lines, one decision (with its receipt) or one {"line", "error"}
 * object per input line.
 *
 * Invariants:
 *  - every input row gets exactly one output row, in input order; a row
 *    that cannot be decided says why in its error column, as
 *    "row N, column C: message" (rows numbered as a spreadsheet does, the
 *    header being row 1), and the first SCREEN_BAD_SHOWN are also told on
 *    stderr as "FILE:LINE:COL: message", as the command line's errors are;
 *  - decisions are made in file order inside ledger write transactions of
 *    up to SCREEN_GROUP_TXNS transactions each (one fsync and one signed
 *    checkpoint per group), so quota use accumulates along the file as it
 *    would one request after another, and an output row is written only
 *    once the decision it shows is committed to the audit log;
 *  - a dry run reserves nothing, but each of its decisions sees what the
 *    batch's earlier decisions would have used, so that a dry run shows
 *    what the binding run would decide;
 *  - memory does not grow with the file: input is read in chunks, output
 *    written per group (see csv_row.h for the one exception, 12 bytes per
 *    distinct reference; a dry run also remembers one figure per quota
 *    and party it touched);
 *  - the run starts with an audit entry of kind "batch_started" (the
 *    file's name and the options) and ends with one of kind "batch": the
 *    file's name, the SHA-256 of the bytes read, the row count, the
 *    options, the range of decision entries and the batch_started entry's
 *    seq.  A run killed half way leaves its decisions after a
 *    batch_started entry with no batch entry to close it.
 *
 * Exit status: 2 if any row was bad or the run failed (after every row
 * was read, unless --strict, which stops at the first bad row); else 1 if
 * some outcome is hold or license_required; else 0.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"
#include "tiergate/decision.h"
#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/jcs.h"
#include "tiergate/query.h"
#include "tiergate/util.h"
#include "tiergate/uuid.h"

#include "../api/csv_row.h"
#include "cli.h"

#define SCREEN_GROUP_TXNS 2048	/* transactions per commit group */
#define SCREEN_GROUP_ROWS 8192	/* rows per commit group */
#define SCREEN_CHUNK ((size_t)64 << 10)	/* bytes read at a time */
#define SCREEN_LINE_MAX ((size_t)1 << 20) /* one JSON Lines query */
#define SCREEN_OUT_MAX ((size_t)64 << 20) /* one output line */
#define SCREEN_PROGRESS_NS 200000000ULL	/* between progress updates */
#define SCREEN_BAD_SHOWN 20		/* bad rows told on stderr */

/* A callback's "stop reading" that is not an error (--strict). */
#define SCREEN_STOP 1

enum screen_fmt { FMT_NONE, FMT_CSV, FMT_JSONL };

/* One transaction of the commit group being gathered. */
struct pending {
	struct csv_txn *t;		/* CSV; NULL for a JSON line */
	uint64_t line;			/* JSON Lines: its line number */
	char *error;			/* JSON Lines: why it is bad, as
					 * "line N[, column C]: message" */
	size_t error_msg;		/* where message starts in error */
	int error_col;			/* C, or 1 */
	char pointer[TG_ERR_POINTER_MAX];
	json_t *request;		/* the query as logged */
	const struct tg_query *q;	/* in the group's arena */
	json_t *decision;		/* JSON Lines: until written */
	char id[UUID_STR_LEN + 1];
	bool decided;
};

/* What was decided, counted by row (a CSV row is a line item). */
struct tally {
	uint64_t decided_rows;
	uint64_t txns;
	uint64_t by_outcome[4];
	uint64_t by_tier[4];		/* [0]: no tier */
	bool flagged;			/* some hold or license_required */
};

struct screen {
	const struct cli_ctx *ctx;
	bool dry_run;
	bool strict;
	enum screen_fmt fmt;
	const char *path;		/* as given */
	const char *name;		/* for messages */
	const char *out_name;

	int in_fd;
	uintmax_t in_size;		/* 0: unknown */
	uintmax_t in_bytes;
	EVP_MD_CTX *sha;
	FILE *out;
	struct tg_buf line;		/* the output line being built */

	struct tg_pack *pack;
	struct tg_audit *audit;
	struct csv_reader *reader;
	tg_date today;
	struct tg_arena *arena;		/* the group's queries */
	json_t *overlay;		/* dry runs: quota used by the batch */

	struct pending *group;
	size_t ngroup, group_alloc, group_rows;
	bool header_written;

	/* JSON Lines input */
	struct tg_buf jline;
	bool jline_over;
	uint64_t jline_no;

	/* what happened */
	struct tally sum;		/* committed decisions only */
	uint64_t rows, bad, empty;
	uint64_t first_bad;
	uint64_t first_seq, last_seq;
	uint64_t started_seq;		/* the batch_started entry */
	bool failed;			/* the run could not go on */
	bool stopped;			/* --strict stopped it */
	bool interrupted;

	bool tty;
	uint64_t start;			/* mono_ns() */
	uint64_t last_progress;
};

static volatile sig_atomic_t screen_signal;

static const struct option screen_opts[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "strict", no_argument, NULL, 's' },
	{ "format", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
screen_usage(FILE *fp)
{
	fputs("usage: tiergate screen [--dry-run] [--strict] "
	    "[--format csv|jsonl] [-o OUT] FILE|-\n"
	    "  decide every shipment in FILE ('-': stdin): CSV with a header "
	    "row\n"
	    "  (contract.md section 5), or JSON Lines of queries.  The "
	    "format is\n"
	    "  --format, else FILE's extension (.csv, .jsonl, .ndjson).\n"
	    "  Output (default stdout) in the same format: CSV rows with "
	    "outcome, eccn,\n"
	    "  authorization, review_policy, reasons, decision_id and error "
	    "appended,\n"
	    "  or one decision per line.  Consecutive CSV rows with the same "
	    "reference\n"
	    "  are one transaction.  A bad row gets its error and the run "
	    "goes on;\n"
	    "  --strict stops at the first.  --dry-run: reserve no quota.\n"
	    "  exit status: 0 no_license_required or authorized, 1 hold or\n"
	    "  license_required, 2 a bad row, bad input or failure\n", fp);
}

static void
on_signal(int sig)
{
	screen_signal = sig;
}

static double
elapsed(const struct screen *s)
{
	return (double)(mono_ns() - s->start) / 1e9;
}

/* The format a file name implies (FMT_NONE: cannot tell). */
static enum screen_fmt
fmt_of_name(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot == NULL || strchr(dot, '/') != NULL)
		return FMT_NONE;
	if (strcasecmp(dot, ".csv") == 0)
		return FMT_CSV;
	if (strcasecmp(dot, ".jsonl") == 0 || strcasecmp(dot, ".ndjson") == 0)
		return FMT_JSONL;
	return FMT_NONE;
}

/* ---- progress and summary -------------------------------------------- */

static void
fmt_duration(char *buf, size_t size, double secs)
{
	long long t = secs > 0 && secs < 1e9 ? (long long)(secs + 0.5) : 0;

	(void)snprintf(buf, size, "%lld:%02lld:%02lld", t / 3600,
	    (t / 60) % 60, t % 60);
}

/* The progress line on a terminal: rows, %, rows/s, ETA (the last two
 * when the file's size is known). */
static void
progress(struct screen *s, bool force)
{
	char eta[32];
	double secs, rate, frac;
	uint64_t now;

	if (!s->tty)
		return;
	now = mono_ns();
	if (!force && now - s->last_progress < SCREEN_PROGRESS_NS)
		return;
	s->last_progress = now;
	secs = elapsed(s);
	rate = secs > 0 ? (double)s->rows / secs : 0;
	if (s->in_size > 0) {
		frac = (double)s->in_bytes / (double)s->in_size;
		if (frac > 1)
			frac = 1;
		fmt_duration(eta, sizeof(eta), frac > 0 ? secs / frac - secs :
		    0);
		fprintf(stderr, "\rscreen: %llu rows  %5.1f%%  %.0f rows/s  "
		    "ETA %s\033[K", (unsigned long long)s->rows, frac * 100,
		    rate, eta);
	} else
		fprintf(stderr, "\rscreen: %llu rows  %.0f rows/s\033[K",
		    (unsigned long long)s->rows, rate);
	fflush(stderr);
}

static void
summary(struct screen *s)
{
	const char *unit = s->fmt == FMT_CSV ? "row" : "line";
	double secs = elapsed(s);

	if (s->tty)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "screen: %s: %llu %s%s in %.2f s (%.0f %ss/s)%s\n",
	    s->name, (unsigned long long)s->rows, unit,
	    s->rows == 1 ? "" : "s", secs,
	    secs > 0 ? (double)s->rows / secs : 0, unit,
	    s->dry_run ? "; dry run: nothing reserved" : "");
	fprintf(stderr, "  outcomes: no_license_required %llu, authorized "
	    "%llu, hold %llu, license_required %llu\n",
	    (unsigned long long)s->sum.by_outcome[TG_NO_LICENSE_REQUIRED],
	    (unsigned long long)s->sum.by_outcome[TG_AUTHORIZED],
	    (unsigned long long)s->sum.by_outcome[TG_HOLD],
	    (unsigned long long)s->sum.by_outcome[TG_LICENSE_REQUIRED]);
	fprintf(stderr, "  destination tiers: 1: %llu, 2: %llu, 3: %llu\n",
	    (unsigned long long)s->sum.by_tier[1],
	    (unsigned long long)s->sum.by_tier[2],
	    (unsigned long long)s->sum.by_tier[3]);
	if (s->bad > SCREEN_BAD_SHOWN)
		fprintf(stderr, "  bad %ss: %llu (the first: %s %llu; the "
		    "first %d are above, all are in the error %s)\n", unit,
		    (unsigned long long)s->bad, unit,
		    (unsigned long long)s->first_bad, SCREEN_BAD_SHOWN,
		    s->fmt == FMT_CSV ? "column" : "lines");
	else if (s->bad > 0)
		fprintf(stderr, "  bad %ss: %llu (the first: %s %llu)\n", unit,
		    (unsigned long long)s->bad, unit,
		    (unsigned long long)s->first_bad);
	else
		fprintf(stderr, "  bad %ss: 0\n", unit);
	if (s->empty > 0)
		fprintf(stderr, "  empty rows: %llu (passed through)\n",
		    (unsigned long long)s->empty);
	if (s->sum.txns > 0)
		fprintf(stderr, "  decisions: %llu (transactions), audit log "
		    "entries %llu to %llu\n", (unsigned long long)s->sum.txns,
		    (unsigned long long)s->first_seq,
		    (unsigned long long)s->last_seq);
	if (s->stopped)
		fputs("  stopped at the first bad row (--strict): the rows "
		    "after it were not screened\n", stderr);
	if (s->interrupted)
		fputs("  interrupted: the rows after the last one written "
		    "were not screened\n", stderr);
	if (s->failed)
		fputs("  the run failed: the rows after the last one written "
		    "were not screened\n", stderr);
}

/* ---- dry runs: what the batch would have used ------------------------ */

/*
 * Figures are kept in JSON objects used as hash maps, keyed by
 * quota/key/period written length-prefixed, so no two triples share a
 * key.  A party key is at most API_STRING_MAX bytes (the decoder's cap).
 */
#define FIGURE_KEY_MAX (2 * API_STRING_MAX + 128)

static int
figure_key(char *buf, const char *quota, const char *key, const char *period)
{
	int n;

	n = snprintf(buf, FIGURE_KEY_MAX, "%zu:%s%zu:%s%s", strlen(quota),
	    quota, strlen(key), key, period);
	return n < 0 || n >= FIGURE_KEY_MAX ? TG_ETOOBIG : 0;
}

/* obj[quota/key/period] into *out (0 and *found false when absent). */
static int
figure_get(json_t *obj, const char *quota, const char *key,
    const char *period, double *out, bool *found)
{
	char k[FIGURE_KEY_MAX];
	json_t *v;

	*out = 0;
	*found = false;
	if (figure_key(k, quota, key, period) != 0)
		return TG_ETOOBIG;
	v = json_object_get(obj, k);
	if (v != NULL) {
		*out = json_real_value(v);
		*found = true;
	}
	return 0;
}

static int
figure_set(json_t *obj, const char *quota, const char *key,
    const char *period, double v)
{
	char k[FIGURE_KEY_MAX];

	if (figure_key(k, quota, key, period) != 0)
		return TG_ETOOBIG;
	return json_object_set_new(obj, k, json_real(v)) == 0 ? 0 : -ENOMEM;
}

/*
 * A dry run reserves nothing, so a decision tells what it would add only
 * through "used" (before + added); before is what dry_used / dry_license
 * told the engine, kept in seen.  The difference goes into the overlay.
 */
static int
overlay_add(json_t *overlay, json_t *seen, const struct tg_decision *d)
{
	const struct tg_quota_use *u;
	double before, sum;
	bool found;
	size_t i;
	int rc;

	for (i = 0; i < d->nquotas; i++) {
		u = &d->quotas[i];
		rc = figure_get(seen, u->name, u->key, u->period, &before,
		    &found);
		if (rc != 0)
			return rc;
		if (!found || !(u->used - before > 0))
			continue;
		rc = figure_get(overlay, u->name, u->key, u->period, &sum,
		    &found);
		if (rc == 0)
			rc = figure_set(overlay, u->name, u->key, u->period,
			    sum + (u->used - before));
		if (rc != 0)
			return rc;
	}
	return 0;
}

struct dry_ctx {
	struct audit_tx *tx;
	json_t *overlay;
	json_t *seen;			/* what the engine was told */
	struct audit_license l;
};

static int
dry_used(void *ctx, const char *name, const char *key, const char *period,
    double *out)
{
	struct dry_ctx *c = ctx;

	double extra;
	bool found;
	int rc;

	if (audit_tx_used(c->tx, name, key, period, out) != 0)
		return TG_EIO;
	rc = figure_get(c->overlay, name, key, period, &extra, &found);
	if (rc == 0) {
		*out += extra;
		rc = figure_set(c->seen, name, key, period, *out);
	}
	return rc;
}

/* As the ledger's own lookup (api/ledger.c), plus what the batch's
 * earlier dry-run decisions would have drawn. */
static int
dry_license(void *ctx, const char *number, struct tg_license *out)
{
	struct dry_ctx *c = ctx;
	double tpp, qty;
	bool found;
	int rc;

	rc = api_tx_license(c->tx, number, &c->l, out);
	if (rc != 0 || !out->found)
		return rc;
	rc = figure_get(c->overlay, TG_QUOTA_LICENSE_TPP, number, "all",
	    &tpp, &found);
	if (rc == 0)
		rc = figure_get(c->overlay, TG_QUOTA_LICENSE_QTY, number, "all",
		    &qty, &found);
	if (rc != 0)
		return rc;
	out->tpp_used = c->l.tpp_used + tpp;
	out->quantity_used = c->l.quantity_used + qty;
	rc = figure_set(c->seen, TG_QUOTA_LICENSE_TPP, number, "all",
	    out->tpp_used);
	if (rc == 0)
		rc = figure_set(c->seen, TG_QUOTA_LICENSE_QTY, number, "all",
		    out->quantity_used);
	return rc;
}

/*
 * api_decide_in_tx for a dry run, with the batch's own use added to the
 * ledger's: decides q, logs the decision (no reservations), and on
 * success adds what it would have reserved to the overlay.
 */
static int
dry_decide(struct screen *s, struct audit_tx *tx, const struct tg_query *q,
    const char *req, size_t reqlen, const char *id,
    struct tg_decision **dout, struct tg_error *err)
{
	struct dry_ctx dc;
	struct tg_quota_ops ops = { .used = dry_used,
	    .license = dry_license, .ctx = &dc };
	struct tg_decision *d = NULL;
	int rc;

	*dout = NULL;
	memset(&dc, 0, sizeof(dc));
	dc.tx = tx;
	dc.overlay = s->overlay;
	dc.seen = json_object();
	if (dc.seen == NULL)
		return tg_error_set(err, -ENOMEM, "out of memory");
	rc = eval_decide(s->pack, q, &ops, &d, err);
	if (rc != 0) {
		json_decref(dc.seen);
		return rc;
	}
	rc = api_log_decision(tx, s->pack, d, req, reqlen, id, false, err);
	if (rc == 0 && overlay_add(s->overlay, dc.seen, d) != 0)
		rc = tg_error_set(err, -ENOMEM, "out of memory");
	json_decref(dc.seen);
	if (rc != 0) {
		decision_free(d);
		return rc;
	}
	*dout = d;
	return 0;
}

/* ---- output -------------------------------------------------------------- */

static int
out_line(struct screen *s)
{
	if (fwrite(s->line.p, 1, s->line.len, s->out) != s->line.len) {
		log_warn("cannot write to '%s'", s->out_name);
		return TG_EIO;
	}
	buf_reset(&s->line);
	return 0;
}

static const char *
eol(const struct screen *s)
{
	return csv_reader_crlf(s->reader) ? "\r\n" : "\n";
}

static int
write_header(struct screen *s)
{
	static const char tail[] = "outcome,eccn,authorization,review_policy,"
	    "reasons,decision_id,error";
	const char *f;
	size_t i, n, len;
	int rc = 0;

	if (s->header_written || csv_reader_ncolumns(s->reader) == 0)
		return 0;
	s->header_written = true;
	buf_reset(&s->line);
	if (csv_reader_bom(s->reader))
		rc = buf_add(&s->line, "\357\273\277", 3);
	n = csv_reader_ncolumns(s->reader);
	for (i = 0; rc == 0 && i < n; i++) {
		f = csv_reader_column(s->reader, i, &len);
		rc = csv_field_write(&s->line, f, len);
		if (rc == 0)
			rc = buf_add(&s->line, ",", 1);
	}
	if (rc == 0)
		rc = buf_adds(&s->line, tail);
	if (rc == 0)
		rc = buf_adds(&s->line, eol(s));
	if (rc != 0)
		return rc;
	return out_line(s);
}

static int
write_csv_row(struct screen *s, const struct csv_row *row)
{
	const char *err = row->error != NULL ? row->error : "";
	size_t i;
	int rc = 0;

	buf_reset(&s->line);
	for (i = 0; rc == 0 && i < row->nfields; i++) {
		rc = csv_field_write(&s->line, row->field[i], row->len[i]);
		if (rc == 0)
			rc = buf_add(&s->line, ",", 1);
	}
	if (rc == 0)
		rc = buf_adds(&s->line, row->result != NULL ? row->result :
		    ",,,,,");
	if (rc == 0)
		rc = buf_add(&s->line, ",", 1);
	if (rc == 0)
		rc = csv_field_write(&s->line, err, strlen(err));
	if (rc == 0)
		rc = buf_adds(&s->line, eol(s));
	if (rc == TG_ETOOBIG) {
		log_warnx("%s: row %llu: output row longer than %zu bytes",
		    s->name, (unsigned long long)row->row, SCREEN_OUT_MAX);
		return rc;
	}
	if (rc != 0)
		return rc;
	return out_line(s);
}

static int
write_jsonl(struct screen *s, struct pending *p)
{
	json_t *o = NULL;
	char *text;
	int rc;

	if (p->decision != NULL)
		text = api_dumps(p->decision, false);
	else {
		o = json_pack("{s:I, s:s}", "line", (json_int_t)p->line,
		    "error", p->error != NULL ? p->error : "not decided");
		if (o != NULL && p->pointer[0] != '\0')
			json_object_set_new(o, "pointer",
			    json_string(p->pointer));
		text = o != NULL ? api_dumps(o, false) : NULL;
		json_decref(o);
	}
	if (text == NULL)
		return -ENOMEM;
	buf_reset(&s->line);
	rc = buf_adds(&s->line, text);
	if (rc == 0)
		rc = buf_add(&s->line, "\n", 1);
	free(text);
	return rc == 0 ? out_line(s) : rc;
}

/* ---- results ---------------------------------------------------------- */

/* One row's result columns from its item's decision: outcome, eccn,
 * authorization, review_policy, reasons, decision_id. */
static int
row_result(struct csv_row *row, const struct tg_item_decision *it,
    const char *id)
{
	struct tg_buf b, why;
	const char *v[4];
	size_t i;
	int rc = 0;

	buf_init(&b, SCREEN_OUT_MAX);
	buf_init(&why, SCREEN_OUT_MAX);
	v[0] = outcome_name(it->outcome);
	v[1] = it->eccn != NULL ? it->eccn : "";
	v[2] = it->authorization != NULL ? it->authorization : "";
	v[3] = review_name(it->review) != NULL ? review_name(it->review) :
	    "";
	for (i = 0; rc == 0 && i < 4; i++) {
		rc = csv_field_write(&b, v[i], strlen(v[i]));
		if (rc == 0)
			rc = buf_add(&b, ",", 1);
	}
	/* Rule ids are names (letters, digits, _ - . :), never ';'. */
	for (i = 0; rc == 0 && i < it->nreasons; i++) {
		if (i > 0)
			rc = buf_add(&why, ";", 1);
		if (rc == 0)
			rc = buf_adds(&why, it->reasons[i].rule);
	}
	if (rc == 0 && why.len > 0)
		rc = csv_field_write(&b, why.p, why.len);
	if (rc == 0)
		rc = buf_printf(&b, ",%s", id);
	buf_release(&why);
	if (rc != 0) {
		buf_release(&b);
		return rc;
	}
	free(row->result);
	row->result = b.p;
	return 0;
}

/* Counts a decided transaction in g; fills the CSV rows' results. */
static int
record(struct tally *g, struct pending *p, const struct tg_decision *d)
{
	size_t i;
	int rc, tier;

	tier = d->tier >= 1 && d->tier <= 3 ? d->tier : 0;
	g->txns++;
	if (d->outcome >= TG_HOLD)
		g->flagged = true;
	if (p->t == NULL) {
		g->by_outcome[d->outcome]++;
		g->by_tier[tier]++;
		g->decided_rows++;
		return 0;
	}
	for (i = 0; i < p->t->nrows && i < d->nitems; i++) {
		rc = row_result(p->t->rows[i], &d->items[i], p->id);
		if (rc != 0)
			return rc;
		g->by_outcome[d->items[i].outcome]++;
		g->by_tier[tier]++;
		g->decided_rows++;
	}
	return 0;
}

static void
tally_add(struct tally *sum, const struct tally *g)
{
	size_t i;

	sum->decided_rows += g->decided_rows;
	sum->txns += g->txns;
	for (i = 0; i < 4; i++) {
		sum->by_outcome[i] += g->by_outcome[i];
		sum->by_tier[i] += g->by_tier[i];
	}
	sum->flagged = sum->flagged || g->flagged;
}

/*
 * A bad row or line is also told on standard error, as every error of the
 * command line is, "FILE:LINE:COL: message": LINE the file's line it
 * starts on, COL the position of the column at fault in the header (1
 * when the whole row is).  The first SCREEN_BAD_SHOWN only: the output's
 * error column has them all, and a file of a million bad rows must not
 * bury the summary.
 */
static void
count_bad(struct screen *s, uint64_t row, uint64_t line, size_t col,
    const char *msg, size_t len)
{
	s->bad++;
	if (s->first_bad == 0)
		s->first_bad = row;
	if (s->bad > SCREEN_BAD_SHOWN)
		return;
	if (s->tty)
		fputs("\r\033[K", stderr);	/* over the progress line */
	fprintf(stderr, "%s:%llu:%zu: %.*s\n", s->name,
	    (unsigned long long)line, col > 0 ? col : 1,
	    len < INT_MAX ? (int)len : INT_MAX, msg);
}

/* ---- the commit group ------------------------------------------------- */

static void
pending_release(struct pending *p)
{
	csv_txn_free(p->t);
	free(p->error);
	json_decref(p->request);
	json_decref(p->decision);
	memset(p, 0, sizeof(*p));
}

static bool
pending_bad(const struct pending *p)
{
	return p->t != NULL ? p->t->bad : p->error != NULL;
}

/* A JSON line's error: "line N: message", or "line N, column C:
 * message" when col > 0; error_msg and error_col say where (stderr). */
static int
line_error(struct pending *p, int col, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
line_error(struct pending *p, int col, const char *fmt, ...)
{
	char text[TG_ERR_POINTER_MAX + TG_ERR_MSG_MAX + 64];
	va_list ap;
	int n;

	n = col > 0 ? snprintf(text, sizeof(text), "line %llu, column %d: ",
	    (unsigned long long)p->line, col) : snprintf(text, sizeof(text),
	    "line %llu: ", (unsigned long long)p->line);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = 0;
	va_start(ap, fmt);
	(void)vsnprintf(text + n, sizeof(text) - (size_t)n, fmt, ap);
	va_end(ap);
	free(p->error);
	p->error = strdup(text);
	p->error_msg = (size_t)n;
	p->error_col = col > 0 ? col : 1;
	return p->error != NULL ? 0 : -ENOMEM;
}

/* A JSON line's decoding error, as "line N: /pointer: message". */
static int
jsonl_error(struct pending *p, const struct tg_error *err)
{
	const char *msg;

	msg = err->msg[0] != '\0' ? err->msg : tg_strerror(err->code);
	(void)snprintf(p->pointer, sizeof(p->pointer), "%s", err->pointer);
	if (err->pointer[0] != '\0')
		return line_error(p, 0, "%s: %s", err->pointer, msg);
	return line_error(p, err->line > 0 ? err->col : 0, "%s", msg);
}

/* Gives every row of the group an error of the run's own (an audit log
 * failure), in place of any result it had. */
static int
fail_group(struct screen *s, const char *why)
{
	struct pending *p;
	size_t i;
	int rc;

	for (i = 0; i < s->ngroup; i++) {
		p = &s->group[i];
		json_decref(p->decision);
		p->decision = NULL;
		p->decided = false;
		if (p->t != NULL) {
			for (size_t k = 0; k < p->t->nrows; k++) {
				free(p->t->rows[k]->result);
				p->t->rows[k]->result = NULL;
			}
			rc = csv_txn_fail_all(p->t, "not decided: %s", why);
			if (rc != 0)
				return rc;
			continue;
		}
		rc = line_error(p, 0, "not decided: %s", why);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Writes the group's rows [0, n) and counts the bad and empty ones. */
static int
write_group(struct screen *s, size_t n)
{
	struct pending *p;
	size_t i, k;
	int rc;

	if (s->fmt == FMT_CSV) {
		rc = write_header(s);
		if (rc != 0)
			return rc;
	}
	for (i = 0; i < n; i++) {
		p = &s->group[i];
		if (p->t == NULL) {
			if (p->error != NULL)
				count_bad(s, p->line, p->line,
				    (size_t)p->error_col, p->error +
				    p->error_msg, strlen(p->error +
				    p->error_msg));
			rc = write_jsonl(s, p);
			if (rc != 0)
				return rc;
			continue;
		}
		if (p->t->empty)
			s->empty++;
		for (k = 0; k < p->t->nrows; k++) {
			const struct csv_row *row = p->t->rows[k];

			if (row->error != NULL)
				count_bad(s, row->row, row->line,
				    csv_reader_field_of(s->reader,
				    row->error_column), row->error +
				    row->error_msg, row->error_end -
				    row->error_msg);
			rc = write_csv_row(s, p->t->rows[k]);
			if (rc != 0)
				return rc;
		}
	}
	if (fflush(s->out) == EOF) {
		log_warn("cannot write to '%s'", s->out_name);
		return TG_EIO;
	}
	return 0;
}

/* The decisions of a committed group get their receipts (JSON Lines). */
static int
attach_receipts(struct screen *s, size_t n, struct audit_receipt *rec,
    size_t nrec)
{
	size_t i, k = 0;
	int rc = 0;

	for (i = 0; i < n && k < nrec; i++) {
		if (!s->group[i].decided)
			continue;
		if (s->first_seq == 0)
			s->first_seq = rec[k].seq;
		s->last_seq = rec[k].seq;
		if (rc == 0 && s->group[i].decision != NULL)
			rc = api_attach_receipt(s->group[i].decision, &rec[k]);
		k++;
	}
	return rc;
}

/*
 * Decides the group's transactions in order inside one write transaction
 * of the log, commits it (one fsync, one signed checkpoint), then writes
 * every row of the group.  With --strict, stops at the first bad
 * transaction: the ones before it are decided and written, it is written
 * with its error, the ones after it are dropped.  Returns 0, SCREEN_STOP,
 * or a negative code when the run cannot go on.
 */
static int
flush_group(struct screen *s)
{
	struct audit_tx *tx = NULL;
	struct audit_receipt *rec = NULL;
	struct tg_decision *d;
	struct tg_error err;
	struct tally g;
	struct pending *p;
	json_t *json;
	char *req = NULL;		/* the query's canonical form */
	size_t i, n, ndecided = 0;
	int rc = 0, ret = 0;

	n = s->ngroup;
	if (n == 0)
		return 0;
	tg_error_clear(&err);
	memset(&g, 0, sizeof(g));
	for (i = 0; i < n; i++) {
		p = &s->group[i];
		if (pending_bad(p) && s->strict) {
			n = i + 1;
			ret = SCREEN_STOP;
			break;
		}
		if (pending_bad(p) || p->q == NULL)
			continue;
		if (tx == NULL) {
			rc = audit_tx_begin(s->audit, &tx, &err);
			if (rc != 0)
				goto fail;
		}
		rc = uuid_v7(p->id);
		if (rc != 0) {
			tg_error_set(&err, rc, "cannot make a decision id");
			goto fail;
		}
		json = NULL;
		d = NULL;
		free(req);
		req = p->request != NULL ? jcs_dumps(p->request) : NULL;
		if (p->request != NULL && req == NULL) {
			rc = tg_error_set(&err, -ENOMEM, "out of memory");
			goto fail;
		}
		if (p->q->dry_run)
			rc = dry_decide(s, tx, p->q, req,
			    req != NULL ? strlen(req) : 0, p->id, &d, &err);
		else
			rc = api_decide_in_tx(tx, s->pack, p->q, req,
			    req != NULL ? strlen(req) : 0, p->id, &d, &err);
		if (rc == TG_EINVAL && err.pointer[0] != '\0') {
			/* The query is wrong in a way only the rules can
			 * tell (an unknown product id). */
			if (p->t != NULL)
				rc = csv_txn_fail(p->t, &err);
			else
				rc = jsonl_error(p, &err);
			if (rc != 0)
				goto fail;
			tg_error_clear(&err);
			if (s->strict) {
				n = i + 1;
				ret = SCREEN_STOP;
				break;
			}
			continue;
		}
		if (rc != 0)
			goto fail;
		rc = record(&g, p, d);
		/* JSON Lines output prints the decision; CSV only its
		 * columns, which record() took. */
		if (rc == 0 && p->t == NULL &&
		    (json = api_decision_to_json(d, p->id)) == NULL)
			rc = -ENOMEM;
		decision_free(d);
		if (rc != 0) {
			tg_error_set(&err, rc, "out of memory");
			goto fail;
		}
		p->decided = true;
		ndecided++;
		if (p->t == NULL)
			p->decision = json;
	}
	if (tx != NULL) {
		rec = calloc(ndecided > 0 ? ndecided : 1, sizeof(*rec));
		if (rec == NULL) {
			rc = tg_error_set(&err, -ENOMEM, "out of memory");
			goto fail;
		}
		rc = audit_tx_commit(tx, rec, ndecided, &err);
		tx = NULL;
		if (rc != 0)
			goto fail;
		/* Committed: these decisions exist whatever happens next. */
		tally_add(&s->sum, &g);
		rc = attach_receipts(s, n, rec, ndecided);
		for (i = 0; i < ndecided; i++)
			audit_receipt_release(&rec[i]);
		free(rec);
		rec = NULL;
		if (rc != 0) {
			tg_error_set(&err, rc, "cannot encode a receipt");
			goto fail;
		}
	}
	rc = write_group(s, n);
	if (rc != 0) {
		s->failed = true;
		ret = rc;
	}
	goto out;
fail:
	/* Nothing of the group is in the log: none of it was decided. */
	audit_tx_abort(tx);
	free(rec);
	log_warnx("cannot decide and log the batch in '%s': %s",
	    s->ctx->data_dir, err.msg[0] ? err.msg : tg_strerror(rc));
	s->failed = true;
	ret = rc < 0 ? rc : TG_EIO;
	if (fail_group(s, "the audit log failed") == 0)
		(void)write_group(s, s->ngroup);
out:
	free(req);
	for (i = 0; i < s->ngroup; i++)
		pending_release(&s->group[i]);
	s->ngroup = 0;
	s->group_rows = 0;
	arena_clear(s->arena);
	if (ret == SCREEN_STOP)
		s->stopped = true;
	progress(s, false);
	return ret;
}

static struct pending *
group_add(struct screen *s)
{
	struct pending *v;
	size_t cap;

	if (s->ngroup == s->group_alloc) {
		cap = s->group_alloc == 0 ? SCREEN_GROUP_TXNS + 1 :
		    s->group_alloc * 2;
		v = reallocarray(s->group, cap, sizeof(*v));
		if (v == NULL)
			return NULL;
		s->group = v;
		s->group_alloc = cap;
	}
	v = &s->group[s->ngroup++];
	memset(v, 0, sizeof(*v));
	return v;
}

/* After adding a transaction: flush when the group is full, or at once
 * when it is bad and --strict asks to stop there. */
static int
group_added(struct screen *s, const struct pending *p)
{
	if ((s->strict && pending_bad(p)) ||
	    s->ngroup >= SCREEN_GROUP_TXNS ||
	    s->group_rows >= SCREEN_GROUP_ROWS)
		return flush_group(s);
	return 0;
}

/* ---- CSV input ----------------------------------------------------------- */

static int
on_txn(void *ctx, struct csv_txn *t)
{
	struct screen *s = ctx;
	struct pending *p;
	int rc;

	p = group_add(s);
	if (p == NULL) {
		csv_txn_free(t);
		return -ENOMEM;
	}
	p->t = t;
	s->rows += t->nrows;
	s->group_rows += t->nrows;
	if (!t->empty) {
		rc = csv_txn_query(s->reader, t, s->dry_run, s->arena,
		    s->today, &p->request, &p->q);
		if (rc != 0 && rc != TG_EINVAL)
			return rc;
	}
	return group_added(s, p);
}

/* ---- JSON Lines input -------------------------------------------------- */

static bool
blank_line(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* One line (without its LF) of a JSON Lines file. */
static int
jsonl_take(struct screen *s, const char *p, size_t n, bool over)
{
	struct tg_error err;
	struct tg_query *forced;
	struct pending *e;
	bool nomem;
	int rc;

	s->jline_no++;
	/* A byte order mark from an editor. */
	if (s->jline_no == 1 && n >= 3 && memcmp(p, "\357\273\277", 3) == 0) {
		p += 3;
		n -= 3;
	}
	if (!over && blank_line(p, n))
		return 0;
	e = group_add(s);
	if (e == NULL)
		return -ENOMEM;
	e->line = s->jline_no;
	s->rows++;
	s->group_rows++;
	if (over) {
		rc = line_error(e, 0, "longer than %zu bytes",
		    SCREEN_LINE_MAX);
		if (rc != 0)
			return rc;
		return group_added(s, e);
	}
	rc = api_query_parse(p, n, s->arena, s->today, &e->q, &err);
	if (rc == -ENOMEM)
		return rc;
	if (rc != 0) {
		e->q = NULL;
		rc = jsonl_error(e, &err);
		if (rc != 0)
			return rc;
		return group_added(s, e);
	}
	/* The query as received is what the log commits to (as check);
	 * it decoded, so only memory can fail here. */
	e->request = api_json_loadb(p, n, JSON_REJECT_DUPLICATES, NULL,
	    &nomem);
	if (e->request == NULL)
		return -ENOMEM;
	if (s->dry_run && !e->q->dry_run) {
		forced = arena_alloc(s->arena, sizeof(*forced));
		if (forced == NULL)
			return -ENOMEM;
		*forced = *e->q;
		forced->dry_run = true;
		e->q = forced;
	}
	return group_added(s, e);
}

static int
jsonl_feed(struct screen *s, const char *p, size_t n)
{
	const char *lf;
	size_t k;
	int rc;

	while (n > 0) {
		lf = memchr(p, '\n', n);
		k = lf != NULL ? (size_t)(lf - p) : n;
		if (!s->jline_over && buf_add(&s->jline, p, k) != 0)
			s->jline_over = true;
		if (lf == NULL)
			return 0;
		rc = jsonl_take(s, s->jline.p, s->jline.len, s->jline_over);
		buf_reset(&s->jline);
		s->jline_over = false;
		if (rc != 0)
			return rc;
		p += k + 1;
		n -= k + 1;
	}
	return 0;
}

static int
jsonl_finish(struct screen *s)
{
	int rc = 0;

	if (s->jline.len > 0 || s->jline_over)
		rc = jsonl_take(s, s->jline.p, s->jline.len, s->jline_over);
	buf_reset(&s->jline);
	return rc;
}

/* ---- the batch entry ----------------------------------------------------- */

/* Appends one entry of its own (a commit group of one); *seq its
 * sequence number, when not NULL.  pay is consumed. */
static int
log_entry(struct screen *s, const char *kind, json_t *pay_json,
    uint64_t *seq)
{
	struct audit_receipt rec;
	struct audit_tx *tx = NULL;
	struct tg_error err;
	struct audit_in in;
	char *pay;
	int rc;

	pay = pay_json != NULL ? jcs_dumps(pay_json) : NULL;
	json_decref(pay_json);
	if (pay == NULL) {
		log_warnx("cannot encode the %s entry", kind);
		return -ENOMEM;
	}
	tg_error_clear(&err);
	memset(&in, 0, sizeof(in));
	in.kind = kind;
	in.request = "null";
	in.request_len = 4;
	in.payload = pay;
	in.payload_len = strlen(pay);
	in.pack_sha256 = pack_sha256(s->pack);
	rc = audit_tx_begin(s->audit, &tx, &err);
	if (rc == 0)
		rc = audit_tx_append(tx, &in, NULL, 0, NULL, &err);
	if (rc != 0)
		audit_tx_abort(tx);
	else {
		rc = audit_tx_commit(tx, &rec, 1, &err);
		if (rc == 0) {
			if (seq != NULL)
				*seq = rec.seq;
			audit_receipt_release(&rec);
		}
	}
	free(pay);
	if (rc != 0)
		log_warnx("cannot log the %s entry in '%s': %s", kind,
		    s->ctx->data_dir, err.msg[0] ? err.msg : tg_strerror(rc));
	return rc;
}

static json_t *
batch_options(const struct screen *s)
{
	return json_pack("{s:b, s:b, s:s}", "dry_run", s->dry_run, "strict",
	    s->strict, "format", s->fmt == FMT_CSV ? "csv" : "jsonl");
}

/* Before the first decision: which file, with which options, so that a
 * run killed before its end still says what its decisions were part
 * of. */
static int
log_batch_started(struct screen *s)
{
	return log_entry(s, "batch_started", json_pack("{s:s, s:o}", "file",
	    s->path, "options", batch_options(s)), &s->started_seq);
}

static int
log_batch(struct screen *s, const char *sha, bool complete)
{
	uint64_t seq = 0;
	json_t *p;
	int rc;

	p = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:o, s:I}",
	    "file", s->path, "sha256", sha,
	    "bytes", (json_int_t)s->in_bytes,
	    "rows", (json_int_t)s->rows,
	    "bad_rows", (json_int_t)s->bad,
	    "decisions", (json_int_t)s->sum.txns,
	    "complete", complete,
	    "options", batch_options(s),
	    "started_seq", (json_int_t)s->started_seq);
	if (p != NULL && s->sum.txns > 0 &&
	    (json_object_set_new(p, "first_seq",
	    json_integer((json_int_t)s->first_seq)) != 0 ||
	    json_object_set_new(p, "last_seq",
	    json_integer((json_int_t)s->last_seq)) != 0)) {
		json_decref(p);
		p = NULL;
	}
	rc = log_entry(s, "batch", p, &seq);
	if (rc == 0)
		fprintf(stderr, "  batch entry: %llu\n",
		    (unsigned long long)seq);
	return rc;
}

/* ---- setting up ------------------------------------------------------- */

static int
open_input(struct screen *s)
{
	struct stat st;

	if (strcmp(s->path, "-") == 0)
		s->in_fd = STDIN_FILENO;
	else {
		s->in_fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->in_fd == -1) {
			log_warn("cannot open '%s'", s->path);
			return -1;
		}
	}
	if (fstat(s->in_fd, &st) == -1) {
		log_warn("cannot read '%s'", s->name);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		log_warnx("cannot read '%s': %s", s->name, strerror(EISDIR));
		return -1;
	}
	if (S_ISREG(st.st_mode))
		s->in_size = (uintmax_t)st.st_size;
	return 0;
}

/* -o OUT: never the input itself, which opening OUT would truncate. */
static int
open_output(struct screen *s, const char *path)
{
	struct stat in, out;
	int fd;

	if (path == NULL || strcmp(path, "-") == 0) {
		s->out = stdout;
		s->out_name = "<stdout>";
		return 0;
	}
	s->out_name = path;
	if (fstat(s->in_fd, &in) == 0 && stat(path, &out) == 0 &&
	    in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
		log_warnx("'%s' is the input file; write the output elsewhere",
		    path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	if (fd == -1) {
		log_warn("cannot create '%s'", path);
		return -1;
	}
	s->out = fdopen(fd, "w");
	if (s->out == NULL) {
		log_warn("cannot create '%s'", path);
		close(fd);
		return -1;
	}
	return 0;
}

static int
load_rules(struct screen *s)
{
	char line[TG_ERR_FILE_MAX + TG_ERR_POINTER_MAX + TG_ERR_MSG_MAX + 64];
	struct tg_errlist errs;
	size_t i;
	int rc;

	if (s->ctx->nrules == 0) {
		log_warnx("no rule pack found (looked in %s); use --rules PATH",
		    s->ctx->rules_searched);
		return -1;
	}
	errlist_init(&errs);
	rc = pack_load(s->ctx->rules, s->ctx->nrules, &s->pack, &errs);
	if (rc != 0) {
		log_warnx("cannot load rules from '%s'%s: %s",
		    s->ctx->rules[0], s->ctx->nrules > 1 ? " and others" : "",
		    tg_strerror(rc));
		for (i = 0; i < errs.n; i++) {
			tg_error_format(&errs.v[i], line, sizeof(line));
			fprintf(stderr, "%s\n", line);
		}
	}
	errlist_release(&errs);
	return rc == 0 ? 0 : -1;
}

static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a read(2) waiting on a pipe returns EINTR. */
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	/* A reader that goes away (| head) is a write error like any
	 * other: the run stops, but still logs its batch entry. */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
}

/* Reads the whole input; returns 0 or the code that ended it. */
static int
read_input(struct screen *s)
{
	unsigned char *chunk;
	struct tg_error err;
	ssize_t n;
	int rc = 0;

	chunk = malloc(SCREEN_CHUNK);
	if (chunk == NULL)
		return -ENOMEM;
	tg_error_clear(&err);
	for (;;) {
		if (screen_signal != 0) {
			s->interrupted = true;
			break;
		}
		n = read(s->in_fd, chunk, SCREEN_CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			log_warn("cannot read '%s'", s->name);
			rc = TG_EIO;
			break;
		}
		if (n == 0)
			break;
		if (EVP_DigestUpdate(s->sha, chunk, (size_t)n) != 1) {
			log_warnx("SHA-256 failed");
			rc = TG_ECRYPTO;
			break;
		}
		s->in_bytes += (uintmax_t)n;
		if (s->fmt == FMT_CSV)
			rc = csv_reader_feed(s->reader, chunk, (size_t)n, &err);
		else
			rc = jsonl_feed(s, (const char *)chunk, (size_t)n);
		if (rc != 0)
			break;
		progress(s, false);
	}
	free(chunk);
	if (rc == 0 && !s->interrupted) {
		if (s->fmt == FMT_CSV)
			rc = csv_reader_finish(s->reader, &err);
		else
			rc = jsonl_finish(s);
	}
	if (rc == TG_ESYNTAX) {
		log_warnx("%s:%d:%d: %s", s->name, err.line, err.col,
		    err.msg);
		s->failed = true;
	} else if (rc == -ENOMEM) {
		log_warnx("%s: out of memory", s->name);
		s->failed = true;
	} else if (rc != 0 && rc != SCREEN_STOP)
		s->failed = true;
	if (rc == 0 || rc == TG_ESYNTAX || s->interrupted)
		rc = flush_group(s);
	if (rc == 0 && s->fmt == FMT_CSV)
		rc = write_header(s);
	return rc;
}

int
cli_screen(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct screen s;
	const char *out_path = NULL, *herr, *hcol;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char sha[65];
	struct tg_error err;
	int ch, rc, status = CLI_EXIT_FAIL;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.in_fd = -1;
	buf_init(&s.line, SCREEN_OUT_MAX);
	buf_init(&s.jline, SCREEN_LINE_MAX);
	tg_error_clear(&err);
	s.start = mono_ns();

	while ((ch = getopt_long(argc, argv, "ho:", screen_opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			s.dry_run = true;
			break;
		case 's':
			s.strict = true;
			break;
		case 'f':
			if (strcmp(optarg, "csv") == 0)
				s.fmt = FMT_CSV;
			else if (strcmp(optarg, "jsonl") == 0)
				s.fmt = FMT_JSONL;
			else {
				log_warnx("unknown format '%s' (csv or jsonl)",
				    optarg);
				goto out;
			}
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			screen_usage(stdout);
			status = CLI_EXIT_OK;
			goto out;
		default:
			screen_usage(stderr);
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1) {
		screen_usage(stderr);
		goto out;
	}
	s.path = argv[0];
	s.name = strcmp(s.path, "-") == 0 ? "<stdin>" : s.path;
	if (s.fmt == FMT_NONE)
		s.fmt = fmt_of_name(s.path);
	if (s.fmt == FMT_NONE) {
		log_warnx("cannot tell the format of '%s' from its name; use "
		    "--format csv or --format jsonl", s.name);
		goto out;
	}
	if (open_input(&s) != 0 || load_rules(&s) != 0)
		goto out;
	rc = audit_open(ctx->data_dir, AUDIT_CREATE | AUDIT_BG_CHECKPOINT,
	    &s.audit, &err);
	if (rc != 0) {
		log_warnx("cannot open the audit log in '%s': %s",
		    ctx->data_dir, err.msg[0] ? err.msg : tg_strerror(rc));
		goto out;
	}
	if (open_output(&s, out_path) != 0)
		goto out;
	s.sha = EVP_MD_CTX_new();
	s.arena = arena_new(0);
	s.overlay = json_object();
	if (s.fmt == FMT_CSV)
		s.reader = csv_reader_new(on_txn, &s);
	if (s.sha == NULL || s.arena == NULL || s.overlay == NULL ||
	    (s.fmt == FMT_CSV && s.reader == NULL) ||
	    EVP_DigestInit_ex(s.sha, EVP_sha256(), NULL) != 1) {
		log_warnx("cannot set up: out of memory");
		goto out;
	}
	s.today = date_today();
	s.tty = isatty(STDERR_FILENO) == 1;
	catch_signals();

	if (log_batch_started(&s) != 0) {
		s.failed = true;
		goto out;
	}
	rc = read_input(&s);
	if (rc != 0 && rc != SCREEN_STOP)
		s.failed = true;
	progress(&s, true);
	if (s.reader != NULL) {
		herr = csv_reader_header_error(s.reader, &hcol);
		if (herr != NULL)
			log_warnx("%s: column %s: %s, so no row can be decided",
			    s.name, hcol, herr);
	}
	if (EVP_DigestFinal_ex(s.sha, md, &mdlen) != 1 || mdlen != 32) {
		log_warnx("SHA-256 failed");
		s.failed = true;
		sha[0] = '\0';
	} else
		hex_encode(md, 32, sha);
	summary(&s);
	if (log_batch(&s, sha, !s.failed && !s.stopped &&
	    !s.interrupted) != 0)
		s.failed = true;
	if (s.out != NULL && s.out != stdout) {
		if (fclose(s.out) == EOF) {
			log_warn("cannot write '%s'", out_path);
			s.failed = true;
		}
		s.out = NULL;
	}
	if (s.failed || s.interrupted || s.bad > 0)
		status = CLI_EXIT_FAIL;
	else
		status = s.sum.flagged ? CLI_EXIT_FLAGGED : CLI_EXIT_OK;
out:
	if (s.out != NULL && s.out != stdout)
		fclose(s.out);
	for (size_t i = 0; i < s.ngroup; i++)
		pending_release(&s.group[i]);
	free(s.group);
	csv_reader_free(s.reader);
	json_decref(s.overlay);
	arena_free(s.arena);
	EVP_MD_CTX_free(s.sha);
	audit_close(s.audit);
	pack_unref(s.pack);
	if (s.in_fd > STDIN_FILENO)
		close(s.in_fd);
	buf_release(&s.line);
	buf_release(&s.jline);
	return status;
}
