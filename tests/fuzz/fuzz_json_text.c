// SPDX-License-Identifier: BSD-2-Clause
/*
 * Input: any bytes. The tokens of the text are walked (each inside the
 * text, in order) and every string token decoded. When jansson reads the
 * input as one JSON string, the token found is that string, and
 * mw_json_unescape() gives exactly jansson's value: the fast path of
 * masking reads escapes as the parse does. Any JSON jansson reads,
 * mw_json_write() writes byte for byte as json_dumps() does, but for
 * U+0085, U+2028 and U+2029, which it escapes (SSE readers split lines
 * on them) and json_dumps writes raw. The lenient
 * decode is never longer than its input, and agrees with the strict one
 * wherever that reads the text (control characters aside).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mw_json_token tok;
	size_t at = 0, prev_end = 0, n;
	char *out;
	json_t *j;

	if (size > (1u << 16))
		return 0;
	out = malloc(size + 1);
	if (!out)
		return 0;
	while (mw_json_next_token(s, size, &at, &tok)) {
		if (tok.start < prev_end || tok.end < tok.start ||
		    tok.end > size || at > size || at < tok.end)
			abort();
		prev_end = tok.end;
		if (tok.is_string)
			mw_json_unescape(out, s + tok.start,
					 tok.end - tok.start);
	}
	/* the lenient decode: never longer, and where the strict one reads
	 * the text, the same bytes but for control characters */
	{
		char *strict = malloc(size + 1);
		size_t ln = mw_json_unescape_lenient(out, s, size), sn;

		if (!strict || ln > size)
			abort();
		sn = mw_json_unescape(strict, s, size);
		if (sn != MW_JSON_UNESCAPE_FAILED) {
			if (sn != ln)
				abort();
			for (size_t i = 0; i < sn; i++)
				if (out[i] != strict[i] &&
				    !(out[i] == '?' &&
				      (unsigned char)strict[i] < 0x20))
					abort();
		}
		free(strict);
	}
	j = json_loadb(s, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (json_is_string(j)) {
		size_t lead = 0;

		while (lead < size && strchr(" \t\r\n", s[lead]))
			lead++;
		at = lead;
		if (!mw_json_next_token(s, size, &at, &tok) || !tok.is_string ||
		    tok.start != lead + 1)
			abort();
		n = mw_json_unescape(out, s + tok.start, tok.end - tok.start);
		if (n == MW_JSON_UNESCAPE_FAILED ||
		    n != json_string_length(j) ||
		    memcmp(out, json_string_value(j), n))
			abort();
	}
	if (j) {
		struct mw_buf w = { 0 }, want = { 0 };
		char *ref = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

		if (!ref || mw_json_write(&w, j))
			abort();
		/* raw non-ASCII is only ever inside strings */
		for (const char *p = ref; *p;) {
			const char *esc =
				!strncmp(p, "\xc2\x85", 2)	 ? "\\u0085"
				: !strncmp(p, "\xe2\x80\xa8", 3) ? "\\u2028"
				: !strncmp(p, "\xe2\x80\xa9", 3) ? "\\u2029"
								 : NULL;

			if (esc ? mw_buf_append(&want, esc, 6)
				: mw_buf_append(&want, p, 1))
				abort();
			p += esc ? (esc[5] == '5' ? 2 : 3) : 1;
		}
		if (mw_buf_used(&w) != mw_buf_used(&want) ||
		    memcmp(mw_buf_head(&w), mw_buf_head(&want),
			   mw_buf_used(&w)))
			abort();
		free(ref);
		mw_buf_free(&w);
		mw_buf_free(&want);
	}
	json_decref(j);
	free(out);
	return 0;
}
