/*
 * faultshim.c: an LD_PRELOAD library that makes the audit writer's I/O and
 * OpenSSL calls fail on cue, so that tests/faults/faults.sh can see what
 * tiergate answers when the disk is full, a write or an fsync fails, or
 * signing fails, with no test hook in the program itself.  SQLite's unix
 * VFS calls pwrite64, write and fdatasync through libc, and tiergate calls
 * libcrypto's EVP functions through the dynamic linker, so defining them
 * here puts these in front.
 *
 * Environment (read once, at load):
 *   FAULTSHIM_OP      what fails: write (pwrite, pwrite64, write), sync
 *                     (fsync, fdatasync), sign (EVP_DigestSign), signinit
 *                     (EVP_DigestSignInit) or digest (EVP_Digest, and
 *                     EVP_DigestFinal_ex: the audit log hashes entries,
 *                     requests and tree nodes through merkle.c's fetched
 *                     digest); unset, nothing does
 *   FAULTSHIM_ERRNO   ENOSPC (the default: SQLite's SQLITE_FULL) or EIO
 *                     (SQLITE_IOERR), for write and sync
 *   FAULTSHIM_FILE    write and sync fail only on files whose path holds
 *                     this (default "tiergate.db": the database, its -wal
 *                     and -shm), never on the program's own output
 *   FAULTSHIM_AFTER   let this many matching calls through first (default
 *                     0: the first one fails)
 *   FAULTSHIM_TIMES   then fail this many and let the rest through
 *                     (default: fail every one)
 *   FAULTSHIM_TRIGGER a file: calls are counted and failed only while it
 *                     exists (a test arms the fault in a running daemon by
 *                     creating it, and lifts it by removing it)
 *   FAULTSHIM_LOG     a file: one line appended per call failed, so a test
 *                     can tell that its fault really fired
 *   FAULTSHIM_COUNT   a file: at exit, the number of matching calls seen
 *                     (failed or not), for choosing FAULTSHIM_AFTER
 *
 * Thread-safe: counters are atomic, files are written with one write(2).
 */
#define _GNU_SOURCE 1

#include <sys/syscall.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

enum shim_op { OP_NONE, OP_WRITE, OP_SYNC, OP_SIGN, OP_SIGNINIT, OP_DIGEST };

static struct {
	enum shim_op op;
	int err;
	const char *file;
	long after;
	long times;		/* -1: every one */
	const char *trigger;
	const char *log;
	const char *count;
} cfg;

static atomic_long seen;	/* matching calls while armed */

static void shim_init(void) __attribute__((constructor));
static void shim_fini(void) __attribute__((destructor));

static long
env_long(const char *name, long dflt)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	return errno != 0 || *end != '\0' ? dflt : v;
}

static void
shim_init(void)
{
	const char *op = getenv("FAULTSHIM_OP"), *e = getenv("FAULTSHIM_ERRNO");

	cfg.op = OP_NONE;
	if (op == NULL)
		return;
	if (strcmp(op, "write") == 0)
		cfg.op = OP_WRITE;
	else if (strcmp(op, "sync") == 0)
		cfg.op = OP_SYNC;
	else if (strcmp(op, "sign") == 0)
		cfg.op = OP_SIGN;
	else if (strcmp(op, "signinit") == 0)
		cfg.op = OP_SIGNINIT;
	else if (strcmp(op, "digest") == 0)
		cfg.op = OP_DIGEST;
	cfg.err = e != NULL && strcmp(e, "EIO") == 0 ? EIO : ENOSPC;
	cfg.file = getenv("FAULTSHIM_FILE");
	if (cfg.file == NULL || *cfg.file == '\0')
		cfg.file = "tiergate.db";
	cfg.after = env_long("FAULTSHIM_AFTER", 0);
	cfg.times = env_long("FAULTSHIM_TIMES", -1);
	cfg.trigger = getenv("FAULTSHIM_TRIGGER");
	cfg.log = getenv("FAULTSHIM_LOG");
	cfg.count = getenv("FAULTSHIM_COUNT");
}

/* Appends one line to path with the raw system call (never through the
 * write() defined below). */
static void
append_line(const char *path, const char *line)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
	    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	(void)syscall(SYS_write, fd, line, strlen(line));
	(void)syscall(SYS_close, fd);
}

static void
shim_fini(void)
{
	char line[64];

	if (cfg.op == OP_NONE || cfg.count == NULL)
		return;
	(void)snprintf(line, sizeof(line), "%ld\n", atomic_load(&seen));
	append_line(cfg.count, line);
}

/* Whether fd is a file the fault is about. */
static bool
fd_matches(int fd)
{
	char link[64], path[PATH_MAX];
	ssize_t n;

	(void)snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return false;
	path[n] = '\0';
	return strstr(path, cfg.file) != NULL;
}

