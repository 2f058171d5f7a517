// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy's index: for each field a rule can name exactly (server,
 * method, target, user, uid, group, OIDC subject and groups) and for the
 * direction, a bitset of the rules that may match a given value. A
 * decision ANDs one bitset per field and tries only the rules left, in
 * file order, so its cost follows the rules that concern the message, not
 * the size of the policy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

enum dim_kind {
	DIM_SERVER,
	DIM_METHOD,
	DIM_TARGET,
	DIM_USER,
	DIM_UID,
	DIM_GROUP,
	DIM_SUBJECT,
	DIM_OIDC_GROUP,
	DIM_COUNT,
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static struct policy_slot *keymap_find(const struct policy_keymap *m,
				       const char *key, size_t len,
				       uint64_t hash)
{
	size_t mask = m->cap - 1;

	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct policy_slot *s = &m->slots[i];

		if (!s->key || (s->hash == hash && s->len == len &&
				!memcmp(s->key, key, len)))
			return s;
	}
}

static int keymap_grow(struct policy_keymap *m)
{
	struct policy_keymap bigger = { .cap = m->cap ? m->cap * 2 : 16 };

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		struct policy_slot *s = &m->slots[i];

		if (s->key)
			*keymap_find(&bigger, s->key, s->len, s->hash) = *s;
	}
	bigger.n = m->n;
	free(m->slots);
	*m = bigger;
	return 0;
}

int policy_keymap_put(struct policy_keymap *m, const char *key, size_t len,
		      uint32_t value, uint32_t *existing)
{
	uint64_t hash = hash_bytes(key, len);
	struct policy_slot *s;

	/* At most half full: probes stay short whatever is looked up. */
	if ((m->n + 1) * 2 > m->cap && keymap_grow(m))
		return -1;
	s = keymap_find(m, key, len, hash);
	if (s->key) {
		if (existing)
			*existing = s->value;
		return 1;
	}
	*s = (struct policy_slot){
		.key = key, .len = len, .hash = hash, .value = value
	};
	m->n++;
	return 0;
}

long policy_keymap_get(const struct policy_keymap *m, const char *key,
		       size_t len)
{
	const struct policy_slot *s;

	if (!m->n)
		return -1;
	s = keymap_find(m, key, len, hash_bytes(key, len));
	return s->key ? (long)s->value : -1;
}

