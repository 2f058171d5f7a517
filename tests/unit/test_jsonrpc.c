// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonrpc.h"

#define RPC_MAX_LEN 65536
#define RPC_LIT(s) (s), (sizeof(s) - 1)

static char rpc_err[256];

static int rpc_parse_str(const char *text, struct mw_rpc_batch *b)
{
	return mw_rpc_parse(text, strlen(text), RPC_MAX_LEN, b, rpc_err,
			    sizeof(rpc_err));
}

static void rpc_parse_ok(const char *text, struct mw_rpc_batch *b)
{
	int ret = rpc_parse_str(text, b);

	cr_assert_eq(ret, 0, "%s: %d %s", text, ret, rpc_err);
	cr_assert_not_null(b->msgs);
	cr_assert_gt(b->n, 0);
}

/* Every refusal leaves nothing behind and says why. */
static void rpc_reject_len(const char *text, size_t len, int want)
{
	struct mw_rpc_batch b;
	int ret;

	memset(&b, 0xa5, sizeof(b));
	rpc_err[0] = '\0';
	ret = mw_rpc_parse(text, len, RPC_MAX_LEN, &b, rpc_err,
			   sizeof(rpc_err));
	cr_assert_eq(ret, want, "%.*s: got %d (%s), want %d", (int)len, text,
		     ret, rpc_err, want);
	cr_assert_null(b.msgs);
	cr_assert_eq(b.n, 0);
	cr_assert_neq(rpc_err[0], '\0', "%.*s: no reason", (int)len, text);
	mw_rpc_batch_free(&b);
}

static void rpc_reject(const char *text, int want)
{
	rpc_reject_len(text, strlen(text), want);
}

Test(jsonrpc, initialize_request)
{
	struct mw_rpc_batch b;
	const struct mw_rpc_msg *m;

	rpc_parse_ok(
		"{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\","
		"\"params\":{\"protocolVersion\":\"2025-06-18\","
		"\"capabilities\":{\"roots\":{\"listChanged\":true}},"
		"\"clientInfo\":{\"name\":\"claude\",\"version\":\"1.0\"}}}",
		&b);
	cr_assert_eq(b.n, 1);
	cr_assert_not(b.is_batch);
	m = &b.msgs[0];
	cr_assert_eq(m->kind, MW_RPC_REQUEST);
	cr_assert_str_eq(m->id, "0");
	cr_assert_str_eq(m->method, "initialize");
	cr_assert_null(m->tool);
	cr_assert_null(m->arguments);
	cr_assert(json_is_object(m->params));
	cr_assert_str_eq(json_string_value(
				 json_object_get(m->params, "protocolVersion")),
			 "2025-06-18");
	cr_assert_null(m->result);
	cr_assert_null(m->error);
	cr_assert(json_is_object(m->json));
	mw_rpc_batch_free(&b);
	cr_assert_null(b.msgs);
	cr_assert_eq(b.n, 0);
}

