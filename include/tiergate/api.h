/*
 * api.h: JSON <-> query and decision (jansson), per contract.md.
 *
 * The decoder is strict: every field is type- and range-checked, unknown
 * keys are refused (a misspelt "ultimate_parnet" must not silently change
 * an export decision), and each failure names the JSON pointer of the bad
 * field.  The encoder writes fields in a fixed order so the same decision
 * always serializes to the same bytes.
 */
#ifndef TIERGATE_API_H
#define TIERGATE_API_H

#include <jansson.h>

#include "tiergate/audit.h"
#include "tiergate/decision.h"
#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/query.h"

#define API_JSON_DEPTH_MAX 32
#define API_STRING_MAX 4096

/*
 * Parses a query from len bytes of JSON.  Strings and arrays are allocated
 * in arena (borrowed by *out, which lives in the arena too).  today is the
 * date used when the query has none.  Errors: TG_ESYNTAX (not JSON,
 * duplicate key, invalid UTF-8; err->line/col from jansson), TG_EINVAL (a
 * field is wrong; err->pointer names it), TG_ETOOBIG, -ENOMEM.
 */
int api_query_parse(const char *buf, size_t len, struct tg_arena *arena,
    tg_date today, const struct tg_query **out, struct tg_error *err);

/* Lowers the nesting and string-length limits (the daemon's config); call
 * once before any thread decodes.  Values above the built-in maxima are
 * ignored. */
void api_set_limits(unsigned depth_max, size_t string_max);

/*
 * json_loadb that also says whether it failed for want of memory (*nomem),
 * which a decoder must answer with -ENOMEM (503), not as a syntax error in
 * the input (400).  Use it for every parse: jansson 2.14 corrupts memory
 * when an allocation fails while it parses, and this wrapper keeps it from
 * ever seeing one (query_json.c).  jerr may be NULL.  Switches jansson's
 * allocator on first use (api_set_limits does too, before threads start).
 * Returns a new reference or NULL.  Thread-safe.
 */
json_t *api_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *jerr, bool *nomem);

/* Rebuilds a decision read back from its canonical (sorted) form in the
 * contract's key order, so it serializes to the bytes first answered.
 * Returns a new reference or NULL. */
json_t *api_decision_ordered(const json_t *canonical);

/* Same, from an already-parsed JSON object (borrowed). */
int api_query_from_json(const json_t *root, struct tg_arena *arena,
    tg_date today, const struct tg_query **out, struct tg_error *err);

/*
 * Builds the decision JSON (contract.md section 2).  decision_id may be
 * NULL (then the field is null).  Returns a new reference, or NULL on
 * allocation failure.
 */
json_t *api_decision_to_json(const struct tg_decision *d,
    const char *decision_id);

/*
 * The same decision written straight to bytes (decision_text.c), without
 * a JSON tree; both append to b and leave it as it was on error (0,
 * TG_EINVAL for a string that is not UTF-8, or the buffer's error):
 *   api_decision_jcs: its RFC 8785 canonical form, the bytes the audit
 *     log hashes (jcs_dumps of api_decision_to_json);
 *   api_decision_text: the answer as `tiergate check` prints it, with r
 *     as "receipt" unless r is NULL (api_dumps(..., true) of the tree with
 *     api_attach_receipt), without the final newline.
 */
int api_decision_jcs(const struct tg_decision *d, const char *decision_id,
    struct tg_buf *b);
int api_decision_text(const struct tg_decision *d, const char *decision_id,
    const struct audit_receipt *r, struct tg_buf *b);

/* Serializes with the fixed flags used everywhere (pretty when indent).
 * Returns a malloc'd string the caller frees, or NULL on failure. */
char *api_dumps(const json_t *j, bool indent);

/* ---- receipts and the audit sink ------------------------------------- */

/* The receipt as the decision's "receipt" member (contract.md section 2,
 * plus what an offline verifier needs).  New reference or NULL. */
