// SPDX-License-Identifier: BSD-2-Clause
/*
 * Masking speed (make bench-mask), every built-in detector on:
 *
 *   fast path   mw_mask_candidates() over a 1 MiB tools/call result that
 *               holds nothing to mask, the pass that lets such a message
 *               through untouched: a document (prose, a few numbers) and
 *               records (ids, dates, order numbers, amounts: digits in
 *               every few bytes, the worst case for class-led patterns)
 *   rewrite     a 1 MiB result of customer rows where most of the bytes
 *               are values to mask (cards, SSNs, e-mails, phones, IBANs):
 *               the fast path, walking and masking the parsed message and
 *               serialising it again (what the daemon adds to a message it
 *               parses anyway), and the same with the parse counted
 *               (mw_json_loadb, the daemon's parser), and the parse alone
 *               against jansson's json_loadb
 *
 * Each figure is the median of RUNS runs of enough iterations to take
 * about 0.3 s, in MB/s of message bytes (10^6).
 *
 *   build/mask_bench [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "json_parse.h"
#include "json_text.h"
#include "mask.h"

#include "bench_util.h"

#define TARGET (1u << 20)

/* A JSON text of about TARGET bytes: a result whose text is rows. */
static char *result_of(const char *(*row)(unsigned i, char *buf, size_t n),
		       size_t *len)
{
	size_t cap = TARGET + 4096, o = 0;
	char *s = malloc(cap), buf[512];

	if (!s)
		exit(1);
	o += (size_t)snprintf(s, cap,
			      "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{"
			      "\"content\":[{\"type\":\"text\",\"text\":\"");
	for (unsigned i = 0; o < TARGET - 600; i++) {
		const char *r = row(i, buf, sizeof(buf));

		o += (size_t)snprintf(s + o, cap - o, "%s", r);
	}
	o += (size_t)snprintf(s + o, cap - o, "\"}]}}");
	*len = o;
	return s;
}

static const char *const words[] = {
	"invoice", "customer", "shipped", "pending", "the",    "order",
	"account", "balance",  "updated", "region",  "west",   "quarterly",
	"total",   "refund",   "status",  "open",    "closed", "review",
};

/* Nothing to mask: sentences, now and then a count. */
static const char *prose_row(unsigned i, char *buf, size_t n)
{
	snprintf(buf, n,
		 "The %s for this %s was %s after %s; the %s %s remains %s "
		 "until the %s %s is %s (%u items).%s ",
		 words[i % 18], words[(i * 7) % 18], words[(i * 5) % 18],
		 words[(i * 3) % 18], words[(i * 11) % 18],
		 words[(i * 13) % 18], words[(i * 17) % 18],
		 words[(i * 2) % 18], words[(i * 19) % 18],
		 words[(i * 23) % 18], i % 40, i % 8 == 7 ? "\\n\\n" : "");
	return buf;
}

/* Nothing to mask: words, short ids, dates, amounts. */
static const char *clean_row(unsigned i, char *buf, size_t n)
{
	snprintf(buf, n,
		 "row %u: %s %s %s, order ORD-2024-%06u on 2024-%02u-%02u, "
		 "total %u.%02u EUR, %s %s.\\n",
		 i, words[i % 18], words[(i * 7) % 18], words[(i * 5) % 18],
		 i % 1000000, 1 + i % 12, 1 + i % 28, i % 9000, i % 100,
		 words[(i * 3) % 18], words[(i * 11) % 18]);
	return buf;
}

/* Mostly values: a card, an SSN, an e-mail, a phone, an IBAN a row. */
static const char *dirty_row(unsigned i, char *buf, size_t n)
{
	static const char *const cards[] = { "4111 1111 1111 1111",
					     "5500-0000-0000-0004",
					     "378282246310005",
					     "6011111111111117" };

	snprintf(buf, n,
		 "%s;%03u-%02u-%04u;user%u@example.com;+44 20 7946 %04u;"
		 "DE89370400440532013000\\n",
		 cards[i % 4], 100 + i % 500, 10 + i % 89, 1000 + i % 8999, i,
		 i % 10000);
	return buf;
}

typedef long (*work_fn)(struct mw_masker *m, const struct mw_mask_plan *p,
			const char *s, size_t len);

static long fast_path(struct mw_masker *m, const struct mw_mask_plan *p,
		      const char *s, size_t len)
{
	return mw_mask_candidates(m, p->detectors, s, len) ? 1 : 0;
}

static json_t *parsed;

/* Serialised as the daemon does it (mw_json_write, the buffer sized
 * after the body it came in); 0 or -1. */
static int serialise(const json_t *j, size_t len)
{
	struct mw_buf out = { 0 };
	int rc = mw_buf_reserve(&out, len + 1) || mw_json_write(&out, j);

	mw_buf_free(&out);
	return rc;
}

/* The message parsed already (as the daemon has it): walk, mask, dump. */
static long rewrite(struct mw_masker *m, const struct mw_mask_plan *p,
		    const char *s, size_t len)
{
	json_t *j = json_deep_copy(parsed);
	long n = mw_mask_candidates(m, p->detectors, s, len)
			 ? mw_mask_json(m, p, &j, NULL)
			 : 0;

	if (serialise(j, len))
		n = -1;
	json_decref(j);
	return n;
}

