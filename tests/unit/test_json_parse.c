// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json_parse.h"
#include "json_text.h"

#define DAEMON_FLAGS JSON_REJECT_DUPLICATES

/* Both parsers read s the same way: both refuse, or equal trees. */
static void agrees(const char *s, size_t len, size_t flags)
{
	json_t *ours = mw_json_loadb(s, len, flags, NULL);
	json_t *theirs = json_loadb(s, len, flags, NULL);

	cr_assert_eq(!ours, !theirs, "%.*s: ours %s, jansson %s", (int)len, s,
		     ours ? "accepts" : "refuses",
		     theirs ? "accepts" : "refuses");
	if (ours)
		cr_assert(json_equal(ours, theirs), "%.*s", (int)len, s);
	json_decref(ours);
	json_decref(theirs);
}

static void agrees_str(const char *s, size_t flags)
{
	agrees(s, strlen(s), flags);
}

Test(json_parse, reads_what_jansson_reads)
{
	static const char *const valid[] = {
		"{}",
		"[]",
		" \t\r\n{ \"a\" : [ 1 , 2.5e3 , -0 , 0.0 , 1E+2 , -1e-2 ] } ",
		"{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
		"\"params\":{\"name\":\"echo\",\"arguments\":{}}}",
		"[true,false,null]",
		"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]",
		"[\"\\u00e9\\u20AC\\ud83d\\ude00\\/\\\"\\\\\\b\\f\\n\\r\\t\"]",
		"[9223372036854775807,-9223372036854775808]",
		"[1e-400,123456789012345678901234567890.5]",
		"[\"\x7f\"]",
		"{\"\":\"\"}",
		"{\"a\\u0062\":{\"c\\n\":[{\"d\":\"e\\u00e9\"}]}}",
	};

	for (size_t i = 0; i < sizeof(valid) / sizeof(*valid); i++) {
		json_t *j = mw_json_loadb(valid[i], strlen(valid[i]),
					  DAEMON_FLAGS, NULL);

		cr_assert(j, "%s", valid[i]);
		json_decref(j);
		agrees_str(valid[i], DAEMON_FLAGS);
	}
}

Test(json_parse, refuses_what_jansson_refuses)
{
	static const char *const invalid[] = {
		"",
		"   ",
		"\"top-level string without JSON_DECODE_ANY\"",
		"[1,]",
		"[,1]",
		"{\"a\":1,}",
		"{\"a\" 1}",
		"{a:1}",
		"[01]",
		"[-]",
		"[1.]",
		"[.5]",
		"[+1]",
		"[1e]",
		"[1e+]",
		"[9223372036854775808]",
		"[-9223372036854775809]",
		"[1e400]",
		"[-1e400]",
		"[tru]",
		"[truex]",
		"[True]",
		"[\"\\x\"]",
		"[\"\\u12\"]",
		"[\"\\ud800\"]",
		"[\"\\udc00\"]",
		"[\"\\ud800\\u0041\"]",
		"[\"tab\there\"]",
		"[\"line\nbreak\"]",
		"[\"\xc0\xaf\"]",
		"[\"\xed\xa0\x80\"]",
		"[\"\xf4\x90\x80\x80\"]",
		"[\"\xe2\x82\"]",
		"[\"\x80\"]",
		"[\"unterminated]",
		"\xef\xbb\xbf{}",
		"{} x",
		"{}{}",
		"{\"a\":1,\"a\":2}",
		"{\"a\\u0000b\":1}",
		"[\"nul \\u0000 here\"]",
	};

	for (size_t i = 0; i < sizeof(invalid) / sizeof(*invalid); i++) {
		json_error_t err;
		json_t *j = mw_json_loadb(invalid[i], strlen(invalid[i]),
					  DAEMON_FLAGS, &err);

		cr_assert_null(j, "%s", invalid[i]);
		cr_assert(err.text[0], "%s: no reason", invalid[i]);
		agrees_str(invalid[i], DAEMON_FLAGS);
	}
}

Test(json_parse, flags_as_jansson_has_them)
{
	json_t *j;

	/* without JSON_REJECT_DUPLICATES the last value wins, as there */
	agrees_str("{\"a\":1,\"b\":2,\"a\":3}", 0);
	j = mw_json_loadb("{\"a\":1,\"a\":3}", 13, 0, NULL);
	cr_assert_eq(json_integer_value(json_object_get(j, "a")), 3);
	json_decref(j);
	agrees_str("\"any value\"", JSON_DECODE_ANY);
	agrees_str("  42 ", JSON_DECODE_ANY);
	agrees_str("null", JSON_DECODE_ANY);
	/* \u0000 in a value with JSON_ALLOW_NUL, never in a key */
	agrees("[\"a\\u0000b\"]", 12, JSON_ALLOW_NUL);
	j = mw_json_loadb("[\"a\\u0000b\"]", 12, JSON_ALLOW_NUL, NULL);
	cr_assert_eq(json_string_length(json_array_get(j, 0)), 3);
	json_decref(j);
	agrees_str("{\"\\u0000\":1}", JSON_ALLOW_NUL);
	/* a flag it does not know is refused, not ignored */
	cr_assert_null(mw_json_loadb("{}", 2, JSON_DISABLE_EOF_CHECK, NULL));
}

