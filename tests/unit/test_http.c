// SPDX-License-Identifier: BSD-2-Clause
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"

#define HTTP_MAX_MSGS 8
#define HTTP_MAX_KEPT 140
#define HTTP_BODY_CAP 4096
#define HTTP_LIT(s) (s), (sizeof(s) - 1)

/* One message as the callbacks saw it, copied out of the parser. */
struct http_msg {
	char method[24];
	char url[256];
	int status;
	unsigned short major, minor;
	size_t nheaders;
	char *names[HTTP_MAX_KEPT], *values[HTTP_MAX_KEPT];
	bool keep_alive, chunked, expect_continue, upgrade;
	int64_t content_length;
	char body[HTTP_BODY_CAP];
	size_t body_len;
	bool complete;
};

struct http_rec {
	struct mw_http *h;
	struct http_msg msg[HTTP_MAX_MSGS];
	size_t heads, completes;
	int head_ret; /* what on_head returns */
	int body_ret; /* what on_body returns */
};

static char *http_dup(const char *s)
{
	char *d = strdup(s);

	cr_assert_not_null(d);
	return d;
}

static int http_on_head(void *arg, struct mw_http_head *head)
{
	struct http_rec *r = arg;
	struct http_msg *m;

	cr_assert_lt(r->heads, HTTP_MAX_MSGS);
	cr_assert_eq(r->heads, r->completes,
		     "a head before the last completed");
	cr_assert_leq(head->nheaders, MW_HTTP_MAX_HEADERS);
	cr_assert(mw_http_in_message(r->h));
	m = &r->msg[r->heads++];
	snprintf(m->method, sizeof(m->method), "%s", head->method);
	if (head->url)
		snprintf(m->url, sizeof(m->url), "%s", head->url);
	m->status = head->status;
	m->major = head->major;
	m->minor = head->minor;
	m->nheaders = head->nheaders;
	for (size_t i = 0; i < head->nheaders && i < HTTP_MAX_KEPT; i++) {
		cr_assert_not_null(head->headers[i].name);
		cr_assert_not_null(head->headers[i].value);
		cr_assert_neq(head->headers[i].name[0], '\0');
		m->names[i] = http_dup(head->headers[i].name);
		m->values[i] = http_dup(head->headers[i].value);
	}
	m->keep_alive = head->keep_alive;
	m->chunked = head->chunked;
	m->expect_continue = head->expect_continue;
	m->upgrade = head->upgrade;
	m->content_length = head->content_length;
	return r->head_ret;
}

static int http_on_body(void *arg, const char *data, size_t len)
{
	struct http_rec *r = arg;
	struct http_msg *m;

	cr_assert_gt(r->heads, r->completes, "body outside a message");
	m = &r->msg[r->heads - 1];
	cr_assert_leq(m->body_len + len, HTTP_BODY_CAP);
	memcpy(m->body + m->body_len, data, len);
	m->body_len += len;
	if (m->content_length >= 0)
		cr_assert_leq(m->body_len, (size_t)m->content_length);
	return r->body_ret;
}

/*
 * The head stays readable until the message completes: the proxy reads
 * c->req.head (URL, Content-Type, Mcp-Session-Id) from on_complete.
 */
static int http_on_complete(void *arg)
{
	struct http_rec *r = arg;
	const struct mw_http_head *head = &r->h->head;
	struct http_msg *m;

	cr_assert_gt(r->heads, r->completes, "complete without a head");
	m = &r->msg[r->completes++];
	m->complete = true;
	cr_assert_not(mw_http_in_message(r->h));
	cr_assert_eq(head->nheaders, m->nheaders);
	if (r->h->kind == MW_HTTP_REQUEST)
		cr_assert_str_eq(head->url, m->url, "head changed by complete");
	for (size_t i = 0; i < head->nheaders && i < HTTP_MAX_KEPT; i++) {
		cr_assert_str_eq(head->headers[i].name, m->names[i]);
		cr_assert_str_eq(head->headers[i].value, m->values[i]);
	}
	return 0;
}

static const struct mw_http_cb http_rec_cb = {
	.on_head = http_on_head,
	.on_body = http_on_body,
	.on_complete = http_on_complete,
};

static struct http_rec *http_rec_new(void)
{
	struct http_rec *r = calloc(1, sizeof(*r));

	cr_assert_not_null(r);
	return r;
}

static void http_rec_free(struct http_rec *r)
{
	for (size_t i = 0; i < r->heads; i++)
		for (size_t j = 0; j < r->msg[i].nheaders && j < HTTP_MAX_KEPT;
		     j++) {
			free(r->msg[i].names[j]);
			free(r->msg[i].values[j]);
		}
	free(r);
}

struct http_run {
	struct mw_http h;
	struct http_rec *r;
	ssize_t rc; /* the first failing feed's -1, else 0 */
	size_t consumed;
	char err[160];
};

static void http_start(struct http_run *run, enum mw_http_kind kind,
		       size_t max_head)
{
	memset(run, 0, sizeof(*run));
	run->r = http_rec_new();
	run->r->h = &run->h;
	mw_http_init(&run->h, kind, max_head, &http_rec_cb, run->r);
}

/* Feeds in step-byte slices (0: one piece); stops at the first error. */
static ssize_t http_feed(struct http_run *run, const char *in, size_t len,
			 size_t step)
{
	size_t off = 0, n;
	ssize_t got;

	if (!step)
		step = len ? len : 1;
	while (off < len) {
		n = len - off < step ? len - off : step;
		got = mw_http_feed(&run->h, in + off, n);
		if (got < 0) {
			snprintf(run->err, sizeof(run->err), "%s",
				 mw_http_error(&run->h));
			cr_assert_neq(run->err[0], '\0');
			return run->rc = -1;
		}
		cr_assert_eq((size_t)got, n, "consumed %zd of %zu", got, n);
		run->consumed += n;
		off += n;
	}
	return 0;
}

static void http_finish(struct http_run *run)
{
	mw_http_free(&run->h);
	http_rec_free(run->r);
}

