// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>

#include "decimal.h"

static void check_i64(int64_t v)
{
	char got[MW_DECIMAL_MAX + 1], want[32];

	*mw_put_i64(got, v) = '\0';
	snprintf(want, sizeof(want), "%" PRId64, v);
	cr_assert_str_eq(got, want);
}

Test(decimal, signed_values_read_as_printf_writes_them)
{
	static const int64_t values[] = {
		0,   1,		-1,	   9,	      10,
		-10, 123456789, INT64_MAX, INT64_MIN, INT64_MIN + 1
	};

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		check_i64(values[i]);
	for (int64_t v = -100000; v <= 100000; v += 7)
		check_i64(v);
}

Test(decimal, the_largest_unsigned_value_fills_the_bound)
{
	char got[MW_DECIMAL_MAX + 1];
	char *end = mw_put_u64(got, UINT64_MAX);

	cr_assert_eq(end - got, MW_DECIMAL_MAX);
	*end = '\0';
	cr_assert_str_eq(got, "18446744073709551615");
	*mw_put_i64(got, INT64_MIN) = '\0';
	cr_assert_str_eq(got, "-9223372036854775808");
}
