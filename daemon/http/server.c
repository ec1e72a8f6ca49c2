/*
 * server.c: the REST daemon on libmicrohttpd.
 *
 * Threads: libmicrohttpd's pool (cfg.threads) parses requests, checks
 * tokens and decodes queries; the writer thread decides and logs decisions
 * in commit groups; the main thread waits for signals with sigwait (no
 * signal handler runs any code): SIGHUP reloads the rules, SIGTERM/SIGINT
 * drain and stop.
 *
 * A decision request: the handler decodes the query, queues a job for the
 * writer (or answers 503 with Retry-After when the queue is full) and
 * suspends its connection; the writer takes every queued job, decides them
 * in order inside one ledger transaction, commits (one fsync, one signed
 * checkpoint), attaches the receipts and resumes the connections, whose
 * handlers then answer.  Nothing is answered before its group commits.
 *
 * Invariants: a request's memory lives in its struct req, freed by the
 * completion callback; the writer owns a job from enqueue to resume; the
 * rule pack in use is swapped under pack_mu and each job holds a reference
 * to the pack it started with.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tiergate/api.h"
#include "tiergate/audit.h"
#include "tiergate/engine.h"
#include "tiergate/http.h"
#include "tiergate/jcs.h"
#include "tiergate/merkle.h"
#include "tiergate/tokens.h"
#include "tiergate/util.h"
#include "tiergate/uuid.h"

#include "server_int.h"

#define GROUP_MAX 512		/* decisions per commit group */
#define NROUTES 16
#define REPORTS_MAX 2		/* reports being built at once */
#define NBUCKETS 12

static const double lat_bounds[NBUCKETS] = { 0.0005, 0.001, 0.002, 0.005,
    0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5 };

enum job_kind { JOB_DECIDE, JOB_BATCH };

struct job {
	struct job *next;
	struct req *req;
	struct MHD_Connection *conn;
	struct tg_pack *pack;		/* reference held */
	size_t n;			/* queries */
	const struct tg_query **q;	/* in req->arena */
	/* Per query: its canonical form as received (malloc'd; made in the
	 * HTTP thread, so the writer only hashes it), then the decision and
	 * its receipt, which the HTTP thread turns into the answer. */
	char **request;
	size_t *request_len;
	char (*id)[UUID_STR_LEN + 1];
	struct tg_decision **dec;	/* owned, or NULL */
	struct audit_receipt *rcpt;	/* owned once the group committed */
	int *status;			/* per query: 0 or error code */
	struct tg_error *err;		/* per query */
	bool done;
	bool failed;			/* the whole group failed */
	bool saturated;			/* never queued: writer busy */
	struct tg_error group_err;
};

struct route;
struct report_job;

struct req {
	struct server *s;
	const struct route *route;
	char path_id[80];		/* {id} of the path */
	struct tg_buf body;
	bool too_big;
	bool answered;
	struct job *job;
	struct report_job *report;	/* GET /v1/reports/summary */
	struct tg_arena *arena;
	json_t *parsed;			/* request body JSON */
	uint64_t start_ns;
	enum tg_role role;
	char token_id[17];
	int status;
	char decision_id[UUID_STR_LEN + 1];
	const char *allow;		/* for a 405, borrowed for the call */
	bool close;			/* answer with Connection: close */
};

/* Recently checked tokens: the database lookup waits behind the writer's
 * fsync, and every request needs one.  A revoked token keeps working for
 * at most TOKEN_TTL_NS. */
#define TOKEN_TTL_NS (5ull * 1000000000u)

struct tcache {
	uint8_t hash[32];
	enum tg_role role;
	char id[17];
	uint64_t until;
};

struct bucket {
	char id[17];
	double tokens;
	uint64_t last_ns;
};

struct server {
	const struct serve_opts *o;
	const struct tg_config *cfg;
	struct MHD_Daemon *mhd;
	struct tg_audit *audit;

	pthread_mutex_t pack_mu;
	struct tg_pack *pack;
	char reload_error[512];
	char reload_time[32];
	bool reload_ok;

	pthread_t writer;
	pthread_mutex_t qmu;
	pthread_cond_t qcv;
	struct job *qhead, *qtail;
	size_t qlen;			/* queries waiting */
	bool stopping;

	pthread_mutex_t rl_mu;
	struct bucket buckets[256];
	struct tcache tokens[64];

	char *openapi;
	size_t openapi_len;
	char *tls_cert, *tls_key;	/* PEM, for libmicrohttpd's lifetime */
	bool writer_running;		/* writer started: join it */

	/* metrics */
	atomic_ulong req_count[NROUTES][6];	/* by status class 1xx..5xx */
	atomic_ulong lat_count[NBUCKETS + 1];
	_Atomic double lat_sum;
	atomic_ulong outcome_count[4];
	atomic_ulong auth_count[8];	/* AIA LPP ACA NAC UVEU NVEU LICENSE - */
	atomic_ulong groups, group_entries;
	_Atomic double group_seconds;
	atomic_ulong in_flight;
	atomic_uint reports;		/* report threads running */
};

/* ---- small helpers --------------------------------------------------- */

static void
atomic_add_double(_Atomic double *p, double v)
{
	double old = atomic_load(p);

	while (!atomic_compare_exchange_weak(p, &old, old + v))
		;
}

static enum MHD_Result
send_text(struct MHD_Connection *c, struct req *r, unsigned status,
    const char *type, const char *body, size_t len, const char *retry)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (retry != NULL)
		MHD_add_response_header(resp, "Retry-After", retry);
	if (status == 401)
		MHD_add_response_header(resp, "WWW-Authenticate",
		    "Bearer realm=\"tiergate\"");
	if (status == 405 && r != NULL && r->allow != NULL)
		MHD_add_response_header(resp, "Allow", r->allow);
	/* libmicrohttpd closes the connection after this answer instead of
	 * reading what follows as the next request. */
	if (r != NULL && r->close)
		MHD_add_response_header(resp, "Connection", "close");
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	if (r != NULL) {
		r->status = (int)status;
		r->answered = true;
	}
	return ret;
}

static enum MHD_Result
send_json(struct MHD_Connection *c, struct req *r, unsigned status,
    const json_t *j, const char *type)
{
	char *s = api_dumps(j, false);
	enum MHD_Result ret;

	if (s == NULL)
		return send_text(c, r, 500, "text/plain", "out of memory\n", 14,
		    NULL);
	ret = send_text(c, r, status, type, s, strlen(s), NULL);
	free(s);
	return ret;
}

