// SPDX-License-Identifier: BSD-2-Clause
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "loop.h"
#include "task_image.h"

/*
 * Entries are read into a buffer grown on ERANGE up to this: a group with
 * many members takes more than any fixed one (glibc's files backend fails
 * every look-up past such a line with a buffer too small).
 */
#define LOOKUP_BUF_MAX (1u << 20)

/*
 * Whether a look-up that said rc should be tried again in a larger
 * buffer, grown here (*buf, *cap, free()d by the caller); *rc becomes the
 * error when it cannot grow.
 */
static bool grown_for(int *rc, char **buf, size_t *cap)
{
	char *p;

	if (*rc != ERANGE || *cap >= LOOKUP_BUF_MAX)
		return false;
	p = realloc(*buf, *cap * 2);
	if (!p) {
		*rc = ENOMEM;
		return false;
	}
	*buf = p;
	*cap *= 2;
	return true;
}

/* getgrgid_r into a buffer grown as needed: 0 with *found set, or an
 * error number. */
static int lookup_group(gid_t gid, struct group *gr, char **buf, size_t *cap,
			bool *found)
{
	struct group *res = NULL;
	int rc;

	do
		rc = getgrgid_r(gid, gr, *buf, *cap, &res);
	while (grown_for(&rc, buf, cap));
	*found = !rc && res;
	return rc;
}

/* The same with getpwuid_r. */
static int lookup_user(uid_t uid, struct passwd *pw, char **buf, size_t *cap,
		       bool *found)
{
	struct passwd *res = NULL;
	int rc;

	do
		rc = getpwuid_r(uid, pw, *buf, *cap, &res);
	while (grown_for(&rc, buf, cap));
	*found = !rc && res;
	return rc;
}

/*
 * Appends a group's name (its number when it has none) to the entry's
 * list; a look-up that failed, or a name or list that does not fit,
 * leaves the groups unknown.
 */
static void add_group(struct mw_user_cache_entry *e, gid_t gid, size_t *used,
		      char **buf, size_t *cap)
{
	struct group gr;
	char name[64];
	bool found = false;
	int n;

	if (e->ngroups >= MW_IDENTITY_MAX_GROUPS) {
		e->groups_unknown = true;
		return;
	}
	if (lookup_group(gid, &gr, buf, cap, &found))
		e->groups_unknown = true;
	n = found ? snprintf(name, sizeof(name), "%s", gr.gr_name)
		  : snprintf(name, sizeof(name), "%u", (unsigned)gid);
	if (n < 0 || (size_t)n >= sizeof(name) ||
	    (size_t)n + 1 > sizeof(e->group_names) - *used) {
		e->groups_unknown = true;
		return;
	}
	memcpy(e->group_names + *used, name, (size_t)n + 1);
	*used += (size_t)n + 1;
	e->ngroups++;
}

void mw_identity_user_name(uint32_t uid, char *out, size_t outlen)
{
	struct passwd pw;
	size_t cap = 4096;
	char *buf = malloc(cap);
	bool found = false;

	if (buf && !lookup_user(uid, &pw, &buf, &cap, &found) && found)
		snprintf(out, outlen, "%s", pw.pw_name);
	else
		snprintf(out, outlen, "%u", uid);
	free(buf);
}

/*
 * The user's name and groups: the connect-time gid first, then the
 * supplementary groups of the user (getgrouplist), as login would set them.
 */
static void resolve(struct mw_user_cache_entry *e, uint32_t uid, uint32_t gid)
{
	struct passwd pw;
	gid_t list[MW_IDENTITY_MAX_GROUPS];
	int nlist = MW_IDENTITY_MAX_GROUPS;
	size_t cap = 4096, used = 0;
	char *buf = malloc(cap), *gbuf = NULL;
	size_t gcap = 4096;
	bool found = false;
	int rc;

	e->ngroups = 0;
	e->user_unknown = e->groups_unknown = false;
	gbuf = malloc(gcap);
	if (!buf || !gbuf) {
		snprintf(e->name, sizeof(e->name), "%u", uid);
		e->user_unknown = e->groups_unknown = true;
		goto out;
	}
	add_group(e, gid, &used, &gbuf, &gcap);
	rc = lookup_user(uid, &pw, &buf, &cap, &found);
	if (rc || !found) {
		/* no such user has no supplementary groups; a failed look-up
		 * may hide a name and groups */
		snprintf(e->name, sizeof(e->name), "%u", uid);
		if (rc)
			e->user_unknown = e->groups_unknown = true;
		goto out;
	}
	/* a name cut short could be another user's: none, unknown */
	if ((size_t)snprintf(e->name, sizeof(e->name), "%s", pw.pw_name) >=
	    sizeof(e->name)) {
		snprintf(e->name, sizeof(e->name), "%u", uid);
		e->user_unknown = true;
	}
	/* more groups than kept: the ones past them are unknown */
	if (getgrouplist(pw.pw_name, gid, list, &nlist) < 0) {
		e->groups_unknown = true;
		nlist = MW_IDENTITY_MAX_GROUPS;
	}
	for (int i = 0; i < nlist && i < MW_IDENTITY_MAX_GROUPS; i++)
		if (list[i] != gid)
			add_group(e, list[i], &used, &gbuf, &gcap);
out:
	free(buf);
	free(gbuf);
}

