// SPDX-License-Identifier: BSD-2-Clause
/*
 * `mcpwarden replay`'s formatter (replay.h) on rows made in memory: each
 * kind of line, pairing of responses to requests, summaries, cutting to a
 * width on character boundaries, escaping of what a hostile peer can put
 * in the trail, colour for refusals, and the JSON lines.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

#define TS0 1700000000123000ll /* 2023-11-14T22:13:20.123Z */

static struct mw_replay *tr_new(unsigned width, bool json, bool color)
{
	struct mw_replay_opts o = { .width = width,
				    .json = json,
				    .color = color };
	struct mw_replay *r;

	cr_assert_eq(mw_replay_new(&r, &o), 0);
	mw_replay_set_origin(r, TS0);
	return r;
}

/* The line for row, as a string to free. */
static char *tr_fmt(struct mw_replay *r, const struct mw_replay_row *row)
{
	struct mw_buf b = { 0 };
	char *s;

	cr_assert_eq(mw_replay_format(r, row, &b), 0);
	s = strndup(mw_buf_head(&b), mw_buf_used(&b));
	cr_assert_not_null(s);
	mw_buf_free(&b);
	return s;
}

static char *tr_esc(const char *in, size_t len, unsigned width, bool more,
		    enum mw_replay_esc mode, int want_rc)
{
	struct mw_buf b = { 0 };
	char *s;

	cr_assert_eq(mw_replay_escape(&b, in, len, width, more, mode), want_rc,
		     "escape(%s)", in);
	s = strndup(b.data ? mw_buf_head(&b) : "", mw_buf_used(&b));
	cr_assert_not_null(s);
	mw_buf_free(&b);
	return s;
}

#define ESC_EQ(in, width, more, mode, rc, want)                            \
	do {                                                               \
		char *got_ =                                               \
			tr_esc(in, sizeof(in) - 1, width, more, mode, rc); \
		cr_assert_str_eq(got_, want);                              \
		free(got_);                                                \
	} while (0)

/* A request from root's node, pid 4242, in /mw/cg. */
static void tr_request(struct mw_replay_row *row, int64_t seq,
		       const char *method, const char *tool, const char *params)
{
	mw_replay_row_init(row);
	row->host = "h1";
	row->seq = seq;
	row->ts_us = TS0 + (seq - 1) * 1000;
	row->kind = "request";
	row->direction = "c2s";
	row->session_id = "s-1";
	row->server = "everything";
	row->conn_id = 7;
	row->rpc_id = "1";
	row->method = method;
	row->tool = tool;
	row->params = params;
	row->decision = "allow";
	row->rule = "(no policy)";
	row->uid = 0;
	row->user_name = "root";
	row->pid = 4242;
	row->comm = "node";
	row->cgroup = "/mw/cg";
}

static void tr_response(struct mw_replay_row *row, int64_t seq,
			int64_t request_seq, const char *result,
			const char *error)
{
	tr_request(row, seq, NULL, NULL, NULL);
	row->kind = "response";
	row->direction = "s2c";
	row->request_seq = request_seq;
	row->result = result;
	row->error = error;
	row->decision = NULL;
	row->rule = NULL;
	row->latency_ms = 5.04;
}

static bool has_byte_below_space(const char *s)
{
	/* every control but the line's own final newline */
	for (const char *p = s; *p; p++)
		if (((unsigned char)*p < 0x20 && !(*p == '\n' && !p[1])) ||
		    *p == 0x7f)
			return true;
	return false;
}

/* ---- escaping ---- */

