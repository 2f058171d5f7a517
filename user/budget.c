// SPDX-License-Identifier: BSD-2-Clause
#include "budget.h"

#include <stdlib.h>
#include <string.h>

void mw_budget_init(struct mw_budget *b, size_t limit, size_t per_owner)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit;
	b->per_owner = per_owner;
	b->reserve = limit / 64;
}

void mw_budget_free(struct mw_budget *b)
{
	for (size_t i = 0; i < MW_BUDGET_BUCKETS; i++)
		while (b->bucket[i]) {
			struct mw_budget_owner *o = b->bucket[i];

			b->bucket[i] = o->next;
			free(o);
		}
}

static struct mw_budget_owner **slot_of(struct mw_budget *b, uint32_t owner)
{
	/* uids are dense: a multiplicative hash spreads neighbours */
	return &b->bucket[(owner * 2654435761u) >> 24];
}

struct mw_budget_owner *mw_budget_join(struct mw_budget *b, uint32_t owner)
{
	struct mw_budget_owner **slot = slot_of(b, owner), *o;

	for (o = *slot; o; o = o->next)
		if (o->owner == owner)
			break;
	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return NULL;
		o->owner = owner;
		o->next = *slot;
		*slot = o;
	}
	o->refs++;
	return o;
}

void mw_budget_leave(struct mw_budget *b, struct mw_budget_owner *o,
		     size_t held)
{
	struct mw_budget_owner **p;

	mw_budget_move(b, o, &held, 0);
	if (--o->refs)
		return;
	for (p = slot_of(b, o->owner); *p != o; p = &(*p)->next)
		;
	*p = o->next;
	free(o);
}

bool mw_budget_allows(const struct mw_budget *b,
		      const struct mw_budget_owner *o, size_t more)
{
	if (o->used > b->per_owner || more > b->per_owner - o->used)
		return false;
	if (b->used <= b->limit && more <= b->limit - b->used)
		return true;
	return o->used <= b->reserve && more <= b->reserve - o->used;
}

void mw_budget_move(struct mw_budget *b, struct mw_budget_owner *o,
		    size_t *held, size_t now)
{
	b->used = b->used - *held + now;
	o->used = o->used - *held + now;
	*held = now;
}
