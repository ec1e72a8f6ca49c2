/*
 * main.c: the tiergate command: global options, then one subcommand.
 *
 *	tiergate [--data-dir DIR] [--rules PATH]... [-c CONFIG] command ...
 *
 * Global options come before the command name; everything after it
 * belongs to the command.  Which rule pack is used when --rules is not
 * given is decided here, once, so every command agrees (see
 * find_default_rules).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiergate/util.h"

#include "cli.h"

#ifndef TIERGATE_VERSION
#define TIERGATE_VERSION "0.1.0"
#endif

/* The installed rule directory of a distribution package. */
#define SYSTEM_RULES "/usr/share/tiergate/rules"
/* Relative to the binary's directory: PREFIX/bin -> PREFIX/share/... */
#define EXE_RULES "/../share/tiergate/rules"
/* The file that marks a source tree's rules/ directory. */
#define SOURCE_MARKER "rules/ai-diffusion-2025.yaml"

struct command {
	const char *name;
	int (*run)(const struct cli_ctx *, int, char **);
};

static const struct command commands[] = {
	{ "check", cli_check },
	{ "screen", cli_screen },
	{ "serve", cli_serve },
	{ "rules", cli_rules },
	{ "audit", cli_audit },
	{ "keygen", cli_keygen },
	{ "license", cli_license },
	{ "decisions", cli_decisions },
	{ "quota", cli_quota },
	{ "holds", cli_holds },
	{ "token", cli_token },
};

/* The data dir of a source checkout (`make run`), and of a system. */
#define SOURCE_DATA_DIR "var"
#define SYSTEM_DATA_DIR "/var/lib/tiergate"

enum {
	OPT_DATA_DIR = 256,
	OPT_RULES,
	OPT_VERSION,
};

static const struct option global_opts[] = {
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "rules", required_argument, NULL, OPT_RULES },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static char exe_rules[PATH_MAX];

static void
usage(FILE *fp)
{
	fputs("usage: tiergate [options] command [args]\n"
	    "\n"
	    "commands:\n"
	    "  check [--dry-run] [FILE|-]  decide one query (JSON, default "
	    "stdin)\n"
	    "                              and print the decision (JSON)\n"
	    "  screen [--dry-run] [--strict] [--format csv|jsonl] [-o OUT] "
	    "FILE|-\n"
	    "                              decide a batch (CSV or JSON "
	    "Lines); a\n"
	    "                              decision per row, summary on "
	    "stderr\n"
	    "  serve [--listen ADDR:PORT]  run the REST daemon (foreground)\n"
	    "  rules lint [FILE...]        check rule pack files; print "
	    "every mistake\n"
	    "  rules show [FILE...]        print the compiled rule pack\n"
	    "  audit verify [--checkpoint FILE] [--key PUB]\n"
	    "                              verify the whole audit log\n"
	    "  audit verify-receipt --key PUB FILE\n"
	    "                              verify a decision's receipt "
	    "offline\n"
	    "  audit consistency OLD NEW   prove checkpoint NEW extends OLD\n"
	    "  audit show SEQ              print one log entry (JSON)\n"
	    "  audit export [--from N] [--to M]\n"
	    "                              entries as JSON Lines, with "
	    "proofs\n"
	    "  audit checkpoint            print the latest signed "
	    "checkpoint\n"
	    "  audit report --from D --to D [--format html|csv|json] [-o F]\n"
	    "                              compliance report for a period\n"
	    "  keygen                      make a signing key (rotate if one "
	    "exists)\n"
	    "  license add|list|show|revoke  export licenses in the ledger\n"
	    "  decisions void ID --reason R  void a decision, releasing its "
	    "quota\n"
	    "  holds list [--open] [--json] | holds show ID\n"
	    "  holds resolve ID --release|--reject --reason R --officer N\n"
	    "                              held decisions (red flags)\n"
	    "  quota show [--consignee K] [--country CC] [--year Y] [--json]\n"
	    "                              ledger balances\n"
	    "  token create|list|revoke    HTTP API bearer tokens\n"
	    "\n"
	    "options (before the command):\n"
	    "  --data-dir DIR  database and signing key (default: "
	    "$TIERGATE_DATA_DIR,\n"
	    "                  else ./" SOURCE_DATA_DIR " in the source tree, "
	    "else " SYSTEM_DATA_DIR ")\n"
	    "  --rules PATH    a rule pack or product catalog file, or a "
	    "directory of\n"
	    "                  them; repeatable.  Default: ./rules when run "
	    "from the\n"
	    "                  source tree (./" SOURCE_MARKER " exists),\n"
	    "                  else " SYSTEM_RULES ", else\n"
	    "                  PREFIX/share/tiergate/rules for the "
	    "PREFIX/bin holding\n"
	    "                  this program\n"
	    "  -c CONFIG       configuration file for serve (default: "
	    "etc/tiergate.yaml\n"
	    "                  in a source tree, else /etc/tiergate/"
	    "tiergate.yaml)\n"
	    "  -h, --help      print this help\n"
	    "  --version       print the version\n"
	    "\n"
	    "exit status of check and screen: 0 no_license_required or "
	    "authorized, 1 hold\n"
	    "or license_required, 2 bad input or failure\n", fp);
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The rules next to the binary: readlink(/proc/self/exe) gives the real
 * path even when run through a symlink or $PATH.  Linux only; elsewhere
 * this candidate is skipped.
 */
static const char *
exe_relative_rules(void)
{
	char exe[PATH_MAX];
	char *slash;
	ssize_t n;
	int len;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash == NULL)
		return NULL;
	*slash = '\0';
	len = snprintf(exe_rules, sizeof(exe_rules), "%s" EXE_RULES, exe);
	if (len < 0 || (size_t)len >= sizeof(exe_rules))
		return NULL;
	return exe_rules;
}

