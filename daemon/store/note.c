/*
 * note.c: checkpoints as C2SP signed notes (c2sp.org/signed-note,
 * c2sp.org/tlog-checkpoint), so that any witness or auditor tool that
 * speaks the format can check tiergate's log:
 *
 *   <origin>\n<tree size>\n<base64 root hash>\n
 *   \n
 *   — <key name> <base64(key hash[4] || Ed25519 signature[64])>\n
 *
 * The signature covers the text above the blank line; the key hash is
 * SHA-256(name || "\n" || 0x01 || public key)[:4] (0x01: Ed25519).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "store_int.h"
#include "tiergate/util.h"

#define EM_DASH "\xe2\x80\x94"

/* The note's key hash of (name, pub) into out; TG_ECRYPTO (out zeroed)
 * when the digest fails.  A checkpoint signed under a zeroed key hash
 * would stay unverifiable for good, so note_sign fails instead; a
 * reader just finds no matching signature. */
static int
key_hash(const char *name, const uint8_t pub[32], uint8_t out[4])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char d[32];
	unsigned char alg = 0x01;
	unsigned int dl = 0;
	int rc = TG_ECRYPTO;

	memset(out, 0, 4);
	if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(c, name, strlen(name)) == 1 &&
	    EVP_DigestUpdate(c, "\n", 1) == 1 &&
	    EVP_DigestUpdate(c, &alg, 1) == 1 &&
	    EVP_DigestUpdate(c, pub, 32) == 1 &&
	    EVP_DigestFinal_ex(c, d, &dl) == 1 && dl == 32) {
		memcpy(out, d, 4);
		rc = 0;
	} else
		ERR_clear_error();
	EVP_MD_CTX_free(c);
	return rc;
}

int
note_sign(const char *origin, uint64_t size, const merkle_hash root,
    EVP_PKEY *const *keys, const uint8_t (*pubs)[32], size_t nkeys,
    char *out, size_t outsz, struct tg_error *err)
{
	char rootb64[64], sigb64[128];
	uint8_t blob[68];
	size_t len;
	int n, rc;

	if (b64_encode(root, MERKLE_HASH, rootb64, sizeof(rootb64)) != 0)
		return tg_error_set(err, TG_EINTERNAL, "base64 failed");
	n = snprintf(out, outsz, "%s\n%" PRIu64 "\n%s\n", origin, size,
	    rootb64);
	if (n < 0 || (size_t)n >= outsz)
		return tg_error_set(err, TG_ETOOBIG, "checkpoint too long");
	len = (size_t)n;
	for (size_t i = 0; i < nkeys; i++) {
		if (key_hash(origin, pubs[i], blob) != 0)
			return tg_error_set(err, TG_ECRYPTO, "cannot hash the "
			    "key name of the checkpoint");
		rc = key_sign(keys[i], out, (size_t)n, blob + 4, err);
		if (rc != 0)
			return rc;
		if (b64_encode(blob, sizeof(blob), sigb64, sizeof(sigb64)) != 0)
			return tg_error_set(err, TG_EINTERNAL, "base64 failed");
		rc = snprintf(out + len, outsz - len, "%s" EM_DASH " %s %s\n",
		    i == 0 ? "\n" : "", origin, sigb64);
		if (rc < 0 || (size_t)rc >= outsz - len)
			return tg_error_set(err, TG_ETOOBIG,
			    "checkpoint too long");
		len += (size_t)rc;
	}
	return 0;
}

