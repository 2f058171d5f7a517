// SPDX-License-Identifier: BSD-2-Clause
/*
 * The spool's flush (make bench-spool): how long a durable request waits
 * for its batch to reach the disk, as mw_spool_append does it (a pwrite
 * over the file's own blocks, then fdatasync; the lines dropped after each
 * append, as when PostgreSQL keeps up, and recycled every
 * MW_SPOOL_RECYCLE_BYTES), against what the spool did before: an append
 * that grows the file, then fdatasync, the file cut to 0 at each drain.
 * The two alternate, in runs of 200, idle and then with busy threads
 * on every core (the daemon's flushes compete with the proxy, wrk and
 * the upstream for the CPU: a journal commit waits for its kernel thread
 * to get one).
 *
 *   build/spool_bench [DIR [APPENDS [BYTES]]]
 *
 * DIR (default /var/tmp) should be on the disk the spool uses; APPENDS
 * per method and load (default 3000), BYTES per append (default 1400:
 * one tools/call's request and response events). Prints p50/p90/p99 in
 * microseconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spool.h"

#include "bench_util.h"

static atomic_bool stop_burning;

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void *burn(void *arg)
{
	volatile unsigned long n = 0;

	(void)arg;
	while (!atomic_load_explicit(&stop_burning, memory_order_relaxed))
		n++;
	return NULL;
}

static void report(const char *what, double *t, size_t n)
{
	qsort(t, n, sizeof(*t), cmp_double);
	printf("  %-34s p50 %6.0f  p90 %6.0f  p99 %7.0f us\n", what, t[n / 2],
	       t[n * 9 / 10], t[n * 99 / 100]);
}

/* The spool's append, its lines dropped after each (a drain). */
static int time_spool(struct mw_spool *s, const char *line, size_t len,
		      double *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double a = now_us();
		int rc = mw_spool_append(s, line, len);

		t[i] = now_us() - a;
		if (rc || mw_spool_reset(s)) {
			fprintf(stderr, "spool_bench: append: %s\n",
				strerror(-rc));
			return -1;
		}
	}
	return 0;
}

/* The former spool: write(2) at the end, fdatasync, cut to 0 at a drain. */
static int time_growing(int fd, const char *line, size_t len, double *t,
			size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double a = now_us();

		if (write(fd, line, len) != (ssize_t)len || fdatasync(fd)) {
			perror("spool_bench: growing file");
			return -1;
		}
		t[i] = now_us() - a;
		if (ftruncate(fd, 0)) {
			perror("spool_bench: growing file");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/var/tmp";
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 3000;
	size_t len = argc > 3 ? strtoul(argv[3], NULL, 10) : 1400;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char sdir[4096], gpath[4200], err[512], *line = NULL;
	double *ts = NULL, *tg = NULL;
	struct mw_spool *s = NULL;
	pthread_t burners[64];
	int fd = -1, rc = 1, nb = 0;

	if (n < 200 || len < 2 || len > (1u << 20)) {
		fprintf(stderr, "usage: spool_bench [DIR [APPENDS>=200 "
				"[BYTES 2..1048576]]]\n");
		return 2;
	}
	snprintf(sdir, sizeof(sdir), "%s/mw-spool-bench-XXXXXX", dir);
	if (!mkdtemp(sdir)) {
		fprintf(stderr, "spool_bench: %s: %s\n", sdir, strerror(errno));
		return 1;
	}
	snprintf(gpath, sizeof(gpath), "%s/growing", sdir);
	line = malloc(len);
	ts = calloc(n, sizeof(*ts));
	tg = calloc(n, sizeof(*tg));
	if (!line || !ts || !tg)
		goto out;
	memset(line, 'x', len - 1);
	line[len - 1] = '\n';
	if (mw_spool_open(&s, sdir, NULL, err, sizeof(err))) {
		fprintf(stderr, "spool_bench: %s\n", err);
		goto out;
	}
	/* the daemon's steady state: the file has grown to the recycling
	 * size once, and is written over from then on */
	{
		size_t big = MW_SPOOL_RECYCLE_BYTES + len;
		char *fill = malloc(big);

		if (!fill)
			goto out;
		memset(fill, 'w', big);
		fill[big - 1] = '\n';
		rc = mw_spool_append(s, fill, big);
		free(fill);
		if (rc || mw_spool_reset(s)) {
			fprintf(stderr, "spool_bench: %s\n", strerror(-rc));
			rc = 1;
			goto out;
		}
		rc = 1;
	}
	fd = open(gpath, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(gpath);
		goto out;
	}
	printf("%zu appends of %zu bytes each way, in %s\n", n, len, dir);
	for (int load = 0; load < 2; load++) {
		if (load) {
			atomic_store(&stop_burning, false);
			for (nb = 0; nb < ncpu && nb < 64; nb++)
				if (pthread_create(&burners[nb], NULL, burn,
						   NULL))
					break;
		}
		printf("%s:\n", load ? "every core busy" : "idle");
		for (size_t done = 0; done < n; done += 200) {
			size_t k = n - done < 200 ? n - done : 200;

			if (time_spool(s, line, len, ts + done, k) ||
			    time_growing(fd, line, len, tg + done, k))
				goto out;
		}
		if (load) {
			atomic_store(&stop_burning, true);
			while (nb > 0)
				pthread_join(burners[--nb], NULL);
		}
		report("spool (over its own blocks)", ts, n);
		report("growing file (the former spool)", tg, n);
	}
	rc = 0;
out:
	atomic_store(&stop_burning, true);
	while (nb > 0)
		pthread_join(burners[--nb], NULL);
	if (fd >= 0)
		close(fd);
	unlink(gpath);
	if (s) {
		char spath[4200];

		snprintf(spath, sizeof(spath), "%s", mw_spool_path(s));
		mw_spool_close(s);
		unlink(spath);
	}
	rmdir(sdir);
	free(line);
	free(ts);
	free(tg);
	return rc;
}
