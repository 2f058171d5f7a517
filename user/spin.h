/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * When the event loop polls instead of sleeping: a short window after each
 * batch, kept only while such windows catch events (see spin.c).
 */
#ifndef MW_SPIN_H
#define MW_SPIN_H

#include <stdbool.h>
#include <stdint.h>

/* Of the last 32 windows, how many must have caught an event to go on. */
#define MW_SPIN_HITS_TO_SPIN 24
/* While not polling, one batch in this many still opens a window. */
#define MW_SPIN_PROBE_EVERY 64

struct mw_spin {
	int64_t window_us; /* 0: never poll */
	int64_t until_us; /* polling without sleeping until then; 0: not */
	uint32_t history; /* the last 32 windows, bit set: caught an event */
	unsigned since_probe;
	uint64_t windows; /* opened, since the start */
	uint64_t caught; /* of those, windows an event came in */
};

void mw_spin_init(struct mw_spin *s, unsigned window_us);
/* Whether the next wait should poll (a zero timeout): a window is open.
 * A window that ran out before its first poll still gets that poll, so
 * that each window ends as one catch or one miss. */
bool mw_spin_polling(const struct mw_spin *s);
/* After a wait returned n events (polled: it had a zero timeout) and the
 * batch was handled, at now_us. */
void mw_spin_after_wait(struct mw_spin *s, int n, bool polled, int64_t now_us);

#endif
