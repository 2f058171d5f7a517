// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include "jsonrpc.h"
#include "mcp.h"

#define MCP_MAX_LEN 65536

static char mcp_err[256];

static void mcp_parse(const char *text, struct mw_rpc_batch *b)
{
	int ret = mw_rpc_parse(text, strlen(text), MCP_MAX_LEN, b, mcp_err,
			       sizeof(mcp_err));

	cr_assert_eq(ret, 0, "%s: %d %s", text, ret, mcp_err);
}

static int mcp_headers(const char *method, const char *name, const char *body)
{
	struct mw_rpc_batch b;
	int ret;

	mcp_parse(body, &b);
	mcp_err[0] = '\0';
	ret = mw_mcp_check_mirrored_headers(method, name, &b, mcp_err,
					    sizeof(mcp_err));
	if (ret)
		cr_assert_neq(mcp_err[0], '\0', "a refusal says why");
	mw_rpc_batch_free(&b);
	return ret;
}

static const char call_echo[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
	"\"params\":{\"name\":\"echo\",\"arguments\":{}}}";

Test(mcp, batches_only_in_2025_03_26)
{
	cr_assert(mw_mcp_batch_allowed(NULL));
	cr_assert(mw_mcp_batch_allowed("2025-03-26"));
	cr_assert_not(mw_mcp_batch_allowed("2024-11-05"));
	cr_assert_not(mw_mcp_batch_allowed("2025-06-18"));
	cr_assert_not(mw_mcp_batch_allowed("2025-11-25"));
	cr_assert_not(mw_mcp_batch_allowed("2026-07-28"));
	cr_assert_not(mw_mcp_batch_allowed("2025-03-26 "));
	cr_assert_not(mw_mcp_batch_allowed(""));
}

Test(mcp, absent_headers_are_fine)
{
	cr_assert_eq(mcp_headers(NULL, NULL, call_echo), 0);
	cr_assert_eq(mcp_headers(NULL, NULL,
				 "["
				 "{\"jsonrpc\":\"2.0\","
				 "\"method\":\"ping\",\"id\":1}]"),
		     0);
}

Test(mcp, headers_that_agree_pass)
{
	cr_assert_eq(mcp_headers("tools/call", "echo", call_echo), 0, "%s",
		     mcp_err);
	cr_assert_eq(mcp_headers("tools/call", NULL, call_echo), 0);
	cr_assert_eq(mcp_headers("ping", NULL,
				 "{\"jsonrpc\":\"2.0\",\"id\":2,"
				 "\"method\":\"ping\"}"),
		     0);
	cr_assert_eq(mcp_headers("resources/read", "file:///a%20b",
				 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":"
				 "\"resources/read\",\"params\":{\"uri\":"
				 "\"file:///a%20b\"}}"),
		     0, "%s", mcp_err);
	cr_assert_eq(mcp_headers("notifications/initialized", NULL,
				 "{\"jsonrpc\":\"2.0\",\"method\":"
				 "\"notifications/initialized\"}"),
		     0);
}

Test(mcp, headers_that_disagree_are_refused)
{
	cr_assert_eq(mcp_headers("tools/list", NULL, call_echo), -1);
	cr_assert(strstr(mcp_err, "Mcp-Method"), "%s", mcp_err);
	cr_assert_eq(mcp_headers("tools/call", "delete_everything", call_echo),
		     -1);
	cr_assert(strstr(mcp_err, "Mcp-Name"), "%s", mcp_err);
	/* Case and spacing are part of the name. */
	cr_assert_eq(mcp_headers("tools/call", "Echo", call_echo), -1);
	cr_assert_eq(mcp_headers("TOOLS/CALL", NULL, call_echo), -1);
	/* A name for a message that names nothing. */
	cr_assert_eq(mcp_headers(NULL, "x",
				 "{\"jsonrpc\":\"2.0\",\"id\":2,"
				 "\"method\":\"ping\"}"),
		     -1);
	/* Nothing to mirror: a batch or a response. */
	cr_assert_eq(mcp_headers("ping", NULL,
				 "[{\"jsonrpc\":\"2.0\",\"id\":2,"
				 "\"method\":\"ping\"}]"),
		     -1);
	cr_assert_eq(mcp_headers("ping", NULL,
				 "{\"jsonrpc\":\"2.0\",\"id\":2,"
				 "\"result\":{}}"),
		     -1);
}

Test(mcp, base64_names)
{
	static const char body[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\","
		"\"params\":{\"name\":\"t\xc3\xb6\xc3\xb6l\"}}";

	/* "tööl" in UTF-8, and "echo" with one and two padding bytes. */
	cr_assert_eq(mcp_headers("tools/call", "=?base64?dMO2w7Zs?=", body), 0,
		     "%s", mcp_err);
	cr_assert_eq(mcp_headers(NULL, "=?base64?ZWNobw==?=", call_echo), 0,
		     "%s", mcp_err);
	cr_assert_eq(mcp_headers(NULL, "=?base64?ZWNobw==?=", body), -1);
	/* Malformed: bad length, bad alphabet, padding inside, empty. */
	cr_assert_eq(mcp_headers(NULL, "=?base64?ZWNobw=?=", call_echo), -1);
	cr_assert(strstr(mcp_err, "malformed"), "%s", mcp_err);
	cr_assert_eq(mcp_headers(NULL, "=?base64?ZW*obw==?=", call_echo), -1);
	cr_assert_eq(mcp_headers(NULL, "=?base64?ZW=obw==?=", call_echo), -1);
	cr_assert_eq(mcp_headers(NULL,
				 "=?base64?"
				 "?=",
				 call_echo),
		     -1);
	cr_assert_eq(mcp_headers(NULL, "=?base64? ZWNobw==?=", call_echo), -1);
	/* A NUL smuggled in base64 never equals a JSON string. */
	cr_assert_eq(mcp_headers(NULL, "=?base64?ZWNobwA=?=", call_echo), -1);
}

Test(mcp, oversized_header_value_is_refused)
{
	char big[MW_MCP_MAX_HEADER_VALUE + 8];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_assert_eq(mcp_headers(NULL, big, call_echo), -1);
}

Test(mcp, named_targets)
{
	static const struct {
		const char *body, *name;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\","
		  "\"params\":{\"name\":\"p\"}}",
		  "p" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\","
		  "\"params\":{\"uri\":\"u://1\"}}",
		  "u://1" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		  "\"resources/subscribe\",\"params\":{\"uri\":\"u://2\"}}",
		  "u://2" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		  "\"resources/unsubscribe\",\"params\":{\"uri\":\"u://3\"}}",
		  "u://3" },
		{ call_echo, "echo" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}",
		  NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mw_rpc_batch b;

		mcp_parse(cases[i].body, &b);
		if (cases[i].name)
			cr_assert_str_eq(b.msgs[0].name, cases[i].name);
		else
			cr_assert_null(b.msgs[0].name);
		mw_rpc_batch_free(&b);
	}
}

static void mcp_reject(const char *text, int want)
{
	struct mw_rpc_batch b;
	int ret = mw_rpc_parse(text, strlen(text), MCP_MAX_LEN, &b, mcp_err,
			       sizeof(mcp_err));

	cr_assert_eq(ret, want, "%s: %d (%s)", text, ret, mcp_err);
	cr_assert_null(b.msgs);
}

Test(mcp, named_targets_must_be_strings)
{
	mcp_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\","
		   "\"params\":{\"name\":7}}",
		   -EPROTO);
	mcp_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/get\"}",
		   -EPROTO);
	mcp_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		   "\"resources/read\",\"params\":{\"uri\":[\"a\"]}}",
		   -EPROTO);
	mcp_reject("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
		   "\"resources/read\",\"params\":[\"u://1\"]}",
		   -EPROTO);
}

