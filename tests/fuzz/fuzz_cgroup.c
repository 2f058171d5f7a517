// SPDX-License-Identifier: BSD-2-Clause
/*
 * The cgroup a control request names ("cgroup" of enforce and release):
 * any bytes up to the first NUL go to mw_cgroup_lexical and
 * mw_cgroup_resolve, as commands.c hands them over. Resolving only reads
 * the cgroup file system (realpath, stat); nothing is enforced. Every
 * run checks:
 *   - a refusal says why;
 *   - the lexical path is the mount's real path, then components that
 *     are neither empty, "." nor "..", and fits where it was put;
 *   - a path resolved (an existing cgroup) lies in the mount, and is
 *     the lexical one when that is given too: release finds a cgroup
 *     gone by the path enforce remembered while it was there.
 * Without a cgroup v2 mount both refuse everything.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "log.h"

static char mnt_real[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *mnt = mw_cgroup2_mount();

	(void)argc;
	(void)argv;
	mw_log_set_level(MW_LOG_ERR);
	if (mnt && !realpath(mnt, mnt_real))
		abort();
	return 0;
}

static bool canonical(const char *p)
{
	size_t m = strlen(mnt_real);

	if (strncmp(p, mnt_real, m))
		return false;
	for (p += m; *p;) {
		size_t n;

		if (*p++ != '/')
			return false;
		n = strcspn(p, "/");
		if (!n || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *given = strndup((const char *)data, size);
	char lex[PATH_MAX], res[PATH_MAX], err[PATH_MAX + 256];
	int rl, rr;

	if (!given)
		return 0;
	err[0] = '\0';
	rl = mw_cgroup_lexical(given, lex, sizeof(lex), err, sizeof(err));
	if (rl && (rl > 0 || !err[0]))
		abort();
	if (!rl && (!mnt_real[0] || !canonical(lex) || strstr(given, "/../")))
		abort();
	err[0] = '\0';
	rr = mw_cgroup_resolve(given, res, sizeof(res), err, sizeof(err));
	if (rr && (rr > 0 || !err[0]))
		abort();
	if (!rr && (!canonical(res) || (!rl && strcmp(lex, res))))
		abort();
	free(given);
	return 0;
}
