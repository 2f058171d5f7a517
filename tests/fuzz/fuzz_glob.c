// SPDX-License-Identifier: BSD-2-Clause
/*
 * Policy and masking globs (glob.h) against the names and paths agents
 * send. Input: 2 bytes of pattern length (little endian, cut to what
 * follows), the pattern, then the text. Every run checks:
 *   - a refusal says why; a pattern over MW_GLOB_MAX_LEN or with a NUL
 *     is refused;
 *   - a pattern without wildcards matches exactly its literal;
 *   - on short inputs, mw_glob_match answers as a plain backtracking
 *     matcher written from glob.h's description, which tries every way
 *     a '*' or a '**' can go (the compiled matcher backs off greedily).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glob.h"

/* Short enough that the memo tables stay small and the walk quick. */
#define REF_MAX_PATTERN 96
#define REF_MAX_TEXT 96

/* ---- the reference, on the pattern text itself ---- */

static size_t char_len(const unsigned char *s, size_t n)
{
	size_t want = s[0] < 0xc0 ? 1 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;

	return want < n ? want : n;
}

/*
 * The class "[...]" at p (p[0] == '['), known to compile: whether byte c
 * (ASCII) is in it, and its length in *used.
 */
static bool class_match(const unsigned char *p, size_t n, unsigned char c,
			bool *negated, size_t *used)
{
	size_t i = 1;
	bool first = true, in = false;

	*negated = false;
	if (i < n && (p[i] == '!' || p[i] == '^')) {
		*negated = true;
		i++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (p[i] == ']' && !first)
			break;
		first = false;
		if (p[i] == '\\' && i + 1 < n)
			i++;
		lo = p[i++];
		hi = lo;
		if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
			i++;
			if (p[i] == '\\' && i + 1 < n)
				i++;
			hi = p[i++];
		}
		in |= c >= lo && c <= hi;
	}
	*used = i + 1;
	return in != *negated;
}

/* memo[pi][si]: 0 unknown, 1 no, 2 yes; for one segment pair */
static unsigned char seg_memo[REF_MAX_PATTERN + 1][REF_MAX_TEXT + 1];

/* Pattern segment p[0..pn) (no unescaped '/') against text s[0..sn). */
static bool ref_seg(const unsigned char *p, size_t pn, size_t pi,
		    const unsigned char *s, size_t sn, size_t si)
{
	unsigned char *m = &seg_memo[pi][si];
	bool r;

	if (*m)
		return *m == 2;
	if (pi == pn) {
		r = si == sn;
	} else if (p[pi] == '*') {
		r = ref_seg(p, pn, pi + 1, s, sn, si) ||
		    (si < sn &&
		     ref_seg(p, pn, pi, s, sn, si + char_len(s + si, sn - si)));
	} else if (p[pi] == '?') {
		r = si < sn && ref_seg(p, pn, pi + 1, s, sn,
				       si + char_len(s + si, sn - si));
	} else if (p[pi] == '[') {
		bool neg, in;
		size_t used;

		in = class_match(p + pi, pn - pi, si < sn ? s[si] : 0, &neg,
				 &used);
		if (si >= sn)
			r = false;
		else if (s[si] < 0x80)
			r = in && ref_seg(p, pn, pi + used, s, sn, si + 1);
		else
			r = neg && ref_seg(p, pn, pi + used, s, sn,
					   si + char_len(s + si, sn - si));
	} else {
		size_t k = pi;

		if (p[k] == '\\')
			k++;
		r = si < sn && s[si] == p[k] &&
		    ref_seg(p, pn, k + 1, s, sn, si + 1);
	}
	*m = r ? 2 : 1;
	return r;
}

struct span {
	size_t off, len;
};

static bool seg_pair(const unsigned char *p, struct span ps,
		     const unsigned char *s, struct span ts)
{
	memset(seg_memo, 0, sizeof(seg_memo));
	return ref_seg(p + ps.off, ps.len, 0, s + ts.off, ts.len, 0);
}

static unsigned char list_memo[REF_MAX_PATTERN + 2][REF_MAX_TEXT + 2];

/* Pattern segments from pi against text segments from ti. */
static bool ref_list(const unsigned char *p, const struct span *psegs,
		     size_t np, size_t pi, const unsigned char *s,
		     const struct span *tsegs, size_t nt, size_t ti)
{
	unsigned char *m = &list_memo[pi][ti];
	bool r;

	if (*m)
		return *m == 2;
	if (pi == np) {
		r = ti == nt;
	} else if (psegs[pi].len == 2 && p[psegs[pi].off] == '*' &&
		   p[psegs[pi].off + 1] == '*') {
		r = ref_list(p, psegs, np, pi + 1, s, tsegs, nt, ti) ||
		    (ti < nt &&
		     ref_list(p, psegs, np, pi, s, tsegs, nt, ti + 1));
	} else {
		r = ti < nt && seg_pair(p, psegs[pi], s, tsegs[ti]) &&
		    ref_list(p, psegs, np, pi + 1, s, tsegs, nt, ti + 1);
	}
	*m = r ? 2 : 1;
	return r;
}

static bool ref_match(const unsigned char *p, size_t pn, const unsigned char *s,
		      size_t sn)
{
	struct span psegs[REF_MAX_PATTERN + 1], tsegs[REF_MAX_TEXT + 1];
	size_t np = 0, nt = 0, start = 0;

	for (size_t i = 0; i <= pn; i++) {
		if (i + 1 < pn && p[i] == '\\') {
			i++;
			continue;
		}
		if (i == pn || p[i] == '/') {
			psegs[np++] = (struct span){ start, i - start };
			start = i + 1;
		}
	}
	start = 0;
	for (size_t i = 0; i <= sn; i++)
		if (i == sn || s[i] == '/') {
			tsegs[nt++] = (struct span){ start, i - start };
			start = i + 1;
		}
	memset(list_memo, 0, sizeof(list_memo));
	return ref_list(p, psegs, np, 0, s, tsegs, nt, 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *pat, *text;
	size_t plen, tlen, llen;
	struct mw_glob *g = NULL;
	const char *lit;
	char err[256] = "";
	bool m;

	if (size < 2)
		return 0;
	plen = (size_t)data[0] | (size_t)data[1] << 8;
	if (plen > size - 2)
		plen = size - 2;
	pat = (const char *)data + 2;
	text = pat + plen;
	tlen = size - 2 - plen;
	if (mw_glob_compile(pat, plen, &g, err, sizeof(err))) {
		if (!err[0] || g)
			abort();
		return 0;
	}
	if (!g || plen > MW_GLOB_MAX_LEN || memchr(pat, '\0', plen))
		abort();
	m = mw_glob_match(g, text, tlen);
	lit = mw_glob_literal(g, &llen);
	if (lit && (m != (llen == tlen && !memcmp(lit, text, tlen)) ||
		    !mw_glob_match(g, lit, llen)))
		abort();
	if (plen <= REF_MAX_PATTERN && tlen <= REF_MAX_TEXT &&
	    m != ref_match((const unsigned char *)pat, plen,
			   (const unsigned char *)text, tlen))
		abort();
	mw_glob_free(g);
	return 0;
}
