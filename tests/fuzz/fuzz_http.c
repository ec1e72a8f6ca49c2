/*
 * fuzz_http.c: libFuzzer target for the whole HTTP request path of
 * `tiergate serve`, in-process: libmicrohttpd's parser, access_cb and
 * first_call (routes, tokens, roles, limits), the handlers, the writer
 * thread and the audit log.
 *
 * LLVMFuzzerInitialize builds one server (daemon/http/server_int.h) with
 * no listening socket, on a temporary data dir (in /dev/shm when there is
 * one: fsync is the writer's cost) holding four fixed tokens (below) and
 * the rules of ./rules.  Each input is the raw bytes a client sends on one
 * connection: they are written into one end of a socketpair whose other
 * end the server was given, the write side is then shut down (once the
 * server has read them: see settle()), and the whole answer is read until
 * the server closes.  Every RECYCLE inputs the
 * server is rebuilt on a fresh data dir, so the log (and a report's work)
 * stays small.
 *
 * The seeds (tests/fuzz/corpus/http/, made by make_seeds.sh) are one
 * request per route and method, with each token, a bad one and none, the
 * bodies of etc/examples, chunked bodies, a Content-Length over the limit,
 * pipelined requests and broken request lines.
 *
 * Besides crashes, sanitizer reports and hangs (an answer not finished in
 * ANSWER_SECONDS aborts), it abort()s when the answer breaks a promise:
 *  - it is a well-formed HTTP/1.x response: status line, headers ending
 *    in an empty line, and as many body bytes as its Content-Length;
 *  - an answer of tiergate's own (with its X-Content-Type-Options header;
 *    libmicrohttpd's answers to requests it cannot parse have none) is
 *    never a 500; a 4xx with a body is application/problem+json whose
 *    "status" is the status code; a 401 has WWW-Authenticate, a 405
 *    Allow;
 *  - without any valid token in the input, a 2xx is one of the open
 *    routes (/healthz, /readyz, /v1/openapi.yaml); with only the screen
 *    token, never an audit or admin route's answer.
 * `make test` replays the corpus without libFuzzer (replay_main.c calls
 * LLVMFuzzerInitialize).  FUZZ_HTTP_LOG=debug (or info, warn) shows the
 * daemon's log; built with -DFUZZ_TRACE, it prints each answer.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "tiergate/audit.h"
#include "tiergate/config.h"
#include "tiergate/http.h"
#include "tiergate/util.h"

#include "../../daemon/http/server_int.h"

#define RECYCLE 2000		/* inputs per server */
#define ANSWER_SECONDS 30	/* longest wait for an answer to end */
#define ANSWER_MAX ((size_t)64 << 20)
#define SETTLE_US 50000		/* longest wait for the server to read */

/* The tokens the seeds use ("tg_" and 64 hex digits, as token_create
 * makes them); TOK_REVOKED is revoked. */
#define TOK_SCREEN "tg_5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c" \
	"5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c5c"
#define TOK_AUDIT "tg_a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0" \
	"a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0"
#define TOK_ADMIN "tg_adadadadadadadadadadadadadadadad" \
	"adadadadadadadadadadadadadadadad"
#define TOK_REVOKED "tg_dededededededededededededededede" \
	"dededededededededededededededede"
#define TOK_METRICS "fuzz-metrics-token-0123456789abcdef"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tg_config cfg;
static struct serve_opts opts;
static const char *rules[] = { "rules" };
static char data_dir[PATH_MAX];
static struct server *srv;
static unsigned long inputs;
/*
 * The daemon's epoll, with no listening socket.  libmicrohttpd's messages
 * (a connection here is not TCP, so setting TCP_NODELAY fails) only with
 * FUZZ_HTTP_LOG.  (Not poll(): libmicrohttpd's poll loop allocates its
 * array of descriptors on every turn, which LeakSanitizer's check after an
 * input can catch in flight and report as a leak.)
 */
static unsigned mhd_flags = MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL;

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_http: %s\n", what);
	abort();
}

