// SPDX-License-Identifier: BSD-2-Clause
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A block in the cache is poisoned for ASan as a freed one would be: a
 * pointer kept into a drained buffer is caught until a buffer takes the
 * block again (sooner than ASan's quarantine would let freed memory be
 * reused: the cache hands out the block it took last).
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define BLOCK_CACHED(p) ASAN_POISON_MEMORY_REGION((p), MW_BUF_BLOCK)
#define BLOCK_TAKEN(p) ASAN_UNPOISON_MEMORY_REGION((p), MW_BUF_BLOCK)
#else
#define BLOCK_CACHED(p) ((void)(p))
#define BLOCK_TAKEN(p) ((void)(p))
#endif

static int reserve(struct mw_buf *b, size_t extra)
{
	size_t need, cap;
	char *n;

	if (b->off && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	if (b->len + extra <= b->cap)
		return 0;
	/* Slide the unconsumed bytes down before growing. */
	if (b->off) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->len + extra <= b->cap)
			return 0;
	}
	if (extra > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	need = b->len + extra;
	if (!b->cap && need <= MW_BUF_BLOCK && b->cache && b->cache->n) {
		b->data = b->cache->blocks[--b->cache->n];
		BLOCK_TAKEN(b->data);
		b->cap = MW_BUF_BLOCK;
		return 0;
	}
	cap = b->cap ? b->cap : MW_BUF_BLOCK;
	while (cap < need)
		cap *= 2;
	n = realloc(b->data, cap);
	if (!n)
		return -ENOMEM;
	b->data = n;
	b->cap = cap;
	return 0;
}

int mw_buf_reserve(struct mw_buf *b, size_t extra)
{
	return reserve(b, extra);
}

int mw_buf_append_slow(struct mw_buf *b, const void *data, size_t len)
{
	if (!len)
		return 0;
	if (reserve(b, len))
		return -ENOMEM;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int mw_buf_cat(struct mw_buf *b, ...)
{
	va_list ap;
	const char *s;
	int rc = 0;

	va_start(ap, b);
	while (!rc && (s = va_arg(ap, const char *)))
		rc = mw_buf_append(b, s, strlen(s));
	va_end(ap);
	return rc;
}

int mw_buf_uint(struct mw_buf *b, unsigned long long v, int base)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[24];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = digits[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	return mw_buf_append(b, tmp + i, sizeof(tmp) - i);
}

int mw_buf_printf(struct mw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void mw_buf_consume(struct mw_buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len) {
		b->off = 0;
		b->len = 0;
	}
}

void mw_buf_reset(struct mw_buf *b)
{
	b->off = 0;
	b->len = 0;
}

void mw_buf_free(struct mw_buf *b)
{
	struct mw_buf_cache *bc = b->cache;

	if (bc && b->cap == MW_BUF_BLOCK && bc->n < MW_BUF_CACHE_BLOCKS) {
		BLOCK_CACHED(b->data);
		bc->blocks[bc->n++] = b->data;
	} else {
		free(b->data);
	}
	b->data = NULL;
	b->cap = b->off = b->len = 0;
}

void mw_buf_shrink(struct mw_buf *b)
{
	/* An idle connection holds no buffer memory: a thousand of them
	 * must fit in a few MiB. */
	if (b->off == b->len && b->cap)
		mw_buf_free(b);
}

void mw_buf_cache_drain(struct mw_buf_cache *bc)
{
	while (bc->n) {
		void *p = bc->blocks[--bc->n];

		BLOCK_TAKEN(p);
		free(p);
	}
}
