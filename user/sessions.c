// SPDX-License-Identifier: BSD-2-Clause
#include "sessions.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_hash.h"
#include "loop.h" /* container_of */

/*
 * Two pools: sessions the daemon saw opened, and sessions first named by
 * a request (claimed). Names cost a client nothing, openings a server
 * round trip each: claims never push an opened session out. In each pool
 * one user holds an eighth at most, past which its own oldest goes, so
 * that no user can push another's session out by naming or opening many.
 */
enum pool { POOL_OPENED, POOL_CLAIMED, POOLS };

struct owner;

struct session {
	struct session *hnext; /* bucket chain */
	struct age_link age; /* in its pool, idle longest first */
	struct age_link owner_age; /* in its owner's list of its pool */
	struct owner *owner;
	uint64_t hash;
	struct mw_session_owner who;
	enum pool pool;
	size_t key_len;
	char key[]; /* server, NUL, session id */
};

/* One user's sessions, per pool. */
struct owner {
	struct owner *next; /* bucket chain */
	uint32_t uid;
	size_t count[POOLS];
	struct age_list lists[POOLS];
};

#define OWNER_BUCKETS 256

struct mw_sessions {
	struct mw_hash_key hkey; /* clients choose the ids they name */
	struct session **buckets;
	size_t nbuckets, count[POOLS], max[POOLS], owner_max[POOLS];
	struct age_list all[POOLS];
	struct owner *owners[OWNER_BUCKETS];
};