void policy_keymap_free(struct policy_keymap *m)
{
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

static void bit_set(uint64_t *bits, size_t i)
{
	bits[i / 64] |= 1ULL << (i % 64);
}

/* One rule's entries for a field: names, uids (as 4 bytes) or globs. */
struct dim_view {
	const struct policy_strs *strs;
	const struct policy_uids *uids;
	const struct policy_globs *globs;
};

static struct dim_view view_of(const struct policy_rule *r, enum dim_kind k)
{
	switch (k) {
	case DIM_SERVER:
		return (struct dim_view){ .strs = &r->servers };
	case DIM_METHOD:
		return (struct dim_view){ .globs = &r->methods };
	case DIM_TARGET:
		return (struct dim_view){ .globs = &r->targets };
	case DIM_USER:
		return (struct dim_view){ .strs = &r->users };
	case DIM_UID:
		return (struct dim_view){ .uids = &r->uids };
	case DIM_GROUP:
		return (struct dim_view){ .strs = &r->groups };
	case DIM_SUBJECT:
		return (struct dim_view){ .strs = &r->subjects };
	case DIM_OIDC_GROUP:
	case DIM_COUNT:
		break;
	}
	return (struct dim_view){ .strs = &r->oidc_groups };
}

static size_t view_count(const struct dim_view *v)
{
	return v->strs ? v->strs->n : v->uids ? v->uids->n : v->globs->n;
}

/* Entry i as a key; false when it is a wildcard pattern (no key). */
static bool view_key(const struct dim_view *v, size_t i, const char **key,
		     size_t *len)
{
	if (v->strs) {
		*key = v->strs->v[i];
		*len = strlen(*key);
		return true;
	}
	if (v->uids) {
		*key = (const char *)&v->uids->v[i];
		*len = sizeof(v->uids->v[i]);
		return true;
	}
	*key = mw_glob_literal(v->globs->v[i], len);
	return *key != NULL;
}

static struct policy_dim *dim_of(struct policy_index *ix, enum dim_kind k)
{
	struct policy_dim *dims[DIM_COUNT] = {
		[DIM_SERVER] = &ix->server,
		[DIM_METHOD] = &ix->method,
		[DIM_TARGET] = &ix->target,
		[DIM_USER] = &ix->user,
		[DIM_UID] = &ix->uid,
		[DIM_GROUP] = &ix->group,
		[DIM_SUBJECT] = &ix->subject,
		[DIM_OIDC_GROUP] = &ix->oidc_group,
	};

	return dims[k];
}

/* Wildcard rules are tried at load against every key seen in the rules. */
static void dim_match_globs(const struct mw_policy *p, struct policy_dim *d,
			    enum dim_kind k, size_t words)
{
	for (size_t r = 0; r < p->nrules; r++) {
		struct dim_view v = view_of(&p->rules[r], k);

		if (!(d->glob[r / 64] & (1ULL << (r % 64))))
			continue;
		for (size_t s = 0; s < d->keys.cap; s++) {
			const struct policy_slot *slot = &d->keys.slots[s];

			if (!slot->key)
				continue;
			for (size_t i = 0; i < view_count(&v); i++)
				if (mw_glob_match(v.globs->v[i], slot->key,
						  slot->len)) {
					bit_set(d->sets + slot->value * words,
						r);
					break;
				}
		}
	}
}

static int dim_build(struct mw_policy *p, enum dim_kind k, size_t *bytes,
		     char *err, size_t errlen)
{
	struct policy_index *ix = &p->index;
	struct policy_dim *d = dim_of(ix, k);
	size_t words = ix->words;

	d->none = calloc(words, sizeof(uint64_t));
	d->glob = calloc(words, sizeof(uint64_t));
	if (!d->none || !d->glob)
		goto oom;
	for (size_t r = 0; r < p->nrules; r++) {
		struct dim_view v = view_of(&p->rules[r], k);

		if (!view_count(&v))
			bit_set(d->none, r);
		for (size_t i = 0; i < view_count(&v); i++) {
			const char *key;
			size_t len;

			if (!view_key(&v, i, &key, &len)) {
				bit_set(d->glob, r);
				d->has_glob = true;
				continue;
			}
			if (policy_keymap_put(&d->keys, key, len,
					      (uint32_t)d->nkeys, NULL) < 0)
				goto oom;
			if (d->keys.n > d->nkeys)
				d->nkeys++;
		}
	}
	*bytes += (d->nkeys + 2) * words * sizeof(uint64_t);
	if (*bytes > POLICY_MAX_INDEX_BYTES) {
		snprintf(err, errlen,
			 "%s: too many distinct names for %zu rules: the "
			 "index would need more than %u MiB",
			 p->file, p->nrules, POLICY_MAX_INDEX_BYTES >> 20);
		return -1;
	}
	d->sets = calloc(d->nkeys ? d->nkeys * words : 1, sizeof(uint64_t));
	if (!d->sets)
		goto oom;
	for (size_t r = 0; r < p->nrules; r++) {
		struct dim_view v = view_of(&p->rules[r], k);

		for (size_t i = 0; i < view_count(&v); i++) {
			const char *key;
			size_t len;

			if (view_key(&v, i, &key, &len))
				bit_set(d->sets + (size_t)policy_keymap_get(
							  &d->keys, key, len) *
							  words,
					r);
		}
	}
	if (d->has_glob)
		dim_match_globs(p, d, k, words);
	return 0;
oom:
	snprintf(err, errlen, "%s: out of memory", p->file);
	return -1;
}

int policy_index_build(struct mw_policy *p, char *err, size_t errlen)
{
	struct policy_index *ix = &p->index;
	size_t bytes;

	ix->words = (p->nrules + 63) / 64;
	if (!ix->words)
		ix->words = 1;
	bytes = 2 * ix->words * sizeof(uint64_t);
	ix->from_client = calloc(ix->words, sizeof(uint64_t));
	ix->from_server = calloc(ix->words, sizeof(uint64_t));
	if (!ix->from_client || !ix->from_server) {
		snprintf(err, errlen, "%s: out of memory", p->file);
		return -1;
	}
	for (size_t r = 0; r < p->nrules; r++) {
		if (p->rules[r].from_client)
			bit_set(ix->from_client, r);
		if (p->rules[r].from_server)
			bit_set(ix->from_server, r);
	}
	for (enum dim_kind k = 0; k < DIM_COUNT; k++)
		if (dim_build(p, k, &bytes, err, errlen))
			return -1;
	return 0;
}

void policy_index_free(struct policy_index *ix)
{
	free(ix->from_client);
	free(ix->from_server);
	for (enum dim_kind k = 0; k < DIM_COUNT; k++) {
		struct policy_dim *d = dim_of(ix, k);

		policy_keymap_free(&d->keys);
		free(d->none);
		free(d->glob);
		free(d->sets);
	}
	memset(ix, 0, sizeof(*ix));
}

/* out &= the rules that may accept key (NULL: an unknown value). */
static void and_one(const struct policy_dim *d, size_t words, const char *key,
		    size_t len, uint64_t *out, bool *exact)
{
	const uint64_t *accept = NULL;
	long v;

	if (!d->nkeys && !d->has_glob)
		return; /* no rule names this field: all are in none[] */
	if (key) {
		v = policy_keymap_get(&d->keys, key, len);
		if (v >= 0) {
			accept = d->sets + (size_t)v * words;
		} else if (d->has_glob) {
			accept = d->glob;
			*exact = false;
		}
	}
	for (size_t w = 0; w < words; w++)
		out[w] &= d->none[w] | (accept ? accept[w] : 0);
}

static void and_str(const struct policy_dim *d, size_t words, const char *key,
		    uint64_t *out, bool *exact)
{
	and_one(d, words, key, key ? strlen(key) : 0, out, exact);
}

/* out &= the rules that accept any of keys[0..n) (fields with no globs). */
static void and_any(const struct policy_dim *d, size_t words,
		    const char *const *keys, size_t n, uint64_t *out)
{
	uint64_t accept[POLICY_MAX_WORDS];

	if (!d->nkeys)
		return;
	memcpy(accept, d->none, words * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		long v = keys[i] ? policy_keymap_get(&d->keys, keys[i],
						     strlen(keys[i]))
				 : -1;

		if (v < 0)
			continue;
		for (size_t w = 0; w < words; w++)
			accept[w] |= d->sets[(size_t)v * words + w];
	}
	for (size_t w = 0; w < words; w++)
		out[w] &= accept[w];
}

void policy_index_candidates(const struct mw_policy *p,
			     const struct mw_policy_input *in, uint64_t *out,
			     struct policy_recheck *recheck)
{
	const struct policy_index *ix = &p->index;
	const struct mw_policy_subject *s = &in->subject;
	size_t words = ix->words;
	bool method_exact = true, target_exact = true, exact = true;

	memcpy(out,
	       in->direction == MW_POLICY_FROM_SERVER ? ix->from_server
						      : ix->from_client,
	       words * sizeof(uint64_t));
	and_str(&ix->server, words, in->server, out, &exact);
	and_str(&ix->method, words, in->method, out, &method_exact);
	and_str(&ix->target, words, in->target, out, &target_exact);
	if (!s->user_unknown)
		and_str(&ix->user, words, s->user, out, &exact);
	and_one(&ix->uid, words, (const char *)&s->uid, sizeof(s->uid), out,
		&exact);
	and_str(&ix->subject, words, s->oidc_subject, out, &exact);
	if (!s->groups_unknown)
		and_any(&ix->group, words, s->groups, s->ngroups, out);
	and_any(&ix->oidc_group, words, s->oidc_groups, s->noidc_groups, out);
	recheck->method = !method_exact;
	recheck->target = !target_exact;
	recheck->subject = s->user_unknown || s->groups_unknown;
}
