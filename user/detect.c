/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The built-in detectors: scanners that find candidates and validators
 * that keep the real values. See detect.h for why this is C and not
 * Vectorscan.
 *
 * Scanners anchor on what a value must contain and the C library finds
 * fast: a digit (digit runs, vectorised), '@', ':', a literal prefix
 * (memchr, memmem). Digit runs are read as chains of groups joined by one
 * separator ("4111 1111 1111 1111", "(415) 555-2671", "10.0.0.1"), and
 * every shape a detector accepts is tried on the chain's groups; the
 * validators, which see the whole text, have the last word.
 */
#include "detect.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JWT_HEADER_MAX 1024
/* A chain is read in windows of this many groups (a value spans 19). */
#define CHAIN_MAX 256
#define VALUE_MAX_GROUPS 20

struct text {
	const char *s;
	size_t len;
};

/* ---- character classes and boundaries ---------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_digit(c) || is_alpha(c);
}

static bool is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The character before start and the one at end, or 0 at either edge. */
static char before(const struct text *t, size_t start)
{
	return start ? t->s[start - 1] : '\0';
}

static char after(const struct text *t, size_t end)
{
	return end < t->len ? t->s[end] : '\0';
}

/* c is one of set's characters (never NUL): once inlined, the compares
 * strchr's call stood for. */
static bool is_one_of(char c, const char *set)
{
	for (; *set; set++)
		if (c == *set)
			return true;
	return false;
}

/*
 * A number is not a value when it continues: a digit or letter touching
 * it, or a separator and a digit ("12-4111..." or "...1111.5").
 */
static bool number_bounded(const struct text *t, size_t start, size_t end,
			   const char *seps)
{
	char b = before(t, start), a = after(t, end);

	if (is_alnum(b) || is_alnum(a))
		return false;
	if (start >= 2 && is_digit(t->s[start - 2]) && is_one_of(b, seps))
		return false;
	if (end + 1 < t->len && is_digit(t->s[end + 1]) && is_one_of(a, seps))
		return false;
	return true;
}

/* A token of charset chars that is not part of a longer one. */
static bool token_bounded(const struct text *t, size_t start, size_t end,
			  bool (*in)(char))
{
	char b = before(t, start), a = after(t, end);

	return !(b && in(b)) && !(a && in(a));
}

/*
 * The separator between two groups of digits at s[i] (before end), as a
 * code (the byte for ASCII ones; 's' for a Unicode space, 'd' for a
 * Unicode dash: a card printed with a no-break space or an en dash is
 * the same card) and its length in *len; 0 when there is none. The
 * ASCII ones: ' ', '-', '.', '/', '_' and tab; '(' and ')' are read by
 * the caller (phone numbers).
 */
static char group_sep(const char *s, size_t i, size_t end, size_t *len)
{
	const unsigned char *u = (const unsigned char *)s + i;
	size_t left = end - i;

	*len = 1;
	if (!left)
		return 0;
	if (is_one_of(s[i], " -./_\t"))
		return s[i];
	if (left >= 2 && u[0] == 0xc2 && u[1] == 0xa0) { /* U+00A0 */
		*len = 2;
		return 's';
	}
	if (left >= 3 && u[0] == 0xe2 && u[1] == 0x80 &&
	    (u[2] == 0x87 || u[2] == 0x89 || u[2] == 0xaf)) {
		*len = 3; /* figure, thin, narrow no-break space */
		return 's';
	}
	if (left >= 3 &&
	    ((u[0] == 0xe2 && u[1] == 0x80 && u[2] >= 0x90 && u[2] <= 0x94) ||
	     (u[0] == 0xe2 && u[1] == 0x88 && u[2] == 0x92))) {
		*len = 3; /* U+2010..U+2014 hyphens and dashes, U+2212 minus */
		return 'd';
	}
	return 0;
}

/* ---- validators --------------------------------------------------------- */

static size_t digits_of(const char *s, size_t start, size_t end, char *out,
			size_t max)
{
	size_t n = 0;

	for (size_t i = start; i < end; i++)
		if (is_digit(s[i])) {
			if (n == max)
				return max + 1;
			out[n++] = s[i];
		}
	return n;
}

static bool luhn(const char *d, size_t n)
{
	/* a doubled digit's digit sum: no branch on which digits double
	 * (d holds digits; the mask only bounds the index) */
	static const unsigned char doubled[16] = {
		0, 2, 4, 6, 8, 1, 3, 5, 7, 9
	};
	unsigned sum = 0;
	size_t i = n;

	while (i >= 2) {
		sum += (unsigned)(d[i - 1] - '0') +
		       doubled[(unsigned)(d[i - 2] - '0') & 15];
		i -= 2;
	}
	if (i)
		sum += (unsigned)(d[0] - '0');
	return n > 0 && sum % 10 == 0;
}

static unsigned prefix_num(const char *d, size_t k)
{
	unsigned v = 0;

	for (size_t i = 0; i < k; i++)
		v = v * 10 + (unsigned)(d[i] - '0');
	return v;
}

/* Known issuer ranges and their lengths (ISO/IEC 7812 IINs in use). */
static bool card_issuer(const char *d, size_t n)
{
	unsigned p1 = prefix_num(d, 1), p2 = prefix_num(d, 2);
	unsigned p3 = prefix_num(d, 3), p4 = prefix_num(d, 4);
	unsigned p6 = prefix_num(d, 6);

	if (p1 == 4) /* Visa */
		return n == 13 || n == 16 || n == 19;
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return n == 16; /* Mastercard */
	if (p2 == 34 || p2 == 37) /* American Express */
		return n == 15;
	if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 ||
	    (p6 >= 622126 && p6 <= 622925)) /* Discover */
		return n >= 16 && n <= 19;
	if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39)
		return n >= 14 && n <= 19; /* Diners Club */
	if (p4 >= 3528 && p4 <= 3589) /* JCB */
		return n >= 16 && n <= 19;
	if (p2 == 62) /* UnionPay */
		return n >= 16 && n <= 19;
	return false;
}

/*
 * The digits of s[start, end) in out and their count (max + 1 for more
 * than max), or 0 when what separates them is not one kind throughout,
 * single, between digits.
 */
