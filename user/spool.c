// SPDX-License-Identifier: BSD-2-Clause
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"
#include "private_dir.h"

/* Read size of the forward search for the lines' end at open. */
#define MW_SPOOL_OPEN_CHUNK (1u << 20)
/* First buffer of a scan; it grows (to MW_SPOOL_LINE_MAX + 1) only for a
 * line that does not fit. */
#define MW_SPOOL_SCAN_CHUNK (1u << 20)
/* Recycled lines are overwritten with NUL bytes this much at a time, ahead
 * of the appends (see clear_ahead). */
#define MW_SPOOL_CLEAR_CHUNK (256u << 10)

struct mw_spool {
	char path[PATH_MAX];
	int fd;
	/* Lines before start are recorded elsewhere (a reset); after open
	 * the scan takes them all. */
	uint64_t start;
	/* Where the whole lines end: the next append's offset */
	uint64_t size;
	/* The file's size; from size to here it holds NUL bytes only, but
	 * in [stale_from, stale_end) and after a failed cut back (see cut) */
	uint64_t file_size;
	/* Recycled lines, recorded elsewhere, not yet overwritten with NUL
	 * bytes on the disk (size <= stale_from while any remain) */
	uint64_t stale_from, stale_end;
	bool cut; /* a failed append's bytes past size may remain */
	bool recycle; /* due before the next append (see MW_SPOOL_RECYCLE_BYTES) */
};

/*
 * Opens dir (made 0700 when missing) and checks it is the daemon's own,
 * below directories only root or the daemon may change, as state_dir is:
 * a spool others may write to, or put another directory in the place of,
 * could be fed lines the daemon would ship as its own audit events.
 * Returns the directory's fd or -errno.
 */
