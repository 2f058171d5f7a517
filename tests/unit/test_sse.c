// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <stdint.h>

#include "sse.h"

#define SSE_MAX_RECORDED 256
#define SSE_RAW_CAP 65536

struct sse_recorded {
	enum mw_sse_kind kind;
	char *event, *data, *id, *raw;
	size_t data_len, raw_len;
	long retry;
	bool first, id_field;
	uint64_t id_gen;
};

struct sse_recorder {
	struct sse_recorded ev[SSE_MAX_RECORDED];
	size_t n;
	char all_raw[SSE_RAW_CAP];
	size_t all_len;
	size_t fail_at; /* 1-based block number whose callback fails; 0 never */
};

static char *sse_dup(const char *p, size_t len)
{
	char *d;

	if (!p)
		return NULL;
	d = malloc(len + 1);
	cr_assert_not_null(d);
	memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

static int sse_record(void *arg, const struct mw_sse_event *ev)
{
	struct sse_recorder *r = arg;
	struct sse_recorded *e;

	cr_assert_lt(r->n, SSE_MAX_RECORDED);
	cr_assert_leq(r->all_len + ev->raw_len, SSE_RAW_CAP);
	cr_assert_gt(ev->raw_len, 0, "empty blocks must not be reported");
	cr_assert_eq(ev->data != NULL, ev->kind == MW_SSE_MESSAGE);
	if (ev->data)
		cr_assert_eq(ev->data[ev->data_len], '\0');
	e = &r->ev[r->n++];
	e->kind = ev->kind;
	e->first = ev->first;
	e->id_field = ev->id_field;
	e->id_gen = ev->id_gen;
	e->event = ev->event ? sse_dup(ev->event, strlen(ev->event)) : NULL;
	e->data = sse_dup(ev->data, ev->data_len);
	e->data_len = ev->data_len;
	e->id = ev->id ? sse_dup(ev->id, strlen(ev->id)) : NULL;
	e->retry = ev->retry;
	e->raw = sse_dup(ev->raw, ev->raw_len);
	e->raw_len = ev->raw_len;
	memcpy(r->all_raw + r->all_len, ev->raw, ev->raw_len);
	r->all_len += ev->raw_len;
	if (r->fail_at && r->n == r->fail_at)
		return -ECANCELED;
	return 0;
}

static void sse_recorder_free(struct sse_recorder *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->ev[i].event);
		free(r->ev[i].data);
		free(r->ev[i].id);
		free(r->ev[i].raw);
	}
	free(r);
}

static struct sse_recorder *sse_recorder_new(void)
{
	struct sse_recorder *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	return r;
}

/* Feeds in slices of step bytes (0: one piece), then finishes the stream. */
static int sse_run(const char *in, size_t len, size_t step, size_t max,
		   struct sse_recorder *r)
{
	struct mw_sse s;
	size_t off = 0, n;
	int err;

	cr_assert_eq(mw_sse_init(&s, max), 0);
	if (!step)
		step = len ? len : 1;
	while (off < len) {
		n = len - off < step ? len - off : step;
		err = mw_sse_feed(&s, in + off, n, sse_record, r);
		if (err)
			goto out;
		off += n;
	}
	err = mw_sse_finish(&s, sse_record, r);
	if (!err) {
		cr_assert_eq(mw_sse_pending(&s), 0);
		cr_assert_eq(r->all_len, len);
		cr_assert_eq(memcmp(r->all_raw, in, len), 0,
			     "raw bytes lost or reordered");
	}
out:
	mw_sse_free(&s);
	return err;
}

static void sse_assert_str(const char *a, const char *b)
{
	if (!a || !b)
		cr_assert_eq(a, b, "expected %s, got %s", b ? b : "NULL",
			     a ? a : "NULL");
	else
		cr_assert_str_eq(a, b);
}

