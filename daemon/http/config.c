/*
 * config.c: the daemon's configuration file (config.h, documented key by
 * key in docs/tiergate.yaml.5).
 *
 * The file is one YAML mapping: the top-level keys name where things are
 * (listen, data_dir, rules, log_level, tls_cert, tls_key, metrics_token)
 * and a nested mapping, limits:, holds every resource limit, so that what
 * an operator tunes for load sits in one place.  Both levels are described
 * by tables (name, type, bounds, field offset), after Redis's config.c;
 * adding a key is adding a row.
 *
 * Loading is strict and keeps going after a mistake, as the rule loader
 * does: unknown keys, wrong types, duplicates, values out of bounds, YAML
 * anchors, aliases and tags are each reported as file:line:col, all in one
 * run.  On failure the caller's config is left holding the defaults.
 *
 * Ownership: every string of a struct tg_config is malloc'd (the default
 * listen and log_level too) or NULL, so a caller may replace one with
 * free() and strdup(), and config_release frees them all.  config_defaults
 * and config_load overwrite *c without releasing what it held: call
 * config_release first when reusing one.  Nothing is checked against the
 * file system: files named here need not exist until they are used.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <yaml.h>

#include "tiergate/config.h"
#include "tiergate/util.h"

#define CONFIG_FILE_MAX (1u << 20)
#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define PATH_LEN_MAX 4095
#define LISTEN_LEN_MAX 300
#define TOKEN_LEN_MIN 16
#define TOKEN_LEN_MAX 256
#define SHOW_MAX 64		/* characters of a bad value quoted back */
#define TABLE_MAX 16		/* rows of the largest table */

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_LOG_LEVEL "info"

enum ktype {
	KT_LISTEN,	/* HOST:PORT or [IPv6]:PORT */
	KT_PATH,	/* a file or directory name */
	KT_PATHS,	/* a path, or a list of 1..CONFIG_RULES_MAX of them */
	KT_LEVEL,	/* error | warn | info | debug */
	KT_TOKEN,	/* a bearer token written in the file */
	KT_SIZE,	/* integer into a size_t */
	KT_BYTES,	/* integer with an optional KiB or MiB, size_t */
	KT_UINT,	/* integer into an unsigned */
	KT_RATE,	/* decimal number into a double */
	KT_SECTION,	/* a nested mapping described by sub */
};

struct key {
	const char *name;
	enum ktype type;
	size_t off;		/* of the field in struct tg_config */
	uint64_t min, max;	/* numbers only, inclusive */
	const struct key *sub;	/* KT_SECTION only */
};

#define OFF(f) offsetof(struct tg_config, f)

/*
 * Bounds keep the daemon inside what its design can serve: a body is
 * parsed in memory (64 MiB at most), threads are MHD workers that should
 * not outnumber cores by much, and a timeout of 0 would mean none at all
 * in libmicrohttpd, which idle keep-alives exploit to fill the limit.
 */
static const struct key limit_keys[] = {
	{ "body_max", KT_BYTES, OFF(body_max), KIB, 64 * MIB, NULL },
	{ "items_max", KT_SIZE, OFF(items_max), 1, 100000, NULL },
	{ "batch_max", KT_SIZE, OFF(batch_max), 1, 100000, NULL },
	{ "json_depth_max", KT_UINT, OFF(json_depth_max), 8, 1024, NULL },
	{ "string_max", KT_BYTES, OFF(string_max), 64, MIB, NULL },
	{ "connection_timeout", KT_UINT, OFF(connection_timeout), 1, 3600,
	    NULL },
	{ "connections_max", KT_UINT, OFF(connections_max), 1, 65536, NULL },
	{ "connections_per_ip", KT_UINT, OFF(connections_per_ip), 1, 65536,
	    NULL },
	{ "rate_limit", KT_RATE, OFF(rate_limit), 0, 1000000, NULL },
	{ "rate_burst", KT_UINT, OFF(rate_burst), 0, 1000000, NULL },
	{ "queue_max", KT_UINT, OFF(queue_max), 1, 1000000, NULL },
	{ "queue_wait_ms", KT_UINT, OFF(queue_wait_ms), 1, 60000, NULL },
	{ "threads", KT_UINT, OFF(threads), 1, 64, NULL },
	{ NULL, KT_UINT, 0, 0, 0, NULL },
};

