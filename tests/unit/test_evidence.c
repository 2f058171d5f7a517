// SPDX-License-Identifier: BSD-2-Clause
/*
 * The evidence package writer: time arguments, the events.jsonl line (read
 * back by the verifier's own parser), policy file names, the masking
 * placeholder, the NIST mapping and FORMAT.md; and whole packages written
 * from a synthetic signed chain into a mkdtemp directory: the manifest's
 * hashes, the policies, the checkpoint file's lines, the verification,
 * a tampered row, an empty window, a non-empty directory.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "chain.h"
#include "digest.h"
#include "evidence.h"
#include "pgcopy.h"
#include "sign.h"
#include "verify.h"

#define TE_COLS (MW_CF_N + 1)
#define TE_HOST "te-host"
#define TE_TS0 1700000000000000ll /* seq s at TE_TS0 + s seconds */
#define TE_N 50
#define TE_CP_EVERY 10
#define TE_POLICY "default: deny\nrules:\n  - name: all\n    action: allow\n"

/* ---- time arguments ---- */

static int64_t te_time(const char *s)
{
	char err[256] = "";
	int64_t us = 0;

	cr_assert_eq(mw_evidence_parse_time(s, &us, err, sizeof(err)), 0,
		     "%s: %s", s, err);
	return us;
}

static void te_time_bad(const char *s, const char *why)
{
	char err[512] = "";
	int64_t us = 42;

	cr_assert_eq(mw_evidence_parse_time(s, &us, err, sizeof(err)), -1,
		     "'%s' was accepted", s);
	cr_assert_eq(us, 42, "'%s' wrote a value", s);
	cr_assert(strstr(err, why), "'%s': \"%s\" lacks \"%s\"", s, err, why);
}

Test(evidence_time, dates_are_midnight_utc)
{
	cr_assert_eq(te_time("1970-01-01"), 0);
	cr_assert_eq(te_time("2000-03-01"), 951868800ll * 1000000);
	cr_assert_eq(te_time("2024-02-29"), 1709164800ll * 1000000);
	cr_assert_eq(te_time("0001-01-01"), -62135596800ll * 1000000);
	cr_assert_eq(te_time("9999-12-31"), 253402214400ll * 1000000);
}

Test(evidence_time, timestamps_utc_unless_an_offset)
{
	int64_t t = 1769862896ll * 1000000; /* 2026-01-31T12:34:56Z */

	cr_assert_eq(te_time("2026-01-31T12:34:56"), t);
	cr_assert_eq(te_time("2026-01-31T12:34:56Z"), t);
	cr_assert_eq(te_time("2026-01-31 12:34:56"), t);
	cr_assert_eq(te_time("2026-01-31T12:34"), t - 56 * 1000000ll);
	cr_assert_eq(te_time("2026-01-31T12:34:56.5Z"), t + 500000);
	cr_assert_eq(te_time("2026-01-31T12:34:56.000001"), t + 1);
	cr_assert_eq(te_time("2026-01-31T12:34:56.123456Z"), t + 123456);
	cr_assert_eq(te_time("2026-01-31T13:34:56+01:00"), t);
	cr_assert_eq(te_time("2026-01-31T13:34:56+0100"), t);
	cr_assert_eq(te_time("2026-01-31T13:34:56+01"), t);
	cr_assert_eq(te_time("2026-01-31T07:04:56-05:30"), t);
	cr_assert_eq(te_time("2026-01-31T12:34:56-00:00"), t);
	/* an offset can cross the date line */
	cr_assert_eq(te_time("2026-02-01T00:34:56+12:00"), t);
	/* 12:00 with psql's "+00" */
	cr_assert_eq(te_time("2026-01-31 12:00:00+00"),
		     te_time("2026-01-31T12:00Z"));
}

Test(evidence_time, agrees_with_timegm)
{
	/* every 97th day for 2,000 years: months, leap years, centuries */
	for (int64_t day = -200000; day < 600000; day += 97) {
		time_t t = (time_t)(day * 86400 + 3723);
		struct tm tm;
		char s[64];

		cr_assert_not_null(gmtime_r(&t, &tm));
		if (tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
			continue;
		snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02dZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		cr_assert_eq(te_time(s), (int64_t)t * 1000000, "%s", s);
	}
}

Test(evidence_time, ambiguity_and_garbage_refused)
{
	const char *forms = "is not an ISO 8601 date";

	te_time_bad("", forms);
	te_time_bad("yesterday", forms);
	te_time_bad("1700000000", forms);
	te_time_bad("20260131", forms); /* basic format */
	te_time_bad("2026-W05", forms); /* week date */
	te_time_bad("2026-031", forms); /* ordinal date */
	te_time_bad("2026-1-31", forms);
	te_time_bad("26-01-31", forms);
	te_time_bad(" 2026-01-31", forms);
	te_time_bad("2026-01-31 ", forms);
	te_time_bad("2026-01-31Z", forms); /* a date has no zone */
	te_time_bad("2026-01-31T", forms);
	te_time_bad("2026-01-31T12", forms);
	te_time_bad("2026-01-31t12:00", forms);
	te_time_bad("2026-01-31T12:00Zx", forms);
	te_time_bad("2026-01-31T12:00z", forms);
	te_time_bad("2026-01-31T12:00+1", forms);
	te_time_bad("2026-01-31T12:00+01:0", forms);
	te_time_bad("2026-01-31T12:00 +01:00", forms);
	te_time_bad("2026-01-31T12:00:00.", forms);
	te_time_bad("2026-01-31T12:00:00,5", forms);
	te_time_bad("2026-01-31T12:00.5", forms);
	te_time_bad("2026-01-31T12:00:5", forms);
	te_time_bad("2026-01-31T12:00:00.1234567", "finer than");
	te_time_bad("2026-01-31T12:00:00.0000000", "finer than");
	te_time_bad("2016-12-31T23:59:60Z", "leap second");
	te_time_bad("2026-01-31T24:00", "24:00");
	te_time_bad("2026-01-31T12:60", "no such time");
	te_time_bad("2026-01-31T12:00:61", "no such time");
	te_time_bad("2026-01-31T12:00+24:00", "no such UTC offset");
	te_time_bad("2026-01-31T12:00+05:60", "no such UTC offset");
	te_time_bad("2026-02-29", "no such date");
	te_time_bad("1900-02-29", "no such date");
	te_time_bad("2026-13-01", "no such date");
	te_time_bad("2026-00-10", "no such date");
	te_time_bad("2026-04-31", "no such date");
	te_time_bad("0000-01-01", "no such date");
	te_time_bad("2026-01-00", "no such date");
}

Test(evidence_time, formatted_in_utc_microseconds)
{
	char t[MW_EVIDENCE_TIME_LEN];
	const int64_t samples[] = { 0,
				    -1,
				    1,
				    951868800ll * 1000000 + 999999,
				    -62135596800ll * 1000000,
				    253402300799ll * 1000000 + 999999 };

	cr_assert_eq(mw_evidence_format_time(0, t), 0);
	cr_assert_str_eq(t, "1970-01-01T00:00:00.000000Z");
	cr_assert_eq(mw_evidence_format_time(-1, t), 0);
	cr_assert_str_eq(t, "1969-12-31T23:59:59.999999Z");
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		cr_assert_eq(mw_evidence_format_time(samples[i], t), 0);
		cr_assert_eq(te_time(t), samples[i], "%s", t);
	}
	cr_assert_eq(mw_evidence_format_time(253402300800ll * 1000000, t), -1,
		     "year 10000");
}

/* ---- events.jsonl lines ---- */

static void te_values(const char *const v[TE_COLS],
		      struct mw_chain_value f[TE_COLS])
{
	for (int i = 0; i < TE_COLS; i++) {
		f[i].s = v[i];
		f[i].n = v[i] ? strlen(v[i]) : 0;
	}
}

