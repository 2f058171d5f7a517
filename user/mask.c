/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Masking: detectors (the built-ins of detect.c, custom ones as PCRE2
 * patterns with an optional validator), rules, and the rewriting of text
 * and JSON. See mask.h.
 */
#include "mask.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "buf.h"
#include "digest.h"
#include "fdio.h"
#include "glob.h"
#include "json_text.h"
#include "log.h"

#define BUILTIN_SET ((1ull << MW_DET_N_BUILTIN) - 1)
/* A custom pattern's work on one string, bounded: hostile input must not
 * make a backtracking pattern run for ever. */
#define CUSTOM_MATCH_LIMIT 1000000u
#define CUSTOM_DEPTH_LIMIT 10000u

struct span_vec {
	/* span_key() of each value found; once located, only the values
	 * kept, in order */
	uint64_t *keys;
	size_t nkeys, kcap;
	uint64_t *sorted; /* the merge sort's other half */
	size_t scap;
};

struct detector {
	char name[MW_MASK_NAME_MAX];
	char token[MW_MASK_NAME_MAX + 16]; /* the full style's */
	size_t token_len;
	/* custom detectors */
	char *pattern;
	pcre2_code *re;
	enum mw_mask_validator validator;
	bool icase;
	/* hash style: the value's letters and digits only, case folded */
	bool hash_alnum;
};

/* Custom detectors: refused matches retried per string, shorter matches
 * looked at per start, the DFA matcher's workspace (ints). */
#define CUSTOM_MAX_REJECTED 4096
/* and at most this many bytes of refused matches searched again in one
 * call (a message, a text): an open-ended pattern ([0-9]+) refused on a
 * long run would scan the run's rest after each of its bytes, in each of
 * a message's strings. 4 MiB covers a run of 2,900 digits, and costs
 * 5 ms of the loop a call at most (64 MiB took 70 ms, three calls a
 * message). */
#define CUSTOM_MAX_REJECTED_BYTES (4u << 20)
#define CUSTOM_SHORTER_MAX 16
#define CUSTOM_DFA_WORKSPACE 1000
#define CUSTOM_SHORTER_SPAN 256 /* longest refused match retried shorter */

struct mw_masker {
	struct detector det[MW_MASK_MAX_DETECTORS];
	unsigned ndet;
	struct mw_mask_rule *rules;
	size_t nrules;
	pcre2_match_data *md;
	pcre2_match_data *md_dfa; /* every match length at a start */
	pcre2_match_context *mctx;
	uint8_t key[MW_MASK_KEY_BYTES];
	bool has_key;
	struct span_vec found;
	struct mw_buf out; /* a masked string, before it is set */
	/* the fast path's decoded copy of a message */
	char *scratch;
	size_t scratch_cap;
	/* refused custom matches still to search again in this call
	 * (CUSTOM_MAX_REJECTED_BYTES at each entry point) */
	size_t rejected_budget;
};

static const char *const builtin_names[MW_DET_N_BUILTIN] = {
	[MW_DET_CARD] = "card",
	[MW_DET_SSN] = "ssn",
	[MW_DET_IBAN] = "iban",
	[MW_DET_EMAIL] = "email",
	[MW_DET_PHONE] = "phone",
	[MW_DET_IPV4] = "ipv4",
	[MW_DET_IPV6] = "ipv6",
	[MW_DET_AWS_ACCESS_KEY] = "aws_access_key",
	[MW_DET_AWS_SECRET_KEY] = "aws_secret_key",
	[MW_DET_GITHUB_TOKEN] = "github_token",
	[MW_DET_GITLAB_TOKEN] = "gitlab_token",
	[MW_DET_SLACK_TOKEN] = "slack_token",
	[MW_DET_JWT] = "jwt",
	[MW_DET_PEM_PRIVATE_KEY] = "pem_private_key",
	[MW_DET_BEARER_TOKEN] = "bearer_token",
	[MW_DET_URL_CREDENTIALS] = "url_credentials",
};

