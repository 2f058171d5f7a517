/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit spool: a local, fsync'd file of audit lines (the COPY text
 * lines of audit.c, each ending in '\n', none holding a NUL byte) that
 * makes events durable while PostgreSQL cannot take them, and from which
 * they are shipped when it can again. One file per spool directory:
 *
 *   <dir>/events.spool   the lines, in seq order, then NUL bytes
 *
 * The lines end at the first NUL byte (or the file's end). Lines that are
 * recorded elsewhere (mw_spool_reset) stay in the file until they fill a
 * few MiB; then new lines are written from the start, over them, and they
 * are overwritten with NUL bytes ahead of the new ones: the file's blocks
 * are reused, and an fdatasync over written blocks flushes the data
 * without a journal commit. After the lines come NUL bytes: an append
 * first makes the bytes it writes, and the one after, NUL on the disk
 * (the recycled lines further on are overwritten later); a write that
 * fails part-way (ENOSPC, EIO) is put back before the error is returned;
 * and whatever a crash left after the last whole line (a torn line, pages
 * of an unsynced write, recycled lines not yet overwritten) is cut off at
 * open and reported.
 * Nothing here knows what a line means: the caller reads seq and hash
 * from it.
 */
#ifndef MW_SPOOL_H
#define MW_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_SPOOL_FILE "events.spool"
#define MW_SPOOL_LINE_MAX (64u << 20) /* a line longer than this is corrupt */
/*
 * Recorded lines stay in the file until they fill this much; then the
 * next append starts again at offset 0, and the recorded lines are
 * overwritten with NUL bytes ahead of the appends, 256 KiB and one
 * fdatasync at a time, before an append writes there. A reset itself
 * costs nothing, and the file's blocks are kept: overwriting written
 * blocks changes no metadata, so fdatasync flushes the data alone,
 * without the journal commit an append that grows the file waits for (on
 * the project's VM a third of each flush, and most of its tail under
 * load).
 */
#define MW_SPOOL_RECYCLE_BYTES (4u << 20)
/* A file larger than this (an outage's backlog) is cut to 0 instead of
 * being overwritten, which frees its blocks. */
#define MW_SPOOL_KEEP_BYTES (16u << 20)

struct mw_spool;

/*
 * Opens (creating dir, mode 0700, and the file, 0600) the spool. A dir
 * that is not the effective user's own, or that group or others may write
 * to, is refused (-EPERM); so is a file that is a symbolic link, not a
 * regular file or not the user's. The file is locked (flock): a second
 * open, from this process or another, fails with -EWOULDBLOCK until the
 * first is closed. *torn (may be NULL) gets the number of bytes other than
 * NUL found after the last whole line, which were cut off (synced, and
 * logged); a file whose lines end in more than MW_SPOOL_LINE_MAX bytes
 * without a '\n' is no spool (-EBADMSG, left as it is). Returns 0 or
 * -errno with a message in err.
 */
int mw_spool_open(struct mw_spool **out, const char *dir, size_t *torn,
		  char *err, size_t errlen);
void mw_spool_close(struct mw_spool *s);

/* The file's path (for messages), and the bytes of its lines not yet
 * recorded elsewhere (those since the last mw_spool_reset). */
const char *mw_spool_path(const struct mw_spool *s);
uint64_t mw_spool_size(const struct mw_spool *s);

/*
 * Appends n bytes (whole lines) and makes them durable (pwrite(2) after
 * the last line until done, then fdatasync). Data that does not end in
 * '\n', holds a NUL byte or a line longer than MW_SPOOL_LINE_MAX is
 * refused (-EINVAL); n == 0 does nothing. When the file system is full and
 * every line in the file is recorded elsewhere, their space is reused
 * (see mw_spool_reset). On failure (-ENOSPC when the file system is full)
 * nothing of the bytes stays in the file (lines recorded elsewhere may
 * have been dropped to make room), and -errno is returned; the spool is
 * still usable (the next append may succeed when space comes back).
 *
 * A failed write or fdatasync leaves what the disk holds unknown: the
 * kernel may have written some or all of the bytes before the error, and
 * putting them back is not synced (the device is failing anyway). After a
 * crash such lines may be found, whole or torn (cut at the next open):
 * the caller must count them as not spooled, yet accept finding them
 * later (the same seq twice). Retrying the fdatasync would
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
 * bytes there were when the scan began are read: cb may append. After a
 * reset, the lines before it are not passed on.
 */
int mw_spool_scan(struct mw_spool *s,
		  int (*cb)(void *arg, const char *line, size_t len),
		  void *arg);

/*
 * Everything in the file is recorded elsewhere: mw_spool_size is 0, and
 * the lines stay in the file until they fill MW_SPOOL_RECYCLE_BYTES; then
 * the next append writes from offset 0 (a file grown past
 * MW_SPOOL_KEEP_BYTES by an outage is cut to 0 first). An open after a
 * crash finds them again (the caller skips what the database holds), or
 * cuts those a recycle left behind the new lines. Runs at every drain: it
 * writes nothing itself. Returns 0 or -errno.
 */
int mw_spool_reset(struct mw_spool *s);

/*
 * At a clean stop with everything recorded elsewhere (mw_spool_size 0,
 * else -EBUSY): overwrites the lines with NUL bytes, synced (a file past
 * MW_SPOOL_KEEP_BYTES is cut to 0), so that the next start finds no line
 * of this run's (a database restored or a host renamed meanwhile would
 * not know them) and still writes over the file's blocks. Returns 0 or
 * -errno; after a failure the next append still leaves the file right
 * (it puts back stray bytes first, and clears ahead of itself).
 */
int mw_spool_clear(struct mw_spool *s);

#endif