static void sse_assert_same(const struct sse_recorder *a,
			    const struct sse_recorder *b)
{
	size_t i;

	cr_assert_eq(a->n, b->n, "%zu blocks vs %zu", a->n, b->n);
	cr_assert_eq(a->all_len, b->all_len);
	cr_assert_eq(memcmp(a->all_raw, b->all_raw, a->all_len), 0);
	for (i = 0; i < a->n; i++) {
		cr_assert_eq(a->ev[i].kind, b->ev[i].kind);
		sse_assert_str(a->ev[i].event, b->ev[i].event);
		sse_assert_str(a->ev[i].id, b->ev[i].id);
		cr_assert_eq(a->ev[i].retry, b->ev[i].retry);
		cr_assert_eq(a->ev[i].data_len, b->ev[i].data_len);
		cr_assert_eq(!a->ev[i].data, !b->ev[i].data);
		if (a->ev[i].data)
			cr_assert_eq(memcmp(a->ev[i].data, b->ev[i].data,
					    a->ev[i].data_len),
				     0);
		cr_assert_eq(a->ev[i].raw_len, b->ev[i].raw_len,
			     "block %zu raw differs with slicing", i);
		cr_assert_eq(
			memcmp(a->ev[i].raw, b->ev[i].raw, a->ev[i].raw_len),
			0);
	}
}

/* One piece, then every small slice size: same blocks, same raw bytes. */
static struct sse_recorder *sse_run_all_slicings(const char *in, size_t len,
						 size_t max)
{
	struct sse_recorder *whole = sse_recorder_new(), *sliced;
	size_t step;

	cr_assert_eq(sse_run(in, len, 0, max, whole), 0);
	for (step = 1; step <= 9 && step < len; step++) {
		sliced = sse_recorder_new();
		cr_assert_eq(sse_run(in, len, step, max, sliced), 0);
		sse_assert_same(whole, sliced);
		sse_recorder_free(sliced);
	}
	return whole;
}

#define SSE_LIT(s) (s), (sizeof(s) - 1)

static void sse_assert_message(const struct sse_recorded *e, const char *event,
			       const char *data, const char *id)
{
	cr_assert_eq(e->kind, MW_SSE_MESSAGE);
	sse_assert_str(e->event, event);
	cr_assert_not_null(e->data);
	cr_assert_eq(e->data_len, strlen(data));
	cr_assert_str_eq(e->data, data);
	sse_assert_str(e->id, id);
}

Test(sse, mcp_streamable_http_response)
{
	static const char in[] =
		"id: 1-0\n"
		"event: message\n"
		"data: "
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"t\",\"progress\":1,\"total\":"
		"2}}\n"
		"\n"
		"id: 1-1\n"
		"event: message\n"
		"data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":"
		"[{\"type\":\"text\",\"text\":\"done\"}],\"isError\":false}}\n"
		"\n";
	struct sse_recorder *r = sse_run_all_slicings(SSE_LIT(in), 4096);
	size_t first_len;

	cr_assert_eq(r->n, 2);
	sse_assert_message(
		&r->ev[0], "message",
		"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
		"\"params\":{\"progressToken\":\"t\",\"progress\":1,\"total\":"
		"2}}",
		"1-0");
	sse_assert_message(
		&r->ev[1], "message",
		"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"content\":"
		"[{\"type\":\"text\",\"text\":\"done\"}],"
		"\"isError\":false}}",
		"1-1");
	first_len = (size_t)(strstr(in, "\n\n") + 2 - in);
	cr_assert_eq(r->ev[0].raw_len, first_len);
	cr_assert_eq(memcmp(r->ev[0].raw, in, first_len), 0);
	cr_assert_eq(r->ev[1].raw_len, sizeof(in) - 1 - first_len);
	cr_assert_eq(memcmp(r->ev[1].raw, in + first_len, r->ev[1].raw_len), 0);
	cr_assert_eq(r->ev[0].retry, -1);
	sse_recorder_free(r);
}

Test(sse, multiline_data_joined_with_lf)
{
	struct sse_recorder *r = sse_run_all_slicings(
		SSE_LIT("data: a\ndata\ndata:  b\ndata:c\n\n"), 64);

	cr_assert_eq(r->n, 1);
	sse_assert_message(&r->ev[0], NULL, "a\n\n b\nc", NULL);
	sse_recorder_free(r);
}

