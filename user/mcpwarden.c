// SPDX-License-Identifier: BSD-2-Clause
/* mcpwarden: the operator's command line. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "commands.h"
#include "config.h"
#include "mask.h"
#include "control.h"
#include "evidence.h"
#include "log.h"
#include "pgcopy.h"
#include "policy.h"
#include "private_dir.h"
#include "replay.h"
#include "schema.h"
#include "sign.h"
#include "verify.h"
#include "yaml_util.h"

#define CONTROL_TIMEOUT_MS 30000

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mcpwarden [-c CONFIG] COMMAND [ARGS]\n"
		"\n"
		"  enforce [--kill-existing] CGROUP  steer CGROUP's MCP "
		"connections through mcpwarden\n"
		"  release CGROUP                    stop steering CGROUP\n"
		"  status [--json]                   enforced cgroups, "
		"servers, live connections, counters\n"
		"  sql [--owner] [PSQL ARGS...]      psql on the audit "
		"database (as the auditor, or the owner)\n"
		"  reload                            swap in the policy of "
		"the daemon's configuration\n"
		"  policy accept-tools SERVER        accept SERVER's changed "
		"tool definitions\n"
		"  policy check FILE                 validate a policy file "
		"or a configuration\n"
		"  policy explain FILE [OPTIONS]     which rule decides a "
		"request, and why\n"
		"      --uid N | --user NAME (default: yours)  --gid N  "
		"--group NAME...\n"
		"      --cgroup PATH  --exe PATH  --server NAME  --method M "
		"(tools/call)\n"
		"      --tool NAME (tool, prompt or resource URI)  --args "
		"JSON | --params JSON\n"
		"      --direction client|server  --subject S  --oidc-group "
		"G...  --tool-changed\n"
		"      --verbose\n"
		"  audit verify [OPTIONS]            check the audit trail's "
		"hash chains and signed\n"
		"                                    checkpoints (exit 0 ok, "
		"1 broken, 2 cannot verify)\n"
		"      --host NAME  --checkpoints FILE  --pubkey FILE  --json\n"
		"      --package DIR (an evidence package instead of the "
		"database)\n"
		"  audit pubkey                      print the public key "
		"that signs the checkpoints\n"
		"  evidence export --since T --until T -o DIR [--host NAME]\n"
		"                                    write an evidence "
		"package of the audit trail\n"
		"                                    (exit 0 verified, 1 "
		"broken, 2 not written)\n"
		"      T: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.ffffff]], UTC "
		"unless Z, +HH:MM or -HH:MM\n"
		"      follows; --until is excluded; DIR must be new or empty\n"
		"  replay SESSION [OPTIONS]          a session's messages as "
		"a timeline\n"
		"      --host NAME  --json (JSON Lines)  --follow (until "
		"interrupted)\n"
		"      --width N (of arguments and results; 0: not cut)\n"
		"      --conn ID instead of SESSION: a connection's "
		"session-less events\n"
		"\n"
		"CGROUP is a path relative to the cgroup v2 mount, or "
		"absolute.\n"
		"CONFIG defaults to %s.\n",
		MW_DEFAULT_CONFIG);
}

static int call(const struct mw_config *cfg, json_t *req, json_t **resp)
{
	char path[PATH_MAX], err[512];

	mw_control_path(cfg, path, sizeof(path));
	if (mw_control_call(path, req, CONTROL_TIMEOUT_MS, resp, err,
			    sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s\n", err);
		return -1;
	}
	if (!json_is_true(json_object_get(*resp, "ok"))) {
		fprintf(stderr, "mcpwarden: %s\n",
			json_string_value(json_object_get(*resp, "error"))
				?: "the daemon refused");
		return -1;
	}
	return 0;
}

static int cmd_enforce(const struct mw_config *cfg, int argc, char **argv,
		       bool on)
{
	bool kill = false;
	const char *cgroup = NULL;
	json_t *req, *resp = NULL;
	int rc = 1;

	for (int k = 1; k < argc; k++) {
		if (on && !strcmp(argv[k], "--kill-existing"))
			kill = true;
		else if (argv[k][0] == '-' || cgroup)
			goto usage;
		else
			cgroup = argv[k];
	}
	if (!cgroup)
		goto usage;
	req = json_pack("{s:s,s:s,s:b}", "cmd", on ? "enforce" : "release",
			"cgroup", cgroup, "kill_existing", kill);
	if (call(cfg, req, &resp))
		goto out;
	printf("%s %s\n", on ? "enforcing" : "released",
	       json_string_value(json_object_get(resp, "cgroup")));
	rc = on ? mw_print_existing(stdout, resp, kill) : 0;
out:
	json_decref(req);
	json_decref(resp);
	return rc;
usage:
	usage(stderr);
	return 2;
}

static void print_busy_poll(json_t *bp)
{
	json_int_t window;

	if (!bp) /* a daemon from before busy polling */
		return;
	window = json_integer_value(json_object_get(bp, "window_us"));
	if (!window) {
		printf("busy polling off\n");
		return;
	}
	printf("busy polling for %lld us after a batch: %lld windows, "
	       "%lld caught an event\n",
	       (long long)window,
	       (long long)json_integer_value(json_object_get(bp, "windows")),
	       (long long)json_integer_value(json_object_get(bp, "caught")));
}

static void print_status(json_t *r)
{
	json_t *v, *kernel = json_object_get(r, "kernel");
	const char *key;
	size_t i;

	printf("host %s, listening on %s, splice %s, pins %s\n",
	       json_string_value(json_object_get(r, "host")),
	       json_string_value(json_object_get(r, "listen")),
	       json_is_true(json_object_get(r, "splice")) ? "on" : "off",
	       json_string_value(json_object_get(r, "bpf_pin_dir")));
	print_busy_poll(json_object_get(r, "busy_poll"));
	printf("\nenforced cgroups:\n");
	if (!json_array_size(json_object_get(r, "enforced")) &&
	    !json_array_size(json_object_get(r, "waiting")))
		printf("  (none)\n");
	json_array_foreach (json_object_get(r, "enforced"), i, v) {
		const char *to =
			json_string_value(json_object_get(v, "delegated_to"));

		printf("  %s\n",
		       json_string_value(json_object_get(v, "cgroup")));
		if (to)
			printf("    OPEN: in a subtree delegated to %s, whose "
			       "processes can leave it; enforce %s instead\n",
			       to,
			       json_string_value(
				       json_object_get(v, "enforce_instead")));
	}
	/* enforced by path, not enforced now (a daemon before: none) */
	json_array_foreach (json_object_get(r, "waiting"), i, v) {
		const char *why = json_string_value(json_object_get(v, "why"));

		printf("  %s\n",
		       json_string_value(json_object_get(v, "cgroup")));
		if (why)
			printf("    REFUSED: made again (was id %lld), but "
			       "cannot be enforced again: %s\n",
			       (long long)json_integer_value(
				       json_object_get(v, "last_id")),
			       why);
		else
			printf("    WAITING: the cgroup is gone (was id %lld); "
			       "enforced again as soon as it is made again\n",
			       (long long)json_integer_value(
				       json_object_get(v, "last_id")));
	}
	printf("\nprotected servers:\n");
	json_array_foreach (json_object_get(r, "servers"), i, v) {
		printf("  %-20s %s",
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "address")));
		if (json_is_true(json_object_get(v, "local")))
			printf(" (local: every local address, %zu listed)",
			       json_array_size(
				       json_object_get(r, "local_addresses")));
		printf("\n");
	}
	printf("\nlive connections:\n");
	if (!json_array_size(json_object_get(r, "connections")))
		printf("  (none)\n");
	json_array_foreach (json_object_get(r, "connections"), i, v) {
		printf("  #%lld %s pid %lld uid %lld %s (%s) -> %s\n",
		       json_integer_value(json_object_get(v, "conn_id")),
		       json_string_value(json_object_get(v, "comm")),
		       json_integer_value(json_object_get(v, "pid")),
		       json_integer_value(json_object_get(v, "uid")),
		       json_string_value(json_object_get(v, "client")),
		       json_string_value(json_object_get(v, "cgroup")),
		       json_string_value(json_object_get(v, "server")));
	}
	printf("\nkernel counters:\n");
	json_object_foreach (kernel, key, v) {
		printf("  %-28s %lld\n", key, json_integer_value(v));
	}
	printf("\ndaemon counters:\n");
	json_object_foreach (json_object_get(r, "proxy"), key, v) {
		printf("  %-28s %lld\n", key, json_integer_value(v));
	}
	printf("\naudit:\n");
	json_object_foreach (json_object_get(r, "audit"), key, v) {
		if (json_is_boolean(v))
			printf("  %-28s %s\n", key,
			       json_is_true(v) ? "yes" : "no");
		else
			printf("  %-28s %lld\n", key, json_integer_value(v));
	}
}

