// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "spool.h"
#include "spool_sync.h"

/* ---- helpers ---- */

/* Each test's directory (and tmpfs mount point), removed by sp_cleanup. */
static char sp_root[64];
static char sp_mnt[64];
static bool sp_mounted;

static int sp_rm(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

static void sp_rmtree(char *dir)
{
	if (!dir[0])
		return;
	/* a test may have made it unreadable or given it away */
	chmod(dir, 0700);
	nftw(dir, sp_rm, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
}

static void sp_cleanup(void)
{
	if (sp_mounted && umount2(sp_mnt, MNT_DETACH))
		fprintf(stderr, "umount %s: %s\n", sp_mnt, strerror(errno));
	sp_mounted = false;
	sp_rmtree(sp_mnt);
	sp_rmtree(sp_root);
}

/* A fresh directory; the spool goes in <it>/spool, made by the open. */
static const char *sp_mkroot(void)
{
	snprintf(sp_root, sizeof(sp_root), "/tmp/mw-spool-XXXXXX");
	cr_assert_not_null(mkdtemp(sp_root), "mkdtemp: %s", strerror(errno));
	return sp_root;
}

static const char *sp_dir(void)
{
	static char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/spool", sp_root);
	return dir;
}

static const char *sp_file(void)
{
	static char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/spool/%s", sp_root, MW_SPOOL_FILE);
	return path;
}

static struct mw_spool *sp_open_in(const char *dir, size_t *torn)
{
	struct mw_spool *s = NULL;
	char err[512] = "";
	int rc = mw_spool_open(&s, dir, torn, err, sizeof(err));

	cr_assert_eq(rc, 0, "open %s: %d: %s", dir, rc, err);
	cr_assert_not_null(s);
	return s;
}

static struct mw_spool *sp_open(size_t *torn)
{
	return sp_open_in(sp_dir(), torn);
}

static void sp_append(struct mw_spool *s, const void *data, size_t n)
{
	int rc = mw_spool_append(s, data, n);

	cr_assert_eq(rc, 0, "append of %zu bytes: %d (%s)", n, rc,
		     strerror(-rc));
}

static void sp_append_str(struct mw_spool *s, const char *text)
{
	sp_append(s, text, strlen(text));
}

static uint64_t sp_disk_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	return (uint64_t)st.st_size;
}

/* Writes bytes to path as they are, past the spool (a crash's leftovers). */
static void sp_raw_append(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, data, n), (ssize_t)n);
	cr_assert_eq(close(fd), 0);
}

/* Fills path up to size with 'x' (NUL bytes would end the lines) and
 * puts a '\n' at nl unless nl is UINT64_MAX: long lines. */
static void sp_fill(const char *path, uint64_t size, uint64_t nl)
{
	static char xs[1u << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	struct stat st;

	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	memset(xs, 'x', sizeof(xs));
	for (uint64_t off = (uint64_t)st.st_size; off < size;) {
		size_t n = size - off < sizeof(xs) ? (size_t)(size - off)
						   : sizeof(xs);

		cr_assert_eq(pwrite(fd, xs, n, (off_t)off), (ssize_t)n);
		off += n;
	}
	if (nl != UINT64_MAX)
		cr_assert_eq(pwrite(fd, "\n", 1, (off_t)nl), 1);
	cr_assert_eq(close(fd), 0);
}

/* Lines a scan handed over, copied. */
struct sp_lines {
	char **v;
	size_t *len;
	size_t n, cap;
	size_t stop_at; /* 0: never; else return stop_rc at that line */
	int stop_rc;
};

static int sp_collect(void *arg, const char *line, size_t len)
{
	struct sp_lines *l = arg;
	char *copy;

	cr_assert_null(memchr(line, '\n', len), "a line holds a newline");
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		l->len = realloc(l->len, l->cap * sizeof(*l->len));
		cr_assert(l->v && l->len);
	}
	copy = malloc(len ? len : 1);
	cr_assert_not_null(copy);
	memcpy(copy, line, len);
	l->v[l->n] = copy;
	l->len[l->n] = len;
	l->n++;
	if (l->stop_at && l->n == l->stop_at)
		return l->stop_rc;
	return 0;
}

static void sp_lines_free(struct sp_lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->len);
	memset(l, 0, sizeof(*l));
}

static void sp_scan(struct mw_spool *s, struct sp_lines *l)
{
	int rc = mw_spool_scan(s, sp_collect, l);

	cr_assert_eq(rc, 0, "scan: %d", rc);
}