Test(jsonrpc, tools_call_with_arguments)
{
	struct mw_rpc_batch b;
	const struct mw_rpc_msg *m;

	rpc_parse_ok(
		" \r\n\t{\"jsonrpc\":\"2.0\",\"id\":\"call-7\","
		"\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"refund_payment\",\"arguments\":{\"payment_id\":\"pi_1\","
		"\"amount\":1200,\"reason\":\"duplicate\"},"
		"\"_meta\":{\"progressToken\":7}}}\n",
		&b);
	m = &b.msgs[0];
	cr_assert_eq(m->kind, MW_RPC_REQUEST);
	cr_assert_str_eq(m->id, "\"call-7\"");
	cr_assert_str_eq(m->method, "tools/call");
	cr_assert_str_eq(m->tool, "refund_payment");
	cr_assert(json_is_object(m->arguments));
	cr_assert_eq(
		json_integer_value(json_object_get(m->arguments, "amount")),
		1200);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, tools_call_without_arguments)
{
	struct mw_rpc_batch b;

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		     "\"params\":{\"name\":\"list_refunds\"}}",
		     &b);
	cr_assert_str_eq(b.msgs[0].tool, "list_refunds");
	cr_assert_null(b.msgs[0].arguments);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, notifications)
{
	struct mw_rpc_batch b;

	rpc_parse_ok(
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"abc\",\"progress\":50,"
		"\"total\":100,\"message\":\"half\"}}",
		&b);
	cr_assert_eq(b.msgs[0].kind, MW_RPC_NOTIFICATION);
	cr_assert_null(b.msgs[0].id);
	cr_assert_str_eq(b.msgs[0].method, "notifications/progress");
	mw_rpc_batch_free(&b);

	rpc_parse_ok("{\"jsonrpc\":\"2.0\","
		     "\"method\":\"notifications/initialized\"}",
		     &b);
	cr_assert_eq(b.msgs[0].kind, MW_RPC_NOTIFICATION);
	cr_assert_null(b.msgs[0].params);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, params_may_be_an_array)
{
	struct mw_rpc_batch b;

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"sum\","
		     "\"params\":[1,2]}",
		     &b);
	cr_assert(json_is_array(b.msgs[0].params));
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, result_response)
{
	struct mw_rpc_batch b;
	const struct mw_rpc_msg *m;

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":"
		     "[{\"type\":\"text\",\"text\":\"refunded\"}],"
		     "\"isError\":false}}",
		     &b);
	m = &b.msgs[0];
	cr_assert_eq(m->kind, MW_RPC_RESULT);
	cr_assert_str_eq(m->id, "2");
	cr_assert_null(m->method);
	cr_assert_null(m->tool);
	cr_assert(json_is_object(m->result));
	cr_assert_null(m->error);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, error_response)
{
	struct mw_rpc_batch b;
	const struct mw_rpc_msg *m;

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"error\":{\"code\":"
		     "-32601,\"message\":\"Method not found\",\"data\":[1]}}",
		     &b);
	m = &b.msgs[0];
	cr_assert_eq(m->kind, MW_RPC_ERROR);
	cr_assert_str_eq(m->id, "\"r1\"");
	cr_assert_null(m->result);
	cr_assert_eq(json_integer_value(json_object_get(m->error, "code")),
		     -32601);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, batch_of_mixed_messages)
{
	struct mw_rpc_batch b;

	rpc_parse_ok(
		"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"},"
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
		"cancelled\",\"params\":{\"requestId\":0}},"
		"{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}},"
		"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"tools/call\","
		"\"params\":{\"name\":\"t\",\"arguments\":{}}}]",
		&b);
	cr_assert(b.is_batch);
	cr_assert_eq(b.n, 4);
	cr_assert_eq(b.msgs[0].kind, MW_RPC_REQUEST);
	cr_assert_eq(b.msgs[1].kind, MW_RPC_NOTIFICATION);
	cr_assert_eq(b.msgs[2].kind, MW_RPC_RESULT);
	cr_assert_eq(b.msgs[3].kind, MW_RPC_REQUEST);
	cr_assert_str_eq(b.msgs[3].tool, "t");
	/* Each message holds its own reference: valid after the array. */
	cr_assert_eq(b.msgs[2].json->refcount, 1);
	mw_rpc_batch_free(&b);

	rpc_parse_ok("[{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":3}]",
		     &b);
	cr_assert(b.is_batch, "a one-element array is still a batch");
	cr_assert_eq(b.n, 1);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, size_bound_checked_before_parsing)
{
	static const char ok[] = "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}";
	struct mw_rpc_batch b;

	cr_assert_eq(mw_rpc_parse(RPC_LIT(ok), sizeof(ok) - 1, &b, NULL, 0), 0);
	mw_rpc_batch_free(&b);
	cr_assert_eq(mw_rpc_parse(RPC_LIT(ok), sizeof(ok) - 2, &b, rpc_err,
				  sizeof(rpc_err)),
		     -EMSGSIZE);
	cr_assert_null(b.msgs);
	/* Garbage too large is refused as too large, not as garbage. */
	cr_assert_eq(mw_rpc_parse(RPC_LIT("xxxxxxxxxx"), 4, &b, rpc_err,
				  sizeof(rpc_err)),
		     -EMSGSIZE);
}

Test(jsonrpc, rejects_malformed_json)
{
	rpc_reject("", -EBADMSG);
	rpc_reject("   ", -EBADMSG);
	rpc_reject("{", -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"ping\",}", -EBADMSG);
	rpc_reject("{'jsonrpc':'2.0'}", -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"x\ny\"}", -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"\xff\"}", -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"\\ud800\"}", -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1e400,\"method\":\"x\"}",
		   -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":99999999999999999999,"
		   "\"method\":\"x\"}",
		   -EBADMSG);
}

