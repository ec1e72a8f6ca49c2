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

/* Word-at-a-time tests (Hacker's Delight 6-1, "Bit Twiddling Hacks"):
 * each is nonzero exactly when some byte of w qualifies.  Decisions are
 * mostly ASCII prose, and these scans were a third of writing one. */
#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

static uint64_t
load8(const unsigned char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

/* Nonzero when some byte of w is below n (n <= 0x80); bytes of 0x80 and
 * up never count (~w masks them).  No borrow leaves a byte that is not
 * below n, so "nonzero" is exact, though the flagged bits past the
 * first hit are not. */
static uint64_t
has_less(uint64_t w, unsigned n)
{
	return (w - ONES * n) & ~w & HIGHS;
}

/* A byte below 0x20, a '"' or a '\\'. */
static uint64_t
needs_escape(uint64_t w)
{
	return has_less(w, 0x20) | has_less(w ^ (ONES * '"'), 1) |
	    has_less(w ^ (ONES * '\\'), 1);
}

size_t
json_plain_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		if (needs_escape(load8(u + i)) != 0)
			break;
	for (; i < n; i++)
		if (u[i] < 0x20 || u[i] == '"' || u[i] == '\\')
			break;
	return i;
}

bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	while (i < n) {
		if (i + 8 <= n && (load8(u + i) & HIGHS) == 0) {
			i += 8;
			continue;
		}
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
