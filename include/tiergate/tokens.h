/*
 * tokens.h: bearer tokens for the HTTP API (contract.md section 3).
 *
 * A token is created once, printed once (from the OS CSPRNG) and stored
 * only as its SHA-256; roles: screen (decisions), audit (audit and reports)
 * and admin (everything, reload).  Tokens live in the data dir's database
 * (table tokens).  Creating and revoking a token is logged in the audit log
 * (kind "token"), without the secret.
 */
#ifndef TIERGATE_TOKENS_H
#define TIERGATE_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "tiergate/audit.h"
#include "tiergate/error.h"

enum tg_role { TG_ROLE_NONE, TG_ROLE_SCREEN, TG_ROLE_AUDIT, TG_ROLE_ADMIN };

const char *role_name(enum tg_role r);
int role_parse(const char *s, enum tg_role *out);	/* 0 or TG_EINVAL */

#define TOKEN_SECRET_LEN 67	/* "tg_" + 64 hex digits */

struct tg_token_info {
	char id[17];			/* public id, 16 hex digits */
	char name[128];
	enum tg_role role;
	char created[32];
	bool revoked;
};

/* Makes a token: secret (NUL-terminated, TOKEN_SECRET_LEN chars) is shown
 * to the user once and never stored. */
int token_create(struct tg_audit *a, enum tg_role role, const char *name,
    char secret[TOKEN_SECRET_LEN + 1], struct tg_token_info *info,
    struct tg_error *err);
/* Revokes by id (TG_ENOTFOUND when unknown). */
int token_revoke(struct tg_audit *a, const char *id, struct tg_error *err);
int token_list(struct tg_audit *a,
    int (*fn)(void *ctx, const struct tg_token_info *t), void *ctx,
    struct tg_error *err);
/* Looks up a presented secret: 0 with *role (TG_ROLE_NONE when unknown or
 * revoked).  Compares hashes in constant time.  Thread-safe. */
int token_check(struct tg_audit *a, const char *secret, size_t len,
    enum tg_role *role, char id[17]);

#endif