/* What two parsers could read differently never parses. */
Test(mcp, invalid_unicode_is_refused)
{
	static const char *const bad[] = {
		/* lone high surrogate, lone low, pair reversed */
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\\ud800\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"a\\udc00\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\\udc00\\ud800\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\\ud800x\"}",
		/* in a key */
		"{\"jsonrpc\":\"2.0\",\"method\":\"m\",\"params\":"
		"{\"\\ud800\":1}}",
		/* a surrogate encoded in UTF-8, an overlong '/', a truncated
		 * sequence, a byte that is never UTF-8 */
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xed\xa0\x80\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xc0\xaf\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xe2\x82\"}",
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xfe\"}",
		/* beyond U+10FFFF */
		"{\"jsonrpc\":\"2.0\",\"method\":\"\xf4\x90\x80\x80\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		mcp_reject(bad[i], -EBADMSG);
}

Test(mcp, valid_surrogate_pair_passes)
{
	struct mw_rpc_batch b;

	mcp_parse("{\"jsonrpc\":\"2.0\",\"method\":\"\\ud83d\\ude00\"}", &b);
	cr_assert_str_eq(b.msgs[0].method, "\xf0\x9f\x98\x80");
	mw_rpc_batch_free(&b);
}

/* The trail records these as they are: only the specification's names,
 * exactly, so that no peer-chosen spelling escapes its masking rules. */
Test(mcp, known_methods_are_the_specifications_exactly)
{
	static const char *const known[] = {
		"initialize",
		"tools/call",
		"tools/list",
		"resources/read",
		"prompts/get",
		"notifications/initialized",
		"sampling/createMessage",
		"tasks/result",
	};
	static const char *const unknown[] = {
		"",
		"tools/call ",
		"Tools/call",
		"tools/call/4111111111111111",
		"tools/",
		"4111111111111111",
		"notifications/219-45-6781",
		"notifications/",
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		cr_assert(mw_mcp_method_known(known[i]), "%s", known[i]);
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		cr_assert(!mw_mcp_method_known(unknown[i]), "%s", unknown[i]);
}
