/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Hash tables whose keys peers choose (session ids, request ids): a hash
 * keyed at start, so that nobody can aim every key at one bucket and make
 * each look-up walk them all; and lists in age order for their eviction.
 */
#ifndef MW_KEYED_HASH_H
#define MW_KEYED_HASH_H

#include <stddef.h>
#include <stdint.h>

struct mw_hash_key {
	uint64_t k0, k1;
};

/* A key from the kernel's random source: 0, or -EIO. */
int mw_hash_key_new(struct mw_hash_key *k);

/* SipHash-2-4 of s[0..len) under k. */
uint64_t mw_keyed_hash(const struct mw_hash_key *k, const void *s, size_t len);

/* Intrusive lists in age order, oldest first: every push or touch makes
 * its member the newest. */
struct age_link {
	struct age_link *older, *newer;
};

struct age_list {
	struct age_link *oldest, *newest;
};

static inline void age_unlink(struct age_list *a, struct age_link *n)
{
	if (n->older)
		n->older->newer = n->newer;
	else
		a->oldest = n->newer;
	if (n->newer)
		n->newer->older = n->older;
	else
		a->newest = n->older;
}

static inline void age_push(struct age_list *a, struct age_link *n)
{
	n->older = a->newest;
	n->newer = NULL;
	if (a->newest)
		a->newest->newer = n;
	else
		a->oldest = n;
	a->newest = n;
}

#endif
