/*
 * uuid.c: UUIDv7 (RFC 9562) for decision ids.
 *
 * Layout, most significant bit first: unix_ts_ms (48) | ver = 7 (4) |
 * rand_a (12) | var = 0b10 (2) | rand_b (62).  rand_a carries the
 * sub-millisecond fraction of the clock (RFC 9562 section 6.2, method 3)
 * so ids made by one process in quick succession mostly sort in order;
 * rand_b comes from RAND_bytes, so ids are unguessable.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include <openssl/rand.h>

#include "tiergate/error.h"
#include "tiergate/uuid.h"

int
uuid_v7(char out[UUID_STR_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	struct timespec ts;
	unsigned char b[16];
	uint64_t ms;
	unsigned int frac;
	size_t i, o;

	out[0] = '\0';
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -errno;
	if (RAND_bytes(b + 8, 8) != 1)
		return TG_ECRYPTO;
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	/* Nanoseconds within the millisecond, scaled to 12 bits. */
	frac = (unsigned int)(((uint64_t)ts.tv_nsec % 1000000) * 4096 /
	    1000000);

	b[0] = (unsigned char)(ms >> 40);
	b[1] = (unsigned char)(ms >> 32);
	b[2] = (unsigned char)(ms >> 24);
	b[3] = (unsigned char)(ms >> 16);
	b[4] = (unsigned char)(ms >> 8);
	b[5] = (unsigned char)ms;
	b[6] = (unsigned char)(0x70 | ((frac >> 8) & 0x0f));
	b[7] = (unsigned char)(frac & 0xff);
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));

	o = 0;
	for (i = 0; i < sizeof(b); i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[b[i] >> 4];
		out[o++] = hex[b[i] & 0x0f];
	}
	out[o] = '\0';
	return 0;
}