static const char *
status_title(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* A decision goes out in exactly the bytes `tiergate check` prints for
 * it (its text, then a newline), so the two interfaces can be compared
 * and diffed.  b holds the text; it is released here. */
static enum MHD_Result
send_decision(struct MHD_Connection *c, struct req *r, unsigned status,
    struct tg_buf *b)
{
	enum MHD_Result ret;

	if (b->p == NULL || buf_add(b, "\n", 1) != 0) {
		buf_release(b);
		return send_text(c, r, 500, "text/plain", "out of memory\n", 14,
		    NULL);
	}
	ret = send_text(c, r, status, "application/json", b->p, b->len, NULL);
	buf_release(b);
	return ret;
}

/* RFC 9457 problem details, with JSON pointers to the bad fields. */
static enum MHD_Result
problem(struct MHD_Connection *c, struct req *r, unsigned status,
    const char *detail, const char *pointer, const char *retry)
{
	json_t *p, *errs;
	char type[96], d[1024], ptr[TG_ERR_POINTER_MAX];
	enum MHD_Result ret;
	char *s;

	/* A message may quote what the client sent (a path segment is any
	 * bytes once percent-decoded): jansson refuses ill-formed UTF-8,
	 * and a problem is application/problem+json whatever it says. */
	snprintf(d, sizeof(d), "%s", detail);
	utf8_clean(d);
	detail = d;
	if (pointer != NULL) {
		snprintf(ptr, sizeof(ptr), "%s", pointer);
		utf8_clean(ptr);
		pointer = ptr;
	}
	snprintf(type, sizeof(type), "https://tiergate.invalid/problems/%u",
	    status);
	errs = json_array();
	if (pointer != NULL && errs != NULL)
		json_array_append_new(errs, json_pack("{s:s, s:s}", "pointer",
		    pointer, "detail", detail));
	p = json_pack("{s:s, s:s, s:i, s:s, s:o}", "type", type, "title",
	    status_title(status), "status", (int)status, "detail", detail,
	    "errors", errs ? errs : json_array());
	if (p == NULL)
		return send_text(c, r, status, "text/plain", detail,
		    strlen(detail), retry);
	s = api_dumps(p, false);
	json_decref(p);
	if (s == NULL)
		return MHD_NO;
	ret = send_text(c, r, status, "application/problem+json", s,
	    strlen(s), retry);
	free(s);
	return ret;
}

/* Status for a decoding or deciding error. */
static unsigned
error_status(int code)
{
	switch (code) {
	case TG_ESYNTAX: return 400;
	case TG_ETOOBIG: return 413;
	case TG_EINVAL: return 422;
	case TG_ENOTFOUND: return 404;
	case -ENOMEM: return 503;
	default: return 503;
	}
}

static struct tg_pack *
current_pack(struct server *s)
{
	struct tg_pack *p;

	pthread_mutex_lock(&s->pack_mu);
	p = pack_ref(s->pack);
	pthread_mutex_unlock(&s->pack_mu);
	return p;
}

/* ---- the writer ---------------------------------------------------------- */

static void
count_outcome(struct server *s, const struct tg_decision *d)
{
	static const char *const auths[] = { "AIA", "LPP", "ACA", "NAC",
	    "UVEU", "NVEU", "LICENSE" };

	atomic_fetch_add(&s->outcome_count[d->outcome], 1);
	for (size_t i = 0; i < d->nitems; i++) {
		const char *a = d->items[i].authorization;
		size_t k = 7;

		for (size_t j = 0; a != NULL && j < 7; j++)
			if (strcmp(a, auths[j]) == 0)
				k = j;
		if (a != NULL)
			atomic_fetch_add(&s->auth_count[k], 1);
	}
}

/* Decides and logs one group of jobs; resumes their connections. */
static void
run_group(struct server *s, struct job *head)
{
	struct audit_tx *tx = NULL;
	struct audit_receipt *rcpt = NULL;
	struct tg_error err;
	size_t n = 0, k = 0;
	uint64_t t0 = mono_ns();
	int rc;

	for (struct job *j = head; j != NULL; j = j->next)
		n += j->n;
	tg_error_clear(&err);
	rc = audit_tx_begin(s->audit, &tx, &err);
	if (rc == 0) {
		for (struct job *j = head; j != NULL; j = j->next) {
			for (size_t i = 0; i < j->n; i++) {
				tg_error_clear(&j->err[i]);
				j->status[i] = api_decide_in_tx(tx, j->pack,
				    j->q[i], j->request[i], j->request_len[i],
				    j->id[i], &j->dec[i], &j->err[i]);
				if (j->status[i] == 0)
					k++;
			}
		}
		rcpt = calloc(k + 1, sizeof(*rcpt));
		if (rcpt == NULL) {
			audit_tx_abort(tx);
			rc = tg_error_set(&err, -ENOMEM, "out of memory");
		} else
			rc = audit_tx_commit(tx, rcpt, k, &err);
	}
	k = 0;
	for (struct job *j = head; j != NULL; j = j->next) {
		/* No receipts at all when the group never began (a busy or
		 * broken log): rcpt is NULL, and the statuses were never
		 * set. */
		for (size_t i = 0; rcpt != NULL && i < j->n; i++) {
			if (j->status[i] != 0)
				continue;
			/* The receipt moves to the job, which answers with
			 * it (or, after a failure, frees it). */
			if (rc == 0) {
				j->rcpt[i] = rcpt[k];
				count_outcome(s, j->dec[i]);
			}
			k++;
		}
		if (rc != 0) {
			/* Nothing of the group exists: nothing is answered
			 * as decided. */
			j->failed = true;
			j->group_err = err;
		}
	}
	free(rcpt);
	if (rc != 0)
		log_warnx("cannot log %zu decisions: %s", n, err.msg[0] ?
		    err.msg : tg_strerror(rc));
	if (rc == 0 && k > 0) {
		atomic_fetch_add(&s->groups, 1);
		atomic_fetch_add(&s->group_entries, k);
		atomic_add_double(&s->group_seconds,
		    (double)(mono_ns() - t0) / 1e9);
	}
	for (struct job *j = head, *next; j != NULL; j = next) {
		next = j->next;
		pthread_mutex_lock(&s->qmu);
		j->done = true;
		pthread_mutex_unlock(&s->qmu);
		MHD_resume_connection(j->conn);
	}
}

static void *
writer_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct job *head, *tail, *rest;
		size_t n = 0;

		pthread_mutex_lock(&s->qmu);
		while (s->qhead == NULL && !s->stopping)
			pthread_cond_wait(&s->qcv, &s->qmu);
		if (s->qhead == NULL && s->stopping) {
			pthread_mutex_unlock(&s->qmu);
			break;
		}
		/* Everything that arrived while the last group committed
		 * goes into this one, up to GROUP_MAX decisions. */
		head = tail = s->qhead;
		n = head->n;
		while (tail->next != NULL && n + tail->next->n <= GROUP_MAX) {
			tail = tail->next;
			n += tail->n;
		}
		rest = tail->next;
		tail->next = NULL;
		s->qhead = rest;
		if (rest == NULL)
			s->qtail = NULL;
		s->qlen -= n;
		pthread_mutex_unlock(&s->qmu);
		run_group(s, head);
	}
	return NULL;
}

static bool
enqueue(struct server *s, struct job *j)
{
	bool ok;

	pthread_mutex_lock(&s->qmu);
	/* A job larger than queue_max alone (a batch, with queue_max set
	 * below batch_max) is taken when nothing waits, not refused
	 * forever. */
	ok = !s->stopping && (s->qlen == 0 ||
	    s->qlen + j->n <= s->cfg->queue_max);
	if (ok && s->cfg->queue_wait_ms > 0) {
		/* Refuse (503) rather than queue a request that would wait
		 * longer than queue_wait_ms, at the writer's recent rate. */
		unsigned long done = atomic_load(&s->group_entries);
		double secs = atomic_load(&s->group_seconds);

		if (done > 1000 && secs > 0 && (double)(s->qlen + j->n) /
		    ((double)done / secs) * 1000 > s->cfg->queue_wait_ms)
			ok = false;
	}
	if (ok) {
		j->next = NULL;
		if (s->qtail != NULL)
			s->qtail->next = j;
		else
			s->qhead = j;
		s->qtail = j;
		s->qlen += j->n;
		pthread_cond_signal(&s->qcv);
	}
	pthread_mutex_unlock(&s->qmu);
	return ok;
}

/* ---- auth and limits ----------------------------------------------------- */

static bool
rate_ok(struct server *s, const char *id, unsigned *retry)
{
	double rate = s->cfg->rate_limit;
	double burst = s->cfg->rate_burst ? s->cfg->rate_burst : 2 * rate;
	uint64_t now = mono_ns();
	struct bucket *b = NULL;
	size_t h = 5381;
	bool ok;

	if (!(rate > 0))
		return true;
	if (burst < 1)
		burst = 1;
	for (const char *p = id; *p != '\0'; p++)
		h = h * 33 + (unsigned char)*p;
	pthread_mutex_lock(&s->rl_mu);
	b = &s->buckets[h % 256];
	if (strcmp(b->id, id) != 0) {
		/* A collision resets the bucket: generous, never wrong in
		 * the caller's disfavour for long. */
		snprintf(b->id, sizeof(b->id), "%s", id);
		b->tokens = burst;
		b->last_ns = now;
	}
	b->tokens = fmin(burst, b->tokens + rate * (double)(now -
	    b->last_ns) / 1e9);
	b->last_ns = now;
	ok = b->tokens >= 1;
	if (ok)
		b->tokens -= 1;
	else
		*retry = (unsigned)ceil((1 - b->tokens) / rate);
	pthread_mutex_unlock(&s->rl_mu);
	return ok;
}

/* Whether two secrets are equal, in a time that depends on neither their
 * contents nor their lengths: their SHA-256 digests are compared with
 * CRYPTO_memcmp (a length check first would tell the length). */
static bool
same_secret(const char *a, const char *b)
{
	unsigned char ha[32], hb[32];
	unsigned int la = 0, lb = 0;
	bool same;

	if (EVP_Digest(a, strlen(a), ha, &la, EVP_sha256(), NULL) != 1 ||
	    EVP_Digest(b, strlen(b), hb, &lb, EVP_sha256(), NULL) != 1 ||
	    la != 32 || lb != 32)
		return false;
	same = CRYPTO_memcmp(ha, hb, 32) == 0;
	OPENSSL_cleanse(ha, sizeof(ha));
	OPENSSL_cleanse(hb, sizeof(hb));
	return same;
}