/* The scan's lines are exactly want[0..n). */
static void sp_expect(const struct sp_lines *l, char *const *want,
		      const size_t *wlen, size_t n)
{
	cr_assert_eq(l->n, n, "%zu lines, not %zu", l->n, n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(l->len[i], wlen[i], "line %zu: %zu bytes, not %zu",
			     i, l->len[i], wlen[i]);
		cr_assert_eq(memcmp(l->v[i], want[i], wlen[i]), 0,
			     "line %zu differs", i);
	}
}

static uint64_t sp_rand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* len bytes of anything but '\n' and NUL: tabs, backslashes, high bytes. */
static char *sp_line(uint64_t *seed, size_t len)
{
	static const char alpha[] =
		"abc\\t\t\\\\N\\n\x01\x7f\xc3\xa9\xff 0|;\"'";
	char *p = malloc(len ? len : 1);

	cr_assert_not_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = alpha[sp_rand(seed) % (sizeof(alpha) - 1)];
	return p;
}

/* ---- tests ---- */

TestSuite(spool, .fini = sp_cleanup);

#define SP_NLINES 3000

Test(spool, round_trip_varied_lines)
{
	static char *want[SP_NLINES];
	static size_t wlen[SP_NLINES];
	const size_t chunk = 1u << 20; /* spool.c's first scan buffer */
	/* Lines about the scan buffer's size: one that fills it with its
	 * '\n', one that fills it without, longer ones, then ordinary ones
	 * that put line ends all over the chunk boundaries. */
	const size_t fixed[] = { chunk - 1,	0, chunk,     chunk + 1, 0, 0,
				 3 * chunk + 7, 1, chunk / 2, chunk,	 5 };
	const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct sp_lines got = { 0 };
	uint64_t seed = 0x9e3779b97f4a7c15ull, total = 0;
	struct mw_spool *s;
	char *batch;
	size_t blen = 0, bcap = 8u << 20;
	size_t torn = 99;

	sp_mkroot();
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	cr_assert_eq(mw_spool_size(s), 0);
	for (size_t i = 0; i < SP_NLINES; i++) {
		size_t len;
		uint64_t r = sp_rand(&seed) % 1000;

		if (i < nfixed)
			len = fixed[i];
		else if (r < 50)
			len = 0;
		else if (r < 850)
			len = (size_t)(sp_rand(&seed) % 200);
		else if (r < 997)
			len = (size_t)(sp_rand(&seed) % 20000);
		else
			len = chunk + (size_t)(sp_rand(&seed) % chunk);
		want[i] = sp_line(&seed, len);
		wlen[i] = len;
	}
	/* Some lines alone, most in batches: each append is an fdatasync. */
	batch = malloc(bcap);
	cr_assert_not_null(batch);
	for (size_t i = 0; i < SP_NLINES; i++) {
		if (blen + wlen[i] + 1 > bcap || (i < nfixed && blen) ||
		    (sp_rand(&seed) % 64 == 0 && blen)) {
			sp_append(s, batch, blen);
			total += blen;
			blen = 0;
		}
		memcpy(batch + blen, want[i], wlen[i]);
		batch[blen + wlen[i]] = '\n';
		blen += wlen[i] + 1;
	}
	sp_append(s, batch, blen);
	total += blen;
	free(batch);
	cr_assert_eq(mw_spool_size(s), total);
	cr_assert_eq(sp_disk_size(sp_file()), total);
	cr_assert_str_eq(mw_spool_path(s), sp_file());

	sp_scan(s, &got);
	sp_expect(&got, want, wlen, SP_NLINES);
	sp_lines_free(&got);

	/* and the same again from a fresh open */
	mw_spool_close(s);
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	cr_assert_eq(mw_spool_size(s), total);
	sp_scan(s, &got);
	sp_expect(&got, want, wlen, SP_NLINES);
	sp_lines_free(&got);
	mw_spool_close(s);
	for (size_t i = 0; i < SP_NLINES; i++)
		free(want[i]);
}

