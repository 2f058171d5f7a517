/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Path-aware globs, compiled once and matched without allocation:
 *   *      any run of characters except '/'
 *   **     only as a whole path segment (between slashes, or at either
 *          end): zero or more whole segments
 *   ?      one character (a UTF-8 sequence) except '/'
 *   [a-z]  one ASCII character of a set; [!a-z] or [^a-z]: any other
 *          character except '/'
 *   \c     c itself
 * Everything else matches itself, byte for byte (case-sensitive). Matching
 * costs at most (segments of text x segments of pattern) segment matches,
 * each at most (text length x pattern length): patterns are bounded.
 */
#ifndef MW_GLOB_H
#define MW_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#define MW_GLOB_MAX_LEN 512

struct mw_glob;

/* 0, or -1 with a reason in err (the pattern is not repeated there). */
int mw_glob_compile(const char *pattern, size_t len, struct mw_glob **out,
		    char *err, size_t errlen);
void mw_glob_free(struct mw_glob *g);

bool mw_glob_match(const struct mw_glob *g, const char *s, size_t len);

/*
 * A pattern without wildcards matches one string only: that string
 * (escapes removed), or NULL when the pattern has wildcards.
 */
const char *mw_glob_literal(const struct mw_glob *g, size_t *len);

#endif
