// SPDX-License-Identifier: BSD-2-Clause
#include "glob.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum glob_tok_type { TOK_LITERAL, TOK_ONE, TOK_CLASS, TOK_STAR };

struct glob_tok {
	enum glob_tok_type type;
	uint32_t off; /* TOK_LITERAL: into text; TOK_CLASS: into classes */
	uint32_t len; /* TOK_LITERAL */
};

struct glob_class {
	uint64_t bits[2]; /* ASCII members */
	bool negated;
};

struct glob_seg {
	bool any_segments; /* "**" */
	uint32_t first_tok, ntoks;
};

struct mw_glob {
	bool literal;
	size_t nsegs, ntoks, nclasses, text_len;
	struct glob_seg *segs;
	struct glob_tok *toks;
	struct glob_class *classes;
	char *text; /* literal runs, unescaped, back to back */
	char *exact; /* the whole pattern unescaped, when literal */
	size_t exact_len;
};

static size_t utf8_len(const char *s, size_t n)
{
	unsigned char c = (unsigned char)s[0];
	size_t want = c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

	return want < n ? want : n;
}

static bool class_has(const struct glob_class *cl, unsigned char c)
{
	return cl->bits[c >> 6] & (1ULL << (c & 63));
}

static void class_add(struct glob_class *cl, unsigned char c)
{
	cl->bits[c >> 6] |= 1ULL << (c & 63);
}

/* Reads "[...]" at p[0] (p[0] == '['); returns the bytes used or 0. */
static size_t parse_class(const char *p, size_t n, struct glob_class *cl,
			  char *err, size_t errlen)
{
	size_t i = 1;
	bool first = true;

	memset(cl, 0, sizeof(*cl));
	if (i < n && (p[i] == '!' || p[i] == '^')) {
		cl->negated = true;
		i++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (i >= n) {
			snprintf(err, errlen, "unterminated '['");
			return 0;
		}
		if (p[i] == ']' && !first)
			return i + 1;
		first = false;
		if (p[i] == '\\' && i + 1 < n)
			i++;
		lo = (unsigned char)p[i++];
		hi = lo;
		if (i + 1 < n && p[i] == '-' && p[i + 1] != ']') {
			i++;
			if (p[i] == '\\' && i + 1 < n)
				i++;
			hi = (unsigned char)p[i++];
		}
		if (lo >= 0x80 || hi >= 0x80) {
			snprintf(err, errlen,
				 "'[...]' takes ASCII characters "
				 "only");
			return 0;
		}
		if (lo > hi) {
			snprintf(err, errlen, "range '%c-%c' is reversed", lo,
				 hi);
			return 0;
		}
		if (lo <= '/' && hi >= '/') {
			snprintf(err, errlen, "'[...]' cannot match '/'");
			return 0;
		}
		for (unsigned c = lo; c <= hi; c++)
			class_add(cl, (unsigned char)c);
	}
}

/* Compiles one segment (no '/' in it) into g's token arrays. */
static int compile_seg(struct mw_glob *g, const char *p, size_t n, char *err,
		       size_t errlen)
{
	struct glob_seg *seg = &g->segs[g->nsegs++];
	struct glob_tok *lit = NULL;

	seg->first_tok = (uint32_t)g->ntoks;
	if (n == 2 && p[0] == '*' && p[1] == '*') {
		seg->any_segments = true;
		g->literal = false;
		return 0;
	}
	for (size_t i = 0; i < n;) {
		struct glob_tok *t;

		if (p[i] == '*') {
			if (i + 1 < n && p[i + 1] == '*') {
				snprintf(err, errlen,
					 "'**' must be a whole path segment");
				return -1;
			}
			t = &g->toks[g->ntoks++];
			t->type = TOK_STAR;
			lit = NULL;
			i++;
		} else if (p[i] == '?') {
			t = &g->toks[g->ntoks++];
			t->type = TOK_ONE;
			lit = NULL;
			i++;
		} else if (p[i] == '[') {
			size_t used = parse_class(p + i, n - i,
						  &g->classes[g->nclasses], err,
						  errlen);

			if (!used)
				return -1;
			t = &g->toks[g->ntoks++];
			t->type = TOK_CLASS;
			t->off = (uint32_t)g->nclasses++;
			lit = NULL;
			i += used;
		} else {
			if (p[i] == '\\') {
				if (i + 1 == n) {
					snprintf(err, errlen,
						 "'\\' at the end escapes "
						 "nothing");
					return -1;
				}
				i++;
				if (p[i] == '/') {
					snprintf(err, errlen,
						 "'/' cannot be escaped");
					return -1;
				}
			}
			if (!lit) {
				lit = &g->toks[g->ntoks++];
				lit->type = TOK_LITERAL;
				lit->off = (uint32_t)g->text_len;
				lit->len = 0;
			}
			g->text[g->text_len++] = p[i++];
			lit->len++;
			continue;
		}
		g->literal = false;
	}
	seg->ntoks = (uint32_t)g->ntoks - seg->first_tok;
	return 0;
}

