// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "identity.h"

/* A kernel record of this very thread's connect(), named comm. */
static struct mw_conn_info id_self(const char *comm)
{
	struct mw_conn_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.tgid = (uint32_t)getpid();
	ci.pid = (uint32_t)gettid();
	ci.uid = (uint32_t)getuid();
	ci.gid = (uint32_t)getgid();
	snprintf(ci.comm, sizeof(ci.comm), "%s", comm);
	return ci;
}

/*
 * The executable is read when the connection is accepted: a thread that
 * no longer bears the name the kernel captured at its connect() may have
 * exec'd since, and its executable is then not known.
 */
Test(identity, the_executable_is_known_only_while_the_name_is_the_connects)
{
	static struct mw_user_cache uc;
	struct mw_identity id;
	struct mw_conn_info ci;
	char self[PATH_MAX], comm[17] = "";
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	cr_assert_gt(n, 0);
	self[n] = '\0';
	cr_assert_eq(prctl(PR_GET_NAME, comm), 0);

	ci = id_self(comm);
	mw_identity_from_conn(&id, &ci, &uc);
	cr_assert_str_eq(id.exe, self);
	cr_assert_eq(id.tgid, ci.tgid);

	ci = id_self("before-exec");
	mw_identity_from_conn(&id, &ci, &uc);
	cr_assert_str_eq(id.exe, "", "another name: %s", id.exe);

	/* a thread that is gone: nothing to vouch for the executable */
	ci = id_self(comm);
	ci.pid = 0x7ffffff0;
	mw_identity_from_conn(&id, &ci, &uc);
	cr_assert_str_eq(id.exe, "");
}