Test(jsonrpc, rejects_trailing_bytes)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"ping\"} x", -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}"
		   "{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}",
		   -EBADMSG);
	rpc_reject_len(RPC_LIT("{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\0"),
		       -EBADMSG);
	rpc_reject_len(RPC_LIT("{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\0{}"),
		       -EBADMSG);
}

Test(jsonrpc, rejects_top_level_scalars)
{
	rpc_reject("1", -EBADMSG);
	rpc_reject("\"x\"", -EBADMSG);
	rpc_reject("null", -EBADMSG);
	rpc_reject("true", -EBADMSG);
}

Test(jsonrpc, rejects_duplicate_keys)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"safe\",\"name\":\"rm_rf\"}}",
		   -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"method\":\"b\"}",
		   -EBADMSG);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"\\u006dethod\":"
		   "\"b\"}",
		   -EBADMSG);
	rpc_reject(
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		"\"params\":{\"name\":\"t\",\"arguments\":{\"path\":\"/tmp\","
		"\"path\":\"/etc\"}}}",
		-EBADMSG);
}

/* Go's encoding/json matches member names to fields without case. */
Test(jsonrpc, rejects_keys_that_differ_only_in_case)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"allowed\",\"Name\":\"forbidden\"}}",
		   -EPROTO);
	cr_assert(strstr(rpc_err, "\"Name\"") && strstr(rpc_err, "\"name\"") &&
			  strstr(rpc_err, "differ only in case"),
		  "%s", rpc_err);
	rpc_reject(
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		"\"params\":{\"name\":\"t\",\"arguments\":{\"PATH\":\"/ok\"},"
		"\"ARGUMENTS\":{\"path\":\"/etc/shadow\"}}}",
		-EPROTO);
	/* U+017F (long s) folds to s, U+212A (Kelvin sign) to k */
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":{\"path\":1,"
		   "\"\u017fafe\":2,\"safe\":3}}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"a\":1,\"b\":2,"
		   "\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,"
		   "\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,"
		   "\"p\":16,\"q\":17,\"\u212a\":18}}",
		   -EPROTO);
	cr_assert(strstr(rpc_err, "two members of an object differ only"), "%s",
		  rpc_err);
}

/*
 * A long name costs its length once, not at every comparison of the sort
 * that finds names differing only in case: a 1 MiB name among 20,000
 * short ones took 0.2 s, and 44 s at the 8 MiB body bound.
 */
Test(jsonrpc, a_long_name_is_read_once)
{
	enum { SHORT = 20000, LONG = 1 << 20 };
	size_t cap = LONG + SHORT * 16 + 256, len = 0;
	char *text = malloc(cap);
	struct mw_rpc_batch b;

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap,
				"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"");
	memset(text + len, 'z', LONG);
	len += LONG;
	len += (size_t)snprintf(text + len, cap - len, "\":0");
	for (int i = 0; i < SHORT; i++)
		len += (size_t)snprintf(text + len, cap - len, ",\"k%06d\":0",
					i);
	len += (size_t)snprintf(text + len, cap - len, ",\"K000007\":0}}");
	cr_assert_eq(mw_rpc_parse(text, len, cap, &b, rpc_err, sizeof(rpc_err)),
		     -EPROTO);
	cr_assert(strstr(rpc_err, "\"k000007\" and \"K000007\""), "%s",
		  rpc_err);
	free(text);
}

/*
 * Names folded past ASCII (a locale lookup a character) are folded once,
 * not at every comparison of the sort: 1,000 names sharing 1,000 accented
 * letters took 0.26 s (0.08 now), and 8 MiB of such names 5 to 11 s. Two
 * of them that differ only in the case of an accented letter still
 * collide.
 */
