// SPDX-License-Identifier: BSD-2-Clause
/*
 * `mcpwarden replay`'s formatter on hostile rows: every string of the row
 * (tool names, arguments, results, comm, the session id: all of them can
 * come from an agent or a server) is taken from the input, split at NUL
 * bytes; the integers from its first bytes. Every run checks:
 *   - a text line (colour off) is exactly one line of printable text: no
 *     byte below 0x20 but its final '\n', no DEL, no C1 control encoded
 *     in UTF-8, and it is valid UTF-8 (nothing can drive a terminal);
 *   - a JSON line is one ASCII line that jansson parses as an object;
 *   - mw_replay_escape cuts to the width it is given, in both modes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "replay.h"

enum { NSTR = 21 };

static bool utf8_printable_line(const char *s, size_t n)
{
	if (!n || s[n - 1] != '\n')
		return false;
	for (size_t i = 0; i + 1 < n;) {
		unsigned char c = (unsigned char)s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x20 || c == 0x7f)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len >= n)
			return false;
		for (size_t k = 1; k < len; k++) {
			unsigned char cc = (unsigned char)s[i + k];

			if ((cc & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (cc & 0x3f);
		}
		if (cp >= 0x80 && cp <= 0x9f)
			return false;
		i += len;
	}
	return true;
}

static int64_t take_i64(const unsigned char **p, size_t *n)
{
	int64_t v = 0;

	if (*n >= 8) {
		memcpy(&v, *p, 8);
		*p += 8;
		*n -= 8;
	}
	return v;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const kinds[] = { "request", "notification",
					     "response", "http_error" };
	const char *str[NSTR] = { 0 };
	struct mw_replay_row row;
	struct mw_replay_opts o = { 0 };
	struct mw_replay *r = NULL;
	struct mw_buf out;
	char *copy;
	unsigned flags;
	size_t ns = 0;

	if (size < 2)
		return 0;
	flags = data[0];
	o.width = data[1] % 90;
	data += 2;
	size -= 2;
	mw_replay_row_init(&row);
	row.seq = take_i64(&data, &size);
	row.ts_us = take_i64(&data, &size);
	row.request_seq = take_i64(&data, &size) % 64;
	row.uid = take_i64(&data, &size);
	row.pid = take_i64(&data, &size);
	row.conn_id = take_i64(&data, &size);
	row.latency_ms = (double)(take_i64(&data, &size) % 100000000) / 7;
	row.http_status = (int)(take_i64(&data, &size) % 1000);
	row.kind = kinds[flags & 3];

	copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *s = copy; ns < NSTR && s <= copy + size; s += strlen(s) + 1)
		str[ns++] = s;
	/* a NULL (SQL NULL) where a field's string is empty and a bit says so */
	{
		const char **fields[NSTR] = {
			&row.host,
			&row.direction,
			&row.session_id,
			&row.server,
			&row.rpc_id,
			&row.method,
			&row.tool,
			&row.params,
			&row.result,
			&row.error,
			&row.decision,
			&row.rule,
			&row.user_name,
			&row.comm,
			&row.cgroup,
			&row.http_method,
			&row.http_path,
			&row.detail,
			NULL,
			NULL,
			NULL,
		};
		for (int i = 0; i < NSTR && fields[i]; i++)
			*fields[i] = str[i] && (*str[i] || !(flags & 4))
					     ? str[i]
					     : NULL;
	}

	o.json = flags & 8;
	memset(&out, 0, sizeof(out));
	if (mw_replay_new(&r, &o))
		abort();
	/* twice: the second response pairs with the first request */
	for (int pass = 0; pass < 2; pass++) {
		size_t before = out.len;

		if (mw_replay_format(r, &row, &out))
			abort();
		if (o.json) {
			json_error_t jerr;
			json_t *j;

			if (out.len == before ||
			    out.data[out.len - 1] != '\n' ||
			    memchr(out.data + before, '\n',
				   out.len - before - 1))
				abort();
			for (size_t i = before; i < out.len; i++)
				if ((unsigned char)out.data[i] >= 0x80)
					abort();
			j = json_loadb(out.data + before, out.len - before,
				       JSON_REJECT_DUPLICATES, &jerr);
			if (!j || !json_is_object(j))
				abort();
			json_decref(j);
		} else if (!utf8_printable_line(out.data + before,
						out.len - before)) {
			abort();
		}
		row.kind = "response";
		row.request_seq = row.seq;
	}
	mw_replay_free(r);

	/* the escaper alone, on the whole input */
	for (int mode = 0; mode < 2; mode++) {
		mw_buf_reset(&out);
		if (mw_replay_escape(&out, (const char *)data, size, o.width,
				     flags & 16, mode) < 0)
			abort();
		if (mode == MW_REPLAY_ESC_TEXT &&
		    (mw_buf_append(&out, "\n", 1) ||
		     !utf8_printable_line(out.data, out.len)))
			abort();
	}
	mw_buf_free(&out);
	free(copy);
	return 0;
}
