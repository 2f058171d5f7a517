/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Whole transfers on blocking descriptors: a read or write that returns
 * less than asked, or fails with EINTR, is carried on.
 */
#ifndef MW_FDIO_H
#define MW_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Reads until n bytes or the end of the file: the count read (less than n
 * only at the end), or -errno. */
ssize_t mw_read_full(int fd, void *buf, size_t n);
/* The same from offset off, which the file position does not follow. */
ssize_t mw_pread_full(int fd, void *buf, size_t n, off_t off);
/* Writes all n bytes: 0, or -errno (-EIO when a write takes nothing). */
int mw_write_all(int fd, const void *buf, size_t n);
/* The same at offset off. */
int mw_pwrite_all(int fd, const void *buf, size_t n, off_t off);

/*
 * Syncs the directory that holds path (a file or directory just made is a
 * name there too): 0, or -errno with "dir: reason" in err.
 */
int mw_fsync_parent(const char *path, char *err, size_t errlen);
#endif
