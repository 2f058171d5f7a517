// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "judge.h"

#define JD_MAX_LEN 65536

/* ---- helpers ---- */

static struct mw_policy *jd_policy(const char *yaml)
{
	char path[] = "/tmp/mw-judge-pol-XXXXXX", err[1024] = "";
	struct mw_policy *p = NULL;
	size_t len = strlen(yaml);
	int rc, fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, yaml, len), (ssize_t)len);
	close(fd);
	rc = mw_policy_load_file(path, &p, NULL, err, sizeof(err));
	unlink(path);
	cr_assert_eq(rc, 0, "%s\n%s", err, yaml);
	return p;
}

static void jd_parse(const char *text, struct mw_rpc_batch *b)
{
	char err[256];
	int ret = mw_rpc_parse(text, strlen(text), JD_MAX_LEN, b, err,
			       sizeof(err));

	cr_assert_eq(ret, 0, "%s: %d %s", text, ret, err);
}

static void jd_identity(struct mw_identity *id)
{
	static const char groups[] = "alice\0dev\0wheel";

	memset(id, 0, sizeof(*id));
	id->uid = 1000;
	id->gid = 1000;
	snprintf(id->user, sizeof(id->user), "alice");
	memcpy(id->group_names, groups, sizeof(groups));
	id->ngroups = 3;
	snprintf(id->cgroup, sizeof(id->cgroup), "/agents.slice/a.service");
	snprintf(id->exe, sizeof(id->exe), "/usr/bin/python3");
}

/* Judges text from the caller id travelling in dir; d gets one decision
 * per message. */
static enum mw_policy_action
jd_judge_as(const struct mw_policy *p, const struct mw_identity *id,
	    const struct mw_pins *pins, const char *server,
	    enum mw_policy_direction dir, const char *text,
	    struct mw_policy_decision *d, size_t maxd, size_t *culprit)
{
	struct mw_judge_who w;
	struct mw_rpc_batch b;
	enum mw_policy_action a;

	mw_judge_who_init(&w, id);
	jd_parse(text, &b);
	cr_assert_leq(b.n, maxd);
	a = mw_judge_batch(p, pins, &w, server, dir, &b, d, culprit);
	mw_rpc_batch_free(&b);
	return a;
}

/* The same from the usual caller (jd_identity). */
static enum mw_policy_action
jd_judge(const struct mw_policy *p, const struct mw_pins *pins,
	 const char *server, enum mw_policy_direction dir, const char *text,
	 struct mw_policy_decision *d, size_t maxd, size_t *culprit)
{
	struct mw_identity id;

	jd_identity(&id);
	return jd_judge_as(p, &id, pins, server, dir, text, d, maxd, culprit);
}

#define CALL(id, tool)                                                  \
	"{\"jsonrpc\":\"2.0\",\"id\":" id ",\"method\":\"tools/call\"," \
	"\"params\":{\"name\":\"" tool "\",\"arguments\":{}}}"
#define NOTE(method) "{\"jsonrpc\":\"2.0\",\"method\":\"" method "\"}"
#define PING(id) "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"method\":\"ping\"}"
#define RESULT(id) "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"result\":{}}"

/* The batch of the messages given, as text (in a buffer of its own). */
static char jd_batch_text[8192];

static const char *jd_join(const char *const *parts)
{
	size_t len = 0;

	jd_batch_text[len++] = '[';
	for (size_t i = 0; parts[i]; i++) {
		int n = snprintf(jd_batch_text + len,
				 sizeof(jd_batch_text) - len, "%s%s",
				 i ? "," : "", parts[i]);

		cr_assert_lt((size_t)n, sizeof(jd_batch_text) - len);
		len += (size_t)n;
	}
	cr_assert_lt(len + 1, sizeof(jd_batch_text));
	jd_batch_text[len++] = ']';
	jd_batch_text[len] = '\0';
	return jd_batch_text;
}

#define BATCH(...) jd_join((const char *const[]){ __VA_ARGS__, NULL })

/* ---- who ---- */