static const struct key top_keys[] = {
	{ "listen", KT_LISTEN, OFF(listen), 0, 0, NULL },
	{ "data_dir", KT_PATH, OFF(data_dir), 0, 0, NULL },
	{ "rules", KT_PATHS, OFF(rules), 0, 0, NULL },
	{ "log_level", KT_LEVEL, OFF(log_level), 0, 0, NULL },
	{ "tls_cert", KT_PATH, OFF(tls_cert), 0, 0, NULL },
	{ "tls_key", KT_PATH, OFF(tls_key), 0, 0, NULL },
	{ "metrics_token", KT_TOKEN, OFF(metrics_token), 0, 0, NULL },
	{ "limits", KT_SECTION, 0, 0, 0, limit_keys },
	{ NULL, KT_UINT, 0, 0, 0, NULL },
};

static const char *const levels[] = { "error", "warn", "info", "debug",
    NULL };

struct cl {
	const char *file;
	yaml_document_t doc;
	struct tg_config *c;
	struct tg_errlist *errs;
	int nerr;
	bool nomem;
	const yaml_node_t *tls_cert_at, *tls_key_at;
};

void
config_defaults(struct tg_config *c)
{
	memset(c, 0, sizeof(*c));
	/* NULL only when memory ran out; config_load reports that as
	 * -ENOMEM, and this function has no way to. */
	c->listen = strdup(DEFAULT_LISTEN);
	c->log_level = strdup(DEFAULT_LOG_LEVEL);
	c->body_max = 1 << 20;
	c->items_max = 1000;
	c->batch_max = 1000;
	c->json_depth_max = 32;
	c->string_max = 4096;
	c->connection_timeout = 30;
	c->connections_max = 1024;
	/* As many as in all: behind a proxy every client has one address,
	 * and the few procurement systems that call directly each open
	 * many.  A lower figure is for a daemon exposed to many clients. */
	c->connections_per_ip = 1024;
	c->rate_limit = 0;
	c->rate_burst = 0;
	c->queue_max = 4096;
	c->queue_wait_ms = 5000;
	c->threads = 2;
}

void
config_release(struct tg_config *c)
{
	if (c == NULL)
		return;
	free(c->listen);
	free(c->data_dir);
	for (size_t i = 0; i < c->nrules && i < CONFIG_RULES_MAX; i++)
		free(c->rules[i]);
	free(c->log_level);
	free(c->tls_cert);
	free(c->tls_key);
	/* A bearer token: wiped so it does not linger in freed memory. */
	if (c->metrics_token != NULL)
		OPENSSL_cleanse(c->metrics_token, strlen(c->metrics_token));
	free(c->metrics_token);
	memset(c, 0, sizeof(*c));
}

/* ---- errors ------------------------------------------------------------- */