Test(sse, empty_data_field_is_still_a_message)
{
	struct sse_recorder *r = sse_run_all_slicings(
		SSE_LIT("data\n\ndata:\n\ndata: \n\n"), 64);

	cr_assert_eq(r->n, 3);
	sse_assert_message(&r->ev[0], NULL, "", NULL);
	sse_assert_message(&r->ev[1], NULL, "", NULL);
	sse_assert_message(&r->ev[2], NULL, "", NULL);
	sse_recorder_free(r);
}

Test(sse, line_endings_lf_crlf_cr_agree)
{
	static const char *const streams[] = {
		"event: e\nid: 9\ndata: x\ndata: y\n\n: c\n\ndata: z\n\n",
		("event: e\r\nid: 9\r\ndata: x\r\ndata: y\r\n\r\n: c\r\n\r\n"
		 "data: z\r\n\r\n"),
		"event: e\rid: 9\rdata: x\rdata: y\r\r: c\r\rdata: z\r\r",
		"event: e\r\nid: 9\rdata: x\ndata: y\r\r\n: c\n\rdata: z\r\n\n",
	};
	struct sse_recorder *r;
	size_t i;

	for (i = 0; i < sizeof(streams) / sizeof(*streams); i++) {
		r = sse_run_all_slicings(streams[i], strlen(streams[i]), 256);
		cr_assert_eq(r->n, 3, "stream %zu: %zu blocks", i, r->n);
		sse_assert_message(&r->ev[0], "e", "x\ny", "9");
		cr_assert_eq(r->ev[1].kind, MW_SSE_SILENT);
		sse_assert_message(&r->ev[2], NULL, "z", "9");
		sse_recorder_free(r);
	}
}

Test(sse, cr_at_slice_boundary_then_lf)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;

	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("data: a\r"), sse_record, r), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("\n\r"), sse_record, r), 0);
	/* The blank line may still be CRLF: hold the block. */
	cr_assert_eq(r->n, 0);
	cr_assert_eq(mw_sse_pending(&s), 10);
	cr_assert_eq(
		mw_sse_feed(&s, SSE_LIT("\ndata: b\r\n\r\n"), sse_record, r),
		0);
	cr_assert_eq(r->n, 2, "a split CRLF must not count as two lines");
	sse_assert_message(&r->ev[0], NULL, "a", NULL);
	cr_assert_eq(r->ev[0].raw_len, 11);
	cr_assert_eq(memcmp(r->ev[0].raw, "data: a\r\n\r\n", 11), 0);
	sse_assert_message(&r->ev[1], NULL, "b", NULL);
	cr_assert_eq(mw_sse_pending(&s), 0);
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, bare_cr_block_waits_for_next_byte)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;

	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("data: a\r\r"), sse_record, r), 0);
	cr_assert_eq(r->n, 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("d"), sse_record, r), 0);
	cr_assert_eq(r->n, 1);
	cr_assert_eq(r->ev[0].raw_len, 9);
	cr_assert_eq(mw_sse_pending(&s), 1);
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, finish_dispatches_block_held_on_cr)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;

	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("data: a\n\r"), sse_record, r), 0);
	cr_assert_eq(r->n, 0);
	cr_assert_eq(mw_sse_finish(&s, sse_record, r), 0);
	cr_assert_eq(r->n, 1);
	sse_assert_message(&r->ev[0], NULL, "a", NULL);
	cr_assert_eq(r->ev[0].raw_len, 9);
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, leading_bom_is_stripped_and_forwarded)
{
	struct sse_recorder *r = sse_run_all_slicings(SSE_LIT("\xEF\xBB\xBF"
							      "data: x\n\n"),
						      64);

	cr_assert_eq(r->n, 1);
	sse_assert_message(&r->ev[0], NULL, "x", NULL);
	cr_assert_eq(r->ev[0].raw_len, 12);
	cr_assert_eq(memcmp(r->ev[0].raw, "\xEF\xBB\xBF", 3), 0);
	sse_recorder_free(r);
}

