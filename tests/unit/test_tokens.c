/*
 * test_tokens.c: bearer tokens (daemon/store/tokens.c, tokens.h) on a
 * fresh data dir per test.
 *
 *  - a created secret is "tg_" and 64 lower-case hex digits, its id the
 *    first 16 hex digits of SHA-256(secret); two secrets differ;
 *  - token_check gives the role and id of a live secret, and TG_ROLE_NONE
 *    for a wrong, truncated, malformed or revoked one;
 *  - revoke refuses unknown ids (TG_ENOTFOUND) and revoking twice
 *    (TG_EINVAL), and a refused call writes nothing;
 *  - token_list gives every token in creation order, and stops when the
 *    callback says so;
 *  - creating and revoking are audit entries of kind "token" with the
 *    canonical payload {"action","id","name","role"} and request null;
 *    the log still verifies;
 *  - the secret appears nowhere in the data dir's files (database, WAL)
 *    nor in any audit entry;
 *  - names outside [A-Za-z0-9 ._@-]{1,100} and roles other than screen,
 *    audit and admin are refused before anything is written;
 *  - token_check is safe from several threads while tokens are created.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
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
#include <openssl/evp.h>

#include "tiergate/audit.h"
#include "tiergate/error.h"
#include "tiergate/tokens.h"
#include "tiergate/util.h"

#include "testdir.h"

struct fixture {
	char base[1024];	/* mkdtemp */
	char dir[1100];		/* base/data */
	struct tg_audit *a;
};

