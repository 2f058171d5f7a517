/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Follows the cgroups enforced by path (intents.h) through removal and
 * re-creation. systemd removes a unit's cgroup when it stops and makes a
 * new one (a new id) when it starts: the kernel drops the old cgroup's
 * links with it, and the guard knows only the old id, so the unit's new
 * processes would reach the servers unsteered. An inotify watch on the
 * directory above each such cgroup (cgroupfs reports mkdir, rmdir and
 * rename there) wakes the loop; a re-check every second catches what a
 * watch could miss (an overflowed queue, a directory above replaced).
 * A cgroup made again is enforced again at once, and the guard follows
 * its new id; one that is gone is said (ALERT) and waits.
 */
#ifndef MW_CGWATCH_H
#define MW_CGWATCH_H

#include <stddef.h>
#include <stdint.h>

#include "bpf_loader.h"
#include "loop.h"

struct mw_cgwatch;

/*
 * What the daemon does of a change (record it in the trail): enforce
 * carried out again at path (decision "allow", old_id the cgroup that
 * was there), or refused (decision "error", detail why).
 */
typedef void (*mw_cgwatch_note)(void *arg, const char *path,
				const char *decision, const char *detail);

/*
 * Loads state_dir's intents, adopts every cgroup enforced now that they
 * do not name yet (a version before them), and looks once: a cgroup made
 * again while the daemon was down is enforced again before this returns.
 * 0 or -1 with err.
 */
int mw_cgwatch_open(struct mw_cgwatch **out, struct mw_loop *loop,
		    struct mw_bpf *bpf, const char *state_dir,
		    mw_cgwatch_note note, void *note_arg, char *err,
		    size_t errlen);
void mw_cgwatch_close(struct mw_cgwatch *w);

/* enforce of path (canonical) succeeded on cgroup id: remembered. 0 or -1
 * with err (enforcement stands; only a restart would forget it). */
int mw_cgwatch_enforced(struct mw_cgwatch *w, const char *path, uint64_t id,
			char *err, size_t errlen);

/* 1 when path is enforced by path and its cgroup is gone (*id: the last). */
int mw_cgwatch_waiting(struct mw_cgwatch *w, const char *path, uint64_t *id);

/*
 * release of path: forgotten, and saved. 1, 0 when it was not remembered,
 * or -1 with err (then nothing changed). mw_cgwatch_remember undoes a 1
 * when the release then fails.
 */
int mw_cgwatch_forget(struct mw_cgwatch *w, const char *path, char *err,
		      size_t errlen);
void mw_cgwatch_remember(struct mw_cgwatch *w, const char *path, uint64_t id);

/* For status: each intent not enforced now, with why ("" when gone). */
int mw_cgwatch_for_each_waiting(struct mw_cgwatch *w,
				int (*fn)(void *arg, const char *path,
					  uint64_t last_id, const char *why),
				void *arg);

/* Looks at every intent now, whole (at the start, on a notification). */
void mw_cgwatch_check(struct mw_cgwatch *w);

#endif