/* The data dir holds files only (the database, its WAL, the keys). */
static void
remove_data_dir(void)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;

	if (data_dir[0] == '\0')
		return;
	d = opendir(data_dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", data_dir,
			    de->d_name);
			(void)unlink(path);
		}
		closedir(d);
	}
	(void)rmdir(data_dir);
	data_dir[0] = '\0';
}

static void
add_token(sqlite3 *db, const char *secret, const char *role, int revoked)
{
	static const char sql[] = "INSERT INTO tokens (id, name, role, hash, "
	    "created, revoked) VALUES (?, ?, ?, ?, '2025-01-01T00:00:00Z', ?)";
	unsigned char h[32];
	unsigned int hl = 0;
	char id[17];
	sqlite3_stmt *st;

	if (EVP_Digest(secret, strlen(secret), h, &hl, EVP_sha256(),
	    NULL) != 1)
		die("SHA-256 failed");
	hex_encode(h, 8, id);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		die(sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, role, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, h, 32, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, revoked);
	if (sqlite3_step(st) != SQLITE_DONE)
		die(sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

/* A new data dir with the log made and the fixed tokens in it, then a
 * server on it. */
static void
build(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	struct tg_audit *a = NULL;
	struct tg_error err;
	char path[PATH_MAX + 32];
	sqlite3 *db;

	snprintf(data_dir, sizeof(data_dir), "%s/tiergate-fuzz-http.XXXXXX",
	    base);
	if (mkdtemp(data_dir) == NULL)
		die("cannot make the data dir");
	tg_error_clear(&err);
	if (audit_open(data_dir, AUDIT_CREATE, &a, &err) != 0)
		die(err.msg);
	audit_close(a);
	snprintf(path, sizeof(path), "%s/tiergate.db", data_dir);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		die("cannot open the database");
	add_token(db, TOK_SCREEN, "screen", 0);
	add_token(db, TOK_AUDIT, "audit", 0);
	add_token(db, TOK_ADMIN, "admin", 0);
	add_token(db, TOK_REVOKED, "screen", 1);
	sqlite3_close(db);

	opts.data_dir = data_dir;
	if (http_server_new(&opts, mhd_flags, &srv) != 0)
		die("cannot build the server");
}

static void
teardown(void)
{
	http_server_free(srv);
	srv = NULL;
	remove_data_dir();
}

static int
level_of(const char *s)
{
	if (s == NULL || strcmp(s, "error") == 0)
		return LOG_LVL_ERR;
	if (strcmp(s, "warn") == 0)
		return LOG_LVL_WARN;
	if (strcmp(s, "info") == 0)
		return LOG_LVL_INFO;
	return LOG_LVL_DEBUG;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* A write to a connection the server closed must not kill us. */
	signal(SIGPIPE, SIG_IGN);
	log_init("fuzz_http", level_of(getenv("FUZZ_HTTP_LOG")));
	if (getenv("FUZZ_HTTP_LOG") != NULL)
		mhd_flags |= MHD_USE_ERROR_LOG;
	config_defaults(&cfg);
	/* Limits small enough for inputs of libFuzzer's size to cross. */
	cfg.body_max = 16384;
	cfg.items_max = 16;
	cfg.batch_max = 8;
	cfg.connection_timeout = 10;
	cfg.metrics_token = strdup(TOK_METRICS);
	if (cfg.metrics_token == NULL)
		die("out of memory");
	opts.cfg = &cfg;
	opts.rules = rules;
	opts.nrules = 1;
	opts.openapi_path = access("docs/openapi.yaml", R_OK) == 0 ?
	    "docs/openapi.yaml" : NULL;
	build();
	atexit(teardown);
	return 0;
}

/*
 * Waits (at most SETTLE_US) until the server has read everything sent on
 * fd.  With epoll, libmicrohttpd 0.9.75 reads part of a request head and
 * the end of input that came with it as one event, and then waits for
 * more until connection_timeout; cut requests are most of what a fuzzer
 * sends.  (`tiergate serve` does the same with a client that half-closes
 * in the middle of its head; the connection limits bound it.)  Once the
 * bytes are read, the end of input is an event of its own.
 */
static void
settle(int fd)
{
	int queued;

	for (int us = 0; us < SETTLE_US; us += 100) {
		if (ioctl(fd, TIOCOUTQ, &queued) != 0 || queued == 0)
			return;
		usleep(100);
	}
}

/* Sends data on a new connection, then reads the answer until the server
 * closes it. */
static void
exchange(const uint8_t *data, size_t size, struct tg_buf *answer)
{
	uint64_t deadline = mono_ns() / 1000000 + ANSWER_SECONDS * 1000;
	size_t off = 0;
	bool shut = false;
	char buf[16384];
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		die("socketpair failed");
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) != 0)
		die("fcntl failed");
	rc = http_server_add_connection(srv, sv[1]);
	if (rc != 0) {
		fprintf(stderr, "fuzz_http: the server refused a connection: "
		    "%s\n", strerror(-rc));
		abort();
	}
	for (;;) {
		struct pollfd p = { .fd = sv[0], .events = POLLIN };
		ssize_t n;

		if (off == size && !shut) {
			settle(sv[0]);
			(void)shutdown(sv[0], SHUT_WR);
			shut = true;
		}
		if (!shut)
			p.events |= POLLOUT;
		if (mono_ns() / 1000000 > deadline)
			die("no end of the answer in time (a hang)");
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			die("poll failed");
		if ((p.revents & POLLOUT) && !shut) {
			n = send(sv[0], data + off, size - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = size;	/* closed on us: answered */
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(sv[0], buf, sizeof(buf));
			if (n == 0)
				break;
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				break;	/* ECONNRESET: closed on us */
			}
			if (buf_add(answer, buf, (size_t)n) != 0)
				die("an answer of more than 64 MiB");
		}
	}
	close(sv[0]);
}

