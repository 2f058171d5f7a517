/* SPDX-License-Identifier: BSD-2-Clause */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_text.h"
#include "mask.h"

static struct mw_masker *masker;

static void setup(void)
{
	char err[256] = "";

	cr_assert_eq(mw_masker_new(&masker, NULL, 0, NULL, 0, err, sizeof(err)),
		     0, "%s", err);
}

static void teardown(void)
{
	mw_masker_free(masker);
	masker = NULL;
}

static uint64_t all_builtins(void)
{
	return (1ull << MW_DET_N_BUILTIN) - 1;
}

/* "name:value" of each value found in text, joined by "|". */
static char *found(const char *text)
{
	struct mw_mask_span sp[32];
	static char out[4096];
	long n = mw_mask_find(masker, all_builtins(), text, strlen(text), sp,
			      32);
	size_t o = 0;

	cr_assert_geq(n, 0);
	out[0] = '\0';
	for (long i = 0; i < n && i < 32; i++)
		o += (size_t)snprintf(
			out + o, sizeof(out) - o, "%s%s:%.*s", i ? "|" : "",
			mw_mask_builtin_name(sp[i].detector),
			(int)(sp[i].end - sp[i].start), text + sp[i].start);
	return out;
}

TestSuite(mask, .init = setup, .fini = teardown);

/*
 * A card printed with any one separator is the card; the separators that
 * join a card's groups do not make a phone number of a path or a table.
 */
Test(mask, card_separators_are_no_phone_separators)
{
	cr_assert_str_eq(found("card 4111\u00a01111\u00a01111\u00a01111 ok"),
			 "card:4111\u00a01111\u00a01111\u00a01111");
	cr_assert_str_eq(found("card 4111/1111/1111/1111 ok"),
			 "card:4111/1111/1111/1111");
	cr_assert_str_eq(found("ssn 219\u201309\u20139998 ok"),
			 "ssn:219\u201309\u20139998");
	cr_assert_str_eq(found("GET /v1/250/300/4000"), "");
	cr_assert_str_eq(found("row: 250\t300\t4000"), "");
	cr_assert_str_eq(found("id_250_300_4000"), "");
	cr_assert_str_eq(found("+1/2/3/4/5/6/7/8"), "");
	cr_assert_str_eq(found("call 250-300-4000"), "phone:250-300-4000");
}

Test(mask, cards_need_luhn_and_an_issuer)
{
	cr_assert_str_eq(found("paid 4111 1111 1111 1111 ok"),
			 "card:4111 1111 1111 1111");
	cr_assert_str_eq(found("amex 378282246310005."),
			 "card:378282246310005");
	cr_assert_str_eq(found("mc 5500-0000-0000-0004"),
			 "card:5500-0000-0000-0004");
	/* Luhn fails */
	cr_assert_str_eq(found("4111 1111 1111 1112"), "");
	/* Luhn holds, no issuer starts with 1 (a ms timestamp) */
	cr_assert_str_eq(found("ts 1700000000007"), "");
	/* inside a longer number, or mixed separators */
	cr_assert_str_eq(found("41111111111111110"), "");
	cr_assert_str_eq(found("4111-1111 1111-1111"), "");
	cr_assert_str_eq(found("x4111111111111111"), "");
	cr_assert_str_eq(found("4111111111111111.5"), "");
	/* printed in fours, or 4-6-5 and 4-6-4: no other grouping */
	cr_assert_str_eq(found("amex 3782 822463 10005"),
			 "card:3782 822463 10005");
	cr_assert_str_eq(found("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1"), "");
	cr_assert_str_eq(found("41 11 11 11 11 11 11 11"), "");
	cr_assert_str_eq(found("411 111 111 111 1111"), "");
}

Test(mask, ssns_exclude_invalid_areas_groups_serials)
{
	cr_assert_str_eq(found("ssn 123-45-6780"), "ssn:123-45-6780");
	cr_assert_str_eq(found("ssn 123 45 6780"), "ssn:123 45 6780");
	cr_assert_str_eq(found("000-12-3456 666-12-3456 912-34-5678"), "");
	cr_assert_str_eq(found("123-00-4567 123-45-0000"), "");
	cr_assert_str_eq(found("078-05-1120 123-45-6789"), "");
	cr_assert_str_eq(found("123-45 6780 123456780 2024-01-15"), "");
}

Test(mask, ibans_check_length_and_mod97)
{
	cr_assert_str_eq(found("DE89370400440532013000"),
			 "iban:DE89370400440532013000");
	cr_assert_str_eq(found("to GB82 WEST 1234 5698 7654 32, thanks"),
			 "iban:GB82 WEST 1234 5698 7654 32");
	cr_assert_str_eq(found("DE88370400440532013000"), "");
	cr_assert_str_eq(found("DE8937040044053201300"), "");
}

