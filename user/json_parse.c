// SPDX-License-Identifier: BSD-2-Clause
/* JSON parsed as jansson parses it, faster: see json_parse.h. */
#include "json_parse.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "utf8.h"

/* jansson's JSON_PARSER_MAX_DEPTH: a scalar counts as a level too */
#define MAX_DEPTH 2048
#define FLAGS_KNOWN (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)
/* a number this long or shorter is converted from the stack */
#define NUMBER_ON_STACK 64

struct parser {
	const char *s;
	size_t len, at;
	size_t flags;
	/* decoded strings (those with escapes); never shorter than what
	 * is left of the input once allocated, so a decode needs no check */
	char *scratch;
	size_t scratch_cap;
	json_error_t *err;
};

/* Records the error (the first one only) and returns NULL. */
static void *set_error(struct parser *p, size_t where, const char *why)
{
	json_error_t *e = p->err;
	size_t line = 1, col = 0;

	if (!e || e->text[0])
		return NULL;
	for (size_t i = 0; i < where && i < p->len; i++) {
		col++;
		if (p->s[i] == '\n') {
			line++;
			col = 0;
		}
	}
	snprintf(e->text, sizeof(e->text), "%s", why);
	snprintf(e->source, sizeof(e->source), "<buffer>");
	e->position = where > INT32_MAX ? INT32_MAX : (int)where;
	e->line = line > INT32_MAX ? INT32_MAX : (int)line;
	e->column = col > INT32_MAX ? INT32_MAX : (int)col;
	return NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void skip_ws(struct parser *p)
{
	while (p->at < p->len) {
		char c = p->s[p->at];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		p->at++;
	}
}

/*
 * The string at p->at (its opening quote): *out and *outlen get its
 * value, the input's own bytes when it has no escape, else the decoded
 * copy in p->scratch (valid until the next string). False on an error.
 */
static bool parse_string(struct parser *p, const char **out, size_t *outlen)
{
	const char *s = p->s;
	size_t n = p->len, i = p->at + 1, run = i, o = 0;
	bool decoded = false;

	for (;;) {
		unsigned char c;
		size_t took, olen;

		i = mw_json_string_stop(s, i, n, true);
		if (i >= n) {
			set_error(p, n, "premature end of input in a string");
			return false;
		}
		c = (unsigned char)s[i];
		if (c == '"')
			break;
		if (c >= 0x80) {
			uint32_t cp;

			took = mw_utf8_decode((const unsigned char *)s + i,
					      n - i, &cp);
			if (!took) {
				set_error(p, i, "invalid UTF-8 in a string");
				return false;
			}
			i += took;
			continue;
		}
		if (c < 0x20) {
			set_error(p, i,
				  c == '\n' ? "unexpected newline"
					    : "control character in a string");
			return false;
		}
		/* a backslash: from here the value is built in scratch */
		if (!decoded && p->scratch_cap < n - run) {
			char *grown = realloc(p->scratch, n - run);

			if (!grown) {
				set_error(p, i, "out of memory");
				return false;
			}
			p->scratch = grown;
			p->scratch_cap = n - run;
		}
		decoded = true;
		memcpy(p->scratch + o, s + run, i - run);
		o += i - run;
		/* an escape never decodes to more bytes than it takes */
		took = mw_json_unescape_one(s + i, n - i, p->scratch + o,
					    &olen);
		if (!took) {
			set_error(p, i, "invalid escape");
			return false;
		}
		o += olen;
		i += took;
		run = i;
	}
	if (decoded) {
		memcpy(p->scratch + o, s + run, i - run);
		*out = p->scratch;
		*outlen = o + (i - run);
	} else {
		*out = s + run;
		*outlen = i - run;
	}
	p->at = i + 1;
	return true;
}

/* An integer's digits (and sign) as json_int_t, as strtoll would read
 * them; false when they do not fit. */
static bool integer_of(const char *s, size_t n, json_int_t *out)
{
	bool neg = s[0] == '-';
	json_int_t v = 0;

	for (size_t i = neg; i < n; i++) {
		int d = s[i] - '0';

		/* built negative: the range's low end has no positive twin */
		if (v < (LLONG_MIN + d) / 10)
			return false;
		v = v * 10 - d;
	}
	if (!neg) {
		if (v == LLONG_MIN)
			return false;
		v = -v;
	}
	*out = v;
	return true;
}

static json_t *real_of(struct parser *p, size_t start, size_t end)
{
	char stack[NUMBER_ON_STACK + 1], *text = stack;
	size_t n = end - start;
	json_t *j;
	double v;

	if (n > NUMBER_ON_STACK) {
		text = malloc(n + 1);
		if (!text)
			return set_error(p, start, "out of memory");
	}
	memcpy(text, p->s + start, n);
	text[n] = '\0';
	errno = 0;
	/* the daemon never leaves the C locale: '.' is the decimal point */
	v = strtod(text, NULL);
	if (text != stack)
		free(text);
	if (errno == ERANGE && isinf(v))
		return set_error(p, start, "real number overflow");
	j = json_real(v);
	return j ? j : set_error(p, start, "out of memory");
}

/* JSON's number grammar; an integer without fraction or exponent. */
static json_t *parse_number(struct parser *p)
{
	const char *s = p->s;
	size_t n = p->len, start = p->at, i = start;
	bool real = false;
	json_int_t v;
	json_t *j;

	if (s[i] == '-')
		i++;
	if (i >= n || !is_digit(s[i]))
		return set_error(p, start, "invalid token");
	if (s[i] == '0') {
		if (++i < n && is_digit(s[i]))
			return set_error(p, start, "invalid token");
	} else {
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && s[i] == '.') {
		real = true;
		if (++i >= n || !is_digit(s[i]))
			return set_error(p, start, "invalid token");
		while (i < n && is_digit(s[i]))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		real = true;
		if (++i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || !is_digit(s[i]))
			return set_error(p, start, "invalid token");
		while (i < n && is_digit(s[i]))
			i++;
	}
	p->at = i;
	if (real)
		return real_of(p, start, i);
	if (!integer_of(s + start, i - start, &v))
		return set_error(p, start,
				 s[start] == '-' ? "too big negative integer"
						 : "too big integer");
	j = json_integer(v);
	return j ? j : set_error(p, start, "out of memory");
}

/* true, false or null; jansson reads the whole run of letters. */
static json_t *parse_literal(struct parser *p)
{
	size_t start = p->at, end = start;
	const char *w = p->s + start;

	while (end < p->len && is_alpha(p->s[end]))
		end++;
	p->at = end;
	if (end - start == 4 && !memcmp(w, "true", 4))
		return json_true();
	if (end - start == 5 && !memcmp(w, "false", 5))
		return json_false();
	if (end - start == 4 && !memcmp(w, "null", 4))
		return json_null();
	return set_error(p, start, "invalid token");
}

/* Past the opening bracket at p->at: true when close follows at once. */
static bool opens_empty(struct parser *p, char close)
{
	p->at++;
	skip_ws(p);
	if (p->at < p->len && p->s[p->at] == close) {
		p->at++;
		return true;
	}
	return false;
}

/* After a member or an element: 1 when ',' says another follows, 0 when
 * close ends the container (both consumed), -1 on anything else. */
static int next_or_close(struct parser *p, char close, const char *expected)
{
	skip_ws(p);
	if (p->at < p->len && p->s[p->at] == ',') {
		p->at++;
		skip_ws(p);
		return 1;
	}
	if (p->at < p->len && p->s[p->at] == close) {
		p->at++;
		return 0;
	}
	set_error(p, p->at, expected);
	return -1;
}

static json_t *parse_value(struct parser *p, int depth);

static json_t *parse_object(struct parser *p, int depth)
{
	json_t *obj = json_object(), *value;
	const char *key;
	char *owned = NULL;
	size_t keylen, at;
	int more;

	if (!obj)
		return set_error(p, p->at, "out of memory");
	if (opens_empty(p, '}'))
		return obj;
	for (;;) {
		at = p->at;
		if (at >= p->len || p->s[at] != '"') {
			set_error(p, at, "string or '}' expected");
			goto fail;
		}
		if (!parse_string(p, &key, &keylen))
			goto fail;
		if (memchr(key, '\0', keylen)) {
			set_error(p, at,
				  "NUL byte in object key not supported");
			goto fail;
		}
		if ((p->flags & JSON_REJECT_DUPLICATES) &&
		    json_object_getn(obj, key, keylen)) {
			set_error(p, at, "duplicate object key");
			goto fail;
		}
		/* a decoded key lives in scratch, which the value reuses */
		if (key == p->scratch) {
			owned = malloc(keylen ? keylen : 1);
			if (!owned) {
				set_error(p, at, "out of memory");
				goto fail;
			}
			memcpy(owned, key, keylen);
			key = owned;
		}
		skip_ws(p);
		if (p->at >= p->len || p->s[p->at] != ':') {
			set_error(p, p->at, "':' expected");
			goto fail;
		}
		p->at++;
		skip_ws(p);
		value = parse_value(p, depth + 1);
		if (!value)
			goto fail;
		if (json_object_setn_new_nocheck(obj, key, keylen, value)) {
			set_error(p, at, "out of memory");
			goto fail;
		}
		free(owned);
		owned = NULL;
		more = next_or_close(p, '}', "'}' expected");
		if (!more)
			return obj;
		if (more < 0)
			goto fail;
	}
fail:
	free(owned);
	json_decref(obj);
	return NULL;
}

static json_t *parse_array(struct parser *p, int depth)
{
	json_t *arr = json_array(), *value;
	int more;

	if (!arr)
		return set_error(p, p->at, "out of memory");
	if (opens_empty(p, ']'))
		return arr;
	do {
		value = parse_value(p, depth + 1);
		if (!value)
			goto fail;
		if (json_array_append_new(arr, value)) {
			set_error(p, p->at, "out of memory");
			goto fail;
		}
		more = next_or_close(p, ']', "']' expected");
	} while (more > 0);
	if (!more)
		return arr;
fail:
	json_decref(arr);
	return NULL;
}

/* The value at p->at (whitespace skipped), depth levels deep. */
static json_t *parse_value(struct parser *p, int depth)
{
	size_t at = p->at;
	const char *v;
	size_t vlen;
	json_t *j;

	if (depth > MAX_DEPTH)
		return set_error(p, at, "maximum parsing depth reached");
	if (at >= p->len)
		return set_error(p, at, "unexpected end of input");
	switch (p->s[at]) {
	case '{':
		return parse_object(p, depth);
	case '[':
		return parse_array(p, depth);
	case '"':
		if (!parse_string(p, &v, &vlen))
			return NULL;
		if (!(p->flags & JSON_ALLOW_NUL) && v == p->scratch &&
		    memchr(v, '\0', vlen))
			return set_error(p, at,
					 "\\u0000 is not allowed without "
					 "JSON_ALLOW_NUL");
		j = json_stringn_nocheck(v, vlen);
		return j ? j : set_error(p, at, "out of memory");
	default:
		if (p->s[at] == '-' || is_digit(p->s[at]))
			return parse_number(p);
		if (is_alpha(p->s[at]))
			return parse_literal(p);
		return set_error(p, at, "invalid token");
	}
}

json_t *mw_json_loadb(const char *s, size_t len, size_t flags,
		      json_error_t *err)
{
	struct parser p = { .s = s, .len = len, .flags = flags, .err = err };
	json_t *j = NULL;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!s && len)
		return set_error(&p, 0, "no input");
	if (flags & ~(size_t)FLAGS_KNOWN)
		return set_error(&p, 0, "unsupported parse flags");
	skip_ws(&p);
	if (!(flags & JSON_DECODE_ANY) &&
	    (p.at >= len || (s[p.at] != '{' && s[p.at] != '[')))
		return set_error(&p, p.at, "'[' or '{' expected");
	j = parse_value(&p, 1);
	if (j) {
		skip_ws(&p);
		if (p.at != len) {
			json_decref(j);
			j = set_error(&p, p.at, "end of file expected");
		}
	}
	free(p.scratch);
	return j;
}