static void
check_token(struct server *s, const char *tok, enum tg_role *role, char id[17])
{
	uint8_t h[32];
	uint64_t now = mono_ns();
	struct tcache *t;

	*role = TG_ROLE_NONE;
	id[0] = '\0';
	if (merkle_sha256(tok, strlen(tok), h) != 0)
		return;
	t = &s->tokens[h[0] % 64];
	pthread_mutex_lock(&s->rl_mu);
	if (t->until > now && CRYPTO_memcmp(t->hash, h, 32) == 0) {
		*role = t->role;
		snprintf(id, 17, "%s", t->id);
		pthread_mutex_unlock(&s->rl_mu);
		return;
	}
	pthread_mutex_unlock(&s->rl_mu);
	if (token_check(s->audit, tok, strlen(tok), role, id) != 0)
		*role = TG_ROLE_NONE;
	if (*role == TG_ROLE_NONE)
		return;	/* failures are not cached: no poisoning */
	pthread_mutex_lock(&s->rl_mu);
	memcpy(t->hash, h, 32);
	t->role = *role;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->until = now + TOKEN_TTL_NS;
	pthread_mutex_unlock(&s->rl_mu);
}

/* ---- routes ---------------------------------------------------------------- */

typedef enum MHD_Result (*handler_fn)(struct MHD_Connection *, struct req *);

struct route {
	const char *method;
	const char *pattern;		/* "*" matches one path segment */
	enum tg_role role;		/* TG_ROLE_NONE: open */
	bool body;			/* takes a JSON body */
	handler_fn fn;
	const char *name;		/* for logs and metrics */
};

static enum MHD_Result h_decide(struct MHD_Connection *, struct req *);
static enum MHD_Result h_batch(struct MHD_Connection *, struct req *);
static enum MHD_Result h_get_decision(struct MHD_Connection *, struct req *);
static enum MHD_Result h_void(struct MHD_Connection *, struct req *);
static enum MHD_Result h_rules(struct MHD_Connection *, struct req *);
static enum MHD_Result h_checkpoint(struct MHD_Connection *, struct req *);
static enum MHD_Result h_health(struct MHD_Connection *, struct req *);
static enum MHD_Result h_ready(struct MHD_Connection *, struct req *);
static enum MHD_Result h_metrics(struct MHD_Connection *, struct req *);
static enum MHD_Result h_openapi(struct MHD_Connection *, struct req *);
static enum MHD_Result h_reload(struct MHD_Connection *, struct req *);
static enum MHD_Result h_holds(struct MHD_Connection *, struct req *);
static enum MHD_Result h_resolve(struct MHD_Connection *, struct req *);
static enum MHD_Result h_report(struct MHD_Connection *, struct req *);

static const struct route routes[] = {
	{ "POST", "/v1/decisions", TG_ROLE_SCREEN, true, h_decide,
	    "decisions" },
	{ "POST", "/v1/decisions/batch", TG_ROLE_SCREEN, true, h_batch,
	    "decisions_batch" },
	{ "GET", "/v1/decisions/*", TG_ROLE_SCREEN, false, h_get_decision,
	    "decision" },
	{ "POST", "/v1/decisions/*/void", TG_ROLE_SCREEN, true, h_void,
	    "decision_void" },
	{ "GET", "/v1/rules", TG_ROLE_SCREEN, false, h_rules, "rules" },
	{ "GET", "/v1/audit/checkpoint", TG_ROLE_AUDIT, false, h_checkpoint,
	    "audit_checkpoint" },
	{ "GET", "/healthz", TG_ROLE_NONE, false, h_health, "healthz" },
	{ "GET", "/readyz", TG_ROLE_NONE, false, h_ready, "readyz" },
	{ "GET", "/metrics", TG_ROLE_ADMIN, false, h_metrics, "metrics" },
	{ "GET", "/v1/openapi.yaml", TG_ROLE_NONE, false, h_openapi,
	    "openapi" },
	{ "POST", "/v1/admin/reload", TG_ROLE_ADMIN, false, h_reload,
	    "admin_reload" },
	{ "GET", "/v1/holds", TG_ROLE_AUDIT, false, h_holds, "holds" },
	{ "POST", "/v1/decisions/*/resolve", TG_ROLE_AUDIT, true, h_resolve,
	    "decision_resolve" },
	{ "GET", "/v1/reports/summary", TG_ROLE_AUDIT, false, h_report,
	    "reports_summary" },
};
#define ROUTE_COUNT (sizeof(routes) / sizeof(routes[0]))
_Static_assert(sizeof(routes) / sizeof(routes[0]) <= NROUTES,
    "the metrics arrays need a slot per route");

/* Matches url against pattern; copies the "*" segment into id. */
static bool
match(const char *pattern, const char *url, char *id, size_t idsize)
{
	while (*pattern != '\0') {
		if (*pattern == '*') {
			const char *e = strchr(url, '/');
			size_t n = e ? (size_t)(e - url) : strlen(url);

			if (n == 0 || n >= idsize)
				return false;
			memcpy(id, url, n);
			id[n] = '\0';
			url += n;
			pattern++;
			continue;
		}
		if (*pattern++ != *url++)
			return false;
	}
	return *url == '\0';
}

static bool
role_allows(enum tg_role have, enum tg_role need)
{
	if (need == TG_ROLE_NONE)
		return true;
	/* admin may do everything; screen and audit are separate duties. */
	return have == need || have == TG_ROLE_ADMIN;
}

/* ---- handlers ---------------------------------------------------------------- */