static int cmd_status(const struct mw_config *cfg, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "cmd", "status"), *resp = NULL;
	bool as_json = argc == 2 && !strcmp(argv[1], "--json");
	int rc = 1;

	if (argc > 2 || (argc == 2 && !as_json)) {
		json_decref(req);
		usage(stderr);
		return 2;
	}
	if (call(cfg, req, &resp))
		goto out;
	if (as_json)
		json_dumpf(resp, stdout, JSON_INDENT(2));
	else
		print_status(resp);
	if (as_json)
		putchar('\n');
	rc = 0;
out:
	json_decref(req);
	json_decref(resp);
	return rc;
}

/*
 * Puts each option of conninfo that libpq also reads from the environment
 * there (PGHOST, PGPASSWORD, ...): a command line is anyone's to read in
 * /proc, and a password in it would be. The options without a variable go
 * to rest, as a connection string (empty when there are none). 0 or -1.
 */
static int conninfo_to_env(const char *conninfo, char *rest, size_t restlen)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	size_t used = 0;
	int rc = 0;

	rest[0] = '\0';
	if (!opts)
		return -1;
	for (PQconninfoOption *o = opts; o->keyword && !rc; o++) {
		if (!o->val)
			continue;
		if (o->envvar) {
			rc = setenv(o->envvar, o->val, 1);
			continue;
		}
		/* key='value', quotes and backslashes escaped */
		used += (size_t)snprintf(rest + used,
					 used < restlen ? restlen - used : 0,
					 "%s%s='", used ? " " : "", o->keyword);
		for (const char *c = o->val; *c && used < restlen; c++) {
			if ((*c == '\'' || *c == '\\') && used + 1 < restlen)
				rest[used++] = '\\';
			if (used < restlen)
				rest[used++] = *c;
		}
		if (used + 1 < restlen) {
			rest[used++] = '\'';
			rest[used] = '\0';
		} else {
			rc = -1;
		}
	}
	PQconninfoFree(opts);
	return rc;
}

/*
 * psql as the auditor (the views, read-only), or with --owner as the login
 * that owns the schema (retention: mcpwarden.drop_partitions_before).
 */
static int cmd_sql(const struct mw_config *cfg, int argc, char **argv)
{
	bool owner = argc > 1 && !strcmp(argv[1], "--owner");
	struct mw_audit_config ac;
	char conninfo[4096], rest[4096];
	char **args = calloc((size_t)argc + 3, sizeof(*args));
	int n;

	if (owner) {
		argc--;
		argv++;
	}
	mw_config_audit(cfg, &ac);
	if (!args ||
	    mw_audit_conninfo_as(&ac, owner ? MW_AUDIT_OWNER : MW_AUDIT_AUDITOR,
				 conninfo, sizeof(conninfo))) {
		fprintf(stderr, "mcpwarden: cannot build the connection "
				"string\n");
		free(args);
		return 1;
	}
	args[0] = "psql";
	if (conninfo_to_env(conninfo, rest, sizeof(rest))) {
		fprintf(stderr, "mcpwarden: cannot read the connection "
				"string\n");
		free(args);
		return 1;
	}
	/* what has no environment variable goes on the command line */
	n = 1;
	if (rest[0])
		args[n++] = rest;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	execvp("psql", args);
	fprintf(stderr, "mcpwarden: cannot run psql: %s\n", strerror(errno));
	free(args);
	return 1;
}

/* ---- policy check / policy explain ---- */

#define EXPLAIN_MAX_GROUPS 256

/*
 * A policy file holds "default" and "rules" only; anything else is a daemon
 * configuration (which may hold them too, or name a policy file).
 */
static bool is_policy_file(const char *path)
{
	char err[256], *bytes;
	struct mw_yaml_ctx c = { .err = err,
				 .errlen = sizeof(err),
				 .file = path };
	yaml_document_t doc;
	yaml_node_t *root;
	bool only_policy_keys = false;
	size_t len;

	if (mw_yaml_read_file(path, MW_CONFIG_MAX_BYTES, &bytes, &len, err,
			      sizeof(err)))
		return false;
	if (!mw_yaml_parse(&c, bytes, len, &doc)) {
		root = yaml_document_get_root_node(&doc);
		only_policy_keys = root && root->type == YAML_MAPPING_NODE;
		for (yaml_node_pair_t *p =
			     only_policy_keys ? root->data.mapping.pairs.start
					      : NULL;
		     p && p < root->data.mapping.pairs.top; p++) {
			const char *key =
				mw_yaml_scalar(mw_yaml_node(&c, p->key));

			if (!key ||
			    (strcmp(key, "default") && strcmp(key, "rules")))
				only_policy_keys = false;
		}
		yaml_document_delete(&doc);
	}
	free(bytes);
	return only_policy_keys;
}

struct loaded_policy {
	struct mw_config cfg;
	bool has_cfg;
	struct mw_policy *own; /* a policy file given directly */
	const struct mw_policy *p;
	const char *source;
};

