/*
 * test_config.c: the daemon's configuration file (daemon/http/config.c,
 * config.h), loaded from temporary files.
 *
 *  - config_defaults gives the documented defaults, and etc/tiergate.yaml
 *    (run from the top of the tree) spells out exactly those;
 *  - a file setting every key gives back every value, in every accepted
 *    spelling (byte units; IPv4, IPv6 and localhost listen addresses;
 *    rules as a string or a list), and an empty file means the defaults;
 *  - each class of mistake (unknown, misplaced and duplicate keys, wrong
 *    types, bounds, bad listen addresses and log levels, TLS half set, bad
 *    metrics token, rules lists, anchors, aliases, tags, second documents,
 *    NUL bytes, YAML syntax, a non-mapping root, I/O) is reported with its
 *    line and column, and the config is left at its defaults;
 *  - several mistakes in one file are all reported in one run.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tiergate/config.h"
#include "tiergate/error.h"

#include "testdir.h"

struct fixture {
	char dir[1024];
	char path[1100];
	struct tg_config c;
	struct tg_errlist errs;
};

static int
setup(void **state)
{
	struct fixture *f;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	if (test_tmpdir(f->dir, sizeof(f->dir), "test_config") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/tiergate.yaml", f->dir);
	errlist_init(&f->errs);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	config_release(&f->c);
	errlist_release(&f->errs);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_file(struct fixture *f, const char *text, size_t len)
{
	FILE *fp = fopen(f->path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/* Writes text as the config file and loads it; returns config_load's. */
static int
load(struct fixture *f, const char *text)
{
	config_release(&f->c);
	errlist_release(&f->errs);
	errlist_init(&f->errs);
	write_file(f, text, strlen(text));
	return config_load(f->path, &f->c, &f->errs);
}

static void
dump_errors(const struct fixture *f)
{
	char line[TG_ERR_FILE_MAX + TG_ERR_MSG_MAX + 32];

	for (size_t i = 0; i < f->errs.n; i++) {
		tg_error_format(&f->errs.v[i], line, sizeof(line));
		print_message("  %s\n", line);
	}
}

/* Whether an error at line:col whose message holds needle was reported. */
static bool
has_error(const struct fixture *f, int line, int col, const char *needle)
{
	for (size_t i = 0; i < f->errs.n; i++) {
		const struct tg_error *e = &f->errs.v[i];

		if (e->line == line && e->col == col &&
		    strstr(e->msg, needle) != NULL)
			return true;
	}
	return false;
}

static void
expect_one_error(struct fixture *f, const char *text, int line, int col,
    const char *needle)
{
	int rc = load(f, text);

	if (rc != TG_EINVAL || f->errs.n != 1 ||
	    !has_error(f, line, col, needle)) {
		print_message("config:\n%s\nexpected %d:%d: ...%s...\ngot "
		    "rc %d and:\n", text, line, col, needle, rc);
		dump_errors(f);
	}
	assert_int_equal(rc, TG_EINVAL);
	assert_int_equal(f->errs.n, 1);
	assert_true(has_error(f, line, col, needle));
	/* The error names the file, and the config is back at defaults. */
	assert_string_equal(f->errs.v[0].file, f->path);
	assert_string_equal(f->c.listen, "127.0.0.1:8080");
	assert_null(f->c.data_dir);
	assert_int_equal(f->c.nrules, 0);
	assert_int_equal(f->c.threads, 2);
}

