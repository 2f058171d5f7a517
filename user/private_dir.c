/* SPDX-License-Identifier: BSD-2-Clause */
#include "private_dir.h"

#include <errno.h>
#include <linux/magic.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
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
 * Whether a link found in the directory cur (as resolved so far: "" is
 * the root) may be followed. Its target is fixed when it is made: only
 * whoever may replace it matters, and cur was judged (only root or this
 * uid may write it) unless it is sticky, where the link's owner may
 * replace it. /proc's links (/proc/self/fd/N, /dev/fd/N, .../root) are
 * not names but open files, which the name read back does not show.
 */
static int link_followable(const char *cur, const struct stat *link,
			   const char *what, const char *file, const char *path,
			   char *err, size_t errlen)
{
	struct statfs sfs;
	struct stat dir;

	if (statfs(cur[0] ? cur : "/", &sfs) ||
	    sfs.f_type == PROC_SUPER_MAGIC) {
		mw_set_err(err, errlen,
			   "%s %s: %s is a /proc link, to an open file and not "
			   "a name: give the file's own path",
			   what, file, path);
		return -EPERM;
	}
	if (ours(link))
		return 0;
	if (lstat(cur[0] ? cur : "/", &dir) ||
	    ((dir.st_mode & S_ISVTX) && (dir.st_mode & (S_IWGRP | S_IWOTH)))) {
		mw_set_err(err, errlen,
			   "%s %s: the link %s is uid %u's, who may point it "
			   "elsewhere",
			   what, file, path, (unsigned)link->st_uid);
		return -EPERM;
	}
	return 0;
}

/*
 * file resolved by hand, one component at a time from the root, so that
 * everything the walk goes through is judged: each directory one that
 * only root or this uid may change (sticky ones too: nobody renames there
 * what is not theirs), each link one nobody else may re-point, and the
 * file at the end. 0, or -errno with why in err.
 */
int mw_private_file_check(const char *file, const char *what, char *err,
			  size_t errlen)
{
	char rest[PATH_MAX], next[PATH_MAX], target[PATH_MAX];
	char cur[PATH_MAX]; /* the directory resolved so far; "" is / */
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
	if (file[0] == '/') {
		n = snprintf(rest, sizeof(rest), "%s", file);
	} else if (getcwd(next, sizeof(next))) {
		n = snprintf(rest, sizeof(rest), "%s/%s", next, file);
	} else {
		e = errno;
		mw_set_err(err, errlen, "%s %s: the working directory: %s",
			   what, file, strerror(e));
		return -e;
	}
	if (n < 0 || (size_t)n >= sizeof(rest)) {
		mw_set_err(err, errlen, "%s %s: path too long", what, file);
		return -ENAMETOOLONG;
	}
	cur[0] = '\0';
	for (char *p = rest;;) {
		char *c;

		while (*p == '/')
			p++;
		if (!*p) {
			mw_set_err(err, errlen,
				   "%s %s: a directory, not a file", what,
				   file);
			return -EISDIR;
		}
		c = p;
		p += strcspn(p, "/");
		len = (size_t)(p - c);
		if (len == 1 && c[0] == '.')
			continue;
		if (len == 2 && c[0] == '.' && c[1] == '.') {
			/* what is above cur was judged on the way down */
			char *slash = strrchr(cur, '/');

			if (slash)
				*slash = '\0';
			continue;
		}
		n = snprintf(next, sizeof(next), "%s/%.*s", cur, (int)len, c);
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

			if (++links > MAX_LINKS) {
				mw_set_err(err, errlen,
					   "%s %s: more than %d symbolic links",
					   what, file, MAX_LINKS);
				return -ELOOP;
			}
			e = link_followable(cur, &st, what, file, next, err,
					    errlen);
			if (e)
				return e;
			t = readlink(next, target, sizeof(target) - 1);
			if (t < 0) {
				e = errno;
				mw_set_err(err, errlen, "%s %s: %s: %s", what,
					   file, next, strerror(e));
				return -e;
			}
			if (strlen(p) + (size_t)t + 1 > sizeof(target)) {
				mw_set_err(err, errlen, "%s %s: path too long",
					   what, file);
				return -ENAMETOOLONG;
			}
			/* the target, then what was left after the link
			 * (p is at its '/', or at the end) */
			target[t] = '\0';
			strcat(target, p);
			if (target[0] == '/')
				cur[0] = '\0';
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
			memcpy(cur, next, (size_t)n + 1);
			continue;
		}
		/* the file: nothing may follow it, not even a slash */
		if (*p) {
			mw_set_err(err, errlen, "%s %s: %s is not a directory",
				   what, file, next);
			return -ENOTDIR;
		}
		if (!S_ISREG(st.st_mode)) {
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
				"replace it with a copy root makes (install "
				"-o root -g root -m 0644 ...): a chmod leaves "
				"the writer a descriptor already open",
				what, file, (unsigned)geteuid(),
				(unsigned)st.st_uid,
				(unsigned)(st.st_mode & 07777));
			return -EPERM;
		}
		return 0;
	}
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

int mw_dir_open_nofollow(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	int e;

	if (fd >= 0)
		return fd;
	e = errno;
	/* O_DIRECTORY says ENOTDIR before O_NOFOLLOW says ELOOP */
	mw_set_err(err, errlen, "%s: %s", dir,
		   !lstat(dir, &st) && S_ISLNK(st.st_mode)
			   ? "a symbolic link, not a directory"
			   : strerror(e));
	return -e;
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