static int load_policy_arg(const char *path, struct loaded_policy *lp)
{
	char err[1024];

	memset(lp, 0, sizeof(*lp));
	if (is_policy_file(path)) {
		if (mw_policy_load_file(path, &lp->own, NULL, err,
					sizeof(err))) {
			fprintf(stderr, "%s\n", err);
			return -1;
		}
		lp->p = lp->own;
		lp->source = path;
		return 0;
	}
	if (mw_config_load_text(path, &lp->cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	lp->has_cfg = true;
	lp->p = lp->cfg.policy;
	lp->source = lp->cfg.policy_file;
	return 0;
}

static void loaded_policy_free(struct loaded_policy *lp)
{
	mw_policy_free(lp->own);
	if (lp->has_cfg)
		mw_config_free(&lp->cfg);
}

static void print_policy_summary(FILE *f, const struct loaded_policy *lp)
{
	bool explicit_default;
	enum mw_policy_action def = mw_policy_default(lp->p, &explicit_default);

	if (mw_policy_is_none(lp->p)) {
		fprintf(f,
			"no policy (everything allowed, rule '%s'), "
			"sha256 %s\n",
			MW_POLICY_NONE_RULE, mw_policy_sha256(lp->p));
		return;
	}
	fprintf(f, "%zu rules, default %s%s, sha256 %s\n",
		mw_policy_rule_count(lp->p), mw_policy_action_name(def),
		explicit_default ? "" : " (implicit)", mw_policy_sha256(lp->p));
}

static int cmd_policy_check(int argc, char **argv)
{
	struct loaded_policy lp;

	if (argc != 2 || argv[1][0] == '-') {
		usage(stderr);
		return 2;
	}
	if (load_policy_arg(argv[1], &lp))
		return 1;
	fputs("ok: ", stdout);
	print_policy_summary(stdout, &lp);
	if (strcmp(lp.source, argv[1]))
		printf("policy file: %s\n", lp.source);
	if (lp.has_cfg && lp.cfg.masker)
		printf("masking: %zu rule(s), %u detector(s) (%u custom)\n",
		       mw_masker_n_rules(lp.cfg.masker),
		       mw_masker_n_detectors(lp.cfg.masker),
		       mw_masker_n_detectors(lp.cfg.masker) - MW_DET_N_BUILTIN);
	loaded_policy_free(&lp);
	return 0;
}

/* The subject as the daemon will see it: passwd, group database. */
struct explain_subject {
	struct mw_policy_subject s;
	char user[64];
	const char *groups[EXPLAIN_MAX_GROUPS];
	char *owned[EXPLAIN_MAX_GROUPS];
	size_t nowned;
	const char *oidc_groups[EXPLAIN_MAX_GROUPS];
};

static int add_group(struct explain_subject *es, const char *name, bool copy)
{
	char *dup = NULL;

	for (size_t i = 0; i < es->s.ngroups; i++)
		if (!strcmp(es->groups[i], name))
			return 0;
	if (es->s.ngroups == EXPLAIN_MAX_GROUPS) {
		fprintf(stderr, "mcpwarden: more than %d groups\n",
			EXPLAIN_MAX_GROUPS);
		return -1;
	}
	if (copy) {
		dup = strdup(name);
		if (!dup)
			return -1;
		es->owned[es->nowned++] = dup;
	}
	es->groups[es->s.ngroups++] = dup ? dup : name;
	return 0;
}

static int add_gid(struct explain_subject *es, gid_t gid)
{
	struct group *gr = getgrgid(gid);
	char num[16];

	if (gr)
		return add_group(es, gr->gr_name, true);
	snprintf(num, sizeof(num), "%u", (unsigned)gid);
	return add_group(es, num, true);
}

static int resolve_subject(struct explain_subject *es, const char *user,
			   const char *uid_arg, const char *gid_arg)
{
	struct passwd *pw;
	gid_t gids[EXPLAIN_MAX_GROUPS];
	int ngids = EXPLAIN_MAX_GROUPS;
	char *end;

	if (user) {
		pw = getpwnam(user);
		if (!pw) {
			fprintf(stderr, "mcpwarden: no user '%s'\n", user);
			return -1;
		}
	} else {
		unsigned long uid = uid_arg ? strtoul(uid_arg, &end, 10)
					    : (unsigned long)getuid();

		if (uid_arg && (!*uid_arg || *end || uid >= UINT32_MAX)) {
			fprintf(stderr, "mcpwarden: --uid: '%s' is not a uid\n",
				uid_arg);
			return -1;
		}
		es->s.uid = (uint32_t)uid;
		pw = getpwuid((uid_t)uid);
	}
	if (pw) {
		es->s.uid = pw->pw_uid;
		es->s.gid = pw->pw_gid;
		snprintf(es->user, sizeof(es->user), "%s", pw->pw_name);
	} else {
		/* As the daemon does for a uid without a name. */
		snprintf(es->user, sizeof(es->user), "%u", es->s.uid);
	}
	es->s.user = es->user;
	if (gid_arg) {
		unsigned long gid = strtoul(gid_arg, &end, 10);

		if (!*gid_arg || *end || gid >= UINT32_MAX) {
			fprintf(stderr, "mcpwarden: --gid: '%s' is not a gid\n",
				gid_arg);
			return -1;
		}
		es->s.gid = (uint32_t)gid;
	} else if (!pw) {
		fprintf(stderr,
			"mcpwarden: uid %u has no passwd entry: give --gid\n",
			es->s.uid);
		return -1;
	}
	es->s.groups = es->groups;
	if (add_gid(es, es->s.gid))
		return -1;
	if (pw && getgrouplist(pw->pw_name, es->s.gid, gids, &ngids) < 0) {
		fprintf(stderr, "mcpwarden: %s is in more than %d groups\n",
			pw->pw_name, EXPLAIN_MAX_GROUPS);
		return -1;
	}
	for (int i = 0; pw && i < ngids; i++)
		if (add_gid(es, gids[i]))
			return -1;
	return 0;
}

static void explain_subject_free(struct explain_subject *es)
{
	for (size_t i = 0; i < es->nowned; i++)
		free(es->owned[i]);
}

static json_t *parse_json_arg(const char *opt, const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES,
			       &jerr);

	if (!v)
		fprintf(stderr, "mcpwarden: %s: %s\n", opt, jerr.text);
	return v;
}

/* params as a client would send them for method, tool and arguments. */
static json_t *build_params(const char *method, const char *tool, json_t *args)
{
	json_t *params = json_object();
	bool named =
		!strcmp(method, "tools/call") || !strcmp(method, "prompts/get");

	if (!params)
		return NULL;
	if (tool && json_object_set_new(params, named ? "name" : "uri",
					json_string(tool)))
		goto fail;
	if (args && json_object_set(params, "arguments", args))
		goto fail;
	return params;
fail:
	json_decref(params);
	return NULL;
}

static void print_request(const struct mw_policy_input *in)
{
	const struct mw_policy_subject *s = &in->subject;
	char *params = in->params ? json_dumps(in->params,
					       JSON_COMPACT | JSON_SORT_KEYS)
				  : NULL;

	printf("subject: uid %u (%s), gid %u, groups", s->uid, s->user, s->gid);
	for (size_t i = 0; i < s->ngroups; i++)
		printf("%s%s", i ? "," : " ", s->groups[i]);
	printf(", cgroup %s, exe %s", s->cgroup ? s->cgroup : "-",
	       s->exe ? s->exe : "-");
	if (s->oidc_subject)
		printf(", subject %s", s->oidc_subject);
	printf("\nrequest: %s server '%s', method %s",
	       in->direction == MW_POLICY_FROM_SERVER ? "from" : "to",
	       in->server, in->method);
	if (in->target)
		printf(", target '%s'", in->target);
	printf(", params %s\n\n", params ? params : "(none)");
	free(params);
}

static int explain_run(const struct loaded_policy *lp,
		       const struct mw_policy_input *in, bool verbose)
{
	struct mw_policy_decision d, indexed;

	printf("policy: %s: ", lp->source);
	print_policy_summary(stdout, lp);
	print_request(in);
	mw_policy_explain(lp->p, in, &d, stdout, verbose);
	mw_policy_decide(lp->p, in, &indexed);
	printf("\ndecision: %s\nrule:     %s\n",
	       mw_policy_action_name(d.action), d.rule);
	if (d.message)
		printf("message:  %s\n", d.message);
	if (d.audit_rule)
		printf("audit:    rule '%s' would %s\n", d.audit_rule,
		       mw_policy_action_name(d.audit_action));
	/* The daemon's indexed path must agree with the rule-by-rule walk. */
	if (indexed.action != d.action || strcmp(indexed.rule, d.rule) ||
	    !indexed.audit_rule != !d.audit_rule ||
	    (d.audit_rule && strcmp(indexed.audit_rule, d.audit_rule))) {
		fprintf(stderr,
			"mcpwarden: internal error: the daemon's evaluation "
			"decides %s by rule '%s'\n",
			mw_policy_action_name(indexed.action), indexed.rule);
		return 1;
	}
	return 0;
}

static int cmd_policy_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "uid", required_argument, NULL, 'u' },
		{ "user", required_argument, NULL, 'U' },
		{ "gid", required_argument, NULL, 'g' },
		{ "group", required_argument, NULL, 'G' },
		{ "cgroup", required_argument, NULL, 'C' },
		{ "exe", required_argument, NULL, 'e' },
		{ "server", required_argument, NULL, 's' },
		{ "method", required_argument, NULL, 'm' },
		{ "tool", required_argument, NULL, 't' },
		{ "args", required_argument, NULL, 'a' },
		{ "params", required_argument, NULL, 'p' },
		{ "direction", required_argument, NULL, 'd' },
		{ "subject", required_argument, NULL, 'S' },
		{ "oidc-group", required_argument, NULL, 'O' },
		{ "tool-changed", no_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct explain_subject es = { 0 };
	struct mw_policy_input in = { .method = "tools/call" };
	struct loaded_policy lp = { 0 };
	const char *user = NULL, *uid = NULL, *gid = NULL, *tool = NULL;
	const char *extra_groups[EXPLAIN_MAX_GROUPS];
	size_t nextra = 0;
	json_t *args = NULL, *params = NULL;
	bool verbose = false, loaded = false;
	int opt, rc = 2;

	optind = 0; /* GNU getopt: start over on this argv */
	while ((opt = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			uid = optarg;
			break;
		case 'U':
			user = optarg;
			break;
		case 'g':
			gid = optarg;
			break;
		case 'G':
			if (nextra == EXPLAIN_MAX_GROUPS)
				goto usage;
			extra_groups[nextra++] = optarg;
			break;
		case 'C':
			in.subject.cgroup = optarg;
			break;
		case 'e':
			in.subject.exe = optarg;
			break;
		case 's':
			in.server = optarg;
			break;
		case 'm':
			in.method = optarg;
			break;
		case 't':
			tool = optarg;
			break;
		case 'a':
			json_decref(args);
			args = parse_json_arg("--args", optarg);
			if (!args)
				goto out;
			break;
		case 'p':
			json_decref(params);
			params = parse_json_arg("--params", optarg);
			if (!params)
				goto out;
			break;
		case 'd':
			if (!strcmp(optarg, "server"))
				in.direction = MW_POLICY_FROM_SERVER;
			else if (strcmp(optarg, "client"))
				goto usage;
			break;
		case 'S':
			in.subject.oidc_subject = optarg;
			break;
		case 'O':
			if (in.subject.noidc_groups == EXPLAIN_MAX_GROUPS)
				goto usage;
			es.oidc_groups[in.subject.noidc_groups++] = optarg;
			break;
		case 'T':
			in.tool_changed = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			goto usage;
		}
	}
	if (optind != argc - 1 || !in.server || (user && uid) ||
	    (params && (args || tool))) {
		fprintf(stderr, "mcpwarden: policy explain FILE --server NAME "
				"[...]; --user or --uid; --params or "
				"--tool/--args\n");
		goto usage;
	}
	rc = 1;
	if (resolve_subject(&es, user, uid, gid))
		goto out;
	for (size_t i = 0; i < nextra; i++)
		if (add_group(&es, extra_groups[i], false))
			goto out;
	es.s.cgroup = in.subject.cgroup;
	es.s.exe = in.subject.exe;
	es.s.oidc_subject = in.subject.oidc_subject;
	es.s.oidc_groups = es.oidc_groups;
	es.s.noidc_groups = in.subject.noidc_groups;
	in.subject = es.s;
	if (!params && (tool || args))
		params = build_params(in.method, tool, args);
	if ((tool || args) && !params)
		goto out;
	in.params = params;
	in.target = mw_policy_target(in.method, params);
	if (tool && !in.target) {
		fprintf(stderr,
			"mcpwarden: --tool: method %s names no tool, prompt "
			"or resource\n",
			in.method);
		goto out;
	}
	if (load_policy_arg(argv[optind], &lp))
		goto out;
	loaded = true;
	rc = explain_run(&lp, &in, verbose);
	goto out;
usage:
	usage(stderr);
	rc = 2;
out:
	if (loaded)
		loaded_policy_free(&lp);
	explain_subject_free(&es);
	json_decref(args);
	json_decref(params);
	return rc;
}

