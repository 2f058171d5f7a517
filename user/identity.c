// SPDX-License-Identifier: BSD-2-Clause
#include "identity.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "loop.h"

/*
 * getpwuid_r may ask a directory service and block the loop: each uid is
 * looked up once a minute at most (an agent's connections share one).
 */
static void user_name(struct mw_user_cache *uc, uint32_t uid, char *out,
		      size_t outlen)
{
	struct mw_user_cache_entry *e = &uc->e[uid % MW_USER_CACHE];
	struct passwd pw, *res = NULL;
	int64_t now = mw_now_ms();
	char buf[1024];

	if (!e->at || e->uid != uid || now - e->at >= MW_USER_CACHE_TTL_MS) {
		if (!getpwuid_r(uid, &pw, buf, sizeof(buf), &res) && res)
			snprintf(e->name, sizeof(e->name), "%s", pw.pw_name);
		else
			snprintf(e->name, sizeof(e->name), "%u", uid);
		e->uid = uid;
		e->at = now;
	}
	snprintf(out, outlen, "%s", e->name);
}

void mw_identity_from_conn(struct mw_identity *id,
			   const struct mw_conn_info *ci,
			   struct mw_user_cache *uc)
{
	char link[64];
	ssize_t n;

	memset(id, 0, sizeof(*id));
	id->pid = ci->pid;
	id->tgid = ci->tgid;
	id->uid = ci->uid;
	id->gid = ci->gid;
	id->cgroup_id = ci->cgroup_id;
	memcpy(id->comm, ci->comm, sizeof(id->comm));
	id->comm[sizeof(id->comm) - 1] = '\0';

	/* The process may already be gone; the kernel record stays the truth. */
	snprintf(link, sizeof(link), "/proc/%u/exe", ci->tgid);
	n = readlink(link, id->exe, sizeof(id->exe) - 1);
	id->exe[n > 0 ? n : 0] = '\0';

	if (mw_cgroup_path_of_id(ci->cgroup_id, id->cgroup, sizeof(id->cgroup)))
		snprintf(id->cgroup, sizeof(id->cgroup), "cgroup:%llu",
			 (unsigned long long)ci->cgroup_id);

	user_name(uc, ci->uid, id->user, sizeof(id->user));
}