Test(spool, reopen_keeps_content_and_modes)
{
	char *want[] = { "1\thost\t\\\\N\ta\\tb", "", "3\tlast" };
	size_t wlen[] = { strlen(want[0]), 0, strlen(want[2]) };
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	struct stat st;
	size_t torn = 99;

	sp_mkroot();
	s = sp_open(&torn);
	sp_append_str(s, "1\thost\t\\\\N\ta\\tb\n");
	sp_append_str(s, "\n3\tlast\n");
	mw_spool_close(s);

	cr_assert_eq(stat(sp_dir(), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0700, "dir mode %o", st.st_mode);
	cr_assert_eq(stat(sp_file(), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "file mode %o", st.st_mode);

	/* a mode a hand changed is put back */
	cr_assert_eq(chmod(sp_file(), 0644), 0);
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	cr_assert_eq(mw_spool_size(s),
		     strlen(want[0]) + 1 + 1 + strlen(want[2]) + 1);
	sp_scan(s, &got);
	sp_expect(&got, want, wlen, 3);
	sp_lines_free(&got);
	cr_assert_eq(stat(sp_file(), &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "file mode %o", st.st_mode);

	/* appends go after what was there */
	sp_append_str(s, "4\n");
	mw_spool_close(s);
	s = sp_open(NULL);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 4);
	cr_assert_eq(got.len[3], 1);
	cr_assert_eq(got.v[3][0], '4');
	sp_lines_free(&got);
	mw_spool_close(s);
}

Test(spool, torn_tail_is_cut_and_reported)
{
	char *want[] = { "one", "two" };
	size_t wlen[] = { 3, 3 };
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	size_t torn = 99;

	sp_mkroot();
	s = sp_open(&torn);
	sp_append_str(s, "one\ntwo\n");
	mw_spool_close(s);
	sp_raw_append(sp_file(), "3\tpart", 6);
	cr_assert_eq(sp_disk_size(sp_file()), 14);

	s = sp_open(&torn);
	cr_assert_eq(torn, 6);
	cr_assert_eq(mw_spool_size(s), 8);
	cr_assert_eq(sp_disk_size(sp_file()), 8);
	sp_scan(s, &got);
	sp_expect(&got, want, wlen, 2);
	sp_lines_free(&got);
	/* the next line starts clean, not glued to the torn one */
	sp_append_str(s, "three\n");
	mw_spool_close(s);

	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 3);
	cr_assert_eq(got.len[2], 5);
	cr_assert_eq(memcmp(got.v[2], "three", 5), 0);
	sp_lines_free(&got);
	mw_spool_close(s);
}

Test(spool, torn_tail_without_any_newline)
{
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	size_t torn = 0;

	sp_mkroot();
	cr_assert_eq(mkdir(sp_dir(), 0700), 0);
	sp_raw_append(sp_file(), "no newline at all", 17);
	s = sp_open(&torn);
	cr_assert_eq(torn, 17);
	cr_assert_eq(mw_spool_size(s), 0);
	cr_assert_eq(sp_disk_size(sp_file()), 0);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 0);
	mw_spool_close(s);
}

Test(spool, torn_tail_longer_than_a_line_is_no_spool)
{
	struct mw_spool *s = NULL;
	char err[512] = "";
	size_t torn = 99;
	int rc;

	sp_mkroot();
	cr_assert_eq(mkdir(sp_dir(), 0700), 0);
	/* "ok\n" and a torn line of MW_SPOOL_LINE_MAX bytes: a longest line
	 * that lost its '\n' only; cut. */
	sp_raw_append(sp_file(), "ok\n", 3);
	sp_fill(sp_file(), 3 + (uint64_t)MW_SPOOL_LINE_MAX, UINT64_MAX);
	s = sp_open(&torn);
	cr_assert_eq(torn, MW_SPOOL_LINE_MAX);
	cr_assert_eq(mw_spool_size(s), 3);
	mw_spool_close(s);

	/* One byte more than any line: refused, and left as it is. */
	sp_fill(sp_file(), 3 + (uint64_t)MW_SPOOL_LINE_MAX + 1, UINT64_MAX);
	s = NULL;
	rc = mw_spool_open(&s, sp_dir(), &torn, err, sizeof(err));
	cr_assert_eq(rc, -EBADMSG, "%d: %s", rc, err);
	cr_assert_null(s);
	cr_assert_not_null(strstr(err, "not an audit spool"), "%s", err);
	cr_assert_not_null(strstr(err, sp_file()), "%s", err);
	cr_assert_eq(sp_disk_size(sp_file()), 3 + MW_SPOOL_LINE_MAX + 1);
}

Test(spool, scan_line_limit)
{
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	const uint64_t max = MW_SPOOL_LINE_MAX;
	int rc;

	sp_mkroot();
	cr_assert_eq(mkdir(sp_dir(), 0700), 0);
	/* "a\n", a line of exactly MW_SPOOL_LINE_MAX bytes, "b\n" */
	sp_raw_append(sp_file(), "a\n", 2);
	sp_fill(sp_file(), 2 + max, 2 + max);
	sp_raw_append(sp_file(), "b\n", 2);
	s = sp_open(NULL);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 3);
	cr_assert_eq(got.len[1], max);
	cr_assert_eq(got.len[2], 1);
	cr_assert_eq(got.v[2][0], 'b');
	sp_lines_free(&got);
	mw_spool_close(s);

	/* one byte longer: an error, after the lines before it */
	cr_assert_eq(truncate(sp_file(), 2), 0);
	sp_fill(sp_file(), 2 + max + 1, 2 + max + 1);
	sp_raw_append(sp_file(), "b\n", 2);
	s = sp_open(NULL);
	rc = mw_spool_scan(s, sp_collect, &got);
	cr_assert_eq(rc, -EBADMSG, "%d", rc);
	cr_assert_eq(got.n, 1);
	sp_lines_free(&got);
	mw_spool_close(s);
}