static void
cerr_at(struct cl *cl, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void
cerr_at(struct cl *cl, int code, int line, int col, const char *fmt, ...)
{
	struct tg_error e;
	va_list ap;

	tg_error_clear(&e);
	e.code = code;
	if (line > 0)
		snprintf(e.file, sizeof(e.file), "%s", cl->file);
	e.line = line > 0 ? line : 0;
	e.col = col > 0 ? col : 0;
	va_start(ap, fmt);
	if (vsnprintf(e.msg, sizeof(e.msg), fmt, ap) < 0)
		snprintf(e.msg, sizeof(e.msg), "%s", tg_strerror(code));
	va_end(ap);
	if (cl->errs != NULL && errlist_add(cl->errs, &e) != 0)
		cl->nomem = true;
	cl->nerr++;
}

static void
cerr(struct cl *cl, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
cerr(struct cl *cl, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[TG_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	/* Every node has a position; line 1 col 1 is the fallback so the
	 * file name is never lost. */
	cerr_at(cl, TG_EINVAL, n ? (int)n->start_mark.line + 1 : 1,
	    n ? (int)n->start_mark.column + 1 : 1, "%s", msg);
}

/* ---- nodes -------------------------------------------------------------- */

static yaml_node_t *
node(struct cl *cl, int id)
{
	return yaml_document_get_node(&cl->doc, id);
}

static const char *
scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool
is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool
is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL",
	    NULL };

	if (!is_plain(n))
		return false;
	for (size_t i = 0; nulls[i] != NULL; i++)
		if (strcmp(scalar(n), nulls[i]) == 0)
			return true;
	return false;
}

/* A short, printable rendering of a value for a message: the message
 * goes to a terminal or a log, so control bytes are replaced. */
static const char *
show(const yaml_node_t *n, char *buf, size_t size)
{
	size_t i, len;
	const char *s;

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (is_null(n))
		return "null";
	s = scalar(n);
	len = n->data.scalar.length;
	for (i = 0; i < len && i + 5 < size && i < SHOW_MAX; i++)
		buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (i < len && i >= 3) {
		buf[i - 3] = '.';
		buf[i - 2] = '.';
		buf[i - 1] = '.';
	}
	buf[i] = '\0';
	return buf;
}

/* Renders a byte count as the file would best spell it. */
static const char *
show_bytes(uint64_t n, char *buf, size_t size)
{
	if (n >= MIB && n % MIB == 0)
		snprintf(buf, size, "%" PRIu64 " MiB", n / MIB);
	else if (n >= KIB && n % KIB == 0)
		snprintf(buf, size, "%" PRIu64 " KiB", n / KIB);
	else
		snprintf(buf, size, "%" PRIu64, n);
	return buf;
}

/* ---- values ------------------------------------------------------------- */

/*
 * Decimal digits only: no sign, no leading zero (YAML 1.1 would read 010
 * as octal, so it is refused rather than guessed), no 0x, no separators.
 * Returns false on anything else; *overflow tells a value too large for
 * 64 bits from one that is not a number.
 */
static bool
parse_u64(const char *s, size_t len, uint64_t *out, bool *overflow)
{
	uint64_t v = 0;

	*overflow = false;
	if (len == 0 || (s[0] == '0' && len > 1))
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return false;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			*overflow = true;
		else
			v = v * 10 + d;
	}
	*out = v;
	return true;
}

/*
 * A string value: a scalar, not null, without NUL bytes (a double-quoted
 * "\0" would otherwise cut the string short silently), of 1..max bytes.
 */
static const char *
get_string(struct cl *cl, const yaml_node_t *v, const char *key, size_t max)
{
	char b[SHOW_MAX + 8];

	if (v->type != YAML_SCALAR_NODE || is_null(v)) {
		cerr(cl, v, "'%s' must be a string, not %s", key,
		    show(v, b, sizeof(b)));
		return NULL;
	}
	if (strlen(scalar(v)) != v->data.scalar.length) {
		cerr(cl, v, "'%s' must not contain NUL characters", key);
		return NULL;
	}
	if (v->data.scalar.length == 0) {
		cerr(cl, v, "'%s' must not be empty", key);
		return NULL;
	}
	if (v->data.scalar.length > max) {
		cerr(cl, v, "'%s' is too long (at most %zu bytes)", key, max);
		return NULL;
	}
	return scalar(v);
}

static char **
str_slot(struct tg_config *c, size_t off)
{
	return (char **)(void *)((char *)c + off);
}

static void
set_string(struct cl *cl, size_t off, const char *s)
{
	char **slot = str_slot(cl->c, off);
	char *d = strdup(s);

	if (d == NULL) {
		cl->nomem = true;
		return;
	}
	free(*slot);
	*slot = d;
}

