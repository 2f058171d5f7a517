// SPDX-License-Identifier: BSD-2-Clause
#include "cgwatch.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "intents.h"
#include "log.h"

/*
 * The safety net: how often every intent is looked at without a reason
 * (one stat() each), and how often the links of removed cgroups are
 * looked for then (a walk of every pinned link).
 */
#define CGWATCH_RECHECK_MS 1000
#define CGWATCH_DEFUNCT_MS 10000

#define WATCH_MASK                                             \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct mw_cgwatch {
	struct mw_io io; /* the inotify descriptor */
	struct mw_tick tick;
	struct mw_loop *loop;
	struct mw_bpf *bpf;
	struct mw_intents in;
	mw_cgwatch_note note;
	void *note_arg;
	int64_t last_check_ms, last_defunct_ms;
	char mnt[PATH_MAX]; /* the cgroup v2 mount's real path */
};

static void save(struct mw_cgwatch *w)
{
	char err[512];

	if (mw_intents_save(&w->in, err, sizeof(err)))
		log_err("cannot save the cgroups enforced by path: %s: a "
			"restart of the daemon would not know them",
			err);
}

/* ---- watches ---- */

static bool wd_used(const struct mw_cgwatch *w, int wd, size_t except)
{
	for (size_t i = 0; i < w->in.n; i++)
		if (i != except && w->in.v[i].wd == wd)
			return true;
	return false;
}

static void unwatch(struct mw_cgwatch *w, size_t i)
{
	struct mw_intent *it = &w->in.v[i];

	if (it->wd >= 0 && !wd_used(w, it->wd, i))
		inotify_rm_watch(w->io.fd, it->wd);
	it->wd = -1;
	it->watch_dir[0] = '\0';
}

/*
 * Watches the directory above the intent's cgroup, or the nearest one
 * that exists when whole levels are gone (a slice removed with its
 * unit): a name made or removed there is what can bring the cgroup back.
 * The root cgroup is never removed: not watched.
 */
static void watch(struct mw_cgwatch *w, size_t i)
{
	struct mw_intent *it = &w->in.v[i];
	size_t mlen = strlen(w->mnt);
	char dir[PATH_MAX];
	char *slash;
	int wd;

	snprintf(dir, sizeof(dir), "%s", it->path);
	for (;;) {
		slash = strrchr(dir, '/');
		if (!slash || (size_t)(slash - dir) < mlen) {
			unwatch(w, i);
			return;
		}
		*slash = '\0';
		if (access(dir, F_OK) == 0)
			break;
	}
	if (it->wd >= 0 && !strcmp(it->watch_dir, dir))
		return;
	wd = inotify_add_watch(w->io.fd, dir, WATCH_MASK);
	if (wd < 0) {
		/* the re-check still looks every second */
		log_warn("cannot watch %s for %s: %s", dir, it->path,
			 strerror(errno));
		unwatch(w, i);
		return;
	}
	if (it->wd >= 0 && it->wd != wd && !wd_used(w, it->wd, i))
		inotify_rm_watch(w->io.fd, it->wd);
	it->wd = wd;
	snprintf(it->watch_dir, sizeof(it->watch_dir), "%s", dir);
}

/* ---- looking ---- */

static void gone(struct mw_intent *it)
{
	if (it->state == MW_INTENT_WAITING)
		return;
	it->state = MW_INTENT_WAITING;
	log_err("ALERT (AC-3): the enforced cgroup %s is gone (id %" PRIu64
		"): enforcement waits for it, and is carried out again as "
		"soon as it is made again",
		it->path, it->id);
}

/*
 * Whether the intent is as the last look left it: the same cgroup there
 * (or none, or the one refused). A cheap look for the periodic re-check.
 */
static bool unchanged(const struct mw_intent *it)
{
	struct stat st;
	uint64_t id = 0;

	if (stat(it->path, &st) == 0)
		id = (uint64_t)st.st_ino;
	else if (errno != ENOENT)
		return false;
	switch (it->state) {
	case MW_INTENT_ENFORCED:
		return id && id == it->id;
	case MW_INTENT_WAITING:
		return !id;
	case MW_INTENT_REFUSED:
		return id && id == it->refused_id;
	}
	return false;
}

