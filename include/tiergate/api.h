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

#include "tiergate/decision.h"
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

/* Serializes with the fixed flags used everywhere (pretty when indent).
 * Returns a malloc'd string the caller frees, or NULL on failure. */
char *api_dumps(const json_t *j, bool indent);

#endif