int
note_parse(const char *note, const char *name, const uint8_t pub[32],
    char *origin, size_t originsz, uint64_t *size, merkle_hash root,
    bool *signed_ok, char *sig_b64, size_t sigsz)
{
	const char *sep, *l1, *l2, *l3, *p;
	uint8_t want[4], blob[80];
	char rootb64[64], line[512], num[24];
	size_t textlen, n;
	long long v;

	*signed_ok = false;
	if (sig_b64 != NULL && sigsz > 0)
		sig_b64[0] = '\0';
	if (strlen(note) > NOTE_MAX)
		return TG_EINVAL;
	sep = strstr(note, "\n\n");
	if (sep == NULL)
		return TG_EINVAL;
	textlen = (size_t)(sep - note) + 1;
	l1 = note;
	l2 = memchr(l1, '\n', textlen);
	if (l2 == NULL)
		return TG_EINVAL;
	l2++;
	l3 = memchr(l2, '\n', textlen - (size_t)(l2 - note));
	if (l3 == NULL)
		return TG_EINVAL;
	l3++;
	/* Exactly three lines: origin, size, root (no extension lines). */
	if ((size_t)(l3 - note) >= textlen ||
	    memchr(l3, '\n', textlen - (size_t)(l3 - note)) != sep)
		return TG_EINVAL;
	if ((size_t)(l2 - l1) > originsz || l2 - l1 < 2)
		return TG_EINVAL;
	memcpy(origin, l1, (size_t)(l2 - l1 - 1));
	origin[l2 - l1 - 1] = '\0';
	if ((size_t)(l3 - l2 - 1) >= sizeof(num) || l3 - l2 < 2)
		return TG_EINVAL;
	memcpy(num, l2, (size_t)(l3 - l2 - 1));
	num[l3 - l2 - 1] = '\0';
	if (num[0] == '0' && num[1] != '\0')
		return TG_EINVAL;	/* no leading zeros */
	if (parse_llong(num, &v) != 0 || v < 0)
		return TG_EINVAL;
	*size = (uint64_t)v;
	if ((size_t)(sep - l3) >= sizeof(rootb64))
		return TG_EINVAL;
	memcpy(rootb64, l3, (size_t)(sep - l3));
	rootb64[sep - l3] = '\0';
	if (b64_decode(rootb64, root, MERKLE_HASH, &n) != 0 ||
	    n != MERKLE_HASH)
		return TG_EINVAL;

	(void)key_hash(name, pub, want);
	p = sep + 2;
	while (*p != '\0') {
		const char *nl = strchr(p, '\n'), *sp;
		size_t ll;

		if (nl == NULL)
			return TG_EINVAL;	/* lines end with \n */
		ll = (size_t)(nl - p);
		if (ll >= sizeof(line) || ll < sizeof(EM_DASH) + 2 ||
		    memcmp(p, EM_DASH " ", sizeof(EM_DASH)) != 0)
			return TG_EINVAL;
		memcpy(line, p + sizeof(EM_DASH), ll - sizeof(EM_DASH));
		line[ll - sizeof(EM_DASH)] = '\0';
		sp = strrchr(line, ' ');
		if (sp == NULL)
			return TG_EINVAL;
		if ((size_t)(sp - line) == strlen(name) &&
		    memcmp(line, name, strlen(name)) == 0 &&
		    b64_decode(sp + 1, blob, sizeof(blob), &n) == 0 &&
		    n == 68 && memcmp(blob, want, 4) == 0) {
			if (key_verify_raw(pub, note, textlen, blob + 4) == 0) {
				*signed_ok = true;
				if (sig_b64 != NULL)
					snprintf(sig_b64, sigsz, "%s", sp + 1);
			}
		}
		p = nl + 1;
	}
	return 0;
}

int
audit_note_verify(const char *note, const uint8_t pub[32], uint64_t *size,
    merkle_hash root, struct tg_error *err)
{
	char origin[256];
	bool ok;

	/* The key name is the origin line; read it first to know it. */
	if (note_parse(note, "", pub, origin, sizeof(origin), size, root,
	    &ok, NULL, 0) != 0)
		return tg_error_set(err, TG_EINVAL, "malformed checkpoint");
	if (note_parse(note, origin, pub, origin, sizeof(origin), size, root,
	    &ok, NULL, 0) != 0 || !ok)
		return tg_error_set(err, TG_EINVAL, "checkpoint is not signed "
		    "by this key (or the signature is bad)");
	return 0;
}

void
note_signature_by(const char *note, const char *name, const uint8_t pub[32],
    char *out, size_t size)
{
	const char *p = strstr(note, "\n\n"), *nl, *sp;
	uint8_t want[4], blob[80];
	char b64[128];
	size_t n;

	out[0] = '\0';
	if (p == NULL || key_hash(name, pub, want) != 0)
		return;
	/* Each line: EM_DASH, a space, the key name, a space, base64 of
	 * the 4-byte key hash and the signature.  No signature is checked:
	 * the caller has just made it, or verifies the note elsewhere. */
	for (p += 2; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		for (sp = nl; sp > p && sp[-1] != ' '; sp--)
			;
		if (sp == p || (size_t)(nl - sp) >= sizeof(b64) ||
		    (size_t)(nl - sp) >= size)
			continue;
		memcpy(b64, sp, (size_t)(nl - sp));
		b64[nl - sp] = '\0';
		if (b64_decode(b64, blob, sizeof(blob), &n) == 0 && n == 68 &&
		    memcmp(blob, want, 4) == 0) {
			memcpy(out, b64, (size_t)(nl - sp) + 1);
			return;
		}
	}
}
