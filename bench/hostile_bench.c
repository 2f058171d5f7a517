// SPDX-License-Identifier: BSD-2-Clause
/*
 * Hostile shapes (make bench-hostile): inputs within the daemon's bounds
 * built to cost the most per byte, each timed where the daemon spends
 * it, on the one loop every connection shares. Each shape is timed at
 * two sizes, so that a cost growing faster than the input shows:
 *
 *   names, accented   a JSON-RPC answer whose result has names sharing a
 *                     prefix of accented letters (mw_rpc_parse: the check
 *                     for names that differ only in case sorts them)
 *   names, one long   one name of half the message among short ones
 *   wide arguments    a tools/call whose arguments have many members and
 *                     lack the one 100 argument rules point at
 *                     (mw_policy_decide: each looks for it in other case)
 *   custom detector   [0-9]+ with Luhn over a run of digits (mw_mask_text:
 *                     a refused match is searched again inside)
 *   short reals       "1e1 1e1 ..." on the fast path (mw_mask_candidates:
 *                     each real is read as the slow path reads it)
 *   YAML keys         a policy file of 1 MiB of keys (mw_policy_load_file:
 *                     its keys are checked for repeats)
 *
 * Prints the seconds a call takes, the median of RUNS runs.
 *
 *   build/hostile_bench [RUNS]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "json_parse.h"
#include "jsonrpc.h"
#include "mask.h"
#include "policy.h"

#include "bench_util.h"

struct shape {
	const char *name;
	/* builds the input of about size bytes; 0, or -1 */
	int (*make)(struct mw_buf *in, size_t size);
	/* the daemon's work on it: 0, or -1 when it went wrong */
	int (*run)(const char *in, size_t len);
};

static struct mw_policy *policy;
static struct mw_masker *masker;
static char yaml_path[] = "/tmp/mw-hostile-XXXXXX";

/* ---- names ---- */

