/*
 * replay_main.c: replays fuzz corpora without libFuzzer.
 *
 *	replay_fuzz_NAME DIR_OR_FILE...
 *
 * Linked with one tests/fuzz/fuzz_NAME.c, it calls that target's
 * LLVMFuzzerTestOneInput() once on every regular file named, and on every
 * regular file inside every directory named, recursing one level: files in
 * DIR and in DIR's subdirectories are run, deeper ones are not.  Files run
 * in name order, so a replay is the same run every time.  A
 * target reports a bug by crashing (an abort() of its own or a sanitizer
 * report), which ends the program; so every input that returns counts as
 * passed and the last line is "N passed, 0 failed" (the form that
 * tests/run_all.sh reads).  An argument or file that cannot be read counts
 * as failed and makes the exit status 1.
 *
 * Each input is handed over in a buffer of exactly its size, so that
 * AddressSanitizer catches a read one byte past the end as libFuzzer would.
 * A target's LLVMFuzzerInitialize(), when it has one (a weak reference
 * says), is called once first with main's argc and argv, as libFuzzer
 * does; the targets without one do their one-time set-up lazily.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiergate/error.h"
#include "tiergate/util.h"

/* Inputs are small; a larger file is a mistake in the corpus. */
#define REPLAY_FILE_MAX (64u << 20)
#define REPLAY_DIR_MAX 100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
extern int LLVMFuzzerInitialize(int *argc, char ***argv)
    __attribute__((weak));

/*
 * Present only when a sanitizer runtime is linked in; a weak reference is
 * NULL otherwise.  The callback runs after the sanitizer's report, before
 * the process exits.
 */
extern void __sanitizer_set_death_callback(void (*)(void))
    __attribute__((weak));

/* The input being run, for the crash message. */
static const char *volatile current;

static size_t npassed;
static size_t nfailed;

/* Async-signal-safe: write(2) only. */
static void
say_current(void)
{
	static const char pre[] = "replay: crashed on input '";
	static const char post[] = "'\n";
	const char *s = current;

	if (s == NULL)
		return;
	(void)!write(STDERR_FILENO, pre, sizeof(pre) - 1);
	(void)!write(STDERR_FILENO, s, strlen(s));
	(void)!write(STDERR_FILENO, post, sizeof(post) - 1);
}

/*
 * House style keeps signal handlers to setting a flag; this one runs only
 * as the program dies (SA_RESETHAND, then the signal is raised again), and
 * naming the input that killed it is the whole point of a replay.
 */
static void
on_fatal_signal(int sig)
{
	say_current();
	(void)raise(sig);
}

static void
catch_crashes(void)
{
	/* A stack overflow leaves no stack for the handler: give it its own
	 * (a fixed size, as SIGSTKSZ need not be a constant). */
	static char altstack[64 * 1024];
	struct sigaction sa;
	stack_t ss;

	if (__sanitizer_set_death_callback != NULL)
		__sanitizer_set_death_callback(say_current);

	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = altstack;
	ss.ss_size = sizeof(altstack);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fatal_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	/* Under a sanitizer the runtime sets up its own. */
	if (__sanitizer_set_death_callback == NULL &&
	    sigaltstack(&ss, NULL) == 0)
		sa.sa_flags |= SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	/* abort() from a target's own checks; sanitizers leave it alone. */
	(void)sigaction(SIGABRT, &sa, NULL);
	/* Under a sanitizer the runtime owns SIGSEGV and friends (its handler
	 * prints the stack, then calls the death callback): leave it be. */
	if (__sanitizer_set_death_callback == NULL) {
		(void)sigaction(SIGSEGV, &sa, NULL);
		(void)sigaction(SIGBUS, &sa, NULL);
		(void)sigaction(SIGFPE, &sa, NULL);
		(void)sigaction(SIGILL, &sa, NULL);
	}
}

static void
failed(const char *path, const char *why)
{
	fprintf(stderr, "replay: '%s': %s\n", path, why);
	nfailed++;
}

static void
run_file(const char *path)
{
	struct tg_buf b;
	uint8_t *data;
	size_t len;
	int rc;

	buf_init(&b, REPLAY_FILE_MAX);
	rc = buf_read_file(&b, path);
	if (rc != 0) {
		failed(path, rc > TG_EBASE ? strerror(-rc) : tg_strerror(rc));
		buf_release(&b);
		return;
	}
	/* Exactly len bytes (one for an empty input, passed as size 0). */
	len = b.len;
	data = malloc(len > 0 ? len : 1);
	if (data == NULL) {
		failed(path, strerror(ENOMEM));
		buf_release(&b);
		return;
	}
	if (len > 0)
		memcpy(data, b.p, len);
	buf_release(&b);

	current = path;
	(void)LLVMFuzzerTestOneInput(data, len);
	current = NULL;
	free(data);
	npassed++;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
run_dir(const char *dir, int depth)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	char **names = NULL, **nn, path[PATH_MAX];
	size_t n = 0, alloc = 0, i;
	int len;

	d = opendir(dir);
	if (d == NULL) {
		failed(dir, strerror(errno));
		return;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (n == REPLAY_DIR_MAX) {
			failed(dir, "too many files");
			break;
		}
		if (n == alloc) {
			alloc = alloc == 0 ? 64 : alloc * 2;
			nn = reallocarray(names, alloc, sizeof(*names));
			if (nn == NULL) {
				failed(dir, strerror(ENOMEM));
				break;
			}
			names = nn;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL) {
			failed(dir, strerror(ENOMEM));
			break;
		}
		n++;
	}
	if (de == NULL && errno != 0)
		failed(dir, strerror(errno));
	closedir(d);

	if (n > 0)
		qsort(names, n, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		len = snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			failed(names[i], "path too long");
			continue;
		}
		if (stat(path, &st) == -1) {
			failed(path, strerror(errno));
			continue;
		}
		if (S_ISREG(st.st_mode))
			run_file(path);
		else if (S_ISDIR(st.st_mode) && depth == 0)
			run_dir(path, 1);
		/* Deeper directories, sockets, ... are skipped. */
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
main(int argc, char *argv[])
{
	struct stat st;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	catch_crashes();
	if (LLVMFuzzerInitialize != NULL)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) == -1)
			failed(argv[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			run_dir(argv[i], 0);
		else if (S_ISREG(st.st_mode))
			run_file(argv[i]);
		else
			failed(argv[i], "not a regular file or a directory");
	}
	printf("%zu passed, %zu failed\n", npassed, nfailed);
	return nfailed == 0 ? 0 : 1;
}
