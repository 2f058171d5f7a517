// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

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
