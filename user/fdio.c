// SPDX-License-Identifier: BSD-2-Clause
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"

/* off < 0: at the file position */
static ssize_t read_full_at(int fd, char *p, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = off < 0 ? read(fd, p + done, n - done)
				    : pread(fd, p + done, n - done,
					    off + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int write_all_at(int fd, const char *p, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = off < 0 ? write(fd, p + done, n - done)
				    : pwrite(fd, p + done, n - done,
					     off + (off_t)done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w ? -errno : -EIO;
		done += (size_t)w;
	}
	return 0;
}

ssize_t mw_read_full(int fd, void *buf, size_t n)
{
	return read_full_at(fd, buf, n, -1);
}

ssize_t mw_pread_full(int fd, void *buf, size_t n, off_t off)
{
	if (off < 0)
		return -EINVAL;
	return read_full_at(fd, buf, n, off);
}

int mw_read_bounded(int fd, size_t max, char **out, size_t *len)
{
	size_t cap, have = 0;
	struct stat st;
	char *buf = NULL, *nb;
	ssize_t n;

	*out = NULL;
	*len = 0;
	if (fstat(fd, &st))
		return -errno;
	cap = st.st_size >= 0 && (uint64_t)st.st_size < max ? (size_t)st.st_size
							    : max;
	/* one byte more than allowed tells "too large" from "exactly max" */
	for (;;) {
		nb = realloc(buf, cap + 2);
		if (!nb) {
			free(buf);
			return -ENOMEM;
		}
		buf = nb;
		n = mw_read_full(fd, buf + have, cap + 1 - have);
		if (n < 0) {
			free(buf);
			return (int)n;
		}
		have += (size_t)n;
		if (have <= cap)
			break;
		if (cap == max) {
			free(buf);
			return -EFBIG;
		}
		/* grown since fstat: on to the bound */
		cap = max - cap > cap ? 2 * cap + 4096 : max;
		if (cap > max)
			cap = max;
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}

int mw_write_all(int fd, const void *buf, size_t n)
{
	return write_all_at(fd, buf, n, -1);
}

int mw_pwrite_all(int fd, const void *buf, size_t n, off_t off)
{
	if (off < 0)
		return -EINVAL;
	return write_all_at(fd, buf, n, off);
}

int mw_fsync_parent(const char *dir, char *err, size_t errlen)
{
	char parent[PATH_MAX], *slash;
	int fd, rc;

	if (snprintf(parent, sizeof(parent), "%s", dir) >=
	    (int)sizeof(parent)) {
		mw_set_err(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	/* "a/b/" names a/b: trailing slashes are not a level */
	for (size_t n = strlen(parent); n > 1 && parent[n - 1] == '/';)
		parent[--n] = '\0';
	slash = strrchr(parent, '/');
	if (!slash)
		snprintf(parent, sizeof(parent), ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", parent, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (close(fd)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", parent, strerror(errno));
		return rc;
	}
	return 0;
}

int mw_open_regular_flags(int dirfd, const char *path, int flags, mode_t mode,
			  struct stat *st)
{
	struct stat own;
	int fd, e;

	if (!st)
		st = &own;
	fd = openat(dirfd, path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		    mode);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st)) {
		e = -errno;
		goto fail;
	}
	if (!S_ISREG(st->st_mode)) {
		e = -EINVAL;
		goto fail;
	}
	/* F_SETFL takes the status flags alone: O_APPEND stays */
	if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
		e = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return e;
}

int mw_open_regular(int dirfd, const char *path, bool nofollow)
{
	return mw_open_regular_flags(
		dirfd, path, O_RDONLY | (nofollow ? O_NOFOLLOW : 0), 0, NULL);
}

int mw_read_regular(int dirfd, const char *path, bool nofollow, size_t max,
		    char **out, size_t *len)
{
	int fd = mw_open_regular(dirfd, path, nofollow), rc;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return fd;
	rc = mw_read_bounded(fd, max, out, len);
	close(fd);
	return rc;
}

int mw_read_regular_err(const char *path, bool nofollow, size_t max, char **out,
			size_t *len, char *err, size_t errlen)
{
	int rc = mw_read_regular(AT_FDCWD, path, nofollow, max, out, len);

	if (rc == -EINVAL)
		snprintf(err, errlen, "%s: not a regular file", path);
	else if (rc == -EFBIG)
		snprintf(err, errlen, "%s: larger than %zu bytes", path, max);
	else if (rc)
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}