Test(judge, who_init_takes_identity_as_rules_see_it)
{
	struct mw_identity id;
	struct mw_judge_who w;

	jd_identity(&id);
	mw_judge_who_init(&w, &id);
	cr_assert_eq(w.subject.uid, 1000);
	cr_assert_eq(w.subject.gid, 1000);
	cr_assert_str_eq(w.subject.user, "alice");
	cr_assert_eq(w.subject.ngroups, 3);
	cr_assert_eq(w.subject.groups, w.groups);
	cr_assert_str_eq(w.groups[0], "alice");
	cr_assert_str_eq(w.groups[1], "dev");
	cr_assert_str_eq(w.groups[2], "wheel");
	cr_assert_str_eq(w.subject.cgroup, "/agents.slice/a.service");
	cr_assert_str_eq(w.subject.exe, "/usr/bin/python3");
	cr_assert_null(w.subject.oidc_subject);
	cr_assert_eq(w.subject.noidc_groups, 0);

	/* Unresolved cgroup and vanished executable: unknown, not "". */
	snprintf(id.cgroup, sizeof(id.cgroup), "cgroup:123");
	id.exe[0] = '\0';
	id.ngroups = 0;
	mw_judge_who_init(&w, &id);
	cr_assert_null(w.subject.cgroup);
	cr_assert_null(w.subject.exe);
	cr_assert_eq(w.subject.ngroups, 0);
}

/*
 * A cgroup or an executable not known (a removed cgroup, a process gone or
 * exec'd since its connect()) cannot escape a deny rule, and earns no
 * rule that allows or asks for approval (which would come before a deny
 * written below it).
 */
