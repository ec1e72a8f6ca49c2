/*
 * echo_server.c: the yardstick of tests/bench/bench_http.sh.  A bare
 * libmicrohttpd + jansson server that does what every tiergate request
 * must do and nothing else: read the body into a capped buffer, parse it
 * as JSON (duplicate keys refused, as the daemon does), serialize it back
 * (indented, as a decision is answered) and answer 201.  No token, no
 * engine, no audit log.
 *
 * It starts libmicrohttpd with the same flags and options as
 * daemon/http/server.c (internal polling thread, epoll, a thread pool,
 * suspend/resume allowed, the same timeout, connection and memory limits
 * and a completion callback that frees the request), so the ratio of the
 * two servers' throughput is the cost of tiergate's own work.
 *
 *	echo_server [-p PORT] [-t THREADS]
 *
 * It listens on 127.0.0.1, as the daemon is benchmarked.  PORT 0 (the
 * default) takes an ephemeral port; THREADS defaults to 2,
 * the daemon's default.  Prints "echo_server: ready on port N" on stderr
 * once listening; SIGTERM or SIGINT stops it.  Exits 1 on failure.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#define BODY_MAX (1024 * 1024)	/* the daemon's default body_max */

struct req {
	char *p;
	size_t len;
	size_t cap;
	int too_big;
};

static enum MHD_Result
answer(struct MHD_Connection *c, unsigned status, const char *type,
    const char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Appends n bytes to the request's body; fails beyond BODY_MAX. */
static int
body_add(struct req *r, const char *p, size_t n)
{
	char *np;
	size_t cap;

	if (n > BODY_MAX - r->len)
		return -1;
	if (r->len + n > r->cap) {
		cap = r->cap ? r->cap : 4096;
		while (cap < r->len + n)
			cap *= 2;
		if (cap > BODY_MAX)
			cap = BODY_MAX;
		np = realloc(r->p, cap);
		if (np == NULL)
			return -1;
		r->p = np;
		r->cap = cap;
	}
	memcpy(r->p + r->len, p, n);
	r->len += n;
	return 0;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct req *r = *con_cls;
	json_error_t jerr;
	json_t *j;
	enum MHD_Result ret;
	char *out;

	(void)cls;
	(void)url;
	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		*con_cls = r;
		if (strcmp(method, "POST") != 0)
			return answer(c, 405, "text/plain", "POST only\n", 10);
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!r->too_big && body_add(r, upload, *upload_size) != 0)
			r->too_big = 1;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->too_big)
		return answer(c, 413, "text/plain", "too large\n", 10);
	j = json_loadb(r->p ? r->p : "", r->len, JSON_REJECT_DUPLICATES,
	    &jerr);
	if (j == NULL)
		return answer(c, 400, "text/plain", jerr.text,
		    strlen(jerr.text));
	out = json_dumps(j, JSON_PRESERVE_ORDER | JSON_INDENT(2) |
	    JSON_REAL_PRECISION(17));
	json_decref(j);
	if (out == NULL)
		return answer(c, 500, "text/plain", "out of memory\n", 14);
	ret = answer(c, 201, "application/json", out, strlen(out));
	free(out);
	return ret;
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode why)
{
	struct req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (r == NULL)
		return;
	free(r->p);
	free(r);
	*con_cls = NULL;
}

static int
number(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *v < lo || *v > hi)
		return -1;
	return 0;
}

static void
usage(void)
{
	fputs("usage: echo_server [-p PORT] [-t THREADS]\n", stderr);
	exit(1);
}

int
main(int argc, char **argv)
{
	const union MHD_DaemonInfo *di;
	struct MHD_Daemon *d;
	struct sockaddr_in sa;
	sigset_t set;
	long port = 0, threads = 2;
	int ch, sig;

	while ((ch = getopt(argc, argv, "p:t:")) != -1) {
		switch (ch) {
		case 'p':
			if (number(optarg, 0, 65535, &port) != 0)
				usage();
			break;
		case 't':
			if (number(optarg, 1, 64, &threads) != 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();

	/* As the daemon: signals are taken by sigwait in this thread. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
	    access_cb, NULL,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)256,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, NULL,
	    MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr, "echo_server: cannot listen on port %ld\n",
		    port);
		return 1;
	}
	di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	fprintf(stderr, "echo_server: ready on port %u\n",
	    di != NULL ? di->port : 0);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	return 0;
}
