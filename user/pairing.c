// SPDX-License-Identifier: BSD-2-Clause
#include "pairing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_hash.h"
#include "loop.h" /* container_of */

struct owner;

struct entry {
	struct entry *hnext; /* bucket chain */
	struct age_link age; /* in the table's list */
	struct owner *owner;
	struct age_link owner_age; /* in its owner's list */
	uint64_t seq;
	int64_t ts_us;
	unsigned flags;
	uint64_t hash;
	size_t scope_len; /* key[0..scope_len) is its scope */
	size_t tool_at; /* 0: no tool; else its offset in key[] */
	char key[]; /* the key, NUL, the tool, NUL */
};

/* Whose requests wait: one user's may fill max_per_owner of the table. */
struct owner {
	struct owner *next; /* bucket chain */
	uint32_t uid;
	size_t count;
	struct age_list entries;
};

#define OWNER_BUCKETS 256

/* A scope's dropped keys (their hashes), while it lives. */
struct ledger {
	struct ledger *hnext; /* bucket chain */
	struct age_link age; /* idle longest first */
	uint64_t hash; /* of the scope */
	uint64_t *keys; /* open addressing, 0 free; cap a power of two */
	size_t nkeys, cap;
	bool tainted; /* past MW_PAIR_SCOPE_DROPS_MAX: every key */
	size_t scope_len;
	char scope[];
};

struct mw_pairing {
	struct mw_hash_key key; /* clients choose session and request ids */
	struct entry **buckets;
	size_t nbuckets;
	size_t count, max;
	struct age_list entries;
	struct owner *owners[OWNER_BUCKETS];
	size_t owner_max; /* entries one owner may have waiting */
	/* scopes with keys whose request may still be answered, their
	 * entry gone (dropped for room, put over, given up: see pairing.h) */
	struct ledger **lbuckets; /* nbuckets of them */
	struct age_list ledgers;
	size_t nledgers, max_ledgers;
	size_t nremembered; /* keys in all ledgers */
	/* scopes whose ledger was given up for room: DROPPED_BITS bits */
	uint64_t *forgotten;
};

#define DROPPED_BITS (1u << 20)
#define DROPPED_PROBES 3

static uint64_t keyed_hash(const struct mw_pairing *p, const char *s,
			   size_t len)
{
	return mw_keyed_hash(&p->key, s, len);
}

int mw_pairing_new(struct mw_pairing **out, size_t max_entries,
		   size_t max_per_owner)
{
	struct mw_pairing *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	if (max_entries == 0)
		max_entries = 1;
	p->nbuckets = 1;
	while (p->nbuckets < max_entries)
		p->nbuckets <<= 1;
	p->max = max_entries;
	p->max_ledgers = max_entries / 4 ? max_entries / 4 : 1;
	p->owner_max = max_per_owner && max_per_owner < max_entries
			       ? max_per_owner
			       : max_entries;
	p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
	p->lbuckets = calloc(p->nbuckets, sizeof(*p->lbuckets));
	p->forgotten = calloc(DROPPED_BITS / 64, sizeof(*p->forgotten));
	if (!p->buckets || !p->lbuckets || !p->forgotten)
		goto fail;
	if (mw_hash_key_new(&p->key)) {
		mw_pairing_free(p);
		return -EIO;
	}
	*out = p;
	return 0;
fail:
	mw_pairing_free(p);
	return -ENOMEM;
}

/* ---- forgotten scopes: a Bloom filter ------------------------------------ */

/* Bit i of the filter for hash h: 20 bits of it each. */
static size_t forgotten_bit(uint64_t h, int i)
{
	return (size_t)(h >> (20 * i)) & (DROPPED_BITS - 1);
}

static void forget_scope(struct mw_pairing *p, uint64_t scope_hash)
{
	for (int i = 0; i < DROPPED_PROBES; i++) {
		size_t b = forgotten_bit(scope_hash, i);

		p->forgotten[b / 64] |= (uint64_t)1 << (b % 64);
	}
}

/* No false negative: a scope forgotten reads as forgotten for good. */
static bool was_forgotten(const struct mw_pairing *p, uint64_t scope_hash)
{
	for (int i = 0; i < DROPPED_PROBES; i++) {
		size_t b = forgotten_bit(scope_hash, i);

		if (!(p->forgotten[b / 64] & ((uint64_t)1 << (b % 64))))
			return false;
	}
	return true;
}

/* ---- ledgers: a live scope's dropped keys -------------------------------- */

static struct ledger *ledger_find(const struct mw_pairing *p, const char *scope,
				  size_t len, uint64_t h)
{
	for (struct ledger *l = p->lbuckets[h & (p->nbuckets - 1)]; l;
	     l = l->hnext)
		if (l->hash == h && l->scope_len == len &&
		    !memcmp(l->scope, scope, len))
			return l;
	return NULL;
}

/* The scope idle longest, or NULL. */
static struct ledger *ledger_idlest(const struct mw_pairing *p)
{
	return p->ledgers.oldest
		       ? container_of(p->ledgers.oldest, struct ledger, age)
		       : NULL;
}