Test(replay_escape, plain_text_unchanged)
{
	ESC_EQ("tools/call echo", 0, false, MW_REPLAY_ESC_TEXT, 0,
	       "tools/call echo");
	ESC_EQ("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", 0,
	       false, MW_REPLAY_ESC_TEXT, 0,
	       "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
}

Test(replay_escape, controls_in_text)
{
	ESC_EQ("a\033[31mred\033[0m", 0, false, MW_REPLAY_ESC_TEXT, 0,
	       "a\\x1b[31mred\\x1b[0m");
	ESC_EQ("one\ntwo\r\tthree\x7f\x01", 0, false, MW_REPLAY_ESC_TEXT, 0,
	       "one\\ntwo\\r\\tthree\\x7f\\x01");
	/* a literal backslash cannot pass for an escape */
	ESC_EQ("C:\\x1b", 0, false, MW_REPLAY_ESC_TEXT, 0, "C:\\\\x1b");
}

Test(replay_escape, controls_in_json)
{
	/* JSON's own backslashes stay; what JSON leaves raw is escaped */
	ESC_EQ("{\"a\":\"\\u001b[31m\\n\"}", 0, false, MW_REPLAY_ESC_JSON, 0,
	       "{\"a\":\"\\u001b[31m\\n\"}");
	ESC_EQ("\"x\x7f\033\"", 0, false, MW_REPLAY_ESC_JSON, 0,
	       "\"x\\u007f\\u001b\"");
}

Test(replay_escape, c1_bidi_and_invisible)
{
	/* U+009B CSI, U+202E RLO, U+200B ZWSP, U+2028 LS, U+FEFF BOM */
	ESC_EQ("a\xc2\x9b"
	       "31mb\xe2\x80\xae"
	       "c\xe2\x80\x8b"
	       "d\xe2\x80\xa8"
	       "e\xef\xbb\xbf",
	       0, false, MW_REPLAY_ESC_TEXT, 0,
	       "a\\u009b31mb\\u202ec\\u200bd\\u2028e\\ufeff");
	/* a tag character: beyond the BMP */
	ESC_EQ("t\xf3\xa0\x81\x81", 0, false, MW_REPLAY_ESC_TEXT, 0,
	       "t\\U000e0041");
	ESC_EQ("t\xf3\xa0\x81\x81", 0, false, MW_REPLAY_ESC_JSON, 0,
	       "t\\udb40\\udc41");
}

Test(replay_escape, invalid_utf8)
{
	/* a stray continuation, 0xff, an overlong '/', a surrogate, a
	 * sequence cut short */
	ESC_EQ("a\x80"
	       "b\xff"
	       "c\xc0\xaf"
	       "d\xed\xa0\x80"
	       "e\xe2\x82",
	       0, false, MW_REPLAY_ESC_TEXT, 0,
	       "a\\x80b\\xffc\\xc0\\xafd\\xed\\xa0\\x80e\\xe2\\x82");
	ESC_EQ("\xf5\x80\x80\x80", 0, false, MW_REPLAY_ESC_JSON, 0,
	       "\\xf5\\x80\\x80\\x80");
}

Test(replay_escape, width_cuts_with_ellipsis)
{
	ESC_EQ("abcdefgh", 5, false, MW_REPLAY_ESC_TEXT, 1, "abcd\xe2\x80\xa6");
	ESC_EQ("abcde", 5, false, MW_REPLAY_ESC_TEXT, 0, "abcde");
	ESC_EQ("abcdef", 5, false, MW_REPLAY_ESC_TEXT, 1, "abcd\xe2\x80\xa6");
	ESC_EQ("abcdef", 1, false, MW_REPLAY_ESC_TEXT, 1, "\xe2\x80\xa6");
	ESC_EQ("", 5, false, MW_REPLAY_ESC_TEXT, 0, "");
}

Test(replay_escape, width_counts_characters_not_bytes)
{
	/* é is two bytes, one character: four fit, then the ellipsis */
	ESC_EQ("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5, false,
	       MW_REPLAY_ESC_TEXT, 1,
	       "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6");
	ESC_EQ("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 3, false,
	       MW_REPLAY_ESC_TEXT, 0,
	       "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80");
	ESC_EQ("\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xf0\x9f\x98\x80x", 3, false,
	       MW_REPLAY_ESC_TEXT, 1,
	       "\xf0\x9f\x98\x80\xf0\x9f\x98\x80\xe2\x80\xa6");
}

Test(replay_escape, never_cuts_an_escape)
{
	/* "ab" then \x1b (4 wide): it does not fit in 5, and is not split */
	ESC_EQ("ab\033cdef", 5, false, MW_REPLAY_ESC_TEXT, 1, "ab\xe2\x80\xa6");
	ESC_EQ("ab\033cdef", 7, false, MW_REPLAY_ESC_TEXT, 1,
	       "ab\\x1b\xe2\x80\xa6");
	ESC_EQ("\xc2\x9b", 5, false, MW_REPLAY_ESC_TEXT, 1, "\xe2\x80\xa6");
}

Test(replay_escape, more_adds_the_ellipsis)
{
	ESC_EQ("abc", 5, true, MW_REPLAY_ESC_TEXT, 1, "abc\xe2\x80\xa6");
	ESC_EQ("abcde", 5, true, MW_REPLAY_ESC_TEXT, 1, "abcd\xe2\x80\xa6");
	ESC_EQ("abc", 0, true, MW_REPLAY_ESC_TEXT, 1, "abc\xe2\x80\xa6");
}

/* ---- text lines ---- */

Test(replay_text, request_line)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	tr_request(
		&row, 1, "tools/call", "echo",
		"{\"name\": \"echo\", \"arguments\": {\"message\": \"hi\"}}");
	l = tr_fmt(r, &row);
	cr_assert_str_eq(l, "2023-11-14T22:13:20.123Z    +0.000s  root(0) "
			    "node[4242] /mw/cg  \xe2\x86\x92 tools/call echo  "
			    "{\"message\":\"hi\"}  allow by (no policy)\n");
	free(l);
	mw_replay_free(r);
}

