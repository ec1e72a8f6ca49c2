/*
 * cli.h: private to daemon/cli: what main() hands each subcommand.
 *
 * main.c parses the global options (before the command name) into a
 * struct cli_ctx and resets getopt; each subcommand (cli_<name>.c) then
 * parses its own argv, whose argv[0] is the command name, and returns the
 * process exit status.  Subcommands report through log.c (stderr) and
 * write results to stdout.
 */
#ifndef TIERGATE_CLI_H
#define TIERGATE_CLI_H

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses shared by the subcommands (contract.md section 4). */
#define CLI_EXIT_OK 0		/* nothing restricted, or command done */
#define CLI_EXIT_FLAGGED 1	/* hold or license_required; lint errors */
#define CLI_EXIT_FAIL 2		/* bad input, usage, or failure */

struct cli_ctx {
	const char *data_dir;		/* --data-dir, $TIERGATE_DATA_DIR,
					 * ./var in a source tree, else
					 * /var/lib/tiergate; never NULL */
	const char *const *rules;	/* --rules paths, else the default */
	size_t nrules;			/* 0: no rules found anywhere */
	const char *rules_searched;	/* where the default was looked for,
					 * for the error message */
	const char *config;		/* -c CONFIG (serve reads it) */
	bool data_dir_given;		/* by --data-dir or the environment */
	bool rules_given;		/* by --rules */
};

/* tiergate check [--dry-run] [FILE|-] */
int cli_check(const struct cli_ctx *ctx, int argc, char **argv);
/* tiergate screen [--dry-run] [--strict] [--format F] [-o OUT] FILE|- */
int cli_screen(const struct cli_ctx *ctx, int argc, char **argv);

/* tiergate rules lint [FILE...] | rules show [FILE...] */
int cli_rules(const struct cli_ctx *ctx, int argc, char **argv);

/* tiergate audit verify|verify-receipt|consistency|show|export|checkpoint */
int cli_audit(const struct cli_ctx *ctx, int argc, char **argv);

/* tiergate license add|list|show|revoke */
int cli_license(const struct cli_ctx *ctx, int argc, char **argv);
/* tiergate decisions void ID --reason R */
int cli_decisions(const struct cli_ctx *ctx, int argc, char **argv);
/* tiergate holds list|show|resolve */
int cli_holds(const struct cli_ctx *ctx, int argc, char **argv);

/* tiergate quota show */
int cli_quota(const struct cli_ctx *ctx, int argc, char **argv);

/* tiergate serve [--listen ADDR:PORT] */
int cli_serve(const struct cli_ctx *ctx, int argc, char **argv);

/* tiergate keygen */
int cli_keygen(const struct cli_ctx *ctx, int argc, char **argv);
int cli_token(const struct cli_ctx *, int, char **);

#endif