static struct job *
job_new(struct req *r, size_t n)
{
	struct job *j = arena_zalloc(r->arena, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->req = r;
	j->n = n;
	j->q = arena_zalloc(r->arena, n * sizeof(*j->q));
	j->request = arena_zalloc(r->arena, n * sizeof(*j->request));
	j->request_len = arena_zalloc(r->arena, n * sizeof(*j->request_len));
	j->id = arena_zalloc(r->arena, n * sizeof(*j->id));
	j->dec = arena_zalloc(r->arena, n * sizeof(*j->dec));
	j->rcpt = arena_zalloc(r->arena, n * sizeof(*j->rcpt));
	j->status = arena_zalloc(r->arena, n * sizeof(*j->status));
	j->err = arena_zalloc(r->arena, n * sizeof(*j->err));
	if (j->q == NULL || j->request == NULL || j->request_len == NULL ||
	    j->id == NULL || j->dec == NULL || j->rcpt == NULL ||
	    j->status == NULL || j->err == NULL)
		return NULL;
	return j;
}

static void
job_release(struct job *j)
{
	if (j == NULL)
		return;
	for (size_t i = 0; i < j->n; i++) {
		free(j->request[i]);
		decision_free(j->dec[i]);
		audit_receipt_release(&j->rcpt[i]);
	}
	pack_unref(j->pack);
	j->pack = NULL;
}

/* Decodes one query; on error answers with the problem and returns
 * false. */
static int
decode(struct req *r, const json_t *qj, const char *prefix,
    const struct tg_query **q, struct tg_error *err)
{
	int rc;

	rc = api_query_from_json(qj, r->arena, date_today(), q, err);
	if (rc == 0 && (*q)->nitems > r->s->cfg->items_max) {
		snprintf(err->pointer, sizeof(err->pointer), "%s/items",
		    prefix);
		snprintf(err->msg, sizeof(err->msg), "more than %zu items",
		    r->s->cfg->items_max);
		return TG_ETOOBIG;
	}
	if (rc != 0 && prefix[0] != '\0') {
		char p[TG_ERR_POINTER_MAX];

		snprintf(p, sizeof(p), "%s%s", prefix, err->pointer);
		snprintf(err->pointer, sizeof(err->pointer), "%s", p);
	}
	return rc;
}

/* The canonical form of query i as received, which the log commits to:
 * made here, in the HTTP thread, to keep the writer's work per decision
 * small.  Returns 0 or -ENOMEM. */
static int
canon_request(struct job *j, size_t i, const json_t *qj)
{
	j->request[i] = jcs_dumps(qj);
	if (j->request[i] == NULL)
		return -ENOMEM;
	j->request_len[i] = strlen(j->request[i]);
	return 0;
}

/* The answer for query i of a job whose group committed: the decision
 * as `tiergate check` prints it, with its receipt.  New reference or
 * NULL. */
static json_t *
job_decision(const struct job *j, size_t i)
{
	json_t *d = api_decision_to_json(j->dec[i], j->id[i]);

	if (d != NULL && api_attach_receipt(d, &j->rcpt[i]) != 0) {
		json_decref(d);
		d = NULL;
	}
	return d;
}

static enum MHD_Result
start_job(struct MHD_Connection *c, struct req *r, struct job *j)
{
	char retry[16];

	j->conn = c;
	j->pack = current_pack(r->s);
	if (j->pack == NULL)
		return problem(c, r, 503, "no rule pack is loaded", NULL, "5");
	for (size_t i = 0; i < j->n; i++) {
		if (uuid_v7(j->id[i]) != 0)
			return problem(c, r, 503, "cannot make a decision id",
			    NULL, "1");
	}
	r->job = j;
	snprintf(r->decision_id, sizeof(r->decision_id), "%s", j->id[0]);
	/* Suspend before the writer can see the job, so its resume never
	 * comes first. */
	MHD_suspend_connection(c);
	if (!enqueue(r->s, j)) {
		j->failed = true;
		j->saturated = true;
		j->done = true;
		MHD_resume_connection(c);
	}
	(void)retry;
	return MHD_YES;
}

static enum MHD_Result
job_failed(struct MHD_Connection *c, struct req *r, const struct job *j)
{
	if (j->saturated)
		return problem(c, r, 503, "the audit writer is saturated; "
		    "retry shortly", NULL, "1");
	return problem(c, r, 503, j->group_err.msg[0] ? j->group_err.msg :
	    "the audit log could not be written; nothing was decided", NULL,
	    "1");
}

static enum MHD_Result
h_decide(struct MHD_Connection *c, struct req *r)
{
	struct tg_error err;
	struct job *j;
	int rc;

	if (r->job != NULL) {
		j = r->job;
		if (j->failed)
			return job_failed(c, r, j);
		if (j->status[0] != 0)
			return problem(c, r, error_status(j->status[0]),
			    j->err[0].msg, j->err[0].pointer[0] ?
			    j->err[0].pointer : NULL, NULL);
		{
			struct tg_buf b;

			/* Written without a tree (decision_text.c). */
			buf_init(&b, (size_t)64 << 20);
			if (api_decision_text(j->dec[0], j->id[0],
			    &j->rcpt[0], &b) != 0) {
				buf_release(&b);
				/* Logged but not answerable: the client may
				 * fetch it by id (GET /v1/decisions/{id}). */
				return problem(c, r, 500, "the decision was "
				    "logged but cannot be encoded", NULL, NULL);
			}
			return send_decision(c, r, 201, &b);
		}
	}
	tg_error_clear(&err);
	j = job_new(r, 1);
	if (j == NULL)
		return problem(c, r, 503, "out of memory", NULL, "1");
	rc = decode(r, r->parsed, "", &j->q[0], &err);
	if (rc != 0)
		return problem(c, r, error_status(rc), err.msg, err.pointer,
		    NULL);
	if (canon_request(j, 0, r->parsed) != 0) {
		job_release(j);
		return problem(c, r, 503, "out of memory", NULL, "1");
	}
	return start_job(c, r, j);
}

static enum MHD_Result
h_batch(struct MHD_Connection *c, struct req *r)
{
	const json_t *tx = json_object_get(r->parsed, "transactions");
	struct tg_error err;
	struct job *j;
	size_t n, i;
	int rc;

	if (r->job != NULL) {
		json_t *out, *list;

		j = r->job;
		if (j->failed)
			return job_failed(c, r, j);
		list = json_array();
		for (i = 0; list != NULL && i < j->n; i++) {
			if (j->status[i] == 0)
				json_array_append_new(list,
				    job_decision(j, i));
			else
				json_array_append_new(list, json_pack("{s:i, "
				    "s:s, s:s}", "status",
				    (int)error_status(j->status[i]), "detail",
				    j->err[i].msg, "pointer",
				    j->err[i].pointer));
		}
		out = json_pack("{s:o}", "decisions", list);
		{
			enum MHD_Result ret = send_json(c, r, 200, out,
			    "application/json");

			json_decref(out);
			return ret;
		}
	}
	if (!json_is_object(r->parsed) || !json_is_array(tx))
		return problem(c, r, 422, "the body must be "
		    "{\"transactions\": [...]}", "/transactions", NULL);
	n = json_array_size(tx);
	if (n == 0)
		return problem(c, r, 422, "no transactions", "/transactions",
		    NULL);
	if (n > r->s->cfg->batch_max)
		return problem(c, r, 413, "too many transactions in one batch",
		    "/transactions", NULL);
	{
		const char *key;
		json_t *v;

		json_object_foreach((json_t *)r->parsed, key, v) {
			char ptr[TG_ERR_POINTER_MAX];

			if (strcmp(key, "transactions") == 0)
				continue;
			snprintf(ptr, sizeof(ptr), "/%.200s", key);
			return problem(c, r, 422, "unknown field", ptr, NULL);
		}
	}
	j = job_new(r, n);
	if (j == NULL)
		return problem(c, r, 503, "out of memory", NULL, "1");
	for (i = 0; i < n; i++) {
		char prefix[48];

		tg_error_clear(&err);
		snprintf(prefix, sizeof(prefix), "/transactions/%zu", i);
		rc = decode(r, json_array_get(tx, i), prefix, &j->q[i], &err);
		if (rc == 0 && canon_request(j, i, json_array_get(tx, i)) != 0)
			rc = tg_error_set(&err, -ENOMEM, "out of memory");
		if (rc != 0) {
			job_release(j);
			return problem(c, r, error_status(rc), err.msg,
			    err.pointer[0] ? err.pointer : NULL, NULL);
		}
	}
	return start_job(c, r, j);
}

static enum MHD_Result
h_get_decision(struct MHD_Connection *c, struct req *r)
{
	struct audit_entry e;
	struct audit_receipt rc_;
	struct tg_error err;
	json_t *d;

	tg_error_clear(&err);
	if (audit_find_decision(r->s->audit, r->path_id, &e, &err) != 0)
		return problem(c, r, 404, "no such decision", NULL, NULL);
	{
		/* The log holds the canonical (sorted) form; answer in the
		 * order the decision was first given. */
		bool nomem;
		json_t *canon = api_json_loadb(e.payload, strlen(e.payload),
		    JSON_DECODE_ANY, NULL, &nomem);

		d = canon != NULL ? api_decision_ordered(canon) : NULL;
		json_decref(canon);
		if (nomem) {
			audit_entry_release(&e);
			return problem(c, r, 503, "out of memory", NULL, "1");
		}
	}
	if (d != NULL && audit_receipt_for(r->s->audit, e.seq, &rc_,
	    &err) == 0) {
		(void)api_attach_receipt(d, &rc_);
		audit_receipt_release(&rc_);
	}
	audit_entry_release(&e);
	if (d == NULL)
		return problem(c, r, 500, "the logged decision cannot be read",
		    NULL, NULL);
	{
		struct tg_buf b;
		char *text = api_dumps(d, true);

		json_decref(d);
		buf_init(&b, (size_t)64 << 20);
		/* Without the text, b.p stays NULL: send_decision answers
		 * 500. */
		if (text == NULL || buf_adds(&b, text) != 0)
			buf_release(&b);
		free(text);
		return send_decision(c, r, 200, &b);
	}
}

static enum MHD_Result
h_void(struct MHD_Connection *c, struct req *r)
{
	const char *reason = json_string_value(json_object_get(r->parsed,
	    "reason"));
	const char *officer = json_string_value(json_object_get(r->parsed,
	    "officer"));
	struct audit_receipt rc_;
	struct tg_error err;
	json_t *out;
	enum MHD_Result ret;
	int rc, released = 0;

	if (reason == NULL || reason[0] == '\0')
		return problem(c, r, 422, "a void needs a reason", "/reason",
		    NULL);
	tg_error_clear(&err);
	rc = api_void_decision(r->s->audit, r->path_id, reason, officer, &rc_,
	    &released, &err);
	if (rc == TG_ENOTFOUND)
		return problem(c, r, 404, err.msg, NULL, NULL);
	if (rc == TG_EINVAL)
		return problem(c, r, 409, err.msg, NULL, NULL);
	if (rc != 0)
		return problem(c, r, 503, err.msg, NULL, "1");
	out = json_pack("{s:s, s:b, s:i, s:o}", "decision_id", r->path_id,
	    "voided", 1, "released", released, "receipt",
	    api_receipt_to_json(&rc_));
	audit_receipt_release(&rc_);
	ret = send_json(c, r, 200, out, "application/json");
	json_decref(out);
	return ret;
}

static enum MHD_Result
h_rules(struct MHD_Connection *c, struct req *r)
{
	struct tg_pack *p = current_pack(r->s);
	json_t *out;
	enum MHD_Result ret;

	pthread_mutex_lock(&r->s->pack_mu);
	out = json_pack("{s:[{s:s?, s:s?, s:s?, s:s?, s:s?}], s:{s:b, s:s, "
	    "s:s?}}", "packs", "pack", p ? pack_name(p) : NULL, "version",
	    p ? pack_version(p) : NULL, "sha256", p ? pack_sha256(p) : NULL,
	    "title", p ? pack_title(p) : NULL, "status",
	    p ? pack_status(p) : NULL, "last_reload", "ok",
	    r->s->reload_ok, "time", r->s->reload_time, "error",
	    r->s->reload_error[0] ? r->s->reload_error : NULL);
	pthread_mutex_unlock(&r->s->pack_mu);
	pack_unref(p);
	ret = send_json(c, r, 200, out, "application/json");
	json_decref(out);
	return ret;
}

static enum MHD_Result
h_checkpoint(struct MHD_Connection *c, struct req *r)
{
	struct tg_error err;
	uint64_t size;
	char *note = NULL;
	enum MHD_Result ret;

	tg_error_clear(&err);
	if (audit_checkpoint(r->s->audit, &note, &size, &err) != 0)
		return problem(c, r, 503, err.msg, NULL, "1");
	if (note == NULL)
		return problem(c, r, 404, "the audit log is empty", NULL,
		    NULL);
	ret = send_text(c, r, 200, "text/plain; charset=utf-8", note,
	    strlen(note), NULL);
	free(note);
	return ret;
}

static enum MHD_Result
h_health(struct MHD_Connection *c, struct req *r)
{
	return send_text(c, r, 200, "text/plain", "ok\n", 3, NULL);
}

static enum MHD_Result
h_ready(struct MHD_Connection *c, struct req *r)
{
	struct tg_pack *p = current_pack(r->s);
	struct tg_error err;
	uint64_t n;
	bool ok;

	tg_error_clear(&err);
	/* Not ready either once the log takes no more writes (an I/O
	 * error): decisions would all be 503 until a restart. */
	ok = p != NULL && audit_size(r->s->audit, &n, &err) == 0 &&
	    audit_writable(r->s->audit, NULL, 0);
	pack_unref(p);
	if (!ok)
		return send_text(c, r, 503, "text/plain", "not ready\n", 10,
		    "1");
	return send_text(c, r, 200, "text/plain", "ready\n", 6, NULL);
}

static enum MHD_Result
h_openapi(struct MHD_Connection *c, struct req *r)
{
	if (r->s->openapi == NULL)
		return problem(c, r, 404, "the OpenAPI document is not "
		    "installed", NULL, NULL);
	return send_text(c, r, 200, "application/yaml", r->s->openapi,
	    r->s->openapi_len, NULL);
}

static int reload_rules(struct server *s, const char *why);
static void log_rules_loaded(struct server *s, struct tg_pack *np,
    const char *why);

static enum MHD_Result
h_reload(struct MHD_Connection *c, struct req *r)
{
	int rc = reload_rules(r->s, "admin");
	json_t *out;
	enum MHD_Result ret;

	if (rc != 0) {
		char msg[600];

		pthread_mutex_lock(&r->s->pack_mu);
		snprintf(msg, sizeof(msg), "the new rules did not load; the "
		    "rules in use are kept: %s", r->s->reload_error);
		pthread_mutex_unlock(&r->s->pack_mu);
		return problem(c, r, 422, msg, NULL, NULL);
	}
	out = json_pack("{s:b}", "ok", 1);
	ret = send_json(c, r, 200, out, "application/json");
	json_decref(out);
	return ret;
}

static enum MHD_Result
h_holds(struct MHD_Connection *c, struct req *r)
{
	const char *open = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "open");
	struct tg_error err;
	json_t *list, *out;
	enum MHD_Result ret;

	tg_error_clear(&err);
	/* docs/openapi.yaml: "true" lists the open holds; anything else,
	 * or nothing, lists them all. */
	list = api_holds(r->s->audit, open != NULL && strcmp(open, "true") ==
	    0, NULL, &err);
	if (list == NULL)
		return problem(c, r, 503, err.msg, NULL, "1");
	out = json_pack("{s:o}", "holds", list);
	ret = send_json(c, r, 200, out, "application/json");
	json_decref(out);
	return ret;
}