Test(replay_text, response_names_its_request)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	tr_request(&row, 3, "tools/call", "echo",
		   "{\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"}}");
	free(tr_fmt(r, &row));
	tr_response(&row, 5, 3,
		    "{\"content\": [{\"type\": \"text\", \"text\": \"Echo: "
		    "hi\"}]}",
		    NULL);
	row.ts_us = TS0 + 1250000;
	l = tr_fmt(r, &row);
	cr_assert_str_eq(l, "2023-11-14T22:13:21.373Z    +1.250s  root(0) "
			    "node[4242] /mw/cg  \xe2\x86\x90 tools/call echo  "
			    "5.0 ms  Echo: hi\n");
	free(l);
	mw_replay_free(r);
}

Test(replay_text, unpaired_response)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	/* a request on another host does not pair */
	tr_request(&row, 99, "tools/list", NULL, "{}");
	row.host = "h2";
	free(tr_fmt(r, &row));
	tr_response(&row, 100, 99, "{\"tools\": []}", NULL);
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x90 response to #99  5.0 ms  "
			    "{\"tools\":[]}\n"),
		  "%s", l);
	free(l);
	tr_response(&row, 101, -1, "{}", NULL);
	row.rpc_id = "abc";
	row.latency_ms = NAN;
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x90 response id abc  ok\n"), "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, unpaired_tool_result_still_summarised)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	tr_response(&row, 10, 9,
		    "{\"content\":[{\"type\":\"text\",\"text\":\"Echo: x\"}]}",
		    NULL);
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "response to #9  5.0 ms  Echo: x\n"), "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, pairing_is_bounded)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	/* 5000 requests: the first ones are forgotten, the last remembered */
	for (int64_t s = 1; s <= 5000; s++) {
		tr_request(&row, s, "ping", NULL, NULL);
		free(tr_fmt(r, &row));
	}
	tr_response(&row, 5001, 1, "{}", NULL);
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "response to #1  "), "%s", l);
	free(l);
	tr_response(&row, 5002, 4999, "{}", NULL);
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x90 ping  5.0 ms  ok\n"), "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, error_response)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	tr_request(&row, 1, "tools/call", "drop", "{\"name\":\"drop\"}");
	row.decision = "deny";
	row.rule = "no-drops";
	free(tr_fmt(r, &row));
	tr_response(&row, 2, 1, NULL,
		    "{\"code\": -32003, \"message\": \"refused by rule "
		    "no-drops\"}");
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x90 tools/call drop  5.0 ms  error "
			    "-32003: refused by rule no-drops\n"),
		  "%s", l);
	free(l);
	/* who made the answer up is said */
	row.detail = "answered by mcpwarden: refused by policy";
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "no-drops  [answered by mcpwarden: refused by "
			    "policy]\n"),
		  "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, summaries_by_method)
{
	static const struct {
		const char *method, *params, *result, *want;
	} cases[] = {
		{ "tools/list", "{}",
		  "{\"tools\":[{\"name\":\"a\"},{\"name\":\"b\"}]}",
		  "tools/list  5.0 ms  2 tools\n" },
		{ "tools/list", "{}",
		  "{\"tools\":[{\"name\":\"a\"}],\"nextCursor\":\"x\"}",
		  "tools/list  5.0 ms  1 tool, more\n" },
		{ "initialize",
		  "{\"protocolVersion\":\"2025-06-18\",\"clientInfo\":{"
		  "\"name\":\"cli\",\"version\":\"1.0\"}}",
		  "{\"protocolVersion\":\"2025-06-18\",\"serverInfo\":{"
		  "\"name\":\"srv\",\"version\":\"2.0\"}}",
		  "initialize  5.0 ms  srv 2.0, protocol 2025-06-18\n" },
		{ "resources/read", "{\"uri\":\"demo://doc\"}",
		  "{\"contents\":[{\"uri\":\"demo://doc\",\"mimeType\":"
		  "\"text/plain\",\"text\":\"x\"}]}",
		  "resources/read demo://doc  5.0 ms  1 content: demo://doc "
		  "(text/plain)\n" },
		{ "prompts/get", "{\"name\":\"p\"}",
		  "{\"messages\":[{},{},{}]}",
		  "prompts/get p  5.0 ms  3 messages\n" },
		{ "tools/call", "{\"name\":\"t\"}",
		  "{\"isError\":true,\"content\":[{\"type\":\"text\","
		  "\"text\":\"boom\"}]}",
		  "tools/call t  5.0 ms  tool error: boom\n" },
		{ "tools/call", "{\"name\":\"t\"}",
		  "{\"content\":[{\"type\":\"image\"},{\"type\":\"image\"}]}",
		  "tools/call t  5.0 ms  [image] +1 more\n" },
		{ "tools/call", "{\"name\":\"t\"}",
		  "{\"content\":[],\"structuredContent\":{\"n\":1}}",
		  "tools/call t  5.0 ms  {\"n\":1}\n" },
		{ "completion/complete", "{}",
		  "{\"completion\":{\"values\":[\"a\",\"b\"]}}",
		  "completion/complete  5.0 ms  2 values\n" },
		{ "custom/thing", "{}", "{\"k\": [1, 2]}",
		  "custom/thing  5.0 ms  {\"k\":[1,2]}\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mw_replay *r = tr_new(60, false, false);
		struct mw_replay_row row;
		char *l;

		tr_request(&row, 1, cases[i].method,
			   !strcmp(cases[i].method, "tools/call") ? "t" : NULL,
			   cases[i].params);
		free(tr_fmt(r, &row));
		tr_response(&row, 2, 1, cases[i].result, NULL);
		l = tr_fmt(r, &row);
		cr_assert(strstr(l, cases[i].want), "case %zu: %s", i, l);
		free(l);
		mw_replay_free(r);
	}
}

Test(replay_text, request_summaries)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	tr_request(&row, 1, "initialize", NULL,
		   "{\"capabilities\": {}, \"clientInfo\": {\"name\": "
		   "\"mcpwarden-test-client\", \"version\": \"1.0.0\"}, "
		   "\"protocolVersion\": \"2025-06-18\"}");
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x92 initialize  mcpwarden-test-client "
			    "1.0.0, protocol 2025-06-18  allow by (no "
			    "policy)\n"),
		  "%s", l);
	free(l);
	/* a notification: no params, no summary */
	tr_request(&row, 2, "notifications/initialized", NULL, NULL);
	row.kind = "notification";
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x92 notifications/initialized  allow "
			    "by (no policy)\n"),
		  "%s", l);
	free(l);
	/* the target in the label, not again in the summary */
	tr_request(&row, 3, "resources/read", NULL,
		   "{\"uri\": \"demo://resource/1\"}");
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "\xe2\x86\x92 resources/read demo://resource/1  "
			    "allow by (no policy)\n"),
		  "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, server_request_and_unknown_identity)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	tr_request(&row, 4, "sampling/createMessage", NULL,
		   "{\"maxTokens\": 10}");
	row.direction = "s2c";
	row.uid = row.pid = -1;
	row.user_name = row.comm = row.cgroup = NULL;
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "+0.003s  ?  \xe2\x86\x90 sampling/createMessage  "
			    "{\"maxTokens\":10}  allow by (no policy)\n"),
		  "%s", l);
	free(l);
	/* a uid without a name, a pid without a comm */
	tr_request(&row, 5, "ping", NULL, NULL);
	row.user_name = row.comm = NULL;
	row.uid = 1000;
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "  ?(1000) ?[4242] /mw/cg  "), "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, http_error_line)
{
	struct mw_replay *r = tr_new(60, false, false);
	struct mw_replay_row row;
	char *l;

	mw_replay_row_init(&row);
	row.host = "h1";
	row.seq = 9;
	row.ts_us = TS0 - 2000;
	row.kind = "http_error";
	row.direction = "c2s";
	row.http_method = "POST";
	row.http_path = "/mcp";
	row.http_status = 415;
	row.detail = "request body must be application/json in UTF-8";
	row.uid = 0;
	row.user_name = "root";
	row.pid = 1;
	row.comm = "curl";
	row.cgroup = "/cg";
	l = tr_fmt(r, &row);
	cr_assert_str_eq(l, "2023-11-14T22:13:20.121Z    -0.002s  root(0) "
			    "curl[1] /cg  \xe2\x86\x92 HTTP 415 POST /mcp  "
			    "request body must be application/json in "
			    "UTF-8\n");
	free(l);
	row.http_status = 403;
	row.detail = "refused notification";
	row.decision = "deny";
	row.rule = "r1";
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "HTTP 403 POST /mcp  refused notification  deny "
			    "by r1\n"),
		  "%s", l);
	free(l);
	/* an upstream failure: neither direction */
	row.direction = NULL;
	row.http_method = row.http_path = row.decision = NULL;
	row.http_status = 502;
	row.detail = "upstream closed";
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "/cg  ! HTTP 502  upstream closed\n"), "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, arguments_cut_to_the_width)
{
	struct mw_replay *r = tr_new(20, false, false);
	struct mw_replay_row row;
	char *l, *p;

	tr_request(&row, 1, "tools/call", "echo",
		   "{\"name\":\"echo\",\"arguments\":{\"message\":"
		   "\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		   "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}}");
	l = tr_fmt(r, &row);
	/* {"message":" is 12, then 7 é and the ellipsis: 20 */
	p = strstr(l, "echo  {\"message\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
		      "\xc3\xa9\xc3\xa9\xc3\xa9\xe2\x80\xa6  allow");
	cr_assert_not_null(p, "%s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, long_result_cut_width_zero_not)
{
	char result[9000], text[8001];
	struct mw_replay *r = tr_new(30, false, false);
	struct mw_replay *full = tr_new(0, false, false);
	struct mw_replay_row row;
	char *l;

	memset(text, 'x', 8000);
	text[8000] = '\0';
	snprintf(result, sizeof(result),
		 "{\"content\":[{\"type\":\"text\",\"text\":\"%s\"}]}", text);
	tr_request(&row, 1, "tools/call", "big", "{\"name\":\"big\"}");
	free(tr_fmt(r, &row));
	free(tr_fmt(full, &row));
	tr_response(&row, 2, 1, result, NULL);
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "5.0 ms  xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\xe2\x80\xa6"
			    "\n"),
		  "%s", l);
	free(l);
	l = tr_fmt(full, &row);
	cr_assert(strstr(l, text), "width 0 cuts nothing");
	free(l);
	mw_replay_free(r);
	mw_replay_free(full);
}

