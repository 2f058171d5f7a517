// SPDX-License-Identifier: BSD-2-Clause
#include "intents.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "atomic_file.h"
#include "fdio.h"
#include "log.h"

/* On disk: {"version": 1, "cgroups": [{"path": P, "id": N}, ...]}. */
#define INTENTS_VERSION 1
#define INTENTS_MAX_BYTES (MW_INTENTS_MAX * (PATH_MAX + 64))

struct mw_intent *mw_intents_find(struct mw_intents *s, const char *path)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].path, path))
			return &s->v[i];
	return NULL;
}

int mw_intents_set(struct mw_intents *s, const char *path, uint64_t id)
{
	struct mw_intent *it = mw_intents_find(s, path);

	if (strlen(path) >= sizeof(it->path))
		return -ENAMETOOLONG;
	if (!it) {
		if (s->n >= MW_INTENTS_MAX)
			return -ENOSPC;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 8;
			struct mw_intent *v = realloc(s->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			s->v = v;
			s->cap = cap;
		}
		it = &s->v[s->n++];
		memset(it, 0, sizeof(*it));
		strcpy(it->path, path);
		it->wd = -1;
	}
	it->id = id;
	it->state = MW_INTENT_ENFORCED;
	it->refused_id = 0;
	it->why[0] = '\0';
	return 0;
}

bool mw_intents_remove(struct mw_intents *s, const char *path)
{
	struct mw_intent *it = mw_intents_find(s, path);

	if (!it)
		return false;
	*it = s->v[--s->n];
	return true;
}

void mw_intents_free(struct mw_intents *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static int parse(struct mw_intents *s, json_t *root, char *err, size_t errlen)
{
	json_t *list = json_object_get(root, "cgroups"), *e;
	size_t i;

	if (json_integer_value(json_object_get(root, "version")) !=
		    INTENTS_VERSION ||
	    !json_is_array(list)) {
		mw_set_err(err, errlen, "%s: not a version %d file", s->path,
			   INTENTS_VERSION);
		return -1;
	}
	json_array_foreach (list, i, e) {
		const char *p = json_string_value(json_object_get(e, "path"));
		json_t *id = json_object_get(e, "id");
		int r;

		if (!p || p[0] != '/' || !json_is_integer(id) ||
		    json_integer_value(id) < 0) {
			mw_set_err(err, errlen, "%s: entry %zu is damaged",
				   s->path, i);
			return -1;
		}
		/* the daemon writes a path once: which id is meant? */
		if (mw_intents_find(s, p)) {
			mw_set_err(err, errlen,
				   "%s: entry %zu names a cgroup an entry "
				   "before it names",
				   s->path, i);
			return -1;
		}
		r = mw_intents_set(s, p, (uint64_t)json_integer_value(id));
		if (r) {
			mw_set_err(err, errlen, "%s: entry %zu: %s", s->path, i,
				   strerror(-r));
			return -1;
		}
	}
	return 0;
}

int mw_intents_load(struct mw_intents *s, const char *state_dir, char *err,
		    size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	char *text;
	size_t len;
	int r;

	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", state_dir) >=
		    sizeof(s->dir) ||
	    (size_t)snprintf(s->path, sizeof(s->path), "%s/%s", state_dir,
			     MW_INTENTS_FILE) >= sizeof(s->path)) {
		mw_set_err(err, errlen, "state_dir too long");
		return -1;
	}
	r = mw_read_regular_err(s->path, true, INTENTS_MAX_BYTES, &text, &len,
				err, errlen);
	if (r == -ENOENT)
		return 0;
	if (r)
		return -1;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	free(text);
	if (!root) {
		mw_set_err(err, errlen, "%s:%d: %s", s->path, jerr.line,
			   jerr.text);
		return -1;
	}
	r = parse(s, root, err, errlen);
	json_decref(root);
	if (r)
		mw_intents_free(s);
	return r;
}

int mw_intents_save(const struct mw_intents *s, char *err, size_t errlen)
{
	json_t *list = json_array(), *root;
	char *text = NULL;
	int r = -1;

	root = json_pack("{s:i,s:o}", "version", INTENTS_VERSION, "cgroups",
			 list);
	for (size_t i = 0; root && i < s->n; i++)
		if (json_array_append_new(
			    list, json_pack("{s:s,s:I}", "path", s->v[i].path,
					    "id", (json_int_t)s->v[i].id)))
			goto out;
	if (root)
		text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (!text) {
		mw_set_err(err, errlen, "%s: out of memory", s->path);
		goto out;
	}
	r = mw_write_atomic(s->dir, MW_INTENTS_FILE, text, strlen(text), 0600,
			    err, errlen);
out:
	free(text);
	json_decref(root);
	return r;
}
