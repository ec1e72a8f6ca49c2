/*
 * config.h: the daemon's configuration file (etc/tiergate.yaml, documented
 * key by key in docs/tiergate.yaml.5).
 *
 * Table-driven, after Redis's config: every key has a type, bounds and a
 * default; unknown keys, wrong types and values out of bounds are errors
 * reported as file:line:col, all of them in one run.  A config is plain
 * data owned by the caller; config_release frees its strings.
 */
#ifndef TIERGATE_CONFIG_H
#define TIERGATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tiergate/error.h"

#define CONFIG_RULES_MAX 16

struct tg_config {
	char *listen;			/* "127.0.0.1:8080" */
	char *data_dir;			/* NULL: the CLI's default */
	char *rules[CONFIG_RULES_MAX];	/* rule files or dirs; none: default */
	size_t nrules;
	char *log_level;		/* error | warn | info | debug */
	char *tls_cert;			/* PEM files; both or neither */
	char *tls_key;
	char *metrics_token;		/* extra bearer token for /metrics */

	/* limits */
	size_t body_max;		/* bytes, default 1 MiB */
	size_t items_max;		/* per query, default 1000 */
	size_t batch_max;		/* transactions per batch, 1000 */
	unsigned json_depth_max;	/* 32 */
	size_t string_max;		/* bytes, 4096 */
	unsigned connection_timeout;	/* seconds, 30 */
	unsigned connections_max;	/* 1024 */
	unsigned connections_per_ip;	/* 256 */
	double rate_limit;		/* requests/s per token, 0: none */
	unsigned rate_burst;		/* bucket size, default 2x rate */
	unsigned queue_max;		/* decisions waiting for the writer,
					   4096; beyond: 503 */
	unsigned queue_wait_ms;		/* a request's longest wait for the
					   writer before 503, 5000 */
	unsigned threads;		/* HTTP worker threads, default 2 */
};

/* Fills *c with every default. */
void config_defaults(struct tg_config *c);

/*
 * Reads path into *c (defaults first).  On failure returns TG_EINVAL (or
 * -errno for I/O) with every mistake in errs (file:line:col).
 */
int config_load(const char *path, struct tg_config *c,
    struct tg_errlist *errs);

void config_release(struct tg_config *c);

#endif