Test(replay_text, hostile_strings_cannot_drive_the_terminal)
{
	struct mw_replay *r = tr_new(200, false, true);
	struct mw_replay_row row;
	char *l;

	/* an ESC sequence and a newline in the argument (JSON escapes), a
	 * raw ESC in the tool name, comm, cgroup and result, a C1 CSI and
	 * an RLO in the rule, bytes that are not UTF-8 in the user */
	tr_request(&row, 1, "tools/call", "ec\033]0;pwned\007ho",
		   "{\"name\":\"x\",\"arguments\":{\"m\":\"\\u001b[31mred\\n"
		   "FAKE LINE\"}}");
	row.comm = "no\033[2Jde";
	row.cgroup = "/cg\r\n2023-01-01T00:00:00.000Z";
	row.user_name = "ro\xffot";
	row.decision = "deny";
	row.rule = "r\xc2\x9b"
		   "1m\xe2\x80\xae";
	l = tr_fmt(r, &row);
	/* the only raw ESCs are the colour's own, around the decision */
	cr_assert(strstr(l, "\033[1;31mdeny by r\\u009b1m\\u202e\033[0m\n"),
		  "%s", l);
	cr_assert(strstr(l, "ro\\xffot(0) no\\x1b[2Jde[4242] "
			    "/cg\\r\\n2023-01-01T00:00:00.000Z"),
		  "%s", l);
	cr_assert(strstr(l, "tools/call ec\\x1b]0;pwned\\x07ho  "
			    "{\"m\":\"\\u001B[31mred\\nFAKE LINE\"}"),
		  "%s", l);
	cr_assert_eq(strchr(l, '\n'), l + strlen(l) - 1, "one line: %s", l);
	free(l);
	mw_replay_free(r);
}