static bool
all_digits(const char *s, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/*
 * HOST:PORT, where HOST is an IPv4 address, localhost or an IPv6 address
 * in brackets, and PORT is 1..65535 (0, "any free port", is refused: a
 * daemon's clients need to know where it is).  Other host names are
 * refused because the server binds without resolving (parse_listen in
 * server.c); a name that resolved differently from one start to the next
 * would move the daemon silently.  why gets the reason on failure.
 */
static bool
listen_ok(const char *s, char *why, size_t whysz)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];
	const char *port, *end;
	uint64_t p;
	size_t hlen;
	bool over;

	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || end[1] != ':') {
			snprintf(why, whysz, "an IPv6 address is written "
			    "[ADDRESS]:PORT");
			return false;
		}
		hlen = (size_t)(end - s - 1);
		if (hlen == 0 || hlen >= sizeof(host)) {
			snprintf(why, whysz, "not an IPv6 address in brackets");
			return false;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET6, host, addr) != 1) {
			snprintf(why, whysz, "'%s' is not an IPv6 address",
			    host);
			return false;
		}
		port = end + 2;
	} else {
		end = strrchr(s, ':');
		if (end == NULL) {
			snprintf(why, whysz, "the port is missing");
			return false;
		}
		hlen = (size_t)(end - s);
		if (memchr(s, ':', hlen) != NULL) {
			snprintf(why, whysz, "an IPv6 address is written "
			    "[ADDRESS]:PORT");
			return false;
		}
		if (hlen == 0) {
			snprintf(why, whysz, "the host is missing");
			return false;
		}
		/* Digits and dots are an IPv4 address or a mistake, never a
		 * host name: 256.1.1.1 must not go to the resolver. */
		if (strspn(s, "0123456789.") >= hlen) {
			if (hlen >= sizeof(host)) {
				snprintf(why, whysz, "not an IPv4 address");
				return false;
			}
			memcpy(host, s, hlen);
			host[hlen] = '\0';
			if (inet_pton(AF_INET, host, addr) != 1) {
				snprintf(why, whysz, "'%s' is not an IPv4 "
				    "address", host);
				return false;
			}
		} else if (hlen != 9 || memcmp(s, "localhost", 9) != 0) {
			snprintf(why, whysz, "the host must be an IP address "
			    "or localhost");
			return false;
		}
		port = end + 1;
	}
	if (!all_digits(port, strlen(port)) ||
	    !parse_u64(port, strlen(port), &p, &over) || over || p < 1 ||
	    p > 65535) {
		snprintf(why, whysz, "the port must be a number from 1 to "
		    "65535");
		return false;
	}
	return true;
}

/* Integers, with KiB/MiB allowed for byte counts. */
static void
set_integer(struct cl *cl, const struct key *k, const yaml_node_t *v)
{
	char b[SHOW_MAX + 8], lo[32], hi[32];
	const char *s;
	size_t len, n;
	uint64_t x = 0, mult = 1;
	bool over = false, ok;

	if (!is_plain(v) || is_null(v)) {
		cerr(cl, v, "'%s' must be %s, not %s", k->name,
		    k->type == KT_BYTES ? "a byte count" : "an integer",
		    show(v, b, sizeof(b)));
		return;
	}
	s = scalar(v);
	len = v->data.scalar.length;
	if (k->type == KT_BYTES) {
		n = len;
		if (n > 3 && strcmp(s + n - 3, "KiB") == 0) {
			mult = KIB;
			n -= 3;
		} else if (n > 3 && strcmp(s + n - 3, "MiB") == 0) {
			mult = MIB;
			n -= 3;
		}
		if (mult != 1 && n > 0 && s[n - 1] == ' ')
			n--;
		len = n;
	}
	ok = parse_u64(s, len, &x, &over);
	if (!ok) {
		cerr(cl, v, "'%s' must be %s, not %s", k->name,
		    k->type == KT_BYTES ? "a byte count (an integer, "
		    "optionally followed by KiB or MiB)" : "an integer",
		    show(v, b, sizeof(b)));
		return;
	}
	if (!over && x > UINT64_MAX / mult)
		over = true;
	x *= over ? 1 : mult;
	if (over || x < k->min || x > k->max) {
		if (k->type == KT_BYTES)
			cerr(cl, v, "'%s' must be from %s to %s, not %s",
			    k->name, show_bytes(k->min, lo, sizeof(lo)),
			    show_bytes(k->max, hi, sizeof(hi)),
			    show(v, b, sizeof(b)));
		else
			cerr(cl, v, "'%s' must be from %" PRIu64 " to %"
			    PRIu64 ", not %s", k->name, k->min, k->max,
			    show(v, b, sizeof(b)));
		return;
	}
	if (k->type == KT_UINT)
		*(unsigned *)(void *)((char *)cl->c + k->off) = (unsigned)x;
	else
		*(size_t *)(void *)((char *)cl->c + k->off) = (size_t)x;
}

/* A plain decimal: digits with an optional fraction, nothing else (no
 * sign, exponent, inf or nan, which strtod would take). */
