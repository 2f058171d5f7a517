// SPDX-License-Identifier: BSD-2-Clause
/*
 * The policy loader on arbitrary bytes, then the evaluator on what loads:
 * every decision taken through the index must be the one the rule-by-rule
 * walk reaches, and say which rule took it. mw_policy_load_file reads a
 * path, so each input goes through a memfd named by /proc/self/fd/N.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "policy.h"

static const char *const fuzz_groups[] = { "alice", "dev", "wheel" };

static const char *const fuzz_params[] = {
	"{\"name\":\"get_invoice\",\"arguments\":{\"id\":\"INV-1\",\"n\":5,"
	"\"path\":\"/etc/passwd\",\"q\":\"DROP TABLE x\",\"f\":1.5,"
	"\"list\":[1,\"a\",{\"b\":null}],\"t\":true,\"a/b\":{\"m~n\":0}}}",
	"{\"uri\":\"file:///etc/shadow\"}",
	"{\"name\":\"summary\",\"arguments\":{\"lang\":\"\\u00e9t\\u00e9\"}}",
	"{\"maxTokens\":100000,\"messages\":[]}",
};

static const char *const fuzz_methods[] = {
	"tools/call",
	"resources/read",
	"prompts/get",
	"sampling/createMessage",
};

static void fuzz_check(const struct mw_policy *p,
		       const struct mw_policy_input *in, FILE *devnull)
{
	struct mw_policy_decision d, linear;
	int rc = mw_policy_decide(p, in, &d);

	/* both ways agree on what cannot be evaluated (a value a server
	 * could read as another type, a match limit), which refuses */
	if (rc != mw_policy_explain(p, in, &linear, devnull, true))
		abort();
	if (rc && (!d.rule || strcmp(d.rule, MW_POLICY_ERROR_RULE) ||
		   d.action != MW_DECIDE_DENY))
		abort();
	if (!d.rule || strcmp(d.rule, linear.rule) ||
	    d.action != linear.action || d.rule_index != linear.rule_index ||
	    !d.audit_rule != !linear.audit_rule ||
	    (d.audit_rule && strcmp(d.audit_rule, linear.audit_rule)))
		abort();
	if (d.rule_index >= (int)mw_policy_rule_count(p))
		abort();
	if (d.action == MW_DECIDE_ALLOW && d.message)
		abort();
	if (in->target && !strcmp(in->method, "tools/call"))
		(void)mw_policy_tool_visible(p, &in->subject, in->server,
					     in->target, in->tool_changed);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static FILE *devnull;
	struct mw_policy_subject alice = {
		.uid = 1000,
		.gid = 1000,
		.user = "alice",
		.groups = fuzz_groups,
		.ngroups = 3,
		.cgroup = "/agents.slice/report.service",
		.exe = "/usr/bin/python3",
	};
	struct mw_policy *p = NULL;
	char path[64], err[1024], sha[MW_POLICY_SHA256_HEX];
	int fd = memfd_create("fuzz-policy", MFD_CLOEXEC);

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (fd < 0 || !devnull)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	err[0] = '\0';
	if (mw_policy_load_file(path, &p, sha, err, sizeof(err))) {
		if (!err[0] || p)
			abort(); /* a refusal always says why, and holds nothing */
		close(fd);
		return 0;
	}
	if (strlen(sha) != 64 || strcmp(sha, mw_policy_sha256(p)) ||
	    mw_policy_rule_count(p) > MW_POLICY_MAX_RULES)
		abort();
	for (size_t i = 0; i < sizeof(fuzz_params) / sizeof(fuzz_params[0]);
	     i++) {
		json_t *params = json_loads(fuzz_params[i], 0, NULL);
		struct mw_policy_input in = {
			.subject = alice,
			.server = i % 2 ? "files" : "billing",
			.method = fuzz_methods[i],
			.params = params,
		};

		if (!params)
			abort();
		in.target = mw_policy_target(in.method, params);
		fuzz_check(p, &in, devnull);
		in.direction = MW_POLICY_FROM_SERVER;
		fuzz_check(p, &in, devnull);
		in.direction = MW_POLICY_FROM_CLIENT;
		in.subject.user = NULL;
		in.subject.ngroups = 0;
		in.subject.uid = 0;
		fuzz_check(p, &in, devnull);
		json_decref(params);
	}
	mw_policy_free(p);
	close(fd);
	return 0;
}