Test(judge, who_unknown_values_match_refusing_rules_only)
{
	struct mw_policy *p = jd_policy(
		"default: allow\nrules:\n"
		"  - {name: no-tmp-cgroup, cgroup: \"/tmp/**\", action: deny}\n"
		"  - {name: no-tmp-exe, exe: \"/tmp/**\", action: deny}\n"
		"  - {name: trusted-exe, exe: /usr/bin/python3, tool: t, "
		"action: allow}\n");
	struct mw_identity id;
	struct mw_policy_decision d[1];
	size_t culprit;

	jd_identity(&id);
	cr_assert_eq(jd_judge_as(p, &id, NULL, "s", MW_POLICY_FROM_CLIENT,
				 CALL("1", "t"), d, 1, &culprit),
		     MW_DECIDE_ALLOW);
	cr_assert_str_eq(d[0].rule, "trusted-exe", "known: no deny matches");

	snprintf(id.cgroup, sizeof(id.cgroup), "cgroup:123");
	cr_assert_eq(jd_judge_as(p, &id, NULL, "s", MW_POLICY_FROM_CLIENT,
				 CALL("1", "t"), d, 1, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_str_eq(d[0].rule, "no-tmp-cgroup");

	jd_identity(&id);
	id.exe[0] = '\0';
	cr_assert_eq(jd_judge_as(p, &id, NULL, "s", MW_POLICY_FROM_CLIENT,
				 CALL("1", "t"), d, 1, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_str_eq(d[0].rule, "no-tmp-exe");

	/* an approval for one executable, above a deny for everyone:
	 * unknown is denied, not approved */
	mw_policy_free(p);
	p = jd_policy("default: allow\nrules:\n"
		      "  - {name: agent-may-ask, exe: /opt/agent/bin/agent, "
		      "tool: t, action: approve}\n"
		      "  - {name: nobody-else, tool: t, action: deny}\n");
	cr_assert_eq(jd_judge_as(p, &id, NULL, "s", MW_POLICY_FROM_CLIENT,
				 CALL("1", "t"), d, 1, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_str_eq(d[0].rule, "nobody-else");

	/* the allow rule wants the executable it names: unknown is not it */
	mw_policy_free(p);
	p = jd_policy("default: deny\nrules:\n"
		      "  - {name: trusted-exe, exe: /usr/bin/python3, "
		      "action: allow}\n");
	cr_assert_eq(jd_judge_as(p, &id, NULL, "s", MW_POLICY_FROM_CLIENT,
				 CALL("1", "t"), d, 1, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_str_eq(d[0].rule, "(default)");
	mw_policy_free(p);
}

/* ---- batches ---- */

static const char jd_rules[] =
	"default: deny\n"
	"rules:\n"
	"  - {name: server-notes, direction: server, method: "
	"[\"notifications/**\", ping], action: allow}\n"
	"  - {name: no-cancel, method: notifications/cancelled, action: "
	"deny}\n"
	"  - {name: no-rm, tool: rm, action: deny, message: never}\n"
	"  - {name: hold-pay, tool: pay, action: approve}\n"
	"  - {name: calls, method: [tools/call, \"notifications/**\"], "
	"action: allow}\n";

Test(judge, batch_culprit_is_the_first_refused)
{
	struct mw_policy *p = jd_policy(jd_rules);
	struct mw_policy_decision d[5];
	size_t culprit = 99;

	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT,
			      BATCH(CALL("1", "echo"),
				    NOTE("notifications/initialized"),
				    CALL("2", "rm"), CALL("3", "pay")),
			      d, 5, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_eq(culprit, 2);
	cr_assert_eq(d[0].action, MW_DECIDE_ALLOW);
	cr_assert_str_eq(d[0].rule, "calls");
	cr_assert_str_eq(d[1].rule, "calls", "notifications are judged");
	cr_assert_eq(d[2].action, MW_DECIDE_DENY);
	cr_assert_str_eq(d[2].rule, "no-rm");
	cr_assert_str_eq(d[2].message, "never");
	/* Every message is judged, also after the culprit. */
	cr_assert_eq(d[3].action, MW_DECIDE_APPROVE);
	cr_assert_str_eq(d[3].rule, "hold-pay");

	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT,
			      BATCH(CALL("1", "echo"), CALL("3", "pay"),
				    CALL("2", "rm")),
			      d, 5, &culprit),
		     MW_DECIDE_APPROVE);
	cr_assert_eq(culprit, 1);

	/* A notification alone can be the culprit. */
	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT,
			      NOTE("notifications/cancelled"), d, 5, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_eq(culprit, 0);
	cr_assert_str_eq(d[0].rule, "no-cancel");
	mw_policy_free(p);
}

Test(judge, allowed_batch_and_responses)
{
	struct mw_policy *p = jd_policy(jd_rules);
	struct mw_policy_decision d[4];
	size_t culprit = 99;

	memset(d, 0xa5, sizeof(d));
	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT,
			      BATCH(RESULT("\"r\""), CALL("1", "echo"),
				    NOTE("notifications/initialized")),
			      d, 4, &culprit),
		     MW_DECIDE_ALLOW);
	cr_assert_eq(culprit, 0);
	/* A response (to a server's request) gets no rule. */
	cr_assert_eq(d[0].action, MW_DECIDE_ALLOW);
	cr_assert_null(d[0].rule);
	cr_assert_eq(d[0].rule_index, -1);
	cr_assert_null(d[0].message);
	cr_assert_null(d[0].audit_rule);
	cr_assert_null(mw_judge_decision_name(&d[0]));
	cr_assert_null(mw_judge_rule(&d[0]));
	cr_assert_str_eq(d[1].rule, "calls");
	cr_assert_eq(d[1].rule_index, 4);
	cr_assert_str_eq(d[2].rule, "calls");

	/* Under default deny, a lone response still goes: nothing judged. */
	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT, RESULT("5"),
			      d, 4, &culprit),
		     MW_DECIDE_ALLOW);
	cr_assert_null(d[0].rule);
	mw_policy_free(p);
}

Test(judge, direction_chooses_the_rules)
{
	struct mw_policy *p = jd_policy(jd_rules);
	struct mw_policy_decision d[4];
	size_t culprit;

	/* What the server sends: its ping and notifications are allowed,
	 * its other requests get the default; its results are not judged. */
	cr_assert_eq(
		jd_judge(p, NULL, "s", MW_POLICY_FROM_SERVER,
			 BATCH(PING("\"s1\""), NOTE("notifications/cancelled"),
			       RESULT("1")),
			 d, 4, &culprit),
		MW_DECIDE_ALLOW);
	cr_assert_str_eq(d[0].rule, "server-notes");
	cr_assert_str_eq(d[1].rule, "server-notes",
			 "no-cancel is for the client's");
	cr_assert_null(d[2].rule);

	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_SERVER,
			      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
			      "\"sampling/createMessage\",\"params\":{}}",
			      d, 4, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_str_eq(d[0].rule, MW_POLICY_DEFAULT_RULE);
	/* Client rules do not judge the server's tools/call. */
	jd_judge(p, NULL, "s", MW_POLICY_FROM_SERVER, CALL("3", "rm"), d, 4,
		 &culprit);
	cr_assert_str_eq(d[0].rule, MW_POLICY_DEFAULT_RULE);

	/* And the client's ping is not the server's. */
	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT, PING("2"), d,
			      4, &culprit),
		     MW_DECIDE_DENY);
	cr_assert_str_eq(d[0].rule, MW_POLICY_DEFAULT_RULE);
	mw_policy_free(p);
}

/* ---- pins ---- */

/* The pins of a test, in a state_dir of its own; jd_pins_close removes
 * both (.fini, so also after a failed assertion). */
static struct jd_pins {
	char dir[32];
	struct mw_pins *pins;
} jd_pins;

