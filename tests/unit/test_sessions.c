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

static void opened(struct mw_sessions *s, const char *sid,
		   struct mw_session_owner o)
{
	cr_assert_eq(mw_sessions_opened(s, "srv", sid, o), 0);
}

/* A session is its opener's: the same user in another cgroup is another
 * identity, and so is another user in the same cgroup. */
Test(sessions, a_session_is_its_openers)
{
	struct mw_sessions *s;

	cr_assert_eq(mw_sessions_new(&s, 1024), 0);
	opened(s, "S1", alice);
	cr_assert_eq(use(s, "srv", "S1", alice), MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "S1", alice_elsewhere), MW_SESSION_OTHERS);
	cr_assert_eq(use(s, "srv", "S1", bob), MW_SESSION_OTHERS);
	/* the same id at another server is another session */
	cr_assert_eq(use(s, "other", "S1", bob), MW_SESSION_CLAIMED);
	cr_assert_eq(use(s, "other", "S1", alice), MW_SESSION_OTHERS);
	/* the server and the id are not joined ambiguously */
	cr_assert_eq(use(s, "srvS", "1", bob), MW_SESSION_CLAIMED);
	/* the server opening it again gives it to the new opener */
	opened(s, "S1", bob);
	cr_assert_eq(use(s, "srv", "S1", bob), MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "S1", alice), MW_SESSION_OTHERS);
	/* a claimed session the server opens goes to the opener */
	cr_assert_eq(mw_sessions_opened(s, "other", "S1", alice), 0);
	cr_assert_eq(use(s, "other", "S1", alice), MW_SESSION_OWN);
	cr_assert_eq(mw_sessions_count(s), 3);
	mw_sessions_free(s);
}

/*
 * Names cost a client nothing: a flood of made-up ones never pushes out
 * a session the daemon saw opened, nor does one user opening many push
 * out another's; its own oldest go.
 */
Test(sessions, no_user_pushes_out_another_users_session)
{
	struct mw_sessions *s;
	char sid[32];

	/* 64 opened (8 a user), 16 claimed (2 a user) */
	cr_assert_eq(mw_sessions_new(&s, 64), 0);
	opened(s, "A", alice);
	for (int i = 0; i < 10000; i++) {
		snprintf(sid, sizeof(sid), "junk-%d", i);
		cr_assert_eq(use(s, "srv", sid, bob), MW_SESSION_CLAIMED);
	}
	cr_assert_eq(use(s, "srv", "A", bob), MW_SESSION_OTHERS);
	for (int i = 0; i < 10000; i++) {
		snprintf(sid, sizeof(sid), "bob-%d", i);
		opened(s, sid, bob);
	}
	cr_assert_eq(use(s, "srv", "A", bob), MW_SESSION_OTHERS);
	cr_assert_eq(use(s, "srv", "A", alice), MW_SESSION_OWN);
	/* bob keeps his newest 8 opened and 2 claimed */
	cr_assert_eq(mw_sessions_count(s), 1 + 8 + 2);
	cr_assert_eq(use(s, "srv", "bob-9999", bob), MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "bob-0", alice), MW_SESSION_CLAIMED);
	mw_sessions_free(s);
}

/* Full, every user within its share: the session idle longest goes; being
 * named by another identity keeps none alive. */
Test(sessions, the_session_idle_longest_is_forgotten_for_room)
{
	struct mw_sessions *s;
	char sid[32];

	cr_assert_eq(mw_sessions_new(&s, 64), 0);
	for (uint32_t u = 0; u < 8; u++)
		for (int i = 0; i < 8; i++) {
			struct mw_session_owner o = { .uid = 2000 + u };

			snprintf(sid, sizeof(sid), "u%u-%d", u, i);
			opened(s, sid, o);
		}
	/* u0-0 used by its owner, u0-1 named by another: u0-1 is idlest */
	cr_assert_eq(
		use(s, "srv", "u0-0", (struct mw_session_owner){ .uid = 2000 }),
		MW_SESSION_OWN);
	cr_assert_eq(use(s, "srv", "u0-1", bob), MW_SESSION_OTHERS);
	opened(s, "new", alice);
	cr_assert_eq(mw_sessions_count(s), 64);
	cr_assert_eq(use(s, "srv", "u0-0", bob), MW_SESSION_OTHERS);
	cr_assert_eq(use(s, "srv", "u0-1", bob), MW_SESSION_CLAIMED);
	mw_sessions_free(s);
}