static size_t grouped_digits(const char *s, size_t start, size_t end, char *out,
			     size_t max)
{
	size_t n = 0, len;
	char sep = 0, c;

	for (size_t i = start; i < end; i++) {
		if (is_digit(s[i])) {
			if (n < max)
				out[n] = s[i];
			if (n <= max)
				n++;
			continue;
		}
		c = group_sep(s, i, end, &len);
		if (!c || (sep && c != sep) || i + len >= end ||
		    !is_digit(s[i + len]))
			return 0;
		sep = c;
		i += len - 1;
	}
	return n;
}

static bool validate_card(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	char d[20];
	size_t n;

	if (!number_bounded(t, *start, *end, ".-"))
		return false;
	n = grouped_digits(s, *start, *end, d, 19);
	if (n < 13 || n > 19)
		return false;
	return luhn(d, n) && card_issuer(d, n);
}

static bool validate_ssn(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	/* printed in advertising and examples, never issued */
	static const unsigned never_issued[] = { 78051120, 219099999,
						 123456789 };
	char d[9];
	unsigned area, group, serial, whole;

	if (!number_bounded(t, *start, *end, "-") ||
	    grouped_digits(s, *start, *end, d, 9) != 9)
		return false;
	whole = prefix_num(d, 9);
	area = whole / 1000000;
	group = whole / 10000 % 100;
	serial = whole % 10000;
	if (area == 0 || area == 666 || area >= 900 || group == 0 ||
	    serial == 0)
		return false;
	for (size_t i = 0; i < sizeof(never_issued) / sizeof(*never_issued);
	     i++)
		if (whole == never_issued[i])
			return false;
	return true;
}

/* IBAN lengths by country (the SWIFT registry), indexed by the two
 * capitals: every candidate IBAN is looked up, twice. */
#define IBAN_CC(a, b) (((a) - 'A') * 26 + ((b) - 'A'))
static const unsigned char iban_lengths[26 * 26] = {
	[IBAN_CC('A', 'D')] = 24, [IBAN_CC('A', 'E')] = 23,
	[IBAN_CC('A', 'L')] = 28, [IBAN_CC('A', 'T')] = 20,
	[IBAN_CC('A', 'Z')] = 28, [IBAN_CC('B', 'A')] = 20,
	[IBAN_CC('B', 'E')] = 16, [IBAN_CC('B', 'G')] = 22,
	[IBAN_CC('B', 'H')] = 22, [IBAN_CC('B', 'R')] = 29,
	[IBAN_CC('B', 'Y')] = 28, [IBAN_CC('C', 'H')] = 21,
	[IBAN_CC('C', 'R')] = 22, [IBAN_CC('C', 'Y')] = 28,
	[IBAN_CC('C', 'Z')] = 24, [IBAN_CC('D', 'E')] = 22,
	[IBAN_CC('D', 'K')] = 18, [IBAN_CC('D', 'O')] = 28,
	[IBAN_CC('E', 'E')] = 20, [IBAN_CC('E', 'G')] = 29,
	[IBAN_CC('E', 'S')] = 24, [IBAN_CC('F', 'I')] = 18,
	[IBAN_CC('F', 'O')] = 18, [IBAN_CC('F', 'R')] = 27,
	[IBAN_CC('G', 'B')] = 22, [IBAN_CC('G', 'E')] = 22,
	[IBAN_CC('G', 'I')] = 23, [IBAN_CC('G', 'L')] = 18,
	[IBAN_CC('G', 'R')] = 27, [IBAN_CC('G', 'T')] = 28,
	[IBAN_CC('H', 'R')] = 21, [IBAN_CC('H', 'U')] = 28,
	[IBAN_CC('I', 'E')] = 22, [IBAN_CC('I', 'L')] = 23,
	[IBAN_CC('I', 'Q')] = 23, [IBAN_CC('I', 'S')] = 26,
	[IBAN_CC('I', 'T')] = 27, [IBAN_CC('J', 'O')] = 30,
	[IBAN_CC('K', 'W')] = 30, [IBAN_CC('K', 'Z')] = 20,
	[IBAN_CC('L', 'B')] = 28, [IBAN_CC('L', 'C')] = 32,
	[IBAN_CC('L', 'I')] = 21, [IBAN_CC('L', 'T')] = 20,
	[IBAN_CC('L', 'U')] = 20, [IBAN_CC('L', 'V')] = 21,
	[IBAN_CC('M', 'C')] = 27, [IBAN_CC('M', 'D')] = 24,
	[IBAN_CC('M', 'E')] = 22, [IBAN_CC('M', 'K')] = 19,
	[IBAN_CC('M', 'R')] = 27, [IBAN_CC('M', 'T')] = 31,
	[IBAN_CC('M', 'U')] = 30, [IBAN_CC('N', 'L')] = 18,
	[IBAN_CC('N', 'O')] = 15, [IBAN_CC('P', 'K')] = 24,
	[IBAN_CC('P', 'L')] = 28, [IBAN_CC('P', 'S')] = 29,
	[IBAN_CC('P', 'T')] = 25, [IBAN_CC('Q', 'A')] = 29,
	[IBAN_CC('R', 'O')] = 24, [IBAN_CC('R', 'S')] = 22,
	[IBAN_CC('S', 'A')] = 24, [IBAN_CC('S', 'C')] = 31,
	[IBAN_CC('S', 'E')] = 24, [IBAN_CC('S', 'I')] = 19,
	[IBAN_CC('S', 'K')] = 24, [IBAN_CC('S', 'M')] = 27,
	[IBAN_CC('S', 'T')] = 25, [IBAN_CC('S', 'V')] = 28,
	[IBAN_CC('T', 'L')] = 23, [IBAN_CC('T', 'N')] = 24,
	[IBAN_CC('T', 'R')] = 26, [IBAN_CC('U', 'A')] = 29,
	[IBAN_CC('V', 'A')] = 22, [IBAN_CC('V', 'G')] = 24,
	[IBAN_CC('X', 'K')] = 20,
};

/* acc with alnum c appended (a letter as two digits, 10..35), kept below
 * 10^15; UINT64_MAX for any other character. */
static uint64_t mod97_append(uint64_t acc, char c)
{
	unsigned d = (unsigned)(c - '0');

	if (d <= 9)
		acc = acc * 10 + d;
	else if ((d = (unsigned)(c - 'A')) < 26 ||
		 (d = (unsigned)(c - 'a')) < 26)
		acc = acc * 100 + d + 10;
	else
		return UINT64_MAX;
	/* one division per ten digits or so, not one per digit */
	return acc >= 1000000000000000ull ? acc % 97 : acc;
}

