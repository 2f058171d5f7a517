// SPDX-License-Identifier: BSD-2-Clause
/* mcpwarden: the operator's command line. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "control.h"
#include "log.h"
#include "policy.h"
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
	json_t *req, *resp = NULL, *existing, *e;
	size_t i;
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
	existing = json_object_get(resp, "existing");
	if (json_array_size(existing)) {
		printf("%zu connection(s) to protected servers were open "
		       "before enforcement%s:\n",
		       json_array_size(existing),
		       kill ? " and have been closed"
			    : " (not recorded; --kill-existing closes them)");
		json_array_foreach (existing, i, e) {
			printf("  pid %lld %s %s -> %s\n",
			       json_integer_value(json_object_get(e, "pid")),
			       json_string_value(json_object_get(e, "comm")),
			       json_string_value(json_object_get(e, "local")),
			       json_string_value(json_object_get(e, "remote")));
		}
	}
	rc = 0;
out:
	json_decref(req);
	json_decref(resp);
	return rc;
usage:
	usage(stderr);
	return 2;
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
	printf("\nenforced cgroups:\n");
	if (!json_array_size(json_object_get(r, "enforced")))
		printf("  (none)\n");
	json_array_foreach (json_object_get(r, "enforced"), i, v) {
		printf("  %s\n",
		       json_string_value(json_object_get(v, "cgroup")));
	}
	printf("\nprotected servers:\n");
	json_array_foreach (json_object_get(r, "servers"), i, v) {
		printf("  %-20s %s%s\n",
		       json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "address")),
		       json_is_true(json_object_get(v, "local"))
			       ? " (local: every local address)"
			       : "");
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
 * psql as the auditor (the views, read-only), or with --owner as the login
 * that owns the schema (retention: mcpwarden.drop_partitions_before).
 */
