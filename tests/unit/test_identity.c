// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
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
