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

#define MAX_LINKS 40 /* as the kernel's path walk */

/*
 * file resolved by hand, one component at a time from the root, so that
 * everything the walk goes through is judged: each directory one that
 * only root or this uid may change (sticky ones too: nobody renames there
 * what is not theirs), each link root's or this uid's (in a sticky /tmp a
 * link of another user's could be re-pointed at will), and the file at
 * the end. real gets the path resolved; 0, or -errno with why in err.
 */
static int resolve_private(const char *file, const char *what, char *real,
			   size_t reallen, char *err, size_t errlen)
{
	char rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	int links = 0, n, e;
	struct stat st;
	size_t len;

	if (lstat("/", &st) || !parent_is_safe(&st)) {
		mw_set_err(err, errlen,
			   "%s %s: / may be changed by others "
			   "than root and uid %u",
			   what, file, (unsigned)geteuid());
		return -EPERM;
	}
	if (file[0] == '/')
		n = snprintf(rest, sizeof(rest), "%s", file);
	else if (getcwd(next, sizeof(next)))
		n = snprintf(rest, sizeof(rest), "%s/%s", next, file);
	else
		n = -1;
	if (n < 0 || (size_t)n >= sizeof(rest)) {
		mw_set_err(err, errlen, "%s %s: path too long", what, file);
		return -ENAMETOOLONG;
	}
	real[0] = '\0';
	for (char *p = rest;;) {
		char *c;

		while (*p == '/')
			p++;
		if (!*p) {
			mw_set_err(err, errlen, "%s %s: not a file", what,
				   file);
			return -EISDIR;
		}
		c = p;
		p += strcspn(p, "/");
		len = (size_t)(p - c);
		if (len == 1 && c[0] == '.')
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			/* what is above real was judged on the way down */
			char *slash = strrchr(real, '/');

			if (slash)
				*slash = '\0';
			continue;
		}
		n = snprintf(next, sizeof(next), "%s/%.*s", real, (int)len, c);
		if (n < 0 || (size_t)n >= sizeof(next)) {
			mw_set_err(err, errlen, "%s %s: path too long", what,
				   file);
			return -ENAMETOOLONG;
		}
		if (lstat(next, &st)) {
			e = errno;
			mw_set_err(err, errlen, "%s %s: %s: %s", what, file,
				   next, strerror(e));
			return -e;
		}
		if (S_ISLNK(st.st_mode)) {
			ssize_t t;

			if (!ours(&st) || ++links > MAX_LINKS) {
				mw_set_err(err, errlen,
					   "%s %s: the link %s is uid %u's, "
					   "who may point it elsewhere",
					   what, file, next,
					   (unsigned)st.st_uid);
				return links > MAX_LINKS ? -ELOOP : -EPERM;
			}
			t = readlink(next, target, sizeof(target) - 1);
			if (t < 0 ||
			    strlen(p) + (size_t)t + 2 > sizeof(target)) {
				mw_set_err(err, errlen, "%s %s: %s: %s", what,
					   file, next,
					   t < 0 ? strerror(errno)
						 : "path too long");
				return t < 0 ? -errno : -ENAMETOOLONG;
			}
			/* the target, then what was left after the link */
			target[t] = '\0';
			strcat(target, "/");
			strcat(target, p);
			if (target[0] == '/')
				real[0] = '\0';
			memcpy(rest, target, strlen(target) + 1);
			p = rest;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			if (!parent_is_safe(&st)) {
				mw_set_err(
					err, errlen,
					"%s %s: %s, above it, may be changed "
					"by others than root and uid %u (uid "
					"%u, mode %04o): another user could "
					"put a file of their own in its "
					"place",
					what, file, next, (unsigned)geteuid(),
					(unsigned)st.st_uid,
					(unsigned)(st.st_mode & 07777));
				return -EPERM;
			}
			memcpy(real, next, (size_t)n + 1);
			continue;
		}
		/* the file: nothing may follow it */
		while (*p == '/')
			p++;
		if (*p || !S_ISREG(st.st_mode)) {
			mw_set_err(err, errlen,
				   "%s %s: %s is not a regular file", what,
				   file, next);
			return -EINVAL;
		}
		if (!dir_is_private(&st)) {
			mw_set_err(
				err, errlen,
				"%s %s is not a file that only root or uid "
				"%u may write (uid %u, mode %04o): another "
				"user could change what the daemon enforces; "
				"give it to root with mode 0644 or 0600",
				what, file, (unsigned)geteuid(),
				(unsigned)st.st_uid,
				(unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		if ((size_t)n >= reallen)
			return -ENAMETOOLONG;
		memcpy(real, next, (size_t)n + 1);
		return 0;
	}
}

int mw_private_file_check(const char *file, const char *what, char *err,
			  size_t errlen)
{
	char real[PATH_MAX];

	return resolve_private(file, what, real, sizeof(real), err, errlen);
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