static void http_assert_same(const struct http_rec *a, const struct http_rec *b,
			     size_t step)
{
	cr_assert_eq(a->heads, b->heads, "step %zu: %zu heads vs %zu", step,
		     a->heads, b->heads);
	cr_assert_eq(a->completes, b->completes, "step %zu", step);
	for (size_t i = 0; i < a->heads; i++) {
		const struct http_msg *x = &a->msg[i], *y = &b->msg[i];

		cr_assert_str_eq(x->method, y->method);
		cr_assert_str_eq(x->url, y->url, "step %zu", step);
		cr_assert_eq(x->status, y->status);
		cr_assert_eq(x->major, y->major);
		cr_assert_eq(x->minor, y->minor);
		cr_assert_eq(x->nheaders, y->nheaders, "step %zu msg %zu", step,
			     i);
		for (size_t j = 0; j < x->nheaders && j < HTTP_MAX_KEPT; j++) {
			cr_assert_str_eq(x->names[j], y->names[j],
					 "step %zu msg %zu header %zu", step, i,
					 j);
			cr_assert_str_eq(x->values[j], y->values[j],
					 "step %zu msg %zu header %zu", step, i,
					 j);
		}
		cr_assert_eq(x->keep_alive, y->keep_alive);
		cr_assert_eq(x->chunked, y->chunked);
		cr_assert_eq(x->expect_continue, y->expect_continue);
		cr_assert_eq(x->upgrade, y->upgrade);
		cr_assert_eq(x->content_length, y->content_length);
		cr_assert_eq(x->body_len, y->body_len, "step %zu msg %zu", step,
			     i);
		cr_assert_eq(memcmp(x->body, y->body, x->body_len), 0);
		cr_assert_eq(x->complete, y->complete);
	}
}

/*
 * Parses in one piece, then in every slice size from 1 to 13 bytes: all
 * must agree. Returns the one-piece run, finished (mw_http_eof called).
 */
static void http_parse_all_slicings(struct http_run *whole,
				    enum mw_http_kind kind, const char *in,
				    size_t len)
{
	struct http_run sliced;

	http_start(whole, kind, 65536);
	cr_assert_eq(http_feed(whole, in, len, 0), 0, "%s", whole->err);
	cr_assert_eq(mw_http_eof(&whole->h), 0, "%s", mw_http_error(&whole->h));
	for (size_t step = 1; step <= 13 && step < len; step++) {
		http_start(&sliced, kind, 65536);
		cr_assert_eq(http_feed(&sliced, in, len, step), 0,
			     "step %zu: %s", step, sliced.err);
		cr_assert_eq(mw_http_eof(&sliced.h), 0);
		http_assert_same(whole->r, sliced.r, step);
		http_finish(&sliced);
	}
}

/* Expects a rejection whose reason contains want; any slicing. */
static void http_assert_rejected(enum mw_http_kind kind, const char *in,
				 size_t max_head, const char *want)
{
	static const size_t steps[] = { 0, 1, 7 };

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct http_run run;

		http_start(&run, kind, max_head);
		cr_assert_eq(http_feed(&run, in, strlen(in), steps[i]), -1,
			     "accepted (step %zu): %.60s", steps[i], in);
		cr_assert(strcasestr(run.err, want),
			  "step %zu: reason '%s' does not say '%s'", steps[i],
			  run.err, want);
		cr_assert_eq(run.r->completes, 0);
		/* Errors stick: nothing more is parsed. */
		cr_assert_eq(mw_http_feed(&run.h, HTTP_LIT("GET / HTTP/1.1\r\n"
							   "Host: a\r\n\r\n")),
			     -1);
		cr_assert_eq(mw_http_eof(&run.h), -1);
		http_finish(&run);
	}
}

static const char *http_hdr(const struct http_msg *m, const char *name)
{
	for (size_t i = 0; i < m->nheaders && i < HTTP_MAX_KEPT; i++)
		if (!strcasecmp(m->names[i], name))
			return m->values[i];
	return NULL;
}

/* ---- requests ----------------------------------------------------------- */

Test(http, simple_get)
{
	struct http_run run;
	const struct http_msg *m;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("GET /mcp?x=1 HTTP/1.1\r\n"
					 "Host: example.com:8080\r\n"
					 "Accept: text/event-stream\r\n"
					 "\r\n"));
	cr_assert_eq(run.r->heads, 1);
	cr_assert_eq(run.r->completes, 1);
	m = &run.r->msg[0];
	cr_assert_str_eq(m->method, "GET");
	cr_assert_str_eq(m->url, "/mcp?x=1");
	cr_assert_eq(m->major, 1);
	cr_assert_eq(m->minor, 1);
	cr_assert_eq(m->nheaders, 2);
	cr_assert_str_eq(m->names[0], "Host");
	cr_assert_str_eq(m->values[0], "example.com:8080");
	cr_assert_str_eq(m->names[1], "Accept");
	cr_assert_str_eq(m->values[1], "text/event-stream");
	cr_assert(m->keep_alive);
	cr_assert_not(m->chunked);
	cr_assert_not(m->expect_continue);
	cr_assert_not(m->upgrade);
	cr_assert_eq(m->content_length, -1);
	cr_assert_eq(m->body_len, 0);
	cr_assert_not(mw_http_in_message(&run.h));
	http_finish(&run);
}

Test(http, post_with_content_length)
{
	static const char body[] =
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}";
	char in[512];
	struct http_run run;
	const struct http_msg *m;
	int n;

	n = snprintf(in, sizeof(in),
		     "POST /mcp HTTP/1.1\r\nHost: a\r\n"
		     "Content-Type: application/json\r\n"
		     "Content-Length: %zu\r\n\r\n%s",
		     sizeof(body) - 1, body);
	http_parse_all_slicings(&run, MW_HTTP_REQUEST, in, (size_t)n);
	cr_assert_eq(run.r->completes, 1);
	m = &run.r->msg[0];
	cr_assert_str_eq(m->method, "POST");
	cr_assert_eq(m->content_length, (int64_t)sizeof(body) - 1);
	cr_assert_eq(m->body_len, sizeof(body) - 1);
	cr_assert_eq(memcmp(m->body, body, m->body_len), 0);
	cr_assert_str_eq(http_hdr(m, "content-type"), "application/json");
	http_finish(&run);
}

