/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The cgroups an operator enforced, remembered by path as well as by id.
 * The kernel binds enforcement to a cgroup's id: a cgroup removed and
 * made again at the same path (systemd does so at each restart of a
 * unit) is a new cgroup, and the links on the old one die with it. What
 * the operator asked for is the path; this keeps it, with the id last
 * enforced there, in one file under state_dir, so that a restart of the
 * daemon keeps it too (cgwatch.h acts on it).
 */
#ifndef MW_INTENTS_H
#define MW_INTENTS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_bpf_types.h"

#define MW_INTENTS_FILE "enforced-cgroups.json"
#define MW_INTENTS_MAX MW_MAX_ENFORCED /* the guard follows no more */

/* What the daemon found the last time it looked (not kept on disk). */
enum mw_intent_state {
	MW_INTENT_ENFORCED, /* the cgroup is there and enforced */
	MW_INTENT_WAITING, /* the cgroup is gone: enforced when made again */
	MW_INTENT_REFUSED, /* made again, but enforce refused it (why) */
};

struct mw_intent {
	char path[PATH_MAX]; /* absolute, canonical (mw_cgroup_resolve) */
	uint64_t id; /* the cgroup last enforced at path */
	/* run time only */
	enum mw_intent_state state;
	uint64_t refused_id; /* REFUSED: the cgroup enforce refused */
	char why[512]; /* REFUSED: enforce's reason */
	int wd; /* inotify watch on the nearest directory above; -1 none */
	char watch_dir[PATH_MAX];
};

struct mw_intents {
	char path[PATH_MAX]; /* state_dir/MW_INTENTS_FILE */
	char dir[PATH_MAX];
	struct mw_intent *v;
	size_t n, cap;
};

/*
 * Loads state_dir/MW_INTENTS_FILE (absent: none). A damaged file fails
 * (the daemon does not start) rather than forget what was enforced.
 * 0 or -1 with err.
 */
int mw_intents_load(struct mw_intents *s, const char *state_dir, char *err,
		    size_t errlen);
/* Writes the file whole (atomic_file.h). 0 or -1 with err. */
int mw_intents_save(const struct mw_intents *s, char *err, size_t errlen);
void mw_intents_free(struct mw_intents *s);

struct mw_intent *mw_intents_find(struct mw_intents *s, const char *path);
/* Adds path (state ENFORCED) or sets its id. 0, -ENOSPC, -ENOMEM. */
int mw_intents_set(struct mw_intents *s, const char *path, uint64_t id);
/* Removes path; false when it was not there. */
bool mw_intents_remove(struct mw_intents *s, const char *path);

#endif