static void
expect_ok(struct fixture *f, const char *text)
{
	int rc = load(f, text);

	if (rc != 0) {
		print_message("config:\n%s\nunexpected errors:\n", text);
		dump_errors(f);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(f->errs.n, 0);
}

static void
check_defaults(const struct tg_config *c)
{
	assert_string_equal(c->listen, "127.0.0.1:8080");
	assert_null(c->data_dir);
	assert_int_equal(c->nrules, 0);
	assert_string_equal(c->log_level, "info");
	assert_null(c->tls_cert);
	assert_null(c->tls_key);
	assert_null(c->metrics_token);
	assert_int_equal(c->body_max, 1 << 20);
	assert_int_equal(c->items_max, 1000);
	assert_int_equal(c->batch_max, 1000);
	assert_int_equal(c->json_depth_max, 32);
	assert_int_equal(c->string_max, 4096);
	assert_int_equal(c->connection_timeout, 30);
	assert_int_equal(c->connections_max, 1024);
	assert_int_equal(c->connections_per_ip, 1024);
	assert_true(c->rate_limit == 0);
	assert_int_equal(c->rate_burst, 0);
	assert_int_equal(c->queue_max, 4096);
	assert_int_equal(c->queue_wait_ms, 5000);
	assert_int_equal(c->threads, 2);
}

/* ---- valid files -------------------------------------------------------- */

static void
test_defaults(void **state)
{
	struct fixture *f = *state;

	config_defaults(&f->c);
	check_defaults(&f->c);
	/* Every string is the caller's: replacing one is free + strdup. */
	free(f->c.listen);
	f->c.listen = strdup("[::1]:1");
	assert_non_null(f->c.listen);
	config_release(&f->c);
	config_release(&f->c);	/* released twice: harmless */
}

static void
test_source_tree_config(void **state)
{
	struct fixture *f = *state;

	if (access("etc/tiergate.yaml", R_OK) != 0)
		skip();
	assert_int_equal(config_load("etc/tiergate.yaml", &f->c, &f->errs),
	    0);
	assert_string_equal(f->c.data_dir, "var");
	assert_int_equal(f->c.nrules, 1);
	assert_string_equal(f->c.rules[0], "rules");
	/* Apart from where things are, the file is the defaults. */
	free(f->c.data_dir);
	f->c.data_dir = NULL;
	free(f->c.rules[0]);
	f->c.rules[0] = NULL;
	f->c.nrules = 0;
	check_defaults(&f->c);
}

static void
test_empty_file(void **state)
{
	struct fixture *f = *state;

	expect_ok(f, "");
	check_defaults(&f->c);
	expect_ok(f, "# only comments\n\n# here\n");
	check_defaults(&f->c);
	expect_ok(f, "---\n");
	check_defaults(&f->c);
	expect_ok(f, "limits: {}\n");
	check_defaults(&f->c);
}

static void
test_full_file(void **state)
{
	struct fixture *f = *state;
	struct tg_config *c = &f->c;

	expect_ok(f,
	    "listen: \"[::1]:9443\"\n"
	    "data_dir: /var/lib/tg\n"
	    "rules:\n"
	    "  - rules/a.yaml\n"
	    "  - 'rules/b dir'\n"
	    "log_level: debug\n"
	    "tls_cert: /etc/tg/cert.pem\n"
	    "tls_key: /etc/tg/key.pem\n"
	    "metrics_token: abcdefghijklmnop-0123456789\n"
	    "limits:\n"
	    "  body_max: 2 MiB\n"
	    "  items_max: 50\n"
	    "  batch_max: 100000\n"
	    "  json_depth_max: 8\n"
	    "  string_max: 512KiB\n"
	    "  connection_timeout: 3600\n"
	    "  connections_max: 65536\n"
	    "  connections_per_ip: 1\n"
	    "  rate_limit: 2.5\n"
	    "  rate_burst: 10\n"
	    "  queue_max: 1\n"
	    "  queue_wait_ms: 60000\n"
	    "  threads: 64\n");
	assert_string_equal(c->listen, "[::1]:9443");
	assert_string_equal(c->data_dir, "/var/lib/tg");
	assert_int_equal(c->nrules, 2);
	assert_string_equal(c->rules[0], "rules/a.yaml");
	assert_string_equal(c->rules[1], "rules/b dir");
	assert_string_equal(c->log_level, "debug");
	assert_string_equal(c->tls_cert, "/etc/tg/cert.pem");
	assert_string_equal(c->tls_key, "/etc/tg/key.pem");
	assert_string_equal(c->metrics_token, "abcdefghijklmnop-0123456789");
	assert_int_equal(c->body_max, 2 << 20);
	assert_int_equal(c->items_max, 50);
	assert_int_equal(c->batch_max, 100000);
	assert_int_equal(c->json_depth_max, 8);
	assert_int_equal(c->string_max, 512 * 1024);
	assert_int_equal(c->connection_timeout, 3600);
	assert_int_equal(c->connections_max, 65536);
	assert_int_equal(c->connections_per_ip, 1);
	assert_true(c->rate_limit == 2.5);
	assert_int_equal(c->rate_burst, 10);
	assert_int_equal(c->queue_max, 1);
	assert_int_equal(c->queue_wait_ms, 60000);
	assert_int_equal(c->threads, 64);
}

static void
test_spellings(void **state)
{
	static const char *const good_listen[] = { "localhost:80",
	    "0.0.0.0:1", "\"[::]:65535\"", "10.1.2.3:8080",
	    "'[fe80::1]:8080'", "'[::ffff:10.0.0.1]:80'", NULL };
	struct fixture *f = *state;
	char text[256];

	for (size_t i = 0; good_listen[i] != NULL; i++) {
		snprintf(text, sizeof(text), "listen: %s\n", good_listen[i]);
		expect_ok(f, text);
	}
	expect_ok(f, "rules: rules\n");
	assert_int_equal(f->c.nrules, 1);
	assert_string_equal(f->c.rules[0], "rules");
	expect_ok(f, "limits:\n  body_max: 1024\n  string_max: 64\n");
	assert_int_equal(f->c.body_max, 1024);
	assert_int_equal(f->c.string_max, 64);
	expect_ok(f, "limits:\n  body_max: 64 MiB\n  string_max: 1MiB\n");
	assert_int_equal(f->c.body_max, 64 << 20);
	assert_int_equal(f->c.string_max, 1 << 20);
	expect_ok(f, "limits: {rate_limit: 0, rate_burst: 0}\n");
	assert_true(f->c.rate_limit == 0);
	expect_ok(f, "limits: {rate_limit: 1000000}\n");
	assert_true(f->c.rate_limit == 1000000);
	expect_ok(f, "limits: {rate_limit: 0.25}\n");
	assert_true(f->c.rate_limit == 0.25);
	for (size_t i = 0; i < 4; i++) {
		static const char *const lv[] = { "error", "warn", "info",
		    "debug" };

		snprintf(text, sizeof(text), "log_level: %s\n", lv[i]);
		expect_ok(f, text);
		assert_string_equal(f->c.log_level, lv[i]);
	}
	/* Keys may be quoted; values that are strings may be too. */
	expect_ok(f, "\"data_dir\": 'x'\n");
	assert_string_equal(f->c.data_dir, "x");
}

/* ---- one mistake each ---------------------------------------------------- */

static void
test_unknown_keys(void **state)
{
	struct fixture *f = *state;

	expect_one_error(f, "listen: 127.0.0.1:1\nlisten_addr: x\n", 2, 1,
	    "unknown key 'listen_addr'");
	expect_one_error(f, "limits:\n  threads: 2\n  thread: 3\n", 3, 3,
	    "unknown key 'thread' in limits");
	/* A limit at the top level, and a top-level key under limits. */
	expect_one_error(f, "body_max: 1024\n", 1, 1,
	    "it belongs under 'limits:'");
	expect_one_error(f, "limits:\n  listen: 127.0.0.1:1\n", 2, 3,
	    "it belongs at the top level");
	expect_one_error(f, "? [a, b]\n: c\n", 1, 3, "keys must be names");
}

static void
test_duplicates(void **state)
{
	struct fixture *f = *state;

	expect_one_error(f, "listen: 127.0.0.1:1\ndata_dir: a\n"
	    "listen: 127.0.0.1:2\n", 3, 1,
	    "duplicate key 'listen' (first at line 1)");
	expect_one_error(f, "limits:\n  threads: 2\n  threads: 3\n", 3, 3,
	    "duplicate key 'threads'");
	expect_one_error(f, "limits: {}\nlimits: {}\n", 2, 1,
	    "duplicate key 'limits'");
}

static void
test_wrong_types(void **state)
{
	struct fixture *f = *state;

	expect_one_error(f, "listen: [a, b]\n", 1, 9,
	    "'listen' must be a string, not a list");
	expect_one_error(f, "data_dir: ~\n", 1, 11,
	    "'data_dir' must be a string, not null");
	expect_one_error(f, "data_dir:\n", 1, 10, "must be a string");
	expect_one_error(f, "data_dir: ''\n", 1, 11, "must not be empty");
	expect_one_error(f, "tls_cert: {a: b}\ntls_key: k\n", 1, 11,
	    "'tls_cert' must be a string, not a mapping");
	expect_one_error(f, "limits: 5\n", 1, 9,
	    "'limits' must be a mapping, not 5");
	expect_one_error(f, "limits:\n", 1, 8,
	    "'limits' must be a mapping, not null");
	expect_one_error(f, "limits:\n  threads: \"4\"\n", 2, 12,
	    "'threads' must be an integer");
	expect_one_error(f, "limits:\n  threads: [4]\n", 2, 12,
	    "'threads' must be an integer, not a list");
	expect_one_error(f, "limits:\n  threads: four\n", 2, 12,
	    "'threads' must be an integer, not four");
	expect_one_error(f, "limits:\n  threads: -1\n", 2, 12,
	    "'threads' must be an integer");
	expect_one_error(f, "limits:\n  threads: +4\n", 2, 12,
	    "'threads' must be an integer");
	expect_one_error(f, "limits:\n  threads: 010\n", 2, 12,
	    "'threads' must be an integer");
	expect_one_error(f, "limits:\n  threads: 0x10\n", 2, 12,
	    "'threads' must be an integer");
	expect_one_error(f, "limits:\n  threads: 4.0\n", 2, 12,
	    "'threads' must be an integer");
	expect_one_error(f, "limits:\n  body_max: 1 GiB\n", 2, 13,
	    "'body_max' must be a byte count");
	expect_one_error(f, "limits:\n  body_max: 1  MiB\n", 2, 13,
	    "'body_max' must be a byte count");
	expect_one_error(f, "limits:\n  body_max: MiB\n", 2, 13,
	    "'body_max' must be a byte count");
	expect_one_error(f, "limits:\n  rate_limit: nan\n", 2, 15,
	    "'rate_limit' must be a number, not nan");
	expect_one_error(f, "limits:\n  rate_limit: 1e3\n", 2, 15,
	    "'rate_limit' must be a number");
	expect_one_error(f, "limits:\n  rate_limit: .5\n", 2, 15,
	    "'rate_limit' must be a number");
	expect_one_error(f, "limits:\n  rate_limit: -1\n", 2, 15,
	    "'rate_limit' must be a number");
	expect_one_error(f, "limits:\n  rate_limit: '5'\n", 2, 15,
	    "'rate_limit' must be a number");
}

static void
test_bounds(void **state)
{
	struct fixture *f = *state;

	expect_one_error(f, "limits:\n  threads: 0\n", 2, 12,
	    "'threads' must be from 1 to 64, not 0");
	expect_one_error(f, "limits:\n  threads: 65\n", 2, 12,
	    "'threads' must be from 1 to 64, not 65");
	expect_one_error(f, "limits:\n  threads: 99999999999999999999999\n",
	    2, 12, "'threads' must be from 1 to 64");
	expect_one_error(f, "limits:\n  body_max: 1023\n", 2, 13,
	    "'body_max' must be from 1 KiB to 64 MiB, not 1023");
	expect_one_error(f, "limits:\n  body_max: 65 MiB\n", 2, 13,
	    "'body_max' must be from 1 KiB to 64 MiB, not 65 MiB");
	expect_one_error(f, "limits:\n  body_max: 18014398509481984 MiB\n",
	    2, 13, "'body_max' must be from 1 KiB to 64 MiB");
	expect_one_error(f, "limits:\n  string_max: 63\n", 2, 15,
	    "'string_max' must be from 64 to 1 MiB");
	expect_one_error(f, "limits:\n  connection_timeout: 0\n", 2, 23,
	    "'connection_timeout' must be from 1 to 3600");
	expect_one_error(f, "limits:\n  json_depth_max: 7\n", 2, 19,
	    "'json_depth_max' must be from 8 to 1024");
	expect_one_error(f, "limits:\n  items_max: 100001\n", 2, 14,
	    "'items_max' must be from 1 to 100000");
	expect_one_error(f, "limits:\n  batch_max: 0\n", 2, 14,
	    "'batch_max' must be from 1 to 100000");
	expect_one_error(f, "limits:\n  connections_max: 65537\n", 2, 20,
	    "'connections_max' must be from 1 to 65536");
	expect_one_error(f, "limits:\n  connections_per_ip: 0\n", 2, 23,
	    "'connections_per_ip' must be from 1 to 65536");
	expect_one_error(f, "limits:\n  rate_limit: 1000000.5\n", 2, 15,
	    "'rate_limit' must be from 0 to 1000000");
	expect_one_error(f, "limits:\n  rate_burst: 1000001\n", 2, 15,
	    "'rate_burst' must be from 0 to 1000000");
	expect_one_error(f, "limits:\n  queue_max: 0\n", 2, 14,
	    "'queue_max' must be from 1 to 1000000");
	expect_one_error(f, "limits:\n  queue_wait_ms: 60001\n", 2, 18,
	    "'queue_wait_ms' must be from 1 to 60000");
}

static void
test_listen(void **state)
{
	static const struct {
		const char *value;
		const char *why;
	} bad[] = {
		{ "localhost", "the port is missing" },
		{ "127.0.0.1:0", "port must be a number from 1 to 65535" },
		{ "127.0.0.1:65536", "from 1 to 65535" },
		{ "'127.0.0.1:'", "from 1 to 65535" },
		{ "127.0.0.1:08080", "from 1 to 65535" },
		{ "127.0.0.1:http", "from 1 to 65535" },
		{ "256.0.0.1:80", "'256.0.0.1' is not an IPv4 address" },
		{ "1.2.3:80", "is not an IPv4 address" },
		{ "::1:80", "an IPv6 address is written [ADDRESS]:PORT" },
		{ "'[::g]:80'", "'::g' is not an IPv6 address" },
		{ "'[::1]'", "an IPv6 address is written" },
		{ "'[]:80'", "not an IPv6 address" },
		{ "':80'", "the host is missing" },
		{ "example.com:443", "must be an IP address or localhost" },
		{ "LOCALHOST:80", "must be an IP address or localhost" },
		{ "localhost.:80", "must be an IP address or localhost" },
	};
	struct fixture *f = *state;
	char text[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "listen: %s\n", bad[i].value);
		expect_one_error(f, text, 1, 9, bad[i].why);
		assert_non_null(strstr(f->errs.v[0].msg,
		    "'listen' must be HOST:PORT or [IPv6]:PORT"));
	}
}