Test(replay_text, refusals_coloured_only_when_asked)
{
	struct mw_replay *plain = tr_new(60, false, false);
	struct mw_replay *color = tr_new(60, false, true);
	struct mw_replay_row row;
	char *l;

	tr_request(&row, 1, "tools/call", "drop", "{\"name\":\"drop\"}");
	row.decision = "deny";
	row.rule = "no-drops";
	l = tr_fmt(plain, &row);
	cr_assert(strstr(l, "  deny by no-drops\n"), "%s", l);
	cr_assert(!has_byte_below_space(l), "%s", l);
	free(l);
	l = tr_fmt(color, &row);
	cr_assert(strstr(l, "  \033[1;31mdeny by no-drops\033[0m\n"), "%s", l);
	free(l);
	row.decision = "approval_required";
	l = tr_fmt(color, &row);
	cr_assert(strstr(l, "\033[1;31mapproval_required by no-drops\033[0m"),
		  "%s", l);
	free(l);
	row.decision = "would_deny";
	l = tr_fmt(color, &row);
	cr_assert(strstr(l, "  \033[33mwould_deny by no-drops\033[0m\n"), "%s",
		  l);
	free(l);
	row.decision = "allow";
	l = tr_fmt(color, &row);
	cr_assert(!strchr(l, '\033'), "an allowed call is not coloured: %s", l);
	free(l);
	mw_replay_free(plain);
	mw_replay_free(color);
}

