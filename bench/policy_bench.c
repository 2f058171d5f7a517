// SPDX-License-Identifier: BSD-2-Clause
/*
 * Policy decision time (make bench-policy). Builds a policy of 1,000 rules
 * shaped like a real one: 20 servers, tools named exactly and by globs,
 * users, groups, uids, cgroups and executables, argument conditions
 * (prefix, equals, ranges, a few regexes), audit-mode and server-direction
 * rules; then times mw_policy_decide() call by call with clock_gettime
 * and prints p50, p99 and max per scenario. The worst realistic case is a
 * request that only the last rule matches, after every other rule for the
 * same server and tool was tried and failed.
 *
 *   build/policy_bench [RULES [ITERATIONS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "policy.h"

#define NSERVERS 20

static const char *const tools[] = {
	"get_invoice", "list_invoices", "refund",     "create_invoice",
	"delete_file", "write_file",	"read_file",  "run_query",
	"send_mail",   "get_customer",	"list_users", "update_user",
};
#define NTOOLS (sizeof(tools) / sizeof(tools[0]))

static const char *const users[] = { "alice", "bob",   "dave",
				     "erin",  "frank", "grace" };
#define NUSERS (sizeof(users) / sizeof(users[0]))

/* One rule of the mix, chosen by i; never matches the timed requests
 * unless it is meant to. */
static void write_rule(FILE *f, size_t i, size_t nrules)
{
	/* Spread kinds, servers and tools independently of one another. */
	size_t h = (i + 1) * 2654435761u;
	size_t s = i % NSERVERS, t = (h >> 8) % NTOOLS, kind = (h >> 16) % 10;
	const char *tool = tools[t], *user = users[(h >> 24) % NUSERS];

	fprintf(f, "  - name: rule-%04zu\n", i);
	if (i == nrules - 1) {
		/* The late match: only this one fits carol on srv00. */
		fprintf(f, "    server: srv00\n    tool: get_invoice\n"
			   "    user: carol\n    group: [finance]\n"
			   "    cgroup: \"/agents.slice/*.service\"\n"
			   "    args:\n      - pointer: /id\n"
			   "        prefix: INV-\n    action: allow\n");
		return;
	}
	fprintf(f, "    server: srv%02zu\n", s);
	switch (kind) {
	case 0: /* exact tool for a user */
	case 1:
		fprintf(f, "    tool: %s\n    user: %s\n    action: allow\n",
			tool, user);
		break;
	case 2: /* glob for a group */
		fprintf(f,
			"    tool: \"%.4s*\"\n    group: [team%zu, ops]\n"
			"    action: allow\n",
			tool, i % 7);
		break;
	case 3: /* argument conditions */
		fprintf(f,
			"    tool: %s\n    args:\n"
			"      - pointer: /path\n        prefix: /etc/\n"
			"      - pointer: /limit\n        gt: %zu\n"
			"    action: deny\n    message: \"not there\"\n",
			tool, i);
		break;
	case 4: /* a regex, a few distinct ones */
		fprintf(f,
			"    tool: %s\n    args:\n      - pointer: /query\n"
			"        regex: \"(?:drop|truncate)\\\\s+table%zu\"\n"
			"        ignore_case: true\n    action: deny\n",
			tool, i % 5);
		break;
	case 5: /* identity: uid and executable */
		fprintf(f,
			"    uid: [%zu, %zu]\n    exe: \"/opt/agent%zu/**\"\n"
			"    action: deny\n",
			2000 + i, 3000 + i, i % 9);
		break;
	case 6: /* identity: cgroup */
		fprintf(f,
			"    cgroup: \"/batch.slice/job-%zu*\"\n"
			"    tool: %s\n    action: approve\n",
			i, tool);
		break;
	case 7: /* audit mode */
		fprintf(f,
			"    tool: %s\n    args:\n      - pointer: /amount\n"
			"        ge: %zu\n    action: deny\n    mode: audit\n",
			tool, 100000 + i);
		break;
	case 8: /* resources and prompts */
		fprintf(f,
			"    resource: \"file:///secret%zu/**\"\n"
			"    action: deny\n",
			i);
		break;
	default: /* server-to-client requests */
		fprintf(f,
			"    direction: server\n"
			"    method: [sampling/createMessage, "
			"elicitation/create]\n    user: %s\n"
			"    action: deny\n",
			user);
		break;
	}
}

static int write_policy(const char *path, size_t nrules)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "default: deny\nrules:\n");
	for (size_t i = 0; i < nrules; i++)
		write_rule(f, i, nrules);
	return fclose(f);
}

