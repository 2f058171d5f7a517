// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "loop.h"

/*
 * The control socket on a real loop, its callers played by this process
 * between the loop's ticks: what matters is that the loop goes on ticking
 * (every proxied connection waits on it) whatever a caller does.
 */

#define TC_BIG (4 * 1024 * 1024) /* more than a socket buffer holds */
#define TC_NO_LINE "{\"ok\":false,\"error\":\"no request line within 2 s\"}\n"
#define TC_STATUS "{\"ok\":true,\"cmd\":\"status\"}\n"

static int tc_calls;
static char tc_last_cmd[32];
static pid_t tc_last_pid;

static json_t *tc_handler(void *arg, const char *cmd, json_t *req,
			  const struct mw_control_caller *who)
{
	json_t *r;
	char *pad;

	(void)arg;
	(void)req;
	tc_calls++;
	snprintf(tc_last_cmd, sizeof(tc_last_cmd), "%s", cmd);
	tc_last_pid = who->pid;
	if (strcmp(cmd, "big"))
		return json_pack("{s:b,s:s}", "ok", 1, "cmd", cmd);
	pad = malloc(TC_BIG);
	cr_assert_not_null(pad);
	memset(pad, 'x', TC_BIG - 1);
	pad[TC_BIG - 1] = '\0';
	r = json_pack("{s:b,s:s}", "ok", 1, "pad", pad);
	free(pad);
	return r;
}

/* A caller: what it received (the first 4 KiB kept), and when. */
struct tc_peer {
	int fd;
	char got[4096];
	size_t len; /* all it received */
	int64_t line_ms; /* its first line feed; 0 none yet */
	int64_t eof_ms; /* 0: still open */
};

struct tc_drive {
	struct mw_tick tick;
	struct mw_loop *loop;
	struct mw_control *ctl;
	char dir[32], path[64];
	int64_t start_ms, deadline_ms, last_tick_ms, max_gap_ms;
	int64_t sent_ms; /* when a step sent what is timed */
	bool timed_out;
	int phase;
	bool (*step)(struct tc_drive *d, int64_t now);
	struct tc_peer peers[MW_CONTROL_MAX_CLIENTS + 2];
	size_t npeers;
};

static struct tc_peer *tc_connect(struct tc_drive *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct tc_peer *p = &d->peers[d->npeers++];

	cr_assert_leq(d->npeers, sizeof(d->peers) / sizeof(d->peers[0]));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", d->path);
	memset(p, 0, sizeof(*p));
	p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	cr_assert_geq(p->fd, 0);
	cr_assert_eq(connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect: %s", strerror(errno));
	return p;
}

static void tc_send(struct tc_peer *p, const char *s)
{
	cr_assert_eq(send(p->fd, s, strlen(s), MSG_NOSIGNAL),
		     (ssize_t)strlen(s));
}

/* Takes what has come for p, without waiting. */
static void tc_poll(struct tc_peer *p, int64_t now)
{
	char buf[65536];
	ssize_t n;

	while (!p->eof_ms) {
		n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			p->eof_ms = now;
			return;
		}
		if (p->len < sizeof(p->got) - 1) {
			size_t k = sizeof(p->got) - 1 - p->len;

			memcpy(p->got + p->len, buf,
			       (size_t)n < k ? (size_t)n : k);
			p->got[p->len + ((size_t)n < k ? (size_t)n : k)] = '\0';
		}
		if (!p->line_ms && memchr(buf, '\n', (size_t)n))
			p->line_ms = now;
		p->len += (size_t)n;
	}
}

static void tc_on_tick(struct mw_tick *t, int64_t now)
{
	struct tc_drive *d = container_of(t, struct tc_drive, tick);

	if (d->last_tick_ms && now - d->last_tick_ms > d->max_gap_ms)
		d->max_gap_ms = now - d->last_tick_ms;
	d->last_tick_ms = now;
	if (now > d->deadline_ms) {
		d->timed_out = true;
		mw_loop_stop(d->loop);
		return;
	}
	if (d->step(d, now))
		mw_loop_stop(d->loop);
}

static void tc_open(struct tc_drive *d)
{
	char err[256] = "";

	tc_calls = 0;
	tc_last_cmd[0] = '\0';
	snprintf(d->dir, sizeof(d->dir), "/tmp/mw-control-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/control.sock", d->dir);
	cr_assert_eq(mw_loop_new(&d->loop), 0);
	cr_assert_eq(mw_control_open(&d->ctl, d->loop, d->path, tc_handler,
				     NULL, err, sizeof(err)),
		     0, "%s", err);
}

