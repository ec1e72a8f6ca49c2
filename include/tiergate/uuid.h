/*
 * uuid.h: identifiers for decisions (decision_id): UUID version 7
 * (RFC 9562 section 5.7), which sort by creation time, so audit records
 * and decisions stay in order when listed by id.
 */
#ifndef TIERGATE_UUID_H
#define TIERGATE_UUID_H

#define UUID_STR_LEN 36		/* without the NUL */

/*
 * Writes a new UUIDv7 as 36 lower-case characters and a NUL into out:
 * 48 bits of Unix time in milliseconds, 12 bits of sub-millisecond time
 * (RFC 9562 section 6.2, method 3), 62 bits from the OpenSSL CSPRNG.
 * Returns 0, TG_ECRYPTO when the CSPRNG fails, or -errno when the clock
 * cannot be read (out is then ""). Thread-safe.
 */
int uuid_v7(char out[UUID_STR_LEN + 1]);

#endif