Test(mask, emails_phones_addresses)
{
	cr_assert_str_eq(found("mail jane.doe+x@mail.example.co.uk."),
			 "email:jane.doe+x@mail.example.co.uk");
	cr_assert_str_eq(found("root@localhost a@b foo@bar.123"), "");
	cr_assert_str_eq(found("call +44 20 7946 0958 now"),
			 "phone:+44 20 7946 0958");
	cr_assert_str_eq(found("(415) 555-2671"), "phone:(415) 555-2671");
	cr_assert_str_eq(found("415.555.2671"), "phone:415.555.2671");
	cr_assert_str_eq(found("4155552671 123-456-7890"), "");
	cr_assert_str_eq(found("host 10.0.12.255 up"), "ipv4:10.0.12.255");
	cr_assert_str_eq(found("256.1.1.1 1.2.3 01.2.3.4 1.3.6.1.4.1"), "");
	cr_assert_str_eq(found("at 2001:db8::8a2e:370:7334."),
			 "ipv6:2001:db8::8a2e:370:7334");
	cr_assert_str_eq(found("::1 12:30:45 std::vector 00:1A:2B:3C:4D:5E"),
			 "");
}

Test(mask, secrets_and_tokens)
{
	cr_assert_str_eq(found("key AKIAIOSFODNN7EXAMPLE"),
			 "aws_access_key:AKIAIOSFODNN7EXAMPLE");
	cr_assert_str_eq(
		found("aws_secret_access_key = "
		      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
		"aws_secret_key:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
	cr_assert_str_eq(found("x wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
			 "");
	cr_assert_str_eq(
		found("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
		"github_token:ghp_abcdefghijklmnopqrstuvwxyz0123456789");
	cr_assert_str_eq(found("glpat-abcdefghij0123456789"),
			 "gitlab_token:glpat-abcdefghij0123456789");
	cr_assert_str_eq(found("xoxb-1234567890-abcdef"),
			 "slack_token:xoxb-1234567890-abcdef");
	cr_assert_str_eq(found("Authorization: Bearer abc123DEF456ghi789=="),
			 "bearer_token:abc123DEF456ghi789==");
	cr_assert_str_eq(found("bearer of bad news"), "");
	cr_assert_str_eq(found("postgres://app:s3cr!t@db:5432/x"),
			 "url_credentials:app:s3cr!t");
	cr_assert_str_eq(found("https://user@example/x"), "");
}

Test(mask, jwt_needs_a_header_with_alg)
{
	/* {"alg":"HS256","typ":"JWT"} . {"sub":"1"} . signature */
	const char *jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
			  "eyJzdWIiOiIxIn0.abcdefghijklmnopqrstuv";
	char text[256];

	snprintf(text, sizeof(text), "token %s end", jwt);
	cr_assert_eq(strncmp(found(text), "jwt:", 4), 0, "%s", found(text));
	/* {"typ":"JWT"}: no alg */
	cr_assert_str_eq(found("eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0."
			       "abcdefghijklmnopqrstuv"),
			 "");
}

Test(mask, pem_block_to_its_end)
{
	const char *t = "k=-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n"
			"-----END RSA PRIVATE KEY----- after";

	cr_assert_str_eq(found(t),
			 "pem_private_key:-----BEGIN RSA PRIVATE KEY-----\n"
			 "MIIEow\n-----END RSA PRIVATE KEY-----");
	cr_assert_str_eq(found("-----BEGIN PUBLIC KEY-----\nMIIB\n"
			       "-----END PUBLIC KEY-----"),
			 "");
}

static struct mw_mask_plan plan_of(uint64_t set, enum mw_mask_style style)
{
	struct mw_mask_plan p = { .detectors = set };

	for (unsigned i = 0; i < MW_MASK_MAX_DETECTORS; i++)
		p.style[i] = (uint8_t)style;
	return p;
}

static char *masked(const struct mw_mask_plan *p, const char *text)
{
	char *out = NULL;
	size_t n;
	long k = mw_mask_text(masker, p, text, strlen(text), &out, &n, NULL);

	cr_assert_geq(k, 0);
	return out ? out : strdup(text);
}

Test(mask, styles)
{
	struct mw_mask_plan full = plan_of(all_builtins(), MW_MASK_FULL);
	struct mw_mask_plan part = plan_of(all_builtins(), MW_MASK_PARTIAL);
	struct mw_mask_plan hash = plan_of(all_builtins(), MW_MASK_HASH);
	uint8_t key[MW_MASK_KEY_BYTES] = { 1, 2, 3 };
	char *a, *b, *c, *d;

	a = masked(&full, "card 4111 1111 1111 1111, ssn 123-45-6780");
	cr_assert_str_eq(a, "card [MASKED:card], ssn [MASKED:ssn]");
	free(a);
	a = masked(&part, "card 4111 1111 1111 1111");
	cr_assert_str_eq(a, "card **** **** **** 1111");
	free(a);
	/* a short value keeps at most half of itself */
	a = masked(&part, "db postgres://ab:c1d@h/x");
	cr_assert_str_eq(a, "db postgres://**:*1d@h/x");
	free(a);
	/* no key yet: hash masks as full */
	a = masked(&hash, "4111111111111111");
	cr_assert_str_eq(a, "[MASKED:card]");
	free(a);
	mw_masker_set_key(masker, key);
	a = masked(&hash, "4111111111111111");
	b = masked(&hash, "4111-1111-1111-1111");
	c = masked(&hash, "5500 0000 0000 0004");
	d = masked(&hash, "jane@example.com");
	cr_assert_eq(strlen(a), strlen("[MASKED:card:0123456789abcdef]"), "%s",
		     a);
	cr_assert_str_eq(a, b, "separators do not change the token");
	cr_assert_str_neq(a, c);
	cr_assert_eq(strncmp(d, "[MASKED:email:", 14), 0);
	free(a);
	free(b);
	free(c);
	free(d);
}

/* Overlapping values are masked as one: none of the second stays. */
Test(mask, overlapping_values_are_masked_whole)
{
	struct mw_mask_plan part = plan_of(all_builtins(), MW_MASK_PARTIAL);
	const char *text = "call +1 4111 1111 1111 1111 now";
	char *a;

	cr_assert(strstr(found(text), "4111"), "%s", found(text));
	a = masked(&part, text);
	cr_assert_str_eq(a, "call +* **** **** **** 1111 now");
	free(a);
}

Test(mask, plan_only_what_it_names)
{
	struct mw_mask_plan p = plan_of(1ull << MW_DET_SSN, MW_MASK_FULL);
	char *a = masked(&p, "4111111111111111 123-45-6780");

	cr_assert_str_eq(a, "4111111111111111 [MASKED:ssn]");
	free(a);
}

Test(mask, json_values_numbers_and_binary)
{
	struct mw_mask_plan p = plan_of(all_builtins(), MW_MASK_FULL);
	struct mw_mask_counts counts = { 0 };
	json_error_t e;
	json_t *j = json_loads(
		"{\"content\":[{\"type\":\"text\",\"text\":\"card "
		"4111\\u00201111 1111 1111\"},{\"type\":\"image\",\"mimeType\":"
		"\"image/png\",\"data\":\"NDExMTExMTExMTExMTExMQ==\"},"
		"{\"type\":\"resource\",\"resource\":{\"uri\":\"x:y\","
		"\"blob\":\"4111 1111 1111 1111\"}}],"
		"\"structuredContent\":{\"rows\":[{\"card\":4111111111111111,"
		"\"id\":7,\"ssn\":\"123-45-6780\"}]},"
		"\"4111111111111111\":\"key kept\"}",
		0, &e);
	char *text, *counts_text;
	json_t *cj;

	cr_assert(j, "%s", e.text);
	cr_assert_eq(mw_mask_json(masker, &p, &j, &counts), 5);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert(strstr(text, "\"text\":\"card [MASKED:card]\""), "%s", text);
	cr_assert(strstr(text, "\"card\":\"[MASKED:card]\""), "%s", text);
	cr_assert(strstr(text, "\"id\":7"), "%s", text);
	cr_assert(strstr(text, "\"ssn\":\"[MASKED:ssn]\""), "%s", text);
	cr_assert(strstr(text, "NDExMTExMTExMTExMTExMQ=="), "%s", text);
	/* a blob that is not base64 is text to scan */
	cr_assert(strstr(text, "\"blob\":\"[MASKED:card]\""), "%s", text);
	/* keys are data too */
	cr_assert(strstr(text, "\"[MASKED:card]\":\"key kept\""), "%s", text);
	cj = mw_mask_counts_json(masker, &counts);
	counts_text = json_dumps(cj, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(counts_text, "{\"card\":4,\"ssn\":1}");
	free(counts_text);
	free(text);
	json_decref(cj);
	json_decref(j);

	/* base64 passes only where MCP puts it: a blob beside a uri, the
	 * data of an image or audio; a member of that name elsewhere is a
	 * value like any */
	j = json_loads("{\"a\":{\"blob\":\"4111111111111111\"},"
		       "\"b\":{\"mimeType\":\"text/plain\",\"data\":"
		       "\"4111111111111111\"},"
		       "\"c\":{\"uri\":\"x:y\",\"blob\":\"4111111111111111\"}}",
		       0, &e);
	cr_assert(j, "%s", e.text);
	cr_assert_eq(mw_mask_json(masker, &p, &j, NULL), 2);
	text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(
		text, "{\"a\":{\"blob\":\"[MASKED:card]\"},\"b\":{\"data\":"
		      "\"[MASKED:card]\",\"mimeType\":\"text/plain\"},"
		      "\"c\":{\"blob\":\"4111111111111111\",\"uri\":\"x:y\"}}");
	free(text);
	json_decref(j);
}

Test(mask, fast_path)
{
	struct mw_mask_plan p = plan_of(all_builtins(), MW_MASK_FULL);
	struct mw_mask_plan ssn = plan_of(1ull << MW_DET_SSN, MW_MASK_FULL);
	const char *plain = "{\"result\":{\"content\":[{\"type\":\"text\","
			    "\"text\":\"3 rows, updated 2024-01-15\"}]}}";
	const char *card = "{\"text\":\"4111111111111111\"}";

	cr_assert_not(
		mw_mask_candidates(masker, p.detectors, plain, strlen(plain)));
	cr_assert(mw_mask_candidates(masker, p.detectors, card, strlen(card)));
	/* a candidate of a detector the plan does not use */
	cr_assert_not(
		mw_mask_candidates(masker, ssn.detectors, card, strlen(card)));
}

/* What the slow path masks in a JSON text, the fast path must flag. */
static void assert_flagged(struct mw_masker *m, uint64_t set, const char *text)
{
	struct mw_mask_plan p = plan_of(set, MW_MASK_FULL);
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	cr_assert(j, "%s: %s", text, e.text);
	cr_assert_gt(mw_mask_json(m, &p, &j, NULL), 0, "nothing in %s", text);
	cr_assert(mw_mask_candidates(m, set, text, strlen(text)),
		  "fast path passed %s", text);
	json_decref(j);
}

static void assert_clean(struct mw_masker *m, uint64_t set, const char *text)
{
	cr_assert_not(mw_mask_candidates(m, set, text, strlen(text)),
		      "fast path flagged %s", text);
}

/*
 * A card number written as a real (Python's float prints
 * 4111111111111111.0): its digits are read as an integer's, and the value
 * replaced by a masked string, in exponent form too; reals that are not
 * integral, or past 2^53 (a double no longer holds the digits written),
 * stay as they are.
 */
Test(mask, reals_of_integral_value_are_read_as_their_digits)
{
	struct mw_mask_plan p = plan_of(all_builtins(), MW_MASK_FULL);
	const char *text =
		"{\"a\":4111111111111111.0,\"b\":4.111111111111111e15,"
		"\"c\":[4111111111111111.0,1.5],\"d\":411111111111111111.0,"
		"\"e\":-0.0}";
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);
	char *dump;

	cr_assert(j, "%s", e.text);
	cr_assert(mw_mask_candidates(masker, p.detectors, text, strlen(text)));
	cr_assert_eq(mw_mask_json(masker, &p, &j, NULL), 3);
	dump = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(dump,
			 "{\"a\":\"[MASKED:card]\",\"b\":\"[MASKED:card]\","
			 "\"c\":[\"[MASKED:card]\",1.5],"
			 "\"d\":4.111111111111111e17,\"e\":-0.0}");
	free(dump);
	json_decref(j);
	/* a bare one */
	j = json_loads("4111111111111111.0", JSON_DECODE_ANY, &e);
	cr_assert(j, "%s", e.text);
	cr_assert_eq(mw_mask_json(masker, &p, &j, NULL), 1);
	cr_assert_str_eq(json_string_value(j), "[MASKED:card]");
	json_decref(j);
	/* the fast path flags the exponent form, whose digits it cannot see */
	assert_flagged(masker, p.detectors, "[4.111111111111111E+15]");
	assert_flagged(masker, p.detectors, "{\"x\":4111111111111111.0}");
	assert_flagged(masker, p.detectors, "[4111111111111111.00]");
	assert_clean(masker, p.detectors,
		     "{\"n\":1.5,\"t\":\"seen\",\"m\":1e15,\"v\":\"1.0.2\","
		     "\"id\":\"550e8400-e29b\",\"big\":4111111111111111.5}");
}

Test(mask, fast_path_reads_escapes_as_the_parse_does)
{
	const char *secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
	uint64_t all = all_builtins();
	char text[1024];
	size_t o;

	/* an escape's letter is not part of the value after it */
	assert_flagged(masker, all, "{\"t\":\"\\bfe80::1:2:3:4\"}");
	assert_flagged(masker, all, "{\"t\":\"\\f2001:db8::1\"}");
	snprintf(
		text, sizeof(text), "{\"t\":\"\\n%s@example.com\"}",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aa");
	assert_flagged(masker, all, text);
	snprintf(text, sizeof(text), "{\"t\":\"aws secret\\t%s\"}", secret);
	assert_flagged(masker, all, text);
	/* escapes are one character: the context is near once decoded */
	o = (size_t)snprintf(text, sizeof(text), "{\"t\":\"aws ");
	for (int i = 0; i < 40; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o, "\\\"");
	snprintf(text + o, sizeof(text) - o, " %s\"}", secret);
	assert_flagged(masker, all, text);
	/* values spelled with \u and \/ */
	assert_flagged(masker, all,
		       "{\"t\":\"4111\\u00201111\\u00201111\\u00201111\"}");
	assert_flagged(masker, all,
		       "{\"u\":\"https:\\/\\/user:pw@db.example\\/x\"}");
	assert_flagged(masker, all,
		       "{\"t\":\"\\ud83d\\ude00 jane@example.com\"}");
	/* escapes that spell nothing no longer send a message to the slow
	 * path */
	assert_clean(masker, all,
		     "{\"t\":\"caf\\u00e9 \\ud83d\\ude00 \\\"ok\\\"\\n\"}");
	assert_clean(masker, 1ull << MW_DET_SSN, "{\"t\":\"a\\/b\"}");
	/* a malformed escape: the slow path decides */
	cr_assert(mw_mask_candidates(masker, all, "{\"t\":\"\\x\"}", 10));
}

Test(mask, fast_path_runs_custom_patterns_per_string)
{
	struct mw_mask_custom cust[] = {
		{ .name = "employee", .pattern = "^EMP-[0-9]{6}$" },
		{ .name = "order", .pattern = "^9[0-9]{5}$" },
	};
	uint64_t emp = 1ull << MW_DET_N_BUILTIN, ord = emp << 1;
	struct mw_masker *m;
	char err[256];

	cr_assert_eq(mw_masker_new(&m, cust, 2, NULL, 0, err, sizeof(err)), 0,
		     "%s", err);
	assert_flagged(m, emp, "{\"a\":\"x\",\"id\":\"EMP-123456\"}");
	assert_flagged(m, emp, "[\"EMP-\\u0031\\u0032\\u0033456\"]");
	assert_flagged(m, ord, "{\"order\":912345}");
	/* a real of integral value is read as its integer */
	assert_flagged(m, ord, "{\"order\":912345.0}");
	assert_flagged(m, ord, "[9.12345e5]");
	assert_clean(m, emp, "{\"id\":\"see EMP-123456\"}");
	assert_clean(m, ord, "{\"order\":912345.5,\"n\":\"-912345\"}");
	mw_masker_free(m);
}

/* text masked for the client by one custom detector c (pattern, Luhn). */
static void luhn_masks(const char *pattern, const char *text, const char *want)
{
	struct mw_mask_custom cust = { .name = "c",
				       .validator = MW_MASK_VALIDATE_LUHN };
	struct mw_mask_rule rule = { .name = "r",
				     .apply = MW_MASK_TO_CLIENT,
				     .style = MW_MASK_FULL,
				     .detectors = 1ull << MW_DET_N_BUILTIN };
	struct mw_masker *m;
	struct mw_mask_plan p;
	char err[256], *out;
	size_t n;

	snprintf(cust.pattern, sizeof(cust.pattern), "%s", pattern);
	cr_assert_eq(mw_masker_new(&m, &cust, 1, &rule, 1, err, sizeof(err)), 0,
		     "%s", err);
	mw_masker_plan(m, "billing", NULL, MW_MASK_TO_CLIENT, &p);
	cr_assert_eq(mw_mask_text(m, &p, text, strlen(text), &out, &n, NULL), 1,
		     "%s", text);
	cr_assert_str_eq(out, want);
	free(out);
	mw_masker_free(m);
}

Test(mask, custom_detectors_and_rules)
{
	struct mw_mask_custom cust = { .name = "employee",
				       .pattern = "EMP-[0-9]{6}",
				       .validator = MW_MASK_VALIDATE_LUHN };
	struct mw_mask_rule rule = { .name = "r",
				     .apply = MW_MASK_TO_CLIENT,
				     .style = MW_MASK_FULL };
	struct mw_masker *m;
	struct mw_mask_plan p;
	char err[256], *out;
	size_t n;
	int det;

	rule.detectors = 1ull << MW_DET_N_BUILTIN;
	cr_assert_eq(mw_masker_new(&m, &cust, 1, &rule, 1, err, sizeof(err)), 0,
		     "%s", err);
	det = mw_masker_detector(m, "employee");
	cr_assert_eq(det, MW_DET_N_BUILTIN);
	cr_assert(mw_masker_plan(m, "billing", NULL, MW_MASK_TO_CLIENT, &p));
	cr_assert_not(mw_masker_plan(m, "billing", NULL, MW_MASK_IN_AUDIT, &p));
	mw_masker_plan(m, "billing", NULL, MW_MASK_TO_CLIENT, &p);
	/* 000018 passes Luhn, 000019 does not */
	cr_assert_eq(mw_mask_text(m, &p, "EMP-000018 EMP-000019", 21, &out, &n,
				  NULL),
		     1);
	cr_assert_str_eq(out, "[MASKED:employee] EMP-000019");
	free(out);
	mw_masker_free(m);

	/* a valid value inside a match its validator refuses is found, and
	 * a shorter one than it at its start */
	luhn_masks("\\b[0-9][0-9 ]{10,21}[0-9]\\b", "ids 17 6759649826438453",
		   "ids 17 [MASKED:c]");
	luhn_masks("\\b[0-9][0-9 ]{10,21}[0-9]\\b", "6759649826438453 17",
		   "[MASKED:c] 17");
	luhn_masks("\\b[0-9][0-9 ]{10,21}[0-9]\\b", "6759 6498 2643 8453 12",
		   "[MASKED:c] 12");
	/* the normal matcher's match need not be the longest */
	luhn_masks("(?:\\d{15}|\\d{16})", "6759649826438453", "[MASKED:c]");
	cust = (struct mw_mask_custom){ .name = "bad", .pattern = "(" };
	cr_assert_neq(mw_masker_new(&m, &cust, 1, NULL, 0, err, sizeof(err)),
		      0);
	cr_assert(strstr(err, "bad"), "%s", err);
}

/*
 * An open-ended pattern refused on a long run (every suffix of
 * "000...0001" fails Luhn) was searched again from each of the run's
 * bytes, 4,096 times, each a scan of the run's rest: minutes on the event
 * loop for one 16 MiB string. Bounded by bytes searched again too.
 */
Test(mask, refused_matches_are_searched_again_within_a_bound, .timeout = 10)
{
	struct mw_mask_custom cust = { .name = "c",
				       .pattern = "[0-9]+",
				       .validator = MW_MASK_VALIDATE_LUHN };
	struct mw_mask_rule rule = { .name = "r",
				     .apply = MW_MASK_TO_CLIENT,
				     .style = MW_MASK_FULL,
				     .detectors = 1ull << MW_DET_N_BUILTIN };
	size_t len = 16u << 20;
	char *text = malloc(len + 1), *out, err[256];
	struct mw_masker *m;
	struct mw_mask_plan p;
	size_t n;

	cr_assert_not_null(text);
	memset(text, '0', len);
	text[len - 1] = '1';
	text[len] = '\0';
	cr_assert_eq(mw_masker_new(&m, &cust, 1, &rule, 1, err, sizeof(err)), 0,
		     "%s", err);
	mw_masker_plan(m, "billing", NULL, MW_MASK_TO_CLIENT, &p);
	cr_assert_eq(mw_mask_text(m, &p, text, len, &out, &n, NULL), 0);
	/* the bound is the message's, not each string's: the same digits
	 * in 1,024 strings of 16 KiB */
	{
		json_t *arr = json_array(), *j;

		cr_assert_not_null(arr);
		for (size_t i = 0; i < 1024; i++) {
			size_t sl = 16u << 10;

			memset(text, '0', sl);
			text[sl - 1] = '1';
			cr_assert_eq(json_array_append_new(
					     arr, json_stringn(text, sl)),
				     0);
		}
		j = arr;
		cr_assert_eq(mw_mask_json(m, &p, &j, NULL), 0);
		json_decref(j);
	}
	mw_masker_free(m);
	free(text);
	/* and a valid value in a shorter run is still found */
	luhn_masks("[0-9]+", "id 0006759649826438453", "id [MASKED:c]");
}

/*
 * The fast path must never be stricter than the slow one: once the budget
 * of refused matches is spent, it cannot say "nothing here" for what the
 * slow path, scanning keys before values, still searches.
 */
Test(mask, the_fast_path_is_no_stricter_past_the_budget, .timeout = 30)
{
	struct mw_mask_custom cust = { .name = "c",
				       .pattern = "[0-9][0-9 ]*[0-9]",
				       .validator = MW_MASK_VALIDATE_LUHN };
	struct mw_mask_rule rule = { .name = "r",
				     .apply = MW_MASK_TO_CLIENT,
				     .style = MW_MASK_FULL,
				     .detectors = 1ull << MW_DET_N_BUILTIN };
	size_t run = 20000, len = run + 64;
	char *text = malloc(len), err[256];
	struct mw_masker *m;
	struct mw_mask_plan p;
	json_error_t jerr;
	json_t *j;
	int at;

	cr_assert_not_null(text);
	at = snprintf(text, len, "{\"a\":\"");
	memset(text + at, '1', run);
	at += (int)run;
	at += snprintf(text + at, len - (size_t)at,
		       "\",\"17 6759 6498 2643 8453\":1}");
	cr_assert_eq(mw_masker_new(&m, &cust, 1, &rule, 1, err, sizeof(err)), 0,
		     "%s", err);
	mw_masker_plan(m, "billing", NULL, MW_MASK_TO_CLIENT, &p);
	j = json_loadb(text, (size_t)at, 0, &jerr);
	cr_assert_not_null(j, "%s", jerr.text);
	cr_assert_gt(mw_mask_json(m, &p, &j, NULL), 0, "the key's card");
	cr_assert(mw_mask_candidates(m, p.detectors, text, (size_t)at),
		  "the slow path masked what the fast path let by");
	json_decref(j);
	mw_masker_free(m);
	free(text);
}

/* ---- the labelled corpus (tests/masking/corpus.txt) ---------------------- */

#define CORPUS_LINE_MAX 8192
#define CORPUS_MAX_SPANS 64

struct corpus_case {
	char text[CORPUS_LINE_MAX];
	size_t len;
	struct mw_mask_span want[CORPUS_MAX_SPANS];
	size_t nwant;
};

static int builtin_named(const char *name, size_t n)
{
	for (unsigned i = 0; i < MW_DET_N_BUILTIN; i++)
		if (strlen(mw_mask_builtin_name(i)) == n &&
		    !strncmp(mw_mask_builtin_name(i), name, n))
			return (int)i;
	return -1;
}

/* One line: escapes undone, [[detector:value]] markers turned into spans. */
static void corpus_parse(const char *line, int lineno, struct corpus_case *c)
{
	const char *p = line;

	c->len = 0;
	c->nwant = 0;
	while (*p && *p != '\n') {
		if (p[0] == '[' && p[1] == '[') {
			const char *colon = strchr(p + 2, ':');
			int det = colon ? builtin_named(p + 2,
							(size_t)(colon - p - 2))
					: -1;

			cr_assert_geq(det, 0, "line %d: bad marker", lineno);
			cr_assert_lt(c->nwant, CORPUS_MAX_SPANS);
			c->want[c->nwant].detector = (unsigned)det;
			c->want[c->nwant].start = c->len;
			p = colon + 1;
			while (*p && !(p[0] == ']' && p[1] == ']')) {
				char ch = *p++;

				if (ch == '\\' && *p) {
					ch = *p == 'n'	 ? '\n'
					     : *p == 't' ? '\t'
							 : *p;
					p++;
				}
				cr_assert_lt(c->len, CORPUS_LINE_MAX - 1);
				c->text[c->len++] = ch;
			}
			cr_assert(*p, "line %d: unclosed marker", lineno);
			p += 2;
			c->want[c->nwant++].end = c->len;
			continue;
		}
		if (*p == '\\' && p[1]) {
			c->text[c->len++] = p[1] == 'n'	  ? '\n'
					    : p[1] == 't' ? '\t'
							  : p[1];
			p += 2;
		} else {
			c->text[c->len++] = *p++;
		}
		cr_assert_lt(c->len, CORPUS_LINE_MAX - 1);
	}
	c->text[c->len] = '\0';
}

static bool same_span(const struct mw_mask_span *a,
		      const struct mw_mask_span *b)
{
	return a->start == b->start && a->end == b->end &&
	       a->detector == b->detector;
}

struct corpus_totals {
	unsigned tp[MW_DET_N_BUILTIN], fp[MW_DET_N_BUILTIN],
		fn[MW_DET_N_BUILTIN];
	unsigned ttp, tfp, tfn, cases, negatives;
};

static void corpus_run(const char *path, struct corpus_totals *t)
{
	FILE *f = fopen(path, "re");
	static struct corpus_case c;
	static char line[3 * CORPUS_LINE_MAX];
	struct mw_mask_span got[CORPUS_MAX_SPANS];
	int lineno = 0;

	cr_assert_not_null(f, "%s: run from the repository's root", path);
	while (fgets(line, sizeof(line), f)) {
		long n;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		corpus_parse(line, lineno, &c);
		t->cases++;
		t->negatives += c.nwant == 0;
		n = mw_mask_find(masker, all_builtins(), c.text, c.len, got,
				 CORPUS_MAX_SPANS);
		cr_assert_geq(n, 0);
		cr_assert_leq(n, CORPUS_MAX_SPANS);
		for (long i = 0; i < n; i++) {
			bool hit = false;

			for (size_t k = 0; k < c.nwant && !hit; k++)
				hit = same_span(&got[i], &c.want[k]);
			if (hit) {
				t->tp[got[i].detector]++;
				t->ttp++;
				continue;
			}
			t->fp[got[i].detector]++;
			t->tfp++;
			cr_log_warn("%s:%d: false positive %s: \"%.*s\"", path,
				    lineno,
				    mw_mask_builtin_name(got[i].detector),
				    (int)(got[i].end - got[i].start),
				    c.text + got[i].start);
		}
		for (size_t k = 0; k < c.nwant; k++) {
			bool hit = false;

			for (long i = 0; i < n && !hit; i++)
				hit = same_span(&got[i], &c.want[k]);
			if (hit)
				continue;
			t->fn[c.want[k].detector]++;
			t->tfn++;
			cr_log_warn("%s:%d: missed %s: \"%.*s\"", path, lineno,
				    mw_mask_builtin_name(c.want[k].detector),
				    (int)(c.want[k].end - c.want[k].start),
				    c.text + c.want[k].start);
		}
	}
	fclose(f);
}

/*
 * Two corpora, each labelled by construction: corpus.txt (make_corpus.mjs)
 * and corpus-reference.txt (gen_corpus.mjs, whose own reference scanner
 * checks every label before writing). MW_MASK_CORPUS: one file instead.
 */
Test(mask, corpus_recall_and_precision, .timeout = 60)
{
	static const char *const files[] = {
		"tests/masking/corpus.txt",
		"tests/masking/corpus-reference.txt",
	};
	const char *one = getenv("MW_MASK_CORPUS");
	size_t nfiles = one ? 1 : sizeof(files) / sizeof(*files);
	double recall, precision;

	for (size_t i = 0; i < nfiles; i++) {
		const char *path = one ? one : files[i];
		struct corpus_totals t = { 0 };

		corpus_run(path, &t);
		for (unsigned d = 0; d < MW_DET_N_BUILTIN; d++)
			cr_log_info("%s: %-16s tp %4u fp %3u fn %3u", path,
				    mw_mask_builtin_name(d), t.tp[d], t.fp[d],
				    t.fn[d]);
		cr_assert_gt(t.cases, 200, "only %u cases in %s", t.cases,
			     path);
		cr_assert_gt(t.negatives, t.cases / 4, "%s: too few negatives",
			     path);
		for (unsigned d = 0; d < MW_DET_N_BUILTIN; d++)
			cr_assert_gt(t.tp[d] + t.fn[d], 0, "%s: no %s", path,
				     mw_mask_builtin_name(d));
		recall = t.ttp + t.tfn ? (double)t.ttp / (t.ttp + t.tfn) : 0;
		precision = t.ttp + t.tfp ? (double)t.ttp / (t.ttp + t.tfp) : 0;
		cr_log_info("%s: %u cases (%u negative), %u values: recall "
			    "%.4f, precision %.4f",
			    path, t.cases, t.negatives, t.ttp + t.tfn, recall,
			    precision);
		cr_assert_eq(t.tfn, 0, "%s: recall %.4f: %u values missed",
			     path, recall, t.tfn);
		cr_assert_geq(precision, 0.99,
			      "%s: precision %.4f: %u false positives", path,
			      precision, t.tfp);
	}
}

/*
 * Hostile text: prefixes repeated over 4 MiB. Each must cost one read of
 * the text, not one per occurrence (which would take hours here, so the
 * timeout only catches a return to quadratic scanning).
 */
Test(mask, repeated_prefixes_scan_in_linear_time, .timeout = 60)
{
	static const char *const units[] = {
		"eyJ",
		"glpat-",
		"xoxb-",
		"github_pat_",
		"ghp_",
		"bearer ",
		"-----BEGIN PRIVATE KEY-----",
		"a@",
		"1:",
		"a://b:",
		"AKIA",
		"1 ",
		"aws ",
		"(1",
		"+1-",
	};
	size_t len = 4u << 20;
	char *text = malloc(len);
	struct mw_mask_span sp[4];

	cr_assert_not_null(text);
	for (size_t u = 0; u < sizeof(units) / sizeof(*units); u++) {
		size_t ul = strlen(units[u]);

		for (size_t i = 0; i < len; i++)
			text[i] = units[u][i % ul];
		cr_assert_geq(
			mw_mask_find(masker, all_builtins(), text, len, sp, 4),
			0, "%s", units[u]);
	}
	free(text);
}

/*
 * The fast path's look for reals takes each byte once: runs of a number's
 * bytes ("1.1.1...", dots) inside a string of a body's size (the first
 * version walked each run back from every dot: hours for 8 MiB).
 */
Test(mask, number_runs_scan_in_linear_time, .timeout = 60)
{
	static const char *const units[] = { "1.", ".", "1e", "-1.0e1 ",
					     "4111111111111111.0 " };
	size_t len = 8u << 20;
	char *text = malloc(len + 64);

	cr_assert_not_null(text);
	for (size_t u = 0; u < sizeof(units) / sizeof(*units); u++) {
		size_t ul = strlen(units[u]), at;

		at = (size_t)snprintf(text, 64, "{\"s\":\"");
		for (size_t i = 0; at < len; i++)
			text[at++] = units[u][i % ul];
		memcpy(text + at, "\"}", 2);
		(void)mw_mask_candidates(masker, all_builtins(), text, at + 2);
	}
	free(text);
}

/* The trail may take the client's masked copy only when that masked all
 * the trail asks, the way the trail asks it. */
Test(mask, plan_covers_needs_same_detectors_styles_and_binary)
{
	struct mw_mask_plan client = { .detectors = 0x3 }, trail = { 0 };

	client.style[0] = MW_MASK_PARTIAL;
	client.style[1] = MW_MASK_FULL;
	cr_assert(mw_mask_plan_covers(&client, &trail), "nothing to do");
	trail.detectors = 0x2;
	trail.style[1] = MW_MASK_FULL;
	cr_assert(mw_mask_plan_covers(&client, &trail));
	trail.detectors = 0x1;
	trail.style[0] = MW_MASK_HASH;
	cr_assert(!mw_mask_plan_covers(&client, &trail), "another style");
	trail.style[0] = MW_MASK_PARTIAL;
	cr_assert(mw_mask_plan_covers(&client, &trail));
	trail.binary = true;
	cr_assert(!mw_mask_plan_covers(&client, &trail), "blobs too");
	client.binary = true;
	cr_assert(mw_mask_plan_covers(&client, &trail));
	trail.detectors = 0x4;
	cr_assert(!mw_mask_plan_covers(&client, &trail), "a detector more");
}

/* An error message quoting JSON: what the escapes spell is what masking
 * reads; a broken escape stays, a control character shows as '?'. */
Test(mask, lenient_unescape_for_quoted_json)
{
	const char *in = "near '\\\"219\\u002d45\\u002d6781\\n\\q\\u12'";
	char out[64];
	size_t n = mw_json_unescape_lenient(out, in, strlen(in));

	out[n] = '\0';
	cr_assert_str_eq(out, "near '\"219-45-6781?\\q\\u12'");
	/* a lone surrogate is a character to JSON.parse: its hex digits do
	 * not run into the card after it */
	in = "\\uDC004111 1111 1111 1111 \\uD800\\u0034";
	n = mw_json_unescape_lenient(out, in, strlen(in));
	out[n] = '\0';
	cr_assert_str_eq(out, "?4111 1111 1111 1111 ?4");
}

/*
 * A token of a whole string (a session id): no detector normalises it,
 * so ids that differ in a separator or a case stay apart; the label
 * keeps contexts apart; without a key there is none.
 */
Test(mask, a_token_is_of_the_whole_string_as_it_came)
{
	char t1[2 * MW_MASK_TOKEN_BYTES + 1], t2[sizeof(t1)], t3[sizeof(t1)];
	uint8_t key[MW_MASK_KEY_BYTES];

	cr_assert_eq(mw_masker_token(masker, "session", "a", 1, t1), -1,
		     "no key, no token");
	memset(key, 7, sizeof(key));
	mw_masker_set_key(masker, key);
	cr_assert_eq(mw_masker_token(masker, "session", "s-4111111111111111",
				     18, t1),
		     0);
	cr_assert_eq(strlen(t1), 2 * MW_MASK_TOKEN_BYTES);
	cr_assert_eq(mw_masker_token(masker, "session", "s-4111-1111-1111-1111",
				     21, t2),
		     0);
	cr_assert_str_neq(t1, t2, "a separator makes another id");
	cr_assert_eq(mw_masker_token(masker, "session", "s-4111111111111111",
				     18, t3),
		     0);
	cr_assert_str_eq(t1, t3, "the same id, the same token");
	cr_assert_eq(
		mw_masker_token(masker, "other", "s-4111111111111111", 18, t3),
		0);
	cr_assert_str_neq(t1, t3, "another context, another token");
}