Test(sse, bom_alone_on_first_line_is_blank)
{
	struct sse_recorder *r = sse_run_all_slicings(
		SSE_LIT("\xEF\xBB\xBF\r\ndata: x\n\n"), 64);

	cr_assert_eq(r->n, 2);
	cr_assert_eq(r->ev[0].kind, MW_SSE_SILENT);
	cr_assert_eq(r->ev[0].raw_len, 5);
	sse_assert_message(&r->ev[1], NULL, "x", NULL);
	sse_recorder_free(r);
}

Test(sse, bom_only_at_stream_start)
{
	struct sse_recorder *r;

	r = sse_run_all_slicings(SSE_LIT("data: a\n\n\xEF\xBB\xBF"
					 "data: b\n\n"),
				 64);
	cr_assert_eq(r->n, 2);
	sse_assert_message(&r->ev[0], NULL, "a", NULL);
	cr_assert_eq(r->ev[1].kind, MW_SSE_SILENT);
	/* the proxy drops such a block: told apart from the first */
	cr_assert(r->ev[0].first);
	cr_assert_not(r->ev[1].first);
	sse_recorder_free(r);

	r = sse_run_all_slicings(SSE_LIT("\xEF\xBB\xBF\xEF\xBB\xBF"
					 "data: b\n\n"),
				 64);
	cr_assert_eq(r->n, 1);
	cr_assert_eq(r->ev[0].kind, MW_SSE_SILENT, "only one BOM is stripped");
	sse_recorder_free(r);
}

/* Which blocks set or reset the id: the proxy writes a reset out again. */
Test(sse, id_field_says_which_blocks_set_the_id)
{
	struct sse_recorder *r = sse_run_all_slicings(
		SSE_LIT("id: 7\ndata: a\n\ndata: b\n\nid:\ndata: c\n\n"), 64);

	cr_assert_eq(r->n, 3);
	cr_assert(r->ev[0].id_field);
	cr_assert_str_eq(r->ev[0].id, "7");
	cr_assert_not(r->ev[1].id_field, "the id persists, not set here");
	cr_assert_str_eq(r->ev[1].id, "7");
	cr_assert(r->ev[2].id_field);
	cr_assert_null(r->ev[2].id, "reset");
	/* each id field counts, a reset too: what a client holds is named
	 * by the count */
	cr_assert_eq(r->ev[0].id_gen, 1);
	cr_assert_eq(r->ev[1].id_gen, 1);
	cr_assert_eq(r->ev[2].id_gen, 2);
	sse_recorder_free(r);
}

Test(sse, comment_only_block_is_silent_and_forwarded)
{
	struct sse_recorder *r = sse_run_all_slicings(
		SSE_LIT(": keep-alive\n\ndata: a\n: inside\ndata: b\n\n:\n\n"),
		64);

	cr_assert_eq(r->n, 3);
	cr_assert_eq(r->ev[0].kind, MW_SSE_SILENT);
	cr_assert_null(r->ev[0].data);
	cr_assert_eq(r->ev[0].raw_len, 14);
	sse_assert_message(&r->ev[1], NULL, "a\nb", NULL);
	cr_assert_eq(r->ev[2].kind, MW_SSE_SILENT);
	sse_recorder_free(r);
}

Test(sse, lone_blank_lines_are_separate_silent_blocks)
{
	struct sse_recorder *r = sse_run_all_slicings(SSE_LIT("\n\r\n\r"), 64);

	cr_assert_eq(r->n, 3);
	cr_assert_eq(r->ev[0].raw_len, 1);
	cr_assert_eq(r->ev[1].raw_len, 2);
	cr_assert_eq(r->ev[2].raw_len, 1);
	cr_assert_eq(r->ev[2].kind, MW_SSE_SILENT);
	sse_recorder_free(r);
}