static int make_accented(struct mw_buf *b, size_t size)
{
	enum { PREFIX = 512 }; /* accented letters, 2 bytes each */

	if (mw_buf_cat(b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{", NULL))
		return -1;
	for (unsigned i = 0; mw_buf_used(b) < size - 2 * PREFIX - 32; i++) {
		char tail[32];

		if (mw_buf_cat(b, i ? ",\"" : "\"", NULL))
			return -1;
		for (int k = 0; k < PREFIX; k++)
			if (mw_buf_cat(b, "\xc3\xa9", NULL))
				return -1;
		snprintf(tail, sizeof(tail), "%08u\":0", i);
		if (mw_buf_cat(b, tail, NULL))
			return -1;
	}
	return mw_buf_cat(b, "}}", NULL);
}

static int make_one_long(struct mw_buf *b, size_t size)
{
	if (mw_buf_cat(b, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"", NULL))
		return -1;
	for (size_t k = 0; k < size / 2; k++)
		if (mw_buf_append(b, "z", 1))
			return -1;
	if (mw_buf_cat(b, "\":0", NULL))
		return -1;
	for (unsigned i = 0; mw_buf_used(b) < size - 32; i++) {
		char key[32];

		snprintf(key, sizeof(key), ",\"k%08u\":0", i);
		if (mw_buf_cat(b, key, NULL))
			return -1;
	}
	return mw_buf_cat(b, "}}", NULL);
}

static int run_parse(const char *in, size_t len)
{
	struct mw_rpc_batch batch;
	char err[256];
	int rc = mw_rpc_parse(in, len, len, &batch, err, sizeof(err));

	if (rc)
		return -1;
	mw_rpc_batch_free(&batch);
	return 0;
}

/* ---- policy ---- */

static int make_wide_args(struct mw_buf *b, size_t size)
{
	if (mw_buf_cat(b, "{\"name\":\"t\",\"arguments\":{", NULL))
		return -1;
	for (unsigned i = 0; mw_buf_used(b) < size - 32; i++) {
		char member[32];

		snprintf(member, sizeof(member), "%s\"q%u\":0", i ? "," : "",
			 i);
		if (mw_buf_cat(b, member, NULL))
			return -1;
	}
	return mw_buf_cat(b, "}}", NULL);
}

static int run_decide(const char *in, size_t len)
{
	static const char *const groups[] = { "u" };
	json_t *params = mw_json_loadb(in, len, 0, NULL);
	struct mw_policy_input pin = {
		.subject = { .uid = 1000,
			     .gid = 1000,
			     .user = "u",
			     .groups = groups,
			     .ngroups = 1,
			     .cgroup = "/x",
			     .exe = "/bin/x" },
		.server = "s",
		.method = "tools/call",
		.target = "t",
		.params = params,
	};
	struct mw_policy_decision d;
	int rc;

	if (!params)
		return -1;
	rc = mw_policy_decide(policy, &pin, &d);
	json_decref(params);
	return rc || strcmp(d.rule, "last") ? -1 : 0;
}

static int policy_open(void)
{
	char path[] = "/tmp/mw-hostile-policy-XXXXXX", err[512];
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (!f)
		return -1;
	fprintf(f, "default: deny\nrules:\n");
	for (int i = 0; i < 100; i++)
		fprintf(f,
			"  - name: r%d\n    tool: t\n    args:\n"
			"      - pointer: /path%d\n        prefix: /etc/\n"
			"    action: deny\n",
			i, i);
	fprintf(f, "  - name: last\n    tool: t\n    action: allow\n");
	fclose(f);
	if (mw_policy_load_file(path, &policy, NULL, err, sizeof(err))) {
		fprintf(stderr, "hostile_bench: %s\n", err);
		unlink(path);
		return -1;
	}
	unlink(path);
	return 0;
}

/* ---- masking ---- */

static int make_digits(struct mw_buf *b, size_t size)
{
	for (size_t k = 0; k < size; k++)
		if (mw_buf_append(b, "1", 1))
			return -1;
	return 0;
}

static int make_reals(struct mw_buf *b, size_t size)
{
	if (mw_buf_cat(b, "\"", NULL))
		return -1;
	while (mw_buf_used(b) < size - 1)
		if (mw_buf_cat(b, "1e1 ", NULL))
			return -1;
	return mw_buf_cat(b, "\"", NULL);
}

static int run_custom(const char *in, size_t len)
{
	struct mw_mask_plan plan = { .detectors = 1ull << MW_DET_N_BUILTIN };
	char *out = NULL;
	size_t olen;
	long n = mw_mask_text(masker, &plan, in, len, &out, &olen, NULL);

	free(out);
	return n < 0 ? -1 : 0;
}

static int run_fast_path(const char *in, size_t len)
{
	volatile bool may = mw_mask_candidates(
		masker, (1ull << MW_DET_N_BUILTIN) - 1, in, len);

	(void)may;
	return 0;
}

static int masker_open(void)
{
	struct mw_mask_custom c = { .name = "c",
				    .pattern = "[0-9]+",
				    .validator = MW_MASK_VALIDATE_LUHN };
	char err[256];

	if (mw_masker_new(&masker, &c, 1, NULL, 0, err, sizeof(err))) {
		fprintf(stderr, "hostile_bench: %s\n", err);
		return -1;
	}
	return 0;
}

/* ---- YAML ---- */

static int make_yaml_keys(struct mw_buf *b, size_t size)
{
	int fd;

	for (unsigned i = 0; mw_buf_used(b) < size - 32; i++) {
		char line[32];

		snprintf(line, sizeof(line), "k%u: 1\n", i);
		if (mw_buf_cat(b, line, NULL))
			return -1;
	}
	fd = mkstemp(yaml_path);
	if (fd < 0 || write(fd, mw_buf_head(b), mw_buf_used(b)) !=
			      (ssize_t)mw_buf_used(b)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return close(fd);
}

static int run_yaml(const char *in, size_t len)
{
	struct mw_policy *p = NULL;
	char err[512];

	(void)in;
	(void)len;
	/* refused for its unknown keys, once every key is checked */
	if (!mw_policy_load_file(yaml_path, &p, NULL, err, sizeof(err))) {
		mw_policy_free(p);
		return -1;
	}
	return strstr(err, "unknown key") ? 0 : -1;
}

static const struct shape shapes[] = {
	{ "names, accented", make_accented, run_parse },
	{ "names, one long", make_one_long, run_parse },
	{ "wide arguments", make_wide_args, run_decide },
	{ "custom detector", make_digits, run_custom },
	{ "short reals", make_reals, run_fast_path },
	{ "YAML keys", make_yaml_keys, run_yaml },
};

static double seconds_per_call(const struct shape *sh, const char *in,
			       size_t len, int runs)
{
	double t[16];

	for (int r = 0; r < runs; r++) {
		double t0 = now_s();

		if (sh->run(in, len)) {
			fprintf(stderr, "hostile_bench: %s: the call failed\n",
				sh->name);
			exit(1);
		}
		t[r] = now_s() - t0;
	}
	qsort(t, (size_t)runs, sizeof(*t), cmp_double);
	return t[runs / 2];
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;

	if (runs < 1 || runs > 16) {
		fprintf(stderr, "usage: hostile_bench [RUNS (1-16)]\n");
		return 2;
	}
	if (policy_open() || masker_open())
		return 1;
	printf("%-18s %14s %14s\n", "shape", "1 MiB (s)", "8 MiB (s)");
	for (size_t i = 0; i < sizeof(shapes) / sizeof(*shapes); i++) {
		const struct shape *sh = &shapes[i];
		/* the YAML file's bound is 1 MiB: a quarter and the whole */
		size_t sizes[2] = { 1u << 20, 8u << 20 };
		double s[2];

		if (sh->make == make_yaml_keys) {
			sizes[0] = 256u << 10;
			sizes[1] = (1u << 20) - 64;
		}
		for (int k = 0; k < 2; k++) {
			struct mw_buf in = { 0 };

			strcpy(yaml_path, "/tmp/mw-hostile-XXXXXX");
			if (sh->make(&in, sizes[k])) {
				fprintf(stderr,
					"hostile_bench: %s: cannot "
					"make the input\n",
					sh->name);
				return 1;
			}
			s[k] = seconds_per_call(sh, mw_buf_head(&in),
						mw_buf_used(&in), runs);
			if (sh->make == make_yaml_keys)
				unlink(yaml_path);
			mw_buf_free(&in);
		}
		if (sh->make == make_yaml_keys)
			printf("%-18s %14.4f %14.4f   (256 KiB and 1 MiB)\n",
			       sh->name, s[0], s[1]);
		else
			printf("%-18s %14.4f %14.4f\n", sh->name, s[0], s[1]);
	}
	mw_policy_free(policy);
	mw_masker_free(masker);
	return 0;
}
