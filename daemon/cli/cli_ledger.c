/*
 * cli_ledger.c: the quota and license ledger from the command line.
 *
 *   license add --number N --country CC [--tpp X] [--quantity Q]
 *               --valid-until DATE [--consignee KEY] [--eccn ECCN]
 *   license list [--json] | license show N | license revoke N --reason R
 *   decisions void ID --reason R [--officer NAME]
 *   quota show [--consignee KEY] [--country CC] [--year Y] [--json]
 *
 * Every change is an audit entry: the receipt of the entry is printed.
 * Exit status: 0 done, 1 refused (unknown or already voided/revoked),
 * 2 usage or failure.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"
#include "tiergate/util.h"

#include "cli.h"

static void
ledger_usage(FILE *fp)
{
	fputs("usage: tiergate license add --number N --country CC "
	    "[--tpp X] [--quantity Q]\n"
	    "                            --valid-until YYYY-MM-DD "
	    "[--consignee KEY] [--eccn ECCN]\n"
	    "       tiergate license list [--json]\n"
	    "       tiergate license show NUMBER\n"
	    "       tiergate license revoke NUMBER --reason TEXT\n"
	    "       tiergate decisions void ID --reason TEXT [--officer NAME]\n"
	    "       tiergate quota show [--consignee KEY] [--country CC] "
	    "[--year Y] [--json]\n", fp);
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
refused(int rc)
{
	return rc == TG_EINVAL || rc == TG_ENOTFOUND ? CLI_EXIT_FLAGGED :
	    CLI_EXIT_FAIL;
}

static void
print_receipt(const char *what, const struct audit_receipt *r)
{
	printf("%s: audit entry %" PRIu64 " (%s)\n", what, r->seq,
	    r->entry_hash);
}

static json_t *
license_json(const struct audit_license *l)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:b}",
	    "number", l->number, "country", l->country, "valid_until",
	    l->valid_until, "consignee", l->consignee[0] ? l->consignee : NULL,
	    "eccn", l->eccn[0] ? l->eccn : NULL, "registered_seq",
	    (json_int_t)l->seq, "revoked", l->revoked_seq != 0);

	if (j == NULL)
		return NULL;
	if (!isnan(l->tpp)) {
		json_object_set_new(j, "tpp", json_real(l->tpp));
		json_object_set_new(j, "tpp_used", json_real(l->tpp_used));
		json_object_set_new(j, "tpp_remaining",
		    json_real(l->tpp - l->tpp_used));
	}
	if (!isnan(l->quantity)) {
		json_object_set_new(j, "quantity", json_real(l->quantity));
		json_object_set_new(j, "quantity_used",
		    json_real(l->quantity_used));
		json_object_set_new(j, "quantity_remaining",
		    json_real(l->quantity - l->quantity_used));
	}
	return j;
}

static int
print_license_row(void *ctx, const struct audit_license *l)
{
	bool *json = ctx;

	if (*json) {
		json_t *j = license_json(l);
		char *s = j ? api_dumps(j, false) : NULL;

		if (s != NULL)
			puts(s);
		free(s);
		json_decref(j);
		return 0;
	}
	printf("%-16s %-2s until %s  tpp %s%.0f/%.0f  qty %.0f/%.0f%s\n",
	    l->number, l->country, l->valid_until, "", l->tpp_used,
	    isnan(l->tpp) ? INFINITY : l->tpp, l->quantity_used,
	    isnan(l->quantity) ? INFINITY : l->quantity,
	    l->revoked_seq ? "  REVOKED" : "");
	return 0;
}

static int
license_add(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "number", required_argument, NULL, 'n' },
		{ "country", required_argument, NULL, 'c' },
		{ "tpp", required_argument, NULL, 't' },
		{ "quantity", required_argument, NULL, 'q' },
		{ "valid-until", required_argument, NULL, 'v' },
		{ "consignee", required_argument, NULL, 'C' },
		{ "eccn", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct api_license_in in = { .tpp = NAN, .quantity = NAN };
	struct audit_receipt r;
	struct tg_audit *a = NULL;
	struct tg_error err;
	tg_date d;
	tg_cc cc;
	long long q;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': in.number = optarg; break;
		case 'c': in.country = optarg; break;
		case 'v': in.valid_until = optarg; break;
		case 'C': in.consignee = optarg; break;
		case 'e': in.eccn = optarg; break;
		case 't':
			if (parse_double(optarg, &in.tpp) != 0 ||
			    !(in.tpp > 0)) {
				log_warnx("--tpp: '%s' is not a positive "
				    "number", optarg);
				return CLI_EXIT_FAIL;
			}
			break;
		case 'q':
			if (parse_llong(optarg, &q) != 0 || q < 1) {
				log_warnx("--quantity: '%s' is not a positive "
				    "integer", optarg);
				return CLI_EXIT_FAIL;
			}
			in.quantity = (double)q;
			break;
		default:
			ledger_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (in.number == NULL || in.country == NULL ||
	    in.valid_until == NULL || optind != argc) {
		log_warnx("license add needs --number, --country and "
		    "--valid-until");
		return CLI_EXIT_FAIL;
	}
	if (strlen(in.number) == 0 || strlen(in.number) > 64) {
		log_warnx("--number: 1 to 64 characters");
		return CLI_EXIT_FAIL;
	}
	if (cc_parse(in.country, strlen(in.country), &cc) != 0) {
		log_warnx("--country: '%s' is not an ISO 3166-1 alpha-2 code",
		    in.country);
		return CLI_EXIT_FAIL;
	}
	if (date_parse(in.valid_until, strlen(in.valid_until), &d) != 0) {
		log_warnx("--valid-until: '%s' is not a date YYYY-MM-DD",
		    in.valid_until);
		return CLI_EXIT_FAIL;
	}
	if (open_rw(ctx, &a) != 0)
		return CLI_EXIT_FAIL;
	tg_error_clear(&err);
	rc = api_license_add(a, &in, &r, &err);
	audit_close(a);
	if (rc != 0) {
		log_warnx("license add: %s", err.msg);
		return refused(rc);
	}
	print_receipt("license registered", &r);
	audit_receipt_release(&r);
	return CLI_EXIT_OK;
}

static int
cmd_license(const struct cli_ctx *ctx, int argc, char **argv)
{
	struct tg_audit *a = NULL;
	struct audit_license l;
	struct audit_receipt r;
	struct tg_error err;
	const char *sub;
	bool json = false, found;
	int rc;

	if (argc < 2) {
		ledger_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	tg_error_clear(&err);
	if (strcmp(sub, "add") == 0)
		return license_add(ctx, argc, argv);
	if (strcmp(sub, "list") == 0) {
		if (argc == 2 && strcmp(argv[1], "--json") == 0)
			json = true;
		else if (argc != 1) {
			ledger_usage(stderr);
			return CLI_EXIT_FAIL;
		}
		if (open_rw(ctx, &a) != 0)
			return CLI_EXIT_FAIL;
		rc = audit_license_list(a, print_license_row, &json, &err);
		audit_close(a);
		return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
	}
	if (strcmp(sub, "show") == 0 && argc == 2) {
		json_t *j;
		char *s;

		if (open_rw(ctx, &a) != 0)
			return CLI_EXIT_FAIL;
		rc = audit_license_get(a, argv[1], &l, &found, &err);
		audit_close(a);
		if (rc != 0)
			return CLI_EXIT_FAIL;
		if (!found) {
			log_warnx("license '%s' is not registered", argv[1]);
			return CLI_EXIT_FLAGGED;
		}
		j = license_json(&l);
		s = j ? api_dumps(j, true) : NULL;
		if (s != NULL)
			puts(s);
		free(s);
		json_decref(j);
		return CLI_EXIT_OK;
	}
	if (strcmp(sub, "revoke") == 0 && argc == 4 &&
	    strcmp(argv[2], "--reason") == 0) {
		if (open_rw(ctx, &a) != 0)
			return CLI_EXIT_FAIL;
		rc = api_license_revoke(a, argv[1], argv[3], &r, &err);
		audit_close(a);
		if (rc != 0) {
			log_warnx("license revoke: %s", err.msg);
			return refused(rc);
		}
		print_receipt("license revoked", &r);
		audit_receipt_release(&r);
		return CLI_EXIT_OK;
	}
	ledger_usage(stderr);
	return CLI_EXIT_FAIL;
}

int
cli_license(const struct cli_ctx *ctx, int argc, char **argv)
{
	return cmd_license(ctx, argc, argv);
}

int
cli_decisions(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "officer", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reason = NULL, *officer = NULL, *id;
	struct tg_audit *a = NULL;
	struct audit_receipt r;
	struct tg_error err;
	int ch, rc, released = 0;

	if (argc < 3 || strcmp(argv[1], "void") != 0) {
		ledger_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	id = argv[2];
	argc -= 2;
	argv += 2;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'r')
			reason = optarg;
		else if (ch == 'o')
			officer = optarg;
		else {
			ledger_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (reason == NULL || reason[0] == '\0' || optind != argc) {
		log_warnx("decisions void needs --reason");
		return CLI_EXIT_FAIL;
	}
	if (open_rw(ctx, &a) != 0)
		return CLI_EXIT_FAIL;
	tg_error_clear(&err);
	rc = api_void_decision(a, id, reason, officer, &r, &released, &err);
	audit_close(a);
	if (rc != 0) {
		log_warnx("decisions void: %s", err.msg);
		return refused(rc);
	}
	printf("decision %s voided, %d reservation%s released\n", id,
	    released, released == 1 ? "" : "s");
	print_receipt("void", &r);
	audit_receipt_release(&r);
	return CLI_EXIT_OK;
}

struct qshow {
	const char *country;
	const char *year;
	bool json;
	json_t *rows;
};

/* "2025" holds 2025; a fixed period "2025-2027" holds 2025..2027.  Periods
 * that are not years ("all": licenses, NVEU) are not listed by year. */
