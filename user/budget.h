/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The bytes of messages the daemon holds (limits.max_buffered_bytes), in
 * total and per owner (a uid): each connection's buffers are bounded, but
 * max_connections of them are not a bound a host can afford, and one user's
 * connections must not take what everyone's need.
 */
#ifndef MW_BUDGET_H
#define MW_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_BUDGET_BUCKETS 256

struct mw_budget_owner {
	uint32_t owner;
	unsigned refs; /* holders (connections) */
	size_t used;
	struct mw_budget_owner *next;
};

struct mw_budget {
	size_t limit, per_owner;
	size_t reserve; /* an owner holding less is not refused for others */
	size_t used;
	struct mw_budget_owner *bucket[MW_BUDGET_BUCKETS];
};

void mw_budget_init(struct mw_budget *b, size_t limit, size_t per_owner);
/* Frees the owners left (none, once every holder left). */
void mw_budget_free(struct mw_budget *b);

/* A new holder of owner's: NULL when out of memory. */
struct mw_budget_owner *mw_budget_join(struct mw_budget *b, uint32_t owner);
/* The holder is gone, and the held bytes with it. */
void mw_budget_leave(struct mw_budget *b, struct mw_budget_owner *o,
		     size_t held);

/*
 * Whether o's holder may grow what it holds by more bytes: within the
 * owner's share, and within the limit unless the owner holds less than a
 * reserve (limit / 64): a user holding little is not refused for what
 * others hold, and the total then passes the limit by a reserve a user.
 */
bool mw_budget_allows(const struct mw_budget *b,
		      const struct mw_budget_owner *o, size_t more);
/*
 * A holder of o's holds now bytes instead of *held (recorded whatever the
 * limits: allows() is asked before a growth that may be refused).
 */
void mw_budget_move(struct mw_budget *b, struct mw_budget_owner *o,
		    size_t *held, size_t now);

#endif