Test(jsonrpc, accented_names_are_folded_once)
{
	enum { NAMES = 1000, PREFIX = 1000 };
	size_t cap = (size_t)NAMES * (2 * PREFIX + 16) + 4 * PREFIX + 256,
	       len = 0;
	char *text = malloc(cap);
	struct mw_rpc_batch b;

	cr_assert_not_null(text);
	len += (size_t)snprintf(text, cap,
				"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{");
	for (int i = 0; i <= NAMES; i++) {
		text[len++] = i ? ',' : '"';
		if (i)
			text[len++] = '"';
		for (int k = 0; k < PREFIX; k++) {
			/* the last name: the first's with an upper-case E */
			text[len++] = '\xc3';
			text[len++] = i == NAMES && k == 0 ? '\x89' : '\xa9';
		}
		len += (size_t)snprintf(text + len, cap - len, "%05d\":0",
					i == NAMES ? 0 : i);
	}
	len += (size_t)snprintf(text + len, cap - len, "}}");
	cr_assert_eq(mw_rpc_parse(text, len, cap, &b, rpc_err, sizeof(rpc_err)),
		     -EPROTO);
	cr_assert(strstr(rpc_err, "differ only in case"), "%s", rpc_err);
	free(text);
}

/* Go 1.21 also folds U+0130 and U+0131 (dotted and dotless i) to i. */
Test(jsonrpc, rejects_keys_that_differ_in_a_dotted_or_dotless_i)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":{\"uri\":1,"
		   "\"ur\u0131\":2}}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":{\"URI\":1,"
		   "\"ur\u0130\":2}}}",
		   -EPROTO);
}

/* Go folds every letter, not ASCII alone: ToUpper(ToLower(r)). */
Test(jsonrpc, rejects_keys_that_differ_in_the_case_of_other_letters)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":{"
		   "\"caf\u00e9\":\"ok\",\"CAF\u00c9\":\"bad\"}}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":{"
		   "\"\u03c2\":1,\"\u03a3\":2}}}",
		   -EPROTO);
}

/*
 * One member spelled like "arguments" in another case, with no
 * "arguments": a Go server (mcp-go) binds it as the arguments, where the
 * rules would find none.
 */
Test(jsonrpc, rejects_arguments_spelled_in_another_case)
{
	static const char *const spellings[] = { "Arguments", "ARGUMENTS",
						 "argument\u017f",
						 "argument\\u017f" };
	char text[256];

	for (size_t i = 0; i < sizeof(spellings) / sizeof(*spellings); i++) {
		snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
			 "\"tools/call\",\"params\":{\"name\":\"write_file\","
			 "\"%s\":{\"path\":\"/etc/x\"}}}",
			 spellings[i]);
		rpc_reject(text, -EPROTO);
		cr_assert(strstr(rpc_err, "params.arguments"), "%s: %s",
			  spellings[i], rpc_err);
	}
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\","
		   "\"params\":{\"name\":\"p\",\"Arguments\":{\"a\":\"b\"}}}",
		   -EPROTO);
	cr_assert(strstr(rpc_err, "prompts/get params.Arguments"), "%s",
		  rpc_err);
}

/* Names that differ by more than case are fine. */
Test(jsonrpc, keys_that_differ_by_more_than_case_are_accepted)
{
	struct mw_rpc_batch b;

	cr_assert_eq(rpc_parse_str("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{"
				   "\"ab\":1,\"a\":2,\"abc\":3,"
				   "\"s\u017f\":4,\"sk\":5}}",
				   &b),
		     0, "%s", rpc_err);
	mw_rpc_batch_free(&b);
}

Test(jsonrpc, rejects_nul)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"tools/call\\u0000x\"}",
		   -EBADMSG);
	rpc_reject_len(RPC_LIT("{\"jsonrpc\":\"2.0\",\"method\":\"a\0b\"}"),
		       -EBADMSG);
}

Test(jsonrpc, rejects_bad_version)
{
	rpc_reject("{\"id\":1,\"method\":\"ping\"}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0 \",\"id\":1,\"method\":\"ping\"}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2\",\"id\":1,\"method\":\"ping\"}", -EPROTO);
	rpc_reject("{\"jsonrpc\":null,\"id\":1,\"method\":\"ping\"}", -EPROTO);
}

Test(jsonrpc, rejects_bad_ids)
{
	static const char *const ids[] = {
		"1.5",
		"1.0",
		"1e3",
		"true",
		"false",
		"{}",
		"[]",
		"[1]",
		"9007199254740993",
		"-9007199254740993",
	};
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(*ids); i++) {
		snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"method\":\"ping\"}",
			 ids[i]);
		rpc_reject(text, -EPROTO);
		snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{}}",
			 ids[i]);
		rpc_reject(text, -EPROTO);
	}
}

