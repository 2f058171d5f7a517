// SPDX-License-Identifier: BSD-2-Clause
#include "pairing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *hnext; /* bucket chain */
	struct entry *older, *newer; /* age list */
	uint64_t seq;
	int64_t ts_us;
	uint32_t hash;
	char key[];
};

struct mw_pairing {
	struct entry **buckets;
	size_t nbuckets;
	size_t count, max;
	struct entry *oldest, *newest;
};

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

int mw_pairing_new(struct mw_pairing **out, size_t max_entries)
{
	struct mw_pairing *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	if (max_entries == 0)
		max_entries = 1;
	p->nbuckets = 1;
	while (p->nbuckets < max_entries)
		p->nbuckets <<= 1;
	p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
	if (!p->buckets) {
		free(p);
		return -ENOMEM;
	}
	p->max = max_entries;
	*out = p;
	return 0;
}

static void unlink_entry(struct mw_pairing *p, struct entry *e)
{
	struct entry **pp = &p->buckets[e->hash & (p->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->older)
		e->older->newer = e->newer;
	else
		p->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		p->newest = e->older;
	p->count--;
	free(e);
}

static struct entry *find(struct mw_pairing *p, const char *key, uint32_t h)
{
	for (struct entry *e = p->buckets[h & (p->nbuckets - 1)]; e;
	     e = e->hnext)
		if (e->hash == h && !strcmp(e->key, key))
			return e;
	return NULL;
}

int mw_pairing_put(struct mw_pairing *p, const char *key, uint64_t seq,
		   int64_t ts_us)
{
	uint32_t h = fnv1a(key);
	size_t kl = strlen(key);
	struct entry *e = find(p, key, h);

	if (e)
		unlink_entry(p, e);
	if (p->count == p->max)
		unlink_entry(p, p->oldest);
	e = malloc(sizeof(*e) + kl + 1);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, kl + 1);
	e->hash = h;
	e->seq = seq;
	e->ts_us = ts_us;
	e->hnext = p->buckets[h & (p->nbuckets - 1)];
	p->buckets[h & (p->nbuckets - 1)] = e;
	e->older = p->newest;
	e->newer = NULL;
	if (p->newest)
		p->newest->newer = e;
	else
		p->oldest = e;
	p->newest = e;
	p->count++;
	return 0;
}

bool mw_pairing_take(struct mw_pairing *p, const char *key, uint64_t *seq,
		     int64_t *ts_us)
{
	struct entry *e = find(p, key, fnv1a(key));

	if (!e)
		return false;
	*seq = e->seq;
	*ts_us = e->ts_us;
	unlink_entry(p, e);
	return true;
}

size_t mw_pairing_count(const struct mw_pairing *p)
{
	return p->count;
}

void mw_pairing_free(struct mw_pairing *p)
{
	if (!p)
		return;
	while (p->oldest)
		unlink_entry(p, p->oldest);
	free(p->buckets);
	free(p);
}