Test(sse, field_name_and_space_rules)
{
	struct sse_recorder *r = sse_run_all_slicings(
		SSE_LIT("data:x\n\ndata:  x\n\nDatA: x\n\nfoo: bar\ndata: y\n\n"
			"event\ndata: z\n\ndata : w\n\n"),
		64);

	cr_assert_eq(r->n, 6);
	sse_assert_message(&r->ev[0], NULL, "x", NULL);
	sse_assert_message(&r->ev[1], NULL, " x", NULL);
	cr_assert_eq(r->ev[2].kind, MW_SSE_SILENT, "field names are exact");
	sse_assert_message(&r->ev[3], NULL, "y", NULL);
	sse_assert_message(&r->ev[4], NULL, "z", NULL);
	cr_assert_eq(r->ev[5].kind, MW_SSE_SILENT);
	sse_recorder_free(r);
}

Test(sse, event_type_resets_after_each_block)
{
	struct sse_recorder *r =
		sse_run_all_slicings(SSE_LIT("event: a\ndata: 1\n\ndata: "
					     "2\n\nevent: b\n\ndata: 3\n\n"
					     "event: c\nevent: d\ndata: 4\n\n"),
				     64);

	cr_assert_eq(r->n, 5);
	sse_assert_message(&r->ev[0], "a", "1", NULL);
	sse_assert_message(&r->ev[1], NULL, "2", NULL);
	cr_assert_eq(r->ev[2].kind, MW_SSE_SILENT);
	sse_assert_str(r->ev[2].event, "b");
	sse_assert_message(&r->ev[3], NULL, "3", NULL);
	sse_assert_message(&r->ev[4], "d", "4", NULL);
	sse_recorder_free(r);
}

Test(sse, id_persists_resets_and_ignores_nul)
{
	static const char in[] = "id: 7\ndata: a\n\n"
				 "data: b\n\n"
				 "id: 8\n\n"
				 "id: 9\0x\ndata: c\n\n"
				 "id\ndata: d\n\n"
				 "id: 10\nid:\ndata: e\n\n";
	struct sse_recorder *r = sse_run_all_slicings(SSE_LIT(in), 64);

	cr_assert_eq(r->n, 6);
	sse_assert_message(&r->ev[0], NULL, "a", "7");
	sse_assert_message(&r->ev[1], NULL, "b", "7");
	cr_assert_eq(r->ev[2].kind, MW_SSE_SILENT);
	sse_assert_str(r->ev[2].id, "8");
	sse_assert_message(&r->ev[3], NULL, "c", "8");
	sse_assert_message(&r->ev[4], NULL, "d", NULL);
	sse_assert_message(&r->ev[5], NULL, "e", NULL);
	sse_recorder_free(r);
}

Test(sse, retry_only_digits)
{
	static const char in[] = "retry: 3000\n\n"
				 "retry: 30a\n\n"
				 "retry: -1\n\n"
				 "retry:\n\n"
				 "retry: 1 \n\n"
				 "retry: 99999999999999999999999999\n\n"
				 "retry: 5\nretry: x\ndata: a\n\n"
				 "retry:0\n\n";
	static const long want[] = { 3000, -1, -1, -1, -1, -1, 5, 0 };
	struct sse_recorder *r = sse_run_all_slicings(SSE_LIT(in), 64);
	size_t i;

	cr_assert_eq(r->n, 8);
	for (i = 0; i < 8; i++)
		cr_assert_eq(r->ev[i].retry, want[i], "block %zu: %ld", i,
			     r->ev[i].retry);
	cr_assert_eq(r->ev[6].kind, MW_SSE_MESSAGE);
	sse_recorder_free(r);
}

Test(sse, nul_in_data_is_kept_with_length)
{
	struct sse_recorder *r =
		sse_run_all_slicings(SSE_LIT("data: a\0b\n\n"), 64);

	cr_assert_eq(r->n, 1);
	cr_assert_eq(r->ev[0].data_len, 3);
	cr_assert_eq(memcmp(r->ev[0].data, "a\0b", 3), 0);
	sse_recorder_free(r);
}