static int cmd_sql(const struct mw_config *cfg, int argc, char **argv)
{
	bool owner = argc > 1 && !strcmp(argv[1], "--owner");
	struct mw_audit_config ac;
	char conninfo[4096];
	char **args = calloc((size_t)argc + 3, sizeof(*args));

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
	args[1] = conninfo;
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
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
	if (mw_config_load(path, &lp->cfg, err, sizeof(err))) {
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

#define AUDIT_PEM_MAX (64 << 10)
#define PACKAGE_EVENTS "events.jsonl"
#define PACKAGE_CHECKPOINTS "checkpoints.jsonl"
#define PACKAGE_PUBKEY "public-key.pem"

static int audit_config(const char *config, struct mw_config *cfg)
{
	char err[512];

	if (mw_config_load_opts(config, cfg, false, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s\n", err);
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

/*
 * COPY (SELECT <chain columns>, hash FROM mcpwarden.chain_events
 * [WHERE host = '...'] ORDER BY host, seq, ts_us) TO STDOUT
 */
static char *audit_copy_query(PGconn *conn, const char *host)
{
	char *lit = host ? PQescapeLiteral(conn, host, strlen(host)) : NULL;
	char *q = NULL;
	size_t len = 0;
	FILE *f;

	if (host && !lit)
		return NULL;
	f = open_memstream(&q, &len);
	if (f) {
		fputs("COPY (SELECT ", f);
		for (int i = 0; i < MW_CF_N; i++)
			fprintf(f, "%s, ", mw_chain_field_names[i]);
		fputs("hash FROM mcpwarden.chain_events", f);
		if (lit)
			fprintf(f, " WHERE host = %s", lit);
		/* ts, not ts_us: the order of the key's index, no sort */
		fputs(" ORDER BY host, seq, ts) TO STDOUT", f);
		if (fclose(f)) {
			free(q);
			q = NULL;
		}
	}
	PQfreemem(lit);
	return q;
}

/* Streams the database's rows into v: one COPY, row by row. */
static int audit_verify_db(struct mw_verify *v, const struct mw_config *cfg,
			   const char *host)
{
	struct mw_audit_config ac;
	char conninfo[2048], err[1024];
	PGconn *conn;
	PGresult *res = NULL;
	char *q = NULL, *line;
	int n, rc = -1;

	mw_config_audit(cfg, &ac);
	if (mw_audit_conninfo(&ac, conninfo, sizeof(conninfo))) {
		fprintf(stderr, "mcpwarden: cannot build the connection "
				"string\n");
		return -1;
	}
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		mw_set_err(err, sizeof(err), "%s", PQerrorMessage(conn));
		fprintf(stderr,
			"mcpwarden: cannot connect to the audit database: "
			"%s\n",
			err);
		goto out;
	}
	q = audit_copy_query(conn, host);
	if (!q) {
		fprintf(stderr, "mcpwarden: out of memory\n");
		goto out;
	}
	res = PQexec(conn, q);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
		goto pg_fail;
	PQclear(res);
	res = NULL;
	while ((n = PQgetCopyData(conn, &line, 0)) > 0) {
		int bad = mw_verify_copy_line(v, line, (size_t)n, err,
					      sizeof(err));

		PQfreemem(line);
		if (bad) {
			fprintf(stderr, "mcpwarden: reading the events: %s\n",
				err);
			goto out;
		}
	}
	if (n == -2) {
		mw_set_err(err, sizeof(err), "%s", PQerrorMessage(conn));
		fprintf(stderr, "mcpwarden: reading the events: %s\n", err);
		goto out;
	}
	res = PQgetResult(conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		goto pg_fail;
	rc = 0;
	goto out;
pg_fail:
	mw_set_err(err, sizeof(err), "%s", PQresultErrorMessage(res));
	fprintf(stderr, "mcpwarden: reading the events: %s\n", err);
out:
	PQclear(res);
	free(q);
	PQfinish(conn);
	return rc;
}

/* A checkpoint file; a missing one is only a warning when optional. */
static int audit_checkpoints(struct mw_verify *v, const char *path,
			     const char *host, bool optional)
{
	char err[1024];

	if (!mw_verify_load_checkpoints(v, path, host, err, sizeof(err)))
		return 0;
	if (optional && errno == ENOENT) {
		fprintf(stderr,
			"mcpwarden: warning: no checkpoint file %s: only the "
			"checkpoints in the database are checked, a deleted "
			"tail cannot be seen\n",
			path);
		return 0;
	}
	fprintf(stderr, "mcpwarden: checkpoint file: %s\n", err);
	return -1;
}

static void audit_report(struct mw_verify *v, bool as_json, const char *source)
{
	json_t *j;

	if (!as_json) {
		mw_verify_print(v, stdout);
		return;
	}
	j = mw_verify_json(v);
	if (!j) {
		fprintf(stderr, "mcpwarden: out of memory\n");
		return;
	}
	json_object_set_new(j, "source", json_string(source));
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	json_decref(j);
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
		if (audit_config(config, &cfg))
			return 2;
		have_cfg = true;
	}
	if (pubkey)
		snprintf(path, sizeof(path), "%s", pubkey);
	else if (join_path(path, sizeof(path), package ?: cfg.state_dir,
			   package ? PACKAGE_PUBKEY : MW_SIGN_PUB_FILE))
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
		if (join_path(path, sizeof(path), package,
			      PACKAGE_CHECKPOINTS) ||
		    audit_checkpoints(v, path, NULL, false) ||
		    (cps && audit_checkpoints(v, cps, NULL, false)) ||
		    join_path(path, sizeof(path), package, PACKAGE_EVENTS))
			goto out;
		if (mw_verify_load_jsonl(v, path, err, sizeof(err))) {
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
		if (audit_checkpoints(v, cps ?: path, host, !cps) ||
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
	audit_report(v, as_json, package ? "package" : "database");
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
	FILE *f = NULL;
	int rc = 1;

	if (argc != 1) {
		usage(stderr);
		return 2;
	}
	if (audit_config(config, &cfg))
		return 1;
	if (join_path(path, sizeof(path), cfg.state_dir, MW_SIGN_PUB_FILE))
		goto out;
	pem = malloc(AUDIT_PEM_MAX + 1);
	f = fopen(path, "re");
	if (!pem || !f) {
		fprintf(stderr, "mcpwarden: %s: %s\n", path, strerror(errno));
		goto out;
	}
	len = fread(pem, 1, AUDIT_PEM_MAX + 1, f);
	if (ferror(f) || len > AUDIT_PEM_MAX) {
		fprintf(stderr, "mcpwarden: %s: %s\n", path,
			ferror(f) ? strerror(errno) : "not a public key file");
		goto out;
	}
	if (mw_sign_pub_from_pem(&pub, pem, len, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s: %s\n", path, err);
		goto out;
	}
	if (fwrite(pem, 1, len, stdout) == len && !fflush(stdout))
		rc = 0;
out:
	if (f)
		fclose(f);
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

int main(int argc, char **argv)
{
	const char *config = MW_DEFAULT_CONFIG;
	struct mw_config cfg;
	char err[512];
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
	if (mw_config_load_opts(config, &cfg, false, err, sizeof(err))) {
		fprintf(stderr, "mcpwarden: %s\n", err);
		return 1;
	}
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
	else {
		fprintf(stderr, "mcpwarden: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	mw_config_free(&cfg);
	return rc;
}
