// SPDX-License-Identifier: BSD-2-Clause
#include "loop.h"
#include "buf.h"
#include "spin.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define MW_TICK_MS 100

struct mw_loop {
	int epfd;
	int stop;
	int64_t last_tick;
	struct mw_spin spin;
	struct mw_tick *ticks;
	struct mw_deferred *deferred;
	struct mw_buf_cache bufs;
};

static void run_deferred(struct mw_loop *l);

static int64_t now_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t mw_now_ms(void)
{
	return now_monotonic_us() / 1000;
}

int64_t mw_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int mw_loop_new(struct mw_loop **out)
{
	struct mw_loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = -errno;

		free(l);
		return e;
	}
	l->last_tick = mw_now_ms();
	*out = l;
	return 0;
}

void mw_loop_free(struct mw_loop *l)
{
	if (!l)
		return;
	run_deferred(l);
	mw_buf_cache_drain(&l->bufs);
	close(l->epfd);
	free(l);
}

struct mw_buf_cache *mw_loop_buf_cache(struct mw_loop *l)
{
	return &l->bufs;
}

int mw_loop_add(struct mw_loop *l, struct mw_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, io->fd, &ev) ? -errno : 0;
}

int mw_loop_mod(struct mw_loop *l, struct mw_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) ? -errno : 0;
}

void mw_loop_del(struct mw_loop *l, struct mw_io *io)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
}

void mw_loop_add_tick(struct mw_loop *l, struct mw_tick *t)
{
	t->next = l->ticks;
	l->ticks = t;
}

void mw_loop_del_tick(struct mw_loop *l, struct mw_tick *t)
{
	for (struct mw_tick **p = &l->ticks; *p; p = &(*p)->next) {
		if (*p == t) {
			*p = t->next;
			return;
		}
	}
}

void mw_loop_defer(struct mw_loop *l, struct mw_deferred *d)
{
	d->next = l->deferred;
	l->deferred = d;
}

static void run_deferred(struct mw_loop *l)
{
	while (l->deferred) {
		struct mw_deferred *d = l->deferred;

		l->deferred = d->next;
		d->cb(d);
	}
}

void mw_loop_stop(struct mw_loop *l)
{
	l->stop = 1;
}

static void run_ticks(struct mw_loop *l)
{
	int64_t now = mw_now_ms();

	if (now - l->last_tick < MW_TICK_MS)
		return;
	l->last_tick = now;
	for (struct mw_tick *t = l->ticks; t; t = t->next)
		t->cb(t, now);
}

void mw_loop_set_busy_poll(struct mw_loop *l, unsigned window_us)
{
	mw_spin_init(&l->spin, window_us);
}

const struct mw_spin *mw_loop_busy_poll(const struct mw_loop *l)
{
	return &l->spin;
}

int mw_loop_run(struct mw_loop *l)
{
	struct epoll_event evs[64];

	l->stop = 0;
	while (!l->stop) {
		bool polled = mw_spin_polling(&l->spin);
		int n = epoll_wait(l->epfd, evs, 64, polled ? 0 : MW_TICK_MS);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n; i++) {
			struct mw_io *io = evs[i].data.ptr;

			io->cb(io, evs[i].events);
		}
		run_deferred(l);
		run_ticks(l);
		run_deferred(l);
		if (l->spin.window_us)
			mw_spin_after_wait(&l->spin, n, polled,
					   now_monotonic_us());
	}
	return 0;
}