static void
test_strings(void **state)
{
	struct fixture *f = *state;
	char text[8192];
	int n;

	expect_one_error(f, "log_level: verbose\n", 1, 12,
	    "'log_level' must be one of error, warn, info, debug, not "
	    "'verbose'");
	expect_one_error(f, "log_level: INFO\n", 1, 12, "must be one of");
	expect_one_error(f, "data_dir: \"a\\0b\"\n", 1, 11,
	    "'data_dir' must not contain NUL characters");
	n = snprintf(text, sizeof(text), "data_dir: ");
	for (int i = 0; i < 4096; i++)
		text[n++] = 'a';
	text[n++] = '\n';
	text[n] = '\0';
	expect_one_error(f, text, 1, 11, "'data_dir' is too long (at most "
	    "4095 bytes)");
}

static void
test_tls(void **state)
{
	struct fixture *f = *state;

	expect_one_error(f, "data_dir: x\ntls_cert: c.pem\n", 2, 1,
	    "'tls_cert' is set but 'tls_key' is not");
	expect_one_error(f, "tls_key: k.pem\n", 1, 1,
	    "'tls_key' is set but 'tls_cert' is not");
	/* A bad key is reported as bad, not also as missing. */
	expect_one_error(f, "tls_cert: c.pem\ntls_key: [k]\n", 2, 10,
	    "'tls_key' must be a string");
	expect_ok(f, "tls_cert: c.pem\ntls_key: k.pem\n");
}

