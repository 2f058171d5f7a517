/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON text without a parse: see json_text.h. */
#include "json_text.h"

#include <string.h>

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The four hex digits at s (n bytes left), or -1. */
static long hex4(const char *s, size_t n)
{
	long v = 0;

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = hex_value(s[i]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * The escape at s (s[0] is the backslash, n bytes left) decoded to out:
 * how many input bytes it took, or 0 when it is malformed.
 */
static size_t unescape_one(const char *s, size_t n, char *out, size_t *olen)
{
	static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
	long hi, lo;

	if (n < 2)
		return 0;
	if (s[1] != 'u') {
		for (size_t k = 0; simple[k]; k += 2)
			if (s[1] == simple[k]) {
				out[0] = simple[k + 1];
				*olen = 1;
				return 2;
			}
		return 0;
	}
	hi = hex4(s + 2, n - 2);
	if (hi < 0 || (hi >= 0xdc00 && hi <= 0xdfff))
		return 0;
	if (hi < 0xd800 || hi > 0xdbff) {
		*olen = put_utf8(out, (unsigned long)hi);
		return 6;
	}
	/* a high surrogate: its low half must follow */
	if (n < 12 || s[6] != '\\' || s[7] != 'u')
		return 0;
	lo = hex4(s + 8, n - 8);
	if (lo < 0xdc00 || lo > 0xdfff)
		return 0;
	*olen = put_utf8(out, 0x10000 + (((unsigned long)hi - 0xd800) << 10) +
				      ((unsigned long)lo - 0xdc00));
	return 12;
}

size_t mw_json_unescape(char *out, const char *s, size_t len)
{
	const char *end = s + len, *bs;
	size_t o = 0;

	while ((bs = memchr(s, '\\', (size_t)(end - s)))) {
		size_t took, olen = 0;

		memcpy(out + o, s, (size_t)(bs - s));
		o += (size_t)(bs - s);
		took = unescape_one(bs, (size_t)(end - bs), out + o, &olen);
		if (!took)
			return MW_JSON_UNESCAPE_FAILED;
		o += olen;
		s = bs + took;
	}
	memcpy(out + o, s, (size_t)(end - s));
	return o + (size_t)(end - s);
}

static bool is_number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
	       c == 'e' || c == 'E';
}

bool mw_json_next_token(const char *s, size_t len, size_t *at,
			struct mw_json_token *tok)
{
	size_t i = *at;

	while (i < len && s[i] != '"' && s[i] != '-' &&
	       !(s[i] >= '0' && s[i] <= '9'))
		i++;
	if (i >= len)
		return false;
	if (s[i] != '"') {
		tok->start = i;
		while (i < len && is_number_char(s[i]))
			i++;
		tok->end = i;
		tok->is_string = false;
		tok->has_escape = false;
		*at = i;
		return true;
	}
	tok->start = ++i;
	tok->has_escape = false;
	tok->is_string = true;
	/* Each quote looks back over the backslashes before it: every run
	 * of them is counted once, so the walk stays linear. */
	for (;;) {
		const char *q = memchr(s + i, '"', len - i);
		size_t k, slashes = 0;

		if (!q)
			return false;
		k = (size_t)(q - s);
		while (k - slashes > tok->start && s[k - slashes - 1] == '\\')
			slashes++;
		tok->has_escape |= memchr(s + i, '\\', k - i) != NULL;
		i = k + 1;
		if (!(slashes & 1)) {
			tok->end = k;
			*at = i;
			return true;
		}
	}
}