Test(http, body_arrives_in_pieces_and_message_stays_open)
{
	struct http_run run;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("POST / HTTP/1.1\r\nHost: a\r\n"
					"Content-Length: 6\r\n\r\nabc"),
			       0),
		     0);
	cr_assert_eq(run.r->heads, 1);
	cr_assert_eq(run.r->completes, 0);
	cr_assert(mw_http_in_message(&run.h));
	cr_assert_eq(http_feed(&run, HTTP_LIT("def"), 0), 0);
	cr_assert_eq(run.r->completes, 1);
	cr_assert_eq(run.r->msg[0].body_len, 6);
	cr_assert_eq(memcmp(run.r->msg[0].body, "abcdef", 6), 0);
	cr_assert_not(mw_http_in_message(&run.h));
	http_finish(&run);
}

Test(http, chunked_body_is_dechunked)
{
	struct http_run run;
	const struct http_msg *m;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("POST /mcp HTTP/1.1\r\n"
					 "Host: a\r\n"
					 "Transfer-Encoding: chunked\r\n"
					 "\r\n"
					 "5\r\nhello\r\n"
					 "1;ext=1\r\n \r\n"
					 "A\r\n0123456789\r\n"
					 "0\r\n\r\n"));
	cr_assert_eq(run.r->completes, 1);
	m = &run.r->msg[0];
	cr_assert(m->chunked);
	cr_assert_eq(m->content_length, -1);
	cr_assert_eq(m->body_len, 16);
	cr_assert_eq(memcmp(m->body, "hello 0123456789", 16), 0);
	http_finish(&run);
}

Test(http, pipelined_requests_and_byte_by_byte_agree)
{
	static const char in[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
				 "POST /b HTTP/1.1\r\nHost: h\r\n"
				 "Content-Length: 3\r\n\r\nxyz"
				 "POST /c HTTP/1.1\r\nHost: h\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
				 "DELETE /d HTTP/1.1\r\nHost: h\r\n"
				 "Content-Length: 0\r\n\r\n";
	struct http_run run;
	const struct http_rec *r;

	/* http_parse_all_slicings compares with 1-byte feeding too. */
	http_parse_all_slicings(&run, MW_HTTP_REQUEST, HTTP_LIT(in));
	r = run.r;
	cr_assert_eq(r->heads, 4);
	cr_assert_eq(r->completes, 4);
	cr_assert_str_eq(r->msg[0].method, "GET");
	cr_assert_str_eq(r->msg[0].url, "/a");
	cr_assert_eq(r->msg[0].body_len, 0);
	cr_assert_str_eq(r->msg[1].url, "/b");
	cr_assert_eq(r->msg[1].body_len, 3);
	cr_assert_eq(memcmp(r->msg[1].body, "xyz", 3), 0);
	cr_assert_str_eq(r->msg[2].url, "/c");
	cr_assert_eq(r->msg[2].body_len, 5);
	cr_assert_eq(memcmp(r->msg[2].body, "abcde", 5), 0);
	cr_assert_str_eq(r->msg[3].method, "DELETE");
	cr_assert_eq(r->msg[3].content_length, 0);
	cr_assert_eq(run.consumed, sizeof(in) - 1);
	http_finish(&run);
}

Test(http, names_and_values_split_across_feeds)
{
	static const char *const parts[] = {
		"PO",	    "ST /pa", "th/x HTTP/1.1\r\nHo",
		"st: exa",  "mple\r", "\nX-Lo",
		"ng-Name",  ": va",   "lue one",
		" two\r\n", "\r\n",
	};
	struct http_run run;
	const struct http_msg *m;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		cr_assert_eq(http_feed(&run, parts[i], strlen(parts[i]), 0), 0,
			     "part %zu: %s", i, run.err);
	cr_assert_eq(run.r->completes, 1);
	m = &run.r->msg[0];
	cr_assert_str_eq(m->url, "/path/x");
	cr_assert_eq(m->nheaders, 2);
	cr_assert_str_eq(m->names[0], "Host");
	cr_assert_str_eq(m->values[0], "example");
	cr_assert_str_eq(m->names[1], "X-Long-Name");
	cr_assert_str_eq(m->values[1], "value one two");
	http_finish(&run);
}

Test(http, empty_header_values)
{
	struct http_run run;
	const struct http_msg *m;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("GET / HTTP/1.1\r\n"
					 "X-Empty:\r\n"
					 "Host: a\r\n"
					 "X-Blank:   \r\n"
					 "X-After: v\r\n"
					 "X-Last:\r\n"
					 "\r\n"));
	m = &run.r->msg[0];
	cr_assert_eq(m->nheaders, 5);
	cr_assert_str_eq(m->names[0], "X-Empty");
	cr_assert_str_eq(m->values[0], "");
	cr_assert_str_eq(m->names[1], "Host");
	cr_assert_str_eq(m->values[1], "a");
	cr_assert_str_eq(m->names[2], "X-Blank");
	cr_assert_str_eq(m->values[2], "");
	cr_assert_str_eq(m->names[3], "X-After");
	cr_assert_str_eq(m->values[3], "v");
	cr_assert_str_eq(m->names[4], "X-Last");
	cr_assert_str_eq(m->values[4], "");
	http_finish(&run);
}

Test(http, obs_fold_is_joined_with_a_space)
{
	struct http_run run;
	const struct http_msg *m;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("GET / HTTP/1.1\r\n"
					 "Host: a\r\n"
					 "X-Fold: one\r\n two\r\n"
					 "\r\n"));
	m = &run.r->msg[0];
	cr_assert_eq(m->nheaders, 2);
	cr_assert_str_eq(m->values[1], "one two");
	http_finish(&run);
}

Test(http, expect_100_continue)
{
	struct http_run run;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("POST / HTTP/1.1\r\nHost: a\r\n"
					 "Expect: 100-Continue\r\n"
					 "Content-Length: 2\r\n\r\nhi"
					 "POST / HTTP/1.1\r\nHost: a\r\n"
					 "Content-Length: 2\r\n\r\nhi"));
	cr_assert_eq(run.r->completes, 2);
	cr_assert(run.r->msg[0].expect_continue);
	cr_assert_not(run.r->msg[1].expect_continue);
	http_finish(&run);
}

/* RFC 9110 §10.1.1: an HTTP/1.0 request's 100-continue is ignored (and
 * §15.2: such a client gets no 1xx), not refused. */
Test(http, expect_100_continue_ignored_from_http10)
{
	struct http_run run;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("POST / HTTP/1.0\r\nHost: a\r\n"
					 "Expect: 100-continue\r\n"
					 "Content-Length: 2\r\n\r\nhi"));
	cr_assert_eq(run.r->completes, 1);
	cr_assert_not(run.r->msg[0].expect_continue);
	http_finish(&run);
}

