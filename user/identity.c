// SPDX-License-Identifier: BSD-2-Clause
#include "identity.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"

void mw_identity_from_conn(struct mw_identity *id,
			   const struct mw_conn_info *ci)
{
	struct passwd pw, *res = NULL;
	char buf[1024], link[64];
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

	if (!getpwuid_r(ci->uid, &pw, buf, sizeof(buf), &res) && res)
		snprintf(id->user, sizeof(id->user), "%s", pw.pw_name);
	else
		snprintf(id->user, sizeof(id->user), "%u", ci->uid);
}