static void check_one(struct mw_cgwatch *w, size_t i, bool full)
{
	struct mw_intent *it = &w->in.v[i];
	char abs[PATH_MAX], err[512], detail[PATH_MAX + 800];
	uint64_t id, old = it->id, new_id = 0;
	int64_t t0;
	int r;

	if (!full && unchanged(it))
		return;
	r = mw_cgroup_resolve(it->path, abs, sizeof(abs), err, sizeof(err));
	if (r == -ENOENT) {
		gone(it);
		return;
	}
	if (r || mw_cgroup_id(abs, &id))
		return; /* looked at again at the next check */
	if (id == it->id && mw_bpf_is_enforced(w->bpf, id) == 1) {
		it->state = MW_INTENT_ENFORCED;
		return;
	}
	/* said once per cgroup: the next one made there is tried again */
	if (it->state == MW_INTENT_REFUSED && it->refused_id == id)
		return;
	t0 = mw_now_us();
	if (mw_bpf_enforce(w->bpf, it->path, &new_id, err, sizeof(err))) {
		it->state = MW_INTENT_REFUSED;
		it->refused_id = id;
		snprintf(it->why, sizeof(it->why), "%s", err);
		snprintf(detail, sizeof(detail),
			 "enforce %s again (the cgroup was made again, id "
			 "%" PRIu64 ", was %" PRIu64 ") failed: %s",
			 it->path, id, old, err);
		log_err("ALERT (AC-3): %s", detail);
		if (w->note)
			w->note(w->note_arg, it->path, "error", detail);
		return;
	}
	it->id = new_id;
	it->state = MW_INTENT_ENFORCED;
	it->refused_id = 0;
	it->why[0] = '\0';
	save(w);
	if (new_id == old)
		snprintf(detail, sizeof(detail),
			 "enforce %s again (id %" PRIu64
			 "): its links were missing",
			 it->path, new_id);
	else
		snprintf(detail, sizeof(detail),
			 "enforce %s again: the cgroup was made again (id "
			 "%" PRIu64 ", was %" PRIu64 ")",
			 it->path, new_id, old);
	log_warn("%s: enforced again in %lld us", detail,
		 (long long)(mw_now_us() - t0));
	if (w->note)
		w->note(w->note_arg, it->path, "allow", detail);
}

/* full: every intent looked at whole (its links too), and removed
 * cgroups' links dropped; otherwise only those that changed. */
static void check(struct mw_cgwatch *w, bool full)
{
	int64_t now = mw_now_ms();
	int r;

	w->last_check_ms = now;
	/* watch first: what changes after the look wakes the loop again */
	for (size_t i = 0; i < w->in.n; i++) {
		watch(w, i);
		check_one(w, i, full);
	}
	if (!full && now - w->last_defunct_ms < CGWATCH_DEFUNCT_MS)
		return;
	w->last_defunct_ms = now;
	r = mw_bpf_drop_defunct(w->bpf);
	if (r < 0)
		log_warn("cannot drop the links of removed cgroups: %s",
			 strerror(-r));
}

void mw_cgwatch_check(struct mw_cgwatch *w)
{
	check(w, true);
}