Test(evidence_line, read_back_by_the_verifier_exactly)
{
	const char *v[TE_COLS] = { 0 };
	struct mw_chain_value f[TE_COLS], g[MW_CF_N], hash;
	char err[256] = "", *line;
	json_t *root;
	size_t len;

	v[MW_CF_HOST] = "h\xc3\xa9";
	v[MW_CF_SEQ] = "12";
	v[MW_CF_TS_US] = "-5";
	v[MW_CF_KIND] = "request";
	v[MW_CF_PARAMS] = "{\"a\": \"tab\\there\", \"b\": [1,2]}";
	v[MW_CF_DETAIL] = "quote \" backslash \\ newline \n ctl \x01 "
			  "del \x7f slash / emoji \xf0\x9f\x98\x80";
	v[MW_CF_RULE] = "";
	v[MW_CF_PREV_HASH] = MW_CHAIN_GENESIS;
	v[MW_CF_N] = "not checked here";
	te_values(v, f);
	cr_assert_eq(mw_evidence_event_line(f, &line, &len, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_gt(len, 1);
	cr_assert_eq(line[len - 1], '\n');
	cr_assert_null(memchr(line, '\n', len - 1), "one line");
	cr_assert_eq(mw_verify_parse_jsonl(line, len - 1, &root, g, &hash, err,
					   sizeof(err)),
		     0, "%s", err);
	for (int i = 0; i < MW_CF_N; i++) {
		if (!v[i]) {
			cr_assert_null(g[i].s, "%s", mw_chain_field_names[i]);
			continue;
		}
		cr_assert_eq(g[i].n, strlen(v[i]), "%s",
			     mw_chain_field_names[i]);
		cr_assert_eq(memcmp(g[i].s, v[i], g[i].n), 0, "%s",
			     mw_chain_field_names[i]);
	}
	cr_assert_eq(hash.n, strlen(v[MW_CF_N]));
	/* the keys in the chain's order, then hash */
	cr_assert_eq(
		strncmp(line, "{\"host\":\"h\xc3\xa9\",\"seq\":\"12\"", 24), 0,
		"%s", line);
	cr_assert(strstr(line, ",\"hash\":\"not checked here\"}\n"));
	json_decref(root);
	free(line);
}

Test(evidence_line, what_json_cannot_carry_is_refused)
{
	const char *v[TE_COLS] = { 0 };
	struct mw_chain_value f[TE_COLS];
	char err[256] = "", *line = (char *)1;
	size_t len = 1;

	v[MW_CF_HOST] = "h";
	v[MW_CF_SEQ] = "1";
	v[MW_CF_DETAIL] = "latin-1 \xe9t\xe9";
	te_values(v, f);
	cr_assert_eq(mw_evidence_event_line(f, &line, &len, err, sizeof(err)),
		     -1);
	cr_assert_null(line);
	cr_assert(strstr(err, "detail"), "%s", err);
	cr_assert(strstr(err, "UTF-8"), "%s", err);
	/* a NUL inside a value (PostgreSQL text has none) */
	te_values(v, f);
	f[MW_CF_DETAIL].s = "a\0b";
	f[MW_CF_DETAIL].n = 3;
	cr_assert_eq(mw_evidence_event_line(f, &line, &len, err, sizeof(err)),
		     -1);
}

/* ---- policy file names, masking ---- */

Test(evidence_names, policy_files_named_by_hash_only)
{
	const char *sha = "0123456789abcdef0123456789abcdef"
			  "0123456789abcdef0123456789abcdef";
	char out[MW_EVIDENCE_NAME_MAX];

	cr_assert_eq(mw_evidence_policy_file_name(sha, true, out, sizeof(out)),
		     0);
	cr_assert_eq(strcmp(out, "policies/0123456789abcdef0123456789abcdef"
				 "0123456789abcdef0123456789abcdef.yaml"),
		     0, "%s", out);
	cr_assert_eq(mw_evidence_policy_file_name(sha, false, out, sizeof(out)),
		     0);
	cr_assert(strstr(out, "abcdef.txt"), "%s", out);
	cr_assert_eq(mw_evidence_policy_file_name(sha, true, out, 20), -1,
		     "too small");
	cr_assert_eq(mw_evidence_policy_file_name(NULL, true, out, sizeof(out)),
		     -1);
	cr_assert_eq(mw_evidence_policy_file_name("", true, out, sizeof(out)),
		     -1);
	cr_assert_eq(mw_evidence_policy_file_name("../../etc/passwd", true, out,
						  sizeof(out)),
		     -1);
	cr_assert_eq(
		mw_evidence_policy_file_name(sha + 1, true, out, sizeof(out)),
		-1, "63 digits");
	cr_assert_eq(
		mw_evidence_policy_file_name("0123456789ABCDEF0123456789abcdef"
					     "0123456789abcdef0123456789abcdef",
					     true, out, sizeof(out)),
		-1, "upper case");
	cr_assert_eq(
		mw_evidence_policy_file_name("0123456789abcdef0123456789abcdef"
					     "0123456789abcdef0123456789abcde/",
					     true, out, sizeof(out)),
		-1, "a slash");
}

Test(evidence_masking, configured_when_a_policy_carried_rules)
{
	json_t *none = json_pack("[{s:s,s:n}]", "host", "h", "masking");
	json_t *some = json_pack("[{s:s,s:n},{s:s,s:{s:[]}}]", "host", "h",
				 "masking", "host", "h", "masking", "rules");
	json_t *m = mw_evidence_masking_json(none);
	char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);

	cr_assert_str_eq(s, "{\"in_force\":[{\"host\":\"h\",\"masking\":"
			    "null}],\"masking\":\"not configured\"}");
	free(s);
	json_decref(m);
	m = mw_evidence_masking_json(some);
	cr_assert_str_eq(json_string_value(json_object_get(m, "masking")),
			 "configured");
	json_decref(m);
	json_decref(none);
	json_decref(some);
}

/* ---- NIST, FORMAT.md ---- */

static const char *const te_controls[] = { "AC-2",  "AC-3",    "AC-6(9)",
					   "AU-2",  "AU-3",    "AU-3(1)",
					   "AU-8",  "AU-9(3)", "AU-10",
					   "AU-12", "SC-7" };
#define TE_NCONTROLS (sizeof(te_controls) / sizeof(te_controls[0]))

Test(evidence_nist, json_has_every_control_with_its_evidence)
{
	json_t *j = mw_evidence_nist_json(), *c;
	json_t *controls = json_object_get(j, "controls");
	char *dump;
	size_t i;

	cr_assert_not_null(j);
	cr_assert_str_eq(json_string_value(json_object_get(j, "catalog")),
			 "NIST SP 800-53 Rev. 5");
	cr_assert_eq(json_array_size(controls), TE_NCONTROLS);
	json_array_foreach (controls, i, c) {
		const char *status =
			json_string_value(json_object_get(c, "status"));
		json_t *by = json_object_get(c, "answered_by");

		cr_assert_str_eq(json_string_value(json_object_get(c, "id")),
				 te_controls[i]);
		cr_assert_gt(
			strlen(json_string_value(json_object_get(c, "name"))),
			3);
		cr_assert(!strcmp(status, "provided") ||
				  !strcmp(status, "partial"),
			  "%s", status);
		cr_assert_gt(json_array_size(by), 0, "%s", te_controls[i]);
		cr_assert_not_null(json_string_value(
			json_object_get(json_array_get(by, 0), "evidence")));
		cr_assert_not_null(json_string_value(
			json_object_get(json_array_get(by, 0), "how")));
		cr_assert(json_is_array(json_object_get(c, "not_provided")));
		/* a partial control says what is missing */
		if (!strcmp(status, "partial"))
			cr_assert_gt(json_array_size(json_object_get(
					     c, "not_provided")),
				     0, "%s", te_controls[i]);
	}
	/* honest about OIDC */
	dump = json_dumps(json_array_get(controls, 0), 0);
	cr_assert(strstr(dump, "OIDC"));
	free(dump);
	json_decref(j);
}

Test(evidence_nist, markdown_has_every_control)
{
	char *md = NULL, head[64];
	size_t len = 0;
	FILE *f = open_memstream(&md, &len);

	cr_assert_not_null(f);
	cr_assert_eq(mw_evidence_nist_md(f), 0);
	cr_assert_eq(fclose(f), 0);
	for (size_t i = 0; i < TE_NCONTROLS; i++) {
		snprintf(head, sizeof(head), "\n## %s ", te_controls[i]);
		cr_assert(strstr(md, head), "%s", head);
	}
	cr_assert(strstr(md, "| evidence | how it answers |"));
	cr_assert(strstr(md, "Not provided:"));
	free(md);
}

Test(evidence_format, documents_every_file_and_the_encoding)
{
	const char *doc = mw_evidence_format_md;
	const char *files[] = {
		MW_EVIDENCE_EVENTS,	  MW_EVIDENCE_CHECKPOINTS,
		MW_EVIDENCE_PUBKEY,	  MW_EVIDENCE_POLICIES,
		MW_EVIDENCE_MASKING,	  MW_EVIDENCE_NIST_MD,
		MW_EVIDENCE_NIST_JSON,	  MW_EVIDENCE_FORMAT,
		MW_EVIDENCE_VERIFY_JSON,  MW_EVIDENCE_VERIFY_TXT,
		MW_EVIDENCE_MANIFEST,	  MW_EVIDENCE_MANIFEST_SHA,
		"policies/<sha256>.yaml", "policies/<sha256>.txt"
	};
	char want[64];
	const char *p;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(want, sizeof(want), "| `%s`", files[i]);
		cr_assert(strstr(doc, want) || strstr(doc, files[i]), "%s",
			  files[i]);
	}
	/* the 35 fields of the hash, in the chain's order */
	p = strstr(doc, "over these 35 fields, in this order:");
	cr_assert_not_null(p);
	for (int i = 0; i < MW_CF_N; i++) {
		if (i >= MW_CF_FIRST_OPTIONAL) {
			/* after the 35, named as optional */
			snprintf(want, sizeof(want), "There is one: `%s`",
				 mw_chain_field_names[i]);
			cr_assert(strstr(doc, want), "%s", want);
			continue;
		}
		snprintf(want, sizeof(want), "%s%s", mw_chain_field_names[i],
			 i + 1 < MW_CF_FIRST_OPTIONAL ? "," : "`");
		p = strstr(p, want);
		cr_assert_not_null(p, "%s out of order", want);
		/* and each in the field table */
		snprintf(want, sizeof(want), "`%s`", mw_chain_field_names[i]);
		cr_assert(strstr(doc, want), "%s", want);
	}
	cr_assert(strstr(doc, "\"MWEV1\""));
	cr_assert(strstr(doc, "FF FF FF FF"));
	cr_assert(strstr(doc, "32-bit big-endian"));
	cr_assert(strstr(doc, "mcpwarden checkpoint v1\\nhost=<host>\\nseq="
			      "<seq>\\nhash=<hash>\\n"));
	cr_assert(strstr(doc, "Ed25519"));
	cr_assert(strstr(doc, "first 16 lowercase hex digits of the SHA-256"));
	cr_assert(strstr(doc, "format version 1"));
	for (size_t i = 0; i < TE_NCONTROLS; i++)
		cr_assert(strstr(doc, te_controls[i]), "%s", te_controls[i]);
}