Test(http, keep_alive_by_version_and_connection)
{
	static const struct {
		const char *in;
		bool keep_alive;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: a\r\n\r\n", true },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
		  false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n",
		  false },
		{ "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
		  true },
		{ "GET / HTTP/1.0\r\nHost: a\r\n\r\n", false },
		{ "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
		  true },
		{ "GET / HTTP/1.0\r\nHost: a\r\nConnection: close\r\n\r\n",
		  false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_run run;

		http_start(&run, MW_HTTP_REQUEST, 4096);
		cr_assert_eq(
			http_feed(&run, cases[i].in, strlen(cases[i].in), 0), 0,
			"case %zu: %s", i, run.err);
		cr_assert_eq(run.r->completes, 1);
		cr_assert_eq(run.r->msg[0].keep_alive, cases[i].keep_alive,
			     "case %zu", i);
		http_finish(&run);
	}
}

/* The proxy sends every request on as HTTP/1.1, which needs one Host. */
Test(http, http10_needs_one_host_too)
{
	struct http_run run;

	http_assert_rejected(MW_HTTP_REQUEST, "GET / HTTP/1.0\r\n\r\n", 4096,
			     "Host");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
			     4096, "Host");
	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
			       0),
		     0);
	cr_assert_eq(run.r->msg[0].major, 1);
	cr_assert_eq(run.r->msg[0].minor, 0);
	http_finish(&run);
}

/* ---- rejections ---------------------------------------------------------- */

Test(http, rejects_content_length_with_transfer_encoding)
{
	/* http-parser 2.9 notices first: "unexpected content-length header". */
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length: 3\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n"
			     "0\r\n\r\n",
			     4096, "content-length");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Transfer-Encoding: chunked\r\n"
			     "Content-Length: 3\r\n\r\nabc",
			     4096, "content-length");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 200 OK\r\n"
			     "Transfer-Encoding: chunked\r\n"
			     "Content-Length: 3\r\n\r\nabc",
			     4096, "content-length");
}

Test(http, rejects_two_content_lengths)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length: 3\r\nContent-Length: 3\r\n\r\n"
			     "abc",
			     4096, "content-length");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length: 3\r\ncontent-length: 4\r\n\r\n"
			     "abcd",
			     4096, "content-length");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 200 OK\r\n"
			     "Content-Length: 3\r\nContent-Length: 3\r\n\r\n"
			     "abc",
			     4096, "content-length");
}

/* Past INT64_MAX a length would read as negative: no check would see it. */
Test(http, rejects_a_content_length_past_int64)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length: 9223372036854775808\r\n\r\nabc",
			     4096, "Content-Length too large");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 200 OK\r\n"
			     "Content-Length: 18000000000000000000\r\n\r\nabc",
			     4096, "Content-Length too large");
}

Test(http, rejects_transfer_encoding_other_than_chunked)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Transfer-Encoding: gzip\r\n\r\n",
			     4096, "Transfer-Encoding");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Transfer-Encoding: gzip, chunked\r\n\r\n"
			     "0\r\n\r\n",
			     4096, "Transfer-Encoding");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Transfer-Encoding: chunked\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			     4096, "Transfer-Encoding");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 200 OK\r\n"
			     "Transfer-Encoding: identity\r\n\r\nabc",
			     4096, "Transfer-Encoding");
}

Test(http, rejects_http11_without_one_host)
{
	http_assert_rejected(MW_HTTP_REQUEST, "GET / HTTP/1.1\r\n\r\n", 4096,
			     "Host");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
			     4096, "Host");
}

Test(http, rejects_targets_that_are_not_paths)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET http://evil.example/mcp HTTP/1.1\r\n"
			     "Host: a\r\n\r\n",
			     4096, "target");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 4096,
			     "target");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
			     4096, "target");
}

/* Servers disagree on where a query ends when a fragment follows it. */
Test(http, rejects_a_fragment_in_the_target)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST /message?a=1#&sessionId=x HTTP/1.1\r\n"
			     "Host: a\r\n\r\n",
			     4096, "fragment");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET /mcp# HTTP/1.1\r\nHost: a\r\n\r\n", 4096,
			     "fragment");
}

/* A server that splits the request line on any white space, or decodes
 * raw bytes its own way, would read another target than the one judged. */
Test(http, rejects_a_target_byte_that_is_not_visible_ascii)
{
	http_assert_rejected(
		MW_HTTP_REQUEST,
		"GET /a\tb?sessionId=x HTTP/1.1\r\nHost: a\r\n\r\n", 4096,
		"visible ASCII");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET /mcp?x=\x81 HTTP/1.1\r\nHost: a\r\n\r\n",
			     4096, "visible ASCII");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET /mcp\x0c HTTP/1.1\r\nHost: a\r\n\r\n", 4096,
			     "");
}

Test(http, rejects_unsupported_expect)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Expect: 200-ok\r\nContent-Length: 0\r\n\r\n",
			     4096, "Expect");
}

Test(http, rejects_upgrade)
{
	struct http_run run;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("GET / HTTP/1.1\r\nHost: a\r\n"
					"Connection: Upgrade\r\n"
					"Upgrade: websocket\r\n\r\n"),
			       0),
		     -1);
	cr_assert(strcasestr(run.err, "upgrade"), "%s", run.err);
	/* When the head is shown, it is flagged: the caller can refuse it. */
	if (run.r->heads)
		cr_assert(run.r->msg[0].upgrade);
	http_finish(&run);

	http_start(&run, MW_HTTP_RESPONSE, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("HTTP/1.1 101 Switching Protocols\r\n"
					"Connection: upgrade\r\n"
					"Upgrade: websocket\r\n\r\n"),
			       0),
		     -1);
	cr_assert(strcasestr(run.err, "upgrade"), "%s", run.err);
	http_finish(&run);
}

/*
 * Regression: mw_http_feed() checks parser.upgrade only after
 * http_parser_execute() returns, and http-parser reads an Upgrade
 * request's body before it stops. So whether on_body/on_complete run
 * before the "protocol upgrade" error depends on how the bytes were
 * sliced: in one piece the message completes, fed byte by byte it does
 * not. Expected: the same callbacks whatever the slicing (best: refused
 * at the head, in on_headers_complete).
 */