json_t *api_receipt_to_json(const struct audit_receipt *r);

/* Reads a receipt back (for verify-receipt).  r->checkpoint is malloc'd;
 * release with audit_receipt_release.  TG_EINVAL names the bad member. */
int api_receipt_from_json(const json_t *j, struct audit_receipt *r,
    struct tg_error *err);

/*
 * Logs n decisions as one commit group and adds each one's receipt to its
 * JSON: requests[i] is the query as received (canonicalized here, NULL for
 * none), decisions[i] the decision JSON without a receipt (modified: the
 * "receipt" member is added once the group is committed and signed).
 * Returns 0, or the audit log's error, in which case no decision was
 * logged and none may be answered.
 */
int api_log_decisions(struct tg_audit *a, size_t n,
    const json_t *const *requests, json_t *const *decisions,
    const char *const *decision_ids, const char *const *pack_sha256,
    struct tg_error *err);

/* ---- the ledger pipeline (daemon/api/ledger.c) --------------------------- */

/*
 * Decides q inside the commit group tx: quota balances and licenses come
 * from the ledger as this group has left them, so concurrent binding
 * decisions can never over-allocate.  Logs the decision with the
 * reservations it makes (none for a dry run); request is the canonical
 * form (jcs_dumps) of the query as received, request_len its length, or
 * NULL for none.  On success *d is the decision (caller frees it with
 * decision_free); build its JSON with api_decision_to_json and attach the
 * receipt after commit.  On failure nothing was appended.
 */
int api_decide_in_tx(struct audit_tx *tx, struct tg_pack *pack,
    const struct tg_query *q, const char *request, size_t request_len,
    const char *decision_id, struct tg_decision **d, struct tg_error *err);

/* The logging half of api_decide_in_tx, for a decision made some other
 * way (screen's dry runs): appends d to tx, with the reservations its
 * quotas show when reserve is true.  0 or the error; on error nothing was
 * appended. */
int api_log_decision(struct audit_tx *tx, struct tg_pack *pack,
    const struct tg_decision *d, const char *request, size_t request_len,
    const char *decision_id, bool reserve, struct tg_error *err);

/* A registered license as the engine sees it (the ledger's lookup inside
 * tx; *l holds the strings *out points to). */
int api_tx_license(struct audit_tx *tx, const char *number,
    struct audit_license *l, struct tg_license *out);

/* Adds r as the decision's "receipt". */
int api_attach_receipt(json_t *decision, const struct audit_receipt *r);

/* Voids a binding decision: a void entry (reason, officer) and the release
 * of exactly what it reserved.  TG_ENOTFOUND for an unknown decision,
 * TG_EINVAL when it was voided already.  *receipt is filled. */
int api_void_decision(struct tg_audit *a, const char *decision_id,
    const char *reason, const char *officer, struct audit_receipt *receipt,
    int *released, struct tg_error *err);

/* Registers an export license (an audit entry of kind "license"). */
struct api_license_in {
	const char *number, *country, *valid_until, *consignee, *eccn;
	double tpp, quantity;		/* NAN: no limit */
};
int api_license_add(struct tg_audit *a, const struct api_license_in *in,
    struct audit_receipt *receipt, struct tg_error *err);
int api_license_revoke(struct tg_audit *a, const char *number,
    const char *reason, struct audit_receipt *receipt, struct tg_error *err);

/* Recomputes every ledger balance and license from the signed entries and
 * compares with the ledger tables.  *ok false with detail on the first
 * difference. */
int api_ledger_verify(struct tg_audit *a, bool *ok, char *detail,
    size_t size, uint64_t *balances, struct tg_error *err);

/* ---- holds (daemon/api/holds.c) --------------------------------------------- */