Test(json_parse, nests_as_deep_as_jansson_and_no_deeper)
{
	size_t depths[] = { 2047, 2048, 2049 };

	for (size_t k = 0; k < 3; k++) {
		size_t d = depths[k], n = 0;
		char *s = malloc(2 * d + 2);

		/* d - 1 arrays around a scalar: d levels */
		for (size_t i = 0; i + 1 < d; i++)
			s[n++] = '[';
		s[n++] = '1';
		for (size_t i = 0; i + 1 < d; i++)
			s[n++] = ']';
		agrees(s, n, 0);
		free(s);
	}
}

/* Escapes and non-ASCII bytes on every side of a 16-byte block edge. */
Test(json_parse, strings_across_block_edges)
{
	static const char *const pieces[] = { "\\n",
					      "\\u00e9",
					      "\xc3\xa9",
					      "\xf0\x9f\x98\x80",
					      "\\ud83d\\ude00",
					      "\\\"" };
	char s[128];

	for (size_t p = 0; p < sizeof(pieces) / sizeof(*pieces); p++) {
		for (size_t pad = 0; pad < 40; pad++) {
			size_t n = 0;

			s[n++] = '[';
			s[n++] = '"';
			memset(s + n, 'x', pad);
			n += pad;
			memcpy(s + n, pieces[p], strlen(pieces[p]));
			n += strlen(pieces[p]);
			memcpy(s + n, "tail\"]", 6);
			n += 6;
			agrees(s, n, DAEMON_FLAGS);
			/* cut before the closing quote: refused by both */
			agrees(s, n - 2, DAEMON_FLAGS);
		}
	}
}

Test(json_parse, error_names_the_byte)
{
	json_error_t err;

	cr_assert_null(mw_json_loadb("{\"a\":tru}", 9, 0, &err));
	cr_assert_str_eq(err.text, "invalid token");
	cr_assert_eq(err.position, 5);
	cr_assert_null(mw_json_loadb("{\n\"a\":1,\n\"a\":2}", 15,
				     JSON_REJECT_DUPLICATES, &err));
	cr_assert_str_eq(err.text, "duplicate object key");
	cr_assert_eq(err.line, 3);
	cr_assert_eq(err.position, 9);
}

/* jansson's look-ahead loses a NUL after a number or a literal ([1\0] is
 * [1] to it): a message the server may read otherwise is refused here. */
Test(json_parse, nul_outside_a_string_is_refused)
{
	json_t *theirs = json_loadb("[1\0]", 4, 0, NULL);

	cr_assert_not_null(theirs, "jansson changed: it refuses [1\\0] now");
	json_decref(theirs);
	cr_assert_null(mw_json_loadb("[1\0]", 4, 0, NULL));
	cr_assert_null(mw_json_loadb("true\0", 5, JSON_DECODE_ANY, NULL));
	cr_assert_null(mw_json_loadb("{}\0", 3, 0, NULL));
}

/*
 * The writer escapes what some event-stream readers take for line ends
 * (U+0085, U+2028, U+2029): a rewritten message stays one line, and reads
 * back as the same string.
 */
Test(json_text, writes_line_end_lookalikes_escaped)
{
	const char in[] = "a\xc2\x85"
			  "b\xe2\x80\xa8"
			  "c\xe2\x80\xa9"
			  "d\xc3\xa9"
			  "\xe2\x80\xa7";
	json_t *s = json_stringn(in, sizeof(in) - 1), *back;
	struct mw_buf out = { 0 };
	json_error_t je;

	cr_assert_not_null(s);
	cr_assert_eq(mw_json_write(&out, s), 0);
	cr_assert_eq(
		out.len - out.off,
		strlen("\"a\\u0085b\\u2028c\\u2029d\xc3\xa9\xe2\x80\xa7\""));
	cr_assert_eq(memcmp(out.data + out.off,
			    "\"a\\u0085b\\u2028c\\u2029d\xc3\xa9\xe2\x80\xa7\"",
			    out.len - out.off),
		     0, "%.*s", (int)(out.len - out.off), out.data + out.off);
	back = json_loadb(out.data + out.off, out.len - out.off,
			  JSON_DECODE_ANY, &je);
	cr_assert_not_null(back, "%s", je.text);
	cr_assert(json_equal(back, s));
	json_decref(back);
	json_decref(s);
	mw_buf_free(&out);
}