Test(http, upgrade_with_body_same_for_any_slicing)
{
	static const char in[] = "POST / HTTP/1.1\r\nHost: a\r\n"
				 "Connection: Upgrade\r\nUpgrade: x\r\n"
				 "Content-Length: 3\r\n\r\nabc";
	struct http_run whole, sliced;

	http_start(&whole, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&whole, HTTP_LIT(in), 0), -1);
	http_start(&sliced, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&sliced, HTTP_LIT(in), 1), -1);
	cr_assert(strcasestr(whole.err, "upgrade"), "%s", whole.err);
	cr_assert(strcasestr(sliced.err, "upgrade"), "%s", sliced.err);
	cr_assert_eq(whole.r->completes, sliced.r->completes,
		     "completed %zu times in one piece, %zu byte by byte",
		     whole.r->completes, sliced.r->completes);
	cr_assert_eq(whole.r->msg[0].body_len, sliced.r->msg[0].body_len);
	http_finish(&whole);
	http_finish(&sliced);
}

Test(http, upgrade_flag_from_connection_token)
{
	struct http_run run;

	/* Only a Connection token, no Upgrade header: flagged, not failed. */
	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("GET / HTTP/1.1\r\nHost: a\r\n"
					"Connection: keep-alive, Upgrade\r\n"
					"\r\n"),
			       0),
		     0, "%s", run.err);
	cr_assert(run.r->msg[0].upgrade);
	http_finish(&run);
}

Test(http, rejects_head_over_the_limit)
{
	char in[8192];
	int n;

	/* Our bound: URL, names and values counted against max_head. */
	n = snprintf(in, sizeof(in),
		     "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %02000d\r\n\r\n", 0);
	cr_assert_lt((size_t)n, sizeof(in));
	http_assert_rejected(MW_HTTP_REQUEST, in, 1024, "too large");
	http_assert_rejected(MW_HTTP_REQUEST, in, 2000, "too large");
	n = snprintf(in, sizeof(in),
		     "HTTP/1.1 200 OK\r\nX-Big: %02000d\r\n\r\n", 0);
	http_assert_rejected(MW_HTTP_RESPONSE, in, 1024, "response head too");

	/* The URL counts too. */
	n = snprintf(in, sizeof(in), "GET /%02000d HTTP/1.1\r\nHost: a\r\n\r\n",
		     0);
	http_assert_rejected(MW_HTTP_REQUEST, in, 1024, "too large");
}

Test(http, head_at_the_limit_passes)
{
	struct http_run run;
	char in[4096];
	int n;

	/* "/" + "Host" + "a" + "X-Big" + value = max_head exactly. */
	n = snprintf(in, sizeof(in),
		     "GET / HTTP/1.1\r\nHost: a\r\nX-Big: %0989d\r\n\r\n", 0);
	http_start(&run, MW_HTTP_REQUEST, 1 + 4 + 1 + 5 + 989);
	cr_assert_eq(http_feed(&run, in, (size_t)n, 0), 0, "%s", run.err);
	cr_assert_eq(run.r->completes, 1);
	http_finish(&run);
}

Test(http, rejects_head_over_http_parser_bound)
{
	/* http-parser stops at 80 KiB itself: the same reason. */
	size_t len = 100 * 1024;
	char *in = malloc(len + 64);
	int n;

	cr_assert_not_null(in);
	n = snprintf(in, 64, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
	memset(in + n, 'v', len);
	memcpy(in + n + len, "\r\n\r\n", 5);
	http_assert_rejected(MW_HTTP_REQUEST, in, 1 << 20, "request head too");
	free(in);
}

Test(http, rejects_too_many_headers)
{
	char in[8192];
	size_t off;
	struct http_run run;

	/* Host plus 127 more: exactly MW_HTTP_MAX_HEADERS passes. */
	off = (size_t)snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 1; i < MW_HTTP_MAX_HEADERS; i++)
		off += (size_t)snprintf(in + off, sizeof(in) - off,
					"X-%d: v\r\n", i);
	snprintf(in + off, sizeof(in) - off, "\r\n");
	http_start(&run, MW_HTTP_REQUEST, 65536);
	cr_assert_eq(http_feed(&run, in, strlen(in), 0), 0, "%s", run.err);
	cr_assert_eq(run.r->msg[0].nheaders, MW_HTTP_MAX_HEADERS);
	http_finish(&run);

	snprintf(in + off, sizeof(in) - off, "X-One-More: v\r\n\r\n");
	http_assert_rejected(MW_HTTP_REQUEST, in, 65536, "too many header");
}

/* Every header is looked up in the Connection list: the list is bounded. */
Test(http, rejects_a_connection_list_past_its_bound)
{
	char in[4096], list[MW_HTTP_MAX_CONNECTION + 2];
	struct http_run run;

	for (size_t i = 0; i < sizeof(list) - 1; i++)
		list[i] = i % 2 ? ',' : 'a';
	list[MW_HTTP_MAX_CONNECTION] = '\0';
	snprintf(in, sizeof(in),
		 "GET / HTTP/1.1\r\nHost: a\r\nConnection: %s\r\n\r\n", list);
	http_start(&run, MW_HTTP_REQUEST, 65536);
	cr_assert_eq(http_feed(&run, in, strlen(in), 0), 0, "%s", run.err);
	http_finish(&run);

	list[MW_HTTP_MAX_CONNECTION] = 'a';
	list[MW_HTTP_MAX_CONNECTION + 1] = '\0';
	snprintf(in, sizeof(in),
		 "GET / HTTP/1.1\r\nHost: a\r\nConnection: %s\r\n\r\n", list);
	http_assert_rejected(MW_HTTP_REQUEST, in, 65536,
			     "Connection lists more than 1024 bytes");
	snprintf(in, sizeof(in),
		 "HTTP/1.1 200 OK\r\nConnection: %s\r\nContent-Length: 0"
		 "\r\n\r\n",
		 list);
	http_assert_rejected(MW_HTTP_RESPONSE, in, 65536,
			     "Connection lists more than 1024 bytes");
}