static enum MHD_Result
h_resolve(struct MHD_Connection *c, struct req *r)
{
	const char *how = json_string_value(json_object_get(r->parsed,
	    "resolution"));
	const char *reason = json_string_value(json_object_get(r->parsed,
	    "reason"));
	const char *officer = json_string_value(json_object_get(r->parsed,
	    "officer"));
	struct audit_receipt rc_;
	struct tg_error err;
	json_t *out;
	enum MHD_Result ret;
	int rc;

	if (how == NULL || (strcmp(how, "release") != 0 &&
	    strcmp(how, "reject") != 0))
		return problem(c, r, 422, "resolution must be 'release' or "
		    "'reject'", "/resolution", NULL);
	if (reason == NULL || reason[0] == '\0')
		return problem(c, r, 422, "a resolution needs a reason",
		    "/reason", NULL);
	if (officer == NULL || officer[0] == '\0')
		return problem(c, r, 422, "a resolution names its officer",
		    "/officer", NULL);
	tg_error_clear(&err);
	rc = api_hold_resolve(r->s->audit, r->path_id, strcmp(how, "release")
	    == 0, reason, officer, &rc_, &err);
	if (rc == TG_ENOTFOUND)
		return problem(c, r, 404, err.msg, NULL, NULL);
	if (rc == TG_EINVAL)
		return problem(c, r, 409, err.msg, NULL, NULL);
	if (rc != 0)
		return problem(c, r, 503, err.msg, NULL, "1");
	out = json_pack("{s:s, s:s, s:s, s:o}", "decision_id", r->path_id,
	    "resolution", how, "officer", officer, "receipt",
	    api_receipt_to_json(&rc_));
	audit_receipt_release(&rc_);
	ret = send_json(c, r, 200, out, "application/json");
	json_decref(out);
	return ret;
}

/*
 * GET /v1/reports/summary?from=DATE&to=DATE[&format=json|csv|html]
 *
 * A report reads (and verifies) the whole log, which is unbounded work: it
 * runs on a thread of its own, on a read-only connection of its own (WAL:
 * the writer is never blocked), while the request's connection is
 * suspended; at most REPORTS_MAX at once, beyond that 503.  The thread
 * owns the job until it resumes the connection; the request frees it.
 */
struct report_job {
	struct server *s;
	struct MHD_Connection *conn;
	struct tg_pack *pack;		/* reference held */
	tg_date from, to;
	enum report_format fmt;
	struct tg_buf out;
	struct tg_error err;
	int rc;
	bool done;
};

static void
report_job_free(struct report_job *j)
{
	if (j == NULL)
		return;
	pack_unref(j->pack);
	buf_release(&j->out);
	free(j);
}

static void *
report_main(void *arg)
{
	struct report_job *j = arg;
	struct server *s = j->s;
	struct tg_audit *a = NULL;

	j->rc = audit_open(s->o->data_dir, AUDIT_READONLY, &a, &j->err);
	if (j->rc == 0)
		j->rc = api_report(a, j->from, j->to, j->pack, j->fmt, &j->out,
		    &j->err);
	audit_close(a);
	pthread_mutex_lock(&s->qmu);
	j->done = true;
	pthread_mutex_unlock(&s->qmu);
	/* The last touch of j: once resumed, the request may free it. */
	MHD_resume_connection(j->conn);
	atomic_fetch_sub(&s->reports, 1);
	return NULL;
}

static bool
arg_date(struct MHD_Connection *c, const char *name, tg_date *out)
{
	const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
	    name);

	return v != NULL && date_parse(v, strlen(v), out) == 0;
}

