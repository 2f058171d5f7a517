// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* What a peer sends can reach the log (a refused method's name): it must
 * not forge an entry of its own or reach the terminal as a control. */
Test(log, peer_text_cannot_forge_entries, .init = cr_redirect_stderr)
{
	char got[512];
	size_t n;

	mw_log_set_level(MW_LOG_INFO);
	log_info("refused %s",
		 "x\n2026-01-01T00:00:00.000Z info: forged\r\x1b[2J");
	fflush(stderr);
	n = fread(got, 1, sizeof(got) - 1, cr_get_redirected_stderr());
	got[n] = '\0';
	cr_assert(strstr(got, " info: refused x\n    2026-01-01T00:00:00.000Z "
			      "info: forged\\x0d\\x1b[2J\n"),
		  "%s", got);
	cr_assert_eq(strchr(got, '\n') - got + 1,
		     (long)(strstr(got, "    2026") - got));
}

/* Past ASCII: a C1 CSI, a right-to-left override that would show the
 * entry's text reversed, a line separator some viewers break on, a byte
 * that is not UTF-8; ordinary non-ASCII text stays as it is. */
Test(log, peer_text_cannot_hide_or_reorder, .init = cr_redirect_stderr)
{
	char got[512];
	size_t n;

	mw_log_set_level(MW_LOG_INFO);
	log_info("refused %s",
		 "caf\xc3\xa9 \xc2\x9b"
		 "2J \xe2\x80\xae"
		 "txt.exe \xe2\x80\xa8 \xff\xfe \xf3\xa0\x80\x81");
	fflush(stderr);
	n = fread(got, 1, sizeof(got) - 1, cr_get_redirected_stderr());
	got[n] = '\0';
	cr_assert(strstr(got, " info: refused caf\xc3\xa9 \\u009b2J "
			      "\\u202etxt.exe \\u2028 \\xff\\xfe "
			      "\\U000e0001\n"),
		  "%s", got);
}

/* A name another user chose, for status: one line, valid UTF-8, inert. */
Test(log, defanged_names_are_one_inert_line)
{
	char *s = mw_defang_dup("\xff\x1b[31mevil\nroot \xe2\x80\xae"
				"x caf\xc3\xa9");

	cr_assert_not_null(s);
	cr_assert_str_eq(s, "\\xff\\x1b[31mevil\\x0aroot \\u202ex caf\xc3\xa9");
	free(s);
	s = mw_defang_dup("");
	cr_assert_str_eq(s, "");
	free(s);
}

/* Entries any local user can cause: at most MW_LOG_LIMIT_PER_S a second
 * through one limiter; the next written counts those that were not. */
Test(log, a_limiter_bounds_a_flood_and_counts_the_rest,
     .init = cr_redirect_stderr)
{
	struct mw_log_limit lim = { 0 };
	char *got = calloc(1, 1 << 16);
	struct timespec t;
	size_t n;
	int lines = 0;

	cr_assert_not_null(got);
	mw_log_set_level(MW_LOG_INFO);
	/* start at the beginning of a second, so that the flood is in one */
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while (t.tv_nsec > 100000000);
	for (int i = 0; i < 1000; i++)
		mw_log_limited(&lim, MW_LOG_WARN, "refused %d", i);
	cr_assert_eq(lim.dropped, 1000 - MW_LOG_LIMIT_PER_S);
	do
		clock_gettime(CLOCK_MONOTONIC, &t);
	while (t.tv_sec == lim.second);
	mw_log_limited(&lim, MW_LOG_WARN, "refused %d", 1000);
	fflush(stderr);
	n = fread(got, 1, (1 << 16) - 1, cr_get_redirected_stderr());
	got[n] = '\0';
	for (char *p = got; (p = strchr(p, '\n')); p++)
		lines++;
	cr_assert_eq(lines, MW_LOG_LIMIT_PER_S + 1, "%s", got);
	cr_assert(strstr(got, "warn: refused 9\n"), "%s", got);
	cr_assert_null(strstr(got, "refused 10\n"), "%s", got);
	cr_assert(strstr(got, "warn: refused 1000 (990 more like it not "
			      "logged)\n"),
		  "%s", got);
	cr_assert_eq(lim.dropped, 0);
	free(got);
}

/* A reason quoting another party (a server's error) is printed by the CLI
 * as it is: it is defanged when it is made; once only. */
Test(log, reasons_are_defanged_once)
{
	char err[256], again[256];

	mw_set_err(err, sizeof(err), "server: %s",
		   "ERROR:  x\x1b]52;c;SGk=\x07\nDETAIL:  \xe2\x80\xae"
		   "y\n");
	cr_assert_str_eq(err, "server: ERROR:  x\\x1b]52;c;SGk=\\x07 "
			      "DETAIL:  \\u202ey");
	mw_set_err(again, sizeof(again), "%s", err);
	cr_assert_str_eq(again, err);
	/* cut to the buffer, still a string */
	mw_set_err(err, 8, "%s", "\x1b\x1b\x1b\x1b");
	cr_assert_str_eq(err, "\\x1b\\x1");
}
