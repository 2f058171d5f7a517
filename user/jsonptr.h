/* SPDX-License-Identifier: BSD-2-Clause */
/* JSON pointers (RFC 6901), parsed once, resolved without allocation. */
#ifndef MW_JSONPTR_H
#define MW_JSONPTR_H

#include <stddef.h>

#include <jansson.h>

#include "json_text.h"

#define MW_JSONPTR_MAX_LEN 512
#define MW_JSONPTR_MAX_TOKENS 32

struct mw_jsonptr;

/*
 * "" is the whole document; otherwise "/" then tokens separated by "/",
 * with "~1" for '/' and "~0" for '~'. 0, or -1 with a reason in err.
 */
int mw_jsonptr_compile(const char *text, size_t len, struct mw_jsonptr **out,
		       char *err, size_t errlen);
void mw_jsonptr_free(struct mw_jsonptr *p);

/*
 * The value root points to, or NULL when there is none: a missing member,
 * an index past the end or "-", a token that is not an index into an
 * array, a scalar on the way.
 */
const json_t *mw_jsonptr_get(const struct mw_jsonptr *p, const json_t *root);

/*
 * The same; *blocker is the scalar a token met on the way, or the object
 * that lacks a token's member but holds one spelled like it in another
 * case (mw_json_key_variant: a server may read that one), no value then;
 * else NULL. cache (may be NULL) is mw_json_key_variant's.
 */
const json_t *mw_jsonptr_get_blocked(const struct mw_jsonptr *p,
				     const json_t *root, const json_t **blocker,
				     struct mw_json_fold_cache *cache);

/* The pointer as written. */
const char *mw_jsonptr_text(const struct mw_jsonptr *p);

#endif
