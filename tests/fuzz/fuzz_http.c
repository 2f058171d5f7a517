// SPDX-License-Identifier: BSD-2-Clause
/*
 * Input: 1 byte of flags, 2 bytes of head bound, 4 bytes of slicing seed,
 * then the stream. The stream goes to a REQUEST parser and to a RESPONSE
 * parser, each once in one piece and once in seeded random slices, then
 * mw_http_eof. The callbacks check the invariants the proxy relies on;
 * both slicings must report the same messages and the same outcome.
 *
 * Flags: bit 0, the response parser's on_head returns 1 (a HEAD request's
 * response, no body).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

struct fuzz_http_run {
	struct mw_http h;
	enum mw_http_kind kind;
	bool skip_body;
	bool in_msg;
	int64_t content_length;
	uint64_t body_bytes;
	size_t heads, completes;
	/* The head as seen by on_head, to check it is intact at complete. */
	uint64_t head_digest;
	uint64_t body_digest;
	uint64_t digest;
	bool upgraded; /* failed on the protocol upgrade */
};

static uint64_t fuzz_hash(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t fuzz_hash_str(uint64_t h, const char *s)
{
	size_t len = strlen(s);

	h = fuzz_hash(h, &len, sizeof(len));
	return fuzz_hash(h, s, len);
}

/* Reads every string of the head: ASan notices if any is stale. */
static uint64_t fuzz_head_digest(const struct fuzz_http_run *r,
				 const struct mw_http_head *head)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	h = fuzz_hash_str(h, head->method);
	if (r->kind == MW_HTTP_REQUEST)
		h = fuzz_hash_str(h, head->url);
	h = fuzz_hash(h, &head->status, sizeof(head->status));
	h = fuzz_hash(h, &head->major, sizeof(head->major));
	h = fuzz_hash(h, &head->minor, sizeof(head->minor));
	h = fuzz_hash(h, &head->nheaders, sizeof(head->nheaders));
	for (size_t i = 0; i < head->nheaders; i++) {
		h = fuzz_hash_str(h, head->headers[i].name);
		h = fuzz_hash_str(h, head->headers[i].value);
	}
	h = fuzz_hash(h, &head->content_length, sizeof(head->content_length));
	h ^= (uint64_t)head->keep_alive << 1 | (uint64_t)head->chunked << 2 |
	     (uint64_t)head->expect_continue << 3 |
	     (uint64_t)head->upgrade << 4;
	return h;
}

static int fuzz_on_head(void *arg, struct mw_http_head *head)
{
	struct fuzz_http_run *r = arg;

	if (r->in_msg || r->heads != r->completes)
		abort();
	if (!mw_http_in_message(&r->h))
		abort();
	if (head->nheaders > MW_HTTP_MAX_HEADERS)
		abort();
	for (size_t i = 0; i < head->nheaders; i++) {
		if (!head->headers[i].name || !head->headers[i].name[0])
			abort();
		if (!head->headers[i].value)
			abort();
	}
	if (head->content_length < -1)
		abort();
	if (head->chunked && head->content_length != -1)
		abort();
	/* The framing http-parser used is the one the head shows. */
	if (head->content_length >= 0 &&
	    !mw_http_header(head, "content-length"))
		abort();
	if (head->chunked &&
	    (!mw_http_header(head, "transfer-encoding") ||
	     strcasecmp(mw_http_header(head, "transfer-encoding"), "chunked")))
		abort();
	if (r->kind == MW_HTTP_REQUEST) {
		if (!head->method[0] || !head->url || head->url[0] != '/')
			abort();
		if (head->major == 1 && head->minor >= 1 &&
		    !mw_http_header(head, "host"))
			abort();
	} else {
		if (head->status < 0 || head->status > 999 || head->method[0])
			abort();
		if (head->status < 100 || head->status > 599)
			abort();
	}
	if (head->expect_continue &&
	    strcasecmp(mw_http_header(head, "expect"), "100-continue"))
		abort();

	r->in_msg = true;
	r->heads++;
	r->content_length = head->content_length;
	r->body_bytes = 0;
	r->body_digest = 0xcbf29ce484222325ULL;
	r->head_digest = fuzz_head_digest(r, head);
	r->digest =
		fuzz_hash(r->digest, &r->head_digest, sizeof(r->head_digest));
	return r->skip_body ? 1 : 0;
}

static int fuzz_on_body(void *arg, const char *data, size_t len)
{
	struct fuzz_http_run *r = arg;

	if (!r->in_msg || !mw_http_in_message(&r->h))
		abort();
	if (r->skip_body)
		abort();
	r->body_bytes += len;
	if (r->content_length >= 0 &&
	    r->body_bytes > (uint64_t)r->content_length)
		abort();
	r->body_digest = fuzz_hash(r->body_digest, data, len);
	return 0;
}

