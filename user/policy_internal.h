/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy's compiled form, shared by its loader (policy_load.c), its
 * index (policy_index.c) and its evaluator (policy.c). Not for callers.
 */
#ifndef MW_POLICY_INTERNAL_H
#define MW_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <jansson.h>

#include "glob.h"
#include "jsonptr.h"
#include "policy.h"

#define POLICY_MAX_NAME 128
#define POLICY_MAX_STRING 256 /* user, group, method, ... */
#define POLICY_MAX_MESSAGE 1024
#define POLICY_MAX_REGEX 1024
#define POLICY_MAX_REGEXES 1000 /* distinct; each compiles in ~1 ms */
/* PCRE2 work on one string: beyond, the condition cannot be evaluated */
#define POLICY_REGEX_MATCH_LIMIT 1000000u
#define POLICY_REGEX_DEPTH_LIMIT 10000u
#define POLICY_MAX_LIST 256 /* entries of one list */
#define POLICY_MAX_CONDS 256 /* condition nodes in one rule */
#define POLICY_MAX_COND_DEPTH 16 /* all/any/not nesting */
#define POLICY_MAX_YAML_DEPTH 64
#define POLICY_MAX_INDEX_BYTES (64u << 20)

enum cond_op {
	COND_ALL,
	COND_ANY,
	COND_NOT,
	COND_EXISTS,
	COND_EQUALS,
	COND_PREFIX,
	COND_REGEX,
	COND_COMPARE,
};

/* A JSON number as written: exact for integers, double otherwise. */
struct policy_num {
	bool is_int;
	long long i;
	double d;
};

enum cmp_op { CMP_LT, CMP_LE, CMP_GT, CMP_GE, CMP_COUNT };

struct policy_cond {
	enum cond_op op;
	unsigned line, col;
	/* COND_ALL, COND_ANY: kids[0..nkids); COND_NOT: kids[0]. */
	struct policy_cond *kids;
	size_t nkids;
	/* Leaves: the pointer, into params.arguments or into params. */
	bool on_args;
	struct mw_jsonptr *ptr;
	bool exists;
	json_t *equals;
	char *prefix;
	size_t prefix_len;
	size_t regex; /* index into mw_policy.regexes */
	bool has_cmp[CMP_COUNT];
	struct policy_num cmp[CMP_COUNT];
};

struct policy_strs {
	char **v;
	size_t n;
};

struct policy_globs {
	struct mw_glob **v;
	char **text; /* as written, for explanations */
	size_t n;
};

struct policy_uids {
	uint32_t *v;
	size_t n;
};

enum target_kind { TARGET_NONE, TARGET_TOOL, TARGET_PROMPT, TARGET_RESOURCE };

struct policy_rule {
	char *name;
	unsigned line, col;
	enum mw_policy_action action;
	bool audit;
	bool from_client, from_server;
	char *message; /* as written; deny and approve only; or NULL */
	struct policy_strs servers, users, groups, subjects, oidc_groups;
	enum target_kind target_kind;
	struct policy_globs methods, targets, cgroups, exes;
	struct policy_uids uids;
	/* tool_changed: the tools/call is (or is not) of a tool whose
	 * definition changed since an operator accepted it (pins.c) */
	bool has_tool_changed, tool_changed;
	struct policy_cond *when; /* COND_ALL of args and params, or NULL */
};

/*
 * A regex is checked by Vectorscan when the policy loads (its syntax is
 * the accepted one: no back-references, no look-around) and matched with
 * PCRE2: Debian 12's Vectorscan (5.4.9) misses matches on some inputs
 * ("[a-z]+@" after a long run of one letter), and a guard that misses lets
 * a call through.
 */
struct policy_regex {
	char *pattern;
	bool icase;
	pcre2_code *re;
};

/* Byte-string keys to small integers, open addressing, fixed at load. */
struct policy_keymap {
	struct policy_slot {
		const char *key; /* borrowed from the rules; NULL: empty */
		size_t len;
		uint64_t hash;
		uint32_t value;
	} * slots;
	size_t cap, n; /* cap: a power of two, or 0 */
};

/*
 * Which rules may match one field's value, as bitsets in file order:
 * a rule is in none[] when it has no condition on the field, in
 * sets[key] when its condition accepts that key, in glob[] when its
 * condition has a wildcard (so may accept keys not seen at load).
 */
struct policy_dim {
	struct policy_keymap keys;
	uint64_t *none, *glob, *sets;
	size_t nkeys;
	bool has_glob;
};

struct policy_index {
	size_t words; /* per bitset */
	uint64_t *from_client, *from_server;
	struct policy_dim server, method, target, user, uid, group, subject,
		oidc_group;
};

struct mw_policy {
	char sha256[MW_POLICY_SHA256_HEX];
	char *file;
	char *src; /* the bytes hashed, NUL-terminated (for the audit trail) */
	size_t srclen;
	bool none; /* the configuration has no policy: allow all */
	bool default_explicit;
	enum mw_policy_action default_action;
	struct policy_rule *rules;
	size_t nrules;
	struct policy_regex *regexes;
	size_t nregexes;
	/* PCRE2's match state (decisions run on one thread), its limits */
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	struct policy_index index;
};

int policy_keymap_put(struct policy_keymap *m, const char *key, size_t len,
		      uint32_t value, uint32_t *existing);
/* The value of key, or -1. */
long policy_keymap_get(const struct policy_keymap *m, const char *key,
		       size_t len);
void policy_keymap_free(struct policy_keymap *m);

int policy_index_build(struct mw_policy *p, char *err, size_t errlen);
void policy_index_free(struct policy_index *ix);

/*
 * What the index could not settle for a message: the method or target
 * matched no name written in the rules, so rules with wildcards there are
 * candidates to check one by one. Every other field is settled.
 */
struct policy_recheck {
	bool method, target;
	/* the subject's user or groups not all read: not settled by the
	 * index (a deny rule on them matches, policy.c) */
	bool subject;
};

/* The rules that may match in, into out[0..words), in file order. */
void policy_index_candidates(const struct mw_policy *p,
			     const struct mw_policy_input *in, uint64_t *out,
			     struct policy_recheck *recheck);

#define POLICY_MAX_WORDS ((MW_POLICY_MAX_RULES + 63) / 64)

#endif