/* ISO 7064 mod 97-10 over alnum (letters as 10..35), first four moved. */
static bool mod97(const char *a, size_t n)
{
	uint64_t acc = 0;

	if (n < 5)
		return false;
	for (size_t i = 4; i < n + 4; i++) {
		acc = mod97_append(acc, a[i < n ? i : i - n]);
		if (acc == UINT64_MAX)
			return false;
	}
	return acc % 97 == 1;
}

/* The length of an IBAN of country cc[0..1], 0 for no such country. */
static size_t iban_length(const char *cc)
{
	if (cc[0] < 'A' || cc[0] > 'Z' || cc[1] < 'A' || cc[1] > 'Z')
		return 0;
	return iban_lengths[IBAN_CC(cc[0], cc[1])];
}

static bool validate_iban(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	char a[40];
	size_t n = 0, want = 0;

	if (!token_bounded(t, *start, *end, is_alnum))
		return false;
	/* The compact form is its own copy. */
	if (!memchr(s + *start, ' ', *end - *start)) {
		n = *end - *start;
		want = n >= 2 ? iban_length(s + *start) : 0;
		return want && n == want && mod97(s + *start, n);
	}
	/* The print form: a space after every four characters, no other. */
	for (size_t i = *start; i < *end; i++) {
		if (s[i] == ' ') {
			if (n % 4 || !n || i + 1 >= *end || s[i + 1] == ' ')
				return false;
			continue;
		}
		if (n == sizeof(a))
			return false;
		a[n++] = s[i];
	}
	want = n >= 2 ? iban_length(a) : 0;
	return want && n == want && mod97(a, n);
}

static bool is_email_local(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' ||
	       c == '-';
}

static bool is_domain_char(char c)
{
	return is_alnum(c) || c == '-';
}

static bool validate_email(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	size_t len = t->len;
	const char *at;
	size_t local, label = 0, tld = 0, dots = 0;
	char a;

	at = memchr(s + *start, '@', *end - *start);
	a = after(t, *end);

	if (!at || is_email_local(before(t, *start)))
		return false;
	/* The domain goes on: "a@b.co.uk" ends at "uk", not "co". */
	if (is_domain_char(a) ||
	    (a == '.' && *end + 1 < len && is_alnum(s[*end + 1])))
		return false;
	local = (size_t)(at - (s + *start));
	if (local < 1 || local > 64 || s[*start] == '.' || at[-1] == '.')
		return false;
	for (const char *p = at + 1; p < s + *end; p++) {
		if (*p == '.') {
			if (!label || p[-1] == '-')
				return false;
			dots++;
			label = 0;
			tld = 0;
			continue;
		}
		if (!label && *p == '-')
			return false;
		label++;
		tld = is_alpha(*p) && (tld == label - 1) ? tld + 1 : 0;
		if (label > 63)
			return false;
	}
	return dots && label >= 2 && tld == label && s[*end - 1] != '-' &&
	       (size_t)(s + *end - at - 1) <= 253;
}

static bool validate_phone(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	char d[20];
	size_t n = 0;
	int open = 0;

	if (!number_bounded(t, *start, *end, "-."))
		return false;
	if (s[*start] == '(' ? false : before(t, *start) == '(')
		return false;
	for (size_t i = *start; i < *end; i++) {
		char c = s[i];

		if (is_digit(c)) {
			/* at most 15 kept, 16 counted: too many */
			if (n <= 15)
				d[n++] = c;
		} else if (c == '(') {
			if (open++)
				return false;
		} else if (c == ')') {
			if (--open)
				return false;
		} else if (c != '+') {
			/* one separator between groups, "(415) 555" aside */
			if (i + 1 < *end && !is_digit(s[i + 1]) &&
			    s[i + 1] != '(')
				return false;
		}
	}
	if (open)
		return false;
	if (s[*start] == '+')
		return n >= 8 && n <= 15;
	/* North American: [1] NXX NXX XXXX, N in 2..9. */
	if (n == 11 && d[0] == '1')
		memmove(d, d + 1, --n);
	return n == 10 && d[0] >= '2' && d[3] >= '2';
}

static bool validate_ipv4(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	size_t i = *start;

	if (!number_bounded(t, *start, *end, "."))
		return false;
	for (int octet = 0; octet < 4; octet++) {
		size_t k = i;
		unsigned v = 0;

		while (k < *end && is_digit(s[k]))
			v = v * 10 + (unsigned)(s[k++] - '0');
		if (k == i || k - i > 3 || v > 255 ||
		    (s[i] == '0' && k - i > 1))
			return false;
		i = k + 1;
	}
	return true;
}

static bool is_ipv6_char(char c)
{
	return is_hex(c) || c == ':' || c == '.';
}

static bool validate_ipv6(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	size_t len = t->len;
	struct in6_addr a;
	char buf[64];
	size_t b = *start, e = *end, groups = 0;

	/* The candidate is a piece: the address is the whole run. */
	while (b > 0 && is_ipv6_char(s[b - 1]))
		b--;
	while (e < len && is_ipv6_char(s[e]))
		e++;
	while (e > b && (s[e - 1] == '.' ||
			 (s[e - 1] == ':' && e - b > 2 && s[e - 2] != ':')))
		e--; /* the end of a sentence */
	if (is_alnum(before(t, b)) || is_alnum(after(t, e)) ||
	    e - b >= sizeof(buf))
		return false;
	for (size_t i = b; i < e; i++)
		if (is_hex(s[i]) && (i == b || !is_hex(s[i - 1])))
			groups++;
	memcpy(buf, s + b, e - b);
	buf[e - b] = '\0';
	if (groups < 3 || inet_pton(AF_INET6, buf, &a) != 1)
		return false;
	*start = b;
	*end = e;
	return true;
}

static bool validate_aws_access(const struct text *t, size_t *start,
				size_t *end)
{
	return token_bounded(t, *start, *end, is_alnum);
}

static bool is_b64(char c)
{
	return is_alnum(c) || c == '/' || c == '+';
}

static bool is_b64_or_pad(char c)
{
	return is_b64(c) || c == '=';
}