/* Runs the loop (once: a loop is not restarted) until step says done. */
static void tc_run(struct tc_drive *d, int timeout_ms)
{
	d->start_ms = mw_now_ms();
	d->deadline_ms = d->start_ms + timeout_ms;
	d->tick.cb = tc_on_tick;
	mw_loop_add_tick(d->loop, &d->tick);
	cr_assert_eq(mw_loop_run(d->loop), 0);
}

static void tc_close(struct tc_drive *d)
{
	mw_control_close(d->ctl);
	mw_loop_del_tick(d->loop, &d->tick);
	mw_loop_free(d->loop);
	for (size_t i = 0; i < d->npeers; i++)
		close(d->peers[i].fd);
	rmdir(d->dir);
}

static void tc_poll_all(struct tc_drive *d, int64_t now)
{
	for (size_t i = 0; i < d->npeers; i++)
		tc_poll(&d->peers[i], now);
}

/* peers[0] silent, [1] half a line, [2] a whole one sent at the first tick */
static bool silent_step(struct tc_drive *d, int64_t now)
{
	tc_poll_all(d, now);
	if (d->phase == 0) {
		tc_send(tc_connect(d), "{\"cmd\":\"status\"}\n");
		d->sent_ms = now;
		d->phase = 1;
		return false;
	}
	return d->peers[0].eof_ms && d->peers[1].eof_ms && d->peers[2].eof_ms;
}

Test(control, silent_callers_hold_up_neither_the_loop_nor_other_callers,
     .timeout = 20)
{
	struct tc_drive d = { .step = silent_step };
	struct tc_peer *good;

	tc_open(&d);
	tc_connect(&d);
	tc_send(tc_connect(&d), "{\"cmd\":\"sta");
	tc_run(&d, 6000);
	cr_assert_not(d.timed_out, "callers not closed within 6 s");
	good = &d.peers[2];
	cr_assert_str_eq(good->got, TC_STATUS);
	cr_assert_lt(good->line_ms - d.sent_ms, 500,
		     "answered %lld ms after it asked",
		     (long long)(good->line_ms - d.sent_ms));
	cr_assert_lt(d.max_gap_ms, 500, "the loop stood still %lld ms",
		     (long long)d.max_gap_ms);
	cr_assert_eq(tc_calls, 1, "half a line was handled");
	cr_assert_eq(tc_last_pid, getpid());
	for (int i = 0; i < 2; i++) {
		struct tc_peer *p = &d.peers[i];
		int64_t after = p->eof_ms - d.start_ms;

		cr_assert_str_eq(p->got, TC_NO_LINE, "peer %d", i);
		cr_assert(after >= MW_CONTROL_READ_MS - 100 &&
				  after <= MW_CONTROL_READ_MS + 600,
			  "peer %d closed after %lld ms", i, (long long)after);
	}
	tc_close(&d);
}

/* peers[0] sends its line in three pieces, a tick or more apart */
static bool pieces_step(struct tc_drive *d, int64_t now)
{
	struct tc_peer *p = &d->peers[0];

	tc_poll(p, now);
	if (d->phase == 0 && now - d->start_ms >= 300) {
		tc_send(p, "\"status\"}");
		d->phase = 1;
	} else if (d->phase == 1 && now - d->start_ms >= 600) {
		cr_assert_eq(tc_calls, 0, "handled before its line was whole");
		/* what follows the line feed is no part of the request */
		tc_send(p, "\n{\"cmd\":\"reload\"}\n");
		d->phase = 2;
	}
	return p->eof_ms;
}

Test(control, a_line_in_pieces_is_handled_once_whole, .timeout = 20)
{
	struct tc_drive d = { .step = pieces_step };

	tc_open(&d);
	tc_send(tc_connect(&d), "{\"cmd\":");
	tc_run(&d, 3000);
	cr_assert_not(d.timed_out);
	cr_assert_eq(d.phase, 2);
	cr_assert_str_eq(d.peers[0].got, TC_STATUS);
	cr_assert_eq(tc_calls, 1);
	cr_assert_str_eq(tc_last_cmd, "status");
	tc_close(&d);
}

/*
 * MW_CONTROL_MAX_CLIENTS silent callers; one more is told busy at once;
 * once they are gone, a caller is served again.
 */
static bool busy_step(struct tc_drive *d, int64_t now)
{
	const size_t max = MW_CONTROL_MAX_CLIENTS;

	tc_poll_all(d, now);
	switch (d->phase) {
	case 0: /* the silent ones accepted by now */
		if (now - d->start_ms < 300)
			return false;
		tc_send(tc_connect(d), "{\"cmd\":\"status\"}\n");
		d->phase = 1;
		return false;
	case 1:
		for (size_t i = 0; i < max; i++)
			if (!d->peers[i].eof_ms)
				return false;
		tc_send(tc_connect(d), "{\"cmd\":\"status\"}\n");
		d->phase = 2;
		return false;
	default:
		return d->peers[max + 1].eof_ms;
	}
}