static void ledger_touch(struct mw_pairing *p, struct ledger *l)
{
	if (p->ledgers.newest == &l->age)
		return;
	age_unlink(&p->ledgers, &l->age);
	age_push(&p->ledgers, &l->age);
}

static void ledger_free(struct mw_pairing *p, struct ledger *l)
{
	struct ledger **pp = &p->lbuckets[l->hash & (p->nbuckets - 1)];

	while (*pp != l)
		pp = &(*pp)->hnext;
	*pp = l->hnext;
	age_unlink(&p->ledgers, &l->age);
	p->nledgers--;
	p->nremembered -= l->nkeys;
	free(l->keys);
	free(l);
}

/* For room: the scope's keys are no longer known one by one. */
static void ledger_give_up(struct mw_pairing *p, struct ledger *l)
{
	forget_scope(p, l->hash);
	ledger_free(p, l);
}

static struct ledger *ledger_new(struct mw_pairing *p, const char *scope,
				 size_t len, uint64_t h)
{
	struct ledger *l;

	if (p->nledgers >= p->max_ledgers && ledger_idlest(p))
		ledger_give_up(p, ledger_idlest(p));
	l = calloc(1, sizeof(*l) + len);
	if (!l)
		return NULL;
	memcpy(l->scope, scope, len);
	l->scope_len = len;
	l->hash = h;
	/* forgotten once, the scope's ids are not known one by one again */
	l->tainted = was_forgotten(p, h);
	l->hnext = p->lbuckets[h & (p->nbuckets - 1)];
	p->lbuckets[h & (p->nbuckets - 1)] = l;
	age_push(&p->ledgers, &l->age);
	p->nledgers++;
	return l;
}

/* 0 marks a free slot: a key hashed to 0 is kept as 1 (a false positive
 * at worst, which only marks an entry it need not). */
static uint64_t slot_value(uint64_t key_hash)
{
	return key_hash ? key_hash : 1;
}

static bool ledger_has(const struct ledger *l, uint64_t key_hash)
{
	uint64_t v = slot_value(key_hash);

	if (!l->cap)
		return false;
	for (size_t i = v & (l->cap - 1);; i = (i + 1) & (l->cap - 1)) {
		if (!l->keys[i])
			return false;
		if (l->keys[i] == v)
			return true;
	}
}

static void ledger_place(uint64_t *keys, size_t cap, uint64_t v)
{
	size_t i = v & (cap - 1);

	while (keys[i] && keys[i] != v)
		i = (i + 1) & (cap - 1);
	keys[i] = v;
}

static void ledger_taint(struct mw_pairing *p, struct ledger *l)
{
	p->nremembered -= l->nkeys;
	free(l->keys);
	l->keys = NULL;
	l->nkeys = l->cap = 0;
	l->tainted = true;
}

/* Keeps the table at most half full; false when out of memory. */
static bool ledger_make_room(struct ledger *l)
{
	size_t cap = l->cap ? l->cap * 2 : 8;
	uint64_t *keys;

	if (2 * (l->nkeys + 1) <= l->cap)
		return true;
	keys = calloc(cap, sizeof(*keys));
	if (!keys)
		return false;
	for (size_t i = 0; i < l->cap; i++)
		if (l->keys[i])
			ledger_place(keys, cap, l->keys[i]);
	free(l->keys);
	l->keys = keys;
	l->cap = cap;
	return true;
}

/* The key of entry e may still be answered, e gone. */
static void remember_dropped(struct mw_pairing *p, const struct entry *e)
{
	uint64_t h = keyed_hash(p, e->key, e->scope_len);
	struct ledger *l = ledger_find(p, e->key, e->scope_len, h);

	if (!l)
		l = ledger_new(p, e->key, e->scope_len, h);
	if (!l) {
		/* out of memory: every key of the scope is marked */
		forget_scope(p, h);
		return;
	}
	ledger_touch(p, l);
	if (l->tainted || ledger_has(l, e->hash))
		return;
	if (l->nkeys >= MW_PAIR_SCOPE_DROPS_MAX || !ledger_make_room(l)) {
		ledger_taint(p, l);
		return;
	}
	ledger_place(l->keys, l->cap, slot_value(e->hash));
	l->nkeys++;
	p->nremembered++;
	while (p->nremembered > p->max && ledger_idlest(p) != l)
		ledger_give_up(p, ledger_idlest(p));
	if (p->nremembered > p->max)
		ledger_taint(p, l);
}

static bool was_dropped(struct mw_pairing *p, const char *key, size_t scope_len,
			uint64_t key_hash)
{
	uint64_t h = keyed_hash(p, key, scope_len);
	struct ledger *l = ledger_find(p, key, scope_len, h);

	if (!l)
		return was_forgotten(p, h);
	ledger_touch(p, l);
	return l->tainted || ledger_has(l, key_hash);
}