static enum MHD_Result
h_report(struct MHD_Connection *c, struct req *r)
{
	const char *fmt = MHD_lookup_connection_value(c,
	    MHD_GET_ARGUMENT_KIND, "format");
	struct report_job *j = r->report;
	pthread_attr_t attr;
	pthread_t t;
	bool done;
	int rc;

	if (j != NULL) {
		pthread_mutex_lock(&r->s->qmu);
		done = j->done;
		pthread_mutex_unlock(&r->s->qmu);
		if (!done)
			return MHD_YES;
		if (j->rc == TG_ETOOBIG)
			return problem(c, r, 413, j->err.msg, NULL, NULL);
		if (j->rc != 0)
			return problem(c, r, 503, j->err.msg[0] ? j->err.msg :
			    "the report could not be made", NULL, "5");
		return send_text(c, r, 200, api_report_content_type(j->fmt),
		    j->out.p ? j->out.p : "", j->out.len, NULL);
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return problem(c, r, 503, "out of memory", NULL, "1");
	r->report = j;
	j->s = r->s;
	j->conn = c;
	buf_init(&j->out, REPORT_OUT_MAX);
	tg_error_clear(&j->err);
	if (!arg_date(c, "from", &j->from) || !arg_date(c, "to", &j->to))
		return problem(c, r, 400, "from and to must be dates "
		    "(YYYY-MM-DD)", NULL, NULL);
	if (j->from > j->to)
		return problem(c, r, 400, "from is after to", NULL, NULL);
	if (fmt == NULL)
		j->fmt = REPORT_JSON;
	else if (api_report_format_parse(fmt, &j->fmt) != 0)
		return problem(c, r, 400, "format must be json, csv or html",
		    NULL, NULL);
	if (atomic_fetch_add(&r->s->reports, 1) >= REPORTS_MAX) {
		atomic_fetch_sub(&r->s->reports, 1);
		return problem(c, r, 503, "too many reports are being made; "
		    "retry shortly", NULL, "5");
	}
	j->pack = current_pack(r->s);
	MHD_suspend_connection(c);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, report_main, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		atomic_fetch_sub(&r->s->reports, 1);
		j->rc = -rc;
		snprintf(j->err.msg, sizeof(j->err.msg), "cannot start the "
		    "report: %s", strerror(rc));
		j->done = true;
		MHD_resume_connection(c);
	}
	return MHD_YES;
}

static int
buf_printf_metric(struct tg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
buf_printf_metric(struct tg_buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return buf_add(b, line, (size_t)n);
}

static enum MHD_Result
h_metrics(struct MHD_Connection *c, struct req *r)
{
	static const char *const outcomes[] = { "no_license_required",
	    "authorized", "hold", "license_required" };
	static const char *const auths[] = { "AIA", "LPP", "ACA", "NAC",
	    "UVEU", "NVEU", "LICENSE", "other" };
	struct server *s = r->s;
	struct tg_pack *p;
	struct tg_buf b;
	unsigned long cum = 0;
	enum MHD_Result ret;

	buf_init(&b, 1 << 20);
	buf_adds(&b, "# HELP tiergate_http_requests_total HTTP requests by "
	    "route and status class.\n# TYPE tiergate_http_requests_total "
	    "counter\n");
	for (size_t i = 0; i < ROUTE_COUNT; i++)
		for (int k = 1; k <= 5; k++)
			buf_printf_metric(&b, "tiergate_http_requests_total{"
			    "route=\"%s\",code=\"%dxx\"} %lu\n",
			    routes[i].name, k,
			    atomic_load(&s->req_count[i][k]));
	buf_adds(&b, "# HELP tiergate_http_request_duration_seconds Request "
	    "latency.\n# TYPE tiergate_http_request_duration_seconds "
	    "histogram\n");
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += atomic_load(&s->lat_count[i]);
		buf_printf_metric(&b, "tiergate_http_request_duration_seconds"
		    "_bucket{le=\"%g\"} %lu\n", lat_bounds[i], cum);
	}
	cum += atomic_load(&s->lat_count[NBUCKETS]);
	buf_printf_metric(&b, "tiergate_http_request_duration_seconds_bucket"
	    "{le=\"+Inf\"} %lu\ntiergate_http_request_duration_seconds_sum %g"
	    "\ntiergate_http_request_duration_seconds_count %lu\n", cum,
	    atomic_load(&s->lat_sum), cum);
	buf_adds(&b, "# TYPE tiergate_decisions_total counter\n");
	for (int i = 0; i < 4; i++)
		buf_printf_metric(&b, "tiergate_decisions_total{outcome=\"%s\"} "
		    "%lu\n", outcomes[i], atomic_load(&s->outcome_count[i]));
	buf_adds(&b, "# TYPE tiergate_authorizations_total counter\n");
	for (int i = 0; i < 8; i++)
		buf_printf_metric(&b, "tiergate_authorizations_total{"
		    "authorization=\"%s\"} %lu\n", auths[i],
		    atomic_load(&s->auth_count[i]));
	buf_printf_metric(&b, "# TYPE tiergate_audit_groups_total counter\n"
	    "tiergate_audit_groups_total %lu\n# TYPE "
	    "tiergate_audit_group_entries_total counter\n"
	    "tiergate_audit_group_entries_total %lu\n# TYPE "
	    "tiergate_audit_group_seconds_total counter\n"
	    "tiergate_audit_group_seconds_total %g\n",
	    atomic_load(&s->groups), atomic_load(&s->group_entries),
	    atomic_load(&s->group_seconds));
	pthread_mutex_lock(&s->qmu);
	buf_printf_metric(&b, "# TYPE tiergate_audit_queue gauge\n"
	    "tiergate_audit_queue %zu\n", s->qlen);
	pthread_mutex_unlock(&s->qmu);
	p = current_pack(s);
	if (p != NULL)
		buf_printf_metric(&b, "# TYPE tiergate_rule_pack_info gauge\n"
		    "tiergate_rule_pack_info{pack=\"%s\",version=\"%s\","
		    "sha256=\"%s\"} 1\n", pack_name(p), pack_version(p),
		    pack_sha256(p));
	pack_unref(p);
	ret = send_text(c, r, 200, "text/plain; version=0.0.4", b.p ? b.p : "",
	    b.len, NULL);
	buf_release(&b);
	return ret;
}

/* ---- the access handler -------------------------------------------------- */

static const struct route *
find_route(const char *method, const char *url, char *id, size_t idsize,
    char *allow, size_t allowsize)
{
	/* HEAD is GET without a body (RFC 9110); libmicrohttpd drops the
	 * body itself. */
	if (strcmp(method, "HEAD") == 0)
		method = "GET";
	allow[0] = '\0';
	for (size_t i = 0; i < ROUTE_COUNT; i++) {
		/* Set only by a pattern with a "*": empty for the others. */
		char tmp[80] = "";
		size_t n = strlen(allow);

		if (!match(routes[i].pattern, url, tmp, sizeof(tmp)))
			continue;
		if (strcmp(routes[i].method, method) == 0) {
			snprintf(id, idsize, "%s", tmp);
			return &routes[i];
		}
		snprintf(allow + n, allowsize - n, "%s%s%s", n ? ", " : "",
		    routes[i].method, strcmp(routes[i].method, "GET") == 0 ?
		    ", HEAD" : "");
	}
	return NULL;
}

/*
 * Whether a Content-Type names JSON: the media type application/json,
 * whose type, subtype and parameter names RFC 9110 (8.3.1) makes
 * case-insensitive, with optional whitespace around the ';' of each
 * parameter.  A charset parameter, if there is one, must be utf-8 (or its
 * subset us-ascii), quoted or not: RFC 8259 (8.1) has JSON between
 * systems in UTF-8, and a body announced as UTF-16 or Latin-1 would be
 * read as something else than its sender meant.  Other parameters are
 * ignored.
 */
static bool
json_content_type(const char *ct)
{
	const char *p, *v;
	size_t n, vn;

	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0)
		return false;
	p = ct + 16;
	for (;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			return true;
		if (*p != ';')
			return false;
		p++;
		p += strspn(p, " \t");
		n = strcspn(p, ";");
		if (n >= 8 && strncasecmp(p, "charset=", 8) == 0) {
			v = p + 8;
			vn = n - 8;
			while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
				vn--;
			if (vn >= 2 && v[0] == '"' && v[vn - 1] == '"') {
				v++;
				vn -= 2;
			}
			if (!(vn == 5 && strncasecmp(v, "utf-8", 5) == 0) &&
			    !(vn == 8 && strncasecmp(v, "us-ascii", 8) == 0))
				return false;
		}
		p += n;
	}
}

/* Counts the headers named by *cls (a struct header_count). */
struct header_count {
	const char *name;
	unsigned n;
};

static enum MHD_Result
count_header(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct header_count *hc = cls;

	(void)kind;
	(void)value;
	if (key != NULL && strcasecmp(key, hc->name) == 0)
		hc->n++;
	return MHD_YES;
}

static unsigned
header_count(struct MHD_Connection *c, const char *name)
{
	struct header_count hc = { name, 0 };

	(void)MHD_get_connection_values(c, MHD_HEADER_KIND, count_header,
	    &hc);
	return hc.n;
}

/*
 * The bearer token of an Authorization header, into tok (size bytes), or
 * false.  The scheme is case-insensitive (RFC 9110 11.1), one or more
 * spaces may follow it (RFC 6750 2.1), and the whitespace libmicrohttpd
 * leaves at the end of a field value is not part of the token.  The
 * caller wipes tok.
 */