/*
 * passwd and group look-ups may ask a directory service and block the
 * loop: each (uid, gid) is looked up once a minute at most (an agent's
 * connections share one).
 */
static const struct mw_user_cache_entry *cached_user(struct mw_user_cache *uc,
						     uint32_t uid, uint32_t gid)
{
	struct mw_user_cache_entry *e =
		&uc->e[(uid * 31u + gid) % MW_USER_CACHE];
	int64_t now = mw_now_ms();

	if (!e->at || e->uid != uid || e->gid != gid ||
	    now - e->at >= MW_USER_CACHE_TTL_MS) {
		resolve(e, uid, gid);
		e->uid = uid;
		e->gid = gid;
		e->at = now;
	}
	return e;
}

size_t mw_identity_groups(const struct mw_identity *id, const char **names,
			  size_t max)
{
	const char *p = id->group_names;
	size_t n = 0;

	for (; n < id->ngroups && n < max; n++) {
		names[n] = p;
		p += strlen(p) + 1;
	}
	return n;
}

/* Whether process tgid still runs the image its connect() ran. */
static bool same_image(struct mw_task_images *ti, const struct mw_conn_info *ci)
{
	struct mw_task_image now;

	return ti && !mw_task_image_read(ti, ci->tgid, &now) &&
	       mw_task_image_same(&ci->image, &now);
}

/*
 * Whether path, in the daemon's view of the file system, names the file
 * behind link (/proc/PID/exe). The path /proc gives is the one the process
 * sees: in a mount namespace of its own (an unprivileged user namespace is
 * enough) it may have bound another program over /usr/bin/sleep.
 */
static bool path_names_exe(const char *link, const char *path)
{
	struct stat running, named;
	int fd = open(link, O_PATH | O_CLOEXEC);
	bool same;

	if (fd < 0)
		return false;
	same = !fstat(fd, &running) && !stat(path, &named) &&
	       running.st_dev == named.st_dev && running.st_ino == named.st_ino;
	close(fd);
	return same;
}

void mw_identity_from_conn(struct mw_identity *id,
			   const struct mw_conn_info *ci,
			   struct mw_user_cache *uc,
			   struct mw_task_images *images)
{
	const struct mw_user_cache_entry *e;
	char link[64];
	bool unchanged;
	ssize_t n;

	memset(id, 0, sizeof(*id));
	id->pid = ci->pid;
	id->tgid = ci->tgid;
	id->uid = ci->uid;
	id->gid = ci->gid;
	id->cgroup_id = ci->cgroup_id;
	memcpy(id->comm, ci->comm, sizeof(id->comm));
	id->comm[sizeof(id->comm) - 1] = '\0';

	/*
	 * The process may already be gone; the kernel record stays the
	 * truth. Read now, the executable is the one that connected only if
	 * the process ran the image its connect() ran both before and after
	 * the read: no exec, no other process under a reused pid. A name
	 * proves nothing (PR_SET_NAME), the image's exec count does. And the
	 * path must name that file where the daemon looks.
	 */
	snprintf(link, sizeof(link), "/proc/%u/exe", ci->tgid);
	unchanged = same_image(images, ci);
	n = readlink(link, id->exe, sizeof(id->exe) - 1);
	if (n <= 0 || (size_t)n >= sizeof(id->exe) - 1) /* none, or cut */
		n = 0;
	id->exe[n] = '\0';
	if (!n || !unchanged || !path_names_exe(link, id->exe) ||
	    !same_image(images, ci))
		id->exe[0] = '\0';

	if (mw_cgroup_path_of_id(ci->cgroup_id, id->cgroup, sizeof(id->cgroup)))
		snprintf(id->cgroup, sizeof(id->cgroup), "cgroup:%llu",
			 (unsigned long long)ci->cgroup_id);

	e = cached_user(uc, ci->uid, ci->gid);
	snprintf(id->user, sizeof(id->user), "%s", e->name);
	memcpy(id->group_names, e->group_names, sizeof(id->group_names));
	id->ngroups = e->ngroups;
	id->user_unknown = e->user_unknown;
	id->groups_unknown = e->groups_unknown;
}