/* memmem, which is a GNU extension. */
static const char *
find(const void *hay, size_t len, const char *needle, size_t n)
{
	const char *p = hay;

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (p[i] == needle[0] && memcmp(p + i, needle, n) == 0)
			return p + i;
	return NULL;
}

static bool
has(const uint8_t *data, size_t size, const char *s)
{
	return find(data, size, s, strlen(s)) != NULL;
}

/* The value of header name (case-insensitive) in the head [p, end), or
 * NULL; copied into out. */
static const char *
header(const char *p, const char *end, const char *name, char *out,
    size_t size)
{
	size_t nl = strlen(name);

	while (p < end) {
		const char *e = find(p, (size_t)(end - p), "\r\n", 2);

		if (e == NULL)
			e = end;
		if ((size_t)(e - p) > nl && p[nl] == ':' &&
		    strncasecmp(p, name, nl) == 0) {
			const char *v = p + nl + 1;
			size_t n;

			while (v < e && (*v == ' ' || *v == '\t'))
				v++;
			n = (size_t)(e - v) < size - 1 ? (size_t)(e - v) :
			    size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
		p = e + 2;
	}
	return NULL;
}

static void
bad(const char *why, const char *answer, size_t len)
{
	fprintf(stderr, "fuzz_http: %s; the answer begins:\n%.*s\n", why,
	    (int)(len < 600 ? len : 600), answer);
	abort();
}

/* The first answer on the connection (later ones, to pipelined requests,
 * are not parsed: a HEAD's has no body, so where they start depends on
 * the requests). */
static void
check_answer(const uint8_t *data, size_t size, const char *a, size_t len)
{
	const char *hend, *body;
	char ct[128], cl[32], tmp[128];
	long long clen = -1;
	bool ours, head;
	unsigned status;
	size_t i = 0;

	if (len == 0)
		return;		/* closed without an answer: a cut request */
	if (len < 13 || memcmp(a, "HTTP/1.", 7) != 0 ||
	    (a[7] != '0' && a[7] != '1') || a[8] != ' ' ||
	    a[9] < '1' || a[9] > '5' || a[10] < '0' || a[10] > '9' ||
	    a[11] < '0' || a[11] > '9' || a[12] != ' ')
		bad("no status line", a, len);
	status = (unsigned)((a[9] - '0') * 100 + (a[10] - '0') * 10 +
	    (a[11] - '0'));
	hend = find(a, len, "\r\n\r\n", 4);
	if (hend == NULL)
		bad("the head does not end", a, len);
	body = hend + 4;
	if (header(a, hend, "Content-Length", cl, sizeof(cl)) != NULL &&
	    parse_llong(cl, &clen) != 0)
		bad("a bad Content-Length", a, len);
	if (header(a, hend, "Content-Type", ct, sizeof(ct)) == NULL)
		ct[0] = '\0';
	ours = header(a, hend, "X-Content-Type-Options", tmp,
	    sizeof(tmp)) != NULL;
	/* libmicrohttpd skips empty lines before a request line. */
	while (i < size && (data[i] == '\r' || data[i] == '\n'))
		i++;
	head = size - i >= 5 && memcmp(data + i, "HEAD ", 5) == 0;
	if (clen > 0 && !head && (size_t)(a + len - body) < (size_t)clen)
		bad("the body is shorter than its Content-Length", a, len);
	if (!ours)
		return;

	if (status == 500)
		bad("an internal server error", a, len);
	if (status == 401 && header(a, hend, "WWW-Authenticate", tmp,
	    sizeof(tmp)) == NULL)
		bad("a 401 without WWW-Authenticate", a, len);
	if (status == 405 && header(a, hend, "Allow", tmp,
	    sizeof(tmp)) == NULL)
		bad("a 405 without Allow", a, len);
	if (status >= 400 && status < 500 && clen > 0 && !head) {
		json_t *j, *st;

		if (strncmp(ct, "application/problem+json", 24) != 0)
			bad("a 4xx that is not problem+json", a, len);
		j = json_loadb(body, (size_t)clen, 0, NULL);
		st = json_object_get(j, "status");
		if (!json_is_integer(st) ||
		    json_integer_value(st) != (json_int_t)status)
			bad("a problem whose status is not the answer's", a,
			    len);
		json_decref(j);
	}

	/* Authorization: what the input's tokens allow. */
	if (status >= 200 && status < 300) {
		bool admin = has(data, size, TOK_ADMIN) ||
		    has(data, size, TOK_METRICS);
		bool audit = has(data, size, TOK_AUDIT);
		bool screen = has(data, size, TOK_SCREEN);
		bool open_route = strcmp(ct, "application/yaml") == 0 ||
		    (strcmp(ct, "text/plain") == 0 && (clen == 3 ||
		    clen == 6));
		bool privileged = strcmp(ct, "text/plain; charset=utf-8") ==
		    0 || strncmp(ct, "text/plain; version=", 20) == 0 ||
		    strncmp(ct, "text/csv", 8) == 0 ||
		    strncmp(ct, "text/html", 9) == 0 ||
		    (!head && clen >= 6 && (strncmp(body, "{\"ok\":", 6) ==
		    0 || strncmp(body, "{\"holds\":", 9) == 0));

		if (!admin && !audit && !screen && !open_route)
			bad("a 2xx without a token, not on an open route", a,
			    len);
		if (!admin && !audit && privileged)
			bad("an audit or admin answer without their token", a,
			    len);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tg_buf answer;

	if (srv == NULL)
		die("LLVMFuzzerInitialize was not called");
	if (++inputs % RECYCLE == 0) {
		teardown();
		build();
	}
	buf_init(&answer, ANSWER_MAX);
	exchange(data, size, &answer);
#ifdef FUZZ_TRACE
	fprintf(stderr, "fuzz_http: %zu bytes: %.*s\n", answer.len,
	    (int)(answer.len < 2000 ? answer.len : 2000),
	    answer.p != NULL ? answer.p : "");
#endif
	check_answer(data, size, answer.p, answer.len);
	buf_release(&answer);
	return 0;
}
