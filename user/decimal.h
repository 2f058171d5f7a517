/* SPDX-License-Identifier: BSD-2-Clause */
/* Integers in decimal, as audit lines, JSON text and ids write them. */
#ifndef MW_DECIMAL_H
#define MW_DECIMAL_H

#include <stdint.h>

/* The longest: "18446744073709551615" and "-9223372036854775808". */
#define MW_DECIMAL_MAX 20

/* Writes v at o, no NUL; returns the end. */
static inline char *mw_put_u64(char *o, uint64_t v)
{
	char tmp[MW_DECIMAL_MAX];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o++ = tmp[--n];
	return o;
}

static inline char *mw_put_i64(char *o, int64_t v)
{
	if (v < 0) {
		*o++ = '-';
		return mw_put_u64(o, 0 - (uint64_t)v);
	}
	return mw_put_u64(o, (uint64_t)v);
}

#endif
