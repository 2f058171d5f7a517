/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Whole transfers on blocking descriptors: a read or write that returns
 * less than asked, or fails with EINTR, is carried on.
 */
#ifndef MW_FDIO_H
#define MW_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Reads until n bytes or the end of the file: the count read (less than n
 * only at the end), or -errno. */
ssize_t mw_read_full(int fd, void *buf, size_t n);
/* The same from offset off, which the file position does not follow. */
ssize_t mw_pread_full(int fd, void *buf, size_t n, off_t off);
/*
 * Reads fd to its end into *out (malloc'd, NUL-terminated, *len bytes):
 * 0, -EFBIG past max bytes, or -errno. The buffer starts at the file's
 * size, not at max, so that a small file of a large bound costs little;
 * a file that grows meanwhile is read on, to the bound.
 */
int mw_read_bounded(int fd, size_t max, char **out, size_t *len);
/* Writes all n bytes: 0, or -errno (-EIO when a write takes nothing). */
int mw_write_all(int fd, const void *buf, size_t n);
/* The same at offset off. */
int mw_pwrite_all(int fd, const void *buf, size_t n, off_t off);

/*
 * Opens path (relative to dirfd; AT_FDCWD: to the working directory) for
 * reading, only when it is a regular file: a FIFO would block the open or
 * the reads for ever, a device such as /dev/zero never end. Opened
 * O_NONBLOCK so that a FIFO cannot hang the open, refused unless fstat
 * says S_ISREG, then made blocking again. nofollow: not through a
 * symbolic link in its last component (-ELOOP). The descriptor
 * (O_CLOEXEC), or -errno: -EINVAL for what is not a regular file.
 */
int mw_open_regular(int dirfd, const char *path, bool nofollow);

/*
 * A regular file whole, to a bound: mw_open_regular then mw_read_bounded.
 * 0, or -errno (-EINVAL: not a regular file; -EFBIG: past max bytes).
 */
int mw_read_regular(int dirfd, const char *path, bool nofollow, size_t max,
		    char **out, size_t *len);
/* The same for a path, with "path: reason" in err when it fails (-ENOENT
 * too: the caller may take that as "none"). */
int mw_read_regular_err(const char *path, bool nofollow, size_t max, char **out,
			size_t *len, char *err, size_t errlen);

/*
 * The same for any open: flags as open(2) takes them (O_RDWR, O_APPEND,
 * O_CREAT with mode, O_NOFOLLOW, ...), the file refused unless regular,
 * O_NONBLOCK for the open alone. *st (may be NULL) gets what fstat said,
 * for the caller's own checks (owner, mode, links).
 */
int mw_open_regular_flags(int dirfd, const char *path, int flags, mode_t mode,
			  struct stat *st);

/*
 * Syncs the directory that holds path (a file or directory just made is a
 * name there too): 0, or -errno with "dir: reason" in err.
 */
int mw_fsync_parent(const char *path, char *err, size_t errlen);
#endif
