// SPDX-License-Identifier: BSD-2-Clause
/*
 * Judging messages against a loaded policy (policy_load.c builds it,
 * policy_index.c narrows the rules to try). First enforced match wins.
 */
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"
#include "utf8.h"

/* Where argument and params conditions look, for one message. */
/* Strings of one decision and what their regexes gave. */
#define EVAL_SCANNED 4
#define EVAL_REGEX_WORDS ((POLICY_MAX_REGEXES + 63) / 64)

struct eval {
	const struct mw_policy *p;
	const json_t *params;
	const json_t *args;
	bool args_known;
	FILE *trace; /* explanations only */
	int indent;
	size_t nscanned;
	struct scanned {
		const json_t *value;
		uint64_t known[EVAL_REGEX_WORDS]; /* matched already */
		uint64_t hits[EVAL_REGEX_WORDS];
	} scanned[EVAL_SCANNED];
	/* the objects the conditions look names up in, each sorted once:
	 * a rule's missing member is otherwise a scan of every name */
	struct mw_json_fold_cache fold;
};

const char *mw_policy_action_name(enum mw_policy_action a)
{
	switch (a) {
	case MW_DECIDE_ALLOW:
		return "allow";
	case MW_DECIDE_DENY:
		return "deny";
	case MW_DECIDE_APPROVE:
		return "approve";
	}
	return "?";
}

const char *mw_policy_target(const char *method, const json_t *params)
{
	const char *member;

	if (!method || !json_is_object(params))
		return NULL;
	if (!strcmp(method, "tools/call") || !strcmp(method, "prompts/get"))
		member = "name";
	else if (!strcmp(method, "resources/read") ||
		 !strcmp(method, "resources/subscribe") ||
		 !strcmp(method, "resources/unsubscribe"))
		member = "uri";
	else
		return NULL;
	return json_string_value(json_object_get(params, member));
}

/* ---- request conditions ---- */

static const json_t *args_of(struct eval *e)
{
	if (!e->args_known) {
		e->args = json_is_object(e->params)
				  ? json_object_get(e->params, "arguments")
				  : NULL;
		e->args_known = true;
	}
	return e->args;
}

static struct policy_num num_of(const json_t *v)
{
	if (json_is_integer(v))
		return (struct policy_num){ .is_int = true,
					    .i = json_integer_value(v) };
	return (struct policy_num){ .d = json_real_value(v) };
}

/*
 * Exact for two integers; otherwise through long double, which holds any
 * int64 and any double exactly (x86-64, arm64).
 */
static int num_cmp(struct policy_num a, struct policy_num b)
{
	long double x, y;

	if (a.is_int && b.is_int)
		return (a.i > b.i) - (a.i < b.i);
	x = a.is_int ? (long double)a.i : (long double)a.d;
	y = b.is_int ? (long double)b.i : (long double)b.d;
	return (x > y) - (x < y);
}

static bool readable_as(const json_t *v, const json_t *want);
static bool json_same(const json_t *a, const json_t *b);

/*
 * Whether v, a client's value, equals want, a rule's: 1 or 0, numbers by
 * value (1 equals 1.0); -1 when they differ only where a server could
 * read a value of v as the type of want's (readable_as), at any depth.
 */
static int json_equals(const json_t *v, const json_t *want)
{
	const char *key;
	const json_t *w;
	bool unknown = false;

	if (json_is_number(v) && json_is_number(want))
		return !num_cmp(num_of(v), num_of(want));
	if (json_typeof(v) != json_typeof(want))
		return readable_as(v, want) ? -1 : 0;
	switch (json_typeof(want)) {
	case JSON_ARRAY:
		if (json_array_size(v) != json_array_size(want))
			return 0;
		for (size_t i = 0; i < json_array_size(want); i++) {
			int r = json_equals(json_array_get(v, i),
					    json_array_get(want, i));

			if (!r)
				return 0;
			unknown |= r < 0;
		}
		return unknown ? -1 : 1;
	case JSON_OBJECT:
		if (json_object_size(v) != json_object_size(want))
			return 0;
		json_object_foreach ((json_t *)want, key, w) {
			const json_t *x = json_object_get(v, key);
			int r = x ? json_equals(x, w) : 0;

			if (!r)
				return 0;
			unknown |= r < 0;
		}
		return unknown ? -1 : 1;
	default:
		return json_same(v, want);
	}
}