static void
set_rate(struct cl *cl, const struct key *k, const yaml_node_t *v)
{
	char b[SHOW_MAX + 8];
	const char *s, *dot;
	size_t len, ilen;
	double x;
	char *end;

	if (!is_plain(v) || is_null(v)) {
		cerr(cl, v, "'%s' must be a number, not %s", k->name,
		    show(v, b, sizeof(b)));
		return;
	}
	s = scalar(v);
	len = v->data.scalar.length;
	dot = memchr(s, '.', len);
	ilen = dot != NULL ? (size_t)(dot - s) : len;
	if (!all_digits(s, ilen) ||
	    (ilen > 1 && s[0] == '0') ||
	    (dot != NULL && !all_digits(dot + 1, len - ilen - 1))) {
		cerr(cl, v, "'%s' must be a number, not %s", k->name,
		    show(v, b, sizeof(b)));
		return;
	}
	errno = 0;
	x = strtod(s, &end);
	if (errno != 0 || end != s + len || x < (double)k->min ||
	    x > (double)k->max) {
		cerr(cl, v, "'%s' must be from %" PRIu64 " to %" PRIu64
		    ", not %s", k->name, k->min, k->max,
		    show(v, b, sizeof(b)));
		return;
	}
	*(double *)(void *)((char *)cl->c + k->off) = x;
}

static void
set_paths(struct cl *cl, const struct key *k, const yaml_node_t *v)
{
	struct tg_config *c = cl->c;
	const yaml_node_item_t *it;
	size_t n;
	const char *s;

	if (v->type == YAML_SCALAR_NODE) {
		s = get_string(cl, v, k->name, PATH_LEN_MAX);
		if (s == NULL)
			return;
		if ((c->rules[0] = strdup(s)) == NULL)
			cl->nomem = true;
		else
			c->nrules = 1;
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		cerr(cl, v, "'%s' must be a path or a list of paths, not a "
		    "mapping", k->name);
		return;
	}
	n = (size_t)(v->data.sequence.items.top -
	    v->data.sequence.items.start);
	if (n == 0) {
		cerr(cl, v, "'%s' must name at least one file or directory "
		    "(leave the key out for the default)", k->name);
		return;
	}
	if (n > CONFIG_RULES_MAX) {
		cerr(cl, v, "'%s' names %zu paths; at most %d", k->name, n,
		    CONFIG_RULES_MAX);
		return;
	}
	for (it = v->data.sequence.items.start;
	    it < v->data.sequence.items.top; it++) {
		const yaml_node_t *e = node(cl, *it);

		if (e == NULL)
			continue;
		s = get_string(cl, e, k->name, PATH_LEN_MAX);
		if (s == NULL)
			continue;
		c->rules[c->nrules] = strdup(s);
		if (c->rules[c->nrules] == NULL) {
			cl->nomem = true;
			return;
		}
		c->nrules++;
	}
}

static void walk(struct cl *, const yaml_node_t *, const struct key *,
    const char *, const struct key *);

static void
set_value(struct cl *cl, const struct key *k, const yaml_node_t *v)
{
	char why[160], b[SHOW_MAX + 8];
	const char *s;
	size_t i;

	switch (k->type) {
	case KT_LISTEN:
		s = get_string(cl, v, k->name, LISTEN_LEN_MAX);
		if (s == NULL)
			return;
		if (!listen_ok(s, why, sizeof(why))) {
			cerr(cl, v, "'%s' must be HOST:PORT or [IPv6]:PORT, "
			    "not '%s': %s", k->name, show(v, b, sizeof(b)),
			    why);
			return;
		}
		set_string(cl, k->off, s);
		return;
	case KT_PATH:
		s = get_string(cl, v, k->name, PATH_LEN_MAX);
		if (s == NULL)
			return;
		set_string(cl, k->off, s);
		return;
	case KT_PATHS:
		set_paths(cl, k, v);
		return;
	case KT_LEVEL:
		s = get_string(cl, v, k->name, 16);
		if (s == NULL)
			return;
		for (i = 0; levels[i] != NULL; i++)
			if (strcmp(levels[i], s) == 0)
				break;
		if (levels[i] == NULL) {
			cerr(cl, v, "'%s' must be one of error, warn, info, "
			    "debug, not '%s'", k->name, show(v, b, sizeof(b)));
			return;
		}
		set_string(cl, k->off, s);
		return;
	case KT_TOKEN:
		s = get_string(cl, v, k->name, TOKEN_LEN_MAX);
		if (s == NULL)
			return;
		/* It travels in an Authorization header: visible ASCII
		 * only, and long enough not to be guessed.  The value is
		 * never quoted back: it is a secret. */
		for (i = 0; s[i] != '\0'; i++)
			if (s[i] < 0x21 || s[i] > 0x7e)
				break;
		if (s[i] != '\0' || i < TOKEN_LEN_MIN) {
			cerr(cl, v, "'%s' must be %d to %d visible ASCII "
			    "characters without spaces", k->name,
			    TOKEN_LEN_MIN, TOKEN_LEN_MAX);
			return;
		}
		set_string(cl, k->off, s);
		return;
	case KT_SIZE:
	case KT_BYTES:
	case KT_UINT:
		set_integer(cl, k, v);
		return;
	case KT_RATE:
		set_rate(cl, k, v);
		return;
	case KT_SECTION:
		walk(cl, v, k->sub, k->name, top_keys);
		return;
	}
}

