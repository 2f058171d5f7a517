/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy engine: rules loaded from YAML (policy/README.md is the
 * reference), judged per JSON-RPC message.
 *
 * Rules are tried in file order; the first enforced rule that matches
 * decides. Audit-mode rules that match on the way are reported and
 * evaluation goes on. When no enforced rule matches, the default decides
 * (written "default: allow|deny"; deny when the policy does not say).
 *
 * A loaded policy is immutable, but mw_policy_decide() and
 * mw_policy_tool_visible() use a regex scratch area held in it: call them
 * from one thread at a time per policy (the daemon has one loop thread).
 * Nothing on those paths allocates.
 */
#ifndef MW_POLICY_H
#define MW_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "digest.h"

#define MW_POLICY_MAX_BYTES (1 << 20)
#define MW_POLICY_MAX_RULES 10000
#define MW_POLICY_SHA256_HEX MW_SHA256_HEX

/* The rule name a decision carries when no rule decided. */
#define MW_POLICY_DEFAULT_RULE "(default)"
/* ... and when the configuration has no policy at all (allow all). */
#define MW_POLICY_NONE_RULE "(no policy)"
/* ... and when the policy could not be evaluated (denied: fail closed). */
#define MW_POLICY_ERROR_RULE "(error)"

struct mw_policy;
struct mw_yaml_ctx;
struct yaml_node_s;

enum mw_policy_action {
	MW_DECIDE_ALLOW,
	MW_DECIDE_DENY,
	MW_DECIDE_APPROVE, /* held for a human: answered as a denial for now */
};

enum mw_policy_direction {
	MW_POLICY_FROM_CLIENT, /* a request the client sends the server */
	MW_POLICY_FROM_SERVER, /* sampling/createMessage, roots/list, ... */
};

/*
 * Who sent the message (for MW_POLICY_FROM_SERVER: the client connection
 * the server's request travels to). Strings may be NULL when unknown; a
 * condition on an unknown value does not match.
 */
struct mw_policy_subject {
	uint32_t uid, gid;
	const char *user; /* name of uid */
	/* Names of the primary group and the supplementary groups of user. */
	const char *const *groups;
	size_t ngroups;
	/* the name or the groups could not all be read: a deny rule's
	 * condition on them matches, an allow or approve rule's does not */
	bool user_unknown, groups_unknown;
	const char *cgroup; /* "/a.slice/b.service": relative to the v2 mount */
	const char *exe; /* executable path */
	/* From a verified OIDC bearer token: none yet. */
	const char *oidc_subject;
	const char *const *oidc_groups;
	size_t noidc_groups;
};

struct mw_policy_input {
	struct mw_policy_subject subject;
	enum mw_policy_direction direction;
	const char *server; /* the configured server name */
	const char *method; /* JSON-RPC method */
	/*
	 * What the request names, as mw_policy_target() gives it: the tool
	 * of tools/call, the prompt of prompts/get, the URI of
	 * resources/read|subscribe|unsubscribe; NULL for other methods.
	 */
	const char *target;
	/*
	 * The request's params (jansson, so strings are valid UTF-8), or
	 * NULL. Argument conditions look at params.arguments, params
	 * conditions at params.
	 */
	const json_t *params;
	/*
	 * A tools/call of a tool whose definition changed since an operator
	 * accepted it (tool pinning): rules may match on it.
	 */
	bool tool_changed;
};

struct mw_policy_decision {
	enum mw_policy_action action;
	/* The deciding rule's name, or one of the MW_POLICY_*_RULE names. */
	const char *rule;
	int rule_index; /* in file order; -1 when no rule decided */
	/*
	 * The deciding rule's "message" as written (only deny and approve
	 * rules have one), for the client; NULL when there is none.
	 */
	const char *message;
	/*
	 * The first audit-mode rule that matched before the decision (it
	 * would have denied or asked for approval), or NULL.
	 */
	const char *audit_rule;
	enum mw_policy_action audit_action;
};

/* The target (see mw_policy_input) of a request, borrowed from params. */
const char *mw_policy_target(const char *method, const json_t *params);

/*
 * Judges one message. Always fills d; returns 0, or -1 when the policy
 * could not be evaluated (then d denies with rule MW_POLICY_ERROR_RULE).
 */
int mw_policy_decide(const struct mw_policy *p,
		     const struct mw_policy_input *in,
		     struct mw_policy_decision *d);

/*
 * For filtering tools/list: false only when the subject can never call
 * the tool on that server, whatever the arguments. Rules are walked in
 * order, audit-mode rules skipped; a matching rule without request
 * conditions decides (deny: hidden; allow, approve: visible); a matching
 * rule with request conditions shows the tool when it allows or asks for
 * approval, and is passed over when it denies; then the default decides.
 */
bool mw_policy_tool_visible(const struct mw_policy *p,
			    const struct mw_policy_subject *subject,
			    const char *server, const char *tool,
			    bool tool_changed);

/*
 * Same decision as mw_policy_decide(), reached by trying every rule in
 * order (no index), writing to out why rules matched, or with verbose why
 * each rule tried did not.
 */
int mw_policy_explain(const struct mw_policy *p,
		      const struct mw_policy_input *in,
		      struct mw_policy_decision *d, FILE *out, bool verbose);

/*
 * Loads a policy file (top-level keys "default" and "rules"). 0, or -1
 * with "file:line:column: reason" in err. sha256_hex (may be NULL) gets
 * the SHA-256 of the file's bytes.
 */
int mw_policy_load_file(const char *path, struct mw_policy **out,
			char sha256_hex[MW_POLICY_SHA256_HEX], char *err,
			size_t errlen);

/*
 * For the configuration loader: a policy from nodes of an already parsed
 * document (either node may be NULL), errors reported through c. src and
 * srclen are the bytes the document was parsed from, hashed.
 */
int mw_policy_from_yaml(struct mw_yaml_ctx *c, struct yaml_node_s *default_node,
			struct yaml_node_s *rules_node, const void *src,
			size_t srclen, struct mw_policy **out);

/*
 * The policy of a configuration that has none: everything allowed, with
 * rule MW_POLICY_NONE_RULE. src is hashed as the policy's source.
 */
struct mw_policy *mw_policy_allow_all(const void *src, size_t srclen);

/*
 * Refuses a policy whose rules name a server not in names[0..n): a
 * misspelt server would silently never match. Error at the rule.
 */
int mw_policy_check_servers(const struct mw_policy *p, const char *const *names,
			    size_t n, char *err, size_t errlen);

void mw_policy_free(struct mw_policy *p);

size_t mw_policy_rule_count(const struct mw_policy *p);
/* The default action, and whether the file wrote it. */
enum mw_policy_action mw_policy_default(const struct mw_policy *p,
					bool *explicit_default);
bool mw_policy_is_none(const struct mw_policy *p);
/* Hex SHA-256 of the bytes the policy was loaded from. */
const char *mw_policy_sha256(const struct mw_policy *p);
/* Those bytes (NUL-terminated; *len without the NUL). */
const char *mw_policy_source(const struct mw_policy *p, size_t *len);
const char *mw_policy_action_name(enum mw_policy_action a);

#endif