/* JSON equality where numbers compare by value: 1 equals 1.0. */
static bool json_same(const json_t *a, const json_t *b)
{
	const char *key;
	const json_t *v;

	if (json_is_number(a) && json_is_number(b))
		return !num_cmp(num_of(a), num_of(b));
	if (json_typeof(a) != json_typeof(b))
		return false;
	switch (json_typeof(a)) {
	case JSON_STRING:
		return json_string_length(a) == json_string_length(b) &&
		       !memcmp(json_string_value(a), json_string_value(b),
			       json_string_length(a));
	case JSON_ARRAY:
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!json_same(json_array_get(a, i),
				       json_array_get(b, i)))
				return false;
		return true;
	case JSON_OBJECT:
		if (json_object_size(a) != json_object_size(b))
			return false;
		json_object_foreach ((json_t *)a, key, v) {
			const json_t *w = json_object_get(b, key);

			if (!w || !json_same(v, w))
				return false;
		}
		return true;
	default:
		return true; /* true, false, null */
	}
}

/* 1, 0, or -1 when it cannot be evaluated (a match limit). */
static int regex_match(const struct mw_policy *p, size_t index, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	int rc;

	/* PCRE2 is told not to check: its UTF mode requires valid input */
	if (!mw_utf8_valid(s, len))
		return 0;
	rc = pcre2_match(p->regexes[index].re, (PCRE2_SPTR)s, len, 0,
			 PCRE2_NO_UTF_CHECK, p->md, p->mctx);
	if (rc >= 0)
		return 1;
	return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/*
 * The same, remembered for the decision: rules that test the same
 * argument with the same pattern match it once.
 */
static int regex_match_scanned(struct eval *e, size_t index, const json_t *v)
{
	uint64_t bit = (uint64_t)1 << (index % 64);
	struct scanned *sc = NULL;
	int m;

	for (size_t i = 0; i < e->nscanned && !sc; i++)
		if (e->scanned[i].value == v)
			sc = &e->scanned[i];
	if (!sc) {
		/* More strings than places: the oldest is matched again if
		 * asked for again, nothing is wrong. */
		sc = &e->scanned[e->nscanned % EVAL_SCANNED];
		if (e->nscanned < EVAL_SCANNED)
			e->nscanned++;
		sc->value = v;
		memset(sc->known, 0, sizeof(sc->known));
		memset(sc->hits, 0, sizeof(sc->hits));
	}
	if (sc->known[index / 64] & bit)
		return (sc->hits[index / 64] & bit) != 0;
	m = regex_match(e->p, index, v);
	if (m < 0)
		return -1;
	sc->known[index / 64] |= bit;
	if (m)
		sc->hits[index / 64] |= bit;
	return m;
}

/*
 * Whether a server could read v, of another JSON type than want, as a
 * value of want's type: pydantic (under FastMCP, the usual Python server)
 * reads "5000" as 5000, "yes" and 1 as true, true as 1, and FastMCP parses
 * a string argument as JSON where it declares an object or an array. A
 * test on such a value would judge another value than the server uses.
 */
static bool readable_as(const json_t *v, const json_t *want)
{
	switch (json_typeof(want)) {
	case JSON_INTEGER:
	case JSON_REAL:
		return json_is_string(v) || json_is_boolean(v);
	case JSON_TRUE:
	case JSON_FALSE:
		return json_is_string(v) || json_is_number(v);
	case JSON_OBJECT:
	case JSON_ARRAY:
		return json_is_string(v);
	default:
		return false;
	}
}

/* 1, 0, or -1 when it cannot be evaluated: a match limit, or a value a
 * server could read as the type the test wants (readable_as). */
static int leaf_eval(struct eval *e, const struct policy_cond *c,
		     const json_t *v)
{
	switch (c->op) {
	case COND_EXISTS:
		return (v != NULL) == c->exists;
	case COND_EQUALS:
		return v ? json_equals(v, c->equals) : 0;
	case COND_PREFIX:
		return json_is_string(v) &&
		       json_string_length(v) >= c->prefix_len &&
		       !memcmp(json_string_value(v), c->prefix, c->prefix_len);
	case COND_REGEX:
		if (!json_is_string(v))
			return 0;
		/* Explanations check each pattern alone; decisions use the
		 * shared scan (the fuzz target and tests compare both). */
		return e->trace ? regex_match(e->p, c->regex, v)
				: regex_match_scanned(e, c->regex, v);
	case COND_COMPARE:
		if (json_is_string(v) || json_is_boolean(v))
			return -1; /* "5000", true: numbers to some servers */
		if (!json_is_number(v))
			return 0;
		for (enum cmp_op k = 0; k < CMP_COUNT; k++) {
			int r;

			if (!c->has_cmp[k])
				continue;
			r = num_cmp(num_of(v), c->cmp[k]);
			if ((k == CMP_LT && r >= 0) || (k == CMP_LE && r > 0) ||
			    (k == CMP_GT && r <= 0) || (k == CMP_GE && r < 0))
				return 0;
		}
		return 1;
	default:
		return 0;
	}
}

static void trace_num(FILE *f, struct policy_num n)
{
	if (n.is_int)
		fprintf(f, "%lld", n.i);
	else
		fprintf(f, "%.17g", n.d);
}

static void trace_json(FILE *f, const json_t *v)
{
	char *text;

	if (!v) {
		fputs("(absent)", f);
		return;
	}
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (!text) {
		fputs("(?)", f);
		return;
	}
	if (strlen(text) > 80)
		fprintf(f, "%.77s...", text);
	else
		fputs(text, f);
	free(text);
}

static void trace_leaf(struct eval *e, const struct policy_cond *c,
		       const json_t *v, int r)
{
	static const char *const cmp_names[CMP_COUNT] = { "<", "<=", ">",
							  ">=" };
	FILE *f = e->trace;

	fprintf(f, "%*s%c %s '%s' ", e->indent, "", r > 0 ? '+' : '-',
		c->on_args ? "argument" : "params", mw_jsonptr_text(c->ptr));
	switch (c->op) {
	case COND_EXISTS:
		fputs(c->exists ? "exists" : "is absent", f);
		break;
	case COND_EQUALS:
		fputs("equals ", f);
		trace_json(f, c->equals);
		break;
	case COND_PREFIX:
		fprintf(f, "starts with \"%s\"", c->prefix);
		break;
	case COND_REGEX:
		fprintf(f, "matches /%s/%s", e->p->regexes[c->regex].pattern,
			e->p->regexes[c->regex].icase ? "i" : "");
		break;
	case COND_COMPARE:
		for (enum cmp_op k = 0; k < CMP_COUNT; k++) {
			if (!c->has_cmp[k])
				continue;
			fprintf(f, "%s ", cmp_names[k]);
			trace_num(f, c->cmp[k]);
			fputc(' ', f);
		}
		break;
	default:
		break;
	}
	fputs(" (value ", f);
	trace_json(f, v);
	fprintf(f, ")%s\n", r < 0 ? ": cannot be evaluated" : "");
}

static int cond_eval(struct eval *e, const struct policy_cond *c);

/*
 * all: 0 when a condition fails, else -1 when one cannot be evaluated,
 * else 1; any: 1 when one holds, else -1 when one cannot be evaluated,
 * else 0; not: the opposite, -1 staying -1. A condition that cannot be
 * evaluated decides only when the others leave the result open.
 */
static int combine(struct eval *e, const struct policy_cond *c)
{
	int r = c->op == COND_ANY ? 0 : 1;
	bool unknown = false;

	for (size_t i = 0; i < c->nkids; i++) {
		int k = cond_eval(e, &c->kids[i]);

		if (c->op == COND_NOT)
			return k < 0 ? -1 : !k;
		if (k < 0)
			unknown = true;
		else if (c->op == COND_ALL && !k)
			return 0;
		else if (c->op == COND_ANY && k)
			return 1;
	}
	return unknown ? -1 : r;
}

static int cond_eval(struct eval *e, const struct policy_cond *c)
{
	static const char *const names[] = {
		[COND_ALL] = "all of", [COND_ANY] = "any of", [COND_NOT] = "not"
	};
	const json_t *v, *blocker;
	int r;

	if (c->op == COND_ALL || c->op == COND_ANY || c->op == COND_NOT) {
		if (e->trace)
			fprintf(e->trace, "%*s%s:\n", e->indent, "",
				names[c->op]);
		e->indent += 2;
		r = combine(e, c);
		e->indent -= 2;
		if (e->trace)
			fprintf(e->trace, "%*s%c (%s)%s\n", e->indent, "",
				r > 0 ? '+' : '-', names[c->op],
				r < 0 ? ": cannot be evaluated" : "");
		return r;
	}
	v = mw_jsonptr_get_blocked(c->ptr, c->on_args ? args_of(e) : e->params,
				   &blocker, &e->fold);
	/* a string where the pointer goes on: a server may parse it as JSON
	 * and find the value there; an object with the member in another
	 * case: a server may read that one */
	r = json_is_string(blocker) || json_is_object(blocker)
		    ? -1
		    : leaf_eval(e, c, v);
	if (e->trace)
		trace_leaf(e, c, blocker ? blocker : v, r);
	return r;
}

/* ---- identity and message fields ---- */

static void trace_field(struct eval *e, bool ok, const char *field,
			const char *value)
{
	fprintf(e->trace, "%*s%c %s %s%s%s %s [", e->indent, "", ok ? '+' : '-',
		field, value ? "'" : "", value ? value : "(unknown)",
		value ? "'" : "", ok ? "matches" : "does not match");
}

static bool check_strs(struct eval *e, const struct policy_strs *l,
		       const char *field, const char *value)
{
	bool ok = false;

	for (size_t i = 0; value && i < l->n && !ok; i++)
		ok = !strcmp(l->v[i], value);
	if (e->trace) {
		trace_field(e, ok, field, value);
		for (size_t i = 0; i < l->n; i++)
			fprintf(e->trace, "%s%s", i ? ", " : "", l->v[i]);
		fputs("]\n", e->trace);
	}
	return ok;
}

static bool check_any_strs(struct eval *e, const struct policy_strs *l,
			   const char *field, const char *const *values,
			   size_t n)
{
	const char *hit = NULL;

	for (size_t k = 0; k < n && !hit; k++)
		for (size_t i = 0; values[k] && i < l->n && !hit; i++)
			if (!strcmp(l->v[i], values[k]))
				hit = values[k];
	if (e->trace) {
		trace_field(e, hit, field, hit ? hit : n ? "..." : NULL);
		for (size_t i = 0; i < l->n; i++)
			fprintf(e->trace, "%s%s", i ? ", " : "", l->v[i]);
		fputs("]", e->trace);
		if (!hit && n) {
			fputs(" (has", e->trace);
			for (size_t k = 0; k < n; k++)
				fprintf(e->trace, " %s",
					values[k] ? values[k] : "?");
			fputs(")", e->trace);
		}
		fputs("\n", e->trace);
	}
	return hit;
}

static bool check_globs(struct eval *e, const struct policy_globs *l,
			const char *field, const char *value)
{
	bool ok = false;

	for (size_t i = 0; value && i < l->n && !ok; i++)
		ok = mw_glob_match(l->v[i], value, strlen(value));
	if (e->trace) {
		trace_field(e, ok, field, value);
		for (size_t i = 0; i < l->n; i++)
			fprintf(e->trace, "%s%s", i ? ", " : "", l->text[i]);
		fputs("]\n", e->trace);
	}
	return ok;
}

/*
 * The cgroup's path and the executable are read when the connection is
 * accepted: a cgroup removed by then, a process gone, or one that exec'd
 * since its connect() leave them unknown (identity.c). What is not known
 * cannot escape a rule that refuses: it matches a deny rule's condition
 * on it, never an allow or approve rule's (an approval would otherwise
 * come before a deny written below it). So does a user name or group list
 * not all read (identity.c); how says which, in the trace.
 */
static bool unknown_refuses(struct eval *e, const struct policy_rule *r,
			    const char *field, const char *how)
{
	bool ok = r->action == MW_DECIDE_DENY;

	if (e->trace)
		fprintf(e->trace, "%*s%c %s %s: %s\n", e->indent, "",
			ok ? '+' : '-', field, how,
			ok ? "a deny rule applies"
			   : "no allow or approve rule applies");
	return ok;
}

static bool check_known_globs(struct eval *e, const struct policy_rule *r,
			      const struct policy_globs *l, const char *field,
			      const char *value)
{
	if (value && value[0])
		return check_globs(e, l, field, value);
	return unknown_refuses(e, r, field, "unknown");
}

static bool check_uids(struct eval *e, const struct policy_uids *l,
		       uint32_t uid)
{
	bool ok = false;
	char value[16];

	for (size_t i = 0; i < l->n && !ok; i++)
		ok = l->v[i] == uid;
	if (e->trace) {
		snprintf(value, sizeof(value), "%u", uid);
		trace_field(e, ok, "uid", value);
		for (size_t i = 0; i < l->n; i++)
			fprintf(e->trace, "%s%u", i ? ", " : "", l->v[i]);
		fputs("]\n", e->trace);
	}
	return ok;
}

static const char *target_field(enum target_kind k)
{
	return k == TARGET_PROMPT     ? "prompt"
	       : k == TARGET_RESOURCE ? "resource"
				      : "tool";
}

/*
 * 1 when r matches in, 0 when not, -1 when it cannot be evaluated.
 * recheck: r came from the index, which settled every field but these;
 * NULL: check everything. with_when: also the request conditions.
 */
static int rule_matches(struct eval *e, const struct policy_rule *r,
			const struct mw_policy_input *in,
			const struct policy_recheck *recheck, bool with_when)
{
	const struct mw_policy_subject *s = &in->subject;
	bool from_server = in->direction == MW_POLICY_FROM_SERVER;

	if (!recheck || recheck->subject) {
		bool dir_ok = from_server ? r->from_server : r->from_client;

		if (e->trace)
			fprintf(e->trace, "%*s%c direction %s\n", e->indent, "",
				dir_ok ? '+' : '-',
				from_server ? "server to client"
					    : "client to server");
		if (!dir_ok)
			return 0;
		if ((r->servers.n &&
		     !check_strs(e, &r->servers, "server", in->server)) ||
		    (r->uids.n && !check_uids(e, &r->uids, s->uid)) ||
		    (r->users.n && !check_strs(e, &r->users, "user", s->user) &&
		     !(s->user_unknown &&
		       unknown_refuses(e, r, "user", "not all read"))) ||
		    (r->groups.n &&
		     !check_any_strs(e, &r->groups, "group", s->groups,
				     s->ngroups) &&
		     !(s->groups_unknown &&
		       unknown_refuses(e, r, "group", "not all read"))) ||
		    (r->subjects.n && !check_strs(e, &r->subjects, "subject",
						  s->oidc_subject)) ||
		    (r->oidc_groups.n &&
		     !check_any_strs(e, &r->oidc_groups, "oidc_group",
				     s->oidc_groups, s->noidc_groups)))
			return 0;
	}
	if ((!recheck || recheck->method) && r->methods.n &&
	    !check_globs(e, &r->methods, "method", in->method))
		return 0;
	if ((!recheck || recheck->target) && r->targets.n &&
	    !check_globs(e, &r->targets, target_field(r->target_kind),
			 in->target))
		return 0;
	if ((r->cgroups.n &&
	     !check_known_globs(e, r, &r->cgroups, "cgroup", s->cgroup)) ||
	    (r->exes.n && !check_known_globs(e, r, &r->exes, "exe", s->exe)))
		return 0;
	if (r->has_tool_changed) {
		bool ok = r->tool_changed == in->tool_changed;

		if (e->trace)
			fprintf(e->trace, "%*s%c tool_changed %s\n", e->indent,
				"", ok ? '+' : '-',
				in->tool_changed ? "true" : "false");
		if (!ok)
			return 0;
	}
	if (with_when && r->when)
		return cond_eval(e, r->when);
	return 1;
}

/* ---- decisions ---- */

static void decide_default(const struct mw_policy *p,
			   struct mw_policy_decision *d)
{
	d->action = p->default_action;
	d->rule = MW_POLICY_DEFAULT_RULE;
	d->rule_index = -1;
}

static void decide_rule(const struct mw_policy *p, size_t i,
			struct mw_policy_decision *d)
{
	const struct policy_rule *r = &p->rules[i];

	d->action = r->action;
	d->rule = r->name;
	d->rule_index = (int)i;
	d->message = r->message;
}

static void note_audit(const struct policy_rule *r,
		       struct mw_policy_decision *d)
{
	if (d->audit_rule)
		return;
	d->audit_rule = r->name;
	d->audit_action = r->action;
}

static int decide_error(struct mw_policy_decision *d)
{
	d->action = MW_DECIDE_DENY;
	d->rule = MW_POLICY_ERROR_RULE;
	d->rule_index = -1;
	d->message = "the policy could not be evaluated";
	return -1;
}

static void decision_start(struct mw_policy_decision *d)
{
	memset(d, 0, sizeof(*d));
	d->rule_index = -1;
	d->audit_action = MW_DECIDE_ALLOW;
}

static bool decide_none(const struct mw_policy *p, struct mw_policy_decision *d)
{
	if (!p->none)
		return false;
	d->action = MW_DECIDE_ALLOW;
	d->rule = MW_POLICY_NONE_RULE;
	return true;
}

static int decide(struct eval *e, const struct mw_policy_input *in,
		  struct mw_policy_decision *d)
{
	const struct mw_policy *p = e->p;
	uint64_t cand[POLICY_MAX_WORDS];
	struct policy_recheck recheck;

	decision_start(d);
	if (decide_none(p, d))
		return 0;
	policy_index_candidates(p, in, cand, &recheck);
	for (size_t w = 0; w < p->index.words; w++) {
		for (uint64_t bits = cand[w]; bits; bits &= bits - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			const struct policy_rule *r = &p->rules[i];
			int m = rule_matches(e, r, in, &recheck, true);

			/* an audit rule only observes: one it cannot
			 * evaluate refuses nothing */
			if (m < 0 && !r->audit)
				return decide_error(d);
			if (m < 0)
				continue;
			if (!m)
				continue;
			if (r->audit) {
				note_audit(r, d);
				continue;
			}
			decide_rule(p, i, d);
			return 0;
		}
	}
	decide_default(p, d);
	return 0;
}

int mw_policy_decide(const struct mw_policy *p,
		     const struct mw_policy_input *in,
		     struct mw_policy_decision *d)
{
	struct eval e = { .p = p, .params = in->params };
	int rc = decide(&e, in, d);

	mw_json_fold_cache_free(&e.fold);
	return rc;
}

bool mw_policy_tool_visible(const struct mw_policy *p,
			    const struct mw_policy_subject *subject,
			    const char *server, const char *tool,
			    bool tool_changed)
{
	struct mw_policy_input in = {
		.subject = *subject,
		.direction = MW_POLICY_FROM_CLIENT,
		.server = server,
		.method = "tools/call",
		.target = tool,
		.tool_changed = tool_changed,
	};
	struct eval e = { .p = p };
	uint64_t cand[POLICY_MAX_WORDS];
	struct policy_recheck recheck;

	if (p->none)
		return true;
	policy_index_candidates(p, &in, cand, &recheck);
	for (size_t w = 0; w < p->index.words; w++) {
		for (uint64_t bits = cand[w]; bits; bits &= bits - 1) {
			size_t i = w * 64 + (size_t)__builtin_ctzll(bits);
			const struct policy_rule *r = &p->rules[i];

			if (r->audit ||
			    rule_matches(&e, r, &in, &recheck, false) != 1)
				continue;
			if (r->action != MW_DECIDE_DENY)
				return true;
			if (!r->when)
				return false;
		}
	}
	return p->default_action != MW_DECIDE_DENY;
}

int mw_policy_explain(const struct mw_policy *p,
		      const struct mw_policy_input *in,
		      struct mw_policy_decision *d, FILE *out, bool verbose)
{
	decision_start(d);
	if (decide_none(p, d)) {
		fprintf(out, "no policy in the configuration: everything is "
			     "allowed\n");
		return 0;
	}
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];
		struct eval e = { .p = p, .params = in->params, .indent = 4 };
		char *text = NULL;
		size_t len = 0;
		int m;

		e.trace = open_memstream(&text, &len);
		if (!e.trace)
			return decide_error(d);
		m = rule_matches(&e, r, in, NULL, true);
		mw_json_fold_cache_free(&e.fold);
		fclose(e.trace);
		if (m != 0 || verbose) {
			fprintf(out, "rule '%s' (%s:%u:%u, %s%s): %s\n%s",
				r->name, p->file, r->line, r->col,
				r->audit ? "audit " : "",
				mw_policy_action_name(r->action),
				m > 0	? "matches"
				: m < 0 ? "cannot be evaluated"
					: "does not match",
				text ? text : "");
			if (m > 0 && r->audit)
				fprintf(out,
					"    audit mode: recorded as "
					"would-%s, evaluation goes on\n",
					mw_policy_action_name(r->action));
		}
		free(text);
		if (m < 0 && !r->audit)
			return decide_error(d);
		if (m <= 0)
			continue;
		if (r->audit) {
			note_audit(r, d);
			continue;
		}
		decide_rule(p, i, d);
		return 0;
	}
	decide_default(p, d);
	fprintf(out, "no enforced rule matches: the %s default decides\n",
		p->default_explicit ? "written" : "implicit");
	return 0;
}