static const struct key *
find_key(const struct key *t, const char *name)
{
	for (size_t i = 0; t[i].name != NULL; i++)
		if (strcmp(t[i].name, name) == 0)
			return &t[i];
	return NULL;
}

/*
 * Walks one mapping against table t.  other is the table of the other
 * level, only to say where a misplaced key belongs.
 */
static void
walk(struct cl *cl, const yaml_node_t *map, const struct key *t,
    const char *what, const struct key *other)
{
	const yaml_node_t *seen[TABLE_MAX] = { NULL };
	const yaml_node_pair_t *pr;
	const struct key *k;
	char b[SHOW_MAX + 8];

	if (map->type != YAML_MAPPING_NODE) {
		if (what != NULL)
			cerr(cl, map, "'%s' must be a mapping, not %s", what,
			    show(map, b, sizeof(b)));
		else
			cerr(cl, map, "a configuration file must be a mapping "
			    "of keys to values");
		return;
	}
	for (pr = map->data.mapping.pairs.start;
	    pr < map->data.mapping.pairs.top; pr++) {
		const yaml_node_t *kn = node(cl, pr->key);
		const yaml_node_t *v = node(cl, pr->value);
		size_t idx;

		if (kn == NULL || v == NULL)
			continue;
		if (kn->type != YAML_SCALAR_NODE) {
			cerr(cl, kn, "keys must be names, not %s",
			    show(kn, b, sizeof(b)));
			continue;
		}
		k = find_key(t, scalar(kn));
		if (k == NULL) {
			if (other != NULL && find_key(other, scalar(kn)))
				cerr(cl, kn, "unknown key '%s'%s%s (it belongs "
				    "%s)", show(kn, b, sizeof(b)),
				    what != NULL ? " in " : "",
				    what != NULL ? what : "",
				    what != NULL ? "at the top level" :
				    "under 'limits:'");
			else
				cerr(cl, kn, "unknown key '%s'%s%s",
				    show(kn, b, sizeof(b)),
				    what != NULL ? " in " : "",
				    what != NULL ? what : "");
			continue;
		}
		idx = (size_t)(k - t);
		if (seen[idx] != NULL) {
			cerr(cl, kn, "duplicate key '%s' (first at line %d)",
			    k->name, (int)seen[idx]->start_mark.line + 1);
			continue;
		}
		seen[idx] = kn;
		/* Noted even when the value is bad, so a bad tls_key is
		 * not also reported as a missing one. */
		if (strcmp(k->name, "tls_cert") == 0)
			cl->tls_cert_at = kn;
		else if (strcmp(k->name, "tls_key") == 0)
			cl->tls_key_at = kn;
		set_value(cl, k, v);
	}
}

/* ---- the file ----------------------------------------------------------- */

/*
 * Anchors and aliases let a small file stand for a large tree, tags
 * change how a value is read, and a second document would be silently
 * ignored by yaml_parser_load; a config has no use for any of them, so
 * every one is reported.  Syntax errors are left to the document load.
 */
static void
scan_events(struct cl *cl, const unsigned char *buf, size_t len)
{
	yaml_parser_t ps;
	yaml_event_t ev;
	int docs = 0;
	bool done = false;

	if (!yaml_parser_initialize(&ps)) {
		cl->nomem = true;
		return;
	}
	yaml_parser_set_input_string(&ps, buf, len);
	while (!done && yaml_parser_parse(&ps, &ev)) {
		const yaml_char_t *anchor = NULL, *tag = NULL;
		int line = (int)ev.start_mark.line + 1;
		int col = (int)ev.start_mark.column + 1;

		switch (ev.type) {
		case YAML_ALIAS_EVENT:
			cerr_at(cl, TG_EINVAL, line, col, "YAML aliases are "
			    "not supported");
			break;
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor;
			tag = ev.data.scalar.tag;
			break;
		case YAML_SEQUENCE_START_EVENT:
			anchor = ev.data.sequence_start.anchor;
			tag = ev.data.sequence_start.tag;
			break;
		case YAML_MAPPING_START_EVENT:
			anchor = ev.data.mapping_start.anchor;
			tag = ev.data.mapping_start.tag;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs == 2)
				cerr_at(cl, TG_EINVAL, line, col, "a "
				    "configuration file holds one YAML "
				    "document");
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		if (anchor != NULL)
			cerr_at(cl, TG_EINVAL, line, col, "YAML anchors are "
			    "not supported");
		if (tag != NULL)
			cerr_at(cl, TG_EINVAL, line, col, "YAML tags are not "
			    "supported");
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&ps);
}