Test(sse, nul_in_event_type_is_rejected)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;

	cr_assert_eq(
		sse_run(SSE_LIT("event: message\0x\ndata: a\n\n"), 0, 64, r),
		-EBADMSG);
	cr_assert_eq(r->n, 0);
	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("event: \0\n"), sse_record, r),
		     -EBADMSG);
	cr_assert_str_neq(mw_sse_error(&s), "");
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("\n"), sse_record, r), -EBADMSG,
		     "errors must stick");
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, size_bound_per_block)
{
	struct sse_recorder *r = sse_recorder_new();
	size_t step;

	/* 16 bytes fit a 16-byte bound, block after block. */
	cr_assert_eq(sse_run(SSE_LIT("data: 123456789\n\n"
				     "data: 123456789\n\n"),
			     0, 17, r),
		     0);
	cr_assert_eq(r->n, 2);
	sse_recorder_free(r);

	for (step = 0; step < 4; step++) {
		r = sse_recorder_new();
		cr_assert_eq(sse_run(SSE_LIT("data: 12345678\n\n"
					     "data: 123456789\n\n"),
				     step, 16, r),
			     -EMSGSIZE, "step %zu", step);
		cr_assert_eq(r->n, 1, "blocks before the oversized one pass");
		sse_recorder_free(r);

		/* The LF after a held CR counts too, whatever the slicing. */
		r = sse_recorder_new();
		cr_assert_eq(
			sse_run(SSE_LIT("data: 1234567\r\n\r\n"), step, 16, r),
			-EMSGSIZE, "step %zu", step);
		cr_assert_eq(r->n, 0);
		sse_recorder_free(r);
	}
}

Test(sse, size_bound_covers_unterminated_line)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;
	char chunk[100];
	int i, err = 0;

	memset(chunk, 'a', sizeof(chunk));
	cr_assert_eq(mw_sse_init(&s, 1000), 0);
	for (i = 0; i < 20 && !err; i++)
		err = mw_sse_feed(&s, chunk, sizeof(chunk), sse_record, r);
	cr_assert_eq(err, -EMSGSIZE);
	cr_assert_eq(i, 11);
	cr_assert_leq(mw_sse_pending(&s), 1000);
	cr_assert(strstr(mw_sse_error(&s), "max_event_bytes"));
	cr_assert_eq(mw_sse_finish(&s, sse_record, r), -EMSGSIZE);
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, unterminated_tail_is_pending_then_trailer)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;
	const char *pending;
	size_t len;

	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("data: a\n\nid: 5\ndata: b\n"),
				 sse_record, r),
		     0);
	cr_assert_eq(r->n, 1);
	pending = mw_sse_pending_raw(&s, &len);
	cr_assert_eq(len, 14);
	cr_assert_eq(mw_sse_pending(&s), 14);
	cr_assert_eq(memcmp(pending, "id: 5\ndata: b\n", 14), 0);
	cr_assert_eq(mw_sse_finish(&s, sse_record, r), 0);
	cr_assert_eq(r->n, 2);
	cr_assert_eq(r->ev[1].kind, MW_SSE_TRAILER);
	cr_assert_null(r->ev[1].data,
		       "an unterminated event is not dispatched");
	cr_assert_null(r->ev[1].id);
	cr_assert_eq(r->ev[1].raw_len, 14);
	cr_assert_eq(mw_sse_pending(&s), 0);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("\n"), sse_record, r), -EINVAL);
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, finish_with_nothing_pending_reports_nothing)
{
	struct sse_recorder *r = sse_recorder_new();

	cr_assert_eq(sse_run(SSE_LIT("data: a\n\n"), 0, 64, r), 0);
	cr_assert_eq(r->n, 1);
	sse_recorder_free(r);
	r = sse_recorder_new();
	cr_assert_eq(sse_run("", 0, 0, 64, r), 0);
	cr_assert_eq(r->n, 0);
	sse_recorder_free(r);
}

