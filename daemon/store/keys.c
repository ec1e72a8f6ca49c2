/*
 * keys.c: the Ed25519 signing key pair (OpenSSL EVP only).
 *
 * The private key lives in signing.key (PEM, PKCS#8, mode 0600) and is
 * refused when group or others may read it: a key an outsider can read
 * proves nothing.  The key id is the SHA-256 of the raw 32-byte public key.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "store_int.h"
#include "tiergate/util.h"

static int
ssl_error(struct tg_error *err, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown error");
	ERR_clear_error();
	return tg_error_set(err, TG_ECRYPTO, "%s: %s", what, buf);
}

int
key_load_private(const char *path, EVP_PKEY **out, struct tg_error *err)
{
	struct stat st;
	FILE *fp;
	EVP_PKEY *k;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return tg_error_set(err, TG_EIO, "cannot open signing key "
		    "'%s': %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return tg_error_set(err, TG_EINVAL, "signing key '%s' is not "
		    "a regular file", path);
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		close(fd);
		return tg_error_set(err, TG_EINVAL, "signing key '%s' is "
		    "accessible by group or others (mode %03o); run chmod 600",
		    path, (unsigned)(st.st_mode & 0777));
	}
	fp = fdopen(fd, "r");
	if (fp == NULL) {
		close(fd);
		return tg_error_set(err, TG_EIO, "cannot read signing key "
		    "'%s': %s", path, strerror(errno));
	}
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (k == NULL)
		return ssl_error(err, "cannot parse signing key");
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return tg_error_set(err, TG_EINVAL, "signing key '%s' is not "
		    "an Ed25519 key", path);
	}
	*out = k;
	return 0;
}

int
key_generate(EVP_PKEY **out, struct tg_error *err)
{
	EVP_PKEY_CTX *c;
	EVP_PKEY *k = NULL;

	*out = NULL;
	c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	if (c == NULL || EVP_PKEY_keygen_init(c) != 1 ||
	    EVP_PKEY_keygen(c, &k) != 1) {
		EVP_PKEY_CTX_free(c);
		return ssl_error(err, "cannot generate an Ed25519 key");
	}
	EVP_PKEY_CTX_free(c);
	*out = k;
	return 0;
}

/* Writes via a temporary file and rename, so a crash never leaves half a
 * key behind. */
static int
write_pem(const char *dir, const char *name, EVP_PKEY *k, bool private_key,
    struct tg_error *err)
{
	char path[4096], tmp[4200];
	FILE *fp;
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    private_key ? 0600 : 0644);
	if (fd < 0)
		return tg_error_set(err, TG_EIO, "cannot create '%s': %s",
		    tmp, strerror(errno));
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		close(fd);
		unlink(tmp);
		return tg_error_set(err, TG_EIO, "cannot write '%s'", tmp);
	}
	ok = private_key ?
	    PEM_write_PrivateKey(fp, k, NULL, NULL, 0, NULL, NULL) :
	    PEM_write_PUBKEY(fp, k);
	if (ok != 1 || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		fclose(fp);
		unlink(tmp);
		return ssl_error(err, "cannot write key file");
	}
	fclose(fp);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return tg_error_set(err, TG_EIO, "cannot rename '%s': %s", tmp,
		    strerror(errno));
	}
	return 0;
}

int
key_write_pair(const char *dir, const char *keyname, const char *pubname,
    EVP_PKEY *k, struct tg_error *err)
{
	int rc = write_pem(dir, keyname, k, true, err);

	if (rc == 0)
		rc = write_pem(dir, pubname, k, false, err);
	return rc;
}

int
key_raw_public(EVP_PKEY *k, uint8_t pub[32], struct tg_error *err)
{
	size_t len = 32;

	if (EVP_PKEY_get_raw_public_key(k, pub, &len) != 1 || len != 32)
		return ssl_error(err, "cannot read the public key");
	return 0;
}

int
key_id_of(const uint8_t pub[32], char id[65])
{
	unsigned char d[32];
	unsigned int dl = 0;

	if (EVP_Digest(pub, 32, d, &dl, EVP_sha256(), NULL) != 1 || dl != 32) {
		ERR_clear_error();
		id[0] = '\0';
		return TG_ECRYPTO;
	}
	hex_encode(d, 32, id);
	return 0;
}

int
key_sign(EVP_PKEY *k, const void *msg, size_t len, uint8_t sig[64],
    struct tg_error *err)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t sl = 64;
	int rc = 0;

	if (c == NULL || EVP_DigestSignInit(c, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(c, sig, &sl, msg, len) != 1 || sl != 64)
		rc = ssl_error(err, "cannot sign the checkpoint");
	EVP_MD_CTX_free(c);
	return rc;
}

int
key_verify_raw(const uint8_t pub[32], const void *msg, size_t len,
    const uint8_t sig[64])
{
	EVP_PKEY *k;
	EVP_MD_CTX *c;
	int ok = 0;

	k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	c = EVP_MD_CTX_new();
	if (k != NULL && c != NULL &&
	    EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1)
		ok = EVP_DigestVerify(c, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	ERR_clear_error();
	return ok ? 0 : TG_EINVAL;
}

int
audit_read_pubkey(const char *path, uint8_t pub[32], struct tg_error *err)
{
	FILE *fp = fopen(path, "r");
	EVP_PKEY *k;
	int rc;

	if (fp == NULL)
		return tg_error_set(err, TG_EIO, "cannot open public key "
		    "'%s': %s", path, strerror(errno));
	k = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		ERR_clear_error();
		return tg_error_set(err, TG_EINVAL, "'%s' is not a PEM Ed25519 "
		    "public key", path);
	}
	rc = key_raw_public(k, pub, err);
	EVP_PKEY_free(k);
	return rc;
}

int
b64_encode(const void *p, size_t n, char *out, size_t outsz)
{
	if (outsz < 4 * ((n + 2) / 3) + 1 || n > INT32_MAX)
		return TG_ETOOBIG;
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return 0;
}

int
b64_decode(const char *s, uint8_t *out, size_t outsz, size_t *n)
{
	size_t len = strlen(s), pad = 0;
	unsigned char tmp[1024];
	int r;

	/* EVP_DecodeBlock ignores padding when it counts; undo that, and
	 * refuse anything that is not canonical padded base64. */
	if (len == 0 || len % 4 != 0 || len > 4 * sizeof(tmp) / 3)
		return TG_EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' ||
		    (c == '=' && i >= len - 2)))
			return TG_EINVAL;
	}
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	if (pad == 1 && s[len - 2] == '=')
		return TG_EINVAL;
	r = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	if (r < 0 || (size_t)r < pad || (size_t)r - pad > outsz)
		return TG_EINVAL;
	*n = (size_t)r - pad;
	memcpy(out, tmp, *n);
	return 0;
}
