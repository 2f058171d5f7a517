/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Strict reading of YAML documents (libyaml's document API) shared by the
 * configuration and the policy loaders: bounded file reads, errors that
 * name the file and position, duplicate keys refused.
 */
#ifndef MW_YAML_UTIL_H
#define MW_YAML_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

struct mw_yaml_ctx {
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	const char *file;
	/* "file:line:column: reason" rather than "file:line: reason". */
	bool columns;
};

/* Formats "file:line[:column]: reason" into c->err; returns -1. */
int mw_yaml_fail(struct mw_yaml_ctx *c, const yaml_node_t *n, const char *fmt,
		 ...) __attribute__((format(printf, 3, 4)));

yaml_node_t *mw_yaml_node(struct mw_yaml_ctx *c, int index);

/* The text of a scalar node; NULL for anything else. */
const char *mw_yaml_scalar(const yaml_node_t *n);

/*
 * libyaml keeps every pair of a mapping, duplicates too: a second
 * "servers:" would otherwise be read on top of the first.
 */
int mw_yaml_check_unique_keys(struct mw_yaml_ctx *c, yaml_node_t *map);

/*
 * Refuses, under n, what a loader walking the tree cannot bound: aliases
 * (a node reached twice, which also catches cycles and "billion laughs"),
 * explicit tags, and nesting deeper than max_depth.
 */
int mw_yaml_check_tree(struct mw_yaml_ctx *c, yaml_node_t *n, int max_depth);

int mw_yaml_get_string(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		       char *out, size_t outlen);
int mw_yaml_get_bool(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		     bool *out);
int mw_yaml_get_uint(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		     unsigned long long min, unsigned long long max,
		     unsigned long long *out);

/*
 * Reads at most max_bytes of path into a NUL-terminated buffer to free():
 * the bytes parsed are exactly the bytes hashed. Errors are "path: reason".
 */
int mw_yaml_read_file(const char *path, size_t max_bytes, char **bytes,
		      size_t *len, char *err, size_t errlen);

/*
 * Parses bytes into doc (to yaml_document_delete() on success). Syntax
 * errors are reported at c->file with c->columns; c->doc is set to doc.
 */
int mw_yaml_parse(struct mw_yaml_ctx *c, const char *bytes, size_t len,
		  yaml_document_t *doc);

#endif