/* Asks the daemon to swap in the policy of its configuration file. */
static int cmd_reload(const struct mw_config *cfg, int argc)
{
	json_t *req, *resp = NULL;
	int rc;

	if (argc != 1) {
		usage(stderr);
		return 2;
	}
	req = json_pack("{s:s}", "cmd", "reload");
	rc = call(cfg, req, &resp);
	json_decref(req);
	if (!rc)
		printf("%s\n",
		       json_string_value(json_object_get(resp, "message")));
	json_decref(resp);
	return rc ? 1 : 0;
}

/* Accepts a server's tool definitions as it lists them now. */
static int cmd_accept_tools(const struct mw_config *cfg, int argc, char **argv)
{
	json_t *req, *resp = NULL;
	int rc;

	if (argc != 2) {
		usage(stderr);
		return 2;
	}
	req = json_pack("{s:s,s:s}", "cmd", "accept-tools", "server", argv[1]);
	rc = call(cfg, req, &resp);
	json_decref(req);
	if (!rc)
		printf("%s: %lld changed tool definition(s) accepted\n",
		       argv[1],
		       (long long)json_integer_value(
			       json_object_get(resp, "accepted")));
	json_decref(resp);
	return rc ? 1 : 0;
}

static int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "check"))
		return cmd_policy_check(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "explain"))
		return cmd_policy_explain(argc - 1, argv + 1);
	usage(stderr);
	return 2;
}

/* ---- audit verify / audit pubkey ---- */

/*
 * The configuration, and state_dir checked: what it holds is believed (the
 * keys, the checkpoint file, the daemon's socket and database) only when
 * nobody but root could have put it there. One not made yet is left to the
 * command, which finds nothing in it.
 */
