// SPDX-License-Identifier: BSD-2-Clause
/*
 * Input: 1 byte of style, then text. Every built-in detector runs over the
 * text (mw_mask_find and mw_mask_text) and, when the text is JSON, over the
 * parsed value (mw_mask_json), with an anchored custom pattern too.
 * Checked: spans are ordered, inside the text and do not overlap; the fast
 * path never says "nothing" where a value was found, in the text or in the
 * JSON it is; what masking replaces (overlapping values as one) covers
 * every value found, masking a text replaces exactly that, and what it
 * leaves between them is the text's own bytes; masked JSON stays JSON.
 * (Masking twice may find more: a value that touched a letter can touch a
 * token's ']' instead.)
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mask.h"

static struct mw_masker *fuzz_masker;

static struct mw_masker *masker(void)
{
	static const uint8_t key[MW_MASK_KEY_BYTES] = { 7 };
	struct mw_mask_custom anchored = { .name = "order",
					   .pattern = "^[A-Z]{2}-[0-9]{3}$" };
	char err[256];

	if (!fuzz_masker) {
		if (mw_masker_new(&fuzz_masker, &anchored, 1, NULL, 0, err,
				  sizeof(err)))
			abort();
		mw_masker_set_key(fuzz_masker, key);
	}
	return fuzz_masker;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_masker *m = masker();
	uint64_t all = (1ull << MW_DET_N_BUILTIN) - 1;
	uint64_t with_custom = (1ull << (MW_DET_N_BUILTIN + 1)) - 1;
	struct mw_mask_plan plan = { .detectors = with_custom };
	struct mw_mask_span spans[256], found_at[256];
	struct mw_mask_counts counts = { 0 };
	const char *text;
	size_t len, outlen;
	char *out;
	long n, k, found;
	json_t *j;

	if (size < 1 || size > (1u << 16))
		return 0;
	/* partial keeps the last four: masking it again may find those */
	memset(plan.style, data[0] & 1 ? MW_MASK_HASH : MW_MASK_FULL,
	       sizeof(plan.style));
	text = (const char *)data + 1;
	len = size - 1;
	found = mw_mask_find(m, all, text, len, found_at, 256);
	if (found < 0)
		abort();
	for (long i = 0; i < found && i < 256; i++) {
		if (found_at[i].start >= found_at[i].end ||
		    found_at[i].end > len ||
		    found_at[i].detector >= MW_DET_N_BUILTIN)
			abort();
		if (i && found_at[i].start < found_at[i - 1].end)
			abort();
	}
	/* the fast path reads JSON text, escapes decoded: without any, the
	 * text is what it scans */
	if (found && !memchr(text, '\\', len) &&
	    !mw_mask_candidates(m, all, text, len))
		abort();
	/* what masking replaces: overlapping values as one, which covers
	 * every value found */
	n = mw_mask_spans(m, all, text, len, spans, 256);
	if (n < 0 || (n > 0) != (found > 0))
		abort();
	for (long i = 0, f = 0; n <= 256 && i < found && found <= 256; i++) {
		while (f < n && spans[f].end <= found_at[i].start)
			f++;
		if (f >= n || spans[f].start > found_at[i].start ||
		    spans[f].end < found_at[i].end)
			abort();
	}
	plan.detectors = all;
	k = mw_mask_text(m, &plan, text, len, &out, &outlen, &counts);
	if (k != n || (k > 0) != (out != NULL) || counts.total != (uint32_t)k)
		abort();
	if (out) {
		/* the bytes before the first value and after the last */
		if (outlen < spans[0].start ||
		    memcmp(out, text, spans[0].start) ||
		    (n <= 256 &&
		     (outlen < len - spans[n - 1].end ||
		      memcmp(out + outlen - (len - spans[n - 1].end),
			     text + spans[n - 1].end, len - spans[n - 1].end))))
			abort();
		free(out);
	}
	j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
	if (j) {
		char *dump;
		long masked;

		plan.detectors = with_custom;
		masked = mw_mask_json(m, &plan, &j, NULL);
		if (masked < 0 ||
		    (masked > 0 &&
		     !mw_mask_candidates(m, with_custom, text, len)))
			abort();
		dump = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!dump)
			abort();
		json_decref(j);
		j = json_loads(dump, JSON_DECODE_ANY, NULL);
		if (!j)
			abort();
		json_decref(j);
		free(dump);
	}
	return 0;
}