void mw_pairing_end_scope(struct mw_pairing *p, const char *scope,
			  size_t scope_len)
{
	struct ledger *l;

	if (!p)
		return;
	l = ledger_find(p, scope, scope_len, keyed_hash(p, scope, scope_len));
	if (l)
		ledger_free(p, l);
}

size_t mw_pairing_scopes(const struct mw_pairing *p)
{
	return p->nledgers;
}

/* ---- waiting requests ---------------------------------------------------- */

static struct owner **owner_slot(struct mw_pairing *p, uint32_t uid)
{
	struct owner **o = &p->owners[uid % OWNER_BUCKETS];

	while (*o && (*o)->uid != uid)
		o = &(*o)->next;
	return o;
}

static void owner_unlink(struct mw_pairing *p, struct entry *e)
{
	struct owner *o = e->owner;

	age_unlink(&o->entries, &e->owner_age);
	if (--o->count == 0) {
		struct owner **slot = owner_slot(p, o->uid);

		*slot = o->next;
		free(o);
	}
}

static void unlink_entry(struct mw_pairing *p, struct entry *e)
{
	struct entry **pp = &p->buckets[e->hash & (p->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	owner_unlink(p, e);
	age_unlink(&p->entries, &e->age);
	p->count--;
	free(e);
}

static struct entry *oldest_entry(const struct mw_pairing *p)
{
	return container_of(p->entries.oldest, struct entry, age);
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

int mw_pairing_put(struct mw_pairing *p, const char *key, size_t scope_len,
		   uint32_t owner, uint64_t seq, int64_t ts_us, unsigned flags,
		   const char *tool)
{
	size_t kl, tl;
	uint64_t h;
	struct entry *e;
	struct owner **slot, *o;

	/* a name longer than any tool's is not kept (thousands of entries
	 * of one user, each up to a body's size): its answer gets every
	 * tool's rules */
	if (tool && strlen(tool) > MW_PAIR_TOOL_MAX) {
		tool = NULL;
		flags |= MW_PAIR_ANY_TOOL;
	}
	kl = strlen(key);
	tl = tool ? strlen(tool) + 1 : 0;
	h = keyed_hash(p, key, kl);
	e = find(p, key, h);
	if (scope_len > kl)
		return -EINVAL;
	flags &= ~MW_PAIR_AMBIGUOUS;
	if (e || was_dropped(p, key, scope_len, h))
		flags |= MW_PAIR_AMBIGUOUS;
	if (e) {
		/* the request replaced may still be answered, later */
		remember_dropped(p, e);
		unlink_entry(p, e);
	}
	/* one user's flood drops its own requests, not the others' */
	slot = owner_slot(p, owner);
	if (*slot && (*slot)->count >= p->owner_max) {
		struct entry *victim = container_of((*slot)->entries.oldest,
						    struct entry, owner_age);

		remember_dropped(p, victim);
		unlink_entry(p, victim);
		slot = owner_slot(p, owner);
	}
	if (p->count == p->max) {
		struct entry *oldest = oldest_entry(p);

		remember_dropped(p, oldest);
		unlink_entry(p, oldest);
		slot = owner_slot(p, owner);
	}
	if (!*slot) {
		*slot = calloc(1, sizeof(**slot));
		if (!*slot)
			return -ENOMEM;
		(*slot)->uid = owner;
	}
	o = *slot;
	e = malloc(sizeof(*e) + kl + 1 + tl);
	if (!e) {
		if (!o->count) {
			*slot = o->next;
			free(o);
		}
		return -ENOMEM;
	}
	memcpy(e->key, key, kl + 1);
	e->tool_at = tool ? kl + 1 : 0;
	if (tool)
		memcpy(e->key + kl + 1, tool, tl);
	e->hash = h;
	e->scope_len = scope_len;
	e->seq = seq;
	e->ts_us = ts_us;
	e->flags = flags;
	e->hnext = p->buckets[h & (p->nbuckets - 1)];
	p->buckets[h & (p->nbuckets - 1)] = e;
	age_push(&p->entries, &e->age);
	p->count++;
	e->owner = o;
	age_push(&o->entries, &e->owner_age);
	o->count++;
	return 0;
}

bool mw_pairing_take(struct mw_pairing *p, const char *key, uint64_t *seq,
		     int64_t *ts_us, unsigned *flags, char **tool)
{
	struct entry *e = find(p, key, keyed_hash(p, key, strlen(key)));

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

bool mw_pairing_waits(const struct mw_pairing *p, const char *key)
{
	return find(p, key, keyed_hash(p, key, strlen(key))) != NULL;
}

bool mw_pairing_drop(struct mw_pairing *p, const char *key, uint64_t seq,
		     bool may_be_answered)
{
	struct entry *e = find(p, key, keyed_hash(p, key, strlen(key)));

	if (!e || e->seq != seq)
		return false;
	if (may_be_answered)
		remember_dropped(p, e);
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
	while (p->entries.oldest)
		unlink_entry(p, oldest_entry(p));
	while (ledger_idlest(p))
		ledger_free(p, ledger_idlest(p));
	free(p->forgotten);
	free(p->lbuckets);
	free(p->buckets);
	free(p);
}