static bool
bearer_token(const char *auth, char *tok, size_t size)
{
	size_t n;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	auth += strspn(auth, " ");
	n = strlen(auth);
	while (n > 0 && (auth[n - 1] == ' ' || auth[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= size)
		return false;
	memcpy(tok, auth, n);
	tok[n] = '\0';
	return true;
}

static enum MHD_Result
first_call(struct server *s, struct MHD_Connection *c, struct req *r,
    const char *url, const char *method)
{
	const char *auth, *ct, *cl;
	char allow[128], tok[512];
	unsigned retry = 1, ncl;
	char rbuf[16];

	r->route = find_route(method, url, r->path_id, sizeof(r->path_id),
	    allow, sizeof(allow));
	if (r->route == NULL) {
		if (allow[0] != '\0') {
			r->allow = allow;
			return problem(c, r, 405, "method not allowed on this "
			    "path", NULL, NULL);
		}
		return problem(c, r, 404, "no such route", NULL, NULL);
	}
	if (r->route->role != TG_ROLE_NONE) {
		auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Authorization");
		r->role = TG_ROLE_NONE;
		if (bearer_token(auth, tok, sizeof(tok))) {
			if (s->cfg->metrics_token != NULL &&
			    r->route->fn == h_metrics &&
			    same_secret(tok, s->cfg->metrics_token))
				r->role = TG_ROLE_ADMIN;
			else
				check_token(s, tok, &r->role, r->token_id);
			OPENSSL_cleanse(tok, sizeof(tok));
		}
		if (r->role == TG_ROLE_NONE)
			return problem(c, r, 401, "a valid bearer token is "
			    "required", NULL, NULL);
		if (!role_allows(r->role, r->route->role))
			return problem(c, r, 403, "this token's role may not "
			    "use this route", NULL, NULL);
		if (!rate_ok(s, r->token_id, &retry)) {
			snprintf(rbuf, sizeof(rbuf), "%u", retry);
			return problem(c, r, 429, "rate limit exceeded", NULL,
			    rbuf);
		}
	}
	if (r->route->body) {
		/* Two lengths, or a length beside chunked encoding: the
		 * body's end is ambiguous, and libmicrohttpd would take the
		 * first length and read the rest of the body as the next
		 * request (RFC 9112 6.3: reject, and close).  Before the
		 * Content-Type, which a smuggled request may lack. */
		ncl = header_count(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (ncl > 1 || (ncl > 0 &&
		    header_count(c, MHD_HTTP_HEADER_TRANSFER_ENCODING) > 0)) {
			r->close = true;
			return problem(c, r, 400, "conflicting Content-Length "
			    "and Transfer-Encoding headers", NULL, NULL);
		}
		ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Type");
		if (!json_content_type(ct))
			return problem(c, r, 415, "the body must be "
			    "application/json (UTF-8)", NULL, NULL);
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    "Content-Length");
		if (cl != NULL) {
			long long n;

			if (parse_llong(cl, &n) == 0 && n >= 0 &&
			    (unsigned long long)n > s->cfg->body_max)
				return problem(c, r, 413, "the body is larger "
				    "than allowed", NULL, NULL);
		}
	}
	return MHD_YES;
}

static enum MHD_Result
access_cb(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **con_cls)
{
	struct server *s = cls;
	struct req *r = *con_cls;
	json_error_t jerr;

	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->s = s;
		r->start_ns = mono_ns();
		buf_init(&r->body, s->cfg->body_max);
		*con_cls = r;
		atomic_fetch_add(&s->in_flight, 1);
		return first_call(s, c, r, url, method);
	}
	if (r->answered) {
		/* An early answer: drain and ignore the rest of the body. */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (!r->too_big && buf_add(&r->body, upload, *upload_size) != 0)
			r->too_big = true;
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->job != NULL) {
		/* Resumed by the writer: answer with its result. */
		return r->route->fn(c, r);
	}
	if (r->too_big)
		return problem(c, r, 413, "the body is larger than allowed",
		    NULL, NULL);
	if (r->route->body) {
		bool nomem;

		r->parsed = api_json_loadb(r->body.p ? r->body.p : "",
		    r->body.len, JSON_REJECT_DUPLICATES, &jerr, &nomem);
		if (r->parsed == NULL && nomem)
			return problem(c, r, 503, "out of memory", NULL, "1");
		if (r->parsed == NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg), "invalid JSON at line %d, "
			    "column %d: %s", jerr.line, jerr.column,
			    jerr.text);
			return problem(c, r, 400, msg, "", NULL);
		}
		r->arena = arena_new(0);
		if (r->arena == NULL)
			return problem(c, r, 503, "out of memory", NULL, "1");
	}
	return r->route->fn(c, r);
}

static void
completed_cb(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode why)
{
	struct server *s = cls;
	struct req *r = *con_cls;
	double secs;
	size_t ri = 0;

	(void)c;
	(void)why;
	if (r == NULL)
		return;
	secs = (double)(mono_ns() - r->start_ns) / 1e9;
	if (r->route != NULL)
		ri = (size_t)(r->route - routes);
	if (r->status >= 100 && r->status < 600)
		atomic_fetch_add(&s->req_count[ri][r->status / 100], 1);
	{
		size_t b = 0;

		while (b < NBUCKETS && secs > lat_bounds[b])
			b++;
		atomic_fetch_add(&s->lat_count[b], 1);
		atomic_add_double(&s->lat_sum, secs);
	}
	/* One line per request: never bodies or tokens. */
	log_info("%s %d %.3fms%s%s", r->route ? r->route->name : "-",
	    r->status, secs * 1e3, r->decision_id[0] ? " decision " : "",
	    r->decision_id);
	job_release(r->job);
	report_job_free(r->report);
	json_decref(r->parsed);
	arena_free(r->arena);
	buf_release(&r->body);
	free(r);
	*con_cls = NULL;
	atomic_fetch_sub(&s->in_flight, 1);
}

/* ---- rules, signals, systemd -------------------------------------------- */

static void
log_rules_loaded(struct server *s, struct tg_pack *np, const char *why)
{
	/* The reload is part of the record: which rules decided which
	 * decisions follows from the log alone. */
	struct audit_receipt rcpt;
	struct audit_in in;
	struct tg_error err;
	char payload[512];
	int n;

	n = snprintf(payload, sizeof(payload), "{\"pack\":\"%s\","
	    "\"reason\":\"%s\",\"sha256\":\"%s\",\"version\":\"%s\"}",
	    pack_name(np), why, pack_sha256(np), pack_version(np));
	memset(&in, 0, sizeof(in));
	in.kind = "rules_loaded";
	in.request = "null";
	in.request_len = 4;
	in.payload = payload;
	in.payload_len = n > 0 ? (size_t)n : 0;
	in.pack_sha256 = pack_sha256(np);
	tg_error_clear(&err);
	if (n > 0 && (size_t)n < sizeof(payload) &&
	    audit_append(s->audit, &in, 1, &rcpt, &err) == 0)
		audit_receipt_release(&rcpt);
	else
		log_warnx("cannot log the rules load: %s", err.msg);
}

static int
reload_rules(struct server *s, const char *why)
{
	struct tg_errlist errs;
	struct tg_pack *np = NULL, *old;
	char now[32];
	int rc;

	errlist_init(&errs);
	rc = pack_load(s->o->rules, s->o->nrules, &np, &errs);
	date_format(date_today(), now);
	pthread_mutex_lock(&s->pack_mu);
	snprintf(s->reload_time, sizeof(s->reload_time), "%s", now);
	if (rc != 0) {
		char line[TG_ERR_FILE_MAX + TG_ERR_MSG_MAX + 32];

		line[0] = '\0';
		if (errs.n > 0)
			tg_error_format(&errs.v[0], line, sizeof(line));
		snprintf(s->reload_error, sizeof(s->reload_error), "%.400s "
		    "(%zu error%s)", line[0] ? line : tg_strerror(rc),
		    errs.n, errs.n == 1 ? "" : "s");
		s->reload_ok = false;
		pthread_mutex_unlock(&s->pack_mu);
		log_warnx("rules not reloaded (%s): %s; keeping the rules in "
		    "use", why, s->reload_error);
		errlist_release(&errs);
		return rc;
	}
	/* Validate-then-swap: requests in flight keep the pack they hold. */
	old = s->pack;
	s->pack = np;
	s->reload_ok = true;
	s->reload_error[0] = '\0';
	pthread_mutex_unlock(&s->pack_mu);
	pack_unref(old);
	errlist_release(&errs);
	/* At startup the load is logged once the daemon listens: a daemon
	 * that cannot bind never served under these rules. */
	if (strcmp(why, "startup") != 0)
		log_rules_loaded(s, np, why);
	log_info("rules loaded (%s): %s %s", why, pack_name(np),
	    pack_version(np));
	return 0;
}