static void
test_metrics_token(void **state)
{
	struct fixture *f = *state;

	expect_one_error(f, "metrics_token: short-secret\n", 1, 16,
	    "'metrics_token' must be 16 to 256 visible ASCII characters");
	/* The value is a secret: never quoted back. */
	assert_null(strstr(f->errs.v[0].msg, "short-secret"));
	expect_one_error(f, "metrics_token: 'a long secret with spaces'\n",
	    1, 16, "without spaces");
	assert_null(strstr(f->errs.v[0].msg, "secret with"));
	expect_one_error(f, "metrics_token: 1234\n", 1, 16,
	    "'metrics_token' must be 16 to 256");
}

static void
test_rules(void **state)
{
	struct fixture *f = *state;
	char text[1024];
	int n;

	expect_one_error(f, "rules: []\n", 1, 8,
	    "'rules' must name at least one file or directory");
	expect_one_error(f, "rules: {a: b}\n", 1, 8,
	    "'rules' must be a path or a list of paths");
	expect_one_error(f, "rules:\n  - a\n  - [b]\n  - c\n", 3, 5,
	    "'rules' must be a string, not a list");
	n = snprintf(text, sizeof(text), "rules:\n");
	for (int i = 0; i < CONFIG_RULES_MAX + 1; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    "  - r%d\n", i);
	expect_one_error(f, text, 2, 3, "'rules' names 17 paths; at most 16");
	n = snprintf(text, sizeof(text), "rules:\n");
	for (int i = 0; i < CONFIG_RULES_MAX; i++)
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    "  - r%d\n", i);
	expect_ok(f, text);
	assert_int_equal(f->c.nrules, CONFIG_RULES_MAX);
	assert_string_equal(f->c.rules[15], "r15");
}

