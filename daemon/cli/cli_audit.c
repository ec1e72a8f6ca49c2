/*
 * cli_audit.c: `tiergate audit ...` and `tiergate keygen`: what compliance
 * officers and auditors run against the signed audit log.
 *
 *   audit verify [--checkpoint FILE] [--key PUB]  whole-log verification
 *   audit verify-receipt --key PUB FILE           offline, one decision
 *   audit consistency OLD NEW                     NEW extends OLD
 *   audit show SEQ | export [--from N] [--to M] | checkpoint
 *   audit report --from DATE --to DATE [--format html|csv|json] [-o FILE]
 *                                                 the compliance summary
 *
 * Exit status: 0 verified (or done), 1 damage or an invalid receipt or
 * proof (report: written, but the log or the ledger failed verification),
 * 2 usage or failure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"
#include "tiergate/engine.h"
#include "tiergate/util.h"

#include "cli.h"

#define NOTE_FILE_MAX 8192
#define DECISION_FILE_MAX ((size_t)16 << 20)

static void
audit_usage(FILE *fp)
{
	fputs("usage: tiergate audit verify [--checkpoint FILE] [--key PUB]\n"
	    "       tiergate audit verify-receipt --key PUB DECISION.json\n"
	    "       tiergate audit consistency OLD NEW\n"
	    "       tiergate audit show SEQ\n"
	    "       tiergate audit export [--from N] [--to M]\n"
	    "       tiergate audit checkpoint\n"
	    "       tiergate audit report --from DATE --to DATE "
	    "[--format html|csv|json] [-o FILE]\n", fp);
}

static void
report(const char *what, const struct tg_error *err, int rc)
{
	log_warnx("%s: %s", what, err->msg[0] ? err->msg : tg_strerror(rc));
}

static int
read_text(const char *path, size_t cap, struct tg_buf *b)
{
	int rc;

	buf_init(b, cap);
	rc = buf_read_file(b, path);
	if (rc != 0)
		log_warnx("cannot read '%s': %s", path, rc == TG_ETOOBIG ?
		    "file too large" : strerror(-rc));
	return rc;
}

static int
parse_u64(const char *s, uint64_t *out)
{
	long long v;

	if (parse_llong(s, &v) != 0 || v < 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int
open_log(const struct cli_ctx *ctx, unsigned flags, struct tg_audit **a)
{
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = audit_open(ctx->data_dir, flags, a, &err);
	if (rc != 0)
		report(ctx->data_dir, &err, rc);
	return rc;
}

static int
do_verify(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "checkpoint", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cpfile = NULL, *keyfile = NULL;
	struct tg_audit *a = NULL;
	struct audit_report rep;
	struct tg_error err;
	struct tg_buf note;
	uint8_t pub[32];
	int ch, rc, status = CLI_EXIT_FAIL;

	buf_init(&note, NOTE_FILE_MAX);
	tg_error_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'c')
			cpfile = optarg;
		else if (ch == 'k')
			keyfile = optarg;
		else {
			audit_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (optind != argc) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (keyfile != NULL && (rc = audit_read_pubkey(keyfile, pub,
	    &err)) != 0) {
		report(keyfile, &err, rc);
		return CLI_EXIT_FAIL;
	}
	if (cpfile != NULL && read_text(cpfile, NOTE_FILE_MAX, &note) != 0)
		return CLI_EXIT_FAIL;
	tg_error_clear(&err);
	rc = audit_open(ctx->data_dir, AUDIT_READONLY, &a, &err);
	if (rc == 0)
		rc = audit_verify(a, keyfile ? pub : NULL, cpfile ? note.p :
		    NULL, &rep, &err);
	if (rc == TG_ECORRUPT) {
		/* SQLite cannot read the file as a database: that is damage
		 * to the log, not a failure to check it. */
		printf("audit log DAMAGED: entry 0: %s: the database file is "
		    "damaged: %s\n", audit_damage_name(AUDIT_MODIFIED),
		    err.msg);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	if (rc != 0) {
		report(a == NULL ? ctx->data_dir : "audit verify", &err, rc);
		goto out;
	}
	if (rep.damage != AUDIT_OK) {
		printf("audit log DAMAGED: entry %" PRIu64 ": %s: %s\n",
		    rep.seq, audit_damage_name(rep.damage), rep.detail);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	/* The log's tables are sound; now the rest of the file. */
	{
		char detail[512];
		bool ok;

		rc = audit_check_file(a, &ok, detail, sizeof(detail), &err);
		if (rc == TG_ECORRUPT) {
			ok = false;
			snprintf(detail, sizeof(detail), "%s", err.msg);
		} else if (rc != 0) {
			report("audit verify", &err, rc);
			goto out;
		}
		if (!ok) {
			printf("audit log DAMAGED: entry 0: %s: the database "
			    "file is damaged: %s\n",
			    audit_damage_name(AUDIT_MODIFIED), detail);
			status = CLI_EXIT_FLAGGED;
			goto out;
		}
	}
	/* The ledger is a cache of the log: recompute it from the signed
	 * entries and compare. */
	{
		char detail[512];
		uint64_t nbal = 0;
		bool ok;

		rc = api_ledger_verify(a, &ok, detail, sizeof(detail), &nbal,
		    &err);
		if (rc == TG_ECORRUPT) {
			printf("audit log DAMAGED: ledger: the database file "
			    "is damaged: %s\n", err.msg);
			status = CLI_EXIT_FLAGGED;
			goto out;
		}
		if (rc != 0) {
			report("ledger verify", &err, rc);
			goto out;
		}
		if (!ok) {
			printf("audit log DAMAGED: ledger: %s\n", detail);
			status = CLI_EXIT_FLAGGED;
			goto out;
		}
		printf("ledger OK: %" PRIu64 " balance%s recomputed from the "
		    "log\n", nbal, nbal == 1 ? "" : "s");
	}
	printf("audit log OK: %" PRIu64 " entries, %" PRIu64 " checkpoints, "
	    "%" PRIu64 " key%s, root %s%s\n", rep.entries, rep.checkpoints,
	    rep.keys, rep.keys == 1 ? "" : "s", rep.root[0] ? rep.root : "-",
	    rep.anchor == AUDIT_ANCHOR_GIVEN ? "" :
	    rep.anchor == AUDIT_ANCHOR_FILE ? " (key chain anchored at the "
	    "data dir's signing.pub; pass --key to anchor it elsewhere)" :
	    " (WARNING: no signing.pub and no --key: the key chain is "
	    "anchored at the log's own first key)");
	status = CLI_EXIT_OK;
out:
	audit_close(a);
	buf_release(&note);
	return status;
}

