// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"
#include "task_image.h"

static struct mw_task_images *images;

static void load_images(void)
{
	char err[256];

	cr_assert_eq(mw_task_images_open(&images, err, sizeof(err)), 0,
		     "the iterator is real eBPF (run as root): %s", err);
}

static void unload_images(void)
{
	mw_task_images_close(images);
	images = NULL;
}

/* A kernel record of this very process's connect(), as the hooks write it. */
static struct mw_conn_info id_self(void)
{
	struct mw_conn_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.tgid = (uint32_t)getpid();
	ci.pid = (uint32_t)gettid();
	ci.uid = (uint32_t)getuid();
	ci.gid = (uint32_t)getgid();
	cr_assert_eq(prctl(PR_GET_NAME, ci.comm), 0);
	cr_assert_eq(mw_task_image_read(images, ci.tgid, &ci.image), 0);
	return ci;
}

Test(identity, the_iterator_reads_this_process_image, .init = load_images,
     .fini = unload_images)
{
	struct mw_task_image img, again;
	struct stat st;

	cr_assert_eq(mw_task_image_read(images, (uint32_t)getpid(), &img), 0);
	cr_assert_neq(img.start_ns, 0);
	cr_assert_neq(img.exec_id, 0, "a process that was exec'd counts one");
	cr_assert_eq(stat("/proc/self/exe", &st), 0);
	cr_assert_eq(img.exe_ino, (uint64_t)st.st_ino);
	cr_assert_eq(mw_task_image_read(images, (uint32_t)getpid(), &again), 0);
	cr_assert(mw_task_image_same(&img, &again));
	/* pid_max is at most 2^22: no process has this number */
	cr_assert_eq(mw_task_image_read(images, 0x7ffffff0, &img), -ESRCH);
}

/*
 * The executable is read when the connection is accepted: it is the
 * connect()'s only while the process runs the image the kernel recorded
 * then. A name vouches for nothing: PR_SET_NAME sets any.
 */
Test(identity, the_executable_is_known_only_while_the_image_is_the_connects,
     .init = load_images, .fini = unload_images)
{
	static struct mw_user_cache uc;
	struct mw_identity id;
	struct mw_conn_info ci;
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert_gt(n, 0);
	self[n] = '\0';

	ci = id_self();
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.exe, self);
	cr_assert_eq(id.tgid, ci.tgid);

	/* an exec since the connect() */
	ci = id_self();
	ci.image.exec_id--;
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.exe, "", "after an exec: %s", id.exe);

	/* another process under the same pid */
	ci = id_self();
	ci.image.start_ns++;
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.exe, "", "a reused pid: %s", id.exe);

	/* another executable (PR_SET_MM_EXE_FILE) */
	ci = id_self();
	ci.image.exe_ino++;
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.exe, "", "another file: %s", id.exe);

	/* a process that is gone: nothing vouches for the executable */
	ci = id_self();
	ci.tgid = 0x7ffffff0;
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.exe, "");

	/* no iterator, no record (a kernel thread's): not known */
	ci = id_self();
	mw_identity_from_conn(&id, &ci, &uc, NULL);
	cr_assert_str_eq(id.exe, "");
	memset(&ci.image, 0, sizeof(ci.image));
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.exe, "");
}

/*
 * This test's own /etc/passwd and /etc/group, bind-mounted in a mount
 * namespace of its own (criterion runs each test in a child process).
 */
static void fake_user_files(const char *passwd, const char *group)
{
	static const char *const files[] = { "/etc/passwd", "/etc/group" };
	const char *text[] = { passwd, group };

	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	for (size_t i = 0; i < 2; i++) {
		char path[] = "/tmp/mw-identity-XXXXXX";
		int fd = mkstemp(path);

		cr_assert_geq(fd, 0);
		cr_assert_eq(write(fd, text[i], strlen(text[i])),
			     (ssize_t)strlen(text[i]));
		close(fd);
		cr_assert_eq(chmod(path, 0644), 0);
		cr_assert_eq(mount(path, files[i], NULL, MS_BIND, NULL), 0,
			     "%s: %s", files[i], strerror(errno));
		unlink(path);
	}
}

static bool has_group(const struct mw_identity *id, const char *name)
{
	const char *names[MW_IDENTITY_MAX_GROUPS];
	size_t n = mw_identity_groups(id, names, MW_IDENTITY_MAX_GROUPS);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/*
 * A group line longer than a look-up's first buffer (one with many
 * members): glibc fails every look-up past it with ERANGE, and the groups
 * after it came out as numbers, so a deny rule naming one never matched.
 */
Test(identity, groups_past_a_long_group_line_keep_their_names,
     .init = load_images, .fini = unload_images)
{
	static struct mw_user_cache uc;
	char group[16384];
	struct mw_identity id;
	struct mw_conn_info ci;
	int n;

	n = snprintf(group, sizeof(group), "mallory:x:7000:\nbig:x:7100:");
	for (int i = 0; i < 800; i++)
		n += snprintf(group + n, sizeof(group) - (size_t)n,
			      "%smember%04d", i ? "," : "", i);
	snprintf(group + n, sizeof(group) - (size_t)n,
		 "\ncontractors:x:7200:mallory\n");
	fake_user_files("root:x:0:0::/root:/bin/sh\n"
			"mallory:x:7000:7000::/home/mallory:/bin/sh\n",
			group);
	ci = id_self();
	ci.uid = ci.gid = 7000;
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_str_eq(id.user, "mallory");
	cr_assert(has_group(&id, "mallory"));
	cr_assert(has_group(&id, "contractors"), "groups: %zu", id.ngroups);
	cr_assert_not(id.groups_unknown);
	cr_assert_not(id.user_unknown);
}

/* More groups than the daemon keeps: the rest are unknown, not absent. */
Test(identity, groups_past_the_cap_are_unknown, .init = load_images,
     .fini = unload_images)
{
	static struct mw_user_cache uc;
	char group[8192];
	struct mw_identity id;
	struct mw_conn_info ci;
	int n = 0;

	for (int i = 0; i < MW_IDENTITY_MAX_GROUPS + 8; i++)
		n += snprintf(group + n, sizeof(group) - (size_t)n,
			      "g%02d:x:%d:mallory\n", i, 7300 + i);
	fake_user_files("mallory:x:7000:7000::/home/mallory:/bin/sh\n", group);
	ci = id_self();
	ci.uid = ci.gid = 7000;
	mw_identity_from_conn(&id, &ci, &uc, images);
	cr_assert_eq(id.ngroups, MW_IDENTITY_MAX_GROUPS);
	cr_assert(id.groups_unknown);
	cr_assert_not(id.user_unknown);
}