/*
 * Held decisions (outcome "hold": red flags a compliance officer must
 * resolve) as a JSON array, oldest first: decision_id, seq, time,
 * reference, destination, red_flags, status (open|released|rejected) and,
 * once resolved, resolution {resolution, officer, reason, time, seq}.
 * open_only keeps the open ones.  New reference or NULL.
 */
json_t *api_holds(struct tg_audit *a, bool open_only, const char *id,
    struct tg_error *err);

/* Resolves a held decision once: release (may ship) or reject.  The
 * resolution is an audit entry naming the decision, the officer and the
 * reason.  TG_ENOTFOUND (no such held decision), TG_EINVAL (resolved
 * already, or voided). */
int api_hold_resolve(struct tg_audit *a, const char *decision_id,
    bool release, const char *reason, const char *officer,
    struct audit_receipt *receipt, struct tg_error *err);

/* SHA-256 (hex) of a decision's canonical form without its receipt, as
 * the audit log hashed it. */
int api_decision_payload_sha256(const json_t *decision, char out[65]);

/* ---- reports (daemon/api/report.c) ------------------------------------- */

/*
 * The compliance summary of a period (issue 7): what was decided and why,
 * what waits on an officer, how much of each quota is used, and whether
 * the record is intact.  One JSON document is built from the log and the
 * CSV and HTML are rendered from it, so the three always agree.
 *
 * The period is [from, to] by each decision's "date" (the transaction
 * date the rules were applied to, which a caller may set), not by the
 * time the entry was written.  Voided decisions are counted apart and left
 * out of every other figure; dry runs are included and counted as such.
 * Everything is read as of the latest signed checkpoint (entries 1..N),
 * so concurrent writers cannot make the sections disagree; open-hold ages
 * are counted in whole days up to the moment the report is made.
 *
 * CSV is a long format, one line per scalar of the JSON:
 * section,key,field,value.  section is a top-level member; key is the
 * first member of a row of a list section ("" for an object section);
 * field is the path in the row ("resolution.officer",
 * "red_flags[0].citation").  Text that a spreadsheet would take for a
 * formula (starting with = + - @, tab or CR) is prefixed with '.
 *
 * HTML is one self-contained page: inline CSS and SVG, no script and no
 * external resource (a Content-Security-Policy meta tag forbids both),
 * every string from the log escaped.  Number cells carry data-f="section,
 * key,field" and data-v (the CSV value) so tests can compare.
 */
enum report_format {
	REPORT_JSON,
	REPORT_CSV,
	REPORT_HTML,
};

#define REPORT_OUT_MAX ((size_t)64 << 20)	/* the rendered report */
#define REPORT_LIST_MAX 1000	/* rows per decision list; totals count
				   every decision */

/* "json", "csv" or "html".  Returns 0 or TG_EINVAL. */
int api_report_format_parse(const char *s, enum report_format *out);
/* The HTTP Content-Type of a format (static string). */
const char *api_report_content_type(enum report_format f);

/*
 * Builds the report of [from, to] from the log a (read; the log may be
 * read-only).  pack, when not NULL (borrowed), is the rule pack in use:
 * its legal status text is added to the pack of the same SHA-256.
 * Returns a new reference, or NULL with err set (TG_EIO, -ENOMEM,
 * TG_EINVAL when from is after to).  Reads the whole log to verify it:
 * run it off any thread that must stay responsive.
 */
json_t *api_report_json(struct tg_audit *a, tg_date from, tg_date to,
    const struct tg_pack *pack, struct tg_error *err);

/* Renders a report built by api_report_json into out (appended; its cap
 * applies: TG_ETOOBIG).  Returns 0 or a negative code. */
int api_report_render(const json_t *report, enum report_format f,
    struct tg_buf *out, struct tg_error *err);

/* Both in one: the report of [from, to] in format f, appended to out. */
int api_report(struct tg_audit *a, tg_date from, tg_date to,
    const struct tg_pack *pack, enum report_format f, struct tg_buf *out,
    struct tg_error *err);

#endif
