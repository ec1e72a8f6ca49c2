/*
 * testdir.h: temporary directories for the unit tests that need files
 * (a data dir, a config file), shared so every test cleans up the same way.
 * Header-only: each test program is one translation unit.
 */
#ifndef TIERGATE_TESTDIR_H
#define TIERGATE_TESTDIR_H

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Makes $TMPDIR/NAME.XXXXXX (or /tmp/...) into buf; 0 or -1. */
static inline int
test_tmpdir(char *buf, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || tmp[0] == '\0' || strlen(tmp) > 512)
		tmp = "/tmp";
	if (snprintf(buf, size, "%.512s/%s.XXXXXX", tmp, name) >= (int)size)
		return -1;
	return mkdtemp(buf) == NULL ? -1 : 0;
}

/* Removes dir and what is in it, depth levels of subdirectories deep. */
static inline void
test_rm_tree(const char *dir, int depth)
{
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
			test_rm_tree(path, depth - 1);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

#endif