/* ---- whole packages ---- */

struct te_row {
	char *v[TE_COLS];
};

static char te_dir[64], te_key_dir[64];
static struct mw_signer *te_signer;
static struct te_row te_rows[TE_N + 1]; /* by seq */

static int te_rm(const char *path, const struct stat *st, int flag,
		 struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void te_set(struct te_row *r, enum mw_chain_field f, const char *s)
{
	free(r->v[f]);
	r->v[f] = s ? strdup(s) : NULL;
	cr_assert(!s || r->v[f]);
}

static void te_hash(struct te_row *r)
{
	struct mw_chain_value f[TE_COLS];
	char h[MW_CHAIN_HASH_HEX];

	te_values((const char *const *)r->v, f);
	cr_assert_eq(mw_chain_hash(f, h), 0);
	te_set(r, MW_CF_N, h);
}

static char *te_sha(const char *s)
{
	static char hex[MW_SHA256_HEX];

	cr_assert_eq(mw_sha256_hex(s, strlen(s), hex), 0);
	return hex;
}

/*
 * A chain 1..TE_N of TE_HOST: daemon_start at 1, policy_loaded (text
 * recorded) at 2, an inline policy_loaded at 12, a daemon_start at 13,
 * checkpoints every TE_CP_EVERY.
 */
static void te_build(void)
{
	const char *prev = MW_CHAIN_GENESIS;
	char sha_file[MW_SHA256_HEX];

	snprintf(sha_file, sizeof(sha_file), "%s", te_sha(TE_POLICY));
	for (int s = 1; s <= TE_N; s++) {
		struct te_row *r = &te_rows[s];
		char num[64], params[512], sig[MW_SIGN_B64_LEN], msg[512];

		te_set(r, MW_CF_HOST, TE_HOST);
		snprintf(num, sizeof(num), "%d", s);
		te_set(r, MW_CF_SEQ, num);
		snprintf(num, sizeof(num), "%lld", TE_TS0 + s * 1000000ll);
		te_set(r, MW_CF_TS_US, num);
		te_set(r, MW_CF_KIND, "request");
		te_set(r, MW_CF_METHOD, "tools/call");
		te_set(r, MW_CF_PARAMS, "{\"name\":\"echo\"}");
		te_set(r, MW_CF_DECISION, "allow");
		te_set(r, MW_CF_POLICY_SHA256, sha_file);
		te_set(r, MW_CF_PREV_HASH, prev);
		if (s == 1 || s == 13) {
			te_set(r, MW_CF_KIND, "daemon_start");
			te_set(r, MW_CF_DETAIL, "mcpwardend 9.9.9");
			te_set(r, MW_CF_PARAMS,
			       s == 1 ? "{\"version\":\"9.9.8\"}"
				      : "{\"version\":\"9.9.9\"}");
		} else if (s == 2) {
			te_set(r, MW_CF_KIND, "policy_loaded");
			te_set(r, MW_CF_DETAIL, TE_POLICY);
			snprintf(params, sizeof(params),
				 "{\"file\":\"/etc/p.yaml\",\"sha256\":\"%s\","
				 "\"rules\":1,\"text_recorded\":true}",
				 sha_file);
			te_set(r, MW_CF_PARAMS, params);
		} else if (s == 12) {
			te_set(r, MW_CF_KIND, "policy_loaded");
			te_set(r, MW_CF_POLICY_SHA256, te_sha("inline"));
			te_set(r, MW_CF_DETAIL, "inline in the configuration");
			te_set(r, MW_CF_PARAMS,
			       "{\"file\":\"/etc/c.yaml\",\"rules\":0,"
			       "\"text_recorded\":false}");
		} else if (s % TE_CP_EVERY == 0) {
			int n = mw_chain_checkpoint_message(
				msg, sizeof(msg), TE_HOST, (uint64_t)s - 1,
				prev);

			cr_assert_gt(n, 0);
			cr_assert_eq(
				mw_signer_sign(te_signer, msg, (size_t)n, sig),
				0);
			snprintf(
				params, sizeof(params),
				"{\"seq\":%d,\"hash\":\"%s\",\"key_id\":\"%s\","
				"\"signature\":\"%s\"}",
				s - 1, prev, mw_signer_key_id(te_signer), sig);
			te_set(r, MW_CF_KIND, "checkpoint");
			te_set(r, MW_CF_PARAMS, params);
		}
		te_hash(r);
		prev = r->v[MW_CF_N];
	}
}

static void te_setup(void)
{
	char err[512] = "";

	snprintf(te_key_dir, sizeof(te_key_dir), "/tmp/mw-evkey-XXXXXX");
	cr_assert_not_null(mkdtemp(te_key_dir));
	cr_assert_eq(mw_signer_open(&te_signer, te_key_dir, err, sizeof(err)),
		     0, "%s", err);
	snprintf(te_dir, sizeof(te_dir), "/tmp/mw-evpkg-XXXXXX");
	cr_assert_not_null(mkdtemp(te_dir));
	te_build();
}

static void te_teardown(void)
{
	mw_signer_free(te_signer);
	te_signer = NULL;
	for (int s = 0; s <= TE_N; s++)
		for (int i = 0; i < TE_COLS; i++) {
			free(te_rows[s].v[i]);
			te_rows[s].v[i] = NULL;
		}
	nftw(te_key_dir, te_rm, 8, FTW_DEPTH | FTW_PHYS);
	nftw(te_dir, te_rm, 8, FTW_DEPTH | FTW_PHYS);
}

static char *te_path(const char *dir, const char *name)
{
	static char p[2][512];
	static int k;

	k ^= 1;
	snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
	return p[k];
}

/* A file's bytes, NUL-terminated; *len its size. */
static char *te_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static size_t te_lines(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* The checkpoint file: lines for every checkpoint, one of another host,
 * a garbage line. */
static void te_checkpoint_file(const char *path)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f);
	for (int s = TE_CP_EVERY; s <= TE_N; s += TE_CP_EVERY) {
		json_t *p = json_loads(te_rows[s].v[MW_CF_PARAMS], 0, NULL);

		fprintf(f,
			"{\"host\":\"%s\",\"seq\":%d,\"hash\":\"%s\","
			"\"key_id\":\"%s\",\"signature\":\"%s\","
			"\"checkpoint_seq\":%d,\"ts_us\":%lld}\n",
			TE_HOST, s - 1, te_rows[s - 1].v[MW_CF_N],
			mw_signer_key_id(te_signer),
			json_string_value(json_object_get(p, "signature")), s,
			TE_TS0 + s * 1000000ll);
		json_decref(p);
	}
	fprintf(f,
		"{\"host\":\"other\",\"seq\":9,\"hash\":\"%s\",\"key_id\":"
		"\"0000000000000000\",\"signature\":\"x\"}\n",
		MW_CHAIN_GENESIS);
	fprintf(f, "not a checkpoint\n\n");
	cr_assert_eq(fclose(f), 0);
}

static int te_export(const char *dir, bool tamper, bool *verified);

static void te_assert_mode(const char *path, mode_t mode)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	cr_assert_eq(st.st_mode & 07777, mode, "%s: %o", path,
		     st.st_mode & 07777);
}

