// SPDX-License-Identifier: BSD-2-Clause
/*
 * YAML to a compiled policy: every rule checked, every pattern compiled,
 * the index built, before anything is judged with it. Errors carry
 * file:line:column.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "policy_internal.h"
#include "yaml_util.h"

struct loader {
	struct mw_yaml_ctx *c;
	struct mw_policy *p;
	struct policy_keymap names; /* rule name -> index */
	struct policy_keymap regexes[2]; /* pattern -> index, [icase] */
	size_t nconds; /* in the rule being read */
};

static const char *const tool_methods[] = { "tools/call" };
static const char *const prompt_methods[] = { "prompts/get" };
static const char *const resource_methods[] = { "resources/read",
						"resources/subscribe",
						"resources/unsubscribe" };

static struct mw_policy *policy_new(const char *file, const void *src,
				    size_t srclen)
{
	struct mw_policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->file = strdup(file);
	p->src = malloc(srclen + 1);
	p->default_action = MW_DECIDE_DENY;
	if (p->src) {
		if (srclen)
			memcpy(p->src, src, srclen);
		p->src[srclen] = '\0';
		p->srclen = srclen;
	}
	if (!p->file || !p->src || mw_sha256_hex(src, srclen, p->sha256)) {
		mw_policy_free(p);
		return NULL;
	}
	return p;
}

struct mw_policy *mw_policy_allow_all(const void *src, size_t srclen)
{
	struct mw_policy *p = policy_new("(none)", src, srclen);

	if (p) {
		p->none = true;
		p->default_action = MW_DECIDE_ALLOW;
	}
	return p;
}

/* ---- scalars ---- */

/* The scalar's text when it has no NUL byte (libyaml allows "\0"). */
static const char *text_of(struct loader *l, yaml_node_t *n, const char *key,
			   size_t max)
{
	const char *s = mw_yaml_scalar(n);

	if (!s) {
		mw_yaml_fail(l->c, n, "%s: expected a string", key);
		return NULL;
	}
	if (strlen(s) != n->data.scalar.length) {
		mw_yaml_fail(l->c, n, "%s: contains a NUL byte", key);
		return NULL;
	}
	if (n->data.scalar.length > max) {
		mw_yaml_fail(l->c, n, "%s: longer than %zu bytes", key, max);
		return NULL;
	}
	return s;
}

static bool digits(const char **p)
{
	const char *start = *p;

	while (**p >= '0' && **p <= '9')
		(*p)++;
	return *p > start;
}

#define POLICY_MAX_EXACT_INT ((((long long)1) << 53) - 1)

/* JSON's number grammar, which YAML's plain scalars are wider than. */
static bool json_number_syntax(const char *s, bool *is_int)
{
	const char *p = s;

	*is_int = true;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (!digits(&p))
		return false;
	if (*p == '.') {
		*is_int = false;
		p++;
		if (!digits(&p))
			return false;
	}
	if (*p == 'e' || *p == 'E') {
		*is_int = false;
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!digits(&p))
			return false;
	}
	return *p == '\0';
}

static int parse_number(struct loader *l, yaml_node_t *n, const char *key,
			struct policy_num *out)
{
	const char *s = mw_yaml_scalar(n);
	bool is_int;
	char *end;

	if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    !json_number_syntax(s, &is_int))
		return mw_yaml_fail(l->c, n, "%s: expected a number", key);
	errno = 0;
	*out = (struct policy_num){ .is_int = is_int };
	if (is_int)
		out->i = strtoll(s, &end, 10);
	else
		out->d = strtod(s, &end);
	if (errno == ERANGE || (!is_int && !isfinite(out->d)))
		return mw_yaml_fail(l->c, n, "%s: '%s' is out of range", key,
				    s);
	/*
	 * Beyond 2^53 - 1 a JavaScript server reads integers rounded: a
	 * client's 2^53 + 1 is 2^53 to it, so a bound there would judge a
	 * value other than the one the server uses. Smaller bounds cannot be
	 * crossed by that rounding. A real there (2^53 written 9.007e15, or
	 * 9007199254740991.5, which rounds to it) is the same bound; beyond
	 * 2^63 there are no integers the daemon holds exactly to round.
	 */
	if (is_int ? out->i > POLICY_MAX_EXACT_INT ||
			     out->i < -POLICY_MAX_EXACT_INT
		   : fabs(out->d) > (double)POLICY_MAX_EXACT_INT &&
			     fabs(out->d) <= 0x1p63)
		return mw_yaml_fail(l->c, n,
				    "%s: '%s' is beyond 2^53 - 1, where "
				    "JavaScript servers read integers rounded: "
				    "the policy would judge another value than "
				    "they use",
				    key, s);
	return 0;
}

/* v, or NULL with a reason when jansson could not make it. */
static json_t *made(struct loader *l, yaml_node_t *n, json_t *v)
{
	if (!v)
		mw_yaml_fail(l->c, n, "equals: out of memory");
	return v;
}

static bool one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

/*
 * A YAML scalar as the JSON value a client would send: quoted scalars are
 * strings; plain ones are typed as in JSON. Plain scalars YAML or JSON
 * could read differently (1_000, .5, yes, 0x10) are refused: quoting says
 * what is meant.
 */