/* The bytes of path, read whole (NULL with *n 0 for an empty file). */
static char *sp_slurp(const char *path, size_t *n)
{
	uint64_t size = sp_disk_size(path);
	char *buf = malloc(size ? (size_t)size : 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	cr_assert_not_null(buf);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(pread(fd, buf, (size_t)size, 0), (ssize_t)size);
	cr_assert_eq(close(fd), 0);
	*n = (size_t)size;
	return buf;
}

/* n bytes of buf from off on are all NUL. */
static bool sp_all_nul(const char *buf, size_t off, size_t n)
{
	for (size_t i = off; i < n; i++)
		if (buf[i])
			return false;
	return true;
}

Test(spool, reset_forgets_recorded_lines_until_reopen)
{
	struct sp_lines got = { 0 };
	struct mw_spool *s;

	sp_mkroot();
	s = sp_open(NULL);
	sp_append_str(s, "a\nb\nc\n");
	cr_assert_eq(mw_spool_reset(s), 0);
	cr_assert_eq(mw_spool_size(s), 0);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 0);
	/* below MW_SPOOL_RECYCLE_BYTES the lines stay where they are */
	cr_assert_eq(sp_disk_size(sp_file()), 6);
	sp_append_str(s, "d\n");
	cr_assert_eq(mw_spool_size(s), 2);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 1);
	cr_assert_eq(got.v[0][0], 'd');
	sp_lines_free(&got);
	cr_assert_eq(sp_disk_size(sp_file()), 8);
	mw_spool_close(s);
	/* a new open does not know what was recorded: the caller skips it */
	s = sp_open(NULL);
	cr_assert_eq(mw_spool_size(s), 8);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 4);
	cr_assert_eq(got.v[3][0], 'd');
	sp_lines_free(&got);
	mw_spool_close(s);
}

/* Lines of len bytes (with the '\n') numbered from first, n of them. */
static char *sp_numbered(size_t first, size_t n, size_t len)
{
	char *buf = malloc(n * len);

	cr_assert_not_null(buf);
	cr_assert_geq(len, 16);
	for (size_t i = 0; i < n; i++) {
		char *l = buf + i * len;

		memset(l, 'y', len - 1);
		memcpy(l, "0123456789", 10);
		snprintf(l, 11, "%010zu", first + i);
		l[10] = '\t';
		l[len - 1] = '\n';
	}
	return buf;
}

/*
 * Past MW_SPOOL_RECYCLE_BYTES a reset has the next append write from
 * offset 0, over the recorded lines: the file keeps its size (its
 * blocks), and the recorded lines are overwritten with NUL bytes ahead of
 * the appends, so that the bytes after the last line are always NUL. A
 * reopen (after a crash: a clean stop clears the file) finds the new
 * lines, and cuts the recorded ones not overwritten yet.
 */