/* 40 characters of mixed case and digits (the scanner found the context). */
static bool validate_aws_secret(const struct text *t, size_t *start,
				size_t *end)
{
	bool lower = false, upper = false, digit = false;

	char b = before(t, *start);

	/* "KEY=<secret>" is how keys are written; "<secret>=" would be a
	 * longer base64 string */
	if (*end - *start != 40 || (b && is_b64(b)) ||
	    is_b64_or_pad(after(t, *end)))
		return false;
	for (size_t i = *start; i < *end; i++) {
		lower |= t->s[i] >= 'a' && t->s[i] <= 'z';
		upper |= t->s[i] >= 'A' && t->s[i] <= 'Z';
		digit |= is_digit(t->s[i]);
	}
	return lower && upper && digit;
}

static bool is_token_char(char c)
{
	return is_word(c) || c == '-';
}

static bool validate_word_token(const struct text *t, size_t *start,
				size_t *end)
{
	return token_bounded(t, *start, *end, is_token_char);
}

static bool is_jwt_char(char c)
{
	return is_token_char(c) || c == '.';
}

static int b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Base64url without padding; the decoded length, or -1. */
static long b64url_decode(const char *s, size_t n, char *out, size_t max)
{
	unsigned acc = 0, bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		int v = b64url_value(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == max)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return (long)o;
}

static bool validate_jwt(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	char header[JWT_HEADER_MAX];
	const char *dot;
	json_t *h;
	long n;
	bool ok;

	if (!token_bounded(t, *start, *end, is_jwt_char))
		return false;
	dot = memchr(s + *start, '.', *end - *start);
	if (!dot)
		return false;
	n = b64url_decode(s + *start, (size_t)(dot - (s + *start)), header,
			  sizeof(header));
	if (n <= 0)
		return false;
	h = json_loadb(header, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	ok = json_is_object(h) && json_is_string(json_object_get(h, "alg"));
	json_decref(h);
	return ok;
}

/* The block runs to its END line; without one, to the end of the text. */
static bool validate_pem(const struct text *t, size_t *start, size_t *end)
{
	const char *s = t->s;
	size_t len = t->len;
	static const char tail[] = "PRIVATE KEY-----";
	const char *e = memmem(s + *end, len - *end, "-----END ", 9);
	const char *k;

	(void)start;
	if (!e) {
		*end = len;
		return true;
	}
	k = memmem(e, len - (size_t)(e - s), tail, sizeof(tail) - 1);
	*end = k ? (size_t)(k - s) + sizeof(tail) - 1 : len;
	return true;
}

static bool is_bearer_char(char c)
{
	return is_alnum(c) || c == '.' || c == '_' || c == '~' || c == '+' ||
	       c == '/' || c == '-';
}

/* The token after "Bearer " (the scanner found the word and the blank). */
static bool validate_bearer(const struct text *t, size_t *start, size_t *end)
{
	char a = after(t, *end);

	return !is_bearer_char(a) && a != '=' && *end - *start >= 16;
}

/* user:password of scheme://user:password@ (the scanner's span). */
static bool validate_url_credentials(const struct text *t, size_t *start,
				     size_t *end)
{
	const char *colon = memchr(t->s + *start, ':', *end - *start);

	return colon && colon > t->s + *start && colon + 1 < t->s + *end;
}

/* ---- scanning ----------------------------------------------------------- */

typedef bool (*validator_fn)(const struct text *t, size_t *start, size_t *end);

static const validator_fn validators[MW_DET_N_BUILTIN] = {
	[MW_DET_CARD] = validate_card,
	[MW_DET_SSN] = validate_ssn,
	[MW_DET_IBAN] = validate_iban,
	[MW_DET_EMAIL] = validate_email,
	[MW_DET_PHONE] = validate_phone,
	[MW_DET_IPV4] = validate_ipv4,
	[MW_DET_IPV6] = validate_ipv6,
	[MW_DET_AWS_ACCESS_KEY] = validate_aws_access,
	[MW_DET_AWS_SECRET_KEY] = validate_aws_secret,
	[MW_DET_GITHUB_TOKEN] = validate_word_token,
	[MW_DET_GITLAB_TOKEN] = validate_word_token,
	[MW_DET_SLACK_TOKEN] = validate_word_token,
	[MW_DET_JWT] = validate_jwt,
	[MW_DET_PEM_PRIVATE_KEY] = validate_pem,
	[MW_DET_BEARER_TOKEN] = validate_bearer,
	[MW_DET_URL_CREDENTIALS] = validate_url_credentials,
};

struct group {
	size_t start, end; /* the digits */
	char sep; /* what joins it to the previous group: ' ', '-', '.',
		     '(' for "(" or " (", ')' for ")" or ") "; 0 first */
};

struct scan {
	struct text t;
	uint64_t set;
	mw_detect_fn fn;
	void *arg;
	bool stop;
	struct group g[CHAIN_MAX];
	size_t ng;
	size_t pem_end; /* where the last private key block read ends */
};

static bool wants(const struct scan *x, unsigned det)
{
	return x->set & (1ull << det);
}

/* Validates a candidate and reports it: whether it was a value. */
static bool report(struct scan *x, unsigned det, size_t start, size_t end)
{
	if (x->stop || !wants(x, det) || end <= start || end > x->t.len)
		return false;
	if (!validators[det](&x->t, &start, &end) || end <= start)
		return false;
	if (x->fn(x->arg, det, start, end))
		x->stop = true;
	return true;
}

/* Validates a candidate and reports it; true once the caller said stop. */
static bool try(struct scan *x, unsigned det, size_t start, size_t end)
{
	report(x, det, start, end);
	return x->stop;
}

#ifdef __SSE2__
/* 16 bytes at s, shifted by 0x80 so that signed compares order them as
 * unsigned bytes. */
static __m128i load_flipped(const char *s)
{
	return _mm_xor_si128(_mm_loadu_si128((const __m128i *)s),
			     _mm_set1_epi8((char)0x80));
}

/* 0xff in each byte of v (load_flipped's) that is in [lo, hi]. */
static __m128i bytes_in(__m128i v, char lo, char hi)
{
	return _mm_and_si128(
		_mm_cmpgt_epi8(v, _mm_set1_epi8((char)(lo - 128 - 1))),
		_mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi - 128 + 1))));
}
#endif