Test(jsonrpc, null_id_only_on_error_responses)
{
	static const char ok[] =
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
		"{\"code\":-32700,\"message\":\"Parse error\"}}";
	struct mw_rpc_batch b;

	cr_assert_eq(mw_rpc_parse(RPC_LIT(ok), sizeof(ok) - 1, &b, rpc_err,
				  sizeof(rpc_err)),
		     0, "%s", rpc_err);
	cr_assert_eq(b.msgs[0].kind, MW_RPC_ERROR);
	cr_assert_null(b.msgs[0].id, "a null id pairs with nothing");
	mw_rpc_batch_free(&b);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
		   -EPROTO);
}

Test(jsonrpc, rejects_bad_method)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":null}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":[\"ping\"]}", -EPROTO);
}

Test(jsonrpc, rejects_method_mixed_with_response)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		   "\"result\":{}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		   "\"error\":{\"code\":1,\"message\":\"x\"}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"result\":null}",
		   -EPROTO);
}

Test(jsonrpc, rejects_bad_responses)
{
	rpc_reject("{\"jsonrpc\":\"2.0\"}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"result\":{}}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1}", -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":"
		   "{\"code\":1,\"message\":\"x\"}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"params\":{}}",
		   -EPROTO);
}

Test(jsonrpc, rejects_bad_error_objects)
{
	static const char *const errors[] = {
		"null",
		"\"boom\"",
		"[]",
		"{}",
		"{\"code\":1}",
		"{\"message\":\"x\"}",
		"{\"code\":1.5,\"message\":\"x\"}",
		"{\"code\":\"1\",\"message\":\"x\"}",
		"{\"code\":1,\"message\":null}",
		"{\"code\":1,\"message\":7}",
	};
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(errors) / sizeof(*errors); i++) {
		snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":%s}",
			 errors[i]);
		rpc_reject(text, -EPROTO);
	}
}

Test(jsonrpc, rejects_bad_params)
{
	static const char *const params[] = {
		"null",
		"\"x\"",
		"1",
		"true",
	};
	char text[128];
	size_t i;

	for (i = 0; i < sizeof(params) / sizeof(*params); i++) {
		snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"m\","
			 "\"params\":%s}",
			 params[i]);
		rpc_reject(text, -EPROTO);
		snprintf(text, sizeof(text),
			 "{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":%s}",
			 params[i]);
		rpc_reject(text, -EPROTO);
	}
}

Test(jsonrpc, rejects_unknown_members)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		   "\"extra\":1}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"Method\":"
		   "\"tools/call\"}",
		   -EPROTO);
}

Test(jsonrpc, rejects_bad_tools_call)
{
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\"}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":[\"t\"]}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":7}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":null}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":[1]}}",
		   -EPROTO);
	rpc_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		   "\"params\":{\"name\":\"t\",\"arguments\":\"{}\"}}",
		   -EPROTO);
}

Test(jsonrpc, rejects_bad_batches)
{
	rpc_reject("[]", -EPROTO);
	rpc_reject("[1]", -EPROTO);
	rpc_reject("[null]", -EPROTO);
	rpc_reject("[[{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}]]", -EPROTO);
	rpc_reject("[{\"jsonrpc\":\"2.0\",\"method\":\"ping\"},"
		   "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}]",
		   -EPROTO);
	cr_assert(strstr(rpc_err, "batch element 1"), "%s", rpc_err);
}

static char *rpc_make_batch(size_t n)
{
	static const char one[] = "{\"jsonrpc\":\"2.0\",\"method\":\"p\"},";
	char *text = malloc(n * (sizeof(one) - 1) + 2);
	size_t i, off = 0;

	cr_assert_not_null(text);
	text[off++] = '[';
	for (i = 0; i < n; i++) {
		memcpy(text + off, one, sizeof(one) - 1);
		off += sizeof(one) - 1;
	}
	text[off - 1] = ']';
	text[off] = '\0';
	return text;
}

Test(jsonrpc, batch_count_bound)
{
	struct mw_rpc_batch b;
	char *text;

	text = rpc_make_batch(MW_RPC_MAX_BATCH);
	cr_assert_eq(rpc_parse_str(text, &b), 0, "%s", rpc_err);
	cr_assert_eq(b.n, MW_RPC_MAX_BATCH);
	mw_rpc_batch_free(&b);
	free(text);

	text = rpc_make_batch(MW_RPC_MAX_BATCH + 1);
	rpc_reject(text, -EMSGSIZE);
	free(text);
}