static int
setup(void **state)
{
	struct fixture *f;
	struct tg_error err;

	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -1;
	if (test_tmpdir(f->base, sizeof(f->base), "test_tokens") != 0) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/data", f->base);
	tg_error_clear(&err);
	if (audit_open(f->dir, AUDIT_CREATE, &f->a, &err) != 0) {
		print_error("audit_open: %s\n", err.msg);
		test_rm_tree(f->base, 1);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	audit_close(f->a);
	test_rm_tree(f->dir, 1);
	test_rm_tree(f->base, 1);
	free(f);
	return 0;
}

static void
create(struct fixture *f, enum tg_role role, const char *name,
    char secret[TOKEN_SECRET_LEN + 1], struct tg_token_info *info)
{
	struct tg_error err;
	int rc;

	tg_error_clear(&err);
	rc = token_create(f->a, role, name, secret, info, &err);
	if (rc != 0)
		print_error("token_create: %s\n", err.msg);
	assert_int_equal(rc, 0);
}

static enum tg_role
check(struct fixture *f, const char *secret, char id[17])
{
	enum tg_role role = TG_ROLE_ADMIN;
	char scratch[17];

	assert_int_equal(token_check(f->a, secret, secret ? strlen(secret) :
	    0, &role, id != NULL ? id : scratch), 0);
	return role;
}

static uint64_t
log_size(struct fixture *f)
{
	struct tg_error err;
	uint64_t n = 0;

	assert_int_equal(audit_size(f->a, &n, &err), 0);
	return n;
}

/* ---- roles -------------------------------------------------------------- */

static void
test_roles(void **state)
{
	enum tg_role r = TG_ROLE_ADMIN;

	(void)state;
	assert_int_equal(role_parse("screen", &r), 0);
	assert_int_equal(r, TG_ROLE_SCREEN);
	assert_int_equal(role_parse("audit", &r), 0);
	assert_int_equal(r, TG_ROLE_AUDIT);
	assert_int_equal(role_parse("admin", &r), 0);
	assert_int_equal(r, TG_ROLE_ADMIN);
	assert_int_equal(role_parse("none", &r), TG_EINVAL);
	assert_int_equal(r, TG_ROLE_NONE);
	assert_int_equal(role_parse("Admin", &r), TG_EINVAL);
	assert_int_equal(role_parse("admin ", &r), TG_EINVAL);
	assert_int_equal(role_parse("", &r), TG_EINVAL);
	assert_int_equal(role_parse(NULL, &r), TG_EINVAL);
	assert_string_equal(role_name(TG_ROLE_SCREEN), "screen");
	assert_string_equal(role_name(TG_ROLE_AUDIT), "audit");
	assert_string_equal(role_name(TG_ROLE_ADMIN), "admin");
	assert_string_equal(role_name(TG_ROLE_NONE), "none");
	assert_string_equal(role_name((enum tg_role)42), "none");
}

/* ---- the lifecycle ------------------------------------------------------ */

static void
test_create_check_revoke(void **state)
{
	struct fixture *f = *state;
	char s1[TOKEN_SECRET_LEN + 1], s2[TOKEN_SECRET_LEN + 1];
	char hex[65], id[17];
	struct tg_token_info i1, i2;
	struct tg_error err;
	unsigned char d[32];
	unsigned int dl = 0;

	create(f, TG_ROLE_SCREEN, "ci bot", s1, &i1);
	create(f, TG_ROLE_ADMIN, NULL, s2, &i2);

	/* Format: tg_ + 64 lower-case hex; id from SHA-256(secret). */
	assert_int_equal(strlen(s1), TOKEN_SECRET_LEN);
	assert_memory_equal(s1, "tg_", 3);
	for (size_t i = 3; i < TOKEN_SECRET_LEN; i++)
		assert_true((s1[i] >= '0' && s1[i] <= '9') ||
		    (s1[i] >= 'a' && s1[i] <= 'f'));
	assert_string_not_equal(s1, s2);
	assert_int_equal(EVP_Digest(s1, TOKEN_SECRET_LEN, d, &dl,
	    EVP_sha256(), NULL), 1);
	hex_encode(d, 32, hex);
	hex[16] = '\0';
	assert_string_equal(i1.id, hex);
	assert_string_equal(i1.name, "ci bot");
	assert_int_equal(i1.role, TG_ROLE_SCREEN);
	assert_false(i1.revoked);
	assert_int_equal(strlen(i1.created), 27);
	assert_string_equal(i2.name, "");
	assert_int_equal(i2.role, TG_ROLE_ADMIN);

	assert_int_equal(check(f, s1, id), TG_ROLE_SCREEN);
	assert_string_equal(id, i1.id);
	assert_int_equal(check(f, s2, id), TG_ROLE_ADMIN);
	assert_string_equal(id, i2.id);

	/* Revoked: no role; the other token still works. */
	tg_error_clear(&err);
	assert_int_equal(token_revoke(f->a, i1.id, &err), 0);
	assert_int_equal(check(f, s1, id), TG_ROLE_NONE);
	assert_string_equal(id, "");
	assert_int_equal(check(f, s2, NULL), TG_ROLE_ADMIN);
	assert_int_equal(log_size(f), 3);
}

static void
test_wrong_secrets(void **state)
{
	struct fixture *f = *state;
	char s[TOKEN_SECRET_LEN + 1], bad[TOKEN_SECRET_LEN + 2];
	struct tg_token_info info;
	enum tg_role role = TG_ROLE_ADMIN;
	char id[17];

	create(f, TG_ROLE_AUDIT, "auditor", s, &info);
	assert_int_equal(check(f, s, NULL), TG_ROLE_AUDIT);

	/* One digit changed, at either end. */
	memcpy(bad, s, sizeof(s));
	bad[TOKEN_SECRET_LEN - 1] = bad[TOKEN_SECRET_LEN - 1] == '0' ?
	    '1' : '0';
	assert_int_equal(check(f, bad, id), TG_ROLE_NONE);
	assert_string_equal(id, "");
	memcpy(bad, s, sizeof(s));
	bad[3] = bad[3] == 'a' ? 'b' : 'a';
	assert_int_equal(check(f, bad, NULL), TG_ROLE_NONE);
	/* Upper case is another secret. */
	memcpy(bad, s, sizeof(s));
	for (size_t i = 3; i < TOKEN_SECRET_LEN; i++)
		if (bad[i] >= 'a' && bad[i] <= 'f')
			bad[i] = (char)(bad[i] - 'a' + 'A');
	if (strcmp(bad, s) != 0)
		assert_int_equal(check(f, bad, NULL), TG_ROLE_NONE);
	/* Truncated, extended, without its prefix, empty, NULL. */
	assert_int_equal(token_check(f->a, s, TOKEN_SECRET_LEN - 1, &role,
	    id), 0);
	assert_int_equal(role, TG_ROLE_NONE);
	memcpy(bad, s, TOKEN_SECRET_LEN);
	bad[TOKEN_SECRET_LEN] = '0';
	bad[TOKEN_SECRET_LEN + 1] = '\0';
	assert_int_equal(check(f, bad, NULL), TG_ROLE_NONE);
	assert_int_equal(check(f, s + 3, NULL), TG_ROLE_NONE);
	memcpy(bad, s, sizeof(s));
	bad[0] = 'x';
	assert_int_equal(check(f, bad, NULL), TG_ROLE_NONE);
	assert_int_equal(check(f, "", NULL), TG_ROLE_NONE);
	role = TG_ROLE_ADMIN;
	assert_int_equal(token_check(f->a, NULL, 0, &role, NULL), 0);
	assert_int_equal(role, TG_ROLE_NONE);
	/* The stored hash as the secret is not the secret. */
	assert_int_equal(check(f, info.id, NULL), TG_ROLE_NONE);
	/* Still fine after all that. */
	assert_int_equal(check(f, s, NULL), TG_ROLE_AUDIT);
}

static void
test_revoke_refusals(void **state)
{
	struct fixture *f = *state;
	char s[TOKEN_SECRET_LEN + 1];
	struct tg_token_info info;
	struct tg_error err;

	create(f, TG_ROLE_SCREEN, NULL, s, &info);
	assert_int_equal(log_size(f), 1);
	tg_error_clear(&err);
	assert_int_equal(token_revoke(f->a, "0123456789abcdef", &err),
	    TG_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no token with id"));
	assert_int_equal(token_revoke(f->a, "xyz", &err), TG_ENOTFOUND);
	assert_int_equal(token_revoke(f->a, "", &err), TG_ENOTFOUND);
	assert_int_equal(token_revoke(f->a, NULL, &err), TG_ENOTFOUND);
	/* A secret given where the id belongs is not found, and not
	 * echoed, not even in part. */
	assert_int_equal(token_revoke(f->a, s, &err), TG_ENOTFOUND);
	assert_null(strstr(err.msg, "tg_"));
	assert_null(strstr(err.msg, info.id));
	assert_int_equal(log_size(f), 1);

	assert_int_equal(token_revoke(f->a, info.id, &err), 0);
	assert_int_equal(log_size(f), 2);
	assert_int_equal(token_revoke(f->a, info.id, &err), TG_EINVAL);
	assert_non_null(strstr(err.msg, "already revoked"));
	assert_int_equal(log_size(f), 2);
}

static void
test_bad_input(void **state)
{
	static const char *const bad_names[] = { "a\"b", "a\\b", "tab\tname",
	    "new\nline", "caf\xc3\xa9", "semi;colon", "slash/", "<b>", NULL };
	struct fixture *f = *state;
	char s[TOKEN_SECRET_LEN + 1], name[128];
	struct tg_token_info info;
	struct tg_error err;

	for (size_t i = 0; bad_names[i] != NULL; i++) {
		tg_error_clear(&err);
		assert_int_equal(token_create(f->a, TG_ROLE_SCREEN,
		    bad_names[i], s, &info, &err), TG_EINVAL);
		assert_string_equal(s, "");
	}
	memset(name, 'n', 101);
	name[101] = '\0';
	assert_int_equal(token_create(f->a, TG_ROLE_SCREEN, name, s, &info,
	    &err), TG_EINVAL);
	assert_int_equal(token_create(f->a, TG_ROLE_NONE, "x", s, &info,
	    &err), TG_EINVAL);
	assert_int_equal(token_create(f->a, (enum tg_role)9, "x", s, &info,
	    &err), TG_EINVAL);
	assert_int_equal(log_size(f), 0);

	/* The edges of what is allowed. */
	name[100] = '\0';
	create(f, TG_ROLE_SCREEN, name, s, &info);
	assert_string_equal(info.name, name);
	create(f, TG_ROLE_SCREEN, "Ops Team_2 ops@example.com-x.y", s, &info);
	create(f, TG_ROLE_SCREEN, "", s, &info);
	assert_int_equal(log_size(f), 3);
}

/* ---- listing ------------------------------------------------------------ */

struct rows {
	struct tg_token_info v[8];
	size_t n;
	size_t stop_after;	/* 0: never */
};

static int
collect(void *ctx, const struct tg_token_info *t)
{
	struct rows *r = ctx;

	assert_true(r->n < 8);
	r->v[r->n++] = *t;
	if (r->stop_after != 0 && r->n == r->stop_after)
		return 7;
	return 0;
}

static void
test_list(void **state)
{
	struct fixture *f = *state;
	char s[3][TOKEN_SECRET_LEN + 1];
	struct tg_token_info info[3];
	struct tg_error err;
	struct rows r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(token_list(f->a, collect, &r, &err), 0);
	assert_int_equal(r.n, 0);

	create(f, TG_ROLE_SCREEN, "one", s[0], &info[0]);
	create(f, TG_ROLE_AUDIT, "two", s[1], &info[1]);
	create(f, TG_ROLE_ADMIN, NULL, s[2], &info[2]);
	assert_int_equal(token_revoke(f->a, info[1].id, &err), 0);

	memset(&r, 0, sizeof(r));
	assert_int_equal(token_list(f->a, collect, &r, &err), 0);
	assert_int_equal(r.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(r.v[i].id, info[i].id);
		assert_string_equal(r.v[i].name, info[i].name);
		assert_int_equal(r.v[i].role, info[i].role);
		assert_string_equal(r.v[i].created, info[i].created);
		assert_int_equal(r.v[i].revoked, i == 1);
	}

	/* The callback's non-zero return stops the walk and is returned. */
	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	assert_int_equal(token_list(f->a, collect, &r, &err), 7);
	assert_int_equal(r.n, 2);
}

/* ---- the audit log ------------------------------------------------------ */

static void
test_audit_entries(void **state)
{
	struct fixture *f = *state;
	char s[TOKEN_SECRET_LEN + 1], want[256];
	struct tg_token_info info;
	struct audit_report rep;
	struct audit_entry e;
	struct tg_error err;

	create(f, TG_ROLE_ADMIN, "ops@example.com", s, &info);
	assert_int_equal(token_revoke(f->a, info.id, &err), 0);

	assert_int_equal(audit_get(f->a, 1, &e, &err), 0);
	assert_string_equal(e.kind, "token");
	assert_null(e.decision_id);
	assert_string_equal(e.request, "null");
	snprintf(want, sizeof(want), "{\"action\":\"create\",\"id\":\"%s\","
	    "\"name\":\"ops@example.com\",\"role\":\"admin\"}", info.id);
	assert_string_equal(e.payload, want);
	audit_entry_release(&e);

	assert_int_equal(audit_get(f->a, 2, &e, &err), 0);
	assert_string_equal(e.kind, "token");
	snprintf(want, sizeof(want), "{\"action\":\"revoke\",\"id\":\"%s\","
	    "\"name\":\"ops@example.com\",\"role\":\"admin\"}", info.id);
	assert_string_equal(e.payload, want);
	audit_entry_release(&e);

	memset(&rep, 0, sizeof(rep));
	tg_error_clear(&err);
	assert_int_equal(audit_verify(f->a, NULL, NULL, &rep, &err), 0);
	assert_int_equal(rep.damage, AUDIT_OK);
	assert_int_equal(rep.entries, 2);
}

/* Whether needle occurs in any file of dir (the database, its WAL and
 * shared memory, the keys). */
static bool
dir_contains(const char *dir, const char *needle)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t nlen = strlen(needle);
	bool found = false;
	DIR *d;

	d = opendir(dir);
	assert_non_null(d);
	while (!found && (de = readdir(d)) != NULL) {
		struct stat st;
		char *buf;
		FILE *fp;
		size_t n;

		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path) || stat(path, &st) != 0 ||
		    !S_ISREG(st.st_mode) || st.st_size == 0)
			continue;
		buf = malloc((size_t)st.st_size);
		assert_non_null(buf);
		fp = fopen(path, "rb");
		assert_non_null(fp);
		n = fread(buf, 1, (size_t)st.st_size, fp);
		fclose(fp);
		for (size_t i = 0; n >= nlen && i <= n - nlen; i++)
			if (memcmp(buf + i, needle, nlen) == 0) {
				found = true;
				break;
			}
		free(buf);
	}
	closedir(d);
	return found;
}