static bool
period_has_year(const char *period, const char *year)
{
	long long y, a, b;

	if (parse_llong(year, &y) != 0)
		return false;
	if (strlen(period) == 9 && period[4] == '-') {
		char p1[5], p2[5];

		memcpy(p1, period, 4);
		p1[4] = '\0';
		memcpy(p2, period + 5, 4);
		p2[4] = '\0';
		if (parse_llong(p1, &a) == 0 && parse_llong(p2, &b) == 0)
			return a <= y && y <= b;
	}
	return strcmp(period, year) == 0;
}

static int
quota_row(void *ctx, const struct audit_balance *b)
{
	struct qshow *q = ctx;

	if (q->country != NULL && !(strcmp(b->quota, "allocation") == 0 &&
	    strcmp(b->key, q->country) == 0))
		return 0;
	if (q->year != NULL && !period_has_year(b->period, q->year))
		return 0;
	if (q->json)
		return json_array_append_new(q->rows, json_pack("{s:s, s:s, "
		    "s:s, s:f}", "name", b->quota, "key", b->key, "period",
		    b->period, "used", b->amount)) == 0 ? 0 : -ENOMEM;
	printf("%-18s %-32s %-10s %15.0f\n", b->quota, b->key, b->period,
	    b->amount);
	return 0;
}

