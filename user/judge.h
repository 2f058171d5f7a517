/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The policy applied to MCP traffic: a decision for each message of a
 * batch (a batch goes through only when every message in it may), what the
 * audit row says about it, the error a client gets instead of a refused
 * call, and the tools a caller never sees in tools/list.
 */
#ifndef MW_JUDGE_H
#define MW_JUDGE_H

#include <stddef.h>

#include <jansson.h>

#include "identity.h"
#include "jsonrpc.h"
#include "pins.h"
#include "policy.h"

/* The JSON-RPC error of a request the policy refused. */
#define MW_RPC_POLICY_REFUSED (-32003)

/* Who is behind a connection, as rules see it; lives as long as id. */
struct mw_judge_who {
	struct mw_policy_subject subject;
	const char *groups[MW_IDENTITY_MAX_GROUPS];
};

void mw_judge_who_init(struct mw_judge_who *w, const struct mw_identity *id);

/*
 * Judges the requests and notifications of b into d[0..b->n), in either
 * direction; responses are not judged (they answer what was judged the
 * other way) and get MW_DECIDE_ALLOW with no rule. pins (may be NULL) say
 * which tools changed since an operator accepted them. Returns the batch's
 * action: allow only when every message may go; otherwise *culprit is the
 * first that may not.
 */
enum mw_policy_action
mw_judge_batch(const struct mw_policy *p, const struct mw_pins *pins,
	       const struct mw_judge_who *w, const char *server,
	       enum mw_policy_direction dir, const struct mw_rpc_batch *b,
	       struct mw_policy_decision *d, size_t *culprit);

/*
 * What the audit row says: "allow", "deny", "approval_required", or, when
 * an audit-mode rule would have refused an allowed message, "would_deny"
 * or "would_require_approval". NULL for messages that were not judged.
 */
const char *mw_judge_decision_name(const struct mw_policy_decision *d);
/* The rule the audit row names: the audit-mode rule for "would_*". */
const char *mw_judge_rule(const struct mw_policy_decision *d);

/*
 * Why the culprit of a refused batch was refused, as the client reads it;
 * for the other messages of the batch, that they went down with it.
 */
void mw_judge_reason(const struct mw_policy_decision *d, char *out,
		     size_t outlen);

/*
 * The JSON-RPC answer to a refused batch, as compact text to free(): an
 * error for each request (one object, or an array for a batch), with the
 * request's id. NULL when the batch has no request (notifications only) or
 * memory runs out.
 */
char *mw_judge_refusal(const struct mw_rpc_batch *b,
		       const struct mw_policy_decision *d, size_t culprit);

/*
 * Removes from a tools/list result the tools that w can never call on
 * server (mw_policy_tool_visible()); returns how many went.
 */
size_t mw_judge_filter_tools(const struct mw_policy *p,
			     const struct mw_pins *pins,
			     const struct mw_judge_who *w, const char *server,
			     json_t *result);

#endif
