/* SPDX-License-Identifier: BSD-2-Clause */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"

int mw_write_atomic(const char *dir, const char *name, const void *data,
		    size_t len, mode_t mode, char *err, size_t errlen)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	int fd = -1, dfd = -1, rc;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >=
		    (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, name) >=
		    (int)sizeof(tmp)) {
		mw_set_err(err, errlen, "%s: path too long", dir);
		return -1;
	}
	/* Left by a crash mid-write: it never was the key. */
	if (unlink(tmp) && errno != ENOENT) {
		mw_set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		mw_set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	rc = mw_write_all(fd, data, len);
	if (rc) {
		mw_set_err(err, errlen, "%s: %s", tmp, strerror(-rc));
		goto fail;
	}
	/* Whatever the umask. */
	if (fchmod(fd, mode) || fsync(fd)) {
		mw_set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd)) {
		fd = -1;
		mw_set_err(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path)) {
		mw_set_err(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd)) {
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	close(dfd);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}