Test(spool, recycle_overwrites_in_place)
{
	const size_t len = 1000, n = MW_SPOOL_RECYCLE_BYTES / len + 1;
	char *old = sp_numbered(0, n, len), *fresh = sp_numbered(n, 600, len);
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	size_t torn = 99, flen, left;
	uint64_t grown;
	char *file;

	sp_mkroot();
	s = sp_open(NULL);
	sp_append(s, old, n * len);
	grown = sp_disk_size(sp_file());
	cr_assert_eq(grown, n * len);
	cr_assert_eq(mw_spool_reset(s), 0);
	cr_assert_eq(mw_spool_size(s), 0);
	sp_append(s, fresh, 3 * len);
	cr_assert_eq(mw_spool_size(s), 3 * len);
	cr_assert_eq(sp_disk_size(sp_file()), grown, "the file was cut");
	file = sp_slurp(sp_file(), &flen);
	cr_assert_eq(memcmp(file, fresh, 3 * len), 0);
	cr_assert(sp_all_nul(file, 3 * len, 256u << 10),
		  "no NUL bytes ahead of the new lines");
	cr_assert_neq(file[flen - 2], '\0', "all of it cleared at once");
	free(file);
	/* one by one, past the first cleared stretch: the bytes after the
	 * lines are NUL each time */
	for (size_t i = 3; i < 600; i++) {
		sp_append(s, fresh + i * len, len);
		if (i % 97)
			continue;
		file = sp_slurp(sp_file(), &flen);
		cr_assert_eq(memcmp(file, fresh, (i + 1) * len), 0);
		cr_assert_eq(file[(i + 1) * len], '\0', "after line %zu", i);
		free(file);
	}
	cr_assert_eq(sp_disk_size(sp_file()), grown);
	file = sp_slurp(sp_file(), &flen);
	cr_assert(sp_all_nul(file, 600 * len, 600 * len + 1));
	left = 0;
	for (size_t i = 600 * len; i < flen; i++)
		left += file[i] != '\0';
	cr_assert_gt(left, 0, "every recorded line cleared at once");
	free(file);
	mw_spool_close(s);

	/* as after a crash: the new lines, and the recorded ones cut */
	s = sp_open(&torn);
	cr_assert_eq(torn, left);
	cr_assert_eq(mw_spool_size(s), 600 * len);
	cr_assert_eq(sp_disk_size(sp_file()), 600 * len);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 600);
	cr_assert_eq(memcmp(got.v[0], fresh, len - 1), 0);
	cr_assert_eq(memcmp(got.v[599], fresh + 599 * len, len - 1), 0);
	sp_lines_free(&got);

	/* a clean stop with everything recorded leaves nothing */
	cr_assert_eq(mw_spool_clear(s), -EBUSY);
	cr_assert_eq(mw_spool_reset(s), 0);
	cr_assert_eq(mw_spool_clear(s), 0);
	file = sp_slurp(sp_file(), &flen);
	cr_assert_eq(flen, 600 * len, "the blocks are kept");
	cr_assert(sp_all_nul(file, 0, flen));
	free(file);
	mw_spool_close(s);
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	cr_assert_eq(mw_spool_size(s), 0);
	/* and a clear leaves a spool to go on with: appends from offset 0 */
	sp_append(s, old, 2 * len);
	cr_assert_eq(mw_spool_reset(s), 0);
	cr_assert_eq(mw_spool_clear(s), 0);
	sp_append(s, fresh, len);
	mw_spool_close(s);
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 1);
	cr_assert_eq(memcmp(got.v[0], fresh, len - 1), 0);
	sp_lines_free(&got);
	mw_spool_close(s);
	free(old);
	free(fresh);
}

/* A file an outage grew past MW_SPOOL_KEEP_BYTES is cut, not overwritten. */
Test(spool, recycle_cuts_a_large_file)
{
	const size_t len = 4096, n = MW_SPOOL_KEEP_BYTES / len + 1;
	char *lines = sp_numbered(0, n, len);
	struct mw_spool *s;

	sp_mkroot();
	s = sp_open(NULL);
	sp_append(s, lines, n * len);
	cr_assert_eq(mw_spool_reset(s), 0);
	sp_append(s, lines, len);
	cr_assert_eq(sp_disk_size(sp_file()), len);
	cr_assert_eq(mw_spool_size(s), len);
	mw_spool_close(s);
	free(lines);
}

/*
 * What a crash leaves after the last whole line: a torn line, NUL bytes
 * where pages of the interrupted write never reached the disk, then pages
 * that did. All of it is cut, the bytes other than NUL reported; a file
 * whose lines are followed by NUL bytes only is left as it is.
 */
Test(spool, crash_leftovers_after_the_lines_are_cut)
{
	static const char nuls[100];
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	size_t torn = 99;

	sp_mkroot();
	cr_assert_eq(mkdir(sp_dir(), 0700), 0);
	sp_raw_append(sp_file(), "a\nb\ntor", 7);
	sp_raw_append(sp_file(), nuls, sizeof(nuls));
	sp_raw_append(sp_file(), "stray\n", 6);
	sp_raw_append(sp_file(), nuls, 50);
	s = sp_open(&torn);
	cr_assert_eq(torn, 3 + 6);
	cr_assert_eq(mw_spool_size(s), 4);
	cr_assert_eq(sp_disk_size(sp_file()), 4);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 2);
	sp_lines_free(&got);
	mw_spool_close(s);

	/* NUL bytes alone after the lines: nothing torn, nothing cut */
	sp_raw_append(sp_file(), nuls, sizeof(nuls));
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	cr_assert_eq(mw_spool_size(s), 4);
	cr_assert_eq(sp_disk_size(sp_file()), 4 + sizeof(nuls));
	sp_append_str(s, "c\n");
	cr_assert_eq(sp_disk_size(sp_file()), 4 + sizeof(nuls));
	mw_spool_close(s);
	s = sp_open(&torn);
	cr_assert_eq(torn, 0);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 3);
	cr_assert_eq(got.v[2][0], 'c');
	sp_lines_free(&got);
	mw_spool_close(s);
}