/* A request whose params hold `arrays` nested arrays: depth arrays + 2. */
static char *rpc_make_nested(size_t arrays)
{
	static const char head[] = "{\"jsonrpc\":\"2.0\",\"id\":1,"
				   "\"method\":\"m\",\"params\":{\"a\":";
	char *text = malloc(sizeof(head) + 2 * arrays + 3);
	size_t off = sizeof(head) - 1, i;

	cr_assert_not_null(text);
	memcpy(text, head, off);
	for (i = 0; i < arrays; i++)
		text[off++] = '[';
	for (i = 0; i < arrays; i++)
		text[off++] = ']';
	text[off++] = '}';
	text[off++] = '}';
	text[off] = '\0';
	return text;
}

Test(jsonrpc, nesting_depth_bound)
{
	struct mw_rpc_batch b;
	char *text;

	text = rpc_make_nested(MW_RPC_MAX_DEPTH - 2);
	cr_assert_eq(rpc_parse_str(text, &b), 0, "%s", rpc_err);
	mw_rpc_batch_free(&b);
	free(text);

	text = rpc_make_nested(MW_RPC_MAX_DEPTH - 1);
	rpc_reject(text, -EPROTO);
	free(text);

	/* Far past jansson's own limit: refused, not a stack overflow. */
	text = rpc_make_nested(20000);
	rpc_reject_len(text, strlen(text), -EBADMSG);
	free(text);
}

Test(jsonrpc, nesting_depth_counts_the_batch)
{
	struct mw_rpc_batch b;
	char *inner = rpc_make_nested(MW_RPC_MAX_DEPTH - 2), *text;

	cr_assert_eq(asprintf(&text, "[%s]", inner) > 0, 1);
	rpc_reject(text, -EPROTO);
	free(text);
	free(inner);

	inner = rpc_make_nested(MW_RPC_MAX_DEPTH - 3);
	cr_assert_eq(asprintf(&text, "[%s]", inner) > 0, 1);
	cr_assert_eq(rpc_parse_str(text, &b), 0, "%s", rpc_err);
	mw_rpc_batch_free(&b);
	free(text);
	free(inner);
}

Test(jsonrpc, ids_are_canonical)
{
	struct mw_rpc_batch a, b;

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"\\u0061b\\/c\","
		     "\"result\":{}}",
		     &a);
	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"ab/c\",\"method\":\"m\"}",
		     &b);
	cr_assert_str_eq(a.msgs[0].id, "\"ab/c\"");
	cr_assert(mw_rpc_id_equal(a.msgs[0].id, b.msgs[0].id));
	mw_rpc_batch_free(&a);
	mw_rpc_batch_free(&b);

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":-0,\"result\":{}}", &a);
	cr_assert_str_eq(a.msgs[0].id, "0");
	mw_rpc_batch_free(&a);

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":-9007199254740992,"
		     "\"result\":{}}",
		     &a);
	cr_assert_str_eq(a.msgs[0].id, "-9007199254740992");
	mw_rpc_batch_free(&a);

	rpc_parse_ok("{\"jsonrpc\":\"2.0\",\"id\":\"q\\\"\\n\",\"result\":{}}",
		     &a);
	cr_assert_str_eq(a.msgs[0].id, "\"q\\\"\\n\"");
	mw_rpc_batch_free(&a);
}

Test(jsonrpc, id_equality)
{
	cr_assert(mw_rpc_id_equal("7", "7"));
	cr_assert_not(mw_rpc_id_equal("7", "\"7\""));
	cr_assert_not(mw_rpc_id_equal("7", "70"));
	cr_assert_not(mw_rpc_id_equal(NULL, "7"));
	cr_assert_not(mw_rpc_id_equal("7", NULL));
	cr_assert_not(mw_rpc_id_equal(NULL, NULL));
}

