/* SPDX-License-Identifier: BSD-2-Clause */
/* A byte buffer: appended at the end, consumed from the front. */
#ifndef MW_BUF_H
#define MW_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

/* What an empty buffer takes first. */
#define MW_BUF_BLOCK 4096u
#define MW_BUF_CACHE_BLOCKS 256

/*
 * Blocks of MW_BUF_BLOCK bytes kept for the buffers that name this cache:
 * a connection's buffers are freed as soon as they drain, so that idle
 * connections hold none, and without it a busy connection took and gave
 * back several blocks from malloc for every message it carried.
 */
struct mw_buf_cache {
	size_t n;
	void *blocks[MW_BUF_CACHE_BLOCKS];
};

struct mw_buf {
	char *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of data */
	size_t cap;
	struct mw_buf_cache *cache; /* NULL: malloc and free only */
};

static inline size_t mw_buf_used(const struct mw_buf *b)
{
	return b->len - b->off;
}

static inline const char *mw_buf_head(const struct mw_buf *b)
{
	return b->data + b->off;
}

int mw_buf_append_slow(struct mw_buf *b, const void *data, size_t len);

/* 0 or -ENOMEM. Inline when it fits: masking appends twice a value. */
static inline int mw_buf_append(struct mw_buf *b, const void *data, size_t len)
{
	/* a drained buffer goes the slow way, which rewinds it */
	if (len && len <= b->cap - b->len && !(b->off && b->off == b->len)) {
		memcpy(b->data + b->len, data, len);
		b->len += len;
		return 0;
	}
	return mw_buf_append_slow(b, data, len);
}
/* Room for extra more bytes, so that appending them does not grow it. */
int mw_buf_reserve(struct mw_buf *b, size_t extra);
/* Appends NUL-terminated strings, NULL-terminated list; 0 or -ENOMEM. */
int mw_buf_cat(struct mw_buf *b, ...) __attribute__((sentinel));
/* Appends an unsigned number in decimal (hex when base is 16). */
int mw_buf_uint(struct mw_buf *b, unsigned long long v, int base);
int mw_buf_printf(struct mw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void mw_buf_consume(struct mw_buf *b, size_t n);
void mw_buf_reset(struct mw_buf *b);
/* Frees the memory of a drained buffer. */
void mw_buf_shrink(struct mw_buf *b);
void mw_buf_free(struct mw_buf *b);
/* Frees the blocks a cache holds; its buffers may still use it after. */
void mw_buf_cache_drain(struct mw_buf_cache *bc);

#endif