static int cmp_ns(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

struct scenario {
	const char *what;
	struct mw_policy_input in;
	const char *want_rule;
	bool visibility; /* time mw_policy_tool_visible() instead */
};

static int run(const struct mw_policy *p, const struct scenario *sc, long *ns,
	       size_t iterations)
{
	struct mw_policy_decision d;
	volatile bool sink = false;

	mw_policy_decide(p, &sc->in, &d);
	if (!sc->visibility && strcmp(d.rule, sc->want_rule)) {
		fprintf(stderr, "%s: decided by %s, expected %s\n", sc->what,
			d.rule, sc->want_rule);
		return -1;
	}
	for (size_t i = 0; i < iterations; i++) {
		long t0 = now_ns();

		if (sc->visibility)
			sink ^= mw_policy_tool_visible(p, &sc->in.subject,
						       sc->in.server,
						       sc->in.target, false);
		else
			mw_policy_decide(p, &sc->in, &d);
		ns[i] = now_ns() - t0;
	}
	(void)sink;
	qsort(ns, iterations, sizeof(*ns), cmp_ns);
	printf("%-44s %7ld %7ld %8ld  %s\n", sc->what, ns[iterations / 2],
	       ns[iterations * 99 / 100], ns[iterations - 1],
	       sc->visibility ? "(visibility)" : d.rule);
	return 0;
}

int main(int argc, char **argv)
{
	size_t nrules = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
	size_t iterations = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
	static const char *const carol_groups[] = { "carol", "finance",
						    "team9" };
	struct mw_policy_subject carol = {
		.uid = 1004,
		.gid = 1004,
		.user = "carol",
		.groups = carol_groups,
		.ngroups = 3,
		.cgroup = "/agents.slice/billing-agent.service",
		.exe = "/usr/bin/python3.11",
	};
	json_t *late = json_loads("{\"name\":\"get_invoice\",\"arguments\":"
				  "{\"id\":\"INV-2024-0042\",\"limit\":5}}",
				  0, NULL);
	json_t *query = json_loads("{\"name\":\"run_query\",\"arguments\":"
				   "{\"query\":\"SELECT * FROM invoices "
				   "WHERE id = 42\"}}",
				   0, NULL);
	json_t *nomatch = json_loads("{\"name\":\"frobnicate\",\"arguments\":"
				     "{}}",
				     0, NULL);
	char path[] = "/tmp/mw-policy-bench-XXXXXX", err[512] = "";
	struct mw_policy *p = NULL;
	long *ns = calloc(iterations ? iterations : 1, sizeof(*ns));
	struct timespec t0, t1;
	int fd = mkstemp(path), rc = 1;

	if (fd < 0 || !ns || !late || !query || !nomatch || !iterations ||
	    !nrules)
		goto out;
	close(fd);
	if (write_policy(path, nrules))
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (mw_policy_load_file(path, &p, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	{
		char late_rule[32];
		struct scenario scs[] = {
			{ .what = "late match (only the last rule fits)",
			  .in = { .subject = carol,
				  .server = "srv00",
				  .method = "tools/call",
				  .target = "get_invoice",
				  .params = late },
			  .want_rule = late_rule },
			{ .what = "no rule matches: the default",
			  .in = { .subject = carol,
				  .server = "srv07",
				  .method = "tools/call",
				  .target = "frobnicate",
				  .params = nomatch },
			  .want_rule = MW_POLICY_DEFAULT_RULE },
			{ .what = "regex conditions tried, then the default",
			  .in = { .subject = carol,
				  .server = "srv04",
				  .method = "tools/call",
				  .target = "run_query",
				  .params = query },
			  .want_rule = MW_POLICY_DEFAULT_RULE },
			{ .what = "server-to-client request",
			  .in = { .subject = carol,
				  .direction = MW_POLICY_FROM_SERVER,
				  .server = "srv09",
				  .method = "sampling/createMessage" },
			  .want_rule = MW_POLICY_DEFAULT_RULE },
			{ .what = "tools/list filter: one tool",
			  .in = { .subject = carol,
				  .server = "srv00",
				  .method = "tools/call",
				  .target = "get_invoice" },
			  .visibility = true },
		};

		snprintf(late_rule, sizeof(late_rule), "rule-%04zu",
			 nrules - 1);
		printf("mcpwarden policy decision time: %zu rules (loaded in "
		       "%.1f ms), %zu calls per scenario, ns per call\n"
		       "command: %s %zu %zu\n\n",
		       nrules,
		       (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
		       iterations, argv[0], nrules, iterations);
		printf("%-44s %7s %7s %8s  %s\n", "scenario", "p50", "p99",
		       "max", "decided by");
		for (size_t i = 0; i < sizeof(scs) / sizeof(scs[0]); i++)
			if (run(p, &scs[i], ns, iterations))
				goto out;
	}
	rc = 0;
out:
	if (rc && !err[0])
		fprintf(stderr, "policy_bench: setup failed\n");
	unlink(path);
	mw_policy_free(p);
	json_decref(late);
	json_decref(query);
	json_decref(nomatch);
	free(ns);
	return rc;
}