Test(replay_text, origin_defaults_to_the_first_row)
{
	struct mw_replay_opts o = { .width = 60 };
	struct mw_replay *r;
	struct mw_replay_row row;
	char *l;

	cr_assert_eq(mw_replay_new(&r, &o), 0);
	tr_request(&row, 1, "ping", NULL, NULL);
	row.ts_us = TS0 + 5000000;
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "Z    +0.000s  "), "%s", l);
	free(l);
	tr_request(&row, 2, "ping", NULL, NULL);
	row.ts_us = TS0 + 5000000 + 61234567;
	l = tr_fmt(r, &row);
	cr_assert(strstr(l, "Z   +61.234s  "), "%s", l);
	free(l);
	mw_replay_free(r);
	o.width = MW_REPLAY_MAX_WIDTH + 1;
	cr_assert_eq(mw_replay_new(&r, &o), -EINVAL);
}

/* Found by fuzz_replay: a time near the ends of int64 overflowed the
 * split into seconds and microseconds. Such a row is still one line. */
Test(replay_text, extreme_times_stay_in_range)
{
	static const int64_t times[] = { INT64_MIN, INT64_MIN + 8, -1,
					 INT64_MAX };
	struct mw_replay_row row;

	for (int json = 0; json < 2; json++) {
		struct mw_replay *r = tr_new(60, json, false);

		for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
			char *l;

			tr_request(&row, (int64_t)i + 1, "ping", NULL, NULL);
			row.ts_us = times[i];
			l = tr_fmt(r, &row);
			cr_assert_eq(strchr(l, '\n'), l + strlen(l) - 1, "%s",
				     l);
			if (times[i] == -1)
				cr_assert(strstr(l, "1969-12-31T23:59:59.999"),
					  "%s", l);
			free(l);
		}
		mw_replay_free(r);
	}
}