/* The daemon's parse of a message (mw_rpc_parse's flags), then the rest. */
static long parse_and_rewrite(struct mw_masker *m, const struct mw_mask_plan *p,
			      const char *s, size_t len)
{
	json_t *j = mw_json_loadb(s, len, JSON_REJECT_DUPLICATES, NULL);
	long n = mw_mask_candidates(m, p->detectors, s, len)
			 ? mw_mask_json(m, p, &j, NULL)
			 : 0;

	if (serialise(j, len))
		n = -1;
	json_decref(j);
	return n;
}

/* The parse alone: the daemon's, and jansson's that it stands in for
 * (the same signature). */
static long parse_with(json_t *(*load)(const char *, size_t, size_t,
				       json_error_t *),
		       const char *s, size_t len)
{
	json_t *j = load(s, len, JSON_REJECT_DUPLICATES, NULL);

	json_decref(j);
	return j ? 0 : -1;
}

static long parse_only(struct mw_masker *m, const struct mw_mask_plan *p,
		       const char *s, size_t len)
{
	(void)m;
	(void)p;
	return parse_with(mw_json_loadb, s, len);
}

static long jansson_parse_only(struct mw_masker *m,
			       const struct mw_mask_plan *p, const char *s,
			       size_t len)
{
	(void)m;
	(void)p;
	return parse_with(json_loadb, s, len);
}

/* Copying the parsed tree is not the daemon's work: measured, removed. */
static long copy_only(struct mw_masker *m, const struct mw_mask_plan *p,
		      const char *s, size_t len)
{
	json_t *j = json_deep_copy(parsed);

	(void)m;
	(void)p;
	(void)s;
	(void)len;
	json_decref(j);
	return 0;
}

static double seconds_per_call(struct mw_masker *m,
			       const struct mw_mask_plan *p, const char *s,
			       size_t len, work_fn fn, int runs, long *result)
{
	double best[64];
	unsigned iters = 1;
	double t0, t;

	/* calibrate to about 0.3 s a run */
	for (;;) {
		t0 = now_s();
		for (unsigned k = 0; k < iters; k++)
			*result = fn(m, p, s, len);
		t = now_s() - t0;
		if (t > 0.05)
			break;
		iters *= 2;
	}
	iters = (unsigned)(iters * 0.3 / t) + 1;
	for (int r = 0; r < runs; r++) {
		t0 = now_s();
		for (unsigned k = 0; k < iters; k++)
			*result = fn(m, p, s, len);
		best[r] = (now_s() - t0) / iters;
	}
	qsort(best, (size_t)runs, sizeof(double), cmp_double);
	return best[runs / 2];
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	struct mw_mask_plan plan = { .detectors =
					     (1ull << MW_DET_N_BUILTIN) - 1 };
	struct mw_masker *m;
	size_t plen, clen, dlen;
	char *prose = result_of(prose_row, &plen);
	char *clean = result_of(clean_row, &clen);
	char *dirty = result_of(dirty_row, &dlen);
	char err[256];
	double t, copy, t_jansson;
	long res;

	if (runs < 1 || runs > 64) {
		fprintf(stderr, "usage: mask_bench [RUNS 1..64]\n");
		return 2;
	}
	if (mw_masker_new(&m, NULL, 0, NULL, 0, err, sizeof(err))) {
		fprintf(stderr, "mask_bench: %s\n", err);
		return 1;
	}
	printf("masking, every built-in detector (%u), medians of %d runs\n",
	       (unsigned)MW_DET_N_BUILTIN, runs);
	t = seconds_per_call(m, &plan, prose, plen, fast_path, runs, &res);
	printf("fast path, %zu-byte document, nothing to mask: %.0f MB/s\n",
	       plen, plen / t / 1e6);
	if (res) {
		fprintf(stderr, "mask_bench: the document has candidates\n");
		return 1;
	}
	t = seconds_per_call(m, &plan, clean, clen, fast_path, runs, &res);
	printf("fast path, %zu-byte records, nothing to mask: %.0f MB/s\n",
	       clen, clen / t / 1e6);
	if (res) {
		fprintf(stderr, "mask_bench: the records have candidates\n");
		return 1;
	}
	parsed = json_loadb(dirty, dlen, 0, NULL);
	if (!parsed) {
		fprintf(stderr, "mask_bench: the rows are not JSON\n");
		return 1;
	}
	copy = seconds_per_call(m, &plan, dirty, dlen, copy_only, runs, &res);
	t = seconds_per_call(m, &plan, dirty, dlen, rewrite, runs, &res);
	{
		json_t *j = json_deep_copy(parsed);
		char *out;
		size_t masked_bytes;

		mw_mask_json(m, &plan, &j, NULL);
		out = json_dumps(j, JSON_COMPACT);
		masked_bytes = out ? strlen(out) : 0;
		free(out);
		json_decref(j);
		printf("rewrite, %zu-byte result, %ld values masked (%zu bytes "
		       "out): %.0f MB/s\n",
		       dlen, res, masked_bytes, dlen / (t - copy) / 1e6);
	}
	t = seconds_per_call(m, &plan, dirty, dlen, parse_and_rewrite, runs,
			     &res);
	printf("parse and rewrite, the same result: %.0f MB/s\n",
	       dlen / t / 1e6);
	t = seconds_per_call(m, &plan, dirty, dlen, parse_only, runs, &res);
	t_jansson = seconds_per_call(m, &plan, dirty, dlen, jansson_parse_only,
				     runs, &res);
	printf("parse alone, the same result: %.0f MB/s (jansson's "
	       "json_loadb: %.0f MB/s)\n",
	       dlen / t / 1e6, dlen / t_jansson / 1e6);
	json_decref(parsed);
	mw_masker_free(m);
	free(prose);
	free(clean);
	free(dirty);
	return 0;
}