static int load_config(const char *config, struct mw_config *cfg)
{
	char err[1024];
	int rc;

	if (mw_config_load_opts(config, cfg, 0, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s\n", err);
		return -1;
	}
	rc = mw_private_dir_check(cfg->state_dir, "state_dir", err,
				  sizeof(err));
	if (rc && rc != -ENOENT) {
		fprintf(stderr, "mcpwarden: %s\n", err);
		mw_config_free(cfg);
		return -1;
	}
	return 0;
}

static int join_path(char *out, size_t outlen, const char *dir,
		     const char *name)
{
	int n = snprintf(out, outlen, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= outlen) {
		fprintf(stderr, "mcpwarden: %s/%s: path too long\n", dir, name);
		return -1;
	}
	return 0;
}

typedef int (*chain_line_fn)(void *ctx, char *line, size_t len, char *err,
			     size_t errlen);

/*
 * COPY (SELECT <chain columns>, hash FROM mcpwarden.chain_events
 * [WHERE host = <host>] [AND <cond>] <order>) TO STDOUT, each line given
 * to fn as PostgreSQL sent it: the rows are streamed, never held.
 */
static int chain_copy(PGconn *conn, const char *host, const char *cond,
		      const char *order, chain_line_fn fn, void *ctx, char *err,
		      size_t errlen)
{
	char *lit = host ? PQescapeLiteral(conn, host, strlen(host)) : NULL;
	PGresult *res = NULL;
	char *q = NULL, *line;
	size_t qlen = 0;
	FILE *m = NULL;
	int n, rc = -1;

	if (host && !lit) {
		mw_set_err(err, errlen, "%s", PQerrorMessage(conn));
		return -1;
	}
	m = open_memstream(&q, &qlen);
	if (!m) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	fputs("COPY (SELECT ", m);
	for (int i = 0; i < MW_CF_N; i++)
		fprintf(m, "%s, ", mw_chain_field_names[i]);
	fputs("hash FROM mcpwarden.chain_events", m);
	if (lit)
		fprintf(m, " WHERE host = %s", lit);
	if (cond)
		fprintf(m, lit ? " AND %s" : " WHERE %s", cond);
	fprintf(m, " %s) TO STDOUT", order);
	if (fclose(m) || !q) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	res = PQexec(conn, q);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		goto pg_fail;
	PQclear(res);
	res = NULL;
	while ((n = PQgetCopyData(conn, &line, 0)) > 0) {
		int bad = fn(ctx, line, (size_t)n, err, errlen);

		PQfreemem(line);
		if (bad)
			goto out;
	}
	if (n == -2) {
		mw_set_err(err, errlen, "%s", PQerrorMessage(conn));
		goto out;
	}
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto pg_fail;
	rc = 0;
	goto out;
pg_fail:
	mw_set_err(err, errlen, "%s", PQresultErrorMessage(res));
out:
	PQclear(res);
	PQfreemem(lit);
	free(q);
	return rc;
}

static int verify_line(void *v, char *line, size_t len, char *err,
		       size_t errlen)
{
	return mw_verify_copy_line(v, line, len, err, errlen);
}

/*
 * Tells v the chains are whole, and the days whose partitions retention
 * has not dropped: the range of days (since 1970) of each partition, read
 * from its bounds, not its name (a renamed partition is still there).
 * Ranges, not days: a partition may span a century. At most
 * MW_VERIFY_MAX_PARTITIONS of them are read (one more tells there are
 * too many: verify then fails rather than judge on part of them).
 */
static int kept_days(PGconn *conn, struct mw_verify *v, char *err,
		     size_t errlen)
{
	/* a bound's literals carry their offset (ISO style): the cast is the
	 * same in any TimeZone; hi - 1 microsecond is the range's last
	 * instant, whose day ends it */
	static const char sql[] =
		"SELECT (lo::date - date '1970-01-01')::text, "
		"((hi - interval '1 microsecond')::date - date '1970-01-01' "
		"+ 1)::text FROM ("
		"SELECT substring(b FROM $$FROM \\('([0-9][^']*)'\\)$$)"
		"::timestamptz AT TIME ZONE 'UTC' AS lo, "
		"substring(b FROM $$TO \\('([0-9][^']*)'\\)$$)"
		"::timestamptz AT TIME ZONE 'UTC' AS hi "
		"FROM (SELECT pg_get_expr(c.relpartbound, c.oid) AS b "
		"FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
		"WHERE i.inhparent = 'mcpwarden.events'::regclass) p "
		"WHERE b ~ $$^FOR VALUES FROM \\('[0-9][^']*'\\) TO "
		"\\('[0-9][^']*'\\)$$) r WHERE hi > lo LIMIT $1::int";
	char limit[16];
	const char *params[1] = { limit };
	PGresult *r;
	struct mw_verify_days *kept = NULL;
	int n, rc = -1;

	snprintf(limit, sizeof(limit), "%d", MW_VERIFY_MAX_PARTITIONS + 1);
	r = PQexec(conn, "SET DateStyle = ISO");
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(r));
		goto out;
	}
	PQclear(r);
	r = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(r));
		goto out;
	}
	n = PQntuples(r);
	kept = calloc(n ? (size_t)n : 1, sizeof(*kept));
	if (!kept) {
		mw_set_err(err, errlen, "out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		kept[i].lo = strtoll(PQgetvalue(r, i, 0), NULL, 10);
		kept[i].hi = strtoll(PQgetvalue(r, i, 1), NULL, 10);
	}
	PQclear(r);
	/*
	 * Retention drops, by name, the daily partitions of the days before
	 * its cutoff: every one left named for a day is at or after every
	 * cutoff, so no day from the earliest of them on was dropped, not
	 * even one whose rows sat in the default partition. A name that is
	 * no date fails, as it fails retention.
	 */
	r = PQexec(conn,
		   "SELECT min(to_date(substr(c.relname, 8), 'YYYYMMDD') - "
		   "date '1970-01-01')::text "
		   "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
		   "WHERE i.inhparent = 'mcpwarden.events'::regclass "
		   "AND c.relname ~ '^events_[0-9]{8}$'");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(r));
		goto out;
	}
	rc = mw_verify_whole_chains(
		v, kept, (size_t)n,
		PQgetisnull(r, 0, 0) ? MW_VERIFY_NO_DAILY
				     : strtoll(PQgetvalue(r, 0, 0), NULL, 10),
		err, errlen);
out:
	free(kept);
	PQclear(r);
	return rc;
}

/* A read-only transaction of one snapshot for all that is read in it. */
static int snapshot_begin(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res = PQexec(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ "
				     "READ ONLY");
	int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;

	if (rc)
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

/*
 * The partitions and the events of one moment: one snapshot, and the
 * events table locked (ACCESS SHARE, as any read of it) until the end,
 * since dropping a partition locks its parent exclusively: retention
 * waits, and cannot drop between the partitions read and the events
 * copied (its events would be missing from days kept: a false deletion).
 */
static int verify_snapshot(PGconn *conn, char *err, size_t errlen)
{
	PGresult *res;
	int rc;

	if (snapshot_begin(conn, err, errlen))
		return -1;
	res = PQexec(conn, "SELECT 1 FROM mcpwarden.chain_events LIMIT 0");
	rc = PQresultStatus(res) == PGRES_TUPLES_OK ? 0 : -1;
	if (rc)
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(res));
	PQclear(res);
	return rc;
}

