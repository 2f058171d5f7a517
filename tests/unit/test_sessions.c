// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <stdio.h>

#include "sessions.h"

static const struct mw_session_owner alice = { .uid = 1000, .cgroup_id = 7 };
static const struct mw_session_owner alice_elsewhere = { .uid = 1000,
							 .cgroup_id = 8 };
static const struct mw_session_owner bob = { .uid = 1001, .cgroup_id = 7 };

static enum mw_session_use use(struct mw_sessions *s, const char *server,
			       const char *sid, struct mw_session_owner o)
{
	enum mw_session_use u;

	cr_assert_eq(mw_sessions_use(s, server, sid, o, &u), 0);
	return u;
}

/* A session is its opener's: the same user in another cgroup is another
 * identity, and so is another user in the same cgroup. */
Test(sessions, a_session_is_its_openers)
{
	struct mw_sessions *s;

	cr_assert_eq(mw_sessions_new(&s, 16), 0);
	cr_assert_eq(mw_sessions_opened(s, "srv", "S1", alice), 0);
	cr_assert_eq(use(s, "srv", "S1", alice), MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "S1", alice_elsewhere), MW_SESSION_OTHERS);
	cr_assert_eq(use(s, "srv", "S1", bob), MW_SESSION_OTHERS);
	/* the same id at another server is another session */
	cr_assert_eq(use(s, "other", "S1", bob), MW_SESSION_CLAIMED);
	cr_assert_eq(use(s, "other", "S1", alice), MW_SESSION_OTHERS);
	/* the server and the id are not joined ambiguously */
	cr_assert_eq(use(s, "srvS", "1", bob), MW_SESSION_CLAIMED);
	/* the server opening it again gives it to the new opener */
	cr_assert_eq(mw_sessions_opened(s, "srv", "S1", bob), 0);
	cr_assert_eq(use(s, "srv", "S1", bob), MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "S1", alice), MW_SESSION_OTHERS);
	cr_assert_eq(mw_sessions_count(s), 3);
	mw_sessions_free(s);
}

/*
 * Full: the session idle longest is forgotten (its next user claims it);
 * being named by another identity does not keep a session alive.
 */
Test(sessions, the_session_idle_longest_is_forgotten_for_room)
{
	struct mw_sessions *s;
	char sid[16];

	cr_assert_eq(mw_sessions_new(&s, 4), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(sid, sizeof(sid), "S%d", i);
		cr_assert_eq(mw_sessions_opened(s, "srv", sid, alice), 0);
	}
	/* S0 used by its owner, S1 named by another: S1 is now the idlest */
	cr_assert_eq(use(s, "srv", "S0", alice), MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "S1", bob), MW_SESSION_OTHERS);
	cr_assert_eq(mw_sessions_opened(s, "srv", "S4", alice), 0);
	cr_assert_eq(mw_sessions_count(s), 4);
	cr_assert_eq(use(s, "srv", "S0", bob), MW_SESSION_OTHERS);
	cr_assert_eq(use(s, "srv", "S1", bob), MW_SESSION_CLAIMED);
	mw_sessions_free(s);
}