Test(http, rejects_garbage_request_lines)
{
	static const char *const bad[] = {
		"GARBAGE\r\n\r\n",
		"GET\r\n\r\n",
		" GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		http_assert_rejected(MW_HTTP_REQUEST, bad[i], 4096, "");
}

Test(http, callback_refusal_stops_with_reason)
{
	struct http_run run;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	run.r->head_ret = -1;
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
			       0),
		     -1);
	cr_assert_str_eq(run.err, "refused");
	cr_assert_eq(run.r->completes, 0);
	http_finish(&run);

	http_start(&run, MW_HTTP_REQUEST, 4096);
	run.r->body_ret = -1;
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("POST / HTTP/1.1\r\nHost: a\r\n"
					"Content-Length: 1\r\n\r\nx"),
			       0),
		     -1);
	cr_assert_str_eq(run.err, "body refused");
	cr_assert_eq(run.r->completes, 0);
	http_finish(&run);
}

/*
 * Regression: chunked trailer fields are appended
 * to the head's string buffer after on_head; when that grows the buffer,
 * realloc() moves it and every pointer in h->head (url, header names and
 * values) dangles. The proxy reads c->req.head in req_on_complete, so a
 * client sending a chunked request with a trailer of ~1 KiB makes it read
 * freed memory (ASan: heap-use-after-free in mw_http_header). Expected:
 * the head stays valid until on_complete returns.
 */
Test(http, trailer_keeps_head_valid_until_complete)
{
	char in[4096];
	struct http_run run;
	int n;

	n = snprintf(in, sizeof(in),
		     "POST /mcp HTTP/1.1\r\nHost: a\r\n"
		     "Content-Type: application/json\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n"
		     "2\r\n{}\r\n0\r\nX-Trailer: %02000d\r\n\r\n",
		     0);
	http_start(&run, MW_HTTP_REQUEST, 8192);
	/* http_on_complete reads the head back from run.h.head. */
	cr_assert_eq(http_feed(&run, in, (size_t)n, 0), 0, "%s", run.err);
	cr_assert_eq(run.r->completes, 1);
	cr_assert_str_eq(run.r->msg[0].url, "/mcp");
	http_finish(&run);
}

/*
 * Regression: http-parser 2.9 (not strict) takes
 * whitespace between a field name and the colon, and still frames the
 * body by it, while http.c stores the name with the space ("Content-Length
 * ", "Transfer-Encoding ", "Host "), so check_head() does not count it and
 * mw_http_is_hop_by_hop() does not know it: "Transfer-Encoding : chunked"
 * is de-chunked here yet forwarded upstream beside our Content-Length, and
 * "Host : a" + "Host: b" passes as one Host. RFC 9112 5.1: a server MUST
 * reject such a request with 400, a proxy MUST remove the whitespace from
 * a response. Expected: rejected.
 */
Test(http, whitespace_before_colon_is_rejected)
{
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Content-Length :3\r\n\r\nabc",
			     4096, "");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "POST / HTTP/1.1\r\nHost: a\r\n"
			     "Transfer-Encoding : chunked\r\n\r\n"
			     "3\r\nabc\r\n0\r\n\r\n",
			     4096, "");
	http_assert_rejected(MW_HTTP_REQUEST,
			     "GET / HTTP/1.1\r\nHost : a\r\nHost: b\r\n\r\n",
			     4096, "");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 200 OK\r\n"
			     "Transfer-Encoding\t: chunked\r\n\r\n"
			     "3\r\nabc\r\n0\r\n\r\n",
			     4096, "");
}

Test(http, small_trailer_is_accepted_and_not_a_header)
{
	struct http_run run;

	http_parse_all_slicings(&run, MW_HTTP_REQUEST,
				HTTP_LIT("POST / HTTP/1.1\r\nHost: a\r\n"
					 "Transfer-Encoding: chunked\r\n\r\n"
					 "1\r\nx\r\n0\r\nX-T: t\r\n\r\n"
					 "GET /next HTTP/1.1\r\nHost: a\r\n"
					 "\r\n"));
	cr_assert_eq(run.r->completes, 2);
	cr_assert_eq(run.r->msg[0].nheaders, 2);
	cr_assert_str_eq(run.r->msg[1].url, "/next");
	cr_assert_eq(run.r->msg[1].nheaders, 1);
	http_finish(&run);
}

/* ---- responses ----------------------------------------------------------- */

Test(http, response_with_content_length)
{
	struct http_run run;
	const struct http_msg *m;

	http_parse_all_slicings(&run, MW_HTTP_RESPONSE,
				HTTP_LIT("HTTP/1.1 202 Accepted\r\n"
					 "Mcp-Session-Id: s1\r\n"
					 "Content-Length: 4\r\n\r\nbody"));
	m = &run.r->msg[0];
	cr_assert_eq(m->status, 202);
	cr_assert_str_eq(m->method, "");
	cr_assert_eq(m->content_length, 4);
	cr_assert_eq(m->body_len, 4);
	cr_assert(m->keep_alive);
	http_finish(&run);
}

Test(http, head_response_skips_body_when_on_head_returns_1)
{
	struct http_run run;
	const struct http_rec *r;

	http_start(&run, MW_HTTP_RESPONSE, 4096);
	run.r->head_ret = 1;
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("HTTP/1.1 200 OK\r\n"
					"Content-Length: 10\r\n\r\n"
					"HTTP/1.1 200 OK\r\n"
					"Transfer-Encoding: chunked\r\n\r\n"),
			       1),
		     0, "%s", run.err);
	r = run.r;
	cr_assert_eq(r->completes, 2);
	cr_assert_eq(r->msg[0].content_length, 10,
		     "the length is still reported");
	cr_assert_eq(r->msg[0].body_len, 0);
	cr_assert(r->msg[1].chunked);
	cr_assert_eq(r->msg[1].body_len, 0);
	cr_assert_not(mw_http_in_message(&run.h));
	cr_assert_eq(mw_http_eof(&run.h), 0);
	http_finish(&run);
}