static void
test_yaml_features(void **state)
{
	struct fixture *f = *state;
	int rc;

	expect_one_error(f, "limits: &l\n  threads: 2\n", 1, 9,
	    "YAML anchors are not supported");
	expect_one_error(f, "data_dir: !!str var\n", 1, 11,
	    "YAML tags are not supported");
	expect_one_error(f, "listen: 127.0.0.1:1\n---\nlisten: "
	    "127.0.0.1:2\n", 2, 1, "holds one YAML document");
	/* An anchor and its alias: both reported, in one run. */
	rc = load(f, "data_dir: &d var\ntls_cert: *d\ntls_key: k\n");
	assert_int_equal(rc, TG_EINVAL);
	assert_true(has_error(f, 1, 11, "YAML anchors are not supported"));
	assert_true(has_error(f, 2, 11, "YAML aliases are not supported"));
}

static void
test_syntax_and_root(void **state)
{
	struct fixture *f = *state;
	int rc;

	rc = load(f, "listen: 127.0.0.1:1\nlimits:\n  threads: [1, 2\n");
	assert_int_equal(rc, TG_EINVAL);
	assert_int_equal(f->errs.n, 1);
	assert_int_equal(f->errs.v[0].code, TG_ESYNTAX);
	assert_int_equal(f->errs.v[0].line, 4);
	assert_true(f->errs.v[0].col >= 1);
	assert_non_null(strstr(f->errs.v[0].msg, "YAML syntax"));
	assert_string_equal(f->c.listen, "127.0.0.1:8080");

	rc = load(f, "key: a\n  bad: indentation\n");
	assert_int_equal(rc, TG_EINVAL);
	assert_int_equal(f->errs.v[0].code, TG_ESYNTAX);
	assert_int_equal(f->errs.v[0].line, 2);

	expect_one_error(f, "- listen\n- data_dir\n", 1, 1,
	    "a configuration file must be a mapping");
	expect_one_error(f, "just a string\n", 1, 1,
	    "a configuration file must be a mapping");
}

