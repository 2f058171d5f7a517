// SPDX-License-Identifier: BSD-2-Clause
#include "pairing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct entry {
	struct entry *hnext; /* bucket chain */
	struct entry *older, *newer; /* age list */
	uint64_t seq;
	int64_t ts_us;
	unsigned flags;
	uint64_t hash;
	size_t tool_at; /* 0: no tool; else its offset in key[] */
	char key[]; /* the key, NUL, the tool, NUL */
};

struct mw_pairing {
	uint64_t k0, k1; /* hash key */
	struct entry **buckets;
	size_t nbuckets;
	size_t count, max;
	struct entry *oldest, *newest;
	/* keys whose request may still be answered, their entry gone
	 * (dropped for room, put over, given up: see pairing.h) */
	uint64_t *dropped; /* DROPPED_BITS bits */
	size_t ndropped;
};

#define DROPPED_BITS (1u << 20)
#define DROPPED_PROBES 3

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)       \
	do {                            \
		v0 += v1;               \
		v1 = rotl(v1, 13) ^ v0; \
		v0 = rotl(v0, 32);      \
		v2 += v3;               \
		v3 = rotl(v3, 16) ^ v2; \
		v0 += v3;               \
		v3 = rotl(v3, 21) ^ v0; \
		v2 += v1;               \
		v1 = rotl(v1, 17) ^ v2; \
		v2 = rotl(v2, 32);      \
	} while (0)

/*
 * SipHash-2-4 with a key drawn at start: clients choose session ids and
 * request ids, so with a public hash they could aim every key at one
 * bucket and make each look-up walk them all.
 */
static uint64_t keyed_hash(const struct mw_pairing *p, const char *s)
{
	uint64_t v0 = 0x736f6d6570736575ULL ^ p->k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ p->k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ p->k0;
	uint64_t v3 = 0x7465646279746573ULL ^ p->k1;
	size_t len = strlen(s), i = 0;
	uint64_t m, b = (uint64_t)len << 56;

	for (; i + 8 <= len; i += 8) {
		memcpy(&m, s + i, 8);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
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
	p->dropped = calloc(DROPPED_BITS / 64, sizeof(*p->dropped));
	if (!p->dropped) {
		free(p->buckets);
		free(p);
		return -ENOMEM;
	}
	if (getrandom(&p->k0, sizeof(p->k0), 0) != sizeof(p->k0) ||
	    getrandom(&p->k1, sizeof(p->k1), 0) != sizeof(p->k1)) {
		free(p->dropped);
		free(p->buckets);
		free(p);
		return -EIO;
	}
	*out = p;
	return 0;
}

/* Bit i of the filter for hash h: 20 bits of it each. */
static size_t dropped_bit(uint64_t h, int i)
{
	return (size_t)(h >> (20 * i)) & (DROPPED_BITS - 1);
}

static void remember_dropped(struct mw_pairing *p, uint64_t h)
{
	for (int i = 0; i < DROPPED_PROBES; i++) {
		size_t b = dropped_bit(h, i);

		p->dropped[b / 64] |= (uint64_t)1 << (b % 64);
	}
	p->ndropped++;
}

static bool was_dropped(const struct mw_pairing *p, uint64_t h)
{
	if (!p->ndropped)
		return false;
	/* full: a key it lost would read as never dropped */
	if (p->ndropped >= p->max)
		return true;
	for (int i = 0; i < DROPPED_PROBES; i++) {
		size_t b = dropped_bit(h, i);

		if (!(p->dropped[b / 64] & ((uint64_t)1 << (b % 64))))
			return false;
	}
	return true;
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

static struct entry *find(const struct mw_pairing *p, const char *key,
			  uint64_t h)
{
	for (struct entry *e = p->buckets[h & (p->nbuckets - 1)]; e;
	     e = e->hnext)
		if (e->hash == h && !strcmp(e->key, key))
			return e;
	return NULL;
}

int mw_pairing_put(struct mw_pairing *p, const char *key, uint64_t seq,
		   int64_t ts_us, unsigned flags, const char *tool)
{
	uint64_t h = keyed_hash(p, key);
	size_t kl = strlen(key), tl = tool ? strlen(tool) + 1 : 0;
	struct entry *e = find(p, key, h);

	flags &= ~MW_PAIR_AMBIGUOUS;
	if (e || was_dropped(p, h))
		flags |= MW_PAIR_AMBIGUOUS;
	if (e) {
		/* the request replaced may still be answered, later */
		remember_dropped(p, e->hash);
		unlink_entry(p, e);
	}
	if (p->count == p->max) {
		remember_dropped(p, p->oldest->hash);
		unlink_entry(p, p->oldest);
	}
	e = malloc(sizeof(*e) + kl + 1 + tl);
	if (!e)
		return -ENOMEM;
	memcpy(e->key, key, kl + 1);
	e->tool_at = tool ? kl + 1 : 0;
	if (tool)
		memcpy(e->key + kl + 1, tool, tl);
	e->hash = h;
	e->seq = seq;
	e->ts_us = ts_us;
	e->flags = flags;
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
		     int64_t *ts_us, unsigned *flags, char **tool)
{
	struct entry *e = find(p, key, keyed_hash(p, key));

	if (!e)
		return false;
	*seq = e->seq;
	*ts_us = e->ts_us;
	if (flags)
		*flags = e->flags;
	if (tool)
		*tool = e->tool_at ? strdup(e->key + e->tool_at) : NULL;
	unlink_entry(p, e);
	return true;
}

bool mw_pairing_drop(struct mw_pairing *p, const char *key, uint64_t seq,
		     bool may_be_answered)
{
	struct entry *e = find(p, key, keyed_hash(p, key));

	if (!e || e->seq != seq)
		return false;
	if (may_be_answered)
		remember_dropped(p, e->hash);
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
	free(p->dropped);
	free(p->buckets);
	free(p);
}