static void
load_buffer(struct cl *cl, const unsigned char *buf, size_t len)
{
	yaml_parser_t ps;
	yaml_node_t *root;

	scan_events(cl, buf, len);
	if (!yaml_parser_initialize(&ps)) {
		cl->nomem = true;
		return;
	}
	yaml_parser_set_input_string(&ps, buf, len);
	if (!yaml_parser_load(&ps, &cl->doc)) {
		cerr_at(cl, TG_ESYNTAX, (int)ps.problem_mark.line + 1,
		    (int)ps.problem_mark.column + 1, "YAML syntax: %s%s%s",
		    ps.problem ? ps.problem : "error",
		    ps.context ? " " : "", ps.context ? ps.context : "");
		yaml_parser_delete(&ps);
		return;
	}
	yaml_parser_delete(&ps);
	root = yaml_document_get_root_node(&cl->doc);
	/* An empty file (or one of comments only) means every default. */
	if (root != NULL && !is_null(root)) {
		walk(cl, root, top_keys, NULL, limit_keys);
		if (cl->tls_cert_at != NULL && cl->tls_key_at == NULL)
			cerr(cl, cl->tls_cert_at, "'tls_cert' is set but "
			    "'tls_key' is not: TLS needs both");
		if (cl->tls_key_at != NULL && cl->tls_cert_at == NULL)
			cerr(cl, cl->tls_key_at, "'tls_key' is set but "
			    "'tls_cert' is not: TLS needs both");
	}
	yaml_document_delete(&cl->doc);
}

/* Orders the errors this load added by position: the event scan reports
 * anchors and tags before the walk reports the rest.  Insertion sort: it
 * is stable and the list is short (capped at TG_ERRLIST_MAX). */
static void
sort_errors(struct tg_errlist *errs, size_t from)
{
	if (errs == NULL)
		return;
	for (size_t i = from + 1; i < errs->n; i++) {
		struct tg_error e = errs->v[i];
		size_t j = i;

		while (j > from && (errs->v[j - 1].line > e.line ||
		    (errs->v[j - 1].line == e.line &&
		    errs->v[j - 1].col > e.col))) {
			errs->v[j] = errs->v[j - 1];
			j--;
		}
		errs->v[j] = e;
	}
}

int
config_load(const char *path, struct tg_config *c, struct tg_errlist *errs)
{
	struct cl cl;
	struct tg_buf b;
	size_t first;
	int rc;

	config_defaults(c);
	memset(&cl, 0, sizeof(cl));
	cl.file = path;
	cl.c = c;
	cl.errs = errs;
	buf_init(&b, CONFIG_FILE_MAX);
	if (c->listen == NULL || c->log_level == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = buf_read_file(&b, path);
	if (rc == TG_ETOOBIG) {
		cerr_at(&cl, TG_ETOOBIG, 0, 0, "config file '%s' is larger "
		    "than %u bytes", path, CONFIG_FILE_MAX);
		rc = TG_EINVAL;
		goto out;
	}
	if (rc != 0) {
		cerr_at(&cl, rc, 0, 0, "cannot read config file '%s': %s",
		    path, tg_strerror(rc));
		goto out;
	}
	first = errs != NULL ? errs->n : 0;
	load_buffer(&cl, (const unsigned char *)b.p, b.len);
	sort_errors(errs, first);
	if (cl.nomem)
		rc = -ENOMEM;
	else if (cl.nerr > 0)
		rc = TG_EINVAL;
out:
	buf_release(&b);
	if (rc != 0) {
		config_release(c);
		config_defaults(c);
	}
	return rc;
}