static void
test_io_errors(void **state)
{
	struct fixture *f = *state;
	char path[1200];
	char *big;
	size_t n = (1u << 20) + 1;
	int rc;

	snprintf(path, sizeof(path), "%s/missing.yaml", f->dir);
	rc = config_load(path, &f->c, &f->errs);
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(f->errs.n, 1);
	assert_non_null(strstr(f->errs.v[0].msg, "cannot read config file"));
	assert_non_null(strstr(f->errs.v[0].msg, "missing.yaml"));
	assert_non_null(strstr(f->errs.v[0].msg, "No such file"));
	check_defaults(&f->c);

	config_release(&f->c);
	errlist_release(&f->errs);
	errlist_init(&f->errs);
	rc = config_load(f->dir, &f->c, &f->errs);
	assert_int_equal(rc, -EISDIR);
	config_release(&f->c);

	/* Larger than 1 MiB: refused unread. */
	big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	write_file(f, big, n);
	free(big);
	errlist_release(&f->errs);
	errlist_init(&f->errs);
	rc = config_load(f->path, &f->c, &f->errs);
	assert_int_equal(rc, TG_EINVAL);
	assert_int_equal(f->errs.n, 1);
	assert_non_null(strstr(f->errs.v[0].msg, "is larger than"));

	/* errs may be NULL: the code alone says it failed. */
	config_release(&f->c);
	write_file(f, "threads: 3\n", 11);
	assert_int_equal(config_load(f->path, &f->c, NULL), TG_EINVAL);
	check_defaults(&f->c);
}

