// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "pairing.h"

/* Two keys with the same 32-bit FNV-1a hash (0x589d962b). */
#define PAIR_COLLIDE_A "s1/c2s/1310694"
#define PAIR_COLLIDE_B "s1/c2s/308069"

/* The tests' keys are scoped by what comes before their first '/'. */
static int pair_put(struct mw_pairing *p, const char *key, uint64_t seq,
		    int64_t ts, unsigned flags, const char *tool)
{
	return mw_pairing_put(p, key, strcspn(key, "/"), 0, seq, ts, flags,
			      tool);
}

static struct mw_pairing *pair_new(size_t max)
{
	struct mw_pairing *p = NULL;

	cr_assert_eq(mw_pairing_new(&p, max, 0), 0);
	cr_assert_not_null(p);
	cr_assert_eq(mw_pairing_count(p), 0);
	return p;
}

static void pair_expect(struct mw_pairing *p, const char *key, uint64_t seq,
			int64_t ts)
{
	uint64_t got_seq = 0;
	int64_t got_ts = 0;

	cr_assert(mw_pairing_take(p, key, &got_seq, &got_ts, NULL, NULL),
		  "%s missing", key);
	cr_assert_eq(got_seq, seq, "%s: seq %llu", key,
		     (unsigned long long)got_seq);
	cr_assert_eq(got_ts, ts, "%s: ts %lld", key, (long long)got_ts);
}

static void pair_expect_missing(struct mw_pairing *p, const char *key)
{
	uint64_t seq = 77;
	int64_t ts = 88;

	cr_assert_not(mw_pairing_take(p, key, &seq, &ts, NULL, NULL),
		      "%s present", key);
	cr_assert_eq(seq, 77, "outputs untouched on a miss");
	cr_assert_eq(ts, 88);
}

