// SPDX-License-Identifier: BSD-2-Clause
#include "sessions.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "keyed_hash.h"
#include "loop.h" /* container_of */

struct session {
	struct session *hnext; /* bucket chain */
	struct age_link age; /* idle longest first */
	uint64_t hash;
	struct mw_session_owner owner;
	size_t key_len;
	char key[]; /* server, NUL, session id */
};

struct mw_sessions {
	struct mw_hash_key hkey; /* clients choose the ids they name */
	struct session **buckets;
	size_t nbuckets, count, max;
	struct age_list all;
};

int mw_sessions_new(struct mw_sessions **out, size_t max)
{
	struct mw_sessions *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->max = max ? max : 1;
	s->nbuckets = 1;
	while (s->nbuckets < s->max)
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
	for (a = s->all.oldest; a; a = next) {
		next = a->newer;
		free(container_of(a, struct session, age));
	}
	free(s->buckets);
	free(s);
}

size_t mw_sessions_count(const struct mw_sessions *s)
{
	return s->count;
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

static void forget(struct mw_sessions *s, struct session *e)
{
	struct session **p = slot_of(s, e->key, e->key_len, e->hash);

	*p = e->hnext;
	age_unlink(&s->all, &e->age);
	s->count--;
	free(e);
}

/* Records key for owner, the session idle longest forgotten for room. */
static int add(struct mw_sessions *s, const char *key, size_t len, uint64_t h,
	       struct mw_session_owner owner)
{
	struct session *e = malloc(sizeof(*e) + len);

	if (!e)
		return -ENOMEM;
	if (s->count >= s->max)
		forget(s, container_of(s->all.oldest, struct session, age));
	e->hash = h;
	e->owner = owner;
	e->key_len = len;
	memcpy(e->key, key, len);
	e->hnext = s->buckets[h & (s->nbuckets - 1)];
	s->buckets[h & (s->nbuckets - 1)] = e;
	age_push(&s->all, &e->age);
	s->count++;
	return 0;
}

static bool same_owner(struct mw_session_owner a, struct mw_session_owner b)
{
	return a.uid == b.uid && a.cgroup_id == b.cgroup_id;
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

static void touch(struct mw_sessions *s, struct session *e)
{
	age_unlink(&s->all, &e->age);
	age_push(&s->all, &e->age);
}

int mw_sessions_opened(struct mw_sessions *s, const char *server,
		       const char *sid, struct mw_session_owner owner)
{
	struct lookup l;
	int rc = look_up(s, server, sid, &l);

	if (rc)
		return rc;
	if (l.found) {
		l.found->owner = owner;
		touch(s, l.found);
	} else {
		rc = add(s, l.key, l.len, l.hash, owner);
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
		rc = add(s, l.key, l.len, l.hash, owner);
		*use = MW_SESSION_CLAIMED;
	} else if (same_owner(l.found->owner, owner)) {
		touch(s, l.found);
		*use = MW_SESSION_OWN;
	} else {
		*use = MW_SESSION_OTHERS;
	}
	free(l.key);
	return rc;
}