/* ---- many mistakes at once ----------------------------------------------- */

static void
test_many_errors(void **state)
{
	struct fixture *f = *state;
	int rc;

	rc = load(f,
	    "listen: localhost\n"		/* 1 */
	    "data_dir: var\n"			/* 2: fine */
	    "colour: blue\n"			/* 3 */
	    "log_level: loud\n"			/* 4 */
	    "threads: 4\n"			/* 5 */
	    "tls_key: k.pem\n"			/* 6 */
	    "limits:\n"				/* 7 */
	    "  body_max: 100 MiB\n"		/* 8 */
	    "  threads: 0\n"			/* 9 */
	    "  threads: 1\n"			/* 10 */
	    "  rate_limit: fast\n"		/* 11 */
	    "  queue_max: 5\n"			/* 12: fine */
	    "data_dir: again\n");		/* 13 */
	if (f->errs.n != 10)
		dump_errors(f);
	assert_int_equal(rc, TG_EINVAL);
	assert_int_equal(f->errs.n, 10);
	assert_true(has_error(f, 1, 9, "'listen' must be HOST:PORT"));
	assert_true(has_error(f, 3, 1, "unknown key 'colour'"));
	assert_true(has_error(f, 4, 12, "'log_level' must be one of"));
	assert_true(has_error(f, 5, 1, "it belongs under 'limits:'"));
	assert_true(has_error(f, 8, 13, "'body_max' must be from 1 KiB"));
	assert_true(has_error(f, 9, 12, "'threads' must be from 1 to 64"));
	assert_true(has_error(f, 10, 3, "duplicate key 'threads'"));
	assert_true(has_error(f, 11, 15, "'rate_limit' must be a number"));
	assert_true(has_error(f, 13, 1, "duplicate key 'data_dir'"));
	assert_true(has_error(f, 6, 1, "'tls_key' is set but 'tls_cert' is "
	    "not"));
	/* Nothing of the file was kept. */
	check_defaults(&f->c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_source_tree_config, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_full_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_spellings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_keys, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_duplicates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_types, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics_token, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_yaml_features, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_syntax_and_root, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_io_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_errors, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