Test(evidence_package, written_whole_and_verified, .init = te_setup,
     .fini = te_teardown)
{
	char dir[128], sha[MW_SHA256_HEX], name[MW_EVIDENCE_NAME_MAX];
	char *manifest, *text, *cps, *events;
	json_t *m, *files, *fe, *h, *pol, *v;
	bool verified = false;
	size_t i, len;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir); /* made by the export */
	te_export(dir, false, &verified);
	cr_assert(verified);
	te_assert_mode(dir, 0700);
	te_assert_mode(te_path(dir, MW_EVIDENCE_POLICY_DIR), 0700);

	/* manifest.sha256 names the manifest's hash, sha256sum's way */
	manifest = te_read(te_path(dir, MW_EVIDENCE_MANIFEST), &len);
	cr_assert_eq(mw_sha256_hex(manifest, len, sha), 0);
	text = te_read(te_path(dir, MW_EVIDENCE_MANIFEST_SHA), NULL);
	cr_assert_eq(strncmp(text, sha, 64), 0);
	cr_assert_str_eq(text + 64, "  manifest.json\n");
	free(text);

	/* every file listed with its hash and size, nothing else there */
	m = json_loads(manifest, 0, NULL);
	cr_assert_not_null(m);
	cr_assert_eq(json_integer_value(json_object_get(m, "format_version")),
		     1);
	files = json_object_get(m, "files");
	cr_assert_eq(json_array_size(files), 12, "%zu", json_array_size(files));
	json_array_foreach (files, i, fe) {
		const char *fname =
			json_string_value(json_object_get(fe, "name"));

		text = te_read(te_path(dir, fname), &len);
		cr_assert_eq(mw_sha256_hex(text, len, sha), 0);
		cr_assert_str_eq(
			json_string_value(json_object_get(fe, "sha256")), sha,
			"%s", fname);
		cr_assert_eq(json_integer_value(json_object_get(fe, "bytes")),
			     (json_int_t)len, "%s", fname);
		te_assert_mode(te_path(dir, fname), 0600);
		free(text);
	}

	/* the events: 5 to the checkpoint at 40, exactly */
	events = te_read(te_path(dir, MW_EVIDENCE_EVENTS), NULL);
	cr_assert_eq(te_lines(events), 36);
	cr_assert_eq(json_integer_value(json_object_get(m, "events")), 36);
	h = json_array_get(
		json_object_get(json_object_get(m, "window"), "exported"), 0);
	cr_assert_str_eq(json_string_value(json_object_get(h, "host")),
			 TE_HOST);
	cr_assert_eq(json_integer_value(json_object_get(h, "first_seq")), 5);
	cr_assert_eq(json_integer_value(json_object_get(h, "last_seq")), 40);
	cr_assert_eq(json_integer_value(json_object_get(h, "events")), 36);
	cr_assert_eq(
		json_integer_value(json_object_get(h, "events_after_window")),
		7);
	cr_assert_eq(json_integer_value(
			     json_object_get(h, "extended_to_checkpoint_seq")),
		     40);
	cr_assert_eq(
		json_integer_value(json_object_get(h, "signed_through_seq")),
		39);
	cr_assert(json_is_true(json_object_get(h, "starts_mid_chain")));
	cr_assert_str_eq(
		json_string_value(json_object_get(h, "first_prev_hash")),
		te_rows[4].v[MW_CF_N]);
	cr_assert_str_eq(
		json_string_value(json_object_get(h, "policy_at_since")),
		te_sha(TE_POLICY));
	cr_assert_str_eq(json_string_value(
				 json_object_get(h, "daemon_version_at_since")),
			 "9.9.8");
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(m, "public_key"), "key_id")),
			 mw_signer_key_id(te_signer));
	/* daemon versions: the one before the window, the one in it */
	v = json_object_get(m, "daemon_versions");
	cr_assert_eq(json_array_size(v), 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 1),
							   "version")),
			 "9.9.9");
	free(events);

	/* the checkpoint file's lines in range, byte for byte: 9..39 */
	cps = te_read(te_path(dir, MW_EVIDENCE_CHECKPOINTS), NULL);
	cr_assert_eq(te_lines(cps), 4, "%s", cps);
	cr_assert(strstr(cps, "\"seq\":39,"));
	cr_assert_null(strstr(cps, "\"seq\":49,"), "beyond the package");
	cr_assert_null(strstr(cps, "other"));
	v = json_object_get(m, "checkpoint_file");
	cr_assert(json_is_true(json_object_get(v, "present")));
	cr_assert_eq(json_integer_value(json_object_get(v, "lines_exported")),
		     4);
	cr_assert_eq(
		json_integer_value(json_object_get(v, "lines_not_in_range")),
		2);
	cr_assert_eq(json_integer_value(json_object_get(v, "lines_unparsable")),
		     1);
	free(cps);

	/* policies: the text by its hash, the inline one explained */
	cr_assert_eq(mw_evidence_policy_file_name(te_sha(TE_POLICY), true, name,
						  sizeof(name)),
		     0);
	text = te_read(te_path(dir, name), NULL);
	cr_assert_str_eq(text, TE_POLICY);
	free(text);
	cr_assert_eq(mw_evidence_policy_file_name(te_sha("inline"), false, name,
						  sizeof(name)),
		     0);
	text = te_read(te_path(dir, name), NULL);
	cr_assert(strstr(text, "not in the audit trail"), "%s", text);
	cr_assert(strstr(text, "/etc/c.yaml"), "%s", text);
	free(text);
	text = te_read(te_path(dir, MW_EVIDENCE_POLICIES), NULL);
	pol = json_loads(text, 0, NULL);
	free(text);
	cr_assert_eq(json_array_size(pol), 2);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_array_get(pol, 0), "in_force")),
			 "in_force_at_since");
	cr_assert(json_is_false(
		json_object_get(json_array_get(pol, 0), "in_package_chain")));
	cr_assert_eq(json_integer_value(
			     json_object_get(json_array_get(pol, 1), "seq")),
		     12);
	cr_assert(json_is_false(
		json_object_get(json_array_get(pol, 1), "text_recorded")));
	json_decref(pol);

	/* the verification, as audit verify --package reports it */
	text = te_read(te_path(dir, MW_EVIDENCE_VERIFY_TXT), NULL);
	cr_assert(strstr(text, "verification ok: 1 host(s), 36 event(s)"), "%s",
		  text);
	cr_assert(strstr(text, "note: the chain starts at seq 5"), "%s", text);
	cr_assert(strstr(text, "notes from the export:"), "%s", text);
	cr_assert(strstr(text, "the package starts at seq 5"), "%s", text);
	free(text);
	text = te_read(te_path(dir, MW_EVIDENCE_VERIFY_JSON), NULL);
	v = json_loads(text, 0, NULL);
	free(text);
	cr_assert(json_is_true(json_object_get(v, "ok")));
	cr_assert_str_eq(json_string_value(json_object_get(v, "source")),
			 "package");
	json_decref(v);
	text = te_read(te_path(dir, MW_EVIDENCE_FORMAT), NULL);
	cr_assert_str_eq(text, mw_evidence_format_md);
	free(text);
	cr_assert(json_is_true(
		json_object_get(json_object_get(m, "verification"), "ok")));
	json_decref(m);
	free(manifest);
}

Test(evidence_package, a_tampered_row_is_a_break_in_a_complete_package,
     .init = te_setup, .fini = te_teardown)
{
	char *text, *events;
	bool verified = true;

	te_export(te_dir, true, &verified); /* an existing empty directory */
	cr_assert_not(verified);
	text = te_read(te_path(te_dir, MW_EVIDENCE_VERIFY_TXT), NULL);
	cr_assert(strstr(text, "seq 17 modified"), "%s", text);
	cr_assert(strstr(text, "verification FAILED"), "%s", text);
	free(text);
	/* written as read: the verifier sees what the database holds */
	events = te_read(te_path(te_dir, MW_EVIDENCE_EVENTS), NULL);
	cr_assert(strstr(events, "\"decision\":\"deny\""));
	free(events);
	text = te_read(te_path(te_dir, MW_EVIDENCE_MANIFEST), NULL);
	cr_assert(strstr(text, "\"breaks\": 1"), "%s", text);
	free(text);
	cr_assert_eq(access(te_path(te_dir, MW_EVIDENCE_MANIFEST_SHA), F_OK),
		     0);
}