static int open_dir(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	bool made;
	int dfd, rc;

	made = lstat(dir, &st) && errno == ENOENT;
	rc = mw_private_dir_make(dir, 0, "spool directory", err, errlen);
	if (rc)
		return rc;
	if (made) {
		rc = mw_fsync_parent(dir, err, errlen);
		if (rc)
			return rc;
	}
	dfd = mw_dir_open_nofollow(dir, err, errlen);
	if (dfd < 0)
		return dfd;
	if (fstat(dfd, &st)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	/* root's will not do when the daemon runs as another user */
	if (st.st_uid != geteuid()) {
		rc = -EPERM;
		mw_set_err(err, errlen,
			   "%s: owned by uid %u, not by uid %u that the "
			   "daemon runs as: the spool directory must be the "
			   "daemon's own",
			   dir, (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	return dfd;
fail:
	close(dfd);
	return rc;
}

/*
 * Opens the file in dfd, creating it 0600; *made says it was created (so
 * the directory needs a sync). Returns the fd or -errno.
 */
static int open_file(int dfd, const char *path, bool *made, char *err,
		     size_t errlen)
{
	const int flags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;
	int fd, rc;

	/* Twice at most: a file removed between the two opens is made. */
	for (int tries = 0; tries < 2; tries++) {
		fd = openat(dfd, MW_SPOOL_FILE, flags | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			*made = true;
			return fd;
		}
		if (errno != EEXIST)
			break;
		fd = openat(dfd, MW_SPOOL_FILE, flags);
		if (fd >= 0) {
			*made = false;
			return fd;
		}
		if (errno != ENOENT)
			break;
	}
	rc = -errno;
	mw_set_err(err, errlen, "%s: %s", path,
		   rc == -ELOOP ? "a symbolic link, not the spool file"
				: strerror(-rc));
	return rc;
}

/* Non-NUL bytes in buf. */
static size_t count_set(const char *buf, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += buf[i] != '\0';
	return c;
}

/*
 * Where the whole lines end: just after the last '\n' before the first
 * NUL byte (or the end of the file), in bounded forward reads. *stray
 * gets the count of bytes other than NUL after that: a torn line, and
 * what an append a crash interrupted left further on (its pages reach the
 * disk in any order, so a written page may follow one still NUL). A torn
 * line longer than MW_SPOOL_LINE_MAX was never written here.
 */
static int lines_end(struct mw_spool *s, uint64_t *keep, uint64_t *stray,
		     char *err, size_t errlen)
{
	uint64_t off = 0, nul = UINT64_MAX;
	char *buf, *p;
	ssize_t n;
	int rc = 0;

	*keep = 0;
	*stray = 0;
	if (!s->file_size)
		return 0;
	buf = malloc(MW_SPOOL_OPEN_CHUNK);
	if (!buf) {
		mw_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (off < s->file_size) {
		size_t chunk = s->file_size - off < MW_SPOOL_OPEN_CHUNK
				       ? (size_t)(s->file_size - off)
				       : MW_SPOOL_OPEN_CHUNK;

		n = mw_pread_full(s->fd, buf, chunk, (off_t)off);
		if (n < 0) {
			rc = (int)n;
			mw_set_err(err, errlen, "%s: %s", s->path,
				   strerror(-rc));
			goto out;
		}
		if ((size_t)n != chunk) {
			rc = -EIO;
			mw_set_err(err, errlen,
				   "%s: shrank while being read: is another "
				   "process using it?",
				   s->path);
			goto out;
		}
		if (nul == UINT64_MAX) {
			char *z = memchr(buf, '\0', chunk);
			size_t lines = z ? (size_t)(z - buf) : chunk;

			p = memrchr(buf, '\n', lines);
			if (p)
				*keep = off + (uint64_t)(p - buf) + 1;
			if (z) {
				nul = off + lines;
				*stray += count_set(z, chunk - lines);
			}
		} else {
			*stray += count_set(buf, chunk);
		}
		off += chunk;
	}
	if (nul == UINT64_MAX)
		nul = s->file_size;
	*stray += nul - *keep;
	if (nul - *keep > MW_SPOOL_LINE_MAX) {
		rc = -EBADMSG;
		mw_set_err(err, errlen,
			   "%s: ends in more than %u bytes without a newline: "
			   "not an audit spool",
			   s->path, MW_SPOOL_LINE_MAX);
	}
out:
	free(buf);
	return rc;
}

/*
 * Cuts the file to n bytes (n is 0 with every line recorded, or the
 * lines' end), synced; 0 or -errno. The state follows the file as soon as
 * it is cut, even when the sync fails: the next append must not write
 * after a hole, and its own fdatasync carries the size with it.
 */
static int cut_to(struct mw_spool *s, uint64_t n)
{
	if (ftruncate(s->fd, (off_t)n))
		return -errno;
	s->file_size = n;
	s->stale_from = s->stale_end = 0;
	if (s->size > n)
		s->start = s->size = n;
	return fsync(s->fd) ? -errno : 0;
}

/*
 * Finds where the lines end and cuts off what follows when it is not all
 * NUL bytes (synced), so that the next append's bytes are followed by NUL
 * bytes only; reports the bytes cut that were not NUL.
 */
static int cut_torn(struct mw_spool *s, size_t *torn, char *err, size_t errlen)
{
	uint64_t keep, stray;
	int rc;

	rc = lines_end(s, &keep, &stray, err, errlen);
	if (rc)
		return rc;
	if (stray) {
		rc = cut_to(s, keep);
		if (rc) {
			mw_set_err(err, errlen,
				   "%s: cannot cut a torn line: %s", s->path,
				   strerror(-rc));
			return rc;
		}
		log_warn("spool %s: cut off %llu bytes after the last whole "
			 "line (recorded lines not yet cleared, or a write a "
			 "crash interrupted)",
			 s->path, (unsigned long long)stray);
	}
	s->size = keep;
	if (torn)
		*torn = (size_t)stray;
	return 0;
}

int mw_spool_open(struct mw_spool **out, const char *dir, size_t *torn,
		  char *err, size_t errlen)
{
	struct mw_spool *s = NULL;
	struct stat st;
	bool made = false;
	int dfd = -1, rc, n;

	if (torn)
		*torn = 0;
	if (!out || !dir || !dir[0]) {
		mw_set_err(err, errlen, "spool: no directory given");
		return -EINVAL;
	}
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		mw_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->fd = -1;
	n = snprintf(s->path, sizeof(s->path), "%s/%s", dir, MW_SPOOL_FILE);
	if (n < 0 || (size_t)n >= sizeof(s->path)) {
		rc = -ENAMETOOLONG;
		mw_set_err(err, errlen, "%s: spool path too long", dir);
		goto fail;
	}
	dfd = open_dir(dir, err, errlen);
	if (dfd < 0) {
		rc = dfd;
		goto fail;
	}
	s->fd = open_file(dfd, s->path, &made, err, errlen);
	if (s->fd < 0) {
		rc = s->fd;
		goto fail;
	}
	if (made && fsync(dfd)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (close(dfd)) {
		dfd = -1;
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	dfd = -1;
	/* Two writers would interleave lines, and one would cut the other's
	 * line in progress as torn. */
	if (flock(s->fd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", s->path,
			   rc == -EWOULDBLOCK
				   ? "in use by another process (is another "
				     "daemon running?)"
				   : strerror(-rc));
		goto fail;
	}
	if (fstat(s->fd, &st)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", s->path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		mw_set_err(err, errlen, "%s: not a regular file", s->path);
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		rc = -EPERM;
		mw_set_err(err, errlen,
			   "%s: owned by uid %u, not by uid %u that the "
			   "daemon runs as",
			   s->path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto fail;
	}
	if ((st.st_mode & 07777) != 0600 && fchmod(s->fd, 0600)) {
		rc = -errno;
		mw_set_err(err, errlen, "%s: %s", s->path, strerror(errno));
		goto fail;
	}
	s->file_size = (uint64_t)st.st_size;
	rc = cut_torn(s, torn, err, errlen);
	if (rc)
		goto fail;
	*out = s;
	return 0;
fail:
	if (dfd >= 0)
		close(dfd);
	mw_spool_close(s);
	return rc;
}

void mw_spool_close(struct mw_spool *s)
{
	if (!s)
		return;
	/* Every append was synced: a failing close loses nothing. */
	if (s->fd >= 0 && close(s->fd))
		log_warn("spool %s: close: %s", s->path, strerror(errno));
	free(s);
}

const char *mw_spool_path(const struct mw_spool *s)
{
	return s->path;
}

uint64_t mw_spool_size(const struct mw_spool *s)
{
	return s->size - s->start;
}

/* Writes NUL bytes over [off, off + n). */
static int zero_range(int fd, uint64_t off, uint64_t n)
{
	static const char zeros[64u << 10];

	while (n) {
		size_t chunk = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
		int rc = mw_pwrite_all(fd, zeros, chunk, (off_t)off);

		if (rc)
			return rc;
		off += chunk;
		n -= chunk;
	}
	return 0;
}

/*
 * The NUL bytes a put back wrote over a failed append are not on the disk
 * yet, and their write-back may fail as the append's sync did (its error
 * then goes to the next sync, which may be a retry's that succeeds): the
 * next append writes and syncs them again before its lines (clear_ahead),
 * or what is left of the failed lines would follow the new ones.
 */
static void mark_put_back(struct mw_spool *s, uint64_t end)
{
	if (end <= s->size)
		return;
	if (s->stale_from >= s->stale_end) {
		s->stale_from = s->size;
		s->stale_end = end;
		return;
	}
	if (s->size < s->stale_from)
		s->stale_from = s->size;
	if (end > s->stale_end)
		s->stale_end = end;
}

/*
 * Puts the file back as it was before a failed append of n bytes: NUL
 * bytes over what it wrote in the file (which clear_ahead had made NUL:
 * recycled lines past stale_from are left to it), and its size; 0 or
 * -errno. Where NUL bytes need space the file system does not have, the
 * file is cut after the lines instead. When even that fails, the next
 * append tries again before it writes: a line written after the stray
 * bytes would be read with them. Not synced: after a crash whole lines of
 * the failed append may be found (see mw_spool_append).
 */
static int cut_back(struct mw_spool *s, uint64_t n)
{
	uint64_t end = s->file_size;
	bool zeroed;
	int rc;

	if (s->stale_from < s->stale_end && s->stale_from < end)
		end = s->stale_from;
	if (n < end - s->size)
		end = s->size + n;
	rc = zero_range(s->fd, s->size, end - s->size);
	if (!rc && ftruncate(s->fd, (off_t)s->file_size))
		rc = -errno;
	zeroed = !rc;
	if (rc == -ENOSPC)
		rc = cut_to(s, s->size);
	if (rc) {
		log_err("spool %s: cannot put back the file after a failed "
			"write at %llu bytes: %s",
			s->path, (unsigned long long)s->size, strerror(-rc));
		s->cut = true;
		return rc;
	}
	s->cut = false;
	/* what it wrote NUL over, within the file (cut_to synced its cut) */
	if (zeroed)
		mark_put_back(s, end);
	return 0;
}

/*
 * Every line in the file is recorded elsewhere: the next line goes at
 * offset 0, and the old ones are overwritten with NUL bytes ahead of the
 * appends (clear_ahead); a file an outage grew past MW_SPOOL_KEEP_BYTES
 * is cut to 0 instead. 0 or -errno, and then it is still due.
 */
static int recycle(struct mw_spool *s)
{
	int rc;

	if (s->file_size > MW_SPOOL_KEEP_BYTES) {
		rc = cut_to(s, 0);
		if (rc)
			return rc;
	} else {
		s->stale_from = 0;
		if (s->size > s->stale_end)
			s->stale_end = s->size;
	}
	s->start = s->size = 0;
	s->recycle = false;
	return 0;
}

/*
 * The bytes up to need (an append's and the one after it) must be NUL on
 * the disk before the append writes, so that a crash in the middle of it
 * cannot leave new lines running into recycled ones: overwrites recycled
 * lines MW_SPOOL_CLEAR_CHUNK at a time, synced (one more flush per chunk,
 * not per append, and never a whole file's worth in one request's wait).
 * Where the file system cannot take even that (copy on write), the file
 * is cut after its lines instead. 0 or -errno.
 */
static int clear_ahead(struct mw_spool *s, uint64_t need)
{
	uint64_t to;
	int rc;

	if (s->stale_from >= s->stale_end || s->stale_from >= need)
		return 0;
	to = s->stale_from + MW_SPOOL_CLEAR_CHUNK;
	if (to < need)
		to = need;
	if (to > s->stale_end)
		to = s->stale_end;
	rc = zero_range(s->fd, s->stale_from, to - s->stale_from);
	if (!rc && fdatasync(s->fd))
		rc = -errno;
	if (rc == -ENOSPC)
		return cut_to(s, s->size);
	if (rc)
		return rc;
	/* all of them cleared: none left for the next recycle to count */
	if (to == s->stale_end)
		s->stale_from = s->stale_end = 0;
	else
		s->stale_from = to;
	return 0;
}

/* Data must be whole lines, none longer than MW_SPOOL_LINE_MAX, no NUL. */
static bool whole_lines(const char *p, size_t n)
{
	const char *end = p + n, *nl;

	if (p[n - 1] != '\n' || memchr(p, '\0', n))
		return false;
	if (n <= (size_t)MW_SPOOL_LINE_MAX + 1)
		return true;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if ((size_t)(nl - p) > MW_SPOOL_LINE_MAX)
			return false;
	}
	return true;
}

int mw_spool_append(struct mw_spool *s, const void *data, size_t n)
{
	const char *p = data;
	int rc;

	if (!s || (!data && n))
		return -EINVAL;
	if (!n)
		return 0;
	if (!whole_lines(p, n))
		return -EINVAL;
	if (n > (uint64_t)INT64_MAX - s->size)
		return -EFBIG;
	if (s->cut) {
		rc = cut_back(s, UINT64_MAX);
		if (rc)
			return rc;
	}
	if (s->recycle) {
		rc = recycle(s);
		if (rc)
			return rc;
	}
	rc = clear_ahead(s, s->size + n + 1);
	if (rc)
		return rc;
	rc = mw_pwrite_all(s->fd, p, n, (off_t)s->size);
	/* a full file system: the recorded lines' space may be enough */
	if (rc == -ENOSPC && s->start == s->size && s->size) {
		rc = cut_back(s, n);
		if (!rc)
			rc = recycle(s);
		if (!rc)
			rc = clear_ahead(s, n + 1);
		if (!rc)
			rc = mw_pwrite_all(s->fd, p, n, (off_t)s->size);
	}
	if (rc)
		goto fail;
	if (fdatasync(s->fd)) {
		rc = -errno;
		goto fail;
	}
	s->size += n;
	if (s->size > s->file_size)
		s->file_size = s->size;
	return 0;
fail:
	/* its own failure is logged; the write's is the one to report */
	(void)cut_back(s, n);
	return rc;
}

int mw_spool_scan(struct mw_spool *s,
		  int (*cb)(void *arg, const char *line, size_t len), void *arg)
{
	size_t cap = MW_SPOOL_SCAN_CHUNK, len = 0, want, start;
	uint64_t off, end;
	char *buf, *nl, *grown;
	ssize_t n;
	int rc = 0;

	if (!s || !cb)
		return -EINVAL;
	/* Only what was whole when the scan began: a line the callback
	 * appends is for the next scan. */
	off = s->start;
	end = s->size;
	if (off == end)
		return 0;
	if (end - off < cap)
		cap = (size_t)(end - off);
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	while (off < end) {
		if (len == cap) {
			/* One line fills the buffer: grow it, up to a line of
			 * MW_SPOOL_LINE_MAX and its '\n'. */
			if (cap > MW_SPOOL_LINE_MAX) {
				rc = -EBADMSG;
				goto out;
			}
			want = cap > (MW_SPOOL_LINE_MAX + 1u) / 2
				       ? MW_SPOOL_LINE_MAX + 1u
				       : cap * 2;
			if (want > end - s->start)
				want = (size_t)(end - s->start);
			grown = realloc(buf, want);
			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			buf = grown;
			cap = want;
		}
		want = cap - len;
		if (want > end - off)
			want = (size_t)(end - off);
		n = mw_pread_full(s->fd, buf + len, want, (off_t)off);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if ((size_t)n != want) {
			rc = -EIO; /* shrank under us: not by this daemon */
			goto out;
		}
		off += want;
		len += want;
		start = 0;
		while ((nl = memchr(buf + start, '\n', len - start))) {
			size_t llen = (size_t)(nl - (buf + start));

			if (llen > MW_SPOOL_LINE_MAX) {
				rc = -EBADMSG;
				goto out;
			}
			rc = cb(arg, buf + start, llen);
			if (rc)
				goto out;
			start += llen + 1;
		}
		if (len - start > MW_SPOOL_LINE_MAX) {
			rc = -EBADMSG;
			goto out;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
	}
	/* Size counts whole lines only; bytes left were changed under us. */
	if (len)
		rc = -EBADMSG;
out:
	free(buf);
	return rc;
}

int mw_spool_clear(struct mw_spool *s)
{
	int rc;

	if (!s)
		return -EINVAL;
	if (s->start != s->size)
		return -EBUSY;
	/* bytes a failed put back left may lie past the lines: cut them */
	if (s->cut) {
		rc = cut_to(s, 0);
		if (rc)
			return rc;
		s->cut = false;
	}
	/* recycled first: should the clearing fail, the next append still
	 * clears ahead of itself */
	rc = recycle(s);
	return rc ? rc : clear_ahead(s, s->stale_end);
}

int mw_spool_reset(struct mw_spool *s)
{
	if (!s)
		return -EINVAL;
	s->start = s->size;
	if (s->size >= MW_SPOOL_RECYCLE_BYTES)
		s->recycle = true;
	return 0;
}