Test(spool, scan_stop_value_propagates)
{
	struct sp_lines got = { .stop_at = 3, .stop_rc = 42 };
	struct mw_spool *s;

	sp_mkroot();
	s = sp_open(NULL);
	sp_append_str(s, "1\n2\n3\n4\n5\n");
	cr_assert_eq(mw_spool_scan(s, sp_collect, &got), 42);
	cr_assert_eq(got.n, 3);
	sp_lines_free(&got);
	got.stop_at = 1;
	got.stop_rc = -7;
	cr_assert_eq(mw_spool_scan(s, sp_collect, &got), -7);
	cr_assert_eq(got.n, 1);
	sp_lines_free(&got);
	mw_spool_close(s);
}

Test(spool, empty_file_and_empty_lines)
{
	struct sp_lines got = { 0 };
	struct mw_spool *s;

	sp_mkroot();
	s = sp_open(NULL);
	sp_scan(s, &got);
	cr_assert_eq(got.n, 0);
	sp_append_str(s, "\n\n\n");
	sp_scan(s, &got);
	cr_assert_eq(got.n, 3);
	for (size_t i = 0; i < 3; i++)
		cr_assert_eq(got.len[i], 0);
	sp_lines_free(&got);
	mw_spool_close(s);
}

Test(spool, append_refuses_partial_lines)
{
	struct mw_spool *s;

	sp_mkroot();
	s = sp_open(NULL);
	sp_append_str(s, "whole\n");
	cr_assert_eq(mw_spool_append(s, "half", 4), -EINVAL);
	cr_assert_eq(mw_spool_append(s, "a\nhalf", 6), -EINVAL);
	/* a NUL byte would end the lines there at the next open */
	cr_assert_eq(mw_spool_append(s, "a\0b\n", 4), -EINVAL);
	cr_assert_eq(mw_spool_append(s, NULL, 1), -EINVAL);
	cr_assert_eq(mw_spool_append(s, "", 0), 0);
	cr_assert_eq(mw_spool_size(s), 6);
	cr_assert_eq(sp_disk_size(sp_file()), 6);
	mw_spool_close(s);
}

#define SP_ENOSPC_LINE 1500 /* not a divisor of a page: writes go short */

static void sp_enospc_line(char *buf, size_t i)
{
	memset(buf, 'x', SP_ENOSPC_LINE - 1);
	snprintf(buf, 32, "%zu\t", i);
	buf[strlen(buf)] = '\\';
	buf[SP_ENOSPC_LINE - 1] = '\n';
}

Test(spool, enospc_leaves_whole_lines)
{
	char line[SP_ENOSPC_LINE], three[3 * SP_ENOSPC_LINE], dir[PATH_MAX];
	struct sp_lines got = { 0 };
	struct mw_spool *s;
	size_t ok = 0;
	int rc = 0;

	snprintf(sp_mnt, sizeof(sp_mnt), "/tmp/mw-spool-mnt-XXXXXX");
	cr_assert_not_null(mkdtemp(sp_mnt), "mkdtemp: %s", strerror(errno));
	if (mount("tmpfs", sp_mnt, "tmpfs", MS_NOSUID | MS_NODEV,
		  "size=64k,mode=0700"))
		cr_assert_fail("mount -t tmpfs -o size=64k tmpfs %s: %s "
			       "(the test needs root and CAP_SYS_ADMIN)",
			       sp_mnt, strerror(errno));
	sp_mounted = true;
	snprintf(dir, sizeof(dir), "%s/spool", sp_mnt);
	s = sp_open_in(dir, NULL);
	for (size_t i = 0; i < 1000; i++) {
		sp_enospc_line(line, i);
		rc = mw_spool_append(s, line, sizeof(line));
		if (rc)
			break;
		ok++;
	}
	cr_assert_eq(rc, -ENOSPC, "append: %d (%s) after %zu lines", rc,
		     strerror(-rc), ok);
	cr_assert_gt(ok, 10);
	cr_assert_eq(mw_spool_size(s), ok * SP_ENOSPC_LINE);
	cr_assert_eq(sp_disk_size(mw_spool_path(s)), ok * SP_ENOSPC_LINE);

	/* several lines at once: none of them stays either */
	for (size_t k = 0; k < 3; k++)
		sp_enospc_line(three + k * SP_ENOSPC_LINE, 5000 + k);
	cr_assert_eq(mw_spool_append(s, three, sizeof(three)), -ENOSPC);
	cr_assert_eq(mw_spool_size(s), ok * SP_ENOSPC_LINE);
	cr_assert_eq(sp_disk_size(mw_spool_path(s)), ok * SP_ENOSPC_LINE);

	sp_scan(s, &got);
	cr_assert_eq(got.n, ok);
	for (size_t i = 0; i < ok; i++) {
		sp_enospc_line(line, i);
		cr_assert_eq(got.len[i], SP_ENOSPC_LINE - 1);
		cr_assert_eq(memcmp(got.v[i], line, SP_ENOSPC_LINE - 1), 0,
			     "line %zu", i);
	}
	sp_lines_free(&got);

	/* a reopen finds nothing torn */
	mw_spool_close(s);
	{
		size_t torn = 99;

		s = sp_open_in(dir, &torn);
		cr_assert_eq(torn, 0);
		cr_assert_eq(mw_spool_size(s), ok * SP_ENOSPC_LINE);
	}

	/* the space of lines recorded elsewhere is reused: the append that
	 * finds the file system full overwrites them */
	cr_assert_eq(mw_spool_reset(s), 0);
	sp_enospc_line(line, 7);
	sp_append(s, line, sizeof(line));
	sp_scan(s, &got);
	cr_assert_eq(got.n, 1);
	cr_assert_eq(memcmp(got.v[0], line, SP_ENOSPC_LINE - 1), 0);
	sp_lines_free(&got);
	mw_spool_close(s);
}

