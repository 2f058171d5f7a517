/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Requests waiting for their response, keyed by server, session, direction
 * and JSON-RPC id. Responses can arrive on another connection (legacy
 * HTTP+SSE, or the standalone GET stream), so this lives beside the
 * connections. Bounded: the oldest entry is dropped when full.
 *
 * A key put while a request with it still waits, or again after its
 * entry was dropped for room (or put over, or given up while its answer
 * could still come), may be answered for either request: its entry is
 * marked MW_PAIR_AMBIGUOUS, and the caller must not trust what it says of
 * the request (its tool).
 *
 * Such dropped keys are remembered per scope (the key's first scope_len
 * bytes: a server's session), exactly, until the scope ends (the session
 * was deleted, its stream or its connection closed): one client's lost
 * answers make only its own session's pairings ambiguous, and none last
 * beyond the session. A scope with more than MW_PAIR_SCOPE_DROPS_MAX of
 * them has every pairing ambiguous until it ends. Memory is bounded too:
 * past max_entries remembered keys, or max_entries / 4 scopes, the scope
 * idle longest is forgotten into a Bloom filter that marks every key of
 * it from then on (a false positive only marks an entry it need not).
 */
#ifndef MW_PAIRING_H
#define MW_PAIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MW_PAIR_SCOPE_DROPS_MAX 1024
/* The owner of the servers' requests to clients: no uid is (uid_t)-1. */
#define MW_PAIR_OWNER_SERVERS UINT32_MAX

struct mw_pairing;

/* max_per_owner: what one owner's requests may fill (0: all of it). */
int mw_pairing_new(struct mw_pairing **out, size_t max_entries,
		   size_t max_per_owner);
void mw_pairing_free(struct mw_pairing *p);
/* What the response to a request needs to know about it. */
#define MW_PAIR_TOOLS_LIST 0x1u /* tools/list: its result is filtered */
#define MW_PAIR_AMBIGUOUS 0x2u /* the key may be another request's (set here) */
/* the tasks methods: the answer is a tool's output, which one unknown */
#define MW_PAIR_ANY_TOOL 0x4u
/* A tool name longer is not kept: the entry is MW_PAIR_ANY_TOOL instead
 * (MCP names tools in at most 128 characters). */
#define MW_PAIR_TOOL_MAX 512

/*
 * Remembers a request (its audit seq, when it was seen, MW_PAIR_* flags,
 * its tool or NULL) under key, whose first scope_len bytes are its scope,
 * for owner (the uid that sent it: past max_per_owner of its requests,
 * its own oldest is dropped for room);
 * replaces an entry with the same key, and then marks the new one
 * MW_PAIR_AMBIGUOUS (see above). 0, -EINVAL (scope_len beyond the key) or
 * -ENOMEM.
 */
int mw_pairing_put(struct mw_pairing *p, const char *key, size_t scope_len,
		   uint32_t owner, uint64_t seq, int64_t ts_us, unsigned flags,
		   const char *tool);
/*
 * Finds and removes; true when found. flags may be NULL; tool, when not
 * NULL, gets the request's tool to free() (NULL: it had none, or no
 * memory for it).
 */
bool mw_pairing_take(struct mw_pairing *p, const char *key, uint64_t *seq,
		     int64_t *ts_us, unsigned *flags, char **tool);
/* Whether a request with this key waits (nothing changes). */
bool mw_pairing_waits(const struct mw_pairing *p, const char *key);
/*
 * Forgets the request with this key and audit seq (not a later request
 * put over the key); true when it was there. When its answer may still
 * come (on another stream), the key is remembered as a dropped one.
 */
bool mw_pairing_drop(struct mw_pairing *p, const char *key, uint64_t seq,
		     bool may_be_answered);
/*
 * The scope ended: nothing can answer its dropped keys any more, and
 * they are forgotten (its waiting entries are not touched).
 */
void mw_pairing_end_scope(struct mw_pairing *p, const char *scope,
			  size_t scope_len);
size_t mw_pairing_count(const struct mw_pairing *p);
/* Scopes whose dropped keys are remembered; for tests and status. */
size_t mw_pairing_scopes(const struct mw_pairing *p);

#endif
