// SPDX-License-Identifier: BSD-2-Clause
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum mw_log_level min_level = MW_LOG_INFO;

void mw_log_set_level(enum mw_log_level level)
{
	min_level = level;
}

/*
 * Text from peers reaches the log (a refused method, a parse error quoting
 * the bytes near it): a control character is written \xNN and a line
 * break starts an indented continuation, so that no peer can forge an
 * entry or drive a terminal. out holds at least 5 * strlen(s) + 1 bytes.
 */
static void defang(char *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n') {
			memcpy(out, "\n    ", 5);
			out += 5;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			*out++ = '\\';
			*out++ = 'x';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		} else {
			*out++ = (char)c;
		}
	}
	*out = '\0';
}

void mw_log(enum mw_log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	char when[32], *msg = NULL, *safe = NULL;
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < SIZE_MAX / 5)
		safe = malloc(5 * (size_t)n + 1);
	if (safe)
		defang(safe, msg);
	/* one write per entry: lines of concurrent writers do not mix */
	fprintf(stderr, "%s.%03ldZ %s: %s\n", when, ts.tv_nsec / 1000000,
		names[level], safe ? safe : "(log entry lost: out of memory)");
	free(safe);
	if (n >= 0)
		free(msg);
}

void mw_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (size_t n = strlen(err);
	     n && (err[n - 1] == '\n' || err[n - 1] == '\r');)
		err[--n] = '\0';
}
