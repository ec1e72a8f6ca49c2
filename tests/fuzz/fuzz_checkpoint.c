/*
 * fuzz_checkpoint.c: libFuzzer target for the checkpoint parser and
 * verifier (daemon/store/note.c): bytes in as a C2SP signed note, checked
 * with audit_note_verify() against the fixed test key (testkey.h), and
 * split with note_parse() and note_signature_by() directly.
 *
 * The seeds (tests/fuzz/corpus/checkpoint/, made by make_seeds.sh) are
 * real checkpoints of a log signed with the test key, so the fuzzer starts
 * past the signature check.  Besides crashes and sanitizer reports, it
 * abort()s when a promise is broken:
 *  - a failure is TG_EINVAL with a message;
 *  - a note that verifies reads back the same size and root through
 *    note_parse() and does not verify under another key;
 *  - note_signature_by() stays inside its buffer, and finds the test
 *    key's signature line in a note that verifies;
 *  - note_parse() never writes an origin longer than its buffer allows,
 *    nor one with a newline, and does not depend on how large the origin
 *    and signature buffers are when they are large enough;
 *  - whatever body note_parse() accepts, once signed here with the test
 *    key (the signature line note_sign() would write), verifies, with the
 *    size and root the body says: the verifier accepts every note the
 *    signer can make.
 * `make test` replays the corpus without libFuzzer.  Built with
 * -DFUZZ_TRACE, it says what became of each note.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tiergate/audit.h"
#include "tiergate/util.h"

#include "../../daemon/store/store_int.h"
#include "testkey.h"

#define EM_DASH "\xe2\x80\x94"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static EVP_PKEY *key;

static void
init(void)
{
	struct tg_error err;
	uint8_t pub[32];

	key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
	    testkey_priv, sizeof(testkey_priv));
	if (key == NULL || key_raw_public(key, pub, &err) != 0 ||
	    memcmp(pub, testkey_pub, 32) != 0) {
		fprintf(stderr, "fuzz_checkpoint: testkey.h does not hold a "
		    "key pair\n");
		abort();
	}
}

/* SHA-256(name || "\n" || 0x01 || pub)[:4], as c2sp.org/signed-note. */
static void
key_hash(const char *name, const uint8_t pub[32], uint8_t out[4])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char d[32], alg = 0x01;
	unsigned int dl = 0;

	if (c == NULL || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(c, name, strlen(name)) != 1 ||
	    EVP_DigestUpdate(c, "\n", 1) != 1 ||
	    EVP_DigestUpdate(c, &alg, 1) != 1 ||
	    EVP_DigestUpdate(c, pub, 32) != 1 ||
	    EVP_DigestFinal_ex(c, d, &dl) != 1)
		abort();
	EVP_MD_CTX_free(c);
	memcpy(out, d, 4);
}

/* A parsed body signed with the test key must verify. */
static void
sign_and_verify(const char *note, const char *origin, uint64_t size,
    const merkle_hash root)
{
	const char *sep = strstr(note, "\n\n");
	struct tg_error err;
	struct tg_buf b;
	uint8_t blob[68];
	char sig[128];
	merkle_hash root2;
	uint64_t size2;
	size_t textlen;

	if (sep == NULL)
		abort();	/* note_parse accepted it */
	textlen = (size_t)(sep - note) + 1;
	key_hash(origin, testkey_pub, blob);
	if (key_sign(key, note, textlen, blob + 4, &err) != 0 ||
	    b64_encode(blob, sizeof(blob), sig, sizeof(sig)) != 0)
		abort();
	buf_init(&b, 2 * NOTE_MAX);
	if (buf_add(&b, note, textlen) != 0 ||
	    buf_printf(&b, "\n" EM_DASH " %s %s\n", origin, sig) != 0)
		abort();
	/* Past NOTE_MAX the verifier refuses any note, by design. */
	if (b.len <= NOTE_MAX) {
		tg_error_clear(&err);
		if (audit_note_verify(b.p, testkey_pub, &size2, root2,
		    &err) != 0) {
			fprintf(stderr, "fuzz_checkpoint: a note signed with "
			    "the key does not verify: %s\n", err.msg);
			abort();
		}
		if (size2 != size || memcmp(root2, root, MERKLE_HASH) != 0)
			abort();
	}
	buf_release(&b);
}

