/*
 * receipt_json.c: receipts in JSON, and the audit sink that turns decisions
 * into log entries.
 *
 * What the log hashes is the RFC 8785 form of the decision without its
 * receipt and of the query as received, so a procurement system can keep
 * the decision JSON it was given, reformatted or not, and prove years later
 * that it is the one tiergate logged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/api.h"
#include "tiergate/jcs.h"
#include "tiergate/util.h"

json_t *
api_receipt_to_json(const struct audit_receipt *r)
{
	json_t *j, *proof;
	char h[2 * MERKLE_HASH + 1];

	proof = json_array();
	if (proof == NULL)
		return NULL;
	for (size_t i = 0; i < r->nproof; i++) {
		hex_encode(r->proof[i], MERKLE_HASH, h);
		if (json_array_append_new(proof, json_string(h)) != 0) {
			json_decref(proof);
			return NULL;
		}
	}
	j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:o}",
	    "seq", (json_int_t)r->seq,
	    "entry_hash", r->entry_hash,
	    "signature", r->signature,
	    "key_id", r->key_id,
	    "leaf_index", (json_int_t)r->leaf_index,
	    "tree_size", (json_int_t)r->tree_size,
	    "kind", r->kind,
	    "time", r->time,
	    "prev", r->prev,
	    "request_sha256", r->request_sha256,
	    "pack_sha256", r->pack_sha256,
	    "checkpoint", r->checkpoint ? r->checkpoint : "",
	    "inclusion_proof", proof);
	return j;
}

static int
get_str(const json_t *j, const char *key, char *out, size_t size,
    struct tg_error *err)
{
	const json_t *v = json_object_get(j, key);
	char ptr[64];

	snprintf(ptr, sizeof(ptr), "/receipt/%s", key);
	if (!json_is_string(v) || json_string_length(v) >= size)
		return tg_error_ptr(err, TG_EINVAL, ptr, "'%s' must be a "
		    "string of at most %zu characters", key, size - 1);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int
get_u64(const json_t *j, const char *key, uint64_t *out, struct tg_error *err)
{
	const json_t *v = json_object_get(j, key);
	char ptr[64];

	snprintf(ptr, sizeof(ptr), "/receipt/%s", key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return tg_error_ptr(err, TG_EINVAL, ptr, "'%s' must be a "
		    "non-negative integer", key);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int
api_receipt_from_json(const json_t *j, struct audit_receipt *r,
    struct tg_error *err)
{
	const json_t *proof, *cp;
	size_t i;
	int rc;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(j))
		return tg_error_ptr(err, TG_EINVAL, "/receipt", "the decision "
		    "has no receipt object");
	if ((rc = get_u64(j, "seq", &r->seq, err)) != 0 ||
	    (rc = get_u64(j, "leaf_index", &r->leaf_index, err)) != 0 ||
	    (rc = get_u64(j, "tree_size", &r->tree_size, err)) != 0 ||
	    (rc = get_str(j, "kind", r->kind, sizeof(r->kind), err)) != 0 ||
	    (rc = get_str(j, "time", r->time, sizeof(r->time), err)) != 0 ||
	    (rc = get_str(j, "prev", r->prev, sizeof(r->prev), err)) != 0 ||
	    (rc = get_str(j, "entry_hash", r->entry_hash,
	    sizeof(r->entry_hash), err)) != 0 ||
	    (rc = get_str(j, "request_sha256", r->request_sha256,
	    sizeof(r->request_sha256), err)) != 0 ||
	    (rc = get_str(j, "pack_sha256", r->pack_sha256,
	    sizeof(r->pack_sha256), err)) != 0 ||
	    (rc = get_str(j, "key_id", r->key_id, sizeof(r->key_id),
	    err)) != 0 ||
	    (rc = get_str(j, "signature", r->signature, sizeof(r->signature),
	    err)) != 0)
		return rc;
	cp = json_object_get(j, "checkpoint");
	if (!json_is_string(cp))
		return tg_error_ptr(err, TG_EINVAL, "/receipt/checkpoint",
		    "'checkpoint' must be a string");
	proof = json_object_get(j, "inclusion_proof");
	if (!json_is_array(proof) || json_array_size(proof) > MERKLE_PROOF_MAX)
		return tg_error_ptr(err, TG_EINVAL, "/receipt/inclusion_proof",
		    "'inclusion_proof' must be a list of at most %d hashes",
		    MERKLE_PROOF_MAX);
	for (i = 0; i < json_array_size(proof); i++) {
		const json_t *h = json_array_get(proof, i);
		char ptr[64];

		if (!json_is_string(h) || hex_decode(json_string_value(h),
		    r->proof[i], MERKLE_HASH) != 0) {
			snprintf(ptr, sizeof(ptr), "/receipt/inclusion_proof/"
			    "%zu", i);
			return tg_error_ptr(err, TG_EINVAL, ptr, "not a "
			    "SHA-256 hash in hex");
		}
	}
	r->nproof = i;
	r->checkpoint = strdup(json_string_value(cp));
	if (r->checkpoint == NULL)
		return tg_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int
api_decision_payload_sha256(const json_t *decision, char out[65])
{
	json_t *copy;
	int rc;

	copy = json_copy((json_t *)(uintptr_t)decision);
	if (copy == NULL)
		return -ENOMEM;
	json_object_del(copy, "receipt");
	rc = jcs_sha256(copy, out);
	json_decref(copy);
	return rc;
}

int
api_log_decisions(struct tg_audit *a, size_t n,
    const json_t *const *requests, json_t *const *decisions,
    const char *const *decision_ids, const char *const *pack_sha256,
    struct tg_error *err)
{
	struct audit_in *in = NULL;
	struct audit_receipt *r = NULL;
	char **texts = NULL;
	size_t i;
	int rc = 0;

	in = calloc(n, sizeof(*in));
	r = calloc(n, sizeof(*r));
	texts = calloc(2 * n, sizeof(*texts));
	if (in == NULL || r == NULL || texts == NULL) {
		rc = tg_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		json_t *copy = json_copy(decisions[i]);

		if (copy == NULL) {
			rc = tg_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		json_object_del(copy, "receipt");
		texts[2 * i] = requests != NULL && requests[i] != NULL ?
		    jcs_dumps(requests[i]) : strdup("null");
		texts[2 * i + 1] = jcs_dumps(copy);
		json_decref(copy);
		if (texts[2 * i] == NULL || texts[2 * i + 1] == NULL) {
			rc = tg_error_set(err, TG_EINVAL, "cannot canonicalize "
			    "decision %zu", i);
			goto out;
		}
		in[i].kind = "decision";
		in[i].decision_id = decision_ids[i];
		in[i].request = texts[2 * i];
		in[i].request_len = strlen(texts[2 * i]);
		in[i].payload = texts[2 * i + 1];
		in[i].payload_len = strlen(texts[2 * i + 1]);
		in[i].pack_sha256 = pack_sha256 != NULL ? pack_sha256[i] :
		    NULL;
	}
	rc = audit_append(a, in, n, r, err);
	if (rc != 0)
		goto out;
	for (i = 0; i < n; i++) {
		json_t *rj = api_receipt_to_json(&r[i]);

		if (rj == NULL || json_object_set_new(decisions[i], "receipt",
		    rj) != 0)
			rc = tg_error_set(err, -ENOMEM, "out of memory "
			    "(decision %zu is logged as entry %llu)", i,
			    (unsigned long long)r[i].seq);
		audit_receipt_release(&r[i]);
	}
out:
	if (texts != NULL)
		for (i = 0; i < 2 * n; i++)
			free(texts[i]);
	free(texts);
	free(in);
	free(r);
	return rc;
}