/* ---- the policy object ---- */

static void cond_free(struct policy_cond *c)
{
	for (size_t i = 0; i < c->nkids; i++)
		cond_free(&c->kids[i]);
	free(c->kids);
	mw_jsonptr_free(c->ptr);
	json_decref(c->equals);
	free(c->prefix);
}

static void strs_free(struct policy_strs *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void globs_free(struct policy_globs *l)
{
	for (size_t i = 0; i < l->n; i++) {
		mw_glob_free(l->v[i]);
		free(l->text[i]);
	}
	free(l->v);
	free(l->text);
}

static void rule_free(struct policy_rule *r)
{
	free(r->name);
	free(r->message);
	strs_free(&r->servers);
	globs_free(&r->methods);
	strs_free(&r->users);
	strs_free(&r->groups);
	strs_free(&r->subjects);
	strs_free(&r->oidc_groups);
	globs_free(&r->targets);
	globs_free(&r->cgroups);
	globs_free(&r->exes);
	free(r->uids.v);
	if (r->when) {
		cond_free(r->when);
		free(r->when);
	}
}

void mw_policy_free(struct mw_policy *p)
{
	if (!p)
		return;
	policy_index_free(&p->index);
	for (size_t i = 0; i < p->nrules; i++)
		rule_free(&p->rules[i]);
	free(p->rules);
	for (size_t i = 0; i < p->nregexes; i++) {
		free(p->regexes[i].pattern);
		pcre2_code_free(p->regexes[i].re);
	}
	free(p->regexes);
	pcre2_match_data_free(p->md);
	pcre2_match_context_free(p->mctx);
	free(p->file);
	free(p->src);
	free(p);
}

const char *mw_policy_source(const struct mw_policy *p, size_t *len)
{
	*len = p->srclen;
	return p->src;
}

int mw_policy_check_servers(const struct mw_policy *p, const char *const *names,
			    size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < p->nrules; i++) {
		const struct policy_rule *r = &p->rules[i];

		for (size_t k = 0; k < r->servers.n; k++) {
			bool known = false;

			for (size_t j = 0; j < n && !known; j++)
				known = !strcmp(names[j], r->servers.v[k]);
			if (!known) {
				snprintf(err, errlen,
					 "%s:%u:%u: rule '%s': server '%s' "
					 "is not in 'servers'",
					 p->file, r->line, r->col, r->name,
					 r->servers.v[k]);
				return -1;
			}
		}
	}
	return 0;
}

size_t mw_policy_rule_count(const struct mw_policy *p)
{
	return p->nrules;
}

enum mw_policy_action mw_policy_default(const struct mw_policy *p,
					bool *explicit_default)
{
	if (explicit_default)
		*explicit_default = p->default_explicit;
	return p->none ? MW_DECIDE_ALLOW : p->default_action;
}

bool mw_policy_is_none(const struct mw_policy *p)
{
	return p->none;
}

const char *mw_policy_sha256(const struct mw_policy *p)
{
	return p->sha256;
}