const char *mw_mask_builtin_name(unsigned i)
{
	return i < MW_DET_N_BUILTIN ? builtin_names[i] : NULL;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int compile_custom(struct detector *d, char *err, size_t errlen)
{
	int code;
	PCRE2_SIZE at;

	d->re = pcre2_compile((PCRE2_SPTR)d->pattern, PCRE2_ZERO_TERMINATED,
			      d->icase ? PCRE2_CASELESS : 0, &code, &at, NULL);
	if (!d->re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(code, msg, sizeof(msg));
		mw_set_err(err, errlen,
			   "masking: detector %s: %s at offset %zu", d->name,
			   (const char *)msg, (size_t)at);
		return -1;
	}
	/* Matching without the JIT is correct, only slower. */
	(void)pcre2_jit_compile(d->re, PCRE2_JIT_COMPLETE);
	return 0;
}

static void name_detector(struct detector *d, const char *name)
{
	size_t n;

	snprintf(d->name, sizeof(d->name), "%s", name);
	n = strlen(d->name);
	memcpy(d->token, "[MASKED:", 8);
	memcpy(d->token + 8, d->name, n);
	d->token[8 + n] = ']';
	d->token_len = 9 + n;
}

int mw_masker_new(struct mw_masker **out, const struct mw_mask_custom *custom,
		  size_t ncustom, struct mw_mask_rule *rules, size_t nrules,
		  char *err, size_t errlen)
{
	struct mw_masker *m;

	*out = NULL;
	if (MW_DET_N_BUILTIN + ncustom > MW_MASK_MAX_DETECTORS ||
	    nrules > MW_MASK_MAX_RULES) {
		mw_set_err(err, errlen,
			   "masking: at most %d detectors and %d rules",
			   MW_MASK_MAX_DETECTORS, MW_MASK_MAX_RULES);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	for (unsigned i = 0; i < MW_DET_N_BUILTIN; i++) {
		struct detector *d = &m->det[m->ndet++];

		name_detector(d, builtin_names[i]);
		d->hash_alnum = mw_detect_hash_alnum(i);
	}
	m->md = pcre2_match_data_create(1, NULL);
	m->md_dfa = pcre2_match_data_create(CUSTOM_SHORTER_MAX, NULL);
	m->mctx = pcre2_match_context_create(NULL);
	if (!m->md || !m->md_dfa || !m->mctx)
		goto nomem;
	pcre2_set_match_limit(m->mctx, CUSTOM_MATCH_LIMIT);
	pcre2_set_depth_limit(m->mctx, CUSTOM_DEPTH_LIMIT);
	for (size_t i = 0; i < ncustom; i++) {
		struct detector *d = &m->det[m->ndet++];

		name_detector(d, custom[i].name);
		d->pattern = strdup(custom[i].pattern);
		if (!d->pattern)
			goto nomem;
		d->icase = custom[i].icase;
		d->validator = custom[i].validator;
		d->hash_alnum = custom[i].validator != MW_MASK_VALIDATE_NONE;
		if (compile_custom(d, err, errlen))
			goto fail;
	}
	if (nrules) {
		m->rules = calloc(nrules, sizeof(*m->rules));
		if (!m->rules)
			goto nomem;
		memcpy(m->rules, rules, nrules * sizeof(*rules));
		memset(rules, 0, nrules * sizeof(*rules));
		m->nrules = nrules;
	}
	*out = m;
	return 0;
nomem:
	mw_set_err(err, errlen, "masking: out of memory");
fail:
	mw_masker_free(m);
	return -1;
}

void mw_mask_rule_clear(struct mw_mask_rule *r)
{
	for (size_t i = 0; i < r->nservers; i++)
		mw_glob_free(r->servers[i]);
	for (size_t i = 0; i < r->ntools; i++)
		mw_glob_free(r->tools[i]);
	free(r->servers);
	free(r->tools);
	r->servers = r->tools = NULL;
	r->nservers = r->ntools = 0;
}

void mw_masker_free(struct mw_masker *m)
{
	if (!m)
		return;
	free(m->scratch);
	if (m->out.data)
		OPENSSL_cleanse(m->out.data, m->out.cap);
	mw_buf_free(&m->out);
	for (unsigned i = 0; i < m->ndet; i++) {
		free(m->det[i].pattern);
		pcre2_code_free(m->det[i].re);
	}
	pcre2_match_data_free(m->md);
	pcre2_match_data_free(m->md_dfa);
	pcre2_match_context_free(m->mctx);
	for (size_t i = 0; i < m->nrules; i++)
		mw_mask_rule_clear(&m->rules[i]);
	free(m->rules);
	free(m->found.keys);
	free(m->found.sorted);
	OPENSSL_cleanse(m->key, sizeof(m->key));
	free(m);
}

void mw_masker_set_key(struct mw_masker *m,
		       const uint8_t key[MW_MASK_KEY_BYTES])
{
	memcpy(m->key, key, MW_MASK_KEY_BYTES);
	m->has_key = true;
}

int mw_masker_detector(const struct mw_masker *m, const char *name)
{
	for (unsigned i = 0; i < m->ndet; i++)
		if (!strcmp(m->det[i].name, name))
			return (int)i;
	return -1;
}

const char *mw_masker_detector_name(const struct mw_masker *m, unsigned i)
{
	return i < m->ndet ? m->det[i].name : NULL;
}

unsigned mw_masker_n_detectors(const struct mw_masker *m)
{
	return m->ndet;
}

uint64_t mw_masker_used(const struct mw_masker *m)
{
	uint64_t set = 0;

	for (size_t i = 0; i < m->nrules; i++)
		set |= m->rules[i].detectors;
	return set;
}

size_t mw_masker_n_rules(const struct mw_masker *m)
{
	return m->nrules;
}

/* ---- the key ------------------------------------------------------------ */

int mw_mask_key_load(const char *state_dir, uint8_t key[MW_MASK_KEY_BYTES],
		     char *err, size_t errlen)
{
	char path[4096];
	struct stat st;
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", state_dir,
		     MW_MASK_KEY_FILE) >= (int)sizeof(path)) {
		mw_set_err(err, errlen, "state_dir path too long");
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		if (getrandom(key, MW_MASK_KEY_BYTES, 0) != MW_MASK_KEY_BYTES) {
			mw_set_err(err, errlen, "getrandom: %s",
				   strerror(errno));
			return -1;
		}
		if (mw_write_atomic(state_dir, MW_MASK_KEY_FILE, key,
				    MW_MASK_KEY_BYTES, 0600, err, errlen))
			return -1;
		log_info("masking: new key %s", path);
		return 0;
	}
	if (fd < 0) {
		mw_set_err(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Whoever can read or swap the key can reverse or forge tokens. */
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || st.st_size != MW_MASK_KEY_BYTES) {
		mw_set_err(err, errlen,
			   "%s: must be a regular file of %d bytes, owned by "
			   "uid %u, mode 0600",
			   path, MW_MASK_KEY_BYTES, (unsigned)geteuid());
		close(fd);
		return -1;
	}
	n = mw_read_full(fd, key, MW_MASK_KEY_BYTES);
	close(fd);
	if (n != MW_MASK_KEY_BYTES) {
		mw_set_err(err, errlen, "%s: short read", path);
		return -1;
	}
	return 0;
}

/* ---- plans -------------------------------------------------------------- */

/* unknown: s is NULL because it is not known (not because there is none) */
static bool any_glob(struct mw_glob *const *g, size_t n, const char *s,
		     bool unknown)
{
	if (!g)
		return true;
	if (!s)
		return unknown;
	for (size_t i = 0; i < n; i++)
		if (mw_glob_match(g[i], s, strlen(s)))
			return true;
	return false;
}

bool mw_masker_plan(const struct mw_masker *m, const char *server,
		    const char *tool, unsigned place, struct mw_mask_plan *plan)
{
	bool unknown = place & MW_MASK_ANY_TOOL;

	memset(plan, 0, sizeof(*plan));
	if (!m)
		return false;
	place &= ~MW_MASK_ANY_TOOL;
	for (size_t i = 0; i < m->nrules; i++) {
		const struct mw_mask_rule *r = &m->rules[i];
		uint64_t fresh;

		if (!(r->apply & place) ||
		    !any_glob(r->servers, r->nservers, server, unknown) ||
		    !any_glob(r->tools, r->ntools, tool, unknown))
			continue;
		fresh = r->detectors & ~plan->detectors;
		for (unsigned d = 0; d < m->ndet; d++)
			if (fresh & (1ull << d))
				plan->style[d] = (uint8_t)r->style;
		plan->detectors |= fresh;
		plan->binary |= r->binary;
	}
	return plan->detectors != 0;
}

/* ---- scanning ----------------------------------------------------------- */

/*
 * A span as one integer whose order is the order of choice: earlier
 * first, then longer, then the lower detector (glibc sorts 8-byte
 * elements much faster than structures). Lengths and offsets fit: a
 * scanned string is at most MW_MASK_MAX_STRING (2^24) bytes.
 */
#define KEY_POS_BITS 25
#define KEY_DET_BITS 6

static uint64_t span_key(size_t start, size_t end, unsigned det)
{
	uint64_t room = (1ull << KEY_POS_BITS) - 1;

	return ((uint64_t)start << (KEY_POS_BITS + KEY_DET_BITS)) |
	       ((room - (uint64_t)(end - start)) << KEY_DET_BITS) | det;
}

static struct mw_mask_span span_of(uint64_t key)
{
	uint64_t room = (1ull << KEY_POS_BITS) - 1;
	size_t start = (size_t)(key >> (KEY_POS_BITS + KEY_DET_BITS));
	size_t len = (size_t)(room - ((key >> KEY_DET_BITS) & room));

	return (struct mw_mask_span){
		start, start + len, (unsigned)(key & ((1u << KEY_DET_BITS) - 1))
	};
}

static int key_push(struct span_vec *v, uint64_t key)
{
	if (v->nkeys && v->keys[v->nkeys - 1] == key)
		return 0;
	if (v->nkeys == v->kcap) {
		size_t cap = v->kcap ? v->kcap * 2 : 16;
		uint64_t *nk = realloc(v->keys, cap * sizeof(*nk));

		if (!nk)
			return -1;
		v->keys = nk;
		v->kcap = cap;
	}
	v->keys[v->nkeys++] = key;
	return 0;
}

static bool custom_valid(const struct detector *d, const char *s, size_t start,
			 size_t end)
{
	switch (d->validator) {
	case MW_MASK_VALIDATE_LUHN:
		return mw_detect_luhn(s, start, end);
	case MW_MASK_VALIDATE_MOD97:
		return mw_detect_mod97(s, start, end);
	default:
		return true;
	}
}

/*
 * Every match of a custom detector, leftmost first, validated. fn as for
 * mw_detect. 1: fn stopped it; 0; -1: the match limit or another error
 * (the caller must fail closed).
 */

/*
 * A shorter match than the one the validator refused, at the same start
 * ("6759649826438453 17": the greedy match took the 17). PCRE2's DFA
 * matcher gives the match lengths at a start, longest first, up to
 * CUSTOM_SHORTER_MAX of them. The end of the longest valid one in *end,
 * or false.
 */
static bool shorter_valid(struct mw_masker *m, const struct detector *d,
			  const char *s, size_t len, size_t at,
			  size_t refused_end, size_t start, size_t *end)
{
	int ws[CUSTOM_DFA_WORKSPACE], rc, k;
	PCRE2_SIZE *ov;

	/* a long refused match (a run of digits) would cost a scan of its
	 * length per try: values are shorter */
	if (refused_end - at > CUSTOM_SHORTER_SPAN)
		return false;
	rc = pcre2_dfa_match(d->re, (PCRE2_SPTR)s, len, at, PCRE2_ANCHORED,
			     m->md_dfa, m->mctx, ws, sizeof(ws) / sizeof(*ws));
	ov = pcre2_get_ovector_pointer(m->md_dfa);
	k = rc == 0 ? (int)pcre2_get_ovector_count(m->md_dfa) : rc;
	/* longest first; the normal matcher's need not be the longest
	 * (alternation order, lazy quantifiers): only its end is skipped */
	for (int i = 0; i < k; i++) {
		size_t e = ov[2 * i + 1];

		if (e == refused_end)
			continue;
		while (e < len && ((unsigned char)s[e] & 0xc0) == 0x80)
			e++;
		if (e > start && custom_valid(d, s, start, e)) {
			*end = e;
			return true;
		}
	}
	return false;
}

static int custom_matches(struct mw_masker *m, unsigned det, const char *s,
			  size_t len, mw_detect_fn fn, void *arg)
{
	const struct detector *d = &m->det[det];
	size_t at = 0, rejected = 0, spent;

	while (at <= len) {
		int rc = pcre2_match(d->re, (PCRE2_SPTR)s, len, at, 0, m->md,
				     m->mctx);
		PCRE2_SIZE *ov;
		size_t start, end;

		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		if (rc < 0) {
			log_warn("masking: detector %s: match error %d",
				 d->name, rc);
			return -1;
		}
		ov = pcre2_get_ovector_pointer(m->md);
		start = ov[0];
		end = ov[1];
		/* a byte pattern can match part of a character: the value
		 * takes the whole, so masked text stays UTF-8 */
		while (start > 0 && ((unsigned char)s[start] & 0xc0) == 0x80)
			start--;
		while (end < len && ((unsigned char)s[end] & 0xc0) == 0x80)
			end++;
		if ((end > start && custom_valid(d, s, start, end)) ||
		    (rejected < CUSTOM_MAX_REJECTED && m->rejected_budget &&
		     shorter_valid(m, d, s, len, ov[0], ov[1], start, &end))) {
			if (fn(arg, det, start, end))
				return 1;
			at = end > ov[0] ? end : ov[0] + 1;
			continue;
		}
		/*
		 * A match its validator refuses ("17 6759 6498 2643 8453",
		 * Luhn) may hide a valid one that starts inside it: the
		 * search goes on from its second byte. Bounded, as each try
		 * scans again: past CUSTOM_MAX_REJECTED refusals in one
		 * string, or CUSTOM_MAX_REJECTED_BYTES of them in one call,
		 * from its end.
		 */
		spent = end - ov[0];
		m->rejected_budget = spent < m->rejected_budget
					     ? m->rejected_budget - spent
					     : 0;
		at = (++rejected <= CUSTOM_MAX_REJECTED &&
		      m->rejected_budget) ||
				     end <= ov[0]
			     ? ov[0] + 1
			     : end;
	}
	return 0;
}

static int stop_at_first(void *arg, unsigned det, size_t start, size_t end)
{
	(void)arg;
	(void)det;
	(void)start;
	(void)end;
	return 1;
}

static char *scratch_of(struct mw_masker *m, size_t len)
{
	if (len > m->scratch_cap) {
		char *p = realloc(m->scratch, len);

		if (!p)
			return NULL;
		m->scratch = p;
		m->scratch_cap = len;
	}
	return m->scratch;
}

/* *s (*n bytes of JSON text) with its escapes decoded, in the scratch
 * buffer; false when that cannot be done. */
static bool unescaped(struct mw_masker *m, const char **s, size_t *n)
{
	char *out = scratch_of(m, *n);
	size_t len;

	if (!out)
		return false;
	len = mw_json_unescape(out, *s, *n);
	if (len == MW_JSON_UNESCAPE_FAILED)
		return false;
	*s = out;
	*n = len;
	return true;
}

/*
 * A real of integral value that a double holds exactly (|v| < 2^53), as
 * the digits of the integer it is: 4111111111111111.0 is a card number
 * written by a language whose numbers are doubles (Python's float, a
 * JSON library that reads every number as one). Past 2^53 a double no
 * longer keeps the digits written. The length, or 0.
 */
static int integral_real_digits(double v, char out[32])
{
	if (!(v > -9007199254740992.0 && v < 9007199254740992.0) ||
	    v != (double)(long long)v)
		return 0;
	return snprintf(out, 32, "%lld", (long long)v);
}

/*
 * A real's token (n bytes at v) as integral_real_digits reads it: the
 * length of its digits in out, 0 when it has none, -1 when the token is
 * too long to read here (the caller takes it for a candidate).
 */
static int real_token_digits(const char *v, size_t n, char out[32])
{
	char num[512];

	if (n >= sizeof(num))
		return -1;
	memcpy(num, v, n);
	num[n] = '\0';
	return integral_real_digits(strtod(num, NULL), out);
}

/*
 * A byte that makes a run of number bytes part of a word or a string's
 * edge ("v1.0", "abc1e5"), not a value of its own. Any other byte bounds
 * a value: JSON's separators and white space, and whatever a parser more
 * lenient than JSON lets stand there (jansson takes "[4.0\0]").
 */
static bool in_word(char c)
{
	return is_alnum(c) || c == '"' || c == '_' || c == '\\';
}

static bool in_number(char c)
{
	return is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' ||
	       c == '-';
}

/*
 * Reals of integral value (4111111111111111.0, 4.111111111111111e15):
 * the slow path reads their integer's digits (integral_real_digits),
 * which the text does not spell for the scanners. Each run of bytes a
 * number is made of, standing alone (in_word), that holds a '.' or an
 * exponent is read, and its integer's digits scanned. One pass: every
 * byte is looked at once or twice, however the runs are made ("1.1.1..."
 * inside a string).
 */
static bool integral_real_candidates(const char *s, size_t len, uint64_t set)
{
	char digits[32];
	size_t i = 0;

	while (i < len) {
		size_t a = i, b;
		bool real = false;
		int n;

		if (!in_number(s[i])) {
			i++;
			continue;
		}
		for (b = a; b < len && in_number(s[b]); b++)
			real |= s[b] == '.' || s[b] == 'e' || s[b] == 'E';
		i = b;
		if (!real || (a > 0 && in_word(s[a - 1])) ||
		    (b < len && in_word(s[b])))
			continue;
		n = real_token_digits(s + a, b - a, digits);
		if (n < 0 || (n && mw_detect(digits, (size_t)n, set,
					     stop_at_first, NULL)))
			return true;
	}
	return false;
}

/*
 * Custom patterns see each string (and integer) alone, as the slow path
 * shows them: an anchored pattern matches nowhere else. raw is JSON.
 */
static bool custom_candidates(struct mw_masker *m, uint64_t set,
			      const char *raw, size_t len)
{
	struct mw_json_token tok;
	char digits[32];
	size_t at = 0;

	while (mw_json_next_token(raw, len, &at, &tok)) {
		const char *v = raw + tok.start;
		size_t n = tok.end - tok.start;

		if (!tok.is_string) {
			/* the slow path sees integers as jansson prints
			 * them, reals of integral value as the integer's
			 * digits, other reals not at all */
			if (memchr(v, '.', n) || memchr(v, 'e', n) ||
			    memchr(v, 'E', n)) {
				int d = real_token_digits(v, n, digits);

				if (d < 0)
					return true;
				if (!d)
					continue;
				v = digits;
				n = (size_t)d;
			} else if (n == 2 && !memcmp(v, "-0", 2)) {
				v++;
				n--;
			}
		} else if (tok.has_escape && !unescaped(m, &v, &n)) {
			return true;
		}
		for (unsigned d = MW_DET_N_BUILTIN; d < m->ndet; d++)
			if ((set & (1ull << d)) &&
			    custom_matches(m, d, v, n, stop_at_first, NULL))
				return true;
		/* past the budget a search skips what the slow path, in its
		 * own order, may still search: it decides */
		if (!m->rejected_budget)
			return true;
	}
	return false;
}

/*
 * The built-ins run over the whole text with its escapes decoded: every
 * string's bytes then stand as the slow path sees them, between quotes,
 * which no scanner takes into a value, so a value found in a string is
 * found here too. Keys and binary content are scanned as well: more
 * candidates, never fewer. Any failure says "candidate": the slow path
 * decides.
 */
bool mw_mask_candidates(struct mw_masker *m, uint64_t set, const char *raw,
			size_t len)
{
	const char *view = raw;
	size_t vlen = len;

	m->rejected_budget = CUSTOM_MAX_REJECTED_BYTES;
	if (!set || !len)
		return false;
	if ((set & BUILTIN_SET) && memchr(raw, '\\', len) &&
	    !unescaped(m, &view, &vlen))
		return true;
	if ((set & BUILTIN_SET) &&
	    (mw_detect(view, vlen, set & BUILTIN_SET, stop_at_first, NULL) ||
	     integral_real_candidates(view, vlen, set & BUILTIN_SET)))
		return true;
	return (set & ~BUILTIN_SET) && custom_candidates(m, set, raw, len);
}

static int on_found(void *arg, unsigned det, size_t start, size_t end)
{
	struct mw_masker *m = arg;

	return key_push(&m->found, span_key(start, end, det)) ? -1 : 0;
}

/* The end of the ascending run of a[0..n) that starts at i. */
static size_t run_end(const uint64_t *a, size_t i, size_t n)
{
	while (++i < n && a[i - 1] <= a[i])
		;
	return i;
}

/*
 * The keys in order: a natural merge sort. Each scanner reports in text
 * order, so the keys come as a few ascending runs, merged in a pass or
 * two; a dense result holds tens of thousands of values, where qsort's
 * comparisons cost more than finding them.
 */
static int sort_keys(struct span_vec *v)
{
	size_t n = v->nkeys;
	uint64_t *from = v->keys, *to;

	if (n < 2 || run_end(from, 0, n) == n)
		return 0;
	if (v->scap < n) {
		uint64_t *p = realloc(v->sorted, v->kcap * sizeof(*p));

		if (!p)
			return -1;
		v->sorted = p;
		v->scap = v->kcap;
	}
	to = v->sorted;
	for (;;) {
		size_t i = 0, runs = 0;

		while (i < n) {
			size_t mid = run_end(from, i, n), end = mid, a, b, o;

			if (mid < n)
				end = run_end(from, mid, n);
			for (a = i, b = mid, o = i; a < mid && b < end;)
				to[o++] = from[b] < from[a] ? from[b++]
							    : from[a++];
			memcpy(to + o, from + a, (mid - a) * sizeof(*to));
			o += mid - a;
			memcpy(to + o, from + b, (end - b) * sizeof(*to));
			i = end;
			runs++;
		}
		to = from;
		from = from == v->keys ? v->sorted : v->keys;
		if (runs == 1)
			break;
	}
	if (from != v->keys)
		memcpy(v->keys, from, n * sizeof(*from));
	return 0;
}

/*
 * Fills m->found with the values in text, ordered, without overlaps: of
 * two that overlap the first stays, and with merge it also runs to the
 * second's end (what is masked), else the second is dropped (what is
 * found).
 */
static int locate(struct mw_masker *m, uint64_t set, const char *text,
		  size_t len, bool merge)
{
	size_t end = 0, kept = 0;

	m->found.nkeys = 0;
	if (len > MW_MASK_MAX_STRING)
		return -1;
	/* on_found stops the scan only when it cannot keep a value */
	if ((set & BUILTIN_SET) &&
	    mw_detect(text, len, set & BUILTIN_SET, on_found, m))
		return -1;
	for (unsigned d = MW_DET_N_BUILTIN; d < m->ndet; d++)
		if ((set & (1ull << d)) &&
		    custom_matches(m, d, text, len, on_found, m))
			return -1;
	if (sort_keys(&m->found))
		return -1;
	for (size_t i = 0; i < m->found.nkeys; i++) {
		struct mw_mask_span sp = span_of(m->found.keys[i]), prev;

		if (kept && sp.start < end) {
			/*
			 * Overlapping values (a phone number running into
			 * a card) are masked as one, in the first one's
			 * detector and style: masking the first alone
			 * would leave the rest of the second to read.
			 */
			if (merge && sp.end > end) {
				prev = span_of(m->found.keys[kept - 1]);
				m->found.keys[kept - 1] = span_key(
					prev.start, sp.end, prev.detector);
				end = sp.end;
			}
			continue;
		}
		m->found.keys[kept++] = m->found.keys[i];
		end = sp.end;
	}
	m->found.nkeys = kept;
	return 0;
}

static long spans_of(struct mw_masker *m, uint64_t set, const char *text,
		     size_t len, struct mw_mask_span *spans, size_t max,
		     bool merge)
{
	if (locate(m, set, text, len, merge))
		return -1;
	for (size_t i = 0; i < m->found.nkeys && i < max; i++)
		spans[i] = span_of(m->found.keys[i]);
	return (long)m->found.nkeys;
}

long mw_mask_find(struct mw_masker *m, uint64_t set, const char *text,
		  size_t len, struct mw_mask_span *spans, size_t max)
{
	m->rejected_budget = CUSTOM_MAX_REJECTED_BYTES;
	return spans_of(m, set, text, len, spans, max, false);
}

long mw_mask_spans(struct mw_masker *m, uint64_t set, const char *text,
		   size_t len, struct mw_mask_span *spans, size_t max)
{
	m->rejected_budget = CUSTOM_MAX_REJECTED_BYTES;
	return spans_of(m, set, text, len, spans, max, true);
}

/* ---- rewriting ---------------------------------------------------------- */

/* Kept by the partial style: separators, which say nothing of a value. */
static bool partial_keeps(char c)
{
	return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' ||
	       c == '/' || c == ':' || c == '@' || c == '+' || c == '_';
}

/* The last four letters and digits stay, never more than half of them. */
static int put_partial(struct mw_buf *o, const char *v, size_t n)
{
	size_t alnum = 0, seen = 0, keep;

	for (size_t i = 0; i < n; i++)
		alnum += is_alnum(v[i]);
	keep = alnum / 2 < 4 ? alnum / 2 : 4;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];

		if (is_alnum(c)) {
			if (++seen + keep <= alnum)
				c = '*';
		} else if (!partial_keeps(c)) {
			/* one star for a whole UTF-8 sequence */
			while (i + 1 < n &&
			       ((unsigned char)v[i + 1] & 0xc0) == 0x80)
				i++;
			c = '*';
		}
		if (mw_buf_append(o, &c, 1))
			return -1;
	}
	return 0;
}