static json_t *scalar_json(struct loader *l, yaml_node_t *n)
{
	static const char *const nulls[] = { "",     "~",    "null",
					     "Null", "NULL", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const yaml11[] = { "y",   "Y",  "yes", "Yes", "YES",
					      "n",   "N",  "no",  "No",	 "NO",
					      "on",  "On", "ON",  "off", "Off",
					      "OFF", NULL };
	const char *s = text_of(l, n, "equals", POLICY_MAX_MESSAGE);
	struct policy_num num;

	if (!s)
		return NULL;
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return made(l, n, json_stringn(s, n->data.scalar.length));
	if (one_of(s, nulls))
		return json_null();
	if (one_of(s, trues))
		return json_true();
	if (one_of(s, falses))
		return json_false();
	if (strchr("-+.0123456789", s[0])) {
		bool is_int;

		if (!json_number_syntax(s, &is_int)) {
			mw_yaml_fail(l->c, n,
				     "equals: '%s' is not a JSON number: "
				     "quote it to mean a string",
				     s);
			return NULL;
		}
		if (parse_number(l, n, "equals", &num))
			return NULL;
		return made(l, n,
			    num.is_int ? json_integer(num.i)
				       : json_real(num.d));
	}
	if (one_of(s, yaml11)) {
		mw_yaml_fail(l->c, n,
			     "equals: '%s' is ambiguous: write true or false, "
			     "or quote it to mean a string",
			     s);
		return NULL;
	}
	return made(l, n, json_stringn(s, n->data.scalar.length));
}

static json_t *yaml_json(struct loader *l, yaml_node_t *n)
{
	json_t *v;

	if (n->type == YAML_SCALAR_NODE)
		return scalar_json(l, n);
	if (n->type == YAML_SEQUENCE_NODE) {
		v = made(l, n, json_array());
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     v && i < n->data.sequence.items.top; i++) {
			json_t *item = yaml_json(l, mw_yaml_node(l->c, *i));

			if (!item || json_array_append_new(v, item)) {
				json_decref(v);
				return item ? made(l, n, NULL) : NULL;
			}
		}
		return v;
	}
	if (mw_yaml_check_unique_keys(l->c, n))
		return NULL;
	v = made(l, n, json_object());
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     v && p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(l->c, p->key);
		const char *key =
			text_of(l, k, "equals: a key", POLICY_MAX_MESSAGE);
		json_t *item =
			key ? yaml_json(l, mw_yaml_node(l->c, p->value)) : NULL;

		if (!item || json_object_set_new(v, key, item)) {
			json_decref(v);
			return item ? made(l, n, NULL) : NULL;
		}
	}
	return v;
}

/* ---- lists of names, uids and globs ---- */

