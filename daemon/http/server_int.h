/*
 * server_int.h: private to daemon/http and its tests: the REST server of
 * http_serve() without the signal loop, so that a test or a fuzz target
 * (tests/fuzz/fuzz_http.c) can run the whole request path in-process on
 * connections it makes itself (a socketpair), with no listening socket.
 *
 * http_serve() is http_server_new(o, HTTP_SERVER_FLAGS, ...), a wait for
 * signals, a drain and http_server_free(); these functions do nothing with
 * signals (the caller blocks or ignores them, SIGPIPE included, before the
 * first call: the threads started here inherit the mask).
 */
#ifndef TIERGATE_SERVER_INT_H
#define TIERGATE_SERVER_INT_H

#include <microhttpd.h>

#include "tiergate/http.h"

/*
 * The daemon's own choice of libmicrohttpd flags: epoll, and its error
 * messages on stderr.  Not poll(): there libmicrohttpd 0.9.75 sees a
 * client's end of input (shutdown(SHUT_WR) after a whole request, as
 * `printf ... | nc -N` does) while the decision waits for the writer, and
 * drops the connection unanswered; tests/api/lifecycle.sh checks that such
 * a client gets its 201.  The price of epoll: a client that closes in the
 * middle of its request keeps its connection until connection_timeout,
 * which connections_per_ip bounds (tests/fuzz/README.md).
 */
#define HTTP_SERVER_FLAGS (MHD_USE_EPOLL | MHD_USE_ERROR_LOG)

struct server;

/*
 * Builds a server: opens (creating) the audit log in o->data_dir, loads
 * the rules, reads the OpenAPI document, starts the writer thread and the
 * libmicrohttpd daemon.  mhd_flags are the daemon's flags besides its
 * internal polling thread(s) and suspend/resume (HTTP_SERVER_FLAGS, or
 * e.g. MHD_USE_POLL without MHD_USE_ERROR_LOG); with
 * MHD_USE_NO_LISTEN_SOCKET it listens nowhere (o->cfg->listen is not
 * read) and takes connections from http_server_add_connection() only.
 * o and everything it points to are borrowed until http_server_free().
 * The "rules_loaded" startup entry is not logged here (http_serve logs it
 * once it listens).  Returns 0 with *out set, or a negative code (logged)
 * with *out NULL.
 */
int http_server_new(const struct serve_opts *o, unsigned mhd_flags,
    struct server **out);

/* Hands a connected stream socket to the server, which owns it from now
 * on (it is closed even on failure).  It counts as a client at
 * 127.0.0.1 for the per-address limit.  Returns 0 or a negative errno.
 * Thread-safe. */
int http_server_add_connection(struct server *s, int fd);

/* Stops the writer (after the jobs queued), waits for report threads,
 * stops the daemon (closing its connections) and frees everything.  Does
 * not drain: callers answer what is in flight first.  NULL is a no-op. */
void http_server_free(struct server *s);

#endif
