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
 * the request (its tool). Such keys are remembered in a Bloom filter (a
 * false positive only marks an entry it need not); once the filter has
 * taken as many keys as the table holds, every entry put after is
 * marked.
 */
#ifndef MW_PAIRING_H
#define MW_PAIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mw_pairing;

int mw_pairing_new(struct mw_pairing **out, size_t max_entries);
void mw_pairing_free(struct mw_pairing *p);
/* What the response to a request needs to know about it. */
#define MW_PAIR_TOOLS_LIST 0x1u /* tools/list: its result is filtered */
#define MW_PAIR_AMBIGUOUS 0x2u /* the key may be another request's (set here) */

/*
 * Remembers a request (its audit seq, when it was seen, MW_PAIR_* flags,
 * its tool or NULL); replaces an entry with the same key, and then marks
 * the new one MW_PAIR_AMBIGUOUS (see above). 0 or -ENOMEM.
 */
int mw_pairing_put(struct mw_pairing *p, const char *key, uint64_t seq,
		   int64_t ts_us, unsigned flags, const char *tool);
/*
 * Finds and removes; true when found. flags may be NULL; tool, when not
 * NULL, gets the request's tool to free() (NULL: it had none, or no
 * memory for it).
 */
bool mw_pairing_take(struct mw_pairing *p, const char *key, uint64_t *seq,
		     int64_t *ts_us, unsigned *flags, char **tool);
/*
 * Forgets the request with this key and audit seq (not a later request
 * put over the key); true when it was there. When its answer may still
 * come (on another stream), the key is remembered as a dropped one.
 */
bool mw_pairing_drop(struct mw_pairing *p, const char *key, uint64_t seq,
		     bool may_be_answered);
size_t mw_pairing_count(const struct mw_pairing *p);

#endif