/*
 * Without --rules: the source tree's rules/ when run from a checkout (so
 * `make run` and the tests use the rules being edited), then the
 * distribution's directory, then the one of the PREFIX this binary was
 * installed under (`make install PREFIX=...`).
 */
static const char *
find_default_rules(void)
{
	const char *p;

	if (access(SOURCE_MARKER, F_OK) == 0)
		return "rules";
	if (is_dir(SYSTEM_RULES))
		return SYSTEM_RULES;
	p = exe_relative_rules();
	if (p != NULL && is_dir(p))
		return p;
	return NULL;
}

/* -c: config files are not read yet, but a wrong path is still a
 * mistake worth reporting now rather than when they are. */
static int
check_config(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		log_warn("cannot open config file '%s'", path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_warnx("config file '%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
main(int argc, char *argv[])
{
	static const char *default_rules[1];
	struct cli_ctx ctx;
	const char **rules = NULL;
	const char *p;
	size_t i, nrules = 0;
	int ch, status = CLI_EXIT_FAIL;

	log_init("tiergate", LOG_LVL_WARN);
	memset(&ctx, 0, sizeof(ctx));
	ctx.data_dir = getenv("TIERGATE_DATA_DIR");
	if (ctx.data_dir != NULL && ctx.data_dir[0] == '\0')
		ctx.data_dir = NULL;

	/* At most one --rules per argument. */
	rules = calloc((size_t)argc + 1, sizeof(*rules));
	if (rules == NULL)
		fatal("calloc");

	/* "+": stop at the command name; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+c:h", global_opts,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_DATA_DIR:
			ctx.data_dir = optarg;
			break;
		case OPT_RULES:
			rules[nrules++] = optarg;
			break;
		case 'c':
			ctx.config = optarg;
			break;
		case 'h':
			usage(stdout);
			status = CLI_EXIT_OK;
			goto out;
		case OPT_VERSION:
			printf("tiergate %s\n", TIERGATE_VERSION);
			status = CLI_EXIT_OK;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		goto out;
	}
	if (ctx.config != NULL && check_config(ctx.config) != 0)
		goto out;

	ctx.data_dir_given = ctx.data_dir != NULL;
	ctx.rules_given = nrules > 0;
	if (ctx.data_dir == NULL)
		ctx.data_dir = access(SOURCE_MARKER, F_OK) == 0 ?
		    SOURCE_DATA_DIR : SYSTEM_DATA_DIR;
	if (nrules > 0) {
		ctx.rules = rules;
		ctx.nrules = nrules;
	} else {
		ctx.rules_searched = "./rules, " SYSTEM_RULES
		    ", PREFIX/share/tiergate/rules";
		p = find_default_rules();
		if (p != NULL) {
			default_rules[0] = p;
			ctx.rules = default_rules;
			ctx.nrules = 1;
		}
	}

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[0], commands[i].name) != 0)
			continue;
		/* Let the command's getopt start afresh at its argv[1]
		 * (0 makes glibc reinitialize its state too). */
		optind = 0;
		status = commands[i].run(&ctx, argc, argv);
		goto out;
	}
	log_warnx("unknown command '%s' (see 'tiergate --help')", argv[0]);
out:
	free(rules);
	return status;
}
