/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON text without a parse: see json_text.h. */
#include "json_text.h"

#include <locale.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"
#include "decimal.h"
#include "hex.h"
#include "utf8.h"

/* jansson's parser nests at most 2048 levels: a deeper tree was built in
 * code, and is refused rather than overflow the stack */
#define WRITE_MAX_DEPTH 2048

/* The four hex digits at s (n bytes left), or -1. */
static long hex4(const char *s, size_t n)
{
	long v = 0;

	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int d = mw_hex_value((unsigned char)s[i]);

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

size_t mw_json_unescape_one(const char *s, size_t n, char *out, size_t *olen)
{
	long hi, lo;

	if (n < 2)
		return 0;
	*olen = 1;
	switch (s[1]) {
	case '"':
	case '\\':
	case '/':
		out[0] = s[1];
		return 2;
	case 'b':
		out[0] = '\b';
		return 2;
	case 'f':
		out[0] = '\f';
		return 2;
	case 'n':
		out[0] = '\n';
		return 2;
	case 'r':
		out[0] = '\r';
		return 2;
	case 't':
		out[0] = '\t';
		return 2;
	case 'u':
		break;
	default:
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

/* A \uXXXX escape of a surrogate that mw_json_unescape_one refused:
 * unpaired. */
static bool lone_surrogate(const char *s, size_t n)
{
	long cp = n >= 6 && s[1] == 'u' ? hex4(s + 2, n - 2) : -1;

	return cp >= 0xd800 && cp <= 0xdfff;
}

/* Both decodes: lenient keeps a malformed escape as it is and writes a
 * decoded control character '?'; strict fails on the first. */
static size_t unescape_all(char *out, const char *s, size_t len, bool lenient)
{
	const char *end = s + len, *bs;
	size_t o = 0;

	while ((bs = memchr(s, '\\', (size_t)(end - s)))) {
		size_t took, olen = 0;

		memcpy(out + o, s, (size_t)(bs - s));
		o += (size_t)(bs - s);
		took = mw_json_unescape_one(bs, (size_t)(end - bs), out + o,
					    &olen);
		if (!took && !lenient)
			return MW_JSON_UNESCAPE_FAILED;
		if (!took && lone_surrogate(bs, (size_t)(end - bs))) {
			/* JSON.parse takes it: a character, not the digits
			 * of its escape, stands before what follows */
			out[o++] = '?';
			s = bs + 6;
			continue;
		}
		if (!took) {
			out[o++] = '\\';
			s = bs + 1;
			continue;
		}
		if (lenient && olen == 1 && (unsigned char)out[o] < 0x20)
			out[o] = '?';
		o += olen;
		s = bs + took;
	}
	memcpy(out + o, s, (size_t)(end - s));
	return o + (size_t)(end - s);
}

size_t mw_json_unescape(char *out, const char *s, size_t len)
{
	return unescape_all(out, s, len, false);
}

size_t mw_json_unescape_lenient(char *out, const char *s, size_t len)
{
	return unescape_all(out, s, len, true);
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

/* ---- writing ------------------------------------------------------------ */

/* What a byte becomes in a JSON string: 0 itself, 'u' \u00XX, else \c. */
static const char escape_of[256] = {
	['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',	 ['\t'] = 't',
	[0x00] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u',	 [0x04] = 'u',
	[0x05] = 'u', [0x06] = 'u', [0x07] = 'u', [0x0b] = 'u',	 [0x0e] = 'u',
	[0x0f] = 'u', [0x10] = 'u', [0x11] = 'u', [0x12] = 'u',	 [0x13] = 'u',
	[0x14] = 'u', [0x15] = 'u', [0x16] = 'u', [0x17] = 'u',	 [0x18] = 'u',
	[0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u', [0x1c] = 'u',	 [0x1d] = 'u',
	[0x1e] = 'u', [0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

size_t mw_json_string_stop(const char *s, size_t i, size_t n, bool non_ascii)
{
#ifdef __SSE2__
	const __m128i ctl = _mm_set1_epi8(0x1f);
	const __m128i quote = _mm_set1_epi8('"');
	const __m128i backslash = _mm_set1_epi8('\\');

	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(s + i));
		/* unsigned v <= 0x1f: min(v, 0x1f) == v */
		__m128i hit = _mm_or_si128(
			_mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v),
			_mm_or_si128(_mm_cmpeq_epi8(v, quote),
				     _mm_cmpeq_epi8(v, backslash)));
		int m = _mm_movemask_epi8(hit);

		/* a byte's top bit: not ASCII */
		if (non_ascii)
			m |= _mm_movemask_epi8(v);
		if (m)
			return i + (size_t)__builtin_ctz((unsigned)m);
	}
#endif
	for (; i < n; i++)
		if (escape_of[(unsigned char)s[i]] ||
		    (non_ascii && (unsigned char)s[i] >= 0x80))
			return i;
	return n;
}

/*
 * The bytes of U+0085, U+2028 or U+2029 at s[i], which some readers of
 * event streams take for line ends (httpx-sse, after str.splitlines):
 * written raw into an SSE data line they would split a message that was
 * judged whole. 0 for anything else.
 */
static size_t line_end_lookalike(const char *s, size_t i, size_t n)
{
	const unsigned char *u = (const unsigned char *)s + i;

	if (u[0] == 0xc2 && n - i >= 2 && u[1] == 0x85)
		return 2;
	if (u[0] == 0xe2 && n - i >= 3 && u[1] == 0x80 &&
	    (u[2] == 0xa8 || u[2] == 0xa9))
		return 3;
	return 0;
}

/* Those are escaped, like the control characters, '"' and '\\'. */
static int write_string(struct mw_buf *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t run = 0;

	if (mw_buf_append(out, "\"", 1))
		return -1;
	for (size_t i = 0; (i = mw_json_string_stop(s, i, n, true)) < n; i++) {
		char e = escape_of[(unsigned char)s[i]], esc[6];
		size_t elen = 2, skip = 1;
		unsigned cp;

		if ((unsigned char)s[i] >= 0x80) {
			skip = line_end_lookalike(s, i, n);
			if (!skip)
				continue;
			/* U+2028 and U+2029 end in 0xa8 and 0xa9 */
			cp = skip == 2 ? 0x85u
				       : 0x2000u + ((unsigned char)s[i + 2] -
						    0x80u);
			esc[0] = '\\';
			esc[1] = 'u';
			esc[2] = hex[cp >> 12];
			esc[3] = hex[(cp >> 8) & 0xf];
			esc[4] = hex[(cp >> 4) & 0xf];
			esc[5] = hex[cp & 0xf];
			elen = 6;
		} else {
			esc[0] = '\\';
			esc[1] = e;
			if (e == 'u') {
				memcpy(esc + 2, "00", 2);
				esc[4] = hex[(unsigned char)s[i] >> 4];
				esc[5] = hex[s[i] & 0xf];
				elen = 6;
			}
		}
		if (mw_buf_append(out, s + run, i - run) ||
		    mw_buf_append(out, esc, elen))
			return -1;
		run = i + skip;
		i += skip - 1;
	}
	return mw_buf_append(out, s + run, n - run) ||
			       mw_buf_append(out, "\"", 1)
		       ? -1
		       : 0;
}

_Static_assert(sizeof(json_int_t) <= sizeof(int64_t),
	       "a JSON integer is written as an int64_t");

static int write_integer(struct mw_buf *out, json_int_t v)
{
	char text[MW_DECIMAL_MAX];

	return mw_buf_append(out, text, (size_t)(mw_put_i64(text, v) - text))
		       ? -1
		       : 0;
}

/* Reals are rare: jansson's own formatting, so that they read the same. */
static int write_real(struct mw_buf *out, const json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	int rc = text ? mw_buf_append(out, text, strlen(text)) : -1;

	free(text);
	return rc;
}

static int write_value(struct mw_buf *out, const json_t *j, int depth)
{
	if (depth > WRITE_MAX_DEPTH)
		return -1;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		bool first = true;

		if (mw_buf_append(out, "{", 1))
			return -1;
		for (void *it = json_object_iter((json_t *)j); it;
		     it = json_object_iter_next((json_t *)j, it)) {
			if ((!first && mw_buf_append(out, ",", 1)) ||
			    write_string(out, json_object_iter_key(it),
					 json_object_iter_key_len(it)) ||
			    mw_buf_append(out, ":", 1) ||
			    write_value(out, json_object_iter_value(it),
					depth + 1))
				return -1;
			first = false;
		}
		return mw_buf_append(out, "}", 1);
	}
	case JSON_ARRAY:
		if (mw_buf_append(out, "[", 1))
			return -1;
		for (size_t i = 0; i < json_array_size(j); i++)
			if ((i && mw_buf_append(out, ",", 1)) ||
			    write_value(out, json_array_get(j, i), depth + 1))
				return -1;
		return mw_buf_append(out, "]", 1);
	case JSON_STRING:
		return write_string(out, json_string_value(j),
				    json_string_length(j));
	case JSON_INTEGER:
		return write_integer(out, json_integer_value(j));
	case JSON_REAL:
		return write_real(out, j);
	case JSON_TRUE:
		return mw_buf_append(out, "true", 4);
	case JSON_FALSE:
		return mw_buf_append(out, "false", 5);
	case JSON_NULL:
		return mw_buf_append(out, "null", 4);
	}
	return -1;
}

int mw_json_write(struct mw_buf *out, const json_t *j)
{
	return j ? write_value(out, j, 0) : -1;
}

/*
 * Unicode case mappings for the fold: glibc's C.UTF-8 locale, made once
 * (the process's own locale stays "C"). Without it only the four letters
 * that fold to ASCII are folded (the ones that matter most: a Go server
 * reads "Arguments" and "argument\u017f" as "arguments").
 */
static pthread_once_t fold_once = PTHREAD_ONCE_INIT;
static locale_t fold_locale;

static void fold_locale_make(void)
{
	fold_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* A code point past ASCII as Go folds it: ToUpper(ToLower(r)). */
static uint32_t fold_rune(uint32_t r)
{
	pthread_once(&fold_once, fold_locale_make);
	if (fold_locale)
		return (uint32_t)towupper_l(towlower_l((wint_t)r, fold_locale),
					    fold_locale);
	switch (r) {
	case 0x17f:
		return 'S';
	case 0x212a:
		return 'K';
	case 0x130:
	case 0x131:
		return 'I';
	default:
		return r;
	}
}

/*
 * The next character of *p as mw_json_key_fold_cmpn reads it (*p moves
 * past it), 0 at the end: ASCII letters in lower case, other code points
 * folded (fold_rune) and a letter that folds to ASCII in lower case too;
 * a byte that starts no UTF-8 sequence stands for itself, apart from
 * every code point.
 */
static uint32_t key_fold_next(const unsigned char **p, const unsigned char *end)
{
	const unsigned char *s = *p;
	size_t left = (size_t)(end - s), n;
	uint32_t r;

	if (!left)
		return 0;
	if (s[0] < 0x80) {
		*p += 1;
		if (s[0] >= 'A' && s[0] <= 'Z')
			return s[0] | 0x20u;
		/* a NUL inside a name is not its end */
		return s[0] ? s[0] : 0x110000u;
	}
	n = mw_utf8_decode(s, left, &r);
	if (!n) {
		*p += 1;
		return 0x110000u + s[0];
	}
	*p += n;
	r = fold_rune(r);
	return r >= 'A' && r <= 'Z' ? r | 0x20u : r;
}

int mw_json_key_fold_cmpn(const char *a, size_t alen, const char *b,
			  size_t blen)
{
	const unsigned char *x = (const unsigned char *)a, *xe = x + alen;
	const unsigned char *y = (const unsigned char *)b, *ye = y + blen;
	uint32_t cx, cy;

	do {
		cx = key_fold_next(&x, xe);
		cy = key_fold_next(&y, ye);
	} while (cx && cx == cy);
	return (cx > cy) - (cx < cy);
}

/* c as UTF-8 writes a code point, to 0x1FFFFF (four bytes): memcmp orders
 * such sequences as their values. */
static size_t put_unit(unsigned char *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (unsigned char)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (unsigned char)(0xc0 | c >> 6);
		o[1] = (unsigned char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (unsigned char)(0xe0 | c >> 12);
		o[1] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
		o[2] = (unsigned char)(0x80 | (c & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | c >> 18);
	o[1] = (unsigned char)(0x80 | (c >> 12 & 0x3f));
	o[2] = (unsigned char)(0x80 | (c >> 6 & 0x3f));
	o[3] = (unsigned char)(0x80 | (c & 0x3f));
	return 4;
}

/* A character takes at most four bytes folded, whatever its own length. */
#define FOLDED_MAX(len) (4 * (len))

/* s (len bytes) folded into out (FOLDED_MAX(len) bytes): its length. */
static size_t fold_name(const char *s, size_t len, unsigned char *out)
{
	const unsigned char *p = (const unsigned char *)s, *e = p + len;
	size_t n = 0;
	uint32_t c;

	while ((c = key_fold_next(&p, e)))
		n += put_unit(out + n, c);
	return n;
}

/* Folded names in mw_json_key_fold_cmpn's order. */
static int folded_bytes_cmp(const unsigned char *a, size_t alen,
			    const unsigned char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r)
		return r;
	return (alen > blen) - (alen < blen);
}

static int folded_cmp(const unsigned char *base, const struct mw_json_name *x,
		      const struct mw_json_name *y)
{
	return folded_bytes_cmp(base + x->folded, x->folded_len,
				base + y->folded, y->folded_len);
}

static int name_cmp_r(const void *a, const void *b, void *base)
{
	return folded_cmp(base, a, b);
}

void mw_json_names_free(struct mw_json_names *ns)
{
	if (!ns)
		return;
	free(ns->v);
	free(ns->folded);
	memset(ns, 0, sizeof(*ns));
}

int mw_json_names_sorted(const json_t *obj, struct mw_json_names *out)
{
	size_t cap = 0, used = 0, i = 0, n;
	const char *name;
	unsigned char *nb;
	json_t *v;

	memset(out, 0, sizeof(*out));
	out->v = malloc((json_object_size(obj) ?: 1) * sizeof(*out->v));
	if (!out->v)
		return -1;
	/* grown as the names need: most fold to their own length, and the
	 * bound (four bytes a byte) would be four times the message */
	json_object_keylen_foreach((json_t *)obj, name, n, v)
	{
		size_t f;

		if (!out->folded || cap - used < FOLDED_MAX(n)) {
			cap = 2 * cap > used + FOLDED_MAX(n)
				      ? 2 * cap
				      : used + FOLDED_MAX(n) + 256;
			nb = realloc(out->folded, cap);
			if (!nb) {
				mw_json_names_free(out);
				return -1;
			}
			out->folded = nb;
		}
		f = fold_name(name, n, out->folded + used);
		out->v[i++] = (struct mw_json_name){ name, n, used, f };
		used += f;
	}
	out->n = i;
	if (out->n)
		qsort_r(out->v, out->n, sizeof(*out->v), name_cmp_r,
			out->folded);
	return 0;
}

bool mw_json_names_fold_alike(const struct mw_json_names *ns, size_t i,
			      size_t j)
{
	return !folded_cmp(ns->folded, &ns->v[i], &ns->v[j]);
}

void mw_json_fold_cache_free(struct mw_json_fold_cache *c)
{
	for (size_t i = 0; c && i < MW_JSON_FOLD_CACHED; i++)
		mw_json_names_free(&c->e[i].names);
	if (c)
		memset(c, 0, sizeof(*c));
}

/* obj's names sorted, from the cache or into it; NULL when memory is
 * short (the caller reads them all instead). */
static const struct mw_json_names *cached_names(struct mw_json_fold_cache *c,
						const json_t *obj)
{
	struct mw_json_folded *f;

	for (size_t k = 0; k < MW_JSON_FOLD_CACHED; k++)
		if (c->e[k].obj == obj)
			return &c->e[k].names;
	f = &c->e[c->next];
	mw_json_names_free(&f->names);
	f->obj = NULL;
	if (mw_json_names_sorted(obj, &f->names))
		return NULL;
	f->obj = obj;
	c->next = (c->next + 1) % MW_JSON_FOLD_CACHED;
	return &f->names;
}

/* Below this many members, reading them all costs less than sorting. */
#define FOLD_SORTED_FROM 16

/* A variant of key among ns's names, by bisection. *found: whether key
 * could be folded (false: out of memory, the caller reads them all). */
static const char *sorted_variant(const struct mw_json_names *ns,
				  const char *key, size_t len, bool *found)
{
	unsigned char stack[256], *buf = stack;
	const char *variant = NULL;
	size_t lo = 0, hi = ns->n, want;

	*found = false;
	if (FOLDED_MAX(len) > sizeof(stack) && !(buf = malloc(FOLDED_MAX(len))))
		return NULL;
	*found = true;
	want = fold_name(key, len, buf);
	/* the first name that does not fold before key, then each that
	 * folds to it */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mw_json_name *m = &ns->v[mid];

		if (folded_bytes_cmp(ns->folded + m->folded, m->folded_len, buf,
				     want) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ns->n && !folded_bytes_cmp(ns->folded + ns->v[lo].folded,
					       ns->v[lo].folded_len, buf, want);
	     lo++)
		if (ns->v[lo].len != len || memcmp(ns->v[lo].s, key, len)) {
			variant = ns->v[lo].s;
			break;
		}
	if (buf != stack)
		free(buf);
	return variant;
}

const char *mw_json_key_variant(const json_t *obj, const char *key, size_t len,
				struct mw_json_fold_cache *cache)
{
	const struct mw_json_names *ns = NULL;
	const char *name, *variant;
	bool found;
	size_t n;
	json_t *v;

	if (!json_is_object(obj))
		return NULL;
	if (cache && json_object_size(obj) >= FOLD_SORTED_FROM)
		ns = cached_names(cache, obj);
	if (ns) {
		variant = sorted_variant(ns, key, len, &found);
		if (found)
			return variant;
	}
	json_object_keylen_foreach((json_t *)obj, name, n, v)
	{
		if ((n != len || memcmp(name, key, len)) &&
		    !mw_json_key_fold_cmpn(name, n, key, len))
			return name;
	}
	return NULL;
}
