/*
 * utf8.c: strict UTF-8 sequence lengths, for quoting input in messages
 * without ever emitting ill-formed text.
 */
#include <stdint.h>
#include <string.h>

#include "tiergate/util.h"

size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_seq_len(u + i, n - i)) == 0)
			return false;
		i += l;
	}
	return true;
}

void
utf8_clean(char *s)
{
	size_t n = strlen(s), i, l;

	for (i = 0; i < n; i += l) {
		l = utf8_seq_len((const unsigned char *)s + i, n - i);
		if (l == 0) {
			s[i] = '?';
			l = 1;
		}
	}
}
