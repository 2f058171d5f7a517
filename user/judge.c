// SPDX-License-Identifier: BSD-2-Clause
#include "judge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mw_judge_who_init(struct mw_judge_who *w, const struct mw_identity *id)
{
	struct mw_policy_subject *s = &w->subject;

	memset(w, 0, sizeof(*w));
	s->uid = id->uid;
	s->gid = id->gid;
	s->user = id->user;
	s->ngroups = mw_identity_groups(id, w->groups, MW_IDENTITY_MAX_GROUPS);
	s->groups = w->groups;
	s->user_unknown = id->user_unknown;
	s->groups_unknown = id->groups_unknown;
	/* An unresolved cgroup ("cgroup:ID") or an executable not known
	 * ("") is unknown: an allow or approve rule's condition on it does
	 * not match, a deny rule's does (policy.c). */
	s->cgroup = id->cgroup[0] == '/' ? id->cgroup : NULL;
	s->exe = id->exe[0] ? id->exe : NULL;
}

enum mw_policy_action
mw_judge_batch(const struct mw_policy *p, const struct mw_pins *pins,
	       const struct mw_judge_who *w, const char *server,
	       enum mw_policy_direction dir, const struct mw_rpc_batch *b,
	       struct mw_policy_decision *d, size_t *culprit)
{
	enum mw_policy_action batch = MW_DECIDE_ALLOW;

	*culprit = 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct mw_rpc_msg *m = &b->msgs[i];
		struct mw_policy_input in = {
			.subject = w->subject,
			.direction = dir,
			.server = server,
			.method = m->method,
			.target = m->name,
			.params = m->params,
			.tool_changed = pins && m->tool &&
					mw_pins_changed(pins, server, m->tool),
		};

		memset(&d[i], 0, sizeof(d[i]));
		d[i].action = MW_DECIDE_ALLOW;
		d[i].rule_index = -1;
		if (!m->method)
			continue;
		/* A policy that cannot be evaluated has denied (fail closed):
		 * d says so with MW_POLICY_ERROR_RULE. */
		mw_policy_decide(p, &in, &d[i]);
		if (d[i].action != MW_DECIDE_ALLOW &&
		    batch == MW_DECIDE_ALLOW) {
			batch = d[i].action;
			*culprit = i;
		}
	}
	return batch;
}

const char *mw_judge_decision_name(const struct mw_policy_decision *d)
{
	if (!d->rule)
		return NULL;
	switch (d->action) {
	case MW_DECIDE_DENY:
		return "deny";
	case MW_DECIDE_APPROVE:
		return "approval_required";
	case MW_DECIDE_ALLOW:
		break;
	}
	if (!d->audit_rule)
		return "allow";
	return d->audit_action == MW_DECIDE_APPROVE ? "would_require_approval"
						    : "would_deny";
}

const char *mw_judge_rule(const struct mw_policy_decision *d)
{
	if (d->action == MW_DECIDE_ALLOW && d->audit_rule)
		return d->audit_rule;
	return d->rule;
}

/*
 * Drops a UTF-8 sequence that snprintf() cut short at the end of s: the
 * text becomes a JSON string, which must be valid UTF-8.
 */
static void utf8_trim(char *s)
{
	size_t n = strlen(s), i = n, need;
	unsigned char lead;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return;
	lead = (unsigned char)s[i - 1];
	need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
	if (n - (i - 1) < need)
		s[i - 1] = '\0';
}

void mw_judge_reason(const struct mw_policy_decision *d, char *out,
		     size_t outlen)
{
	const char *msg = d->message && *d->message ? d->message : NULL;
	int n;

	if (d->action == MW_DECIDE_APPROVE)
		n = snprintf(
			out, outlen,
			"mcpwarden: rule \"%s\" requires a human's approval "
			"for this call%s%s; approvals are not available yet, "
			"so it is refused",
			d->rule, msg ? ": " : "", msg ? msg : "");
	else
		n = snprintf(out, outlen,
			     "mcpwarden: denied by policy rule \"%s\"%s%s",
			     d->rule, msg ? ": " : "", msg ? msg : "");
	/* A long message is cut (it may be 1024 bytes). */
	if (outlen && n >= 0 && (size_t)n >= outlen)
		utf8_trim(out);
}

static json_t *refusal_for(const struct mw_rpc_msg *m, const char *reason)
{
	json_t *id = json_object_get(m->json, "id");

	return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id,
			 "error", "code", MW_RPC_POLICY_REFUSED, "message",
			 reason);
}

char *mw_judge_refusal(const struct mw_rpc_batch *b,
		       const struct mw_policy_decision *d, size_t culprit)
{
	char reason[512], other[640];
	json_t *all = NULL, *one = NULL;
	char *text = NULL;

	mw_judge_reason(&d[culprit], reason, sizeof(reason));
	snprintf(other, sizeof(other),
		 "mcpwarden: refused with its batch, in which message %zu "
		 "was refused (%s)",
		 culprit, reason);
	if (b->is_batch && !(all = json_array()))
		return NULL;
	for (size_t i = 0; i < b->n; i++) {
		const struct mw_rpc_msg *m = &b->msgs[i];

		if (m->kind != MW_RPC_REQUEST)
			continue;
		one = refusal_for(m, i == culprit ? reason : other);
		if (!one)
			goto out;
		if (!all)
			break;
		if (json_array_append_new(all, one)) {
			one = NULL;
			goto out;
		}
		one = NULL;
	}
	if (all && json_array_size(all))
		text = json_dumps(all, JSON_COMPACT);
	else if (one)
		text = json_dumps(one, JSON_COMPACT);
out:
	json_decref(one);
	json_decref(all);
	return text;
}

size_t mw_judge_filter_tools(const struct mw_policy *p,
			     const struct mw_pins *pins,
			     const struct mw_judge_who *w, const char *server,
			     json_t *result)
{
	json_t *tools = json_object_get(result, "tools");
	size_t removed = 0, i = 0;

	if (!json_is_array(tools))
		return 0;
	while (i < json_array_size(tools)) {
		const char *name = json_string_value(
			json_object_get(json_array_get(tools, i), "name"));

		/* A tool without a name cannot be called: left to the
		 * client to reject. */
		if (name &&
		    !mw_policy_tool_visible(
			    p, &w->subject, server, name,
			    pins && mw_pins_changed(pins, server, name)) &&
		    !json_array_remove(tools, i)) {
			removed++;
			continue;
		}
		i++;
	}
	return removed;
}