Test(control, a_caller_beyond_the_limit_is_told_busy_at_once, .timeout = 20)
{
	struct tc_drive d = { .step = busy_step };
	const size_t max = MW_CONTROL_MAX_CLIENTS;
	struct tc_peer *extra, *later;

	tc_open(&d);
	for (size_t i = 0; i < max; i++)
		tc_connect(&d);
	tc_run(&d, 5000);
	cr_assert_not(d.timed_out);
	extra = &d.peers[max];
	later = &d.peers[max + 1];
	cr_assert_str_eq(extra->got, "{\"ok\":false,\"error\":\"busy: too many "
				     "control requests pending\"}\n");
	cr_assert_lt(extra->eof_ms - d.start_ms, 600,
		     "the busy answer took %lld ms",
		     (long long)(extra->eof_ms - d.start_ms));
	for (size_t i = 0; i < max; i++)
		cr_assert_str_eq(d.peers[i].got, TC_NO_LINE);
	cr_assert_str_eq(later->got, TC_STATUS);
	cr_assert_eq(tc_calls, 1);
	tc_close(&d);
}

/*
 * peers[0] asks for an answer larger than its socket holds and reads
 * none of it; peers[1] asks at 300 ms and must not wait for it.
 */
static bool unread_step(struct tc_drive *d, int64_t now)
{
	if (d->phase == 0 && now - d->start_ms >= 300) {
		tc_send(tc_connect(d), "{\"cmd\":\"status\"}\n");
		d->phase = 1;
	}
	if (d->phase >= 1)
		tc_poll(&d->peers[1], now);
	/* past the write deadline: now it reads, to see where it ends */
	if (now - d->start_ms >= MW_CONTROL_WRITE_MS + 400)
		tc_poll(&d->peers[0], now);
	return d->peers[0].eof_ms && d->peers[1].eof_ms;
}

Test(control, a_caller_that_reads_not_its_answer_is_dropped_at_the_deadline,
     .timeout = 20)
{
	struct tc_drive d = { .step = unread_step };

	tc_open(&d);
	tc_send(tc_connect(&d), "{\"cmd\":\"big\"}\n");
	tc_run(&d, 6000);
	cr_assert_not(d.timed_out);
	cr_assert_str_eq(d.peers[1].got, TC_STATUS);
	cr_assert_lt(d.peers[1].line_ms - d.start_ms, 800);
	cr_assert_lt(d.max_gap_ms, 500, "the loop stood still %lld ms",
		     (long long)d.max_gap_ms);
	cr_assert_gt(d.peers[0].len, 0);
	cr_assert_lt(d.peers[0].len, (size_t)TC_BIG, "the answer was whole");
	cr_assert_eq(d.peers[0].line_ms, 0);
	tc_close(&d);
}

static int64_t cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Out of descriptors, accept fails and the caller stays in the backlog: the
 * listener must leave the loop (a level-triggered one would be reported
 * again at once, every turn) and come back when descriptors are free.
 */
struct emfile_drive {
	struct tc_drive d;
	struct rlimit saved;
	int64_t cpu_start, cpu_paused;
};

static bool emfile_step(struct tc_drive *d, int64_t now)
{
	struct emfile_drive *e = container_of(d, struct emfile_drive, d);

	tc_poll_all(d, now);
	if (d->phase == 0 && now - d->start_ms >= 600) {
		e->cpu_paused = cpu_ms() - e->cpu_start;
		cr_assert_eq(d->peers[0].len, 0, "served without a descriptor");
		cr_assert_eq(setrlimit(RLIMIT_NOFILE, &e->saved), 0);
		d->phase = 1;
	}
	return d->peers[0].eof_ms;
}

Test(control, out_of_descriptors_the_listener_pauses_instead_of_spinning,
     .timeout = 20)
{
	struct emfile_drive e = { .d = { .step = emfile_step } };
	struct rlimit low;
	int probe;

	tc_open(&e.d);
	tc_send(tc_connect(&e.d), "{\"cmd\":\"status\"}\n");
	/* the lowest free descriptor is the first one refused */
	probe = dup(2);
	cr_assert_geq(probe, 0);
	close(probe);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &e.saved), 0);
	low = e.saved;
	low.rlim_cur = (rlim_t)probe;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	e.cpu_start = cpu_ms();
	tc_run(&e.d, 3000);
	setrlimit(RLIMIT_NOFILE, &e.saved);
	cr_assert_not(e.d.timed_out, "not served once descriptors were free");
	cr_assert_lt(e.cpu_paused, 150, "%lld ms of CPU in 600 ms: it spun",
		     (long long)e.cpu_paused);
	cr_assert_str_eq(e.d.peers[0].got, TC_STATUS);
	tc_close(&e.d);
}