static int
do_verify_receipt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfile = NULL;
	struct audit_receipt r;
	struct tg_error err;
	struct tg_buf in;
	json_error_t jerr;
	json_t *d = NULL;
	char payload[65];
	uint8_t pub[32];
	bool nomem;
	int ch, rc, status = CLI_EXIT_FAIL;

	memset(&r, 0, sizeof(r));
	tg_error_clear(&err);
	buf_init(&in, DECISION_FILE_MAX);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'k')
			keyfile = optarg;
		else {
			audit_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (keyfile == NULL || optind != argc - 1) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if ((rc = audit_read_pubkey(keyfile, pub, &err)) != 0) {
		report(keyfile, &err, rc);
		goto out;
	}
	if (read_text(argv[optind], DECISION_FILE_MAX, &in) != 0)
		goto out;
	d = api_json_loadb(in.p, in.len, JSON_REJECT_DUPLICATES, &jerr,
	    &nomem);
	if (d == NULL && nomem) {
		log_warnx("%s: %s", argv[optind], tg_strerror(-ENOMEM));
		goto out;
	}
	if (d == NULL) {
		fprintf(stderr, "%s:%d:%d: %s\n", argv[optind], jerr.line,
		    jerr.column, jerr.text);
		goto out;
	}
	rc = api_receipt_from_json(json_object_get(d, "receipt"), &r, &err);
	if (rc == TG_EINVAL) {
		/* A decision whose receipt is missing or has a field of the
		 * wrong type or size was altered: it does not verify (1), as
		 * one with a wrong value does; unreadable JSON stays 2. */
		printf("receipt INVALID: %s: %s\n", err.pointer, err.msg);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	if (rc != 0) {
		log_warnx("%s: %s: %s", argv[optind], err.pointer, err.msg);
		goto out;
	}
	if (api_decision_payload_sha256(d, payload) != 0) {
		log_warnx("%s: cannot canonicalize the decision",
		    argv[optind]);
		goto out;
	}
	rc = audit_receipt_verify(&r, payload, pub, &err);
	if (rc != 0) {
		printf("receipt INVALID: %s\n", err.msg);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	printf("receipt OK: entry %" PRIu64 " of a signed log of %" PRIu64
	    " entries (key %.16s)\n", r.seq, r.tree_size, r.key_id);
	status = CLI_EXIT_OK;
out:
	audit_receipt_release(&r);
	json_decref(d);
	buf_release(&in);
	return status;
}

static int
do_consistency(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_audit *a = NULL;
	struct tg_buf n1, n2;
	struct tg_error err;
	merkle_hash r1, r2, proof[MERKLE_PROOF_MAX];
	uint64_t s1, s2;
	size_t len = 0;
	int rc, status = CLI_EXIT_FAIL;

	buf_init(&n1, NOTE_FILE_MAX);
	buf_init(&n2, NOTE_FILE_MAX);
	tg_error_clear(&err);
	if (argc - optind != 2) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (read_text(argv[optind], NOTE_FILE_MAX, &n1) != 0 ||
	    read_text(argv[optind + 1], NOTE_FILE_MAX, &n2) != 0)
		goto out;
	if (open_log(ctx, AUDIT_READONLY, &a) != 0)
		goto out;
	if ((rc = audit_note_check(a, n1.p, &s1, r1, &err)) != 0) {
		printf("NOT consistent: %s: %s\n", argv[optind], err.msg);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	if ((rc = audit_note_check(a, n2.p, &s2, r2, &err)) != 0) {
		printf("NOT consistent: %s: %s\n", argv[optind + 1], err.msg);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	if (s1 > s2) {
		printf("NOT consistent: OLD (%" PRIu64 ") is larger than NEW (%"
		    PRIu64 ")\n", s1, s2);
		status = CLI_EXIT_FLAGGED;
		goto out;
	}
	if (s1 > 0) {
		rc = audit_consistency_proof(a, s1, s2, proof, &len, &err);
		if (rc != 0) {
			printf("NOT consistent: %s\n", err.msg);
			status = CLI_EXIT_FLAGGED;
			goto out;
		}
		if (merkle_verify_consistency(s1, s2, r1, r2,
		    (const merkle_hash *)proof, len) != 0) {
			printf("NOT consistent: the log of size %" PRIu64
			    " does not extend the one of size %" PRIu64 "\n",
			    s2, s1);
			status = CLI_EXIT_FLAGGED;
			goto out;
		}
	}
	printf("consistent: size %" PRIu64 " extends size %" PRIu64
	    " (proof of %zu hashes)\n", s2, s1, len);
	status = CLI_EXIT_OK;
out:
	audit_close(a);
	buf_release(&n1);
	buf_release(&n2);
	return status;
}

/* One entry as JSON, with its receipt when with_receipt. */
static json_t *
entry_json(struct tg_audit *a, const struct audit_entry *e, bool with_receipt,
    struct tg_error *err)
{
	struct audit_receipt r;
	json_t *j, *req, *pay, *rj = NULL;
	bool nomem_req, nomem_pay;

	/* What does not parse is shown as the string it is; what could not
	 * be parsed for want of memory is not shown at all. */
	req = api_json_loadb(e->request, strlen(e->request), JSON_DECODE_ANY,
	    NULL, &nomem_req);
	pay = api_json_loadb(e->payload, strlen(e->payload), JSON_DECODE_ANY,
	    NULL, &nomem_pay);
	if (nomem_req || nomem_pay) {
		json_decref(req);
		json_decref(pay);
		tg_error_set(err, -ENOMEM, "out of memory");
		return NULL;
	}
	if (with_receipt) {
		if (audit_receipt_for(a, e->seq, &r, err) != 0) {
			json_decref(req);
			json_decref(pay);
			return NULL;
		}
		rj = api_receipt_to_json(&r);
		audit_receipt_release(&r);
	}
	j = json_pack("{s:I, s:s, s:s, s:s?, s:o?, s:o?, s:s, s:s, s:o?}",
	    "seq", (json_int_t)e->seq, "time", e->time, "kind", e->kind,
	    "decision_id", e->decision_id,
	    "request", req ? req : json_string(e->request),
	    "payload", pay ? pay : json_string(e->payload),
	    "entry", e->body, "entry_hash", e->entry_hash,
	    "receipt", rj);
	return j;
}

static int
print_entry(struct tg_audit *a, uint64_t seq, bool pretty)
{
	struct audit_entry e;
	struct tg_error err;
	json_t *j;
	char *s;
	int rc;

	tg_error_clear(&err);
	rc = audit_get(a, seq, &e, &err);
	if (rc != 0) {
		log_warnx("entry %" PRIu64 ": %s", seq, err.msg);
		return rc;
	}
	j = entry_json(a, &e, true, &err);
	audit_entry_release(&e);
	if (j == NULL) {
		log_warnx("entry %" PRIu64 ": %s", seq, err.msg[0] ? err.msg :
		    "out of memory");
		return TG_EIO;
	}
	s = api_dumps(j, pretty);
	json_decref(j);
	if (s == NULL)
		return -ENOMEM;
	puts(s);
	free(s);
	return 0;
}

static int
do_show(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_audit *a = NULL;
	uint64_t seq;
	int status = CLI_EXIT_FAIL;

	if (argc - optind != 1 || parse_u64(argv[optind], &seq) != 0) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (open_log(ctx, AUDIT_READONLY, &a) == 0 &&
	    print_entry(a, seq, true) == 0)
		status = CLI_EXIT_OK;
	audit_close(a);
	return status;
}

static int
do_export(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct tg_audit *a = NULL;
	struct tg_error err;
	uint64_t from = 1, to = UINT64_MAX, n;
	int ch, status = CLI_EXIT_FAIL;

	tg_error_clear(&err);
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if ((ch == 'f' && parse_u64(optarg, &from) == 0) ||
		    (ch == 't' && parse_u64(optarg, &to) == 0))
			continue;
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (optind != argc || from == 0) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (open_log(ctx, AUDIT_READONLY, &a) != 0)
		goto out;
	if (audit_size(a, &n, &err) != 0) {
		report("audit export", &err, TG_EIO);
		goto out;
	}
	if (to > n)
		to = n;
	for (uint64_t s = from; s <= to; s++)
		if (print_entry(a, s, false) != 0)
			goto out;
	status = CLI_EXIT_OK;
out:
	audit_close(a);
	return status;
}

static int
do_checkpoint(const struct cli_ctx *ctx, int argc)
{
	struct tg_audit *a = NULL;
	struct tg_error err;
	uint64_t size;
	char *note = NULL;
	int status = CLI_EXIT_FAIL;

	tg_error_clear(&err);
	if (argc != optind) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (open_log(ctx, AUDIT_READONLY, &a) != 0)
		goto out;
	if (audit_checkpoint(a, &note, &size, &err) != 0) {
		report("audit checkpoint", &err, TG_EIO);
		goto out;
	}
	if (note == NULL) {
		log_warnx("the audit log is empty");
		goto out;
	}
	fputs(note, stdout);
	status = CLI_EXIT_OK;
out:
	free(note);
	audit_close(a);
	return status;
}

/* The format a file name asks for (report.html), else JSON. */
static enum report_format
format_of_name(const char *path)
{
	const char *dot = path != NULL ? strrchr(path, '.') : NULL;
	enum report_format f = REPORT_JSON;

	if (dot != NULL && api_report_format_parse(dot + 1, &f) != 0)
		f = REPORT_JSON;
	return f;
}

/* Writes len bytes to path, or stdout for NULL; a file is removed again
 * when it cannot be written whole. */
static int
write_out(const char *path, const char *p, size_t len)
{
	FILE *fp = path != NULL ? fopen(path, "w") : stdout;
	bool ok;

	if (fp == NULL) {
		log_warn("cannot create '%s'", path);
		return -1;
	}
	ok = fwrite(p, 1, len, fp) == len;
	if (path != NULL)
		ok = fclose(fp) == 0 && ok;
	else
		ok = fflush(fp) == 0 && ok;
	if (!ok) {
		log_warn("cannot write '%s'", path ? path : "stdout");
		if (path != NULL)
			(void)unlink(path);
		return -1;
	}
	return 0;
}

static int
do_report(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *from_s = NULL, *to_s = NULL, *fmt_s = NULL, *out = NULL;
	struct tg_audit *a = NULL;
	struct tg_pack *pack = NULL;
	struct tg_errlist errs;
	struct tg_error err;
	struct tg_buf b;
	enum report_format fmt;
	tg_date from, to;
	json_t *rep = NULL;
	int ch, rc, status = CLI_EXIT_FAIL;

	tg_error_clear(&err);
	buf_init(&b, REPORT_OUT_MAX);
	errlist_init(&errs);
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (ch == 'f')
			from_s = optarg;
		else if (ch == 't')
			to_s = optarg;
		else if (ch == 'F')
			fmt_s = optarg;
		else if (ch == 'o')
			out = optarg;
		else {
			audit_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (optind != argc || from_s == NULL || to_s == NULL) {
		audit_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (date_parse(from_s, strlen(from_s), &from) != 0 ||
	    date_parse(to_s, strlen(to_s), &to) != 0) {
		log_warnx("audit report: --from and --to take dates as "
		    "YYYY-MM-DD");
		return CLI_EXIT_FAIL;
	}
	if (from > to) {
		log_warnx("audit report: --from %s is after --to %s", from_s,
		    to_s);
		return CLI_EXIT_FAIL;
	}
	if (fmt_s == NULL)
		fmt = format_of_name(out);
	else if (api_report_format_parse(fmt_s, &fmt) != 0) {
		log_warnx("audit report: unknown format '%s' (html, csv or "
		    "json)", fmt_s);
		return CLI_EXIT_FAIL;
	}
	/* The rules in use name the legal status of their pack; a report
	 * is still made without them. */
	if (ctx->nrules > 0 && pack_load(ctx->rules, ctx->nrules, &pack,
	    &errs) != 0) {
		log_debug("audit report: rules not loaded; the pack's status "
		    "is left out");
		pack = NULL;
	}
	if (open_log(ctx, AUDIT_READONLY, &a) != 0)
		goto out;
	rep = api_report_json(a, from, to, pack, &err);
	if (rep == NULL) {
		report("audit report", &err, err.code ? err.code : -ENOMEM);
		goto out;
	}
	rc = api_report_render(rep, fmt, &b, &err);
	if (rc != 0) {
		report("audit report", &err, rc);
		goto out;
	}
	if (write_out(out, b.p != NULL ? b.p : "", b.len) != 0)
		goto out;
	if (!json_is_true(json_object_get(json_object_get(rep, "integrity"),
	    "ok"))) {
		log_warnx("audit report: the log or the ledger failed "
		    "verification (see the report's integrity section)");
		status = CLI_EXIT_FLAGGED;
	} else
		status = CLI_EXIT_OK;
out:
	json_decref(rep);
	audit_close(a);
	pack_unref(pack);
	errlist_release(&errs);
	buf_release(&b);
	return status;
}

int
cli_audit(const struct cli_ctx *ctx, int argc, char **argv)
{
	const char *sub;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0) {
		audit_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	/* getopt_long with optind 0 restarts at argv[1]. */
	if (strcmp(sub, "verify") == 0)
		return do_verify(ctx, argc, argv);
	if (strcmp(sub, "verify-receipt") == 0)
		return do_verify_receipt(argc, argv);
	optind = 1;
	if (strcmp(sub, "consistency") == 0)
		return do_consistency(ctx, argc, argv);
	if (strcmp(sub, "show") == 0)
		return do_show(ctx, argc, argv);
	if (strcmp(sub, "checkpoint") == 0)
		return do_checkpoint(ctx, argc);
	optind = 0;
	if (strcmp(sub, "export") == 0)
		return do_export(ctx, argc, argv);
	if (strcmp(sub, "report") == 0)
		return do_report(ctx, argc, argv);
	log_warnx("unknown audit command '%s'", sub);
	audit_usage(stderr);
	return CLI_EXIT_FAIL;
}

int
cli_keygen(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_error err;
	char id[65];
	int rc;

	(void)argv;
	if (argc != 1) {
		fputs("usage: tiergate keygen\n", stderr);
		return CLI_EXIT_FAIL;
	}
	tg_error_clear(&err);
	rc = audit_keygen(ctx->data_dir, id, &err);
	if (rc != 0) {
		report("keygen", &err, rc);
		return CLI_EXIT_FAIL;
	}
	printf("signing key %s in %s\n", id, ctx->data_dir);
	return CLI_EXIT_OK;
}
