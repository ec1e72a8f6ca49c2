/*
 * hex.c: lower-case hex encoding of hashes and keys, and strict decoding.
 */
#include <string.h>

#include "tiergate/error.h"
#include "tiergate/util.h"

void
hex_encode(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *s, void *out, size_t n)
{
	unsigned char *b = out;

	if (s == NULL || strlen(s) != 2 * n)
		return TG_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return TG_EINVAL;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