static void sp_refused(const char *dir, int want_rc, const char *want_msg)
{
	struct mw_spool *s = NULL;
	char err[512] = "";
	int rc = mw_spool_open(&s, dir, NULL, err, sizeof(err));

	cr_assert_eq(rc, want_rc, "%d: %s", rc, err);
	cr_assert_null(s);
	cr_assert_not_null(strstr(err, want_msg), "%s", err);
}

Test(spool, insecure_dir_refused)
{
	struct mw_spool *s;

	sp_mkroot();
	cr_assert_eq(mkdir(sp_dir(), 0700), 0);
	cr_assert_eq(chmod(sp_dir(), 0777), 0);
	sp_refused(sp_dir(), -EPERM, "mode 0777");
	cr_assert_eq(chmod(sp_dir(), 0720), 0);
	sp_refused(sp_dir(), -EPERM, "mode 0720");
	/* nothing was made in it */
	cr_assert_eq(access(sp_file(), F_OK), -1);

	cr_assert_eq(chmod(sp_dir(), 0700), 0);
	cr_assert_eq(chown(sp_dir(), 65534, 65534), 0, "%s", strerror(errno));
	sp_refused(sp_dir(), -EPERM, "uid 65534");

	/* read-only for others is private enough */
	cr_assert_eq(chown(sp_dir(), geteuid(), getegid()), 0);
	cr_assert_eq(chmod(sp_dir(), 0755), 0);
	s = sp_open(NULL);
	mw_spool_close(s);
}

/*
 * The directories above it are judged as state_dir's are: one others may
 * change (not sticky) or a link on the way could put another directory
 * in the spool's place between two starts.
 */
Test(spool, a_dir_below_one_others_may_change_is_refused)
{
	char above[PATH_MAX / 2], dir[PATH_MAX], link[PATH_MAX / 2];
	struct mw_spool *s;

	sp_mkroot();
	snprintf(above, sizeof(above), "%s/above", sp_root);
	snprintf(dir, sizeof(dir), "%s/spool", above);
	cr_assert_eq(mkdir(above, 0777), 0);
	cr_assert_eq(chmod(above, 0777), 0);
	sp_refused(dir, -EPERM, "may be changed by others");
	cr_assert_eq(access(dir, F_OK), -1, "made in a directory not judged");
	/* sticky, as /tmp: nobody renames there what is not theirs */
	cr_assert_eq(chmod(above, 01777), 0);
	s = sp_open_in(dir, NULL);
	mw_spool_close(s);

	cr_assert_eq(chmod(above, 0755), 0);
	snprintf(link, sizeof(link), "%s/link", sp_root);
	cr_assert_eq(symlink(above, link), 0);
	snprintf(dir, sizeof(dir), "%s/spool", link);
	sp_refused(dir, -EPERM, "symbolic link");
}

Test(spool, file_not_ours_refused)
{
	char target[PATH_MAX];

	sp_mkroot();
	cr_assert_eq(mkdir(sp_dir(), 0700), 0);
	/* a symbolic link in the file's place is not followed */
	snprintf(target, sizeof(target), "%s/elsewhere", sp_root);
	sp_raw_append(target, "x\n", 2);
	cr_assert_eq(symlink(target, sp_file()), 0);
	sp_refused(sp_dir(), -ELOOP, "symbolic link");
	cr_assert_eq(unlink(sp_file()), 0);
	/* nor a directory, nor someone else's file */
	cr_assert_eq(mkdir(sp_file(), 0700), 0);
	cr_assert_neq(mw_spool_open(&(struct mw_spool *){ NULL }, sp_dir(),
				    NULL, NULL, 0),
		      0);
	cr_assert_eq(rmdir(sp_file()), 0);
	sp_raw_append(sp_file(), "x\n", 2);
	cr_assert_eq(chown(sp_file(), 65534, 65534), 0);
	sp_refused(sp_dir(), -EPERM, "owned by uid 65534");
}