static size_t next_digit(const char *s, size_t i, size_t len)
{
#ifdef __SSE2__
	for (; i + 16 <= len; i += 16) {
		int m = _mm_movemask_epi8(
			bytes_in(load_flipped(s + i), '0', '9'));

		if (m)
			return i + (size_t)__builtin_ctz((unsigned)m);
	}
#endif
	for (; i < len; i++)
		if (is_digit(s[i]))
			return i;
	return len;
}

static size_t glen(const struct group *g)
{
	return g->end - g->start;
}

/*
 * How cards are printed: in fours, the last group shorter (13 to 19
 * digits), or 4-6-5 and 4-6-4 (American Express, Diners Club). Any other
 * grouping of digits is not a card ("4 1 1 1 ..."), and trying every
 * window of such a chain would cost a validation per digit.
 */
static bool card_grouping(const struct group *g, size_t n)
{
	if (n == 1)
		return true;
	if (glen(&g[0]) != 4)
		return false;
	if (n == 3 && glen(&g[1]) == 6 &&
	    (glen(&g[2]) == 4 || glen(&g[2]) == 5))
		return true;
	for (size_t i = 1; i + 1 < n; i++)
		if (glen(&g[i]) != 4)
			return false;
	return glen(&g[n - 1]) <= 4;
}

/* Cards: 13 to 19 digits, one group or groups joined by one separator
 * (group_sep's: not a parenthesis). */
static void chain_card(struct scan *x, size_t a)
{
	size_t digits = 0;
	char sep = 0;

	for (size_t b = a; b < x->ng && b < a + VALUE_MAX_GROUPS; b++) {
		if (b > a) {
			if (x->g[b].sep == '(' || x->g[b].sep == ')')
				return;
			if (sep && x->g[b].sep != sep)
				return;
			/* a grouped card starts with four digits */
			if (glen(&x->g[a]) != 4)
				return;
			sep = x->g[b].sep;
		}
		digits += glen(&x->g[b]);
		if (digits > 19)
			return;
		if (digits >= 13 && card_grouping(&x->g[a], b - a + 1) &&
		    try(x, MW_DET_CARD, x->g[a].start, x->g[b].end))
			return;
	}
}

static void chain_ssn(struct scan *x, size_t a)
{
	const struct group *g = &x->g[a];

	if (a + 2 < x->ng && glen(&g[0]) == 3 && glen(&g[1]) == 2 &&
	    glen(&g[2]) == 4 &&
	    (g[1].sep == '-' || g[1].sep == ' ' || g[1].sep == 's' ||
	     g[1].sep == 'd') &&
	    g[2].sep == g[1].sep)
		try(x, MW_DET_SSN, g[0].start, g[2].end);
}

static void chain_ipv4(struct scan *x, size_t a)
{
	const struct group *g = &x->g[a];

	if (a + 3 >= x->ng)
		return;
	for (int k = 0; k < 4; k++)
		if (glen(&g[k]) > 3 || (k && g[k].sep != '.'))
			return;
	try(x, MW_DET_IPV4, g[0].start, g[3].end);
}

/*
 * Phones: "+" and 8 to 15 digits in any groups; North American numbers as
 * (NXX) NXX-XXXX, NXX-NXX-XXXX (or '.' or ' '), optionally after "1 ".
 */
/* What joins a phone number's groups: space, '-', '.', parentheses (not
 * the other separators of cards: "/v1/250/300/4000" is a path). */
static bool phone_sep(char sep)
{
	return sep == ' ' || sep == '-' || sep == '.' || sep == '(' ||
	       sep == ')';
}

static void chain_phone(struct scan *x, size_t a)
{
	const struct text *t = &x->t;
	const struct group *g = &x->g[a];
	size_t st = g[0].start, digits = 0;
	char b = st ? t->s[st - 1] : 0;

	if (b == '+') {
		size_t upto[15], k = a;

		/* the longest number first: a shorter one inside it is no
		 * value of its own */
		for (; k < x->ng && k < a + 15; k++) {
			if (k > a && !phone_sep(x->g[k].sep))
				break;
			digits += glen(&x->g[k]);
			if (digits > 15)
				break;
			upto[k - a] = digits;
		}
		while (k-- > a)
			if (upto[k - a] >= 8 &&
			    report(x, MW_DET_PHONE, st - 1, x->g[k].end))
				return;
		return;
	}
	/* 1 NXX NXX XXXX */
	if (glen(&g[0]) == 1 && t->s[st] == '1' && a + 3 < x->ng &&
	    glen(&g[1]) == 3 && glen(&g[2]) == 3 && glen(&g[3]) == 4 &&
	    phone_sep(g[1].sep) && phone_sep(g[2].sep) && phone_sep(g[3].sep) &&
	    try(x, MW_DET_PHONE, st, g[3].end))
		return;
	if (a + 2 >= x->ng || glen(&g[0]) != 3 || glen(&g[1]) != 3 ||
	    glen(&g[2]) != 4 || !phone_sep(g[1].sep) || !phone_sep(g[2].sep))
		return;
	if (g[1].sep == ')' || g[1].sep == '(') {
		/* (NXX) NXX-XXXX: the '(' before the first group */
		if (b == '(' && g[1].sep == ')')
			try(x, MW_DET_PHONE, st - 1, g[2].end);
		return;
	}
	try(x, MW_DET_PHONE, st, g[2].end);
}

/* An IBAN starts with two capitals before the chain's first digits. */
static void chain_iban(struct scan *x)
{
	const struct text *t = &x->t;
	size_t st = x->g[0].start, e, n = 0, want;

	if (st < 2 || !(t->s[st - 1] >= 'A' && t->s[st - 1] <= 'Z') ||
	    !(t->s[st - 2] >= 'A' && t->s[st - 2] <= 'Z'))
		return;
	st -= 2;
	want = iban_length(t->s + st);
	if (!want)
		return;
	/* the country's length in capitals and digits, single spaces between
	 * (the print form): the one end to try; in the compact form, within
	 * the chain's first group of digits */
	if (x->g[0].end - st >= want) {
		try(x, MW_DET_IBAN, st, st + want);
		return;
	}
	for (e = st; e < t->len && n < want; e++) {
		char c = t->s[e];

		if (c == ' ' && n && e + 1 < t->len && t->s[e + 1] != ' ')
			continue;
		if (!is_digit(c) && !(c >= 'A' && c <= 'Z'))
			return;
		n++;
	}
	if (n == want)
		try(x, MW_DET_IBAN, st, e);
}

