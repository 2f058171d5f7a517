/* SPDX-License-Identifier: BSD-2-Clause */
/* Logging to stderr: the daemon runs in the foreground under systemd. */
#ifndef MW_LOG_H
#define MW_LOG_H

#include <stddef.h>

enum mw_log_level { MW_LOG_DEBUG, MW_LOG_INFO, MW_LOG_WARN, MW_LOG_ERR };

void mw_log_set_level(enum mw_log_level level);
void mw_log(enum mw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Entries anyone can cause (a connection from any local user) would let
 * them flood the log, whose writes block the loop once journald falls
 * behind: through one limiter at most MW_LOG_LIMIT_PER_S entries a
 * second are written, and the next one written says how many were not.
 */
#define MW_LOG_LIMIT_PER_S 10
struct mw_log_limit {
	long second; /* CLOCK_MONOTONIC, of the entries counted */
	unsigned lines;
	unsigned long long dropped; /* since the last one written */
};
void mw_log_limited(struct mw_log_limit *l, enum mw_log_level level,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Formats a reason into err (when err is not NULL), without the trailing
 * newline libpq and libbpf put on theirs, on one line (a line break
 * inside it a space) and defanged as the log is: the CLI prints reasons
 * that quote servers and files.
 */
void mw_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Text from a peer or another user (a process's comm, a cgroup's name),
 * made safe to show as the log shows it, on one line (a line break is
 * \x0a): valid UTF-8 that drives no terminal. A new string, or NULL when
 * out of memory.
 */
char *mw_defang_dup(const char *s);

#define log_debug(...) mw_log(MW_LOG_DEBUG, __VA_ARGS__)
#define log_info(...) mw_log(MW_LOG_INFO, __VA_ARGS__)
#define log_warn(...) mw_log(MW_LOG_WARN, __VA_ARGS__)
#define log_err(...) mw_log(MW_LOG_ERR, __VA_ARGS__)

#endif
