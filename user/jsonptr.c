// SPDX-License-Identifier: BSD-2-Clause
#include "jsonptr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"

/* An index this long cannot name an element of an array in memory. */
#define MAX_INDEX_DIGITS 18

struct jsonptr_tok {
	size_t off, len; /* into keys */
	size_t index; /* SIZE_MAX: not an array index */
};

struct mw_jsonptr {
	char *text;
	char *keys; /* tokens unescaped, back to back */
	size_t ntoks;
	struct jsonptr_tok toks[];
};

static size_t array_index(const char *s, size_t len)
{
	size_t v = 0;

	if (!len || len > MAX_INDEX_DIGITS || (len > 1 && s[0] == '0'))
		return SIZE_MAX;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SIZE_MAX;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	return v;
}

int mw_jsonptr_compile(const char *text, size_t len, struct mw_jsonptr **out,
		       char *err, size_t errlen)
{
	struct mw_jsonptr *p = NULL;
	size_t ntoks = 0, k = 0;

	*out = NULL;
	if (len > MW_JSONPTR_MAX_LEN) {
		snprintf(err, errlen, "longer than %d bytes",
			 MW_JSONPTR_MAX_LEN);
		return -1;
	}
	if (len && text[0] != '/') {
		snprintf(err, errlen, "must be empty or start with '/'");
		return -1;
	}
	if (memchr(text, '\0', len)) {
		snprintf(err, errlen, "contains a NUL byte");
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (text[i] == '/')
			ntoks++;
	if (ntoks > MW_JSONPTR_MAX_TOKENS) {
		snprintf(err, errlen, "more than %d tokens",
			 MW_JSONPTR_MAX_TOKENS);
		return -1;
	}
	p = calloc(1, sizeof(*p) + ntoks * sizeof(p->toks[0]));
	if (!p)
		goto oom;
	p->text = strndup(text, len);
	p->keys = malloc(len + 1);
	if (!p->text || !p->keys)
		goto oom;
	for (size_t i = 0; i < len;) {
		struct jsonptr_tok *t = &p->toks[p->ntoks++];

		i++; /* the '/' */
		t->off = k;
		for (; i < len && text[i] != '/'; i++) {
			if (text[i] != '~') {
				p->keys[k++] = text[i];
				continue;
			}
			if (i + 1 < len &&
			    (text[i + 1] == '0' || text[i + 1] == '1')) {
				p->keys[k++] = text[i + 1] == '0' ? '~' : '/';
				i++;
				continue;
			}
			snprintf(err, errlen,
				 "'~' must be followed by 0 or 1 (~0 is '~', "
				 "~1 is '/')");
			mw_jsonptr_free(p);
			return -1;
		}
		t->len = k - t->off;
		t->index = array_index(p->keys + t->off, t->len);
	}
	p->keys[k] = '\0';
	*out = p;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	mw_jsonptr_free(p);
	return -1;
}

void mw_jsonptr_free(struct mw_jsonptr *p)
{
	if (!p)
		return;
	free(p->text);
	free(p->keys);
	free(p);
}

const json_t *mw_jsonptr_get_blocked(const struct mw_jsonptr *p,
				     const json_t *root, const json_t **blocker,
				     struct mw_json_fold_cache *cache)
{
	const json_t *v = root;

	*blocker = NULL;
	for (size_t i = 0; v && i < p->ntoks; i++) {
		const struct jsonptr_tok *t = &p->toks[i];

		if (json_is_object(v)) {
			const json_t *in = v;

			v = json_object_getn(in, p->keys + t->off, t->len);
			if (!v && mw_json_key_variant(in, p->keys + t->off,
						      t->len, cache))
				*blocker = in;
		} else if (json_is_array(v)) {
			v = t->index != SIZE_MAX ? json_array_get(v, t->index)
						 : NULL;
		} else {
			*blocker = v;
			v = NULL;
		}
	}
	return v;
}

const json_t *mw_jsonptr_get(const struct mw_jsonptr *p, const json_t *root)
{
	const json_t *blocker;

	return mw_jsonptr_get_blocked(p, root, &blocker, NULL);
}

const char *mw_jsonptr_text(const struct mw_jsonptr *p)
{
	return p->text;
}
