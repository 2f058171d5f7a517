/* SPDX-License-Identifier: BSD-2-Clause */
/* Who is behind a connection: kernel-captured credentials, resolved. */
#ifndef MW_IDENTITY_H
#define MW_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_bpf_types.h"

struct mw_identity {
	uint32_t pid; /* thread that called connect() */
	uint32_t tgid; /* its process */
	uint32_t uid;
	uint32_t gid;
	uint64_t cgroup_id;
	char comm[MW_COMM_LEN];
	char exe[256]; /* /proc/tgid/exe at accept; "" if not vouched for */
	char cgroup[256]; /* path relative to the cgroup v2 mount */
	char user[64]; /* user name of uid, or the number */
	/*
	 * Names of gid and of the user's supplementary groups (the policy's
	 * "group"), NUL-separated: ngroups of them, at most
	 * MW_IDENTITY_MAX_GROUPS; a group without a name is its number.
	 */
	char group_names[1024];
	size_t ngroups;
	/*
	 * A look-up failed (a directory service down, an entry past what
	 * the daemon reads, more groups than it keeps): the user's name or
	 * groups may be others than the lists say. A rule that refuses
	 * matches an unknown value; one that allows does not.
	 */
	bool user_unknown, groups_unknown;
};

#define MW_IDENTITY_MAX_GROUPS 32
#define MW_USER_CACHE 64
#define MW_USER_CACHE_TTL_MS (60 * 1000)

/*
 * (uid, gid) -> user and group names, kept by the caller (the proxy)
 * between connections.
 */
struct mw_user_cache {
	struct mw_user_cache_entry {
		uint32_t uid, gid;
		int64_t at; /* ms, 0: empty */
		char name[64];
		char group_names[1024];
		size_t ngroups;
		bool user_unknown, groups_unknown;
	} e[MW_USER_CACHE];
};

struct mw_task_images;

/*
 * Fills id from the kernel record and /proc, passwd and group look-ups.
 * images (NULL: none) vouches for what /proc says; without it the
 * executable is not known.
 */
void mw_identity_from_conn(struct mw_identity *id,
			   const struct mw_conn_info *ci,
			   struct mw_user_cache *uc,
			   struct mw_task_images *images);

/* The name of uid (its number when it has none): a passwd look-up. */
void mw_identity_user_name(uint32_t uid, char *out, size_t outlen);

/*
 * Points names[0..max) at the group names of id; returns how many. The
 * pointers live as long as id.
 */
size_t mw_identity_groups(const struct mw_identity *id, const char **names,
			  size_t max);

#endif