static void jd_pins_open(struct jd_pins *j)
{
	char err[512] = "";

	snprintf(j->dir, sizeof(j->dir), "/tmp/mw-judge-XXXXXX");
	cr_assert_not_null(mkdtemp(j->dir));
	cr_assert_eq(mw_pins_open(&j->pins, j->dir, err, sizeof(err)), 0, "%s",
		     err);
}

static void jd_pins_see(struct jd_pins *j, const char *server, const char *def,
			enum mw_pin_state want)
{
	json_t *t = json_loads(def, 0, NULL);
	enum mw_pin_state state;

	cr_assert_not_null(t, "%s", def);
	cr_assert_eq(mw_pins_see(j->pins, server, t, &state, NULL, NULL), 0);
	cr_assert_eq(state, want, "%s: %d, not %d", def, state, want);
	json_decref(t);
}

static void jd_pins_close(void)
{
	char path[64];

	if (!jd_pins.dir[0])
		return;
	mw_pins_free(jd_pins.pins);
	jd_pins.pins = NULL;
	snprintf(path, sizeof(path), "%s/%s", jd_pins.dir, MW_PINS_FILE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s.tmp", jd_pins.dir, MW_PINS_FILE);
	unlink(path);
	rmdir(jd_pins.dir);
	jd_pins.dir[0] = '\0';
}

static const char jd_changed_rules[] =
	"default: allow\n"
	"rules:\n"
	"  - {name: changed-tools, tool_changed: true, action: deny, "
	"message: \"ask an operator\"}\n";

Test(judge, pins_make_tool_changed, .fini = jd_pins_close)
{
	struct mw_policy *p = jd_policy(jd_changed_rules);
	struct mw_policy_decision d[2];
	struct jd_pins *j = &jd_pins;
	size_t culprit;

	jd_pins_open(j);
	jd_pins_see(j, "s", "{\"name\":\"echo\",\"description\":\"a\"}",
		    MW_PIN_NEW);
	jd_pins_see(j, "s", "{\"name\":\"calc\",\"description\":\"a\"}",
		    MW_PIN_NEW);
	/* Pinned, unchanged: allowed. */
	cr_assert_eq(jd_judge(p, j->pins, "s", MW_POLICY_FROM_CLIENT,
			      CALL("1", "echo"), d, 2, &culprit),
		     MW_DECIDE_ALLOW);
	jd_pins_see(j, "s", "{\"name\":\"echo\",\"description\":\"b\"}",
		    MW_PIN_CHANGED);

	cr_assert_eq(jd_judge(p, j->pins, "s", MW_POLICY_FROM_CLIENT,
			      BATCH(CALL("1", "calc"), CALL("2", "echo")), d, 2,
			      &culprit),
		     MW_DECIDE_DENY);
	cr_assert_eq(culprit, 1);
	cr_assert_str_eq(d[0].rule, MW_POLICY_DEFAULT_RULE);
	cr_assert_str_eq(d[1].rule, "changed-tools");
	cr_assert_str_eq(d[1].message, "ask an operator");
	/* Pins are per server, and without pins nothing changed. */
	cr_assert_eq(jd_judge(p, j->pins, "other", MW_POLICY_FROM_CLIENT,
			      CALL("1", "echo"), d, 2, &culprit),
		     MW_DECIDE_ALLOW);
	cr_assert_eq(jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT,
			      CALL("1", "echo"), d, 2, &culprit),
		     MW_DECIDE_ALLOW);
	/* Only a tools/call of the tool is a call of a changed tool. */
	cr_assert_eq(jd_judge(p, j->pins, "s", MW_POLICY_FROM_CLIENT,
			      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			      "\"prompts/get\",\"params\":{\"name\":\"echo\"}}",
			      d, 2, &culprit),
		     MW_DECIDE_ALLOW);

	/* Accepted: allowed again. */
	{
		char err[256];
		size_t n;

		cr_assert_eq(mw_pins_accept(j->pins, "s", &n, err, sizeof(err)),
			     0, "%s", err);
		cr_assert_eq(n, 1);
	}
	cr_assert_eq(jd_judge(p, j->pins, "s", MW_POLICY_FROM_CLIENT,
			      CALL("2", "echo"), d, 2, &culprit),
		     MW_DECIDE_ALLOW);
	mw_policy_free(p);
}

/* ---- what the audit row says ---- */