/* Whether the event names the next component of an intent's path. */
static bool relevant(const struct mw_cgwatch *w, const struct inotify_event *ev)
{
	if (ev->mask &
	    (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
		return true;
	if (!ev->len)
		return false;
	for (size_t i = 0; i < w->in.n; i++) {
		const struct mw_intent *it = &w->in.v[i];
		size_t dl = strlen(it->watch_dir), nl;
		const char *next;

		if (it->wd != ev->wd || strncmp(it->path, it->watch_dir, dl) ||
		    it->path[dl] != '/')
			continue;
		next = it->path + dl + 1;
		nl = strcspn(next, "/");
		if (nl == strlen(ev->name) && !strncmp(next, ev->name, nl))
			return true;
	}
	return false;
}

static void on_readable(struct mw_io *io, uint32_t events)
{
	struct mw_cgwatch *w = container_of(io, struct mw_cgwatch, io);
	char buf[16384]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool look = false;

	(void)events;
	/* bounded: a flood of cgroups made elsewhere is read over turns */
	for (int turn = 0; turn < 64; turn++) {
		ssize_t n = read(io->fd, buf, sizeof(buf));

		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & IN_IGNORED)
				for (size_t i = 0; i < w->in.n; i++)
					if (w->in.v[i].wd == ev->wd)
						w->in.v[i].wd = -1;
			look |= relevant(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (look)
		mw_cgwatch_check(w);
}

static void on_tick(struct mw_tick *t, int64_t now_ms)
{
	struct mw_cgwatch *w = container_of(t, struct mw_cgwatch, tick);

	if (now_ms - w->last_check_ms >= CGWATCH_RECHECK_MS)
		check(w, false);
}

/* ---- open / close ---- */

/* A cgroup enforced by a version that did not remember paths. */
static int adopt(void *arg, uint64_t id, const char *path)
{
	struct mw_cgwatch *w = arg;
	int r;

	if (!path[0] || mw_intents_find(&w->in, path))
		return 0;
	r = mw_intents_set(&w->in, path, id);
	if (r)
		log_warn("cannot remember %s by path: %s", path, strerror(-r));
	else
		log_info("remembering the enforced cgroup %s by path", path);
	return r == 0 ? 1 : 0;
}

struct adopt_ctx {
	struct mw_cgwatch *w;
	size_t added;
};

static int adopt_cb(void *arg, uint64_t id, const char *path)
{
	struct adopt_ctx *c = arg;

	c->added += (size_t)adopt(c->w, id, path);
	return 0;
}

int mw_cgwatch_open(struct mw_cgwatch **out, struct mw_loop *loop,
		    struct mw_bpf *bpf, const char *state_dir,
		    mw_cgwatch_note note, void *note_arg, char *err,
		    size_t errlen)
{
	struct mw_cgwatch *w = calloc(1, sizeof(*w));
	struct adopt_ctx ac = { .w = w };
	const char *mnt = mw_cgroup2_mount();
	int r;

	*out = NULL;
	if (!w) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	w->io.fd = -1;
	if (!mnt || !realpath(mnt, w->mnt)) {
		mw_set_err(err, errlen, "cgroup v2 mount: %s",
			   mnt ? strerror(errno) : "not mounted");
		goto fail;
	}
	if (mw_intents_load(&w->in, state_dir, err, errlen))
		goto fail;
	w->loop = loop;
	w->bpf = bpf;
	w->note = note;
	w->note_arg = note_arg;
	w->io.cb = on_readable;
	w->io.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->io.fd < 0) {
		mw_set_err(err, errlen, "inotify: %s", strerror(errno));
		goto fail;
	}
	r = mw_loop_add(loop, &w->io, EPOLLIN);
	if (r) {
		mw_set_err(err, errlen, "inotify: %s", strerror(-r));
		goto fail;
	}
	mw_bpf_for_each_enforced(bpf, adopt_cb, &ac);
	if (ac.added && mw_intents_save(&w->in, err, errlen)) {
		mw_loop_del(loop, &w->io);
		goto fail;
	}
	mw_cgwatch_check(w);
	w->tick.cb = on_tick;
	mw_loop_add_tick(loop, &w->tick);
	*out = w;
	return 0;
fail:
	if (w->io.fd >= 0)
		close(w->io.fd);
	mw_intents_free(&w->in);
	free(w);
	return -1;
}

void mw_cgwatch_close(struct mw_cgwatch *w)
{
	if (!w)
		return;
	mw_loop_del_tick(w->loop, &w->tick);
	mw_loop_del(w->loop, &w->io);
	close(w->io.fd);
	mw_intents_free(&w->in);
	free(w);
}

/* ---- what the commands change ---- */

int mw_cgwatch_enforced(struct mw_cgwatch *w, const char *path, uint64_t id,
			char *err, size_t errlen)
{
	struct mw_intent *it = mw_intents_find(&w->in, path);
	int r;

	if (it && it->id == id && it->state == MW_INTENT_ENFORCED)
		return 0;
	r = mw_intents_set(&w->in, path, id);
	if (r) {
		mw_set_err(err, errlen, "cannot remember %s by path: %s", path,
			   strerror(-r));
		return -1;
	}
	watch(w, (size_t)(mw_intents_find(&w->in, path) - w->in.v));
	return mw_intents_save(&w->in, err, errlen);
}

int mw_cgwatch_waiting(struct mw_cgwatch *w, const char *path, uint64_t *id)
{
	struct mw_intent *it = mw_intents_find(&w->in, path);

	if (!it || it->state != MW_INTENT_WAITING)
		return 0;
	*id = it->id;
	return 1;
}

int mw_cgwatch_forget(struct mw_cgwatch *w, const char *path, char *err,
		      size_t errlen)
{
	struct mw_intent *it = mw_intents_find(&w->in, path);
	struct mw_intent saved;

	if (!it)
		return 0;
	saved = *it;
	unwatch(w, (size_t)(it - w->in.v));
	mw_intents_remove(&w->in, path);
	if (mw_intents_save(&w->in, err, errlen) == 0)
		return 1;
	/* not forgotten on disk: not in memory either, as it was (a waiting
	 * or refused intent stays so, with no alert again) */
	if (mw_intents_set(&w->in, saved.path, saved.id) == 0) {
		it = mw_intents_find(&w->in, saved.path);
		it->state = saved.state;
		it->refused_id = saved.refused_id;
		memcpy(it->why, saved.why, sizeof(it->why));
		watch(w, (size_t)(it - w->in.v));
	}
	return -1;
}

void mw_cgwatch_remember(struct mw_cgwatch *w, const char *path, uint64_t id)
{
	if (mw_intents_set(&w->in, path, id) == 0)
		save(w);
	mw_cgwatch_check(w);
}

int mw_cgwatch_for_each_waiting(struct mw_cgwatch *w,
				int (*fn)(void *arg, const char *path,
					  uint64_t last_id, const char *why),
				void *arg)
{
	int r = 0;

	for (size_t i = 0; i < w->in.n && !r; i++) {
		const struct mw_intent *it = &w->in.v[i];

		if (it->state != MW_INTENT_ENFORCED)
			r = fn(arg, it->path, it->id,
			       it->state == MW_INTENT_REFUSED ? it->why : "");
	}
	return r;
}
