// SPDX-License-Identifier: BSD-2-Clause
#include "privs.h"

#include <errno.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"

#define BIT(c) (UINT64_C(1) << (c))

uint64_t mw_privs_kept(void)
{
	return BIT(CAP_BPF) | BIT(CAP_PERFMON) | /* enforce, release: links */
	       BIT(CAP_NET_ADMIN) | /* cgroup attach */
	       BIT(CAP_SYS_ADMIN) | /* bpf on kernels without CAP_BPF */
	       BIT(CAP_SYS_PTRACE) | /* /proc/PID/exe, fds, pidfd_getfd */
	       BIT(CAP_DAC_READ_SEARCH) | BIT(CAP_DAC_OVERRIDE) | /* /proc */
	       BIT(CAP_SETUID) | BIT(CAP_SETGID) | /* pg_ctl as its user */
	       BIT(CAP_KILL) | /* signals to the embedded cluster */
	       BIT(CAP_CHOWN) | BIT(CAP_FOWNER) | /* its directories */
	       BIT(CAP_SYS_RESOURCE); /* RLIMIT_MEMLOCK on older kernels */
}

int mw_privs_drop(char *err, size_t errlen)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	uint64_t keep = mw_privs_kept();
	int last = CAP_LAST_CAP;

	/* The running kernel may know more capabilities than our headers. */
	while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
		last++;
	for (int c = 0; c <= last; c++)
		if (c >= 64 || !(keep & BIT(c)))
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
			    errno != EINVAL) {
				mw_set_err(err, errlen,
					   "dropping capability %d: %s", c,
					   strerror(errno));
				return -1;
			}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) &&
	    errno != EINVAL) {
		mw_set_err(err, errlen, "clearing ambient capabilities: %s",
			   strerror(errno));
		return -1;
	}
	if (syscall(SYS_capget, &hdr, data)) {
		mw_set_err(err, errlen, "capget: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));

		data[i].effective &= k;
		data[i].permitted &= k;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data)) {
		mw_set_err(err, errlen, "capset: %s", strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		mw_set_err(err, errlen, "no_new_privs: %s", strerror(errno));
		return -1;
	}
	return 0;
}