/* ---- JSON lines ---- */

static json_t *tr_json(struct mw_replay *r, const struct mw_replay_row *row)
{
	char *l = tr_fmt(r, row);
	json_error_t e;
	json_t *j;

	cr_assert_eq(strchr(l, '\n'), l + strlen(l) - 1, "one line: %s", l);
	for (const char *p = l; *p; p++)
		cr_assert((unsigned char)*p < 0x80 &&
				  (*p >= 0x20 || *p == '\n'),
			  "not printable ASCII: %s", l);
	j = json_loads(l, 0, &e);
	cr_assert_not_null(j, "%s: %s", e.text, l);
	free(l);
	return j;
}

Test(replay_json, every_field_named)
{
	static const char *const keys[] = {
		"host",		"seq",	       "ts",
		"ts_us",	"offset_ms",   "kind",
		"direction",	"session_id",  "server",
		"conn_id",	"rpc_id",      "method",
		"tool",		"request_seq", "request_method",
		"request_tool", "arguments",   "params",
		"result",	"error",       "summary",
		"decision",	"rule",	       "refused",
		"latency_ms",	"uid",	       "user_name",
		"pid",		"comm",	       "cgroup",
		"http_method",	"http_path",   "http_status",
		"detail",
	};
	struct mw_replay *r = tr_new(60, true, true);
	struct mw_replay_row row;
	json_t *j;

	tr_request(&row, 1, "tools/call", "echo",
		   "{\"name\":\"echo\",\"arguments\":{\"message\":\"hi\"}}");
	j = tr_json(r, &row);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		cr_assert_not_null(json_object_get(j, keys[i]), "no %s",
				   keys[i]);
	cr_assert_eq(json_object_size(j), sizeof(keys) / sizeof(keys[0]));
	cr_assert_str_eq(json_string_value(json_object_get(j, "ts")),
			 "2023-11-14T22:13:20.123000Z");
	cr_assert_eq(json_integer_value(json_object_get(j, "ts_us")), TS0);
	cr_assert_str_eq(json_string_value(json_object_get(j, "kind")),
			 "request");
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "arguments"), "message")),
			 "hi");
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "params"), "name")),
			 "echo");
	cr_assert_str_eq(json_string_value(json_object_get(j, "summary")),
			 "{\"message\":\"hi\"}");
	cr_assert(json_is_false(json_object_get(j, "refused")));
	cr_assert(json_is_null(json_object_get(j, "latency_ms")));
	cr_assert(json_is_null(json_object_get(j, "http_status")));
	cr_assert_eq(json_integer_value(json_object_get(j, "uid")), 0);
	cr_assert_eq(json_integer_value(json_object_get(j, "pid")), 4242);
	cr_assert_str_eq(json_string_value(json_object_get(j, "comm")), "node");
	cr_assert_str_eq(json_string_value(json_object_get(j, "rule")),
			 "(no policy)");
	json_decref(j);
	mw_replay_free(r);
}

