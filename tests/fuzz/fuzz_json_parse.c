// SPDX-License-Identifier: BSD-2-Clause
/*
 * Input: one byte of flags, then any bytes. mw_json_loadb() must read
 * them exactly as jansson's json_loadb() does with the same flags (the
 * three it understands): both refuse, or both accept and build equal
 * trees, with every object's keys in the same order. A difference is a
 * message the daemon would judge otherwise than the library it stands in
 * for reads it. One difference is meant: jansson drops a NUL byte that
 * its look-ahead read after a number or a literal, so it takes [1\0] as
 * [1]; mw_json_loadb() refuses a NUL outside a string, always.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_parse.h"

/* json_equal ignores the order of keys: the daemon's walks do not. */
static bool same_order(const json_t *a, const json_t *b)
{
	if (json_is_object(a)) {
		void *ia = json_object_iter((json_t *)a);
		void *ib = json_object_iter((json_t *)b);

		for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
				 ib = json_object_iter_next((json_t *)b, ib)) {
			size_t la = json_object_iter_key_len(ia);

			if (la != json_object_iter_key_len(ib) ||
			    memcmp(json_object_iter_key(ia),
				   json_object_iter_key(ib), la) ||
			    !same_order(json_object_iter_value(ia),
					json_object_iter_value(ib)))
				return false;
		}
		return !ia && !ib;
	}
	if (json_is_array(a)) {
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!same_order(json_array_get(a, i),
					json_array_get(b, i)))
				return false;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t flag_bits[] = { JSON_REJECT_DUPLICATES,
					    JSON_DECODE_ANY, JSON_ALLOW_NUL };
	size_t flags = 0;
	json_error_t err;
	json_t *ours, *theirs;

	if (!size || size > (1u << 16))
		return 0;
	for (size_t i = 0; i < 3; i++)
		if (data[0] & (1u << i))
			flags |= flag_bits[i];
	ours = mw_json_loadb((const char *)data + 1, size - 1, flags, &err);
	theirs = json_loadb((const char *)data + 1, size - 1, flags, NULL);
	if (ours && !theirs)
		abort();
	if (!ours && theirs && !memchr(data + 1, '\0', size - 1))
		abort();
	if (ours && (!json_equal(ours, theirs) || !same_order(ours, theirs)))
		abort();
	if (!ours && (!err.text[0] || err.position < 0 ||
		      (size_t)err.position > size - 1))
		abort();
	json_decref(ours);
	json_decref(theirs);
	return 0;
}
