/* SPDX-License-Identifier: BSD-2-Clause */
#include "private_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static bool ours(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/* Only root or this uid may rename or replace what is in it. */
static bool parent_is_safe(const struct stat *st)
{
	return ours(st) && (!(st->st_mode & (S_IWGRP | S_IWOTH)) ||
			    (st->st_mode & S_ISVTX));
}

static bool dir_is_private(const struct stat *st)
{
	return ours(st) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/*
 * One component: stat'ed without following a link, made first when make
 * asks for it, then judged as a parent or as dir itself.
 */
static int check_component(const char *path, bool last, bool make, mode_t mode,
			   const char *what, struct stat *st, char *err,
			   size_t errlen)
{
	int e;

	if (lstat(path, st)) {
		e = errno;
		if (e != ENOENT || !make) {
			mw_set_err(err, errlen, "%s: %s: %s", what, path,
				   strerror(e));
			return -e;
		}
		if (mkdir(path, last ? mode : 0755) && errno != EEXIST) {
			e = errno;
			mw_set_err(err, errlen, "%s: cannot create %s: %s",
				   what, path, strerror(e));
			return -e;
		}
		if (lstat(path, st)) {
			e = errno;
			mw_set_err(err, errlen, "%s: %s: %s", what, path,
				   strerror(e));
			return -e;
		}
	}
	if (S_ISLNK(st->st_mode)) {
		mw_set_err(err, errlen,
			   "%s: %s is a symbolic link, whose target could be "
			   "switched: give the path it leads to",
			   what, path);
		return -EPERM;
	}
	if (!S_ISDIR(st->st_mode)) {
		mw_set_err(err, errlen, "%s: %s is not a directory", what,
			   path);
		return -ENOTDIR;
	}
	if (!last && !parent_is_safe(st)) {
		mw_set_err(err, errlen,
			   "%s: %s, above it, may be changed by others than "
			   "root and uid %u (uid %u, mode %04o): another user "
			   "could put a directory of their own in its place",
			   what, path, (unsigned)geteuid(),
			   (unsigned)st->st_uid,
			   (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	if (last && !dir_is_private(st)) {
		mw_set_err(err, errlen,
			   "%s %s is not a directory that only root or uid "
			   "%u may write (uid %u, mode %04o): another user "
			   "could put files or links in it; remove it, or "
			   "give it to root with mode 0700",
			   what, path, (unsigned)geteuid(),
			   (unsigned)st->st_uid,
			   (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* From the root down, so that nothing is made inside a directory that
 * was not judged first. */
static int walk(const char *dir, bool make, mode_t mode, const char *what,
		char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n = dir ? strlen(dir) : 0;
	char *p, *next;
	int rc;

	if (!n || dir[0] != '/') {
		mw_set_err(err, errlen, "%s %s: not an absolute path", what,
			   dir ? dir : "(none)");
		return -EINVAL;
	}
	if (n >= sizeof(path)) {
		mw_set_err(err, errlen, "%s: path too long", what);
		return -ENAMETOOLONG;
	}
	memcpy(path, dir, n + 1);
	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	rc = check_component("/", n == 1, make, mode, what, &st, err, errlen);
	for (p = path + 1; !rc && *p; p = next) {
		size_t len;

		next = strchr(p, '/');
		len = next ? (size_t)(next - p) : strlen(p);
		if ((len == 1 && p[0] == '.') ||
		    (len == 2 && p[0] == '.' && p[1] == '.')) {
			mw_set_err(err, errlen,
				   "%s %s: give it without . or .. "
				   "components",
				   what, dir);
			return -EINVAL;
		}
		if (next)
			*next = '\0';
		if (len) /* "//" is one separator */
			rc = check_component(path, !next, make, mode, what, &st,
					     err, errlen);
		if (next)
			*next++ = '/';
		else
			next = p + len;
	}
	return rc;
}

/*
 * Every directory from the root down to dir (absolute) is one that only
 * root or this uid may change, sticky ones too; follow: through links
 * (their containing directories judged), or refusing them.
 */
static int parents_safe(const char *dir, bool follow, const char *what,
			char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	size_t n = strlen(dir);

	if (n >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		char c = path[i];

		if (c != '/' && c != '\0')
			continue;
		path[i] = '\0';
		if ((follow ? stat(path[0] ? path : "/", &st)
			    : lstat(path[0] ? path : "/", &st))) {
			int e = errno;

			mw_set_err(err, errlen, "%s: %s: %s", what, path,
				   strerror(e));
			return -e;
		}
		if (!S_ISDIR(st.st_mode) || !parent_is_safe(&st)) {
			mw_set_err(err, errlen,
				   "%s: %s, above it, may be changed by others "
				   "than root and uid %u (uid %u, mode %04o): "
				   "another user could put a file of their own "
				   "in its place",
				   what, path, (unsigned)geteuid(),
				   (unsigned)st.st_uid,
				   (unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		path[i] = c;
	}
	return 0;
}

int mw_private_file_check(const char *file, const char *what, char *err,
			  size_t errlen)
{
	char abs[PATH_MAX], real[PATH_MAX], cwd[PATH_MAX];
	struct stat st;
	int rc;

	errno = 0;
	if (file[0] == '/')
		rc = snprintf(abs, sizeof(abs), "%s", file);
	else if (getcwd(cwd, sizeof(cwd)))
		rc = snprintf(abs, sizeof(abs), "%s/%s", cwd, file);
	else
		rc = -1;
	if (rc < 0 || (size_t)rc >= sizeof(abs) || !realpath(abs, real)) {
		rc = errno ? errno : ENAMETOOLONG;
		mw_set_err(err, errlen, "%s %s: %s", what, file, strerror(rc));
		return -rc;
	}
	/* the directories named, and those the links lead through */
	*strrchr(abs, '/') = '\0';
	rc = parents_safe(abs, true, what, err, errlen);
	if (!rc) {
		*strrchr(real, '/') = '\0';
		rc = parents_safe(real, false, what, err, errlen);
		real[strlen(real)] = '/';
	}
	if (rc)
		return rc;
	if (stat(real, &st)) {
		rc = errno;
		mw_set_err(err, errlen, "%s %s: %s", what, file, strerror(rc));
		return -rc;
	}
	if (!S_ISREG(st.st_mode) || !dir_is_private(&st)) {
		mw_set_err(err, errlen,
			   "%s %s is not a file that only root or uid %u may "
			   "write (uid %u, mode %04o): another user could "
			   "change what the daemon enforces; give it to root "
			   "with mode 0644 or 0600",
			   what, file, (unsigned)geteuid(), (unsigned)st.st_uid,
			   (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int mw_private_dir_check(const char *dir, const char *what, char *err,
			 size_t errlen)
{
	return walk(dir, false, 0, what, err, errlen);
}

int mw_private_dir_make(const char *dir, mode_t mode, const char *what,
			char *err, size_t errlen)
{
	struct stat st;
	int fd, rc, e;

	rc = walk(dir, true, mode ? mode : 0700, what, err, errlen);
	if (rc || !mode)
		return rc;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		mw_set_err(err, errlen, "%s %s: %s", what, dir, strerror(e));
		return -e;
	}
	/* the directory judged, not one put in its place since */
	if (fstat(fd, &st) || !dir_is_private(&st)) {
		mw_set_err(err, errlen, "%s %s changed while it was checked",
			   what, dir);
		close(fd);
		return -EPERM;
	}
	if (fchmod(fd, mode)) {
		e = errno;
		mw_set_err(err, errlen, "%s %s: cannot set mode %04o: %s", what,
			   dir, (unsigned)mode, strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

int mw_private_dir_lock(const char *dir, const char *what, char *err,
			size_t errlen)
{
	int fd, e;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		mw_set_err(err, errlen, "%s %s: %s", what, dir, strerror(e));
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		e = errno;
		if (e == EWOULDBLOCK)
			mw_set_err(err, errlen, "another mcpwardend uses %s %s",
				   what, dir);
		else
			mw_set_err(err, errlen, "%s %s: cannot lock: %s", what,
				   dir, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}
