/*
 * cli_rules.c: `tiergate rules lint [FILE...]` and `tiergate rules show
 * [FILE...]`: load rule packs the way the daemon does and either list
 * every mistake (file:line:col: message, one per line, so one run shows
 * them all) or print the compiled result.  Without files, the rules the
 * other commands would use (--rules or the default).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/util.h"

#include "cli.h"

static const struct option rules_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
rules_usage(FILE *fp)
{
	fputs("usage: tiergate rules lint [FILE...]\n"
	    "       tiergate rules show [FILE...]\n"
	    "  lint: load the rule pack and product catalog and report "
	    "every mistake\n"
	    "        (exit 1), or print 'rules OK'\n"
	    "  show: print the compiled rule pack\n"
	    "  FILE: a YAML file or a directory of them; default: the rules "
	    "in use\n", fp);
}

/* Loads the files named in argv, or ctx's rules when there are none.
 * Prints the errors; returns an exit status. */
static int
rules_load(const struct cli_ctx *ctx, int argc, char **argv,
    struct tg_pack **out)
{
	char line[TG_ERR_FILE_MAX + TG_ERR_POINTER_MAX + TG_ERR_MSG_MAX + 64];
	struct tg_errlist errs;
	const char *const *paths;
	size_t i, npaths;
	int rc, status = CLI_EXIT_FAIL;

	errlist_init(&errs);
	*out = NULL;
	if (argc > 0) {
		paths = (const char *const *)argv;
		npaths = (size_t)argc;
	} else {
		paths = ctx->rules;
		npaths = ctx->nrules;
	}
	if (npaths == 0) {
		log_warnx("no rule pack found (looked in %s); name the files "
		    "or use --rules PATH", ctx->rules_searched);
		goto out;
	}
	rc = pack_load(paths, npaths, out, &errs);
	if (rc == 0) {
		status = CLI_EXIT_OK;
		goto out;
	}
	for (i = 0; i < errs.n; i++) {
		tg_error_format(&errs.v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	if (errs.dropped > 0)
		fprintf(stderr, "(%zu more errors not shown)\n", errs.dropped);
	if (errs.n == 0)
		log_warnx("cannot load rules: %s", tg_strerror(rc));
	/* Mistakes in the rules are lint's findings (1); running out of
	 * memory is a failure to check (2). */
	status = rc == TG_ERULES ? CLI_EXIT_FLAGGED : CLI_EXIT_FAIL;
out:
	errlist_release(&errs);
	return status;
}

int
cli_rules(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_pack *pack = NULL;
	const char *verb;
	int ch, status = CLI_EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "+h", rules_opts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			rules_usage(stdout);
			status = CLI_EXIT_OK;
			goto out;
		default:
			rules_usage(stderr);
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		rules_usage(stderr);
		goto out;
	}
	verb = argv[0];
	argc--;
	argv++;
	if (strcmp(verb, "lint") == 0) {
		status = rules_load(ctx, argc, argv, &pack);
		if (status == CLI_EXIT_OK)
			printf("rules OK\n");
	} else if (strcmp(verb, "show") == 0) {
		status = rules_load(ctx, argc, argv, &pack);
		if (status == CLI_EXIT_OK)
			pack_show(pack, stdout);
	} else {
		log_warnx("unknown rules command '%s' (lint or show)", verb);
		rules_usage(stderr);
		goto out;
	}
	if (status == CLI_EXIT_OK && fflush(stdout) == EOF) {
		log_warn("cannot write to stdout");
		status = CLI_EXIT_FAIL;
	}
out:
	pack_unref(pack);
	return status;
}