/* Streams the database's rows into v: one COPY, row by row. */
static int audit_verify_db(struct mw_verify *v, const struct mw_config *cfg,
			   const char *host)
{
	struct mw_audit_config ac;
	char conninfo[2048], err[1024];
	PGconn *conn;
	int rc = -1;

	mw_config_audit(cfg, &ac);
	if (mw_audit_conninfo(&ac, conninfo, sizeof(conninfo))) {
		fprintf(stderr, "mcpwarden: cannot build the connection "
				"string\n");
		return -1;
	}
	conn = mw_audit_pq_connect(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		mw_set_err(err, sizeof(err), "%s", PQerrorMessage(conn));
		fprintf(stderr,
			"mcpwarden: cannot connect to the audit database: "
			"%s\n",
			err);
		goto out;
	}
	if (mw_schema_check(conn, mw_verify_database_problem, v, err,
			    sizeof(err))) {
		fprintf(stderr,
			"mcpwarden: comparing the views with mcpwarden's "
			"definitions: %s\n",
			err);
		goto out;
	}
	if (verify_snapshot(conn, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: reading the audit database: %s\n",
			err);
		goto out;
	}
	if (kept_days(conn, v, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: reading the partitions: %s\n", err);
		goto out;
	}
	/* ts, not ts_us: the order of the key's index, no sort */
	rc = chain_copy(conn, host, NULL, "ORDER BY host, seq, ts", verify_line,
			v, err, sizeof(err));
	if (rc)
		fprintf(stderr, "mcpwarden: reading the events: %s\n", err);
out:
	PQfinish(conn);
	return rc;
}

/*
 * A checkpoint file. The daemon's own (optional, own_host set) may be
 * missing: a break for own_host's chain when the database holds its
 * checkpoints (mw_verify says so), a warning otherwise.
 */
static int audit_checkpoints(struct mw_verify *v, const char *path,
			     const char *host, bool optional,
			     const char *own_host)
{
	char err[1024];

	if (!mw_verify_load_checkpoints(v, path, host, err, sizeof(err)))
		return 0;
	if (optional && errno == ENOENT) {
		fprintf(stderr,
			"mcpwarden: warning: no checkpoint file %s: only the "
			"checkpoints in the database are checked, a deleted "
			"tail cannot be seen (give a copy with "
			"--checkpoints)\n",
			path);
		if (own_host)
			mw_verify_checkpoint_file_missing(v, own_host);
		return 0;
	}
	fprintf(stderr, "mcpwarden: checkpoint file: %s\n", err);
	return -1;
}

/*
 * The report on stdout, flushed: 0, or -1 with a message when it could
 * not be made or written (a full disk, a closed pipe). The exit status
 * says the trail is intact only once its report is out: `audit verify
 * --json > report.json` on a full file system must not exit 0 with an
 * empty report.
 */
static int audit_report(struct mw_verify *v, bool as_json, const char *source)
{
	json_t *j = NULL;
	int rc = -1;

	errno = 0; /* what a write below fails with, if one does */
	if (!as_json) {
		mw_verify_print(v, stdout);
	} else {
		j = mw_verify_json(v);
		if (!j ||
		    json_object_set_new(j, "source", json_string(source))) {
			fprintf(stderr,
				"mcpwarden: the report: out of memory\n");
			goto out;
		}
		/* its errors are stdout's too: ferror below */
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "mcpwarden: writing the report: %s\n",
			strerror(errno ?: EIO));
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

static int cmd_audit_verify(const char *config, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "checkpoints", required_argument, NULL, 'C' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "package", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL, *cps = NULL, *pubkey = NULL, *package = NULL;
	struct mw_config cfg;
	struct mw_sign_pub *pub = NULL;
	struct mw_verify *v = NULL;
	char path[PATH_MAX], err[1024];
	bool as_json = false, have_cfg = false;
	int opt, rc = 2;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			host = optarg;
			break;
		case 'C':
			cps = optarg;
			break;
		case 'k':
			pubkey = optarg;
			break;
		case 'P':
			package = optarg;
			break;
		case 'j':
			as_json = true;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (package && host)) {
		if (package && host)
			fprintf(stderr, "mcpwarden: a package is verified "
					"whole: no --host\n");
		usage(stderr);
		return 2;
	}
	/* a package needs no configuration: it may be checked anywhere */
	if (!package) {
		if (load_config(config, &cfg))
			return 2;
		have_cfg = true;
	}
	if (pubkey)
		snprintf(path, sizeof(path), "%s", pubkey);
	else if (join_path(path, sizeof(path), package ?: cfg.state_dir,
			   package ? MW_EVIDENCE_PUBKEY : MW_SIGN_PUB_FILE))
		goto out;
	if (mw_sign_pub_load(&pub, path, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: public key: %s\n", err);
		goto out;
	}
	if (package && !pubkey)
		fprintf(stderr,
			"mcpwarden: note: checkpoints are checked with the "
			"package's own key %s: compare it with the host's "
			"(`mcpwarden audit pubkey` there) or give --pubkey\n",
			mw_sign_pub_key_id(pub));
	if (mw_verify_new(&v, pub, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s\n", err);
		goto out;
	}
	/* checkpoints first: each one read is then older than the rows */
	if (package) {
		if (mw_evidence_verify_dir(v, package, cps, err, sizeof(err))) {
			fprintf(stderr, "mcpwarden: %s\n", err);
			goto out;
		}
	} else {
		struct mw_audit_config ac;

		mw_config_audit(&cfg, &ac);
		if (!cps && mw_audit_checkpoint_path(&ac, path, sizeof(path))) {
			fprintf(stderr, "mcpwarden: checkpoint file path too "
					"long\n");
			goto out;
		}
		/* the daemon ran with this state_dir when its key is here */
		if (audit_checkpoints(v, cps ?: path, host, !cps,
				      pubkey ? NULL : cfg.host) ||
		    audit_verify_db(v, &cfg, host))
			goto out;
	}
	mw_verify_finish(v);
	if (host && !mw_verify_find_host(v, host)) {
		fprintf(stderr,
			"mcpwarden: host %s has no events in the database "
			"and no checkpoints in the file: nothing to verify\n",
			host);
		goto out;
	}
	if (audit_report(v, as_json, package ? "package" : "database"))
		goto out;
	rc = mw_verify_ok(v) ? 0 : 1;
out:
	mw_verify_free(v);
	mw_sign_pub_free(pub);
	if (have_cfg)
		mw_config_free(&cfg);
	return rc;
}

/* Prints the public key file, once it loads as a key. */
static int cmd_audit_pubkey(const char *config, int argc)
{
	struct mw_config cfg;
	struct mw_sign_pub *pub = NULL;
	char path[PATH_MAX], err[512];
	char *pem = NULL;
	size_t len = 0;
	int rc = 1;

	if (argc != 1) {
		usage(stderr);
		return 2;
	}
	if (load_config(config, &cfg))
		return 1;
	if (join_path(path, sizeof(path), cfg.state_dir, MW_SIGN_PUB_FILE))
		goto out;
	if (mw_sign_pub_load_pem(&pub, path, &pem, &len, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s\n", err);
		goto out;
	}
	if (fwrite(pem, 1, len, stdout) == len && !fflush(stdout))
		rc = 0;
out:
	free(pem);
	mw_sign_pub_free(pub);
	mw_config_free(&cfg);
	return rc;
}

static int cmd_audit(const char *config, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "verify"))
		return cmd_audit_verify(config, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "pubkey"))
		return cmd_audit_pubkey(config, argc - 1);
	usage(stderr);
	return 2;
}

/* ---- interruption (evidence export, replay --follow) ---- */

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGINT, SIGTERM and SIGHUP set stop_requested instead of ending the
 * process: the command stops where it is and cleans up. */
static int catch_stop_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop_signal };

	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL)) {
		fprintf(stderr, "mcpwarden: sigaction: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* -1 with err set once a stop signal came. */
static int interrupted(char *err, size_t errlen)
{
	if (!stop_requested)
		return 0;
	mw_set_err(err, errlen, "interrupted");
	return -1;
}

/* ---- evidence export ---- */

typedef int (*evidence_row_fn)(struct mw_evidence *e,
			       const struct mw_chain_value f[MW_CF_N + 1],
			       char *err, size_t errlen);

/* One export: the auditor's connection, the window's hosts (their names
 * point into hosts), the package. */
struct evidence_run {
	PGconn *conn;
	PGresult *hosts;
	struct mw_evidence_host_window *hw;
	int nhosts;
	struct mw_evidence *e;
};

/* A row of chain_copy's for an evidence_row_fn: decoded, then given on. */
struct evidence_line {
	struct evidence_run *r;
	evidence_row_fn fn;
};

/*
 * An event row longer than a COPY line is read (a superuser can store
 * one): left out of the package, named by its host and seq, decoded from
 * the line's start. Only events have rows that long to leave out.
 */
static int evidence_line_too_long(struct evidence_line *el, const char *line,
				  size_t len, char *err, size_t errlen)
{
	char head[2 * MW_VERIFY_HOST_MAX + 64], why[128];
	struct mw_chain_value f[2];
	size_t n = 0, tabs = 0;

	while (n < len && n < sizeof(head) && tabs < 2)
		tabs += line[n++] == '\t';
	memcpy(head, line, n);
	if (el->fn != mw_evidence_event || tabs < 2 ||
	    mw_pgcopy_parse(head, n - 1, f, 2, err, errlen)) {
		mw_set_err(err, errlen,
			   "a row longer than %u bytes, whose host and seq "
			   "cannot be read",
			   MW_PGCOPY_MAX_LINE);
		return -1;
	}
	snprintf(why, sizeof(why),
		 "the row is longer than %u bytes, which no event the daemon "
		 "writes is",
		 MW_PGCOPY_MAX_LINE);
	return mw_evidence_event_left_out(el->r->e, &f[0], &f[1], why, err,
					  errlen);
}

static int evidence_line(void *ctx, char *line, size_t len, char *err,
			 size_t errlen)
{
	struct evidence_line *el = ctx;
	struct mw_chain_value f[MW_CF_N + 1];

	if (interrupted(err, errlen))
		return -1;
	if (len > MW_PGCOPY_MAX_LINE)
		return evidence_line_too_long(el, line, len, err, errlen);
	if (mw_pgcopy_parse(line, len, f, MW_CF_N + 1, err, errlen))
		return -1;
	return el->fn(el->r->e, f, err, errlen);
}

/* host's rows that meet cond, in order, each to fn: the text exactly as
 * PostgreSQL returns it. */
static int evidence_copy(struct evidence_run *r, const char *host,
			 const char *cond, const char *order,
			 evidence_row_fn fn, char *err, size_t errlen)
{
	struct evidence_line el = { r, fn };

	return chain_copy(r->conn, host, cond, order, evidence_line, &el, err,
			  errlen);
}

/* A seq or count as PostgreSQL prints it (chain.h's one reader). */
static bool evidence_seq(const char *s, uint64_t *out)
{
	struct mw_chain_value v = { s, s ? strlen(s) : 0 };

	return mw_chain_value_seq(&v, out);
}

/* The first row's seq of a one-column query (0 when none). */
static int evidence_seq_query(PGconn *conn, const char *sql,
			      const char *const params[2], uint64_t *out,
			      char *err, size_t errlen)
{
	PGresult *c = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
	char name[MW_VERIFY_NAME_ESC];
	int rc = 0;

	*out = 0;
	if (PQresultStatus(c) != PGRES_TUPLES_OK) {
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(c));
		rc = -1;
	} else if (PQntuples(c) && !PQgetisnull(c, 0, 0) &&
		   !evidence_seq(PQgetvalue(c, 0, 0), out)) {
		/* the name is the database's: escaped for the terminal */
		mw_set_err(err, errlen,
			   "host %s: a seq that is not a positive integer",
			   mw_verify_escape(params[0], strlen(params[0]),
					    MW_VERIFY_HOST_MAX, name,
					    sizeof(name)));
		rc = -1;
	}
	PQclear(c);
	return rc;
}

/*
 * The hosts with events whose ts is in [since, until): the first and last
 * seq and the count of those; the first checkpoint event after the last,
 * up to which the export goes, and the event signed by the last checkpoint
 * before the first (else the host's first event), from which it starts, so
 * that signatures vouch for both ends of what is exported.
 */
static int evidence_hosts(struct evidence_run *r, const char *since,
			  const char *until, const char *host, char *err,
			  size_t errlen)
{
	const char *wp[3] = { since, until, host };
	int n;

	r->hosts = PQexecParams(
		r->conn,
		"SELECT host, min(seq), max(seq), count(*) "
		"FROM mcpwarden.chain_events "
		"WHERE ts >= $1::timestamptz AND ts < $2::timestamptz "
		"AND ($3::text IS NULL OR host = $3::text) "
		"GROUP BY host ORDER BY host",
		3, NULL, wp, NULL, NULL, 0);
	if (PQresultStatus(r->hosts) != PGRES_TUPLES_OK) {
		mw_set_err(err, errlen, "%s", PQresultErrorMessage(r->hosts));
		return -1;
	}
	n = PQntuples(r->hosts);
	if (n > MW_EVIDENCE_MAX_HOSTS) {
		mw_set_err(err, errlen, "more than %d hosts in the window",
			   MW_EVIDENCE_MAX_HOSTS);
		return -1;
	}
	r->hw = calloc(n ? (size_t)n : 1, sizeof(*r->hw));
	if (!r->hw) {
		mw_set_err(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct mw_evidence_host_window *w = &r->hw[i];
		const char *cp[2] = { PQgetvalue(r->hosts, i, 0),
				      PQgetvalue(r->hosts, i, 2) };

		w->host = cp[0];
		if (!evidence_seq(PQgetvalue(r->hosts, i, 1), &w->first_seq) ||
		    !evidence_seq(cp[1], &w->last_seq) ||
		    !evidence_seq(PQgetvalue(r->hosts, i, 3), &w->events)) {
			char name[MW_VERIFY_NAME_ESC];

			mw_set_err(err, errlen,
				   "host %s: seqs that are not positive "
				   "integers",
				   mw_verify_escape(w->host, strlen(w->host),
						    MW_VERIFY_HOST_MAX, name,
						    sizeof(name)));
			return -1;
		}
		const char *fp[2] = { w->host, PQgetvalue(r->hosts, i, 1) };
		uint64_t cp_before = 0;

		/* the key's index, walked from last_seq on: no sort */
		if (evidence_seq_query(r->conn,
				       "SELECT seq FROM mcpwarden.chain_events "
				       "WHERE host = $1 AND seq > $2::bigint "
				       "AND kind = 'checkpoint' ORDER BY seq "
				       "LIMIT 1",
				       cp, &w->checkpoint_seq, err, errlen) ||
		    /* and back from first_seq */
		    evidence_seq_query(r->conn,
				       "SELECT seq FROM mcpwarden.chain_events "
				       "WHERE host = $1 AND seq <= $2::bigint "
				       "AND kind = 'checkpoint' ORDER BY seq "
				       "DESC LIMIT 1",
				       fp, &cp_before, err, errlen) ||
		    (!cp_before &&
		     evidence_seq_query(
			     r->conn,
			     "SELECT seq FROM mcpwarden.chain_events "
			     "WHERE host = $1 AND seq <= $2::bigint "
			     "ORDER BY seq LIMIT 1",
			     fp, &w->anchor_seq, err, errlen)))
			return -1;
		/* a checkpoint event at K signs event K - 1 */
		if (cp_before > 1)
			w->anchor_seq = cp_before - 1;
		r->nhosts = i + 1;
		if (mw_evidence_add_host(r->e, w, err, errlen))
			return -1;
	}
	return 0;
}

/*
 * What was in force at --since: the last policy_loaded and daemon_start
 * events before each host's first exported seq (the key's index, walked
 * back).
 */
static int evidence_context(struct evidence_run *r, char *err, size_t errlen)
{
	static const char *const kinds[] = { "policy_loaded", "daemon_start" };
	char cond[160];

	for (int i = 0; i < r->nhosts; i++) {
		for (size_t k = 0; r->hw[i].first_seq > 1 && k < 2; k++) {
			snprintf(cond, sizeof(cond),
				 "seq < %llu AND kind = '%s'",
				 (unsigned long long)r->hw[i].first_seq,
				 kinds[k]);
			if (evidence_copy(r, r->hw[i].host, cond,
					  "ORDER BY seq DESC, ts DESC LIMIT 1",
					  mw_evidence_context_row, err, errlen))
				return -1;
		}
	}
	return 0;
}

/*
 * The events, host by host: the whole seq range from the window's first
 * event to the checkpoint after its last (or its last when there is none
 * yet). By seq, not by ts: the chain must be whole even where the host's
 * clock went back (FORMAT.md, "The window").
 */
static int evidence_events(struct evidence_run *r, char *err, size_t errlen)
{
	char cond[160];

	if (mw_evidence_events_begin(r->e, err, errlen))
		return -1;
	for (int i = 0; i < r->nhosts; i++) {
		const struct mw_evidence_host_window *w = &r->hw[i];

		snprintf(
			cond, sizeof(cond), "seq >= %llu AND seq <= %llu",
			(unsigned long long)(w->anchor_seq ?: w->first_seq),
			(unsigned long long)(w->checkpoint_seq ?: w->last_seq));
		if (evidence_copy(r, w->host, cond, "ORDER BY host, seq, ts",
				  mw_evidence_event, err, errlen))
			return -1;
	}
	return mw_evidence_events_end(r->e, err, errlen);
}

/* A --since/--until argument, and its canonical UTC form. */
static int evidence_time_arg(const char *opt, const char *arg, int64_t *us,
			     char text[MW_EVIDENCE_TIME_LEN])
{
	char err[256];

	if (mw_evidence_parse_time(arg, us, err, sizeof(err)))
		goto fail;
	if (mw_evidence_format_time(*us, text)) {
		mw_set_err(err, sizeof(err),
			   "'%s' is outside the years 0001 to 9999 in UTC",
			   arg);
		goto fail;
	}
	return 0;
fail:
	fprintf(stderr, "mcpwarden: %s: %s\n", opt, err);
	return -1;
}

static int cmd_evidence_export(const char *config, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "output", required_argument, NULL, 'o' },
		{ "host", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	const char *since = NULL, *until = NULL, *dir = NULL, *host = NULL;
	char since_s[MW_EVIDENCE_TIME_LEN], until_s[MW_EVIDENCE_TIME_LEN];
	char conninfo[2048], pub[PATH_MAX], cps[PATH_MAX], err[1024];
	struct mw_evidence_request req = { 0 };
	struct evidence_run r = { 0 };
	struct mw_audit_config ac;
	struct mw_config cfg;
	struct timespec now;
	bool have_cfg = false, verified = false;
	int opt, rc = 2;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			since = optarg;
			break;
		case 'u':
			until = optarg;
			break;
		case 'o':
			dir = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !since || !until || !dir) {
		fprintf(stderr, "mcpwarden: evidence export --since T --until "
				"T -o DIR [--host NAME]\n");
		usage(stderr);
		return 2;
	}
	if (evidence_time_arg("--since", since, &req.since_us, since_s) ||
	    evidence_time_arg("--until", until, &req.until_us, until_s))
		return 2;
	if (req.since_us >= req.until_us) {
		fprintf(stderr,
			"mcpwarden: --since %s is not before --until %s\n",
			since_s, until_s);
		return 2;
	}
	if (load_config(config, &cfg))
		return 2;
	have_cfg = true;
	mw_config_audit(&cfg, &ac);
	if (mw_audit_checkpoint_path(&ac, cps, sizeof(cps)) ||
	    join_path(pub, sizeof(pub), cfg.state_dir, MW_SIGN_PUB_FILE) ||
	    mw_audit_conninfo(&ac, conninfo, sizeof(conninfo))) {
		fprintf(stderr, "mcpwarden: a path or the connection string "
				"is too long\n");
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	req.created_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	req.host = host;
	if (catch_stop_signals())
		goto out;
	if (mw_evidence_open(&r.e, dir, &req, err, sizeof(err)) ||
	    mw_evidence_public_key_file(r.e, pub, err, sizeof(err)))
		goto fail;
	r.conn = mw_audit_pq_connect(conninfo);
	if (PQstatus(r.conn) != CONNECTION_OK) {
		mw_set_err(err, sizeof(err),
			   "cannot connect to the audit database: %s",
			   PQerrorMessage(r.conn));
		goto fail;
	}
	/* one snapshot for the window, the context and the events */
	if (snapshot_begin(r.conn, err, sizeof(err)) ||
	    evidence_hosts(&r, since_s, until_s, host, err, sizeof(err)) ||
	    evidence_context(&r, err, sizeof(err)) ||
	    evidence_events(&r, err, sizeof(err)) ||
	    mw_evidence_checkpoint_file(r.e, cps, err, sizeof(err)) ||
	    interrupted(err, sizeof(err)) ||
	    mw_evidence_finish(r.e, &verified, err, sizeof(err)))
		goto fail;
	mw_evidence_print_summary(r.e, stdout);
	rc = verified ? 0 : 1;
	goto out;
fail:
	fprintf(stderr, "mcpwarden: evidence export: %s%s\n", err,
		r.e ? " (nothing is left in the output directory)" : "");
out:
	mw_evidence_free(r.e);
	PQclear(r.hosts);
	free(r.hw);
	PQfinish(r.conn);
	if (have_cfg)
		mw_config_free(&cfg);
	return rc;
}

static int cmd_evidence(const char *config, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "export"))
		return cmd_evidence_export(config, argc - 1, argv + 1);
	usage(stderr);
	return 2;
}