Test(judge, decision_names_and_rules)
{
	struct mw_policy *p = jd_policy(
		"default: allow\n"
		"rules:\n"
		"  - {name: watch-a, tool: a, action: deny, mode: audit}\n"
		"  - {name: watch-b, tool: b, action: approve, mode: audit}\n"
		"  - {name: deny-c, tool: c, action: deny}\n"
		"  - {name: hold-d, tool: d, action: approve}\n"
		"  - {name: ok-e, tool: e, action: allow}\n"
		"  - {name: watch-f, tool: f, action: approve, mode: audit}\n"
		"  - {name: deny-f, tool: f, action: deny}\n");
	static const struct {
		const char *name, *rule;
	} want[] = {
		{ "would_deny", "watch-a" },
		{ "would_require_approval", "watch-b" },
		{ "deny", "deny-c" },
		{ "approval_required", "hold-d" },
		{ "allow", "ok-e" },
		{ "deny", "deny-f" }, /* enforced: the audit rule is not it */
		{ "allow", MW_POLICY_DEFAULT_RULE },
		{ NULL, NULL }, /* a response: not judged */
	};
	struct mw_policy_decision d[8];
	size_t culprit;

	jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT,
		 BATCH(CALL("1", "a"), CALL("2", "b"), CALL("3", "c"),
		       CALL("4", "d"), CALL("5", "e"), CALL("6", "f"),
		       CALL("7", "g"), RESULT("8")),
		 d, 8, &culprit);
	for (size_t i = 0; i < 8; i++) {
		const char *name = mw_judge_decision_name(&d[i]);
		const char *rule = mw_judge_rule(&d[i]);

		if (!want[i].name) {
			cr_assert_null(name);
			cr_assert_null(rule);
			continue;
		}
		cr_assert_not_null(name, "message %zu", i);
		cr_assert_str_eq(name, want[i].name, "message %zu", i);
		cr_assert_str_eq(rule, want[i].rule, "message %zu", i);
	}
	cr_assert_str_eq(d[0].rule, MW_POLICY_DEFAULT_RULE,
			 "the decision itself is the default's");
	mw_policy_free(p);

	/* An audit rule, then the default denies: a plain deny. */
	p = jd_policy(
		"rules:\n"
		"  - {name: watch, tool: a, action: deny, mode: audit}\n");
	jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT, CALL("1", "a"), d, 8,
		 &culprit);
	cr_assert_str_eq(mw_judge_decision_name(&d[0]), "deny");
	cr_assert_str_eq(mw_judge_rule(&d[0]), MW_POLICY_DEFAULT_RULE);
	mw_policy_free(p);
}

/* ---- what the client reads ---- */

Test(judge, reason_texts)
{
	struct mw_policy_decision d = {
		.action = MW_DECIDE_DENY,
		.rule = "no-rm",
		.message = "never",
	};
	char out[512], tiny[16];

	mw_judge_reason(&d, out, sizeof(out));
	cr_assert_str_eq(out, "mcpwarden: denied by policy rule \"no-rm\": "
			      "never");
	d.message = NULL;
	mw_judge_reason(&d, out, sizeof(out));
	cr_assert_str_eq(out, "mcpwarden: denied by policy rule \"no-rm\"");
	d.message = "";
	mw_judge_reason(&d, out, sizeof(out));
	cr_assert_str_eq(out, "mcpwarden: denied by policy rule \"no-rm\"");

	d.action = MW_DECIDE_APPROVE;
	d.rule = "hold";
	d.message = "payments";
	mw_judge_reason(&d, out, sizeof(out));
	cr_assert_str_eq(out, "mcpwarden: rule \"hold\" requires a human's "
			      "approval for this call: payments; approvals "
			      "are not available yet, so it is refused");
	d.message = NULL;
	mw_judge_reason(&d, out, sizeof(out));
	cr_assert_str_eq(out, "mcpwarden: rule \"hold\" requires a human's "
			      "approval for this call; approvals are not "
			      "available yet, so it is refused");

	mw_judge_reason(&d, tiny, sizeof(tiny));
	cr_assert_str_eq(tiny, "mcpwarden: rule");
}