/* digits: the chain's (window's) digits: fewer than a shape needs, skip it */
static void chain_done(struct scan *x, size_t upto, size_t digits)
{
	bool card = wants(x, MW_DET_CARD) && digits >= 13;
	bool ssn = wants(x, MW_DET_SSN) && digits >= 9 && x->ng >= 3;
	bool ipv4 = wants(x, MW_DET_IPV4) && x->ng >= 4;
	bool phone = wants(x, MW_DET_PHONE) && digits >= 8;

	for (size_t a = 0; a < upto && !x->stop; a++) {
		if (card)
			chain_card(x, a);
		if (ssn)
			chain_ssn(x, a);
		if (ipv4)
			chain_ipv4(x, a);
		if (phone)
			chain_phone(x, a);
	}
}

/* The separator after the group ending at p, and where the next starts:
 * group_sep's, '(' or ')', or ") " and " (" before a digit. */
static bool chain_next(const struct text *t, size_t p, char *sep, size_t *at)
{
	const char *s = t->s;
	size_t n = t->len, len;
	char c, g;

	if (p + 1 >= n)
		return false;
	c = s[p];
	if (is_digit(s[p + 1]) && (c == ')' || c == '(')) {
		*sep = c;
		*at = p + 1;
		return true;
	}
	g = group_sep(s, p, n, &len);
	if (g && p + len < n && is_digit(s[p + len])) {
		*sep = g;
		*at = p + len;
		return true;
	}
	if (p + 2 < n && is_digit(s[p + 2]) &&
	    ((c == ')' && s[p + 1] == ' ') || (c == ' ' && s[p + 1] == '('))) {
		*sep = c == ')' ? ')' : '(';
		*at = p + 2;
		return true;
	}
	return false;
}

/* Digit chains: cards, SSNs, phones, IPv4 addresses, IBANs. */
static void scan_digits(struct scan *x)
{
	const struct text *t = &x->t;
	size_t i = 0;

	while (!x->stop && (i = next_digit(t->s, i, t->len)) < t->len) {
		size_t p = i;
		char sep = 0;

		size_t digits = 0;

		x->ng = 0;
		for (;;) {
			struct group *g = &x->g[x->ng++];

			g->start = p;
			while (p < t->len && is_digit(t->s[p]))
				p++;
			g->end = p;
			g->sep = sep;
			digits += g->end - g->start;
			if (x->ng == 1 && wants(x, MW_DET_IBAN))
				chain_iban(x);
			if (x->ng == CHAIN_MAX) {
				/* a long chain: keep the last groups, any
				 * value they start may go on */
				chain_done(x, CHAIN_MAX - VALUE_MAX_GROUPS,
					   digits);
				memmove(x->g,
					x->g + CHAIN_MAX - VALUE_MAX_GROUPS,
					VALUE_MAX_GROUPS * sizeof(*x->g));
				x->ng = VALUE_MAX_GROUPS;
			}
			if (x->stop || !chain_next(t, p, &sep, &p))
				break;
		}
		/* the shortest values: 8 digits (+E.164), or four groups
		 * (an IPv4 address); most numbers in text are neither */
		if (digits >= 8 || x->ng >= 4)
			chain_done(x, x->ng, digits);
		i = p;
	}
}

static void scan_emails(struct scan *x)
{
	const struct text *t = &x->t;
	const char *at = t->s;

	while (!x->stop &&
	       (at = memchr(at, '@', (size_t)(t->s + t->len - at)))) {
		size_t a = (size_t)(at - t->s), b = a, e = a + 1;

		while (b > 0 && a - b < 65 && is_email_local(t->s[b - 1]))
			b--;
		while (e < t->len &&
		       (is_domain_char(t->s[e]) || t->s[e] == '.'))
			e++;
		while (e > a + 1 && (t->s[e - 1] == '.' || t->s[e - 1] == '-'))
			e--;
		if (b < a)
			try(x, MW_DET_EMAIL, b, e);
		at++;
	}
}

/*
 * Each occurrence of a literal: fn(x, position) looks at what follows.
 * memchr finds the literal's rarest byte (anchor, its index): glibc's
 * memmem is far slower than memchr for needles this short.
 */
static void scan_literal(struct scan *x, const char *lit, size_t anchor,
			 void (*fn)(struct scan *x, size_t at))
{
	const struct text *t = &x->t;
	size_t n = strlen(lit);
	const char *p = t->s + anchor;

	while (!x->stop && p < t->s + t->len &&
	       (p = memchr(p, lit[anchor], (size_t)(t->s + t->len - p)))) {
		size_t i = (size_t)(p - t->s) - anchor;

		if (i + n <= t->len && !memcmp(t->s + i, lit, n))
			fn(x, i);
		p++;
	}
}

static size_t run_of(const struct text *t, size_t i, bool (*in)(char))
{
	while (i < t->len && in(t->s[i]))
		i++;
	return i;
}

static void at_aws_access(struct scan *x, size_t i)
{
	static const char *const prefixes[] = { "AKIA", "ASIA", "ABIA", "ACCA",
						"AGPA", "AIDA", "AROA", "ANPA",
						"ANVA", "APKA" };
	const struct text *t = &x->t;

	if (i + 20 > t->len)
		return;
	for (size_t k = 0; k < sizeof(prefixes) / sizeof(*prefixes); k++)
		if (!memcmp(t->s + i, prefixes[k], 4)) {
			for (size_t j = i + 4; j < i + 20; j++)
				if (!is_digit(t->s[j]) &&
				    !(t->s[j] >= 'A' && t->s[j] <= 'Z'))
					return;
			try(x, MW_DET_AWS_ACCESS_KEY, i, i + 20);
			return;
		}
}

static bool has_word_ci(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w);

	for (size_t i = 0; i + wl <= n; i++)
		if (!strncasecmp(s + i, w, wl))
			return true;
	return false;
}

/*
 * Whether s[0..n) is all base64. In prose two sampled bytes 20 apart are
 * often both letters, and a byte-by-byte look between them costs a
 * mispredicted branch where the word ends: 16 bytes are classified at
 * once instead.
 */