static int put_hash(struct mw_masker *m, struct mw_buf *o, unsigned det,
		    const char *v, size_t n)
{
	const struct detector *d = &m->det[det];
	size_t nlen = strlen(d->name) + 1, k = nlen;
	unsigned char mac[EVP_MAX_MD_SIZE], *msg;
	unsigned maclen = 0;
	char tok[MW_MASK_NAME_MAX + 40];
	int rc = -1;

	/* name NUL value: the same digits under two detectors differ */
	msg = malloc(nlen + n + 1);
	if (!msg)
		return -1;
	memcpy(msg, d->name, nlen);
	for (size_t i = 0; i < n; i++) {
		if (d->hash_alnum && !is_alnum(v[i]))
			continue;
		msg[k++] = d->hash_alnum ? (unsigned char)tolower(v[i])
					 : (unsigned char)v[i];
	}
	if (HMAC(mw_sha256_md(), m->key, MW_MASK_KEY_BYTES, msg, k, mac,
		 &maclen) &&
	    maclen >= 8) {
		snprintf(tok, sizeof(tok),
			 "[MASKED:%s:%02x%02x%02x%02x%02x%02x%02x%02x]",
			 d->name, mac[0], mac[1], mac[2], mac[3], mac[4],
			 mac[5], mac[6], mac[7]);
		rc = mw_buf_append(o, tok, strlen(tok));
	}
	OPENSSL_cleanse(msg, k);
	free(msg);
	return rc;
}