int
cli_quota(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "consignee", required_argument, NULL, 'c' },
		{ "country", required_argument, NULL, 'C' },
		{ "year", required_argument, NULL, 'y' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct qshow q = { 0 };
	const char *consignee = NULL;
	struct tg_audit *a = NULL;
	struct tg_error err;
	int ch, rc;

	if (argc < 2 || strcmp(argv[1], "show") != 0) {
		ledger_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	argc--;
	argv++;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': consignee = optarg; break;
		case 'C': q.country = optarg; break;
		case 'y': q.year = optarg; break;
		case 'j': q.json = true; break;
		default:
			ledger_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (optind != argc) {
		ledger_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	if (open_rw(ctx, &a) != 0)
		return CLI_EXIT_FAIL;
	q.rows = json_array();
	if (!q.json)
		printf("%-18s %-32s %-10s %15s\n", "quota", "key", "period",
		    "used");
	tg_error_clear(&err);
	rc = audit_balances(a, NULL, consignee, NULL, quota_row, &q, &err);
	audit_close(a);
	if (rc == 0 && q.json) {
		char *s = api_dumps(q.rows, true);

		if (s != NULL)
			puts(s);
		free(s);
	}
	json_decref(q.rows);
	return rc == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static void
holds_usage(FILE *fp)
{
	fputs("usage: tiergate holds list [--open] [--json]\n"
	    "       tiergate holds show ID\n"
	    "       tiergate holds resolve ID --release|--reject --reason TEXT "
	    "--officer NAME\n", fp);
}

static int
print_holds(json_t *list, bool json)
{
	size_t i;
	json_t *h;

	if (json) {
		char *s = api_dumps(list, true);

		if (s == NULL)
			return CLI_EXIT_FAIL;
		puts(s);
		free(s);
		return CLI_EXIT_OK;
	}
	printf("%-36s %6s  %-27s %-8s %s\n", "decision", "entry", "time",
	    "status", "red flags");
	json_array_foreach(list, i, h) {
		json_t *f, *flags = json_object_get(h, "red_flags");
		size_t k;

		printf("%-36s %6" JSON_INTEGER_FORMAT "  %-27s %-8s",
		    json_string_value(json_object_get(h, "decision_id")),
		    json_integer_value(json_object_get(h, "seq")),
		    json_string_value(json_object_get(h, "time")),
		    json_string_value(json_object_get(h, "status")));
		json_array_foreach(flags, k, f)
			printf(" %s", json_string_value(json_object_get(f,
			    "rule")));
		printf("\n");
	}
	return CLI_EXIT_OK;
}

int
cli_holds(const struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "open", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "release", no_argument, NULL, 'R' },
		{ "reject", no_argument, NULL, 'X' },
		{ "reason", required_argument, NULL, 'r' },
		{ "officer", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sub, *reason = NULL, *officer = NULL, *id = NULL;
	bool open_only = false, json = false;
	int release = -1, ch, rc, status = CLI_EXIT_FAIL;
	struct tg_audit *a = NULL;
	struct audit_receipt r;
	struct tg_error err;
	json_t *list;

	if (argc < 2) {
		holds_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	sub = argv[1];
	argc--;
	argv++;
	if ((strcmp(sub, "show") == 0 || strcmp(sub, "resolve") == 0) &&
	    argc >= 2) {
		id = argv[1];
		argc--;
		argv++;
	}
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'o': open_only = true; break;
		case 'j': json = true; break;
		case 'R': release = 1; break;
		case 'X': release = 0; break;
		case 'r': reason = optarg; break;
		case 'f': officer = optarg; break;
		default:
			holds_usage(stderr);
			return CLI_EXIT_FAIL;
		}
	}
	if (optind != argc) {
		holds_usage(stderr);
		return CLI_EXIT_FAIL;
	}
	tg_error_clear(&err);
	if (strcmp(sub, "list") == 0 || (strcmp(sub, "show") == 0 && id)) {
		if (open_rw(ctx, &a) != 0)
			return CLI_EXIT_FAIL;
		list = api_holds(a, open_only, id, &err);
		audit_close(a);
		if (list == NULL) {
			log_warnx("holds: %s", err.msg);
			return CLI_EXIT_FAIL;
		}
		if (id != NULL && json_array_size(list) == 0) {
			log_warnx("no held decision '%s'", id);
			json_decref(list);
			return CLI_EXIT_FLAGGED;
		}
		if (id != NULL) {
			json_t *one = json_incref(json_array_get(list, 0));

			json_decref(list);
			list = one;
			json = true;
		}
		status = print_holds(list, json);
		json_decref(list);
		return status;
	}
	if (strcmp(sub, "resolve") == 0 && id != NULL) {
		if (release < 0 || reason == NULL || officer == NULL) {
			log_warnx("holds resolve needs --release or --reject, "
			    "--reason and --officer");
			return CLI_EXIT_FAIL;
		}
		if (open_rw(ctx, &a) != 0)
			return CLI_EXIT_FAIL;
		rc = api_hold_resolve(a, id, release == 1, reason, officer,
		    &r, &err);
		audit_close(a);
		if (rc != 0) {
			log_warnx("holds resolve: %s", err.msg);
			return refused(rc);
		}
		printf("decision %s %s by %s\n", id, release ? "released" :
		    "rejected", officer);
		print_receipt("resolution", &r);
		audit_receipt_release(&r);
		return CLI_EXIT_OK;
	}
	holds_usage(stderr);
	return CLI_EXIT_FAIL;
}
