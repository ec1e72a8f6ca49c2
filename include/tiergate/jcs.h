/*
 * jcs.h: RFC 8785 JSON Canonicalization Scheme over jansson values.
 *
 * The audit log hashes canonical bytes, so a decision's hash survives any
 * JSON library upgrade and any re-serialization by a procurement system:
 * keys sorted by UTF-16 code units, no whitespace, ECMAScript number
 * formatting, minimal string escaping.
 */
#ifndef TIERGATE_JCS_H
#define TIERGATE_JCS_H

#include <jansson.h>

#include "tiergate/util.h"

/*
 * Appends the canonical form of v to b.  Errors: TG_EINVAL for values JCS
 * cannot represent (NaN, infinities, integers beyond 2^53 are written as
 * numbers all the same, as I-JSON doubles), TG_ETOOBIG from the buffer.
 */
int jcs_write(struct tg_buf *b, const json_t *v);

/* Canonical form as a new malloc'd string (caller frees), or NULL. */
char *jcs_dumps(const json_t *v);

/*
 * Pieces for writers that emit canonical JSON themselves, members already
 * in sorted order (api_decision_jcs): a string (TG_EINVAL unless it is
 * UTF-8) and a finite number (TG_EINVAL otherwise), spelled exactly as
 * jcs_write spells the same json_string / json_integer / json_real.
 */
int jcs_put_string(struct tg_buf *b, const char *s, size_t n);
int jcs_put_number(struct tg_buf *b, double x);

/* SHA-256 of the canonical form, as 64 lower-case hex digits + NUL. */
int jcs_sha256(const json_t *v, char out[65]);

#endif
