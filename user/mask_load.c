/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configuration's "detectors:" (custom detectors) and "masking:" (the
 * rules) into a masker. Strict: unknown keys, unknown detectors, servers
 * that are not configured and empty lists are errors, never ignored.
 */
#include "mask_load.h"

#include <stdlib.h>
#include <string.h>

#include "glob.h"

#define MASK_MAX_LIST 64

static bool is_detector_name(const char *s)
{
	if (!*s || strlen(s) >= MW_MASK_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* A scalar or a sequence of scalars: their nodes. */
static int list_of(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		   yaml_node_t **items, size_t *count)
{
	*count = 0;
	if (n->type == YAML_SCALAR_NODE) {
		items[(*count)++] = n;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return mw_yaml_fail(c, n, "%s: expected a name or a list", key);
	for (yaml_node_item_t *i = n->data.sequence.items.start;
	     i < n->data.sequence.items.top; i++) {
		yaml_node_t *item = mw_yaml_node(c, *i);

		if (*count == MASK_MAX_LIST)
			return mw_yaml_fail(c, n, "%s: at most %d items", key,
					    MASK_MAX_LIST);
		if (!item || !mw_yaml_scalar(item) || !*mw_yaml_scalar(item))
			return mw_yaml_fail(c, item ? item : n,
					    "%s: expected a non-empty name",
					    key);
		items[(*count)++] = item;
	}
	if (!*count)
		return mw_yaml_fail(c, n, "%s: empty list", key);
	return 0;
}

static int parse_globs(struct mw_yaml_ctx *c, yaml_node_t *n, const char *key,
		       struct mw_glob ***out, size_t *nout, char *text,
		       size_t textlen)
{
	yaml_node_t *items[MASK_MAX_LIST];
	size_t count, used = 0;

	if (list_of(c, n, key, items, &count))
		return -1;
	*out = calloc(count, sizeof(**out));
	if (!*out)
		return mw_yaml_fail(c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *s = mw_yaml_scalar(items[i]);
		char why[128];
		int w;

		if (strlen(s) >= MW_GLOB_MAX_LEN ||
		    mw_glob_compile(s, strlen(s), &(*out)[i], why, sizeof(why)))
			return mw_yaml_fail(c, items[i],
					    "%s: bad pattern '%.64s'", key, s);
		(*nout)++;
		w = snprintf(text + used, textlen - used, "%s%s",
			     used ? ", " : "", s);
		if (w < 0 || (size_t)w >= textlen - used)
			return mw_yaml_fail(c, n, "%s: too long", key);
		used += (size_t)w;
	}
	return 0;
}

/* A server glob must be able to match a configured server. */
static int check_servers(struct mw_yaml_ctx *c, yaml_node_t *n,
			 const struct mw_mask_rule *r,
			 const char *const *servers, size_t nservers)
{
	for (size_t g = 0; g < r->nservers; g++) {
		bool any = false;

		for (size_t i = 0; i < nservers && !any; i++)
			any = mw_glob_match(r->servers[g], servers[i],
					    strlen(servers[i]));
		if (!any)
			return mw_yaml_fail(c, n,
					    "masking: rule '%s': server "
					    "pattern %zu matches no configured "
					    "server",
					    r->name, g + 1);
	}
	return 0;
}

static int parse_custom(struct mw_yaml_ctx *c, yaml_node_t *n,
			struct mw_mask_custom *d)
{
	char validator[16] = "none";
	bool have_pattern = false;

	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(c, n, "detectors: expected a mapping");
	if (mw_yaml_check_unique_keys(c, n))
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(c, p->key);
		yaml_node_t *v = mw_yaml_node(c, p->value);
		const char *key = k ? mw_yaml_scalar(k) : NULL;
		int rc;

		if (!key || !v)
			return mw_yaml_fail(c, n, "detectors: expected a key");
		if (!strcmp(key, "name"))
			rc = mw_yaml_get_string(c, v, key, d->name,
						sizeof(d->name));
		else if (!strcmp(key, "pattern")) {
			rc = mw_yaml_get_string(c, v, key, d->pattern,
						sizeof(d->pattern));
			have_pattern = !rc && d->pattern[0];
		} else if (!strcmp(key, "validator"))
			rc = mw_yaml_get_string(c, v, key, validator,
						sizeof(validator));
		else if (!strcmp(key, "case_insensitive"))
			rc = mw_yaml_get_bool(c, v, key, &d->icase);
		else
			rc = mw_yaml_fail(c, k, "detectors: unknown key '%s'",
					  key);
		if (rc)
			return -1;
	}
	if (!is_detector_name(d->name))
		return mw_yaml_fail(c, n,
				    "detectors: 'name' must be lowercase "
				    "letters, digits and '_' (at most %d)",
				    MW_MASK_NAME_MAX - 1);
	if (!have_pattern)
		return mw_yaml_fail(c, n, "detectors: '%s' needs a 'pattern'",
				    d->name);
	if (!strcmp(validator, "luhn"))
		d->validator = MW_MASK_VALIDATE_LUHN;
	else if (!strcmp(validator, "mod97"))
		d->validator = MW_MASK_VALIDATE_MOD97;
	else if (strcmp(validator, "none"))
		return mw_yaml_fail(c, n,
				    "detectors: validator: luhn, mod97 or "
				    "none");
	for (unsigned i = 0; i < MW_DET_N_BUILTIN; i++)
		if (!strcmp(d->name, mw_mask_builtin_name(i)))
			return mw_yaml_fail(c, n,
					    "detectors: '%s' is a built-in "
					    "detector's name",
					    d->name);
	return 0;
}

/* Bits of the named detectors: built-ins, then customs in order. */
static int detector_set(struct mw_yaml_ctx *c, yaml_node_t *n,
			const struct mw_mask_custom *custom, size_t ncustom,
			uint64_t *set)
{
	yaml_node_t *items[MASK_MAX_LIST];
	size_t count;

	if (list_of(c, n, "detectors", items, &count))
		return -1;
	for (size_t i = 0; i < count; i++) {
		const char *s = mw_yaml_scalar(items[i]);
		int bit = -1;

		if (!strcmp(s, "all")) {
			*set |= MW_DET_N_BUILTIN + ncustom >= 64
					? ~0ull
					: (1ull
					   << (MW_DET_N_BUILTIN + ncustom)) -
						  1;
			continue;
		}
		for (unsigned b = 0; b < MW_DET_N_BUILTIN && bit < 0; b++)
			if (!strcmp(s, mw_mask_builtin_name(b)))
				bit = (int)b;
		for (size_t k = 0; k < ncustom && bit < 0; k++)
			if (!strcmp(s, custom[k].name))
				bit = (int)(MW_DET_N_BUILTIN + k);
		if (bit < 0)
			return mw_yaml_fail(c, items[i],
					    "masking: unknown detector '%s'",
					    s);
		*set |= 1ull << bit;
	}
	return 0;
}

static int parse_apply(struct mw_yaml_ctx *c, yaml_node_t *n, unsigned *apply)
{
	yaml_node_t *items[MASK_MAX_LIST];
	size_t count;

	if (list_of(c, n, "apply", items, &count))
		return -1;
	*apply = 0;
	for (size_t i = 0; i < count; i++) {
		const char *s = mw_yaml_scalar(items[i]);

		if (!strcmp(s, "client"))
			*apply |= MW_MASK_TO_CLIENT;
		else if (!strcmp(s, "audit"))
			*apply |= MW_MASK_IN_AUDIT;
		else
			return mw_yaml_fail(c, items[i],
					    "apply: 'client' or 'audit'");
	}
	return 0;
}

static int parse_rule(struct mw_yaml_ctx *c, yaml_node_t *n, size_t index,
		      const struct mw_mask_custom *custom, size_t ncustom,
		      const char *const *servers, size_t nservers,
		      struct mw_mask_rule *r)
{
	yaml_node_t *server = NULL;
	char style[16] = "full";
	bool have_detectors = false;

	snprintf(r->name, sizeof(r->name), "masking[%zu]", index);
	r->apply = MW_MASK_TO_CLIENT | MW_MASK_IN_AUDIT;
	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(c, n, "masking: expected a mapping");
	if (mw_yaml_check_unique_keys(c, n))
		return -1;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(c, p->key);
		yaml_node_t *v = mw_yaml_node(c, p->value);
		const char *key = k ? mw_yaml_scalar(k) : NULL;
		int rc;

		if (!key || !v)
			return mw_yaml_fail(c, n, "masking: expected a key");
		if (!strcmp(key, "name")) {
			rc = mw_yaml_get_string(c, v, key, r->name,
						sizeof(r->name));
		} else if (!strcmp(key, "server")) {
			server = v;
			rc = parse_globs(c, v, key, &r->servers, &r->nservers,
					 r->server_text,
					 sizeof(r->server_text));
		} else if (!strcmp(key, "tool")) {
			rc = parse_globs(c, v, key, &r->tools, &r->ntools,
					 r->tool_text, sizeof(r->tool_text));
		} else if (!strcmp(key, "apply")) {
			rc = parse_apply(c, v, &r->apply);
		} else if (!strcmp(key, "detectors")) {
			rc = detector_set(c, v, custom, ncustom, &r->detectors);
			have_detectors = true;
		} else if (!strcmp(key, "style")) {
			rc = mw_yaml_get_string(c, v, key, style,
						sizeof(style));
		} else if (!strcmp(key, "binary")) {
			rc = mw_yaml_get_bool(c, v, key, &r->binary);
		} else {
			rc = mw_yaml_fail(c, k, "masking: unknown key '%s'",
					  key);
		}
		if (rc)
			return -1;
	}
	if (!have_detectors)
		return mw_yaml_fail(
			c, n, "masking: rule '%s' names no detectors", r->name);
	if (!strcmp(style, "partial"))
		r->style = MW_MASK_PARTIAL;
	else if (!strcmp(style, "hash"))
		r->style = MW_MASK_HASH;
	else if (strcmp(style, "full"))
		return mw_yaml_fail(c, n, "style: full, partial or hash");
	return server ? check_servers(c, server, r, servers, nservers) : 0;
}

int mw_mask_from_yaml(struct mw_yaml_ctx *c, yaml_node_t *detectors,
		      yaml_node_t *masking, const char *const *servers,
		      size_t nservers, struct mw_masker **out)
{
	struct mw_mask_custom *custom = NULL;
	struct mw_mask_rule *rules = NULL;
	size_t ncustom = 0, nrules = 0;
	char why[512];
	int rc = -1;

	*out = NULL;
	if (detectors && detectors->type != YAML_SEQUENCE_NODE)
		return mw_yaml_fail(c, detectors, "detectors: expected a list");
	if (masking && masking->type != YAML_SEQUENCE_NODE)
		return mw_yaml_fail(c, masking, "masking: expected a list");
	if (!masking) {
		/* Custom detectors no rule uses would be a silent no-op. */
		if (detectors && detectors->data.sequence.items.top !=
					 detectors->data.sequence.items.start)
			return mw_yaml_fail(c, detectors,
					    "detectors: no 'masking' rules "
					    "use them");
		return 0;
	}
	custom = calloc(MW_MASK_MAX_DETECTORS, sizeof(*custom));
	rules = calloc(MW_MASK_MAX_RULES, sizeof(*rules));
	if (!custom || !rules) {
		mw_yaml_fail(c, masking, "out of memory");
		goto out;
	}
	for (yaml_node_item_t *i =
		     detectors ? detectors->data.sequence.items.start : NULL;
	     detectors && i < detectors->data.sequence.items.top; i++) {
		yaml_node_t *d = mw_yaml_node(c, *i);

		if (ncustom + MW_DET_N_BUILTIN == MW_MASK_MAX_DETECTORS) {
			mw_yaml_fail(c, detectors,
				     "detectors: at most %d custom detectors",
				     MW_MASK_MAX_DETECTORS - MW_DET_N_BUILTIN);
			goto out;
		}
		if (!d || parse_custom(c, d, &custom[ncustom]))
			goto out;
		for (size_t k = 0; k < ncustom; k++)
			if (!strcmp(custom[k].name, custom[ncustom].name)) {
				mw_yaml_fail(c, d,
					     "detectors: '%s' defined twice",
					     custom[k].name);
				goto out;
			}
		ncustom++;
	}
	for (yaml_node_item_t *i = masking->data.sequence.items.start;
	     i < masking->data.sequence.items.top; i++) {
		yaml_node_t *r = mw_yaml_node(c, *i);

		if (nrules == MW_MASK_MAX_RULES) {
			mw_yaml_fail(c, masking, "masking: at most %d rules",
				     MW_MASK_MAX_RULES);
			goto out;
		}
		nrules++;
		if (!r || parse_rule(c, r, nrules - 1, custom, ncustom, servers,
				     nservers, &rules[nrules - 1]))
			goto out;
	}
	rc = mw_masker_new(out, custom, ncustom, rules, nrules, why,
			   sizeof(why));
	if (rc)
		mw_yaml_fail(c, detectors ? detectors : masking, "%s", why);
out:
	for (size_t i = 0; i < nrules; i++)
		mw_mask_rule_clear(&rules[i]);
	free(rules);
	free(custom);
	return rc;
}
