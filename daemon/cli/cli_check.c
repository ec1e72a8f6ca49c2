/*
 * cli_check.c: `tiergate check [--dry-run] [FILE|-]`: one query (JSON)
 * in, one decision (JSON) out.
 *
 * The query is decided against the quota and license ledger in the data
 * dir, and the decision (dry runs included, marked) is appended to the
 * signed audit log together with what it reserves (binding runs only); it
 * is printed only once committed and signed, with its receipt.  The exit status says
 * whether the goods may ship (contract.md section 4): 0 no licence needed
 * or authorized, 1 hold or license_required, 2 the query could not be
 * decided.  Diagnostics name the input and the exact place in it, as
 * "tiergate: FILE: /pointer: message" for a bad field and
 * "FILE:line:col: message" for malformed JSON.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"
#include "tiergate/decision.h"
#include "tiergate/engine.h"
#include "tiergate/error.h"
#include "tiergate/jcs.h"
#include "tiergate/query.h"
#include "tiergate/util.h"
#include "tiergate/uuid.h"

#include "cli.h"

/* A query is a few kilobytes; 1000 items stay well below this. */
#define CHECK_QUERY_MAX ((size_t)1 << 20)

static const struct option check_opts[] = {
	{ "dry-run", no_argument, NULL, 'n' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void
check_usage(FILE *fp)
{
	fputs("usage: tiergate check [--dry-run] [FILE|-]\n"
	    "  decide the query in FILE (JSON; default or '-': stdin) and "
	    "print the\n"
	    "  decision (JSON) on stdout.  --dry-run: reserve no quota.\n"
	    "  exit status: 0 no_license_required or authorized, 1 hold or\n"
	    "  license_required, 2 bad input or failure\n", fp);
}

/* An error about the query in file name: its field, or its syntax. */
static void
report_query_error(const char *name, struct tg_error *err)
{
	char line[TG_ERR_FILE_MAX + TG_ERR_POINTER_MAX + TG_ERR_MSG_MAX + 64];
	const char *msg;

	msg = err->msg[0] != '\0' ? err->msg : tg_strerror(err->code);
	if (err->pointer[0] != '\0')
		log_warnx("%s: %s: %s", name, err->pointer, msg);
	else if (err->line > 0) {
		/* Compiler style, so editors can jump to the spot. */
		if (snprintf(err->file, sizeof(err->file), "%s", name) < 0)
			err->file[0] = '\0';
		tg_error_format(err, line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	} else
		log_warnx("%s: %s", name, msg);
}

static void
report_rules_errors(const struct cli_ctx *ctx, const struct tg_errlist *errs,
    int rc)
{
	char line[TG_ERR_FILE_MAX + TG_ERR_POINTER_MAX + TG_ERR_MSG_MAX + 64];
	size_t i;

	log_warnx("cannot load rules from '%s'%s: %s", ctx->rules[0],
	    ctx->nrules > 1 ? " and others" : "", tg_strerror(rc));
	for (i = 0; i < errs->n; i++) {
		tg_error_format(&errs->v[i], line, sizeof(line));
		fprintf(stderr, "%s\n", line);
	}
	if (errs->dropped > 0)
		fprintf(stderr, "(%zu more errors not shown)\n",
		    errs->dropped);
}

int
cli_check(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_buf in, out;
	struct tg_errlist errs;
	struct tg_error err;
	struct tg_query forced;
	struct tg_arena *arena = NULL;
	struct tg_pack *pack = NULL;
	struct tg_decision *d = NULL;
	const struct tg_query *q;
	json_t *request = NULL;
	struct tg_audit *audit = NULL;
	struct audit_tx *tx = NULL;
	struct audit_receipt receipt;
	char *text = NULL, *reqc = NULL;
	char id[UUID_STR_LEN + 1];
	const char *path, *name;
	bool dry_run = false, nomem;
	int ch, rc, status = CLI_EXIT_FAIL;

	buf_init(&in, CHECK_QUERY_MAX);
	buf_init(&out, (size_t)64 << 20);
	errlist_init(&errs);
	tg_error_clear(&err);

	while ((ch = getopt_long(argc, argv, "h", check_opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			dry_run = true;
			break;
		case 'h':
			check_usage(stdout);
			status = CLI_EXIT_OK;
			goto out;
		default:
			check_usage(stderr);
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc > 1) {
		check_usage(stderr);
		goto out;
	}
	path = argc == 1 ? argv[0] : "-";
	name = strcmp(path, "-") == 0 ? "<stdin>" : path;

	rc = buf_read_file(&in, path);
	if (rc == TG_ETOOBIG) {
		log_warnx("%s: query is larger than %zu bytes", name,
		    (size_t)CHECK_QUERY_MAX);
		goto out;
	}
	if (rc != 0) {
		log_warnx("cannot read query '%s': %s", name, tg_strerror(rc));
		goto out;
	}

	arena = arena_new(0);
	if (arena == NULL) {
		log_warnx("cannot allocate memory for the query");
		goto out;
	}
	rc = api_query_parse(in.p, in.len, arena, date_today(), &q, &err);
	if (rc != 0) {
		report_query_error(name, &err);
		goto out;
	}
	if (dry_run) {
		/* The decoded query is read-only; override on a copy. */
		forced = *q;
		forced.dry_run = true;
		q = &forced;
	}

	if (ctx->nrules == 0) {
		log_warnx("no rule pack found (looked in %s); use --rules PATH",
		    ctx->rules_searched);
		goto out;
	}
	rc = pack_load(ctx->rules, ctx->nrules, &pack, &errs);
	if (rc != 0) {
		report_rules_errors(ctx, &errs, rc);
		goto out;
	}

	rc = uuid_v7(id);
	if (rc != 0) {
		log_warnx("cannot make a decision id: %s", tg_strerror(rc));
		goto out;
	}
	/* The query as received is what the log commits to.  It decoded
	 * above, so only memory can fail here, and a decision logged with
	 * a null request would not be what was asked. */
	request = api_json_loadb(in.p, in.len, JSON_REJECT_DUPLICATES, NULL,
	    &nomem);
	if (request == NULL) {
		log_warnx("cannot keep the query for the audit log: %s",
		    tg_strerror(-ENOMEM));
		goto out;
	}
	rc = audit_open(ctx->data_dir, AUDIT_CREATE, &audit, &err);
	if (rc != 0) {
		log_warnx("cannot open the audit log in '%s': %s",
		    ctx->data_dir, err.msg[0] ? err.msg : tg_strerror(rc));
		goto out;
	}
	/* Decided inside the log's write transaction: quota balances and
	 * licenses are read as the ledger holds them, and the decision, its
	 * reservations and its signed checkpoint commit together. */
	reqc = request != NULL ? jcs_dumps(request) : NULL;
	rc = audit_tx_begin(audit, &tx, &err);
	if (rc == 0)
		rc = api_decide_in_tx(tx, pack, q, reqc,
		    reqc != NULL ? strlen(reqc) : 0, id, &d, &err);
	if (rc != 0) {
		audit_tx_abort(tx);
		tx = NULL;
		if (rc == TG_EINVAL && err.pointer[0] != '\0') {
			report_query_error(name, &err);
			goto out;
		}
		log_warnx("cannot decide and log the query: %s",
		    err.msg[0] ? err.msg : tg_strerror(rc));
		goto out;
	}
	rc = audit_tx_commit(tx, &receipt, 1, &err);
	tx = NULL;
	if (rc != 0) {
		/* A decision that is not in the log is not given. */
		log_warnx("cannot log the decision in '%s': %s",
		    ctx->data_dir, err.msg[0] ? err.msg : tg_strerror(rc));
		goto out;
	}
	/* The daemon answers with the same function: the same query and
	 * pack give the same bytes on both interfaces. */
	rc = api_decision_text(d, id, &receipt, &out);
	audit_receipt_release(&receipt);
	if (rc != 0) {
		log_warnx("cannot encode the decision: %s", tg_strerror(rc));
		goto out;
	}
	text = out.p;
	buf_init(&out, 0);	/* the text is ours now */
	if (fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF) {
		log_warn("cannot write the decision");
		goto out;
	}
	status = d->outcome <= TG_AUTHORIZED ? CLI_EXIT_OK : CLI_EXIT_FLAGGED;
out:
	free(text);
	free(reqc);
	json_decref(request);
	audit_close(audit);
	decision_free(d);
	pack_unref(pack);
	arena_free(arena);
	errlist_release(&errs);
	buf_release(&in);
	buf_release(&out);
	return status;
}
