/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Requests waiting for their response, keyed by server, session, direction
 * and JSON-RPC id. Responses can arrive on another connection (legacy
 * HTTP+SSE, or the standalone GET stream), so this lives beside the
 * connections. Bounded: the oldest entry is dropped when full.
 */
#ifndef MW_PAIRING_H
#define MW_PAIRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mw_pairing;

int mw_pairing_new(struct mw_pairing **out, size_t max_entries);
void mw_pairing_free(struct mw_pairing *p);
/* Remembers a request; replaces an entry with the same key. 0 or -ENOMEM. */
int mw_pairing_put(struct mw_pairing *p, const char *key, uint64_t seq,
		   int64_t ts_us);
/* Finds and removes; true when found. */
bool mw_pairing_take(struct mw_pairing *p, const char *key, uint64_t *seq,
		     int64_t *ts_us);
size_t mw_pairing_count(const struct mw_pairing *p);

#endif
