/*
 * cli_serve.c: `tiergate serve [--listen ADDR:PORT]`: reads the
 * configuration (-c, else etc/tiergate.yaml in a source tree, else
 * /etc/tiergate/tiergate.yaml, else built-in defaults), resolves the data
 * dir and rules (command line over configuration over defaults) and runs
 * the daemon in the foreground.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiergate/config.h"
#include "tiergate/http.h"
#include "tiergate/util.h"

#include "cli.h"

#define SOURCE_CONFIG "etc/tiergate.yaml"
#define SYSTEM_CONFIG "/etc/tiergate/tiergate.yaml"
#define SOURCE_OPENAPI "docs/openapi.yaml"
#define SYSTEM_OPENAPI "/usr/share/tiergate/openapi.yaml"

static int
level_of(const char *s)
{
	if (s == NULL || strcmp(s, "info") == 0)
		return LOG_LVL_INFO;
	if (strcmp(s, "error") == 0)
		return LOG_LVL_ERR;
	if (strcmp(s, "warn") == 0)
		return LOG_LVL_WARN;
	return LOG_LVL_DEBUG;
}

int
cli_serve(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_config cfg;
	struct tg_errlist errs;
	struct serve_opts o;
	const char *listen = NULL, *path = ctx->config;
	int ch, rc, status = CLI_EXIT_FAIL;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (ch == 'l')
			listen = optarg;
		else {
			fputs("usage: tiergate [-c CONFIG] serve "
			    "[--listen ADDR:PORT]\n", ch == 'h' ? stdout :
			    stderr);
			return ch == 'h' ? CLI_EXIT_OK : CLI_EXIT_FAIL;
		}
	}
	if (optind != argc) {
		fputs("usage: tiergate [-c CONFIG] serve [--listen "
		    "ADDR:PORT]\n", stderr);
		return CLI_EXIT_FAIL;
	}
	errlist_init(&errs);
	if (path == NULL && access(SOURCE_CONFIG, F_OK) == 0 &&
	    access("rules/ai-diffusion-2025.yaml", F_OK) == 0)
		path = SOURCE_CONFIG;
	else if (path == NULL && access(SYSTEM_CONFIG, F_OK) == 0)
		path = SYSTEM_CONFIG;
	if (path == NULL)
		config_defaults(&cfg);
	else {
		/* config_load starts from the defaults itself. */
		rc = config_load(path, &cfg, &errs);
		if (rc != 0) {
			char line[TG_ERR_FILE_MAX + TG_ERR_MSG_MAX + 32];

			for (size_t i = 0; i < errs.n; i++) {
				tg_error_format(&errs.v[i], line,
				    sizeof(line));
				fprintf(stderr, "%s\n", line);
			}
			log_warnx("cannot use the configuration '%s'", path);
			goto out;
		}
	}
	log_init("tiergate", level_of(cfg.log_level));
	if (listen != NULL) {
		char *l = strdup(listen);

		if (l == NULL)
			goto out;
		free(cfg.listen);
		cfg.listen = l;
	}
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	/* The command line (or environment) wins over the file, which wins
	 * over the built-in defaults. */
	o.data_dir = ctx->data_dir_given || cfg.data_dir == NULL ?
	    ctx->data_dir : cfg.data_dir;
	if (ctx->rules_given || cfg.nrules == 0) {
		o.rules = ctx->rules;
		o.nrules = ctx->nrules;
	} else {
		o.rules = (const char *const *)cfg.rules;
		o.nrules = cfg.nrules;
	}
	if (o.nrules == 0) {
		log_warnx("no rule pack found (looked in %s)",
		    ctx->rules_searched ? ctx->rules_searched : "the config");
		goto out;
	}
	o.openapi_path = access(SOURCE_OPENAPI, R_OK) == 0 ? SOURCE_OPENAPI :
	    access(SYSTEM_OPENAPI, R_OK) == 0 ? SYSTEM_OPENAPI : NULL;
	rc = http_serve(&o);
	status = rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
	config_release(&cfg);
	errlist_release(&errs);
	return status;
}