static bool all_b64(const char *s, size_t n)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= n; i += 16) {
		__m128i v = load_flipped(s + i);
		__m128i ok = _mm_or_si128(
			_mm_or_si128(bytes_in(v, '0', '9'),
				     bytes_in(v, 'A', 'Z')),
			_mm_or_si128(bytes_in(v, 'a', 'z'),
				     _mm_or_si128(bytes_in(v, '+', '+'),
						  bytes_in(v, '/', '/'))));

		if (_mm_movemask_epi8(ok) != 0xffff)
			return false;
	}
#endif
	for (; i < n; i++)
		if (!is_b64(s[i]))
			return false;
	return true;
}

/*
 * AWS secret keys: runs of exactly 40 base64 characters, found by looking
 * at every 20th byte (a run of 40 holds two such bytes 20 apart), with
 * "aws" or "secret" in the 64 characters before, on the same line.
 */
static void scan_aws_secret(struct scan *x)
{
	const struct text *t = &x->t;

	for (size_t k = 0; k + 20 < t->len && !x->stop; k += 20) {
		size_t b = k, e = k + 20, w;
		bool run = true;

		if (!is_b64(t->s[k]) || !is_b64(t->s[k + 20]))
			continue;
		run = all_b64(t->s + k + 1, 19);
		if (!run)
			continue;
		while (b > 0 && is_b64(t->s[b - 1]))
			b--;
		while (e < t->len && is_b64(t->s[e]))
			e++;
		if (e - b == 40) {
			w = b > 64 ? b - 64 : 0;
			for (size_t j = b; j > w; j--)
				if (t->s[j - 1] == '\n') {
					w = j;
					break;
				}
			if (has_word_ci(t->s + w, b - w, "aws") ||
			    has_word_ci(t->s + w, b - w, "secret"))
				try(x, MW_DET_AWS_SECRET_KEY, b, e);
		}
		/* the next sample after this run */
		while (k + 20 < e)
			k += 20;
	}
}

/*
 * Tokens start where a run of their characters starts: checked before the
 * run is read, so that "eyJeyJeyJ..." or "glpat-glpat-..." costs one read
 * of the run, not one per occurrence (quadratic on hostile input).
 */
static bool starts_run(const struct text *t, size_t i, bool (*in)(char))
{
	char b = before(t, i);

	return !(b && in(b));
}

static void at_gh(struct scan *x, size_t i)
{
	const struct text *t = &x->t;
	size_t e = run_of(t, i + 4, is_alnum);

	if (e - (i + 4) >= 36 && e - (i + 4) <= 251)
		try(x, MW_DET_GITHUB_TOKEN, i, e);
}

static void at_github_pat(struct scan *x, size_t i)
{
	size_t e;

	if (!starts_run(&x->t, i, is_word))
		return;
	e = run_of(&x->t, i + 11, is_word);

	if (e - (i + 11) == 82)
		try(x, MW_DET_GITHUB_TOKEN, i, e);
}

/* Both kinds of GitHub token have a '_', rare in text: "ghp_", "..._pat_". */
static void at_gh_underscore(struct scan *x, size_t i)
{
	const struct text *t = &x->t;

	if (i >= 3 && t->s[i - 3] == 'g' && t->s[i - 2] == 'h' &&
	    strchr("pousr", t->s[i - 1]) && t->s[i - 1])
		at_gh(x, i - 3);
	else if (i >= 6 && i + 5 <= t->len &&
		 !memcmp(t->s + i - 6, "github_pat_", 11))
		at_github_pat(x, i - 6);
}

static void at_glpat(struct scan *x, size_t i)
{
	size_t e;

	if (!starts_run(&x->t, i, is_token_char))
		return;
	e = run_of(&x->t, i + 6, is_token_char);

	if (e - (i + 6) >= 20)
		try(x, MW_DET_GITLAB_TOKEN, i, e);
}

static bool is_slack_char(char c)
{
	return is_alnum(c) || c == '-';
}

static void at_xox(struct scan *x, size_t i)
{
	const struct text *t = &x->t;
	size_t e;

	if (i + 5 > t->len || !t->s[i + 3] || !strchr("abposr", t->s[i + 3]) ||
	    t->s[i + 4] != '-' || !starts_run(t, i, is_token_char))
		return;
	e = run_of(t, i + 5, is_slack_char);
	if (e - (i + 5) >= 10)
		try(x, MW_DET_SLACK_TOKEN, i, e);
}

static bool is_b64url_char(char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

static void at_jwt(struct scan *x, size_t i)
{
	const struct text *t = &x->t;
	size_t a, b, c;

	if (!starts_run(t, i, is_jwt_char))
		return;
	a = run_of(t, i, is_b64url_char);

	if (a >= t->len || t->s[a] != '.' || a + 4 > t->len ||
	    memcmp(t->s + a + 1, "eyJ", 3))
		return;
	b = run_of(t, a + 1, is_b64url_char);
	if (b >= t->len || t->s[b] != '.')
		return;
	c = run_of(t, b + 1, is_b64url_char);
	if (c - (b + 1) >= 16)
		try(x, MW_DET_JWT, i, c);
}

static void at_pem(struct scan *x, size_t i)
{
	static const char *const kinds[] = { "",     "RSA ",	 "EC ",
					     "DSA ", "OPENSSH ", "ENCRYPTED " };
	static const char tail[] = "PRIVATE KEY-----";
	const struct text *t = &x->t;
	size_t p = i + 11;

	/* inside a block already read to its END (or to the end of the
	 * text): one read of the text, however many BEGIN lines */
	if (i < x->pem_end)
		return;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
		size_t kl = strlen(kinds[k]);

		if (p + kl + sizeof(tail) - 1 <= t->len &&
		    !memcmp(t->s + p, kinds[k], kl) &&
		    !memcmp(t->s + p + kl, tail, sizeof(tail) - 1)) {
			size_t start = i, end = p + kl + sizeof(tail) - 1;

			/* validate_pem reads on to the END line */
			if (validate_pem(t, &start, &end)) {
				x->pem_end = end;
				if (wants(x, MW_DET_PEM_PRIVATE_KEY) &&
				    x->fn(x->arg, MW_DET_PEM_PRIVATE_KEY, start,
					  end))
					x->stop = true;
			}
			return;
		}
	}
}