/* Whether this call of op (on fd, or -1) fails. */
static bool
fail_now(enum shim_op op, int fd, const char *fn)
{
	char line[128];
	long n;

	if (cfg.op != op || (fd >= 0 && !fd_matches(fd)))
		return false;
	if (cfg.trigger != NULL && access(cfg.trigger, F_OK) != 0)
		return false;
	n = atomic_fetch_add(&seen, 1);
	if (n < cfg.after || (cfg.times >= 0 && n >= cfg.after + cfg.times))
		return false;
	if (cfg.log != NULL) {
		(void)snprintf(line, sizeof(line), "%s #%ld failed (%s)\n", fn,
		    n + 1, op == OP_WRITE || op == OP_SYNC ?
		    strerror(cfg.err) : "OpenSSL");
		append_line(cfg.log, line);
	}
	return true;
}

static void *
real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);

	if (f == NULL) {
		static const char msg[] = "faultshim: a function is missing\n";

		(void)syscall(SYS_write, 2, msg, sizeof(msg) - 1);
		abort();
	}
	return f;
}

/* ISO C has no conversion between object and function pointers; POSIX
 * says a dlsym result may be copied into one. */
#define REAL(fn, name) do {						\
	if ((fn) == NULL) {						\
		void *p_ = real(name);					\
									\
		memcpy(&(fn), &p_, sizeof(fn));				\
	}								\
} while (0)

/* ---- I/O ----------------------------------------------------------------- */

ssize_t
write(int fd, const void *buf, size_t n)
{
	static ssize_t (*fn)(int, const void *, size_t);

	if (fail_now(OP_WRITE, fd, "write")) {
		errno = cfg.err;
		return -1;
	}
	REAL(fn, "write");
	return fn(fd, buf, n);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off_t);

	if (fail_now(OP_WRITE, fd, "pwrite")) {
		errno = cfg.err;
		return -1;
	}
	REAL(fn, "pwrite");
	return fn(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	static ssize_t (*fn)(int, const void *, size_t, off64_t);

	if (fail_now(OP_WRITE, fd, "pwrite64")) {
		errno = cfg.err;
		return -1;
	}
	REAL(fn, "pwrite64");
	return fn(fd, buf, n, off);
}

int
fsync(int fd)
{
	static int (*fn)(int);

	if (fail_now(OP_SYNC, fd, "fsync")) {
		errno = cfg.err;
		return -1;
	}
	REAL(fn, "fsync");
	return fn(fd);
}

int
fdatasync(int fd)
{
	static int (*fn)(int);

	if (fail_now(OP_SYNC, fd, "fdatasync")) {
		errno = cfg.err;
		return -1;
	}
	REAL(fn, "fdatasync");
	return fn(fd);
}

/* ---- OpenSSL ------------------------------------------------------------ */

/* What a real failure leaves: a reason on the thread's error queue. */
static void
ssl_fail(void)
{
	ERR_raise_data(ERR_LIB_EVP, ERR_R_OPERATION_FAIL, "faultshim");
}

int
EVP_DigestSign(EVP_MD_CTX *ctx, unsigned char *sig, size_t *siglen,
    const unsigned char *tbs, size_t tbslen)
{
	static int (*fn)(EVP_MD_CTX *, unsigned char *, size_t *,
	    const unsigned char *, size_t);

	if (fail_now(OP_SIGN, -1, "EVP_DigestSign")) {
		ssl_fail();
		return 0;
	}
	REAL(fn, "EVP_DigestSign");
	return fn(ctx, sig, siglen, tbs, tbslen);
}

int
EVP_DigestSignInit(EVP_MD_CTX *ctx, EVP_PKEY_CTX **pctx, const EVP_MD *type,
    ENGINE *e, EVP_PKEY *pkey)
{
	static int (*fn)(EVP_MD_CTX *, EVP_PKEY_CTX **, const EVP_MD *,
	    ENGINE *, EVP_PKEY *);

	if (fail_now(OP_SIGNINIT, -1, "EVP_DigestSignInit")) {
		ssl_fail();
		return 0;
	}
	REAL(fn, "EVP_DigestSignInit");
	return fn(ctx, pctx, type, e, pkey);
}

int
EVP_Digest(const void *data, size_t count, unsigned char *md,
    unsigned int *size, const EVP_MD *type, ENGINE *impl)
{
	static int (*fn)(const void *, size_t, unsigned char *,
	    unsigned int *, const EVP_MD *, ENGINE *);

	if (fail_now(OP_DIGEST, -1, "EVP_Digest")) {
		ssl_fail();
		return 0;
	}
	REAL(fn, "EVP_Digest");
	return fn(data, count, md, size, type, impl);
}

int
EVP_DigestFinal_ex(EVP_MD_CTX *ctx, unsigned char *md, unsigned int *size)
{
	static int (*fn)(EVP_MD_CTX *, unsigned char *, unsigned int *);

	if (fail_now(OP_DIGEST, -1, "EVP_DigestFinal_ex")) {
		ssl_fail();
		return 0;
	}
	REAL(fn, "EVP_DigestFinal_ex");
	return fn(ctx, md, size);
}
