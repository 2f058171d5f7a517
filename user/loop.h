/* SPDX-License-Identifier: BSD-2-Clause */
/* A single-threaded epoll loop with a coarse periodic tick for timeouts. */
#ifndef MW_LOOP_H
#define MW_LOOP_H

#include <stddef.h>
#include <stdint.h>

/* The owner of an embedded struct mw_io (or mw_tick, ...), from it. */
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct mw_loop;
struct mw_spin;
struct mw_buf_cache;

/* Embedded in the owner of an fd; the loop calls cb(handler, epoll events). */
struct mw_io {
	void (*cb)(struct mw_io *io, uint32_t events);
	int fd;
};

struct mw_tick {
	void (*cb)(struct mw_tick *t, int64_t now_ms);
	struct mw_tick *next;
};

/* Runs once after the current batch of events: frees what a batch may
 * still reference. */
struct mw_deferred {
	void (*cb)(struct mw_deferred *d);
	struct mw_deferred *next;
};

int mw_loop_new(struct mw_loop **out);
void mw_loop_defer(struct mw_loop *l, struct mw_deferred *d);
void mw_loop_free(struct mw_loop *l);
/*
 * Buffer blocks for what lives on the loop: they outlast whatever a
 * deferred callback frees, and are freed with the loop.
 */
struct mw_buf_cache *mw_loop_buf_cache(struct mw_loop *l);
int mw_loop_add(struct mw_loop *l, struct mw_io *io, uint32_t events);
int mw_loop_mod(struct mw_loop *l, struct mw_io *io, uint32_t events);
void mw_loop_del(struct mw_loop *l, struct mw_io *io);
/* Ticks run about every 100 ms. Whoever frees a tick takes it off first:
 * the list is walked by every removal. */
void mw_loop_add_tick(struct mw_loop *l, struct mw_tick *t);
/* Not from within a tick callback: run_ticks is walking the list. */
void mw_loop_del_tick(struct mw_loop *l, struct mw_tick *t);
/* Poll for up to window_us after a batch before sleeping (0: never). */
void mw_loop_set_busy_poll(struct mw_loop *l, unsigned window_us);
const struct mw_spin *mw_loop_busy_poll(const struct mw_loop *l);
/* Runs until mw_loop_stop; returns 0 or -errno. */
int mw_loop_run(struct mw_loop *l);
void mw_loop_stop(struct mw_loop *l);
int64_t mw_now_ms(void);
int64_t mw_now_us(void); /* CLOCK_REALTIME, for timestamps */

#endif
