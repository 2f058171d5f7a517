// SPDX-License-Identifier: BSD-2-Clause
/*
 * Input: 2 bytes of bound, 4 bytes of slicing seed, then the stream. The
 * stream is parsed in one piece and again in seeded random slices; both must
 * report the same blocks, and the raw bytes reported plus those pending must
 * always be exactly the bytes fed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"

struct fuzz_sse_run {
	const uint8_t *in;
	size_t max;
	size_t seen; /* raw bytes reported so far */
	size_t blocks;
	uint64_t digest;
};

static uint64_t fuzz_hash(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t fuzz_hash_str(uint64_t h, const char *s)
{
	size_t len = s ? strlen(s) : SIZE_MAX;

	h = fuzz_hash(h, &len, sizeof(len));
	return s ? fuzz_hash(h, s, len) : h;
}

static int fuzz_sse_on_event(void *arg, const struct mw_sse_event *ev)
{
	struct fuzz_sse_run *r = arg;
	uint64_t h = r->digest;

	if (!ev->raw_len || ev->raw_len > r->max)
		abort();
	if (memcmp(ev->raw, r->in + r->seen, ev->raw_len) != 0)
		abort();
	if ((ev->data != NULL) != (ev->kind == MW_SSE_MESSAGE))
		abort();
	if (ev->data &&
	    (ev->data[ev->data_len] != '\0' || ev->data_len >= ev->raw_len))
		abort();
	if (ev->event && (!ev->event[0] || strlen(ev->event) >= ev->raw_len))
		abort();
	if (ev->id && !ev->id[0])
		abort();
	if (ev->retry < -1)
		abort();
	r->seen += ev->raw_len;
	r->blocks++;

	h = fuzz_hash(h, &ev->kind, sizeof(ev->kind));
	h = fuzz_hash_str(h, ev->event);
	h = fuzz_hash_str(h, ev->id);
	h = fuzz_hash(h, &ev->retry, sizeof(ev->retry));
	h = fuzz_hash(h, &ev->data_len, sizeof(ev->data_len));
	if (ev->data)
		h = fuzz_hash(h, ev->data, ev->data_len);
	h = fuzz_hash(h, &ev->raw_len, sizeof(ev->raw_len));
	r->digest = h;
	return 0;
}

static void fuzz_check_pending(const struct mw_sse *s,
			       const struct fuzz_sse_run *r, size_t fed)
{
	const char *pending;
	size_t len;

	pending = mw_sse_pending_raw(s, &len);
	if (len != mw_sse_pending(s) || r->seen + len != fed)
		abort();
	if (len && memcmp(pending, r->in + r->seen, len) != 0)
		abort();
}

static uint32_t fuzz_next(uint32_t *state)
{
	uint32_t x = *state ? *state : 1;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* step_seed 0: one piece. Returns the first error, or 0. */
static int fuzz_sse_parse(struct fuzz_sse_run *r, size_t len,
			  uint32_t step_seed, bool slice)
{
	struct mw_sse s;
	size_t off = 0, n;
	int err = 0;

	if (mw_sse_init(&s, r->max))
		abort();
	while (off < len) {
		n = slice ? fuzz_next(&step_seed) % 17 : len;
		if (n > len - off)
			n = len - off;
		err = mw_sse_feed(&s, (const char *)r->in + off, n,
				  fuzz_sse_on_event, r);
		if (err)
			goto out;
		off += n;
		fuzz_check_pending(&s, r, off);
		if (mw_sse_pending(&s) > r->max)
			abort();
	}
	err = mw_sse_finish(&s, fuzz_sse_on_event, r);
	if (!err && (r->seen != len || mw_sse_pending(&s)))
		abort();
out:
	if (err && (err != -EMSGSIZE && err != -EBADMSG))
		abort();
	if (err && !mw_sse_error(&s)[0])
		abort();
	if (err && mw_sse_feed(&s, "x", 1, fuzz_sse_on_event, r) != err)
		abort();
	mw_sse_free(&s);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_sse_run whole = { 0 }, sliced = { 0 };
	uint32_t seed;
	size_t max;
	int err_whole, err_sliced;

	if (size < 6)
		return 0;
	max = 1 + ((size_t)data[0] << 8 | data[1]);
	memcpy(&seed, data + 2, sizeof(seed));
	data += 6;
	size -= 6;

	whole.in = sliced.in = data;
	whole.max = sliced.max = max;
	err_whole = fuzz_sse_parse(&whole, size, 0, false);
	err_sliced = fuzz_sse_parse(&sliced, size, seed, true);
	if (err_whole != err_sliced || whole.blocks != sliced.blocks ||
	    whole.digest != sliced.digest || whole.seen != sliced.seen)
		abort();
	return 0;
}
