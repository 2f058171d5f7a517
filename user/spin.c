// SPDX-License-Identifier: BSD-2-Clause
/*
 * Busy polling. On a VM, waking a thread blocked in epoll_wait costs tens
 * of microseconds (an interrupt to the idle core, then a context switch):
 * more than the proxy's own work on a small exchange, and paid twice per
 * exchange, once for the upstream's answer and once for the client's next
 * request. When those come back within a few tens of microseconds, polling
 * for that long catches them without sleeping.
 *
 * A window that runs out empty is CPU taken from the peers, which on a
 * small host share the daemon's cores. So the loop keeps opening windows
 * only while most recent ones caught something. Against a real MCP server
 * (hundreds of microseconds per answer) or an agent that thinks for
 * seconds, windows miss, and the loop sleeps again, opening a window in
 * only one batch out of MW_SPIN_PROBE_EVERY so that it notices when its
 * peers turn fast. Those probes are kept rare: on a small host even a
 * few windows per second take a core from a peer that needs it (the
 * reference server at one connection moved by 0.72-1.07x in runs with a
 * probe every 16 batches, 0.95x with none).
 */
#include "spin.h"

void mw_spin_init(struct mw_spin *s, unsigned window_us)
{
	*s = (struct mw_spin){ .window_us = window_us, .history = UINT32_MAX };
}

bool mw_spin_polling(const struct mw_spin *s)
{
	return s->until_us != 0;
}

static bool window_worth_opening(struct mw_spin *s)
{
	if (!s->window_us)
		return false;
	if (__builtin_popcount(s->history) >= MW_SPIN_HITS_TO_SPIN)
		return true;
	if (++s->since_probe < MW_SPIN_PROBE_EVERY)
		return false;
	s->since_probe = 0;
	return true;
}

void mw_spin_after_wait(struct mw_spin *s, int n, bool polled, int64_t now_us)
{
	if (n > 0) {
		if (polled) {
			s->history = s->history << 1 | 1;
			s->caught++;
		}
		s->until_us = 0;
		if (window_worth_opening(s)) {
			s->until_us = now_us + s->window_us;
			s->windows++;
		}
	} else if (polled && now_us >= s->until_us) {
		s->history <<= 1;
		s->until_us = 0;
	}
}