static bool jd_valid_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* A long message is cut, never inside a UTF-8 sequence. */
Test(judge, long_messages_stay_utf8)
{
	char yaml[4096], msg[1024] = "";
	struct mw_policy *p;
	struct mw_policy_decision d[1];
	struct mw_rpc_batch b;
	size_t culprit;

	for (size_t k = 0; k < 8; k++) {
		size_t shift = k % 4;
		char out[512], *body;

		/* "x" * shift, then 3-byte and 2-byte characters. */
		memset(msg, 'x', shift);
		msg[shift] = '\0';
		while (strlen(msg) < 1000)
			strcat(msg, "\xe2\x82\xac\xc3\xa9");
		snprintf(yaml, sizeof(yaml),
			 "rules:\n  - {name: r, action: %s, message: "
			 "\"%s\"}\n",
			 k < 4 ? "deny" : "approve", msg);
		p = jd_policy(yaml);
		jd_parse(CALL("1", "t"), &b);
		jd_judge(p, NULL, "s", MW_POLICY_FROM_CLIENT, CALL("1", "t"), d,
			 1, &culprit);
		mw_judge_reason(&d[0], out, sizeof(out));
		cr_assert(jd_valid_utf8(out), "case %zu", k);
		cr_assert_gt(strlen(out), 500);
		body = mw_judge_refusal(&b, d, culprit);
		cr_assert_not_null(body, "case %zu", k);
		free(body);
		mw_rpc_batch_free(&b);
		mw_policy_free(p);
	}
}

/* The refusal parsed back; checks the members every answer has. */
static json_t *jd_refusal(const char *text, const struct mw_policy *p,
			  struct mw_policy_decision *d, size_t maxd,
			  size_t *culprit, struct mw_rpc_batch *b)
{
	struct mw_identity id;
	struct mw_judge_who w;
	json_error_t jerr;
	json_t *answer;
	char *body;

	jd_identity(&id);
	mw_judge_who_init(&w, &id);
	jd_parse(text, b);
	cr_assert_leq(b->n, maxd);
	cr_assert_neq(mw_judge_batch(p, NULL, &w, "s", MW_POLICY_FROM_CLIENT, b,
				     d, culprit),
		      MW_DECIDE_ALLOW);
	body = mw_judge_refusal(b, d, *culprit);
	if (!body)
		return NULL;
	/* Compact, and a well-formed JSON-RPC answer. */
	cr_assert_null(strchr(body, '\n'));
	{
		struct mw_rpc_batch again;
		char err[256];

		cr_assert_eq(mw_rpc_parse(body, strlen(body), JD_MAX_LEN,
					  &again, err, sizeof(err)),
			     0, "%s: %s", body, err);
		for (size_t i = 0; i < again.n; i++)
			cr_assert_eq(again.msgs[i].kind, MW_RPC_ERROR);
		mw_rpc_batch_free(&again);
	}
	answer = json_loads(body, 0, &jerr);
	cr_assert_not_null(answer, "%s", body);
	free(body);
	return answer;
}

static void jd_check_error(const json_t *e, const json_t *want_id,
			   const char *want_message)
{
	json_t *error = json_object_get(e, "error");

	cr_assert(json_is_object(e));
	cr_assert_str_eq(json_string_value(json_object_get(e, "jsonrpc")),
			 "2.0");
	cr_assert(json_equal(json_object_get(e, "id"), want_id));
	cr_assert_eq(json_integer_value(json_object_get(error, "code")),
		     MW_RPC_POLICY_REFUSED);
	cr_assert_eq(MW_RPC_POLICY_REFUSED, -32003);
	cr_assert_str_eq(json_string_value(json_object_get(error, "message")),
			 want_message);
}

Test(judge, refusal_of_one_request)
{
	struct mw_policy *p = jd_policy(jd_rules);
	struct mw_policy_decision d[1];
	struct mw_rpc_batch b;
	size_t culprit;
	char reason[512];
	json_t *answer, *id = json_integer(7);

	answer = jd_refusal(CALL("7", "rm"), p, d, 1, &culprit, &b);
	mw_judge_reason(&d[culprit], reason, sizeof(reason));
	cr_assert_str_eq(reason,
			 "mcpwarden: denied by policy rule \"no-rm\": never");
	cr_assert(json_is_object(answer), "one request: one object");
	jd_check_error(answer, id, reason);
	cr_assert_eq(json_object_size(answer), 3);
	json_decref(answer);
	mw_rpc_batch_free(&b);

	/* A batch of one is still a batch: an array. */
	answer = jd_refusal(BATCH(CALL("7", "rm")), p, d, 1, &culprit, &b);
	cr_assert(json_is_array(answer));
	cr_assert_eq(json_array_size(answer), 1);
	jd_check_error(json_array_get(answer, 0), id, reason);
	json_decref(answer);
	mw_rpc_batch_free(&b);
	json_decref(id);
	mw_policy_free(p);
}

