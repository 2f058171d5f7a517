/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The built-in detectors of masking (mask.h): where in a text a card
 * number, an SSN, a key... is, each value validated (Luhn and issuer
 * ranges, SSN areas, IBAN mod-97, a JWT header with "alg", ...).
 *
 * Hand-written scanners rather than Vectorscan, which DESIGN.md names:
 * Debian 12's Vectorscan (5.4.9) misses matches (a pattern such as
 * [a-z]+@ on text with a long run of one letter before the match, in
 * SOM and non-SOM modes alike), and a missed value is a leaked value.
 * The scanners are also faster: they anchor on what the C library finds
 * with vector instructions (memchr, memmem, a digit search).
 */
#ifndef MW_DETECT_H
#define MW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The built-in detectors, in this order (their bit in a detector set). */
enum mw_mask_builtin {
	MW_DET_CARD, /* payment card: Luhn and issuer ranges */
	MW_DET_SSN, /* US SSN, AAA-GG-SSSS: invalid areas, groups excluded */
	MW_DET_IBAN, /* country length and mod-97 */
	MW_DET_EMAIL,
	MW_DET_PHONE, /* +E.164 with separators, NANP with separators */
	MW_DET_IPV4,
	MW_DET_IPV6,
	MW_DET_AWS_ACCESS_KEY,
	MW_DET_AWS_SECRET_KEY, /* 40 chars near "aws" or "secret" */
	MW_DET_GITHUB_TOKEN,
	MW_DET_GITLAB_TOKEN,
	MW_DET_SLACK_TOKEN,
	MW_DET_JWT,
	MW_DET_PEM_PRIVATE_KEY,
	MW_DET_BEARER_TOKEN, /* the token after "Bearer " */
	MW_DET_URL_CREDENTIALS, /* user:password in scheme://user:pw@host */
	MW_DET_N_BUILTIN
};

/* A value found: [start, end) of detector det. Non-zero: stop. */
typedef int (*mw_detect_fn)(void *arg, unsigned det, size_t start, size_t end);

/*
 * Reports every value of the detectors in set that s holds (several may
 * overlap: the caller chooses). Returns 1 when fn stopped it, 0, or -1
 * out of memory.
 */
int mw_detect(const char *s, size_t len, uint64_t set, mw_detect_fn fn,
	      void *arg);

/* Validators for custom detectors, over the letters and digits. */
bool mw_detect_luhn(const char *s, size_t start, size_t end);
bool mw_detect_mod97(const char *s, size_t start, size_t end);
/* Whether a value's hash token is over its letters and digits only. */
bool mw_detect_hash_alnum(unsigned det);

#endif
