// SPDX-License-Identifier: BSD-2-Clause
#include "yaml_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

int mw_yaml_fail(struct mw_yaml_ctx *c, const yaml_node_t *n, const char *fmt,
		 ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n && c->columns)
		snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->file,
			 n->start_mark.line + 1, n->start_mark.column + 1, msg);
	else if (n)
		snprintf(c->err, c->errlen, "%s:%zu: %s", c->file,
			 n->start_mark.line + 1, msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
	return -1;
}

yaml_node_t *mw_yaml_node(struct mw_yaml_ctx *c, int index)
{
	return yaml_document_get_node(c->doc, index);
}

const char *mw_yaml_scalar(const yaml_node_t *n)
{
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* A scalar key of a mapping, where it stands among the mapping's pairs. */
struct key_at {
	const yaml_node_t *node;
	size_t pos;
};

static int key_at_cmp(const void *a, const void *b)
{
	const struct key_at *x = a, *y = b;
	size_t xl = x->node->data.scalar.length,
	       yl = y->node->data.scalar.length;
	int r;

	if (xl != yl)
		return xl < yl ? -1 : 1;
	r = memcmp(x->node->data.scalar.value, y->node->data.scalar.value, xl);
	if (r)
		return r;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/*
 * The keys are sorted, not compared pair by pair: a file at its bound (1
 * MiB) holds 100,000 keys, whose pairs took 40 s. The key named is the
 * one a scan in file order meets first that repeats an earlier one.
 */
int mw_yaml_check_unique_keys(struct mw_yaml_ctx *c, yaml_node_t *map)
{
	size_t n = (size_t)(map->data.mapping.pairs.top -
			    map->data.mapping.pairs.start),
	       m = 0;
	const struct key_at *dup = NULL;
	struct key_at *keys;
	int rc = 0;

	if (n < 2)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return mw_yaml_fail(c, map, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k =
			mw_yaml_node(c, map->data.mapping.pairs.start[i].key);

		if (k && k->type == YAML_SCALAR_NODE)
			keys[m++] = (struct key_at){ .node = k, .pos = i };
	}
	qsort(keys, m, sizeof(*keys), key_at_cmp);
	for (size_t i = 1; i < m; i++) {
		const yaml_node_t *a = keys[i - 1].node, *b = keys[i].node;

		if (a->data.scalar.length == b->data.scalar.length &&
		    !memcmp(a->data.scalar.value, b->data.scalar.value,
			    a->data.scalar.length) &&
		    (!dup || keys[i].pos < dup->pos))
			dup = &keys[i];
	}
	if (dup)
		rc = mw_yaml_fail(c, dup->node, "duplicate key '%s'",
				  (const char *)dup->node->data.scalar.value);
	free(keys);
	return rc;
}

static bool default_tag(const yaml_node_t *n)
{
	const char *want = n->type == YAML_SCALAR_NODE	   ? YAML_STR_TAG
			   : n->type == YAML_SEQUENCE_NODE ? YAML_SEQ_TAG
							   : YAML_MAP_TAG;

	return n->tag && !strcmp((const char *)n->tag, want);
}

static int check_node(struct mw_yaml_ctx *c, yaml_node_t *n, int depth,
		      int max_depth, unsigned char *seen)
{
	size_t index = (size_t)(n - c->doc->nodes.start);

	if (seen[index])
		return mw_yaml_fail(c, n, "aliases are not supported here");
	seen[index] = 1;
	if (!default_tag(n))
		return mw_yaml_fail(c, n, "tags are not supported here ('%s')",
				    n->tag ? (const char *)n->tag : "");
	if (depth > max_depth)
		return mw_yaml_fail(c, n, "nested deeper than %d levels",
				    max_depth);
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			yaml_node_t *child = mw_yaml_node(c, *i);

			if (!child ||
			    check_node(c, child, depth + 1, max_depth, seen))
				return -1;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = mw_yaml_node(c, p->key);
			yaml_node_t *v = mw_yaml_node(c, p->value);

			if (!k || !v ||
			    check_node(c, k, depth + 1, max_depth, seen) ||
			    check_node(c, v, depth + 1, max_depth, seen))
				return -1;
		}
	}
	return 0;
}

int mw_yaml_check_tree(struct mw_yaml_ctx *c, yaml_node_t *n, int max_depth)
{
	size_t count = (size_t)(c->doc->nodes.top - c->doc->nodes.start);
	unsigned char *seen = calloc(count ? count : 1, 1);
	int rc;

	if (!seen)
		return mw_yaml_fail(c, n, "out of memory");
	rc = check_node(c, n, 0, max_depth, seen);
	free(seen);
	return rc;
}

int mw_yaml_get_string(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		       char *out, size_t outlen)
{
	const char *s = mw_yaml_scalar(n);

	if (!s)
		return mw_yaml_fail(c, n, "%s: expected a string", key);
	if (strlen(s) >= outlen)
		return mw_yaml_fail(c, n, "%s: longer than %zu bytes", key,
				    outlen - 1);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

int mw_yaml_get_bool(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		     bool *out)
{
	const char *s = mw_yaml_scalar(n);

	if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
		*out = true;
	else if (s &&
		 (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
		*out = false;
	else
		return mw_yaml_fail(c, n, "%s: expected true or false", key);
	return 0;
}

int mw_yaml_get_uint(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		     unsigned long long min, unsigned long long max,
		     unsigned long long *out)
{
	const char *s = mw_yaml_scalar(n);
	unsigned long long v;
	char *end;

	if (!s || !*s || *s == '-')
		return mw_yaml_fail(c, n, "%s: expected a number", key);
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return mw_yaml_fail(c, n, "%s: expected a number, got '%s'",
				    key, s);
	if (v < min || v > max)
		return mw_yaml_fail(c, n, "%s: %llu is outside [%llu, %llu]",
				    key, v, min, max);
	*out = v;
	return 0;
}

int mw_yaml_read_file(const char *path, size_t max_bytes, char **bytes,
		      size_t *len, char *err, size_t errlen)
{
	/* a FIFO must not hang the load before it is refused */
	return mw_read_regular_err(path, false, max_bytes, bytes, len, err,
				   errlen)
		       ? -1
		       : 0;
}

int mw_yaml_parse(struct mw_yaml_ctx *c, const char *bytes, size_t len,
		  yaml_document_t *doc)
{
	yaml_parser_t parser;
	int rc = 0;

	c->doc = doc;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(c->err, c->errlen, "%s: out of memory", c->file);
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)bytes,
				     len);
	if (!yaml_parser_load(&parser, doc)) {
		const char *why =
			parser.problem ? parser.problem : "YAML error";

		if (c->columns)
			snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->file,
				 parser.problem_mark.line + 1,
				 parser.problem_mark.column + 1, why);
		else
			snprintf(c->err, c->errlen, "%s:%zu: %s", c->file,
				 parser.problem_mark.line + 1, why);
		rc = -1;
	}
	yaml_parser_delete(&parser);
	return rc;
}