Test(judge, refusal_of_a_batch)
{
	struct mw_policy *p = jd_policy(jd_rules);
	struct mw_policy_decision d[5];
	struct mw_rpc_batch b;
	size_t culprit;
	char reason[512];
	const char *other;
	json_t *answer, *ids[3];

	answer = jd_refusal(
		BATCH(CALL("\"a\"", "echo"), NOTE("notifications/initialized"),
		      CALL("2", "rm"), CALL("-5", "pay"), RESULT("9")),
		p, d, 5, &culprit, &b);
	cr_assert_eq(culprit, 2);
	mw_judge_reason(&d[culprit], reason, sizeof(reason));
	cr_assert(json_is_array(answer));
	cr_assert_eq(json_array_size(answer), 3,
		     "one error per request, none for notifications or "
		     "responses");
	ids[0] = json_string("a");
	ids[1] = json_integer(2);
	ids[2] = json_integer(-5);
	other = json_string_value(json_object_get(
		json_object_get(json_array_get(answer, 0), "error"),
		"message"));
	cr_assert_not_null(other);
	cr_assert(strstr(other, "refused with its batch"), "%s", other);
	cr_assert(strstr(other, "message 2 was refused"), "%s", other);
	cr_assert(strstr(other, reason), "%s", other);
	jd_check_error(json_array_get(answer, 0), ids[0], other);
	jd_check_error(json_array_get(answer, 1), ids[1], reason);
	jd_check_error(json_array_get(answer, 2), ids[2], other);
	for (size_t i = 0; i < 3; i++)
		json_decref(ids[i]);
	json_decref(answer);
	mw_rpc_batch_free(&b);

	/* Notifications only: nothing to answer in JSON-RPC. */
	cr_assert_null(jd_refusal(NOTE("notifications/cancelled"), p, d, 5,
				  &culprit, &b));
	mw_rpc_batch_free(&b);
	cr_assert_null(jd_refusal(BATCH(NOTE("notifications/initialized"),
					NOTE("notifications/cancelled")),
				  p, d, 5, &culprit, &b));
	mw_rpc_batch_free(&b);
	mw_policy_free(p);
}

Test(judge, refusal_ids_survive_exactly)
{
	static const char *const ids[] = {
		"0",
		"9007199254740991",
		"-9007199254740991",
		"\"\"",
		"\"7\"",
		"\"a\\\"b\\\\c\\/d\"",
		"\"\\u00e9\\ud83d\\ude00\"",
		"\"\xe2\x82\xac\"",
		"\"\\u0001\\n\"",
	};
	struct mw_policy *p = jd_policy(jd_rules);

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		char call[256];
		struct mw_policy_decision d[2];
		struct mw_rpc_batch b;
		size_t culprit;
		json_t *answer,
			*want = json_loads(ids[i], JSON_DECODE_ANY, NULL);

		cr_assert_not_null(want, "%s", ids[i]);
		/* Refused with the culprit: answered with its own id. */
		snprintf(call, sizeof(call), CALL("%s", "rm"), ids[i]);
		answer = jd_refusal(BATCH(call, CALL("\"zz\"", "e")), p, d, 2,
				    &culprit, &b);
		cr_assert_eq(json_array_size(answer), 2, "%s", ids[i]);
		/* Same type and value: "7" stays a string, 0 an integer. */
		cr_assert(json_equal(json_object_get(json_array_get(answer, 0),
						     "id"),
				     want),
			  "%s", ids[i]);
		cr_assert_str_eq(json_string_value(json_object_get(
					 json_array_get(answer, 1), "id")),
				 "zz");
		json_decref(answer);
		json_decref(want);
		mw_rpc_batch_free(&b);
	}
	mw_policy_free(p);
}

/* ---- tools/list ---- */

static json_t *jd_tools(void)
{
	json_t *r = json_loads(
		"{\"tools\":["
		"{\"name\":\"a\"},"
		"{\"name\":\"rm\",\"description\":\"x\"},"
		"{\"name\":\"secret\"},"
		"{\"description\":\"nameless\"},"
		"{\"name\":\"write\"},"
		"{\"name\":\"echo\",\"inputSchema\":{\"type\":\"object\"}},"
		"{\"name\":5},"
		"{\"name\":\"z\"}"
		"],\"nextCursor\":\"c2\",\"_meta\":{\"k\":1}}",
		0, NULL);

	cr_assert_not_null(r);
	return r;
}

static void jd_expect_tools(const json_t *result, const char *want)
{
	json_t *w = json_loads(want, 0, NULL);
	char *got = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS);

	cr_assert_not_null(w, "%s", want);
	cr_assert(json_equal(result, w), "got %s\nwant %s", got, want);
	free(got);
	json_decref(w);
}