static int fuzz_on_complete(void *arg)
{
	struct fuzz_http_run *r = arg;

	if (!r->in_msg || mw_http_in_message(&r->h))
		abort();
	if (r->content_length >= 0 && !r->skip_body &&
	    r->body_bytes != (uint64_t)r->content_length &&
	    !(r->kind == MW_HTTP_RESPONSE &&
	      (r->h.head.status / 100 == 1 || r->h.head.status == 204 ||
	       r->h.head.status == 304)))
		abort();
	/* The proxy reads the head from on_complete: it must be intact. */
	if (fuzz_head_digest(r, &r->h.head) != r->head_digest)
		abort();
	r->in_msg = false;
	r->completes++;
	r->digest = fuzz_hash(r->digest, &r->body_bytes, sizeof(r->body_bytes));
	r->digest =
		fuzz_hash(r->digest, &r->body_digest, sizeof(r->body_digest));
	return 0;
}

static const struct mw_http_cb fuzz_http_cb = {
	.on_head = fuzz_on_head,
	.on_body = fuzz_on_body,
	.on_complete = fuzz_on_complete,
};

static uint32_t fuzz_next(uint32_t *state)
{
	uint32_t x = *state ? *state : 1;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* 0 when the stream parsed and ended cleanly, 1 on a rejection. */
static int fuzz_http_parse(struct fuzz_http_run *r, enum mw_http_kind kind,
			   size_t max_head, bool skip_body, const uint8_t *in,
			   size_t len, uint32_t seed, bool slice)
{
	size_t off = 0, n;
	ssize_t got;
	int failed = 0;
	bool upgrade = false;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->skip_body = kind == MW_HTTP_RESPONSE && skip_body;
	mw_http_init(&r->h, kind, max_head, &fuzz_http_cb, r);
	while (off < len) {
		/* Slices of 1 to 64 bytes: never 0, which means EOF. */
		n = slice ? 1 + fuzz_next(&seed) % 64 : len;
		if (n > len - off)
			n = len - off;
		got = mw_http_feed(&r->h, (const char *)in + off, n);
		if (got < 0) {
			failed = 1;
			break;
		}
		if ((size_t)got != n)
			abort();
		off += n;
		/* Open from the first byte of a message; surely after a head. */
		if (r->in_msg && !mw_http_in_message(&r->h))
			abort();
	}
	if (failed) {
		const char *why = mw_http_error(&r->h);

		if (!why || !why[0])
			abort();
		upgrade = strstr(why, "upgrade") != NULL;
		r->upgraded = upgrade;
		/* Errors stick (an upgrade is refused once, then closed). */
		if (!upgrade &&
		    (mw_http_feed(&r->h, "GET / HTTP/1.1\r\n", 16) != -1 ||
		     mw_http_eof(&r->h) != -1))
			abort();
	} else {
		bool was_in = mw_http_in_message(&r->h);
		size_t completes = r->completes;

		if (mw_http_eof(&r->h) == 0) {
			if (mw_http_in_message(&r->h) || r->in_msg)
				abort();
			if (was_in && r->completes != completes + 1)
				abort();
		} else {
			failed = 1;
			if (!mw_http_error(&r->h)[0])
				abort();
		}
	}
	r->digest = fuzz_hash(r->digest, &r->heads, sizeof(r->heads));
	r->digest = fuzz_hash(r->digest, &r->completes, sizeof(r->completes));
	mw_http_free(&r->h);
	return failed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_http_run whole, sliced;
	static const enum mw_http_kind kinds[] = { MW_HTTP_REQUEST,
						   MW_HTTP_RESPONSE };
	bool skip_body;
	size_t max_head;
	uint32_t seed;

	if (size < 7)
		return 0;
	skip_body = data[0] & 1;
	max_head = 1 + ((size_t)data[1] << 8 | data[2]);
	memcpy(&seed, data + 3, sizeof(seed));
	data += 7;
	size -= 7;

	for (size_t k = 0; k < 2; k++) {
		int fw = fuzz_http_parse(&whole, kinds[k], max_head, skip_body,
					 data, size, 0, false);
		int fs = fuzz_http_parse(&sliced, kinds[k], max_head, skip_body,
					 data, size, seed, true);

		if (fw != fs || whole.heads != sliced.heads)
			abort();
		if (whole.completes != sliced.completes ||
		    whole.digest != sliced.digest)
			abort();
	}
	return 0;
}