/* sd_notify without libsystemd: one datagram to $NOTIFY_SOCKET. */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
	    strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL,
	    (struct sockaddr *)&sa, len);
	close(fd);
}

static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	long long port;

	if (colon == NULL || (size_t)(colon - listen) >= sizeof(host) ||
	    parse_llong(colon + 1, &port) != 0 || port < 0 || port > 65535)
		return TG_EINVAL;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t hl = strlen(host);

		if (hl < 2 || host[hl - 1] != ']')
			return TG_EINVAL;
		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return TG_EINVAL;
		*len = sizeof(*s6);
		return 0;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (strcmp(host, "localhost") == 0)
			snprintf(host, sizeof(host), "127.0.0.1");
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return TG_EINVAL;
		*len = sizeof(*s4);
	}
	return 0;
}

static char *
slurp(const char *path, size_t *len)
{
	struct tg_buf b;
	char *p;

	buf_init(&b, 4 << 20);
	if (path == NULL || buf_read_file(&b, path) != 0) {
		buf_release(&b);
		return NULL;
	}
	p = b.p;
	*len = b.len;
	return p;
}

/* ---- building and freeing the server ------------------------------------ */

/*
 * Every connection is a descriptor.  Raise the soft limit on open files
 * to what connections_max needs, as far as the hard limit allows (as
 * Redis does for maxclients): a shell's usual 1024 would otherwise make
 * accept() fail under load before the configured limit is reached.  Where
 * the hard limit is lower, take fewer connections, and say so.  Returns
 * the connection limit to use.
 */
#define FD_RESERVE 64		/* the database, WAL, logs, MHD's own */

static unsigned
fit_fd_limit(unsigned want)
{
	struct rlimit rl, nr;
	rlim_t need = (rlim_t)want + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
	    rl.rlim_cur >= need)
		return want;
	nr = rl;
	nr.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ?
	    need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
		rl.rlim_cur = nr.rlim_cur;
	if (rl.rlim_cur >= need)
		return want;
	want = rl.rlim_cur > 2 * FD_RESERVE ?
	    (unsigned)(rl.rlim_cur - FD_RESERVE) : FD_RESERVE;
	log_warnx("the open files limit is %llu: taking %u connections at "
	    "once, fewer than connections_max (raise the limit, e.g. "
	    "LimitNOFILE= in the systemd unit)",
	    (unsigned long long)rl.rlim_cur, want);
	return want;
}

int
http_server_new(const struct serve_opts *o, unsigned mhd_flags,
    struct server **out)
{
	struct server *s;
	struct sockaddr_storage ss;
	struct tg_error err;
	socklen_t sslen;
	size_t certlen = 0, keylen = 0;
	unsigned flags;
	bool listening = (mhd_flags & MHD_USE_NO_LISTEN_SOCKET) == 0;
	int rc = 0;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->o = o;
	s->cfg = o->cfg;
	pthread_mutex_init(&s->pack_mu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_mutex_init(&s->rl_mu, NULL);
	pthread_cond_init(&s->qcv, NULL);
	atomic_init(&s->lat_sum, 0);
	atomic_init(&s->group_seconds, 0);

	/* Without a listening socket the address is not used (libmicrohttpd
	 * ignores MHD_OPTION_SOCK_ADDR then); it stays zero. */
	memset(&ss, 0, sizeof(ss));
	if (listening && parse_listen(s->cfg->listen, &ss, &sslen) != 0) {
		log_warnx("cannot parse listen address '%s'", s->cfg->listen);
		rc = TG_EINVAL;
		goto fail;
	}
	tg_error_clear(&err);
	/* SQLite checkpoints the WAL inside the commit that crosses 1000
	 * pages, not AUDIT_BG_CHECKPOINT: under a steady stream of groups a
	 * checkpointer of its own never lets the WAL start over, and its
	 * forced restarts stall the writer (make bench: p99 113 ms against
	 * 13 ms inline, and fewer decisions/s). */
	rc = audit_open(o->data_dir, AUDIT_CREATE, &s->audit, &err);
	if (rc != 0) {
		log_warnx("cannot open the audit log in '%s': %s", o->data_dir,
		    err.msg);
		goto fail;
	}
	rc = reload_rules(s, "startup");
	if (rc != 0)
		goto fail;
	s->openapi = slurp(o->openapi_path, &s->openapi_len);
	api_set_limits(s->cfg->json_depth_max, s->cfg->string_max);
	/* pthread_create returns the error; it does not set errno. */
	rc = pthread_create(&s->writer, NULL, writer_main, s);
	if (rc != 0) {
		log_warnx("cannot start the writer thread: %s", strerror(rc));
		rc = -rc;
		goto fail;
	}
	s->writer_running = true;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_ALLOW_SUSPEND_RESUME |
	    mhd_flags;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (s->cfg->tls_cert != NULL) {
		s->tls_cert = slurp(s->cfg->tls_cert, &certlen);
		s->tls_key = slurp(s->cfg->tls_key, &keylen);
		if (s->tls_cert == NULL || s->tls_key == NULL) {
			log_warnx("cannot read the TLS certificate or key");
			rc = TG_EIO;
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_cb, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->cfg->threads,
	    MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)s->cfg->connection_timeout,
	    MHD_OPTION_CONNECTION_LIMIT, fit_fd_limit(s->cfg->connections_max),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
	    (unsigned int)s->cfg->connections_per_ip,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
	    MHD_OPTION_NOTIFY_COMPLETED, completed_cb, s,
	    s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
	    s->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, s->tls_key,
	    MHD_OPTION_END);
	if (s->mhd == NULL) {
		if (listening)
			log_warnx("cannot listen on %s", s->cfg->listen);
		else
			log_warnx("cannot start the HTTP server");
		rc = TG_EIO;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	http_server_free(s);
	return rc;
}

int
http_server_add_connection(struct server *s, int fd)
{
	struct sockaddr_in sa;

	/* As if from the loopback address: the per-address limit counts
	 * these connections together. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (MHD_add_connection(s->mhd, fd, (struct sockaddr *)&sa,
	    sizeof(sa)) != MHD_YES)
		return errno != 0 ? -errno : TG_EIO;
	return 0;
}

void
http_server_free(struct server *s)
{
	if (s == NULL)
		return;
	if (s->writer_running) {
		pthread_mutex_lock(&s->qmu);
		s->stopping = true;
		pthread_cond_broadcast(&s->qcv);
		pthread_mutex_unlock(&s->qmu);
		pthread_join(s->writer, NULL);
	}
	/* A report thread resumes its connection when done: the daemon
	 * must outlive it. */
	while (atomic_load(&s->reports) > 0)
		usleep(10000);
	if (s->mhd != NULL)
		MHD_stop_daemon(s->mhd);
	pack_unref(s->pack);
	audit_close(s->audit);
	free(s->openapi);
	free(s->tls_cert);
	if (s->tls_key != NULL) {
		OPENSSL_cleanse(s->tls_key, strlen(s->tls_key));
		free(s->tls_key);
	}
	pthread_cond_destroy(&s->qcv);
	pthread_mutex_destroy(&s->rl_mu);
	pthread_mutex_destroy(&s->qmu);
	pthread_mutex_destroy(&s->pack_mu);
	free(s);
}

/* ---- the daemon ------------------------------------------------------------ */

int
http_serve(const struct serve_opts *o)
{
	struct server *s;
	sigset_t set;
	int rc, sig;

	/* Signals are taken by sigwait in this thread only; every thread
	 * started from here inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = http_server_new(o, HTTP_SERVER_FLAGS, &s);
	if (rc != 0)
		return rc;
	{
		const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd,
		    MHD_DAEMON_INFO_BIND_PORT);

		log_info("listening on %s (port %u), data dir %s",
		    s->cfg->listen, di ? di->port : 0, o->data_dir);
		/* Tests start the daemon on port 0 and read this line. */
		fprintf(stderr, "tiergate: ready on port %u\n",
		    di ? di->port : 0);
	}
	{
		struct tg_pack *p = current_pack(s);

		log_rules_loaded(s, p, "startup");
		pack_unref(p);
	}
	notify("READY=1");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			notify("RELOADING=1");
			(void)reload_rules(s, "SIGHUP");
			notify("READY=1");
			continue;
		}
		break;
	}
	notify("STOPPING=1");
	log_info("stopping: draining requests in flight");
	/* Stop accepting, answer everything in flight, then stop. */
	(void)MHD_quiesce_daemon(s->mhd);
	for (int i = 0; i < 3000 && atomic_load(&s->in_flight) > 0; i++)
		usleep(10000);
	http_server_free(s);
	return 0;
}
