/*
 * cli_token.c: bearer tokens for the HTTP API from the command line.
 *
 *   token create --role screen|audit|admin [--name NAME]
 *   token list [--json]
 *   token revoke ID
 *
 * create prints the new secret on stdout, alone on its line so a script
 * can capture it, and nothing else there; it cannot be shown again (only
 * its hash is stored).  Creating and revoking are audit entries.
 * Exit status: 0 done, 1 refused (unknown or already revoked id), 2 usage
 * or failure.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"
#include "tiergate/tokens.h"
#include "tiergate/util.h"

#include "cli.h"

static void
token_usage(FILE *fp)
{
	fputs("usage: tiergate token create --role screen|audit|admin "
	    "[--name NAME]\n"
	    "       tiergate token list [--json]\n"
	    "       tiergate token revoke ID\n", fp);
}

static int
open_rw(const struct cli_ctx *ctx, struct tg_audit **a)
{
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = audit_open(ctx->data_dir, AUDIT_CREATE, a, &err);
	if (rc != 0)
		log_warnx("%s: %s", ctx->data_dir, err.msg);
	return rc;
}

static int
token_create_cmd(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "role", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char secret[TOKEN_SECRET_LEN + 1];
	struct tg_token_info info;
	struct tg_audit *a = NULL;
	struct tg_error err;
	const char *role_s = NULL, *name = NULL;
	enum tg_role role;
	int ch, rc, status = CLI_EXIT_FAIL;

	secret[0] = '\0';
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			role_s = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		default:
			token_usage(stderr);
			goto out;
		}
	}
	if (optind != argc || role_s == NULL) {
		log_warnx("token create needs --role screen, audit or admin");
		goto out;
	}
	if (role_parse(role_s, &role) != 0) {
		log_warnx("--role: '%s' is not screen, audit or admin",
		    role_s);
		goto out;
	}
	if (open_rw(ctx, &a) != 0)
		goto out;
	tg_error_clear(&err);
	rc = token_create(a, role, name, secret, &info, &err);
	if (rc != 0) {
		log_warnx("token create: %s", err.msg);
		goto out;
	}
	printf("%s\n", secret);
	/* A secret nobody saw is a live credential nobody holds: when
	 * stdout fails, take the token back rather than leave it. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_warnx("cannot write the token to stdout; revoking it");
		tg_error_clear(&err);
		if (token_revoke(a, info.id, &err) != 0)
			log_warnx("token revoke %s: %s", info.id, err.msg);
		goto out;
	}
	fprintf(stderr, "tiergate: token %s (%s%s%s) created; its secret, "
	    "above, will not be shown again\n", info.id, role_name(info.role),
	    info.name[0] ? ", " : "", info.name);
	status = CLI_EXIT_OK;
out:
	OPENSSL_cleanse(secret, sizeof(secret));
	audit_close(a);
	return status;
}

struct list_ctx {
	bool json;
	json_t *rows;
};

static int
list_row(void *arg, const struct tg_token_info *t)
{
	struct list_ctx *l = arg;

	if (l->json)
		return json_array_append_new(l->rows, json_pack("{s:s, s:s, "
		    "s:s, s:s, s:b}", "id", t->id, "name", t->name, "role",
		    role_name(t->role), "created", t->created, "revoked",
		    t->revoked)) == 0 ? 0 : TG_EINTERNAL;
	printf("%-16s  %-6s  %-27s  %-7s  %s\n", t->id, role_name(t->role),
	    t->created, t->revoked ? "revoked" : "active",
	    t->name[0] ? t->name : "-");
	return 0;
}

static int
token_list_cmd(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct list_ctx l = { false, NULL };
	struct tg_audit *a = NULL;
	struct tg_error err;
	char *s = NULL;
	int rc, status = CLI_EXIT_FAIL;

	if (argc == 2 && strcmp(argv[1], "--json") == 0)
		l.json = true;
	else if (argc != 1) {
		token_usage(stderr);
		goto out;
	}
	if (l.json && (l.rows = json_array()) == NULL)
		goto out;
	if (open_rw(ctx, &a) != 0)
		goto out;
	if (!l.json)
		printf("%-16s  %-6s  %-27s  %-7s  %s\n", "id", "role",
		    "created", "status", "name");
	tg_error_clear(&err);
	rc = token_list(a, list_row, &l, &err);
	if (rc != 0) {
		log_warnx("token list: %s", err.msg[0] ? err.msg :
		    tg_strerror(rc));
		goto out;
	}
	if (l.json) {
		s = api_dumps(l.rows, true);
		if (s == NULL)
			goto out;
		puts(s);
	}
	status = CLI_EXIT_OK;
out:
	free(s);
	json_decref(l.rows);
	audit_close(a);
	return status;
}

static int
token_revoke_cmd(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_audit *a = NULL;
	struct tg_error err;
	int rc, status = CLI_EXIT_FAIL;

	if (argc != 2) {
		token_usage(stderr);
		goto out;
	}
	if (open_rw(ctx, &a) != 0)
		goto out;
	tg_error_clear(&err);
	rc = token_revoke(a, argv[1], &err);
	if (rc != 0) {
		log_warnx("token revoke: %s", err.msg);
		/* Unknown or already revoked: refused, not failed. */
		if (rc == TG_ENOTFOUND || rc == TG_EINVAL)
			status = CLI_EXIT_FLAGGED;
		goto out;
	}
	printf("token %s revoked\n", argv[1]);
	status = CLI_EXIT_OK;
out:
	audit_close(a);
	return status;
}

int
cli_token(const struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc < 2) {
		token_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	/* The subcommand's argv starts at its own name, as getopt wants. */
	if (strcmp(argv[1], "create") == 0)
		return token_create_cmd(ctx, argc - 1, argv + 1);
	if (strcmp(argv[1], "list") == 0)
		return token_list_cmd(ctx, argc - 1, argv + 1);
	if (strcmp(argv[1], "revoke") == 0)
		return token_revoke_cmd(ctx, argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		token_usage(stdout);
		return CLI_EXIT_OK;
	}
	token_usage(stderr);
	return CLI_EXIT_FAIL;
}
