// SPDX-License-Identifier: BSD-2-Clause
/*
 * JSON pointers (jsonptr.h), as policy conditions name the arguments of
 * a request, against documents a client sends. Input: 2 bytes of pointer
 * length (little endian, cut to what follows), the pointer, then a JSON
 * document. Every run checks:
 *   - a refusal says why; a pointer over MW_JSONPTR_MAX_LEN, with a NUL,
 *     with more than MW_JSONPTR_MAX_TOKENS tokens, not starting with '/'
 *     or with a '~' not followed by 0 or 1 is refused, and nothing else;
 *   - what compiles keeps its text as written;
 *   - it resolves as RFC 6901 says (a walk written here, token by token),
 *     and a blocker is met only where nothing is found.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonptr.h"

static bool valid(const char *p, size_t n)
{
	size_t ntoks = 0;

	if (n > MW_JSONPTR_MAX_LEN || (n && p[0] != '/') || memchr(p, 0, n))
		return false;
	for (size_t i = 0; i < n; i++) {
		ntoks += p[i] == '/';
		if (p[i] == '~' &&
		    (i + 1 == n || (p[i + 1] != '0' && p[i + 1] != '1')))
			return false;
	}
	return ntoks <= MW_JSONPTR_MAX_TOKENS;
}

/* RFC 6901 section 4: an array index is 0 or digits without a leading 0. */
static bool index_of(const char *t, size_t n, size_t *out)
{
	size_t v = 0;

	if (!n || n > 18 || (n > 1 && t[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9')
			return false;
		v = v * 10 + (size_t)(t[i] - '0');
	}
	*out = v;
	return true;
}

static const json_t *resolve(const char *p, size_t n, const json_t *v)
{
	char tok[MW_JSONPTR_MAX_LEN + 1];

	for (size_t i = 0; v && i < n;) {
		size_t k = 0, idx;

		for (i++; i < n && p[i] != '/'; i++) {
			if (p[i] == '~') {
				tok[k++] = p[i + 1] == '0' ? '~' : '/';
				i++;
			} else {
				tok[k++] = p[i];
			}
		}
		if (json_is_object(v))
			v = json_object_getn(v, tok, k);
		else if (json_is_array(v) && index_of(tok, k, &idx))
			v = json_array_get(v, idx);
		else
			v = NULL;
	}
	return v;
}

/* Names sorted by their folded bytes stand in the order the comparison
 * of the names themselves gives, and fold alike exactly when it says so. */
static void check_sorted_names(const json_t *obj)
{
	struct mw_json_names ns;

	if (!json_is_object(obj))
		return;
	if (mw_json_names_sorted(obj, &ns))
		abort();
	if (ns.n != json_object_size(obj))
		abort();
	for (size_t i = 1; i < ns.n; i++) {
		int r = mw_json_key_fold_cmpn(ns.v[i - 1].s, ns.v[i - 1].len,
					      ns.v[i].s, ns.v[i].len);

		if (r > 0 ||
		    (r == 0) != mw_json_names_fold_alike(&ns, i - 1, i))
			abort();
	}
	mw_json_names_free(&ns);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *ptr, *doc;
	size_t plen, dlen;
	struct mw_jsonptr *p = NULL;
	const json_t *got, *blocker;
	char err[256] = "";
	json_t *root;

	if (size < 2)
		return 0;
	plen = (size_t)data[0] | (size_t)data[1] << 8;
	if (plen > size - 2)
		plen = size - 2;
	ptr = (const char *)data + 2;
	doc = ptr + plen;
	dlen = size - 2 - plen;
	if (mw_jsonptr_compile(ptr, plen, &p, err, sizeof(err))) {
		if (!err[0] || p || valid(ptr, plen))
			abort();
		return 0;
	}
	if (!p || !valid(ptr, plen) || strlen(mw_jsonptr_text(p)) != plen ||
	    memcmp(mw_jsonptr_text(p), ptr, plen))
		abort();
	root = json_loadb(doc, dlen, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (root) {
		struct mw_json_fold_cache cache = { 0 };
		const json_t *cached, *cached_blocker;

		check_sorted_names(root);

		got = mw_jsonptr_get_blocked(p, root, &blocker, NULL);
		if (got != resolve(ptr, plen, root) ||
		    got != mw_jsonptr_get(p, root) || (got && blocker))
			abort();
		/* the sorted names find what reading them all finds, the
		 * second time from the cache */
		for (int round = 0; round < 2; round++) {
			cached = mw_jsonptr_get_blocked(
				p, root, &cached_blocker, &cache);
			if (cached != got || cached_blocker != blocker)
				abort();
		}
		mw_json_fold_cache_free(&cache);
		json_decref(root);
	}
	mw_jsonptr_free(p);
	return 0;
}