static void
test_secret_not_stored(void **state)
{
	struct fixture *f = *state;
	char s[4][TOKEN_SECRET_LEN + 1];
	struct tg_token_info info[4];
	struct audit_entry e;
	struct tg_error err;
	uint64_t n;

	for (size_t i = 0; i < 4; i++)
		create(f, (enum tg_role)(TG_ROLE_SCREEN + i % 3), "t", s[i],
		    &info[i]);
	assert_int_equal(token_revoke(f->a, info[0].id, &err), 0);
	/* The probe must be able to find what is there. */
	assert_true(dir_contains(f->dir, info[0].id));

	n = log_size(f);
	assert_int_equal(n, 5);
	for (size_t i = 0; i < 4; i++) {
		/* Neither the secret nor its random part, while the log is
		 * open (WAL) and after it is closed (checkpointed). */
		assert_false(dir_contains(f->dir, s[i]));
		assert_false(dir_contains(f->dir, s[i] + 3));
		for (uint64_t seq = 1; seq <= n; seq++) {
			assert_int_equal(audit_get(f->a, seq, &e, &err), 0);
			assert_null(strstr(e.payload, s[i] + 3));
			assert_null(strstr(e.request, s[i] + 3));
			assert_null(strstr(e.body, s[i] + 3));
			audit_entry_release(&e);
		}
	}
	audit_close(f->a);
	f->a = NULL;
	for (size_t i = 0; i < 4; i++)
		assert_false(dir_contains(f->dir, s[i] + 3));
	assert_int_equal(audit_open(f->dir, 0, &f->a, &err), 0);
	/* And tokens survive a reopen. */
	assert_int_equal(check(f, s[1], NULL), TG_ROLE_AUDIT);
	assert_int_equal(check(f, s[0], NULL), TG_ROLE_NONE);
}

