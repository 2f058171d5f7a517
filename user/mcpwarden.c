// SPDX-License-Identifier: BSD-2-Clause
/* mcpwarden: the operator's command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "config.h"
#include "control.h"

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
		"  sql [PSQL ARGS...]                psql on the audit "
		"database\n"
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

static int cmd_sql(const struct mw_config *cfg, int argc, char **argv)
{
	struct mw_audit_config ac = {
		.dsn = cfg->audit.dsn,
		.state_dir = cfg->state_dir,
		.host = cfg->host,
		.embedded_user = cfg->audit.embedded_user,
	};
	char conninfo[2048];
	char **args = calloc((size_t)argc + 3, sizeof(*args));

	if (!args || mw_audit_conninfo(&ac, conninfo, sizeof(conninfo))) {
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
	if (mw_config_load(config, &cfg, err, sizeof(err))) {
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
	else {
		fprintf(stderr, "mcpwarden: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	mw_config_free(&cfg);
	return rc;
}