Test(http, no_body_for_1xx_204_304)
{
	struct http_run run;
	const struct http_rec *r;

	http_parse_all_slicings(&run, MW_HTTP_RESPONSE,
				HTTP_LIT("HTTP/1.1 100 Continue\r\n\r\n"
					 "HTTP/1.1 204 No Content\r\n\r\n"
					 "HTTP/1.1 304 Not Modified\r\n"
					 "ETag: \"x\"\r\n\r\n"
					 "HTTP/1.1 200 OK\r\n"
					 "Content-Length: 2\r\n\r\nok"));
	r = run.r;
	cr_assert_eq(r->completes, 4);
	cr_assert_eq(r->msg[0].status, 100);
	cr_assert_eq(r->msg[1].status, 204);
	cr_assert_eq(r->msg[1].body_len, 0);
	cr_assert_eq(r->msg[2].status, 304);
	cr_assert_eq(r->msg[2].body_len, 0);
	cr_assert_eq(r->msg[3].status, 200);
	cr_assert_eq(r->msg[3].body_len, 2);
	http_finish(&run);
}

/*
 * Regression: a 304 may carry the Content-Length
 * of the representation it stands for (RFC 9110 8.6), but 1xx, 204 and
 * 304 responses never have a body (RFC 9112 6.3). http-parser reads that
 * many bytes as body unless on_head returns 1, and the proxy returns 1
 * only for HEAD: the next response's first bytes are eaten and the
 * connection fails ("invalid constant string"). Expected: no body, the
 * next response parsed.
 */
Test(http, 304_and_204_with_content_length_have_no_body)
{
	struct http_run run;
	const struct http_rec *r;

	http_start(&run, MW_HTTP_RESPONSE, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("HTTP/1.1 304 Not Modified\r\n"
					"Content-Length: 5\r\n\r\n"
					"HTTP/1.1 204 No Content\r\n"
					"Content-Length: 5\r\n\r\n"
					"HTTP/1.1 200 OK\r\n"
					"Content-Length: 2\r\n\r\nok"),
			       0),
		     0, "%s", run.err);
	r = run.r;
	cr_assert_eq(r->completes, 3);
	cr_assert_eq(r->msg[0].body_len, 0);
	cr_assert_eq(r->msg[1].body_len, 0);
	cr_assert_eq(r->msg[2].body_len, 2);
	http_finish(&run);
}

/*
 * Regression: http-parser takes any three digits
 * as a status, and http.c passes them on: "HTTP/1.1 002 X" reaches
 * on_head with status 2, which the proxy would forward as
 * "HTTP/1.1 2 <unknown>". RFC 9110 15: values outside 100..599 are
 * invalid. Expected: rejected with a reason naming the status.
 */
Test(http, status_outside_100_599_is_rejected)
{
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 002 Odd\r\nContent-Length: 0\r\n\r\n",
			     4096, "status");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 099 Odd\r\nContent-Length: 0\r\n\r\n",
			     4096, "status");
	http_assert_rejected(MW_HTTP_RESPONSE,
			     "HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
			     4096, "status");
}

Test(http, read_until_close_body_completed_by_eof)
{
	struct http_run run;
	const struct http_msg *m;

	http_start(&run, MW_HTTP_RESPONSE, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("HTTP/1.1 200 OK\r\n"
					"Content-Type: text/plain\r\n\r\n"
					"all of this until"),
			       3),
		     0);
	cr_assert_eq(http_feed(&run, HTTP_LIT(" the end"), 0), 0);
	cr_assert_eq(run.r->completes, 0);
	cr_assert(mw_http_in_message(&run.h));
	m = &run.r->msg[0];
	cr_assert_not(m->keep_alive);
	cr_assert_eq(m->content_length, -1);
	cr_assert_eq(mw_http_eof(&run.h), 0, "%s", mw_http_error(&run.h));
	cr_assert_eq(run.r->completes, 1);
	cr_assert_eq(m->body_len, 25);
	cr_assert_eq(memcmp(m->body, "all of this until the end", 25), 0);
	cr_assert_not(mw_http_in_message(&run.h));
	http_finish(&run);
}

Test(http, eof_inside_a_message_is_an_error)
{
	static const struct {
		enum mw_http_kind kind;
		const char *in;
	} cases[] = {
		{ MW_HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: a\r\n" },
		{ MW_HTTP_REQUEST, "GET / HT" },
		{ MW_HTTP_REQUEST,
		  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab" },
		{ MW_HTTP_REQUEST,
		  "POST / HTTP/1.1\r\nHost: a\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n3\r\nabc" },
		{ MW_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
				    "\r\nab" },
		{ MW_HTTP_RESPONSE, "HTTP/1.1 200 OK\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n" },
		{ MW_HTTP_RESPONSE, "HTTP/1.1 200" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct http_run run;

		http_start(&run, cases[i].kind, 4096);
		cr_assert_eq(
			http_feed(&run, cases[i].in, strlen(cases[i].in), 0), 0,
			"case %zu: %s", i, run.err);
		cr_assert(mw_http_in_message(&run.h), "case %zu", i);
		cr_assert_eq(mw_http_eof(&run.h), -1, "case %zu", i);
		cr_assert_str_neq(mw_http_error(&run.h), "");
		cr_assert_eq(run.r->completes, 0);
		http_finish(&run);
	}
}

Test(http, eof_between_messages_is_clean)
{
	struct http_run run;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(mw_http_eof(&run.h), 0, "nothing was ever sent");
	http_finish(&run);

	http_start(&run, MW_HTTP_RESPONSE, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("HTTP/1.1 200 OK\r\n"
					"Content-Length: 0\r\n\r\n"),
			       0),
		     0);
	cr_assert_eq(mw_http_eof(&run.h), 0);
	cr_assert_eq(run.r->completes, 1);
	http_finish(&run);
}

/* ---- helpers ------------------------------------------------------------- */

Test(http, header_lookup_is_case_insensitive)
{
	struct mw_http_header fields[] = {
		{ "Content-Type", "a/b" },
		{ "MCP-Session-ID", "s" },
		{ "X-Dup", "second" },
	};
	struct mw_http_head head = { 0 };

	head.nheaders = 3;
	head.headers = fields;
	cr_assert_str_eq(mw_http_header(&head, "content-type"), "a/b");
	cr_assert_str_eq(mw_http_header(&head, "CONTENT-TYPE"), "a/b");
	cr_assert_str_eq(mw_http_header(&head, "mcp-session-id"), "s");
	cr_assert_null(mw_http_header(&head, "content-typ"));
	cr_assert_null(mw_http_header(&head, "content-type-x"));
	cr_assert_null(mw_http_header(&head, ""));
	head.nheaders = 0;
	cr_assert_null(mw_http_header(&head, "content-type"));
}

Test(http, header_lookup_on_parsed_head_returns_first)
{
	struct http_run run;
	const struct http_msg *m;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("GET / HTTP/1.1\r\nhOsT: a\r\n"
					"X-Dup: 1\r\nx-dup: 2\r\n\r\n"),
			       0),
		     0);
	m = &run.r->msg[0];
	cr_assert_str_eq(http_hdr(m, "host"), "a");
	cr_assert_str_eq(mw_http_header(&run.h.head, "HOST"), "a");
	cr_assert_str_eq(mw_http_header(&run.h.head, "X-DUP"), "1");
	http_finish(&run);
}