/* "bearer" in any case at i, blanks, the token. */
static void at_bearer(struct scan *x, size_t i)
{
	const struct text *t = &x->t;
	size_t p = i + 6, e;

	if (p >= t->len || strncasecmp(t->s + i, "bearer", 6) ||
	    is_alpha(before(t, i)))
		return;
	for (;;) {
		if (p < t->len && (t->s[p] == ' ' || t->s[p] == '\t'))
			p++;
		else
			break;
	}
	if (p == i + 6)
		return;
	e = run_of(t, p, is_bearer_char);
	while (e < t->len && t->s[e] == '=')
		e++;
	try(x, MW_DET_BEARER_TOKEN, p, e);
}

/* Both cases of a word's first letter: the rest is checked at the hit. */
static void scan_word(struct scan *x, char lower,
		      void (*fn)(struct scan *x, size_t at))
{
	const struct text *t = &x->t;
	const char first[2] = { lower, (char)(lower - 'a' + 'A') };

	for (int k = 0; k < 2; k++) {
		const char *p = t->s;

		while (!x->stop &&
		       (p = memchr(p, first[k], (size_t)(t->s + t->len - p)))) {
			fn(x, (size_t)(p - t->s));
			p++;
		}
	}
}

static bool is_not_userinfo_end(char c)
{
	return c && c != ':' && c != '/' && c != '@' && c != ' ' && c != '\t' &&
	       c != '\n' && c != '\r';
}

static bool is_not_password_end(char c)
{
	return c && c != '/' && c != '@' && c != ' ' && c != '\t' &&
	       c != '\n' && c != '\r';
}

/* "://" at i: a scheme before, user:password@ after. */
static void at_url(struct scan *x, size_t i)
{
	const struct text *t = &x->t;
	size_t u = i + 3, c, e;

	if (!i || (!(t->s[i - 1] >= 'a' && t->s[i - 1] <= 'z') &&
		   !is_digit(t->s[i - 1]) && !strchr("+.-", t->s[i - 1])))
		return;
	c = run_of(t, u, is_not_userinfo_end);
	if (c == u || c >= t->len || t->s[c] != ':')
		return;
	e = run_of(t, c + 1, is_not_password_end);
	if (e == c + 1 || e >= t->len || t->s[e] != '@')
		return;
	try(x, MW_DET_URL_CREDENTIALS, u, e);
}

/* ':' anchors IPv6 addresses and URL credentials alike: one pass. */
static void scan_colons(struct scan *x)
{
	const struct text *t = &x->t;
	bool ipv6 = wants(x, MW_DET_IPV6);
	bool url = wants(x, MW_DET_URL_CREDENTIALS);
	size_t ipv6_done = 0; /* an address's run is read once */
	const char *c = t->s;

	while (!x->stop && c < t->s + t->len &&
	       (c = memchr(c, ':', (size_t)(t->s + t->len - c)))) {
		size_t i = (size_t)(c - t->s);

		if (url && i + 3 <= t->len && c[1] == '/' && c[2] == '/')
			at_url(x, i);
		if (ipv6 && i >= ipv6_done) {
			size_t b = i, e = i, colons = 0;

			while (b > 0 && is_ipv6_char(t->s[b - 1]))
				b--;
			while (e < t->len && is_ipv6_char(t->s[e]))
				colons += t->s[e++] == ':';
			if (colons >= 2)
				try(x, MW_DET_IPV6, b, e);
			ipv6_done = e;
		}
		c++;
	}
}

int mw_detect(const char *s, size_t len, uint64_t set, mw_detect_fn fn,
	      void *arg)
{
	/* on the stack (6 KiB): the fast path calls this for each number of
	 * a message, where a malloc each took most of the time */
	struct scan scan, *x = &scan;

	x->t = (struct text){ s, len };
	x->set = set;
	x->fn = fn;
	x->arg = arg;
	x->stop = false;
	x->ng = 0;
	x->pem_end = 0;
	if (set & ((1ull << MW_DET_CARD) | (1ull << MW_DET_SSN) |
		   (1ull << MW_DET_IBAN) | (1ull << MW_DET_PHONE) |
		   (1ull << MW_DET_IPV4)))
		scan_digits(x);
	if (wants(x, MW_DET_EMAIL))
		scan_emails(x);
	if (wants(x, MW_DET_IPV6) || wants(x, MW_DET_URL_CREDENTIALS))
		scan_colons(x);
	if (wants(x, MW_DET_AWS_ACCESS_KEY)) {
		const char *p = s;

		while (!x->stop &&
		       (p = memchr(p, 'A', (size_t)(s + len - p)))) {
			at_aws_access(x, (size_t)(p - s));
			p++;
		}
	}
	if (wants(x, MW_DET_AWS_SECRET_KEY))
		scan_aws_secret(x);
	if (wants(x, MW_DET_GITHUB_TOKEN)) {
		scan_literal(x, "_", 0, at_gh_underscore);
	}
	if (wants(x, MW_DET_GITLAB_TOKEN))
		scan_literal(x, "glpat-", 0, at_glpat);
	if (wants(x, MW_DET_SLACK_TOKEN))
		scan_literal(x, "xox", 0, at_xox);
	if (wants(x, MW_DET_JWT))
		scan_literal(x, "eyJ", 2, at_jwt);
	if (wants(x, MW_DET_PEM_PRIVATE_KEY))
		scan_literal(x, "-----BEGIN ", 5, at_pem);
	if (wants(x, MW_DET_BEARER_TOKEN))
		scan_word(x, 'b', at_bearer);
	return x->stop ? 1 : 0;
}

/* ---- for custom detectors ----------------------------------------------- */

bool mw_detect_luhn(const char *s, size_t start, size_t end)
{
	char d[64];
	size_t n = digits_of(s, start, end, d, sizeof(d));

	return n <= sizeof(d) && luhn(d, n);
}

bool mw_detect_mod97(const char *s, size_t start, size_t end)
{
	char a[64];
	size_t n = 0;

	for (size_t i = start; i < end; i++)
		if (is_alnum(s[i])) {
			if (n == sizeof(a))
				return false;
			a[n++] = s[i];
		}
	return mod97(a, n);
}

bool mw_detect_hash_alnum(unsigned det)
{
	return det == MW_DET_CARD || det == MW_DET_SSN || det == MW_DET_IBAN ||
	       det == MW_DET_EMAIL || det == MW_DET_PHONE;
}
