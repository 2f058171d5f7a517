// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include "spin.h"

/*
 * Drives the policy as the event loop does, with peers whose next event
 * comes gap_us after each batch. Returns how many batches opened a window;
 * *polled_us is the time spent polling (what a window costs the peers).
 */
static int drive(struct mw_spin *s, int batches, int64_t (*gap_us)(int i),
		 int64_t *now, int64_t *polled_us)
{
	int opened = 0;

	*polled_us = 0;
	for (int i = 0; i < batches; i++) {
		int64_t next = *now + gap_us(i);
		bool polled = mw_spin_polling(s);

		if (polled) {
			opened++;
			if (next >= s->until_us) {
				/* the window runs out empty, then the loop
				 * sleeps until the event */
				*polled_us += s->until_us - *now;
				*now = s->until_us;
				mw_spin_after_wait(s, 0, true, *now);
				cr_assert_not(mw_spin_polling(s));
				polled = false;
			} else {
				*polled_us += next - *now;
			}
		}
		*now = next;
		mw_spin_after_wait(s, 1, polled, *now);
	}
	return opened;
}

/* A loop with the given window that has just handled its first batch. */
static void started(struct mw_spin *s, unsigned window_us, int64_t *now)
{
	*now = 1000000;
	mw_spin_init(s, window_us);
	mw_spin_after_wait(s, 1, false, *now);
}

static int64_t fast(int i)
{
	(void)i;
	return 20;
}

static int64_t slow(int i)
{
	(void)i;
	return 400;
}

/* a real MCP server: the client's next request comes at once, the
 * server's answer after hundreds of microseconds */
static int64_t alternating(int i)
{
	return i % 2 ? 400 : 20;
}

Test(spin, fast_peers_are_polled_for_after_every_batch)
{
	struct mw_spin s;
	int64_t now, polled;

	started(&s, 50, &now);
	cr_assert_eq(drive(&s, 1000, fast, &now, &polled), 1000);
	cr_assert_eq(polled, 1000 * 20, "only until each event came");
	cr_assert_eq(s.caught, 1000);
	cr_assert_eq(s.windows, 1001, "and one open now");
}

Test(spin, slow_peers_stop_the_polling)
{
	struct mw_spin s;
	int64_t now, polled;
	int opened;

	started(&s, 50, &now);
	opened = drive(&s, 100 * MW_SPIN_PROBE_EVERY, slow, &now, &polled);
	/* nine empty windows bring the history under 24 of 32; then one
	 * batch in MW_SPIN_PROBE_EVERY still looks */
	cr_assert_leq(opened, 32 - MW_SPIN_HITS_TO_SPIN + 1 + 100 + 1,
		      "%d windows", opened);
	cr_assert_eq(polled, opened * 50);
	/* once settled, one window per MW_SPIN_PROBE_EVERY batches */
	opened = drive(&s, 100 * MW_SPIN_PROBE_EVERY, slow, &now, &polled);
	cr_assert_eq(opened, 100, "%d windows", opened);
	cr_assert_eq(s.caught, 0);
}

Test(spin, a_slow_server_between_fast_requests_stops_it_too)
{
	struct mw_spin s;
	int64_t now, polled;
	int opened;

	started(&s, 50, &now);
	drive(&s, 1000, alternating, &now, &polled);
	opened = drive(&s, 100 * MW_SPIN_PROBE_EVERY, alternating, &now,
		       &polled);
	cr_assert_leq(opened, 100 + 1, "%d windows", opened);
}

Test(spin, peers_that_turn_fast_are_polled_for_again)
{
	struct mw_spin s;
	int64_t now, polled;
	int opened;

	started(&s, 50, &now);
	drive(&s, 1000, slow, &now, &polled);
	/* 24 probes that catch their event */
	drive(&s, (MW_SPIN_HITS_TO_SPIN + 1) * MW_SPIN_PROBE_EVERY, fast, &now,
	      &polled);
	opened = drive(&s, 100, fast, &now, &polled);
	cr_assert_eq(opened, 100);
}

Test(spin, a_window_that_ran_out_before_its_poll_is_still_polled_once)
{
	struct mw_spin s;
	int64_t now;

	started(&s, 50, &now);
	/* the daemon was preempted past the window's end */
	now += 200;
	cr_assert(mw_spin_polling(&s));
	mw_spin_after_wait(&s, 0, true, now);
	cr_assert_not(mw_spin_polling(&s));
	cr_assert_eq(s.windows, 1);
	cr_assert_eq(s.caught, 0);
	cr_assert_eq(s.history, UINT32_MAX << 1, "counted as a miss");
}

Test(spin, a_zero_window_never_polls)
{
	struct mw_spin s;
	int64_t now, polled;

	started(&s, 0, &now);
	cr_assert_eq(drive(&s, 1000, fast, &now, &polled), 0);
	cr_assert_eq(polled, 0);
}