static void
check_parse(const char *note)
{
	static const size_t sizes[] = { 1, 2, 8, 26, 64, 128, 256 };
	char origin[256], origin2[256], sig[128], small[8];
	merkle_hash root, root2;
	uint64_t size, size2;
	bool ok, ok2;
	int rc, rc2;

	rc = note_parse(note, "", testkey_pub, origin, sizeof(origin), &size,
	    root, &ok, sig, sizeof(sig));
	if (rc != 0 && rc != TG_EINVAL)
		abort();
	if (rc == 0) {
		if (strlen(origin) >= sizeof(origin) ||
		    strchr(origin, '\n') != NULL)
			abort();
		/* The same body under the origin's own key name. */
		rc2 = note_parse(note, origin, testkey_pub, origin2,
		    sizeof(origin2), &size2, root2, &ok2, small,
		    sizeof(small));
		if (rc2 != 0 || strcmp(origin, origin2) != 0 ||
		    size2 != size || memcmp(root, root2, MERKLE_HASH) != 0)
			abort();
		if (ok2 && strlen(small) >= sizeof(small))
			abort();
		sign_and_verify(note, origin, size, root);
	}
	/* Smaller origin buffers: never overrun, same answer when the
	 * origin fits. */
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *o = malloc(sizes[i]);

		if (o == NULL)
			abort();
		rc2 = note_parse(note, "", testkey_pub, o, sizes[i], &size2,
		    root2, &ok2, NULL, 0);
		if (rc2 == 0 && (rc != 0 || strcmp(o, origin) != 0 ||
		    size2 != size))
			abort();
		if (rc2 != 0 && rc == 0 && strlen(origin) < sizes[i])
			abort();
		free(o);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_error err;
	merkle_hash root, root2;
	uint64_t n, n2;
	uint8_t other[32];
	char first[600], tiny[4];
	char *note;
	bool ok;
	int rc;

	if (key == NULL)
		init();
	/* The verifier takes a C string: bytes after a NUL are not seen. */
	note = malloc(size + 1);
	if (note == NULL)
		return 0;
	memcpy(note, data, size);
	note[size] = '\0';

	tg_error_clear(&err);
	rc = audit_note_verify(note, testkey_pub, &n, root, &err);
	if (rc != 0) {
		if (rc != TG_EINVAL || err.code != rc || err.msg[0] == '\0')
			abort();
	} else {
		char origin[256];

		/* The body read on its own says the same. */
		if (note_parse(note, "", testkey_pub, origin, sizeof(origin),
		    &n2, root2, &ok, NULL, 0) != 0 || n2 != n ||
		    memcmp(root, root2, MERKLE_HASH) != 0)
			abort();
		/* Another key did not sign it. */
		memcpy(other, testkey_pub, 32);
		other[31] ^= 0x01;
		if (audit_note_verify(note, other, &n2, root2, &err) == 0)
			abort();
		note_signature_by(note, origin, testkey_pub, first,
		    sizeof(first));
		if (strlen(first) >= sizeof(first) || first[0] == '\0')
			abort();
	}
#ifdef FUZZ_TRACE
	fprintf(stderr, "fuzz_checkpoint: %s\n", rc == 0 ? "verified" :
	    err.msg);
#endif
	note_signature_by(note, "", testkey_pub, tiny, sizeof(tiny));
	if (strlen(tiny) >= sizeof(tiny))
		abort();
	check_parse(note);
	free(note);
	return 0;
}