static void
test_read_only(void **state)
{
	struct fixture *f = *state;
	char s[TOKEN_SECRET_LEN + 1], s2[TOKEN_SECRET_LEN + 1];
	struct tg_token_info info;
	struct tg_error err;

	create(f, TG_ROLE_SCREEN, "x", s, &info);
	audit_close(f->a);
	f->a = NULL;
	assert_int_equal(audit_open(f->dir, AUDIT_READONLY, &f->a, &err), 0);
	assert_int_equal(check(f, s, NULL), TG_ROLE_SCREEN);
	/* Writing through a read-only log fails without a secret. */
	assert_int_not_equal(token_create(f->a, TG_ROLE_SCREEN, "y", s2,
	    &info, &err), 0);
	assert_string_equal(s2, "");
	assert_int_not_equal(token_revoke(f->a, info.id, &err), 0);
	assert_int_equal(check(f, s, NULL), TG_ROLE_SCREEN);
}

/* ---- threads ------------------------------------------------------------ */

struct checker {
	struct tg_audit *a;
	const char *secret;
	int ok, bad;
};

static void *
check_loop(void *arg)
{
	struct checker *c = arg;
	enum tg_role role;
	char id[17];

	for (int i = 0; i < 200; i++) {
		if (token_check(c->a, c->secret, TOKEN_SECRET_LEN, &role,
		    id) == 0 && role == TG_ROLE_SCREEN)
			c->ok++;
		else
			c->bad++;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	struct fixture *f = *state;
	char s[TOKEN_SECRET_LEN + 1], other[TOKEN_SECRET_LEN + 1];
	struct tg_token_info info;
	struct checker c[4];
	pthread_t t[4];

	create(f, TG_ROLE_SCREEN, "shared", s, &info);
	for (int i = 0; i < 4; i++) {
		c[i].a = f->a;
		c[i].secret = s;
		c[i].ok = c[i].bad = 0;
		assert_int_equal(pthread_create(&t[i], NULL, check_loop,
		    &c[i]), 0);
	}
	/* Writers take the same mutex as the checks. */
	for (int i = 0; i < 5; i++)
		create(f, TG_ROLE_AUDIT, "w", other, &info);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(c[i].ok, 200);
		assert_int_equal(c[i].bad, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test_setup_teardown(test_create_check_revoke,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_secrets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_revoke_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_entries, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_secret_not_stored, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_threads, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