Test(judge, filter_tools, .fini = jd_pins_close)
{
	struct mw_policy *p = jd_policy(
		"default: allow\n"
		"rules:\n"
		"  - {name: changed-tools, tool_changed: true, action: deny}\n"
		"  - {name: other-server, server: x, tool: \"*\", action: "
		"deny}\n"
		"  - {name: watch, tool: a, action: deny, mode: audit}\n"
		"  - {name: hide-rm, tool: rm, action: deny}\n"
		"  - {name: cond, tool: write, args: {pointer: /p, prefix: "
		"/etc/}, action: deny}\n"
		"  - {name: bob-only, tool: secret, user: bob, action: "
		"allow}\n"
		"  - {name: no-secret, tool: secret, action: deny}\n");
	struct mw_identity id;
	struct mw_judge_who w;
	struct jd_pins *j = &jd_pins;
	json_t *r;

	jd_identity(&id);
	mw_judge_who_init(&w, &id);
	jd_pins_open(j);
	jd_pins_see(j, "s", "{\"name\":\"echo\",\"description\":\"a\"}",
		    MW_PIN_NEW);
	jd_pins_see(j, "s", "{\"name\":\"echo\",\"description\":\"b\"}",
		    MW_PIN_CHANGED);

	/* Without pins: rm and secret go, adjacent as they are. */
	r = jd_tools();
	cr_assert_eq(mw_judge_filter_tools(p, NULL, &w, "s", r), 2);
	jd_expect_tools(r, "{\"tools\":["
			   "{\"name\":\"a\"},"
			   "{\"description\":\"nameless\"},"
			   "{\"name\":\"write\"},"
			   "{\"name\":\"echo\",\"inputSchema\":"
			   "{\"type\":\"object\"}},"
			   "{\"name\":5},"
			   "{\"name\":\"z\"}"
			   "],\"nextCursor\":\"c2\",\"_meta\":{\"k\":1}}");
	json_decref(r);

	/* With pins, the changed echo goes too. */
	r = jd_tools();
	cr_assert_eq(mw_judge_filter_tools(p, j->pins, &w, "s", r), 3);
	jd_expect_tools(r, "{\"tools\":["
			   "{\"name\":\"a\"},"
			   "{\"description\":\"nameless\"},"
			   "{\"name\":\"write\"},"
			   "{\"name\":5},"
			   "{\"name\":\"z\"}"
			   "],\"nextCursor\":\"c2\",\"_meta\":{\"k\":1}}");
	json_decref(r);

	/* bob may call secret. */
	snprintf(id.user, sizeof(id.user), "bob");
	mw_judge_who_init(&w, &id);
	r = jd_tools();
	cr_assert_eq(mw_judge_filter_tools(p, j->pins, &w, "s", r), 2);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(json_object_get(r, "tools"), 1),
				 "name")),
			 "secret");
	json_decref(r);

	/* Another server: its own rules, its own pins; everything named
	 * goes, the nameless tool stays. */
	r = jd_tools();
	cr_assert_eq(mw_judge_filter_tools(p, j->pins, &w, "x", r), 6);
	jd_expect_tools(r, "{\"tools\":["
			   "{\"description\":\"nameless\"},"
			   "{\"name\":5}"
			   "],\"nextCursor\":\"c2\",\"_meta\":{\"k\":1}}");
	json_decref(r);

	/* Nothing to filter. */
	r = json_loads("{\"tools\":{\"name\":\"rm\"}}", 0, NULL);
	cr_assert_eq(mw_judge_filter_tools(p, NULL, &w, "s", r), 0);
	jd_expect_tools(r, "{\"tools\":{\"name\":\"rm\"}}");
	json_decref(r);
	r = json_loads("{\"tools\":[]}", 0, NULL);
	cr_assert_eq(mw_judge_filter_tools(p, NULL, &w, "s", r), 0);
	json_decref(r);
	r = json_loads("[{\"name\":\"rm\"}]", 0, NULL);
	cr_assert_eq(mw_judge_filter_tools(p, NULL, &w, "s", r), 0);
	cr_assert_eq(json_array_size(r), 1);
	json_decref(r);

	mw_policy_free(p);
}

Test(judge, filter_tools_without_policy_keeps_everything)
{
	struct mw_policy *p = mw_policy_allow_all("", 0);
	struct mw_identity id;
	struct mw_judge_who w;
	json_t *r = jd_tools();

	cr_assert_not_null(p);
	jd_identity(&id);
	mw_judge_who_init(&w, &id);
	cr_assert_eq(mw_judge_filter_tools(p, NULL, &w, "s", r), 0);
	cr_assert_eq(json_array_size(json_object_get(r, "tools")), 8);
	json_decref(r);
	mw_policy_free(p);
}