Test(jsonrpc, error_body)
{
	struct mw_rpc_batch b;
	char *body;

	body = mw_rpc_error_body("7", MW_RPC_INVALID_REQUEST,
				 "denied by policy");
	cr_assert_str_eq(body, "{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":"
			       "{\"code\":-32600,\"message\":\"denied by "
			       "policy\"}}");
	cr_assert_eq(rpc_parse_str(body, &b), 0, "%s", rpc_err);
	cr_assert_eq(b.msgs[0].kind, MW_RPC_ERROR);
	cr_assert(mw_rpc_id_equal(b.msgs[0].id, "7"));
	mw_rpc_batch_free(&b);
	free(body);

	body = mw_rpc_error_body("\"a\\\"b\"", -32001, "tool \"x\" denied");
	cr_assert_str_eq(body, "{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\","
			       "\"error\":{\"code\":-32001,\"message\":"
			       "\"tool \\\"x\\\" denied\"}}");
	free(body);

	body = mw_rpc_error_body(NULL, MW_RPC_PARSE_ERROR, "Parse error");
	cr_assert_str_eq(body,
			 "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
			 "{\"code\":-32700,\"message\":\"Parse error\"}}");
	free(body);
}

Test(jsonrpc, error_body_refuses_bad_input)
{
	cr_assert_null(mw_rpc_error_body("1.5", 1, "x"));
	cr_assert_null(mw_rpc_error_body("null", 1, "x"));
	cr_assert_null(mw_rpc_error_body("{}", 1, "x"));
	cr_assert_null(mw_rpc_error_body("7 8", 1, "x"));
	cr_assert_null(mw_rpc_error_body("", 1, "x"));
	cr_assert_null(mw_rpc_error_body("7", 1, "\xff"));
	cr_assert_null(mw_rpc_error_body("7", 1, NULL));
}

Test(jsonrpc, reason_is_bounded_and_printable)
{
	struct mw_rpc_batch b;
	char small[8];
	size_t i;

	cr_assert_eq(mw_rpc_parse(RPC_LIT("{\"a\":\x01\n}"), RPC_MAX_LEN, &b,
				  rpc_err, sizeof(rpc_err)),
		     -EBADMSG);
	for (i = 0; rpc_err[i]; i++)
		cr_assert_geq((unsigned char)rpc_err[i], 0x20, "%s", rpc_err);
	cr_assert_eq(mw_rpc_parse(RPC_LIT("[]"), RPC_MAX_LEN, &b, small,
				  sizeof(small)),
		     -EPROTO);
	cr_assert_eq(strlen(small), sizeof(small) - 1);
	cr_assert_eq(mw_rpc_parse(RPC_LIT("[]"), RPC_MAX_LEN, &b, NULL, 0),
		     -EPROTO);
}

Test(jsonrpc, kind_names)
{
	cr_assert_str_eq(mw_rpc_kind_name(MW_RPC_REQUEST), "request");
	cr_assert_str_eq(mw_rpc_kind_name(MW_RPC_NOTIFICATION), "notification");
	cr_assert_str_eq(mw_rpc_kind_name(MW_RPC_RESULT), "result");
	cr_assert_str_eq(mw_rpc_kind_name(MW_RPC_ERROR), "error");
}

Test(jsonrpc, what_cannot_be_json_rpc)
{
	cr_assert(mw_rpc_looks_like_no_json(RPC_LIT("Accepted")));
	cr_assert(mw_rpc_looks_like_no_json(RPC_LIT("<html></html>")));
	cr_assert(mw_rpc_looks_like_no_json(RPC_LIT(" \n")));
	cr_assert_not(mw_rpc_looks_like_no_json(RPC_LIT(" {\"jsonrpc\"")));
	cr_assert_not(mw_rpc_looks_like_no_json(RPC_LIT("\r\n[1]")));
	/* white space Go's TrimSpace or JavaScript's trim() takes off */
	cr_assert_not(mw_rpc_looks_like_no_json(RPC_LIT("\xc2\xa0{\"id\":1}")));
	cr_assert_not(mw_rpc_looks_like_no_json(RPC_LIT("\v\f\xe3\x80\x80[")));
	cr_assert_not(mw_rpc_looks_like_no_json(
		RPC_LIT("\xe2\x80\x8a\xef\xbb\xbf{")));
	cr_assert(mw_rpc_reads_as_no_message(RPC_LIT("\xc2\xa0 hello")));
	cr_assert_not(mw_rpc_reads_as_no_message(RPC_LIT(
		"\xc2\xa0{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"x\"}")));
	cr_assert(mw_rpc_looks_like_no_json(RPC_LIT("\xc2\xa1{")));
}

/* An SSE event of its own type passes as text only when no reader could
 * take its data for a message. */
