/* SPDX-License-Identifier: BSD-2-Clause */
/* cgroup v2 paths, ids, and the connections their processes hold open. */
#ifndef MW_CGROUP_H
#define MW_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The cgroup v2 mount point, read from /proc/mounts (cached). */
const char *mw_cgroup2_mount(void);

/*
 * Resolves a user-given cgroup (absolute path under the mount, or relative
 * to it) into a canonical absolute path. Returns 0 or -errno with err set.
 */
int mw_cgroup_resolve(const char *given, char *out, size_t outlen, char *err,
		      size_t errlen);

/*
 * The canonical absolute path of a cgroup that need not exist, from the
 * text alone (as mw_cgroup_resolve() would give it were it there);
 * ".." is refused. 0 or -errno with err set.
 */
int mw_cgroup_lexical(const char *given, char *out, size_t outlen, char *err,
		      size_t errlen);

/*
 * Whether processes in the cgroup at abs (canonical, absolute) could move
 * themselves out of it. Moving a process needs write access to
 * cgroup.procs (or cgroup.threads) of the common ancestor of where it is
 * and where it goes, so an ancestor whose files a user may write (a
 * subtree delegated to that user, as systemd does for user@UID.service)
 * lets that user's processes leave. Returns 1 with the outermost such
 * ancestor in out and who may move processes there ("uid 1000", "gid
 * 100 (...)") in who, 0 when there is none, or -errno.
 */
int mw_cgroup_delegated_above(const char *abs, char *out, size_t outlen,
			      char *who, size_t wholen);

/* The cgroup id (kernfs inode) of an absolute cgroup path. */
int mw_cgroup_id(const char *abs_path, uint64_t *id);

/* Path of a cgroup id relative to the mount ("/" for the root); 0 or -errno. */
int mw_cgroup_path_of_id(uint64_t id, char *out, size_t outlen);

struct mw_existing_conn {
	int pid;
	int fd;
	char comm[16];
	char local[64]; /* "addr:port"; both "" when not inspected */
	char remote[64];
	bool closed; /* shut down, when asked to kill */
	/* why it could not be inspected or, asked to kill, closed: "" if it
	 * was */
	char why[96];
};

/*
 * TCP connections, established or able to carry data still (SYN_SENT,
 * FIN_WAIT1/2, CLOSE_WAIT), held by the processes and threads of the cgroup
 * (and its descendants) whose remote end matches is_protected, wherever
 * their holder's network namespace is now: each socket is read through a
 * duplicate of its fd (pidfd_getfd). When kill is set each one is shut
 * down, so no unrecorded channel stays open. fn is called for each,
 * closed or not (why says), and for each socket that could not be
 * inspected at all (local and remote ""; it may be such a connection);
 * returns how many it was called for, or -errno.
 */
int mw_cgroup_existing_conns(
	const char *abs_path,
	int (*is_protected)(void *arg, const uint8_t addr[16], uint16_t port),
	void *parg, int kill,
	int (*fn)(void *arg, const struct mw_existing_conn *c), void *arg);

#endif