Test(replay_json, response_full_result_and_pairing)
{
	char result[9000], text[8001];
	struct mw_replay *r = tr_new(20, true, false);
	struct mw_replay_row row;
	json_t *j;

	memset(text, 'y', 8000);
	text[8000] = '\0';
	snprintf(result, sizeof(result),
		 "{\"content\":[{\"type\":\"text\",\"text\":\"%s\"}]}", text);
	tr_request(&row, 1, "tools/call", "echo", "{\"name\":\"echo\"}");
	json_decref(tr_json(r, &row));
	tr_response(&row, 2, 1, result, NULL);
	row.ts_us = TS0 + 7500;
	j = tr_json(r, &row);
	cr_assert_str_eq(json_string_value(json_object_get(j, "kind")),
			 "response");
	cr_assert_str_eq(
		json_string_value(json_object_get(j, "request_method")),
		"tools/call");
	cr_assert_str_eq(json_string_value(json_object_get(j, "request_tool")),
			 "echo");
	cr_assert_eq(json_integer_value(json_object_get(j, "request_seq")), 1);
	cr_assert_float_eq(json_real_value(json_object_get(j, "latency_ms")),
			   5.04, 1e-9);
	cr_assert_float_eq(json_real_value(json_object_get(j, "offset_ms")),
			   7.5, 1e-9);
	/* the result whole, the summary cut */
	cr_assert_str_eq(
		json_string_value(json_object_get(
			json_array_get(
				json_object_get(json_object_get(j, "result"),
						"content"),
				0),
			"text")),
		text);
	cr_assert_eq(strlen(json_string_value(json_object_get(j, "summary"))),
		     19 + 3);
	cr_assert(json_is_null(json_object_get(j, "arguments")));
	cr_assert(json_is_null(json_object_get(j, "decision")));
	json_decref(j);
	mw_replay_free(r);
}

Test(replay_json, hostile_values_kept_exactly_but_ascii_on_the_line)
{
	struct mw_replay *r = tr_new(60, true, false);
	struct mw_replay_row row;
	json_t *j;

	tr_request(&row, 1, "tools/call", "t\033x",
		   "{\"name\":\"t\\u001bx\",\"arguments\":{\"m\":\"\\u001b[31m"
		   "\\n\xe2\x80\xae\xc2\x9b\"}}");
	row.comm = "a\xff"; /* not UTF-8: shown escaped */
	row.decision = "deny";
	j = tr_json(r, &row);
	cr_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(j, "arguments"), "m")),
			 "\033[31m\n\xe2\x80\xae\xc2\x9b");
	cr_assert_str_eq(json_string_value(json_object_get(j, "tool")),
			 "t\033x");
	cr_assert_str_eq(json_string_value(json_object_get(j, "comm")),
			 "a\\xff");
	cr_assert(json_is_true(json_object_get(j, "refused")));
	json_decref(j);
	mw_replay_free(r);
}

Test(replay_json, http_error)
{
	struct mw_replay *r = tr_new(60, true, false);
	struct mw_replay_row row;
	json_t *j;

	mw_replay_row_init(&row);
	row.host = "h1";
	row.seq = 4;
	row.ts_us = TS0;
	row.kind = "http_error";
	row.direction = "s2c";
	row.http_method = "GET";
	row.http_path = "/mcp";
	row.http_status = 502;
	row.detail = "upstream closed";
	j = tr_json(r, &row);
	cr_assert_eq(json_integer_value(json_object_get(j, "http_status")),
		     502);
	cr_assert_str_eq(json_string_value(json_object_get(j, "summary")),
			 "upstream closed");
	cr_assert(json_is_null(json_object_get(j, "uid")));
	cr_assert(json_is_null(json_object_get(j, "params")));
	json_decref(j);
	mw_replay_free(r);
}

/* ---- messages ---- */

Test(replay_misc, not_found_messages)
{
	struct mw_replay_query q = { .session = "abc\033[31m", .host = "h1" };
	char msg[256];

	mw_replay_not_found(&q, msg, sizeof(msg));
	cr_assert_str_eq(msg, "no session 'abc\\x1b[31m' in the audit trail "
			      "of host h1");
	q.session = NULL;
	q.conn_id = 12;
	q.host = NULL;
	mw_replay_not_found(&q, msg, sizeof(msg));
	cr_assert_str_eq(msg, "no events without a session on connection 12 "
			      "in the audit trail");
}