int mw_glob_compile(const char *pattern, size_t len, struct mw_glob **out,
		    char *err, size_t errlen)
{
	struct mw_glob *g;
	size_t start = 0;

	*out = NULL;
	if (len > MW_GLOB_MAX_LEN) {
		snprintf(err, errlen, "longer than %d bytes", MW_GLOB_MAX_LEN);
		return -1;
	}
	if (memchr(pattern, '\0', len)) {
		snprintf(err, errlen, "contains a NUL byte");
		return -1;
	}
	/* Each byte makes at most one token, class or literal byte. */
	g = calloc(1, sizeof(*g));
	if (!g)
		goto oom;
	g->segs = calloc(len + 1, sizeof(*g->segs));
	g->toks = calloc(len + 1, sizeof(*g->toks));
	g->classes = calloc(len / 2 + 1, sizeof(*g->classes));
	g->text = malloc(len + 1);
	if (!g->segs || !g->toks || !g->classes || !g->text)
		goto oom;
	g->literal = true;
	for (size_t i = 0; i <= len; i++) {
		/* An escaped '/' is not a separator (compile_seg refuses it). */
		if (i + 1 < len && pattern[i] == '\\') {
			i++;
			continue;
		}
		if (i == len || pattern[i] == '/') {
			if (compile_seg(g, pattern + start, i - start, err,
					errlen))
				goto fail;
			start = i + 1;
		}
	}
	g->text[g->text_len] = '\0';
	if (g->literal) {
		g->exact = malloc(len + 1);
		if (!g->exact)
			goto oom;
		for (size_t i = 0; i < len; i++) {
			if (pattern[i] == '\\')
				i++;
			g->exact[g->exact_len++] = pattern[i];
		}
		g->exact[g->exact_len] = '\0';
	}
	*out = g;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	mw_glob_free(g);
	return -1;
}

void mw_glob_free(struct mw_glob *g)
{
	if (!g)
		return;
	free(g->segs);
	free(g->toks);
	free(g->classes);
	free(g->text);
	free(g->exact);
	free(g);
}

const char *mw_glob_literal(const struct mw_glob *g, size_t *len)
{
	if (!g->literal)
		return NULL;
	*len = g->exact_len;
	return g->exact;
}

/* How many bytes of s[0..n) the token takes, or 0 when it does not match. */
static size_t tok_match(const struct mw_glob *g, const struct glob_tok *t,
			const char *s, size_t n)
{
	const struct glob_class *cl;

	switch (t->type) {
	case TOK_LITERAL:
		return n >= t->len && !memcmp(s, g->text + t->off, t->len)
			       ? t->len
			       : 0;
	case TOK_ONE:
		return n ? utf8_len(s, n) : 0;
	case TOK_CLASS:
		if (!n)
			return 0;
		cl = &g->classes[t->off];
		if ((unsigned char)s[0] < 0x80)
			return class_has(cl, (unsigned char)s[0]) != cl->negated
				       ? 1
				       : 0;
		return cl->negated ? utf8_len(s, n) : 0;
	case TOK_STAR:
		break;
	}
	return 0;
}

/*
 * One segment against one run of text without '/'. Greedy with a single
 * back-off point: when a later token fails, the last '*' takes one more
 * character. Taking more with an earlier '*' can never help, since the
 * last one could have taken the same characters.
 */
static bool seg_match(const struct mw_glob *g, const struct glob_seg *seg,
		      const char *s, size_t n)
{
	const struct glob_tok *t = g->toks + seg->first_tok;
	size_t nt = seg->ntoks, ti = 0, si = 0, star_ti = SIZE_MAX, star_si = 0;

	while (si < n) {
		size_t used;

		if (ti < nt && t[ti].type == TOK_STAR) {
			star_ti = ti++;
			star_si = si;
			continue;
		}
		if (ti < nt && (used = tok_match(g, &t[ti], s + si, n - si))) {
			ti++;
			si += used;
			continue;
		}
		if (star_ti == SIZE_MAX)
			return false;
		ti = star_ti + 1;
		star_si += utf8_len(s + star_si, n - star_si);
		si = star_si;
	}
	while (ti < nt && t[ti].type == TOK_STAR)
		ti++;
	return ti == nt;
}

/* End of the text segment that starts at pos. */
static size_t seg_end(const char *s, size_t len, size_t pos)
{
	const char *slash = memchr(s + pos, '/', len - pos);

	return slash ? (size_t)(slash - s) : len;
}

/*
 * The same greedy walk one level up: segments are the characters, "**"
 * the star. A position past len means every text segment is consumed.
 */
bool mw_glob_match(const struct mw_glob *g, const char *s, size_t len)
{
	size_t pi = 0, pos = 0, star_pi = SIZE_MAX, star_pos = 0;

	if (g->literal)
		return len == g->exact_len && !memcmp(s, g->exact, len);
	while (pos <= len) {
		size_t end = seg_end(s, len, pos);

		if (pi < g->nsegs && g->segs[pi].any_segments) {
			star_pi = pi++;
			star_pos = pos;
			continue;
		}
		if (pi < g->nsegs &&
		    seg_match(g, &g->segs[pi], s + pos, end - pos)) {
			pi++;
			pos = end + 1;
			continue;
		}
		if (star_pi == SIZE_MAX)
			return false;
		pi = star_pi + 1;
		star_pos = seg_end(s, len, star_pos) + 1;
		pos = star_pos;
	}
	while (pi < g->nsegs && g->segs[pi].any_segments)
		pi++;
	return pi == g->nsegs;
}
