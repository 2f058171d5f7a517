/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The control socket: a Unix stream socket under state_dir through which
 * the CLI asks the daemon for status and changes. One JSON request line,
 * one JSON response line. Callers are authenticated with SO_PEERCRED.
 */
#ifndef MW_CONTROL_H
#define MW_CONTROL_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "loop.h"

#define MW_CONTROL_MAX_LINE (64 * 1024) /* a request */
#define MW_CONTROL_MAX_ANSWER \
	(64 * 1024 * 1024) /* status of many connections */

/*
 * Callers are served on the daemon's event loop, never waited for: one
 * has MW_CONTROL_READ_MS from its accept to send its whole request line
 * (it is then answered that it sent none) and MW_CONTROL_WRITE_MS to take
 * its answer, in all however the bytes trickle; at most
 * MW_CONTROL_MAX_CLIENTS are pending at once, and one more is answered
 * busy and closed at once. A command runs once its line is whole, and
 * runs to its end on the loop (enforce --kill-existing, reload).
 */
#define MW_CONTROL_READ_MS 2000
#define MW_CONTROL_WRITE_MS 2000
#define MW_CONTROL_MAX_CLIENTS 16

struct mw_control;

/*
 * Who sent a request: SO_PEERCRED's, and what /proc said of that process
 * while it was still the caller (its pidfd alive after the reads, where
 * the kernel has SO_PEERPIDFD). A name not learnt is "".
 */
struct mw_control_caller {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	char comm[16];
	char cgroup[4096]; /* as in /proc/PID/cgroup: "/a/b" */
};

/* comm and cgroup of process pid as /proc shows them ("" unknown). */
void mw_control_read_proc(pid_t pid, struct mw_control_caller *who);

/*
 * The sender of a signal (its siginfo's pid and uid) as a caller: its gid,
 * comm and cgroup read from /proc, "" (gid -1) when it is gone already.
 */
void mw_control_signal_sender(pid_t pid, uid_t uid,
			      struct mw_control_caller *who);

/* Returns a new JSON object: {"ok":true,...} or {"ok":false,"error":"..."} */
typedef json_t *(*mw_control_handler)(void *arg, const char *cmd, json_t *req,
				      const struct mw_control_caller *who);

int mw_control_open(struct mw_control **out, struct mw_loop *loop,
		    const char *path, mw_control_handler handler, void *arg,
		    char *err, size_t errlen);
void mw_control_close(struct mw_control *c);

/* Client side: sends req, waits for the answer (timeout_ms). */
int mw_control_call(const char *path, json_t *req, int timeout_ms,
		    json_t **resp, char *err, size_t errlen);

/* Convenience for handlers. */
json_t *mw_control_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