static int put_masked(struct mw_masker *m, const struct mw_mask_plan *plan,
		      struct mw_buf *o, unsigned det, const char *v, size_t n)
{
	if (plan->style[det] == MW_MASK_PARTIAL)
		return put_partial(o, v, n);
	/* Without a key, no token: the hash style masks as full. */
	if (plan->style[det] == MW_MASK_HASH && m->has_key)
		return put_hash(m, o, det, v, n);
	return mw_buf_append(o, m->det[det].token, m->det[det].token_len);
}

int mw_masker_token(const struct mw_masker *m, const char *label, const char *s,
		    size_t n, char out[2 * MW_MASK_TOKEN_BYTES + 1])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t ll = strlen(label) + 1;
	unsigned maclen = 0;
	unsigned char *msg;
	bool ok;

	if (!m || !m->has_key)
		return -1;
	/* label NUL bytes: a token of one context is no other's */
	msg = malloc(ll + n);
	if (!msg)
		return -1;
	memcpy(msg, label, ll);
	memcpy(msg + ll, s, n);
	ok = HMAC(mw_sha256_md(), m->key, MW_MASK_KEY_BYTES, msg, ll + n, mac,
		  &maclen) &&
	     maclen >= MW_MASK_TOKEN_BYTES;
	free(msg);
	if (!ok)
		return -1;
	for (unsigned i = 0; i < MW_MASK_TOKEN_BYTES; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* The masked text appended to o (NUL-terminated, the NUL not counted):
 * how many values, 0 (o untouched) or -1. */
static long mask_text_into(struct mw_masker *m, const struct mw_mask_plan *plan,
			   const char *text, size_t len, struct mw_buf *o,
			   struct mw_mask_counts *counts)
{
	size_t at = 0;

	if (locate(m, plan->detectors, text, len, true))
		return -1;
	if (!m->found.nkeys)
		return 0;
	for (size_t i = 0; i < m->found.nkeys; i++) {
		struct mw_mask_span span = span_of(m->found.keys[i]);
		const struct mw_mask_span *sp = &span;

		if (mw_buf_append(o, text + at, sp->start - at) ||
		    put_masked(m, plan, o, sp->detector, text + sp->start,
			       sp->end - sp->start))
			return -1;
		at = sp->end;
		if (counts) {
			counts->n[sp->detector]++;
			counts->total++;
		}
	}
	if (mw_buf_append(o, text + at, len - at) || mw_buf_append(o, "", 1))
		return -1;
	return (long)m->found.nkeys;
}

/* mw_mask_text within a call whose budget is set (a key of a message). */
static long mask_text_alloc(struct mw_masker *m,
			    const struct mw_mask_plan *plan, const char *text,
			    size_t len, char **out, size_t *outlen,
			    struct mw_mask_counts *counts)
{
	struct mw_buf o = { 0 };
	long n = mask_text_into(m, plan, text, len, &o, counts);

	*out = NULL;
	*outlen = 0;
	if (n <= 0) {
		mw_buf_free(&o);
		return n;
	}
	*out = o.data;
	*outlen = mw_buf_used(&o) - 1;
	return n;
}

long mw_mask_text(struct mw_masker *m, const struct mw_mask_plan *plan,
		  const char *text, size_t len, char **out, size_t *outlen,
		  struct mw_mask_counts *counts)
{
	m->rejected_budget = CUSTOM_MAX_REJECTED_BYTES;
	return mask_text_alloc(m, plan, text, len, out, outlen, counts);
}

/* ---- JSON --------------------------------------------------------------- */

bool mw_mask_plan_covers(const struct mw_mask_plan *done,
			 const struct mw_mask_plan *want)
{
	if (want->detectors & ~done->detectors)
		return false;
	if (want->binary && !done->binary)
		return false;
	for (unsigned d = 0; d < MW_MASK_MAX_DETECTORS; d++)
		if ((want->detectors & (1ull << d)) &&
		    want->style[d] != done->style[d])
			return false;
	return true;
}

/* MCP's image and audio content, whose data is base64. */
static bool is_media_object(const json_t *obj)
{
	const char *type = json_string_value(json_object_get(obj, "type"));

	return type && (!strcmp(type, "image") || !strcmp(type, "audio"));
}

/* Base64 as MCP's blob and data carry it: padded, no blanks. */
static bool is_base64(const char *s, size_t n)
{
	size_t pad = 0;

	if (n % 4)
		return false;
	while (pad < 2 && pad < n && s[n - 1 - pad] == '=')
		pad++;
	for (size_t i = 0; i < n - pad; i++)
		if (!is_alnum(s[i]) && s[i] != '+' && s[i] != '/')
			return false;
	return true;
}

/* A string value masked in place, or replaced (*repl) for an integer. */
static long mask_string(struct mw_masker *m, const struct mw_mask_plan *plan,
			json_t *s, struct mw_mask_counts *counts)
{
	long n;

	/* the masker's own buffer, kept from string to string */
	mw_buf_reset(&m->out);
	n = mask_text_into(m, plan, json_string_value(s), json_string_length(s),
			   &m->out, counts);
	/* UTF-8 in, values replaced whole: UTF-8 out */
	if (n > 0 && json_string_setn_nocheck(s, mw_buf_head(&m->out),
					      mw_buf_used(&m->out) - 1))
		n = -1;
	return n;
}

/*
 * A number as the digits a detector reads in it: an integer's, or those
 * of a real of integral value (integral_real_digits); 0 for any other.
 */
static int number_digits(const json_t *j, char out[32])
{
	if (json_is_integer(j))
		return snprintf(out, 32, "%" JSON_INTEGER_FORMAT,
				json_integer_value(j));
	if (json_is_real(j))
		return integral_real_digits(json_real_value(j), out);
	return 0;
}

/* A number a detector recognises (a card as a number): masked text. */
static json_t *mask_number(struct mw_masker *m, const struct mw_mask_plan *plan,
			   const json_t *j, struct mw_mask_counts *counts,
			   long *n)
{
	char digits[32], *masked;
	size_t mlen;
	int len = number_digits(j, digits);
	json_t *s = NULL;

	*n = 0;
	if (len <= 0)
		return NULL;
	*n = mw_mask_text(m, plan, digits, (size_t)len, &masked, &mlen, counts);
	if (*n > 0) {
		s = json_stringn(masked, mlen);
		free(masked);
		if (!s)
			*n = -1;
	}
	return s;
}

/*
 * Keys are data too ({"jane@example.com": {...}}): an object with a key
 * to mask is rebuilt with its members in order (two keys masked alike:
 * the later value stays, as JSON.parse has it).
 */
static long mask_keys(struct mw_masker *m, const struct mw_mask_plan *plan,
		      json_t *obj, struct mw_mask_counts *counts)
{
	json_t *rebuilt;
	long total = 0;
	void *it;

	for (it = json_object_iter(obj); it;
	     it = json_object_iter_next(obj, it)) {
		if (locate(m, plan->detectors, json_object_iter_key(it),
			   json_object_iter_key_len(it), true))
			return -1;
		if (m->found.nkeys)
			break;
	}
	if (!it)
		return 0;
	rebuilt = json_object();
	if (!rebuilt)
		return -1;
	for (it = json_object_iter(obj); it;
	     it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		size_t klen = json_object_iter_key_len(it), mlen;
		char *masked;
		long n = mask_text_alloc(m, plan, key, klen, &masked, &mlen,
					 counts);

		if (n < 0 ||
		    json_object_setn(rebuilt, n ? masked : key, n ? mlen : klen,
				     json_object_iter_value(it))) {
			free(masked);
			json_decref(rebuilt);
			return -1;
		}
		free(masked);
		total += n;
	}
	if (json_object_clear(obj) || json_object_update(obj, rebuilt))
		total = -1;
	json_decref(rebuilt);
	return total;
}

static long mask_value(struct mw_masker *m, const struct mw_mask_plan *plan,
		       json_t *j, struct mw_mask_counts *counts, int depth);

static long mask_member(struct mw_masker *m, const struct mw_mask_plan *plan,
			json_t *obj, void *iter, bool media,
			struct mw_mask_counts *counts, int depth)
{
	const char *key = json_object_iter_key(iter);
	json_t *v = json_object_iter_value(iter);
	json_t *repl;
	long n;

	/* Base64 content where MCP puts it, a resource's blob (beside its
	 * uri) and media's data: a mask would corrupt it, a detector
	 * misread it. Only what is base64 passes as such; a member of that
	 * name elsewhere is a value like any. */
	if (json_is_string(v) && !plan->binary &&
	    ((!strcmp(key, "blob") &&
	      json_is_string(json_object_get(obj, "uri"))) ||
	     (media && !strcmp(key, "data"))) &&
	    is_base64(json_string_value(v), json_string_length(v)))
		return 0;
	if (!json_is_number(v))
		return mask_value(m, plan, v, counts, depth + 1);
	repl = mask_number(m, plan, v, counts, &n);
	if (repl && json_object_iter_set_new(obj, iter, repl))
		return -1;
	return n;
}

static long mask_value(struct mw_masker *m, const struct mw_mask_plan *plan,
		       json_t *j, struct mw_mask_counts *counts, int depth)
{
	long total = 0, n = 0;

	/* jansson's parser nests at most 2048 levels; a tree built in code
	 * could go deeper: fail rather than overflow the stack. */
	if (depth > 4096)
		return -1;
	switch (json_typeof(j)) {
	case JSON_STRING:
		return mask_string(m, plan, j, counts);
	case JSON_OBJECT: {
		bool media = is_media_object(j);

		total = mask_keys(m, plan, j, counts);
		if (total < 0)
			return -1;
		for (void *it = json_object_iter(j); it;
		     it = json_object_iter_next(j, it)) {
			n = mask_member(m, plan, j, it, media, counts, depth);
			if (n < 0)
				return -1;
			total += n;
		}
		return total;
	}
	case JSON_ARRAY:
		for (size_t i = 0; i < json_array_size(j); i++) {
			json_t *v = json_array_get(j, i);

			if (json_is_number(v)) {
				json_t *repl =
					mask_number(m, plan, v, counts, &n);

				if (repl && json_array_set_new(j, i, repl))
					return -1;
			} else {
				n = mask_value(m, plan, v, counts, depth + 1);
			}
			if (n < 0)
				return -1;
			total += n;
		}
		return total;
	default:
		return 0;
	}
}

long mw_mask_json(struct mw_masker *m, const struct mw_mask_plan *plan,
		  json_t **j, struct mw_mask_counts *counts)
{
	json_t *repl;
	long n;

	if (!*j || !plan->detectors)
		return 0;
	m->rejected_budget = CUSTOM_MAX_REJECTED_BYTES;
	if (!json_is_number(*j))
		return mask_value(m, plan, *j, counts, 0);
	/* a bare number (a result of 4111111111111111) is replaced whole */
	repl = mask_number(m, plan, *j, counts, &n);
	if (repl) {
		json_decref(*j);
		*j = repl;
	}
	return n;
}

json_t *mw_mask_counts_json(const struct mw_masker *m,
			    const struct mw_mask_counts *c)
{
	json_t *o;

	if (!c || !c->total)
		return NULL;
	o = json_object();
	for (unsigned d = 0; o && d < m->ndet; d++)
		if (c->n[d] &&
		    json_object_set_new(o, m->det[d].name,
					json_integer((json_int_t)c->n[d]))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static const char *style_name(enum mw_mask_style s)
{
	return s == MW_MASK_PARTIAL ? "partial"
	       : s == MW_MASK_HASH  ? "hash"
				    : "full";
}

static const char *validator_name(enum mw_mask_validator v)
{
	return v == MW_MASK_VALIDATE_LUHN    ? "luhn"
	       : v == MW_MASK_VALIDATE_MOD97 ? "mod97"
					     : "none";
}

json_t *mw_masker_describe(const struct mw_masker *m)
{
	json_t *dets = json_array(), *rules = json_array(), *o;

	for (unsigned i = 0; dets && m && i < m->ndet; i++) {
		const struct detector *d = &m->det[i];
		json_t *e =
			i < MW_DET_N_BUILTIN
				? json_pack("{s:s,s:s}", "name", d->name,
					    "kind", "built-in")
				: json_pack("{s:s,s:s,s:s,s:s,s:b}", "name",
					    d->name, "kind", "custom",
					    "pattern", d->pattern, "validator",
					    validator_name(d->validator),
					    "case_insensitive", d->icase);

		if (!e || json_array_append_new(dets, e)) {
			json_decref(dets);
			dets = NULL;
		}
	}
	for (size_t i = 0; rules && m && i < m->nrules; i++) {
		const struct mw_mask_rule *r = &m->rules[i];
		json_t *names = json_array(), *apply = json_array(), *e;

		for (unsigned d = 0; names && d < m->ndet; d++)
			if (r->detectors & (1ull << d))
				json_array_append_new(
					names, json_string(m->det[d].name));
		if (apply && (r->apply & MW_MASK_TO_CLIENT))
			json_array_append_new(apply, json_string("client"));
		if (apply && (r->apply & MW_MASK_IN_AUDIT))
			json_array_append_new(apply, json_string("audit"));
		e = json_pack("{s:s,s:s?,s:s?,s:o*,s:o*,s:s,s:b}", "name",
			      r->name, "server",
			      r->servers ? r->server_text : NULL, "tool",
			      r->tools ? r->tool_text : NULL, "detectors",
			      names, "apply", apply, "style",
			      style_name(r->style), "binary", r->binary);
		if (!e || json_array_append_new(rules, e)) {
			json_decref(rules);
			rules = NULL;
		}
	}
	o = json_pack("{s:o*,s:o*}", "detectors", dets, "rules", rules);
	return o;
}