int mw_sessions_new(struct mw_sessions **out, size_t max)
{
	struct mw_sessions *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->max[POOL_OPENED] = max ? max : 1;
	s->max[POOL_CLAIMED] = max / 4 ? max / 4 : 1;
	for (int p = 0; p < POOLS; p++)
		s->owner_max[p] = s->max[p] / 8 ? s->max[p] / 8 : 1;
	s->nbuckets = 1;
	while (s->nbuckets < s->max[POOL_OPENED] + s->max[POOL_CLAIMED])
		s->nbuckets <<= 1;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		mw_sessions_free(s);
		return -ENOMEM;
	}
	if (mw_hash_key_new(&s->hkey)) {
		mw_sessions_free(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void mw_sessions_free(struct mw_sessions *s)
{
	struct age_link *a, *next;

	if (!s)
		return;
	for (int p = 0; p < POOLS; p++)
		for (a = s->all[p].oldest; a; a = next) {
			next = a->newer;
			free(container_of(a, struct session, age));
		}
	for (size_t i = 0; i < OWNER_BUCKETS; i++)
		while (s->owners[i]) {
			struct owner *o = s->owners[i];

			s->owners[i] = o->next;
			free(o);
		}
	free(s->buckets);
	free(s);
}

size_t mw_sessions_count(const struct mw_sessions *s)
{
	return s->count[POOL_OPENED] + s->count[POOL_CLAIMED];
}

static struct owner **owner_slot(struct mw_sessions *s, uint32_t uid)
{
	struct owner **p = &s->owners[uid % OWNER_BUCKETS];

	while (*p && (*p)->uid != uid)
		p = &(*p)->next;
	return p;
}

/* "server\0sid" into a new buffer of *len bytes; NULL without memory. */
static char *make_key(const char *server, const char *sid, size_t *len)
{
	size_t sl = strlen(server), il = strlen(sid);
	char *k = malloc(sl + 1 + il);

	if (!k)
		return NULL;
	memcpy(k, server, sl + 1);
	memcpy(k + sl + 1, sid, il);
	*len = sl + 1 + il;
	return k;
}

static struct session **slot_of(struct mw_sessions *s, const char *key,
				size_t len, uint64_t h)
{
	struct session **p = &s->buckets[h & (s->nbuckets - 1)];

	for (; *p; p = &(*p)->hnext)
		if ((*p)->hash == h && (*p)->key_len == len &&
		    !memcmp((*p)->key, key, len))
			break;
	return p;
}

/* Takes e out of its pool and its owner's list (the owner freed when it
 * holds nothing more). */
static void unlink_pool(struct mw_sessions *s, struct session *e)
{
	struct owner *o = e->owner;

	age_unlink(&s->all[e->pool], &e->age);
	s->count[e->pool]--;
	age_unlink(&o->lists[e->pool], &e->owner_age);
	o->count[e->pool]--;
	if (!o->count[POOL_OPENED] && !o->count[POOL_CLAIMED]) {
		struct owner **p = owner_slot(s, o->uid);

		*p = o->next;
		free(o);
	}
	e->owner = NULL;
}

static void forget(struct mw_sessions *s, struct session *e)
{
	struct session **p = slot_of(s, e->key, e->key_len, e->hash);

	*p = e->hnext;
	unlink_pool(s, e);
	free(e);
}

/*
 * Puts e (out of any pool) in pool for who: past the user's share of the
 * pool its own oldest there goes, else past the pool's size the pool's
 * oldest. 0 or -ENOMEM (e is then in no pool: the caller forgets it).
 */
static int link_pool(struct mw_sessions *s, struct session *e, enum pool pool,
		     struct mw_session_owner who)
{
	struct owner **slot = owner_slot(s, who.uid), *o = *slot;

	if (!o) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		o->uid = who.uid;
		*slot = o;
	}
	if (o->count[pool] >= s->owner_max[pool])
		forget(s, container_of(o->lists[pool].oldest, struct session,
				       owner_age));
	else if (s->count[pool] >= s->max[pool])
		forget(s,
		       container_of(s->all[pool].oldest, struct session, age));
	/* forgetting the user's last session freed its record */
	slot = owner_slot(s, who.uid);
	if (!*slot) {
		o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		o->uid = who.uid;
		*slot = o;
	}
	o = *slot;
	e->owner = o;
	e->who = who;
	e->pool = pool;
	age_push(&s->all[pool], &e->age);
	s->count[pool]++;
	age_push(&o->lists[pool], &e->owner_age);
	o->count[pool]++;
	return 0;
}

static void touch(struct mw_sessions *s, struct session *e)
{
	age_unlink(&s->all[e->pool], &e->age);
	age_push(&s->all[e->pool], &e->age);
	age_unlink(&e->owner->lists[e->pool], &e->owner_age);
	age_push(&e->owner->lists[e->pool], &e->owner_age);
}

/* A session named: its key, the key's hash, and its entry if known. */
struct lookup {
	char *key; /* free()d by the caller */
	size_t len;
	uint64_t hash;
	struct session *found;
};

static int look_up(struct mw_sessions *s, const char *server, const char *sid,
		   struct lookup *l)
{
	l->key = make_key(server, sid, &l->len);
	if (!l->key)
		return -ENOMEM;
	l->hash = mw_keyed_hash(&s->hkey, l->key, l->len);
	l->found = *slot_of(s, l->key, l->len, l->hash);
	return 0;
}

/* Records the session of l for who in pool. */
static int add(struct mw_sessions *s, const struct lookup *l, enum pool pool,
	       struct mw_session_owner who)
{
	struct session *e = calloc(1, sizeof(*e) + l->len);
	struct session **slot;

	if (!e)
		return -ENOMEM;
	e->hash = l->hash;
	e->key_len = l->len;
	memcpy(e->key, l->key, l->len);
	if (link_pool(s, e, pool, who)) {
		free(e);
		return -ENOMEM;
	}
	slot = &s->buckets[l->hash & (s->nbuckets - 1)];
	e->hnext = *slot;
	*slot = e;
	return 0;
}

static bool same_owner(struct mw_session_owner a, struct mw_session_owner b)
{
	return a.uid == b.uid && a.cgroup_id == b.cgroup_id;
}

int mw_sessions_opened(struct mw_sessions *s, const char *server,
		       const char *sid, struct mw_session_owner owner)
{
	struct lookup l;
	int rc = look_up(s, server, sid, &l);

	if (rc)
		return rc;
	if (l.found) {
		/* its opener's now, in the opened pool */
		unlink_pool(s, l.found);
		if (link_pool(s, l.found, POOL_OPENED, owner)) {
			struct session **p = slot_of(s, l.key, l.len, l.hash);

			*p = l.found->hnext;
			free(l.found);
			rc = -ENOMEM;
		}
	} else {
		rc = add(s, &l, POOL_OPENED, owner);
	}
	free(l.key);
	return rc;
}

int mw_sessions_use(struct mw_sessions *s, const char *server, const char *sid,
		    struct mw_session_owner owner, enum mw_session_use *use)
{
	struct lookup l;
	int rc = look_up(s, server, sid, &l);

	if (rc)
		return rc;
	if (!l.found) {
		rc = add(s, &l, POOL_CLAIMED, owner);
		*use = MW_SESSION_CLAIMED;
	} else if (same_owner(l.found->who, owner)) {
		touch(s, l.found);
		*use = MW_SESSION_OWN;
	} else {
		*use = MW_SESSION_OTHERS;
	}
	free(l.key);
	return rc;
}
