/* SPDX-License-Identifier: BSD-2-Clause */
/* What the micro-benchmarks share: a clock and the order for medians. */
#ifndef MW_BENCH_UTIL_H
#define MW_BENCH_UTIL_H

#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* qsort's order of doubles, for a median. */
static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}
#endif
