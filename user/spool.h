/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit spool: a local, fsync'd, append-only file of audit lines (the
 * COPY text lines of audit.c, each ending in '\n') that makes events
 * durable while PostgreSQL cannot take them, and from which they are
 * shipped when it can again. One file per spool directory:
 *
 *   <dir>/events.spool   the lines, in seq order
 *
 * The file holds only whole lines: a write that fails part-way (ENOSPC,
 * EIO) is cut back to the last whole line before the error is returned,
 * and a torn last line found at open (a crash in the middle of a write,
 * before its sync) is cut off and reported. Nothing here knows what a
 * line means: the caller reads seq and hash from it.
 */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_SPOOL_FILE "events.spool"
#define MW_SPOOL_LINE_MAX (64u << 20) /* a line longer than this is corrupt */

struct mw_spool;

/*
 * Opens (creating dir, mode 0700, and the file, 0600) the spool. A dir
 * that is not the effective user's own, or that group or others may write
 * to, is refused (-EPERM); so is a file that is a symbolic link, not a
 * regular file or not the user's. The file is locked (flock): a second
 * open, from this process or another, fails with -EWOULDBLOCK until the
 * first is closed. *torn (may be NULL) gets the number of bytes of a torn
 * last line that were cut off (synced, and logged); a file that ends in
 * more than MW_SPOOL_LINE_MAX bytes without a '\n' is no spool (-EBADMSG,
 * left as it is). Returns 0 or -errno with a message in err.
 */
int mw_spool_open(struct mw_spool **out, const char *dir, size_t *torn,
		  char *err, size_t errlen);
void mw_spool_close(struct mw_spool *s);

/* The file's path (for messages) and its size in bytes. */
const char *mw_spool_path(const struct mw_spool *s);
uint64_t mw_spool_size(const struct mw_spool *s);

/*
 * Appends n bytes (whole lines) and makes them durable (write(2) until
 * done, then fdatasync). Data that does not end in '\n', or holds a line
 * longer than MW_SPOOL_LINE_MAX, is refused (-EINVAL); n == 0 does
 * nothing. On failure (-ENOSPC when the file system is full) the file is
 * cut back to its size before the call, so that nothing of them stays in
 * it, and -errno is returned; the spool is still usable (the next append
 * may succeed when space comes back).
 *
 * A failed fdatasync is a failure too, and then what the disk holds is
 * unknown: the kernel may have written some or all of the bytes before
 * the error, and the cut back itself is not synced (the device is failing
 * anyway). After a crash such lines may be found, whole or torn (cut at
 * the next open): the caller must count them as not spooled, yet accept
 * finding them later (the same seq twice). Retrying the fdatasync would
 * not help: Linux reports a writeback error once, and may have dropped
 * the pages.
 */
int mw_spool_append(struct mw_spool *s, const void *data, size_t n);

/*
 * Calls cb for every line in the file, in order, with the line without
 * its '\n' (len bytes, not NUL-terminated, valid during the call only;
 * an empty line has len 0 and is passed on). cb returns 0 to go on, or
 * non-zero to stop (returned as is: a callback should return positive
 * values, to be told from this function's -errno). Lines longer than
 * MW_SPOOL_LINE_MAX are an error (-EBADMSG). Reads in bounded chunks (a
 * 1 MiB buffer, grown only for a longer line, up to MW_SPOOL_LINE_MAX + 1
 * bytes): the file may be far larger than memory. Only the mw_spool_size
 * bytes there were when the scan began are read: cb may append.
 */
int mw_spool_scan(struct mw_spool *s,
		  int (*cb)(void *arg, const char *line, size_t len),
		  void *arg);

/*
 * Empties the file (everything in it is recorded elsewhere). Not synced:
 * it runs at every drain, and a sync costs what an append does. After a
 * crash the old lines may come back, all of them recorded elsewhere (the
 * caller skips what the database holds); the next append's fdatasync
 * makes the truncation durable with the new lines (the size is part of
 * what fdatasync writes). Returns 0 or -errno.
 */
int mw_spool_reset(struct mw_spool *s);

#endif
