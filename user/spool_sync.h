/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Appends to the spool (spool.h) on a thread of its own, so that the event
 * loop goes on serving while the disk flushes: an fdatasync costs a few
 * hundred microseconds, which the loop would otherwise spend blocked, with
 * every connection waiting behind it.
 *
 * One append is in flight at a time: the loop hands over the bytes (not a
 * copy: they may be an outage's backlog, which a copy would double), the
 * thread runs mw_spool_append on them, and done(arg, rc) runs from the
 * loop once it is over (an eventfd wakes it). While an
 * append is in flight the loop must not touch the spool in any other way.
 * The thread touches nothing but the spool file and this handoff.
 *
 * The thread is started by the first submit, from the loop: after the
 * daemon dropped its privileges (capabilities are per thread, and a
 * thread created before the drop would keep them).
 */
#ifndef MW_SPOOL_SYNC_H
#define MW_SPOOL_SYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"
#include "spool.h"

struct mw_spool_sync;

/* 0 or -errno (the eventfd cannot be made or watched). */
int mw_spool_sync_new(struct mw_spool_sync **out, struct mw_spool *spool,
		      struct mw_loop *loop, void (*done)(void *arg, int rc),
		      void *arg);

/*
 * Hands n bytes (whole lines, as mw_spool_append takes them) to the
 * thread; they must stay as they are until done has run. 0: in flight,
 * done will run; -EBUSY: one is in flight already; or -errno when the
 * thread cannot be started (the caller may append inline instead).
 */
int mw_spool_sync_submit(struct mw_spool_sync *s, const void *data, size_t n);

/* An append is in flight (done has not run yet). */
bool mw_spool_sync_busy(const struct mw_spool_sync *s);

/* Waits for the append in flight, if any, and runs its done now. */
void mw_spool_sync_wait(struct mw_spool_sync *s);

/* Waits (mw_spool_sync_wait), stops the thread, frees. */
void mw_spool_sync_free(struct mw_spool_sync *s);

#endif