Test(jsonrpc, reads_as_no_message)
{
	static const char *const none[] = {
		"customer Ada: card 4111",
		"{\"ssn\":\"078-05-1120\"}",
		"[1,{\"level\":\"info\"}]",
		"  ",
	};
	static const char *const maybe[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}",
		"{\"Method\":\"sampling/createMessage\"}",
		"{\"\\u017fsn\":1,\"\\u212aid\":2,\"ID\":3}",
		"[{\"a\":1},{\"RESULT\":{}}]",
		"{\"ssn\":1,\"ssn\":2}",
		"{\"ssn\":",
	};

	for (size_t i = 0; i < sizeof(none) / sizeof(*none); i++)
		cr_assert(mw_rpc_reads_as_no_message(none[i], strlen(none[i])),
			  "%s", none[i]);
	for (size_t i = 0; i < sizeof(maybe) / sizeof(*maybe); i++)
		cr_assert(
			!mw_rpc_reads_as_no_message(maybe[i], strlen(maybe[i])),
			"%s", maybe[i]);
}

/* A resources/read request naming uri, as JSON text. */
static void read_of(const char *uri_json, char *out, size_t outlen)
{
	snprintf(out, outlen,
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\","
		 "\"params\":{\"uri\":%s}}",
		 uri_json);
}

/*
 * URIs a URL parser (the Python SDK's) reads as another URI are refused:
 * a policy glob would judge one, the server read the other.
 */
Test(jsonrpc, resource_uris_that_read_as_another_are_refused)
{
	static const char *const refused[] = {
		"\"FILE:///etc/shadow\"",
		"\"file:///tmp/../etc/shadow\"",
		"\"file:///tmp/%2e%2e/etc/shadow\"",
		"\"file:///srv/docs/%2Fetc\"",
		"\"file://localhost/etc/shadow\"",
		"\" file:///etc/shadow\"",
		"\"file:\\\\\\\\etc\\\\shadow\"",
		"\"file:///etc/sha\\tdow\"",
		"\"file:///etc/./shadow\"",
		"\"file:///etc/..\"",
		"\"https://DB.internal/x\"",
		"\"file:/etc/shadow\"",
		"\"file:etc/shadow\"",
		"\"file:////etc/shadow\"",
		"\"file:///%65tc/shadow\"",
		"\"https:db.internal/x\"",
		"\"https://%64b.internal/x\"",
		"\"https://db.internal:443/x\"",
		"\"https://@db.internal/x\"",
		"\"https://0x7f.1/x\"",
		"\"https://127.1/x\"",
		"\"github://repo/src%2Fmain.c\"",
		"\"https:///db.internal/x\"",
		"\"https://db.internal:0443/x\"",
		"\"http://db.internal:080/x\"",
		"\"https://db.internal:/x\"",
		"\"http://[::1]:80/x\"",
		"\"http://[0:0::1]/x\"",
		"\"http://[::ffff:1.2.3.4]/x\"",
		"\"http://127.0.0.1./x\"",
		"\"file:///a%zz\"",
		"\"/etc/shadow\"",
		"\"\"",
	};
	static const char *const passed[] = {
		"\"file:///etc/shadow\"",
		"\"file:///a%20b\"",
		"\"https://db.internal/x?q=a/../b#..\"",
		"\"postgres://billing:Pw@db.internal/billing\"",
		"\"test://static/resource/1\"",
		"\"file:///srv/docs/.hidden/..x\"",
		"\"urn:isbn:0451450523\"",
		"\"postgres://u:Pw@DB.internal/x\"",
		"\"test://Static/x\"",
		"\"http://x/s?q=a%2Fb\"",
		"\"https://127.0.0.1:8443/x\"",
		"\"https://[::1]:8080/x\"",
		"\"https://1password.example/x\"",
		"\"file:///etc/\"",
		"\"https://example.com./x\"",
		"\"http://[::1]/x\"",
		"\"https://db.internal:8443/x\"",
		"\"demo://resource/dynamic/text/1\"",
	};
	struct mw_rpc_batch b;
	char text[512];

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		read_of(refused[i], text, sizeof(text));
		rpc_reject(text, -EPROTO);
	}
	for (size_t i = 0; i < sizeof(passed) / sizeof(*passed); i++) {
		read_of(passed[i], text, sizeof(text));
		rpc_parse_ok(text, &b);
		mw_rpc_batch_free(&b);
	}
}
