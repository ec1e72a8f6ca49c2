/*
 * http.h: `tiergate serve`, the REST daemon (contract.md section 3).
 *
 * libmicrohttpd answers on a small thread pool; decisions are decided and
 * logged by one writer thread in commit groups (one transaction, one fsync,
 * one signed checkpoint for every decision that arrived while the previous
 * group committed), while their connections are suspended.  A decision is
 * answered only after its group is committed and signed.
 */
#ifndef TIERGATE_HTTP_H
#define TIERGATE_HTTP_H

#include "tiergate/config.h"

struct serve_opts {
	const struct tg_config *cfg;
	const char *data_dir;			/* resolved */
	const char *const *rules;		/* resolved rule paths */
	size_t nrules;
	const char *openapi_path;		/* docs/openapi.yaml, or NULL */
};

/*
 * Runs the daemon until SIGTERM or SIGINT (0 after a clean drain) or a
 * startup failure (negative code, logged).  SIGHUP reloads the rules.
 * Blocks the signals it handles in the calling thread; call it from the
 * main thread before starting others.
 */
int http_serve(const struct serve_opts *o);

#endif