Test(pairing, put_then_take)
{
	struct mw_pairing *p = pair_new(8);

	cr_assert_eq(pair_put(p, "srv/sess/c2s/1", 10, 1000, 0, NULL), 0);
	/* a look does not take it */
	cr_assert(mw_pairing_waits(p, "srv/sess/c2s/1"));
	cr_assert(mw_pairing_waits(p, "srv/sess/c2s/1"));
	cr_assert_not(mw_pairing_waits(p, "srv/sess/c2s/2"));
	cr_assert_eq(pair_put(p, "srv/sess/c2s/\"1\"", 11, -5, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 2);
	pair_expect(p, "srv/sess/c2s/\"1\"", 11, -5);
	pair_expect(p, "srv/sess/c2s/1", 10, 1000);
	cr_assert_eq(mw_pairing_count(p), 0);
	mw_pairing_free(p);
}

/*
 * A tool name longer than any tool's is not kept (an entry per waiting
 * request, thousands per user, each up to a body's size): the answer is
 * any tool's, which masks it with every tool's rules.
 */
Test(pairing, a_tool_name_too_long_is_not_kept)
{
	struct mw_pairing *p = pair_new(8);
	char *name = malloc(MW_PAIR_TOOL_MAX + 2), *tool = NULL;
	unsigned flags = 0;
	uint64_t seq;
	int64_t ts;

	cr_assert_not_null(name);
	memset(name, 'n', MW_PAIR_TOOL_MAX + 1);
	name[MW_PAIR_TOOL_MAX + 1] = '\0';
	cr_assert_eq(pair_put(p, "s/c2s/1", 1, 0, 0, name), 0);
	cr_assert(mw_pairing_take(p, "s/c2s/1", &seq, &ts, &flags, &tool));
	cr_assert_null(tool);
	cr_assert(flags & MW_PAIR_ANY_TOOL);
	/* at the bound, kept */
	name[MW_PAIR_TOOL_MAX] = '\0';
	cr_assert_eq(pair_put(p, "s/c2s/2", 2, 0, 0, name), 0);
	cr_assert(mw_pairing_take(p, "s/c2s/2", &seq, &ts, &flags, &tool));
	cr_assert_str_eq(tool, name);
	cr_assert_not(flags & MW_PAIR_ANY_TOOL);
	free(tool);
	free(name);
	mw_pairing_free(p);
}

Test(pairing, take_removes)
{
	struct mw_pairing *p = pair_new(8);

	cr_assert_eq(pair_put(p, "k", UINT64_MAX, INT64_MIN, 0, NULL), 0);
	pair_expect(p, "k", UINT64_MAX, INT64_MIN);
	cr_assert_eq(mw_pairing_count(p), 0);
	pair_expect_missing(p, "k");
	/* The key can be used again. */
	cr_assert_eq(pair_put(p, "k", 2, 3, 0, NULL), 0);
	pair_expect(p, "k", 2, 3);
	mw_pairing_free(p);
}

Test(pairing, take_of_missing_key)
{
	struct mw_pairing *p = pair_new(4);

	pair_expect_missing(p, "nothing");
	pair_expect_missing(p, "");
	cr_assert_eq(pair_put(p, "abc", 1, 1, 0, NULL), 0);
	pair_expect_missing(p, "ab");
	pair_expect_missing(p, "abcd");
	pair_expect_missing(p, "ABC");
	cr_assert_eq(mw_pairing_count(p), 1);
	mw_pairing_free(p);
}

Test(pairing, replace_on_same_key)
{
	struct mw_pairing *p = pair_new(4);

	cr_assert_eq(pair_put(p, "dup", 1, 100, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "dup", 2, 200, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 1);
	pair_expect(p, "dup", 2, 200);
	pair_expect_missing(p, "dup");
	mw_pairing_free(p);
}

Test(pairing, oldest_evicted_when_full)
{
	struct mw_pairing *p = pair_new(3);

	cr_assert_eq(pair_put(p, "a", 1, 1, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "b", 2, 2, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "c", 3, 3, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 3);
	cr_assert_eq(pair_put(p, "d", 4, 4, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 3);
	pair_expect_missing(p, "a");
	cr_assert_eq(pair_put(p, "e", 5, 5, 0, NULL), 0);
	pair_expect_missing(p, "b");
	pair_expect(p, "c", 3, 3);
	pair_expect(p, "d", 4, 4);
	pair_expect(p, "e", 5, 5);
	cr_assert_eq(mw_pairing_count(p), 0);
	mw_pairing_free(p);
}

Test(pairing, replace_makes_an_entry_newest)
{
	struct mw_pairing *p = pair_new(3);

	cr_assert_eq(pair_put(p, "a", 1, 1, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "b", 2, 2, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "c", 3, 3, 0, NULL), 0);
	/* Replacing when full neither grows nor evicts another entry. */
	cr_assert_eq(pair_put(p, "a", 10, 10, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 3);
	cr_assert_eq(pair_put(p, "d", 4, 4, 0, NULL), 0);
	pair_expect_missing(p, "b");
	pair_expect(p, "a", 10, 10);
	pair_expect(p, "c", 3, 3);
	pair_expect(p, "d", 4, 4);
	mw_pairing_free(p);
}

Test(pairing, take_frees_room_without_eviction)
{
	struct mw_pairing *p = pair_new(3);

	cr_assert_eq(pair_put(p, "a", 1, 1, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "b", 2, 2, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "c", 3, 3, 0, NULL), 0);
	pair_expect(p, "b", 2, 2);
	cr_assert_eq(pair_put(p, "d", 4, 4, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 3);
	pair_expect(p, "a", 1, 1);
	/* The oldest is unlinked from the middle of the age list too. */
	cr_assert_eq(pair_put(p, "e", 5, 5, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "f", 6, 6, 0, NULL), 0);
	pair_expect_missing(p, "c");
	pair_expect(p, "d", 4, 4);
	pair_expect(p, "e", 5, 5);
	pair_expect(p, "f", 6, 6);
	mw_pairing_free(p);
}

Test(pairing, count_tracks_puts_and_takes)
{
	struct mw_pairing *p = pair_new(5);
	char key[16];

	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(pair_put(p, key, (uint64_t)i, i, 0, NULL), 0);
		cr_assert_eq(mw_pairing_count(p), (size_t)i + 1);
	}
	for (int i = 5; i < 9; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(pair_put(p, key, (uint64_t)i, i, 0, NULL), 0);
		cr_assert_eq(mw_pairing_count(p), 5);
	}
	for (int i = 8; i >= 4; i--) {
		snprintf(key, sizeof(key), "k%d", i);
		pair_expect(p, key, (uint64_t)i, i);
		cr_assert_eq(mw_pairing_count(p), (size_t)i - 4);
	}
	mw_pairing_free(p);
}

Test(pairing, zero_max_holds_one)
{
	struct mw_pairing *p = pair_new(0);

	cr_assert_eq(pair_put(p, "a", 1, 1, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "b", 2, 2, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 1);
	pair_expect_missing(p, "a");
	pair_expect(p, "b", 2, 2);
	mw_pairing_free(p);
}

Test(pairing, full_hash_collision)
{
	struct mw_pairing *p = pair_new(16);

	cr_assert_eq(pair_put(p, PAIR_COLLIDE_A, 1, 10, 0, NULL), 0);
	cr_assert_eq(pair_put(p, PAIR_COLLIDE_B, 2, 20, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 2,
		     "a colliding key replaced another");
	pair_expect(p, PAIR_COLLIDE_B, 2, 20);
	pair_expect_missing(p, PAIR_COLLIDE_B);
	pair_expect(p, PAIR_COLLIDE_A, 1, 10);

	/* Replace and evict with both in one chain. */
	cr_assert_eq(pair_put(p, PAIR_COLLIDE_A, 1, 10, 0, NULL), 0);
	cr_assert_eq(pair_put(p, PAIR_COLLIDE_B, 2, 20, 0, NULL), 0);
	cr_assert_eq(pair_put(p, PAIR_COLLIDE_A, 3, 30, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 2);
	pair_expect(p, PAIR_COLLIDE_A, 3, 30);
	pair_expect(p, PAIR_COLLIDE_B, 2, 20);
	mw_pairing_free(p);
}

Test(pairing, many_keys)
{
	enum { N = 5000 };
	struct mw_pairing *p = pair_new(N);
	char key[32];

	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "srv/s%d/c2s/%d", i % 7, i);
		cr_assert_eq(pair_put(p, key, (uint64_t)i * 3, -i, 0, NULL), 0);
	}
	cr_assert_eq(mw_pairing_count(p), N);
	/* Take every other one, in an order unlike insertion. */
	for (int i = N - 1; i >= 0; i -= 2) {
		snprintf(key, sizeof(key), "srv/s%d/c2s/%d", i % 7, i);
		pair_expect(p, key, (uint64_t)i * 3, -i);
	}
	cr_assert_eq(mw_pairing_count(p), N / 2);
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "srv/s%d/c2s/%d", i % 7, i);
		if (i % 2)
			pair_expect_missing(p, key);
	}
	/* Fill again past the bound: the survivors are the oldest to go. */
	for (int i = N; i < N + N / 2 + 10; i++) {
		snprintf(key, sizeof(key), "srv/s%d/c2s/%d", i % 7, i);
		cr_assert_eq(pair_put(p, key, (uint64_t)i * 3, -i, 0, NULL), 0);
	}
	cr_assert_eq(mw_pairing_count(p), N);
	for (int i = 0; i < 20; i += 2) {
		snprintf(key, sizeof(key), "srv/s%d/c2s/%d", i % 7, i);
		pair_expect_missing(p, key);
	}
	snprintf(key, sizeof(key), "srv/s%d/c2s/%d", 20 % 7, 20);
	pair_expect(p, key, 60, -20);
	/* Freed with entries left: LeakSanitizer checks it frees them. */
	mw_pairing_free(p);
}

Test(pairing, free_null_is_harmless)
{
	mw_pairing_free(NULL);
}

Test(pairing, flags_travel_with_the_request)
{
	struct mw_pairing *p;
	uint64_t seq;
	int64_t ts;
	unsigned flags = 0;

	cr_assert_eq(mw_pairing_new(&p, 8, 0), 0);
	cr_assert_eq(pair_put(p, "list", 1, 1, MW_PAIR_TOOLS_LIST, NULL), 0);
	cr_assert_eq(pair_put(p, "call", 2, 2, 0, NULL), 0);
	cr_assert(mw_pairing_take(p, "list", &seq, &ts, &flags, NULL));
	cr_assert_eq(flags, MW_PAIR_TOOLS_LIST);
	cr_assert(mw_pairing_take(p, "call", &seq, &ts, &flags, NULL));
	cr_assert_eq(flags, 0);
	/* A request id used again replaces the entry, flags too (and the
	 * new one is ambiguous). */
	cr_assert_eq(pair_put(p, "x", 3, 3, MW_PAIR_TOOLS_LIST, NULL), 0);
	cr_assert_eq(pair_put(p, "x", 4, 4, 0, NULL), 0);
	cr_assert(mw_pairing_take(p, "x", &seq, &ts, &flags, NULL));
	cr_assert_eq(seq, 4);
	cr_assert_eq(flags, MW_PAIR_AMBIGUOUS);
	mw_pairing_free(p);
}

/* The flags a key's entry gives back when taken. */
static unsigned pair_flags(struct mw_pairing *p, const char *key)
{
	uint64_t seq;
	int64_t ts;
	unsigned flags = 0;

	cr_assert(mw_pairing_take(p, key, &seq, &ts, &flags, NULL),
		  "%s missing", key);
	return flags;
}

/*
 * A key put while its entry waits may be answered for either request:
 * the new entry says so, and a first put never does (nor can a caller
 * set the mark itself).
 */
Test(pairing, a_key_put_twice_is_ambiguous)
{
	struct mw_pairing *p = pair_new(8);

	cr_assert_eq(pair_put(p, "s/c2s/1", 1, 1, MW_PAIR_TOOLS_LIST, "secret"),
		     0);
	cr_assert_eq(pair_put(p, "s/c2s/2", 2, 2, MW_PAIR_AMBIGUOUS, NULL), 0);
	cr_assert_eq(pair_put(p, "s/c2s/1", 3, 3, 0, "other"), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/1"), MW_PAIR_AMBIGUOUS);
	cr_assert_eq(pair_flags(p, "s/c2s/2"), 0, "not the caller's to set");
	/* taken, then put again: the request put over may still be
	 * answered, so the key stays ambiguous */
	cr_assert_eq(pair_put(p, "s/c2s/1", 4, 4, 0, NULL), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/1"), MW_PAIR_AMBIGUOUS);
	cr_assert_eq(pair_put(p, "s/c2s/3", 5, 5, 0, NULL), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/3"), 0);
	cr_assert_eq(pair_put(p, "s/c2s/3", 6, 6, 0, NULL), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/3"), 0,
		     "taken first: nothing waited");
	mw_pairing_free(p);
}

/*
 * An entry dropped for room leaves its key marked: its request may still
 * be answered, and the answer must not be taken for a later request's
 * with that key. Keys never dropped stay plain.
 */
Test(pairing, a_key_dropped_for_room_is_ambiguous_when_put_again)
{
	struct mw_pairing *p = pair_new(64);
	char key[32];

	for (int i = 0; i < 65; i++) {
		snprintf(key, sizeof(key), "s/c2s/%d", i);
		cr_assert_eq(pair_put(p, key, (uint64_t)i, i, 0, NULL), 0);
	}
	pair_expect_missing(p, "s/c2s/0");
	cr_assert_eq(pair_put(p, "s/c2s/0", 100, 100, 0, "slow"), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/0"), MW_PAIR_AMBIGUOUS);
	cr_assert_eq(pair_put(p, "s/c2s/fresh", 101, 101, 0, NULL), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/fresh"), 0);
	mw_pairing_free(p);
}

/*
 * drop() forgets a request whose answer will not come, but not a later
 * request put over its key.
 */
Test(pairing, drop_forgets_only_that_request)
{
	struct mw_pairing *p = pair_new(8);

	cr_assert_eq(pair_put(p, "s/c2s/1", 1, 1, 0, NULL), 0);
	cr_assert_not(mw_pairing_drop(p, "s/c2s/1", 2, false), "another seq");
	cr_assert(mw_pairing_drop(p, "s/c2s/1", 1, false));
	pair_expect_missing(p, "s/c2s/1");
	cr_assert_not(mw_pairing_drop(p, "s/c2s/1", 1, false), "already gone");
	/* no answer can come: put again, it is plain */
	cr_assert_eq(pair_put(p, "s/c2s/1", 3, 3, 0, NULL), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/1"), 0);
	/* one may still come: put again, it is ambiguous */
	cr_assert_eq(pair_put(p, "s/c2s/4", 7, 7, 0, NULL), 0);
	cr_assert(mw_pairing_drop(p, "s/c2s/4", 7, true));
	cr_assert_eq(pair_put(p, "s/c2s/4", 8, 8, 0, NULL), 0);
	cr_assert_eq(pair_flags(p, "s/c2s/4"), MW_PAIR_AMBIGUOUS);
	/* over a waiting key: the earlier request's drop keeps the later */
	cr_assert_eq(pair_put(p, "s/c2s/2", 4, 4, 0, NULL), 0);
	cr_assert_eq(pair_put(p, "s/c2s/2", 5, 5, 0, NULL), 0);
	cr_assert_not(mw_pairing_drop(p, "s/c2s/2", 4, false));
	pair_expect(p, "s/c2s/2", 5, 5);
	cr_assert_eq(mw_pairing_count(p), 0);
	mw_pairing_free(p);
}

/* Puts key, then gives its request up while an answer may still come. */
static void pair_lose(struct mw_pairing *p, const char *key, uint64_t seq)
{
	cr_assert_eq(pair_put(p, key, seq, 1, 0, NULL), 0);
	cr_assert(mw_pairing_drop(p, key, seq, true), "%s", key);
}

/* Whether key, put now, would be marked (the entry is taken again). */
static bool pair_is_ambiguous(struct mw_pairing *p, const char *key)
{
	cr_assert_eq(pair_put(p, key, 999, 1, 0, NULL), 0);
	return pair_flags(p, key) == MW_PAIR_AMBIGUOUS;
}

/*
 * One session's lost answers say nothing of another's: a client that
 * cancels or cuts requests makes only its own pairings ambiguous.
 */
Test(pairing, a_scopes_drops_leave_other_scopes_plain)
{
	struct mw_pairing *p = pair_new(64);

	pair_lose(p, "a/c2s/1", 1);
	cr_assert(pair_is_ambiguous(p, "a/c2s/1"));
	cr_assert_not(pair_is_ambiguous(p, "b/c2s/1"), "another session");
	cr_assert_not(pair_is_ambiguous(p, "a/c2s/2"), "another id");
	cr_assert_not(pair_is_ambiguous(p, "a/s2c/1"), "another direction");
	cr_assert_eq(mw_pairing_scopes(p), 1);
	mw_pairing_free(p);
}

/*
 * When the session ends nothing can answer in it any more: its dropped
 * ids are plain again, and entries still waiting are not touched.
 */
Test(pairing, ending_a_scope_forgets_its_drops)
{
	struct mw_pairing *p = pair_new(64);

	pair_lose(p, "a/c2s/1", 1);
	pair_lose(p, "b/c2s/1", 2);
	cr_assert_eq(pair_put(p, "a/c2s/7", 3, 3, 0, "waits"), 0);
	mw_pairing_end_scope(p, "a", 1);
	mw_pairing_end_scope(p, "a", 1);
	mw_pairing_end_scope(p, "zz", 2);
	cr_assert_eq(mw_pairing_scopes(p), 1);
	cr_assert_not(pair_is_ambiguous(p, "a/c2s/1"));
	cr_assert(pair_is_ambiguous(p, "b/c2s/1"), "another scope's stays");
	pair_expect(p, "a/c2s/7", 3, 3);
	/* "a" is a prefix of "ab": scopes are compared whole */
	pair_lose(p, "ab/c2s/1", 4);
	mw_pairing_end_scope(p, "a", 1);
	cr_assert(pair_is_ambiguous(p, "ab/c2s/1"));
	mw_pairing_free(p);
}

/*
 * A session that lost more than MW_PAIR_SCOPE_DROPS_MAX ids is not
 * followed id by id: every pairing in it is ambiguous until it ends.
 */
Test(pairing, a_scope_past_its_drop_limit_is_ambiguous_throughout)
{
	struct mw_pairing *p = pair_new(4 * MW_PAIR_SCOPE_DROPS_MAX);
	char key[32];

	for (int i = 0; i < MW_PAIR_SCOPE_DROPS_MAX; i++) {
		snprintf(key, sizeof(key), "a/c2s/%d", i);
		pair_lose(p, key, (uint64_t)i + 1);
	}
	cr_assert_not(pair_is_ambiguous(p, "a/c2s/fresh"), "at the limit");
	pair_lose(p, "a/c2s/one-more", 5000);
	cr_assert(pair_is_ambiguous(p, "a/c2s/fresh"));
	cr_assert_not(pair_is_ambiguous(p, "b/c2s/fresh"));
	mw_pairing_end_scope(p, "a", 1);
	cr_assert_not(pair_is_ambiguous(p, "a/c2s/fresh"));
	mw_pairing_free(p);
}

/*
 * Memory is bounded: past max_entries / 4 scopes or max_entries dropped
 * ids, the scope idle longest is forgotten whole, and every pairing in it
 * is ambiguous from then on, even after it ends (a Bloom filter cannot
 * forget). The other scopes keep their ids one by one.
 */
Test(pairing, past_its_memory_the_idlest_scope_is_forgotten_whole)
{
	struct mw_pairing *p = pair_new(8); /* 2 scopes, 8 ids */
	char key[32];

	pair_lose(p, "a/c2s/1", 1);
	pair_lose(p, "b/c2s/1", 2);
	cr_assert_not(pair_is_ambiguous(p, "a/c2s/2"), "a is busy now");
	pair_lose(p, "c/c2s/1", 3);
	cr_assert_eq(mw_pairing_scopes(p), 2);
	/* b was idle longest */
	cr_assert(pair_is_ambiguous(p, "b/c2s/2"));
	mw_pairing_end_scope(p, "b", 1);
	cr_assert(pair_is_ambiguous(p, "b/c2s/3"), "forgotten for good");
	cr_assert(pair_is_ambiguous(p, "c/c2s/1"));
	cr_assert_not(pair_is_ambiguous(p, "c/c2s/2"));
	cr_assert(pair_is_ambiguous(p, "a/c2s/1"));
	/* 8 ids held at most: c's ninth makes room by forgetting a, and
	 * then c itself, alone over the bound, is ambiguous throughout */
	for (int i = 2; i < 9; i++) {
		snprintf(key, sizeof(key), "c/c2s/x%d", i);
		pair_lose(p, key, (uint64_t)i + 10);
	}
	cr_assert(pair_is_ambiguous(p, "a/c2s/2"), "a forgotten");
	cr_assert_not(pair_is_ambiguous(p, "c/c2s/fresh"), "8 ids fit");
	pair_lose(p, "c/c2s/x9", 30);
	cr_assert(pair_is_ambiguous(p, "c/c2s/fresh"));
	cr_assert_not(pair_is_ambiguous(p, "d/c2s/1"), "never dropped");
	mw_pairing_free(p);
}

Test(pairing, a_scope_longer_than_its_key_is_refused)
{
	struct mw_pairing *p = pair_new(8);

	cr_assert_eq(mw_pairing_put(p, "ab", 3, 0, 1, 1, 0, NULL), -EINVAL);
	cr_assert_eq(mw_pairing_put(p, "ab", 2, 0, 1, 1, 0, NULL), 0);
	cr_assert_eq(mw_pairing_count(p), 1);
	mw_pairing_free(p);
}

/*
 * One user's requests fill at most an eighth of the table: past it, its
 * own oldest waiting request makes room (and its id is remembered as
 * dropped), not another user's.
 */
Test(pairing, one_owner_floods_only_its_own_entries)
{
	struct mw_pairing *p = NULL;
	char key[32];

	cr_assert_eq(mw_pairing_new(&p, 64, 8), 0);
	cr_assert_eq(
		mw_pairing_put(p, "b/c2s/victim", 1, 1000, 1, 1, 0, "secret"),
		0);
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "a/c2s/%d", i);
		cr_assert_eq(mw_pairing_put(p, key, 1, 666, (uint64_t)i + 10, i,
					    0, NULL),
			     0);
	}
	cr_assert_eq(mw_pairing_count(p), 9, "8 of the flood and the victim");
	pair_expect(p, "b/c2s/victim", 1, 1);
	pair_expect_missing(p, "a/c2s/91");
	pair_expect(p, "a/c2s/92", 102, 92);
	cr_assert(pair_is_ambiguous(p, "a/c2s/0"), "dropped, remembered");
	mw_pairing_free(p);
}

/*
 * A scope forgotten whole stays so: an id it loses later starts no list
 * that would vouch for its other ids.
 */
Test(pairing, a_forgotten_scope_stays_ambiguous_after_a_new_drop)
{
	struct mw_pairing *p = pair_new(8); /* 2 scopes */

	pair_lose(p, "a/c2s/secret", 1);
	pair_lose(p, "b/c2s/1", 2);
	pair_lose(p, "c/c2s/1", 3); /* a is forgotten */
	pair_lose(p, "a/c2s/other", 4);
	cr_assert(pair_is_ambiguous(p, "a/c2s/secret"));
	cr_assert(pair_is_ambiguous(p, "a/c2s/fresh"));
	mw_pairing_free(p);
}