Test(evidence_package, an_empty_window_is_an_empty_valid_package,
     .init = te_setup, .fini = te_teardown)
{
	struct mw_evidence_request req = { .since_us = 0, .until_us = 1000000 };
	struct mw_evidence *e;
	char err[1024] = "", *text;
	bool verified = false;

	cr_assert_eq(mw_evidence_open(&e, te_dir, &req, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(mw_evidence_public_key_file(
			     e, te_path(te_key_dir, MW_SIGN_PUB_FILE), err,
			     sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_evidence_events_begin(e, err, sizeof(err)), 0);
	cr_assert_eq(mw_evidence_events_end(e, err, sizeof(err)), 0);
	cr_assert_eq(mw_evidence_checkpoint_file(e, "/nonexistent/cps", err,
						 sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_evidence_finish(e, &verified, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert(verified);
	mw_evidence_free(e);
	text = te_read(te_path(te_dir, MW_EVIDENCE_EVENTS), NULL);
	cr_assert_str_eq(text, "");
	free(text);
	text = te_read(te_path(te_dir, MW_EVIDENCE_MANIFEST), NULL);
	cr_assert(strstr(text, "no events in the window"), "%s", text);
	cr_assert(strstr(text, "\"present\": false"), "%s", text);
	cr_assert(strstr(text, "/nonexistent/cps does not exist"), "%s", text);
	free(text);
	text = te_read(te_path(te_dir, MW_EVIDENCE_POLICIES), NULL);
	cr_assert_str_eq(text, "[]\n");
	free(text);
	/* no policies, no policies/ directory */
	cr_assert_neq(access(te_path(te_dir, MW_EVIDENCE_POLICY_DIR), F_OK), 0);
}

Test(evidence_package,
     refuses_a_non_empty_directory_and_cleans_up_after_failure,
     .init = te_setup, .fini = te_teardown)
{
	struct mw_evidence_request req = { .since_us = 0, .until_us = 1 };
	struct mw_evidence *e = NULL;
	char err[1024] = "", dir[128];
	FILE *f;

	f = fopen(te_path(te_dir, "something"), "we");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(mw_evidence_open(&e, te_dir, &req, err, sizeof(err)), -1);
	cr_assert_null(e);
	cr_assert(strstr(err, "is not empty"), "%s", err);
	cr_assert_eq(access(te_path(te_dir, "something"), F_OK), 0,
		     "left alone");
	/* not a directory */
	cr_assert_eq(mw_evidence_open(&e, te_path(te_dir, "something"), &req,
				      err, sizeof(err)),
		     -1);
	/* an empty window is refused */
	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	req.until_us = 0;
	cr_assert_eq(mw_evidence_open(&e, dir, &req, err, sizeof(err)), -1);
	cr_assert_neq(access(dir, F_OK), 0);
	/* a failed export leaves nothing behind */
	req.until_us = 1;
	cr_assert_eq(mw_evidence_open(&e, dir, &req, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(mw_evidence_public_key_file(
			     e, te_path(te_key_dir, MW_SIGN_PUB_FILE), err,
			     sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_evidence_write_file(e, "policies/x.yaml", "x", 1, err,
					    sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_evidence_write_file(e, "../escape", "x", 1, err,
					    sizeof(err)),
		     -1);
	cr_assert_eq(mw_evidence_write_file(e, MW_EVIDENCE_PUBKEY, "x", 1, err,
					    sizeof(err)),
		     -1, "never over a file");
	cr_assert_eq(mw_evidence_finish(e, &(bool){ false }, err, sizeof(err)),
		     -1, "finished without events");
	mw_evidence_free(e);
	cr_assert_neq(access(dir, F_OK), 0, "the directory it made is gone");
	/* a public key that is not one */
	cr_assert_eq(mw_evidence_open(&e, dir, &req, err, sizeof(err)), 0);
	f = fopen(te_path(te_key_dir, "not-a-key.pem"), "we");
	cr_assert_not_null(f);
	fputs("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	      f);
	fclose(f);
	cr_assert_eq(mw_evidence_public_key_file(
			     e, te_path(te_key_dir, "not-a-key.pem"), err,
			     sizeof(err)),
		     -1);
	cr_assert(strstr(err, "public key"), "%s", err);
	mw_evidence_free(e);
	cr_assert_neq(access(dir, F_OK), 0);
}

/* ---- both ends vouched for by a signature ---- */

struct te_range {
	const char *dir; /* NULL: one under te_dir named by from and to */
	uint64_t first, last, cp, anchor; /* the window, as add_host takes */
	int ctx[2]; /* the context rows (in force at since) */
	int from, to; /* rows given to mw_evidence_event */
	int skip_lo, skip_hi; /* rows left out (deleted), 0: none */
	int tamper; /* a row whose decision is changed, 0: none */
	int64_t created_us;
};

/* Exports rows from..to of te_rows but the skipped ones; returns the
 * manifest's host entry (to free with its manifest) and whether the
 * package verified. */
static json_t *te_export_range(const struct te_range *t, bool *verified)
{
	struct mw_evidence_request req = {
		.since_us = TE_TS0 + (int64_t)t->first * 1000000ll,
		.until_us = TE_TS0 + ((int64_t)t->last + 1) * 1000000ll,
		.created_us = t->created_us,
	};
	struct mw_evidence_host_window w = { .host = TE_HOST,
					     .first_seq = t->first,
					     .last_seq = t->last,
					     .events = t->last - t->first + 1,
					     .checkpoint_seq = t->cp,
					     .anchor_seq = t->anchor };
	struct mw_chain_value f[TE_COLS];
	struct mw_evidence *e;
	char err[1024] = "", cps[128], dir[128];
	json_t *m, *h;

	snprintf(cps, sizeof(cps), "%s/cps.jsonl", te_key_dir);
	if (t->dir)
		snprintf(dir, sizeof(dir), "%s", t->dir);
	else
		snprintf(dir, sizeof(dir), "%s/pkg-%d-%d", te_dir, t->from,
			 t->to);
	te_checkpoint_file(cps);
	cr_assert_eq(mw_evidence_open(&e, dir, &req, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(mw_evidence_public_key_file(
			     e, te_path(te_key_dir, MW_SIGN_PUB_FILE), err,
			     sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(mw_evidence_key_id(e), mw_signer_key_id(te_signer));
	cr_assert_eq(mw_evidence_add_host(e, &w, err, sizeof(err)), 0, "%s",
		     err);
	for (int i = 0; i < 2; i++) {
		te_values((const char *const *)te_rows[t->ctx[i]].v, f);
		cr_assert_eq(mw_evidence_context_row(e, f, err, sizeof(err)), 0,
			     "%s", err);
	}
	cr_assert_eq(mw_evidence_events_begin(e, err, sizeof(err)), 0, "%s",
		     err);
	for (int s = t->from; s <= t->to; s++) {
		if (s >= t->skip_lo && s <= t->skip_hi)
			continue;
		te_values((const char *const *)te_rows[s].v, f);
		if (s == t->tamper)
			f[MW_CF_DECISION] =
				(struct mw_chain_value){ "deny", 4 };
		cr_assert_eq(mw_evidence_event(e, f, err, sizeof(err)), 0, "%s",
			     err);
	}
	cr_assert_eq(mw_evidence_events_end(e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mw_evidence_checkpoint_file(e, cps, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(mw_evidence_finish(e, verified, err, sizeof(err)), 0, "%s",
		     err);
	mw_evidence_free(e);
	m = json_load_file(te_path(dir, MW_EVIDENCE_MANIFEST), 0, NULL);
	cr_assert_not_null(m);
	h = json_array_get(
		json_object_get(json_object_get(m, "window"), "exported"), 0);
	cr_assert_not_null(h);
	json_incref(h);
	json_decref(m);
	return h;
}

#define TE_LONG_AFTER (TE_TS0 + 3600 * 1000000ll)

/*
 * A package of the window [TE_TS0 + 5 s, TE_TS0 + 34 s): seqs 5..33, the
 * export going on to the checkpoint at 40. tamper: a row's content
 * changed (its hash not recomputed).
 */
static int te_export(const char *dir, bool tamper, bool *verified)
{
	struct te_range t = { .dir = dir,
			      .first = 5,
			      .last = 33,
			      .cp = 40,
			      .ctx = { 2, 1 },
			      .from = 5,
			      .to = 40,
			      .tamper = tamper ? 17 : 0,
			      .created_us = TE_LONG_AFTER };

	json_decref(te_export_range(&t, verified));
	return 0;
}

/*
 * The window 15..33 starts at 9, the event the checkpoint at 10 signs:
 * the lead-in is in the package, and what was in force at since (rows 12
 * and 13, in it) is listed once.
 */
Test(evidence_package, starts_at_the_event_a_checkpoint_signs, .init = te_setup,
     .fini = te_teardown)
{
	struct te_range t = { .first = 15,
			      .last = 33,
			      .cp = 40,
			      .anchor = 9,
			      .ctx = { 12, 13 },
			      .from = 9,
			      .to = 40,
			      .created_us = TE_LONG_AFTER };
	bool verified = false;
	json_t *h = te_export_range(&t, &verified);

	cr_assert(verified);
	cr_assert_eq(json_integer_value(json_object_get(h, "first_seq")), 9);
	cr_assert_eq(
		json_integer_value(json_object_get(h, "events_before_window")),
		6);
	json_decref(h);
}

/* Deleting the window's first events leaves a gap after the signed one. */
Test(evidence_package, the_windows_first_events_deleted_is_a_break,
     .init = te_setup, .fini = te_teardown)
{
	struct te_range t = { .first = 18,
			      .last = 33,
			      .cp = 40,
			      .anchor = 9,
			      .ctx = { 12, 13 },
			      .from = 9,
			      .to = 40,
			      .skip_lo = 15,
			      .skip_hi = 17,
			      .created_us = TE_LONG_AFTER };
	bool verified = true;

	json_decref(te_export_range(&t, &verified));
	cr_assert_not(verified, "a package missing 15..17 verified");
}

/*
 * The database's chain ends at 33, with no checkpoint after it: the
 * checkpoint file's line for 39 (signed at 40 s) says the tail was cut,
 * once it is older than the grace; a younger one may be an event not yet
 * committed, and is left out.
 */
Test(evidence_package, a_deleted_tail_is_named_by_the_checkpoint_file,
     .init = te_setup, .fini = te_teardown)
{
	struct te_range t = { .first = 15,
			      .last = 33,
			      .cp = 0,
			      .anchor = 9,
			      .ctx = { 12, 13 },
			      .from = 9,
			      .to = 33,
			      .created_us = TE_LONG_AFTER };
	bool verified = true;

	json_decref(te_export_range(&t, &verified));
	cr_assert_not(verified, "a package whose tail was cut verified");
	t.created_us = TE_TS0 + 40 * 1000000ll + MW_EVIDENCE_CP_GRACE_US - 1;
	t.to = 32; /* another directory */
	t.last = 32;
	json_decref(te_export_range(&t, &verified));
	cr_assert(verified, "a checkpoint younger than the grace counted");
}

/* ---- audit verify --package: the package against its manifest ---- */

static void te_write(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fwrite(text, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

/* The seq a line of events.jsonl (a string) or checkpoints.jsonl (a
 * number) names. */
static long long te_line_seq(const char *line, size_t len)
{
	json_t *j = json_loadb(line, len, 0, NULL), *s;
	long long seq;

	cr_assert_not_null(j, "%.*s", (int)len, line);
	s = json_object_get(j, "seq");
	seq = json_is_string(s) ? atoll(json_string_value(s))
				: (long long)json_integer_value(s);
	json_decref(j);
	return seq;
}

/* Keeps the lines of the file naming a seq from lo to hi. */
static void te_keep(const char *path, long long lo, long long hi)
{
	char *text = te_read(path, NULL), *p = text, *out = text;

	while (*p) {
		char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p) + 1;
		long long seq = te_line_seq(p, n - 1);

		cr_assert_not_null(nl);
		if (seq >= lo && seq <= hi) {
			memmove(out, p, n);
			out += n;
		}
		p += n;
	}
	te_write(path, text, (size_t)(out - text));
	free(text);
}

#define TE_NO_SEQ (-1) /* te_reseal: the range 0/0, no seq read */
#define TE_UNLISTED (-2) /* te_reseal: window.exported emptied */

/*
 * The manifest made to agree with the files again (their hashes and
 * sizes, then manifest.sha256), as someone cutting a package would; and
 * its range set to first..last when first is positive (TE_NO_SEQ: 0/0,
 * TE_UNLISTED: the host taken off the list).
 */
static void te_reseal(const char *dir, long long first, long long last)
{
	json_t *m = json_load_file(te_path(dir, MW_EVIDENCE_MANIFEST), 0, NULL);
	json_t *fe, *h;
	char sha[MW_SHA256_HEX], *text, line[128];
	size_t i, len;

	cr_assert_not_null(m);
	json_array_foreach (json_object_get(m, "files"), i, fe) {
		text = te_read(te_path(dir, json_string_value(json_object_get(
						    fe, "name"))),
			       &len);
		cr_assert_eq(mw_sha256_hex(text, len, sha), 0);
		json_object_set_new(fe, "sha256", json_string(sha));
		json_object_set_new(fe, "bytes", json_integer((json_int_t)len));
		free(text);
	}
	h = json_array_get(
		json_object_get(json_object_get(m, "window"), "exported"), 0);
	if (first == TE_UNLISTED) {
		json_array_clear(json_object_get(json_object_get(m, "window"),
						 "exported"));
	} else if (first) {
		if (first == TE_NO_SEQ)
			first = last = 0;
		json_object_set_new(h, "first_seq", json_integer(first));
		json_object_set_new(h, "last_seq", json_integer(last));
	}
	text = json_dumps(m, JSON_INDENT(2));
	cr_assert_not_null(text);
	len = strlen(text);
	text[len] = '\n';
	te_write(te_path(dir, MW_EVIDENCE_MANIFEST), text, len + 1);
	cr_assert_eq(mw_sha256_hex(text, len + 1, sha), 0);
	free(text);
	json_decref(m);
	snprintf(line, sizeof(line), "%s  %s\n", sha, MW_EVIDENCE_MANIFEST);
	te_write(te_path(dir, MW_EVIDENCE_MANIFEST_SHA), line, strlen(line));
}

/* mw_evidence_verify_dir over dir, as `audit verify --package DIR
 * [--checkpoints extra]` (extra NULL: none). */
static struct mw_verify *te_verify_dir_with(const char *dir, const char *extra,
					    struct mw_sign_pub **pub)
{
	struct mw_verify *v = NULL;
	char err[1024] = "";

	cr_assert_eq(mw_sign_pub_load(pub, te_path(dir, MW_EVIDENCE_PUBKEY),
				      err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_verify_new(&v, *pub, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mw_evidence_verify_dir(v, dir, extra, err, sizeof(err)), 0,
		     "%s", err);
	mw_verify_finish(v);
	return v;
}

static struct mw_verify *te_verify_dir(const char *dir,
				       struct mw_sign_pub **pub)
{
	return te_verify_dir_with(dir, NULL, pub);
}

/* The report as text, for the messages of failed assertions. */
static char *te_report(const struct mw_verify *v)
{
	static char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	cr_assert_not_null(f);
	mw_verify_print(v, f);
	fclose(f);
	return buf;
}

/* A package as written verifies; one cut short (events and checkpoint
 * lines after seq 14 gone) does not, resealed or not. */
Test(evidence_package, a_package_cut_short_is_a_break, .init = te_setup,
     .fini = te_teardown)
{
	struct mw_sign_pub *pub = NULL;
	const struct mw_verify_host *h;
	struct mw_verify *v;
	char dir[128];
	bool verified = false;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	te_export(dir, false, &verified);
	cr_assert(verified);
	v = te_verify_dir(dir, &pub);
	cr_assert(mw_verify_ok(v), "%s", te_report(v));
	mw_verify_free(v);
	mw_sign_pub_free(pub);

	te_keep(te_path(dir, MW_EVIDENCE_EVENTS), 5, 14);
	te_keep(te_path(dir, MW_EVIDENCE_CHECKPOINTS), 5, 14);
	v = te_verify_dir(dir, &pub);
	cr_assert_not(mw_verify_ok(v), "%s", te_report(v));
	cr_assert(strstr(te_report(v), "events.jsonl: changed"), "%s",
		  te_report(v));
	mw_verify_free(v);
	mw_sign_pub_free(pub);

	/* the files' hashes made to agree: the range does not */
	te_reseal(dir, 0, 0);
	v = te_verify_dir(dir, &pub);
	cr_assert_not(mw_verify_ok(v), "%s", te_report(v));
	h = mw_verify_find_host(v, TE_HOST);
	cr_assert_not_null(h);
	cr_assert_eq(h->by_class[MW_VB_DELETED], 1, "%s", te_report(v));
	cr_assert_eq(h->details[0].seq, 15);
	cr_assert_eq(h->details[0].seq_end, 40);
	mw_verify_free(v);
	mw_sign_pub_free(pub);
}

/* A checkpoint file line of host for seq with hash, validly signed. */
static void te_signed_line(FILE *f, const char *host, int seq, const char *hash)
{
	char msg[512], sig[MW_SIGN_B64_LEN];
	int n = mw_chain_checkpoint_message(msg, sizeof(msg), host,
					    (uint64_t)seq, hash);

	cr_assert_gt(n, 0);
	cr_assert_eq(mw_signer_sign(te_signer, msg, (size_t)n, sig), 0);
	fprintf(f,
		"{\"host\":\"%s\",\"seq\":%d,\"hash\":\"%s\","
		"\"key_id\":\"%s\",\"signature\":\"%s\"}\n",
		host, seq, hash, mw_signer_key_id(te_signer), sig);
}

/*
 * The daemon's whole checkpoint file: every checkpoint of TE_HOST (the
 * one for forged, when not 0, signing another hash), and one of another
 * host.
 */
static void te_daemon_file(const char *path, int forged)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f);
	for (int s = TE_CP_EVERY; s <= TE_N; s += TE_CP_EVERY)
		te_signed_line(f, TE_HOST, s - 1,
			       te_rows[s - 1 == forged ? 1 : s - 1].v[MW_CF_N]);
	te_signed_line(f, "other", 9, te_rows[1].v[MW_CF_N]);
	cr_assert_eq(fclose(f), 0);
}

/*
 * An honest package (seq 5..40) verified with the daemon's whole
 * checkpoint file: its lines beyond the package's range and of a host the
 * manifest does not list are no breaks; those inside it are checked.
 */
Test(evidence_package, the_daemons_whole_checkpoint_file_is_no_break,
     .init = te_setup, .fini = te_teardown)
{
	struct mw_sign_pub *pub = NULL;
	const struct mw_verify_host *h;
	struct mw_verify *v;
	char dir[128], cps[128];
	bool verified = false;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	snprintf(cps, sizeof(cps), "%s/daemon-cps.jsonl", te_dir);
	te_export(dir, false, &verified);
	cr_assert(verified);
	te_daemon_file(cps, 0);
	v = te_verify_dir_with(dir, cps, &pub);
	cr_assert(mw_verify_ok(v), "%s", te_report(v));
	h = mw_verify_find_host(v, TE_HOST);
	cr_assert_not_null(h);
	/* 9, 19, 29 and 39 inside, 49 beyond */
	cr_assert_eq(h->file_cp_ok, 4, "%s", te_report(v));
	cr_assert_eq(h->file_cp_outside, 1, "%s", te_report(v));
	h = mw_verify_find_host(v, "other");
	cr_assert(!h || h->file_cp_outside == 1);
	mw_verify_free(v);
	mw_sign_pub_free(pub);

	/* a line inside the range signing another hash is a break */
	te_daemon_file(cps, 19);
	v = te_verify_dir_with(dir, cps, &pub);
	cr_assert_not(mw_verify_ok(v), "%s", te_report(v));
	mw_verify_free(v);
	mw_sign_pub_free(pub);
}

/*
 * A package's events of a host its manifest gives no range: a break
 * (FORMAT.md section 6, step 3), whether the list is empty or the host's
 * range is the 0/0 of a host without a seq.
 */
Test(evidence_package, events_of_a_host_the_manifest_does_not_list,
     .init = te_setup, .fini = te_teardown)
{
	static const long long how[] = { TE_NO_SEQ, TE_UNLISTED };
	struct mw_sign_pub *pub = NULL;
	const struct mw_verify_host *h;
	struct mw_verify *v;
	char dir[128];
	bool verified = false;

	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/pkg%zu", te_dir, i);
		te_export(dir, false, &verified);
		cr_assert(verified);
		te_reseal(dir, how[i], 0);
		v = te_verify_dir(dir, &pub);
		cr_assert_not(mw_verify_ok(v), "%s", te_report(v));
		h = mw_verify_find_host(v, TE_HOST);
		cr_assert_not_null(h);
		cr_assert_eq(h->by_class[MW_VB_INSERTED], 1, "%s",
			     te_report(v));
		mw_verify_free(v);
		mw_sign_pub_free(pub);
	}
}

/*
 * A package without its first events, all checkpoint lines kept: the
 * manifest's first_seq says so, and so does the line for seq 9, before
 * the first event left, were the manifest's range changed too.
 */
Test(evidence_package, a_package_without_its_start_is_a_break, .init = te_setup,
     .fini = te_teardown)
{
	struct mw_sign_pub *pub = NULL;
	const struct mw_verify_host *h;
	struct mw_verify *v;
	char dir[128];
	bool verified = false;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	te_export(dir, false, &verified);
	cr_assert(verified);
	te_keep(te_path(dir, MW_EVIDENCE_EVENTS), 13, 40);
	te_reseal(dir, 0, 0);
	v = te_verify_dir(dir, &pub);
	cr_assert_not(mw_verify_ok(v), "%s", te_report(v));
	h = mw_verify_find_host(v, TE_HOST);
	cr_assert_not_null(h);
	cr_assert_eq(h->details[0].cls, MW_VB_DELETED, "%s", te_report(v));
	cr_assert_eq(h->details[0].seq, 5, "%s", te_report(v));
	mw_verify_free(v);
	mw_sign_pub_free(pub);

	te_reseal(dir, 13, 40);
	v = te_verify_dir(dir, &pub);
	cr_assert_not(mw_verify_ok(v), "%s", te_report(v));
	h = mw_verify_find_host(v, TE_HOST);
	cr_assert_eq(h->details[0].cls, MW_VB_DELETED, "%s", te_report(v));
	cr_assert_eq(h->details[0].seq, 9, "%s", te_report(v));
	cr_assert_eq(h->details[0].seq_end, 12, "%s", te_report(v));
	cr_assert_eq(h->file_cp_retention, 0);
	mw_verify_free(v);
	mw_sign_pub_free(pub);
}

/*
 * What `audit verify --package` compares with the manifest is what it
 * parsed: the loaders read a descriptor, opened once, and give the digest
 * of the bytes they read. Both files replaced by others (cut short,
 * renamed over them) once open, as someone writing the directory during
 * the verification would: the digests and the rows are the opened files'.
 * (The race itself, between check_files and load_package, cannot be
 * forced from here without a hook in between.)
 */
Test(evidence_package, the_digest_is_of_the_descriptor_parsed, .init = te_setup,
     .fini = te_teardown)
{
	static const char *const names[] = { MW_EVIDENCE_CHECKPOINTS,
					     MW_EVIDENCE_EVENTS };
	char dir[128], tmp[600], want[2][MW_SHA256_HEX], sha[MW_SHA256_HEX];
	char err[1024] = "", *text;
	struct mw_verify_digest d[2];
	struct mw_sign_pub *pub = NULL;
	const struct mw_verify_host *h;
	struct mw_verify *v = NULL;
	size_t len[2], now, events = 0;
	bool verified = false;
	int fd[2];

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	te_export(dir, false, &verified);
	cr_assert(verified);
	for (int i = 0; i < 2; i++) {
		snprintf(tmp, sizeof(tmp), "%s/%s", dir, names[i]);
		fd[i] = open(tmp, O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fd[i], 0);
		text = te_read(tmp, &len[i]);
		cr_assert_eq(mw_sha256_hex(text, len[i], want[i]), 0);
		if (i == 1)
			events = te_lines(text);
		free(text);
		/* the swap: another file under the name */
		snprintf(tmp, sizeof(tmp), "%s/%s.new", dir, names[i]);
		te_write(tmp, "", 0);
		cr_assert_eq(rename(tmp, te_path(dir, names[i])), 0);
		text = te_read(te_path(dir, names[i]), &now);
		cr_assert_eq(now, 0);
		free(text);
	}
	cr_assert_gt(events, 0);
	cr_assert_eq(mw_sign_pub_load(&pub, te_path(dir, MW_EVIDENCE_PUBKEY),
				      err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_verify_new(&v, pub, err, sizeof(err)), 0, "%s", err);
	mw_verify_package_lines(v, true);
	cr_assert_eq(mw_verify_load_checkpoints_fd(v, fd[0], names[0], &d[0],
						   err, sizeof(err)),
		     0, "%s", err);
	mw_verify_package_lines(v, false);
	cr_assert_eq(mw_verify_load_jsonl_fd(v, fd[1], names[1], &d[1], err,
					     sizeof(err)),
		     0, "%s", err);
	mw_verify_finish(v);
	for (int i = 0; i < 2; i++) {
		cr_assert_str_eq(d[i].sha256, want[i], "%s", names[i]);
		cr_assert_eq(d[i].bytes, len[i], "%s", names[i]);
		cr_assert_eq(close(fd[i]), 0);
	}
	h = mw_verify_find_host(v, TE_HOST);
	cr_assert_not_null(h, "%s", te_report(v));
	cr_assert_eq(h->events, events, "%s", te_report(v));
	cr_assert(mw_verify_ok(v), "%s", te_report(v));
	cr_assert_eq(mw_sha256_hex("", 0, sha), 0);
	cr_assert_str_neq(sha, want[1]);
	mw_verify_free(v);
	mw_sign_pub_free(pub);
}

/*
 * events.jsonl or checkpoints.jsonl not there to read (gone, a symbolic
 * link, a FIFO in its place): a package problem that names it, once, and
 * a report (mw_evidence_verify_dir returns 0: exit 1), not a failure of
 * the verifier (exit 2).
 */
Test(evidence_package, a_file_the_verifier_parses_gone_is_a_break,
     .init = te_setup, .fini = te_teardown)
{
	static const struct {
		const char *name, *why;
	} cases[] = {
		{ MW_EVIDENCE_EVENTS, "missing" },
		{ MW_EVIDENCE_EVENTS, "a symbolic link" },
		{ MW_EVIDENCE_CHECKPOINTS, "missing" },
		{ MW_EVIDENCE_CHECKPOINTS, "not a regular file" },
	};
	char dir[128], path[600], want[128], saved[600];
	struct mw_sign_pub *pub = NULL;
	struct mw_verify *v;
	bool verified = false;
	const char *r, *at;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	te_export(dir, false, &verified);
	cr_assert(verified);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		snprintf(saved, sizeof(saved), "%s/../%s", dir, cases[i].name);
		cr_assert_eq(rename(path, saved), 0);
		if (!strcmp(cases[i].why, "a symbolic link"))
			cr_assert_eq(symlink(saved, path), 0);
		else if (!strcmp(cases[i].why, "not a regular file"))
			cr_assert_eq(mkfifo(path, 0600), 0);
		v = te_verify_dir(dir, &pub);
		r = te_report(v);
		cr_assert_not(mw_verify_ok(v), "%s", r);
		snprintf(want, sizeof(want), "%s: %s", cases[i].name,
			 cases[i].why);
		at = strstr(r, want);
		cr_assert(at, "%s: %s", want, r);
		cr_assert_null(strstr(at + 1, want), "named once: %s", r);
		mw_verify_free(v);
		mw_sign_pub_free(pub);
		pub = NULL;
		unlink(path);
		cr_assert_eq(rename(saved, path), 0);
	}
}

/* A file added to the package, or its manifest.sha256 gone. */
Test(evidence_package, a_package_with_files_changed_is_a_break,
     .init = te_setup, .fini = te_teardown)
{
	struct mw_sign_pub *pub = NULL;
	struct mw_verify *v;
	char dir[128];
	bool verified = false;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	te_export(dir, false, &verified);
	te_write(te_path(dir, "extra.txt"), "x", 1);
	v = te_verify_dir(dir, &pub);
	cr_assert_not(mw_verify_ok(v));
	cr_assert(strstr(te_report(v), "does not list: extra.txt"), "%s",
		  te_report(v));
	mw_verify_free(v);
	mw_sign_pub_free(pub);
	cr_assert_eq(unlink(te_path(dir, "extra.txt")), 0);
	cr_assert_eq(unlink(te_path(dir, MW_EVIDENCE_MANIFEST_SHA)), 0);
	v = te_verify_dir(dir, &pub);
	cr_assert_not(mw_verify_ok(v));
	cr_assert(strstr(te_report(v), "manifest.sha256: missing"), "%s",
		  te_report(v));
	mw_verify_free(v);
	mw_sign_pub_free(pub);
}

/*
 * events.jsonl listed three times more, the manifest resealed: one
 * problem naming it, hashed once (a copy whose SHA-256 is wrong is not
 * even read: not a second "changed").
 */
Test(evidence_package, a_file_listed_twice_is_a_break, .init = te_setup,
     .fini = te_teardown)
{
	struct mw_sign_pub *pub = NULL;
	struct mw_verify *v;
	json_t *m, *files, *fe = NULL;
	char dir[128], *text;
	const char *r;
	bool verified = false;
	size_t i;

	snprintf(dir, sizeof(dir), "%s/pkg", te_dir);
	te_export(dir, false, &verified);
	cr_assert(verified);
	m = json_load_file(te_path(dir, MW_EVIDENCE_MANIFEST), 0, NULL);
	cr_assert_not_null(m);
	files = json_object_get(m, "files");
	json_array_foreach (files, i, fe) {
		if (!strcmp(json_string_value(json_object_get(fe, "name")),
			    MW_EVIDENCE_EVENTS))
			break;
	}
	cr_assert_lt(i, json_array_size(files));
	for (int k = 0; k < 3; k++)
		cr_assert_eq(json_array_append_new(files, json_deep_copy(fe)),
			     0);
	text = json_dumps(m, JSON_INDENT(2));
	cr_assert_not_null(text);
	te_write(te_path(dir, MW_EVIDENCE_MANIFEST), text, strlen(text));
	free(text);
	json_decref(m);
	te_reseal(dir, 0, 0);
	v = te_verify_dir(dir, &pub);
	r = te_report(v);
	cr_assert_not(mw_verify_ok(v), "%s", r);
	cr_assert(strstr(r, "the manifest lists events.jsonl twice"), "%s", r);
	cr_assert_null(strstr(strstr(r, "lists events.jsonl twice") + 1,
			      "lists events.jsonl twice"),
		       "named once: %s", r);
	cr_assert_null(strstr(r, "events.jsonl: changed"), "%s", r);
	mw_verify_free(v);
	mw_sign_pub_free(pub);
}

/* ---- names from the database reach no terminal raw ---- */

#define TE_HOSTILE "h1\x1b]2;PWNED\x07\x1b[2J"

static bool te_has_control(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
			return true;
	return false;
}

/* Rows 1..n of host; detail[s], when given, is row s's (taken over). */
static void te_rows_of(struct te_row *rows, int n, const char *host,
		       char **detail)
{
	const char *prev = MW_CHAIN_GENESIS;
	char num[32];

	for (int s = 1; s <= n; s++) {
		te_set(&rows[s], MW_CF_HOST, host);
		snprintf(num, sizeof(num), "%d", s);
		te_set(&rows[s], MW_CF_SEQ, num);
		snprintf(num, sizeof(num), "%lld", TE_TS0 + s * 1000000ll);
		te_set(&rows[s], MW_CF_TS_US, num);
		te_set(&rows[s], MW_CF_KIND, "request");
		if (detail && detail[s]) {
			free(rows[s].v[MW_CF_DETAIL]);
			rows[s].v[MW_CF_DETAIL] = detail[s];
			detail[s] = NULL;
		}
		te_set(&rows[s], MW_CF_PREV_HASH, prev);
		te_hash(&rows[s]);
		prev = rows[s].v[MW_CF_N];
	}
}

static void te_rows_free(struct te_row *rows, int n)
{
	for (int s = 1; s <= n; s++)
		for (int i = 0; i < TE_COLS; i++)
			free(rows[s].v[i]);
}

/* Exports rows 1..n of host into te_dir; the summary printed, in *text. */
static void te_export_rows(struct te_row *rows, int n, const char *host,
			   bool *verified, char **text)
{
	struct mw_evidence_request req = { .since_us = TE_TS0,
					   .until_us = TE_TS0 + 100000000ll,
					   .created_us = TE_LONG_AFTER };
	struct mw_evidence_host_window w = { .host = host,
					     .first_seq = 1,
					     .last_seq = (uint64_t)n,
					     .events = (uint64_t)n };
	struct mw_chain_value f[TE_COLS];
	struct mw_evidence *e;
	char err[1024] = "";
	size_t len = 0;
	FILE *out;

	cr_assert_eq(mw_evidence_open(&e, te_dir, &req, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(mw_evidence_public_key_file(
			     e, te_path(te_key_dir, MW_SIGN_PUB_FILE), err,
			     sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_evidence_add_host(e, &w, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(mw_evidence_events_begin(e, err, sizeof(err)), 0, "%s",
		     err);
	for (int s = 1; s <= n; s++) {
		te_values((const char *const *)rows[s].v, f);
		cr_assert_eq(mw_evidence_event(e, f, err, sizeof(err)), 0,
			     "seq %d: %s", s, err);
	}
	cr_assert_eq(mw_evidence_events_end(e, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mw_evidence_checkpoint_file(e, "/nonexistent/cps", err,
						 sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(mw_evidence_finish(e, verified, err, sizeof(err)), 0, "%s",
		     err);
	out = open_memstream(text, &len);
	cr_assert_not_null(out);
	mw_evidence_print_summary(e, out);
	fclose(out);
	mw_evidence_free(e);
}

Test(evidence_package, a_hostile_host_name_is_escaped, .init = te_setup,
     .fini = te_teardown)
{
	struct te_row rows[4] = { 0 };
	char *text = NULL;
	bool verified = false;
	size_t len;

	te_rows_of(rows, 3, TE_HOSTILE, NULL);
	te_export_rows(rows, 3, TE_HOSTILE, &verified, &text);
	cr_assert(strstr(text, "host h1\\x1b]2;PWNED\\x07\\x1b[2J: seq 1-3"),
		  "%s", text);
	cr_assert(strstr(text, "host h1\\x1b]2;PWNED\\x07\\x1b[2J: no "
			       "checkpoint"),
		  "the notes: %s", text);
	cr_assert_not(te_has_control(text, strlen(text)), "%s", text);
	free(text);
	text = te_read(te_path(te_dir, MW_EVIDENCE_VERIFY_TXT), &len);
	cr_assert_not(te_has_control(text, len), "%s", text);
	free(text);
	te_rows_free(rows, 3);
}

/* ---- rows the package cannot hold: a break, not a failed export ---- */

/*
 * A host name longer than the verifier holds: exported, and its rows
 * named as malformed.
 */
Test(evidence_package, a_host_name_too_long_is_exported_as_a_break,
     .init = te_setup, .fini = te_teardown)
{
	struct te_row rows[4] = { 0 };
	char host[MW_VERIFY_HOST_MAX + 45], *text = NULL;
	bool verified = true;

	memset(host, 'h', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	te_rows_of(rows, 3, host, NULL);
	te_export_rows(rows, 3, host, &verified, &text);
	cr_assert_not(verified, "%s", text);
	cr_assert(strstr(text, "verification FAILED"), "%s", text);
	cr_assert(strstr(text, "malformed"), "%s", text);
	free(text);
	text = te_read(te_path(te_dir, MW_EVIDENCE_EVENTS), NULL);
	cr_assert_eq(te_lines(text), 3);
	free(text);
	te_rows_free(rows, 3);
}

/*
 * An event whose JSON would be longer than the verifier reads (a detail of
 * control bytes, six times longer escaped): left out, named as missing,
 * the export noting why.
 */
Test(evidence_package, an_event_too_long_is_left_out_as_a_break,
     .init = te_setup, .fini = te_teardown)
{
	size_t big = MW_PGCOPY_MAX_LINE / 6 + 4096;
	struct te_row rows[4] = { 0 };
	char *detail[4] = { 0 }, *text = NULL;
	bool verified = true;

	detail[2] = malloc(big + 1);
	cr_assert_not_null(detail[2]);
	memset(detail[2], '\x01', big);
	detail[2][big] = '\0';
	te_rows_of(rows, 3, "big-host", detail);
	te_export_rows(rows, 3, "big-host", &verified, &text);
	cr_assert_not(verified, "%s", text);
	cr_assert(strstr(text, "seq 2 deleted"), "%s", text);
	cr_assert(strstr(text, "1 event(s) could not be exported"), "%s", text);
	free(text);
	text = te_read(te_path(te_dir, MW_EVIDENCE_EVENTS), NULL);
	cr_assert_eq(te_lines(text), 2);
	free(text);
	te_rows_free(rows, 3);
}
