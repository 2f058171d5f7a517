// SPDX-License-Identifier: BSD-2-Clause
#include "pgcopy.h"

#include <string.h>

#include "hex.h"
#include "log.h"

static bool is_octal(unsigned char c)
{
	return c >= '0' && c <= '7';
}

/*
 * The character a backslash followed by line[*r] stands for, *r moved past
 * the escape (PostgreSQL's CopyReadAttributesText).
 */
static char unescape(const char *line, size_t len, size_t *r)
{
	unsigned char c = (unsigned char)line[(*r)++];
	int val, h;

	switch (c) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'v':
		return '\v';
	case 'x':
		if (*r >= len ||
		    (val = mw_hex_value((unsigned char)line[*r])) < 0)
			return 'x';
		(*r)++;
		if (*r < len &&
		    (h = mw_hex_value((unsigned char)line[*r])) >= 0) {
			(*r)++;
			val = (val << 4) + h;
		}
		return (char)(val & 0xff);
	default:
		if (!is_octal(c))
			return (char)c;
		val = c - '0';
		for (int i = 0;
		     i < 2 && *r < len && is_octal((unsigned char)line[*r]);
		     i++)
			val = (val << 3) + (line[(*r)++] - '0');
		return (char)(val & 0377);
	}
}

/* The bytes that end a run of plain text. */
static const bool special[256] = {
	['\t'] = true,
	['\n'] = true,
	['\r'] = true,
	['\\'] = true,
};

/* The raw field at r is "\N" alone: looked at before decoding writes over
 * it. */
static bool null_at(const char *line, size_t len, size_t r)
{
	return len - r >= 2 && line[r] == '\\' && line[r + 1] == 'N' &&
	       (len - r == 2 || line[r + 2] == '\t');
}

int mw_pgcopy_parse(char *line, size_t len, struct mw_chain_value *fields,
		    size_t nfields, char *err, size_t errlen)
{
	size_t r = 0, w = 0, nf = 0, out = 0;
	bool null;

	if (len > MW_PGCOPY_MAX_LINE) {
		mw_set_err(err, errlen, "line longer than %u bytes",
			   MW_PGCOPY_MAX_LINE);
		return -1;
	}
	if (len && line[len - 1] == '\n')
		len--;
	null = null_at(line, len, r);
	if (null)
		r += 2;
	for (;;) {
		unsigned char c;
		size_t k = r;

		/* plain text moves as one run */
		while (k < len && !special[(unsigned char)line[k]])
			k++;
		if (k > r) {
			if (w != r)
				memmove(line + w, line + r, k - r);
			w += k - r;
			r = k;
		}
		c = r < len ? (unsigned char)line[r] : '\t';

		if (c == '\t') {
			/* a field ends: at a tab, or at the end of the line */
			if (nf == nfields) {
				mw_set_err(err, errlen, "more than %zu fields",
					   nfields);
				return -1;
			}
			fields[nf].s = null ? NULL : line + out;
			fields[nf].n = null ? 0 : w - out;
			nf++;
			if (r >= len)
				break;
			r++;
			out = w;
			null = null_at(line, len, r);
			if (null)
				r += 2;
			continue;
		}
		if (c == '\n' || c == '\r') {
			mw_set_err(err, errlen,
				   "a raw line break inside field %zu", nf + 1);
			return -1;
		}
		r++;
		if (c == '\\') {
			if (r >= len) {
				mw_set_err(err, errlen,
					   "a backslash ends the line");
				return -1;
			}
			c = (unsigned char)unescape(line, len, &r);
		}
		line[w++] = (char)c;
	}
	if (nf != nfields) {
		mw_set_err(err, errlen, "%zu fields, expected %zu", nf,
			   nfields);
		return -1;
	}
	return 0;
}