/* RFC 9110 5.5: the whitespace around a value is not part of it; Node
 * trims both ends, http-parser only the leading one. */
Test(http, values_lose_the_whitespace_around_them)
{
	struct http_run run;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_eq(http_feed(&run,
			       HTTP_LIT("GET / HTTP/1.1\r\nHost: a \t\r\n"
					"Mcp-Session-Id: \t CCCC \t \r\n"
					"X-Inner: a b\r\nX-Blank:  \t\r\n\r\n"),
			       0),
		     0);
	cr_assert_str_eq(mw_http_header(&run.h.head, "host"), "a");
	cr_assert_str_eq(mw_http_header(&run.h.head, "mcp-session-id"), "CCCC");
	cr_assert_str_eq(mw_http_header(&run.h.head, "x-inner"), "a b");
	cr_assert_str_eq(mw_http_header(&run.h.head, "x-blank"), "");
	http_finish(&run);
}

Test(http, hop_by_hop_headers)
{
	static const char *const hop[] = {
		"Connection",
		"keep-alive",
		"Proxy-Connection",
		"TRANSFER-ENCODING",
		"TE",
		"Trailer",
		"upgrade",
		"Expect",
		"Content-Length",
		"Proxy-Authenticate",
		"proxy-authorization",
	};
	static const char *const end_to_end[] = {
		"Host",	  "Content-Type",  "Mcp-Session-Id",  "Authorization",
		"Accept", "Trailers",	   "Connections",     "T",
		"",	  "Last-Event-ID", "Content-Length2",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		cr_assert(mw_http_is_hop_by_hop(hop[i]), "%s", hop[i]);
	for (size_t i = 0; i < sizeof(end_to_end) / sizeof(end_to_end[0]); i++)
		cr_assert_not(mw_http_is_hop_by_hop(end_to_end[i]), "%s",
			      end_to_end[i]);
}

Test(http, reason_phrases)
{
	cr_assert_str_eq(mw_http_reason(200), "OK");
	cr_assert_str_eq(mw_http_reason(413), "Content Too Large");
	cr_assert_str_eq(mw_http_reason(502), "Bad Gateway");
	cr_assert_str_eq(mw_http_reason(404), "Not Found");
	cr_assert_not_null(mw_http_reason(799));
}

Test(http, no_error_before_a_failure)
{
	struct http_run run;

	http_start(&run, MW_HTTP_REQUEST, 4096);
	cr_assert_not_null(mw_http_error(&run.h));
	cr_assert_not(mw_http_in_message(&run.h));
	http_finish(&run);
}

/* xorshift: reproducible slicing without libc's rand(). */
static unsigned int http_next_rand(unsigned int *state)
{
	unsigned int x = *state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

Test(http, random_slicing_matches_one_piece)
{
	static const char in[] = "POST /mcp HTTP/1.1\r\nHost: h\r\n"
				 "Content-Type: application/json\r\n"
				 "X-E:\r\nX-Fold: a\r\n\tb\r\n"
				 "Content-Length: 7\r\n\r\n{\"a\":1}"
				 "POST /mcp HTTP/1.1\r\nHost: h\r\n"
				 "Transfer-Encoding: chunked\r\n\r\n"
				 "3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n"
				 "0\r\n\r\n"
				 "GET /sse HTTP/1.1\r\nHost: h\r\n"
				 "Connection: close\r\n\r\n";
	struct http_run whole, sliced;
	unsigned int seed = 0x9e3779b9;

	http_parse_all_slicings(&whole, MW_HTTP_REQUEST, HTTP_LIT(in));
	cr_assert_eq(whole.r->completes, 3);
	for (int round = 0; round < 200; round++) {
		size_t off, n;

		http_start(&sliced, MW_HTTP_REQUEST, 65536);
		for (off = 0; off < sizeof(in) - 1; off += n) {
			n = http_next_rand(&seed) % 16;
			if (n > sizeof(in) - 1 - off)
				n = sizeof(in) - 1 - off;
			cr_assert_eq(http_feed(&sliced, in + off, n, 0), 0,
				     "%s", sliced.err);
		}
		cr_assert_eq(mw_http_eof(&sliced.h), 0);
		http_assert_same(whole.r, sliced.r, 0);
		http_finish(&sliced);
	}
	http_finish(&whole);
}

Test(http, a_token_is_found_in_a_list_whatever_its_case_and_place)
{
	cr_assert(mw_http_token_in_list("keep-alive", "keep-alive"));
	cr_assert(mw_http_token_in_list("Keep-Alive", "keep-alive"));
	cr_assert(mw_http_token_in_list("close, Upgrade", "upgrade"));
	cr_assert(mw_http_token_in_list(" ,\tMcp-Session-Id ,x",
					"mcp-session-id"));
	cr_assert(mw_http_token_in_list("upgrade;q=1", "UPGRADE"));
	cr_assert(mw_http_token_in_list("a,b,,c", "c"));
}

Test(http, a_token_is_not_found_as_the_prefix_of_another_or_in_an_empty_list)
{
	cr_assert_not(mw_http_token_in_list("keep-alive", "keep"));
	cr_assert_not(mw_http_token_in_list("keep", "keep-alive"));
	cr_assert_not(
		mw_http_token_in_list("mcp-name2, xmcp-name", "mcp-name"));
	cr_assert_not(mw_http_token_in_list("", "close"));
	cr_assert_not(mw_http_token_in_list(" , ,", "close"));
	cr_assert_not(mw_http_token_in_list(NULL, "close"));
	/* letters fold; the bytes 0x20 apart that are not letters do not */
	cr_assert_not(mw_http_token_in_list("@x", "`x"));
	cr_assert_not(mw_http_token_in_list("[x", "{x"));
}
