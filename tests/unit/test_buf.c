// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <string.h>

#include "buf.h"

Test(buf, a_drained_buffer_gives_its_block_to_the_cache_and_takes_it_back)
{
	struct mw_buf_cache bc = { 0 };
	struct mw_buf b = { .cache = &bc };
	char *first;

	cr_assert_eq(mw_buf_append(&b, "hello", 5), 0);
	cr_assert_eq(b.cap, MW_BUF_BLOCK);
	first = b.data;
	mw_buf_consume(&b, 5);
	mw_buf_shrink(&b);
	cr_assert_null(b.data, "a drained buffer holds no memory");
	cr_assert_eq(bc.n, 1);
	cr_assert_eq(mw_buf_append(&b, "world", 5), 0);
	cr_assert_eq(b.data, first, "the cached block is taken again");
	cr_assert_eq(bc.n, 0);
	cr_assert_eq(memcmp(mw_buf_head(&b), "world", 5), 0);
	mw_buf_free(&b);
	mw_buf_cache_drain(&bc);
	cr_assert_eq(bc.n, 0);
}

Test(buf, a_buffer_that_grew_past_a_block_is_freed_not_cached)
{
	struct mw_buf_cache bc = { 0 };
	struct mw_buf b = { .cache = &bc };
	static char big[MW_BUF_BLOCK + 1];

	memset(big, 'x', sizeof(big));
	cr_assert_eq(mw_buf_append(&b, big, sizeof(big)), 0);
	cr_assert_gt(b.cap, MW_BUF_BLOCK);
	mw_buf_free(&b);
	cr_assert_eq(bc.n, 0);
	cr_assert_null(b.data);
}

Test(buf, an_append_larger_than_a_block_leaves_the_cache_alone)
{
	struct mw_buf_cache bc = { 0 };
	struct mw_buf a = { .cache = &bc }, b = { .cache = &bc };
	static char big[2 * MW_BUF_BLOCK];

	cr_assert_eq(mw_buf_append(&a, "a", 1), 0);
	mw_buf_free(&a);
	cr_assert_eq(bc.n, 1);
	memset(big, 'y', sizeof(big));
	cr_assert_eq(mw_buf_append(&b, big, sizeof(big)), 0);
	cr_assert_eq(bc.n, 1, "a block too small for it is not taken");
	cr_assert_eq(mw_buf_used(&b), sizeof(big));
	cr_assert_eq(memcmp(mw_buf_head(&b), big, sizeof(big)), 0);
	mw_buf_free(&b);
	mw_buf_cache_drain(&bc);
}

Test(buf, the_cache_holds_at_most_its_bound)
{
	static struct mw_buf bufs[MW_BUF_CACHE_BLOCKS + 8];
	struct mw_buf_cache bc = { 0 };

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) {
		bufs[i] = (struct mw_buf){ .cache = &bc };
		cr_assert_eq(mw_buf_append(&bufs[i], "z", 1), 0);
	}
	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		mw_buf_free(&bufs[i]);
	cr_assert_eq(bc.n, MW_BUF_CACHE_BLOCKS);
	mw_buf_cache_drain(&bc);
	cr_assert_eq(bc.n, 0);
}

Test(buf, without_a_cache_a_drained_buffer_is_freed)
{
	struct mw_buf b = { 0 };

	cr_assert_eq(mw_buf_cat(&b, "a", "b", NULL), 0);
	cr_assert_eq(mw_buf_used(&b), 2);
	mw_buf_consume(&b, 2);
	mw_buf_shrink(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.cap, 0);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>

/* A pointer kept into a drained buffer is caught while its block waits
 * in the cache. */
Test(buf, a_cached_block_reads_as_freed_memory_to_asan)
{
	struct mw_buf_cache bc = { 0 };
	struct mw_buf b = { .cache = &bc };
	char *p;

	cr_assert_eq(mw_buf_append(&b, "abc", 3), 0);
	p = b.data;
	mw_buf_free(&b);
	cr_assert(__asan_address_is_poisoned(p));
	cr_assert(__asan_address_is_poisoned(p + MW_BUF_BLOCK - 1));
	cr_assert_eq(mw_buf_append(&b, "d", 1), 0);
	cr_assert_not(__asan_address_is_poisoned(p + MW_BUF_BLOCK - 1));
	mw_buf_free(&b);
	mw_buf_cache_drain(&bc);
}
#endif