Test(sse, callback_error_stops_and_sticks)
{
	struct sse_recorder *r = sse_recorder_new();
	struct mw_sse s;

	r->fail_at = 2;
	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_eq(mw_sse_feed(&s,
				 SSE_LIT("data: a\n\ndata: b\n\ndata: c\n\n"),
				 sse_record, r),
		     -ECANCELED);
	cr_assert_eq(r->n, 2);
	cr_assert_eq(mw_sse_feed(&s, SSE_LIT("data: d\n\n"), sse_record, r),
		     -ECANCELED);
	cr_assert_eq(r->n, 2);
	cr_assert_str_neq(mw_sse_error(&s), "");
	mw_sse_free(&s);
	sse_recorder_free(r);
}

Test(sse, init_rejects_bad_bounds)
{
	struct mw_sse s;

	cr_assert_eq(mw_sse_init(&s, 0), -EINVAL);
	cr_assert_eq(mw_sse_init(&s, MW_SSE_MAX_EVENT_LIMIT + 1), -EINVAL);
	cr_assert_eq(mw_sse_init(&s, MW_SSE_MAX_EVENT_LIMIT), 0);
	mw_sse_free(&s);
}

Test(sse, no_error_reason_until_failure)
{
	struct mw_sse s;

	cr_assert_eq(mw_sse_init(&s, 64), 0);
	cr_assert_str_eq(mw_sse_error(&s), "");
	mw_sse_free(&s);
}

/* xorshift: reproducible slicing without depending on libc's rand(). */
static unsigned int sse_next_rand(unsigned int *state)
{
	unsigned int x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

Test(sse, random_slicing_matches_one_piece)
{
	static const char in[] = "\xEF\xBB\xBF: hello\r\n\r\n"
				 "event: message\rid: a\rdata: {\"x\":1}\r\r"
				 "retry: 10\ndata: one\ndata: two\n\n"
				 "data\r\n\r\nfoo\n\n\n\r\r\n"
				 "id: \0bad\nevent:\ndata:  sp\n\n"
				 "data: tail without end";
	struct sse_recorder *whole = sse_recorder_new(), *sliced;
	unsigned int seed = 0x9e3779b9;
	struct mw_sse s;
	size_t off, n;
	int round;

	cr_assert_eq(sse_run(SSE_LIT(in), 0, 256, whole), 0);
	cr_assert_eq(whole->ev[whole->n - 1].kind, MW_SSE_TRAILER);
	for (round = 0; round < 200; round++) {
		sliced = sse_recorder_new();
		cr_assert_eq(mw_sse_init(&s, 256), 0);
		for (off = 0; off < sizeof(in) - 1; off += n) {
			n = sse_next_rand(&seed) % 12;
			if (n > sizeof(in) - 1 - off)
				n = sizeof(in) - 1 - off;
			cr_assert_eq(mw_sse_feed(&s, in + off, n, sse_record,
						 sliced),
				     0);
		}
		cr_assert_eq(mw_sse_finish(&s, sse_record, sliced), 0);
		mw_sse_free(&s);
		sse_assert_same(whole, sliced);
		sse_recorder_free(sliced);
	}
	sse_recorder_free(whole);
}

static int count_event(void *arg, const struct mw_sse_event *ev)
{
	(void)ev;
	(*(int *)arg)++;
	return 0;
}

/* An idle stream must not keep a large event's buffers (the daemon counts
 * them against limits.max_buffered_bytes). */
Test(sse, a_large_event_s_buffers_go_with_it)
{
	size_t big = 300 * 1024;
	char *in = malloc(big + 16);
	struct mw_sse s;
	int n = 0;

	cr_assert_not_null(in);
	memcpy(in, "data: ", 6);
	memset(in + 6, 'x', big);
	memcpy(in + 6 + big, "\n\n", 2);
	cr_assert_eq(mw_sse_init(&s, 1 << 20), 0);
	cr_assert_eq(mw_sse_feed(&s, in, 6 + big + 2, count_event, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_leq(mw_sse_held(&s), 128 * 1024, "held %zu", mw_sse_held(&s));
	/* and small events keep theirs */
	cr_assert_eq(mw_sse_feed(&s, "data: a\n\n", 9, count_event, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_gt(mw_sse_held(&s), 0);
	mw_sse_free(&s);
	free(in);
}