Test(spool, second_open_is_refused)
{
	struct mw_spool *s, *t;

	sp_mkroot();
	s = sp_open(NULL);
	sp_refused(sp_dir(), -EWOULDBLOCK, "in use by another process");
	mw_spool_close(s);
	t = sp_open(NULL);
	mw_spool_close(t);
}

Test(spool, bad_arguments)
{
	struct mw_spool *s = NULL;
	char err[128] = "", dir[PATH_MAX + 16];

	cr_assert_eq(mw_spool_open(&s, "", NULL, err, sizeof(err)), -EINVAL);
	cr_assert_eq(mw_spool_open(&s, NULL, NULL, err, sizeof(err)), -EINVAL);
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = '\0';
	cr_assert_eq(mw_spool_open(&s, dir, NULL, err, sizeof(err)),
		     -ENAMETOOLONG);
	cr_assert_null(s);
	cr_assert_eq(mw_spool_append(NULL, "a\n", 2), -EINVAL);
	cr_assert_eq(mw_spool_scan(NULL, sp_collect, NULL), -EINVAL);
	cr_assert_eq(mw_spool_reset(NULL), -EINVAL);
	cr_assert_eq(mw_spool_clear(NULL), -EINVAL);
	mw_spool_close(NULL);
}

/* ---- the spool's thread (spool_sync.h) ---- */

struct sp_sync_run {
	struct mw_tick tick; /* first */
	struct mw_loop *loop;
	int done, rc;
	int64_t deadline;
};

static void sp_sync_done(void *arg, int rc)
{
	struct sp_sync_run *r = arg;

	r->done++;
	r->rc = rc;
	mw_loop_stop(r->loop);
}

static void sp_sync_tick(struct mw_tick *t, int64_t now)
{
	struct sp_sync_run *r = (struct sp_sync_run *)t;

	if (now > r->deadline)
		mw_loop_stop(r->loop);
}

/*
 * One append in flight at a time, done from the loop once it is synced;
 * a wait settles one in flight at once; what was handed over is in the
 * file, in order.
 */
Test(spool, appends_on_its_thread_and_reports_from_the_loop)
{
	struct sp_sync_run r = { .tick.cb = sp_sync_tick };
	struct mw_spool_sync *ss;
	struct mw_spool *s;
	char buf[64];
	FILE *f;

	sp_mkroot();
	s = sp_open(NULL);
	cr_assert_eq(mw_loop_new(&r.loop), 0);
	mw_loop_add_tick(r.loop, &r.tick);
	cr_assert_eq(mw_spool_sync_new(&ss, s, r.loop, sp_sync_done, &r), 0);
	cr_assert_not(mw_spool_sync_busy(ss));
	cr_assert_eq(mw_spool_sync_submit(ss, "one\n", 4), 0);
	cr_assert(mw_spool_sync_busy(ss));
	cr_assert_eq(mw_spool_sync_submit(ss, "two\n", 4), -EBUSY);
	r.deadline = mw_now_ms() + 10000;
	cr_assert_eq(mw_loop_run(r.loop), 0);
	cr_assert_eq(r.done, 1, "done ran from the loop");
	cr_assert_eq(r.rc, 0);
	cr_assert_not(mw_spool_sync_busy(ss));
	cr_assert_eq(mw_spool_size(s), 4);
	/* a refused append reports its error the same way */
	cr_assert_eq(mw_spool_sync_submit(ss, "no newline", 10), 0);
	mw_spool_sync_wait(ss);
	cr_assert_eq(r.done, 2, "the wait ran done");
	cr_assert_eq(r.rc, -EINVAL);
	cr_assert_eq(mw_spool_sync_submit(ss, "two\n", 4), 0);
	mw_spool_sync_free(ss); /* waits for it */
	cr_assert_eq(r.done, 3);
	f = fopen(sp_file(), "re");
	cr_assert_not_null(f);
	cr_assert_eq(fread(buf, 1, sizeof(buf), f), 8);
	cr_assert_eq(memcmp(buf, "one\ntwo\n", 8), 0);
	fclose(f);
	mw_spool_close(s);
	mw_loop_free(r.loop);
}