/* ---- replay ---- */

/* Colour on a terminal only, unless NO_COLOR says otherwise (no-color.org). */
static bool replay_color(void)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");

	return isatty(STDOUT_FILENO) && !(no && *no) &&
	       !(term && !strcmp(term, "dumb"));
}

static int cmd_replay(const struct mw_config *cfg, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "follow", no_argument, NULL, 'f' },
		{ "width", required_argument, NULL, 'w' },
		{ "conn", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct mw_replay_opts ro = { .width = MW_REPLAY_DEFAULT_WIDTH };
	struct mw_replay_query q = { 0 };
	struct mw_audit_config ac;
	struct mw_replay *r = NULL;
	char conninfo[2048], err[1024];
	bool by_conn = false;
	unsigned long long n;
	PGconn *conn = NULL;
	int opt, rc = 1;
	char *end;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			q.host = optarg;
			break;
		case 'j':
			ro.json = true;
			break;
		case 'f':
			q.follow = true;
			break;
		case 'w':
		case 'C':
			errno = 0;
			n = strtoull(optarg, &end, 10);
			if (!*optarg || *optarg == '-' || *end || errno ||
			    (opt == 'w' && n > MW_REPLAY_MAX_WIDTH) ||
			    (opt == 'C' && (!n || n > INT64_MAX))) {
				fprintf(stderr,
					"mcpwarden: %s: '%s' is not %s\n",
					opt == 'w' ? "--width" : "--conn",
					optarg,
					opt == 'w' ? "a width (0 to 100000)"
						   : "a connection id");
				return 2;
			}
			if (opt == 'w')
				ro.width = (unsigned)n;
			else
				q.conn_id = (long long)n;
			by_conn |= opt == 'C';
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - (by_conn ? 0 : 1)) {
		usage(stderr);
		return 2;
	}
	q.session = by_conn ? NULL : argv[optind];
	mw_config_audit(cfg, &ac);
	if (mw_audit_conninfo(&ac, conninfo, sizeof(conninfo))) {
		fprintf(stderr, "mcpwarden: cannot build the connection "
				"string\n");
		return 1;
	}
	conn = mw_audit_pq_connect(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		mw_set_err(err, sizeof(err), "%s", PQerrorMessage(conn));
		fprintf(stderr,
			"mcpwarden: cannot connect to the audit database: "
			"%s\n",
			err);
		goto out;
	}
	ro.color = !ro.json && replay_color();
	if (mw_replay_new(&r, &ro)) {
		fprintf(stderr, "mcpwarden: out of memory\n");
		goto out;
	}
	/* --follow ends on these, with what it printed flushed: exit 0 */
	if (q.follow && catch_stop_signals())
		goto out;
	rc = mw_replay_run(conn, r, &q, &stop_requested, stdout, err,
			   sizeof(err));
	if (rc == -ENOENT) {
		mw_replay_not_found(&q, err, sizeof(err));
		fprintf(stderr, "mcpwarden: %s\n", err);
	} else if (rc) {
		fprintf(stderr, "mcpwarden: %s\n", err);
	}
	rc = rc ? 1 : 0;