/* A scalar, or a non-empty list of them: items[0..*n). */
static int list_items(struct loader *l, yaml_node_t *n, const char *key,
		      yaml_node_t **items, size_t *count)
{
	if (n->type == YAML_SCALAR_NODE) {
		items[0] = n;
		*count = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return mw_yaml_fail(l->c, n, "%s: expected a value or a list",
				    key);
	*count = (size_t)(n->data.sequence.items.top -
			  n->data.sequence.items.start);
	if (!*count)
		return mw_yaml_fail(l->c, n,
				    "%s: an empty list matches nothing", key);
	if (*count > POLICY_MAX_LIST)
		return mw_yaml_fail(l->c, n, "%s: more than %d entries", key,
				    POLICY_MAX_LIST);
	for (size_t i = 0; i < *count; i++)
		items[i] = mw_yaml_node(l->c, n->data.sequence.items.start[i]);
	return 0;
}

static bool is_server_name(const char *s)
{
	if (!*s || strlen(s) > 63)
		return false;
	for (; *s; s++)
		if (!(*s == '-' || *s == '_' || *s == '.' ||
		      (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static int parse_strs(struct loader *l, yaml_node_t *n, const char *key,
		      struct policy_strs *out)
{
	yaml_node_t *items[POLICY_MAX_LIST];
	size_t count;

	if (list_items(l, n, key, items, &count))
		return -1;
	out->v = calloc(count, sizeof(*out->v));
	if (!out->v)
		return mw_yaml_fail(l->c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *s = text_of(l, items[i], key, POLICY_MAX_STRING);

		if (!s)
			return -1;
		if (!*s)
			return mw_yaml_fail(l->c, items[i], "%s: empty", key);
		if (!strcmp(key, "server") && !is_server_name(s))
			return mw_yaml_fail(l->c, items[i],
					    "server: '%s' is not a server "
					    "name (letters, digits, '-', '_', "
					    "'.')",
					    s);
		out->v[i] = strdup(s);
		if (!out->v[i])
			return mw_yaml_fail(l->c, n, "out of memory");
		out->n++;
	}
	return 0;
}

static int parse_uids(struct loader *l, yaml_node_t *n, struct policy_uids *out)
{
	yaml_node_t *items[POLICY_MAX_LIST];
	size_t count;

	if (list_items(l, n, "uid", items, &count))
		return -1;
	out->v = calloc(count, sizeof(*out->v));
	if (!out->v)
		return mw_yaml_fail(l->c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		unsigned long long v;

		/* (uid_t)-1 is "no uid" to the kernel. */
		if (mw_yaml_get_uint(l->c, items[i], "uid", 0, UINT32_MAX - 1,
				     &v))
			return -1;
		out->v[out->n++] = (uint32_t)v;
	}
	return 0;
}

/*
 * cgroup patterns are paths from the cgroup v2 mount, as `mcpwarden
 * enforce` takes them: a missing leading '/' is implied. exe patterns
 * must be able to match an absolute path.
 */
static int parse_globs(struct loader *l, yaml_node_t *n, const char *key,
		       struct policy_globs *out)
{
	yaml_node_t *items[POLICY_MAX_LIST];
	size_t count;
	bool cgroup = !strcmp(key, "cgroup"), exe = !strcmp(key, "exe");

	if (list_items(l, n, key, items, &count))
		return -1;
	out->v = calloc(count, sizeof(*out->v));
	out->text = calloc(count, sizeof(*out->text));
	if (!out->v || !out->text)
		return mw_yaml_fail(l->c, n, "out of memory");
	for (size_t i = 0; i < count; i++) {
		const char *s = text_of(l, items[i], key, MW_GLOB_MAX_LEN - 1);
		char why[128];
		char *text;

		if (!s)
			return -1;
		if (!*s)
			return mw_yaml_fail(l->c, items[i], "%s: empty", key);
		if (exe && s[0] != '/' && strncmp(s, "**", 2))
			return mw_yaml_fail(l->c, items[i],
					    "exe: '%s' can never match an "
					    "absolute path: start it with '/' "
					    "or '**'",
					    s);
		if (asprintf(&text, "%s%s", cgroup && s[0] != '/' ? "/" : "",
			     s) < 0)
			return mw_yaml_fail(l->c, n, "out of memory");
		out->text[i] = text;
		out->n++;
		if (mw_glob_compile(text, strlen(text), &out->v[i], why,
				    sizeof(why)))
			return mw_yaml_fail(l->c, items[i],
					    "%s: bad pattern '%s': %s", key, s,
					    why);
	}
	return 0;
}

/* ---- request conditions ---- */

/*
 * PCRE2's match state for the policy's regexes, with limits: a pattern
 * that backtracks without end on some input cannot be evaluated there
 * (and the decision says so) rather than hold the daemon.
 */
static int regex_match_state(struct mw_policy *p, struct mw_yaml_ctx *c,
			     yaml_node_t *where)
{
	if (!p->nregexes)
		return 0;
	p->md = pcre2_match_data_create(1, NULL);
	p->mctx = pcre2_match_context_create(NULL);
	if (!p->md || !p->mctx)
		return mw_yaml_fail(c, where, "out of memory");
	pcre2_set_match_limit(p->mctx, POLICY_REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(p->mctx, POLICY_REGEX_DEPTH_LIMIT);
	return 0;
}

static int regex_add(struct loader *l, yaml_node_t *n, bool icase,
		     size_t *index)
{
	struct mw_policy *p = l->p;
	const char *pattern = text_of(l, n, "regex", POLICY_MAX_REGEX);
	struct policy_regex *grown;
	hs_compile_error_t *cerr = NULL;
	hs_database_t *db = NULL;
	pcre2_code *re;
	PCRE2_SIZE at;
	int code;
	long known;
	char *copy;
	unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_ALLOWEMPTY |
			 HS_FLAG_UTF8 | (icase ? HS_FLAG_CASELESS : 0);

	if (!pattern)
		return -1;
	known = policy_keymap_get(&l->regexes[icase], pattern, strlen(pattern));
	if (known >= 0) {
		*index = (size_t)known;
		return 0;
	}
	if (p->nregexes == POLICY_MAX_REGEXES)
		return mw_yaml_fail(l->c, n,
				    "regex: more than %d distinct "
				    "patterns in the policy",
				    POLICY_MAX_REGEXES);
	if (hs_valid_platform() != HS_SUCCESS)
		return mw_yaml_fail(l->c, n,
				    "regex: this CPU cannot run "
				    "Vectorscan (it needs SSSE3)");
	if (hs_compile(pattern, flags, HS_MODE_BLOCK, NULL, &db, &cerr) !=
	    HS_SUCCESS) {
		mw_yaml_fail(l->c, n, "regex: '%s': %s", pattern,
			     cerr ? cerr->message : "cannot compile");
		hs_free_compile_error(cerr);
		return -1;
	}
	hs_free_database(db);
	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
			   PCRE2_UTF | PCRE2_NO_UTF_CHECK |
				   (icase ? PCRE2_CASELESS : 0),
			   &code, &at, NULL);
	if (!re) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(code, msg, sizeof(msg));
		return mw_yaml_fail(l->c, n, "regex: '%s': %s at offset %zu",
				    pattern, (const char *)msg, (size_t)at);
	}
	/* Without the JIT, matching is slower, not wrong. */
	(void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	grown = realloc(p->regexes, (p->nregexes + 1) * sizeof(*grown));
	copy = strdup(pattern);
	if (grown)
		p->regexes = grown;
	if (!grown || !copy) {
		free(copy);
		pcre2_code_free(re);
		return mw_yaml_fail(l->c, n, "out of memory");
	}
	p->regexes[p->nregexes++] = (struct policy_regex){ .pattern = copy,
							   .icase = icase,
							   .re = re };
	*index = p->nregexes - 1;
	if (policy_keymap_put(&l->regexes[icase], copy, strlen(copy),
			      (uint32_t)*index, NULL) < 0)
		return mw_yaml_fail(l->c, n, "out of memory");
	return 0;
}

static int parse_cond(struct loader *l, yaml_node_t *n, bool on_args, int depth,
		      struct policy_cond *out);

static int parse_kids(struct loader *l, yaml_node_t *n, const char *key,
		      bool on_args, int depth, struct policy_cond *out)
{
	size_t count;

	if (n->type != YAML_SEQUENCE_NODE)
		return mw_yaml_fail(l->c, n,
				    "%s: expected a list of "
				    "conditions",
				    key);
	count = (size_t)(n->data.sequence.items.top -
			 n->data.sequence.items.start);
	if (!count)
		return mw_yaml_fail(l->c, n, "%s: an empty list", key);
	if (count > POLICY_MAX_CONDS)
		return mw_yaml_fail(l->c, n, "%s: more than %d conditions", key,
				    POLICY_MAX_CONDS);
	out->kids = calloc(count, sizeof(*out->kids));
	if (!out->kids)
		return mw_yaml_fail(l->c, n, "out of memory");
	/* Counted first: a half-read condition is freed with the rest. */
	for (size_t i = 0; i < count; i++)
		if (parse_cond(
			    l,
			    mw_yaml_node(l->c, n->data.sequence.items.start[i]),
			    on_args, depth + 1, &out->kids[out->nkids++]))
			return -1;
	return 0;
}

static int parse_combinator(struct loader *l, yaml_node_t *n,
			    yaml_node_t *key_node, yaml_node_t *v, bool on_args,
			    int depth, struct policy_cond *out)
{
	const char *key = mw_yaml_scalar(key_node);

	if (n->data.mapping.pairs.top - n->data.mapping.pairs.start != 1)
		return mw_yaml_fail(l->c, key_node,
				    "'%s' cannot be combined with other keys "
				    "in the same condition",
				    key);
	if (!strcmp(key, "not")) {
		out->op = COND_NOT;
		out->kids = calloc(1, sizeof(*out->kids));
		if (!out->kids)
			return mw_yaml_fail(l->c, n, "out of memory");
		out->nkids = 1;
		return parse_cond(l, v, on_args, depth + 1, out->kids);
	}
	out->op = !strcmp(key, "all") ? COND_ALL : COND_ANY;
	return parse_kids(l, v, key, on_args, depth, out);
}

static int parse_leaf_op(struct loader *l, yaml_node_t *k, yaml_node_t *v,
			 struct policy_cond *out, bool *icase_seen, bool *icase,
			 yaml_node_t **regex_node)
{
	static const char *const cmp_keys[CMP_COUNT] = { "lt", "le", "gt",
							 "ge" };
	const char *key = mw_yaml_scalar(k);
	const char *s;

	for (enum cmp_op c = 0; c < CMP_COUNT; c++) {
		if (strcmp(key, cmp_keys[c]))
			continue;
		out->has_cmp[c] = true;
		out->op = COND_COMPARE;
		return parse_number(l, v, key, &out->cmp[c]);
	}
	if (!strcmp(key, "ignore_case")) {
		*icase_seen = true;
		return mw_yaml_get_bool(l->c, v, key, icase);
	}
	if (!strcmp(key, "exists")) {
		out->op = COND_EXISTS;
		return mw_yaml_get_bool(l->c, v, key, &out->exists);
	}
	if (!strcmp(key, "equals")) {
		out->op = COND_EQUALS;
		out->equals = yaml_json(l, v);
		return out->equals ? 0 : -1;
	}
	if (!strcmp(key, "prefix")) {
		out->op = COND_PREFIX;
		s = text_of(l, v, key, POLICY_MAX_MESSAGE);
		if (!s)
			return -1;
		out->prefix_len = strlen(s);
		out->prefix = strdup(s);
		return out->prefix ? 0 : mw_yaml_fail(l->c, v, "out of memory");
	}
	if (!strcmp(key, "regex")) {
		out->op = COND_REGEX;
		*regex_node = v;
		return 0;
	}
	return mw_yaml_fail(l->c, k,
			    "unknown key '%s' in a condition (pointer, "
			    "equals, prefix, regex, ignore_case, exists, lt, "
			    "le, gt, ge, all, any, not)",
			    key);
}

static int parse_leaf(struct loader *l, yaml_node_t *n, bool on_args,
		      struct policy_cond *out)
{
	yaml_node_t *ptr_node = NULL, *regex_node = NULL, *icase_node = NULL;
	bool icase = false, icase_seen = false;
	int exclusive = 0, cmps = 0;
	const char *text;
	char why[128];

	out->on_args = on_args;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(l->c, p->key);
		yaml_node_t *v = mw_yaml_node(l->c, p->value);
		const char *key = mw_yaml_scalar(k);
		bool is_cmp = !strcmp(key, "lt") || !strcmp(key, "le") ||
			      !strcmp(key, "gt") || !strcmp(key, "ge");

		if (!strcmp(key, "pointer")) {
			ptr_node = v;
			continue;
		}
		if (!strcmp(key, "ignore_case"))
			icase_node = k;
		else if (is_cmp)
			cmps++;
		else if (!strcmp(key, "equals") || !strcmp(key, "prefix") ||
			 !strcmp(key, "regex") || !strcmp(key, "exists"))
			exclusive++;
		if (exclusive + (cmps > 0) > 1)
			return mw_yaml_fail(l->c, k,
					    "'%s': one test per condition "
					    "(lt, le, gt and ge may go "
					    "together); use all/any for more",
					    key);
		if (parse_leaf_op(l, k, v, out, &icase_seen, &icase,
				  &regex_node))
			return -1;
	}
	if (!ptr_node)
		return mw_yaml_fail(l->c, n, "a condition needs a pointer");
	if (!exclusive && !cmps)
		return mw_yaml_fail(l->c, n,
				    "a condition needs a test: equals, "
				    "prefix, regex, exists, lt, le, gt or ge");
	if (icase_seen && out->op != COND_REGEX)
		return mw_yaml_fail(l->c, icase_node,
				    "ignore_case: only with regex");
	if (regex_node && regex_add(l, regex_node, icase, &out->regex))
		return -1;
	text = text_of(l, ptr_node, "pointer", MW_JSONPTR_MAX_LEN);
	if (!text)
		return -1;
	if (mw_jsonptr_compile(text, strlen(text), &out->ptr, why, sizeof(why)))
		return mw_yaml_fail(l->c, ptr_node, "pointer '%s': %s", text,
				    why);
	return 0;
}

static int parse_cond(struct loader *l, yaml_node_t *n, bool on_args, int depth,
		      struct policy_cond *out)
{
	out->line = (unsigned)n->start_mark.line + 1;
	out->col = (unsigned)n->start_mark.column + 1;
	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(l->c, n,
				    "expected a condition (a "
				    "mapping)");
	if (++l->nconds > POLICY_MAX_CONDS)
		return mw_yaml_fail(l->c, n,
				    "more than %d conditions in one "
				    "rule",
				    POLICY_MAX_CONDS);
	if (depth > POLICY_MAX_COND_DEPTH)
		return mw_yaml_fail(l->c, n,
				    "conditions nested deeper than "
				    "%d levels",
				    POLICY_MAX_COND_DEPTH);
	if (mw_yaml_check_unique_keys(l->c, n))
		return -1;
	if (n->data.mapping.pairs.start == n->data.mapping.pairs.top)
		return mw_yaml_fail(l->c, n, "an empty condition");
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(l->c, p->key);
		const char *key = mw_yaml_scalar(k);

		if (!key)
			return mw_yaml_fail(l->c, k, "expected a key");
		if (!strcmp(key, "all") || !strcmp(key, "any") ||
		    !strcmp(key, "not"))
			return parse_combinator(l, n, k,
						mw_yaml_node(l->c, p->value),
						on_args, depth, out);
	}
	return parse_leaf(l, n, on_args, out);
}

/* args: and params: are each a condition or a list of them (all hold). */
static int parse_when(struct loader *l, yaml_node_t *args, yaml_node_t *params,
		      struct policy_rule *r)
{
	yaml_node_t *roots[2] = { args, params };
	size_t count = 0;

	for (int k = 0; k < 2; k++)
		if (roots[k])
			count += roots[k]->type == YAML_SEQUENCE_NODE
					 ? (size_t)(roots[k]->data.sequence
							    .items.top -
						    roots[k]->data.sequence
							    .items.start)
					 : 1;
	if (!count)
		return 0;
	if (count > POLICY_MAX_CONDS)
		return mw_yaml_fail(l->c, args ? args : params,
				    "more than %d conditions in one rule",
				    POLICY_MAX_CONDS);
	r->when = calloc(1, sizeof(*r->when));
	if (!r->when)
		return mw_yaml_fail(l->c, args ? args : params,
				    "out of memory");
	r->when->op = COND_ALL;
	r->when->kids = calloc(count, sizeof(*r->when->kids));
	if (!r->when->kids)
		return mw_yaml_fail(l->c, args ? args : params,
				    "out of memory");
	for (int k = 0; k < 2; k++) {
		yaml_node_t *n = roots[k];

		if (!n)
			continue;
		if (n->type != YAML_SEQUENCE_NODE) {
			if (parse_cond(l, n, k == 0, 1,
				       &r->when->kids[r->when->nkids++]))
				return -1;
			continue;
		}
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top; i++) {
			if (parse_cond(l, mw_yaml_node(l->c, *i), k == 0, 1,
				       &r->when->kids[r->when->nkids++]))
				return -1;
		}
	}
	if (!r->when->nkids)
		return mw_yaml_fail(l->c, args ? args : params,
				    "an empty list of conditions");
	return 0;
}

/* ---- rules ---- */

/* The nodes of one rule's keys, read first, then checked together. */
struct rule_nodes {
	yaml_node_t *name, *description, *action, *message, *mode, *direction;
	yaml_node_t *server, *method, *target, *user, *uid, *group, *cgroup;
	yaml_node_t *exe, *subject, *oidc_group, *args, *params;
	yaml_node_t *tool_changed;
	yaml_node_t *target_key;
};

static int collect_keys(struct loader *l, yaml_node_t *n, struct rule_nodes *rn,
			struct policy_rule *r)
{
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(l->c, p->key);
		yaml_node_t *v = mw_yaml_node(l->c, p->value);
		const char *key = mw_yaml_scalar(k);
		struct {
			const char *key;
			yaml_node_t **slot;
		} slots[] = {
			{ "name", &rn->name },
			{ "description", &rn->description },
			{ "action", &rn->action },
			{ "message", &rn->message },
			{ "mode", &rn->mode },
			{ "direction", &rn->direction },
			{ "server", &rn->server },
			{ "method", &rn->method },
			{ "user", &rn->user },
			{ "uid", &rn->uid },
			{ "group", &rn->group },
			{ "cgroup", &rn->cgroup },
			{ "exe", &rn->exe },
			{ "subject", &rn->subject },
			{ "oidc_group", &rn->oidc_group },
			{ "args", &rn->args },
			{ "params", &rn->params },
			{ "tool_changed", &rn->tool_changed },
		};
		enum target_kind kind = TARGET_NONE;
		bool known = false;

		if (!key)
			return mw_yaml_fail(l->c, k, "expected a key");
		for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
			if (!strcmp(key, slots[i].key)) {
				*slots[i].slot = v;
				known = true;
			}
		if (!strcmp(key, "tool"))
			kind = TARGET_TOOL;
		else if (!strcmp(key, "prompt"))
			kind = TARGET_PROMPT;
		else if (!strcmp(key, "resource"))
			kind = TARGET_RESOURCE;
		if (kind != TARGET_NONE && rn->target)
			return mw_yaml_fail(l->c, k,
					    "'%s': a rule names one of tool, "
					    "prompt or resource",
					    key);
		if (kind != TARGET_NONE) {
			r->target_kind = kind;
			rn->target = v;
			rn->target_key = k;
			known = true;
		}
		if (!known)
			return mw_yaml_fail(l->c, k,
					    "unknown key '%s' in a rule", key);
	}
	return 0;
}

static bool is_rule_name(const char *s)
{
	if (!*s || strlen(s) > POLICY_MAX_NAME)
		return false;
	for (; *s; s++)
		if (!(*s == '-' || *s == '_' || *s == '.' || *s == ':' ||
		      *s == '/' || *s == '@' || (*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

static int parse_name(struct loader *l, yaml_node_t *rule_node,
		      struct rule_nodes *rn, struct policy_rule *r,
		      size_t index)
{
	const char *s;
	uint32_t first;
	int rc;

	if (!rn->name)
		return mw_yaml_fail(l->c, rule_node, "a rule needs a name");
	s = text_of(l, rn->name, "name", POLICY_MAX_NAME);
	if (!s)
		return -1;
	if (!is_rule_name(s))
		return mw_yaml_fail(l->c, rn->name,
				    "name: '%s': use letters, digits and "
				    "'-', '_', '.', ':', '/', '@'",
				    s);
	r->name = strdup(s);
	if (!r->name)
		return mw_yaml_fail(l->c, rn->name, "out of memory");
	rc = policy_keymap_put(&l->names, r->name, strlen(r->name),
			       (uint32_t)index, &first);
	if (rc < 0)
		return mw_yaml_fail(l->c, rn->name, "out of memory");
	if (rc > 0)
		return mw_yaml_fail(l->c, rn->name,
				    "name: '%s' is already the name of the "
				    "rule at line %u",
				    s, l->p->rules[first].line);
	return 0;
}

static int parse_word(struct loader *l, yaml_node_t *n, const char *key,
		      const char *const *words, int *out)
{
	const char *s = mw_yaml_scalar(n);

	for (int i = 0; s && words[i]; i++)
		if (!strcmp(s, words[i])) {
			*out = i;
			return 0;
		}
	if (!words[2])
		return mw_yaml_fail(l->c, n, "%s: expected %s or %s", key,
				    words[0], words[1]);
	return mw_yaml_fail(l->c, n, "%s: expected %s, %s or %s", key, words[0],
			    words[1], words[2]);
}

static int parse_action(struct loader *l, yaml_node_t *rule_node,
			struct rule_nodes *rn, struct policy_rule *r)
{
	static const char *const actions[] = { "allow", "deny", "approve",
					       NULL };
	static const char *const modes[] = { "enforce", "audit", NULL };
	static const char *const dirs[] = { "client", "server", "any", NULL };
	int action, mode = 0, dir = 0;

	if (!rn->action)
		return mw_yaml_fail(l->c, rule_node,
				    "rule '%s' needs an action (allow, deny "
				    "or approve)",
				    r->name);
	if (parse_word(l, rn->action, "action", actions, &action) ||
	    (rn->mode && parse_word(l, rn->mode, "mode", modes, &mode)) ||
	    (rn->direction &&
	     parse_word(l, rn->direction, "direction", dirs, &dir)))
		return -1;
	r->action = (enum mw_policy_action)action;
	r->audit = mode == 1;
	r->from_client = dir != 1;
	r->from_server = dir != 0;
	if (r->audit && r->action == MW_DECIDE_ALLOW)
		return mw_yaml_fail(l->c, rn->mode,
				    "mode: audit is for deny and approve "
				    "rules (an allow rule changes nothing to "
				    "record)");
	if (rn->message && r->action == MW_DECIDE_ALLOW)
		return mw_yaml_fail(l->c, rn->message,
				    "message: only deny and approve rules "
				    "answer the client");
	if (rn->description &&
	    !text_of(l, rn->description, "description", POLICY_MAX_MESSAGE))
		return -1;
	return 0;
}

static int parse_message(struct loader *l, struct rule_nodes *rn,
			 struct policy_rule *r)
{
	const char *msg;

	if (!rn->message)
		return 0;
	msg = text_of(l, rn->message, "message", POLICY_MAX_MESSAGE);
	if (!msg)
		return -1;
	if (!*msg)
		return mw_yaml_fail(l->c, rn->message, "message: empty");
	r->message = strdup(msg);
	if (!r->message)
		return mw_yaml_fail(l->c, rn->message, "out of memory");
	return 0;
}

/*
 * tool, prompt and resource each belong to their methods: given alone,
 * they imply them; with method, every method must be one of them.
 */
static int parse_target(struct loader *l, struct rule_nodes *rn,
			struct policy_rule *r)
{
	const char *const *implied;
	size_t nimplied, len;
	const char *key = mw_yaml_scalar(rn->target_key);
	char why[128];

	if (r->target_kind == TARGET_NONE)
		return 0;
	implied = r->target_kind == TARGET_TOOL	    ? tool_methods
		  : r->target_kind == TARGET_PROMPT ? prompt_methods
						    : resource_methods;
	nimplied = r->target_kind == TARGET_RESOURCE ? 3 : 1;
	if (r->from_server)
		return mw_yaml_fail(l->c, rn->direction,
				    "direction: '%s' names what a client "
				    "asks for: client only",
				    key);
	if (parse_globs(l, rn->target, key, &r->targets))
		return -1;
	for (size_t i = 0; i < r->methods.n; i++) {
		const char *method = mw_glob_literal(r->methods.v[i], &len);
		bool ok = false;

		for (size_t k = 0; method && k < nimplied; k++)
			ok |= !strcmp(method, implied[k]);
		if (!ok)
			return mw_yaml_fail(l->c, rn->method,
					    "method: '%s' has no %s: '%s' "
					    "applies to %s%s",
					    r->methods.text[i], key, key,
					    implied[0],
					    nimplied > 1 ? " and resources/"
							   "(un)subscribe"
							 : "");
	}
	if (r->methods.n)
		return 0;
	r->methods.v = calloc(nimplied, sizeof(*r->methods.v));
	r->methods.text = calloc(nimplied, sizeof(*r->methods.text));
	if (!r->methods.v || !r->methods.text)
		return mw_yaml_fail(l->c, rn->target, "out of memory");
	for (size_t k = 0; k < nimplied; k++) {
		r->methods.text[k] = strdup(implied[k]);
		r->methods.n++;
		if (!r->methods.text[k] ||
		    mw_glob_compile(implied[k], strlen(implied[k]),
				    &r->methods.v[k], why, sizeof(why)))
			return mw_yaml_fail(l->c, rn->target, "out of memory");
	}
	return 0;
}

static int parse_rule(struct loader *l, yaml_node_t *n, size_t index)
{
	struct policy_rule *r = &l->p->rules[index];
	struct rule_nodes rn = { 0 };

	r->line = (unsigned)n->start_mark.line + 1;
	r->col = (unsigned)n->start_mark.column + 1;
	l->nconds = 0;
	if (n->type != YAML_MAPPING_NODE)
		return mw_yaml_fail(l->c, n, "rules: each rule is a mapping");
	if (mw_yaml_check_unique_keys(l->c, n) || collect_keys(l, n, &rn, r) ||
	    parse_name(l, n, &rn, r, index) || parse_action(l, n, &rn, r) ||
	    parse_message(l, &rn, r))
		return -1;
	if ((rn.server && parse_strs(l, rn.server, "server", &r->servers)) ||
	    (rn.method && parse_globs(l, rn.method, "method", &r->methods)) ||
	    (rn.user && parse_strs(l, rn.user, "user", &r->users)) ||
	    (rn.group && parse_strs(l, rn.group, "group", &r->groups)) ||
	    (rn.subject &&
	     parse_strs(l, rn.subject, "subject", &r->subjects)) ||
	    (rn.oidc_group &&
	     parse_strs(l, rn.oidc_group, "oidc_group", &r->oidc_groups)) ||
	    (rn.uid && parse_uids(l, rn.uid, &r->uids)) ||
	    (rn.cgroup && parse_globs(l, rn.cgroup, "cgroup", &r->cgroups)) ||
	    (rn.exe && parse_globs(l, rn.exe, "exe", &r->exes)) ||
	    parse_target(l, &rn, r) || parse_when(l, rn.args, rn.params, r))
		return -1;
	if (rn.tool_changed) {
		if (mw_yaml_get_bool(l->c, rn.tool_changed, "tool_changed",
				     &r->tool_changed))
			return -1;
		r->has_tool_changed = true;
	}
	return 0;
}

int mw_policy_from_yaml(struct mw_yaml_ctx *c, yaml_node_t *default_node,
			yaml_node_t *rules_node, const void *src, size_t srclen,
			struct mw_policy **out)
{
	static const char *const defaults[] = { "allow", "deny", NULL };
	struct mw_yaml_ctx pc = *c;
	struct loader l = { .c = &pc };
	struct mw_policy *p;
	size_t count = 0;
	int def;

	/* Policy errors always say the column: rules sit side by side. */
	pc.columns = true;
	*out = NULL;
	p = policy_new(c->file, src, srclen);
	if (!p)
		return mw_yaml_fail(&pc, NULL, "out of memory");
	l.p = p;
	if (default_node) {
		if (mw_yaml_check_tree(&pc, default_node, 1) ||
		    parse_word(&l, default_node, "default", defaults, &def))
			goto fail;
		p->default_explicit = true;
		p->default_action = def ? MW_DECIDE_DENY : MW_DECIDE_ALLOW;
	}
	if (rules_node) {
		if (rules_node->type != YAML_SEQUENCE_NODE) {
			mw_yaml_fail(&pc, rules_node, "rules: expected a list");
			goto fail;
		}
		if (mw_yaml_check_tree(&pc, rules_node, POLICY_MAX_YAML_DEPTH))
			goto fail;
		count = (size_t)(rules_node->data.sequence.items.top -
				 rules_node->data.sequence.items.start);
	}
	if (count > MW_POLICY_MAX_RULES) {
		mw_yaml_fail(&pc, rules_node, "rules: more than %d",
			     MW_POLICY_MAX_RULES);
		goto fail;
	}
	p->rules = calloc(count ? count : 1, sizeof(*p->rules));
	if (!p->rules) {
		mw_yaml_fail(&pc, rules_node, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		/* Counted first: a half-read rule is freed with the rest. */
		p->nrules++;
		if (parse_rule(&l,
			       mw_yaml_node(&pc, rules_node->data.sequence.items
							 .start[i]),
			       i))
			goto fail;
	}
	if (policy_index_build(p, pc.err, pc.errlen) ||
	    regex_match_state(p, &pc, rules_node))
		goto fail;
	policy_keymap_free(&l.names);
	policy_keymap_free(&l.regexes[0]);
	policy_keymap_free(&l.regexes[1]);
	*out = p;
	return 0;
fail:
	policy_keymap_free(&l.names);
	policy_keymap_free(&l.regexes[0]);
	policy_keymap_free(&l.regexes[1]);
	mw_policy_free(p);
	return -1;
}

int mw_policy_load_file(const char *path, struct mw_policy **out,
			char sha256_hex[MW_POLICY_SHA256_HEX], char *err,
			size_t errlen)
{
	struct mw_yaml_ctx c = {
		.err = err, .errlen = errlen, .file = path, .columns = true
	};
	yaml_node_t *root, *default_node = NULL, *rules_node = NULL;
	yaml_document_t doc;
	char *bytes;
	size_t len;
	int rc = -1;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (mw_yaml_read_file(path, MW_POLICY_MAX_BYTES, &bytes, &len, err,
			      errlen))
		return -1;
	if (mw_yaml_parse(&c, bytes, len, &doc))
		goto out_bytes;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		mw_yaml_fail(&c, NULL, "empty file");
		goto out_doc;
	}
	if (root->type != YAML_MAPPING_NODE) {
		mw_yaml_fail(&c, root, "expected a mapping at the top");
		goto out_doc;
	}
	if (mw_yaml_check_unique_keys(&c, root))
		goto out_doc;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = mw_yaml_node(&c, p->key);
		const char *key = mw_yaml_scalar(k);

		if (key && !strcmp(key, "default")) {
			default_node = mw_yaml_node(&c, p->value);
		} else if (key && !strcmp(key, "rules")) {
			rules_node = mw_yaml_node(&c, p->value);
		} else {
			mw_yaml_fail(&c, k,
				     "unknown key '%s' (a policy file holds "
				     "'default' and 'rules')",
				     key ? key : "?");
			goto out_doc;
		}
	}
	rc = mw_policy_from_yaml(&c, default_node, rules_node, bytes, len, out);
	if (!rc && sha256_hex)
		memcpy(sha256_hex, (*out)->sha256, MW_POLICY_SHA256_HEX);
out_doc:
	yaml_document_delete(&doc);
out_bytes:
	free(bytes);
	return rc;
}
