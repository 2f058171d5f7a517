// SPDX-License-Identifier: BSD-2-Clause
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utf8.h"

static enum mw_log_level min_level = MW_LOG_INFO;

void mw_log_set_level(enum mw_log_level level)
{
	min_level = level;
}

/*
 * Text from peers reaches the log (a refused method, a parse error quoting
 * the bytes near it): a control character or a byte that is not UTF-8 is
 * written \xNN, a code point that acts on a terminal or hides or reorders
 * text (C1 controls, bidi overrides, line separators: mw_utf8_shown_escaped)
 * \uNNNN or \UNNNNNNNN, and a line break starts an indented
 * continuation (or is \x0a, without lines), so that no peer can forge an
 * entry or drive a terminal. out holds at least 5 * strlen(s) + 1 bytes:
 * no escape is longer than 5 bytes for each byte it stands for.
 */
static void defang(char *out, const char *s, bool lines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t n = mw_utf8_decode(p + i, len - i, &cp);

		if (p[i] == '\n' && lines) {
			memcpy(out, "\n    ", 5);
			out += 5;
		} else if (!n || (cp < 0x20 && cp != '\t') || cp == 0x7f) {
			out += sprintf(out, "\\x%02x", p[i]);
			n = 1;
		} else if (mw_utf8_shown_escaped(cp)) {
			out += sprintf(out,
				       cp <= 0xffff ? "\\u%04x" : "\\U%08x",
				       (unsigned)cp);
		} else {
			memcpy(out, p + i, n);
			out += n;
		}
		i += n;
	}
	*out = '\0';
}

/* One entry, " (N more like it not logged)" after it when dropped. */
static void vlog(enum mw_log_level level, uint64_t dropped, const char *fmt,
		 va_list ap)
{
	static const char *const names[] = { "debug", "info", "warn", "error" };
	char when[32], *msg = NULL, *safe = NULL, more[64] = "";
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	n = vasprintf(&msg, fmt, ap);
	if (n >= 0 && (size_t)n < SIZE_MAX / 5)
		safe = malloc(5 * (size_t)n + 1);
	if (safe)
		defang(safe, msg, true);
	if (dropped)
		snprintf(more, sizeof(more), " (%llu more like it not logged)",
			 (unsigned long long)dropped);
	/* one write per entry: lines of concurrent writers do not mix */
	fprintf(stderr, "%s.%03ldZ %s: %s%s\n", when, ts.tv_nsec / 1000000,
		names[level], safe ? safe : "(log entry lost: out of memory)",
		more);
	free(safe);
	if (n >= 0)
		free(msg);
}

void mw_log(enum mw_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level < min_level)
		return;
	va_start(ap, fmt);
	vlog(level, 0, fmt, ap);
	va_end(ap);
}

void mw_log_limited(struct mw_log_limit *l, enum mw_log_level level,
		    const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (level < min_level)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (ts.tv_sec != l->second) {
		l->second = ts.tv_sec;
		l->lines = 0;
	}
	if (l->lines == MW_LOG_LIMIT_PER_S) {
		l->dropped++;
		return;
	}
	l->lines++;
	va_start(ap, fmt);
	vlog(level, l->dropped, fmt, ap);
	va_end(ap);
	l->dropped = 0;
}

char *mw_defang_dup(const char *s)
{
	size_t n = strlen(s);
	char *out = n < SIZE_MAX / 5 ? malloc(5 * n + 1) : NULL;

	if (out)
		defang(out, s, false);
	return out;
}

void mw_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	char *safe;
	size_t n;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (n = strlen(err); n && (err[n - 1] == '\n' || err[n - 1] == '\r');)
		err[--n] = '\0';
	/* a server's ERROR and DETAIL lines: one line, a space between */
	for (size_t i = 0, j = 0;; i++) {
		if (err[i] == '\n') {
			while (j && err[j - 1] == '\r')
				j--;
			err[j++] = ' ';
			while (err[i + 1] == ' ' || err[i + 1] == '\t')
				i++;
			continue;
		}
		err[j++] = err[i];
		if (!err[i]) {
			n = j - 1;
			break;
		}
	}
	/*
	 * A reason can quote another party (a server's error, a file's
	 * line) and the CLI prints it as it is: defanged here, once for
	 * every printer. Text defanged already is left as it was.
	 */
	safe = n < SIZE_MAX / 5 ? malloc(5 * n + 1) : NULL;
	if (!safe)
		return;
	defang(safe, err, false);
	snprintf(err, errlen, "%s", safe);
	free(safe);
}