out:
	mw_replay_free(r);
	PQfinish(conn);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = MW_DEFAULT_CONFIG;
	struct mw_config cfg;
	const char *cmd;
	int opt, rc;

	while ((opt = getopt(argc, argv, "+c:h")) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	/* Policy commands read the file they are given, not the daemon's;
	 * accepting tools asks the daemon. */
	if (!strcmp(cmd, "policy") &&
	    !(optind + 1 < argc && !strcmp(argv[optind + 1], "accept-tools")))
		return cmd_policy(argc - optind, argv + optind);
	/* Audit commands load what they need: a package needs no config. */
	if (!strcmp(cmd, "audit"))
		return cmd_audit(config, argc - optind, argv + optind);
	if (!strcmp(cmd, "evidence"))
		return cmd_evidence(config, argc - optind, argv + optind);
	if (load_config(config, &cfg))
		return 1;
	argc -= optind;
	argv += optind;
	if (!strcmp(cmd, "enforce"))
		rc = cmd_enforce(&cfg, argc, argv, true);
	else if (!strcmp(cmd, "release"))
		rc = cmd_enforce(&cfg, argc, argv, false);
	else if (!strcmp(cmd, "status"))
		rc = cmd_status(&cfg, argc, argv);
	else if (!strcmp(cmd, "sql"))
		rc = cmd_sql(&cfg, argc, argv);
	else if (!strcmp(cmd, "reload"))
		rc = cmd_reload(&cfg, argc);
	else if (!strcmp(cmd, "policy"))
		rc = cmd_accept_tools(&cfg, argc - 1, argv + 1);
	else if (!strcmp(cmd, "replay"))
		rc = cmd_replay(&cfg, argc, argv);
	else {
		fprintf(stderr, "mcpwarden: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	mw_config_free(&cfg);
	return rc;
}
