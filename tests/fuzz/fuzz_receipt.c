/*
 * fuzz_receipt.c: libFuzzer target for the offline receipt check: bytes
 * in as JSON (json_loadb), the receipt read by api_receipt_from_json()
 * (daemon/api/receipt_json.c) and checked by audit_receipt_verify()
 * (daemon/store/verify.c) against the fixed test key (testkey.h), as
 * `tiergate audit verify-receipt` does.
 *
 * An input is either a decision with its "receipt" member (what `tiergate
 * check` prints; the payload hash is that of the decision without its
 * receipt, api_decision_payload_sha256) or a bare receipt object with an
 * extra "payload_sha256" string, taken as given (any string: it goes into
 * the rebuilt entry).  The seeds (tests/fuzz/corpus/receipt/, made by
 * make_seeds.sh) are real decisions and receipts of a log signed with the
 * test key.
 *
 * Besides crashes and sanitizer reports, it abort()s when a promise is
 * broken:
 *  - a refused receipt is TG_EINVAL (or -ENOMEM) with a message and a
 *    pointer under /receipt;
 *  - a receipt read back is written out by api_receipt_to_json() and read
 *    again to the same fields, proof and checkpoint;
 *  - a failed check is TG_EINVAL or TG_ECRYPTO with a message;
 *  - a receipt that verifies has a checkpoint that verifies on its own,
 *    of its tree_size, a leaf index inside the tree, and stops verifying
 *    when its payload hash, a proof hash, its seq or its key changes.
 * `make test` replays the corpus without libFuzzer.  Built with
 * -DFUZZ_TRACE, it says what became of each receipt read.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"

#include "testkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_text(const char *s)
{
	json_t *j;

	if (s[0] == '\0')
		abort();
	j = json_string(s);
	if (j == NULL)
		abort();
	json_decref(j);
}

static bool
same_receipt(const struct audit_receipt *a, const struct audit_receipt *b)
{
	return a->seq == b->seq && a->leaf_index == b->leaf_index &&
	    a->tree_size == b->tree_size && strcmp(a->kind, b->kind) == 0 &&
	    strcmp(a->time, b->time) == 0 &&
	    strcmp(a->entry_hash, b->entry_hash) == 0 &&
	    strcmp(a->prev, b->prev) == 0 &&
	    strcmp(a->request_sha256, b->request_sha256) == 0 &&
	    strcmp(a->pack_sha256, b->pack_sha256) == 0 &&
	    strcmp(a->key_id, b->key_id) == 0 &&
	    a->nproof == b->nproof &&
	    (a->nproof == 0 || memcmp(a->proof, b->proof,
	    a->nproof * sizeof(a->proof[0])) == 0) &&
	    (a->checkpoint == NULL) == (b->checkpoint == NULL) &&
	    (a->checkpoint == NULL || strcmp(a->checkpoint,
	    b->checkpoint) == 0);
}

/* The promises of a receipt that verified. */
static void
check_verified(struct audit_receipt *r, const char *payload)
{
	struct tg_error err;
	merkle_hash root;
	uint64_t n;
	char other[80];
	uint8_t pub[32];

	if (audit_note_verify(r->checkpoint, testkey_pub, &n, root,
	    &err) != 0 || n != r->tree_size || r->leaf_index >= n ||
	    r->seq != r->leaf_index + 1)
		abort();
	/* Another payload. */
	snprintf(other, sizeof(other), "%s", payload);
	other[0] = other[0] == '0' ? '1' : '0';
	if (audit_receipt_verify(r, other, testkey_pub, &err) == 0)
		abort();
	/* Another proof hash. */
	if (r->nproof > 0) {
		r->proof[r->nproof - 1][0] ^= 0x80;
		if (audit_receipt_verify(r, payload, testkey_pub, &err) == 0)
			abort();
		r->proof[r->nproof - 1][0] ^= 0x80;
	}
	/* Another entry. */
	r->seq++;
	r->leaf_index++;
	if (audit_receipt_verify(r, payload, testkey_pub, &err) == 0)
		abort();
	r->seq--;
	r->leaf_index--;
	/* Another key. */
	memcpy(pub, testkey_pub, 32);
	pub[0] ^= 0x01;
	if (audit_receipt_verify(r, payload, pub, &err) == 0)
		abort();
	/* And back as it was. */
	if (audit_receipt_verify(r, payload, testkey_pub, &err) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_receipt r, r2;
	struct tg_error err;
	json_error_t jerr;
	json_t *d, *rj, *out;
	const char *payload;
	char hash[65];
	int rc;

	d = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (d == NULL)
		return 0;
	rj = json_object_get(d, "receipt");
	if (rj != NULL) {
		if (api_decision_payload_sha256(d, hash) != 0) {
			json_decref(d);
			return 0;
		}
		payload = hash;
	} else {
		rj = d;
		payload = json_string_value(json_object_get(d,
		    "payload_sha256"));
		if (payload == NULL)
			payload = "";
	}

	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	tg_error_clear(&err);
	rc = api_receipt_from_json(rj, &r, &err);
	if (rc != 0) {
		if ((rc != TG_EINVAL && rc != -ENOMEM) || err.code != rc)
			abort();
		check_text(err.msg);
		if (rc == TG_EINVAL && strncmp(err.pointer, "/receipt", 8) != 0)
			abort();
		goto out;
	}
	if (r.checkpoint == NULL || r.nproof > MERKLE_PROOF_MAX)
		abort();

	/* What is read is what would be written. */
	out = api_receipt_to_json(&r);
	if (out == NULL)
		abort();
	if (api_receipt_from_json(out, &r2, &err) != 0 ||
	    !same_receipt(&r, &r2))
		abort();
	json_decref(out);

	tg_error_clear(&err);
	rc = audit_receipt_verify(&r, payload, testkey_pub, &err);
	if (rc != 0) {
		/* Printed by verify-receipt, not JSON: a message quoting a
		 * cut key id need not be UTF-8. */
		if ((rc != TG_EINVAL && rc != TG_ECRYPTO) || err.code != rc ||
		    err.msg[0] == '\0')
			abort();
	} else
		check_verified(&r, payload);
#ifdef FUZZ_TRACE
	fprintf(stderr, "fuzz_receipt: %s\n", rc == 0 ? "verified" : err.msg);
#endif
out:
	audit_receipt_release(&r);
	audit_receipt_release(&r2);
	json_decref(d);
	return 0;
}
