/*
 * log.c: operational logging to stderr, after OpenBSD's log.c.
 *
 * Each message is one line "progname: message", written with a single
 * stdio call so lines from different threads do not interleave.  Under
 * systemd stderr goes to the journal, which adds the timestamps.  Never
 * log payloads or secrets.  log_warn and fatal append strerror(errno).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiergate/util.h"

#define LOG_LINE_MAX 2048

static const char *log_progname = "tiergate";
static int log_level = LOG_LVL_INFO;

void
log_init(const char *progname, int level)
{
	if (progname != NULL && progname[0] != '\0')
		log_progname = progname;
	if (level < LOG_LVL_ERR)
		level = LOG_LVL_ERR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	log_level = level;
}

static void log_vwrite(int, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

/* errnum < 0: no errno suffix. */
static void
log_vwrite(int level, int errnum, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX], ebuf[128];

	if (level > log_level)
		return;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	if (errnum >= 0) {
		/* The XSI strerror_r: thread-safe, unlike strerror. */
		if (strerror_r(errnum, ebuf, sizeof(ebuf)) != 0)
			(void)snprintf(ebuf, sizeof(ebuf), "error %d", errnum);
		fprintf(stderr, "%s: %s: %s\n", log_progname, msg, ebuf);
	} else
		fprintf(stderr, "%s: %s\n", log_progname, msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_WARN, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_INFO, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_DEBUG, -1, fmt, ap);
	va_end(ap);
	errno = saved;
}

/* Fatal messages are printed whatever the level, then the process exits. */
void
fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERR, -1, fmt, ap);
	va_end(ap);
	exit(1);
}
