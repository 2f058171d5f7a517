// SPDX-License-Identifier: BSD-2-Clause
#include "spool_sync.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct mw_spool_sync {
	struct mw_spool *spool;
	struct mw_loop *loop;
	struct mw_io io; /* the eventfd: an append is over */
	bool io_added;
	void (*done)(void *arg, int rc);
	void *arg;

	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	bool stop, have_work, finished;
	int rc;

	/* the caller's bytes, unchanged from submit until done runs */
	const char *data;
	size_t len;
	bool busy; /* the loop's: submitted, done not run yet */
	/* freed: the struct waits for the end of the loop's batch, which
	 * may still name its eventfd */
	bool freed;
	struct mw_deferred dfr;
};

/*
 * The mutex is never held across a wake-up: a thread woken while its
 * waker still holds the lock sleeps again on the lock, two more futex
 * calls and a context switch on the path every durable request waits on.
 */
static void *sync_main(void *arg)
{
	struct mw_spool_sync *s = arg;
	uint64_t one = 1;

	for (;;) {
		int rc;

		pthread_mutex_lock(&s->mu);
		while (!s->have_work && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->have_work) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		pthread_mutex_unlock(&s->mu);
		rc = mw_spool_append(s->spool, s->data, s->len);
		pthread_mutex_lock(&s->mu);
		s->rc = rc;
		s->have_work = false;
		s->finished = true;
		pthread_mutex_unlock(&s->mu);
		/* for mw_spool_sync_wait, and the loop's eventfd (a write
		 * cannot fail short of a bad fd; settle runs once either way) */
		pthread_cond_broadcast(&s->cv);
		if (write(s->io.fd, &one, sizeof(one)) < 0)
			log_err("spool: eventfd: %s", strerror(errno));
	}
	return NULL;
}

/* The append is over: done runs (from the loop). */
static void settle(struct mw_spool_sync *s)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if (!s->finished) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	s->finished = false;
	rc = s->rc;
	pthread_mutex_unlock(&s->mu);
	s->busy = false;
	s->done(s->arg, rc);
}

static void on_io(struct mw_io *io, uint32_t events)
{
	struct mw_spool_sync *s = container_of(io, struct mw_spool_sync, io);
	uint64_t n;

	(void)events;
	if (s->freed)
		return;
	if (read(io->fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_debug("spool: eventfd: %s", strerror(errno));
	settle(s);
}

int mw_spool_sync_new(struct mw_spool_sync **out, struct mw_spool *spool,
		      struct mw_loop *loop, void (*done)(void *arg, int rc),
		      void *arg)
{
	struct mw_spool_sync *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->spool = spool;
	s->loop = loop;
	s->done = done;
	s->arg = arg;
	s->io.cb = on_io;
	s->io.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->io.fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = mw_loop_add(loop, &s->io, EPOLLIN);
	if (rc)
		goto fail;
	s->io_added = true;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	*out = s;
	return 0;
fail:
	if (s->io.fd >= 0)
		close(s->io.fd);
	free(s);
	return rc;
}

int mw_spool_sync_submit(struct mw_spool_sync *s, const void *data, size_t n)
{
	int rc;

	if (s->busy)
		return -EBUSY;
	if (!s->started) {
		rc = pthread_create(&s->thread, NULL, sync_main, s);
		if (rc)
			return -rc;
		s->started = true;
	}
	s->data = data;
	s->len = n;
	s->busy = true;
	pthread_mutex_lock(&s->mu);
	s->have_work = true;
	pthread_mutex_unlock(&s->mu);
	pthread_cond_signal(&s->cv);
	return 0;
}

bool mw_spool_sync_busy(const struct mw_spool_sync *s)
{
	return s && s->busy;
}

void mw_spool_sync_wait(struct mw_spool_sync *s)
{
	if (!s || !s->busy)
		return;
	pthread_mutex_lock(&s->mu);
	while (!s->finished)
		pthread_cond_wait(&s->cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
	settle(s);
}

static void free_later(struct mw_deferred *d)
{
	free(container_of(d, struct mw_spool_sync, dfr));
}

void mw_spool_sync_free(struct mw_spool_sync *s)
{
	if (!s)
		return;
	mw_spool_sync_wait(s);
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_mutex_unlock(&s->mu);
		pthread_cond_signal(&s->cv);
		pthread_join(s->thread, NULL);
	}
	if (s->io_added)
		mw_loop_del(s->loop, &s->io);
	close(s->io.fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	s->data = NULL;
	s->freed = true;
	/* mw_audit_close may run from a loop callback (audit.h) */
	s->dfr.cb = free_later;
	mw_loop_defer(s->loop, &s->dfr);
}
